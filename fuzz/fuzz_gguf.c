/*
 * fuzz_gguf.c - libFuzzer target for the GGUF reader (and, as an oracle,
 * the writer).
 *
 * Every input goes through gguf_open_mem. When it is accepted, everything a
 * consumer could touch is read (keys, values through every getter, array
 * elements, tensor data), and the file is rebuilt with the writer from
 * what was read; the rebuilt image must open again with the same content.
 * Sanitizers turn any bad read into a crash; a failed oracle aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink; /* keeps reads from being optimised away */

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_gguf: oracle failed: %s\n", what);
        abort();
    }
}

/* Key or name as a C string (names never contain NUL; see gguf.c). */
static char *cstr(gguf_str s)
{
    return rh_strndup(s.ptr, (size_t)s.len);
}

static void walk_kv(const gguf_file *f, const gguf_kv *kv)
{
    char *key = cstr(kv->key);
    if (!key)
        return;
    check(gguf_find_kv(f, key) == kv, "key lookup finds the entry");
    uint32_t u32;
    uint64_t u64;
    int32_t i32;
    float f32;
    bool b;
    gguf_str s;
    const gguf_kv *arr;
    sink += (uint64_t)gguf_get_u32(f, key, &u32);
    sink += (uint64_t)gguf_get_u64(f, key, &u64);
    sink += (uint64_t)gguf_get_i32(f, key, &i32);
    sink += (uint64_t)gguf_get_f32(f, key, &f32);
    sink += (uint64_t)gguf_get_bool(f, key, &b);
    if (gguf_get_str(f, key, &s) == RH_OK && s.len)
        sink += (unsigned char)s.ptr[s.len - 1];
    for (int t = 0; t < GGUF_VT_COUNT; t++) {
        if (gguf_get_arr(f, key, (gguf_vtype)t, &arr) != RH_OK)
            continue;
        check(arr == kv && kv->arr_type == (gguf_vtype)t, "array getter");
        for (uint64_t i = 0; i < arr->arr_n; i++) {
            if (t == GGUF_VT_STRING) {
                if (arr->arr_str[i].len)
                    sink += (unsigned char)arr->arr_str[i].ptr[0] +
                            (unsigned char)arr->arr_str[i].ptr[arr->arr_str[i].len - 1];
            } else {
                sink += (uint64_t)gguf_arr_int(arr, i);
                double x = gguf_arr_num(arr, i);
                uint64_t bits;
                memcpy(&bits, &x, sizeof bits);
                sink += bits;
            }
        }
    }
    rh_free(key);
}

static void walk_tensor(const gguf_file *f, const gguf_tensor *t)
{
    char *name = cstr(t->name);
    if (!name)
        return;
    check(gguf_find_tensor(f, name) == t, "tensor lookup finds the tensor");
    check(t->n_dims >= 1 && t->n_dims <= GGUF_MAX_DIMS, "dims");
    check(t->nbytes > 0, "nbytes");
    check(t->offset % gguf_alignment(f) == 0, "aligned offset");
    check(t->offset + t->nbytes <= gguf_file_size(f) - gguf_data_offset(f), "data inside the file");
    const uint8_t *d = t->data;
    sink += d[0] + d[t->nbytes - 1];
    rh_free(name);
}

/* Rebuild the file with the writer; it must reopen with the same content. */
static void rebuild(const gguf_file *f)
{
    gguf_writer *w = NULL;
    void *img = NULL;
    size_t len = 0;
    gguf_file *g = NULL;
    rh_error err;
    if (gguf_writer_new(&w) != RH_OK)
        return;
    for (size_t i = 0; i < gguf_kv_count(f); i++)
        check(gguf_writer_copy_kv(w, gguf_kv_at(f, i)) == RH_OK, "writer copies every entry");
    for (size_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        char *name = cstr(t->name);
        if (!name)
            goto out;
        int rc = gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data, t->nbytes, true);
        rh_free(name);
        check(rc == RH_OK, "writer takes every tensor");
    }
    if (gguf_writer_write_mem(w, &img, &len, &err) != RH_OK)
        goto out;
    int rc = gguf_open_mem(img, len, &g, &err);
    if (rc != RH_OK)
        fprintf(stderr, "fuzz_gguf: rebuilt file rejected: %s\n", err.msg);
    check(rc == RH_OK, "rebuilt file opens");
    check(gguf_kv_count(g) == gguf_kv_count(f), "same metadata count");
    check(gguf_tensor_count(g) == gguf_tensor_count(f), "same tensor count");
    check(gguf_alignment(g) == gguf_alignment(f), "same alignment");
    for (size_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *a = gguf_tensor_at(f, i), *b = gguf_tensor_at(g, i);
        check(a->nbytes == b->nbytes && a->type == b->type && memcmp(a->data, b->data, a->nbytes) == 0,
              "same tensor data");
    }
out:
    gguf_close(g);
    rh_free(img);
    gguf_writer_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gguf_file *f = NULL;
    rh_error err;
    int rc = gguf_open_mem(data, size, &f, &err);
    if (rc != RH_OK) {
        check(f == NULL, "no handle on failure");
        check(rc == RH_EFORMAT || rc == RH_EUNSUPPORTED || rc == RH_ENOMEM, "error code");
        check(err.msg[0] != '\0', "error message");
        return 0;
    }
    sink += gguf_version(f) + gguf_alignment(f);
    for (size_t i = 0; i < gguf_kv_count(f); i++)
        walk_kv(f, gguf_kv_at(f, i));
    for (size_t i = 0; i < gguf_tensor_count(f); i++)
        walk_tensor(f, gguf_tensor_at(f, i));
    rebuild(f);
    gguf_close(f);
    return 0;
}

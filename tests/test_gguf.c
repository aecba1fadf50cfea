/*
 * test_gguf.c - tests of the GGUF reader and writer: round trips, every
 * kind of malformed file built byte by byte, truncation at every byte,
 * allocation failure at every step, the shared model files and the kept
 * fuzz crashers.
 */
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdint.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "engine/gguf.h"
#include "engine/quant.h"
#include "test.h"

/* Present in ASan builds; NULL otherwise. */
extern size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));
/* The CLI command under test, absent from builds without the CLI objects. */
#pragma weak cmd_model

/* ---- a tiny byte writer for hand-made files ----------------------------- */

typedef struct bw {
    rh_buf b;
} bw;

static void bw_init(bw *w) { rh_buf_init(&w->b, 1 << 24); }
static void bw_free(bw *w) { rh_buf_free(&w->b); }

static void bw_bytes(bw *w, const void *p, size_t n)
{
    if (rh_buf_append(&w->b, p, n) != RH_OK)
        FAIL("byte writer: out of memory");
}

static void bw_u32(bw *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    bw_bytes(w, b, 4);
}

static void bw_u64(bw *w, uint64_t v)
{
    bw_u32(w, (uint32_t)v);
    bw_u32(w, (uint32_t)(v >> 32));
}

static void bw_str(bw *w, const char *s)
{
    bw_u64(w, strlen(s));
    bw_bytes(w, s, strlen(s));
}

static void bw_header(bw *w, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    bw_bytes(w, "GGUF", 4);
    bw_u32(w, version);
    bw_u64(w, n_tensors);
    bw_u64(w, n_kv);
}

/* A u32 metadata entry. */
static void bw_kv_u32(bw *w, const char *key, uint32_t v)
{
    bw_str(w, key);
    bw_u32(w, GGUF_VT_UINT32);
    bw_u32(w, v);
}

/* A tensor info with n_dims dimensions. */
static void bw_tensor(bw *w, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                      uint64_t offset)
{
    bw_str(w, name);
    bw_u32(w, n_dims);
    for (uint32_t i = 0; i < n_dims; i++)
        bw_u64(w, ne[i]);
    bw_u32(w, type);
    bw_u64(w, offset);
}

static void bw_pad(bw *w, size_t align)
{
    while (w->b.len % align)
        bw_bytes(w, "", 1);
}

static void bw_zeros(bw *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bw_bytes(w, "", 1);
}

/* Open the bytes (copied into an exact-size allocation so ASan sees any
 * over-read), expect failure with `code` and a message containing `needle`. */
static void expect_fail_at(const char *file, int line, bw *w, int code, const char *needle)
{
    size_t n = w->b.len;
    uint8_t *copy = rh_malloc(n);
    if (!copy)
        FAIL("out of memory");
    if (n)
        memcpy(copy, w->b.data, n);
    gguf_file *f = NULL;
    rh_error err;
    rh_error_clear(&err);
    int rc = gguf_open_mem(copy, n, &f, &err);
    if (rc == RH_OK) {
        gguf_close(f);
        test_fail(file, line, "expected failure %d (%s), file was accepted", code, needle);
    }
    if (f)
        test_fail(file, line, "failed open left a handle");
    if (rc != code)
        test_fail(file, line, "expected code %d, got %d: %s", code, rc, err.msg);
    if (needle && !strstr(err.msg, needle))
        test_fail(file, line, "message \"%s\" lacks \"%s\"", err.msg, needle);
    rh_free(copy);
    bw_free(w);
}
#define EXPECT_FAIL(w, code, needle) expect_fail_at(__FILE__, __LINE__, (w), (code), (needle))

static gguf_file *open_ok(bw *w)
{
    gguf_file *f = NULL;
    rh_error err;
    rh_error_clear(&err);
    int rc = gguf_open_mem(w->b.data, w->b.len, &f, &err);
    if (rc != RH_OK)
        FAIL("open failed: %d %s", rc, err.msg);
    return f;
}

/* ---- a valid file made with the writer ------------------------------------ */

static const float t_f32[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static gguf_writer *sample_writer(void)
{
    gguf_writer *w;
    ASSERT_EQ(gguf_writer_new(&w), RH_OK);
    ASSERT_EQ(gguf_writer_set_str(w, "general.architecture", "llama"), RH_OK);
    ASSERT_EQ(gguf_writer_set_u32(w, "llama.block_count", 4), RH_OK);
    ASSERT_EQ(gguf_writer_set_i32(w, "test.neg", -5), RH_OK);
    ASSERT_EQ(gguf_writer_set_u64(w, "test.big", 1ull << 40), RH_OK);
    ASSERT_EQ(gguf_writer_set_f32(w, "test.eps", 1e-5f), RH_OK);
    ASSERT_EQ(gguf_writer_set_bool(w, "test.flag", true), RH_OK);
    const char *toks[] = {"<s>", "</s>", "hallo", ""};
    ASSERT_EQ(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 4), RH_OK);
    const float scores[] = {0.5f, -1.0f, 2.25f, 0.0f};
    ASSERT_EQ(gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores, 4), RH_OK);
    const int32_t tt[] = {3, 3, 1, -7};
    ASSERT_EQ(gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, tt, 4), RH_OK);
    const uint8_t u8s[] = {9, 8, 7};
    ASSERT_EQ(gguf_writer_set_arr(w, "test.u8s", GGUF_VT_UINT8, u8s, 3), RH_OK);

    uint64_t ne1[2] = {4, 3};
    ASSERT_EQ(gguf_writer_add_tensor(w, "a.weight", RH_TYPE_F32, 2, ne1, t_f32, sizeof t_f32, false), RH_OK);
    /* Q8_0: 2 rows of 64 values = 2 * 2 blocks * 34 bytes */
    static uint8_t q8[136];
    for (size_t i = 0; i < sizeof q8; i++)
        q8[i] = (uint8_t)(i * 7);
    uint64_t ne2[2] = {64, 2};
    ASSERT_EQ(gguf_writer_add_tensor(w, "b.weight", RH_TYPE_Q8_0, 2, ne2, q8, sizeof q8, true), RH_OK);
    /* last tensor: 32 F32 values = 128 bytes, so no trailing padding */
    static float last[32];
    for (int i = 0; i < 32; i++)
        last[i] = (float)i * 0.25f;
    uint64_t ne3[1] = {32};
    ASSERT_EQ(gguf_writer_add_tensor(w, "c.norm", RH_TYPE_F32, 1, ne3, last, sizeof last, false), RH_OK);
    return w;
}

static void *sample_image(size_t *len)
{
    gguf_writer *w = sample_writer();
    void *img = NULL;
    rh_error err;
    int rc = gguf_writer_write_mem(w, &img, len, &err);
    gguf_writer_free(w);
    if (rc != RH_OK)
        FAIL("write_mem: %s", err.msg);
    return img;
}

static void check_sample(const gguf_file *f)
{
    ASSERT_EQ(gguf_version(f), 3);
    ASSERT_EQ(gguf_alignment(f), 32);
    ASSERT_EQ(gguf_kv_count(f), 10);
    gguf_str s;
    ASSERT_EQ(gguf_get_str(f, "general.architecture", &s), RH_OK);
    ASSERT(gguf_str_eq(s, "llama"));
    uint32_t u32 = 0;
    ASSERT_EQ(gguf_get_u32(f, "llama.block_count", &u32), RH_OK);
    ASSERT_EQ(u32, 4);
    int32_t i32 = 0;
    ASSERT_EQ(gguf_get_i32(f, "test.neg", &i32), RH_OK);
    ASSERT_EQ(i32, -5);
    uint64_t u64 = 0;
    ASSERT_EQ(gguf_get_u64(f, "test.big", &u64), RH_OK);
    ASSERT_EQ(u64, 1ull << 40);
    float eps = 0;
    ASSERT_EQ(gguf_get_f32(f, "test.eps", &eps), RH_OK);
    ASSERT(eps == 1e-5f);
    bool flag = false;
    ASSERT_EQ(gguf_get_bool(f, "test.flag", &flag), RH_OK);
    ASSERT(flag);

    const gguf_kv *kv;
    ASSERT_EQ(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_STRING, &kv), RH_OK);
    ASSERT_EQ(kv->arr_n, 4);
    ASSERT(gguf_str_eq(kv->arr_str[0], "<s>"));
    ASSERT(gguf_str_eq(kv->arr_str[2], "hallo"));
    ASSERT(gguf_str_eq(kv->arr_str[3], ""));
    ASSERT_EQ(gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, &kv), RH_OK);
    ASSERT(gguf_arr_f32(kv, 2) == 2.25f);
    ASSERT(gguf_arr_num(kv, 1) == -1.0);
    ASSERT_EQ(gguf_get_arr(f, "tokenizer.ggml.token_type", GGUF_VT_INT32, &kv), RH_OK);
    ASSERT_EQ(gguf_arr_i32(kv, 3), -7);
    ASSERT_EQ(gguf_arr_int(kv, 0), 3);
    ASSERT_EQ(gguf_get_arr(f, "test.u8s", GGUF_VT_UINT8, &kv), RH_OK);
    ASSERT_EQ(gguf_arr_int(kv, 2), 7);

    ASSERT_EQ(gguf_tensor_count(f), 3);
    const gguf_tensor *t = gguf_find_tensor(f, "a.weight");
    ASSERT(t != NULL);
    ASSERT_EQ(t->type, RH_TYPE_F32);
    ASSERT_EQ(t->n_dims, 2);
    ASSERT_EQ(t->ne[0], 4);
    ASSERT_EQ(t->ne[1], 3);
    ASSERT_EQ(t->ne[2], 1);
    ASSERT_EQ(t->nbytes, sizeof t_f32);
    ASSERT(memcmp(t->data, t_f32, sizeof t_f32) == 0);
    t = gguf_find_tensor(f, "b.weight");
    ASSERT(t != NULL);
    ASSERT_EQ(t->type, RH_TYPE_Q8_0);
    ASSERT_EQ(t->nbytes, 136);
    ASSERT_EQ(((const uint8_t *)t->data)[5], 35);
    ASSERT_EQ(t->offset % 32, 0);
    t = gguf_find_tensor(f, "c.norm");
    ASSERT(t != NULL);
    float v;
    memcpy(&v, (const uint8_t *)t->data + 4 * 8, 4);
    ASSERT(v == 2.0f);
    ASSERT(gguf_find_tensor(f, "nope") == NULL);
    ASSERT(gguf_find_kv(f, "nope") == NULL);
    ASSERT(gguf_tensor_at(f, 3) == NULL);
    ASSERT(gguf_kv_at(f, 10) == NULL);
    ASSERT_EQ(gguf_data_offset(f) % 32, 0);
    for (size_t i = 0; i < gguf_tensor_count(f); i++) {
        t = gguf_tensor_at(f, i);
        ASSERT_EQ(((uintptr_t)t->data - (uintptr_t)gguf_tensor_at(f, 0)->data) % 32, 0);
    }
}

TEST(gguf_roundtrip_mem)
{
    size_t len;
    void *img = sample_image(&len);
    gguf_file *f;
    rh_error err;
    ASSERT_EQ(gguf_open_mem(img, len, &f, &err), RH_OK);
    check_sample(f);
    ASSERT_EQ(gguf_file_size(f), len);
    gguf_close(f);
    rh_free(img);
}

TEST(gguf_roundtrip_file)
{
    gguf_writer *w = sample_writer();
    char path[512];
    snprintf(path, sizeof path, "%s/sample.gguf", test_tmpdir());
    rh_error err;
    ASSERT_EQ(gguf_writer_write(w, path, &err), RH_OK);
    gguf_writer_free(w);
    struct stat st;
    char part[600];
    snprintf(part, sizeof part, "%s.part", path);
    ASSERT(stat(part, &st) != 0); /* renamed into place */
    gguf_file *f;
    ASSERT_EQ(gguf_open(path, &f, &err), RH_OK);
    check_sample(f);
    /* mapped from a page-aligned address: data truly aligned */
    for (size_t i = 0; i < gguf_tensor_count(f); i++)
        ASSERT_EQ((uintptr_t)gguf_tensor_at(f, i)->data % 32, 0);
    gguf_close(f);
}

TEST(gguf_writer_copy_kv_roundtrip)
{
    size_t len;
    void *img = sample_image(&len);
    gguf_file *f, *g;
    rh_error err;
    ASSERT_EQ(gguf_open_mem(img, len, &f, &err), RH_OK);
    gguf_writer *w;
    ASSERT_EQ(gguf_writer_new(&w), RH_OK);
    for (size_t i = 0; i < gguf_kv_count(f); i++)
        ASSERT_EQ(gguf_writer_copy_kv(w, gguf_kv_at(f, i)), RH_OK);
    for (size_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        ASSERT_EQ(gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data, t->nbytes, true), RH_OK);
    }
    void *img2;
    size_t len2;
    ASSERT_EQ(gguf_writer_write_mem(w, &img2, &len2, &err), RH_OK);
    gguf_writer_free(w);
    ASSERT_EQ(len2, len);
    ASSERT(memcmp(img, img2, len) == 0);
    ASSERT_EQ(gguf_open_mem(img2, len2, &g, &err), RH_OK);
    check_sample(g);
    gguf_close(g);
    gguf_close(f);
    rh_free(img2);
    rh_free(img);
}

TEST(gguf_writer_alignment_and_replace)
{
    gguf_writer *w;
    ASSERT_EQ(gguf_writer_new(&w), RH_OK);
    ASSERT_EQ(gguf_writer_set_u32(w, "general.alignment", 64), RH_OK);
    ASSERT_EQ(gguf_writer_set_str(w, "general.name", "first"), RH_OK);
    ASSERT_EQ(gguf_writer_set_str(w, "general.name", "second"), RH_OK);
    float d[3] = {1, 2, 3};
    uint64_t ne[1] = {3};
    ASSERT_EQ(gguf_writer_add_tensor(w, "x", RH_TYPE_F32, 1, ne, d, 12, false), RH_OK);
    ASSERT_EQ(gguf_writer_add_tensor(w, "y", RH_TYPE_F32, 1, ne, d, 12, false), RH_OK);
    void *img;
    size_t len;
    rh_error err;
    ASSERT_EQ(gguf_writer_write_mem(w, &img, &len, &err), RH_OK);
    gguf_file *f;
    ASSERT_EQ(gguf_open_mem(img, len, &f, &err), RH_OK);
    ASSERT_EQ(gguf_alignment(f), 64);
    ASSERT_EQ(gguf_kv_count(f), 2);
    gguf_str s;
    ASSERT_EQ(gguf_get_str(f, "general.name", &s), RH_OK);
    ASSERT(gguf_str_eq(s, "second"));
    ASSERT_EQ(gguf_find_tensor(f, "y")->offset, 64);
    ASSERT_EQ(gguf_data_offset(f) % 64, 0);
    gguf_close(f);
    rh_free(img);
    /* an invalid alignment is refused at write time */
    ASSERT_EQ(gguf_writer_set_u32(w, "general.alignment", 48), RH_OK);
    ASSERT_EQ(gguf_writer_write_mem(w, &img, &len, &err), RH_EINVAL);
    gguf_writer_free(w);
}

TEST(gguf_writer_rejects_bad_tensors)
{
    gguf_writer *w;
    ASSERT_EQ(gguf_writer_new(&w), RH_OK);
    float d[64] = {0};
    uint64_t ne[5] = {4, 1, 1, 1, 1};
    ASSERT_EQ(gguf_writer_add_tensor(w, "t", RH_TYPE_F32, 1, ne, d, 16, false), RH_OK);
    ASSERT_EQ(gguf_writer_add_tensor(w, "t", RH_TYPE_F32, 1, ne, d, 16, false), RH_EEXIST);
    ASSERT_EQ(gguf_writer_add_tensor(w, "u", RH_TYPE_F32, 1, ne, d, 12, false), RH_EINVAL); /* size */
    ASSERT_EQ(gguf_writer_add_tensor(w, "u", RH_TYPE_F32, 5, ne, d, 16, false), RH_EINVAL); /* dims */
    ASSERT_EQ(gguf_writer_add_tensor(w, "u", 77, 1, ne, d, 16, false), RH_EINVAL);          /* type */
    ASSERT_EQ(gguf_writer_add_tensor(w, "u", RH_TYPE_Q8_0, 1, ne, d, 16, false), RH_EINVAL); /* block */
    ASSERT_EQ(gguf_writer_add_tensor(w, "", RH_TYPE_F32, 1, ne, d, 16, false), RH_EINVAL);
    ASSERT_EQ(gguf_writer_set_u32(w, "", 1), RH_EINVAL);
    ASSERT_EQ(gguf_writer_set_arr(w, "k", GGUF_VT_STRING, d, 1), RH_EINVAL);
    gguf_writer_free(w);
}

/* ---- getters ------------------------------------------------------------- */

TEST(gguf_getters_types_and_ranges)
{
    gguf_writer *w;
    ASSERT_EQ(gguf_writer_new(&w), RH_OK);
    ASSERT_EQ(gguf_writer_set_u64(w, "huge", 1ull << 40), RH_OK);
    ASSERT_EQ(gguf_writer_set_i32(w, "neg", -1), RH_OK);
    ASSERT_EQ(gguf_writer_set_u32(w, "u31", 0x80000000u), RH_OK);
    ASSERT_EQ(gguf_writer_set_str(w, "str", "x"), RH_OK);
    ASSERT_EQ(gguf_writer_set_f32(w, "f", 0.5f), RH_OK);
    const uint32_t arr[2] = {1, 2};
    ASSERT_EQ(gguf_writer_set_arr(w, "arr", GGUF_VT_UINT32, arr, 2), RH_OK);
    void *img;
    size_t len;
    rh_error err;
    ASSERT_EQ(gguf_writer_write_mem(w, &img, &len, &err), RH_OK);
    gguf_writer_free(w);
    gguf_file *f;
    ASSERT_EQ(gguf_open_mem(img, len, &f, &err), RH_OK);

    uint32_t u32 = 42;
    ASSERT_EQ(gguf_get_u32(f, "absent", &u32), RH_ENOTFOUND);
    ASSERT_EQ(u32, 42); /* untouched */
    ASSERT_EQ(gguf_get_u32(f, "huge", &u32), RH_EFORMAT);
    ASSERT_EQ(gguf_get_u32(f, "neg", &u32), RH_EFORMAT);
    ASSERT_EQ(gguf_get_u32(f, "str", &u32), RH_EFORMAT);
    ASSERT_EQ(gguf_get_u32(f, "u31", &u32), RH_OK);
    ASSERT_EQ(u32, 0x80000000u);
    int32_t i32 = 0;
    ASSERT_EQ(gguf_get_i32(f, "u31", &i32), RH_EFORMAT);
    ASSERT_EQ(gguf_get_i32(f, "neg", &i32), RH_OK);
    ASSERT_EQ(i32, -1);
    uint64_t u64 = 0;
    ASSERT_EQ(gguf_get_u64(f, "neg", &u64), RH_EFORMAT);
    ASSERT_EQ(gguf_get_u64(f, "u31", &u64), RH_OK);
    float fl = 0;
    ASSERT_EQ(gguf_get_f32(f, "u31", &fl), RH_EFORMAT);
    ASSERT_EQ(gguf_get_f32(f, "f", &fl), RH_OK);
    bool b;
    ASSERT_EQ(gguf_get_bool(f, "f", &b), RH_EFORMAT);
    gguf_str s;
    ASSERT_EQ(gguf_get_str(f, "arr", &s), RH_EFORMAT);
    const gguf_kv *kv;
    ASSERT_EQ(gguf_get_arr(f, "arr", GGUF_VT_INT32, &kv), RH_EFORMAT); /* wrong element type */
    ASSERT_EQ(gguf_get_arr(f, "arr", GGUF_VT_STRING, &kv), RH_EFORMAT);
    ASSERT_EQ(gguf_get_arr(f, "str", GGUF_VT_UINT32, &kv), RH_EFORMAT); /* not an array */
    ASSERT_EQ(gguf_get_arr(f, "arr", GGUF_VT_UINT32, &kv), RH_OK);
    ASSERT_EQ(gguf_arr_u32(kv, 1), 2);
    ASSERT_EQ(gguf_arr_u32(kv, 2), 0);  /* out of range */
    ASSERT_EQ(gguf_arr_i32(kv, 0), 0);  /* wrong element type */
    ASSERT(gguf_arr_f32(kv, 0) == 0.0f);
    ASSERT_EQ(gguf_arr_int(kv, 5), 0);
    gguf_close(f);
    rh_free(img);
}

TEST(gguf_getters_small_types)
{
    bw w;
    bw_init(&w);
    bw_header(&w, 3, 0, 5);
    bw_str(&w, "u8");
    bw_u32(&w, GGUF_VT_UINT8);
    bw_bytes(&w, "\xc8", 1);
    bw_str(&w, "i8");
    bw_u32(&w, GGUF_VT_INT8);
    bw_bytes(&w, "\xfd", 1);
    bw_str(&w, "i16");
    bw_u32(&w, GGUF_VT_INT16);
    bw_bytes(&w, "\x30\x8a", 2); /* -30160 */
    bw_str(&w, "b");
    bw_u32(&w, GGUF_VT_BOOL);
    bw_bytes(&w, "\x07", 1); /* any nonzero byte reads as true */
    bw_str(&w, "f64");
    bw_u32(&w, GGUF_VT_FLOAT64);
    double d = -2.5;
    bw_bytes(&w, &d, 8);
    gguf_file *f = open_ok(&w);
    uint32_t u = 0;
    int32_t i = 0;
    ASSERT_EQ(gguf_get_u32(f, "u8", &u), RH_OK);
    ASSERT_EQ(u, 200);
    ASSERT_EQ(gguf_get_i32(f, "i8", &i), RH_OK);
    ASSERT_EQ(i, -3);
    ASSERT_EQ(gguf_get_i32(f, "i16", &i), RH_OK);
    ASSERT_EQ(i, -30160);
    ASSERT_EQ(gguf_get_u32(f, "i16", &u), RH_EFORMAT);
    bool b = false;
    ASSERT_EQ(gguf_get_bool(f, "b", &b), RH_OK);
    ASSERT(b);
    ASSERT_EQ(gguf_find_kv(f, "b")->v.u64, 1);
    ASSERT_EQ(gguf_get_u32(f, "b", &u), RH_EFORMAT); /* bool is not an integer */
    float fl = 0;
    ASSERT_EQ(gguf_get_f32(f, "f64", &fl), RH_OK);
    ASSERT(fl == -2.5f);
    gguf_close(f);
    bw_free(&w);
}

/* ---- hostile files, built by hand ---------------------------------------- */

TEST(gguf_bad_magic)
{
    bw w;
    bw_init(&w);
    bw_bytes(&w, "GGML", 4);
    bw_u32(&w, 3);
    bw_u64(&w, 0);
    bw_u64(&w, 0);
    EXPECT_FAIL(&w, RH_EFORMAT, "magic");
    bw_init(&w);
    EXPECT_FAIL(&w, RH_EFORMAT, "not a GGUF file"); /* empty */
    bw_init(&w);
    bw_bytes(&w, "GGUF", 4);
    EXPECT_FAIL(&w, RH_EFORMAT, "cut off");
}

TEST(gguf_minimal_valid)
{
    bw w;
    bw_init(&w);
    bw_header(&w, 2, 0, 0);
    gguf_file *f = open_ok(&w);
    ASSERT_EQ(gguf_version(f), 2);
    ASSERT_EQ(gguf_kv_count(f), 0);
    ASSERT_EQ(gguf_tensor_count(f), 0);
    gguf_close(f);
    bw_free(&w);
}

TEST(gguf_version_1)
{
    bw w;
    bw_init(&w);
    bw_header(&w, 1, 0, 0);
    EXPECT_FAIL(&w, RH_EUNSUPPORTED, "version 1");
}

TEST(gguf_version_99)
{
    bw w;
    bw_init(&w);
    bw_header(&w, 99, 0, 0);
    EXPECT_FAIL(&w, RH_EUNSUPPORTED, "version 99");
    bw_init(&w);
    bw_header(&w, 0x03000000u, 0, 0);
    EXPECT_FAIL(&w, RH_EUNSUPPORTED, "big-endian");
}

TEST(gguf_huge_counts)
{
    bw w;
    bw_init(&w);
    bw_header(&w, 3, 0, UINT64_MAX);
    EXPECT_FAIL(&w, RH_EFORMAT, "metadata count");
    bw_init(&w);
    bw_header(&w, 3, 1ull << 40, 0);
    bw_zeros(&w, 64);
    EXPECT_FAIL(&w, RH_EFORMAT, "tensor count");
    bw_init(&w);
    bw_header(&w, 3, 0, 2); /* two entries promised, bytes for one */
    bw_kv_u32(&w, "a", 1);
    EXPECT_FAIL(&w, RH_EFORMAT, "metadata count");
}

TEST(gguf_more_than_4_dims)
{
    bw w;
    uint64_t ne[5] = {1, 1, 1, 1, 1};
    bw_init(&w);
    bw_header(&w, 3, 1, 0);
    bw_tensor(&w, "t", 5, ne, RH_TYPE_F32, 0);
    bw_pad(&w, 32);
    bw_zeros(&w, 32);
    EXPECT_FAIL(&w, RH_EFORMAT, "5 dimensions");
    bw_init(&w);
    bw_header(&w, 3, 1, 0);
    bw_tensor(&w, "t", 0, ne, RH_TYPE_F32, 0);
    bw_zeros(&w, 64);
    EXPECT_FAIL(&w, RH_EFORMAT, "0 dimensions");
}

TEST(gguf_dim_product_overflow)
{
    bw w;
    uint64_t ne[3] = {1ull << 32, 1ull << 32, 2};
    bw_init(&w);
    bw_header(&w, 3, 1, 0);
    bw_tensor(&w, "t", 3, ne, RH_TYPE_F32, 0);
    bw_zeros(&w, 64);
    EXPECT_FAIL(&w, RH_EFORMAT, "overflows 64 bits");
    /* a single dimension beyond int64 */
    uint64_t ne1[1] = {UINT64_MAX};
    bw_init(&w);
    bw_header(&w, 3, 1, 0);
    bw_tensor(&w, "t", 1, ne1, RH_TYPE_F32, 0);
    bw_zeros(&w, 64);
    EXPECT_FAIL(&w, RH_EFORMAT, "invalid size");
    /* element count fits, byte count (x4) does not */
    uint64_t ne2[2] = {1ull << 31, 1ull << 31};
    bw_init(&w);
    bw_header(&w, 3, 1, 0);
    bw_tensor(&w, "t", 2, ne2, RH_TYPE_F32, 0);
    bw_zeros(&w, 64);
    EXPECT_FAIL(&w, RH_EFORMAT, "data size overflows");
    /* a zero dimension */
    uint64_t ne3[2] = {4, 0};
    bw_init(&w);
    bw_header(&w, 3, 1, 0);
    bw_tensor(&w, "t", 2, ne3, RH_TYPE_F32, 0);
    bw_zeros(&w, 64);
    EXPECT_FAIL(&w, RH_EFORMAT, "invalid size 0");
}

TEST(gguf_data_beyond_eof)
{
    bw w;
    uint64_t ne[1] = {1000};
    bw_init(&w);
    bw_header(&w, 3, 1, 0);
    bw_tensor(&w, "blk.0.attn_q.weight", 1, ne, RH_TYPE_F32, 0);
    bw_pad(&w, 32);
    bw_zeros(&w, 3996); /* 4 bytes short */
    EXPECT_FAIL(&w, RH_EFORMAT, "tensor 'blk.0.attn_q.weight': data ends beyond the end of the file");
    /* huge offset (aligned) */
    bw_init(&w);
    bw_header(&w, 3, 1, 0);
    bw_tensor(&w, "t", 1, ne, RH_TYPE_F32, UINT64_MAX - 31);
    bw_pad(&w, 32);
    bw_zeros(&w, 4000);
    EXPECT_FAIL(&w, RH_EFORMAT, "beyond the end of the file");
    /* data section itself beyond the end (no padding written) */
    uint64_t ne1[1] = {1};
    bw_init(&w);
    bw_header(&w, 3, 1, 0);
    bw_tensor(&w, "t", 1, ne1, RH_TYPE_F32, 0);
    EXPECT_FAIL(&w, RH_EFORMAT, "beyond the end of the file");
}

TEST(gguf_huge_string_length)
{
    bw w;
    bw_init(&w);
    bw_header(&w, 3, 0, 1);
    bw_u64(&w, 1ull << 62); /* key length */
    bw_zeros(&w, 16);
    EXPECT_FAIL(&w, RH_EFORMAT, "string length");
    bw_init(&w);
    bw_header(&w, 3, 0, 1);
    bw_str(&w, "general.name");
    bw_u32(&w, GGUF_VT_STRING);
    bw_u64(&w, UINT64_MAX);
    bw_zeros(&w, 8);
    EXPECT_FAIL(&w, RH_EFORMAT, "metadata key 'general.name': string length");
    /* key longer than the key limit but inside the file */
    bw_init(&w);
    bw_header(&w, 3, 0, 1);
    bw_u64(&w, GGUF_MAX_KEY_LEN + 1);
    bw_zeros(&w, GGUF_MAX_KEY_LEN + 16);
    EXPECT_FAIL(&w, RH_EFORMAT, "limit");
}

TEST(gguf_huge_array_length)
{
    bw w;
    bw_init(&w);
    bw_header(&w, 3, 0, 1);
    bw_str(&w, "tokenizer.ggml.scores");
    bw_u32(&w, GGUF_VT_ARRAY);
    bw_u32(&w, GGUF_VT_FLOAT32);
    bw_u64(&w, 1ull << 62);
    bw_zeros(&w, 64);
    EXPECT_FAIL(&w, RH_EFORMAT, "array of 4611686018427387904 f32");
    bw_init(&w);
    bw_header(&w, 3, 0, 1);
    bw_str(&w, "tokenizer.ggml.tokens");
    bw_u32(&w, GGUF_VT_ARRAY);
    bw_u32(&w, GGUF_VT_STRING);
    bw_u64(&w, UINT64_MAX);
    bw_zeros(&w, 64);
    EXPECT_FAIL(&w, RH_EFORMAT, "strings cannot fit");
    /* string array whose count fits but an element's length does not */
    bw_init(&w);
    bw_header(&w, 3, 0, 1);
    bw_str(&w, "tokenizer.ggml.tokens");
    bw_u32(&w, GGUF_VT_ARRAY);
    bw_u32(&w, GGUF_VT_STRING);
    bw_u64(&w, 2);
    bw_str(&w, "a");
    bw_u64(&w, 1000);
    bw_zeros(&w, 8);
    EXPECT_FAIL(&w, RH_EFORMAT, "element 1");
}

TEST(gguf_array_element_types)
{
    bw w;
    bw_init(&w);
    bw_header(&w, 3, 0, 1);
    bw_str(&w, "a");
    bw_u32(&w, GGUF_VT_ARRAY);
    bw_u32(&w, GGUF_VT_ARRAY); /* nested */
    bw_u64(&w, 1);
    bw_u32(&w, GGUF_VT_UINT8);
    bw_u64(&w, 0);
    EXPECT_FAIL(&w, RH_EFORMAT, "nested arrays");
    bw_init(&w);
    bw_header(&w, 3, 0, 1);
    bw_str(&w, "a");
    bw_u32(&w, GGUF_VT_ARRAY);
    bw_u32(&w, 13); /* no such type */
    bw_u64(&w, 0);
    EXPECT_FAIL(&w, RH_EFORMAT, "unknown array element type 13");
    /* a valid u8 array: the getter refuses other element types */
    bw_init(&w);
    bw_header(&w, 3, 0, 1);
    bw_str(&w, "a");
    bw_u32(&w, GGUF_VT_ARRAY);
    bw_u32(&w, GGUF_VT_UINT8);
    bw_u64(&w, 3);
    bw_bytes(&w, "\x01\x02\x03", 3);
    gguf_file *f = open_ok(&w);
    const gguf_kv *kv = NULL;
    ASSERT_EQ(gguf_get_arr(f, "a", GGUF_VT_INT32, &kv), RH_EFORMAT);
    ASSERT_EQ(gguf_get_arr(f, "a", GGUF_VT_UINT8, &kv), RH_OK);
    ASSERT_EQ(kv->arr_n, 3);
    ASSERT_EQ(gguf_arr_int(kv, 2), 3);
    gguf_close(f);
    bw_free(&w);
}

TEST(gguf_alignment_invalid)
{
    bw w;
    bw_init(&w);
    bw_header(&w, 3, 0, 1);
    bw_kv_u32(&w, "general.alignment", 0);
    EXPECT_FAIL(&w, RH_EFORMAT, "general.alignment 0 is not a power of two");
    bw_init(&w);
    bw_header(&w, 3, 0, 1);
    bw_kv_u32(&w, "general.alignment", 24);
    EXPECT_FAIL(&w, RH_EFORMAT, "general.alignment 24 is not a power of two");
    bw_init(&w);
    bw_header(&w, 3, 0, 1);
    bw_kv_u32(&w, "general.alignment", 1u << 31);
    EXPECT_FAIL(&w, RH_EFORMAT, "exceeds the limit");
    bw_init(&w);
    bw_header(&w, 3, 0, 1);
    bw_str(&w, "general.alignment");
    bw_u32(&w, GGUF_VT_UINT64);
    bw_u64(&w, 32);
    EXPECT_FAIL(&w, RH_EFORMAT, "must be a u32");
    /* a valid non-default alignment is honoured */
    uint64_t ne[1] = {4};
    bw_init(&w);
    bw_header(&w, 3, 1, 1);
    bw_kv_u32(&w, "general.alignment", 16);
    bw_tensor(&w, "t", 1, ne, RH_TYPE_F32, 0);
    bw_pad(&w, 16);
    bw_zeros(&w, 16);
    gguf_file *f = open_ok(&w);
    ASSERT_EQ(gguf_alignment(f), 16);
    ASSERT_EQ(gguf_data_offset(f) % 16, 0);
    gguf_close(f);
    bw_free(&w);
}

TEST(gguf_unaligned_tensor_offset)
{
    bw w;
    uint64_t ne[1] = {4};
    bw_init(&w);
    bw_header(&w, 3, 1, 0);
    bw_tensor(&w, "t", 1, ne, RH_TYPE_F32, 4);
    bw_pad(&w, 32);
    bw_zeros(&w, 64);
    EXPECT_FAIL(&w, RH_EFORMAT, "not a multiple of the alignment 32");
}

TEST(gguf_duplicate_keys)
{
    bw w;
    bw_init(&w);
    bw_header(&w, 3, 0, 3);
    bw_kv_u32(&w, "b", 1);
    bw_kv_u32(&w, "general.x", 1);
    bw_kv_u32(&w, "b", 2);
    EXPECT_FAIL(&w, RH_EFORMAT, "duplicate metadata key 'b'");
}

TEST(gguf_duplicate_tensor_names_and_overlap)
{
    bw w;
    uint64_t ne[1] = {8};
    bw_init(&w);
    bw_header(&w, 3, 2, 0);
    bw_tensor(&w, "t", 1, ne, RH_TYPE_F32, 0);
    bw_tensor(&w, "t", 1, ne, RH_TYPE_F32, 32);
    bw_pad(&w, 32);
    bw_zeros(&w, 64);
    EXPECT_FAIL(&w, RH_EFORMAT, "duplicate tensor name 't'");
    uint64_t ne2[1] = {16}; /* 64 bytes at 0 and 32 bytes at 32 overlap */
    bw_init(&w);
    bw_header(&w, 3, 2, 0);
    bw_tensor(&w, "a", 1, ne2, RH_TYPE_F32, 0);
    bw_tensor(&w, "b", 1, ne, RH_TYPE_F32, 32);
    bw_pad(&w, 32);
    bw_zeros(&w, 64);
    EXPECT_FAIL(&w, RH_EFORMAT, "overlap");
}

TEST(gguf_unknown_value_type)
{
    bw w;
    bw_init(&w);
    bw_header(&w, 3, 0, 1);
    bw_str(&w, "k");
    bw_u32(&w, 13);
    bw_u32(&w, 0);
    EXPECT_FAIL(&w, RH_EFORMAT, "metadata key 'k': unknown value type 13");
    bw_init(&w);
    bw_header(&w, 3, 0, 1);
    bw_str(&w, "k");
    bw_u32(&w, 0xffffffffu);
    bw_u32(&w, 0);
    EXPECT_FAIL(&w, RH_EFORMAT, "unknown value type");
}

TEST(gguf_unknown_tensor_type)
{
    bw w;
    uint64_t ne[1] = {32};
    bw_init(&w);
    bw_header(&w, 3, 1, 0);
    bw_tensor(&w, "t", 1, ne, 4, 0); /* 4 and 5 were removed from the format */
    bw_pad(&w, 32);
    bw_zeros(&w, 256);
    EXPECT_FAIL(&w, RH_EUNSUPPORTED, "unknown tensor type 4");
    bw_init(&w);
    bw_header(&w, 3, 1, 0);
    bw_tensor(&w, "t", 1, ne, 0x80000000u, 0);
    bw_pad(&w, 32);
    bw_zeros(&w, 256);
    EXPECT_FAIL(&w, RH_EUNSUPPORTED, "unknown tensor type");
    /* row length not a multiple of the block size */
    uint64_t ne2[1] = {33};
    bw_init(&w);
    bw_header(&w, 3, 1, 0);
    bw_tensor(&w, "t", 1, ne2, RH_TYPE_Q8_0, 0);
    bw_pad(&w, 32);
    bw_zeros(&w, 256);
    EXPECT_FAIL(&w, RH_EFORMAT, "not a multiple of the Q8_0 block size 32");
}

TEST(gguf_bad_names_and_keys)
{
    bw w;
    bw_init(&w);
    bw_header(&w, 3, 0, 1);
    bw_kv_u32(&w, "", 1);
    EXPECT_FAIL(&w, RH_EFORMAT, "empty key");
    bw_init(&w);
    bw_header(&w, 3, 0, 1);
    bw_u64(&w, 3);
    bw_bytes(&w, "a\0b", 3);
    bw_u32(&w, GGUF_VT_UINT8);
    bw_bytes(&w, "\x01", 1);
    EXPECT_FAIL(&w, RH_EFORMAT, "NUL");
    uint64_t ne[1] = {1};
    bw_init(&w);
    bw_header(&w, 3, 1, 0);
    bw_tensor(&w, "", 1, ne, RH_TYPE_F32, 0);
    bw_zeros(&w, 64);
    EXPECT_FAIL(&w, RH_EFORMAT, "empty name");
    /* non-printable bytes in a name are not echoed raw */
    uint64_t ne2[1] = {1000};
    bw_init(&w);
    bw_header(&w, 3, 1, 0);
    bw_tensor(&w, "x\x1b[2Jy", 1, ne2, RH_TYPE_F32, 0);
    bw_pad(&w, 32);
    EXPECT_FAIL(&w, RH_EFORMAT, "tensor 'x?[2Jy'");
}

TEST(gguf_truncated_every_byte)
{
    size_t len;
    uint8_t *img = sample_image(&len);
    gguf_file *f;
    rh_error err;
    ASSERT_EQ(gguf_open_mem(img, len, &f, &err), RH_OK); /* the full file is fine */
    gguf_close(f);
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = rh_malloc(n); /* exact size: ASan catches any over-read */
        ASSERT(cut != NULL);
        if (n)
            memcpy(cut, img, n);
        f = NULL;
        int rc = gguf_open_mem(cut, n, &f, &err);
        if (rc == RH_OK)
            FAIL("prefix of %zu of %zu bytes accepted", n, len);
        ASSERT(rc == RH_EFORMAT);
        ASSERT(f == NULL);
        ASSERT(err.msg[0] != '\0');
        rh_free(cut);
    }
    rh_free(img);
}

/* Bytes of heap in use, to detect leaks across a loop of failing opens;
 * only known in sanitizer builds (glibc's own counters include its caches),
 * elsewhere always 0 so that the comparison passes. */
static size_t heap_in_use(void)
{
    if (__sanitizer_get_current_allocated_bytes)
        return __sanitizer_get_current_allocated_bytes();
    return 0;
}

TEST(gguf_alloc_fail_every_step)
{
    size_t len;
    void *img = sample_image(&len);
    int n;
    size_t before = heap_in_use();
    for (n = 0; n < 1000; n++) {
        gguf_file *f = NULL;
        rh_error err;
        rh_alloc_fail_after(n);
        int rc = gguf_open_mem(img, len, &f, &err);
        rh_alloc_fail_reset();
        if (rc == RH_OK) {
            check_sample(f);
            gguf_close(f);
            break;
        }
        if (rc != RH_ENOMEM)
            FAIL("allocation %d failing gave %d (%s), not RH_ENOMEM", n, rc, err.msg);
        ASSERT(f == NULL);
    }
    ASSERT(n > 0 && n < 1000);
    size_t after = heap_in_use();
    if (after != before)
        FAIL("heap in use changed from %zu to %zu bytes: a failed open leaked", before, after);
    rh_free(img);
}

TEST(gguf_writer_alloc_fail_every_step)
{
    int n;
    size_t before = heap_in_use();
    for (n = 0; n < 1000; n++) {
        gguf_writer *w = NULL;
        rh_alloc_fail_after(n);
        int rc = gguf_writer_new(&w);
        const char *toks[] = {"a", "b"};
        const float sc[] = {1, 2};
        float d[4] = {1, 2, 3, 4};
        uint64_t ne[1] = {4};
        if (rc == RH_OK)
            rc = gguf_writer_set_str(w, "general.architecture", "llama");
        if (rc == RH_OK)
            rc = gguf_writer_set_u32(w, "x", 1);
        if (rc == RH_OK)
            rc = gguf_writer_set_arr_str(w, "tokens", toks, 2);
        if (rc == RH_OK)
            rc = gguf_writer_set_arr(w, "scores", GGUF_VT_FLOAT32, sc, 2);
        if (rc == RH_OK)
            rc = gguf_writer_add_tensor(w, "t", RH_TYPE_F32, 1, ne, d, 16, false);
        void *img = NULL;
        size_t len = 0;
        rh_error err;
        if (rc == RH_OK)
            rc = gguf_writer_write_mem(w, &img, &len, &err);
        rh_alloc_fail_reset();
        gguf_writer_free(w);
        if (rc == RH_OK) {
            gguf_file *f;
            ASSERT_EQ(gguf_open_mem(img, len, &f, &err), RH_OK);
            ASSERT_EQ(gguf_kv_count(f), 4);
            gguf_close(f);
            rh_free(img);
            break;
        }
        ASSERT_EQ(rc, RH_ENOMEM);
    }
    ASSERT(n > 0 && n < 1000);
    size_t after = heap_in_use();
    if (after != before)
        FAIL("heap in use changed from %zu to %zu bytes: a failed write leaked", before, after);
}

/* ---- files on disk --------------------------------------------------------- */

TEST(gguf_open_errors)
{
    gguf_file *f;
    rh_error err;
    ASSERT_EQ(gguf_open("/nonexistent/x.gguf", &f, &err), RH_ENOTFOUND);
    ASSERT(strstr(err.msg, "/nonexistent/x.gguf") != NULL);
    ASSERT_EQ(gguf_open(test_tmpdir(), &f, &err), RH_EINVAL);
    char path[512];
    snprintf(path, sizeof path, "%s/short.gguf", test_tmpdir());
    FILE *fp = fopen(path, "wb");
    ASSERT(fp != NULL);
    fputs("GGUF", fp);
    fclose(fp);
    ASSERT_EQ(gguf_open(path, &f, &err), RH_EFORMAT);
    /* a bad file on disk names the file in the message */
    snprintf(path, sizeof path, "%s/bad.gguf", test_tmpdir());
    fp = fopen(path, "wb");
    ASSERT(fp != NULL);
    fwrite("GGUF\x63\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 1, 24, fp);
    fclose(fp);
    ASSERT_EQ(gguf_open(path, &f, &err), RH_EUNSUPPORTED);
    ASSERT(strstr(err.msg, "bad.gguf: GGUF version 99") != NULL);
}

/* Touch everything a consumer could read, so ASan sees bad pointers. */
static void walk(const gguf_file *f)
{
    volatile unsigned sum = 0;
    for (size_t i = 0; i < gguf_kv_count(f); i++) {
        const gguf_kv *kv = gguf_kv_at(f, i);
        for (uint64_t j = 0; j < kv->key.len; j++)
            sum += (unsigned char)kv->key.ptr[j];
        if (kv->type == GGUF_VT_STRING && kv->v.str.len)
            sum += (unsigned char)kv->v.str.ptr[kv->v.str.len - 1];
        if (kv->type == GGUF_VT_ARRAY && kv->arr_n) {
            if (kv->arr_type == GGUF_VT_STRING) {
                for (uint64_t j = 0; j < kv->arr_n; j++)
                    if (kv->arr_str[j].len)
                        sum += (unsigned char)kv->arr_str[j].ptr[kv->arr_str[j].len - 1];
            } else {
                sum += (unsigned)gguf_arr_int(kv, kv->arr_n - 1);
            }
        }
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)kv->key.len, kv->key.ptr);
        ASSERT(gguf_find_kv(f, key) == kv || strlen(key) != kv->key.len || kv->key.len >= sizeof key - 1);
    }
    for (size_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        ASSERT(t->nbytes > 0);
        ASSERT(t->offset + t->nbytes <= gguf_file_size(f) - gguf_data_offset(f));
        const uint8_t *d = t->data;
        sum += d[0] + d[t->nbytes - 1];
    }
    (void)sum;
}

TEST(gguf_shared_models)
{
    const char *dir = test_data_path("models");
    static const char *const models[] = {
        "tiny-llama-q8_0.gguf",   "tiny-llama-q4_k_m.gguf", "tiny-llama-q5_k_m.gguf", "tiny-qwen2-f16.gguf",
        "tiny-qwen2-q4_0.gguf",   "tiny-qwen2-q6_k.gguf",   "tiny-qwen3-q4_k_m.gguf", "tiny-bert-f16.gguf",
    };
    static const char *const archs[] = {"llama", "llama", "llama", "qwen2", "qwen2", "qwen2", "qwen3", "bert"};
    int opened = 0;
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, models[i]);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        gguf_file *f;
        rh_error err;
        if (gguf_open(path, &f, &err) != RH_OK)
            FAIL("%s: %s", models[i], err.msg);
        gguf_str arch;
        ASSERT_EQ(gguf_get_str(f, "general.architecture", &arch), RH_OK);
        if (!gguf_str_eq(arch, archs[i]))
            FAIL("%s: architecture %.*s, expected %s", models[i], (int)arch.len, arch.ptr, archs[i]);
        ASSERT(gguf_tensor_count(f) > 0);
        ASSERT(gguf_find_tensor(f, "token_embd.weight") != NULL);
        const gguf_kv *tok;
        ASSERT_EQ(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_STRING, &tok), RH_OK);
        ASSERT(tok->arr_n >= 30000);
        walk(f);
        if (strcmp(models[i], "tiny-llama-q8_0.gguf") == 0) {
            ASSERT_EQ(tok->arr_n, 32000);
            uint32_t n;
            ASSERT_EQ(gguf_get_u32(f, "llama.block_count", &n), RH_OK);
            ASSERT_EQ(n, 4);
            ASSERT_EQ(gguf_get_u32(f, "llama.embedding_length", &n), RH_OK);
            ASSERT_EQ(n, 256);
            const gguf_tensor *t = gguf_find_tensor(f, "blk.0.attn_q.weight");
            ASSERT(t != NULL);
            ASSERT_EQ(t->type, RH_TYPE_Q8_0);
            ASSERT_EQ(t->ne[0], 256);
            ASSERT_EQ(t->ne[1], 256);
            ASSERT_EQ(t->nbytes, 256 / 32 * 34 * 256);
            t = gguf_find_tensor(f, "blk.0.attn_norm.weight");
            ASSERT(t != NULL);
            ASSERT_EQ(t->type, RH_TYPE_F32);
        }
        gguf_close(f);
        opened++;
    }
    if (opened == 0)
        SKIP("no model files in %s", dir);
}

TEST(gguf_shared_vocabs)
{
    const char *dir = test_data_path("tokenizer");
    DIR *d = opendir(dir);
    if (!d)
        SKIP("no %s", dir);
    int opened = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 5, ".gguf") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        gguf_file *f;
        rh_error err;
        if (gguf_open(path, &f, &err) != RH_OK)
            FAIL("%s: %s", e->d_name, err.msg);
        gguf_str model;
        ASSERT_EQ(gguf_get_str(f, "tokenizer.ggml.model", &model), RH_OK);
        const gguf_kv *tok;
        ASSERT_EQ(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_STRING, &tok), RH_OK);
        ASSERT(tok->arr_n > 1000);
        ASSERT_EQ(gguf_tensor_count(f), 0);
        if (strcmp(e->d_name, "ggml-vocab-gpt-2.gguf") == 0) {
            ASSERT(gguf_str_eq(model, "gpt2"));
            ASSERT_EQ(tok->arr_n, 50257);
            ASSERT(gguf_str_eq(tok->arr_str[0], "!"));
            const gguf_kv *merges;
            ASSERT_EQ(gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_VT_STRING, &merges), RH_OK);
            ASSERT(merges->arr_n > 40000);
        }
        walk(f);
        gguf_close(f);
        opened++;
    }
    closedir(d);
    if (opened == 0)
        SKIP("no vocab files in %s", dir);
}

/* Every kept fuzz crasher and crafted bad file must open or fail cleanly. */
TEST(gguf_replay_crashers)
{
    static const char *const dirs[] = {"tests/data/gguf/crashers", "tests/data/gguf", "fuzz/corpus/gguf"};
    int replayed = 0;
    for (size_t k = 0; k < sizeof dirs / sizeof dirs[0]; k++) {
        DIR *d = opendir(dirs[k]);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char path[1024];
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", dirs[k], e->d_name);
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            size_t len;
            char *data = test_read_file(path, &len);
            ASSERT(data != NULL);
            uint8_t *exact = rh_malloc(len);
            ASSERT(exact != NULL);
            if (len)
                memcpy(exact, data, len);
            gguf_file *f = NULL;
            rh_error err;
            int rc = gguf_open_mem(exact, len, &f, &err);
            if (rc == RH_OK) {
                walk(f);
                gguf_close(f);
            } else {
                ASSERT(rc == RH_EFORMAT || rc == RH_EUNSUPPORTED);
                ASSERT(f == NULL);
            }
            /* files in tests/data/gguf/ are crafted bad files */
            if (k == 1 && rc == RH_OK)
                FAIL("%s: crafted bad file was accepted", path);
            /* seeds are valid files */
            if (k == 2 && rc != RH_OK)
                FAIL("%s: seed file rejected: %s", path, err.msg);
            rh_free(exact);
            rh_free(data);
            replayed++;
        }
        closedir(d);
    }
    if (replayed == 0)
        SKIP("no crasher or corpus files (run from the project root)");
}

/* ---- rathaus model info ------------------------------------------------------ */

/* Run `rathaus model ARGS...` with stdout and stderr captured into files;
 * returns the exit code, *out the captured stdout (rh_free). */
static int run_model_cmd(int argc, char **argv, char **out)
{
    char opath[512], epath[512];
    snprintf(opath, sizeof opath, "%s/out.txt", test_tmpdir());
    snprintf(epath, sizeof epath, "%s/err.txt", test_tmpdir());
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int fo = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0600), fe = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT(so >= 0 && se >= 0 && fo >= 0 && fe >= 0);
    dup2(fo, 1);
    dup2(fe, 2);
    int rc = cmd_model(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    close(fo);
    close(fe);
    size_t len;
    *out = test_read_file(rc == 0 ? opath : epath, &len);
    ASSERT(*out != NULL);
    return rc;
}

TEST(gguf_cli_model_info)
{
    if (!cmd_model)
        SKIP("cmd_model not linked");
    gguf_writer *w = sample_writer();
    ASSERT_EQ(gguf_writer_set_str(w, "evil", "a\x1b[2Jb\n\"q\""), RH_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/m.gguf", test_tmpdir());
    rh_error err;
    ASSERT_EQ(gguf_writer_write(w, path, &err), RH_OK);
    gguf_writer_free(w);

    char *argv[] = {"model", "info", path, NULL};
    char *out;
    ASSERT_EQ(run_model_cmd(3, argv, &out), 0);
    ASSERT(strstr(out, "version:    3") != NULL);
    ASSERT(strstr(out, "alignment:  32") != NULL);
    ASSERT(strstr(out, "general.architecture") != NULL);
    ASSERT(strstr(out, "\"llama\"") != NULL);
    ASSERT(strstr(out, "string[4]") != NULL);
    ASSERT(strstr(out, "[\"<s>\", \"</s>\", \"hallo\", \"\"]") != NULL);
    ASSERT(strstr(out, "tensors:    3") != NULL);
    ASSERT(strstr(out, "b.weight") != NULL);
    ASSERT(strstr(out, "64 x 2") != NULL);
    ASSERT(strstr(out, "Q8_0") != NULL);
    ASSERT(strstr(out, "parameters: 172") != NULL); /* 12 + 128 + 32 */
    ASSERT(strchr(out, 0x1b) == NULL);               /* control bytes escaped */
    ASSERT(strstr(out, "a\\x1b[2Jb\\n\\\"q\\\"") != NULL);
    rh_free(out);

    /* a bad file: exit 1 and "rathaus: <message>" on stderr */
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad.gguf", test_tmpdir());
    FILE *fp = fopen(bad, "wb");
    ASSERT(fp != NULL);
    fwrite("GGUF\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 1, 24, fp);
    fclose(fp);
    char *argv2[] = {"model", "info", bad, NULL};
    ASSERT_EQ(run_model_cmd(3, argv2, &out), 1);
    ASSERT(strncmp(out, "rathaus: ", 9) == 0);
    ASSERT(strstr(out, "version 1") != NULL);
    rh_free(out);
    char *argv3[] = {"model", "frobnicate", NULL};
    ASSERT_EQ(run_model_cmd(2, argv3, &out), 2);
    rh_free(out);
}

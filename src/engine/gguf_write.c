/*
 * gguf_write.c - building and writing GGUF v3 files (model quantize, model
 * synth, tests that craft files).
 *
 * A gguf_writer collects metadata entries and tensors (copied, or borrowed
 * when the caller keeps the data alive until the write) and emits a valid
 * version 3 file: header, metadata in insertion order, tensor infos, padding
 * to the alignment (general.alignment if set, else 32), then each tensor's
 * data at an aligned offset. The same emitter serves files and memory
 * images; a file is written to "<path>.part" and renamed into place, so a
 * failed write never leaves a half-written model under the real name.
 */
#include "engine/gguf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "engine/quant.h"

typedef struct wstr {
    char *p;
    uint64_t len;
} wstr;

typedef struct wkv {
    char *key;
    gguf_vtype type;
    uint8_t raw[8];     /* scalar value, little-endian */
    wstr str;           /* STRING */
    gguf_vtype arr_type;
    uint64_t arr_n;
    uint8_t *arr_data;  /* numeric arrays: raw little-endian elements */
    wstr *arr_str;      /* string arrays: entries point into arr_blob */
    char *arr_blob;
} wkv;

typedef struct wtensor {
    char *name;
    int type;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS];
    const void *data;
    void *owned;
    uint64_t nbytes;
    uint64_t offset;
} wtensor;

struct gguf_writer {
    wkv *kvs;
    size_t n_kv, cap_kv;
    wtensor *ts;
    size_t n_t, cap_t;
};

int gguf_writer_new(gguf_writer **out)
{
    *out = rh_calloc(1, sizeof **out);
    return *out ? RH_OK : RH_ENOMEM;
}

static void wkv_free(wkv *kv)
{
    rh_free(kv->key);
    rh_free(kv->str.p);
    rh_free(kv->arr_data);
    rh_free(kv->arr_str);
    rh_free(kv->arr_blob);
    memset(kv, 0, sizeof *kv);
}

void gguf_writer_free(gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++)
        wkv_free(&w->kvs[i]);
    for (size_t i = 0; i < w->n_t; i++) {
        rh_free(w->ts[i].name);
        rh_free(w->ts[i].owned);
    }
    rh_free(w->kvs);
    rh_free(w->ts);
    rh_free(w);
}

/* ---- metadata ------------------------------------------------------------- */

static int check_key(const char *key)
{
    if (!key)
        return RH_EINVAL;
    size_t n = strlen(key);
    return n == 0 || n > GGUF_MAX_KEY_LEN ? RH_EINVAL : RH_OK;
}

/* Start a new entry in *kv (key copied). */
static int wkv_init(wkv *kv, const char *key, gguf_vtype type)
{
    memset(kv, 0, sizeof *kv);
    if (check_key(key) != RH_OK)
        return RH_EINVAL;
    kv->key = rh_strdup(key);
    kv->type = type;
    return kv->key ? RH_OK : RH_ENOMEM;
}

/* Store a finished entry, replacing one with the same key. On failure the
 * entry is freed. */
static int put_kv(gguf_writer *w, wkv *kv)
{
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kvs[i].key, kv->key) == 0) {
            wkv_free(&w->kvs[i]);
            w->kvs[i] = *kv;
            return RH_OK;
        }
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 16;
        wkv *n = rh_realloc_array(w->kvs, cap, sizeof *n);
        if (!n) {
            wkv_free(kv);
            return RH_ENOMEM;
        }
        w->kvs = n;
        w->cap_kv = cap;
    }
    w->kvs[w->n_kv++] = *kv;
    return RH_OK;
}

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int set_scalar(gguf_writer *w, const char *key, gguf_vtype type, uint64_t bits)
{
    wkv kv;
    int rc = wkv_init(&kv, key, type);
    if (rc != RH_OK) {
        wkv_free(&kv);
        return rc;
    }
    put_le(kv.raw, bits, gguf_vtype_size(type));
    return put_kv(w, &kv);
}

int gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v)
{
    return set_scalar(w, key, GGUF_VT_UINT32, v);
}

int gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v)
{
    return set_scalar(w, key, GGUF_VT_INT32, (uint32_t)v);
}

int gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v)
{
    return set_scalar(w, key, GGUF_VT_UINT64, v);
}

int gguf_writer_set_f32(gguf_writer *w, const char *key, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    return set_scalar(w, key, GGUF_VT_FLOAT32, u);
}

int gguf_writer_set_bool(gguf_writer *w, const char *key, bool v)
{
    return set_scalar(w, key, GGUF_VT_BOOL, v ? 1 : 0);
}

static int set_str_n(gguf_writer *w, const char *key, const char *v, uint64_t len)
{
    wkv kv;
    int rc = wkv_init(&kv, key, GGUF_VT_STRING);
    if (rc == RH_OK && (!v || len >= SIZE_MAX))
        rc = RH_EINVAL;
    if (rc == RH_OK) {
        kv.str.p = rh_malloc((size_t)len + 1);
        if (!kv.str.p)
            rc = RH_ENOMEM;
    }
    if (rc != RH_OK) {
        wkv_free(&kv);
        return rc;
    }
    if (len)
        memcpy(kv.str.p, v, (size_t)len);
    kv.str.p[len] = '\0';
    kv.str.len = len;
    return put_kv(w, &kv);
}

int gguf_writer_set_str(gguf_writer *w, const char *key, const char *v)
{
    return set_str_n(w, key, v, v ? strlen(v) : 0);
}

int gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_vtype elem, const void *data, uint64_t n)
{
    size_t esz = gguf_vtype_size(elem);
    if (esz == 0 || n > SIZE_MAX / esz || (n && !data))
        return RH_EINVAL;
    wkv kv;
    int rc = wkv_init(&kv, key, GGUF_VT_ARRAY);
    if (rc == RH_OK) {
        kv.arr_type = elem;
        kv.arr_n = n;
        kv.arr_data = rh_malloc((size_t)(n * esz));
        if (!kv.arr_data)
            rc = RH_ENOMEM;
    }
    if (rc != RH_OK) {
        wkv_free(&kv);
        return rc;
    }
    if (n)
        memcpy(kv.arr_data, data, (size_t)(n * esz));
    return put_kv(w, &kv);
}

/* String array from n (pointer, length) pairs. */
static int set_arr_strn(gguf_writer *w, const char *key, const gguf_str *v, uint64_t n)
{
    wkv kv;
    size_t total = 0;
    int rc = wkv_init(&kv, key, GGUF_VT_ARRAY);
    if (rc != RH_OK)
        goto out;
    kv.arr_type = GGUF_VT_STRING;
    kv.arr_n = n;
    if (n > SIZE_MAX / sizeof(wstr)) {
        rc = RH_EINVAL;
        goto out;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (!v[i].ptr && v[i].len) {
            rc = RH_EINVAL;
            goto out;
        }
        if (v[i].len > SIZE_MAX - 1 - total) {
            rc = RH_EINVAL;
            goto out;
        }
        total += (size_t)v[i].len + 1;
    }
    kv.arr_str = rh_malloc_array((size_t)n, sizeof(wstr));
    kv.arr_blob = rh_malloc(total);
    if (!kv.arr_str || !kv.arr_blob) {
        rc = RH_ENOMEM;
        goto out;
    }
    char *p = kv.arr_blob;
    for (uint64_t i = 0; i < n; i++) {
        if (v[i].len)
            memcpy(p, v[i].ptr, (size_t)v[i].len);
        p[v[i].len] = '\0';
        kv.arr_str[i].p = p;
        kv.arr_str[i].len = v[i].len;
        p += v[i].len + 1;
    }
    return put_kv(w, &kv);
out:
    wkv_free(&kv);
    return rc;
}

int gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n)
{
    if (n && !v)
        return RH_EINVAL;
    if (n > SIZE_MAX / sizeof(gguf_str))
        return RH_EINVAL;
    gguf_str *s = rh_malloc_array(n ? (size_t)n : 1, sizeof *s);
    if (!s)
        return RH_ENOMEM;
    int rc = RH_OK;
    for (uint64_t i = 0; i < n; i++) {
        if (!v[i]) {
            rc = RH_EINVAL;
            goto out;
        }
        s[i].ptr = v[i];
        s[i].len = strlen(v[i]);
    }
    rc = set_arr_strn(w, key, s, n);
out:
    rh_free(s);
    return rc;
}

int gguf_writer_copy_kv(gguf_writer *w, const gguf_kv *kv)
{
    char *key = NULL;
    int rc;
    if (!kv || !kv->key.ptr || kv->key.len == 0 || kv->key.len > GGUF_MAX_KEY_LEN)
        return RH_EINVAL;
    key = rh_strndup(kv->key.ptr, (size_t)kv->key.len);
    if (!key)
        return RH_ENOMEM;
    if (strlen(key) != kv->key.len) { /* embedded NUL */
        rc = RH_EINVAL;
        goto out;
    }
    switch (kv->type) {
    case GGUF_VT_STRING: rc = set_str_n(w, key, kv->v.str.ptr ? kv->v.str.ptr : "", kv->v.str.len); break;
    case GGUF_VT_ARRAY:
        if (kv->arr_type == GGUF_VT_STRING) {
            if (kv->arr_n && !kv->arr_str) {
                rc = RH_EINVAL;
                break;
            }
            rc = set_arr_strn(w, key, kv->arr_str, kv->arr_n);
        } else {
            rc = gguf_writer_set_arr(w, key, kv->arr_type, kv->arr_data, kv->arr_n);
        }
        break;
    case GGUF_VT_UINT8:
    case GGUF_VT_UINT16:
    case GGUF_VT_UINT32:
    case GGUF_VT_UINT64:
    case GGUF_VT_BOOL: rc = set_scalar(w, key, kv->type, kv->v.u64); break;
    case GGUF_VT_INT8:
    case GGUF_VT_INT16:
    case GGUF_VT_INT32:
    case GGUF_VT_INT64: rc = set_scalar(w, key, kv->type, (uint64_t)kv->v.i64); break;
    case GGUF_VT_FLOAT32: {
        float f = (float)kv->v.f64;
        uint32_t u;
        memcpy(&u, &f, 4);
        rc = set_scalar(w, key, kv->type, u);
        break;
    }
    case GGUF_VT_FLOAT64: {
        uint64_t u;
        memcpy(&u, &kv->v.f64, 8);
        rc = set_scalar(w, key, kv->type, u);
        break;
    }
    default: rc = RH_EINVAL; break;
    }
out:
    rh_free(key);
    return rc;
}

/* ---- tensors -------------------------------------------------------------- */

int gguf_writer_add_tensor(gguf_writer *w, const char *name, int type, uint32_t n_dims, const uint64_t *ne,
                           const void *data, uint64_t nbytes, bool borrow)
{
    const rh_type_info *ti = rh_type_get(type);
    if (!name || !*name || strlen(name) > GGUF_MAX_NAME_LEN || !ti || ti->blck == 0 || n_dims == 0 ||
        n_dims > GGUF_MAX_DIMS || !ne || (nbytes && !data))
        return RH_EINVAL;
    uint64_t nelem = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] == 0 || ne[d] > (uint64_t)INT64_MAX || nelem > (uint64_t)INT64_MAX / ne[d])
            return RH_EINVAL;
        nelem *= ne[d];
    }
    if (ne[0] % ti->blck != 0)
        return RH_EINVAL;
    uint64_t blocks = ne[0] / ti->blck, rows = nelem / ne[0];
    if (blocks > UINT64_MAX / ti->size)
        return RH_EINVAL;
    uint64_t row = blocks * ti->size;
    if (rows > UINT64_MAX / row || row * rows != nbytes || nbytes > SIZE_MAX)
        return RH_EINVAL;
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->ts[i].name, name) == 0)
            return RH_EEXIST;

    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 32;
        wtensor *n = rh_realloc_array(w->ts, cap, sizeof *n);
        if (!n)
            return RH_ENOMEM;
        w->ts = n;
        w->cap_t = cap;
    }
    wtensor t = {.type = type, .n_dims = n_dims, .nbytes = nbytes, .data = data};
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++)
        t.ne[d] = d < n_dims ? ne[d] : 1;
    t.name = rh_strdup(name);
    if (!t.name)
        return RH_ENOMEM;
    if (!borrow && nbytes) {
        t.owned = rh_malloc((size_t)nbytes);
        if (!t.owned) {
            rh_free(t.name);
            return RH_ENOMEM;
        }
        memcpy(t.owned, data, (size_t)nbytes);
        t.data = t.owned;
    }
    w->ts[w->n_t++] = t;
    return RH_OK;
}

/* ---- emitting ------------------------------------------------------------- */

/* Where bytes go: nowhere (counting), a memory image, or a FILE. */
typedef struct sink {
    FILE *fp;
    uint8_t *mem;
    uint64_t pos;
    bool failed;
} sink;

static void emit(sink *s, const void *p, uint64_t n)
{
    if (s->failed || n == 0)
        return;
    if (s->mem)
        memcpy(s->mem + s->pos, p, (size_t)n);
    else if (s->fp && fwrite(p, 1, (size_t)n, s->fp) != n)
        s->failed = true;
    s->pos += n;
}

static void emit_u32(sink *s, uint32_t v)
{
    uint8_t b[4];
    put_le(b, v, 4);
    emit(s, b, 4);
}

static void emit_u64(sink *s, uint64_t v)
{
    uint8_t b[8];
    put_le(b, v, 8);
    emit(s, b, 8);
}

static void emit_str(sink *s, const char *p, uint64_t len)
{
    emit_u64(s, len);
    emit(s, p, len);
}

static void emit_pad(sink *s, uint32_t align)
{
    static const uint8_t zeros[256];
    uint64_t pad = (align - s->pos % align) % align;
    while (pad > 0) {
        uint64_t n = pad < sizeof zeros ? pad : sizeof zeros;
        emit(s, zeros, n);
        pad -= n;
    }
}

static int writer_alignment(const gguf_writer *w, uint32_t *align, rh_error *err)
{
    *align = GGUF_DEFAULT_ALIGNMENT;
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kvs[i].key, "general.alignment") != 0)
            continue;
        if (w->kvs[i].type != GGUF_VT_UINT32)
            return rh_error_set(err, RH_EINVAL, "general.alignment must be a u32");
        uint32_t a = (uint32_t)w->kvs[i].raw[0] | ((uint32_t)w->kvs[i].raw[1] << 8) |
                     ((uint32_t)w->kvs[i].raw[2] << 16) | ((uint32_t)w->kvs[i].raw[3] << 24);
        if (a == 0 || (a & (a - 1)) != 0 || a > GGUF_MAX_ALIGNMENT)
            return rh_error_set(err, RH_EINVAL, "general.alignment %u is not a power of two up to %u", a,
                                GGUF_MAX_ALIGNMENT);
        *align = a;
    }
    return RH_OK;
}

/* Emit the whole file; tensor offsets are (re)computed on the way. */
static void emit_all(gguf_writer *w, sink *s, uint32_t align)
{
    emit(s, "GGUF", 4);
    emit_u32(s, 3);
    emit_u64(s, w->n_t);
    emit_u64(s, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        const wkv *kv = &w->kvs[i];
        emit_str(s, kv->key, strlen(kv->key));
        emit_u32(s, (uint32_t)kv->type);
        if (kv->type == GGUF_VT_STRING) {
            emit_str(s, kv->str.p, kv->str.len);
        } else if (kv->type == GGUF_VT_ARRAY) {
            emit_u32(s, (uint32_t)kv->arr_type);
            emit_u64(s, kv->arr_n);
            if (kv->arr_type == GGUF_VT_STRING)
                for (uint64_t j = 0; j < kv->arr_n; j++)
                    emit_str(s, kv->arr_str[j].p, kv->arr_str[j].len);
            else
                emit(s, kv->arr_data, kv->arr_n * gguf_vtype_size(kv->arr_type));
        } else {
            emit(s, kv->raw, gguf_vtype_size(kv->type));
        }
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        wtensor *t = &w->ts[i];
        t->offset = off;
        off += t->nbytes;
        off += (align - off % align) % align;
        emit_str(s, t->name, strlen(t->name));
        emit_u32(s, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            emit_u64(s, t->ne[d]);
        emit_u32(s, (uint32_t)t->type);
        emit_u64(s, t->offset);
    }
    emit_pad(s, align);
    for (size_t i = 0; i < w->n_t; i++) {
        emit(s, w->ts[i].data, w->ts[i].nbytes);
        emit_pad(s, align);
    }
}

int gguf_writer_write_mem(gguf_writer *w, void **out, size_t *size, rh_error *err)
{
    uint32_t align;
    *out = NULL;
    *size = 0;
    int rc = writer_alignment(w, &align, err);
    if (rc != RH_OK)
        return rc;
    sink count = {0};
    emit_all(w, &count, align);
    if (count.pos > SIZE_MAX)
        return rh_error_set(err, RH_ERANGE, "GGUF image too large for memory");
    uint8_t *mem = rh_malloc((size_t)count.pos);
    if (!mem)
        return rh_error_set(err, RH_ENOMEM, "out of memory building a GGUF image of %llu bytes",
                            (unsigned long long)count.pos);
    sink s = {.mem = mem};
    emit_all(w, &s, align);
    *out = mem;
    *size = (size_t)s.pos;
    return RH_OK;
}

int gguf_writer_write(gguf_writer *w, const char *path, rh_error *err)
{
    uint32_t align;
    char tmp[4096];
    FILE *fp = NULL;
    int rc = writer_alignment(w, &align, err);
    if (rc != RH_OK)
        return rc;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.part", path) >= sizeof tmp)
        return rh_error_set(err, RH_EINVAL, "output path too long");
    fp = fopen(tmp, "wb");
    if (!fp)
        return rh_error_set(err, RH_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    sink s = {.fp = fp};
    emit_all(w, &s, align);
    int e = errno;
    if (s.failed) {
        rc = rh_error_set(err, RH_EIO, "cannot write '%s': %s", tmp, strerror(e));
        fclose(fp);
        goto out;
    }
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
        rc = rh_error_set(err, RH_EIO, "cannot write '%s': %s", tmp, strerror(errno));
        fclose(fp);
        goto out;
    }
    if (fclose(fp) != 0) {
        rc = rh_error_set(err, RH_EIO, "cannot write '%s': %s", tmp, strerror(errno));
        goto out;
    }
    if (rename(tmp, path) != 0) {
        rc = rh_error_set(err, RH_EIO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
        goto out;
    }
    return RH_OK;
out:
    unlink(tmp);
    return rc;
}

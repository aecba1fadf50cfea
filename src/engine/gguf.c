/*
 * gguf.c - the GGUF reader: maps a file read-only and validates all of it.
 *
 * The file is hostile input. Parsing goes through a bounds-checked cursor;
 * every count is checked against the bytes left before anything is
 * allocated for it, every size is computed with overflow checks, and every
 * tensor is checked for a known type, sane shape, alignment, lying inside
 * the file and not overlapping another. After gguf_open() succeeds, callers
 * may trust every field of gguf_kv and gguf_tensor.
 *
 * Layout (little-endian): "GGUF", u32 version, u64 n_tensors, u64 n_kv,
 * n_kv x (string key, u32 type, value), n_tensors x (string name, u32 n_dims,
 * u64 ne[n_dims], u32 type, u64 offset), padding to the alignment, data.
 * A string is u64 length + bytes; an array is u32 element type, u64 count,
 * elements.
 */
#include "engine/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "engine/quant.h"

struct gguf_file {
    const uint8_t *base;
    uint64_t size;
    bool mapped;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_off;
    size_t n_kv;
    gguf_kv *kvs;
    const gguf_kv **kv_sorted; /* by key, for lookup */
    size_t n_tensors;
    gguf_tensor *tensors;
    const gguf_tensor **t_sorted; /* by name, for lookup */
};

/* Smallest possible encodings, used to bound counts by the file size. */
#define MIN_KV_BYTES 13u     /* key length (8) + type (4) + 1-byte value */
#define MIN_TENSOR_BYTES 32u /* name length (8) + n_dims (4) + ne (8) + type (4) + offset (8) */

/* ---- small helpers ------------------------------------------------------ */

static const char *const vtype_names[GGUF_VT_COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
};

const char *gguf_vtype_name(gguf_vtype t)
{
    if ((unsigned)t >= GGUF_VT_COUNT)
        return "?";
    return vtype_names[t];
}

size_t gguf_vtype_size(gguf_vtype t)
{
    switch (t) {
    case GGUF_VT_UINT8:
    case GGUF_VT_INT8:
    case GGUF_VT_BOOL: return 1;
    case GGUF_VT_UINT16:
    case GGUF_VT_INT16: return 2;
    case GGUF_VT_UINT32:
    case GGUF_VT_INT32:
    case GGUF_VT_FLOAT32: return 4;
    case GGUF_VT_UINT64:
    case GGUF_VT_INT64:
    case GGUF_VT_FLOAT64: return 8;
    default: return 0;
    }
}

static bool vtype_is_signed(gguf_vtype t)
{
    return t == GGUF_VT_INT8 || t == GGUF_VT_INT16 || t == GGUF_VT_INT32 || t == GGUF_VT_INT64;
}

static bool vtype_is_unsigned(gguf_vtype t)
{
    return t == GGUF_VT_UINT8 || t == GGUF_VT_UINT16 || t == GGUF_VT_UINT32 || t == GGUF_VT_UINT64;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32); }

/* Decode one scalar of type t at p into a kv value (t is a numeric type). */
static void decode_scalar(gguf_vtype t, const uint8_t *p, gguf_kv *kv)
{
    switch (t) {
    case GGUF_VT_UINT8: kv->v.u64 = p[0]; break;
    case GGUF_VT_INT8: kv->v.i64 = (int8_t)p[0]; break;
    case GGUF_VT_BOOL: kv->v.u64 = p[0] != 0; break;
    case GGUF_VT_UINT16: kv->v.u64 = le16(p); break;
    case GGUF_VT_INT16: kv->v.i64 = (int16_t)le16(p); break;
    case GGUF_VT_UINT32: kv->v.u64 = le32(p); break;
    case GGUF_VT_INT32: kv->v.i64 = (int32_t)le32(p); break;
    case GGUF_VT_UINT64: kv->v.u64 = le64(p); break;
    case GGUF_VT_INT64: kv->v.i64 = (int64_t)le64(p); break;
    case GGUF_VT_FLOAT32: {
        uint32_t u = le32(p);
        float f;
        memcpy(&f, &u, 4);
        kv->v.f64 = f;
        break;
    }
    case GGUF_VT_FLOAT64: {
        uint64_t u = le64(p);
        memcpy(&kv->v.f64, &u, 8);
        break;
    }
    default: break;
    }
}

/* Copy s into buf for an error message: printable ASCII only, shortened. */
static const char *show(gguf_str s, char *buf, size_t cap)
{
    size_t n = 0, max = cap - 4;
    for (uint64_t i = 0; i < s.len && n < cap - 1; i++) {
        if (n == max && s.len - i > 3) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        unsigned char c = (unsigned char)s.ptr[i];
        buf[n++] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
    }
    buf[n] = '\0';
    return buf;
}

static int str_cmp(gguf_str a, gguf_str b)
{
    uint64_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, (size_t)n) : 0;
    if (c)
        return c;
    return (a.len > b.len) - (a.len < b.len);
}

bool gguf_str_eq(gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

/* ---- the cursor ----------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p;
    uint64_t size;
    uint64_t pos;
} rd;

static uint64_t rd_left(const rd *r) { return r->size - r->pos; }

static bool rd_u32(rd *r, uint32_t *v)
{
    if (rd_left(r) < 4)
        return false;
    *v = le32(r->p + r->pos);
    r->pos += 4;
    return true;
}

static bool rd_u64(rd *r, uint64_t *v)
{
    if (rd_left(r) < 8)
        return false;
    *v = le64(r->p + r->pos);
    r->pos += 8;
    return true;
}

/* A string of at most max bytes. Returns RH_OK or RH_EFORMAT with a message
 * about `what` (e.g. "metadata entry 3"), and element `idx` of it unless idx
 * is NO_INDEX (the message is only formatted when something is wrong). */
#define NO_INDEX UINT64_MAX
static int rd_str(rd *r, gguf_str *s, uint64_t max, const char *what, uint64_t idx, rh_error *err)
{
    char el[40] = "";
    uint64_t len;
    bool ok = rd_u64(r, &len);
    if (ok && len <= rd_left(r) && len <= max) {
        s->ptr = (const char *)(r->p + r->pos);
        s->len = len;
        r->pos += len;
        return RH_OK;
    }
    if (idx != NO_INDEX)
        snprintf(el, sizeof el, ": element %llu", (unsigned long long)idx);
    if (!ok)
        return rh_error_set(err, RH_EFORMAT, "%s%s: string length cut off by the end of the file (at byte %llu)",
                            what, el, (unsigned long long)r->pos);
    if (len > rd_left(r))
        return rh_error_set(err, RH_EFORMAT, "%s%s: string length %llu exceeds the %llu bytes left in the file",
                            what, el, (unsigned long long)len, (unsigned long long)rd_left(r));
    return rh_error_set(err, RH_EFORMAT, "%s%s: string length %llu exceeds the limit of %llu", what, el,
                        (unsigned long long)len, (unsigned long long)max);
}

/* ---- metadata ------------------------------------------------------------- */

static int parse_value(rd *r, gguf_kv *kv, const char *ctx, rh_error *err)
{
    if (kv->type == GGUF_VT_STRING)
        return rd_str(r, &kv->v.str, UINT64_MAX, ctx, NO_INDEX, err);
    if (kv->type != GGUF_VT_ARRAY) {
        size_t sz = gguf_vtype_size(kv->type);
        if (rd_left(r) < sz)
            return rh_error_set(err, RH_EFORMAT, "%s: %s value cut off by the end of the file", ctx,
                                gguf_vtype_name(kv->type));
        decode_scalar(kv->type, r->p + r->pos, kv);
        r->pos += sz;
        return RH_OK;
    }

    uint32_t et;
    uint64_t n;
    if (!rd_u32(r, &et) || !rd_u64(r, &n))
        return rh_error_set(err, RH_EFORMAT, "%s: array header cut off by the end of the file", ctx);
    if (et >= GGUF_VT_COUNT)
        return rh_error_set(err, RH_EFORMAT, "%s: unknown array element type %u", ctx, et);
    if (et == GGUF_VT_ARRAY)
        return rh_error_set(err, RH_EFORMAT, "%s: nested arrays are not supported", ctx);
    kv->arr_type = (gguf_vtype)et;
    kv->arr_n = n;
    if (et == GGUF_VT_STRING) {
        /* each element needs at least its 8-byte length */
        if (n > rd_left(r) / 8)
            return rh_error_set(err, RH_EFORMAT,
                                "%s: array of %llu strings cannot fit in the %llu bytes left in the file",
                                ctx, (unsigned long long)n, (unsigned long long)rd_left(r));
        if (n == 0)
            return RH_OK;
        gguf_str *strs = rh_malloc_array((size_t)n, sizeof *strs);
        if (!strs)
            return rh_error_set(err, RH_ENOMEM, "out of memory reading %s (%llu strings)", ctx,
                                (unsigned long long)n);
        kv->arr_str = strs;
        for (uint64_t i = 0; i < n; i++) {
            int rc = rd_str(r, &strs[i], UINT64_MAX, ctx, i, err);
            if (rc != RH_OK)
                return rc;
        }
        return RH_OK;
    }
    size_t esz = gguf_vtype_size(kv->arr_type);
    if (n > rd_left(r) / esz)
        return rh_error_set(err, RH_EFORMAT,
                            "%s: array of %llu %s values exceeds the %llu bytes left in the file", ctx,
                            (unsigned long long)n, gguf_vtype_name(kv->arr_type),
                            (unsigned long long)rd_left(r));
    kv->arr_data = r->p + r->pos;
    r->pos += n * esz;
    return RH_OK;
}

static int cmp_kv_ptr(const void *a, const void *b)
{
    const gguf_kv *x = *(const gguf_kv *const *)a, *y = *(const gguf_kv *const *)b;
    return str_cmp(x->key, y->key);
}

static int cmp_tensor_name(const void *a, const void *b)
{
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    return str_cmp(x->name, y->name);
}

static int cmp_tensor_offset(const void *a, const void *b)
{
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

static int parse_kvs(gguf_file *f, rd *r, rh_error *err)
{
    char ctx[160], sbuf[80];
    for (size_t i = 0; i < f->n_kv; i++) {
        gguf_kv *kv = &f->kvs[i];
        snprintf(ctx, sizeof ctx, "metadata entry %zu", i);
        int rc = rd_str(r, &kv->key, GGUF_MAX_KEY_LEN, ctx, NO_INDEX, err);
        if (rc != RH_OK)
            return rc;
        if (kv->key.len == 0)
            return rh_error_set(err, RH_EFORMAT, "metadata entry %zu has an empty key", i);
        if (memchr(kv->key.ptr, '\0', (size_t)kv->key.len))
            return rh_error_set(err, RH_EFORMAT, "metadata entry %zu: key contains a NUL byte", i);
        snprintf(ctx, sizeof ctx, "metadata key '%s'", show(kv->key, sbuf, sizeof sbuf));
        uint32_t t;
        if (!rd_u32(r, &t))
            return rh_error_set(err, RH_EFORMAT, "%s: value type cut off by the end of the file", ctx);
        if (t >= GGUF_VT_COUNT)
            return rh_error_set(err, RH_EFORMAT, "%s: unknown value type %u", ctx, t);
        kv->type = (gguf_vtype)t;
        rc = parse_value(r, kv, ctx, err);
        if (rc != RH_OK)
            return rc;
        f->kv_sorted[i] = kv;
    }
    if (f->n_kv > 1)
        qsort(f->kv_sorted, f->n_kv, sizeof *f->kv_sorted, cmp_kv_ptr);
    for (size_t i = 1; i < f->n_kv; i++)
        if (str_cmp(f->kv_sorted[i - 1]->key, f->kv_sorted[i]->key) == 0)
            return rh_error_set(err, RH_EFORMAT, "duplicate metadata key '%s'",
                                show(f->kv_sorted[i]->key, sbuf, sizeof sbuf));

    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *al = gguf_find_kv(f, "general.alignment");
    if (al) {
        if (al->type != GGUF_VT_UINT32)
            return rh_error_set(err, RH_EFORMAT, "general.alignment must be a u32, not a %s",
                                gguf_vtype_name(al->type));
        uint64_t a = al->v.u64;
        if (a == 0 || (a & (a - 1)) != 0)
            return rh_error_set(err, RH_EFORMAT, "general.alignment %llu is not a power of two",
                                (unsigned long long)a);
        if (a > GGUF_MAX_ALIGNMENT)
            return rh_error_set(err, RH_EFORMAT, "general.alignment %llu exceeds the limit of %u",
                                (unsigned long long)a, GGUF_MAX_ALIGNMENT);
        f->alignment = (uint32_t)a;
    }
    return RH_OK;
}

/* ---- tensors -------------------------------------------------------------- */

static int parse_tensor(gguf_file *f, rd *r, size_t i, rh_error *err)
{
    gguf_tensor *t = &f->tensors[i];
    char ctx[160], sbuf[80];
    snprintf(ctx, sizeof ctx, "tensor %zu: name", i);
    int rc = rd_str(r, &t->name, GGUF_MAX_NAME_LEN, ctx, NO_INDEX, err);
    if (rc != RH_OK)
        return rc;
    if (t->name.len == 0)
        return rh_error_set(err, RH_EFORMAT, "tensor %zu has an empty name", i);
    if (memchr(t->name.ptr, '\0', (size_t)t->name.len))
        return rh_error_set(err, RH_EFORMAT, "tensor %zu: name contains a NUL byte", i);
    snprintf(ctx, sizeof ctx, "tensor '%s'", show(t->name, sbuf, sizeof sbuf));

    uint32_t nd;
    if (!rd_u32(r, &nd))
        return rh_error_set(err, RH_EFORMAT, "%s: dimension count cut off by the end of the file", ctx);
    if (nd == 0 || nd > GGUF_MAX_DIMS)
        return rh_error_set(err, RH_EFORMAT, "%s: %u dimensions (must be 1 to %d)", ctx, nd, GGUF_MAX_DIMS);
    t->n_dims = nd;
    uint64_t nelem = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d >= nd)
            continue;
        if (!rd_u64(r, &t->ne[d]))
            return rh_error_set(err, RH_EFORMAT, "%s: shape cut off by the end of the file", ctx);
        if (t->ne[d] == 0 || t->ne[d] > (uint64_t)INT64_MAX)
            return rh_error_set(err, RH_EFORMAT, "%s: dimension %u has invalid size %llu", ctx, d,
                                (unsigned long long)t->ne[d]);
        if (nelem > (uint64_t)INT64_MAX / t->ne[d])
            return rh_error_set(err, RH_EFORMAT, "%s: the number of elements overflows 64 bits", ctx);
        nelem *= t->ne[d];
    }

    uint32_t type;
    if (!rd_u32(r, &type) || !rd_u64(r, &t->offset))
        return rh_error_set(err, RH_EFORMAT, "%s: type/offset cut off by the end of the file", ctx);
    const rh_type_info *ti = type < RH_TYPE_COUNT ? rh_type_get((int)type) : NULL;
    if (!ti || ti->blck == 0 || ti->size == 0)
        return rh_error_set(err, RH_EUNSUPPORTED, "%s: unknown tensor type %u", ctx, type);
    t->type = (int)type;
    if (t->ne[0] % ti->blck != 0)
        return rh_error_set(err, RH_EFORMAT, "%s: row length %llu is not a multiple of the %s block size %u",
                            ctx, (unsigned long long)t->ne[0], ti->name, ti->blck);
    uint64_t blocks = t->ne[0] / ti->blck, rows = nelem / t->ne[0];
    if (blocks > UINT64_MAX / ti->size)
        return rh_error_set(err, RH_EFORMAT, "%s: row size overflows 64 bits", ctx);
    uint64_t row = blocks * ti->size;
    if (rows > UINT64_MAX / row)
        return rh_error_set(err, RH_EFORMAT, "%s: data size overflows 64 bits", ctx);
    t->nbytes = row * rows;
    if (t->offset % f->alignment != 0)
        return rh_error_set(err, RH_EFORMAT, "%s: data offset %llu is not a multiple of the alignment %u",
                            ctx, (unsigned long long)t->offset, f->alignment);
    f->t_sorted[i] = t;
    return RH_OK;
}

static int check_tensor_data(gguf_file *f, rh_error *err)
{
    char sbuf[80], sbuf2[80];
    int rc = RH_OK;
    const gguf_tensor **by_off = NULL;
    if (f->n_tensors == 0)
        return RH_OK;
    if (f->data_off > f->size)
        return rh_error_set(err, RH_EFORMAT,
                            "the tensor data section would start at byte %llu, beyond the end of the file (%llu bytes)",
                            (unsigned long long)f->data_off, (unsigned long long)f->size);
    uint64_t avail = f->size - f->data_off;
    for (size_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        if (t->offset > avail || t->nbytes > avail - t->offset)
            return rh_error_set(err, RH_EFORMAT,
                                "tensor '%s': data ends beyond the end of the file "
                                "(offset %llu + %llu bytes > %llu bytes of tensor data)",
                                show(t->name, sbuf, sizeof sbuf), (unsigned long long)t->offset,
                                (unsigned long long)t->nbytes, (unsigned long long)avail);
        t->data = f->base + f->data_off + t->offset;
    }

    if (f->n_tensors > 1)
        qsort(f->t_sorted, f->n_tensors, sizeof *f->t_sorted, cmp_tensor_name);
    for (size_t i = 1; i < f->n_tensors; i++)
        if (str_cmp(f->t_sorted[i - 1]->name, f->t_sorted[i]->name) == 0)
            return rh_error_set(err, RH_EFORMAT, "duplicate tensor name '%s'",
                                show(f->t_sorted[i]->name, sbuf, sizeof sbuf));

    by_off = rh_malloc_array(f->n_tensors, sizeof *by_off);
    if (!by_off)
        return rh_error_set(err, RH_ENOMEM, "out of memory checking %zu tensors", f->n_tensors);
    memcpy(by_off, f->t_sorted, f->n_tensors * sizeof *by_off);
    qsort(by_off, f->n_tensors, sizeof *by_off, cmp_tensor_offset);
    for (size_t i = 1; i < f->n_tensors; i++) {
        const gguf_tensor *a = by_off[i - 1], *b = by_off[i];
        if (a->offset + a->nbytes > b->offset) { /* both within the file: no overflow */
            rc = rh_error_set(err, RH_EFORMAT, "tensors '%s' and '%s' overlap (bytes %llu-%llu and %llu-%llu)",
                              show(a->name, sbuf, sizeof sbuf), show(b->name, sbuf2, sizeof sbuf2),
                              (unsigned long long)a->offset, (unsigned long long)(a->offset + a->nbytes),
                              (unsigned long long)b->offset, (unsigned long long)(b->offset + b->nbytes));
            goto out;
        }
    }
out:
    rh_free(by_off);
    return rc;
}

/* ---- open / close --------------------------------------------------------- */

static int parse(gguf_file *f, rh_error *err)
{
    rd r = {f->base, f->size, 0};
    int rc;
    if (f->size < 4)
        return rh_error_set(err, RH_EFORMAT, "not a GGUF file: only %llu bytes", (unsigned long long)f->size);
    if (memcmp(f->base, "GGUF", 4) != 0)
        return rh_error_set(err, RH_EFORMAT,
                            "not a GGUF file: bad magic bytes %02x %02x %02x %02x (expected 'GGUF')",
                            f->base[0], f->base[1], f->base[2], f->base[3]);
    r.pos = 4;
    uint32_t version;
    if (!rd_u32(&r, &version))
        return rh_error_set(err, RH_EFORMAT, "GGUF header cut off after the magic bytes");
    if (version == 0x02000000u || version == 0x03000000u)
        return rh_error_set(err, RH_EUNSUPPORTED, "big-endian GGUF files are not supported");
    if (version != 2 && version != 3)
        return rh_error_set(err, RH_EUNSUPPORTED, "GGUF version %u is not supported (only versions 2 and 3)",
                            version);
    f->version = version;
    uint64_t n_tensors, n_kv;
    if (!rd_u64(&r, &n_tensors) || !rd_u64(&r, &n_kv))
        return rh_error_set(err, RH_EFORMAT, "GGUF header cut off (file has %llu bytes)",
                            (unsigned long long)f->size);
    uint64_t left = rd_left(&r);
    if (n_kv > GGUF_MAX_KV || n_kv > left / MIN_KV_BYTES)
        return rh_error_set(err, RH_EFORMAT, "metadata count %llu is impossible for a file of %llu bytes",
                            (unsigned long long)n_kv, (unsigned long long)f->size);
    left -= n_kv * MIN_KV_BYTES;
    if (n_tensors > GGUF_MAX_TENSORS || n_tensors > left / MIN_TENSOR_BYTES)
        return rh_error_set(err, RH_EFORMAT, "tensor count %llu is impossible for a file of %llu bytes",
                            (unsigned long long)n_tensors, (unsigned long long)f->size);
    f->n_kv = (size_t)n_kv;
    f->n_tensors = (size_t)n_tensors;

    f->kvs = rh_calloc(f->n_kv, sizeof *f->kvs);
    f->kv_sorted = rh_calloc(f->n_kv, sizeof *f->kv_sorted);
    f->tensors = rh_calloc(f->n_tensors, sizeof *f->tensors);
    f->t_sorted = rh_calloc(f->n_tensors, sizeof *f->t_sorted);
    if (!f->kvs || !f->kv_sorted || !f->tensors || !f->t_sorted) {
        /* parts of a failed open are freed by gguf_close, which must not walk
         * kvs it has no array for */
        if (!f->kvs)
            f->n_kv = 0;
        return rh_error_set(err, RH_ENOMEM, "out of memory reading the GGUF header");
    }

    if ((rc = parse_kvs(f, &r, err)) != RH_OK)
        return rc;
    for (size_t i = 0; i < f->n_tensors; i++)
        if ((rc = parse_tensor(f, &r, i, err)) != RH_OK)
            return rc;
    uint64_t pad = (f->alignment - r.pos % f->alignment) % f->alignment;
    f->data_off = r.pos + pad; /* r.pos <= size and pad < 2^32: no overflow */
    return check_tensor_data(f, err);
}

static int open_common(const uint8_t *base, uint64_t size, bool mapped, gguf_file **out, rh_error *err)
{
    gguf_file *f = rh_calloc(1, sizeof *f);
    if (!f) {
        if (mapped)
            munmap((void *)base, (size_t)size);
        return rh_error_set(err, RH_ENOMEM, "out of memory opening a GGUF file");
    }
    f->base = base;
    f->size = size;
    f->mapped = mapped;
    int rc = parse(f, err);
    if (rc != RH_OK) {
        gguf_close(f);
        return rc;
    }
    *out = f;
    return RH_OK;
}

int gguf_open_mem(const void *data, size_t size, gguf_file **out, rh_error *err)
{
    *out = NULL;
    if (!data && size)
        return rh_error_set(err, RH_EINVAL, "gguf_open_mem: no data");
    return open_common(data, size, false, out, err);
}

int gguf_open(const char *path, gguf_file **out, rh_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rh_error_set(err, errno == ENOENT ? RH_ENOTFOUND : RH_EIO, "cannot open '%s': %s", path,
                            strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return rh_error_set(err, RH_EIO, "cannot read '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return rh_error_set(err, RH_EINVAL, "'%s' is not a regular file", path);
    }
    if (st.st_size < 24) {
        close(fd);
        return rh_error_set(err, RH_EFORMAT, "'%s' is not a GGUF file: only %lld bytes", path,
                            (long long)st.st_size);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return rh_error_set(err, RH_ERANGE, "'%s' is too large to map", path);
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED)
        return rh_error_set(err, RH_EIO, "cannot map '%s': %s", path, strerror(e));
    rh_error tmp;
    rh_error_clear(&tmp);
    int rc = open_common(m, (uint64_t)st.st_size, true, out, &tmp);
    if (rc != RH_OK)
        rh_error_set(err, rc, "%s: %s", path, tmp.msg);
    return rc;
}

void gguf_close(gguf_file *f)
{
    if (!f)
        return;
    if (f->kvs)
        for (size_t i = 0; i < f->n_kv; i++)
            rh_free((void *)f->kvs[i].arr_str);
    rh_free(f->kvs);
    rh_free(f->kv_sorted);
    rh_free(f->tensors);
    rh_free(f->t_sorted);
    if (f->mapped)
        munmap((void *)f->base, (size_t)f->size);
    rh_free(f);
}

/* ---- accessors ------------------------------------------------------------ */

uint32_t gguf_version(const gguf_file *f) { return f->version; }
uint64_t gguf_file_size(const gguf_file *f) { return f->size; }
uint32_t gguf_alignment(const gguf_file *f) { return f->alignment; }
uint64_t gguf_data_offset(const gguf_file *f) { return f->data_off; }
size_t gguf_kv_count(const gguf_file *f) { return f->n_kv; }
size_t gguf_tensor_count(const gguf_file *f) { return f->n_tensors; }

const gguf_kv *gguf_kv_at(const gguf_file *f, size_t i) { return i < f->n_kv ? &f->kvs[i] : NULL; }

const gguf_tensor *gguf_tensor_at(const gguf_file *f, size_t i)
{
    return i < f->n_tensors ? &f->tensors[i] : NULL;
}

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key)
{
    gguf_str k = {key, strlen(key)};
    size_t lo = 0, hi = f->n_kv;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = str_cmp(f->kv_sorted[mid]->key, k);
        if (c == 0)
            return f->kv_sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name)
{
    gguf_str k = {name, strlen(name)};
    size_t lo = 0, hi = f->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = str_cmp(f->t_sorted[mid]->name, k);
        if (c == 0)
            return f->t_sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Integer value of kv as signed/unsigned range: returns false if not an integer. */
static bool kv_int(const gguf_kv *kv, bool *neg, uint64_t *mag)
{
    if (vtype_is_unsigned(kv->type)) {
        *neg = false;
        *mag = kv->v.u64;
        return true;
    }
    if (vtype_is_signed(kv->type)) {
        *neg = kv->v.i64 < 0;
        *mag = *neg ? (uint64_t)(-(kv->v.i64 + 1)) + 1 : (uint64_t)kv->v.i64;
        return true;
    }
    return false;
}

int gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out)
{
    const gguf_kv *kv = gguf_find_kv(f, key);
    bool neg;
    uint64_t mag;
    if (!kv)
        return RH_ENOTFOUND;
    if (!kv_int(kv, &neg, &mag) || neg)
        return RH_EFORMAT;
    *out = mag;
    return RH_OK;
}

int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out)
{
    uint64_t v;
    int rc = gguf_get_u64(f, key, &v);
    if (rc != RH_OK)
        return rc;
    if (v > UINT32_MAX)
        return RH_EFORMAT;
    *out = (uint32_t)v;
    return RH_OK;
}

int gguf_get_i32(const gguf_file *f, const char *key, int32_t *out)
{
    const gguf_kv *kv = gguf_find_kv(f, key);
    bool neg;
    uint64_t mag;
    if (!kv)
        return RH_ENOTFOUND;
    if (!kv_int(kv, &neg, &mag))
        return RH_EFORMAT;
    if (neg ? mag > (uint64_t)INT32_MAX + 1 : mag > INT32_MAX)
        return RH_EFORMAT;
    *out = neg ? (int32_t)(-(int64_t)mag) : (int32_t)mag;
    return RH_OK;
}

int gguf_get_f32(const gguf_file *f, const char *key, float *out)
{
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv)
        return RH_ENOTFOUND;
    if (kv->type != GGUF_VT_FLOAT32 && kv->type != GGUF_VT_FLOAT64)
        return RH_EFORMAT;
    *out = (float)kv->v.f64;
    return RH_OK;
}

int gguf_get_bool(const gguf_file *f, const char *key, bool *out)
{
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv)
        return RH_ENOTFOUND;
    if (kv->type != GGUF_VT_BOOL)
        return RH_EFORMAT;
    *out = kv->v.u64 != 0;
    return RH_OK;
}

int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out)
{
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv)
        return RH_ENOTFOUND;
    if (kv->type != GGUF_VT_STRING)
        return RH_EFORMAT;
    *out = kv->v.str;
    return RH_OK;
}

int gguf_get_arr(const gguf_file *f, const char *key, gguf_vtype elem, const gguf_kv **out)
{
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv)
        return RH_ENOTFOUND;
    if (kv->type != GGUF_VT_ARRAY || kv->arr_type != elem)
        return RH_EFORMAT;
    *out = kv;
    return RH_OK;
}

/* ---- array elements ------------------------------------------------------- */

static const uint8_t *arr_elem(const gguf_kv *kv, uint64_t i)
{
    return (const uint8_t *)kv->arr_data + i * gguf_vtype_size(kv->arr_type);
}

/* Element i of an array of type t, or NULL (wrong type, out of range). */
static const uint8_t *arr_at(const gguf_kv *kv, gguf_vtype t, uint64_t i)
{
    if (kv->type != GGUF_VT_ARRAY || kv->arr_type != t || i >= kv->arr_n)
        return NULL;
    return arr_elem(kv, i);
}

float gguf_arr_f32(const gguf_kv *kv, uint64_t i)
{
    const uint8_t *p = arr_at(kv, GGUF_VT_FLOAT32, i);
    uint32_t u = p ? le32(p) : 0;
    float v;
    memcpy(&v, &u, 4);
    return v;
}

int32_t gguf_arr_i32(const gguf_kv *kv, uint64_t i)
{
    const uint8_t *p = arr_at(kv, GGUF_VT_INT32, i);
    return p ? (int32_t)le32(p) : 0;
}

uint32_t gguf_arr_u32(const gguf_kv *kv, uint64_t i)
{
    const uint8_t *p = arr_at(kv, GGUF_VT_UINT32, i);
    return p ? le32(p) : 0;
}

int64_t gguf_arr_int(const gguf_kv *kv, uint64_t i)
{
    gguf_kv tmp = {.type = kv->arr_type};
    if (kv->type != GGUF_VT_ARRAY || gguf_vtype_size(kv->arr_type) == 0 || i >= kv->arr_n)
        return 0;
    decode_scalar(kv->arr_type, arr_elem(kv, i), &tmp);
    if (vtype_is_signed(kv->arr_type))
        return tmp.v.i64;
    if (kv->arr_type == GGUF_VT_FLOAT32 || kv->arr_type == GGUF_VT_FLOAT64) {
        double d = tmp.v.f64;
        if (!(d > -9.2e18 && d < 9.2e18))
            return 0;
        return (int64_t)d;
    }
    return (int64_t)tmp.v.u64;
}

double gguf_arr_num(const gguf_kv *kv, uint64_t i)
{
    gguf_kv tmp = {.type = kv->arr_type};
    if (kv->type != GGUF_VT_ARRAY || gguf_vtype_size(kv->arr_type) == 0 || i >= kv->arr_n)
        return 0;
    decode_scalar(kv->arr_type, arr_elem(kv, i), &tmp);
    if (vtype_is_signed(kv->arr_type))
        return (double)tmp.v.i64;
    if (kv->arr_type == GGUF_VT_FLOAT32 || kv->arr_type == GGUF_VT_FLOAT64)
        return tmp.v.f64;
    return (double)tmp.v.u64;
}

/*
 * gguf.h - reading (and writing) GGUF model files.
 *
 * A GGUF file is mapped read-only and treated as hostile: every count,
 * length, offset, dimension and type is checked against the file size and
 * sane limits before use; a bad file yields RH_EFORMAT (or RH_EUNSUPPORTED)
 * with a message naming what is wrong, never a crash. Versions 2 and 3.
 *
 * Ownership: all pointers handed out (strings, tensor data, arrays) point
 * into the mapping or into the gguf_file and stay valid until gguf_close().
 * Strings from the file (gguf_str) are NOT NUL-terminated.
 */
#ifndef RH_ENGINE_GGUF_H
#define RH_ENGINE_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Metadata value types, numbered as in the GGUF specification. */
typedef enum gguf_vtype {
    GGUF_VT_UINT8 = 0,
    GGUF_VT_INT8 = 1,
    GGUF_VT_UINT16 = 2,
    GGUF_VT_INT16 = 3,
    GGUF_VT_UINT32 = 4,
    GGUF_VT_INT32 = 5,
    GGUF_VT_FLOAT32 = 6,
    GGUF_VT_BOOL = 7,
    GGUF_VT_STRING = 8,
    GGUF_VT_ARRAY = 9,
    GGUF_VT_UINT64 = 10,
    GGUF_VT_INT64 = 11,
    GGUF_VT_FLOAT64 = 12,
    GGUF_VT_COUNT
} gguf_vtype;

#define GGUF_MAX_DIMS 4

typedef struct gguf_str {
    const char *ptr; /* not NUL-terminated */
    uint64_t len;
} gguf_str;

typedef struct gguf_kv {
    gguf_str key;
    gguf_vtype type;
    /* scalars (type != ARRAY): the decoded value */
    union {
        uint64_t u64; /* any unsigned integer type, and bool (0/1) */
        int64_t i64;  /* any signed integer type */
        double f64;   /* FLOAT32, FLOAT64 */
        gguf_str str; /* STRING */
    } v;
    /* arrays (type == ARRAY) */
    gguf_vtype arr_type;
    uint64_t arr_n;
    const void *arr_data;   /* first element in the mapping (numeric arrays) */
    const gguf_str *arr_str; /* element strings (string arrays), arr_n entries */
} gguf_kv;

typedef struct gguf_tensor {
    gguf_str name;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the innermost (row length); unused = 1 */
    int type;                   /* an rh_type (see quant.h) */
    uint64_t offset;            /* relative to the data section */
    uint64_t nbytes;
    const void *data;           /* in the mapping, aligned as the file says */
} gguf_tensor;

typedef struct gguf_file gguf_file;

/* Open and validate a file (mmap, read-only). */
int gguf_open(const char *path, gguf_file **out, rh_error *err);
/* Same, over a caller-owned buffer that must outlive the gguf_file (tests, fuzzing). */
int gguf_open_mem(const void *data, size_t size, gguf_file **out, rh_error *err);
void gguf_close(gguf_file *f);

uint32_t gguf_version(const gguf_file *f);
uint64_t gguf_file_size(const gguf_file *f);
uint32_t gguf_alignment(const gguf_file *f);

/* Metadata */
size_t gguf_kv_count(const gguf_file *f);
const gguf_kv *gguf_kv_at(const gguf_file *f, size_t i);
const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key); /* NULL if absent */

/* Typed getters: RH_OK, RH_ENOTFOUND (absent; *out untouched, so callers can
 * preset a default), RH_EFORMAT (wrong type, or integer out of range). The
 * integer getters accept any integer type whose value fits. */
int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out);
int gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out);
int gguf_get_i32(const gguf_file *f, const char *key, int32_t *out);
int gguf_get_f32(const gguf_file *f, const char *key, float *out);
int gguf_get_bool(const gguf_file *f, const char *key, bool *out);
int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out);
/* Array of the given element type (RH_EFORMAT if the element type differs). */
int gguf_get_arr(const gguf_file *f, const char *key, gguf_vtype elem, const gguf_kv **out);

/* Compare a gguf_str with a C string. */
bool gguf_str_eq(gguf_str s, const char *c);

/* Name of a value type ("u32", "string", "array", ...; "?" if invalid). */
const char *gguf_vtype_name(gguf_vtype t);
/* Size in bytes of one element of a scalar numeric type, 0 for string/array. */
size_t gguf_vtype_size(gguf_vtype t);

/* Elements of numeric arrays. arr_data points into the file and may be
 * unaligned: read elements with these (or memcpy), never by casting. An
 * index out of range or a different element type gives 0. */
float gguf_arr_f32(const gguf_kv *kv, uint64_t i);   /* FLOAT32 arrays */
int32_t gguf_arr_i32(const gguf_kv *kv, uint64_t i); /* INT32 arrays */
uint32_t gguf_arr_u32(const gguf_kv *kv, uint64_t i); /* UINT32 arrays */
/* Any numeric element type, converted (bool -> 0/1; floats truncated, 0 if
 * out of range; u64 above INT64_MAX wraps, cast back to uint64_t). */
int64_t gguf_arr_int(const gguf_kv *kv, uint64_t i);
double gguf_arr_num(const gguf_kv *kv, uint64_t i);

/* Limits the reader enforces (beyond "fits in the file"). */
#define GGUF_MAX_KEY_LEN 65535u      /* metadata key length */
#define GGUF_MAX_NAME_LEN 1024u      /* tensor name length */
#define GGUF_MAX_KV 1000000u         /* metadata entries */
#define GGUF_MAX_TENSORS 10000000u   /* tensors */
#define GGUF_DEFAULT_ALIGNMENT 32u
#define GGUF_MAX_ALIGNMENT (1u << 20) /* general.alignment: power of two up to this */

/* Start of the tensor data section (file offset). */
uint64_t gguf_data_offset(const gguf_file *f);

/* Tensors */
size_t gguf_tensor_count(const gguf_file *f);
const gguf_tensor *gguf_tensor_at(const gguf_file *f, size_t i);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name); /* NULL if absent */

/* ---- Writing (quantize, synth, tests) ---------------------------------- */

typedef struct gguf_writer gguf_writer;

int gguf_writer_new(gguf_writer **out);
void gguf_writer_free(gguf_writer *w);
/* Metadata; keys and strings are copied. Setting a key twice replaces it. */
int gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v);
int gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v);
int gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v);
int gguf_writer_set_f32(gguf_writer *w, const char *key, float v);
int gguf_writer_set_bool(gguf_writer *w, const char *key, bool v);
int gguf_writer_set_str(gguf_writer *w, const char *key, const char *v);
/* Numeric array: n elements of type elem, raw little-endian data copied. */
int gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_vtype elem, const void *data, uint64_t n);
int gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n);
/* Copy one metadata entry from an open file (used by quantize). */
int gguf_writer_copy_kv(gguf_writer *w, const gguf_kv *kv);
/* Tensor: data is copied unless `borrow` is true (then it must live until write). */
int gguf_writer_add_tensor(gguf_writer *w, const char *name, int type, uint32_t n_dims,
                           const uint64_t *ne, const void *data, uint64_t nbytes, bool borrow);
int gguf_writer_write(gguf_writer *w, const char *path, rh_error *err);
/* The same file image in memory: *out is rh_malloc'ed (caller rh_free's). */
int gguf_writer_write_mem(gguf_writer *w, void **out, size_t *size, rh_error *err);

#endif

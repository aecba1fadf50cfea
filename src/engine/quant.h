/*
 * quant.h - tensor element types: sizes, (de)quantization, fp16/bf16.
 *
 * Type numbers and block layouts are those of the GGUF/ggml format (facts of
 * the file format). A "row" is a run of n values, n a multiple of the type's
 * block size. Dequantization covers every type the engine loads; quantizers
 * exist for the types rathaus writes.
 */
#ifndef RH_ENGINE_QUANT_H
#define RH_ENGINE_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum rh_type {
    RH_TYPE_F32 = 0,
    RH_TYPE_F16 = 1,
    RH_TYPE_Q4_0 = 2,
    RH_TYPE_Q4_1 = 3,
    RH_TYPE_Q5_0 = 6,
    RH_TYPE_Q5_1 = 7,
    RH_TYPE_Q8_0 = 8,
    RH_TYPE_Q8_1 = 9,
    RH_TYPE_Q2_K = 10,
    RH_TYPE_Q3_K = 11,
    RH_TYPE_Q4_K = 12,
    RH_TYPE_Q5_K = 13,
    RH_TYPE_Q6_K = 14,
    RH_TYPE_Q8_K = 15,
    RH_TYPE_BF16 = 30,
    RH_TYPE_COUNT = 40 /* table size; numbers < this may still be unknown */
} rh_type;

typedef struct rh_type_info {
    const char *name;   /* "Q4_K" */
    uint32_t blck;      /* values per block */
    uint32_t size;      /* bytes per block */
    bool can_dequant;   /* rh_dequantize_row supports it */
    bool can_quant;     /* rh_quantize_row supports it */
} rh_type_info;

/* NULL for an unknown type number (use it to validate file input). Types the
 * format defines but rathaus cannot compute with (IQ*, TQ*, I8..I64, F64)
 * have an entry with can_dequant = can_quant = false. */
const rh_type_info *rh_type_get(int type);
/* Parse "q4_k", "Q8_0", "f16", ... ; -1 if unknown. */
int rh_type_from_name(const char *name);

/* Bytes of a row of n values; 0 if n is not a multiple of the block size or
 * the type is unknown. */
size_t rh_row_size(int type, int64_t n);

/* n values of `type` to f32. Does nothing for an unsupported type or an n
 * that is not a positive multiple of the block size (check rh_row_size). */
void rh_dequantize_row(int type, const void *src, float *dst, int64_t n);
/* Returns bytes written (rh_row_size(type, n)), 0 if unsupported. The
 * quantizers minimise the squared error per block (docs/quant.md). Q8_0,
 * Q8_1 and Q8_K (the activation formats) use d = max|x|/127 and codes in
 * [-127, 127], never -128; Q8_K fills bsums. Thread-safe (no state). */
size_t rh_quantize_row(int type, const float *src, void *dst, int64_t n);

/* Scalar conversions: exact, round to nearest even, NaN stays NaN,
 * overflow gives Inf, subnormals handled. */
float rh_fp16_to_fp32(uint16_t h);
uint16_t rh_fp32_to_fp16(float f);
float rh_bf16_to_fp32(uint16_t h);
uint16_t rh_fp32_to_bf16(float f);
/* The 65536-entry fp16 -> fp32 table (filled on first use, thread-safe):
 * rh_fp16_table()[h] == rh_fp16_to_fp32(h), for loops that want no call. */
const float *rh_fp16_table(void);

#endif

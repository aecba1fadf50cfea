/*
 * kernels_avx2.c - AVX2/FMA/F16C kernels (compiled with -mavx2 -mfma -mf16c;
 * only reached after a cpuid check in matmul.c).
 */
#include <immintrin.h>

#include "engine/kernels.h"

void rh_kernels_avx2_init(rh_kernel_set *ks) { ks->name = "avx2"; }

/*
 * kernels_avx512.c - AVX-512 (F/BW/VL/DQ) + VNNI kernels (compiled with those
 * flags; only reached after a cpuid check in matmul.c).
 */
#include <immintrin.h>

#include "engine/kernels.h"

void rh_kernels_avx512_init(rh_kernel_set *ks) { ks->name = "avx512vnni"; }

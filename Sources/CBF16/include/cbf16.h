// bfloat16 GEMM with fp32 accumulation for clipig's CLIP towers: conversion with
// round-to-nearest-even, a native microkernel on AVX512_BF16's vdpbf16ps chosen at run time
// (cpuid), and a portable emulation of the same instruction for CPUs without it (and for tests).
#ifndef CBF16_H
#define CBF16_H

#include <stdint.h>

/// One GEMM operand: logical matrix op(X), stored row-major with row stride `ld`. `bf16` says
/// whether `data` holds bfloat16 bits (uint16_t) or fp32 values (converted while packing);
/// `trans` whether op(X) is the transpose of the stored matrix.
typedef struct {
  const void *data;
  long ld;
  int bf16;
  int trans;
} cbf16_operand;

/// bfloat16 bits of `x`, rounded to nearest, ties to even; NaN stays a (quiet) NaN of the same
/// sign, infinities stay infinities, finite values too large round to infinity.
uint16_t cbf16_round(float x);

/// The fp32 value of bfloat16 bits (exact).
float cbf16_widen(uint16_t bits);

/// dst[i] = cbf16_round(src[i]) for i < count.
void cbf16_convert(const float *src, uint16_t *dst, long count);

/// Whether this CPU (and the operating system) runs AVX512_BF16 with AVX-512 F/BW/VL.
int cbf16_native_available(void);

/// Rows of the microkernel's tile (the M granularity of a split).
long cbf16_tile_rows(void);
/// Columns of the microkernel's tile (the N granularity of a split).
long cbf16_tile_columns(void);

/// The part rows [m0, m1) × columns [n0, n1) of C (m×n, row stride ldc) of
/// C = alpha · op(A) (m×k) · op(B) (k×n) + beta · C, with both products' inputs rounded to
/// bfloat16 and the sums in fp32 (pairs of products added as vdpbf16ps adds them). `native`
/// selects the AVX512_BF16 microkernel (the caller checks `cbf16_native_available`); otherwise
/// the emulation runs. beta == 0 never reads C. Returns 0, or -1 when scratch memory could not
/// be allocated (C is then untouched).
int cbf16_gemm(
    int native, long m, long n, long k, float alpha, cbf16_operand a, cbf16_operand b,
    float beta, float *c, long ldc, long m0, long m1, long n0, long n1);

#endif

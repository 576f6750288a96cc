// bfloat16 GEMM: Goto-style blocking (B blocks of KC×NC, A blocks of MC×KC) packed into
// pairs of bfloat16 along k — the layout vdpbf16ps multiplies — and a 12×32 microkernel.
#include "cbf16.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

enum { MR = 12, NR = 32, KC = 256, MC = 144, NC = 1024 };

uint16_t cbf16_round(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

float cbf16_widen(uint16_t bits) {
  uint32_t u = (uint32_t)bits << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

void cbf16_convert(const float *src, uint16_t *dst, long count) {
  for (long i = 0; i < count; i++) dst[i] = cbf16_round(src[i]);
}

long cbf16_tile_rows(void) { return MR; }
long cbf16_tile_columns(void) { return NR; }

int cbf16_native_available(void) {
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (!__get_cpuid_count(1, 0, &a, &b, &c, &d)) return 0;
  if (!(c & (1u << 27))) return 0;  // OSXSAVE
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 0xE6u) != 0xE6u) return 0;  // XMM, YMM, opmask, ZMM state enabled by the OS
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
  const unsigned f = 1u << 16, bw = 1u << 30, vl = 1u << 31;
  if ((b & (f | bw | vl)) != (f | bw | vl)) return 0;
  if (a < 1) return 0;
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
  return (a & (1u << 5)) != 0;  // AVX512_BF16
#else
  return 0;
#endif
}

// MARK: Packing

/// bfloat16 bits of op(X)[r][col].
static inline uint16_t fetch(const cbf16_operand *x, long r, long col) {
  long i = x->trans ? col * x->ld + r : r * x->ld + col;
  return x->bf16 ? ((const uint16_t *)x->data)[i] : cbf16_round(((const float *)x->data)[i]);
}

static inline uint32_t pair(uint16_t lo, uint16_t hi) { return (uint32_t)lo | ((uint32_t)hi << 16); }

/// A block rows [i0, i0+mc) × k [p0, p0+kc) → panels of MR rows, each (MR, kp) words of
/// (k even, k odd) pairs; rows past m and the odd k's partner past kc are zero.
static void pack_a(
    const cbf16_operand *a, long m, long i0, long mc, long p0, long kc, uint32_t *dst) {
  long kp = (kc + 1) / 2;
  long panels = (mc + MR - 1) / MR;
  for (long q = 0; q < panels; q++) {
    uint32_t *panel = dst + q * MR * kp;  // (MR, kp)
    for (long r = 0; r < MR; r++) {
      long row = i0 + q * MR + r;
      uint32_t *out = panel + r * kp;
      if (row >= m || row >= i0 + mc) {
        memset(out, 0, (size_t)kp * 4);
        continue;
      }
      if (!a->trans && !a->bf16) {
        const float *src = (const float *)a->data + row * a->ld + p0;
        long p = 0;
        for (; 2 * p + 1 < kc; p++) out[p] = pair(cbf16_round(src[2 * p]), cbf16_round(src[2 * p + 1]));
        if (p < kp) out[p] = pair(cbf16_round(src[2 * p]), 0);
      } else if (!a->trans) {
        const uint16_t *src = (const uint16_t *)a->data + row * a->ld + p0;
        long p = 0;
        for (; 2 * p + 1 < kc; p++) out[p] = pair(src[2 * p], src[2 * p + 1]);
        if (p < kp) out[p] = pair(src[2 * p], 0);
      } else {
        long p = 0;
        for (; 2 * p + 1 < kc; p++)
          out[p] = pair(fetch(a, row, p0 + 2 * p), fetch(a, row, p0 + 2 * p + 1));
        if (p < kp) out[p] = pair(fetch(a, row, p0 + 2 * p), 0);
      }
    }
  }
}

/// B block k [p0, p0+kc) × columns [j0, j0+nc) → panels of NR columns, each (kp, NR) words;
/// columns past n and the odd k's partner past kc are zero.
static void pack_b(
    const cbf16_operand *b, long n, long j0, long nc, long p0, long kc, uint32_t *dst) {
  long kp = (kc + 1) / 2;
  long panels = (nc + NR - 1) / NR;
  for (long q = 0; q < panels; q++) {
    uint32_t *panel = dst + q * kp * NR;  // (kp, NR)
    long c0 = j0 + q * NR;
    long width = NR;
    if (c0 + width > j0 + nc) width = j0 + nc - c0;
    if (c0 + width > n) width = n - c0;
    if (!b->trans) {
      for (long p = 0; p < kp; p++) {
        uint32_t *out = panel + p * NR;
        long k0 = p0 + 2 * p;
        int odd = 2 * p + 1 < kc;
        if (!b->bf16) {
          const float *r0 = (const float *)b->data + k0 * b->ld + c0;
          const float *r1 = r0 + b->ld;
          if (odd) {
            for (long j = 0; j < width; j++) out[j] = pair(cbf16_round(r0[j]), cbf16_round(r1[j]));
          } else {
            for (long j = 0; j < width; j++) out[j] = pair(cbf16_round(r0[j]), 0);
          }
        } else {
          const uint16_t *r0 = (const uint16_t *)b->data + k0 * b->ld + c0;
          const uint16_t *r1 = r0 + b->ld;
          if (odd) {
            for (long j = 0; j < width; j++) out[j] = pair(r0[j], r1[j]);
          } else {
            for (long j = 0; j < width; j++) out[j] = pair(r0[j], 0);
          }
        }
        for (long j = width; j < NR; j++) out[j] = 0;
      }
    } else {
      for (long j = 0; j < NR; j++) {
        if (j >= width) {
          for (long p = 0; p < kp; p++) panel[p * NR + j] = 0;
          continue;
        }
        long col = c0 + j;
        if (b->bf16) {
          const uint16_t *src = (const uint16_t *)b->data + col * b->ld + p0;  // (k)
          long p = 0;
          for (; 2 * p + 1 < kc; p++) panel[p * NR + j] = pair(src[2 * p], src[2 * p + 1]);
          if (p < kp) panel[p * NR + j] = pair(src[2 * p], 0);
        } else {
          const float *src = (const float *)b->data + col * b->ld + p0;  // (k)
          long p = 0;
          for (; 2 * p + 1 < kc; p++)
            panel[p * NR + j] = pair(cbf16_round(src[2 * p]), cbf16_round(src[2 * p + 1]));
          if (p < kp) panel[p * NR + j] = pair(cbf16_round(src[2 * p]), 0);
        }
      }
    }
  }
}

// MARK: Microkernels

/// bfloat16 bits to fp32 with subnormals read as zero (as vdpbf16ps reads its inputs).
static inline float widen_daz(uint32_t bits) {
  if ((bits & 0x7f80u) == 0) bits &= 0x8000u;
  return cbf16_widen((uint16_t)bits);
}

/// tile (MR, NR) = A panel (MR, kp) · B panel (kp, NR), each word's pair summed as
/// vdpbf16ps sums it: acc + odd product, then + even product, in fp32.
static void kernel_emulated(long kp, const uint32_t *a, const uint32_t *b, float *tile) {
  for (long r = 0; r < MR; r++) {
    float acc[NR];
    for (long j = 0; j < NR; j++) acc[j] = 0;
    for (long p = 0; p < kp; p++) {
      uint32_t w = a[r * kp + p];
      float a0 = widen_daz(w & 0xffffu), a1 = widen_daz(w >> 16);
      const uint32_t *bp = b + p * NR;
      for (long j = 0; j < NR; j++) {
        float b0 = widen_daz(bp[j] & 0xffffu), b1 = widen_daz(bp[j] >> 16);
        float s = acc[j] + a1 * b1;
        acc[j] = s + a0 * b0;
      }
    }
    for (long j = 0; j < NR; j++) tile[r * NR + j] = acc[j];
  }
}

#if defined(__x86_64__)
#define CBF16_TARGET __attribute__((target("avx512bf16,avx512f,avx512bw,avx512vl")))

/// The same product with vdpbf16ps: 12 rows × 2 vectors of 16 accumulators.
CBF16_TARGET static void kernel_native(long kp, const uint32_t *a, const uint32_t *b, float *tile) {
  __m512 c[MR][2];
  for (int r = 0; r < MR; r++) c[r][0] = c[r][1] = _mm512_setzero_ps();
  for (long p = 0; p < kp; p++) {
    __m512bh b0 = (__m512bh)_mm512_load_si512((const void *)(b + p * NR));
    __m512bh b1 = (__m512bh)_mm512_load_si512((const void *)(b + p * NR + 16));
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
      __m512bh x = (__m512bh)_mm512_set1_epi32((int)a[r * kp + p]);
      c[r][0] = _mm512_dpbf16_ps(c[r][0], x, b0);
      c[r][1] = _mm512_dpbf16_ps(c[r][1], x, b1);
    }
  }
  for (int r = 0; r < MR; r++) {
    _mm512_storeu_ps(tile + r * NR, c[r][0]);
    _mm512_storeu_ps(tile + r * NR + 16, c[r][1]);
  }
}
#endif

/// C[rows, cols] = alpha · tile + beta · C (beta == 0: C not read).
static void store_tile(
    const float *tile, float *c, long ldc, long rows, long cols, float alpha, float beta) {
  for (long r = 0; r < rows; r++) {
    float *dst = c + r * ldc;
    const float *src = tile + r * NR;
    if (beta == 0) {
      for (long j = 0; j < cols; j++) dst[j] = alpha * src[j];
    } else if (beta == 1) {
      for (long j = 0; j < cols; j++) dst[j] = alpha * src[j] + dst[j];
    } else {
      for (long j = 0; j < cols; j++) dst[j] = alpha * src[j] + beta * dst[j];
    }
  }
}

// MARK: Driver

int cbf16_gemm(
    int native, long m, long n, long k, float alpha, cbf16_operand a, cbf16_operand b,
    float beta, float *c, long ldc, long m0, long m1, long n0, long n1) {
  if (m1 > m) m1 = m;
  if (n1 > n) n1 = n;
  if (m0 >= m1 || n0 >= n1) return 0;
  if (k <= 0) {
    for (long i = m0; i < m1; i++)
      for (long j = n0; j < n1; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
    return 0;
  }
#if !defined(__x86_64__)
  native = 0;
#endif
  long kcMax = k < KC ? k : KC;
  long kpMax = (kcMax + 1) / 2;
  long ncMax = n1 - n0 < NC ? n1 - n0 : NC;
  long mcMax = m1 - m0 < MC ? m1 - m0 : MC;
  size_t bWords = (size_t)((ncMax + NR - 1) / NR * NR) * (size_t)kpMax;
  size_t aWords = (size_t)((mcMax + MR - 1) / MR * MR) * (size_t)kpMax;
  uint32_t *bPack = NULL, *aPack = NULL;
  float *tile = NULL;
  if (posix_memalign((void **)&bPack, 64, bWords * 4) != 0) return -1;
  if (posix_memalign((void **)&aPack, 64, aWords * 4) != 0) {
    free(bPack);
    return -1;
  }
  if (posix_memalign((void **)&tile, 64, MR * NR * sizeof(float)) != 0) {
    free(bPack);
    free(aPack);
    return -1;
  }
  for (long jc = n0; jc < n1; jc += NC) {
    long nc = n1 - jc < NC ? n1 - jc : NC;
    for (long pc = 0; pc < k; pc += KC) {
      long kc = k - pc < KC ? k - pc : KC;
      long kp = (kc + 1) / 2;
      float betaBlock = pc == 0 ? beta : 1;
      pack_b(&b, n, jc, nc, pc, kc, bPack);
      for (long ic = m0; ic < m1; ic += MC) {
        long mc = m1 - ic < MC ? m1 - ic : MC;
        pack_a(&a, m, ic, mc, pc, kc, aPack);
        for (long jr = 0; jr < nc; jr += NR) {
          long cols = nc - jr < NR ? nc - jr : NR;
          const uint32_t *bPanel = bPack + (jr / NR) * kp * NR;
          for (long ir = 0; ir < mc; ir += MR) {
            long rows = mc - ir < MR ? mc - ir : MR;
            const uint32_t *aPanel = aPack + (ir / MR) * MR * kp;
#if defined(__x86_64__)
            if (native)
              kernel_native(kp, aPanel, bPanel, tile);
            else
#endif
              kernel_emulated(kp, aPanel, bPanel, tile);
            store_tile(tile, c + (ic + ir) * ldc + jc + jr, ldc, rows, cols, alpha, betaBlock);
          }
        }
      }
    }
  }
  free(tile);
  free(bPack);
  free(aPack);
  return 0;
}

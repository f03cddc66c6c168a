/* gemm_bf16: matrix products of float matrices whose factors are rounded
 * to bfloat16, the sums kept in float (mixed-precision training's
 * products).
 *
 * C = op(A) op(B) + beta C, op a transposition or not, every factor first
 * rounded to bfloat16 (to nearest even; subnormals to zero, as the
 * hardware's conversion does).  A product of two bfloat16 is exact in
 * float, so the only roundings are the float additions, and they run in
 * one order for every element: k in blocks of KC, within a block in pairs
 * (2p+1 then 2p, the order of VDPBF16PS), each block's sum added to C.
 * The result depends on neither the thread count nor which rows or
 * columns the call holds, and the CPUs with AVX512_BF16 and the generic
 * code below give the same bits (but for sums that fall below float's
 * normal range, which the instruction flushes to zero).
 *
 * Speed: with AVX512_BF16 one instruction does 32 multiplies and adds, twice
 * the float FMA's, so the products can run at twice the float peak.  The
 * factors are packed in the usual way (Goto's): KC rows of B into panels
 * of NR columns, MC x KC of A into panels of MR rows, each as pairs of
 * bfloat16 along k, and a register tile of MR x NR sums runs over a pair
 * of panels.  Threads split the larger side of C and each packs its own
 * share, every factor once where the buffer allows (gemm_part). */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#ifndef SLUICE_REAL_DOUBLE

#define MR 12  /* rows of a register tile */
#define NR 32  /* columns of a register tile: two vectors of 16 */
#define KC 256 /* k per block (even) */
#define MC 96  /* rows of A packed at a time (a multiple of MR) */
#define NC 512 /* columns of B packed at a time (a multiple of NR) */

/* Round to bfloat16 as VCVTNEPS2BF16 does: to nearest even, subnormals to
 * signed zero, NaN quiet. */
static uint16_t to_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	if ((u & 0x7f800000u) == 0)
		return (uint16_t)((u >> 16) & 0x8000u);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 0x40u);
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

static float from_bf16(uint32_t h)
{
	uint32_t u = h << 16;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

/* op(X)[i, k] of a row-major X with leading dimension ld. */
static float at(const float *x, int trans, int ld, int i, int k)
{
	return trans ? x[(size_t)k * ld + i] : x[(size_t)i * ld + k];
}

/* The pair (op(X)[i, k], op(X)[i, k + 1]) as one 32-bit word, k + 1 past
 * kend reading as zero. */
static uint32_t pair(const float *x, int trans, int ld, int i, int k, int kend)
{
	uint32_t lo = to_bf16(at(x, trans, ld, i, k));
	uint32_t hi = k + 1 < kend ? to_bf16(at(x, trans, ld, i, k + 1)) : 0;
	return lo | hi << 16;
}

/* Pack `width`-wide panels of op(X)[i0 .. i0+n, k0 .. k0+kc]: panel q holds,
 * for each pair p, the `width` words of indices q*width .. q*width+width-1
 * (those past n as zeros).  Panels of A run over its rows (width MR),
 * panels of B over its columns (width NR, op(B)[k, j] being B's [j, k] as
 * at() reads it with the transposition flipped). */
static void pack_generic(uint32_t *dst, const float *x, int trans, int ld, int i0, int n, int width, int k0, int kc)
{
	int kp = (kc + 1) / 2;
	for (int q = 0; q < n; q += width)
		for (int p = 0; p < kp; p++)
			for (int r = 0; r < width; r++)
				*dst++ = q + r < n ? pair(x, trans, ld, i0 + q + r, k0 + 2 * p, k0 + kc) : 0;
}

/* C[m, n] (m <= MR, n <= NR) = first ? beta C + sums : C + sums, the sums
 * over kp pairs of the panels a and b. */
static void tile_generic(int kp, const uint32_t *a, const uint32_t *b, float *c, int ldc, int m, int n, int first,
			 float beta)
{
	float acc[MR][NR] = { { 0 } };
	for (int p = 0; p < kp; p++, a += MR, b += NR)
		for (int r = 0; r < MR; r++)
			for (int j = 0; j < NR; j++) {
				acc[r][j] += from_bf16(a[r] >> 16) * from_bf16(b[j] >> 16);
				acc[r][j] += from_bf16(a[r] & 0xffff) * from_bf16(b[j] & 0xffff);
			}
	for (int r = 0; r < m; r++)
		for (int j = 0; j < n; j++) {
			float *e = c + (size_t)r * ldc + j;
			*e = first ? (beta == 0 ? acc[r][j] : beta * *e + acc[r][j]) : *e + acc[r][j];
		}
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX512_BF16 1
#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

BF16_TARGET static void tile_avx512(int kp, const uint32_t *a, const uint32_t *b, float *c, int ldc, int m, int n,
				    int first, float beta)
{
	__m512 acc[MR][2];
	for (int r = 0; r < MR; r++) {
		acc[r][0] = acc[r][1] = _mm512_setzero_ps();
		/* C's rows are far apart: fetch them while the sums run */
		if (r < m) {
			_mm_prefetch((const char *)(c + (size_t)r * ldc), _MM_HINT_T0);
			_mm_prefetch((const char *)(c + (size_t)r * ldc + n - 1), _MM_HINT_T0);
		}
	}
	for (int p = 0; p < kp; p++, a += MR, b += NR) {
		__m512bh b0 = (__m512bh)_mm512_load_si512(b);
		__m512bh b1 = (__m512bh)_mm512_load_si512(b + 16);
		for (int r = 0; r < MR; r++) {
			__m512bh ar = (__m512bh)_mm512_set1_epi32((int)a[r]);
			acc[r][0] = _mm512_dpbf16_ps(acc[r][0], ar, b0);
			acc[r][1] = _mm512_dpbf16_ps(acc[r][1], ar, b1);
		}
	}
	__mmask16 k0 = n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1);
	__mmask16 k1 = n >= 32 ? 0xffff : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
	__m512 vb = _mm512_set1_ps(beta);
	for (int r = 0; r < m; r++) {
		float *e = c + (size_t)r * ldc;
		for (int h = 0; h < 2; h++) {
			__mmask16 k = h ? k1 : k0;
			if (!k)
				continue;
			__m512 s = acc[r][h];
			if (!first || beta != 0) {
				__m512 old = _mm512_maskz_loadu_ps(k, e + 16 * h);
				if (first)
					old = _mm512_mul_ps(vb, old);
				s = _mm512_add_ps(old, s);
			}
			_mm512_mask_storeu_ps(e + 16 * h, k, s);
		}
	}
}

/* pack_generic() with vector conversions: along k when k is contiguous
 * (then a word per panel row), across indices when they are (pairs of
 * rows interleaved into words). */
BF16_TARGET static void pack_avx512(uint32_t *dst, const float *x, int trans, int ld, int i0, int n, int width,
				    int k0, int kc)
{
	static const uint16_t interleave[32] = { 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
						 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31 };
	const __m512i inter = _mm512_loadu_si512(interleave);
	int kp = (kc + 1) / 2;
	for (int q = 0; q < n; q += width, dst += (size_t)kp * width) {
		if (trans) { /* op(X)[i, k] at x[k * ld + i] */
			for (int h = 0; h < width; h += 16) {
				int cnt = n - q - h < 16 ? n - q - h : 16, room = width - h < 16 ? width - h : 16;
				__mmask16 take = cnt <= 0 ? 0 : (__mmask16)((1u << cnt) - 1);
				__mmask16 put = (__mmask16)((1u << room) - 1);
				for (int p = 0; p < kp; p++) {
					__m512 lo = _mm512_setzero_ps(), hi = lo;
					if (take) {
						const float *e = x + (size_t)(k0 + 2 * p) * ld + i0 + q + h;
						lo = _mm512_maskz_loadu_ps(take, e);
						if (2 * p + 1 < kc)
							hi = _mm512_maskz_loadu_ps(take, e + ld);
						if (2 * p + 5 < kc) { /* the next pairs' rows, ahead */
							_mm_prefetch((const char *)(e + 4 * (size_t)ld), _MM_HINT_T0);
							_mm_prefetch((const char *)(e + 5 * (size_t)ld), _MM_HINT_T0);
						}
					}
					__m512i w = _mm512_permutexvar_epi16(inter, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
					_mm512_mask_storeu_epi32(dst + (size_t)p * width + h, put, w);
				}
			}
			continue;
		}
		for (int r = 0; r < width; r++) { /* op(X)[i, k] at x[i * ld + k] */
			if (q + r >= n) {
				for (int p = 0; p < kp; p++)
					dst[(size_t)p * width + r] = 0;
				continue;
			}
			const float *row = x + (size_t)(i0 + q + r) * ld + k0;
			for (int p0 = 0; p0 < kp; p0 += 16) {
				int left = kc - 2 * p0;
				__mmask16 m0 = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
				__mmask16 m1 = left >= 32 ? 0xffff : left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1);
				__m512 lo = _mm512_maskz_loadu_ps(m0, row + 2 * p0);
				__m512 hi = m1 ? _mm512_maskz_loadu_ps(m1, row + 2 * p0 + 16) : _mm512_setzero_ps();
				if (q + r + 2 < n && m1) { /* the row after next, ahead */
					_mm_prefetch((const char *)(row + 2 * (size_t)ld + 2 * p0), _MM_HINT_T0);
					_mm_prefetch((const char *)(row + 2 * (size_t)ld + 2 * p0 + 16), _MM_HINT_T0);
				}
				uint32_t w[16];
				_mm512_storeu_si512(w, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
				int np = kp - p0 < 16 ? kp - p0 : 16;
				for (int j = 0; j < np; j++)
					dst[(size_t)(p0 + j) * width + r] = w[j];
			}
		}
	}
}
#endif

typedef void tile_fn(int, const uint32_t *, const uint32_t *, float *, int, int, int, int, float);
typedef void pack_fn(uint32_t *, const float *, int, int, int, int, int, int, int);

/* C[i0 .. i0+m, j0 .. j0+n] element by element from the definition: the
 * reference the tests hold the packed code to, bit for bit, and what runs
 * if a thread cannot have its packing buffers. */
static void part_direct(int ta, int tb, int i0, int m, int j0, int n, int K, const float *a, int lda, const float *b,
			int ldb, float beta, float *c, int ldc)
{
	for (int i = i0; i < i0 + m; i++)
		for (int j = j0; j < j0 + n; j++) {
			float *e = c + (size_t)i * ldc + j;
			for (int k0 = 0; k0 < K; k0 += KC) {
				int kend = K - k0 < KC ? K : k0 + KC;
				float s = 0;
				for (int k = k0; k < kend; k += 2) {
					uint32_t x = pair(a, ta, lda, i, k, kend), y = pair(b, !tb, ldb, j, k, kend);
					s += from_bf16(x >> 16) * from_bf16(y >> 16);
					s += from_bf16(x & 0xffff) * from_bf16(y & 0xffff);
				}
				*e = k0 ? *e + s : beta == 0 ? s : beta * *e + s;
			}
		}
}

/* This thread's packing buffer, grown as a product needs and kept: the
 * threads are the OpenMP pool's. */
static _Thread_local uint32_t *packed;
static _Thread_local size_t packed_words;

static uint32_t *packing_buffer(size_t words)
{
	if (words > packed_words) {
		free(packed);
		packed = aligned_alloc(64, (words * sizeof(uint32_t) + 63) / 64 * 64);
		packed_words = packed ? words : 0;
	}
	return packed;
}

static int round_up(int x, int to)
{
	return (x + to - 1) / to * to;
}

/* C[i0 .. i0+m, j0 .. j0+n] on one thread.  Each factor is packed once
 * wherever it fits: B a block of KC rows at a time over all n columns when
 * n <= NC_WHOLE, else A whole when it fits A_WHOLE words (the head's
 * 50257 columns); only where neither does A is packed again for each
 * block of NC columns. */
#define NC_WHOLE 2048
#define A_WHOLE (1 << 20)
static void gemm_part(tile_fn *tile, pack_fn *pack, int ta, int tb, int i0, int m, int j0, int n, int K,
		      const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
	int mp = round_up(m, MR), nc_max = n <= NC_WHOLE ? round_up(n, NR) : NC;
	int a_whole = n > NC_WHOLE && (size_t)mp * (K / 2 + 1) <= A_WHOLE;
	size_t a_words = a_whole ? ((size_t)mp * (K / 2 + 1) + 15) / 16 * 16 : (size_t)MC * (KC / 2); /* B 64-aligned */
	uint32_t *pa = tile ? packing_buffer(a_words + (size_t)nc_max * (KC / 2)) : NULL;
	if (!pa) {
		part_direct(ta, tb, i0, m, j0, n, K, a, lda, b, ldb, beta, c, ldc);
		return;
	}
	uint32_t *pb = pa + a_words;
	if (a_whole) /* block pc at mp * pc / 2: every block but the last is KC deep */
		for (int pc = 0; pc < K; pc += KC)
			pack(pa + (size_t)mp * (pc / 2), a, ta, lda, i0, m, MR, pc, K - pc < KC ? K - pc : KC);
	for (int jc = 0; jc < n; jc += nc_max) {
		int nc = n - jc < nc_max ? n - jc : nc_max;
		for (int pc = 0; pc < K; pc += KC) {
			int kc = K - pc < KC ? K - pc : KC, kp = (kc + 1) / 2;
			pack(pb, b, !tb, ldb, j0 + jc, nc, NR, pc, kc);
			for (int ic = 0; ic < m; ic += MC) {
				int mc = m - ic < MC ? m - ic : MC;
				const uint32_t *ab = pa + (size_t)mp * (pc / 2) + (size_t)ic * kp;
				if (!a_whole) {
					pack(pa, a, ta, lda, i0 + ic, mc, MR, pc, kc);
					ab = pa;
				}
				for (int jr = 0; jr < nc; jr += NR)
					for (int ir = 0; ir < mc; ir += MR)
						tile(kp, ab + (size_t)ir * kp, pb + (size_t)jr * kp,
						     c + (size_t)(i0 + ic + ir) * ldc + j0 + jc + jr, ldc,
						     mc - ir < MR ? mc - ir : MR, nc - jr < NR ? nc - jr : NR, pc == 0, beta);
			}
		}
	}
}

static int native_off;

void gemm_bf16_set_native(int on)
{
	native_off = !on;
}

int gemm_bf16_native(void)
{
#ifdef HAVE_AVX512_BF16
	return !native_off && __builtin_cpu_supports("avx512bf16");
#else
	return 0;
#endif
}

static void gemm(tile_fn *tile, pack_fn *pack, int ta, int tb, int M, int N, int K, const float *a, int lda,
		 const float *b, int ldb, float beta, float *c, int ldc)
{
	if (K == 0) {
		for (int i = 0; i < M; i++)
			for (int j = 0; j < N; j++) {
				float *e = c + (size_t)i * ldc + j;
				*e = beta == 0 ? 0 : beta * *e;
			}
		return;
	}
	/* Threads take equal shares of the larger side, whole tiles each. */
	int rows = M >= N, side = rows ? M : N, unit = rows ? MR : NR;
#pragma omp parallel
	{
		int nt = omp_get_num_threads(), t = omp_get_thread_num();
		int units = (side + unit - 1) / unit;
		int s0 = (int)((long)units * t / nt) * unit, s1 = (int)((long)units * (t + 1) / nt) * unit;
		s1 = s1 < side ? s1 : side;
		if (s1 > s0 && rows)
			gemm_part(tile, pack, ta, tb, s0, s1 - s0, 0, N, K, a, lda, b, ldb, beta, c, ldc);
		else if (s1 > s0)
			gemm_part(tile, pack, ta, tb, 0, M, s0, s1 - s0, K, a, lda, b, ldb, beta, c, ldc);
	}
}

void gemm_bf16_cpu(int ta, int tb, int M, int N, int K, const float *a, int lda, const float *b, int ldb, float beta,
		   float *c, int ldc)
{
#ifdef HAVE_AVX512_BF16
	if (gemm_bf16_native()) {
		gemm(tile_avx512, pack_avx512, ta, tb, M, N, K, a, lda, b, ldb, beta, c, ldc);
		return;
	}
#endif
	gemm(tile_generic, pack_generic, ta, tb, M, N, K, a, lda, b, ldb, beta, c, ldc);
}

void gemm_bf16_direct_cpu(int ta, int tb, int M, int N, int K, const float *a, int lda, const float *b, int ldb,
			  float beta, float *c, int ldc)
{
	gemm(NULL, NULL, ta, tb, M, N, K, a, lda, b, ldb, beta, c, ldc);
}

#endif

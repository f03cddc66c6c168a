/* panel: the products of incremental decoding over weights packed for it.
 *
 * Decoding runs a few rows through every weight matrix per token, so it is
 * bound by reading the weights.  Packing a matrix [IN, OUT] into panels of
 * KERN_PANEL output columns, each panel's IN rows contiguous, lets every
 * thread stream its panels front to back (a row-major matrix read sixteen
 * columns at a time jumps a whole row, often more than a page, per load,
 * and the hardware prefetchers give up).  The panels may hold the weights
 * as float, bfloat16 or 8-bit integers with a float scale per column for
 * each KERN_I8_GROUP rows: half or a quarter of the bytes to read.
 *
 * Batch invariance: every output element starts from its bias and adds
 * inp[r, k] * w[k, c] for k = 0, 1, ... in that order, one multiply and one
 * add (no fused multiply-add), whatever the number of rows and threads; a
 * narrow weight is first widened to the float the unpacking gives
 * (panel_column), so the packed product equals the float product with the
 * unpacked matrix, bit for bit.
 *
 * Speed at many rows (AVX2): register tiles of up to 6 rows by 16 columns
 * reuse each weight load 6 times, and a panel is taken 256 weight rows at
 * a time, so that the chunk stays in L1 while every tile passes over it
 * (the partial sums wait in the output: the order of the adds is
 * unchanged). */
#include <omp.h>
#include <string.h>

#include "kernels.h"
#include "mathfun.h"

#define ROWS 4 /* rows sharing each weight load */
#define W KERN_PANEL

static int panels(int OUT)
{
	return (OUT + W - 1) / W;
}

static int groups(int IN)
{
	return (IN + KERN_I8_GROUP - 1) / KERN_I8_GROUP;
}

/* An int8 panel is a run of groups: W float scales, then KERN_I8_GROUP
 * rows of W int8 weights (the last group may have fewer rows). */
#define GROUP_BYTES (W * sizeof(float) + KERN_I8_GROUP * W)

static const float *group_scales(const unsigned char *base, int k)
{
	return (const float *)(base + (size_t)(k / KERN_I8_GROUP) * GROUP_BYTES);
}

static const int8_t *group_row(const unsigned char *base, int k)
{
	return (const int8_t *)(base + (size_t)(k / KERN_I8_GROUP) * GROUP_BYTES + W * sizeof(float)) +
	       (size_t)(k % KERN_I8_GROUP) * W;
}

static size_t panel_size(int fmt, int IN)
{
	switch (fmt) {
	case KERN_BF16:
		return (size_t)IN * W * 2;
	case KERN_I8:
		return (size_t)groups(IN) * W * sizeof(float) + (size_t)IN * W;
	default:
		return (size_t)IN * W * sizeof(real);
	}
}

size_t panel_bytes_cpu(int fmt, int IN, int OUT)
{
	return (size_t)panels(OUT) * panel_size(fmt, IN);
}

static float bf16_float(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;
	memcpy(&f, &u, sizeof(f));
	return f;
}

/* Round to nearest, ties to even; NaN stays NaN. */
static uint16_t float_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof(u));
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 0x40);
	return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

/* One group of rows [k0, k0 + kn) of panel p: the weights gathered into a
 * float tile (zeros past OUT), then stored in the panel's format. */
static void pack_group(unsigned char *base, int fmt, const real *w, int IN, int OUT, int transposed, int p, int k0,
		       int kn)
{
	real tile[KERN_I8_GROUP][W];
	int c0 = p * W, wd = OUT - c0 < W ? OUT - c0 : W;
	if (wd < W)
		memset(tile, 0, sizeof(tile));
	if (transposed) {
		for (int j = 0; j < wd; j++) {
			const real *col = w + (size_t)(c0 + j) * IN + k0;
			for (int i = 0; i < kn; i++)
				tile[i][j] = col[i];
		}
	} else {
		for (int i = 0; i < kn; i++) {
			const real *row = w + (size_t)(k0 + i) * OUT + c0;
			for (int j = 0; j < wd; j++)
				tile[i][j] = row[j];
		}
	}
	if (fmt == KERN_F32) {
		memcpy((real *)base + (size_t)k0 * W, tile, (size_t)kn * W * sizeof(real));
		return;
	}
	if (fmt == KERN_BF16) {
		uint16_t *dst = (uint16_t *)base + (size_t)k0 * W;
		for (int i = 0; i < kn; i++)
			for (int j = 0; j < W; j++)
				dst[(size_t)i * W + j] = float_bf16((float)tile[i][j]);
		return;
	}
	float scale[W], inv[W], mx[W] = { 0 };
	for (int i = 0; i < kn; i++)
		for (int j = 0; j < W; j++) {
			float v = (float)tile[i][j];
			mx[j] = v > mx[j] ? v : (-v > mx[j] ? -v : mx[j]);
		}
	for (int j = 0; j < W; j++) {
		scale[j] = mx[j] / 127;
		inv[j] = mx[j] > 0 ? 127 / mx[j] : 0;
	}
	memcpy((void *)group_scales(base, k0), scale, sizeof(scale));
	for (int i = 0; i < kn; i++) {
		int8_t *dst = (int8_t *)group_row(base, k0 + i);
		for (int j = 0; j < W; j++) {
			float q = (float)tile[i][j] * inv[j];
			q = q > 127 ? 127 : q < -127 ? -127 : q;
			dst[j] = (int8_t)(q < 0 ? q - 0.5f : q + 0.5f);
		}
	}
}

/* Each thread packs a contiguous run of panels, a group of KERN_I8_GROUP
 * weight rows across the whole run at a time: the rows of w it reads stay
 * within a few pages (a panel at a time down all IN rows of an [IN, OUT]
 * matrix touched a new page at every row), and in the transposed case the
 * sixteen columns of w a panel reads are read front to back. */
void panel_pack_cpu(void *dst, int fmt, const real *w, int IN, int OUT, int transposed)
{
	size_t psz = panel_size(fmt, IN);
	int np = panels(OUT);
#pragma omp parallel
	{
		int nt = omp_get_num_threads(), t = omp_get_thread_num();
		int p0 = (int)((long)np * t / nt), p1 = (int)((long)np * (t + 1) / nt);
		for (int k0 = 0; k0 < IN; k0 += KERN_I8_GROUP) {
			int kn = IN - k0 < KERN_I8_GROUP ? IN - k0 : KERN_I8_GROUP;
			for (int p = p0; p < p1; p++)
				pack_group((unsigned char *)dst + (size_t)p * psz, fmt, w, IN, OUT, transposed, p, k0, kn);
		}
	}
}

/* Sixteen lanes as one value (GCC and clang vector extensions): two AVX2
 * registers, one AVX-512 register, four SSE ones. */
typedef real lanes __attribute__((vector_size(W * sizeof(real))));
typedef float flanes __attribute__((vector_size(W * sizeof(float))));
typedef uint32_t ulanes __attribute__((vector_size(W * sizeof(uint32_t))));
typedef uint16_t hlanes __attribute__((vector_size(W * sizeof(uint16_t))));
typedef int8_t qlanes __attribute__((vector_size(W)));

/* Row k of a panel, its sixteen weights widened to real. */
static inline __attribute__((always_inline)) void widen(lanes *v, const unsigned char *base, int fmt, int k)
{
	if (fmt == KERN_BF16) {
		hlanes h;
		memcpy(&h, base + (size_t)k * W * 2, sizeof(h));
		ulanes u = __builtin_convertvector(h, ulanes) << 16;
		flanes f;
		memcpy(&f, &u, sizeof(f));
		*v = __builtin_convertvector(f, lanes);
		return;
	}
	if (fmt == KERN_I8) {
		flanes s;
		qlanes q;
		memcpy(&s, group_scales(base, k), sizeof(s));
		memcpy(&q, group_row(base, k), sizeof(q));
		*v = __builtin_convertvector(__builtin_convertvector(q, flanes) * s, lanes);
		return;
	}
	memcpy(v, base + (size_t)k * W * sizeof(real), sizeof(*v));
}

void panel_column_cpu(real *dst, const void *packed, int fmt, int IN, int OUT, int col)
{
	(void)OUT;
	const unsigned char *base = (const unsigned char *)packed + (size_t)(col / W) * panel_size(fmt, IN);
	int j = col % W;
	for (int k = 0; k < IN; k++) {
		if (fmt == KERN_BF16) {
			dst[k] = bf16_float(((const uint16_t *)base)[(size_t)k * W + j]);
		} else if (fmt == KERN_I8) {
			dst[k] = (real)((float)group_row(base, k)[j] * group_scales(base, k)[j]);
		} else {
			dst[k] = ((const real *)base)[(size_t)k * W + j];
		}
	}
}

/* NR rows of out (stride ldo) over one panel: NR is a constant in each
 * caller, so the accumulators stay in registers. */
static inline __attribute__((always_inline)) void panel_rows(real *out, int ldo, const real *inp, int IN,
							      const unsigned char *base, int fmt, const real *bias,
							      int wd, const int NR)
{
	lanes acc[ROWS];
	for (int r = 0; r < NR; r++) {
		for (int j = 0; j < W; j++)
			acc[r][j] = bias && j < wd ? bias[j] : 0;
	}
	for (int k = 0; k < IN; k++) {
		lanes wk;
		widen(&wk, base, fmt, k);
		for (int r = 0; r < NR; r++)
			acc[r] += inp[(size_t)r * IN + k] * wk;
	}
	for (int r = 0; r < NR; r++) {
		if (wd == W)
			memcpy(out + (size_t)r * ldo, &acc[r], sizeof(acc[r]));
		else
			for (int j = 0; j < wd; j++)
				out[(size_t)r * ldo + j] = acc[r][j];
	}
}

/* Rows ROWS at a time, then the rest, each a constant row count. */
#define ROWS_OF(FN, FMT)                                                                                      \
	do {                                                                                                  \
		for (; N >= ROWS; N -= ROWS, out += (size_t)ROWS * OUT, inp += (size_t)ROWS * IN)            \
			FN(out, OUT, inp, IN, base, FMT, bias, wd, ROWS);                                     \
		if (N == 3)                                                                                   \
			FN(out, OUT, inp, IN, base, FMT, bias, wd, 3);                                        \
		else if (N == 2)                                                                              \
			FN(out, OUT, inp, IN, base, FMT, bias, wd, 2);                                        \
		else if (N == 1)                                                                              \
			FN(out, OUT, inp, IN, base, FMT, bias, wd, 1);                                        \
	} while (0)

#if defined(__x86_64__) && defined(__GNUC__) && !defined(SLUICE_REAL_DOUBLE)
/* AVX2 by hand: the generic vectors above compile to poor AVX2 code
 * (16-lane conversions through the stack).  Same operations, same order,
 * so the same bits. */
#include <immintrin.h>
#define PANEL_AVX2 1
#define AVX2_INLINE __attribute__((target("avx2"), always_inline)) static inline

AVX2_INLINE void widen_avx2(__m256 *lo, __m256 *hi, const unsigned char *base, int fmt, int k)
{
	if (fmt == KERN_BF16) {
		__m256i h = _mm256_loadu_si256((const __m256i *)(base + (size_t)k * W * 2));
		*lo = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(h)), 16));
		*hi = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm256_extracti128_si256(h, 1)), 16));
	} else if (fmt == KERN_I8) {
		const float *s = group_scales(base, k);
		__m128i q = _mm_loadu_si128((const __m128i *)group_row(base, k));
		*lo = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), _mm256_loadu_ps(s));
		*hi = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q, 8))), _mm256_loadu_ps(s + 8));
	} else {
		const float *w = (const float *)base + (size_t)k * W;
		*lo = _mm256_loadu_ps(w);
		*hi = _mm256_loadu_ps(w + 8);
	}
}

/* The register tile: up to MR rows by the panel's sixteen columns, two
 * registers a row, over kn consecutive rows of the weights (from weight
 * row wk of base) and of the inputs (x, rows ldx apart).  A tile starts
 * from the bias (first) or from the partial sums already in out, and
 * leaves its sums in out: the k order of every element's adds is that of
 * the whole product.  6 rows: 12 accumulators, 2 weights, a broadcast and
 * a product, the sixteen AVX2 registers.  pf: where a cache line a weight
 * row is prefetched into L2 (the next chunk), or NULL. */
#define MR 6

AVX2_INLINE void tile_avx2(float *out, int ldo, const float *x, int ldx, const unsigned char *base, int fmt, int wk,
			   int kn, const float *bias, int first, int wd, const char *pf, const int NR)
{
	__m256 lo[MR], hi[MR];
	float t[W];
#pragma GCC unroll 6
	for (int r = 0; r < NR; r++) {
		const float *src = out + (size_t)r * ldo;
		if (first || wd < W) {
			memset(t, 0, sizeof(t));
			if (first) {
				if (bias)
					memcpy(t, bias, (size_t)wd * sizeof(float));
			} else {
				memcpy(t, src, (size_t)wd * sizeof(float));
			}
			src = t;
		}
		lo[r] = _mm256_loadu_ps(src);
		hi[r] = _mm256_loadu_ps(src + 8);
	}
	for (int i = 0; i < kn; i++) {
		__m256 wl, wh;
		widen_avx2(&wl, &wh, base, fmt, wk + i);
		if (pf)
			_mm_prefetch(pf + (size_t)i * 64, _MM_HINT_T1);
#pragma GCC unroll 6
		for (int r = 0; r < NR; r++) {
			__m256 a = _mm256_broadcast_ss(x + (size_t)r * ldx + i);
			lo[r] = _mm256_add_ps(lo[r], _mm256_mul_ps(a, wl));
			hi[r] = _mm256_add_ps(hi[r], _mm256_mul_ps(a, wh));
		}
	}
#pragma GCC unroll 6
	for (int r = 0; r < NR; r++) {
		float *dst = out + (size_t)r * ldo;
		if (wd == W) {
			_mm256_storeu_ps(dst, lo[r]);
			_mm256_storeu_ps(dst + 8, hi[r]);
		} else {
			_mm256_storeu_ps(t, lo[r]);
			_mm256_storeu_ps(t + 8, hi[r]);
			memcpy(dst, t, (size_t)wd * sizeof(float));
		}
	}
}

/* All N rows over kn weight rows, in as few tiles as MR allows, their
 * sizes differing by one at most (16 rows: 6, 5, 5; not 6, 6, 4), so that
 * no tile is left with too few rows to keep the adders busy. */
AVX2_INLINE void tiles_avx2(float *out, int ldo, const float *x, int ldx, const unsigned char *base, int fmt, int wk,
			    int kn, const float *bias, int first, int wd, const char *pf, int N)
{
	int nt = (N + MR - 1) / MR;
	for (int t = 0; t < nt; t++) {
		int nr = N / nt + (t < N % nt);
		switch (nr) {
		case 6: tile_avx2(out, ldo, x, ldx, base, fmt, wk, kn, bias, first, wd, pf, 6); break;
		case 5: tile_avx2(out, ldo, x, ldx, base, fmt, wk, kn, bias, first, wd, pf, 5); break;
		case 4: tile_avx2(out, ldo, x, ldx, base, fmt, wk, kn, bias, first, wd, pf, 4); break;
		case 3: tile_avx2(out, ldo, x, ldx, base, fmt, wk, kn, bias, first, wd, pf, 3); break;
		case 2: tile_avx2(out, ldo, x, ldx, base, fmt, wk, kn, bias, first, wd, pf, 2); break;
		case 1: tile_avx2(out, ldo, x, ldx, base, fmt, wk, kn, bias, first, wd, pf, 1); break;
		}
		out += (size_t)nr * ldo;
		x += (size_t)nr * ldx;
		pf = NULL;
	}
}

/* Weight rows a chunk: the chunk's panel rows (16 KiB as floats) stay in
 * the L1 cache while every row block passes over them.  A multiple of
 * KERN_I8_GROUP. */
#define KC 256

/* Where weight row k of a panel starts (k a multiple of KERN_I8_GROUP for int8). */
static size_t panel_at(int fmt, int k)
{
	return fmt == KERN_BF16 ? (size_t)k * W * 2 : fmt == KERN_I8 ? (size_t)(k / KERN_I8_GROUP) * GROUP_BYTES
								     : (size_t)k * W * sizeof(float);
}

/* One panel.  A single row block reads the panel once, widening as it
 * goes.  More rows take the panel a chunk of KC weight rows at a time,
 * widened once into floats (the same floats) that every row block then
 * reads from the L1 cache. */
AVX2_INLINE void panel_avx2(real *out, const real *inp, const unsigned char *base, const real *bias, int N, int IN,
			    int OUT, int wd, int fmt)
{
	if (N <= MR) {
		tiles_avx2(out, OUT, inp, IN, base, fmt, 0, IN, bias, 1, wd, NULL, N);
		return;
	}
	float buf[KC * W] __attribute__((aligned(64)));
	for (int k0 = 0; k0 < IN; k0 += KC) {
		int kn = IN - k0 < KC ? IN - k0 : KC;
		const unsigned char *chunk = base + (size_t)k0 * W * sizeof(float);
		if (fmt != KERN_F32) {
			for (int i = 0; i < kn; i++) {
				__m256 wl, wh;
				widen_avx2(&wl, &wh, base, fmt, k0 + i);
				_mm256_store_ps(buf + (size_t)i * W, wl);
				_mm256_store_ps(buf + (size_t)i * W + 8, wh);
			}
			chunk = (const unsigned char *)buf;
		}
		tiles_avx2(out, OUT, inp + k0, IN, chunk, KERN_F32, 0, kn, bias, k0 == 0, wd,
			   (const char *)base + panel_at(fmt, k0 + KC), N);
	}
}

#define PANEL_AVX2_FN(NAME, FMT)                                                                              \
	__attribute__((target("avx2"))) static void NAME(real *out, const real *inp, const unsigned char *base,     \
							 const real *bias, int N, int IN, int OUT, int wd)           \
	{                                                                                                     \
		panel_avx2(out, inp, base, bias, N, IN, OUT, wd, FMT);                                        \
	}
PANEL_AVX2_FN(panel_f32_avx2, KERN_F32)
PANEL_AVX2_FN(panel_bf16_avx2, KERN_BF16)
PANEL_AVX2_FN(panel_i8_avx2, KERN_I8)
#endif


#define PANEL_FN(NAME, FMT)                                                                                   \
	static void NAME(real *out, const real *inp, const unsigned char *base, const real *bias, int N, int IN,    \
			 int OUT, int wd)                                                                     \
	{                                                                                                     \
		ROWS_OF(panel_rows, FMT);                                                                     \
	}
PANEL_FN(panel_f32, KERN_F32)
PANEL_FN(panel_bf16, KERN_BF16)
PANEL_FN(panel_i8, KERN_I8)

typedef void panel_fn(real *, const real *, const unsigned char *, const real *, int, int, int, int);

void matmul_panel_cpu(real *out, const real *inp, const void *packed, int fmt, const real *bias, int N, int IN,
		      int OUT)
{
	static panel_fn *const generic[] = { panel_f32, panel_bf16, panel_i8 };
	panel_fn *fn = generic[fmt];
#ifdef PANEL_AVX2
	static panel_fn *const avx2[] = { panel_f32_avx2, panel_bf16_avx2, panel_i8_avx2 };
	if (__builtin_cpu_supports("avx2"))
		fn = avx2[fmt];
#endif
	size_t psz = panel_size(fmt, IN);
#pragma omp parallel for schedule(static)
	for (int p = 0; p < panels(OUT); p++) {
		int c0 = p * W, wd = OUT - c0 < W ? OUT - c0 : W;
		fn(out + c0, inp, (const unsigned char *)packed + (size_t)p * psz, bias ? bias + c0 : NULL, N, IN, OUT,
		   wd);
	}
}

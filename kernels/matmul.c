/* matmul: the linear layers and the tied output head, through the BLAS. */
#include "kernels.h"
#include "blas.h"
#include "mathfun.h"

/* db += column sums of d[N, OUT], by column chunk, in row order. */
static void bias_backward(real *db, const real *d, int N, int OUT)
{
#pragma omp parallel for schedule(static)
	for (int c0 = 0; c0 < OUT; c0 += KERN_COL_CHUNK) {
		int c1 = c0 + KERN_COL_CHUNK < OUT ? c0 + KERN_COL_CHUNK : OUT;
		for (int i = 0; i < N; i++) {
			const real *r = d + (size_t)i * OUT;
			for (int c = c0; c < c1; c++)
				db[c] += r[c];
		}
	}
}

void matmul_forward_cpu(real *out, const real *inp, const real *w, const real *bias, int N, int IN, int OUT)
{
	if (bias) {
#pragma omp parallel for schedule(static)
		for (int i = 0; i < N; i++)
			for (int c = 0; c < OUT; c++)
				out[(size_t)i * OUT + c] = bias[c];
	}
	GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, OUT, IN, 1, inp, IN, w, OUT, bias ? 1 : 0, out, OUT);
}

void matmul_backward_cpu(real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w,
			 int N, int IN, int OUT)
{
	GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, N, IN, OUT, 1, dout, OUT, w, OUT, 1, dinp, IN);
	GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, IN, OUT, N, 1, inp, IN, dout, OUT, 1, dw, OUT);
	if (dbias)
		bias_backward(dbias, dout, N, OUT);
}

void head_forward_cpu(real *logits, const real *inp, const real *wte, int N, int C, int V)
{
	GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, N, V, C, 1, inp, C, wte, C, 0, logits, V);
}

void head_backward_cpu(real *dinp, real *dwte, const real *dlogits, const real *inp, const real *wte,
		       int N, int C, int V)
{
	GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, V, 1, dlogits, V, wte, C, 1, dinp, C);
	GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, V, C, N, 1, dlogits, V, inp, C, 1, dwte, C);
}

/* The decoding products, batch-invariant by construction: every output
 * element is reduced over the same fixed sequence of operations whatever
 * the number of rows and threads, so a completion's bits do not depend on
 * what else is in the batch.  (A BLAS picks its blocking, and with it the
 * order of the sums, by the shape of the whole product.)  Rows are taken
 * ROWS at a time to reuse each weight load; that changes which elements
 * are computed together, never how one is computed. */
#define ROWS 4
#define LANES 16

/* out[r, c0:c0+w] = bias + sum over k, in k order, of inp[r,k] * wt[k,c]. */
KERN_CLONES static void rows_axpy(real *out, const real *inp, const real *w, const real *bias, int nr, int c0, int wd,
				  int IN, int OUT)
{
	real acc[ROWS][LANES];
	for (int r = 0; r < nr; r++)
		for (int j = 0; j < wd; j++)
			acc[r][j] = bias ? bias[c0 + j] : 0;
	for (int k = 0; k < IN; k++) {
		const real *wk = w + (size_t)k * OUT + c0;
		for (int r = 0; r < nr; r++) {
			real a = inp[(size_t)r * IN + k];
			for (int j = 0; j < wd; j++)
				acc[r][j] += a * wk[j];
		}
	}
	for (int r = 0; r < nr; r++)
		for (int j = 0; j < wd; j++)
			out[(size_t)r * OUT + c0 + j] = acc[r][j];
}

void matmul_decode_cpu(real *out, const real *inp, const real *w, const real *bias, int N, int IN, int OUT)
{
#pragma omp parallel for schedule(static)
	for (int c0 = 0; c0 < OUT; c0 += LANES) {
		int wd = OUT - c0 < LANES ? OUT - c0 : LANES;
		for (int r = 0; r < N; r += ROWS)
			rows_axpy(out + (size_t)r * OUT, inp + (size_t)r * IN, w, bias, N - r < ROWS ? N - r : ROWS, c0,
				  wd, IN, OUT);
	}
}

/* out[r] = dot(inp[r, :], wv[:]) for nr rows: LANES partial sums in k
 * order, then added in one fixed order. */
KERN_CLONES static void rows_dot(real *out, size_t ldo, const real *inp, const real *wv, int nr, int C)
{
	real s[ROWS][LANES] = { { 0 } };
	int k = 0;
	for (; k + LANES <= C; k += LANES)
		for (int r = 0; r < nr; r++)
			for (int j = 0; j < LANES; j++)
				s[r][j] += inp[(size_t)r * C + k + j] * wv[k + j];
	for (int r = 0; r < nr; r++) {
		for (int j = 0; k + j < C; j++)
			s[r][j] += inp[(size_t)r * C + k + j] * wv[k + j];
		for (int h = LANES / 2; h > 0; h /= 2)
			for (int j = 0; j < h; j++)
				s[r][j] += s[r][j + h];
		out[(size_t)r * ldo] = s[r][0];
	}
}

void head_decode_cpu(real *logits, const real *inp, const real *wte, int N, int C, int V)
{
#pragma omp parallel for schedule(static)
	for (int v = 0; v < V; v++)
		for (int r = 0; r < N; r += ROWS)
			rows_dot(logits + (size_t)r * V + v, (size_t)V, inp + (size_t)r * C, wte + (size_t)v * C,
				 N - r < ROWS ? N - r : ROWS, C);
}

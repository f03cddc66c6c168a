/* matmul: the linear layers ([IN, OUT] and nn.Linear's [OUT, IN]) and the
 * output head, through the BLAS. */
#include "kernels.h"
#include "blas.h"

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

void linear_forward_cpu(real *out, const real *inp, const real *w, const real *bias, int N, int IN, int OUT)
{
	if (bias) {
#pragma omp parallel for schedule(static)
		for (int i = 0; i < N; i++)
			for (int c = 0; c < OUT; c++)
				out[(size_t)i * OUT + c] = bias[c];
	}
	GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, N, OUT, IN, 1, inp, IN, w, IN, bias ? 1 : 0, out, OUT);
}

void linear_backward_cpu(real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w,
			 int N, int IN, int OUT)
{
	GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IN, OUT, 1, dout, OUT, w, IN, 1, dinp, IN);
	GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, OUT, IN, N, 1, dout, OUT, inp, IN, 1, dw, IN);
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

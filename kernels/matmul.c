/* matmul: the linear layers ([IN, OUT] and nn.Linear's [OUT, IN]) and the
 * output head, through the BLAS's float products or gemm_bf16's (the
 * _bf16 entries: factors rounded to bfloat16, sums in float). */
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

/* C[M,N] = op(A) op(B) + beta C, op(X) = X^T where tX. */
typedef void product_fn(int ta, int tb, int M, int N, int K, const real *a, int lda, const real *b, int ldb,
			real beta, real *c, int ldc);

static void blas(int ta, int tb, int M, int N, int K, const real *a, int lda, const real *b, int ldb, real beta,
		 real *c, int ldc)
{
	GEMM(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1, a, lda, b, ldb,
	     beta, c, ldc);
}

static void matmul_forward(product_fn *mm, real *out, const real *inp, const real *w, const real *bias, int N, int IN, int OUT)
{
	if (bias) {
#pragma omp parallel for schedule(static)
		for (int i = 0; i < N; i++)
			for (int c = 0; c < OUT; c++)
				out[(size_t)i * OUT + c] = bias[c];
	}
	mm(0, 0, N, OUT, IN, inp, IN, w, OUT, bias ? 1 : 0, out, OUT);
}

static void matmul_backward(product_fn *mm, real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w,
			    int N, int IN, int OUT)
{
	mm(0, 1, N, IN, OUT, dout, OUT, w, OUT, 1, dinp, IN);
	mm(1, 0, IN, OUT, N, inp, IN, dout, OUT, 1, dw, OUT);
	if (dbias)
		bias_backward(dbias, dout, N, OUT);
}

static void linear_forward(product_fn *mm, real *out, const real *inp, const real *w, const real *bias, int N, int IN, int OUT)
{
	if (bias) {
#pragma omp parallel for schedule(static)
		for (int i = 0; i < N; i++)
			for (int c = 0; c < OUT; c++)
				out[(size_t)i * OUT + c] = bias[c];
	}
	mm(0, 1, N, OUT, IN, inp, IN, w, IN, bias ? 1 : 0, out, OUT);
}

static void linear_backward(product_fn *mm, real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w,
			    int N, int IN, int OUT)
{
	mm(0, 0, N, IN, OUT, dout, OUT, w, IN, 1, dinp, IN);
	mm(1, 0, OUT, IN, N, dout, OUT, inp, IN, 1, dw, IN);
	if (dbias)
		bias_backward(dbias, dout, N, OUT);
}

static void head_forward(product_fn *mm, real *logits, const real *inp, const real *wte, int N, int C, int V)
{
	mm(0, 1, N, V, C, inp, C, wte, C, 0, logits, V);
}

static void head_backward(product_fn *mm, real *dinp, real *dwte, const real *dlogits, const real *inp, const real *wte,
		       int N, int C, int V)
{
	mm(0, 0, N, C, V, dlogits, V, wte, C, 1, dinp, C);
	mm(1, 0, V, C, N, dlogits, V, inp, C, 1, dwte, C);
}

void matmul_forward_cpu(real *out, const real *inp, const real *w, const real *bias, int N, int IN, int OUT)
{
	matmul_forward(blas, out, inp, w, bias, N, IN, OUT);
}

void matmul_backward_cpu(real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w,
			 int N, int IN, int OUT)
{
	matmul_backward(blas, dinp, dw, dbias, dout, inp, w, N, IN, OUT);
}

void linear_forward_cpu(real *out, const real *inp, const real *w, const real *bias, int N, int IN, int OUT)
{
	linear_forward(blas, out, inp, w, bias, N, IN, OUT);
}

void linear_backward_cpu(real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w,
			 int N, int IN, int OUT)
{
	linear_backward(blas, dinp, dw, dbias, dout, inp, w, N, IN, OUT);
}

void head_forward_cpu(real *logits, const real *inp, const real *wte, int N, int C, int V)
{
	head_forward(blas, logits, inp, wte, N, C, V);
}

void head_backward_cpu(real *dinp, real *dwte, const real *dlogits, const real *inp, const real *wte,
		       int N, int C, int V)
{
	head_backward(blas, dinp, dwte, dlogits, inp, wte, N, C, V);
}

#ifndef SLUICE_REAL_DOUBLE
void matmul_forward_bf16_cpu(real *out, const real *inp, const real *w, const real *bias, int N, int IN, int OUT)
{
	matmul_forward(gemm_bf16_cpu, out, inp, w, bias, N, IN, OUT);
}

void matmul_backward_bf16_cpu(real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w,
			      int N, int IN, int OUT)
{
	matmul_backward(gemm_bf16_cpu, dinp, dw, dbias, dout, inp, w, N, IN, OUT);
}

void linear_forward_bf16_cpu(real *out, const real *inp, const real *w, const real *bias, int N, int IN, int OUT)
{
	linear_forward(gemm_bf16_cpu, out, inp, w, bias, N, IN, OUT);
}

void linear_backward_bf16_cpu(real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w,
			      int N, int IN, int OUT)
{
	linear_backward(gemm_bf16_cpu, dinp, dw, dbias, dout, inp, w, N, IN, OUT);
}

void head_forward_bf16_cpu(real *logits, const real *inp, const real *wte, int N, int C, int V)
{
	head_forward(gemm_bf16_cpu, logits, inp, wte, N, C, V);
}

void head_backward_bf16_cpu(real *dinp, real *dwte, const real *dlogits, const real *inp, const real *wte,
			    int N, int C, int V)
{
	head_backward(gemm_bf16_cpu, dinp, dwte, dlogits, inp, wte, N, C, V);
}
#endif

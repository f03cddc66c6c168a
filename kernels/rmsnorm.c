/* rmsnorm: y = x / sqrt(mean(x^2) + eps) * w over each row (Llama, Qwen). */
#include <math.h>

#include "kernels.h"
#include "blas.h"

void rmsnorm_forward_cpu(real *out, real *rstd, const real *inp, const real *w, int N, int C, double eps)
{
#pragma omp parallel for schedule(static)
	for (int i = 0; i < N; i++) {
		const real *x = inp + (size_t)i * C;
		real *y = out + (size_t)i * C;
		double ss = 0;
		for (int c = 0; c < C; c++)
			ss += (double)x[c] * x[c];
		real r = (real)(1.0 / sqrt(ss / C + eps));
		for (int c = 0; c < C; c++)
			y[c] = x[c] * r * w[c];
		rstd[i] = r;
	}
}

/* y_c = w_c x_c r with r = (mean(x^2) + eps)^-1/2, so
 * dx_c = r w_c dy_c - x_c r^3 / C * sum_k w_k dy_k x_k. */
void rmsnorm_backward_cpu(real *dinp, real *dw, const real *dout, const real *inp, const real *w, const real *rstd,
			  int N, int C)
{
#pragma omp parallel
	{
#pragma omp for schedule(static)
		for (int i = 0; i < N; i++) {
			const real *x = inp + (size_t)i * C, *dy = dout + (size_t)i * C;
			real *dx = dinp + (size_t)i * C;
			real r = rstd[i];
			double dot = 0;
			for (int c = 0; c < C; c++)
				dot += (double)w[c] * dy[c] * x[c];
			real k = (real)(dot * r * r * r / C);
			for (int c = 0; c < C; c++)
				dx[c] += r * w[c] * dy[c] - x[c] * k;
		}
		/* The weight gradient sums over rows: by channel, in row order. */
#pragma omp for schedule(static)
		for (int c0 = 0; c0 < C; c0 += KERN_COL_CHUNK) {
			int c1 = c0 + KERN_COL_CHUNK < C ? c0 + KERN_COL_CHUNK : C;
			for (int i = 0; i < N; i++) {
				const real *x = inp + (size_t)i * C, *dy = dout + (size_t)i * C;
				real r = rstd[i];
				for (int c = c0; c < c1; c++)
					dw[c] += x[c] * r * dy[c];
			}
		}
	}
}

/* layernorm: y = (x - mean) / sqrt(var + 1e-5) * w + b over each row. */
#include <math.h>

#include "kernels.h"
#include "blas.h"

#define LN_EPS 1e-5

void layernorm_forward_cpu(real *out, real *mean, real *rstd, const real *inp, const real *w, const real *b,
			   int N, int C)
{
#pragma omp parallel for schedule(static)
	for (int i = 0; i < N; i++) {
		const real *x = inp + (size_t)i * C;
		real *y = out + (size_t)i * C;
		double s = 0, ss = 0;
		for (int c = 0; c < C; c++)
			s += x[c];
		double mu = s / C;
		for (int c = 0; c < C; c++) {
			double d = x[c] - mu;
			ss += d * d;
		}
		double r = 1.0 / sqrt(ss / C + LN_EPS);
		for (int c = 0; c < C; c++)
			y[c] = (real)((x[c] - mu) * r) * w[c] + b[c];
		mean[i] = (real)mu;
		rstd[i] = (real)r;
	}
}

void layernorm_backward_cpu(real *dinp, real *dw, real *db, const real *dout, const real *inp, const real *w,
			    const real *mean, const real *rstd, int N, int C)
{
#pragma omp parallel
	{
#pragma omp for schedule(static)
		for (int i = 0; i < N; i++) {
			const real *x = inp + (size_t)i * C, *dy = dout + (size_t)i * C;
			real *dx = dinp + (size_t)i * C;
			real mu = mean[i], r = rstd[i];
			double sum_d = 0, sum_dn = 0;
			for (int c = 0; c < C; c++) {
				real n = (x[c] - mu) * r, d = w[c] * dy[c];
				sum_d += d;
				sum_dn += d * n;
			}
			real mean_d = (real)(sum_d / C), mean_dn = (real)(sum_dn / C);
			for (int c = 0; c < C; c++) {
				real n = (x[c] - mu) * r, d = w[c] * dy[c];
				dx[c] += r * (d - mean_d - n * mean_dn);
			}
		}
		/* The weight and bias gradients sum over rows: by channel, in
		 * row order. */
#pragma omp for schedule(static)
		for (int c0 = 0; c0 < C; c0 += KERN_COL_CHUNK) {
			int c1 = c0 + KERN_COL_CHUNK < C ? c0 + KERN_COL_CHUNK : C;
			for (int i = 0; i < N; i++) {
				const real *x = inp + (size_t)i * C, *dy = dout + (size_t)i * C;
				real mu = mean[i], r = rstd[i];
				for (int c = c0; c < c1; c++) {
					dw[c] += (x[c] - mu) * r * dy[c];
					db[c] += dy[c];
				}
			}
		}
	}
}

/* gelu: GPT-2's tanh approximation, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
#include <math.h>

#include "kernels.h"

#define GELU_K 0.7978845608028654 /* sqrt(2 / pi) */

void gelu_forward_cpu(real *out, const real *inp, size_t n)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++) {
		real x = inp[i];
		out[i] = (real)(0.5 * x * (1 + tanh(GELU_K * (x + 0.044715 * x * x * x))));
	}
}

void gelu_backward_cpu(real *dinp, const real *inp, const real *dout, size_t n)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++) {
		double x = inp[i];
		double u = GELU_K * (x + 0.044715 * x * x * x);
		double th = tanh(u);
		double sech2 = 1 - th * th;
		double g = 0.5 * (1 + th) + 0.5 * x * sech2 * GELU_K * (1 + 3 * 0.044715 * x * x);
		dinp[i] += (real)(g * dout[i]);
	}
}

void residual_forward_cpu(real *out, const real *a, const real *b, size_t n)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

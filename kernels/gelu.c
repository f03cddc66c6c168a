/* gelu: GPT-2's tanh approximation, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
#include <math.h>

#include "kernels.h"
#include "mathfun.h"

#define GELU_K 0.7978845608028654 /* sqrt(2 / pi) */
#define GELU_SPAN 4096            /* elements a thread takes at a time */

#ifdef SLUICE_REAL_DOUBLE
static void gelu_forward_span(real *out, const real *inp, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		real x = inp[i];
		out[i] = 0.5 * x * (1 + tanh(GELU_K * (x + 0.044715 * x * x * x)));
	}
}

static void gelu_backward_span(real *dinp, const real *inp, const real *dout, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		real x = inp[i], th = tanh(GELU_K * (x + 0.044715 * x * x * x));
		real g = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * GELU_K * (1 + 3 * 0.044715 * x * x);
		dinp[i] += g * dout[i];
	}
}
#else
KERN_CLONES static void gelu_forward_span(float *out, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float x = inp[i];
		out[i] = 0.5f * x * (1 + k_tanhf((float)GELU_K * (x + 0.044715f * x * x * x)));
	}
}

KERN_CLONES static void gelu_backward_span(float *dinp, const float *inp, const float *dout, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float x = inp[i], th = k_tanhf((float)GELU_K * (x + 0.044715f * x * x * x));
		float g = 0.5f * (1 + th) + 0.5f * x * (1 - th * th) * (float)GELU_K * (1 + 3 * 0.044715f * x * x);
		dinp[i] += g * dout[i];
	}
}
#endif

void gelu_forward_cpu(real *out, const real *inp, size_t n)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i += GELU_SPAN)
		gelu_forward_span(out + i, inp + i, n - i < GELU_SPAN ? n - i : GELU_SPAN);
}

void gelu_backward_cpu(real *dinp, const real *inp, const real *dout, size_t n)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i += GELU_SPAN)
		gelu_backward_span(dinp + i, inp + i, dout + i, n - i < GELU_SPAN ? n - i : GELU_SPAN);
}

void residual_forward_cpu(real *out, const real *a, const real *b, size_t n)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

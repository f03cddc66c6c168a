/* swiglu: the gated MLP's silu(gate) * up (Llama, Qwen), and ReLU squared
 * (the modded-nanogpt and nanochat MLP). */
#include <math.h>

#include "kernels.h"
#include "mathfun.h"

#ifdef SLUICE_REAL_DOUBLE
#define EXP(x) exp(x)
#else
#define EXP(x) k_expf(x)
#endif

void swiglu_forward_cpu(real *out, const real *gate, const real *up, size_t n)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++) {
		real g = gate[i];
		out[i] = g / (1 + EXP(-g)) * up[i];
	}
}

/* d silu(g) / dg = s (1 + g (1 - s)), s the logistic sigmoid of g. */
void swiglu_backward_cpu(real *dgate, real *dup, const real *dout, const real *gate, const real *up, size_t n)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++) {
		real g = gate[i], s = 1 / (1 + EXP(-g));
		dgate[i] += dout[i] * up[i] * s * (1 + g * (1 - s));
		dup[i] += dout[i] * g * s;
	}
}

void relu2_forward_cpu(real *out, const real *inp, size_t n)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++) {
		real x = inp[i] > 0 ? inp[i] : 0;
		out[i] = x * x;
	}
}

void relu2_backward_cpu(real *dinp, const real *inp, const real *dout, size_t n)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		dinp[i] += inp[i] > 0 ? 2 * inp[i] * dout[i] : 0;
}

/* crossentropy: softmax over the vocabulary and the negative log-likelihood
 * of each target, weighted. */
#include <math.h>

#include "kernels.h"
#include "mathfun.h"

#ifdef SLUICE_REAL_DOUBLE
#define EXP(x) exp(x)
#else
#define EXP(x) k_expf(x)
#endif

/* Sixteen lanes for the max and the sum: vectorizable, and in a fixed
 * order (the same in every build and at every batch size). */
enum { LANES = 16 };

/* The largest of z[0..V). */
static inline __attribute__((always_inline)) real row_max(const real *z, int V)
{
	real lane[LANES];
	int j = 0;
	for (int u = 0; u < LANES; u++)
		lane[u] = z[0];
	for (; j + LANES <= V; j += LANES)
		for (int u = 0; u < LANES; u++)
			lane[u] = z[j + u] > lane[u] ? z[j + u] : lane[u];
	real mx = lane[0];
	for (int u = 1; u < LANES; u++)
		mx = lane[u] > mx ? lane[u] : mx;
	for (; j < V; j++)
		mx = z[j] > mx ? z[j] : mx;
	return mx;
}

/* e[j] = exp((z[j] - mx) / t) for j < V (e may be z), and their sum. */
static inline __attribute__((always_inline)) double exp_sum(real *e, const real *z, int V, real mx, real t)
{
	real lane[LANES];
	int j;
	for (int u = 0; u < LANES; u++)
		lane[u] = 0;
	for (j = 0; j + LANES <= V; j += LANES)
		for (int u = 0; u < LANES; u++) {
			e[j + u] = EXP((z[j + u] - mx) / t);
			lane[u] += e[j + u];
		}
	double sum = 0;
	for (; j < V; j++) {
		e[j] = EXP((z[j] - mx) / t);
		sum += e[j];
	}
	for (int u = 0; u < LANES; u++)
		sum += lane[u];
	return sum;
}

/* Softmax of z[0..V) in place; returns the sum of exp(z - max) and sets
 * *target_shift to z[target] - max. */
KERN_CLONES static double softmax_row(real *z, int V, uint32_t target, real *target_shift)
{
	real mx = row_max(z, V);
	*target_shift = z[target] - mx;
	double sum = exp_sum(z, z, V, mx, 1);
	real inv = (real)(1 / sum);
	for (int j = 0; j < V; j++)
		z[j] *= inv;
	return sum;
}

KERN_CLONES static double softmax_exp_row(real *e, const real *z, int V, double t, real *mx, uint32_t *arg)
{
	*mx = row_max(z, V);
	int j = 0;
	while (j < V - 1 && z[j] != *mx)
		j++;
	*arg = (uint32_t)j;
	return exp_sum(e, z, V, *mx, (real)t);
}

/* A plain symbol over the clones (clang emits no resolver under the name
 * of an exported function with target_clones). */
double softmax_exp_cpu(real *e, const real *z, int V, double t, real *mx, uint32_t *arg)
{
	return softmax_exp_row(e, z, V, t, mx, arg);
}

double crossentropy_forward_cpu(real *logits, real *losses, const uint32_t *target, const real *weight,
				int N, int V)
{
#pragma omp parallel for schedule(static)
	for (int i = 0; i < N; i++) {
		real shift;
		double sum = softmax_row(logits + (size_t)i * V, V, target[i], &shift);
		/* log-sum-exp minus the target's logit: no probability is
		 * rounded to zero before the log. */
		losses[i] = (real)(log(sum) - (double)shift);
	}
	double total = 0;
	for (int i = 0; i < N; i++)
		total += (weight ? weight[i] : 1) * (double)losses[i];
	return total;
}

void crossentropy_backward_cpu(real *probs, const uint32_t *target, const real *weight, int N, int V)
{
#pragma omp parallel for schedule(static)
	for (int i = 0; i < N; i++) {
		real *p = probs + (size_t)i * V;
		real w = weight ? weight[i] : 1;
		for (int j = 0; j < V; j++)
			p[j] *= w;
		p[target[i]] -= w;
	}
}

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

/* Softmax of z[0..V) in place; returns the sum of exp(z - max) and sets
 * *target_shift to z[target] - max. */
KERN_CLONES static double softmax_row(real *z, int V, uint32_t target, real *target_shift)
{
	/* Sixteen lanes for the max and the sum: vectorizable, and in a
	 * fixed order. */
	enum { W = 16 };
	real lane[W];
	int j = 0;
	for (int u = 0; u < W; u++)
		lane[u] = z[0];
	for (; j + W <= V; j += W)
		for (int u = 0; u < W; u++)
			lane[u] = z[j + u] > lane[u] ? z[j + u] : lane[u];
	real mx = lane[0];
	for (int u = 1; u < W; u++)
		mx = lane[u] > mx ? lane[u] : mx;
	for (; j < V; j++)
		mx = z[j] > mx ? z[j] : mx;
	*target_shift = z[target] - mx;
	for (int u = 0; u < W; u++)
		lane[u] = 0;
	for (j = 0; j + W <= V; j += W)
		for (int u = 0; u < W; u++) {
			z[j + u] = EXP(z[j + u] - mx);
			lane[u] += z[j + u];
		}
	double sum = 0;
	for (; j < V; j++) {
		z[j] = EXP(z[j] - mx);
		sum += z[j];
	}
	for (int u = 0; u < W; u++)
		sum += lane[u];
	real inv = (real)(1 / sum);
	for (j = 0; j < V; j++)
		z[j] *= inv;
	return sum;
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

/* crossentropy: softmax over the vocabulary and the negative log-likelihood
 * of each target, weighted. */
#include <math.h>

#include "kernels.h"

double crossentropy_forward_cpu(real *logits, real *losses, const uint32_t *target, const real *weight,
				int N, int V)
{
#pragma omp parallel for schedule(static)
	for (int i = 0; i < N; i++) {
		real *z = logits + (size_t)i * V;
		real mx = z[0];
		for (int j = 1; j < V; j++)
			if (z[j] > mx)
				mx = z[j];
		double sum = 0;
		for (int j = 0; j < V; j++) {
			z[j] = (real)exp(z[j] - mx);
			sum += z[j];
		}
		real target_z = z[target[i]];
		real inv = (real)(1 / sum);
		for (int j = 0; j < V; j++)
			z[j] *= inv;
		/* From the unnormalised value, so that a tiny probability
		 * does not round to zero before the log. */
		losses[i] = (real)(log(sum) - log((double)target_z));
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

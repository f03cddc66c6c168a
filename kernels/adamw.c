/* adamw: Adam with decoupled weight decay (Loshchilov & Hutter), as
 * PyTorch's AdamW applies it. */
#include <math.h>

#include "kernels.h"
#include "mathfun.h"

#define ADAMW_SPAN 16384

KERN_CLONES static void adamw_span(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1,
				   float beta2, float eps, float wd, float c1, float c2, float gscale)
{
	for (size_t i = 0; i < n; i++) {
		float gi = g[i] * gscale;
		float mi = beta1 * m[i] + (1 - beta1) * gi;
		float vi = beta2 * v[i] + (1 - beta2) * gi * gi;
		m[i] = mi;
		v[i] = vi;
		p[i] -= lr * (mi / c1 / (sqrtf(vi / c2) + eps) + wd * p[i]);
	}
}

void adamw_cpu(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
	       float eps, float wd, float gscale, int64_t step)
{
	float c1 = 1 - powf(beta1, (float)step), c2 = 1 - powf(beta2, (float)step);
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i += ADAMW_SPAN)
		adamw_span(p + i, g + i, m + i, v + i, n - i < ADAMW_SPAN ? n - i : ADAMW_SPAN, lr, beta1, beta2, eps,
			   wd, c1, c2, gscale);
}

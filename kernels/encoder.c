/* encoder: token plus position embeddings (or the token's alone). */
#include "kernels.h"
#include "blas.h"

void encoder_forward_cpu(real *out, const uint32_t *tok, const real *wte, const real *wpe, int B, int T, int C)
{
#pragma omp parallel for schedule(static)
	for (int i = 0; i < B * T; i++) {
		const real *e = wte + (size_t)tok[i] * C;
		real *o = out + (size_t)i * C;
		if (!wpe) {
			for (int c = 0; c < C; c++)
				o[c] = e[c];
			continue;
		}
		const real *p = wpe + (size_t)(i % T) * C;
		for (int c = 0; c < C; c++)
			o[c] = e[c] + p[c];
	}
}

/* Split by channel so that each thread adds the rows in input order: the
 * same token may appear many times, and the sums must not depend on which
 * thread got there first. */
void encoder_backward_cpu(real *dwte, real *dwpe, const real *dout, const uint32_t *tok, int B, int T, int C)
{
#pragma omp parallel for schedule(static)
	for (int c0 = 0; c0 < C; c0 += KERN_COL_CHUNK) {
		int c1 = c0 + KERN_COL_CHUNK < C ? c0 + KERN_COL_CHUNK : C;
		for (int i = 0; i < B * T; i++) {
			const real *d = dout + (size_t)i * C;
			real *e = dwte + (size_t)tok[i] * C;
			for (int c = c0; c < c1; c++)
				e[c] += d[c];
			if (dwpe) {
				real *p = dwpe + (size_t)(i % T) * C;
				for (int c = c0; c < c1; c++)
					p[c] += d[c];
			}
		}
	}
}

/* rope: rotary position embedding, transformers' rotate_half convention:
 * within each head of hs channels, the pair (i, i + hs/2) is turned by the
 * angle pos * theta^(-2i/hs), whose cosine and sine the caller tabulates. */
#include "kernels.h"

static void rotate(real *x, const real *cosv, const real *sinv, const int *pos, int T, int N, int NH, int hs,
		   real sign)
{
	int half = hs / 2;
#pragma omp parallel for schedule(static)
	for (int r = 0; r < N; r++) {
		int p = pos ? pos[r] : r % T;
		const real *cs = cosv + (size_t)p * half, *sn = sinv + (size_t)p * half;
		for (int h = 0; h < NH; h++) {
			real *a = x + ((size_t)r * NH + h) * hs, *b = a + half;
			for (int i = 0; i < half; i++) {
				real c = cs[i], s = sign * sn[i], u = a[i], v = b[i];
				a[i] = u * c - v * s;
				b[i] = v * c + u * s;
			}
		}
	}
}

void rope_forward_cpu(real *x, const real *cosv, const real *sinv, const int *pos, int T, int N, int NH, int hs)
{
	rotate(x, cosv, sinv, pos, T, N, NH, hs, 1);
}

/* The rotation is orthogonal: its gradient turns by the opposite angle. */
void rope_backward_cpu(real *dx, const real *cosv, const real *sinv, const int *pos, int T, int N, int NH, int hs)
{
	rotate(dx, cosv, sinv, pos, T, N, NH, hs, -1);
}

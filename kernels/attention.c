/* attention: causal multi-head self-attention, softmax(q k^T / sqrt(hs)) v. */
#include <math.h>
#include <string.h>

#include "kernels.h"

void attention_forward_cpu(real *out, real *att, const real *qkv, int B, int T, int C, int NH)
{
	int hs = C / NH;
	size_t C3 = (size_t)3 * C;
	real scale = (real)(1.0 / sqrt((double)hs));
	/* Row t costs t+1 dot products: deal the rows out one by one so the
	 * threads get even shares of the triangle. */
#pragma omp parallel for collapse(3) schedule(static, 1)
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++) {
				const real *q = qkv + (size_t)(b * T + t) * C3 + (size_t)h * hs;
				real *a = att + (((size_t)b * NH + h) * T + t) * T;
				real mx = -INFINITY;
				for (int t2 = 0; t2 <= t; t2++) {
					const real *k = qkv + (size_t)(b * T + t2) * C3 + C + (size_t)h * hs;
					real s = 0;
					for (int i = 0; i < hs; i++)
						s += q[i] * k[i];
					s *= scale;
					a[t2] = s;
					if (s > mx)
						mx = s;
				}
				real sum = 0;
				for (int t2 = 0; t2 <= t; t2++) {
					a[t2] = (real)exp(a[t2] - mx);
					sum += a[t2];
				}
				real inv = 1 / sum;
				for (int t2 = 0; t2 <= t; t2++)
					a[t2] *= inv;
				for (int t2 = t + 1; t2 < T; t2++)
					a[t2] = 0;
				real *o = out + (size_t)(b * T + t) * C + (size_t)h * hs;
				memset(o, 0, sizeof(*o) * hs);
				for (int t2 = 0; t2 <= t; t2++) {
					const real *v = qkv + (size_t)(b * T + t2) * C3 + 2 * (size_t)C + (size_t)h * hs;
					for (int i = 0; i < hs; i++)
						o[i] += a[t2] * v[i];
				}
			}
}

/* By head: key and value gradients gather from every later position, so
 * one thread owns a head's whole sequence. */
void attention_backward_cpu(real *dqkv, real *datt, const real *dout, const real *qkv, const real *att,
			    int B, int T, int C, int NH)
{
	int hs = C / NH;
	size_t C3 = (size_t)3 * C;
	real scale = (real)(1.0 / sqrt((double)hs));
#pragma omp parallel for collapse(2) schedule(static)
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++) {
				size_t row = (((size_t)b * NH + h) * T + t) * T;
				const real *a = att + row;
				real *da = datt + row;
				const real *q = qkv + (size_t)(b * T + t) * C3 + (size_t)h * hs;
				real *dq = dqkv + (size_t)(b * T + t) * C3 + (size_t)h * hs;
				const real *dy = dout + (size_t)(b * T + t) * C + (size_t)h * hs;
				real dot = 0;
				for (int t2 = 0; t2 <= t; t2++) {
					size_t off = (size_t)(b * T + t2) * C3 + 2 * (size_t)C + (size_t)h * hs;
					const real *v = qkv + off;
					real *dv = dqkv + off;
					real s = 0;
					for (int i = 0; i < hs; i++) {
						s += dy[i] * v[i];
						dv[i] += a[t2] * dy[i];
					}
					da[t2] = s;
					dot += a[t2] * s;
				}
				for (int t2 = 0; t2 <= t; t2++) {
					size_t off = (size_t)(b * T + t2) * C3 + C + (size_t)h * hs;
					const real *k = qkv + off;
					real *dk = dqkv + off;
					real dpre = a[t2] * (da[t2] - dot) * scale;
					for (int i = 0; i < hs; i++) {
						dq[i] += dpre * k[i];
						dk[i] += dpre * q[i];
					}
				}
			}
}

/* attention: causal multi-head self-attention, softmax(q k^T / sqrt(hs)) v.
 *
 * Head by head through the BLAS: the scores are one T x T product (the
 * masked half is computed and then overwritten, which costs less than
 * leaving the BLAS), the outputs another.  Each thread owns whole heads,
 * and a BLAS call inside a parallel region runs on its caller's thread,
 * so the results do not depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "blas.h"
#include "mathfun.h"

#ifdef SLUICE_REAL_DOUBLE
#define EXP(x) exp(x)
#else
#define EXP(x) k_expf(x)
#endif

/* Softmax of row[0..n) in place (n >= 1), the rest of the T-wide row 0. */
KERN_CLONES static void causal_softmax_row(real *row, int n, int T)
{
	real mx = row[0];
	for (int i = 1; i < n; i++)
		mx = row[i] > mx ? row[i] : mx;
	real sum = 0;
	for (int i = 0; i < n; i++) {
		row[i] = EXP(row[i] - mx);
		sum += row[i];
	}
	real inv = 1 / sum;
	for (int i = 0; i < n; i++)
		row[i] *= inv;
	for (int i = n; i < T; i++)
		row[i] = 0;
}

/* ds = p * (dp - sum(p * dp)) * scale over row[0..n); p is 0 beyond. */
KERN_CLONES static void softmax_backward_row(real *dp, const real *p, int n, int T, real scale)
{
	real dot = 0;
	for (int i = 0; i < n; i++)
		dot += p[i] * dp[i];
	for (int i = 0; i < n; i++)
		dp[i] = p[i] * (dp[i] - dot) * scale;
	for (int i = n; i < T; i++)
		dp[i] = 0;
}

void attention_forward_cpu(real *out, real *att, const real *qkv, int B, int T, int C, int NH)
{
	int hs = C / NH, C3 = 3 * C;
	real scale = (real)(1.0 / sqrt((double)hs));
#pragma omp parallel for collapse(2) schedule(static)
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++) {
			const real *q = qkv + (size_t)b * T * C3 + (size_t)h * hs, *k = q + C, *v = q + 2 * C;
			real *s = att + ((size_t)b * NH + h) * T * T;
			GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, C3, k, C3, 0, s, T);
			for (int t = 0; t < T; t++)
				causal_softmax_row(s + (size_t)t * T, t + 1, T);
			real *o = out + (size_t)b * T * C + (size_t)h * hs;
			GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1, s, T, v, C3, 0, o, C);
		}
}

void attention_backward_cpu(real *dqkv, real *datt, const real *dout, const real *qkv, const real *att,
			    int B, int T, int C, int NH)
{
	int hs = C / NH, C3 = 3 * C;
	real scale = (real)(1.0 / sqrt((double)hs));
#pragma omp parallel for collapse(2) schedule(static)
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++) {
			size_t qoff = (size_t)b * T * C3 + (size_t)h * hs;
			const real *q = qkv + qoff, *k = q + C, *v = q + 2 * C;
			real *dq = dqkv + qoff, *dk = dq + C, *dv = dq + 2 * C;
			const real *p = att + ((size_t)b * NH + h) * T * T;
			real *dp = datt + ((size_t)b * NH + h) * T * T;
			const real *dy = dout + (size_t)b * T * C + (size_t)h * hs;
			GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1, dy, C, v, C3, 0, dp, T);
			GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1, p, T, dy, C, 1, dv, C3);
			for (int t = 0; t < T; t++)
				softmax_backward_row(dp + (size_t)t * T, p + (size_t)t * T, t + 1, T, scale);
			GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1, dp, T, k, C3, 1, dq, C3);
			GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1, dp, T, q, C3, 1, dk, C3);
		}
}

void attention_decode_cpu(real *out, real *scores, real *kc, real *vc, const real *qkv, const int *slot,
			  const int *pos, int n, int C, int NH, int maxlen)
{
	int hs = C / NH;
	real scale = (real)(1.0 / sqrt((double)hs));
	for (int i = 0; i < n; i++) {
		size_t at = ((size_t)slot[i] * maxlen + pos[i]) * C;
		memcpy(kc + at, qkv + (size_t)i * 3 * C + C, (size_t)C * sizeof(real));
		memcpy(vc + at, qkv + (size_t)i * 3 * C + 2 * C, (size_t)C * sizeof(real));
	}
#pragma omp parallel for collapse(2) schedule(static)
	for (int i = 0; i < n; i++)
		for (int h = 0; h < NH; h++) {
			const real *q = qkv + (size_t)i * 3 * C + (size_t)h * hs;
			const real *k = kc + (size_t)slot[i] * maxlen * C + (size_t)h * hs;
			const real *v = vc + (size_t)slot[i] * maxlen * C + (size_t)h * hs;
			int len = pos[i] + 1;
			real *s = scores + ((size_t)i * NH + h) * maxlen;
			/* The same arithmetic as the full pass: dot products, then
			 * the row's softmax, then the weighted sum. */
			GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, 1, len, hs, scale, q, 3 * C, k, C, 0, s, len);
			causal_softmax_row(s, len, len);
			real *o = out + (size_t)i * C + (size_t)h * hs;
			GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, hs, len, 1, s, len, v, C, 0, o, C);
		}
}

/* Grouped-query attention over separate q, k, v: as above, head by head,
 * with query head h reading key/value head h / (NH / NKV). */
void gqa_forward_cpu(real *out, real *att, const real *q, const real *k, const real *v, int B, int T, int NH,
		     int NKV, int hs)
{
	int QD = NH * hs, KD = NKV * hs, group = NH / NKV;
	real scale = (real)(1.0 / sqrt((double)hs));
#pragma omp parallel for collapse(2) schedule(static)
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++) {
			const real *qh = q + (size_t)b * T * QD + (size_t)h * hs;
			const real *kh = k + (size_t)b * T * KD + (size_t)(h / group) * hs;
			const real *vh = v + (size_t)b * T * KD + (size_t)(h / group) * hs;
			real *s = att + ((size_t)b * NH + h) * T * T;
			GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, qh, QD, kh, KD, 0, s, T);
			for (int t = 0; t < T; t++)
				causal_softmax_row(s + (size_t)t * T, t + 1, T);
			real *o = out + (size_t)b * T * QD + (size_t)h * hs;
			GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1, s, T, vh, KD, 0, o, QD);
		}
}

/* Each thread owns a key/value head and the query heads reading it, which
 * add into its key and value gradients in head order. */
void gqa_backward_cpu(real *dq, real *dk, real *dv, real *datt, const real *dout, const real *q, const real *k,
		      const real *v, const real *att, int B, int T, int NH, int NKV, int hs)
{
	int QD = NH * hs, KD = NKV * hs, group = NH / NKV;
	real scale = (real)(1.0 / sqrt((double)hs));
#pragma omp parallel for collapse(2) schedule(static)
	for (int b = 0; b < B; b++)
		for (int g = 0; g < NKV; g++) {
			size_t koff = (size_t)b * T * KD + (size_t)g * hs;
			const real *kh = k + koff, *vh = v + koff;
			real *dkh = dk + koff, *dvh = dv + koff;
			for (int h = g * group; h < (g + 1) * group; h++) {
				size_t qoff = (size_t)b * T * QD + (size_t)h * hs;
				const real *qh = q + qoff, *dy = dout + qoff;
				real *dqh = dq + qoff;
				const real *p = att + ((size_t)b * NH + h) * T * T;
				real *dp = datt + ((size_t)b * NH + h) * T * T;
				GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1, dy, QD, vh, KD, 0, dp, T);
				GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1, p, T, dy, QD, 1, dvh, KD);
				for (int t = 0; t < T; t++)
					softmax_backward_row(dp + (size_t)t * T, p + (size_t)t * T, t + 1, T, scale);
				GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1, dp, T, kh, KD, 1, dqh, QD);
				GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1, dp, T, qh, QD, 1, dkh, KD);
			}
		}
}

void gqa_decode_cpu(real *out, real *scores, real *kc, real *vc, const real *q, const real *k, const real *v,
		    const int *slot, const int *pos, int n, int NH, int NKV, int hs, int maxlen)
{
	int QD = NH * hs, KD = NKV * hs, group = NH / NKV;
	real scale = (real)(1.0 / sqrt((double)hs));
	for (int i = 0; i < n; i++) {
		size_t at = ((size_t)slot[i] * maxlen + pos[i]) * KD;
		memcpy(kc + at, k + (size_t)i * KD, (size_t)KD * sizeof(real));
		memcpy(vc + at, v + (size_t)i * KD, (size_t)KD * sizeof(real));
	}
#pragma omp parallel for collapse(2) schedule(static)
	for (int i = 0; i < n; i++)
		for (int h = 0; h < NH; h++) {
			const real *qh = q + (size_t)i * QD + (size_t)h * hs;
			const real *kh = kc + (size_t)slot[i] * maxlen * KD + (size_t)(h / group) * hs;
			const real *vh = vc + (size_t)slot[i] * maxlen * KD + (size_t)(h / group) * hs;
			int len = pos[i] + 1;
			real *s = scores + ((size_t)i * NH + h) * maxlen;
			GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, 1, len, hs, scale, qh, QD, kh, KD, 0, s, len);
			causal_softmax_row(s, len, len);
			real *o = out + (size_t)i * QD + (size_t)h * hs;
			GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, hs, len, 1, s, len, vh, KD, 0, o, QD);
		}
}

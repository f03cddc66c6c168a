/* muon: the update of Muon (Jordan et al., 2024) for one weight matrix:
 * Nesterov momentum, then the quintic Newton-Schulz iteration that takes
 * the update towards the nearest semi-orthogonal matrix, in float.  The
 * iteration's products go to BLAS sgemm (float in every build, as the
 * optimizer state is). */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "kernels.h"

/* The published coefficients: a fast-converging quintic whose fixed point
 * is not exactly 1, so singular values end near 1 rather than at it. */
#define NS_A 3.4445f
#define NS_B -4.7750f
#define NS_C 2.0315f

size_t newton_schulz_scratch(int rows, int cols)
{
	size_t r = (size_t)(rows < cols ? rows : cols), c = (size_t)(rows < cols ? cols : rows);
	return 2 * r * c + 2 * r * r;
}

void newton_schulz_cpu(float *x, int rows, int cols, int steps, float *scratch)
{
	/* Work on the wide orientation (r <= c), so the Gram matrix is r x r. */
	int wide = rows <= cols, r = wide ? rows : cols, c = wide ? cols : rows;
	size_t rc = (size_t)r * (size_t)c;
	float *X = scratch, *Y = X + rc, *A = Y + rc, *B = A + (size_t)r * r;
	double ss = 0;
	for (size_t i = 0; i < rc; i++)
		ss += (double)x[i] * x[i];
	float inv = (float)(1.0 / (sqrt(ss) + 1e-7));
	if (wide) {
		for (size_t i = 0; i < rc; i++)
			X[i] = x[i] * inv;
	} else {
		for (int i = 0; i < rows; i++)
			for (int j = 0; j < cols; j++)
				X[(size_t)j * c + i] = x[(size_t)i * cols + j] * inv;
	}
	for (int s = 0; s < steps; s++) {
		/* A = X X^T; B = b A + c A A; X = a X + B X */
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, r, c, 1.0f, X, c, 0.0f, A, r);
		for (int i = 0; i < r; i++)
			for (int j = 0; j < i; j++)
				A[(size_t)i * r + j] = A[(size_t)j * r + i];
		memcpy(B, A, (size_t)r * r * sizeof(*B));
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, r, r, NS_C, A, r, A, r, NS_B, B, r);
		memcpy(Y, X, rc * sizeof(*Y));
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, c, r, 1.0f, B, r, X, c, NS_A, Y, c);
		float *t = X;
		X = Y;
		Y = t;
	}
	if (wide) {
		memcpy(x, X, rc * sizeof(*x));
	} else {
		for (int i = 0; i < rows; i++)
			for (int j = 0; j < cols; j++)
				x[(size_t)i * cols + j] = X[(size_t)j * c + i];
	}
}

void muon_cpu(float *p, const float *g, float *buf, int rows, int cols, int blocks, float lr, float momentum,
	      float gscale, float *scratch)
{
	size_t n = (size_t)rows * (size_t)cols;
	int bc = cols / blocks;
	float *u = scratch, *ns = scratch + (size_t)rows * bc;
	/* momentum: buf = mu buf + g; Nesterov: the update is g + mu buf */
	for (size_t i = 0; i < n; i++)
		buf[i] = momentum * buf[i] + g[i] * gscale;
	for (int k = 0; k < blocks; k++) {
		for (int i = 0; i < rows; i++)
			for (int j = 0; j < bc; j++) {
				size_t at = (size_t)i * cols + (size_t)k * bc + j;
				u[(size_t)i * bc + j] = g[at] * gscale + momentum * buf[at];
			}
		newton_schulz_cpu(u, rows, bc, 5, ns);
		/* Weights are [IN, OUT]: fan-out over fan-in, at least 1. */
		float scale = lr * sqrtf(bc > rows ? (float)bc / (float)rows : 1.0f);
		for (int i = 0; i < rows; i++)
			for (int j = 0; j < bc; j++)
				p[(size_t)i * cols + (size_t)k * bc + j] -= scale * u[(size_t)i * bc + j];
	}
}

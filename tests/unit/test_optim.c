/* test_optim.c: Muon's Newton-Schulz step (how near orthogonal its result
 * is on random matrices, and against the same iteration in double
 * precision written out here), and one Muon step of a small model against
 * its parts: the matrices' update from newton_schulz_cpu, AdamW for the
 * rest. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels.h"
#include "model.h"
#include "optim.h"
#include "util.h"

static uint64_t lcg = 12345;

static double gauss(void)
{
	double u = 0;
	for (int i = 0; i < 12; i++) {
		lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
		u += (double)(lcg >> 11) / 9007199254740992.0;
	}
	return u - 6;
}

/* The eigenvalues of the symmetric n x n matrix a (destroyed), by cyclic
 * Jacobi rotations, into ev. */
static void jacobi_eigen(double *a, int n, double *ev)
{
	for (int sweep = 0; sweep < 100; sweep++) {
		double off = 0;
		for (int i = 0; i < n; i++)
			for (int j = i + 1; j < n; j++)
				off += a[i * n + j] * a[i * n + j];
		if (off < 1e-22)
			break;
		for (int p = 0; p < n; p++)
			for (int q = p + 1; q < n; q++) {
				double apq = a[p * n + q];
				if (fabs(apq) < 1e-300)
					continue;
				double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
				double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
				double c = 1 / sqrt(t * t + 1), s = t * c;
				for (int k = 0; k < n; k++) {
					double akp = a[k * n + p], akq = a[k * n + q];
					a[k * n + p] = c * akp - s * akq;
					a[k * n + q] = s * akp + c * akq;
				}
				for (int k = 0; k < n; k++) {
					double apk = a[p * n + k], aqk = a[q * n + k];
					a[p * n + k] = c * apk - s * aqk;
					a[q * n + k] = s * apk + c * aqk;
				}
			}
	}
	for (int i = 0; i < n; i++)
		ev[i] = a[i * n + i];
}

/* The same iteration in double, plainly: X = G / |G|; on the wide side,
 * steps of X = a X + (b A + c A A) X, A = X X^T. */
static void ns_double(const float *g, double *out, int rows, int cols, int steps)
{
	int wide = rows <= cols, r = wide ? rows : cols, c = wide ? cols : rows;
	double *X = xmalloc((size_t)r * c * sizeof(double)), *Y = xmalloc((size_t)r * c * sizeof(double));
	double *A = xmalloc((size_t)r * r * sizeof(double)), *B = xmalloc((size_t)r * r * sizeof(double));
	double ss = 0;
	for (int i = 0; i < rows * cols; i++)
		ss += (double)g[i] * g[i];
	double inv = 1 / (sqrt(ss) + 1e-7);
	for (int i = 0; i < rows; i++)
		for (int j = 0; j < cols; j++)
			X[wide ? i * c + j : j * c + i] = g[i * cols + j] * inv;
	for (int s = 0; s < steps; s++) {
		for (int i = 0; i < r; i++)
			for (int j = 0; j < r; j++) {
				double d = 0;
				for (int k = 0; k < c; k++)
					d += X[i * c + k] * X[j * c + k];
				A[i * r + j] = d;
			}
		for (int i = 0; i < r; i++)
			for (int j = 0; j < r; j++) {
				double d = 0;
				for (int k = 0; k < r; k++)
					d += A[i * r + k] * A[k * r + j];
				B[i * r + j] = -4.7750 * A[i * r + j] + 2.0315 * d;
			}
		for (int i = 0; i < r; i++)
			for (int j = 0; j < c; j++) {
				double d = 0;
				for (int k = 0; k < r; k++)
					d += B[i * r + k] * X[k * c + j];
				Y[i * c + j] = 3.4445 * X[i * c + j] + d;
			}
		memcpy(X, Y, (size_t)r * c * sizeof(double));
	}
	for (int i = 0; i < rows; i++)
		for (int j = 0; j < cols; j++)
			out[i * cols + j] = X[wide ? i * c + j : j * c + i];
	free(X);
	free(Y);
	free(A);
	free(B);
}

/* The singular values of x [rows, cols] (float), smallest and largest. */
static void sv_range(const float *x, int rows, int cols, double *lo, double *hi)
{
	int r = rows < cols ? rows : cols;
	double *a = xmalloc((size_t)r * r * sizeof(double)), *ev = xmalloc((size_t)r * sizeof(double));
	for (int i = 0; i < r; i++)
		for (int j = 0; j < r; j++) {
			double d = 0;
			if (rows <= cols)
				for (int k = 0; k < cols; k++)
					d += (double)x[i * cols + k] * x[j * cols + k];
			else
				for (int k = 0; k < rows; k++)
					d += (double)x[k * cols + i] * x[k * cols + j];
			a[i * r + j] = d;
		}
	jacobi_eigen(a, r, ev);
	*lo = INFINITY;
	*hi = 0;
	for (int i = 0; i < r; i++) {
		double s = sqrt(ev[i] > 0 ? ev[i] : 0);
		*lo = s < *lo ? s : *lo;
		*hi = s > *hi ? s : *hi;
	}
	free(a);
	free(ev);
}

/* Five steps take every singular value of a random Gaussian matrix (the
 * smallest 0.015 to 0.27 of the largest here) into [0.6, 1.2], where the
 * published coefficients leave them (they trade exactness for speed: the
 * iteration does not converge to 1 but oscillates near it; here
 * 0.68..1.19); float and double agree to 5e-6 in every entry. */
static void test_newton_schulz(void)
{
	static const int shapes[][2] = { { 48, 80 }, { 96, 40 }, { 64, 64 }, { 128, 384 } };
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		int rows = shapes[s][0], cols = shapes[s][1];
		size_t n = (size_t)rows * cols;
		float *g = xmalloc(n * sizeof(float)), *x = xmalloc(n * sizeof(float));
		float *scratch = xmalloc(newton_schulz_scratch(rows, cols) * sizeof(float));
		double *ref = xmalloc(n * sizeof(double));
		for (size_t i = 0; i < n; i++)
			g[i] = (float)gauss();
		double glo, ghi, lo, hi;
		sv_range(g, rows, cols, &glo, &ghi);
		memcpy(x, g, n * sizeof(float));
		newton_schulz_cpu(x, rows, cols, 5, scratch);
		sv_range(x, rows, cols, &lo, &hi);
		ns_double(g, ref, rows, cols, 5);
		double diff = 0;
		for (size_t i = 0; i < n; i++)
			diff = fmax(diff, fabs(x[i] - ref[i]));
		printf("# %dx%d: singular values %.3f..%.3f (input ratio %.3f) -> %.4f..%.4f; |float - double| %.2e\n",
		       rows, cols, glo, ghi, glo / ghi, lo, hi, diff);
		CHECK(lo >= 0.6 && hi <= 1.2);
		CHECK(diff < 5e-6);
		free(g);
		free(x);
		free(scratch);
		free(ref);
	}
}

/* One step of a small model under Muon from zero state: each weight matrix
 * moves by -lr * sqrt(max(1, fan_out / fan_in)) * NS5((1 + momentum) g)
 * (the fused query/key/value matrix by thirds; fan-out the rows of an
 * [OUT, IN] matrix of the Llama family), everything else (embeddings, an
 * untied head, norms, biases) as AdamW moves it; the momentum kept is g. */
static void muon_step(const model_config *cfg, int want_muon)
{
	model_config c = *cfg;
	model *m = model_new(&c, &kern_cpu);
	model_init(m, 7);
	size_t n = model_nparams(m);
	float *p = model_params(m), *g = model_grads(m);
	for (size_t i = 0; i < n; i++)
		g[i] = (float)(0.01 * gauss());
	float *p0 = xmalloc(n * sizeof(float));
	memcpy(p0, p, n * sizeof(float));
	optim_opts o;
	optim_opts_default(&o);
	o.kind = OPTIM_MUON;
	o.clip = 0;
	o.lr = 1e-3;
	o.muon_lr = 0.02;
	optim *op = optim_new(&kern_cpu, n);
	optim_step(op, m, &o, 5e-4); /* half the peak: Muon's rate halves too */
	int muon = 0, adam = 0;
	for (size_t i = 0; i < model_ntensors(m); i++) {
		const model_tensor *t = model_tensor_at(m, i);
		double worst = 0;
		if (optim_muon_tensor(t)) {
			muon++;
			int rows = (int)t->shape[0], cols = (int)t->shape[1];
			int b = strstr(t->name, "c_attn") ? 3 : 1, bc = cols / b;
			float *u = xmalloc((size_t)rows * bc * sizeof(float));
			float *sc = xmalloc(newton_schulz_scratch(rows, bc) * sizeof(float));
			int fan_in = t->out_in ? bc : rows, fan_out = t->out_in ? rows : bc;
			float scale = 0.01f * sqrtf(fan_out > fan_in ? (float)fan_out / fan_in : 1);
			for (int k = 0; k < b; k++) {
				for (int r = 0; r < rows; r++)
					for (int j = 0; j < bc; j++)
						u[r * bc + j] = 1.95f * g[t->offset + (size_t)r * cols + k * bc + j];
				newton_schulz_cpu(u, rows, bc, 5, sc);
				for (int r = 0; r < rows; r++)
					for (int j = 0; j < bc; j++) {
						size_t at = t->offset + (size_t)r * cols + k * bc + j;
						worst = fmax(worst, fabs((p0[at] - scale * u[r * bc + j]) - p[at]));
					}
			}
			for (size_t j = 0; j < t->numel; j++)
				worst = fmax(worst, fabs(optim_m(op)[t->offset + j] - g[t->offset + j]) +
							    fabs(optim_v(op)[t->offset + j]));
			free(u);
			free(sc);
		} else {
			adam++;
			float *q = xmalloc(t->numel * sizeof(float)), *mm = xcalloc(t->numel, sizeof(float)),
			      *vv = xcalloc(t->numel, sizeof(float));
			memcpy(q, p0 + t->offset, t->numel * sizeof(float));
			adamw_cpu(q, g + t->offset, mm, vv, t->numel, 5e-4f, 0.9f, 0.95f, 1e-8f,
				  t->decay ? 0.1f : 0, 1, 1);
			for (size_t j = 0; j < t->numel; j++)
				worst = fmax(worst, fabs(q[j] - p[t->offset + j]));
			free(q);
			free(mm);
			free(vv);
		}
		if (worst > 1e-6) {
			fprintf(stderr, "%s: off by %g\n", t->name, worst);
			CHECK(0);
		}
	}
	CHECK_EQ_INT(muon, want_muon);
	CHECK(adam > 0);
	CHECK(optim_step_flops(m, &o) > 0);
	o.kind = OPTIM_ADAMW;
	CHECK(optim_step_flops(m, &o) == 0);
	optim_free(op);
	free(p0);
	model_free(m);
}

static void test_muon_step(void)
{
	model_config gpt2 = { .n_layer = 2, .n_embd = 32, .n_head = 2, .n_ctx = 16, .n_vocab = 50 };
	muon_step(&gpt2, 8); /* c_attn, attn.c_proj, c_fc, mlp.c_proj in 2 blocks */
	model_config modern = { .n_layer = 2, .n_embd = 32, .n_head = 2, .n_ctx = 16, .n_vocab = 50,
				.family = MODEL_LLAMA, .n_ff = 80, .norm = MODEL_RMSNORM, .mlp = MODEL_SWIGLU,
				.rope = 1, .qk_norm = 1, .untied = 1 };
	muon_step(&modern, 14); /* q, k, v, o, gate, up, down in 2 blocks */
}

/* The gradient norm is the table's: a backend whose sum of squares says 64
 * gives a norm of 8, and clipping to 1 scales the update by 1/8 (AdamW's
 * first step moves each parameter by about lr whatever the scale, so the
 * first moment shows it). */
static double sum_squares_64(const float *x, size_t n)
{
	(void)x;
	(void)n;
	return 64;
}

static void test_norm_through_table(void)
{
	kern_ops k = kern_cpu;
	k.sum_squares = sum_squares_64;
	model_config c = { .n_layer = 1, .n_embd = 8, .n_head = 2, .n_ctx = 4, .n_vocab = 11 };
	model *m = model_new(&c, &k);
	model_init(m, 7);
	size_t n = model_nparams(m);
	float *g = model_grads(m);
	for (size_t i = 0; i < n; i++)
		g[i] = 0.5f;
	optim_opts o;
	optim_opts_default(&o);
	optim *op = optim_new(&k, n);
	double norm = optim_step(op, m, &o, 1e-3);
	CHECK(norm == 8);
	/* m = (1 - beta1) * g * scale, 1 - beta1 in float */
	CHECK(fabs(optim_m(op)[0] - 0.1 * 0.5 / 8) < 1e-8);
	optim_free(op);
	model_free(m);
}

int main(void)
{
	kern_cpu_threads(1);
	RUN(test_newton_schulz);
	RUN(test_muon_step);
	RUN(test_norm_through_table);
	CHECK_EXIT();
}

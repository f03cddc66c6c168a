/* test_gradcheck: the model's analytic gradients against central finite
 * differences, everything in double precision (this test builds lib/model.c
 * and kernels/ with SLUICE_REAL_DOUBLE). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"
#include "util.h"

/* Central differences have error O(h^2) ~ 1e-10 here and rounding error
 * ~ 1e-16 * loss / h ~ 1e-11.  Entries whose gradient is above TINY are
 * compared relatively, the rest (the key bias's gradient is exactly zero:
 * softmax ignores a shift common to a row) absolutely.  A wrong term in
 * the backward pass is off by order 1. */
#define H 1e-5
#define TOLERANCE 1e-5
#define TINY 1e-7
#define ABS_TOLERANCE 1e-9

static model_config tiny = { .n_layer = 2, .n_embd = 8, .n_head = 2, .n_ctx = 6, .n_vocab = 11 };
enum { B = 2, T = 5 };
static uint32_t inp[B * T], tgt[B * T];
static real weight[B * T];

static double loss_of(model *m)
{
	return model_forward(m, inp, tgt, weight, B, T);
}

/* The largest relative error |a - n| / (|a| + |n|) over a tensor's
 * entries; *abs_err gets the largest |a - n| among the tiny ones. */
static double check_tensor(model *m, const model_tensor *t, const real *grad, double *abs_err)
{
	*abs_err = 0;
	real *p = model_params(m) + t->offset;
	double worst = 0;
	for (size_t i = 0; i < t->numel; i++) {
		real keep = p[i];
		p[i] = keep + H;
		double up = loss_of(m);
		p[i] = keep - H;
		double down = loss_of(m);
		p[i] = keep;
		double num = (up - down) / (2 * H), ana = grad[t->offset + i];
		double scale = fabs(num) + fabs(ana), diff = fabs(num - ana);
		if (scale < TINY) {
			if (diff > *abs_err)
				*abs_err = diff;
		} else if (diff / scale > worst) {
			worst = diff / scale;
		}
	}
	return worst;
}

static void test_every_tensor(void)
{
	srand(7);
	for (int i = 0; i < B * T; i++) {
		inp[i] = (uint32_t)(rand() % tiny.n_vocab);
		tgt[i] = (uint32_t)(rand() % tiny.n_vocab);
		weight[i] = (i % 4 == 3) ? 0 : 1.0 / (B * T); /* a loss mask */
	}
	model *m = model_new(&tiny, &kern_cpu);
	model_init(m, 42);
	/* Move norms and biases off 1 and 0 so their gradients are
	 * exercised in general position. */
	real *p = model_params(m);
	for (size_t i = 0; i < model_ntensors(m); i++) {
		const model_tensor *t = model_tensor_at(m, i);
		if (t->ndim == 1)
			for (size_t j = 0; j < t->numel; j++)
				p[t->offset + j] += 0.1 * sin((double)(j + 3 * i));
		else
			for (size_t j = 0; j < t->numel; j++)
				p[t->offset + j] *= 10; /* sharper attention */
	}
	model_zero_grad(m);
	loss_of(m);
	model_backward(m);
	real *grad = xmalloc(model_nparams(m) * sizeof(real));
	memcpy(grad, model_grads(m), model_nparams(m) * sizeof(real));
	double worst = 0;
	for (size_t i = 0; i < model_ntensors(m); i++) {
		const model_tensor *t = model_tensor_at(m, i);
		double a, e = check_tensor(m, t, grad, &a);
		printf("# %-24s max relative error %.2e, absolute (tiny entries) %.1e\n", t->name, e, a);
		CHECK(e < TOLERANCE);
		CHECK(a < ABS_TOLERANCE);
		if (e > worst)
			worst = e;
	}
	printf("# worst relative error %.2e (tolerance %.0e)\n", worst, TOLERANCE);
	free(grad);
	model_free(m);
}

/* Two backward passes add up: gradient accumulation over micro-batches. */
static void test_accumulates(void)
{
	model *m = model_new(&tiny, &kern_cpu);
	model_init(m, 3);
	model_zero_grad(m);
	loss_of(m);
	model_backward(m);
	size_t n = model_nparams(m);
	real *once = xmalloc(n * sizeof(real));
	memcpy(once, model_grads(m), n * sizeof(real));
	loss_of(m);
	model_backward(m);
	int ok = 1;
	for (size_t i = 0; i < n; i++)
		if (fabs(model_grads(m)[i] - 2 * once[i]) > 1e-12 * (1 + fabs(once[i])))
			ok = 0;
	CHECK(ok);
	free(once);
	model_free(m);
}

int main(void)
{
	RUN(test_every_tensor);
	RUN(test_accumulates);
	CHECK_EXIT();
}

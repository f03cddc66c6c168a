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
 * ~ 1e-16 * loss / h ~ 1e-11 (up to 1.5e-11 seen).  Entries whose gradient
 * is above TINY are compared relatively (the rounding error is then below
 * 2e-6 of them), the rest (the key bias's gradient is exactly zero:
 * softmax ignores a shift common to a row) absolutely.  A wrong term in
 * the backward pass is off by order 1. */
#define H 1e-5
#define TOLERANCE 1e-5
#define TINY 1e-5
#define ABS_TOLERANCE 1e-9

static model_config tiny = { .n_layer = 2, .n_embd = 8, .n_head = 2, .n_ctx = 6, .n_vocab = 11 };

/* The Llama family with every option off (LayerNorm, GELU, learned
 * positions, tied head, query/key/value biases), then each option on by
 * itself, then all of them together. */
#define LLAMA .n_layer = 2, .n_embd = 8, .n_ctx = 6, .n_vocab = 11, .family = MODEL_LLAMA
static const struct {
	const char *what;
	model_config c;
} configs[] = {
	{ "gpt2", { .n_layer = 2, .n_embd = 8, .n_head = 2, .n_ctx = 6, .n_vocab = 11 } },
	{ "llama, every option off", { LLAMA, .n_head = 2 } },
	{ "rmsnorm", { LLAMA, .n_head = 2, .norm = MODEL_RMSNORM, .norm_eps = 1e-6 } },
	{ "swiglu", { LLAMA, .n_head = 2, .mlp = MODEL_SWIGLU } },
	{ "relu2", { LLAMA, .n_head = 2, .mlp = MODEL_RELU2 } },
	{ "n_ff", { LLAMA, .n_head = 2, .n_ff = 12 } },
	{ "rope", { LLAMA, .n_head = 2, .rope = 1, .rope_theta = 100 } },
	{ "gqa", { LLAMA, .n_head = 4, .n_kv_head = 2 } },
	{ "head_dim", { LLAMA, .n_head = 2, .head_dim = 6 } },
	{ "qk_norm", { LLAMA, .n_head = 2, .qk_norm = 1 } },
	{ "untied", { LLAMA, .n_head = 2, .untied = 1 } },
	{ "no_bias", { LLAMA, .n_head = 2, .no_bias = 1 } },
	{ "all on, swiglu", { LLAMA, .n_head = 4, .n_kv_head = 2, .head_dim = 6, .n_ff = 12, .norm = MODEL_RMSNORM,
			      .mlp = MODEL_SWIGLU, .rope = 1, .rope_theta = 100, .qk_norm = 1, .untied = 1,
			      .no_bias = 1, .norm_eps = 1e-6 } },
	{ "all on, relu2", { LLAMA, .n_head = 4, .n_kv_head = 1, .head_dim = 4, .norm = MODEL_RMSNORM,
			     .mlp = MODEL_RELU2, .rope = 1, .qk_norm = 1, .untied = 1, .no_bias = 1 } },
};
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

static void check_config(const char *what, const model_config *c)
{
	char err[256];
	CHECK(model_config_check(c, err, sizeof(err)) == 0);
	srand(7);
	for (int i = 0; i < B * T; i++) {
		inp[i] = (uint32_t)(rand() % c->n_vocab);
		tgt[i] = (uint32_t)(rand() % c->n_vocab);
		weight[i] = (i % 4 == 3) ? 0 : 1.0 / (B * T); /* a loss mask */
	}
	model *m = model_new(c, &kern_cpu);
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
	double worst = 0, worst_abs = 0;
	const char *where = "";
	for (size_t i = 0; i < model_ntensors(m); i++) {
		const model_tensor *t = model_tensor_at(m, i);
		double a, e = check_tensor(m, t, grad, &a);
		if (e >= TOLERANCE || a >= ABS_TOLERANCE)
			printf("# %s: %s max relative error %.2e, absolute (tiny entries) %.1e\n", what, t->name, e, a);
		CHECK(e < TOLERANCE);
		CHECK(a < ABS_TOLERANCE);
		if (e > worst)
			worst = e, where = t->name;
		worst_abs = a > worst_abs ? a : worst_abs;
	}
	printf("# %-24s %3zu tensors: worst relative error %.2e (%s), absolute %.1e (tolerance %.0e)\n", what,
	       model_ntensors(m), worst, where, worst_abs, TOLERANCE);
	free(grad);
	model_free(m);
}

/* Every tensor of every configuration: each option of the Llama family
 * on its own and all together. */
static void test_every_tensor(void)
{
	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++)
		check_config(configs[i].what, &configs[i].c);
}

/* Two backward passes add up: gradient accumulation over micro-batches
 * (GPT-2, and the Llama family with every option on). */
static void accumulates(const model_config *c)
{
	model *m = model_new(c, &kern_cpu);
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

static void test_accumulates(void)
{
	accumulates(&tiny);
	accumulates(&configs[sizeof(configs) / sizeof(configs[0]) - 2].c);
}

int main(void)
{
	RUN(test_every_tensor);
	RUN(test_accumulates);
	CHECK_EXIT();
}

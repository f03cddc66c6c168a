/* test_model: operations on a whole model's parameters. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "model.h"

/* Growing the vocabulary keeps every tensor and gives the new rows the mean
 * of the old ones (of the embedding, and of an untied head); the old
 * tokens' logits do not change. */
static void grow_vocab(const model_config *c, const char *head)
{
	model *m = model_new(c, &kern_cpu);
	model_init(m, 5);
	model *g = model_grow_vocab(m, 31);
	CHECK_EQ_INT(model_cfg(g)->n_vocab, 31);
	CHECK_EQ_INT(model_ntensors(g), model_ntensors(m));
	CHECK(model_nparams(g) == model_nparams(m) + (head ? 2 : 1) * 2 * 16);
	int same = 1;
	for (size_t i = 0; i < model_ntensors(m); i++) {
		const model_tensor *a = model_tensor_at(m, i), *b = model_tensor_at(g, i);
		same &= !strcmp(a->name, b->name);
		same &= !memcmp(model_params(m) + a->offset, model_params(g) + b->offset, a->numel * sizeof(real));
	}
	CHECK(same);
	double worst = 0;
	const char *grown[2] = { model_tensor_at(m, 0)->name, head };
	for (int k = 0; k < (head ? 2 : 1); k++) {
		const real *a = model_params(m) + model_tensor_find(m, grown[k])->offset;
		const real *b = model_params(g) + model_tensor_find(g, grown[k])->offset;
		for (int j = 0; j < 16; j++) {
			double mean = 0;
			for (int v = 0; v < 29; v++)
				mean += a[v * 16 + j] / 29.0;
			for (int v = 29; v < 31; v++)
				worst = fmax(worst, fabs(b[v * 16 + j] - mean));
		}
	}
	printf("# %s: new embedding%s rows: max distance from the mean row %.2e\n", model_tensor_at(m, 0)->name,
	       head ? " and head" : "", worst);
	CHECK(worst < 1e-6);
	uint32_t tok[8] = { 1, 5, 9, 28, 3, 0, 7, 11 };
	model_forward(m, tok, NULL, NULL, 1, 8);
	model_forward(g, tok, NULL, NULL, 1, 8);
	double dl = 0;
	for (int t = 0; t < 8; t++)
		for (int v = 0; v < 29; v++)
			dl = fmax(dl, fabs(model_logits(m)[t * 29 + v] - model_logits(g)[t * 31 + v]));
	printf("# logits of the old tokens: max change %.2e\n", dl);
	CHECK(dl < 1e-5);
	model_free(m);
	model_free(g);
}

static void test_grow_vocab(void)
{
	model_config c = { .n_layer = 2, .n_embd = 16, .n_head = 2, .n_ctx = 8, .n_vocab = 29 };
	grow_vocab(&c, NULL);
	model_config u = { .n_layer = 2, .n_embd = 16, .n_head = 2, .n_ctx = 8, .n_vocab = 29, .family = MODEL_LLAMA,
			   .norm = MODEL_RMSNORM, .mlp = MODEL_SWIGLU, .rope = 1, .untied = 1, .no_bias = 1 };
	grow_vocab(&u, "lm_head.weight");
}

/* The modern presets, and the initialisation per option: norm weights
 * (QK-norm's too) 1, biases 0, matrices N(0, 0.02), the residual
 * projections narrower. */
static void test_presets_and_init(void)
{
	static const char *const names[] = { "llama-d4", "qwen3-d4", "modern-d3" };
	for (int i = 0; i < 3; i++) {
		model_config c = { .n_ctx = 16, .n_vocab = 50 };
		char err[256] = "";
		CHECK(model_config_preset(names[i], &c) == 0);
		CHECK_EQ_INT(c.family, MODEL_LLAMA);
		CHECK_EQ_INT(c.n_ctx, 16);
		CHECK_EQ_INT(c.n_vocab, 50);
		CHECK(model_config_check(&c, err, sizeof(err)) == 0);
		model *m = model_new(&c, &kern_cpu);
		model_init(m, 1);
		int ok = 1;
		for (size_t t = 0; t < model_ntensors(m); t++) {
			const model_tensor *mt = model_tensor_at(m, t);
			const real *p = model_params(m) + mt->offset;
			size_t len = strlen(mt->name);
			double s = 0, ss = 0;
			for (size_t j = 0; j < mt->numel; j++)
				s += p[j], ss += (double)p[j] * p[j];
			double mean = s / mt->numel, sd = sqrt(ss / mt->numel - mean * mean);
			if (len > 11 && !strcmp(mt->name + len - 11, "norm.weight"))
				ok &= mean == 1 && sd == 0;
			else if (len > 5 && !strcmp(mt->name + len - 5, ".bias"))
				ok &= mean == 0 && sd == 0;
			else if (strstr(mt->name, "o_proj") || strstr(mt->name, "down_proj"))
				ok &= fabs(sd - 0.02 / sqrt(2.0 * c.n_layer)) < 0.002;
			else
				ok &= mt->ndim == 2 && fabs(sd - 0.02) < 0.002;
		}
		printf("# %s: %zu tensors, %zu parameters, initialised as stated: %s\n", names[i], model_ntensors(m),
		       model_nparams(m), ok ? "yes" : "NO");
		CHECK(ok);
		model_free(m);
	}
	model_config c = { .n_ctx = 16, .n_vocab = 50 };
	CHECK(model_config_preset("llama-d6", &c) == 0);
	CHECK(c.n_kv_head == 3 && c.n_ff == 1024 && c.untied && c.mlp == MODEL_SWIGLU && c.rope_theta == 500000);
	CHECK(model_config_preset("qwen3-d6", &c) == 0);
	CHECK(c.head_dim == 128 && c.qk_norm && !c.untied && c.norm_eps == 1e-6);
	CHECK(model_config_preset("modern-d6", &c) == 0);
	CHECK(c.mlp == MODEL_RELU2 && c.qk_norm && c.untied && c.n_kv_head == 0);
	CHECK(model_config_preset("modern-d", &c) < 0);
	CHECK(model_config_preset("qwen3-6", &c) < 0);
}

/* Configs the model cannot build are refused with the reason. */
static void test_config_refused(void)
{
	static const struct {
		model_config c;
		const char *why;
	} cases[] = {
		{ { .n_layer = 1, .n_embd = 8, .n_head = 2, .n_ctx = 4, .n_vocab = 9, .rope = 1 }, "family gpt2" },
		{ { .n_layer = 1, .n_embd = 8, .n_head = 2, .n_ctx = 4, .n_vocab = 9, .untied = 1 }, "family gpt2" },
		{ { .n_layer = 1, .n_embd = 8, .n_head = 2, .n_ctx = 4, .n_vocab = 9, .family = 2 }, "family 2" },
		{ { .n_layer = 1, .n_embd = 8, .n_head = 2, .n_ctx = 4, .n_vocab = 9, .family = 1, .norm = 5 }, "norm 5" },
		{ { .n_layer = 1, .n_embd = 8, .n_head = 2, .n_ctx = 4, .n_vocab = 9, .family = 1, .mlp = 3 }, "mlp 3" },
		{ { .n_layer = 1, .n_embd = 8, .n_head = 4, .n_ctx = 4, .n_vocab = 9, .family = 1, .n_kv_head = 3 },
		  "n_kv_head 3" },
		{ { .n_layer = 1, .n_embd = 8, .n_head = 2, .n_ctx = 4, .n_vocab = 9, .family = 1, .head_dim = 3,
		    .rope = 1 }, "even head_dim" },
		{ { .n_layer = 1, .n_embd = 8, .n_head = 2, .n_ctx = 4, .n_vocab = 9, .family = 1, .norm_eps = 1e-6 },
		  "LayerNorm" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		int rc = model_config_check(&cases[i].c, err, sizeof(err));
		if (rc == 0 || !strstr(err, cases[i].why))
			fprintf(stderr, "case %zu: got '%s', want '%s'\n", i, err, cases[i].why);
		CHECK(rc < 0 && strstr(err, cases[i].why));
	}
}

int main(void)
{
	RUN(test_presets_and_init);
	RUN(test_config_refused);
	RUN(test_grow_vocab);
	CHECK_EXIT();
}

/* test_model: operations on a whole model's parameters. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"
#include "optim.h"

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

/* kern_cpu_bf16 against kern_cpu on one batch: the same model's loss and
 * gradients with bfloat16 factors in the products are within bfloat16's
 * rounding of the float ones (a relative 2^-8 a product), and not equal to
 * them. */
static void bf16_products(const model_config *c)
{
	enum { B = 3, T = 16 };
	uint32_t inp[B * T], tgt[B * T];
	for (int i = 0; i < B * T; i++)
		inp[i] = (uint32_t)(i * 7 + 3) % (uint32_t)c->n_vocab, tgt[i] = (uint32_t)(i * 5 + 1) % (uint32_t)c->n_vocab;
	const kern_ops *ks[2] = { &kern_cpu, &kern_cpu_bf16 };
	double loss[2];
	real *g[2];
	size_t n = 0;
	for (int v = 0; v < 2; v++) {
		model *m = model_new(c, ks[v]);
		model_init(m, 3);
		n = model_nparams(m);
		model_zero_grad(m);
		loss[v] = model_forward(m, inp, tgt, NULL, B, T);
		model_backward(m);
		g[v] = malloc(n * sizeof(real));
		memcpy(g[v], model_grads(m), n * sizeof(real));
		model_free(m);
	}
	double d = 0, s = 0;
	for (size_t i = 0; i < n; i++)
		d += ((double)g[1][i] - g[0][i]) * ((double)g[1][i] - g[0][i]), s += (double)g[0][i] * g[0][i];
	double rel = sqrt(d / s), dl = fabs(loss[1] - loss[0]) / loss[0];
	printf("# %s, bf16 products: loss off by %.2e, gradient by %.2e (relative)\n",
	       c->family == MODEL_LLAMA ? "llama" : "gpt-2", dl, rel);
	CHECK(dl < 1e-3);
	CHECK(rel > 0 && rel < 2e-2);
	free(g[0]);
	free(g[1]);
}

static void test_bf16_products(void)
{
	model_config c = { .n_layer = 2, .n_embd = 32, .n_head = 2, .n_ctx = 16, .n_vocab = 97 };
	bf16_products(&c);
	model_config u = { .n_layer = 2, .n_embd = 32, .n_head = 2, .n_ctx = 16, .n_vocab = 97, .family = MODEL_LLAMA,
			   .norm = MODEL_RMSNORM, .mlp = MODEL_SWIGLU, .rope = 1, .untied = 1, .no_bias = 1 };
	bf16_products(&u);
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

/* A backend that is the CPU's with its memory counted and the pointers a
 * kernel is given checked: each must lie in memory the table allocated
 * (and still holds), a host copy's source outside it. */
static struct {
	char *p;
	size_t n;
} live[256];
static int nlive, nallocs, strays;

static int in_table(const void *p)
{
	for (int i = 0; i < nlive; i++)
		if ((const char *)p >= live[i].p && (const char *)p < live[i].p + live[i].n)
			return 1;
	return 0;
}

/* p (NULL: none), and its last byte of n, in the table's memory. */
static void in(const void *p, size_t n)
{
	if (p && (!in_table(p) || (n && !in_table((const char *)p + n - 1))))
		strays++;
}

static void *t_alloc(size_t n)
{
	char *p = kern_cpu.mem_alloc(n);
	if (nlive < 256) {
		live[nlive].p = p;
		live[nlive++].n = n ? n : 1;
	}
	nallocs++;
	return p;
}

static void t_free(void *p)
{
	if (!p)
		return;
	int i = 0;
	while (i < nlive && live[i].p != p)
		i++;
	if (i == nlive)
		strays++;
	else
		live[i] = live[--nlive];
	kern_cpu.mem_free(p);
}

static void t_zero(void *p, size_t n) { in(p, n); kern_cpu.mem_zero(p, n); }
static void t_h2d(void *d, const void *s, size_t n) { in(d, n); strays += in_table(s); kern_cpu.copy_h2d(d, s, n); }
static void t_d2h(void *d, const void *s, size_t n) { in(s, n); strays += in_table(d); kern_cpu.copy_d2h(d, s, n); }
static void t_d2d(void *d, const void *s, size_t n) { in(d, n); in(s, n); kern_cpu.copy_d2d(d, s, n); }
static double t_sumsq(const float *x, size_t n) { in(x, n * sizeof(*x)); return kern_cpu.sum_squares(x, n); }
static void t_scale(real *x, real f, size_t n) { in(x, n * sizeof(*x)); kern_cpu.scale(x, f, n); }
static void t_enc(real *o, const uint32_t *t, const real *a, const real *b, int B, int T, int C)
{
	in(o, 0), in(t, 0), in(a, 0), in(b, 0);
	kern_cpu.encoder_forward(o, t, a, b, B, T, C);
}
static double t_ce(real *z, real *l, const uint32_t *t, const real *w, int N, int V)
{
	in(z, 0), in(l, 0), in(t, 0), in(w, 0);
	return kern_cpu.crossentropy_forward(z, l, t, w, N, V);
}
static void t_ce_b(real *p, const uint32_t *t, const real *w, int N, int V)
{
	in(p, 0), in(t, 0), in(w, 0);
	kern_cpu.crossentropy_backward(p, t, w, N, V);
}
static void t_rope(real *x, const real *c, const real *s, const int *pos, int T, int N, int NH, int hs)
{
	in(x, 0), in(c, 0), in(s, 0), in(pos, 0);
	kern_cpu.rope_forward(x, c, s, pos, T, N, NH, hs);
}
static void t_att_dec(real *o, real *sc, real *kc, real *vc, const real *qkv, const int *sl, const int *pos, int n,
		      int C, int NH, int maxlen)
{
	in(o, 0), in(sc, 0), in(kc, 0), in(vc, 0), in(qkv, 0), in(sl, 0), in(pos, 0);
	kern_cpu.attention_decode(o, sc, kc, vc, qkv, sl, pos, n, C, NH, maxlen);
}
static void t_gqa_dec(real *o, real *sc, real *kc, real *vc, const real *q, const real *k, const real *v,
		      const int *sl, const int *pos, int n, int NH, int NKV, int hs, int maxlen)
{
	in(o, 0), in(sc, 0), in(kc, 0), in(vc, 0), in(q, 0), in(k, 0), in(v, 0), in(sl, 0), in(pos, 0);
	kern_cpu.gqa_decode(o, sc, kc, vc, q, k, v, sl, pos, n, NH, NKV, hs, maxlen);
}
static void t_mm_panel(real *o, const real *i, const void *p, int f, const real *b, int N, int IN, int OUT)
{
	in(o, 0), in(i, 0), in(p, 0), in(b, 0);
	kern_cpu.matmul_panel(o, i, p, f, b, N, IN, OUT);
}
static void t_pack(void *d, int f, const real *w, int IN, int OUT, int tr)
{
	in(d, 0), in(w, 0);
	kern_cpu.panel_pack(d, f, w, IN, OUT, tr);
}
static void t_column(real *d, const void *p, int f, int IN, int OUT, int col)
{
	in(d, 0), in(p, 0);
	kern_cpu.panel_column(d, p, f, IN, OUT, col);
}
static void t_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2, float eps,
		    float wd, float gs, int64_t step)
{
	in(p, n * 4), in(g, n * 4), in(m, n * 4), in(v, n * 4);
	kern_cpu.adamw(p, g, m, v, n, lr, b1, b2, eps, wd, gs, step);
}
static void t_muon(float *p, const float *g, float *buf, int rows, int cols, int blocks, float lr, float mom,
		   float gs, float *scratch)
{
	in(p, 0), in(g, 0), in(buf, 0), in(scratch, 0);
	kern_cpu.muon(p, g, buf, rows, cols, blocks, lr, mom, gs, scratch);
}
static void t_ln_b(real *di, real *dw, real *db, const real *d, const real *i, const real *w, const real *m,
		   const real *r, int N, int C)
{
	in(di, 0), in(dw, 0), in(db, 0), in(d, 0), in(i, 0), in(w, 0), in(m, 0), in(r, 0);
	kern_cpu.layernorm_backward(di, dw, db, d, i, w, m, r, N, C);
}
static void t_lin_b(real *di, real *dw, real *db, const real *d, const real *i, const real *w, int N, int IN,
		    int OUT)
{
	in(di, 0), in(dw, 0), in(db, 0), in(d, 0), in(i, 0), in(w, 0);
	kern_cpu.linear_backward(di, dw, db, d, i, w, N, IN, OUT);
}

/* A training step, decoding, rounding and growing, on the counting
 * backend: every kernel's buffers and every copy's device side are the
 * table's memory, and all of it is freed. */
static void table_memory(const model_config *c, int kind)
{
	kern_ops k = kern_cpu;
	k.mem_alloc = t_alloc, k.mem_free = t_free, k.mem_zero = t_zero;
	k.copy_h2d = t_h2d, k.copy_d2h = t_d2h, k.copy_d2d = t_d2d;
	k.sum_squares = t_sumsq, k.scale = t_scale;
	k.encoder_forward = t_enc, k.crossentropy_forward = t_ce, k.crossentropy_backward = t_ce_b;
	k.rope_forward = t_rope, k.attention_decode = t_att_dec, k.gqa_decode = t_gqa_dec;
	k.matmul_panel = t_mm_panel, k.panel_pack = t_pack, k.panel_column = t_column;
	k.adamw = t_adamw, k.muon = t_muon, k.layernorm_backward = t_ln_b, k.linear_backward = t_lin_b;
	nlive = nallocs = strays = 0;
	enum { B = 2, T = 5 };
	uint32_t inp[B * T], tgt[B * T];
	real w[B * T];
	for (int i = 0; i < B * T; i++) {
		inp[i] = (uint32_t)(i * 7 % c->n_vocab);
		tgt[i] = (uint32_t)(i * 3 % c->n_vocab);
		w[i] = (real)(i % 3);
	}
	model *m = model_new(c, &k);
	model_init(m, 3);
	optim *o = optim_new(&k, model_nparams(m));
	if (kind == OPTIM_ADAMW)
		optim_shard(o, 10, model_nparams(m) / 2);
	optim_opts oo;
	optim_opts_default(&oo);
	oo.kind = kind;
	model_set_temperature(m, 0.7);
	model_zero_grad(m);
	model_forward(m, inp, tgt, w, B, T);
	model_set_weights(m, w);
	model_backward(m);
	double norm = optim_step(o, m, &oo, 1e-3);
	model_forward(m, inp, NULL, NULL, B, T);
	model_cache *cache = model_cache_new(m, 2, T, KERN_BF16);
	int slot[2] = { 0, 1 }, pos[2] = { 0, 0 };
	const real *z = model_decode(m, cache, slot, inp, pos, 2);
	model_round_weights(m, KERN_BF16);
	model *g = model_grow_vocab(m, c->n_vocab + 3);
	int held = nlive;
	model_free(g);
	model_cache_free(cache);
	optim_free(o);
	model_free(m);
	printf("# %s, %s: %d allocations through the table, %d held at the end, %d pointers outside it; "
	       "gradient norm %.4f\n", model_family_name(c->family), optim_kind_name(kind), nallocs, held, strays, norm);
	CHECK(nallocs > 10 && held >= nallocs / 2);
	CHECK(z && norm > 0);
	CHECK_EQ_INT(strays, 0);
	CHECK_EQ_INT(nlive, 0);
}

static void test_table_memory(void)
{
	model_config c = { .n_layer = 2, .n_embd = 16, .n_head = 2, .n_ctx = 8, .n_vocab = 29 };
	table_memory(&c, OPTIM_MUON);
	table_memory(&c, OPTIM_ADAMW);
	model_config u = { .n_layer = 2, .n_embd = 16, .n_head = 4, .n_kv_head = 2, .n_ctx = 8, .n_vocab = 29,
			   .family = MODEL_LLAMA, .norm = MODEL_RMSNORM, .mlp = MODEL_SWIGLU, .rope = 1, .qk_norm = 1,
			   .untied = 1, .no_bias = 1 };
	table_memory(&u, OPTIM_ADAMW);
	table_memory(&u, OPTIM_MUON);
}

int main(void)
{
	RUN(test_presets_and_init);
	RUN(test_config_refused);
	RUN(test_grow_vocab);
	RUN(test_bf16_products);
	RUN(test_table_memory);
	CHECK_EXIT();
}

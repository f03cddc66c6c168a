/* test_train: the float model, optimizer, schedules, trainer and
 * checkpoint files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ckpt.h"
#include "model.h"
#include "optim.h"
#include "safetensors.h"
#include "train.h"
#include "util.h"

static model_config tiny = { .n_layer = 2, .n_embd = 32, .n_head = 4, .n_ctx = 16, .n_vocab = 64 };

static char *tmp_path(const char *name)
{
	static char dir[64];
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/sluice-test-train.%s", MKSTEMP_SUFFIX);
		if (!mkdtemp(dir))
			abort();
	}
	char *p = xmalloc(128);
	snprintf(p, 128, "%s/%s", dir, name);
	return p;
}

/* Overfitting one batch: the loss must go below 0.1. */
static void test_overfit_one_batch(void)
{
	model *m = model_new(&tiny, &kern_cpu);
	model_init(m, 5);
	optim *o = optim_new(&kern_cpu, model_nparams(m));
	optim_opts opts;
	optim_opts_default(&opts);
	opts.lr = 1e-2;
	opts.schedule = OPTIM_CONSTANT;
	opts.weight_decay = 0;
	train_opts to = { .batch = 4, .accum = 1, .opt = opts };
	ckpt_info info = { .config = tiny };
	trainer *t = train_new(m, o, &to, &info);
	uint32_t seq[4][17];
	srand(11);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 17; j++)
			seq[i][j] = (uint32_t)(rand() % tiny.n_vocab);
	double first = 0, last = 0;
	for (int step = 0; step < 300; step++) {
		for (int i = 0; i < 4; i++)
			train_add(t, seq[i], NULL, 17);
		if (step == 0)
			first = train_last(t)->loss;
		last = train_last(t)->loss;
	}
	printf("# overfit: loss %.4f -> %.4f after 300 steps (want < 0.1)\n", first, last);
	CHECK(first > 3.5 && first < 5); /* ln 64 = 4.16 */
	CHECK(last < 0.1);
	CHECK_EQ_INT(info.step, 300);
	CHECK_EQ_INT(info.tokens, 300 * 4 * 16);
	train_free(t);
	optim_free(o);
	model_free(m);
}

/* Masked positions contribute nothing: a step on sequences whose second
 * half is masked equals a step on the first half alone. */
static void test_mask_weights(void)
{
	uint32_t tok[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	uint8_t mask[9] = { 0, 1, 1, 1, 1, 0, 0, 0, 0 };
	double loss[2];
	for (int k = 0; k < 2; k++) {
		model *m = model_new(&tiny, &kern_cpu);
		model_init(m, 2);
		optim *o = optim_new(&kern_cpu, model_nparams(m));
		train_opts to = { .batch = 1, .accum = 1 };
		optim_opts_default(&to.opt);
		ckpt_info info = { .config = tiny };
		trainer *t = train_new(m, o, &to, &info);
		train_add(t, tok, k ? mask : NULL, k ? 9 : 5);
		loss[k] = train_last(t)->loss;
		CHECK_EQ_INT(train_last(t)->targets, 4);
		train_free(t);
		optim_free(o);
		model_free(m);
	}
	CHECK(fabs(loss[0] - loss[1]) < 1e-6);
}

static void test_schedules(void)
{
	optim_opts o;
	optim_opts_default(&o);
	o.lr = 1.0;
	o.min_lr_frac = 0.1;
	o.warmup = 10;
	o.horizon = 110;
	CHECK(fabs(optim_lr(&o, 0) - 0.1) < 1e-12);          /* (0 + 1) / 10 */
	CHECK(fabs(optim_lr(&o, 9) - 1.0) < 1e-12);
	CHECK(fabs(optim_lr(&o, 10) - 1.0) < 1e-12);         /* cosine starts at the peak */
	CHECK(fabs(optim_lr(&o, 60) - 0.55) < 1e-12);        /* halfway: 0.1 + 0.9 / 2 */
	CHECK(fabs(optim_lr(&o, 110) - 0.1) < 1e-12);
	CHECK(fabs(optim_lr(&o, 500) - 0.1) < 1e-12);
	o.schedule = OPTIM_WSD;
	o.wsd_decay = 0.2;                                   /* decay from step 88 */
	CHECK(fabs(optim_lr(&o, 50) - 1.0) < 1e-12);
	CHECK(fabs(optim_lr(&o, 88) - 1.0) < 1e-12);
	CHECK(fabs(optim_lr(&o, 99) - 0.55) < 1e-12);        /* halfway through 88..110 */
	o.schedule = OPTIM_CONSTANT;
	CHECK(fabs(optim_lr(&o, 100) - 1.0) < 1e-12);
	o.schedule = OPTIM_COSINE;
	o.horizon = 0;                                       /* no horizon: constant */
	CHECK(fabs(optim_lr(&o, 100) - 1.0) < 1e-12);
}

/* One AdamW step by hand: m = 0.1 g, v = 0.05 g^2, bias-corrected update
 * lr * g / (|g| + eps) = lr * sign(g), plus decay on matrices only. */
static void test_adamw_step(void)
{
	model *m = model_new(&tiny, &kern_cpu);
	model_init(m, 1);
	size_t n = model_nparams(m);
	float *before = xmalloc(n * sizeof(float));
	memcpy(before, model_params(m), n * sizeof(float));
	float *g = model_grads(m);
	for (size_t i = 0; i < n; i++)
		g[i] = (i % 2 ? 1e-3f : -2e-3f);
	optim *o = optim_new(&kern_cpu, n);
	optim_opts opts;
	optim_opts_default(&opts);
	opts.clip = 0;
	double norm = optim_step(o, m, &opts, 0.01);
	CHECK(fabs(norm - sqrt((double)(n / 2) * 1e-6 + (double)(n - n / 2) * 4e-6)) < 1e-6 * norm);
	int bad = 0;
	for (size_t k = 0; k < model_ntensors(m); k++) {
		const model_tensor *t = model_tensor_at(m, k);
		for (size_t j = 0; j < t->numel; j++) {
			size_t i = t->offset + j;
			double sign = g[i] > 0 ? 1 : -1;
			double want = before[i] - 0.01 * (sign * (fabs(g[i]) / (fabs(g[i]) + 1e-8)) +
							  (t->decay ? 0.1 * before[i] : 0));
			if (fabs(model_params(m)[i] - want) > 1e-6)
				bad = 1;
		}
	}
	CHECK(!bad);
	/* Clipping scales the gradient used, not the one kept. */
	opts.clip = norm / 2;
	CHECK(fabs(optim_step(o, m, &opts, 0.01) - norm) < 1e-6 * norm);
	CHECK(g[0] == -2e-3f);
	free(before);
	optim_free(o);
	model_free(m);
}

/* ZeRO-1: three optimizers, each holding the moments of one rank's share
 * (shares that cut tensors in the middle), step the parameters exactly as
 * one optimizer holding them all; their moments, put together, are its
 * moments. */
static void test_adamw_sharded(void)
{
	model *a = model_new(&tiny, &kern_cpu), *b = model_new(&tiny, &kern_cpu);
	model_init(a, 3);
	model_init(b, 3);
	size_t n = model_nparams(a);
	optim *whole = optim_new(&kern_cpu, n), *part[3];
	for (int r = 0; r < 3; r++) {
		part[r] = optim_new(&kern_cpu, n);
		optim_shard(part[r], train_share(n, r, 3), train_share(n, r + 1, 3) - train_share(n, r, 3));
		CHECK_EQ_INT(optim_first(part[r]), train_share(n, r, 3));
	}
	CHECK_EQ_INT(optim_size(part[0]) + optim_size(part[1]) + optim_size(part[2]), n);
	optim_opts opts;
	optim_opts_default(&opts);
	opts.clip = 0.5;
	for (int step = 0; step < 3; step++) {
		float *ga = model_grads(a), *gb = model_grads(b);
		for (size_t i = 0; i < n; i++)
			ga[i] = gb[i] = (float)((double)((i * 7919 + (size_t)step * 104729) % 1000) / 1000.0 - 0.5) * 1e-2f;
		double norm = optim_step(whole, a, &opts, 0.01);
		for (int r = 0; r < 3; r++)
			CHECK(optim_step(part[r], b, &opts, 0.01) == norm);
	}
	CHECK(memcmp(model_params(a), model_params(b), n * sizeof(real)) == 0);
	int same = 1;
	for (int r = 0; r < 3; r++) {
		size_t lo = optim_first(part[r]), k = optim_size(part[r]);
		same &= !memcmp(optim_m(whole) + lo, optim_m(part[r]), k * sizeof(float));
		same &= !memcmp(optim_v(whole) + lo, optim_v(part[r]), k * sizeof(float));
		CHECK_EQ_INT(optim_steps(part[r]), 3);
		optim_free(part[r]);
	}
	CHECK(same);
	optim_free(whole);
	model_free(a);
	model_free(b);
}

static void test_checkpoint_round_trip(void)
{
	char *path = tmp_path("m.safetensors"), err[512];
	model *m = model_new(&tiny, &kern_cpu);
	model_init(m, 9);
	ckpt_info info = { .config = tiny, .seed = 9, .step = 12, .tokens = 3456, .flops = 1.25e12 };
	snprintf(info.tokenizer, sizeof(info.tokenizer), "gpt2");
	snprintf(info.dataset, sizeof(info.dataset), "0123456789abcdef");
	CHECK(ckpt_save(path, m, &info, err, sizeof(err)) == 0);
	ckpt_info back = { 0 };
	model *r = ckpt_load(path, &kern_cpu, &back, err, sizeof(err));
	CHECK(r != NULL);
	if (r) {
		CHECK(!memcmp(model_params(r), model_params(m), model_nparams(m) * sizeof(float)));
		CHECK(!memcmp(&back.config, &tiny, sizeof(tiny)));
		CHECK(!strcmp(back.tokenizer, "gpt2") && !strcmp(back.dataset, "0123456789abcdef"));
		CHECK(back.step == 12 && back.tokens == 3456 && back.seed == 9 && back.flops == 1.25e12);
	}
	/* The optimizer state belongs to these parameters only. */
	char *sp = ckpt_state_path(path);
	optim *o = optim_new(&kern_cpu, model_nparams(m));
	for (size_t i = 0; i < optim_size(o); i++)
		optim_m(o)[i] = (float)i;
	optim_set_steps(o, 12);
	ckpt_state st = { .data_records = 77 };
	snprintf(st.data_stream, sizeof(st.data_stream), "abc/train/0");
	optim_opts_default(&st.opts);
	st.opts.horizon = 1000;
	CHECK(ckpt_save_pair(path, m, &info, o, &st, err, sizeof(err)) == 0);
	ckpt_state sb;
	optim *ob = ckpt_load_state(path, m, &info, &sb, err, sizeof(err));
	CHECK(ob && optim_steps(ob) == 12 && sb.data_records == 77 && !strcmp(sb.data_stream, "abc/train/0"));
	CHECK(ob && sb.opts.horizon == 1000 && sb.opts.lr == st.opts.lr);
	CHECK(ob && !memcmp(optim_m(ob), optim_m(o), optim_size(o) * sizeof(float)));
	info.step = 13;
	optim *od = ckpt_load_state(path, m, &info, &sb, err, sizeof(err));
	CHECK(!od && strstr(err, "belongs to step 12, the checkpoint is at step 13"));
	info.step = 12;
	model_params(m)[5] += 1;
	optim *oc = ckpt_load_state(path, m, &info, &sb, err, sizeof(err));
	CHECK(!oc && strstr(err, "belongs to other parameters"));
	optim_free(o);
	optim_free(ob);
	optim_free(oc);
	model_free(r);
	model_free(m);
	unlink(sp);
	unlink(path);
	free(sp);
	free(path);
}

/* A Llama-family checkpoint keeps its config (the options that are not 0,
 * and nothing more, in the metadata; a GPT-2 one's config reads as it
 * always has); unknown names are refused; llm.c cannot hold it. */
static void test_checkpoint_llama(void)
{
	char *path = tmp_path("l.safetensors"), err[512];
	static const model_config c = { .n_layer = 2, .n_embd = 16, .n_head = 4, .n_ctx = 8, .n_vocab = 20,
					 .family = MODEL_LLAMA,
			   .n_kv_head = 2, .head_dim = 8, .n_ff = 24, .norm = MODEL_RMSNORM, .mlp = MODEL_SWIGLU,
			   .rope = 1, .rope_theta = 1e6, .qk_norm = 1, .untied = 1, .no_bias = 1, .norm_eps = 1e-6 };
	model *m = model_new(&c, &kern_cpu);
	model_init(m, 4);
	ckpt_info info = { .config = c, .step = 3 };
	CHECK(ckpt_save(path, m, &info, err, sizeof(err)) == 0);
	ckpt_info back = { 0 };
	model *r = ckpt_load(path, &kern_cpu, &back, err, sizeof(err));
	CHECK(r != NULL);
	if (r) {
		CHECK(!memcmp(&back.config, &c, sizeof(c)));
		CHECK(model_nparams(r) == model_nparams(m));
		CHECK(!memcmp(model_params(r), model_params(m), model_nparams(m) * sizeof(float)));
		CHECK(model_tensor_find(r, "model.layers.1.self_attn.q_norm.weight") != NULL);
		CHECK(model_tensor_find(r, "lm_head.weight") != NULL);
	}
	st_file *f = st_load(path, err, sizeof(err));
	CHECK(f && !strcmp(st_meta(f, "config"),
			   "{\"n_layer\":2,\"n_embd\":16,\"n_head\":4,\"n_ctx\":8,\"n_vocab\":20,\"family\":\"llama\","
			   "\"n_kv_head\":2,\"head_dim\":8,\"n_ff\":24,\"rope\":1,\"qk_norm\":1,\"untied\":1,"
			   "\"no_bias\":1,\"norm\":\"rmsnorm\",\"mlp\":\"swiglu\",\"rope_theta\":1000000,"
			   "\"norm_eps\":9.9999999999999995e-07}"));
	st_free(f);
	CHECK(ckpt_save_llmc(path, m, err, sizeof(err)) < 0 && strstr(err, "GPT-2 models only"));
	model_free(r);

	/* GPT-2's config as before. */
	model *g = model_new(&tiny, &kern_cpu);
	info.config = tiny;
	CHECK(ckpt_save(path, g, &info, err, sizeof(err)) == 0);
	f = st_load(path, err, sizeof(err));
	CHECK(f && !strcmp(st_meta(f, "config"),
			   "{\"n_layer\":2,\"n_embd\":32,\"n_head\":4,\"n_ctx\":16,\"n_vocab\":64}"));
	st_free(f);
	model_free(g);

	/* Names and values the model does not know. */
	static const struct { const char *config, *why; } bad[] = {
		{ "{\"n_layer\":2,\"n_embd\":16,\"n_head\":4,\"n_ctx\":8,\"n_vocab\":20,\"family\":\"mamba\"}",
		  "family \"mamba\" is not known" },
		{ "{\"n_layer\":2,\"n_embd\":16,\"n_head\":4,\"n_ctx\":8,\"n_vocab\":20,\"family\":\"llama\","
		  "\"norm\":\"batchnorm\"}", "norm \"batchnorm\" is not known" },
		{ "{\"n_layer\":2,\"n_embd\":16,\"n_head\":4,\"n_ctx\":8,\"n_vocab\":20,\"family\":\"llama\","
		  "\"mlp\":\"geglu\"}", "mlp \"geglu\" is not known" },
		{ "{\"n_layer\":2,\"n_embd\":16,\"n_head\":4,\"n_ctx\":8,\"n_vocab\":20,\"rope\":1}", "family gpt2" },
		{ "{\"n_layer\":2,\"n_embd\":16,\"n_head\":4,\"n_ctx\":8,\"n_vocab\":20,\"family\":\"llama\","
		  "\"n_kv_head\":-1}", "n_kv_head is not a whole number" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		st_writer *w = st_writer_new();
		st_writer_meta(w, "config", bad[i].config);
		CHECK(st_writer_save(w, path, err, sizeof(err)) == 0);
		st_writer_free(w);
		ckpt_info bi = { 0 };
		model *b = ckpt_load(path, &kern_cpu, &bi, err, sizeof(err));
		if (b || !strstr(err, bad[i].why))
			fprintf(stderr, "case %zu: got '%s', want '%s'\n", i, err, bad[i].why);
		CHECK(!b && strstr(err, bad[i].why));
		model_free(b);
	}
	model_free(m);
	unlink(path);
	free(path);
}

static int copy_file(const char *from, const char *to)
{
	uint8_t *p;
	size_t n;
	if (file_read_all(from, &p, &n) < 0)
		return -1;
	FILE *f = fopen(to, "wb");
	int rc = f && fwrite(p, 1, n, f) == n ? 0 : -1;
	if (f && fclose(f) != 0)
		rc = -1;
	free(p);
	return rc;
}

static int file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* A save of the pair stopped at each point between its steps leaves files
 * from which the old pair or the new one loads, never a model with the
 * state of other parameters; the next save clears what was left. */
static void test_checkpoint_pair_stopped(void)
{
	char *path = tmp_path("p.safetensors"), err[512];
	char *sp = ckpt_state_path(path), next[160], old_m[160], old_s[160], new_m[160], new_s[160];
	snprintf(next, sizeof(next), "%s.next", sp);
	snprintf(old_m, sizeof(old_m), "%s.old", path);
	snprintf(old_s, sizeof(old_s), "%s.old", sp);
	snprintf(new_m, sizeof(new_m), "%s.new", path);
	snprintf(new_s, sizeof(new_s), "%s.new", sp);
	model *m = model_new(&tiny, &kern_cpu);
	model_init(m, 3);
	optim *o = optim_new(&kern_cpu, model_nparams(m));
	ckpt_info info = { .config = tiny, .seed = 3, .step = 5 };
	ckpt_state st = { .data_records = 10 };
	optim_opts_default(&st.opts);
	optim_set_steps(o, 5);
	CHECK(ckpt_save_pair(path, m, &info, o, &st, err, sizeof(err)) == 0);
	CHECK(copy_file(path, old_m) == 0 && copy_file(sp, old_s) == 0);
	/* The next step: other parameters, moments, step and position. */
	model_params(m)[0] += 0.5f;
	optim_m(o)[0] = 1;
	optim_set_steps(o, 6);
	info.step = 6;
	st.data_records = 12;
	CHECK(ckpt_save_pair(path, m, &info, o, &st, err, sizeof(err)) == 0);
	CHECK(!file_exists(next));
	CHECK(copy_file(path, new_m) == 0 && copy_file(sp, new_s) == 0);
	/* What each stopping point leaves: model, state, pending state, and
	 * the pair a reader must find (1 new, 0 old). */
	static const struct { int model_new, state_new, next; int want_new; } cases[] = {
		{ 0, 0, -1, 0 },  /* before the renames (temporary files only) */
		{ 0, 0, 1, 0 },   /* new state pending, old model */
		{ 1, 0, 1, 1 },   /* new model, state pending */
		{ 1, 1, -1, 1 },  /* done */
		{ 0, 0, 0, 0 },   /* an older pending state left by an earlier stop */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(copy_file(cases[i].model_new ? new_m : old_m, path) == 0);
		CHECK(copy_file(cases[i].state_new ? new_s : old_s, sp) == 0);
		unlink(next);
		if (cases[i].next >= 0)
			CHECK(copy_file(cases[i].next ? new_s : old_s, next) == 0);
		/* A temporary file of a killed save, of each name. */
		char tmp[200];
		snprintf(tmp, sizeof(tmp), "%s.tmp.a1B2c3", path);
		CHECK(copy_file(new_m, tmp) == 0);
		snprintf(tmp, sizeof(tmp), "%s.tmp.Zz9y8X", sp);
		CHECK(copy_file(new_s, tmp) == 0);
		ckpt_info li = { 0 };
		model *lm = ckpt_load(path, &kern_cpu, &li, err, sizeof(err));
		ckpt_state ls;
		optim *lo = lm ? ckpt_load_state(path, lm, &li, &ls, err, sizeof(err)) : NULL;
		if (!lo)
			fprintf(stderr, "case %zu: %s\n", i, err);
		CHECK(lm && lo);
		int want = cases[i].want_new;
		CHECK(lo && li.step == (want ? 6 : 5) && optim_steps(lo) == li.step);
		CHECK(lo && ls.data_records == (want ? 12u : 10u));
		CHECK(lo && optim_m(lo)[0] == (want ? 1.0f : 0.0f));
		/* A pending state that was taken is renamed into place. */
		if (cases[i].next == 1 && want)
			CHECK(!file_exists(next));
		/* Saving again works from any of these, and clears the leftovers. */
		if (lo) {
			CHECK(ckpt_save_pair(path, lm, &li, lo, &ls, err, sizeof(err)) == 0);
			CHECK(!file_exists(tmp) && !file_exists(next));
			snprintf(tmp, sizeof(tmp), "%s.tmp.a1B2c3", path);
			CHECK(!file_exists(tmp));
		}
		optim_free(lo);
		model_free(lm);
	}
	/* A directory that does not exist: an error naming the file. */
	char bad[200];
	snprintf(bad, sizeof(bad), "%s.missing/x.safetensors", path);
	CHECK(ckpt_save_pair(bad, m, &info, o, &st, err, sizeof(err)) < 0 && strstr(err, "cannot create"));
	unlink(old_m);
	unlink(old_s);
	unlink(new_m);
	unlink(new_s);
	unlink(path);
	unlink(sp);
	free(sp);
	free(path);
	optim_free(o);
	model_free(m);
}

/* An llm.c checkpoint built by hand from its documented layout: each
 * parameter's value encodes its kind and index, and must land in the
 * tensor and place (transposed for the linear weights) it belongs to. */
static void test_llmc_layout(void)
{
	model_config c = { .n_layer = 2, .n_embd = 4, .n_head = 2, .n_ctx = 3, .n_vocab = 5 };
	int C = 4, L = 2, Vp = 128, T = 3;
	size_t count = (size_t)Vp * C + (size_t)T * C + (size_t)L * (12 * C * C + 13 * C) + 2 * C;
	size_t n = 1024 + count * 4;
	uint8_t *p = xcalloc(1, n);
	int32_t h[8] = { LLMC_CKPT_MAGIC, 3, T, 5, L, 2, C, Vp };
	for (int i = 0; i < 8; i++)
		store_u32le(p + 4 * i, (uint32_t)h[i]);
	float *f = xmalloc(count * sizeof(float));
	for (size_t i = 0; i < count; i++)
		f[i] = (float)i;
	memcpy(p + 1024, f, count * 4);
	ckpt_info info;
	char err[512];
	model *m = ckpt_parse_llmc(p, n, &kern_cpu, &info, err, sizeof(err));
	CHECK(m != NULL);
	if (m) {
		const float *q = model_params(m);
		/* wte row 1, column 2: file index 1 * C + 2. */
		CHECK(q[model_tensor_find(m, "wte.weight")->offset + 1 * C + 2] == 6);
		size_t base = (size_t)Vp * C + (size_t)T * C + 2 * (size_t)L * C; /* after wte, wpe, ln1w, ln1b */
		/* qkvw of layer 1, file [OUT=3C][IN=C] at (o=5, i=3); model [IN][OUT]. */
		const model_tensor *qkv = model_tensor_find(m, "h.1.attn.c_attn.weight");
		CHECK(q[qkv->offset + 3 * (3 * C) + 5] == (float)(base + (size_t)3 * C * C + 5 * C + 3));
		/* ln_f.bias: the last C values. */
		CHECK(q[model_tensor_find(m, "ln_f.bias")->offset + 3] == (float)(count - 1));
	}
	/* Wrong size, version, magic. */
	CHECK(!ckpt_parse_llmc(p, n - 4, &kern_cpu, &info, err, sizeof(err)) && strstr(err, "needs"));
	store_u32le(p + 4, 4);
	CHECK(!ckpt_parse_llmc(p, n, &kern_cpu, &info, err, sizeof(err)) && strstr(err, "version 4"));
	store_u32le(p, 1);
	CHECK(!ckpt_parse_llmc(p, n, &kern_cpu, &info, err, sizeof(err)) && strstr(err, "not an llm.c checkpoint"));
	(void)c;
	model_free(m);
	free(f);
	free(p);
}

/* Every way a safetensors header can lie is caught. */
static void test_safetensors_rejects(void)
{
	static const struct {
		const char *header, *why;
		size_t data;
	} cases[] = {
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", NULL, 8 },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", "need 12", 8 },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "cover 8 of the 12", 12 },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", "gap", 12 },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "overlap", 8 },
		{ "{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", "unknown dtype", 8 },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", "shape", 8 },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,80]}}", "within", 8 },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", "exactly", 8 },
		{ "{\"__metadata__\":{\"k\":1}}", "not a string", 0 },
		{ "[1]", "not a JSON object", 0 },
		{ "{\"a\":", "header JSON", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t hl = strlen(cases[i].header), n = 8 + hl + cases[i].data;
		uint8_t *p = xcalloc(1, n);
		store_u64le(p, hl);
		memcpy(p + 8, cases[i].header, hl);
		char err[512] = "";
		st_file *f = st_parse(p, n, err, sizeof(err));
		if (cases[i].why) {
			CHECK(f == NULL);
			if (f || !strstr(err, cases[i].why))
				fprintf(stderr, "case %zu: got '%s', want '%s'\n", i, err, cases[i].why);
			CHECK(f == NULL && strstr(err, cases[i].why));
		} else {
			CHECK(f != NULL && st_count(f) == 1);
		}
		st_free(f);
		/* Truncated anywhere: rejected, never read past the end. */
		for (size_t cut = 0; cut < n; cut++) {
			uint8_t *q = xmalloc(cut + 1);
			memcpy(q, p, cut);
			st_file *g = st_parse(q, cut, err, sizeof(err));
			if (g && !cases[i].why && cut < n)
				CHECK(0);
			st_free(g);
			free(q);
		}
		free(p);
	}
}

/* Decoding with the cache gives the full pass's logits: two sequences
 * interleaved, at different positions in the same calls; with weights
 * stored as bf16 or int8, the full pass over the weights rounded alike. */
static void decode_matches_forward(const char *what, const model_config *cfg, int weights)
{
	model_config c = *cfg;
	model *m = model_new(&c, &kern_cpu);
	model_init(m, 21);
	model_cache *cache = model_cache_new(m, 3, 12, weights);
	model_round_weights(m, weights);
	enum { T = 12 };
	uint32_t seq[2][T];
	for (int i = 0; i < T; i++) {
		seq[0][i] = (uint32_t)((i * 7 + 3) % c.n_vocab);
		seq[1][i] = (uint32_t)((i * 13 + 5) % c.n_vocab);
	}
	size_t V = (size_t)c.n_vocab;
	float *full = xmalloc(2 * T * V * sizeof(float));
	model_forward(m, &seq[0][0], NULL, NULL, 2, T);
	memcpy(full, model_logits(m), 2 * T * V * sizeof(float));
	double worst = 0;
	/* Slot 2 holds sequence 0, slot 0 sequence 1, which starts 3 steps
	 * later. */
	for (int step = 0; step < T + 3; step++) {
		int slot[2], pos[2], n = 0;
		uint32_t tok[2];
		int which[2];
		if (step < T)
			slot[n] = 2, pos[n] = step, tok[n] = seq[0][step], which[n++] = 0;
		if (step >= 3)
			slot[n] = 0, pos[n] = step - 3, tok[n] = seq[1][step - 3], which[n++] = 1;
		const float *z = model_decode(m, cache, slot, tok, pos, n);
		for (int i = 0; i < n; i++)
			for (size_t v = 0; v < V; v++) {
				double d = fabs(z[i * V + v] - full[((size_t)which[i] * T + pos[i]) * V + v]);
				worst = d > worst ? d : worst;
			}
	}
	printf("# decode vs full forward, %s, %s weights: max abs logit difference %.2e\n", what,
	       model_weights_name(weights), worst);
	CHECK(worst < 1e-5);
	model_cache_free(cache);
	free(full);
	model_free(m);
}

/* GPT-2, and the Llama family: every option off, the Llama 3 and Qwen3
 * options (grouped-query attention, SwiGLU, QK-norm, head_dim apart), the
 * nanochat-like ones (ReLU squared, untied head). */
#define LLAMA .n_layer = 2, .n_embd = 32, .n_ctx = 16, .n_vocab = 64, .family = MODEL_LLAMA
static const struct {
	const char *what;
	model_config c;
} decode_configs[] = {
	{ "llama, options off", { LLAMA, .n_head = 4 } },
	{ "llama 3", { LLAMA, .n_head = 4, .n_kv_head = 2, .n_ff = 48, .norm = MODEL_RMSNORM, .mlp = MODEL_SWIGLU,
		       .rope = 1, .rope_theta = 500000, .untied = 1, .no_bias = 1 } },
	{ "qwen3", { LLAMA, .n_head = 4, .n_kv_head = 1, .head_dim = 16, .n_ff = 40, .norm = MODEL_RMSNORM,
		     .mlp = MODEL_SWIGLU, .rope = 1, .qk_norm = 1, .no_bias = 1, .norm_eps = 1e-6 } },
	{ "qwen2 biases", { LLAMA, .n_head = 4, .n_kv_head = 2, .norm = MODEL_RMSNORM, .mlp = MODEL_SWIGLU,
			    .rope = 1 } },
	{ "nanochat-like", { LLAMA, .n_head = 2, .norm = MODEL_RMSNORM, .mlp = MODEL_RELU2, .rope = 1, .qk_norm = 1,
			     .untied = 1, .no_bias = 1 } },
};

static void test_decode_matches_forward(void)
{
	for (int w = KERN_F32; w <= KERN_I8; w++) {
		decode_matches_forward("gpt2", &tiny, w);
		for (size_t i = 0; i < sizeof(decode_configs) / sizeof(decode_configs[0]); i++)
			decode_matches_forward(decode_configs[i].what, &decode_configs[i].c, w);
	}
}

int main(void)
{
	RUN(test_decode_matches_forward);
	RUN(test_overfit_one_batch);
	RUN(test_mask_weights);
	RUN(test_schedules);
	RUN(test_adamw_step);
	RUN(test_adamw_sharded);
	RUN(test_checkpoint_round_trip);
	RUN(test_checkpoint_llama);
	RUN(test_checkpoint_pair_stopped);
	RUN(test_llmc_layout);
	RUN(test_safetensors_rejects);
	CHECK_EXIT();
}

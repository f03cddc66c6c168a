/* ckpt.c: checkpoints in safetensors and in llm.c's format. */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "json.h"
#include "record.h"
#include "safetensors.h"
#include "util.h"

/* The parameters for the host to read and write in place (checkpoints are
 * host code: kernels.h, KERN_HOST). */
static float *host_params(model *m)
{
	return KERN_HOST(model_kernels(m), model_params(m));
}

static void params_hash(model *m, char out[17])
{
	snprintf(out, 17, "%016" PRIx64, (uint64_t)XXH3_64bits(host_params(m), model_nparams(m) * sizeof(float)));
}

/* The config as JSON: the five GPT-2 numbers, then only the options that
 * are not 0 (so a GPT-2 model's config reads as it always has). */
static void config_json(const model_config *c, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "{\"n_layer\":%d,\"n_embd\":%d,\"n_head\":%d,\"n_ctx\":%d,\"n_vocab\":%d",
				    c->n_layer, c->n_embd, c->n_head, c->n_ctx, c->n_vocab);
#define ADD(...) (n += n < size ? (size_t)snprintf(out + n, size - n, __VA_ARGS__) : 0)
	if (c->family)
		ADD(",\"family\":\"%s\"", model_family_name(c->family));
	const struct { const char *key; int v; } ints[] = {
		{ "n_kv_head", c->n_kv_head }, { "head_dim", c->head_dim }, { "n_ff", c->n_ff }, { "rope", c->rope },
		{ "qk_norm", c->qk_norm }, { "untied", c->untied }, { "no_bias", c->no_bias },
	};
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		if (ints[i].v)
			ADD(",\"%s\":%d", ints[i].key, ints[i].v);
	if (c->norm)
		ADD(",\"norm\":\"%s\"", model_norm_name(c->norm));
	if (c->mlp)
		ADD(",\"mlp\":\"%s\"", model_mlp_name(c->mlp));
	if (c->rope_theta)
		ADD(",\"rope_theta\":%.17g", c->rope_theta);
	if (c->norm_eps)
		ADD(",\"norm_eps\":%.17g", c->norm_eps);
	ADD("}");
#undef ADD
}

/* The checkpoint's tensors and metadata, ready to write. */
static st_writer *model_writer(model *m, const ckpt_info *info)
{
	const model_config *c = model_cfg(m);
	st_writer *w = st_writer_new();
	char tmp[512], hash[17];
	st_writer_meta(w, "format", "pt");
	st_writer_meta(w, "sluice", SLUICE_VERSION);
	config_json(c, tmp, sizeof(tmp));
	st_writer_meta(w, "config", tmp);
	st_writer_meta(w, "tokenizer", info->tokenizer);
	snprintf(tmp, sizeof(tmp), "%" PRId64, info->step);
	st_writer_meta(w, "step", tmp);
	snprintf(tmp, sizeof(tmp), "%" PRIu64, info->tokens);
	st_writer_meta(w, "train_tokens", tmp);
	snprintf(tmp, sizeof(tmp), "%.17g", info->flops);
	st_writer_meta(w, "train_flops", tmp);
	snprintf(tmp, sizeof(tmp), "%" PRIu64, info->seed);
	st_writer_meta(w, "seed", tmp);
	st_writer_meta(w, "dataset", info->dataset);
	if (info->ids.has_bos) {
		snprintf(tmp, sizeof(tmp), "%u", info->ids.bos);
		st_writer_meta(w, "bos_token_id", tmp);
	}
	if (info->ids.n_eos) {
		size_t at = 0;
		for (int i = 0; i < info->ids.n_eos; i++)
			at += (size_t)snprintf(tmp + at, sizeof(tmp) - at, "%s%u", i ? "," : "", info->ids.eos[i]);
		st_writer_meta(w, "eos_token_id", tmp);
	}
	if (info->chat_template[0])
		st_writer_meta(w, "chat_template", info->chat_template);
	params_hash(m, hash);
	st_writer_meta(w, "params_xxh3", hash);
	for (size_t i = 0; i < model_ntensors(m); i++) {
		const model_tensor *t = model_tensor_at(m, i);
		st_writer_tensor(w, t->name, ST_F32, t->ndim, t->shape, host_params(m) + t->offset);
	}
	return w;
}

int ckpt_save(const char *path, model *m, const ckpt_info *info, char *err, size_t errlen)
{
	st_writer *w = model_writer(m, info);
	int rc = st_writer_save(w, path, err, errlen);
	st_writer_free(w);
	return rc;
}

/* A whole decimal string as an unsigned number. */
static int parse_u64(const char *s, uint64_t *out)
{
	if (!s || !*s)
		return -1;
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

/* A name member of the config (absent: value 0), parsed by parse;
 * returns -1 with err for one that is not a known name. */
static int config_name(const rec *r, const char *key, int (*parse)(const char *), const char *known, int *out,
		       char *err, size_t errlen)
{
	const rec_field *f = rec_get(r, key);
	*out = 0;
	if (!f)
		return 0;
	char name[32] = "";
	json_copy_str(r, key, name, sizeof(name));
	if ((*out = parse(name)) < 0) {
		snprintf(err, errlen, "metadata config: %s \"%s\" is not known (%s)", key, name, known);
		return -1;
	}
	return 0;
}

static int parse_config(const char *json, model_config *c, char *err, size_t errlen)
{
	rec *r = rec_new();
	char perr[256];
	uint64_t v[12] = { 0 };
	static const char *const keys[12] = { "n_layer", "n_embd", "n_head", "n_ctx", "n_vocab", "n_kv_head",
					      "head_dim", "n_ff", "rope", "qk_norm", "untied", "no_bias" };
	int rc = json_parse_line(r, json, strlen(json), perr, sizeof(perr));
	for (int i = 0; i < 5 && rc == 0; i++)
		if (json_get_u64(r, keys[i], &v[i]) != 1 || v[i] > INT32_MAX)
			rc = -1;
	if (rc < 0) {
		rec_free(r);
		snprintf(err, errlen, "metadata config is not {\"n_layer\":L,\"n_embd\":C,\"n_head\":H,\"n_ctx\":T,\"n_vocab\":V}");
		return -1;
	}
	memset(c, 0, sizeof(*c));
	/* The options, where present (files from before them are GPT-2). */
	for (int i = 5; i < 12 && rc == 0; i++)
		if (json_get_u64(r, keys[i], &v[i]) < 0 || v[i] > INT32_MAX) {
			snprintf(err, errlen, "metadata config: %s is not a whole number", keys[i]);
			rc = -1;
		}
	double theta = 0, eps = 0;
	if (rc == 0 && ((rec_get(r, "rope_theta") && rec_get_double(r, "rope_theta", &theta) < 0) ||
			(rec_get(r, "norm_eps") && rec_get_double(r, "norm_eps", &eps) < 0))) {
		snprintf(err, errlen, "metadata config: rope_theta and norm_eps are numbers");
		rc = -1;
	}
	if (rc == 0)
		rc = config_name(r, "family", model_family_parse, "gpt2, llama", &c->family, err, errlen);
	if (rc == 0)
		rc = config_name(r, "norm", model_norm_parse, "layernorm, rmsnorm", &c->norm, err, errlen);
	if (rc == 0)
		rc = config_name(r, "mlp", model_mlp_parse, "gelu, swiglu, relu2", &c->mlp, err, errlen);
	rec_free(r);
	if (rc < 0)
		return -1;
	c->n_layer = (int)v[0];
	c->n_embd = (int)v[1];
	c->n_head = (int)v[2];
	c->n_ctx = (int)v[3];
	c->n_vocab = (int)v[4];
	c->n_kv_head = (int)v[5];
	c->head_dim = (int)v[6];
	c->n_ff = (int)v[7];
	c->rope = (int)v[8];
	c->qk_norm = (int)v[9];
	c->untied = (int)v[10];
	c->no_bias = (int)v[11];
	c->rope_theta = theta;
	c->norm_eps = eps;
	return model_config_check(c, err, errlen);
}

/* A tensor by model name, with or without the "transformer." prefix that
 * GPT2LMHeadModel files carry. */
static const st_tensor *find_tensor(const st_file *f, const char *name)
{
	const st_tensor *t = st_find(f, name);
	if (!t) {
		char full[80];
		snprintf(full, sizeof(full), "transformer.%s", name);
		t = st_find(f, full);
	}
	return t;
}

/* Config from the shapes of a file without our metadata. */
static int infer_config(const st_file *f, model_config *c, char *err, size_t errlen)
{
	const st_tensor *wte = find_tensor(f, "wte.weight"), *wpe = find_tensor(f, "wpe.weight");
	if (!wte || !wpe || wte->ndim != 2 || wpe->ndim != 2) {
		snprintf(err, errlen, "no config in the metadata and no 2-d wte.weight and wpe.weight to infer it from");
		return -1;
	}
	c->n_vocab = (int)(wte->shape[0] < INT32_MAX ? wte->shape[0] : -1);
	c->n_embd = (int)(wte->shape[1] < INT32_MAX ? wte->shape[1] : -1);
	c->n_ctx = (int)(wpe->shape[0] < INT32_MAX ? wpe->shape[0] : -1);
	c->n_layer = 0;
	for (;;) {
		char name[64];
		snprintf(name, sizeof(name), "h.%d.ln_1.weight", c->n_layer);
		if (!find_tensor(f, name) || c->n_layer == MODEL_LAYERS_MAX)
			break;
		c->n_layer++;
	}
	if (c->n_head <= 0)
		c->n_head = c->n_embd > 0 && c->n_embd % 64 == 0 ? c->n_embd / 64 : 1;
	return model_config_check(c, err, errlen);
}

static int known_extra(const st_file *f, const st_tensor *t, const model *m)
{
	/* Hugging Face keeps the causal mask as a buffer in older files. */
	if (hf_gpt2_buffer(t->name))
		return 1;
	/* A tied head saved twice. */
	if (!strcmp(t->name, "lm_head.weight")) {
		const model_tensor *wte = model_tensor_at(m, 0);
		const float *p = host_params((model *)m);
		return t->dtype == ST_F32 && t->end - t->begin == wte->numel * 4 &&
		       !memcmp(st_data(f, t), p + wte->offset, wte->numel * 4);
	}
	return 0;
}

static void copy_meta(char *dst, size_t size, const char *v)
{
	snprintf(dst, size, "%s", v ? v : "");
}

static model *ckpt_from_st(const st_file *f, const kern_ops *k, ckpt_info *info, char *err, size_t errlen);

model *ckpt_load(const char *path, const kern_ops *k, ckpt_info *info, char *err, size_t errlen)
{
	st_file *f = st_load(path, err, errlen);
	if (!f)
		return NULL;
	model *m = ckpt_from_st(f, k, info, err, errlen);
	st_free(f);
	return m;
}

model *ckpt_parse(const uint8_t *p, size_t n, const kern_ops *k, ckpt_info *info, char *err, size_t errlen)
{
	st_file *f = st_parse(p, n, err, errlen);
	if (!f)
		return NULL;
	model *m = ckpt_from_st(f, k, info, err, errlen);
	st_free(f);
	return m;
}

static model *ckpt_from_st(const st_file *f, const kern_ops *k, ckpt_info *info, char *err, size_t errlen)
{
	model *m = NULL;
	int heads = info->config.n_head;
	memset(info, 0, sizeof(*info));
	info->config.n_head = heads;
	const char *cfg = st_meta(f, "config");
	if (cfg ? parse_config(cfg, &info->config, err, errlen) < 0 : infer_config(f, &info->config, err, errlen) < 0)
		goto fail;
	m = model_new(&info->config, k);
	size_t used = 0;
	for (size_t i = 0; i < model_ntensors(m); i++) {
		const model_tensor *mt = model_tensor_at(m, i);
		const st_tensor *t = find_tensor(f, mt->name);
		if (!t) {
			snprintf(err, errlen, "tensor %s is missing", mt->name);
			goto fail;
		}
		if (t->dtype != ST_F32) {
			snprintf(err, errlen, "tensor %s is %s; checkpoints are F32", mt->name, st_dtype_name(t->dtype));
			goto fail;
		}
		int same = t->ndim == mt->ndim;
		for (int d = 0; same && d < mt->ndim; d++)
			same = t->shape[d] == mt->shape[d];
		if (!same) {
			snprintf(err, errlen, "tensor %s has the wrong shape for the config", mt->name);
			goto fail;
		}
		k->copy_h2d(model_params(m) + mt->offset, st_data(f, t), mt->numel * sizeof(float));
		used++;
	}
	for (size_t i = 0; used < st_count(f) && i < st_count(f); i++) {
		const st_tensor *t = st_at(f, i);
		const char *name = strncmp(t->name, "transformer.", 12) ? t->name : t->name + 12;
		if (!model_tensor_find(m, name) && !known_extra(f, t, m)) {
			snprintf(err, errlen, "tensor %s is not part of a%s model", t->name,
				 info->config.family ? " Llama-family" : " GPT-2");
			goto fail;
		}
	}
	const char *tok = st_meta(f, "tokenizer");
	copy_meta(info->tokenizer, sizeof(info->tokenizer), tok ? tok : info->config.n_vocab == 50257 ? "gpt2" : "");
	copy_meta(info->dataset, sizeof(info->dataset), st_meta(f, "dataset"));
	copy_meta(info->chat_template, sizeof(info->chat_template), st_meta(f, "chat_template"));
	uint64_t v;
	if (st_meta(f, "step") && parse_u64(st_meta(f, "step"), &v) == 0)
		info->step = (int64_t)v;
	if (st_meta(f, "train_tokens"))
		(void)parse_u64(st_meta(f, "train_tokens"), &info->tokens);
	if (st_meta(f, "seed"))
		(void)parse_u64(st_meta(f, "seed"), &info->seed);
	if (st_meta(f, "train_flops"))
		info->flops = strtod(st_meta(f, "train_flops"), NULL);
	if (st_meta(f, "bos_token_id") && parse_u64(st_meta(f, "bos_token_id"), &v) == 0 && v < MODEL_VOCAB_MAX) {
		info->ids.has_bos = 1;
		info->ids.bos = (uint32_t)v;
	}
	for (const char *e = st_meta(f, "eos_token_id"); e && *e && info->ids.n_eos < HF_EOS_MAX;) {
		char one[24];
		size_t n = strcspn(e, ",");
		snprintf(one, sizeof(one), "%.*s", (int)(n < sizeof(one) - 1 ? n : sizeof(one) - 1), e);
		if (parse_u64(one, &v) < 0 || v >= MODEL_VOCAB_MAX)
			break;
		info->ids.eos[info->ids.n_eos++] = (uint32_t)v;
		e += n + (e[n] == ',');
	}
	const char *want = st_meta(f, "params_xxh3");
	if (want) {
		char have[17];
		params_hash(m, have);
		if (strcmp(want, have)) {
			snprintf(err, errlen, "parameters do not match their hash (params_xxh3 %s, data %s)", want, have);
			goto fail;
		}
	}
	return m;
fail:
	model_free(m);
	return NULL;
}

char *ckpt_state_path(const char *ckpt)
{
	size_t n = strlen(ckpt) + 7;
	char *p = xmalloc(n);
	snprintf(p, n, "%s.optim", ckpt);
	return p;
}

/* The name a new state file has between its two renames. */
static char *state_next_path(const char *state)
{
	size_t n = strlen(state) + 6;
	char *p = xmalloc(n);
	snprintf(p, n, "%s.next", state);
	return p;
}

static st_writer *state_writer(model *m, optim *o, const ckpt_state *s)
{
	st_writer *w = st_writer_new();
	char tmp[128], hash[17];
	const optim_opts *p = &s->opts;
	snprintf(tmp, sizeof(tmp), "%" PRId64, optim_steps(o));
	st_writer_meta(w, "step", tmp);
	params_hash(m, hash);
	st_writer_meta(w, "params_xxh3", hash);
	st_writer_meta(w, "data_stream", s->data_stream);
	snprintf(tmp, sizeof(tmp), "%" PRIu64, s->data_records);
	st_writer_meta(w, "data_records", tmp);
	st_writer_meta(w, "schedule", optim_schedule_name(p->schedule));
	st_writer_meta(w, "optimizer", optim_kind_name(p->kind));
	struct { const char *key; double v; } nums[] = {
		{ "lr", p->lr }, { "min_lr_frac", p->min_lr_frac }, { "warmup", (double)p->warmup },
		{ "horizon", (double)p->horizon }, { "wsd_decay", p->wsd_decay }, { "beta1", p->beta1 },
		{ "beta2", p->beta2 }, { "eps", p->eps }, { "weight_decay", p->weight_decay }, { "clip", p->clip },
		{ "decay_all", p->decay_all }, { "muon_lr", p->muon_lr }, { "muon_momentum", p->muon_momentum },
	};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		snprintf(tmp, sizeof(tmp), "%.17g", nums[i].v);
		st_writer_meta(w, nums[i].key, tmp);
	}
	int64_t shape[1] = { (int64_t)optim_size(o) };
	const kern_ops *k = model_kernels(m);
	st_writer_tensor(w, "adam.m", ST_F32, 1, shape, KERN_HOST(k, optim_m(o)));
	st_writer_tensor(w, "adam.v", ST_F32, 1, shape, KERN_HOST(k, optim_v(o)));
	return w;
}

/* Write w to a synced temporary file beside path; *tmp gets its name.
 * Returns 0, or -1 with err and nothing left on disk. */
static int write_tmp(st_writer *w, const char *path, char **tmp, char *err, size_t errlen)
{
	int fd = atomic_create(path, tmp);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create a file beside it: %s", path, strerror(errno));
		return -1;
	}
	if (atomic_close(fd, *tmp, st_writer_write(w, fd) < 0) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		*tmp = NULL;
		return -1;
	}
	return 0;
}

int ckpt_save_pair(const char *ckpt, model *m, const ckpt_info *info, optim *o, const ckpt_state *s, char *err,
		   size_t errlen)
{
	char *sp = ckpt_state_path(ckpt), *np = state_next_path(sp), *tm = NULL, *ts = NULL;
	st_writer *wm = model_writer(m, info), *ws = state_writer(m, o, s);
	int rc = -1;
	/* What an earlier writer killed before its renames left. */
	(void)atomic_cleanup(ckpt);
	(void)atomic_cleanup(sp);
	/* Both files whole and synced before anything is replaced: a full
	 * disk stops the save here, with the old pair untouched. */
	if (write_tmp(wm, ckpt, &tm, err, errlen) < 0)
		goto out;
	if (write_tmp(ws, sp, &ts, err, errlen) < 0) {
		atomic_rename(tm, ckpt, 1);
		goto out;
	}
	/* The new state under its pending name: the old pair still stands. */
	if (atomic_rename(ts, np, 0) < 0) {
		snprintf(err, errlen, "%s: %s", np, strerror(errno));
		atomic_rename(tm, ckpt, 1);
		goto out;
	}
	/* The new model: from here the reader takes the pending state. */
	if (atomic_rename(tm, ckpt, 0) < 0) {
		snprintf(err, errlen, "%s: %s", ckpt, strerror(errno));
		unlink(np);
		goto out;
	}
	/* A failure here leaves a pair the reader completes. */
	(void)rename(np, sp);
	rc = 0;
out:
	st_writer_free(wm);
	st_writer_free(ws);
	free(sp);
	free(np);
	return rc;
}

static int meta_double(const st_file *f, const char *key, double *out)
{
	const char *v = st_meta(f, key);
	char *end;
	if (!v || !*v)
		return -1;
	errno = 0;
	*out = strtod(v, &end);
	return *end || errno ? -1 : 0;
}

/* One state file, if it belongs to m at this step. */
static optim *read_state(const char *path, model *m, int64_t at_step, ckpt_state *s, char *err, size_t errlen)
{
	struct stat sb;
	if (stat(path, &sb) < 0) {
		int e = errno;
		snprintf(err, errlen, "%s", strerror(e));
		errno = e;
		return NULL;
	}
	st_file *f = st_load(path, err, errlen);
	errno = 0;
	if (!f)
		return NULL;
	optim *o = NULL;
	const st_tensor *tm = st_find(f, "adam.m"), *tv = st_find(f, "adam.v");
	size_t n = model_nparams(m);
	char have[17];
	params_hash(m, have);
	const char *want = st_meta(f, "params_xxh3"), *sched = st_meta(f, "schedule");
	uint64_t step, recs;
	memset(s, 0, sizeof(*s));
	optim_opts_default(&s->opts);
	double v[11];
	static const char *const keys[11] = { "lr", "min_lr_frac", "warmup", "horizon", "wsd_decay", "beta1",
					      "beta2", "eps", "weight_decay", "clip", "decay_all" };
	int bad_num = 0;
	for (int i = 0; i < 11; i++)
		bad_num |= meta_double(f, keys[i], &v[i]) < 0;
	if (!tm || !tv || tm->dtype != ST_F32 || tv->dtype != ST_F32 || tm->numel != n || tv->numel != n) {
		snprintf(err, errlen, "not the optimizer state of this model (adam.m and adam.v of %zu floats)", n);
	} else if (!want || strcmp(want, have)) {
		snprintf(err, errlen, "belongs to other parameters (params_xxh3 %s, checkpoint %s)", want ? want : "absent",
			 have);
	} else if (parse_u64(st_meta(f, "step"), &step) < 0 || parse_u64(st_meta(f, "data_records"), &recs) < 0 ||
		   !sched || optim_schedule_parse(sched) < 0 || bad_num ||
		   (st_meta(f, "optimizer") && optim_kind_parse(st_meta(f, "optimizer")) < 0)) {
		snprintf(err, errlen, "metadata: step, data_records, schedule, optimizer and the hyperparameters must be "
			 "numbers or known names");
	} else if (step > INT64_MAX || (int64_t)step != at_step) {
		snprintf(err, errlen, "belongs to step %" PRIu64 ", the checkpoint is at step %" PRId64, step, at_step);
	} else {
		const kern_ops *k = model_kernels(m);
		o = optim_new(k, n);
		k->copy_h2d(optim_m(o), st_data(f, tm), n * sizeof(float));
		k->copy_h2d(optim_v(o), st_data(f, tv), n * sizeof(float));
		optim_set_steps(o, (int64_t)step);
		copy_meta(s->data_stream, sizeof(s->data_stream), st_meta(f, "data_stream"));
		s->data_records = recs;
		optim_opts *p = &s->opts;
		p->schedule = optim_schedule_parse(sched);
		p->lr = v[0];
		p->min_lr_frac = v[1];
		p->warmup = (int64_t)v[2];
		p->horizon = (int64_t)v[3];
		p->wsd_decay = v[4];
		p->beta1 = v[5];
		p->beta2 = v[6];
		p->eps = v[7];
		p->weight_decay = v[8];
		p->clip = v[9];
		p->decay_all = v[10] != 0;
		/* Files from before Muon name no optimizer: AdamW's. */
		const char *kind = st_meta(f, "optimizer");
		p->kind = kind ? optim_kind_parse(kind) : OPTIM_ADAMW;
		double mv;
		if (meta_double(f, "muon_lr", &mv) == 0)
			p->muon_lr = mv;
		if (meta_double(f, "muon_momentum", &mv) == 0)
			p->muon_momentum = mv;
	}
	st_free(f);
	return o;
}

optim *ckpt_load_state(const char *ckpt, model *m, const ckpt_info *info, ckpt_state *s, char *err, size_t errlen)
{
	char *sp = ckpt_state_path(ckpt), *np = state_next_path(sp), ignored[256];
	/* A save stopped between renaming the model and its state leaves
	 * the state under the pending name: take it, and finish the save. */
	optim *o = read_state(np, m, info->step, s, ignored, sizeof(ignored));
	if (o)
		(void)rename(np, sp);
	else
		o = read_state(sp, m, info->step, s, err, errlen);
	int e = errno;
	free(sp);
	free(np);
	errno = e;
	return o;
}

/* ---- llm.c ---- */

enum { LLMC_HEADER_INTS = 256 };

/* llm.c's parameter kinds, in file order, and the model tensor each maps
 * to ("h.%d." names repeat over the layers; transpose marks [OUT, IN]). */
static const struct {
	const char *name;
	int per_layer, transpose;
} llmc_kinds[] = {
	{ "wte.weight", 0, 0 },              { "wpe.weight", 0, 0 },
	{ "ln_1.weight", 1, 0 },             { "ln_1.bias", 1, 0 },
	{ "attn.c_attn.weight", 1, 1 },      { "attn.c_attn.bias", 1, 0 },
	{ "attn.c_proj.weight", 1, 1 },      { "attn.c_proj.bias", 1, 0 },
	{ "ln_2.weight", 1, 0 },             { "ln_2.bias", 1, 0 },
	{ "mlp.c_fc.weight", 1, 1 },         { "mlp.c_fc.bias", 1, 0 },
	{ "mlp.c_proj.weight", 1, 1 },       { "mlp.c_proj.bias", 1, 0 },
	{ "ln_f.weight", 0, 0 },             { "ln_f.bias", 0, 0 },
};
#define LLMC_NKINDS (sizeof(llmc_kinds) / sizeof(llmc_kinds[0]))

static int padded_vocab(int v) { return (v + 127) / 128 * 128; }

/* Visit every parameter in llm.c's file order: fn(model tensor, index of
 * the element within it, element index in the file's sequence).  The
 * padding rows of wte are visited with a NULL tensor. */
typedef void (*llmc_visit)(void *ctx, const model_tensor *t, size_t i);

static void llmc_walk(model *m, int vp, llmc_visit fn, void *ctx)
{
	const model_config *c = model_cfg(m);
	for (size_t k = 0; k < LLMC_NKINDS; k++) {
		int layers = llmc_kinds[k].per_layer ? c->n_layer : 1;
		for (int l = 0; l < layers; l++) {
			char name[64];
			if (llmc_kinds[k].per_layer)
				snprintf(name, sizeof(name), "h.%d.%s", l, llmc_kinds[k].name);
			else
				snprintf(name, sizeof(name), "%s", llmc_kinds[k].name);
			const model_tensor *t = model_tensor_find(m, name);
			if (llmc_kinds[k].transpose) {
				/* File [OUT][IN], model [IN][OUT]. */
				size_t in = (size_t)t->shape[0], out = (size_t)t->shape[1];
				for (size_t o = 0; o < out; o++)
					for (size_t i = 0; i < in; i++)
						fn(ctx, t, i * out + o);
			} else {
				for (size_t i = 0; i < t->numel; i++)
					fn(ctx, t, i);
			}
			if (k == 0)
				for (size_t i = (size_t)c->n_vocab * c->n_embd; i < (size_t)vp * c->n_embd; i++)
					fn(ctx, NULL, i);
		}
	}
}

struct llmc_io {
	float *params;
	const uint8_t *src;         /* reading */
	int bf16;
	float *dst;                 /* writing */
	size_t at;
};

static void llmc_read_one(void *ctx, const model_tensor *t, size_t i)
{
	struct llmc_io *io = ctx;
	float v;
	if (io->bf16) {
		uint32_t u = (uint32_t)(io->src[io->at * 2] | io->src[io->at * 2 + 1] << 8) << 16;
		memcpy(&v, &u, 4);
	} else {
		uint32_t u = load_u32le(io->src + io->at * 4);
		memcpy(&v, &u, 4);
	}
	io->at++;
	if (t)
		io->params[t->offset + i] = v;
}

static void llmc_write_one(void *ctx, const model_tensor *t, size_t i)
{
	struct llmc_io *io = ctx;
	io->dst[io->at++] = t ? io->params[t->offset + i] : 0;
}

model *ckpt_parse_llmc(const uint8_t *p, size_t n, const kern_ops *k, ckpt_info *info, char *err, size_t errlen)
{
	if (n < LLMC_HEADER_INTS * 4 || load_u32le(p) != LLMC_CKPT_MAGIC) {
		snprintf(err, errlen, "not an llm.c checkpoint (header of 256 int32 starting %d)", LLMC_CKPT_MAGIC);
		return NULL;
	}
	uint32_t h[8];
	for (int i = 0; i < 8; i++)
		h[i] = load_u32le(p + 4 * i);
	if (h[1] != 3 && h[1] != 5) {
		snprintf(err, errlen, "llm.c checkpoint version %u: only 3 (fp32) and 5 (bf16) are known", h[1]);
		return NULL;
	}
	memset(info, 0, sizeof(*info));
	model_config *c = &info->config;
	c->n_ctx = (int)(h[2] <= INT32_MAX ? h[2] : 0);
	c->n_vocab = (int)(h[3] <= INT32_MAX ? h[3] : 0);
	c->n_layer = (int)(h[4] <= INT32_MAX ? h[4] : 0);
	c->n_head = (int)(h[5] <= INT32_MAX ? h[5] : 0);
	c->n_embd = (int)(h[6] <= INT32_MAX ? h[6] : 0);
	int vp = (int)(h[7] <= INT32_MAX ? h[7] : 0);
	if (model_config_check(c, err, errlen) < 0)
		return NULL;
	if (vp < c->n_vocab) {
		snprintf(err, errlen, "padded vocabulary %d is smaller than the vocabulary %d", vp, c->n_vocab);
		return NULL;
	}
	double C = c->n_embd, L = c->n_layer;
	double count = (double)vp * C + (double)c->n_ctx * C + L * (12 * C * C + 13 * C) + 2 * C;
	double want = LLMC_HEADER_INTS * 4.0 + count * (h[1] == 3 ? 4 : 2);
	if ((double)n != want) {
		snprintf(err, errlen, "file is %zu bytes; its header (L %d, C %d, V %d padded to %d, T %d) needs %.0f",
			 n, c->n_layer, c->n_embd, c->n_vocab, vp, c->n_ctx, want);
		return NULL;
	}
	model *m = model_new(c, k);
	struct llmc_io io = { .params = host_params(m), .src = p + LLMC_HEADER_INTS * 4, .bf16 = h[1] == 5 };
	llmc_walk(m, vp, llmc_read_one, &io);
	copy_meta(info->tokenizer, sizeof(info->tokenizer), c->n_vocab == 50257 ? "gpt2" : "");
	return m;
}

model *ckpt_load_llmc(const char *path, const kern_ops *k, ckpt_info *info, char *err, size_t errlen)
{
	uint8_t *p;
	size_t n;
	if (file_read_all(path, &p, &n) < 0) {
		snprintf(err, errlen, "%s", errno == EINVAL ? "not a regular file" : strerror(errno));
		return NULL;
	}
	model *m = ckpt_parse_llmc(p, n, k, info, err, errlen);
	free(p);
	return m;
}

/* A Hugging Face model directory. */
static model *load_hf(const char *dir, const kern_ops *k, ckpt_info *info, char *err, size_t errlen)
{
	memset(info, 0, sizeof(*info));
	hf_model *h = hf_open(dir, err, errlen);
	if (!h)
		return NULL;
	model *m = hf_build(h, k, err, errlen);
	if (m) {
		info->config = *model_cfg(m);
		info->ids = *hf_token_ids(h);
		/* The directory's tokenizer is the model's; GPT-2 without one
		 * reads GPT-2's own. */
		const char *tok = hf_tokenizer(h);
		if (!tok && !strcmp(hf_arch(h), "GPT2LMHeadModel") && info->config.n_vocab == 50257)
			tok = "gpt2";
		if (tok && strlen(tok) >= sizeof(info->tokenizer)) {
			snprintf(err, errlen, "the path is too long to name the model's tokenizer (%zu bytes at most)",
				 sizeof(info->tokenizer) - 1);
			model_free(m);
			m = NULL;
		} else {
			copy_meta(info->tokenizer, sizeof(info->tokenizer), tok);
		}
	}
	hf_close(h);
	return m;
}

model *ckpt_load_any(const char *path, const kern_ops *k, ckpt_info *info, char *err, size_t errlen)
{
	struct stat sb;
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return load_hf(path, k, info, err, errlen);
	uint8_t magic[4] = { 0 };
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	size_t got = fread(magic, 1, 4, f);
	fclose(f);
	if (got == 4 && load_u32le(magic) == LLMC_CKPT_MAGIC)
		return ckpt_load_llmc(path, k, info, err, errlen);
	return ckpt_load(path, k, info, err, errlen);
}

int ckpt_save_llmc(const char *path, model *m, char *err, size_t errlen)
{
	const model_config *c = model_cfg(m);
	if (c->family != MODEL_GPT2) {
		snprintf(err, errlen, "llm.c checkpoints hold GPT-2 models only; this is a %s-family model",
			 model_family_name(c->family));
		return -1;
	}
	int vp = padded_vocab(c->n_vocab);
	size_t count = model_nparams(m) + (size_t)(vp - c->n_vocab) * c->n_embd;
	float *out = xmalloc(count * sizeof(float));
	struct llmc_io io = { .params = host_params(m), .dst = out };
	llmc_walk(m, vp, llmc_write_one, &io);
	uint8_t h[LLMC_HEADER_INTS * 4] = { 0 };
	uint32_t vals[8] = { LLMC_CKPT_MAGIC, 3, (uint32_t)c->n_ctx, (uint32_t)c->n_vocab, (uint32_t)c->n_layer,
			     (uint32_t)c->n_head, (uint32_t)c->n_embd, (uint32_t)vp };
	for (int i = 0; i < 8; i++)
		store_u32le(h + 4 * i, vals[i]);
	char *tmp;
	int fd = atomic_create(path, &tmp), rc = -1;
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a file beside it: %s", strerror(errno));
	} else {
		int bad = write_full(fd, h, sizeof(h)) < 0 || write_full(fd, out, count * sizeof(float)) < 0;
		if (atomic_commit(fd, tmp, path, bad) < 0)
			snprintf(err, errlen, "%s", strerror(errno));
		else
			rc = 0;
	}
	free(out);
	return rc;
}

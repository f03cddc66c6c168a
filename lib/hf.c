/* hf.c: Hugging Face model directories (config.json, safetensors shards,
 * tokenizer.json), read and written. */
#include "hf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "tokenizer.h"
#include "util.h"

/* ---- number conversions ---- */

static float f32_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

void hf_bf16_to_f32(const uint8_t *src, float *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = f32_bits((uint32_t)(src[2 * i] | src[2 * i + 1] << 8) << 16);
}

static float half_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = h >> 10 & 0x1f, man = h & 0x3ff, u;
	if (exp == 0 && man == 0) {
		u = sign;
	} else if (exp == 0) {
		/* Subnormal: man 2^-24, normalised. */
		uint32_t e = 0;
		while (!(man & 0x400)) {
			man <<= 1;
			e++;
		}
		u = sign | (113 - e) << 23 | (man & 0x3ff) << 13;
	} else if (exp == 31) {
		u = sign | 0x7f800000 | man << 13;     /* infinity, or NaN with its payload */
	} else {
		u = sign | (exp + 112) << 23 | man << 13;
	}
	return f32_bits(u);
}

void hf_f16_to_f32(const uint8_t *src, float *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = half_float((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
}

void hf_f32_to_bf16(const float *src, uint8_t *dst, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &src[i], 4);
		uint16_t h;
		if ((u & 0x7fffffff) > 0x7f800000)
			h = (uint16_t)(u >> 16 | 0x40);        /* NaN stays NaN (quiet) */
		else
			h = (uint16_t)((u + 0x7fff + (u >> 16 & 1)) >> 16);
		dst[2 * i] = (uint8_t)h;
		dst[2 * i + 1] = (uint8_t)(h >> 8);
	}
}

/* ---- config.json ---- */

/* A JSON object's top-level members, each value left as a span. */
struct member {
	char *key;
	size_t vs, ve;
};

struct obj {
	const char *text;
	size_t len;
	struct member *m;
	size_t n;
	const char *file;           /* for messages */
};

static void obj_free(struct obj *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->m[i].key);
	free(o->m);
	o->m = NULL;
	o->n = 0;
}

static int obj_parse(struct obj *o, const char *file, const char *text, size_t len, char *err, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	o->text = text;
	o->len = len;
	o->file = file;
	json_iter it;
	buf key = { 0 };
	size_t vs, ve, cap = 0;
	char why[256];
	int r;
	if (json_iter_start(&it, text, len, 0, '{', why, sizeof(why)) < 0)
		goto bad;
	while ((r = json_iter_next(&it, &key, &vs, &ve, why, sizeof(why))) == 1) {
		if (key.len && memchr(key.data, 0, key.len))
			continue;   /* not a key anyone looks for */
		buf_addc(&key, 0);
		for (size_t i = 0; i < o->n; i++)
			if (!strcmp(o->m[i].key, (const char *)key.data)) {
				snprintf(err, errlen, "%s: key \"%.60s\" appears twice", file, o->m[i].key);
				buf_release(&key);
				obj_free(o);
				return -1;
			}
		if (o->n == cap) {
			cap = cap ? 2 * cap : 32;
			o->m = xrealloc(o->m, cap * sizeof(*o->m));
		}
		o->m[o->n].key = xstrdup((const char *)key.data);
		o->m[o->n].vs = vs;
		o->m[o->n++].ve = ve;
	}
	if (r < 0)
		goto bad;
	for (size_t i = it.pos; i < len; i++)
		if (text[i] != ' ' && text[i] != '\n' && text[i] != '\r' && text[i] != '\t') {
			snprintf(why, sizeof(why), "column %zu: text after the object", i + 1);
			goto bad;
		}
	buf_release(&key);
	return 0;
bad:
	snprintf(err, errlen, "%s: %s", file, why);
	buf_release(&key);
	obj_free(o);
	return -1;
}

/* The member's value span, or NULL when it is absent or null. */
static const struct member *obj_get(const struct obj *o, const char *key)
{
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->m[i].key, key)) {
			const struct member *m = &o->m[i];
			if (m->ve - m->vs == 4 && !memcmp(o->text + m->vs, "null", 4))
				return NULL;
			return m;
		}
	return NULL;
}

/* A JSON number span as an integer, if it is one exactly. */
static int span_int(const char *p, size_t n, int64_t *out)
{
	char tmp[32];
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, p, n);
	tmp[n] = 0;
	char *end;
	errno = 0;
	long long v = strtoll(tmp, &end, 10);
	if (*end || errno || end == tmp)
		return -1;
	*out = v;
	return 0;
}

/* An integer member in [lo, hi]: 1 with *out, 0 when absent, -1 with err. */
static int obj_int(const struct obj *o, const char *key, int64_t lo, int64_t hi, int64_t *out, char *err,
		   size_t errlen)
{
	const struct member *m = obj_get(o, key);
	if (!m)
		return 0;
	if (span_int(o->text + m->vs, m->ve - m->vs, out) < 0 || *out < lo || *out > hi) {
		snprintf(err, errlen, "%s: %s is not an integer in %" PRId64 "..%" PRId64, o->file, key, lo, hi);
		return -1;
	}
	return 1;
}

/* A number member: 1 with *out, 0 when absent, -1 with err. */
static int obj_num(const struct obj *o, const char *key, double *out, char *err, size_t errlen)
{
	const struct member *m = obj_get(o, key);
	if (!m)
		return 0;
	char tmp[64];
	size_t n = m->ve - m->vs;
	char *end = tmp;
	if (n < sizeof(tmp)) {
		memcpy(tmp, o->text + m->vs, n);
		tmp[n] = 0;
		*out = strtod(tmp, &end);
	}
	if (n >= sizeof(tmp) || *end || end == tmp || !isfinite(*out)) {
		snprintf(err, errlen, "%s: %s is not a number", o->file, key);
		return -1;
	}
	return 1;
}

/* A boolean member: 1 with *out, 0 when absent, -1 with err. */
static int obj_bool(const struct obj *o, const char *key, int *out, char *err, size_t errlen)
{
	const struct member *m = obj_get(o, key);
	if (!m)
		return 0;
	size_t n = m->ve - m->vs;
	if (n == 4 && !memcmp(o->text + m->vs, "true", 4))
		*out = 1;
	else if (n == 5 && !memcmp(o->text + m->vs, "false", 5))
		*out = 0;
	else {
		snprintf(err, errlen, "%s: %s is not true or false", o->file, key);
		return -1;
	}
	return 1;
}

/* A string member into dst (cut to size - 1): 1, 0 when absent, -1 with err. */
static int obj_str(const struct obj *o, const char *key, char *dst, size_t size, char *err, size_t errlen)
{
	const struct member *m = obj_get(o, key);
	if (!m)
		return 0;
	buf s = { 0 };
	char why[128];
	if (json_string_at(o->text, o->len, m->vs, &s, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s is not a string", o->file, key);
		buf_release(&s);
		return -1;
	}
	snprintf(dst, size, "%.*s", (int)(s.len < size ? s.len : size - 1), s.data ? (const char *)s.data : "");
	buf_release(&s);
	return 1;
}

/* A token id member: an integer or a list of them (eos_token_id). */
static int obj_ids(const struct obj *o, const char *key, uint32_t *ids, int max, int *n, char *err, size_t errlen)
{
	const struct member *m = obj_get(o, key);
	if (!m)
		return 0;
	int64_t v;
	*n = 0;
	if (o->text[m->vs] != '[') {
		if (obj_int(o, key, 0, MODEL_VOCAB_MAX - 1, &v, err, errlen) < 0)
			return -1;
		ids[(*n)++] = (uint32_t)v;
		return 1;
	}
	json_iter it;
	size_t vs, ve;
	char why[256];
	int r;
	if (json_iter_start(&it, o->text, m->ve, m->vs, '[', why, sizeof(why)) < 0)
		goto bad;
	while ((r = json_iter_next(&it, NULL, &vs, &ve, why, sizeof(why))) == 1) {
		if (span_int(o->text + vs, ve - vs, &v) < 0 || v < 0 || v >= MODEL_VOCAB_MAX)
			goto bad;
		if (*n < max)
			ids[(*n)++] = (uint32_t)v;
	}
	if (r == 0)
		return 1;
bad:
	snprintf(err, errlen, "%s: %s is not a token id or a list of them", o->file, key);
	return -1;
}

static int read_ids(const struct obj *o, hf_ids *ids, char *err, size_t errlen)
{
	uint32_t b;
	int n, r;
	if ((r = obj_ids(o, "bos_token_id", &b, 1, &n, err, errlen)) < 0)
		return -1;
	if (r && n) {
		ids->has_bos = 1;
		ids->bos = b;
	}
	uint32_t e[HF_EOS_MAX];
	if ((r = obj_ids(o, "eos_token_id", e, HF_EOS_MAX, &n, err, errlen)) < 0)
		return -1;
	if (r) {
		ids->n_eos = n;
		memcpy(ids->eos, e, (size_t)n * sizeof(*e));
	}
	return 0;
}

/* ---- the architectures ---- */

struct arch {
	const char *name, *model_type;
	const char *prefix;          /* the tensors' optional prefix in files ("transformer.") */
	int (*config)(const struct obj *o, const struct arch *a, model_config *c, char *err, size_t errlen);
	void (*write_config)(buf *b, const struct arch *a, const model_config *c, const hf_ids *ids, st_dtype dtype);
	int (*extra)(const char *name);  /* a tensor of the file the model does without */
};

static int gpt2_config(const struct obj *o, const struct arch *a, model_config *c, char *err, size_t errlen)
{
	(void)a;
	static const struct {
		const char *key, *alt;
		int64_t lo, hi;
		int required;
	} sizes[5] = {
		{ "n_layer", "num_hidden_layers", 1, MODEL_LAYERS_MAX, 1 },
		{ "n_embd", "hidden_size", 1, MODEL_EMBD_MAX, 1 },
		{ "n_head", "num_attention_heads", 1, MODEL_EMBD_MAX, 1 },
		{ "n_positions", "n_ctx", 1, MODEL_CTX_MAX, 1 },
		{ "vocab_size", NULL, 1, MODEL_VOCAB_MAX, 1 },
	};
	int64_t v[5];
	for (int i = 0; i < 5; i++) {
		int r = obj_int(o, sizes[i].key, sizes[i].lo, sizes[i].hi, &v[i], err, errlen);
		if (r == 0 && sizes[i].alt)
			r = obj_int(o, sizes[i].alt, sizes[i].lo, sizes[i].hi, &v[i], err, errlen);
		if (r < 0)
			return -1;
		if (r == 0) {
			snprintf(err, errlen, "%s: no %s", o->file, sizes[i].key);
			return -1;
		}
	}
	memset(c, 0, sizeof(*c));
	c->n_layer = (int)v[0];
	c->n_embd = (int)v[1];
	c->n_head = (int)v[2];
	c->n_ctx = (int)v[3];
	c->n_vocab = (int)v[4];
	/* What this build computes: GELU's tanh form, LayerNorm with 1e-5,
	 * an MLP of 4 n_embd, attention scaled by 1/sqrt(head size), a tied
	 * head. */
	char act[64] = "gelu_new";
	int64_t inner;
	double eps = 1e-5;
	int b = 0, r;
	if (obj_str(o, "activation_function", act, sizeof(act), err, errlen) < 0)
		return -1;
	if (strcmp(act, "gelu_new") && strcmp(act, "gelu_pytorch_tanh") && strcmp(act, "gelu_fast")) {
		snprintf(err, errlen, "%s: activation_function %s: this build has GPT-2's gelu_new only", o->file, act);
		return -1;
	}
	if ((r = obj_int(o, "n_inner", 1, INT32_MAX, &inner, err, errlen)) < 0)
		return -1;
	if (r && inner != 4 * v[1]) {
		snprintf(err, errlen, "%s: n_inner %" PRId64 ": this build's MLP has 4 n_embd (%" PRId64 ")", o->file,
			 inner, 4 * v[1]);
		return -1;
	}
	if (obj_num(o, "layer_norm_epsilon", &eps, err, errlen) < 0)
		return -1;
	if (eps != 1e-5) {
		snprintf(err, errlen, "%s: layer_norm_epsilon %g: this build's LayerNorm has 1e-5", o->file, eps);
		return -1;
	}
	static const struct {
		const char *key;
		int want;
	} flags[] = {
		{ "scale_attn_weights", 1 }, { "scale_attn_by_inverse_layer_idx", 0 }, { "tie_word_embeddings", 1 },
		{ "add_cross_attention", 0 },
	};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if ((r = obj_bool(o, flags[i].key, &b, err, errlen)) < 0)
			return -1;
		if (r && b != flags[i].want) {
			snprintf(err, errlen, "%s: %s %s: not supported by this build", o->file, flags[i].key,
				 b ? "true" : "false");
			return -1;
		}
	}
	return model_config_check(c, err, errlen);
}

static void put_kv_int(buf *b, const char *key, long long v, int last)
{
	char tmp[128];
	snprintf(tmp, sizeof(tmp), "  \"%s\": %lld%s\n", key, v, last ? "" : ",");
	buf_adds(b, tmp);
}

static void put_ids(buf *b, const hf_ids *ids, int last)
{
	char tmp[64];
	if (ids->has_bos)
		put_kv_int(b, "bos_token_id", ids->bos, last && !ids->n_eos);
	if (ids->n_eos == 1) {
		put_kv_int(b, "eos_token_id", ids->eos[0], last);
	} else if (ids->n_eos > 1) {
		buf_adds(b, "  \"eos_token_id\": [");
		for (int i = 0; i < ids->n_eos; i++) {
			snprintf(tmp, sizeof(tmp), "%s%u", i ? ", " : "", ids->eos[i]);
			buf_adds(b, tmp);
		}
		buf_adds(b, last ? "]\n" : "],\n");
	}
}

static void gpt2_write_config(buf *b, const struct arch *a, const model_config *c, const hf_ids *ids, st_dtype dtype)
{
	(void)a;
	buf_adds(b, "{\n  \"architectures\": [\"GPT2LMHeadModel\"],\n  \"model_type\": \"gpt2\",\n");
	put_kv_int(b, "vocab_size", c->n_vocab, 0);
	put_kv_int(b, "n_positions", c->n_ctx, 0);
	put_kv_int(b, "n_ctx", c->n_ctx, 0);
	put_kv_int(b, "n_embd", c->n_embd, 0);
	put_kv_int(b, "n_layer", c->n_layer, 0);
	put_kv_int(b, "n_head", c->n_head, 0);
	buf_adds(b, "  \"n_inner\": null,\n  \"activation_function\": \"gelu_new\",\n"
		    "  \"layer_norm_epsilon\": 1e-05,\n  \"scale_attn_weights\": true,\n"
		    "  \"tie_word_embeddings\": true,\n");
	put_ids(b, ids, 0);
	buf_adds(b, dtype == ST_BF16 ? "  \"torch_dtype\": \"bfloat16\"\n}\n" : "  \"torch_dtype\": \"float32\"\n}\n");
}

int hf_gpt2_buffer(const char *name)
{
	size_t n = strlen(name);
	return (n > 10 && !strcmp(name + n - 10, ".attn.bias")) ||
	       (n > 17 && !strcmp(name + n - 17, ".attn.masked_bias"));
}

/* The Llama family (Llama 2/3, Qwen2, Qwen3): names and layouts are
 * Hugging Face's, nn.Linear weights [OUT, IN]. */
struct llama_cfg {
	int64_t layers, hidden, heads, kv_heads, head_dim, ff, ctx, vocab;
	double rope_theta, eps;
	int tied, bias, qk_norm;
	char act[32];
};

/* rope_scaling (older files) or rope_parameters (transformers 5): an object
 * whose rope_type (or type) must be "default", the plain rotation; from
 * rope_parameters also rope_theta. */
static int llama_rope(const struct obj *o, const char *key, double *theta, char *err, size_t errlen)
{
	const struct member *m = obj_get(o, key);
	if (!m)
		return 0;
	struct obj sub;
	char why[256];
	if (obj_parse(&sub, o->file, o->text + m->vs, m->ve - m->vs, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s is not an object", o->file, key);
		return -1;
	}
	char type[64] = "default", field[96];
	int rc = -1, r;
	snprintf(field, sizeof(field), "%s.rope_type", key);
	if ((r = obj_str(&sub, "rope_type", type, sizeof(type), err, errlen)) < 0)
		goto out;
	if (!r && obj_str(&sub, "type", type, sizeof(type), err, errlen) < 0)
		goto out;
	if (strcmp(type, "default")) {
		snprintf(err, errlen, "%s: %s: rope type \"%s\" is not supported by this build (the default rotation only)",
			 o->file, key, type);
		goto out;
	}
	if (!strcmp(key, "rope_parameters") && obj_num(&sub, "rope_theta", theta, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	obj_free(&sub);
	return rc;
}

/* layer_types, where present, must say full_attention for every layer. */
static int llama_layer_types(const struct obj *o, char *err, size_t errlen)
{
	const struct member *m = obj_get(o, "layer_types");
	if (!m)
		return 0;
	json_iter it;
	size_t vs, ve;
	char why[256];
	buf s = { 0 };
	int r, rc = -1;
	if (json_iter_start(&it, o->text, m->ve, m->vs, '[', why, sizeof(why)) < 0)
		goto bad;
	while ((r = json_iter_next(&it, NULL, &vs, &ve, why, sizeof(why))) == 1) {
		buf_reset(&s);
		if (json_string_at(o->text, ve, vs, &s, why, sizeof(why)) < 0)
			goto bad;
		if (s.len != 14 || memcmp(s.data, "full_attention", 14)) {
			snprintf(err, errlen, "%s: layer_types: \"%.*s\" layers are not supported by this build "
				 "(full_attention only)", o->file, (int)(s.len < 40 ? s.len : 40),
				 s.len ? (const char *)s.data : "");
			goto out;
		}
	}
	if (r == 0) {
		rc = 0;
		goto out;
	}
bad:
	snprintf(err, errlen, "%s: layer_types is not a list of names", o->file);
out:
	buf_release(&s);
	return rc;
}

/* config.json of the Llama family, read and checked. */
static int llama_read(const struct obj *o, const struct arch *a, struct llama_cfg *l, char *err, size_t errlen)
{
	static const struct {
		const char *key;
		int64_t hi;
		size_t off;
	} sizes[] = {
		{ "num_hidden_layers", MODEL_LAYERS_MAX, offsetof(struct llama_cfg, layers) },
		{ "hidden_size", MODEL_EMBD_MAX, offsetof(struct llama_cfg, hidden) },
		{ "num_attention_heads", MODEL_EMBD_MAX, offsetof(struct llama_cfg, heads) },
		{ "intermediate_size", INT32_MAX, offsetof(struct llama_cfg, ff) },
		{ "max_position_embeddings", MODEL_CTX_MAX, offsetof(struct llama_cfg, ctx) },
		{ "vocab_size", MODEL_VOCAB_MAX, offsetof(struct llama_cfg, vocab) },
	};
	memset(l, 0, sizeof(*l));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int64_t *p = (int64_t *)(void *)((char *)l + sizes[i].off);
		int r = obj_int(o, sizes[i].key, 1, sizes[i].hi, p, err, errlen);
		if (r < 0)
			return -1;
		if (r == 0) {
			snprintf(err, errlen, "%s: no %s", o->file, sizes[i].key);
			return -1;
		}
	}
	int r;
	if ((r = obj_int(o, "num_key_value_heads", 1, l->heads, &l->kv_heads, err, errlen)) < 0)
		return -1;
	if (!r)
		l->kv_heads = l->heads;
	if (l->heads % l->kv_heads) {
		snprintf(err, errlen, "%s: num_key_value_heads %" PRId64 " does not divide num_attention_heads %" PRId64,
			 o->file, l->kv_heads, l->heads);
		return -1;
	}
	if ((r = obj_int(o, "head_dim", 1, MODEL_EMBD_MAX, &l->head_dim, err, errlen)) < 0)
		return -1;
	/* Without head_dim: hidden / heads, but Qwen3's configuration says 128. */
	if (!r)
		l->head_dim = !strcmp(a->model_type, "qwen3") ? 128 : l->hidden / l->heads;
	l->rope_theta = 10000;
	l->eps = 1e-6;
	l->tied = 0;
	int mlp_bias = 0, sliding = 0;
	if (obj_num(o, "rope_theta", &l->rope_theta, err, errlen) < 0 ||
	    obj_num(o, "rms_norm_eps", &l->eps, err, errlen) < 0 ||
	    obj_bool(o, "tie_word_embeddings", &l->tied, err, errlen) < 0 ||
	    obj_bool(o, "attention_bias", &l->bias, err, errlen) < 0 ||
	    obj_bool(o, "mlp_bias", &mlp_bias, err, errlen) < 0 ||
	    obj_bool(o, "use_sliding_window", &sliding, err, errlen) < 0)
		return -1;
	if (llama_rope(o, "rope_scaling", &l->rope_theta, err, errlen) < 0 ||
	    llama_rope(o, "rope_parameters", &l->rope_theta, err, errlen) < 0 || llama_layer_types(o, err, errlen) < 0)
		return -1;
	if (!(l->rope_theta > 0) || !(l->eps > 0)) {
		snprintf(err, errlen, "%s: %s is not positive", o->file, l->rope_theta > 0 ? "rms_norm_eps" : "rope_theta");
		return -1;
	}
	snprintf(l->act, sizeof(l->act), "silu");
	if (obj_str(o, "hidden_act", l->act, sizeof(l->act), err, errlen) < 0)
		return -1;
	if (strcmp(l->act, "silu")) {
		snprintf(err, errlen, "%s: hidden_act %s: the Llama family's MLP is SwiGLU (silu)", o->file, l->act);
		return -1;
	}
	/* Llama's and Qwen3's attention_bias puts a bias on o_proj too; only
	 * Qwen2's q/k/v biases are in this build. */
	if (l->bias && strcmp(a->model_type, "qwen2")) {
		snprintf(err, errlen, "%s: attention_bias true: biases on q/k/v/o_proj are not supported by this build "
			 "(Qwen2's q/k/v biases are)", o->file);
		return -1;
	}
	if (mlp_bias) {
		snprintf(err, errlen, "%s: mlp_bias true: not supported by this build", o->file);
		return -1;
	}
	if (sliding) {
		snprintf(err, errlen, "%s: use_sliding_window true: sliding-window attention is not supported by this build",
			 o->file);
		return -1;
	}
	/* Qwen2 has biases on q, k and v; Qwen3 a norm on each head's q and k. */
	l->bias = !strcmp(a->model_type, "qwen2");
	l->qk_norm = !strcmp(a->model_type, "qwen3");
	return 0;
}

static int llama_config(const struct obj *o, const struct arch *a, model_config *c, char *err, size_t errlen)
{
	struct llama_cfg l;
	if (llama_read(o, a, &l, err, errlen) < 0)
		return -1;
	memset(c, 0, sizeof(*c));
	c->family = MODEL_LLAMA;
	c->n_layer = (int)l.layers;
	c->n_embd = (int)l.hidden;
	c->n_head = (int)l.heads;
	c->n_kv_head = (int)l.kv_heads;
	c->head_dim = (int)l.head_dim;
	c->n_ff = (int)l.ff;
	/* Rotary positions have no table of positions in the weights: n_ctx
	 * bounds the sequences and sizes the rotation's table, so a
	 * long-context model is read with at most HF_CTX_CAP of them. */
	c->n_ctx = (int)(l.ctx < HF_CTX_CAP ? l.ctx : HF_CTX_CAP);
	c->n_vocab = (int)l.vocab;
	c->norm = MODEL_RMSNORM;
	c->mlp = MODEL_SWIGLU;
	c->rope = 1;
	c->rope_theta = l.rope_theta;
	c->qk_norm = l.qk_norm;
	c->untied = !l.tied;
	c->no_bias = !l.bias;
	c->norm_eps = l.eps;
	return model_config_check(c, err, errlen);
}

/* A number as the shortest text that reads back as the same double. */
static void put_kv_num(buf *b, const char *key, double v, int last)
{
	char num[40], tmp[128];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(num, sizeof(num), "%.*g", prec, v);
		if (strtod(num, NULL) == v)
			break;
	}
	/* A JSON number needs a digit before any exponent and reads as a float
	 * only with a point or an exponent. */
	if (!strpbrk(num, ".eE"))
		snprintf(num + strlen(num), sizeof(num) - strlen(num), ".0");
	snprintf(tmp, sizeof(tmp), "  \"%s\": %s%s\n", key, num, last ? "" : ",");
	buf_adds(b, tmp);
}

static void llama_write_config(buf *b, const struct arch *a, const model_config *c, const hf_ids *ids,
			       st_dtype dtype)
{
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"%s\",\n", a->name,
		 a->model_type);
	buf_adds(b, tmp);
	put_kv_int(b, "vocab_size", c->n_vocab, 0);
	put_kv_int(b, "hidden_size", c->n_embd, 0);
	put_kv_int(b, "intermediate_size", model_ff(c), 0);
	put_kv_int(b, "num_hidden_layers", c->n_layer, 0);
	put_kv_int(b, "num_attention_heads", c->n_head, 0);
	put_kv_int(b, "num_key_value_heads", model_kv_heads(c), 0);
	put_kv_int(b, "head_dim", model_head_dim(c), 0);
	put_kv_int(b, "max_position_embeddings", c->n_ctx, 0);
	put_kv_num(b, "rms_norm_eps", c->norm_eps > 0 ? c->norm_eps : 1e-5, 0);
	put_kv_num(b, "rope_theta", c->rope_theta > 0 ? c->rope_theta : 10000, 0);
	buf_adds(b, "  \"rope_scaling\": null,\n  \"hidden_act\": \"silu\",\n");
	if (strcmp(a->model_type, "qwen2"))
		buf_adds(b, "  \"attention_bias\": false,\n");
	if (!strcmp(a->model_type, "llama"))
		buf_adds(b, "  \"mlp_bias\": false,\n");
	else
		buf_adds(b, "  \"use_sliding_window\": false,\n");
	buf_adds(b, c->untied ? "  \"tie_word_embeddings\": false,\n" : "  \"tie_word_embeddings\": true,\n");
	put_ids(b, ids, 0);
	buf_adds(b, dtype == ST_BF16 ? "  \"torch_dtype\": \"bfloat16\"\n}\n" : "  \"torch_dtype\": \"float32\"\n}\n");
}

/* Tensors of older Llama files the model does without: the rotation's
 * inverse frequencies, saved as a buffer. */
static int llama_buffer(const char *name)
{
	size_t n = strlen(name);
	return n > 21 && !strcmp(name + n - 21, ".rotary_emb.inv_freq");
}

static const struct arch archs[] = {
	{ "GPT2LMHeadModel", "gpt2", "transformer.", gpt2_config, gpt2_write_config, hf_gpt2_buffer },
	{ "LlamaForCausalLM", "llama", "", llama_config, llama_write_config, llama_buffer },
	{ "Qwen2ForCausalLM", "qwen2", "", llama_config, llama_write_config, llama_buffer },
	{ "Qwen3ForCausalLM", "qwen3", "", llama_config, llama_write_config, llama_buffer },
};
#define N_ARCHS (sizeof(archs) / sizeof(archs[0]))

int hf_parse_config(const char *json, size_t len, model_config *c, hf_ids *ids, char *arch, char *err,
		    size_t errlen)
{
	struct obj o;
	if (obj_parse(&o, "config.json", json, len, err, errlen) < 0)
		return -1;
	int rc = -1;
	char name[64] = "", type[64] = "";
	const struct arch *a = NULL;
	const struct member *m = obj_get(&o, "architectures");
	if (m) {
		json_iter it;
		size_t vs, ve;
		char why[256];
		buf s = { 0 };
		if (json_iter_start(&it, json, m->ve, m->vs, '[', why, sizeof(why)) < 0 ||
		    json_iter_next(&it, NULL, &vs, &ve, why, sizeof(why)) != 1 ||
		    json_string_at(json, ve, vs, &s, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "config.json: architectures is not a list of names");
			buf_release(&s);
			goto out;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(s.len < 63 ? s.len : 63), s.data ? (const char *)s.data : "");
		buf_release(&s);
	}
	if (obj_str(&o, "model_type", type, sizeof(type), err, errlen) < 0)
		goto out;
	for (size_t i = 0; i < N_ARCHS && !a; i++)
		if (name[0] ? !strcmp(name, archs[i].name) : !strcmp(type, archs[i].model_type))
			a = &archs[i];
	if (!a) {
		if (name[0] || type[0])
			snprintf(err, errlen, "architecture %s: not supported (GPT2LMHeadModel; LlamaForCausalLM, "
				 "Qwen2ForCausalLM and Qwen3ForCausalLM are recognised)", name[0] ? name : type);
		else
			snprintf(err, errlen, "config.json: neither architectures nor model_type names the model");
		goto out;
	}
	if (arch)
		snprintf(arch, 64, "%s", a->name);
	memset(ids, 0, sizeof(*ids));
	if (a->config(&o, a, c, err, errlen) < 0 || read_ids(&o, ids, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	obj_free(&o);
	return rc;
}

int hf_parse_generation(const char *json, size_t len, hf_ids *ids, char *err, size_t errlen)
{
	struct obj o;
	if (obj_parse(&o, "generation_config.json", json, len, err, errlen) < 0)
		return -1;
	int rc = read_ids(&o, ids, err, errlen);
	obj_free(&o);
	return rc;
}

int hf_parse_index(const char *json, size_t len, void (*fn)(void *ctx, const char *tensor, const char *file),
		   void *ctx, char *err, size_t errlen)
{
	static const char file[] = "model.safetensors.index.json";
	struct obj o;
	if (obj_parse(&o, file, json, len, err, errlen) < 0)
		return -1;
	int rc = -1, r;
	const struct member *m = obj_get(&o, "weight_map");
	json_iter it;
	buf key = { 0 }, val = { 0 };
	size_t vs, ve;
	char why[256];
	if (!m) {
		snprintf(err, errlen, "%s: no weight_map", file);
		goto out;
	}
	if (json_iter_start(&it, json, m->ve, m->vs, '{', why, sizeof(why)) < 0)
		goto bad;
	while ((r = json_iter_next(&it, &key, &vs, &ve, why, sizeof(why))) == 1) {
		buf_reset(&val);
		if (json_string_at(json, ve, vs, &val, why, sizeof(why)) < 0)
			goto bad;
		buf_addc(&key, 0);
		buf_addc(&val, 0);
		const char *f = (const char *)val.data;
		if (strlen(f) + 1 != val.len || strlen((const char *)key.data) + 1 != key.len || !f[0] ||
		    strchr(f, '/') || !strcmp(f, ".") || !strcmp(f, "..")) {
			snprintf(err, errlen, "%s: weight_map: \"%.80s\" is not a file name in the directory", file, f);
			goto out;
		}
		fn(ctx, (const char *)key.data, f);
	}
	if (r == 0) {
		rc = 0;
		goto out;
	}
bad:
	snprintf(err, errlen, "%s: weight_map: %s", file, why);
out:
	buf_release(&key);
	buf_release(&val);
	obj_free(&o);
	return rc;
}

/* ---- reading a directory ---- */

struct shard {
	char *name;
	uint8_t *map;
	size_t size;
	st_file *st;
};

struct wmap {
	char *tensor;
	size_t shard;
};

struct hf_model {
	char *dir;
	char arch[64];
	const struct arch *a;
	model_config c;
	hf_ids ids;
	char *tokenizer;
	struct shard *shards;
	size_t nshards;
	struct wmap *map;           /* from the index, sorted by name; none for one file */
	size_t nmap;
};

/* A small file of the directory, read whole; NULL with errno. */
static char *dir_file(const char *dir, const char *name, size_t *len)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *path = xmalloc(n);
	snprintf(path, n, "%s/%s", dir, name);
	uint8_t *p = NULL;
	int rc = file_read_all(path, &p, len);
	int e = errno;
	free(path);
	errno = e;
	return rc < 0 ? NULL : (char *)p;
}

static int dir_has(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *path = xmalloc(n);
	snprintf(path, n, "%s/%s", dir, name);
	struct stat sb;
	int r = stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
	free(path);
	return r;
}

static size_t add_shard(hf_model *h, const char *name)
{
	for (size_t i = 0; i < h->nshards; i++)
		if (!strcmp(h->shards[i].name, name))
			return i;
	h->shards = xrealloc(h->shards, (h->nshards + 1) * sizeof(*h->shards));
	memset(&h->shards[h->nshards], 0, sizeof(*h->shards));
	h->shards[h->nshards].name = xstrdup(name);
	return h->nshards++;
}

static void index_entry(void *ctx, const char *tensor, const char *file)
{
	hf_model *h = ctx;
	if ((h->nmap & (h->nmap - 1)) == 0)
		h->map = xrealloc(h->map, (h->nmap ? 2 * h->nmap : 1) * sizeof(*h->map));
	h->map[h->nmap].tensor = xstrdup(tensor);
	h->map[h->nmap++].shard = add_shard(h, file);
}

static int by_tensor(const void *a, const void *b)
{
	return strcmp(((const struct wmap *)a)->tensor, ((const struct wmap *)b)->tensor);
}

/* Map one safetensors file and parse its header. */
static int map_shard(const char *dir, struct shard *s, int in_index, char *err, size_t errlen)
{
	size_t n = strlen(dir) + strlen(s->name) + 2;
	char *path = xmalloc(n), why[512];
	snprintf(path, n, "%s/%s", dir, s->name);
	const char *from = in_index ? " (in the index)" : "";
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;
	struct stat sb;
	free(path);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		snprintf(err, errlen, "%s%s: %s", s->name, from, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s%s: not a regular file", s->name, from);
		goto out;
	}
	s->size = (size_t)sb.st_size;
	if (s->size) {
		void *p = mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			snprintf(err, errlen, "%s: %s", s->name, strerror(errno));
			s->size = 0;
			goto out;
		}
		s->map = p;
	}
	if (!(s->st = st_parse(s->map ? s->map : (const uint8_t *)"", s->size, why, sizeof(why)))) {
		snprintf(err, errlen, "%s: %s", s->name, why);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

void hf_close(hf_model *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->nshards; i++) {
		st_free(h->shards[i].st);
		if (h->shards[i].map)
			munmap(h->shards[i].map, h->shards[i].size);
		free(h->shards[i].name);
	}
	for (size_t i = 0; i < h->nmap; i++)
		free(h->map[i].tensor);
	free(h->shards);
	free(h->map);
	free(h->tokenizer);
	free(h->dir);
	free(h);
}

hf_model *hf_open(const char *dir, char *err, size_t errlen)
{
	hf_model *h = xcalloc(1, sizeof(*h));
	h->dir = xstrdup(dir);
	size_t len;
	char *js = dir_file(dir, "config.json", &len);
	if (!js) {
		int e = errno;
		snprintf(err, errlen, e == ENOENT ? "no config.json" : "config.json: %s", strerror(e));
		hf_close(h);
		errno = e;
		return NULL;
	}
	int rc = hf_parse_config(js, len, &h->c, &h->ids, h->arch, err, errlen);
	free(js);
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < N_ARCHS; i++)
		if (!strcmp(archs[i].name, h->arch))
			h->a = &archs[i];
	if ((js = dir_file(dir, "generation_config.json", &len))) {
		rc = hf_parse_generation(js, len, &h->ids, err, errlen);
		free(js);
		if (rc < 0)
			goto fail;
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "generation_config.json: %s", strerror(errno));
		goto fail;
	}
	if (dir_has(dir, "tokenizer.json")) {
		char name[TOK_NAME_MAX];
		if (tok_canonical_name(dir, name, sizeof(name)) < 0) {
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
			goto fail;
		}
		h->tokenizer = xstrdup(name);
	}
	if ((js = dir_file(dir, "model.safetensors.index.json", &len))) {
		rc = hf_parse_index(js, len, index_entry, h, err, errlen);
		free(js);
		if (rc < 0)
			goto fail;
		if (!h->nmap) {
			snprintf(err, errlen, "model.safetensors.index.json: the weight_map is empty");
			goto fail;
		}
		qsort(h->map, h->nmap, sizeof(*h->map), by_tensor);
		for (size_t i = 1; i < h->nmap; i++)
			if (!strcmp(h->map[i - 1].tensor, h->map[i].tensor)) {
				snprintf(err, errlen, "model.safetensors.index.json: tensor %.80s is named twice",
					 h->map[i].tensor);
				goto fail;
			}
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "model.safetensors.index.json: %s", strerror(errno));
		goto fail;
	} else if (dir_has(dir, "model.safetensors")) {
		add_shard(h, "model.safetensors");
	} else {
		snprintf(err, errlen, "no model.safetensors or model.safetensors.index.json%s",
			 dir_has(dir, "pytorch_model.bin") ? " (pytorch_model.bin is not read: save with safetensors)" : "");
		goto fail;
	}
	for (size_t i = 0; i < h->nshards; i++)
		if (map_shard(dir, &h->shards[i], h->nmap > 0, err, errlen) < 0)
			goto fail;
	return h;
fail:
	hf_close(h);
	errno = 0;
	return NULL;
}

const model_config *hf_config(const hf_model *h) { return &h->c; }
const char *hf_arch(const hf_model *h) { return h->arch; }
const hf_ids *hf_token_ids(const hf_model *h) { return &h->ids; }
const char *hf_tokenizer(const hf_model *h) { return h->tokenizer; }

/* A tensor by its name in the files: 1 with it in *t and its file in
 * *shard; 0 if absent; -1 with err if the index names a file that does
 * not hold it. */
static int find(const hf_model *h, const char *name, const st_tensor **t, const struct shard **shard, char *err,
		size_t errlen)
{
	if (h->nmap) {
		struct wmap key = { .tensor = (char *)name }, *w;
		w = bsearch(&key, h->map, h->nmap, sizeof(*h->map), by_tensor);
		if (!w)
			return 0;
		*shard = &h->shards[w->shard];
		if (!(*t = st_find((*shard)->st, name))) {
			snprintf(err, errlen, "tensor %s is not in %s, where the index puts it", name, (*shard)->name);
			return -1;
		}
		return 1;
	}
	for (size_t i = 0; i < h->nshards; i++)
		if ((*t = st_find(h->shards[i].st, name))) {
			*shard = &h->shards[i];
			return 1;
		}
	return 0;
}

/* A model tensor in the files: under its own name or with the prefix;
 * fname gets the name found. */
static int find_model_tensor(const hf_model *h, const char *name, const st_tensor **t, const struct shard **shard,
			     char *fname, size_t size, char *err, size_t errlen)
{
	int r = 0;
	if (h->a->prefix[0]) {
		snprintf(fname, size, "%s%s", h->a->prefix, name);
		if ((r = find(h, fname, t, shard, err, errlen)) != 0)
			return r;
	}
	snprintf(fname, size, "%s", name);
	if ((r = find(h, fname, t, shard, err, errlen)) == 0)
		snprintf(err, errlen, "tensor %s is missing", name);
	return r;
}

static void convert(const st_tensor *t, const uint8_t *src, float *dst)
{
	if (t->dtype == ST_F32)
		memcpy(dst, src, t->numel * sizeof(float));
	else if (t->dtype == ST_BF16)
		hf_bf16_to_f32(src, dst, t->numel);
	else
		hf_f16_to_f32(src, dst, t->numel);
}

static void shape_str(char *out, size_t size, int ndim, const int64_t *shape)
{
	size_t at = 0;
	at += (size_t)snprintf(out, size, "[");
	for (int d = 0; d < ndim && at < size; d++)
		at += (size_t)snprintf(out + at, size - at, "%s%" PRId64, d ? ", " : "", shape[d]);
	if (at < size)
		snprintf(out + at, size - at, "]");
}

static int check_tensor(const st_tensor *t, const char *fname, int ndim, const int64_t *shape, char *err,
			size_t errlen)
{
	if (t->dtype != ST_F32 && t->dtype != ST_BF16 && t->dtype != ST_F16) {
		snprintf(err, errlen, "tensor %s: dtype %s (weights are F32, BF16 or F16)", fname,
			 st_dtype_name(t->dtype));
		return -1;
	}
	int same = t->ndim == ndim;
	for (int d = 0; same && d < ndim; d++)
		same = t->shape[d] == shape[d];
	if (!same) {
		char have[96], want[96];
		shape_str(have, sizeof(have), t->ndim, t->shape);
		shape_str(want, sizeof(want), ndim, shape);
		snprintf(err, errlen, "tensor %s: shape %s, the config gives %s", fname, have, want);
		return -1;
	}
	return 0;
}

/* A tensor of the files that the model does not read: the tied head when
 * it equals the embedding, and the architecture's buffers. */
static int check_unused(const hf_model *h, model *m, const char *fname, const st_tensor *t, const struct shard *s,
			char *err, size_t errlen)
{
	size_t pl = strlen(h->a->prefix);
	const char *name = pl && !strncmp(fname, h->a->prefix, pl) ? fname + pl : fname;
	if (model_tensor_find(m, name) || (h->a->extra && h->a->extra(name)))
		return 0;
	if (!strcmp(name, "lm_head.weight")) {
		const model_tensor *wte = model_tensor_at(m, 0);
		if (check_tensor(t, fname, wte->ndim, wte->shape, err, errlen) < 0)
			return -1;
		float *p = xmalloc(t->numel * sizeof(float));
		convert(t, st_data(s->st, t), p);
		const float *wp = KERN_HOST(model_kernels(m), model_params(m));
		int same = !memcmp(p, wp + wte->offset, wte->numel * sizeof(float));
		free(p);
		if (same)
			return 0;
		if (h->c.family == MODEL_LLAMA)
			snprintf(err, errlen, "tensor %s differs from %s, and config.json's tie_word_embeddings is true",
				 fname, wte->name);
		else
			snprintf(err, errlen, "tensor %s differs from %s: an untied head, which %s in this build does not have",
				 fname, wte->name, h->arch);
		return -1;
	}
	snprintf(err, errlen, "tensor %s is not part of a %s model", fname, h->arch);
	return -1;
}

model *hf_build(hf_model *h, const kern_ops *k, char *err, size_t errlen)
{
	if (h->tokenizer) {
		char why[512];
		tok_vocab *v = tok_load(h->tokenizer, NULL, why, sizeof(why));
		if (!v) {
			snprintf(err, errlen, "%s", why);
			return NULL;
		}
		uint32_t n = tok_n_vocab(v);
		tok_free(v);
		if (n > (uint32_t)h->c.n_vocab) {
			snprintf(err, errlen, "tokenizer.json: ids up to %u do not fit the %d rows of the embedding "
				 "(vocab_size)", n - 1, h->c.n_vocab);
			return NULL;
		}
	}
	model *m = model_new(&h->c, k);
	/* Converted on the host, in place (kernels.h, KERN_HOST). */
	float *params = KERN_HOST(k, model_params(m));
	char fname[128];
	const struct shard *s = NULL;
	for (size_t i = 0; i < model_ntensors(m); i++) {
		const model_tensor *mt = model_tensor_at(m, i);
		const st_tensor *t = NULL;
		if (find_model_tensor(h, mt->name, &t, &s, fname, sizeof(fname), err, errlen) <= 0)
			goto fail;
		if (check_tensor(t, fname, mt->ndim, mt->shape, err, errlen) < 0)
			goto fail;
		convert(t, st_data(s->st, t), params + mt->offset);
	}
	for (size_t i = 0; i < h->nshards; i++) {
		const struct shard *sh = &h->shards[i];
		for (size_t j = 0; j < st_count(sh->st); j++) {
			const st_tensor *t = st_at(sh->st, j);
			if (check_unused(h, m, t->name, t, sh, err, errlen) < 0)
				goto fail;
		}
	}
	return m;
fail:
	model_free(m);
	return NULL;
}

/* ---- writing ---- */

/* The files a model directory written here holds. */
static int written_name(const char *n)
{
	static const char *const names[] = { "config.json", "generation_config.json", "model.safetensors",
					     "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json",
					     "special_tokens_map.json" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(n, names[i]))
			return 1;
	size_t l = strlen(n);
	return !strncmp(n, "model-", 6) && l > 12 && !strcmp(n + l - 12, ".safetensors");
}

/* Remove a directory holding only written_name() files.  With dry set,
 * only say whether it does: 1 yes, 0 no (another file), -1 errno. */
static int remove_model_dir(const char *dir, int dry)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *e;
	int ok = 1;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!written_name(e->d_name)) {
			ok = 0;
			break;
		}
		if (!dry) {
			size_t n = strlen(dir) + strlen(e->d_name) + 2;
			char *p = xmalloc(n);
			snprintf(p, n, "%s/%s", dir, e->d_name);
			(void)unlink(p);
			free(p);
		}
	}
	closedir(d);
	if (ok && !dry)
		(void)rmdir(dir);
	return ok;
}

/* Write a whole file in dir, synced.  Returns 0, or -1 with errno. */
static int put_file(const char *dir, const char *name, const void *p, size_t n, st_writer *w)
{
	size_t l = strlen(dir) + strlen(name) + 2;
	char *path = xmalloc(l);
	snprintf(path, l, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	free(path);
	if (fd < 0)
		return -1;
	int rc = w ? st_writer_write(w, fd) : write_full(fd, p, n);
	if (rc == 0)
		rc = fsync(fd);
	int e = errno;
	if (close(fd) < 0 && rc == 0) {
		rc = -1;
		e = errno;
	}
	errno = e;
	return rc;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

/* The directory a path is in ("." for a bare name). */
static char *parent_of(const char *path)
{
	char *p = xstrdup(path);
	char *slash = strrchr(p, '/');
	if (!slash) {
		free(p);
		return xstrdup(".");
	}
	if (slash == p)
		slash[1] = 0;
	else
		*slash = 0;
	return p;
}

/* The architecture a model is written as: GPT-2's, or the Llama family's
 * class that has its options; NULL with err naming the option none has. */
static const struct arch *save_arch(const model_config *c, char *err, size_t errlen)
{
	const char *type;
	if (c->family != MODEL_LLAMA) {
		type = "gpt2";
	} else if (!c->rope) {
		snprintf(err, errlen, "rope 0 (learned positions): transformers' Llama and Qwen models have rotary "
			 "positions only");
		return NULL;
	} else if (c->norm != MODEL_RMSNORM) {
		snprintf(err, errlen, "norm %s: transformers' Llama and Qwen models have RMSNorm only",
			 model_norm_name(c->norm) ? model_norm_name(c->norm) : "?");
		return NULL;
	} else if (c->mlp != MODEL_SWIGLU) {
		snprintf(err, errlen, "mlp %s: transformers' Llama and Qwen models have SwiGLU (silu) only",
			 model_mlp_name(c->mlp) ? model_mlp_name(c->mlp) : "?");
		return NULL;
	} else if (c->qk_norm && !c->no_bias) {
		snprintf(err, errlen, "qk_norm with q/k/v biases: Qwen3ForCausalLM has QK-norm and no such biases, "
			 "Qwen2ForCausalLM the biases and no QK-norm");
		return NULL;
	} else {
		type = c->qk_norm ? "qwen3" : !c->no_bias ? "qwen2" : "llama";
	}
	for (size_t i = 0; i < N_ARCHS; i++)
		if (!strcmp(archs[i].model_type, type))
			return &archs[i];
	return NULL;
}

int hf_save_check(const model_config *c, char *err, size_t errlen)
{
	return save_arch(c, err, errlen) ? 0 : -1;
}

int hf_save(const char *dir_in, model *m, const hf_save_opts *o, char *err, size_t errlen)
{
	const struct arch *a = save_arch(model_cfg(m), err, errlen);
	if (!a)
		return -1;
	char *dir = xstrdup(dir_in), *tmp = NULL, *old = NULL, *parent = NULL;
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dir[--dl] = 0;
	int rc = -1, e;
	uint8_t *bf = NULL, *tj = NULL;
	st_writer *w = NULL;
	buf cfg = { 0 }, gen = { 0 };
	struct stat sb;
	if (lstat(dir, &sb) == 0) {
		int r = S_ISDIR(sb.st_mode) ? remove_model_dir(dir, 1) : 0;
		if (r != 1) {
			snprintf(err, errlen, "%s", !S_ISDIR(sb.st_mode) ? "exists and is not a directory"
						    : r < 0 ? strerror(errno)
							    : "holds files other than a model's: give a new directory");
			goto out;
		}
	}
	size_t tjlen = 0;
	if (o->tokenizer) {
		int isdir = stat(o->tokenizer, &sb) == 0 && S_ISDIR(sb.st_mode);
		char *src = isdir ? NULL : xstrdup(o->tokenizer);
		if (isdir) {
			size_t n = strlen(o->tokenizer) + 16;
			src = xmalloc(n);
			snprintf(src, n, "%s/tokenizer.json", o->tokenizer);
		}
		int r = file_read_all(src, &tj, &tjlen);
		if (r < 0)
			snprintf(err, errlen, "%s: %s", src, strerror(errno));
		free(src);
		if (r < 0)
			goto out;
	}
	/* The tensors, in the model's order, under the files' names. */
	w = st_writer_new();
	st_writer_meta(w, "format", "pt");
	if (o->dtype == ST_BF16)
		bf = xmalloc(model_nparams(m) * 2);
	for (size_t i = 0; i < model_ntensors(m); i++) {
		const model_tensor *t = model_tensor_at(m, i);
		char name[128];
		snprintf(name, sizeof(name), "%s%s", a->prefix, t->name);
		const float *p = KERN_HOST(model_kernels(m), model_params(m)) + t->offset;
		if (bf) {
			hf_f32_to_bf16(p, bf + t->offset * 2, t->numel);
			st_writer_tensor(w, name, ST_BF16, t->ndim, t->shape, bf + t->offset * 2);
		} else {
			st_writer_tensor(w, name, ST_F32, t->ndim, t->shape, p);
		}
	}
	a->write_config(&cfg, a, model_cfg(m), &o->ids, o->dtype);
	buf_adds(&gen, "{\n");
	put_ids(&gen, &o->ids, 0);
	buf_adds(&gen, "  \"_from_model_config\": false\n}\n");
	/* Everything in a new directory beside the target, then renamed. */
	size_t tl = strlen(dir) + 16;
	tmp = xmalloc(tl);
	snprintf(tmp, tl, "%s.tmp.%s", dir, MKSTEMP_SUFFIX);
	if (!mkdtemp(tmp)) {
		snprintf(err, errlen, "cannot create a directory beside it: %s", strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	/* The mode mkdir() would have given it (mkdtemp()'s is 0700). */
	mode_t mask = umask(0);
	umask(mask);
	if (chmod(tmp, 0777 & ~mask) < 0 || put_file(tmp, "model.safetensors", NULL, 0, w) < 0 || put_file(tmp, "config.json", cfg.data, cfg.len, NULL) < 0 ||
	    put_file(tmp, "generation_config.json", gen.data, gen.len, NULL) < 0 ||
	    (tj && put_file(tmp, "tokenizer.json", tj, tjlen, NULL) < 0) || sync_dir(tmp) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto out;
	}
	/* An earlier model there is moved aside, the new one renamed into
	 * place, and the old one removed. */
	if (lstat(dir, &sb) == 0) {
		old = xmalloc(tl + 4);
		snprintf(old, tl + 4, "%s.old.%s", dir, MKSTEMP_SUFFIX);
		if (!mkdtemp(old) || rmdir(old) < 0 || rename(dir, old) < 0) {
			snprintf(err, errlen, "cannot move the old model aside: %s", strerror(errno));
			free(old);
			old = NULL;
			goto out;
		}
	}
	if (rename(tmp, dir) < 0) {
		e = errno;
		if (old && rename(old, dir) == 0) {
			free(old);
			old = NULL;
		}
		snprintf(err, errlen, "%s", strerror(e));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	parent = parent_of(dir);
	(void)sync_dir(parent);
	rc = 0;
out:
	if (tmp)
		(void)remove_model_dir(tmp, 0);
	if (old)
		(void)remove_model_dir(old, 0);
	free(tmp);
	free(old);
	free(parent);
	free(dir);
	free(bf);
	free(tj);
	st_writer_free(w);
	buf_release(&cfg);
	buf_release(&gen);
	return rc;
}

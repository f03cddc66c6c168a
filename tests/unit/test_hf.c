/* test_hf: Hugging Face model directories: the number conversions, the
 * config.json, generation_config.json and index parsers (GPT-2 and the
 * Llama family), and directories written here and read back (names with or
 * without "transformer.", the mask buffers and a tied head saved twice
 * accepted; Llama, Qwen2 and Qwen3 classes; options no class has refused). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "hf.h"
#include "model.h"
#include "safetensors.h"
#include "util.h"

static float bits_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

/* Every one of the 65536 halves against its value computed another way:
 * sign * 2^(e-15) * (1 + m/1024), subnormals m * 2^-24, infinities, NaN
 * with the payload kept. */
static void test_f16_exact(void)
{
	int bad = 0;
	for (uint32_t h = 0; h < 65536; h++) {
		uint8_t le[2] = { (uint8_t)h, (uint8_t)(h >> 8) };
		float got;
		hf_f16_to_f32(le, &got, 1);
		int e = (int)(h >> 10 & 31), m = (int)(h & 1023);
		double s = h & 0x8000 ? -1 : 1, want;
		if (e == 31) {
			if (m == 0) {
				bad += !(isinf(got) && (got < 0) == (s < 0));
			} else {
				bad += !isnan(got) || (f32_bits(got) >> 13 & 1023) != (uint32_t)m || (f32_bits(got) >> 31) != h >> 15;
			}
			continue;
		}
		want = e == 0 ? s * ldexp(m, -24) : s * ldexp(1024 + m, e - 25);
		bad += (double)got != want || (f32_bits(got) >> 31) != h >> 15;
	}
	CHECK_EQ_INT(bad, 0);
	/* The smallest subnormal, the largest normal, negative zero. */
	uint8_t v[6] = { 0x01, 0x00, 0xff, 0x7b, 0x00, 0x80 };
	float f[3];
	hf_f16_to_f32(v, f, 3);
	CHECK(f[0] == bits_f32(0x33800000));   /* 2^-24 */
	CHECK(f[1] == 65504.0f);
	CHECK(f[2] == 0 && signbit(f[2]));
}

/* bf16 reads as the top half of a float; writing rounds to nearest, ties
 * to even, and keeps NaN a NaN. */
static void test_bf16(void)
{
	float in[7] = { 1.0f, bits_f32(0x3f808000), bits_f32(0x3f818000), bits_f32(0x3f808001), -INFINITY,
			bits_f32(0x7f800001), bits_f32(0x7f7fffff) };
	uint8_t b[14];
	hf_f32_to_bf16(in, b, 7);
	float out[7];
	hf_bf16_to_f32(b, out, 7);
	CHECK(f32_bits(out[0]) == 0x3f800000);
	CHECK(f32_bits(out[1]) == 0x3f800000);  /* tie to even: down */
	CHECK(f32_bits(out[2]) == 0x3f820000);  /* tie to even: up */
	CHECK(f32_bits(out[3]) == 0x3f810000);  /* above the tie */
	CHECK(isinf(out[4]) && out[4] < 0);
	CHECK(isnan(out[5]));                   /* a NaN whose payload is in the low half */
	CHECK(isinf(out[6]));                   /* the largest float rounds up to infinity */
	int bad = 0;
	for (uint32_t h = 0; h < 65536; h++) {
		uint8_t le[2] = { (uint8_t)h, (uint8_t)(h >> 8) }, back[2];
		float f;
		hf_bf16_to_f32(le, &f, 1);
		bad += f32_bits(f) != h << 16;
		hf_f32_to_bf16(&f, back, 1);
		bad += !isnan(f) && (back[0] != le[0] || back[1] != le[1]);
	}
	CHECK_EQ_INT(bad, 0);
}

static int parse(const char *js, model_config *c, hf_ids *ids, char *arch, char *err)
{
	return hf_parse_config(js, strlen(js), c, ids, arch, err, 256);
}

/* The sizes of a Llama-family config.json, the object left open. */
#define LLAMA_SIZES "\"hidden_size\": 64, \"intermediate_size\": 96, \"num_hidden_layers\": 2, " \
	"\"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"vocab_size\": 100"
#define LLAMA "{\"architectures\": [\"LlamaForCausalLM\"], \"max_position_embeddings\": 64, " LLAMA_SIZES
#define QWEN3 "{\"architectures\": [\"Qwen3ForCausalLM\"], \"max_position_embeddings\": 64, " LLAMA_SIZES

/* The Llama family's config.json to the model's options. */
static void test_llama_config(void)
{
	model_config c;
	hf_ids ids;
	char arch[64], err[256];
	/* Llama 3 as on disk: rope_theta, rope_scaling null, GQA, untied. */
	CHECK_EQ_INT(parse(LLAMA ", \"rope_theta\": 500000.0, \"rope_scaling\": null, \"rms_norm_eps\": 1e-05, "
			   "\"tie_word_embeddings\": false, \"attention_bias\": false, \"mlp_bias\": false, "
			   "\"hidden_act\": \"silu\", \"bos_token_id\": 1, \"eos_token_id\": [2, 3]}",
			   &c, &ids, arch, err), 0);
	CHECK(!strcmp(arch, "LlamaForCausalLM"));
	CHECK(c.family == MODEL_LLAMA && c.n_layer == 2 && c.n_embd == 64 && c.n_head == 4 && c.n_kv_head == 2);
	CHECK(c.head_dim == 16 && c.n_ff == 96 && c.n_ctx == 64 && c.n_vocab == 100);
	CHECK(c.norm == MODEL_RMSNORM && c.mlp == MODEL_SWIGLU && c.rope == 1 && c.rope_theta == 500000.0);
	CHECK(c.untied == 1 && c.no_bias == 1 && c.qk_norm == 0 && c.norm_eps == 1e-5);
	CHECK(ids.has_bos && ids.bos == 1 && ids.n_eos == 2 && ids.eos[1] == 3);
	/* Qwen3 as transformers 5 writes it: rope_parameters, layer_types, a
	 * sliding window unused, head_dim apart, tied; 40960 positions cut. */
	CHECK_EQ_INT(parse("{\"architectures\": [\"Qwen3ForCausalLM\"], \"max_position_embeddings\": 40960, " LLAMA_SIZES
			   ", \"head_dim\": 32, \"rope_parameters\": {\"rope_theta\": 1000000.0, \"rope_type\": \"default\"}, "
			   "\"layer_types\": [\"full_attention\", \"full_attention\"], \"sliding_window\": null, "
			   "\"use_sliding_window\": false, \"max_window_layers\": 28, \"tie_word_embeddings\": true}",
			   &c, &ids, arch, err), 0);
	CHECK(!strcmp(arch, "Qwen3ForCausalLM") && c.qk_norm == 1 && c.no_bias == 1 && c.untied == 0);
	CHECK(c.head_dim == 32 && c.rope_theta == 1e6 && c.norm_eps == 1e-6 && c.n_ctx == HF_CTX_CAP);
	/* Qwen3 without head_dim: transformers' default, 128. */
	CHECK_EQ_INT(parse(QWEN3 "}", &c, &ids, arch, err), 0);
	CHECK(c.head_dim == 128 && c.rope_theta == 10000 && c.untied == 1);
	/* Qwen2: q/k/v biases, whatever attention_bias says. */
	CHECK_EQ_INT(parse("{\"model_type\": \"qwen2\", \"max_position_embeddings\": 32768, " LLAMA_SIZES
			   ", \"rope_scaling\": {\"rope_type\": \"default\"}}", &c, &ids, arch, err), 0);
	CHECK(!strcmp(arch, "Qwen2ForCausalLM") && c.no_bias == 0 && c.qk_norm == 0 && c.head_dim == 16);
}

static void test_config(void)
{
	model_config c;
	hf_ids ids;
	char arch[64], err[256];
	const char *gpt2 = "{\n  \"architectures\": [\"GPT2LMHeadModel\"], \"model_type\": \"gpt2\",\n"
			   "  \"vocab_size\": 50257, \"n_positions\": 1024, \"n_embd\": 768, \"n_layer\": 12,\n"
			   "  \"n_head\": 12, \"n_inner\": null, \"layer_norm_epsilon\": 1e-05,\n"
			   "  \"task_specific_params\": {\"text-generation\": {\"do_sample\": true}},\n"
			   "  \"bos_token_id\": 50256, \"eos_token_id\": 50256\n}\n";
	CHECK_EQ_INT(parse(gpt2, &c, &ids, arch, err), 0);
	CHECK(!strcmp(arch, "GPT2LMHeadModel"));
	CHECK(c.n_layer == 12 && c.n_embd == 768 && c.n_head == 12 && c.n_ctx == 1024 && c.n_vocab == 50257);
	CHECK(ids.has_bos && ids.bos == 50256 && ids.n_eos == 1 && ids.eos[0] == 50256);
	/* model_type alone names it too. */
	CHECK_EQ_INT(parse("{\"model_type\": \"gpt2\", \"vocab_size\": 10, \"n_ctx\": 8, \"n_embd\": 8, "
			   "\"n_layer\": 1, \"n_head\": 2}", &c, &ids, arch, err), 0);
	CHECK(c.n_ctx == 8 && !ids.has_bos && !ids.n_eos);
	static const struct {
		const char *json, *want;
	} bad[] = {
		{ "{\"architectures\": [\"BertModel\"]}", "architecture BertModel: not supported" },
		{ "{\"model_type\": \"mamba\"}", "architecture mamba: not supported" },
		{ "{}", "neither architectures nor model_type" },
		{ "{\"model_type\": \"gpt2\", \"vocab_size\": 10, \"n_ctx\": 8, \"n_embd\": 8, \"n_layer\": 1}",
		  "config.json: no n_head" },
		{ "{\"model_type\": \"gpt2\", \"vocab_size\": 10, \"n_ctx\": 8, \"n_embd\": 8.5, \"n_layer\": 1, \"n_head\": 2}",
		  "n_embd is not an integer" },
		{ "{\"model_type\": \"gpt2\", \"vocab_size\": 10, \"n_ctx\": 8, \"n_embd\": 8, \"n_layer\": 1, \"n_head\": 3}",
		  "n_head 3 does not divide n_embd 8" },
		{ "{\"model_type\": \"gpt2\", \"vocab_size\": 10, \"n_ctx\": 8, \"n_embd\": 8, \"n_layer\": 1, \"n_head\": 2, "
		  "\"activation_function\": \"relu\"}", "activation_function relu" },
		{ "{\"model_type\": \"gpt2\", \"vocab_size\": 10, \"n_ctx\": 8, \"n_embd\": 8, \"n_layer\": 1, \"n_head\": 2, "
		  "\"n_inner\": 16}", "n_inner 16" },
		{ "{\"model_type\": \"gpt2\", \"vocab_size\": 10, \"n_ctx\": 8, \"n_embd\": 8, \"n_layer\": 1, \"n_head\": 2, "
		  "\"tie_word_embeddings\": false}", "tie_word_embeddings false: not supported" },
		{ "{\"model_type\": \"gpt2\", \"vocab_size\": 10, \"n_ctx\": 8, \"n_embd\": 8, \"n_layer\": 1, \"n_head\": 2, "
		  "\"eos_token_id\": \"x\"}", "eos_token_id is not an integer" },
		{ "{\"model_type\": \"gpt2\", \"model_type\": \"gpt2\"}", "key \"model_type\" appears twice" },
		{ "{\"model_type\": \"gpt2\"} x", "text after the object" },
		{ "[1]", "config.json: column 1: expected an object" },
		{ LLAMA ", \"rope_scaling\": {\"factor\": 8.0, \"rope_type\": \"llama3\"}}",
		  "rope_scaling: rope type \"llama3\" is not supported" },
		{ LLAMA ", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}}", "rope type \"linear\"" },
		{ LLAMA ", \"rope_parameters\": {\"rope_theta\": 5e5, \"rope_type\": \"yarn\"}}",
		  "rope_parameters: rope type \"yarn\"" },
		{ LLAMA ", \"rope_scaling\": 2}", "rope_scaling is not an object" },
		{ LLAMA ", \"attention_bias\": true}", "attention_bias true: biases on q/k/v/o_proj" },
		{ LLAMA ", \"mlp_bias\": true}", "mlp_bias true" },
		{ LLAMA ", \"hidden_act\": \"gelu\"}", "hidden_act gelu" },
		{ LLAMA ", \"rope_theta\": -1}", "rope_theta is not positive" },
		{ LLAMA ", \"head_dim\": 7}", "even head_dim" },
		{ QWEN3 ", \"use_sliding_window\": true}", "use_sliding_window true" },
		{ QWEN3 ", \"layer_types\": [\"full_attention\", \"sliding_attention\"]}",
		  "layer_types: \"sliding_attention\"" },
		{ QWEN3 ", \"attention_bias\": true}", "attention_bias true" },
		{ "{\"architectures\": [\"Qwen3ForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 128, "
		  "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 3, "
		  "\"max_position_embeddings\": 64, \"vocab_size\": 100}",
		  "num_key_value_heads 3 does not divide num_attention_heads 4" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		int rc = parse(bad[i].json, &c, &ids, arch, err);
		if (rc == 0 || !strstr(err, bad[i].want))
			fprintf(stderr, "config %zu: rc %d, err '%s', want '%s'\n", i, rc, err, bad[i].want);
		CHECK(rc < 0 && strstr(err, bad[i].want));
	}
	/* generation_config.json: a list of end ids. */
	memset(&ids, 0, sizeof(ids));
	const char *gen = "{\"bos_token_id\": 1, \"eos_token_id\": [128001, 128008, 128009], \"do_sample\": true}";
	CHECK_EQ_INT(hf_parse_generation(gen, strlen(gen), &ids, err, sizeof(err)), 0);
	CHECK(ids.has_bos && ids.bos == 1 && ids.n_eos == 3 && ids.eos[2] == 128009);
}

struct entries {
	int n;
	char last[64];
};

static void count_entry(void *ctx, const char *tensor, const char *file)
{
	struct entries *e = ctx;
	e->n++;
	snprintf(e->last, sizeof(e->last), "%s=%s", tensor, file);
}

static void test_index(void)
{
	char err[256];
	struct entries e = { 0 };
	const char *ok = "{\"metadata\": {\"total_size\": 8}, \"weight_map\": {\"a.weight\": \"model-00001-of-00002.safetensors\", "
			 "\"b\": \"model-00002-of-00002.safetensors\"}}";
	CHECK_EQ_INT(hf_parse_index(ok, strlen(ok), count_entry, &e, err, sizeof(err)), 0);
	CHECK(e.n == 2 && !strcmp(e.last, "b=model-00002-of-00002.safetensors"));
	static const struct {
		const char *json, *want;
	} bad[] = {
		{ "{\"metadata\": {}}", "no weight_map" },
		{ "{\"weight_map\": {\"a\": \"../a.safetensors\"}}", "is not a file name in the directory" },
		{ "{\"weight_map\": {\"a\": \"sub/a.safetensors\"}}", "is not a file name in the directory" },
		{ "{\"weight_map\": {\"a\": \"..\"}}", "is not a file name in the directory" },
		{ "{\"weight_map\": {\"a\": 3}}", "weight_map: column" },
		{ "{\"weight_map\": [1]}", "weight_map: column" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		int rc = hf_parse_index(bad[i].json, strlen(bad[i].json), count_entry, &e, err, sizeof(err));
		if (rc == 0 || !strstr(err, bad[i].want))
			fprintf(stderr, "index %zu: rc %d, err '%s', want '%s'\n", i, rc, err, bad[i].want);
		CHECK(rc < 0 && strstr(err, bad[i].want));
	}
}

static char *tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *d = xmalloc(4096);
	snprintf(d, 4096, "%s/test_hf.%s", base && *base ? base : "/tmp", MKSTEMP_SUFFIX);
	if (!mkdtemp(d)) {
		free(d);
		return NULL;
	}
	return d;
}

static void rm_rf(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static void write_text(const char *dir, const char *name, const char *text)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* A model written here reads back bit for bit, in F32; in BF16 as its
 * rounding; written by hand without "transformer.", with the mask buffers
 * and lm_head.weight, it reads back too. */
static void test_roundtrip(void)
{
	char *d = tmpdir();
	CHECK(d != NULL);
	if (!d)
		return;
	model_config c = { .n_layer = 2, .n_embd = 16, .n_head = 2, .n_ctx = 8, .n_vocab = 37 };
	model *m = model_new(&c, &kern_cpu);
	model_init(m, 3);
	char out[4200], err[512];
	snprintf(out, sizeof(out), "%s/m", d);
	hf_save_opts o = { .dtype = ST_F32, .ids = { .has_bos = 1, .bos = 36, .n_eos = 2, .eos = { 36, 35 } } };
	CHECK_EQ_INT(hf_save(out, m, &o, err, sizeof(err)), 0);
	hf_model *h = hf_open(out, err, sizeof(err));
	CHECK(h != NULL);
	model *r = h ? hf_build(h, &kern_cpu, err, sizeof(err)) : NULL;
	CHECK(r != NULL);
	if (r) {
		CHECK(!memcmp(model_params(r), model_params(m), model_nparams(m) * sizeof(float)));
		const hf_ids *ids = hf_token_ids(h);
		CHECK(ids->has_bos && ids->bos == 36 && ids->n_eos == 2 && ids->eos[1] == 35);
		CHECK(hf_tokenizer(h) == NULL);
	}
	model_free(r);
	hf_close(h);

	o.dtype = ST_BF16;
	CHECK_EQ_INT(hf_save(out, m, &o, err, sizeof(err)), 0);
	h = hf_open(out, err, sizeof(err));
	r = h ? hf_build(h, &kern_cpu, err, sizeof(err)) : NULL;
	CHECK(r != NULL);
	if (r) {
		size_t n = model_nparams(m), bad = 0;
		uint8_t *b = xmalloc(n * 2);
		float *want = xmalloc(n * sizeof(float));
		hf_f32_to_bf16(model_params(m), b, n);
		hf_bf16_to_f32(b, want, n);
		for (size_t i = 0; i < n; i++)
			bad += model_params(r)[i] != want[i];
		CHECK_EQ_INT(bad, 0);
		free(b);
		free(want);
	}
	model_free(r);
	hf_close(h);

	/* By hand: plain names, F16, the buffers, the tied head again. */
	char hand[4200];
	snprintf(hand, sizeof(hand), "%s/hand", d);
	mkdir(hand, 0777);
	write_text(hand, "config.json", "{\"model_type\": \"gpt2\", \"vocab_size\": 37, \"n_positions\": 8, \"n_embd\": 16, "
					    "\"n_layer\": 2, \"n_head\": 2}");
	st_writer *w = st_writer_new();
	size_t n = model_nparams(m);
	uint16_t *half = xmalloc(n * 2);
	for (size_t i = 0; i < n; i++)
		half[i] = (uint16_t)(0x3c00 + (i % 97)); /* 1 + k/1024, exact in both */
	for (size_t i = 0; i < model_ntensors(m); i++) {
		const model_tensor *t = model_tensor_at(m, i);
		st_writer_tensor(w, t->name, ST_F16, t->ndim, t->shape, half + t->offset);
	}
	const model_tensor *wte = model_tensor_at(m, 0);
	st_writer_tensor(w, "lm_head.weight", ST_F16, 2, wte->shape, half + wte->offset);
	uint8_t mask[64] = { 0 };
	int64_t ms[4] = { 1, 1, 8, 8 }, one = 1;
	st_writer_tensor(w, "h.0.attn.bias", ST_U8, 4, ms, mask);
	st_writer_tensor(w, "h.1.attn.masked_bias", ST_F32, 1, &one, mask);
	char p[4300];
	snprintf(p, sizeof(p), "%s/model.safetensors", hand);
	CHECK_EQ_INT(st_writer_save(w, p, err, sizeof(err)), 0);
	st_writer_free(w);
	h = hf_open(hand, err, sizeof(err));
	r = h ? hf_build(h, &kern_cpu, err, sizeof(err)) : NULL;
	if (!r)
		fprintf(stderr, "hand-made: %s\n", err);
	CHECK(r != NULL);
	if (r) {
		size_t bad = 0;
		for (size_t i = 0; i < n; i++)
			bad += model_params(r)[i] != 1.0f + (float)(i % 97) / 1024;
		CHECK_EQ_INT(bad, 0);
	}
	model_free(r);
	hf_close(h);
	free(half);

	/* A file where the directory would go, and a failed write leave no
	 * directory that looks finished. */
	snprintf(p, sizeof(p), "%s/file", d);
	write_text(d, "file", "x");
	err[0] = 0;
	CHECK(hf_save(p, m, &o, err, sizeof(err)) < 0 && strstr(err, "not a directory"));
	snprintf(p, sizeof(p), "%s/no/such/m", d);
	CHECK(hf_save(p, m, &o, err, sizeof(err)) < 0);
	o.tokenizer = "/nonexistent/tokenizer.json";
	snprintf(p, sizeof(p), "%s/t", d);
	CHECK(hf_save(p, m, &o, err, sizeof(err)) < 0 && strstr(err, "tokenizer.json"));
	struct stat sb;
	CHECK(stat(p, &sb) < 0);
	model_free(m);
	rm_rf(d);
	free(d);
}

/* Each Llama-family class written and read back bit for bit, the config
 * unchanged; the options no class has refused before anything is written. */
static void test_llama_roundtrip(void)
{
	char *d = tmpdir();
	CHECK(d != NULL);
	if (!d)
		return;
	static const struct {
		const char *preset, *arch;
		int no_bias;
	} cases[] = {
		{ "llama-d2", "LlamaForCausalLM", 1 },
		{ "qwen3-d1", "Qwen3ForCausalLM", 1 },
		{ "llama-d2", "Qwen2ForCausalLM", 0 },
	};
	char out[4200], err[512];
	snprintf(out, sizeof(out), "%s/m", d);
	hf_save_opts o = { .dtype = ST_F32, .ids = { .has_bos = 1, .bos = 36, .n_eos = 1, .eos = { 35 } } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		model_config c = { .n_ctx = 24, .n_vocab = 37 };
		CHECK_EQ_INT(model_config_preset(cases[i].preset, &c), 0);
		c.no_bias = cases[i].no_bias;
		c.rope_theta = 123456.5;
		c.norm_eps = 1e-6;
		model *m = model_new(&c, &kern_cpu);
		model_init(m, 5);
		CHECK_EQ_INT(hf_save_check(&c, err, sizeof(err)), 0);
		CHECK_EQ_INT(hf_save(out, m, &o, err, sizeof(err)), 0);
		hf_model *h = hf_open(out, err, sizeof(err));
		if (!h)
			fprintf(stderr, "%s: %s\n", cases[i].arch, err);
		CHECK(h != NULL);
		model *r = h ? hf_build(h, &kern_cpu, err, sizeof(err)) : NULL;
		CHECK(r != NULL);
		if (r) {
			const model_config *rc = model_cfg(r);
			CHECK(!strcmp(hf_arch(h), cases[i].arch));
			CHECK(rc->family == MODEL_LLAMA && rc->n_layer == c.n_layer && rc->n_embd == c.n_embd &&
			      rc->n_head == c.n_head && model_kv_heads(rc) == model_kv_heads(&c) &&
			      model_head_dim(rc) == model_head_dim(&c) && model_ff(rc) == model_ff(&c));
			CHECK(rc->n_ctx == 24 && rc->n_vocab == 37 && rc->rope_theta == 123456.5 && rc->norm_eps == 1e-6);
			CHECK(rc->qk_norm == c.qk_norm && rc->untied == c.untied && rc->no_bias == c.no_bias);
			CHECK(model_nparams(r) == model_nparams(m) &&
			      !memcmp(model_params(r), model_params(m), model_nparams(m) * sizeof(float)));
		}
		model_free(r);
		hf_close(h);
		model_free(m);
	}
	/* No transformers class: refused, naming the option; nothing written. */
	static const struct {
		const char *preset;
		int field, value;
		const char *want;
	} no[] = {
		{ "modern-d1", 0, 0, "mlp relu2" },
		{ "llama-d1", 1, MODEL_LAYERNORM, "norm layernorm" },
		{ "llama-d1", 2, 0, "rope 0" },
		{ "qwen3-d1", 3, 0, "qk_norm with q/k/v biases" },
	};
	snprintf(out, sizeof(out), "%s/refused", d);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		model_config c = { .n_ctx = 8, .n_vocab = 37 };
		CHECK_EQ_INT(model_config_preset(no[i].preset, &c), 0);
		if (no[i].field == 1)
			c.norm = no[i].value;
		else if (no[i].field == 2)
			c.rope = 0;
		else if (no[i].field == 3)
			c.no_bias = 0;
		model *m = model_new(&c, &kern_cpu);
		err[0] = 0;
		CHECK(hf_save_check(&c, err, sizeof(err)) < 0 && strstr(err, no[i].want));
		err[0] = 0;
		CHECK(hf_save(out, m, &o, err, sizeof(err)) < 0 && strstr(err, no[i].want));
		if (!strstr(err, no[i].want))
			fprintf(stderr, "refusal %zu: '%s', want '%s'\n", i, err, no[i].want);
		struct stat sb;
		CHECK(stat(out, &sb) < 0);
		model_free(m);
	}
	rm_rf(d);
	free(d);
}

int main(void)
{
	RUN(test_f16_exact);
	RUN(test_bf16);
	RUN(test_config);
	RUN(test_llama_config);
	RUN(test_llama_roundtrip);
	RUN(test_index);
	RUN(test_roundtrip);
	CHECK_EXIT();
}

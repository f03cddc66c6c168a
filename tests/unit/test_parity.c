/* test_parity: the Llama family against transformers.  For each tiny random
 * model tests/parity/llama.py made (Llama, Qwen3, Qwen2, nanochat-like), the
 * checkpoint as transformers saved its state dict loads as it is; the
 * logits of its ids match transformers' to 1e-4 of their largest, and
 * greedy decoding through the key/value cache gives transformers' tokens.
 *
 *   test_parity [DIR]   the files in DIR (default tests/data/parity) */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "ckpt.h"
#include "model.h"
#include "safetensors.h"
#include "util.h"

static const char *dir = "tests/data/parity";

static const st_tensor *want(const st_file *f, const char *name, st_dtype dtype, uint64_t min)
{
	const st_tensor *t = st_find(f, name);
	if (!t || t->dtype != dtype || t->numel < min) {
		fprintf(stderr, "vectors: %s missing or of the wrong type\n", name);
		return NULL;
	}
	return t;
}

static int32_t i32_at(const st_file *f, const st_tensor *t, size_t i)
{
	int32_t v;
	memcpy(&v, st_data(f, t) + 4 * i, 4);
	return v;
}

static void check_model(const char *name)
{
	char path[512], err[512];
	snprintf(path, sizeof(path), "%s/%s.safetensors", dir, name);
	ckpt_info info = { 0 };
	model *m = ckpt_load(path, &kern_cpu, &info, err, sizeof(err));
	if (!m)
		fprintf(stderr, "%s: %s\n", path, err);
	CHECK(m != NULL);
	snprintf(path, sizeof(path), "%s/%s.vectors.safetensors", dir, name);
	st_file *f = st_load(path, err, sizeof(err));
	if (!f)
		fprintf(stderr, "%s: %s\n", path, err);
	CHECK(f != NULL);
	if (!m || !f) {
		model_free(m);
		st_free(f);
		return;
	}
	const st_tensor *ids = want(f, "ids", ST_I32, 2), *lg = want(f, "logits", ST_F32, 1),
			*prompt = want(f, "prompt", ST_I32, 1), *greedy = want(f, "greedy", ST_I32, 1);
	CHECK(ids && lg && prompt && greedy && ids->ndim == 2);
	int V = model_cfg(m)->n_vocab;
	if (!ids || !lg || !prompt || !greedy || ids->ndim != 2 || lg->numel != ids->numel * (uint64_t)V) {
		model_free(m);
		st_free(f);
		return;
	}
	int B = (int)ids->shape[0], T = (int)ids->shape[1];
	uint32_t *tok = xmalloc((size_t)B * T * sizeof(*tok));
	for (int i = 0; i < B * T; i++)
		tok[i] = (uint32_t)i32_at(f, ids, (size_t)i);
	model_forward(m, tok, NULL, NULL, B, T);
	const float *ref = (const float *)(const void *)st_data(f, lg);
	double big = 0, diff = 0;
	for (size_t i = 0; i < lg->numel; i++) {
		float r;
		memcpy(&r, ref + i, 4);
		big = fmax(big, fabs(r));
		diff = fmax(diff, fabs(model_logits(m)[i] - r));
	}

	/* Greedy decoding through the cache, one token a call. */
	int P = (int)prompt->numel, G = (int)greedy->numel, same = 1;
	model_cache *c = model_cache_new(m, 1, P + G, KERN_F32);
	int slot = 0;
	uint32_t t = (uint32_t)i32_at(f, prompt, 0);
	for (int pos = 0; pos < P + G - 1; pos++) {
		const real *z = model_decode(m, c, &slot, &t, &pos, 1);
		if (pos + 1 < P) {
			t = (uint32_t)i32_at(f, prompt, (size_t)pos + 1);
			continue;
		}
		uint32_t arg = 0;
		for (int v = 1; v < V; v++)
			if (z[v] > z[arg])
				arg = (uint32_t)v;
		same &= arg == (uint32_t)i32_at(f, greedy, (size_t)(pos + 1 - P));
		t = arg;
	}
	printf("# %-7s (%s): logits max abs difference %.2e of max |logit| %.3f (relative %.2e, tolerance 1e-4); "
	       "%d greedy tokens through the cache as transformers': %s\n",
	       name, model_family_name(model_cfg(m)->family), diff, big, diff / big, G, same ? "yes" : "NO");
	CHECK(diff <= 1e-4 * big);
	CHECK(same);
	model_cache_free(c);
	free(tok);
	model_free(m);
	st_free(f);
}

static void test_llama(void) { check_model("llama"); }
static void test_qwen3(void) { check_model("qwen3"); }
static void test_qwen2(void) { check_model("qwen2"); }
static void test_modern(void) { check_model("modern"); }

int main(int argc, char **argv)
{
	if (argc > 1)
		dir = argv[1];
	RUN(test_llama);
	RUN(test_qwen3);
	RUN(test_qwen2);
	RUN(test_modern);
	CHECK_EXIT();
}

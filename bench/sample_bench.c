/* sample_bench: generation speed of the CPU backend.
 *
 *   sample_bench [-o CKPT] [-t TEMPERATURE] L C H V NEW [WEIGHTS...]
 *       tokens/s generating NEW tokens from a one-token prompt with the
 *       key/value cache at batch 1, 16 and 64 (that many prompts at once),
 *       for each weight storage named (f32, bf16, int8; default all three);
 *       and the bound at batch 1: the bytes of weights read per token.
 *       -o writes the model first, so that another sampler can be timed on
 *       the same weights (bench/sample_torch.py).  -t samples at that
 *       temperature (seed 1, no top-k or top-p), as RL's rollouts do,
 *       instead of greedy decoding.
 *
 * GPT-2-shaped model, random weights (speed does not depend on them); no
 * stop token, so every completion is NEW tokens long. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "cli.h"
#include "model.h"
#include "sample.h"
#include "util.h"

static double temperature; /* -t: 0 greedy */

static double cached(model *m, int weights, int batch, int new_tokens)
{
	uint32_t start = 50256 % (uint32_t)model_cfg(m)->n_vocab;
	sample_job *j = xcalloc((size_t)batch, sizeof(*j));
	for (int i = 0; i < batch; i++) {
		j[i].prompt = &start;
		j[i].nprompt = 1;
		j[i].group = (uint64_t)i;
	}
	sample_opts o = { .temperature = temperature, .top_p = 1, .max_new = new_tokens, .slots = batch, .weights = weights,
			  .seed = 1 };
	char err[256];
	double t0 = util_now();
	if (sample_run(m, &o, j, (size_t)batch, err, sizeof(err)) < 0) {
		fprintf(stderr, "sample_bench: %s\n", err);
		exit(1);
	}
	double secs = util_now() - t0;
	size_t total = 0;
	for (int i = 0; i < batch; i++) {
		total += j[i].nout;
		sample_job_release(&j[i]);
	}
	free(j);
	return (double)total / secs;
}

int main(int argc, char **argv)
{
	cli_init("sample_bench"); /* the tools' OpenMP wait policy */
	const char *save = NULL;
	for (; argc > 2 && argv[1][0] == '-'; argv += 2, argc -= 2) {
		if (!strcmp(argv[1], "-o"))
			save = argv[2];
		else if (!strcmp(argv[1], "-t"))
			temperature = atof(argv[2]);
		else
			break;
	}
	if (argc < 6) {
		fprintf(stderr, "usage: sample_bench [-o CKPT] [-t TEMPERATURE] L C H V NEW [f32|bf16|int8...]\n");
		return 2;
	}
	int NEW = atoi(argv[5]);
	model_config c = { .n_layer = atoi(argv[1]), .n_embd = atoi(argv[2]), .n_head = atoi(argv[3]),
			   .n_ctx = NEW + 1 > 1024 ? NEW + 1 : 1024, .n_vocab = atoi(argv[4]) };
	model *m = model_new(&c, &kern_cpu);
	model_init(m, 1);
	char err[256];
	ckpt_info info = { .tokenizer = "gpt2" };
	if (save && ckpt_save(save, m, &info, err, sizeof(err)) < 0) {
		fprintf(stderr, "sample_bench: %s: %s\n", save, err);
		return 1;
	}
	static const char *const all[] = { "f32", "bf16", "int8" };
	const char *const *names = argc > 6 ? (const char *const *)argv + 6 : all;
	int nn = argc > 6 ? argc - 6 : 3;
	for (int i = 0; i < nn; i++) {
		int w = model_weights_parse(names[i]);
		if (w < 0) {
			fprintf(stderr, "sample_bench: %s: not f32, bf16 or int8\n", names[i]);
			return 2;
		}
		/* Bytes a token reads: the four products of every block and
		 * the head, packed. */
		int C = c.n_embd;
		double bytes = (double)c.n_layer * (double)(kern_cpu.panel_bytes(w, C, 3 * C) + kern_cpu.panel_bytes(w, C, C) +
							     kern_cpu.panel_bytes(w, C, 4 * C) +
							     kern_cpu.panel_bytes(w, 4 * C, C)) +
			       (double)kern_cpu.panel_bytes(w, C, c.n_vocab);
		double b1 = cached(m, w, 1, NEW), b16 = cached(m, w, 16, NEW), b64 = cached(m, w, 64, NEW);
		printf("shape L=%d C=%d H=%d V=%d threads=%d weights=%s (%.0f MB a token), temperature %g, %d new tokens: "
		       "batch 1 %.1f tokens/s (%.1f GB/s), batch 16 %.1f, batch 64 %.1f tokens/s\n",
		       c.n_layer, c.n_embd, c.n_head, c.n_vocab, omp_get_max_threads(), names[i], bytes / 1e6, temperature, NEW, b1,
		       b1 * bytes / 1e9, b16, b64);
		fflush(stdout);
	}
	model_free(m);
	return 0;
}

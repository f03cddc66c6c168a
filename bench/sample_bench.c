/* sample_bench: generation speed of the CPU backend.
 *
 *   sample_bench L C H V NEW   tokens/s generating NEW tokens from a
 *                              one-token prompt with the key/value cache at
 *                              batch 1 and batch 16 (16 prompts at once),
 *                              and at batch 1 by recomputing the whole
 *                              sequence for every token, as a model without
 *                              a cache must: the cache's speed-up.
 *
 * GPT-2-shaped model, random weights (speed does not depend on them),
 * greedy decoding so that every run generates the same tokens. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "model.h"
#include "sample.h"
#include "util.h"

static double cached(model *m, int batch, int new_tokens)
{
	uint32_t start = 50256 % (uint32_t)model_cfg(m)->n_vocab;
	sample_job *j = xcalloc((size_t)batch, sizeof(*j));
	for (int i = 0; i < batch; i++) {
		j[i].prompt = &start;
		j[i].nprompt = 1;
		j[i].group = (uint64_t)i;
	}
	sample_opts o = { .temperature = 0, .top_p = 1, .max_new = new_tokens, .slots = batch };
	char err[256];
	double t0 = cli_now();
	if (sample_run(m, &o, j, (size_t)batch, err, sizeof(err)) < 0) {
		fprintf(stderr, "sample_bench: %s\n", err);
		exit(1);
	}
	double secs = cli_now() - t0;
	size_t total = 0;
	for (int i = 0; i < batch; i++) {
		total += j[i].nout;
		sample_job_release(&j[i]);
	}
	free(j);
	return (double)total / secs;
}

static double recomputed(model *m, int new_tokens)
{
	int V = model_cfg(m)->n_vocab;
	uint32_t *seq = xmalloc(((size_t)new_tokens + 1) * sizeof(*seq));
	seq[0] = 50256 % (uint32_t)V;
	double t0 = cli_now();
	for (int n = 1; n <= new_tokens; n++) {
		model_forward(m, seq, NULL, NULL, 1, n);
		const real *row = model_logits(m) + (size_t)(n - 1) * V;
		uint32_t arg = 0;
		for (int v = 1; v < V; v++)
			if (row[v] > row[arg])
				arg = (uint32_t)v;
		seq[n] = arg;
	}
	double secs = cli_now() - t0;
	free(seq);
	return new_tokens / secs;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: sample_bench L C H V NEW\n");
		return 2;
	}
	int NEW = atoi(argv[5]);
	model_config c = { atoi(argv[1]), atoi(argv[2]), atoi(argv[3]), NEW + 1 > 1024 ? NEW + 1 : 1024, atoi(argv[4]) };
	model *m = model_new(&c, &kern_cpu);
	model_init(m, 1);
	double b1 = cached(m, 1, NEW), b16 = cached(m, 16, NEW), rc = recomputed(m, NEW);
	printf("shape L=%d C=%d H=%d V=%d threads=%d, %d new tokens: cache batch 1 %.1f tokens/s, batch 16 %.1f tokens/s; "
	       "recomputation batch 1 %.1f tokens/s; cache speed-up %.1fx\n",
	       c.n_layer, c.n_embd, c.n_head, c.n_vocab, omp_get_max_threads(), NEW, b1, b16, rc, b1 / rc);
	model_free(m);
	return 0;
}

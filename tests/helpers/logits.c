/* logits: print a checkpoint's logits for one sequence, for the tests that
 * compare our forward pass with an independent implementation.
 *
 *   logits CKPT ID...    one line per position: V logits, %.9g (CKPT: any
 *                        checkpoint sluice reads, a model directory too) */
#include <stdio.h>
#include <stdlib.h>

#include "ckpt.h"
#include "model.h"
#include "util.h"

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: logits CKPT ID...\n");
		return 2;
	}
	char err[512];
	ckpt_info info = { 0 };
	model *m = ckpt_load_any(argv[1], &kern_cpu, &info, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "logits: %s: %s\n", argv[1], err);
		return 1;
	}
	int T = argc - 2, V = model_cfg(m)->n_vocab;
	uint32_t *tok = xmalloc((size_t)T * sizeof(*tok));
	for (int i = 0; i < T; i++)
		tok[i] = (uint32_t)strtoul(argv[i + 2], NULL, 10) % (uint32_t)V;
	model_forward(m, tok, NULL, NULL, 1, T);
	const real *z = model_logits(m);
	for (int t = 0; t < T; t++)
		for (int v = 0; v < V; v++)
			printf("%.9g%c", z[(size_t)t * V + v], v + 1 < V ? ' ' : '\n');
	free(tok);
	model_free(m);
	return 0;
}

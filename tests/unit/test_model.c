/* test_model: operations on a whole model's parameters. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "model.h"

/* Growing the vocabulary keeps every tensor and gives the new rows the mean
 * of the old ones; the old tokens' logits do not change. */
static void test_grow_vocab(void)
{
	model_config c = { .n_layer = 2, .n_embd = 16, .n_head = 2, .n_ctx = 8, .n_vocab = 29 };
	model *m = model_new(&c, &kern_cpu);
	model_init(m, 5);
	model *g = model_grow_vocab(m, 31);
	CHECK_EQ_INT(model_cfg(g)->n_vocab, 31);
	CHECK_EQ_INT(model_ntensors(g), model_ntensors(m));
	CHECK(model_nparams(g) == model_nparams(m) + 2 * 16);
	int same = 1;
	for (size_t i = 0; i < model_ntensors(m); i++) {
		const model_tensor *a = model_tensor_at(m, i), *b = model_tensor_at(g, i);
		same &= !strcmp(a->name, b->name);
		size_t n = i == 0 ? a->numel : b->numel;
		same &= !memcmp(model_params(m) + a->offset, model_params(g) + b->offset, n * sizeof(real));
	}
	CHECK(same);
	double worst = 0;
	for (int j = 0; j < 16; j++) {
		double mean = 0;
		for (int v = 0; v < 29; v++)
			mean += model_params(m)[v * 16 + j] / 29.0;
		for (int v = 29; v < 31; v++)
			worst = fmax(worst, fabs(model_params(g)[v * 16 + j] - mean));
	}
	printf("# new embedding rows: max distance from the mean row %.2e\n", worst);
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

int main(void)
{
	RUN(test_grow_vocab);
	CHECK_EXIT();
}

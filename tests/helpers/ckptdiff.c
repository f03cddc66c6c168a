/* ckptdiff: compare the parameters of two checkpoints of one shape.
 *
 *   ckptdiff A B    prints "params N max_abs_diff D max_abs A_MAX"
 *
 * Exit 0, 1 if either cannot be read or the shapes differ, 2 on usage. */
#include <math.h>
#include <stdio.h>

#include "ckpt.h"
#include "model.h"

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: ckptdiff A B\n");
		return 2;
	}
	char err[512];
	ckpt_info ia = { 0 }, ib = { 0 };
	model *a = ckpt_load(argv[1], &kern_cpu, &ia, err, sizeof(err));
	if (!a) {
		fprintf(stderr, "ckptdiff: %s: %s\n", argv[1], err);
		return 1;
	}
	model *b = ckpt_load(argv[2], &kern_cpu, &ib, err, sizeof(err));
	if (!b) {
		fprintf(stderr, "ckptdiff: %s: %s\n", argv[2], err);
		model_free(a);
		return 1;
	}
	int rc = 0;
	size_t n = model_nparams(a);
	if (n != model_nparams(b)) {
		fprintf(stderr, "ckptdiff: %zu parameters against %zu\n", n, model_nparams(b));
		rc = 1;
	} else {
		const real *pa = model_params(a), *pb = model_params(b);
		double diff = 0, big = 0;
		for (size_t i = 0; i < n; i++) {
			double d = fabs((double)pa[i] - (double)pb[i]);
			if (d > diff || isnan(d))
				diff = d;
			if (fabs((double)pa[i]) > big)
				big = fabs((double)pa[i]);
		}
		printf("params %zu max_abs_diff %.3g max_abs %.3g\n", n, diff, big);
	}
	model_free(a);
	model_free(b);
	return rc;
}

/* vector: operations over a whole buffer: the sum of squares of the
 * gradient norm, and scaling in place. */
#include "kernels.h"

/* The sum runs over chunks of NORM_CHUNK elements, each summed in order by
 * one thread; the chunks' sums are added in order, GROUP at a time (kept
 * on the stack), so the result does not depend on the thread count. */
#define NORM_CHUNK 65536
#define GROUP 64

double sum_squares_cpu(const float *x, size_t n)
{
	size_t nchunks = (n + NORM_CHUNK - 1) / NORM_CHUNK;
	double part[GROUP], s = 0;
	for (size_t first = 0; first < nchunks; first += GROUP) {
		size_t k = nchunks - first < GROUP ? nchunks - first : GROUP;
#pragma omp parallel for schedule(static)
		for (size_t c = 0; c < k; c++) {
			size_t lo = (first + c) * NORM_CHUNK, hi = lo + NORM_CHUNK < n ? lo + NORM_CHUNK : n;
			double t = 0;
			for (size_t i = lo; i < hi; i++)
				t += (double)x[i] * x[i];
			part[c] = t;
		}
		for (size_t c = 0; c < k; c++)
			s += part[c];
	}
	return s;
}

void scale_cpu(real *x, real factor, size_t n)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		x[i] *= factor;
}

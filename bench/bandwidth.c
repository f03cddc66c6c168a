/* bandwidth: how fast this machine reads memory, the bound of decoding
 * one sequence (every weight read once per token).
 *
 *   bandwidth [MB]   sums a buffer of MB megabytes (default 512, far
 *                    beyond the caches) with the OpenMP threads, best of
 *                    8 passes, and prints GB/s. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"

int main(int argc, char **argv)
{
	size_t n = (size_t)(argc > 1 ? atof(argv[1]) : 512) * 1000000 / sizeof(float);
	float *a = xmalloc(n * sizeof(float));
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		a[i] = (float)(i & 7);
	double best = 1e30, total = 0;
	for (int pass = 0; pass < 8; pass++) {
		double t0 = omp_get_wtime();
		float sum = 0;
		/* Sixteen partial sums a thread, so that the loop vectorizes. */
#pragma omp parallel reduction(+ : sum)
		{
			float part[16] = { 0 };
#pragma omp for schedule(static)
			for (size_t b = 0; b < n / 16; b++)
				for (int j = 0; j < 16; j++)
					part[j] += a[b * 16 + j];
			for (int j = 0; j < 16; j++)
				sum += part[j];
		}
		double t = omp_get_wtime() - t0;
		best = t < best ? t : best;
		total += sum;
	}
	printf("memory read bandwidth: %.1f GB/s (%d threads, %.0f MB, best of 8; checksum %g)\n",
	       (double)n * sizeof(float) / best / 1e9, omp_get_max_threads(), (double)n * sizeof(float) / 1e6, total);
	free(a);
	return 0;
}

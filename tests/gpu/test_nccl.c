/* test_nccl: comm_nccl's sum and gather on every CUDA device of this
 * machine, one rank (thread) per device: the sums equal, bit for bit, the
 * rank-order sums computed on the host ((v0 + v1) + v2 ...: the MPI path's
 * order), over several rounds and shares of unequal length; each rank's
 * share reaches every rank.  Skipped, visibly, where no device is found. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#include "check.h"
#include "comm_nccl.h"
#include "train.h"

enum { MAX_DEV = 16 };

static int n_dev;
static size_t n;
static char id[COMM_NCCL_ID_BYTES];
static real *host[MAX_DEV], *got_sum[MAX_DEV], *got_gather[MAX_DEV];
static char errs[MAX_DEV][512];

/* Values of every size (exponents -20..20) and sign, so that the order of
 * the additions shows in the bits. */
static real value(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	uint32_t x = (uint32_t)(*s >> 32);
	real m = (real)(x & 0xffffff) / (real)0x1000000 + (real)0.5;
	int e = (int)((x >> 24) % 41) - 20;
	real v = m;
	for (; e > 0; e--)
		v *= 2;
	for (; e < 0; e++)
		v /= 2;
	return (x & 1) ? -v : v;
}

static void *rank_main(void *arg)
{
	int r = (int)(intptr_t)arg;
	char *err = errs[r];
	comm_nccl *c = comm_nccl_open(id, r, n_dev, r, err, sizeof(errs[r]));
	if (!c)
		return NULL;
	real *v = NULL;
	size_t bytes = n * sizeof(real);
	if (cudaMalloc((void **)&v, bytes) != cudaSuccess || cudaMemcpy(v, host[r], bytes, cudaMemcpyHostToDevice) ||
	    comm_nccl_sum(c, v, n) < 0 || cudaMemcpy(got_sum[r], v, bytes, cudaMemcpyDeviceToHost)) {
		snprintf(err, sizeof(errs[r]), "sum: %s", comm_nccl_error(c));
		goto out;
	}
	/* The gather: rank r's share holds r + 1, the rest what the sum left. */
	size_t lo = train_share(n, r, n_dev), hi = train_share(n, r + 1, n_dev);
	for (size_t i = lo; i < hi; i++)
		got_gather[r][i] = (real)(r + 1);
	if (cudaMemcpy(v + lo, got_gather[r] + lo, (hi - lo) * sizeof(real), cudaMemcpyHostToDevice) ||
	    comm_nccl_gather(c, v, n) < 0 || cudaMemcpy(got_gather[r], v, bytes, cudaMemcpyDeviceToHost))
		snprintf(err, sizeof(errs[r]), "gather: %s", comm_nccl_error(c));
out:
	cudaFree(v);
	comm_nccl_close(c);
	return NULL;
}

/* Every rank's values summed and its share gathered, checked on the host. */
static void test_sum_and_gather(void)
{
	char err[256];
	CHECK(comm_nccl_make_id(id, err, sizeof(err)) == 0);
	/* Two full rounds of 1M values a share and a part, not a multiple of
	 * the ranks. */
	n = (size_t)n_dev * (2u << 20) + 2 * (size_t)n_dev + 1;
	uint64_t seed = 1;
	for (int r = 0; r < n_dev; r++) {
		host[r] = malloc(n * sizeof(real));
		got_sum[r] = malloc(n * sizeof(real));
		got_gather[r] = malloc(n * sizeof(real));
		CHECK(host[r] && got_sum[r] && got_gather[r]);
		if (!host[r] || !got_sum[r] || !got_gather[r])
			return;
		for (size_t i = 0; i < n; i++)
			host[r][i] = value(&seed);
	}
	pthread_t t[MAX_DEV];
	for (int r = 0; r < n_dev; r++)
		pthread_create(&t[r], NULL, rank_main, (void *)(intptr_t)r);
	for (int r = 0; r < n_dev; r++)
		pthread_join(t[r], NULL);
	for (int r = 0; r < n_dev; r++)
		if (errs[r][0]) {
			printf("# rank %d: %s\n", r, errs[r]);
			CHECK(!errs[r][0]);
			return;
		}
	size_t bad_sum = 0, bad_gather = 0;
	for (size_t i = 0; i < n; i++) {
		real s = host[0][i];
		for (int r = 1; r < n_dev; r++)
			s += host[r][i];
		int owner = 0;
		while (i >= train_share(n, owner + 1, n_dev))
			owner++;
		for (int r = 0; r < n_dev; r++) {
			bad_sum += memcmp(&got_sum[r][i], &s, sizeof(s)) != 0;
			bad_gather += got_gather[r][i] != (real)(owner + 1);
		}
	}
	printf("# %d ranks, %zu values: %zu sums differ from the rank-order sum, %zu gathered values wrong\n", n_dev, n,
	       bad_sum, bad_gather);
	CHECK(bad_sum == 0);
	CHECK(bad_gather == 0);
	for (int r = 0; r < n_dev; r++) {
		free(host[r]);
		free(got_sum[r]);
		free(got_gather[r]);
	}
}

int main(void)
{
	cudaError_t e = cudaGetDeviceCount(&n_dev);
	if (e != cudaSuccess || n_dev == 0) {
		printf("skip: no CUDA device (%s); comm_nccl not run\n",
		       e != cudaSuccess ? cudaGetErrorString(e) : "none found");
		return 0;
	}
	if (n_dev > MAX_DEV)
		n_dev = MAX_DEV;
	RUN(test_sum_and_gather);
	CHECK_EXIT();
}

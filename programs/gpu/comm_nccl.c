/* comm_nccl: the data-parallel sums over NCCL (comm_nccl.h says how). */
#include "comm_nccl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include "train.h"

#ifdef SLUICE_REAL_DOUBLE
#define NCCL_REAL ncclDouble
#define AXPY cublasDaxpy
#else
#define NCCL_REAL ncclFloat
#define AXPY cublasSaxpy
#endif

/* Values of each share a round moves: two device buffers of size x ROUND
 * values bound the memory the sum needs. */
enum { ROUND = 1 << 20 };

struct comm_nccl {
	int rank, size, device;
	ncclComm_t comm;
	cudaStream_t stream;
	cublasHandle_t blas;
	real *in, *out;   /* size x chunk each */
	size_t chunk;     /* values of a share in the buffers */
	char err[256];
};

static int fail(comm_nccl *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* Return fail() naming the call when its status is not `ok`, with the
 * library's words for the status. */
#define TRY(c, type, ok, words, call) \
	do { \
		type e_ = (call); \
		if (e_ != (ok)) \
			return fail(c, "%s: %s", #call, words(e_)); \
	} while (0)
#define CUDA(c, call) TRY(c, cudaError_t, cudaSuccess, cudaGetErrorString, call)
#define NCCL(c, call) TRY(c, ncclResult_t, ncclSuccess, ncclGetErrorString, call)
#define BLAS(c, call) TRY(c, cublasStatus_t, CUBLAS_STATUS_SUCCESS, cublasGetStatusString, call)

int comm_nccl_make_id(void *id, char *err, size_t errlen)
{
	ncclUniqueId u;
	ncclResult_t e = ncclGetUniqueId(&u);
	if (e != ncclSuccess) {
		snprintf(err, errlen, "ncclGetUniqueId: %s", ncclGetErrorString(e));
		return -1;
	}
	_Static_assert(sizeof(u) == COMM_NCCL_ID_BYTES, "NCCL's id is 128 bytes");
	memcpy(id, &u, sizeof(u));
	return 0;
}

/* The buffers for a sum of up to n values, grown when n needs more. */
static int reserve(comm_nccl *c, size_t n)
{
	size_t most = n / (size_t)c->size + 1, chunk = most < ROUND ? most : ROUND;
	if (chunk <= c->chunk)
		return 0;
	cudaFree(c->in);
	c->in = c->out = NULL;
	c->chunk = 0;
	CUDA(c, cudaMalloc((void **)&c->in, 2 * (size_t)c->size * chunk * sizeof(real)));
	c->out = c->in + (size_t)c->size * chunk;
	c->chunk = chunk;
	return 0;
}

static int open_on(comm_nccl *c, const void *id)
{
	ncclUniqueId u;
	memcpy(&u, id, sizeof(u));
	CUDA(c, cudaSetDevice(c->device));
	CUDA(c, cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
	BLAS(c, cublasCreate(&c->blas));
	BLAS(c, cublasSetStream(c->blas, c->stream));
	NCCL(c, ncclCommInitRank(&c->comm, c->size, u, c->rank));
	return 0;
}

comm_nccl *comm_nccl_open(const void *id, int rank, int size, int device, char *err, size_t errlen)
{
	comm_nccl *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->rank = rank, c->size = size, c->device = device;
	if (rank < 0 || size < 1 || rank >= size) {
		snprintf(err, errlen, "rank %d of %d", rank, size);
		free(c);
		return NULL;
	}
	if (open_on(c, id) < 0) {
		snprintf(err, errlen, "rank %d on device %d: %s", rank, device, c->err);
		comm_nccl_close(c);
		return NULL;
	}
	return c;
}

void comm_nccl_close(comm_nccl *c)
{
	if (!c)
		return;
	if (c->comm)
		ncclCommDestroy(c->comm);
	if (c->blas)
		cublasDestroy(c->blas);
	if (c->stream)
		cudaStreamDestroy(c->stream);
	cudaFree(c->in);
	free(c);
}

const char *comm_nccl_error(const comm_nccl *c)
{
	return c->err;
}

/* Values of rank r's share in the round at off. */
static size_t piece(const comm_nccl *c, size_t n, int r, size_t off)
{
	size_t len = train_share(n, r + 1, c->size) - train_share(n, r, c->size);
	return off < len ? (len - off < c->chunk ? len - off : c->chunk) : 0;
}

/* The round at off of the all-gather: every rank's piece, already in
 * out[r * chunk], to out on every rank (in place), then into v. */
static int gather_round(comm_nccl *c, real *v, size_t n, size_t off)
{
	NCCL(c, ncclAllGather(c->out + (size_t)c->rank * c->chunk, c->out, c->chunk, NCCL_REAL, c->comm, c->stream));
	for (int r = 0; r < c->size; r++) {
		size_t k = piece(c, n, r, off);
		if (k)
			CUDA(c, cudaMemcpyAsync(v + train_share(n, r, c->size) + off, c->out + (size_t)r * c->chunk,
						k * sizeof(real), cudaMemcpyDeviceToDevice, c->stream));
	}
	return 0;
}

static int finish(comm_nccl *c)
{
	CUDA(c, cudaStreamSynchronize(c->stream));
	ncclResult_t async;
	NCCL(c, ncclCommGetAsyncError(c->comm, &async));
	if (async != ncclSuccess)
		return fail(c, "NCCL: %s", ncclGetErrorString(async));
	return 0;
}

int comm_nccl_sum(void *ctx, real *v, size_t n)
{
	comm_nccl *c = ctx;
	if (c->size == 1)
		return 0;
	CUDA(c, cudaSetDevice(c->device));
	if (reserve(c, n) < 0)
		return -1;
	size_t lo = train_share(n, c->rank, c->size);
	const real one = 1;
	for (size_t off = 0; off < n / (size_t)c->size + 1; off += c->chunk) {
		/* Every rank's values of this round of my share into in[r * chunk]. */
		size_t k = piece(c, n, c->rank, off);
		NCCL(c, ncclGroupStart());
		for (int r = 0; r < c->size; r++) {
			size_t kr = piece(c, n, r, off);
			if (r == c->rank)
				continue;
			if (kr)
				NCCL(c, ncclSend(v + train_share(n, r, c->size) + off, kr, NCCL_REAL, r, c->comm, c->stream));
			if (k)
				NCCL(c, ncclRecv(c->in + (size_t)r * c->chunk, k, NCCL_REAL, r, c->comm, c->stream));
		}
		NCCL(c, ncclGroupEnd());
		if (k) {
			/* out[rank * chunk] = ((v0 + v1) + v2) + ...: y = x + y,
			 * one rounding each, in rank order. */
			real *sum = c->out + (size_t)c->rank * c->chunk;
			const real *first = c->rank == 0 ? v + lo + off : c->in;
			CUDA(c, cudaMemcpyAsync(sum, first, k * sizeof(real), cudaMemcpyDeviceToDevice, c->stream));
			for (int r = 1; r < c->size; r++) {
				const real *x = r == c->rank ? v + lo + off : c->in + (size_t)r * c->chunk;
				BLAS(c, AXPY(c->blas, (int)k, &one, x, 1, sum, 1));
			}
		}
		if (gather_round(c, v, n, off) < 0)
			return -1;
	}
	return finish(c);
}

int comm_nccl_gather(void *ctx, real *v, size_t n)
{
	comm_nccl *c = ctx;
	if (c->size == 1)
		return 0;
	CUDA(c, cudaSetDevice(c->device));
	if (reserve(c, n) < 0)
		return -1;
	size_t lo = train_share(n, c->rank, c->size);
	for (size_t off = 0; off < n / (size_t)c->size + 1; off += c->chunk) {
		size_t k = piece(c, n, c->rank, off);
		if (k)
			CUDA(c, cudaMemcpyAsync(c->out + (size_t)c->rank * c->chunk, v + lo + off, k * sizeof(real),
						cudaMemcpyDeviceToDevice, c->stream));
		if (gather_round(c, v, n, off) < 0)
			return -1;
	}
	return finish(c);
}

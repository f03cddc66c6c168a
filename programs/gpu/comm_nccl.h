/* comm_nccl.h: the data-parallel sums of train_comm over NCCL, for a
 * backend whose memory (the kernel table's mem_alloc) is on CUDA devices.
 *
 * The sum has the MPI path's fixed order, so a run gives the same bits
 * each time and the same sums as sluice-train-step's MPI ranks: rank r
 * owns the share [train_share(n, r, N), train_share(n, r + 1, N)) of the
 * values, receives every rank's values there, adds them in rank order,
 * ((v0 + v1) + v2) + ..., and all-gathers the sums (ncclAllReduce's order
 * is NCCL's own and depends on the algorithm it picks).  Each rank sends
 * and receives 2 (N-1)/N n values, a ring all-reduce's traffic.
 *
 * One rank per device.  Rank 0 makes the id and the launcher's own
 * channel (MPI_Bcast of COMM_NCCL_ID_BYTES) gives it to every rank, which
 * then opens the communicator.  Built where the CUDA toolkit with NCCL is
 * found (Makefile: NCCL); nothing in the library depends on it. */
#ifndef SLUICE_COMM_NCCL_H
#define SLUICE_COMM_NCCL_H

#include <stddef.h>

#include "kernels.h"

#define COMM_NCCL_ID_BYTES 128

typedef struct comm_nccl comm_nccl;

/* A new communicator id into id[COMM_NCCL_ID_BYTES], on one rank.  Returns
 * 0, or -1 with the reason in err. */
int comm_nccl_make_id(void *id, char *err, size_t errlen);
/* Rank `rank` of `size` on CUDA device `device`, every rank with the same
 * id.  Collective.  Returns NULL with the reason in err. */
comm_nccl *comm_nccl_open(const void *id, int rank, int size, int device, char *err, size_t errlen);
void comm_nccl_close(comm_nccl *c);  /* accepts NULL */

/* train_comm's sum_real and gather_real (ctx: the comm_nccl), v in device
 * memory of the comm's device.  Collective; return 0, or -1 when a CUDA,
 * cuBLAS or NCCL call fails (comm_nccl_error says which). */
int comm_nccl_sum(void *ctx, real *v, size_t n);
int comm_nccl_gather(void *ctx, real *v, size_t n);
const char *comm_nccl_error(const comm_nccl *c);

#endif

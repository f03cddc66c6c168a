/* parallel.h: run a function over records on N threads, results in input
 * order.
 *
 * The caller pushes records; worker threads apply work() to batches of them
 * (changing a record in place and returning a status, e.g. keep or a drop
 * reason); emit() then sees each record and its status on the caller's
 * thread, in the order pushed.  Memory is bounded: a few batches per thread
 * (each up to PAR_BATCH_RECORDS records or PAR_BATCH_BYTES bytes) are in
 * flight at once, and push() waits, emitting, when they are all taken.
 * With one thread, work() and emit() run inside push(), with no copies.
 *
 * threads is the number of worker threads; the caller's thread reads,
 * pushes and emits besides (with 1, it does everything).  Every tool's -j
 * means this.
 *
 * What work() finds beyond a status goes in the record's slot: slot_size
 * bytes (par_new_slots) that work() fills and emit() reads, NULL when
 * slot_size is 0.  Slots are zeroed when first made and reused afterwards,
 * keeping what they held (a buffer in one is reused, not reallocated);
 * par_free() hands each to slot_free, if given, to release what it holds.
 * A slot may move between uses, so it holds no pointer into itself.
 *
 * finish() empties the pipeline: every record pushed has been emitted when
 * it returns, and pushing may go on after it (at the end of one input, say,
 * before the next). */
#ifndef SLUICE_PARALLEL_H
#define SLUICE_PARALLEL_H

#include "record.h"

#define PAR_BATCH_RECORDS 512
#define PAR_BATCH_BYTES (1u << 20)

/* worker: 0..threads-1, for per-thread state the caller keeps. */
typedef int (*par_work_fn)(void *ctx, int worker, rec *r, void *slot);
/* Returns 0, or -1 to stop (push() and finish() then return -1). */
typedef int (*par_emit_fn)(void *ctx, rec *r, int status, void *slot);
typedef void (*par_slot_fn)(void *slot);

typedef struct par par;

par *par_new(int threads, par_work_fn work, par_emit_fn emit, void *ctx);     /* no slots */
par *par_new_slots(int threads, size_t slot_size, par_slot_fn slot_free, par_work_fn work, par_emit_fn emit,
		   void *ctx);
int par_push(par *p, rec *r);          /* r is copied when threads > 1 */
int par_finish(par *p);                /* work and emit what is left */
void par_free(par *p);                 /* stops the threads; accepts NULL */

#endif

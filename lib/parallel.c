/* parallel.c: ordered parallel map over records with pthreads.
 *
 * A ring of batches: the caller fills one at a time and queues it; workers
 * take queued batches in ring order; the caller emits finished batches in
 * ring order, which is input order, before it reuses their slots. */
#include "parallel.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum { FREE, QUEUED, WORKING, DONE };

struct batch {
	rec **recs;
	int *status;
	unsigned char *slots;   /* cap slots of par.slot_stride bytes */
	size_t n, cap, bytes;
	int state;
};

struct par {
	int threads;
	par_work_fn work;
	par_emit_fn emit;
	void *ctx;
	size_t slot_size, slot_stride;
	par_slot_fn slot_free;
	unsigned char *slot1;   /* the one slot with one thread */
	struct batch *ring;
	size_t nring, fill, next_work, next_emit;
	pthread_t *tids;
	pthread_mutex_t mu;
	pthread_cond_t queued, done;
	int stop, failed;
};

struct worker_arg {
	par *p;
	int id;
};

static void *slot_at(const par *p, const struct batch *b, size_t i)
{
	return p->slot_size ? b->slots + i * p->slot_stride : NULL;
}

static void release_slots(par *p, unsigned char *slots, size_t n)
{
	for (size_t i = 0; p->slot_free && slots && i < n; i++)
		p->slot_free(slots + i * p->slot_stride);
	free(slots);
}

static void *worker_main(void *arg)
{
	struct worker_arg *wa = arg;
	par *p = wa->p;
	int id = wa->id;
	free(wa);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->ring[p->next_work].state != QUEUED)
			pthread_cond_wait(&p->queued, &p->mu);
		if (p->stop)
			break;
		struct batch *b = &p->ring[p->next_work];
		p->next_work = (p->next_work + 1) % p->nring;
		b->state = WORKING;
		pthread_mutex_unlock(&p->mu);
		for (size_t i = 0; i < b->n; i++)
			b->status[i] = p->work(p->ctx, id, b->recs[i], slot_at(p, b, i));
		pthread_mutex_lock(&p->mu);
		b->state = DONE;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Stop and join the first n workers and free what the threads shared. */
static void stop_threads(par *p, int n)
{
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->queued);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < n; i++)
		pthread_join(p->tids[i], NULL);
	for (size_t i = 0; i < p->nring; i++) {
		for (size_t k = 0; k < p->ring[i].cap; k++)
			rec_free(p->ring[i].recs[k]);
		release_slots(p, p->ring[i].slots, p->ring[i].cap);
		free(p->ring[i].recs);
		free(p->ring[i].status);
	}
	free(p->ring);
	free(p->tids);
	p->ring = NULL;
	p->tids = NULL;
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->queued);
	pthread_cond_destroy(&p->done);
}

par *par_new(int threads, par_work_fn work, par_emit_fn emit, void *ctx)
{
	return par_new_slots(threads, 0, NULL, work, emit, ctx);
}

par *par_new_slots(int threads, size_t slot_size, par_slot_fn slot_free, par_work_fn work, par_emit_fn emit,
		   void *ctx)
{
	par *p = xcalloc(1, sizeof(*p));
	p->threads = threads < 1 ? 1 : threads;
	p->work = work;
	p->emit = emit;
	p->ctx = ctx;
	p->slot_size = slot_size;
	p->slot_free = slot_free;
	/* Each slot aligned as malloc aligns, whatever the caller keeps in it. */
	size_t align = _Alignof(max_align_t);
	p->slot_stride = (slot_size + align - 1) / align * align;
	if (slot_size)
		p->slot1 = xcalloc(1, p->slot_stride);
	if (p->threads == 1)
		return p;
	p->nring = 2 * (size_t)p->threads + 1;
	p->ring = xcalloc(p->nring, sizeof(*p->ring));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->queued, NULL);
	pthread_cond_init(&p->done, NULL);
	p->tids = xcalloc((size_t)p->threads, sizeof(*p->tids));
	for (int i = 0; i < p->threads; i++) {
		struct worker_arg *wa = xmalloc(sizeof(*wa));
		wa->p = p;
		wa->id = i;
		if (pthread_create(&p->tids[i], NULL, worker_main, wa) != 0) {
			/* Work on the caller's thread instead: the results do not
			 * depend on the threads. */
			free(wa);
			util_warn("could start %d of %d threads; working on one", i, p->threads);
			stop_threads(p, i);
			p->threads = 1;
			break;
		}
	}
	return p;
}

/* Emit the oldest batch once it is done.  Called with the lock held. */
static void emit_oldest(par *p)
{
	struct batch *b = &p->ring[p->next_emit];
	while (b->state != DONE)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < b->n && !p->failed; i++)
		if (p->emit(p->ctx, b->recs[i], b->status[i], slot_at(p, b, i)) < 0)
			p->failed = 1;
	pthread_mutex_lock(&p->mu);
	b->n = 0;
	b->bytes = 0;
	b->state = FREE;
	p->next_emit = (p->next_emit + 1) % p->nring;
}

static void queue_fill(par *p)
{
	pthread_mutex_lock(&p->mu);
	p->ring[p->fill].state = QUEUED;
	pthread_cond_broadcast(&p->queued);
	p->fill = (p->fill + 1) % p->nring;
	while (p->ring[p->fill].state != FREE)
		emit_oldest(p);
	pthread_mutex_unlock(&p->mu);
}

int par_push(par *p, rec *r)
{
	if (p->failed)
		return -1;
	if (p->threads == 1) {
		int status = p->work(p->ctx, 0, r, p->slot1);
		if (p->emit(p->ctx, r, status, p->slot1) < 0)
			p->failed = 1;
		return p->failed ? -1 : 0;
	}
	struct batch *b = &p->ring[p->fill];
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		b->recs = xrealloc(b->recs, cap * sizeof(*b->recs));
		b->status = xrealloc(b->status, cap * sizeof(*b->status));
		if (p->slot_size) {
			b->slots = xrealloc(b->slots, cap * p->slot_stride);
			memset(b->slots + b->cap * p->slot_stride, 0, (cap - b->cap) * p->slot_stride);
		}
		for (size_t i = b->cap; i < cap; i++)
			b->recs[i] = rec_new();
		b->cap = cap;
	}
	size_t len;
	rec_bytes(r, &len);
	rec_copy(b->recs[b->n++], r);
	b->bytes += len;
	if (b->n >= PAR_BATCH_RECORDS || b->bytes >= PAR_BATCH_BYTES)
		queue_fill(p);
	return p->failed ? -1 : 0;
}

int par_finish(par *p)
{
	if (p->threads > 1) {
		if (p->ring[p->fill].n)
			queue_fill(p);
		pthread_mutex_lock(&p->mu);
		while (p->next_emit != p->fill)
			emit_oldest(p);
		pthread_mutex_unlock(&p->mu);
	}
	return p->failed ? -1 : 0;
}

void par_free(par *p)
{
	if (!p)
		return;
	if (p->threads > 1)
		stop_threads(p, p->threads);
	release_slots(p, p->slot1, 1);
	free(p);
}

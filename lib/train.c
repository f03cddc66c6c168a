/* train.c: the training step and the evaluation loss. */
#include "train.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct trainer {
	model *m;
	optim *o;
	train_opts opts;
	ckpt_info *info;
	size_t len;                 /* tokens per sequence, T + 1 */
	int n, cap;                 /* sequences gathered, room for a step */
	int pending;                /* sequences of every rank since the last step */
	uint32_t *tok;
	uint8_t *mask;
	uint32_t *inp, *tgt;        /* one micro-batch */
	real *w;
	train_stats last;
};

trainer *train_new(model *m, optim *o, const train_opts *opts, ckpt_info *info)
{
	trainer *t = xcalloc(1, sizeof(*t));
	t->m = m;
	t->o = o;
	t->opts = *opts;
	t->info = info;
	t->cap = opts->batch * opts->accum;
	return t;
}

void train_free(trainer *t)
{
	if (!t)
		return;
	free(t->tok);
	free(t->mask);
	free(t->inp);
	free(t->tgt);
	free(t->w);
	free(t);
}

int train_pending(const trainer *t) { return t->pending; }
const train_stats *train_last(const trainer *t) { return &t->last; }

/* Inputs, targets and weights of sequences [first, first + b) into the
 * micro-batch buffers; targets weighted by scale. */
static void micro_batch(uint32_t *inp, uint32_t *tgt, real *w, const uint32_t *tok, const uint8_t *mask,
			size_t len, int first, int b, double scale)
{
	size_t T = len - 1;
	for (int i = 0; i < b; i++) {
		const uint32_t *s = tok + (size_t)(first + i) * len;
		const uint8_t *mk = mask + (size_t)(first + i) * len;
		for (size_t j = 0; j < T; j++) {
			inp[i * T + j] = s[j];
			tgt[i * T + j] = s[j + 1];
			w[i * T + j] = (real)(mk[j + 1] * scale);
		}
	}
}

static void ensure_batch(uint32_t **inp, uint32_t **tgt, real **w, size_t n)
{
	*inp = xrealloc(*inp, n * sizeof(**inp));
	*tgt = xrealloc(*tgt, n * sizeof(**tgt));
	*w = xrealloc(*w, n * sizeof(**w));
}

static int step(trainer *t)
{
	int n = t->n, B = t->opts.batch, T = (int)t->len - 1;
	const train_comm *c = t->opts.comm;
	t->n = 0;
	t->pending = 0;
	uint64_t targets = 0;
	for (size_t i = 0; i < (size_t)n * t->len; i++)
		targets += i % t->len ? t->mask[i] : 0;
	/* Every rank's targets and sequences (exact in a double below 2^53). */
	double counts[2] = { (double)targets, n };
	if (c && c->sum_f64(c->ctx, counts, 2) < 0) {
		errno = EIO;
		return -1;
	}
	targets = (uint64_t)counts[0];
	if (!targets)
		return 0; /* all padding: nothing to learn from */
	double start = util_now(), loss = 0;
	model_zero_grad(t->m);
	for (int first = 0; first < n; first += B) {
		int b = n - first < B ? n - first : B;
		micro_batch(t->inp, t->tgt, t->w, t->tok, t->mask, t->len, first, b, 1.0 / (double)targets);
		loss += model_forward(t->m, t->inp, t->tgt, t->w, b, T);
		model_backward(t->m);
	}
	n = (int)counts[1];
	if (c && (c->sum_real(c->ctx, model_grads(t->m), model_nparams(t->m)) < 0 ||
		  c->sum_f64(c->ctx, &loss, 1) < 0)) {
		errno = EIO;
		return -1;
	}
	double lr = optim_lr(&t->opts.opt, optim_steps(t->o));
	double norm = optim_step(t->o, t->m, &t->opts.opt, lr);
	if (c && c->gather_real && c->gather_real(c->ctx, model_params(t->m), model_nparams(t->m)) < 0) {
		errno = EIO;
		return -1;
	}
	double secs = util_now() - start;
	double flops = 3 * model_forward_flops(model_cfg(t->m), n, T) + optim_step_flops(t->m, &t->opts.opt);
	ckpt_info *info = t->info;
	info->step = optim_steps(t->o);
	info->tokens += (uint64_t)n * (uint64_t)T;
	info->flops += flops;
	train_stats *s = &t->last;
	s->loss = loss;
	s->lr = lr;
	s->grad_norm = norm;
	s->seconds = secs;
	s->tokens_per_s = (double)n * T / secs;
	s->gflops = flops / secs / 1e9;
	s->targets = targets;
	int log_errno = 0;
	if (t->opts.log) {
		errno = 0;
		fprintf(t->opts.log,
			"{\"step\":%lld,\"loss\":%.6f,\"lr\":%.6g,\"grad_norm\":%.6f,\"sequences\":%d,\"targets\":%llu,"
			"\"tokens\":%llu,\"ms\":%.1f,\"tokens_per_s\":%.1f,\"gflops\":%.2f,\"matmul\":\"%s\"}\n",
			(long long)info->step, loss, lr, norm, n, (unsigned long long)targets,
			(unsigned long long)info->tokens, secs * 1e3, s->tokens_per_s, s->gflops,
			model_kernels(t->m)->matmul);
		/* fflush() fails on a full disk; ferror() keeps an earlier failure
		 * that a later flush would hide. */
		if (fflush(t->opts.log) != 0 || ferror(t->opts.log))
			log_errno = errno ? errno : EIO;
	}
	if (t->opts.on_step)
		t->opts.on_step(t->opts.on_step_ctx, s, info->step);
	if (log_errno) {
		errno = log_errno;
		return -1;
	}
	return 1;
}

int train_add(trainer *t, const uint32_t *tok, const uint8_t *mask, size_t len)
{
	if (!t->tok) {
		t->len = len;
		t->tok = xmalloc((size_t)t->cap * len * sizeof(*t->tok));
		t->mask = xmalloc((size_t)t->cap * len);
		ensure_batch(&t->inp, &t->tgt, &t->w, (size_t)t->opts.batch * (len - 1));
	}
	const train_comm *c = t->opts.comm;
	int size = c ? c->size : 1, rank = c ? c->rank : 0;
	if (t->pending / t->cap == rank) {
		memcpy(t->tok + (size_t)t->n * len, tok, len * sizeof(*tok));
		uint8_t *mk = t->mask + (size_t)t->n * len;
		if (mask)
			memcpy(mk, mask, len);
		else
			for (size_t i = 0; i < len; i++)
				mk[i] = i > 0;
		t->n++;
	}
	if (++t->pending < t->cap * size)
		return 0;
	return step(t);
}

int train_flush(trainer *t)
{
	return t->pending ? step(t) : 0;
}

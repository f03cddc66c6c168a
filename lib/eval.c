/* eval.c: loss, KL and log-likelihoods over a model's forward pass. */
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Gathers sequences into batches of inputs, targets and weights. */
struct batcher {
	int cap, n;
	size_t len;
	uint32_t *tok, *inp, *tgt;
	uint8_t *mask;
	real *w;
};

static void batcher_add(struct batcher *b, const uint32_t *t, const uint8_t *mk, size_t len)
{
	if (!b->tok) {
		b->len = len;
		b->tok = xmalloc((size_t)b->cap * len * sizeof(*b->tok));
		b->mask = xmalloc((size_t)b->cap * len);
		b->inp = xmalloc((size_t)b->cap * (len - 1) * sizeof(*b->inp));
		b->tgt = xmalloc((size_t)b->cap * (len - 1) * sizeof(*b->tgt));
		b->w = xmalloc((size_t)b->cap * (len - 1) * sizeof(*b->w));
	}
	memcpy(b->tok + (size_t)b->n * len, t, len * sizeof(*t));
	for (size_t i = 0; i < len; i++)
		b->mask[(size_t)b->n * len + i] = mk ? mk[i] : i > 0;
	b->n++;
}

/* Inputs, targets and 0/1 weights of the gathered sequences. */
static void batcher_split(struct batcher *b)
{
	size_t T = b->len - 1;
	for (int i = 0; i < b->n; i++)
		for (size_t j = 0; j < T; j++) {
			b->inp[i * T + j] = b->tok[i * b->len + j];
			b->tgt[i * T + j] = b->tok[i * b->len + j + 1];
			b->w[i * T + j] = b->mask[i * b->len + j + 1];
		}
}

static void batcher_release(struct batcher *b)
{
	free(b->tok);
	free(b->mask);
	free(b->inp);
	free(b->tgt);
	free(b->w);
}

/* Reads s batch by batch, calling fn on each full or final batch. */
typedef void (*batch_fn)(void *ctx, struct batcher *b);

static int each_batch(seqs *s, int batch, batch_fn fn, void *ctx, uint64_t *sequences)
{
	struct batcher b = { .cap = batch };
	const uint32_t *t;
	const uint8_t *mk;
	size_t len;
	int got, rc = 0;
	*sequences = 0;
	for (;;) {
		got = seqs_next(s, &t, &mk, &len);
		if (got < 0) {
			rc = -1;
			break;
		}
		if (got) {
			batcher_add(&b, t, mk, len);
			++*sequences;
		}
		if (b.n && (b.n == batch || !got)) {
			batcher_split(&b);
			fn(ctx, &b);
			b.n = 0;
		}
		if (!got)
			break;
	}
	batcher_release(&b);
	return rc;
}

struct loss_ctx {
	model *m;
	const tok_vocab *v;
	double sum;
	uint64_t targets, bytes;
};

static void loss_batch(void *ctx, struct batcher *b)
{
	struct loss_ctx *c = ctx;
	size_t n = (size_t)b->n * (b->len - 1);
	c->sum += model_forward(c->m, b->inp, b->tgt, b->w, b->n, (int)b->len - 1);
	for (size_t i = 0; i < n; i++) {
		if (!b->w[i])
			continue;
		c->targets++;
		size_t len = 0;
		if (c->v && tok_bytes(c->v, b->tgt[i], &len))
			c->bytes += len;
	}
}

int eval_loss(model *m, seqs *s, int batch, const tok_vocab *v, eval_loss_result *out)
{
	struct loss_ctx c = { .m = m, .v = v };
	int rc = each_batch(s, batch, loss_batch, &c, &out->sequences);
	out->loss = c.targets ? c.sum / (double)c.targets : 0;
	out->targets = c.targets;
	out->bytes = c.bytes;
	return rc;
}

struct kl_ctx {
	model *m, *ref;
	real *logits;
	double *kl;
	size_t cap;
	double sum, sum2, max;
	uint64_t targets;
};

/* KL of two logit rows, through log-softmax in double. */
static double kl_row(const real *zp, const real *zq, int V)
{
	double mp = zp[0], mq = zq[0], sp = 0, sq = 0, kl = 0;
	for (int j = 1; j < V; j++) {
		mp = zp[j] > mp ? zp[j] : mp;
		mq = zq[j] > mq ? zq[j] : mq;
	}
	for (int j = 0; j < V; j++) {
		sp += exp(zp[j] - mp);
		sq += exp(zq[j] - mq);
	}
	double lp0 = mp + log(sp), lq0 = mq + log(sq);
	for (int j = 0; j < V; j++) {
		double lp = zp[j] - lp0, lq = zq[j] - lq0;
		kl += exp(lp) * (lp - lq);
	}
	return kl > 0 ? kl : 0; /* rounding can leave a tiny negative */
}

static void kl_batch(void *ctx, struct batcher *b)
{
	struct kl_ctx *c = ctx;
	int T = (int)b->len - 1, V = model_cfg(c->m)->n_vocab;
	size_t n = (size_t)b->n * T;
	if (c->cap < n) {
		c->cap = n;
		c->logits = xrealloc(c->logits, n * V * sizeof(real));
		c->kl = xrealloc(c->kl, n * sizeof(double));
	}
	model_forward(c->m, b->inp, NULL, NULL, b->n, T);
	model_kernels(c->m)->copy_d2h(c->logits, model_logits(c->m), n * V * sizeof(real));
	model_forward(c->ref, b->inp, NULL, NULL, b->n, T);
	const real *q = KERN_HOST(model_kernels(c->ref), model_logits(c->ref));
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		c->kl[i] = b->w[i] ? kl_row(c->logits + i * V, q + i * V, V) : 0;
	for (size_t i = 0; i < n; i++)
		if (b->w[i]) {
			c->sum += c->kl[i];
			c->sum2 += c->kl[i] * c->kl[i];
			c->max = c->kl[i] > c->max ? c->kl[i] : c->max;
			c->targets++;
		}
}

int eval_kl(model *m, model *ref, seqs *s, int batch, eval_kl_result *out)
{
	struct kl_ctx c = { .m = m, .ref = ref };
	uint64_t nseq;
	int rc = each_batch(s, batch, kl_batch, &c, &nseq);
	double k = (double)c.targets;
	out->targets = c.targets;
	out->mean = k ? c.sum / k : 0;
	out->std = k > 1 ? sqrt(fmax(0, (c.sum2 - c.sum * c.sum / k) / (k - 1))) : 0;
	out->max = c.max;
	free(c.logits);
	free(c.kl);
	return rc;
}

double eval_doc_logprob(model *m, const uint32_t *tok, size_t n, uint64_t *scored)
{
	size_t T = (size_t)model_cfg(m)->n_ctx;
	double lp = 0;
	*scored = n > 1 ? n - 1 : 0;
	for (size_t start = 0; start + 1 < n; start += T) {
		size_t len = n - start - 1 < T ? n - start - 1 : T;
		lp -= model_forward(m, tok + start, tok + start + 1, NULL, 1, (int)len);
	}
	return lp;
}

double eval_continuation_logprob(model *m, const uint32_t *ctx, size_t nctx, const uint32_t *cont, size_t ncont)
{
	size_t T = (size_t)model_cfg(m)->n_ctx;
	if (!nctx || !ncont || ncont > T)
		return NAN;
	/* Inputs: the context's tail and the continuation but its last token;
	 * targets: the same shifted by one, weighted on the continuation. */
	size_t keep = nctx + ncont - 1 > T ? T + 1 - ncont : nctx;
	size_t len = keep + ncont - 1;
	uint32_t *seq = xmalloc((len + 1) * sizeof(*seq));
	memcpy(seq, ctx + nctx - keep, keep * sizeof(*seq));
	memcpy(seq + keep, cont, ncont * sizeof(*seq));
	real *w = xcalloc(len, sizeof(*w));
	for (size_t i = keep - 1; i < len; i++)
		w[i] = 1;
	double lp = -model_forward(m, seq, seq + 1, w, 1, (int)len);
	free(seq);
	free(w);
	return lp;
}

void eval_completion_logprobs(model *m, const uint32_t *const *seq, const size_t *nprompt, const size_t *ncomp,
			      size_t n, float *const *out)
{
	/* Inputs: each sequence but its last token; targets: the same shifted
	 * by one, weighted on the completion's. */
	size_t T = 0;
	for (size_t i = 0; i < n; i++)
		if (ncomp[i] && nprompt[i] + ncomp[i] - 1 > T)
			T = nprompt[i] + ncomp[i] - 1;
	if (!T)
		return;
	uint32_t *inp = xcalloc(n * T, sizeof(*inp)), *tgt = xcalloc(n * T, sizeof(*tgt));
	real *w = xcalloc(n * T, sizeof(*w));
	for (size_t i = 0; i < n; i++) {
		if (!ncomp[i])
			continue;
		size_t len = nprompt[i] + ncomp[i] - 1;
		memcpy(inp + i * T, seq[i], len * sizeof(*inp));
		memcpy(tgt + i * T, seq[i] + 1, len * sizeof(*tgt));
		for (size_t j = nprompt[i] - 1; j < len; j++)
			w[i * T + j] = 1;
	}
	model_forward(m, inp, tgt, w, (int)n, (int)T);
	const real *loss = KERN_HOST(model_kernels(m), model_losses(m));
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < ncomp[i]; k++)
			out[i][k] = (float)-loss[i * T + nprompt[i] - 1 + k];
	free(inp);
	free(tgt);
	free(w);
}

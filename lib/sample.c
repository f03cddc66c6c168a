/* sample.c: batched generation with temperature, top-k, top-p and stops. */
#include "sample.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A job's stream: keyed by the seed, its group and its index. */
static void job_seed(rng *r, uint64_t seed, uint64_t group, uint64_t index)
{
	uint64_t x = seed;
	x = rng_splitmix64(&x) ^ group;
	x = rng_splitmix64(&x) ^ index;
	rng_seed(r, x);
}

struct cand {
	double p;
	uint32_t id;
};

static int by_p_desc(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->p != y->p)
		return x->p > y->p ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The bin of a weight in [0, 1] by its exponent as a float (0: zero and
 * the subnormals).  Monotonic: a larger weight is never in a lower bin. */
enum { N_BINS = 256 };
static int weight_bin(real x)
{
	float f = (float)x;
	uint32_t u;
	memcpy(&u, &f, sizeof(u));
	return (int)(u >> 23) & (N_BINS - 1);
}

/* The likeliest candidates of the weights e[0..V), sorted into c by
 * by_p_desc: the top_k likeliest at least (top_k > 0), else, with *total
 * set to the weights' sum, at least a mass of top_p x *total.  Sorting the
 * whole row took most of a top-k or top-p token's time; here the weights
 * are binned by exponent, the bins walked down until they hold enough, and
 * only the weights in those bins sorted.  They are the first of the whole
 * row's order (whole bins, ties within one), so what follows is as if the
 * row had been sorted.  The sum is in double, bin by bin; the margin on
 * the mass covers its rounding in another order (below 1e-11 of it).
 * Returns how many are in c (V when every bin was needed). */
static int likeliest(struct cand *c, const real *e, int V, int top_k, double top_p, double *total)
{
	int count[N_BINS] = { 0 };
	double mass[N_BINS] = { 0 };
	for (int j = 0; j < V; j++) {
		int b = weight_bin(e[j]);
		count[b]++;
		mass[b] += e[j];
	}
	double need = 0;
	if (top_k <= 0) {
		*total = 0;
		for (int b = N_BINS - 1; b >= 0; b--)
			*total += mass[b];
		need = top_p * *total * (1 + 1e-9);
	}
	int low = N_BINS - 1, have = 0;
	double got = 0;
	for (; low > 0; low--) {
		have += count[low];
		got += mass[low];
		if (top_k > 0 ? have >= top_k : got >= need)
			break;
	}
	int n = 0;
	for (int j = 0; j < V; j++)
		if (weight_bin(e[j]) >= low)
			c[n].p = e[j], c[n++].id = (uint32_t)j;
	qsort(c, (size_t)n, sizeof(*c), by_p_desc);
	return n;
}

/* A slot's scratch for pick: the row's exponentials, the sums of blocks
 * of them, and the candidates sorted for top-k or top-p (NULL when
 * neither is asked for). */
enum { DRAW_BLOCK = 256 };
struct pick_scratch {
	real *e;
	double *block;
	struct cand *c;
};

/* The index drawn from weights e[0..V) >= 0: a uniform u in [0, total),
 * walked over the sums of blocks of DRAW_BLOCK weights, then within the
 * block (the blocks' sums on independent chains, not one add a weight
 * after the other). */
static uint32_t draw(const real *e, int V, double *block, rng *r)
{
	int nb = (V + DRAW_BLOCK - 1) / DRAW_BLOCK;
	double sum = 0;
	for (int b = 0; b < nb; b++) {
		int j0 = b * DRAW_BLOCK, j1 = j0 + DRAW_BLOCK < V ? j0 + DRAW_BLOCK : V, j = j0;
		double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
		for (; j + 4 <= j1; j += 4)
			s0 += e[j], s1 += e[j + 1], s2 += e[j + 2], s3 += e[j + 3];
		for (; j < j1; j++)
			s0 += e[j];
		block[b] = (s0 + s1) + (s2 + s3);
		sum += block[b];
	}
	double u = rng_uniform(r) * sum, acc = 0;
	int b = 0;
	while (b < nb - 1 && u >= acc + block[b])
		acc += block[b++];
	int j0 = b * DRAW_BLOCK, j1 = j0 + DRAW_BLOCK < V ? j0 + DRAW_BLOCK : V, last = j0;
	for (int j = j0; j < j1; j++) {
		if (e[j] > 0)
			last = j;
		acc += e[j];
		if (u < acc && e[j] > 0)
			return (uint32_t)j;
	}
	return (uint32_t)last; /* u past the block's sum by rounding */
}

/* Pick the next token from a row of logits; *logprob gets the model's own
 * log-probability of it, *sample_lp its log-probability under the
 * distribution it was drawn from (the logits over the temperature, cut to
 * the kept set and renormalised over it; 0 when greedy).  The
 * exponentials and their sum are those sluice-eval's loss is made of
 * (crossentropy_forward_cpu). */
static uint32_t pick(const real *z, int V, const sample_opts *o, rng *r, struct pick_scratch *ps, double *logprob,
		     double *sample_lp)
{
	real mx;
	uint32_t tok;
	double sum1 = softmax_exp_cpu(ps->e, z, V, 1, &mx, &tok);
	double lse = mx + log(sum1);
	*sample_lp = 0;
	if (o->temperature > 0) {
		double sum = o->temperature == 1 ? sum1 : softmax_exp_cpu(ps->e, z, V, o->temperature, &mx, &tok);
		if (!ps->c) {
			tok = draw(ps->e, V, ps->block, r);
		} else {
			struct cand *c = ps->c;
			int n;
			double keep = 0, mass = 0;
			if (o->top_k > 0 && o->top_k < V) {
				likeliest(c, ps->e, V, o->top_k, 1, NULL);
				n = o->top_k;
				for (int j = 0; j < n; j++)
					keep += c[j].p;
			} else {
				n = likeliest(c, ps->e, V, 0, o->top_p, &keep);
			}
			if (o->top_p < 1) {
				int m = 0;
				while (m < n && mass < o->top_p * keep)
					mass += c[m++].p;
				n = m ? m : 1;
			}
			sum = 0;
			for (int j = 0; j < n; j++)
				sum += c[j].p;
			double u = rng_uniform(r) * sum, acc = 0;
			tok = c[n - 1].id;
			for (int j = 0; j < n; j++) {
				acc += c[j].p;
				if (u < acc) {
					tok = c[j].id;
					break;
				}
			}
		}
		/* The kept set's mass is sum, the token's exp((z - mx) / t). */
		*sample_lp = ((double)z[tok] - mx) / o->temperature - log(sum);
	}
	*logprob = z[tok] - lse;
	return tok;
}

/* Per-job decoding state. */
struct run {
	rng rng;
	buf text;                   /* the completion's bytes so far */
	size_t cap;
};

static int is_stop_token(const sample_opts *o, uint32_t t)
{
	for (size_t i = 0; i < o->n_stop_tokens; i++)
		if (o->stop_tokens[i] == t)
			return 1;
	return 0;
}

/* After appending token t: does the text now hold a stop string?  Only
 * the tail the new bytes could complete is searched. */
static int stop_string_at(const sample_opts *o, struct run *s, size_t before, size_t *at)
{
	for (size_t i = 0; i < o->n_stop_strings; i++) {
		size_t n = strlen(o->stop_strings[i]);
		if (!n || s->text.len < n)
			continue;
		size_t from = before + 1 > n ? before + 1 - n : 0;
		for (size_t p = from; p + n <= s->text.len; p++)
			if (!memcmp(s->text.data + p, o->stop_strings[i], n)) {
				*at = p;
				return 1;
			}
	}
	return 0;
}

/* Append a generated token; returns 1 when the job is done. */
static int append(const sample_opts *o, sample_job *j, struct run *s, uint32_t t, double lp, double slp, int n_ctx)
{
	if (j->nout == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		j->out = xrealloc(j->out, s->cap * sizeof(*j->out));
		j->logprobs = xrealloc(j->logprobs, s->cap * sizeof(*j->logprobs));
		if (o->temperature > 0)
			j->sample_logprobs = xrealloc(j->sample_logprobs, s->cap * sizeof(*j->sample_logprobs));
	}
	j->out[j->nout] = t;
	if (o->temperature > 0)
		j->sample_logprobs[j->nout] = (float)slp;
	j->logprobs[j->nout++] = (float)lp;
	if (is_stop_token(o, t)) {
		j->finish = SAMPLE_STOP_TOKEN;
		j->text_len = s->text.len;
		return 1;
	}
	size_t before = s->text.len, len, at;
	const uint8_t *b = o->vocab ? tok_bytes(o->vocab, t, &len) : NULL;
	if (b)
		buf_add(&s->text, b, len);
	if (stop_string_at(o, s, before, &at)) {
		j->finish = SAMPLE_STOP_STRING;
		j->text_len = at;
		return 1;
	}
	j->text_len = s->text.len;
	/* The next token would need a position past the context. */
	if ((int)j->nout >= o->max_new || j->nprompt + j->nout >= (size_t)n_ctx) {
		j->finish = SAMPLE_LENGTH;
		return 1;
	}
	return 0;
}

struct sample_cache {
	const model *m;
	int slots, weights;
	int maxlen;                 /* positions a slot c holds */
	model_cache *c;             /* NULL until a call needs it */
};

static int slots_of(const sample_opts *o)
{
	return o->slots > 0 ? o->slots : 1;
}

sample_cache *sample_cache_new(const model *m, const sample_opts *o)
{
	sample_cache *c = xcalloc(1, sizeof(*c));
	c->m = m;
	c->slots = slots_of(o);
	c->weights = o->weights;
	return c;
}

/* c's model cache with room for maxlen positions a slot: made at the first
 * call, made again when one needs more (twice as many, up to the context,
 * so that growing prompts remake it a few times at most). */
static model_cache *cache_for(sample_cache *c, int maxlen)
{
	if (c->c && c->maxlen >= maxlen)
		return c->c;
	int n_ctx = model_cfg(c->m)->n_ctx;
	if (c->c && maxlen < 2 * c->maxlen)
		maxlen = 2 * c->maxlen < n_ctx ? 2 * c->maxlen : n_ctx;
	model_cache_free(c->c);
	c->c = model_cache_new(c->m, c->slots, maxlen, c->weights);
	c->maxlen = maxlen;
	return c->c;
}

void sample_cache_free(sample_cache *c)
{
	if (!c)
		return;
	model_cache_free(c->c);
	free(c);
}

int sample_run(model *m, const sample_opts *o, sample_job *jobs, size_t n, char *err, size_t errlen)
{
	int n_ctx = model_cfg(m)->n_ctx, V = model_cfg(m)->n_vocab, S = slots_of(o);
	if (o->cache && (o->cache->m != m || o->cache->slots != S || o->cache->weights != o->weights)) {
		snprintf(err, errlen, "a sample cache made for another model, slot count or weight storage");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		jobs[i].out = NULL;
		jobs[i].logprobs = jobs[i].sample_logprobs = NULL;
		jobs[i].nout = jobs[i].text_len = 0;
		jobs[i].finish = SAMPLE_LENGTH;
		if (!jobs[i].nprompt || jobs[i].nprompt >= (size_t)n_ctx) {
			snprintf(err, errlen, "prompt of %zu tokens: the model takes 1 to %d", jobs[i].nprompt, n_ctx - 1);
			return -1;
		}
	}
	/* A job's keys and values are those of its slot's positions before
	 * its own, all written in this call: a cache kept from an earlier
	 * call needs no clearing.  It holds the positions the longest prompt
	 * and its completion reach, not the whole context (a long-context
	 * model's would be large). */
	size_t need = 1, max_new = (size_t)(o->max_new > 0 ? o->max_new : 0);
	for (size_t i = 0; i < n; i++)
		if (jobs[i].nprompt + max_new > need)
			need = jobs[i].nprompt + max_new;
	sample_cache *own = o->cache ? NULL : sample_cache_new(m, o);
	model_cache *cache = cache_for(o->cache ? o->cache : own, need < (size_t)n_ctx ? (int)need : n_ctx);
	struct run *runs = xcalloc(n ? n : 1, sizeof(*runs));
	long *slot_job = xmalloc((size_t)S * sizeof(*slot_job));
	size_t *cursor = xcalloc((size_t)S, sizeof(*cursor));
	int *rslot = xmalloc((size_t)S * sizeof(int)), *rpos = xmalloc((size_t)S * sizeof(int));
	uint32_t *rtok = xmalloc((size_t)S * sizeof(uint32_t));
	int sorted = (o->top_k > 0 && o->top_k < V) || o->top_p < 1, nb = (V + DRAW_BLOCK - 1) / DRAW_BLOCK;
	struct pick_scratch *ps = xmalloc((size_t)S * sizeof(*ps));
	real *exps = xmalloc((size_t)S * V * sizeof(*exps));
	double *blocks = xmalloc((size_t)S * nb * sizeof(*blocks));
	struct cand *cands = sorted ? xmalloc((size_t)S * V * sizeof(*cands)) : NULL;
	for (int s = 0; s < S; s++)
		ps[s] = (struct pick_scratch){ exps + (size_t)s * V, blocks + (size_t)s * nb,
					       cands ? cands + (size_t)s * V : NULL };
	int *finished = xmalloc((size_t)S * sizeof(int));
	for (int s = 0; s < S; s++)
		slot_job[s] = -1;
	size_t next = 0;
	for (;;) {
		int rows = 0;
		for (int s = 0; s < S; s++) {
			if (slot_job[s] < 0 && next < n && o->max_new > 0) {
				slot_job[s] = (long)next;
				cursor[s] = 0;
				job_seed(&runs[next].rng, o->seed, jobs[next].group, jobs[next].index);
				next++;
			}
			if (slot_job[s] < 0)
				continue;
			sample_job *j = &jobs[slot_job[s]];
			rslot[rows] = s;
			rpos[rows] = (int)cursor[s];
			rtok[rows] = cursor[s] < j->nprompt ? j->prompt[cursor[s]] : j->out[cursor[s] - j->nprompt];
			rows++;
		}
		if (!rows)
			break;
		const real *z = model_decode(m, cache, rslot, rtok, rpos, rows);
		z = KERN_HOST(model_kernels(m), z);   /* read on the host */
#pragma omp parallel for schedule(static)
		for (int i = 0; i < rows; i++) {
			int s = rslot[i];
			sample_job *j = &jobs[slot_job[s]];
			finished[i] = 0;
			if (cursor[s] + 1 < j->nprompt)
				continue; /* still reading the prompt */
			double lp, slp;
			uint32_t t = pick(z + (size_t)i * V, V, o, &runs[slot_job[s]].rng, &ps[s], &lp, &slp);
			finished[i] = append(o, j, &runs[slot_job[s]], t, lp, slp, n_ctx);
		}
		for (int i = 0; i < rows; i++) {
			int s = rslot[i];
			cursor[s]++;
			if (finished[i]) {
				buf_release(&runs[slot_job[s]].text);
				slot_job[s] = -1;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		buf_release(&runs[i].text);
	free(runs);
	free(slot_job);
	free(cursor);
	free(rslot);
	free(rpos);
	free(rtok);
	free(cands);
	free(exps);
	free(blocks);
	free(ps);
	free(finished);
	sample_cache_free(own);
	return 0;
}

void sample_job_release(sample_job *j)
{
	free(j->out);
	free(j->logprobs);
	free(j->sample_logprobs);
	j->out = NULL;
	j->logprobs = j->sample_logprobs = NULL;
	j->nout = 0;
}

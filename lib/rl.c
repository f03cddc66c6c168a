/* rl.c: GRPO and DPO as weights on the completion tokens' -log p. */
#include "rl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

void rl_opts_default(rl_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->batch = 8;
	o->updates = 1;
	o->ratio_low = 0.2;
	o->ratio_high = 0.2;
	o->kl_loss = RL_KL_K3;
	o->agg = RL_AGG_TOKEN;
	o->adv_std = 1;
	o->dpo_beta = 0.1;
	optim_opts_default(&o->opt);
}

int rl_agg_parse(const char *s)
{
	return !strcmp(s, "token") ? RL_AGG_TOKEN : !strcmp(s, "seq") ? RL_AGG_SEQ : !strcmp(s, "const") ? RL_AGG_CONST : -1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A forward pass's inputs for sequences seq[0..b): padded to the longest,
 * every target weighted 0 (the caller sets the completion's weights). */
struct micro {
	uint32_t *inp, *tgt;
	real *w;
	uint8_t *comp;              /* 1 at the positions whose target is a completion token */
	real *ent, *kl;             /* per position */
	size_t cap;
	int b, T;
};

static void micro_fill(struct micro *mb, rollout *const *seq, int b)
{
	size_t len = 2;
	for (int i = 0; i < b; i++)
		if (seq[i]->nprompt + seq[i]->ncomp > len)
			len = seq[i]->nprompt + seq[i]->ncomp;
	int T = (int)len - 1;
	size_t n = (size_t)b * (size_t)T;
	if (n > mb->cap) {
		mb->cap = n;
		mb->inp = xrealloc(mb->inp, n * sizeof(*mb->inp));
		mb->tgt = xrealloc(mb->tgt, n * sizeof(*mb->tgt));
		mb->w = xrealloc(mb->w, n * sizeof(*mb->w));
		mb->comp = xrealloc(mb->comp, n);
		mb->ent = xrealloc(mb->ent, n * sizeof(*mb->ent));
		mb->kl = xrealloc(mb->kl, n * sizeof(*mb->kl));
	}
	memset(mb->inp, 0, n * sizeof(*mb->inp));
	memset(mb->tgt, 0, n * sizeof(*mb->tgt));
	memset(mb->w, 0, n * sizeof(*mb->w));
	memset(mb->comp, 0, n);
	for (int i = 0; i < b; i++) {
		const rollout *r = seq[i];
		size_t L = r->nprompt + r->ncomp;
		for (size_t j = 0; j + 1 < L; j++) {
			mb->inp[(size_t)i * T + j] = r->tok[j];
			mb->tgt[(size_t)i * T + j] = r->tok[j + 1];
			mb->comp[(size_t)i * T + j] = j + 1 >= r->nprompt;
		}
	}
	mb->b = b;
	mb->T = T;
}

static void micro_free(struct micro *mb)
{
	free(mb->inp);
	free(mb->tgt);
	free(mb->w);
	free(mb->comp);
	free(mb->ent);
	free(mb->kl);
}

/* Entropy of p and KL(p || q) at the completion positions, from the two
 * models' softmax rows (q NULL: entropy only).  A probability that
 * underflowed to zero in q is taken as 1e-30. */
static void row_stats(struct micro *mb, const real *p, const real *q, int V)
{
	int64_t n = (int64_t)mb->b * mb->T;
#pragma omp parallel for schedule(dynamic, 4)
	for (int64_t i = 0; i < n; i++) {
		if (!mb->comp[i])
			continue;
		const real *pr = p + i * V, *qr = q ? q + i * V : NULL;
		double h = 0, kl = 0;
		for (int v = 0; v < V; v++) {
			if (pr[v] <= 0)
				continue;
			double lp = log((double)pr[v]);
			h -= pr[v] * lp;
			if (qr)
				kl += pr[v] * (lp - log(qr[v] > 1e-30f ? (double)qr[v] : 1e-30));
		}
		mb->ent[i] = (real)h;
		mb->kl[i] = (real)kl;
	}
}

/* Training FLOPs of a forward pass over each sequence, one by one. */
static double seq_flops(const model *m, rollout *const *seq, size_t n)
{
	double f = 0;
	for (size_t i = 0; i < n; i++)
		f += model_forward_flops(model_cfg(m), 1, (int)(seq[i]->nprompt + seq[i]->ncomp - 1));
	return f;
}

static void batch_shape(const rollout_batch *b, rl_batch_stats *bs)
{
	memset(bs, 0, sizeof(*bs));
	bs->groups = b->ngroups;
	bs->sequences = b->n;
	double sum = 0, sq = 0;
	size_t trunc = 0;
	for (size_t i = 0; i < b->n; i++) {
		const rollout *r = &b->r[i];
		bs->tokens += r->ncomp;
		if (r->ncomp > bs->len_max)
			bs->len_max = r->ncomp;
		trunc += (size_t)r->truncated;
		sum += r->reward;
		sq += r->reward * r->reward;
	}
	if (b->n) {
		bs->reward_mean = sum / (double)b->n;
		double var = sq / (double)b->n - bs->reward_mean * bs->reward_mean;
		bs->reward_std = var > 0 ? sqrt(var) : 0;
		bs->len_mean = (double)bs->tokens / (double)b->n;
		bs->truncated = (double)trunc / (double)b->n;
	}
}

/* The optimizer step that ends an update, and its accounting: flops of
 * the update's passes plus, once a batch, those of the rollouts' making. */
static void step_update(model *m, optim *o, const rl_opts *op, const rl_batch_stats *bs, ckpt_info *info,
			double flops, rl_update_stats *st)
{
	st->lr = optim_lr(&op->opt, optim_steps(o));
	st->grad_norm = optim_step(o, m, &op->opt, st->lr);
	info->step = optim_steps(o);
	info->tokens += (uint64_t)bs->tokens;
	info->flops += flops;
	st->step = info->step;
}

void rl_grpo(model *m, optim *o, model *ref, const rl_opts *op, rollout_batch *b, ckpt_info *info,
	     rl_batch_stats *bs, rl_update_stats *us)
{
	size_t n = b->n;
	int V = model_cfg(m)->n_vocab;
	batch_shape(b, bs);
	/* Advantages and each sequence's share of the loss. */
	double *adv = xcalloc(n ? n : 1, sizeof(*adv)), *share = xcalloc(n ? n : 1, sizeof(*share));
	size_t zero = 0;
	for (size_t g = 0; g < b->ngroups; g++) {
		size_t s = b->group_start[g], e = b->group_start[g + 1];
		double mean = 0, var = 0;
		for (size_t i = s; i < e; i++)
			mean += b->r[i].reward;
		mean /= (double)(e - s);
		for (size_t i = s; i < e; i++)
			var += (b->r[i].reward - mean) * (b->r[i].reward - mean);
		double sd = sqrt(var / (double)(e - s));
		zero += sd == 0;
		for (size_t i = s; i < e; i++) {
			adv[i] = b->r[i].reward - mean;
			if (op->adv_std)
				adv[i] /= sd + 1e-4;
		}
	}
	bs->zero_spread = b->ngroups ? (double)zero / (double)b->ngroups : 0;
	size_t seqs_with_tokens = 0;
	for (size_t i = 0; i < n; i++)
		seqs_with_tokens += b->r[i].ncomp > 0;
	for (size_t i = 0; i < n; i++) {
		const rollout *r = &b->r[i];
		if (!r->ncomp)
			continue;
		if (op->agg == RL_AGG_TOKEN)
			share[i] = 1.0 / (double)bs->tokens;
		else if (op->agg == RL_AGG_SEQ)
			share[i] = 1.0 / ((double)seqs_with_tokens * (double)r->ncomp);
		else
			share[i] = 1.0 / ((double)seqs_with_tokens *
					  (double)(r->max_new > 0 ? (size_t)r->max_new : bs->len_max));
	}
	/* On-policy (sampled by this very model), the old log-probs are the
	 * first update's own: its ratio is exactly 1.  Otherwise they are the
	 * sampler's, the only record of the policy that sampled. */
	int on_policy = !op->sampler_old;
	for (size_t i = 0; i < n; i++)
		on_policy &= b->r[i].policy_step == info->step;
	bs->on_policy = on_policy;
	real **old = xcalloc(n ? n : 1, sizeof(*old));
	for (size_t i = 0; i < n; i++) {
		old[i] = xmalloc((b->r[i].ncomp ? b->r[i].ncomp : 1) * sizeof(real));
		for (size_t k = 0; !on_policy && k < b->r[i].ncomp; k++)
			old[i][k] = b->r[i].old_logp[k];
	}

	/* The sequences with completion tokens, in order. */
	rollout **seq = xmalloc((n ? n : 1) * sizeof(*seq));
	size_t *idx = xmalloc((n ? n : 1) * sizeof(*idx));
	size_t ns = 0;
	for (size_t i = 0; i < n; i++)
		if (b->r[i].ncomp) {
			idx[ns] = i;
			seq[ns++] = &b->r[i];
		}
	double temp = n ? b->r[0].temperature : 1;
	model_set_temperature(m, temp);
	if (ref)
		model_set_temperature(ref, temp);
	double gen_flops = seq_flops(m, seq, ns);
	struct micro mb = { 0 };
	double mismatch = 0;
	for (int u = 0; u < op->updates; u++) {
		rl_update_stats *st = &us[u];
		memset(st, 0, sizeof(*st));
		double start = now(), tokens = 0, clipped = 0, ratio_sum = 0, ratio_max = 0;
		double ent_sum = 0, k3_sum = 0, kl_sum = 0, loss = 0, flops = 0;
		model_zero_grad(m);
		for (size_t first = 0; first < ns; first += (size_t)op->batch) {
			int bsz = ns - first < (size_t)op->batch ? (int)(ns - first) : op->batch;
			micro_fill(&mb, seq + first, bsz);
			int T = mb.T;
			model_forward(m, mb.inp, mb.tgt, mb.w, bsz, T);
			flops += 3 * model_forward_flops(model_cfg(m), bsz, T);
			/* Read on the host (kernels.h, KERN_HOST). */
			const real *lossv = KERN_HOST(model_kernels(m), model_losses(m)), *rlossv = NULL;
			if (ref) {
				model_forward(ref, mb.inp, mb.tgt, NULL, bsz, T);
				flops += model_forward_flops(model_cfg(ref), bsz, T);
				rlossv = KERN_HOST(model_kernels(ref), model_losses(ref));
			}
			row_stats(&mb, KERN_HOST(model_kernels(m), model_logits(m)),
				  ref ? KERN_HOST(model_kernels(ref), model_logits(ref)) : NULL, V);
			for (int i = 0; i < bsz; i++) {
				size_t ri = idx[first + (size_t)i];
				const rollout *r = &b->r[ri];
				double A = adv[ri], c = share[ri];
				for (size_t k = 0; k < r->ncomp; k++) {
					size_t pos = (size_t)i * (size_t)T + r->nprompt - 1 + k;
					double logp = -(double)lossv[pos];
					if (u == 0 && r->old_logp)
						mismatch += fabs(logp - (double)r->old_logp[k]);
					if (u == 0 && on_policy)
						old[ri][k] = (real)logp;
					double ratio = exp(logp - (double)old[ri][k]);
					double lo = 1 - op->ratio_low, hi = 1 + op->ratio_high;
					double clip = ratio < lo ? lo : ratio > hi ? hi : ratio;
					int active = !((A > 0 && ratio > hi) || (A < 0 && ratio < lo));
					double obj = ratio * A < clip * A ? ratio * A : clip * A;
					double g = active ? ratio * A : 0, pen = 0, kgrad = 0;
					if (ref) {
						double d = -(double)rlossv[pos] - logp, k3 = exp(d) - d - 1;
						k3_sum += k3;
						kl_sum += mb.kl[pos];
						pen = op->kl_loss == RL_KL_K3 ? k3 : 0.5 * d * d;
						kgrad = op->kl_loss == RL_KL_K3 ? 1 - exp(d) : -d;
					}
					/* weight = -d loss / d logp */
					mb.w[pos] = (real)(c * (g - op->kl * kgrad));
					loss += c * (-obj + op->kl * pen);
					clipped += !active;
					ratio_sum += ratio;
					ratio_max = ratio > ratio_max ? ratio : ratio_max;
					ent_sum += mb.ent[pos];
					tokens++;
				}
			}
			model_set_weights(m, mb.w);
			model_backward(m);
		}
		step_update(m, o, op, bs, info, flops + (u == 0 ? gen_flops : 0), st);
		st->loss = loss;
		st->clip_frac = tokens ? clipped / tokens : 0;
		st->ratio_mean = tokens ? ratio_sum / tokens : 0;
		st->ratio_max = ratio_max;
		st->entropy = tokens ? ent_sum / tokens : 0;
		st->kl_k3 = ref && tokens ? k3_sum / tokens : NAN;
		st->kl_exact = ref && tokens ? kl_sum / tokens : NAN;
		st->seconds = now() - start;
	}
	bs->mismatch = bs->tokens ? mismatch / (double)bs->tokens : 0;
	model_set_temperature(m, 1);
	if (ref)
		model_set_temperature(ref, 1);
	for (size_t i = 0; i < n; i++)
		free(old[i]);
	free(old);
	free(seq);
	free(idx);
	free(adv);
	free(share);
	micro_free(&mb);
}

/* log(1 + exp(x)) without overflow. */
static double softplus(double x)
{
	return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

size_t rl_dpo(model *m, optim *o, const rl_opts *op, rollout_batch *b, ckpt_info *info, rl_batch_stats *bs,
	      rl_update_stats *us)
{
	batch_shape(b, bs);
	/* Pairs: within each group, ranked by reward (ties by order), the
	 * best against the worst while the rewards differ. */
	rollout **seq = xmalloc((b->n ? b->n : 1) * sizeof(*seq));
	size_t np = 0, zero = 0;
	size_t *rank = xmalloc((b->n ? b->n : 1) * sizeof(*rank));
	for (size_t g = 0; g < b->ngroups; g++) {
		size_t s = b->group_start[g], e = b->group_start[g + 1], k = e - s;
		for (size_t i = 0; i < k; i++) {
			size_t j = i;
			while (j > 0 && b->r[s + rank[j - 1]].reward < b->r[s + i].reward) {
				rank[j] = rank[j - 1];
				j--;
			}
			rank[j] = i;
		}
		zero += b->r[s + rank[0]].reward == b->r[s + rank[k - 1]].reward;
		for (size_t i = 0, j = k - 1; i < j && b->r[s + rank[i]].reward > b->r[s + rank[j]].reward; i++, j--) {
			seq[2 * np] = &b->r[s + rank[i]];
			seq[2 * np + 1] = &b->r[s + rank[j]];
			np++;
		}
	}
	free(rank);
	bs->zero_spread = b->ngroups ? (double)zero / (double)b->ngroups : 0;
	bs->pairs = np;
	if (!np) {
		free(seq);
		return 0;
	}
	double gen_flops = 0;
	for (size_t i = 0; i < b->n; i++) {
		rollout *r = &b->r[i];
		gen_flops += seq_flops(m, &r, 1);
	}
	model_set_temperature(m, 1);
	int per = op->batch / 2 > 0 ? op->batch / 2 : 1;  /* pairs a forward pass */
	double beta = op->dpo_beta;
	struct micro mb = { 0 };
	for (int u = 0; u < op->updates; u++) {
		rl_update_stats *st = &us[u];
		memset(st, 0, sizeof(*st));
		double start = now(), loss = 0, acc = 0, margin = 0, chosen = 0, rejected = 0, flops = 0;
		model_zero_grad(m);
		for (size_t first = 0; first < np; first += (size_t)per) {
			int pairs = np - first < (size_t)per ? (int)(np - first) : per;
			micro_fill(&mb, seq + 2 * first, 2 * pairs);
			int T = mb.T;
			model_forward(m, mb.inp, mb.tgt, mb.w, 2 * pairs, T);
			flops += 3 * model_forward_flops(model_cfg(m), 2 * pairs, T);
			const real *lossv = KERN_HOST(model_kernels(m), model_losses(m));
			for (int p = 0; p < pairs; p++) {
				double logr[2];
				for (int s = 0; s < 2; s++) {
					const rollout *r = seq[2 * (first + (size_t)p) + (size_t)s];
					double sp = 0, sr = 0;
					for (size_t k = 0; k < r->ncomp; k++) {
						sp -= lossv[(size_t)(2 * p + s) * (size_t)T + r->nprompt - 1 + k];
						sr += r->ref_logp[k];
					}
					logr[s] = sp - sr;
				}
				double z = beta * (logr[0] - logr[1]), sig = 1 / (1 + exp(z)); /* sigma(-z) */
				loss += softplus(-z) / (double)np;
				acc += z > 0;
				margin += logr[0] - logr[1];
				chosen += beta * logr[0];
				rejected += beta * logr[1];
				for (int s = 0; s < 2; s++) {
					const rollout *r = seq[2 * (first + (size_t)p) + (size_t)s];
					real w = (real)((s ? -1 : 1) * beta * sig / (double)np);
					for (size_t k = 0; k < r->ncomp; k++)
						mb.w[(size_t)(2 * p + s) * (size_t)T + r->nprompt - 1 + k] = w;
				}
			}
			model_set_weights(m, mb.w);
			model_backward(m);
		}
		/* The rollouts' generation and the reference's scoring pass. */
		step_update(m, o, op, bs, info, flops + (u == 0 ? 2 * gen_flops : 0), st);
		st->loss = loss;
		st->accuracy = acc / (double)np;
		st->margin = margin / (double)np;
		st->chosen = chosen / (double)np;
		st->rejected = rejected / (double)np;
		st->kl_k3 = st->kl_exact = NAN;
		st->seconds = now() - start;
	}
	micro_free(&mb);
	free(seq);
	return np;
}

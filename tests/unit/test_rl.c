/* test_rl: GRPO's and DPO's gradients against finite differences, in
 * double precision (this test builds lib/rl.c, lib/model.c and kernels/
 * with SLUICE_REAL_DOUBLE), and the properties the objectives promise.
 *
 * The optimizer is replaced by one that leaves the parameters alone and
 * counts steps: the gradient rl_grpo() and rl_dpo() leave in the model is
 * then the one to check, and calling them again gives the loss at other
 * parameters. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"
#include "optim.h"
#include "rl.h"
#include "util.h"

struct optim {
	int64_t steps;
};

void optim_opts_default(optim_opts *o)
{
	memset(o, 0, sizeof(*o));
}
double optim_lr(const optim_opts *o, int64_t step)
{
	(void)o;
	(void)step;
	return 0;
}
int64_t optim_steps(const optim *o) { return o->steps; }
double optim_step(optim *o, model *m, const optim_opts *opts, double lr)
{
	(void)opts;
	(void)lr;
	o->steps++;
	double s = 0;
	for (size_t i = 0; i < model_nparams(m); i++)
		s += model_grads(m)[i] * model_grads(m)[i];
	return sqrt(s);
}

/* As in test_gradcheck. */
#define H 1e-5
#define TOLERANCE 1e-5
#define TINY 1e-7
#define ABS_TOLERANCE 1e-9

static model_config tiny = { .n_layer = 1, .n_embd = 8, .n_head = 2, .n_ctx = 8, .n_vocab = 11 };

/* Rollouts: groups x per, prompts of 2-3 tokens, completions of 1-4. */
static void make_batch(rollout_batch *b, int groups, int per, unsigned seed)
{
	memset(b, 0, sizeof(*b));
	srand(seed);
	b->n = b->cap = (size_t)(groups * per);
	b->r = xcalloc(b->n, sizeof(*b->r));
	b->ngroups = (size_t)groups;
	b->group_start = xcalloc((size_t)groups + 1, sizeof(size_t));
	for (int g = 0; g <= groups; g++)
		b->group_start[g] = (size_t)(g * per);
	for (size_t i = 0; i < b->n; i++) {
		rollout *r = &b->r[i];
		r->nprompt = 2 + (size_t)(rand() % 2);
		r->ncomp = 1 + (size_t)(rand() % 4);
		r->tok = xmalloc((r->nprompt + r->ncomp) * sizeof(uint32_t));
		for (size_t j = 0; j < r->nprompt + r->ncomp; j++)
			r->tok[j] = (uint32_t)(rand() % tiny.n_vocab);
		r->old_logp = xcalloc(r->ncomp, sizeof(float));
		r->ref_logp = xcalloc(r->ncomp, sizeof(float));
		r->reward = (double)(rand() % 3);
		r->temperature = 1;
		r->group = (int64_t)(i / (size_t)per);
		r->policy_step = -1;
		r->max_new = 6;
	}
}

static void free_batch(rollout_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->r[i].tok);
		free(b->r[i].old_logp);
		free(b->r[i].ref_logp);
	}
	free(b->r);
	free(b->group_start);
}

/* The completion tokens' log-probs under m, at temperature t. */
static void logprobs(model *m, const rollout *r, double t, double *out)
{
	int T = (int)(r->nprompt + r->ncomp - 1);
	uint32_t *tg = xmalloc((size_t)T * sizeof(*tg));
	for (int j = 0; j < T; j++)
		tg[j] = r->tok[j + 1];
	model_set_temperature(m, t);
	model_forward(m, r->tok, tg, NULL, 1, T);
	for (size_t k = 0; k < r->ncomp; k++)
		out[k] = -model_losses(m)[r->nprompt - 1 + k];
	model_set_temperature(m, 1);
	free(tg);
}

static model *tiny_model(uint64_t seed)
{
	model *m = model_new(&tiny, &kern_cpu);
	model_init(m, seed);
	real *p = model_params(m);
	for (size_t i = 0; i < model_nparams(m); i++)
		p[i] *= 3; /* sharper distributions: log-probs far apart */
	return m;
}

/* A reference near m, as a policy stays near where it started (k3 grows
 * as exp(log ref - log p): for two unrelated models its terms are large
 * enough for rounding to blur the differences). */
static model *near_model(uint64_t seed)
{
	model *m = tiny_model(seed);
	real *p = model_params(m);
	for (size_t i = 0; i < model_nparams(m); i++)
		p[i] += 0.3 * sin((double)i);
	return m;
}

typedef double (*loss_fn)(model *m, void *ctx, int grad);

struct grpo_ctx {
	model *ref;
	rl_opts op;
	rollout_batch *b;
	ckpt_info info;
	optim o;
};

static double grpo_loss(model *m, void *vc, int grad)
{
	(void)grad;
	struct grpo_ctx *c = vc;
	rl_batch_stats bs;
	rl_update_stats us;
	rl_grpo(m, &c->o, c->ref, &c->op, c->b, &c->info, &bs, &us);
	return us.loss;
}

/* The gradient the call leaves against central differences of the loss
 * it returns; the worst relative error over the parameters. */
static double gradcheck(model *m, loss_fn f, void *ctx, double *abs_err)
{
	f(m, ctx, 1);
	size_t n = model_nparams(m);
	real *grad = xmalloc(n * sizeof(real));
	memcpy(grad, model_grads(m), n * sizeof(real));
	real *p = model_params(m);
	double worst = 0;
	*abs_err = 0;
	for (size_t i = 0; i < n; i++) {
		real keep = p[i];
		p[i] = keep + H;
		double up = f(m, ctx, 0);
		p[i] = keep - H;
		double down = f(m, ctx, 0);
		p[i] = keep;
		double num = (up - down) / (2 * H), ana = grad[i];
		double scale = fabs(num) + fabs(ana), diff = fabs(num - ana);
		if (scale < TINY)
			*abs_err = diff > *abs_err ? diff : *abs_err;
		else if (diff / scale > worst) {
			worst = diff / scale;
			if (getenv("RL_DEBUG"))
				printf("#   entry %zu: analytic %.6e, numeric %.6e\n", i, ana, num);
		}
	}
	free(grad);
	return worst;
}

/* Old log-probs off the policy's by fixed amounts that keep every ratio
 * well away from the clip's edges (0.8 and 1.2): some clipped, some not. */
static void offset_old(model *m, rollout_batch *b, double t)
{
	static const double off[] = { 0.5, 0.1, -0.05, -0.15, -0.4 };
	for (size_t i = 0; i < b->n; i++) {
		rollout *r = &b->r[i];
		double lp[8];
		logprobs(m, r, t, lp);
		for (size_t k = 0; k < r->ncomp; k++)
			r->old_logp[k] = (float)(lp[k] + off[(i + k) % 5]);
	}
}

static void test_grpo_gradient(void)
{
	static const struct {
		int agg, kl_loss, adv_std;
		double kl, temp;
	} cases[] = {
		{ RL_AGG_TOKEN, RL_KL_K3, 1, 0.3, 1 },
		{ RL_AGG_SEQ, RL_KL_K2, 0, 0.3, 1 },
		{ RL_AGG_CONST, RL_KL_K3, 1, 0, 0.7 },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		model *m = tiny_model(5), *ref = near_model(5);
		rollout_batch b;
		make_batch(&b, 2, 3, 11);
		for (size_t i = 0; i < b.n; i++)
			b.r[i].temperature = cases[c].temp;
		offset_old(m, &b, cases[c].temp);
		struct grpo_ctx ctx = { .ref = ref, .b = &b };
		rl_opts_default(&ctx.op);
		ctx.op.batch = 4; /* two forward passes for six rollouts */
		ctx.op.agg = cases[c].agg;
		ctx.op.kl_loss = cases[c].kl_loss;
		ctx.op.adv_std = cases[c].adv_std;
		ctx.op.kl = cases[c].kl;
		ctx.op.sampler_old = 1;
		double a, e = gradcheck(m, grpo_loss, &ctx, &a);
		printf("# GRPO case %zu: max relative error %.2e, absolute (tiny entries) %.1e\n", c, e, a);
		CHECK(e < TOLERANCE);
		CHECK(a < ABS_TOLERANCE);
		free_batch(&b);
		model_free(m);
		model_free(ref);
	}
}

/* On-policy, one update: the ratio is exactly 1 and the gradient is
 * REINFORCE's with the group mean as baseline. */
static void test_on_policy_is_reinforce(void)
{
	model *m = tiny_model(7);
	rollout_batch b;
	make_batch(&b, 3, 4, 12);
	struct grpo_ctx ctx = { .ref = NULL, .b = &b };
	rl_opts_default(&ctx.op);
	ctx.op.adv_std = 0;
	ctx.info.step = 9;
	ctx.o.steps = 9;
	for (size_t i = 0; i < b.n; i++)
		b.r[i].policy_step = 9;
	rl_batch_stats bs;
	rl_update_stats us;
	rl_grpo(m, &ctx.o, NULL, &ctx.op, &b, &ctx.info, &bs, &us);
	CHECK(bs.on_policy);
	CHECK(us.ratio_mean == 1 && us.ratio_max == 1 && us.clip_frac == 0);
	CHECK_EQ_INT(ctx.info.step, 10);
	size_t n = model_nparams(m);
	real *g = xmalloc(n * sizeof(real));
	memcpy(g, model_grads(m), n * sizeof(real));
	/* REINFORCE: sum over completions of (r - mean of its group) times
	 * the gradient of its log-prob, over the batch's completion tokens. */
	model_zero_grad(m);
	double tokens = 0;
	for (size_t i = 0; i < b.n; i++)
		tokens += (double)b.r[i].ncomp;
	for (size_t gi = 0; gi < b.ngroups; gi++) {
		double mean = 0;
		size_t s = b.group_start[gi], e = b.group_start[gi + 1];
		for (size_t i = s; i < e; i++)
			mean += b.r[i].reward / (double)(e - s);
		for (size_t i = s; i < e; i++) {
			rollout *r = &b.r[i];
			int T = (int)(r->nprompt + r->ncomp - 1);
			uint32_t tg[8];
			real w[8] = { 0 };
			for (int j = 0; j < T; j++)
				tg[j] = r->tok[j + 1];
			for (size_t k = 0; k < r->ncomp; k++)
				w[r->nprompt - 1 + k] = (r->reward - mean) / tokens;
			model_forward(m, r->tok, tg, w, 1, T);
			model_backward(m);
		}
	}
	double worst = 0, norm = 0;
	for (size_t i = 0; i < n; i++) {
		worst = fabs(g[i] - model_grads(m)[i]) > worst ? fabs(g[i] - model_grads(m)[i]) : worst;
		norm += g[i] * g[i];
	}
	printf("# on-policy GRPO vs REINFORCE: max difference %.2e, gradient norm %.3g\n", worst, sqrt(norm));
	CHECK(norm > 1e-6);
	CHECK(worst < 1e-12);
	free(g);
	free_batch(&b);
	model_free(m);
}

/* A group whose rewards are all equal gives no policy gradient. */
static void test_zero_spread_group(void)
{
	model *m = tiny_model(8);
	rollout_batch b;
	make_batch(&b, 1, 5, 13);
	for (size_t i = 0; i < b.n; i++)
		b.r[i].reward = 0.5;
	offset_old(m, &b, 1);
	struct grpo_ctx ctx = { .b = &b };
	rl_opts_default(&ctx.op);
	ctx.op.sampler_old = 1;
	rl_batch_stats bs;
	rl_update_stats us;
	rl_grpo(m, &ctx.o, NULL, &ctx.op, &b, &ctx.info, &bs, &us);
	int zero = 1;
	for (size_t i = 0; i < model_nparams(m); i++)
		zero &= model_grads(m)[i] == 0;
	CHECK(zero);
	CHECK(bs.zero_spread == 1);
	CHECK(us.grad_norm == 0);
	free_batch(&b);
	model_free(m);
}

/* Which KL the penalty's gradient follows.  For a one-token completion
 * drawn from the policy p, the expected gradient of k3 (as a loss) is the
 * gradient of the forward KL(ref || p), and that of 1/2 log-ratio^2 the
 * reverse KL(p || ref): summed over the vocabulary, weighted by p. */
static double kl_at(model *m, model *ref, const uint32_t *prompt, int T, int forward)
{
	int V = tiny.n_vocab;
	double p[16], q[16];
	model *ms[2] = { m, ref };
	double *out[2] = { p, q };
	for (int s = 0; s < 2; s++) {
		model_forward(ms[s], prompt, NULL, NULL, 1, T);
		const real *z = model_logits(ms[s]) + (size_t)(T - 1) * V;
		double mx = z[0], sum = 0;
		for (int v = 1; v < V; v++)
			mx = z[v] > mx ? z[v] : mx;
		for (int v = 0; v < V; v++)
			sum += exp(z[v] - mx);
		for (int v = 0; v < V; v++)
			out[s][v] = exp(z[v] - mx) / sum;
	}
	double kl = 0;
	for (int v = 0; v < V; v++)
		kl += forward ? q[v] * log(q[v] / p[v]) : p[v] * log(p[v] / q[v]);
	return kl;
}

static void test_kl_gradient_direction(void)
{
	int V = tiny.n_vocab;
	uint32_t prompt[3] = { 3, 1, 4 };
	for (int forward = 1; forward >= 0; forward--) {
		model *m = tiny_model(21), *ref = near_model(21);
		size_t n = model_nparams(m);
		double *expect = xcalloc(n, sizeof(double));
		double p[16];
		rollout_batch b;
		make_batch(&b, 1, 1, 14);
		rollout *r = &b.r[0];
		r->nprompt = 3;
		r->ncomp = 1;
		memcpy(r->tok, prompt, sizeof(prompt));
		struct grpo_ctx ctx = { .ref = ref, .b = &b };
		rl_opts_default(&ctx.op);
		ctx.op.kl = 1;
		ctx.op.kl_loss = forward ? RL_KL_K3 : RL_KL_K2;
		ctx.op.sampler_old = 1;
		for (int y = 0; y < V; y++) {
			r->tok[3] = (uint32_t)y;
			double lp;
			logprobs(m, r, 1, &lp);
			p[y] = exp(lp);
			r->old_logp[0] = (float)lp;
			grpo_loss(m, &ctx, 1);
			for (size_t i = 0; i < n; i++)
				expect[i] += p[y] * model_grads(m)[i];
		}
		/* The KL's gradient by central differences. */
		real *w = model_params(m);
		double worst = 0, norm = 0;
		for (size_t i = 0; i < n; i++) {
			real keep = w[i];
			w[i] = keep + H;
			double up = kl_at(m, ref, prompt, 3, forward);
			w[i] = keep - H;
			double down = kl_at(m, ref, prompt, 3, forward);
			w[i] = keep;
			double num = (up - down) / (2 * H), scale = fabs(num) + fabs(expect[i]);
			norm += num * num;
			if (scale > TINY && fabs(num - expect[i]) / scale > worst)
				worst = fabs(num - expect[i]) / scale;
		}
		printf("# %s: expected gradient vs KL(%s) by differences: max relative error %.2e (norm %.3g)\n",
		       forward ? "k3" : "k2", forward ? "ref || p" : "p || ref", worst, sqrt(norm));
		CHECK(norm > 1e-6);
		CHECK(worst < TOLERANCE);
		free(expect);
		free_batch(&b);
		model_free(m);
		model_free(ref);
	}
}

struct dpo_ctx {
	rl_opts op;
	rollout_batch *b;
	ckpt_info info;
	optim o;
};

static double dpo_loss(model *m, void *vc, int grad)
{
	(void)grad;
	struct dpo_ctx *c = vc;
	rl_batch_stats bs;
	rl_update_stats us;
	rl_dpo(m, &c->o, &c->op, c->b, &c->info, &bs, &us);
	return us.loss;
}

/* A pair whose log-ratios are set: the loss is -log sigmoid(beta (2 - -3)). */
static void test_dpo_hand_pair(void)
{
	model *m = tiny_model(31);
	rollout_batch b;
	make_batch(&b, 1, 2, 15);
	b.r[0].reward = 1;
	b.r[1].reward = 0;
	const double margin[2] = { 2, -3 };
	for (int s = 0; s < 2; s++) {
		rollout *r = &b.r[s];
		double lp[8];
		logprobs(m, r, 1, lp);
		/* log pi - log ref summed over the completion is margin[s]. */
		for (size_t k = 0; k < r->ncomp; k++)
			r->ref_logp[k] = (float)(lp[k] - margin[s] / (double)r->ncomp);
	}
	struct dpo_ctx ctx = { .b = &b };
	rl_opts_default(&ctx.op);
	rl_batch_stats bs;
	rl_update_stats us;
	CHECK_EQ_INT(rl_dpo(m, &ctx.o, &ctx.op, &b, &ctx.info, &bs, &us), 1);
	/* beta 0.1: z = 0.5, loss = log(1 + exp(-0.5)) = 0.474076984... */
	printf("# DPO hand pair: loss %.9f, expected 0.474076984\n", us.loss);
	CHECK(fabs(us.loss - 0.4740769841801067) < 1e-6); /* ref log-probs are floats */
	CHECK(us.accuracy == 1);
	CHECK(fabs(us.margin - 5) < 1e-5);
	free_batch(&b);
	model_free(m);
}

static void test_dpo_gradient(void)
{
	model *m = tiny_model(32);
	rollout_batch b;
	make_batch(&b, 2, 4, 16);
	static const double rw[8] = { 1, 0, 1, 0, 0, 1, 2, 0 };
	for (size_t i = 0; i < b.n; i++) {
		b.r[i].reward = rw[i];
		double lp[8];
		logprobs(m, &b.r[i], 1, lp);
		for (size_t k = 0; k < b.r[i].ncomp; k++)
			b.r[i].ref_logp[k] = (float)(lp[k] + 0.3 * sin((double)(i + 3 * k)));
	}
	struct dpo_ctx ctx = { .b = &b };
	rl_opts_default(&ctx.op);
	ctx.op.dpo_beta = 0.5;
	ctx.op.batch = 2; /* one pair a forward pass */
	rl_batch_stats bs;
	rl_update_stats us;
	/* Group 1: rewards 1 0 1 0 -> two pairs; group 2: 0 1 2 0 -> the 2
	 * against a 0, the 1 against the other 0. */
	CHECK_EQ_INT(rl_dpo(m, &ctx.o, &ctx.op, &b, &ctx.info, &bs, &us), 4);
	double a, e = gradcheck(m, dpo_loss, &ctx, &a);
	printf("# DPO: max relative error %.2e, absolute (tiny entries) %.1e\n", e, a);
	CHECK(e < TOLERANCE);
	CHECK(a < ABS_TOLERANCE);
	free_batch(&b);
	model_free(m);
}

int main(void)
{
	RUN(test_grpo_gradient);
	RUN(test_on_policy_is_reinforce);
	RUN(test_zero_spread_group);
	RUN(test_kl_gradient_direction);
	RUN(test_dpo_hand_pair);
	RUN(test_dpo_gradient);
	CHECK_EXIT();
}

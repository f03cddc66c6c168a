/* rl.h: policy-gradient steps on scored rollouts: GRPO and DPO
 * (doc/rl.md has the formulas and the reasons for the defaults).
 *
 * Both turn the objective into a weight on each completion token's
 * -log p, computed after the forward pass that gives the log-probs, so
 * that one backward pass through the model's cross-entropy gives the
 * objective's gradient: d loss / d logp(t) = -weight(t).
 *
 * Ownership: the caller owns the models, the optimizer and the batch;
 * info's step, tokens and flops are advanced. */
#ifndef SLUICE_RL_H
#define SLUICE_RL_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt.h"
#include "model.h"
#include "optim.h"
#include "rollout.h"

enum { RL_AGG_TOKEN, RL_AGG_SEQ, RL_AGG_CONST };
enum { RL_KL_K3, RL_KL_K2 };

typedef struct rl_opts {
	int batch;                  /* sequences a forward pass */
	int updates;                /* optimizer steps on each batch of rollouts */
	double ratio_low, ratio_high;   /* the ratio is clipped to [1 - low, 1 + high] */
	double kl;                  /* beta: the KL penalty's weight (needs ref) */
	int kl_loss;                /* RL_KL_K3 (forward-KL gradient) or RL_KL_K2 (reverse) */
	int agg;                    /* RL_AGG_* */
	int adv_std;                /* divide advantages by the group's std */
	int sampler_old;            /* old log-probs from the sampler even when on-policy */
	double dpo_beta;
	optim_opts opt;
} rl_opts;

void rl_opts_default(rl_opts *o);
/* "token", "seq", "const"; -1 if none. */
int rl_agg_parse(const char *s);

/* What a batch was, and each update on it. */
typedef struct rl_batch_stats {
	size_t groups, sequences, tokens;       /* completion tokens */
	double reward_mean, reward_std, zero_spread;   /* fraction of groups */
	double len_mean, truncated;
	size_t len_max;
	double mismatch;            /* mean |trainer's logp - sampler's| at the first update */
	int on_policy;
	/* DPO */
	size_t pairs;
} rl_batch_stats;

typedef struct rl_update_stats {
	int64_t step;
	double loss, lr, grad_norm, seconds;
	double clip_frac, ratio_mean, ratio_max;
	double entropy;             /* mean over completion tokens, nats */
	double kl_k3, kl_exact;     /* means over completion tokens; NAN without a reference */
	/* DPO */
	double accuracy, margin, chosen, rejected;
} rl_update_stats;

/* GRPO: opts->updates optimizer steps on the rollouts of b (every group
 * of them one batch).  ref may be NULL (then opts->kl must be 0); with a
 * reference, the KL is measured whatever opts->kl.  us gets updates
 * entries. */
void rl_grpo(model *m, optim *o, model *ref, const rl_opts *opts, rollout_batch *b, ckpt_info *info,
	     rl_batch_stats *bs, rl_update_stats *us);

/* DPO: pairs from each group (the best against the worst, the second best
 * against the second worst, ... while their rewards differ), the sigmoid
 * loss on them with the reference's log-probs the rollouts carry.  Returns
 * the pairs; with none, no step is taken. */
size_t rl_dpo(model *m, optim *o, const rl_opts *opts, rollout_batch *b, ckpt_info *info, rl_batch_stats *bs,
	      rl_update_stats *us);

#endif

/* optim.h: AdamW, or Muon for the hidden matrices with AdamW for the rest,
 * with a learning-rate schedule and global-norm clipping.
 *
 * The moments are float, one pair per parameter, in the model's buffer
 * order.  Weight decay applies to matrices only (model_tensor.decay) unless
 * decay_all is set.  The optimizer is created and freed by the caller.
 *
 * Muon (OPTIM_MUON) steps the blocks' weight matrices (the 2-D tensors
 * with decay set: attention and MLP projections) by Keller Jordan's
 * published update, as modded-nanogpt introduced it: Nesterov momentum,
 * five quintic Newton-Schulz steps in float, the fused query/key/value
 * matrix orthogonalised as its three parts, the result scaled by
 * sqrt(max(1, fan_out / fan_in)) and muon_lr, no weight decay.  Their
 * momentum buffer is held in the first moment m (v stays 0 for them);
 * embeddings, norms and biases take AdamW as before.  Muon's rate follows
 * the same schedule: muon_lr * optim_lr() / lr. */
#ifndef SLUICE_OPTIM_H
#define SLUICE_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

enum { OPTIM_COSINE, OPTIM_WSD, OPTIM_CONSTANT };
enum { OPTIM_ADAMW, OPTIM_MUON };

typedef struct optim_opts {
	double lr, min_lr_frac;     /* peak rate; the floor as a fraction of it */
	int schedule;               /* OPTIM_* */
	int64_t warmup;             /* steps of linear warm-up */
	int64_t horizon;            /* the schedule's last step (0: none, constant after warm-up) */
	double wsd_decay;           /* WSD: fraction of the horizon spent decaying */
	double beta1, beta2, eps, weight_decay;
	double clip;                /* global gradient norm limit (0: none) */
	int decay_all;              /* decay biases, norms and embeddings too */
	int kind;                   /* OPTIM_ADAMW or OPTIM_MUON */
	double muon_lr, muon_momentum;   /* Muon's peak rate and momentum */
} optim_opts;

/* Defaults: lr 6e-4, min 0.1, cosine, warm-up 0, betas 0.9/0.95, eps 1e-8,
 * weight decay 0.1, clip 1.0 (GPT-2/3 practice, as nanoGPT and llm.c);
 * AdamW; for Muon lr 0.02 and momentum 0.95 (modded-nanogpt's). */
void optim_opts_default(optim_opts *o);
/* Parse "cosine", "wsd" or "constant"; -1 if none.  And the other way. */
int optim_schedule_parse(const char *s);
const char *optim_schedule_name(int schedule);
/* Parse "adamw" or "muon"; -1 if neither.  And the other way. */
int optim_kind_parse(const char *s);
const char *optim_kind_name(int kind);
/* Whether Muon steps tensor t (under OPTIM_MUON). */
int optim_muon_tensor(const model_tensor *t);
/* Floating-point operations of one step's Newton-Schulz iterations (0 for
 * AdamW), for the FLOPs a run reports. */
double optim_step_flops(const model *m, const optim_opts *opts);

/* The learning rate of step `step` (0 for the first). */
double optim_lr(const optim_opts *o, int64_t step);

typedef struct optim optim;

/* The moments are in the memory of the backend k (zeroed), the model's. */
optim *optim_new(const kern_ops *k, size_t nparams);
void optim_free(optim *o);                       /* accepts NULL */
/* The moments held: of parameters [optim_first(o), optim_first(o) +
 * optim_size(o)), which optim_m() and optim_v() point at (every parameter
 * unless sharded), in the backend's memory: host code reads or writes them
 * in place only through KERN_HOST() (kernels.h). */
size_t optim_size(const optim *o);
size_t optim_first(const optim *o);
float *optim_m(optim *o);
float *optim_v(optim *o);
/* Keep only the moments of parameters [first, first + n) (within those
 * held) and update only those parameters from now on: one rank's share of
 * optimizer state sharded over data-parallel ranks (ZeRO stage 1), the
 * other parameters being updated by the other ranks.  Not with Muon,
 * which transforms whole matrices: its callers keep the whole state on
 * every rank. */
void optim_shard(optim *o, size_t first, size_t n);
int64_t optim_steps(const optim *o);             /* steps taken */
void optim_set_steps(optim *o, int64_t steps);

/* One step: AdamW at rate lr on the model's gradients, scaled down to the
 * clip norm if above it (the gradients themselves are left as they are;
 * the norm is the square root of the table's sum_squares, in double);
 * sharded, only the parameters whose moments it holds, the norm still of
 * every gradient.  Returns the gradient norm before clipping. */
double optim_step(optim *o, model *m, const optim_opts *opts, double lr);

#endif

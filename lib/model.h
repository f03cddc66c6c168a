/* model.h: the GPT-2 model: configuration, parameters, forward, backward.
 *
 * One definition for every backend: the model owns the parameter,
 * gradient and activation buffers and runs the pass as a sequence of
 * kernel calls through a kern_ops table (kernels/kernels.h).
 *
 * Parameters live in one buffer, tensor after tensor in the order of
 * model_tensor_at(), each under its Hugging Face GPT-2 name (wte.weight,
 * h.0.attn.c_attn.weight, ...) and in its layout (linear weights [IN, OUT]),
 * so a checkpoint is the buffer cut along the tensor table.  Gradients use
 * the same offsets.
 *
 * Ownership: model_new() returns a model the caller frees with
 * model_free(); every pointer the model hands out stays its own. */
#ifndef SLUICE_MODEL_H
#define SLUICE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

typedef struct model_config {
	int n_layer, n_embd, n_head;
	int n_ctx;                  /* positions (wpe rows) */
	int n_vocab;
} model_config;

#define MODEL_LAYERS_MAX 256
#define MODEL_EMBD_MAX 65536
#define MODEL_CTX_MAX (1 << 20)
#define MODEL_VOCAB_MAX (1 << 24)

/* "dN": N layers of GPT-2 shape.  d12, d24, d36 and d48 are GPT-2 small,
 * medium, large and XL (768/1024/1280/1600 channels, head size 64); other
 * N give 64 N channels in N heads.  Sets layers, channels and heads only.
 * Returns 0, or -1 for a name that is not a preset. */
int model_config_preset(const char *name, model_config *c);
/* Returns 0 if c describes a model this code can build, or -1 with the
 * reason in err. */
int model_config_check(const model_config *c, char *err, size_t errlen);

typedef struct model_tensor {
	char name[48];
	int ndim;
	int64_t shape[2];
	size_t offset, numel;       /* in elements, within the parameter buffer */
	int decay;                  /* 1 for matrices, 0 for biases, norms and embeddings */
} model_tensor;

typedef struct model model;

model *model_new(const model_config *c, const kern_ops *k);
void model_free(model *m);                       /* accepts NULL */
const model_config *model_cfg(const model *m);

size_t model_nparams(const model *m);
real *model_params(model *m);
real *model_grads(model *m);                     /* allocated at first use, zeroed */
size_t model_ntensors(const model *m);
const model_tensor *model_tensor_at(const model *m, size_t i);
const model_tensor *model_tensor_find(const model *m, const char *name);   /* NULL if none */

/* GPT-2's initialisation, from seed alone: weights N(0, 0.02), the two
 * residual projections of each block N(0, 0.02 / sqrt(2 n_layer)),
 * biases 0, norms 1. */
void model_init(model *m, uint64_t seed);

/* A copy of m with n_vocab rows of token embedding (n_vocab above m's):
 * every tensor the same, the new rows the mean of the old ones, so that a
 * token the model never saw starts as the average token (and, through the
 * tied head, with the average logit).  Used when chat data brings its
 * control tokens to a model trained without them. */
model *model_grow_vocab(model *m, int n_vocab);

/* Forward pass over B sequences of T input tokens (T <= n_ctx, ids <
 * n_vocab: the caller checks).  With targets, returns the sum over
 * positions of weight * -log p(target) (weight NULL: all 1) and keeps what
 * model_backward() needs; without, returns 0 and leaves the logits. */
double model_forward(model *m, const uint32_t *inp, const uint32_t *targets, const real *weight, int B, int T);
/* Add the gradient of the last forward's weighted loss to the gradients. */
void model_backward(model *m);
void model_zero_grad(model *m);

/* The temperature t of the softmax in forward passes with targets (and
 * their backward): the loss is of logits / t, as sampling at t draws from
 * them (RL's probability ratios).  Default 1. */
void model_set_temperature(model *m, double t);
/* Replace, between a forward pass with targets and model_backward(), the
 * weights of its B*T targets: RL's weights depend on the log-probabilities
 * that pass computed. */
void model_set_weights(model *m, const real *w);

/* After a forward pass without targets: logits [B*T, n_vocab]; after one
 * with targets, until model_backward(): their softmax (at the temperature). */
const real *model_logits(const model *m);
/* After a forward pass with targets: -log p(target) at each position. */
const real *model_losses(const model *m);

/* Incremental decoding.  A cache holds the keys and values of `slots`
 * sequences of up to maxlen positions (maxlen <= n_ctx).  model_decode()
 * runs one token for each of n rows: row i is token tok[i] at position
 * pos[i] of sequence slot[i], whose positions before pos[i] must have been
 * decoded already (a prompt is fed one token per call, like the tokens
 * generated after it; rows at different positions mix freely).  It
 * returns the n rows of logits [n, n_vocab], valid until the next call.
 * The result equals a full forward pass over the sequence up to rounding.
 *
 * The cache holds the products' weights packed for decoding as they are at
 * model_cache_new(), stored as `weights` (KERN_F32, KERN_BF16 or KERN_I8,
 * kernels.h); later changes to the parameters are not seen.  A row's
 * logits do not depend on the other rows nor on the thread count. */
typedef struct model_cache model_cache;
model_cache *model_cache_new(const model *m, int slots, int maxlen, int weights);
void model_cache_free(model_cache *c);              /* accepts NULL */
const real *model_decode(model *m, model_cache *c, const int *slot, const uint32_t *tok, const int *pos, int n);

/* Round the parameters the decoding products read (the four matrices of
 * each block and the tied embedding) to what `weights` stores, in place:
 * the forward pass then computes what decoding with that storage does. */
void model_round_weights(model *m, int weights);
/* "f32", "bf16", "int8" <-> KERN_F32, KERN_BF16, KERN_I8; -1 if unknown. */
int model_weights_parse(const char *name);
const char *model_weights_name(int weights);

/* Floating-point operations of one forward pass over B x T tokens, as this
 * code performs them (matrix products, attention's causal half).  A
 * training step (forward and backward) is three times as many. */
double model_forward_flops(const model_config *c, int B, int T);

#endif

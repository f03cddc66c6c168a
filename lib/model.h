/* model.h: the model: configuration, parameters, forward, backward.
 *
 * One definition for every backend: the model owns the parameter,
 * gradient and activation buffers and runs the pass as a sequence of
 * kernel calls through a kern_ops table (kernels/kernels.h).
 *
 * Two families of tensor names and layouts, chosen by the config:
 *
 *   MODEL_GPT2   GPT-2 exactly: Hugging Face GPT-2 names (wte.weight,
 *                wpe.weight, h.N.attn.c_attn.weight, ...), linear weights
 *                [IN, OUT] (Conv1D), LayerNorm, GELU, learned positions,
 *                tied head, biases.  The options below must be left at 0
 *                (n_ff may say 4 n_embd).
 *   MODEL_LLAMA  Hugging Face Llama/Qwen2/Qwen3 names, linear weights
 *                [OUT, IN] (nn.Linear), every option below:
 *                  model.embed_tokens.weight [V, C]
 *                  model.embed_positions.weight [n_ctx, C]   (rope 0 only)
 *                  model.layers.N.input_layernorm.weight (.bias: LayerNorm)
 *                  model.layers.N.self_attn.q_proj.weight [NH*hd, C]
 *                  model.layers.N.self_attn.{k,v}_proj.weight [NKV*hd, C]
 *                  model.layers.N.self_attn.{q,k,v}_proj.bias  (no_bias 0:
 *                      Qwen2's query/key/value biases; no other linear
 *                      layer of the family has one)
 *                  model.layers.N.self_attn.o_proj.weight [C, NH*hd]
 *                  model.layers.N.self_attn.{q,k}_norm.weight [hd] (qk_norm)
 *                  model.layers.N.post_attention_layernorm.weight (.bias)
 *                  model.layers.N.mlp.gate_proj.weight [F, C]  (SwiGLU only)
 *                  model.layers.N.mlp.up_proj.weight [F, C]
 *                  model.layers.N.mlp.down_proj.weight [C, F]
 *                  model.norm.weight (.bias: LayerNorm)
 *                  lm_head.weight [V, C]                     (untied only)
 *                so that a checkpoint is a Hugging Face state dict as it is.
 *                The MLP is down(act(gate(x)) * up(x)) for SwiGLU and
 *                down(act(up(x))) for GELU and ReLU squared; rotary
 *                positions follow transformers' rotate_half convention,
 *                applied after QK-norm; RMSNorm is x / sqrt(mean(x^2) +
 *                eps) * w.
 *
 * Parameters live in one buffer, tensor after tensor in the order of
 * model_tensor_at(), each under its name and in its layout, so a checkpoint
 * is the buffer cut along the tensor table.  Gradients use the same
 * offsets.
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
	int n_ctx;                /* positions: wpe rows, or the longest sequence with rotary positions */
	int n_vocab;
	int family;               /* MODEL_GPT2 (0): GPT-2 names and layouts; MODEL_LLAMA: Llama/Qwen names */
	int n_kv_head;            /* 0: n_head (grouped-query attention when smaller, dividing n_head) */
	int head_dim;             /* 0: n_embd / n_head (Qwen3 sets it apart) */
	int n_ff;                 /* MLP hidden width; 0: 4 n_embd */
	int norm;                 /* MODEL_LAYERNORM (0), MODEL_RMSNORM */
	int mlp;                  /* MODEL_GELU (0, tanh approximation as now), MODEL_SWIGLU, MODEL_RELU2 */
	int rope;                 /* 0: learned positions (wpe); 1: rotary (no wpe) */
	double rope_theta;        /* 0: 10000 */
	int qk_norm;              /* RMSNorm of each head's q and k (Qwen3), before the rotation */
	int untied;               /* 1: a separate output head */
	int no_bias;              /* 1: no biases on linear layers (Llama, Qwen3); MODEL_LLAMA with 0: q/k/v biases */
	double norm_eps;          /* 0: 1e-5 */
} model_config;

enum { MODEL_GPT2, MODEL_LLAMA };
enum { MODEL_LAYERNORM, MODEL_RMSNORM };
enum { MODEL_GELU, MODEL_SWIGLU, MODEL_RELU2 };

/* The names of the family, norm and mlp values ("gpt2", "llama";
 * "layernorm", "rmsnorm"; "gelu", "swiglu", "relu2"): NULL for a value
 * that is none of them; and back, -1 for a name that is none of them. */
const char *model_family_name(int family);
const char *model_norm_name(int norm);
const char *model_mlp_name(int mlp);
int model_family_parse(const char *name);
int model_norm_parse(const char *name);
int model_mlp_parse(const char *name);

/* The sizes the zero values stand for. */
int model_kv_heads(const model_config *c);
int model_head_dim(const model_config *c);
int model_ff(const model_config *c);

#define MODEL_LAYERS_MAX 256
#define MODEL_EMBD_MAX 65536
#define MODEL_CTX_MAX (1 << 20)
#define MODEL_VOCAB_MAX (1 << 24)

/* "dN": N layers of GPT-2 shape.  d12, d24, d36 and d48 are GPT-2 small,
 * medium, large and XL (768/1024/1280/1600 channels, head size 64); other
 * N give 64 N channels in N heads.  Sets layers, channels and heads only.
 * Modern presets of N layers, 64 N channels (family MODEL_LLAMA, RMSNorm,
 * rotary positions, no biases):
 *   "llama-dN"   Llama 3: N heads of 64, N/2 key/value heads (N even;
 *                else N), SwiGLU of 8/3 C rounded up to a multiple of 64,
 *                theta 500000, eps 1e-5, untied head
 *   "qwen3-dN"   Qwen3: N heads of 128 (twice the channels), N/2
 *                key/value heads (N even; else N), QK-norm, SwiGLU of 3C,
 *                theta 1000000, eps 1e-6, tied head
 *   "modern-dN"  nanochat-like: N heads of 64, ReLU squared of 4C,
 *                QK-norm, theta 10000, eps 1e-5, untied head
 * Sets every field but n_ctx and n_vocab, which it leaves as they were.
 * Returns 0, or -1 for a name that is not a preset. */
int model_config_preset(const char *name, model_config *c);
/* Returns 0 if c describes a model this code can build, or -1 with the
 * reason in err. */
int model_config_check(const model_config *c, char *err, size_t errlen);

typedef struct model_tensor {
	char name[64];
	int ndim;
	int64_t shape[2];
	size_t offset, numel;       /* in elements, within the parameter buffer */
	int decay;                  /* 1 for the blocks' matrices, 0 for biases, norms, embeddings and the head */
	int out_in;                 /* 1 for a linear weight stored [OUT, IN] (nn.Linear), 0 for [IN, OUT] */
} model_tensor;

typedef struct model model;

model *model_new(const model_config *c, const kern_ops *k);
void model_free(model *m);                       /* accepts NULL */
const model_config *model_cfg(const model *m);
const kern_ops *model_kernels(const model *m);    /* the table it runs on */

/* The parameters and gradients are in the backend's memory (kernels.h):
 * for the kernels, the table's copies and a communicator that works on
 * that memory.  Host code reads or writes them in place only through
 * KERN_HOST(model_kernels(m), ...), valid on a backend with host_memory. */
size_t model_nparams(const model *m);
real *model_params(model *m);
real *model_grads(model *m);                     /* allocated at first use, zeroed */
/* The table's mem_alloc(bytes) that never returns NULL: out of memory, it
 * calls util_oom() as xmalloc does. */
void *model_mem_alloc(const kern_ops *k, size_t bytes);
size_t model_ntensors(const model *m);
const model_tensor *model_tensor_at(const model *m, size_t i);
const model_tensor *model_tensor_find(const model *m, const char *name);   /* NULL if none */

/* GPT-2's initialisation, from seed alone, for every family and option:
 * weights, embeddings and an untied head N(0, 0.02), the two residual
 * projections of each block (c_proj, or o_proj and down_proj)
 * N(0, 0.02 / sqrt(2 n_layer)), biases 0, norm weights (QK-norm's too) 1.
 * Host code: on a backend with host_memory (as model_grow_vocab() and the
 * GPT-2 family's model_round_weights()). */
void model_init(model *m, uint64_t seed);

/* A copy of m with n_vocab rows of token embedding (n_vocab above m's):
 * every tensor the same, the new rows the mean of the old ones, so that a
 * token the model never saw starts as the average token (and, through the
 * tied head, with the average logit); an untied head grows alike.  Used when chat data brings its
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
 * with targets, until model_backward(): their softmax (at the temperature).
 * These, the losses and model_decode()'s rows are in the backend's memory:
 * the host reads them through KERN_HOST(). */
const real *model_logits(const model *m);
/* After a forward pass with targets: -log p(target) at each position. */
const real *model_losses(const model *m);

/* Incremental decoding.  A cache holds the keys and values of `slots`
 * sequences of up to maxlen positions (maxlen <= n_ctx): n_kv_head heads
 * of head_dim each (with grouped-query attention fewer than the query
 * heads), keys after QK-norm and the rotation.  model_decode()
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

/* Round the parameters the decoding products read (the matrices of each
 * block and the head: the tied embedding, or the untied lm_head) to what
 * `weights` stores, in place:
 * the forward pass then computes what decoding with that storage does. */
void model_round_weights(model *m, int weights);
/* "f32", "bf16", "int8" <-> KERN_F32, KERN_BF16, KERN_I8; -1 if unknown. */
int model_weights_parse(const char *name);
const char *model_weights_name(int weights);

/* Floating-point operations of one forward pass over B x T tokens, as this
 * code performs them (matrix products, attention's causal half; norms,
 * activations and rotations not counted).  A
 * training step (forward and backward) is three times as many. */
double model_forward_flops(const model_config *c, int B, int T);

#endif

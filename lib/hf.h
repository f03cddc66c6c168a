/* hf.h: Hugging Face model directories, read and written.
 *
 * A model directory holds config.json (the architecture and its sizes),
 * the weights as one model.safetensors or as several shards named by
 * model.safetensors.index.json ("weight_map": tensor name -> file), and
 * where present tokenizer.json (the model's tokenizer) and
 * generation_config.json (bos_token_id, eos_token_id).
 *
 * Reading maps the safetensors files (mmap), checks every tensor against
 * the configuration (present, of the shape the config gives, F32, BF16 or
 * F16) and copies or converts it into the model's parameter buffer, which
 * the model owns: F32 is copied from the mapping once, BF16 and F16 are
 * converted exactly (subnormals, infinities and NaN included); nothing is
 * read into an intermediate copy.  A tokenizer.json beside the weights is
 * the model's tokenizer, and its ids must fit the embedding.
 *
 * The architectures are a table (hf.c): config.json's architectures[0]
 * (else model_type) picks the entry, which maps config.json to a
 * model_config and back and names the tensors.  GPT2LMHeadModel,
 * LlamaForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM are read and
 * written.  GPT-2 files name tensors with or without "transformer.", may
 * leave out the tied lm_head.weight, and may carry the attention mask
 * buffers (.attn.bias, .attn.masked_bias), which are ignored.  The Llama
 * family's files hold the model's own names (model.h, MODEL_LLAMA); a
 * tied one may leave out lm_head.weight, and older ones carry
 * .rotary_emb.inv_freq buffers, which are ignored.  Its config.json
 * gives every option: grouped-query attention (num_key_value_heads),
 * head_dim (Qwen3 without one: 128), intermediate_size, rope_theta (or
 * rope_parameters.rope_theta), rms_norm_eps, tie_word_embeddings, Qwen2's
 * q/k/v biases, Qwen3's QK-norm.  Refused, naming the key: a rope_scaling
 * or rope_parameters whose type is not "default" (Llama 3.1's "llama3"
 * among them), attention_bias true outside Qwen2 (a bias on o_proj too),
 * mlp_bias true, use_sliding_window true, layer_types other than
 * full_attention, hidden_act other than silu.  With rotary positions the
 * weights hold no table of positions: max_position_embeddings bounds the
 * sequences only, and a model is read with at most HF_CTX_CAP of them
 * (n_ctx sizes the rotation's table, n_ctx x head_dim numbers, and bounds
 * what one forward pass or one decoding cache may hold).
 *
 * Writing (hf_save) makes the directory under a temporary name beside it
 * and renames it into place, so that no directory that looks finished is
 * left by a failure.
 *
 * Errors go to the caller's buffer (the problem, naming the file or the
 * tensor; the directory is the caller's to name).  Ownership: hf_model
 * belongs to the caller (hf_close accepts NULL); strings it returns point
 * into it. */
#ifndef SLUICE_HF_H
#define SLUICE_HF_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "safetensors.h"

#define HF_EOS_MAX 4
/* The most positions a model with rotary positions is read with (its
 * max_position_embeddings above it is cut to this). */
#define HF_CTX_CAP 4096

/* Token ids the configuration names (config.json, then
 * generation_config.json over it). */
typedef struct hf_ids {
	int has_bos;
	uint32_t bos;
	int n_eos;
	uint32_t eos[HF_EOS_MAX];
} hf_ids;

typedef struct hf_model hf_model;

/* Open the directory: config.json, generation_config.json, the index and
 * the safetensors files' headers (mapped, checked as safetensors).
 * Returns NULL with the problem in err ("config.json: ...", "architecture
 * X: not supported", "model-00002-of-00002.safetensors (in the index): No
 * such file or directory"), or with errno ENOENT and err "no config.json"
 * when dir holds no config.json. */
hf_model *hf_open(const char *dir, char *err, size_t errlen);
void hf_close(hf_model *h);

const model_config *hf_config(const hf_model *h);
const char *hf_arch(const hf_model *h);          /* "GPT2LMHeadModel" */
const hf_ids *hf_token_ids(const hf_model *h);
/* The directory when it holds a tokenizer.json (the name tok_load() takes),
 * else NULL. */
const char *hf_tokenizer(const hf_model *h);

/* The model, every tensor checked and converted; the tokenizer, if any,
 * loaded and checked against the embedding.  Returns NULL with err
 * ("tensor h.0.attn.c_attn.weight is missing", "tensor wte.weight: shape
 * [100, 32], the config gives [320, 32]", "tensor ...: dtype I64 (weights
 * are F32, BF16 or F16)", "tokenizer.json: ids up to 50256 do not fit the
 * 320 rows of the embedding"). */
model *hf_build(hf_model *h, const kern_ops *k, char *err, size_t errlen);

/* What hf_save() writes. */
typedef struct hf_save_opts {
	st_dtype dtype;             /* ST_F32 or ST_BF16 */
	const char *tokenizer;      /* a tokenizer.json file, or a directory holding one, to copy; NULL: none */
	hf_ids ids;                 /* bos and eos for config.json and generation_config.json */
} hf_save_opts;

/* Whether a model of this config can be written: GPT-2, or a Llama-family
 * model that LlamaForCausalLM (no biases), Qwen2ForCausalLM (q/k/v
 * biases) or Qwen3ForCausalLM (QK-norm) expresses, with RMSNorm, SwiGLU
 * and rotary positions.  Returns 0, or -1 with err naming the option none
 * of them has ("mlp relu2: ..."). */
int hf_save_check(const model_config *c, char *err, size_t errlen);

/* Write m as a Hugging Face model directory dir: config.json,
 * generation_config.json, model.safetensors and, when o->tokenizer names
 * one, tokenizer.json.  An existing dir is replaced only when it holds
 * nothing but such files (a model written before); otherwise it is
 * refused.  A model hf_save_check() refuses is refused before anything is
 * written.  The Llama family's config.json has max_position_embeddings of
 * the model's n_ctx.  Returns 0, or -1 with err. */
int hf_save(const char *dir, model *m, const hf_save_opts *o, char *err, size_t errlen);

/* config.json's text to a model_config and the token ids it names: for
 * the fuzzer and the tests; hf_open() calls it.  arch gets the
 * architecture's name (size at least 64). */
int hf_parse_config(const char *json, size_t len, model_config *c, hf_ids *ids, char *arch, char *err,
		    size_t errlen);
/* generation_config.json's bos_token_id and eos_token_id over ids. */
int hf_parse_generation(const char *json, size_t len, hf_ids *ids, char *err, size_t errlen);
/* model.safetensors.index.json's weight_map: calls fn(ctx, tensor, file)
 * for each entry, in order; a file must be a plain name in the directory
 * (no '/', not "." or "..").  Returns 0, or -1 with err. */
int hf_parse_index(const char *json, size_t len, void (*fn)(void *ctx, const char *tensor, const char *file),
		   void *ctx, char *err, size_t errlen);

/* Whether a tensor of a GPT-2 file is one of the attention mask buffers
 * older files carry (h.N.attn.bias, h.N.attn.masked_bias), which the model
 * does without. */
int hf_gpt2_buffer(const char *name);

/* Exact conversions of n values. */
void hf_bf16_to_f32(const uint8_t *src, float *dst, size_t n);   /* little-endian bf16 */
void hf_f16_to_f32(const uint8_t *src, float *dst, size_t n);    /* little-endian IEEE half */
/* Round to nearest even (NaN stays NaN) into little-endian bf16. */
void hf_f32_to_bf16(const float *src, uint8_t *dst, size_t n);

#endif

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
 * model_config and back and names the tensors.  GPT2LMHeadModel is read
 * and written; LlamaForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM
 * are parsed and refused until the model has their options.  GPT-2 files
 * name tensors with or without "transformer.", may leave out the tied
 * lm_head.weight, and may carry the attention mask buffers (.attn.bias,
 * .attn.masked_bias), which are ignored.
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

/* Write m as a Hugging Face model directory dir: config.json,
 * generation_config.json, model.safetensors and, when o->tokenizer names
 * one, tokenizer.json.  An existing dir is replaced only when it holds
 * nothing but such files (a model written before); otherwise it is
 * refused.  Returns 0, or -1 with err. */
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

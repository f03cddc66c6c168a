/* ckpt.h: model checkpoints (safetensors) and their optimizer state, and
 * llm.c's gpt2_*.bin checkpoints.
 *
 * A checkpoint is a safetensors file of F32 tensors under Hugging Face
 * GPT-2 names (model.h), whose __metadata__ holds, as strings:
 *
 *   format     "pt" (what Hugging Face loaders expect)
 *   sluice     the version that wrote it
 *   config     {"n_layer":L,"n_embd":C,"n_head":H,"n_ctx":T,"n_vocab":V}, then
 *              the model_config options that are not 0 (model.h), under
 *              their field names: "family", "norm" and "mlp" as names
 *              ("llama", "rmsnorm", "swiglu", ...), the rest as numbers;
 *              a config without them is GPT-2's, an unknown name is
 *              refused
 *   tokenizer  the vocabulary the model reads
 *   step, train_tokens, train_flops   optimizer steps, tokens and FLOPs so far
 *   seed       the initialisation seed
 *   dataset    the manifest hash of the data last trained on
 *   chat_template  the template of the chat data it was trained on (only
 *              when it was; its control tokens' ids follow from it and the
 *              tokenizer, doc/chat.md)
 *   params_xxh3  XXH3-64 of the parameter bytes, tying the state file to it
 *   bos_token_id, eos_token_id  the ids a Hugging Face model it came from
 *              names (eos: several separated by commas), where it does
 *
 * The optimizer state sits beside it in CKPT.optim, also safetensors:
 * tensors "adam.m" and "adam.v" in parameter order, metadata step,
 * params_xxh3, the schedule, and where the data was left (data_stream:
 * "DATASET/SPLIT/SHARD" of the stream being read, data_records: records
 * consumed from it).  The state belongs to the checkpoint whose
 * params_xxh3 and step it carries.
 *
 * The two are saved as a pair, so that a reader finds the old pair or the
 * new one whatever stops the save (a kill, a full disk, a failed sync):
 *   1. both files are written to temporary names (CKPT.tmp.* and
 *      CKPT.optim.tmp.*, random suffixes) and synced; a failure removes
 *      them;
 *   2. the state is renamed to CKPT.optim.next;
 *   3. the model is renamed to CKPT;
 *   4. CKPT.optim.next is renamed to CKPT.optim.
 * ckpt_load_state() takes CKPT.optim.next when it belongs to CKPT (the
 * save stopped between 3 and 4) and finishes the rename; otherwise
 * CKPT.optim.  Temporary files a killed save left are removed by the next
 * save. */
#ifndef SLUICE_CKPT_H
#define SLUICE_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "hf.h"
#include "model.h"
#include "optim.h"
#include "tokenizer.h"

typedef struct ckpt_info {
	model_config config;
	char tokenizer[TOK_NAME_MAX];
	char dataset[24];
	char chat_template[16];
	uint64_t seed;
	int64_t step;
	uint64_t tokens;
	double flops;
	hf_ids ids;                 /* bos and eos ids, where the model names them */
} ckpt_info;

/* Where training stopped in its input, kept with the optimizer state. */
typedef struct ckpt_state {
	char data_stream[96];
	uint64_t data_records;
	optim_opts opts;            /* the schedule and hyperparameters in use */
} ckpt_state;

/* Write m with info's metadata to path.  Returns 0, or -1 with err. */
int ckpt_save(const char *path, model *m, const ckpt_info *info, char *err, size_t errlen);
/* Read a checkpoint: ours, or a Hugging Face GPT-2 safetensors file
 * (names optionally prefixed "transformer."; config from the shapes, head
 * size 64 unless *info->config.n_head is set beforehand).  Returns the
 * model, with info filled in, or NULL with err. */
model *ckpt_load(const char *path, const kern_ops *k, ckpt_info *info, char *err, size_t errlen);
/* The same from the file's bytes in memory (tests, fuzzing). */
model *ckpt_parse(const uint8_t *p, size_t n, const kern_ops *k, ckpt_info *info, char *err, size_t errlen);

/* Any checkpoint: a directory is a Hugging Face model (hf.h: info gets its
 * tokenizer, the directory when it holds a tokenizer.json, and its token
 * ids); a file is llm.c's when it starts with llm.c's magic, else
 * safetensors.  Returns the model or NULL with err; info is filled in as
 * by the loaders, n_head read from it beforehand. */
model *ckpt_load_any(const char *path, const kern_ops *k, ckpt_info *info, char *err, size_t errlen);

/* The optimizer state file: CKPT.optim (the caller frees the name). */
char *ckpt_state_path(const char *ckpt);
/* Write m with info's metadata to ckpt and o with s to CKPT.optim, as a
 * pair (above).  Returns 0, or -1 with err ("FILE: problem") and the old
 * pair left as it was. */
int ckpt_save_pair(const char *ckpt, model *m, const ckpt_info *info, optim *o, const ckpt_state *s, char *err,
		   size_t errlen);
/* Read the state of checkpoint ckpt, loaded as m with info.  Returns the
 * optimizer, or NULL with err: no state file (errno ENOENT), or one that
 * does not belong to m at info->step. */
optim *ckpt_load_state(const char *ckpt, model *m, const ckpt_info *info, ckpt_state *s, char *err, size_t errlen);

/* llm.c's checkpoint: a header of 256 int32 (magic 20240326, version 3
 * for fp32 or 5 for bf16, max_seq_len, vocab_size, num_layers, num_heads,
 * channels, padded_vocab_size), then the parameters grouped by kind across
 * layers with linear weights [OUT, IN].  Export writes version 3 with the
 * vocabulary padded to a multiple of 128 by zero rows; import reads 3 and 5
 * and drops the padding rows.  Only a GPT-2 model (family MODEL_GPT2) can
 * be exported: others are refused with err. */
int ckpt_save_llmc(const char *path, model *m, char *err, size_t errlen);
model *ckpt_load_llmc(const char *path, const kern_ops *k, ckpt_info *info, char *err, size_t errlen);
/* The same from bytes in memory, for tests and fuzzing. */
model *ckpt_parse_llmc(const uint8_t *p, size_t n, const kern_ops *k, ckpt_info *info, char *err, size_t errlen);

#define LLMC_CKPT_MAGIC 20240326

#endif

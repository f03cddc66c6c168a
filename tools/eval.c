/* sluice-eval: measure a checkpoint -- loss and bits per byte, KL to a
 * reference, multiple-choice accuracy, per-document log-likelihood -- and
 * report it with the training compute behind it. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "ckpt.h"
#include "cli.h"
#include "eval.h"
#include "input.h"
#include "sample.h"
#include "verify.h"
#include "json.h"
#include "model.h"
#include "output.h"
#include "seqs.h"
#include "stream.h"
#include "tokenizer.h"
#include "util.h"

enum { MODE_NONE, MODE_LOSS, MODE_KL, MODE_MC, MODE_SCORE, MODE_GSM8K, MODE_REF };
enum { OPT_LOSS = 256, OPT_KL, OPT_MC, OPT_SCORE, OPT_GSM8K, OPT_SAMPLES, OPT_TEMPERATURE, OPT_MAX_NEW, OPT_BASELINE,
	OPT_TOKENIZER, OPT_LIMIT, OPT_CHAT, OPT_REF_LOGPROBS, OPT_WEIGHTS };

static int weights = KERN_F32; /* --weights: storage of the products' weights */

struct args {
	cli_common co;
	const char *ckpt, *ref, *mc, *gsm8k, *baseline, *tokenizer, *chat;
	int mode, batch, samples, max_new;
	double temperature;
	uint64_t limit;
	char **files;
	int nfiles;
};

/* seqs_open(), saying why it failed. */
static seqs *open_seqs(const char *path)
{
	seqs *s = seqs_open(path);
	if (!s)
		cli_error(path, "cannot open: %s", strerror(errno));
	return s;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: sluice-eval -m CKPT MODE [OPTION]... [FILE]...\n"
"Measure a checkpoint and print one JSON object with the figures, their\n"
"counts and the checkpoint's training tokens and FLOPs.\n"
"\n"
"Modes:\n"
"      --loss            mean loss per target, perplexity and bits per byte over\n"
"                        the sequences in FILEs (sluice-shard output)\n"
"      --kl REF          KL(model || REF) per target over the sequences: mean,\n"
"                        standard deviation, maximum\n"
"      --mc FILE         multiple-choice accuracy on HellaSwag-style JSON lines\n"
"                        (ctx, endings, label): acc by total log-probability of\n"
"                        each ending, acc_norm by log-probability per byte\n"
"      --gsm8k FILE      GSM8K exact match: generate an answer to each question\n"
"                        of FILE (JSON lines with question and answer) and compare\n"
"                        its final number with the one after the answer's ####\n"
"      --score           add logprob, scored_tokens and ppl to each document of\n"
"                        FILEs (records with tokens, or text to tokenize) and\n"
"                        write them on, as records (-J: JSON lines)\n"
"      --ref-logprobs    add ref_logprobs to each rollout of FILEs (records with\n"
"                        prompt_tokens and completion_tokens, as sluice-sample\n"
"                        writes them): the model's log-probability of each\n"
"                        completion token, at temperature 1; written on as\n"
"                        --score's are, with the stream header\n"
"Options:\n"
"  -m, --model CKPT      the checkpoint (safetensors, or llm.c's gpt2_*.bin), or\n"
"                        a Hugging Face model directory\n"
"      --baseline CKPT   also measure this earlier checkpoint on the same data,\n"
"                        and report the gain per PFLOP of training between them\n"
"  -B, --batch N         sequences per forward pass (default 8)\n"
"      --tokenizer NAME  for a checkpoint that does not name its own\n"
"      --limit N         --mc, --gsm8k: the first N items only\n"
"      --weights W       f32 (default), bf16 or int8: evaluate the model with\n"
"                        its matrices rounded as sluice-sample --weights W\n"
"                        stores them (named in the report)\n"
"      --samples K       --gsm8k: K answers a question, for pass@K (default 1)\n"
"      --temperature X   --gsm8k: 0 is greedy (default 0; 1 with --samples)\n"
"      --max-new N       --gsm8k: tokens an answer may take (default 256)\n"
"      --chat[=TEMPLATE] --gsm8k: ask each question as a user message of a chat\n"
"                        (default chatml); the answer ends at the end of its turn\n"
"  -o, --output FILE     write there instead of stdout\n"
"  -J, --jsonl           --score, --ref-logprobs: JSON lines out\n"
"  -f, --force           --score, --ref-logprobs: binary to a terminal all the\n"
"                        same\n"
"  -j, --threads N       threads (default: OMP_NUM_THREADS, else all cores)\n"
"      --quiet           no progress line, summary or warnings\n"
"  -h, --help            show this help\n"
"  -V, --version         show the version\n"
"\n"
"Exit status: 0 ok, 1 data or I/O error, 2 usage error.\n");
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "loss", no_argument, NULL, OPT_LOSS },
		{ "kl", required_argument, NULL, OPT_KL },
		{ "mc", required_argument, NULL, OPT_MC },
		{ "score", no_argument, NULL, OPT_SCORE },
		{ "ref-logprobs", no_argument, NULL, OPT_REF_LOGPROBS },
		{ "gsm8k", required_argument, NULL, OPT_GSM8K },
		{ "chat", optional_argument, NULL, OPT_CHAT },
		{ "samples", required_argument, NULL, OPT_SAMPLES },
		{ "temperature", required_argument, NULL, OPT_TEMPERATURE },
		{ "max-new", required_argument, NULL, OPT_MAX_NEW },
		{ "baseline", required_argument, NULL, OPT_BASELINE },
		{ "batch", required_argument, NULL, 'B' },
		{ "tokenizer", required_argument, NULL, OPT_TOKENIZER },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "weights", required_argument, NULL, OPT_WEIGHTS },
		CLI_OPTION_OUTPUT,
		CLI_OPTION_JSONL,
		CLI_OPTION_FORCE,
		CLI_OPTION_THREADS,
		CLI_OPTION_QUIET,
		CLI_OPTIONS_END,
	};
	a->batch = 8;
	a->samples = 1;
	a->max_new = 256;
	a->temperature = -1;
	int c, r, modes = 0;
	while ((c = cli_getopt(argc, argv, "m:B:o:Jfj:hV", opts)) != -1) {
		int bad = 0;
		switch (c) {
		case 'm': a->ckpt = optarg; break;
		case OPT_LOSS: a->mode = MODE_LOSS; modes++; break;
		case OPT_KL: a->mode = MODE_KL; a->ref = optarg; modes++; break;
		case OPT_MC: a->mode = MODE_MC; a->mc = optarg; modes++; break;
		case OPT_SCORE: a->mode = MODE_SCORE; modes++; break;
		case OPT_REF_LOGPROBS: a->mode = MODE_REF; modes++; break;
		case OPT_GSM8K: a->mode = MODE_GSM8K; a->gsm8k = optarg; modes++; break;
		case OPT_SAMPLES: bad = cli_parse_int(optarg, 1, 1 << 16, &a->samples); break;
		case OPT_TEMPERATURE: bad = cli_parse_double(optarg, 0, 100, &a->temperature); break;
		case OPT_MAX_NEW: bad = cli_parse_int(optarg, 1, MODEL_CTX_MAX, &a->max_new); break;
		case OPT_BASELINE: a->baseline = optarg; break;
		case OPT_CHAT: a->chat = optarg ? optarg : CHAT_DEFAULT; break;
		case 'B': bad = cli_parse_int(optarg, 1, 1 << 16, &a->batch); break;
		case OPT_TOKENIZER: a->tokenizer = optarg; break;
		case OPT_LIMIT: bad = cli_parse_u64(optarg, 1, UINT64_MAX, 0, &a->limit); break;
		case OPT_WEIGHTS:
			if ((weights = model_weights_parse(optarg)) < 0)
				return cli_bad_value(opts, c, optarg, "f32, bf16 or int8");
			break;
		default:
			if ((r = cli_common_option(&a->co, c, optarg, opts, usage)) != 0)
				return r;
		}
		if (bad)
			return cli_bad_value(opts, c, optarg, NULL);
	}
	if (!a->ckpt)
		return cli_usage_error("no checkpoint (-m CKPT)");
	if (modes != 1)
		return cli_usage_error("give one mode: --loss, --kl REF, --mc FILE, --gsm8k FILE, --score or --ref-logprobs");
	if (a->temperature < 0)
		a->temperature = a->samples > 1 ? 1 : 0;
	if (a->chat && a->mode != MODE_GSM8K)
		return cli_usage_error("--chat goes with --gsm8k");
	if (a->baseline && (a->mode == MODE_KL || a->mode == MODE_SCORE || a->mode == MODE_REF))
		return cli_usage_error("--baseline goes with --loss, --mc and --gsm8k");
	a->files = cli_inputs(argc, argv, optind, &a->nfiles);
	if (a->baseline && a->mode == MODE_LOSS)
		for (int i = 0; i < a->nfiles; i++)
			if (!strcmp(a->files[i], "-"))
				return cli_usage_error("--baseline reads the data twice: name it as files, not stdin");
	return 0;
}

/* Every model evaluated is read with the weights --weights stores: the
 * forward pass then computes what decoding with that storage does. */
static model *load(const char *path, ckpt_info *info)
{
	char err[512];
	memset(info, 0, sizeof(*info));
	model *m = ckpt_load_any(path, &kern_cpu, info, err, sizeof(err));
	if (!m)
		cli_error(path, "%s", err);
	else
		model_round_weights(m, weights);
	return m;
}

static tok_vocab *vocab_of(const struct args *a, const ckpt_info *info, int required)
{
	const char *name = a->tokenizer ? a->tokenizer : info->tokenizer;
	if (!name[0]) {
		if (required)
			cli_error(a->ckpt, "the checkpoint names no tokenizer: give --tokenizer");
		return NULL;
	}
	char err[512];
	tok_vocab *v = tok_load(name, NULL, err, sizeof(err));
	if (!v && (required || !a->co.quiet))
		cli_error(NULL, "tokenizer %s: %s", name, err);
	return v;
}

static void put_info(buf *o, const char *key, const char *path, const ckpt_info *info)
{
	char tmp[512];
	buf_adds(o, key);
	(void)json_put_string(o, path, strlen(path));
	snprintf(tmp, sizeof(tmp), ", \"step\": %lld, \"train_tokens\": %llu, \"train_flops\": %.6g, \"weights\": \"%s\"",
		 (long long)info->step, (unsigned long long)info->tokens, info->flops, model_weights_name(weights));
	buf_adds(o, tmp);
}

static int emit(const struct args *a, buf *o)
{
	buf_adds(o, "}\n");
	FILE *f = a->co.output ? fopen(a->co.output, "w") : stdout;
	if (!f) {
		cli_error(a->co.output, "cannot create: %s", strerror(errno));
		return EXIT_DATA;
	}
	int bad = fwrite(o->data, 1, o->len, f) != o->len;
	if (a->co.output)
		bad |= fclose(f) != 0;
	if (bad) {
		cli_error(a->co.output ? a->co.output : "-", "write error: %s", strerror(errno));
		return EXIT_DATA;
	}
	return EXIT_OK;
}

/* Loss over every input; fills r. */
static int loss_over(const struct args *a, model *m, const tok_vocab *v, eval_loss_result *r)
{
	memset(r, 0, sizeof(*r));
	double sum = 0;
	for (int i = 0; i < a->nfiles; i++) {
		seqs *s = open_seqs(a->files[i]);
		if (!s)
			return EXIT_DATA;
		seqs_set_model(s, (uint64_t)model_cfg(m)->n_vocab, (uint64_t)model_cfg(m)->n_ctx);
		eval_loss_result e;
		int rc = eval_loss(m, s, a->batch, v, &e);
		if (rc < 0)
			cli_error(seqs_path(s), "%s", seqs_error(s));
		seqs_close(s);
		if (rc < 0)
			return EXIT_DATA;
		sum += e.loss * (double)e.targets;
		r->targets += e.targets;
		r->sequences += e.sequences;
		r->bytes += e.bytes;
	}
	r->loss = r->targets ? sum / (double)r->targets : 0;
	return EXIT_OK;
}

static void put_loss(buf *o, const eval_loss_result *r, int bytes)
{
	char tmp[512];
	snprintf(tmp, sizeof(tmp), ", \"sequences\": %llu, \"targets\": %llu, \"loss\": %.6f, \"perplexity\": %.6g",
		 (unsigned long long)r->sequences, (unsigned long long)r->targets, r->loss, exp(r->loss));
	buf_adds(o, tmp);
	if (bytes && r->bytes) {
		snprintf(tmp, sizeof(tmp), ", \"bytes\": %llu, \"bits_per_byte\": %.6f", (unsigned long long)r->bytes,
			 r->loss * (double)r->targets / M_LN2 / (double)r->bytes);
		buf_adds(o, tmp);
	}
}

/* Score gained (lower loss, higher accuracy) per PFLOP between them. */
static void put_gain(buf *o, const char *key, double gain, const ckpt_info *now, const ckpt_info *base)
{
	char tmp[256];
	double pflops = (now->flops - base->flops) / 1e15;
	if (pflops > 0)
		snprintf(tmp, sizeof(tmp), ", \"%s\": %.6g, \"pflops_between\": %.6g", key, gain / pflops, pflops);
	else
		snprintf(tmp, sizeof(tmp), ", \"%s\": null, \"pflops_between\": %.6g", key, pflops);
	buf_adds(o, tmp);
}

static int run_kl(const struct args *a, model *m, const ckpt_info *info)
{
	ckpt_info ri;
	model *ref = load(a->ref, &ri);
	if (!ref)
		return EXIT_DATA;
	int ret = EXIT_DATA;
	if (model_cfg(ref)->n_vocab != model_cfg(m)->n_vocab) {
		cli_error(a->ref, "vocabulary of %d tokens; the model has %d", model_cfg(ref)->n_vocab, model_cfg(m)->n_vocab);
		goto out;
	}
	eval_kl_result r = { 0 }, e;
	double sum = 0, sum2 = 0;
	for (int i = 0; i < a->nfiles; i++) {
		seqs *s = open_seqs(a->files[i]);
		if (!s)
			goto out;
		int ctx = model_cfg(m)->n_ctx < model_cfg(ref)->n_ctx ? model_cfg(m)->n_ctx : model_cfg(ref)->n_ctx;
		seqs_set_model(s, (uint64_t)model_cfg(m)->n_vocab, (uint64_t)ctx);
		int bad = eval_kl(m, ref, s, a->batch, &e) < 0;
		if (bad)
			cli_error(seqs_path(s), "%s", seqs_error(s));
		seqs_close(s);
		if (bad)
			goto out;
		double k = (double)e.targets;
		sum += e.mean * k;
		sum2 += e.std * e.std * (k > 1 ? k - 1 : 0) + e.mean * e.mean * k;
		r.targets += e.targets;
		r.max = e.max > r.max ? e.max : r.max;
	}
	double k = (double)r.targets;
	r.mean = k ? sum / k : 0;
	r.std = k > 1 ? sqrt(fmax(0, (sum2 - sum * sum / k) / (k - 1))) : 0;
	buf o = { 0 };
	char tmp[256];
	put_info(&o, "{\"mode\": \"kl\", \"model\": ", a->ckpt, info);
	put_info(&o, ", \"reference\": {\"model\": ", a->ref, &ri);
	snprintf(tmp, sizeof(tmp), "}, \"targets\": %llu, \"kl_mean\": %.6g, \"kl_std\": %.6g, \"kl_max\": %.6g",
		 (unsigned long long)r.targets, r.mean, r.std, r.max);
	buf_adds(&o, tmp);
	ret = emit(a, &o);
	buf_release(&o);
out:
	model_free(ref);
	return ret;
}

struct mc_result {
	uint64_t items, correct, correct_norm;
};

/* One HellaSwag-style item: the endings scored after the context. */
static int mc_item(model *m, tok_state *ts, const rec *r, struct mc_result *res, char *err, size_t errlen)
{
	const rec_field *ctx = rec_get(r, "ctx"), *end = rec_get(r, "endings"), *lab = rec_get(r, "label");
	int64_t label;
	if (!ctx || ctx->type != REC_STR || !ctx->len) {
		snprintf(err, errlen, "no \"ctx\" string");
		return -1;
	}
	if (!end || end->type != REC_JSON) {
		snprintf(err, errlen, "no \"endings\" array");
		return -1;
	}
	if (!lab || (rec_get_int(r, "label", &label) < 0 &&
		     !(lab->type == REC_STR && lab->len == 1 && lab->val[0] >= '0' && lab->val[0] <= '9'))) {
		snprintf(err, errlen, "\"label\" is not an index");
		return -1;
	}
	if (lab->type == REC_STR)
		label = lab->val[0] - '0';
	buf e = { 0 }, text = { 0 };
	size_t n;
	char perr[256];
	int rc = -1;
	if (json_parse_strings((const char *)end->val, end->len, &e, &n, perr, sizeof(perr)) < 0) {
		snprintf(err, errlen, "\"endings\": %s", perr);
		goto out;
	}
	if (n < 2 || label < 0 || (uint64_t)label >= n) {
		snprintf(err, errlen, "%zu endings and label %lld: need 2 or more and a label among them", n, (long long)label);
		goto out;
	}
	size_t nctx, replaced;
	if (tok_encode(ts, ctx->val, ctx->len, &replaced, perr, sizeof(perr)) < 0) {
		snprintf(err, errlen, "ctx: %s", perr);
		goto out;
	}
	const uint32_t *ids = tok_ids(ts, &nctx);
	uint32_t *cids = xmalloc((nctx + 1) * sizeof(*cids));
	memcpy(cids, ids, nctx * sizeof(*cids));
	double best = -INFINITY, best_norm = -INFINITY;
	size_t arg = 0, arg_norm = 0;
	const char *s = (const char *)e.data;
	for (size_t i = 0; i < n; s += strlen(s) + 1, i++) {
		/* The continuation is " " + ending, as the standard harnesses
		 * score it; acc_norm divides by its bytes. */
		buf_reset(&text);
		buf_addc(&text, ' ');
		buf_adds(&text, s);
		size_t ncont;
		if (tok_encode(ts, text.data, text.len, &replaced, perr, sizeof(perr)) < 0) {
			snprintf(err, errlen, "ending %zu: %s", i, perr);
			free(cids);
			goto out;
		}
		const uint32_t *cont = tok_ids(ts, &ncont);
		double lp = eval_continuation_logprob(m, cids, nctx, cont, ncont);
		if (isnan(lp)) {
			snprintf(err, errlen, "ending %zu: %zu tokens, more than the model's context", i, ncont);
			free(cids);
			goto out;
		}
		if (lp > best)
			best = lp, arg = i;
		if (lp / (double)text.len > best_norm)
			best_norm = lp / (double)text.len, arg_norm = i;
	}
	free(cids);
	res->items++;
	res->correct += arg == (size_t)label;
	res->correct_norm += arg_norm == (size_t)label;
	rc = 0;
out:
	buf_release(&e);
	buf_release(&text);
	return rc;
}

static int mc_over(const struct args *a, model *m, const tok_vocab *v, struct mc_result *res)
{
	memset(res, 0, sizeof(*res));
	input *in = cli_input_open(a->mc, INPUT_JSONL);
	if (!in)
		return EXIT_DATA;
	tok_state *ts = tok_state_new(v);
	rec *r = rec_new();
	char err[512];
	int got, ret = EXIT_OK;
	while ((!a->limit || res->items < a->limit) && (got = input_read(in, r)) == 1) {
		if (mc_item(m, ts, r, res, err, sizeof(err)) < 0) {
			cli_error(a->mc, "line %llu: %s", (unsigned long long)(input_records(in) + input_blank_lines(in)), err);
			ret = EXIT_DATA;
			break;
		}
	}
	if (ret == EXIT_OK && got < 0) {
		cli_error(a->mc, "%s", input_error(in));
		ret = EXIT_DATA;
	}
	if (ret == EXIT_OK && !res->items) {
		cli_error(a->mc, "no items");
		ret = EXIT_DATA;
	}
	rec_free(r);
	tok_state_free(ts);
	input_close(in);
	return ret;
}

static void put_mc(buf *o, const struct mc_result *r)
{
	char tmp[256];
	snprintf(tmp, sizeof(tmp), ", \"items\": %llu, \"correct\": %llu, \"acc\": %.6f, \"correct_norm\": %llu, \"acc_norm\": %.6f",
		 (unsigned long long)r->items, (unsigned long long)r->correct, (double)r->correct / (double)r->items,
		 (unsigned long long)r->correct_norm, (double)r->correct_norm / (double)r->items);
	buf_adds(o, tmp);
}

static int run_score(const struct args *a, model *m, const ckpt_info *info)
{
	tok_vocab *v = NULL;
	tok_state *ts = NULL;
	int status = EXIT_OK, ret = EXIT_OK;
	output *o = output_open(a->co.output, a->co.jsonl ? OUTPUT_JSONL : OUTPUT_RECORDS, NULL, a->co.force, &status);
	if (!o)
		return status;
	rec *r = rec_new(), *w = rec_new();
	uint32_t *ids = NULL;
	size_t cap = 0;
	uint64_t docs = 0;
	int V = model_cfg(m)->n_vocab;
	for (int i = 0; i < a->nfiles && ret == EXIT_OK; i++) {
		input *in = cli_input_open(a->files[i], INPUT_AUTO);
		if (!in) {
			ret = EXIT_DATA;
			break;
		}
		int got;
		char err[512], where[64];
		while (ret == EXIT_OK && (got = input_read(in, r)) == 1) {
			const rec_field *t = rec_get(r, "tokens"), *tx = rec_get(r, "text");
			const uint32_t *tok;
			size_t n, replaced;
			uint64_t rno = input_records(in);
			if (t && t->type == REC_U32S) {
				n = t->len / 4;
				if (cap < n)
					ids = xrealloc(ids, (cap = n) * sizeof(*ids));
				memcpy(ids, t->val, t->len);
				tok = ids;
			} else if (tx && tx->type == REC_STR) {
				if (!ts && !(v = vocab_of(a, info, 1), ts = v ? tok_state_new(v) : NULL)) {
					ret = EXIT_DATA;
					break;
				}
				if (tok_encode(ts, tx->val, tx->len, &replaced, err, sizeof(err)) < 0) {
					cli_error(input_path(in), "record %llu: %s", (unsigned long long)rno, err);
					ret = EXIT_DATA;
					break;
				}
				tok = tok_ids(ts, &n);
			} else {
				cli_error(input_path(in), "record %llu: neither a tokens nor a text field", (unsigned long long)rno);
				ret = EXIT_DATA;
				break;
			}
			for (size_t k = 0; k < n; k++)
				if (tok[k] >= (uint32_t)V) {
					cli_error(input_path(in), "record %llu: token %u is outside the vocabulary of %d",
						  (unsigned long long)rno, tok[k], V);
					ret = EXIT_DATA;
					break;
				}
			if (ret)
				break;
			uint64_t scored;
			double lp = eval_doc_logprob(m, tok, n, &scored);
			rec_copy(w, r);
			int bad = rec_set_float(w, "logprob", lp) < 0 || rec_set_int(w, "scored_tokens", (int64_t)scored) < 0;
			if (scored)
				bad |= rec_set_float(w, "ppl", exp(-lp / (double)scored)) < 0;
			snprintf(where, sizeof(where), "record %llu", (unsigned long long)rno);
			if (bad) {
				cli_error(input_path(in), "%s: too large to add the scores", where);
				ret = EXIT_DATA;
			} else if (output_write(o, w, where) < 0) {
				ret = EXIT_DATA;
			}
			docs++;
		}
		if (ret == EXIT_OK && got < 0) {
			cli_error(input_path(in), "%s", input_error(in));
			ret = EXIT_DATA;
		}
		input_close(in);
	}
	if (output_close(o, ret) < 0)
		ret = EXIT_DATA;
	if (ret == EXIT_OK && !a->co.quiet)
		fprintf(stderr, "%s: scored %llu documents\n", cli_prog(), (unsigned long long)docs);
	free(ids);
	rec_free(r);
	rec_free(w);
	tok_state_free(ts);
	tok_free(v);
	return ret;
}

/* --ref-logprobs: rollouts gathered for one forward pass. */
struct ref_batch {
	rec **r;
	uint32_t **seq;
	size_t *np, *nc, *cap;
	float **lp;
	char (*where)[300];
	size_t n, max;
};

static void ref_batch_init(struct ref_batch *b, size_t max)
{
	b->max = max;
	b->n = 0;
	b->r = xcalloc(max, sizeof(*b->r));
	b->seq = xcalloc(max, sizeof(*b->seq));
	b->lp = xcalloc(max, sizeof(*b->lp));
	b->np = xcalloc(max, sizeof(*b->np));
	b->nc = xcalloc(max, sizeof(*b->nc));
	b->cap = xcalloc(max, sizeof(*b->cap));
	b->where = xcalloc(max, sizeof(*b->where));
	for (size_t i = 0; i < max; i++)
		b->r[i] = rec_new();
}

static void ref_batch_free(struct ref_batch *b)
{
	for (size_t i = 0; i < b->max; i++) {
		rec_free(b->r[i]);
		free(b->seq[i]);
		free(b->lp[i]);
	}
	free(b->r);
	free(b->seq);
	free(b->lp);
	free(b->np);
	free(b->nc);
	free(b->cap);
	free(b->where);
}

/* A u32s field of r, or an error naming it. */
static const rec_field *token_field(const rec *r, const char *name, char *err, size_t errlen)
{
	const rec_field *f = rec_get(r, name);
	if (!f)
		snprintf(err, errlen, "no %s field", name);
	else if (f->type != REC_U32S)
		snprintf(err, errlen, "%s is not an array of token ids (rollouts are read as records: write them without -J)",
			 name);
	else
		return f;
	return NULL;
}

/* Check the rollout in r and add it to b.  Returns 0, or -1 with err. */
static int ref_add(struct ref_batch *b, const rec *r, int V, int n_ctx, char *err, size_t errlen)
{
	const rec_field *pf = token_field(r, "prompt_tokens", err, errlen), *cf;
	if (!pf || !(cf = token_field(r, "completion_tokens", err, errlen)))
		return -1;
	size_t np = pf->len / 4, nc = cf->len / 4, i = b->n;
	if (!np) {
		snprintf(err, errlen, "an empty prompt: the first completion token has nothing to follow");
		return -1;
	}
	if (np + nc > (size_t)n_ctx + 1) {
		snprintf(err, errlen, "prompt and completion make %zu tokens, more than the model's context of %d + 1",
			 np + nc, n_ctx);
		return -1;
	}
	if (b->cap[i] < np + nc) {
		b->cap[i] = np + nc;
		b->seq[i] = xrealloc(b->seq[i], b->cap[i] * sizeof(*b->seq[i]));
		b->lp[i] = xrealloc(b->lp[i], b->cap[i] * sizeof(*b->lp[i]));
	}
	for (size_t k = 0; k < np + nc; k++) {
		uint32_t t = k < np ? rec_u32_at(pf, k) : rec_u32_at(cf, k - np);
		if (t >= (uint32_t)V) {
			snprintf(err, errlen, "token %u at %s position %zu is outside the model's vocabulary of %d", t,
				 k < np ? "prompt" : "completion", k < np ? k : k - np, V);
			return -1;
		}
		b->seq[i][k] = t;
	}
	b->np[i] = np;
	b->nc[i] = nc;
	rec_copy(b->r[i], r);
	b->n++;
	return 0;
}

/* Score the batch and write it.  Returns 0, or -1 after a message. */
static int ref_flush(struct ref_batch *b, model *m, output *o, uint64_t *tokens)
{
	eval_completion_logprobs(m, (const uint32_t *const *)b->seq, b->np, b->nc, b->n, b->lp);
	for (size_t i = 0; i < b->n; i++) {
		if (rec_set(b->r[i], "ref_logprobs", 12, REC_F32S, b->lp[i], b->nc[i] * sizeof(float)) < 0) {
			cli_error(NULL, "%s: too large to add ref_logprobs", b->where[i]);
			return -1;
		}
		if (output_write(o, b->r[i], b->where[i]) < 0)
			return -1;
		*tokens += b->nc[i];
	}
	b->n = 0;
	return 0;
}

static int run_ref(const struct args *a, model *m)
{
	int status = EXIT_OK, ret = EXIT_OK;
	output *o = output_open(a->co.output, a->co.jsonl ? OUTPUT_JSONL : OUTPUT_RECORDS, NULL, a->co.force, &status);
	if (!o)
		return status;
	struct ref_batch b;
	ref_batch_init(&b, (size_t)a->batch);
	rec *r = rec_new();
	buf meta = { 0 };
	int meta_set = 0, V = model_cfg(m)->n_vocab, n_ctx = model_cfg(m)->n_ctx;
	uint64_t records = 0, tokens = 0;
	for (int i = 0; i < a->nfiles && ret == EXIT_OK; i++) {
		input *in = cli_input_open(a->files[i], INPUT_AUTO);
		if (!in) {
			ret = EXIT_DATA;
			break;
		}
		int got, first = 1;
		char err[512];
		while (ret == EXIT_OK && (got = input_read(in, r)) == 1) {
			uint64_t rno = input_records(in);
			if (first) {
				/* The first input's header is the output's; a later
				 * stream must agree with it, as in sluice-cat. */
				size_t ml;
				const char *mt = input_meta(in, &ml);
				first = 0;
				if (!meta_set) {
					buf_add(&meta, mt, ml);
					meta_set = 1;
					if (output_set_meta(o, (const char *)meta.data, meta.len) < 0) {
						ret = EXIT_DATA;
						break;
					}
				} else if (!a->co.jsonl && input_detected(in) == INPUT_RECORDS &&
					   !stream_meta_agree((const char *)meta.data, meta.len, mt, ml, err, sizeof(err))) {
					cli_error(input_path(in), "cannot join the stream written: its header disagrees "
						  "with the first input's: %s", err);
					ret = EXIT_DATA;
					break;
				}
			}
			snprintf(b.where[b.n], sizeof(b.where[b.n]), "%s: record %llu", input_path(in),
				 (unsigned long long)rno);
			if (ref_add(&b, r, V, n_ctx, err, sizeof(err)) < 0) {
				cli_error(NULL, "%s: %s", b.where[b.n], err);
				ret = EXIT_DATA;
				break;
			}
			records++;
			if (b.n == b.max && ref_flush(&b, m, o, &tokens) < 0)
				ret = EXIT_DATA;
		}
		if (ret == EXIT_OK && got < 0) {
			cli_error(input_path(in), "%s", input_error(in));
			ret = EXIT_DATA;
		}
		/* A batch does not outlive its input: its messages name it. */
		if (ret == EXIT_OK && b.n && ref_flush(&b, m, o, &tokens) < 0)
			ret = EXIT_DATA;
		input_close(in);
	}
	if (output_close(o, ret) < 0)
		ret = EXIT_DATA;
	if (ret == EXIT_OK && !a->co.quiet)
		fprintf(stderr, "%s: ref_logprobs of %llu completion tokens in %llu records\n", cli_prog(),
			(unsigned long long)tokens, (unsigned long long)records);
	buf_release(&meta);
	rec_free(r);
	ref_batch_free(&b);
	return ret;
}

/* The prompt a question is asked with (zero-shot), and where an answer
 * stops: at the end-of-text token or where the model starts a new
 * question. */
#define GSM8K_PROMPT_HEAD "Question: "
#define GSM8K_PROMPT_TAIL "\nAnswer:"
static const char *const gsm8k_stops[] = { "\n\nQuestion:", "\nQuestion:" };

struct gsm8k_result {
	uint64_t items, correct, any_correct, extracted, answers;
};

/* One chunk of questions: generate, check, count. */
static int gsm8k_chunk(model *m, const struct args *a, const tok_vocab *v, const chat_template *ct,
		       uint32_t **prompts, size_t *plen, char **refs, size_t n, uint64_t first, struct gsm8k_result *res,
		       sample_cache **cache)
{
	/* Plain: the end-of-text token or a new question ends an answer; chat:
	 * the end of the turn (or end-of-text). */
	uint32_t stops[2] = { tok_special(v, "<|endoftext|>"), TOK_NONE };
	size_t nstops = stops[0] != TOK_NONE;
	if (ct)
		stops[nstops++] = chat_end_of_turn(ct);
	sample_opts so = { .temperature = a->temperature, .top_p = 1, .max_new = a->max_new, .seed = 1,
			   .stop_tokens = stops, .n_stop_tokens = nstops, .stop_strings = ct ? NULL : gsm8k_stops,
			   .n_stop_strings = ct ? 0 : 2, .vocab = v, .slots = a->batch };
	/* The weights packed at the first chunk, kept for the others. */
	if (!*cache)
		*cache = sample_cache_new(m, &so);
	so.cache = *cache;
	size_t nj = n * (size_t)a->samples;
	sample_job *jobs = xcalloc(nj, sizeof(*jobs));
	for (size_t i = 0; i < nj; i++) {
		jobs[i].prompt = prompts[i / (size_t)a->samples];
		jobs[i].nprompt = plen[i / (size_t)a->samples];
		jobs[i].group = first + i / (size_t)a->samples;
		jobs[i].index = i % (size_t)a->samples;
	}
	char err[256];
	int rc = sample_run(m, &so, jobs, nj, err, sizeof(err));
	if (rc < 0)
		cli_error(a->gsm8k, "%s", err);
	buf text = { 0 };
	for (size_t i = 0; i < n && rc == 0; i++) {
		int any = 0;
		for (int k = 0; k < a->samples; k++) {
			sample_job *j = &jobs[i * (size_t)a->samples + (size_t)k];
			buf_reset(&text);
			for (size_t t = 0; t < j->nout; t++) {
				size_t len;
				const uint8_t *b = ct ? chat_token_bytes(ct, j->out[t], &len) : tok_bytes(v, j->out[t], &len);
				if (b)
					buf_add(&text, b, len);
			}
			size_t tl = ct || j->text_len > text.len ? text.len : j->text_len;
			if (ct && j->finish == SAMPLE_STOP_TOKEN) {
				size_t len;
				chat_token_bytes(ct, j->out[j->nout - 1], &len);
				tl -= len < tl ? len : tl; /* the stop token's own text */
			}
			double x;
			res->extracted += verify_final_answer(text.data, tl, &x);
			int ok = verify_answer_matches(text.data, tl, (const uint8_t *)refs[i], strlen(refs[i]));
			res->answers++;
			if (k == 0)
				res->correct += ok;
			any |= ok;
		}
		res->any_correct += any;
		res->items++;
	}
	for (size_t i = 0; i < nj; i++)
		sample_job_release(&jobs[i]);
	buf_release(&text);
	free(jobs);
	return rc;
}

/* Every question of the file: fills res. */
static int gsm8k_over(const struct args *a, model *m, const tok_vocab *v, struct gsm8k_result *res)
{
	enum { CHUNK = 32 };
	uint32_t *prompts[CHUNK];
	size_t plen[CHUNK], n = 0;
	char *refs[CHUNK];
	memset(res, 0, sizeof(*res));
	char err[512];
	chat_template *ct = NULL;
	if (a->chat) {
		ct = chat_template_for_model(a->chat, v, (uint32_t)model_cfg(m)->n_vocab, err, sizeof(err));
		if (!ct) {
			cli_error(a->ckpt, "--chat: %s", err);
			return EXIT_DATA;
		}
	}
	input *in = cli_input_open(a->gsm8k, INPUT_JSONL);
	if (!in) {
		chat_template_free(ct);
		return EXIT_DATA;
	}
	int ret = EXIT_OK, got = 0;
	sample_cache *cache = NULL;
	tok_state *ts = tok_state_new(v);
	rec *r = rec_new();
	buf q = { 0 };
	chat_out co = { 0 };
	while (ret == EXIT_OK && (!a->limit || res->items + n < a->limit) && (got = input_read(in, r)) == 1) {
		const rec_field *qf = rec_get(r, "question"), *af = rec_get(r, "answer");
		unsigned long long line = input_records(in) + input_blank_lines(in);
		double ref;
		if (!qf || qf->type != REC_STR || !af || af->type != REC_STR) {
			cli_error(a->gsm8k, "line %llu: needs \"question\" and \"answer\" strings", line);
			ret = EXIT_DATA;
			break;
		}
		if (!verify_final_answer(af->val, af->len, &ref)) {
			cli_error(a->gsm8k, "line %llu: the answer holds no final number", line);
			ret = EXIT_DATA;
			break;
		}
		size_t nt, replaced;
		const uint32_t *ids;
		if (ct) {
			chat_msg msg = { CHAT_USER, (const char *)qf->val, qf->len };
			chat_out_reset(&co);
			if (chat_render(ct, ts, &msg, 1, CHAT_GENERATION_PROMPT, &co, err, sizeof(err)) < 0) {
				cli_error(a->gsm8k, "line %llu: %s", line, err);
				ret = EXIT_DATA;
				break;
			}
			ids = co.ids, nt = co.n;
		} else {
			buf_reset(&q);
			buf_adds(&q, GSM8K_PROMPT_HEAD);
			buf_add(&q, qf->val, qf->len);
			buf_adds(&q, GSM8K_PROMPT_TAIL);
			if (tok_encode(ts, q.data, q.len, &replaced, err, sizeof(err)) < 0) {
				cli_error(a->gsm8k, "line %llu: %s", line, err);
				ret = EXIT_DATA;
				break;
			}
			ids = tok_ids(ts, &nt);
		}
		prompts[n] = xmalloc(nt * sizeof(uint32_t));
		memcpy(prompts[n], ids, nt * sizeof(uint32_t));
		plen[n] = nt;
		refs[n] = xstrndup((const char *)af->val, af->len);
		if (++n == CHUNK) {
			if (gsm8k_chunk(m, a, v, ct, prompts, plen, refs, n, res->items, res, &cache) < 0)
				ret = EXIT_DATA;
			for (size_t i = 0; i < n; i++)
				free(prompts[i]), free(refs[i]);
			n = 0;
		}
	}
	if (ret == EXIT_OK && got < 0) {
		cli_error(a->gsm8k, "%s", input_error(in));
		ret = EXIT_DATA;
	}
	if (ret == EXIT_OK && n && gsm8k_chunk(m, a, v, ct, prompts, plen, refs, n, res->items, res, &cache) < 0)
		ret = EXIT_DATA;
	for (size_t i = 0; i < n; i++)
		free(prompts[i]), free(refs[i]);
	if (ret == EXIT_OK && !res->items) {
		cli_error(a->gsm8k, "no items");
		ret = EXIT_DATA;
	}
	sample_cache_free(cache);
	buf_release(&q);
	chat_out_release(&co);
	chat_template_free(ct);
	rec_free(r);
	tok_state_free(ts);
	input_close(in);
	return ret;
}

/* Wilson's 95% score interval for k successes in n trials. */
static void put_ci95(buf *o, const char *key, uint64_t k, uint64_t n)
{
	double z = 1.959963984540054, p = (double)k / (double)n, z2n = z * z / (double)n;
	double mid = (p + z2n / 2) / (1 + z2n);
	double half = z * sqrt(p * (1 - p) / (double)n + z2n / (4 * (double)n)) / (1 + z2n);
	char tmp[128];
	snprintf(tmp, sizeof(tmp), ", \"%s\": [%.6f, %.6f]", key, fmax(0, mid - half), fmin(1, mid + half));
	buf_adds(o, tmp);
}

static void put_gsm8k(buf *o, const struct args *a, const struct gsm8k_result *res)
{
	char tmp[512];
	snprintf(tmp, sizeof(tmp),
		 ", \"items\": %llu, \"samples\": %d, \"temperature\": %g, \"correct\": %llu, \"exact_match\": %.6f, "
		 "\"pass_at_k\": %.6f, \"answers\": %llu, \"extracted\": %llu",
		 (unsigned long long)res->items, a->samples, a->temperature, (unsigned long long)res->correct,
		 (double)res->correct / (double)res->items, (double)res->any_correct / (double)res->items,
		 (unsigned long long)res->answers, (unsigned long long)res->extracted);
	buf_adds(o, tmp);
	put_ci95(o, "exact_match_ci95", res->correct, res->items);
	put_ci95(o, "pass_at_k_ci95", res->any_correct, res->items);
	if (a->chat) {
		buf_adds(o, ", \"chat\": ");
		(void)json_put_string(o, a->chat, strlen(a->chat));
	}
}

/* The modes that score a model on data, and so can compare it with a
 * baseline checkpoint: measure, report, and the gain per PFLOP. */
union result {
	eval_loss_result loss;
	struct mc_result mc;
	struct gsm8k_result gsm8k;
};

static int loss_measure(const struct args *a, model *m, const tok_vocab *v, union result *r)
{
	return loss_over(a, m, v, &r->loss);
}
static void loss_put(buf *o, const struct args *a, const tok_vocab *v, const union result *r)
{
	(void)a;
	put_loss(o, &r->loss, v != NULL);
}
static double loss_score(const union result *r) { return -r->loss.loss; }

static int mc_measure(const struct args *a, model *m, const tok_vocab *v, union result *r)
{
	return mc_over(a, m, v, &r->mc);
}
static void mc_put(buf *o, const struct args *a, const tok_vocab *v, const union result *r)
{
	(void)a, (void)v;
	put_mc(o, &r->mc);
}
static double mc_score(const union result *r) { return (double)r->mc.correct / (double)r->mc.items; }

static int gsm8k_measure(const struct args *a, model *m, const tok_vocab *v, union result *r)
{
	return gsm8k_over(a, m, v, &r->gsm8k);
}
static void gsm8k_put(buf *o, const struct args *a, const tok_vocab *v, const union result *r)
{
	(void)v;
	put_gsm8k(o, a, &r->gsm8k);
}
static double gsm8k_score(const union result *r) { return (double)r->gsm8k.correct / (double)r->gsm8k.items; }

struct scored_mode {
	const char *name, *gain_key;
	int need_vocab;             /* 0: used when it loads (bits per byte) */
	int (*measure)(const struct args *, model *, const tok_vocab *, union result *);
	void (*put)(buf *, const struct args *, const tok_vocab *, const union result *);
	double (*score)(const union result *); /* higher is better */
};

static const struct scored_mode loss_mode = { "loss", "loss_drop_per_pflop", 0, loss_measure, loss_put, loss_score };
static const struct scored_mode mc_mode = { "mc", "acc_gain_per_pflop", 1, mc_measure, mc_put, mc_score };
static const struct scored_mode gsm8k_mode = { "gsm8k", "exact_match_gain_per_pflop", 1, gsm8k_measure, gsm8k_put,
					       gsm8k_score };

static int run_scored(const struct args *a, const struct scored_mode *md, const char *file, model *m,
		      const ckpt_info *info)
{
	tok_vocab *v = vocab_of(a, info, md->need_vocab);
	if (md->need_vocab && !v)
		return EXIT_DATA;
	union result r, br;
	buf o = { 0 };
	char head[64];
	int ret = md->measure(a, m, v, &r);
	if (ret)
		goto out;
	snprintf(head, sizeof(head), "{\"mode\": \"%s\", \"model\": ", md->name);
	put_info(&o, head, a->ckpt, info);
	if (file) {
		buf_adds(&o, ", \"file\": ");
		(void)json_put_string(&o, file, strlen(file));
	}
	md->put(&o, a, v, &r);
	if (a->baseline) {
		ckpt_info bi;
		model *b = load(a->baseline, &bi);
		ret = b ? md->measure(a, b, v, &br) : EXIT_DATA;
		if (!ret) {
			put_info(&o, ", \"baseline\": {\"model\": ", a->baseline, &bi);
			md->put(&o, a, v, &br);
			buf_addc(&o, '}');
			put_gain(&o, md->gain_key, md->score(&r) - md->score(&br), info, &bi);
		}
		model_free(b);
		if (ret)
			goto out;
	}
	ret = emit(a, &o);
out:
	buf_release(&o);
	tok_free(v);
	return ret;
}

int main(int argc, char **argv)
{
	cli_init("sluice-eval");
	struct args a = { 0 };
	int ret = parse_args(argc, argv, &a);
	if (ret)
		return ret;
	if (a.co.threads)
		kern_cpu_threads(a.co.threads);
	ckpt_info info;
	model *m = load(a.ckpt, &info);
	if (!m)
		return EXIT_DATA;
	switch (a.mode) {
	case MODE_LOSS: ret = run_scored(&a, &loss_mode, NULL, m, &info); break;
	case MODE_KL: ret = run_kl(&a, m, &info); break;
	case MODE_MC: ret = run_scored(&a, &mc_mode, a.mc, m, &info); break;
	case MODE_GSM8K: ret = run_scored(&a, &gsm8k_mode, a.gsm8k, m, &info); break;
	case MODE_REF: ret = run_ref(&a, m); break;
	default: ret = run_score(&a, m, &info); break;
	}
	model_free(m);
	if (ret == EXIT_OK && !a.co.output)
		ret = cli_close_stdout();
	return ret;
}

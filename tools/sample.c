/* sluice-sample: completions of prompts from a checkpoint, with the
 * model's log-probability of every generated token: synthetic data and RL
 * rollouts. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "ckpt.h"
#include "cli.h"
#include "input.h"
#include "json.h"
#include "model.h"
#include "output.h"
#include "record.h"
#include "sample.h"
#include "tokenizer.h"
#include "utf8.h"
#include "util.h"

enum { OPT_STOP = 256, OPT_STOP_TOKEN, OPT_NO_STOP_EOT, OPT_FIELD, OPT_TOKENIZER, OPT_TOO_LONG, OPT_CHAT, OPT_WEIGHTS };

#define CHUNK_PROMPTS 64 /* prompts given to one sample_run */

struct args {
	cli_common co;
	const char *ckpt, *field, *tokenizer;
	const char *chat;          /* --chat: a template's name, "" for the checkpoint's */
	sample_opts so;
	int samples, no_stop_eot, skip_long;
	int64_t policy_step;       /* the checkpoint's step */
	const char **stops;
	uint32_t *stop_tokens;
	size_t nstops, nstop_tokens;
	char **files;
	int nfiles;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: sluice-sample -m CKPT [OPTION]... [FILE]...\n"
"Generate completions of the prompts in FILEs (records or JSON lines: a\n"
"tokens field is the prompt as it is, else the text field is tokenized) and\n"
"write each prompt's record once per completion with prompt_tokens,\n"
"completion, completion_tokens, logprobs (the model's own, per token),\n"
"sample_logprobs (the sampler's: after temperature, top-k and top-p; not\n"
"when greedy), group (the prompt's number), sample, finish, temperature,\n"
"top_k, top_p, max_new and policy_step (the checkpoint's step) added.\n"
"\n"
"  -m, --model CKPT|DIR    the checkpoint, or a Hugging Face model directory\n"
"  -n, --samples N         completions per prompt (default 1)\n"
"  -t, --temperature X     0 for greedy (default 1)\n"
"  -k, --top-k N           sample among the N likeliest tokens (default: all)\n"
"  -p, --top-p X           ...among the smallest set of mass X (default 1)\n"
"  -N, --max-new N         tokens to generate at most (default 256)\n"
"      --stop STRING       stop when the completion contains STRING, which is\n"
"                          cut from its text (repeatable)\n"
"      --stop-token ID     stop at this token (repeatable)\n"
"      --no-stop-eot       do not stop at the end-of-text token (nor at the\n"
"                          model's eos_token_id)\n"
"  -s, --seed N            random seed (default 1): the same seed gives the same\n"
"                          completions, whatever the batch or thread count\n"
"      --field NAME        the prompt's text field (default text; messages\n"
"                          with --chat)\n"
"      --chat[=TEMPLATE]   prompts are conversations (the field messages): each\n"
"                          is rendered up to the opening of the assistant's turn\n"
"                          (a final assistant message, the reference, is left\n"
"                          out), the reply ends at the end of the turn and is\n"
"                          written as an assistant message; TEMPLATE defaults to\n"
"                          the checkpoint's, else chatml\n"
"      --tokenizer NAME    for a checkpoint that does not name its own\n"
"      --too-long error|skip  a prompt that leaves no room in the model's\n"
"                          context: stop before generating anything (default),\n"
"                          or skip it and count it in the summary\n"
"  -B, --batch N           sequences decoded together (default 16)\n"
"      --weights W         f32 (default), bf16 or int8 (a float scale per 64\n"
"                          rows of a column): how the matrices are stored for\n"
"                          decoding, half or a quarter of the bytes to read a\n"
"                          token; products are summed in float all the same\n"
"  -o, --output FILE       write there instead of stdout\n"
"  -J, --jsonl             JSON lines out (default: records)\n"
"  -f, --force             write records to a terminal all the same\n"
"  -j, --threads N         threads (default: OMP_NUM_THREADS, else all cores)\n"
"      --quiet             no progress line, summary or warnings\n"
"  -h, --help              show this help\n"
"  -V, --version           show the version\n"
"\n"
"Exit status: 0 ok, 1 data or I/O error, 2 usage error.\n");
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "samples", required_argument, NULL, 'n' },
		{ "temperature", required_argument, NULL, 't' },
		{ "top-k", required_argument, NULL, 'k' },
		{ "top-p", required_argument, NULL, 'p' },
		{ "max-new", required_argument, NULL, 'N' },
		{ "stop", required_argument, NULL, OPT_STOP },
		{ "stop-token", required_argument, NULL, OPT_STOP_TOKEN },
		{ "no-stop-eot", no_argument, NULL, OPT_NO_STOP_EOT },
		{ "seed", required_argument, NULL, 's' },
		{ "field", required_argument, NULL, OPT_FIELD },
		{ "chat", optional_argument, NULL, OPT_CHAT },
		{ "tokenizer", required_argument, NULL, OPT_TOKENIZER },
		{ "too-long", required_argument, NULL, OPT_TOO_LONG },
		{ "batch", required_argument, NULL, 'B' },
		{ "weights", required_argument, NULL, OPT_WEIGHTS },
		CLI_OPTION_OUTPUT,
		CLI_OPTION_JSONL,
		CLI_OPTION_FORCE,
		CLI_OPTION_THREADS,
		CLI_OPTION_QUIET,
		CLI_OPTIONS_END,
	};
	a->samples = 1;
	a->so.temperature = 1;
	a->so.top_p = 1;
	a->so.max_new = 256;
	a->so.seed = 1;
	a->so.slots = 16;
	int c, r;
	uint64_t u;
	while ((c = cli_getopt(argc, argv, "m:n:t:k:p:N:s:B:o:Jfj:hV", opts)) != -1) {
		int bad = 0;
		switch (c) {
		case 'm': a->ckpt = optarg; break;
		case 'n': bad = cli_parse_int(optarg, 1, 1 << 20, &a->samples); break;
		case 't': bad = cli_parse_double(optarg, 0, 100, &a->so.temperature); break;
		case 'k': bad = cli_parse_int(optarg, 0, MODEL_VOCAB_MAX, &a->so.top_k); break;
		case 'p': bad = cli_parse_double(optarg, 1e-9, 1, &a->so.top_p); break;
		case 'N': bad = cli_parse_int(optarg, 0, MODEL_CTX_MAX, &a->so.max_new); break;
		case OPT_STOP:
			if (!*optarg)
				return cli_usage_error("--stop: an empty string");
			a->stops = xrealloc(a->stops, (a->nstops + 1) * sizeof(*a->stops));
			a->stops[a->nstops++] = optarg;
			break;
		case OPT_STOP_TOKEN:
			bad = cli_parse_u64(optarg, 0, UINT32_MAX - 1, 0, &u);
			a->stop_tokens = xrealloc(a->stop_tokens, (a->nstop_tokens + 2) * sizeof(*a->stop_tokens));
			a->stop_tokens[a->nstop_tokens++] = (uint32_t)u;
			break;
		case OPT_NO_STOP_EOT: a->no_stop_eot = 1; break;
		case 's': bad = cli_parse_u64(optarg, 0, UINT64_MAX, 0, &a->so.seed); break;
		case OPT_FIELD: a->field = optarg; break;
		case OPT_CHAT: a->chat = optarg ? optarg : ""; break;
		case OPT_TOKENIZER: a->tokenizer = optarg; break;
		case OPT_TOO_LONG:
			if (!strcmp(optarg, "skip"))
				a->skip_long = 1;
			else if (!strcmp(optarg, "error"))
				a->skip_long = 0;
			else
				bad = 1;
			break;
		case 'B': bad = cli_parse_int(optarg, 1, 4096, &a->so.slots); break;
		case OPT_WEIGHTS:
			if ((a->so.weights = model_weights_parse(optarg)) < 0)
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
	if (!a->field)
		a->field = a->chat ? "messages" : "text";
	a->files = cli_inputs(argc, argv, optind, &a->nfiles);
	return 0;
}

/* A prompt, owned: its record, its tokens, its number in the input. */
struct prompt {
	rec *r;
	uint32_t *tok;
	size_t n;
	uint64_t group;
	char where[96];
	buf msgs;                  /* --chat: the prompt's messages as JSON, "[" ... without the "]" */
};

static const char *const finish_names[] = { "length", "stop_token", "stop_string" };

static int write_job(output *o, const struct args *a, const struct prompt *p, const sample_job *j,
		     const tok_vocab *v, const chat_template *ct, buf *text, rec *w)
{
	buf raw = { 0 };
	for (size_t i = 0; i < j->nout; i++) {
		size_t len;
		const uint8_t *b = ct ? chat_token_bytes(ct, j->out[i], &len) : tok_bytes(v, j->out[i], &len);
		if (b && !(i + 1 == j->nout && j->finish == SAMPLE_STOP_TOKEN))
			buf_add(&raw, b, len);
	}
	buf_reset(text);
	/* A completion can end inside a character: the text is repaired. */
	utf8_repair(text, raw.data, j->text_len < raw.len ? j->text_len : raw.len);
	buf_release(&raw);
	rec_copy(w, p->r);
	int bad = rec_set_u32s(w, "prompt_tokens", p->tok, p->n) < 0 ||
		  rec_set_str(w, "completion", (const char *)text->data, text->len) < 0 ||
		  rec_set_u32s(w, "completion_tokens", j->out, j->nout) < 0 ||
		  rec_set(w, "logprobs", 8, REC_F32S, j->logprobs, j->nout * sizeof(float)) < 0 ||
		  (a->so.temperature > 0 &&
		   rec_set(w, "sample_logprobs", 15, REC_F32S, j->sample_logprobs, j->nout * sizeof(float)) < 0) ||
		  rec_set_int(w, "group", (int64_t)j->group) < 0 || rec_set_int(w, "sample", (int64_t)j->index) < 0 ||
		  rec_set_str(w, "finish", finish_names[j->finish], strlen(finish_names[j->finish])) < 0 ||
		  rec_set_float(w, "temperature", a->so.temperature) < 0 || rec_set_int(w, "top_k", a->so.top_k) < 0 ||
		  rec_set_float(w, "top_p", a->so.top_p) < 0 || rec_set_int(w, "max_new", a->so.max_new) < 0 ||
		  rec_set_int(w, "policy_step", a->policy_step) < 0 ||
		  rec_set_str(w, "weights", model_weights_name(a->so.weights), strlen(model_weights_name(a->so.weights))) < 0;
	if (ct && !bad) {
		/* The conversation goes on with the reply. */
		buf msgs = { 0 };
		buf_add(&msgs, p->msgs.data, p->msgs.len);
		buf_adds(&msgs, p->msgs.len > 1 ? ", {\"role\": \"assistant\", \"content\": " : "{\"role\": \"assistant\", \"content\": ");
		bad = json_put_string(&msgs, (const char *)text->data, text->len) < 0;
		buf_adds(&msgs, "}]");
		bad = bad || rec_set(w, "messages", 8, REC_JSON, msgs.data, msgs.len) < 0;
		buf_release(&msgs);
	}
	if (bad) {
		cli_error(NULL, "%s: too large with its completion", p->where);
		return -1;
	}
	return output_write(o, w, p->where);
}

static int run_chunk(model *m, const struct args *a, struct prompt *ps, size_t np, output *o, const tok_vocab *v,
		     const chat_template *ct, uint64_t *written, uint64_t *generated)
{
	size_t n = np * (size_t)a->samples;
	sample_job *jobs = xcalloc(n ? n : 1, sizeof(*jobs));
	for (size_t i = 0; i < np; i++)
		for (int k = 0; k < a->samples; k++) {
			sample_job *j = &jobs[i * (size_t)a->samples + (size_t)k];
			j->prompt = ps[i].tok;
			j->nprompt = ps[i].n;
			j->group = ps[i].group;
			j->index = (uint64_t)k;
		}
	char err[256];
	int ret = EXIT_OK;
	if (sample_run(m, &a->so, jobs, n, err, sizeof(err)) < 0) {
		cli_error(NULL, "%s", err);
		ret = EXIT_DATA;
	}
	for (size_t i = 0; i < n && ret == EXIT_OK; i++)
		*generated += jobs[i].nout;
	buf text = { 0 };
	rec *w = rec_new();
	for (size_t i = 0; i < n && ret == EXIT_OK; i++) {
		if (write_job(o, a, &ps[i / (size_t)a->samples], &jobs[i], v, ct, &text, w) < 0)
			ret = EXIT_DATA;
		else
			++*written;
	}
	for (size_t i = 0; i < n; i++)
		sample_job_release(&jobs[i]);
	buf_release(&text);
	rec_free(w);
	free(jobs);
	return ret;
}

/* --chat: the conversation in field f as a prompt: rendered up to the
 * opening of the assistant's turn, a final assistant message (the
 * reference answer) left out; its messages as JSON in *json for the reply
 * to join. */
static int chat_prompt(const chat_template *ct, tok_state *ts, const rec_field *f, chat_conv *conv, chat_out *co,
		       buf *json, char *err, size_t errlen)
{
	if (f->type != REC_JSON) {
		snprintf(err, errlen, "not an array of messages but %s", f->type == REC_STR ? "a string" : "a typed field");
		return -1;
	}
	if (chat_parse(conv, (const char *)f->val, f->len, err, errlen) < 0)
		return -1;
	size_t n = conv->n;
	if (n && conv->msgs[n - 1].role == CHAT_ASSISTANT)
		n--;
	chat_out_reset(co);
	if (chat_render(ct, ts, conv->msgs, n, CHAT_GENERATION_PROMPT, co, err, errlen) < 0)
		return -1;
	buf_addc(json, '[');
	for (size_t i = 0; i < n; i++) {
		const char *role = chat_role_name(conv->msgs[i].role);
		buf_adds(json, i ? ", {\"role\": " : "{\"role\": ");
		(void)json_put_string(json, role, strlen(role));
		buf_adds(json, ", \"content\": ");
		(void)json_put_string(json, conv->msgs[i].content, conv->msgs[i].len);
		buf_addc(json, '}');
	}
	return 0;
}

/* Read every prompt of the inputs into *ps, checking each: a record with
 * no prompt, a token outside the vocabulary or an empty prompt is an error;
 * so is a prompt that leaves no room to generate, unless --too-long skip
 * (then it is counted in *skipped). */
static int read_prompts(const struct args *a, model *m, const tok_vocab *v, const chat_template *ct, uint32_t eot,
			struct prompt **ps, size_t *np, uint64_t *nread, uint64_t *skipped)
{
	chat_conv conv = { 0 };
	chat_out co = { 0 };
	size_t cap = 0;
	int n_ctx = model_cfg(m)->n_ctx, n_vocab = model_cfg(m)->n_vocab;
	tok_state *ts = tok_state_new(v);
	char err[512];
	int ret = EXIT_OK;
	for (int i = 0; i < a->nfiles && ret == EXIT_OK; i++) {
		input *in = cli_input_open(a->files[i], INPUT_AUTO);
		if (!in) {
			ret = EXIT_DATA;
			break;
		}
		rec *r = rec_new();
		int got;
		while (ret == EXIT_OK && (got = input_read(in, r)) == 1) {
			if (*np == cap) {
				cap = cap ? 2 * cap : 256;
				*ps = xrealloc(*ps, cap * sizeof(**ps));
			}
			struct prompt *p = &(*ps)[*np];
			snprintf(p->where, sizeof(p->where), "%s: record %llu", input_path(in),
				 (unsigned long long)input_records(in));
			const rec_field *t = rec_get(r, "tokens"), *tx = rec_get(r, a->field);
			size_t n, replaced;
			p->msgs = (buf){ 0 };
			if (ct) {
				if (!tx || chat_prompt(ct, ts, tx, &conv, &co, &p->msgs, err, sizeof(err)) < 0) {
					cli_error(NULL, "%s: %s%s", p->where, tx ? "" : "no field ", tx ? err : a->field);
					buf_release(&p->msgs);
					ret = EXIT_DATA;
					break;
				}
				n = co.n;
				p->tok = xmalloc((n + 1) * sizeof(*p->tok));
				memcpy(p->tok, co.ids, n * sizeof(*co.ids));
			} else if (t && t->type == REC_U32S) {
				n = t->len / 4;
				p->tok = xmalloc((n + 1) * sizeof(*p->tok));
				memcpy(p->tok, t->val, t->len);
			} else if (tx && tx->type == REC_STR) {
				if (tok_encode(ts, tx->val, tx->len, &replaced, err, sizeof(err)) < 0) {
					cli_error(NULL, "%s: %s", p->where, err);
					ret = EXIT_DATA;
					break;
				}
				const uint32_t *ids = tok_ids(ts, &n);
				p->tok = xmalloc((n + 1) * sizeof(*p->tok));
				memcpy(p->tok, ids, n * sizeof(*ids));
			} else {
				cli_error(NULL, "%s: no tokens field and no %s text", p->where, a->field);
				ret = EXIT_DATA;
				break;
			}
			/* An empty prompt starts from the end-of-text token, as
			 * GPT-2 generates from nothing. */
			if (!n && eot != TOK_NONE)
				p->tok[n++] = eot;
			for (size_t k = 0; k < n && ret == EXIT_OK; k++)
				if (p->tok[k] >= (uint32_t)n_vocab) {
					cli_error(NULL, "%s: token %u is outside the model's vocabulary of %d", p->where, p->tok[k],
						  n_vocab);
					ret = EXIT_DATA;
				}
			uint64_t number = (*nread)++;
			if (ret == EXIT_OK && n >= (size_t)n_ctx && a->skip_long) {
				++*skipped;
				free(p->tok);
				buf_release(&p->msgs);
				continue;
			}
			if (ret == EXIT_OK && (!n || n >= (size_t)n_ctx)) {
				cli_error(NULL, "%s: prompt of %zu tokens: the model takes 1 to %d%s", p->where, n, n_ctx - 1,
					  n ? " (--too-long skip passes over such prompts)" : "");
				ret = EXIT_DATA;
			}
			if (ret) {
				free(p->tok);
				buf_release(&p->msgs);
				break;
			}
			p->n = n;
			p->group = number;
			p->r = rec_new();
			rec_copy(p->r, r);
			++*np;
		}
		if (ret == EXIT_OK && got < 0) {
			cli_error(input_path(in), "%s", input_error(in));
			ret = EXIT_DATA;
		}
		rec_free(r);
		input_close(in);
	}
	tok_state_free(ts);
	chat_conv_release(&conv);
	chat_out_release(&co);
	return ret;
}

/* The stream header of rollouts (doc/rl.md): what the token ids are and
 * how many completions make a group. */
static void rollout_meta(const struct args *a, const model *m, const tok_vocab *v, const chat_template *ct, buf *out)
{
	char tmp[256];
	buf_adds(out, "{\"mode\": \"rollouts\", \"tokenizer\": ");
	(void)json_put_string(out, tok_name(v), strlen(tok_name(v)));
	snprintf(tmp, sizeof(tmp), ", \"n_vocab\": %d", model_cfg(m)->n_vocab);
	buf_adds(out, tmp);
	uint32_t eot = tok_special(v, "<|endoftext|>");
	if (eot != TOK_NONE) {
		snprintf(tmp, sizeof(tmp), ", \"eot\": %u", eot);
		buf_adds(out, tmp);
	}
	if (ct)
		chat_meta(ct, out);
	else
		buf_adds(out, ", \"chat_template\": \"\"");
	snprintf(tmp, sizeof(tmp), ", \"samples\": %d, \"weights\": \"%s\"}", a->samples, model_weights_name(a->so.weights));
	buf_adds(out, tmp);
}

int main(int argc, char **argv)
{
	cli_init("sluice-sample");
	struct args a = { 0 };
	int ret = parse_args(argc, argv, &a);
	if (ret)
		return ret;
	if (a.co.threads)
		kern_cpu_threads(a.co.threads);
	char err[512];
	ckpt_info info = { 0 };
	model *m = ckpt_load_any(a.ckpt, &kern_cpu, &info, err, sizeof(err));
	if (!m) {
		cli_error(a.ckpt, "%s", err);
		return EXIT_DATA;
	}
	const char *tname = a.tokenizer ? a.tokenizer : info.tokenizer;
	tok_vocab *v = tname[0] ? tok_load(tname, NULL, err, sizeof(err)) : NULL;
	if (!v) {
		cli_error(a.ckpt, tname[0] ? "tokenizer %s: %s" : "the checkpoint names no tokenizer: give --tokenizer%s%s",
			  tname, tname[0] ? err : "");
		model_free(m);
		return EXIT_DATA;
	}
	uint32_t eot = tok_special(v, "<|endoftext|>");
	if (!a.no_stop_eot && eot != TOK_NONE) {
		a.stop_tokens = xrealloc(a.stop_tokens, (a.nstop_tokens + 1) * sizeof(*a.stop_tokens));
		a.stop_tokens[a.nstop_tokens++] = eot;
	}
	/* And at the end-of-sequence ids a Hugging Face model names. */
	for (int i = 0; !a.no_stop_eot && i < info.ids.n_eos; i++) {
		a.stop_tokens = xrealloc(a.stop_tokens, (a.nstop_tokens + 1) * sizeof(*a.stop_tokens));
		a.stop_tokens[a.nstop_tokens++] = info.ids.eos[i];
	}
	chat_template *ct = NULL;
	if (a.chat) {
		const char *name = a.chat[0] ? a.chat : info.chat_template[0] ? info.chat_template : CHAT_DEFAULT;
		ct = chat_template_for_model(name, v, (uint32_t)model_cfg(m)->n_vocab, err, sizeof(err));
		if (!ct) {
			cli_error(a.ckpt, "--chat: %s", err);
			tok_free(v);
			model_free(m);
			return EXIT_DATA;
		}
		a.stop_tokens = xrealloc(a.stop_tokens, (a.nstop_tokens + 1) * sizeof(*a.stop_tokens));
		a.stop_tokens[a.nstop_tokens++] = chat_end_of_turn(ct);
	}
	a.so.stop_tokens = a.stop_tokens;
	a.so.n_stop_tokens = a.nstop_tokens;
	a.so.stop_strings = a.stops;
	a.so.n_stop_strings = a.nstops;
	a.so.vocab = v;
	a.policy_step = info.step;
	int status = EXIT_OK;
	output *o = output_open(a.co.output, a.co.jsonl ? OUTPUT_JSONL : OUTPUT_RECORDS, NULL, a.co.force, &status);
	if (!o) {
		chat_template_free(ct);
		tok_free(v);
		model_free(m);
		return status;
	}
	buf meta = { 0 };
	rollout_meta(&a, m, v, ct, &meta);
	if (!a.co.jsonl && output_set_meta(o, (const char *)meta.data, meta.len) < 0)
		ret = EXIT_DATA;
	buf_release(&meta);
	/* Every prompt is read and checked before the first is generated, so
	 * that a bad one stops the run before any output. */
	struct prompt *ps = NULL;
	size_t np = 0;
	uint64_t nread = 0, skipped = 0, written = 0, generated = 0;
	if (ret == EXIT_OK)
		ret = read_prompts(&a, m, v, ct, eot, &ps, &np, &nread, &skipped);
	/* The weights packed once for every chunk (at the first). */
	double t1 = util_now();
	if (ret == EXIT_OK && np)
		a.so.cache = sample_cache_new(m, &a.so);
	for (size_t k = 0; k < np && ret == EXIT_OK; k += CHUNK_PROMPTS)
		ret = run_chunk(m, &a, ps + k, np - k < CHUNK_PROMPTS ? np - k : CHUNK_PROMPTS, o, v, ct, &written,
				&generated);
	double t2 = util_now();
	sample_cache_free(a.so.cache);
	for (size_t k = 0; k < np; k++)
		rec_free(ps[k].r), free(ps[k].tok), buf_release(&ps[k].msgs);
	free(ps);
	if (output_close(o, ret) < 0)
		ret = EXIT_DATA;
	if (ret == EXIT_OK && !a.co.quiet)
		fprintf(stderr,
			"%s: %llu completions of %llu prompts; %llu tokens generated in %.2f s (%.1f tokens/s; "
			"packing the weights, the prompts and writing included)\n",
			cli_prog(), (unsigned long long)written, (unsigned long long)np, (unsigned long long)generated,
			t2 - t1, t2 > t1 ? (double)generated / (t2 - t1) : 0.0);
	if (ret == EXIT_OK && skipped)
		fprintf(stderr, "%s: %llu of %llu prompts skipped: too long for the model's context of %d\n", cli_prog(),
			(unsigned long long)skipped, (unsigned long long)nread, model_cfg(m)->n_ctx);
	chat_template_free(ct);
	tok_free(v);
	model_free(m);
	free(a.stops);
	free(a.stop_tokens);
	return ret;
}

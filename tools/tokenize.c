/* sluice-tokenize: text -> tokens with byte-level BPE (tiktoken's
 * encodings or a vocabulary file), tokens -> text, and BPE training. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bpe_train.h"
#include "chat.h"
#include "cli.h"
#include "input.h"
#include "json.h"
#include "output.h"
#include "parallel.h"
#include "record.h"
#include "tokenizer.h"
#include "utf8.h"
#include "util.h"

enum { OPT_PATTERN = 256, OPT_DROP_TEXT, OPT_EOT, OPT_ALLOW_SPECIAL, OPT_STRICT, OPT_REJECTS, OPT_TRAIN,
       OPT_VOCAB_SIZE, OPT_HELDOUT, OPT_TOKENS_FIELD, OPT_MAX_TRAIN_BYTES, OPT_CHAT };

/* Record outcomes (the status a worker returns). */
enum { KEPT, NO_TEXT, BAD_UTF8, BAD_TOKENS, BAD_MESSAGES, FAILED };

struct args {
	cli_common co;
	const char *encoding, *vocab, *pattern, *rejects;
	const char *field, *tokens_field;
	const char *chat;          /* the chat template's name, or NULL */
	const char *allow[64];
	int nallow, allow_all;
	int drop_text, eot, strict, decode, train, field_set;
	int out_fmt;
	uint64_t vocab_size, max_train_bytes;
	double heldout;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: sluice-tokenize [OPTION]... [FILE]...\n"
"Tokenize the text of records, JSONL or text lines from FILEs (or stdin) with\n"
"byte-level BPE, giving the ids tiktoken gives; or decode tokens to text; or\n"
"learn a new vocabulary.\n"
"\n"
"Vocabulary:\n"
"  -e, --encoding NAME    gpt2, cl100k_base or o200k_base (default gpt2), or a\n"
"                         Hugging Face tokenizer.json (or a directory with one)\n"
"  -v, --vocab FILE       a tiktoken rank file; its pattern and special tokens\n"
"                         come from FILE's .json beside it\n"
"      --pattern REGEX    pre-tokenization pattern (replaces the vocabulary's)\n"
"Encoding:\n"
"      --field NAME       the text field (default text)\n"
"      --tokens-field NAME  the field written (default tokens)\n"
"      --drop-text        leave the text field out of the output\n"
"      --eot              end each document with <|endoftext|>\n"
"      --allow-special NAME  encode this special token's text as its id\n"
"                         (repeatable; 'all' for every one); otherwise it is\n"
"                         ordinary text\n"
"      --chat[=TEMPLATE]  tokenize conversations, the field 'messages' (an\n"
"                         array of {\"role\", \"content\"}), rendered with\n"
"                         TEMPLATE (chatml, the default); adds a 'mask' field,\n"
"                         1 on the assistant's tokens (see doc/chat.md)\n"
"      --strict           reject records whose text is not valid UTF-8\n"
"                         (default: replace invalid bytes by U+FFFD, count them)\n"
"      --rejects FILE     write rejected records there, with a reason field\n"
"Decoding:\n"
"  -d, --decode           tokens -> text (the text field is replaced); the\n"
"                         chat template's ids too, when the stream's header\n"
"                         names one (or with --chat)\n"
"Training:\n"
"      --train            learn a vocabulary from the text; -o PREFIX writes\n"
"                         PREFIX.tiktoken and PREFIX.json\n"
"      --vocab-size N     tokens in the vocabulary, the 256 bytes and <|endoftext|>\n"
"                         included (default 1024)\n"
"      --heldout F        hold out this fraction of the documents (every\n"
"                         round(1/F)-th; default 0.1) to report bytes per token\n"
"      --max-train-bytes SIZE  learn from at most SIZE bytes of text\n"
"Output:\n"
"  -o, --output FILE      write to FILE instead of stdout\n"
"  -J, --jsonl            write JSONL instead of a record stream\n"
"  -t, --text             write the text field, one line per record (--decode)\n"
"  -f, --force            write binary even to a terminal\n"
"  -j, --threads N        threads (default 1); output stays in input order\n"
"      --stats FILE       write the summary as JSON to FILE ('-': stdout)\n"
"General:\n"
"      --input-format F   auto (default), records, jsonl or text\n"
"      --progress         show a progress line even when stderr is not a terminal\n"
"      --quiet            no progress line, summary or warnings\n"
"  -h, --help             show this help and exit\n"
"  -V, --version          show the version and exit\n"
"\n"
"Exit status: 0 ok, 1 data or I/O error, 2 usage error.\n"
"See sluice-tokenize(1).\n");
}

/* A Hugging Face tokenizer.json, or a model directory holding one. */
static int hf_tokenizer(const char *s)
{
	size_t n = strlen(s);
	struct stat st;
	return (n > 5 && strcmp(s + n - 5, ".json") == 0) || (stat(s, &st) == 0 && S_ISDIR(st.st_mode));
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "encoding", required_argument, NULL, 'e' },
		{ "vocab", required_argument, NULL, 'v' },
		{ "pattern", required_argument, NULL, OPT_PATTERN },
		{ "field", required_argument, NULL, 'F' },
		{ "tokens-field", required_argument, NULL, OPT_TOKENS_FIELD },
		{ "drop-text", no_argument, NULL, OPT_DROP_TEXT },
		{ "eot", no_argument, NULL, OPT_EOT },
		{ "allow-special", required_argument, NULL, OPT_ALLOW_SPECIAL },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "chat", optional_argument, NULL, OPT_CHAT },
		{ "rejects", required_argument, NULL, OPT_REJECTS },
		{ "decode", no_argument, NULL, 'd' },
		{ "train", no_argument, NULL, OPT_TRAIN },
		{ "vocab-size", required_argument, NULL, OPT_VOCAB_SIZE },
		{ "heldout", required_argument, NULL, OPT_HELDOUT },
		{ "max-train-bytes", required_argument, NULL, OPT_MAX_TRAIN_BYTES },
		CLI_OPTION_OUTPUT,
		CLI_OPTION_JSONL,
		{ "text", no_argument, NULL, 't' },
		CLI_OPTION_FORCE,
		CLI_OPTION_THREADS,
		CLI_OPTION_STATS,
		CLI_OPTION_INPUT_FORMAT,
		CLI_OPTION_PROGRESS,
		CLI_OPTION_QUIET,
		CLI_OPTIONS_END,
	};
	int c, r;
	a->field = "text";
	a->tokens_field = "tokens";
	a->out_fmt = OUTPUT_RECORDS;
	a->vocab_size = 1024;
	a->heldout = 0.1;
	while ((c = cli_getopt(argc, argv, "e:v:do:Jtfj:hV", opts)) != -1) {
		switch (c) {
		case 'e': a->encoding = optarg; break;
		case 'v': a->vocab = optarg; break;
		case OPT_PATTERN: a->pattern = optarg; break;
		case 'F': a->field = optarg; a->field_set = 1; break;
		case OPT_TOKENS_FIELD: a->tokens_field = optarg; break;
		case OPT_DROP_TEXT: a->drop_text = 1; break;
		case OPT_EOT: a->eot = 1; break;
		case OPT_ALLOW_SPECIAL:
			if (strcmp(optarg, "all") == 0)
				a->allow_all = 1;
			else if (a->nallow < (int)(sizeof(a->allow) / sizeof(a->allow[0])))
				a->allow[a->nallow++] = optarg;
			else
				return cli_usage_error("--allow-special: too many");
			break;
		case OPT_STRICT: a->strict = 1; break;
		case OPT_CHAT: a->chat = optarg ? optarg : CHAT_DEFAULT; break;
		case OPT_REJECTS: a->rejects = optarg; break;
		case 'd': a->decode = 1; break;
		case OPT_TRAIN: a->train = 1; break;
		case OPT_VOCAB_SIZE:
			if (cli_parse_u64(optarg, 257, 1u << 24, 1, &a->vocab_size) < 0)
				return cli_bad_value(opts, c, optarg, "257 to 16M");
			break;
		case OPT_HELDOUT: {
			char *end;
			errno = 0;
			a->heldout = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(a->heldout >= 0 && a->heldout < 1))
				return cli_bad_value(opts, c, optarg, "a fraction in [0, 1)");
			break;
		}
		case OPT_MAX_TRAIN_BYTES:
			if (cli_parse_u64(optarg, 1, UINT64_MAX, 1, &a->max_train_bytes) < 0)
				return cli_bad_value(opts, c, optarg, "a size");
			break;
		case 'J': a->out_fmt = OUTPUT_JSONL; break;
		case 't': a->out_fmt = OUTPUT_TEXT; break;
		default:
			if ((r = cli_common_option(&a->co, c, optarg, opts, usage)) != 0)
				return r;
		}
	}
	if (!a->co.threads)
		a->co.threads = 1;
	if (a->encoding && a->vocab)
		return cli_usage_error("--encoding and --vocab exclude each other");
	/* -e names an encoding or a tokenizer.json, -v is a rank file: neither
	 * is taken for the other. */
	if (a->encoding && !hf_tokenizer(a->encoding) && (strchr(a->encoding, '/') || strstr(a->encoding, ".tiktoken")))
		return cli_usage_error("--encoding '%s': give an encoding name (gpt2, cl100k_base, o200k_base) or a "
				       "tokenizer.json, or a rank file with --vocab", a->encoding);
	if (a->vocab && !strchr(a->vocab, '/')) {
		static char here[4096];
		if ((size_t)snprintf(here, sizeof(here), "./%s", a->vocab) >= sizeof(here))
			return cli_usage_error("--vocab: a name of %zu bytes is too long", strlen(a->vocab));
		a->vocab = here;
	}
	if (a->decode + a->train > 1)
		return cli_usage_error("--decode and --train exclude each other");
	if (a->train && (a->encoding || a->vocab))
		return cli_usage_error("--train learns a vocabulary: no --encoding or --vocab");
	if (a->train && !a->co.output)
		return cli_usage_error("--train needs -o PREFIX (writes PREFIX.tiktoken and PREFIX.json)");
	if (a->out_fmt == OUTPUT_TEXT && !a->decode)
		return cli_usage_error("--text writes decoded text: use it with --decode");
	if (a->chat && a->train)
		return cli_usage_error("--chat and --train exclude each other");
	if (a->chat && !a->decode && (a->allow_all || a->nallow))
		return cli_usage_error("--chat: text in conversations is never a control token (no --allow-special)");
	if (a->chat && !a->decode && a->eot)
		return cli_usage_error("--chat: each turn ends with the template's own token (no --eot)");
	if (a->chat && !a->decode && !a->field_set)
		a->field = "messages";
	if (!a->encoding && !a->vocab)
		a->encoding = "gpt2";
	return 0;
}

/* ---- encoding and decoding ---- */

struct job {
	const struct args *a;
	tok_vocab *v;
	tok_state **states;        /* one per worker */
	buf *scratch;              /* one per worker */
	uint64_t *replaced;        /* one per worker */
	uint64_t *skipped;         /* one per worker: bytes the pattern missed */
	uint32_t eot;
	chat_template *chat;       /* --chat, or the template a stream to decode names */
	const chat_template *dec_chat; /* decoding: the template of the current input */
	chat_conv *convs;          /* one per worker (--chat) */
	chat_out *renders;         /* one per worker (--chat) */
	chat_conv emit_conv;       /* for messages about bad conversations */
	output *out, *rejects;
	cli_counts *counts;
	cli_progress prog;
	const char *inname;
	uint64_t recno, bytes_in;
};

/* Returns 0, or -1 if the record would grow past its limit. */
static int put_ids(rec *r, const char *name, const uint32_t *ids, size_t n, uint32_t extra, buf *tmp)
{
	if (n >= REC_MAX_BYTES / 4)
		return -1;
	buf_reset(tmp);
	buf_grow(tmp, 4 * (n + 1));
	for (size_t i = 0; i < n; i++)
		store_u32le(tmp->data + 4 * i, ids[i]);
	tmp->len = 4 * n;
	if (extra != TOK_NONE) {
		store_u32le(tmp->data + tmp->len, extra);
		tmp->len += 4;
	}
	return rec_set(r, name, strlen(name), REC_U32S, tmp->data, tmp->len);
}

static int encode_record(void *ctx, int w, rec *r, void *slot)
{
	(void)slot;
	struct job *j = ctx;
	const struct args *a = j->a;
	const rec_field *f = rec_get(r, a->field);
	if (!f || f->type != REC_STR)
		return NO_TEXT;
	size_t replaced;
	char err[256];
	if (utf8_valid_prefix(f->val, f->len) != f->len) {
		if (a->strict)
			return BAD_UTF8;
		/* The text kept is the text encoded: repaired. */
		buf *fixed = &j->scratch[w];
		buf_reset(fixed);
		j->replaced[w] += utf8_repair(fixed, f->val, f->len);
		if (rec_set(r, a->field, strlen(a->field), REC_STR, fixed->data, fixed->len) < 0)
			return FAILED;
		f = rec_get(r, a->field);
	}
	if (tok_encode(j->states[w], f->val, f->len, &replaced, err, sizeof(err)) < 0)
		return FAILED;
	j->skipped[w] += tok_skipped(j->states[w]);
	size_t n;
	const uint32_t *ids = tok_ids(j->states[w], &n);
	if (put_ids(r, a->tokens_field, ids, n, a->eot ? j->eot : TOK_NONE, &j->scratch[w]) < 0)
		return FAILED;
	if (a->drop_text)
		rec_del(r, a->field);
	return KEPT;
}

/* The conversation in field f, parsed into c; -1 with the problem in err. */
static int parse_messages(const rec_field *f, chat_conv *c, char *err, size_t errlen)
{
	if (f->type != REC_JSON) {
		snprintf(err, errlen, "not an array of messages but %s",
			 f->type == REC_STR ? "a string" : "a typed field");
		return -1;
	}
	return chat_parse(c, (const char *)f->val, f->len, err, errlen);
}

static int encode_chat_record(void *ctx, int w, rec *r, void *slot)
{
	(void)slot;
	struct job *j = ctx;
	const struct args *a = j->a;
	const rec_field *f = rec_get(r, a->field);
	if (!f)
		return NO_TEXT;
	char err[256];
	chat_conv *c = &j->convs[w];
	if (parse_messages(f, c, err, sizeof(err)) < 0)
		return BAD_MESSAGES;
	chat_out *o = &j->renders[w];
	chat_out_reset(o);
	if (chat_render(j->chat, j->states[w], c->msgs, c->n, 0, o, err, sizeof(err)) < 0)
		return FAILED;
	if (put_ids(r, a->tokens_field, o->ids, o->n, TOK_NONE, &j->scratch[w]) < 0 ||
	    rec_set(r, "mask", 4, REC_U8S, o->n ? o->mask : (const uint8_t *)"", o->n) < 0)
		return FAILED;
	if (a->drop_text)
		rec_del(r, a->field);
	return KEPT;
}

static int decode_record(void *ctx, int w, rec *r, void *slot)
{
	(void)slot;
	struct job *j = ctx;
	const struct args *a = j->a;
	const rec_field *f = rec_get(r, a->tokens_field);
	if (!f || f->type != REC_U32S)
		return NO_TEXT;
	buf *b = &j->scratch[w];
	buf_reset(b);
	size_t n = f->len / 4;
	for (size_t i = 0; i < n; i++) {
		size_t len;
		uint32_t id = rec_u32_at(f, i);
		const uint8_t *t = j->dec_chat ? chat_token_bytes(j->dec_chat, id, &len) : tok_bytes(j->v, id, &len);
		if (!t)
			return BAD_TOKENS;
		buf_add(b, t, len);
	}
	/* Ids can end inside a character: repair as tiktoken's decode does. */
	if (utf8_valid_prefix(b->data, b->len) != b->len) {
		buf fixed = { 0 };
		j->replaced[w] += utf8_repair(&fixed, b->data, b->len);
		buf_release(b);
		*b = fixed;
	}
	if (rec_set(r, a->field, strlen(a->field), REC_STR, b->data, b->len) < 0)
		return FAILED;
	return KEPT;
}

static const char *const reasons[] = { "kept", "no_text", "invalid_utf8", "bad_token_id", "bad_messages", "failed" };

static int emit_record(void *ctx, rec *r, int status, void *slot)
{
	(void)slot;
	struct job *j = ctx;
	j->recno++;
	char where[512];
	snprintf(where, sizeof(where), "%s: record %llu", j->inname, (unsigned long long)j->recno);
	if (status == FAILED) {
		cli_error(NULL, "%s: the result would pass the record size limit, or the pattern engine gave up",
			  where);
		return -1;
	}
	if (status == BAD_TOKENS && !j->rejects) {
		cli_error(NULL, "%s: a token id is not in vocabulary %s%s%s (ids below %u); --rejects FILE sets such "
			  "records aside", where, tok_name(j->v), j->dec_chat ? " with chat template " : "",
			  j->dec_chat ? chat_template_name(j->dec_chat) : "",
			  j->dec_chat ? chat_n_vocab(j->dec_chat) : tok_n_vocab(j->v));
		return -1;
	}
	if (status == BAD_MESSAGES && !j->rejects) {
		/* Parsed again here, on the error path only, for the message. */
		char err[256] = "";
		const rec_field *f = rec_get(r, j->a->field);
		if (f)
			parse_messages(f, &j->emit_conv, err, sizeof(err));
		cli_error(NULL, "%s: '%s': %s; --rejects FILE sets such records aside", where, j->a->field, err);
		return -1;
	}
	if (status == BAD_UTF8 || status == BAD_TOKENS || status == BAD_MESSAGES) {
		cli_counts_add(j->counts, reasons[status], 1);
		if (j->rejects) {
			if (rec_set_str(r, "reason", reasons[status], strlen(reasons[status])) < 0) {
				cli_error(NULL, "%s: too large to add the reason field", where);
				return -1;
			}
			return output_write(j->rejects, r, where);
		}
		return 0;
	}
	if (status == NO_TEXT)
		cli_counts_add(j->counts, j->a->decode ? "no_tokens" : j->a->chat ? "no_messages" : "no_text", 1);
	else
		cli_counts_add(j->counts, "records", 1);
	const rec_field *t = rec_get(r, j->a->tokens_field);
	if (t && t->type == REC_U32S)
		cli_counts_add(j->counts, "tokens", t->len / 4);
	const rec_field *m = j->a->chat && !j->a->decode && status == KEPT ? rec_get(r, "mask") : NULL;
	if (m && m->type == REC_U8S) {
		uint64_t on = 0;
		for (uint32_t i = 0; i < m->len; i++)
			on += m->val[i] != 0;
		cli_counts_add(j->counts, "target_tokens", on);
	}
	cli_progress_update(&j->prog, j->recno, j->bytes_in);
	return output_write(j->out, r, where);
}

static void stream_meta(const struct job *j, buf *m)
{
	char tmp[512];
	/* The name may be a long path, with any character in it. */
	buf_adds(m, "{\"tokenizer\": ");
	(void)json_put_string(m, tok_name(j->v), strlen(tok_name(j->v)));
	snprintf(tmp, sizeof(tmp), ", \"n_vocab\": %u", j->chat ? chat_n_vocab(j->chat) : tok_n_vocab(j->v));
	buf_adds(m, tmp);
	uint32_t eot = tok_special(j->v, "<|endoftext|>");
	if (eot != TOK_NONE) {
		snprintf(tmp, sizeof(tmp), ", \"eot\": %u", eot);
		buf_adds(m, tmp);
	}
	if (j->chat)
		chat_meta(j->chat, m);
	buf_adds(m, "}");
}

/* Decoding: the chat template whose ids the input's records hold, from
 * --chat or the stream's header (checked against each other).  Returns 0,
 * or -1 after a message. */
static int decode_chat_for(struct job *j, input *in)
{
	j->dec_chat = j->a->chat ? j->chat : NULL;
	size_t len;
	const char *meta = input_meta(in, &len);
	if (!len)
		return 0;
	rec *m = rec_new(), *ids = rec_new();
	char err[256];
	int rc = 0;
	const rec_field *t;
	/* A header that is not an object names no template, nor does an empty
	 * name (sluice-sample's rollouts of plain prompts). */
	if (json_parse_line(m, meta, len, err, sizeof(err)) < 0 || !(t = rec_get(m, "chat_template")) ||
	    (t->type == REC_STR && !t->len))
		goto done;
	rc = -1;
	if (t->type != REC_STR) {
		cli_error(input_path(in), "stream header: \"chat_template\" is not a string");
		goto done;
	}
	char *name = xstrndup((const char *)t->val, t->len);
	if (!j->chat && !(j->chat = chat_template_new(name, j->v, err, sizeof(err))))
		cli_error(input_path(in), "stream header: %s", err);
	else if (strcmp(name, chat_template_name(j->chat)) != 0)
		cli_error(input_path(in), "the stream's chat template is %s, not %s", name, chat_template_name(j->chat));
	else
		rc = 0;
	free(name);
	if (rc < 0)
		goto done;
	/* The ids the header gives the control tokens must be this
	 * vocabulary's: decoding with another would garble the text. */
	const rec_field *ct = rec_get(m, "chat_tokens");
	if (ct && ct->type == REC_JSON && json_parse_line(ids, (const char *)ct->val, ct->len, err, sizeof(err)) == 0)
		for (size_t i = 0; i < chat_nspecial(j->chat); i++) {
			uint32_t want;
			int64_t got;
			const char *text = chat_special_at(j->chat, i, &want);
			if (rec_get_int(ids, text, &got) == 0 && got != (int64_t)want) {
				cli_error(input_path(in), "the stream's %s is id %lld, but %u with vocabulary %s", text,
					  (long long)got, want, tok_name(j->v));
				rc = -1;
				goto done;
			}
		}
	j->dec_chat = j->chat;
done:
	rec_free(m);
	rec_free(ids);
	return rc;
}

/* Run encode or decode over every input; returns the exit status. */
static int run_codec(const struct args *a, char **files, int nfiles)
{
	char err[1024];
	struct job j = { .a = a };
	j.v = tok_load(a->vocab ? a->vocab : a->encoding, a->pattern, err, sizeof(err));
	if (!j.v) {
		cli_error(NULL, "%s", err);
		/* A tokenizer.json that cannot be read is bad data, not a bad
		 * command line. */
		return hf_tokenizer(a->vocab ? a->vocab : a->encoding) ? EXIT_DATA : EXIT_USAGE;
	}
	if (a->allow_all)
		tok_allow_special(j.v, NULL);
	for (int i = 0; i < a->nallow; i++)
		if (tok_allow_special(j.v, a->allow[i]) < 0) {
			cli_error(NULL, "--allow-special: %s has no special token '%s'", tok_name(j.v), a->allow[i]);
			tok_free(j.v);
			return EXIT_USAGE;
		}
	j.eot = tok_special(j.v, "<|endoftext|>");
	if (a->chat && !(j.chat = chat_template_new(a->chat, j.v, err, sizeof(err)))) {
		cli_error(NULL, "--chat: %s", err);
		tok_free(j.v);
		return EXIT_USAGE;
	}
	if (a->eot && j.eot == TOK_NONE) {
		cli_error(NULL, "--eot: %s has no <|endoftext|> token", tok_name(j.v));
		tok_free(j.v);
		return EXIT_USAGE;
	}
	int ret = EXIT_OK;
	j.out = output_open(a->co.output, (output_format)a->out_fmt, NULL, a->co.force, &ret);
	if (!j.out) {
		tok_free(j.v);
		return ret;
	}
	if (a->rejects && !(j.rejects = output_open(a->rejects, OUTPUT_RECORDS, NULL, 1, &ret))) {
		output_close(j.out, ret);
		tok_free(j.v);
		return ret;
	}
	if (!a->decode) {
		buf m = { 0 };
		stream_meta(&j, &m);
		output_set_meta(j.out, (const char *)m.data, m.len);
		buf_release(&m);
	}
	j.states = xcalloc((size_t)a->co.threads, sizeof(*j.states));
	j.scratch = xcalloc((size_t)a->co.threads, sizeof(*j.scratch));
	j.replaced = xcalloc((size_t)a->co.threads, sizeof(*j.replaced));
	j.skipped = xcalloc((size_t)a->co.threads, sizeof(*j.skipped));
	for (int i = 0; i < a->co.threads; i++)
		j.states[i] = tok_state_new(j.v);
	int chat_enc = a->chat && !a->decode;
	if (chat_enc) {
		j.convs = xcalloc((size_t)a->co.threads, sizeof(*j.convs));
		j.renders = xcalloc((size_t)a->co.threads, sizeof(*j.renders));
	}
	j.counts = cli_counts_new();
	cli_counts_add(j.counts, "records", 0);
	cli_counts_add(j.counts, "tokens", 0);
	cli_progress_init(&j.prog, a->co.progress);
	par *p = par_new(a->co.threads, a->decode ? decode_record : chat_enc ? encode_chat_record : encode_record,
			 emit_record, &j);
	rec *r = rec_new();
	uint64_t in_bytes = 0, in_replaced = 0;
	int strict = a->strict && !a->decode;
	for (int i = 0; i < nfiles && ret == EXIT_OK; i++) {
		input *in = cli_input_open(files[i], a->co.in_fmt);
		if (!in) {
			ret = EXIT_DATA;
			break;
		}
		/* Text that is not UTF-8 comes repaired; --strict rejects it. */
		input_repair_utf8(in);
		/* Records already in flight keep the name of the file being read:
		 * drain between files so messages name the right one. */
		j.inname = input_path(in);
		j.recno = 0;
		if (a->decode && decode_chat_for(&j, in) < 0) {
			ret = EXIT_DATA;
			input_close(in);
			break;
		}
		int got;
		while ((got = input_read(in, r)) == 1) {
			j.bytes_in = in_bytes + input_bytes(in);
			const char *bad = strict ? input_repaired(in) : NULL;
			if (bad) {
				/* Set aside in order, after the records before it. */
				cli_error(input_path(in), "%s: record rejected (--strict)", bad);
				if (par_finish(p) < 0 || emit_record(&j, r, BAD_UTF8, NULL) < 0) {
					got = -2;
					break;
				}
				continue;
			}
			if (par_push(p, r) < 0) {
				got = -2;
				break;
			}
		}
		if (!strict)
			in_replaced += input_replaced(in);
		if (got == 0 && par_finish(p) < 0)
			got = -2;
		if (got == -1) {
			cli_progress_done(&j.prog);
			cli_error(input_path(in), "%s", input_error(in));
		}
		if (got < 0)
			ret = EXIT_DATA;
		in_bytes += input_bytes(in);
		input_close(in);
	}
	cli_progress_done(&j.prog);
	par_free(p);
	rec_free(r);
	uint64_t replaced = in_replaced, skipped = 0;
	for (int i = 0; i < a->co.threads; i++) {
		replaced += j.replaced[i];
		skipped += j.skipped[i];
		tok_state_free(j.states[i]);
		buf_release(&j.scratch[i]);
		if (chat_enc) {
			chat_conv_release(&j.convs[i]);
			chat_out_release(&j.renders[i]);
		}
	}
	if (replaced)
		cli_counts_add(j.counts, "replaced_chars", replaced);
	if (skipped) {
		cli_counts_add(j.counts, "skipped_bytes", skipped);
		cli_warn(NULL, "warning: the pattern left %llu bytes of text unmatched; they have no tokens",
			 (unsigned long long)skipped);
	}
	if (output_close(j.out, ret) < 0)
		ret = EXIT_DATA;
	if (output_close(j.rejects, ret) < 0)
		ret = EXIT_DATA;
	if (ret == EXIT_OK || ret == EXIT_DATA) {
		if (!a->co.quiet)
			cli_counts_print(j.counts, stderr);
		if (a->co.stats && cli_counts_write_json(j.counts, a->co.stats) < 0)
			ret = EXIT_DATA;
	}
	cli_counts_free(j.counts);
	free(j.states);
	free(j.scratch);
	free(j.replaced);
	free(j.skipped);
	free(j.convs);
	free(j.renders);
	chat_conv_release(&j.emit_conv);
	chat_template_free(j.chat);
	tok_free(j.v);
	return ret;
}

/* ---- training ---- */

static int run_train(const struct args *a, char **files, int nfiles)
{
	const char *pattern = a->pattern;
	char err[1024];
	tok_vocab *ref = NULL;
	if (!pattern) {
		/* The default pattern is GPT-4's (cl100k_base). */
		ref = tok_load("cl100k_base", NULL, err, sizeof(err));
		if (!ref) {
			cli_error(NULL, "no --pattern given and the default cannot be read: %s", err);
			return EXIT_USAGE;
		}
		pattern = tok_pattern(ref);
	}
	bpe_trainer *t = bpe_train_new(pattern, err, sizeof(err));
	if (!t) {
		cli_error(NULL, "--pattern: %s", err);
		tok_free(ref);
		return EXIT_USAGE;
	}
	/* Every k-th document is held out, k from the fraction: deterministic. */
	uint64_t every = a->heldout > 0 ? (uint64_t)(1.0 / a->heldout + 0.5) : 0;
	buf held = { 0 };
	size_t *held_len = NULL, held_cap = 0;
	uint64_t ndoc = 0, nheld = 0, train_bytes = 0, skipped = 0;
	int ret = EXIT_OK;
	rec *r = rec_new();
	buf clean = { 0 };
	cli_progress prog;
	cli_progress_init(&prog, a->co.progress);
	for (int i = 0; i < nfiles && ret == EXIT_OK; i++) {
		input *in = cli_input_open(files[i], a->co.in_fmt);
		if (!in) {
			ret = EXIT_DATA;
			break;
		}
		int got;
		while ((got = input_read(in, r)) == 1) {
			const rec_field *f = rec_get(r, a->field);
			if (!f || f->type != REC_STR) {
				skipped++;
				continue;
			}
			ndoc++;
			const uint8_t *text = f->val;
			size_t len = f->len;
			if (utf8_valid_prefix(text, len) != len) {
				buf_reset(&clean);
				utf8_repair(&clean, text, len);
				text = clean.data;
				len = clean.len;
			}
			if (every && ndoc % every == 0) {
				if (nheld == held_cap) {
					held_cap = held_cap ? 2 * held_cap : 1024;
					held_len = xrealloc(held_len, held_cap * sizeof(*held_len));
				}
				buf_add(&held, text, len);
				held_len[nheld++] = len;
				continue;
			}
			if (a->max_train_bytes && train_bytes >= a->max_train_bytes)
				continue;
			if (bpe_train_add(t, text, len, err, sizeof(err)) < 0) {
				cli_error(input_path(in), "record %llu: %s", (unsigned long long)input_records(in), err);
				got = -2;
				break;
			}
			train_bytes += len;
			cli_progress_update(&prog, ndoc, input_bytes(in));
		}
		if (got == -1) {
			cli_progress_done(&prog);
			cli_error(input_path(in), "%s", input_error(in));
		}
		if (got < 0)
			ret = EXIT_DATA;
		input_close(in);
	}
	cli_progress_done(&prog);
	rec_free(r);
	buf_release(&clean);
	if (ret == EXIT_OK) {
		const char *base = strrchr(a->co.output, '/');
		base = base ? base + 1 : a->co.output;
		if (bpe_train_run(t, (uint32_t)a->vocab_size, err, sizeof(err)) < 0 ||
		    bpe_train_write(t, a->co.output, base, err, sizeof(err)) < 0) {
			cli_error(NULL, "%s", err);
			ret = EXIT_DATA;
		}
	}
	if (ret == EXIT_OK) {
		char path[4096];
		snprintf(path, sizeof(path), "%s.tiktoken", a->co.output);
		tok_vocab *v = tok_load(path, NULL, err, sizeof(err));
		if (!v) {
			cli_error(NULL, "the vocabulary written does not load: %s", err);
			ret = EXIT_DATA;
		} else {
			cli_counts *c = cli_counts_new();
			cli_counts_add(c, "documents", ndoc - nheld);
			cli_counts_add(c, "train_bytes", train_bytes);
			cli_counts_add(c, "vocab_size", tok_n_vocab(v));
			cli_counts_add(c, "merges", bpe_train_merges(t));
			if (skipped)
				cli_counts_add(c, "no_text", skipped);
			cli_counts_add(c, "heldout_documents", nheld);
			if (!a->co.quiet)
				cli_counts_print(c, stderr);
			if (nheld && !a->co.quiet) {
				tok_state *s = tok_state_new(v);
				size_t replaced, n = 0, total = 0;
				const uint8_t *p = held.data;
				for (uint64_t k = 0; k < nheld; p += held_len[k++])
					if (tok_encode(s, p, held_len[k], &replaced, err, sizeof(err)) == 0) {
						tok_ids(s, &n);
						total += n;
					}
				tok_state_free(s);
				double bpt = total ? (double)held.len / (double)total : 0;
				fprintf(stderr, "%s: held-out text: %zu bytes, %zu tokens, %.4f bytes per token\n",
					cli_prog(), held.len, total, bpt);
			}
			if (a->co.stats && cli_counts_write_json(c, a->co.stats) < 0)
				ret = EXIT_DATA;
			cli_counts_free(c);
			tok_free(v);
		}
	}
	buf_release(&held);
	free(held_len);
	bpe_train_free(t);
	tok_free(ref);
	return ret;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	cli_init("sluice-tokenize");
	int ret = parse_args(argc, argv, &a);
	if (ret)
		return ret;
	int nfiles;
	char **files = cli_inputs(argc, argv, optind, &nfiles);
	ret = a.train ? run_train(&a, files, nfiles) : run_codec(&a, files, nfiles);
	if (cli_close_stdout() != EXIT_OK)
		ret = EXIT_DATA;
	return ret;
}

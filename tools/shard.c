/* sluice-shard: tokenized documents to packed, shuffled, mixed training
 * shards with a manifest (doc/sequences.md); llm.c .bin shards in and out. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "input.h"
#include "json.h"
#include "llmc.h"
#include "record.h"
#include "shard.h"
#include "tokenizer.h"
#include "util.h"

enum {
	OPT_SFT = 256, OPT_NO_SHUFFLE, OPT_VAL, OPT_SHARD_TOKENS, OPT_TRAIN_TOKENS, OPT_MEM, OPT_LLMC, OPT_ID_FIELD,
	OPT_TOKENS_FIELD, OPT_MASK_FIELD, OPT_EOT, OPT_N_VOCAB, OPT_TOKENIZER,
};

struct source_arg {
	const char *path;
	double weight;             /* < 0: none */
	char *owned;               /* path, when cut from "FILE:W" */
	int positional;            /* a FILE after the options */
};

struct args {
	cli_common co;
	shard_opts o;
	const char *dir, *id_field, *tokens_field, *mask_field, *tokenizer;
	uint64_t eot, n_vocab;
	struct source_arg *src;
	int nsrc;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: sluice-shard [OPTION]... -o DIR [FILE]...\n"
"Pack tokenized documents (records with a tokens field, as sluice-tokenize\n"
"writes them; JSONL with a tokens array; llm.c .bin token files) into\n"
"training shards in DIR: shuffled, split into train and validation, mixed\n"
"from weighted sources, with DIR/manifest.json.\n"
"\n"
"Sources:\n"
"  -i, --input FILE[:W]   a source; W is its share of the training tokens\n"
"                         (repeatable; FILEs after the options have no weight)\n"
"      --train-tokens N   training tokens after mixing (default: the sources'\n"
"                         own total)\n"
"Sequences:\n"
"  -T, --seq-len T        model context: sequences of T+1 tokens (default 1024)\n"
"      --sft              one example per sequence, padded, with a loss mask\n"
"                         (default: documents packed end to end)\n"
"  -s, --seed N           shuffle seed (default 1)\n"
"      --no-shuffle       keep the input order\n"
"      --val F            fraction of documents for validation, chosen by a hash\n"
"                         of the document id (default 0)\n"
"      --id-field NAME    the document id (default id; absent: the tokens)\n"
"      --tokens-field NAME  (default tokens)\n"
"      --mask-field NAME  the SFT loss mask (default mask)\n"
"Vocabulary (when the input does not name it):\n"
"      --tokenizer NAME   --n-vocab N   --eot ID\n"
"Output:\n"
"  -o, --output DIR       write DIR/train-00000.slc ..., DIR/val-00000.slc ...\n"
"      --shard-tokens N   tokens per shard (default 100M; K, M, G suffixes)\n"
"      --llmc             write llm.c .bin shards (uint16 tokens) instead\n"
"      --mem SIZE         token bytes held in memory; beyond, they spill to a\n"
"                         temporary file in DIR (default 1G)\n"
"  -l, --level N          zstd level of the shards (default 1)\n"
"  -j, --threads N        compression threads (output identical for any N)\n"
"      --stats FILE       write the counts there as JSON\n"
"      --progress         show a progress line even when stderr is not a terminal\n"
"      --quiet            no progress line, summary or warnings\n"
"  -h, --help             show this help\n"
"  -V, --version          show the version\n"
"\n"
"Exit status: 0 ok, 1 data or I/O error, 2 usage error.\n");
}

/* "FILE:W" with W a number: a weighted source; otherwise all of it is the
 * path. */
static struct source_arg parse_source(const char *s)
{
	struct source_arg a = { s, -1, NULL, 0 };
	const char *colon = strrchr(s, ':');
	if (colon && colon[1]) {
		char *end;
		errno = 0;
		double w = strtod(colon + 1, &end);
		if (!errno && !*end) {
			a.path = a.owned = xstrndup(s, (size_t)(colon - s));
			a.weight = w;
		}
	}
	return a;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "train-tokens", required_argument, NULL, OPT_TRAIN_TOKENS },
		{ "seq-len", required_argument, NULL, 'T' },
		{ "sft", no_argument, NULL, OPT_SFT },
		{ "seed", required_argument, NULL, 's' },
		{ "no-shuffle", no_argument, NULL, OPT_NO_SHUFFLE },
		{ "val", required_argument, NULL, OPT_VAL },
		{ "id-field", required_argument, NULL, OPT_ID_FIELD },
		{ "tokens-field", required_argument, NULL, OPT_TOKENS_FIELD },
		{ "mask-field", required_argument, NULL, OPT_MASK_FIELD },
		{ "tokenizer", required_argument, NULL, OPT_TOKENIZER },
		{ "n-vocab", required_argument, NULL, OPT_N_VOCAB },
		{ "eot", required_argument, NULL, OPT_EOT },
		CLI_OPTION_OUTPUT,
		{ "shard-tokens", required_argument, NULL, OPT_SHARD_TOKENS },
		{ "llmc", no_argument, NULL, OPT_LLMC },
		{ "mem", required_argument, NULL, OPT_MEM },
		{ "level", required_argument, NULL, 'l' },
		CLI_OPTION_THREADS,
		CLI_OPTION_STATS,
		CLI_OPTION_PROGRESS,
		CLI_OPTION_QUIET,
		CLI_OPTIONS_END,
	};
	a->o.seq_len = 1025;
	a->o.shuffle = 1;
	a->o.seed = 1;
	a->o.shard_tokens = 100000000;
	a->o.mem = 1ull << 30;
	a->o.level = 1;  /* tokens compress little better higher up; speed matters more */
	a->id_field = "id";
	a->tokens_field = "tokens";
	a->mask_field = "mask";
	a->eot = UINT32_MAX;
	a->src = xcalloc((size_t)argc + 1, sizeof(*a->src));
	int c, r, weighted = 0;
	uint64_t v;
	while ((c = cli_getopt(argc, argv, "i:T:s:o:l:j:hV", opts)) != -1) {
		switch (c) {
		case 'i':
			a->src[a->nsrc] = parse_source(optarg);
			if (a->src[a->nsrc].weight >= 0 && !(a->src[a->nsrc].weight > 0 && a->src[a->nsrc].weight < 1e9))
				return cli_usage_error("--input %s: a weight must be a positive number", optarg);
			weighted += a->src[a->nsrc++].weight > 0;
			break;
		case OPT_TRAIN_TOKENS:
			if (cli_parse_u64(optarg, 1, UINT64_MAX, 1, &a->o.train_tokens) < 0)
				return cli_bad_value(opts, c, optarg, "a count");
			break;
		case 'T':
			if (cli_parse_u64(optarg, 1, 1u << 24, 1, &v) < 0)
				return cli_bad_value(opts, c, optarg, "1 to 16M");
			a->o.seq_len = (uint32_t)v + 1;
			break;
		case OPT_SFT: a->o.sft = 1; break;
		case 's':
			if (cli_parse_u64(optarg, 0, UINT64_MAX, 0, &a->o.seed) < 0)
				return cli_bad_value(opts, c, optarg, "a number");
			break;
		case OPT_NO_SHUFFLE: a->o.shuffle = 0; break;
		case OPT_VAL: {
			char *end;
			errno = 0;
			a->o.val_fraction = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(a->o.val_fraction >= 0 && a->o.val_fraction <= 1))
				return cli_bad_value(opts, c, optarg, "a fraction in [0, 1]");
			break;
		}
		case OPT_ID_FIELD: a->id_field = optarg; break;
		case OPT_TOKENS_FIELD: a->tokens_field = optarg; break;
		case OPT_MASK_FIELD: a->mask_field = optarg; break;
		case OPT_TOKENIZER: a->tokenizer = optarg; break;
		case OPT_N_VOCAB:
			if (cli_parse_u64(optarg, 1, UINT32_MAX, 0, &a->n_vocab) < 0)
				return cli_bad_value(opts, c, optarg, "a count");
			break;
		case OPT_EOT:
			if (cli_parse_u64(optarg, 0, UINT32_MAX - 1, 0, &a->eot) < 0)
				return cli_bad_value(opts, c, optarg, "a token id");
			break;
		case OPT_SHARD_TOKENS:
			if (cli_parse_u64(optarg, 1, LLMC_MAX_TOKENS, 1, &a->o.shard_tokens) < 0)
				return cli_bad_value(opts, c, optarg, "1 to 2G-1");
			break;
		case OPT_LLMC: a->o.llmc = 1; break;
		case OPT_MEM:
			if (cli_parse_u64(optarg, 1, UINT64_MAX, 1, &a->o.mem) < 0)
				return cli_bad_value(opts, c, optarg, "a size");
			break;
		case 'l':
			if (cli_parse_int(optarg, 1, 19, &a->o.level) < 0)
				return cli_bad_value(opts, c, optarg, "1 to 19");
			break;
		default:
			if ((r = cli_common_option(&a->co, c, optarg, opts, usage)) != 0)
				return r;
		}
	}
	a->dir = a->co.output;
	a->o.threads = a->co.threads ? a->co.threads : 1;
	for (int i = optind; i < argc; i++)
		a->src[a->nsrc++] = (struct source_arg){ argv[i], -1, NULL, 1 };
	if (!a->nsrc)
		a->src[a->nsrc++] = (struct source_arg){ "-", -1, NULL, 1 };
	if (weighted && weighted != a->nsrc)
		return cli_usage_error("either every source has a weight (-i FILE:W) or none has");
	if (!a->dir)
		return cli_usage_error("no output directory (-o DIR)");
	if (a->o.sft && a->o.llmc)
		return cli_usage_error("--sft writes masks, which llm.c's .bin shards cannot hold");
	return 0;
}

/* The vocabulary named in a stream's header metadata, if any. */
static int source_vocab(shard *sh, input *in, char *err, size_t errlen)
{
	size_t len;
	const char *meta = input_meta(in, &len);
	if (!len)
		return 0;
	rec *m = rec_new();
	char perr[256];
	int rc = 0;
	uint64_t n_vocab = 0, eot = UINT32_MAX;
	if (json_parse_line(m, meta, len, perr, sizeof(perr)) < 0) {
		snprintf(err, errlen, "stream metadata is not a JSON object: %s", perr);
		rc = -1;
	} else if (json_get_u64(m, "n_vocab", &n_vocab) < 0 || json_get_u64(m, "eot", &eot) < 0) {
		snprintf(err, errlen, "stream metadata: n_vocab and eot must be integers");
		rc = -1;
	} else {
		const rec_field *t = rec_get(m, "tokenizer");
		char *name = t && t->type == REC_STR ? xstrndup((const char *)t->val, t->len) : NULL;
		rc = shard_vocab(sh, name, n_vocab, eot, err, errlen);
		free(name);
		/* Conversations: the template goes on to the shards. */
		const rec_field *ct = rec_get(m, "chat_template"), *ids = rec_get(m, "chat_tokens");
		if (rc == 0 && ct && ct->type == REC_STR && ids && ids->type == REC_JSON) {
			char *chat = xstrndup((const char *)ct->val, ct->len);
			char *tokens = xstrndup((const char *)ids->val, ids->len);
			rc = shard_chat(sh, chat, tokens, err, errlen);
			free(chat);
			free(tokens);
		}
	}
	rec_free(m);
	return rc;
}

static int add_records(shard *sh, const struct args *a, const char *path, cli_progress *prog, uint64_t *nrec)
{
	input *in = cli_input_open(path, INPUT_AUTO);
	if (!in)
		return EXIT_DATA;
	rec *r = rec_new();
	buf tok = { 0 };
	char err[1024];
	int got, ret = EXIT_OK;
	uint64_t n = 0;
	while ((got = input_read(in, r)) == 1) {
		if (n++ == 0 && source_vocab(sh, in, err, sizeof(err)) < 0) {
			cli_error(input_path(in), "%s", err);
			ret = EXIT_DATA;
			break;
		}
		const rec_field *t = rec_get(r, a->tokens_field);
		if (!t || t->type != REC_U32S) {
			cli_error(input_path(in), "record %llu: no '%s' field of token ids (tokenize the text first)",
				  (unsigned long long)n, a->tokens_field);
			ret = EXIT_DATA;
			break;
		}
		size_t ntok = t->len / 4;
		buf_reset(&tok);
		buf_grow(&tok, t->len);
		uint32_t *ids = (uint32_t *)(void *)tok.data;
		for (size_t i = 0; i < ntok; i++)
			ids[i] = load_u32le(t->val + 4 * i);
		const rec_field *id = rec_get(r, a->id_field);
		const rec_field *mask = a->o.sft ? rec_get(r, a->mask_field) : NULL;
		if (mask && (mask->type != REC_U8S || mask->len != ntok)) {
			cli_error(input_path(in), "record %llu: '%s' must be %zu bytes, one per token",
				  (unsigned long long)n, a->mask_field, ntok);
			ret = EXIT_DATA;
			break;
		}
		if (shard_add(sh, id ? id->val : NULL, id ? id->len : 0, ids, ntok, mask ? mask->val : NULL, err,
			      sizeof(err)) < 0) {
			cli_error(input_path(in), "record %llu: %s", (unsigned long long)n, err);
			ret = EXIT_DATA;
			break;
		}
		cli_progress_update(prog, ++*nrec, input_bytes(in));
	}
	if (got < 0) {
		cli_progress_done(prog);
		cli_error(input_path(in), "%s", input_error(in));
		ret = EXIT_DATA;
	}
	if (ret == EXIT_OK && n == 0 && source_vocab(sh, in, err, sizeof(err)) < 0) {
		cli_error(input_path(in), "%s", err);
		ret = EXIT_DATA;
	}
	buf_release(&tok);
	rec_free(r);
	input_close(in);
	return ret;
}

/* llm.c writes GPT-2 tokens in its version 1 files. */
static int add_llmc(shard *sh, const char *path)
{
	char err[1024];
	llmc_reader *r = llmc_open(path, err, sizeof(err));
	if (!r) {
		cli_error(path, "%s", err);
		return EXIT_DATA;
	}
	int rc = 0;
	if (llmc_version(r) == 1 && shard_eot(sh) == UINT32_MAX)
		rc = shard_vocab(sh, "gpt2", 50257, 50256, err, sizeof(err));
	if (rc == 0 && shard_eot(sh) == UINT32_MAX) {
		snprintf(err, sizeof(err), "version 2 files name no tokenizer: give --eot");
		rc = -1;
	}
	if (rc == 0)
		rc = shard_add_llmc(sh, r, err, sizeof(err));
	if (rc < 0)
		cli_error(path, "%s", err);
	llmc_close(r);
	return rc < 0 ? EXIT_DATA : EXIT_OK;
}

static int is_llmc(const char *path)
{
	if (strcmp(path, "-") == 0)
		return 0;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;  /* the reader that follows reports it */
	uint8_t h[8];
	ssize_t n = read(fd, h, sizeof(h));
	close(fd);
	return n == (ssize_t)sizeof(h) && llmc_sniff(h, sizeof(h));
}

static void free_args(struct args *a)
{
	for (int i = 0; i < a->nsrc; i++)
		free(a->src[i].owned);
	free(a->src);
}

int main(int argc, char **argv)
{
	cli_init("sluice-shard");
	struct args a = { 0 };
	int ret = parse_args(argc, argv, &a);
	if (ret) {
		free_args(&a);
		return ret;
	}
	char err[1024];
	/* The progress line of writing the shards. */
	cli_progress wprog;
	a.o.progress = cli_progress_hook;
	a.o.progress_ctx = &wprog;
	shard *sh = shard_new(&a.o, a.dir, err, sizeof(err));
	if (!sh) {
		cli_error(NULL, "%s", err);
		free_args(&a);
		return EXIT_DATA;
	}
	/* --tokenizer by the name the streams' headers use (a model
	 * directory's real path), so the two compare equal. */
	static char tokname[TOK_NAME_MAX];
	if (a.tokenizer && tok_canonical_name(a.tokenizer, tokname, sizeof(tokname)) < 0) {
		cli_error(NULL, "--tokenizer %s: %s", a.tokenizer, strerror(errno));
		shard_free(sh);
		free_args(&a);
		return EXIT_USAGE;
	}
	if ((a.tokenizer || a.n_vocab || a.eot != UINT32_MAX) &&
	    shard_vocab(sh, a.tokenizer ? tokname : NULL, a.n_vocab, a.eot, err, sizeof(err)) < 0) {
		cli_error(NULL, "%s", err);
		shard_free(sh);
		free_args(&a);
		return EXIT_USAGE;
	}
	cli_counts *counts = cli_counts_new();
	cli_progress prog;
	cli_progress_init(&prog, a.co.progress);
	uint64_t nrec = 0;
	/* Each -i FILE is a source; the FILEs after the options are together
	 * one more, so that a dataset in pieces stays one source. */
	for (int i = 0; i < a.nsrc && ret == EXIT_OK; i++) {
		if ((!a.src[i].positional || i == 0 || !a.src[i - 1].positional) &&
		    shard_source(sh, a.src[i].weight, err, sizeof(err)) < 0) {
			cli_error(i ? a.src[i - 1].path : NULL, "%s", err);
			ret = EXIT_DATA;
			break;
		}
		shard_source_file(sh, cli_name(a.src[i].path, 0));
		ret = is_llmc(a.src[i].path) ? add_llmc(sh, a.src[i].path) : add_records(sh, &a, a.src[i].path, &prog, &nrec);
	}
	cli_progress_done(&prog);
	if (ret == EXIT_OK) {
		cli_counts_add(counts, "records", nrec);
		cli_progress_init(&wprog, a.co.progress);
		if (shard_write_data(sh, cli_counts_hook, counts, err, sizeof(err)) < 0) {
			cli_error(NULL, "%s", err);
			ret = EXIT_DATA;
		}
		cli_progress_done(&wprog);
	}
	/* The counts before the manifest, which is written last, only when
	 * everything else was. */
	if (ret == EXIT_OK && a.co.stats && cli_counts_write_json(counts, a.co.stats) < 0)
		ret = EXIT_DATA;
	if (ret == EXIT_OK && shard_write_manifest(sh, err, sizeof(err)) < 0) {
		cli_error(NULL, "%s", err);
		ret = EXIT_DATA;
	}
	if (ret == EXIT_OK && !a.co.quiet)
		cli_counts_print(counts, stderr);
	cli_counts_free(counts);
	shard_free(sh);
	free_args(&a);
	return ret;
}

/* sluice-cat: records <-> JSONL <-> text; --head, --skip, --stats, --check. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "input.h"
#include "json.h"
#include "output.h"
#include "record.h"
#include "stream.h"
#include "util.h"

enum { OPT_SKIP = 256, OPT_INDEX };

struct args {
	cli_common co;
	int out_fmt;            /* output_format, or -1 for none */
	uint64_t head, skip;
	int have_head;
	int stats, check, index;
	int level;
	uint64_t block_size;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: sluice-cat [OPTION]... [FILE]...\n"
"Read records, JSONL or text lines from FILEs (or stdin) and write them as\n"
"JSONL (default), a record stream, or text.  Inputs may be zstd-compressed.\n"
"\n"
"Output:\n"
"  -J, --jsonl            write JSONL, one object per record (default)\n"
"  -r, --records          write a sluice record stream\n"
"  -t, --text             write the text field of each record, one per line\n"
"  -o, --output FILE      write to FILE instead of stdout\n"
"  -n, --head N           stop after N records\n"
"      --skip N           skip the first N records (seeks when indexed)\n"
"  -s, --stats            print statistics of the input as JSON instead\n"
"  -c, --check            verify the input, print a summary, exit 1 on damage\n"
"Record streams written:\n"
"  -l, --level N          zstd level, 1-19 (default 3)\n"
"  -B, --block-size SIZE  uncompressed bytes per frame (default 1M; K, M suffixes)\n"
"      --index            append an index for random access\n"
"  -j, --threads N        compression threads (default 1)\n"
"  -f, --force            write binary even to a terminal\n"
"Input:\n"
"      --input-format F   auto (default), records, jsonl or text\n"
"General:\n"
"      --progress         show a progress line even when stderr is not a terminal\n"
"      --quiet            no progress line, summary or warnings\n"
"  -h, --help             show this help and exit\n"
"  -V, --version          show the version and exit\n"
"\n"
"Exit status: 0 ok, 1 data or I/O error, 2 usage error.\n"
"See sluice-cat(1) and sluice-stream(5).\n");
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		CLI_OPTION_JSONL,
		{ "records", no_argument, NULL, 'r' },
		{ "text", no_argument, NULL, 't' },
		CLI_OPTION_OUTPUT,
		{ "head", required_argument, NULL, 'n' },
		{ "skip", required_argument, NULL, OPT_SKIP },
		/* Not the common --stats FILE: sluice-cat has no summary, and its
		 * statistics are its output. */
		{ "stats", no_argument, NULL, 's' },
		{ "check", no_argument, NULL, 'c' },
		{ "level", required_argument, NULL, 'l' },
		{ "block-size", required_argument, NULL, 'B' },
		{ "index", no_argument, NULL, OPT_INDEX },
		CLI_OPTION_THREADS,
		CLI_OPTION_FORCE,
		CLI_OPTION_INPUT_FORMAT,
		CLI_OPTION_PROGRESS,
		CLI_OPTION_QUIET,
		CLI_OPTIONS_END,
	};
	int c, r;
	a->out_fmt = OUTPUT_JSONL;
	a->level = 3;
	a->block_size = STREAM_BLOCK_DEFAULT;
	while ((c = cli_getopt(argc, argv, "Jrto:n:scl:B:j:fhV", opts)) != -1) {
		switch (c) {
		/* -J, -r and -t: the last one given wins. */
		case 'J': a->out_fmt = OUTPUT_JSONL; break;
		case 'r': a->out_fmt = OUTPUT_RECORDS; break;
		case 't': a->out_fmt = OUTPUT_TEXT; break;
		case 'n':
			if (cli_parse_u64(optarg, 0, UINT64_MAX, 0, &a->head) < 0)
				return cli_bad_value(opts, c, optarg, "a count");
			a->have_head = 1;
			break;
		case OPT_SKIP:
			if (cli_parse_u64(optarg, 0, UINT64_MAX, 0, &a->skip) < 0)
				return cli_bad_value(opts, c, optarg, "a count");
			break;
		case 's': a->stats = 1; break;
		case 'c': a->check = 1; break;
		case 'l':
			if (cli_parse_int(optarg, 1, 19, &a->level) < 0)
				return cli_bad_value(opts, c, optarg, "1 to 19");
			break;
		case 'B':
			if (cli_parse_u64(optarg, STREAM_BLOCK_MIN, STREAM_BLOCK_MAX, 1, &a->block_size) < 0)
				return cli_bad_value(opts, c, optarg, "4K to 64M");
			break;
		case OPT_INDEX: a->index = 1; break;
		default:
			if ((r = cli_common_option(&a->co, c, optarg, opts, usage)) != 0)
				return r;
		}
	}
	if (!a->co.threads)
		a->co.threads = 1;
	if (a->stats && a->check)
		return cli_usage_error("--stats and --check exclude each other");
	return 0;
}

/* ---- statistics: counts by field name ---- */

struct field_stat {
	char name[REC_NAME_MAX + 1];
	char types[8];
	uint64_t count, bytes;
};

struct stats {
	struct field_stat *f;
	size_t n, cap;
	uint64_t records, tokens, text_bytes;
};

static void stats_add(struct stats *s, const rec *r)
{
	s->records++;
	for (size_t i = 0; i < rec_nfields(r); i++) {
		const rec_field *f = rec_field_at(r, i);
		struct field_stat *fs = NULL;
		for (size_t k = 0; k < s->n && !fs; k++)
			if (strlen(s->f[k].name) == f->name_len && memcmp(s->f[k].name, f->name, f->name_len) == 0)
				fs = &s->f[k];
		if (!fs) {
			if (s->n == s->cap) {
				s->cap = s->cap ? 2 * s->cap : 16;
				s->f = xrealloc(s->f, s->cap * sizeof(*s->f));
			}
			fs = &s->f[s->n++];
			memset(fs, 0, sizeof(*fs));
			memcpy(fs->name, f->name, f->name_len);
		}
		if (!strchr(fs->types, f->type) && strlen(fs->types) < sizeof(fs->types) - 1)
			fs->types[strlen(fs->types)] = (char)f->type;
		fs->count++;
		fs->bytes += f->len;
		if (f->type == REC_U32S && rec_field_is(f, "tokens"))
			s->tokens += f->len / 4;
		if (f->type == REC_STR && rec_field_is(f, "text"))
			s->text_bytes += f->len;
	}
}

/* Field names come from users: write them through the JSON writer. */
static void json_name(buf *out, const char *name)
{
	rec *r = rec_new();
	char err[128];
	buf tmp = { 0 };
	rec_set(r, name, strlen(name), REC_STR, "", 0);
	if (json_write_record(&tmp, r, err, sizeof(err)) == 0 && tmp.len > 8)
		buf_add(out, tmp.data + 1, tmp.len - 7); /* {"NAME": ""}\n -> "NAME" */
	else
		buf_adds(out, "\"?\"");
	buf_release(&tmp);
	rec_free(r);
}

static void stats_print(const struct stats *s, uint64_t in_bytes, uint64_t blocks, const char *fmt)
{
	buf o = { 0 };
	char tmp[512];
	snprintf(tmp, sizeof(tmp),
		 "{\"format\": \"%s\", \"records\": %llu, \"bytes_in\": %llu, \"blocks\": %llu, "
		 "\"text_bytes\": %llu, \"tokens\": %llu, \"fields\": {",
		 fmt, (unsigned long long)s->records, (unsigned long long)in_bytes, (unsigned long long)blocks,
		 (unsigned long long)s->text_bytes, (unsigned long long)s->tokens);
	buf_adds(&o, tmp);
	for (size_t i = 0; i < s->n; i++) {
		if (i)
			buf_adds(&o, ", ");
		json_name(&o, s->f[i].name);
		snprintf(tmp, sizeof(tmp), ": {\"type\": \"%s\", \"count\": %llu, \"bytes\": %llu}", s->f[i].types,
			 (unsigned long long)s->f[i].count, (unsigned long long)s->f[i].bytes);
		buf_adds(&o, tmp);
	}
	buf_adds(&o, "}}\n");
	fwrite(o.data, 1, o.len, stdout);
	buf_release(&o);
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	cli_init("sluice-cat");
	int ret = parse_args(argc, argv, &a);
	if (ret)
		return ret;
	if (a.check || a.stats)
		a.out_fmt = -1;

	output *o = NULL;
	if (a.out_fmt >= 0) {
		stream_writer_opts wo = { a.level, a.block_size, a.co.threads, a.index };
		o = output_open(a.co.output, (output_format)a.out_fmt, &wo, a.co.force, &ret);
		if (!o)
			return ret;
	}

	int nfiles;
	char **files = cli_inputs(argc, argv, optind, &nfiles);

	struct stats st = { 0 };
	cli_progress prog;
	cli_progress_init(&prog, a.co.progress);
	rec *r = rec_new();
	uint64_t seen = 0, written = 0, in_bytes = 0, blocks = 0;
	int meta_set = 0;
	buf meta = { 0 };       /* the header metadata written */
	input_format shown = INPUT_AUTO;
	ret = EXIT_OK;
	for (int i = 0; i < nfiles && ret == EXIT_OK; i++) {
		if (a.have_head && written >= a.head)
			break;
		input *in = cli_input_open(files[i], a.co.in_fmt);
		if (!in) {
			ret = EXIT_DATA;
			break;
		}
		uint64_t recno = 0;
		int meta_checked = 0;
		if (seen < a.skip && input_seek(in, a.skip - seen) == 0) {
			recno = a.skip - seen;
			seen = a.skip;
		}
		int got;
		while ((got = input_read(in, r)) == 1) {
			recno++;
			if (seen < a.skip) {
				seen++;
				continue;
			}
			if (a.have_head && written >= a.head)
				break;
			if (a.stats) {
				stats_add(&st, r);
			} else if (a.out_fmt >= 0) {
				size_t ml;
				const char *m = input_meta(in, &ml);
				if (!meta_set) {
					output_set_meta(o, m, ml);
					buf_add(&meta, m, ml);
					meta_set = meta_checked = 1;
				}
				/* One header describes every record of a stream written:
				 * streams that disagree with it cannot join it. */
				char why[256];
				if (!meta_checked && a.out_fmt == OUTPUT_RECORDS && input_detected(in) == INPUT_RECORDS &&
				    !stream_meta_agree((const char *)meta.data, meta.len, m, ml, why, sizeof(why))) {
					cli_error(input_path(in), "cannot join the stream written: its header disagrees "
						  "with the first input's: %s", why);
					got = -2;
					break;
				}
				meta_checked = 1;
				char where[512];
				snprintf(where, sizeof(where), "%s: record %llu", input_path(in), (unsigned long long)recno);
				if (output_write(o, r, where) < 0) {
					got = -2;
					break;
				}
			}
			written++;
			cli_progress_update(&prog, written, input_bytes(in));
		}
		if (got == -1) {
			cli_progress_done(&prog);
			cli_error(input_path(in), "%s", input_error(in));
		}
		if (got < 0)
			ret = EXIT_DATA;
		if (got == 0 && a.check)
			printf("%s: ok, %s, %llu records\n", input_path(in), input_format_name(input_detected(in)),
			       (unsigned long long)input_records(in));
		if (input_detected(in) != INPUT_AUTO)
			shown = shown == INPUT_AUTO || shown == input_detected(in) ? input_detected(in) : shown;
		in_bytes += input_bytes(in);
		if (input_stream(in))
			blocks += stream_reader_blocks(input_stream(in));
		input_close(in);
	}
	cli_progress_done(&prog);
	rec_free(r);
	if (a.stats && ret == EXIT_OK)
		stats_print(&st, in_bytes, blocks, input_format_name(shown));
	free(st.f);
	buf_release(&meta);
	if (output_close(o, ret) < 0)
		ret = EXIT_DATA;
	if (cli_close_stdout() != EXIT_OK)
		ret = EXIT_DATA;
	return ret;
}

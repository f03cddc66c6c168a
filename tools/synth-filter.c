/* sluice-synth-filter: quality rules, decontamination, verifiers, rewards. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "decon.h"
#include "input.h"
#include "json.h"
#include "output.h"
#include "parallel.h"
#include "record.h"
#include "rules.h"
#include "stream.h"
#include "util.h"

enum { OUT_AUTO, OUT_JSONL, OUT_RECORDS };
enum { OPT_REJECTS = 256, OPT_DECON, OPT_DECON_N, OPT_DECON_FIELD, OPT_DECON_ACTION, OPT_REWARD,
       OPT_EXPLAIN, OPT_FIELD };

#define MAX_LIST 64

struct args {
	const char *presets[MAX_LIST], *rule_files[MAX_LIST], *sets[MAX_LIST], *decons[MAX_LIST];
	int npresets, nrule_files, nsets, ndecons;
	cli_common co;
	const char *field, *decon_field, *rejects;
	int decon_n, decon_action, reward, explain, out_fmt;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: sluice-synth-filter [OPTION]... [FILE]...\n"
"Apply quality rules, decontamination and answer verifiers to the records,\n"
"JSONL or text lines of FILEs (or stdin); write the records kept.\n"
"\n"
"Rules:\n"
"  -p, --preset NAME      gopher, gopher-quality, gopher-repetition, c4, fineweb, synth\n"
"  -R, --rules FILE       rules file (syntax in sluice-synth-filter(1))\n"
"  -s, --set NAME=VALUE   a rule's threshold, a C4 setting, or NAME=off\n"
"  -F, --field NAME       field the presets read (default text)\n"
"      --decon FILE       drop documents sharing an n-gram with FILE's texts\n"
"      --decon-n N        words per n-gram (default 13)\n"
"      --decon-field NAME field checked for contamination (default: --field)\n"
"      --decon-action A   drop (default) or flag\n"
"Output:\n"
"  -o, --output FILE      write kept records to FILE instead of stdout\n"
"  -J, --jsonl            write JSONL (default unless the input is records)\n"
"  -r, --records          write a record stream\n"
"      --rejects FILE     write dropped records there, with reject_rule, reject_value\n"
"      --reward           drop nothing; add reward and reward_NAME fields\n"
"      --explain          print every rule's value for every record on stderr\n"
"      --stats FILE       write the summary counts to FILE as JSON\n"
"  -j, --threads N        threads applying the rules beside the reader (default 1:\n"
"                         the reader applies them); output stays in input order\n"
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
"See sluice-synth-filter(1).\n");
}

static int push_list(const char **list, int *n, const char *v, const char *opt)
{
	if (*n >= MAX_LIST)
		return cli_usage_error("%s: at most %d times", opt, MAX_LIST);
	list[(*n)++] = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "preset", required_argument, NULL, 'p' },
		{ "rules", required_argument, NULL, 'R' },
		{ "set", required_argument, NULL, 's' },
		{ "field", required_argument, NULL, 'F' },
		{ "decon", required_argument, NULL, OPT_DECON },
		{ "decon-n", required_argument, NULL, OPT_DECON_N },
		{ "decon-field", required_argument, NULL, OPT_DECON_FIELD },
		{ "decon-action", required_argument, NULL, OPT_DECON_ACTION },
		CLI_OPTION_OUTPUT,
		CLI_OPTION_JSONL,
		{ "records", no_argument, NULL, 'r' },
		{ "rejects", required_argument, NULL, OPT_REJECTS },
		{ "reward", no_argument, NULL, OPT_REWARD },
		{ "explain", no_argument, NULL, OPT_EXPLAIN },
		CLI_OPTION_STATS,
		CLI_OPTION_THREADS,
		CLI_OPTION_FORCE,
		CLI_OPTION_INPUT_FORMAT,
		CLI_OPTION_PROGRESS,
		CLI_OPTION_QUIET,
		CLI_OPTIONS_END,
	};
	int c, ret;
	a->field = "text";
	a->decon_n = 13;
	a->decon_action = RULE_DROP;
	while ((c = cli_getopt(argc, argv, "p:R:s:F:o:Jrj:fhV", opts)) != -1) {
		ret = 0;
		switch (c) {
		case 'p': ret = push_list(a->presets, &a->npresets, optarg, "--preset"); break;
		case 'R': ret = push_list(a->rule_files, &a->nrule_files, optarg, "--rules"); break;
		case 's': ret = push_list(a->sets, &a->nsets, optarg, "--set"); break;
		case OPT_DECON: ret = push_list(a->decons, &a->ndecons, optarg, "--decon"); break;
		case 'F': a->field = optarg; break;
		case OPT_DECON_FIELD: a->decon_field = optarg; break;
		case OPT_DECON_N:
			if (cli_parse_int(optarg, 1, 64, &a->decon_n) < 0)
				return cli_bad_value(opts, c, optarg, "1 to 64");
			break;
		case OPT_DECON_ACTION:
			if (strcmp(optarg, "drop") == 0)
				a->decon_action = RULE_DROP;
			else if (strcmp(optarg, "flag") == 0)
				a->decon_action = RULE_FLAG;
			else
				return cli_bad_value(opts, c, optarg, "drop or flag");
			break;
		case 'J': a->out_fmt = OUT_JSONL; break;
		case 'r': a->out_fmt = OUT_RECORDS; break;
		case OPT_REJECTS: a->rejects = optarg; break;
		case OPT_REWARD: a->reward = 1; break;
		case OPT_EXPLAIN: a->explain = 1; break;
		default: ret = cli_common_option(&a->co, c, optarg, opts, usage); break;
		}
		if (ret)
			return ret;
	}
	if (!a->co.threads)
		a->co.threads = 1;
	if (!a->npresets && !a->nrule_files && !a->ndecons)
		return cli_usage_error("no rules: give --preset, --rules or --decon");
	return 0;
}

/* ---- building the rules ---- */

static int read_file(const char *path, buf *out)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		cli_error(path, "cannot open: %s", strerror(errno));
		return -1;
	}
	uint8_t tmp[65536];
	size_t k;
	while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(out, tmp, k);
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		cli_error(path, "read error");
		return -1;
	}
	return 0;
}

/* Every string field of every record of path goes into the set. */
static int load_decon(decon *d, const char *path)
{
	input *in = cli_input_open(path, INPUT_AUTO);
	if (!in)
		return -1;
	rec *r = rec_new();
	int got;
	while ((got = input_read(in, r)) == 1)
		for (size_t i = 0; i < rec_nfields(r); i++) {
			const rec_field *f = rec_field_at(r, i);
			if (f->type == REC_STR)
				decon_add(d, f->val, f->len);
		}
	if (got < 0)
		cli_error(input_path(in), "%s", input_error(in));
	rec_free(r);
	input_close(in);
	return got < 0 ? -1 : 0;
}

static int build_rules(const struct args *a, rules *rs, decon **dc)
{
	char err[1024];
	for (int i = 0; i < a->npresets; i++)
		if (rules_add_preset(rs, a->presets[i], a->field, err, sizeof(err)) < 0)
			return cli_usage_error("--preset: %s", err);
	for (int i = 0; i < a->nrule_files; i++) {
		buf b = { 0 };
		if (read_file(a->rule_files[i], &b) < 0)
			return EXIT_USAGE;
		int bad = rules_parse(rs, b.data ? (const char *)b.data : "", b.len, err, sizeof(err));
		buf_release(&b);
		if (bad) {
			cli_error(a->rule_files[i], "%s", err);
			return EXIT_USAGE;
		}
	}
	if (a->ndecons) {
		*dc = decon_new(a->decon_n);
		for (int i = 0; i < a->ndecons; i++)
			if (load_decon(*dc, a->decons[i]) < 0)
				return EXIT_DATA;
		if (rules_add_decon(rs, *dc, a->decon_field ? a->decon_field : a->field, a->decon_action, err,
				    sizeof(err)) < 0)
			return cli_usage_error("--decon: %s", err);
	}
	for (int i = 0; i < a->nsets; i++)
		if (rules_set(rs, a->sets[i], err, sizeof(err)) < 0)
			return cli_usage_error("--set: %s", err);
	return 0;
}

/* ---- the rules applied on the parallel map, records written in order ---- */

/* What a worker finds for a record beside keep or drop. */
struct verdict {
	long rule;              /* the rule that dropped it, -1 for none */
	double value;           /* that rule's value */
	buf explain;            /* with --explain: every rule's value */
};

static void explain(buf *out, const rules *rs, const rules_eval *e)
{
	char tmp[128];
	double v;
	int shown = 0;
	for (size_t i = 0; i < rules_count(rs); i++) {
		if (!rules_eval_done(e, i))
			continue;
		int fired = rules_eval_fired(e, i, &v);
		snprintf(tmp, sizeof(tmp), "%s %s=%.6g%s", shown++ ? "," : ";", rules_name(rs, i), v,
			 fired ? " (fired)" : "");
		buf_adds(out, tmp);
	}
	buf_addc(out, '\n');
}

static void free_verdict(void *slot)
{
	buf_release(&((struct verdict *)slot)->explain);
}

/* ---- main ---- */

struct state {
	const struct args *a;
	const rules *rs;
	output *out, *rej;
	int opened;
	cli_counts *counts;
	uint64_t *drops;       /* per rule */
	uint64_t *fired;       /* per rule, flag and score rules */
	uint64_t records, kept, dropped;
	double reward_sum;
	buf meta;              /* the first input's header metadata, written on */
	int meta_set;
	rules_eval **evals;    /* one per worker */
	input_format fmt;      /* the first input's */
	uint64_t recno;        /* the last record emitted */
	int ret;               /* why emit() stopped: an exit status */
};

/* Records out: asked for, or the first input's format. */
static int out_records(const struct state *st, input_format fmt)
{
	return st->a->out_fmt != OUT_AUTO ? st->a->out_fmt == OUT_RECORDS : fmt == INPUT_RECORDS;
}

/* At an input's first record: the first input's header is the output's;
 * a later record stream must agree with it (stream_meta_agree), as one
 * header describes every record written.  Returns 0, or EXIT_DATA after a
 * message. */
static int take_meta(struct state *st, input *in, input_format fmt)
{
	size_t ml;
	const char *m = input_meta(in, &ml);
	char why[256];
	if (!st->meta_set) {
		buf_add(&st->meta, m, ml);
		st->meta_set = 1;
	} else if (out_records(st, fmt) && input_detected(in) == INPUT_RECORDS &&
		   !stream_meta_agree((const char *)st->meta.data, st->meta.len, m, ml, why, sizeof(why))) {
		cli_error(input_path(in), "cannot join the stream written: its header disagrees with the first input's: %s",
			  why);
		return EXIT_DATA;
	}
	return 0;
}

static int apply_rules(void *ctx, int worker, rec *r, void *slot)
{
	struct state *st = ctx;
	struct verdict *v = slot;
	rules_eval *e = st->evals[worker];
	int drop = rules_apply(e, r, (st->a->explain ? RULES_EVAL_ALL : 0) | (st->a->reward ? RULES_REWARD : 0));
	v->rule = rules_eval_dropped_by(e, &v->value);
	if (st->a->explain) {
		buf_reset(&v->explain);
		explain(&v->explain, st->rs, e);
	}
	return drop;
}

static int open_outputs(struct state *st)
{
	output_format of = out_records(st, st->fmt) ? OUTPUT_RECORDS : OUTPUT_JSONL;
	int ret = 0;
	if (!(st->out = output_open(st->a->co.output, of, NULL, st->a->co.force, &ret)))
		return ret;
	if (st->a->rejects && !(st->rej = output_open(st->a->rejects, of, NULL, st->a->co.force, &ret)))
		return ret;
	st->opened = 1;
	if (output_set_meta(st->out, (const char *)st->meta.data, st->meta.len) < 0 ||
	    (st->rej && output_set_meta(st->rej, (const char *)st->meta.data, st->meta.len) < 0))
		return EXIT_DATA;
	return 0;
}

/* Write one record where it goes and count it.  Returns 0, or an exit
 * status after a message. */
static int write_record(struct state *st, rec *r, int drop, const struct verdict *v)
{
	if (!st->opened) {
		int ret = open_outputs(st);
		if (ret)
			return ret;
	}
	uint64_t recno = ++st->recno;
	st->records++;
	if (st->a->explain) {
		fprintf(stderr, "record %llu: %s", (unsigned long long)recno, drop ? "dropped" : "kept");
		fwrite(v->explain.data, 1, v->explain.len, stderr);
	}
	char where[64];
	snprintf(where, sizeof(where), "record %llu", (unsigned long long)recno);
	if (!drop) {
		st->kept++;
		double rw;
		if (st->a->reward && rec_get_double(r, "reward", &rw) == 0)
			st->reward_sum += rw;
		const rec_field *f = rec_get(r, "flags");
		for (size_t k = 0; f && k < rules_count(st->rs); k++) {
			/* count each flagged rule */
			const char *nm = rules_name(st->rs, k);
			size_t nl = strlen(nm);
			for (size_t p = 0; p + nl <= f->len; p++)
				if ((p == 0 || f->val[p - 1] == ',') && memcmp(f->val + p, nm, nl) == 0 &&
				    (p + nl == f->len || f->val[p + nl] == ',')) {
					st->fired[k]++;
					break;
				}
		}
		return output_write(st->out, r, where) < 0 ? EXIT_DATA : 0;
	}
	st->dropped++;
	if (v->rule >= 0)
		st->drops[v->rule]++;
	if (st->a->rejects) {
		const char *nm = v->rule >= 0 ? rules_name(st->rs, (size_t)v->rule) : "error";
		if (rec_set_str(r, "reject_rule", nm, strlen(nm)) < 0 || rec_set_float(r, "reject_value", v->value) < 0) {
			cli_error(NULL, "record %llu: too large to mark as rejected", (unsigned long long)recno);
			return EXIT_DATA;
		}
		if (output_write(st->rej, r, where) < 0)
			return EXIT_DATA;
	}
	return 0;
}

static int emit_record(void *ctx, rec *r, int drop, void *slot)
{
	struct state *st = ctx;
	st->ret = write_record(st, r, drop, slot);
	return st->ret ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	cli_init("sluice-synth-filter");
	int ret = parse_args(argc, argv, &a);
	if (ret)
		return ret;
	rules *rs = rules_new();
	decon *dc = NULL;
	par *p = NULL;
	struct state st = { .a = &a, .rs = rs, };
	ret = build_rules(&a, rs, &dc);
	if (ret)
		goto out;
	if (a.co.stats && strcmp(a.co.stats, "-") == 0 && !a.co.output) {
		ret = cli_usage_error("--stats -: stdout already carries the records; give -o");
		goto out;
	}
	size_t nr = rules_count(rs);
	st.drops = xcalloc(nr + 1, sizeof(uint64_t));
	st.fired = xcalloc(nr + 1, sizeof(uint64_t));
	st.evals = xcalloc((size_t)a.co.threads, sizeof(*st.evals));
	for (int k = 0; k < a.co.threads; k++)
		st.evals[k] = rules_eval_new(rs);
	p = par_new_slots(a.co.threads, sizeof(struct verdict), free_verdict, apply_rules, emit_record, &st);

	int nfiles;
	char **files = cli_inputs(argc, argv, optind, &nfiles);
	cli_progress prog;
	cli_progress_init(&prog, a.co.progress);
	rec *r = rec_new();
	uint64_t recno = 0, bytes_before = 0;
	st.fmt = INPUT_AUTO;
	for (int i = 0; i < nfiles && !ret; i++) {
		input *in = cli_input_open(files[i], a.co.in_fmt);
		if (!in) {
			ret = EXIT_DATA;
			break;
		}
		int got;
		uint64_t in_first = recno + 1;
		while ((got = input_read(in, r)) == 1) {
			if (st.fmt == INPUT_AUTO)
				st.fmt = input_detected(in);
			if (recno + 1 == in_first && (ret = take_meta(&st, in, st.fmt)) != 0)
				break;
			recno++;
			if (par_push(p, r) < 0) {
				ret = st.ret;
				break;
			}
			if (recno % PAR_BATCH_RECORDS == 0)
				cli_progress_update(&prog, recno, bytes_before + input_bytes(in));
		}
		/* What this input's records did is written before its error. */
		if (!ret && par_finish(p) < 0)
			ret = st.ret;
		if (got == -1) {
			cli_progress_done(&prog);
			cli_error(input_path(in), "%s", input_error(in));
			ret = EXIT_DATA;
		}
		bytes_before += input_bytes(in);
		input_close(in);
	}
	cli_progress_done(&prog);
	rec_free(r);
	if (!ret && !st.opened)
		ret = open_outputs(&st); /* no records: still write an empty output */
	int closed = output_close(st.out, ret);
	if (output_close(st.rej, closed < 0 ? EXIT_DATA : ret) < 0 || closed < 0)
		ret = ret ? ret : EXIT_DATA;

	/* Summary: totals, then drops per rule, then flags per rule. */
	st.counts = cli_counts_new();
	cli_counts_add(st.counts, "records", st.records);
	cli_counts_add(st.counts, "kept", st.kept);
	cli_counts_add(st.counts, "dropped", st.dropped);
	for (size_t k = 0; k < nr; k++) {
		char name[128];
		if (st.drops[k]) {
			snprintf(name, sizeof(name), "drop:%s", rules_name(rs, k));
			cli_counts_add(st.counts, name, st.drops[k]);
		}
		if (st.fired[k]) {
			snprintf(name, sizeof(name), "flag:%s", rules_name(rs, k));
			cli_counts_add(st.counts, name, st.fired[k]);
		}
	}
	if (a.reward && st.kept) {
		/* the mean reward, in thousandths, keeps the counts integral */
		cli_counts_add(st.counts, "reward_mean_milli", (uint64_t)llround(1000 * st.reward_sum / st.kept));
	}
	if (!a.co.quiet)
		cli_counts_print(st.counts, stderr);
	if (a.co.stats && cli_counts_write_json(st.counts, a.co.stats) < 0)
		ret = ret ? ret : EXIT_DATA;
	cli_counts_free(st.counts);
out:
	par_free(p);
	for (int k = 0; st.evals && k < a.co.threads; k++)
		rules_eval_free(st.evals[k]);
	free(st.evals);
	free(st.drops);
	free(st.fired);
	buf_release(&st.meta);
	rules_free(rs);
	decon_free(dc);
	if (cli_close_stdout() != EXIT_OK)
		ret = ret ? ret : EXIT_DATA;
	return ret;
}

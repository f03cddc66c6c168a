/* sluice-dedup: drop exact and near-duplicate documents (MinHash-LSH), in one
 * pass or as signature, merge and apply passes over shards. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "dedup.h"
#include "input.h"
#include "output.h"
#include "json.h"
#include "minhash.h"
#include "parallel.h"
#include "record.h"
#include "stream.h"
#include "textnorm.h"
#include "util.h"

enum { MODE_ONE, MODE_SIGN, MODE_MERGE, MODE_APPLY };
enum {
	OPT_REJECTS = 256, OPT_INDEX, OPT_SIGNATURES, OPT_MERGE, OPT_APPLY, OPT_SHARD, OPT_FIELD, OPT_NGRAM,
	OPT_BANDS, OPT_ROWS, OPT_SEED, OPT_NORMALIZE, OPT_VERIFY, OPT_THRESHOLD, OPT_KEEP, OPT_EXACT_ONLY,
	OPT_NO_VERIFY, OPT_MIN_WORDS,
};

/* The Jaccard similarity at which --verify joins and drops by default. */
#define DEFAULT_THRESHOLD 0.9

struct args {
	cli_common co;
	int mode, verify, keep_longest, exact_only;
	double threshold;
	dedup_params p;
	const char *rejects, *index, *signatures, *apply, *shard, *field;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: sluice-dedup [OPTION]... [FILE]...\n"
"Drop exact and near-duplicate documents from records, JSONL or text in\n"
"FILEs (or stdin), keeping the first of each cluster, in input order.\n"
"\n"
"Output:\n"
"  -o, --output FILE      write kept records to FILE instead of stdout\n"
"  -J, --jsonl            write JSONL instead of a record stream\n"
"      --rejects FILE     write dropped records there, with reason, dup_of, similarity\n"
"  -f, --force            write binary even to a terminal\n"
"Duplicates:\n"
"      --field NAME       the text field to compare (default text)\n"
"      --normalize LIST   how texts are compared: comma-separated steps among\n"
"                         nfc, case, digits, punct, space, accents, or a preset:\n"
"                         default (every step but digits; the default),\n"
"                         datatrove (every step) or none (the bytes as they\n"
"                         are); exact duplicates use only its nfc, case and\n"
"                         space steps\n"
"      --exact-only       exact duplicates only, no MinHash\n"
"      --min-words N      texts of fewer words are only exact duplicates (default %d)\n"
"      --ngram N          words per shingle (default 5)\n"
"      --bands N          LSH bands (default 14)\n"
"      --rows N           hashes per band (default 8)\n"
"      --seed N           seed of the hash functions (default 1)\n"
"      --verify           drop only at --threshold Jaccard similarity to a kept\n"
"                         document (the default)\n"
"      --no-verify        drop every LSH candidate of a cluster, unchecked\n"
"      --threshold X      Jaccard threshold of --verify (default %g)\n"
"      --keep WHICH       first (default) or longest of each cluster\n"
"      --index FILE       a signature file of earlier runs (created if missing):\n"
"                         documents that duplicate one in it are dropped (its\n"
"                         own never are); once the outputs are complete, FILE\n"
"                         is rewritten with all of this run's documents added,\n"
"                         dropped ones marked; repeating its last run gives\n"
"                         the same output again\n"
"Passes over shards:\n"
"      --signatures FILE  only sign the input, writing a signature file\n"
"      --merge            inputs are signature files: write the drop list (-o)\n"
"      --apply DROPS      drop the records DROPS lists for this shard\n"
"      --shard NAME       shard name of the input (default: the file name as given)\n"
"General:\n"
"  -j, --threads N        signing threads beside the reader (default 1: the reader\n"
"                         signs); the output does not depend on it\n"
"      --input-format F   auto (default), records, jsonl or text\n"
"      --stats FILE       write the summary counts as JSON to FILE\n"
"      --progress         show a progress line even when stderr is not a terminal\n"
"      --quiet            no progress line, summary or warnings\n"
"  -h, --help             show this help and exit\n"
"  -V, --version          show the version and exit\n"
"\n"
"Exit status: 0 ok, 1 data or I/O error, 2 usage error.\n"
"See sluice-dedup(1).\n", DEDUP_MIN_WORDS, DEFAULT_THRESHOLD);
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		CLI_OPTION_OUTPUT,
		CLI_OPTION_JSONL,
		{ "rejects", required_argument, NULL, OPT_REJECTS },
		CLI_OPTION_FORCE,
		{ "field", required_argument, NULL, OPT_FIELD },
		{ "normalize", required_argument, NULL, OPT_NORMALIZE },
		{ "exact-only", no_argument, NULL, OPT_EXACT_ONLY },
		{ "ngram", required_argument, NULL, OPT_NGRAM },
		{ "bands", required_argument, NULL, OPT_BANDS },
		{ "rows", required_argument, NULL, OPT_ROWS },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "no-verify", no_argument, NULL, OPT_NO_VERIFY },
		{ "min-words", required_argument, NULL, OPT_MIN_WORDS },
		{ "threshold", required_argument, NULL, OPT_THRESHOLD },
		{ "keep", required_argument, NULL, OPT_KEEP },
		{ "index", required_argument, NULL, OPT_INDEX },
		{ "signatures", required_argument, NULL, OPT_SIGNATURES },
		{ "merge", no_argument, NULL, OPT_MERGE },
		{ "apply", required_argument, NULL, OPT_APPLY },
		{ "shard", required_argument, NULL, OPT_SHARD },
		CLI_OPTION_THREADS,
		CLI_OPTION_INPUT_FORMAT,
		CLI_OPTION_STATS,
		CLI_OPTION_PROGRESS,
		CLI_OPTION_QUIET,
		CLI_OPTIONS_END,
	};
	int c, r, modes = 0;
	char hashes[32];
	snprintf(hashes, sizeof(hashes), "1 to %d", MINHASH_MAX_HASHES);
	uint64_t u;
	char *end;
	dedup_params_default(&a->p);
	a->co.threads = 1;
	a->verify = 1;
	a->threshold = DEFAULT_THRESHOLD;
	a->field = "text";
	while ((c = cli_getopt(argc, argv, "o:Jfj:hV", opts)) != -1) {
		switch (c) {
		case OPT_REJECTS: a->rejects = optarg; break;
		case OPT_FIELD:
			if (!*optarg || strlen(optarg) > REC_NAME_MAX)
				return cli_bad_value(opts, c, optarg, "a field name");
			a->field = optarg;
			break;
		case OPT_NORMALIZE:
			if (textnorm_parse(optarg, &a->p.norm) < 0)
				return cli_bad_value(opts, c, optarg, "a list of nfc, case, digits, punct, space, "
						     "accents, default, datatrove, or none");
			break;
		case OPT_EXACT_ONLY: a->exact_only = 1; break;
		case OPT_NGRAM:
			if (cli_parse_int(optarg, 1, 64, &a->p.ngram) < 0)
				return cli_bad_value(opts, c, optarg, "1 to 64");
			break;
		case OPT_BANDS:
			if (cli_parse_int(optarg, 1, MINHASH_MAX_HASHES, &a->p.bands) < 0)
				return cli_bad_value(opts, c, optarg, hashes);
			break;
		case OPT_ROWS:
			if (cli_parse_int(optarg, 1, MINHASH_MAX_HASHES, &a->p.rows) < 0)
				return cli_bad_value(opts, c, optarg, hashes);
			break;
		case OPT_SEED:
			if (cli_parse_u64(optarg, 0, INT64_MAX, 0, &u) < 0)
				return cli_bad_value(opts, c, optarg, "a number");
			a->p.seed = u;
			break;
		case OPT_VERIFY: a->verify = 1; break;
		case OPT_NO_VERIFY: a->verify = 0; break;
		case OPT_MIN_WORDS:
			if (cli_parse_int(optarg, 0, 1 << 20, &a->p.min_words) < 0)
				return cli_bad_value(opts, c, optarg, "0 to 1048576");
			break;
		case OPT_THRESHOLD:
			errno = 0;
			a->threshold = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(a->threshold >= 0 && a->threshold <= 1))
				return cli_bad_value(opts, c, optarg, "a number from 0 to 1");
			break;
		case OPT_KEEP:
			if (strcmp(optarg, "first") == 0)
				a->keep_longest = 0;
			else if (strcmp(optarg, "longest") == 0)
				a->keep_longest = 1;
			else
				return cli_bad_value(opts, c, optarg, "first or longest");
			break;
		case OPT_INDEX: a->index = optarg; break;
		case OPT_SIGNATURES: a->signatures = optarg; a->mode = MODE_SIGN; modes++; break;
		case OPT_MERGE: a->mode = MODE_MERGE; modes++; break;
		case OPT_APPLY: a->apply = optarg; a->mode = MODE_APPLY; modes++; break;
		case OPT_SHARD: a->shard = optarg; break;
		default:
			if ((r = cli_common_option(&a->co, c, optarg, opts, usage)) != 0)
				return r;
		}
	}
	if (modes > 1)
		return cli_usage_error("--signatures, --merge and --apply exclude each other");
	if (a->p.bands * a->p.rows > MINHASH_MAX_HASHES)
		return cli_usage_error("--bands times --rows must be at most %d", MINHASH_MAX_HASHES);
	if (a->index && (a->mode == MODE_SIGN || a->mode == MODE_APPLY))
		return cli_usage_error("--index goes with a one-pass run or --merge");
	if (a->rejects && (a->mode == MODE_SIGN || a->mode == MODE_MERGE))
		return cli_usage_error("--rejects goes with a one-pass run or --apply");
	if (a->mode == MODE_MERGE && optind == argc)
		return cli_usage_error("--merge needs signature files");
	return 0;
}

/* ---- record output: a record stream or JSONL ---- */

struct out {
	output *o;
	int meta_set;
};

/* Returns 0, -1 (data error) or -2 (usage: binary to a terminal). */
static int out_open(struct out *o, const char *path, const struct args *a)
{
	int status = EXIT_OK;
	o->meta_set = 0;
	o->o = output_open(path, a->co.jsonl ? OUTPUT_JSONL : OUTPUT_RECORDS, NULL, a->co.force, &status);
	return o->o ? 0 : status == EXIT_USAGE ? -2 : -1;
}

static int out_write(struct out *o, const rec *r, input *in)
{
	if (!o->meta_set) {
		size_t ml;
		const char *m = input_meta(in, &ml);
		output_set_meta(o->o, m, ml);
		o->meta_set = 1;
	}
	char where[512];
	snprintf(where, sizeof(where), "%s: record %llu", input_path(in), (unsigned long long)input_records(in));
	return output_write(o->o, r, where);
}

/* Complete the output if status is EXIT_OK, else abort it.  Returns 0, or
 * -1 after a message. */
static int out_close(struct out *o, int status)
{
	int ret = output_close(o->o, status);
	o->o = NULL;
	return ret;
}

/* Complete both outputs (an error in one aborts the other).  Returns 0, or
 * -1 after a message. */
static int close_outputs(struct out *o, struct out *rj)
{
	int bad = out_close(o, EXIT_OK) < 0;
	return (out_close(rj, bad ? EXIT_DATA : EXIT_OK) < 0 || bad) ? -1 : 0;
}

/* The index's last run again (see dedup_set_replay): taken out of the
 * index's documents, counted.  Returns the number of index documents left. */
static uint32_t replay(const struct args *a, dedup_set *set, const dedup_cluster_opts *co, size_t indexed,
		       cli_counts *counts)
{
	size_t n = dedup_set_count(set);
	if (a->index && dedup_set_replay(set, co)) {
		cli_counts_add(counts, "rerun", 1);
		return (uint32_t)(indexed - (n - dedup_set_count(set)));
	}
	return (uint32_t)indexed;
}

/* A rejected record: the original fields plus why. */
static int write_reject(struct out *o, rec *r, input *in, int reason, const char *dup_of, double sim)
{
	if (!o->o)
		return 0;
	const char *why = reason == DEDUP_EXACT ? "exact_duplicate" : "near_duplicate";
	if (rec_set_str(r, "reason", why, strlen(why)) < 0 || rec_set_str(r, "dup_of", dup_of, strlen(dup_of)) < 0 ||
	    rec_set_float(r, "similarity", sim) < 0) {
		cli_error(input_path(in), "record %llu: too large to add the reject fields",
			  (unsigned long long)input_records(in));
		return -1;
	}
	return out_write(o, r, in);
}

/* ---- reading and signing ---- */

/* A document's id: its "id" field as text (a string, an integer, or JSON
 * verbatim); NULL when it has none. */
static const char *doc_id(const rec *r, char *num, size_t numlen, size_t *len)
{
	const rec_field *f = rec_get(r, "id");
	if (!f)
		return NULL;
	if (f->type == REC_STR || f->type == REC_JSON) {
		if (memchr(f->val, 0, f->len))
			return NULL;
		*len = f->len;
		return (const char *)f->val;
	}
	int64_t v;
	if (f->type == REC_INT && rec_get_int(r, "id", &v) == 0) {
		*len = (size_t)snprintf(num, numlen, "%lld", (long long)v);
		return num;
	}
	return NULL;
}

/* Signing on the parallel map: workers sign each record's text into its
 * slot; emit() adds the signatures to the set in input order. */
enum { SIGNED = 0, NO_TEXT = 1 };

struct signing {
	const struct args *a;
	dedup_set *set;
	dedup_signer **g;       /* one per worker */
	cli_counts *counts;
	size_t bands, k;
	uint32_t shard;
	uint64_t recno;         /* the last record emitted, in shard */
};

/* A slot: the signature, its keys and low bytes behind it. */
struct sig_slot {
	dedup_sig sig;
};

static void slot_arrays(const struct signing *sg, struct sig_slot *sl)
{
	sl->sig.keys = (uint64_t *)(sl + 1);
	sl->sig.low8 = (uint8_t *)(sl->sig.keys + sg->bands);
}

static int sign_record(void *ctx, int worker, rec *r, void *slot)
{
	struct signing *sg = ctx;
	const rec_field *t = rec_get(r, sg->a->field);
	if (!t || t->type != REC_STR)
		return NO_TEXT;
	slot_arrays(sg, slot);
	dedup_sign(sg->g[worker], t->val, t->len, &((struct sig_slot *)slot)->sig);
	return SIGNED;
}

static int add_record(void *ctx, rec *r, int status, void *slot)
{
	struct signing *sg = ctx;
	sg->recno++;
	if (status == NO_TEXT) {
		cli_counts_add(sg->counts, "no_text", 1);
		return 0;
	}
	char num[32];
	size_t idlen = 0;
	const char *id = doc_id(r, num, sizeof(num), &idlen);
	slot_arrays(sg, slot);
	dedup_set_add_sig(sg->set, sg->shard, sg->recno, id, idlen, rec_get(r, sg->a->field)->len,
			  &((struct sig_slot *)slot)->sig);
	return 0;
}

static void free_slot(void *slot)
{
	buf_release(&((struct sig_slot *)slot)->sig.shingles);
}

static const char *shard_name(const struct args *a, const char *file)
{
	return a->shard ? a->shard : cli_name(file, 0);
}

/* Copy a non-seekable input into a temporary record stream that the
 * second pass reads.  Returns its path (the caller unlinks and frees). */
static char *spool_open(int *fd)
{
	const char *dir = getenv("TMPDIR");
	size_t n = strlen(dir && *dir ? dir : "/tmp") + 32;
	char *path = xmalloc(n);
	snprintf(path, n, "%s/sluice-dedup.%s", dir && *dir ? dir : "/tmp", MKSTEMP_SUFFIX);
	*fd = mkstemp(path);
	if (*fd < 0) {
		cli_error(path, "cannot create a temporary file: %s", strerror(errno));
		free(path);
		return NULL;
	}
	return path;
}

static int is_regular(const char *path)
{
	struct stat st;
	return path && strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Read every input, sign its documents into set.  spools[i] receives the
 * path of a copy of input i when it cannot be read twice (want_spool). */
static int sign_inputs(const struct args *a, char **files, int nfiles, dedup_set *set, char **spools,
		       cli_counts *counts, cli_progress *prog)
{
	int threads = a->co.threads;
	struct signing sg = { a, set, xcalloc((size_t)threads, sizeof(dedup_signer *)), counts,
			      (size_t)a->p.bands, (size_t)a->p.bands * (size_t)a->p.rows, 0, 0 };
	rec *r = rec_new();
	int ret = 0;
	uint64_t all = 0;
	for (int w = 0; w < threads; w++)
		if (!(sg.g[w] = dedup_signer_new(&a->p, a->verify)) && ret == 0) {
			cli_error(NULL, "bad MinHash parameters");
			ret = -1;
		}
	par *p = par_new_slots(threads, sizeof(struct sig_slot) + sg.bands * sizeof(uint64_t) + sg.k, free_slot,
			       sign_record, add_record, &sg);
	for (int i = 0; i < nfiles && ret == 0; i++) {
		input *in = cli_input_open(files[i], a->co.in_fmt);
		if (!in) {
			ret = -1;
			break;
		}
		uint32_t shard = dedup_set_shard(set, shard_name(a, files[i]));
		uint64_t recno = dedup_set_shard_count(set, shard);
		if (recno == UINT64_MAX)
			recno = 0; /* --shard NAME over several files numbers them on */
		sg.shard = shard;
		sg.recno = recno;
		stream_writer *sw = NULL;
		int sfd = -1;
		if (spools && !is_regular(files[i])) {
			spools[i] = spool_open(&sfd);
			if (!spools[i]) {
				input_close(in);
				ret = -1;
				break;
			}
			sw = stream_writer_open(sfd, &(stream_writer_opts){ 1, STREAM_BLOCK_DEFAULT, 1, 0 });
		}
		int got;
		while ((got = input_read(in, r)) == 1) {
			recno++;
			all++;
			if (sw && recno == 1) {
				size_t ml;
				const char *m = input_meta(in, &ml);
				if (ml && stream_writer_set_meta(sw, m, ml) < 0)
					cli_error(files[i], "cannot carry the header metadata over");
			}
			if (sw && stream_write(sw, r) < 0) {
				cli_error(spools[i], "write error: %s", strerror(errno));
				got = -2;
				break;
			}
			if (par_push(p, r) < 0) {
				got = -2;
				break;
			}
			cli_progress_update(prog, all, input_bytes(in));
		}
		if (got == -1)
			cli_error(input_path(in), "%s", input_error(in));
		/* The next input is another shard: its records are numbered anew. */
		if (got < 0 || par_finish(p) < 0)
			ret = -1;
		dedup_set_shard_records(set, shard, recno);
		if (sw && stream_writer_close(sw) < 0 && ret == 0) {
			cli_error(spools[i], "write error: %s", strerror(errno));
			ret = -1;
		}
		if (sfd >= 0)
			close(sfd);
		input_close(in);
	}
	par_free(p);
	cli_counts_add(counts, "records", all);
	rec_free(r);
	for (int w = 0; w < threads; w++)
		dedup_signer_free(sg.g[w]);
	free(sg.g);
	return ret;
}

static void add_stats(cli_counts *c, const dedup_stats *st, const struct args *a)
{
	cli_counts_add(c, "documents", st->docs - st->indexed);
	if (a->index)
		cli_counts_add(c, "indexed", st->indexed);
	cli_counts_add(c, "short", st->short_docs);
	cli_counts_add(c, "clusters", st->clusters);
	cli_counts_add(c, "dropped_exact", st->exact);
	cli_counts_add(c, "dropped_near", st->near);
	if (a->verify) {
		cli_counts_add(c, "candidates", st->candidates);
		cli_counts_add(c, "verified", st->verified);
	}
}

/* Remove the temporary files that runs killed while writing the index
 * left beside it (INDEX.tmp.*, see atomic_create()).  They are never
 * read; this only gives their space back. */
static void remove_stale_temps(const char *index)
{
	const char *slash = strrchr(index, '/');
	char *dir = slash ? xstrndup(index, (size_t)(slash - index) + 1) : xstrdup("./");
	const char *base = slash ? slash + 1 : index;
	size_t bl = strlen(base), tl = strlen(MKSTEMP_SUFFIX);
	DIR *d = opendir(dir);
	struct dirent *e;
	buf path = { 0 };
	while (d && (e = readdir(d))) {
		const char *name = e->d_name;
		if (strncmp(name, base, bl) != 0 || strncmp(name + bl, ".tmp.", 5) != 0 || strlen(name + bl + 5) != tl)
			continue;
		buf_reset(&path);
		buf_adds(&path, dir);
		buf_adds(&path, name);
		buf_addc(&path, 0);
		unlink((const char *)path.data);
	}
	if (d)
		closedir(d);
	buf_release(&path);
	free(dir);
}

/* Rewrite the index: its documents and this run's, kept or dropped (see
 * dedup.h), through a temporary file renamed into place.  Only once the
 * run's outputs are complete: an index that lists a document no output
 * holds would drop it from every later run. */
static int write_index(const struct args *a, dedup_set *set)
{
	char *tmp;
	int fd = atomic_create(a->index, &tmp);
	if (fd < 0) {
		cli_error(a->index, "cannot create a file beside it: %s", strerror(errno));
		return -1;
	}
	int bad = dedup_sigfile_write(set, fd, 1, a->verify) < 0;
	if (atomic_commit(fd, tmp, a->index, bad) < 0) {
		cli_error(a->index, "write error: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int load_index(const struct args *a, dedup_set *set)
{
	char err[512];
	if (!a->index)
		return 0;
	remove_stale_temps(a->index);
	if (access(a->index, F_OK) != 0)
		return 0; /* a new index */
	if (dedup_sigfile_read(set, a->index, 1, err, sizeof(err)) < 0) {
		cli_error(a->index, "%s", err);
		return -1;
	}
	return 0;
}

/* Second pass of a one-pass run: write each record unless its verdict
 * drops it.  Documents are in the set in reading order, after the index's
 * (first_doc of them). */
static int apply_verdicts(const struct args *a, char **files, char **spools, int nfiles, dedup_set *set,
			  uint32_t first_doc, struct out *o, struct out *rj, cli_counts *counts)
{
	rec *r = rec_new();
	int ret = 0;
	uint32_t doc = first_doc;
	size_t ndocs = dedup_set_count(set);
	uint64_t kept = 0;
	uint64_t *seen = xcalloc(dedup_set_nshards(set), sizeof(uint64_t));
	dedup_verdict v;
	for (int i = 0; i < nfiles && ret == 0; i++) {
		input *in = spools[i] ? cli_input_open(spools[i], INPUT_RECORDS) : cli_input_open(files[i], a->co.in_fmt);
		if (!in) {
			ret = -1;
			break;
		}
		uint32_t shard = dedup_set_shard(set, shard_name(a, files[i]));
		int got;
		while ((got = input_read(in, r)) == 1) {
			uint64_t recno = ++seen[shard];
			if (doc < ndocs && dedup_set_doc_shard(set, doc) == shard && dedup_set_doc_recno(set, doc) == recno) {
				dedup_set_verdict(set, doc++, &v);
				if (v.reason != DEDUP_KEPT) {
					if (write_reject(rj, r, in, v.reason, dedup_set_doc_name(set, v.kept), v.similarity) < 0) {
						got = -2;
						break;
					}
					continue;
				}
			}
			if (out_write(o, r, in) < 0) {
				got = -2;
				break;
			}
			kept++;
		}
		if (got == -1)
			cli_error(input_path(in), "%s", input_error(in));
		if (got < 0)
			ret = -1;
		input_close(in);
	}
	if (ret == 0 && doc != ndocs) {
		cli_error(NULL, "an input changed between the two passes");
		ret = -1;
	}
	cli_counts_add(counts, "kept", kept);
	free(seen);
	rec_free(r);
	return ret;
}

/* ---- --apply: drop what a drop list names ---- */

struct shard_state {
	const char *name;
	uint64_t seen, records;
	const dedup_drop *drops;
	long n, next;
};

static int run_apply(const struct args *a, char **files, int nfiles, struct out *o, struct out *rj,
		     cli_counts *counts)
{
	char err[512];
	dedup_drops *d = dedup_drops_read(a->apply, err, sizeof(err));
	if (!d) {
		cli_error(a->apply, "%s", err);
		return -1;
	}
	struct shard_state *sh = xcalloc((size_t)nfiles, sizeof(*sh));
	int nsh = 0, ret = 0;
	uint64_t kept = 0, all = 0, dropped[3] = { 0, 0, 0 };
	rec *r = rec_new();
	for (int i = 0; i < nfiles && ret == 0; i++) {
		const char *name = shard_name(a, files[i]);
		struct shard_state *s = NULL;
		for (int k = 0; k < nsh && !s; k++)
			if (strcmp(sh[k].name, name) == 0)
				s = &sh[k];
		if (!s) {
			s = &sh[nsh++];
			s->name = name;
			s->n = dedup_drops_shard(d, name, &s->records, &s->drops);
			if (s->n < 0) {
				cli_error(a->apply, "shard '%s' is not in the drop list", name);
				ret = -1;
				break;
			}
		}
		input *in = cli_input_open(files[i], a->co.in_fmt);
		if (!in) {
			ret = -1;
			break;
		}
		int got;
		while ((got = input_read(in, r)) == 1) {
			uint64_t recno = ++s->seen;
			all++;
			if (s->next < s->n && s->drops[s->next].recno == recno) {
				const dedup_drop *dr = &s->drops[s->next++];
				dropped[dr->reason]++;
				if (write_reject(rj, r, in, dr->reason, dr->dup_of, dr->similarity) < 0) {
					got = -2;
					break;
				}
				continue;
			}
			if (out_write(o, r, in) < 0) {
				got = -2;
				break;
			}
			kept++;
		}
		if (got == -1)
			cli_error(input_path(in), "%s", input_error(in));
		if (got < 0)
			ret = -1;
		input_close(in);
	}
	/* A shard that is not the one signed must not pass unnoticed. */
	for (int k = 0; k < nsh && ret == 0; k++)
		if (sh[k].seen != sh[k].records) {
			cli_error(sh[k].name, "has %llu records, but the drop list was made from %llu",
				  (unsigned long long)sh[k].seen, (unsigned long long)sh[k].records);
			ret = -1;
		}
	cli_counts_add(counts, "records", all);
	cli_counts_add(counts, "kept", kept);
	cli_counts_add(counts, "dropped_exact", dropped[DEDUP_EXACT]);
	cli_counts_add(counts, "dropped_near", dropped[DEDUP_NEAR]);
	rec_free(r);
	free(sh);
	dedup_drops_free(d);
	return ret;
}

/* Open a binary output (signature file, drop list): -1 after a message,
 * -2 for a terminal. */
static int open_binary(const char *path, int force)
{
	int fd = cli_open_output(path);
	if (fd >= 0 && cli_refuse_tty(fd, force) < 0) {
		if (fd > STDOUT_FILENO)
			close(fd);
		return -2;
	}
	return fd;
}

static int close_binary(int fd, const char *path, int ok)
{
	if (!ok) {
		cli_error(cli_name(path, 1), "write error: %s", strerror(errno));
		if (fd > STDOUT_FILENO)
			close(fd);
		return -1;
	}
	if (fd > STDOUT_FILENO && close(fd) < 0) {
		cli_error(cli_name(path, 1), "write error: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	cli_init("sluice-dedup");
	int ret = parse_args(argc, argv, &a);
	if (ret)
		return ret;
	int nfiles;
	char **files = cli_inputs(argc, argv, optind, &nfiles);

	cli_counts *counts = cli_counts_new();
	cli_progress prog;
	cli_progress_init(&prog, a.co.progress);
	dedup_set *set = dedup_set_new(&a.p);
	struct out o = { 0 }, rj = { 0 };
	char **spools = xcalloc((size_t)nfiles, sizeof(char *));
	dedup_stats st;
	dedup_cluster_opts co = { a.keep_longest, !a.exact_only, a.verify, a.threshold };
	int fd, fail = 0;
	size_t indexed_m = 0;
	ret = EXIT_OK;

	if (a.mode == MODE_ONE || a.mode == MODE_APPLY) {
		int k = out_open(&o, a.co.output, &a);
		if (k == 0 && a.rejects)
			k = out_open(&rj, a.rejects, &a);
		if (k < 0) {
			ret = k == -2 ? EXIT_USAGE : EXIT_DATA;
			goto out;
		}
	}
	switch (a.mode) {
	case MODE_ONE: {
		if (load_index(&a, set) < 0) {
			fail = 1;
			break;
		}
		size_t indexed = dedup_set_count(set);
		if (sign_inputs(&a, files, nfiles, set, spools, counts, &prog) < 0) {
			fail = 1;
			break;
		}
		cli_progress_done(&prog);
		uint32_t first = replay(&a, set, &co, indexed, counts);
		dedup_set_cluster(set, &co, &st);
		add_stats(counts, &st, &a);
		/* The outputs are complete before the index lists what they hold. */
		fail = apply_verdicts(&a, files, spools, nfiles, set, first, &o, &rj, counts) < 0 ||
		       (a.index && (close_outputs(&o, &rj) < 0 || write_index(&a, set) < 0));
		break;
	}
	case MODE_SIGN:
		if (sign_inputs(&a, files, nfiles, set, NULL, counts, &prog) < 0) {
			fail = 1;
			break;
		}
		cli_counts_add(counts, "documents", dedup_set_count(set));
		fd = open_binary(a.signatures, a.co.force);
		if (fd < 0) {
			ret = fd == -2 ? EXIT_USAGE : EXIT_DATA;
			goto out;
		}
		fail = close_binary(fd, a.signatures, dedup_sigfile_write(set, fd, 0, a.verify) == 0) < 0;
		break;
	case MODE_MERGE:
		if (load_index(&a, set) < 0) {
			fail = 1;
			break;
		}
		indexed_m = dedup_set_count(set);
		for (int i = 0; i < nfiles && !fail; i++) {
			char err[512];
			if (dedup_sigfile_read(set, files[i], 0, err, sizeof(err)) < 0) {
				cli_error(files[i], "%s", err);
				fail = 1;
			}
		}
		if (fail)
			break;
		replay(&a, set, &co, indexed_m, counts);
		dedup_set_cluster(set, &co, &st);
		add_stats(counts, &st, &a);
		fd = open_binary(a.co.output, a.co.force);
		if (fd < 0) {
			ret = fd == -2 ? EXIT_USAGE : EXIT_DATA;
			goto out;
		}
		fail = close_binary(fd, a.co.output, dedup_drops_write(set, fd) == 0) < 0 ||
		       (a.index && write_index(&a, set) < 0);
		break;
	case MODE_APPLY:
		fail = run_apply(&a, files, nfiles, &o, &rj, counts) < 0;
		break;
	}
	cli_progress_done(&prog);
	if (fail)
		ret = EXIT_DATA;
	if (ret == EXIT_OK && !a.co.quiet)
		cli_counts_print(counts, stderr);
	if (ret == EXIT_OK && a.co.stats && cli_counts_write_json(counts, a.co.stats) < 0)
		ret = EXIT_DATA;
out:
	if (out_close(&o, ret) < 0)
		ret = EXIT_DATA;
	if (out_close(&rj, ret) < 0)
		ret = EXIT_DATA;
	for (int i = 0; i < nfiles; i++)
		if (spools[i]) {
			unlink(spools[i]);
			free(spools[i]);
		}
	free(spools);
	dedup_set_free(set);
	cli_counts_free(counts);
	if (cli_close_stdout() != EXIT_OK)
		ret = EXIT_DATA;
	return ret;
}

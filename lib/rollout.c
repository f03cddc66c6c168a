/* rollout.c: the checked reader of scored rollouts. */
#include "rollout.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "input.h"
#include "json.h"
#include "record.h"
#include "tokenizer.h"
#include "util.h"

struct rollout_reader {
	input *in;
	rec *r;
	uint64_t n_vocab, n_ctx;
	unsigned need;
	int64_t step, max_staleness;
	int have_step;
	uint64_t group_size;        /* from the header, else the first group; 0: not yet known */
	uint64_t records;           /* in whole groups handed out or skipped */
	rollout next;               /* read ahead: the first of the next group */
	int have_next, at_end;
	uint64_t next_hash, first_hash;   /* of the read-ahead record; of the input's first */
	char tokenizer[TOK_NAME_MAX], chat_template[16];
	char weights[8];            /* the storage of the weights that sampled them: the first record's */
	uint64_t weights_record;    /* that record; 0 before it */
	char err[512];
};

static int fail(rollout_reader *rd, uint64_t record, const char *fmt, ...)
{
	char what[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (record)
		snprintf(rd->err, sizeof(rd->err), "%s: record %llu: %s", input_path(rd->in),
			 (unsigned long long)record, what);
	else
		snprintf(rd->err, sizeof(rd->err), "%s: %s", input_path(rd->in), what);
	return -1;
}

static int read_header(rollout_reader *rd)
{
	size_t len;
	const char *meta = input_meta(rd->in, &len);
	if (!len)
		return 0;
	rec *m = rec_new();
	char perr[256];
	int rc = 0;
	if (json_parse_line(m, meta, len, perr, sizeof(perr)) < 0) {
		rc = fail(rd, 0, "stream metadata is not a JSON object: %s", perr);
	} else {
		json_copy_str(m, "tokenizer", rd->tokenizer, sizeof(rd->tokenizer));
		json_copy_str(m, "chat_template", rd->chat_template, sizeof(rd->chat_template));
		uint64_t n_vocab = 0;
		if (json_get_u64(m, "samples", &rd->group_size) < 0 || json_get_u64(m, "n_vocab", &n_vocab) < 0)
			rc = fail(rd, 0, "stream metadata: samples and n_vocab must be integers");
		else if (n_vocab > rd->n_vocab)
			rc = fail(rd, 0, "vocabulary of %llu tokens, but the model has %llu", (unsigned long long)n_vocab,
				  (unsigned long long)rd->n_vocab);
	}
	rec_free(m);
	return rc;
}

rollout_reader *rollout_open(const char *path, uint64_t n_vocab, uint64_t n_ctx, unsigned need)
{
	input *in = input_open(path, INPUT_AUTO);
	if (!in)
		return NULL;
	rollout_reader *rd = xcalloc(1, sizeof(*rd));
	rd->in = in;
	rd->r = rec_new();
	rd->n_vocab = n_vocab;
	rd->n_ctx = n_ctx;
	rd->need = need;
	if (read_header(rd) < 0)
		rd->at_end = -1;
	return rd;
}

static void rollout_release(rollout *o)
{
	free(o->tok);
	free(o->old_logp);
	free(o->ref_logp);
	memset(o, 0, sizeof(*o));
}

void rollout_close(rollout_reader *rd)
{
	if (!rd)
		return;
	input_close(rd->in);
	rec_free(rd->r);
	rollout_release(&rd->next);
	free(rd);
}

const char *rollout_error(const rollout_reader *rd) { return rd->err; }
const char *rollout_path(const rollout_reader *rd) { return input_path(rd->in); }
const char *rollout_tokenizer(const rollout_reader *rd) { return rd->tokenizer; }
const char *rollout_chat_template(const rollout_reader *rd) { return rd->chat_template; }
uint64_t rollout_records(const rollout_reader *rd) { return rd->records; }

static int next(rollout_reader *rd, rollout *o);

int rollout_stream_id(rollout_reader *rd, char *out, size_t size)
{
	if (!rd->records && !rd->have_next) {
		int got = next(rd, &rd->next);
		if (got < 0)
			return -1;
		rd->have_next = got;
	}
	if (!rd->records && !rd->have_next) {
		out[0] = 0;
		return 0;
	}
	uint64_t h = rd->records ? rd->first_hash : rd->next_hash;
	snprintf(out, size, "rollouts/%016llx", (unsigned long long)h);
	return 0;
}

void rollout_set_step(rollout_reader *rd, int64_t step, int64_t max_staleness)
{
	rd->step = step;
	rd->max_staleness = max_staleness;
	rd->have_step = 1;
}

/* An array field of n elements of the given type, or -1 with the reason. */
static int array_field(rollout_reader *rd, uint64_t no, const char *name, int type, size_t *n,
		       const rec_field **out)
{
	const rec_field *f = rec_get(rd->r, name);
	size_t size = 4;
	if (!f)
		return fail(rd, no, "no %s field", name);
	if (f->type != type || f->len % size)
		return fail(rd, no, "%s is not an array of %s (rollouts are read as records: write them without -J)",
			    name, type == REC_U32S ? "token ids" : "32-bit floats");
	*n = f->len / size;
	*out = f;
	return 0;
}

static int floats(rollout_reader *rd, uint64_t no, const char *name, size_t ncomp, float **out)
{
	const rec_field *f;
	size_t n;
	if (array_field(rd, no, name, REC_F32S, &n, &f) < 0)
		return -1;
	if (n != ncomp)
		return fail(rd, no, "%s has %zu values for %zu completion tokens", name, n, ncomp);
	*out = xmalloc((ncomp ? ncomp : 1) * sizeof(float));
	for (size_t i = 0; i < n; i++) {
		(*out)[i] = rec_f32_at(f, i);
		if (!isfinite((*out)[i]) || (*out)[i] > 1e-3f)
			return fail(rd, no, "%s[%zu] is %g, not a log-probability", name, i, (double)(*out)[i]);
	}
	return 0;
}

/* The record in rd->r, checked, into o. */
static int parse(rollout_reader *rd, uint64_t no, rollout *o)
{
	const rec_field *pf, *cf;
	size_t np, nc;
	if (array_field(rd, no, "prompt_tokens", REC_U32S, &np, &pf) < 0 ||
	    array_field(rd, no, "completion_tokens", REC_U32S, &nc, &cf) < 0)
		return -1;
	if (!np)
		return fail(rd, no, "empty prompt");
	if (rd->n_ctx && np + nc > rd->n_ctx + 1)
		return fail(rd, no, "prompt and completion make %zu tokens, more than the model's context of %llu + 1",
			    np + nc, (unsigned long long)rd->n_ctx);
	o->record = no;
	o->nprompt = np;
	o->ncomp = nc;
	o->tok = xmalloc((np + nc) * sizeof(*o->tok));
	for (size_t i = 0; i < np + nc; i++) {
		o->tok[i] = i < np ? rec_u32_at(pf, i) : rec_u32_at(cf, i - np);
		if (o->tok[i] >= rd->n_vocab)
			return fail(rd, no, "token %u at %s %zu is outside the model's vocabulary of %llu", o->tok[i],
				    i < np ? "prompt position" : "completion position", i < np ? i : i - np,
				    (unsigned long long)rd->n_vocab);
	}
	if (rec_get_int(rd->r, "group", &o->group) < 0)
		return fail(rd, no, "no group field");
	if (rec_get_int(rd->r, "sample", &o->sample) < 0)
		o->sample = 0;
	if (rec_get_int(rd->r, "max_new", &o->max_new) < 0)
		o->max_new = 0;
	const rec_field *fin = rec_get(rd->r, "finish");
	o->truncated = fin && fin->type == REC_STR && fin->len == 6 && !memcmp(fin->val, "length", 6);
	if (rec_get_double(rd->r, "temperature", &o->temperature) < 0)
		o->temperature = 1;
	if (rd->need & ROLLOUT_NEED_REWARD) {
		if (!rec_get(rd->r, "reward"))
			return fail(rd, no, "no reward field (score the rollouts with sluice-synth-filter --reward)");
		if (rec_get_double(rd->r, "reward", &o->reward) < 0 || !isfinite(o->reward))
			return fail(rd, no, "the reward is not a finite number");
	}
	if (rec_get_int(rd->r, "policy_step", &o->policy_step) < 0)
		o->policy_step = -1;
	/* Rollouts sampled with other weight storages come from different
	 * policies: the file must not mix them.  A record without the field
	 * was sampled before the narrower storages existed, with f32. */
	const rec_field *wf = rec_get(rd->r, "weights");
	char w[sizeof(rd->weights)] = "f32";
	if (wf) {
		if (wf->type != REC_STR || !wf->len || wf->len >= sizeof(w))
			return fail(rd, no, "weights is not a weight storage (f32, bf16, int8)");
		memcpy(w, wf->val, wf->len);
		w[wf->len] = 0;
	}
	if (!rd->weights_record) {
		memcpy(rd->weights, w, sizeof(w));
		rd->weights_record = no;
	} else if (strcmp(w, rd->weights)) {
		return fail(rd, no,
			    "sampled with %s weights, record %llu with %s: rollouts of one file share one weight "
			    "storage (sluice-sample --weights)",
			    w, (unsigned long long)rd->weights_record, rd->weights);
	}
	if (rd->need & ROLLOUT_NEED_OLD_LOGPROBS) {
		int64_t top_k = 0;
		double top_p = 1;
		(void)rec_get_int(rd->r, "top_k", &top_k);
		(void)rec_get_double(rd->r, "top_p", &top_p);
		if (!(o->temperature > 0))
			return fail(rd, no, "sampled greedily (temperature %g): RL needs sampled completions",
				    o->temperature);
		if (top_k > 0 || top_p < 1)
			return fail(rd, no,
				    "sampled with top-k %lld, top-p %g: the ratio needs the policy's whole "
				    "distribution; sample RL rollouts with a temperature alone",
				    (long long)top_k, top_p);
		const char *name = rec_get(rd->r, "sample_logprobs") ? "sample_logprobs" : "logprobs";
		if (!strcmp(name, "logprobs") && o->temperature != 1)
			return fail(rd, no, "no sample_logprobs field, and logprobs are at temperature 1, not %g",
				    o->temperature);
		if (floats(rd, no, name, nc, &o->old_logp) < 0)
			return -1;
	}
	if (rd->need & ROLLOUT_NEED_REF_LOGPROBS) {
		if (!rec_get(rd->r, "ref_logprobs"))
			return fail(rd, no, "no ref_logprobs field (add them with sluice-eval --ref-logprobs -m REF)");
		if (floats(rd, no, "ref_logprobs", nc, &o->ref_logp) < 0)
			return -1;
	}
	return 0;
}

/* The next rollout into o: 1, 0 at the end, -1. */
static int next(rollout_reader *rd, rollout *o)
{
	if (rd->at_end)
		return rd->at_end < 0 ? -1 : 0;
	int got = input_read(rd->in, rd->r);
	if (got < 0) {
		fail(rd, 0, "%s", input_error(rd->in));
		rd->at_end = -1;
		return -1;
	}
	if (got == 0) {
		rd->at_end = 1;
		return 0;
	}
	size_t len;
	const uint8_t *bytes = rec_bytes(rd->r, &len);
	rd->next_hash = XXH3_64bits(bytes, len);
	if (parse(rd, input_records(rd->in), o) < 0) {
		rollout_release(o);
		rd->at_end = -1;
		return -1;
	}
	return 1;
}

/* Sampled by a policy too far behind the model (or ahead of it)? */
static int check_step(rollout_reader *rd, const rollout *o)
{
	uint64_t no = o->record;
	if (rd->have_step && o->policy_step >= 0) {
		if (o->policy_step > rd->step)
			return fail(rd, no, "sampled by the policy at step %lld, but the model is at step %lld",
				    (long long)o->policy_step, (long long)rd->step);
		if (rd->step - o->policy_step > rd->max_staleness)
			return fail(rd, no,
				    "sampled at step %lld, %lld steps before the model's %lld: more than the %lld "
				    "allowed (--max-staleness)",
				    (long long)o->policy_step, (long long)(rd->step - o->policy_step), (long long)rd->step,
				    (long long)rd->max_staleness);
	}
	return 0;
}

static void batch_push(rollout_batch *b, rollout *o)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 64;
		b->r = xrealloc(b->r, b->cap * sizeof(*b->r));
	}
	b->r[b->n++] = *o;
	memset(o, 0, sizeof(*o));
}

static void batch_clear(rollout_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		rollout_release(&b->r[i]);
	b->n = 0;
	b->ngroups = 0;
}

void rollout_batch_free(rollout_batch *b)
{
	batch_clear(b);
	free(b->r);
	free(b->group_start);
	memset(b, 0, sizeof(*b));
}

/* One group into b (its start recorded): 1, 0 at the end, -1. */
static int read_group(rollout_reader *rd, rollout_batch *b)
{
	if (!rd->have_next) {
		int got = next(rd, &rd->next);
		if (got <= 0)
			return got;
		rd->have_next = 1;
	}
	if (b->ngroups + 2 > b->gcap) {
		b->gcap = b->gcap ? 2 * b->gcap : 16;
		b->group_start = xrealloc(b->group_start, b->gcap * sizeof(*b->group_start));
	}
	size_t start = b->n;
	b->group_start[b->ngroups] = start;
	int64_t group = rd->next.group;
	uint64_t first = rd->next.record;
	if (check_step(rd, &rd->next) < 0)
		return -1;
	if (!rd->records && !b->n)
		rd->first_hash = rd->next_hash;
	batch_push(b, &rd->next);
	rd->have_next = 0;
	int got;
	while ((got = next(rd, &rd->next)) == 1) {
		if (rd->next.group != group) {
			rd->have_next = 1;
			break;
		}
		if (check_step(rd, &rd->next) < 0)
			return -1;
		batch_push(b, &rd->next);
	}
	if (got < 0)
		return -1;
	uint64_t size = b->n - start;
	if (!rd->group_size)
		rd->group_size = size;
	if (size != rd->group_size)
		return fail(rd, first, "group %lld has %llu completions, not %llu%s", (long long)group,
			    (unsigned long long)size, (unsigned long long)rd->group_size,
			    got == 0 ? " (the last group of the input: a group split across files?)" : "");
	b->ngroups++;
	b->group_start[b->ngroups] = b->n;
	rd->records += size;
	return 1;
}

long rollout_read_batch(rollout_reader *rd, size_t max_groups, rollout_batch *b)
{
	batch_clear(b);
	long n = 0;
	while (!max_groups || (size_t)n < max_groups) {
		int got = read_group(rd, b);
		if (got < 0)
			return -1;
		if (got == 0)
			break;
		n++;
	}
	return n;
}

int rollout_skip(rollout_reader *rd, uint64_t n)
{
	rollout_batch b = { 0 };
	int rc = 0;
	while (rd->records < n) {
		long got = rollout_read_batch(rd, 1, &b);
		if (got < 0) {
			rc = -1;
			break;
		}
		if (got == 0 || rd->records > n) {
			rc = fail(rd, 0, "cannot resume after record %llu: %s", (unsigned long long)n,
				  got == 0 ? "the input ends first" : "it falls inside a group");
			break;
		}
	}
	rollout_batch_free(&b);
	return rc;
}

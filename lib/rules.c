/* rules.c: the rules engine, its presets and the rules-file parser. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "rules.h"

#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quality.h"
#include "verify.h"

enum { K_METRIC, K_MATCH, K_NOMATCH, K_ANSWER, K_WRONG_ANSWER, K_REFUSAL, K_DECON, K_C4 };
enum { OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE };
static const char *const op_names[] = { "<", "<=", ">", ">=", "==", "!=" };

#define NAME_MAX_LEN 64

struct rule {
	char name[NAME_MAX_LEN];
	char field[REC_NAME_MAX + 1];
	char ref[REC_NAME_MAX + 1];      /* answer rules: the reference field */
	int action, kind, off;
	double weight;
	int metric, param, op;           /* K_METRIC; K_C4 part in param */
	double thr;
	pcre2_code *re;
	const decon *dc;
};

struct rules {
	struct rule *v;
	size_t n, cap;
	quality_c4_params c4;
};

rules *rules_new(void)
{
	rules *rs = xcalloc(1, sizeof(*rs));
	rs->c4 = (quality_c4_params){ 1000, 1, 1, 3, 1, 1 };
	return rs;
}

void rules_free(rules *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++)
		pcre2_code_free(rs->v[i].re);
	free(rs->v);
	free(rs);
}

size_t rules_count(const rules *rs) { return rs->n; }
const char *rules_name(const rules *rs, size_t i) { return rs->v[i].name; }
int rules_action(const rules *rs, size_t i) { return rs->v[i].action; }
double rules_weight(const rules *rs, size_t i) { return rs->v[i].weight; }
int rules_enabled(const rules *rs, size_t i) { return !rs->v[i].off; }

static struct rule *find(rules *rs, const char *name, size_t len)
{
	for (size_t i = 0; i < rs->n; i++)
		if (strlen(rs->v[i].name) == len && memcmp(rs->v[i].name, name, len) == 0)
			return &rs->v[i];
	return NULL;
}

/* Append a rule; returns it, or NULL with err set if the name is taken. */
static struct rule *add(rules *rs, const char *name, size_t nlen, const char *field, char *err, size_t errlen)
{
	if (nlen == 0 || nlen >= NAME_MAX_LEN) {
		snprintf(err, errlen, "rule name must be 1 to %d characters", NAME_MAX_LEN - 1);
		return NULL;
	}
	if (find(rs, name, nlen)) {
		snprintf(err, errlen, "rule '%.*s' defined twice", (int)nlen, name);
		return NULL;
	}
	if (strlen(field) == 0 || strlen(field) > REC_NAME_MAX) {
		snprintf(err, errlen, "field name must be 1 to %d bytes", REC_NAME_MAX);
		return NULL;
	}
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? 2 * rs->cap : 32;
		rs->v = xrealloc(rs->v, rs->cap * sizeof(*rs->v));
	}
	struct rule *r = &rs->v[rs->n++];
	memset(r, 0, sizeof(*r));
	memcpy(r->name, name, nlen);
	strcpy(r->field, field);
	r->action = RULE_DROP;
	return r;
}

/* ---- presets ---- */

struct preset_rule {
	const char *name;
	int metric, param, op;
	double thr;
};

static const struct preset_rule gopher_quality[] = {
	{ "gopher_short_doc", Q_NONSYMBOL_WORDS, 0, OP_LT, 50 },
	{ "gopher_long_doc", Q_NONSYMBOL_WORDS, 0, OP_GT, 100000 },
	{ "gopher_below_avg_threshold", Q_MEAN_WORD_LENGTH, 0, OP_LT, 3 },
	{ "gopher_above_avg_threshold", Q_MEAN_WORD_LENGTH, 0, OP_GT, 10 },
	{ "gopher_too_many_hashes", Q_HASH_RATIO, 0, OP_GT, 0.1 },
	{ "gopher_too_many_ellipsis", Q_ELLIPSIS_RATIO, 0, OP_GT, 0.1 },
	{ "gopher_too_many_bullets", Q_BULLET_LINES, 0, OP_GT, 0.9 },
	{ "gopher_too_many_end_ellipsis", Q_ELLIPSIS_LINES, 0, OP_GT, 0.3 },
	{ "gopher_below_alpha_threshold", Q_ALPHA_WORDS, 0, OP_LT, 0.8 },
	{ "gopher_enough_stop_words", Q_STOP_WORDS, 0, OP_LT, 2 },
	{ NULL, 0, 0, 0, 0 },
};

static const struct preset_rule gopher_repetition[] = {
	{ "gopher_empty", Q_CHARS, 0, OP_EQ, 0 },
	{ "gopher_dup_para_frac", Q_DUP_PARA_FRAC, 0, OP_GT, 0.3 },
	{ "gopher_dup_para_char_frac", Q_DUP_PARA_CHARS, 0, OP_GT, 0.2 },
	{ "gopher_dup_line_frac", Q_DUP_LINE_FRAC, 0, OP_GT, 0.3 },
	{ "gopher_dup_line_char_frac", Q_DUP_LINE_CHARS, 0, OP_GT, 0.2 },
	{ "gopher_top_2_gram", Q_TOP_NGRAM, 2, OP_GT, 0.2 },
	{ "gopher_top_3_gram", Q_TOP_NGRAM, 3, OP_GT, 0.18 },
	{ "gopher_top_4_gram", Q_TOP_NGRAM, 4, OP_GT, 0.16 },
	{ "gopher_duplicated_5_n_grams", Q_DUP_NGRAM, 5, OP_GT, 0.15 },
	{ "gopher_duplicated_6_n_grams", Q_DUP_NGRAM, 6, OP_GT, 0.14 },
	{ "gopher_duplicated_7_n_grams", Q_DUP_NGRAM, 7, OP_GT, 0.13 },
	{ "gopher_duplicated_8_n_grams", Q_DUP_NGRAM, 8, OP_GT, 0.12 },
	{ "gopher_duplicated_9_n_grams", Q_DUP_NGRAM, 9, OP_GT, 0.11 },
	{ "gopher_duplicated_10_n_grams", Q_DUP_NGRAM, 10, OP_GT, 0.10 },
	{ NULL, 0, 0, 0, 0 },
};

static const struct preset_rule fineweb_quality[] = {
	{ "fineweb_line_punct_ratio", Q_LINE_PUNCT, 0, OP_LT, 0.12 },
	{ "fineweb_short_line_ratio", Q_SHORT_LINES, 30, OP_GT, 0.67 },
	{ "fineweb_char_dup_ratio", Q_LINE_CHAR_DUP, 0, OP_GT, 0.01 },
	{ "fineweb_list_ratio", Q_NEWLINE_RATIO, 0, OP_GT, 0.3 },
	{ NULL, 0, 0, 0, 0 },
};

static const struct preset_rule synth_rules[] = {
	{ "synth_runaway_length", Q_CHARS, 0, OP_GT, 16000 },
	{ "synth_repeated_ngrams", Q_DUP_NGRAM, 4, OP_GT, 0.3 },
	{ NULL, 0, 0, 0, 0 },
};

static int add_table(rules *rs, const struct preset_rule *t, const char *field, char *err, size_t errlen)
{
	for (; t->name; t++) {
		struct rule *r = add(rs, t->name, strlen(t->name), field, err, errlen);
		if (!r)
			return -1;
		r->kind = K_METRIC;
		r->metric = t->metric;
		r->param = t->param;
		r->op = t->op;
		r->thr = t->thr;
	}
	return 0;
}

static int add_c4(rules *rs, const char *field, char *err, size_t errlen)
{
	static const char *const names[] = { "c4_lorem_ipsum", "c4_curly_bracket", "c4_too_few_sentences" };
	for (int i = 0; i < 3; i++) {
		struct rule *r = add(rs, names[i], strlen(names[i]), field, err, errlen);
		if (!r)
			return -1;
		r->kind = K_C4;
		r->param = i;
		r->op = i == 2 ? OP_LT : OP_GE;
		r->thr = i == 2 ? 5 : 1;
	}
	return 0;
}

int rules_add_preset(rules *rs, const char *name, const char *field, char *err, size_t errlen)
{
	if (strcmp(name, "gopher") == 0)
		return add_table(rs, gopher_quality, field, err, errlen) ||
		       add_table(rs, gopher_repetition, field, err, errlen) ? -1 : 0;
	if (strcmp(name, "gopher-quality") == 0)
		return add_table(rs, gopher_quality, field, err, errlen);
	if (strcmp(name, "gopher-repetition") == 0)
		return add_table(rs, gopher_repetition, field, err, errlen);
	if (strcmp(name, "c4") == 0)
		return add_c4(rs, field, err, errlen);
	if (strcmp(name, "fineweb") == 0) {
		/* datatrove's FineWeb order; C4 there keeps lines without end punctuation */
		rs->c4.terminal_punct = 0;
		return add_table(rs, gopher_repetition, field, err, errlen) ||
		       add_table(rs, gopher_quality, field, err, errlen) || add_c4(rs, field, err, errlen) ||
		       add_table(rs, fineweb_quality, field, err, errlen) ? -1 : 0;
	}
	if (strcmp(name, "synth") == 0) {
		struct rule *r = add(rs, "synth_refusal", 13, field, err, errlen);
		if (!r)
			return -1;
		r->kind = K_REFUSAL;
		return add_table(rs, synth_rules, field, err, errlen);
	}
	snprintf(err, errlen, "unknown preset '%s' (gopher, gopher-quality, gopher-repetition, c4, fineweb, synth)",
		 name);
	return -1;
}

int rules_add_decon(rules *rs, const decon *d, const char *field, int action, char *err, size_t errlen)
{
	struct rule *r = add(rs, "decontam", 8, field, err, errlen);
	if (!r)
		return -1;
	r->kind = K_DECON;
	r->dc = d;
	r->action = action;
	return 0;
}

/* ---- overrides ---- */

static int parse_double(const char *s, size_t n, double *out)
{
	char tmp[64], *end;
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	*out = strtod(tmp, &end);
	return *end || !isfinite(*out) ? -1 : 0;
}

int rules_set(rules *rs, const char *a, char *err, size_t errlen)
{
	const char *eq = strchr(a, '=');
	if (!eq) {
		snprintf(err, errlen, "expected NAME=VALUE, got '%s'", a);
		return -1;
	}
	size_t nlen = (size_t)(eq - a);
	const char *val = eq + 1;
	static const char *const c4names[] = { "c4_max_word_length", "c4_citations", "c4_terminal_punct",
					       "c4_min_words_per_line", "c4_javascript", "c4_policy" };
	int *c4vals[] = { &rs->c4.max_word_length, &rs->c4.remove_citations, &rs->c4.terminal_punct,
			  &rs->c4.min_words_per_line, &rs->c4.javascript, &rs->c4.policy };
	for (int i = 0; i < 6; i++) {
		if (strlen(c4names[i]) == nlen && memcmp(c4names[i], a, nlen) == 0) {
			double v;
			if (strcmp(val, "off") == 0)
				v = 0;
			else if (parse_double(val, strlen(val), &v) < 0 || v < 0 || v > 1e9 || v != floor(v)) {
				snprintf(err, errlen, "%s: expected a whole number or off, got '%s'", c4names[i], val);
				return -1;
			}
			*c4vals[i] = (int)v;
			return 0;
		}
	}
	struct rule *r = find(rs, a, nlen);
	if (!r) {
		snprintf(err, errlen, "no rule named '%.*s'", (int)nlen, a);
		return -1;
	}
	if (strcmp(val, "off") == 0) {
		r->off = 1;
		return 0;
	}
	if (strcmp(val, "on") == 0) {
		r->off = 0;
		return 0;
	}
	double v;
	if ((r->kind != K_METRIC && r->kind != K_C4 && r->kind != K_DECON) ||
	    parse_double(val, strlen(val), &v) < 0) {
		snprintf(err, errlen, "%s: expected a number, on or off, got '%s'", r->name, val);
		return -1;
	}
	r->thr = v;
	r->off = 0;
	return 0;
}

/* ---- the rules file ---- */

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Next blank-separated word of line[*i..n). */
static int word(const char *line, size_t n, size_t *i, const char **w, size_t *wl)
{
	while (*i < n && is_blank(line[*i]))
		(*i)++;
	if (*i >= n)
		return 0;
	*w = line + *i;
	while (*i < n && !is_blank(line[*i]))
		(*i)++;
	*wl = (size_t)(line + *i - *w);
	return 1;
}

static int is_name(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return 0;
	return n > 0;
}

static int eq(const char *w, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(w, s, n) == 0;
}

/* Compile the /pattern/flags at line[*i..n) into r->re. */
static int parse_pattern(struct rule *r, const char *line, size_t n, size_t *i, char *err, size_t errlen)
{
	while (*i < n && is_blank(line[*i]))
		(*i)++;
	if (*i >= n || line[*i] != '/') {
		snprintf(err, errlen, "expected /PATTERN/ after the test");
		return -1;
	}
	buf pat = { 0 };
	size_t j = *i + 1;
	for (; j < n && line[j] != '/'; j++) {
		if (line[j] == '\\' && j + 1 < n && line[j + 1] == '/')
			j++;
		else if (line[j] == '\\' && j + 1 < n)
			buf_addc(&pat, (uint8_t)line[j++]);
		buf_addc(&pat, (uint8_t)line[j]);
	}
	if (j >= n) {
		snprintf(err, errlen, "pattern not closed by '/'");
		buf_release(&pat);
		return -1;
	}
	uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
	for (j++; j < n && !is_blank(line[j]); j++) {
		switch (line[j]) {
		case 'i': opts |= PCRE2_CASELESS; break;
		case 'm': opts |= PCRE2_MULTILINE; break;
		case 's': opts |= PCRE2_DOTALL; break;
		case 'x': opts |= PCRE2_EXTENDED; break;
		case 'u': opts |= PCRE2_UCP; break;
		default:
			snprintf(err, errlen, "unknown pattern flag '%c' (i, m, s, x, u)", line[j]);
			buf_release(&pat);
			return -1;
		}
	}
	*i = j;
	int code;
	PCRE2_SIZE off;
	r->re = pcre2_compile(pat.data ? pat.data : (PCRE2_SPTR) "", pat.len, opts, &code, &off, NULL);
	if (!r->re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof(msg));
		snprintf(err, errlen, "pattern /%.*s/: at offset %zu: %s", (int)(pat.len > 200 ? 200 : pat.len),
			 pat.data ? (const char *)pat.data : "", (size_t)off, (const char *)msg);
		buf_release(&pat);
		return -1;
	}
	pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE); /* the interpreter runs it if JIT is unavailable */
	buf_release(&pat);
	return 0;
}

static int parse_line(rules *rs, const char *line, size_t n, char *err, size_t errlen)
{
	size_t i = 0, nl, al, fl, tl;
	const char *name, *act, *field, *test;
	if (!word(line, n, &i, &name, &nl) || name[0] == '#')
		return 0;
	if (!is_name(name, nl)) {
		snprintf(err, errlen, "bad rule name '%.*s' (letters, digits, _ - .)", (int)(nl > 64 ? 64 : nl), name);
		return -1;
	}
	if (!word(line, n, &i, &act, &al) || !word(line, n, &i, &field, &fl) || !word(line, n, &i, &test, &tl)) {
		snprintf(err, errlen, "expected NAME ACTION FIELD TEST");
		return -1;
	}
	int action;
	double weight = 0;
	if (eq(act, al, "drop"))
		action = RULE_DROP;
	else if (eq(act, al, "keep"))
		action = RULE_KEEP;
	else if (eq(act, al, "flag"))
		action = RULE_FLAG;
	else if (al > 6 && memcmp(act, "score=", 6) == 0 && parse_double(act + 6, al - 6, &weight) == 0)
		action = RULE_SCORE;
	else {
		snprintf(err, errlen, "unknown action '%.*s' (drop, keep, flag, score=W)", (int)(al > 64 ? 64 : al), act);
		return -1;
	}
	if (fl > REC_NAME_MAX) {
		snprintf(err, errlen, "field name longer than %d bytes", REC_NAME_MAX);
		return -1;
	}
	char fname[REC_NAME_MAX + 1];
	memcpy(fname, field, fl);
	fname[fl] = '\0';
	struct rule *r = add(rs, name, nl, fname, err, errlen);
	if (!r)
		return -1;
	r->action = action;
	r->weight = weight;
	const char *w;
	size_t wl;
	if (eq(test, tl, "match") || eq(test, tl, "nomatch")) {
		r->kind = eq(test, tl, "match") ? K_MATCH : K_NOMATCH;
		if (parse_pattern(r, line, n, &i, err, errlen) < 0)
			goto fail;
	} else if (eq(test, tl, "answer") || eq(test, tl, "wrong_answer")) {
		r->kind = eq(test, tl, "answer") ? K_ANSWER : K_WRONG_ANSWER;
		if (!word(line, n, &i, &w, &wl) || wl > REC_NAME_MAX) {
			snprintf(err, errlen, "%s needs the reference field", r->kind == K_ANSWER ? "answer" : "wrong_answer");
			goto fail;
		}
		memcpy(r->ref, w, wl);
		r->ref[wl] = '\0';
	} else if (eq(test, tl, "refusal")) {
		r->kind = K_REFUSAL;
	} else {
		const char *colon = memchr(test, ':', tl);
		size_t ml = colon ? (size_t)(colon - test) : tl;
		int takes;
		int m = quality_metric_find(test, ml, &takes);
		if (m < 0) {
			snprintf(err, errlen, "unknown test '%.*s'", (int)(tl > 64 ? 64 : tl), test);
			goto fail;
		}
		r->kind = K_METRIC;
		r->metric = m;
		if (takes) {
			double p;
			if (!colon || parse_double(colon + 1, tl - ml - 1, &p) < 0 || p < 1 || p > 1000 || p != floor(p)) {
				snprintf(err, errlen, "%s needs :N with N from 1 to 1000", quality_metric_name(m));
				goto fail;
			}
			r->param = (int)p;
		} else if (colon) {
			snprintf(err, errlen, "%s takes no :N", quality_metric_name(m));
			goto fail;
		}
		int op = -1;
		if (word(line, n, &i, &w, &wl))
			for (int k = 0; k < 6; k++)
				if (eq(w, wl, op_names[k]))
					op = k;
		if (op < 0) {
			snprintf(err, errlen, "expected a comparison (< <= > >= == !=) after %s", quality_metric_name(m));
			goto fail;
		}
		r->op = op;
		if (!word(line, n, &i, &w, &wl) || parse_double(w, wl, &r->thr) < 0) {
			snprintf(err, errlen, "expected a number after %s", op_names[op]);
			goto fail;
		}
	}
	if (word(line, n, &i, &w, &wl) && w[0] != '#') {
		snprintf(err, errlen, "unexpected '%.*s' at the end", (int)(wl > 64 ? 64 : wl), w);
		goto fail;
	}
	return 0;
fail:
	pcre2_code_free(r->re);
	rs->n--;
	return -1;
}

int rules_parse(rules *rs, const char *text, size_t len, char *err, size_t errlen)
{
	size_t line = 0;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) : len;
		char msg[512];
		line++;
		if (memchr(text + i, '\0', end - i)) {
			snprintf(err, errlen, "line %zu: NUL byte", line);
			return -1;
		}
		if (parse_line(rs, text + i, end - i, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "line %zu: %s", line, msg);
			return -1;
		}
		i = end + 1;
	}
	return 0;
}

/* ---- applying ---- */

struct rules_eval {
	const rules *rs;
	quality *q;
	pcre2_match_data *md;
	decon_scratch *dsc;
	int *fired, *done;
	double *value;
	long dropped_by;
	double dropped_value;
	const char *qfield;      /* the field quality is set to */
	int c4_done, c4_verdict;
	double c4_sentences;
	buf c4_kept;
	const char *c4_field;    /* set when C4 rewrote this field */
	buf tmp;
};

rules_eval *rules_eval_new(const rules *rs)
{
	rules_eval *e = xcalloc(1, sizeof(*e));
	e->rs = rs;
	e->q = quality_new();
	e->md = pcre2_match_data_create(1, NULL);
	e->dsc = decon_scratch_new();
	e->fired = xcalloc(rs->n + 1, sizeof(int));
	e->done = xcalloc(rs->n + 1, sizeof(int));
	e->value = xcalloc(rs->n + 1, sizeof(double));
	return e;
}

void rules_eval_free(rules_eval *e)
{
	if (!e)
		return;
	quality_free(e->q);
	pcre2_match_data_free(e->md);
	decon_scratch_free(e->dsc);
	free(e->fired);
	free(e->done);
	free(e->value);
	buf_release(&e->c4_kept);
	buf_release(&e->tmp);
	free(e);
}

long rules_eval_dropped_by(const rules_eval *e, double *value)
{
	*value = e->dropped_value;
	return e->dropped_by;
}

int rules_eval_fired(const rules_eval *e, size_t i, double *value)
{
	*value = e->value[i];
	return e->fired[i];
}

int rules_eval_done(const rules_eval *e, size_t i)
{
	return e->done[i];
}

/* The text a rule reads: the field, or C4's rewrite of it.  Returns 0 if
 * the record has no such text field. */
static int field_text(rules_eval *e, const rec *r, const char *field, const uint8_t **s, size_t *n)
{
	if (e->c4_field && strcmp(e->c4_field, field) == 0) {
		*s = e->c4_kept.data ? e->c4_kept.data : (const uint8_t *)"";
		*n = e->c4_kept.len;
		return 1;
	}
	const rec_field *f = rec_get(r, field);
	if (!f || (f->type != REC_STR && f->type != REC_JSON))
		return 0;
	*s = f->val;
	*n = f->len;
	return 1;
}

static int compare(double v, int op, double t)
{
	switch (op) {
	case OP_LT: return v < t;
	case OP_LE: return v <= t;
	case OP_GT: return v > t;
	case OP_GE: return v >= t;
	case OP_EQ: return v == t;
	default: return v != t;
	}
}

/* Evaluate rule i; returns whether it fired. */
static int eval_rule(rules_eval *e, const rec *r, size_t i)
{
	const struct rule *ru = &e->rs->v[i];
	const uint8_t *s, *ref;
	size_t n, rn;
	double v = NAN;
	e->done[i] = 1;
	if (!field_text(e, r, ru->field, &s, &n)) {
		e->value[i] = NAN;
		return e->fired[i] = 0;
	}
	if (ru->kind == K_METRIC || ru->kind == K_C4) {
		if (!e->qfield || strcmp(e->qfield, ru->field) != 0) {
			quality_set_text(e->q, s, n);
			e->qfield = ru->field;
		}
	}
	switch (ru->kind) {
	case K_METRIC:
		v = quality_measure(e->q, (quality_metric)ru->metric, ru->param);
		break;
	case K_C4:
		if (!e->c4_done) {
			e->c4_verdict = quality_c4(e->q, &e->rs->c4, &e->c4_kept, &e->c4_sentences);
			e->c4_done = 1;
		}
		if (ru->param == 0)
			v = e->c4_verdict == C4_LOREM_IPSUM;
		else if (ru->param == 1)
			v = e->c4_verdict == C4_CURLY_BRACKET;
		else
			v = e->c4_verdict == C4_OK ? e->c4_sentences : NAN;
		break;
	case K_MATCH:
	case K_NOMATCH: {
		int rc = pcre2_match(ru->re, s, n, 0, 0, e->md, NULL);
		v = rc >= 0;
		e->value[i] = v;
		return e->fired[i] = ru->kind == K_MATCH ? rc >= 0 : rc < 0;
	}
	case K_ANSWER:
	case K_WRONG_ANSWER: {
		const rec_field *f = rec_get(r, ru->ref);
		if (!f || (f->type != REC_STR && f->type != REC_JSON)) {
			e->value[i] = NAN;
			return e->fired[i] = 0;
		}
		ref = f->val;
		rn = f->len;
		v = verify_answer_matches(s, n, ref, rn);
		e->value[i] = v;
		return e->fired[i] = ru->kind == K_ANSWER ? v == 1 : v == 0;
	}
	case K_REFUSAL:
		v = (double)verify_refusals(s, n);
		e->value[i] = v;
		return e->fired[i] = v > 0;
	case K_DECON:
		v = (double)decon_count(ru->dc, e->dsc, s, n);
		e->value[i] = v;
		return e->fired[i] = v > (ru->thr > 0 ? ru->thr - 1 : 0);
	}
	e->value[i] = v;
	return e->fired[i] = compare(v, ru->op, ru->thr);
}

int rules_apply(rules_eval *e, rec *r, int mode)
{
	const rules *rs = e->rs;
	int keep = 0, drop = 0;
	memset(e->fired, 0, rs->n * sizeof(int));
	memset(e->done, 0, rs->n * sizeof(int));
	e->dropped_by = -1;
	e->dropped_value = NAN;
	e->qfield = NULL;
	e->c4_done = 0;
	e->c4_field = NULL;
	for (size_t i = 0; i < rs->n; i++)
		if (!rs->v[i].off && rs->v[i].action == RULE_KEEP)
			keep |= eval_rule(e, r, i);
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *ru = &rs->v[i];
		if (ru->off || ru->action == RULE_KEEP)
			continue;
		int fired = eval_rule(e, r, i);
		if (ru->kind == K_C4 && ru->param == 2 && e->c4_verdict == C4_OK) {
			e->c4_field = ru->field; /* later rules read the kept lines */
			e->qfield = NULL;
		}
		if (fired && ru->action == RULE_DROP && !keep && !(mode & RULES_REWARD)) {
			if (!drop) {
				drop = 1;
				e->dropped_by = (long)i;
				e->dropped_value = e->value[i];
			}
			if (!(mode & RULES_EVAL_ALL))
				return 1;
		}
	}
	if (drop)
		return 1;
	/* Kept: write the results into the record.  The C4 text first, since
	 * setting a field invalidates views into the record. */
	if (e->c4_field) {
		buf_reset(&e->tmp);
		buf_add(&e->tmp, e->c4_kept.data, e->c4_kept.len);
		if (rec_set_str(r, e->c4_field, (const char *)e->tmp.data, e->tmp.len) < 0)
			return 1;
		e->c4_field = NULL;
	}
	buf_reset(&e->tmp);
	double reward = 0;
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *ru = &rs->v[i];
		if (!e->fired[i])
			continue;
		if (ru->action == RULE_FLAG || (ru->action == RULE_DROP && (mode & RULES_REWARD))) {
			if (e->tmp.len)
				buf_addc(&e->tmp, ',');
			buf_adds(&e->tmp, ru->name);
		}
	}
	if (e->tmp.len && rec_set_str(r, "flags", (const char *)e->tmp.data, e->tmp.len) < 0)
		return 1;
	if (mode & RULES_REWARD) {
		char fname[NAME_MAX_LEN + 8];
		for (size_t i = 0; i < rs->n; i++) {
			const struct rule *ru = &rs->v[i];
			if (ru->action != RULE_SCORE || ru->off)
				continue;
			double part = e->fired[i] ? ru->weight : 0;
			reward += part;
			snprintf(fname, sizeof(fname), "reward_%s", ru->name);
			if (rec_set_float(r, fname, part) < 0)
				return 1;
		}
		if (rec_set_float(r, "reward", reward) < 0)
			return 1;
	}
	return 0;
}

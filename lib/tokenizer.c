/* tokenizer.c: tiktoken-compatible byte-level BPE.
 *
 * Pieces of text come from the encoding's pattern; a piece that is itself a
 * token (most words) costs one hash lookup.  Other pieces are merged pair
 * by pair, lowest rank first: short ones in a plain array (fast, quadratic
 * in the piece length), long ones with a heap over a linked list, so runs
 * of one character or long base64 blobs stay O(n log n). */
#define _GNU_SOURCE /* memmem */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer.h"

#include <errno.h>
#include <limits.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "json.h"
#include "record.h"
#include "textnorm.h"
#include "utf8.h"

/* Pieces up to this many bytes are merged in an array. */
#define SMALL_PIECE 64
/* Longer pieces than this are merged a window at a time (tok_set_window). */
#define PIECE_WINDOW (64u << 10)
/* Tokens on each side of a window's cut checked against a merge across it. */
#define CUT_CHECK 3
#define JIT_STACK_MAX (64u << 20)

/* A hash table slot holds the token's first 8 bytes, so that most lookups
 * (tokens of up to 8 bytes) touch one cache line and not the token bytes. */
struct slot {
	uint64_t head;            /* first bytes of the token, zero-padded */
	uint32_t id1;             /* id + 1; 0 marks an empty slot */
	uint16_t len;             /* length, or 0xffff for 65535 and above */
	uint16_t tag;             /* 16 more bits of the hash */
};

struct special {
	char *text;
	size_t len;
	uint32_t id;
	int allowed;
};

struct tok_vocab {
	char *name, *pattern;
	uint8_t *blob;            /* token bytes, back to back */
	uint64_t *off;            /* by id: offset << 8 | length... see token_at */
	uint32_t n_ids;           /* largest id + 1 */
	struct slot *table;       /* open addressing by hash; id1 0 is empty */
	uint64_t mask;
	uint32_t byte_id[256];
	uint32_t *pair_id;        /* [b0 << 8 | b1]: id of the 2-byte token, or TOK_NONE */
	struct special *specials;
	size_t nspecial;
	int any_allowed;
	pcre2_code *re;
	int jit;
	/* A vocabulary with merges (tokenizer.json): a pair of ids merges if
	 * the merges list has it, at the rank of its place in the list, into
	 * merge_to[rank].  Without merges (tiktoken), a pair merges if its
	 * bytes are a token, and the rank is that token's id. */
	struct pair_slot *pairs;
	uint64_t pair_mask;
	uint32_t *merge_to;
	int whole_piece;          /* a piece that is a token is that token, unmerged */
	int isolated;             /* text between pattern matches is a piece too */
	int nfc;                  /* text is NFC-normalised before splitting */
};

struct pair_slot {
	uint64_t key;             /* left id << 32 | right id; PAIR_EMPTY: none */
	uint32_t rank;
};
#define PAIR_EMPTY UINT64_MAX

/* Token bytes by id: off[id] holds the offset in blob (high 40 bits) and
 * the length (low 24 bits); UINT64_MAX marks an id with no bytes (a hole or
 * a special token). */
#define NO_TOKEN UINT64_MAX

static const uint8_t *token_at(const tok_vocab *v, uint32_t id, size_t *len)
{
	uint64_t o = v->off[id];
	if (o == NO_TOKEN)
		return NULL;
	*len = (size_t)(o & 0xffffff);
	return v->blob + (o >> 24);
}

static inline uint64_t hash_bytes(const uint8_t *p, size_t n)
{
	return XXH3_64bits(p, n);
}

static inline uint64_t head_of(const uint8_t *p, size_t n)
{
	uint64_t w = 0;
	memcpy(&w, p, n < 8 ? n : 8);
	return w;
}

static inline uint32_t lookup(const tok_vocab *v, const uint8_t *p, size_t n)
{
	uint64_t h = hash_bytes(p, n), head = head_of(p, n);
	uint16_t tag = (uint16_t)(h >> 48), len = n < 0xffff ? (uint16_t)n : 0xffff;
	for (uint64_t i = h & v->mask;; i = (i + 1) & v->mask) {
		const struct slot *e = &v->table[i];
		if (!e->id1)
			return TOK_NONE;
		if (e->tag == tag && e->len == len && e->head == head) {
			uint32_t id = e->id1 - 1;
			if (n <= 8)
				return id;
			uint64_t o = v->off[id]; /* every id in the table has bytes */
			if ((o & 0xffffff) == n && memcmp(v->blob + (o >> 24) + 8, p + 8, n - 8) == 0)
				return id;
		}
	}
}

static inline uint64_t pair_slot_of(uint64_t key, uint64_t mask)
{
	return (key * 0x9e3779b97f4a7c15ull) >> 20 & mask;
}

/* The rank of merging ids a and b, or TOK_NONE. */
static inline uint32_t pair_rank(const tok_vocab *v, uint32_t a, uint32_t b)
{
	uint64_t key = (uint64_t)a << 32 | b;
	for (uint64_t i = pair_slot_of(key, v->pair_mask);; i = (i + 1) & v->pair_mask) {
		const struct pair_slot *e = &v->pairs[i];
		if (e->key == key)
			return e->rank;
		if (e->key == PAIR_EMPTY)
			return TOK_NONE;
	}
}

/* The rank of joining the parts p[a..b) (token ta) and p[b..c) (token tb). */
static inline uint32_t join_rank(const tok_vocab *v, const uint8_t *p, size_t a, size_t c, uint32_t ta, uint32_t tb)
{
	return v->merge_to ? pair_rank(v, ta, tb) : lookup(v, p + a, c - a);
}

/* The token a merge of this rank makes. */
static inline uint32_t merged(const tok_vocab *v, uint32_t rank)
{
	return v->merge_to ? v->merge_to[rank] : rank;
}

/* ---- loading ---- */

static int b64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decode standard padded base64; returns the length, or -1. */
static long b64_decode(const uint8_t *s, size_t n, uint8_t *out)
{
	if (n % 4)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		int pad = 0, v[4];
		for (int k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == n && k >= 2) {
				pad++;
				v[k] = 0;
				continue;
			}
			if (pad || (v[k] = b64_value(s[i + k])) < 0)
				return -1;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		out[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)w;
	}
	return (long)o;
}

void tok_base64_encode(buf *out, const uint8_t *p, size_t n)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		uint32_t w = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			w |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			w |= p[i + 2];
		char q[4] = { abc[w >> 18], abc[w >> 12 & 63], abc[w >> 6 & 63], abc[w & 63] };
		if (i + 1 >= n)
			q[2] = '=';
		if (i + 2 >= n)
			q[3] = '=';
		buf_add(out, q, 4);
	}
}

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static void table_put(tok_vocab *v, uint32_t id, const uint8_t *p, size_t n)
{
	uint64_t h = hash_bytes(p, n);
	uint64_t i = h & v->mask;
	while (v->table[i].id1)
		i = (i + 1) & v->mask;
	v->table[i] = (struct slot){ head_of(p, n), id + 1, n < 0xffff ? (uint16_t)n : 0xffff, (uint16_t)(h >> 48) };
}

struct tok_ent {
	uint32_t id;
	uint64_t off;             /* offset in the blob << 24 | length */
};

static int build_tables(tok_vocab *v, const struct tok_ent *ent, size_t nent, uint32_t max_id, const char *what,
			char *err, size_t errlen);

/* Parse the rank file: "base64 rank" lines, ranks distinct, tokens distinct. */
static int parse_ranks(tok_vocab *v, const uint8_t *p, size_t n, char *err, size_t errlen)
{
	size_t lines = 0;
	for (size_t i = 0; i < n; i++)
		lines += p[i] == '\n';
	lines += n && p[n - 1] != '\n';
	if (lines > (1u << 24))
		return fail(err, errlen, "%zu lines: too many tokens", lines);
	struct tok_ent *ent = xmalloc((lines + 1) * sizeof(*ent));
	v->blob = xmalloc(n / 4 * 3 + 3);
	size_t nent = 0, blob_len = 0, lineno = 0;
	uint32_t max_id = 0;
	for (size_t pos = 0; pos < n;) {
		const uint8_t *nl = memchr(p + pos, '\n', n - pos);
		size_t end = nl ? (size_t)(nl - p) : n;
		lineno++;
		size_t len = end - pos;
		if (len && p[end - 1] == '\r')
			len--;
		if (len == 0) {
			pos = end + 1;
			continue;
		}
		const uint8_t *sp = memchr(p + pos, ' ', len);
		if (!sp) {
			free(ent);
			return fail(err, errlen, "line %zu: expected 'base64 rank'", lineno);
		}
		size_t b64_len = (size_t)(sp - (p + pos));
		long tl = b64_decode(p + pos, b64_len, v->blob + blob_len);
		if (tl <= 0 || tl > 0xffffff) {
			free(ent);
			return fail(err, errlen, "line %zu: bad base64 token", lineno);
		}
		uint64_t id = 0;
		const uint8_t *d = sp + 1, *dend = p + pos + len;
		if (d == dend) {
			free(ent);
			return fail(err, errlen, "line %zu: missing rank", lineno);
		}
		for (; d < dend; d++) {
			if (*d < '0' || *d > '9' || id > (1u << 24)) {
				free(ent);
				return fail(err, errlen, "line %zu: bad rank (a number below 2^24 expected)", lineno);
			}
			id = id * 10 + (uint64_t)(*d - '0');
		}
		if (id >= (1u << 24)) {
			free(ent);
			return fail(err, errlen, "line %zu: bad rank (a number below 2^24 expected)", lineno);
		}
		ent[nent].id = (uint32_t)id;
		ent[nent].off = (uint64_t)blob_len << 24 | (uint64_t)tl;
		nent++;
		blob_len += (size_t)tl;
		if (id > max_id)
			max_id = (uint32_t)id;
		pos = end + 1;
	}
	int rc = build_tables(v, ent, nent, max_id, "rank", err, errlen);
	free(ent);
	return rc;
}

/* The lookup tables of the tokens ent[0..nent) (id and place in the blob),
 * ids up to max_id.  what names an id in messages ("rank", "id"). */
static int build_tables(tok_vocab *v, const struct tok_ent *ent, size_t nent, uint32_t max_id, const char *what,
			char *err, size_t errlen)
{
	if (!nent)
		return fail(err, errlen, "no tokens");
	v->n_ids = max_id + 1;
	v->off = xmalloc((size_t)v->n_ids * sizeof(*v->off));
	for (uint32_t i = 0; i < v->n_ids; i++)
		v->off[i] = NO_TOKEN;
	size_t size = 1024;
	while (size < 2 * nent)
		size *= 2;
	v->table = xcalloc(size, sizeof(*v->table));
	v->mask = size - 1;
	for (size_t i = 0; i < nent; i++) {
		uint32_t id = ent[i].id;
		if (v->off[id] != NO_TOKEN)
			return fail(err, errlen, "%s %u appears twice", what, id);
		v->off[id] = ent[i].off;
		const uint8_t *t = v->blob + (ent[i].off >> 24);
		size_t len = (size_t)(ent[i].off & 0xffffff);
		if (lookup(v, t, len) != TOK_NONE)
			return fail(err, errlen, "token of %s %u appears twice", what, id);
		table_put(v, id, t, len);
	}
	v->pair_id = xmalloc(65536 * sizeof(*v->pair_id));
	for (int b = 0; b < 65536; b++) {
		uint8_t c[2] = { (uint8_t)(b >> 8), (uint8_t)b };
		v->pair_id[b] = lookup(v, c, 2);
	}
	for (int b = 0; b < 256; b++) {
		uint8_t c = (uint8_t)b;
		if ((v->byte_id[b] = lookup(v, &c, 1)) == TOK_NONE)
			return fail(err, errlen, "byte 0x%02x has no token (byte-level BPE needs all 256)", b);
	}
	return 0;
}

/* Read "pat_str" and "special_tokens" from the JSON config. */
static int parse_config(tok_vocab *v, const char *config, size_t len, const char *pattern, char *err,
			size_t errlen)
{
	rec *r = rec_new(), *sp = rec_new();
	char why[200];
	int ret = -1;
	if (json_parse_line(r, config, len, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "config: %s", why);
		goto out;
	}
	const rec_field *pf = rec_get(r, "pat_str");
	if (!pattern) {
		if (!pf || pf->type != REC_STR) {
			snprintf(err, errlen, "config: no \"pat_str\" string");
			goto out;
		}
		v->pattern = xmalloc(pf->len + 1);
		memcpy(v->pattern, pf->val, pf->len);
		v->pattern[pf->len] = '\0';
	}
	const rec_field *nf = rec_get(r, "name");
	if (nf && nf->type == REC_STR && nf->len) {
		free(v->name);
		v->name = xmalloc(nf->len + 1);
		memcpy(v->name, nf->val, nf->len);
		v->name[nf->len] = '\0';
	}
	const rec_field *sf = rec_get(r, "special_tokens");
	if (sf) {
		if (sf->type != REC_JSON || sf->len == 0 || sf->val[0] != '{' ||
		    json_parse_line(sp, (const char *)sf->val, sf->len, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "config: \"special_tokens\" is not an object of ids");
			goto out;
		}
		v->specials = xcalloc(rec_nfields(sp) + 1, sizeof(*v->specials));
		for (size_t i = 0; i < rec_nfields(sp); i++) {
			const rec_field *f = rec_field_at(sp, i);
			int64_t id;
			char name[REC_NAME_MAX + 1];
			memcpy(name, f->name, f->name_len);
			name[f->name_len] = '\0';
			if (rec_get_int(sp, name, &id) < 0 || id < 0 || id >= (1 << 24) || f->name_len == 0) {
				snprintf(err, errlen, "config: special token '%s': not a valid id", name);
				goto out;
			}
			if ((uint32_t)id < v->n_ids && v->off[id] != NO_TOKEN) {
				snprintf(err, errlen, "config: special token '%s' has id %lld, which is an ordinary token",
					 name, (long long)id);
				goto out;
			}
			struct special *s = &v->specials[v->nspecial++];
			s->text = xmalloc(f->name_len + 1);
			memcpy(s->text, name, f->name_len + 1);
			s->len = f->name_len;
			s->id = (uint32_t)id;
		}
	}
	ret = 0;
out:
	rec_free(r);
	rec_free(sp);
	return ret;
}

/* Compile a pattern as tiktoken's engine (Rust's regex) reads it: that
 * takes \s as Unicode White_Space, and PCRE2's \s lacks one such character,
 * U+0085, so it is added. */
static pcre2_code *compile_pattern(const char *pattern, int *jit, char *err, size_t errlen)
{
	buf pat = { 0 };
	int in_class = 0;
	for (const char *p = pattern; *p; p++) {
		if (*p == '\\' && p[1]) {
			if (p[1] == 's')
				buf_adds(&pat, in_class ? "\\s\\x{85}" : "[\\s\\x{85}]");
			else if (p[1] == 'S' && !in_class)
				buf_adds(&pat, "[^\\s\\x{85}]");
			else
				buf_add(&pat, p, 2);
			p++;
			continue;
		}
		if (*p == '[' && !in_class) {
			in_class = 1;
			buf_addc(&pat, '[');
			if (p[1] == '^')
				buf_addc(&pat, *++p);
			if (p[1] == ']')
				buf_addc(&pat, *++p);
			continue;
		}
		if (*p == ']')
			in_class = 0;
		buf_addc(&pat, *p);
	}
	int code;
	PCRE2_SIZE at;
	pcre2_code *re = pcre2_compile(pat.data ? pat.data : (const uint8_t *)"", pat.len, PCRE2_UTF | PCRE2_UCP,
				       &code, &at, NULL);
	buf_release(&pat);
	if (!re) {
		char msg[160];
		pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof(msg));
		snprintf(err, errlen, "pattern: %s", msg);
		return NULL;
	}
	*jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
	return re;
}

struct tok_splitter {
	pcre2_code *re;
	int jit, owned;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit_stack;
};

static tok_splitter *splitter_for(pcre2_code *re, int jit, int owned)
{
	tok_splitter *sp = xcalloc(1, sizeof(*sp));
	sp->re = re;
	sp->jit = jit;
	sp->owned = owned;
	sp->md = pcre2_match_data_create(1, NULL);
	sp->mctx = pcre2_match_context_create(NULL);
	if (!sp->md || !sp->mctx)
		util_oom();
	if (jit) {
		sp->jit_stack = pcre2_jit_stack_create(32 * 1024, JIT_STACK_MAX, NULL);
		if (sp->jit_stack)
			pcre2_jit_stack_assign(sp->mctx, NULL, sp->jit_stack);
	}
	return sp;
}

tok_splitter *tok_splitter_new(const char *pattern, char *err, size_t errlen)
{
	int jit;
	pcre2_code *re = compile_pattern(pattern, &jit, err, errlen);
	return re ? splitter_for(re, jit, 1) : NULL;
}

void tok_splitter_free(tok_splitter *sp)
{
	if (!sp)
		return;
	pcre2_match_data_free(sp->md);
	pcre2_match_context_free(sp->mctx);
	pcre2_jit_stack_free(sp->jit_stack);
	if (sp->owned)
		pcre2_code_free(sp->re);
	free(sp);
}

int tok_split_next(tok_splitter *sp, const uint8_t *text, size_t n, size_t *pos, size_t *start, size_t *end,
		   char *err, size_t errlen)
{
	while (*pos < n) {
		int rc = sp->jit ? pcre2_jit_match(sp->re, text, n, *pos, 0, sp->md, sp->mctx)
				 : pcre2_match(sp->re, text, n, *pos, PCRE2_NO_UTF_CHECK, sp->md, sp->mctx);
		if (rc == PCRE2_ERROR_NOMATCH) {
			*pos = n;
			return 0;
		}
		if (rc < 0) {
			char msg[160];
			pcre2_get_error_message(rc, (PCRE2_UCHAR *)msg, sizeof(msg));
			snprintf(err, errlen, "pattern matching failed at byte %zu: %s", *pos, msg);
			return -1;
		}
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sp->md);
		if (ov[1] == ov[0]) {
			/* An empty match: step over one character. */
			size_t b = ov[0] + 1;
			while (b < n && (text[b] & 0xc0) == 0x80)
				b++;
			*pos = b;
			continue;
		}
		*start = ov[0];
		*end = *pos = ov[1];
		return 1;
	}
	return 0;
}

tok_vocab *tok_load_mem(const char *name, const uint8_t *ranks, size_t ranks_len, const char *config,
			size_t config_len, const char *pattern, char *err, size_t errlen)
{
	tok_vocab *v = xcalloc(1, sizeof(*v));
	v->name = xmalloc(strlen(name) + 1);
	strcpy(v->name, name);
	v->whole_piece = 1;
	if (parse_ranks(v, ranks, ranks_len, err, errlen) < 0)
		goto fail;
	if (pattern) {
		v->pattern = xmalloc(strlen(pattern) + 1);
		strcpy(v->pattern, pattern);
	}
	if (config && parse_config(v, config, config_len, pattern, err, errlen) < 0)
		goto fail;
	if (!v->pattern) {
		snprintf(err, errlen, "no pre-tokenization pattern (no .json config beside the ranks; give one)");
		goto fail;
	}
	/* Special ids may lie past the ranks: they are ids with no bytes. */
	for (size_t i = 0; i < v->nspecial; i++)
		if (v->specials[i].id >= v->n_ids) {
			uint32_t n = v->specials[i].id + 1;
			v->off = xrealloc(v->off, (size_t)n * sizeof(*v->off));
			for (uint32_t k = v->n_ids; k < n; k++)
				v->off[k] = NO_TOKEN;
			v->n_ids = n;
		}
	if (!(v->re = compile_pattern(v->pattern, &v->jit, err, errlen)))
		goto fail;
	return v;
fail:
	tok_free(v);
	return NULL;
}

static uint8_t *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf b = { 0 };
	char tmp[65536];
	size_t k;
	while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(&b, tmp, k);
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		snprintf(err, errlen, "%s: read error", path);
		buf_release(&b);
		return NULL;
	}
	buf_addc(&b, '\0');
	*len = b.len - 1;
	return b.data;
}

/* Where named encodings live: $SLUICE_VOCAB_DIR, then beside the program
 * (../share/sluice/vocab when installed, ../../vocab in the build tree). */
static int find_named(const char *name, char *path, size_t size)
{
	const char *env = getenv("SLUICE_VOCAB_DIR");
	if (env && *env) {
		snprintf(path, size, "%s/%s.tiktoken", env, name);
		if (access(path, R_OK) == 0)
			return 0;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			static const char *const rel[] = { "../share/sluice/vocab", "../../vocab", "../vocab" };
			for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
				snprintf(path, size, "%s/%s/%s.tiktoken", exe, rel[i], name);
				if (access(path, R_OK) == 0)
					return 0;
			}
		}
	}
	return -1;
}

/* ---- Hugging Face tokenizer.json (byte-level BPE with merges) ---- */

/* The pattern of a ByteLevel pre-tokenizer with "use_regex": GPT-2's. */
static const char GPT2_PATTERN[] =
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

struct hf {
	const char *js;            /* the whole document */
	size_t len;
	char *err;
	size_t errlen;
	buf key, str;              /* scratch */
	int byte_of[324];          /* byte-level alphabet: code point -> byte, or -1 */
};

/* A JSON error: "column N" counts bytes of the whole document; say where
 * that is as a line and column. */
static int hf_json_fail(struct hf *h, const char *what, const char *why)
{
	unsigned long long col;
	const char *rest = why;
	if (sscanf(why, "column %llu", &col) == 1 && (rest = strchr(why, ':'))) {
		size_t at = col ? (size_t)col - 1 : 0, line = 1, start = 0;
		for (size_t i = 0; i < at && i < h->len; i++)
			if (h->js[i] == '\n') {
				line++;
				start = i + 1;
			}
		snprintf(h->err, h->errlen, "%s%sline %zu, column %zu:%s", what, *what ? ": " : "", line,
			 at - start + 1, rest + 1);
	} else {
		snprintf(h->err, h->errlen, "%s%s%s", what, *what ? ": " : "", why);
	}
	return -1;
}

__attribute__((format(printf, 2, 3)))
static int hf_fail(struct hf *h, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(h->err, h->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A value span: its first byte, blanks skipped. */
static char hf_first(const struct hf *h, size_t a, size_t b)
{
	while (a < b && (h->js[a] == ' ' || h->js[a] == '\n' || h->js[a] == '\t' || h->js[a] == '\r'))
		a++;
	return a < b ? h->js[a] : '\0';
}

static int hf_is(const struct hf *h, size_t a, size_t b, const char *lit)
{
	size_t n = strlen(lit);
	return b - a == n && memcmp(h->js + a, lit, n) == 0;
}

/* A string value into h->str (NUL-terminated); -1 if it is not one. */
static int hf_string(struct hf *h, size_t a, const char *what)
{
	char why[200];
	buf_reset(&h->str);
	if (json_string_at(h->js, h->len, a, &h->str, why, sizeof(why)) < 0)
		return hf_json_fail(h, what, why);
	buf_addc(&h->str, '\0');
	h->str.len--;
	return 0;
}

/* A non-negative integer value below 2^24. */
static int hf_id(struct hf *h, size_t a, size_t b, uint32_t *id)
{
	uint64_t x = 0;
	if (a == b)
		return -1;
	for (size_t i = a; i < b; i++) {
		if (h->js[i] < '0' || h->js[i] > '9' || x >= (1u << 24))
			return -1;
		x = x * 10 + (uint64_t)(h->js[i] - '0');
	}
	if (x >= (1u << 24))
		return -1;
	*id = (uint32_t)x;
	return 0;
}

/* A string of the byte-level alphabet (GPT-2's bytes_to_unicode) back to
 * bytes, appended to out; -1 for a character outside it. */
static int hf_bytes(const struct hf *h, const uint8_t *s, size_t n, buf *out)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = utf8_decode(s + i, n - i, &cp);
		if (!k || cp >= 324 || h->byte_of[cp] < 0)
			return -1;
		buf_addc(out, (uint8_t)h->byte_of[cp]);
		i += k;
	}
	return 0;
}

static void hf_alphabet(struct hf *h)
{
	for (int i = 0; i < 324; i++)
		h->byte_of[i] = -1;
	int extra = 0;
	for (int b = 0; b < 256; b++) {
		int printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
		h->byte_of[printable ? b : 256 + extra++] = b;
	}
}

/* A token of the vocabulary or the merges, for messages. */
static void hf_show(char *dst, size_t size, const char *s)
{
	snprintf(dst, size, "%s", s);
	for (char *p = dst; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = '?';
}

static int hf_vocab(struct hf *h, tok_vocab *v, size_t a)
{
	json_iter it;
	char why[200];
	if (json_iter_start(&it, h->js, h->len, a, '{', why, sizeof(why)) < 0)
		return hf_json_fail(h, "model: vocab", why);
	size_t cap = 1024, nent = 0, vs, ve;
	struct tok_ent *ent = xmalloc(cap * sizeof(*ent));
	buf blob = { 0 };
	uint32_t max_id = 0;
	int rc;
	while ((rc = json_iter_next(&it, &h->key, &vs, &ve, why, sizeof(why))) == 1) {
		uint32_t id;
		char show[80];
		buf_addc(&h->key, '\0');
		hf_show(show, sizeof(show), (const char *)h->key.data);
		if (hf_id(h, vs, ve, &id) < 0) {
			free(ent);
			buf_release(&blob);
			return hf_fail(h, "model: vocab: token '%s': not an id (an integer below 2^24)", show);
		}
		size_t off = blob.len;
		if (hf_bytes(h, h->key.data, h->key.len - 1, &blob) < 0 || blob.len == off || blob.len - off > 0xffffff) {
			free(ent);
			buf_release(&blob);
			return hf_fail(h, "model: vocab: token '%s' (id %u) is not of the byte-level alphabet", show, id);
		}
		if (nent == cap)
			ent = xrealloc(ent, (cap *= 2) * sizeof(*ent));
		ent[nent++] = (struct tok_ent){ id, (uint64_t)off << 24 | (blob.len - off) };
		if (id > max_id)
			max_id = id;
		if (nent > (1u << 24)) {
			free(ent);
			buf_release(&blob);
			return hf_fail(h, "model: vocab: more than 2^24 tokens");
		}
	}
	if (rc < 0) {
		free(ent);
		buf_release(&blob);
		return hf_json_fail(h, "model: vocab", why);
	}
	v->blob = blob.data ? blob.data : xmalloc(1);
	char msg[256];
	rc = build_tables(v, ent, nent, max_id, "id", msg, sizeof(msg));
	free(ent);
	return rc < 0 ? hf_fail(h, "model: vocab: %s", msg) : 0;
}

static void pairs_put(tok_vocab *v, uint64_t key, uint32_t rank)
{
	uint64_t i = pair_slot_of(key, v->pair_mask);
	while (v->pairs[i].key != PAIR_EMPTY && v->pairs[i].key != key)
		i = (i + 1) & v->pair_mask;
	/* A pair listed twice merges at its later rank, as tokenizers has it. */
	v->pairs[i] = (struct pair_slot){ key, rank };
}

/* The id of the token spelt s[0..n) in the byte-level alphabet. */
static uint32_t hf_token(struct hf *h, tok_vocab *v, const uint8_t *s, size_t n, buf *tmp)
{
	buf_reset(tmp);
	if (hf_bytes(h, s, n, tmp) < 0 || !tmp->len)
		return TOK_NONE;
	return lookup(v, tmp->data, tmp->len);
}

static int hf_merges(struct hf *h, tok_vocab *v, size_t a)
{
	json_iter it, pit;
	char why[200];
	if (json_iter_start(&it, h->js, h->len, a, '[', why, sizeof(why)) < 0)
		return hf_json_fail(h, "model: merges", why);
	size_t cap = 1024, n = 0, vs, ve;
	uint64_t *keys = xmalloc(cap * sizeof(*keys));
	buf left = { 0 }, right = { 0 }, tmp = { 0 };
	int rc, ret = -1;
	while ((rc = json_iter_next(&it, NULL, &vs, &ve, why, sizeof(why))) == 1) {
		char where[64];
		snprintf(where, sizeof(where), "model: merges: merge %zu", n + 1);
		buf_reset(&left);
		buf_reset(&right);
		if (hf_first(h, vs, ve) == '"') {
			/* "a b": the two tokens, split at the space (byte-level
			 * tokens have none) */
			if (hf_string(h, vs, where) < 0)
				goto out;
			const char *sp = memchr(h->str.data, ' ', h->str.len);
			if (!sp || memchr(sp + 1, ' ', h->str.len - (size_t)(sp + 1 - (char *)h->str.data))) {
				hf_fail(h, "%s: expected \"left right\"", where);
				goto out;
			}
			buf_add(&left, h->str.data, (size_t)(sp - (char *)h->str.data));
			buf_add(&right, sp + 1, h->str.len - (size_t)(sp + 1 - (char *)h->str.data));
		} else {
			/* ["a", "b"] */
			size_t s1, e1;
			int k = 0;
			if (json_iter_start(&pit, h->js, h->len, vs, '[', why, sizeof(why)) < 0) {
				hf_fail(h, "%s: expected \"left right\" or [\"left\", \"right\"]", where);
				goto out;
			}
			while ((rc = json_iter_next(&pit, NULL, &s1, &e1, why, sizeof(why))) == 1 && k < 2) {
				if (hf_string(h, s1, where) < 0)
					goto out;
				buf_add(k++ ? &right : &left, h->str.data, h->str.len);
			}
			if (rc != 0 || k != 2) {
				hf_fail(h, "%s: expected [\"left\", \"right\"]", where);
				goto out;
			}
		}
		uint32_t ids[3];
		const buf *part[2] = { &left, &right };
		for (int k = 0; k < 2; k++) {
			buf_addc((buf *)part[k], '\0');
			if ((ids[k] = hf_token(h, v, part[k]->data, part[k]->len - 1, &tmp)) == TOK_NONE) {
				char show[80];
				hf_show(show, sizeof(show), (const char *)part[k]->data);
				hf_fail(h, "%s names '%s', which is not in the vocabulary", where, show);
				goto out;
			}
		}
		buf both = { 0 };
		buf_add(&both, left.data, left.len - 1);
		buf_add(&both, right.data, right.len - 1);
		ids[2] = hf_token(h, v, both.data, both.len, &tmp);
		if (ids[2] == TOK_NONE) {
			char show[80];
			buf_addc(&both, '\0');
			hf_show(show, sizeof(show), (const char *)both.data);
			buf_release(&both);
			hf_fail(h, "%s makes '%s', which is not in the vocabulary", where, show);
			goto out;
		}
		buf_release(&both);
		if (n >= (1u << 24) - 1) {
			hf_fail(h, "model: merges: more than 2^24");
			goto out;
		}
		if (n + 1 >= cap) {
			cap *= 2;
			keys = xrealloc(keys, cap * sizeof(*keys));
			v->merge_to = xrealloc(v->merge_to, cap * sizeof(*v->merge_to));
		}
		if (!v->merge_to)
			v->merge_to = xmalloc(cap * sizeof(*v->merge_to));
		keys[n] = (uint64_t)ids[0] << 32 | ids[1];
		v->merge_to[n++] = ids[2];
	}
	if (rc < 0) {
		hf_json_fail(h, "model: merges", why);
		goto out;
	}
	if (!v->merge_to)
		v->merge_to = xmalloc(sizeof(*v->merge_to));
	size_t size = 1024;
	while (size < 2 * n)
		size *= 2;
	v->pairs = xmalloc(size * sizeof(*v->pairs));
	for (size_t i = 0; i < size; i++)
		v->pairs[i].key = PAIR_EMPTY;
	v->pair_mask = size - 1;
	for (size_t i = 0; i < n; i++)
		pairs_put(v, keys[i], (uint32_t)i);
	for (int b = 0; b < 65536; b++)
		v->pair_id[b] = pair_rank(v, v->byte_id[b >> 8], v->byte_id[b & 255]);
	ret = 0;
out:
	free(keys);
	buf_release(&left);
	buf_release(&right);
	buf_release(&tmp);
	return ret;
}

/* Members of the object at a, by name: spans into at[], [0, 0) if absent.
 * Unknown members are ignored. */
static int hf_members(struct hf *h, size_t a, const char *what, const char *const *names, size_t (*at)[2],
		      size_t *endp)
{
	json_iter it;
	char why[200];
	size_t vs, ve;
	int rc;
	for (size_t i = 0; names[i]; i++)
		at[i][0] = at[i][1] = 0;
	if (json_iter_start(&it, h->js, h->len, a, '{', why, sizeof(why)) < 0)
		return hf_json_fail(h, what, why);
	while ((rc = json_iter_next(&it, &h->key, &vs, &ve, why, sizeof(why))) == 1)
		for (size_t i = 0; names[i]; i++)
			if (h->key.len == strlen(names[i]) && memcmp(h->key.data, names[i], h->key.len) == 0) {
				at[i][0] = vs;
				at[i][1] = ve;
			}
	if (endp)
		*endp = it.pos;
	return rc < 0 ? hf_json_fail(h, what, why) : 0;
}

static int hf_absent(const size_t *at)
{
	return at[0] == at[1];
}

/* A member that must be null, false, absent or (strings) empty. */
static int hf_off(const struct hf *h, const size_t *at)
{
	return hf_absent(at) || hf_is(h, at[0], at[1], "null") || hf_is(h, at[0], at[1], "false") ||
	       hf_is(h, at[0], at[1], "\"\"");
}

static int hf_model(struct hf *h, tok_vocab *v, size_t a)
{
	static const char *const names[] = { "type", "dropout", "continuing_subword_prefix", "end_of_word_suffix",
					     "byte_fallback", "ignore_merges", "vocab", "merges", NULL };
	size_t at[8][2];
	if (hf_members(h, a, "model", names, at, NULL) < 0)
		return -1;
	if (hf_absent(at[0]))
		return hf_fail(h, "model: no \"type\" (only BPE is supported)");
	if (hf_string(h, at[0][0], "model: type") < 0)
		return -1;
	if (strcmp((char *)h->str.data, "BPE") != 0) {
		char show[80];
		hf_show(show, sizeof(show), (char *)h->str.data);
		return hf_fail(h, "model: type %s is not supported (only BPE)", show);
	}
	if (!hf_off(h, at[1]) && !hf_is(h, at[1][0], at[1][1], "0.0") && !hf_is(h, at[1][0], at[1][1], "0"))
		return hf_fail(h, "model: dropout is not supported (ids would not be reproducible)");
	if (!hf_off(h, at[2]))
		return hf_fail(h, "model: continuing_subword_prefix is not supported (byte-level BPE has none)");
	if (!hf_off(h, at[3]))
		return hf_fail(h, "model: end_of_word_suffix is not supported (byte-level BPE has none)");
	if (!hf_off(h, at[4]))
		return hf_fail(h, "model: byte_fallback is not supported (byte-level BPE needs none)");
	if (hf_is(h, at[5][0], at[5][1], "true"))
		v->whole_piece = 1;
	else if (!hf_off(h, at[5]))
		return hf_fail(h, "model: ignore_merges: expected true or false");
	if (hf_absent(at[6]))
		return hf_fail(h, "model: no \"vocab\"");
	if (hf_absent(at[7]))
		return hf_fail(h, "model: no \"merges\"");
	if (hf_vocab(h, v, at[6][0]) < 0)
		return -1;
	return hf_merges(h, v, at[7][0]);
}

static int hf_added(struct hf *h, tok_vocab *v, size_t a)
{
	static const char *const names[] = { "id", "content", "special", "lstrip", "rstrip", "single_word", NULL };
	json_iter it;
	char why[200];
	size_t vs, ve, k = 0, cap = 0;
	int rc;
	if (json_iter_start(&it, h->js, h->len, a, '[', why, sizeof(why)) < 0)
		return hf_json_fail(h, "added_tokens", why);
	while ((rc = json_iter_next(&it, NULL, &vs, &ve, why, sizeof(why))) == 1) {
		size_t at[6][2];
		uint32_t id;
		char where[64];
		snprintf(where, sizeof(where), "added_tokens: token %zu", ++k);
		if (hf_members(h, vs, where, names, at, NULL) < 0)
			return -1;
		if (hf_absent(at[0]) || hf_id(h, at[0][0], at[0][1], &id) < 0)
			return hf_fail(h, "%s: no id (an integer below 2^24)", where);
		if (hf_absent(at[1]) || hf_string(h, at[1][0], where) < 0 || !h->str.len)
			return hf_absent(at[1]) || !h->str.len ? hf_fail(h, "%s: no content", where) : -1;
		char show[80];
		hf_show(show, sizeof(show), (char *)h->str.data);
		for (int i = 3; i < 6; i++)
			if (!hf_off(h, at[i]))
				return hf_fail(h, "added_tokens: %s: %s is not supported", show, names[i]);
		for (size_t i = 0; i < v->nspecial; i++) {
			if (strcmp(v->specials[i].text, (char *)h->str.data) == 0)
				return hf_fail(h, "added_tokens: %s appears twice", show);
			if (v->specials[i].id == id)
				return hf_fail(h, "added_tokens: %s has id %u, as %s has", show, id, v->specials[i].text);
		}
		if (v->nspecial == cap)
			v->specials = xrealloc(v->specials, (cap = cap ? 2 * cap : 16) * sizeof(*v->specials));
		struct special *s = &v->specials[v->nspecial++];
		s->text = xstrdup((char *)h->str.data);
		s->len = h->str.len;
		s->id = id;
		/* An added token that is not special is part of the vocabulary:
		 * tokenizers finds it in any text. */
		s->allowed = !hf_is(h, at[2][0], at[2][1], "true");
		v->any_allowed |= s->allowed;
	}
	return rc < 0 ? hf_json_fail(h, "added_tokens", why) : 0;
}

static int hf_normalizer(struct hf *h, tok_vocab *v, size_t a, size_t b)
{
	static const char *const names[] = { "type", "normalizers", NULL };
	size_t at[2][2];
	if (hf_is(h, a, b, "null"))
		return 0;
	if (hf_members(h, a, "normalizer", names, at, NULL) < 0)
		return -1;
	if (hf_absent(at[0]) || hf_string(h, at[0][0], "normalizer: type") < 0)
		return hf_absent(at[0]) ? hf_fail(h, "normalizer: no \"type\"") : -1;
	if (strcmp((char *)h->str.data, "NFC") == 0) {
		v->nfc = 1;
		return 0;
	}
	if (strcmp((char *)h->str.data, "Sequence") == 0 && !hf_absent(at[1])) {
		json_iter it;
		char why[200];
		size_t vs, ve;
		int rc;
		if (json_iter_start(&it, h->js, h->len, at[1][0], '[', why, sizeof(why)) < 0)
			return hf_json_fail(h, "normalizer: normalizers", why);
		while ((rc = json_iter_next(&it, NULL, &vs, &ve, why, sizeof(why))) == 1)
			if (hf_normalizer(h, v, vs, ve) < 0)
				return -1;
		return rc < 0 ? hf_json_fail(h, "normalizer: normalizers", why) : 0;
	}
	char show[80];
	hf_show(show, sizeof(show), (char *)h->str.data);
	return hf_fail(h, "normalizer: %s is not supported (NFC or none)", show);
}

/* One pre-tokenizer: a Split by a regular expression (the pattern) or
 * ByteLevel (with GPT-2's pattern if "use_regex"). */
static int hf_pre(struct hf *h, tok_vocab *v, size_t a, size_t b, int *byte_level)
{
	static const char *const names[] = { "type", "pretokenizers", "pattern", "behavior", "invert",
					     "add_prefix_space", "use_regex", NULL };
	size_t at[7][2];
	if (hf_is(h, a, b, "null"))
		return 0;
	if (hf_members(h, a, "pre_tokenizer", names, at, NULL) < 0)
		return -1;
	if (hf_absent(at[0]) || hf_string(h, at[0][0], "pre_tokenizer: type") < 0)
		return hf_absent(at[0]) ? hf_fail(h, "pre_tokenizer: no \"type\"") : -1;
	const char *pattern = NULL;
	if (strcmp((char *)h->str.data, "Sequence") == 0) {
		json_iter it;
		char why[200];
		size_t vs, ve;
		int rc;
		if (hf_absent(at[1]) ||
		    json_iter_start(&it, h->js, h->len, at[1][0], '[', why, sizeof(why)) < 0)
			return hf_fail(h, "pre_tokenizer: Sequence: no \"pretokenizers\" array");
		while ((rc = json_iter_next(&it, NULL, &vs, &ve, why, sizeof(why))) == 1)
			if (hf_pre(h, v, vs, ve, byte_level) < 0)
				return -1;
		return rc < 0 ? hf_json_fail(h, "pre_tokenizer: pretokenizers", why) : 0;
	} else if (strcmp((char *)h->str.data, "ByteLevel") == 0) {
		if (!hf_off(h, at[5]))
			return hf_fail(h, "pre_tokenizer: ByteLevel: add_prefix_space is not supported");
		*byte_level = 1;
		if (!hf_off(h, at[6]) || hf_absent(at[6]))
			pattern = GPT2_PATTERN;
	} else if (strcmp((char *)h->str.data, "Split") == 0) {
		static const char *const pnames[] = { "Regex", "String", NULL };
		size_t pat[2][2];
		if (hf_absent(at[2]) || hf_members(h, at[2][0], "pre_tokenizer: Split: pattern", pnames, pat, NULL) < 0)
			return hf_absent(at[2]) ? hf_fail(h, "pre_tokenizer: Split: no pattern") : -1;
		if (hf_absent(pat[0]))
			return hf_fail(h, "pre_tokenizer: Split: only a Regex pattern is supported");
		if (hf_absent(at[3]) || hf_string(h, at[3][0], "pre_tokenizer: Split: behavior") < 0 ||
		    strcmp((char *)h->str.data, "Isolated") != 0)
			return hf_fail(h, "pre_tokenizer: Split: only the behavior Isolated is supported");
		if (!hf_off(h, at[4]))
			return hf_fail(h, "pre_tokenizer: Split: invert is not supported");
		if (hf_string(h, pat[0][0], "pre_tokenizer: Split: pattern") < 0)
			return -1;
		pattern = (const char *)h->str.data;
	} else {
		char show[80];
		hf_show(show, sizeof(show), (char *)h->str.data);
		return hf_fail(h, "pre_tokenizer: %s is not supported (Split, ByteLevel, Sequence)", show);
	}
	if (pattern) {
		if (v->pattern)
			return hf_fail(h, "pre_tokenizer: more than one split is not supported");
		v->pattern = xstrdup(pattern);
	}
	return 0;
}

tok_vocab *tok_load_hf_mem(const char *name, const char *json, size_t len, const char *pattern, char *err,
			   size_t errlen)
{
	static const char *const names[] = { "model", "added_tokens", "normalizer", "pre_tokenizer", NULL };
	struct hf h = { .js = json, .len = len, .err = err, .errlen = errlen };
	hf_alphabet(&h);
	tok_vocab *v = xcalloc(1, sizeof(*v));
	v->name = xstrdup(name);
	v->isolated = 1;
	size_t at[4][2];
	int byte_level = 0;
	size_t end;
	if (hf_members(&h, 0, "", names, at, &end) < 0)
		goto fail;
	while (end < len && strchr(" \t\r\n", json[end]))
		end++;
	if (end < len) {
		char why[64];
		snprintf(why, sizeof(why), "column %zu: text after the object", end + 1);
		hf_json_fail(&h, "", why);
		goto fail;
	}
	if (hf_absent(at[0])) {
		hf_fail(&h, "no \"model\"");
		goto fail;
	}
	if (hf_model(&h, v, at[0][0]) < 0)
		goto fail;
	if (!hf_absent(at[1]) && !hf_is(&h, at[1][0], at[1][1], "null") && hf_added(&h, v, at[1][0]) < 0)
		goto fail;
	if (!hf_absent(at[2]) && hf_normalizer(&h, v, at[2][0], at[2][1]) < 0)
		goto fail;
	if (!hf_absent(at[3]) && hf_pre(&h, v, at[3][0], at[3][1], &byte_level) < 0)
		goto fail;
	if (!byte_level) {
		hf_fail(&h, "pre_tokenizer: not byte-level (only byte-level BPE is supported)");
		goto fail;
	}
	if (pattern) {
		free(v->pattern);
		v->pattern = xstrdup(pattern);
	}
	if (!v->pattern)
		v->pattern = xstrdup("[\\s\\S]+"); /* no split: the whole text is one piece */
	/* Added ids may lie past the vocabulary: ids with no bytes. */
	for (size_t i = 0; i < v->nspecial; i++)
		if (v->specials[i].id >= v->n_ids) {
			uint32_t n = v->specials[i].id + 1;
			v->off = xrealloc(v->off, (size_t)n * sizeof(*v->off));
			for (uint32_t k = v->n_ids; k < n; k++)
				v->off[k] = NO_TOKEN;
			v->n_ids = n;
		}
	char why[256];
	if (!(v->re = compile_pattern(v->pattern, &v->jit, why, sizeof(why)))) {
		hf_fail(&h, "pre_tokenizer: %s", why);
		goto fail;
	}
	buf_release(&h.key);
	buf_release(&h.str);
	return v;
fail:
	buf_release(&h.key);
	buf_release(&h.str);
	tok_free(v);
	return NULL;
}

tok_vocab *tok_load(const char *name_or_path, const char *pattern, char *err, size_t errlen)
{
	char path[PATH_MAX + 64];
	int dir;
	char name[TOK_NAME_MAX];
	if (tok_canonical_name(name_or_path, name, sizeof(name)) < 0) {
		snprintf(err, errlen, "%s: %s", name_or_path, strerror(errno));
		return NULL;
	}
	if (tok_hf_path(name_or_path, &dir)) {
		snprintf(path, sizeof(path), dir ? "%s/tokenizer.json" : "%s", name_or_path);
		size_t len;
		uint8_t *js = read_file(path, &len, err, errlen);
		if (!js)
			return NULL;
		char why[512];
		tok_vocab *v = tok_load_hf_mem(name, (const char *)js, len, pattern, why, sizeof(why));
		if (!v)
			snprintf(err, errlen, "%s: %s", path, why);
		free(js);
		return v;
	}
	if (strchr(name_or_path, '/') || strstr(name_or_path, ".tiktoken")) {
		snprintf(path, sizeof(path), "%s", name_or_path);
	} else if (find_named(name_or_path, path, sizeof(path)) < 0) {
		snprintf(err, errlen, "unknown encoding '%s' (no %s.tiktoken in $SLUICE_VOCAB_DIR or the vocab directory)",
			 name_or_path, name_or_path);
		return NULL;
	}
	size_t rlen, clen = 0;
	uint8_t *ranks = read_file(path, &rlen, err, errlen);
	if (!ranks)
		return NULL;
	char cpath[PATH_MAX + 64];
	snprintf(cpath, sizeof(cpath), "%s", path);
	char *dot = strstr(cpath, ".tiktoken");
	uint8_t *config = NULL;
	if (dot) {
		strcpy(dot, ".json");
		if (access(cpath, R_OK) == 0 && !(config = read_file(cpath, &clen, err, errlen))) {
			free(ranks);
			return NULL;
		}
	}
	char why[512];
	tok_vocab *v = tok_load_mem(name, ranks, rlen, (const char *)config, clen, pattern, why, sizeof(why));
	if (!v)
		snprintf(err, errlen, "%s: %s", path, why);
	free(ranks);
	free(config);
	return v;
}

void tok_free(tok_vocab *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->nspecial; i++)
		free(v->specials[i].text);
	free(v->specials);
	pcre2_code_free(v->re);
	free(v->name);
	free(v->pattern);
	free(v->blob);
	free(v->off);
	free(v->table);
	free(v->pair_id);
	free(v->pairs);
	free(v->merge_to);
	free(v);
}

const char *tok_name(const tok_vocab *v)
{
	return v->name;
}

const char *tok_pattern(const tok_vocab *v)
{
	return v->pattern;
}

uint32_t tok_n_vocab(const tok_vocab *v)
{
	return v->n_ids;
}

uint32_t tok_special(const tok_vocab *v, const char *text)
{
	for (size_t i = 0; i < v->nspecial; i++)
		if (strcmp(v->specials[i].text, text) == 0)
			return v->specials[i].id;
	return TOK_NONE;
}

int tok_allow_special(tok_vocab *v, const char *text)
{
	int found = 0;
	for (size_t i = 0; i < v->nspecial; i++)
		if (!text || strcmp(v->specials[i].text, text) == 0) {
			v->specials[i].allowed = 1;
			v->any_allowed = found = 1;
		}
	return found || !text ? 0 : -1;
}

const uint8_t *tok_bytes(const tok_vocab *v, uint32_t id, size_t *len)
{
	if (id >= v->n_ids)
		return NULL;
	const uint8_t *t = token_at(v, id, len);
	if (t)
		return t;
	for (size_t i = 0; i < v->nspecial; i++)
		if (v->specials[i].id == id) {
			*len = v->specials[i].len;
			return (const uint8_t *)v->specials[i].text;
		}
	return NULL;
}

int tok_decode(const tok_vocab *v, const uint32_t *ids, size_t n, buf *out, size_t *bad)
{
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const uint8_t *t = tok_bytes(v, ids[i], &len);
		if (!t) {
			*bad = i;
			return -1;
		}
		buf_add(out, t, len);
	}
	return 0;
}

/* ---- encoding ---- */

struct heap_ent {
	uint32_t rank, pos, stamp;
};

struct tok_state {
	const tok_vocab *v;
	tok_splitter *split;
	uint32_t *ids;
	size_t nids, cap;
	buf clean;                 /* the text with invalid UTF-8 replaced */
	buf norm;                  /* a segment normalised (NFC) */
	size_t skipped;            /* bytes of the last text no match covered */
	/* merge scratch, grown to the longest piece */
	uint32_t *start, *rank, *next, *prev, *stamp, *tok;
	struct heap_ent *heap;
	size_t scratch;
	size_t window;             /* longest piece merged whole; 0: any */
	size_t windowed, refused;  /* pieces merged by windows; of them, merged whole after all */
};

tok_state *tok_state_new(const tok_vocab *v)
{
	tok_state *s = xcalloc(1, sizeof(*s));
	s->v = v;
	s->split = splitter_for(v->re, v->jit, 0);
	s->window = PIECE_WINDOW;
	return s;
}

void tok_set_window(tok_state *s, size_t bytes)
{
	s->window = bytes ? (bytes < 2 * SMALL_PIECE ? 2 * SMALL_PIECE : bytes) : 0;
}

void tok_state_free(tok_state *s)
{
	if (!s)
		return;
	tok_splitter_free(s->split);
	free(s->ids);
	buf_release(&s->clean);
	buf_release(&s->norm);
	free(s->start);
	free(s->rank);
	free(s->next);
	free(s->prev);
	free(s->stamp);
	free(s->tok);
	free(s->heap);
	free(s);
}

static inline void push_id(tok_state *s, uint32_t id)
{
	if (s->nids == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->ids = xrealloc(s->ids, s->cap * sizeof(*s->ids));
	}
	s->ids[s->nids++] = id;
}

static void grow_scratch(tok_state *s, size_t n)
{
	if (n + 1 <= s->scratch)
		return;
	size_t cap = s->scratch ? s->scratch : 256;
	while (cap < n + 1)
		cap *= 2;
	s->start = xrealloc(s->start, cap * sizeof(*s->start));
	s->rank = xrealloc(s->rank, cap * sizeof(*s->rank));
	s->next = xrealloc(s->next, cap * sizeof(*s->next));
	s->prev = xrealloc(s->prev, cap * sizeof(*s->prev));
	s->stamp = xrealloc(s->stamp, cap * sizeof(*s->stamp));
	s->tok = xrealloc(s->tok, cap * sizeof(*s->tok));
	s->heap = xrealloc(s->heap, 3 * cap * sizeof(*s->heap));
	s->scratch = cap;
}

/* Merge in an array: parts i = p[start[i] .. start[i+1]); rank[i] is the
 * rank of parts i and i+1 joined, or TOK_NONE. */
static void merge_small(tok_state *s, const uint8_t *p, size_t n)
{
	const tok_vocab *v = s->v;
	uint32_t *start = s->start, *rank = s->rank;
	size_t m = n;
	for (size_t i = 0; i <= n; i++)
		start[i] = (uint32_t)i;
	for (size_t i = 0; i + 1 < m; i++)
		rank[i] = v->pair_id[p[i] << 8 | p[i + 1]];
	for (;;) {
		uint32_t best = TOK_NONE;
		size_t at = 0;
		for (size_t i = 0; i + 1 < m; i++)
			if (rank[i] < best) {
				best = rank[i];
				at = i;
			}
		if (best == TOK_NONE)
			break;
		memmove(start + at + 1, start + at + 2, (m - at - 1) * sizeof(*start));
		memmove(rank + at + 1, rank + at + 2, (m > at + 2 ? m - at - 2 : 0) * sizeof(*rank));
		m--;
		rank[at] = at + 2 <= m ? lookup(v, p + start[at], start[at + 2] - start[at]) : TOK_NONE;
		if (at > 0)
			rank[at - 1] = lookup(v, p + start[at - 1], start[at + 1] - start[at - 1]);
	}
	for (size_t i = 0; i < m; i++)
		push_id(s, start[i + 1] - start[i] == 1 ? v->byte_id[p[start[i]]]
							 : lookup(v, p + start[i], start[i + 1] - start[i]));
}

/* The same for a vocabulary with merges: ranks come from pairs of ids, so
 * the parts' ids are kept as they merge. */
static void merge_small_pairs(tok_state *s, const uint8_t *p, size_t n)
{
	const tok_vocab *v = s->v;
	uint32_t *tok = s->tok, *rank = s->rank;
	size_t m = n;
	for (size_t i = 0; i < n; i++)
		tok[i] = v->byte_id[p[i]];
	for (size_t i = 0; i + 1 < m; i++)
		rank[i] = v->pair_id[p[i] << 8 | p[i + 1]];
	for (;;) {
		uint32_t best = TOK_NONE;
		size_t at = 0;
		for (size_t i = 0; i + 1 < m; i++)
			if (rank[i] < best) {
				best = rank[i];
				at = i;
			}
		if (best == TOK_NONE)
			break;
		tok[at] = v->merge_to[best];
		memmove(tok + at + 1, tok + at + 2, (m - at - 2) * sizeof(*tok));
		memmove(rank + at + 1, rank + at + 2, (m > at + 2 ? m - at - 2 : 0) * sizeof(*rank));
		m--;
		rank[at] = at + 1 < m ? pair_rank(v, tok[at], tok[at + 1]) : TOK_NONE;
		if (at > 0)
			rank[at - 1] = pair_rank(v, tok[at - 1], tok[at]);
	}
	for (size_t i = 0; i < m; i++)
		push_id(s, tok[i]);
}

static void merge_array(tok_state *s, const uint8_t *p, size_t n)
{
	if (s->v->merge_to)
		merge_small_pairs(s, p, n);
	else
		merge_small(s, p, n);
}

/* ---- the heap version: nodes are parts, linked; entries (rank, pos) ---- */

static inline int heap_less(const struct heap_ent *a, const struct heap_ent *b)
{
	return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(struct heap_ent *h, size_t *n, struct heap_ent e)
{
	size_t i = (*n)++;
	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (!heap_less(&e, &h[up]))
			break;
		h[i] = h[up];
		i = up;
	}
	h[i] = e;
}

static struct heap_ent heap_pop(struct heap_ent *h, size_t *n)
{
	struct heap_ent top = h[0], last = h[--*n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && heap_less(&h[c + 1], &h[c]))
			c++;
		if (!heap_less(&h[c], &last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = last;
	return top;
}

#define END UINT32_MAX

/* Nodes are indexed by their first byte; next[i] is the next part's first
 * byte (or n), so part i is p[i .. next[i]).  A heap entry is valid while
 * its node's stamp is unchanged (a merge on either side changes it). */
static void merge_heap_run(tok_state *s, const uint8_t *p, size_t n)
{
	const tok_vocab *v = s->v;
	uint32_t *next = s->next, *prev = s->prev, *stamp = s->stamp, *tok = s->tok;
	struct heap_ent *h = s->heap;
	size_t hn = 0;
	for (size_t i = 0; i < n; i++) {
		next[i] = (uint32_t)i + 1;
		prev[i] = i ? (uint32_t)i - 1 : END;
		stamp[i] = 0;
		tok[i] = v->byte_id[p[i]];
	}
	for (size_t i = 0; i + 1 < n; i++) {
		uint32_t r = v->pair_id[p[i] << 8 | p[i + 1]];
		if (r != TOK_NONE)
			heap_push(h, &hn, (struct heap_ent){ r, (uint32_t)i, 0 });
	}
	while (hn) {
		struct heap_ent e = heap_pop(h, &hn);
		uint32_t i = e.pos;
		if (e.stamp != stamp[i] || tok[i] == TOK_NONE || next[i] >= n)
			continue;
		uint32_t j = next[i];
		next[i] = next[j];
		if (next[j] < n)
			prev[next[j]] = i;
		tok[j] = TOK_NONE; /* j is gone */
		tok[i] = merged(v, e.rank);
		stamp[i]++;
		uint32_t k = next[i];
		if (k < n) {
			uint32_t r = join_rank(v, p, i, next[k], tok[i], tok[k]);
			if (r != TOK_NONE)
				heap_push(h, &hn, (struct heap_ent){ r, i, stamp[i] });
		}
		uint32_t q = prev[i];
		if (q != END) {
			stamp[q]++;
			uint32_t r = join_rank(v, p, q, next[i], tok[q], tok[i]);
			if (r != TOK_NONE)
				heap_push(h, &hn, (struct heap_ent){ r, q, stamp[q] });
		}
	}
}

static void merge_heap(tok_state *s, const uint8_t *p, size_t n)
{
	merge_heap_run(s, p, n);
	for (uint32_t i = 0; i < n; i = s->next[i])
		push_id(s, s->tok[i]);
}

/* Whether the ids from `from` on, which encode text up to p + at, meet
 * those after `from` as whole-text merging would have them: the last
 * CUT_CHECK tokens before the cut and the first CUT_CHECK after it, merged
 * afresh from their bytes, must come out as themselves. */
static int cut_holds(tok_state *s, const uint8_t *p, size_t at, size_t base, size_t from)
{
	uint32_t ids[2 * CUT_CHECK];
	size_t k = 0, left = 0, right = 0, len;
	for (size_t i = from - base < CUT_CHECK ? base : from - CUT_CHECK; i < from; i++) {
		ids[k++] = s->ids[i];
		left += tok_bytes(s->v, s->ids[i], &len) ? len : 0;
	}
	for (size_t i = from; i < s->nids && i < from + CUT_CHECK; i++) {
		ids[k++] = s->ids[i];
		right += tok_bytes(s->v, s->ids[i], &len) ? len : 0;
	}
	size_t mark = s->nids;
	grow_scratch(s, left + right);
	merge_array(s, p + at - left, left + right);
	int same = s->nids - mark == k && !memcmp(s->ids + mark, ids, k * sizeof(*ids));
	s->nids = mark;
	return same;
}

/* A piece longer than the window, in bounded memory: each window is merged
 * alone and its tokens kept up to a cut three quarters in, the next window
 * starting there.  The result is the whole piece's merge when no merge would
 * have crossed a cut, which cut_holds checks at each one; if a check fails,
 * the piece is merged whole after all. */
static void merge_windows(tok_state *s, const uint8_t *p, size_t n)
{
	size_t base = s->nids, pos = 0, w = s->window;
	s->windowed++;
	grow_scratch(s, w);
	while (pos < n) {
		size_t len = n - pos < w ? n - pos : w, cut = len, from = s->nids;
		merge_heap_run(s, p + pos, len);
		if (pos + len < n) {
			/* the last token start at or before three quarters */
			size_t limit = len - len / 4;
			cut = 0;
			for (uint32_t i = 0; i < len && i <= limit; i = s->next[i])
				cut = i;
			if (!cut)
				cut = s->next[0];
			if (cut >= len)
				break;
		}
		for (uint32_t i = 0; i < cut; i = s->next[i])
			push_id(s, s->tok[i]);
		if (from > base && !cut_holds(s, p, pos, base, from))
			break;
		pos += cut;
	}
	if (pos < n) {
		s->refused++;
		s->nids = base;
		grow_scratch(s, n);
		merge_heap(s, p, n);
	}
}

static void encode_piece(tok_state *s, const uint8_t *p, size_t n)
{
	const tok_vocab *v = s->v;
	if (n == 1) {
		push_id(s, v->byte_id[p[0]]);
		return;
	}
	uint32_t id = v->whole_piece ? lookup(v, p, n) : TOK_NONE;
	if (id != TOK_NONE) {
		push_id(s, id);
		return;
	}
	if (s->window && n > s->window) {
		merge_windows(s, p, n);
		return;
	}
	grow_scratch(s, n);
	if (n <= SMALL_PIECE)
		merge_array(s, p, n);
	else
		merge_heap(s, p, n);
}

static int encode_ordinary(tok_state *s, const uint8_t *text, size_t n, char *err, size_t errlen)
{
	size_t pos = 0, a, b, covered = 0, last = 0;
	int rc;
	if (s->v->nfc) {
		size_t i = 0;
		while (i < n && text[i] < 0x80)
			i++;
		if (i < n) {
			textnorm_apply(&s->norm, text, n, TEXTNORM_NFC);
			text = s->norm.data;
			n = s->norm.len;
		}
	}
	while ((rc = tok_split_next(s->split, text, n, &pos, &a, &b, err, errlen)) == 1) {
		if (s->v->isolated && a > last)
			encode_piece(s, text + last, a - last);
		encode_piece(s, text + a, b - a);
		covered += b - a;
		last = b;
	}
	if (rc == 0 && s->v->isolated && n > last)
		encode_piece(s, text + last, n - last);
	if (!s->v->isolated)
		s->skipped += n - covered;
	return rc;
}

/* The first allowed special token at or after text[from], or NULL. */
static const struct special *next_special(const tok_vocab *v, const uint8_t *text, size_t n, size_t from,
					  size_t *at)
{
	const struct special *best = NULL;
	size_t best_at = n;
	for (size_t i = 0; i < v->nspecial; i++) {
		const struct special *sp = &v->specials[i];
		if (!sp->allowed || sp->len > n - from)
			continue;
		/* Only a hit before the best so far matters. */
		size_t limit = best_at + sp->len < n ? best_at + sp->len : n;
		const uint8_t *hit = memmem(text + from, limit - from, sp->text, sp->len);
		if (hit && ((size_t)(hit - text) < best_at ||
			    ((size_t)(hit - text) == best_at && sp->len > best->len))) {
			best_at = (size_t)(hit - text);
			best = sp;
		}
	}
	*at = best_at;
	return best;
}

int tok_encode(tok_state *s, const uint8_t *text, size_t n, size_t *replaced, char *err, size_t errlen)
{
	s->nids = 0;
	s->skipped = 0;
	*replaced = 0;
	if (utf8_valid_prefix(text, n) != n) {
		buf_reset(&s->clean);
		*replaced = utf8_repair(&s->clean, text, n);
		text = s->clean.data;
		n = s->clean.len;
	}
	if (!s->v->any_allowed)
		return encode_ordinary(s, text, n, err, errlen);
	size_t pos = 0;
	while (pos < n) {
		size_t at;
		const struct special *sp = next_special(s->v, text, n, pos, &at);
		if (encode_ordinary(s, text + pos, (sp ? at : n) - pos, err, errlen) < 0)
			return -1;
		if (!sp)
			break;
		push_id(s, sp->id);
		pos = at + sp->len;
	}
	return 0;
}

size_t tok_windowed(const tok_state *s, size_t *refused)
{
	*refused = s->refused;
	return s->windowed;
}

size_t tok_skipped(const tok_state *s)
{
	return s->skipped;
}

const uint32_t *tok_ids(const tok_state *s, size_t *n)
{
	*n = s->nids;
	return s->ids;
}

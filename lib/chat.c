/* chat.c: chat templates (ChatML): conversations to ids and a loss mask. */
#include "chat.h"
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================ parsing ================================ */

static const char *const role_names[] = { "system", "user", "assistant" };

const char *chat_role_name(chat_role r)
{
	return (unsigned)r < 3 ? role_names[r] : "?";
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int parse_fail(chat_conv *c, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	c->n = 0;
	buf_reset(&c->text);
	return -1;
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* The end of the array element that starts at p: the first ',' or ']'
 * outside strings and brackets, or end if there is none.  Only the
 * boundary is found here; the element itself is checked by the JSON
 * parser. */
static const char *element_end(const char *p, const char *end)
{
	size_t depth = 0;
	int in_str = 0;
	for (; p < end; p++) {
		char ch = *p;
		if (in_str) {
			if (ch == '\\' && p + 1 < end)
				p++;
			else if (ch == '"')
				in_str = 0;
		} else if (ch == '"') {
			in_str = 1;
		} else if (ch == '{' || ch == '[') {
			depth++;
		} else if ((ch == '}' || ch == ']') && depth) {
			depth--;
		} else if (depth == 0 && (ch == ',' || ch == ']')) {
			break;
		}
	}
	return p;
}

/* The "role" and "content" of one message object, parsed into c->scratch:
 * appended to c. */
static int add_message(chat_conv *c, size_t k, char *err, size_t errlen)
{
	const rec_field *role = rec_get(c->scratch, "role");
	const rec_field *content = rec_get(c->scratch, "content");
	if (!role)
		return parse_fail(c, err, errlen, "message %zu: no \"role\"", k);
	if (role->type != REC_STR)
		return parse_fail(c, err, errlen, "message %zu: \"role\" is not a string", k);
	int r = -1;
	for (int i = 0; i < 3; i++)
		if (role->len == strlen(role_names[i]) && memcmp(role->val, role_names[i], role->len) == 0)
			r = i;
	if (r < 0) {
		char name[40];
		size_t n = role->len < sizeof(name) - 4 ? role->len : sizeof(name) - 4;
		for (size_t i = 0; i < n; i++)
			name[i] = role->val[i] < 0x20 || role->val[i] == 0x7f ? '?' : (char)role->val[i];
		strcpy(name + n, role->len > n ? "..." : "");
		return parse_fail(c, err, errlen,
				  "message %zu: unknown role '%s' (expected system, user or assistant)", k, name);
	}
	if (!content)
		return parse_fail(c, err, errlen, "message %zu: no \"content\"", k);
	if (content->type != REC_STR)
		return parse_fail(c, err, errlen, "message %zu: \"content\" is not a string", k);
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		c->msgs = xrealloc(c->msgs, c->cap * sizeof(*c->msgs));
	}
	chat_msg *m = &c->msgs[c->n++];
	m->role = (chat_role)r;
	/* An offset for now: the text buffer may move as it grows. */
	m->content = (const char *)(uintptr_t)c->text.len;
	m->len = content->len;
	buf_add(&c->text, content->val, content->len);
	return 0;
}

int chat_parse(chat_conv *c, const char *json, size_t len, char *err, size_t errlen)
{
	const char *p = json, *end = json + len;
	c->n = 0;
	buf_reset(&c->text);
	if (!c->scratch)
		c->scratch = rec_new();
	p = skip_ws(p, end);
	if (p == end || *p != '[')
		return parse_fail(c, err, errlen, "not an array of messages");
	p = skip_ws(p + 1, end);
	if (p < end && *p == ']') {
		p++;
	} else {
		for (size_t k = 1;; k++) {
			const char *e = element_end(p, end);
			if (e == end)
				return parse_fail(c, err, errlen, "unterminated array of messages");
			const char *last = e;
			while (last > p && (last[-1] == ' ' || last[-1] == '\t' || last[-1] == '\n' || last[-1] == '\r'))
				last--;
			if (last == p || *p != '{')
				return parse_fail(c, err, errlen, "message %zu is not an object", k);
			char why[256];
			if (json_parse_line(c->scratch, p, (size_t)(last - p), why, sizeof(why)) < 0)
				return parse_fail(c, err, errlen, "message %zu: %s", k, why);
			if (add_message(c, k, err, errlen) < 0)
				return -1;
			p = e + 1;
			if (*e == ']')
				break;
			p = skip_ws(p, end);
		}
	}
	p = skip_ws(p, end);
	if (p != end)
		return parse_fail(c, err, errlen, "text after the array of messages");
	for (size_t i = 0; i < c->n; i++)
		c->msgs[i].content = (const char *)c->text.data + (uintptr_t)c->msgs[i].content;
	return 0;
}

void chat_conv_release(chat_conv *c)
{
	free(c->msgs);
	buf_release(&c->text);
	rec_free(c->scratch);
	memset(c, 0, sizeof(*c));
}

/* =============================== templates =============================== */

enum { SP_START, SP_END, NSPECIAL };
static const char *const chatml_special[NSPECIAL] = { "<|im_start|>", "<|im_end|>" };

/* The ids of a fixed piece of text, encoded once. */
struct piece {
	uint32_t *ids;
	size_t n;
};

struct chat_template {
	const tok_vocab *v;
	uint32_t special[NSPECIAL];
	uint32_t n_vocab;
	struct piece header[3];    /* "ROLE\n" for each role */
	struct piece newline;      /* "\n" after <|im_end|> */
};

static int encode_piece(tok_state *s, const char *text, struct piece *pc, char *err, size_t errlen)
{
	size_t replaced, n;
	if (tok_encode(s, (const uint8_t *)text, strlen(text), &replaced, err, errlen) < 0)
		return -1;
	const uint32_t *ids = tok_ids(s, &n);
	pc->ids = xmalloc((n ? n : 1) * sizeof(*pc->ids));
	memcpy(pc->ids, ids, n * sizeof(*ids));
	pc->n = n;
	return 0;
}

chat_template *chat_template_new(const char *name, const tok_vocab *v, char *err, size_t errlen)
{
	if (!name)
		name = CHAT_DEFAULT;
	if (strcmp(name, "chatml") != 0) {
		snprintf(err, errlen, "unknown chat template '%s' (known: chatml)", name);
		return NULL;
	}
	chat_template *t = xcalloc(1, sizeof(*t));
	t->v = v;
	/* A control token the vocabulary already has keeps its id; the others
	 * follow its last id. */
	uint32_t next = tok_n_vocab(v);
	for (int i = 0; i < NSPECIAL; i++) {
		t->special[i] = tok_special(v, chatml_special[i]);
		if (t->special[i] == TOK_NONE)
			t->special[i] = next++;
	}
	t->n_vocab = next;
	tok_state *s = tok_state_new(v);
	int rc = 0;
	for (int r = 0; r < 3 && rc == 0; r++) {
		char text[16];
		snprintf(text, sizeof(text), "%s\n", role_names[r]);
		rc = encode_piece(s, text, &t->header[r], err, errlen);
	}
	if (rc == 0)
		rc = encode_piece(s, "\n", &t->newline, err, errlen);
	tok_state_free(s);
	if (rc < 0) {
		chat_template_free(t);
		return NULL;
	}
	return t;
}

chat_template *chat_template_for_model(const char *name, const tok_vocab *v, uint32_t n_vocab, char *err,
				       size_t errlen)
{
	chat_template *t = chat_template_new(name, v, err, errlen);
	if (t && chat_n_vocab(t) > n_vocab) {
		snprintf(err, errlen, "the model has %u token ids; the %s template needs %u: train it on chat data first",
			 n_vocab, chat_template_name(t), chat_n_vocab(t));
		chat_template_free(t);
		return NULL;
	}
	return t;
}

void chat_template_free(chat_template *t)
{
	if (!t)
		return;
	for (int r = 0; r < 3; r++)
		free(t->header[r].ids);
	free(t->newline.ids);
	free(t);
}

const char *chat_template_name(const chat_template *t)
{
	(void)t;
	return "chatml";
}

const tok_vocab *chat_template_vocab(const chat_template *t)
{
	return t->v;
}

uint32_t chat_n_vocab(const chat_template *t)
{
	return t->n_vocab;
}

uint32_t chat_turn_start(const chat_template *t)
{
	return t->special[SP_START];
}

uint32_t chat_end_of_turn(const chat_template *t)
{
	return t->special[SP_END];
}

size_t chat_nspecial(const chat_template *t)
{
	(void)t;
	return NSPECIAL;
}

const char *chat_special_at(const chat_template *t, size_t i, uint32_t *id)
{
	if (i >= NSPECIAL)
		return NULL;
	*id = t->special[i];
	return chatml_special[i];
}

void chat_meta(const chat_template *t, buf *out)
{
	char tmp[128];
	snprintf(tmp, sizeof(tmp), ", \"chat_template\": \"%s\", \"chat_tokens\": {", chat_template_name(t));
	buf_adds(out, tmp);
	for (int i = 0; i < NSPECIAL; i++) {
		snprintf(tmp, sizeof(tmp), "%s\"%s\": %u", i ? ", " : "", chatml_special[i], t->special[i]);
		buf_adds(out, tmp);
	}
	buf_adds(out, "}");
}

/* =============================== rendering =============================== */

void chat_out_reset(chat_out *o)
{
	o->n = 0;
}

void chat_out_release(chat_out *o)
{
	free(o->ids);
	free(o->mask);
	memset(o, 0, sizeof(*o));
}

static void out_add(chat_out *o, const uint32_t *ids, size_t n, uint8_t mask)
{
	if (!n)
		return; /* an empty piece: ids may be NULL */
	if (o->cap - o->n < n) {
		size_t cap = o->cap ? o->cap : 256;
		while (cap - o->n < n)
			cap *= 2;
		o->ids = xrealloc(o->ids, cap * sizeof(*o->ids));
		o->mask = xrealloc(o->mask, cap);
		o->cap = cap;
	}
	memcpy(o->ids + o->n, ids, n * sizeof(*ids));
	memset(o->mask + o->n, mask, n);
	o->n += n;
}

int chat_render(const chat_template *t, tok_state *s, const chat_msg *msgs, size_t n, int flags, chat_out *out,
		char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const chat_msg *m = &msgs[i];
		uint8_t target = m->role == CHAT_ASSISTANT;
		out_add(out, &t->special[SP_START], 1, 0);
		out_add(out, t->header[m->role].ids, t->header[m->role].n, 0);
		size_t replaced, k;
		if (tok_encode(s, (const uint8_t *)m->content, m->len, &replaced, err, errlen) < 0)
			return -1;
		const uint32_t *ids = tok_ids(s, &k);
		out_add(out, ids, k, target);
		out_add(out, &t->special[SP_END], 1, target);
		out_add(out, t->newline.ids, t->newline.n, 0);
	}
	if (flags & CHAT_GENERATION_PROMPT) {
		out_add(out, &t->special[SP_START], 1, 0);
		out_add(out, t->header[CHAT_ASSISTANT].ids, t->header[CHAT_ASSISTANT].n, 0);
	}
	return 0;
}

/* =============================== decoding ================================ */

const uint8_t *chat_token_bytes(const chat_template *t, uint32_t id, size_t *len)
{
	for (int i = 0; i < NSPECIAL; i++)
		if (id == t->special[i]) {
			*len = strlen(chatml_special[i]);
			return (const uint8_t *)chatml_special[i];
		}
	return tok_bytes(t->v, id, len);
}

int chat_decode(const chat_template *t, const uint32_t *ids, size_t n, buf *out, size_t *bad)
{
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const uint8_t *b = chat_token_bytes(t, ids[i], &len);
		if (!b) {
			*bad = i;
			return -1;
		}
		buf_add(out, b, len);
	}
	return 0;
}

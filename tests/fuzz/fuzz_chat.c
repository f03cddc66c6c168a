/* fuzz_chat: any bytes as a conversation (the JSON value of a "messages"
 * field).  It parses, or is refused with a message; a parsed one holds
 * valid UTF-8 contents with known roles, renders with ChatML so that the
 * mask is 1 exactly on assistant turns, and decodes back to the template's
 * text byte for byte. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "chat.h"
#include "tokenizer.h"
#include "utf8.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The 256 bytes and a few longer tokens, with <|endoftext|> after them. */
static tok_vocab *tiny_vocab(void)
{
	static const char *const extra[] = { "<|", "|>", "im", "_start", "_end", "user", "assistant", "\n\n" };
	buf f = { 0 };
	char line[64];
	int id = 0;
	for (; id < 256; id++) {
		uint8_t c = (uint8_t)id;
		tok_base64_encode(&f, &c, 1);
		snprintf(line, sizeof(line), " %d\n", id);
		buf_adds(&f, line);
	}
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++, id++) {
		tok_base64_encode(&f, (const uint8_t *)extra[i], strlen(extra[i]));
		snprintf(line, sizeof(line), " %d\n", id);
		buf_adds(&f, line);
	}
	char config[256], err[256];
	snprintf(config, sizeof(config),
		 "{\"pat_str\": \"\\\\p{L}+|\\\\p{N}+|\\\\s+|.\", \"special_tokens\": {\"<|endoftext|>\": %d}}", id);
	tok_vocab *v = tok_load_mem("tiny", f.data, f.len, config, strlen(config), NULL, err, sizeof(err));
	buf_release(&f);
	if (!v) {
		fprintf(stderr, "fuzz_chat: %s\n", err);
		__builtin_trap();
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static tok_vocab *v;
	static chat_template *t;
	static tok_state *s;
	char err[256];
	if (!v) {
		v = tiny_vocab();
		if (!(t = chat_template_new(NULL, v, err, sizeof(err))))
			__builtin_trap();
		s = tok_state_new(v);
	}
	chat_conv c = { 0 };
	err[0] = '\0';
	if (chat_parse(&c, (const char *)data, size, err, sizeof(err)) != 0) {
		if (!err[0] || c.n != 0)
			__builtin_trap();
		chat_conv_release(&c);
		return 0;
	}
	buf want = { 0 }, targets = { 0 };
	size_t total = 0;
	for (size_t i = 0; i < c.n; i++) {
		const chat_msg *m = &c.msgs[i];
		if (m->role > CHAT_ASSISTANT || utf8_valid_prefix((const uint8_t *)m->content, m->len) != m->len)
			__builtin_trap();
		total += m->len;
		buf_adds(&want, "<|im_start|>");
		buf_adds(&want, chat_role_name(m->role));
		buf_adds(&want, "\n");
		buf_add(&want, m->content, m->len);
		buf_adds(&want, "<|im_end|>\n");
		if (m->role == CHAT_ASSISTANT) {
			buf_add(&targets, m->content, m->len);
			buf_adds(&targets, "<|im_end|>");
		}
	}
	if (total > size)
		__builtin_trap();
	chat_out o = { 0 };
	if (chat_render(t, s, c.msgs, c.n, 0, &o, err, sizeof(err)) != 0)
		__builtin_trap();
	/* The whole decodes to the template's text, and the tokens with mask
	 * 1 to the assistants' contents, each with its <|im_end|>. */
	buf all = { 0 }, on = { 0 };
	size_t bad;
	if (chat_decode(t, o.ids, o.n, &all, &bad) != 0)
		__builtin_trap();
	for (size_t i = 0; i < o.n; i++) {
		size_t len;
		const uint8_t *b = chat_token_bytes(t, o.ids[i], &len);
		if (o.mask[i] > 1 || !b)
			__builtin_trap();
		if (o.mask[i])
			buf_add(&on, b, len);
	}
	if (all.len != want.len || (all.len && memcmp(all.data, want.data, all.len) != 0) || on.len != targets.len ||
	    (on.len && memcmp(on.data, targets.data, on.len) != 0))
		__builtin_trap();
	buf_release(&all);
	buf_release(&on);
	buf_release(&want);
	buf_release(&targets);
	chat_out_release(&o);
	chat_conv_release(&c);
	return 0;
}

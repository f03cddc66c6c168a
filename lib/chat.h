/* chat.h: conversations rendered with a chat template into token ids and a
 * loss mask, and the template's ids turned back into text.
 *
 * A conversation is a JSON array of messages, each an object with a "role"
 * ("system", "user" or "assistant") and a string "content"; other keys of a
 * message are ignored.  The one template, ChatML, renders each message as
 *
 *     <|im_start|>ROLE\nCONTENT<|im_end|>\n
 *
 * where <|im_start|> and <|im_end|> are single control tokens.  The vocabulary
 * keeps its ids; a control token it lacks is given the next id after its
 * last one (its own special tokens included).  The pieces between control
 * tokens are encoded on their own -- "ROLE\n", CONTENT, "\n" -- always as
 * ordinary text, so text in the data never becomes a control token.  The
 * mask is 1 on the tokens of an assistant's content and on the <|im_end|>
 * that ends its turn, 0 elsewhere.  doc/chat.md has the bytes and ids.
 *
 * A chat_template is read-only once made and may be shared by threads; each
 * thread renders with its own tok_state (made from the same vocabulary,
 * with no special token allowed) and its own chat_conv and chat_out. */
#ifndef SLUICE_CHAT_H
#define SLUICE_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "tokenizer.h"
#include "util.h"

#define CHAT_DEFAULT "chatml"

typedef enum { CHAT_SYSTEM, CHAT_USER, CHAT_ASSISTANT } chat_role;

typedef struct chat_msg {
	chat_role role;
	const char *content;       /* UTF-8, len bytes, not NUL-terminated */
	size_t len;
} chat_msg;

/* Parsed messages; the content they point to is owned here.  Zero-initialised
 * is empty and valid. */
typedef struct chat_conv {
	chat_msg *msgs;
	size_t n, cap;
	buf text;                  /* the contents, one after another */
	rec *scratch;              /* one message object at a time */
} chat_conv;

/* Parse json[0..len), a conversation as above, into c (replacing what it
 * held).  Returns 0, or -1 with c empty and the problem in err ("message
 * 2: unknown role 'tool'"; messages count from 1). */
int chat_parse(chat_conv *c, const char *json, size_t len, char *err, size_t errlen);
void chat_conv_release(chat_conv *c);                    /* frees, leaves it empty */

const char *chat_role_name(chat_role r);

typedef struct chat_template chat_template;

/* The template of that name (NULL: CHAT_DEFAULT) over vocabulary v, which
 * must outlive it.  Returns NULL with the problem in err for an unknown
 * name. */
chat_template *chat_template_new(const char *name, const tok_vocab *v, char *err, size_t errlen);
void chat_template_free(chat_template *t);               /* accepts NULL */
/* The same for a model of n_vocab token ids: NULL with the problem in err
 * also when the model lacks the template's ids (it was not trained on chat
 * data). */
chat_template *chat_template_for_model(const char *name, const tok_vocab *v, uint32_t n_vocab, char *err,
				       size_t errlen);

const char *chat_template_name(const chat_template *t);
const tok_vocab *chat_template_vocab(const chat_template *t);
/* The vocabulary's ids and the template's: largest id + 1. */
uint32_t chat_n_vocab(const chat_template *t);
/* The id that opens a turn (<|im_start|>) and the one that ends it
 * (<|im_end|>): a sampler stops at the latter. */
uint32_t chat_turn_start(const chat_template *t);
uint32_t chat_end_of_turn(const chat_template *t);
/* The template's control tokens, i from 0 to chat_nspecial() - 1: the text,
 * and the id in *id. */
size_t chat_nspecial(const chat_template *t);
const char *chat_special_at(const chat_template *t, size_t i, uint32_t *id);
/* Append the members that describe the template in a stream header,
 * without braces and with a leading ", ":
 * , "chat_template": "chatml", "chat_tokens": {"<|im_start|>": 50257, ...} */
void chat_meta(const chat_template *t, buf *out);

/* Rendered ids with their mask.  Zero-initialised is empty and valid. */
typedef struct chat_out {
	uint32_t *ids;
	uint8_t *mask;
	size_t n, cap;
} chat_out;

void chat_out_reset(chat_out *o);                        /* n = 0 */
void chat_out_release(chat_out *o);

/* Flags for chat_render(). */
enum {
	/* End with the opening of an assistant turn, <|im_start|>assistant\n
	 * (mask 0): the prompt a model continues with its reply. */
	CHAT_GENERATION_PROMPT = 1,
};

/* Append the rendering of msgs[0..n) to out.  s must come from t's
 * vocabulary.  Returns 0, or -1 with err if the tokenizer failed (the
 * pattern engine gave up on a content). */
int chat_render(const chat_template *t, tok_state *s, const chat_msg *msgs, size_t n, int flags, chat_out *out,
		char *err, size_t errlen);

/* The bytes of one id: the template's control tokens as their text, other
 * ids as the vocabulary has them.  NULL for an id outside both. */
const uint8_t *chat_token_bytes(const chat_template *t, uint32_t id, size_t *len);
/* Append the bytes of ids to out.  Returns 0, or -1 with *bad the index of
 * the first id chat_token_bytes() does not know. */
int chat_decode(const chat_template *t, const uint32_t *ids, size_t n, buf *out, size_t *bad);

#endif

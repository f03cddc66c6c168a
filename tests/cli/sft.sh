#!/bin/bash
# sft.sh: the supervised fine-tuning path on synthetic tasks: the problem
# generator (pipelines/arith), its answers through the verifier, chat data
# into a model started from one without the chat tokens, and exact match
# in chat form.
. "$(dirname "$0")/../lib.sh"
ARITH=$PWD/$O/pipelines/arith
export SLUICE_VOCAB_DIR=$TMP

# The generator: the same arguments give the same bytes; another seed
# other problems; no question twice; held-out questions never in training.
"$ARITH" -n 400 -s 3 >"$TMP/a.jsonl"
"$ARITH" -n 400 -s 3 >"$TMP/b.jsonl"
same "arith: the same seed gives the same problems" "$TMP/a.jsonl" "$TMP/b.jsonl"
"$ARITH" -n 400 -s 4 >"$TMP/c.jsonl"
if cmp -s "$TMP/a.jsonl" "$TMP/c.jsonl"; then not_ok "arith: another seed, other problems"; else ok "arith: another seed, other problems"; fi
questions() { sed 's/.*"question": "\([^"]*\)".*/\1/' "$@" | sort; }
dups=$(questions "$TMP/a.jsonl" | uniq -d | wc -l)
[ "$dups" -eq 0 ] && ok "arith: no question twice" || not_ok "arith: no question twice" "$dups repeated"
"$ARITH" -n 400 -s 3 --split test >"$TMP/t.jsonl"
"$ARITH" -n 400 -s 9 --split test >>"$TMP/t.jsonl"
shared=$(comm -12 <(questions "$TMP/a.jsonl" "$TMP/c.jsonl" | uniq) <(questions "$TMP/t.jsonl" | uniq) | wc -l)
[ "$shared" -eq 0 ] && ok "arith: train and held-out splits share no question" ||
	not_ok "arith: train and held-out splits share no question" "$shared shared"
n=$(wc -l <"$TMP/t.jsonl")
[ "$n" -eq 800 ] && ok "arith: --split test gives the count asked" || not_ok "arith: --split test gives the count asked" "$n"
# Harder problems: more steps, more digits, multiplication.
"$ARITH" -n 50 --digits 3 --steps 4 --ops '+-*' >"$TMP/h.jsonl"
lines=$(sed -n '1s/.*"solution": "\([^"]*\)".*/\1/p' "$TMP/h.jsonl" | grep -o '\\n' | wc -l)
[ "$lines" -eq 4 ] && ok "arith: --steps 4 gives four worked lines" || not_ok "arith: --steps 4 gives four worked lines" "$lines"
expect "arith: --digits 0 is a usage error" 2 "$ARITH" --digits 0
expect "arith: --ops with another character is a usage error" 2 "$ARITH" --ops '+/'
expect "arith: an extra argument is a usage error" 2 "$ARITH" extra

# Every worked solution ends in the answer, as the verifier reads it; a
# changed final number is caught.
printf 'wrong drop solution wrong_answer answer\n' >"$TMP/verify.rules"
expect "verifier: the generator's solutions" 0 sluice-synth-filter -R "$TMP/verify.rules" -o "$TMP/v.jsonl" \
	"$TMP/a.jsonl" "$TMP/h.jsonl"
same "verifier: keeps every generated solution" "$TMP/v.jsonl" <(cat "$TMP/a.jsonl" "$TMP/h.jsonl")
sed 's/#### \([0-9]\)/#### 1\1/' "$TMP/a.jsonl" | sluice-synth-filter -R "$TMP/verify.rules" >"$TMP/w.jsonl" 2>/dev/null
[ ! -s "$TMP/w.jsonl" ] && ok "verifier: drops every changed answer" ||
	not_ok "verifier: drops every changed answer" "$(wc -l <"$TMP/w.jsonl") kept"

# A small vocabulary, a base model trained on plain text, then SFT on the
# conversations from it: the embedding grows by the two control tokens.
sed 's/.*"question": "\([^"]*\)", "solution": "\([^"]*\)".*/{"text": "\1\\n\2"}/' "$TMP/a.jsonl" >"$TMP/plain.jsonl"
sluice-tokenize --train --vocab-size 300 -o "$TMP/ar" "$TMP/plain.jsonl" 2>/dev/null
sluice-tokenize -v "$TMP/ar.tiktoken" --drop-text -o "$TMP/plain.slc" "$TMP/plain.jsonl" 2>/dev/null
sluice-shard --quiet -T 160 -o "$TMP/pt" "$TMP/plain.slc"
sluice-tokenize -v "$TMP/ar.tiktoken" --chat --drop-text -o "$TMP/chat.slc" "$TMP/a.jsonl" 2>/dev/null
sluice-shard --quiet --sft -T 160 -o "$TMP/sft" "$TMP/chat.slc"
expect "base: pretrain without chat tokens" 0 sluice-train-step -m "$TMP/base.st" --init custom -L 1 -C 32 -H 2 \
	--ctx 160 -B 4 --steps 2 --quiet "$TMP/pt/train-00000.slc"
expect_err "sft: continuing the base itself on chat data is refused, with the way out" 1 "with --from" \
	sluice-train-step -m "$TMP/base.st" -B 4 --steps 1 --quiet "$TMP/sft/train-00000.slc"
expect_err "sft: started from the base, the embedding grows" 0 "grown from 300 to 302 rows" \
	sluice-train-step -m "$TMP/sft.st" --from "$TMP/base.st" -B 4 --steps 2 "$TMP/sft/train-00000.slc"
meta=$(head -c 400 "$TMP/sft.st" | tr -d '\0\\')
case $meta in
*'"n_vocab":302'*'"chat_template":"chatml"'*) ok "sft: the checkpoint has the grown vocabulary and names its chat template" ;;
*) not_ok "sft: the checkpoint has the grown vocabulary and names its chat template" "$meta" ;;
esac
expect "sft: continues on chat data" 0 sluice-train-step -m "$TMP/sft.st" -B 4 --steps 1 --quiet \
	"$TMP/sft/train-00000.slc"

# Loss on chat data counts the assistant's tokens only: the mask's ones.
expect "eval --loss: chat shards" 0 sluice-eval -m "$TMP/sft.st" --loss "$TMP/sft/train-00000.slc"
got=$(sed -n 's/.*"targets": \([0-9]*\).*/\1/p' "$TMP/out")
want=$(sluice-cat -J "$TMP/sft/train-00000.slc" | grep -o '"mask": \[[^]]*\]' | grep -o 1 | wc -l)
[ -n "$got" ] && [ "$got" -eq "$want" ] && ok "eval --loss: targets are the assistant's tokens ($want)" ||
	not_ok "eval --loss: targets are the assistant's tokens" "got $got, want $want"

# Exact match in chat form.
expect "eval --chat: exact match over chat prompts" 0 sluice-eval -m "$TMP/sft.st" --gsm8k "$TMP/t.jsonl" --chat \
	--limit 6 --samples 2 --max-new 24
out=$(cat "$TMP/out")
case $out in
*'"items": 6'*'"exact_match_ci95": ['*'"chat": "chatml"'*) ok "eval --chat: items, confidence interval, template reported" ;;
*) not_ok "eval --chat: items, confidence interval, template reported" "$out" ;;
esac
expect_err "eval --chat: a model without the chat tokens is refused" 1 "needs 302" \
	sluice-eval -m "$TMP/base.st" --gsm8k "$TMP/t.jsonl" --chat --limit 2
expect_err "eval --chat: only with --gsm8k" 2 "goes with --gsm8k" \
	sluice-eval -m "$TMP/sft.st" --loss --chat "$TMP/sft/train-00000.slc"

# Sampling in chat form: the prompt is the conversation up to the opening of
# the assistant's turn (the reference answer left out), the reply joins the
# messages as the assistant's.
head -2 "$TMP/t.jsonl" >"$TMP/p.jsonl"
expect "sample --chat: replies to conversations" 0 sluice-sample -m "$TMP/sft.st" --chat -n 3 -N 16 -J --quiet \
	-o "$TMP/r.jsonl" "$TMP/p.jsonl"
n=$(wc -l <"$TMP/r.jsonl")
[ "$n" -eq 6 ] && ok "sample --chat: three replies to each of two prompts" || not_ok "sample --chat: three replies to each of two prompts" "$n"
reply_is_last() { # the reply is the last message, and the prompt is the user's turn then <|im_start|>assistant\n
	local line=$1 completion last
	completion=$(sed 's/.*"completion": \("[^"]*"\).*/\1/' <<<"$line")
	last=$(sed 's/.*"messages": \[{"role": "user", "content": "[^"]*"}, {"role": "assistant", "content": \("[^"]*"\)}\].*/\1/' <<<"$line")
	[ "$completion" = "$last" ]
}
good=0
while IFS= read -r line; do reply_is_last "$line" && good=$((good + 1)); done <"$TMP/r.jsonl"
[ "$good" -eq 6 ] && ok "sample --chat: each reply is the assistant's message after the user's, the reference gone" ||
	not_ok "sample --chat: each reply is the assistant's message after the user's, the reference gone" "$good of 6"
# The prompt's ids: those of tokenize --chat for the user turn, then
# <|im_start|>assistant\n.
sed -n 1p "$TMP/p.jsonl" | sed 's/, {"role": "assistant", "content": "[^"]*"}\]/]/' >"$TMP/u.jsonl"
sluice-tokenize -v "$TMP/ar.tiktoken" --chat -J "$TMP/u.jsonl" 2>/dev/null | sed 's/.*"tokens": \[\([^]]*\)\].*/\1/' >"$TMP/u.ids"
printf '%s\n' '{"messages": [{"role": "assistant", "content": ""}]}' |
	sluice-tokenize -v "$TMP/ar.tiktoken" --chat -J 2>/dev/null | sed 's/.*"tokens": \[\([^]]*\)\].*/\1/' >"$TMP/a.ids"
# assistant turn with empty content: <|im_start|> assistant\n <|im_end|> \n; the prompt ends before <|im_end|>.
want="$(cat "$TMP/u.ids"), $(sed 's/, [0-9]*, [0-9]*$//' "$TMP/a.ids")"
got=$(sed -n 1p "$TMP/r.jsonl" | sed 's/.*"prompt_tokens": \[\([^]]*\)\].*/\1/')
[ "$got" = "$want" ] && ok "sample --chat: the prompt is the user's turn, then <|im_start|>assistant\\n" ||
	not_ok "sample --chat: the prompt is the user's turn, then <|im_start|>assistant\\n" "got [$got] want [$want]"
# The rollouts' stream header names the template and its ids.
sluice-sample -m "$TMP/sft.st" --chat -n 2 -N 4 --quiet -o "$TMP/r.slc" "$TMP/p.jsonl"
zstd -dc "$TMP/r.slc" 2>/dev/null | head -c 400 | tr -cd '[:print:]' >"$TMP/r.head"
grep -qE '^SLUICE.*\{"mode": "rollouts", "tokenizer": "ar", "n_vocab": 302, "eot": 299, "chat_template": "chatml", "chat_tokens": \{"<\|im_start\|>": 300, "<\|im_end\|>": 301\}, "samples": 2, "weights": "f32"\}' "$TMP/r.head" &&
	ok "sample --chat: the stream header names the chat template and its ids" ||
	not_ok "sample --chat: the stream header names the chat template and its ids" "$(cat "$TMP/r.head")"
expect_err "sample --chat: a model without the chat tokens is refused" 1 "needs 302" \
	sluice-sample -m "$TMP/base.st" --chat -N 4 -J "$TMP/p.jsonl"
printf '%s\n' '{"messages": "What is 2+2?"}' >"$TMP/bad.jsonl"
expect_err "sample --chat: messages that are not an array name the record" 1 "record 1: not an array" \
	sluice-sample -m "$TMP/sft.st" --chat -N 4 -J "$TMP/bad.jsonl"

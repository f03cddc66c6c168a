#!/bin/bash
# chat.sh: sluice-tokenize --chat end to end: ChatML rendering checked
# against text written independently (tests/data/chat, from Python's json),
# the mask checked by decoding exactly the tokens that carry 1, control ids
# after each vocabulary's, the stream header, decoding, threads, bad
# conversations, and sluice-shard --sft keeping the masks.
. "$(dirname "$0")/../lib.sh"
C=tests/data/chat

# The tokens whose mask is 1, one {"tokens": [...]} line per input line.
masked() {
	awk '{
		t = $0; m = $0
		if (!match(t, /"tokens": \[[0-9, ]*\]/)) next
		t = substr(t, RSTART + 11, RLENGTH - 12)
		if (!match(m, /"mask": \[[0-9, ]*\]/)) next
		m = substr(m, RSTART + 9, RLENGTH - 10)
		nt = split(t, T, ", "); nm = split(m, M, ", ")
		if (nt != nm) { print "length mismatch"; next }
		s = ""
		for (i = 1; i <= nt; i++) if (M[i] == 1) s = s (s == "" ? "" : ", ") T[i]
		print "{\"tokens\": [" s "]}"
	}'
}

# "TOKENS|MASK" per example, without the SFT padding (eot with mask 0) and
# skipping empty examples, to compare sequences with the examples.
examples() {
	awk -v eot="$1" '{
		t = $0; m = $0
		match(t, /"tokens": \[[0-9, ]*\]/); t = substr(t, RSTART + 11, RLENGTH - 12)
		match(m, /"mask": \[[0-9, ]*\]/); m = substr(m, RSTART + 9, RLENGTH - 10)
		n = split(t, T, ", "); split(m, M, ", ")
		while (n > 0 && T[n] == eot && M[n] == 0) n--
		if (n == 0) next
		s = T[1] "|" M[1]
		for (i = 2; i <= n; i++) s = s " " T[i] "|" M[i]
		print s
	}'
}

# --- the exact ids and mask of one conversation (gpt2) ---
printf '%s\n' '{"messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+3?"}, {"role": "assistant", "content": "5."}]}' >"$TMP/one.jsonl"
sluice-tokenize --chat -J --drop-text "$TMP/one.jsonl" >"$TMP/one.out" 2>"$TMP/one.err"
grep -qx '{"tokens": \[50257, 10057, 198, 1639, 389, 1059, 325, 13, 50258, 198, 50257, 7220, 198, 2061, 318, 362, 10, 18, 30, 50258, 198, 50257, 562, 10167, 198, 20, 13, 50258, 198\], "mask": \[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0\]}' "$TMP/one.out" &&
	ok "gpt2: a system prompt, a question and an answer, id by id; mask 1 on '5.' and its <|im_end|>" ||
	not_ok "one conversation" "$(cat "$TMP/one.out")"
grep -q 'records 1, tokens 29, target_tokens 3' "$TMP/one.err" && ok "summary counts the target tokens" ||
	not_ok "summary" "$(cat "$TMP/one.err")"

# --- every encoding: rendering and mask against the independent text ---
declare -A first=([gpt2]=50257 [cl100k_base]=100277 [o200k_base]=200019)
for e in gpt2 cl100k_base o200k_base; do
	s=${first[$e]}
	sluice-tokenize -e "$e" --chat "$C/conversations.jsonl" >"$TMP/$e.slc" 2>"$TMP/$e.err"
	grep -q 'records 47, ' "$TMP/$e.err" && ok "$e: 47 conversations tokenized" || not_ok "$e: count" "$(cat "$TMP/$e.err")"
	zstd -dc "$TMP/$e.slc" | head -c 300 | grep -aq "\"n_vocab\": $((s + 2)), .*\"chat_template\": \"chatml\", \"chat_tokens\": {\"<|im_start|>\": $s, \"<|im_end|>\": $((s + 1))}" &&
		ok "$e: the header names the template, its ids after the vocabulary's, and $((s + 2)) ids in all" ||
		not_ok "$e: header" "$(zstd -dc "$TMP/$e.slc" | head -c 300 | tr -cd '[:print:]')"
	sluice-tokenize -e "$e" -d -J "$TMP/$e.slc" 2>/dev/null | sed 's/^.*"mask": \[[0-9, ]*\], "text"/{"text"/' >"$TMP/$e.rendered"
	same "$e: each conversation decodes to its ChatML text byte for byte (template read from the header)" \
		"$C/rendered.jsonl" "$TMP/$e.rendered"
	sluice-cat -J "$TMP/$e.slc" | masked | sluice-tokenize -e "$e" --chat -d -J 2>/dev/null |
		sed 's/^{"tokens": \[[0-9, ]*\], "text"/{"text"/' >"$TMP/$e.targets"
	same "$e: the tokens with mask 1 are exactly each assistant's content and its <|im_end|>" \
		"$C/targets.jsonl" "$TMP/$e.targets"
done

# Control-token text inside contents never becomes a control id: 2 turns, 2 of each.
sed -n 3p "$C/conversations.jsonl" | sluice-tokenize --chat -J --drop-text >"$TMP/inject.out" 2>/dev/null
[ "$(grep -o '5025[78]' "$TMP/inject.out" | sort | uniq -c | awk '{print $1}' | tr '\n' ' ')" = "2 2 " ] &&
	! grep -q '50256' "$TMP/inject.out" && ok "control-token text in user and assistant content is ordinary text" ||
	not_ok "injection" "$(cat "$TMP/inject.out")"
sed -n 5p "$C/conversations.jsonl" | sluice-tokenize --chat -J >"$TMP/empty.out" 2>/dev/null
grep -q '"messages": \[\], "tokens": \[\], "mask": \[\]}$' "$TMP/empty.out" && ok "an empty conversation has no tokens" ||
	not_ok "empty conversation" "$(cat "$TMP/empty.out")"
printf '{"text": "no conversation"}\n' | sluice-tokenize --chat -J >"$TMP/none.out" 2>"$TMP/none.err"
grep -qx '{"text": "no conversation"}' "$TMP/none.out" && grep -q 'no_messages 1' "$TMP/none.err" &&
	ok "a record without messages passes through, counted" || not_ok "no messages" "$(cat "$TMP/none.err")"

# --- threads, a trained vocabulary, --field ---
expect "--chat -j 3: exit 0" 0 sluice-tokenize --chat -j 3 -o "$TMP/j3.slc" "$C/conversations.jsonl"
same "--chat -j 3 output equals -j 1" "$TMP/gpt2.slc" "$TMP/j3.slc"
sluice-tokenize --train --vocab-size 300 --max-train-bytes 100K -o "$TMP/tiny" data/tinyshakespeare.txt 2>/dev/null
sluice-tokenize -v "$TMP/tiny.tiktoken" --chat "$C/conversations.jsonl" >"$TMP/tiny.slc" 2>/dev/null
zstd -dc "$TMP/tiny.slc" | head -c 300 | grep -aq '"n_vocab": 302, "eot": 299, "chat_template": "chatml", "chat_tokens": {"<|im_start|>": 300, "<|im_end|>": 301}' &&
	ok "a trained vocabulary of 300 tokens: the template's ids follow its <|endoftext|> (299)" ||
	not_ok "trained vocabulary" "$(zstd -dc "$TMP/tiny.slc" | head -c 300 | tr -cd '[:print:]')"
sluice-tokenize -v "$TMP/tiny.tiktoken" -d -J "$TMP/tiny.slc" 2>/dev/null | sed 's/^.*"mask": \[[0-9, ]*\], "text"/{"text"/' >"$TMP/tiny.rendered"
same "a trained vocabulary: conversations decode to their ChatML text" "$C/rendered.jsonl" "$TMP/tiny.rendered"
sed 's/"messages"/"conv"/' "$TMP/one.jsonl" | sluice-tokenize --chat --field conv -J --drop-text >"$TMP/field.out" 2>/dev/null
cmp -s "$TMP/one.out" "$TMP/field.out" && ok "--field names the messages field" || not_ok "--field" "$(cat "$TMP/field.out")"

# --- decoding ---
expect_err "decoding with another vocabulary than the header's: exit 1" 1 "<\|im_start\|> is id 50257, but 100277" \
	sluice-tokenize -e cl100k_base -d -J "$TMP/gpt2.slc"
printf '{"tokens": [50257, 7220, 50258]}\n' >"$TMP/ids.jsonl"
expect_err "JSONL ids past the vocabulary without --chat: exit 1" 1 "not in vocabulary gpt2 \(ids below 50257\)" \
	sluice-tokenize -d -J "$TMP/ids.jsonl"
sluice-tokenize --chat -d -J "$TMP/ids.jsonl" >"$TMP/ids.out" 2>/dev/null
grep -qx '{"tokens": \[50257, 7220, 50258\], "text": "<|im_start|>user<|im_end|>"}' "$TMP/ids.out" &&
	ok "--chat -d renders the control ids as their text" || not_ok "--chat -d" "$(cat "$TMP/ids.out")"
printf '{"tokens": [50259]}\n' >"$TMP/past.jsonl"
expect_err "--chat -d: an id past the template's is an error" 1 "with chat template chatml \(ids below 50259\)" \
	sluice-tokenize --chat -d -J "$TMP/past.jsonl"

# --- bad conversations: exit 1 naming the record, no output left; or set aside ---
cat >"$TMP/bad.jsonl" <<'EOF'
{"messages": [{"role": "user", "content": "fine"}, {"role": "assistant", "content": "yes"}]}
{"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "content": "x"}]}
{"messages": [{"role": "user", "content": 5}]}
{"messages": "hello"}
{"messages": [["user", "hi"]]}
{"messages": [{"role": "user", "content": "fine too"}]}
EOF
for l in 2 3 4 5; do
	sed -n "1p;${l}p" "$TMP/bad.jsonl" >"$TMP/bad$l.jsonl"
done
expect_err "unknown role: exit 1 naming the record and the message" 1 "bad2.jsonl: record 2: 'messages': message 2: unknown role 'tool'" \
	sluice-tokenize --chat -o "$TMP/bad.slc" "$TMP/bad2.jsonl"
[ ! -e "$TMP/bad.slc" ] && ok "a failed run leaves no output file" || not_ok "output left behind"
expect_err "non-string content: exit 1" 1 "record 2: 'messages': message 1: \"content\" is not a string" \
	sluice-tokenize --chat -J "$TMP/bad3.jsonl"
expect_err "messages a string: exit 1" 1 "record 2: 'messages': not an array of messages but a string" \
	sluice-tokenize --chat -J "$TMP/bad4.jsonl"
expect_err "a message that is not an object: exit 1" 1 "record 2: 'messages': message 1 is not an object" \
	sluice-tokenize --chat -j 2 -J "$TMP/bad5.jsonl"
sluice-tokenize --chat "$TMP/bad2.jsonl" 2>/dev/null | sluice-cat --check >/dev/null 2>&1 &&
	not_ok "a failed run through a pipe must not look complete" || ok "a failed run through a pipe leaves a stream every reader rejects"
expect_err "--rejects sets bad conversations aside, counted" 0 "records 2, tokens [0-9]+, target_tokens [0-9]+, bad_messages 4" \
	sluice-tokenize --chat -j 2 --rejects "$TMP/rej.slc" -o "$TMP/good.slc" "$TMP/bad.jsonl"
[ "$(sluice-cat "$TMP/rej.slc" | grep -c '"reason": "bad_messages"}$')" = 4 ] && ok "rejected records kept as they were, with the reason" ||
	not_ok "rejects" "$(sluice-cat "$TMP/rej.slc")"

# --- usage errors ---
expect_err "--chat with --eot: usage error" 2 "no --eot" sluice-tokenize --chat --eot "$TMP/one.jsonl"
expect_err "--chat with --allow-special: usage error" 2 "never a control token" sluice-tokenize --chat --allow-special all "$TMP/one.jsonl"
expect_err "--chat with an unknown template: usage error" 2 "unknown chat template 'llama3'" sluice-tokenize --chat=llama3 "$TMP/one.jsonl"
expect_err "--chat with --train: usage error" 2 "exclude each other" sluice-tokenize --chat --train -o "$TMP/x" "$TMP/one.jsonl"

# --- sluice-shard --sft: one conversation per sequence, masks intact ---
sluice-tokenize --chat --drop-text "$C/conversations.jsonl" >"$TMP/chat.slc" 2>/dev/null
sluice-shard -T 1023 --sft --no-shuffle -o "$TMP/sft" "$TMP/chat.slc" 2>"$TMP/shard.err"
grep -q '"mode": "sft"' "$TMP/sft/manifest.json" && grep -q '"n_vocab": 50259' "$TMP/sft/manifest.json" &&
	grep -q '"empty": 1,' "$TMP/sft/manifest.json" &&
	ok "--sft on chat output: the manifest has the template's vocabulary size and counts the empty conversation" || not_ok "--sft manifest" "$(cat "$TMP/shard.err")"
zstd -dc "$TMP/sft/train-00000.slc" | head -c 400 | grep -aq '"n_vocab": 50259, "eot": 50256, "chat_template": "chatml", "chat_tokens": {"<|im_start|>": 50257, "<|im_end|>": 50258}, "seq_len"' &&
	grep -q '"chat_template": "chatml", "chat_tokens": {"<|im_start|>": 50257, "<|im_end|>": 50258}' "$TMP/sft/manifest.json" &&
	ok "--sft: the shards' headers and the manifest name the chat template and its ids" ||
	not_ok "--sft chat template" "$(zstd -dc "$TMP/sft/train-00000.slc" | head -c 400 | tr -cd '[:print:]')"
sluice-cat -J "$TMP/chat.slc" | examples 50256 >"$TMP/want.ex"
sluice-cat -J "$TMP/sft/train-00000.slc" | examples 50256 >"$TMP/got.ex"
[ "$(wc -l <"$TMP/want.ex")" = 46 ] && [ "$(sluice-cat -J "$TMP/sft/train-00000.slc" | wc -l)" = 46 ] &&
	ok "--sft: 46 sequences for 46 non-empty conversations (the empty one counted apart)" ||
	not_ok "--sft count" "$(wc -l <"$TMP/got.ex")"
same "--sft: each sequence is one conversation's tokens and mask, then padding with mask 0" "$TMP/want.ex" "$TMP/got.ex"
sluice-cat -J "$TMP/sft/train-00000.slc" | awk '{ match($0, /"tokens": \[[0-9, ]*\]/); n = split(substr($0, RSTART + 11, RLENGTH - 12), T, ", "); if (n != 1024) bad++ } END { exit bad }' &&
	ok "--sft: every sequence holds T+1 tokens" || not_ok "--sft lengths"

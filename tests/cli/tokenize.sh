#!/bin/bash
# tokenize.sh: sluice-tokenize end to end: parity through the tool (with
# tiktoken as the oracle when installed), round trips, threads, special
# tokens, invalid UTF-8, bad ids, training, errors.
. "$(dirname "$0")/../lib.sh"
D=data

# --- round trips on real data: encode then decode gives the text back ---
for e in gpt2 cl100k_base o200k_base; do
	sluice-tokenize -e "$e" "$D/gsm8k/test.jsonl" --field question >"$TMP/q.slc"
	sluice-tokenize -e "$e" -d --field question -J "$TMP/q.slc" | sed 's/, "tokens": \[[0-9, ]*\]//' >"$TMP/q.jsonl"
	same "$e: GSM8K questions encode and decode back" "$D/gsm8k/test.jsonl" "$TMP/q.jsonl"
done
sluice-tokenize -e o200k_base --drop-text "$D/tinyshakespeare.txt" | sluice-tokenize -e o200k_base -d -t >"$TMP/shakes.txt"
same "o200k_base: tiny Shakespeare lines, through a pipe, text dropped" "$D/tinyshakespeare.txt" "$TMP/shakes.txt"
sluice-tokenize -e cl100k_base --drop-text tests/data/tokenize/stress.jsonl |
	sluice-tokenize -e cl100k_base -d -J | sed 's/^{"tokens": \[[0-9, ]*\], "text"/{"text"/' >"$TMP/stress.jsonl"
same "cl100k_base: the stress corpus decodes back" tests/data/tokenize/stress.jsonl "$TMP/stress.jsonl"

# --- threads: byte-identical output in input order ---
sluice-tokenize -e gpt2 "$D/gsm8k/train.jsonl" --field answer >"$TMP/j1.slc"
sluice-tokenize -e gpt2 -j 3 "$D/gsm8k/train.jsonl" --field answer >"$TMP/j3.slc"
same "-j 3 output equals -j 1" "$TMP/j1.slc" "$TMP/j3.slc"
sluice-cat --stats "$TMP/j1.slc" >"$TMP/stats"
grep -q '"tokens": 712068' "$TMP/stats" && ok "GSM8K train answers: 712068 gpt2 tokens, as tiktoken" ||
	not_ok "token count" "$(cat "$TMP/stats")"
sluice-cat -n 0 -r "$TMP/j1.slc" >/dev/null
zstd -dc "$TMP/j1.slc" | head -c 200 | grep -q '"tokenizer": "gpt2", "n_vocab": 50257, "eot": 50256' &&
	ok "stream header names the tokenizer" || not_ok "stream header names the tokenizer"

# --- --eot and special tokens ---
printf '{"text": "hi<|endoftext|>"}\n' >"$TMP/sp.jsonl"
sluice-tokenize -e gpt2 -J --drop-text "$TMP/sp.jsonl" >"$TMP/sp.out"
grep -q '^{"tokens": \[5303, 27, 91, 437, 1659, 5239, 91, 29\]}$' "$TMP/sp.out" &&
	ok "special token text is ordinary text by default" || not_ok "special as text" "$(cat "$TMP/sp.out")"
sluice-tokenize -e gpt2 -J --drop-text --allow-special '<|endoftext|>' --eot "$TMP/sp.jsonl" >"$TMP/sp.out"
grep -q '^{"tokens": \[5303, 50256, 50256\]}$' "$TMP/sp.out" &&
	ok "--allow-special and --eot" || not_ok "--allow-special and --eot" "$(cat "$TMP/sp.out")"
expect_err "unknown special token" 2 "no special token" sluice-tokenize -e gpt2 --allow-special '<|nope|>' "$TMP/sp.jsonl"

# --- invalid UTF-8: replaced and counted, or rejected with --strict ---
printf 'good line\nbad \377\376 line\n' >"$TMP/bad.txt"
expect_err "invalid UTF-8 replaced and counted" 0 "replaced_chars 2" sluice-tokenize -e gpt2 -J -o "$TMP/bad.out" "$TMP/bad.txt"
expect_err "--strict rejects and counts" 0 "records 1, tokens [0-9]+, invalid_utf8 1" \
	sluice-tokenize -e gpt2 --strict --rejects "$TMP/rej.slc" -o "$TMP/strict.slc" "$TMP/bad.txt"
grep -q "$(printf 'bad \357\277\275\357\277\275 line')" "$TMP/bad.out" && ok "the text kept is the repaired text" ||
	not_ok "repaired text" "$(cat "$TMP/bad.out")"
sluice-cat --stats "$TMP/rej.slc" >"$TMP/rej.stats"
grep -q '"records": 1,' "$TMP/rej.stats" && sluice-cat "$TMP/rej.slc" >"$TMP/rej.jsonl" &&
	grep -q "$(printf '{"text": "bad \357\277\275\357\277\275 line", "reason": "invalid_utf8"}')" "$TMP/rej.jsonl" &&
	ok "rejected record readable, repaired, with its reason" || not_ok "rejects" "$(cat "$TMP/rej.stats")"

# --- decoding ids that are not in the vocabulary ---
printf '{"tokens": [1, 2, 50257]}\n' >"$TMP/ids.jsonl"
expect_err "out-of-range id: exit 1 naming the record" 1 "ids.jsonl: record 1: a token id is not in vocabulary gpt2" \
	sluice-tokenize -e gpt2 -d -J "$TMP/ids.jsonl"
expect_err "out-of-range id set aside with --rejects" 0 "bad_token_id 1" \
	sluice-tokenize -e gpt2 -d -J --rejects "$TMP/ids.rej" "$TMP/ids.jsonl"

# --- a vocabulary file ---
cp vocab/gpt2.tiktoken vocab/gpt2.json "$TMP/"
sluice-tokenize -v "$TMP/gpt2.tiktoken" "$D/gsm8k/train.jsonl" --field answer >"$TMP/v.slc"
same "-v FILE equals -e NAME" "$TMP/j1.slc" "$TMP/v.slc"
head -c 1000 vocab/gpt2.tiktoken >"$TMP/broken.tiktoken"
expect_err "truncated vocabulary: a clear error" 2 "broken.tiktoken: (line|byte)" \
	sluice-tokenize -v "$TMP/broken.tiktoken" --pattern '\w+' "$TMP/sp.jsonl"
expect_err "unknown encoding" 2 "unknown encoding 'nope'" sluice-tokenize -e nope "$TMP/sp.jsonl"
expect_err "bad pattern" 2 "pattern" sluice-tokenize -e gpt2 --pattern '(' "$TMP/sp.jsonl"
printf 'abc def!!' | sluice-tokenize -e gpt2 --pattern '[a-z]+' -J 2>"$TMP/err" >"$TMP/sk.out"
grep -q '^{"text": "abc def!!", "tokens": \[39305, 4299\]}$' "$TMP/sk.out" &&
	grep -q 'left 3 bytes of text unmatched' "$TMP/err" && grep -q 'skipped_bytes 3' "$TMP/err" &&
	ok "text the pattern does not match: no tokens, as tiktoken, but counted" ||
	not_ok "unmatched text counted" "$(cat "$TMP/sk.out" "$TMP/err")"
expect_err "--encoding with --vocab is a usage error" 2 "exclude" sluice-tokenize -e gpt2 -v x "$TMP/sp.jsonl"
expect "help exits 0" 0 sluice-tokenize --help
grep -q '^Usage: sluice-tokenize' "$TMP/out" && ok "help on stdout" || not_ok "help on stdout"
expect "version exits 0" 0 sluice-tokenize --version
expect_err "unknown option" 2 "Try 'sluice-tokenize --help'" sluice-tokenize --bogus
expect_err "missing input names the file" 1 "nosuch.jsonl" sluice-tokenize -e gpt2 nosuch.jsonl
expect_err "write error is reported" 1 "write error" sh -c "sluice-tokenize -e gpt2 -J $D/gsm8k/test.jsonl --field question >/dev/full"
printf '{"text": "a"}\n{"text": ' >"$TMP/badjson.jsonl"
expect_err "malformed JSONL names file and line" 1 "badjson.jsonl: line 2" sluice-tokenize -e gpt2 "$TMP/badjson.jsonl" -o "$TMP/x.slc"

# --- training: deterministic, usable at once, round trips ---
sluice-tokenize --train --vocab-size 1024 -o "$TMP/shk" "$D/tinyshakespeare.txt" 2>"$TMP/train.err"
st=$?
[ "$st" -eq 0 ] && grep -q "bytes per token" "$TMP/train.err" && ok "--train runs and reports bytes per token" ||
	not_ok "--train" "$(cat "$TMP/train.err")"
sluice-tokenize --train --vocab-size 1024 -o "$TMP/shk2" "$D/tinyshakespeare.txt" 2>/dev/null
same "--train is deterministic" "$TMP/shk.tiktoken" "$TMP/shk2.tiktoken"
[ "$(wc -l <"$TMP/shk.tiktoken")" -eq 1023 ] && grep -q '"special_tokens": {"<|endoftext|>": 1023}' "$TMP/shk.json" &&
	grep -q '"n_vocab": 1024' "$TMP/shk.json" && ok "--vocab-size 1024 gives 1024 tokens: 1023 ranked and <|endoftext|>" ||
	not_ok "vocab size" "$(wc -l <"$TMP/shk.tiktoken") ranks; $(cat "$TMP/shk.json")"
sluice-tokenize -v "$TMP/shk.tiktoken" --drop-text "$D/tinyshakespeare.txt" | sluice-tokenize -v "$TMP/shk.tiktoken" -d -t >"$TMP/shk.txt"
same "a trained vocabulary encodes and decodes exactly" "$D/tinyshakespeare.txt" "$TMP/shk.txt"

# -e takes only names, -v only files
expect_err "-e with a path is a usage error" 2 "encoding 'vocab/gpt2.tiktoken': give an encoding name.*--vocab" \
	sluice-tokenize -e vocab/gpt2.tiktoken "$D/tinyshakespeare.txt"
expect_err "-e with a .tiktoken name is a usage error" 2 "give an encoding name" sluice-tokenize -e shk.tiktoken "$D/tinyshakespeare.txt"
printf 'hello\n' >"$TMP/hello.txt"
(cd "$TMP" && sluice-tokenize -v gpt2 hello.txt >/dev/null 2>"$TMP/v.err"); st=$?
[ "$st" -ne 0 ] && grep -q "\./gpt2" "$TMP/v.err" && ok "-v with a bare name is a file, not the encoding" ||
	not_ok "-v bare name" "exit $st: $(cat "$TMP/v.err")"
(cd "$TMP" && sluice-tokenize -v shk.tiktoken hello.txt -o hello.slc 2>/dev/null) && ok "-v with a file in the current directory" ||
	not_ok "-v file here"

# --- parity through the tool, with tiktoken itself when it is installed ---
if python3 -c "import tiktoken" 2>/dev/null; then
	for e in gpt2 cl100k_base o200k_base; do
		sluice-tokenize -e "$e" -J tests/data/tokenize/stress.jsonl >"$TMP/ours.jsonl"
		python3 tests/tokenize/compare.py "$e" tests/data/tokenize/stress.jsonl "$TMP/ours.jsonl" >"$TMP/cmp" 2>&1 &&
			ok "$e: stress corpus ids equal tiktoken's (live)" || not_ok "$e: live parity" "$(head -5 "$TMP/cmp")"
	done
else
	echo "skip: python3 tiktoken not installed; parity checked against fixed vectors in test_tokenizer"
fi

# --- training against Hugging Face tokenizers' byte-level BPE trainer ---
if python3 -c "import tokenizers, tiktoken" 2>/dev/null; then
	(cd tests/tokenize && python3 train_compare.py ../../data/tinyshakespeare.txt 1024 "$TMP/shk.tiktoken") >"$TMP/cmp" 2>&1 &&
		ok "bytes/token on held-out Shakespeare within 2% of tokenizers': $(sed 's/.*ratio //' "$TMP/cmp")" ||
		not_ok "training against tokenizers" "$(cat "$TMP/cmp")"
else
	echo "skip: python3 tokenizers/tiktoken not installed; training not compared"
fi

# --- the man page ---
if command -v mandoc >/dev/null; then
	expect "man page lints clean" 0 mandoc -Tlint -Wwarning man/sluice-tokenize.1
fi

#!/bin/bash
# jsonl.sh: text that is not UTF-8 in JSON lines and text lines (repaired
# and counted by default in sluice-tokenize, rejected with --strict, set
# aside readable with --rejects), byte order marks, and JSON lines whose
# first line is not an object.
. "$(dirname "$0")/../lib.sh"
D=data
T=sluice-tokenize

# GSM8K's 7473 training questions with three bad ones in the middle: an
# invalid UTF-8 byte, a lone surrogate escape, a raw NUL byte.
{
	head -3000 "$D/gsm8k/train.jsonl"
	printf '{"question": "caf\xe9 prices?", "answer": "ok \xff"}\n'
	printf '{"question": "half a pair: \\ud83d", "answer": "1"}\n'
	printf '{"question": "a NUL \x00 here", "answer": "2"}\n'
	tail -n +3001 "$D/gsm8k/train.jsonl"
} >"$TMP/bad.jsonl"

expect_err "default: repaired and counted, no record lost" 0 "records 7476, .*replaced_chars 4" \
	sh -c "$T -e gpt2 --field question $TMP/bad.jsonl >$TMP/all.slc"
expect "the output reads back" 0 sh -c "sluice-cat $TMP/all.slc >$TMP/all.jsonl"
[ "$(wc -l <"$TMP/all.jsonl")" -eq 7476 ] && ok "7476 records out" || not_ok "7476 records out" "$(wc -l <"$TMP/all.jsonl")"
sed -n 3001,3003p "$TMP/all.jsonl" >"$TMP/fixed.jsonl"
R=$'\xef\xbf\xbd'  # U+FFFD
grep -q "\"question\": \"caf$R prices?\", \"answer\": \"ok $R\"" "$TMP/fixed.jsonl" &&
	grep -q '"question": "half a pair: \\ufffd"' "$TMP/fixed.jsonl" &&
	grep -q "\"question\": \"a NUL $R here\"" "$TMP/fixed.jsonl" &&
	ok "each bad sequence is U+FFFD, in every field" || not_ok "each bad sequence is U+FFFD" "$(cat "$TMP/fixed.jsonl")"

expect_err "--strict rejects the three records, naming their lines" 0 \
	"line 3001, column 18: invalid UTF-8: record rejected" \
	sh -c "$T -e gpt2 --field question --strict --rejects $TMP/rej.slc $TMP/bad.jsonl >$TMP/strict.slc"
grep -q "line 3002, column 28: lone surrogate escape" "$TMP/err" && grep -q "line 3003, column 21: NUL byte" "$TMP/err" &&
	grep -q "records 7473, .*invalid_utf8 3" "$TMP/err" && ok "--strict names every line and counts them" ||
	not_ok "--strict names every line and counts them" "$(cat "$TMP/err")"
expect "--strict: the records kept read back" 0 sh -c "sluice-cat $TMP/strict.slc >$TMP/strict.jsonl"
[ "$(wc -l <"$TMP/strict.jsonl")" -eq 7473 ] && ok "--strict keeps the 7473 good records" || not_ok "--strict keeps 7473"
expect "the rejects file reads back" 0 sluice-cat "$TMP/rej.slc"
[ "$(grep -c '"reason": "invalid_utf8"' "$TMP/out")" -eq 3 ] && grep -q "\"answer\": \"ok $R\"" "$TMP/out" &&
	ok "the rejects: three records with their reason" || not_ok "the rejects" "$(cat "$TMP/out")"

# Text lines: the same policy, and the rejects file reads back.
printf 'good line\nbad \xff line\nanother\n' >"$TMP/bad.txt"
expect_err "text: --strict names the line" 0 "line 2, column 5: invalid UTF-8" \
	sh -c "$T -e gpt2 --strict --rejects $TMP/rejt.slc $TMP/bad.txt >/dev/null"
expect "text: the rejects file reads back" 0 sluice-cat "$TMP/rejt.slc"
grep -q "{\"text\": \"bad $R line\", \"reason\": \"invalid_utf8\"}" "$TMP/out" &&
	ok "text: the rejected line, repaired, with its reason" || not_ok "text: rejected line" "$(cat "$TMP/out")"

# sluice-cat keeps UTF-8 errors errors, naming the line.
expect_err "cat: invalid UTF-8 in JSONL is an error" 1 "bad.jsonl: line 3001, column 18: invalid UTF-8" \
	sluice-cat "$TMP/bad.jsonl"

# A byte order mark: skipped, the file is JSON lines.
printf '\xef\xbb\xbf' | cat - "$D/gsm8k/test.jsonl" >"$TMP/bom.jsonl"
sluice-cat "$TMP/bom.jsonl" >"$TMP/bom.out"
same "a UTF-8 byte order mark is skipped" "$D/gsm8k/test.jsonl" "$TMP/bom.out"
expect_err "tokenize reads JSONL after a byte order mark" 0 "records 1319" \
	sh -c "$T -e gpt2 --field question $TMP/bom.jsonl >/dev/null"

# JSON lines whose first line is not an object: an error, not text.
{ echo '# GSM8K, train split'; cat "$D/gsm8k/test.jsonl"; } >"$TMP/head.jsonl"
expect_err "a bad first line is an error naming it" 1 \
	"head.jsonl: line 1: not a JSON object, but line 2 is: JSON lines must be objects throughout" \
	sluice-cat "$TMP/head.jsonl"
expect_err "tokenize too" 1 "line 1: not a JSON object" $T -e gpt2 --field question "$TMP/head.jsonl"
expect "--input-format text reads it as text" 0 sluice-cat --input-format text "$TMP/head.jsonl"
[ "$(wc -l <"$TMP/out")" -eq 1320 ] && ok "as text: one record per line" || not_ok "as text: one record per line"
expect "text that is not JSON is still text" 0 sluice-cat "$D/tinyshakespeare.txt"

#!/bin/bash
# outputs.sh: what a tool leaves behind when it fails part way.  A record
# stream written to a pipe ends without its trailer, so every reader (and the
# next tool in the pipe) rejects it; a file named with -o is not replaced.
. "$(dirname "$0")/../lib.sh"
D=data
export OMP_NUM_THREADS=2

# 3000 good GSM8K records (more than one 1 MiB block), a line that is not
# JSON, then the rest.
head -3000 "$D/gsm8k/train.jsonl" >"$TMP/bad.jsonl"
echo '{"text": "cut' >>"$TMP/bad.jsonl"
tail -n +3001 "$D/gsm8k/train.jsonl" >>"$TMP/bad.jsonl"

# rejected NAME FILE: sluice-cat --check fails on FILE, naming the missing
# trailer or the empty input.
rejected() {
	expect_err "$1: --check rejects the partial output" 1 "without its trailer|empty input" sluice-cat --check "$2"
}

expect_err "cat fails on the bad line" 1 "line 3001" sh -c "sluice-cat -r $TMP/bad.jsonl >$TMP/cat.slc"
[ -s "$TMP/cat.slc" ] && ok "cat: the records before the bad line were written" || not_ok "cat: partial output"
rejected cat "$TMP/cat.slc"
expect_err "cat --index fails" 1 "line 3001" sh -c "sluice-cat -r --index -j 2 $TMP/bad.jsonl >$TMP/cati.slc"
rejected "cat --index -j 2" "$TMP/cati.slc"

expect_err "tokenize fails on the bad line" 1 "line 3001" \
	sh -c "sluice-tokenize -e gpt2 --field question $TMP/bad.jsonl >$TMP/tok.slc"
rejected tokenize "$TMP/tok.slc"
sluice-tokenize -e gpt2 --field question -j 2 "$TMP/bad.jsonl" 2>/dev/null | sluice-shard -T 256 -o "$TMP/sh" >/dev/null 2>"$TMP/err"
st=("${PIPESTATUS[@]}")
[ "${st[0]}" -eq 1 ] && [ "${st[1]}" -eq 1 ] && grep -Eq "without its trailer|empty input" "$TMP/err" &&
	ok "tokenize | shard: both fail" || not_ok "tokenize | shard: both fail" "exit ${st[*]}: $(head -c 300 "$TMP/err")"
[ ! -e "$TMP/sh/manifest.json" ] && ok "tokenize | shard: no manifest" || not_ok "tokenize | shard: no manifest"
sluice-cat -r "$TMP/bad.jsonl" 2>/dev/null | sluice-cat >/dev/null 2>&1
st=("${PIPESTATUS[@]}")
[ "${st[0]}" -eq 1 ] && [ "${st[1]}" -eq 1 ] && ok "cat -r | cat: both fail" || not_ok "cat -r | cat: both fail" "exit ${st[*]}"

expect_err "synth-filter fails on the bad line" 1 "line 3001" \
	sh -c "sluice-synth-filter -p gopher -r --rejects $TMP/sf-rej.slc $TMP/bad.jsonl >$TMP/sf.slc"
rejected synth-filter "$TMP/sf.slc"
[ ! -e "$TMP/sf-rej.slc" ] && ok "synth-filter: no rejects file" || not_ok "synth-filter: no rejects file"

expect_err "dedup fails on the bad line" 1 "line 3001" sh -c "sluice-dedup $TMP/bad.jsonl >$TMP/dd.slc"
rejected dedup "$TMP/dd.slc"

# -o FILE: the file is written in full or not at all.
echo old >"$TMP/keep.slc"
expect "cat -o fails" 1 sluice-cat -r -o "$TMP/keep.slc" "$TMP/bad.jsonl"
[ "$(cat "$TMP/keep.slc")" = old ] && ok "cat -o: the old file is left as it was" || not_ok "cat -o: old file kept"
expect "tokenize -o fails" 1 sluice-tokenize -e gpt2 -o "$TMP/new.slc" "$TMP/bad.jsonl"
[ ! -e "$TMP/new.slc" ] && ok "tokenize -o: no file" || not_ok "tokenize -o: no file"
expect "dedup -o fails" 1 sluice-dedup -J -o "$TMP/new.jsonl" "$TMP/bad.jsonl"
[ ! -e "$TMP/new.jsonl" ] && ok "dedup -o: no file, JSONL too" || not_ok "dedup -o: no file, JSONL too"
ls "$TMP" | grep -q '\.tmp\.' && not_ok "no temporary files left" "$(ls "$TMP")" || ok "no temporary files left"
expect "cat -o to a new file" 0 sluice-cat -r -o "$TMP/keep.slc" "$D/gsm8k/test.jsonl"
expect "cat -o: the new file replaces the old one" 0 sluice-cat --check "$TMP/keep.slc"
expect "-o /dev/null is written directly" 0 sluice-cat -r -o /dev/null "$D/gsm8k/test.jsonl"

# eval --score and sample on a tiny model, a prompt that fails after others.
head -20 "$D/gsm8k/test.jsonl" | sed 's/"question"/"text"/' >"$TMP/p.jsonl"
echo '{"text": "x", "tokens": [99999999]}' >>"$TMP/p.jsonl"
sluice-train-step -m "$TMP/m.st" --init custom -L 1 -C 16 -H 1 --ctx 256 --tokenizer gpt2 --n-vocab 50257 \
	--steps 0 --quiet </dev/null >/dev/null 2>&1
if [ -s "$TMP/m.st" ]; then
	expect_err "eval --score fails on the bad record" 1 "record 21" \
		sh -c "sluice-eval -m $TMP/m.st --score $TMP/p.jsonl >$TMP/score.slc"
	rejected "eval --score" "$TMP/score.slc"
	expect_err "sample fails on the bad record" 1 "record 21" \
		sh -c "sluice-sample -m $TMP/m.st -n 1 -N 2 $TMP/p.jsonl >$TMP/sample.slc"
	rejected sample "$TMP/sample.slc"
else
	not_ok "a tiny model for eval and sample" "train-step --steps 0 wrote nothing"
fi

# dedup.sh: sluice-dedup end to end on real data (GSM8K, tiny Shakespeare).
. "$(dirname "$0")/../lib.sh"
D=data

# --- options and conventions ---
expect "help exits 0" 0 sluice-dedup --help
grep -q '^Usage: sluice-dedup' "$TMP/out" && ok "help on stdout" || not_ok "help on stdout"
expect "version exits 0" 0 sluice-dedup --version
expect_err "help to a full disk fails" 1 "." sh -c 'sluice-dedup --help >/dev/full'
expect_err "unknown option" 2 "Try 'sluice-dedup --help'" sluice-dedup --bogus
expect_err "bad --threshold" 2 "--threshold" sluice-dedup --threshold 1.5
expect_err "bad --keep" 2 "--keep" sluice-dedup --keep middle
expect_err "bad --normalize" 2 "--normalize" sluice-dedup --normalize case,nope
expect_err "bands x rows too many" 2 "at most" sluice-dedup --bands 100 --rows 100
expect_err "modes exclude each other" 2 "exclude" sluice-dedup --merge --apply x
expect_err "missing file names it" 1 "^sluice-dedup: nosuch.jsonl: cannot open" sluice-dedup -J nosuch.jsonl
expect_err "write error is reported" 1 "write error" sh -c "sluice-dedup -J $D/gsm8k/test.jsonl >/dev/full"
printf '{"text": "a"}\n{"text": "b",}\n' >"$TMP/bad.jsonl"
expect_err "bad JSON names the line" 1 "bad.jsonl: line 2, column" sluice-dedup -J "$TMP/bad.jsonl"

# --- exact duplicates: GSM8K test twice, through a pipe ---
cat "$D/gsm8k/test.jsonl" "$D/gsm8k/test.jsonl" >"$TMP/twice.jsonl"
sluice-dedup -J --field question --rejects "$TMP/rej.jsonl" --stats "$TMP/st.json" <"$TMP/twice.jsonl" >"$TMP/once.jsonl" 2>"$TMP/err"
same "a file twice: the first copy is kept, in order" "$D/gsm8k/test.jsonl" "$TMP/once.jsonl"
[ "$(wc -l <"$TMP/rej.jsonl")" -eq 1319 ] && ok "every second copy rejected" || not_ok "every second copy rejected"
grep -q '"reason": "exact_duplicate", "dup_of": "(stdin):1", "similarity": 1.0}' "$TMP/rej.jsonl" &&
	ok "reject names the kept document" || not_ok "reject names the kept document" "$(head -c 300 "$TMP/rej.jsonl")"
grep -q '"dropped_exact": 1319' "$TMP/st.json" && grep -q '"clusters": 1319' "$TMP/st.json" &&
	ok "--stats counts drops and clusters" || not_ok "--stats" "$(cat "$TMP/st.json")"
grep -q "dropped_exact 1319" "$TMP/err" && ok "summary on stderr" || not_ok "summary on stderr"
sed 's/"id"/"x"/' "$D/gsm8k/test.jsonl" | head -3 | sed 's/^{/{"id": "doc-A", /' >"$TMP/ids.jsonl"
cat "$TMP/ids.jsonl" "$TMP/ids.jsonl" | sed '4,6s/doc-A/doc-B/' >"$TMP/ids2.jsonl"
sluice-dedup -J --field question --rejects "$TMP/rej.jsonl" "$TMP/ids2.jsonl" >/dev/null 2>&1
grep -q '"dup_of": "doc-A"' "$TMP/rej.jsonl" && ok "an id field names documents" || not_ok "an id field names documents"
printf '{"text": "Hello, World!"}\n{"text": "hello, world!"}\n{"text": "HELLO,   world! "}\n' >"$TMP/norm.jsonl"
[ "$(sluice-dedup -J "$TMP/norm.jsonl" 2>/dev/null | wc -l)" -eq 1 ] && ok "exact up to case and white space" ||
	not_ok "exact up to case and white space"
[ "$(sluice-dedup -J --normalize none "$TMP/norm.jsonl" 2>/dev/null | wc -l)" -eq 3 ] &&
	ok "--normalize none compares bytes" || not_ok "--normalize none compares bytes"
# Numbers and punctuation are content: never an exact duplicate, and texts
# this short are not near-duplicate candidates unless asked.
printf '%s\n' '{"text": "Apple TV (5th generation)"}' '{"text": "Apple TV (4th generation)"}' \
	'{"text": "3F00FF"}' '{"text": "7F00FF"}' '{"text": "Hello World"}' '{"text": "Hello, World!"}' \
	'{"text": "Licence: GPL-2+ of the Free Software Foundation, see the file COPYING"}' \
	'{"text": "Licence: GPL-3+ of the Free Software Foundation, see the file COPYING"}' >"$TMP/short.jsonl"
sluice-dedup -J --stats "$TMP/sst.json" "$TMP/short.jsonl" >"$TMP/sout.jsonl" 2>/dev/null
same "numbers and punctuation tell texts apart" "$TMP/short.jsonl" "$TMP/sout.jsonl"
grep -q '"short": 6' "$TMP/sst.json" && ok "short texts counted" || not_ok "short texts counted" "$(cat "$TMP/sst.json")"
[ "$(sluice-dedup -J --min-words 1 --normalize datatrove "$TMP/short.jsonl" 2>/dev/null | wc -l)" -eq 4 ] &&
	ok "--min-words 1 --normalize datatrove folds them" || not_ok "--min-words 1 --normalize datatrove folds them"
expect_err "bad --min-words" 2 "--min-words" sluice-dedup --min-words x
printf '{"tokens": [1, 2]}\n{"tokens": [1, 2]}\n' >"$TMP/notext.jsonl"
[ "$(sluice-dedup -J "$TMP/notext.jsonl" 2>"$TMP/err" | wc -l)" -eq 2 ] && grep -q "no_text 2" "$TMP/err" &&
	ok "records without text pass, counted" || not_ok "records without text pass, counted"

# --- near duplicates: Shakespeare passages with planted edits ---
# Passages of 30 lines (100 words or more, so that one changed word leaves a
# Jaccard similarity of 0.9 or more); every 5th appears again later with one
# word changed.
awk 'NR <= 9000 { p = p $0 " "; if (NR % 30 == 0) { print p; p = "" } }' "$D/tinyshakespeare.txt" >"$TMP/pass.txt"
awk '{ print } NR % 5 == 0 { n = split($0, w, " "); w[int(n / 2)] = "zounds"; s = w[1];
	for (i = 2; i <= n; i++) s = s " " w[i]; later[++k] = s }
	END { for (i = 1; i <= k; i++) print later[i] }' "$TMP/pass.txt" >"$TMP/near.txt"
sluice-cat -r "$TMP/near.txt" >"$TMP/near.slc"
sluice-dedup --threshold 0.8 --rejects "$TMP/nrej.slc" -o "$TMP/nkept.slc" "$TMP/near.slc" 2>"$TMP/err"
nrej=$(sluice-cat "$TMP/nrej.slc" | grep -c near_duplicate)
[ "$nrej" -ge 58 ] && ok "planted near-duplicates found ($nrej of 60)" || not_ok "planted near-duplicates" "$nrej of 60"
sluice-cat -t "$TMP/nkept.slc" | head -n 300 | sed 's/ *$//' >"$TMP/kept300"
sed 's/ *$//' "$TMP/pass.txt" >"$TMP/pass300"
same "the originals are kept, in order" "$TMP/pass300" "$TMP/kept300"
sluice-dedup -j 2 --threshold 0.8 --rejects "$TMP/nrej2.slc" -o "$TMP/nkept2.slc" "$TMP/near.slc" 2>/dev/null
same "-j 2 gives the same output" "$TMP/nkept.slc" "$TMP/nkept2.slc"
same "-j 2 gives the same rejects" "$TMP/nrej.slc" "$TMP/nrej2.slc"
# On the Wikipedia articles (planted near duplicates among them), two
# inputs, several batches each: the same bytes at -j 1, 2 and 4, and the
# same signature files.
W="tests/data/enwiki/shards.jsonl.zst tests/data/enwiki/sample.jsonl.zst"
for j in 1 2 4; do
	sluice-dedup --verify -j $j --rejects "$TMP/wrej$j" -o "$TMP/wkept$j" $W 2>/dev/null
	sluice-dedup --verify -j $j --signatures "$TMP/wsig$j" $W 2>/dev/null
done
[ "$(sluice-cat "$TMP/wrej1" | grep -c near_duplicate)" -ge 6 ] && ok "wikipedia: planted near duplicates dropped" ||
	not_ok "wikipedia: planted near duplicates dropped" "$(sluice-cat "$TMP/wrej1" | grep -c near_duplicate)"
for j in 2 4; do
	same "wikipedia: -j $j output identical to -j 1" "$TMP/wkept1" "$TMP/wkept$j"
	same "wikipedia: -j $j rejects identical to -j 1" "$TMP/wrej1" "$TMP/wrej$j"
	same "wikipedia: -j $j signatures identical to -j 1" "$TMP/wsig1" "$TMP/wsig$j"
done
sluice-dedup --exact-only -o "$TMP/ex.slc" "$TMP/near.slc" 2>/dev/null
[ "$(sluice-cat -t "$TMP/ex.slc" | wc -l)" -eq "$(wc -l <"$TMP/near.txt")" ] && ok "--exact-only keeps near-duplicates" ||
	not_ok "--exact-only keeps near-duplicates"
sluice-dedup --keep longest -J --rejects "$TMP/lrej.jsonl" "$TMP/norm.jsonl" >"$TMP/long.jsonl" 2>/dev/null
grep -q 'HELLO' "$TMP/long.jsonl" && ok "--keep longest" || not_ok "--keep longest" "$(cat "$TMP/long.jsonl")"
# The exact count is the same whatever the near-duplicate settings.
cat "$TMP/near.txt" "$TMP/near.txt" >"$TMP/near2.txt"
for opts in --exact-only --no-verify "--threshold 0.5" "--keep longest" ""; do
	# shellcheck disable=SC2086
	sluice-dedup $opts --stats "$TMP/m.json" -o /dev/null "$TMP/near2.txt" 2>/dev/null
	grep -o '"dropped_exact": [0-9]*' "$TMP/m.json"
done | sort | uniq -c >"$TMP/modes"
[ "$(wc -l <"$TMP/modes")" -eq 1 ] && grep -q "5 \"dropped_exact\": $(wc -l <"$TMP/near.txt")" "$TMP/modes" &&
	ok "dropped_exact does not depend on the mode" || not_ok "dropped_exact does not depend on the mode" "$(cat "$TMP/modes")"

# --- two passes over shards give the drops of one pass ---
split -n l/3 -d "$TMP/near.txt" "$TMP/shard."
for s in 0 1 2; do sluice-cat -r "$TMP/shard.0$s" >"$TMP/s$s.slc"; done
sluice-dedup --verify -o "$TMP/one.slc" --rejects "$TMP/one.rej" "$TMP/s0.slc" "$TMP/s1.slc" "$TMP/s2.slc" 2>/dev/null
for s in 0 1 2; do
	sluice-dedup --verify --signatures "$TMP/s$s.sig" "$TMP/s$s.slc" 2>/dev/null || not_ok "signature pass $s"
done
expect "merge pass" 0 sluice-dedup --verify --merge -o "$TMP/drops" "$TMP/s0.sig" "$TMP/s1.sig" "$TMP/s2.sig"
for s in 0 1 2; do
	sluice-dedup --apply "$TMP/drops" -o "$TMP/k$s.slc" --rejects "$TMP/r$s.slc" "$TMP/s$s.slc" 2>/dev/null ||
		not_ok "apply pass $s"
done
sluice-cat "$TMP/one.slc" >"$TMP/one.jsonl"
sluice-cat "$TMP/k0.slc" "$TMP/k1.slc" "$TMP/k2.slc" >"$TMP/two.jsonl"
same "two-pass kept == one-pass kept" "$TMP/one.jsonl" "$TMP/two.jsonl"
sluice-cat "$TMP/one.rej" >"$TMP/one.rej.jsonl"
sluice-cat "$TMP/r0.slc" "$TMP/r1.slc" "$TMP/r2.slc" >"$TMP/two.rej.jsonl"
same "two-pass rejects == one-pass rejects" "$TMP/one.rej.jsonl" "$TMP/two.rej.jsonl"
[ -s "$TMP/two.rej.jsonl" ] && ok "cross-shard drops happened" || not_ok "cross-shard drops happened"
expect_err "apply to the wrong shard" 1 "not in the drop list" sluice-dedup --apply "$TMP/drops" -o /dev/null "$TMP/near.slc"
expect_err "apply to a changed shard" 1 "has [0-9]+ records, but the drop list" \
	sluice-dedup --apply "$TMP/drops" --shard "$TMP/s0.slc" -o /dev/null "$TMP/s1.slc"
expect_err "merge refuses other parameters" 1 "other parameters" sluice-dedup --merge --rows 4 -o /dev/null "$TMP/s0.sig"
expect_err "merge refuses a drop list" 1 "not a sluice-dedup-signatures" sluice-dedup --merge -o /dev/null "$TMP/drops"
head -c 2000 "$TMP/s1.sig" >"$TMP/cut.sig"
expect_err "truncated signature file" 1 "cut.sig: " sluice-dedup --merge -o /dev/null "$TMP/cut.sig"

# --- an index carries over between batches ---
rm -f "$TMP/idx"
sluice-dedup --verify --index "$TMP/idx" -o /dev/null "$TMP/s0.slc" 2>/dev/null
sluice-dedup --verify --index "$TMP/idx" -o "$TMP/b1.slc" "$TMP/s1.slc" 2>/dev/null
sluice-dedup --verify --index "$TMP/idx" -o "$TMP/b2.slc" --stats "$TMP/ist.json" "$TMP/s2.slc" 2>/dev/null
sluice-cat "$TMP/k1.slc" "$TMP/k2.slc" >"$TMP/k12.jsonl"
sluice-cat "$TMP/b1.slc" "$TMP/b2.slc" >"$TMP/b12.jsonl"
same "batches against an index drop what one run drops" "$TMP/k12.jsonl" "$TMP/b12.jsonl"
grep -q '"indexed": [1-9]' "$TMP/ist.json" && ok "index documents counted" || not_ok "index documents counted"
sluice-dedup --index "$TMP/idx" -o "$TMP/again.slc" "$TMP/s1.slc" 2>/dev/null
[ "$(sluice-cat "$TMP/again.slc" | wc -l)" -eq 0 ] && ok "a batch seen before is all dropped" ||
	not_ok "a batch seen before is all dropped"
# An output that fails leaves the index as it was: the rerun loses nothing.
rm -f "$TMP/fidx"
expect_err "--index with a full output fails" 1 "write error" sluice-dedup --index "$TMP/fidx" -o /dev/full "$TMP/s0.slc"
[ ! -e "$TMP/fidx" ] && ok "no index after a failed output" || not_ok "no index after a failed output"
sluice-dedup --index "$TMP/idx" -o "$TMP/idx.before" "$TMP/s0.slc" 2>/dev/null # a batch it has seen: all go
cp "$TMP/idx" "$TMP/idx.copy"
expect "a batch fails against an index" 1 sluice-dedup --index "$TMP/idx" -o /dev/full "$TMP/s0.slc"
same "the index is unchanged by the failed run" "$TMP/idx.copy" "$TMP/idx"
sluice-dedup -o "$TMP/f1.slc" "$TMP/s0.slc" 2>/dev/null
sluice-dedup --index "$TMP/fidx" -o "$TMP/f2.slc" "$TMP/s0.slc" 2>/dev/null
same "after a failed run the rerun keeps every document" "$TMP/f1.slc" "$TMP/f2.slc"
expect "a failed rejects output keeps the index too" 1 sluice-dedup --index "$TMP/fidx" -o "$TMP/f3.slc" \
	--rejects /dev/full "$TMP/s1.slc"
sluice-cat --check "$TMP/fidx" >/dev/null 2>&1 && [ "$(sluice-cat "$TMP/fidx" | wc -l)" -eq "$(sluice-cat "$TMP/f2.slc" | wc -l)" ] &&
	ok "the index lists only the completed run" || not_ok "the index lists only the completed run"
# The run an index records last, run again (killed after the index was
# written, or repeated), gives the same output, not an empty one.
sluice-dedup --index "$TMP/fidx" -o "$TMP/r1.slc" "$TMP/s1.slc" 2>/dev/null
cp "$TMP/fidx" "$TMP/fidx.1"
sluice-dedup --index "$TMP/fidx" -o "$TMP/r2.slc" --stats "$TMP/rst.json" "$TMP/s1.slc" 2>/dev/null
same "the last run again gives the same output" "$TMP/r1.slc" "$TMP/r2.slc"
same "and the same index" "$TMP/fidx.1" "$TMP/fidx"
grep -q '"rerun": 1' "$TMP/rst.json" && ok "a rerun is counted" || not_ok "a rerun is counted" "$(cat "$TMP/rst.json")"
sluice-dedup --index "$TMP/fidx" -o "$TMP/r3.slc" "$TMP/s0.slc" 2>/dev/null
[ "$(sluice-cat "$TMP/r3.slc" | wc -l)" -eq 0 ] && ok "an earlier batch again is all dropped" ||
	not_ok "an earlier batch again is all dropped"
# Temporary files a killed run left beside the index go at the next run.
: >"$TMP/fidx.tmp.AbC123"
: >"$TMP/fidx.tmp.keep"
sluice-dedup --index "$TMP/fidx" -o /dev/null "$TMP/s2.slc" 2>/dev/null
[ ! -e "$TMP/fidx.tmp.AbC123" ] && [ -e "$TMP/fidx.tmp.keep" ] && ok "stale index temporaries removed" ||
	not_ok "stale index temporaries removed"
printf 'garbage' >"$TMP/badidx"
expect_err "a bad index is an error, not a fresh start" 1 "badidx: " sluice-dedup --index "$TMP/badidx" -o /dev/null "$TMP/s0.slc"
expect_err "index with other parameters" 1 "other parameters" sluice-dedup --ngram 3 --index "$TMP/idx" -o /dev/null "$TMP/s0.slc"

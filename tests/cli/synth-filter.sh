# synth-filter.sh: sluice-synth-filter end to end.
. "$(dirname "$0")/../lib.sh"
D=data
F=sluice-synth-filter

# --- options and conventions ---
expect "help exits 0" 0 $F --help
grep -q '^Usage: sluice-synth-filter' "$TMP/out" && ok "help on stdout" || not_ok "help on stdout"
expect "version exits 0" 0 $F --version
expect_err "help to a full disk fails" 1 "." sh -c "$F --help >/dev/full"
expect_err "no rules is a usage error" 2 "no rules" $F "$D/gsm8k/test.jsonl"
expect_err "unknown preset" 2 "unknown preset 'nope'" $F -p nope "$D/gsm8k/test.jsonl"
expect_err "unknown option" 2 "Try 'sluice-synth-filter --help'" $F --bogus
expect_err "bad --set" 2 "no rule named 'nosuch'" $F -p gopher -s nosuch=3 "$D/gsm8k/test.jsonl"
expect_err "bad -j" 2 "--threads" $F -p gopher -j 0 "$D/gsm8k/test.jsonl"
expect_err "missing input names the file" 1 "^sluice-synth-filter: nosuch.jsonl: cannot open" $F -p gopher nosuch.jsonl
expect_err "write error is reported" 1 "write error" sh -c "$F -p gopher $D/gsm8k/test.jsonl >/dev/full"
printf '{"text": "a"}\n{"text": ' >"$TMP/bad.jsonl"
expect_err "malformed JSONL names file and line" 1 "bad.jsonl: line 2" $F -p gopher "$TMP/bad.jsonl"

# --- rules files: errors name the line; pattern errors the pattern and offset ---
printf '# ok\nr1 drop text match /a/\nr2 frobnicate text match /b/\n' >"$TMP/r.rules"
expect_err "bad action names the line" 2 "r.rules: line 3: unknown action 'frobnicate'" $F -R "$TMP/r.rules" "$D/gsm8k/test.jsonl"
printf 'r1 drop question match /(ab/\n' >"$TMP/r.rules"
expect_err "pattern error shows pattern and offset" 2 "line 1: pattern /\(ab/: at offset 3: " $F -R "$TMP/r.rules" "$D/gsm8k/test.jsonl"
printf 'r1 drop question words >\n' >"$TMP/r.rules"
expect_err "missing number" 2 "line 1: expected a number" $F -R "$TMP/r.rules" "$D/gsm8k/test.jsonl"
printf 'r1 drop q match /a/\nr1 drop q match /b/\n' >"$TMP/r.rules"
expect_err "duplicate rule name" 2 "line 2: rule 'r1' defined twice" $F -R "$TMP/r.rules" "$D/gsm8k/test.jsonl"

# --- a rules file over GSM8K: drop, keep, flag, rejects, summary, stats ---
cat >"$TMP/g.rules" <<'R'
# questions mentioning apples are dropped, unless they also mention pies
pies      keep  question match /\bpies?\b/i
apples    drop  question match /\bapples?\b/i
long      flag  question chars > 300
R
$F -R "$TMP/g.rules" --rejects "$TMP/rej.jsonl" --stats "$TMP/stats.json" "$D/gsm8k/test.jsonl" >"$TMP/kept.jsonl" 2>"$TMP/err"
want_drop=$(grep -i -E '"question": "[^"]*\bapples?\b' "$D/gsm8k/test.jsonl" | grep -v -i -E '"question": "[^"]*\bpies?\b' | wc -l)
got_drop=$(wc -l <"$TMP/rej.jsonl")
[ "$want_drop" -gt 0 ] && [ "$got_drop" -eq "$want_drop" ] && ok "drop rule drops exactly the matching records ($got_drop)" ||
	not_ok "drop rule" "want $want_drop got $got_drop"
[ $(( $(wc -l <"$TMP/kept.jsonl") + got_drop )) -eq 1319 ] && ok "every record kept or rejected" || not_ok "every record kept or rejected"
grep -q '"reject_rule": "apples", "reject_value": 1.0' "$TMP/rej.jsonl" && ok "rejects carry rule and value" || not_ok "rejects carry rule and value"
grep -q "drop:apples $got_drop" "$TMP/err" && ok "summary counts drops per rule" || not_ok "summary counts drops per rule" "$(cat "$TMP/err")"
grep -q "\"drop:apples\": $got_drop" "$TMP/stats.json" && ok "--stats JSON" || not_ok "--stats JSON" "$(cat "$TMP/stats.json")"
want_long=$(awk -F'"question": "' '{ split($2, a, "\", \"answer\""); if (length(a[1]) > 300) n++ } END { print n + 0 }' "$D/gsm8k/test.jsonl")
got_long=$(grep -c '"flags": "long"' "$TMP/kept.jsonl")
[ "$got_long" -gt 0 ] && [ "$got_long" -le "$want_long" ] && ok "flag rule marks long questions ($got_long)" || not_ok "flag rule" "$got_long vs $want_long"
grep -i '"question": "[^"]*\bpies\?\b' "$TMP/kept.jsonl" | grep -qi 'apple' && ok "keep rule overrides drop" || not_ok "keep rule overrides drop"

# --- -j 2 gives the same bytes, in order ---
$F -p gopher -p c4 -j 1 "$D/tinyshakespeare.txt" >"$TMP/j1" 2>/dev/null
$F -p gopher -p c4 -j 2 "$D/tinyshakespeare.txt" >"$TMP/j2" 2>/dev/null
same "-j 2 output identical to -j 1" "$TMP/j1" "$TMP/j2"
sluice-cat -r "$D/gsm8k/train.jsonl" | $F -R "$TMP/g.rules" -j 2 >"$TMP/out.slc" 2>/dev/null
sluice-cat --check "$TMP/out.slc" >/dev/null 2>&1 && ok "records in, records out" || not_ok "records in, records out"
# On the Wikipedia articles, two inputs, several batches each: the kept
# records, the rejects and the --explain lines are the same bytes at -j 1, 2, 4.
W="tests/data/enwiki/shards.jsonl.zst tests/data/enwiki/sample.jsonl.zst"
for j in 1 2 4; do
	$F -p fineweb --explain --rejects "$TMP/wrej$j" -j $j $W >"$TMP/wkept$j" 2>"$TMP/wexplain$j" ||
		not_ok "wikipedia: -j $j runs" "$(tail -1 "$TMP/wexplain$j")"
done
[ "$(grep -c '^record 1691: ' "$TMP/wexplain1")" = 1 ] && [ -s "$TMP/wrej1" ] && [ -s "$TMP/wkept1" ] &&
	ok "wikipedia: every record explained, some kept, some dropped" ||
	not_ok "wikipedia: every record explained, some kept, some dropped"
for j in 2 4; do
	same "wikipedia: -j $j kept records identical to -j 1" "$TMP/wkept1" "$TMP/wkept$j"
	same "wikipedia: -j $j rejects identical to -j 1" "$TMP/wrej1" "$TMP/wrej$j"
	same "wikipedia: -j $j --explain identical to -j 1" "$TMP/wexplain1" "$TMP/wexplain$j"
done

# --- datatrove agreement on the bundled Wikipedia sample ---
for p in gopher c4; do
	$F --quiet -p $p --reward -J tests/data/enwiki/sample.jsonl.zst |
		awk '{ if (match($0, /"flags": "[^",]*/)) print substr($0, RSTART + 10, RLENGTH - 10); else print "" }' >"$TMP/ours.$p"
	n=$(paste -d'|' tests/data/enwiki/sample.$p "$TMP/ours.$p" | awk -F'|' '($1 == "") != ($2 == "") { n++ } END { print n + 0 }')
	total=$(wc -l <tests/data/enwiki/sample.$p)
	[ "$n" -eq 0 ] && [ "$(wc -l <"$TMP/ours.$p")" -eq "$total" ] && ok "$p: same decisions as datatrove on $total articles" ||
		not_ok "$p: datatrove agreement" "$n of $total differ"
done

# --- GSM8K verifier: reward 1 for every reference answer, 0 with the number changed ---
printf 'correct score=1 completion answer ref\n' >"$TMP/v.rules"
sed 's/"answer": "\(.*\)#### \([^"]*\)"}$/"completion": "\1#### \2", "ref": "#### \2"}/' "$D/gsm8k/train.jsonl" >"$TMP/good.jsonl"
sed 's/"answer": "\(.*\)#### \([^"]*\)"}$/"completion": "\1#### 9\2", "ref": "#### \2"}/' "$D/gsm8k/train.jsonl" >"$TMP/bad.jsonl"
$F -R "$TMP/v.rules" --reward "$TMP/good.jsonl" 2>/dev/null | grep -c '"reward": 1.0}' >"$TMP/n1"
$F -R "$TMP/v.rules" --reward "$TMP/bad.jsonl" 2>/dev/null | grep -c '"reward": 0.0}' >"$TMP/n0"
[ "$(cat "$TMP/n1")" -eq 7473 ] && ok "reward 1 for all 7473 GSM8K train answers" || not_ok "GSM8K reward 1" "$(cat "$TMP/n1")"
[ "$(cat "$TMP/n0")" -eq 7473 ] && ok "reward 0 for all 7473 with the final number changed" || not_ok "GSM8K reward 0" "$(cat "$TMP/n0")"
# the last digit of each GSM8K test answer changed (9 -> 0, else +1): reward 0 at any size (1,450,001 is not 1,450,000)
awk '{
	if (!match($0, /"answer": ".*#### [^"]*"}$/)) next
	i = index($0, "####"); tail = substr($0, i + 5); tail = substr(tail, 1, length(tail) - 2)
	d = substr(tail, length(tail), 1); nd = d == "9" ? "0" : d + 1
	ch = substr(tail, 1, length(tail) - 1) nd
	printf "{\"completion\": \"#### %s\", \"ref\": \"#### %s\"}\n", tail, tail
	printf "{\"completion\": \"#### %s\", \"ref\": \"#### %s\"}\n", ch, tail
}' "$D/gsm8k/test.jsonl" >"$TMP/last.jsonl"
$F -R "$TMP/v.rules" --reward "$TMP/last.jsonl" 2>/dev/null | grep -o '"reward": [0-9.]*' | paste -d' ' - - | sort | uniq -c |
	awk '{ printf "%s %s %s %s %s;", $1, $2, $3, $4, $5 }' >"$TMP/last.out"
[ "$(cat "$TMP/last.out")" = '1319 "reward": 1.0 "reward": 0.0;' ] &&
	ok "reward 1 for all 1319 GSM8K test answers, 0 for each with its last digit changed" ||
	not_ok "GSM8K test last digit changed" "$(cat "$TMP/last.out")"
printf '{"completion": "So she pays $1,250.00 in total. The answer is \\\\boxed{1250}.", "ref": "#### 1,250"}\n{"completion": "It costs 18 dollars.", "ref": "18"}\n{"completion": "Half: 1/2", "ref": "#### 0.5"}\n{"completion": "The answer is 19 apples.", "ref": "#### 18"}\n' >"$TMP/v.jsonl"
$F -R "$TMP/v.rules" --reward "$TMP/v.jsonl" 2>/dev/null | grep -o '"reward": [0-9.]*' | tr '\n' ' ' >"$TMP/rw"
[ "$(cat "$TMP/rw")" = '"reward": 1.0 "reward": 1.0 "reward": 1.0 "reward": 0.0 ' ] && ok "boxed, commas, units, fractions" ||
	not_ok "answer variants" "$(cat "$TMP/rw")"

# --- decontamination: planted GSM8K test questions found, clean text untouched ---
head -n 400 "$D/tinyshakespeare.txt" | sed 's/["\\]//g; s/.*/{"text": "&"}/' >"$TMP/corpus.jsonl"
sed -n 's/^{"question": "\(.*\)", "answer": .*/{"text": "Some preamble here. \1 And more text after."}/p' "$D/gsm8k/test.jsonl" >"$TMP/planted.jsonl"
cat "$TMP/corpus.jsonl" "$TMP/planted.jsonl" >"$TMP/mixed.jsonl"
$F --decon "$D/gsm8k/test.jsonl" --rejects "$TMP/dec.jsonl" "$TMP/mixed.jsonl" >"$TMP/clean.jsonl" 2>/dev/null
[ "$(wc -l <"$TMP/dec.jsonl")" -eq 1319 ] && ok "every planted GSM8K test question is caught" || not_ok "planted questions" "$(wc -l <"$TMP/dec.jsonl")"
same "nothing else is touched" "$TMP/corpus.jsonl" "$TMP/clean.jsonl"
$F --decon "$D/gsm8k/test.jsonl" --decon-action flag "$TMP/mixed.jsonl" 2>/dev/null | grep -c '"flags": "decontam"' >"$TMP/nf"
[ "$(cat "$TMP/nf")" -eq 1319 ] && ok "--decon-action flag" || not_ok "--decon-action flag" "$(cat "$TMP/nf")"

# --- crafted documents on both sides of thresholds ---
words() { # words N: N distinct words of 5 letters, with stop words
	awk -v n="$1" 'BEGIN { s = "the and"; for (i = 2; i < n; i++) s = s sprintf(" w%04d", i); print s }'
}
doc() { printf '{"text": "%s"}\n' "$1"; }
verdict() { # verdict PRESET TEXT [ARGS]: the rule that drops TEXT, or "kept"
	local p=$1 t=$2
	shift 2
	doc "$t" | $F --quiet -p "$p" --rejects "$TMP/v.rej" "$@" >/dev/null 2>&1
	sed -n 's/.*"reject_rule": "\([^"]*\)".*/\1/p' "$TMP/v.rej" | grep . || echo kept
}
check() { # check NAME WANT GOT
	[ "$2" = "$3" ] && ok "$1" || not_ok "$1" "want $2, got $3"
}
check "gopher_short_doc: 49 words dropped" gopher_short_doc "$(verdict gopher-quality "$(words 49)")"
check "gopher_short_doc: 50 words kept" kept "$(verdict gopher-quality "$(words 50)")"
check "gopher_long_doc over a lowered threshold" gopher_long_doc "$(verdict gopher-quality "$(words 61)" -s gopher_long_doc=60)"
check "gopher_long_doc at the threshold" kept "$(verdict gopher-quality "$(words 60)" -s gopher_long_doc=60)"
check "gopher_below_avg_threshold" gopher_below_avg_threshold "$(verdict gopher-quality "the and $(printf 'ab %.0s' $(seq 60))")"
check "gopher_above_avg_threshold" gopher_above_avg_threshold "$(verdict gopher-quality "the and $(printf 'abcdefghijkl%.0s ' $(seq 60))")"
check "gopher_too_many_hashes" gopher_too_many_hashes "$(verdict gopher-quality "$(words 60) $(printf '#%.0s' $(seq 8))")"
check "gopher hashes below the ratio" kept "$(verdict gopher-quality "$(words 60) $(printf '#%.0s' $(seq 6))")"
check "gopher_too_many_ellipsis" gopher_too_many_ellipsis "$(verdict gopher-quality "$(words 60) $(printf '... %.0s' $(seq 8))")"
check "gopher_too_many_bullets" gopher_too_many_bullets "$(verdict gopher-quality "$(words 60 | sed 's/ /\\n- /g')")"
check "gopher_too_many_end_ellipsis" gopher_too_many_end_ellipsis "$(verdict gopher-quality "$(words 60 | sed 's/ /...\\n/g')" -s gopher_too_many_ellipsis=off)"
check "gopher_below_alpha_threshold" gopher_below_alpha_threshold "$(verdict gopher-quality "$(words 60) $(seq 100 120 | tr '\n' ' ')")"
check "gopher_enough_stop_words: one" gopher_enough_stop_words "$(verdict gopher-quality "$(words 60 | sed 's/^the //')")"
check "gopher_dup_para_frac" gopher_dup_para_frac "$(verdict gopher-repetition "$(words 60)\\n\\nx\\n\\nx\\n\\nx")"
check "gopher_dup_line_char_frac" gopher_dup_line_char_frac "$(verdict gopher-repetition "$(words 60)\\n$(words 60)\\nx\\ny")"
check "gopher_top_2_gram" gopher_top_2_gram "$(verdict gopher-repetition "$(words 30) $(printf 'red fox %.0s' $(seq 12))")"
check "gopher_duplicated_5_n_grams" gopher_duplicated_5_n_grams "$(verdict gopher-repetition "$(words 60) $(words 20)")"
check "gopher repetition: distinct words kept" kept "$(verdict gopher-repetition "$(words 200)")"

# both RULE PRESET TEXT VALUE: --explain measures VALUE for RULE on TEXT (the
# value worked out by hand from the published definition), and with the
# preset's other rules off RULE drops TEXT at a threshold just below VALUE
# and keeps it at one just above (the other way round for a rule that drops
# values below its threshold: OP lt).
both() {
	local r=$1 p=$2 t=$3 v=$4 op=${5:-gt} others lo hi
	doc "$t" | $F --quiet -p "$p" --explain >/dev/null 2>"$TMP/x"
	if grep -Eq "(^|[ ;,])$r=$v( |,|$)" "$TMP/x"; then ok "$r measures $v"; else not_ok "$r measures $v" "$(cat "$TMP/x")"; fi
	others=$(grep -o '[a-z0-9_]*=' "$TMP/x" | tr -d = | grep -vx "$r" | sed 's/.*/-s &=off/')
	lo=$(awk -v v="$v" 'BEGIN { print v - 0.001 }')
	hi=$(awk -v v="$v" 'BEGIN { print v + 0.001 }')
	if [ "$op" = lt ]; then # a rule that drops values below its threshold
		local tmp=$lo; lo=$hi; hi=$tmp
	fi
	# shellcheck disable=SC2086
	check "$r: dropped with the threshold just below ($lo)" "$r" "$(verdict "$p" "$t" $others -s "$r=$lo")"
	# shellcheck disable=SC2086
	check "$r: kept with the threshold just above ($hi)" kept "$(verdict "$p" "$t" $others -s "$r=$hi")"
}
# Gopher quality: 19 words as NLTK splits them ("##" is two), 13 of them
# with a letter (average length 25/13); 2 hashes and 2 ellipses per 19
# words; of 3 lines, one a bullet and one ending in an ellipsis; 3 stop words.
Q='the and of ab ab ab ab ab ab ab... ## - x\n- y\nz...'
both gopher_short_doc gopher-quality "$Q" 13 lt
both gopher_long_doc gopher-quality "$Q" 13
both gopher_below_avg_threshold gopher-quality "$Q" 1.92308 lt
both gopher_above_avg_threshold gopher-quality "$Q" 1.92308
both gopher_too_many_hashes gopher-quality "$Q" 0.105263
both gopher_too_many_ellipsis gopher-quality "$Q" 0.105263
both gopher_too_many_bullets gopher-quality "$Q" 0.333333
both gopher_too_many_end_ellipsis gopher-quality "$Q" 0.333333
both gopher_below_alpha_threshold gopher-quality "$Q" 0.684211 lt
both gopher_enough_stop_words gopher-quality "$Q" 3 lt
# 29 characters; paragraphs "a b c d e f g h i j", "x y", "x y": one of
# three duplicated (3 of 29 characters); the same for lines; the top 2-gram
# "x y" twice (6/29); 3- and 4-grams all once, the first kept (5/29, 7/29).
P='a b c d e f g h i j\n\nx y\n\nx y'
both gopher_dup_para_frac gopher-repetition "$P" 0.333333
both gopher_dup_para_char_frac gopher-repetition "$P" 0.103448
both gopher_dup_line_frac gopher-repetition "$P" 0.333333
both gopher_dup_line_char_frac gopher-repetition "$P" 0.103448
both gopher_top_2_gram gopher-repetition "$P" 0.206897
both gopher_top_3_gram gopher-repetition "$P" 0.172414
both gopher_top_4_gram gopher-repetition "$P" 0.241379
# Twelve letters twice, 47 characters: the duplicated n-grams, scanned as
# datatrove does (a repeat skips n words), cover 10, 12, 7, 8, 9 and 10
# letters for n = 5..10; the top 3- and 4-grams are "a b c" and "a b c d",
# twice each.
R='a b c d e f g h i j k l a b c d e f g h i j k l'
both gopher_top_3_gram gopher-repetition "$R" 0.212766
both gopher_top_4_gram gopher-repetition "$R" 0.297872
both gopher_duplicated_5_n_grams gopher-repetition "$R" 0.212766
both gopher_duplicated_6_n_grams gopher-repetition "$R" 0.255319
both gopher_duplicated_7_n_grams gopher-repetition "$R" 0.148936
both gopher_duplicated_8_n_grams gopher-repetition "$R" 0.170213
both gopher_duplicated_9_n_grams gopher-repetition "$R" 0.191489
both gopher_duplicated_10_n_grams gopher-repetition "$R" 0.212766
# Word 4-grams "a b c d" repeated twice after the first: 8 of 25 characters.
both synth_repeated_ngrams synth 'a b c d a b c d a b c d x' 0.32
# The published thresholds themselves, on both sides.
OFFREP=$(for r in dup_para_frac dup_para_char_frac dup_line_frac dup_line_char_frac top_2_gram top_3_gram top_4_gram; do
	printf -- '-s gopher_%s=off ' $r; done; for n in 5 6 7 8 9 10; do printf -- '-s gopher_duplicated_%s_n_grams=off ' $n; done)
# shellcheck disable=SC2086
check "gopher_empty: the empty text dropped" gopher_empty "$(verdict gopher-repetition '' $OFFREP)"
# shellcheck disable=SC2086
check "gopher_empty: one character kept" kept "$(verdict gopher-repetition 'x' $OFFREP)"
long16k() { awk -v n="$1" 'BEGIN { s = ""; for (i = 0; length(s) < n; i++) s = s sprintf("w%05d ", i); print substr(s, 1, n) }'; }
check "synth_runaway_length: 16000 characters kept" kept "$(verdict synth "$(long16k 16000)")"
check "synth_runaway_length: 16001 characters dropped" synth_runaway_length "$(verdict synth "$(long16k 16001)")"
s5="One sentence here. Two sentence here. Three sentence here. Four sentence here. Five sentence here."
check "c4: five sentences kept" kept "$(verdict c4 "$s5")"
check "c4_too_few_sentences: four" c4_too_few_sentences "$(verdict c4 "${s5% Five*}")"
check "c4_lorem_ipsum" c4_lorem_ipsum "$(verdict c4 "$s5\\nLorem ipsum dolor sit.")"
check "c4_curly_bracket" c4_curly_bracket "$(verdict c4 "$s5\\nA {curly} line here.")"
check "c4 drops lines without end punctuation" kept "$(verdict c4 "$s5\\nno punctuation {here")"
doc "$s5\\nshort.\\nUses javascript a lot.\\nA line[1] with citations[edit]." | $F --quiet -p c4 >"$TMP/c4.out"
grep -q '"text": "One sentence here. Two sentence here. Three sentence here. Four sentence here. Five sentence here.\\nA line with citations."' "$TMP/c4.out" &&
	ok "c4 rewrites the text to the kept lines" || not_ok "c4 rewrite" "$(cat "$TMP/c4.out")"
# FineWeb's own rules, with the Gopher and C4 rules of the preset off
OFF=$(for r in short_doc long_doc below_avg_threshold above_avg_threshold too_many_hashes too_many_ellipsis \
	too_many_bullets too_many_end_ellipsis below_alpha_threshold enough_stop_words empty dup_para_frac \
	dup_para_char_frac dup_line_frac dup_line_char_frac top_2_gram top_3_gram top_4_gram; do printf -- '-s gopher_%s=off ' $r; done
	for n in 5 6 7 8 9 10; do printf -- '-s gopher_duplicated_%s_n_grams=off ' $n; done; printf -- '-s c4_too_few_sentences=off')
long() { words 12 | sed "s/w/$1/g"; } # a line of 12 words, over 30 characters
# shellcheck disable=SC2086
{
check "fineweb: punctuated lines kept" kept "$(verdict fineweb "$(long a).\\n$(long b).\\n$(long c)." $OFF)"
check "fineweb_line_punct_ratio" fineweb_line_punct_ratio "$(verdict fineweb "$(long a)\\n$(long b)\\n$(long c)" $OFF)"
check "fineweb_short_line_ratio" fineweb_short_line_ratio "$(verdict fineweb "$(long a).\\nx.\\ny.\\nz." $OFF)"
check "fineweb_char_dup_ratio" fineweb_char_dup_ratio "$(verdict fineweb "$(long a).\\n$(long b).\\n$(long a)." $OFF)"
lst=$(for c in a b c d e f g h; do printf '%s.\\n' "$(printf "$c%.0s" $(seq 35))"; done)
check "fineweb_list_ratio" fineweb_list_ratio "$(verdict fineweb "$lst" $OFF -s c4_min_words_per_line=off)"
check "fineweb_list_ratio: prose kept" kept "$(verdict fineweb "$(long a).\\n$(long b)." $OFF -s c4_min_words_per_line=off)"
}

# --- C4 and FineWeb: every rule on both sides of its published threshold ---
value() { # value RULE PRESET TEXT [ARGS]: what --explain measures for RULE
	local r=$1 p=$2 t=$3
	shift 3
	doc "$t" | $F --quiet -p "$p" --explain "$@" >/dev/null 2>"$TMP/x"
	sed -n "s/.*[ ;]$r=\([^ ,]*\).*/\1/p" "$TMP/x"
}
# vcheck NAME RULE WANT_VALUE WANT_VERDICT PRESET TEXT [ARGS]: the value
# --explain measures (worked out by hand) and the verdict
vcheck() {
	local name=$1 r=$2 v=$3 want=$4 p=$5 t=$6
	shift 6
	check "$name: $r measures $v" "$v" "$(value "$r" "$p" "$t" "$@")"
	check "$name" "$want" "$(verdict "$p" "$t" "$@")"
}
# C4 (datatrove's C4QualityFilter).  Five Punkt sentences on one line are
# the least a page keeps; $s4 is four, and each line rule below decides
# whether a fifth line survives: kept, 5 sentences; removed, 4 and dropped.
s4="${s5% Five*}"
vcheck "c4_too_few_sentences: 5 kept" c4_too_few_sentences 5 kept c4 "$s5"
vcheck "c4_too_few_sentences: 4 dropped" c4_too_few_sentences 4 c4_too_few_sentences c4 "$s4"
# Punkt: "etc.)" ends a sentence inside the chunk, a curly quote after the
# period too, an initial after a quote does not (1 + 2 + 2 sentences)
vcheck "c4 sentences as Punkt cuts them" c4_too_few_sentences 5 kept c4 \
	'\"H. greeffii\" cost 3. dollars here.\nHe said \u201cStop.\u201d Then left.\n(x, y, etc.), then more.'
x1000=$(printf 'x%.0s' $(seq 1000))
vcheck "c4_max_word_length: a word of 1000 characters kept" c4_too_few_sentences 5 kept c4 "$s4\\n${x1000} is long."
vcheck "c4_max_word_length: 1001 removes the line" c4_too_few_sentences 4 c4_too_few_sentences c4 "$s4\\n${x1000}x is long."
vcheck "c4_min_words_per_line: 3 words kept" c4_too_few_sentences 5 kept c4 "$s4\\nThree words here."
vcheck "c4_min_words_per_line: 2 removes the line" c4_too_few_sentences 4 c4_too_few_sentences c4 "$s4\\nTwo words."
vcheck "c4_terminal_punct: a closing quote ends a line" c4_too_few_sentences 5 kept c4 "$s4\\nHe said \\\"fifth.\\\""
vcheck "c4_terminal_punct: no end punctuation removes the line" c4_too_few_sentences 4 c4_too_few_sentences c4 "$s4\\nA fifth sentence here"
vcheck "c4_terminal_punct: an ellipsis removes the line" c4_too_few_sentences 4 c4_too_few_sentences c4 "$s4\\nA fifth sentence here..."
vcheck "c4_terminal_punct=off keeps the line" c4_too_few_sentences 5 kept c4 "$s4\\nA fifth sentence here" -s c4_terminal_punct=off
vcheck "c4_javascript: Java kept" c4_too_few_sentences 5 kept c4 "$s4\\nThis page needs Java."
vcheck "c4_javascript: JavaScript removes the line" c4_too_few_sentences 4 c4_too_few_sentences c4 "$s4\\nThis page needs JavaScript."
vcheck "c4_policy: a privacy notice kept" c4_too_few_sentences 5 kept c4 "$s4\\nRead our privacy notice."
vcheck "c4_policy: a Privacy Policy removes the line" c4_too_few_sentences 4 c4_too_few_sentences c4 "$s4\\nRead our Privacy Policy."
vcheck "c4_citations: cut, the line ends in a period" c4_too_few_sentences 5 kept c4 "$s4\\nA fifth line[1] here.[edit]"
vcheck "c4_citations=off: the line ends in ']'" c4_too_few_sentences 4 c4_too_few_sentences c4 "$s4\\nA fifth line[1] here.[edit]" -s c4_citations=off
vcheck "c4_lorem_ipsum: a kept line" c4_lorem_ipsum 1 c4_lorem_ipsum c4 "$s5\\nLorem Ipsum dolor sit."
vcheck "c4_lorem_ipsum: the words apart" c4_lorem_ipsum 0 kept c4 "$s5\\nLorem dolor ipsum sit."
vcheck "c4_lorem_ipsum: on a line removed first" c4_lorem_ipsum 0 kept c4 "$s5\\nLorem ipsum."
vcheck "c4_curly_bracket: a kept line" c4_curly_bracket 1 c4_curly_bracket c4 "$s5\\nA {curly} line here."
vcheck "c4_curly_bracket: round brackets" c4_curly_bracket 0 kept c4 "$s5\\nA (round) line here."
vcheck "c4_curly_bracket: on a line removed first" c4_curly_bracket 0 kept c4 "$s5\\nA {curly} line"
# FineWeb's own rules, with the Gopher rules off (C4 stays on where its
# sentence count is not in the way).  fwdoc N P: N distinct lines of six
# 10-letter words (65 characters), the first P ending in '.'.
fwdoc() {
	awk -v n="$1" -v p="$2" 'BEGIN { for (i = 1; i <= n; i++) { l = ""
		for (j = 1; j <= 6; j++) l = l sprintf("%sl%03dw%03dxy", j > 1 ? " " : "", i, j)
		printf "%s%s%s", l, i <= p ? "." : "", i < n ? "\\n" : "" } }'
}
OFFG=${OFF% -s c4_too_few_sentences=off}
# shellcheck disable=SC2086
{
# 3 of 25 lines end in terminal punctuation: 0.12, not below 0.12; of 26, 0.115385
vcheck "fineweb_line_punct_ratio: 3 of 25 kept" fineweb_line_punct_ratio 0.12 kept fineweb "$(fwdoc 25 3)" $OFF
vcheck "fineweb_line_punct_ratio: 3 of 26 dropped" fineweb_line_punct_ratio 0.115385 fineweb_line_punct_ratio fineweb "$(fwdoc 26 3)" $OFF
# shortdoc S N: S lines of 11 characters ("s001 ab cd."), then N - S long ones
shortdoc() { awk -v s="$1" -v n="$2" 'BEGIN { for (i = 1; i <= s; i++) printf "s%03d ab cd.\\n", i }'; fwdoc $(($2 - $1)) $(($2 - $1)); }
# 67 of 100 lines at most 30 characters: 0.67, not above; 68 of 100: 0.68
vcheck "fineweb_short_line_ratio: 67 of 100 kept" fineweb_short_line_ratio 0.67 kept fineweb "$(shortdoc 67 100)" $OFF
vcheck "fineweb_short_line_ratio: 68 of 100 dropped" fineweb_short_line_ratio 0.68 fineweb_short_line_ratio fineweb "$(shortdoc 68 100)" $OFF
# a 30-character line is short, 31 is not: 2 of 3 lines short (0.666667), or 1 of 3
vcheck "fineweb_short_line_ratio: 30 characters is short" fineweb_short_line_ratio 0.666667 kept fineweb \
	"$(printf 'a%.0s' $(seq 26)) bc.\\nshort line.\\n$(fwdoc 1 1)" $OFF
vcheck "fineweb_short_line_ratio: 31 is not" fineweb_short_line_ratio 0.333333 kept fineweb \
	"$(printf 'a%.0s' $(seq 27)) bc.\\nshort line.\\n$(fwdoc 1 1)" $OFF
# dupdoc L: "ab cd efg." (10 characters), 14 distinct lines of 70 characters,
# the last of L, and "ab cd efg." again: the repeat is 10 of 990 + L
# characters that are not newlines (the C4 rewrite keeps every line).
dupdoc() {
	awk -v last="$1" 'BEGIN { printf "ab cd efg.\\n"
		for (i = 1; i <= 14; i++) { s = sprintf("filler line %02d", i); L = i < 14 ? 70 : last
			while (length(s) < L) s = s " abcdefgh"; printf "%s.\\n", substr(s, 1, L - 1) }
		printf "ab cd efg." }'
}
vcheck "fineweb_char_dup_ratio: 10 of 1000 kept" fineweb_char_dup_ratio 0.01 kept fineweb "$(dupdoc 70)" $OFFG
vcheck "fineweb_char_dup_ratio: 10 of 999 dropped" fineweb_char_dup_ratio 0.01001 fineweb_char_dup_ratio fineweb "$(dupdoc 69)" $OFFG
# listdoc N P: N lines of three 10-letter words (32 characters), the first
# P ending in '.': N - 1 newlines per 3N + P words (the periods are words)
listdoc() {
	awk -v n="$1" -v p="$2" 'BEGIN { for (i = 1; i <= n; i++)
		printf "word%03dxya word%03dxyb word%03dxyc%s%s", i, i, i, i <= p ? "." : "", i < n ? "\\n" : "" }'
}
# 15 newlines per 50 words: 0.3, not above; 19 per 63: 0.301587
vcheck "fineweb_list_ratio: 16 lines kept" fineweb_list_ratio 0.3 kept fineweb "$(listdoc 16 2)" $OFF
vcheck "fineweb_list_ratio: 20 lines dropped" fineweb_list_ratio 0.301587 fineweb_list_ratio fineweb "$(listdoc 20 3)" $OFF
# FineWeb's C4 keeps lines without end punctuation: 4 + 1 sentences kept
vcheck "fineweb: C4 without end punctuation" c4_too_few_sentences 5 kept fineweb "$s4\\nA fifth sentence here" $OFFG
vcheck "fineweb: C4's other line rules" c4_too_few_sentences 4 c4_too_few_sentences fineweb "$s4\\nTwo words" $OFFG
}
check "synth_refusal" synth_refusal "$(verdict synth "I'm sorry, but I can't help with that.")"
check "synth kept" kept "$(verdict synth "The answer is 42.")"
check "--set NAME=off disables a rule" kept "$(verdict gopher-quality "$(words 49)" -s gopher_short_doc=off)"

# --- --explain and --reward ---
doc "$(words 49)" | $F -p gopher-quality --explain >/dev/null 2>"$TMP/ex"
grep -q "record 1: dropped; gopher_short_doc=49 (fired), gopher_long_doc=49" "$TMP/ex" && ok "--explain lists every rule" || not_ok "--explain" "$(head -c 300 "$TMP/ex")"
printf 'fmt score=0.5 completion match /<answer>.*<\\/answer>/s\nok score=1 completion answer ref\n' >"$TMP/rw.rules"
printf '{"completion": "<answer>4</answer>", "ref": "4"}\n' | $F -R "$TMP/rw.rules" --reward 2>/dev/null >"$TMP/rw.out"
grep -q '"reward_fmt": 0.5, "reward_ok": 1.0, "reward": 1.5' "$TMP/rw.out" && ok "--reward writes parts and sum" || not_ok "--reward" "$(cat "$TMP/rw.out")"

# --- the stream header passes through: scored rollouts keep theirs ---
sluice-train-step -m "$TMP/r.st" --init custom -L 1 -C 32 -H 2 --ctx 64 --n-vocab 50257 --tokenizer gpt2 --steps 0 --quiet
printf '{"text": "2 + 2 =", "ref": "4"}\n{"text": "3 + 4 =", "ref": "7"}\n' >"$TMP/q.jsonl"
sluice-sample -m "$TMP/r.st" -n 2 -N 4 --quiet "$TMP/q.jsonl" >"$TMP/roll.slc"
printf 'ok score=1 completion answer ref\n' >"$TMP/rl.rules"
# header META_OUT STREAM: the header's metadata, exactly.
header() {
	zstd -dc "$2" 2>/dev/null | head -c 65536 | python3 -c '
import struct, sys
b = sys.stdin.buffer.read()
assert b[:6] == b"SLUICE", b[:6]
n = struct.unpack("<I", b[8:12])[0]
sys.stdout.buffer.write(b[12:12 + n])' >"$1"
}
expect "--reward on rollouts" 0 $F -R "$TMP/rl.rules" --reward -o "$TMP/scored.slc" "$TMP/roll.slc"
header "$TMP/h.in" "$TMP/roll.slc"
header "$TMP/h.out" "$TMP/scored.slc"
grep -q '"mode": "rollouts"' "$TMP/h.in" && same "--reward: the rollouts' stream header is passed on" "$TMP/h.in" "$TMP/h.out" ||
	not_ok "--reward: the rollouts' stream header is passed on" "$(cat "$TMP/h.in") / $(cat "$TMP/h.out")"
[ "$(sluice-cat -J "$TMP/scored.slc" | grep -c '"reward": 0.0')" = 4 ] && ok "--reward: each rollout scored" ||
	not_ok "--reward: each rollout scored" "$(sluice-cat -J "$TMP/scored.slc" | head -c 300)"
expect "--rejects: the header there too" 0 $F -R "$TMP/rl.rules" --rejects "$TMP/rej.slc" -o /dev/null "$TMP/roll.slc"
header "$TMP/h.rej" "$TMP/rej.slc"
same "--rejects: the header there too (same)" "$TMP/h.in" "$TMP/h.rej"
expect "two rollout streams join" 0 $F -R "$TMP/rl.rules" --reward -o "$TMP/two.slc" "$TMP/roll.slc" "$TMP/roll.slc"
header "$TMP/h.two" "$TMP/two.slc"
same "two rollout streams join under the first's header" "$TMP/h.in" "$TMP/h.two"
sluice-tokenize -e gpt2 --drop-text "$TMP/q.jsonl" >"$TMP/tok.slc" 2>/dev/null
expect_err "a later stream whose header disagrees is refused" 1 \
	'tok.slc: cannot join the stream written: its header disagrees with the first input.s: .*mode' \
	$F -R "$TMP/rl.rules" --reward -o "$TMP/mixed.slc" "$TMP/roll.slc" "$TMP/tok.slc"
[ ! -e "$TMP/mixed.slc" ] && ok "... and no output is left" || not_ok "... and no output is left"

# --- the man page ---
if command -v mandoc >/dev/null; then
	mandoc -Tlint -W warning man/sluice-synth-filter.1 >"$TMP/lint" 2>&1 && ok "man page lints clean" || not_ok "man page lint" "$(head -5 "$TMP/lint")"
else
	echo "skip: mandoc not installed; man page not linted"
fi

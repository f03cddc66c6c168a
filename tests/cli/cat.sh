# cat.sh: sluice-cat and the sluice dispatcher, end to end on real data.
. "$(dirname "$0")/../lib.sh"
D=data

# --- options and conventions ---
expect "help exits 0" 0 sluice-cat --help
grep -q '^Usage: sluice-cat' "$TMP/out" && ok "help on stdout" || not_ok "help on stdout"
expect "version exits 0" 0 sluice-cat --version
expect_err "help to a full disk fails" 1 "." sh -c 'sluice-cat --help >/dev/full'
expect_err "unknown option is a usage error" 2 "Try 'sluice-cat --help'" sluice-cat --bogus
# The OpenMP wait policy: passive unless the user chose one (programs/cli.c),
# seen in the environment of a tool waiting on its input.
policy() {
	mkfifo "$TMP/fifo.$1"
	env $2 sluice-cat "$TMP/fifo.$1" >/dev/null 2>&1 &
	local pid=$! i
	for i in $(seq 50); do
		tr '\0' '\n' </proc/$pid/environ 2>/dev/null | grep -q "^OMP_WAIT_POLICY=${3:-}" && break
		sleep 0.1
	done
	tr '\0' '\n' </proc/$pid/environ 2>/dev/null | grep '^OMP_WAIT_POLICY=' || echo none
	tr '\0' ' ' </proc/$pid/cmdline; echo
	: >"$TMP/fifo.$1"
	wait $pid
}
got=$(policy a -u\ OMP_WAIT_POLICY passive)
case $got in "OMP_WAIT_POLICY=passive"*"sluice-cat $TMP/fifo.a "*) ok "OpenMP threads wait passively by default (same arguments)" ;;
*) not_ok "passive by default" "$got" ;; esac
got=$(policy b OMP_WAIT_POLICY=active active)
case $got in "OMP_WAIT_POLICY=active"*) ok "the user's OMP_WAIT_POLICY is kept" ;; *) not_ok "user's policy" "$got" ;; esac
expect_err "bad --head value" 2 "invalid value for --head: .12x. \(expected a count\)" sluice-cat --head 12x
expect_err "bad --level value" 2 "--level" sluice-cat -l 99
expect_err "missing file names the file" 1 "^sluice-cat: nosuch.jsonl: cannot open" sluice-cat nosuch.jsonl
expect_err "write error is reported" 1 "write error" sh -c "sluice-cat $D/gsm8k/test.jsonl >/dev/full"

if command -v script >/dev/null; then
	script -qec "sluice-cat -r $D/gsm8k/test.jsonl" /dev/null >"$TMP/tty.out" 2>&1
	st=$?
	[ "$st" -eq 2 ] && grep -q "refusing to write binary records to a terminal" "$TMP/tty.out" &&
		ok "refuses to write records to a terminal" || not_ok "refuses to write records to a terminal" "exit $st"
	script -qec "sluice-cat -n 1 $D/gsm8k/test.jsonl" /dev/null >"$TMP/tty.out" 2>&1 &&
		grep -q "Janet" "$TMP/tty.out" && ok "JSONL to a terminal is fine" || not_ok "JSONL to a terminal is fine"
else
	echo "skip: script(1) not installed; terminal refusal not tested"
fi

# --- round trips on real data, through pipes ---
for f in train test; do
	sluice-cat -r <"$D/gsm8k/$f.jsonl" | sluice-cat >"$TMP/gsm8k-$f.jsonl"
	same "gsm8k $f: JSONL -> records -> JSONL byte-identical" "$D/gsm8k/$f.jsonl" "$TMP/gsm8k-$f.jsonl"
done
sluice-cat -r -j 2 -B 64K <"$D/gsm8k/train.jsonl" | sluice-cat >"$TMP/j2.jsonl"
same "gsm8k train with -j 2 and 64K frames byte-identical" "$D/gsm8k/train.jsonl" "$TMP/j2.jsonl"
sluice-cat -r <"$D/gsm8k/train.jsonl" >"$TMP/j1.slc"
sluice-cat -r -j 2 <"$D/gsm8k/train.jsonl" >"$TMP/j2.slc"
same "-j 2 writes the same bytes as -j 1" "$TMP/j1.slc" "$TMP/j2.slc"

sluice-cat -r "$D/tinyshakespeare.txt" | sluice-cat -t >"$TMP/shakespeare.txt"
same "shakespeare: text -> records -> text byte-identical" "$D/tinyshakespeare.txt" "$TMP/shakespeare.txt"
sluice-cat "$D/tinyshakespeare.txt" >"$TMP/shakespeare.jsonl"
sluice-cat -r <"$TMP/shakespeare.jsonl" | sluice-cat >"$TMP/shakespeare2.jsonl"
same "shakespeare lines: JSONL -> records -> JSONL byte-identical" "$TMP/shakespeare.jsonl" "$TMP/shakespeare2.jsonl"
n=$(wc -l <"$D/tinyshakespeare.txt")
[ "$(wc -l <"$TMP/shakespeare.jsonl")" -eq "$n" ] && ok "one JSONL line per text line" || not_ok "one JSONL line per text line"

# --- zstd compatibility ---
expect "a record stream is valid zstd" 0 zstd -tq "$TMP/j1.slc"
zstdcat "$TMP/j1.slc" | sluice-cat >"$TMP/raw.jsonl"
same "zstdcat output (uncompressed stream) reads back" "$D/gsm8k/train.jsonl" "$TMP/raw.jsonl"
zstd -q -c "$D/gsm8k/test.jsonl" >"$TMP/test.jsonl.zst"
sluice-cat "$TMP/test.jsonl.zst" >"$TMP/fromzst.jsonl"
same "zstd-compressed JSONL is read directly" "$D/gsm8k/test.jsonl" "$TMP/fromzst.jsonl"
cat "$TMP/j1.slc" "$TMP/j1.slc" | sluice-cat --check >/dev/null 2>&1 &&
	[ "$(cat "$TMP/j1.slc" "$TMP/j1.slc" | sluice-cat | wc -l)" -eq 14946 ] &&
	ok "concatenated streams read as one" || not_ok "concatenated streams read as one"
sluice-cat "$D/gsm8k/test.jsonl" "$TMP/j1.slc" >"$TMP/multi.jsonl"
cat "$D/gsm8k/test.jsonl" "$D/gsm8k/train.jsonl" >"$TMP/multi.want"
same "several inputs of different formats in order" "$TMP/multi.want" "$TMP/multi.jsonl"

# --- head, skip, index ---
sluice-cat -n 5 "$D/gsm8k/train.jsonl" >"$TMP/h5"
head -n 5 "$D/gsm8k/train.jsonl" >"$TMP/h5.want"
same "--head 5" "$TMP/h5.want" "$TMP/h5"
sluice-cat -r --index -B 16K "$D/gsm8k/train.jsonl" >"$TMP/idx.slc"
sed -n '4001,4010p' "$D/gsm8k/train.jsonl" >"$TMP/range.want"
sluice-cat --skip 4000 -n 10 "$TMP/idx.slc" >"$TMP/range"
same "--skip with an index" "$TMP/range.want" "$TMP/range"
sluice-cat --skip 4000 -n 10 "$TMP/j1.slc" >"$TMP/range"
same "--skip without an index" "$TMP/range.want" "$TMP/range"
sluice-cat --skip 4000 -n 10 <"$TMP/idx.slc" >"$TMP/range"
same "--skip on a pipe" "$TMP/range.want" "$TMP/range"
expect "indexed stream checks clean" 0 sluice-cat --check "$TMP/idx.slc"
sluice-cat --skip 7473 "$TMP/idx.slc" >"$TMP/none"
[ ! -s "$TMP/none" ] && ok "--skip to the end" || not_ok "--skip to the end"

# --- stats and check ---
sluice-cat --stats "$TMP/j1.slc" >"$TMP/stats.json"
grep -q '"records": 7473' "$TMP/stats.json" && grep -q '"question": {"type": "s", "count": 7473' "$TMP/stats.json" &&
	ok "--stats counts records and fields" || not_ok "--stats counts records and fields" "$(cat "$TMP/stats.json")"
expect "--check on a good stream" 0 sluice-cat --check "$TMP/j1.slc"
grep -q "ok, records, 7473 records" "$TMP/out" && ok "--check summary" || not_ok "--check summary" "$(cat "$TMP/out")"

# --- damage: truncation at frame boundaries and inside frames, bit flips ---
sluice-cat -r -B 8K "$D/gsm8k/test.jsonl" >"$TMP/small.slc"
size=$(stat -c %s "$TMP/small.slc")
# Frame starts: find the zstd magic (28 b5 2f fd) in the file.
offsets=$(od -An -v -tx1 -w1 "$TMP/small.slc" | awk '{b[NR-1]=$1} END {for (i=0;i<NR-3;i++) if (b[i]=="28"&&b[i+1]=="b5"&&b[i+2]=="2f"&&b[i+3]=="fd") print i}')
bad=0 cuts=0
for off in $offsets $((size / 3)) $((size / 2)) $((size - 1)) 1 5; do
	[ "$off" -eq 0 ] && continue
	head -c "$off" "$TMP/small.slc" >"$TMP/cut.slc"
	sluice-cat --check "$TMP/cut.slc" >/dev/null 2>"$TMP/cut.err"
	st=$?
	cuts=$((cuts + 1))
	if [ "$st" -ne 1 ] || ! grep -Eq "cut\.slc: byte [0-9]+ \(record [0-9]+\)" "$TMP/cut.err"; then
		bad=$((bad + 1))
		echo "cut at $off: exit $st: $(cat "$TMP/cut.err")"
	fi
done
[ "$bad" -eq 0 ] && [ "$cuts" -gt 10 ] && ok "truncation at $cuts places: exit 1 naming byte and record" ||
	not_ok "truncation" "$bad of $cuts cuts misreported"
bad=0
for off in 20 100 $((size / 2)) $((size - 40)) $((size - 10)); do
	cp "$TMP/small.slc" "$TMP/flip.slc"
	byte=$(od -An -tu1 -j "$off" -N1 "$TMP/flip.slc" | tr -d ' ')
	printf "$(printf '\\%03o' $((byte ^ 16)))" | dd of="$TMP/flip.slc" bs=1 seek="$off" conv=notrunc 2>/dev/null
	sluice-cat --check "$TMP/flip.slc" >/dev/null 2>"$TMP/flip.err"
	st=$?
	if [ "$st" -ne 1 ] || ! grep -q "byte " "$TMP/flip.err"; then
		bad=$((bad + 1))
		echo "flip at $off: exit $st: $(cat "$TMP/flip.err")"
	fi
done
[ "$bad" -eq 0 ] && ok "flipped bits: exit 1 with the place" || not_ok "flipped bits"
head -c 4096 /dev/urandom >"$TMP/garbage"
expect_err "garbage input" 1 "sluice-cat: .*garbage: " sluice-cat --check "$TMP/garbage"
: >"$TMP/empty"
expect_err "empty input" 1 "empty input" sluice-cat "$TMP/empty"
expect_err "records format forced on text" 1 "not a sluice record stream" sluice-cat --input-format records "$D/tinyshakespeare.txt"
printf '{"text": "ok"}\n{"text": "bad \xff byte"}\n' >"$TMP/badutf8.jsonl"
expect_err "JSONL with bad UTF-8 names the line" 1 "badutf8.jsonl: line 2, column 15: invalid UTF-8" sluice-cat "$TMP/badutf8.jsonl"
printf '{"text": "ok"}\n\n{"text": "x",}\n' >"$TMP/badjson.jsonl"
expect_err "bad JSON names line and column" 1 "badjson.jsonl: line 3, column [0-9]+: " sluice-cat "$TMP/badjson.jsonl"
printf '{"text": 5}\n' >"$TMP/textnum.jsonl"
expect_err "text must be a string" 1 "line 1, column [0-9]+: .*text" sluice-cat "$TMP/textnum.jsonl"
printf 'good line\nbad \xc3\x28 line\n' >"$TMP/badutf8.txt"
expect_err "text with bad UTF-8 names the line" 1 "line 2, column 5: invalid UTF-8" sluice-cat "$TMP/badutf8.txt"
printf '{"tokens": [1, 2]}\n' | sluice-cat -r >"$TMP/notext.slc"
expect_err "--text on a record without text" 1 "record 1: no text field" sluice-cat -t "$TMP/notext.slc"

# --- concatenated streams must agree on their header metadata ---
head -2000 "$D/tinyshakespeare.txt" >"$TMP/shk.txt"
sluice-tokenize --train --vocab-size 300 -o "$TMP/shk" "$TMP/shk.txt" 2>/dev/null
sluice-tokenize -v "$TMP/shk.tiktoken" --drop-text "$TMP/shk.txt" >"$TMP/shk.slc" 2>/dev/null
sluice-tokenize -e gpt2 --drop-text "$TMP/shk.txt" >"$TMP/gpt2.slc" 2>/dev/null
at=$(stat -c %s "$TMP/gpt2.slc")
expect_err "gpt2 and shk streams concatenated: shard refuses at the second header" 1 \
	"\(stdin\): byte $at \(record 2001\): the header of a concatenated stream disagrees .*tokenizer \"shk\" here, \"gpt2\" before" \
	sh -c "cat $TMP/gpt2.slc $TMP/shk.slc | sluice-shard -T 64 -o $TMP/mixed"
[ ! -e "$TMP/mixed/manifest.json" ] && ok "no manifest for the mixed stream" || not_ok "no manifest for the mixed stream"
expect_err "gpt2 and shk streams concatenated: decoding refuses" 1 "tokenizer \"shk\" here" \
	sh -c "cat $TMP/gpt2.slc $TMP/shk.slc | sluice-tokenize -e gpt2 -d >/dev/null"
expect_err "cat --check names the disagreement" 1 "byte $at .*disagrees" \
	sh -c "cat $TMP/gpt2.slc $TMP/shk.slc | sluice-cat --check"
expect_err "cat -r joins no stream of another vocabulary" 1 "shk.slc: cannot join the stream written: .*tokenizer \"shk\" here, \"gpt2\" before" \
	sh -c "sluice-cat -r $TMP/gpt2.slc $TMP/shk.slc >$TMP/joined.slc"
expect "cat -r joins streams of one vocabulary" 0 sh -c "sluice-cat -r $TMP/gpt2.slc $TMP/gpt2.slc >$TMP/joined.slc"
expect "... and shards of one split concatenated" 0 sh -c "sluice-shard -T 64 --shard-tokens 4K -o $TMP/one $TMP/gpt2.slc 2>/dev/null &&
	cat $TMP/one/train-*.slc | sluice-cat --check"

# --- fixed test vector (tests/data/vector.*, described in sluice-stream(5)) ---
sluice-cat tests/data/vector.slc >"$TMP/vector.jsonl"
same "test vector reads as its JSONL" tests/data/vector.jsonl "$TMP/vector.jsonl"
sluice-cat -r tests/data/vector.jsonl | zstdcat >"$TMP/vector.raw"
zstdcat tests/data/vector.slc >"$TMP/vector.want"
same "test vector content written identically" "$TMP/vector.want" "$TMP/vector.raw"

# --- the dispatcher ---
expect "sluice cat runs sluice-cat" 0 sluice cat --version
grep -q '^sluice-cat (sluice)' "$TMP/out" && ok "dispatched version" || not_ok "dispatched version"
expect "sluice --help" 0 sluice --help
grep -q '^  cat ' "$TMP/out" && ok "help lists cat" || not_ok "help lists cat"
expect_err "unknown tool" 2 "not a sluice tool" sluice nosuch
expect "sluice without arguments is a usage error" 2 sluice

# --- man pages ---
if command -v mandoc >/dev/null; then
	for m in man/*.[15]; do
		expect "mandoc -Tlint $m" 0 mandoc -Tlint -Wwarning "$m"
	done
else
	echo "skip: mandoc not installed (Debian: mandoc); man pages not linted"
fi

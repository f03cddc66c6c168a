#!/bin/bash
# stream.sh: the record stream against raw zstd, side by side in one run.
#
#  1. library: bench/stream_bench (records in memory -> stream -> records)
#     against libzstd streaming over the same texts, -j 1 and -j 2;
#  2. tools:  sluice-cat JSONL -> records and records -> JSONL against the
#     zstd command compressing and decompressing the same JSONL bytes.
#
# Corpus: the Wikipedia sample when $SLUICE_DATA (default ../shared/data) has
# it, else the bundled GSM8K + Shakespeare; repeated to $MB megabytes.
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}
MB=${MB:-100}
LEVEL=${LEVEL:-3}
REPS=${REPS:-3}
DATA=${SLUICE_DATA:-../shared/data}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

if [ -f "$DATA/enwiki/enwiki-2021-sample.jsonl.zst" ]; then
	src="$DATA/enwiki/enwiki-2021-sample.jsonl.zst"
	zstdcat "$src" >"$TMP/base.jsonl"
else
	src="data/gsm8k/train.jsonl + data/tinyshakespeare.txt"
	cat data/gsm8k/train.jsonl >"$TMP/base.jsonl"
	"$O/bin/sluice-cat" data/tinyshakespeare.txt >>"$TMP/base.jsonl"
fi
# Repeat the JSONL to about $MB MB.
while [ "$(stat -c %s "$TMP/base.jsonl")" -lt $((MB * 1000000)) ]; do
	cat "$TMP/base.jsonl" "$TMP/base.jsonl" >"$TMP/x" && mv "$TMP/x" "$TMP/base.jsonl"
done
head -c $((MB * 1000000)) "$TMP/base.jsonl" | sed '$d' >"$TMP/corpus.jsonl"
rm "$TMP/base.jsonl"
bytes=$(stat -c %s "$TMP/corpus.jsonl")
echo "corpus: $src, repeated to $bytes bytes of JSONL; zstd level $LEVEL; best of $REPS"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "zstd: $(zstd --version)"
echo

echo "== library: stream writer/reader vs libzstd streaming on the same texts"
for j in 1 2; do
	"$O/bench/stream_bench" "$TMP/corpus.jsonl" "$MB" "$LEVEL" "$j" "$TMP" "$REPS"
done
echo

best() { # best REPS CMD...: fastest wall time in seconds
	local n=$1 b=999999 t s e
	shift
	for _ in $(seq "$n"); do
		s=$(date +%s.%N)
		"$@"
		e=$(date +%s.%N)
		b=$(awk -v s="$s" -v e="$e" -v b="$b" 'BEGIN { t = e - s; print (t < b ? t : b) }')
	done
	echo "$b"
}

echo "== tools: sluice-cat vs the zstd command on the same JSONL bytes"
mbs() { awk -v n="$bytes" -v t="$1" 'BEGIN { printf "%.1f", n / 1e6 / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b / a }'; }
for j in 1 2; do
	tw=$(best "$REPS" sh -c "'$O/bin/sluice-cat' -r -j $j -l $LEVEL <'$TMP/corpus.jsonl' >'$TMP/c.slc'")
	zw=$(best "$REPS" sh -c "zstd -q -$LEVEL -T$j <'$TMP/corpus.jsonl' >'$TMP/c.zst'")
	echo "write -j $j: sluice-cat -r $(mbs "$tw") MB/s, zstd -$LEVEL -T$j $(mbs "$zw") MB/s, ratio $(ratio "$tw" "$zw")"
done
tr=$(best "$REPS" sh -c "'$O/bin/sluice-cat' '$TMP/c.slc' >/dev/null")
zr=$(best "$REPS" sh -c "zstd -q -dc '$TMP/c.zst' >/dev/null")
echo "read: sluice-cat (records -> JSONL) $(mbs "$tr") MB/s, zstd -dc $(mbs "$zr") MB/s, ratio $(ratio "$tr" "$zr")"
tc=$(best "$REPS" sh -c "'$O/bin/sluice-cat' --check '$TMP/c.slc' >/dev/null")
echo "check: sluice-cat --check $(mbs "$tc") MB/s, ratio to zstd -dc $(ratio "$tc" "$zr")"
echo "size: $(stat -c %s "$TMP/c.slc") bytes as records, $(stat -c %s "$TMP/c.zst") as zstd"

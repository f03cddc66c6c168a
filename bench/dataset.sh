#!/bin/bash
# dataset.sh: wall time of a dataset build (pipelines/dataset.mk: filter,
# dedup signatures, merge, apply, tokenize, pack) from scratch at make -j1
# and -j2, against one pass of the same stages as a pipe over the
# concatenated shards (the anchor: what one machine does without make).
#
# Corpus: the Wikipedia sample under $SLUICE_DATA (default ../shared/data)
# cut into SHARDS raw shards (default 48), else the test corpus
# tests/data/enwiki/shards.jsonl.zst in 24.  ROUNDS builds each (default 2,
# alternated; the best is reported).
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}
DATA=${SLUICE_DATA:-../shared/data}
SHARDS=${SHARDS:-48}
ROUNDS=${ROUNDS:-2}
BIN=$PWD/$O/bin
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
unset MAKEFLAGS MFLAGS MAKELEVEL

src=$DATA/enwiki/enwiki-2021-sample.jsonl.zst
[ -f "$src" ] || { src=tests/data/enwiki/shards.jsonl.zst; SHARDS=24; }
zstd -dc "$src" >"$TMP/all.jsonl"
mkdir "$TMP/raw"
split -n "l/$SHARDS" -d -a 3 --additional-suffix=.jsonl "$TMP/all.jsonl" "$TMP/raw/part-"
zstd -q --rm "$TMP/raw/"*.jsonl
docs=$(wc -l <"$TMP/all.jsonl")
mb=$(($(stat -c %s "$TMP/all.jsonl") / 1000000))
echo "corpus: $src, $docs documents, $mb MB, $SHARDS raw shards; $(nproc) cores; load: $(uptime | sed 's/.*load average: //')"

now() { date +%s%N; }
secs() { awk -v ns="$1" 'BEGIN { printf "%.2f", ns / 1e9 }'; }
build() { # build JOBS: nanoseconds of a build from scratch
	local t
	rm -rf "$TMP/ds"
	t=$(now)
	make -f pipelines/dataset.mk -s SLUICE_BIN="$BIN" RAW="$TMP/raw" DATASET="$TMP/ds" \
		SEQ_LEN=1024 -j"$1" dataset >/dev/null 2>&1 || { echo "build -j$1 failed" >&2; exit 1; }
	echo $(($(now) - t))
}
pipe() {
	local t
	t=$(now)
	zstdcat "$TMP/raw/"*.jsonl.zst | "$BIN/sluice-synth-filter" -p fineweb --quiet 2>/dev/null |
		"$BIN/sluice-dedup" --quiet 2>/dev/null | "$BIN/sluice-tokenize" -e gpt2 --drop-text 2>/dev/null |
		"$BIN/sluice-shard" -T 1024 --val 0.01 --quiet -o "$TMP/pipe" 2>/dev/null
	echo $(($(now) - t))
}
best1="" best2="" bestp=""
for r in $(seq 1 "$ROUNDS"); do
	t=$(build 1); [ -z "$best1" ] || [ "$t" -lt "$best1" ] && best1=$t
	t=$(build 2); [ -z "$best2" ] || [ "$t" -lt "$best2" ] && best2=$t
	t=$(pipe); [ -z "$bestp" ] || [ "$t" -lt "$bestp" ] && bestp=$t
	echo "round $r: -j1 $(secs "$best1") s, -j2 $(secs "$best2") s, pipe $(secs "$bestp") s (best so far)"
done
echo "dataset build, make -j1: $(secs "$best1") s"
echo "dataset build, make -j2: $(secs "$best2") s ($(awk -v a="$best1" -v b="$best2" 'BEGIN { printf "%.2f", a / b }')x -j1)"
echo "one pipe over the concatenation (anchor): $(secs "$bestp") s (make -j2 / pipe time: $(awk -v a="$best2" -v b="$bestp" 'BEGIN { printf "%.2f", a / b }'))"
grep -o '"train": {[^}]*}' "$TMP/ds/shards/manifest.json" | cut -c 1-160

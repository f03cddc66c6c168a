#!/bin/bash
# dedup.sh: sluice-dedup (defaults) on a large input at -j 1 and -j 2, and
# with --no-verify; when datatrove is installed, its MinHash signing side by
# side on the same documents, and the documents its whole MinHash pipeline
# removes against ours; and the memory an index takes per document.
#
# Corpus: $DEDUP_INPUT (JSONL, may be zstd-compressed), else the Wikipedia
# sample under $SLUICE_DATA (default ../shared/data), e.g.
#   DEDUP_INPUT=path/to/enwiki-2021-sample.jsonl.zst make bench BENCH=dedup
# else the bundled GSM8K + Shakespeare.  DT_DOCS documents go to datatrove
# (it is slow); MEM_DOCS synthetic documents measure the index.
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}
DATA=${SLUICE_DATA:-../shared/data}
DT_DOCS=${DT_DOCS:-5000}
MEM_DOCS=${MEM_DOCS:-1000000}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
BIN=$O/bin/sluice-dedup

src=${DEDUP_INPUT:-}
if [ -z "$src" ] && [ -f "$DATA/enwiki/enwiki-2021-sample.jsonl.zst" ]; then
	src="$DATA/enwiki/enwiki-2021-sample.jsonl.zst"
fi
if [ -n "$src" ]; then
	zstdcat -f "$src" >"$TMP/in.jsonl"
else
	src="data/gsm8k/train.jsonl + data/tinyshakespeare.txt"
	"$O/bin/sluice-cat" data/tinyshakespeare.txt data/gsm8k/train.jsonl |
		sed 's/^{"question"/{"text"/' >"$TMP/in.jsonl"
fi
docs=$(wc -l <"$TMP/in.jsonl")
bytes=$(stat -c %s "$TMP/in.jsonl")
echo "corpus: $src: $docs documents, $bytes bytes of JSONL"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo

# run CMD...: prints "wall cpu maxrss_kB" of one run.
run() {
	/usr/bin/time -f "%e %U %S %M" -o "$TMP/time" "$@" 2>"$TMP/err" >/dev/null || { cat "$TMP/err"; exit 1; }
	awk '{ printf "%s %.2f %s", $1, $2 + $3, $4 }' "$TMP/time"
}
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }
mbs() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.1f", n / 1e6 / t }'; }

echo "== sluice-dedup (defaults: exact, MinHash 5-grams 14 x 8, verified at 0.9), JSONL in, JSONL out to /dev/null"
for j in 1 2; do
	read -r wall cpu rss <<<"$(run "$BIN" -j "$j" -J "$TMP/in.jsonl")"
	echo "-j $j: $(rate "$docs" "$wall") docs/s, $(mbs "$bytes" "$wall") MB/s wall ($wall s, cpu $cpu s, max RSS $((rss / 1024)) MiB); $(tail -1 "$TMP/err")"
done
read -r wall cpu rss <<<"$(run "$BIN" -j 1 --no-verify -J "$TMP/in.jsonl")"
echo "-j 1 --no-verify: $(rate "$docs" "$wall") docs/s, $(mbs "$bytes" "$wall") MB/s wall (max RSS $((rss / 1024)) MiB); $(tail -1 "$TMP/err")"
echo

echo "== datatrove MinHash signing vs sluice-dedup, first $DT_DOCS documents, one core each"
head -n "$DT_DOCS" "$TMP/in.jsonl" >"$TMP/dt.jsonl"
dtbytes=$(stat -c %s "$TMP/dt.jsonl")
read -r swall scpu _ <<<"$(run "$BIN" -j 1 -J "$TMP/dt.jsonl")"
if python3 bench/dedup_datatrove.py "$TMP/dt.jsonl" >"$TMP/dt.out" 2>"$TMP/dt.err"; then
	dwall=$(cat "$TMP/dt.out")
	echo "sluice-dedup -j 1 (read, sign, cluster, write): $swall s; datatrove (simplify, tokenize, shingle, sign): $dwall s"
	echo "ratio (datatrove / sluice): $(awk -v a="$swall" -v b="$dwall" 'BEGIN { printf "%.1f", b / a }')x on $dtbytes bytes"
else
	echo "datatrove not run: $(tail -1 "$TMP/dt.err")"
fi
echo

# Removals: datatrove's four MinHash stages (its defaults) against ours on
# the first DT_REMOVE_DOCS documents (they need an "id").
DT_REMOVE_DOCS=${DT_REMOVE_DOCS:-20000}
echo "== documents removed, first $DT_REMOVE_DOCS documents: sluice-dedup defaults vs datatrove's MinHash pipeline"
head -n "$DT_REMOVE_DOCS" "$TMP/in.jsonl" >"$TMP/rm.jsonl"
"$BIN" -J --stats "$TMP/rm.json" "$TMP/rm.jsonl" >/dev/null 2>&1
ours=$(awk -F'[:,}]' '{ for (i = 1; i < NF; i++) if ($i ~ /dropped_/) s += $(i + 1) } END { print s }' "$TMP/rm.json")
if python3 bench/dedup_datatrove_pipeline.py "$TMP/rm.jsonl" "$TMP/dtwork" >"$TMP/dt.removed" 2>"$TMP/dtp.err"; then
	theirs=$(wc -l <"$TMP/dt.removed")
	echo "sluice-dedup: $ours ($(tr -d '{}"' <"$TMP/rm.json")); datatrove: $theirs;" \
		"ratio $(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')x"
else
	echo "sluice-dedup: $ours; datatrove pipeline not run: $(tail -1 "$TMP/dtp.err")"
fi
echo

echo "== index memory: $MEM_DOCS synthetic documents (3 random Shakespeare lines and a number)"
awk -v n="$MEM_DOCS" 'BEGIN { srand(7) } { l[NR] = $0 } END {
	for (i = 1; i <= n; i++) {
		s = l[int(rand() * NR) + 1] " " l[int(rand() * NR) + 1] " " l[int(rand() * NR) + 1] " " i
		gsub(/["\\]/, "", s); printf "{\"text\": \"%s\"}\n", s } }' data/tinyshakespeare.txt >"$TMP/mem.jsonl"
read -r _ _ base <<<"$(run "$O/bin/sluice-cat" --check "$TMP/mem.jsonl")"
read -r wall _ rss <<<"$(run "$BIN" -j 2 --index "$TMP/mem.idx" -o /dev/null "$TMP/mem.jsonl")"
isize=$(stat -c %s "$TMP/mem.idx")
echo "max RSS $((rss / 1024)) MiB (sluice-cat --check on the same input: $((base / 1024)) MiB):" \
	"$(awk -v r="$rss" -v b="$base" -v n="$MEM_DOCS" 'BEGIN { printf "%.0f", (r - b) * 1024 / n }') bytes per document in memory;" \
	"index file $((isize / 1048576)) MiB, $(awk -v s="$isize" -v n="$MEM_DOCS" 'BEGIN { printf "%.0f", s / n }') bytes per document; $wall s"

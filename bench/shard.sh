#!/bin/bash
# shard.sh: sluice-shard's throughput on a large tokenized input, next to a
# plain `zstd -dc` of the same input (the floor: shard must at least read
# it).  Best of 3 runs each.
#
# Corpus: the Wikipedia sample when $SLUICE_DATA (default ../shared/data)
# has it, else the bundled sample; tokenized with gpt2 once, untimed.
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}
DATA=${SLUICE_DATA:-../shared/data}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
if [ -f "$DATA/enwiki/enwiki-2021-sample.jsonl.zst" ]; then
	src="$DATA/enwiki/enwiki-2021-sample.jsonl.zst"
else
	src=tests/data/enwiki/sample.jsonl.zst
fi
"$O/bin/sluice-tokenize" --quiet -e gpt2 --drop-text -j "$(nproc)" -o "$TMP/in.slc" "$src"
tokens=$("$O/bin/sluice-cat" --stats "$TMP/in.slc" | grep -o '"tokens": [0-9]*' | grep -o '[0-9]*$')
size=$(stat -c %s "$TMP/in.slc")
echo "input: $src tokenized (gpt2), $tokens tokens, $size bytes stored"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
best() { # best of 3 wall-clock seconds of "$@"
	local b="" s e t
	for _ in 1 2 3; do
		s=$(date +%s.%N); "$@"; e=$(date +%s.%N)
		t=$(awk -v s="$s" -v e="$e" 'BEGIN { print e - s }')
		b=$(awk -v b="$b" -v t="$t" 'BEGIN { print (b == "" || t < b) ? t : b }')
	done
	echo "$b"
}
rate() { awk -v n="$tokens" -v t="$1" 'BEGIN { printf "%.1f M tokens/s (%.3f s)", n / t / 1e6, t }'; }
tz=$(best sh -c "zstd -qdc '$TMP/in.slc' >/dev/null")
echo "zstd -dc of the input:                 $(rate "$tz")"
# The floor for compressed shards: zstd -1 alone on their raw content.
zstd -qdc "$TMP/in.slc" >"$TMP/raw"
t1=$(best sh -c "zstd -q -1 -c '$TMP/raw' >/dev/null")
printf '%-38s %s, %.2fx the time of zstd -dc\n' "zstd -1 of the input's raw content:" "$(rate "$t1")" "$(awk -v a="$t1" -v b="$tz" 'BEGIN { print a / b }')"
rm -f "$TMP/raw"
run() {
	local name=$1; shift
	local t
	t=$(best sh -c "'$O/bin/sluice-shard' --quiet $* -o '$TMP/out' '$TMP/in.slc'")
	printf '%-38s %s, %.2fx the time of zstd -dc\n' "$name:" "$(rate "$t")" "$(awk -v a="$t" -v b="$tz" 'BEGIN { print a / b }')"
}
run "sluice-shard -T 1024 (level 1)" -T 1024 --val 0.01
run "sluice-shard -T 1024 -l 3" -T 1024 --val 0.01 -l 3
run "sluice-shard -T 1024 -j 2" -T 1024 --val 0.01 -j 2
run "sluice-shard -T 1024 --mem 16M (spills)" -T 1024 --val 0.01 --mem 16M
run "sluice-shard --llmc" --llmc --val 0.01

#!/bin/bash
# tokenize.sh: encoding speed against tiktoken, side by side in one run.
#
#  1. library: bench/tokenize_bench (text in memory -> ids) on 1 and 2
#     threads, against tiktoken's encode_ordinary (its Rust core, one thread)
#     over the same documents, for gpt2, cl100k_base and o200k_base;
#  2. tool: sluice-tokenize JSONL -> record stream, -j 1 and -j 2.
#
# Corpus: $MB MB of the Wikipedia sample when $SLUICE_DATA (default
# ../shared/data) has it, else the bundled GSM8K and Shakespeare.
# tiktoken is installed with pip when missing (skipped if that fails).
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}
MB=${MB:-30}
DATA=${SLUICE_DATA:-../shared/data}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

if [ -f "$DATA/enwiki/enwiki-2021-sample.jsonl.zst" ]; then
	src="Wikipedia sample"
	zstdcat "$DATA/enwiki/enwiki-2021-sample.jsonl.zst" | head -c $((MB * 1000000)) | sed '$d' >"$TMP/corpus.jsonl"
else
	src="GSM8K train answers + tiny Shakespeare lines"
	sed 's/"answer"/"text"/' data/gsm8k/train.jsonl >"$TMP/corpus.jsonl"
	"$O/bin/sluice-cat" data/tinyshakespeare.txt >>"$TMP/corpus.jsonl"
fi
echo "corpus: $src, $(stat -c %s "$TMP/corpus.jsonl") bytes of JSONL"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
python3 -c "import tiktoken" 2>/dev/null || pip install -q tiktoken >/dev/null 2>&1 || true
have_tiktoken=0
python3 -c "import tiktoken" 2>/dev/null && have_tiktoken=1
echo

for e in gpt2 cl100k_base o200k_base; do
	one=$("$O/bench/tokenize_bench" "$e" "$TMP/corpus.jsonl" 1)
	two=$("$O/bench/tokenize_bench" "$e" "$TMP/corpus.jsonl" 2)
	echo "sluice   $one"
	echo "sluice   $two"
	s1=$(sed 's/.*: \([0-9.]*\) MB.*/\1/' <<<"$one")
	s2=$(sed 's/.*: \([0-9.]*\) MB.*/\1/' <<<"$two")
	if [ "$have_tiktoken" = 1 ]; then
		tk=$(python3 bench/tiktoken_bench.py "$e" "$TMP/corpus.jsonl")
		echo "tiktoken $tk"
		t1=$(sed 's/.*: \([0-9.]*\) MB.*/\1/' <<<"$tk")
		echo "$e: sluice 1 thread / tiktoken 1 thread = $(echo "scale=2; $s1 / $t1" | bc)x;" \
			"sluice 2 threads / 1 thread = $(echo "scale=2; $s2 / $s1" | bc)x"
	else
		echo "$e: tiktoken not installed; sluice 2 threads / 1 thread = $(echo "scale=2; $s2 / $s1" | bc)x"
	fi
	echo
done

for j in 1 2; do
	start=$(date +%s.%N)
	"$O/bin/sluice-tokenize" -e gpt2 -j "$j" --drop-text -o "$TMP/out.slc" "$TMP/corpus.jsonl" 2>/dev/null
	end=$(date +%s.%N)
	echo "tool: sluice-tokenize -e gpt2 -j $j JSONL -> records: $(echo "scale=1; $(stat -c %s "$TMP/corpus.jsonl") / ($end - $start) / 1000000" | bc) MB/s of JSONL"
done

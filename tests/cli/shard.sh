#!/bin/bash
# shard.sh: sluice-shard end to end: tokenize -> shard, reproducible bytes
# (seed, threads, memory), sequence shape, llm.c files out and back in,
# stale shards, and clear errors on bad input.
. "$(dirname "$0")/../lib.sh"
D=data

# same_dir NAME A B: every file of A is in B, byte-identical, and no more.
same_dir() {
	if diff -r "$2" "$3" >"$TMP/diff" 2>&1; then ok "$1"; else not_ok "$1" "$(head -3 "$TMP/diff")"; fi
}

sluice-tokenize -e gpt2 --drop-text --field question -o "$TMP/q.slc" "$D/gsm8k/train.jsonl" 2>/dev/null
sluice-tokenize -e gpt2 --drop-text -o "$TMP/s.slc" "$D/tinyshakespeare.txt" 2>/dev/null

# --- reproducible to the byte ---
sluice-shard -T 256 --val 0.02 --shard-tokens 100K -o "$TMP/a" "$TMP/q.slc" "$TMP/s.slc" 2>"$TMP/err"
grep -q 'train_sequences' "$TMP/err" && ok "shards written, summary printed" || not_ok "summary" "$(cat "$TMP/err")"
n=$(ls "$TMP/a"/train-*.slc | wc -l)
[ "$n" -ge 4 ] && [ -f "$TMP/a/val-00000.slc" ] && [ -f "$TMP/a/manifest.json" ] &&
	ok "several train shards, a val shard and the manifest ($n train)" || not_ok "files" "$(ls "$TMP/a")"
sluice-shard -T 256 --val 0.02 --shard-tokens 100K -o "$TMP/b" "$TMP/q.slc" "$TMP/s.slc" 2>/dev/null
same_dir "same inputs and seed: identical shards and manifest" "$TMP/a" "$TMP/b"
sluice-shard -T 256 --val 0.02 --shard-tokens 100K -j 2 -o "$TMP/c" "$TMP/q.slc" "$TMP/s.slc" 2>/dev/null
same_dir "-j 2: identical" "$TMP/a" "$TMP/c"
sluice-shard -T 256 --val 0.02 --shard-tokens 100K --mem 32K -o "$TMP/m" "$TMP/q.slc" "$TMP/s.slc" 2>/dev/null
same_dir "--mem 32K (input ~1.5 MB, spilled): identical" "$TMP/a" "$TMP/m"
cat "$TMP/q.slc" | sluice-shard -T 256 --val 0.02 --shard-tokens 100K -o "$TMP/p" 2>/dev/null
sluice-shard -T 256 --val 0.02 --shard-tokens 100K -o "$TMP/p2" "$TMP/q.slc" 2>/dev/null
# (the headers differ: the manifest names the input, "(stdin)" or the file)
cmp -s <(sluice-cat -J "$TMP"/p/*.slc) <(sluice-cat -J "$TMP"/p2/*.slc) && ok "stdin gives the same sequences as the file" ||
	not_ok "stdin gives the same shards"
sluice-shard -T 256 --val 0.02 --shard-tokens 100K -s 2 -o "$TMP/s2" "$TMP/q.slc" "$TMP/s.slc" 2>/dev/null
cmp -s "$TMP/a/train-00000.slc" "$TMP/s2/train-00000.slc" && not_ok "another seed, another order" ||
	ok "another seed, another order"
cmp -s "$TMP/a/val-00000.slc" "$TMP/s2/val-00000.slc" && not_ok "val shuffled by the seed" || ok "val shuffled by the seed"

# --- shape: every sequence T+1 tokens, checksummed streams ---
for f in "$TMP"/a/*.slc; do sluice-cat --check "$f" >/dev/null || not_ok "--check $f"; done && ok "every shard passes sluice-cat --check"
sluice-cat -J "$TMP"/a/train-*.slc | awk -F, '{ n[NF]++ } END { for (k in n) print k, n[k] }' >"$TMP/lens"
# 257 tokens, and the last sequence has 257 mask values as well.
if awk '$1 != 257 && $1 != 514 { bad = 1 } $1 == 514 && $2 != 1 { bad = 1 } END { exit bad }' "$TMP/lens"; then
	ok "every sequence is T+1 = 257 tokens; only the last carries a mask"
else
	not_ok "sequence lengths" "$(cat "$TMP/lens")"
fi
zstdcat "$TMP/a/train-00000.slc" | head -c 400 | grep -aq '"seq_len": 257, "mode": "pretrain", "split": "train", "shard": 0, "dataset": "' &&
	ok "shard header names tokenizer, length, split and dataset" || not_ok "shard header"
grep -q '"tokenizer": "gpt2", "n_vocab": 50257, "eot": 50256' "$TMP/a/manifest.json" &&
	grep -q '"xxh3": "' "$TMP/a/manifest.json" && ok "manifest: tokenizer and shard hashes" || not_ok "manifest"
# The manifest's counts add up: no token lost or invented.
toks=$(sluice-cat --stats "$TMP/q.slc" "$TMP/s.slc" | grep -o '"tokens": [0-9]*' | awk '{ s += $2 } END { print s }')
mtoks=$(grep -o '"train_tokens": [0-9]*, "val_documents": [0-9]*, "val_tokens": [0-9]*' "$TMP/a/manifest.json" |
	awk -F'[:,]' '{ s += $2 + $6 } END { print s }')
[ -n "$toks" ] && [ "$toks" = "$mtoks" ] && ok "manifest counts every input token ($toks)" ||
	not_ok "token counts" "input $toks, manifest $mtoks"

# --- SFT ---
sluice-shard -T 64 --sft -o "$TMP/sft" "$TMP/q.slc" 2>"$TMP/err"
grep -q 'truncated' "$TMP/err" && grep -q '"mode": "sft"' "$TMP/sft/manifest.json" &&
	ok "--sft: one example per sequence, truncations counted" || not_ok "--sft" "$(cat "$TMP/err")"
sluice-cat -J -n 1 "$TMP/sft/train-00000.slc" | grep -q '"mask": \[0, 1' && ok "--sft: mask written, first token not a target" ||
	not_ok "--sft mask"

# --- llm.c shards out and back in ---
sluice-shard -T 256 --val 0.02 --shard-tokens 100000 --llmc -o "$TMP/l" "$TMP/q.slc" "$TMP/s.slc" 2>/dev/null
[ -f "$TMP/l/train_000000.bin" ] && [ -f "$TMP/l/val_000000.bin" ] && ok "--llmc writes train_NNNNNN.bin and val_NNNNNN.bin" ||
	not_ok "--llmc files" "$(ls "$TMP/l")"
od -A n -t u4 -N 12 "$TMP/l/train_000000.bin" | grep -q '20240520 *1 *100000' &&
	ok "llm.c header: magic 20240520, version 1, 100000 tokens" || not_ok "llm.c header" "$(od -A n -t u4 -N 12 "$TMP/l/train_000000.bin")"
sluice-shard --no-shuffle --shard-tokens 100000 --llmc -o "$TMP/l2" "$TMP"/l/train_*.bin 2>/dev/null
same "llm.c shards imported and exported again: identical" "$TMP/l/train_000001.bin" "$TMP/l2/train_000001.bin"
sluice-shard --no-shuffle -T 256 -o "$TMP/l3" "$TMP"/l/train_*.bin 2>/dev/null &&
	grep -q '"tokenizer": "gpt2"' "$TMP/l3/manifest.json" && ok "llm.c shards to record shards (read as gpt2)" ||
	not_ok "llm.c import"

# --- a rerun leaves no stale shard behind ---
sluice-shard -T 256 --shard-tokens 1G -o "$TMP/a" "$TMP/q.slc" 2>/dev/null
[ ! -e "$TMP/a/train-00001.slc" ] && [ ! -e "$TMP/a/val-00000.slc" ] && ok "rerun removes shards of the earlier run" ||
	not_ok "stale shards" "$(ls "$TMP/a")"

# --- mixing ---
sluice-shard -T 256 -i "$TMP/q.slc:0.5" -i "$TMP/s.slc:0.5" -o "$TMP/mix" 2>/dev/null
grep -q '"weight": 0.5' "$TMP/mix/manifest.json" && grep -q '"rate": ' "$TMP/mix/manifest.json" &&
	ok "weighted sources: weights and rates in the manifest" || not_ok "mixing manifest"

# --- errors ---
expect_err "text, not tokens: exit 1, names the record" 1 "record 1: no 'tokens' field" \
	sluice-shard -o "$TMP/e" "$D/gsm8k/test.jsonl"
sluice-tokenize -e o200k_base --drop-text -o "$TMP/o.slc" "$D/tinyshakespeare.txt" 2>/dev/null
expect_err "sources from two vocabularies: exit 1" 1 "mixing vocabularies" sluice-shard -o "$TMP/e" "$TMP/q.slc" "$TMP/o.slc"
expect_err "o200k ids into llm.c's uint16: exit 1" 1 "uint16" sluice-shard --llmc -o "$TMP/e" "$TMP/o.slc"
printf '{"tokens": [1, 2, 60000]}\n' >"$TMP/big.jsonl"
expect_err "id outside the vocabulary: exit 1 with the record" 1 "record 1: token id 60000" \
	sluice-shard --tokenizer gpt2 --n-vocab 50257 --eot 50256 -o "$TMP/e" "$TMP/big.jsonl"
printf '{"tokens": [1, 2, 3]}\n' >"$TMP/t.jsonl"
expect_err "no vocabulary known: exit 1" 1 "no end-of-text id" sluice-shard -o "$TMP/e" "$TMP/t.jsonl"
expect "JSONL tokens with --eot" 0 sluice-shard --eot 0 -T 2 -o "$TMP/e" "$TMP/t.jsonl"
# --tokenizer for JSONL tokens without a header, beside a stream tokenized
# with a model directory: the directory as the header names it (its real
# path), whatever the spelling; another model's directory is refused.
mkdir -p "$TMP/hfm" "$TMP/hfo"
cp tests/data/hf/qwen/tokenizer.json "$TMP/hfm/"
cp tests/data/hf/llama3/tokenizer.json "$TMP/hfo/"
head -c 3000 "$D/tinyshakespeare.txt" | awk -f scripts/paragraphs.awk |
	sluice-tokenize -e "$TMP/hfm" --drop-text -o "$TMP/hq.slc" 2>/dev/null
sluice-cat -J "$TMP/hq.slc" >"$TMP/hq.jsonl"
expect "--tokenizer DIR/ (trailing slash) with a stream of DIR's tokens" 0 \
	sluice-shard --quiet -T 16 --tokenizer "$TMP/hfm/" -o "$TMP/hs1" "$TMP/hq.slc" "$TMP/hq.jsonl"
expect "--tokenizer ./DIR/tokenizer.json from another directory" 0 \
	sh -c 'cd "$1" && sluice-shard --quiet -T 16 --tokenizer ./hfm/tokenizer.json -o hs2 hq.slc hq.jsonl' _ "$TMP"
expect_err "--tokenizer of another model's directory: exit 1" 1 "mixing vocabularies" \
	sluice-shard --quiet -T 16 --tokenizer "$TMP/hfo" -o "$TMP/hs3" "$TMP/hq.slc" "$TMP/hq.jsonl"
expect_err "--tokenizer without --eot on JSONL alone: asks for --eot" 1 "give --eot" \
	sluice-shard --quiet -T 16 --tokenizer "$TMP/hfm" -o "$TMP/hs4" "$TMP/hq.jsonl"
head -c 5000 "$TMP/l/train_000000.bin" >"$TMP/cut.bin"
expect_err "llm.c file cut short: exit 1" 1 "header says 100000 tokens" sluice-shard -o "$TMP/e" "$TMP/cut.bin"
head -c 100000 "$TMP/q.slc" >"$TMP/cut.slc"
expect_err "record stream cut short: exit 1" 1 "cut.slc" sluice-shard -o "$TMP/e" "$TMP/cut.slc"
expect_err "no -o: usage error" 2 "no output directory" sluice-shard "$TMP/q.slc"
expect_err "weights on some sources only: usage error" 2 "every source has a weight" \
	sluice-shard -o "$TMP/e" -i "$TMP/q.slc:0.5" "$TMP/s.slc"
expect_err "--sft with --llmc: usage error" 2 "masks" sluice-shard --sft --llmc -o "$TMP/e" "$TMP/q.slc"
expect_err "bad --val: usage error" 2 "--val" sluice-shard --val 2 -o "$TMP/e" "$TMP/q.slc"
expect "help exits 0" 0 sluice-shard --help
grep -q '^Usage: sluice-shard' "$TMP/out" && ok "help on stdout" || not_ok "help on stdout"
expect_err "output directory not creatable: exit 1" 1 "cannot create" sluice-shard -o /nonexistent/x "$TMP/q.slc"

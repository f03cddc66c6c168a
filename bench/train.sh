#!/bin/bash
# train.sh: training speed of sluice-train-step's CPU backend, and llm.c's
# CPU trainer side by side when a built llm.c checkout is at hand.
#
#  1. bench/train_bench on the GPT-2 124M (d12) and d6 shapes at B=4 T=64
#     and B=8 T=256, on 2 threads: tokens/s, GFLOP/s of the step, GFLOP/s of
#     the matrix products and their share of the time, per-kernel times;
#     and this CPU's FP32 FMA peak.
#  2. sluice-train-step itself on tiny Shakespeare shards (d6, B=4, T=64).
#  3. With LLMC_DIR=a llm.c checkout in which `make train_gpt2` was run:
#     its unmodified train_gpt2 (B=4 and T=64 are fixed in it) trains the
#     same randomly initialised models -- written by sluice-train-step
#     --export-llmc as its gpt2_124M.bin -- on the same tokens (sluice-shard
#     --llmc), in a scratch directory laid out as it expects.  Its "took X
#     ms" lines give its tokens/s (the first step is left out on both
#     sides); its step-0 validation loss is compared with ours on the same
#     20 sequences, a check that both run the same model.
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}
STEPS=${STEPS:-4}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
BIN=$PWD/$O/bin
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $OMP_NUM_THREADS threads"
"$O/bench/train_bench" --peak
echo
# shape NAME: L C H of a preset.
shape() { case $1 in d12) echo "12 768 12" ;; d6) echo "6 384 6" ;; esac; }
for s in d12 d6; do
	for bt in "4 64" "8 256"; do
		set -- $bt
		echo "== sluice $s B=$1 T=$2"
		"$O/bench/train_bench" $(shape $s) 50257 "$2" "$1" "$STEPS"
	done
done

echo
echo "== sluice-train-step, d6, B=4, T=64, tiny Shakespeare"
awk -f scripts/paragraphs.awk data/tinyshakespeare.txt | "$BIN/sluice-tokenize" -e gpt2 --drop-text -o "$TMP/shk.tok" 2>/dev/null
"$BIN/sluice-shard" --quiet -T 64 --val 0.1 -o "$TMP/sh" "$TMP/shk.tok"
"$BIN/sluice-train-step" -m "$TMP/d6.st" --init d6 -B 4 --steps $((STEPS * 3)) --log "$TMP/tool.log" --quiet \
	"$TMP/sh/train-00000.slc"
tail -n +2 "$TMP/tool.log" | grep -o '"tokens_per_s":[0-9.]*' | cut -d: -f2 |
	awk '{ s += $1; n++ } END { printf "sluice-train-step: %.1f tokens/s (mean of %d steps after the first)\n", s / n, n }'

# PyTorch eager on the same shapes, in turns with sluice, in float and
# with bfloat16 products: bench/train_torch.sh.

[ -n "${LLMC_DIR:-}" ] || { echo; echo "llm.c: LLMC_DIR not set; the anchor did not run"; exit 0; }
[ -x "$LLMC_DIR/train_gpt2" ] || { echo "llm.c: $LLMC_DIR/train_gpt2 not built (make train_gpt2 there)"; exit 1; }
echo
# Tokens for llm.c, and the same tokens as our sequences for the check.
"$BIN/sluice-shard" --quiet --llmc --no-shuffle -T 64 --val 0.1 -o "$TMP/llmc" "$TMP/shk.tok"
mkdir -p "$TMP/run/dev/data/tinyshakespeare"
cp "$TMP/llmc/train_000000.bin" "$TMP/run/dev/data/tinyshakespeare/tiny_shakespeare_train.bin"
cp "$TMP/llmc/val_000000.bin" "$TMP/run/dev/data/tinyshakespeare/tiny_shakespeare_val.bin"
"$BIN/sluice-shard" --quiet --no-shuffle -T 64 -o "$TMP/valseq" "$TMP/llmc/val_000000.bin"
"$BIN/sluice-cat" -n 20 -o "$TMP/val20.slc" "$TMP/valseq/train-00000.slc"
for s in d12 d6; do
	"$BIN/sluice-train-step" -m "$TMP/$s.st" --init "$s" --n-vocab 50257 --tokenizer gpt2 --quiet --steps 0 \
		--export-llmc "$TMP/run/gpt2_124M.bin"
	ours=$("$BIN/sluice-train-step" -m "$TMP/$s.st" --steps 0 --quiet --val "$TMP/val20.slc" 2>&1 |
		grep -o '"val_loss":[0-9.]*' | cut -d: -f2)
	# train_gpt2 runs 40 steps with generation at step 20: stop it after
	# STEPS + 1 steps.
	(cd "$TMP/run" && exec stdbuf -oL "$LLMC_DIR/train_gpt2") >"$TMP/llmc.log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null && ! grep -q "^step $STEPS:" "$TMP/llmc.log"; do sleep 1; done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	theirs=$(grep -m1 '^val loss' "$TMP/llmc.log" | awk '{ print $3 }')
	grep '^step [1-9]' "$TMP/llmc.log" | sed 's/.*took \([0-9.]*\) ms.*/\1/' |
		awk -v s=$s '{ t += $1; n++ } END { printf "llm.c %s B=4 T=64: %.1f ms/step, %.1f tokens/s (mean of %d steps after the first)\n", s, t / n, 256000 * n / t, n }'
	echo "step-0 validation loss on the same 20 sequences: sluice $ours, llm.c $theirs"
done

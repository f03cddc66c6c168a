#!/bin/bash
# sft.sh: does the loss mask cost anything?  sluice-train-step on the same
# conversations (pipelines/arith problems, ChatML) twice, same model shape,
# batch and sequence length: once as SFT sequences (one conversation a
# sequence, loss on the assistant's tokens only), once with the mask
# removed (every token a target).  The same tokens flow through the same
# kernels; tokens/s of the two, alternated ROUNDS times, and their ratio.
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}
STEPS=${STEPS:-30}
ROUNDS=${ROUNDS:-3}
SHAPE=${SHAPE:-"-L 4 -C 128 -H 4"}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
BIN=$PWD/$O/bin
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $OMP_NUM_THREADS threads"
"$O/pipelines/arith" -n 4000 >"$TMP/p.jsonl"
"$BIN/sluice-tokenize" -e gpt2 --chat --drop-text -o "$TMP/chat.slc" "$TMP/p.jsonl" 2>/dev/null
"$BIN/sluice-shard" --quiet --sft -T 128 -o "$TMP/sft" "$TMP/chat.slc"
# The same sequences without their mask: sluice-cat -J, the mask field cut.
"$BIN/sluice-cat" -J "$TMP/sft/train-00000.slc" | sed 's/, "mask": \[[^]]*\]//' |
	"$BIN/sluice-cat" -r -o "$TMP/nomask.slc"
mean_tps() { tail -n +2 "$1" | grep -o '"tokens_per_s":[0-9.]*' | cut -d: -f2 | awk '{ s += $1; n++ } END { printf "%.1f", s / n }'; }
run() { # run NAME SHARD: tokens/s over STEPS steps (the first left out)
	rm -f "$TMP/$1.st" "$TMP/$1.st.optim"
	"$BIN/sluice-train-step" -m "$TMP/$1.st" --init custom $SHAPE --ctx 128 -B 8 --steps "$STEPS" --quiet \
		--log "$TMP/$1.log" --tokenizer gpt2 --n-vocab 50259 "$2" 2>/dev/null
	mean_tps "$TMP/$1.log"
}
sa=0 sb=0
for r in $(seq "$ROUNDS"); do
	a=$(run sft "$TMP/sft/train-00000.slc")
	b=$(run plain "$TMP/nomask.slc")
	echo "round $r: SFT (masked) $a tokens/s, unmasked $b tokens/s, ratio $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", a / b }')"
	sa=$(awk -v s="$sa" -v a="$a" 'BEGIN { print s + a }')
	sb=$(awk -v s="$sb" -v b="$b" 'BEGIN { print s + b }')
done
awk -v a="$sa" -v b="$sb" -v n="$ROUNDS" \
	'BEGIN { printf "mean of %d rounds: SFT %.1f tokens/s, unmasked %.1f tokens/s, ratio %.3f\n", n, a / n, b / n, a / b }'

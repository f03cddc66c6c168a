#!/bin/bash
# matmul_loss.sh: what --matmul bf16 costs in loss.  The d6 model of `make
# -C pipelines train` (tiny Shakespeare paragraphs as documents, gpt2
# tokens, 10% held out, T=128, B=8, lr 2e-3, 10 warm-up steps, cosine) is
# trained twice from the same initialisation on the same batches, with
# the products in f32 and in bf16, STEPS steps (default 180), for each
# initialisation seed in SEEDS (default "1 2": how far two float runs from
# different seeds land apart is the scale a difference must beat); the
# validation loss is logged every 20 steps (in each run's own products),
# and at the end sluice-eval --loss scores every model on the held-out
# paragraphs in f32.  Prints the curves, the final losses and each run's
# training time.  With TORCH_PYTHON (a Python with torch and
# transformers), PyTorch trains the same configuration on the same
# batches (bench/muon_torch.py, its own initialisation) in float and under
# bfloat16 autocast, for the size of the same difference there.
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}
STEPS=${STEPS:-180}
SEEDS=${SEEDS:-1 2}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
BIN=$PWD/$O/bin
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

awk -f scripts/paragraphs.awk data/tinyshakespeare.txt | "$BIN/sluice-tokenize" -e gpt2 --drop-text -o "$TMP/shk.tok" 2>/dev/null
"$BIN/sluice-shard" --quiet -T 128 --val 0.1 -o "$TMP/sh" "$TMP/shk.tok"
for seed in $SEEDS; do
	for p in f32 bf16; do
		start=$(date +%s.%N)
		"$BIN/sluice-train-step" -m "$TMP/$p-$seed.st" --init d6 --ctx 128 --seed "$seed" -B 8 --steps "$STEPS" \
			--lr 2e-3 --warmup 10 --matmul $p --val "$TMP/sh/val-00000.slc" --val-every 20 --log "$TMP/$p-$seed.log" \
			--quiet "$TMP/sh/train-00000.slc"
		end=$(date +%s.%N)
		echo "seed $seed, $p: $STEPS steps in $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }') s" \
			"(validation passes included)"
	done
done
last() { grep -o '"loss":[0-9.]*' "$1" | tail -1 | cut -d: -f2; }
for seed in $SEEDS; do
	echo
	echo "seed $seed: step, val_loss f32, val_loss bf16 (each in its own products)"
	paste <(grep -o '"step":[0-9]*,"val_loss":[0-9.]*' "$TMP/f32-$seed.log") \
		<(grep -o '"val_loss":[0-9.]*' "$TMP/bf16-$seed.log") |
		sed 's/"step":\([0-9]*\),"val_loss":\([0-9.]*\)\t"val_loss":\([0-9.]*\)/\1 \2 \3/' |
		awk '{ printf "%4d  %8.4f  %8.4f\n", $1, $2, $3 }'
	echo "last training loss: f32 $(last "$TMP/f32-$seed.log"), bf16 $(last "$TMP/bf16-$seed.log")"
	for p in f32 bf16; do
		printf 'sluice-eval --loss in f32, seed %s, trained with %s products: ' "$seed" $p
		"$BIN/sluice-eval" -m "$TMP/$p-$seed.st" --loss "$TMP/sh/val-00000.slc" | grep -o '"loss": [0-9.]*'
	done
done

[ -n "${TORCH_PYTHON:-}" ] || { echo; echo "PyTorch: TORCH_PYTHON not set; its float/bfloat16 pair did not run"; exit 0; }
echo
for seed in $SEEDS; do
	for mode in off bf16; do
		printf 'PyTorch, seed %s, autocast %s: ' "$seed" $mode
		"$TORCH_PYTHON" bench/muon_torch.py "$TMP/sh/train-00000.slc" "$TMP/sh/val-00000.slc" --steps "$STEPS" \
			--seed "$seed" --lr 2e-3 --warmup 10 -B 8 -L 6 -C 384 -H 6 --threads "$OMP_NUM_THREADS" \
			--sluice-cat "$BIN/sluice-cat" --autocast $mode | tail -1
	done
done

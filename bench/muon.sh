#!/bin/bash
# muon.sh: GPT-2 config + AdamW against GPT-2 config + Muon and against the
# modern config (--init modern-d4 at the same width: rotary positions,
# RMSNorm, ReLU squared, QK-norm, untied head, no biases) with Muon and with
# AdamW, on tiny Shakespeare, several seeds: validation loss (sluice-eval
# --loss on the held-out 10% of paragraphs) at equal steps, and at equal
# training FLOPs (Muon's Newton-Schulz iterations counted: AdamW gets the
# steps that cost as much as Muon's; the modern config's products cost what
# GPT-2's do).  Then the compute each run takes to reach the equal-FLOPs
# GPT-2 + AdamW run's final loss, as a fraction of that run's FLOPs: the
# first step at which its trailing 10-step mean training loss is at or below
# AdamW's final 10-step mean (the same batches in the same order on all
# sides).
#
# Model: GPT-2 of 4 layers, 128 channels, 4 heads, context 128, on a
# 1024-token vocabulary learned from tiny Shakespeare (as make demo's
# shk1024; GPT-2's 50,257 tokens would make the embedding most of the
# model and of its compute), so that a run takes minutes on two cores;
# 16 x 128 tokens a step; cosine schedule with 10 warm-up steps.  AdamW:
# lr 2e-3 (the demo's).  Muon: --muon-lr 0.02 for the blocks' matrices,
# AdamW at 2e-3 for the rest.  STEPS (default 170) and SEEDS (default
# "1 2 3") can be set; the shard holds 200 steps of 16 sequences (one
# pass, which train-step does not repeat), and AdamW's equal-FLOPs run
# needs 1.17 x STEPS of them.  The seeds run side by side, each on one thread
# (-j 1) with OpenMP's passive wait: on a shared machine spinning threads
# made a step 4x slower.
#
# Then, when TORCH_PYTHON (default python3) can import torch, transformers
# and safetensors, PyTorch trains the GPT-2 configuration with AdamW on the
# same batches for the equal-FLOPs steps (bench/muon_torch.py, one thread a
# seed): first a few steps from sluice's initial parameters of the seed,
# whose losses must equal sluice-train-step's (the same batches and
# updates), then a run from its own GPT-2 initialisation; its validation
# loss beside sluice's, and the compute the modern configuration with Muon
# takes to reach its final training loss.  Otherwise it says it skipped.
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}
STEPS=${STEPS:-170}
SEEDS=${SEEDS:-1 2 3}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
export PATH=$PWD/$O/bin:$PATH
TMP=${MUON_TMP:-$(mktemp -d "${TMPDIR:-/tmp}/sluice-muon.XXXXXX")}
mkdir -p "$TMP"

sluice-tokenize --train --vocab-size 1024 -o "$TMP/shk1024" data/tinyshakespeare.txt 2>/dev/null
awk -f scripts/paragraphs.awk data/tinyshakespeare.txt |
	sluice-tokenize -v "$TMP/shk1024.tiktoken" --eot --drop-text -o "$TMP/shk.tok" 2>/dev/null
sluice-shard --quiet -T 128 --val 0.1 -o "$TMP/sh" "$TMP/shk.tok"
TRAIN=$TMP/sh/train-00000.slc VAL=$TMP/sh/val-00000.slc
MODEL=(--init custom -L 4 -C 128 -H 4 --ctx 128 -B 16 --lr 2e-3 --warmup 10 -j 1)
MODERN=(--init modern-d4 -C 128 -H 4 --ctx 128 -B 16 --lr 2e-3 --warmup 10 -j 1)
flops() { head -c 4000 "$1" | grep -ao '"train_flops":"[^"]*"' | cut -d'"' -f4; }
val() { sluice-eval -m "$1" --tokenizer "$TMP/shk1024.tiktoken" --loss "$VAL" 2>/dev/null | grep -o '"loss": [0-9.]*' | cut -d' ' -f2; }

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
# FLOPs of a step each way, from a one-step run.
sluice-train-step -m "$TMP/fa.st" "${MODEL[@]}" --steps 1 --quiet --log /dev/null "$TRAIN"
sluice-train-step -m "$TMP/fm.st" "${MODEL[@]}" --optim muon --steps 1 --quiet --log /dev/null "$TRAIN"
sluice-train-step -m "$TMP/fn.st" "${MODERN[@]}" --optim muon --steps 1 --quiet --log /dev/null "$TRAIN"
fa=$(flops "$TMP/fa.st") fm=$(flops "$TMP/fm.st") fn=$(flops "$TMP/fn.st")
[ "$fm" = "$fn" ] || echo "note: the modern config's step costs $fn FLOPs, GPT-2's with Muon $fm"
eq=$(awk -v a="$fa" -v m="$fm" -v s="$STEPS" 'BEGIN { printf "%d", s * m / a + 0.5 }')
echo "FLOPs a step: AdamW $fa, Muon $fm ($(awk -v a="$fa" -v m="$fm" 'BEGIN { printf "%.3f", m / a }')x);" \
	"AdamW steps of $STEPS Muon steps' FLOPs: $eq"
echo "seed optimizer steps train_flops val_loss seconds"
seed_runs() {
	local seed=$1
	for run in "adamw $STEPS" "adamw $eq" "muon $STEPS" "modern-muon $STEPS" "modern-adamw $STEPS"; do
		set -- $run
		ck=$TMP/$1-$2-$seed.st
		rm -f "$ck" "$ck.optim"
		start=$(date +%s)
		case $1 in
		modern-*) model=("${MODERN[@]}") opt=${1#modern-} ;;
		*) model=("${MODEL[@]}") opt=$1 ;;
		esac
		sluice-train-step -m "$ck" "${model[@]}" --seed "$seed" --optim "$opt" --steps "$2" --quiet \
			--log "$TMP/$1-$2-$seed.log" "$TRAIN"
		end=$(date +%s)
		echo "$seed $1 $2 $(flops "$ck") $(val "$ck") $((end - start))"
	done >"$TMP/seed-$seed.out"
}
for seed in $SEEDS; do
	seed_runs "$seed" &
done
wait
cat "$TMP"/seed-*.out
awk '{ k = $2 "-" ($2 != "adamw" || $3 == '"$STEPS"' ? "steps" : "flops"); s[k] += $5; n[k]++ }
END { printf "mean val_loss: AdamW %.4f at %d steps, %.4f at equal FLOPs; Muon %.4f; modern + Muon %.4f; modern + AdamW %.4f\n",
	s["adamw-steps"] / n["adamw-steps"], '"$STEPS"', s["adamw-flops"] / n["adamw-flops"], s["muon-steps"] / n["muon-steps"],
	s["modern-muon-steps"] / n["modern-muon-steps"], s["modern-adamw-steps"] / n["modern-adamw-steps"] }' \
	"$TMP"/seed-*.out
# Compute to the GPT-2 + AdamW (equal FLOPs) run's final loss, by trailing
# 10-step means of the training loss.
reach() { # LOG TARGET: the first step whose trailing 10-step mean is <= TARGET
	grep -o '"loss":[0-9.]*' "$1" | cut -d: -f2 |
		awk -v t="$2" '{ a[NR] = $1; s += $1; if (NR > 10) s -= a[NR - 10]; if (NR >= 10 && s / 10 <= t) { print NR; exit } }'
}
for seed in $SEEDS; do
	target=$(grep -o '"loss":[0-9.]*' "$TMP/adamw-$eq-$seed.log" | cut -d: -f2 | tail -10 |
		awk '{ s += $1 } END { printf "%.6f", s / NR }')
	for run in muon modern-muon modern-adamw; do
		f=$([ $run = modern-adamw ] && echo "$fa" || echo "$fm")
		at=$(reach "$TMP/$run-$STEPS-$seed.log" "$target")
		if [ -n "$at" ]; then
			echo "seed $seed: $run reaches AdamW's final training loss $target at step $at:" \
				"$(awk -v a="$at" -v f="$f" -v e="$eq" -v g="$fa" 'BEGIN { printf "%.3f", a * f / (e * g) }')x its FLOPs"
		else
			echo "seed $seed: $run does not reach AdamW's final training loss $target in $STEPS steps"
		fi
	done
done

# PyTorch: GPT-2 + AdamW on the same batches, equal FLOPs.
PY=${TORCH_PYTHON:-python3}
if ! "$PY" -c 'import torch, transformers, safetensors' 2>/dev/null; then
	echo "PyTorch comparison skipped: $PY cannot import torch, transformers and safetensors (set TORCH_PYTHON)"
	exit 0
fi
torch_run() {
	local seed=$1
	sluice-train-step -m "$TMP/init-$seed.st" "${MODEL[@]}" --seed "$seed" --steps 0 --n-vocab 1024 \
		--tokenizer shk1024 --quiet --log /dev/null
	"$PY" bench/muon_torch.py "$TRAIN" "$VAL" --steps "$eq" --seed "$seed" --threads 1 --lr 2e-3 --warmup 10 \
		--check "$TMP/init-$seed.st" --check-steps 5 --log "$TMP/torch-$eq-$seed.log" >"$TMP/torch-$seed.out"
}
for seed in $SEEDS; do
	OMP_NUM_THREADS=1 torch_run "$seed" &
done
wait
echo "seed torch_val_loss sluice_val_loss difference modern_muon_val_loss"
for seed in $SEEDS; do
	# The check: 5 steps from sluice's initial parameters, the same losses
	# (to float rounding) as sluice-train-step's first 5 of that seed.
	grep -o '"losses": \[[^]]*\]' "$TMP/torch-$seed.out" | tr -d '[],' | cut -d' ' -f2- |
		paste -d' ' - <(grep -o '"loss":[0-9.]*' "$TMP/adamw-$eq-$seed.log" | cut -d: -f2 | head -5 | paste -sd' ') |
		awk -v s="$seed" '{ d = 0; for (i = 1; i <= 5; i++) { x = $i - $(i + 5); if (x < 0) x = -x; if (x > d) d = x }
			printf "seed %s: first 5 steps from sluice'\''s initial parameters: torch %s %s %s %s %s, sluice %s %s %s %s %s, largest difference %.6f\n",
				s, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, d }'
	tv=$(grep -o '"val_loss": [0-9.]*' "$TMP/torch-$seed.out" | cut -d' ' -f2)
	sv=$(awk -v e="$eq" '$2 == "adamw" && $3 == e { print $5 }' "$TMP/seed-$seed.out")
	mv=$(awk '$2 == "modern-muon" { print $5 }' "$TMP/seed-$seed.out")
	echo "$seed $tv $sv $(awk -v a="$tv" -v b="$sv" 'BEGIN { printf "%+.4f", a - b }') $mv"
done
for seed in $SEEDS; do
	target=$(grep -o '"loss":[0-9.]*' "$TMP/torch-$eq-$seed.log" | cut -d: -f2 | tail -10 |
		awk '{ s += $1 } END { printf "%.6f", s / NR }')
	at=$(reach "$TMP/modern-muon-$STEPS-$seed.log" "$target")
	if [ -n "$at" ]; then
		echo "seed $seed: modern-muon reaches PyTorch AdamW's final training loss $target at step $at:" \
			"$(awk -v a="$at" -v f="$fm" -v e="$eq" -v g="$fa" 'BEGIN { printf "%.3f", a * f / (e * g) }')x its FLOPs"
	else
		echo "seed $seed: modern-muon does not reach PyTorch AdamW's final training loss $target in $STEPS steps"
	fi
done

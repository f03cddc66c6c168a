#!/bin/bash
# muon.sh: GPT-2 config + AdamW against GPT-2 config + Muon on tiny
# Shakespeare, several seeds: validation loss (sluice-eval --loss on the
# held-out 10% of paragraphs) at equal steps, and at equal training FLOPs
# (Muon's Newton-Schulz iterations counted: AdamW gets the steps that cost
# as much as Muon's).
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
flops() { head -c 4000 "$1" | grep -ao '"train_flops":"[^"]*"' | cut -d'"' -f4; }
val() { sluice-eval -m "$1" --tokenizer "$TMP/shk1024.tiktoken" --loss "$VAL" 2>/dev/null | grep -o '"loss": [0-9.]*' | cut -d' ' -f2; }

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
# FLOPs of a step each way, from a one-step run.
sluice-train-step -m "$TMP/fa.st" "${MODEL[@]}" --steps 1 --quiet --log /dev/null "$TRAIN"
sluice-train-step -m "$TMP/fm.st" "${MODEL[@]}" --optim muon --steps 1 --quiet --log /dev/null "$TRAIN"
fa=$(flops "$TMP/fa.st") fm=$(flops "$TMP/fm.st")
eq=$(awk -v a="$fa" -v m="$fm" -v s="$STEPS" 'BEGIN { printf "%d", s * m / a + 0.5 }')
echo "FLOPs a step: AdamW $fa, Muon $fm ($(awk -v a="$fa" -v m="$fm" 'BEGIN { printf "%.3f", m / a }')x);" \
	"AdamW steps of $STEPS Muon steps' FLOPs: $eq"
echo "seed optimizer steps train_flops val_loss seconds"
seed_runs() {
	local seed=$1
	for run in "adamw $STEPS" "adamw $eq" "muon $STEPS"; do
		set -- $run
		ck=$TMP/$1-$2-$seed.st
		rm -f "$ck" "$ck.optim"
		start=$(date +%s)
		sluice-train-step -m "$ck" "${MODEL[@]}" --seed "$seed" --optim "$1" --steps "$2" --quiet \
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
awk '{ k = $2 "-" ($2 == "muon" || $3 == '"$STEPS"' ? "steps" : "flops"); s[k] += $5; n[k]++ }
END { printf "mean val_loss: AdamW %.4f at %d steps, %.4f at equal FLOPs; Muon %.4f\n",
	s["adamw-steps"] / n["adamw-steps"], '"$STEPS"', s["adamw-flops"] / n["adamw-flops"], s["muon-steps"] / n["muon-steps"] }' \
	"$TMP"/seed-*.out

#!/bin/bash
# train_torch.sh: the training step against PyTorch eager, in float and with
# bfloat16 products, taking turns so that both meet the same machine.
#
#   TORCH_PYTHON=python-with-torch bench/train_torch.sh
#
# (Without TORCH_PYTHON only sluice's side runs.)
#
# For each shape (GPT-2 124M and d6, at B x T = 4 x 64 and 8 x 128 or 8 x
# 256) and each of ROUNDS rounds (default 3): bench/train_bench with the
# products in f32 and in bf16 (--matmul bf16's kern_cpu_bf16), then
# bench/train_torch.py on a checkpoint of the same model in f32 and under
# bfloat16 autocast.  STEPS steps after a warm-up (default 4), 2 threads.
# Prints each run's tokens/s, then a table of each side's best and the
# ratios.  The machine's FMA and bfloat16 peaks come first.
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}
STEPS=${STEPS:-4}
ROUNDS=${ROUNDS:-3}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
[ -n "${TORCH_PYTHON:-}" ] || echo "PyTorch: TORCH_PYTHON not set; the anchor will not run"
BIN=$PWD/$O/bin
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $OMP_NUM_THREADS threads"
"$O/bench/train_bench" --peak
for s in d12 d6; do
	"$BIN/sluice-train-step" -m "$TMP/$s.st" --init "$s" --n-vocab 50257 --tokenizer gpt2 --quiet --steps 0
done
# shape NAME: L C H of a preset.
shape() { case $1 in d12) echo "12 768 12" ;; d6) echo "6 384 6" ;; esac; }
runs=("d6 4 64" "d6 8 256" "d12 4 64" "d12 8 128")
for r in $(seq "$ROUNDS"); do
	for run in "${runs[@]}"; do
		set -- $run
		for p in f32 bf16; do
			v=$("$O/bench/train_bench" $(shape $1) 50257 "$3" "$2" "$STEPS" $p | grep -o '[0-9.]* tokens/s' | cut -d' ' -f1)
			echo "round $r $1 $2x$3 sluice-$p $v"
			[ -n "${TORCH_PYTHON:-}" ] || continue
			v=$("$TORCH_PYTHON" bench/train_torch.py "$TMP/$1.st" "$2" "$3" "$STEPS" $p | grep -o '[0-9.]* tokens/s' | cut -d' ' -f1)
			echo "round $r $1 $2x$3 torch-$p $v"
		done
	done
done | tee "$TMP/runs"
echo
echo "| shape | B x T | sluice f32 | sluice bf16 | torch f32 | torch bf16 autocast | sluice bf16 / torch f32 | sluice bf16 / torch bf16 | sluice f32 / torch f32 |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
awk '{ k = $3 " " $4; if ($6 > best[k, $5]) best[k, $5] = $6; if (!(k in seen)) { seen[k]; order[n++] = k } }
	END { for (i = 0; i < n; i++) { k = order[i]; split(k, p, " ");
		sf = best[k, "sluice-f32"]; sb = best[k, "sluice-bf16"]; tf = best[k, "torch-f32"]; tb = best[k, "torch-bf16"];
		if (tf && tb)
			printf "| %s | %s | %.1f | %.1f | %.1f | %.1f | %.2fx | %.2fx | %.2fx |\n", p[1] == "d12" ? "GPT-2 124M" : "d6",
				p[2], sf, sb, tf, tb, sb / tf, sb / tb, sf / tf
		else
			printf "| %s | %s | %.1f | %.1f | - | - | - | - | - |\n", p[1] == "d12" ? "GPT-2 124M" : "d6", p[2], sf, sb } }' "$TMP/runs"

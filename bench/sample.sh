#!/bin/bash
# sample.sh: generation speed (bench/sample_bench): tokens/s with the
# key/value cache at batch 1, 16 and 64, weights stored as f32, bf16 and
# int8, greedy, NEW new tokens (default 120) from a one-token prompt, for
# the d6 and GPT-2 124M (d12) shapes with random weights; and, where
# TORCH_PYTHON names a Python with torch, transformers and safetensors
# (a temporary environment, never CI), PyTorch's model.generate on the same
# weights and shapes, run right after each sluice figure.  Also the memory
# bandwidth of the machine (bench/bandwidth), for the bound at batch 1.
# Then both again sampling at temperature 1 (f32), as RL's rollouts do.
# A short run of each shape first, untimed, warms the machine up (the
# first figure of a cold run came out 30% low).
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}
NEW=${NEW:-120}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $OMP_NUM_THREADS threads; load $(cut -d' ' -f1-3 /proc/loadavg)"
"$O/bench/bandwidth"
for shape in "6 384 6" "12 768 12"; do
	set -- $shape
	"$O/bench/sample_bench" "$@" 50257 8 f32 >/dev/null
	"$O/bench/sample_bench" -o "$TMP/d$1.safetensors" "$@" 50257 "$NEW"
	if [ -n "${TORCH_PYTHON:-}" ]; then
		"$TORCH_PYTHON" bench/sample_torch.py "$TMP/d$1.safetensors" "$NEW" 1 16 64
	fi
	# Sampling at temperature 1, as RL's rollouts do (f32 weights).
	"$O/bench/sample_bench" -t 1 "$@" 50257 "$NEW" f32
	if [ -n "${TORCH_PYTHON:-}" ]; then
		"$TORCH_PYTHON" bench/sample_torch.py -t 1 "$TMP/d$1.safetensors" "$NEW" 1 16 64
	fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

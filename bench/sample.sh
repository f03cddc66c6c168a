#!/bin/bash
# sample.sh: generation speed (bench/sample_bench): tokens/s with the
# key/value cache at batch 1 and 16, and against recomputing the sequence
# for every token, for the d6 and GPT-2 124M (d12) shapes, 256 new tokens,
# 2 threads.
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}
NEW=${NEW:-256}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $OMP_NUM_THREADS threads"
"$O/bench/sample_bench" 6 384 6 50257 "$NEW"
"$O/bench/sample_bench" 12 768 12 50257 "$NEW"

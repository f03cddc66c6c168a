#!/bin/bash
# train-mpi.sh: sluice-train-step tokens/s on this machine for one step of
# the same global batch taken three ways: 1 process x 1 thread, 1 process x
# 2 threads, and 2 MPI ranks x 1 thread (each rank half the batch; the
# gradients summed in rank order, each rank summing its share).  Then the
# bytes a step moves to sum GPT-2 124M's gradients over N ranks.
#
# MODEL (default d6), T (default 128), B (global batch, default 8), STEPS
# (default 12; the first 2 are not counted).  Needs an MPI build and mpirun.
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}
MODEL=${MODEL:-d6}
T=${T:-128}
B=${B:-8}
STEPS=${STEPS:-12}
BIN=$PWD/$O/bin
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export OMPI_MCA_btl_vader_single_copy_mechanism=none
[ -e "$O/mpi-1.stamp" ] && command -v mpirun >/dev/null || { echo "needs an MPI build and mpirun (make mpi)" >&2; exit 1; }

awk -f scripts/paragraphs.awk data/tinyshakespeare.txt >"$TMP/shk.jsonl"
"$BIN/sluice-tokenize" -e gpt2 --drop-text -o "$TMP/shk.tok" "$TMP/shk.jsonl" 2>/dev/null
"$BIN/sluice-shard" --quiet -T "$T" -o "$TMP/sh" "$TMP/shk.tok"
echo "model $MODEL, T $T, global batch $B, $((STEPS - 2)) timed steps; $(nproc) cores; load: $(uptime | sed 's/.*load average: //')"

# rate LOG: median tokens/s of the steps after the first two.
rate() { grep -o '"tokens_per_s":[0-9.]*' "$1" | cut -d: -f2 | tail -n +3 | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
run() { # run NAME THREADS RANKS
	local name=$1 j=$2 np=$3 flags="--init $MODEL --ctx $T --steps $STEPS --lr 1e-3 -j $2 --quiet"
	rm -f "$TMP/m.st" "$TMP/m.st.optim"
	if [ "$np" = 1 ]; then
		OMP_NUM_THREADS=$j "$BIN/sluice-train-step" -m "$TMP/m.st" -B "$B" $flags --log "$TMP/$name.log" "$TMP/sh/train-00000.slc"
	else
		mpirun --allow-run-as-root --oversubscribe -np "$np" -x OMP_NUM_THREADS="$j" "$BIN/sluice-train-step" \
			-m "$TMP/m.st" -B $((B / np)) $flags --log "$TMP/$name.log" "$TMP/sh/train-00000.slc"
	fi
	echo "$name: $(rate "$TMP/$name.log") tokens/s"
}
run "1 rank x 1 thread" 1 1
run "1 rank x 2 threads" 2 1
run "2 ranks x 1 thread" 1 2

# GPT-2 124M: 124,439,808 float gradients a step, 497.8 MB.  Each rank
# receives the other ranks' values of its share, (N-1)/N of the gradients,
# then the other shares' sums, (N-1)/N again; summing all on one rank
# (the first implementation) took in (N-1) x the gradients there.
awk 'BEGIN {
	g = 124439808 * 4 / 1e6
	printf "gradient sum per step, GPT-2 124M (%.1f MB of float gradients):\n", g
	printf "%5s %26s %28s %24s\n", "ranks", "share sums, each rank (MB)", "one rank sums all, there (MB)", "ring all-reduce, each (MB)"
	for (n = 2; n <= 64; n *= 2)
		printf "%5d %26.0f %28.0f %24.0f\n", n, 2 * (n - 1) / n * g, (n - 1) * g, 2 * (n - 1) / n * g
}'

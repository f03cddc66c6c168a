# train-mpi.sh: data-parallel sluice-train-step under mpirun.  Two ranks of
# micro-batch B match one process of 2B over 20 steps (losses and final
# parameters within 1e-4; the gradients are summed in rank order, so the
# only difference is where the two halves' sums are rounded); a checkpoint
# written by two ranks resumes on one and on two (on two, byte for byte as
# an uninterrupted run); a rank that fails (a missing shard, a damaged one)
# stops both with its message and leaves the checkpoint as it was.  The
# optimizer state is sharded (each rank holds half the moments), so the
# resumes also check that a save gathers it whole.
# Skipped, visibly, without an MPI build or mpirun.
. "$(dirname "$0")/../lib.sh"

if [ ! -e "$O/mpi-1.stamp" ] || ! command -v mpirun >/dev/null 2>&1; then
	echo "# skip: sluice-train-step built without MPI or no mpirun (Debian: libopenmpi-dev openmpi-bin; make mpi)"
	exit 0
fi
# OpenMPI as root, two ranks on however many cores, no single-copy shared
# memory (refused in many containers); the sanitizer build does not check
# OpenMPI's own leaks.
export OMPI_MCA_btl_vader_single_copy_mechanism=none ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0
MPIRUN="mpirun --allow-run-as-root --oversubscribe -np 2 -x OMP_NUM_THREADS=1 -x ASAN_OPTIONS -x PATH"
if ! timeout 120 $MPIRUN true >"$TMP/probe" 2>&1; then
	echo "# skip: mpirun cannot start two processes here: $(grep -v '^[- ]*$' "$TMP/probe" | head -2 | tr '\n' ' ')"
	exit 0
fi

awk -f scripts/paragraphs.awk data/tinyshakespeare.txt | head -3000 >"$TMP/shk.jsonl"
sluice-tokenize -e gpt2 --drop-text -o "$TMP/shk.tok" "$TMP/shk.jsonl" 2>/dev/null
sluice-shard --quiet -T 64 -o "$TMP/sh" "$TMP/shk.tok" 2>/dev/null
D=$TMP/sh/train-00000.slc
FLAGS="--lr 1e-3 --warmup 5 --total-steps 20 -j 1 --quiet"

# losses LOG: the loss of each step, one a line.
losses() { grep -o '"loss":[0-9.]*' "$1" | cut -d: -f2; }
# maxdiff A B: the largest difference of two columns of numbers.
maxdiff() { paste "$1" "$2" | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g\n", m + 0 }'; }
# within X LIMIT: X <= LIMIT.
within() { awk -v x="$1" -v l="$2" 'BEGIN { exit !(x <= l) }'; }

expect "one process, -B 8, 20 steps" 0 \
	sluice-train-step -m "$TMP/one.st" --init d1 --ctx 64 -B 8 --steps 20 $FLAGS --log "$TMP/one.log" "$D"
expect "mpirun -np 2, -B 4, 20 steps" 0 \
	$MPIRUN sluice-train-step -m "$TMP/two.st" --init d1 --ctx 64 -B 4 --steps 20 $FLAGS --log "$TMP/two.log" "$D"
# agree NAME A B: runs A and B ($TMP/A.log, $TMP/A.st, ...) logged 20
# steps each, with losses and final parameters within 1e-4.
agree() {
	losses "$TMP/$2.log" >"$TMP/$2.loss"
	losses "$TMP/$3.log" >"$TMP/$3.loss"
	local dl dp
	dl=$(maxdiff "$TMP/$2.loss" "$TMP/$3.loss")
	dp=$("$O/tests/helpers/ckptdiff" "$TMP/$2.st" "$TMP/$3.st" | sed 's/.*max_abs_diff \([^ ]*\).*/\1/')
	[ "$(wc -l <"$TMP/$2.loss")" = 20 ] && [ "$(wc -l <"$TMP/$3.loss")" = 20 ] && within "$dl" 1e-4 &&
		within "${dp:-1}" 1e-4 && ok "$1 (losses within $dl, parameters within $dp)" ||
		not_ok "$1" "losses within $dl, parameters within ${dp:-?}"
}
agree "2 ranks x B = 1 x 2B over 20 steps" one two
grep -q '"sequences":8,' "$TMP/two.log" && [ "$(grep -c . "$TMP/two.log")" = 20 ] &&
	ok "rank 0 alone logs, each step counting both ranks' sequences" ||
	not_ok "rank 0 alone logs, each step counting both ranks' sequences" "$(head -2 "$TMP/two.log")"

# Muon transforms whole matrices: its state is not sharded, every rank
# takes the whole step on the summed gradients.
expect "--optim muon, one process, -B 8" 0 sluice-train-step -m "$TMP/mu1.st" --init d1 --ctx 64 -B 8 --steps 20 \
	$FLAGS --optim muon --log "$TMP/mu1.log" "$D"
expect "--optim muon, mpirun -np 2, -B 4" 0 $MPIRUN sluice-train-step -m "$TMP/mu2.st" --init d1 --ctx 64 -B 4 \
	--steps 20 $FLAGS --optim muon --log "$TMP/mu2.log" "$D"
agree "--optim muon: 2 ranks x B = 1 x 2B over 20 steps" mu1 mu2
# The state saved by two ranks is the whole momentum: ten more steps on
# one process from each checkpoint agree.
sluice-train-step -m "$TMP/mu1.st" -B 8 --steps 10 --total-steps 30 -j 1 --quiet --optim muon "$D" 2>/dev/null
sluice-train-step -m "$TMP/mu2.st" -B 8 --steps 10 --total-steps 30 -j 1 --quiet --optim muon "$D" 2>/dev/null
dp=$("$O/tests/helpers/ckptdiff" "$TMP/mu1.st" "$TMP/mu2.st" | sed 's/.*max_abs_diff \([^ ]*\).*/\1/')
within "${dp:-1}" 1e-4 && ok "--optim muon: the two-rank checkpoint resumes on one process (parameters within $dp)" ||
	not_ok "--optim muon: the two-rank checkpoint resumes on one process" "parameters within ${dp:-?}"

# Three ranks: shares of unequal length (the parameter count is not a
# multiple of 3), three values to each sum; 3 x 2 sequences = 1 x 6, and
# a second run gives the same bytes (the sums' order is fixed).
MPIRUN3=${MPIRUN/-np 2/-np 3}
expect "one process, -B 6, 20 steps" 0 \
	sluice-train-step -m "$TMP/six.st" --init d1 --ctx 64 -B 6 --steps 20 $FLAGS --log "$TMP/six.log" "$D"
for run in three three2; do
	expect "mpirun -np 3, -B 2, 20 steps ($run)" 0 \
		$MPIRUN3 sluice-train-step -m "$TMP/$run.st" --init d1 --ctx 64 -B 2 --steps 20 $FLAGS "$D"
done
"$O/tests/helpers/ckptdiff" "$TMP/six.st" "$TMP/three.st" >"$TMP/d3"
dp=$(sed 's/.*max_abs_diff \([^ ]*\).*/\1/' "$TMP/d3")
within "${dp:-1}" 1e-4 && ok "3 ranks x 2 = 1 x 6 over 20 steps (parameters within $dp)" ||
	not_ok "3 ranks x 2 = 1 x 6 over 20 steps" "$(cat "$TMP/d3")"
cmp -s "$TMP/three.st" "$TMP/three2.st" && cmp -s "$TMP/three.st.optim" "$TMP/three2.st.optim" &&
	ok "two runs on 3 ranks: the same checkpoint and optimizer state, byte for byte" ||
	not_ok "two runs on 3 ranks: the same checkpoint and optimizer state, byte for byte"

# Resume: 10 steps on two ranks, then 10 more on two and on one.
expect "mpirun -np 2: 10 steps" 0 \
	$MPIRUN sluice-train-step -m "$TMP/half.st" --init d1 --ctx 64 -B 4 --steps 10 $FLAGS "$D"
for f in half.st half.st.optim; do cp "$TMP/$f" "$TMP/r2${f#half}"; cp "$TMP/$f" "$TMP/r1${f#half}"; done
expect "resumed on two ranks" 0 $MPIRUN sluice-train-step -m "$TMP/r2.st" -B 4 --steps 10 $FLAGS "$D"
same "resumed on two ranks: the uninterrupted run's checkpoint, byte for byte" "$TMP/r2.st" "$TMP/two.st"
expect "resumed on one process" 0 \
	sluice-train-step -m "$TMP/r1.st" -B 8 --steps 10 $FLAGS --log "$TMP/r1.log" "$D"
losses "$TMP/r1.log" >"$TMP/r1.loss"
tail -10 "$TMP/two.loss" >"$TMP/two.tail"
dl=$(maxdiff "$TMP/r1.loss" "$TMP/two.tail")
dp=$("$O/tests/helpers/ckptdiff" "$TMP/r1.st" "$TMP/two.st" | sed 's/.*max_abs_diff \([^ ]*\).*/\1/')
[ "$(wc -l <"$TMP/r1.loss")" = 10 ] && within "$dl" 1e-4 && within "$dp" 1e-4 &&
	ok "resumed on one process: steps 11-20 of the two-rank run (losses within $dl, parameters within $dp)" ||
	not_ok "resumed on one process: steps 11-20 of the two-rank run" "losses within $dl, parameters within ${dp:-?}"

# A failing rank: its own input (by rank) missing, then cut short.
cp "$TMP/half.st" "$TMP/f.st" && cp "$TMP/half.st.optim" "$TMP/f.st.optim"
cp "$D" "$TMP/in-0.slc"
per_rank() {
	$MPIRUN sh -c 'exec sluice-train-step -m "$1" -B 4 --steps 10 --total-steps 20 -j 1 --quiet "$2/in-$OMPI_COMM_WORLD_RANK.slc"' \
		sh "$TMP/f.st" "$TMP"
}
per_rank >"$TMP/out" 2>"$TMP/err"
st=$?
[ "$st" -ne 0 ] && grep -q 'in-1.slc' "$TMP/err" && cmp -s "$TMP/f.st" "$TMP/half.st" &&
	cmp -s "$TMP/f.st.optim" "$TMP/half.st.optim" &&
	ok "a rank whose shard is missing stops both, with its message; the checkpoint is as it was" ||
	not_ok "a rank whose shard is missing stops both" "exit $st: $(grep -v '^ *$' "$TMP/err" | head -3)"
size=$(stat -c %s "$D")
head -c $((size * 2 / 3)) "$D" >"$TMP/in-1.slc"
per_rank >"$TMP/out" 2>"$TMP/err"
st=$?
[ "$st" -ne 0 ] && grep -q 'in-1.slc' "$TMP/err" && cmp -s "$TMP/f.st" "$TMP/half.st" &&
	cmp -s "$TMP/f.st.optim" "$TMP/half.st.optim" &&
	ok "a rank whose shard is damaged stops both, with its message; the checkpoint is as it was" ||
	not_ok "a rank whose shard is damaged stops both" "exit $st: $(grep -v '^ *$' "$TMP/err" | head -3)"

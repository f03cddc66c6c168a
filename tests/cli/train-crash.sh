#!/bin/bash
# train-crash.sh: sluice-train-step killed with SIGKILL at random moments
# while it trains and saves its checkpoint after every step, then resumed:
# every resume must succeed, and the checkpoint at the end must equal, byte
# for byte, one trained for as many steps without a kill.  Then a save that
# runs out of disk space must leave the old pair as it was.
#
#   KILLS=60 tests/cli/train-crash.sh     (CI; the test suite runs 10)
#   SEED=N                                 the kill delays (default: random)
#   FULL_DISK=limit                        a file size limit instead of a tmpfs
#
# The model is tiny (one layer of 16 channels over 64 token ids), so that a
# step takes well under a millisecond and the time goes to the saves: most
# kills land inside one.
. "$(dirname "$0")/../lib.sh"
KILLS=${KILLS:-10}
SEED=${SEED:-$$}
RANDOM=$SEED
export OMP_NUM_THREADS=1
echo "# $KILLS kills, SEED=$SEED"

# Token documents over 64 ids, sharded at T=16: about 31,000 steps of B=2,
# so that 60 runs of up to 300 ms each, resuming where the last stopped,
# do not reach the end of the data (which would end a run before its kill).
awk 'BEGIN { srand(7); for (d = 0; d < 20000; d++) { n = 20 + int(rand() * 60); s = "{\"tokens\":["
	for (i = 0; i < n; i++) s = s (i ? "," : "") int(rand() * 64); print s "]}" } }' >"$TMP/docs.jsonl"
sluice-shard --quiet --tokenizer tiny --n-vocab 64 --eot 0 -T 16 -o "$TMP/sh" "$TMP/docs.jsonl"
SHARD=$TMP/sh/train-00000.slc
NEW=(--init custom -L 1 -C 16 -H 1 --ctx 16 --n-vocab 64 --tokenizer tiny --total-steps 100000 --lr 1e-3)
RUN=(-j 1 -B 2 --quiet)

# The checkpoint starts at step 0, so that a kill before the first save
# has something to resume.
CK=$TMP/k.st
sluice-train-step "${RUN[@]}" -m "$CK" "${NEW[@]}" --steps 0 2>"$TMP/err" ||
	not_ok "initial checkpoint" "$(cat "$TMP/err")"
killed=0 pending=0 tmps=0 failed=0
for ((i = 0; i < KILLS; i++)); do
	sluice-train-step "${RUN[@]}" -m "$CK" --save-every 1 --steps 100000 "$SHARD" 2>/dev/null &
	pid=$!
	# 1 to 300 ms: from before the first step to a few hundred saves in.
	sleep "$(printf '0.%03d' $((RANDOM % 300 + 1)))"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	[ $? -eq 137 ] && killed=$((killed + 1))
	[ -e "$CK.optim.next" ] && pending=$((pending + 1))
	compgen -G "$CK*.tmp.*" >/dev/null && tmps=$((tmps + 1))
	if ! sluice-train-step "${RUN[@]}" -m "$CK" --steps 2 "$SHARD" 2>"$TMP/err"; then
		failed=$((failed + 1))
		[ $failed -le 3 ] && echo "# resume after kill $((i + 1)) failed: $(head -c 300 "$TMP/err")"
	fi
done
echo "# $killed of $KILLS runs killed; $pending left a pending state, $tmps temporary files"
[ $failed = 0 ] && ok "$KILLS kills during training and saving: every resume succeeds" ||
	not_ok "resume after a kill" "$failed of $KILLS resumes failed"
[ "$killed" -ge $((KILLS * 9 / 10)) ] && ok "the runs were killed, not finished ($killed of $KILLS)" ||
	not_ok "kills" "only $killed of $KILLS runs were killed"
compgen -G "$CK*.tmp.*" >/dev/null && not_ok "temporary files left after a resume's save" "$(ls "$TMP")" ||
	ok "no temporary files left after the last save"

# The end checkpoint: a model and state that load, at some step S, equal to
# S steps without a kill (exact resume; the killed steps are redone).
steps=$(sluice-train-step -m "$CK" --steps 0 2>&1 | grep -o 'model at step [0-9]*' | grep -o '[0-9]*$')
expect "the final checkpoint loads, with its state" 0 sluice-train-step -m "$CK" --steps 0 --quiet
sluice-train-step "${RUN[@]}" -m "$TMP/ref.st" "${NEW[@]}" --steps 0 2>/dev/null
sluice-train-step "${RUN[@]}" -m "$TMP/ref.st" --steps "${steps:-0}" "$SHARD" 2>/dev/null
same "after the kills, the checkpoint of step $steps equals one trained without a kill" "$CK" "$TMP/ref.st"
same "and so does its optimizer state" "$CK.optim" "$TMP/ref.st.optim"

# --- a full disk: a small tmpfs where this can mount one, else a file size
# limit; the model's temporary file fits, the state's does not ---
P=$(stat -c %s "$CK") S=$(stat -c %s "$CK.optim")
FULL=$TMP/full
mkdir -p "$FULL"
if [ "${FULL_DISK:-tmpfs}" = tmpfs ] && [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=$(((2 * P + S + S / 2) / 4096 * 4096)) tmpfs "$FULL" 2>/dev/null; then
	how="a full tmpfs"
	limit=()
	trap 'umount "$FULL" 2>/dev/null; rm -rf "$TMP"' EXIT
else
	how="a file size limit"
	limit=(ulimit -f $(((P + S) / 2 / 1024)))
fi
cp "$CK" "$CK.optim" "$FULL/"
cp "$CK" "$TMP/before.st"
cp "$CK.optim" "$TMP/before.st.optim"
(trap '' XFSZ; ${limit[@]+"${limit[@]}"}; exec sluice-train-step "${RUN[@]}" -m "$FULL/k.st" --steps 1 "$SHARD") \
	>"$TMP/out" 2>"$TMP/err"
status=$?
[ $status = 1 ] && grep -Eq "k.st.optim: (No space left on device|File too large) \(the previous checkpoint is kept\)" "$TMP/err" &&
	ok "$how: exit 1, naming the file that did not fit" || not_ok "$how" "exit $status: $(cat "$TMP/err")"
same "$how: the old model is kept" "$FULL/k.st" "$TMP/before.st"
same "$how: and its optimizer state" "$FULL/k.st.optim" "$TMP/before.st.optim"
[ "$(ls -A "$FULL" | sort | tr '\n' ' ')" = "k.st k.st.optim " ] && ok "$how: no temporary file left" ||
	not_ok "$how: files left" "$(ls -A "$FULL")"
if [ -z "${limit[*]}" ]; then umount "$FULL"; fi

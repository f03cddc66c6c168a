# dedup-kill.sh: sluice-dedup --index killed (SIGKILL) at random moments, over
# and over, then run again.  After every attempt the index may list only
# documents that a completed output holds (kept ones in an output, dropped
# ones in the rejects); in the end every batch's output is the one an
# uninterrupted sequence of runs gives: nothing is lost or doubled.
. "$(dirname "$0")/../lib.sh"
KILLS=${KILLS:-50}
RANDOM=7

# Batches of tiny Shakespeare passages (20 lines), with exact and edited
# copies of earlier passages, some in the same batch, most in later ones.
awk 'NR <= 24000 { p = p $0 " "; if (NR % 20 == 0) { gsub(/["\\]/, "", p); print p; p = "" } }' \
	data/tinyshakespeare.txt >"$TMP/pass.txt"
awk '{ print } NR % 4 == 0 { print prev } NR % 6 == 0 { n = split($0, w, " "); w[int(n / 2)] = "zounds"; s = w[1];
	for (i = 2; i <= n; i++) s = s " " w[i]; print s } { prev = $0 }' "$TMP/pass.txt" |
	awk '{ printf "{\"id\": \"d%d\", \"text\": \"%s\"}\n", NR, $0 }' >"$TMP/all.jsonl"
split -n l/8 -d "$TMP/all.jsonl" "$TMP/batch."
BATCHES=$(cd "$TMP" && ls batch.0*)
OPTS="--threshold 0.8"

# The reference: one uninterrupted run per batch.
mkdir "$TMP/ref" "$TMP/run"
start=$(date +%s%N)
for b in $BATCHES; do
	# shellcheck disable=SC2086
	sluice-dedup $OPTS --index "$TMP/ref/idx" -o "$TMP/ref/$b.slc" --rejects "$TMP/ref/$b.rej" "$TMP/$b" 2>/dev/null ||
		not_ok "reference run $b"
done
# Kill within about the time a run takes (no check depends on it).
span=$((($(date +%s%N) - start) / 8000 + 1000))
[ "$(sluice-cat "$TMP/ref/"*.rej | wc -l)" -gt 50 ] && ok "the batches have duplicates across them" ||
	not_ok "the batches have duplicates across them"

ids() { grep -o '"id": "[^"]*"' | sort -u; }

# check: the documents the index lists are in completed outputs.
check() {
	[ -e "$TMP/run/idx" ] || return 0
	sluice-cat --check "$TMP/run/idx" >/dev/null 2>&1 || { echo "index not whole"; return 1; }
	sluice-cat "$TMP/run/idx" | grep -v '"dropped"' | ids >"$TMP/ikept"
	sluice-cat "$TMP/run/idx" | grep '"dropped"' | ids >"$TMP/idrop"
	: >"$TMP/okept"; : >"$TMP/odrop"
	for f in "$TMP/run/"*.slc "$TMP/run/"*.rej; do
		[ -e "$f" ] || continue
		sluice-cat --check "$f" >/dev/null 2>&1 || { echo "$f: incomplete output in place"; return 1; }
	done
	cat "$TMP/run/"*.slc 2>/dev/null | sluice-cat 2>/dev/null | ids >"$TMP/okept"
	cat "$TMP/run/"*.rej 2>/dev/null | sluice-cat 2>/dev/null | ids >"$TMP/odrop"
	[ -z "$(comm -23 "$TMP/ikept" "$TMP/okept")" ] || { echo "kept in the index, in no output: $(comm -23 "$TMP/ikept" "$TMP/okept" | head -3)"; return 1; }
	[ -z "$(comm -23 "$TMP/idrop" "$TMP/odrop")" ] || { echo "dropped in the index, in no rejects: $(comm -23 "$TMP/idrop" "$TMP/odrop" | head -3)"; return 1; }
}

kills=0 attempts=0 reruns=0 bad=""
per=$(((KILLS + 7) / 8))
for b in $BATCHES; do
	k=0
	while [ "$k" -lt "$per" ]; do
		# shellcheck disable=SC2086
		sluice-dedup $OPTS --index "$TMP/run/idx" -o "$TMP/run/$b.slc" --rejects "$TMP/run/$b.rej" "$TMP/$b" \
			2>/dev/null &
		pid=$!
		sleep "$(printf '0.%06d' $((RANDOM * 32768 % span)))"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		rc=$?
		attempts=$((attempts + 1))
		[ "$rc" -eq 137 ] && k=$((k + 1)) && kills=$((kills + 1))
		[ "$rc" -eq 137 ] || [ "$rc" -eq 0 ] || bad="$bad $b: exit $rc;"
		why=$(check) || bad="$bad $b after attempt $attempts: $why;"
	done
	# then the run to its end, as a make target would be rerun
	# shellcheck disable=SC2086
	sluice-dedup $OPTS --index "$TMP/run/idx" -o "$TMP/run/$b.slc" --rejects "$TMP/run/$b.rej" \
		--stats "$TMP/st.json" "$TMP/$b" 2>/dev/null || bad="$bad $b: the rerun failed;"
	grep -q '"rerun": 1' "$TMP/st.json" && reruns=$((reruns + 1))
	why=$(check) || bad="$bad $b after its rerun: $why;"
done
[ "$kills" -ge "$KILLS" ] && ok "$kills runs killed ($attempts attempts; $reruns final runs repeated a finished one)" ||
	not_ok "runs killed" "$kills of $KILLS"
[ -z "$bad" ] && ok "the index never lists a document no complete output holds" || not_ok "index against outputs" "$bad"
differ=""
for b in $BATCHES; do
	cmp -s "$TMP/ref/$b.slc" "$TMP/run/$b.slc" && cmp -s "$TMP/ref/$b.rej" "$TMP/run/$b.rej" || differ="$differ $b"
done
[ -z "$differ" ] && ok "every batch's output and rejects are those of uninterrupted runs" ||
	not_ok "outputs after kills" "$differ"
same "the index too" "$TMP/ref/idx" "$TMP/run/idx"
[ -z "$(ls "$TMP/run" | grep '^idx\.tmp\.')" ] && ok "no temporary index files left" ||
	not_ok "no temporary index files left" "$(ls "$TMP/run" | grep '^idx\.tmp\.' | head -3)"

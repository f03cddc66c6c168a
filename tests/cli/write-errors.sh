#!/bin/bash
# write-errors.sh: outputs that cannot be written (a full disk: /dev/full,
# a file size limit, a small tmpfs where this can mount one) give exit 1 and
# a message naming the file, and leave no output a reader takes for whole:
# sluice-tokenize --train's vocabulary, sluice-train-step --log,
# sluice-shard --stats.
. "$(dirname "$0")/../lib.sh"
export OMP_NUM_THREADS=1

# full_run CMD...: CMD with a file size limit of 1 KiB, writes past it
# failing with EFBIG (SIGXFSZ ignored), its output in $TMP/out and $TMP/err.
full_run() { (trap '' XFSZ; ulimit -f 1; exec "$@") >"$TMP/out" 2>"$TMP/err"; }

# --- sluice-tokenize --train: the vocabulary is replaced whole or not at all ---
head -c 200000 data/tinyshakespeare.txt >"$TMP/shk.txt"
expect "--train a vocabulary" 0 sluice-tokenize --train --vocab-size 300 -o "$TMP/v" "$TMP/shk.txt"
cp "$TMP/v.tiktoken" "$TMP/v0.tiktoken"
cp "$TMP/v.json" "$TMP/v0.json"
full_run sluice-tokenize --train --vocab-size 400 -o "$TMP/v" "$TMP/shk.txt"
status=$?
[ $status = 1 ] && grep -q "v.tiktoken: File too large" "$TMP/err" &&
	ok "--train over a vocabulary, disk full: exit 1 naming the file" ||
	not_ok "--train, disk full" "exit $status: $(tail -c 300 "$TMP/err")"
same "--train, disk full: the old vocabulary is kept" "$TMP/v.tiktoken" "$TMP/v0.tiktoken"
same "--train, disk full: and its config" "$TMP/v.json" "$TMP/v0.json"
full_run sluice-tokenize --train --vocab-size 300 -o "$TMP/w" "$TMP/shk.txt"
status=$?
[ $status = 1 ] && ! compgen -G "$TMP/w*" >/dev/null && ! compgen -G "$TMP/v*.tmp.*" >/dev/null &&
	ok "--train to a new prefix, disk full: exit 1, no file left, not even an empty one" ||
	not_ok "--train new prefix, disk full" "exit $status: $(ls "$TMP"/w* 2>&1)"
MNT=$TMP/mnt
mkdir "$MNT"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=4k tmpfs "$MNT" 2>/dev/null; then
	trap 'umount "$MNT" 2>/dev/null; rm -rf "$TMP"' EXIT
	expect_err "--train onto a full tmpfs: exit 1" 1 "mnt/v.tiktoken: No space left on device" \
		sluice-tokenize --train --vocab-size 1000 -o "$MNT/v" "$TMP/shk.txt"
	[ -z "$(ls -A "$MNT")" ] && ok "--train onto a full tmpfs: nothing left there" || not_ok "tmpfs" "$(ls -l "$MNT")"
	umount "$MNT"
else
	echo "# skip: cannot mount a tmpfs here; the file size limit above stands for a full disk"
fi

# --- sluice-train-step --log ---
awk 'BEGIN { srand(3); for (d = 0; d < 100; d++) { s = "{\"tokens\":["
	for (i = 0; i < 40; i++) s = s (i ? "," : "") int(rand() * 64); print s "]}" } }' >"$TMP/docs.jsonl"
sluice-shard --quiet --tokenizer tiny --n-vocab 64 --eot 0 -T 16 -o "$TMP/sh" "$TMP/docs.jsonl"
SHARD=$TMP/sh/train-00000.slc
RUN=(-j 1 -B 2 --quiet)
expect "a tiny model" 0 sluice-train-step "${RUN[@]}" -m "$TMP/m.st" --init custom -L 1 -C 16 -H 1 --ctx 16 \
	--steps 2 "$SHARD"
cp "$TMP/m.st" "$TMP/m0.st"
cp "$TMP/m.st.optim" "$TMP/m0.st.optim"
expect_err "--log /dev/full: exit 1" 1 "/dev/full: write error: No space left on device" \
	sluice-train-step "${RUN[@]}" -m "$TMP/m.st" --steps 3 --log /dev/full "$SHARD"
same "--log /dev/full: checkpoint left as it was" "$TMP/m.st" "$TMP/m0.st"
same "--log /dev/full: and its optimizer state" "$TMP/m.st.optim" "$TMP/m0.st.optim"
expect_err "--log /dev/full with --val only at the end: exit 1" 1 "/dev/full: write error" \
	sluice-train-step "${RUN[@]}" -m "$TMP/m.st" --steps 0 --val "$SHARD" --log /dev/full
expect "--log to a file" 0 sluice-train-step "${RUN[@]}" -m "$TMP/m.st" --steps 3 --log "$TMP/m.log" "$SHARD"
[ "$(grep -c '"step":' "$TMP/m.log")" = 3 ] && ok "--log to a file: a line per step" || not_ok "--log lines"
expect "--log default (standard error) full: training goes on" 0 \
	bash -c 'sluice-train-step -j 1 -B 2 -m "$1" --steps 1 "$2" 2>/dev/full' - "$TMP/m.st" "$SHARD"

# --- sluice-shard --stats: written before the manifest ---
expect_err "shard --stats /dev/full: exit 1" 1 "/dev/full: write error: No space left on device" \
	sluice-shard --quiet --tokenizer tiny --n-vocab 64 --eot 0 -T 16 -o "$TMP/s1" --stats /dev/full "$TMP/docs.jsonl"
[ -e "$TMP/s1/train-00000.slc" ] && [ ! -e "$TMP/s1/manifest.json" ] &&
	ok "shard --stats /dev/full: no manifest, as after any error" || not_ok "manifest after --stats failure" "$(ls "$TMP/s1")"
expect "shard --stats FILE" 0 sluice-shard --quiet --tokenizer tiny --n-vocab 64 --eot 0 -T 16 -o "$TMP/s1" \
	--stats "$TMP/s1.json" "$TMP/docs.jsonl"
[ -e "$TMP/s1/manifest.json" ] && grep -q '"train_sequences": ' "$TMP/s1.json" &&
	ok "shard --stats FILE: counts and manifest written" || not_ok "--stats FILE" "$(cat "$TMP/s1.json")"
same "shard: the same manifest as without --stats" "$TMP/s1/manifest.json" "$TMP/sh/manifest.json"

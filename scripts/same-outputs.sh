#!/bin/bash
# same-outputs.sh OLD_BIN NEW_BIN: run a fixed set of commands over the
# bundled data with each directory's tools and compare what they write
# (streams, shards, manifests, checkpoints, JSONL) byte for byte.  For
# changes that must not change any output, such as reorganising code.
# Exits 0 when every file is identical.
set -u
[ $# -eq 2 ] || { echo "usage: $0 OLD_BIN NEW_BIN" >&2; exit 2; }
cd "$(dirname "$0")/.." || exit 2
OLD=$(cd "$1" && pwd) NEW=$(cd "$2" && pwd) || exit 2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

run() { # run BIN DIR: the commands, with BIN's tools, writing into DIR
	local B=$1 D=$2
	mkdir -p "$D"
	export OMP_NUM_THREADS=2
	{
	"$B/sluice-cat" -r data/gsm8k/test.jsonl -o "$D/test.slc"
	"$B/sluice-cat" -J "$D/test.slc" > "$D/test.jsonl"
	"$B/sluice-dedup" --quiet -o "$D/dedup.slc" --rejects "$D/dedup-rej.slc" --stats "$D/dedup.json" \
		data/gsm8k/train.jsonl data/gsm8k/train.jsonl
	"$B/sluice-synth-filter" --quiet -p fineweb -J -o "$D/filtered.jsonl" --rejects "$D/filter-rej.slc" \
		--stats "$D/filter.json" data/gsm8k/train.jsonl
	"$B/sluice-tokenize" --quiet -e gpt2 --eot --drop-text -j 2 -o "$D/shk.tok" data/tinyshakespeare.txt
	"$B/sluice-tokenize" --quiet -e gpt2 --field question -J -o "$D/q.jsonl" data/gsm8k/test.jsonl
	"$B/sluice-tokenize" --quiet -e gpt2 -d -t -o "$D/shk.txt" "$D/shk.tok"
	"$B/sluice-shard" --quiet -T 64 --val 0.05 --seed 7 -o "$D/shards" "$D/shk.tok"
	"$B/sluice-train-step" --quiet -m "$D/m.st" --init custom -L 2 -C 32 -H 2 --ctx 64 -B 4 --lr 1e-3 \
		--steps 3 --log /dev/null -j 2 "$D/shards/train-00000.slc"
	"$B/sluice-train-step" --quiet -m "$D/m.st" -B 4 --steps 2 --log /dev/null -j 2 "$D/shards/train-00000.slc"
	"$B/sluice-eval" --quiet -m "$D/m.st" --loss -j 2 -J -o "$D/eval.jsonl" "$D/shards/val-00000.slc"
	"$B/sluice-eval" --quiet -m "$D/m.st" --score -j 2 -o "$D/scored.slc" "$D/shards/val-00000.slc"
	"$B/sluice-cat" -n 20 -J -o "$D/first.jsonl" "$D/test.slc"
	"$B/sluice-sample" --quiet -m "$D/m.st" --tokenizer gpt2 --field question -n 2 -N 8 -s 5 -j 2 --too-long skip \
		-J -o "$D/sample.jsonl" "$D/first.jsonl"
	} 2> "$D/stderr.log"
}

# Both write into the same directory, as paths appear in some outputs.
run "$OLD" "$TMP/run"; mv "$TMP/run" "$TMP/old"
run "$NEW" "$TMP/run"; mv "$TMP/run" "$TMP/new"
fail=0 n=0
while IFS= read -r f; do
	n=$((n + 1))
	if ! cmp -s "$TMP/old/$f" "$TMP/new/$f"; then
		echo "differs: $f"
		fail=1
	fi
done < <(cd "$TMP/old" && find . -type f ! -name stderr.log | sort)
diff <(cd "$TMP/old" && find . -type f | sort) <(cd "$TMP/new" && find . -type f | sort) >/dev/null || {
	echo "the two runs wrote different sets of files"; fail=1; }
[ -s "$TMP/new/stderr.log" ] && { echo "messages of the new tools:"; cat "$TMP/new/stderr.log"; }
[ "$n" -gt 10 ] || { echo "only $n files written: see the commands' errors"; cat "$TMP/new/stderr.log"; fail=1; }
[ $fail = 0 ] && echo "same outputs: $n files identical"
exit $fail

# dataset.sh: pipelines/dataset.mk over 24 raw shards cut from the Wikipedia
# sample: -j2 builds what -j1 does, byte for byte; touching one raw shard
# reruns its chain, the merge and the pack and nothing else; builds killed
# (SIGKILL to make's process group) at spread-out moments leave no file
# that looks finished and, restarted, end as the uninterrupted build; a
# document copied into another shard is dropped once, as one pass over the
# concatenated shards drops it.
. "$(dirname "$0")/../lib.sh"
KILLS=${KILLS:-10}
RANDOM=19
# The make running the tests must not lend its jobs to these builds.
unset MAKEFLAGS MFLAGS MAKELEVEL

# 24 raw shards of about 63 articles; the first article of shard 03 that the
# filter keeps is copied, under another id, to the end of shard 17.
mkdir "$TMP/raw"
zstd -dc tests/data/enwiki/shards.jsonl.zst >"$TMP/all.jsonl"
split -n l/24 -d -a 2 --additional-suffix=.jsonl "$TMP/all.jsonl" "$TMP/raw/wiki-"
orig=$(sluice-synth-filter -p fineweb -J --quiet "$TMP/raw/wiki-03.jsonl" 2>/dev/null | head -1)
orig_id=$(printf '%s\n' "$orig" | grep -o '^{"id": "[^"]*"' | cut -d'"' -f4)
printf '%s\n' "$orig" | sed 's/^{"id": "[^"]*"/{"id": "copy-of-shard-03"/' >>"$TMP/raw/wiki-17.jsonl"
zstd -q --rm "$TMP/raw/"*.jsonl
[ -n "$orig_id" ] && [ "$(ls "$TMP/raw" | wc -l)" = 24 ] && ok "24 raw shards, one document copied across shards" ||
	not_ok "24 raw shards, one document copied across shards"

DS=$TMP/ds
build() { # build ARGS...: the dataset under $DS
	make -f pipelines/dataset.mk SLUICE_BIN="$BIN" RAW="$TMP/raw" DATASET="$DS" SEQ_LEN=128 \
		SHARD_FLAGS='--val 0.05 --shard-tokens 20K' "$@"
}
# same_shards NAME DIR: DIR/shards holds the reference's files, byte for byte.
same_shards() {
	local f bad=""
	[ "$(ls "$2/shards")" = "$(ls "$TMP/ref")" ] || bad="files $(ls "$2/shards" | tr '\n' ' ')"
	for f in "$TMP/ref/"*; do
		[ -n "$bad" ] && break
		cmp -s "$f" "$2/shards/${f##*/}" || bad="${f##*/} differs"
	done
	if [ -z "$bad" ]; then ok "$1"; else not_ok "$1" "$bad"; fi
}
# jobs_run: the targets a `make --trace` output updated, one a line, sorted;
# the names list and each shard's lines of the drop list belong to the
# merge and write nothing when unchanged.
jobs_run() {
	sed -n "s|^[^ ]*: update target '$DS/\([^']*\)'.*|\1|p" | grep -v -e '^names$' -e '^keys/' | sort
}

# -j1, then from scratch -j2.
expect "build -j1" 0 build -j1 dataset-report
cp "$TMP/out" "$TMP/report"
mkdir "$TMP/ref" && cp "$DS/shards/"* "$TMP/ref/"
[ "$(ls "$TMP/ref" | grep -c '^train-')" -ge 2 ] && [ -s "$TMP/ref/manifest.json" ] &&
	ok "shards and manifest written" || not_ok "shards and manifest written" "$(ls "$TMP/ref")"
rm -rf "$DS"
start=$(date +%s%N)
expect "build -j2" 0 build -j2 dataset
span=$((($(date +%s%N) - start) / 1000000))
same_shards "-j2 gives the shards and manifest of -j1" "$DS"

# Per-stage counts: 1,512 articles, the copy dropped as an exact duplicate,
# the six planted near duplicates dropped.
rep=$(cat "$TMP/report")
grep -q '"filter": {"jobs": 24, "records": 1512, "kept": [0-9]*, "dropped": [0-9]*, "drop:' <<<"$rep" &&
	grep -q '"apply": {"jobs": 24, "records": [0-9]*, "kept": [0-9]*, "dropped_exact": 1, "dropped_near": 6}' <<<"$rep" &&
	grep -q '"pack": {"jobs": 1, "records": ' <<<"$rep" && ok "report: counts per stage" ||
	not_ok "report: counts per stage" "$rep"
kept=$(grep -o '"filter": {[^}]*' <<<"$rep" | grep -o '"kept": [0-9]*' | cut -d' ' -f2)
grep -q "\"signatures\": {\"jobs\": 24, \"records\": $kept," <<<"$rep" &&
	ok "report: the filter's kept documents are the ones signed" ||
	not_ok "report: the filter's kept documents are the ones signed" "$rep"

# Cross-shard dedup: the kept documents are those of one pass over the
# concatenated raw shards; the copy is dropped for the original.
ids() { grep -o '^{"id": "[^"]*"'; }
zstd -dc "$TMP/raw/"*.jsonl.zst | sluice-synth-filter -p fineweb --quiet 2>/dev/null |
	sluice-dedup -J --quiet 2>/dev/null | ids >"$TMP/onepass.ids"
cat "$DS/dedup/"*.slc | sluice-cat | ids >"$TMP/sharded.ids"
[ -s "$TMP/onepass.ids" ] && cmp -s "$TMP/onepass.ids" "$TMP/sharded.ids" &&
	ok "cross-shard dedup keeps what one pass over the concatenation keeps" ||
	not_ok "cross-shard dedup keeps what one pass over the concatenation keeps" \
		"$(diff "$TMP/onepass.ids" "$TMP/sharded.ids" | head -3)"
grep -q "\"$orig_id\"" "$TMP/sharded.ids" && ! grep -q '"copy-of-shard-03"' "$TMP/sharded.ids" &&
	[ "$(sluice-cat "$DS/drops.slc" | grep -c "\"dup_of\": \"$orig_id\"")" = 1 ] &&
	ok "a document copied to another shard is dropped once, for the original" ||
	not_ok "a document copied to another shard is dropped once, for the original"

# Nothing to do once built; touching shard 07 reruns its chain, the merge and
# the pack, each job through RUN.
build -j2 --trace dataset 2>&1 | jobs_run >"$TMP/jobs"
[ ! -s "$TMP/jobs" ] && ok "a finished build runs nothing" || not_ok "a finished build runs nothing" "$(cat "$TMP/jobs")"
printf '#!/bin/sh\necho "$*" >>"%s/run.log"\nexec "$@"\n' "$TMP" >"$TMP/run.sh"
chmod +x "$TMP/run.sh"
touch "$TMP/raw/wiki-07.jsonl.zst"
build -j2 --trace RUN="$TMP/run.sh" dataset >"$TMP/trace" 2>&1
jobs_run <"$TMP/trace" >"$TMP/jobs"
printf '%s\n' dedup/wiki-07.slc drops.slc filter/wiki-07.slc shards/manifest.json sig/wiki-07.sig tok/wiki-07.slc |
	sort >"$TMP/want"
cmp -s "$TMP/jobs" "$TMP/want" && ok "touching one raw shard rebuilds its chain, the merge and the pack" ||
	not_ok "touching one raw shard rebuilds its chain, the merge and the pack" "$(tr '\n' ' ' <"$TMP/jobs")"
awk '{ sub(/.*\/sluice-/, "", $1); print $1, $2 }' "$TMP/run.log" >"$TMP/run.tools"
printf '%s\n' 'synth-filter -p' 'dedup --signatures' 'dedup --merge' 'dedup --apply' 'tokenize -e' 'shard -T' >"$TMP/want"
cmp -s "$TMP/run.tools" "$TMP/want" && [ "$(grep -c -e '--shard wiki-07 ' -e 'raw/wiki-07' "$TMP/run.log")" = 3 ] &&
	ok "RUN prefixes each of the six jobs" || not_ok "RUN prefixes each of the six jobs" "$(cat "$TMP/run.log")"
same_shards "the rebuilt shards are unchanged" "$DS"

# whole DIR: every file in place under DIR is complete (record streams pass
# --check, JSON ends its object); temporary files and directories aside.
whole() {
	local f
	while IFS= read -r f; do
		case $f in
		*.tmp | */shards.tmp/* | */shards.old/*) ;;
		*.slc | *.sig) sluice-cat --check "$f" >/dev/null 2>&1 || { echo "$f"; return 1; } ;;
		*.json) [ "$(tail -c 2 "$f")" = "}" ] || [ "$(tail -c 1 "$f")" = "}" ] || { echo "$f"; return 1; } ;;
		esac
	done < <(find "$1" -type f 2>/dev/null)
}

# Kills: the k-th at a random moment in the k-th of KILLS equal slices of
# the uninterrupted build's time (no check depends on the moment).
bad="" killed=0
for k in $(seq 1 "$KILLS"); do
	rm -rf "$DS"
	delay=$(((k - 1) * span / KILLS + RANDOM % (span / KILLS + 1)))
	setsid make -f pipelines/dataset.mk SLUICE_BIN="$BIN" RAW="$TMP/raw" DATASET="$DS" SEQ_LEN=128 \
		SHARD_FLAGS='--val 0.05 --shard-tokens 20K' -j2 dataset >/dev/null 2>&1 &
	pid=$!
	sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
	kill -KILL -- "-$pid" 2>/dev/null && killed=$((killed + 1))
	wait "$pid" 2>/dev/null
	f=$(whole "$DS") || { bad="kill $k after ${delay} ms: $f incomplete"; break; }
	build -j2 dataset >/dev/null 2>&1 || { bad="kill $k: the restarted build failed"; break; }
	for f in "$TMP/ref/"*; do
		cmp -s "$f" "$DS/shards/${f##*/}" || { bad="kill $k after ${delay} ms: ${f##*/} differs"; break 2; }
	done
done
[ -z "$bad" ] && ok "$KILLS killed builds ($killed mid-run) leave no partial file and restart to the same shards" ||
	not_ok "killed builds restart to the same shards" "$bad"

# Bad input: a damaged raw shard fails the build, leaving no output for it
# and the old shards in place.
head -c 2000 "$TMP/raw/wiki-05.jsonl.zst" >"$TMP/raw/wiki-24.jsonl.zst"
expect_err "a damaged raw shard fails the build" 2 'wiki-24' build -j2 dataset
[ ! -e "$DS/filter/wiki-24.slc" ] && same_shards "a failed build leaves the shards as they were" "$DS" ||
	not_ok "a failed build leaves no output of the damaged shard"

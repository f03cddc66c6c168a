#!/bin/bash
# rl-metrics.sh DIR: one GRPO run of pipelines/rl.mk as a table for the
# plot: a row per iteration from its train-step log (the last update's
# line), with the held-out exact match where the iteration was scored
# ("?" elsewhere; iteration 0 is the starting model).
set -eu
dir=$1
get() { sed -n "s/.*\"$2\": *\(null\|[-0-9.e+]*\).*/\1/p" "$1" | head -1; }
echo "# iteration step reward_mean kl_exact kl_k3 entropy len_mean clip_frac heldout_exact_match"
em=$(get "$dir/eval-0.json" exact_match)
echo "0 - ? ? ? ? ? ? ${em:-?}"
i=1
while [ -f "$dir/log-$i.jsonl" ]; do
	line=$(tail -1 "$dir/log-$i.jsonl")
	f() { sed -n "s/.*\"$1\":\(null\|[-0-9.e+]*\).*/\1/p" <<<"$line" | sed 's/null/?/'; }
	em="?"
	[ -f "$dir/eval-$i.json" ] && em=$(get "$dir/eval-$i.json" exact_match)
	echo "$i $(f step) $(f reward_mean) $(f kl_exact) $(f kl_k3) $(f entropy) $(f len_mean) $(f clip_frac) $em"
	i=$((i + 1))
done

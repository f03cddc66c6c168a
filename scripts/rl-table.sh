#!/bin/bash
# rl-table.sh SFT_DIR RL_DIR BETA: the table that ends `make rl` (pipelines/rl.mk),
# from the reports of sluice-eval and the GRPO runs' metrics.
set -eu
sft=$1 dir=$2 kl=$3

. "$(dirname "$0")/table-lib.sh"
row() { # row NAME EM_REPORT PASS_REPORT [BEFORE_REPORT]
	local g=-
	[ -n "${4:-}" ] && g=$(gain "$2" "$4")
	printf '%-30s %s  %s  %7s  %7s  %9s  %9s\n' "$1" "$(pct "$(get "$2" exact_match)")" \
		"$(ci "$(get "$2" exact_match_ci95)")" "$(pct "$(get "$3" exact_match)")" "$(pct "$(get "$3" pass_at_k)")" \
		"$(pflops "$(get "$2" train_flops)")" "$g"
}
last() { # last METRICS COLUMN: the last iteration's value
	awk -v c="$2" '!/^#/ && $c != "?" { v = $c } END { print v }' "$1"
}

k=$(get "$sft/pass-sft.json" samples)
echo "== held-out exact match: $(get "$sft/em-sft.json" items) problems never trained on, greedy answers"
printf '%-30s %s  %s  %7s  %7s  %9s  %9s\n' "model" "exact " "95% interval" "pass@1" "pass@$k" "PFLOPs" "pts/PFLOP"
row "SFT (the starting point)" "$sft/em-sft.json" "$sft/pass-sft.json"
row "+ GRPO, KL penalty $kl" "$dir/em-grpo-kl.json" "$dir/pass-grpo-kl.json" "$sft/em-sft.json"
row "+ GRPO, no KL penalty" "$dir/em-grpo-nokl.json" "$dir/pass-grpo-nokl.json" "$sft/em-sft.json"
row "+ DPO" "$dir/em-dpo.json" "$dir/pass-dpo.json" "$sft/em-sft.json"
echo "(pass@1 and pass@$k on the first $(get "$sft/pass-sft.json" items) problems, $k answers each at temperature 1;"
echo " PFLOPs: all training since the first step, RL's rollout generation and reference passes"
echo " included; pts/PFLOP: exact-match points gained over SFT per PFLOP spent after it)"
echo "== GRPO at the last iteration (rl.png has the curves)"
printf '%-22s %10s  %14s  %9s  %9s  %10s\n' "run" "reward" "KL to SFT" "k3" "entropy" "length"
for r in grpo-kl grpo-nokl; do
	m=$dir/$r/metrics.tsv
	printf '%-22s %10.3f  %14.4f  %9.4f  %9.3f  %10.1f\n' "$r" "$(last "$m" 3)" "$(last "$m" 4)" "$(last "$m" 5)" \
		"$(last "$m" 6)" "$(last "$m" 7)"
done
echo "(reward: mean over the iteration's rollouts; KL: exact, nats a completion token, at the"
echo " sampled positions; entropy: nats a token; iteration 1's values are the SFT model's)"
echo "== DPO"
n=$(cat "$dir"/dpo/log-*.jsonl | wc -l)
pairs=$(sed -n 's/.*"pairs":\([0-9]*\).*/\1/p' "$dir"/dpo/log-*.jsonl | awk '{ s += $1 } END { print s }')
acc=$(tail -1 "$dir"/dpo/log-*.jsonl | sed -n 's/.*"accuracy":\([-0-9.e]*\).*/\1/p' | tail -1)
echo "$n steps on $pairs pairs (a right and a wrong answer to one problem); preference accuracy at the last step $acc"

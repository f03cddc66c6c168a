#!/bin/bash
# sft-table.sh DIR: the table that ends `make sft` (pipelines/sft.mk), from
# the reports of sluice-eval and sluice-synth-filter in DIR.
set -eu
dir=$1

. "$(dirname "$0")/table-lib.sh"
row() { # row NAME EM_REPORT [PASS_REPORT] [BEFORE_REPORT]
	local pass=- g=-
	[ -n "${3:-}" ] && pass=$(pct "$(get "$3" pass_at_k)")
	[ -n "${4:-}" ] && g=$(gain "$2" "$4")
	printf '%-34s %s  %s  %7s  %9s  %8s\n' "$1" "$(pct "$(get "$2" exact_match)")" "$(ci "$(get "$2" exact_match_ci95)")" \
		"$pass" "$(pflops "$(get "$2" train_flops)")" "$g"
}

k=$(get "$dir/pass-sft.json" samples)
echo "== held-out exact match: $(get "$dir/em-sft.json" items) problems never trained on, greedy answers"
printf '%-34s %s  %s  %7s  %9s  %8s\n' "model" "exact " "95% interval" "pass@$k" "PFLOPs" "pts/PFLOP"
row "base (tiny Shakespeare)" "$dir/em-base.json"
row "SFT on verified teacher data" "$dir/em-sft.json" "$dir/pass-sft.json" "$dir/em-base.json"
row "+ rejection sampling, verified" "$dir/em-rs-verified.json" "$dir/pass-rs-verified.json" "$dir/em-sft.json"
row "+ rejection sampling, unverified" "$dir/em-rs-unverified.json" "" "$dir/em-sft.json"
echo "(pass@$k on the first $(get "$dir/pass-sft.json" items) problems, $k answers each at temperature 1; base asked in"
echo " plain form, the others in ChatML; pts/PFLOP: exact-match points gained over the row"
echo " above it, the SFT row over the base, per PFLOP of training between them)"
echo "== harder held-out problems: one more operation than any trained on ($(get "$dir/harder-sft.json" items))"
row "SFT on verified teacher data" "$dir/harder-sft.json"
row "+ rejection sampling, verified" "$dir/harder-rs-verified.json"
echo "== the data"
why=$(grep -o '"drop:[^,}]*' "$dir/teacher-filter.json" | tr -d '"' | paste -sd ' ')
echo "teacher: $(get "$dir/teacher-filter.json" records) problems generated, $(get "$dir/teacher-filter.json" kept) kept" \
	"(dropped by the verifier or as sharing 13 words with a held-out question: ${why:-none})"
echo "self-generated: $(get "$dir/rs-filter.json" records) answers sampled, $(get "$dir/rs-filter.json" kept) right" \
	"(verified set), all $(get "$dir/rs-filter.json" records) in the unverified set"
echo "== three held-out conversations (the last model, greedy)"
sed 's/.*"messages": \[{"role": "user", "content": "\([^"]*\)"}, {"role": "assistant", "content": "\([^"]*\)"}\].*"answer": "\([^"]*\)".*/user: \1\nassistant: \2\n(right answer: \3)/; s/.*"answer": "\([^"]*\)".*"messages": \[{"role": "user", "content": "\([^"]*\)"}, {"role": "assistant", "content": "\([^"]*\)"}\].*/user: \2\nassistant: \3\n(right answer: \1)/' \
	"$dir/conversations.jsonl" | sed 's/\\n/\n           /g'

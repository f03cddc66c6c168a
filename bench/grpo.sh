#!/bin/bash
# grpo.sh: wall time of one GRPO iteration -- P prompts x G completions
# sampled at temperature 1, rewarded by the answer rule, one optimizer step
# over all of them -- with sluice's three filters
#
#   sluice-sample | sluice-synth-filter --reward | sluice-train-step --grpo
#
# against TRL's GRPOTrainer (bench/grpo_trl.py) on the CPU: the same model
# (make -C pipelines sft's chat model, its weights loaded into a
# transformers GPT-2 of its shape), the same prompts (all of one token
# length), the same group size, budget and micro-batch, 2 threads, no KL
# penalty unless KL is set (sluice --ref --kl, TRL's beta).
# Two modes: forced (every completion exactly NEW tokens: sluice-sample
# --no-stop-eot on the rendered prompt's tokens, TRL with min_new_tokens, so
# both sides generate and train on the same token counts) and chat
# (completions end at <|im_end|>, as in training; the counts then differ by
# chance).  Each round times STEPS iterations after a warm-up one per side,
# the sides alternating; the figure per side is the median over rounds of
# each round's median.  TRL's side needs an interpreter with torch,
# transformers and trl (TRL_PYTHON, default python3); it is skipped, saying
# so, without them.
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}
SFT=${SFT:-pipelines/out/sft}
P=${P:-16}
G=${G:-8}
NEW=${NEW:-48}
STEPS=${STEPS:-3}
ROUNDS=${ROUNDS:-3}
MODES=${MODES:-"forced chat"}
KL=${KL:-0}
TRL_PYTHON=${TRL_PYTHON:-python3}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
BIN=$PWD/$O/bin
CKPT=$SFT/sft.safetensors
if [ ! -f "$CKPT" ] || [ ! -f "$SFT/test.jsonl" ] || [ ! -f "$SFT/task.tiktoken" ]; then
	echo "grpo.sh: $CKPT, $SFT/test.jsonl or $SFT/task.tiktoken missing: make -C pipelines sft makes them" >&2
	exit 1
fi
export SLUICE_VOCAB_DIR=$PWD/$SFT
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $OMP_NUM_THREADS threads, load $(cut -d' ' -f1-3 /proc/loadavg)"
trl=1
if ! vers=$("$TRL_PYTHON" -c 'import torch, transformers, trl; print("torch", torch.__version__, "transformers", transformers.__version__, "trl", trl.__version__)' 2>/dev/null); then
	echo "TRL side skipped: $TRL_PYTHON cannot import torch, transformers and trl (set TRL_PYTHON to an interpreter that can)"
	trl=0
else
	echo "TRL side: $vers"
fi

# Prompts: the held-out problems rendered as sluice-sample --chat renders
# them; the first P of the most common length among the first 500.  chat.jsonl
# holds those problems as they are, tokens.jsonl their rendered ids and
# answers (what the forced mode and TRL read).
head -500 "$SFT/test.jsonl" >"$TMP/problems.jsonl"
"$BIN/sluice-sample" -m "$CKPT" --chat -t 0 -N 1 -J --quiet "$TMP/problems.jsonl" >"$TMP/rendered.jsonl"
awk -v P="$P" -v CHAT="$TMP/chat.jsonl" -v TOK="$TMP/tokens.jsonl" '
	FNR == NR {
		match($0, /"prompt_tokens": \[[^]]*\]/)
		ids[NR] = substr($0, RSTART + 17, RLENGTH - 17)
		len[NR] = gsub(/,/, ",", ids[NR]) + 1
		match($0, /"answer": "[^"]*"/)
		ans[NR] = substr($0, RSTART, RLENGTH)
		count[len[NR]]++
		next
	}
	FNR == 1 { for (l in count) if (count[l] > count[best] || best == "") best = l }
	len[FNR] == best && n < P { print > CHAT; print "{\"tokens\": " ids[FNR] ", " ans[FNR] "}" > TOK; n++ }
	END { if (n < P) { print "grpo.sh: only " n " prompts of " best " tokens" > "/dev/stderr"; exit 1 }
	      print best > "/dev/stderr" }' "$TMP/rendered.jsonl" "$TMP/problems.jsonl" 2>"$TMP/plen"
PLEN=$(cat "$TMP/plen")
# The reward: 1 for the right answer after the completion's last "####".
printf 'correct score=1 completion answer answer\n' >"$TMP/rules"
echo "model: $(head -c 20000 "$CKPT" | grep -a -o '"config":"{[^}]*}' | head -1 | sed 's/"config":"//; s/\\//g'), $P prompts of $PLEN tokens x $G completions, at most $NEW new tokens, micro-batch 32"

# KL > 0: a KL penalty of that weight to the starting model (TRL's beta).
kl=
[ "$KL" = 0 ] || kl="--ref $CKPT --kl $KL"
now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# One round of sluice: a fresh copy of the model, a warm-up iteration, then
# STEPS timed ones.  Appends "seconds rollout_seconds tokens" per timed step.
sluice_round() { # MODE OUTFILE
	rm -f "$TMP/policy.safetensors" "$TMP/policy.safetensors.optim" "$TMP/log.jsonl"
	cp "$CKPT" "$TMP/policy.safetensors"
	for i in $(seq 0 "$STEPS"); do
		t0=$(now)
		if [ "$1" = chat ]; then
			"$BIN/sluice-sample" -m "$TMP/policy.safetensors" --chat -n "$G" -t 1 -N "$NEW" -B 64 --quiet -s "$i" \
				-o "$TMP/rollouts.slc" "$TMP/chat.jsonl"
		else
			"$BIN/sluice-sample" -m "$TMP/policy.safetensors" --no-stop-eot -n "$G" -t 1 -N "$NEW" -B 64 --quiet -s "$i" \
				-o "$TMP/rollouts.slc" "$TMP/tokens.jsonl"
		fi
		"$BIN/sluice-synth-filter" --quiet --reward -R "$TMP/rules" -o "$TMP/scored.slc" "$TMP/rollouts.slc"
		t1=$(now)
		"$BIN/sluice-train-step" -m "$TMP/policy.safetensors" --grpo $kl -B 32 --quiet --log "$TMP/log.jsonl" "$TMP/scored.slc"
		t2=$(now)
		toks=$("$BIN/sluice-cat" --stats "$TMP/scored.slc" | grep -o '"completion_tokens": {[^}]*}' | grep -o '"bytes": [0-9]*' | awk '{ print $2 / 4 }')
		reward=$("$BIN/sluice-cat" "$TMP/scored.slc" | grep -o '"reward": [0-9.e+-]*' | awk '{ s += $2; n++ } END { printf "%.3f", s / n }')
		[ "$i" -gt 0 ] || continue
		awk -v a="$t0" -v b="$t1" -v c="$t2" -v t="$toks" -v r="$reward" \
			'BEGIN { printf "%.3f %.3f %d %s\n", c - a, b - a, t, r }' >>"$2"
	done
}
trl_round() { # MODE OUTFILE
	local forced=
	[ "$1" = chat ] || forced=--forced
	"$TRL_PYTHON" bench/grpo_trl.py --ckpt "$CKPT" --vocab "$SFT/task.tiktoken" --prompts "$TMP/tokens.jsonl" \
		-P "$P" -G "$G" -N "$NEW" -B 32 --steps "$STEPS" --threads "$OMP_NUM_THREADS" --beta "$KL" $forced \
		--out "$TMP/trl" 2>"$TMP/trl.err" >"$TMP/trl.out" || { cat "$TMP/trl.err" >&2; return 1; }
	sed -n 's/^trl step [0-9]*: \([0-9.]*\) s (rollouts \([0-9.]*\) s, .*), \([0-9]*\) completion tokens, mean reward \([0-9.]*\)$/\1 \2 \3 \4/p' \
		"$TMP/trl.out" >>"$2"
}
col() { awk -v c="$1" '{ print $c }' "$2" | median; }
for mode in $MODES; do
	echo "== $mode: $([ "$mode" = chat ] && echo "completions end at <|im_end|> or <|endoftext|>" || echo "every completion $NEW tokens")"
	: >"$TMP/s.all"
	: >"$TMP/t.all"
	for r in $(seq "$ROUNDS"); do
		: >"$TMP/s.$r"
		: >"$TMP/t.$r"
		sluice_round "$mode" "$TMP/s.$r"
		[ "$trl" = 0 ] || trl_round "$mode" "$TMP/t.$r"
		cat "$TMP/s.$r" >>"$TMP/s.all"
		cat "$TMP/t.$r" >>"$TMP/t.all"
		line="round $r: sluice $(col 1 "$TMP/s.$r") s/iter (rollouts $(col 2 "$TMP/s.$r") s, $(col 3 "$TMP/s.$r") tokens, reward $(col 4 "$TMP/s.$r"))"
		[ "$trl" = 0 ] ||
			line="$line, TRL $(col 1 "$TMP/t.$r") s/iter (rollouts $(col 2 "$TMP/t.$r") s, $(col 3 "$TMP/t.$r") tokens, reward $(col 4 "$TMP/t.$r"))"
		echo "$line; load $(cut -d' ' -f1 /proc/loadavg)"
	done
	# The median over rounds of each round's median.
	s=$(for r in $(seq "$ROUNDS"); do col 1 "$TMP/s.$r"; done | median)
	sr=$(for r in $(seq "$ROUNDS"); do col 2 "$TMP/s.$r"; done | median)
	line="$mode: sluice $s s/iter (rollouts $sr s, update $(awk -v a="$s" -v b="$sr" 'BEGIN { printf "%.3f", a - b }') s), $(col 3 "$TMP/s.all") completion tokens/iter"
	if [ "$trl" = 1 ]; then
		t=$(for r in $(seq "$ROUNDS"); do col 1 "$TMP/t.$r"; done | median)
		tr=$(for r in $(seq "$ROUNDS"); do col 2 "$TMP/t.$r"; done | median)
		line="$line; TRL $t s/iter (rollouts $tr s, update $(awk -v a="$t" -v b="$tr" 'BEGIN { printf "%.3f", a - b }') s), $(col 3 "$TMP/t.all") completion tokens/iter"
		line="$line; time sluice/TRL $(awk -v a="$s" -v b="$t" 'BEGIN { printf "%.3f (%s %.2fx faster)", a / b, a < b ? "sluice" : "TRL", a < b ? b / a : a / b }')"
	fi
	echo "$line"
done

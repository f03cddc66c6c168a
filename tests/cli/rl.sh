#!/bin/bash
# rl.sh: sluice-train-step --grpo and --dpo end to end (doc/rl.md): rollouts
# from sluice-sample, rewards from sluice-synth-filter --reward, reference
# log-probs from sluice-eval --ref-logprobs; the log line's keys and values
# against the rollouts, the KL measured and penalised, resume, each bad
# input refused with the checkpoint left byte for byte, usage errors, and
# kills during a step.
#
#   KILLS=N    kills in each of the two kill tests (default 10)
#   SEED=N     their delays (default: random)
. "$(dirname "$0")/../lib.sh"
ARITH=$PWD/$O/pipelines/arith
SETFLOAT=$PWD/$O/tests/helpers/setfloat
export SLUICE_VOCAB_DIR=$TMP
# One thread: the model is tiny, and the results are then the same bytes
# from run to run.
export OMP_NUM_THREADS=1
KILLS=${KILLS:-10}
SEED=${SEED:-$$}
RANDOM=$SEED
TS=(sluice-train-step -j 1)

# meta KEY CKPT: a string of the checkpoint's safetensors metadata.
meta() { head -c 1000 "$2" | tr -d '\0' | grep -ao "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }
# fresh NAME: a copy of the policy (checkpoint and state) as $TMP/NAME.st.
fresh() { cp "$P0" "$TMP/$1.st" && cp "$P0.optim" "$TMP/$1.st.optim"; }
# unchanged NAME CKPT COPY: the checkpoint and its state are the copy's, byte for byte.
unchanged() {
	if cmp -s "$2" "$3" && cmp -s "$2.optim" "$3.optim"; then
		ok "$1: the checkpoint and its state are left as they were"
	else
		not_ok "$1: the checkpoint and its state are left as they were" "$(cmp "$2" "$3" 2>&1; cmp "$2.optim" "$3.optim" 2>&1)"
	fi
}
# refused NAME PATTERN ARG...: --grpo or --dpo on a copy of the policy exits
# 1 with PATTERN on stderr, and leaves the copy as it was.
refused() {
	local name=$1 pat=$2
	shift 2
	fresh bad
	expect_err "$name" 1 "$pat" "${TS[@]}" -m "$TMP/bad.st" --log "$TMP/bad.log" "$@"
	unchanged "$name" "$TMP/bad.st" "$P0"
}

# --- a small vocabulary, a 1-layer model a few steps into arithmetic text,
# four prompts of four completions each ---
"$ARITH" -n 60 -s 3 >"$TMP/a.jsonl"
sed 's/.*"question": "\([^"]*\)", "solution": "\([^"]*\)".*/{"text": "\1\\n\2"}/' "$TMP/a.jsonl" >"$TMP/plain.jsonl"
sluice-tokenize --train --vocab-size 300 -o "$TMP/ar" "$TMP/plain.jsonl" 2>/dev/null
sluice-tokenize -v "$TMP/ar.tiktoken" --drop-text -o "$TMP/plain.slc" "$TMP/plain.jsonl" 2>/dev/null
sluice-shard --quiet -T 64 -o "$TMP/pt" "$TMP/plain.slc"
SHARD=$TMP/pt/train-00000.slc
P0=$TMP/p0.st
"${TS[@]}" -m "$P0" --init custom -L 1 -C 32 -H 2 --ctx 96 -B 4 --steps 3 --lr 1e-3 --quiet --log /dev/null "$SHARD" ||
	not_ok "the policy" "train-step --init failed"
# Another model of the same shape: the policy 2 steps further.
cp "$P0" "$TMP/ref.st"
cp "$P0.optim" "$TMP/ref.st.optim"
"${TS[@]}" -m "$TMP/ref.st" --steps 2 --quiet --log /dev/null "$SHARD"
head -4 "$TMP/a.jsonl" >"$TMP/p.jsonl"
SAMPLE=(sluice-sample --field question -n 4 -N 12 --quiet)
"${SAMPLE[@]}" -m "$P0" -t 1 -o "$TMP/r.slc" "$TMP/p.jsonl"
# The answer reward is 0 for a model this small; a digit in the completion
# gives the groups some spread.
printf 'correct score=1 completion answer answer\ndigit score=1 completion match /[0-9]/\n' >"$TMP/rules"
sluice-synth-filter --reward -R "$TMP/rules" --quiet -o "$TMP/s.slc" "$TMP/r.slc"
S=$TMP/s.slc
sluice-cat -J "$S" >"$TMP/s.jsonl"
[ "$(wc -l <"$TMP/s.jsonl")" = 16 ] && [ "$(meta step "$P0")" = 3 ] && ok "setup: 16 scored rollouts of a policy at step 3" ||
	not_ok "setup" "$(wc -l <"$TMP/s.jsonl") rollouts, policy at step $(meta step "$P0")"

# --- a GRPO step: the log line of each update, its values against the
# rollouts, the checkpoint's step ---
fresh g
expect "grpo: --updates 2" 0 "${TS[@]}" -m "$TMP/g.st" --grpo --updates 2 --log "$TMP/g.log" "$S"
[ "$(meta step "$TMP/g.st")" = 5 ] && ok "grpo: the checkpoint's step advanced by --updates (3 -> 5)" ||
	not_ok "grpo: the checkpoint's step advanced by --updates" "step $(meta step "$TMP/g.st")"
python3 - "$TMP/s.jsonl" "$TMP/g.log" <<'PY' >"$TMP/py.out" 2>&1 && ok "grpo log: $(cat "$TMP/py.out")" || not_ok "grpo log" "$(cat "$TMP/py.out")"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
log = [json.loads(l) for l in open(sys.argv[2])]
assert len(log) == 2, "%d lines for 2 updates" % len(log)
keys = ("reward_mean kl_k3 kl_exact entropy clip_frac ratio_mean ratio_max len_mean len_max truncated zero_spread "
        "grad_norm lr on_policy mismatch").split()
for i, d in enumerate(log):
    missing = [k for k in keys if k not in d]
    assert not missing, "missing %s" % missing
    assert d["mode"] == "grpo" and d["update"] == i and d["step"] == 4 + i, d
    assert d["kl_k3"] is None and d["kl_exact"] is None, "no --ref, yet a KL: %s" % d
    assert d["on_policy"] is True, d
    assert d["groups"] == 4 and d["sequences"] == 16, d
lens = [len(r["completion_tokens"]) for r in rs]
rewards = [r["reward"] for r in rs]
groups = {}
for r in rs:
    groups.setdefault(r["group"], []).append(r["reward"])
d = log[0]
close = lambda a, b: abs(a - b) <= 1e-5 * max(1, abs(b))
assert close(d["reward_mean"], sum(rewards) / 16), (d["reward_mean"], rewards)
assert d["tokens"] == sum(lens) and d["len_max"] == max(lens) and close(d["len_mean"], sum(lens) / 16), d
assert close(d["truncated"], sum(r["finish"] == "length" for r in rs) / 16), d
assert close(d["zero_spread"], sum(len(set(g)) == 1 for g in groups.values()) / len(groups)), d
assert 0 < d["zero_spread"] < 1 or len(set(rewards)) > 1, "no reward spread in the rollouts: %s" % rewards
assert d["ratio_mean"] == 1 and d["ratio_max"] == 1 and d["clip_frac"] == 0, d
assert 0 <= d["mismatch"] < 1e-4, d["mismatch"]
assert d["grad_norm"] > 0 and d["lr"] > 0 and d["entropy"] > 0, d
assert log[1]["ratio_max"] > 1, "the second update's ratios are against the first's log-probs: %s" % log[1]
print("keys, reward_mean %g, tokens %d, len_max %d, truncated %g, zero_spread %g against the rollouts; "
      "on-policy ratio 1 at the first update, ratio_max %g at the second"
      % (d["reward_mean"], d["tokens"], d["len_max"], d["truncated"], d["zero_spread"], log[1]["ratio_max"]))
PY

# On-policy, the first update's ratio is exactly 1: clipped to [1, 1], no
# token is clipped.  Against the sampler's float log-probs it is 1 only to
# rounding, and tokens on either side of 1 are clipped.
fresh x
"${TS[@]}" -m "$TMP/x.st" --grpo --ratio-low 0 --ratio-high 0 --log "$TMP/x.log" "$S" 2>/dev/null
grep -q '"clip_frac":0,"ratio_mean":1,"ratio_max":1,.*"on_policy":true' "$TMP/x.log" &&
	ok "grpo: on-policy, every ratio is exactly 1 (clipped to [1, 1], no token clipped)" ||
	not_ok "grpo: on-policy, every ratio is exactly 1" "$(cat "$TMP/x.log")"
fresh x
"${TS[@]}" -m "$TMP/x.st" --grpo --ratio-low 0 --ratio-high 0 --sampler-logprobs --log "$TMP/x.log" "$S" 2>/dev/null
clip=$(grep -o '"clip_frac":[0-9.e-]*' "$TMP/x.log" | cut -d: -f2)
mismatch=$(grep -o '"mismatch":[0-9.e-]*' "$TMP/x.log" | cut -d: -f2)
grep -q '"on_policy":false' "$TMP/x.log" && awk -v c="$clip" -v m="$mismatch" 'BEGIN { exit !(m > 0 && c > 0) }' &&
	ok "grpo --sampler-logprobs: ratios against the sampler's log-probs (mismatch $mismatch, clip_frac $clip at [1, 1])" ||
	not_ok "grpo --sampler-logprobs" "$(cat "$TMP/x.log")"

# At another temperature the log-probs are the model's at that temperature,
# as the sampler's were (theirs at temperature 1 differ by some 0.04).
"${SAMPLE[@]}" -m "$P0" -t 0.7 "$TMP/p.jsonl" | sluice-synth-filter --reward -R "$TMP/rules" --quiet >"$TMP/t07.slc"
fresh x
"${TS[@]}" -m "$TMP/x.st" --grpo --sampler-logprobs --log "$TMP/x.log" "$TMP/t07.slc" 2>/dev/null
mismatch=$(grep -o '"mismatch":[0-9.e-]*' "$TMP/x.log" | cut -d: -f2)
awk -v m="$mismatch" 'BEGIN { exit !(m != "" && m < 1e-4) }' &&
	ok "grpo at temperature 0.7: the trainer's log-probs are the sampler's (mismatch $mismatch)" ||
	not_ok "grpo at temperature 0.7: log-probs at the rollouts' temperature" "$(cat "$TMP/x.log")"

# --- the KL to a reference: measured with --ref (also at --kl 0, when it
# leaves the update alone), penalised with --kl ---
kl_of() { grep -o "\"$1\":[^,]*" "$2" | head -1 | cut -d: -f2; }
fresh k0
expect "grpo --ref (the policy itself)" 0 "${TS[@]}" -m "$TMP/k0.st" --grpo --ref "$P0" --log "$TMP/k0.log" "$S"
[ "$(kl_of kl_k3 "$TMP/k0.log")" = 0 ] && [ "$(kl_of kl_exact "$TMP/k0.log")" = 0 ] &&
	ok "grpo --ref: the KL to the policy itself is 0 (k3 and exact)" || not_ok "KL to itself" "$(cat "$TMP/k0.log")"
fresh k1
expect "grpo --ref REF --kl 0" 0 "${TS[@]}" -m "$TMP/k1.st" --grpo --ref "$TMP/ref.st" --kl 0 --log "$TMP/k1.log" "$S"
k3=$(kl_of kl_k3 "$TMP/k1.log") kx=$(kl_of kl_exact "$TMP/k1.log")
awk -v a="$k3" -v b="$kx" 'BEGIN { exit !(a > 0 && b > 0) }' &&
	ok "grpo --ref --kl 0: the KL is measured (k3 $k3, exact $kx)" || not_ok "grpo --ref --kl 0: KL measured" "$(cat "$TMP/k1.log")"
fresh k2
"${TS[@]}" -m "$TMP/k2.st" --grpo --log /dev/null "$S" 2>/dev/null
[ "$(meta params_xxh3 "$TMP/k1.st")" = "$(meta params_xxh3 "$TMP/k2.st")" ] &&
	ok "grpo --kl 0: the parameters are those of the step without --ref" ||
	not_ok "grpo --kl 0 leaves the update alone" "$(meta params_xxh3 "$TMP/k1.st") vs $(meta params_xxh3 "$TMP/k2.st")"
fresh k3
"${TS[@]}" -m "$TMP/k3.st" --grpo --ref "$TMP/ref.st" --kl 0.5 --log "$TMP/k3.log" "$S" 2>/dev/null
fresh k4
"${TS[@]}" -m "$TMP/k4.st" --grpo --ref "$TMP/ref.st" --kl 0.5 --kl-loss k2 --log "$TMP/k4.log" "$S" 2>/dev/null
h1=$(meta params_xxh3 "$TMP/k1.st") h3=$(meta params_xxh3 "$TMP/k3.st") h4=$(meta params_xxh3 "$TMP/k4.st")
[ -n "$h3" ] && [ -n "$h4" ] && [ "$h3" != "$h1" ] && [ "$h4" != "$h1" ] && [ "$h3" != "$h4" ] &&
	[ "$(kl_of kl_k3 "$TMP/k3.log")" = "$k3" ] &&
	ok "grpo --kl 0.5: k3 and k2 penalties each change the update, the KL measured before it the same" ||
	not_ok "grpo --kl penalties" "$h1 $h3 $h4; $(cat "$TMP/k3.log")"

# --- resume: the checkpoint remembers the rollouts it trained on ---
cp "$TMP/g.st" "$TMP/g.before"
cp "$TMP/g.st.optim" "$TMP/g.before.optim"
expect_err "grpo: the same rollouts again: nothing to do" 0 "s.slc: all 16 rollouts were trained on already" \
	"${TS[@]}" -m "$TMP/g.st" --grpo --updates 2 --log "$TMP/again.log" "$S"
unchanged "grpo: the same rollouts again" "$TMP/g.st" "$TMP/g.before"
[ ! -s "$TMP/again.log" ] && ok "grpo: the same rollouts again: no update logged" || not_ok "no update logged" "$(cat "$TMP/again.log")"
cp "$S" "$TMP/renamed.slc"
expect_err "grpo: the same rollouts under another name" 0 "renamed.slc: all 16 rollouts were trained on already" \
	"${TS[@]}" -m "$TMP/g.st" --grpo --log /dev/null "$TMP/renamed.slc"
expect_err "grpo: the same rollouts from a pipe" 0 "\(stdin\): all 16 rollouts were trained on already" \
	"${TS[@]}" -m "$TMP/g.st" --grpo --log /dev/null <"$S"
unchanged "grpo: the same rollouts under another name and from a pipe" "$TMP/g.st" "$TMP/g.before"
expect "grpo --rewind: trains on them again" 0 "${TS[@]}" -m "$TMP/g.st" --grpo --rewind --log "$TMP/rw.log" "$S"
[ "$(meta step "$TMP/g.st")" = 6 ] && grep -q '"on_policy":false' "$TMP/rw.log" &&
	ok "grpo --rewind: one more step, off-policy now (the rollouts are of step 3, the model at 5)" ||
	not_ok "grpo --rewind" "step $(meta step "$TMP/g.st"): $(cat "$TMP/rw.log")"
# Rollouts with no record (all dropped, say) are no step, and leave the
# rollouts the checkpoint remembers as they were.
sluice-cat -r -n 0 -o "$TMP/empty.slc" "$S"
fresh e
"${TS[@]}" -m "$TMP/e.st" --grpo --log /dev/null "$S" 2>/dev/null
cp "$TMP/e.st" "$TMP/e.before"
cp "$TMP/e.st.optim" "$TMP/e.before.optim"
expect_err "grpo: no rollouts" 0 "empty.slc: no rollouts" "${TS[@]}" -m "$TMP/e.st" --grpo --log /dev/null "$TMP/empty.slc"
unchanged "grpo: no rollouts" "$TMP/e.st" "$TMP/e.before"
expect_err "grpo: after no rollouts, the rollouts before are still trained on already" 0 "trained on already" \
	"${TS[@]}" -m "$TMP/e.st" --grpo --log /dev/null "$S"
unchanged "grpo: after no rollouts, the rollouts before again" "$TMP/e.st" "$TMP/e.before"
# A group a step: 2 steps and a rerun are the 4 steps of one run, byte for byte.
fresh n1
"${TS[@]}" -m "$TMP/n1.st" --grpo --groups 1 --log "$TMP/n1.log" "$S" 2>/dev/null
fresh n2
"${TS[@]}" -m "$TMP/n2.st" --grpo --groups 1 --steps 2 --log /dev/null "$S" 2>/dev/null
"${TS[@]}" -m "$TMP/n2.st" --grpo --groups 1 --log /dev/null "$S" 2>/dev/null
[ "$(grep -c '"groups":1,' "$TMP/n1.log")" = 4 ] && [ "$(meta step "$TMP/n1.st")" = 7 ] &&
	ok "grpo --groups 1: a step a group, 4 steps" || not_ok "grpo --groups 1" "$(cat "$TMP/n1.log")"
same "grpo --groups 1: 2 steps and a rerun give the checkpoint of 4 in one run" "$TMP/n1.st" "$TMP/n2.st"
same "grpo --groups 1: and its state" "$TMP/n1.st.optim" "$TMP/n2.st.optim"
# Rollouts in two files split between groups: a step for each file.
sluice-cat -r -n 8 -o "$TMP/h1.slc" "$S"
sluice-cat -r --skip 8 -o "$TMP/h2.slc" "$S"
fresh two
expect "grpo: two files split between groups" 0 "${TS[@]}" -m "$TMP/two.st" --grpo --log "$TMP/two.log" "$TMP/h1.slc" "$TMP/h2.slc"
[ "$(grep -c '"groups":2,' "$TMP/two.log")" = 2 ] && ok "grpo: two files, a step each (a step never spans two inputs)" ||
	not_ok "grpo: two files" "$(cat "$TMP/two.log")"

# -B is the forward pass's batch: one sequence a pass pads nothing, so its
# FLOPs are fewer than those of 16 padded to the longest.
fresh b1
"${TS[@]}" -m "$TMP/b1.st" --grpo -B 1 --log /dev/null "$S" 2>/dev/null
fresh b16
"${TS[@]}" -m "$TMP/b16.st" --grpo -B 16 --log /dev/null "$S" 2>/dev/null
f1=$(meta train_flops "$TMP/b1.st") f16=$(meta train_flops "$TMP/b16.st")
[ -n "$f1" ] && [ -n "$f16" ] && [ "$f1" -lt "$f16" ] && ok "grpo -B 1: no padding, fewer FLOPs than -B 16 ($f1 < $f16)" ||
	not_ok "grpo -B sets the forward pass's batch" "-B 1: $f1 FLOPs, -B 16: $f16"

# --- bad input: exit 1, the file and record named, the checkpoint as it was ---
refused "unscored rollouts" "r.slc: record 1: no reward field \(score the rollouts with sluice-synth-filter --reward\)" \
	--grpo "$TMP/r.slc"
"$SETFLOAT" reward nan 6 "$S" >"$TMP/nan.slc"
sluice-cat "$TMP/nan.slc" | sed -n 6p | grep -q '"reward": null' && ok "setfloat: record 6's reward is NaN" ||
	not_ok "setfloat" "$(sluice-cat "$TMP/nan.slc" | sed -n 6p | grep -o '"reward": [^,}]*')"
refused "a NaN reward" "nan.slc: record 6: the reward is not a finite number" --grpo "$TMP/nan.slc"
refused "a NaN reward in the second group, a step a group" "nan.slc: record 6: the reward is not a finite number" \
	--grpo --groups 1 "$TMP/nan.slc"
"$SETFLOAT" reward inf 16 "$S" >"$TMP/inf.slc"
refused "an infinite reward in the last record" "inf.slc: record 16: the reward is not a finite number" \
	--grpo --groups 1 "$TMP/inf.slc"
"${TS[@]}" -m "$TMP/wide.st" --init custom -L 1 -C 48 -H 2 --ctx 96 --tokenizer ar --n-vocab 300 --steps 0 --quiet
refused "a reference of another shape" "wide.st: a reference of 1 layers, 48 channels, .*but the model has 1, 32," \
	--grpo --ref "$TMP/wide.st" "$S"
"${TS[@]}" -m "$TMP/other.st" --init custom -L 1 -C 32 -H 2 --ctx 96 --tokenizer other --n-vocab 300 --steps 0 --quiet
refused "a reference of another tokenizer" "other.st: tokenizer other, but the model reads ar" \
	--grpo --ref "$TMP/other.st" "$S"
sluice-cat -r -n 6 -o "$TMP/cut1.slc" "$S"
sluice-cat -r --skip 6 -o "$TMP/cut2.slc" "$S"
refused "a group split across two files" "cut1.slc: record 5: group 1 has 2 completions, not 4 \(the last group of the input" \
	--grpo "$TMP/cut1.slc" "$TMP/cut2.slc"
refused "a group split across two files, a step a group" "cut1.slc: record 5: group 1 has 2 completions, not 4" \
	--grpo --groups 1 "$TMP/cut1.slc" "$TMP/cut2.slc"
refused "the second half of a split group" "cut2.slc: record 1: group 1 has 2 completions, not 4" --grpo "$TMP/cut2.slc"
score() { sluice-synth-filter --reward -R "$TMP/rules" --quiet; }
"${SAMPLE[@]}" -m "$P0" -t 1 -k 5 "$TMP/p.jsonl" | score >"$TMP/topk.slc"
refused "rollouts sampled with top-k" "topk.slc: record 1: sampled with top-k 5, top-p 1: the ratio needs the policy's whole distribution" \
	--grpo "$TMP/topk.slc"
"${SAMPLE[@]}" -m "$P0" -t 1 -p 0.9 "$TMP/p.jsonl" | score >"$TMP/topp.slc"
refused "rollouts sampled with top-p" "topp.slc: record 1: sampled with top-k 0, top-p 0.9" --grpo "$TMP/topp.slc"
"${SAMPLE[@]}" -m "$P0" -t 0 "$TMP/p.jsonl" | score >"$TMP/greedy.slc"
refused "greedy rollouts" "greedy.slc: record 1: sampled greedily \(temperature 0\)" --grpo "$TMP/greedy.slc"
"${SAMPLE[@]}" -m "$TMP/ref.st" -t 1 "$TMP/p.jsonl" | score >"$TMP/ahead.slc"
cat "$S" "$TMP/t07.slc" >"$TMP/mixed.slc"
refused "rollouts of two temperatures in a step" "mixed.slc: record 17: sampled at temperature 0.7, record 1 at 1: a step's rollouts share one temperature" \
	--grpo "$TMP/mixed.slc"
"${SAMPLE[@]}" -m "$P0" -t 1 --weights int8 "$TMP/p.jsonl" | sluice-synth-filter --reward -R "$TMP/rules" --quiet >"$TMP/int8.slc"
cat "$S" "$TMP/int8.slc" >"$TMP/mixw.slc"
refused "rollouts of two weight storages in a file" \
	"mixw.slc: record 17: sampled with int8 weights, record 1 with f32: rollouts of one file share one weight storage" \
	--grpo "$TMP/mixw.slc"
cat "$TMP/int8.slc" "$S" >"$TMP/mixw2.slc"
refused "rollouts of two weight storages, int8 first" "mixw2.slc: record 17: sampled with f32 weights, record 1 with int8" \
	--grpo "$TMP/mixw2.slc"
fresh int8
expect "rollouts of one narrower storage are taken" 0 "${TS[@]}" -m "$TMP/int8.st" --grpo --log /dev/null "$TMP/int8.slc"
refused "rollouts of a policy ahead of the model" "ahead.slc: record 1: sampled by the policy at step 5, but the model is at step 3" \
	--grpo "$TMP/ahead.slc"
refused "JSONL rollouts" "s.jsonl: record 1: prompt_tokens is not an array of token ids \(rollouts are read as records" \
	--grpo "$TMP/s.jsonl"
sluice-cat -r -o "$TMP/fromjsonl.slc" "$TMP/s.jsonl"
refused "JSONL rollouts made records again" "fromjsonl.slc: record 1: prompt_tokens is not an array of token ids" \
	--grpo "$TMP/fromjsonl.slc"
# Stale: sampled at step 3, the model advanced 5 steps by other training.
cp "$P0" "$TMP/stale.st"
cp "$P0.optim" "$TMP/stale.st.optim"
"${TS[@]}" -m "$TMP/stale.st" --steps 5 --quiet --log /dev/null "$SHARD"
cp "$TMP/stale.st" "$TMP/stale.before"
cp "$TMP/stale.st.optim" "$TMP/stale.before.optim"
expect_err "rollouts more than --max-staleness steps old" 1 \
	"s.slc: record 1: sampled at step 3, 5 steps before the model's 8: more than the 4 allowed \(--max-staleness\)" \
	"${TS[@]}" -m "$TMP/stale.st" --grpo --log /dev/null "$S"
unchanged "rollouts more than --max-staleness steps old" "$TMP/stale.st" "$TMP/stale.before"
expect "--max-staleness 5 takes them" 0 "${TS[@]}" -m "$TMP/stale.st" --grpo --max-staleness 5 --log /dev/null "$S"

# --- usage errors ---
expect_err "--kl without --ref" 2 "--kl 0.1 needs the reference model: --ref CKPT" \
	"${TS[@]}" -m "$TMP/u.st" --grpo --kl 0.1 "$S"
expect_err "--grpo with --init" 2 "--grpo trains a model that exists" \
	"${TS[@]}" -m "$TMP/u.st" --grpo --init d2 "$S"
expect_err "--dpo with -B 1" 2 "--dpo: -B must be at least 2" "${TS[@]}" -m "$TMP/u.st" --dpo -B 1 "$S"
expect_err "--ref with --dpo" 2 "--ref and --kl go with --grpo" "${TS[@]}" -m "$TMP/u.st" --dpo --ref "$P0" "$S"
expect_err "--agg of another name" 2 "invalid value for --agg" "${TS[@]}" -m "$TMP/u.st" --grpo --agg mean "$S"
[ ! -e "$TMP/u.st" ] && ok "usage errors write no checkpoint" || not_ok "usage errors write no checkpoint"

# --- DPO: the reference's log-probs of the rollouts, pairs from each group ---
expect "eval --ref-logprobs" 0 sluice-eval -m "$P0" --ref-logprobs --quiet -o "$TMP/d.slc" "$S"
fresh d
expect "dpo" 0 "${TS[@]}" -m "$TMP/d.st" --dpo -B 4 --log "$TMP/d.log" "$TMP/d.slc"
python3 - "$TMP/s.jsonl" "$TMP/d.log" <<'PY' >"$TMP/py.out" 2>&1 && ok "dpo: $(cat "$TMP/py.out")" || not_ok "dpo log" "$(cat "$TMP/py.out")"
import json, math, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
log = [json.loads(l) for l in open(sys.argv[2])]
assert len(log) == 1, log
d = log[0]
for k in ("pairs", "accuracy", "margin", "chosen", "rejected", "loss", "reward_mean", "zero_spread"):
    assert k in d, "no %s: %s" % (k, d)
groups = {}
for r in rs:
    groups.setdefault(r["group"], []).append(r["reward"])
pairs = 0
for g in groups.values():
    g = sorted(g, reverse=True)
    i, j = 0, len(g) - 1
    while i < j and g[i] > g[j]:
        pairs, i, j = pairs + 1, i + 1, j - 1
assert pairs > 0 and d["pairs"] == pairs, (d["pairs"], pairs, groups)
assert d["mode"] == "dpo" and d["step"] == 4, d
# The reference is the policy itself: no margin, the loss log 2.
assert abs(d["margin"]) < 1e-3 and abs(d["loss"] - math.log(2)) < 1e-4, d
assert 0 <= d["accuracy"] <= 1 and d["grad_norm"] > 0, d
print("%d pairs (best against worst of each group while their rewards differ), margin %g and loss %g = log 2 "
      "against the policy itself" % (pairs, d["margin"], d["loss"]))
PY
fresh d2
"${TS[@]}" -m "$TMP/d2.st" --dpo -B 4 --updates 2 --log "$TMP/d2.log" "$TMP/d.slc" 2>/dev/null
[ "$(grep -c '"mode":"dpo"' "$TMP/d2.log")" = 2 ] && [ "$(meta step "$TMP/d2.st")" = 5 ] &&
	ok "dpo --updates 2: two log lines, the step advanced by 2" || not_ok "dpo --updates 2" "$(cat "$TMP/d2.log")"
expect "dpo: rollouts of any step (no staleness limit: 3, the model at 9)" 0 \
	"${TS[@]}" -m "$TMP/stale.st" --dpo -B 4 --log /dev/null "$TMP/d.slc"
refused "dpo: rollouts without ref_logprobs" "s.slc: record 1: no ref_logprobs field \(add them with sluice-eval --ref-logprobs" \
	--dpo "$S"

# --- kills during GRPO: each run is SIGKILLed at a random moment, then the
# checkpoint must be one of the known outcomes, byte for byte, with its own
# state (a pending CKPT.optim.next only beside the model it belongs to), and
# a rerun must end at the last outcome ---
# kills NAME N ARG...: N-1 is the last known outcome $TMP/oK.st, K from 0 (the policy).
kills() {
	local name=$1 last=$2 i k pid got killed=0 bad=0 seen=""
	shift 2
	local K=$TMP/kill.st
	for ((i = 0; i < KILLS; i++)); do
		cp "$P0" "$K"
		cp "$P0.optim" "$K.optim"
		rm -f "$K.optim.next"
		"${TS[@]}" -m "$K" --quiet --log /dev/null "$@" 2>/dev/null &
		pid=$!
		# 1 to 80 ms: from loading the model to after its last save.
		sleep "$(printf '0.%03d' $((RANDOM % 80 + 1)))"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		[ $? -eq 137 ] && killed=$((killed + 1))
		got=""
		for ((k = 0; k <= last; k++)); do
			if cmp -s "$K" "$TMP/o$k.st" &&
				{ cmp -s "$K.optim" "$TMP/o$k.st.optim" || cmp -s "$K.optim.next" "$TMP/o$k.st.optim"; }; then
				got=$k
				break
			fi
		done
		if [ -z "$got" ]; then
			bad=$((bad + 1))
			echo "# $name, kill $((i + 1)): not one of the known checkpoints with its state"
		fi
		seen="$seen${got:-?}"
		if ! "${TS[@]}" -m "$K" --quiet --log /dev/null "$@" 2>"$TMP/err" || ! cmp -s "$K" "$TMP/o$last.st" ||
			! cmp -s "$K.optim" "$TMP/o$last.st.optim" || [ -e "$K.optim.next" ] || compgen -G "$K*.tmp.*" >/dev/null; then
			bad=$((bad + 1))
			echo "# $name, kill $((i + 1)): the rerun did not end at the last checkpoint: $(head -c 300 "$TMP/err")"
		fi
	done
	echo "# $name: $killed of $KILLS runs killed (SEED=$SEED), the checkpoints found: $seen"
	[ $bad = 0 ] && ok "$name: $KILLS kills, each leaving a known checkpoint with its state, each rerun finishing" ||
		not_ok "$name" "$bad bad outcomes"
}
cp "$P0" "$TMP/o0.st"
cp "$P0.optim" "$TMP/o0.st.optim"
# One step: the old checkpoint or the new one.
cp "$TMP/k2.st" "$TMP/o1.st"
cp "$TMP/k2.st.optim" "$TMP/o1.st.optim"
kills "kills during a GRPO step" 1 --grpo "$S"
# A step a group, saved after each: the checkpoint of 0 to 4 steps.
for k in 1 2 3 4; do
	fresh o$k
	"${TS[@]}" -m "$TMP/o$k.st" --grpo --groups 1 --steps $k --quiet --log /dev/null "$S"
done
same "--save-every 1: the steps saved along the way change nothing" "$TMP/o4.st" "$TMP/n1.st"
kills "kills during 4 GRPO steps saved after each" 4 --grpo --groups 1 --save-every 1 "$S"

#!/bin/bash
# sample.sh: sluice-sample end to end: fields of each completion, n per
# prompt in order, seeds, greedy, stops, the log-probs against sluice-eval's
# full forward pass, the rollout fields and header RL reads, and errors.
. "$(dirname "$0")/../lib.sh"
D=data
export OMP_NUM_THREADS=2
S=sluice-sample

shakespeare_tokens "$TMP"
sluice-shard --quiet -T 32 -o "$TMP/sh" "$TMP/shk.tok"
sluice-train-step -m "$TMP/a.st" --init custom -L 2 -C 32 -H 2 --ctx 64 --lr 3e-3 --steps 20 --quiet --log /dev/null \
	"$TMP/sh/train-00000.slc"
printf '{"id": "p1", "text": "ROMEO:\\nWhat"}\n{"id": "p2", "text": "First Citizen:\\n"}\n{"id": "p3", "text": ""}\n' >"$TMP/p.jsonl"

expect "-n 3 -J" 0 $S -m "$TMP/a.st" -n 3 -N 12 -J "$TMP/p.jsonl"
cp "$TMP/out" "$TMP/s1.jsonl"
[ "$(wc -l <"$TMP/s1.jsonl")" = 9 ] && ok "3 completions of each of 3 prompts" || not_ok "count" "$(wc -l <"$TMP/s1.jsonl")"
# The summary counts the tokens generated: the completions' lengths.
n=$(grep -o '"completion_tokens": \[[^]]*\]' "$TMP/s1.jsonl" | sed 's/.*\[//; s/\]//' | tr ',' '\n' | grep -c '[0-9]')
grep -Eq "9 completions of 3 prompts; $n tokens generated in [0-9.]+ s \([0-9.]+ tokens/s" "$TMP/err" &&
	ok "the summary: $n tokens generated, and the rate" || not_ok "summary" "$(cat "$TMP/err")"
cut -d, -f1 "$TMP/s1.jsonl" | uniq -c | awk '{ print $1 }' | tr '\n' ' ' | grep -q '^3 3 3 $' &&
	ok "in input order, a prompt's completions together" || not_ok "order"
for k in prompt_tokens completion completion_tokens logprobs group sample finish; do
	grep -q "\"$k\": " "$TMP/s1.jsonl" || not_ok "field $k"
done && ok "fields: prompt_tokens, completion, completion_tokens, logprobs, group, sample, finish"
grep -q '"id": "p3", "text": "", "prompt_tokens": \[50256\]' "$TMP/s1.jsonl" &&
	ok "an empty prompt starts from end-of-text" || not_ok "empty prompt" "$(grep p3 "$TMP/s1.jsonl" | head -1)"
$S -m "$TMP/a.st" -n 3 -N 12 -J -B 1 "$TMP/p.jsonl" 2>/dev/null >"$TMP/s2.jsonl"
same "same seed, another batch size: the same completions" "$TMP/s1.jsonl" "$TMP/s2.jsonl"
# Batch invariance in every weight storage: batch 1 on one thread, 16 and
# 64 on two give the same bits; bf16 and int8 are other models.
for w in f32 bf16 int8; do
	$S -m "$TMP/a.st" -n 3 -N 12 -J -B 1 -j 1 --weights $w "$TMP/p.jsonl" 2>/dev/null >"$TMP/w1.jsonl"
	$S -m "$TMP/a.st" -n 3 -N 12 -J -B 16 -j 2 --weights $w "$TMP/p.jsonl" 2>/dev/null >"$TMP/w16.jsonl"
	$S -m "$TMP/a.st" -n 3 -N 12 -J -B 64 -j 2 --weights $w "$TMP/p.jsonl" 2>/dev/null >"$TMP/w64.jsonl"
	cmp -s "$TMP/w1.jsonl" "$TMP/w16.jsonl" && cmp -s "$TMP/w1.jsonl" "$TMP/w64.jsonl" && grep -q "\"weights\": \"$w\"" "$TMP/w1.jsonl" &&
		ok "--weights $w: batch 1 (1 thread), 16 and 64 (2 threads): the same completions and log-probs" ||
		not_ok "--weights $w batch invariance"
	cp "$TMP/w1.jsonl" "$TMP/w-$w.jsonl"
done
sed 's/"weights": "f32"/"weights": "bf16"/' "$TMP/w-f32.jsonl" | cmp -s - "$TMP/w-bf16.jsonl" &&
	not_ok "bf16 weights change the log-probs" || ok "bf16 weights change the log-probs"
sed 's/"weights": "f32"//' "$TMP/s1.jsonl" | cmp -s - <(sed 's/"weights": "f32"//' "$TMP/w-f32.jsonl") &&
	ok "--weights f32 is the default" || not_ok "f32 default"
expect_err "--weights fp8" 2 "invalid value for --weights: 'fp8' \(expected f32, bf16 or int8\)" $S -m "$TMP/a.st" --weights fp8 "$TMP/p.jsonl"
$S -m "$TMP/a.st" -n 3 -N 12 -J -s 2 "$TMP/p.jsonl" 2>/dev/null >"$TMP/s3.jsonl"
cmp -s "$TMP/s1.jsonl" "$TMP/s3.jsonl" && not_ok "another seed, other completions" || ok "another seed, other completions"
$S -m "$TMP/a.st" -n 2 -t 0 -N 12 -J "$TMP/p.jsonl" 2>/dev/null | grep -o '"completion_tokens": [^]]*' |
	awk 'NR % 2 == 1 { prev = $0 } NR % 2 == 0 && $0 != prev { bad = 1 } END { exit bad || NR != 6 }' &&
	ok "greedy: a prompt's samples are identical" || not_ok "greedy"

# The log-probs are the model's: the full pass of sluice-eval --score over
# prompt + completion, less its score of the prompt alone, is their sum; in
# bf16 and int8 too, sluice-eval --weights W computing what decoding with
# that storage does.
score_check() { # NAME WEIGHTS COMPLETIONS
	head -1 "$3" >"$TMP/one.jsonl"
	python3 - "$TMP/one.jsonl" "$TMP" <<'PY' || not_ok "write the check files"
import json, sys
d = json.loads(open(sys.argv[1]).read())
with open(sys.argv[2] + "/both.jsonl", "w") as f:
    f.write(json.dumps({"tokens": d["prompt_tokens"] + d["completion_tokens"]}) + "\n")
    f.write(json.dumps({"tokens": d["prompt_tokens"]}) + "\n")
print(sum(d["logprobs"]), file=open(sys.argv[2] + "/sum", "w"))
PY
	sluice-eval -m "$TMP/a.st" --weights "$2" --score -J --quiet "$TMP/both.jsonl" | grep -o '"logprob": [0-9.e+-]*' | sed 's/.*: //' >"$TMP/lp"
	awk -v s="$(cat "$TMP/sum")" 'NR == 1 { a = $1 } NR == 2 { b = $1 } END { d = (a - b) - s; if (d < 0) d = -d; print d > "/dev/stderr"; exit !(d < 1e-3) }' \
		"$TMP/lp" 2>"$TMP/diff" && ok "$1 (difference $(cat "$TMP/diff"))" ||
		not_ok "$1" "$(cat "$TMP/diff") $(cat "$TMP/sum") $(cat "$TMP/lp")"
}
score_check "log-probs sum to the full pass's score of the completion" f32 "$TMP/s1.jsonl"
score_check "--weights bf16: log-probs sum to sluice-eval --weights bf16's score" bf16 "$TMP/w-bf16.jsonl"
score_check "--weights int8: log-probs sum to sluice-eval --weights int8's score" int8 "$TMP/w-int8.jsonl"

# --- rollout records (doc/rl.md): the sampler's log-probs, the settings, the
# policy's step, the stream header ---
$S -m "$TMP/a.st" -n 3 -N 12 "$TMP/p.jsonl" 2>/dev/null >"$TMP/r1.slc"
sluice-cat -J "$TMP/r1.slc" >"$TMP/r1.jsonl"
same "records and -J: the same rollouts" "$TMP/s1.jsonl" "$TMP/r1.jsonl"
$S -m "$TMP/a.st" -n 2 -N 12 -t 0.5 -k 40 -p 0.9 "$TMP/p.jsonl" 2>/dev/null | sluice-cat -J >"$TMP/r2.jsonl"
$S -m "$TMP/a.st" -n 2 -N 12 -t 1.5 -k 1 "$TMP/p.jsonl" 2>/dev/null | sluice-cat -J >"$TMP/r3.jsonl"
$S -m "$TMP/a.st" -n 1 -N 12 -t 0 "$TMP/p.jsonl" 2>/dev/null | sluice-cat -J >"$TMP/r4.jsonl"
python3 - "$TMP" <<'PY' >"$TMP/rl.out" 2>&1 && ok "rollout fields: $(cat "$TMP/rl.out")" || not_ok "rollout fields" "$(cat "$TMP/rl.out")"
import json, sys
t = sys.argv[1]
def recs(name):
    return [json.loads(l) for l in open(t + "/" + name)]
def settings(d, temp, k, p, n):
    for key, want, kind in (("temperature", temp, float), ("top_k", k, int), ("top_p", p, float),
                            ("max_new", n, int), ("policy_step", 20, int)):
        assert type(d[key]) is kind and d[key] == want, (key, d[key], want)
worst = 0
for d in recs("r1.jsonl"):
    settings(d, 1.0, 0, 1.0, 12)
    s, l = d["sample_logprobs"], d["logprobs"]
    assert len(s) == len(d["completion_tokens"]) == len(l) > 0, d
    assert all(type(x) is float for x in s), s
    worst = max([worst] + [abs(a - b) for a, b in zip(s, l)])
assert worst <= 1e-6, worst
diff = 0
for d in recs("r2.jsonl"):
    settings(d, 0.5, 40, 0.9, 12)
    assert len(d["sample_logprobs"]) == len(d["completion_tokens"])
    assert all(x <= 0 for x in d["sample_logprobs"])
    diff = max([diff] + [abs(a - b) for a, b in zip(d["sample_logprobs"], d["logprobs"])])
assert diff > 0.1, diff
for d in recs("r3.jsonl"):
    settings(d, 1.5, 1, 1.0, 12)
    assert d["sample_logprobs"] == [0.0] * len(d["completion_tokens"]), d["sample_logprobs"]
for d in recs("r4.jsonl"):
    settings(d, 0.0, 0, 1.0, 12)
    assert "sample_logprobs" not in d and len(d["logprobs"]) == len(d["completion_tokens"]), d
print("types right; at t 1 the sampler's log-probs are the model's (max difference %g), at t 0.5 top-k 40 top-p 0.9 "
      "they are not (%g), at top-k 1 all 0, none when greedy" % (worst, diff))
PY
zstd -dc "$TMP/r1.slc" 2>/dev/null | head -c 300 | tr -cd '[:print:]' >"$TMP/r1.head"
grep -qF '{"mode": "rollouts", "tokenizer": "gpt2", "n_vocab": 50257, "eot": 50256, "chat_template": "", "samples": 3, "weights": "f32"}' \
	"$TMP/r1.head" && ok "the stream header: mode rollouts, tokenizer, vocabulary, no chat template, samples, weights" ||
	not_ok "rollout header" "$(cat "$TMP/r1.head")"
sluice-tokenize -e gpt2 -d --tokens-field completion_tokens -t "$TMP/r1.slc" 2>"$TMP/err" >"$TMP/dec.txt" &&
	[ -s "$TMP/dec.txt" ] && ok "rollouts of plain prompts decode (an empty chat_template names none)" ||
	not_ok "decode rollouts" "$(cat "$TMP/err")"

# This small model ends lines soon: stop at the first newline.
expect "--stop" 0 $S -m "$TMP/a.st" -t 0 -N 30 --stop $'\n' --no-stop-eot -J "$TMP/p.jsonl"
grep -o '"completion": "[^"]*"' "$TMP/out" | grep -q '\\n' && not_ok "--stop: the string is cut" "$(cat "$TMP/out")" ||
	ok "--stop: the completion text ends before the stop string"
[ "$(grep -c '"finish": "stop_string"' "$TMP/out")" = 3 ] && ok "--stop: finish says stop_string" ||
	not_ok "finish stop_string" "$(grep -o '"finish": "[a-z_]*"' "$TMP/out")"
expect "-N 5" 0 $S -m "$TMP/a.st" -N 5 --no-stop-eot -J "$TMP/p.jsonl"
grep -c '"finish": "length"' "$TMP/out" | grep -q '^3$' && ok "-N 5 --no-stop-eot: every completion ends by length" ||
	not_ok "length" "$(cat "$TMP/out")"

printf '{"id": 1}\n' >"$TMP/noprompt.jsonl"
expect_err "no prompt field" 1 "record 1: no tokens field and no text text" $S -m "$TMP/a.st" -J "$TMP/noprompt.jsonl"
python3 -c 'print("{\"text\": \"" + "x " * 200 + "\"}")' >"$TMP/long.jsonl"
expect_err "prompt longer than the context" 1 "prompt of [0-9]+ tokens: the model takes 1 to 63" $S -m "$TMP/a.st" -J "$TMP/long.jsonl"
# A prompt too long for the context after 70 good ones (more than one batch
# of prompts): the run stops before generating anything, or skips it.
{ for i in $(seq 70); do printf '{"id": %d, "text": "ROMEO:"}\n' "$i"; done; cat "$TMP/long.jsonl"
  printf '{"id": 72, "text": "JULIET:"}\n'; } >"$TMP/late.jsonl"
expect_err "a late long prompt fails before any output" 1 "late.jsonl: record 71: prompt of [0-9]+ tokens: the model takes 1 to 63" \
	$S -m "$TMP/a.st" -N 2 -J "$TMP/late.jsonl"
[ ! -s "$TMP/out" ] && ok "nothing written before the error" || not_ok "output before the error" "$(wc -l <"$TMP/out") lines"
expect_err "--too-long error is the default" 1 "record 71: prompt of" $S -m "$TMP/a.st" -N 2 --too-long error -o "$TMP/late.slc" "$TMP/late.jsonl"
[ ! -e "$TMP/late.slc" ] && ok "-o: no file after the error" || not_ok "-o file left behind"
expect_err "--too-long skip: counted in the summary" 0 "1 of 72 prompts skipped: too long for the model's context of 64" \
	$S -m "$TMP/a.st" -N 2 --too-long skip -J "$TMP/late.jsonl"
[ "$(wc -l <"$TMP/out")" = 71 ] && ok "--too-long skip: the other 71 prompts completed" || not_ok "skip count" "$(wc -l <"$TMP/out")"
grep -q '"id": 72, .*"group": 71,' "$TMP/out" && ok "--too-long skip: groups keep the prompts' numbers in the input" ||
	not_ok "skip groups" "$(tail -1 "$TMP/out")"
# The weights are packed once for every batch of 64 prompts: the second
# batch's completions are those of its prompts run alone.
for i in $(seq 70); do printf '{"id": %d, "text": "%s"}\n' "$i" "$(printf 'ROMEO: %*s' "$i" '' | tr ' ' 'a')"; done >"$TMP/many.jsonl"
tail -n 6 "$TMP/many.jsonl" >"$TMP/many-tail.jsonl"
for w in f32 int8; do
	$S -m "$TMP/a.st" -t 0 -N 6 --weights $w -J "$TMP/many.jsonl" 2>/dev/null | tail -n 6 |
		sed 's/.*"completion_tokens"/"completion_tokens"/; s/, "group".*//' >"$TMP/many-all.out"
	$S -m "$TMP/a.st" -t 0 -N 6 --weights $w -J "$TMP/many-tail.jsonl" 2>/dev/null |
		sed 's/.*"completion_tokens"/"completion_tokens"/; s/, "group".*//' >"$TMP/many-alone.out"
	[ "$(wc -l <"$TMP/many-all.out")" = 6 ] && cmp -s "$TMP/many-all.out" "$TMP/many-alone.out" &&
		ok "--weights $w: prompts 65-70 after a first batch of 64 = the same prompts alone" ||
		not_ok "--weights $w: second batch of prompts" "$(diff "$TMP/many-all.out" "$TMP/many-alone.out" | head -4)"
done
# A group's completions are written one after the other, whatever the
# batch: 71 prompts (more than one batch of prompts), 3 samples each, 5
# sequences decoded together.
$S -m "$TMP/a.st" -n 3 -N 3 -B 5 --too-long skip --quiet -J "$TMP/late.jsonl" 2>/dev/null >"$TMP/groups.jsonl"
python3 - "$TMP/groups.jsonl" <<'PY' >"$TMP/g.out" 2>&1 && ok "groups contiguous: $(cat "$TMP/g.out")" || not_ok "groups contiguous" "$(cat "$TMP/g.out")"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
pairs = [(d["group"], d["sample"]) for d in rs]
want = [(g, k) for g in list(range(70)) + [71] for k in range(3)]
assert pairs == want, pairs[:12]
print("%d records, groups 0-69 and 71, samples 0-2 in order" % len(rs))
PY
expect_err "--too-long skip: counted even with --quiet" 0 "1 of 72 prompts skipped" \
	$S -m "$TMP/a.st" -N 2 --too-long skip --quiet -J "$TMP/late.jsonl"
expect_err "bad --too-long" 2 "invalid value for --too-long" $S -m "$TMP/a.st" --too-long maybe "$TMP/p.jsonl"
printf '{"tokens": [70000]}\n' >"$TMP/badtok.jsonl"
expect_err "token outside the vocabulary" 1 "token 70000 is outside" $S -m "$TMP/a.st" -J "$TMP/badtok.jsonl"
expect_err "no -m" 2 "no checkpoint" $S "$TMP/p.jsonl"
expect_err "bad top-p" 2 "invalid value for --top-p" $S -m "$TMP/a.st" --top-p 2 "$TMP/p.jsonl"
expect "--help" 0 $S --help

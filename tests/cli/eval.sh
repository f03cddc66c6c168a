#!/bin/bash
# eval.sh: sluice-eval on models trained here: --loss equals the loss
# train-step logs, bits per byte from the token bytes, --kl is 0 against
# itself, --mc scores a forced answer, --score adds per-document fields
# consistent with --loss, --ref-logprobs equals sluice-sample's log-probs,
# and malformed input fails with line numbers.
. "$(dirname "$0")/../lib.sh"
D=data
export OMP_NUM_THREADS=2
E=sluice-eval

shakespeare_tokens "$TMP"
sluice-shard --quiet -T 32 --val 0.05 -o "$TMP/sh" "$TMP/shk.tok"
TRAIN=$TMP/sh/train-00000.slc VAL=$TMP/sh/val-00000.slc
TINY=(--init custom -L 2 -C 32 -H 2 --ctx 64 --lr 3e-3 --warmup 2)
sluice-train-step -m "$TMP/a.st" "${TINY[@]}" --steps 10 --val "$VAL" --log "$TMP/a.log" --quiet "$TRAIN"
cp "$TMP/a.st" "$TMP/a0.st"
sluice-train-step -m "$TMP/a.st" --steps 10 --val "$VAL" --log "$TMP/a2.log" --quiet "$TRAIN"

# field NAME FILE: a number from a JSON object.
field() { grep -o "\"$1\": [0-9.e+-]*" "$2" | head -1 | sed 's/.*: //'; }

# --- loss ---
expect "--loss" 0 $E -m "$TMP/a.st" --loss "$VAL"
cp "$TMP/out" "$TMP/loss.json"
logged=$(grep -o '"val_loss":[0-9.]*' "$TMP/a2.log" | cut -d: -f2)
[ "$(field loss "$TMP/loss.json")" = "$logged" ] && ok "--loss equals the validation loss train-step logged ($logged)" ||
	not_ok "--loss vs train-step" "$(field loss "$TMP/loss.json") vs $logged"
awk -v l="$(field loss "$TMP/loss.json")" -v t="$(field targets "$TMP/loss.json")" -v b="$(field bytes "$TMP/loss.json")" \
	-v bpb="$(field bits_per_byte "$TMP/loss.json")" -v p="$(field perplexity "$TMP/loss.json")" \
	'BEGIN { want = l * t / log(2) / b; d = bpb - want; if (d < 0) d = -d; e = p - exp(l); if (e < 0) e = -e
		exit !(d < 1e-5 && e < 1e-3 * p && b > 3 * t) }' &&
	ok "bits per byte = loss x targets / ln 2 / bytes; perplexity = e^loss" || not_ok "bpb" "$(cat "$TMP/loss.json")"
# The UTF-8 bytes behind the targets: the validation text, less the first
# token of each sequence window (the targets start at position 1).
grep -q '"step": 20, "train_tokens": 2560, "train_flops": ' "$TMP/loss.json" &&
	ok "the report carries step, training tokens and FLOPs" || not_ok "report fields" "$(cat "$TMP/loss.json")"
expect "--loss --baseline" 0 $E -m "$TMP/a.st" --loss --baseline "$TMP/a0.st" "$VAL"
grep -q '"baseline": {"model": ".*a0.st", "step": 10' "$TMP/out" && grep -q '"loss_drop_per_pflop": [0-9]' "$TMP/out" &&
	ok "--baseline: the earlier model's figures and the loss drop per PFLOP" || not_ok "--baseline" "$(cat "$TMP/out")"

# --- kl ---
expect "--kl against itself" 0 $E -m "$TMP/a.st" --kl "$TMP/a.st" "$VAL"
[ "$(field kl_mean "$TMP/out")" = 0 ] && [ "$(field kl_max "$TMP/out")" = 0 ] && ok "KL(model || model) = 0" ||
	not_ok "KL self" "$(cat "$TMP/out")"
expect "--kl against an earlier model" 0 $E -m "$TMP/a.st" --kl "$TMP/a0.st" "$VAL"
awk -v k="$(field kl_mean "$TMP/out")" 'BEGIN { exit !(k > 0) }' && ok "KL to an earlier model is positive" ||
	not_ok "KL positive" "$(cat "$TMP/out")"

# --- score: per-document fields, consistent with --loss on the same tokens ---
sluice-cat -n 1 "$VAL" >"$TMP/one.slc"
expect "--score" 0 $E -m "$TMP/a.st" --score -J "$TMP/one.slc"
lp=$(grep -o '"logprob": [0-9.e+-]*' "$TMP/out" | sed 's/.*: //')
$E -m "$TMP/a.st" --loss "$TMP/one.slc" >"$TMP/one.json"
awk -v lp="$lp" -v l="$(field loss "$TMP/one.json")" -v t="$(field targets "$TMP/one.json")" \
	'BEGIN { d = -lp - l * t; if (d < 0) d = -d; exit !(t == 32 && d < 1e-4) }' &&
	ok "--score logprob = -loss x targets of --loss on the same sequence" || not_ok "--score vs --loss" "$lp $(cat "$TMP/one.json")"
grep -q '"tokens": \[' "$TMP/out" && grep -q '"scored_tokens": 32, "ppl": ' "$TMP/out" &&
	ok "--score passes the record on with scored_tokens and ppl" || not_ok "--score fields" "$(head -c 300 "$TMP/out")"
printf '{"id": 1, "text": "To be, or not to be."}\n{"id": 2, "text": "x"}\n' >"$TMP/docs.jsonl"
expect "--score tokenizes text with the model's tokenizer" 0 $E -m "$TMP/a.st" --score -J "$TMP/docs.jsonl"
grep -q '^{"id": 2, "text": "x", "logprob": 0.0, "scored_tokens": 0}$' "$TMP/out" &&
	ok "--score: a one-token document scores nothing, and says so" || not_ok "one token" "$(cat "$TMP/out")"
expect_err "--score to a terminal" 2 "terminal" bash -c "script -qec '$BIN/sluice-eval -m $TMP/a.st --score $TMP/docs.jsonl' /dev/null </dev/null | tr -d '\r' >&2; exit \${PIPESTATUS[0]}" 

# --- ref-logprobs: a reference model's log-probs of rollouts' completions ---
# The model's own, recomputed by full forward passes over batches padded to
# their longest sequence, are the log-probs sluice-sample kept while decoding.
printf '{"id": "p1", "text": "ROMEO:\\nWhat"}\n{"id": "p2", "text": "First Citizen:\\nWe are accounted poor"}\n{"id": "p3", "text": ""}\n' >"$TMP/p.jsonl"
sluice-sample -m "$TMP/a.st" -n 3 -N 24 -t 1 --quiet -o "$TMP/roll.slc" "$TMP/p.jsonl"
sluice-sample -m "$TMP/a.st" -n 2 -N 0 --quiet -o "$TMP/empty.slc" "$TMP/p.jsonl"
expect "--ref-logprobs -B 4" 0 $E -m "$TMP/a.st" --ref-logprobs -B 4 -o "$TMP/ref4.slc" "$TMP/roll.slc"
expect "--ref-logprobs -B 1 -J" 0 $E -m "$TMP/a.st" --ref-logprobs -B 1 -J --quiet -o "$TMP/ref1.jsonl" "$TMP/roll.slc"
sluice-cat -J "$TMP/ref4.slc" >"$TMP/ref4.jsonl"
sluice-cat -J "$TMP/roll.slc" >"$TMP/roll.jsonl"
python3 - "$TMP" <<'PY' >"$TMP/rl.out" 2>&1 && ok "--ref-logprobs: $(cat "$TMP/rl.out")" || not_ok "--ref-logprobs" "$(cat "$TMP/rl.out")"
import json, sys
t = sys.argv[1]
roll = [json.loads(l) for l in open(t + "/roll.jsonl")]
b4 = [json.loads(l) for l in open(t + "/ref4.jsonl")]
b1 = [json.loads(l) for l in open(t + "/ref1.jsonl")]
assert len(roll) == len(b4) == len(b1) == 9, (len(roll), len(b4), len(b1))
worst = batch = 0
lens = set()
for r, x, y in zip(roll, b4, b1):
    assert {k: v for k, v in x.items() if k != "ref_logprobs"} == r, "other fields changed"
    assert list(x)[-1] == "ref_logprobs" and all(type(v) is float for v in x["ref_logprobs"])
    assert len(x["ref_logprobs"]) == len(r["completion_tokens"]) == len(r["logprobs"]), x
    lens.add(len(r["prompt_tokens"]) + len(r["completion_tokens"]))
    worst = max([worst] + [abs(a - b) for a, b in zip(x["ref_logprobs"], r["logprobs"])])
    batch = max([batch] + [abs(a - b) for a, b in zip(x["ref_logprobs"], y["ref_logprobs"])])
assert len(lens) > 2, lens   # sequences of several lengths share a batch
assert worst < 1e-4, worst
assert batch < 1e-5, batch
print("equal to sluice-sample's logprobs of the same model (max difference %.2g, tolerance 1e-4) over %d tokens, "
      "batches of 4 and of 1 alike (%.2g)" % (worst, sum(len(r["logprobs"]) for r in roll), batch))
PY
# header META_OUT STREAM: the stream header's metadata, exactly.
header() {
	zstd -dc "$2" 2>/dev/null | head -c 65536 | python3 -c '
import struct, sys
b = sys.stdin.buffer.read()
assert b[:6] == b"SLUICE", b[:6]
n = struct.unpack("<I", b[8:12])[0]
sys.stdout.buffer.write(b[12:12 + n])' >"$1"
}
header "$TMP/h.roll" "$TMP/roll.slc"
header "$TMP/h.ref" "$TMP/ref4.slc"
grep -q '"mode": "rollouts"' "$TMP/h.roll" && same "--ref-logprobs: the rollouts' stream header is passed on" "$TMP/h.roll" "$TMP/h.ref" ||
	not_ok "--ref-logprobs: the rollouts' stream header is passed on" "$(cat "$TMP/h.roll")"
expect "--ref-logprobs: empty completions" 0 $E -m "$TMP/a.st" --ref-logprobs -J "$TMP/empty.slc"
[ "$(grep -c '"completion_tokens": \[\], .*"ref_logprobs": \[\]}$' "$TMP/out")" = 6 ] &&
	ok "--ref-logprobs: an empty completion gets empty ref_logprobs" || not_ok "empty completions" "$(head -c 400 "$TMP/out")"
sluice-train-step -m "$TMP/v256.st" --init custom -L 1 -C 32 -H 2 --ctx 64 --n-vocab 256 --steps 0 --quiet
sluice-train-step -m "$TMP/c8.st" --init custom -L 1 -C 32 -H 2 --ctx 8 --n-vocab 50257 --steps 0 --quiet
expect_err "--ref-logprobs: a token outside the model's vocabulary" 1 \
	"roll.slc: record 1: token [0-9]+ at prompt position 0 is outside the model's vocabulary of 256" \
	$E -m "$TMP/v256.st" --ref-logprobs "$TMP/roll.slc"
expect_err "--ref-logprobs: longer than the context" 1 \
	"roll.slc: record 1: prompt and completion make [0-9]+ tokens, more than the model's context of 8 \+ 1" \
	$E -m "$TMP/c8.st" --ref-logprobs "$TMP/roll.slc"
sluice-tokenize -e gpt2 "$TMP/p.jsonl" >"$TMP/tok.slc" 2>/dev/null
expect_err "--ref-logprobs: no prompt_tokens" 1 "tok.slc: record 1: no prompt_tokens field" \
	$E -m "$TMP/a.st" --ref-logprobs "$TMP/tok.slc"
expect_err "--ref-logprobs: a stream of another header after the rollouts" 1 \
	"tok.slc: cannot join the stream written: its header disagrees with the first input's" \
	$E -m "$TMP/a.st" --ref-logprobs -o "$TMP/mixed.slc" "$TMP/roll.slc" "$TMP/tok.slc"
[ ! -e "$TMP/mixed.slc" ] && ok "--ref-logprobs -o: no file after a failure" || not_ok "--ref-logprobs -o: no file after a failure"
printf '{"prompt_tokens": [1, 2], "completion_tokens": [3]}\n' >"$TMP/rj.jsonl"
expect_err "--ref-logprobs: a failure after written records" 1 \
	"rj.jsonl: record 1: prompt_tokens is not an array of token ids .*without -J" \
	sh -c "$E -m $TMP/a.st --ref-logprobs -B 2 $TMP/roll.slc $TMP/rj.jsonl >$TMP/part.slc"
expect_err "--ref-logprobs: ... and the stream it wrote has no trailer" 1 "without its trailer|empty input" \
	sluice-cat --check "$TMP/part.slc"
printf '{"completion_tokens": [3]}\n' >"$TMP/nop.jsonl"
expect_err "--ref-logprobs: no prompt_tokens (JSON lines)" 1 "nop.jsonl: record 1: no prompt_tokens field" \
	$E -m "$TMP/a.st" --ref-logprobs "$TMP/nop.jsonl"
expect_err "--ref-logprobs: no --baseline" 2 "--baseline goes with" $E -m "$TMP/a.st" --ref-logprobs --baseline "$TMP/a0.st" "$TMP/roll.slc"

# --- mc: a model taught one answer picks it, wherever the label puts it ---
for i in $(seq 400); do
	echo '{"text": "The capital of France is Paris. The colour of grass is green."}'
done >"$TMP/facts.jsonl"
sluice-tokenize -e gpt2 --drop-text -o "$TMP/facts.tok" "$TMP/facts.jsonl" 2>/dev/null
sluice-shard --quiet -T 32 -o "$TMP/fs" "$TMP/facts.tok"
sluice-train-step -m "$TMP/f.st" "${TINY[@]}" --lr 1e-2 --steps 40 --quiet --log /dev/null "$TMP/fs/train-00000.slc"
cat >"$TMP/mc.jsonl" <<'MC'
{"ctx": "The capital of France is", "endings": ["Paris.", "London.", "Rome.", "Berlin."], "label": 0}
{"ctx": "The capital of France is", "endings": ["Rome.", "Berlin.", "Paris.", "London."], "label": 2}
{"ctx": "The capital of France is Paris. The colour of grass is", "endings": ["blue.", "green.", "red."], "label": "1"}
MC
expect "--mc" 0 $E -m "$TMP/f.st" --mc "$TMP/mc.jsonl"
grep -q '"items": 3, "correct": 3, "acc": 1.000000, "correct_norm": 3, "acc_norm": 1.000000' "$TMP/out" &&
	ok "--mc: the taught answers win, by total and by per-byte log-probability" || not_ok "--mc forced" "$(cat "$TMP/out")"
sed 's/"label": 0/"label": 1/' "$TMP/mc.jsonl" | head -1 >"$TMP/mc-wrong.jsonl"
$E -m "$TMP/f.st" --mc "$TMP/mc-wrong.jsonl" | grep -q '"correct": 0, "acc": 0.000000' &&
	ok "--mc: a label on a wrong ending scores 0" || not_ok "--mc wrong label"
expect "--mc --limit 1" 0 $E -m "$TMP/f.st" --mc "$TMP/mc.jsonl" --limit 1
grep -q '"items": 1,' "$TMP/out" && ok "--limit" || not_ok "--limit" "$(cat "$TMP/out")"
printf '{"ctx": "a", "endings": ["b", "c"], "label": 0}\n{"ctx": "a", "endings": "b", "label": 0}\n' >"$TMP/bad1.jsonl"
expect_err "--mc: endings not an array" 1 "bad1.jsonl: line 2: no \"endings\" array" $E -m "$TMP/f.st" --mc "$TMP/bad1.jsonl"
printf '{"ctx": "a", "endings": ["b", 2], "label": 0}\n' >"$TMP/bad5.jsonl"
expect_err "--mc: an ending that is not a string" 1 "line 1: \"endings\": column 7: expected a string" \
	$E -m "$TMP/f.st" --mc "$TMP/bad5.jsonl"
printf '{"ctx": "a", "endings": ["b", "c"], "label": 0}\n\n{"ctx": "a", "endings": ["b", "c"], "label": 2}\n' >"$TMP/bad2.jsonl"
expect_err "--mc: label out of range (after a blank line)" 1 "bad2.jsonl: line 3: 2 endings and label 2" \
	$E -m "$TMP/f.st" --mc "$TMP/bad2.jsonl"
printf '{"endings": ["b", "c"], "label": 0}\n' >"$TMP/bad3.jsonl"
expect_err "--mc: no ctx" 1 "line 1: no \"ctx\" string" $E -m "$TMP/f.st" --mc "$TMP/bad3.jsonl"
printf '{"ctx": "a", "endings": ["b", "c"], "label": 0}\n{"ctx": "a",\n' >"$TMP/bad4.jsonl"
expect_err "--mc: malformed JSON" 1 "bad4.jsonl: line 2, column" $E -m "$TMP/f.st" --mc "$TMP/bad4.jsonl"

# --- gsm8k: the machinery (an untrained model answers nothing right) ---
sluice-train-step -m "$TMP/g.st" --init custom -L 1 -C 32 -H 2 --ctx 512 --n-vocab 50257 --tokenizer gpt2 --steps 0 --quiet
expect "--gsm8k" 0 $E -m "$TMP/g.st" --gsm8k "$D/gsm8k/test.jsonl" --limit 3 --max-new 8
grep -q '"items": 3, "samples": 1, "temperature": 0, "correct": 0, "exact_match": 0.000000' "$TMP/out" &&
	ok "--gsm8k: greedy answers to 3 questions, scored" || not_ok "--gsm8k" "$(cat "$TMP/out")"
expect "--gsm8k --samples 2" 0 $E -m "$TMP/g.st" --gsm8k "$D/gsm8k/test.jsonl" --limit 2 --samples 2 --max-new 4
grep -q '"items": 2, "samples": 2, "temperature": 1, .*"answers": 4' "$TMP/out" &&
	ok "--gsm8k --samples 2: pass@2 over 4 sampled answers" || not_ok "--samples" "$(cat "$TMP/out")"
cp "$TMP/g.st" "$TMP/g0.st"
expect "--gsm8k --baseline" 0 $E -m "$TMP/g.st" --gsm8k "$D/gsm8k/test.jsonl" --limit 2 --max-new 4 --baseline "$TMP/g0.st"
grep -q '"baseline": {"model": ".*g0.st", .*"items": 2, .*"exact_match_gain_per_pflop": null, "pflops_between": 0' "$TMP/out" &&
	ok "--gsm8k --baseline: the baseline's figures; no gain without compute between them" || not_ok "--gsm8k --baseline" "$(cat "$TMP/out")"
printf '{"question": "1 + 1?", "answer": "2\\n#### 2"}\n{"question": "x", "answer": "none"}\n' >"$TMP/g.jsonl"
expect_err "--gsm8k: a reference without a number" 1 "g.jsonl: line 2: the answer holds no final number" \
	$E -m "$TMP/g.st" --gsm8k "$TMP/g.jsonl"
expect_err "--gsm8k: a question longer than the context" 1 "prompt of 69 tokens: the model takes 1 to 63" \
	$E -m "$TMP/a.st" --gsm8k "$D/gsm8k/test.jsonl"

# --- errors and usage ---
expect_err "sequences longer than the context" 1 "longer than the model's context" \
	bash -c "sluice-shard --quiet -T 128 -o $TMP/long $TMP/shk.tok && $E -m $TMP/a.st --loss $TMP/long/train-00000.slc"
expect_err "not a checkpoint" 1 "not a safetensors file" $E -m "$TMP/shk.jsonl" --loss "$VAL"
expect_err "no mode" 2 "give one mode" $E -m "$TMP/a.st" "$VAL"
expect_err "two modes" 2 "give one mode" $E -m "$TMP/a.st" --loss --score "$VAL"
expect_err "--baseline needs files" 2 "name it as files" $E -m "$TMP/a.st" --loss --baseline "$TMP/a0.st"
expect "--help" 0 $E --help
expect "--help to a full disk" 1 bash -c "$E --help >/dev/full"

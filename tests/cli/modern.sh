#!/bin/bash
# modern.sh: the Llama family end to end on tiny Shakespeare: the modern,
# llama and qwen3 presets train (with Muon and AdamW), a resume is exact,
# the checkpoint names its options, sluice-sample and sluice-eval run it in
# every weight storage, llm.c export is refused; where torch and
# transformers are importable (TORCH_PYTHON, else python3), fresh random
# Llama, Qwen3, Qwen2 and nanochat-like models match transformers' logits
# and greedy tokens, and a trained checkpoint loads into transformers as its
# state dict with the same logits.
. "$(dirname "$0")/../lib.sh"
export OMP_NUM_THREADS=2
PY=${TORCH_PYTHON:-python3}

shakespeare_tokens "$TMP"
sluice-shard --quiet -T 32 --val 0.05 -o "$TMP/sh" "$TMP/shk.tok"
TRAIN=$TMP/sh/train-00000.slc VAL=$TMP/sh/val-00000.slc
# Two layers of the presets' kinds, 32 channels in 2 heads.
SMALL=(-C 32 -H 2 --ctx 64 --lr 3e-3 --warmup 2)
losses() { grep -o '"loss":[0-9.]*' "$1" | cut -d: -f2; }
config() { python3 -c 'import json, struct, sys
f = open(sys.argv[1], "rb"); n = struct.unpack("<Q", f.read(8))[0]
print(json.loads(f.read(n))["__metadata__"]["config"])' "$1"; }

# --- the nanochat-like preset with Muon: trains, resumes exactly ---
expect "--init modern-d2 --optim muon: 20 steps" 0 sluice-train-step -m "$TMP/a.st" --init modern-d2 "${SMALL[@]}" \
	--optim muon --steps 20 --log "$TMP/a.log" --val "$VAL" "$TRAIN"
first=$(losses "$TMP/a.log" | head -1) last=$(losses "$TMP/a.log" | tail -1)
awk -v f="$first" -v l="$last" 'BEGIN { exit !(f > 10.5 && f < 11.2 && l < f - 0.5) }' &&
	ok "modern: the loss starts near ln(50257) and falls ($first -> $last)" || not_ok "modern loss" "$first -> $last"
c=$(config "$TMP/a.st")
case $c in
*'"family":"llama"'*'"rope":1'*'"qk_norm":1'*'"untied":1'*'"no_bias":1'*'"norm":"rmsnorm"'*'"mlp":"relu2"'*)
	ok "the checkpoint's config names the options: $c" ;;
*) not_ok "config" "$c" ;;
esac
head -c 20000 "$TMP/a.st" | grep -aq '"model.layers.1.self_attn.q_norm.weight"' &&
	head -c 20000 "$TMP/a.st" | grep -aq '"lm_head.weight"' &&
	ok "tensors under Hugging Face Llama/Qwen3 names" || not_ok "tensor names"
sluice-train-step -m "$TMP/b.st" --init modern-d2 "${SMALL[@]}" --optim muon --steps 10 --total-steps 20 \
	--log "$TMP/b.log" "$TRAIN" 2>/dev/null
sluice-train-step -m "$TMP/b.st" --steps 10 --log "$TMP/b2.log" "$TRAIN" 2>/dev/null
cat "$TMP/b2.log" >>"$TMP/b.log"
same "modern resume: 10 + 10 steps give the checkpoint of 20" "$TMP/a.st" "$TMP/b.st"
same "modern resume: and the optimizer state" "$TMP/a.st.optim" "$TMP/b.st.optim"
cmp -s <(losses "$TMP/a.log" | head -20) <(losses "$TMP/b.log") && ok "modern resume: the same 20 losses" ||
	not_ok "resume losses" "$(paste <(losses "$TMP/a.log") <(losses "$TMP/b.log") | head -3)"

# --- the llama and qwen3 presets with AdamW ---
for p in llama qwen3; do
	expect "--init $p-d2: 10 steps" 0 sluice-train-step -m "$TMP/$p.st" --init $p-d2 "${SMALL[@]}" --steps 10 \
		--log "$TMP/$p.log" "$TRAIN"
	first=$(losses "$TMP/$p.log" | head -1) last=$(losses "$TMP/$p.log" | tail -1)
	awk -v f="$first" -v l="$last" 'BEGIN { exit !(l < f - 0.3) }' && ok "$p: the loss falls ($first -> $last)" ||
		not_ok "$p loss" "$first -> $last"
done
case $(config "$TMP/qwen3.st") in
*'"head_dim":128'*'"qk_norm":1'*'"mlp":"swiglu"'*'"norm_eps":9.9999999999999995e-07'*) ok "qwen3: head_dim 128, QK-norm, SwiGLU, eps 1e-6" ;;
*) not_ok "qwen3 config" "$(config "$TMP/qwen3.st")" ;;
esac

# --- sampling and evaluation ---
printf '{"id": "p1", "text": "ROMEO:\\nWhat"}\n{"id": "p2", "text": "First Citizen:\\n"}\n' >"$TMP/p.jsonl"
for w in f32 bf16 int8; do
	sluice-sample -m "$TMP/a.st" -n 2 -N 12 -J --weights $w "$TMP/p.jsonl" >"$TMP/s-$w.jsonl" 2>"$TMP/err"
	[ "$(grep -c '"completion_tokens": \[' "$TMP/s-$w.jsonl")" = 4 ] &&
		ok "sluice-sample --weights $w: 2 completions of each prompt" || not_ok "sample $w" "$(head -3 "$TMP/err")"
done
sluice-sample -m "$TMP/a.st" -n 1 -N 12 -J -t 0 "$TMP/p.jsonl" 2>/dev/null | head -1 >"$TMP/g.jsonl"
python3 - "$TMP/g.jsonl" "$TMP" <<'PY' || not_ok "write the check files"
import json, sys
d = json.loads(open(sys.argv[1]).read())
with open(sys.argv[2] + "/both.jsonl", "w") as f:
    f.write(json.dumps({"tokens": d["prompt_tokens"] + d["completion_tokens"]}) + "\n")
    f.write(json.dumps({"tokens": d["prompt_tokens"]}) + "\n")
print(sum(d["logprobs"]), file=open(sys.argv[2] + "/sum", "w"))
PY
sluice-eval -m "$TMP/a.st" --score -J --quiet "$TMP/both.jsonl" | grep -o '"logprob": [0-9.e+-]*' | sed 's/.*: //' >"$TMP/lp"
awk -v s="$(cat "$TMP/sum")" 'NR == 1 { a = $1 } NR == 2 { b = $1 } END { d = (a - b) - s; if (d < 0) d = -d; print d > "/dev/stderr"; exit !(d < 1e-3) }' \
	"$TMP/lp" 2>"$TMP/diff" && ok "greedy log-probs through the cache sum to sluice-eval's full-pass score (difference $(cat "$TMP/diff"))" ||
	not_ok "score" "$(cat "$TMP/diff") $(cat "$TMP/sum") $(cat "$TMP/lp")"
expect "sluice-eval --loss" 0 sluice-eval -m "$TMP/a.st" --loss "$VAL"
vl=$(grep -o '"val_loss":[0-9.]*' "$TMP/a.log" | tail -1 | cut -d: -f2)
el=$(grep -o '"loss": *[0-9.]*' "$TMP/out" | head -1 | grep -o '[0-9.]*$')
awk -v a="$vl" -v b="$el" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d < 1e-3) }' &&
	ok "sluice-eval --loss equals the trainer's validation loss ($el, $vl)" || not_ok "eval loss" "$el vs $vl: $(head -c 300 "$TMP/out")"

# --- refused ---
expect_err "--init modern-dx: not a preset" 2 "not a preset \\(dN, modern-dN, llama-dN, qwen3-dN" \
	sluice-train-step -m "$TMP/z.st" --init modern-dx "$TRAIN"
expect_err "llm.c export of a Llama-family model: refused" 1 "llm.c checkpoints hold GPT-2 models only" \
	sluice-train-step -m "$TMP/x.st" --from "$TMP/a.st" --steps 0 --export-llmc "$TMP/x.bin"
sed 's/\\"family\\":\\"llama\\"/\\"family\\":\\"mamba\\"/' "$TMP/a.st" >"$TMP/bad.st"
expect_err "an unknown family: exit 1 naming it" 1 'family "mamba" is not known' \
	sluice-eval -m "$TMP/bad.st" --loss "$VAL"
sed 's/"model.layers.1.mlp.up_proj.weight"/"model.layers.1.mlp.up_prox.weight"/' "$TMP/a.st" >"$TMP/bad.st"
expect_err "a missing tensor: exit 1 naming it" 1 "tensor model.layers.1.mlp.up_proj.weight is missing" \
	sluice-sample -m "$TMP/bad.st" -N 4 "$TMP/p.jsonl"

# --- transformers, when importable ---
if "$PY" -c 'import torch, transformers, safetensors' 2>/dev/null; then
	if "$PY" tests/parity/llama.py "$TMP/parity" --seed 1 >"$TMP/live" 2>&1 &&
		"$O/tests/test_parity" "$TMP/parity" >"$TMP/live" 2>&1 && ! grep -q '^not ok' "$TMP/live"; then
		ok "transformers live: fresh random Llama, Qwen3, Qwen2 and nanochat-like models: logits and greedy tokens match"
		grep '^#' "$TMP/live"
	else
		not_ok "transformers live" "$(tail -5 "$TMP/live")"
	fi
	ids="50256 5962 22307 25 198 8421 356 5120 597 2252 11 3285"
	for p in a llama qwen3; do
		"$O/tests/helpers/logits" "$TMP/$p.st" $ids >"$TMP/logits"
		"$PY" tests/parity/load.py "$TMP/$p.st" "$TMP/logits" $ids >"$TMP/load" 2>&1 &&
			ok "trained $p checkpoint in transformers: $(tail -1 "$TMP/load")" ||
			not_ok "trained $p checkpoint in transformers" "$(tail -3 "$TMP/load")"
	done
else
	echo "skip: torch and transformers not importable by $PY; the live comparison with transformers not run"
fi

#!/bin/bash
# hf-pipeline.sh: pipelines/hf.mk end to end on the tiny Qwen3 directory of
# tests/data/hf-qwen3 (its tokenizer.json has the chat tokens), a few steps
# of each stage: SFT from the directory, GRPO, the export; the exported
# directory reads back with the trained model's log-probs (and, where torch
# is importable, loads in from_pretrained with them); make again has
# nothing to do.
. "$(dirname "$0")/../lib.sh"
export OMP_NUM_THREADS=2
D=tests/data
H=$TMP/hf
run() {
	make --no-print-directory -f pipelines/hf.mk O="$O" BASE=$D/hf-qwen3 HF_OUT="$H" HF_TRAIN=200 HF_EVAL=8 \
		HF_SFT_STEPS=3 HF_RL_ITERS=2 HF_RL_PROMPTS=4 HF_G=4 HF_T=96 HF_SLOTS=8 HF_DTYPE=f32 "$@"
}
expect "make -f pipelines/hf.mk BASE=tests/data/hf-qwen3: SFT, GRPO, export" 0 run
grep -q "held-out exact match: SFT .*, GRPO .*; the model: $H/final" "$TMP/out" && ok "it reports held-out exact match" ||
	not_ok "report" "$(tail -3 "$TMP/out")"
for f in config.json generation_config.json model.safetensors tokenizer.json; do
	[ -f "$H/final/$f" ] || not_ok "the export has $f"
done && ok "the export: config.json, generation_config.json, model.safetensors, tokenizer.json"
grep -q '"architectures": \["Qwen3ForCausalLM"\]' "$H/final/config.json" && ok "written as Qwen3ForCausalLM" ||
	not_ok "architecture" "$(head -5 "$H/final/config.json")"
cmp -s $D/hf-qwen3/tokenizer.json "$H/final/tokenizer.json" && ok "with the base's tokenizer.json" || not_ok "tokenizer"
grep -q '"mode":"grpo".*"reward_mean"' "$H/grpo/log-2.jsonl" && ok "two GRPO iterations logged" ||
	not_ok "GRPO log" "$(ls "$H/grpo")"
# The SFT data: the directory's chat tokens.
sluice-cat "$H/teacher.slc" 2>/dev/null | head -1 | grep -q '"tokens": \[297,' && ok "SFT data opens with <|im_start|> (297)" ||
	not_ok "chat tokens" "$(sluice-cat "$H/teacher.slc" | head -c 200)"
python3 -c 'import json, sys; print(json.dumps({"tokens": json.load(open(sys.argv[1]))["ids"]}))' $D/hf-qwen3.expect.json >"$TMP/ids.jsonl"
sluice-eval -m "$H/grpo.safetensors" --score -J --quiet "$TMP/ids.jsonl" >"$TMP/s1"
sluice-eval -m "$H/final" --score -J --quiet "$TMP/ids.jsonl" >"$TMP/s2"
same "the export reads back with the trained model's log-probs" "$TMP/s1" "$TMP/s2"
cmp -s "$TMP/s1" <(sluice-eval -m $D/hf-qwen3 --score -J --quiet "$TMP/ids.jsonl") && not_ok "the model was trained" ||
	ok "the model was trained"
expect "make again" 0 run
grep -q "sluice-train-step\|sluice-sample" "$TMP/out" && not_ok "make again: nothing to redo" "$(cat "$TMP/out")" ||
	ok "make again: nothing to redo"
ids=$(python3 -c 'import json, sys; print(*json.load(open(sys.argv[1]))["ids"])' $D/hf-qwen3.expect.json)
live_logprob "live: from_pretrained loads the post-trained model" "$H/final" "$TMP/s1" $ids
expect_err "no BASE: refused" 2 "give BASE=path/to/model-directory" make --no-print-directory -f pipelines/hf.mk O="$O" HF_OUT="$H"

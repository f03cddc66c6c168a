#!/bin/bash
# hf-model.sh: Hugging Face model directories.  The tiny GPT-2 models of
# tests/data/hf-gpt2* (made by transformers, tests/parity/hf_gpt2.py: F32,
# bf16, sharded with an index) and the Llama (GQA, untied, bf16), Qwen3
# (QK-norm, head_dim apart, tied) and Qwen2 (q/k/v biases, sharded) models
# of tests/data/hf-llama, hf-qwen3, hf-qwen2 (tests/parity/hf_llama.py)
# read by sluice give transformers' logits and greedy tokens; a model
# trained from one and written with --export-hf reads back with the same
# log-probs (and, where torch is importable, loads in from_pretrained with
# them); bad directories are refused naming the problem.
. "$(dirname "$0")/../lib.sh"
export OMP_NUM_THREADS=2
D=tests/data
LOGITS=$PWD/$O/tests/helpers/logits

# compare NAME GOT WANT-JSON: logits within 1e-4 of the row's largest
# magnitude (1e-4 relative), and the log-probs of the ids to 1e-4 relative.
compare() {
	python3 - "$2" "$3" >"$TMP/cmp" 2>&1 <<'PY' && ok "$1 ($(cat "$TMP/cmp"))" || not_ok "$1" "$(cat "$TMP/cmp")"
import json, math, sys
got = [[float(x) for x in l.split()] for l in open(sys.argv[1])]
want = json.load(open(sys.argv[2]))["logits"]
assert len(got) == len(want) and all(len(a) == len(b) for a, b in zip(got, want)), "shape"
worst = max(max(abs(a - b) for a, b in zip(r, w)) / max(abs(b) for b in w) for r, w in zip(got, want))
def lsm(row):
    m = max(row)
    return [x - m - math.log(sum(math.exp(y - m) for y in row)) for x in row]
lp = max(abs(a - b) / max(1e-30, abs(b)) for r, w in zip(got, want) for a, b in zip(lsm(r), lsm(w)))
print("logits %.2g, log-probs %.2g relative" % (worst, lp))
assert worst < 1e-4 and lp < 1e-4
PY
}

for m in hf-gpt2:hf-gpt2 hf-gpt2-bf16:hf-gpt2-bf16 hf-gpt2-sharded:hf-gpt2 hf-llama:hf-llama hf-qwen3:hf-qwen3 \
	hf-qwen2:hf-qwen2; do
	dir=${m%%:*} exp=$D/${m#*:}.expect.json
	ids=$(python3 -c 'import json, sys; print(*json.load(open(sys.argv[1]))["ids"])' "$exp")
	"$LOGITS" "$D/$dir" $ids >"$TMP/logits" 2>"$TMP/err" || not_ok "$dir: logits" "$(cat "$TMP/err")"
	compare "$dir: transformers' logits" "$TMP/logits" "$exp"
	# sluice-eval --score: the sum of the log-probs of ids 2.. after the ones before.
	python3 -c 'import json, sys; print(json.dumps({"tokens": json.load(open(sys.argv[1]))["ids"]}))' "$exp" >"$TMP/ids.jsonl"
	sluice-eval -m "$D/$dir" --score -J --quiet "$TMP/ids.jsonl" >"$TMP/score" 2>"$TMP/err"
	python3 - "$TMP/score" "$exp" >"$TMP/cmp" 2>&1 <<'PY' && ok "$dir: sluice-eval --score, transformers' log-prob ($(cat "$TMP/cmp"))" || not_ok "$dir: --score" "$(cat "$TMP/cmp") $(cat "$TMP/err")"
import json, math, sys
got = json.loads(open(sys.argv[1]).read())["logprob"]
e = json.load(open(sys.argv[2]))
want = 0.0
for i in range(1, len(e["ids"])):
    row = e["logits"][i - 1]
    m = max(row)
    want += row[e["ids"][i]] - m - math.log(sum(math.exp(x - m) for x in row))
print("%.9g vs %.9g" % (got, want))
assert abs(got - want) <= 1e-4 * abs(want)
PY
	# Greedy decoding over the cache: transformers' tokens.
	python3 -c 'import json, sys; print(json.dumps({"tokens": json.load(open(sys.argv[1]))["prompt"]}))' "$exp" >"$TMP/prompt.jsonl"
	want=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["greedy"])' "$exp")
	got=$(sluice-sample -m "$D/$dir" -t 0 -N 12 --no-stop-eot -J --quiet "$TMP/prompt.jsonl" 2>&1 |
		python3 -c 'import json, sys; print(json.loads(sys.stdin.read())["completion_tokens"])' 2>&1)
	[ "$got" = "$want" ] && ok "$dir: greedy tokens are transformers' $want" || not_ok "$dir: greedy" "$got, want $want"
done

ids=$(python3 -c 'import json, sys; print(*json.load(open(sys.argv[1]))["ids"])' $D/hf-gpt2.expect.json)
python3 -c 'import json, sys; print(json.dumps({"tokens": json.load(open(sys.argv[1]))["ids"]}))' $D/hf-gpt2.expect.json >"$TMP/ids.jsonl"
python3 -c 'import json, sys; print(json.dumps({"tokens": json.load(open(sys.argv[1]))["prompt"]}))' $D/hf-gpt2.expect.json >"$TMP/prompt.jsonl"

# The model directory's tokenizer is the model's: text prompts, and the
# end-of-sequence id of generation_config.json stops generation.
printf '{"text": "ROMEO:"}\n' >"$TMP/text.jsonl"
expect "a text prompt, tokenized by the directory's tokenizer.json" 0 sluice-sample -m $D/hf-gpt2 -t 0 -N 4 -J "$TMP/text.jsonl"
grep -q '"completion": ' "$TMP/out" && ok "a completion decoded" || not_ok "completion" "$(cat "$TMP/out")"

rm -rf "$TMP/eos" && cp -r $D/hf-gpt2 "$TMP/eos"
sed -i 's/"eos_token_id": 319/"eos_token_id": [5, 162]/' "$TMP/eos/generation_config.json"
sluice-sample -m "$TMP/eos" -t 0 -N 12 -J --quiet "$TMP/prompt.jsonl" >"$TMP/eos.jsonl" 2>&1
grep -q '"completion_tokens": \[301, 162\], .*"finish": "stop_token"' "$TMP/eos.jsonl" &&
	ok "generation_config.json's eos_token_id list ends a completion" || not_ok "eos stop" "$(cat "$TMP/eos.jsonl")"
sluice-sample -m "$TMP/eos" -t 0 -N 12 -J --quiet --no-stop-eot "$TMP/prompt.jsonl" 2>&1 | grep -q '"finish": "length"' &&
	ok "--no-stop-eot: not with it" || not_ok "--no-stop-eot and eos_token_id"

# --- the round trip: train from the directory, export, read back ---
awk -f scripts/paragraphs.awk data/tinyshakespeare.txt | head -200 >"$TMP/shk.jsonl"
sluice-tokenize -v $D/hf-gpt2 --eot --drop-text -o "$TMP/shk.tok" "$TMP/shk.jsonl" 2>/dev/null
sluice-shard --quiet -T 16 -o "$TMP/sh" "$TMP/shk.tok"
expect "train 3 steps from the directory, --export-hf" 0 sluice-train-step -m "$TMP/a.st" --from $D/hf-gpt2 --steps 3 \
	--lr 1e-2 --quiet --log /dev/null --export-hf "$TMP/out-hf" "$TMP/sh/train-00000.slc"
for f in config.json generation_config.json model.safetensors tokenizer.json; do
	[ -f "$TMP/out-hf/$f" ] || not_ok "--export-hf writes $f"
done && ok "--export-hf: config.json, generation_config.json, model.safetensors, tokenizer.json"
cmp -s $D/hf-gpt2/tokenizer.json "$TMP/out-hf/tokenizer.json" && ok "the tokenizer.json is the model's" ||
	not_ok "tokenizer.json copied"
ls -d "$TMP"/out-hf.* 2>/dev/null | grep -q . && not_ok "no temporary directory left" "$(ls -d "$TMP"/out-hf.*)" ||
	ok "no temporary directory left"
sluice-eval -m "$TMP/a.st" --score -J --quiet "$TMP/ids.jsonl" >"$TMP/s1"
sluice-eval -m "$TMP/out-hf" --score -J --quiet "$TMP/ids.jsonl" >"$TMP/s2"
same "the exported directory reads back with the checkpoint's log-probs" "$TMP/s1" "$TMP/s2"
cmp -s "$TMP/s1" <(sluice-eval -m $D/hf-gpt2 --score -J --quiet "$TMP/ids.jsonl") &&
	not_ok "training changed the model" || ok "training changed the model"
"$LOGITS" "$TMP/a.st" $ids >"$TMP/l1"
"$LOGITS" "$TMP/out-hf" $ids >"$TMP/l2"
same "and the same logits, bit for bit" "$TMP/l1" "$TMP/l2"
grep -q '"eos_token_id": 319' "$TMP/out-hf/config.json" && grep -q '"eos_token_id": 319' "$TMP/out-hf/generation_config.json" &&
	ok "eos_token_id carried through the checkpoint" || not_ok "eos ids" "$(cat "$TMP/out-hf/generation_config.json")"
expect "--export-dtype bf16" 0 sluice-train-step -m "$TMP/a.st" --steps 0 --quiet --export-hf "$TMP/out-bf16" --export-dtype bf16
"$LOGITS" "$TMP/out-bf16" $ids >"$TMP/l3"
python3 - "$TMP/out-bf16/model.safetensors" "$TMP/out-hf/model.safetensors" "$TMP/l1" "$TMP/l3" >"$TMP/cmp" 2>&1 <<'PY' &&
import json, struct, sys
def dtypes(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return {v["dtype"] for k, v in json.loads(b[8:8 + n]).items() if k != "__metadata__"}, len(b)
(d16, n16), (d32, n32) = dtypes(sys.argv[1]), dtypes(sys.argv[2])
assert d16 == {"BF16"} and d32 == {"F32"} and n16 < n32 * 0.6, (d16, d32, n16, n32)
a = [float(x) for x in open(sys.argv[3]).read().split()]
b = [float(x) for x in open(sys.argv[4]).read().split()]
worst = max(abs(x - y) for x, y in zip(a, b))
assert 0 < worst < 0.1, worst
print("BF16 tensors, %d of %d bytes, logits within %.2g" % (n16, n32, worst))
PY
ok "bf16 export: $(cat "$TMP/cmp")" || not_ok "bf16 export" "$(cat "$TMP/cmp")"
expect "--export-hf over an earlier export replaces it" 0 sluice-train-step -m "$TMP/a.st" --steps 0 --quiet --export-hf "$TMP/out-bf16"
cmp -s "$TMP/out-bf16/model.safetensors" "$TMP/out-hf/model.safetensors" && ok "the earlier export replaced" || not_ok "replaced"
mkdir "$TMP/notmodel" && touch "$TMP/notmodel/notes.txt"
expect_err "--export-hf refuses a directory of other files" 1 "notmodel: cannot write: holds files other than a model's" \
	sluice-train-step -m "$TMP/a.st" --steps 0 --quiet --export-hf "$TMP/notmodel"
[ -f "$TMP/notmodel/notes.txt" ] && ok "and leaves it as it was" || not_ok "notmodel left alone"
expect_err "-m DIR in train-step: a usage error" 2 "is a directory: -m names the checkpoint file" \
	sluice-train-step -m $D/hf-gpt2 --steps 0
expect_err "--export-dtype fp8" 2 "invalid value for --export-dtype" sluice-train-step -m "$TMP/a.st" --steps 0 --export-hf "$TMP/x" --export-dtype fp8

# Live: transformers' from_pretrained loads the export with the same log-probs.
live_logprob "live: from_pretrained loads the export" "$TMP/out-hf" "$TMP/s1" $ids

# --- bad directories: exit 1, naming what is wrong ---
bad() { # NAME: a copy of hf-gpt2 in $TMP/NAME
	rm -rf "$TMP/$1"
	cp -r $D/hf-gpt2 "$TMP/$1"
}
edit_st() { # FILE PYTHON: rewrite the safetensors header dict h
	python3 - "$1" "$2" <<'PY'
import json, struct, sys
p, code = sys.argv[1], sys.argv[2]
b = open(p, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
data = b[8 + n:]
exec(code)
hj = json.dumps(h).encode()
hj += b" " * (-len(hj) % 8)
open(p, "wb").write(struct.pack("<Q", len(hj)) + hj + data)
PY
}
bad arch
sed -i 's/"GPT2LMHeadModel"/"MambaForCausalLM"/' "$TMP/arch/config.json"
expect_err "unknown architecture" 1 "arch: architecture MambaForCausalLM: not supported" sluice-eval -m "$TMP/arch" --score "$TMP/ids.jsonl"
bad qwen
python3 - "$TMP/qwen/config.json" <<'PY'
import json, sys
json.dump({"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 32, "intermediate_size": 64,
           "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
           "max_position_embeddings": 32, "vocab_size": 320, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
           "tie_word_embeddings": True}, open(sys.argv[1], "w"))
PY
expect_err "a GPT-2 file under a Qwen3 config.json: the tensor Qwen3 needs first is missing" 1 \
	"qwen: tensor model.embed_tokens.weight is missing" sluice-sample -m "$TMP/qwen" "$TMP/prompt.jsonl"
bad missing
edit_st "$TMP/missing/model.safetensors" '
t = h.pop("transformer.h.1.mlp.c_fc.bias")
s = t["data_offsets"][1] - t["data_offsets"][0]
for v in h.values():
    if isinstance(v, dict) and "data_offsets" in v and v["data_offsets"][0] >= t["data_offsets"][1]:
        v["data_offsets"] = [v["data_offsets"][0] - s, v["data_offsets"][1] - s]
data = data[:t["data_offsets"][0]] + data[t["data_offsets"][1]:]'
expect_err "missing tensor" 1 "missing: tensor h.1.mlp.c_fc.bias is missing" sluice-eval -m "$TMP/missing" --score "$TMP/ids.jsonl"
bad shape
sed -i 's/"n_embd": 32/"n_embd": 16/; s/"n_head": 4/"n_head": 2/' "$TMP/shape/config.json"
expect_err "a shape the config disagrees with" 1 "shape: tensor transformer.wte.weight: shape \[320, 32\], the config gives \[320, 16\]" \
	sluice-eval -m "$TMP/shape" --score "$TMP/ids.jsonl"
bad dtype
edit_st "$TMP/dtype/model.safetensors" 'h["transformer.wpe.weight"]["dtype"] = "I32"'
expect_err "a tensor of integers" 1 "tensor transformer.wpe.weight: dtype I32 \(weights are F32, BF16 or F16\)" \
	sluice-eval -m "$TMP/dtype" --score "$TMP/ids.jsonl"
bad extra
edit_st "$TMP/extra/model.safetensors" 'h["transformer.h.0.attn.q_norm.weight"] = h.pop("transformer.h.0.attn.bias", None) or {"dtype": "F32", "shape": [0], "data_offsets": [len(data), len(data)]}'
expect_err "a tensor GPT-2 does not have" 1 "tensor transformer.h.0.attn.q_norm.weight is not part of a GPT2LMHeadModel model" \
	sluice-eval -m "$TMP/extra" --score "$TMP/ids.jsonl"
bad trunc
head -c 100000 $D/hf-gpt2/model.safetensors >"$TMP/trunc/model.safetensors"
expect_err "truncated safetensors" 1 "trunc: model.safetensors: tensor .*data_offsets" sluice-eval -m "$TMP/trunc" --score "$TMP/ids.jsonl"
rm -rf "$TMP/shard" && cp -r $D/hf-gpt2-sharded "$TMP/shard" && rm "$TMP/shard/model-00002-of-00002.safetensors"
expect_err "missing index shard" 1 "model-00002-of-00002.safetensors \(in the index\): No such file or directory" \
	sluice-eval -m "$TMP/shard" --score "$TMP/ids.jsonl"
rm -rf "$TMP/moved" && cp -r $D/hf-gpt2-sharded "$TMP/moved"
sed -i 's/"transformer.wte.weight": "model-0000[12]/"transformer.wte.weight": "model-00003/' "$TMP/moved/model.safetensors.index.json"
cp "$TMP/moved/model-00001-of-00002.safetensors" "$TMP/moved/model-00003-of-00002.safetensors"
grep -q '"transformer.wte.weight": "model-00003' "$TMP/moved/model.safetensors.index.json" && {
	edit_st "$TMP/moved/model-00003-of-00002.safetensors" 'h.pop("transformer.wte.weight", None)
h = {k: v for k, v in h.items() if k == "__metadata__"}
data = b""'
	expect_err "an index naming the wrong shard" 1 "tensor transformer.wte.weight is not in model-00003-of-00002.safetensors, where the index puts it" \
		sluice-eval -m "$TMP/moved" --score "$TMP/ids.jsonl"; }
bad escape
sed -i 's/"model.safetensors"/"..\/model.safetensors"/' "$TMP/escape/config.json"
printf '{"weight_map": {"transformer.wte.weight": "../x.safetensors"}}' >"$TMP/escape/model.safetensors.index.json"
expect_err "an index naming a file outside the directory" 1 "weight_map: \"../x.safetensors\" is not a file name in the directory" \
	sluice-eval -m "$TMP/escape" --score "$TMP/ids.jsonl"
bad vocab
sed -i 's/"vocab_size": 320/"vocab_size": 300/' "$TMP/vocab/config.json"
expect_err "a tokenizer larger than the embedding" 1 "tokenizer.json: ids up to 319 do not fit the 300 rows of the embedding" \
	sluice-eval -m "$TMP/vocab" --score "$TMP/ids.jsonl"
bad noconfig
rm "$TMP/noconfig/config.json"
expect_err "no config.json" 1 "noconfig: no config.json" sluice-sample -m "$TMP/noconfig" "$TMP/prompt.jsonl"
bad eps
sed -i 's/"layer_norm_epsilon": 1e-05/"layer_norm_epsilon": 1e-06/' "$TMP/eps/config.json"
expect_err "a LayerNorm epsilon this build does not compute" 1 "layer_norm_epsilon 1e-06" sluice-eval -m "$TMP/eps" --score "$TMP/ids.jsonl"
bad untied
python3 - "$TMP/untied/model.safetensors" <<'PY'
import json, struct, sys
p = sys.argv[1]
b = open(p, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
data = bytearray(b[8 + n:])
t = h["transformer.wte.weight"]
lm = data[t["data_offsets"][0]:t["data_offsets"][1]]
lm[0] ^= 1
h["lm_head.weight"] = {"dtype": "F32", "shape": t["shape"], "data_offsets": [len(data), len(data) + len(lm)]}
data += lm
hj = json.dumps(h).encode()
hj += b" " * (-len(hj) % 8)
open(p, "wb").write(struct.pack("<Q", len(hj)) + hj + data)
PY
expect_err "an untied head" 1 "tensor lm_head.weight differs from wte.weight" sluice-eval -m "$TMP/untied" --score "$TMP/ids.jsonl"

# A 40960-position model is read with 4096; sampling's cache holds the
# positions a prompt and its completion reach, not those 4096: 4096 slots
# fit in 3 GB of address space (the whole context would take 8.6 GB).
for i in 1 2 3 4 5 6 7 8; do echo '{"tokens": [40, 41, 42, 43]}'; done >"$TMP/p8.jsonl"
# AddressSanitizer reserves terabytes of shadow address space, so the limit
# is left out of a sanitizer build (the completions are still checked).
vlimit="ulimit -v 3000000"
ldd "$(command -v sluice-sample)" 2>/dev/null | grep -q libasan && vlimit=: &&
	echo "skip: sanitizer build; sampling slots run without the 3 GB address-space limit"
($vlimit && exec sluice-sample -m $D/hf-qwen3 -t 0 -N 12 -B 4096 --no-stop-eot -J --quiet "$TMP/p8.jsonl") >"$TMP/many" 2>&1 &&
	[ "$(grep -c '"completion_tokens": \[137, 7, 7, 147, 7, 147, 39, 119, 147, 245, 245, 245\]' "$TMP/many")" = 8 ] &&
	ok "4096 sampling slots of a long-context model: the cache sized by what the prompts need" ||
	not_ok "sampling slots" "$(head -c 300 "$TMP/many")"

# --- the Llama family: train from the directory, export, read back ---
for m in hf-qwen3 hf-llama; do
	sluice-tokenize -v $D/$m --eot --drop-text -o "$TMP/$m.tok" "$TMP/shk.jsonl" 2>/dev/null
	rm -rf "$TMP/$m.sh" && sluice-shard --quiet -T 16 -o "$TMP/$m.sh" "$TMP/$m.tok"
	expect "$m: train 3 steps from the directory, --export-hf" 0 sluice-train-step -m "$TMP/$m.st" --from $D/$m \
		--steps 3 --lr 1e-2 --quiet --log /dev/null --export-hf "$TMP/$m-out" "$TMP/$m.sh/train-00000.slc"
	python3 -c 'import json, sys; print(json.dumps({"tokens": json.load(open(sys.argv[1]))["ids"]}))' $D/$m.expect.json >"$TMP/$m.ids.jsonl"
	sluice-eval -m "$TMP/$m.st" --score -J --quiet "$TMP/$m.ids.jsonl" >"$TMP/$m.s1"
	sluice-eval -m "$TMP/$m-out" --score -J --quiet "$TMP/$m.ids.jsonl" >"$TMP/$m.s2"
	same "$m: the export reads back with the checkpoint's log-probs" "$TMP/$m.s1" "$TMP/$m.s2"
	cmp -s "$TMP/$m.s1" <(sluice-eval -m $D/$m --score -J --quiet "$TMP/$m.ids.jsonl") &&
		not_ok "$m: training changed the model" || ok "$m: training changed the model"
	mids=$(python3 -c 'import json, sys; print(*json.load(open(sys.argv[1]))["ids"])' $D/$m.expect.json)
	"$LOGITS" "$TMP/$m.st" $mids >"$TMP/$m.l1"
	"$LOGITS" "$TMP/$m-out" $mids >"$TMP/$m.l2"
	same "$m: and the same logits, bit for bit" "$TMP/$m.l1" "$TMP/$m.l2"
	cmp -s $D/$m/tokenizer.json "$TMP/$m-out/tokenizer.json" && ok "$m: the tokenizer.json is the model's" ||
		not_ok "$m: tokenizer.json copied"
	# The config.json written: the class and the fields from_pretrained needs.
	python3 - "$TMP/$m-out/config.json" $D/$m/config.json >"$TMP/cmp" 2>&1 <<'PY' && ok "$m: config.json $(cat "$TMP/cmp")" || not_ok "$m: config.json" "$(cat "$TMP/cmp")"
import json, sys
got, orig = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for k in ("architectures", "model_type", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
          "num_key_value_heads", "rms_norm_eps", "tie_word_embeddings", "vocab_size", "hidden_act", "bos_token_id",
          "eos_token_id"):
    assert got[k] == orig[k], (k, got[k], orig[k])
theta = orig.get("rope_theta") or orig["rope_parameters"]["rope_theta"]
assert got["rope_theta"] == theta and got["head_dim"] == orig.get("head_dim", 8), (got["rope_theta"], got["head_dim"])
assert got["max_position_embeddings"] == min(orig["max_position_embeddings"], 4096), got["max_position_embeddings"]
assert got["torch_dtype"] == "float32" and got["rope_scaling"] is None and got["attention_bias"] is False
print("as the original's (%s), max_position_embeddings %d" % (got["architectures"][0], got["max_position_embeddings"]))
PY
	# A tied head is not written twice.
	python3 - "$TMP/$m-out/model.safetensors" "$(grep -c '"tie_word_embeddings": true' $D/$m/config.json)" <<'PY' &&
import json, struct, sys
b = open(sys.argv[1], "rb").read()
names = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
assert ("lm_head.weight" in names) == (sys.argv[2] == "0"), sorted(names)
PY
	ok "$m: lm_head.weight written only when untied" || not_ok "$m: lm_head.weight"
	live_logprob "$m live: from_pretrained loads the export" "$TMP/$m-out" "$TMP/$m.s1" $mids
done
expect "--export-dtype bf16 of a Qwen3 model" 0 sluice-train-step -m "$TMP/hf-qwen3.st" --steps 0 --quiet \
	--export-hf "$TMP/q-bf16" --export-dtype bf16
grep -q '"torch_dtype": "bfloat16"' "$TMP/q-bf16/config.json" && "$LOGITS" "$TMP/q-bf16" 1 2 3 >/dev/null &&
	ok "bf16: torch_dtype bfloat16, and it reads back" || not_ok "qwen3 bf16 export"

# A model no transformers class expresses: refused before it is trained.
expect_err "--export-hf of a modern-dN model (ReLU squared): refused" 1 "modern-out: cannot write: mlp relu2" \
	sluice-train-step -m "$TMP/modern.st" --init modern-d1 --ctx 16 --steps 1 --quiet --log /dev/null \
	--export-hf "$TMP/modern-out" "$TMP/hf-qwen3.sh/train-00000.slc"
[ ! -e "$TMP/modern.st" ] && [ ! -e "$TMP/modern-out" ] && ok "and nothing written, not even the checkpoint" ||
	not_ok "modern refusal wrote" "$(ls "$TMP" | grep modern)"

# --- one tokenizer, however its directory is named ---
# A stream names its tokenizer by the real path of the model directory: a
# path of over 64 bytes, with or without a trailing slash, relative from
# another directory or through tokenizer.json, is the same tokenizer.
L=$TMP/a-directory-name-long-enough/to-pass-the-old-sixty-four-bytes/qwen3-model
mkdir -p "$L" && cp $D/hf-qwen3/* "$L/"
sluice-tokenize -v "$L/tokenizer.json" --eot --drop-text -o "$TMP/long.tok" "$TMP/shk.jsonl" 2>/dev/null
rm -rf "$TMP/long.sh" && sluice-shard --quiet -T 16 -o "$TMP/long.sh" "$TMP/long.tok"
grep -q "\"tokenizer\": \"$(cd "$L" && pwd -P)\"" "$TMP/long.sh/manifest.json" &&
	ok "the stream names the directory's real path" || not_ok "the stream names the directory's real path" \
	"$(head -c 300 "$TMP/long.sh/manifest.json")"
for from in "$L" "$L/"; do
	expect "--from ${from#"$TMP"/}: the stream's tokenizer is the model's" 0 \
		sluice-train-step -m "$TMP/long.st" --from "$from" --steps 1 --quiet --log /dev/null "$TMP/long.sh/train-00000.slc"
	rm -f "$TMP/long.st" "$TMP/long.st.optim"
done
expect "--from a relative path from another directory" 0 sh -c 'cd "$1/a-directory-name-long-enough" &&
	exec sluice-train-step -m ../long.st --from to-pass-the-old-sixty-four-bytes/qwen3-model/ --steps 1 --quiet \
	--log /dev/null ../long.sh/train-00000.slc' sh "$TMP"
# The Hugging Face cache's layout: a snapshot's files are links to blobs
# named by their hashes.
C=$TMP/hub/models--tiny--qwen3
mkdir -p "$C/blobs" "$C/snapshots/abc123"
for f in $D/hf-qwen3/*; do
	h=$(sha256sum "$f" | cut -c1-16)
	cp "$f" "$C/blobs/$h" && ln -s "../../blobs/$h" "$C/snapshots/abc123/$(basename "$f")"
done
sluice-tokenize -v "$C/snapshots/abc123/tokenizer.json" --eot --drop-text -o "$TMP/hub.tok" "$TMP/shk.jsonl" 2>/dev/null
rm -rf "$TMP/hub.sh" && sluice-shard --quiet -T 16 -o "$TMP/hub.sh" "$TMP/hub.tok"
expect "a snapshot of the Hugging Face cache (files linked to blobs): tokenized by its tokenizer.json, trained --from it" 0 \
	sluice-train-step -m "$TMP/hub.st" --from "$C/snapshots/abc123" --steps 1 --quiet --log /dev/null \
	"$TMP/hub.sh/train-00000.slc"
expect_err "another model directory's tokenizer is still refused" 1 "tokenized with .*qwen3-model, but the model reads .*hf-llama" \
	sluice-train-step -m "$TMP/other.st" --from $D/hf-llama --steps 1 --quiet "$TMP/long.sh/train-00000.slc"

# --- bad Llama-family directories: exit 1, naming what is wrong ---
badq() { # NAME SRC: a copy of tests/data/SRC in $TMP/NAME
	rm -rf "$TMP/$1"
	cp -r $D/$2 "$TMP/$1"
}
badq rope3 hf-llama
python3 - "$TMP/rope3/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.pop("rope_parameters", None)
c["rope_theta"] = 500000.0
c["rope_scaling"] = {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 128, "rope_type": "llama3"}
json.dump(c, open(sys.argv[1], "w"))
PY
expect_err "Llama 3.1's rope_scaling llama3: refused, naming it" 1 "rope3: config.json: rope_scaling: rope type \"llama3\" is not supported" \
	sluice-eval -m "$TMP/rope3" --score "$TMP/hf-llama.ids.jsonl"
sed -i 's/"rope_type": "llama3"/"rope_type": "default"/' "$TMP/rope3/config.json"
sluice-eval -m "$TMP/rope3" --score -J --quiet "$TMP/hf-llama.ids.jsonl" >"$TMP/rope3.s" 2>&1 &&
	cmp -s "$TMP/rope3.s" <(sluice-eval -m $D/hf-llama --score -J --quiet "$TMP/hf-llama.ids.jsonl") &&
	ok "rope_theta and a default rope_scaling: the model as with rope_parameters" || not_ok "rope_theta" "$(cat "$TMP/rope3.s")"
badq kshape hf-llama
edit_st "$TMP/kshape/model.safetensors" 'h["model.layers.1.self_attn.k_proj.weight"]["shape"] = [8, 64]'
expect_err "a k_proj of the wrong shape (GQA: 2 key/value heads)" 1 \
	"kshape: tensor model.layers.1.self_attn.k_proj.weight: shape \[8, 64\], the config gives \[16, 32\]" \
	sluice-eval -m "$TMP/kshape" --score "$TMP/hf-llama.ids.jsonl"
badq kvheads hf-llama
sed -i 's/"num_key_value_heads": 2/"num_key_value_heads": 4/' "$TMP/kvheads/config.json"
expect_err "num_key_value_heads disagreeing with k_proj" 1 "tensor model.layers.0.self_attn.k_proj.weight: shape \[16, 32\], the config gives \[32, 32\]" \
	sluice-eval -m "$TMP/kvheads" --score "$TMP/hf-llama.ids.jsonl"
badq qnorm hf-qwen3
edit_st "$TMP/qnorm/model.safetensors" '
t = h.pop("model.layers.0.self_attn.q_norm.weight")
s = t["data_offsets"][1] - t["data_offsets"][0]
for v in h.values():
    if isinstance(v, dict) and "data_offsets" in v and v["data_offsets"][0] >= t["data_offsets"][1]:
        v["data_offsets"] = [v["data_offsets"][0] - s, v["data_offsets"][1] - s]
data = data[:t["data_offsets"][0]] + data[t["data_offsets"][1]:]'
expect_err "Qwen3 without q_norm" 1 "qnorm: tensor model.layers.0.self_attn.q_norm.weight is missing" \
	sluice-eval -m "$TMP/qnorm" --score "$TMP/hf-qwen3.ids.jsonl"
badq qbias hf-qwen2
sed -i 's/"model.layers.0.self_attn.q_proj.bias": "model-0000[12]/"model.layers.0.self_attn.q_proj.biax": "model-00001/' \
	"$TMP/qbias/model.safetensors.index.json"
expect_err "Qwen2 without a q_proj bias" 1 "qbias: tensor model.layers.0.self_attn.q_proj.bias is missing" \
	sluice-eval -m "$TMP/qbias" --score "$TMP/hf-qwen3.ids.jsonl"
badq obias hf-qwen3
sed -i 's/"attention_bias": false/"attention_bias": true/' "$TMP/obias/config.json"
expect_err "Qwen3 with attention_bias (o_proj's too)" 1 "obias: config.json: attention_bias true" \
	sluice-eval -m "$TMP/obias" --score "$TMP/hf-qwen3.ids.jsonl"
badq slide hf-qwen3
sed -i 's/"use_sliding_window": false/"use_sliding_window": true/' "$TMP/slide/config.json"
expect_err "Qwen3 with a sliding window" 1 "slide: config.json: use_sliding_window true" \
	sluice-eval -m "$TMP/slide" --score "$TMP/hf-qwen3.ids.jsonl"
badq qvocab hf-qwen3
sed -i 's/"vocab_size": 304/"vocab_size": 290/' "$TMP/qvocab/config.json"
expect_err "a tokenizer larger than the embedding" 1 "tokenizer.json: ids up to 298 do not fit the 290 rows of the embedding" \
	sluice-eval -m "$TMP/qvocab" --score "$TMP/hf-qwen3.ids.jsonl"
badq tied hf-qwen3
python3 - "$TMP/tied/model.safetensors" <<'PY'
import json, struct, sys
p = sys.argv[1]
b = open(p, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
data = bytearray(b[8 + n:])
t = h["model.embed_tokens.weight"]
lm = data[t["data_offsets"][0]:t["data_offsets"][1]]
h["lm_head.weight"] = {"dtype": "F32", "shape": t["shape"], "data_offsets": [len(data), len(data) + len(lm)]}
data += lm
hj = json.dumps(h).encode()
hj += b" " * (-len(hj) % 8)
open(p, "wb").write(struct.pack("<Q", len(hj)) + hj + data)
PY
sluice-eval -m "$TMP/tied" --score -J --quiet "$TMP/hf-qwen3.ids.jsonl" >"$TMP/tied.s" 2>&1 &&
	ok "a tied head saved twice, equal to the embedding: read" || not_ok "tied twice" "$(cat "$TMP/tied.s")"
edit_st "$TMP/tied/model.safetensors" 'data = data[:-1] + bytes([data[-1] ^ 1])'
expect_err "a tied head that differs from the embedding" 1 "tensor lm_head.weight differs from model.embed_tokens.weight, and config.json's tie_word_embeddings is true" \
	sluice-eval -m "$TMP/tied" --score "$TMP/hf-qwen3.ids.jsonl"

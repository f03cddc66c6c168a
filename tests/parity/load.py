#!/usr/bin/env python3
"""A sluice checkpoint of the Llama family in transformers.

    load.py CKPT LOGITS ID...

Builds the transformers model its config names (Qwen3ForCausalLM with
QK-norm, Qwen2ForCausalLM with query/key/value biases, LlamaForCausalLM
otherwise; ReLU squared as in llama.py), loads the checkpoint's tensors as
its state dict, strictly (every tensor used, none missing), runs the ids
and compares the logits with LOGITS (tests/helpers/logits' output: a line
of V logits per position) to 1e-4 of the largest.  Exit 0 when they match.
"""
import json
import os
import sys

import torch
from safetensors import safe_open
from transformers import (LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config,
                          Qwen3ForCausalLM)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama import ReluSquaredMLP  # noqa: E402


def build(c):
    C, H = c["n_embd"], c["n_head"]
    ff = c.get("n_ff") or 4 * C
    kw = dict(vocab_size=c["n_vocab"], hidden_size=C, num_hidden_layers=c["n_layer"], num_attention_heads=H,
              num_key_value_heads=c.get("n_kv_head") or H, intermediate_size=ff,
              max_position_embeddings=c["n_ctx"], rope_theta=c.get("rope_theta") or 10000.0,
              rms_norm_eps=c.get("norm_eps") or 1e-5, tie_word_embeddings=not c.get("untied"),
              attn_implementation="eager", bos_token_id=None, eos_token_id=None, pad_token_id=None)
    if c.get("family") != "llama" or c.get("norm") != "rmsnorm" or not c.get("rope"):
        sys.exit("load.py: only Llama-family configs with RMSNorm and rotary positions have a transformers model")
    if c.get("qk_norm"):
        if not c.get("no_bias"):
            sys.exit("load.py: QK-norm with biases has no transformers model")
        m = Qwen3ForCausalLM(Qwen3Config(head_dim=c.get("head_dim") or C // H, **kw))
    elif not c.get("no_bias"):
        m = Qwen2ForCausalLM(Qwen2Config(**kw))
    else:
        m = LlamaForCausalLM(LlamaConfig(head_dim=c.get("head_dim") or C // H, **kw))
    if c.get("mlp") == "relu2":
        for layer in m.model.layers:
            layer.mlp = ReluSquaredMLP(C, ff)
    elif c.get("mlp") != "swiglu":
        sys.exit("load.py: only SwiGLU and ReLU squared MLPs")
    return m.float().eval()


def main():
    path, logits_path, ids = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3:]]
    with safe_open(path, "pt") as f:
        config = json.loads(f.metadata()["config"])
        sd = {k: f.get_tensor(k) for k in f.keys()}
    model = build(config)
    if not config.get("untied"):
        sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
    model.load_state_dict(sd, strict=True)
    with torch.no_grad():
        z = model(torch.tensor([ids])).logits[0]
    ours = torch.tensor([[float(x) for x in line.split()] for line in open(logits_path)])
    diff, big = float((z - ours).abs().max()), float(ours.abs().max())
    print(f"{type(model).__name__}: {len(sd)} tensors loaded strictly; logits max abs difference {diff:.2e} "
          f"of max |logit| {big:.3f}")
    sys.exit(0 if diff <= 1e-4 * big else 1)


if __name__ == "__main__":
    main()

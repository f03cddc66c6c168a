#!/usr/bin/env python3
"""Parity of sluice's Llama-family model with transformers.

    llama.py OUTDIR [--seed N]

Builds tiny random models with transformers, each with an option set of
sluice's model (lib/model.h), and writes for each NAME in OUTDIR:

  NAME.safetensors          the state dict as transformers names it (a tied
                            head not repeated) with sluice's config in the
                            metadata: a sluice checkpoint as it is
  NAME.vectors.safetensors  ids [2, 12] (int32), their logits [2, 12, V]
                            (float32), a prompt [5] and the 10 tokens greedy
                            decoding appends to it (int32)

The models:
  llama    LlamaForCausalLM: grouped-query attention, SwiGLU, theta 500000,
           untied head
  qwen3    Qwen3ForCausalLM: QK-norm, head_dim apart from hidden / heads,
           one key/value head, theta 1e6, eps 1e-6, tied head
  qwen2    Qwen2ForCausalLM: query/key/value biases, untied head
  modern   nanochat-like: Qwen3 with its MLP replaced by down(relu(up(x))^2),
           QK-norm, untied head

tests/data/parity holds the files of --seed 0, which tests/unit/test_parity.c
checks; tests/cli/parity.sh writes a fresh set with another seed and runs
the same check over it when torch and transformers are importable.  Needs
torch, transformers and safetensors; not run in CI.
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file
from transformers import (LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config,
                          Qwen3ForCausalLM)

V, C, L, CTX = 64, 32, 2, 64
B, T, PROMPT, NEW = 2, 12, 5, 10


class ReluSquaredMLP(torch.nn.Module):
    """nanochat's MLP: down(relu(up(x))^2), no gate, no biases."""

    def __init__(self, hidden, inner):
        super().__init__()
        self.up_proj = torch.nn.Linear(hidden, inner, bias=False)
        self.down_proj = torch.nn.Linear(inner, hidden, bias=False)

    def forward(self, x):
        return self.down_proj(torch.relu(self.up_proj(x)).square())


def theta_of(cfg):
    rp = getattr(cfg, "rope_parameters", None)
    if rp and "rope_theta" in rp:
        return float(rp["rope_theta"])
    return float(cfg.rope_theta)


def make(name):
    common = dict(vocab_size=V, hidden_size=C, num_hidden_layers=L, max_position_embeddings=CTX,
                  attn_implementation="eager", bos_token_id=None, eos_token_id=None, pad_token_id=None)
    if name == "llama":
        cfg = LlamaConfig(intermediate_size=48, num_attention_heads=4, num_key_value_heads=2, rope_theta=500000.0,
                          rms_norm_eps=1e-5, tie_word_embeddings=False, **common)
        model = LlamaForCausalLM(cfg)
        extra = dict(mlp="swiglu", no_bias=1)
    elif name == "qwen3":
        cfg = Qwen3Config(intermediate_size=40, num_attention_heads=4, num_key_value_heads=1, head_dim=16,
                          rope_theta=1e6, rms_norm_eps=1e-6, tie_word_embeddings=True, **common)
        model = Qwen3ForCausalLM(cfg)
        extra = dict(mlp="swiglu", qk_norm=1, no_bias=1)
    elif name == "qwen2":
        cfg = Qwen2Config(intermediate_size=48, num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0,
                          rms_norm_eps=1e-6, tie_word_embeddings=False, **common)
        model = Qwen2ForCausalLM(cfg)
        extra = dict(mlp="swiglu")
    else:
        cfg = Qwen3Config(intermediate_size=4 * C, num_attention_heads=2, num_key_value_heads=2, head_dim=16,
                          rope_theta=10000.0, rms_norm_eps=1e-5, tie_word_embeddings=False, **common)
        model = Qwen3ForCausalLM(cfg)
        for layer in model.model.layers:
            layer.mlp = ReluSquaredMLP(C, 4 * C)
        extra = dict(mlp="relu2", qk_norm=1, no_bias=1)
    heads, kv = cfg.num_attention_heads, cfg.num_key_value_heads
    hd = getattr(cfg, "head_dim", None) or C // heads
    config = dict(n_layer=L, n_embd=C, n_head=heads, n_ctx=CTX, n_vocab=V, family="llama", norm="rmsnorm", rope=1,
                  rope_theta=theta_of(cfg), norm_eps=float(cfg.rms_norm_eps), n_ff=cfg.intermediate_size)
    if kv != heads:
        config["n_kv_head"] = kv
    if hd * heads != C:
        config["head_dim"] = hd
    if not cfg.tie_word_embeddings:
        config["untied"] = 1
    config.update(extra)
    return model.float().eval(), config


def randomise(model, gen):
    """Weights large enough that the logits spread over several units and
    norms and biases away from 1 and 0, so that every term shows."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("norm.weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif n.endswith(".bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) / p.shape[-1] ** 0.5)


def greedy(model, prompt):
    """Greedy continuation by full forward passes; the smallest gap between
    the best and second-best logit along the way."""
    seq, gap = list(prompt), float("inf")
    with torch.no_grad():
        for _ in range(NEW):
            z = model(torch.tensor([seq])).logits[0, -1]
            top = torch.topk(z, 2).values
            gap = min(gap, float(top[0] - top[1]))
            seq.append(int(z.argmax()))
    return seq[len(prompt):], gap


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    for i, name in enumerate(["llama", "qwen3", "qwen2", "modern"]):
        torch.manual_seed(a.seed * 100 + i)
        gen = torch.Generator().manual_seed(a.seed * 100 + i)
        model, config = make(name)
        randomise(model, gen)
        sd = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
        if not config.get("untied"):
            sd.pop("lm_head.weight", None)
        save_file(sd, os.path.join(a.outdir, name + ".safetensors"),
                  metadata={"format": "pt", "config": json.dumps(config, separators=(",", ":"))})
        ids = torch.randint(0, V, (B, T), generator=gen)
        with torch.no_grad():
            logits = model(ids).logits.float()
        # A prompt whose greedy continuation has no near-tie a rounding
        # could flip.
        for _ in range(100):
            prompt = torch.randint(0, V, (PROMPT,), generator=gen).tolist()
            out, gap = greedy(model, prompt)
            if gap > 1e-2:
                break
        save_file({"ids": ids.to(torch.int32), "logits": logits.contiguous(),
                   "prompt": torch.tensor(prompt, dtype=torch.int32), "greedy": torch.tensor(out, dtype=torch.int32)},
                  os.path.join(a.outdir, name + ".vectors.safetensors"))
        print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, logits spread "
              f"{float(logits.std()):.3f}, greedy gap {gap:.3g}")


if __name__ == "__main__":
    main()

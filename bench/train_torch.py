#!/usr/bin/env python3
"""train_torch.py: PyTorch eager's training speed on a sluice checkpoint,
the anchor of bench/train.sh.

    train_torch.py CKPT B T STEPS [f32|bf16]

Loads the checkpoint (safetensors, GPT-2 names, the config in its metadata)
into transformers' GPT2LMHeadModel (muon_torch.py's model and AdamW: the
same tied head, tanh GELU, no dropout, weight decay on the blocks'
matrices) and times STEPS training steps after one untimed warm-up step,
each as a PyTorch user writes one: forward, mean cross-entropy over B x T
targets, backward, the global gradient norm clipped to 1
(clip_grad_norm_), AdamW's step, gradients set to None.  Random tokens
(fixed seed): the speed does not depend on their values.  Prints one line
with tokens/s.  With bf16, the forward pass and the loss run under
torch.autocast("cpu", dtype=torch.bfloat16), PyTorch's mixed precision on
the CPU (the linear layers' products with bfloat16 factors, through
oneDNN), the counterpart of sluice-train-step --matmul bf16.  Needs torch,
transformers and safetensors (a temporary environment; never CI).
"""
import json
import struct
import sys
import time

import torch
import torch.nn.functional as F

from muon_torch import load_sluice, make_model, optimizer


def main():
    if len(sys.argv) not in (5, 6) or sys.argv[5:] not in ([], ["f32"], ["bf16"]):
        sys.exit(__doc__)
    path = sys.argv[1]
    B, T, steps = map(int, sys.argv[2:5])
    bf16 = sys.argv[5:] == ["bf16"]
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        cfg = json.loads(json.loads(f.read(n))["__metadata__"]["config"])
    model = make_model(cfg["n_vocab"], cfg["n_ctx"], cfg["n_layer"], cfg["n_embd"], cfg["n_head"])
    load_sluice(model, path)
    model.tie_weights()
    model.train()
    opt = optimizer(model, 1e-4, 0.1)
    gen = torch.Generator().manual_seed(1)
    V = cfg["n_vocab"]
    times = []
    for step in range(steps + 1):
        toks = torch.randint(0, V, (B, T + 1), generator=gen)
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(input_ids=toks[:, :-1]).logits
            loss = F.cross_entropy(logits.reshape(-1, V), toks[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
        times.append(time.perf_counter() - t0)
    secs = sum(times[1:]) / steps
    mode = "bf16 autocast" if bf16 else "f32"
    print(f"torch {torch.__version__} threads={torch.get_num_threads()} L={cfg['n_layer']} C={cfg['n_embd']} "
          f"B={B} T={T} {mode}: {B * T / secs:.1f} tokens/s ({secs * 1e3:.0f} ms/step, mean of {steps} steps "
          f"after the first)", flush=True)


if __name__ == "__main__":
    main()

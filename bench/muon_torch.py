#!/usr/bin/env python3
"""muon_torch.py: PyTorch's side of muon.sh.

Trains the GPT-2 configuration of muon.sh (4 layers, 128 channels, 4 heads,
context 128, the shard's vocabulary) with transformers' GPT2LMHeadModel and
its own initialisation (normal 0.02, the residual projections 0.02 /
sqrt(2 L), biases 0, LayerNorms 1 and 0; no dropout; GELU, tanh
approximation; head tied to the token embedding) and torch.optim.AdamW set
as sluice-train-step sets its AdamW:

  lr, betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on the blocks' matrices
  only (not on the embeddings, biases or LayerNorms: lib/optim.c's rule,
  the tensors whose decay flag model_new sets), the global gradient norm
  clipped to 1 (scaled by 1 / norm when above it), the cosine schedule with
  linear warm-up (step s, from 0: lr (s + 1) / warmup during the warm-up,
  then from lr down to 0.1 lr at the horizon, which is --steps).

Batches: the shard's sequences in their order, read through sluice-cat's
JSON lines, B a step: step k takes sequences [kB, kB + B), as
sluice-train-step takes them from one shard.  Loss: mean cross-entropy
over the targets (position t predicts token t + 1, weighted by mask[t + 1]
where a record has a mask).  Validation: the same mean over every sequence
of the validation shard, as sluice-eval --loss computes it.

Writes one JSON line per step to --log in sluice-train-step's log format
("step", "loss", "lr", "grad_norm"), so that muon.sh reads both alike, and
prints a final JSON line with the validation loss.

--check CKPT: before training, load the parameters of a sluice checkpoint
(safetensors, GPT-2 names) into the same model and train --check-steps
steps from them on the same batches; print those steps' losses, for muon.sh
to set beside sluice-train-step's log from that checkpoint: equal losses at
the first step mean the first batch (and the model) are the same on both
sides, at the later ones that the updates are.
"""

import argparse
import json
import math
import os
import subprocess
import sys

import torch
import torch.nn.functional as F


def read_sequences(path, sluice_cat):
    """Tokens [N, T+1] and mask [N, T+1] of a shard, through sluice-cat."""
    out = subprocess.run([sluice_cat, path], check=True, stdout=subprocess.PIPE).stdout
    toks, masks = [], []
    for line in out.splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        t = r["tokens"]
        toks.append(t)
        m = r.get("mask")
        masks.append(m if m is not None else [0] + [1] * (len(t) - 1))
    return torch.tensor(toks, dtype=torch.long), torch.tensor(masks, dtype=torch.float32)


def make_model(n_vocab, ctx, layers, channels, heads):
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(vocab_size=n_vocab, n_positions=ctx, n_embd=channels, n_layer=layers, n_head=heads,
                     activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                     layer_norm_epsilon=1e-5, tie_word_embeddings=True, bos_token_id=n_vocab - 1,
                     eos_token_id=n_vocab - 1)
    model = GPT2LMHeadModel(cfg)
    model.config.use_cache = False
    return model


def load_sluice(model, path):
    from safetensors.torch import load_file

    sd = load_file(path)
    own = model.transformer.state_dict()
    with torch.no_grad():
        for k, v in own.items():
            if k in sd:
                v.copy_(sd[k].reshape(v.shape))
            elif not k.endswith((".attn.bias", ".attn.masked_bias")):
                raise SystemExit(f"muon_torch.py: {path} has no {k}")


def optimizer(model, lr, wd):
    decay, rest = [], []
    for name, p in model.transformer.named_parameters():
        # sluice decays the blocks' matrices: the 2-D tensors but the
        # token and position embeddings.
        (decay if p.dim() == 2 and name.startswith("h.") else rest).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": rest, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.95), eps=1e-8)


def schedule(step, lr, warmup, horizon, min_frac=0.1):
    """lib/optim.c's optim_lr for the cosine schedule; step from 0."""
    lr_min = lr * min_frac
    if step < warmup:
        return lr * (step + 1) / warmup
    if horizon <= 0:
        return lr
    if step >= horizon:
        return lr_min
    span = horizon - warmup
    x = (step - warmup) / span if span > 0 else 1.0
    return lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * x))


def batch_loss(model, toks, mask, bf16=False):
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=toks[:, :-1]).logits
        ce = F.cross_entropy(logits.reshape(-1, logits.size(-1)), toks[:, 1:].reshape(-1), reduction="none")
    w = mask[:, 1:].reshape(-1)
    return (ce * w).sum(), w.sum()


def train(model, toks, mask, args, steps, log=None, clip=1.0):
    opt = optimizer(model, args.lr, args.weight_decay)
    params = [p for g in opt.param_groups for p in g["params"]]
    model.train()
    losses = []
    for step in range(steps):
        lr = schedule(step, args.lr, args.warmup, steps)
        for g in opt.param_groups:
            g["lr"] = lr
        b = slice(step * args.batch, (step + 1) * args.batch)
        if b.start >= toks.size(0):
            raise SystemExit("muon_torch.py: the shard ends before --steps")
        total, n = batch_loss(model, toks[b], mask[b], args.autocast == "bf16")
        loss = total / n
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params)).item()
        if clip > 0 and norm > clip:
            for p in params:
                p.grad.mul_(clip / norm)
        opt.step()
        losses.append(loss.item())
        if log:
            log.write(json.dumps({"step": step + 1, "loss": round(loss.item(), 6), "lr": lr,
                                  "grad_norm": round(norm, 6)}, separators=(",", ":")) + "\n")
            log.flush()
    return losses


@torch.no_grad()
def evaluate(model, toks, mask, batch=32):
    model.eval()
    total, n = 0.0, 0.0
    for i in range(0, toks.size(0), batch):
        s, c = batch_loss(model, toks[i:i + batch], mask[i:i + batch])
        total += s.item()
        n += c.item()
    return total / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("train")
    ap.add_argument("val")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("-B", "--batch", type=int, default=16)
    ap.add_argument("-L", "--layers", type=int, default=4)
    ap.add_argument("-C", "--channels", type=int, default=128)
    ap.add_argument("-H", "--heads", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--autocast", choices=["off", "bf16"], default="off",
                    help="train under torch.autocast(\"cpu\", bfloat16) (validation stays in float)")
    ap.add_argument("--sluice-cat", default="sluice-cat")
    ap.add_argument("--log", help="per-step JSON lines")
    ap.add_argument("--check", metavar="CKPT", help="a sluice checkpoint to train --check-steps steps from first")
    ap.add_argument("--check-steps", type=int, default=5)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    toks, mask = read_sequences(args.train, args.sluice_cat)
    vtoks, vmask = read_sequences(args.val, args.sluice_cat)
    ctx = toks.size(1) - 1
    # The vocabulary is the tokenizer's (the manifest beside the shard says
    # it); failing that, the largest id seen + 1.
    n_vocab = 1 + max(int(toks.max()), int(vtoks.max()))
    try:
        with open(os.path.join(os.path.dirname(args.train), "manifest.json")) as f:
            n_vocab = int(json.load(f)["dataset"]["n_vocab"])
    except (OSError, ValueError, KeyError):
        pass

    if args.check:
        torch.manual_seed(args.seed)
        m = make_model(n_vocab, ctx, args.layers, args.channels, args.heads)
        load_sluice(m, args.check)
        losses = train(m, toks, mask, args, args.check_steps) if args.check_steps else []
        # The horizon of these steps is --check-steps: within the warm-up
        # the rates are those of any longer run.
        print(json.dumps({"check": args.check, "losses": [round(x, 6) for x in losses]}), flush=True)

    torch.manual_seed(args.seed)
    model = make_model(n_vocab, ctx, args.layers, args.channels, args.heads)
    log = open(args.log, "w") if args.log else None
    losses = train(model, toks, mask, args, args.steps, log)
    if log:
        log.close()
    val = evaluate(model, vtoks, vmask)
    tail = losses[-10:]
    print(json.dumps({"seed": args.seed, "steps": args.steps, "params": sum(p.numel() for p in model.parameters()),
                      "final_train_loss_10": round(sum(tail) / len(tail), 6), "val_loss": round(val, 6)}), flush=True)


if __name__ == "__main__":
    sys.exit(main())

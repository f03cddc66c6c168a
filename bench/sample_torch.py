#!/usr/bin/env python3
"""sample_torch.py: PyTorch's generation speed on a sluice checkpoint, the
anchor of bench/sample.sh.

    sample_torch.py [-t TEMPERATURE] CKPT NEW BATCH...

Loads the checkpoint (safetensors with Hugging Face GPT-2 tensor names, the
config in its metadata) into transformers' GPT2LMHeadModel and times
model.generate: greedy, the key/value cache on, NEW new tokens from a
one-token prompt (<|endoftext|>, as bench/sample_bench), BATCH copies of it
at once; one untimed warm-up call first.  Prints one line per batch size.
-t samples at that temperature instead (do_sample, top_k 0, top_p 1: the
whole distribution, as bench/sample_bench -t).
Needs torch, transformers and safetensors (a temporary environment; never CI).
"""
import json
import struct
import sys
import time


def main():
    args = sys.argv[1:]
    temperature = 0.0
    if args[:1] == ["-t"] and len(args) > 1:
        temperature = float(args[1])
        args = args[2:]
    if len(args) < 3:
        sys.exit(__doc__)
    path, new = args[0], int(args[1])
    import torch
    from safetensors.torch import load_file
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging

    logging.set_verbosity_error()
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        cfg = json.loads(json.loads(f.read(n))["__metadata__"]["config"])
    model = GPT2LMHeadModel(GPT2Config(vocab_size=cfg["n_vocab"], n_positions=cfg["n_ctx"], n_embd=cfg["n_embd"],
                                       n_layer=cfg["n_layer"], n_head=cfg["n_head"], tie_word_embeddings=True))
    missing, unexpected = model.transformer.load_state_dict(load_file(path), strict=False)
    missing = [m for m in missing if not m.endswith((".attn.bias", ".attn.masked_bias"))]
    if missing or unexpected:
        sys.exit(f"sample_torch.py: tensors do not fit: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    model.eval()
    start = 50256 % cfg["n_vocab"]
    torch.manual_seed(1)
    for batch in map(int, args[2:]):
        ids = torch.full((batch, 1), start, dtype=torch.long)
        kw = dict(max_new_tokens=new, min_new_tokens=new, use_cache=True, pad_token_id=0,
                  attention_mask=torch.ones_like(ids), do_sample=temperature > 0)
        if temperature > 0:
            kw.update(temperature=temperature, top_k=0, top_p=1.0)
        with torch.inference_mode():
            model.generate(ids, **dict(kw, max_new_tokens=4, min_new_tokens=4))
            t0 = time.perf_counter()
            out = model.generate(ids, **kw)
            secs = time.perf_counter() - t0
        made = (out.shape[1] - 1) * batch
        print(f"torch {torch.__version__} threads={torch.get_num_threads()} L={cfg['n_layer']} C={cfg['n_embd']}: "
              f"temperature {temperature:g}, batch {batch} {made / secs:.1f} tokens/s ({made} tokens in {secs:.2f} s)", flush=True)


if __name__ == "__main__":
    main()

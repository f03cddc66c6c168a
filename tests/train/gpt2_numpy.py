"""An independent GPT-2 forward pass in numpy over a safetensors checkpoint.

Reads the file with the `safetensors` package (its numpy loader), checks it
as a Hugging Face GPT-2 state dict, runs the model on the token ids given
and compares its logits with the ones our forward pass printed.

    gpt2_numpy.py CKPT LOGITS ID...   prints the max abs difference; exits 1
                                      if it is above 1e-4
"""
import json
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file


def layernorm(x, w, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * w + b


def gelu_new(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def forward(sd, cfg, ids):
    T = len(ids)
    C, H = cfg["n_embd"], cfg["n_head"]
    hs = C // H
    x = sd["wte.weight"][ids] + sd["wpe.weight"][:T]
    mask = np.tril(np.ones((T, T), dtype=bool))
    for l in range(cfg["n_layer"]):
        p = lambda n: sd[f"h.{l}.{n}"]
        h = layernorm(x, p("ln_1.weight"), p("ln_1.bias"))
        qkv = h @ p("attn.c_attn.weight") + p("attn.c_attn.bias")
        q, k, v = np.split(qkv, 3, axis=-1)
        q = q.reshape(T, H, hs).transpose(1, 0, 2)
        k = k.reshape(T, H, hs).transpose(1, 0, 2)
        v = v.reshape(T, H, hs).transpose(1, 0, 2)
        att = q @ k.transpose(0, 2, 1) / np.sqrt(hs)
        att = np.where(mask, att, -np.inf)
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        y = (att @ v).transpose(1, 0, 2).reshape(T, C)
        x = x + y @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
        h = layernorm(x, p("ln_2.weight"), p("ln_2.bias"))
        h = gelu_new(h @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias"))
        x = x + h @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias")
    x = layernorm(x, sd["ln_f.weight"], sd["ln_f.bias"])
    return x @ sd["wte.weight"].T


def main():
    path, logits_path, ids = sys.argv[1], sys.argv[2], [int(a) for a in sys.argv[3:]]
    with safe_open(path, framework="np") as f:
        meta = f.metadata()
    assert meta["format"] == "pt", meta
    cfg = json.loads(meta["config"])
    sd = {k: v.astype(np.float64) for k, v in load_file(path).items()}
    L, C, V, T = cfg["n_layer"], cfg["n_embd"], cfg["n_vocab"], cfg["n_ctx"]
    shapes = {"wte.weight": (V, C), "wpe.weight": (T, C), "ln_f.weight": (C,), "ln_f.bias": (C,)}
    for l in range(L):
        for n, s in [("ln_1.weight", (C,)), ("ln_1.bias", (C,)), ("attn.c_attn.weight", (C, 3 * C)),
                     ("attn.c_attn.bias", (3 * C,)), ("attn.c_proj.weight", (C, C)), ("attn.c_proj.bias", (C,)),
                     ("ln_2.weight", (C,)), ("ln_2.bias", (C,)), ("mlp.c_fc.weight", (C, 4 * C)),
                     ("mlp.c_fc.bias", (4 * C,)), ("mlp.c_proj.weight", (4 * C, C)), ("mlp.c_proj.bias", (C,))]:
            shapes[f"h.{l}.{n}"] = s
    assert set(sd) == set(shapes), sorted(set(sd) ^ set(shapes))
    for k, s in shapes.items():
        assert sd[k].shape == s, (k, sd[k].shape, s)
    ours = np.loadtxt(logits_path, ndmin=2)
    ref = forward(sd, cfg, ids)
    diff = float(np.abs(ours - ref).max())
    print(f"max abs logit difference {diff:.3g} over {ref.size} logits (tolerance 1e-4)")
    sys.exit(0 if diff <= 1e-4 else 1)


if __name__ == "__main__":
    main()

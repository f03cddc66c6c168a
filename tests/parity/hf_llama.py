#!/usr/bin/env python3
"""hf_llama.py: tiny random Llama, Qwen3 and Qwen2 models made and run by
Hugging Face transformers, the oracle for sluice's reading and writing of
their model directories (tests/cli/hf-model.sh).  Needs torch, transformers
and tokenizers; not run in CI.

    python3 tests/parity/hf_llama.py make     # from the top of the tree

writes, with save_pretrained,
  tests/data/hf-llama/   LlamaForCausalLM: grouped-query attention (4 heads,
                         2 key/value heads), untied head, theta 500000,
                         in bfloat16, with hf-qwen3's tokenizer.json
  tests/data/hf-qwen3/   Qwen3ForCausalLM: QK-norm, head_dim 16 apart from
                         hidden / heads, tied head, 40960 positions, F32,
                         with a Qwen-style tokenizer.json (byte-level BPE
                         trained on tiny Shakespeare, <|endoftext|>,
                         <|im_start|>, <|im_end|>; fewer ids than
                         vocab_size, as Qwen's)
  tests/data/hf-qwen2/   Qwen2ForCausalLM: q/k/v biases, tied head, F32 in
                         shards with model.safetensors.index.json, the same
                         tokenizer.json
and beside each NAME.expect.json: the input ids, transformers' logits at
every position (float32 arithmetic on the stored weights) and 12 greedy
tokens after a prompt (argmax of the full forward pass, no stop).

    python3 tests/parity/hf_llama.py logprobs DIR ID...

prints, for a directory from_pretrained loads, the log-probability of each
ID after the ones before it, one a line (the live check of an export)."""
import json
import os
import shutil
import sys

VOCAB = 304
IDS = [17, 300, 5, 99, 250, 42, 0, 301, 120, 7]
PROMPT = [40, 41, 42, 43]
GREEDY = 12
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def tokenizer(path):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=296, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    with open("data/tinyshakespeare.txt", encoding="utf-8") as f:
        text = f.read()
    tok.train_from_iterator([text[i:i + 4096] for i in range(0, len(text), 4096)], trainer)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t in ("<|endoftext|>", "<|im_start|>", "<|im_end|>")])
    assert tok.get_vocab_size() == 299, tok.get_vocab_size()
    tok.save(path)
    return tok.token_to_id("<|endoftext|>"), tok.token_to_id("<|im_end|>")


def expect(model, name):
    import torch
    with torch.no_grad():
        logits = model(torch.tensor([IDS])).logits[0].float()
        seq = list(PROMPT)
        for _ in range(GREEDY):
            seq.append(int(model(torch.tensor([seq])).logits[0, -1].argmax()))
    out = {"ids": IDS, "logits": [[float("%.8g" % x) for x in row] for row in logits], "prompt": PROMPT,
           "greedy": seq[len(PROMPT):]}
    with open(name, "w") as f:
        json.dump(out, f)
        f.write("\n")


def perturb(model):
    """Biases and norms away from 0 and 1, so that every tensor counts."""
    import torch
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith(".bias") or "norm" in n:
                p.add_(torch.randn_like(p) * 0.2)


def make():
    import torch
    from transformers import (LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config,
                              Qwen3ForCausalLM)
    torch.manual_seed(1234)
    base = "tests/data/"
    for d in ("hf-llama", "hf-qwen3", "hf-qwen2"):
        shutil.rmtree(base + d, ignore_errors=True)
    os.makedirs(base + "hf-qwen3")
    eot, im_end = tokenizer(base + "hf-qwen3/tokenizer.json")
    common = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, initializer_range=0.25,
                  attn_implementation="eager")

    cfg = LlamaConfig(intermediate_size=48, num_attention_heads=4, num_key_value_heads=2, rope_theta=500000.0,
                      rms_norm_eps=1e-5, tie_word_embeddings=False, max_position_embeddings=256,
                      bos_token_id=1, eos_token_id=2, **common)
    model = LlamaForCausalLM(cfg).eval()
    perturb(model)
    model.to(torch.bfloat16).save_pretrained(base + "hf-llama")
    shutil.copy(base + "hf-qwen3/tokenizer.json", base + "hf-llama/")
    # The bf16 weights exactly, computed in float32.
    expect(LlamaForCausalLM.from_pretrained(base + "hf-llama", dtype=torch.float32).eval(),
           base + "hf-llama.expect.json")

    cfg = Qwen3Config(intermediate_size=40, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                      rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
                      max_position_embeddings=40960, bos_token_id=eot, eos_token_id=im_end, **common)
    model = Qwen3ForCausalLM(cfg).eval()
    perturb(model)
    model.save_pretrained(base + "hf-qwen3")
    expect(model, base + "hf-qwen3.expect.json")

    cfg = Qwen2Config(intermediate_size=48, num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0,
                      rms_norm_eps=1e-6, tie_word_embeddings=True, max_position_embeddings=128,
                      bos_token_id=eot, eos_token_id=eot, **common)
    model = Qwen2ForCausalLM(cfg).eval()
    perturb(model)
    model.save_pretrained(base + "hf-qwen2", max_shard_size="60KB")
    shutil.copy(base + "hf-qwen3/tokenizer.json", base + "hf-qwen2/")
    expect(model, base + "hf-qwen2.expect.json")
    for d in ("hf-llama", "hf-qwen3", "hf-qwen2"):
        p = base + d
        print(d, sorted(os.listdir(p)), sum(os.path.getsize(os.path.join(p, f)) for f in os.listdir(p)))


if __name__ == "__main__":
    from hf_gpt2 import logprobs  # the one live check, any causal LM class

    if len(sys.argv) >= 2 and sys.argv[1] == "make":
        make()
    elif len(sys.argv) >= 4 and sys.argv[1] == "logprobs":
        logprobs(sys.argv[2], [int(x) for x in sys.argv[3:]])
    else:
        sys.exit(__doc__)

#!/usr/bin/env python3
"""hf_gpt2.py: tiny random GPT-2 models made and run by Hugging Face
transformers, the oracle for sluice's reading and writing of model
directories (tests/cli/hf-model.sh).  Needs torch, transformers and
tokenizers; not run in CI.

    python3 tests/parity/hf_gpt2.py make     # from the top of the tree

writes
  tests/data/hf-gpt2/          save_pretrained, F32, one model.safetensors
  tests/data/hf-gpt2-bf16/     the same model in bfloat16
  tests/data/hf-gpt2-sharded/  F32 in shards with model.safetensors.index.json
each with the tokenizer.json of a small byte-level BPE (GPT-2's pre-tokenizer,
trained on tiny Shakespeare, <|endoftext|> its last id), and beside each
NAME.expect.json (the sharded model is hf-gpt2's): the input ids, transformers' logits at every position
(float32 arithmetic on the stored weights) and 12 greedy tokens after a
prompt (argmax of the full forward pass, no stop).

    python3 tests/parity/hf_gpt2.py logprobs DIR ID...

prints, for a directory from_pretrained loads, the log-probability of each
ID after the ones before it, one a line (the live check of an exported
model)."""
import json
import os
import sys

VOCAB = 320
CONFIG = dict(n_positions=32, n_embd=32, n_layer=2, n_head=4, initializer_range=0.15)
IDS = [17, 300, 5, 99, 250, 42, 0, 311]
PROMPT = [40, 41, 42, 43]
GREEDY = 12


def tokenizer(path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB - 1, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    with open("data/tinyshakespeare.txt", encoding="utf-8") as f:
        text = f.read()
    tok.train_from_iterator([text[i:i + 4096] for i in range(0, len(text), 4096)], trainer)
    tok.add_special_tokens(["<|endoftext|>"])
    assert tok.get_vocab_size() == VOCAB, tok.get_vocab_size()
    tok.save(path)
    return tok.token_to_id("<|endoftext|>")


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


def make():
    import shutil
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(1234)
    base = "tests/data/hf-gpt2"
    for d in (base, base + "-bf16", base + "-sharded"):
        shutil.rmtree(d, ignore_errors=True)
    os.makedirs(base)
    eot = tokenizer(base + "/tokenizer.json")
    cfg = GPT2Config(vocab_size=VOCAB, bos_token_id=eot, eos_token_id=eot, **CONFIG)
    model = GPT2LMHeadModel(cfg).eval()
    # Biases and norms away from 0 and 1, so that every tensor counts.
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith(".bias") or ".ln_" in n:
                p.add_(torch.randn_like(p) * 0.1)
    model.save_pretrained(base)
    expect(model, base + ".expect.json")
    model.save_pretrained(base + "-sharded", max_shard_size="100KB")
    shutil.copy(base + "/tokenizer.json", base + "-sharded/")
    model.to(torch.bfloat16).save_pretrained(base + "-bf16")
    shutil.copy(base + "/tokenizer.json", base + "-bf16/")
    # The bf16 weights exactly, computed in float32.
    expect(GPT2LMHeadModel.from_pretrained(base + "-bf16", dtype=torch.float32).eval(), base + "-bf16.expect.json")
    for d in (base, base + "-bf16", base + "-sharded"):
        print(d, sorted(os.listdir(d)), sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)))


def logprobs(path, ids):
    import torch
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    with torch.no_grad():
        lp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
    for i in range(1, len(ids)):
        print("%.9g" % float(lp[i - 1, ids[i]]))


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "make":
        make()
    elif len(sys.argv) >= 4 and sys.argv[1] == "logprobs":
        logprobs(sys.argv[2], [int(x) for x in sys.argv[3:]])
    else:
        sys.exit(__doc__)

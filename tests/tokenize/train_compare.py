#!/usr/bin/env python3
"""train_compare.py TEXT VOCAB_SIZE OURS.tiktoken: bytes per token on the
held-out lines of TEXT (every 10th line, as sluice-tokenize --heldout 0.1
holds them out) for our trained vocabulary and for Hugging Face tokenizers'
byte-level BPE trained on the other lines with the same pattern and size.
Prints both and their ratio; exits 1 if they differ by more than 2%."""
import base64
import json
import sys

from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers


def main():
    text_path, size, ours_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(text_path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    train = [l for i, l in enumerate(lines, 1) if i % 10]
    held = [l for i, l in enumerate(lines, 1) if i % 10 == 0]
    with open(ours_path.replace(".tiktoken", ".json")) as f:
        pattern = json.load(f)["pat_str"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    trainer = trainers.BpeTrainer(vocab_size=size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(train, trainer)
    held_bytes = sum(len(l.encode("utf-8")) for l in held)
    hf_tokens = sum(len(e.ids) for e in tok.encode_batch(held))

    import tiktoken  # our vocabulary through tiktoken too: an independent encoder
    ranks = {}
    with open(ours_path, "rb") as f:
        for line in f:
            t, r = line.split()
            ranks[base64.b64decode(t)] = int(r)
    enc = tiktoken.Encoding(name="ours", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    our_tokens = sum(len(enc.encode_ordinary(l)) for l in held)
    ours, hf = held_bytes / our_tokens, held_bytes / hf_tokens
    print(f"held-out {len(held)} lines, {held_bytes} bytes: sluice {ours:.4f} bytes/token, "
          f"tokenizers {hf:.4f} bytes/token (vocabulary {tok.get_vocab_size()}), ratio {ours / hf:.4f}")
    return 0 if abs(ours / hf - 1) <= 0.02 else 1


if __name__ == "__main__":
    sys.exit(main())

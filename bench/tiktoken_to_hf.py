#!/usr/bin/env python3
"""tiktoken_to_hf.py: write a Hugging Face tokenizer.json for a byte-level
BPE vocabulary in tiktoken's format, for bench/llamacpp.sh.

    tiktoken_to_hf.py RANKS META DIR

RANKS is a .tiktoken file (base64 token, rank), META the encoding's .json
beside it in vocab/ (special tokens).  sluice-train-step --export-hf writes
no tokenizer.json for a built-in encoding, and llama.cpp's
convert_hf_to_gguf.py loads the model directory's tokenizer with
transformers; this gives it one.  The vocabulary is GPT-2's byte-to-unicode
spelling of each token with its rank as id; the merges are recovered from
the ranks: a token of rank r splits into the two parts that BPE reaches on
its bytes using only tokens of rank below r.  For gpt2 the tokenizer written
gave sluice-tokenize -e gpt2's ids on 583 tokens of Shakespeare, accents,
CJK and runs of whitespace.  Needs the tokenizers package.
"""
import base64
import json
import sys


def byte_to_unicode():
    """GPT-2's printable spelling of each byte."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


def split(tok, ranks, below):
    """BPE of tok's bytes with the tokens ranked below `below`."""
    parts = [tok[i:i + 1] for i in range(len(tok))]
    while len(parts) > 1:
        best = None
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and r < below and (best is None or r < best[0]):
                best = (r, i)
        if best is None:
            break
        i = best[1]
        parts[i:i + 2] = [parts[i] + parts[i + 1]]
    return parts


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    ranks_path, meta_path, out_dir = sys.argv[1:]
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    ranks = {}
    with open(ranks_path) as f:
        for line in f:
            if line.strip():
                tok, rank = line.split()
                ranks[base64.b64decode(tok)] = int(rank)
    with open(meta_path) as f:
        meta = json.load(f)
    spell = byte_to_unicode()

    def text(b):
        return "".join(spell[x] for x in b)

    vocab = {text(t): r for t, r in ranks.items()}
    merges = []
    for tok, r in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(tok) < 2:
            continue
        parts = split(tok, ranks, r)
        if len(parts) != 2:
            sys.exit(f"tiktoken_to_hf.py: token of rank {r} does not split in two below its rank")
        merges.append((text(parts[0]), text(parts[1])))

    tk = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    special = sorted(meta.get("special_tokens", {}).items(), key=lambda kv: kv[1])
    for name, rank in special:
        if tk.add_special_tokens([AddedToken(name, special=True)]) != 1 or tk.token_to_id(name) != rank:
            sys.exit(f"tiktoken_to_hf.py: special token {name} would not get id {rank}")
    tk.save(f"{out_dir}/tokenizer.json")
    eot = special[0][0] if special else None
    with open(f"{out_dir}/tokenizer_config.json", "w") as f:
        json.dump({"tokenizer_class": "GPT2Tokenizer", "bos_token": eot, "eos_token": eot, "unk_token": eot,
                   "add_prefix_space": False, "model_max_length": 1024}, f, indent=2)
    sample = "Hello world, it's 2026!  \n\tTabs and   spaces: ÿ 日本語 <|endoftext|>"
    print(f"tiktoken_to_hf.py: {len(vocab)} tokens, {len(merges)} merges, {len(special)} special; "
          f"{sample[:11]!r} -> {tk.encode(sample[:11]).ids}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""make_tokenizers.py: the two small tokenizer.json files of the tests and
the ids they give on the bundled corpora, made with Hugging Face
`tokenizers` (its BPE trainer, then its encoder as the oracle).

    python3 tests/data/hf/make_tokenizers.py        # from the top of the tree

qwen/tokenizer.json: Qwen2's layout (NFC normaliser, its split pattern then
byte-level without a pattern, merges as pairs, <|endoftext|>, <|im_start|>,
<|im_end|> as special tokens after the vocabulary and <tool_call> as an
added token that is not special).  llama3/tokenizer.json: Llama 3's layout
(its split pattern, ignore_merges, <|begin_of_text|> and the other special
tokens), with merges written as "a b" strings and the vocabulary's ids
shuffled, so that merge ranks and ids differ.  Both are trained on tiny
Shakespeare, the Wikipedia sample and GSM8K.

The expected ids (NAME.CORPUS.ids.zst, one JSON array per record, compact)
are tokenizers' encode(text, add_special_tokens=False) of each record of
tests/cli/hf-tokenize.sh's inputs, which this script makes the same way;
--ids-only writes them again for the tokenizer.json files as they are."""
import json
import os
import random
import subprocess
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def corpora():
    """The test inputs, as lists of texts: what hf-tokenize.sh feeds sluice."""
    shk = subprocess.run(["awk", "-f", "scripts/paragraphs.awk", "data/tinyshakespeare.txt"], cwd=TOP,
                         check=True, capture_output=True, text=True).stdout
    wiki = subprocess.run(["zstd", "-dc", "tests/data/enwiki/sample.jsonl.zst"], cwd=TOP, check=True,
                          capture_output=True, text=True).stdout
    with open(os.path.join(TOP, "data/gsm8k/test.jsonl"), encoding="utf-8") as f:
        gsm = f.read()
    with open(os.path.join(TOP, "tests/data/tokenize/stress.jsonl"), encoding="utf-8") as f:
        stress = f.read()

    def texts(jsonl, field="text"):
        return [json.loads(line)[field] for line in jsonl.split("\n") if line.strip()]
    return {
        "shk": texts(shk),
        "wiki": texts(wiki),
        "gsm8k": texts(gsm, "answer"),
        "stress": texts(stress),
    }


def training_text():
    c = corpora()
    with open(os.path.join(TOP, "data/gsm8k/train.jsonl"), encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            yield d["question"] + "\n" + d["answer"]
    for name in ("shk", "wiki", "stress"):
        yield from c[name]


def train(pattern, vocab_size, normalizer, ignore_merges):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    if normalizer:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False, min_frequency=2)
    tok.train_from_iterator(training_text(), trainer=trainer)
    return tok


def shuffle_ids(path, seed):
    """Give the vocabulary's tokens other ids (a seeded permutation), so
    that merge ranks no longer follow ids; merges become "a b" strings."""
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    vocab = d["model"]["vocab"]
    ids = sorted(vocab.values())
    perm = ids[:]
    random.Random(seed).shuffle(perm)
    remap = dict(zip(ids, perm))
    d["model"]["vocab"] = {t: remap[i] for t, i in sorted(vocab.items(), key=lambda kv: remap[kv[1]])}
    d["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in d["model"]["merges"]]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(d, f, ensure_ascii=False, indent=2)
        f.write("\n")


def main():
    os.chdir(TOP)
    if "--ids-only" not in sys.argv:
        make_tokenizers()
    write_ids()


def make_tokenizers():
    qwen = train(QWEN2_PATTERN, 4096, normalizers.NFC(), False)
    qwen.add_special_tokens([AddedToken(t, special=True, normalized=False)
                             for t in ("<|endoftext|>", "<|im_start|>", "<|im_end|>")])
    qwen.add_tokens([AddedToken("<tool_call>", special=False, normalized=False)])
    os.makedirs(os.path.join(HERE, "qwen"), exist_ok=True)
    qwen.save(os.path.join(HERE, "qwen", "tokenizer.json"))

    llama = train(LLAMA3_PATTERN, 3072, None, True)
    llama.add_special_tokens([AddedToken(t, special=True, normalized=False)
                              for t in ("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                                        "<|end_header_id|>", "<|eot_id|>")])
    os.makedirs(os.path.join(HERE, "llama3"), exist_ok=True)
    lpath = os.path.join(HERE, "llama3", "tokenizer.json")
    llama.save(lpath)
    shuffle_ids(lpath, 1234)


def write_ids():
    """Special tokens' text is ordinary text (encode_special_tokens, as
    sluice-tokenize has it by default); CORPUS-special: they are found in
    the text (tokenizers' default, sluice-tokenize --allow-special all)."""
    c = corpora()
    c["stress-special"] = c["stress"]
    for name in ("qwen", "llama3"):
        tok = Tokenizer.from_file(os.path.join(HERE, name, "tokenizer.json"))
        for corpus, texts in c.items():
            tok.encode_special_tokens = not corpus.endswith("-special")
            lines = "".join(json.dumps(e.ids, separators=(",", ":")) + "\n"
                            for e in tok.encode_batch(texts, add_special_tokens=False))
            out = os.path.join(HERE, f"{name}.{corpus}.ids.zst")
            subprocess.run(["zstd", "-q", "-19", "-f", "-o", out], input=lines.encode(), check=True)
            print(f"{name} {corpus}: {len(texts)} records, {lines.count(',') + len(texts)} ids", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""hf_compare.py TOKENIZER.json [N]: the live comparison with Hugging Face
tokenizers.  Makes N (default 3000) random texts from characters that
pre-tokenizer patterns and normalisers treat differently (letters of
several scripts and cases, digits, apostrophe contractions, every kind of
white space, combining marks, emoji, special tokens' text), encodes them
with sluice-tokenize (on PATH), by default and with --allow-special all,
and with tokenizers (encode_special_tokens on, then off), and prints the
first differences; exit 1 if any.  Seeded: the same texts every run."""
import json
import random
import subprocess
import sys

from tokenizers import Tokenizer

PIECES = ["a", "b", "Z", "é", "e\u0301", "A\u030a", "ß", "ﬁ", "Ω", "д", "Ж", "中", "文", "ア", "한", "ا", "ह",
          "0", "7", "42", "123456", "٣", "²", "½", " ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u0085",
          "\u2028", "\u3000", "\u200b", "'s", "'S", "'ll", "'LL", "'re", "'d", "'t", "'", "\"", ".", ",", "!?",
          "...", "-", "_", "@", "#", "$", "%", "&&", "<", ">", "|", "(", ")", "[", "]", "{", "}", "/", "\\",
          "😀", "👍🏽", "🇺🇸", "\u0000", "\x7f", "~", "`", "^", "+", "=", "the", "The", "THE", " the", "ing",
          "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "<|begin_of_text|>", "<|eot_id|>",
          "<|endoftext", "|>"]


def texts(n):
    rng = random.Random(20240611)
    out = []
    for _ in range(n):
        out.append("".join(rng.choice(PIECES) for _ in range(rng.randint(1, 40))))
    return out


def sluice(path, docs, extra):
    inp = "".join(json.dumps({"text": t}) + "\n" for t in docs).encode()
    r = subprocess.run(["sluice-tokenize", "-e", path, "-J", "--drop-text", *extra], input=inp,
                       capture_output=True, check=True)
    return [json.loads(line)["tokens"] for line in r.stdout.decode().splitlines()]


def main():
    path = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    docs = texts(n)
    tok = Tokenizer.from_file(path)
    bad = 0
    for special, extra in ((False, []), (True, ["--allow-special", "all"])):
        tok.encode_special_tokens = not special
        want = [e.ids for e in tok.encode_batch(docs, add_special_tokens=False)]
        got = sluice(path, docs, extra)
        for i, (g, w) in enumerate(zip(got, want)):
            if g != w:
                bad += 1
                if bad <= 5:
                    print(f"text {json.dumps(docs[i])} {extra}: sluice {g[:30]} != tokenizers {w[:30]}")
        if len(got) != len(want):
            print(f"{len(got)} records, expected {len(want)}")
            bad += 1
    print(f"{path}: {n} random texts, twice, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

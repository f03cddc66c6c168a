#!/usr/bin/env python3
"""Build the tokenizer's parity vectors with tiktoken as the oracle.

Writes tests/data/tokenize/stress.jsonl (the stress corpus) and
tests/data/tokenize/expected.tsv: for every corpus and encoding, the number
of documents, of tokens, and an FNV-1a 64 hash of all ids (little-endian
uint32, document after document).  tests/unit/test_tokenizer.c checks the
same figures, so the parity test runs where tiktoken is not installed.

The vocabularies come from vocab/ (no download).  Run from the repository
root:  python3 tests/tokenize/make_vectors.py
"""
import base64
import json
import random
import struct
import sys

import tiktoken

ENCODINGS = ["gpt2", "cl100k_base", "o200k_base"]


def load(name):
    ranks = {}
    with open(f"vocab/{name}.tiktoken", "rb") as f:
        for line in f:
            if line.strip():
                tok, rank = line.split()
                ranks[base64.b64decode(tok)] = int(rank)
    with open(f"vocab/{name}.json") as f:
        cfg = json.load(f)
    return tiktoken.Encoding(name=name, pat_str=cfg["pat_str"], mergeable_ranks=ranks,
                             special_tokens=cfg["special_tokens"])


def stress_docs():
    docs = [
        "👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👍🏽👍🏿 tones, 🇺🇸🇫🇷🇯🇵 flags, 🧑🏻‍💻 coder",
        "中文分词测试：我爱北京天安门。日本語のテキスト、カタカナとひらがな。한국어 문장입니다.",
        "e\u0301 vs é, Z\u0351\u0352\u0353a\u0300\u0301\u0302l\u0330g\u0331o\u0332, नमस्ते दुनिया, สวัสดีครับ",
        "العربية: مرحبا بالعالم ١٢٣٤٥ — עִבְרִית: שָׁלוֹם עוֹלָם, mixed LTR and RTL text.",
        "I'm you're they'll we've it's don't he'd I'M YOU'RE THEY'LL WE'VE IT'S DON'T HE'D "
        "I'M You'Re tHeY'lL wE'vE iT'S dOn'T hE'd 'S 'T 'RE 'VE 'M 'LL 'D 's's's'll'd",
        "long s: it'\u017f and Kelvin: we'\u212a, curly: don\u2019t it\u2019s",
        "1234567890" * 5 + " 3.14159 2,718,281 ١٢٣٤٥٦ １２３４５ ²³¹ ⅫⅣ 0x1F 1e-9 007",
        " " * 5000 + "x",
        "\n" * 3000 + "y" + "\t" * 1000 + "z" + " \n " * 1000 + "\r\n" * 500,
        "\u00a0" * 100 + "a\u0085b\u2028c\u2029d\u3000e\u1680f\u202fg\u205fh\u000bi\u000cj",
        "a" * 20000,
        "!" * 5000 + "?" * 3000,
        "é" * 3000,
        "🙂" * 1000,
        "\u0301" * 2000,
        "ab" * 5000,
        "\x00\x01\x07\x1b[31mred\x1b[0m\x7f\x1c\x1d\x1e\x1f\u200b\ufeff soft\u00adhyphen",
        "text with <|endoftext|> inside and <|fim_prefix|> and <|endofprompt|>, also <|endoftext|<|endoftext|>>",
        "HelloWORLDFooBar camelCaseWord XMLHttpRequest iPhone McDonald's O'Neil's",
        "def f(x):\n    return x**2  # square\n\tif x: pass\n}}]]))\n",
        "https://example.com/path?q=1&r=two#frag user@example.org C:\\Windows\\System32",
        base64.b64encode(bytes(range(256)) * 40).decode(),
        "",
        " ",
        "\n",
    ]
    rng = random.Random(20261122)
    pools = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "0123456789",
        " \t\n\r\u00a0\u3000\u2028\u0085",
        "'\".,;:!?-()[]{}<>/\\|@#$%^&*_+=~`",
        "éüñçøåßœÆ\u0301\u0308\u0327",
        "中文日本語한국어カタカナ",
        "مرحباשלום",
        "😀🙂👍🏽‍♀️🇺🇸",
        "ſKǅǈǋ\u1e9e",
    ]
    for _ in range(200):
        n = rng.randint(1, 200)
        docs.append("".join(rng.choice(rng.choice(pools)) for _ in range(n)))
    return docs


def fnv64(ids, h):
    for i in ids:
        for b in struct.pack("<I", i):
            h ^= b
            h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def corpora(stress):
    with open("data/tinyshakespeare.txt", encoding="utf-8") as f:
        shakespeare = f.read()
    yield "shakespeare_lines", shakespeare.split("\n")[:-1] if shakespeare.endswith("\n") else shakespeare.split("\n")
    yield "shakespeare_whole", [shakespeare]
    for part in ["train", "test"]:
        with open(f"data/gsm8k/{part}.jsonl", encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        yield f"gsm8k_{part}_question", [r["question"] for r in rows]
        yield f"gsm8k_{part}_answer", [r["answer"] for r in rows]
    yield "stress", stress


def main():
    stress = stress_docs()
    with open("tests/data/tokenize/stress.jsonl", "w", encoding="utf-8") as f:
        for d in stress:
            f.write(json.dumps({"text": d}, ensure_ascii=False) + "\n")
    out = ["# corpus\tencoding\tdocuments\ttokens\tfnv1a64 of the ids (from tiktoken %s)" % tiktoken.__version__]
    for name in ENCODINGS:
        enc = load(name)
        for corpus, docs in corpora(stress):
            h = 0xCBF29CE484222325
            total = 0
            for d in docs:
                ids = enc.encode_ordinary(d)
                total += len(ids)
                h = fnv64(ids, h)
            out.append(f"{corpus}\t{name}\t{len(docs)}\t{total}\t{h:016x}")
            print(out[-1], file=sys.stderr)
    with open("tests/data/tokenize/expected.tsv", "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()

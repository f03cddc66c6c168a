#!/usr/bin/env python3
"""tiktoken_bench.py ENCODING FILE.jsonl: tiktoken's encode_ordinary over the
"text" of every line, one thread, best of 3; vocabulary read from vocab/."""
import json
import sys
import time

sys.path.insert(0, "tests/tokenize")
from make_vectors import load  # noqa: E402

enc = load(sys.argv[1])
with open(sys.argv[2], encoding="utf-8") as f:
    docs = [json.loads(line)["text"] for line in f if line.strip()]
docs = [d for d in docs if isinstance(d, str)]
nbytes = sum(len(d.encode("utf-8")) for d in docs)
best = 0.0
for _ in range(3):
    t0 = time.perf_counter()
    n = 0
    for d in docs:
        n += len(enc.encode_ordinary(d))
    best = max(best, nbytes / (time.perf_counter() - t0) / 1e6)
print(f"{sys.argv[1]} threads 1: {best:.2f} MB/s ({n} tokens, {nbytes} bytes of text)")

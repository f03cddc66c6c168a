#!/usr/bin/env python3
"""hf_tokenize_bench.py TOKENIZER.json FILE.jsonl [THREADS]: Hugging Face
tokenizers' encode_batch (add_special_tokens=False, special tokens' text as
text, as sluice-tokenize encodes by default) over the "text" of every
line, best of 3.  Threads: RAYON_NUM_THREADS, which must be set before the
module loads (default 1)."""
import json
import os
import sys
import time

threads = sys.argv[3] if len(sys.argv) > 3 else "1"
os.environ["RAYON_NUM_THREADS"] = threads
os.environ["TOKENIZERS_PARALLELISM"] = "true" if threads != "1" else "false"
from tokenizers import Tokenizer  # noqa: E402

tok = Tokenizer.from_file(sys.argv[1])
tok.encode_special_tokens = True
with open(sys.argv[2], encoding="utf-8") as f:
    docs = [json.loads(line)["text"] for line in f if line.strip()]
docs = [d for d in docs if isinstance(d, str)]
nbytes = sum(len(d.encode("utf-8")) for d in docs)
best = 0.0
for _ in range(3):
    t0 = time.perf_counter()
    n = sum(len(e.ids) for e in tok.encode_batch(docs, add_special_tokens=False))
    best = max(best, nbytes / (time.perf_counter() - t0) / 1e6)
print(f"{sys.argv[1]} threads {threads}: {best:.2f} MB/s ({n} tokens, {nbytes} bytes of text)")

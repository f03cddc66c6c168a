"""Time datatrove's MinHash signing (MinhashDedupSignature with its default
config: simplify_text, English word tokenizer, 5-gram shingles, 14 x 8
hashes) over the "text" of each JSON line of a file; print the seconds.
Needs: pip install datatrove spacy "xxhash<3.6" (datatrove 0.10 hashes str,
which xxhash 3.6 refuses)."""
import json
import sys
import time

from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

texts = [json.loads(line).get("text", "") for line in open(sys.argv[1], encoding="utf-8")]
sig = MinhashDedupSignature(output_folder=".", config=MinhashConfig())
sig.get_signature(sig.get_shingles("warm up the tokenizer once"))
start = time.perf_counter()
for t in texts:
    sh = sig.get_shingles(t)
    if len(sh):
        sig.get_signature(sh)
print(f"{time.perf_counter() - start:.2f}")

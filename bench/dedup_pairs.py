"""Show sluice-dedup's drops beside the documents they were judged
duplicates of, for reading: a seeded sample of N drops from a --rejects
JSONL file, each with the kept document's text from the input JSONL (both
need an "id"), their word-level differences, and a line to fill in.
Usage: python3 dedup_pairs.py INPUT.jsonl REJECTS.jsonl N SEED > pairs.txt
       (also writes pairs.tsv: n, id, dup_of, reason, similarity)"""
import difflib
import json
import random
import sys

src, rej, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
text = {}
for line in open(src, encoding="utf-8"):
    d = json.loads(line)
    text[d["id"]] = d["text"]
drops = [json.loads(line) for line in open(rej, encoding="utf-8")]
rng = random.Random(seed)
sample = sorted(rng.sample(range(len(drops)), min(n, len(drops))))
with open("pairs.tsv", "w", encoding="utf-8") as tsv:
    for k, i in enumerate(sample, 1):
        d = drops[i]
        a, b = d["text"], text.get(d["dup_of"], "")
        wa, wb = a.split(), b.split()
        diff = []
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes():
            if op != "equal":
                diff.append(f"[{' '.join(wa[i1:i2])[:80]} => {' '.join(wb[j1:j2])[:80]}]")
        print(f"=== {k} {d['id']} dup_of {d['dup_of']} {d['reason']} sim {d['similarity']} "
              f"words {len(wa)}/{len(wb)} diffs {len(diff)}")
        print("DROP:", a[:300].replace("\n", " | "))
        print("KEPT:", b[:300].replace("\n", " | "))
        print("DIFF:", " ".join(diff[:12])[:900])
        tsv.write(f"{k}\t{d['id']}\t{d['dup_of']}\t{d['reason']}\t{d['similarity']}\n")

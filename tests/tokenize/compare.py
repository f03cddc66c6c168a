#!/usr/bin/env python3
"""compare.py ENCODING SOURCE.jsonl OURS.jsonl: check that the "tokens" of
each line of OURS equal tiktoken's encode_ordinary of the "text" of the same
line of SOURCE; print the first differences and exit 1 if any."""
import json
import sys

from make_vectors import load


def main():
    enc = load(sys.argv[1])
    with open(sys.argv[2], encoding="utf-8") as f:
        src = [json.loads(line) for line in f]
    with open(sys.argv[3], encoding="utf-8") as f:
        ours = [json.loads(line) for line in f]
    bad = 0
    if len(src) != len(ours):
        print(f"{len(ours)} records, expected {len(src)}")
        return 1
    for i, (s, o) in enumerate(zip(src, ours)):
        want = enc.encode_ordinary(s["text"])
        if o.get("tokens") != want:
            bad += 1
            if bad <= 5:
                print(f"record {i + 1}: {o.get('tokens', [])[:20]} != {want[:20]}")
    print(f"{sys.argv[1]}: {len(src)} records, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

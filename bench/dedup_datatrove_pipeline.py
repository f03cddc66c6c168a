"""datatrove's whole MinHash deduplication (signatures, buckets, clusters,
filter) with its default config (5-gram shingles of simplify_text'ed words,
14 buckets x 8 hashes) over a JSONL file with "id" and "text"; prints one
line per removed document: its id and the id of the document kept for its
cluster, tab-separated.  Needs: pip install datatrove spacy "xxhash<3.6".
Usage: python3 dedup_datatrove_pipeline.py IN.jsonl WORKDIR > removed.tsv"""
import json
import os
import shutil
import sys

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup import (MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter,
                                      MinhashDedupSignature)
from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

src, work = sys.argv[1], sys.argv[2]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(f"{work}/in")
shutil.copy(src, f"{work}/in/data.jsonl")
cfg = MinhashConfig()


def reader():
    return JsonlReader(f"{work}/in", glob_pattern="*.jsonl", id_key="id", text_key="text")


def run(pipeline, tasks=1):
    LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1, logging_dir=f"{work}/logs/{len(os.listdir(work))}").run()


run([reader(), MinhashDedupSignature(output_folder=f"{work}/sigs", config=cfg)])
run([MinhashDedupBuckets(input_folder=f"{work}/sigs", output_folder=f"{work}/buckets", config=cfg)],
    tasks=cfg.num_buckets)
run([MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/remove", config=cfg,
                         save_cluster_id=True)])
run([reader(), MinhashDedupFilter(input_folder=f"{work}/remove", load_cluster_ids=True,
                                  exclusion_writer=JsonlWriter(f"{work}/removed", compression=None)),
     JsonlWriter(f"{work}/kept", compression=None)])

# A cluster's id is carried by its kept document (the first, datatrove's
# union-find root) and by every removed one.
kept = {}
for name in sorted(os.listdir(f"{work}/kept")):
    for line in open(f"{work}/kept/{name}", encoding="utf-8"):
        d = json.loads(line)
        c = d.get("metadata", {}).get("minhash_cluster_id", -1)
        if c != -1:
            kept[c] = d["id"]
for name in sorted(os.listdir(f"{work}/removed")):
    for line in open(f"{work}/removed/{name}", encoding="utf-8"):
        d = json.loads(line)
        print(f"{d['id']}\t{kept.get(d.get('metadata', {}).get('minhash_cluster_id'), '?')}")

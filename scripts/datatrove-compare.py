#!/usr/bin/env python3
"""datatrove-compare.py FILTER FILE: datatrove's verdict on each JSONL line.

Prints one line per document: empty when datatrove keeps it, else the
reason it gives.  FILTER is gopher (GopherQualityFilter then
GopherRepetitionFilter) or c4 (C4QualityFilter).  Used to make the fixed
vectors in tests/data/enwiki/ and to measure agreement on larger corpora.

datatrove's English word tokenizer is NLTK's word_tokenize; its Punkt
sentence model is a download, so this uses an untrained Punkt model (no
abbreviation list) -- the model sluice-synth-filter follows.
"""
import json
import sys

import nltk.tokenize
from nltk.tokenize.punkt import PunktSentenceTokenizer

import datatrove.utils.word_tokenizers as wt
from datatrove.data import Document
from datatrove.pipeline.filters import C4QualityFilter, GopherQualityFilter, GopherRepetitionFilter

punkt = PunktSentenceTokenizer()
nltk.tokenize.sent_tokenize = lambda text, language="english": punkt.tokenize(text)
tok = wt.NLTKTokenizer("english")
tok._tokenizer = punkt
wt.load_word_tokenizer = lambda language: tok

which, path = sys.argv[1], sys.argv[2]
filters = {"gopher": [GopherQualityFilter(), GopherRepetitionFilter()], "c4": [C4QualityFilter()]}[which]
opener = open
if path.endswith(".zst"):
    import io, subprocess
    data = subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    lines = io.StringIO(data.decode())
else:
    lines = open(path, encoding="utf-8")
for i, line in enumerate(lines):
    doc = Document(text=json.loads(line)["text"], id=str(i))
    reason = ""
    for f in filters:
        r = f.filter(doc)
        if r is not True:
            reason = r[1] if isinstance(r, tuple) else "dropped"
            break
    print(reason)

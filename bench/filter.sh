#!/bin/bash
# filter.sh: sluice-synth-filter -p fineweb at -j 1 and -j 2, and datatrove's
# FineWeb filters (Gopher repetition, Gopher quality, C4 without the
# end-punctuation rule, FineWeb quality) on the same documents when a Python
# with datatrove is given as $DATATROVE_PY.
#
# Corpus: the Wikipedia sample when $SLUICE_DATA (default ../shared/data)
# has it, else the bundled sample; $DOCS documents (default 20000).
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}
DOCS=${DOCS:-20000}
DATA=${SLUICE_DATA:-../shared/data}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
if [ -f "$DATA/enwiki/enwiki-2021-sample.jsonl.zst" ]; then
	src="$DATA/enwiki/enwiki-2021-sample.jsonl.zst"
else
	src=tests/data/enwiki/sample.jsonl.zst
fi
zstdcat "$src" | head -n "$DOCS" >"$TMP/in.jsonl"
docs=$(wc -l <"$TMP/in.jsonl")
bytes=$(stat -c %s "$TMP/in.jsonl")
echo "corpus: $src, $docs documents, $bytes bytes of JSONL"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
secs() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN { print e - s }'; }
rate() { awk -v d="$docs" -v b="$bytes" -v t="$1" 'BEGIN { printf "%.0f docs/s, %.2f MB/s", d / t, b / 1e6 / t }'; }
for j in 1 2; do
	t=$(secs sh -c "'$O/bin/sluice-synth-filter' --quiet -p fineweb -j $j '$TMP/in.jsonl' >'$TMP/out$j.jsonl'")
	eval "t$j=$t"
	echo "sluice-synth-filter -p fineweb -j $j: $(rate "$t") ($(wc -l <"$TMP/out$j.jsonl") kept)"
done
if [ -n "${DATATROVE_PY:-}" ]; then
	cat >"$TMP/dt.py" <<'PY'
import json, sys
import nltk.tokenize
from nltk.tokenize.punkt import PunktSentenceTokenizer
import datatrove.utils.word_tokenizers as wt
from datatrove.data import Document
from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                        GopherRepetitionFilter)
punkt = PunktSentenceTokenizer()
nltk.tokenize.sent_tokenize = lambda text, language="english": punkt.tokenize(text)
tok = wt.NLTKTokenizer("english"); tok._tokenizer = punkt
wt.load_word_tokenizer = lambda language: tok
fs = [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(filter_no_terminal_punct=False),
      FineWebQualityFilter()]
kept = 0
for i, line in enumerate(open(sys.argv[1])):
    doc = Document(text=json.loads(line)["text"], id=str(i))
    kept += all(f.filter(doc) is True for f in fs)
print(kept)
PY
	t=$(secs sh -c "'$DATATROVE_PY' '$TMP/dt.py' '$TMP/in.jsonl' >'$TMP/dt.out'")
	echo "datatrove FineWeb filters (1 process): $(rate "$t") ($(cat "$TMP/dt.out") kept)"
	awk -v a="$t1" -v b="$t" 'BEGIN { printf "ratio at 1 core: %.1fx\n", b / a }'
else
	echo "datatrove: not run (set DATATROVE_PY to a Python with datatrove installed)"
fi

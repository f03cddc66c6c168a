#!/bin/bash
# hf_tokenize.sh: encoding speed with a Hugging Face tokenizer.json against
# Hugging Face tokenizers itself, side by side in one run.
#
# Library figures: bench/tokenize_bench (text in memory -> ids, best of 3)
# against tokenizers' encode_batch (its Rust core, RAYON_NUM_THREADS
# threads, best of 3) over the same documents, for the two test
# tokenizers (tests/data/hf: Qwen2-style, 4,100 ids; Llama-3-style, 3,077)
# and a Qwen2-style one of 32,768 tokens trained here on the corpus.
#
# Corpus: $MB MB of the Wikipedia sample when $SLUICE_DATA (default
# ../shared/data) has it, else the bundled GSM8K and Shakespeare.
# tokenizers is installed with pip when missing (skipped if that fails).
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}
MB=${MB:-30}
DATA=${SLUICE_DATA:-../shared/data}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

if [ -f "$DATA/enwiki/enwiki-2021-sample.jsonl.zst" ]; then
	src="Wikipedia sample"
	zstdcat "$DATA/enwiki/enwiki-2021-sample.jsonl.zst" | head -c $((MB * 1000000)) | sed '$d' >"$TMP/corpus.jsonl"
else
	src="GSM8K train answers + tiny Shakespeare lines"
	sed 's/"answer"/"text"/' data/gsm8k/train.jsonl >"$TMP/corpus.jsonl"
	"$O/bin/sluice-cat" data/tinyshakespeare.txt >>"$TMP/corpus.jsonl"
fi
echo "corpus: $src, $(stat -c %s "$TMP/corpus.jsonl") bytes of JSONL"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
python3 -c "import tokenizers" 2>/dev/null || pip install -q tokenizers >/dev/null 2>&1 || true
if ! python3 -c "import tokenizers" 2>/dev/null; then
	echo "tokenizers not installed: no comparison"
	exit 0
fi
echo "tokenizers $(python3 -c 'import tokenizers; print(tokenizers.__version__)')"
python3 - "$TMP/corpus.jsonl" "$TMP/qwen32k.json" <<'PY'
import json, sys
sys.path.insert(0, "tests/data/hf")
from make_tokenizers import QWEN2_PATTERN
from tokenizers import Tokenizer, Regex, models, normalizers, pre_tokenizers, trainers, decoders
tok = Tokenizer(models.BPE())
tok.normalizer = normalizers.NFC()
tok.pre_tokenizer = pre_tokenizers.Sequence([
    pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
    pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=32768, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                              show_progress=False)
docs = (json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8"))
tok.train_from_iterator(docs, trainer=trainer)
tok.save(sys.argv[2])
PY
echo

for tj in tests/data/hf/qwen/tokenizer.json tests/data/hf/llama3/tokenizer.json "$TMP/qwen32k.json"; do
	name=$tj
	[ "$tj" = "$TMP/qwen32k.json" ] && name="qwen2-style, 32768 tokens, trained on the corpus"
	for t in 1 2; do
		s=$("$O/bench/tokenize_bench" "$tj" "$TMP/corpus.jsonl" "$t")
		h=$(python3 bench/hf_tokenize_bench.py "$tj" "$TMP/corpus.jsonl" "$t")
		echo "sluice     $s"
		echo "tokenizers $h"
		sn=$(sed 's/.*(\([0-9]*\) tokens.*/\1/' <<<"$s")
		hn=$(sed 's/.*(\([0-9]*\) tokens.*/\1/' <<<"$h")
		[ "$sn" = "$hn" ] || echo "WARNING: token counts differ: $sn against $hn"
		sm=$(sed 's/.*: \([0-9.]*\) MB.*/\1/' <<<"$s")
		hm=$(sed 's/.*: \([0-9.]*\) MB.*/\1/' <<<"$h")
		echo "$name, $t thread(s): sluice / tokenizers = $(echo "scale=2; $sm / $hm" | bc)x"
	done
	echo
done

#!/bin/bash
# hf-tokenize.sh: sluice-tokenize with Hugging Face tokenizer.json files:
# ids on the bundled corpora byte for byte against the vectors Hugging
# Face tokenizers gave (tests/data/hf/make_tokenizers.py), and against
# tokenizers itself when it is importable; special and added tokens,
# decoding, the stream header, chat, and bad files.
. "$(dirname "$0")/../lib.sh"
H=tests/data/hf
ids() { grep -o '"tokens": *\[[^]]*\]' | sed 's/^"tokens": *//; s/ //g'; }

awk -f scripts/paragraphs.awk data/tinyshakespeare.txt >"$TMP/shk.jsonl"
zstd -dc tests/data/enwiki/sample.jsonl.zst >"$TMP/wiki.jsonl"
for n in qwen llama3; do
	tj=$H/$n/tokenizer.json
	corpus() { # corpus NAME WANT ARGS...: ids of ARGS against WANT
		local name=$1 want=$2
		shift 2
		sluice-tokenize -e "$tj" -J "$@" 2>"$TMP/err" | ids >"$TMP/got"
		zstd -dc "$H/$n.$want.ids.zst" >"$TMP/want"
		same "$n: $name: the ids tokenizers gives" "$TMP/want" "$TMP/got"
	}
	corpus "tiny Shakespeare, 7222 paragraphs" shk "$TMP/shk.jsonl"
	corpus "Wikipedia sample, 180 articles" wiki "$TMP/wiki.jsonl"
	corpus "GSM8K test answers" gsm8k --field answer data/gsm8k/test.jsonl
	corpus "stress corpus, special tokens' text as text" stress tests/data/tokenize/stress.jsonl
	corpus "stress corpus, --allow-special all" stress-special --allow-special all tests/data/tokenize/stress.jsonl
	corpus "the model directory for its tokenizer.json" wiki -e "$H/$n" "$TMP/wiki.jsonl"

	sluice-tokenize -e "$tj" --drop-text "$TMP/wiki.jsonl" 2>/dev/null | sluice-tokenize -e "$H/$n" -d -J 2>/dev/null |
		sed 's/^{"tokens": \[[0-9, ]*\], "text"/{"text"/' | grep -o '"text": .*' >"$TMP/dec"
	grep -o '"text": .*' "$TMP/wiki.jsonl" >"$TMP/dec.want"
	same "$n: Wikipedia encodes and decodes back" "$TMP/dec.want" "$TMP/dec"
done

# --- the stream header, special and added tokens, chat ---
Q=$H/qwen/tokenizer.json
printf '{"text": "hi<|im_end|> a<tool_call>b"}\n' >"$TMP/sp.jsonl"
sluice-tokenize -e "$Q" --eot -o "$TMP/sp.slc" "$TMP/sp.jsonl" 2>/dev/null
QDIR=$(cd "$(dirname "$Q")" && pwd -P)
zstd -dc "$TMP/sp.slc" | head -c 300 | grep -aq "\"tokenizer\": \"$QDIR\", \"n_vocab\": 4100, \"eot\": 4096" &&
	ok "stream header: the tokenizer.json's directory by its real path, its vocabulary with added tokens, <|endoftext|>" ||
	not_ok "stream header" "$(zstd -dc "$TMP/sp.slc" | head -c 200 | tr -c '[:print:]' ' ')"
sluice-tokenize -e "$Q" -J --drop-text "$TMP/sp.jsonl" >"$TMP/sp.out" 2>/dev/null
grep -q '4099' "$TMP/sp.out" && ! grep -q '4098' "$TMP/sp.out" &&
	ok "a special token's text is text, an added token that is not special is its id" ||
	not_ok "special by default" "$(cat "$TMP/sp.out")"
sluice-tokenize -e "$Q" -J --drop-text --allow-special '<|im_end|>' "$TMP/sp.jsonl" >"$TMP/sp.out" 2>/dev/null
grep -q ', 4098, .*4099' "$TMP/sp.out" && ok "--allow-special finds the special token" ||
	not_ok "--allow-special" "$(cat "$TMP/sp.out")"
printf '{"tokens": [4097, 4098, 4096, 4099, 72]}\n' | sluice-tokenize -e "$Q" -d -t >"$TMP/dec.txt" 2>/dev/null
[ "$(cat "$TMP/dec.txt")" = "<|im_start|><|im_end|><|endoftext|><tool_call>i" ] &&
	ok "added tokens decode to their text" || not_ok "decoding added tokens" "$(cat "$TMP/dec.txt")"
head -3 tests/data/chat/conversations.jsonl | sluice-tokenize -e "$Q" --chat -J --drop-text >"$TMP/chat.out" 2>/dev/null
[ "$(grep -o '"tokens": \[4097, ' "$TMP/chat.out" | wc -l)" -eq 3 ] && ! grep -q '4100' "$TMP/chat.out" &&
	ok "--chat uses the tokenizer's own <|im_start|> and <|im_end|>" || not_ok "chat" "$(head -c 300 "$TMP/chat.out")"

# A directory whose name JSON must escape: the header still parses.
W=$TMP/'a "quoted" \ dir'
mkdir -p "$W" && cp "$Q" "$W/"
sluice-tokenize -e "$W" --eot -o "$TMP/w.slc" "$TMP/sp.jsonl" 2>/dev/null
expect "a tokenizer in a directory named with quotes and a backslash: the header is JSON" 0 \
	sluice-shard --quiet -T 4 -o "$TMP/wsh" "$TMP/w.slc"
grep -qF '/a \"quoted\" \\ dir"' "$TMP/wsh/manifest.json" && ok "and names the directory, escaped" ||
	not_ok "the escaped directory name" "$(head -c 300 "$TMP/wsh/manifest.json")"

# --- a model trained on it names it, and sampling decodes with it ---
head -200 "$TMP/shk.jsonl" | sluice-tokenize -e "$Q" --eot --drop-text 2>/dev/null |
	sluice-shard --quiet -T 32 -o "$TMP/qsh" 2>/dev/null
OMP_NUM_THREADS=1 sluice-train-step -m "$TMP/q.st" --init custom -L 1 -C 32 -H 2 --ctx 32 --steps 2 --quiet \
	--log /dev/null "$TMP/qsh/train-00000.slc"
head -c 4000 "$TMP/q.st" | grep -aq "\"tokenizer\":\"$QDIR\"" &&
	ok "the checkpoint names the tokenizer.json by its directory's real path" ||
	not_ok "checkpoint tokenizer" "$(head -c 300 "$TMP/q.st" | tr -c '[:print:]' ' ')"
printf '{"text": "ROMEO:"}\n' | OMP_NUM_THREADS=1 sluice-sample -m "$TMP/q.st" -n 1 -N 8 --seed 1 --quiet -J >"$TMP/qs.out" 2>"$TMP/qs.err" &&
	grep -q '"completion": "' "$TMP/qs.out" && ok "sluice-sample loads it from the checkpoint's name" ||
	not_ok "sample with the checkpoint's tokenizer.json" "$(head -c 300 "$TMP/qs.err")"

# --- bad files: exit 1 naming what is wrong ---
head -c 5000 "$Q" >"$TMP/cut.json"
expect_err "a tokenizer.json cut short: its line and column" 1 "cut.json: line [0-9]+, column [0-9]+: unterminated string" \
	sluice-tokenize -e "$TMP/cut.json" "$TMP/sp.jsonl"
sed 's/"type": "BPE"/"type": "WordPiece"/' "$Q" >"$TMP/wp.json"
expect_err "a model that is not BPE" 1 "wp.json: model: type WordPiece is not supported" \
	sluice-tokenize -e "$TMP/wp.json" "$TMP/sp.jsonl"
python3 - "$Q" "$TMP/unk.json" <<'PY' 2>/dev/null || sed '0,/"Ġ",$/s//"Ġzzzq",/' "$Q" >"$TMP/unk.json"
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
d["model"]["merges"][2] = ["Ġzzzq", "t"]
json.dump(d, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False, indent=2)
PY
expect_err "a merge naming a token not in the vocabulary" 1 "unk.json: model: merges: merge 3 names 'Ġzzzq', which is not in the vocabulary" \
	sluice-tokenize -e "$TMP/unk.json" "$TMP/sp.jsonl"
sed 's/"Split"/"Whitespace"/' "$Q" >"$TMP/pre.json"
expect_err "a pre-tokenizer that is not supported" 1 "pre.json: pre_tokenizer: Whitespace is not supported" \
	sluice-tokenize -e "$TMP/pre.json" "$TMP/sp.jsonl"
expect_err "no such tokenizer.json" 1 "nope.json: No such file" sluice-tokenize -e "$TMP/nope.json" "$TMP/sp.jsonl"

# --- the live comparison, with tokenizers when it is importable ---
if python3 -c 'import tokenizers' 2>/dev/null; then
	for n in qwen llama3; do
		python3 tests/tokenize/hf_compare.py "$H/$n/tokenizer.json" >"$TMP/live" 2>&1 &&
			ok "$n: tokenizers live: $(tail -1 "$TMP/live")" || not_ok "$n: tokenizers live" "$(head -5 "$TMP/live")"
	done
else
	echo "skip: Python module tokenizers not importable; the live comparison with it not run"
fi

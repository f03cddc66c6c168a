# lib.sh: helpers for the CLI tests.  Each case prints "ok NAME" or
# "not ok NAME" with the reason; tests/run.sh counts them.
set -u
cd "$(dirname "$0")/../.." || exit 2
O=${O:-build}
BIN=$PWD/$O/bin
PATH=$BIN:$PATH
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ok() { echo "ok $1"; }
not_ok() { echo "not ok $1${2:+: $2}"; }

# expect NAME STATUS CMD...: CMD's exit status must be STATUS (a signal never
# passes); its stdout and stderr are kept in $TMP/out and $TMP/err.
expect() {
	local name=$1 want=$2 got
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"
	got=$?
	if [ "$got" -ge 128 ]; then
		not_ok "$name" "killed by signal $((got - 128)): $(head -c 300 "$TMP/err")"
	elif [ "$got" -ne "$want" ]; then
		not_ok "$name" "exit $got, expected $want: $(head -c 300 "$TMP/err")"
	else
		ok "$name"
	fi
}

# expect_err NAME STATUS PATTERN CMD...: as expect, and stderr must match
# the extended regular expression PATTERN.
expect_err() {
	local name=$1 want=$2 pat=$3 got
	shift 3
	"$@" >"$TMP/out" 2>"$TMP/err"
	got=$?
	if [ "$got" -ge 128 ]; then
		not_ok "$name" "killed by signal $((got - 128))"
	elif [ "$got" -ne "$want" ]; then
		not_ok "$name" "exit $got, expected $want: $(head -c 300 "$TMP/err")"
	elif ! grep -Eq -- "$pat" "$TMP/err"; then
		not_ok "$name" "stderr does not match '$pat': $(head -c 300 "$TMP/err")"
	else
		ok "$name"
	fi
}

# same NAME FILE1 FILE2: the files are byte-identical.
same() {
	if cmp -s "$2" "$3"; then ok "$1"; else not_ok "$1" "$(cmp "$2" "$3" 2>&1 | head -1)"; fi
}

# shakespeare_tokens DIR: tiny Shakespeare's paragraphs as documents, in
# DIR/shk.jsonl and gpt2-tokenized in DIR/shk.tok (the training tests' data).
shakespeare_tokens() {
	awk -f scripts/paragraphs.awk data/tinyshakespeare.txt >"$1/shk.jsonl"
	sluice-tokenize -e gpt2 --drop-text -o "$1/shk.tok" "$1/shk.jsonl" 2>/dev/null
}

# live_logprob NAME DIR SCORE IDS...: transformers' from_pretrained loads the
# model directory DIR and gives the summed log-prob of IDS that sluice-eval
# --score wrote to SCORE (1e-5 relative).  Skips, saying so, where
# ${SLUICE_PYTHON:-python3} cannot import torch and transformers.
live_logprob() {
	local name=$1 dir=$2 score=$3 py=${SLUICE_PYTHON:-python3}
	shift 3
	if ! "$py" -c 'import torch, transformers' 2>/dev/null; then
		echo "skip: torch and transformers not importable by $py (set SLUICE_PYTHON); $name not checked"
		return
	fi
	"$py" tests/parity/hf_gpt2.py logprobs "$dir" "$@" 2>"$TMP/err" |
		awk '{ s += $1 } END { printf "%.9g\n", s }' >"$TMP/live"
	if python3 - "$score" "$TMP/live" >"$TMP/cmp" 2>&1 <<'PY'; then
import json, sys
got = json.loads(open(sys.argv[1]).read())["logprob"]
want = float(open(sys.argv[2]).read())
print("%.9g vs sluice's %.9g" % (want, got))
assert abs(got - want) <= 1e-5 * abs(want)
PY
		ok "$name, log-prob $(cat "$TMP/cmp")"
	else
		not_ok "$name" "$(cat "$TMP/cmp") $(head -c 300 "$TMP/err")"
	fi
}

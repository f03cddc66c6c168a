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

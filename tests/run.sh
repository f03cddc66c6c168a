#!/bin/bash
# run.sh: run every test and end with "N passed, N failed".
#   unit tests   $O/tests/test_*   (print "ok NAME" / "not ok NAME")
#   fuzz replay  $O/tests/replay_* over tests/fuzz/corpus/NAME
#   CLI tests    tests/cli/*.sh    (same output convention, via tests/lib.sh)
# A test program killed by a signal or exiting non-zero counts as a failure.
set -u
cd "$(dirname "$0")/.." || exit 2
O=${O:-build}
export O
passed=0 failed=0
failures=()

count() { # count NAME OUTPUT STATUS
	local name=$1 out=$2 status=$3 p f
	p=$(grep -c '^ok ' <<<"$out")
	f=$(grep -c '^not ok ' <<<"$out")
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok $name (exit status $status)"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -gt 0 ] && failures+=("$name")
	return 0
}

run() { # run NAME CMD...
	local name=$1 out status
	shift
	echo "== $name"
	out=$("$@" 2>&1)
	status=$?
	grep -v '^ok ' <<<"$out" | sed '/^$/d'
	count "$name" "$out" "$status"
}

for t in "$O"/tests/test_*; do
	[ -x "$t" ] && run "$(basename "$t")" "$t"
done
for t in "$O"/tests/replay_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t"); name=${name#replay_}
	run "replay $name" bash -c "'$t' tests/fuzz/corpus/$name && echo 'ok replay_$name'"
done
for t in tests/cli/*.sh; do
	run "$(basename "$t")" bash "$t"
done

echo
[ ${#failures[@]} -gt 0 ] && echo "failing: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

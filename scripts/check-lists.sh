#!/bin/sh
# check-lists.sh: tools/list is the one list of the tools; the programs in
# tools/ and the man pages must name the same ones.  Prints what disagrees
# and exits 1, or exits 0 silently.
cd "$(dirname "$0")/.." || exit 2
fail=0
say() { echo "check-lists: $*" >&2; fail=1; }
listed=$(sed -n 's/^\([a-z][a-z0-9-]*\)[[:space:]].*/\1/p' tools/list | sort)
grep -q '["\\]' tools/list && say "tools/list: no quotes or backslashes (they go into C strings)"
for t in $listed; do
	[ -f "tools/$t.c" ] || say "tools/list names $t, but there is no tools/$t.c"
	[ -f "man/sluice-$t.1" ] || say "tools/list names $t, but there is no man/sluice-$t.1"
	grep -q "^\.Xr sluice-$t 1" man/sluice.1 || say "man/sluice.1: SEE ALSO lacks sluice-$t(1)"
	libs=$(awk -v t="$t" '$1 == t { print $2 }' tools/list)
	echo "$libs" | grep -Eq '^(-|(pcre2|blas|omp|mpi)(,(pcre2|blas|omp|mpi))*)$' ||
		say "tools/list: $t: libraries '$libs': - or a list of pcre2, blas, omp, mpi"
done
for f in tools/*.c; do
	t=$(basename "$f" .c)
	[ "$t" = sluice ] && continue
	echo "$listed" | grep -qx "$t" || say "$f is not in tools/list"
done
for f in man/sluice-*.1; do
	t=$(basename "$f" .1)
	t=${t#sluice-}
	echo "$listed" | grep -qx "$t" || say "$f: no tool $t in tools/list"
done
exit $fail

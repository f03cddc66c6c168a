#!/bin/sh
# check-layers.sh: the layers of doc/architecture.md, from the bottom:
#   kernels/   plain pointers and sizes: includes only kernels/ headers
#   lib/       the library proper: lib/ and kernels/ headers; never prints
#              to stdout or stderr, never exits, knows no cli_ type
#   programs/  the programs' support code: programs/, lib/, kernels/ (and
#              programs/gpu/, the part built only with CUDA)
# (tools/, tests/, bench/ and pipelines/ sit on top and may use them all.)
# Prints each file that reaches up and exits 1, or exits 0 silently.
cd "$(dirname "$0")/.." || exit 2
fail=0
say() { echo "check-layers: $*" >&2; fail=1; }
layer() { case $1 in kernels) echo 0 ;; lib) echo 1 ;; programs | programs/*) echo 2 ;; *) echo 3 ;; esac; }
# Known exceptions, removed as the code is mended: FILE:HEADER (none now).
allowed=""

for dir in kernels lib programs programs/gpu; do
	mine=$(layer $dir)
	for f in "$dir"/*.c "$dir"/*.h; do
		[ -f "$f" ] || continue
		for h in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
			# The header as the compiler finds it: beside the file first.
			where=""
			for d in "$dir" kernels lib programs; do
				[ -f "$d/$h" ] && { where=$d; break; }
			done
			[ -n "$where" ] || continue
			if [ "$(layer "$where")" -gt "$mine" ]; then
				case " $allowed " in *" $f:$h "*) continue ;; esac
				say "$f includes $where/$h, a layer above it"
			fi
		done
	done
done
# The library proper reports; the programs print.
bad=$(grep -n -E '(^|[^a-z_])(exit|_Exit|printf|puts|perror)\(|std(err|out)|cli_[a-z]' lib/*.c lib/*.h kernels/*.c kernels/*.h |
	grep -v -E '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)')
if [ -n "$bad" ]; then
	echo "$bad" | sed 's/^/check-layers: /; s/$/: the library never prints, exits or uses the programs'"'"' types/' >&2
	fail=1
fi
# The model's memory is the kernel table's (doc/architecture.md): lib/model.c
# zeroes and moves it with the table's mem_zero and copies, never memset or
# memmove (its few host-side memcpy calls are on host buffers).
bad=$(grep -n -E '(^|[^a-z_])(memset|memmove)\(' lib/model.c | grep -v -E '^[0-9]+:[[:space:]]*(/?\*|//)')
if [ -n "$bad" ]; then
	echo "$bad" | sed 's/^/check-layers: lib\/model.c:/; s/$/: model memory is zeroed and moved through the kernel table/' >&2
	fail=1
fi
exit $fail

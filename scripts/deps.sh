#!/bin/sh
# deps.sh OUT: check for the Debian packages the build needs, install the
# missing ones when run as root, and write the compiler flags they give to OUT
# (a make fragment).  Without root, name the packages to install and fail.
set -u
out=${1:?usage: deps.sh OUT}
cc=${CC:-cc}

need=""
command -v "$cc" >/dev/null 2>&1 || need="$need gcc"
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
for pair in libzstd:libzstd-dev libxxhash:libxxhash-dev libpcre2-8:libpcre2-dev libutf8proc:libutf8proc-dev \
	openblas:libopenblas-openmp-dev; do
	pkg-config --exists "${pair%%:*}" 2>/dev/null || need="$need ${pair#*:}"
done
command -v zstd >/dev/null 2>&1 || need="$need zstd"
# OpenMP: gcc ships it; clang needs LLVM's runtime.
if command -v "$cc" >/dev/null 2>&1 &&
	! printf '#include <omp.h>\nint main(void) { return omp_get_max_threads() < 0; }\n' |
		"$cc" -fopenmp -x c - -o /dev/null >/dev/null 2>&1; then
	case "$cc" in *clang*) need="$need libomp-dev" ;; *) need="$need libgomp1" ;; esac
fi

if [ -n "$need" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "deps: installing Debian packages:$need"
		export DEBIAN_FRONTEND=noninteractive
		# shellcheck disable=SC2086
		apt-get install -y -qq $need >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null && apt-get install -y -qq $need >/dev/null; } ||
			{ echo "deps: apt-get install$need failed" >&2; exit 1; }
	else
		echo "deps: missing Debian packages:$need" >&2
		echo "deps: install them with: sudo apt-get install$need" >&2
		exit 1
	fi
fi

mkdir -p "$(dirname "$out")"
{
	echo "PKG_CFLAGS := $(pkg-config --cflags libzstd libxxhash libpcre2-8 libutf8proc)"
	echo "PKG_LIBS := $(pkg-config --libs libzstd libxxhash libutf8proc)"
	echo "PCRE2_LIBS := $(pkg-config --libs libpcre2-8)"
	echo "BLAS_CFLAGS := $(pkg-config --cflags openblas)"
	echo "BLAS_LIBS := $(pkg-config --libs openblas)"
} >"$out"

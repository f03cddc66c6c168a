#!/bin/sh
# need.sh COMMAND PACKAGE: make sure COMMAND exists, installing the Debian
# PACKAGE when run as root; otherwise say what to install and fail.
set -u
command -v "$1" >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "need: installing the Debian package $2 (for $1)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends "$2" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "$2" >/dev/null; } ||
		{ echo "need: apt-get install $2 failed" >&2; exit 1; }
	exit 0
fi
echo "need: $1 is missing: install it with: sudo apt-get install $2" >&2
exit 1

# table-lib.sh: helpers the recipes' table scripts share (sourced).
get() { # get FILE KEY: a number or [lo, hi] of a one-line JSON report
	sed -n "s/.*\"$2\": \(\[[^]]*\]\|[^,}]*\).*/\1/p" "$1" | head -1
}
pct() { awk -v x="$1" 'BEGIN { printf "%5.1f%%", 100 * x }'; }
ci() { tr -d '[] ' <<<"$1" | awk -F, '{ printf "[%4.1f, %4.1f]", 100 * $1, 100 * $2 }'; }
pflops() { awk -v x="$1" 'BEGIN { printf "%.4f", x / 1e15 }'; }
gain() { # gain NOW BEFORE: points of exact match per PFLOP spent between them
	awk -v a="$(get "$1" exact_match)" -v b="$(get "$2" exact_match)" \
		-v fa="$(get "$1" train_flops)" -v fb="$(get "$2" train_flops)" \
		'BEGIN { if (fa > fb) printf "%+.0f", 100 * (a - b) / ((fa - fb) / 1e15); else printf "-" }'
}

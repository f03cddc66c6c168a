# unigram.awk TRAIN VAL: the unigram baseline of a language model -- the
# cross-entropy (nats per target) of VAL's targets under the token
# frequencies of TRAIN's, add-one smoothed over a vocabulary of V tokens
# (-v V=N, default 50257).  Both files are sequences as `sluice-cat -J`
# prints them: {"tokens": [...]} with an optional "mask": [...]; the
# targets are tokens 1..T where the mask (if any) is 1.
function targets(line, out,    t, m, nt, nm, i, n) {
	t = line; sub(/.*"tokens": *\[/, "", t); sub(/\].*/, "", t)
	nt = split(t, tok, /, */)
	nm = 0
	if (line ~ /"mask": *\[/) {
		m = line; sub(/.*"mask": *\[/, "", m); sub(/\].*/, "", m)
		nm = split(m, mask, /, */)
	}
	n = 0
	for (i = 2; i <= nt; i++)
		if (!nm || mask[i] == 1)
			out[++n] = tok[i]
	return n
}
BEGIN { if (!V) V = 50257 }
FNR == NR { n = targets($0, got); for (i = 1; i <= n; i++) count[got[i]]++; total += n; next }
{ n = targets($0, got); for (i = 1; i <= n; i++) { ce -= log((count[got[i]] + 1) / (total + V)); k++ } }
END { printf "unigram baseline: %.4f nats per target over %d validation targets (%d training targets)\n", ce / k, k, total }

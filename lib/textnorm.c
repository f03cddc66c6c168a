/* textnorm.c: see textnorm.h. */
#include "textnorm.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "utf8.h"

static const struct {
	const char *name;
	unsigned flag;
} steps[] = {
	{ "nfc", TEXTNORM_NFC },       { "case", TEXTNORM_CASE },   { "digits", TEXTNORM_DIGITS },
	{ "punct", TEXTNORM_PUNCT },   { "space", TEXTNORM_SPACE }, { "accents", TEXTNORM_ACCENTS },
};
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

int textnorm_parse(const char *spec, unsigned *flags)
{
	unsigned f = 0;
	const char *p = spec;
	while (*p) {
		size_t len = strcspn(p, ",");
		size_t i;
		if (len == 7 && memcmp(p, "default", 7) == 0)
			f |= TEXTNORM_DEFAULT;
		else if (len == 9 && memcmp(p, "datatrove", 9) == 0)
			f |= TEXTNORM_DATATROVE;
		else if (!(len == 4 && memcmp(p, "none", 4) == 0)) {
			for (i = 0; i < NSTEPS; i++)
				if (strlen(steps[i].name) == len && memcmp(p, steps[i].name, len) == 0)
					break;
			if (i == NSTEPS)
				return -1;
			f |= steps[i].flag;
		}
		p += len;
		if (*p == ',' && *++p == '\0')
			return -1;
	}
	if (p == spec)
		return -1;
	*flags = f;
	return 0;
}

const char *textnorm_name(unsigned flags)
{
	static char out[64];
	out[0] = '\0';
	for (size_t i = 0; i < NSTEPS; i++) {
		if (!(flags & steps[i].flag))
			continue;
		if (out[0])
			strcat(out, ",");
		strcat(out, steps[i].name);
	}
	return out[0] ? out : "none";
}

/* What a character is, as far as normalisation cares. */
enum { C_OTHER, C_DIGIT, C_PUNCT, C_SPACE, C_MARK };

static int classify(uint32_t cp)
{
	if (cp < 0x80) {
		if (cp >= '0' && cp <= '9')
			return C_DIGIT;
		if (cp <= ' ' || cp == 0x7f)
			return C_SPACE; /* blanks and controls */
		if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'))
			return C_OTHER;
		return C_PUNCT; /* every other printable ASCII character is P* or S* */
	}
	switch (utf8proc_category((utf8proc_int32_t)cp)) {
	case UTF8PROC_CATEGORY_ND:
		return C_DIGIT;
	case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
	case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
	case UTF8PROC_CATEGORY_PO: case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC:
	case UTF8PROC_CATEGORY_SK: case UTF8PROC_CATEGORY_SO:
		return C_PUNCT;
	case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP:
	case UTF8PROC_CATEGORY_CC:
		return C_SPACE;
	case UTF8PROC_CATEGORY_MN:
		return C_MARK;
	default:
		return C_OTHER;
	}
}

/* Decimal separators datatrove accepts inside a number. */
static int is_decimal_sep(uint32_t cp)
{
	return cp == '.' || cp == ',' || cp == 0x060C || cp == 0x066B || cp == 0x2396 || cp == 0x2397 ||
	       cp == 0x2398;
}

static size_t next_cp(const uint8_t *s, size_t n, size_t i, uint32_t *cp)
{
	if (s[i] < 0x80) {
		*cp = s[i];
		return 1;
	}
	return utf8_decode(s + i, n - i, cp);
}

/* Skip a run of digits from i; returns the index after it. */
static size_t skip_digits(const uint8_t *s, size_t n, size_t i)
{
	uint32_t cp;
	while (i < n) {
		size_t k = next_cp(s, n, i, &cp);
		if (classify(cp) != C_DIGIT)
			break;
		i += k;
	}
	return i;
}

void textnorm_apply(buf *out, const uint8_t *s, size_t n, unsigned flags)
{
	buf_reset(out);
	buf_grow(out, n + 1);
	buf fixed = { 0 };
	uint8_t *mapped = NULL;

	if (utf8_valid_prefix(s, n) != n) {
		utf8_repair(&fixed, s, n);
		s = fixed.data;
		n = fixed.len;
	}
	int ascii = 1;
	for (size_t i = 0; i < n && ascii; i++)
		ascii = s[i] < 0x80;
	/* Case folding and (de)composition of non-ASCII text by utf8proc;
	 * dropping the marks is done below, so that only Mn goes, as in
	 * datatrove (utf8proc's STRIPMARK would take Mc and Me too). */
	int opt = UTF8PROC_STABLE;
	if (flags & TEXTNORM_ACCENTS)
		opt |= UTF8PROC_DECOMPOSE;
	else if (flags & TEXTNORM_NFC)
		opt |= UTF8PROC_COMPOSE;
	if (flags & TEXTNORM_CASE)
		opt |= UTF8PROC_CASEFOLD;
	if (!ascii && opt != UTF8PROC_STABLE) {
		utf8proc_ssize_t m = utf8proc_map(s, (utf8proc_ssize_t)n, &mapped, (utf8proc_option_t)opt);
		if (m >= 0) {
			s = mapped;
			n = (size_t)m;
		}
	}

	int pending = 0; /* a space is owed before the next character */
	size_t i = 0;
	while (i < n) {
		uint32_t cp;
		size_t k = next_cp(s, n, i, &cp);
		int c = classify(cp);
		if (c == C_DIGIT && (flags & TEXTNORM_DIGITS)) {
			size_t j = skip_digits(s, n, i);
			if (j < n) {
				uint32_t sep, d;
				size_t ks = next_cp(s, n, j, &sep);
				if (is_decimal_sep(sep) && j + ks < n) {
					next_cp(s, n, j + ks, &d);
					if (classify(d) == C_DIGIT)
						j = skip_digits(s, n, j + ks);
				}
			}
			if (pending && out->len)
				buf_addc(out, ' ');
			pending = 0;
			buf_addc(out, '0');
			i = j;
			continue;
		}
		i += k;
		if (c == C_MARK && (flags & TEXTNORM_ACCENTS))
			continue;
		if (c == C_PUNCT && (flags & TEXTNORM_PUNCT))
			c = C_SPACE, cp = ' ';
		if (c == C_SPACE && (flags & TEXTNORM_SPACE)) {
			pending = 1;
			continue;
		}
		if (pending && out->len)
			buf_addc(out, ' ');
		pending = 0;
		if (cp < 0x80) {
			if ((flags & TEXTNORM_CASE) && cp >= 'A' && cp <= 'Z')
				cp += 'a' - 'A';
			buf_addc(out, (uint8_t)cp);
		} else {
			buf_add(out, s + i - k, k);
		}
	}
	free(mapped);
	buf_release(&fixed);
}

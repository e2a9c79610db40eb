/*
 * decimal: the parser collects the significant digits once, folds trailing
 * zeros into the exponent, and only then decides whether the value fits, so
 * that neither "0.000000000000000000000001000" nor "1e400" can overflow an
 * intermediate.
 */
#include "text/decimal.h"

#include <string.h>

#define DEC_MAX_DIGITS 80 /* significant digits examined before declaring overflow */

dec128 dec_pow10(int k)
{
	dec128 v = 1;
	while (k-- > 0)
		v *= 10;
	return v;
}

/*
 * The common case without the general machinery: [+-]digits.digits whose
 * unscaled value has at most 18 digits and fits the precision, so 64-bit
 * arithmetic is exact.  Returns 0 with *out set, or -1 to leave the text
 * (valid or not) to the general parser, which decides and explains.
 */
static int dec_parse_plain(const char *s, size_t n, int precision, int scale, dec128 *out)
{
	static const uint64_t pow10[19] = {1ULL,
	                                   10ULL,
	                                   100ULL,
	                                   1000ULL,
	                                   10000ULL,
	                                   100000ULL,
	                                   1000000ULL,
	                                   10000000ULL,
	                                   100000000ULL,
	                                   1000000000ULL,
	                                   10000000000ULL,
	                                   100000000000ULL,
	                                   1000000000000ULL,
	                                   10000000000000ULL,
	                                   100000000000000ULL,
	                                   1000000000000000ULL,
	                                   10000000000000000ULL,
	                                   100000000000000000ULL,
	                                   1000000000000000000ULL};
	size_t i = 0;
	int neg = 0;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	size_t int_start = i;
	uint64_t v = 0;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		v = v * 10 + (uint64_t)(s[i++] - '0');
	size_t nint = i - int_start;
	size_t nfrac = 0;
	if (i < n && s[i] == '.') {
		i++;
		size_t frac_start = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			v = v * 10 + (uint64_t)(s[i++] - '0');
		nfrac = i - frac_start;
		if (nfrac == 0)
			return -1;
	}
	if (i != n || nint == 0 || (int)nfrac > scale || nint + (size_t)scale > 18 ||
	    (int)(nint + (size_t)scale) > precision)
		return -1;
	v *= pow10[scale - (int)nfrac];
	*out = neg ? -(dec128)v : (dec128)v;
	return 0;
}

int dec_parse(const char *s, size_t n, int precision, int scale, dec128 *out, struct err_msg *e)
{
	if (scale >= 0 && scale <= 18 && dec_parse_plain(s, n, precision, scale, out) == 0)
		return 0;
	const char *p = s, *end = s + n;
	int neg = 0;
	char digits[DEC_MAX_DIGITS];
	int nd = 0;       /* significant digits kept */
	long dropped = 0; /* significant digits that did not fit in digits[] */
	long exp10 = 0;   /* value = digits * 10^exp10 */
	int seen_digit = 0;

	if (p < end && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		seen_digit = 1;
		if (nd == 0 && *p == '0')
			continue;
		if (nd < DEC_MAX_DIGITS)
			digits[nd++] = *p;
		else
			dropped++;
	}
	exp10 += dropped;
	if (p < end && *p == '.') {
		p++;
		int frac_digit = 0;
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			frac_digit = 1;
			if (nd == 0 && *p == '0') {
				exp10--;
				continue;
			}
			if (nd < DEC_MAX_DIGITS) {
				digits[nd++] = *p;
				exp10--;
			} else if (*p != '0') {
				dropped++;
			}
		}
		if (!frac_digit && !seen_digit)
			goto syntax;
		seen_digit = 1;
	}
	if (!seen_digit)
		goto syntax;
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		int eneg = 0;
		long ev = 0;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (p >= end || *p < '0' || *p > '9')
			goto syntax;
		for (; p < end && *p >= '0' && *p <= '9'; p++)
			if (ev < 100000)
				ev = ev * 10 + (*p - '0');
		exp10 += eneg ? -ev : ev;
	}
	if (p != end)
		goto syntax;
	if (dropped) {
		/* More significant digits than any decimal(38) can hold. */
		err_set(e, EX_DATAERR, "decimal \"%.*s\" has more digits than fit", (int)n, s);
		return -1;
	}
	while (nd > 0 && digits[nd - 1] == '0') {
		nd--;
		exp10++;
	}
	if (nd == 0) {
		*out = 0;
		return 0;
	}
	long k = exp10 + scale; /* unscaled = digits * 10^k */
	if (k < 0) {
		err_set(e, EX_DATAERR, "decimal \"%.*s\" has more than %d fractional digits",
		        (int)n, s, scale);
		return -1;
	}
	if (nd + k > precision) {
		err_set(e, EX_DATAERR, "decimal \"%.*s\" does not fit decimal(%d,%d)", (int)n, s,
		        precision, scale);
		return -1;
	}
	dec128 v = 0;
	for (int i = 0; i < nd; i++)
		v = v * 10 + (digits[i] - '0');
	v *= dec_pow10((int)k);
	*out = neg ? -v : v;
	return 0;
syntax:
	err_set(e, EX_DATAERR, "\"%.*s\" is not a decimal number", (int)(n > 64 ? 64 : n), s);
	return -1;
}

int dec6_parse(const char *s, size_t n, int64_t *out, struct err_msg *e)
{
	dec128 v;
	if (dec_parse(s, n, DEC6_PRECISION, DEC6_SCALE, &v, e) < 0)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* Digits of |v| into tmp from the end; returns the count. */
static int dec_digits(dec128 v, char *tmp, int cap)
{
	unsigned __int128 u =
	    v < 0 ? (unsigned __int128)0 - (unsigned __int128)v : (unsigned __int128)v;
	int n = 0;
	/* 128-bit division is a library call; most values (all prices) fit 64 bits. */
	while (u > UINT64_MAX) {
		tmp[cap - 1 - n] = (char)('0' + (int)(u % 10));
		u /= 10;
		n++;
	}
	uint64_t w = (uint64_t)u;
	do {
		tmp[cap - 1 - n] = (char)('0' + (int)(w % 10));
		w /= 10;
		n++;
	} while (w);
	return n;
}

static size_t dec_format_impl(dec128 v, int scale, int fixed, char *out)
{
	char tmp[48];
	int nd = dec_digits(v, tmp, (int)sizeof tmp);
	const char *d = tmp + sizeof tmp - nd;
	char *o = out;
	if (v < 0)
		*o++ = '-';
	int intdigits = nd - scale;
	if (intdigits > 0) {
		memcpy(o, d, (size_t)intdigits);
		o += intdigits;
	} else {
		*o++ = '0';
	}
	/* Fractional digits, with leading zeros when |v| < 10^(scale-1). */
	char frac[40];
	int nf = 0;
	for (int i = 0; i < scale; i++) {
		int idx = intdigits + i;
		frac[nf++] = idx >= 0 ? d[idx] : '0';
	}
	if (!fixed)
		while (nf > 0 && frac[nf - 1] == '0')
			nf--;
	if (nf > 0) {
		*o++ = '.';
		memcpy(o, frac, (size_t)nf);
		o += nf;
	}
	*o = '\0';
	return (size_t)(o - out);
}

size_t dec_format(dec128 v, int scale, char *out)
{
	return dec_format_impl(v, scale, 0, out);
}

size_t dec_format_fixed(dec128 v, int scale, char *out)
{
	return dec_format_impl(v, scale, 1, out);
}

/*
 * The text of every price in a JSON tick, so without the general machinery:
 * 64-bit arithmetic, the integer part and the six fractional digits apart,
 * the fraction's trailing zeros dropped.  The same text as
 * dec_format(v, 6), which test_decimal_plain checks.
 */
size_t dec6_format(int64_t v, char *out)
{
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	uint64_t ip = u / 1000000;
	uint32_t fp = (uint32_t)(u % 1000000);
	char *o = out;
	if (v < 0)
		*o++ = '-';
	/* The integer digits in place, from the last: no copy of a few bytes. */
	int n = 1;
	for (uint64_t x = ip; x >= 10; x /= 10)
		n++;
	for (int i = n - 1; i >= 0; i--) {
		o[i] = (char)('0' + ip % 10);
		ip /= 10;
	}
	o += n;
	if (fp) {
		int nf = 6;
		while (fp % 10 == 0) {
			fp /= 10;
			nf--;
		}
		*o++ = '.';
		for (int i = nf - 1; i >= 0; i--) {
			o[i] = (char)('0' + fp % 10);
			fp /= 10;
		}
		o += nf;
	}
	*o = '\0';
	return (size_t)(o - out);
}

/*
 * decimal: exact decimal numbers as scaled integers.
 *
 * A decimal(p,s) value is held as its unscaled integer (value * 10^s) in a
 * signed 128-bit integer, enough for Delta's maximum precision of 38.  Prices
 * in tick records are decimal(18,6): the unscaled value fits an int64.
 *
 * Parsing never goes through binary floating point: the digits of the text
 * are moved to the right scale by counting, so "160.07" at scale 6 is exactly
 * 160070000.  Text with more fractional digits than the scale is accepted
 * only when the extra digits are zeros ("1.50000000"); anything else would
 * lose information and is refused, as is a value with more than p digits.
 */
#ifndef STOCKETL_DECIMAL_H
#define STOCKETL_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef __int128 dec128;

#define DEC_MAX_PRECISION 38
#define DEC6_SCALE        6
#define DEC6_PRECISION    18
/* Longest text dec_format() can produce: sign, 38 digits, point, leading "0.". */
#define DEC_TEXT_MAX      48

/*
 * Parse s[0..n): [+-]digits[.digits][(e|E)[+-]digits], or [+-].digits, at the
 * given scale (0..38) and precision (1..38).  On success store the unscaled
 * value and return 0; otherwise fill e (EX_DATAERR) with why and return -1.
 */
int dec_parse(const char *s, size_t n, int precision, int scale, dec128 *out, struct err_msg *e);

/* dec_parse() at precision 18, scale 6, into an int64. */
int dec6_parse(const char *s, size_t n, int64_t *out, struct err_msg *e);

/*
 * Write the value v / 10^scale as text into out (at least DEC_TEXT_MAX
 * bytes), NUL-terminated, and return its length.  dec_format() gives the
 * shortest exact text ("160.07", "5", "-0.5"); dec_format_fixed() always
 * prints scale fractional digits ("160.070000"), the form Delta uses for
 * partition values and statistics.
 */
size_t dec_format(dec128 v, int scale, char *out);
size_t dec_format_fixed(dec128 v, int scale, char *out);
size_t dec6_format(int64_t v, char *out);

/* 10^k for 0 <= k <= 38. */
dec128 dec_pow10(int k);

#endif

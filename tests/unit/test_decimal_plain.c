/*
 * Unit tests for the plain-digits fast path of dec_parse(): on every input it
 * must decide as the general parser does.  Appending "e0" leaves a number's
 * value alone but sends it down the general path, so each random input is
 * parsed both ways and the answers compared.  Likewise dec6_format(), the
 * 64-bit writer of prices, gives dec_format()'s text at scale 6.
 */
#include "text/decimal.h"
#include "t.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static unsigned next_rand(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void test_fast_path_agrees_with_the_general_one(void)
{
	int disagree = 0;
	for (int i = 0; i < 500000; i++) {
		char s[80];
		size_t n = 0;
		int r = next_rand(4);
		if (r == 0)
			s[n++] = '-';
		else if (r == 1)
			s[n++] = '+';
		int nint = (int)next_rand(22), nfrac = (int)next_rand(22) - 1;
		for (int k = 0; k < nint; k++)
			s[n++] = (char)('0' + (next_rand(3) == 0 ? 0 : next_rand(10)));
		if (nfrac >= 0) {
			s[n++] = '.';
			for (int k = 0; k < nfrac; k++)
				s[n++] = (char)('0' + (next_rand(3) == 0 ? 0 : next_rand(10)));
		}
		int precision = 1 + (int)next_rand(38), scale = (int)next_rand(precision + 1);
		char g[84];
		memcpy(g, s, n);
		memcpy(g + n, "e0", 2);
		dec128 a = 0, b = 0;
		struct err_msg ea, eb;
		int ra = dec_parse(s, n, precision, scale, &a, &ea);
		int rb = dec_parse(g, n + 2, precision, scale, &b, &eb);
		if (ra != rb || (ra == 0 && a != b)) {
			if (disagree++ < 5)
				printf("#   \"%.*s\" (%d,%d): %d vs %d\n", (int)n, s, precision,
				       scale, ra, rb);
		}
	}
	T_EQ_INT(disagree, 0);
}

static void test_fast_path_values(void)
{
	dec128 v;
	struct err_msg e;
	T_EQ_INT(dec_parse("282.3700", 8, 18, 6, &v, &e), 0);
	T_CHECK(v == 282370000);
	T_EQ_INT(dec_parse("-0.000001", 9, 18, 6, &v, &e), 0);
	T_CHECK(v == -1);
	T_EQ_INT(dec_parse("123456789012.345678", 19, 18, 6, &v, &e), 0);
	T_CHECK(v == (dec128)123456789012345678LL);
	T_EQ_INT(dec_parse("1234567890123", 13, 18, 6, &v, &e), -1);
	T_EQ_INT(dec_parse("1.0000001", 9, 18, 6, &v, &e), -1);
	T_EQ_INT(dec_parse("1.", 2, 18, 6, &v, &e), 0);
	T_CHECK(v == 1000000);
}

static void test_price_text_is_the_general_text(void)
{
	int disagree = 0;
	int64_t edges[] = {0,       1,       -1,        9,         10,
	                   999999,  1000000, -1000000,  1000001,   160070000,
	                   -500000, 5000000, INT64_MAX, INT64_MIN, INT64_MIN + 1};
	for (int i = 0; i < 2000000; i++) {
		int64_t v;
		if (i < (int)(sizeof edges / sizeof edges[0])) {
			v = edges[i];
		} else {
			/* Random magnitudes, and round ones with trailing zeros. */
			uint64_t u = (uint64_t)next_rand(1u << 31) << 33 ^
			             (uint64_t)next_rand(1u << 31) << 2 ^ next_rand(4);
			u >>= next_rand(64);
			if (next_rand(3) == 0)
				u = u / 1000 * 1000;
			v = next_rand(2) ? (int64_t)u : -(int64_t)(u >> 1);
		}
		char a[DEC_TEXT_MAX], b[DEC_TEXT_MAX];
		size_t na = dec6_format(v, a), nb = dec_format(v, 6, b);
		if (na != nb || strcmp(a, b) != 0) {
			if (disagree++ < 5)
				printf("#   %lld: \"%s\" vs \"%s\"\n", (long long)v, a, b);
		}
	}
	T_EQ_INT(disagree, 0);
}

int main(void)
{
	T_RUN(test_fast_path_agrees_with_the_general_one);
	T_RUN(test_fast_path_values);
	T_RUN(test_price_text_is_the_general_text);
	T_DONE();
}

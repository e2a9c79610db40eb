/* Unit tests for common/text/decimal: exact parsing, limits, shortest text. */
#include "text/decimal.h"
#include "t.h"

static int64_t p6(const char *s, int *rc)
{
	int64_t v = 0;
	struct err_msg e;
	*rc = dec6_parse(s, strlen(s), &v, &e);
	return v;
}

static void test_parse_plain(void)
{
	int rc;
	T_EQ_INT(p6("160.0700", &rc), 160070000);
	T_EQ_INT(rc, 0);
	T_EQ_INT(p6("-0.5", &rc), -500000);
	T_EQ_INT(p6("0", &rc), 0);
	T_EQ_INT(p6("-0", &rc), 0);
	T_EQ_INT(p6("+12", &rc), 12000000);
	T_EQ_INT(p6(".25", &rc), 250000);
	T_EQ_INT(p6("007.5", &rc), 7500000);
	T_EQ_INT(rc, 0);
}

static void test_parse_exponent(void)
{
	int rc;
	T_EQ_INT(p6("1e3", &rc), 1000000000);
	T_EQ_INT(rc, 0);
	T_EQ_INT(p6("1.5E-2", &rc), 15000);
	T_EQ_INT(p6("25e-6", &rc), 25);
	T_EQ_INT(p6("0e400", &rc), 0);
	T_EQ_INT(rc, 0);
}

static void test_values_a_double_would_round(void)
{
	int rc;
	/* 0.1 + 0.2 style values and 18-digit values are exact */
	T_EQ_INT(p6("0.300000", &rc), 300000);
	T_EQ_INT(p6("999999999999.999999", &rc), 999999999999999999LL);
	T_EQ_INT(rc, 0);
	T_EQ_INT(p6("-999999999999.999999", &rc), -999999999999999999LL);
	T_EQ_INT(p6("123456789012.345678", &rc), 123456789012345678LL);
	T_EQ_INT(rc, 0);
}

static void test_trailing_zeros_beyond_scale(void)
{
	int rc;
	T_EQ_INT(p6("1.50000000000", &rc), 1500000);
	T_EQ_INT(rc, 0);
	p6("1.0000001", &rc);
	T_EQ_INT(rc, -1);
}

static void test_rejects(void)
{
	int rc;
	struct err_msg e;
	int64_t v;
	const char *bad[] = {"",   "-",  ".",    "1e",  "1e+",      "abc", "1.2.3", "1,5",
	                     " 1", "1 ", "0x10", "NaN", "Infinity", "1e-", "--1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rc = dec6_parse(bad[i], strlen(bad[i]), &v, &e);
		if (rc != -1)
			printf("#   accepted \"%s\"\n", bad[i]);
		T_EQ_INT(rc, -1);
	}
	rc = dec6_parse("1000000000000", 13, &v, &e);
	T_EQ_INT(rc, -1);
	T_CHECK(strstr(e.text, "does not fit decimal(18,6)") != NULL);
	T_EQ_INT(e.status, EX_DATAERR);
	rc = dec6_parse("1e400", 5, &v, &e);
	T_EQ_INT(rc, -1);
	char many[200];
	memset(many, '9', sizeof many - 1);
	many[sizeof many - 1] = '\0';
	rc = dec6_parse(many, strlen(many), &v, &e);
	T_EQ_INT(rc, -1);
}

static void test_wide_decimals(void)
{
	dec128 v;
	struct err_msg e;
	const char *s = "-99999999999999999999.999999999999999999";
	T_EQ_INT(dec_parse(s, strlen(s), 38, 18, &v, &e), 0);
	char b[DEC_TEXT_MAX];
	dec_format(v, 18, b);
	T_EQ_STR(b, s);
	T_EQ_INT(dec_parse("12", 2, 38, 18, &v, &e), 0);
	dec_format_fixed(v, 18, b);
	T_EQ_STR(b, "12.000000000000000000");
	T_EQ_INT(dec_parse("0E-10", 5, 20, 10, &v, &e), 0);
	T_CHECK(v == 0);
	T_EQ_INT(dec_parse("123.45", 6, 4, 2, &v, &e), -1);
	T_EQ_INT(dec_parse("12.34", 5, 4, 2, &v, &e), 0);
}

static void test_format_shortest(void)
{
	char b[DEC_TEXT_MAX];
	dec6_format(160070000, b);
	T_EQ_STR(b, "160.07");
	dec6_format(-500000, b);
	T_EQ_STR(b, "-0.5");
	dec6_format(5000000, b);
	T_EQ_STR(b, "5");
	dec6_format(0, b);
	T_EQ_STR(b, "0");
	dec6_format(1, b);
	T_EQ_STR(b, "0.000001");
	dec6_format(INT64_MIN, b);
	T_EQ_STR(b, "-9223372036854.775808");
	dec_format_fixed(-5678, 5, b);
	T_EQ_STR(b, "-0.05678");
	dec_format(1200, 0, b);
	T_EQ_STR(b, "1200");
}

static void test_round_trip(void)
{
	/* every printed value parses back to itself */
	int64_t vals[] = {0,
	                  1,
	                  -1,
	                  999999,
	                  1000000,
	                  123456789,
	                  -987654321012LL,
	                  999999999999999999LL,
	                  -999999999999999999LL,
	                  100};
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		char b[DEC_TEXT_MAX];
		size_t n = dec6_format(vals[i], b);
		int64_t back;
		struct err_msg e;
		T_EQ_INT(dec6_parse(b, n, &back, &e), 0);
		T_EQ_INT(back, vals[i]);
	}
}

int main(void)
{
	T_RUN(test_parse_plain);
	T_RUN(test_parse_exponent);
	T_RUN(test_values_a_double_would_round);
	T_RUN(test_trailing_zeros_beyond_scale);
	T_RUN(test_rejects);
	T_RUN(test_wide_decimals);
	T_RUN(test_format_shortest);
	T_RUN(test_round_trip);
	T_DONE();
}

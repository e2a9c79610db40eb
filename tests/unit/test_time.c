/* Unit tests for common/text/ts and common/text/tz: calendar, RFC 3339, DST edges. */
#include "t.h"
#include "text/ts.h"
#include "text/tz.h"

static void test_civil_round_trip(void)
{
	T_EQ_INT(ts_days_from_civil(1970, 1, 1), 0);
	T_EQ_INT(ts_days_from_civil(2000, 3, 1), 11017);
	T_EQ_INT(ts_days_from_civil(1969, 12, 31), -1);
	T_EQ_INT(ts_days_from_civil(1, 1, 1), -719162);
	T_EQ_INT(ts_days_from_civil(9999, 12, 31), 2932896);
	for (int64_t d = -800000; d < 3000000; d += 37) {
		int y, m, dd;
		ts_civil_from_days(d, &y, &m, &dd);
		if (ts_days_from_civil(y, m, dd) != d) {
			T_CHECK(!"round trip");
			break;
		}
	}
	T_EQ_INT(ts_weekday(0), 4);
	T_EQ_INT(ts_weekday(ts_days_from_civil(2024, 3, 10)), 0);
	T_EQ_INT(ts_days_in_month(2024, 2), 29);
	T_EQ_INT(ts_days_in_month(1900, 2), 28);
	T_EQ_INT(ts_days_in_month(2000, 2), 29);
}

static void test_rfc3339_parse(void)
{
	int64_t us;
	T_EQ_INT(ts_parse_rfc3339("2024-03-08T14:00:00Z", 20, &us), 0);
	T_EQ_INT(us, 1709906400LL * 1000000);
	T_EQ_INT(ts_parse_rfc3339("2024-03-08 09:00:00.5-05:00", 27, &us), 0);
	T_EQ_INT(us, 1709906400LL * 1000000 + 500000);
	T_EQ_INT(ts_parse_rfc3339("1969-12-31T23:59:59.999999Z", 27, &us), 0);
	T_EQ_INT(us, -1);
	T_EQ_INT(ts_parse_rfc3339("2024-03-08T14:00:00.123456000Z", 30, &us), 0);
	T_EQ_INT(us % 1000000, 123456);
	/* sub-microsecond digits that are not zero would be lost */
	T_EQ_INT(ts_parse_rfc3339("2024-03-08T14:00:00.1234567Z", 28, &us), -1);
	T_EQ_INT(ts_parse_rfc3339("2024-02-30T14:00:00Z", 20, &us), -1);
	T_EQ_INT(ts_parse_rfc3339("2024-03-08T24:00:00Z", 20, &us), -1);
	T_EQ_INT(ts_parse_rfc3339("2024-03-08T14:00:00", 19, &us), -1);
	T_EQ_INT(ts_parse_rfc3339("2024-03-08T14:00:00+0500", 24, &us), -1);
	T_EQ_INT(ts_parse_rfc3339("2024-03-08T14:00:00Zx", 21, &us), -1);
	T_EQ_INT(ts_parse_rfc3339("2024-03-08T14:00:00.Z", 21, &us), -1);
}

static void test_rfc3339_format(void)
{
	char b[TS_TEXT_MAX];
	ts_format_rfc3339(1709906400LL * 1000000, b);
	T_EQ_STR(b, "2024-03-08T14:00:00Z");
	ts_format_rfc3339(-1, b);
	T_EQ_STR(b, "1969-12-31T23:59:59.999999Z");
	ts_format_rfc3339(1000001, b);
	T_EQ_STR(b, "1970-01-01T00:00:01.000001Z");
	ts_format_rfc3339_ms(1709906400LL * 1000000 + 999999, b);
	T_EQ_STR(b, "2024-03-08T14:00:00.999Z");
	ts_format_rfc3339_ms(-1, b);
	T_EQ_STR(b, "1969-12-31T23:59:59.999Z");
	int64_t us;
	const char *s = "2031-07-04T01:02:03.040506Z";
	T_EQ_INT(ts_parse_rfc3339(s, strlen(s), &us), 0);
	ts_format_rfc3339(us, b);
	T_EQ_STR(b, s);
}

static void test_dates_and_naive(void)
{
	int32_t d;
	char b[16];
	T_EQ_INT(ts_parse_date("2024-03-08", 10, &d), 0);
	ts_format_date(d, b);
	T_EQ_STR(b, "2024-03-08");
	T_EQ_INT(ts_parse_date("1900-01-01", 10, &d), 0);
	T_EQ_INT(d, -25567);
	T_EQ_INT(ts_parse_date("2023-02-29", 10, &d), -1);
	T_EQ_INT(ts_parse_date("2023-2-28", 9, &d), -1);
	struct ts_civil c;
	T_EQ_INT(ts_parse_naive("2025-06-17 11:20:00", 19, &c), 0);
	T_EQ_INT(c.hour, 11);
	T_EQ_INT(ts_parse_naive("2025-06-17", 10, &c), 0);
	T_EQ_INT(c.hour, 0);
	T_EQ_INT(ts_parse_naive("2025-06-17T11:20:00", 19, &c), -1);
	T_EQ_INT(ts_parse_naive("2025-06-17 11:60:00", 19, &c), -1);
}

static void test_durations(void)
{
	int64_t us;
	T_EQ_INT(ts_parse_duration("5m", &us), 0);
	T_EQ_INT(us, 300000000);
	T_EQ_INT(ts_parse_duration("1d6h", &us), 0);
	T_EQ_INT(us, 30LL * 3600 * 1000000);
	T_EQ_INT(ts_parse_duration("250ms", &us), 0);
	T_EQ_INT(us, 250000);
	T_EQ_INT(ts_parse_duration("", &us), -1);
	T_EQ_INT(ts_parse_duration("5", &us), -1);
	T_EQ_INT(ts_parse_duration("5x", &us), -1);
	T_EQ_INT(ts_parse_duration("m", &us), -1);
	T_EQ_INT(ts_parse_duration("999999999d", &us), -1);
}

static int64_t local(const char *s)
{
	struct ts_civil c;
	if (ts_parse_naive(s, strlen(s), &c) < 0)
		return -1;
	return ts_civil_to_seconds(&c);
}

static void check_utc(const struct tz *z, const char *wall, int want_rc, const char *want)
{
	int64_t utc = 0;
	int rc = tz_local_to_utc(z, local(wall), &utc);
	T_EQ_INT(rc, want_rc);
	if (want) {
		char b[TS_TEXT_MAX];
		ts_format_rfc3339(utc * 1000000, b);
		if (strcmp(b, want) != 0)
			printf("#   %s -> %s, want %s\n", wall, b, want);
		T_EQ_STR(b, want);
	}
}

static void test_eastern_dst_spring_forward(void)
{
	struct err_msg e;
	struct tz *z = tz_load("US/Eastern", &e);
	T_CHECK(z != NULL);
	if (!z)
		return;
	check_utc(z, "2024-03-08 04:00:00", TZ_OK, "2024-03-08T09:00:00Z");
	check_utc(z, "2024-03-08 19:00:00", TZ_OK, "2024-03-09T00:00:00Z");
	check_utc(z, "2024-03-10 01:59:59", TZ_OK, "2024-03-10T06:59:59Z");
	check_utc(z, "2024-03-10 02:00:00", TZ_NONEXISTENT, NULL);
	check_utc(z, "2024-03-10 02:30:00", TZ_NONEXISTENT, NULL);
	check_utc(z, "2024-03-10 03:00:00", TZ_OK, "2024-03-10T07:00:00Z");
	check_utc(z, "2024-03-11 09:00:00", TZ_OK, "2024-03-11T13:00:00Z");
	/* a date beyond the file's last transition follows the footer rule */
	check_utc(z, "2099-07-01 12:00:00", TZ_OK, "2099-07-01T16:00:00Z");
	check_utc(z, "2099-03-08 02:30:00", TZ_NONEXISTENT, NULL);
	tz_free(z);
}

static void test_eastern_dst_fall_back(void)
{
	struct err_msg e;
	struct tz *z = tz_load("America/New_York", &e);
	T_CHECK(z != NULL);
	if (!z)
		return;
	check_utc(z, "2024-11-03 00:59:59", TZ_OK, "2024-11-03T04:59:59Z");
	/* the repeated hour: the first occurrence, still on daylight time */
	check_utc(z, "2024-11-03 01:00:00", TZ_REPEATED, "2024-11-03T05:00:00Z");
	check_utc(z, "2024-11-03 01:59:59", TZ_REPEATED, "2024-11-03T05:59:59Z");
	check_utc(z, "2024-11-03 02:00:00", TZ_OK, "2024-11-03T07:00:00Z");
	check_utc(z, "2025-11-02 01:30:00", TZ_REPEATED, "2025-11-02T05:30:00Z");
	check_utc(z, "2099-11-01 01:30:00", TZ_REPEATED, "2099-11-01T05:30:00Z");
	tz_free(z);
}

static void test_local_date(void)
{
	struct err_msg e;
	struct tz *z = tz_load("US/Eastern", &e);
	T_CHECK(z != NULL);
	if (!z)
		return;
	int64_t us;
	ts_parse_rfc3339("2024-03-09T00:00:00Z", 20, &us);
	char b[16];
	ts_format_date(tz_local_date(z, us), b);
	T_EQ_STR(b, "2024-03-08");
	ts_parse_rfc3339("2024-03-09T05:00:00Z", 20, &us);
	ts_format_date(tz_local_date(z, us), b);
	T_EQ_STR(b, "2024-03-09");
	tz_free(z);
}

static void test_southern_hemisphere_and_utc(void)
{
	struct err_msg e;
	struct tz *z = tz_load("Australia/Sydney", &e);
	T_CHECK(z != NULL);
	if (z) {
		/* AEDT (UTC+11) in January, AEST (UTC+10) in July, also past 2037 */
		check_utc(z, "2090-01-15 12:00:00", TZ_OK, "2090-01-15T01:00:00Z");
		check_utc(z, "2090-07-15 12:00:00", TZ_OK, "2090-07-15T02:00:00Z");
		tz_free(z);
	}
	z = tz_load("UTC", &e);
	T_CHECK(z != NULL);
	if (z) {
		check_utc(z, "2024-03-10 02:30:00", TZ_OK, "2024-03-10T02:30:00Z");
		tz_free(z);
	}
}

static void test_bad_zone_names(void)
{
	struct err_msg e;
	T_CHECK(tz_load("Nowhere/Atlantis", &e) == NULL);
	T_EQ_INT(e.status, EX_CONFIG);
	T_CHECK(strstr(e.text, "Nowhere/Atlantis") != NULL);
	T_CHECK(tz_load("../../etc/passwd", &e) == NULL);
	T_CHECK(tz_load("", &e) == NULL);
}

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static int64_t next_rand(int64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (int64_t)(rng % (uint64_t)n);
}

/*
 * Convert count local times from `start`, each `step` seconds after the
 * last (or a random jump when step is 0), with a memo and without; the
 * number of disagreements.
 */
static int memo_run(const struct tz *z, struct tz_memo *m, int64_t start, int64_t step, int count)
{
	int bad = 0;
	int64_t local = start;
	for (int i = 0; i < count; i++) {
		int64_t a = 0, b = 0;
		int ra = tz_local_to_utc(z, local, &a);
		int rb = tz_local_to_utc_memo(z, m, local, &b);
		if (ra != rb || (ra != TZ_NONEXISTENT && a != b)) {
			if (bad++ < 3)
				printf("#   %s: local %lld: %d %lld vs memo %d %lld\n", tz_name(z),
				       (long long)local, ra, (long long)a, rb, (long long)b);
		}
		local = step ? local + step : start + next_rand(400LL * 366 * 86400);
	}
	return bad;
}

/*
 * A TZif file with no transitions, only the POSIX rule of its footer: every
 * instant is decided by the rule.
 */
static struct tz *rule_only_zone(const char *rule)
{
	unsigned char d[256] = {0};
	size_t n = 0;
	for (int block = 0; block < 2; block++) {
		memcpy(d + n, "TZif2", 5);
		d[n + 35] = 0; /* timecnt 0 */
		d[n + 39] = 1; /* typecnt 1 */
		d[n + 43] = 4; /* charcnt 4 */
		n += 44;
		n += 6; /* one type: offset 0, standard time */
		memcpy(d + n, "STD", 4);
		n += 4;
	}
	d[n++] = '\n';
	memcpy(d + n, rule, strlen(rule));
	n += strlen(rule);
	d[n++] = '\n';
	struct err_msg e;
	return tz_from_tzif(rule, d, n, &e);
}

static void test_memo_agrees_with_the_full_conversion(void)
{
	const char *names[] = {"America/New_York",
	                       "Australia/Sydney",
	                       "Europe/London",
	                       "Asia/Kolkata",
	                       "America/Santiago",
	                       "Pacific/Apia",
	                       "UTC"};
	struct tz *zones[9];
	size_t nz = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct err_msg e;
		zones[nz] = tz_load(names[i], &e);
		T_CHECK(zones[nz] != NULL);
		if (zones[nz])
			nz++;
	}
	zones[nz] = rule_only_zone("EST5EDT,M3.2.0,M11.1.0");
	T_CHECK(zones[nz] != NULL);
	if (zones[nz])
		nz++;
	zones[nz] = rule_only_zone("<-03>3<-02>,M3.5.0/-2,M10.5.0/-1");
	T_CHECK(zones[nz] != NULL);
	if (zones[nz])
		nz++;
	int bad = 0;
	int64_t y1900 = ts_days_from_civil(1900, 1, 1) * 86400;
	for (size_t i = 0; i < nz; i++) {
		struct tz_memo m = TZ_MEMO_INIT;
		/* Five-minute bars across whole years, old and new, over every change and New Year. */
		int years[] = {1918, 1970, 2007, 2024, 2025, 2036, 2037, 2038, 2099};
		for (size_t k = 0; k < sizeof years / sizeof years[0]; k++)
			bad += memo_run(zones[i], &m,
			                ts_days_from_civil(years[k], 1, 1) * 86400 - 3600, 300,
			                366 * 24 * 12 + 24);
		/* Backwards, and in odd steps. */
		bad += memo_run(zones[i], &m, ts_days_from_civil(2026, 1, 1) * 86400, -60,
		                366 * 24 * 60 / 4);
		bad += memo_run(zones[i], &m, ts_days_from_civil(2020, 1, 1) * 86400, 4637, 20000);
		/* Random times from 1900 on, one memo shared. */
		bad += memo_run(zones[i], &m, y1900, 0, 200000);
	}
	/* One memo for several zones, in turns. */
	struct tz_memo m = TZ_MEMO_INIT;
	for (int k = 0; k < 20000; k++)
		bad += memo_run(zones[k % nz], &m, y1900 + next_rand(200LL * 366 * 86400), 60, 5);
	T_EQ_INT(bad, 0);
	for (size_t i = 0; i < nz; i++)
		tz_free(zones[i]);
}

int main(void)
{
	T_RUN(test_civil_round_trip);
	T_RUN(test_rfc3339_parse);
	T_RUN(test_rfc3339_format);
	T_RUN(test_dates_and_naive);
	T_RUN(test_durations);
	T_RUN(test_eastern_dst_spring_forward);
	T_RUN(test_eastern_dst_fall_back);
	T_RUN(test_local_date);
	T_RUN(test_southern_hemisphere_and_utc);
	T_RUN(test_bad_zone_names);
	T_RUN(test_memo_agrees_with_the_full_conversion);
	T_DONE();
}

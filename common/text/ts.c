/*
 * ts: civil-from-days and days-from-civil use the era arithmetic (400-year
 * cycles of 146097 days) so that they are exact over the whole int32 range
 * of days without tables.  Text parsing is hand-written: it is on the hot
 * path of every timestamp column and must reject rather than guess.
 */
#include "text/ts.h"

#include <string.h>
#include <time.h>

int64_t ts_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

int64_t ts_days_from_civil(int y, int m, int d)
{
	int64_t yy = (int64_t)y - (m <= 2);
	int64_t era = ts_floor_div(yy, 400);
	int64_t yoe = yy - era * 400;
	int64_t mp = (m + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void ts_civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = ts_floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t dd = doy - (153 * mp + 2) / 5 + 1;
	int64_t mm = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yy + (mm <= 2));
	*m = (int)mm;
	*d = (int)dd;
}

int ts_weekday(int64_t days)
{
	/* 1970-01-01 was a Thursday. */
	int64_t w = (days + 4) % 7;
	return (int)(w < 0 ? w + 7 : w);
}

static int ts_is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int ts_days_in_month(int y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m < 1 || m > 12)
		return 0;
	return m == 2 && ts_is_leap(y) ? 29 : dim[m - 1];
}

/* Read exactly w digits at s. */
static int ts_digits(const char *s, int w, int *out)
{
	int v = 0;
	for (int i = 0; i < w; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int ts_parse_ymd(const char *s, size_t n, int *y, int *m, int *d)
{
	if (n < 10 || s[4] != '-' || s[7] != '-')
		return -1;
	if (ts_digits(s, 4, y) || ts_digits(s + 5, 2, m) || ts_digits(s + 8, 2, d))
		return -1;
	if (*y < 1 || *m < 1 || *m > 12 || *d < 1 || *d > ts_days_in_month(*y, *m))
		return -1;
	return 0;
}

/* Fractional seconds ".d+" at s: microseconds, extra digits must be 0. */
static int ts_parse_frac(const char *s, const char *end, const char **next, int32_t *micro)
{
	int32_t v = 0;
	int nd = 0;
	const char *p = s;
	while (p < end && *p >= '0' && *p <= '9') {
		if (nd < 6)
			v = v * 10 + (*p - '0');
		else if (*p != '0')
			return -1;
		nd++;
		p++;
	}
	if (nd == 0)
		return -1;
	for (int i = nd; i < 6; i++)
		v *= 10;
	*micro = v;
	*next = p;
	return 0;
}

int ts_parse_rfc3339(const char *s, size_t n, int64_t *us)
{
	int y, mo, d, h, mi, se;
	if (ts_parse_ymd(s, n, &y, &mo, &d) < 0 || n < 20)
		return -1;
	if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
		return -1;
	if (s[13] != ':' || s[16] != ':')
		return -1;
	if (ts_digits(s + 11, 2, &h) || ts_digits(s + 14, 2, &mi) || ts_digits(s + 17, 2, &se))
		return -1;
	if (h > 23 || mi > 59 || se > 59)
		return -1;
	const char *p = s + 19, *end = s + n;
	int32_t micro = 0;
	if (p < end && *p == '.' && ts_parse_frac(p + 1, end, &p, &micro) < 0)
		return -1;
	if (p >= end)
		return -1;
	int64_t off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (end - p != 6 || p[3] != ':' || ts_digits(p + 1, 2, &oh) ||
		    ts_digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (p != end)
		return -1;
	int64_t secs = ts_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
	*us = secs * TS_US_PER_SEC + micro;
	return 0;
}

static char *ts_put2(char *o, int v)
{
	o[0] = (char)('0' + v / 10);
	o[1] = (char)('0' + v % 10);
	return o + 2;
}

static char *ts_put_date(char *o, int64_t days)
{
	int y, m, d;
	ts_civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999) {
		/* Outside RFC 3339's range; keep the text unambiguous anyway. */
		int n = 0;
		char tmp[16];
		int64_t a = y < 0 ? -(int64_t)y : y;
		do {
			tmp[n++] = (char)('0' + a % 10);
			a /= 10;
		} while (a);
		if (y < 0)
			*o++ = '-';
		while (n < 4)
			tmp[n++] = '0';
		while (n)
			*o++ = tmp[--n];
	} else {
		o = ts_put2(o, y / 100);
		o = ts_put2(o, y % 100);
	}
	*o++ = '-';
	o = ts_put2(o, m);
	*o++ = '-';
	return ts_put2(o, d);
}

/* The date of `days` at o, from the memo m (when not NULL) if it holds that day. */
static char *ts_put_date_memo(char *o, int64_t days, struct ts_memo *m)
{
	if (!m)
		return ts_put_date(o, days);
	if (!m->known || m->days != days) {
		m->len = (uint8_t)(ts_put_date(m->text, days) - m->text);
		m->days = days;
		m->known = 1;
	}
	memcpy(o, m->text, m->len);
	return o + m->len;
}

static size_t ts_format(int64_t us, char *out, int frac_digits, struct ts_memo *m)
{
	int64_t days = ts_floor_div(us, TS_US_PER_DAY);
	int64_t rem = us - days * TS_US_PER_DAY;
	int64_t secs = rem / TS_US_PER_SEC;
	int32_t micro = (int32_t)(rem % TS_US_PER_SEC);
	char *o = ts_put_date_memo(out, days, m);
	*o++ = 'T';
	o = ts_put2(o, (int)(secs / 3600));
	*o++ = ':';
	o = ts_put2(o, (int)(secs / 60 % 60));
	*o++ = ':';
	o = ts_put2(o, (int)(secs % 60));
	if (frac_digits < 0)
		frac_digits = micro ? 6 : 0;
	if (frac_digits > 0) {
		*o++ = '.';
		int32_t v = micro;
		char f[6];
		for (int i = 5; i >= 0; i--) {
			f[i] = (char)('0' + v % 10);
			v /= 10;
		}
		memcpy(o, f, (size_t)frac_digits);
		o += frac_digits;
	}
	*o++ = 'Z';
	*o = '\0';
	return (size_t)(o - out);
}

size_t ts_format_rfc3339(int64_t us, char *out)
{
	return ts_format(us, out, -1, NULL);
}

size_t ts_format_rfc3339_memo(int64_t us, struct ts_memo *m, char *out)
{
	return ts_format(us, out, -1, m);
}

size_t ts_format_rfc3339_ms(int64_t us, char *out)
{
	/* Truncate toward the past so that a stored maximum never exceeds the data. */
	int64_t ms = ts_floor_div(us, 1000) * 1000;
	return ts_format(ms, out, 3, NULL);
}

int ts_parse_date(const char *s, size_t n, int32_t *days)
{
	int y, m, d;
	if (n != 10 || ts_parse_ymd(s, n, &y, &m, &d) < 0)
		return -1;
	*days = (int32_t)ts_days_from_civil(y, m, d);
	return 0;
}

size_t ts_format_date(int64_t days, char *out)
{
	char *o = ts_put_date(out, days);
	*o = '\0';
	return (size_t)(o - out);
}

size_t ts_format_date_memo(int64_t days, struct ts_memo *m, char *out)
{
	char *o = ts_put_date_memo(out, days, m);
	*o = '\0';
	return (size_t)(o - out);
}

int ts_parse_naive(const char *s, size_t n, struct ts_civil *c)
{
	memset(c, 0, sizeof *c);
	if (ts_parse_ymd(s, n, &c->year, &c->month, &c->day) < 0)
		return -1;
	if (n == 10)
		return 0;
	if (n != 19 || s[10] != ' ' || s[13] != ':' || s[16] != ':')
		return -1;
	if (ts_digits(s + 11, 2, &c->hour) || ts_digits(s + 14, 2, &c->minute) ||
	    ts_digits(s + 17, 2, &c->second))
		return -1;
	if (c->hour > 23 || c->minute > 59 || c->second > 59)
		return -1;
	return 0;
}

int64_t ts_civil_to_seconds(const struct ts_civil *c)
{
	return ts_days_from_civil(c->year, c->month, c->day) * 86400 + c->hour * 3600 +
	       c->minute * 60 + c->second;
}

int ts_parse_duration(const char *s, int64_t *us)
{
	int64_t total = 0;
	const char *p = s;
	if (!*p)
		return -1;
	while (*p) {
		int64_t v = 0;
		int nd = 0;
		while (*p >= '0' && *p <= '9') {
			if (v > 1000000000LL)
				return -1;
			v = v * 10 + (*p++ - '0');
			nd++;
		}
		if (!nd)
			return -1;
		int64_t unit;
		if (p[0] == 'm' && p[1] == 's') {
			unit = 1000;
			p += 2;
		} else if (*p == 'd') {
			unit = TS_US_PER_DAY;
			p++;
		} else if (*p == 'h') {
			unit = 3600 * TS_US_PER_SEC;
			p++;
		} else if (*p == 'm') {
			unit = 60 * TS_US_PER_SEC;
			p++;
		} else if (*p == 's') {
			unit = TS_US_PER_SEC;
			p++;
		} else {
			return -1;
		}
		if (v > INT64_MAX / unit || total > INT64_MAX - v * unit)
			return -1;
		total += v * unit;
	}
	*us = total;
	return 0;
}

int64_t ts_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * TS_US_PER_SEC + t.tv_nsec / 1000;
}

int64_t ts_monotonic(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * TS_US_PER_SEC + t.tv_nsec / 1000;
}

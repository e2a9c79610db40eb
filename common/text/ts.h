/*
 * ts: calendar arithmetic and the text forms of instants and dates.
 *
 * An instant is a count of microseconds since 1970-01-01T00:00:00Z (int64,
 * proleptic Gregorian calendar, no leap seconds), a date a count of days
 * since 1970-01-01 (int32).  Years 0001..9999 are accepted in text.
 */
#ifndef STOCKETL_TS_H
#define STOCKETL_TS_H

#include <stddef.h>
#include <stdint.h>

#define TS_US_PER_SEC 1000000LL
#define TS_US_PER_DAY 86400000000LL
#define TS_TEXT_MAX   40

/* A naive wall-clock time, as the Alpha Vantage API writes them. */
struct ts_civil {
	int year, month, day, hour, minute, second;
	int32_t micro;
};

int64_t ts_days_from_civil(int y, int m, int d);
void ts_civil_from_days(int64_t days, int *y, int *m, int *d);
/* 0 Sunday .. 6 Saturday */
int ts_weekday(int64_t days);
int ts_days_in_month(int y, int m);

/* Floor division helpers for negative instants. */
int64_t ts_floor_div(int64_t a, int64_t b);

/*
 * Parse an RFC 3339 date-time ("2024-03-08T14:00:00Z",
 * "2024-03-08T09:00:00.5-05:00"; 'T', 't' or a space between date and time,
 * 'Z' or 'z' or a numeric offset) into microseconds since the epoch.  More
 * than six fractional digits are accepted only when the extra ones are
 * zeros.  Returns 0, or -1 when the text is not such a date-time.
 */
int ts_parse_rfc3339(const char *s, size_t n, int64_t *us);

/* "YYYY-MM-DDTHH:MM:SSZ", with ".ffffff" when the microseconds are not 0. */
size_t ts_format_rfc3339(int64_t us, char *out);
/* "YYYY-MM-DDTHH:MM:SS.mmmZ": milliseconds truncated toward the past (Delta stats). */
size_t ts_format_rfc3339_ms(int64_t us, char *out);

/* "YYYY-MM-DD" <-> days since the epoch. */
int ts_parse_date(const char *s, size_t n, int32_t *days);
size_t ts_format_date(int64_t days, char *out);

/*
 * For runs of instants or dates that share their day (the bars of a day,
 * the ingested_at of a response's ticks): the text of the last date
 * written, so that the calendar is worked out once a day.  Start it zeroed
 * (TS_MEMO_INIT).  The _memo forms write the same text as the others.
 */
struct ts_memo {
	int64_t days;
	char text[24]; /* the date's text (years far outside 1..9999 make it longer) */
	uint8_t len;
	uint8_t known;
};
#define TS_MEMO_INIT                                                                               \
	{                                                                                          \
		0, {0}, 0, 0                                                                       \
	}
size_t ts_format_rfc3339_memo(int64_t us, struct ts_memo *m, char *out);
size_t ts_format_date_memo(int64_t days, struct ts_memo *m, char *out);

/*
 * Parse a naive "YYYY-MM-DD HH:MM:SS" (or "YYYY-MM-DD", midnight) and check
 * that every field is in range.  Returns 0 or -1.
 */
int ts_parse_naive(const char *s, size_t n, struct ts_civil *c);
/* Seconds since the epoch of a civil time read as if it were UTC. */
int64_t ts_civil_to_seconds(const struct ts_civil *c);

/*
 * Parse a duration: one or more <number><unit> parts, unit d, h, m, s or ms
 * ("5m", "1h30m", "1d6h", "90s", "250ms").  Returns 0 or -1.
 */
int ts_parse_duration(const char *s, int64_t *us);

/* The current time, microseconds since the epoch (CLOCK_REALTIME). */
int64_t ts_now(void);
/* A monotonic clock in microseconds, for intervals. */
int64_t ts_monotonic(void);

#endif

/*
 * tz: a reader for TZif files (RFC 8536) versions 1 to 4.  Only the 64-bit
 * data block is used when present; leap-second records are skipped (the
 * project's instants have no leap seconds).  The footer's POSIX TZ string
 * ("EST5EDT,M3.2.0,M11.1.0") is parsed into a rule evaluated per year.
 * Both answer an offset with the span around the instant over which it
 * holds, which lets a memo convert runs of local times by subtraction.
 */
#include "text/tz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/ts.h"

#define TZ_FILE_MAX (1 << 20)

/* One endpoint of a POSIX daylight-saving rule. */
struct tz_rule_date {
	char kind; /* 'M' month/week/day, 'J' julian 1..365 without Feb 29, 'N' zero-based day */
	int month, week, wday, day;
	int32_t time; /* seconds after local midnight; may be negative or > 24h */
};

struct tz_posix {
	int valid;
	int has_dst;
	int32_t std_off; /* seconds east of UTC */
	int32_t dst_off;
	struct tz_rule_date start, end;
};

struct tz {
	char name[128];
	size_t ntrans;
	int64_t *trans;    /* transition instants, ascending */
	int32_t *off_at;   /* offset in effect from trans[i] */
	int32_t first_off; /* offset before the first transition */
	struct tz_posix rule;
};

static uint32_t tz_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t tz_be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)tz_be32(p) << 32 | tz_be32(p + 4));
}

/* POSIX TZ string parsing ------------------------------------------------- */

static const char *tz_posix_name(const char *p)
{
	if (*p == '<') {
		while (*p && *p != '>')
			p++;
		return *p == '>' ? p + 1 : NULL;
	}
	const char *s = p;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
		p++;
	return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] -> seconds; hours up to 167 for rule times. */
static const char *tz_posix_time(const char *p, int32_t *out)
{
	int sign = 1;
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	int32_t parts[3] = {0, 0, 0};
	for (int i = 0; i < 3; i++) {
		if (*p < '0' || *p > '9')
			return i == 0 ? NULL : p;
		int32_t v = 0;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (*p++ - '0');
			if (v > 999)
				return NULL; /* POSIX allows hours up to 167, minutes/seconds to 59 */
		}
		parts[i] = v;
		if (*p != ':')
			break;
		p++;
	}
	*out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
	return p;
}

static const char *tz_posix_int(const char *p, int *out)
{
	if (*p < '0' || *p > '9')
		return NULL;
	int v = 0;
	while (*p >= '0' && *p <= '9' && v < 100000)
		v = v * 10 + (*p++ - '0');
	*out = v;
	return p;
}

static const char *tz_posix_date(const char *p, struct tz_rule_date *d)
{
	memset(d, 0, sizeof *d);
	d->time = 7200;
	if (*p == 'M') {
		d->kind = 'M';
		if (!(p = tz_posix_int(p + 1, &d->month)) || *p++ != '.' ||
		    !(p = tz_posix_int(p, &d->week)) || *p++ != '.' ||
		    !(p = tz_posix_int(p, &d->wday)))
			return NULL;
		if (d->month < 1 || d->month > 12 || d->week < 1 || d->week > 5 || d->wday > 6)
			return NULL;
	} else if (*p == 'J') {
		d->kind = 'J';
		if (!(p = tz_posix_int(p + 1, &d->day)) || d->day < 1 || d->day > 365)
			return NULL;
	} else {
		d->kind = 'N';
		if (!(p = tz_posix_int(p, &d->day)) || d->day > 365)
			return NULL;
	}
	if (*p == '/' && !(p = tz_posix_time(p + 1, &d->time)))
		return NULL;
	return p;
}

static int tz_posix_parse(const char *s, struct tz_posix *r)
{
	memset(r, 0, sizeof *r);
	const char *p = tz_posix_name(s);
	int32_t t;
	if (!p || !(p = tz_posix_time(p, &t)))
		return -1;
	r->std_off = -t;
	if (*p == '\0') {
		r->valid = 1;
		return 0;
	}
	if (!(p = tz_posix_name(p)))
		return -1;
	r->dst_off = r->std_off + 3600;
	if (*p && *p != ',') {
		if (!(p = tz_posix_time(p, &t)))
			return -1;
		r->dst_off = -t;
	}
	if (*p != ',')
		return -1; /* no rule: unusual, refuse rather than guess */
	if (!(p = tz_posix_date(p + 1, &r->start)) || *p != ',' ||
	    !(p = tz_posix_date(p + 1, &r->end)) || *p != '\0')
		return -1;
	r->has_dst = 1;
	r->valid = 1;
	return 0;
}

/* Days since the epoch of a rule date in year y. */
static int64_t tz_rule_day(const struct tz_rule_date *d, int y)
{
	if (d->kind == 'J') {
		int64_t day = ts_days_from_civil(y, 1, 1) + d->day - 1;
		int leap = ts_days_in_month(y, 2) == 29;
		if (leap && d->day >= 60)
			day++;
		return day;
	}
	if (d->kind == 'N')
		return ts_days_from_civil(y, 1, 1) + d->day;
	int64_t first = ts_days_from_civil(y, d->month, 1);
	int delta = (d->wday - ts_weekday(first) + 7) % 7;
	int64_t day = first + delta + (int64_t)(d->week - 1) * 7;
	int64_t last = first + ts_days_in_month(y, d->month) - 1;
	while (day > last)
		day -= 7;
	return day;
}

/* Bounds of a span that has no end on that side (far beyond any time in text). */
#define TZ_SPAN_MIN (-(INT64_C(1) << 60))
#define TZ_SPAN_MAX (INT64_C(1) << 60)

/*
 * The offset of rule r at the instant utc, and the span [*from, *until)
 * around it over which the offset is the same.  The span never leaves the
 * calendar year of utc: within a year the offset is a step function of the
 * changes computed for it, and the next year computes its own.
 */
static int32_t tz_posix_offset(const struct tz_posix *r, int64_t utc, int64_t *from, int64_t *until)
{
	if (!r->has_dst) {
		*from = TZ_SPAN_MIN;
		*until = TZ_SPAN_MAX;
		return r->std_off;
	}
	int y, m, d;
	ts_civil_from_days(ts_floor_div(utc, 86400), &y, &m, &d);
	/*
	 * The changes of the neighbouring years, in UTC, sorted: the latest one
	 * at or before utc decides.  Three years cover rules whose instants
	 * cross New Year and southern-hemisphere rules alike.
	 */
	int64_t at[6] = {0};
	int32_t off[6] = {0};
	int n = 0;
	for (int yy = y - 1; yy <= y + 1; yy++) {
		at[n] = tz_rule_day(&r->start, yy) * 86400 + r->start.time - r->std_off;
		off[n++] = r->dst_off;
		at[n] = tz_rule_day(&r->end, yy) * 86400 + r->end.time - r->dst_off;
		off[n++] = r->std_off;
	}
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && at[j - 1] > at[j]; j--) {
			int64_t ta = at[j];
			at[j] = at[j - 1];
			at[j - 1] = ta;
			int32_t to = off[j];
			off[j] = off[j - 1];
			off[j - 1] = to;
		}
	int32_t cur = off[0] == r->dst_off ? r->std_off : r->dst_off;
	*from = ts_days_from_civil(y, 1, 1) * 86400;
	*until = ts_days_from_civil(y + 1, 1, 1) * 86400;
	int i = 0;
	for (; i < n && at[i] <= utc; i++)
		cur = off[i];
	if (i > 0 && at[i - 1] > *from)
		*from = at[i - 1];
	if (i < n && at[i] < *until)
		*until = at[i];
	return cur;
}

/* TZif ------------------------------------------------------------------- */

static int tz_fail(struct err_msg *e, const char *path, const char *why)
{
	err_set(e, EX_CONFIG, "time zone file %s: %s", path, why);
	return -1;
}

/*
 * Parse one data block starting at p (header included).  With v1 times
 * (tsize 4) only the block's length is computed, so that the 64-bit block
 * that follows can be found.
 */
static int tz_parse_block(struct tz *z, const unsigned char *p, size_t n, int tsize, size_t *used,
                          const char *path, struct err_msg *e)
{
	if (n < 44 || memcmp(p, "TZif", 4) != 0)
		return tz_fail(e, path, "not a TZif file");
	uint32_t isutcnt = tz_be32(p + 20), isstdcnt = tz_be32(p + 24), leapcnt = tz_be32(p + 28);
	uint32_t timecnt = tz_be32(p + 32), typecnt = tz_be32(p + 36), charcnt = tz_be32(p + 40);
	if (typecnt == 0 || typecnt > 256 || timecnt > 100000 || leapcnt > 10000 ||
	    charcnt > 100000 || (isutcnt && isutcnt != typecnt) ||
	    (isstdcnt && isstdcnt != typecnt))
		return tz_fail(e, path, "bad header counts");
	size_t len = 44 + (size_t)timecnt * (size_t)tsize + timecnt + (size_t)typecnt * 6 +
	             charcnt + (size_t)leapcnt * (size_t)(tsize + 4) + isstdcnt + isutcnt;
	if (len > n)
		return tz_fail(e, path, "truncated");
	*used = len;
	if (tsize == 4)
		return 0;
	const unsigned char *tp = p + 44;
	const unsigned char *ip = tp + (size_t)timecnt * 8;
	const unsigned char *ty = ip + timecnt;
	int32_t offs[256];
	int isdst[256];
	for (uint32_t i = 0; i < typecnt; i++) {
		offs[i] = (int32_t)tz_be32(ty + i * 6);
		isdst[i] = ty[i * 6 + 4];
		if (offs[i] < -89999 || offs[i] > 93599)
			return tz_fail(e, path, "bad UTC offset");
	}
	z->ntrans = timecnt;
	z->trans = calloc(timecnt ? timecnt : 1, sizeof *z->trans);
	z->off_at = calloc(timecnt ? timecnt : 1, sizeof *z->off_at);
	if (!z->trans || !z->off_at)
		return tz_fail(e, path, "out of memory");
	for (uint32_t i = 0; i < timecnt; i++) {
		z->trans[i] = tz_be64(tp + (size_t)i * 8);
		if (ip[i] >= typecnt || (i && z->trans[i] <= z->trans[i - 1]))
			return tz_fail(e, path, "bad transition table");
		z->off_at[i] = offs[ip[i]];
	}
	/* Before the first transition: the first standard-time type (RFC 8536 3.2). */
	z->first_off = offs[0];
	for (uint32_t i = 0; i < typecnt; i++)
		if (!isdst[i]) {
			z->first_off = offs[i];
			break;
		}
	return 0;
}

struct tz *tz_from_tzif(const char *name, const unsigned char *data, size_t n, struct err_msg *e)
{
	struct tz *z = calloc(1, sizeof *z);
	size_t used = 0, used2 = 0;
	if (!z) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return NULL;
	}
	snprintf(z->name, sizeof z->name, "%s", name);
	if (n < 44 || memcmp(data, "TZif", 4) != 0) {
		tz_fail(e, name, "not a TZif file");
		goto fail;
	}
	if (data[4] == 0) {
		/* Version 1 files have no 64-bit block and no rule; every current tzdata has both. */
		tz_fail(e, name, "version 1 TZif files are not supported");
		goto fail;
	}
	if (tz_parse_block(z, data, n, 4, &used, name, e) < 0 ||
	    tz_parse_block(z, data + used, n - used, 8, &used2, name, e) < 0)
		goto fail;
	const unsigned char *f = data + used + used2;
	size_t left = n - used - used2;
	if (left >= 2 && f[0] == '\n') {
		const unsigned char *nl = memchr(f + 1, '\n', left - 1);
		if (nl && nl - f - 1 < 128 && nl > f + 1) {
			char rule[128];
			memcpy(rule, f + 1, (size_t)(nl - f - 1));
			rule[nl - f - 1] = '\0';
			if (tz_posix_parse(rule, &z->rule) < 0) {
				tz_fail(e, name, "unsupported TZ rule in footer");
				goto fail;
			}
		}
	}
	return z;
fail:
	tz_free(z);
	return NULL;
}

/*
 * The zones of the "US/" names, which Alpha Vantage states its equities'
 * times in ("6. Time Zone": "US/Eastern").  The time-zone database keeps
 * them only as backward-compatible links, and newer distributions ship
 * those in a package of their own (Debian's tzdata-legacy), so a system
 * may lack them while it has the zones they name.
 */
static const char *tz_backward(const char *name)
{
	static const char *const links[][2] = {
	    {"US/Alaska", "America/Anchorage"},
	    {"US/Aleutian", "America/Adak"},
	    {"US/Arizona", "America/Phoenix"},
	    {"US/Central", "America/Chicago"},
	    {"US/East-Indiana", "America/Indiana/Indianapolis"},
	    {"US/Eastern", "America/New_York"},
	    {"US/Hawaii", "Pacific/Honolulu"},
	    {"US/Indiana-Starke", "America/Indiana/Knox"},
	    {"US/Michigan", "America/Detroit"},
	    {"US/Mountain", "America/Denver"},
	    {"US/Pacific", "America/Los_Angeles"},
	    {"US/Samoa", "Pacific/Pago_Pago"},
	};
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
		if (strcmp(name, links[i][0]) == 0)
			return links[i][1];
	return NULL;
}

struct tz *tz_load(const char *name, struct err_msg *e)
{
	if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0 || strcmp(name, "Z") == 0) {
		struct tz *z = calloc(1, sizeof *z);
		if (!z) {
			err_set(e, EX_SOFTWARE, "out of memory");
			return NULL;
		}
		snprintf(z->name, sizeof z->name, "%s", name);
		z->rule.valid = 1;
		return z;
	}
	if (!*name || name[0] == '/' || strstr(name, "..") || strlen(name) > 100) {
		err_set(e, EX_CONFIG, "time zone \"%s\": not a zone name", name);
		return NULL;
	}
	const char *dir = getenv("TZDIR");
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
	FILE *fp = fopen(path, "rb");
	const char *canonical = fp ? NULL : tz_backward(name);
	if (!fp && errno == ENOENT && canonical) {
		char alt[512];
		snprintf(alt, sizeof alt, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo",
		         canonical);
		fp = fopen(alt, "rb");
		if (fp)
			memcpy(path, alt, sizeof path);
		else
			errno = ENOENT; /* said of the name asked for */
	}
	if (!fp) {
		err_set(e, EX_CONFIG, "time zone \"%s\": %s: %s", name, path, strerror(errno));
		return NULL;
	}
	unsigned char *data = malloc(TZ_FILE_MAX);
	size_t n = data ? fread(data, 1, TZ_FILE_MAX, fp) : 0;
	fclose(fp);
	if (!data) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return NULL;
	}
	struct tz *z = tz_from_tzif(path, data, n, e);
	if (z)
		snprintf(z->name, sizeof z->name, "%s", name);
	free(data);
	return z;
}

void tz_free(struct tz *z)
{
	if (!z)
		return;
	free(z->trans);
	free(z->off_at);
	free(z);
}

const char *tz_name(const struct tz *z)
{
	return z->name;
}

/*
 * The offset in effect at the instant utc, and a span [*from, *until) around
 * it over which it stays the same (not always the longest such span).
 */
static int32_t tz_offset_span(const struct tz *z, int64_t utc, int64_t *from, int64_t *until)
{
	*from = TZ_SPAN_MIN;
	*until = TZ_SPAN_MAX;
	if (z->ntrans == 0)
		return z->rule.valid ? tz_posix_offset(&z->rule, utc, from, until) : z->first_off;
	if (utc < z->trans[0]) {
		*until = z->trans[0];
		return z->first_off;
	}
	if (utc >= z->trans[z->ntrans - 1] && z->rule.valid) {
		int32_t off = tz_posix_offset(&z->rule, utc, from, until);
		if (*from < z->trans[z->ntrans - 1])
			*from = z->trans[z->ntrans - 1];
		return off;
	}
	size_t lo = 0, hi = z->ntrans; /* trans[lo] <= utc < trans[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->trans[mid] <= utc)
			lo = mid;
		else
			hi = mid;
	}
	*from = z->trans[lo];
	if (hi < z->ntrans)
		*until = z->trans[hi];
	return z->off_at[lo];
}

int32_t tz_offset(const struct tz *z, int64_t utc)
{
	int64_t from, until;
	return tz_offset_span(z, utc, &from, &until);
}

int tz_local_to_utc(const struct tz *z, int64_t local, int64_t *utc)
{
	/*
	 * Changes are months apart, so the offsets in force a day either side
	 * are the only candidates; each is kept if it maps back to the same
	 * wall-clock time.
	 */
	int32_t cand[2] = {tz_offset(z, local - 86400), tz_offset(z, local + 86400)};
	int64_t found[2];
	int nfound = 0;
	for (int i = 0; i < 2; i++) {
		if (i == 1 && cand[1] == cand[0])
			break;
		int64_t u = local - cand[i];
		if (tz_offset(z, u) == cand[i])
			found[nfound++] = u;
	}
	if (nfound == 0)
		return TZ_NONEXISTENT;
	if (nfound == 2 && found[1] != found[0]) {
		*utc = found[0] < found[1] ? found[0] : found[1];
		return TZ_REPEATED;
	}
	*utc = found[0];
	return TZ_OK;
}

/*
 * Far enough from both ends of an offset's span that every instant
 * tz_local_to_utc() looks at for a local time lies inside it: a day either
 * side, and the local time less an offset (at most 26 hours either way).
 */
#define TZ_MEMO_MARGIN (2 * 86400)

int tz_local_to_utc_memo(const struct tz *z, struct tz_memo *m, int64_t local, int64_t *utc)
{
	if (m->zone == z && local >= m->lo && local < m->hi) {
		*utc = local - m->off;
		return TZ_OK;
	}
	int rc = tz_local_to_utc(z, local, utc);
	if (rc != TZ_OK)
		return rc;
	int64_t from, until;
	int32_t off = tz_offset_span(z, *utc, &from, &until);
	/* Local times near this one that tz_local_to_utc() converts alone, with this offset. */
	m->zone = z;
	m->off = off;
	m->lo = from + TZ_MEMO_MARGIN;
	m->hi = until - TZ_MEMO_MARGIN;
	return rc;
}

int32_t tz_local_date(const struct tz *z, int64_t utc_us)
{
	int64_t s = ts_floor_div(utc_us, TS_US_PER_SEC);
	return (int32_t)ts_floor_div(s + tz_offset(z, s), 86400);
}

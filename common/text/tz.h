/*
 * tz: named time zones from the system time-zone database.
 *
 * A zone is loaded once from its TZif file ($TZDIR, else
 * /usr/share/zoneinfo) and answers two questions fast: the UTC offset in
 * effect at an instant, and the instant of a naive local wall-clock time.
 * Instants past the last transition in the file follow the POSIX TZ rule in
 * the file's footer, so slim and fat builds of the database agree.
 *
 * Local to UTC, across daylight-saving changes:
 *  - a wall-clock time that occurs once converts to that instant;
 *  - a time in the repeated hour (the fall-back change) occurs twice; the
 *    earlier instant (the first occurrence, still on daylight time) is
 *    chosen and TZ_REPEATED is returned so that callers can count it;
 *  - a time in the skipped hour (the spring-forward change) never occurs;
 *    TZ_NONEXISTENT is returned and no instant is produced.
 */
#ifndef STOCKETL_TZ_H
#define STOCKETL_TZ_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct tz;

enum tz_result { TZ_OK = 0, TZ_REPEATED = 1, TZ_NONEXISTENT = -1 };

/* Load a zone by name ("US/Eastern", "America/New_York", "UTC"). NULL + e on failure. */
struct tz *tz_load(const char *name, struct err_msg *e);
/* Parse TZif data in memory; name is used in messages. */
struct tz *tz_from_tzif(const char *name, const unsigned char *data, size_t n, struct err_msg *e);
void tz_free(struct tz *z);
const char *tz_name(const struct tz *z);

/* UTC offset (seconds east of UTC) in effect at the instant utc_sec. */
int32_t tz_offset(const struct tz *z, int64_t utc_sec);

/*
 * Convert local wall-clock seconds (the civil time read as if it were UTC,
 * see ts_civil_to_seconds) to UTC seconds.  Returns a tz_result.
 */
int tz_local_to_utc(const struct tz *z, int64_t local_sec, int64_t *utc_sec);

/*
 * tz_local_to_utc() for runs of nearby local times (the bars of a
 * response): the memo keeps the span of local times around the last one
 * converted over which the zone's offset stays the same, and converts
 * those by subtraction.  The answers are tz_local_to_utc()'s, always; a
 * time near a change of offset takes the full conversion.  Start a memo
 * zeroed (TZ_MEMO_INIT); it may serve any zone, but not outlive one it
 * served (it knows the zone by its address).
 */
struct tz_memo {
	const struct tz *zone; /* the zone of the span, NULL before the first */
	int64_t lo, hi;        /* local times in [lo, hi) convert as local - off */
	int32_t off;
};
#define TZ_MEMO_INIT                                                                               \
	{                                                                                          \
		NULL, 0, 0, 0                                                                      \
	}
int tz_local_to_utc_memo(const struct tz *z, struct tz_memo *m, int64_t local, int64_t *utc);

/* The calendar date (days since the epoch) of the instant utc_us in the zone. */
int32_t tz_local_date(const struct tz *z, int64_t utc_us);

#endif

/*
 * tick: the canonical tick record of stocketl-records(5): struct tick, its
 * JSON form (the twelve fields in their canonical order), its binary form
 * (one 104-byte frame) and the bar intervals.
 *
 * This is the record's content only.  How records travel (lines, frames
 * after a header, batch markers, readers and writers) is record/stream.h,
 * which carries ticks in both encodings through these functions.
 *
 * Ownership: nothing here allocates beyond the caller's buffers.
 */
#ifndef STOCKETL_TICK_H
#define STOCKETL_TICK_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "text/ts.h"

/* Bar intervals of tick records; 0 is "unset". */
enum tick_interval {
	TICK_1MIN = 1,
	TICK_5MIN,
	TICK_15MIN,
	TICK_30MIN,
	TICK_60MIN,
	TICK_1D,
	TICK_INTERVAL_COUNT
};

#define TICK_SYMBOL_MAX 15
#define TICK_SOURCE_MAX 15

/* Null bits of a tick record: bit i set means field i is null (absent). */
enum tick_null {
	TICK_N_SYMBOL = 1 << 0,
	TICK_N_INTERVAL = 1 << 1,
	TICK_N_TIMESTAMP = 1 << 2,
	TICK_N_DATE = 1 << 3,
	TICK_N_OPEN = 1 << 4,
	TICK_N_HIGH = 1 << 5,
	TICK_N_LOW = 1 << 6,
	TICK_N_CLOSE = 1 << 7,
	TICK_N_VOLUME = 1 << 8,
	TICK_N_BATCH_ID = 1 << 9,
	TICK_N_INGESTED = 1 << 10,
	TICK_N_SOURCE = 1 << 11,
	TICK_N_ALL = (1 << 12) - 1
};

#define TICK_FIELD_COUNT 12
/* Field names in their canonical order (the JSON key order and the table column order). */
extern const char *const tick_field_names[TICK_FIELD_COUNT];

/* The canonical tick record (stocketl-records(5)).  Prices are decimal(18,6), unscaled. */
struct tick {
	char symbol[TICK_SYMBOL_MAX + 1];
	char source[TICK_SOURCE_MAX + 1];
	int64_t trade_timestamp; /* microseconds since the epoch, UTC */
	int64_t open, high, low, close;
	int64_t volume;
	int64_t batch_id;
	int64_t ingested_at; /* microseconds since the epoch, UTC */
	int32_t trade_date;  /* days since the epoch, exchange-local date */
	uint16_t nulls;      /* enum tick_null bits */
	uint8_t interval;    /* enum tick_interval */
};

/* Intervals ------------------------------------------------------------- */

/* "1min" ... "1d"; NULL for anything else. */
const char *tick_interval_name(int interval);
/* 0 when s[0..n) is not an interval name. */
int tick_interval_parse(const char *s, size_t n);
/* Length of an interval in microseconds (1d: one day); 0 for no interval. */
int64_t tick_interval_us(int interval);

/* JSON form ------------------------------------------------------------- */

/* Append the JSON object text of t (no newline) to out.  Returns 0, or -1 out of memory. */
int tick_to_json(const struct tick *t, struct buf *out);

/*
 * tick_to_json() for a run of ticks (a writer's): m keeps the texts of the
 * last dates written, which the next ticks mostly share.  The same text as
 * tick_to_json().  Start m zeroed (TICK_JSON_MEMO_INIT).
 */
struct tick_json_memo {
	struct ts_memo timestamp, date, ingested;
};
#define TICK_JSON_MEMO_INIT                                                                        \
	{                                                                                          \
		TS_MEMO_INIT, TS_MEMO_INIT, TS_MEMO_INIT                                           \
	}
int tick_to_json_memo(const struct tick *t, struct tick_json_memo *m, struct buf *out);

/*
 * The inverse of tick_to_json() for the fast path of readers: parse s[0..n)
 * when it is in exactly the layout tick_to_json() writes (the twelve keys in
 * order, no whitespace, numbers as numbers, strings without escapes).
 * Returns 0 with t filled, or -1 when the text is in any other form; it may
 * still be a valid tick record, which rec_parse_fields() and rec_tick()
 * then read (and explain, if it is not).
 */
int tick_from_canonical_json(const char *s, size_t n, struct tick *t);

struct rec_field; /* a member of a JSON record: record/stream.h */

/*
 * The tick held by the members f[0..n) of a JSON record, by field name in
 * any order: absent and null fields become null bits; unknown fields,
 * wrong types and values out of range are errors (EX_DATAERR, "record
 * NUMBER: field "NAME": why").  Decimals are JSON numbers or decimal text
 * in a string; volume and batch_id are JSON integers or integer text in a
 * string ("296560"): an optional minus sign and digits, nothing else.
 */
int tick_from_fields(const struct rec_field *f, size_t n, uint64_t number, struct tick *t,
                     struct err_msg *e);

/* Binary form ------------------------------------------------------------- */

#define TICK_FRAME_SIZE 104
#define TICK_FRAME_KIND 1 /* byte 0 of a tick frame */

/* Write t as a tick frame (stocketl-records(5), BINARY ENCODING). */
void tick_to_frame(const struct tick *t, unsigned char f[TICK_FRAME_SIZE]);
/*
 * Read the tick frame f into t.  Returns 0, or -1 when the frame cannot
 * hold a tick record (strings not NUL-terminated, unknown null bits, an
 * unknown interval).
 */
int tick_from_frame(const unsigned char f[TICK_FRAME_SIZE], struct tick *t);

#endif

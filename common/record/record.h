/*
 * record: the record streams that every stocketl program reads and writes.
 *
 * A stream is JSON (NDJSON: one object per line) or binary (fixed-size
 * little-endian frames after a magic header, for tick records only); a
 * reader tells them apart by the first byte (0x89 starts the binary magic,
 * JSON text never does).  Both carry data records and control lines; the
 * control line {"@batch":{...}} ends a batch.  The formats are specified in
 * stocketl-records(5) (common/man/stocketl-records.5).
 *
 * Ownership: a reader owns its buffers; the struct rec it fills points into
 * them and is valid until the next rec_read() or rec_reader_free().  A
 * writer buffers output (64 KiB) and owns nothing of the caller's.
 *
 * Errors: rec_read() returns REC_BAD for one malformed record (a line that
 * is not a JSON object, too long, a bad frame) with the reason in e; the
 * stream goes on and the caller decides whether to quarantine or stop.
 * It returns -1 for an I/O error or a stream that cannot go on (bad binary
 * header, truncated frame).  Writers return -1 with e set; e->status is
 * EX_IOERR, and rec_writer_broken_pipe() tells a closed downstream (EPIPE)
 * apart, which programs treat as a quiet end of output.
 */
#ifndef STOCKETL_RECORD_H
#define STOCKETL_RECORD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define REC_MAGIC            "\x89STK\r\n\x1a\n"
#define REC_MAGIC_LEN        8
#define REC_BIN_VERSION      1
#define REC_HEADER_SIZE      16
#define REC_FRAME_SIZE       104
#define REC_MAX_LINE_DEFAULT (16u << 20)
#define REC_MAX_FIELDS       1024
#define REC_APP_MAX          255
#define REC_CONTROL_MAX      65536

enum rec_format { REC_FMT_JSON = 0, REC_FMT_BINARY = 1 };

enum rec_type {
	REC_END = 0,
	REC_DATA = 1,
	REC_BATCH = 2,
	REC_CONTROL = 3,
	REC_BAD = 4,
	REC_BAD_MARKER = 5
};

enum rec_batch_status { BATCH_OK = 0, BATCH_FAILED = 1 };

/* An end-of-batch marker: {"@batch":{"app":..,"id":..,"records":..,"rejected":..,"status":..}} */
struct rec_batch {
	char app[REC_APP_MAX + 1];
	int64_t id;
	int64_t records;  /* data records in the batch, as passed downstream */
	int64_t rejected; /* records rejected upstream in this batch */
	int status;       /* BATCH_OK or BATCH_FAILED */
};

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

/* A field of a JSON record: name and the raw JSON text of its value. */
struct rec_field {
	const char *name; /* unescaped, not NUL-terminated */
	size_t name_len;
	const char *val; /* strings: contents without quotes (escaped if `escaped`) */
	size_t val_len;
	int type; /* a jscan.h JS_* value type: JS_STR, JS_NUM, JS_TRUE, JS_FALSE, JS_NULL, JS_OBJ, JS_ARR */
	int escaped;
};

struct rec {
	int type;        /* enum rec_type */
	int format;      /* enum rec_format of the input it came from */
	uint64_t number; /* record number: JSON line number, or binary item number (1-based) */
	/* JSON: the line (no newline).  Binary REC_CONTROL: the control line's JSON text. */
	const char *text;
	size_t text_len;
	/* REC_DATA from JSON */
	const struct rec_field *fields;
	size_t nfields;
	/* REC_DATA from binary */
	struct tick tick;
	/* REC_BATCH */
	struct rec_batch batch;
};

/* Reading ---------------------------------------------------------------- */

struct rec_reader;

/*
 * A reader over fd (not closed by the reader); name is used in messages
 * ("stdin", a path).  max_line bounds a JSON line (0: REC_MAX_LINE_DEFAULT).
 */
struct rec_reader *rec_reader_new(int fd, const char *name, size_t max_line);
void rec_reader_free(struct rec_reader *r);
/* The next record: REC_DATA, REC_BATCH, REC_CONTROL, REC_BAD (e set) or REC_END; -1 on fatal error. */
int rec_read(struct rec_reader *r, struct rec *out, struct err_msg *e);
/*
 * Make a blocked read give up when *flag becomes non-zero (set by a signal
 * handler installed without SA_RESTART): rec_read() then returns -1 with
 * e->status 0.
 */
void rec_reader_set_interrupt(struct rec_reader *r, const volatile sig_atomic_t *flag);
/* The detected encoding (valid after the first rec_read()). */
int rec_reader_format(const struct rec_reader *r);
const char *rec_reader_name(const struct rec_reader *r);
/*
 * Lazy mode (off by default): JSON data lines are handed out as text only
 * (fields NULL, nfields 0) for callers that parse the line themselves and
 * would otherwise pay for two passes.  Control lines are still recognised:
 * a line whose first key starts with '@' (or with an escape) is tokenized as
 * usual.  A lazily read line has not been checked to be JSON at all;
 * rec_parse_fields() tokenizes it when the caller needs the fields or the
 * reason it is malformed.
 */
void rec_reader_set_lazy(struct rec_reader *r, int lazy);
/*
 * Tokenize a lazily read REC_DATA record in place: fills fields/nfields and
 * returns REC_DATA, or REC_BAD with e set.  The fields live until the next
 * rec_read() or rec_parse_fields().
 */
int rec_parse_fields(struct rec_reader *r, struct rec *rec, struct err_msg *e);

/* The field named name (exact, case-sensitive), or NULL. */
const struct rec_field *rec_field(const struct rec *r, const char *name);
/* Append a string field's unescaped value to out. Returns 0, or -1 if not a string. */
int rec_field_string(const struct rec_field *f, struct buf *out);

/*
 * The tick record held by a REC_DATA record: a copy for binary input, a
 * conversion by field name for JSON (absent and null fields become null
 * bits; unknown fields, wrong types and values out of range are errors,
 * status EX_DATAERR, naming the field).
 */
int rec_tick(const struct rec *r, struct tick *t, struct err_msg *e);

/* Writing ---------------------------------------------------------------- */

struct rec_writer;

/* A writer to fd (closed by rec_writer_close()); name is used in messages. */
struct rec_writer *rec_writer_new(int fd, const char *name, int format);
int rec_writer_format(const struct rec_writer *w);
int rec_write_tick(struct rec_writer *w, const struct tick *t, struct err_msg *e);
int rec_write_batch(struct rec_writer *w, const struct rec_batch *b, struct err_msg *e);
/* A control line (JSON object text, one line); any encoding. */
int rec_write_control(struct rec_writer *w, const char *text, size_t len, struct err_msg *e);
/* A data record given as JSON object text (one line, no newline): JSON streams only. */
int rec_write_json(struct rec_writer *w, const char *text, size_t len, struct err_msg *e);
/* Pass a record read by rec_read() on, converting between encodings as needed. */
int rec_write_rec(struct rec_writer *w, const struct rec *r, struct err_msg *e);
int rec_writer_flush(struct rec_writer *w, struct err_msg *e);
/*
 * Flush, close the descriptor, free the writer.  Returns 0, -1 if anything
 * failed, or REC_EPIPE when the only failure was a closed pipe (a reader
 * such as head(1) that stopped early), which programs do not report.
 */
#define REC_EPIPE (-2)
int rec_writer_close(struct rec_writer *w, struct err_msg *e);
/* Did a write fail because the reader of the pipe went away? */
int rec_writer_broken_pipe(const struct rec_writer *w);

/* Tick helpers ----------------------------------------------------------- */

const char *tick_interval_name(int interval);
/* 0 when s[0..n) is not an interval name. */
int tick_interval_parse(const char *s, size_t n);
/* Length of an interval in microseconds (1d: one day). */
int64_t tick_interval_us(int interval);
/* Append the JSON object text of t (no newline) to out. */
int tick_to_json(const struct tick *t, struct buf *out);
/*
 * The inverse of tick_to_json() for the fast path of readers: parse s[0..n)
 * when it is in exactly the layout tick_to_json() writes (the twelve keys in
 * order, no whitespace, numbers as numbers, strings without escapes).
 * Returns 0 with t filled, or -1 when the text is in any other form; it may
 * still be a valid tick record, which rec_parse_fields() and rec_tick()
 * then read (and explain, if it is not).
 */
int tick_from_canonical_json(const char *s, size_t n, struct tick *t);
/* Append the JSON text of a batch marker (no newline) to out. */
int rec_batch_to_json(const struct rec_batch *b, struct buf *out);

#endif

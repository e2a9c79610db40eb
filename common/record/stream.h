/*
 * stream: the record streams that every stocketl program reads and writes.
 *
 * A stream is JSON (NDJSON: one object per line) or binary (fixed-size
 * little-endian frames after a magic header, for tick records only); a
 * reader tells them apart by the first byte (0x89 starts the binary magic,
 * JSON text never does).  Both carry data records and control lines; the
 * control line {"@batch":{...}} ends a batch.  The formats are specified in
 * stocketl-records(5) (common/man/stocketl-records.5).  What a tick record
 * holds, and its JSON and frame forms, is record/tick.h.
 *
 * Ownership: a reader owns its buffers; the struct rec it fills points into
 * them and is valid until the next rec_read() or rec_reader_free().  A
 * writer buffers output (64 KiB) and owns nothing of the caller's.
 *
 * Errors: rec_read() returns REC_BAD for one malformed record (a line that
 * is not a JSON object, too long, a bad frame) with the reason in e; the
 * stream goes on and the caller decides whether to quarantine or stop.  A
 * malformed batch marker is REC_BAD_MARKER, never REC_BAD: it ends its
 * batch, which fails, and is passed on as it was read (see below).  It
 * returns -1 for an I/O error or a stream that cannot go on (bad binary
 * header, truncated frame).  Writers return -1 with e set; e->status is
 * EX_IOERR, and rec_writer_broken_pipe() tells a closed downstream (EPIPE)
 * apart, which programs treat as a quiet end of output.
 */
#ifndef STOCKETL_STREAM_H
#define STOCKETL_STREAM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "record/tick.h"

#define REC_MAGIC            "\x89STK\r\n\x1a\n"
#define REC_MAGIC_LEN        8
#define REC_BIN_VERSION      1
#define REC_HEADER_SIZE      16
#define REC_FRAME_SIZE       TICK_FRAME_SIZE /* every frame has the size of a tick frame */
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

/*
 * An end-of-batch marker:
 * {"@batch":{"app":..,"id":..,"records":..,"rejected":..,"status":..}}
 * app may be absent (then it is "" here, and writers leave it out);
 * rejected may be absent (0).
 */
struct rec_batch {
	char app[REC_APP_MAX + 1]; /* no control characters; "" when the marker has none */
	int64_t id;
	int64_t records;  /* data records in the batch, as passed downstream */
	int64_t rejected; /* records rejected upstream in this batch */
	int status;       /* BATCH_OK or BATCH_FAILED */
};

/* A member of a JSON record: name and the raw JSON text of its value. */
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
	/*
	 * JSON: the line (no newline).  Binary REC_CONTROL: the control line's
	 * JSON text.  REC_BAD_MARKER: the marker as read (from a binary batch
	 * frame that breaks the rules, a JSON rendering of its fields that is
	 * just as malformed), to be passed on with rec_write_control().
	 */
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
/*
 * The next record: REC_DATA, REC_BATCH, REC_CONTROL, REC_BAD (e set),
 * REC_BAD_MARKER (e set) or REC_END; -1 on fatal error.
 *
 * A line whose first member is "@batch" is a batch marker.  When it breaks
 * any rule of stocketl-records(5) (a repeated member, a status other than
 * "ok" or "failed", a missing or non-integer id or records, a negative
 * count, a wrong type, another member beside "@batch", invalid JSON after
 * the key) the result is REC_BAD_MARKER with e saying "NAME: line N:
 * malformed batch marker: why" ("record N" in a binary stream) and
 * text/text_len the line: it is never a data record.
 */
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
 * conversion by field name for JSON (tick_from_fields()).
 */
int rec_tick(const struct rec *r, struct tick *t, struct err_msg *e);

/* Batches ---------------------------------------------------------------- */

/* The room rec_batch_label() needs. */
#define REC_BATCH_LABEL_MAX (REC_APP_MAX + 32)
/*
 * The name of a batch in messages, the same in every program: "batch
 * APP/ID", or "batch ID" when the marker has no app.  Returns out.
 */
const char *rec_batch_label(const struct rec_batch *b, char *out, size_t n);
/* Append the JSON text of a batch marker (no newline) to out.  Returns 0 or -1. */
int rec_batch_to_json(const struct rec_batch *b, struct buf *out);

/* Writing ---------------------------------------------------------------- */

struct rec_writer;

/* A writer to fd (closed by rec_writer_close()); name is used in messages. */
struct rec_writer *rec_writer_new(int fd, const char *name, int format);
int rec_writer_format(const struct rec_writer *w);
int rec_write_tick(struct rec_writer *w, const struct tick *t, struct err_msg *e);
/*
 * A batch marker.  A marker that breaks the rules (an app over 255 bytes or
 * with control characters, a negative id or count, an unknown status) is
 * refused with EX_SOFTWARE: writers never make a malformed marker.
 */
int rec_write_batch(struct rec_writer *w, const struct rec_batch *b, struct err_msg *e);
/*
 * A control line (JSON object text, one line); any encoding.  This is also
 * how a REC_BAD_MARKER is passed on unchanged: in a binary stream it
 * travels as a control frame with the same text, which readers read back as
 * the same malformed marker.
 */
int rec_write_control(struct rec_writer *w, const char *text, size_t len, struct err_msg *e);
/* A data record given as JSON object text (one line, no newline): JSON streams only. */
int rec_write_json(struct rec_writer *w, const char *text, size_t len, struct err_msg *e);
/*
 * Pass a record read by rec_read() on, converting between encodings as
 * needed (a REC_BAD_MARKER goes on as its text).
 */
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

#endif

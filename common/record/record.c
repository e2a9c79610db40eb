/*
 * record: the reader keeps one input buffer that grows to the longest line
 * seen (up to max_line) and hands out lines in place, so a JSON record costs
 * one scan for the newline and one tokenizer pass; nothing is copied unless
 * a field name has escapes.  Binary frames are decoded straight from the
 * buffer.  The writer formats into a 64 KiB buffer and writes it with a
 * loop that survives EINTR and short writes.
 */
#include "record/record.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "text/decimal.h"
#include "text/jscan.h"
#include "text/ts.h"

#define REC_READ_CHUNK (256u << 10)
#define REC_WBUF_SIZE  (64u << 10)

/* Frame kinds (byte 0 of a frame). */
enum { FRAME_TICK = 1, FRAME_BATCH = 2, FRAME_CONTROL = 3, FRAME_CONT = 4 };

const char *const tick_field_names[TICK_FIELD_COUNT] = {
    "symbol", "interval", "trade_timestamp", "trade_date", "open",        "high",
    "low",    "close",    "volume",          "batch_id",   "ingested_at", "source",
};

static const char *const interval_names[TICK_INTERVAL_COUNT] = {
    NULL, "1min", "5min", "15min", "30min", "60min", "1d",
};

const char *tick_interval_name(int iv)
{
	return iv > 0 && iv < TICK_INTERVAL_COUNT ? interval_names[iv] : NULL;
}

int tick_interval_parse(const char *s, size_t n)
{
	for (int i = 1; i < TICK_INTERVAL_COUNT; i++)
		if (strlen(interval_names[i]) == n && memcmp(interval_names[i], s, n) == 0)
			return i;
	return 0;
}

int64_t tick_interval_us(int iv)
{
	static const int64_t minutes[TICK_INTERVAL_COUNT] = {0, 1, 5, 15, 30, 60, 1440};
	return iv > 0 && iv < TICK_INTERVAL_COUNT ? minutes[iv] * 60 * TS_US_PER_SEC : 0;
}

/* Little-endian access ------------------------------------------------------- */

static void put_le16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

/*
 * Written out byte by byte (no loops) so that the compiler turns each into a
 * single load or store on little-endian machines: frames are the hot path.
 */
static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void put_le64(unsigned char *p, int64_t v)
{
	uint64_t u = (uint64_t)v;
	p[0] = (unsigned char)u;
	p[1] = (unsigned char)(u >> 8);
	p[2] = (unsigned char)(u >> 16);
	p[3] = (unsigned char)(u >> 24);
	p[4] = (unsigned char)(u >> 32);
	p[5] = (unsigned char)(u >> 40);
	p[6] = (unsigned char)(u >> 48);
	p[7] = (unsigned char)(u >> 56);
}

static uint16_t get_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int64_t get_le64(const unsigned char *p)
{
	return (int64_t)((uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	                 (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	                 (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56);
}

/* Reader --------------------------------------------------------------------- */

struct rec_reader {
	int fd;
	char *name;
	size_t max_line;
	int format; /* -1 until detected */
	int lazy;   /* hand out data lines untokenized (rec_reader_set_lazy) */
	char *data;
	size_t cap, pos, end;
	int eof;
	uint64_t number;
	int skipping; /* discarding the rest of an over-long line */
	const volatile sig_atomic_t *interrupt;
	struct rec_field fields[REC_MAX_FIELDS];
	struct buf names; /* unescaped field names of the current record */
	struct buf control;
};

struct rec_reader *rec_reader_new(int fd, const char *name, size_t max_line)
{
	struct rec_reader *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->fd = fd;
	r->name = strdup(name ? name : "stdin");
	r->max_line = max_line ? max_line : REC_MAX_LINE_DEFAULT;
	r->format = -1;
	r->cap = REC_READ_CHUNK * 4;
	r->data = malloc(r->cap);
	if (!r->name || !r->data) {
		rec_reader_free(r);
		return NULL;
	}
	return r;
}

void rec_reader_free(struct rec_reader *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->data);
	buf_free(&r->names);
	buf_free(&r->control);
	free(r);
}

void rec_reader_set_interrupt(struct rec_reader *r, const volatile sig_atomic_t *flag)
{
	r->interrupt = flag;
}

int rec_reader_format(const struct rec_reader *r)
{
	return r->format < 0 ? REC_FMT_JSON : r->format;
}

const char *rec_reader_name(const struct rec_reader *r)
{
	return r->name;
}

void rec_reader_set_lazy(struct rec_reader *r, int lazy)
{
	r->lazy = lazy != 0;
}

/*
 * Make at least `want` unread bytes available (fewer only at end of input).
 * Returns the number available, or -1 on a read error.
 */
static ssize_t rec_fill(struct rec_reader *r, size_t want, struct err_msg *e)
{
	while (r->end - r->pos < want && !r->eof) {
		if (r->pos > 0 && (r->end == r->pos || r->cap - r->end < REC_READ_CHUNK)) {
			memmove(r->data, r->data + r->pos, r->end - r->pos);
			r->end -= r->pos;
			r->pos = 0;
		}
		if (r->cap - r->end < REC_READ_CHUNK) {
			size_t ncap = r->cap * 2;
			char *p = realloc(r->data, ncap);
			if (!p) {
				err_set(e, EX_SOFTWARE, "%s: out of memory", r->name);
				return -1;
			}
			r->data = p;
			r->cap = ncap;
		}
		ssize_t n = read(r->fd, r->data + r->end, r->cap - r->end);
		if (n < 0) {
			if (errno == EINTR) {
				if (r->interrupt && *r->interrupt) {
					err_set(e, 0, "%s: interrupted", r->name);
					return -1;
				}
				continue;
			}
			err_set(e, EX_IOERR, "%s: read error: %s", r->name, strerror(errno));
			return -1;
		}
		if (n == 0)
			r->eof = 1;
		r->end += (size_t)n;
	}
	return (ssize_t)(r->end - r->pos);
}

static int rec_bad(struct rec_reader *r, struct rec *out, struct err_msg *e, const char *fmt, ...)
    ERR_PRINTF(4, 5);

static int rec_bad(struct rec_reader *r, struct rec *out, struct err_msg *e, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	err_set(e, EX_DATAERR, "%s: record %llu: %s", r->name, (unsigned long long)out->number,
	        why);
	out->type = REC_BAD;
	return REC_BAD;
}

static int64_t rec_parse_i64(const char *s, size_t n, int *ok)
{
	*ok = 0;
	if (n == 0 || n > 20)
		return 0;
	size_t i = 0;
	int neg = 0;
	if (s[0] == '-') {
		neg = 1;
		i = 1;
		if (n == 1)
			return 0;
	}
	uint64_t v = 0;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
		return 0;
	*ok = 1;
	return neg ? (int64_t)(0 - v) : (int64_t)v;
}

/* Fill b from the JSON object text of an @batch value. */
static int rec_parse_batch(const char *s, size_t n, struct rec_batch *b, const char **why)
{
	struct jscan js;
	struct jscan_token t, v;
	memset(b, 0, sizeof *b);
	int have = 0;
	jscan_init(&js, s, n);
	if (jscan_next(&js, &t) != JS_OBJ) {
		*why = "@batch is not an object";
		return -1;
	}
	for (;;) {
		int k = jscan_next(&js, &t);
		if (k == JS_OBJ_END)
			break;
		if (k != JS_KEY) {
			*why = "@batch is not valid JSON";
			return -1;
		}
		k = jscan_next(&js, &v);
		if (k == JS_ERR) {
			*why = "@batch is not valid JSON";
			return -1;
		}
		if (t.n == 3 && memcmp(t.s, "app", 3) == 0) {
			if (k != JS_STR || v.escaped || v.n > REC_APP_MAX || v.n == 0) {
				*why = "@batch app must be a non-empty string of at most 255 bytes "
				       "without escapes";
				return -1;
			}
			memcpy(b->app, v.s, v.n);
			b->app[v.n] = '\0';
			have |= 1;
		} else if (t.n == 6 && memcmp(t.s, "status", 6) == 0) {
			if (k == JS_STR && v.n == 2 && memcmp(v.s, "ok", 2) == 0)
				b->status = BATCH_OK;
			else if (k == JS_STR && v.n == 6 && memcmp(v.s, "failed", 6) == 0)
				b->status = BATCH_FAILED;
			else {
				*why = "@batch status must be \"ok\" or \"failed\"";
				return -1;
			}
			have |= 2;
		} else if ((t.n == 2 && memcmp(t.s, "id", 2) == 0) ||
		           (t.n == 7 && memcmp(t.s, "records", 7) == 0) ||
		           (t.n == 8 && memcmp(t.s, "rejected", 8) == 0)) {
			int ok = 0;
			int64_t x = k == JS_NUM ? rec_parse_i64(v.s, v.n, &ok) : 0;
			if (!ok || x < 0) {
				*why =
				    "@batch id, records and rejected must be non-negative integers";
				return -1;
			}
			if (t.n == 2) {
				b->id = x;
				have |= 4;
			} else if (t.n == 7) {
				b->records = x;
				have |= 8;
			} else {
				b->rejected = x;
			}
		} else if (k == JS_OBJ || k == JS_ARR) {
			/* Unknown members are ignored, whatever their shape. */
			const char *raw;
			size_t rawlen;
			if (jscan_skip(&js, &v, &raw, &rawlen) < 0) {
				*why = "@batch is not valid JSON";
				return -1;
			}
		}
	}
	if (jscan_next(&js, &t) != JS_END) {
		*why = "@batch is not valid JSON";
		return -1;
	}
	if ((have & 15) != 15) {
		*why = "@batch needs app, id, records and status";
		return -1;
	}
	return 0;
}

/* Parse one JSON line at s[0..n) into out. */
static int rec_parse_line(struct rec_reader *r, const char *s, size_t n, struct rec *out,
                          struct err_msg *e)
{
	struct jscan js;
	struct jscan_token t, v;
	size_t nf = 0;
	out->text = s;
	out->text_len = n;
	jscan_init(&js, s, n);
	if (jscan_next(&js, &t) != JS_OBJ)
		return rec_bad(r, out, e, "%s", js.error ? js.error : "not a JSON object");
	buf_reset(&r->names);
	/* Unescaped names are never longer than the line: reserve once, never move. */
	if (buf_reserve(&r->names, n) < 0)
		return rec_bad(r, out, e, "%s", "out of memory");
	for (;;) {
		int k = jscan_next(&js, &t);
		if (k == JS_OBJ_END)
			break;
		if (k != JS_KEY)
			return rec_bad(r, out, e, "invalid JSON: %s", js.error ? js.error : "?");
		k = jscan_next(&js, &v);
		if (k == JS_ERR)
			return rec_bad(r, out, e, "invalid JSON: %s", js.error);
		if (nf == REC_MAX_FIELDS)
			return rec_bad(r, out, e, "%s", "more than 1024 fields");
		struct rec_field *f = &r->fields[nf++];
		if (t.escaped) {
			size_t at = r->names.len;
			if (jscan_unescape(t.s, t.n, &r->names) < 0)
				return rec_bad(r, out, e, "%s", "bad escape in a field name");
			f->name = r->names.data + at;
			f->name_len = r->names.len - at;
		} else {
			f->name = t.s;
			f->name_len = t.n;
		}
		f->type = k;
		f->escaped = v.escaped;
		if (k == JS_OBJ || k == JS_ARR) {
			if (jscan_skip(&js, &v, &f->val, &f->val_len) < 0)
				return rec_bad(r, out, e, "invalid JSON: %s",
				               js.error ? js.error : "?");
		} else {
			f->val = v.s;
			f->val_len = v.n;
		}
		for (size_t i = 0; i + 1 < nf; i++)
			if (r->fields[i].name_len == f->name_len &&
			    memcmp(r->fields[i].name, f->name, f->name_len) == 0)
				return rec_bad(r, out, e, "duplicate field \"%.*s\"",
				               (int)(f->name_len > 60 ? 60 : f->name_len), f->name);
	}
	if (jscan_next(&js, &t) != JS_END)
		return rec_bad(r, out, e, "invalid JSON: %s", js.error ? js.error : "?");
	out->fields = r->fields;
	out->nfields = nf;
	if (nf == 1 && r->fields[0].name_len > 0 && r->fields[0].name[0] == '@') {
		const struct rec_field *f = &r->fields[0];
		if (f->name_len == 6 && memcmp(f->name, "@batch", 6) == 0) {
			const char *why = NULL;
			if (f->type != JS_OBJ ||
			    rec_parse_batch(f->val, f->val_len, &out->batch, &why) < 0)
				return rec_bad(r, out, e, "%s",
				               why ? why : "@batch is not an object");
			out->type = REC_BATCH;
			return REC_BATCH;
		}
		out->type = REC_CONTROL;
		return REC_CONTROL;
	}
	out->type = REC_DATA;
	return REC_DATA;
}

/*
 * Lazy mode: must the line s[i..n) (i at its first non-blank byte) get the
 * full parse now?  Control lines must, and so does anything that is not an
 * object, so that the caller hears at once why it is malformed.  A first key
 * that starts with an escape might unescape to '@'.
 */
static int rec_needs_parse(const char *s, size_t n, size_t i)
{
	if (s[i] != '{')
		return 1;
	for (i++; i < n && (s[i] == ' ' || s[i] == '\t'); i++)
		;
	if (i + 1 >= n || s[i] != '"')
		return 1;
	return s[i + 1] == '@' || s[i + 1] == '\\';
}

int rec_parse_fields(struct rec_reader *r, struct rec *rec, struct err_msg *e)
{
	return rec_parse_line(r, rec->text, rec->text_len, rec, e);
}

static int rec_read_json(struct rec_reader *r, struct rec *out, struct err_msg *e)
{
	for (;;) {
		char *nl = memchr(r->data + r->pos, '\n', r->end - r->pos);
		if (!nl) {
			if (r->skipping) {
				r->pos = r->end;
				if (r->eof)
					return REC_END;
			} else if (r->end - r->pos > r->max_line) {
				r->skipping = 1;
				r->pos = r->end;
				out->number = ++r->number;
				return rec_bad(r, out, e, "line longer than %zu bytes",
				               r->max_line);
			} else if (r->eof) {
				if (r->pos == r->end)
					return REC_END;
				nl = r->data + r->end; /* last line without a newline */
			}
			if (!nl) {
				size_t have = r->end - r->pos;
				if (rec_fill(r, have + 1, e) < 0)
					return -1;
				continue;
			}
		}
		char *s = r->data + r->pos;
		size_t n = (size_t)(nl - s);
		r->pos = nl < r->data + r->end ? (size_t)(nl - r->data) + 1 : r->end;
		if (r->skipping) {
			r->skipping = 0;
			continue;
		}
		out->number = ++r->number;
		if (n > r->max_line) {
			return rec_bad(r, out, e, "line longer than %zu bytes", r->max_line);
		}
		if (n > 0 && s[n - 1] == '\r')
			n--;
		size_t i = 0;
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == n)
			continue; /* blank line */
		if (r->lazy && !rec_needs_parse(s, n, i)) {
			out->text = s;
			out->text_len = n;
			out->fields = NULL;
			out->nfields = 0;
			out->type = REC_DATA;
			return REC_DATA;
		}
		return rec_parse_line(r, s, n, out, e);
	}
}

static int rec_read_binary(struct rec_reader *r, struct rec *out, struct err_msg *e)
{
	ssize_t have = rec_fill(r, REC_FRAME_SIZE, e);
	if (have < 0)
		return -1;
	if (have == 0)
		return REC_END;
	out->number = ++r->number;
	if (have < REC_FRAME_SIZE) {
		err_set(e, EX_DATAERR, "%s: record %llu: truncated frame (%zd of %d bytes)",
		        r->name, (unsigned long long)out->number, have, REC_FRAME_SIZE);
		return -1;
	}
	const unsigned char *f = (const unsigned char *)r->data + r->pos;
	r->pos += REC_FRAME_SIZE;
	switch (f[0]) {
	case FRAME_TICK: {
		struct tick *t = &out->tick;
		memset(t, 0, sizeof *t);
		t->interval = f[1];
		t->nulls = get_le16(f + 2);
		t->trade_date = (int32_t)get_le32(f + 4);
		memcpy(t->symbol, f + 8, 16);
		t->trade_timestamp = get_le64(f + 24);
		t->open = get_le64(f + 32);
		t->high = get_le64(f + 40);
		t->low = get_le64(f + 48);
		t->close = get_le64(f + 56);
		t->volume = get_le64(f + 64);
		t->batch_id = get_le64(f + 72);
		t->ingested_at = get_le64(f + 80);
		memcpy(t->source, f + 88, 16);
		if (t->symbol[TICK_SYMBOL_MAX] || t->source[TICK_SOURCE_MAX] ||
		    (t->nulls & ~TICK_N_ALL) ||
		    (!(t->nulls & TICK_N_INTERVAL) && !tick_interval_name(t->interval)))
			return rec_bad(r, out, e, "%s", "malformed tick frame");
		out->type = REC_DATA;
		out->text = NULL;
		out->text_len = 0;
		out->fields = NULL;
		out->nfields = 0;
		return REC_DATA;
	}
	case FRAME_BATCH: {
		struct rec_batch *b = &out->batch;
		memset(b, 0, sizeof *b);
		b->status = f[1];
		size_t applen = get_le16(f + 2);
		b->id = get_le64(f + 8);
		b->records = get_le64(f + 16);
		b->rejected = get_le64(f + 24);
		if (applen == 0 || applen > REC_APP_MAX || b->status > BATCH_FAILED || b->id < 0 ||
		    b->records < 0 || b->rejected < 0)
			return rec_bad(r, out, e, "%s", "malformed batch frame");
		size_t first = applen < 72 ? applen : 72;
		memcpy(b->app, f + 32, first);
		size_t got = first;
		while (got < applen) {
			have = rec_fill(r, REC_FRAME_SIZE, e);
			if (have < 0)
				return -1;
			if (have < REC_FRAME_SIZE || (unsigned char)r->data[r->pos] != FRAME_CONT) {
				err_set(e, EX_DATAERR,
				        "%s: record %llu: batch frame without its continuation",
				        r->name, (unsigned long long)out->number);
				return -1;
			}
			size_t k =
			    applen - got < REC_FRAME_SIZE - 1 ? applen - got : REC_FRAME_SIZE - 1;
			memcpy(b->app + got, r->data + r->pos + 1, k);
			got += k;
			r->pos += REC_FRAME_SIZE;
		}
		b->app[applen] = '\0';
		if (strlen(b->app) != applen)
			return rec_bad(r, out, e, "%s", "malformed batch frame");
		out->type = REC_BATCH;
		return REC_BATCH;
	}
	case FRAME_CONTROL: {
		size_t len = get_le32(f + 4);
		if (len == 0 || len > REC_CONTROL_MAX) {
			err_set(e, EX_DATAERR, "%s: record %llu: malformed control frame", r->name,
			        (unsigned long long)out->number);
			return -1;
		}
		buf_reset(&r->control);
		size_t first = len < REC_FRAME_SIZE - 8 ? len : REC_FRAME_SIZE - 8;
		buf_append(&r->control, f + 8, first);
		while (r->control.len < len) {
			have = rec_fill(r, REC_FRAME_SIZE, e);
			if (have < 0)
				return -1;
			if (have < REC_FRAME_SIZE || (unsigned char)r->data[r->pos] != FRAME_CONT) {
				err_set(e, EX_DATAERR,
				        "%s: record %llu: control frame without its continuation",
				        r->name, (unsigned long long)out->number);
				return -1;
			}
			size_t k = len - r->control.len;
			if (k > REC_FRAME_SIZE - 1)
				k = REC_FRAME_SIZE - 1;
			buf_append(&r->control, r->data + r->pos + 1, k);
			r->pos += REC_FRAME_SIZE;
		}
		out->type = REC_CONTROL;
		out->text = r->control.data;
		out->text_len = r->control.len;
		out->fields = NULL;
		out->nfields = 0;
		return REC_CONTROL;
	}
	default:
		return rec_bad(r, out, e, "%s", "unknown frame kind");
	}
}

int rec_read(struct rec_reader *r, struct rec *out, struct err_msg *e)
{
	if (r->format < 0) {
		ssize_t have = rec_fill(r, REC_HEADER_SIZE, e);
		if (have < 0)
			return -1;
		if (have > 0 && (unsigned char)r->data[r->pos] == 0x89) {
			if (have < REC_HEADER_SIZE ||
			    memcmp(r->data + r->pos, REC_MAGIC, REC_MAGIC_LEN) != 0) {
				err_set(e, EX_DATAERR,
				        "%s: not a stocketl binary stream (bad magic)", r->name);
				return -1;
			}
			const unsigned char *h = (const unsigned char *)r->data + r->pos;
			if (get_le16(h + 8) != REC_BIN_VERSION) {
				err_set(
				    e, EX_DATAERR,
				    "%s: binary stream version %u is not supported (this is %d)",
				    r->name, get_le16(h + 8), REC_BIN_VERSION);
				return -1;
			}
			if (get_le16(h + 10) != REC_FRAME_SIZE) {
				err_set(e, EX_DATAERR, "%s: binary frame size %u, expected %d",
				        r->name, get_le16(h + 10), REC_FRAME_SIZE);
				return -1;
			}
			r->pos += REC_HEADER_SIZE;
			r->format = REC_FMT_BINARY;
		} else {
			r->format = REC_FMT_JSON;
		}
	}
	out->format = r->format;
	if (r->format == REC_FMT_BINARY)
		return rec_read_binary(r, out, e);
	return rec_read_json(r, out, e);
}

const struct rec_field *rec_field(const struct rec *r, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < r->nfields; i++)
		if (r->fields[i].name_len == n && memcmp(r->fields[i].name, name, n) == 0)
			return &r->fields[i];
	return NULL;
}

int rec_field_string(const struct rec_field *f, struct buf *out)
{
	if (f->type != JS_STR)
		return -1;
	if (!f->escaped)
		return buf_append(out, f->val, f->val_len);
	return jscan_unescape(f->val, f->val_len, out);
}

/* JSON record -> tick ------------------------------------------------------------ */

static int tick_field_index(const char *s, size_t n)
{
	for (int i = 0; i < TICK_FIELD_COUNT; i++)
		if (strlen(tick_field_names[i]) == n && memcmp(tick_field_names[i], s, n) == 0)
			return i;
	return -1;
}

static int tick_bad(struct err_msg *e, const struct rec *r, const char *field, const char *why)
{
	err_set(e, EX_DATAERR, "record %llu: field \"%s\": %s", (unsigned long long)r->number,
	        field, why);
	return -1;
}

/* A short string field copied into dst[cap] (cap includes the NUL). */
static int tick_copy_str(const struct rec_field *f, char *dst, size_t cap)
{
	char tmp[64];
	struct buf b = BUF_INIT;
	size_t n;
	const char *s;
	if (f->escaped) {
		if (f->val_len >= sizeof tmp * 6 || rec_field_string(f, &b) < 0) {
			buf_free(&b);
			return -1;
		}
		if (b.len >= sizeof tmp) {
			buf_free(&b);
			return -1;
		}
		memcpy(tmp, b.data, b.len);
		n = b.len;
		buf_free(&b);
		s = tmp;
	} else {
		s = f->val;
		n = f->val_len;
	}
	if (n >= cap || memchr(s, '\0', n))
		return -1;
	memcpy(dst, s, n);
	memset(dst + n, 0, cap - n);
	return 0;
}

int rec_tick(const struct rec *r, struct tick *t, struct err_msg *e)
{
	if (r->format == REC_FMT_BINARY) {
		*t = r->tick;
		return 0;
	}
	memset(t, 0, sizeof *t);
	unsigned seen = 0;
	for (size_t i = 0; i < r->nfields; i++) {
		const struct rec_field *f = &r->fields[i];
		int idx = tick_field_index(f->name, f->name_len);
		if (idx < 0) {
			char name[64];
			snprintf(name, sizeof name, "%.*s",
			         (int)(f->name_len > 60 ? 60 : f->name_len), f->name);
			return tick_bad(e, r, name, "not a field of a tick record");
		}
		const char *fname = tick_field_names[idx];
		seen |= 1u << idx;
		if (f->type == JS_NULL) {
			t->nulls |= (uint16_t)(1u << idx);
			continue;
		}
		int ok;
		struct err_msg de;
		switch (idx) {
		case 0: /* symbol */
			if (f->type != JS_STR || f->val_len == 0 ||
			    tick_copy_str(f, t->symbol, sizeof t->symbol) < 0)
				return tick_bad(e, r, fname, "expected a string of 1 to 15 bytes");
			break;
		case 11: /* source */
			if (f->type != JS_STR || tick_copy_str(f, t->source, sizeof t->source) < 0)
				return tick_bad(e, r, fname,
				                "expected a string of at most 15 bytes");
			break;
		case 1: /* interval */
			if (f->type != JS_STR ||
			    !(t->interval = (uint8_t)tick_interval_parse(f->val, f->val_len)))
				return tick_bad(e, r, fname,
				                "expected 1min, 5min, 15min, 30min, 60min or 1d");
			break;
		case 2:  /* trade_timestamp */
		case 10: /* ingested_at */
			if (f->type != JS_STR ||
			    ts_parse_rfc3339(f->val, f->val_len,
			                     idx == 2 ? &t->trade_timestamp : &t->ingested_at) < 0)
				return tick_bad(e, r, fname, "expected an RFC 3339 timestamp");
			break;
		case 3: /* trade_date */
			if (f->type != JS_STR ||
			    ts_parse_date(f->val, f->val_len, &t->trade_date) < 0)
				return tick_bad(e, r, fname, "expected a date YYYY-MM-DD");
			break;
		case 4:
		case 5:
		case 6:
		case 7: {
			int64_t *dst = idx == 4   ? &t->open
			               : idx == 5 ? &t->high
			               : idx == 6 ? &t->low
			                          : &t->close;
			if ((f->type != JS_NUM && f->type != JS_STR) ||
			    dec6_parse(f->val, f->val_len, dst, &de) < 0) {
				char why[ERR_MSG_MAX];
				snprintf(why, sizeof why, "%s",
				         f->type == JS_NUM || f->type == JS_STR
				             ? de.text
				             : "expected a decimal number");
				return tick_bad(e, r, fname, why);
			}
			break;
		}
		case 8: /* volume */
		case 9: /* batch_id */
			if (f->type != JS_NUM && f->type != JS_STR)
				return tick_bad(e, r, fname, "expected an integer");
			*(idx == 8 ? &t->volume : &t->batch_id) =
			    rec_parse_i64(f->val, f->val_len, &ok);
			if (!ok)
				return tick_bad(e, r, fname, "expected a 64-bit integer");
			break;
		default:
			break;
		}
	}
	t->nulls |= (uint16_t)(~seen & TICK_N_ALL);
	return 0;
}

/* Writer --------------------------------------------------------------------- */

struct rec_writer {
	int fd;
	char *name;
	int format;
	int header_done;
	int broken_pipe;
	int failed;
	unsigned char *buf;
	size_t len;
	struct buf scratch;
};

struct rec_writer *rec_writer_new(int fd, const char *name, int format)
{
	struct rec_writer *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->fd = fd;
	w->format = format;
	w->name = strdup(name ? name : "stdout");
	w->buf = malloc(REC_WBUF_SIZE);
	if (!w->name || !w->buf) {
		free(w->name);
		free(w->buf);
		free(w);
		return NULL;
	}
	/* A closed pipe must be an error return, not a signal that kills the process. */
	signal(SIGPIPE, SIG_IGN);
	return w;
}

int rec_writer_format(const struct rec_writer *w)
{
	return w->format;
}

int rec_writer_broken_pipe(const struct rec_writer *w)
{
	return w->broken_pipe;
}

static int rec_write_all(struct rec_writer *w, const unsigned char *p, size_t n, struct err_msg *e)
{
	while (n > 0) {
		ssize_t k = write(w->fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			w->failed = 1;
			if (errno == EPIPE)
				w->broken_pipe = 1;
			err_set(e, EX_IOERR, "%s: write error: %s", w->name, strerror(errno));
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int rec_writer_flush(struct rec_writer *w, struct err_msg *e)
{
	if (w->failed) {
		err_set(e, EX_IOERR, "%s: an earlier write failed", w->name);
		return -1;
	}
	if (w->len == 0)
		return 0;
	int rc = rec_write_all(w, w->buf, w->len, e);
	w->len = 0;
	return rc;
}

static int rec_put(struct rec_writer *w, const void *p, size_t n, struct err_msg *e)
{
	if (w->failed) {
		err_set(e, EX_IOERR, "%s: an earlier write failed", w->name);
		return -1;
	}
	if (w->len + n > REC_WBUF_SIZE) {
		if (rec_writer_flush(w, e) < 0)
			return -1;
		if (n > REC_WBUF_SIZE)
			return rec_write_all(w, p, n, e);
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	return 0;
}

static int rec_header(struct rec_writer *w, struct err_msg *e)
{
	if (w->header_done || w->format != REC_FMT_BINARY)
		return 0;
	unsigned char h[REC_HEADER_SIZE] = {0};
	memcpy(h, REC_MAGIC, REC_MAGIC_LEN);
	put_le16(h + 8, REC_BIN_VERSION);
	put_le16(h + 10, REC_FRAME_SIZE);
	w->header_done = 1;
	return rec_put(w, h, sizeof h, e);
}

/* Put a string field into the JSON output: "name":"value" with escaping. */
static char *tick_json_fixed(char *o, const char *name, size_t nlen)
{
	*o++ = '"';
	memcpy(o, name, nlen);
	o += nlen;
	*o++ = '"';
	*o++ = ':';
	return o;
}

int tick_to_json(const struct tick *t, struct buf *out)
{
	/* The widest record: 12 keys, two escaped 15-byte strings, numbers and timestamps. */
	if (buf_reserve(out, 640) < 0)
		return -1;
	char *o = out->data + out->len;
	*o++ = '{';
	for (int i = 0; i < TICK_FIELD_COUNT; i++) {
		if (i)
			*o++ = ',';
		const char *name = tick_field_names[i];
		o = tick_json_fixed(o, name, strlen(name));
		if (t->nulls & (1u << i)) {
			memcpy(o, "null", 4);
			o += 4;
			continue;
		}
		switch (i) {
		case 0:
		case 11: {
			const char *s = i == 0 ? t->symbol : t->source;
			size_t n = strnlen(s, 16);
			out->len = (size_t)(o - out->data);
			buf_json_str(out, s, n);
			o = out->data + out->len;
			break;
		}
		case 1: {
			const char *s = tick_interval_name(t->interval);
			*o++ = '"';
			size_t n = strlen(s);
			memcpy(o, s, n);
			o += n;
			*o++ = '"';
			break;
		}
		case 2:
		case 10:
			*o++ = '"';
			o += ts_format_rfc3339(i == 2 ? t->trade_timestamp : t->ingested_at, o);
			*o++ = '"';
			break;
		case 3:
			*o++ = '"';
			o += ts_format_date(t->trade_date, o);
			*o++ = '"';
			break;
		case 4:
			o += dec6_format(t->open, o);
			break;
		case 5:
			o += dec6_format(t->high, o);
			break;
		case 6:
			o += dec6_format(t->low, o);
			break;
		case 7:
			o += dec6_format(t->close, o);
			break;
		case 8:
		case 9: {
			out->len = (size_t)(o - out->data);
			buf_i64(out, i == 8 ? t->volume : t->batch_id);
			o = out->data + out->len;
			break;
		}
		default:
			break;
		}
	}
	*o++ = '}';
	out->len = (size_t)(o - out->data);
	out->data[out->len] = '\0';
	return 0;
}

/* Canonical JSON -> tick ---------------------------------------------------------- */

/*
 * A cursor over a line that is expected to be in tick_to_json()'s layout.
 * Each step either consumes what it expects or reports -1, and the caller
 * gives up on the fast path.  Nothing accepted here is invalid JSON: strings
 * are printable ASCII without quotes or backslashes, numbers follow the JSON
 * grammar.
 */
struct canon {
	const char *p, *end;
};

static int canon_lit(struct canon *c, const char *lit, size_t n)
{
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
		return -1;
	c->p += n;
	return 0;
}

/* Is the value at the cursor null?  Consumes it if so. */
static int canon_null(struct canon *c)
{
	return canon_lit(c, "null", 4) == 0;
}

/* A string value without escapes: its contents in *s, *n. */
static int canon_str(struct canon *c, const char **s, size_t *n)
{
	if (c->p >= c->end || *c->p != '"')
		return -1;
	const char *q = c->p + 1;
	while (q < c->end && *q != '"') {
		unsigned char ch = (unsigned char)*q;
		if (ch < 0x20 || ch >= 0x7f || ch == '\\')
			return -1;
		q++;
	}
	if (q >= c->end)
		return -1;
	*s = c->p + 1;
	*n = (size_t)(q - *s);
	c->p = q + 1;
	return 0;
}

/* A JSON number -?(0|[1-9][0-9]*)(.[0-9]+)? (frac: a fraction is allowed). */
static int canon_num(struct canon *c, int frac, const char **s, size_t *n)
{
	const char *q = c->p;
	if (q < c->end && *q == '-')
		q++;
	if (q >= c->end || *q < '0' || *q > '9')
		return -1;
	if (*q == '0')
		q++;
	else
		while (q < c->end && *q >= '0' && *q <= '9')
			q++;
	if (frac && q < c->end && *q == '.') {
		q++;
		const char *d = q;
		while (q < c->end && *q >= '0' && *q <= '9')
			q++;
		if (q == d)
			return -1;
	}
	*s = c->p;
	*n = (size_t)(q - c->p);
	c->p = q;
	return 0;
}

int tick_from_canonical_json(const char *s, size_t n, struct tick *t)
{
	struct canon c = {s, s + n};
	const char *v;
	size_t vn;
	int ok;
	memset(t, 0, sizeof *t);
	for (int i = 0; i < TICK_FIELD_COUNT; i++) {
		const char *name = tick_field_names[i];
		size_t nlen = strlen(name);
		if (canon_lit(&c, i == 0 ? "{\"" : ",\"", 2) < 0 || canon_lit(&c, name, nlen) < 0 ||
		    canon_lit(&c, "\":", 2) < 0)
			return -1;
		if (canon_null(&c)) {
			t->nulls |= (uint16_t)(1u << i);
			continue;
		}
		struct err_msg de;
		switch (i) {
		case 0:  /* symbol */
		case 11: /* source */
			if (canon_str(&c, &v, &vn) < 0 || (i == 0 && vn == 0) || vn > 15)
				return -1;
			memcpy(i == 0 ? t->symbol : t->source, v, vn);
			break;
		case 1:
			if (canon_str(&c, &v, &vn) < 0 ||
			    !(t->interval = (uint8_t)tick_interval_parse(v, vn)))
				return -1;
			break;
		case 2:
		case 10:
			if (canon_str(&c, &v, &vn) < 0 ||
			    ts_parse_rfc3339(v, vn,
			                     i == 2 ? &t->trade_timestamp : &t->ingested_at) < 0)
				return -1;
			break;
		case 3:
			if (canon_str(&c, &v, &vn) < 0 || ts_parse_date(v, vn, &t->trade_date) < 0)
				return -1;
			break;
		case 4:
		case 5:
		case 6:
		case 7: {
			int64_t *dst = i == 4   ? &t->open
			               : i == 5 ? &t->high
			               : i == 6 ? &t->low
			                        : &t->close;
			if (canon_num(&c, 1, &v, &vn) < 0 || dec6_parse(v, vn, dst, &de) < 0)
				return -1;
			break;
		}
		default: /* volume, batch_id */
			if (canon_num(&c, 0, &v, &vn) < 0)
				return -1;
			*(i == 8 ? &t->volume : &t->batch_id) = rec_parse_i64(v, vn, &ok);
			if (!ok)
				return -1;
			break;
		}
	}
	return canon_lit(&c, "}", 1) == 0 && c.p == c.end ? 0 : -1;
}

int rec_batch_to_json(const struct rec_batch *b, struct buf *out)
{
	int rc = buf_puts(out, "{\"@batch\":{\"app\":");
	rc |= buf_json_str(out, b->app, strlen(b->app));
	rc |= buf_puts(out, ",\"id\":");
	rc |= buf_i64(out, b->id);
	rc |= buf_puts(out, ",\"records\":");
	rc |= buf_i64(out, b->records);
	rc |= buf_puts(out, ",\"rejected\":");
	rc |= buf_i64(out, b->rejected);
	rc |= buf_puts(out,
	               b->status == BATCH_OK ? ",\"status\":\"ok\"}}" : ",\"status\":\"failed\"}}");
	return rc ? -1 : 0;
}

static int rec_put_line(struct rec_writer *w, const char *text, size_t len, struct err_msg *e)
{
	if (w->len + len + 1 <= REC_WBUF_SIZE && !w->failed) {
		memcpy(w->buf + w->len, text, len);
		w->buf[w->len + len] = '\n';
		w->len += len + 1;
		return 0;
	}
	if (rec_put(w, text, len, e) < 0)
		return -1;
	return rec_put(w, "\n", 1, e);
}

int rec_write_tick(struct rec_writer *w, const struct tick *t, struct err_msg *e)
{
	if (w->format == REC_FMT_JSON) {
		buf_reset(&w->scratch);
		if (tick_to_json(t, &w->scratch) < 0) {
			err_set(e, EX_SOFTWARE, "out of memory");
			return -1;
		}
		return rec_put_line(w, w->scratch.data, w->scratch.len, e);
	}
	if (rec_header(w, e) < 0)
		return -1;
	unsigned char f[REC_FRAME_SIZE] = {0};
	f[0] = FRAME_TICK;
	f[1] = t->interval;
	put_le16(f + 2, t->nulls);
	put_le32(f + 4, (uint32_t)t->trade_date);
	memcpy(f + 8, t->symbol, strnlen(t->symbol, TICK_SYMBOL_MAX));
	put_le64(f + 24, t->trade_timestamp);
	put_le64(f + 32, t->open);
	put_le64(f + 40, t->high);
	put_le64(f + 48, t->low);
	put_le64(f + 56, t->close);
	put_le64(f + 64, t->volume);
	put_le64(f + 72, t->batch_id);
	put_le64(f + 80, t->ingested_at);
	memcpy(f + 88, t->source, strnlen(t->source, TICK_SOURCE_MAX));
	return rec_put(w, f, sizeof f, e);
}

/* Write len bytes of payload: the first `first` bytes in frame f, the rest in continuation frames. */
static int rec_put_frames(struct rec_writer *w, unsigned char *f, size_t off, const char *p,
                          size_t len, struct err_msg *e)
{
	size_t first = len < REC_FRAME_SIZE - off ? len : REC_FRAME_SIZE - off;
	memcpy(f + off, p, first);
	if (rec_put(w, f, REC_FRAME_SIZE, e) < 0)
		return -1;
	for (size_t at = first; at < len;) {
		unsigned char c[REC_FRAME_SIZE] = {0};
		size_t k = len - at < REC_FRAME_SIZE - 1 ? len - at : REC_FRAME_SIZE - 1;
		c[0] = FRAME_CONT;
		memcpy(c + 1, p + at, k);
		if (rec_put(w, c, sizeof c, e) < 0)
			return -1;
		at += k;
	}
	return 0;
}

int rec_write_batch(struct rec_writer *w, const struct rec_batch *b, struct err_msg *e)
{
	size_t applen = strnlen(b->app, REC_APP_MAX + 1);
	if (applen == 0 || applen > REC_APP_MAX) {
		err_set(e, EX_SOFTWARE, "batch marker app name must be 1 to %d bytes", REC_APP_MAX);
		return -1;
	}
	if (w->format == REC_FMT_JSON) {
		buf_reset(&w->scratch);
		if (rec_batch_to_json(b, &w->scratch) < 0) {
			err_set(e, EX_SOFTWARE, "out of memory");
			return -1;
		}
		return rec_put_line(w, w->scratch.data, w->scratch.len, e);
	}
	if (rec_header(w, e) < 0)
		return -1;
	unsigned char f[REC_FRAME_SIZE] = {0};
	f[0] = FRAME_BATCH;
	f[1] = (unsigned char)b->status;
	put_le16(f + 2, (uint16_t)applen);
	put_le64(f + 8, b->id);
	put_le64(f + 16, b->records);
	put_le64(f + 24, b->rejected);
	return rec_put_frames(w, f, 32, b->app, applen, e);
}

int rec_write_control(struct rec_writer *w, const char *text, size_t len, struct err_msg *e)
{
	if (w->format == REC_FMT_JSON)
		return rec_put_line(w, text, len, e);
	if (len == 0 || len > REC_CONTROL_MAX) {
		err_set(e, EX_DATAERR, "control line of %zu bytes does not fit a binary stream",
		        len);
		return -1;
	}
	if (rec_header(w, e) < 0)
		return -1;
	unsigned char f[REC_FRAME_SIZE] = {0};
	f[0] = FRAME_CONTROL;
	put_le32(f + 4, (uint32_t)len);
	return rec_put_frames(w, f, 8, text, len, e);
}

int rec_write_json(struct rec_writer *w, const char *text, size_t len, struct err_msg *e)
{
	if (w->format != REC_FMT_JSON) {
		err_set(e, EX_USAGE, "%s: binary output carries tick records only", w->name);
		return -1;
	}
	return rec_put_line(w, text, len, e);
}

int rec_write_rec(struct rec_writer *w, const struct rec *r, struct err_msg *e)
{
	switch (r->type) {
	case REC_BATCH:
		return rec_write_batch(w, &r->batch, e);
	case REC_CONTROL:
		return rec_write_control(w, r->text, r->text_len, e);
	case REC_DATA:
		if (r->format == REC_FMT_JSON && w->format == REC_FMT_JSON)
			return rec_put_line(w, r->text, r->text_len, e);
		if (r->format == REC_FMT_BINARY)
			return rec_write_tick(w, &r->tick, e);
		{
			struct tick t;
			if (rec_tick(r, &t, e) < 0)
				return -1;
			return rec_write_tick(w, &t, e);
		}
	default:
		err_set(e, EX_SOFTWARE, "cannot write a record of type %d", r->type);
		return -1;
	}
}

int rec_writer_close(struct rec_writer *w, struct err_msg *e)
{
	if (!w)
		return 0;
	int rc = 0;
	if (!w->failed && rec_header(w, e) < 0)
		rc = -1;
	if (rc == 0 && rec_writer_flush(w, e) < 0)
		rc = -1;
	if (w->failed)
		rc = -1;
	if (w->fd >= 0 && close(w->fd) < 0 && rc == 0) {
		err_set(e, EX_IOERR, "%s: close: %s", w->name, strerror(errno));
		rc = -1;
	}
	if (rc < 0 && w->broken_pipe)
		rc = REC_EPIPE;
	free(w->name);
	free(w->buf);
	buf_free(&w->scratch);
	free(w);
	return rc;
}

/*
 * stream: the reader keeps one input buffer that grows to the longest line
 * seen (up to max_line) and hands out lines in place, so a JSON record costs
 * one scan for the newline and one tokenizer pass; nothing is copied unless
 * a field name has escapes.  Binary frames are decoded straight from the
 * buffer.  The writer formats into a 64 KiB buffer and writes it with a
 * loop that survives EINTR and short writes.
 *
 * A batch marker is recognised by its first key, before anything else about
 * the line is known to be right: from then on every fault of the line is a
 * fault of the marker (REC_BAD_MARKER), because a marker taken for a bad
 * data record would fold its batch's records into the next batch.  Control
 * frames of binary streams hold control-line text and go through the same
 * JSON parse, so a malformed marker passed on through a binary stage is
 * read back as the same malformed marker.
 */
#include "record/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/utf8.h"
#include "record/record_internal.h"
#include "text/jscan.h"

#define REC_READ_CHUNK (256u << 10)
#define REC_WBUF_SIZE  (64u << 10)
#define REC_PIPE_SIZE  (1 << 20) /* what a pipe between programs is asked to hold */

/* Frame kinds (byte 0 of a frame). */
enum { FRAME_TICK = TICK_FRAME_KIND, FRAME_BATCH = 2, FRAME_CONTROL = 3, FRAME_CONT = 4 };

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
	struct buf names;   /* unescaped field names of the current record */
	struct buf control; /* the text of a control frame, or of a bad batch frame */
	struct buf mkeys;   /* unescaped member names of the current batch marker */
};

/*
 * A pipe between two programs holds 64 KiB by default: a few hundred
 * records, a fraction of a batch.  While delta-append makes a commit
 * durable, the programs before it stopped as soon as that was full, and
 * the stages of a pipeline took turns instead of running together.  Both
 * ends ask for REC_PIPE_SIZE (either end's request sizes the one pipe);
 * where that is refused (a per-user limit), the pipe stays as it was.
 */
static void widen_pipe(int fd)
{
#if defined(__linux__) && !defined(F_SETPIPE_SZ)
#define F_SETPIPE_SZ 1031 /* fcntl.h names them only for _GNU_SOURCE */
#define F_GETPIPE_SZ 1032
#endif
#ifdef F_SETPIPE_SZ
	int have = fcntl(fd, F_GETPIPE_SZ);
	if (have >= 0 && have < REC_PIPE_SIZE)
		(void)fcntl(fd, F_SETPIPE_SZ, REC_PIPE_SIZE);
#else
	(void)fd;
#endif
}

struct rec_reader *rec_reader_new(int fd, const char *name, size_t max_line)
{
	struct rec_reader *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->fd = fd;
	widen_pipe(fd);
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
	buf_free(&r->mkeys);
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

/*
 * A malformed record (type REC_BAD) or batch marker (REC_BAD_MARKER): the
 * reason in e, with the place ("line N" in JSON, where a record is a line;
 * "record N" in binary).
 */
static int rec_bad(struct rec_reader *r, struct rec *out, struct err_msg *e, int type,
                   const char *fmt, ...) ERR_PRINTF(5, 6);

static int rec_bad(struct rec_reader *r, struct rec *out, struct err_msg *e, int type,
                   const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (type == REC_BAD_MARKER)
		err_set(e, EX_DATAERR, "%s: %s %llu: malformed batch marker: %s", r->name,
		        r->format == REC_FMT_BINARY ? "record" : "line",
		        (unsigned long long)out->number, why);
	else
		err_set(e, EX_DATAERR, "%s: record %llu: %s", r->name,
		        (unsigned long long)out->number, why);
	out->type = type;
	return type;
}

/* Does a marker's app hold only what a writer may put there? */
static int rec_app_valid(const char *s, size_t n)
{
	if (n > REC_APP_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return 0;
	/*
	 * UTF-8, as in a JSON marker: the app is the txn's appId in the log,
	 * and JSON text could not state other bytes as they are.
	 */
	return utf8_valid(s, n) == 0;
}

static int rec_key_is(const char *k, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(k, lit, n) == 0;
}

/*
 * Fill b from the JSON object text s[0..n) of an @batch value.  Returns 0,
 * or -1 with *why (static text, or in whybuf) saying which rule it breaks.
 */
static int rec_parse_batch(struct rec_reader *r, const char *s, size_t n, struct rec_batch *b,
                           char *whybuf, size_t whylen, const char **why)
{
	enum { HAVE_ID = 1, HAVE_RECORDS = 2, HAVE_STATUS = 4 };
	struct jscan js;
	struct jscan_token t, v;
	/* Member names, unescaped and kept until the end to find repeats. */
	const char *kname[REC_MAX_FIELDS];
	size_t klen[REC_MAX_FIELDS], nk = 0;
	int have = 0;
	memset(b, 0, sizeof *b);
	buf_reset(&r->mkeys);
	/* Unescaped names are never longer than the text: reserve once, never move. */
	if (buf_reserve(&r->mkeys, n) < 0) {
		*why = "out of memory";
		return -1;
	}
	jscan_init(&js, s, n);
	if (jscan_next(&js, &t) != JS_OBJ) {
		*why = "@batch is not an object";
		return -1;
	}
	for (;;) {
		int k = jscan_next(&js, &t);
		if (k == JS_OBJ_END)
			break;
		if (k != JS_KEY || (k = jscan_next(&js, &v)) == JS_ERR) {
			*why = "@batch is not valid JSON";
			return -1;
		}
		if (nk == REC_MAX_FIELDS) {
			*why = "@batch has more than 1024 members";
			return -1;
		}
		const char *name = t.s;
		size_t nlen = t.n;
		if (t.escaped) {
			size_t at = r->mkeys.len;
			if (jscan_unescape(t.s, t.n, &r->mkeys) < 0) {
				*why = "@batch has a bad escape in a member name";
				return -1;
			}
			name = r->mkeys.data + at;
			nlen = r->mkeys.len - at;
		}
		for (size_t i = 0; i < nk; i++)
			if (klen[i] == nlen && memcmp(kname[i], name, nlen) == 0) {
				snprintf(whybuf, whylen, "@batch repeats \"%.*s\"",
				         (int)(nlen > 60 ? 60 : nlen), name);
				*why = whybuf;
				return -1;
			}
		kname[nk] = name;
		klen[nk++] = nlen;

		/* String values unescaped; the ones read here are short. */
		char sval[REC_APP_MAX + 1];
		size_t slen = 0;
		int str_ok = 0;
		if (k == JS_STR) {
			if (!v.escaped) {
				str_ok = v.n <= REC_APP_MAX;
				if (str_ok)
					memcpy(sval, v.s, slen = v.n);
			} else if (v.n <= REC_APP_MAX * 6) {
				struct buf u = BUF_INIT;
				str_ok = jscan_unescape(v.s, v.n, &u) == 0 && u.len <= REC_APP_MAX;
				if (str_ok && u.len)
					memcpy(sval, u.data, slen = u.len);
				buf_free(&u);
			}
		}
		if (rec_key_is(name, nlen, "app")) {
			if (!str_ok || !rec_app_valid(sval, slen)) {
				*why = "@batch app must be a string of at most 255 bytes without "
				       "control characters";
				return -1;
			}
			memcpy(b->app, sval, slen);
			b->app[slen] = '\0';
		} else if (rec_key_is(name, nlen, "status")) {
			if (str_ok && slen == 2 && memcmp(sval, "ok", 2) == 0)
				b->status = BATCH_OK;
			else if (str_ok && slen == 6 && memcmp(sval, "failed", 6) == 0)
				b->status = BATCH_FAILED;
			else {
				*why = "@batch status must be \"ok\" or \"failed\"";
				return -1;
			}
			have |= HAVE_STATUS;
		} else if (rec_key_is(name, nlen, "id") || rec_key_is(name, nlen, "records") ||
		           rec_key_is(name, nlen, "rejected")) {
			int ok = 0;
			int64_t x = k == JS_NUM ? rec_parse_i64(v.s, v.n, &ok) : 0;
			if (!ok || x < 0) {
				snprintf(whybuf, whylen,
				         "@batch %.*s must be a non-negative integer", (int)nlen,
				         name);
				*why = whybuf;
				return -1;
			}
			if (name[0] == 'i') {
				b->id = x;
				have |= HAVE_ID;
			} else if (name[2] == 'c') {
				b->records = x;
				have |= HAVE_RECORDS;
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
	if (have != (HAVE_ID | HAVE_RECORDS | HAVE_STATUS)) {
		*why = "@batch needs id, records and status";
		return -1;
	}
	return 0;
}

/*
 * Parse one JSON line at s[0..n) into out: a data record, a control line,
 * a batch marker, or what is wrong with it.
 */
static int rec_parse_line(struct rec_reader *r, const char *s, size_t n, struct rec *out,
                          struct err_msg *e)
{
	struct jscan js;
	struct jscan_token t, v;
	size_t nf = 0;
	int bad = REC_BAD; /* REC_BAD_MARKER once the first key says "@batch" */
	out->text = s;
	out->text_len = n;
	out->fields = NULL;
	out->nfields = 0;
	jscan_init(&js, s, n);
	if (jscan_next(&js, &t) != JS_OBJ)
		return rec_bad(r, out, e, bad, "%s", js.error ? js.error : "not a JSON object");
	buf_reset(&r->names);
	/* Unescaped names are never longer than the line: reserve once, never move. */
	if (buf_reserve(&r->names, n) < 0)
		return rec_bad(r, out, e, bad, "%s", "out of memory");
	for (;;) {
		int k = jscan_next(&js, &t);
		if (k == JS_OBJ_END)
			break;
		if (k != JS_KEY)
			return rec_bad(r, out, e, bad, "invalid JSON: %s",
			               js.error ? js.error : "?");
		struct rec_field *f = &r->fields[nf];
		if (t.escaped) {
			size_t at = r->names.len;
			if (jscan_unescape(t.s, t.n, &r->names) < 0)
				return rec_bad(r, out, e, bad, "%s", "bad escape in a field name");
			f->name = r->names.data + at;
			f->name_len = r->names.len - at;
		} else {
			f->name = t.s;
			f->name_len = t.n;
		}
		if (nf == 0 && rec_key_is(f->name, f->name_len, "@batch"))
			bad = REC_BAD_MARKER;
		k = jscan_next(&js, &v);
		if (k == JS_ERR)
			return rec_bad(r, out, e, bad, "invalid JSON: %s", js.error);
		if (nf == REC_MAX_FIELDS)
			return rec_bad(r, out, e, bad, "%s", "more than 1024 fields");
		nf++;
		f->type = k;
		f->escaped = v.escaped;
		if (k == JS_OBJ || k == JS_ARR) {
			if (jscan_skip(&js, &v, &f->val, &f->val_len) < 0)
				return rec_bad(r, out, e, bad, "invalid JSON: %s",
				               js.error ? js.error : "?");
		} else {
			f->val = v.s;
			f->val_len = v.n;
		}
		for (size_t i = 0; i + 1 < nf; i++)
			if (r->fields[i].name_len == f->name_len &&
			    memcmp(r->fields[i].name, f->name, f->name_len) == 0)
				return rec_bad(r, out, e, bad, "duplicate field \"%.*s\"",
				               (int)(f->name_len > 60 ? 60 : f->name_len), f->name);
	}
	if (jscan_next(&js, &t) != JS_END)
		return rec_bad(r, out, e, bad, "invalid JSON: %s", js.error ? js.error : "?");
	out->fields = r->fields;
	out->nfields = nf;
	if (bad == REC_BAD_MARKER) {
		const struct rec_field *f = &r->fields[0];
		char whybuf[128];
		const char *why = NULL;
		if (nf != 1)
			return rec_bad(r, out, e, bad, "%s",
			               "a batch marker has one member, \"@batch\"");
		if (f->type != JS_OBJ)
			return rec_bad(r, out, e, bad, "%s", "@batch is not an object");
		if (rec_parse_batch(r, f->val, f->val_len, &out->batch, whybuf, sizeof whybuf,
		                    &why) < 0)
			return rec_bad(r, out, e, bad, "%s", why);
		out->type = REC_BATCH;
		return REC_BATCH;
	}
	if (nf == 1 && r->fields[0].name_len > 0 && r->fields[0].name[0] == '@') {
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
				out->text = NULL;
				out->text_len = 0;
				return rec_bad(r, out, e, REC_BAD, "line longer than %zu bytes",
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
			out->text = NULL;
			out->text_len = 0;
			return rec_bad(r, out, e, REC_BAD, "line longer than %zu bytes",
			               r->max_line);
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

/*
 * Read the payload of a frame that continues in continuation frames: len
 * bytes, the first `first` of them at f + off, into dst.  Returns 0, or -1
 * (e set) when a continuation frame is missing.
 */
static int rec_read_payload(struct rec_reader *r, const struct rec *out, const unsigned char *f,
                            size_t off, size_t len, struct buf *dst, const char *what,
                            struct err_msg *e)
{
	size_t first = len < REC_FRAME_SIZE - off ? len : REC_FRAME_SIZE - off;
	buf_reset(dst);
	if (buf_append(dst, f + off, first) < 0) {
		err_set(e, EX_SOFTWARE, "%s: out of memory", r->name);
		return -1;
	}
	while (dst->len < len) {
		ssize_t have = rec_fill(r, REC_FRAME_SIZE, e);
		if (have < 0)
			return -1;
		if (have < REC_FRAME_SIZE || (unsigned char)r->data[r->pos] != FRAME_CONT) {
			err_set(e, EX_DATAERR, "%s: record %llu: %s frame without its continuation",
			        r->name, (unsigned long long)out->number, what);
			return -1;
		}
		size_t k = len - dst->len;
		if (k > REC_FRAME_SIZE - 1)
			k = REC_FRAME_SIZE - 1;
		if (buf_append(dst, r->data + r->pos + 1, k) < 0) {
			err_set(e, EX_SOFTWARE, "%s: out of memory", r->name);
			return -1;
		}
		r->pos += REC_FRAME_SIZE;
	}
	return 0;
}

/*
 * A batch frame that breaks the rules becomes the JSON text of the same
 * fields (status as its number when it is neither ok nor failed), which
 * breaks the same rules when it is read again: passed on, it fails the
 * same batch downstream.
 */
static int rec_bad_batch_frame(struct rec_reader *r, struct rec *out, struct err_msg *e,
                               const struct buf *app, int status, const char *why)
{
	struct rec_batch *b = &out->batch;
	struct buf *t = &r->control;
	struct buf a = BUF_INIT;
	buf_append(&a, app->data ? app->data : "", app->len);
	buf_reset(t);
	buf_puts(t, "{\"@batch\":{\"app\":");
	buf_json_str(t, a.data ? a.data : "", a.len);
	buf_free(&a);
	buf_printf(t,
	           ",\"id\":%lld,\"records\":%lld,\"rejected\":%lld,\"status\":", (long long)b->id,
	           (long long)b->records, (long long)b->rejected);
	if (status == BATCH_OK || status == BATCH_FAILED)
		buf_puts(t, status == BATCH_OK ? "\"ok\"}}" : "\"failed\"}}");
	else
		buf_printf(t, "%d}}", status);
	if (buf_failed(t)) {
		err_set(e, EX_SOFTWARE, "%s: out of memory", r->name);
		return -1;
	}
	out->text = t->data;
	out->text_len = t->len;
	out->fields = NULL;
	out->nfields = 0;
	return rec_bad(r, out, e, REC_BAD_MARKER, "%s", why);
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
	out->text = NULL;
	out->text_len = 0;
	out->fields = NULL;
	out->nfields = 0;
	switch (f[0]) {
	case FRAME_TICK:
		if (tick_from_frame(f, &out->tick) < 0)
			return rec_bad(r, out, e, REC_BAD, "%s", "malformed tick frame");
		out->type = REC_DATA;
		return REC_DATA;
	case FRAME_BATCH: {
		struct rec_batch *b = &out->batch;
		memset(b, 0, sizeof *b);
		int status = f[1];
		size_t applen = rec_get_le16(f + 2);
		b->id = rec_get_le64(f + 8);
		b->records = rec_get_le64(f + 16);
		b->rejected = rec_get_le64(f + 24);
		/* Past 255 bytes the frame's length cannot be trusted, nor what follows it. */
		if (applen > REC_APP_MAX) {
			err_set(e, EX_DATAERR,
			        "%s: record %llu: batch frame with an app of %zu bytes", r->name,
			        (unsigned long long)out->number, applen);
			return -1;
		}
		if (rec_read_payload(r, out, f, 32, applen, &r->control, "batch", e) < 0)
			return -1;
		memcpy(b->app, r->control.data ? r->control.data : "", applen);
		b->app[applen] = '\0';
		b->status = status;
		if (status > BATCH_FAILED)
			return rec_bad_batch_frame(r, out, e, &r->control, status,
			                           "status is neither 0 (ok) nor 1 (failed)");
		if (b->id < 0 || b->records < 0 || b->rejected < 0)
			return rec_bad_batch_frame(r, out, e, &r->control, status,
			                           "a negative id, records or rejected");
		if (!rec_app_valid(b->app, applen) || strlen(b->app) != applen)
			return rec_bad_batch_frame(r, out, e, &r->control, status,
			                           "app holds a control character or bytes "
			                           "that are not UTF-8");
		out->type = REC_BATCH;
		return REC_BATCH;
	}
	case FRAME_CONTROL: {
		size_t len = rec_get_le32(f + 4);
		if (len == 0 || len > REC_CONTROL_MAX) {
			err_set(e, EX_DATAERR, "%s: record %llu: malformed control frame", r->name,
			        (unsigned long long)out->number);
			return -1;
		}
		if (rec_read_payload(r, out, f, 8, len, &r->control, "control", e) < 0)
			return -1;
		int k = rec_parse_line(r, r->control.data, r->control.len, out, e);
		if (k == REC_DATA)
			return rec_bad(r, out, e, REC_BAD, "%s",
			               "a control frame that holds no control line");
		return k;
	}
	default:
		return rec_bad(r, out, e, REC_BAD, "%s", "unknown frame kind");
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
			if (rec_get_le16(h + 8) != REC_BIN_VERSION) {
				err_set(
				    e, EX_DATAERR,
				    "%s: binary stream version %u is not supported (this is %d)",
				    r->name, rec_get_le16(h + 8), REC_BIN_VERSION);
				return -1;
			}
			if (rec_get_le16(h + 10) != REC_FRAME_SIZE) {
				err_set(e, EX_DATAERR, "%s: binary frame size %u, expected %d",
				        r->name, rec_get_le16(h + 10), REC_FRAME_SIZE);
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

int rec_tick(const struct rec *r, struct tick *t, struct err_msg *e)
{
	if (r->format == REC_FMT_BINARY) {
		*t = r->tick;
		return 0;
	}
	return tick_from_fields(r->fields, r->nfields, r->number, t, e);
}

/* Batches ---------------------------------------------------------------------- */

const char *rec_batch_label(const struct rec_batch *b, char *out, size_t n)
{
	if (b->app[0])
		snprintf(out, n, "batch %s/%lld", b->app, (long long)b->id);
	else
		snprintf(out, n, "batch %lld", (long long)b->id);
	return out;
}

int rec_batch_to_json(const struct rec_batch *b, struct buf *out)
{
	int rc = buf_puts(out, "{\"@batch\":{");
	if (b->app[0]) {
		rc |= buf_puts(out, "\"app\":");
		rc |= buf_json_str(out, b->app, strlen(b->app));
		rc |= buf_putc(out, ',');
	}
	rc |= buf_puts(out, "\"id\":");
	rc |= buf_i64(out, b->id);
	rc |= buf_puts(out, ",\"records\":");
	rc |= buf_i64(out, b->records);
	rc |= buf_puts(out, ",\"rejected\":");
	rc |= buf_i64(out, b->rejected);
	rc |= buf_puts(out,
	               b->status == BATCH_OK ? ",\"status\":\"ok\"}}" : ",\"status\":\"failed\"}}");
	return rc ? -1 : 0;
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
	struct tick_json_memo memo; /* the dates of the ticks written last (JSON) */
};

struct rec_writer *rec_writer_new(int fd, const char *name, int format)
{
	struct rec_writer *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->fd = fd;
	widen_pipe(fd);
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
	rec_put_le16(h + 8, REC_BIN_VERSION);
	rec_put_le16(h + 10, REC_FRAME_SIZE);
	w->header_done = 1;
	return rec_put(w, h, sizeof h, e);
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
		if (tick_to_json_memo(t, &w->memo, &w->scratch) < 0) {
			err_set(e, EX_SOFTWARE, "out of memory");
			return -1;
		}
		return rec_put_line(w, w->scratch.data, w->scratch.len, e);
	}
	if (rec_header(w, e) < 0)
		return -1;
	/* Straight into the buffer: a frame always fits one. */
	if (w->len + REC_FRAME_SIZE > REC_WBUF_SIZE && rec_writer_flush(w, e) < 0)
		return -1;
	if (w->failed) {
		err_set(e, EX_IOERR, "%s: an earlier write failed", w->name);
		return -1;
	}
	tick_to_frame(t, w->buf + w->len);
	w->len += REC_FRAME_SIZE;
	return 0;
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
	if (!rec_app_valid(b->app, applen)) {
		err_set(e, EX_SOFTWARE,
		        "a batch marker's app must be at most %d bytes of UTF-8 without control "
		        "characters",
		        REC_APP_MAX);
		return -1;
	}
	if (b->id < 0 || b->records < 0 || b->rejected < 0 ||
	    (b->status != BATCH_OK && b->status != BATCH_FAILED)) {
		err_set(e, EX_SOFTWARE,
		        "a batch marker with a negative count or an unknown status");
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
	rec_put_le16(f + 2, (uint16_t)applen);
	rec_put_le64(f + 8, b->id);
	rec_put_le64(f + 16, b->records);
	rec_put_le64(f + 24, b->rejected);
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
	rec_put_le32(f + 4, (uint32_t)len);
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
	case REC_BAD_MARKER:
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

/*
 * tick: the tick record's two forms.  Writing JSON formats straight into
 * the caller's buffer after reserving the widest record once, so a tick
 * costs no reallocation and no printf; the keys are literals of known
 * length, and a run of ticks works out each date's text once (ts_memo).
 * Reading JSON has two paths: a cursor that accepts only the exact layout
 * tick_to_json() writes (what every stage downstream of tick-normalize
 * sees, parsed without a tokenizer), and the general conversion from
 * tokenized members, which takes any order, strings for numbers, and says
 * what is wrong.  Both
 * accept the same values: the fast path gives up rather than decide
 * anything the general path would decide differently.
 */
#include "record/tick.h"

#include <stdio.h>
#include <string.h>

#include "base/utf8.h"
#include "record/record_internal.h"
#include "record/stream.h"
#include "text/decimal.h"
#include "text/jscan.h"
#include "text/ts.h"

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

int64_t rec_parse_i64(const char *s, size_t n, int *ok)
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

/* JSON members -> tick ----------------------------------------------------- */

static int tick_field_index(const char *s, size_t n)
{
	for (int i = 0; i < TICK_FIELD_COUNT; i++)
		if (strlen(tick_field_names[i]) == n && memcmp(tick_field_names[i], s, n) == 0)
			return i;
	return -1;
}

static int tick_bad(struct err_msg *e, uint64_t number, const char *field, const char *why)
{
	err_set(e, EX_DATAERR, "record %llu: field \"%s\": %s", (unsigned long long)number, field,
	        why);
	return -1;
}

/*
 * The text of a short string or number member, unescaped into tmp[cap] when
 * it has escapes.  Returns its length, or -1 when it does not fit or its
 * escapes are bad.
 */
static int tick_member_text(const struct rec_field *f, char *tmp, size_t cap, const char **s)
{
	if (!f->escaped) {
		*s = f->val;
		return f->val_len < cap ? (int)f->val_len : -1;
	}
	/* An escape is at most 6 bytes for one byte of output: longer cannot fit. */
	if (f->val_len >= cap * 6)
		return -1;
	struct buf b = BUF_INIT;
	int n = -1;
	if (rec_field_string(f, &b) == 0 && b.len < cap) {
		memcpy(tmp, b.data, b.len);
		n = (int)b.len;
	}
	buf_free(&b);
	*s = tmp;
	return n;
}

/* A short string field copied into dst[cap] (cap includes the NUL). */
static int tick_copy_str(const struct rec_field *f, char *dst, size_t cap)
{
	char tmp[64];
	const char *s;
	int n = tick_member_text(f, tmp, sizeof tmp, &s);
	if (n < 0 || (size_t)n >= cap || memchr(s, '\0', (size_t)n))
		return -1;
	memcpy(dst, s, (size_t)n);
	memset(dst + n, 0, cap - (size_t)n);
	return 0;
}

int tick_from_fields(const struct rec_field *fields, size_t nfields, uint64_t number,
                     struct tick *t, struct err_msg *e)
{
	memset(t, 0, sizeof t[0]);
	unsigned seen = 0;
	for (size_t i = 0; i < nfields; i++) {
		const struct rec_field *f = &fields[i];
		int idx = tick_field_index(f->name, f->name_len);
		if (idx < 0) {
			char name[64];
			snprintf(name, sizeof name, "%.*s",
			         (int)(f->name_len > 60 ? 60 : f->name_len), f->name);
			return tick_bad(e, number, name, "not a field of a tick record");
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
				return tick_bad(e, number, fname,
				                "expected a string of 1 to 15 bytes");
			break;
		case 11: /* source */
			if (f->type != JS_STR || tick_copy_str(f, t->source, sizeof t->source) < 0)
				return tick_bad(e, number, fname,
				                "expected a string of at most 15 bytes");
			break;
		case 1: /* interval */
			if (f->type != JS_STR ||
			    !(t->interval = (uint8_t)tick_interval_parse(f->val, f->val_len)))
				return tick_bad(e, number, fname,
				                "expected 1min, 5min, 15min, 30min, 60min or 1d");
			break;
		case 2:  /* trade_timestamp */
		case 10: /* ingested_at */
			if (f->type != JS_STR ||
			    ts_parse_rfc3339(f->val, f->val_len,
			                     idx == 2 ? &t->trade_timestamp : &t->ingested_at) < 0)
				return tick_bad(e, number, fname, "expected an RFC 3339 timestamp");
			break;
		case 3: /* trade_date */
			if (f->type != JS_STR ||
			    ts_parse_date(f->val, f->val_len, &t->trade_date) < 0)
				return tick_bad(e, number, fname, "expected a date YYYY-MM-DD");
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
				return tick_bad(e, number, fname, why);
			}
			break;
		}
		case 8: /* volume */
		case 9: /* batch_id */ {
			char tmp[32];
			const char *s;
			if (f->type != JS_NUM && f->type != JS_STR)
				return tick_bad(e, number, fname, "expected an integer");
			int n = tick_member_text(f, tmp, sizeof tmp, &s);
			if (n < 0)
				return tick_bad(e, number, fname, "expected a 64-bit integer");
			*(idx == 8 ? &t->volume : &t->batch_id) = rec_parse_i64(s, (size_t)n, &ok);
			if (!ok)
				return tick_bad(e, number, fname, "expected a 64-bit integer");
			break;
		}
		default:
			break;
		}
	}
	t->nulls |= (uint16_t)(~seen & TICK_N_ALL);
	return 0;
}

/* tick -> JSON ---------------------------------------------------------------- */

/* The literal lit at o (a constant length: a few moves, no call). */
#define TICK_PUT(o, lit) (memcpy(o, lit, sizeof lit - 1), (o) + sizeof lit - 1)

/* A string field at o: copied between quotes when nothing in it needs an escape. */
static char *tick_json_text(struct buf *out, char *o, const char *s)
{
	size_t n = strnlen(s, 16);
	int plain = 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		plain &= c >= 0x20 && c != '"' && c != '\\';
	}
	if (!plain) {
		out->len = (size_t)(o - out->data);
		buf_json_str(out, s, n);
		return out->data + out->len;
	}
	*o++ = '"';
	for (size_t i = 0; i < n; i++)
		o[i] = s[i];
	o += n;
	*o++ = '"';
	return o;
}

/* A 64-bit integer at o, its digits written in place from the last. */
static char *tick_json_i64(char *o, int64_t v)
{
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	if (v < 0)
		*o++ = '-';
	size_t n = 1;
	for (uint64_t x = u; x >= 10; x /= 10)
		n++;
	for (size_t i = n; i > 0; i--) {
		o[i - 1] = (char)('0' + u % 10);
		u /= 10;
	}
	return o + n;
}

/* A quoted instant at o. */
static char *tick_json_ts(char *o, int64_t us, struct ts_memo *m)
{
	*o++ = '"';
	o += ts_format_rfc3339_memo(us, m, o);
	*o++ = '"';
	return o;
}

int tick_to_json_memo(const struct tick *t, struct tick_json_memo *m, struct buf *out)
{
	/* The widest record: 12 keys, two escaped 15-byte strings, numbers and timestamps. */
	if (buf_reserve(out, 640) < 0)
		return -1;
	char *o = out->data + out->len;
	unsigned nulls = t->nulls;
	o = TICK_PUT(o, "{\"symbol\":");
	o = nulls & TICK_N_SYMBOL ? TICK_PUT(o, "null") : tick_json_text(out, o, t->symbol);
	o = TICK_PUT(o, ",\"interval\":");
	if (nulls & TICK_N_INTERVAL) {
		o = TICK_PUT(o, "null");
	} else {
		const char *s = tick_interval_name(t->interval);
		size_t n = strlen(s);
		*o++ = '"';
		memcpy(o, s, n);
		o += n;
		*o++ = '"';
	}
	o = TICK_PUT(o, ",\"trade_timestamp\":");
	o = nulls & TICK_N_TIMESTAMP ? TICK_PUT(o, "null")
	                             : tick_json_ts(o, t->trade_timestamp, &m->timestamp);
	o = TICK_PUT(o, ",\"trade_date\":");
	if (nulls & TICK_N_DATE) {
		o = TICK_PUT(o, "null");
	} else {
		*o++ = '"';
		o += ts_format_date_memo(t->trade_date, &m->date, o);
		*o++ = '"';
	}
	o = TICK_PUT(o, ",\"open\":");
	o = nulls & TICK_N_OPEN ? TICK_PUT(o, "null") : o + dec6_format(t->open, o);
	o = TICK_PUT(o, ",\"high\":");
	o = nulls & TICK_N_HIGH ? TICK_PUT(o, "null") : o + dec6_format(t->high, o);
	o = TICK_PUT(o, ",\"low\":");
	o = nulls & TICK_N_LOW ? TICK_PUT(o, "null") : o + dec6_format(t->low, o);
	o = TICK_PUT(o, ",\"close\":");
	o = nulls & TICK_N_CLOSE ? TICK_PUT(o, "null") : o + dec6_format(t->close, o);
	o = TICK_PUT(o, ",\"volume\":");
	o = nulls & TICK_N_VOLUME ? TICK_PUT(o, "null") : tick_json_i64(o, t->volume);
	o = TICK_PUT(o, ",\"batch_id\":");
	o = nulls & TICK_N_BATCH_ID ? TICK_PUT(o, "null") : tick_json_i64(o, t->batch_id);
	o = TICK_PUT(o, ",\"ingested_at\":");
	o = nulls & TICK_N_INGESTED ? TICK_PUT(o, "null")
	                            : tick_json_ts(o, t->ingested_at, &m->ingested);
	o = TICK_PUT(o, ",\"source\":");
	o = nulls & TICK_N_SOURCE ? TICK_PUT(o, "null") : tick_json_text(out, o, t->source);
	*o++ = '}';
	out->len = (size_t)(o - out->data);
	out->data[out->len] = '\0';
	return 0;
}

int tick_to_json(const struct tick *t, struct buf *out)
{
	struct tick_json_memo m = TICK_JSON_MEMO_INIT;
	return tick_to_json_memo(t, &m, out);
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
	/* Each field's separator and key as one literal ("{\"symbol\":", ",\"interval\":", ...). */
#define CANON_KEY(sep, name)                                                                       \
	{                                                                                          \
		sep "\"" name "\":", sizeof sep "\"" name "\":" - 1                                \
	}
	static const struct {
		const char *text;
		size_t n;
	} keys[TICK_FIELD_COUNT] = {
	    CANON_KEY("{", "symbol"),
	    CANON_KEY(",", "interval"),
	    CANON_KEY(",", "trade_timestamp"),
	    CANON_KEY(",", "trade_date"),
	    CANON_KEY(",", "open"),
	    CANON_KEY(",", "high"),
	    CANON_KEY(",", "low"),
	    CANON_KEY(",", "close"),
	    CANON_KEY(",", "volume"),
	    CANON_KEY(",", "batch_id"),
	    CANON_KEY(",", "ingested_at"),
	    CANON_KEY(",", "source"),
	};
#undef CANON_KEY
	memset(t, 0, sizeof *t);
	for (int i = 0; i < TICK_FIELD_COUNT; i++) {
		if (canon_lit(&c, keys[i].text, keys[i].n) < 0)
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

/* Binary form ------------------------------------------------------------------ */

void tick_to_frame(const struct tick *t, unsigned char f[TICK_FRAME_SIZE])
{
	/* Cleared whole first: nothing after a string's NUL in the struct reaches the frame. */
	memset(f, 0, TICK_FRAME_SIZE);
	f[0] = TICK_FRAME_KIND;
	f[1] = t->interval;
	rec_put_le16(f + 2, t->nulls);
	rec_put_le32(f + 4, (uint32_t)t->trade_date);
	memcpy(f + 8, t->symbol, strnlen(t->symbol, TICK_SYMBOL_MAX));
	rec_put_le64(f + 24, t->trade_timestamp);
	rec_put_le64(f + 32, t->open);
	rec_put_le64(f + 40, t->high);
	rec_put_le64(f + 48, t->low);
	rec_put_le64(f + 56, t->close);
	rec_put_le64(f + 64, t->volume);
	rec_put_le64(f + 72, t->batch_id);
	rec_put_le64(f + 80, t->ingested_at);
	memcpy(f + 88, t->source, strnlen(t->source, TICK_SOURCE_MAX));
}

/*
 * Is a frame's text field (16 bytes, NUL-terminated) UTF-8?  Read per
 * record: ASCII, the usual case, is told by one test of all 16 bytes.
 */
static int frame_text_ok(const char s[16])
{
	uint64_t a, b;
	memcpy(&a, s, 8);
	memcpy(&b, s + 8, 8);
	if (!((a | b) & 0x8080808080808080ULL))
		return 1;
	return utf8_valid(s, strlen(s)) == 0;
}

int tick_from_frame(const unsigned char f[TICK_FRAME_SIZE], struct tick *t)
{
	memset(t, 0, sizeof *t);
	t->interval = f[1];
	t->nulls = rec_get_le16(f + 2);
	t->trade_date = (int32_t)rec_get_le32(f + 4);
	memcpy(t->symbol, f + 8, 16);
	t->trade_timestamp = rec_get_le64(f + 24);
	t->open = rec_get_le64(f + 32);
	t->high = rec_get_le64(f + 40);
	t->low = rec_get_le64(f + 48);
	t->close = rec_get_le64(f + 56);
	t->volume = rec_get_le64(f + 64);
	t->batch_id = rec_get_le64(f + 72);
	t->ingested_at = rec_get_le64(f + 80);
	memcpy(t->source, f + 88, 16);
	if (t->symbol[TICK_SYMBOL_MAX] || t->source[TICK_SOURCE_MAX] || (t->nulls & ~TICK_N_ALL) ||
	    (!(t->nulls & TICK_N_INTERVAL) && !tick_interval_name(t->interval)))
		return -1;
	/* Text is UTF-8 in frames as in JSON records. */
	if (!frame_text_ok(t->symbol) || !frame_text_ok(t->source))
		return -1;
	return 0;
}

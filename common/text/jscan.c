/*
 * jscan: a table-driven state machine.  The string scanner passes over
 * printable ASCII eight bytes at a time (one word, a few arithmetic
 * operations that flag a quote, a backslash, a control character or a
 * non-ASCII byte) and checks the bytes near the end of the text against a
 * 256-entry class table; multi-byte UTF-8 is validated only where it occurs.
 * Strings are most of what Delta statistics and record lines hold, so this
 * loop is most of a scan's time.
 */
#include "text/jscan.h"

#include "base/utf8.h"

#include <stdint.h>
#include <string.h>

enum { ST_VALUE, ST_ARR_FIRST, ST_OBJ_FIRST, ST_KEY, ST_AFTER, ST_DONE, ST_ERROR };

/* 0: plain byte inside a string; 1: quote/backslash/control; 2: non-ASCII */
static const unsigned char jscan_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

void jscan_init(struct jscan *js, const char *text, size_t len)
{
	js->p = js->start = text;
	js->end = text + len;
	js->depth = 0;
	js->state = ST_VALUE;
	js->error = NULL;
}

size_t jscan_offset(const struct jscan *js)
{
	return (size_t)(js->p - js->start);
}

const char *jscan_member_text(const struct jscan *js, size_t *left, int *first)
{
	/* Members of an object only: ST_AFTER inside an array expects an element. */
	if ((js->state != ST_OBJ_FIRST && js->state != ST_AFTER) || js->depth == 0 ||
	    js->ctx[js->depth - 1] != '{')
		return NULL;
	*left = (size_t)(js->end - js->p);
	*first = js->state == ST_OBJ_FIRST;
	return js->p;
}

void jscan_member_taken(struct jscan *js, size_t n)
{
	js->p += n;
	js->state = ST_AFTER;
}

static int jscan_fail(struct jscan *js, const char *why)
{
	js->state = ST_ERROR;
	if (!js->error)
		js->error = why;
	return JS_ERR;
}

int jscan_utf8_valid(const char *s, size_t n)
{
	return utf8_valid(s, n);
}

static int jscan_hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

#define JSCAN_ONES UINT64_C(0x0101010101010101)
#define JSCAN_HIGH UINT64_C(0x8080808080808080)

/*
 * The first byte at or after p that is not plain inside a string (a quote,
 * a backslash, a control character or a non-ASCII byte), or end.  A word's
 * flags are exact up to its first flagged byte (a borrow only carries
 * upwards from a byte that is flagged itself), and only the lowest is
 * used.  Lowest address first: the word is read little-endian.
 */
static inline const unsigned char *jscan_plain(const unsigned char *p, const unsigned char *end)
{
	while (end - p >= 8) {
		uint64_t w;
		memcpy(&w, p, sizeof w);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w);
#endif
		uint64_t q = w ^ (JSCAN_ONES * '"'), b = w ^ (JSCAN_ONES * '\\');
		/* A byte below 0x20, a quote or a backslash (a zero byte of q or b), or above 0x7F. */
		uint64_t flag =
		    ((w - JSCAN_ONES * 0x20) | (q - JSCAN_ONES) | (b - JSCAN_ONES) | w) &
		    JSCAN_HIGH;
		if (flag)
			return p + (__builtin_ctzll(flag) >> 3);
		p += 8;
	}
	while (p < end && jscan_class[*p] == 0)
		p++;
	return p;
}

/*
 * The rest of a string from p, its contents starting at s, once a byte
 * that is not plain was met: escapes, UTF-8 sequences and errors.
 */
static __attribute__((noinline)) int jscan_string_rest(struct jscan *js, struct jscan_token *t,
                                                       int type, const unsigned char *s,
                                                       const unsigned char *p)
{
	const unsigned char *end = (const unsigned char *)js->end;
	int escaped = 0;
	for (;;) {
		if (p >= end)
			return jscan_fail(js, "unterminated string");
		unsigned c = *p;
		if (c == '"')
			break;
		if (c == '\\') {
			escaped = 1;
			if (p + 1 >= end)
				return jscan_fail(js, "unterminated string");
			switch (p[1]) {
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				p += 2;
				break;
			case 'u': {
				unsigned cp;
				if (end - p < 6 || jscan_hex4((const char *)p + 2, &cp) < 0)
					return jscan_fail(js, "bad \\u escape in string");
				p += 6;
				break;
			}
			default:
				return jscan_fail(js, "bad escape in string");
			}
		} else if (c < 0x20) {
			return jscan_fail(js, "control character in string");
		} else {
			size_t k = utf8_seq(p, end);
			if (!k)
				return jscan_fail(js, "invalid UTF-8 in string");
			p += k;
		}
		p = jscan_plain(p, end);
	}
	t->type = type;
	t->s = (const char *)s;
	t->n = (size_t)(p - s);
	t->escaped = escaped;
	js->p = (const char *)p + 1;
	return type;
}

/*
 * Scan a string whose opening quote is at js->p.  Inlined where tokens
 * are taken: most strings are plain text up to their closing quote.
 */
static inline __attribute__((always_inline)) int jscan_string(struct jscan *js,
                                                              struct jscan_token *t, int type)
{
	const unsigned char *s = (const unsigned char *)js->p + 1;
	const unsigned char *end = (const unsigned char *)js->end;
	const unsigned char *p = jscan_plain(s, end);
	if (p >= end || *p != '"')
		return jscan_string_rest(js, t, type, s, p);
	t->type = type;
	t->s = (const char *)s;
	t->n = (size_t)(p - s);
	t->escaped = 0;
	js->p = (const char *)p + 1;
	return type;
}

static int jscan_number(struct jscan *js, struct jscan_token *t)
{
	const char *p = js->p, *end = js->end, *s = p;
	if (p < end && *p == '-')
		p++;
	if (p >= end)
		return jscan_fail(js, "bad number");
	if (*p == '0') {
		p++;
		if (p < end && *p >= '0' && *p <= '9')
			return jscan_fail(js, "bad number (leading zero)");
	} else if (*p >= '1' && *p <= '9') {
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	} else {
		return jscan_fail(js, "bad number");
	}
	if (p < end && *p == '.') {
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return jscan_fail(js, "bad number");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return jscan_fail(js, "bad number");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	t->type = JS_NUM;
	t->s = s;
	t->n = (size_t)(p - s);
	t->escaped = 0;
	js->p = p;
	return JS_NUM;
}

static int jscan_literal(struct jscan *js, struct jscan_token *t, const char *word, size_t n,
                         int type)
{
	if ((size_t)(js->end - js->p) < n || memcmp(js->p, word, n) != 0)
		return jscan_fail(js, "unexpected character");
	t->type = type;
	t->s = js->p;
	t->n = n;
	t->escaped = 0;
	js->p += n;
	return type;
}

static inline void jscan_ws(struct jscan *js)
{
	const char *p = js->p, *end = js->end;
	/* Most tokens follow the previous one directly. */
	if (p < end && (unsigned char)*p > ' ')
		return;
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
		p++;
	js->p = p;
}

/* A value starts at js->p (whitespace skipped). */
static inline __attribute__((always_inline)) int jscan_value(struct jscan *js,
                                                             struct jscan_token *t)
{
	char c = *js->p;
	switch (c) {
	case '{':
	case '[':
		if (js->depth >= JSCAN_MAX_DEPTH)
			return jscan_fail(js, "nesting too deep");
		js->ctx[js->depth++] = (unsigned char)c;
		t->type = c == '{' ? JS_OBJ : JS_ARR;
		t->s = js->p++;
		t->n = 1;
		t->escaped = 0;
		js->state = c == '{' ? ST_OBJ_FIRST : ST_ARR_FIRST;
		return t->type;
	case '"':
		js->state = ST_AFTER;
		return jscan_string(js, t, JS_STR);
	case 't':
		js->state = ST_AFTER;
		return jscan_literal(js, t, "true", 4, JS_TRUE);
	case 'f':
		js->state = ST_AFTER;
		return jscan_literal(js, t, "false", 5, JS_FALSE);
	case 'n':
		js->state = ST_AFTER;
		return jscan_literal(js, t, "null", 4, JS_NULL);
	default:
		if (c == '-' || (c >= '0' && c <= '9')) {
			js->state = ST_AFTER;
			return jscan_number(js, t);
		}
		return jscan_fail(js, "unexpected character");
	}
}

static int jscan_close(struct jscan *js, struct jscan_token *t, char c)
{
	char open = c == '}' ? '{' : '[';
	if (js->depth == 0 || js->ctx[js->depth - 1] != (unsigned char)open)
		return jscan_fail(js, "mismatched bracket");
	js->depth--;
	t->type = c == '}' ? JS_OBJ_END : JS_ARR_END;
	t->s = js->p++;
	t->n = 1;
	t->escaped = 0;
	js->state = js->depth ? ST_AFTER : ST_DONE;
	return t->type;
}

static inline __attribute__((always_inline)) int jscan_key(struct jscan *js, struct jscan_token *t)
{
	if (*js->p != '"')
		return jscan_fail(js, "expected a string key");
	if (jscan_string(js, t, JS_KEY) == JS_ERR)
		return JS_ERR;
	jscan_ws(js);
	if (js->p >= js->end || *js->p != ':')
		return jscan_fail(js, "expected ':'");
	js->p++;
	js->state = ST_VALUE;
	return JS_KEY;
}

int jscan_next(struct jscan *js, struct jscan_token *t)
{
	jscan_ws(js);
	switch (js->state) {
	case ST_ERROR:
		return JS_ERR;
	case ST_DONE:
		if (js->p != js->end)
			return jscan_fail(js, "trailing characters after the value");
		t->type = JS_END;
		return JS_END;
	case ST_VALUE:
		if (js->p >= js->end)
			return jscan_fail(js, js->depth ? "unexpected end of text" : "empty text");
		if (jscan_value(js, t) == JS_ERR)
			return JS_ERR;
		if (js->state == ST_AFTER && js->depth == 0)
			js->state = ST_DONE;
		return t->type;
	case ST_ARR_FIRST:
		if (js->p >= js->end)
			return jscan_fail(js, "unexpected end of text");
		if (*js->p == ']')
			return jscan_close(js, t, ']');
		return jscan_value(js, t);
	case ST_OBJ_FIRST:
		if (js->p >= js->end)
			return jscan_fail(js, "unexpected end of text");
		if (*js->p == '}')
			return jscan_close(js, t, '}');
		return jscan_key(js, t);
	case ST_KEY:
		if (js->p >= js->end)
			return jscan_fail(js, "unexpected end of text");
		return jscan_key(js, t);
	case ST_AFTER:
		if (js->p >= js->end)
			return jscan_fail(js, "unexpected end of text");
		if (*js->p == ',') {
			js->p++;
			jscan_ws(js);
			if (js->p >= js->end)
				return jscan_fail(js, "unexpected end of text");
			if (js->ctx[js->depth - 1] == '{') {
				js->state = ST_KEY;
				return jscan_key(js, t);
			}
			return jscan_value(js, t);
		}
		if (*js->p == '}' || *js->p == ']')
			return jscan_close(js, t, *js->p);
		return jscan_fail(js, "expected ',' or a closing bracket");
	default:
		return jscan_fail(js, "scanner state corrupted");
	}
}

int jscan_skip(struct jscan *js, const struct jscan_token *t, const char **raw, size_t *rawlen)
{
	if (t->type == JS_STR) {
		*raw = t->s - 1;
		*rawlen = t->n + 2;
		return 0;
	}
	if (t->type != JS_OBJ && t->type != JS_ARR) {
		*raw = t->s;
		*rawlen = t->n;
		return 0;
	}
	int target = js->depth - 1;
	struct jscan_token u;
	for (;;) {
		int k = jscan_next(js, &u);
		if (k == JS_ERR || k == JS_END)
			return -1;
		if ((k == JS_OBJ_END || k == JS_ARR_END) && js->depth == target)
			break;
	}
	*raw = t->s;
	*rawlen = (size_t)(u.s + 1 - t->s);
	return 0;
}

static void jscan_put_utf8(struct buf *out, unsigned cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | cp >> 12);
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (char)(0xF0 | cp >> 18);
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	buf_append(out, b, n);
}

int jscan_unescape(const char *s, size_t n, struct buf *out)
{
	const char *p = s, *end = s + n;
	if (buf_reserve(out, n) < 0)
		return -1;
	while (p < end) {
		const char *bs = memchr(p, '\\', (size_t)(end - p));
		if (!bs) {
			buf_append(out, p, (size_t)(end - p));
			break;
		}
		buf_append(out, p, (size_t)(bs - p));
		p = bs + 1;
		if (p >= end)
			return -1;
		char c = *p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			buf_putc(out, c);
			break;
		case 'b':
			buf_putc(out, '\b');
			break;
		case 'f':
			buf_putc(out, '\f');
			break;
		case 'n':
			buf_putc(out, '\n');
			break;
		case 'r':
			buf_putc(out, '\r');
			break;
		case 't':
			buf_putc(out, '\t');
			break;
		case 'u': {
			unsigned cp;
			if (end - p < 4 || jscan_hex4(p, &cp) < 0)
				return -1;
			p += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				unsigned lo;
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    jscan_hex4(p + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
					return -1;
				p += 6;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
				return -1;
			}
			jscan_put_utf8(out, cp);
			break;
		}
		default:
			return -1;
		}
	}
	return 0;
}

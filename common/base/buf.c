/*
 * buf: growth doubles the capacity, so n appends cost O(n) amortised.  The
 * JSON string writer escapes only what RFC 8259 requires (quote, backslash,
 * control characters) and passes UTF-8 through untouched.
 */
#include "base/buf.h"

#include "base/utf8.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int buf_reserve(struct buf *b, size_t n)
{
	/* len < cap whenever data is allocated, so cap - len - 1 cannot wrap. */
	if (b->data && n <= b->cap - b->len - 1)
		return 0;
	if (n > SIZE_MAX - 1 - b->len || (b->max && b->len + n > b->max)) {
		b->failed = 1;
		errno = E2BIG;
		return -1;
	}
	size_t need = b->len + n + 1;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (b->max && cap > b->max + 1)
		cap = b->max + 1;
	char *p = realloc(b->data, cap);
	if (!p) {
		b->failed = 1;
		errno = ENOMEM;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	b->data[b->len] = '\0';
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_putc(struct buf *b, char c)
{
	if (buf_reserve(b, 1) < 0)
		return -1;
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return -1;
	}
	if (buf_reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int buf_json_str(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	/* Worst case every byte becomes \u00XX. */
	if (buf_reserve(b, n * 6 + 2) < 0)
		return -1;
	char *o = b->data + b->len;
	*o++ = '"';
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = u[i];
		if (c >= 0x80) {
			/*
			 * JSON text is UTF-8: a byte that does not start a valid
			 * sequence becomes U+FFFD, as delta-cat shows such values.
			 */
			size_t k = utf8_seq(u + i, u + n);
			if (k) {
				memcpy(o, u + i, k);
				o += k;
				i += k - 1;
			} else {
				memcpy(o, "\xef\xbf\xbd", 3);
				o += 3;
			}
			continue;
		}
		if (c >= 0x20 && c != '"' && c != '\\') {
			*o++ = (char)c;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"':
			*o++ = '"';
			break;
		case '\\':
			*o++ = '\\';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o++ = '"';
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
	return 0;
}

int buf_i64(struct buf *b, int64_t v)
{
	char tmp[24];
	char *e = tmp + sizeof tmp, *p = e;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return buf_append(b, p, (size_t)(e - p));
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->failed = 0;
	if (b->data)
		b->data[0] = '\0';
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
}

char *buf_detach(struct buf *b)
{
	if (!b->data && buf_reserve(b, 0) < 0)
		return NULL;
	char *p = b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

/*
 * The shortest decimal text that reads back as v (a float when single), in
 * the form JavaScript gives numbers: plain digits from 1e-6 up to 1e21,
 * exponents outside.  NaN and the infinities are strings.
 */
static size_t buf_number_text(double v, int single, char *out)
{
	if (isnan(v))
		return (size_t)sprintf(out, "\"NaN\"");
	if (isinf(v))
		return (size_t)sprintf(out, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	char e[40], digits[24];
	for (int p = 1; p <= 17; p++) {
		snprintf(e, sizeof e, "%.*e", p - 1, v);
		if (single ? strtof(e, NULL) == (float)v : strtod(e, NULL) == v)
			break;
	}
	const char *s = e;
	char *o = out;
	if (*s == '-')
		*o++ = *s++;
	int k = 0;
	for (; *s && *s != 'e'; s++)
		if (*s != '.')
			digits[k++] = *s;
	while (k > 1 && digits[k - 1] == '0')
		k--;
	int n = atoi(s + 1) + 1; /* the decimal point is after n digits */
	if (k <= n && n <= 21) {
		memcpy(o, digits, (size_t)k);
		o += k;
		for (int i = k; i < n; i++)
			*o++ = '0';
	} else if (0 < n && n <= 21) {
		memcpy(o, digits, (size_t)n);
		o += n;
		*o++ = '.';
		memcpy(o, digits + n, (size_t)(k - n));
		o += k - n;
	} else if (-6 < n && n <= 0) {
		*o++ = '0';
		*o++ = '.';
		for (int i = n; i < 0; i++)
			*o++ = '0';
		memcpy(o, digits, (size_t)k);
		o += k;
	} else {
		*o++ = digits[0];
		if (k > 1) {
			*o++ = '.';
			memcpy(o, digits + 1, (size_t)(k - 1));
			o += k - 1;
		}
		o += sprintf(o, "e%c%d", n - 1 < 0 ? '-' : '+', n - 1 < 0 ? 1 - n : n - 1);
	}
	*o = '\0';
	return (size_t)(o - out);
}

int buf_json_number(struct buf *b, double v, int single)
{
	char text[48];
	return buf_append(b, text, buf_number_text(v, single, text));
}

static const char buf_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int buf_base64(struct buf *b, const void *p, size_t n)
{
	const unsigned char *s = p;
	if (buf_reserve(b, (n + 2) / 3 * 4) < 0)
		return -1;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		char q[4] = {buf_b64[v >> 18], buf_b64[(v >> 12) & 63],
		             i + 1 < n ? buf_b64[(v >> 6) & 63] : '=',
		             i + 2 < n ? buf_b64[v & 63] : '='};
		buf_append(b, q, 4);
	}
	return 0;
}

int buf_base64_decode(struct buf *b, const char *s, size_t n)
{
	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		unsigned v = 0;
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			char ch = s[i + k];
			const char *at = ch ? strchr(buf_b64, ch) : NULL;
			if (ch == '=' && i + 4 == n && k >= 2) {
				pad++;
				v <<= 6;
				continue;
			}
			if (!at || pad)
				return -1;
			v = v << 6 | (unsigned)(at - buf_b64);
		}
		char q[3] = {(char)(v >> 16), (char)(v >> 8), (char)v};
		if (buf_append(b, q, (size_t)(3 - pad)) < 0)
			return -1;
	}
	return buf_reserve(b, 0);
}

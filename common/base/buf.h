/*
 * buf: a growable byte buffer with an upper bound.
 *
 * The buffer owns its memory; buf_free() releases it.  Every append checks
 * the bound (max, 0 = unbounded) and fails with -1 instead of growing past
 * it, so inputs stay within their documented maximum size.  The contents
 * are always NUL-terminated (the NUL is not counted in len) so that text can
 * be handed to functions that expect C strings.
 *
 * A failed append also sets a sticky flag, so that code building a long
 * text (a commit, a record) may append without checking each call and
 * check buf_failed() once before it uses the text: nothing is ever
 * truncated silently.  The flag clears with buf_reset() and buf_free().
 */
#ifndef STOCKETL_BUF_H
#define STOCKETL_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* 0: no limit */
	int failed; /* an append failed since the last reset (sticky) */
};

#define BUF_INIT                                                                                   \
	{                                                                                          \
		NULL, 0, 0, 0, 0                                                                   \
	}

/* Make room for n more bytes; -1 (errno ENOMEM or E2BIG) when it cannot. */
int buf_reserve(struct buf *b, size_t n);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Append s[0..n) as a JSON string literal, quotes included, escaping as
 * RFC 8259 requires; a byte that is not part of valid UTF-8 becomes U+FFFD.
 */
int buf_json_str(struct buf *b, const char *s, size_t n);
/* Append a signed 64-bit integer in decimal. */
int buf_i64(struct buf *b, int64_t v);
/*
 * Append the shortest decimal text that reads back as v (as a float when
 * single), in the form JavaScript gives numbers: plain digits from 1e-6 to
 * 1e21, an exponent outside; NaN and the infinities as the JSON strings
 * "NaN", "Infinity", "-Infinity".
 */
int buf_json_number(struct buf *b, double v, int single);
/* Append the base64 (RFC 4648, padded) of p[0..n); decode s[0..n) back (-1 if malformed). */
int buf_base64(struct buf *b, const void *p, size_t n);
int buf_base64_decode(struct buf *b, const char *s, size_t n);
/* Did an append fail since the buffer was last reset? */
static inline int buf_failed(const struct buf *b)
{
	return b->failed;
}
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Take ownership of the data (NUL-terminated); the buffer is left empty. */
char *buf_detach(struct buf *b);

#endif

/*
 * t_spaced: a JSON line with a space after each colon outside strings,
 * which means the same to a JSON reader but takes every bar of an envelope
 * off the reader's fast path (it reads only the compact layout av-fetch
 * stores).  Shared by the envelope's unit test and its fuzz target.
 */
#ifndef STOCKETL_T_SPACED_H
#define STOCKETL_T_SPACED_H
#include <stddef.h>

#include "base/buf.h"

/* s[0..n) with a space after each colon outside strings, into out. */
static inline void spaced(const char *s, size_t n, struct buf *out)
{
	int in_str = 0;
	buf_reset(out);
	for (size_t i = 0; i < n; i++) {
		buf_putc(out, s[i]);
		if (in_str && s[i] == '\\' && i + 1 < n)
			buf_putc(out, s[++i]);
		else if (s[i] == '"')
			in_str = !in_str;
		else if (!in_str && s[i] == ':')
			buf_putc(out, ' ');
	}
}

#endif

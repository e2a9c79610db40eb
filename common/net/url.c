/*
 * url: percent-encoding and query parameters (see url.h).  Kept apart from
 * http.c so that linking them never pulls in libcurl.
 */
#include "net/url.h"

#include <string.h>

int url_pct_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		/* RFC 3986 unreserved characters, ASCII only whatever the locale. */
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			if (buf_putc(b, (char)ch) < 0)
				return -1;
		} else {
			char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
			if (buf_append(b, esc, 3) < 0)
				return -1;
		}
	}
	return 0;
}

int url_param(struct buf *url, const char *name, const char *value)
{
	const char *q = url->data ? strchr(url->data, '?') : NULL;
	char last = url->len ? url->data[url->len - 1] : '\0';
	if (!q) {
		if (buf_putc(url, '?') < 0)
			return -1;
	} else if (last != '?' && last != '&') {
		if (buf_putc(url, '&') < 0)
			return -1;
	}
	if (url_pct_encode(url, name) < 0 || buf_putc(url, '=') < 0 ||
	    url_pct_encode(url, value) < 0)
		return -1;
	return 0;
}

/*
 * url: the query strings of request URLs, built without the transfer code:
 * the Alpha Vantage module builds its requests here, and the programs that
 * only parse answers (tick-normalize) need not load libcurl for it.
 */
#ifndef STOCKETL_URL_H
#define STOCKETL_URL_H

#include "base/buf.h"

/* Append s percent-encoded as an RFC 3986 query component.  Returns 0 or -1 (out of memory). */
int url_pct_encode(struct buf *out, const char *s);

/*
 * Append "name=value" to the URL in url, after '?' if it has no query yet
 * and '&' otherwise, percent-encoding both as RFC 3986 requires of a query
 * component.  Returns 0, or -1 when out of memory.
 */
int url_param(struct buf *url, const char *name, const char *value);

#endif

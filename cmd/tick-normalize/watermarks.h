/*
 * watermarks: the newest bar already loaded, per (symbol, interval), that
 * tick-normalize --watermarks reads so that a job fetching overlapping
 * answers passes each bar on about once.
 *
 * The file is JSON lines, one object per key:
 *
 *     {"symbol":"IBM","interval":"5min","newest":"2025-06-17T15:20:00Z"}
 *
 * symbol as requested ([A-Za-z0-9.-]{1,15}, kept in upper case), interval a
 * tick interval name (1min ... 60min, 1d), newest an RFC 3339 time.  Other
 * members are ignored (a spool "watermark" line is a valid line).  A key
 * that appears twice keeps its newest time.  A bar older than its key's
 * watermark is dropped; the watermark's own bar is not, since the API
 * revises the newest bar while it forms.
 *
 * Ownership: a watermarks set owns its entries; wm_free() releases them.
 */
#ifndef TICK_NORMALIZE_WATERMARKS_H
#define TICK_NORMALIZE_WATERMARKS_H

#include <stddef.h>
#include <stdint.h>

#include "base/strmap.h"

/* Room for a reason given by wm_add_line(). */
#define WM_WHY_MAX 160

struct watermarks {
	struct strmap keys; /* "SYMBOL/interval" -> struct wm_entry */
};

#define WATERMARKS_INIT                                                                            \
	{                                                                                          \
		STRMAP_INIT                                                                        \
	}

/*
 * Add the watermark that the line s[0..n) (no newline) states.  Returns 0;
 * -1 when the line is not a watermark, with the reason in why (e.g.
 * "member \"newest\": not an RFC 3339 time"); -2 when out of memory.
 */
int wm_add_line(struct watermarks *w, const char *s, size_t n, char why[WM_WHY_MAX]);

/*
 * The watermark of (symbol, interval) in microseconds since the epoch, or
 * INT64_MIN when the key has none.  symbol is upper case, as in ticks.
 */
int64_t wm_get(const struct watermarks *w, const char *symbol, int interval);

/* The number of keys. */
size_t wm_count(const struct watermarks *w);

void wm_free(struct watermarks *w);

#endif

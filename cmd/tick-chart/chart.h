/*
 * chart: what tick-chart's parts share.
 *
 * A panel is the bars of one (symbol, interval).  It aggregates them as
 * they arrive at every candle size at once (the bars themselves, then 5
 * minutes, 15 minutes, ... up to a century, each aligned to the calendar of
 * the chart's time zone); a size that would need more candles than the
 * panel has room for is dropped and its memory freed, so memory is bounded
 * by the panel's width, not by the input.  At the end the finest size still
 * kept is drawn (bucket.c).  svg.c lays the panels out and writes the SVG.
 *
 * Ownership: a panel owns its levels' candle arrays; chart_panel_free()
 * releases them.  The time zone belongs to the caller.
 */
#ifndef TICK_CHART_H
#define TICK_CHART_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "record/tick.h"
#include "text/tz.h"

/* Candle sizes and axis label steps, finest first. */
enum chart_unit {
	U_BAR = 0, /* the input's own bars */
	U_5MIN,
	U_15MIN,
	U_30MIN,
	U_1H,
	U_2H,
	U_4H,
	U_DAY,
	U_WEEK, /* weeks start on Monday */
	U_MONTH,
	U_QUARTER,
	U_YEAR,
	U_DECADE,
	U_CENTURY,
	U_COUNT
};

/* An instant read on the wall clock of the chart's zone. */
struct chart_when {
	int64_t local; /* seconds since the epoch, local wall-clock time read as UTC */
	int64_t days;  /* local date, days since the epoch */
	int year, month, day, hour, minute;
};

/* One candle: a bar, or the bars of one bucket merged. Prices are decimal(18,6), unscaled. */
struct chart_candle {
	int64_t key;    /* the bucket (the bar's time for U_BAR) */
	int64_t t0, t1; /* start of its first and last bar, microseconds UTC */
	int64_t open, high, low, close;
	int64_t volume;
	int64_t bars;
};

struct chart_level {
	int unit;
	int dropped; /* more buckets than the panel can draw: no longer kept */
	size_t n, cap;
	struct chart_candle *v; /* sorted by key */
};

struct chart_panel {
	char symbol[TICK_SYMBOL_MAX + 1];
	int interval; /* enum tick_interval */
	size_t limit; /* most candles the panel draws */
	int nlevels;
	struct chart_level levels[U_COUNT];
	int64_t records; /* records taken in */
};

/* Layout and look, from the command line. */
struct chart_opts {
	int width, height; /* pixels: the chart's width, one panel's height */
	const char *title; /* NULL: none */
	const struct tz *zone;
};

/* The most candles a panel of the given width draws (one per 3 pixels). */
size_t chart_capacity(int width);

/* Set up a panel for (symbol, interval) that draws at most limit candles. */
void chart_panel_init(struct chart_panel *p, const char *symbol, int interval, size_t limit);
void chart_panel_free(struct chart_panel *p);
/*
 * Take one bar in.  Bars may come in any order; a bar whose time was seen
 * before replaces the earlier one among the bars drawn one by one (the
 * later record wins), while in aggregated candles each record counts.
 * Returns 0, or -1 when memory ran out.
 */
int chart_panel_add(struct chart_panel *p, const struct tick *t, const struct tz *z);
/* The finest level still kept (there always is one: a century per candle at worst). */
const struct chart_level *chart_panel_level(const struct chart_panel *p);

/* The wall-clock reading of utc_us in zone z. */
void chart_when(const struct tz *z, int64_t utc_us, struct chart_when *w);
/* The bucket of w at unit u (u > U_BAR); equal keys mean the same bucket. */
int64_t chart_unit_key(int u, const struct chart_when *w);
/* The length in seconds of a unit from U_5MIN to U_DAY; 0 for the others. */
int64_t chart_unit_seconds(int u);
/* "5 minutes", "1 day", ...: a unit's length in words. */
const char *chart_unit_name(int u);

/* Write the SVG of panels[0..n) to out. Returns 0, or -1 when memory ran out. */
int chart_svg(struct buf *out, struct chart_panel *const *panels, size_t n,
              const struct chart_opts *o);

#endif

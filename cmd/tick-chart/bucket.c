/*
 * bucket: a panel's bars aggregated into candles at every size at once.
 *
 * The candle size cannot be chosen before the input ends (it depends on how
 * many bars there are), and standard input cannot be read twice.  Rather
 * than spool the input to a temporary file, or hold every bar, each panel
 * keeps one level per candle size: the bars themselves, then buckets of 5,
 * 15 and 30 minutes, 1, 2 and 4 hours, days, weeks, months, quarters,
 * years, decades and centuries.  Every bar is merged into every level that
 * is still kept; a level that reaches more buckets than the panel can draw
 * is dropped for good.  Memory is at most (levels x panel capacity)
 * candles, whatever the input's size, and the finest level left is the one
 * drawn.  Buckets follow the calendar of the chart's zone (a daily candle
 * is a local trading day), and because a level is ordered by bucket, the
 * bars may come in any order (delta-cat returns a table's rows in the order
 * its files were added, not by time).
 *
 * A bucket's open is the open of its earliest bar, its close the close of
 * its latest, high and low the extremes, volume the sum (saturating).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "text/ts.h"

/* Length of the intraday units in seconds (0 for calendar units). */
static const int64_t unit_seconds[U_COUNT] = {
    [U_5MIN] = 300, [U_15MIN] = 900, [U_30MIN] = 1800, [U_1H] = 3600,
    [U_2H] = 7200,  [U_4H] = 14400,  [U_DAY] = 86400,
};

static const char *const unit_names[U_COUNT] = {
    [U_BAR] = "1 bar",        [U_5MIN] = "5 minutes",    [U_15MIN] = "15 minutes",
    [U_30MIN] = "30 minutes", [U_1H] = "1 hour",         [U_2H] = "2 hours",
    [U_4H] = "4 hours",       [U_DAY] = "1 day",         [U_WEEK] = "1 week",
    [U_MONTH] = "1 month",    [U_QUARTER] = "1 quarter", [U_YEAR] = "1 year",
    [U_DECADE] = "10 years",  [U_CENTURY] = "100 years",
};

int64_t chart_unit_seconds(int u)
{
	return u > U_BAR && u <= U_DAY ? unit_seconds[u] : 0;
}

const char *chart_unit_name(int u)
{
	return u >= 0 && u < U_COUNT ? unit_names[u] : "?";
}

size_t chart_capacity(int width)
{
	/* The plot is the width less the margins (90 px leaves room for price labels). */
	int plot = width - 100;
	return plot >= 3 * 16 ? (size_t)plot / 3 : 16;
}

void chart_when(const struct tz *z, int64_t utc_us, struct chart_when *w)
{
	int64_t s = ts_floor_div(utc_us, TS_US_PER_SEC);
	w->local = s + tz_offset(z, s);
	w->days = ts_floor_div(w->local, 86400);
	ts_civil_from_days(w->days, &w->year, &w->month, &w->day);
	int64_t sod = w->local - w->days * 86400;
	w->hour = (int)(sod / 3600);
	w->minute = (int)(sod % 3600 / 60);
}

int64_t chart_unit_key(int u, const struct chart_when *w)
{
	switch (u) {
	case U_DAY:
		return w->days;
	case U_WEEK:
		/* 1970-01-01 was a Thursday: days + 3 counts from a Monday. */
		return ts_floor_div(w->days + 3, 7);
	case U_MONTH:
		return (int64_t)w->year * 12 + w->month - 1;
	case U_QUARTER:
		return (int64_t)w->year * 4 + (w->month - 1) / 3;
	case U_YEAR:
		return w->year;
	case U_DECADE:
		return ts_floor_div(w->year, 10);
	case U_CENTURY:
		return ts_floor_div(w->year, 100);
	default:
		return ts_floor_div(w->local, unit_seconds[u]);
	}
}

void chart_panel_init(struct chart_panel *p, const char *symbol, int interval, size_t limit)
{
	memset(p, 0, sizeof *p);
	snprintf(p->symbol, sizeof p->symbol, "%s", symbol);
	p->interval = interval;
	p->limit = limit;
	/* The levels coarser than the bars: an intraday unit must be longer than the interval. */
	int64_t iv = tick_interval_us(interval) / TS_US_PER_SEC;
	p->levels[p->nlevels++].unit = U_BAR;
	for (int u = U_5MIN; u < U_COUNT; u++)
		if (u > U_DAY ||
		    (unit_seconds[u] > iv && (u == U_DAY || unit_seconds[u] % iv == 0)))
			p->levels[p->nlevels++].unit = u;
}

void chart_panel_free(struct chart_panel *p)
{
	for (int i = 0; i < p->nlevels; i++)
		free(p->levels[i].v);
	p->nlevels = 0;
}

static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return a > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static void candle_from_bar(struct chart_candle *c, const struct tick *t)
{
	c->key = t->trade_timestamp;
	c->t0 = c->t1 = t->trade_timestamp;
	c->open = t->open;
	c->close = t->close;
	/*
	 * A bar whose prices disagree (open or close outside its high-low
	 * range, high below low) is drawn over all four: its wick spans the
	 * least to the greatest of them.
	 */
	const int64_t v[4] = {t->high, t->low, t->open, t->close};
	c->high = c->low = v[0];
	for (int i = 1; i < 4; i++) {
		if (v[i] > c->high)
			c->high = v[i];
		if (v[i] < c->low)
			c->low = v[i];
	}
	c->volume = (t->nulls & TICK_N_VOLUME) ? 0 : t->volume;
	c->bars = 1;
}

static void candle_merge(struct chart_candle *c, const struct chart_candle *b)
{
	if (b->t0 <= c->t0) {
		c->t0 = b->t0;
		c->open = b->open;
	}
	if (b->t1 >= c->t1) {
		c->t1 = b->t1;
		c->close = b->close;
	}
	if (b->high > c->high)
		c->high = b->high;
	if (b->low < c->low)
		c->low = b->low;
	c->volume = sat_add(c->volume, b->volume);
	c->bars++;
}

/* Merge bar b (a candle of one bar) into level l; returns -1 when memory ran out. */
static int level_add(struct chart_level *l, const struct chart_candle *b, size_t limit, int last)
{
	size_t at = l->n;
	if (l->n && b->key <= l->v[l->n - 1].key) {
		/* Out of order (or the latest bucket again): find its place. */
		size_t lo = 0, hi = l->n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (l->v[mid].key < b->key)
				lo = mid + 1;
			else
				hi = mid;
		}
		at = lo;
		if (at < l->n && l->v[at].key == b->key) {
			if (l->unit == U_BAR)
				l->v[at] = *b; /* the same bar again: the later record wins */
			else
				candle_merge(&l->v[at], b);
			return 0;
		}
	}
	if (l->n == limit && !last) {
		l->dropped = 1;
		free(l->v);
		l->v = NULL;
		l->n = l->cap = 0;
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		if (!last && cap > limit)
			cap = limit;
		struct chart_candle *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	memmove(l->v + at + 1, l->v + at, (l->n - at) * sizeof *l->v);
	l->v[at] = *b;
	l->n++;
	return 0;
}

int chart_panel_add(struct chart_panel *p, const struct tick *t, const struct tz *z)
{
	struct chart_when w;
	struct chart_candle b;
	chart_when(z, t->trade_timestamp, &w);
	candle_from_bar(&b, t);
	p->records++;
	for (int i = 0; i < p->nlevels; i++) {
		struct chart_level *l = &p->levels[i];
		if (l->dropped)
			continue;
		b.key = l->unit == U_BAR ? t->trade_timestamp : chart_unit_key(l->unit, &w);
		if (level_add(l, &b, p->limit, i == p->nlevels - 1) < 0)
			return -1;
	}
	return 0;
}

const struct chart_level *chart_panel_level(const struct chart_panel *p)
{
	for (int i = 0; i < p->nlevels; i++)
		if (!p->levels[i].dropped)
			return &p->levels[i];
	return &p->levels[p->nlevels - 1];
}

/*
 * svg: the chart's drawing.
 *
 * Panels are stacked top to bottom, each with its own scales: a title line
 * (symbol, interval, dates, zone, candle size), the price area with round
 * price ticks and gridlines on the right, the volume area beneath it, and
 * the time axis.  Candles are placed by their index, so time that has no
 * bars (nights, weekends, holidays) takes no room; the axis labels the
 * candles where the calendar turns over (a new hour, day, month, year),
 * preferring the larger turns when labels would collide, and a dashed
 * line marks where each day starts on intraday charts.
 *
 * The output is plain SVG 1.1 with presentation attributes (no CSS, no
 * script), so any viewer draws it the same.  Coordinates are snapped to
 * half pixels where a 1-pixel stroke must land on a pixel row or column,
 * so candles are crisp and their colours exact.  Positions are doubles;
 * every number a person reads (price ticks, the last price, the tooltips)
 * is printed from the exact decimal, never from a double.  Nothing depends
 * on the clock or the locale: the same input gives the same bytes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "text/decimal.h"
#include "text/jscan.h"
#include "text/ts.h"

#define COLOR_UP   "#26a69a" /* close at or above open */
#define COLOR_DOWN "#ef5350" /* close below open */
#define COLOR_TEXT "#555555"

#define HEADER_H  34 /* the chart's --title */
#define TITLE_H   30 /* a panel's title line */
#define AXIS_H    22 /* time labels under a panel */
#define VOL_GAP   8  /* between the price and the volume areas */
#define MARGIN_L  10
#define CHAR_W    6.6 /* a digit at the 11 px font, a little generous */
#define TICK_GAP  30  /* pixels per price tick, at least */
#define DAY_MIN   40  /* pixels per day, on average, for day markers */
#define LABEL_GAP 6   /* between time labels */

static const char *const month_abbr[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* One panel laid out. */
struct frame {
	const struct chart_panel *p;
	const struct chart_level *l;
	double y;              /* top of the panel */
	double x0, x1;         /* plot left and right */
	double top, price_h;   /* price area */
	double vol_top, vol_h; /* volume area */
	double step;           /* pixels per candle */
	int body;              /* visible body width in pixels; the wick is its middle column */
	int64_t lo, hi;        /* lowest low, highest high (unscaled) */
	double dlo, dhi;       /* the price domain drawn, unscaled */
	int64_t tick_step;     /* unscaled */
	int decimals;          /* of the tick labels */
	int64_t vmax;
};

/* Text and numbers -------------------------------------------------------- */

/* A coordinate with at most one decimal ("12", "12.5"), never "-0". */
static void put_num(struct buf *b, double v)
{
	long long t = llround(v * 10);
	if (t < 0) {
		buf_putc(b, '-');
		t = -t;
	}
	buf_printf(b, "%lld", t / 10);
	if (t % 10)
		buf_printf(b, ".%lld", t % 10);
}

/* s as XML character data: markup escaped, control bytes and broken UTF-8 as '?'. */
static void put_text(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '&')
			buf_puts(b, "&amp;");
		else if (c == '<')
			buf_puts(b, "&lt;");
		else if (c == '>')
			buf_puts(b, "&gt;");
		else if (c == '"')
			buf_puts(b, "&quot;");
		else if (c < 0x20 || c == 0x7f)
			buf_putc(b, '?');
		else if (c < 0x80)
			buf_putc(b, (char)c);
		else {
			size_t k = 2;
			while (k <= 4 && i + k <= n && jscan_utf8_valid(s + i, k) < 0)
				k++;
			if (k <= 4 && i + k <= n) {
				buf_append(b, s + i, k);
				i += k - 1;
			} else {
				buf_putc(b, '?');
			}
		}
	}
}

/* The exact text of an unscaled decimal(18,6). */
static void put_price(struct buf *b, int64_t v)
{
	char t[DEC_TEXT_MAX];
	buf_append(b, t, dec6_format(v, t));
}

/* v, a multiple of 10^(6-d) (unscaled), with exactly d decimals. */
static size_t format_fixed(int64_t v, int d, char *out, size_t cap)
{
	uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	unsigned long long ip = a / 1000000, fp = a % 1000000;
	int n;
	if (d == 0)
		n = snprintf(out, cap, "%s%llu", v < 0 ? "-" : "", ip);
	else
		n = snprintf(out, cap, "%s%llu.%0*llu", v < 0 ? "-" : "", ip, d,
		             fp / (unsigned long long)dec_pow10(6 - d));
	return n < 0 ? 0 : (size_t)n;
}

/*
 * A volume in a few characters, to fit beside the volume area: 950, 12.5K,
 * 3.2M, 1.1B, 4.5T; past a thousand trillion (a long holds 9.2e18) a power
 * of ten, 9.2e18, where the T form would take eight digits.
 */
static void format_volume(int64_t v, char *out, size_t cap)
{
	static const char suffix[] = {'K', 'M', 'B', 'T'};
	double x = (double)v;
	int i = -1;
	while (x >= 999.5 && i < 3) {
		x /= 1000;
		i++;
	}
	if (i == 3 && x >= 999.5) {
		int e = 12;
		while (x >= 9.995) {
			x /= 10;
			e++;
		}
		snprintf(out, cap, "%.1fe%d", x, e);
	} else if (i < 0)
		snprintf(out, cap, "%lld", (long long)v);
	else
		snprintf(out, cap, "%.*f%c", x < 99.95 ? 1 : 0, x, suffix[i]);
}

/* Price scale ------------------------------------------------------------- */

/*
 * The smallest round step (1, 2, 2.5 or 5 times a power of ten, at least
 * the decimal(18,6) resolution) that gives at most `target` intervals over
 * range (unscaled).
 */
static int64_t nice_step(double range, int target)
{
	double raw = range / target;
	int64_t p = 1;
	for (int e = 0; e <= 18; e++, p *= 10) {
		const int64_t cand[4] = {p, 2 * p, e ? p / 10 * 25 : 0, 5 * p};
		for (int k = 0; k < 4; k++)
			if (cand[k] && (double)cand[k] >= raw)
				return cand[k];
		if (e == 18)
			break;
	}
	return INT64_C(1000000000000000000);
}

static void price_scale(struct frame *f)
{
	const struct chart_level *l = f->l;
	f->lo = l->v[0].low;
	f->hi = l->v[0].high;
	f->vmax = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].low < f->lo)
			f->lo = l->v[i].low;
		if (l->v[i].high > f->hi)
			f->hi = l->v[i].high;
		if (l->v[i].volume > f->vmax)
			f->vmax = l->v[i].volume;
	}
	double range = (double)f->hi - (double)f->lo, pad = range * 0.06;
	if (range <= 0) {
		/* One price only: a band of half a percent either side (at least one unit). */
		pad = fabs((double)f->lo) / 200;
		if (pad < 1)
			pad = 1;
		range = 2 * pad;
	}
	f->dlo = (double)f->lo - pad;
	f->dhi = (double)f->hi + pad;
	int target = (int)(f->price_h / TICK_GAP);
	f->tick_step = nice_step(range, target < 2 ? 2 : target);
	f->decimals = 6;
	for (int64_t p = 10; f->decimals > 0 && f->tick_step % p == 0; p *= 10)
		f->decimals--;
}

static double price_y(const struct frame *f, double unscaled)
{
	return f->top + (f->dhi - unscaled) / (f->dhi - f->dlo) * f->price_h;
}

/* The centre of a pixel row: where a 1-pixel line is drawn crisp. */
static double snap(double v)
{
	return floor(v) + 0.5;
}

/*
 * The multiples of the tick step inside the domain, less 5 pixels at each
 * edge (a label there would sit on the frame): first and count.
 */
static int64_t first_tick(const struct frame *f, int *count)
{
	double s = (double)f->tick_step, edge = 5 * (f->dhi - f->dlo) / f->price_h;
	double a = ceil((f->dlo + edge) / s), z = floor((f->dhi - edge) / s);
	/* Only ticks whose value an int64 holds (the padding can reach past it). */
	double kmin = (double)(INT64_MIN / f->tick_step + 1),
	       kmax = (double)(INT64_MAX / f->tick_step);
	if (a < kmin)
		a = kmin;
	if (z > kmax)
		z = kmax;
	int64_t k0 = (int64_t)a, k1 = (int64_t)z;
	*count = k1 >= k0 ? (int)(k1 - k0 + 1) : 0;
	return k0;
}

/*
 * The last close, exactly, with at least as many decimals as the tick
 * labels beside it ("20.00" among "19.98" and "20.02", not "20").
 */
static size_t last_text(const struct frame *f, char *out, size_t cap)
{
	int64_t v = f->l->v[f->l->n - 1].close;
	int d = f->decimals;
	while (d < 6 && v % dec_pow10(6 - d) != 0)
		d++;
	return format_fixed(v, d, out, cap);
}

/* Characters of the widest label in the panel's right margin. */
static size_t label_chars(const struct frame *f)
{
	char t[DEC_TEXT_MAX];
	int count;
	int64_t k0 = first_tick(f, &count);
	size_t w = last_text(f, t, sizeof t);
	for (int i = 0; i < count; i++) {
		size_t n = format_fixed((k0 + i) * f->tick_step, f->decimals, t, sizeof t);
		if (n > w)
			w = n;
	}
	return w;
}

/* Time axis --------------------------------------------------------------- */

static double candle_x(const struct frame *f, size_t i)
{
	return snap(f->x0 + ((double)i + 0.5) * f->step);
}

/* Do the candles of this panel last less than a day? */
static int intraday(const struct frame *f)
{
	return f->l->unit == U_BAR ? f->p->interval != TICK_1D : f->l->unit < U_DAY;
}

/* The text of a time label for candle w that starts a new `rank`. */
static void label_text(const struct chart_when *w, int rank, int first, char *out, size_t cap)
{
	if (rank >= U_YEAR)
		snprintf(out, cap, "%04d", w->year);
	else if (rank >= U_MONTH && first)
		snprintf(out, cap, "%s %04d", month_abbr[w->month - 1], w->year);
	else if (rank >= U_MONTH)
		snprintf(out, cap, "%s", month_abbr[w->month - 1]);
	else if (rank >= U_DAY)
		snprintf(out, cap, "%s %d", month_abbr[w->month - 1], w->day);
	else
		snprintf(out, cap, "%02d:%02d", w->hour, w->minute);
}

struct tlabel {
	size_t i;
	int rank;
	double x, half; /* centre and half width */
	char text[24];
};

/* Place the label of candle i, which starts a new `ri` (shown as `shown`), unless it crowds one. */
static void place_label(const struct frame *f, const struct tz *z, size_t i, int ri, int shown,
                        struct tlabel *out, size_t *placed)
{
	struct chart_when w;
	struct tlabel t;
	chart_when(z, f->l->v[i].t0, &w);
	/*
	 * A time of day names the turn it marks, not the first candle
	 * after it: 12:00 over a 12:05 candle when no bar began at
	 * noon, so that the axis reads in round steps (the candles'
	 * tooltips give their own times).
	 */
	if (i != 0 && ri < U_DAY) {
		int64_t step = chart_unit_seconds(ri) / 60;
		int64_t m = ((int64_t)w.hour * 60 + w.minute) / step * step;
		w.hour = (int)(m / 60);
		w.minute = (int)(m % 60);
	}
	label_text(&w, shown, i == 0, t.text, sizeof t.text);
	t.i = i;
	t.rank = shown;
	t.half = (double)strlen(t.text) * CHAR_W / 2;
	t.x = candle_x(f, i);
	if (t.x - t.half < f->x0)
		t.x = f->x0 + t.half;
	if (t.x + t.half > f->x1)
		t.x = f->x1 - t.half;
	for (size_t k = 0; k < *placed; k++)
		if (fabs(out[k].x - t.x) < out[k].half + t.half + LABEL_GAP)
			return;
	out[(*placed)++] = t;
}

/*
 * Choose the labels: the finest unit whose turns fit the width gives the
 * candidates, which are placed biggest turn first, each only where it does
 * not crowd one already placed.  The first candle's label (the date it
 * starts on) goes first, except on a chart whose days are marked with
 * dashed lines: there the lines' dates go before it, so that a chart that
 * starts shortly before a day (the bars of a UTC day, which begin with the
 * exchange's evening before) names that day at its line instead of
 * leaving the line bare.  Returns the number placed, in x order.
 */
static size_t time_labels(const struct frame *f, const struct tz *z, const int *rank,
                          int days_marked, struct tlabel *out)
{
	const struct chart_level *l = f->l;
	size_t n = l->n, max_labels = (size_t)((f->x1 - f->x0) / 55) + 1;
	/* The finest unit that is no finer than a candle and whose turns fit. */
	int finest = l->unit == U_BAR ? U_5MIN : l->unit;
	if (l->unit == U_BAR) {
		int64_t iv = tick_interval_us(f->p->interval) / TS_US_PER_SEC;
		while (finest < U_DAY && chart_unit_seconds(finest) < iv)
			finest++;
	}
	int unit = finest;
	for (; unit < U_CENTURY; unit++) {
		size_t turns = 1;
		for (size_t i = 1; i < n; i++)
			turns += rank[i] >= unit;
		if (turns <= max_labels)
			break;
	}
	size_t placed = 0;
	/* The first candle's label goes after the turns of this rank and above. */
	int first_after = days_marked && unit <= U_DAY ? U_DAY : U_CENTURY + 1;
	for (int r = U_CENTURY + 1; r >= unit; r--) {
		for (size_t i = 1; i < n; i++)
			if (rank[i] == r)
				place_label(f, z, i, r, r, out, &placed);
		if (r == first_after)
			place_label(f, z, 0, U_CENTURY + 1, unit > U_DAY ? unit : U_DAY, out,
			            &placed);
	}
	/* x order (insertion sort: a few dozen labels). */
	for (size_t i = 1; i < placed; i++) {
		struct tlabel t = out[i];
		size_t k = i;
		for (; k > 0 && out[k - 1].x > t.x; k--)
			out[k] = out[k - 1];
		out[k] = t;
	}
	return placed;
}

/* Drawing ----------------------------------------------------------------- */

static void put_title(struct buf *b, const struct frame *f, const struct chart_opts *o)
{
	const struct chart_level *l = f->l;
	struct chart_when a, z;
	char d0[TS_TEXT_MAX], d1[TS_TEXT_MAX];
	chart_when(o->zone, l->v[0].t0, &a);
	chart_when(o->zone, l->v[l->n - 1].t1, &z);
	ts_format_date(a.days, d0);
	ts_format_date(z.days, d1);
	buf_puts(b, "<text class=\"title\" x=\"");
	put_num(b, f->x0);
	buf_puts(b, "\" y=\"");
	put_num(b, f->y + 20);
	buf_puts(b, "\" font-size=\"13\" fill=\"#222222\"><tspan font-weight=\"bold\">");
	put_text(b, f->p->symbol);
	buf_puts(b, "</tspan> ");
	buf_puts(b, tick_interval_name(f->p->interval));
	buf_puts(b, " \xc2\xb7 ");
	buf_puts(b, d0);
	if (strcmp(d0, d1) != 0) {
		buf_puts(b, " \xe2\x80\x93 ");
		buf_puts(b, d1);
	}
	buf_puts(b, " \xc2\xb7 ");
	put_text(b, tz_name(o->zone));
	if (l->unit != U_BAR) {
		buf_puts(b, " \xc2\xb7 candles of ");
		buf_puts(b, chart_unit_name(l->unit));
	}
	buf_puts(b, "</text>\n");
}

/* Horizontal gridlines and price labels. */
static void put_price_axis(struct buf *b, const struct frame *f)
{
	int count;
	int64_t k0 = first_tick(f, &count);
	char t[DEC_TEXT_MAX];
	buf_puts(b, "<path class=\"grid\" stroke=\"#ebebeb\" shape-rendering=\"crispEdges\" d=\"");
	for (int i = 0; i < count; i++) {
		buf_putc(b, 'M');
		put_num(b, f->x0);
		buf_putc(b, ' ');
		put_num(b, snap(price_y(f, (double)((k0 + i) * f->tick_step))));
		buf_putc(b, 'H');
		put_num(b, f->x1);
	}
	buf_puts(b, "\"/>\n<g class=\"price-axis\" fill=\"" COLOR_TEXT "\">");
	/* Labels that the last price's box would cover are left out. */
	double last = snap(price_y(f, (double)f->l->v[f->l->n - 1].close));
	for (int i = 0; i < count; i++) {
		if (fabs(price_y(f, (double)((k0 + i) * f->tick_step)) - last) < 14)
			continue;
		format_fixed((k0 + i) * f->tick_step, f->decimals, t, sizeof t);
		buf_puts(b, "<text x=\"");
		put_num(b, f->x1 + 6);
		buf_puts(b, "\" y=\"");
		put_num(b, price_y(f, (double)((k0 + i) * f->tick_step)) + 4);
		buf_puts(b, "\">");
		buf_puts(b, t);
		buf_puts(b, "</text>");
	}
	buf_puts(b, "</g>\n");
}

/* ranks and labels have room for a rank and a label per candle. */
static void put_time_axis(struct buf *b, const struct frame *f, const struct chart_opts *o,
                          int *ranks, struct tlabel *labels)
{
	const struct chart_level *l = f->l;
	size_t n = l->n;
	int64_t prev[U_COUNT], key[U_COUNT];
	/* Each candle's turn: the biggest calendar unit whose bucket changed since the last. */
	for (size_t i = 0; i < n; i++) {
		struct chart_when w;
		chart_when(o->zone, l->v[i].t0, &w);
		ranks[i] = -1;
		for (int u = U_5MIN; u < U_COUNT; u++) {
			key[u] = chart_unit_key(u, &w);
			if (i && key[u] != prev[u])
				ranks[i] = u;
			prev[u] = key[u];
		}
	}
	double bottom = f->vol_top + f->vol_h;
	size_t days = 0;
	for (size_t i = 1; i < n; i++)
		days += ranks[i] >= U_DAY;
	/* Days are marked unless they are too narrow to tell apart. */
	int days_marked = intraday(f) && days && (double)(days + 1) * DAY_MIN <= f->x1 - f->x0;
	size_t nl = time_labels(f, o->zone, ranks, days_marked, labels);
	if (days_marked) {
		/* Where each day starts, through both areas. */
		buf_puts(b, "<path class=\"day-start\" stroke=\"#b4b4b4\" stroke-dasharray=\"3 3\" "
		            "shape-rendering=\"crispEdges\" d=\"");
		for (size_t i = 1; i < n; i++) {
			if (ranks[i] < U_DAY)
				continue;
			buf_putc(b, 'M');
			put_num(b, snap(f->x0 + (double)i * f->step));
			buf_putc(b, ' ');
			put_num(b, f->top);
			buf_putc(b, 'V');
			put_num(b, bottom);
		}
		buf_puts(b, "\"/>\n");
	}
	buf_puts(
	    b, "<path class=\"time-grid\" stroke=\"#f0f0f0\" shape-rendering=\"crispEdges\" d=\"");
	for (size_t k = 0; k < nl; k++) {
		buf_putc(b, 'M');
		put_num(b, candle_x(f, labels[k].i));
		buf_putc(b, ' ');
		put_num(b, f->top);
		buf_putc(b, 'V');
		put_num(b, bottom + 4);
	}
	buf_puts(b, "\"/>\n<g class=\"time-axis\" fill=\"" COLOR_TEXT "\" text-anchor=\"middle\">");
	for (size_t k = 0; k < nl; k++) {
		buf_puts(b, "<text x=\"");
		put_num(b, labels[k].x);
		buf_puts(b, "\" y=\"");
		put_num(b, bottom + 16);
		buf_puts(b, labels[k].rank >= U_DAY ? "\" fill=\"#222222\">" : "\">");
		buf_puts(b, labels[k].text);
		buf_puts(b, "</text>");
	}
	buf_puts(b, "</g>\n");
}

/* A candle's tooltip: when, and its exact prices. */
static void put_tooltip(struct buf *b, const struct frame *f, const struct chart_candle *c,
                        const struct tz *z)
{
	struct chart_when w;
	char d[TS_TEXT_MAX];
	chart_when(z, c->t0, &w);
	ts_format_date(w.days, d);
	buf_puts(b, "<title>");
	buf_puts(b, d);
	if (intraday(f)) {
		buf_printf(b, " %02d:%02d", w.hour, w.minute);
	} else if (c->bars > 1) {
		struct chart_when e;
		chart_when(z, c->t1, &e);
		if (e.days != w.days) {
			ts_format_date(e.days, d);
			buf_puts(b, " to ");
			buf_puts(b, d);
		}
	}
	buf_puts(b, " O ");
	put_price(b, c->open);
	buf_puts(b, " H ");
	put_price(b, c->high);
	buf_puts(b, " L ");
	put_price(b, c->low);
	buf_puts(b, " C ");
	put_price(b, c->close);
	buf_puts(b, " V ");
	buf_i64(b, c->volume);
	if (c->bars > 1)
		buf_printf(b, " (%lld bars)", (long long)c->bars);
	buf_puts(b, "</title>");
}

static void put_candles(struct buf *b, const struct frame *f, const struct tz *z, int up)
{
	const struct chart_level *l = f->l;
	const char *color = up ? COLOR_UP : COLOR_DOWN;
	/* Columns of the body left of the wick (odd widths centre it, even ones lean right). */
	int lead = (f->body - 1) / 2;
	double bottom = f->vol_top + f->vol_h;
	/* Volume first, so that nothing covers a candle. */
	buf_printf(b,
	           "<g class=\"volume %s\" fill=\"%s\" fill-opacity=\"0.45\" "
	           "shape-rendering=\"crispEdges\">",
	           up ? "up" : "down", color);
	for (size_t i = 0; i < l->n; i++) {
		const struct chart_candle *c = &l->v[i];
		if ((c->close >= c->open) != up || c->volume <= 0 || f->vmax <= 0)
			continue;
		double h = round((double)c->volume / (double)f->vmax * f->vol_h);
		if (h < 1)
			h = 1;
		buf_puts(b, "<rect x=\"");
		put_num(b, candle_x(f, i) - 0.5 - lead);
		buf_puts(b, "\" y=\"");
		put_num(b, bottom - h);
		buf_puts(b, "\" width=\"");
		put_num(b, f->body);
		buf_puts(b, "\" height=\"");
		put_num(b, h);
		buf_puts(b, "\"/>");
	}
	buf_puts(b, "</g>\n");
	buf_printf(b,
	           "<g class=\"candles %s\" fill=\"%s\" stroke=\"%s\" "
	           "shape-rendering=\"crispEdges\">",
	           up ? "up" : "down", color, color);
	for (size_t i = 0; i < l->n; i++) {
		const struct chart_candle *c = &l->v[i];
		if ((c->close >= c->open) != up)
			continue;
		double x = candle_x(f, i);
		double top = snap(price_y(f, (double)(up ? c->close : c->open)));
		double bot = snap(price_y(f, (double)(up ? c->open : c->close)));
		/* The wick, then the body: a rectangle whose 1-pixel stroke makes it `body` wide. */
		buf_puts(b, "<path d=\"M");
		put_num(b, x);
		buf_putc(b, ' ');
		put_num(b, snap(price_y(f, (double)c->high)));
		buf_putc(b, 'V');
		put_num(b, snap(price_y(f, (double)c->low)));
		if (f->body > 1) {
			buf_putc(b, 'M');
			put_num(b, x - lead);
			buf_putc(b, ' ');
			put_num(b, top);
			buf_putc(b, 'h');
			put_num(b, f->body - 1);
			buf_putc(b, 'v');
			put_num(b, bot - top);
			buf_putc(b, 'h');
			put_num(b, -(f->body - 1));
			buf_putc(b, 'z');
		}
		buf_puts(b, "\">");
		put_tooltip(b, f, c, z);
		buf_puts(b, "</path>");
	}
	buf_puts(b, "</g>\n");
}

/* The last close: a dashed line across and its exact text in a box on the axis. */
static void put_last(struct buf *b, const struct frame *f, double margin)
{
	const struct chart_candle *c = &f->l->v[f->l->n - 1];
	const char *color = c->close >= c->open ? COLOR_UP : COLOR_DOWN;
	double y = snap(price_y(f, (double)c->close));
	buf_printf(b, "<g class=\"last-price\"><path stroke=\"%s\" stroke-dasharray=\"2 2\" d=\"M",
	           color);
	put_num(b, f->x0);
	buf_putc(b, ' ');
	put_num(b, y);
	buf_putc(b, 'H');
	put_num(b, f->x1);
	buf_printf(b, "\"/><rect fill=\"%s\" x=\"", color);
	put_num(b, f->x1 + 1);
	buf_puts(b, "\" y=\"");
	put_num(b, y - 8.5);
	buf_puts(b, "\" width=\"");
	put_num(b, margin - 4);
	buf_puts(b, "\" height=\"17\" rx=\"2\"/><text fill=\"#ffffff\" x=\"");
	put_num(b, f->x1 + 6);
	buf_puts(b, "\" y=\"");
	put_num(b, y + 4);
	buf_puts(b, "\">");
	char t[DEC_TEXT_MAX];
	buf_append(b, t, last_text(f, t, sizeof t));
	buf_puts(b, "</text></g>\n");
}

static void put_panel(struct buf *b, const struct frame *f, const struct chart_opts *o,
                      double margin, size_t index, int *ranks, struct tlabel *labels)
{
	char v[32];
	buf_puts(b, "<g class=\"panel\" data-symbol=\"");
	put_text(b, f->p->symbol);
	buf_printf(b, "\" data-interval=\"%s\" data-candle=\"%s\">\n",
	           tick_interval_name(f->p->interval), chart_unit_name(f->l->unit));
	if (index) {
		buf_puts(b, "<path stroke=\"#cccccc\" shape-rendering=\"crispEdges\" d=\"M0 ");
		put_num(b, f->y + 0.5);
		buf_printf(b, "H%d\"/>\n", o->width);
	}
	put_title(b, f, o);
	put_price_axis(b, f);
	put_time_axis(b, f, o, ranks, labels);
	put_candles(b, f, o->zone, 1);
	put_candles(b, f, o->zone, 0);
	/* Frames of the two areas, and the largest volume at the top of its area. */
	buf_puts(b, "<g fill=\"none\" stroke=\"#d0d0d0\" shape-rendering=\"crispEdges\"><rect "
	            "class=\"frame\" x=\"");
	put_num(b, f->x0 + 0.5);
	buf_puts(b, "\" y=\"");
	put_num(b, f->top + 0.5);
	buf_puts(b, "\" width=\"");
	put_num(b, f->x1 - f->x0 - 1);
	buf_puts(b, "\" height=\"");
	put_num(b, f->price_h - 1);
	buf_puts(b, "\"/><path d=\"M");
	put_num(b, f->x0);
	buf_putc(b, ' ');
	put_num(b, f->vol_top + f->vol_h + 0.5);
	buf_putc(b, 'H');
	put_num(b, f->x1);
	buf_puts(b, "\"/></g>\n");
	if (f->vmax > 0) {
		format_volume(f->vmax, v, sizeof v);
		buf_puts(b, "<text class=\"volume-max\" fill=\"" COLOR_TEXT "\" x=\"");
		put_num(b, f->x1 + 6);
		buf_puts(b, "\" y=\"");
		put_num(b, f->vol_top + 10);
		buf_printf(b, "\">%s</text>\n", v);
	}
	put_last(b, f, margin);
	buf_puts(b, "</g>\n");
}

int chart_svg(struct buf *out, struct chart_panel *const *panels, size_t n,
              const struct chart_opts *o)
{
	size_t most = 1;
	for (size_t i = 0; i < n; i++)
		if (chart_panel_level(panels[i])->n > most)
			most = chart_panel_level(panels[i])->n;
	struct frame *fr = calloc(n ? n : 1, sizeof *fr);
	int *ranks = calloc(most, sizeof *ranks);
	struct tlabel *labels = calloc(most, sizeof *labels);
	if (!fr || !ranks || !labels) {
		free(fr);
		free(ranks);
		free(labels);
		return -1;
	}
	double head = o->title ? HEADER_H : 0, total = head + (double)n * o->height;
	/* Scales first: the widest price label sets the right margin of every panel. */
	size_t chars = 4;
	for (size_t i = 0; i < n; i++) {
		struct frame *f = &fr[i];
		f->p = panels[i];
		f->l = chart_panel_level(panels[i]);
		f->y = head + (double)i * o->height;
		f->top = f->y + TITLE_H;
		double avail = o->height - TITLE_H - AXIS_H;
		f->vol_h = floor(avail * 0.2);
		f->price_h = avail - f->vol_h - VOL_GAP;
		f->vol_top = f->top + f->price_h + VOL_GAP;
		price_scale(f);
		size_t c = label_chars(f);
		if (c > chars)
			chars = c;
	}
	double margin = ceil((double)chars * CHAR_W) + 14;
	for (size_t i = 0; i < n; i++) {
		struct frame *f = &fr[i];
		f->x0 = MARGIN_L;
		f->x1 = o->width - margin;
		f->step = (f->x1 - f->x0) / (double)f->l->n;
		/*
		 * Bodies take about 70% of a candle's room (all but a pixel when
		 * candles are narrow), at most 21 px; from 3 px on, odd, so the
		 * wick runs down their middle.
		 */
		double want = f->step < 5 ? f->step - 1 : f->step * 0.7;
		f->body = want >= 21 ? 21 : want < 1 ? 1 : (int)want;
		if (f->body > 2 && f->body % 2 == 0)
			f->body--;
	}

	buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	buf_printf(out,
	           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
	           "viewBox=\"0 0 %d %.0f\" font-family=\"DejaVu Sans, Helvetica, Arial, "
	           "sans-serif\" font-size=\"11\">\n<title>",
	           o->width, total, o->width, total);
	if (o->title) {
		put_text(out, o->title);
	} else {
		for (size_t i = 0; i < n; i++) {
			if (i)
				buf_puts(out, ", ");
			put_text(out, fr[i].p->symbol);
			buf_putc(out, ' ');
			buf_puts(out, tick_interval_name(fr[i].p->interval));
		}
	}
	buf_puts(out, "</title>\n<desc>Candlestick chart with volume: teal (" COLOR_UP
	              ") candles closed at or above their open, red (" COLOR_DOWN
	              ") ones below it. Times in ");
	put_text(out, tz_name(o->zone));
	buf_puts(out, "; time without bars (nights, weekends, holidays) takes no room.</desc>\n");
	buf_printf(out, "<rect width=\"%d\" height=\"%.0f\" fill=\"#ffffff\"/>\n", o->width, total);
	if (o->title) {
		buf_printf(out,
		           "<text class=\"chart-title\" x=\"%d\" y=\"23\" font-size=\"15\" "
		           "font-weight=\"bold\" text-anchor=\"middle\" fill=\"#222222\">",
		           o->width / 2);
		put_text(out, o->title);
		buf_puts(out, "</text>\n");
	}
	for (size_t i = 0; i < n; i++)
		put_panel(out, &fr[i], o, margin, i, ranks, labels);
	buf_puts(out, "</svg>\n");
	free(fr);
	free(ranks);
	free(labels);
	return buf_failed(out) ? -1 : 0;
}

/*
 * envelope: reading an av-fetch envelope in one pass.  The words of the
 * API (function and series names, Meta Data fields, vendor messages, CSV
 * headers, tickers) are avapi.h's, shared with the classifier of av-fetch,
 * so that what av-fetch takes for data is what this reads as data.
 *
 * The tokenizer runs over the whole line once; the body is read in place as
 * the scan reaches it, because the envelope's members may come in any order
 * and a second pass over a large body would cost as much as the first.
 * What the body means (whose bars, which zone, which interval) is settled
 * after the scan, when every member is known; bars keep their local time
 * until then.  The bars of a series in the compact layout av-fetch stores
 * are read beside the tokenizer by a fast path that takes only bars the
 * general path would take, to the same values, and hands it everything
 * else; converting them keeps the zone's offset while it holds (tz_memo).
 * Bar problems are recorded on the bar and the scan goes on; envelope
 * problems are collected and the most basic one is reported (invalid JSON
 * before a missing member before a wrong body).
 */
#include "av/envelope.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "av/avapi.h"
#include "text/decimal.h"
#include "text/jscan.h"
#include "text/ts.h"

enum { F_OPEN, F_HIGH, F_LOW, F_CLOSE, F_VOLUME, F_COUNT };
static const char *const bar_field_names[F_COUNT] = {"open", "high", "low", "close", "volume"};
/* A global quote's fields, by the bar field they fill: its price is the close. */
static const char *const quote_names[F_COUNT] = {"open", "high", "low", "price", "volume"};

/* What the scan found, settled by env_settle(). */
enum member_state { M_ABSENT = 0, M_OK, M_WRONG };
enum body_kind { B_ABSENT = 0, B_OBJECT, B_STRING, B_OTHER };

struct scan {
	int source, function, symbol, interval, fetched_at, http_status, batch_id;
	char source_text[40];
	char symbol_text[40];
	char interval_text[16];
	int64_t http_code;
	int body;
	/* body object */
	int nkeys, unknown_keys;
	int meta;
	char meta_symbol[40];
	char meta_interval[16];
	int nseries;
	int series_interval; /* enum tick_interval, 0 unsupported */
	char series_name[64];
	int quote, quote_empty;
	int api; /* enum av_message */
	char api_text[320];
	/* body string */
	const char *csv;
	size_t csv_len;
	int csv_escaped;
};

void av_env_init(struct av_env *env)
{
	memset(env, 0, sizeof *env);
	env->why.max = 1u << 30;
}

void av_env_free(struct av_env *env)
{
	free(env->bars);
	buf_free(&env->why);
	buf_free(&env->csv);
	buf_free(&env->scratch);
	memset(env, 0, sizeof *env);
}

const char *av_env_bar_why(const struct av_env *env, const struct av_bar *b)
{
	return b->why < 0 ? NULL : env->why.data + b->why;
}

static void env_reject(struct av_env *env, const char *fmt, ...) ERR_PRINTF(2, 3);

static void env_reject(struct av_env *env, const char *fmt, ...)
{
	if (env->reject[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(env->reject, sizeof env->reject, fmt, ap);
	va_end(ap);
}

/* Record why bar b is rejected (the first reason only). Returns -1. */
static int env_bad_bar(struct av_env *env, struct av_bar *b, const char *fmt, ...) ERR_PRINTF(3, 4);

static int env_bad_bar(struct av_env *env, struct av_bar *b, const char *fmt, ...)
{
	if (b->why >= 0)
		return -1;
	char text[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	size_t at = env->why.len;
	if (buf_append(&env->why, text, strlen(text) + 1) == 0)
		b->why = (int32_t)at;
	else
		b->why = 0; /* out of memory: an empty reason still rejects the bar */
	return -1;
}

static struct av_bar *env_new_bar(struct av_env *env)
{
	if (env->nbars == env->capbars) {
		size_t ncap = env->capbars ? env->capbars * 2 : 256;
		struct av_bar *p = realloc(env->bars, ncap * sizeof *p);
		if (!p)
			return NULL;
		env->bars = p;
		env->capbars = ncap;
	}
	struct av_bar *b = &env->bars[env->nbars];
	memset(b, 0, sizeof *b);
	b->seq = (uint32_t)env->nbars;
	b->why = -1;
	env->nbars++;
	return b;
}

/* Copy the string token's value into dst[cap], NUL-terminated and truncated. */
static void env_copy(struct av_env *env, const struct jscan_token *t, char *dst, size_t cap)
{
	const char *s = t->s;
	size_t n = t->n;
	if (t->escaped) {
		buf_reset(&env->scratch);
		if (jscan_unescape(t->s, t->n, &env->scratch) < 0) {
			dst[0] = '\0';
			return;
		}
		s = env->scratch.data;
		n = env->scratch.len;
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static int env_eq(const struct jscan_token *t, const char *lit)
{
	size_t n = strlen(lit);
	return t->n == n && memcmp(t->s, lit, n) == 0;
}

static int env_name_is(const char *name, size_t nn, const char *lit)
{
	size_t n = strlen(lit);
	return nn == n && memcmp(name, lit, n) == 0;
}

/* Consume the rest of value t (an object or array), or nothing for a scalar. */
static int env_skip(struct jscan *js, const struct jscan_token *t)
{
	const char *raw;
	size_t rawlen;
	if (t->type != JS_OBJ && t->type != JS_ARR)
		return 0;
	return jscan_skip(js, t, &raw, &rawlen);
}

/* Bar values ------------------------------------------------------------------ */

static int env_volume(struct av_env *env, struct av_bar *b, const char *s, size_t n)
{
	size_t i = s && n > 0 && s[0] == '-' ? 1 : 0;
	uint64_t v = 0;
	if (i == n)
		return env_bad_bar(env, b, "volume: \"%.*s\" is not an integer", (int)n, s);
	for (size_t k = i; k < n; k++) {
		if (s[k] < '0' || s[k] > '9')
			return env_bad_bar(env, b, "volume: \"%.*s\" is not an integer",
			                   (int)(n > 40 ? 40 : n), s);
		uint64_t d = (uint64_t)(s[k] - '0');
		if (v > ((uint64_t)INT64_MAX - d) / 10)
			return env_bad_bar(env, b, "volume: \"%.*s\" does not fit 64 bits",
			                   (int)(n > 40 ? 40 : n), s);
		v = v * 10 + d;
	}
	if (i == 1 && v > 0)
		return env_bad_bar(env, b, "volume: %.*s is negative", (int)n, s);
	b->volume = (int64_t)v;
	return 0;
}

/* Field f (enum F_*) of bar b from the text s[0..n); `label` names it in reasons. */
static int env_value(struct av_env *env, struct av_bar *b, int f, const char *label, const char *s,
                     size_t n)
{
	if (f == F_VOLUME)
		return env_volume(env, b, s, n);
	int64_t *dst = f == F_OPEN   ? &b->open
	               : f == F_HIGH ? &b->high
	               : f == F_LOW  ? &b->low
	                             : &b->close;
	struct err_msg e;
	if (dec6_parse(s, n, dst, &e) < 0)
		return env_bad_bar(env, b, "%s: %s", label, e.text);
	return 0;
}

/* A JSON value token for field f; strings are unescaped when needed. */
static int env_value_token(struct av_env *env, struct av_bar *b, int f, const char *label,
                           const struct jscan_token *v)
{
	if (v->type != JS_STR && v->type != JS_NUM)
		return env_bad_bar(env, b, "%s: not a string or a number", label);
	if (v->type == JS_STR && v->escaped) {
		buf_reset(&env->scratch);
		if (jscan_unescape(v->s, v->n, &env->scratch) < 0)
			return env_bad_bar(env, b, "%s: bad string escape", label);
		return env_value(env, b, f, label, env->scratch.data, env->scratch.len);
	}
	return env_value(env, b, f, label, v->s, v->n);
}

/* A bar's time: "YYYY-MM-DD HH:MM:SS" for intraday bars, "YYYY-MM-DD" for daily ones. */
static int env_time(struct av_env *env, struct av_bar *b, const char *s, size_t n, int daily)
{
	struct ts_civil c;
	if (n != (daily ? 10u : 19u) || ts_parse_naive(s, n, &c) < 0)
		return env_bad_bar(env, b, "timestamp \"%.*s\" does not parse as %s",
		                   (int)(n > 40 ? 40 : n), s,
		                   daily ? "YYYY-MM-DD" : "YYYY-MM-DD HH:MM:SS");
	b->local = ts_civil_to_seconds(&c);
	b->date = (int32_t)ts_days_from_civil(c.year, c.month, c.day);
	return 0;
}

/* JSON body ------------------------------------------------------------------- */

/* After the JS_OBJ of a bar: its fields. */
static int env_bar_fields(struct av_env *env, struct jscan *js, struct av_bar *b, const char **end)
{
	struct jscan_token k, v;
	unsigned seen = 0;
	for (;;) {
		int t = jscan_next(js, &k);
		if (t == JS_OBJ_END) {
			*end = k.s + 1;
			break;
		}
		if (t != JS_KEY || jscan_next(js, &v) == JS_ERR)
			return -1;
		const char *name;
		size_t nn;
		av_key_name(k.s, k.n, &name, &nn);
		int f = -1;
		for (int i = 0; i < F_COUNT; i++)
			if (env_name_is(name, nn, bar_field_names[i]))
				f = i;
		if (f < 0) {
			if (env_skip(js, &v) < 0)
				return -1;
			continue;
		}
		seen |= 1u << f;
		env_value_token(env, b, f, bar_field_names[f], &v);
		if (env_skip(js, &v) < 0)
			return -1;
	}
	for (int i = 0; i < F_COUNT; i++)
		if (!(seen & (1u << i)))
			env_bad_bar(env, b, "no %s", bar_field_names[i]);
	return 0;
}

/*
 * The fast path of a series: one bar in exactly the layout av-fetch stores
 * (the response compacted: no whitespace, the five members in the API's
 * order, every value a plain string of digits).  Anything else, including
 * every bar that would be rejected, is left to the general path, which
 * decides and explains; so the fast path only ever agrees with it.
 */

/* The bar's date text and its day, kept from bar to bar: a day's bars share it. */
struct env_day {
	char text[10];
	int32_t days;
	int known;
};

/*
 * The run of decimal digits at p: its length, and its value in *v (which
 * wraps past 19 digits; callers refuse runs that long).
 */
static size_t env_digits(const char *p, const char *end, uint64_t *v)
{
	const char *q = p;
	uint64_t x = 0;
	while (q < end && (unsigned)(*q - '0') <= 9)
		x = x * 10 + (uint64_t)(*q++ - '0');
	*v = x;
	return (size_t)(q - p);
}

/*
 * A price at p as digits[.digits] ending at a quote, at most 12 integer and
 * 6 fractional digits (so that dec6_parse() takes the same text on its own
 * fast path, to the same value).  Returns the position of the closing quote,
 * or NULL.
 */
static const char *env_fast_price(const char *p, const char *end, int64_t *out)
{
	uint64_t ip, fp = 0;
	size_t ni = env_digits(p, end, &ip), nf = 0;
	if (ni == 0 || ni > 12)
		return NULL;
	p += ni;
	if (p < end && *p == '.') {
		nf = env_digits(++p, end, &fp);
		if (nf == 0 || nf > 6)
			return NULL;
		p += nf;
	}
	if (p >= end || *p != '"')
		return NULL;
	static const uint64_t scale[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};
	*out = (int64_t)(ip * 1000000 + fp * scale[nf]);
	return p;
}

/*
 * A separator literal at p; the position after it, or NULL.  Inlined with
 * the literal's constant length, where memcmp() stays a library call: 8 to
 * 16 bytes are two overlapping 8-byte compares, fewer a short loop.
 */
static inline const char *env_fast_lit(const char *p, const char *end, const char *lit, size_t n)
{
	if ((size_t)(end - p) < n)
		return NULL;
	if (n >= 8 && n <= 16) {
		uint64_t a, b, c, d;
		memcpy(&a, p, 8);
		memcpy(&b, lit, 8);
		memcpy(&c, p + (n - 8), 8);
		memcpy(&d, lit + (n - 8), 8);
		return ((a ^ b) | (c ^ d)) ? NULL : p + n;
	}
	unsigned diff = 0;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(p[i] ^ lit[i]);
	return diff ? NULL : p + n;
}
#define ENV_FAST_LIT(p, end, lit) env_fast_lit(p, end, lit, sizeof lit - 1)

/*
 * The next member of a series, when it is a bar in the layout above: add it
 * and move the scanner past it.  Returns 1 when taken, 0 when the general
 * path is to read it, -2 when memory ran out.
 */
static int env_bar_fast(struct av_env *env, struct jscan *js, int daily, struct env_day *day)
{
	size_t left;
	int first;
	const char *start = jscan_member_text(js, &left, &first);
	if (!start)
		return 0;
	const char *p = start, *end = start + left;
	if (!first && (p == end || *p++ != ','))
		return 0;
	size_t klen = daily ? 10 : 19;
	if ((size_t)(end - p) < klen + 2 || *p != '"')
		return 0;
	const char *key = p + 1;
	if (key[klen] != '"')
		return 0;

	/* The time, checked as ts_parse_naive() checks it; the date parsed once a day. */
	int32_t days;
	if (day->known && env_fast_lit(key, key + 10, day->text, 10)) {
		days = day->days;
	} else {
		if (ts_parse_date(key, 10, &days) < 0)
			return 0;
		memcpy(day->text, key, 10);
		day->days = days;
		day->known = 1;
	}
	int64_t local = (int64_t)days * 86400;
	if (!daily) {
		const char *c = key + 10;
		for (int i = 1; i < 9; i++)
			if (i % 3 != 0 && (unsigned)(c[i] - '0') > 9)
				return 0;
		int h = (c[1] - '0') * 10 + (c[2] - '0'), mi = (c[4] - '0') * 10 + (c[5] - '0');
		int se = (c[7] - '0') * 10 + (c[8] - '0');
		if (c[0] != ' ' || c[3] != ':' || c[6] != ':' || h > 23 || mi > 59 || se > 59)
			return 0;
		local += h * 3600 + mi * 60 + se;
	}

	/* The five values, in the API's order. */
	int64_t open, high, low, close;
	uint64_t volume;
	size_t nd;
	if (!(p = ENV_FAST_LIT(key + klen, end, "\":{\"1. open\":\"")) ||
	    !(p = env_fast_price(p, end, &open)) ||
	    !(p = ENV_FAST_LIT(p, end, "\",\"2. high\":\"")) ||
	    !(p = env_fast_price(p, end, &high)) ||
	    !(p = ENV_FAST_LIT(p, end, "\",\"3. low\":\"")) ||
	    !(p = env_fast_price(p, end, &low)) ||
	    !(p = ENV_FAST_LIT(p, end, "\",\"4. close\":\"")) ||
	    !(p = env_fast_price(p, end, &close)) ||
	    !(p = ENV_FAST_LIT(p, end, "\",\"5. volume\":\"")))
		return 0;
	/* 18 digits cannot overflow; longer ones the general path checks. */
	nd = env_digits(p, end, &volume);
	if (nd == 0 || nd > 18 || !(p = ENV_FAST_LIT(p + nd, end, "\"}")))
		return 0;

	struct av_bar *b = env_new_bar(env);
	if (!b)
		return -2;
	b->raw = key - 1;
	b->raw_len = (size_t)(p - b->raw);
	b->raw_json = 1;
	b->local = local;
	b->date = days;
	b->open = open;
	b->high = high;
	b->low = low;
	b->close = close;
	b->volume = (int64_t)volume;
	jscan_member_taken(js, (size_t)(p - start));
	return 1;
}

/* After the JS_OBJ of "Time Series (...)": its bars, newest first as sent. */
static int env_series(struct av_env *env, struct jscan *js, int daily)
{
	struct jscan_token k, v;
	struct env_day day = {{0}, 0, 0};
	for (;;) {
		int fast = env_bar_fast(env, js, daily, &day);
		if (fast < 0)
			return fast;
		if (fast)
			continue;
		int t = jscan_next(js, &k);
		if (t == JS_OBJ_END)
			return 0;
		if (t != JS_KEY || jscan_next(js, &v) == JS_ERR)
			return -1;
		struct av_bar *b = env_new_bar(env);
		if (!b)
			return -2;
		b->raw = k.s - 1; /* the key's opening quote */
		b->raw_json = 1;
		if (!k.escaped) {
			env_time(env, b, k.s, k.n, daily);
		} else {
			/* "2025-06-17 09\u003a30:00" is the same key, spelt with an escape. */
			struct ts_civil c;
			buf_reset(&env->scratch);
			/* Not the time: said with the key as it was written. */
			if (jscan_unescape(k.s, k.n, &env->scratch) < 0 ||
			    env->scratch.len != (daily ? 10u : 19u) ||
			    ts_parse_naive(env->scratch.data, env->scratch.len, &c) < 0)
				env_time(env, b, k.s, k.n, daily);
			else
				env_time(env, b, env->scratch.data, env->scratch.len, daily);
		}
		if (v.type == JS_OBJ) {
			const char *end;
			if (env_bar_fields(env, js, b, &end) < 0)
				return -1;
			b->raw_len = (size_t)(end - b->raw);
		} else {
			const char *raw;
			size_t rawlen;
			if (jscan_skip(js, &v, &raw, &rawlen) < 0)
				return -1;
			b->raw_len = (size_t)(raw + rawlen - b->raw);
			env_bad_bar(env, b, "bar is not an object");
		}
	}
}

/* After the JS_OBJ of "Global Quote...": the one bar it describes. */
static int env_quote(struct av_env *env, struct jscan *js, const struct jscan_token *key,
                     struct scan *sc)
{
	struct jscan_token k, v;
	struct av_bar *b = env_new_bar(env);
	if (!b)
		return -2;
	b->raw = key->s - 1;
	b->raw_json = 1;
	unsigned seen = 0; /* bits F_* and 1 << F_COUNT for the date */
	int nmembers = 0;
	for (;;) {
		int t = jscan_next(js, &k);
		if (t == JS_OBJ_END) {
			b->raw_len = (size_t)(k.s + 1 - b->raw);
			break;
		}
		if (t != JS_KEY || jscan_next(js, &v) == JS_ERR)
			return -1;
		nmembers++;
		const char *name;
		size_t nn;
		av_key_name(k.s, k.n, &name, &nn);
		int f = -1;
		for (int i = 0; i < F_COUNT; i++)
			if (env_name_is(name, nn, quote_names[i]))
				f = i;
		const char *label = f >= 0 ? quote_names[f] : NULL;
		if (f >= 0) {
			seen |= 1u << f;
			env_value_token(env, b, f, label, &v);
		} else if (env_name_is(name, nn, "latest trading day")) {
			seen |= 1u << F_COUNT;
			if (v.type != JS_STR || v.escaped)
				env_bad_bar(env, b, "latest trading day: not a date");
			else
				env_time(env, b, v.s, v.n, 1);
		} else if (env_name_is(name, nn, "symbol") && v.type == JS_STR) {
			env_copy(env, &v, sc->meta_symbol, sizeof sc->meta_symbol);
		}
		if (env_skip(js, &v) < 0)
			return -1;
	}
	if (nmembers == 0) {
		/* {"Global Quote": {}} is the answer for an unknown symbol. */
		env->nbars--;
		sc->quote_empty = 1;
		return 0;
	}
	for (int i = 0; i < F_COUNT; i++)
		if (!(seen & (1u << i)))
			env_bad_bar(env, b, "no %s", quote_names[i]);
	if (!(seen & (1u << F_COUNT)))
		env_bad_bar(env, b, "no latest trading day");
	return 0;
}

/* After the JS_OBJ of "Meta Data". */
static int env_meta(struct av_env *env, struct jscan *js, struct scan *sc)
{
	struct jscan_token k, v;
	for (;;) {
		int t = jscan_next(js, &k);
		if (t == JS_OBJ_END)
			return 0;
		if (t != JS_KEY || jscan_next(js, &v) == JS_ERR)
			return -1;
		const char *name;
		size_t nn;
		av_key_name(k.s, k.n, &name, &nn);
		if (v.type == JS_STR) {
			if (env_name_is(name, nn, AV_META_SYMBOL))
				env_copy(env, &v, sc->meta_symbol, sizeof sc->meta_symbol);
			else if (env_name_is(name, nn, AV_META_INTERVAL))
				env_copy(env, &v, sc->meta_interval, sizeof sc->meta_interval);
			else if (env_name_is(name, nn, AV_META_ZONE))
				env_copy(env, &v, env->zone, sizeof env->zone);
		}
		if (env_skip(js, &v) < 0)
			return -1;
	}
}

/* After the JS_OBJ of "body": an Alpha Vantage response. */
static int env_body(struct av_env *env, struct jscan *js, struct scan *sc)
{
	struct jscan_token k, v;
	for (;;) {
		int t = jscan_next(js, &k);
		if (t == JS_OBJ_END)
			return 0;
		if (t != JS_KEY || jscan_next(js, &v) == JS_ERR)
			return -1;
		sc->nkeys++;
		int rc = 0;
		int series = v.type == JS_OBJ ? av_series_interval(k.s, k.n) : -1;
		int message = v.type == JS_STR ? av_message_kind(k.s, k.n) : AV_MSG_NONE;
		if (env_eq(&k, AV_KEY_META) && v.type == JS_OBJ) {
			sc->meta = 1;
			rc = env_meta(env, js, sc);
		} else if (series >= 0) {
			snprintf(sc->series_name, sizeof sc->series_name, "%.*s",
			         (int)(k.n > 60 ? 60 : k.n), k.s);
			sc->nseries++;
			sc->series_interval = series;
			if (sc->series_interval == 0 || sc->nseries > 1)
				rc = env_skip(js, &v);
			else
				rc = env_series(env, js, sc->series_interval == TICK_1D);
		} else if (av_is_quote_key(k.s, k.n) && v.type == JS_OBJ) {
			sc->quote++;
			rc = sc->quote > 1 ? env_skip(js, &v) : env_quote(env, js, &k, sc);
		} else if (message != AV_MSG_NONE) {
			if (!sc->api) {
				sc->api = message;
				env_copy(env, &v, sc->api_text, sizeof sc->api_text);
			}
		} else {
			sc->unknown_keys++;
			rc = env_skip(js, &v);
		}
		if (rc < 0)
			return rc;
	}
}

/* CSV body -------------------------------------------------------------------- */

/* Do two symbols name the same ticker (letters compared without case)? */
static int env_same_symbol(const char *a, const char *b)
{
	char ua[AV_SYMBOL_MAX + 1], ub[AV_SYMBOL_MAX + 1];
	return av_symbol_upper(a, strlen(a), ua) == 0 && av_symbol_upper(b, strlen(b), ub) == 0 &&
	       strcmp(ua, ub) == 0;
}

/* Split line s[0..n) at commas into at most max fields; returns the count. */
static int env_csv_split(const char *s, size_t n, const char **f, size_t *fn, int max)
{
	int k = 0;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == ',') {
			if (k < max) {
				f[k] = s + start;
				fn[k] = i - start;
			}
			k++;
			start = i + 1;
		}
	}
	return k;
}

/* Bars from the CSV text of a response to function fn. */
static int env_csv(struct av_env *env, struct scan *sc, int fn)
{
	const char *s = sc->csv;
	size_t n = sc->csv_len;
	if (sc->csv_escaped) {
		buf_reset(&env->csv);
		if (jscan_unescape(sc->csv, sc->csv_len, &env->csv) < 0)
			return -1;
		s = env->csv.data;
		n = env->csv.len;
	}
	const char *header = fn == AV_QUOTE ? AV_CSV_QUOTE : AV_CSV_SERIES;
	int nf = fn == AV_QUOTE ? 10 : 6;
	int first = 1;
	size_t pos = 0;
	while (pos < n) {
		const char *nl = memchr(s + pos, '\n', n - pos);
		size_t end = nl ? (size_t)(nl - s) : n;
		const char *line = s + pos;
		size_t len = end - pos;
		pos = end + 1;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len == 0)
			continue;
		if (first) {
			first = 0;
			if (len != strlen(header) || memcmp(line, header, len) != 0) {
				env_reject(env, "CSV body does not start with the header \"%s\"",
				           header);
				return 0;
			}
			continue;
		}
		struct av_bar *b = env_new_bar(env);
		if (!b)
			return -2;
		b->raw = line;
		b->raw_len = len;
		const char *f[10];
		size_t fl[10];
		int k = env_csv_split(line, len, f, fl, 10);
		if (k != nf) {
			env_bad_bar(env, b, "CSV line has %d fields, expected %d", k, nf);
			continue;
		}
		if (fn == AV_QUOTE) {
			/*
			 * Each row names its symbol: the first that is not the one
			 * requested is kept, so that env_settle() rejects the
			 * envelope whichever row it is in.
			 */
			char row_symbol[sizeof sc->meta_symbol];
			snprintf(row_symbol, sizeof row_symbol, "%.*s",
			         (int)(fl[0] > 30 ? 30 : fl[0]), f[0]);
			if (!sc->meta_symbol[0] || env_same_symbol(sc->meta_symbol, env->symbol))
				memcpy(sc->meta_symbol, row_symbol, sizeof row_symbol);
			env_value(env, b, F_OPEN, "open", f[1], fl[1]);
			env_value(env, b, F_HIGH, "high", f[2], fl[2]);
			env_value(env, b, F_LOW, "low", f[3], fl[3]);
			env_value(env, b, F_CLOSE, "price", f[4], fl[4]);
			env_value(env, b, F_VOLUME, "volume", f[5], fl[5]);
			env_time(env, b, f[6], fl[6], 1);
		} else {
			env_time(env, b, f[0], fl[0], fn == AV_DAILY);
			for (int i = 0; i < F_COUNT; i++)
				env_value(env, b, i, bar_field_names[i], f[i + 1], fl[i + 1]);
		}
	}
	if (first)
		env_reject(env, "CSV body is empty");
	return 0;
}

/* The envelope ------------------------------------------------------------------ */

static int env_string_member(struct av_env *env, const struct jscan_token *v, char *dst, size_t cap)
{
	if (v->type != JS_STR)
		return M_WRONG;
	env_copy(env, v, dst, cap);
	return M_OK;
}

static int env_i64(const struct jscan_token *v, int64_t *out)
{
	if (v->type != JS_NUM || v->n == 0 || v->n > 19)
		return -1;
	uint64_t x = 0;
	for (size_t i = 0; i < v->n; i++) {
		if (v->s[i] < '0' || v->s[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(v->s[i] - '0');
	}
	if (x > (uint64_t)INT64_MAX)
		return -1;
	*out = (int64_t)x;
	return 0;
}

/* The scan of the envelope's top level. Returns 0, -1 (invalid JSON) or -2 (memory). */
static int env_scan(struct av_env *env, struct jscan *js, struct scan *sc)
{
	struct jscan_token k, v;
	if (jscan_next(js, &k) != JS_OBJ)
		return -1;
	for (;;) {
		int t = jscan_next(js, &k);
		if (t == JS_OBJ_END)
			break;
		if (t != JS_KEY || jscan_next(js, &v) == JS_ERR)
			return -1;
		int rc = 0;
		if (env_eq(&k, "source")) {
			sc->source =
			    env_string_member(env, &v, sc->source_text, sizeof sc->source_text);
		} else if (env_eq(&k, "function")) {
			sc->function = env_string_member(env, &v, env->function_name,
			                                 sizeof env->function_name);
		} else if (env_eq(&k, "symbol")) {
			sc->symbol =
			    env_string_member(env, &v, sc->symbol_text, sizeof sc->symbol_text);
		} else if (env_eq(&k, "interval")) {
			sc->interval = v.type == JS_NULL
			                   ? M_ABSENT
			                   : env_string_member(env, &v, sc->interval_text,
			                                       sizeof sc->interval_text);
		} else if (env_eq(&k, "fetched_at")) {
			sc->fetched_at = v.type == JS_STR && !v.escaped &&
			                         ts_parse_rfc3339(v.s, v.n, &env->fetched_at) == 0
			                     ? M_OK
			                     : M_WRONG;
		} else if (env_eq(&k, "http_status")) {
			sc->http_status = env_i64(&v, &sc->http_code) == 0 ? M_OK : M_WRONG;
		} else if (env_eq(&k, "batch_id")) {
			sc->batch_id = v.type == JS_NULL                  ? M_ABSENT
			               : env_i64(&v, &env->batch_id) == 0 ? M_OK
			                                                  : M_WRONG;
		} else if (env_eq(&k, "body")) {
			if (v.type == JS_OBJ) {
				sc->body = B_OBJECT;
				rc = env_body(env, js, sc);
			} else if (v.type == JS_STR) {
				sc->body = B_STRING;
				sc->csv = v.s;
				sc->csv_len = v.n;
				sc->csv_escaped = v.escaped;
			} else {
				sc->body = B_OTHER;
				rc = env_skip(js, &v);
			}
		} else {
			rc = env_skip(js, &v);
		}
		if (rc < 0)
			return rc;
	}
	return jscan_next(js, &k) == JS_END ? 0 : -1;
}

/* Decide what the scanned envelope is; rejects it (env->reject) when it is not usable. */
static int env_settle(struct av_env *env, struct scan *sc)
{
	if (sc->source == M_ABSENT && sc->function == M_ABSENT && sc->body == B_ABSENT) {
		env_reject(env, "not an av-fetch envelope: no source, function or body");
		return -1;
	}
	if (sc->source != M_OK || strcmp(sc->source_text, AV_SOURCE) != 0) {
		if (sc->source == M_OK)
			env_reject(env, "source is \"%s\", not " AV_SOURCE, sc->source_text);
		else
			env_reject(env, "source %s", sc->source ? "is not a string" : "is missing");
		return -1;
	}
	if (sc->function != M_OK) {
		env_reject(env, "function %s", sc->function ? "is not a string" : "is missing");
		return -1;
	}
	env->function = av_function_parse_api(env->function_name, strlen(env->function_name));
	if (env->function < 0) {
		env_reject(env, "function \"%s\" is not one tick-normalize reads",
		           env->function_name);
		return -1;
	}
	if (sc->symbol != M_OK ||
	    av_symbol_upper(sc->symbol_text, strlen(sc->symbol_text), env->symbol) < 0) {
		if (sc->symbol == M_OK)
			env_reject(env, "symbol \"%s\" is not a ticker ([A-Z0-9.-]{1,15})",
			           sc->symbol_text);
		else
			env_reject(env, "symbol %s", sc->symbol ? "is not a string" : "is missing");
		env->symbol[0] = '\0';
		return -1;
	}
	if (sc->fetched_at != M_OK) {
		env_reject(env, "fetched_at %s",
		           sc->fetched_at ? "is not an RFC 3339 timestamp" : "is missing");
		return -1;
	}
	env->has_fetched_at = 1;
	if (sc->batch_id == M_WRONG) {
		env_reject(env, "batch_id is not a non-negative integer");
		return -1;
	}
	env->has_batch_id = sc->batch_id == M_OK;
	if (sc->http_status == M_WRONG || (sc->http_status == M_OK && sc->http_code != 200)) {
		if (sc->http_status == M_OK)
			env_reject(env, "HTTP status %lld", (long long)sc->http_code);
		else
			env_reject(env, "http_status is not an integer");
		return -1;
	}
	if (sc->body == B_ABSENT || sc->body == B_OTHER) {
		env_reject(env, "body %s",
		           sc->body ? "is neither an object nor a string" : "is missing");
		return -1;
	}
	if (sc->api) {
		env_reject(env, "%s: %s", av_message_label(sc->api), sc->api_text);
		return -1;
	}

	/* The interval of the bars, from the function and whatever the envelope says. */
	int want = 0;
	if (sc->interval == M_WRONG) {
		env_reject(env, "interval is not a string");
		return -1;
	}
	if (env->function == AV_INTRADAY) {
		if (sc->interval == M_OK) {
			want = tick_interval_parse(sc->interval_text, strlen(sc->interval_text));
			if (want == 0 || want == TICK_1D) {
				env_reject(env, "interval \"%s\" is not an intraday interval",
				           sc->interval_text);
				return -1;
			}
		}
	} else if (sc->interval == M_OK && strcmp(sc->interval_text, "1d") != 0 &&
	           strcmp(sc->interval_text, "daily") != 0) {
		env_reject(env, "interval \"%s\" does not fit %s", sc->interval_text,
		           env->function_name);
		return -1;
	}

	if (sc->body == B_STRING) {
		if (env->function == AV_INTRADAY && want == 0) {
			env_reject(env, "a CSV body needs the envelope's interval");
			return -1;
		}
		env->interval = env->function == AV_INTRADAY ? want : TICK_1D;
		int rc = env_csv(env, sc, env->function);
		if (rc == -2)
			return -2;
		if (rc < 0) {
			env_reject(env, "body is not a valid JSON string");
			return -1;
		}
		if (env->reject[0])
			return -1;
		/* A header without rows: as an empty series, or an empty quote, in JSON. */
		if (env->nbars == 0 && env->function == AV_QUOTE) {
			env_reject(env, "the quote CSV has no row (an unknown symbol)");
			return -1;
		}
		env->no_data = env->nbars == 0;
	} else if (env->function == AV_QUOTE) {
		if (sc->quote_empty) {
			env_reject(env, "Global Quote is empty (an unknown symbol)");
			return -1;
		}
		if (sc->quote == 0) {
			if (sc->nkeys == 0) {
				env->no_data = 1;
				return 0;
			}
			env_reject(env, "body has no Global Quote");
			return -1;
		}
		env->interval = TICK_1D;
	} else {
		if (sc->nseries == 0) {
			if (sc->nkeys == 0) {
				env->no_data = 1;
				return 0;
			}
			env_reject(env, "body has no time series");
			return -1;
		}
		if (sc->nseries > 1) {
			env_reject(env, "body has more than one time series");
			return -1;
		}
		int daily = env->function == AV_DAILY;
		if (sc->series_interval == 0 || (sc->series_interval == TICK_1D) != daily) {
			env_reject(env, "\"%s\" does not fit %s", sc->series_name,
			           env->function_name);
			return -1;
		}
		if (want && want != sc->series_interval) {
			env_reject(env, "interval \"%s\" does not match \"%s\"", sc->interval_text,
			           sc->series_name);
			return -1;
		}
		if (sc->meta_interval[0] &&
		    tick_interval_parse(sc->meta_interval, strlen(sc->meta_interval)) !=
		        sc->series_interval) {
			env_reject(env, "Meta Data interval \"%s\" does not match \"%s\"",
			           sc->meta_interval, sc->series_name);
			return -1;
		}
		env->interval = sc->series_interval;
		env->no_data = env->nbars == 0;
	}
	if (sc->meta_symbol[0] && !env_same_symbol(sc->meta_symbol, env->symbol)) {
		env_reject(env, "the response is for \"%s\", not the requested \"%s\"",
		           sc->meta_symbol, env->symbol);
		return -1;
	}
	return 0;
}

int av_env_parse(struct av_env *env, const char *s, size_t n)
{
	struct scan sc;
	struct jscan js;
	memset(&sc, 0, sizeof sc);
	env->function = -1;
	env->function_name[0] = '\0';
	env->symbol[0] = '\0';
	env->interval = 0;
	env->has_fetched_at = env->has_batch_id = 0;
	env->zone[0] = '\0';
	env->reject[0] = '\0';
	env->no_data = 0;
	env->nbars = 0;
	buf_reset(&env->why);
	jscan_init(&js, s, n);
	int rc = env_scan(env, &js, &sc);
	if (rc == -2)
		return -2;
	if (rc < 0) {
		env->valid_json = 0;
		env->reject[0] = '\0';
		env_reject(env, "not valid JSON: %s at byte %zu",
		           js.error ? js.error : "not an object", jscan_offset(&js));
		env->nbars = 0;
		return -1;
	}
	env->valid_json = 1;
	rc = env_settle(env, &sc);
	if (rc == -2)
		return -2;
	if (rc < 0) {
		env->nbars = 0;
		return -1;
	}
	return 0;
}

/* Conversion and order ---------------------------------------------------------- */

static int env_bar_cmp(const void *pa, const void *pb)
{
	const struct av_bar *a = pa, *b = pb;
	int abad = a->why >= 0, bbad = b->why >= 0;
	if (abad != bbad)
		return abad - bbad;
	if (!abad && a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

size_t av_env_convert(struct av_env *env, const struct tz *z)
{
	size_t good = 0;
	int descending = 1, ascending = 1;
	int64_t prev = 0;
	struct tz_memo memo = TZ_MEMO_INIT;
	const int64_t utc_min = ts_days_from_civil(1, 1, 1) * 86400;
	const int64_t utc_max = ts_days_from_civil(10000, 1, 1) * 86400 - 1;
	for (size_t i = 0; i < env->nbars; i++) {
		struct av_bar *b = &env->bars[i];
		if (b->why >= 0)
			continue;
		int64_t utc;
		int found = tz_local_to_utc_memo(z, &memo, b->local, &utc);
		if (found == TZ_NONEXISTENT && env->interval == TICK_1D) {
			/*
			 * A daily bar starts at the start of its day.  Where clocks
			 * go forward at midnight (America/Sao_Paulo until 2019,
			 * America/Santiago) the day starts when the change is
			 * over: the instant midnight would be on the offset in
			 * effect before it, which a day earlier still holds.
			 */
			utc = b->local - tz_offset(z, b->local - 86400);
			found = TZ_OK;
		}
		if (found == TZ_NONEXISTENT) {
			char text[TS_TEXT_MAX];
			ts_format_rfc3339(b->local * TS_US_PER_SEC, text);
			text[10] = ' ';
			text[19] = '\0';
			env_bad_bar(env, b,
			            "timestamp \"%s\" does not exist in %s (skipped by a "
			            "daylight-saving change)",
			            text, tz_name(z));
			descending = ascending = 0; /* a reject among good bars: sort */
			continue;
		}
		/*
		 * A label near the ends of the calendar can leave it in UTC
		 * ("9999-12-31 23:00:00" in New York is in the year 10000):
		 * every reader of tick records takes years 0001..9999 only.
		 */
		if (utc < utc_min || utc > utc_max) {
			char text[TS_TEXT_MAX];
			ts_format_rfc3339(b->local * TS_US_PER_SEC, text);
			text[10] = ' ';
			text[19] = '\0';
			env_bad_bar(
			    env, b,
			    "timestamp \"%s\" in %s is outside the years 0001 to 9999 in UTC", text,
			    tz_name(z));
			descending = ascending = 0;
			continue;
		}
		b->ts = utc * TS_US_PER_SEC;
		if (good > 0) {
			descending &= b->ts < prev;
			ascending &= b->ts > prev;
		}
		prev = b->ts;
		good++;
	}
	if (good < env->nbars)
		descending = ascending = 0;
	if (env->nbars < 2)
		return good; /* nothing to order (and no last index to reverse from) */
	if (descending) {
		/* As the API sends them: reversing is the whole sort. */
		for (size_t i = 0, j = env->nbars - 1; i < j; i++, j--) {
			struct av_bar t = env->bars[i];
			env->bars[i] = env->bars[j];
			env->bars[j] = t;
		}
	} else if (!ascending) {
		qsort(env->bars, env->nbars, sizeof *env->bars, env_bar_cmp);
		/*
		 * A time the series gives twice (only an unordered series can) is
		 * two bars that contradict each other: neither is taken.
		 */
		size_t twice = 0;
		for (size_t i = 0; i + 1 < good;) {
			size_t j = i + 1;
			while (j < good && env->bars[j].ts == env->bars[i].ts)
				j++;
			for (size_t k = i; j - i > 1 && k < j; k++) {
				char text[TS_TEXT_MAX];
				ts_format_rfc3339(env->bars[k].local * TS_US_PER_SEC, text);
				text[10] = ' ';
				text[19] = '\0';
				env_bad_bar(env, &env->bars[k],
				            "timestamp \"%s\" is given %zu times in the series",
				            text, j - i);
				twice++;
			}
			i = j;
		}
		if (twice) {
			qsort(env->bars, env->nbars, sizeof *env->bars, env_bar_cmp);
			good -= twice;
		}
	}
	return good;
}

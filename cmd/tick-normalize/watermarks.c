/*
 * watermarks: parsing the lines of a watermarks file and looking keys up.
 *
 * Each line is tokenized with jscan (the record reader has already bounded
 * its length); only the three members that make a watermark are read, and
 * each must appear once, as a string.  Entries are keyed by
 * "SYMBOL/interval" in a string map, so a lookup per envelope is one hash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watermarks.h"
#include "av/avapi.h"
#include "record/tick.h"
#include "text/jscan.h"
#include "text/ts.h"

/* "SYMBOL/interval": at most 15 + 1 + 5 bytes. */
#define WM_KEY_MAX 32

struct wm_entry {
	char key[WM_KEY_MAX];
	int64_t newest;
};

static void make_key(char out[WM_KEY_MAX], const char *symbol, int interval)
{
	snprintf(out, WM_KEY_MAX, "%s/%s", symbol, tick_interval_name(interval));
}

/* The string value of token t, unescaped into b; -1 when it is no string or too long. */
static int string_value(const struct jscan_token *t, struct buf *b, size_t max)
{
	buf_reset(b);
	if (t->type != JS_STR || t->n > max * 6)
		return -1;
	if (t->escaped ? jscan_unescape(t->s, t->n, b) < 0 : buf_append(b, t->s, t->n) < 0)
		return -1;
	if (buf_failed(b) || b->len > max)
		return -1;
	return 0;
}

int wm_add_line(struct watermarks *w, const char *s, size_t n, char why[WM_WHY_MAX])
{
	enum { M_SYMBOL, M_INTERVAL, M_NEWEST, M_COUNT };
	static const char *const names[M_COUNT] = {"symbol", "interval", "newest"};
	char symbol[AV_SYMBOL_MAX + 1] = "";
	int interval = 0, seen[M_COUNT] = {0, 0, 0};
	int64_t newest = 0;
	struct buf val = BUF_INIT;
	struct jscan js;
	struct jscan_token t;
	int rc = -1;

	jscan_init(&js, s, n);
	if (jscan_next(&js, &t) != JS_OBJ) {
		snprintf(why, WM_WHY_MAX, "not a JSON object");
		goto out;
	}
	for (;;) {
		int k = jscan_next(&js, &t);
		if (k == JS_OBJ_END)
			break;
		if (k != JS_KEY) {
			snprintf(why, WM_WHY_MAX, "not valid JSON: %s",
			         js.error ? js.error : "unexpected token");
			goto out;
		}
		int m = M_COUNT;
		for (int i = 0; i < M_COUNT; i++)
			if (!t.escaped && t.n == strlen(names[i]) &&
			    memcmp(t.s, names[i], t.n) == 0)
				m = i;
		if (jscan_next(&js, &t) <= 0) {
			snprintf(why, WM_WHY_MAX, "not valid JSON: %s",
			         js.error ? js.error : "unexpected end");
			goto out;
		}
		if (m == M_COUNT) {
			/* Another member (a spool line's "fact", "at" ...): skipped whole. */
			const char *raw;
			size_t rawlen;
			if (jscan_skip(&js, &t, &raw, &rawlen) < 0) {
				snprintf(why, WM_WHY_MAX, "not valid JSON: %s",
				         js.error ? js.error : "unexpected end");
				goto out;
			}
			continue;
		}
		if (seen[m]++) {
			snprintf(why, WM_WHY_MAX, "member \"%s\" repeated", names[m]);
			goto out;
		}
		if (string_value(&t, &val, 64) < 0) {
			snprintf(why, WM_WHY_MAX, "member \"%s\": not a string of at most 64 bytes",
			         names[m]);
			goto out;
		}
		const char *v = val.data ? val.data : "";
		switch (m) {
		case M_SYMBOL:
			if (av_symbol_upper(v, val.len, symbol) < 0) {
				snprintf(why, WM_WHY_MAX,
				         "member \"symbol\": not a symbol ([A-Za-z0-9.-]{1,15})");
				goto out;
			}
			break;
		case M_INTERVAL:
			interval = tick_interval_parse(v, val.len);
			if (!interval) {
				snprintf(why, WM_WHY_MAX,
				         "member \"interval\": not an interval (1min, 5min, 15min, "
				         "30min, 60min, 1d)");
				goto out;
			}
			break;
		default:
			if (ts_parse_rfc3339(v, val.len, &newest) < 0) {
				snprintf(why, WM_WHY_MAX,
				         "member \"newest\": not an RFC 3339 time");
				goto out;
			}
			break;
		}
	}
	if (jscan_next(&js, &t) != JS_END) {
		snprintf(why, WM_WHY_MAX, "not valid JSON: %s",
		         js.error ? js.error : "text after the object");
		goto out;
	}
	for (int i = 0; i < M_COUNT; i++)
		if (!seen[i]) {
			snprintf(why, WM_WHY_MAX, "member \"%s\" missing", names[i]);
			goto out;
		}

	char key[WM_KEY_MAX];
	make_key(key, symbol, interval);
	struct wm_entry *have = strmap_get(&w->keys, key);
	if (have) {
		if (newest > have->newest)
			have->newest = newest;
		rc = 0;
		goto out;
	}
	struct wm_entry *ent = malloc(sizeof *ent);
	if (!ent) {
		rc = -2;
		goto out;
	}
	memcpy(ent->key, key, sizeof key);
	ent->newest = newest;
	if (strmap_put(&w->keys, ent->key, ent, NULL) < 0) {
		free(ent);
		rc = -2;
		goto out;
	}
	rc = 0;
out:
	buf_free(&val);
	return rc;
}

int64_t wm_get(const struct watermarks *w, const char *symbol, int interval)
{
	if (!w->keys.count || !tick_interval_name(interval))
		return INT64_MIN;
	char key[WM_KEY_MAX];
	make_key(key, symbol, interval);
	const struct wm_entry *ent = strmap_get(&w->keys, key);
	return ent ? ent->newest : INT64_MIN;
}

size_t wm_count(const struct watermarks *w)
{
	return w->keys.count;
}

void wm_free(struct watermarks *w)
{
	size_t i = 0;
	struct strmap_slot *slot;
	while ((slot = strmap_next(&w->keys, &i)) != NULL)
		free(slot->value);
	strmap_free(&w->keys);
}

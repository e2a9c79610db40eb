/*
 * avapi: requests, classification and envelopes.
 *
 * The classifier reads a JSON body with the validating tokenizer in one
 * pass: it looks at the top-level keys only, counts the entries of the
 * series it expects, and keeps the first "Error Message", "Note" and
 * "Information" strings.  The vendor's wording drifts, so throttles and
 * refusals are told apart by a few stable phrases, tried in an order that
 * matters: the burst message also mentions the daily limit and premium
 * plans, the legacy per-minute note also mentions a daily count, and every
 * throttle message advertises premium plans.
 */
#include "av/avapi.h"

#include <stdio.h>
#include <string.h>

#include "net/url.h"
#include "text/jscan.h"
#include "record/tick.h"
#include "text/ts.h"

static const char *const function_names[AV_FUNCTION_COUNT] = {"intraday", "daily", "quote"};
static const char *const function_apis[AV_FUNCTION_COUNT] = {"TIME_SERIES_INTRADAY",
                                                             "TIME_SERIES_DAILY", "GLOBAL_QUOTE"};

static const char *const class_names[AV_CLASS_COUNT] = {
    [AV_DATA] = "data",
    [AV_EMPTY] = "empty answer",
    [AV_ERROR] = "error message",
    [AV_BAD_KEY] = "API key refused",
    [AV_PREMIUM] = "premium only",
    [AV_THROTTLE_MINUTE] = "throttled (per-minute limit)",
    [AV_THROTTLE_SECOND] = "throttled (per-second limit)",
    [AV_DAILY_LIMIT] = "daily limit reached",
    [AV_NOTICE] = "unrecognised notice",
    [AV_EMPTY_QUOTE] = "empty quote",
    [AV_OTHER_SERIES] = "another series",
    [AV_MALFORMED] = "malformed answer",
};

void av_request_init(struct av_request *r, int function)
{
	memset(r, 0, sizeof *r);
	r->function = function;
	r->interval = function == AV_INTRADAY ? TICK_5MIN : 0;
	r->month = AV_NO_MONTH;
	r->datatype = AV_JSON;
	r->adjusted = 1;
	r->extended_hours = 1;
}

const char *av_function_name(int function)
{
	return function >= 0 && function < AV_FUNCTION_COUNT ? function_names[function] : "unknown";
}

const char *av_function_api(int function)
{
	return function >= 0 && function < AV_FUNCTION_COUNT ? function_apis[function] : "unknown";
}

int av_function_parse(const char *s)
{
	for (int i = 0; i < AV_FUNCTION_COUNT; i++)
		if (strcmp(s, function_names[i]) == 0)
			return i;
	return -1;
}

int av_function_parse_api(const char *s, size_t n)
{
	for (int i = 0; i < AV_FUNCTION_COUNT; i++)
		if (strlen(function_apis[i]) == n && memcmp(s, function_apis[i], n) == 0)
			return i;
	return -1;
}

#define AV_SERIES_PREFIX "Time Series ("
#define AV_SERIES_DAILY  "Daily"

const char *av_series_key(int function, int interval, char out[AV_SERIES_KEY_MAX])
{
	const char *what = function == AV_DAILY      ? AV_SERIES_DAILY
	                   : function == AV_INTRADAY ? tick_interval_name(interval)
	                                             : NULL;
	if (what)
		snprintf(out, AV_SERIES_KEY_MAX, AV_SERIES_PREFIX "%s)", what);
	else
		out[0] = '\0';
	return out;
}

int av_series_interval(const char *k, size_t n)
{
	size_t p = strlen(AV_SERIES_PREFIX);
	if (n <= p || memcmp(k, AV_SERIES_PREFIX, p) != 0 || k[n - 1] != ')')
		return -1;
	const char *in = k + p;
	size_t inn = n - p - 1;
	if (inn == strlen(AV_SERIES_DAILY) && memcmp(in, AV_SERIES_DAILY, inn) == 0)
		return TICK_1D;
	int iv = tick_interval_parse(in, inn);
	/* "1d" is the pipeline's name, never the vendor's. */
	return iv == TICK_1D ? 0 : iv;
}

int av_is_quote_key(const char *k, size_t n)
{
	size_t p = strlen(AV_KEY_QUOTE);
	return n >= p && memcmp(k, AV_KEY_QUOTE, p) == 0;
}

void av_key_name(const char *k, size_t n, const char **name, size_t *nn)
{
	size_t i = 0;
	while (i < n && k[i] >= '0' && k[i] <= '9')
		i++;
	if (i > 0 && i + 1 < n && k[i] == '.' && k[i + 1] == ' ') {
		*name = k + i + 2;
		*nn = n - i - 2;
	} else {
		*name = k;
		*nn = n;
	}
}

static const char *const message_keys[] = {NULL, "Error Message", "Note", "Information"};

int av_message_kind(const char *k, size_t n)
{
	for (int i = AV_MSG_ERROR; i <= AV_MSG_INFORMATION; i++)
		if (strlen(message_keys[i]) == n && memcmp(k, message_keys[i], n) == 0)
			return i;
	return AV_MSG_NONE;
}

const char *av_message_label(int kind)
{
	static const char *const labels[] = {"", "API error", "API note", "API information"};
	return kind >= AV_MSG_ERROR && kind <= AV_MSG_INFORMATION ? labels[kind] : "";
}

const char *av_class_name(int cls)
{
	return cls >= 0 && cls < AV_CLASS_COUNT ? class_names[cls] : "unknown";
}

int av_symbol_upper(const char *s, size_t n, char out[AV_SYMBOL_MAX + 1])
{
	out[0] = '\0';
	if (n == 0 || n > AV_SYMBOL_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) {
			out[0] = '\0';
			return -1;
		}
		out[i] = c;
	}
	out[n] = '\0';
	return 0;
}

int av_symbol_valid(const char *s)
{
	char up[AV_SYMBOL_MAX + 1];
	size_t n = strnlen(s, AV_SYMBOL_MAX + 1);
	return av_symbol_upper(s, n, up) == 0;
}

int av_month_parse(const char *s, int *ym)
{
	if (strlen(s) != 7 || s[4] != '-')
		return -1;
	int y = 0, m = 0;
	for (int i = 0; i < 7; i++) {
		if (i == 4)
			continue;
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (i < 4)
			y = y * 10 + (s[i] - '0');
		else
			m = m * 10 + (s[i] - '0');
	}
	/* The vendor's intraday history starts in January 2000. */
	if (y < 2000 || m < 1 || m > 12)
		return -1;
	*ym = y * 12 + m - 1;
	return 0;
}

void av_month_format(int ym, char out[8])
{
	unsigned y = (unsigned)(ym / 12) % 10000, m = (unsigned)(ym % 12) + 1;
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '\0';
}

/* URL ------------------------------------------------------------------ */

int av_url(struct buf *out, const char *base_url, const struct av_request *r, const char *apikey)
{
	int rc = buf_puts(out, base_url);
	rc |= url_param(out, "function", av_function_api(r->function));
	rc |= url_param(out, "symbol", r->symbol);
	if (r->function == AV_INTRADAY) {
		rc |= url_param(out, "interval", tick_interval_name(r->interval));
		if (r->sent & AV_SENT_ADJUSTED)
			rc |= url_param(out, "adjusted", r->adjusted ? "true" : "false");
		if (r->sent & AV_SENT_EXTENDED)
			rc |=
			    url_param(out, "extended_hours", r->extended_hours ? "true" : "false");
		if (r->month != AV_NO_MONTH) {
			char m[8];
			av_month_format(r->month, m);
			rc |= url_param(out, "month", m);
		}
	}
	if (r->function != AV_QUOTE && (r->sent & AV_SENT_OUTPUTSIZE))
		rc |= url_param(out, "outputsize", r->outputsize_full ? "full" : "compact");
	if (r->entitlement != AV_ENT_NONE)
		rc |= url_param(out, "entitlement",
		                r->entitlement == AV_ENT_REALTIME ? "realtime" : "delayed");
	if (r->sent & AV_SENT_DATATYPE)
		rc |= url_param(out, "datatype", r->datatype == AV_CSV ? "csv" : "json");
	if (apikey) {
		rc |= url_param(out, "apikey", apikey);
	} else {
		/* The printable form: an empty parameter, then a mark that cannot be a key. */
		rc |= url_param(out, "apikey", "");
		rc |= buf_puts(out, "***");
	}
	return rc ? -1 : 0;
}

/* Classification --------------------------------------------------------- */

/* An ASCII letter or digit: what an API key is made of. */
static int av_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * Does hay contain needle, ASCII letters compared without case?  With
 * word, only where no ASCII letter or digit is just before or after it:
 * vendor messages can echo the API key ("We have detected your API key as
 * ..."), and a key is letters and digits, so a word is never found inside
 * one ("demo" is no word of the key K7DEMO2X).
 */
static int av_find_text(const char *hay, const char *needle, int word)
{
	size_t n = strlen(needle);
	for (const char *p = hay; *p; p++) {
		size_t i = 0;
		while (i < n && p[i]) {
			char a = p[i], b = needle[i];
			if (a >= 'A' && a <= 'Z')
				a = (char)(a - 'A' + 'a');
			if (b >= 'A' && b <= 'Z')
				b = (char)(b - 'A' + 'a');
			if (a != b)
				break;
			i++;
		}
		if (i == n && (!word || ((p == hay || !av_alnum(p[-1])) && !av_alnum(p[n]))))
			return 1;
	}
	return 0;
}

static int av_contains(const char *hay, const char *needle)
{
	return av_find_text(hay, needle, 0);
}

static int av_contains_word(const char *hay, const char *needle)
{
	return av_find_text(hay, needle, 1);
}

/* Copy text into the answer's message: control characters become spaces, long text is cut. */
static void av_set_message(struct av_answer *a, const char *s, size_t n)
{
	size_t max = sizeof a->message - 1, k = 0;
	int cut = n > max;
	if (cut) {
		n = max - 3;
		/*
		 * Cut between words, never inside one: a message can quote the
		 * API key, which has no blank, and the key is removed from a
		 * message only where it stands whole.  This never splits a
		 * UTF-8 sequence either.
		 */
		while (n > 0 && (unsigned char)s[n] > 0x20 && (unsigned char)s[n - 1] > 0x20)
			n--;
	}
	for (; k < n; k++) {
		unsigned char c = (unsigned char)s[k];
		a->message[k] = c < 0x20 || c == 0x7F ? ' ' : (char)c;
	}
	if (cut) {
		memcpy(a->message + k, "...", 3);
		k += 3;
	}
	a->message[k] = '\0';
}

/* Our own reason, short and printable. */
static void av_set_why(struct av_answer *a, int cls, const char *why)
{
	a->cls = cls;
	snprintf(a->message, sizeof a->message, "%s", why);
}

/* The class of a "Note" or "Information" text (see the order note at the top). */
static int av_notice_class(const char *m)
{
	if ((av_contains_word(m, "apikey") || av_contains(m, "api key")) &&
	    av_contains_word(m, "invalid"))
		return AV_BAD_KEY;
	if (av_contains_word(m, "demo"))
		return AV_BAD_KEY;
	if (av_contains(m, "per second") || av_contains(m, "per-second") ||
	    av_contains_word(m, "sparingly") || av_contains_word(m, "burst"))
		return AV_THROTTLE_SECOND;
	if (av_contains(m, "per minute") || av_contains(m, "per-minute") ||
	    av_contains(m, "call frequency"))
		return AV_THROTTLE_MINUTE;
	/* Not "daily" alone: the premium-parameter text names the TIME_SERIES_DAILY endpoint. */
	if (av_contains(m, "per day") || av_contains(m, "daily limit") ||
	    av_contains(m, "daily rate limit"))
		return AV_DAILY_LIMIT;
	if (av_contains_word(m, "premium"))
		return AV_PREMIUM;
	return AV_NOTICE;
}

/* Is the key k[0..n) the data key of request r? */
static int av_is_data_key(const struct av_request *r, const char *k, size_t n)
{
	char want[AV_SERIES_KEY_MAX];
	/* With entitlement=delayed the key is "Global Quote - DATA DELAYED BY 15 MINUTES". */
	if (r->function == AV_QUOTE)
		return av_is_quote_key(k, n);
	av_series_key(r->function, r->interval, want);
	return n == strlen(want) && memcmp(k, want, n) == 0;
}

/* After the JS_OBJ token of an object: count its members and consume it.  -1 on a JSON error. */
static long av_count_members(struct jscan *js)
{
	long count = 0;
	struct jscan_token t;
	for (;;) {
		int k = jscan_next(js, &t);
		if (k == JS_OBJ_END)
			return count;
		if (k != JS_KEY)
			return -1;
		count++;
		k = jscan_next(js, &t);
		if (k == JS_ERR || k == JS_END || k == JS_OBJ_END || k == JS_ARR_END || k == JS_KEY)
			return -1;
		const char *raw;
		size_t rawlen;
		if ((k == JS_OBJ || k == JS_ARR) && jscan_skip(js, &t, &raw, &rawlen) < 0)
			return -1;
	}
}

static void av_classify_json(const struct av_request *r, const char *body, size_t len,
                             struct av_answer *a)
{
	struct jscan js;
	struct jscan_token t, key;
	struct jscan_token error = {0}, note = {0};
	struct buf kbuf = BUF_INIT, msg = BUF_INIT;
	long members = 0, entries = -1;
	char why[160], want[AV_SERIES_KEY_MAX];
	char other[64] = ""; /* the first series key that is not the one asked for */
	a->json = 1;
	jscan_init(&js, body, len);
	if (jscan_next(&js, &t) != JS_OBJ) {
		av_set_why(a, AV_MALFORMED, js.error ? js.error : "the JSON is not an object");
		goto out;
	}
	for (;;) {
		int k = jscan_next(&js, &key);
		if (k == JS_OBJ_END)
			break;
		if (k != JS_KEY)
			goto bad;
		members++;
		const char *kname = key.s;
		size_t klen = key.n;
		if (key.escaped) {
			buf_reset(&kbuf);
			if (jscan_unescape(key.s, key.n, &kbuf) < 0)
				goto bad;
			kname = kbuf.data;
			klen = kbuf.len;
		}
		k = jscan_next(&js, &t);
		if (k == JS_ERR)
			goto bad;
		if (av_is_data_key(r, kname, klen) && k == JS_OBJ && entries < 0) {
			entries = av_count_members(&js);
			if (entries < 0)
				goto bad;
			continue;
		}
		int mk = k == JS_STR ? av_message_kind(kname, klen) : AV_MSG_NONE;
		if (mk == AV_MSG_ERROR && !error.s)
			error = t;
		else if ((mk == AV_MSG_NOTE || mk == AV_MSG_INFORMATION) && !note.s)
			note = t;
		else if (k == JS_OBJ && !other[0] &&
		         (av_series_interval(kname, klen) >= 0 || av_is_quote_key(kname, klen))) {
			snprintf(other, sizeof other, "%.*s", (int)(klen > 60 ? 60 : klen), kname);
			/* The key is the answer's, quoted in a message: no control character. */
			for (char *c = other; *c; c++)
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					*c = '?';
		}
		const char *raw;
		size_t rawlen;
		if ((k == JS_OBJ || k == JS_ARR) && jscan_skip(&js, &t, &raw, &rawlen) < 0)
			goto bad;
	}
	if (jscan_next(&js, &t) != JS_END)
		goto bad;

	if (entries > 0) {
		a->cls = AV_DATA;
		a->entries = r->function == AV_QUOTE ? 1 : (size_t)entries;
		goto out;
	}
	if (entries == 0 && r->function == AV_QUOTE) {
		av_set_why(a, AV_EMPTY_QUOTE,
		           "the quote is empty (the vendor's answer for an unknown symbol)");
		goto out;
	}
	if (entries == 0) {
		av_set_why(a, AV_EMPTY, "the series is empty");
		goto out;
	}
	if (error.s || note.s) {
		const struct jscan_token *m = error.s ? &error : &note;
		if (jscan_unescape(m->s, m->n, &msg) < 0 || buf_putc(&msg, '\0') < 0) {
			av_set_why(a, AV_MALFORMED, "a vendor message with a bad escape");
			goto out;
		}
		av_set_message(a, msg.data, strlen(msg.data));
		if (error.s)
			a->cls =
			    av_contains_word(msg.data, "apikey") || av_contains(msg.data, "api key")
			        ? AV_BAD_KEY
			        : AV_ERROR;
		else
			a->cls = av_notice_class(msg.data);
		goto out;
	}
	if (members == 0) {
		av_set_why(a, AV_EMPTY, "the answer is an empty object");
		goto out;
	}
	av_series_key(r->function, r->interval, want);
	if (other[0]) {
		snprintf(why, sizeof why, "the answer is \"%s\", not the \"%s\" asked for", other,
		         r->function == AV_QUOTE ? AV_KEY_QUOTE : want);
		av_set_why(a, AV_OTHER_SERIES, why);
		goto out;
	}
	snprintf(why, sizeof why, "no \"%s\" object in the answer",
	         r->function == AV_QUOTE ? AV_KEY_QUOTE : want);
	av_set_why(a, AV_MALFORMED, why);
	goto out;
bad:
	snprintf(why, sizeof why, "invalid JSON at byte %zu: %s", jscan_offset(&js),
	         js.error ? js.error : "unexpected token");
	av_set_why(a, AV_MALFORMED, why);
out:
	buf_free(&kbuf);
	buf_free(&msg);
}

static void av_classify_csv(const struct av_request *r, const char *body, size_t len,
                            struct av_answer *a)
{
	const char *header = r->function == AV_QUOTE ? AV_CSV_QUOTE : AV_CSV_SERIES;
	size_t hlen = strlen(header), commas = 0, rows = 0;
	char why[160];
	a->json = 0;
	for (size_t i = 0; i < hlen; i++)
		commas += header[i] == ',';
	if (jscan_utf8_valid(body, len) < 0 || memchr(body, '\0', len)) {
		av_set_why(a, AV_MALFORMED, "the CSV is not UTF-8 text");
		return;
	}
	const char *p = body, *end = body + len;
	for (size_t line = 1; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			snprintf(why, sizeof why, "the CSV ends inside line %zu (no line end)",
			         line);
			av_set_why(a, AV_MALFORMED, why);
			return;
		}
		const char *le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
		size_t n = (size_t)(le - p);
		if (line == 1) {
			if (n != hlen || memcmp(p, header, n) != 0) {
				snprintf(why, sizeof why, "the CSV header is not \"%s\"", header);
				av_set_why(a, AV_MALFORMED, why);
				return;
			}
		} else {
			size_t c = 0;
			for (const char *q = p; q < le; q++)
				c += *q == ',';
			if (n == 0 || c != commas) {
				snprintf(why, sizeof why,
				         "CSV line %zu has %zu fields, the header has %zu", line,
				         n ? c + 1 : 0, commas + 1);
				av_set_why(a, AV_MALFORMED, why);
				return;
			}
			rows++;
		}
		p = nl + 1;
	}
	if (p == body) {
		av_set_why(a, AV_MALFORMED, "the answer is empty");
		return;
	}
	if (rows == 0 && r->function == AV_QUOTE) {
		av_set_why(a, AV_EMPTY_QUOTE,
		           "the quote is empty (the vendor's answer for an unknown symbol)");
		return;
	}
	if (rows == 0) {
		av_set_why(a, AV_EMPTY, "the CSV has no rows");
		return;
	}
	a->cls = AV_DATA;
	a->entries = r->function == AV_QUOTE ? 1 : rows;
}

void av_classify(const struct av_request *r, const char *body, size_t len, struct av_answer *a)
{
	memset(a, 0, sizeof *a);
	size_t i = 0;
	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
		i++;
	if (i < len && body[i] == '{')
		av_classify_json(r, body, len, a);
	else if (r->datatype == AV_CSV)
		av_classify_csv(r, body, len, a);
	else
		av_set_why(a, AV_MALFORMED,
		           i < len ? "the answer is not a JSON object" : "the answer is empty");
}

/* Envelope --------------------------------------------------------------- */

/* Append the JSON text body[0..len) without the whitespace between its tokens. */
static int av_compact(struct buf *out, const char *body, size_t len)
{
	struct jscan js;
	struct jscan_token t;
	int comma = 0; /* a value just ended, so the next key or element needs a comma */
	int rc = 0;
	jscan_init(&js, body, len);
	for (;;) {
		int k = jscan_next(&js, &t);
		switch (k) {
		case JS_ERR:
			return -1;
		case JS_END:
			return rc ? -1 : 0;
		case JS_OBJ_END:
		case JS_ARR_END:
			rc |= buf_putc(out, k == JS_OBJ_END ? '}' : ']');
			comma = 1;
			break;
		case JS_KEY:
			if (comma)
				rc |= buf_putc(out, ',');
			rc |= buf_putc(out, '"');
			rc |= buf_append(out, t.s, t.n);
			rc |= buf_puts(out, "\":");
			comma = 0;
			break;
		case JS_OBJ:
		case JS_ARR:
			if (comma)
				rc |= buf_putc(out, ',');
			rc |= buf_putc(out, k == JS_OBJ ? '{' : '[');
			comma = 0;
			break;
		case JS_STR:
			if (comma)
				rc |= buf_putc(out, ',');
			rc |= buf_putc(out, '"');
			rc |= buf_append(out, t.s, t.n);
			rc |= buf_putc(out, '"');
			comma = 1;
			break;
		default:
			if (comma)
				rc |= buf_putc(out, ',');
			rc |= buf_append(out, t.s, t.n);
			comma = 1;
			break;
		}
	}
}

static int av_put_str_or_null(struct buf *out, const char *s)
{
	return s ? buf_json_str(out, s, strlen(s)) : buf_puts(out, "null");
}

int av_envelope(struct buf *out, const struct av_request *r, int64_t fetched_at, long http_status,
                int64_t batch_id, const char *body, size_t len, int json)
{
	int intraday = r->function == AV_INTRADAY;
	const char *interval = intraday                  ? tick_interval_name(r->interval)
	                       : r->function == AV_DAILY ? tick_interval_name(TICK_1D)
	                                                 : NULL;
	char month[8], ts[TS_TEXT_MAX];
	const char *bools[2] = {"false", "true"};
	if (r->month != AV_NO_MONTH)
		av_month_format(r->month, month);
	ts[ts_format_rfc3339(fetched_at, ts)] = '\0';

	int rc = buf_puts(out, "{\"source\":\"" AV_SOURCE "\",\"function\":");
	rc |= buf_json_str(out, av_function_api(r->function), strlen(av_function_api(r->function)));
	rc |= buf_puts(out, ",\"symbol\":");
	rc |= buf_json_str(out, r->symbol, strlen(r->symbol));
	rc |= buf_puts(out, ",\"interval\":");
	rc |= av_put_str_or_null(out, interval);
	rc |= buf_puts(out, ",\"params\":{\"month\":");
	rc |= av_put_str_or_null(out, intraday && r->month != AV_NO_MONTH ? month : NULL);
	rc |= buf_puts(out, ",\"outputsize\":");
	rc |= av_put_str_or_null(out, r->function == AV_QUOTE ? NULL
	                              : r->outputsize_full    ? "full"
	                                                      : "compact");
	rc |= buf_puts(out, ",\"adjusted\":");
	rc |= buf_puts(out, intraday ? bools[!!r->adjusted] : "null");
	rc |= buf_puts(out, ",\"extended_hours\":");
	rc |= buf_puts(out, intraday ? bools[!!r->extended_hours] : "null");
	rc |= buf_puts(out, ",\"entitlement\":");
	rc |= av_put_str_or_null(out, r->entitlement == AV_ENT_REALTIME  ? "realtime"
	                              : r->entitlement == AV_ENT_DELAYED ? "delayed"
	                                                                 : NULL);
	rc |= buf_puts(out, ",\"datatype\":");
	rc |= buf_puts(out, r->datatype == AV_CSV ? "\"csv\"" : "\"json\"");
	rc |= buf_puts(out, "},\"fetched_at\":\"");
	rc |= buf_puts(out, ts);
	rc |= buf_puts(out, "\",\"http_status\":");
	rc |= buf_i64(out, http_status);
	if (batch_id >= 0) {
		rc |= buf_puts(out, ",\"batch_id\":");
		rc |= buf_i64(out, batch_id);
	}
	rc |= buf_puts(out, ",\"body\":");
	if (rc)
		return -1;
	if (json) {
		if (av_compact(out, body, len) < 0)
			return -1;
	} else if (buf_json_str(out, body, len) < 0) {
		return -1;
	}
	return buf_putc(out, '}');
}

/* The key in answers and messages ------------------------------------------- */

/* The next quote of key[0..k) in text[from..n), as av_quotes_key() defines one, or NULL. */
static const char *av_find_key(const char *text, size_t n, size_t from, const char *key, size_t k)
{
	if (k == 0 || k > n)
		return NULL;
	for (size_t i = from; i + k <= n; i++) {
		const char *p = memchr(text + i, key[0], n - k + 1 - i);
		if (!p)
			return NULL;
		i = (size_t)(p - text);
		if (memcmp(p, key, k) == 0 && (i == 0 || !av_alnum(text[i - 1])) &&
		    (i + k == n || !av_alnum(text[i + k])))
			return p;
	}
	return NULL;
}

/* The key as it is and, when it differs, percent-encoded as in a URL. */
static int av_key_forms(const char *secret, struct buf *enc)
{
	if (url_pct_encode(enc, secret) < 0)
		return -1;
	return enc->len && strcmp(enc->data, secret) != 0 ? 2 : 1;
}

int av_quotes_key(const char *text, size_t n, const char *secret)
{
	if (!text || !secret || !*secret)
		return 0;
	struct buf enc = BUF_INIT;
	int forms = av_key_forms(secret, &enc);
	/* Out of memory: say it is quoted, which keeps the answer from being written. */
	int quoted = forms < 0 || av_find_key(text, n, 0, secret, strlen(secret)) ||
	             (forms == 2 && av_find_key(text, n, 0, enc.data, enc.len));
	buf_free(&enc);
	return quoted;
}

int av_json_quotes_key(const char *text, size_t n, const char *secret)
{
	if (av_quotes_key(text, n, secret))
		return 1;
	if (!text || !secret || !*secret || !memchr(text, '\\', n))
		return 0;
	/*
	 * In valid JSON a backslash only starts an escape inside a string, so
	 * the whole text decodes as the contents of one string would.
	 */
	struct buf dec = BUF_INIT;
	/* Out of memory (or not JSON after all): say it is quoted, as above. */
	int quoted = jscan_unescape(text, n, &dec) < 0 || av_quotes_key(dec.data, dec.len, secret);
	buf_free(&dec);
	return quoted;
}

static void av_redact_one(char *text, const char *secret, size_t k)
{
	/* Never lengthen the text: a secret shorter than the mark is replaced by as many stars. */
	size_t mark = k < 3 ? k : 3, n = strlen(text), at = 0;
	struct buf orig = BUF_INIT;
	/* Matches are found in a copy: the letters around a quote are those of the text as it was. */
	if (buf_append(&orig, text, n + 1) < 0) {
		memset(text, '*', n); /* no memory for the copy: hide it all */
		return;
	}
	char *w = text;
	const char *p;
	while ((p = av_find_key(orig.data, n, at, secret, k))) {
		size_t i = (size_t)(p - orig.data);
		memcpy(w, orig.data + at, i - at);
		w += i - at;
		memset(w, '*', mark);
		w += mark;
		at = i + k;
	}
	memcpy(w, orig.data + at, n - at + 1);
	buf_free(&orig);
}

void av_redact(char *text, const char *secret)
{
	if (!text || !secret || !*secret)
		return;
	struct buf enc = BUF_INIT;
	int forms = av_key_forms(secret, &enc);
	av_redact_one(text, secret, strlen(secret));
	if (forms == 2)
		av_redact_one(text, enc.data, enc.len);
	buf_free(&enc);
}

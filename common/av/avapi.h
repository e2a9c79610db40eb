/*
 * avapi: the Alpha Vantage API as the pipeline speaks it: its vocabulary
 * (function names, series keys, "Meta Data" fields, vendor messages, CSV
 * headers, tickers), the parameters of a request and its URL, the
 * classification of answers, and the envelope that carries an answer down
 * the pipeline (av-fetch(1), OUTPUT).  av/envelope.h reads envelopes back
 * with the same vocabulary: each word of the API is defined here once.
 *
 * Alpha Vantage answers errors, throttles and refusals with HTTP 200, so
 * only the body tells them apart.  av_classify() reads a body completely
 * (a truncated or unparsable body is AV_MALFORMED, never data) and sorts
 * it into one of the classes below; the caller decides what each class
 * means for its run (retry, stop, report).
 *
 * Secrets: av_url() writes the API key only when given one; the form to
 * print is made by passing NULL, which writes "apikey=***".  Vendor
 * messages can quote the key ("We have detected your API key as ..."), so
 * av_redact() removes it from any text before it is printed, and
 * av_quotes_key() finds an answer that holds it.
 *
 * Nothing here allocates beyond the caller's buffers; the structs are the
 * caller's.
 */
#ifndef STOCKETL_AVAPI_H
#define STOCKETL_AVAPI_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define AV_SYMBOL_MAX  15
#define AV_MESSAGE_MAX 400
#define AV_SOURCE      "alphavantage"

enum av_function { AV_INTRADAY = 0, AV_DAILY, AV_QUOTE, AV_FUNCTION_COUNT };
enum av_datatype { AV_JSON = 0, AV_CSV };
enum av_entitlement { AV_ENT_NONE = 0, AV_ENT_REALTIME, AV_ENT_DELAYED };

/* Which optional parameters go into the URL (the others take the vendor's default). */
enum av_sent {
	AV_SENT_OUTPUTSIZE = 1 << 0,
	AV_SENT_DATATYPE = 1 << 1,
	AV_SENT_ADJUSTED = 1 << 2,
	AV_SENT_EXTENDED = 1 << 3
};

#define AV_NO_MONTH (-1)

struct av_request {
	int function; /* enum av_function */
	char symbol[AV_SYMBOL_MAX + 1];
	int interval; /* intraday: a record/tick.h enum tick_interval (1min..60min) */
	int month;    /* intraday: year * 12 + month - 1, or AV_NO_MONTH */
	int datatype; /* enum av_datatype */
	int outputsize_full;
	int adjusted;       /* intraday */
	int extended_hours; /* intraday */
	int entitlement;    /* enum av_entitlement; AV_ENT_NONE is not sent */
	unsigned sent;      /* enum av_sent bits */
};

/* A request with the vendor's defaults: compact, json, adjusted, extended hours. */
void av_request_init(struct av_request *r, int function);

/* Vocabulary ------------------------------------------------------------ */

/* "intraday", "daily", "quote"; and the vendor's names ("TIME_SERIES_INTRADAY", ...). */
const char *av_function_name(int function);
const char *av_function_api(int function);
/* enum av_function of a short name, or -1. */
int av_function_parse(const char *s);
/* enum av_function of a vendor name s[0..n) ("GLOBAL_QUOTE"), or -1. */
int av_function_parse_api(const char *s, size_t n);

/* Top-level keys of a JSON answer. */
#define AV_KEY_META      "Meta Data"
#define AV_KEY_QUOTE     "Global Quote" /* a prefix: "Global Quote - DATA DELAYED BY 15 MINUTES" */
/* Fields of "Meta Data", as named after their numbering ("2. Symbol"). */
#define AV_META_SYMBOL   "Symbol"
#define AV_META_INTERVAL "Interval"
#define AV_META_ZONE     "Time Zone"
/* The header lines of CSV answers. */
#define AV_CSV_SERIES    "timestamp,open,high,low,close,volume"
#define AV_CSV_QUOTE                                                                               \
	"symbol,open,high,low,price,volume,latestDay,previousClose,change,changePercent"

/* The longest series key, with its NUL. */
#define AV_SERIES_KEY_MAX 24
/*
 * The key of the series that answers function and interval (a record/tick.h
 * enum tick_interval): "Time Series (5min)", "Time Series (Daily)"; "" for
 * quotes.  Returns out.
 */
const char *av_series_key(int function, int interval, char out[AV_SERIES_KEY_MAX]);
/*
 * What the key k[0..n) names: -1 when it is no series key, else the
 * series' interval (TICK_1D for "Time Series (Daily)"), 0 for an interval
 * the pipeline does not read ("Time Series (Weekly)").
 */
int av_series_interval(const char *k, size_t n);
/* Is k[0..n) the key of a global quote (AV_KEY_QUOTE and whatever follows)? */
int av_is_quote_key(const char *k, size_t n);
/* A key's name without the vendor's numbering: "2. Symbol" gives "Symbol". */
void av_key_name(const char *k, size_t n, const char **name, size_t *name_len);

/* Vendor messages: the keys an answer says them under. */
enum av_message { AV_MSG_NONE = 0, AV_MSG_ERROR, AV_MSG_NOTE, AV_MSG_INFORMATION };
/* The message kind of a top-level key k[0..n): "Error Message", "Note", "Information". */
int av_message_kind(const char *k, size_t n);
/* "API error", "API note", "API information": how messages name a kind. */
const char *av_message_label(int kind);

/* Is s a symbol that may be requested (and used in file names): [A-Za-z0-9.-]{1,15}? */
int av_symbol_valid(const char *s);
/*
 * The ticker s[0..n) in upper case into out, when it is one
 * (av_symbol_valid()).  Returns 0, or -1 (out is then "").
 */
int av_symbol_upper(const char *s, size_t n, char out[AV_SYMBOL_MAX + 1]);

/* "YYYY-MM" (2000-01 .. 9999-12) into year * 12 + month - 1.  Returns 0 or -1. */
int av_month_parse(const char *s, int *ym);
/* The text of a month, 8 bytes with the NUL. */
void av_month_format(int ym, char out[8]);

/*
 * Append the request URL to out: base_url (which may already hold a
 * query), then function, symbol and the request's parameters, then
 * apikey.  apikey NULL writes "apikey=***", the form that may be printed.
 * Returns 0, or -1 when out of memory.
 */
int av_url(struct buf *out, const char *base_url, const struct av_request *r, const char *apikey);

/* What an answer is. */
enum av_class {
	AV_DATA = 0,        /* a time series or a quote with entries */
	AV_EMPTY,           /* a well-formed answer with no entries ({} or an empty series) */
	AV_ERROR,           /* "Error Message": this request is wrong (symbol, parameter) */
	AV_BAD_KEY,         /* the API key is invalid or missing, or the demo key was misused */
	AV_PREMIUM,         /* a premium function or parameter on a key without it */
	AV_THROTTLE_MINUTE, /* the per-minute limit: wait and retry */
	AV_THROTTLE_SECOND, /* the per-second (burst) limit: wait and retry */
	AV_DAILY_LIMIT,     /* the daily quota is used up */
	AV_NOTICE,          /* a "Note" or "Information" that matches none of the above */
	AV_EMPTY_QUOTE,     /* a quote without fields: the vendor's answer for an unknown symbol */
	AV_OTHER_SERIES,    /* a series, but not the one asked for (another interval) */
	AV_MALFORMED,       /* not the JSON or CSV expected: truncated, unparsable, other shape */
	AV_CLASS_COUNT
};

struct av_answer {
	int cls;        /* enum av_class */
	int json;       /* the body is JSON (CSV otherwise) */
	size_t entries; /* AV_DATA: bars of a series, 1 for a quote */
	/* The vendor's message (unescaped, control characters replaced), or why it is malformed. */
	char message[AV_MESSAGE_MAX];
};

/* A short name of a class ("data", "throttle (per minute)", ...). */
const char *av_class_name(int cls);

/*
 * Classify the answer body[0..len) to request r.  A body whose first
 * non-blank byte is '{' is read as JSON whatever datatype was asked for
 * (the vendor answers errors in JSON); anything else must be the CSV of
 * the function: its exact header, every row with the header's number of
 * fields, the last row ended by a line end.  A JSON body must be valid
 * and complete; its data is the series "Time Series (<interval>)" or
 * "Time Series (Daily)", or an object whose key starts "Global Quote".
 * An answer that no retry can change is told apart from a malformed one
 * (which may be a passing fault): AV_OTHER_SERIES when it holds another
 * series than the one asked for, AV_EMPTY_QUOTE for a quote without
 * fields.  Always fills a.
 */
void av_classify(const struct av_request *r, const char *body, size_t len, struct av_answer *a);

/*
 * Append the envelope of an answer (one line of JSON, no newline) to out:
 * source, function, symbol, interval, params, fetched_at (µs since the
 * epoch), http_status, batch_id (the id of the batch the envelope belongs
 * to, the same as its marker's; left out when batch_id < 0) and body.  A JSON body is embedded as it was
 * received, token for token (key order, number text and string escapes
 * kept), without the whitespace between tokens; json == 0 embeds the body
 * as a JSON string.  Returns 0, or -1 when out of memory or when a JSON
 * body is not valid JSON.
 */
int av_envelope(struct buf *out, const struct av_request *r, int64_t fetched_at, long http_status,
                int64_t batch_id, const char *body, size_t len, int json);

/*
 * Does text[0..n) quote the key secret the way the API echoes it: the key,
 * as it is or percent-encoded as in a URL, as a whole word, with no ASCII
 * letter or digit just before or just after it ("apikey=KEY&", "\"KEY\"",
 * "your API key as KEY.")?  A key inside a longer word is not a quote of
 * it: with the key "K", "BRK.A" quotes nothing.  A NULL or empty secret is
 * never quoted.
 */
int av_quotes_key(const char *text, size_t n, const char *secret);

/*
 * The same for a valid JSON text (an envelope), looked at also with its
 * string escapes decoded, as every reader of it sees them: an answer that
 * writes the key "a/b" as "a\/b" or "a\u002fb" quotes it too.
 */
int av_json_quotes_key(const char *text, size_t n, const char *secret);

/*
 * Replace, in place, every quote of secret in text (as av_quotes_key()
 * finds them) with "***", or as many stars as the key is long when it is
 * shorter.  A NULL or empty secret leaves the text alone.
 */
void av_redact(char *text, const char *secret);

#endif

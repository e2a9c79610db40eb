/*
 * avapi: the Alpha Vantage API as the pipeline speaks it: the parameters of
 * a request and its URL, the classification of answers, and the envelope
 * that carries an answer down the pipeline (av-fetch(1), OUTPUT).
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
 * av_redact() removes it from any text before it is printed.
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

/* "intraday", "daily", "quote"; and the vendor's names ("TIME_SERIES_INTRADAY", ...). */
const char *av_function_name(int function);
const char *av_function_api(int function);
/* enum av_function of a short name, or -1. */
int av_function_parse(const char *s);

/* Is s a symbol that may be requested (and used in file names): [A-Za-z0-9.-]{1,15}? */
int av_symbol_valid(const char *s);

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
 * Always fills a.
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
 * Replace, in place, every occurrence of secret in text (as it is, and
 * percent-encoded as in a URL) with "***".  A NULL or empty secret leaves
 * the text alone.
 */
void av_redact(char *text, const char *secret);

#endif

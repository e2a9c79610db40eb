/*
 * envelope: one av-fetch envelope line read into bars, for tick-normalize
 * (the reverse of av_envelope() in av/avapi.h, whose vocabulary it uses).
 *
 * av_env_parse() walks the line once with jscan: the envelope's own members,
 * and inside "body" the Alpha Vantage response (Meta Data, one time series
 * or a Global Quote, or an error text), or a CSV text.  Each bar keeps its
 * exchange-local wall-clock time, exact prices and volume, and where it came
 * from in the line, so that a bar that cannot be normalised is quarantined
 * with its own text.  av_env_convert() then turns local times into UTC in the
 * response's zone and sorts the bars by time.
 *
 * Ownership: the envelope owns its arrays and reuses them from line to line;
 * bars point into the line given to av_env_parse() (or into the envelope's copy
 * of an unescaped CSV body), so they are valid until the next av_env_parse() or
 * until that line goes away.
 */
#ifndef STOCKETL_ENVELOPE_H
#define STOCKETL_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "record/tick.h"
#include "text/tz.h"

struct av_bar {
	int64_t local; /* wall-clock seconds in the zone, the civil time read as if UTC */
	int64_t ts;    /* UTC microseconds (av_env_convert) */
	int64_t open, high, low, close, volume;
	int32_t date;    /* the exchange-local calendar date, days since the epoch */
	uint32_t seq;    /* position in the response, for a stable sort */
	const char *raw; /* the bar as received: JSON member text, or a CSV line */
	size_t raw_len;
	int raw_json; /* raw is "key":{...} (1) or a CSV line (0) */
	int32_t why;  /* -1, or the offset of the reason in envelope.why */
};

struct av_env {
	/* The envelope's members. */
	int function;                     /* enum av_function, -1 when none */
	char function_name[40];           /* as given (for messages); "" when absent */
	char symbol[TICK_SYMBOL_MAX + 1]; /* upper case; "" when absent or not a ticker */
	int interval;                     /* enum tick_interval of the bars */
	int64_t fetched_at;               /* UTC microseconds */
	int has_fetched_at;
	int64_t batch_id;
	int has_batch_id;
	char zone[64]; /* the response's time zone, "" when it names none */

	/* Why the whole envelope is rejected ("" when it is not). */
	char reject[ERR_MSG_MAX];
	int valid_json; /* the line is valid JSON (so a reject can embed it as is) */
	int no_data;    /* a response that says "no data": {} or an empty series */

	/* Bars in response order, then (env_convert) good ones sorted by time. */
	struct av_bar *bars;
	size_t nbars, capbars;
	struct buf why; /* NUL-separated reasons of rejected bars */
	struct buf csv; /* the unescaped CSV body */
	struct buf scratch;
};

void av_env_init(struct av_env *env);
void av_env_free(struct av_env *env);

/*
 * Read the envelope line s[0..n).  Returns 0 when the envelope is usable
 * (some bars may still be marked with a reason), -1 when it is rejected
 * whole (env->reject says why), or -2 when memory ran out.
 */
int av_env_parse(struct av_env *env, const char *s, size_t n);

/*
 * Convert the bars' local times with zone z (TZ_NONEXISTENT times become
 * rejects, repeated ones take the first occurrence), then sort the bars that
 * remain by time, stably.  Rejected bars follow the good ones in response
 * order.  Returns the number of good bars.
 */
size_t av_env_convert(struct av_env *env, const struct tz *z);

/* The reason of a rejected bar. */
const char *av_env_bar_why(const struct av_env *env, const struct av_bar *b);

#endif

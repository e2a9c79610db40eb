/*
 * fetch: av-fetch's engine, shared by its two files: main.c turns the
 * command line and the configuration into a struct avf_config; fetch.c
 * runs the batches it describes and writes the envelopes and markers.
 */
#ifndef AVFETCH_FETCH_H
#define AVFETCH_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "av/avapi.h"
#include "net/http.h"
#include "record/stream.h"

struct avf_config {
	/* What each request asks for: the symbol and month are filled per request. */
	struct av_request proto;
	char (*symbols)[AV_SYMBOL_MAX + 1];
	size_t nsymbols;
	int month_from, month_to; /* AV_NO_MONTH, or the months of the request range */

	/* Batches. */
	char app[REC_APP_MAX + 1];
	int follow;
	int64_t every_us;
	int64_t settle_us;

	/* The service. */
	const char *base_url;
	const char *api_key;
	struct http_limits limits;
	int max_attempts;
	int64_t max_retry_us;
	int64_t backoff_base_us;
	int64_t backoff_max_us;
	int64_t throttle_wait_us;
	int64_t burst_wait_us;
	int64_t calls_per_minute; /* 0: no limit */
	int64_t calls_per_second; /* 0: no limit */
	int concurrency;
	size_t max_line; /* the longest envelope line allowed */
};

/*
 * Run one batch, or batches until a signal in follow mode, writing to w.
 * Returns the exit status: see av-fetch(1), EXIT STATUS.
 */
int avf_run(const struct avf_config *cfg, struct rec_writer *w);

#endif

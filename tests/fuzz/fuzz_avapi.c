/*
 * Fuzz target: the classification of Alpha Vantage answers and the
 * envelopes built from them.  The first byte picks the request (function,
 * interval, datatype); the rest is the body.  Whatever the body, the
 * message must be printable text, and an answer classified as data must
 * make an envelope that is one line of valid JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "av/avapi.h"
#include "text/jscan.h"
#include "record/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct av_request r;
	int function = data[0] & 3;
	av_request_init(&r, function == 3 ? AV_INTRADAY : function);
	if (r.function == AV_INTRADAY)
		r.interval = TICK_1MIN + (data[0] >> 2) % 5;
	r.datatype = data[0] & 0x20 ? AV_CSV : AV_JSON;
	memcpy(r.symbol, "IBM", 4);
	const char *body = (const char *)data + 1;
	size--;

	struct av_answer a;
	av_classify(&r, body, size, &a);
	size_t mlen = strnlen(a.message, sizeof a.message);
	if (mlen == sizeof a.message)
		abort(); /* not terminated */
	for (size_t i = 0; i < mlen; i++)
		if ((unsigned char)a.message[i] < 0x20)
			abort(); /* control characters would reach a terminal */
	/* After redaction the message quotes the key nowhere (inside other words it may stay). */
	av_redact(a.message, "IBM");
	if (av_quotes_key(a.message, strlen(a.message), "IBM"))
		abort();
	if (a.cls != AV_DATA)
		return 0;

	struct buf env = BUF_INIT;
	if (av_envelope(&env, &r, 1750098000123456LL, 200, -1, body, size, a.json) < 0)
		abort(); /* data always makes an envelope */
	if (memchr(env.data, '\n', env.len))
		abort();
	struct jscan js;
	struct jscan_token t;
	int k;
	jscan_init(&js, env.data, env.len);
	while ((k = jscan_next(&js, &t)) > 0)
		;
	if (k != JS_END)
		abort();
	buf_free(&env);
	return 0;
}

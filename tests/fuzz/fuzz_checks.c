/*
 * Fuzz target: the checks language of tick-validate
 * (cmd/tick-validate/checks_parse.c) on arbitrary files.  A file either
 * compiles or is refused with a message that names the file and a line;
 * what compiles is then run over a few records and judged, as
 * tick-validate would at a batch marker.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../cmd/tick-validate/checks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tick sample(int k)
{
	struct tick t;
	memset(&t, 0, sizeof t);
	memcpy(t.symbol, k & 1 ? "IBM" : "NVDA", k & 1 ? 4 : 5);
	/* sources in some of the built-in formats, for valid format: and missing format: */
	static const char *const sources[6] = {"alphavantage", "12.5 %", "a@b.co",
	                                       "2024-06-17",   "",       "::1"};
	memcpy(t.source, sources[k], strlen(sources[k]) + 1);
	t.interval = (uint8_t)(TICK_1MIN + k % 6);
	t.trade_timestamp = (1750167000LL + 60LL * k) * 1000000;
	t.trade_date = 20256;
	t.open = 282370000 - k;
	t.high = 282510000 + k * 1000;
	t.low = k == 2 ? 0 : 282070000;
	t.close = 282300000;
	t.volume = k == 3 ? -1 : 12785;
	t.batch_id = 1;
	t.ingested_at = t.trade_timestamp + 300000000;
	t.nulls = k == 4 ? (uint16_t)(TICK_N_VOLUME | TICK_N_CLOSE) : 0;
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err_msg e;
	err_clear(&e);
	struct checks *cs = checks_parse("f.checks", (const char *)data, size, 1 << 16, &e);
	if (!cs) {
		if (strncmp(e.text, "f.checks:", 9) != 0)
			abort();
		return 0;
	}
	struct buf out = BUF_INIT;
	for (int k = 0; k < 6; k++) {
		struct tick t = sample(k);
		if (checks_rows(cs, &t) < 0)
			checks_take(cs, &t, (uint16_t)(TICK_N_ALL & ~t.nulls));
	}
	for (size_t i = 0; i < cs->n; i++) {
		dec128 value;
		int has_value, exact;
		int outcome =
		    checks_judge(&cs->v[i], 1750170000LL * 1000000, &value, &has_value, &exact);
		if (outcome < OUT_PASS || outcome > OUT_FAIL)
			abort();
		buf_reset(&out);
		checks_put_metric(&out, &cs->v[i], value, has_value);
	}
	checks_reset(cs);
	buf_free(&out);
	checks_free(cs);
	return 0;
}

/*
 * Unit tests for the fast path of the envelope reader (common/av/envelope):
 * on every line it must decide as the general path does.  A space after
 * each colon outside strings leaves a JSON document's meaning alone but
 * takes every bar off the fast path (which reads only the compact layout
 * av-fetch stores), so each line is read both ways and everything the
 * reader and the conversion give is compared: the verdict, the reasons, the
 * bars' times, values, texts and order.  The lines: the envelope fixtures,
 * and generated series of bars in the stored layout with their members,
 * values and times varied, and bytes changed at random.
 */
#include "av/envelope.h"
#include "t_spaced.h"
#include "text/tz.h"
#include "t.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static unsigned next_rand(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* The reason of an envelope that is not valid JSON, without its byte offset. */
static size_t reason_len(const struct av_env *env)
{
	const char *at = env->valid_json ? NULL : strstr(env->reject, " at byte ");
	return at ? (size_t)(at - env->reject) : strlen(env->reject);
}

static int bars_compared; /* bars both ways agreed on */

/* Read line s both as it is (a) and spaced (b); 0 when they agree. */
static int agree(const char *s, size_t n, const struct tz *z)
{
	static struct av_env a, b;
	static struct buf sp, raw;
	static int ready;
	if (!ready) {
		av_env_init(&a);
		av_env_init(&b);
		ready = 1;
	}
	spaced(s, n, &sp);
	int ra = av_env_parse(&a, s, n);
	int rb = av_env_parse(&b, sp.data, sp.len);
	if (ra != rb || a.valid_json != b.valid_json || reason_len(&a) != reason_len(&b) ||
	    memcmp(a.reject, b.reject, reason_len(&a)) != 0) {
		printf("#   verdict: %d \"%s\" vs %d \"%s\"\n", ra, a.reject, rb, b.reject);
		return -1;
	}
	if (ra < 0)
		return 0;
	if (a.function != b.function || strcmp(a.function_name, b.function_name) != 0 ||
	    strcmp(a.symbol, b.symbol) != 0 || a.interval != b.interval ||
	    a.fetched_at != b.fetched_at || a.batch_id != b.batch_id ||
	    a.has_batch_id != b.has_batch_id || strcmp(a.zone, b.zone) != 0 ||
	    a.no_data != b.no_data || a.nbars != b.nbars) {
		printf("#   envelope members or bar count differ (%zu vs %zu bars)\n", a.nbars,
		       b.nbars);
		return -1;
	}
	size_t ga = av_env_convert(&a, z), gb = av_env_convert(&b, z);
	if (ga != gb) {
		printf("#   good bars: %zu vs %zu\n", ga, gb);
		return -1;
	}
	for (size_t i = 0; i < a.nbars; i++) {
		const struct av_bar *x = &a.bars[i], *y = &b.bars[i];
		const char *wx = av_env_bar_why(&a, x), *wy = av_env_bar_why(&b, y);
		/* A bar's JSON text is spaced too; a CSV line, in a string, is not. */
		if (x->raw_json) {
			spaced(x->raw, x->raw_len, &raw);
		} else {
			buf_reset(&raw);
			buf_append(&raw, x->raw, x->raw_len);
		}
		if (x->seq != y->seq || x->local != y->local || x->date != y->date ||
		    (i < ga && x->ts != y->ts) || x->open != y->open || x->high != y->high ||
		    x->low != y->low || x->close != y->close || x->volume != y->volume ||
		    x->raw_json != y->raw_json || !wx != !wy || (wx && strcmp(wx, wy) != 0) ||
		    raw.len != y->raw_len || memcmp(raw.data, y->raw, raw.len) != 0) {
			printf("#   bar %zu: \"%.*s\" (%s) vs \"%.*s\" (%s)\n", i, (int)x->raw_len,
			       x->raw, wx ? wx : "good", (int)y->raw_len, y->raw, wy ? wy : "good");
			return -1;
		}
		bars_compared++;
	}
	return 0;
}

static const struct tz *eastern(void)
{
	static struct tz *z;
	struct err_msg e;
	if (!z)
		z = tz_load("America/New_York", &e);
	return z;
}

static void test_fixtures_read_alike_both_ways(void)
{
	const char *files[] = {"aapl_daily_quote", "api_messages", "ibm_5min_csv",
	                       "ibm_5min_json",    "nvda_1min",    "tsla_60min_dst"};
	T_CHECK(eastern() != NULL);
	if (!eastern())
		return;
	int bad = 0, lines = 0;
	bars_compared = 0;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char path[128];
		snprintf(path, sizeof path, "tests/fixtures/envelopes/%s.ndjson", files[i]);
		FILE *fp = fopen(path, "rb");
		T_CHECK(fp != NULL);
		if (!fp)
			continue;
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		while ((n = getline(&line, &cap, fp)) > 0) {
			lines++;
			if (agree(line, (size_t)n - (line[n - 1] == '\n'), eastern()) < 0)
				bad++;
		}
		free(line);
		fclose(fp);
	}
	T_EQ_INT(bad, 0);
	T_CHECK(lines >= 17);
	T_CHECK(bars_compared > 100);
}

/* Texts a bar's parts are drawn from: mostly the usual, some that only the general path takes. */
static const char *const prices[] = {"167.6175",
                                     "167.6175",
                                     "167.6175",
                                     "0",
                                     "00.5",
                                     "1.",
                                     ".5",
                                     "-1.5",
                                     "+1",
                                     "1e2",
                                     "1.1234567",
                                     "1.1234560",
                                     "1.123456",
                                     "0.000001",
                                     "",
                                     " 1",
                                     "1 ",
                                     "\\u0031",
                                     "1.2.3",
                                     "0x10",
                                     "-0",
                                     "1,5",
                                     "12345678901",
                                     "123456789012.123456",
                                     "999999999999.999999",
                                     "1000000000000",
                                     "0000000000000001.5",
                                     "123456789012345678901234567890"};
static const char *const volumes[] = {"49975",
                                      "49975",
                                      "49975",
                                      "0",
                                      "-0",
                                      "-5",
                                      "007",
                                      "1.5",
                                      "",
                                      "1e3",
                                      " 7",
                                      "7 ",
                                      "\\u0037",
                                      "123456789012345678",
                                      "1234567890123456789",
                                      "9223372036854775807",
                                      "9223372036854775808",
                                      "99999999999999999999999"};
static const char *const intraday_times[] = {
    "2025-06-02 19:59:00",      "2025-06-02 19:59:00",  "2025-06-02 04:00:00",
    "2025-02-29 10:00:00",      "2024-02-29 10:00:00",  "2025-06-02 24:00:00",
    "2025-06-02 23:59:60",      "2025-06-02 23:60:00",  "2025-13-01 10:00:00",
    "0000-01-01 10:00:00",      "0001-01-01 00:00:00",  "9999-12-31 23:59:59",
    "2025-03-09 02:30:00",      "2025-03-09 01:59:00",  "2025-03-09 03:00:00",
    "2025-11-02 01:30:00",      "2025-11-02 00:59:00",  "2025-06-02T19:59:00",
    "2025-06-02 19:59",         "2025-06-02 19:59:000", "2025-06-02",
    "2025-6-02 19:59:00",       "2025-06-02 1a:59:00",  "2025-06-02 19-59-00",
    "2025-06-0\\u0032 10:00:00"};
static const char *const daily_times[] = {
    "2025-06-02", "2025-06-02", "2025-06-03",          "2024-02-29", "2025-02-29", "2025-00-10",
    "2025-06-32", "0000-06-02", "2025-06-02 00:00:00", "2025-06-2",  "20250602",   "2025/06/02"};
static const char *const names[] = {"1. open", "2. high", "3. low", "4. close", "5. volume"};

/* One bar in the stored layout, with a part now and then replaced. */
static void put_bar(struct buf *b, int daily, int minute)
{
	char t[32];
	if (next_rand(4) == 0) {
		const char *const *pool = daily ? daily_times : intraday_times;
		size_t np = daily ? sizeof daily_times / sizeof daily_times[0]
		                  : sizeof intraday_times / sizeof intraday_times[0];
		snprintf(t, sizeof t, "%s", pool[next_rand((unsigned)np)]);
	} else if (daily) {
		snprintf(t, sizeof t, "2025-%02d-%02d", 1 + minute / 28 % 12, 1 + minute % 28);
	} else {
		snprintf(t, sizeof t, "2025-03-%02d %02d:%02d:00", 8 + minute / 1440 % 4,
		         minute / 60 % 24, minute % 60);
	}
	buf_printf(b, "\"%s\":{", t);
	int layout = next_rand(12);
	for (int f = 0; f < 5; f++) {
		int k = layout == 0 ? 4 - f : f; /* 0: the members in reverse */
		if (layout == 1 && f == 2)
			continue; /* 1: one missing */
		if (f)
			buf_putc(b, ',');
		const char *v;
		if (next_rand(3) == 0)
			v = k == 4 ? volumes[next_rand(sizeof volumes / sizeof volumes[0])]
			           : prices[next_rand(sizeof prices / sizeof prices[0])];
		else
			v = k == 4 ? "49975" : "167.6175";
		const char *name = layout == 2 ? names[k] + 3 : names[k]; /* 2: "open" */
		if (layout == 3 && f == 4)
			buf_printf(b, "\"%s\":%s", name,
			           v[0] && v[0] != ' ' ? v : "1"); /* a number */
		else
			buf_printf(b, "\"%s\":\"%s\"", name, v);
	}
	if (layout == 4)
		buf_puts(b, ",\"6. extra\":\"1\""); /* 4: an unknown member */
	if (layout == 5)
		buf_puts(b, ",\"5. volume\":\"12\""); /* 5: a member twice */
	buf_putc(b, '}');
}

static void make_envelope(struct buf *b, int daily, int nbars)
{
	buf_reset(b);
	buf_printf(b,
	           "{\"source\":\"alphavantage\",\"function\":\"%s\",\"symbol\":\"S000\",%s"
	           "\"fetched_at\":\"2025-06-17T15:25:03.123456Z\",\"http_status\":200,"
	           "\"batch_id\":7,\"body\":{\"Meta Data\":{\"2. Symbol\":\"S000\","
	           "\"6. Time Zone\":\"US/Eastern\"},\"Time Series (%s)\":{",
	           daily ? "TIME_SERIES_DAILY" : "TIME_SERIES_INTRADAY",
	           daily ? "" : "\"interval\":\"1min\",", daily ? "Daily" : "1min");
	int minute = (int)next_rand(6000);
	for (int i = 0; i < nbars; i++) {
		if (i)
			buf_putc(b, ',');
		put_bar(b, daily, minute--);
	}
	buf_puts(b, "}}}");
}

static void test_generated_series_read_alike_both_ways(void)
{
	if (!eastern())
		return;
	struct buf b = BUF_INIT;
	int bad = 0;
	bars_compared = 0;
	for (int i = 0; i < 20000 && bad < 5; i++) {
		make_envelope(&b, next_rand(4) == 0, 1 + (int)next_rand(40));
		if (agree(b.data, b.len, eastern()) < 0) {
			printf("#   line: %s\n", b.data);
			bad++;
		}
	}
	buf_free(&b);
	T_EQ_INT(bad, 0);
	T_CHECK(bars_compared > 100000);
}

static void test_changed_bytes_read_alike_both_ways(void)
{
	/* Bytes a valid bar could be one change away from, and bytes that break it. */
	static const char subst[] = "0123456789.-:\" ,{}[]\\ueE+\x01\x7f\xc3\xa9";
	if (!eastern())
		return;
	struct buf b = BUF_INIT;
	int bad = 0;
	for (int i = 0; i < 20000 && bad < 5; i++) {
		make_envelope(&b, next_rand(4) == 0, 1 + (int)next_rand(12));
		const char *series = strstr(b.data, "\"Time Series");
		size_t from = (size_t)(series - b.data);
		for (int k = 1 + (int)next_rand(3); k > 0 && b.len > from; k--) {
			size_t at = from + next_rand((unsigned)(b.len - from));
			if (next_rand(4) == 0)
				b.len = at; /* cut short */
			else
				b.data[at] = subst[next_rand(sizeof subst - 1)];
		}
		if (agree(b.data, b.len, eastern()) < 0) {
			printf("#   line: %.*s\n", (int)b.len, b.data);
			bad++;
		}
	}
	buf_free(&b);
	T_EQ_INT(bad, 0);
}

int main(void)
{
	T_RUN(test_fixtures_read_alike_both_ways);
	T_RUN(test_generated_series_read_alike_both_ways);
	T_RUN(test_changed_bytes_read_alike_both_ways);
	T_DONE();
}

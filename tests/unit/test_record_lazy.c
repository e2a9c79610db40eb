/*
 * Unit tests for the fast paths of common/record/record: lazily read JSON lines and
 * tick_from_canonical_json(), which must agree with rec_tick() on every line
 * it accepts and refuse every line that is not in tick_to_json()'s layout.
 */
#include "record/stream.h"
#include "t.h"

#include <unistd.h>

static struct rec_reader *reader_for(const char *s, size_t n)
{
	char path[] = "/tmp/stocketl-lazy-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	unlink(path);
	if (write(fd, s, n) != (ssize_t)n)
		return NULL;
	lseek(fd, 0, SEEK_SET);
	return rec_reader_new(fd, "input", 0);
}

static const char *canonical =
    "{\"symbol\":\"IBM\",\"interval\":\"5min\",\"trade_timestamp\":\"2025-06-17T15:20:00Z\","
    "\"trade_date\":\"2025-06-17\",\"open\":282.37,\"high\":282.51,\"low\":282.07,"
    "\"close\":282.3,\"volume\":12785,\"batch_id\":1750098000123456,"
    "\"ingested_at\":\"2025-06-17T15:25:03.123456Z\",\"source\":\"alphavantage\"}";

static void test_lazy_lines_come_untokenized(void)
{
	const char *in =
	    "{\"a\":1}\n"
	    "{\"@batch\":{\"app\":\"x\",\"id\":7,\"records\":1,\"status\":\"ok\"}}\n"
	    "{\"@other\":1}\n"
	    "{ \"\\u0040batch\":{\"app\":\"x\",\"id\":8,\"records\":0,\"status\":\"ok\"}}\n"
	    "[1]\n"
	    "{\"a\":01}\n";
	struct rec_reader *r = reader_for(in, strlen(in));
	rec_reader_set_lazy(r, 1);
	struct rec rec;
	struct err_msg e;
	T_EQ_INT(rec_read(r, &rec, &e), REC_DATA);
	T_CHECK(rec.fields == NULL && rec.nfields == 0);
	T_EQ_INT(rec.text_len, 7);
	T_EQ_INT(rec_parse_fields(r, &rec, &e), REC_DATA);
	T_EQ_INT(rec.nfields, 1);
	T_EQ_INT(rec_read(r, &rec, &e), REC_BATCH);
	T_EQ_INT(rec.batch.id, 7);
	T_EQ_INT(rec_read(r, &rec, &e), REC_CONTROL);
	T_EQ_INT(rec_read(r, &rec, &e), REC_BATCH);
	T_EQ_INT(rec.batch.id, 8);
	/* not an object: refused at once */
	T_EQ_INT(rec_read(r, &rec, &e), REC_BAD);
	T_CHECK(strstr(e.text, "record 5: not a JSON object") != NULL);
	/* an object with a bad number: handed out, refused when tokenized */
	T_EQ_INT(rec_read(r, &rec, &e), REC_DATA);
	T_EQ_INT(rec_parse_fields(r, &rec, &e), REC_BAD);
	T_CHECK(strstr(e.text, "record 6: invalid JSON") != NULL);
	T_EQ_INT(rec_read(r, &rec, &e), REC_END);
	rec_reader_free(r);
}

/* rec_tick() of a line, through the general path. */
static int general_tick(const char *line, struct tick *t)
{
	struct rec_reader *r = reader_for(line, strlen(line));
	struct rec rec;
	struct err_msg e;
	int rc = rec_read(r, &rec, &e) == REC_DATA ? rec_tick(&rec, t, &e) : -1;
	rec_reader_free(r);
	return rc;
}

static void test_canonical_round_trip(void)
{
	struct tick a, b;
	T_EQ_INT(tick_from_canonical_json(canonical, strlen(canonical), &a), 0);
	T_EQ_INT(general_tick(canonical, &b), 0);
	T_CHECK(memcmp(&a, &b, sizeof a) == 0);
	T_EQ_STR(a.symbol, "IBM");
	T_EQ_INT(a.close, 282300000);
	T_EQ_INT(a.batch_id, 1750098000123456LL);
	struct buf out = BUF_INIT;
	tick_to_json(&a, &out);
	T_EQ_STR(out.data, canonical);

	/* nulls, negative values and extreme decimals survive both ways */
	a.nulls = TICK_N_VOLUME | TICK_N_SOURCE | TICK_N_INTERVAL;
	a.open = -1;
	a.high = 999999999999999999LL;
	a.low = 0;
	buf_reset(&out);
	tick_to_json(&a, &out);
	T_EQ_INT(tick_from_canonical_json(out.data, out.len, &b), 0);
	T_EQ_INT(b.nulls, a.nulls);
	T_EQ_INT(b.open, -1);
	T_EQ_INT(b.high, 999999999999999999LL);
	T_EQ_INT(b.low, 0);
	buf_free(&out);
}

/* The canonical line with its first `from` replaced by `to`, into line[1024]. */
static void subst(char *line, const char *from, const char *to)
{
	const char *at = strstr(canonical, from);
	T_CHECK(at != NULL);
	if (!at) {
		strcpy(line, canonical);
		return;
	}
	snprintf(line, 1024, "%.*s%s%s", (int)(at - canonical), canonical, to, at + strlen(from));
}

/*
 * Variants of the canonical line: the fast path leaves each to the general
 * one, or reads it exactly as the general one does.
 */
static void test_other_layouts_are_refused(void)
{
	static const char *const from[] = {"{\"symbol\"",
	                                   ",\"interval\"",
	                                   "282.37",
	                                   "\"IBM\"",
	                                   "12785",
	                                   "\"5min\"",
	                                   "}",
	                                   "282.3,",
	                                   "Z\",",
	                                   "\"2025-06-17\"",
	                                   "1750098000123456",
	                                   "282.51",
	                                   "\"IBM\"",
	                                   "282.07"};
	static const char *const to[] = {"{ \"symbol\"", ",\"intervals\"",
	                                 "2.8237e2",     "\"I\\u0042M\"",
	                                 "12785.0",      "\"2min\"",
	                                 "} ",           "282.30e0,",
	                                 "+01:00\",",    "\"2025-6-17\"",
	                                 "01",           "\"282.51\"",
	                                 "\"\"",         "-.5"};
	static const int refused[] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1};
	struct tick fast, slow;
	char line[1024];
	for (size_t i = 0; i < sizeof from / sizeof from[0]; i++) {
		subst(line, from[i], to[i]);
		int rc = tick_from_canonical_json(line, strlen(line), &fast);
		if (rc != (refused[i] ? -1 : 0))
			printf("#   %s: fast path returned %d\n", line, rc);
		T_EQ_INT(rc, refused[i] ? -1 : 0);
		if (rc == 0) {
			T_EQ_INT(general_tick(line, &slow), 0);
			T_CHECK(memcmp(&fast, &slow, sizeof fast) == 0);
		}
	}
	/* keys out of order, a truncated line */
	const char *swapped = "{\"interval\":\"5min\",\"symbol\":\"IBM\"}";
	T_EQ_INT(tick_from_canonical_json(swapped, strlen(swapped), &fast), -1);
	T_EQ_INT(tick_from_canonical_json(canonical, strlen(canonical) - 1, &fast), -1);
	/* a price in a string is the general path's business, and valid there */
	subst(line, "282.37", "\"82.37\"");
	T_EQ_INT(tick_from_canonical_json(line, strlen(line), &fast), -1);
	T_EQ_INT(general_tick(line, &slow), 0);
	T_EQ_INT(slow.open, 82370000);
}

int main(void)
{
	T_RUN(test_lazy_lines_come_untokenized);
	T_RUN(test_canonical_round_trip);
	T_RUN(test_other_layouts_are_refused);
	T_DONE();
}

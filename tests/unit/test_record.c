/*
 * Unit tests for common/record: JSON and binary streams, ticks in both forms,
 * errors.  Batch markers have their own file, test_record_marker.c.
 */
#include "record/stream.h"
#include "t.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "text/jscan.h"

/* A reader over the bytes s[0..n) (through a temporary file). */
static struct rec_reader *reader_for(const char *s, size_t n, size_t max_line)
{
	char path[] = "/tmp/stocketl-rec-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	unlink(path);
	if (write(fd, s, n) != (ssize_t)n)
		return NULL;
	lseek(fd, 0, SEEK_SET);
	return rec_reader_new(fd, "input", max_line);
}

/* Everything a writer produced, via a temporary file. */
struct capture {
	int fd;
	char data[1 << 16];
	size_t len;
};

static struct rec_writer *writer_to(struct capture *c, int format)
{
	char path[] = "/tmp/stocketl-rec-XXXXXX";
	c->fd = mkstemp(path);
	unlink(path);
	return rec_writer_new(dup(c->fd), "output", format);
}

static void capture_read(struct capture *c)
{
	lseek(c->fd, 0, SEEK_SET);
	ssize_t n = read(c->fd, c->data, sizeof c->data - 1);
	c->len = n > 0 ? (size_t)n : 0;
	c->data[c->len] = '\0';
	close(c->fd);
}

static struct tick sample_tick(void)
{
	struct tick t;
	memset(&t, 0, sizeof t);
	strcpy(t.symbol, "IBM");
	strcpy(t.source, "alphavantage");
	t.interval = TICK_5MIN;
	t.trade_timestamp = 1750173600LL * 1000000;
	t.trade_date = 20256;
	t.open = 282370000;
	t.high = 282510000;
	t.low = 282070000;
	t.close = 282300000;
	t.volume = 12785;
	t.batch_id = 1750098000123456LL;
	t.ingested_at = 1750173903123456LL;
	return t;
}

static const char *sample_json =
    "{\"symbol\":\"IBM\",\"interval\":\"5min\",\"trade_timestamp\":\"2025-06-17T15:20:00Z\","
    "\"trade_date\":\"2025-06-17\",\"open\":282.37,\"high\":282.51,\"low\":282.07,"
    "\"close\":282.3,\"volume\":12785,\"batch_id\":1750098000123456,"
    "\"ingested_at\":\"2025-06-17T15:25:03.123456Z\",\"source\":\"alphavantage\"}";

static void test_tick_json_format(void)
{
	struct tick t = sample_tick();
	struct buf b = BUF_INIT;
	tick_to_json(&t, &b);
	T_EQ_STR(b.data, sample_json);
	t.nulls = TICK_N_VOLUME | TICK_N_SOURCE;
	buf_reset(&b);
	tick_to_json(&t, &b);
	T_CHECK(strstr(b.data, "\"volume\":null") != NULL);
	T_CHECK(strstr(b.data, "\"source\":null}") != NULL);
	buf_free(&b);
}

/* A frame holds a string's bytes up to its NUL and zeros after, whatever the struct held. */
static void test_tick_frame_strings_end_at_their_nul(void)
{
	struct tick clean = sample_tick(), dirty = sample_tick();
	memset(dirty.symbol, 'X', sizeof dirty.symbol);
	memcpy(dirty.symbol, "IBM", 4);
	memset(dirty.source, 'Y', sizeof dirty.source);
	memcpy(dirty.source, "alphavantage", 13);
	unsigned char a[TICK_FRAME_SIZE], b[TICK_FRAME_SIZE];
	memset(a, 0xAA, sizeof a);
	memset(b, 0x55, sizeof b);
	tick_to_frame(&clean, a);
	tick_to_frame(&dirty, b);
	T_CHECK(memcmp(a, b, sizeof a) == 0);
	T_CHECK(memcmp(a + 8, "IBM\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0);
	/* A 15-byte symbol fills its field but for the last byte. */
	memcpy(dirty.symbol, "ABCDEFGHIJKLMNO", 16);
	tick_to_frame(&dirty, b);
	T_CHECK(memcmp(b + 8, "ABCDEFGHIJKLMNO\0", 16) == 0);
	struct tick back;
	T_EQ_INT(tick_from_frame(b, &back), 0);
	T_EQ_STR(back.symbol, "ABCDEFGHIJKLMNO");
	T_EQ_STR(back.source, "alphavantage");
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng % n;
}

/*
 * A run of ticks written with one memo (as a writer writes them) gives each
 * tick's text alone, and the text reads back to the tick: days repeated and
 * changed, instants before 1970 and in other years, nulls, prices of every
 * size and sign, strings that need escapes.
 */
static void test_tick_json_run_is_each_tick_alone(void)
{
	static const char *const symbols[] = {
	    "IBM", "BRK.A", "A\"B", "C\\D", "E\tF", "\xc3\xa9T", "123456789012345", ""};
	struct tick_json_memo m = TICK_JSON_MEMO_INIT;
	struct buf a = BUF_INIT, b = BUF_INIT;
	int bad = 0;
	int64_t ts = 1750173900000000LL, ing = 1750173903123456LL;
	for (int i = 0; i < 200000; i++) {
		struct tick t = sample_tick();
		int r = (int)next_rand(10);
		if (r == 0)
			ts = (int64_t)next_rand(500000ULL * 86400 * 1000000) -
			     250000LL * 86400 * 1000000;
		else if (r < 4)
			ts += 60 * 1000000LL; /* the next minute, now and then the next day */
		else if (r == 4)
			ts -= (int64_t)next_rand(3 * 86400) * 1000000 + (int64_t)next_rand(1000000);
		if (next_rand(50) == 0)
			ing = (int64_t)next_rand(1ULL << 50) - (1LL << 49);
		t.trade_timestamp = ts;
		t.trade_date = (int32_t)(ts / 86400000000LL) - (int32_t)next_rand(2);
		t.ingested_at = ing;
		int64_t *prices[] = {&t.open, &t.high, &t.low, &t.close, &t.volume, &t.batch_id};
		for (int k = 0; k < 6; k++) {
			/* Up to 18 digits: a decimal(18,6) price, read back as it was written. */
			if (next_rand(4) == 0)
				*prices[k] =
				    (int64_t)((rng >> next_rand(64)) % 1000000000000000000ULL) *
				    (next_rand(2) ? 1 : -1);
		}
		if (next_rand(8) == 0) {
			const char *sym = symbols[next_rand(sizeof symbols / sizeof symbols[0])];
			memset(t.symbol, 0, sizeof t.symbol);
			memcpy(t.symbol, sym, strlen(sym));
		}
		if (next_rand(6) == 0)
			t.nulls = (uint16_t)next_rand(TICK_N_ALL + 1);
		buf_reset(&a);
		buf_reset(&b);
		tick_to_json_memo(&t, &m, &a);
		tick_to_json(&t, &b);
		struct tick back;
		/* The reader of the canonical layout takes printable ASCII without escapes. */
		int plain = strcspn(t.symbol, "\"\\\t\xc3") == strlen(t.symbol) && t.symbol[0];
		int64_t year_us = 86400LL * 366 * 1000000;
		int in_text_range = ts > -1969 * year_us && ts < 8000 * year_us &&
		                    ing > -1969 * year_us && ing < 8000 * year_us &&
		                    t.trade_date > -719000 && t.trade_date < 2900000;
		if (a.len != b.len || strcmp(a.data, b.data) != 0 ||
		    (plain && in_text_range && !(t.nulls & TICK_N_SYMBOL) &&
		     (tick_from_canonical_json(b.data, b.len, &back) < 0 ||
		      (back.trade_timestamp != t.trade_timestamp &&
		       !(t.nulls & TICK_N_TIMESTAMP)) ||
		      (back.ingested_at != t.ingested_at && !(t.nulls & TICK_N_INGESTED)) ||
		      (back.trade_date != t.trade_date && !(t.nulls & TICK_N_DATE)) ||
		      (back.close != t.close && !(t.nulls & TICK_N_CLOSE)) ||
		      (back.volume != t.volume && !(t.nulls & TICK_N_VOLUME)) ||
		      back.nulls != t.nulls || strcmp(back.symbol, t.symbol) != 0))) {
			if (bad++ < 3)
				printf("#   %s\n#   %s\n", a.data, b.data);
		}
	}
	T_EQ_INT(bad, 0);
	buf_free(&a);
	buf_free(&b);
}

static void test_json_records_and_batches(void)
{
	const char *in =
	    "{\"a\":1,\"b\":\"x\\\"y\",\"c\":[1,{\"d\":2}],\"e\":null}\n"
	    "\n"
	    "{\"@batch\":{\"app\":\"av-fetch/intraday/5min/IBM\",\"id\":1750098000123456,"
	    "\"records\":1,\"rejected\":0,\"status\":\"ok\"}}\n"
	    "{\"@hello\":{\"x\":1}}\r\n"
	    "{\"last\":true}";
	struct rec_reader *r = reader_for(in, strlen(in), 0);
	struct rec rec;
	struct err_msg e;
	T_EQ_INT(rec_read(r, &rec, &e), REC_DATA);
	T_EQ_INT(rec_reader_format(r), REC_FMT_JSON);
	T_EQ_INT(rec.nfields, 4);
	T_EQ_INT(rec.number, 1);
	const struct rec_field *f = rec_field(&rec, "b");
	T_CHECK(f && f->type == JS_STR && f->escaped);
	struct buf b = BUF_INIT;
	if (f)
		rec_field_string(f, &b);
	T_EQ_STR(b.data, "x\"y");
	f = rec_field(&rec, "c");
	T_CHECK(f && f->type == JS_ARR && f->val_len == 11);
	T_CHECK(rec_field(&rec, "e")->type == JS_NULL);
	T_CHECK(rec_field(&rec, "zz") == NULL);

	T_EQ_INT(rec_read(r, &rec, &e), REC_BATCH);
	T_EQ_INT(rec.number, 3);
	T_EQ_STR(rec.batch.app, "av-fetch/intraday/5min/IBM");
	T_EQ_INT(rec.batch.id, 1750098000123456LL);
	T_EQ_INT(rec.batch.records, 1);
	T_EQ_INT(rec.batch.status, BATCH_OK);

	T_EQ_INT(rec_read(r, &rec, &e), REC_CONTROL);
	T_EQ_INT(rec.text_len, strlen("{\"@hello\":{\"x\":1}}"));
	T_EQ_INT(rec_read(r, &rec, &e), REC_DATA);
	T_EQ_INT(rec.number, 5);
	T_EQ_INT(rec_read(r, &rec, &e), REC_END);
	buf_free(&b);
	rec_reader_free(r);
}

static void expect_bad(const char *line, const char *want)
{
	struct rec_reader *r = reader_for(line, strlen(line), 0);
	struct rec rec;
	struct err_msg e;
	err_clear(&e);
	int rc = rec_read(r, &rec, &e);
	T_EQ_INT(rc, REC_BAD);
	if (!strstr(e.text, want))
		printf("#   \"%s\": got \"%s\", want \"%s\"\n", line, e.text, want);
	T_CHECK(strstr(e.text, want) != NULL);
	T_EQ_INT(e.status, EX_DATAERR);
	rec_reader_free(r);
}

static void test_malformed_json_lines(void)
{
	expect_bad("[1,2]\n", "input: record 1: not a JSON object");
	expect_bad("{\"a\":1,}\n", "record 1: invalid JSON");
	expect_bad("{\"a\":1}x\n", "invalid JSON: trailing characters");
	expect_bad("{\"a\":1,\"a\":2}\n", "duplicate field \"a\"");
	expect_bad("{\"a\":\"\xff\"}\n", "invalid UTF-8");
	expect_bad("{\"a\":01}\n", "bad number");
}

static void test_reader_goes_on_after_a_bad_line(void)
{
	const char *in = "{\"a\":1}\nnot json\n{\"b\":2}\n";
	struct rec_reader *r = reader_for(in, strlen(in), 0);
	struct rec rec;
	struct err_msg e;
	T_EQ_INT(rec_read(r, &rec, &e), REC_DATA);
	T_EQ_INT(rec_read(r, &rec, &e), REC_BAD);
	T_CHECK(strstr(e.text, "record 2") != NULL);
	T_EQ_INT(rec_read(r, &rec, &e), REC_DATA);
	T_EQ_INT(rec.number, 3);
	T_EQ_INT(rec_read(r, &rec, &e), REC_END);
	rec_reader_free(r);
}

static void test_line_length_limit(void)
{
	/* a 2000-byte line with a 100-byte limit is an error, not a truncation */
	char *in = malloc(4000);
	strcpy(in, "{\"a\":\"");
	memset(in + 6, 'x', 2000);
	strcpy(in + 2006, "\"}\n{\"b\":1}\n");
	struct rec_reader *r = reader_for(in, strlen(in), 100);
	struct rec rec;
	struct err_msg e;
	T_EQ_INT(rec_read(r, &rec, &e), REC_BAD);
	T_CHECK(strstr(e.text, "record 1: line longer than 100 bytes") != NULL);
	T_EQ_INT(rec_read(r, &rec, &e), REC_DATA);
	T_EQ_INT(rec.number, 2);
	T_CHECK(rec_field(&rec, "b") != NULL);
	T_EQ_INT(rec_read(r, &rec, &e), REC_END);
	rec_reader_free(r);

	/* longer than the read chunk and within the limit: read whole */
	size_t big = 3u << 20;
	char *line = malloc(big + 16);
	strcpy(line, "{\"a\":\"");
	memset(line + 6, 'y', big);
	strcpy(line + 6 + big, "\"}\n");
	r = reader_for(line, strlen(line), 0);
	T_EQ_INT(rec_read(r, &rec, &e), REC_DATA);
	T_EQ_INT(rec.fields[0].val_len, big);
	T_EQ_INT(rec_read(r, &rec, &e), REC_END);
	rec_reader_free(r);
	free(line);
	free(in);
}

static void test_json_to_tick(void)
{
	struct rec_reader *r = reader_for(sample_json, strlen(sample_json), 0);
	struct rec rec;
	struct err_msg e;
	T_EQ_INT(rec_read(r, &rec, &e), REC_DATA);
	struct tick t, want = sample_tick();
	T_EQ_INT(rec_tick(&rec, &t, &e), 0);
	T_CHECK(memcmp(&t, &want, sizeof t) == 0);
	rec_reader_free(r);

	/* decimals in strings, absent and null fields */
	const char *in2 = "{\"symbol\":\"NVDA\",\"open\":\"160.0700\",\"volume\":null}";
	r = reader_for(in2, strlen(in2), 0);
	rec_read(r, &rec, &e);
	T_EQ_INT(rec_tick(&rec, &t, &e), 0);
	T_EQ_INT(t.open, 160070000);
	T_CHECK(t.nulls & TICK_N_VOLUME);
	T_CHECK(t.nulls & TICK_N_CLOSE);
	T_CHECK(!(t.nulls & TICK_N_OPEN));
	rec_reader_free(r);
}

static void expect_tick_error(const char *line, const char *want)
{
	struct rec_reader *r = reader_for(line, strlen(line), 0);
	struct rec rec;
	struct err_msg e;
	struct tick t;
	T_EQ_INT(rec_read(r, &rec, &e), REC_DATA);
	T_EQ_INT(rec_tick(&rec, &t, &e), -1);
	if (!strstr(e.text, want))
		printf("#   got \"%s\", want \"%s\"\n", e.text, want);
	T_CHECK(strstr(e.text, want) != NULL);
	rec_reader_free(r);
}

static void test_tick_conversion_errors(void)
{
	expect_tick_error("{\"price\":1}",
	                  "record 1: field \"price\": not a field of a tick record");
	expect_tick_error("{\"open\":\"abc\"}", "field \"open\": \"abc\" is not a decimal number");
	expect_tick_error("{\"open\":1.0000001}", "more than 6 fractional digits");
	expect_tick_error("{\"volume\":1.5}", "field \"volume\": expected a 64-bit integer");
	expect_tick_error("{\"volume\":99999999999999999999}", "expected a 64-bit integer");
	expect_tick_error("{\"interval\":\"2min\"}", "field \"interval\": expected 1min");
	expect_tick_error("{\"trade_timestamp\":\"2025-06-17 15:20\"}", "expected an RFC 3339");
	expect_tick_error("{\"trade_date\":\"2025-02-30\"}", "expected a date");
	expect_tick_error("{\"symbol\":\"ABCDEFGHIJKLMNOP\"}",
	                  "expected a string of 1 to 15 bytes");
	expect_tick_error("{\"symbol\":7}", "field \"symbol\"");
	expect_tick_error("{\"volume\":\"12.5\"}", "field \"volume\": expected a 64-bit integer");
	expect_tick_error("{\"volume\":\" 5\"}", "field \"volume\": expected a 64-bit integer");
	expect_tick_error("{\"volume\":\"1e3\"}", "field \"volume\": expected a 64-bit integer");
	expect_tick_error("{\"batch_id\":\"+7\"}", "field \"batch_id\": expected a 64-bit integer");
	expect_tick_error("{\"volume\":true}", "field \"volume\": expected an integer");
}

/* Integers held in strings are read like decimals held in strings. */
static void test_integers_in_strings(void)
{
	const char *in = "{\"volume\":\"296560\",\"batch_id\":\"-\\u00342\",\"open\":\"1.5\"}";
	struct rec_reader *r = reader_for(in, strlen(in), 0);
	struct rec rec;
	struct err_msg e;
	struct tick t;
	T_EQ_INT(rec_read(r, &rec, &e), REC_DATA);
	T_EQ_INT(rec_tick(&rec, &t, &e), 0);
	T_EQ_INT(t.volume, 296560);
	T_EQ_INT(t.batch_id, -42);
	T_EQ_INT(t.open, 1500000);
	T_CHECK(!(t.nulls & (TICK_N_VOLUME | TICK_N_BATCH_ID)));
	/* the canonical fast path leaves them to the general reader */
	T_EQ_INT(tick_from_canonical_json(in, strlen(in), &t), -1);
	rec_reader_free(r);
}

static void test_binary_round_trip(void)
{
	struct capture c;
	struct err_msg e;
	struct rec_writer *w = writer_to(&c, REC_FMT_BINARY);
	struct tick t = sample_tick();
	struct tick t2 = sample_tick();
	t2.nulls = TICK_N_HIGH | TICK_N_SOURCE;
	memset(t2.source, 0, sizeof t2.source);
	t2.open = INT64_MIN;
	struct rec_batch b = {.id = 42, .records = 2, .rejected = 1, .status = BATCH_FAILED};
	memset(b.app, 'a', 200); /* longer than one frame holds */
	b.app[200] = '\0';
	T_EQ_INT(rec_write_tick(w, &t, &e), 0);
	T_EQ_INT(rec_write_tick(w, &t2, &e), 0);
	T_EQ_INT(rec_write_batch(w, &b, &e), 0);
	T_EQ_INT(rec_write_control(w, "{\"@note\":{\"x\":1}}", 17, &e), 0);
	T_EQ_INT(rec_writer_close(w, &e), 0);
	capture_read(&c);
	T_EQ_INT(c.len, REC_HEADER_SIZE + REC_FRAME_SIZE * 6);
	T_CHECK(memcmp(c.data, REC_MAGIC, REC_MAGIC_LEN) == 0);

	struct rec_reader *r = reader_for(c.data, c.len, 0);
	struct rec rec;
	T_EQ_INT(rec_read(r, &rec, &e), REC_DATA);
	T_EQ_INT(rec_reader_format(r), REC_FMT_BINARY);
	T_CHECK(memcmp(&rec.tick, &t, sizeof t) == 0);
	T_EQ_INT(rec_read(r, &rec, &e), REC_DATA);
	T_CHECK(memcmp(&rec.tick, &t2, sizeof t2) == 0);
	T_EQ_INT(rec_read(r, &rec, &e), REC_BATCH);
	T_EQ_STR(rec.batch.app, b.app);
	T_EQ_INT(rec.batch.id, 42);
	T_EQ_INT(rec.batch.rejected, 1);
	T_EQ_INT(rec.batch.status, BATCH_FAILED);
	T_EQ_INT(rec_read(r, &rec, &e), REC_CONTROL);
	T_EQ_INT(rec.text_len, 17);
	T_EQ_INT(rec_read(r, &rec, &e), REC_END);
	rec_reader_free(r);
}

static void test_json_binary_json_is_lossless(void)
{
	/* JSON -> binary -> JSON gives back the same text */
	const char *in = "{\"symbol\":\"TSLA\",\"interval\":\"60min\",\"trade_timestamp\":"
	                 "\"2024-03-09T00:00:00Z\",\"trade_date\":\"2024-03-08\",\"open\":"
	                 "175.000001,\"high\":-0.5,\"low\":null,\"close\":999999999999.999999,"
	                 "\"volume\":-9223372036854775808,\"batch_id\":0,\"ingested_at\":"
	                 "\"1969-12-31T23:59:59.999999Z\",\"source\":\"a\\\"b\"}\n"
	                 "{\"@batch\":{\"app\":\"x\",\"id\":7,\"records\":1,\"rejected\":0,"
	                 "\"status\":\"ok\"}}\n";
	struct rec_reader *r = reader_for(in, strlen(in), 0);
	struct capture c1, c2;
	struct err_msg e;
	struct rec rec;
	struct rec_writer *w = writer_to(&c1, REC_FMT_BINARY);
	while (rec_read(r, &rec, &e) > 0)
		T_EQ_INT(rec_write_rec(w, &rec, &e), 0);
	T_EQ_INT(rec_writer_close(w, &e), 0);
	rec_reader_free(r);
	capture_read(&c1);

	r = reader_for(c1.data, c1.len, 0);
	w = writer_to(&c2, REC_FMT_JSON);
	while (rec_read(r, &rec, &e) > 0)
		T_EQ_INT(rec_write_rec(w, &rec, &e), 0);
	T_EQ_INT(rec_writer_close(w, &e), 0);
	rec_reader_free(r);
	capture_read(&c2);
	T_EQ_STR(c2.data, in);
}

static void test_bad_binary_streams(void)
{
	struct err_msg e;
	struct rec rec;
	char h[REC_HEADER_SIZE + 10] = {0};
	memcpy(h, REC_MAGIC, REC_MAGIC_LEN);
	h[8] = 9; /* version 9 */
	h[10] = REC_FRAME_SIZE;
	struct rec_reader *r = reader_for(h, REC_HEADER_SIZE, 0);
	T_EQ_INT(rec_read(r, &rec, &e), -1);
	T_CHECK(strstr(e.text, "binary stream version 9 is not supported") != NULL);
	rec_reader_free(r);

	h[8] = 1;
	r = reader_for(h, sizeof h, 0);
	T_EQ_INT(rec_read(r, &rec, &e), -1);
	T_CHECK(strstr(e.text, "record 1: truncated frame (10 of 104 bytes)") != NULL);
	rec_reader_free(r);

	r = reader_for("\x89STK", 4, 0);
	T_EQ_INT(rec_read(r, &rec, &e), -1);
	T_CHECK(strstr(e.text, "bad magic") != NULL);
	rec_reader_free(r);
}

static void test_empty_input(void)
{
	struct rec_reader *r = reader_for("", 0, 0);
	struct rec rec;
	struct err_msg e;
	T_EQ_INT(rec_read(r, &rec, &e), REC_END);
	rec_reader_free(r);
}

static void test_broken_pipe_is_reported(void)
{
	int p[2];
	T_EQ_INT(pipe(p), 0);
	close(p[0]);
	struct rec_writer *w = rec_writer_new(p[1], "stdout", REC_FMT_JSON);
	struct err_msg e;
	struct tick t = sample_tick();
	int rc = 0;
	for (int i = 0; i < 2000 && rc == 0; i++)
		rc = rec_write_tick(w, &t, &e);
	if (rc == 0)
		rc = rec_writer_flush(w, &e);
	T_EQ_INT(rc, -1);
	T_CHECK(rec_writer_broken_pipe(w));
	T_EQ_INT(e.status, EX_IOERR);
	T_EQ_INT(rec_writer_close(w, &e), REC_EPIPE);
}

static void test_binary_refuses_generic_json(void)
{
	struct capture c;
	struct err_msg e;
	struct rec_writer *w = writer_to(&c, REC_FMT_BINARY);
	T_EQ_INT(rec_write_json(w, "{\"a\":1}", 7, &e), -1);
	T_CHECK(strstr(e.text, "binary output carries tick records only") != NULL);
	rec_writer_close(w, &e);
	capture_read(&c);
}

int main(void)
{
	T_RUN(test_tick_json_format);
	T_RUN(test_json_records_and_batches);
	T_RUN(test_malformed_json_lines);
	T_RUN(test_reader_goes_on_after_a_bad_line);
	T_RUN(test_line_length_limit);
	T_RUN(test_json_to_tick);
	T_RUN(test_tick_conversion_errors);
	T_RUN(test_integers_in_strings);
	T_RUN(test_binary_round_trip);
	T_RUN(test_json_binary_json_is_lossless);
	T_RUN(test_bad_binary_streams);
	T_RUN(test_tick_json_run_is_each_tick_alone);
	T_RUN(test_tick_frame_strings_end_at_their_nul);
	T_RUN(test_empty_input);
	T_RUN(test_broken_pipe_is_reported);
	T_RUN(test_binary_refuses_generic_json);
	T_DONE();
}

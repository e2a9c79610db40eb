/*
 * Unit tests for batch markers in common/record/stream: what a well-formed
 * marker may leave out, every way a marker can be malformed (REC_BAD_MARKER,
 * never a data record), and a malformed marker passed on through JSON and
 * binary streams staying the same malformed marker.
 */
#include "record/stream.h"
#include "t.h"

#include <unistd.h>

/* A reader over the bytes s[0..n) (through a temporary file). */
static struct rec_reader *reader_for(const char *s, size_t n, int lazy)
{
	char path[] = "/tmp/stocketl-marker-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	unlink(path);
	if (write(fd, s, n) != (ssize_t)n)
		return NULL;
	lseek(fd, 0, SEEK_SET);
	struct rec_reader *r = rec_reader_new(fd, "input", 0);
	rec_reader_set_lazy(r, lazy);
	return r;
}

/* Everything a writer produced, via a temporary file. */
struct capture {
	int fd;
	char data[1 << 16];
	size_t len;
};

static struct rec_writer *writer_to(struct capture *c, int format)
{
	char path[] = "/tmp/stocketl-marker-XXXXXX";
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

static void test_app_and_rejected_may_be_absent(void)
{
	const char *in = "{\"@batch\":{\"id\":7,\"records\":2,\"status\":\"failed\"}}\n";
	struct rec_reader *r = reader_for(in, strlen(in), 0);
	struct rec rec;
	struct err_msg e;
	T_EQ_INT(rec_read(r, &rec, &e), REC_BATCH);
	T_EQ_STR(rec.batch.app, "");
	T_EQ_INT(rec.batch.id, 7);
	T_EQ_INT(rec.batch.records, 2);
	T_EQ_INT(rec.batch.rejected, 0);
	T_EQ_INT(rec.batch.status, BATCH_FAILED);
	rec_reader_free(r);
}

static void test_writers_leave_out_an_empty_app(void)
{
	struct rec_batch b = {.app = "", .id = 7, .records = 2, .rejected = 1, .status = BATCH_OK};
	struct buf t = BUF_INIT;
	T_EQ_INT(rec_batch_to_json(&b, &t), 0);
	T_EQ_STR(t.data, "{\"@batch\":{\"id\":7,\"records\":2,\"rejected\":1,\"status\":\"ok\"}}");
	buf_free(&t);

	/* and binary keeps it empty */
	struct capture c;
	struct err_msg e;
	struct rec_writer *w = writer_to(&c, REC_FMT_BINARY);
	T_EQ_INT(rec_write_batch(w, &b, &e), 0);
	T_EQ_INT(rec_writer_close(w, &e), 0);
	capture_read(&c);
	struct rec_reader *r = reader_for(c.data, c.len, 0);
	struct rec rec;
	T_EQ_INT(rec_read(r, &rec, &e), REC_BATCH);
	T_EQ_STR(rec.batch.app, "");
	T_EQ_INT(rec.batch.id, 7);
	T_EQ_INT(rec.batch.rejected, 1);
	rec_reader_free(r);
}

static void test_app_with_quotes_round_trips(void)
{
	struct rec_batch b = {.app = "a \"quoted\\\" app", .id = 1, .records = 0};
	struct capture c;
	struct err_msg e;
	struct rec_writer *w = writer_to(&c, REC_FMT_JSON);
	T_EQ_INT(rec_write_batch(w, &b, &e), 0);
	T_EQ_INT(rec_writer_close(w, &e), 0);
	capture_read(&c);
	struct rec_reader *r = reader_for(c.data, c.len, 0);
	struct rec rec;
	T_EQ_INT(rec_read(r, &rec, &e), REC_BATCH);
	T_EQ_STR(rec.batch.app, b.app);
	rec_reader_free(r);
}

/* The line is a malformed marker, in plain and in lazy reading, with this reason. */
static void expect_bad_marker(const char *line, const char *why)
{
	for (int lazy = 0; lazy <= 1; lazy++) {
		char in[1024];
		snprintf(in, sizeof in, "{\"a\":1}\n%s\n{\"b\":2}\n", line);
		struct rec_reader *r = reader_for(in, strlen(in), lazy);
		struct rec rec;
		struct err_msg e;
		char want[512];
		err_clear(&e);
		T_EQ_INT(rec_read(r, &rec, &e), REC_DATA);
		int k = rec_read(r, &rec, &e);
		T_EQ_INT(k, REC_BAD_MARKER);
		snprintf(want, sizeof want, "input: line 2: malformed batch marker: %s", why);
		if (strcmp(e.text, want) != 0)
			printf("#   %s: got \"%s\"\n", line, e.text);
		T_EQ_STR(e.text, want);
		T_EQ_INT(e.status, EX_DATAERR);
		T_EQ_INT(rec.type, REC_BAD_MARKER);
		T_EQ_INT(rec.number, 2);
		/* the line as read, to be passed on */
		T_CHECK(rec.text && rec.text_len == strlen(line) &&
		        memcmp(rec.text, line, rec.text_len) == 0);
		/* the records after it are read as usual */
		T_EQ_INT(rec_read(r, &rec, &e), REC_DATA);
		T_EQ_INT(rec.number, 3);
		rec_reader_free(r);
	}
}

static void test_malformed_markers(void)
{
	expect_bad_marker("{\"@batch\":{\"app\":\"x\",\"id\":1,\"records\":1,\"status\":\"failed\","
	                  "\"status\":\"ok\"}}",
	                  "@batch repeats \"status\"");
	expect_bad_marker("{\"@batch\":{\"id\":1,\"records\":1,\"status\":\"failed\","
	                  "\"st\\u0061tus\":\"ok\"}}",
	                  "@batch repeats \"status\"");
	expect_bad_marker(
	    "{\"@batch\":{\"id\":1,\"records\":1,\"x\":[1],\"status\":\"ok\",\"x\":2}}",
	    "@batch repeats \"x\"");
	expect_bad_marker("{\"@batch\":{\"app\":\"x\",\"id\":1,\"records\":1,\"status\":\"OK\"}}",
	                  "@batch status must be \"ok\" or \"failed\"");
	expect_bad_marker("{\"@batch\":{\"id\":1,\"records\":1,\"status\":true}}",
	                  "@batch status must be \"ok\" or \"failed\"");
	expect_bad_marker("{\"@batch\":{\"app\":\"x\",\"records\":1,\"status\":\"ok\"}}",
	                  "@batch needs id, records and status");
	expect_bad_marker("{\"@batch\":{\"id\":1,\"status\":\"ok\"}}",
	                  "@batch needs id, records and status");
	expect_bad_marker("{\"@batch\":{\"id\":1,\"records\":1}}",
	                  "@batch needs id, records and status");
	expect_bad_marker("{\"@batch\":{\"id\":\"1\",\"records\":1,\"status\":\"ok\"}}",
	                  "@batch id must be a non-negative integer");
	expect_bad_marker("{\"@batch\":{\"id\":1.5,\"records\":1,\"status\":\"ok\"}}",
	                  "@batch id must be a non-negative integer");
	expect_bad_marker("{\"@batch\":{\"id\":1,\"records\":-1,\"status\":\"ok\"}}",
	                  "@batch records must be a non-negative integer");
	expect_bad_marker("{\"@batch\":{\"id\":1,\"records\":1e2,\"status\":\"ok\"}}",
	                  "@batch records must be a non-negative integer");
	expect_bad_marker("{\"@batch\":{\"id\":1,\"records\":1,\"rejected\":-2,\"status\":\"ok\"}}",
	                  "@batch rejected must be a non-negative integer");
	expect_bad_marker(
	    "{\"@batch\":{\"id\":99999999999999999999,\"records\":1,\"status\":\"ok\"}}",
	    "@batch id must be a non-negative integer");
	expect_bad_marker("{\"@batch\":{\"app\":7,\"id\":1,\"records\":1,\"status\":\"ok\"}}",
	                  "@batch app must be a string of at most 255 bytes without control "
	                  "characters");
	expect_bad_marker(
	    "{\"@batch\":{\"app\":\"a\\u0001b\",\"id\":1,\"records\":1,\"status\":\"ok\"}}",
	    "@batch app must be a string of at most 255 bytes without control "
	    "characters");
	expect_bad_marker("{\"@batch\":3}", "@batch is not an object");
	expect_bad_marker("{\"@batch\":{\"id\":1,\"records\":1,\"status\":\"ok\"},\"x\":1}",
	                  "a batch marker has one member, \"@batch\"");
	expect_bad_marker("{\"@batch\":{\"id\":1,\"records\":1,\"status\":\"ok\"},"
	                  "\"@batch\":{\"id\":2,\"records\":1,\"status\":\"ok\"}}",
	                  "duplicate field \"@batch\"");
	expect_bad_marker("{\"@batch\":{\"id\":1,\"records\":1,\"status\":\"ok\"}",
	                  "invalid JSON: unexpected end of text");
	expect_bad_marker("{\"\\u0040batch\":{\"id\":1,\"records\":1,\"status\":\"ok!\"}}",
	                  "@batch status must be \"ok\" or \"failed\"");
}

static void test_app_over_255_bytes_is_malformed(void)
{
	char line[600];
	int n = snprintf(line, sizeof line, "{\"@batch\":{\"app\":\"");
	memset(line + n, 'a', 256);
	snprintf(line + n + 256, sizeof line - (size_t)n - 256,
	         "\",\"id\":1,\"records\":1,\"status\":\"ok\"}}");
	expect_bad_marker(line, "@batch app must be a string of at most 255 bytes without "
	                        "control characters");
}

/* A malformed marker written on with rec_write_rec(): the same text in JSON and in binary. */
static void test_malformed_marker_passes_through_binary(void)
{
	const char *line = "{\"@batch\":{\"app\":\"x\",\"id\":1,\"records\":1,\"status\":\"OK\"}}";
	char in[256];
	snprintf(in, sizeof in, "%s\n", line);
	struct rec_reader *r = reader_for(in, strlen(in), 1);
	struct capture bin, json;
	struct err_msg e;
	struct rec rec;
	struct rec_writer *w = writer_to(&bin, REC_FMT_BINARY);
	T_EQ_INT(rec_read(r, &rec, &e), REC_BAD_MARKER);
	T_EQ_INT(rec_write_rec(w, &rec, &e), 0);
	T_EQ_INT(rec_writer_close(w, &e), 0);
	rec_reader_free(r);
	capture_read(&bin);

	r = reader_for(bin.data, bin.len, 0);
	T_EQ_INT(rec_read(r, &rec, &e), REC_BAD_MARKER);
	T_EQ_STR(e.text, "input: record 1: malformed batch marker: @batch status must be \"ok\" or "
	                 "\"failed\"");
	w = writer_to(&json, REC_FMT_JSON);
	T_EQ_INT(rec_write_rec(w, &rec, &e), 0);
	T_EQ_INT(rec_writer_close(w, &e), 0);
	T_EQ_INT(rec_read(r, &rec, &e), REC_END);
	rec_reader_free(r);
	capture_read(&json);
	T_EQ_STR(json.data, in);
}

/* A well-formed marker in a control frame is a marker like any other. */
static void test_marker_in_a_control_frame(void)
{
	const char *line = "{\"@batch\":{\"app\":\"x\",\"id\":3,\"records\":0,\"status\":\"ok\"}}";
	struct capture c;
	struct err_msg e;
	struct rec rec;
	struct rec_writer *w = writer_to(&c, REC_FMT_BINARY);
	T_EQ_INT(rec_write_control(w, line, strlen(line), &e), 0);
	T_EQ_INT(rec_write_control(w, "{\"a\":1}", 7, &e), 0);
	T_EQ_INT(rec_writer_close(w, &e), 0);
	capture_read(&c);
	struct rec_reader *r = reader_for(c.data, c.len, 0);
	T_EQ_INT(rec_read(r, &rec, &e), REC_BATCH);
	T_EQ_INT(rec.batch.id, 3);
	T_EQ_INT(rec_read(r, &rec, &e), REC_BAD);
	T_CHECK(strstr(e.text, "a control frame that holds no control line") != NULL);
	rec_reader_free(r);
}

/* A binary stream's header and one zeroed frame in bytes; returns the frame. */
static unsigned char *one_frame(char bytes[REC_HEADER_SIZE + REC_FRAME_SIZE])
{
	memset(bytes, 0, REC_HEADER_SIZE + REC_FRAME_SIZE);
	memcpy(bytes, REC_MAGIC, REC_MAGIC_LEN);
	bytes[8] = REC_BIN_VERSION;
	bytes[10] = REC_FRAME_SIZE;
	return (unsigned char *)bytes + REC_HEADER_SIZE;
}

/* A batch frame that breaks the rules: its fields as JSON that is just as malformed. */
static void test_malformed_batch_frame(void)
{
	char bytes[REC_HEADER_SIZE + REC_FRAME_SIZE];
	unsigned char *f = one_frame(bytes);
	f[0] = 2;  /* batch frame */
	f[1] = 7;  /* no such status */
	f[2] = 3;  /* app of 3 bytes */
	f[8] = 9;  /* id 9 */
	f[16] = 4; /* records 4 */
	memcpy(f + 32, "a\"b", 3);
	struct rec_reader *r = reader_for(bytes, sizeof bytes, 0);
	struct rec rec;
	struct err_msg e;
	T_EQ_INT(rec_read(r, &rec, &e), REC_BAD_MARKER);
	T_EQ_STR(e.text, "input: record 1: malformed batch marker: status is neither 0 (ok) nor 1 "
	                 "(failed)");
	char text[256];
	snprintf(text, sizeof text, "%.*s", (int)rec.text_len, rec.text);
	T_EQ_STR(text, "{\"@batch\":{\"app\":\"a\\\"b\",\"id\":9,\"records\":4,\"rejected\":0,"
	               "\"status\":7}}");
	rec_reader_free(r);

	/* read again as JSON, it is malformed for the same reason */
	char line[300];
	snprintf(line, sizeof line, "%s\n", text);
	r = reader_for(line, strlen(line), 0);
	T_EQ_INT(rec_read(r, &rec, &e), REC_BAD_MARKER);
	T_CHECK(strstr(e.text, "@batch status must be") != NULL);
	rec_reader_free(r);
}

/* An app that is not UTF-8 would become another appId in the log (JSON states UTF-8 alone). */
static void test_batch_frame_app_not_utf8(void)
{
	char bytes[REC_HEADER_SIZE + REC_FRAME_SIZE];
	unsigned char *f = one_frame(bytes);
	f[0] = 2; /* batch frame, status ok */
	f[2] = 3; /* app of 3 bytes */
	f[8] = 9;
	f[16] = 4;
	memcpy(f + 32,
	       "a\xff"
	       "b",
	       3);
	struct rec_reader *r = reader_for(bytes, sizeof bytes, 0);
	struct rec rec;
	struct err_msg e;
	T_EQ_INT(rec_read(r, &rec, &e), REC_BAD_MARKER);
	T_EQ_STR(e.text, "input: record 1: malformed batch marker: app holds a control character "
	                 "or bytes that are not UTF-8");
	rec_reader_free(r);
	/* and no writer writes one */
	struct capture c;
	struct rec_writer *w = writer_to(&c, REC_FMT_BINARY);
	struct rec_batch b = {.app = "a\xff"
	                             "b",
	                      .id = 1,
	                      .records = 1,
	                      .status = BATCH_OK};
	T_EQ_INT(rec_write_batch(w, &b, &e), -1);
	T_CHECK(strstr(e.text, "bytes of UTF-8 without control characters") != NULL);
	T_EQ_INT(rec_writer_close(w, &e), 0);
	capture_read(&c);
	T_EQ_INT(c.len, REC_HEADER_SIZE); /* the header alone: no frame */
}

static void test_writers_refuse_malformed_markers(void)
{
	struct capture c;
	struct err_msg e;
	struct rec_writer *w = writer_to(&c, REC_FMT_JSON);
	struct rec_batch b = {.app = "x", .id = 1, .records = 1, .status = 5};
	T_EQ_INT(rec_write_batch(w, &b, &e), -1);
	T_EQ_INT(e.status, EX_SOFTWARE);
	b.status = BATCH_OK;
	b.id = -1;
	T_EQ_INT(rec_write_batch(w, &b, &e), -1);
	b.id = 1;
	strcpy(b.app, "line\nbreak");
	T_EQ_INT(rec_write_batch(w, &b, &e), -1);
	T_CHECK(strstr(e.text, "without control characters") != NULL);
	T_EQ_INT(rec_writer_close(w, &e), 0);
	capture_read(&c);
	T_EQ_INT(c.len, 0);
}

static void test_batch_labels(void)
{
	struct rec_batch b = {.app = "av-fetch/intraday/5min/IBM", .id = 1750098000123456};
	char label[REC_BATCH_LABEL_MAX];
	T_EQ_STR(rec_batch_label(&b, label, sizeof label),
	         "batch av-fetch/intraday/5min/IBM/1750098000123456");
	b.app[0] = '\0';
	b.id = 7;
	T_EQ_STR(rec_batch_label(&b, label, sizeof label), "batch 7");
}

int main(void)
{
	T_RUN(test_app_and_rejected_may_be_absent);
	T_RUN(test_writers_leave_out_an_empty_app);
	T_RUN(test_app_with_quotes_round_trips);
	T_RUN(test_malformed_markers);
	T_RUN(test_app_over_255_bytes_is_malformed);
	T_RUN(test_malformed_marker_passes_through_binary);
	T_RUN(test_marker_in_a_control_frame);
	T_RUN(test_malformed_batch_frame);
	T_RUN(test_batch_frame_app_not_utf8);
	T_RUN(test_writers_refuse_malformed_markers);
	T_RUN(test_batch_labels);
	T_DONE();
}

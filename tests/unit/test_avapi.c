/*
 * Unit tests for common/av/avapi: symbols and months, request URLs and their
 * printable form, the classification of every kind of answer (the vendor's
 * own texts, from the fixtures), envelopes, the key in answers and
 * redaction, and the vocabulary shared with the envelope reader.
 */
#include "av/avapi.h"
#include "text/jscan.h"
#include "record/tick.h"
#include "t.h"

#define FIXTURES "tests/fixtures/alphavantage/"

/* The whole of a fixture file, NUL-terminated, in b. */
static int slurp(const char *name, struct buf *b)
{
	char path[256];
	snprintf(path, sizeof path, FIXTURES "%s", name);
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		printf("#   cannot open %s\n", path);
		return -1;
	}
	char chunk[4096];
	size_t n;
	buf_reset(b);
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
		buf_append(b, chunk, n);
	fclose(fp);
	return 0;
}

static struct av_request req(int function, int interval, int datatype)
{
	struct av_request r;
	av_request_init(&r, function);
	if (interval)
		r.interval = interval;
	r.datatype = datatype;
	snprintf(r.symbol, sizeof r.symbol, "IBM");
	return r;
}

static int classify_text(const struct av_request *r, const char *text, struct av_answer *a)
{
	av_classify(r, text, strlen(text), a);
	return a->cls;
}

static int classify_file(const struct av_request *r, const char *name, struct av_answer *a)
{
	struct buf b = BUF_INIT;
	int cls = -1;
	if (slurp(name, &b) == 0) {
		av_classify(r, b.data, b.len, a);
		cls = a->cls;
	}
	buf_free(&b);
	return cls;
}

static void test_symbols(void)
{
	T_CHECK(av_symbol_valid("IBM"));
	T_CHECK(av_symbol_valid("BRK.B"));
	T_CHECK(av_symbol_valid("RDS-A"));
	T_CHECK(av_symbol_valid("nvda"));
	T_CHECK(av_symbol_valid("ABCDEFGHIJKLMNO"));
	T_CHECK(!av_symbol_valid(""));
	T_CHECK(!av_symbol_valid("ABCDEFGHIJKLMNOP"));
	T_CHECK(!av_symbol_valid("IB M"));
	T_CHECK(!av_symbol_valid("../etc"));
	T_CHECK(!av_symbol_valid("A/B"));
	T_CHECK(!av_symbol_valid("A&apikey=x"));
}

static void test_months(void)
{
	int ym;
	char out[8];
	T_EQ_INT(av_month_parse("2024-03", &ym), 0);
	T_EQ_INT(ym, 2024 * 12 + 2);
	av_month_format(ym, out);
	T_EQ_STR(out, "2024-03");
	av_month_format(2024 * 12 + 11 + 1, out);
	T_EQ_STR(out, "2025-01");
	T_EQ_INT(av_month_parse("2000-01", &ym), 0);
	T_EQ_INT(av_month_parse("1999-12", &ym), -1);
	T_EQ_INT(av_month_parse("2024-13", &ym), -1);
	T_EQ_INT(av_month_parse("2024-00", &ym), -1);
	T_EQ_INT(av_month_parse("2024-3", &ym), -1);
	T_EQ_INT(av_month_parse("2024-03-01", &ym), -1);
	T_EQ_INT(av_month_parse("20x4-03", &ym), -1);
}

static void test_url(void)
{
	struct buf u = BUF_INIT;
	struct av_request r = req(AV_INTRADAY, TICK_5MIN, AV_JSON);
	/* Only what was set goes out: the vendor's defaults apply to the rest. */
	T_EQ_INT(av_url(&u, "https://www.alphavantage.co/query", &r, "K1"), 0);
	T_EQ_STR(u.data,
	         "https://www.alphavantage.co/query?function=TIME_SERIES_INTRADAY&symbol=IBM"
	         "&interval=5min&apikey=K1");

	buf_reset(&u);
	r.sent = AV_SENT_ADJUSTED | AV_SENT_EXTENDED | AV_SENT_OUTPUTSIZE | AV_SENT_DATATYPE;
	r.adjusted = 0;
	r.extended_hours = 0;
	r.outputsize_full = 1;
	r.datatype = AV_CSV;
	r.entitlement = AV_ENT_DELAYED;
	r.month = 2024 * 12 + 2;
	T_EQ_INT(av_url(&u, "http://127.0.0.1:9/query?x=1", &r, NULL), 0);
	T_EQ_STR(u.data, "http://127.0.0.1:9/query?x=1&function=TIME_SERIES_INTRADAY&symbol=IBM"
	                 "&interval=5min&adjusted=false&extended_hours=false&month=2024-03"
	                 "&outputsize=full&entitlement=delayed&datatype=csv&apikey=***");

	/* A key is percent-encoded, so it cannot add parameters. */
	buf_reset(&u);
	r = req(AV_QUOTE, 0, AV_JSON);
	r.sent = AV_SENT_OUTPUTSIZE;
	T_EQ_INT(av_url(&u, "http://h/q", &r, "a&b=c d"), 0);
	T_EQ_STR(u.data, "http://h/q?function=GLOBAL_QUOTE&symbol=IBM&apikey=a%26b%3Dc%20d");

	buf_reset(&u);
	r = req(AV_DAILY, 0, AV_JSON);
	r.sent = AV_SENT_OUTPUTSIZE;
	r.outputsize_full = 1;
	T_EQ_INT(av_url(&u, "http://h/q?", &r, "K"), 0);
	T_EQ_STR(u.data,
	         "http://h/q?function=TIME_SERIES_DAILY&symbol=IBM&outputsize=full&apikey=K");
	buf_free(&u);
}

static void test_classify_data(void)
{
	struct av_answer a;
	struct av_request r = req(AV_INTRADAY, TICK_5MIN, AV_JSON);
	T_EQ_INT(classify_file(&r, "intraday_IBM_5min_compact.json", &a), AV_DATA);
	T_EQ_INT(a.entries, 100);
	T_EQ_INT(a.json, 1);

	r = req(AV_INTRADAY, TICK_5MIN, AV_CSV);
	T_EQ_INT(classify_file(&r, "intraday_IBM_5min_compact.csv", &a), AV_DATA);
	T_EQ_INT(a.entries, 100);
	T_EQ_INT(a.json, 0);

	r = req(AV_INTRADAY, TICK_60MIN, AV_JSON);
	T_EQ_INT(classify_file(&r, "intraday_TSLA_60min_month_2024-03_dst.json", &a), AV_DATA);
	T_EQ_INT(a.entries, 320);

	r = req(AV_DAILY, 0, AV_JSON);
	T_EQ_INT(classify_file(&r, "daily_AAPL_compact.json", &a), AV_DATA);
	T_EQ_INT(a.entries, 100);

	r = req(AV_QUOTE, 0, AV_JSON);
	T_EQ_INT(classify_file(&r, "global_quote_AAPL.json", &a), AV_DATA);
	T_EQ_INT(a.entries, 1);
	T_EQ_INT(classify_text(&r,
	                       "{\"Global Quote - DATA DELAYED BY 15 MINUTES\":{\"01. symbol\":"
	                       "\"IBM\"}}",
	                       &a),
	         AV_DATA);
	r.datatype = AV_CSV;
	T_EQ_INT(classify_text(&r,
	                       "symbol,open,high,low,price,volume,latestDay,previousClose,change,"
	                       "changePercent\r\nIBM,1,2,0.5,1.5,100,2025-06-17,1.4,0.1,7.1%\r\n",
	                       &a),
	         AV_DATA);
}

static void test_classify_another_series(void)
{
	struct av_answer a;
	/* A 1min series in answer to a 5min request is not the data asked for, and never will be. */
	struct av_request r = req(AV_INTRADAY, TICK_5MIN, AV_JSON);
	T_EQ_INT(classify_file(&r, "intraday_NVDA_1min_extended.json", &a), AV_OTHER_SERIES);
	T_EQ_STR(a.message,
	         "the answer is \"Time Series (1min)\", not the \"Time Series (5min)\" asked for");
	r = req(AV_INTRADAY, TICK_1MIN, AV_JSON);
	T_EQ_INT(classify_file(&r, "intraday_IBM_5min_compact.json", &a), AV_OTHER_SERIES);
	r = req(AV_DAILY, 0, AV_JSON);
	T_EQ_INT(classify_file(&r, "global_quote_AAPL.json", &a), AV_OTHER_SERIES);
	T_EQ_STR(a.message,
	         "the answer is \"Global Quote\", not the \"Time Series (Daily)\" asked for");
	r = req(AV_QUOTE, 0, AV_JSON);
	T_EQ_INT(classify_file(&r, "daily_AAPL_compact.json", &a), AV_OTHER_SERIES);
	T_EQ_STR(a.message,
	         "the answer is \"Time Series (Daily)\", not the \"Global Quote\" asked for");
	/* The other series' name is the answer's: its control characters never reach a terminal. */
	r = req(AV_INTRADAY, TICK_5MIN, AV_JSON);
	T_EQ_INT(classify_text(&r, "{\"Time Series (5mi\\u001b[31m\\n)\":{\"x\":{}}}", &a),
	         AV_OTHER_SERIES);
	T_EQ_STR(
	    a.message,
	    "the answer is \"Time Series (5mi?[31m?)\", not the \"Time Series (5min)\" asked for");
	/* A vendor message beside another series says more than the series. */
	r = req(AV_INTRADAY, TICK_1MIN, AV_JSON);
	T_EQ_INT(classify_text(&r, "{\"Time Series (5min)\":{},\"Note\":\"per minute\"}", &a),
	         AV_THROTTLE_MINUTE);
}

static void test_classify_wrong_shape_is_malformed(void)
{
	struct av_answer a;
	struct av_request r = req(AV_INTRADAY, TICK_5MIN, AV_JSON);
	T_EQ_INT(classify_text(&r, "{\"Meta Data\":{\"2. Symbol\":\"IBM\"}}", &a), AV_MALFORMED);
	T_EQ_INT(classify_text(&r, "{\"Time Series (5min)\":[]}", &a), AV_MALFORMED);
}

static void test_classify_empty(void)
{
	struct av_answer a;
	struct av_request r = req(AV_INTRADAY, TICK_5MIN, AV_JSON);
	T_EQ_INT(classify_file(&r, "intraday_empty_series.json", &a), AV_EMPTY);
	T_EQ_INT(classify_file(&r, "empty_object.json", &a), AV_EMPTY);
	r = req(AV_INTRADAY, TICK_5MIN, AV_CSV);
	T_EQ_INT(classify_text(&r, "timestamp,open,high,low,close,volume\r\n", &a), AV_EMPTY);
}

static void test_classify_empty_quote(void)
{
	struct av_answer a;
	struct av_request r = req(AV_QUOTE, 0, AV_JSON);
	T_EQ_INT(classify_text(&r, "{\"Global Quote\": {}}", &a), AV_EMPTY_QUOTE);
	T_EQ_STR(a.message, "the quote is empty (the vendor's answer for an unknown symbol)");
	T_EQ_INT(classify_text(&r, "{\"Global Quote - DATA DELAYED BY 15 MINUTES\": {}}", &a),
	         AV_EMPTY_QUOTE);
	r.datatype = AV_CSV;
	T_EQ_INT(classify_text(&r,
	                       "symbol,open,high,low,price,volume,latestDay,previousClose,change,"
	                       "changePercent\r\n",
	                       &a),
	         AV_EMPTY_QUOTE);
}

static void test_classify_vendor_messages(void)
{
	struct av_answer a;
	struct av_request r = req(AV_INTRADAY, TICK_5MIN, AV_JSON);
	T_EQ_INT(classify_file(&r, "error_invalid_api_call.json", &a), AV_ERROR);
	T_CHECK(strncmp(a.message, "Invalid API call.", 17) == 0);
	T_EQ_INT(classify_file(&r, "throttle_note_per_minute.json", &a), AV_THROTTLE_MINUTE);
	T_EQ_INT(classify_file(&r, "extra/throttle_information_burst.json", &a),
	         AV_THROTTLE_SECOND);
	T_EQ_INT(classify_file(&r, "throttle_information_daily_limit.json", &a), AV_DAILY_LIMIT);
	T_EQ_INT(classify_file(&r, "extra/information_premium_endpoint.json", &a), AV_PREMIUM);
	T_EQ_INT(classify_file(&r, "extra/information_premium_feature_outputsize_full.json", &a),
	         AV_PREMIUM);
	T_EQ_INT(classify_file(&r, "extra/information_demo_key.json", &a), AV_BAD_KEY);
	T_EQ_INT(classify_file(&r, "extra/error_invalid_apikey.json", &a), AV_BAD_KEY);
	/* The same answers arrive as JSON when CSV was asked for. */
	r.datatype = AV_CSV;
	T_EQ_INT(classify_file(&r, "throttle_note_per_minute.json", &a), AV_THROTTLE_MINUTE);
	T_EQ_INT(classify_file(&r, "error_invalid_api_call.json", &a), AV_ERROR);
	r.datatype = AV_JSON;
	/* Variants seen in the wild. */
	T_EQ_INT(classify_text(&r,
	                       "{\"Information\": \"We have detected your API key as ABC and our "
	                       "standard API rate limit is 25 requests per day.\"}",
	                       &a),
	         AV_DAILY_LIMIT);
	T_EQ_INT(classify_text(
	             &r, "{\"Note\": \"Our standard API rate limit is 25 requests per day.\"}", &a),
	         AV_DAILY_LIMIT);
	T_EQ_INT(classify_text(
	             &r, "{\"Information\": \"the parameter apikey is invalid or missing.\"}", &a),
	         AV_BAD_KEY);
	T_EQ_INT(classify_text(&r, "{\"Information\": \"Something new.\"}", &a), AV_NOTICE);
	T_EQ_STR(a.message, "Something new.");
	/* Escapes are decoded and control characters never reach a terminal. */
	T_EQ_INT(classify_text(&r, "{\"Error Message\": \"bad\\u0007 \\\"x\\\"\\nnext\"}", &a),
	         AV_ERROR);
	T_EQ_STR(a.message, "bad  \"x\" next");
}

static void test_classify_malformed(void)
{
	struct av_answer a;
	struct av_request r = req(AV_INTRADAY, TICK_5MIN, AV_JSON);
	struct buf b = BUF_INIT;
	T_EQ_INT(slurp("intraday_IBM_5min_compact.json", &b), 0);
	/* Every cut of a good body is caught, wherever it falls. */
	int all = 1;
	for (size_t n = 0; n < b.len - 1; n += 97) {
		av_classify(&r, b.data, n, &a);
		if (a.cls != AV_MALFORMED) {
			printf("#   a body cut at %zu bytes was %s\n", n, av_class_name(a.cls));
			all = 0;
		}
	}
	T_CHECK(all);
	T_EQ_INT(classify_text(&r, "", &a), AV_MALFORMED);
	T_EQ_INT(classify_text(&r, "<html>Bad gateway</html>", &a), AV_MALFORMED);
	T_EQ_INT(classify_text(&r, "[1,2]", &a), AV_MALFORMED);
	T_EQ_INT(classify_text(&r, "{\"Time Series (5min)\":{\"a\":{}}} x", &a), AV_MALFORMED);
	T_CHECK(strstr(a.message, "invalid JSON") != NULL);

	r.datatype = AV_CSV;
	T_EQ_INT(slurp("intraday_IBM_5min_compact.csv", &b), 0);
	for (size_t n = 1; n < b.len; n++) {
		av_classify(&r, b.data, n, &a);
		/* A cut right after a line end leaves complete rows: fewer, but whole. */
		int whole = b.data[n - 1] == '\n';
		if (a.cls != (whole ? (n > 38 ? AV_DATA : AV_EMPTY) : AV_MALFORMED)) {
			printf("#   a CSV body cut at %zu bytes was %s\n", n, av_class_name(a.cls));
			all = 0;
			break;
		}
	}
	T_CHECK(all);
	T_EQ_INT(classify_text(&r, "time,open,high,low,close,volume\r\n1,2,3,4,5,6\r\n", &a),
	         AV_MALFORMED);
	T_EQ_INT(
	    classify_text(
	        &r, "timestamp,open,high,low,close,volume\r\n2025-06-17 11:20:00,1,2,3\r\n", &a),
	    AV_MALFORMED);
	T_EQ_INT(classify_text(&r, "timestamp,open,high,low,close,volume\r\n\r\n", &a),
	         AV_MALFORMED);
	T_EQ_INT(classify_text(&r, "", &a), AV_MALFORMED);
	buf_free(&b);
}

static void test_envelope(void)
{
	struct buf out = BUF_INIT;
	struct av_request r = req(AV_INTRADAY, TICK_5MIN, AV_JSON);
	const char *body =
	    "{\n    \"b\": [1.50, -0, 2e3, true, null],\n    \"a\": \"\\u00e9\\n\"\n}\n";
	int64_t at = 1750098000123456LL;
	T_EQ_INT(av_envelope(&out, &r, at, 200, -1, body, strlen(body), 1), 0);
	T_EQ_STR(out.data,
	         "{\"source\":\"alphavantage\",\"function\":\"TIME_SERIES_INTRADAY\",\"symbol\":"
	         "\"IBM\",\"interval\":\"5min\",\"params\":{\"month\":null,\"outputsize\":"
	         "\"compact\",\"adjusted\":true,\"extended_hours\":true,\"entitlement\":null,"
	         "\"datatype\":\"json\"},\"fetched_at\":\"2025-06-16T18:20:00.123456Z\","
	         "\"http_status\":200,\"body\":{\"b\":[1.50,-0,2e3,true,null],\"a\":"
	         "\"\\u00e9\\n\"}}");

	buf_reset(&out);
	r = req(AV_DAILY, 0, AV_CSV);
	r.entitlement = AV_ENT_REALTIME;
	const char *csv = "timestamp,open\r\n2025-06-17,\"1\"\r\n";
	T_EQ_INT(av_envelope(&out, &r, at, 200, 1750098000000001LL, csv, strlen(csv), 0), 0);
	T_EQ_STR(out.data,
	         "{\"source\":\"alphavantage\",\"function\":\"TIME_SERIES_DAILY\",\"symbol\":"
	         "\"IBM\",\"interval\":\"1d\",\"params\":{\"month\":null,\"outputsize\":"
	         "\"compact\",\"adjusted\":null,\"extended_hours\":null,\"entitlement\":"
	         "\"realtime\",\"datatype\":\"csv\"},\"fetched_at\":"
	         "\"2025-06-16T18:20:00.123456Z\",\"http_status\":200,"
	         "\"batch_id\":1750098000000001,\"body\":"
	         "\"timestamp,open\\r\\n2025-06-17,\\\"1\\\"\\r\\n\"}");

	buf_reset(&out);
	r = req(AV_QUOTE, 0, AV_JSON);
	T_EQ_INT(av_envelope(&out, &r, at, 200, -1, "{}", 2, 1), 0);
	T_CHECK(strstr(out.data, "\"interval\":null,\"params\":{\"month\":null,\"outputsize\":null,"
	                         "\"adjusted\":null,\"extended_hours\":null") != NULL);

	/* A month request records its month. */
	buf_reset(&out);
	r = req(AV_INTRADAY, TICK_60MIN, AV_JSON);
	r.month = 2024 * 12 + 2;
	r.outputsize_full = 1;
	T_EQ_INT(av_envelope(&out, &r, at, 200, -1, "{}", 2, 1), 0);
	T_CHECK(strstr(out.data, "\"params\":{\"month\":\"2024-03\",\"outputsize\":\"full\"") !=
	        NULL);

	/* A whole fixture: one line, valid JSON, every byte of every token kept. */
	struct buf b = BUF_INIT;
	T_EQ_INT(slurp("intraday_TSLA_60min_month_2024-03_dst.json", &b), 0);
	buf_reset(&out);
	T_EQ_INT(av_envelope(&out, &r, at, 200, -1, b.data, b.len, 1), 0);
	T_CHECK(memchr(out.data, '\n', out.len) == NULL);
	struct jscan js;
	struct jscan_token t;
	int k;
	jscan_init(&js, out.data, out.len);
	while ((k = jscan_next(&js, &t)) > 0)
		;
	T_EQ_INT(k, JS_END);
	T_CHECK(strstr(out.data, "\"2024-03-08 19:00:00\":{\"1. open\":\"") != NULL);
	/* Only the whitespace between tokens went: keys such as "1. open" keep their space. */
	T_CHECK(out.len < b.len);

	/* Not JSON: refused. */
	buf_reset(&out);
	T_EQ_INT(av_envelope(&out, &r, at, 200, -1, "{\"a\":", 5, 1), -1);
	buf_free(&b);
	buf_free(&out);
}

static void test_redact(void)
{
	char s[200];
	snprintf(s, sizeof s, "detected your API key as S3CR3T and S3CR3T again");
	av_redact(s, "S3CR3T");
	T_EQ_STR(s, "detected your API key as *** and *** again");
	snprintf(s, sizeof s, "url ?apikey=a%%2Fb&x and a/b");
	av_redact(s, "a/b");
	T_EQ_STR(s, "url ?apikey=***&x and ***");
	snprintf(s, sizeof s, "key K here, \"K\", apikey=K&x, not in BRK.A, KK or K1");
	av_redact(s, "K");
	T_EQ_STR(s, "key * here, \"*\", apikey=*&x, not in BRK.A, KK or K1");
	snprintf(s, sizeof s, "nothing");
	av_redact(s, "");
	av_redact(s, NULL);
	T_EQ_STR(s, "nothing");
}

/* An answer quotes the key where the API would echo it, never inside another word. */
static void test_quotes_key(void)
{
	const char *brk = "{\"Global Quote\":{\"01. symbol\":\"BRK.A\",\"02. open\":\"1\"}}";
	T_CHECK(!av_quotes_key(brk, strlen(brk), "K"));
	T_CHECK(av_quotes_key(brk, strlen(brk), "BRK.A"));
	const char *echo = "{\"Information\":\"We have detected your API key as K1X2 and\"}";
	T_CHECK(av_quotes_key(echo, strlen(echo), "K1X2"));
	T_CHECK(!av_quotes_key(echo, strlen(echo), "K1X"));
	const char *url = "see https://x/query?function=A&apikey=S3CR3T";
	T_CHECK(av_quotes_key(url, strlen(url), "S3CR3T"));
	const char *word = "{\"a\":\"K\"}";
	T_CHECK(av_quotes_key(word, strlen(word), "K"));
	const char *enc = "apikey=a%2Fb&x";
	T_CHECK(av_quotes_key(enc, strlen(enc), "a/b"));
	T_CHECK(av_quotes_key("K", 1, "K"));
	T_CHECK(!av_quotes_key("K", 1, ""));
	T_CHECK(!av_quotes_key("K", 1, NULL));
	/* Only the n bytes given are looked at. */
	T_CHECK(!av_quotes_key("xK", 1, "K"));
	/* In JSON, the key written with string escapes is a quote of it too. */
	const char *esc = "{\"a\":\"AB+C\\/D\",\"b\":\"\\u0041B\\u002bC/D\"}";
	T_CHECK(!av_quotes_key(esc, strlen(esc), "AB+C/D"));
	T_CHECK(av_json_quotes_key(esc, strlen(esc), "AB+C/D"));
	const char *esc2 = "{\"b\":\"\\u0041B\\u002bC/D\"}";
	T_CHECK(av_json_quotes_key(esc2, strlen(esc2), "AB+C/D"));
	const char *plain = "{\"a\":\"x\\/y\",\"k\":\"ABC\"}";
	T_CHECK(av_json_quotes_key(plain, strlen(plain), "ABC"));
	T_CHECK(!av_json_quotes_key(plain, strlen(plain), "AB"));
	T_CHECK(!av_json_quotes_key(plain, strlen(plain), ""));
}

static void test_vocabulary(void)
{
	char key[AV_SERIES_KEY_MAX];
	T_EQ_STR(av_series_key(AV_INTRADAY, TICK_15MIN, key), "Time Series (15min)");
	T_EQ_STR(av_series_key(AV_DAILY, 0, key), "Time Series (Daily)");
	T_EQ_STR(av_series_key(AV_QUOTE, 0, key), "");
	T_EQ_INT(av_series_interval("Time Series (60min)", 19), TICK_60MIN);
	T_EQ_INT(av_series_interval("Time Series (Daily)", 19), TICK_1D);
	T_EQ_INT(av_series_interval("Time Series (Weekly)", 20), 0);
	T_EQ_INT(av_series_interval("Time Series (1d)", 16), 0);
	T_EQ_INT(av_series_interval("Meta Data", 9), -1);
	T_CHECK(av_is_quote_key("Global Quote - DATA DELAYED BY 15 MINUTES", 41));
	T_CHECK(!av_is_quote_key("Global", 6));
	T_EQ_INT(av_message_kind("Error Message", 13), AV_MSG_ERROR);
	T_EQ_INT(av_message_kind("Note", 4), AV_MSG_NOTE);
	T_EQ_INT(av_message_kind("Information", 11), AV_MSG_INFORMATION);
	T_EQ_INT(av_message_kind("Info", 4), AV_MSG_NONE);
	T_EQ_STR(av_message_label(AV_MSG_NOTE), "API note");
	T_EQ_INT(av_function_parse_api("TIME_SERIES_DAILY", 17), AV_DAILY);
	T_EQ_INT(av_function_parse_api("TIME_SERIES_WEEKLY", 18), -1);
	const char *name;
	size_t nn;
	av_key_name("6. Time Zone", 12, &name, &nn);
	T_CHECK(nn == strlen(AV_META_ZONE) && memcmp(name, AV_META_ZONE, nn) == 0);
	av_key_name("10.x", 4, &name, &nn);
	T_EQ_INT(nn, 4);
	char up[AV_SYMBOL_MAX + 1];
	T_EQ_INT(av_symbol_upper("brk.b", 5, up), 0);
	T_EQ_STR(up, "BRK.B");
	T_EQ_INT(av_symbol_upper("IBM$", 4, up), -1);
	T_EQ_STR(up, "");
}

static void test_names(void)
{
	T_EQ_INT(av_function_parse("intraday"), AV_INTRADAY);
	T_EQ_INT(av_function_parse("daily"), AV_DAILY);
	T_EQ_INT(av_function_parse("quote"), AV_QUOTE);
	T_EQ_INT(av_function_parse("weekly"), -1);
	T_EQ_STR(av_function_api(AV_QUOTE), "GLOBAL_QUOTE");
	T_EQ_STR(av_class_name(AV_THROTTLE_SECOND), "throttled (per-second limit)");
}

int main(void)
{
	T_RUN(test_symbols);
	T_RUN(test_months);
	T_RUN(test_url);
	T_RUN(test_classify_data);
	T_RUN(test_classify_another_series);
	T_RUN(test_classify_wrong_shape_is_malformed);
	T_RUN(test_classify_empty);
	T_RUN(test_classify_empty_quote);
	T_RUN(test_classify_vendor_messages);
	T_RUN(test_classify_malformed);
	T_RUN(test_envelope);
	T_RUN(test_redact);
	T_RUN(test_quotes_key);
	T_RUN(test_vocabulary);
	T_RUN(test_names);
	T_DONE();
}

/* Unit tests for common/text/jscan and common/text/json: tokens, validation, unescaping. */
#include "text/jscan.h"
#include "text/json.h"
#include "t.h"

static int valid(const char *s)
{
	struct jscan js;
	struct jscan_token t;
	jscan_init(&js, s, strlen(s));
	int k;
	while ((k = jscan_next(&js, &t)) > 0)
		;
	return k == JS_END;
}

static void test_accepts_valid_json(void)
{
	const char *ok[] = {"{}",     "[]",
	                    "0",      "-0.5e+10",
	                    "\"\"",   "true",
	                    " null ", "{\"a\":[1,2,{\"b\":null}],\"c\":\"\\u00e9\\n\"}",
	                    "[[[]]]", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
	                    "1E5"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		if (!valid(ok[i]))
			printf("#   rejected %s\n", ok[i]);
		T_CHECK(valid(ok[i]));
	}
}

static void test_rejects_invalid_json(void)
{
	const char *bad[] = {"",
	                     "{",
	                     "}",
	                     "[1,]",
	                     "{\"a\"}",
	                     "{\"a\":1,}",
	                     "{a:1}",
	                     "01",
	                     "1.",
	                     ".5",
	                     "-",
	                     "tru",
	                     "nul",
	                     "\"abc",
	                     "\"\\x\"",
	                     "\"\\u12g4\"",
	                     "[1 2]",
	                     "{} {}",
	                     "\"\x01\"",
	                     "\"\xc0\xaf\"",
	                     "\"\xed\xa0\x80\"",
	                     "[}",
	                     "{\"a\":1]",
	                     "+1",
	                     "1e"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (valid(bad[i]))
			printf("#   accepted %s\n", bad[i]);
		T_CHECK(!valid(bad[i]));
	}
	/* nesting deeper than the limit */
	char deep[JSCAN_MAX_DEPTH * 2 + 4];
	memset(deep, '[', JSCAN_MAX_DEPTH + 1);
	memset(deep + JSCAN_MAX_DEPTH + 1, ']', JSCAN_MAX_DEPTH + 1);
	deep[JSCAN_MAX_DEPTH * 2 + 2] = '\0';
	T_CHECK(!valid(deep));
}

static void test_tokens_and_skip(void)
{
	const char *s = "{\"k\":{\"x\":[1,\"]\"]},\"n\":-12.5,\"s\":\"a\\tb\"}";
	struct jscan js;
	struct jscan_token t, v;
	jscan_init(&js, s, strlen(s));
	T_EQ_INT(jscan_next(&js, &t), JS_OBJ);
	T_EQ_INT(jscan_next(&js, &t), JS_KEY);
	T_CHECK(t.n == 1 && t.s[0] == 'k');
	T_EQ_INT(jscan_next(&js, &v), JS_OBJ);
	const char *raw;
	size_t rawlen;
	T_EQ_INT(jscan_skip(&js, &v, &raw, &rawlen), 0);
	T_CHECK(rawlen == 13 && memcmp(raw, "{\"x\":[1,\"]\"]}", 13) == 0);
	T_EQ_INT(jscan_next(&js, &t), JS_KEY);
	T_EQ_INT(jscan_next(&js, &v), JS_NUM);
	T_CHECK(v.n == 5 && memcmp(v.s, "-12.5", 5) == 0);
	T_EQ_INT(jscan_next(&js, &t), JS_KEY);
	T_EQ_INT(jscan_next(&js, &v), JS_STR);
	T_CHECK(v.escaped);
	struct buf b = BUF_INIT;
	T_EQ_INT(jscan_unescape(v.s, v.n, &b), 0);
	T_EQ_STR(b.data, "a\tb");
	T_EQ_INT(jscan_next(&js, &t), JS_OBJ_END);
	T_EQ_INT(jscan_next(&js, &t), JS_END);
	buf_free(&b);
}

static void test_unescape(void)
{
	struct buf b = BUF_INIT;
	const char *s = "\\u00e9\\ud83d\\ude00\\/\\\\\\\"";
	T_EQ_INT(jscan_unescape(s, strlen(s), &b), 0);
	T_EQ_STR(b.data, "\xc3\xa9\xf0\x9f\x98\x80/\\\"");
	buf_reset(&b);
	T_EQ_INT(jscan_unescape("\\ud83d", 6, &b), -1);
	T_EQ_INT(jscan_unescape("\\ude00", 6, &b), -1);
	buf_free(&b);
}

static void test_buf_json_str_round_trips(void)
{
	struct buf b = BUF_INIT, u = BUF_INIT;
	const char raw[] = "q\"b\\n\n\x01\x1f\xc3\xa9";
	buf_json_str(&b, raw, sizeof raw - 1);
	T_EQ_STR(b.data, "\"q\\\"b\\\\n\\n\\u0001\\u001f\xc3\xa9\"");
	T_CHECK(valid(b.data));
	T_EQ_INT(jscan_unescape(b.data + 1, b.len - 2, &u), 0);
	T_CHECK(u.len == sizeof raw - 1 && memcmp(u.data, raw, u.len) == 0);
	buf_free(&b);
	buf_free(&u);
}

/* Bytes that are not UTF-8 never make the text other than JSON: each becomes U+FFFD. */
static void test_buf_json_str_not_utf8(void)
{
	struct buf b = BUF_INIT;
	/* a stray continuation byte, a 0xFF, a cut sequence, an overlong form, a surrogate */
	const char raw[] = "a\x80"
	                   "b\xff\xe2\x82 \xc0\xaf\xed\xa0\x80\xf0\x9f\x98\x80";
	buf_json_str(&b, raw, sizeof raw - 1);
	T_EQ_STR(b.data, "\"a\xef\xbf\xbd"
	                 "b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd"
	                 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xf0\x9f\x98\x80\"");
	T_CHECK(valid(b.data));
	T_EQ_INT(jscan_utf8_valid(b.data, b.len), 0);
	buf_free(&b);
}

static void test_json_tree(void)
{
	struct err_msg e;
	const char *s = "{\"add\":{\"path\":\"a%20b\",\"size\":1024,\"dataChange\":true,"
	                "\"partitionValues\":{\"d\":\"2024-01-01\",\"s\":null}},\"n\":[1,2,3]}";
	struct json *j = json_parse(s, strlen(s), &e);
	T_CHECK(j != NULL);
	if (!j)
		return;
	const struct json *add = json_get(j, "add");
	T_EQ_INT(json_type(add), JSON_OBJECT);
	T_EQ_STR(json_str(json_get(add, "path")), "a%20b");
	int64_t v;
	T_EQ_INT(json_i64(json_get(add, "size"), &v), 0);
	T_EQ_INT(v, 1024);
	T_EQ_INT(json_bool(json_get(add, "dataChange")), 1);
	const struct json *pv = json_get(add, "partitionValues");
	T_EQ_INT(json_size(pv), 2);
	const struct json *m = json_first(pv);
	T_EQ_STR(json_key(m), "d");
	m = json_next(m);
	T_EQ_STR(json_key(m), "s");
	T_EQ_INT(json_type(m), JSON_NULL);
	T_CHECK(json_next(m) == NULL);
	T_EQ_INT(json_size(json_get(j, "n")), 3);
	T_EQ_INT(json_i64(json_at(json_get(j, "n"), 2), &v), 0);
	T_EQ_INT(v, 3);
	struct buf b = BUF_INIT;
	json_print(json_get(j, "n"), &b);
	T_EQ_STR(b.data, "[1,2,3]");
	buf_free(&b);
	json_free(j);

	T_CHECK(json_parse("{\"a\":1} x", 9, &e) == NULL);
	T_CHECK(strstr(e.text, "trailing characters") != NULL);
	T_CHECK(json_parse("{\"a\":", 5, &e) == NULL);
	j = json_parse("9007199254740993", 16, &e);
	T_EQ_INT(json_i64(j, &v), -1);
	json_free(j);
}

/*
 * A Delta action with one byte replaced by a control character must not
 * parse as another action (a key that is no longer "partitionValues", a
 * path that names another file), and neither must one whose byte lost or
 * gained its high bit (invalid UTF-8): RFC 8259 wants both escaped.
 */
static void test_json_parse_is_strict(void)
{
	static const char ok[] = "{\"add\":{\"path\":\"a.parquet\",\"partitionValues\":{}}}";
	struct err_msg e;
	struct json *j = json_parse(ok, sizeof ok - 1, &e);
	T_CHECK(j != NULL);
	json_free(j);
	struct {
		size_t at;
		char c;
		const char *why;
	} bad[] = {
	    {32, '\x01', "control character in string"}, /* in a key */
	    {18, '\x1f', "control character in string"}, /* in a path */
	    {18, '\t', "control character in string"},   /* a raw tab in a string */
	    {18, '\0', "control character in string"},   /* a NUL in a string */
	    {26, '\x01', "expected ','"},                /* in place of a ',' */
	    {7, '\x01', "unexpected character"},         /* in place of a '{' */
	    {18, (char)0xe1, "invalid UTF-8 in string"}, /* a high bit set */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char s[sizeof ok];
		memcpy(s, ok, sizeof ok);
		s[bad[i].at] = bad[i].c;
		j = json_parse(s, sizeof ok - 1, &e);
		if (j || !strstr(e.text, bad[i].why))
			printf("#   byte %zu set to 0x%02x: %s\n", bad[i].at,
			       (unsigned char)bad[i].c, j ? "parsed" : e.text);
		T_CHECK(j == NULL);
		T_CHECK(strstr(e.text, bad[i].why) != NULL);
		T_EQ_INT(e.status, EX_DATAERR);
		json_free(j);
	}
}

int main(void)
{
	T_RUN(test_accepts_valid_json);
	T_RUN(test_rejects_invalid_json);
	T_RUN(test_tokens_and_skip);
	T_RUN(test_unescape);
	T_RUN(test_buf_json_str_round_trips);
	T_RUN(test_buf_json_str_not_utf8);
	T_RUN(test_json_tree);
	T_RUN(test_json_parse_is_strict);
	T_DONE();
}

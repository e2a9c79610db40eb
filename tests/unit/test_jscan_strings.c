/*
 * Unit tests for the string scanner of common/text/jscan: strings are
 * passed over a word at a time, so every byte value is tried at every
 * position of strings around and across the word boundary, at the end of
 * the text and not, against what a byte-by-byte reading of RFC 8259 says.
 */
#include "text/jscan.h"
#include "t.h"

/*
 * What a string token whose contents start at s (text ends at end) must
 * be: the length of its contents, or -1 when the text is not a valid
 * string there.  Byte by byte: a quote ends it, a control character, a
 * bad escape or bad UTF-8 makes it invalid.
 */
static long ref_string(const unsigned char *s, const unsigned char *end, int *escaped)
{
	const unsigned char *p = s;
	*escaped = 0;
	while (p < end) {
		unsigned c = *p;
		if (c == '"')
			return (long)(p - s);
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			*escaped = 1;
			if (end - p < 2 || !strchr("\"\\/bfnrtu", p[1]) || p[1] == '\0')
				return -1;
			if (p[1] == 'u') {
				if (end - p < 6)
					return -1;
				for (int i = 2; i < 6; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || p[i] == '\0')
						return -1;
				p += 6;
			} else {
				p += 2;
			}
			continue;
		}
		if (c < 0x80) {
			p++;
			continue;
		}
		size_t k = 0;
		while (p + k < end && p[k] >= 0x80 && (k == 0 || (p[k] & 0xC0) == 0x80) && k < 4)
			k++;
		/* The longest prefix that is UTF-8 and ends where the sequence does. */
		size_t n = 0;
		for (size_t m = k; m > 0 && !n; m--)
			if (jscan_utf8_valid((const char *)p, m) == 0)
				n = m;
		if (!n)
			return -1;
		p += n;
	}
	return -1;
}

/* Scan text as one JSON string value; the token's length, -1 when the text is not one. */
static long scan_string(const char *text, size_t len, int *escaped)
{
	struct jscan js;
	struct jscan_token t, u;
	jscan_init(&js, text, len);
	int k = jscan_next(&js, &t);
	if (k == JS_ERR)
		return -1;
	if (k != JS_STR)
		return -2;
	*escaped = t.escaped;
	return jscan_next(&js, &u) == JS_END ? (long)t.n : -1;
}

static void test_every_byte_at_every_position(void)
{
	char text[64];
	int failures = 0;
	for (size_t len = 0; len <= 20 && failures < 5; len++) {
		for (size_t at = 0; at < len && failures < 5; at++) {
			for (unsigned v = 0; v < 256 && failures < 5; v++) {
				/* "aaa...v...aaa" then, or not, the closing quote and more text. */
				for (int closed = 0; closed < 2; closed++) {
					size_t n = 0;
					text[n++] = '"';
					for (size_t i = 0; i < len; i++)
						text[n++] = i == at ? (char)v : 'a';
					if (closed)
						n += (size_t)snprintf(text + n, sizeof text - n,
						                      "\"   ");
					int e1 = 0, e2 = 0;
					long want =
					    ref_string((const unsigned char *)text + 1,
					               (const unsigned char *)text + n, &e1);
					long got = scan_string(text, n, &e2);
					/* The string itself may be fine and the text after it is not. */
					for (size_t i = (size_t)want + 2; want >= 0 && i < n; i++)
						if (text[i] != ' ')
							want = -1;
					if (want != got || (got >= 0 && e1 != e2)) {
						printf("#   len %zu, byte 0x%02x at %zu, closed "
						       "%d: want "
						       "%ld, got %ld\n",
						       len, v, at, closed, want, got);
						failures++;
					}
				}
			}
		}
	}
	T_EQ_INT(failures, 0);
}

static void test_special_bytes_after_plain_words(void)
{
	/* A quote, backslash or control byte right after whole words of plain text. */
	const char *cases[] = {
	    "\"abcdefgh\"",         "\"abcdefghijklmnop\"",       "\"abcdefg\\n\"",
	    "\"abcdefgh\\\"x\"",    "\"abcdefghijklmno\\u00e9\"", "\"abcdefgh\xc3\xa9zzzzzzzz\"",
	    "\"~~~~~~~~\x7f\x7f\"", "\"!#$%&'()*+,-./0123\"",     "\"[]^_`{|}~@ABCDEFG\"",
	};
	const long want[] = {8, 16, 9, 11, 21, 18, 10, 18, 17};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int esc;
		long got = scan_string(cases[i], strlen(cases[i]), &esc);
		if (got != want[i])
			printf("#   %s: %ld\n", cases[i], got);
		T_EQ_INT(got, want[i]);
	}
	const char *bad[] = {"\"abcdefgh\x01\"", "\"abcdefghijklmnop\x1f\"", "\"abcdefgh\xc0\xaf\"",
	                     "\"abcdefghijklmnop", "\"abcdefgh\\x\""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int esc;
		T_EQ_INT(scan_string(bad[i], strlen(bad[i]), &esc), -1);
	}
}

static void test_text_ends_inside_a_word(void)
{
	/* The scanner must stop at the text's end, not at the NUL after it. */
	const char *s = "\"abcdefghijkl\"";
	for (size_t n = 1; n < strlen(s); n++) {
		char *copy = malloc(n);
		T_CHECK(copy != NULL);
		if (!copy)
			return;
		memcpy(copy, s, n);
		int esc;
		T_EQ_INT(scan_string(copy, n, &esc), -1);
		free(copy);
	}
}

static void test_whitespace_between_tokens(void)
{
	const char *s = " \t\n{ \r\n\"a\" :\t[ 1 , \"b\" ] , \"c\":true}\n ";
	struct jscan js;
	struct jscan_token t;
	jscan_init(&js, s, strlen(s));
	int types[16], n = 0, k;
	while ((k = jscan_next(&js, &t)) > 0 && n < 16)
		types[n++] = k;
	T_EQ_INT(k, JS_END);
	const int want[] = {JS_OBJ,     JS_KEY, JS_ARR,  JS_NUM,    JS_STR,
	                    JS_ARR_END, JS_KEY, JS_TRUE, JS_OBJ_END};
	T_EQ_INT(n, (int)(sizeof want / sizeof want[0]));
	for (int i = 0; i < n && i < (int)(sizeof want / sizeof want[0]); i++)
		T_EQ_INT(types[i], want[i]);
	const char *lits[] = {"true", "false", "null", "[true,false,null]"};
	for (size_t i = 0; i < 4; i++) {
		jscan_init(&js, lits[i], strlen(lits[i]));
		while ((k = jscan_next(&js, &t)) > 0)
			;
		T_EQ_INT(k, JS_END);
	}
	const char *cut[] = {"tru", "fals", "nul", "[true,fals]", "nulll"};
	for (size_t i = 0; i < 5; i++) {
		jscan_init(&js, cut[i], strlen(cut[i]));
		while ((k = jscan_next(&js, &t)) > 0)
			;
		T_EQ_INT(k, JS_ERR);
	}
}

int main(void)
{
	T_RUN(test_every_byte_at_every_position);
	T_RUN(test_special_bytes_after_plain_words);
	T_RUN(test_text_ends_inside_a_word);
	T_RUN(test_whitespace_between_tokens);
	T_DONE();
}

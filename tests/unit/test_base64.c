/*
 * Unit tests for base64 in common/base/buf.c: RFC 4648's test vectors, both
 * ways, and malformed input refused.
 */
#include "base/buf.h"
#include "t.h"

static void test_base64(void)
{
	struct buf b = BUF_INIT, d = BUF_INIT;
	const char *cases[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	for (size_t i = 0; i < 7; i++) {
		buf_reset(&b);
		buf_reserve(&b, 0);
		buf_base64(&b, cases[i], strlen(cases[i]));
		T_EQ_STR(b.data, want[i]);
		buf_reset(&d);
		T_EQ_INT(buf_base64_decode(&d, b.data, b.len), 0);
		T_CHECK(d.len == strlen(cases[i]) && memcmp(d.data, cases[i], d.len) == 0);
	}
	T_EQ_INT(buf_base64_decode(&d, "Zm9", 3), -1);
	T_EQ_INT(buf_base64_decode(&d, "Zm=v", 4), -1);
	T_EQ_INT(buf_base64_decode(&d, "Z!9v", 4), -1);
	buf_free(&b);
	buf_free(&d);
}

int main(void)
{
	T_RUN(test_base64);
	T_DONE();
}

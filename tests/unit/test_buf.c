/* Unit tests for common/base/buf: growth, the bound, and the sticky failure flag. */
#include "base/buf.h"
#include "t.h"

#include <stdint.h>

static void test_appends_and_nul_termination(void)
{
	struct buf b = BUF_INIT;
	T_EQ_INT(buf_puts(&b, "abc"), 0);
	T_EQ_INT(buf_putc(&b, 'd'), 0);
	T_EQ_INT(buf_printf(&b, "%d", 42), 0);
	T_EQ_STR(b.data, "abcd42");
	T_EQ_INT(b.len, 6);
	T_CHECK(!buf_failed(&b));
	buf_free(&b);
}

static void test_bound_refuses_and_sticks(void)
{
	struct buf b = BUF_INIT;
	b.max = 8;
	T_EQ_INT(buf_puts(&b, "12345678"), 0);
	T_CHECK(!buf_failed(&b));
	T_EQ_INT(buf_putc(&b, '9'), -1);
	T_CHECK(buf_failed(&b));
	/* later appends that fit do not clear the flag: the text is incomplete */
	b.len = 0;
	T_EQ_INT(buf_puts(&b, "x"), 0);
	T_CHECK(buf_failed(&b));
	T_EQ_STR(b.data, "x");
	buf_reset(&b);
	T_CHECK(!buf_failed(&b));
	buf_free(&b);
}

static void test_size_arithmetic_cannot_wrap(void)
{
	struct buf b = BUF_INIT;
	T_EQ_INT(buf_puts(&b, "abc"), 0);
	T_EQ_INT(buf_reserve(&b, SIZE_MAX - 1), -1);
	T_EQ_INT(buf_reserve(&b, SIZE_MAX), -1);
	T_CHECK(buf_failed(&b));
	T_EQ_STR(b.data, "abc");
	buf_free(&b);
	T_CHECK(!buf_failed(&b));
}

static void test_detach_takes_the_text(void)
{
	struct buf b = BUF_INIT;
	T_EQ_INT(buf_printf(&b, "%s-%s", "a", "b"), 0);
	char *s = buf_detach(&b);
	T_EQ_STR(s, "a-b");
	T_CHECK(b.data == NULL);
	T_EQ_INT(b.len, 0);
	free(s);
}

int main(void)
{
	T_RUN(test_appends_and_nul_termination);
	T_RUN(test_bound_refuses_and_sticks);
	T_RUN(test_size_arithmetic_cannot_wrap);
	T_RUN(test_detach_takes_the_text);
	T_DONE();
}

/*
 * t.h: the unit-test harness.  Each test binary is a list of static test
 * functions run by T_RUN(); checks record a failure with file and line and
 * the test goes on.  Output is TAP ("ok N - name" / "not ok N - name"),
 * which tests/run counts.
 */
#ifndef STOCKETL_T_H
#define STOCKETL_T_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_count;
static int t_failures;
static int t_current_failed;

#define T_CHECK(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("#   %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);        \
			t_current_failed = 1;                                                      \
		}                                                                                  \
	} while (0)

#define T_EQ_INT(a, b)                                                                             \
	do {                                                                                       \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b);                            \
		if (t_a_ != t_b_) {                                                                \
			printf("#   %s:%d: %s == %s: %lld != %lld\n", __FILE__, __LINE__, #a, #b,  \
			       t_a_, t_b_);                                                        \
			t_current_failed = 1;                                                      \
		}                                                                                  \
	} while (0)

#define T_EQ_STR(a, b)                                                                             \
	do {                                                                                       \
		const char *t_a_ = (a), *t_b_ = (b);                                               \
		if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0) {                                   \
			printf("#   %s:%d: %s == %s: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a,  \
			       #b, t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)");                \
			t_current_failed = 1;                                                      \
		}                                                                                  \
	} while (0)

#define T_RUN(fn)                                                                                  \
	do {                                                                                       \
		t_current_failed = 0;                                                              \
		fn();                                                                              \
		t_count++;                                                                         \
		if (t_current_failed)                                                              \
			t_failures++;                                                              \
		printf("%sok %d - %s\n", t_current_failed ? "not " : "", t_count, #fn);            \
		fflush(stdout);                                                                    \
	} while (0)

#define T_DONE()                                                                                   \
	do {                                                                                       \
		printf("1..%d\n", t_count);                                                        \
		return t_failures ? 1 : 0;                                                         \
	} while (0)

#endif

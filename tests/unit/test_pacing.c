/*
 * Unit tests for common/net/backoff and common/net/limiter: the retry schedule and
 * the rate limiter, driven by a fake clock so that a minute costs nothing.
 */
#include "net/backoff.h"
#include "net/limiter.h"
#include "t.h"

#define MS  1000LL
#define SEC 1000000LL

static void test_backoff_nominal_doubles_up_to_the_cap(void)
{
	struct backoff b;
	backoff_init(&b, 1 * SEC, 60 * SEC, 1);
	T_EQ_INT(backoff_nominal(&b, 1), 1 * SEC);
	T_EQ_INT(backoff_nominal(&b, 2), 2 * SEC);
	T_EQ_INT(backoff_nominal(&b, 3), 4 * SEC);
	T_EQ_INT(backoff_nominal(&b, 6), 32 * SEC);
	T_EQ_INT(backoff_nominal(&b, 7), 60 * SEC);
	T_EQ_INT(backoff_nominal(&b, 1000), 60 * SEC);
	/* A cap below the base is raised to it; a huge cap never overflows. */
	backoff_init(&b, 5 * SEC, 1 * SEC, 1);
	T_EQ_INT(backoff_nominal(&b, 3), 5 * SEC);
	backoff_init(&b, 1, INT64_MAX, 1);
	T_EQ_INT(backoff_nominal(&b, 63), 1LL << 62);
	T_CHECK(backoff_nominal(&b, 100000) > 0);
}

static void test_backoff_delay_is_jittered_within_bounds(void)
{
	struct backoff b;
	backoff_init(&b, 100 * MS, 10 * SEC, 42);
	int spread = 0;
	for (int retry = 1; retry <= 10; retry++) {
		int64_t n = backoff_nominal(&b, retry), first = -1;
		for (int i = 0; i < 200; i++) {
			int64_t d = backoff_delay(&b, retry);
			if (d < n / 2 || d > n) {
				printf("#   retry %d: delay %lld outside [%lld, %lld]\n", retry,
				       (long long)d, (long long)(n / 2), (long long)n);
				T_CHECK(0);
				return;
			}
			if (first < 0)
				first = d;
			else if (d != first)
				spread = 1;
		}
	}
	T_CHECK(spread);
}

static void test_backoff_is_reproducible_from_its_seed(void)
{
	struct backoff a, b, c;
	backoff_init(&a, 1 * SEC, 60 * SEC, 7);
	backoff_init(&b, 1 * SEC, 60 * SEC, 7);
	backoff_init(&c, 1 * SEC, 60 * SEC, 8);
	int differ = 0;
	for (int i = 1; i <= 20; i++) {
		int64_t x = backoff_delay(&a, i % 6 + 1), y = backoff_delay(&b, i % 6 + 1);
		T_EQ_INT(x, y);
		differ |= backoff_delay(&c, i % 6 + 1) != x;
	}
	T_CHECK(differ);
}

static void test_limiter_without_windows_never_waits(void)
{
	struct limiter *l = limiter_new();
	for (int i = 0; i < 100; i++) {
		T_EQ_INT(limiter_next(l, 5), 5);
		limiter_record(l, 5);
	}
	limiter_free(l);
}

static void test_limiter_per_second(void)
{
	struct limiter *l = limiter_new();
	T_EQ_INT(limiter_add(l, 1, 1 * SEC), 0);
	T_EQ_INT(limiter_next(l, 0), 0);
	limiter_record(l, 0);
	T_EQ_INT(limiter_next(l, 0), 1 * SEC);
	T_EQ_INT(limiter_next(l, 300 * MS), 1 * SEC);
	T_EQ_INT(limiter_next(l, 2 * SEC), 2 * SEC);
	limiter_record(l, 1 * SEC);
	T_EQ_INT(limiter_next(l, 1 * SEC), 2 * SEC);
	limiter_free(l);
}

/* Start calls as early as the limiter allows; record their times. */
static void run_calls(struct limiter *l, int n, int64_t *at)
{
	int64_t now = 0;
	for (int i = 0; i < n; i++) {
		now = limiter_next(l, now);
		limiter_record(l, now);
		at[i] = now;
	}
}

static void test_limiter_per_minute_slides(void)
{
	struct limiter *l = limiter_new();
	int64_t at[12];
	T_EQ_INT(limiter_add(l, 5, 60 * SEC), 0);
	run_calls(l, 12, at);
	/* Five at once, then each waits for the call five before it to leave the window. */
	for (int i = 0; i < 5; i++)
		T_EQ_INT(at[i], 0);
	for (int i = 5; i < 12; i++)
		T_EQ_INT(at[i], at[i - 5] + 60 * SEC);
	limiter_free(l);
}

static void test_limiter_windows_combine(void)
{
	struct limiter *l = limiter_new();
	int64_t at[12];
	T_EQ_INT(limiter_add(l, 5, 60 * SEC), 0);
	T_EQ_INT(limiter_add(l, 1, 1 * SEC), 0);
	run_calls(l, 12, at);
	/* The free tier: one a second, and no more than five in any minute. */
	T_EQ_INT(at[0], 0);
	T_EQ_INT(at[4], 4 * SEC);
	T_EQ_INT(at[5], 60 * SEC);
	T_EQ_INT(at[6], 61 * SEC);
	T_EQ_INT(at[10], 120 * SEC);
	/* Check the promise itself: no window of 60 s holds more than 5 calls. */
	for (int i = 0; i + 5 < 12; i++)
		T_CHECK(at[i + 5] - at[i] >= 60 * SEC);
	for (int i = 0; i + 1 < 12; i++)
		T_CHECK(at[i + 1] - at[i] >= 1 * SEC);
	limiter_free(l);
}

static void test_limiter_hold(void)
{
	struct limiter *l = limiter_new();
	T_EQ_INT(limiter_add(l, 1, 1 * SEC), 0);
	limiter_hold(l, 30 * SEC);
	T_EQ_INT(limiter_next(l, 0), 30 * SEC);
	/* A shorter hold does not cut a longer one short. */
	limiter_hold(l, 10 * SEC);
	T_EQ_INT(limiter_next(l, 0), 30 * SEC);
	limiter_record(l, 30 * SEC);
	T_EQ_INT(limiter_next(l, 30 * SEC), 31 * SEC);
	limiter_free(l);
}

static void test_limiter_rejects_bad_windows(void)
{
	struct limiter *l = limiter_new();
	T_EQ_INT(limiter_add(l, 0, 1 * SEC), -1);
	T_EQ_INT(limiter_add(l, 1, 0), -1);
	T_EQ_INT(limiter_add(l, LIMITER_MAX_CALLS + 1, 1 * SEC), -1);
	for (int i = 0; i < LIMITER_MAX_WINDOWS; i++)
		T_EQ_INT(limiter_add(l, 2, (i + 1) * SEC), 0);
	T_EQ_INT(limiter_add(l, 2, 9 * SEC), -1);
	limiter_free(l);
}

int main(void)
{
	T_RUN(test_backoff_nominal_doubles_up_to_the_cap);
	T_RUN(test_backoff_delay_is_jittered_within_bounds);
	T_RUN(test_backoff_is_reproducible_from_its_seed);
	T_RUN(test_limiter_without_windows_never_waits);
	T_RUN(test_limiter_per_second);
	T_RUN(test_limiter_per_minute_slides);
	T_RUN(test_limiter_windows_combine);
	T_RUN(test_limiter_hold);
	T_RUN(test_limiter_rejects_bad_windows);
	T_DONE();
}

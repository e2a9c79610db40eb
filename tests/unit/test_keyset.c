/*
 * Unit tests for common/record/keyset: the answers agree with a plain reference set
 * for keys in order, in reverse, at random and in overlapping runs; memory
 * stays within the budget, and a full budget turns into untracked keys.
 */
#include "record/keyset.h"
#include "t.h"

#define US 1000000LL

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A reference: values seen, as a sorted array searched by bisection. */
struct ref {
	int64_t *v;
	size_t n, cap;
};

static int ref_add(struct ref *r, int64_t x)
{
	size_t a = 0, b = r->n;
	while (a < b) {
		size_t m = (a + b) / 2;
		if (r->v[m] < x)
			a = m + 1;
		else
			b = m;
	}
	if (a < r->n && r->v[a] == x)
		return KEYSET_DUPLICATE;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 1024;
		r->v = realloc(r->v, r->cap * sizeof *r->v);
	}
	memmove(r->v + a + 1, r->v + a, (r->n - a) * sizeof *r->v);
	r->v[a] = x;
	r->n++;
	return KEYSET_NEW;
}

/* Feed n values from gen() to a set and to the reference; count disagreements. */
static int agree(int64_t (*gen)(size_t i), size_t n)
{
	struct keyset_budget b = {64u << 20, 0};
	struct keyset *ks = keyset_new(&b);
	struct ref r = {0};
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t x = gen(i);
		int want = ref_add(&r, x);
		int got = keyset_add(ks, "IBM", 3, 1, x);
		if (got != want && bad++ < 5)
			printf("#   value %zu (%lld): got %d, want %d\n", i, (long long)x, got,
			       want);
	}
	T_EQ_INT(keyset_count(ks), r.n);
	T_CHECK(!keyset_overflowed(ks));
	keyset_free(ks);
	T_EQ_INT(b.used, 0);
	free(r.v);
	return bad;
}

static int64_t gen_minutes(size_t i)
{
	return 1750000000LL * US + (int64_t)i * 60 * US;
}
static int64_t gen_reverse(size_t i)
{
	return 1750000000LL * US - (int64_t)i * 300 * US;
}
static int64_t gen_random(size_t i)
{
	(void)i;
	return (int64_t)(next_rand() % 50000) * 60 * US;
}
/* Polls of 100 bars that overlap the previous poll by 95, as compact fetches do. */
static int64_t gen_polls(size_t i)
{
	size_t poll = i / 100, k = i % 100;
	return (int64_t)(poll * 5 + k) * 60 * US + 7;
}
/* Values that are not whole seconds and gaps of every size, sign and extreme. */
static int64_t gen_odd(size_t i)
{
	static const int64_t special[] = {INT64_MIN, INT64_MAX, 0, -1, 1, INT64_MIN + 1};
	if (i % 97 < 6)
		return special[i % 97];
	return (int64_t)(next_rand() >> (next_rand() % 64));
}

static void test_agrees_with_a_reference(void)
{
	T_EQ_INT(agree(gen_minutes, 100000), 0);
	T_EQ_INT(agree(gen_reverse, 20000), 0);
	T_EQ_INT(agree(gen_random, 60000), 0);
	T_EQ_INT(agree(gen_polls, 50000), 0);
	T_EQ_INT(agree(gen_odd, 20000), 0);
}

static void test_sorted_values_are_compact(void)
{
	/* a million one-minute bars of one symbol: about a byte and a half each */
	struct keyset_budget b = {64u << 20, 0};
	struct keyset *ks = keyset_new(&b);
	for (size_t i = 0; i < 1000000; i++)
		T_CHECK(keyset_add(ks,
		                   "NVDA\0"
		                   "1min",
		                   9, 1, gen_minutes(i)) == KEYSET_NEW);
	T_EQ_INT(keyset_add(ks,
	                    "NVDA\0"
	                    "1min",
	                    9, 1, gen_minutes(4242)),
	         KEYSET_DUPLICATE);
	T_CHECK(b.used < 3u << 20);
	keyset_free(ks);
}

static void test_groups_are_exact(void)
{
	struct keyset_budget b = {1u << 20, 0};
	struct keyset *ks = keyset_new(&b);
	T_EQ_INT(keyset_add(ks, "IBM", 3, 1, 5), KEYSET_NEW);
	T_EQ_INT(keyset_add(ks, "IBMX", 4, 1, 5), KEYSET_NEW);
	T_EQ_INT(keyset_add(ks, "IBM", 3, 1, 5), KEYSET_DUPLICATE);
	T_EQ_INT(keyset_add(ks, "IBMX", 4, 1, 6), KEYSET_NEW);
	/* unordered: the group alone is the key */
	struct keyset *u = keyset_new(&b);
	char key[16];
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(key, sizeof key, "k%d", i % 2500);
		T_EQ_INT(keyset_add(u, key, (size_t)n, 0, 0),
		         i < 2500 ? KEYSET_NEW : KEYSET_DUPLICATE);
	}
	T_EQ_INT(keyset_count(u), 2500);
	keyset_clear(u);
	T_EQ_INT(keyset_add(u, "k1", 2, 0, 0), KEYSET_NEW);
	keyset_free(u);
	keyset_free(ks);
	T_EQ_INT(b.used, 0);
}

static void test_a_full_budget_gives_untracked_keys(void)
{
	struct keyset_budget b = {64u << 10, 0};
	struct keyset *ks = keyset_new(&b);
	int64_t first[100];
	size_t untracked = 0;
	for (size_t i = 0; i < 200000; i++) {
		int64_t x = (int64_t)(next_rand() % 1000000000);
		int rc = keyset_add(ks, "IBM", 3, 1, x);
		if (i < 100) {
			first[i] = x;
			T_EQ_INT(rc, KEYSET_NEW);
		}
		if (rc == KEYSET_UNTRACKED)
			untracked++;
		T_CHECK(b.used <= b.limit);
	}
	T_CHECK(untracked > 0);
	T_CHECK(keyset_overflowed(ks));
	/* keys stored before the budget ran out are still found */
	for (size_t i = 0; i < 100; i++)
		T_EQ_INT(keyset_add(ks, "IBM", 3, 1, first[i]), KEYSET_DUPLICATE);
	keyset_clear(ks);
	T_CHECK(!keyset_overflowed(ks));
	T_EQ_INT(b.used, 0);
	T_EQ_INT(keyset_add(ks, "IBM", 3, 1, first[0]), KEYSET_NEW);
	keyset_free(ks);

	/* no budget at all: nothing is stored, nothing is claimed */
	struct keyset_budget none = {0, 0};
	struct keyset *empty = keyset_new(&none);
	T_EQ_INT(keyset_add(empty, "A", 1, 1, 1), KEYSET_UNTRACKED);
	T_EQ_INT(keyset_add(empty, "A", 1, 0, 0), KEYSET_UNTRACKED);
	T_EQ_INT(keyset_count(empty), 0);
	keyset_free(empty);
}

int main(void)
{
	T_RUN(test_agrees_with_a_reference);
	T_RUN(test_sorted_values_are_compact);
	T_RUN(test_groups_are_exact);
	T_RUN(test_a_full_budget_gives_untracked_keys);
	T_DONE();
}

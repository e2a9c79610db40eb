/*
 * Unit tests for common/base/strmap.c: puts, gets, replacement, deletion
 * and iteration over thousands of keys (growth and deleted slots), room
 * made up front, the calls given a hash, and the hash itself.
 */
#include "base/strmap.h"
#include "t.h"

static void test_strmap(void)
{
	struct strmap m = STRMAP_INIT;
	static char keys[3000][16];
	for (int i = 0; i < 3000; i++) {
		snprintf(keys[i], sizeof keys[i], "k%d", i);
		T_EQ_INT(strmap_put(&m, keys[i], (void *)(intptr_t)(i + 1), NULL), 0);
	}
	T_EQ_INT(m.count, 3000);
	T_EQ_INT((intptr_t)strmap_get(&m, "k1234"), 1235);
	T_CHECK(strmap_get(&m, "k3000") == NULL);
	void *old;
	T_EQ_INT(strmap_put(&m, keys[7], (void *)(intptr_t)99, &old), 0);
	T_EQ_INT((intptr_t)old, 8);
	T_EQ_INT(m.count, 3000);
	for (int i = 0; i < 3000; i += 2)
		T_EQ_INT((intptr_t)strmap_del(&m, keys[i]), i == 0 ? 1 : i + 1);
	T_EQ_INT(m.count, 1500);
	T_CHECK(strmap_get(&m, "k2") == NULL);
	T_EQ_INT((intptr_t)strmap_get(&m, "k2999"), 3000);
	size_t it = 0, seen = 0;
	while (strmap_next(&m, &it))
		seen++;
	T_EQ_INT(seen, 1500);
	strmap_free(&m);
}

/* Room made up front: puts up to it never rebuild the table; the map stays usable past it. */
static void test_strmap_reserve(void)
{
	struct strmap m = STRMAP_INIT;
	static char keys[5000][16];
	T_EQ_INT(strmap_reserve(&m, 3000), 0);
	struct strmap_slot *slots = m.slots;
	size_t cap = m.cap;
	T_CHECK(cap * 7 > 3000 * 10);
	for (int i = 0; i < 3000; i++) {
		snprintf(keys[i], sizeof keys[i], "k%d", i);
		T_EQ_INT(strmap_put(&m, keys[i], (void *)(intptr_t)(i + 1), NULL), 0);
	}
	T_CHECK(m.slots == slots && m.cap == cap);
	/* Less than there is, or what fits already: nothing changes. */
	T_EQ_INT(strmap_reserve(&m, 10), 0);
	T_EQ_INT(strmap_reserve(&m, 3001), 0);
	T_CHECK(m.slots == slots && m.cap == cap);
	/* Deleted slots count against the room: a reserve past them rebuilds. */
	for (int i = 0; i < 1000; i++)
		strmap_del(&m, keys[i]);
	T_EQ_INT(strmap_reserve(&m, 5000), 0);
	T_EQ_INT(m.used, 2000);
	slots = m.slots;
	for (int i = 3000; i < 5000; i++) {
		snprintf(keys[i], sizeof keys[i], "k%d", i);
		T_EQ_INT(strmap_put(&m, keys[i], (void *)(intptr_t)(i + 1), NULL), 0);
	}
	T_CHECK(m.slots == slots);
	T_EQ_INT(m.count, 4000);
	for (int i = 0; i < 5000; i++)
		T_EQ_INT((intptr_t)strmap_get(&m, keys[i]), i < 1000 ? 0 : i + 1);
	strmap_free(&m);
}

/* The hashed calls are the plain ones with the hash given; an empty map has nothing to delete. */
static void test_strmap_hashed(void)
{
	struct strmap m = STRMAP_INIT;
	T_CHECK(strmap_del(&m, "a") == NULL);
	T_CHECK(strmap_del_hashed(&m, "a", strmap_hash("a", 1)) == NULL);
	const char *k = "trade_date=2024-01-02/part-00000-0123.parquet";
	uint64_t h = strmap_hash(k, strlen(k));
	T_EQ_INT(strmap_put_hashed(&m, k, h, (void *)1, NULL), 0);
	T_EQ_INT((intptr_t)strmap_get(&m, k), 1);
	void *old;
	T_EQ_INT(strmap_put(&m, k, (void *)2, &old), 0);
	T_EQ_INT((intptr_t)old, 1);
	T_EQ_INT(m.count, 1);
	T_EQ_INT((intptr_t)strmap_del_hashed(&m, k, h), 2);
	T_CHECK(strmap_get(&m, k) == NULL);
	T_EQ_INT(m.count, 0);
	strmap_free(&m);
}

/* Keys that differ in one byte anywhere, the tail of a word included, hash apart. */
static void test_strmap_hash_sees_every_byte(void)
{
	char a[40], b[40];
	for (size_t n = 1; n <= sizeof a; n++)
		for (size_t i = 0; i < n; i++) {
			memset(a, 'x', n);
			memcpy(b, a, n);
			b[i] = 'y';
			T_CHECK(strmap_hash(a, n) != strmap_hash(b, n));
			T_CHECK(n == 1 || strmap_hash(a, n) != strmap_hash(a, n - 1));
		}
	T_CHECK(strmap_hash("", 0) != strmap_hash("\0", 1));
}

int main(void)
{
	T_RUN(test_strmap);
	T_RUN(test_strmap_reserve);
	T_RUN(test_strmap_hashed);
	T_RUN(test_strmap_hash_sees_every_byte);
	T_DONE();
}

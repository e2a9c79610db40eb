/*
 * Unit tests for common/base/strmap.c: puts, gets, replacement, deletion
 * and iteration over thousands of keys (growth and deleted slots).
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

int main(void)
{
	T_RUN(test_strmap);
	T_DONE();
}

/*
 * strmap: a hash map from NUL-terminated strings to pointers.
 *
 * Open addressing with linear probing, a word-at-a-time multiplicative
 * hash, grown at 70% load.
 * The map does not own keys or values: callers keep them alive (typically
 * the key is a field of the value) and free them themselves.
 */
#ifndef STOCKETL_STRMAP_H
#define STOCKETL_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap_slot {
	const char *key;
	void *value;
	uint64_t hash;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap;   /* a power of two, or 0 */
	size_t count; /* live entries */
	size_t used;  /* live entries plus deleted markers */
};

#define STRMAP_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0, 0                                                                      \
	}

uint64_t strmap_hash(const char *s, size_t n);
void *strmap_get(const struct strmap *m, const char *key);
/* Insert or replace; *old (if not NULL) gets the previous value or NULL. 0, or -1 out of memory. */
int strmap_put(struct strmap *m, const char *key, void *value, void **old);
/* Remove key; returns its value or NULL. */
void *strmap_del(struct strmap *m, const char *key);
/*
 * The same two with the key's hash given (strmap_hash() of its bytes), for
 * callers that move one key between maps and would hash it twice.
 */
int strmap_put_hashed(struct strmap *m, const char *key, uint64_t hash, void *value, void **old);
void *strmap_del_hashed(struct strmap *m, const char *key, uint64_t hash);
/*
 * Make room for n live entries in all, so that putting them does not grow
 * (rehash) the table on the way: 0, or -1 out of memory (the map unchanged).
 */
int strmap_reserve(struct strmap *m, size_t n);
void strmap_free(struct strmap *m);
/* Iterate: start with i = 0; returns the next live slot or NULL at the end. */
struct strmap_slot *strmap_next(const struct strmap *m, size_t *i);

#endif

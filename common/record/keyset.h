/*
 * keyset: an exact set of keys in bounded memory, for counting duplicates
 * over long streams whose keys arrive mostly in order.
 *
 * A key is a group (any bytes: the symbol, the interval...) and optionally
 * an ordered 64-bit value (a timestamp).  Groups are kept exactly in a hash
 * table.  Each group's ordered values are kept as sorted runs of
 * delta-encoded varints: values that arrive in increasing order, as each
 * symbol's bars do in a tick stream, are appended at one to three bytes
 * each and never need a lookup; a value that arrives out of order is looked
 * up in the runs that span it (binary search over a sparse index, then a
 * short decode) and starts a new run.  Runs of similar size are merged, so
 * a group never has more than about log2(n) of them, whatever the order.
 *
 * Memory is bounded by the budget given at creation (shared by every set
 * built on the same budget).  When a key would need memory past it, the set
 * stops storing new keys: keyset_add() then still finds duplicates of the
 * keys already stored, but reports a key it cannot store as KEYSET_UNTRACKED,
 * and the caller knows its count has become a lower bound.
 *
 * Ownership: the set copies the group bytes it keeps; callers own nothing
 * of it and free it with keyset_free().
 */
#ifndef STOCKETL_KEYSET_H
#define STOCKETL_KEYSET_H

#include <stddef.h>
#include <stdint.h>

/* A memory budget in bytes that one or more sets draw from. */
struct keyset_budget {
	size_t limit;
	size_t used;
};

enum keyset_result { KEYSET_NEW = 0, KEYSET_DUPLICATE = 1, KEYSET_UNTRACKED = 2 };

#define KEYSET_GROUP_MAX 255 /* longest group key, bytes */

struct keyset;

/* An empty set drawing on budget b (which must outlive it); NULL if out of memory. */
struct keyset *keyset_new(struct keyset_budget *b);
/* Forget every key and give the memory back to the budget. */
void keyset_clear(struct keyset *ks);
void keyset_free(struct keyset *ks);

/*
 * Add the key (group[0..glen), value) (ordered: the value is part of the
 * key; !ordered: the group alone is the key and value is ignored).  glen is
 * at most KEYSET_GROUP_MAX.  Returns a keyset_result.
 */
int keyset_add(struct keyset *ks, const void *group, size_t glen, int ordered, int64_t value);

/* Did the set ever refuse to store a key since it was last cleared? */
int keyset_overflowed(const struct keyset *ks);
/* Distinct keys stored. */
uint64_t keyset_count(const struct keyset *ks);

#endif

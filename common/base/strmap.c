/*
 * strmap: deleted slots keep a marker (key == STRMAP_DELETED) so that probe
 * chains stay intact; they are dropped when the table is rebuilt.
 */
#include "base/strmap.h"

#include <stdlib.h>
#include <string.h>

static const char strmap_deleted_marker;
#define STRMAP_DELETED (&strmap_deleted_marker)

/*
 * Eight bytes at a time, each word mixed in by a multiply (a byte-wise hash
 * cost a replay of a large table's paths as much as the rest of its map
 * work), then the bits avalanched; the tail is read as a zero-padded word.
 */
uint64_t strmap_hash(const char *s, size_t n)
{
	const uint64_t k = 0x9e3779b97f4a7c15ULL;
	uint64_t h = k ^ n, w;
	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * k;
		h ^= h >> 32;
	}
	w = 0;
	if (n)
		memcpy(&w, s, n);
	h = (h ^ w) * 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static struct strmap_slot *strmap_find(const struct strmap *m, const char *key, uint64_t h)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct strmap_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != STRMAP_DELETED && s->hash == h && strcmp(s->key, key) == 0)
			return s;
	}
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_slot *s = strmap_find(m, key, strmap_hash(key, strlen(key)));
	return s ? s->value : NULL;
}

/* Rebuild the table for at least want live entries (deleted markers dropped). */
static int strmap_rebuild(struct strmap *m, size_t want)
{
	size_t cap = m->cap ? m->cap : 16;
	while (want * 10 >= cap * 5)
		cap *= 2;
	struct strmap_slot *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		struct strmap_slot *s = &m->slots[i];
		if (!s->key || s->key == STRMAP_DELETED)
			continue;
		size_t j = s->hash & (cap - 1);
		while (slots[j].key)
			j = (j + 1) & (cap - 1);
		slots[j] = *s;
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	m->used = m->count;
	return 0;
}

static int strmap_grow(struct strmap *m)
{
	return strmap_rebuild(m, m->count);
}

int strmap_reserve(struct strmap *m, size_t n)
{
	/* strmap_put() grows when used (live and deleted) + 1 reaches 70% of the slots. */
	if (n <= m->count || (m->used + (n - m->count) + 1) * 10 < m->cap * 7)
		return 0;
	return strmap_rebuild(m, n);
}

int strmap_put(struct strmap *m, const char *key, void *value, void **old)
{
	return strmap_put_hashed(m, key, strmap_hash(key, strlen(key)), value, old);
}

int strmap_put_hashed(struct strmap *m, const char *key, uint64_t h, void *value, void **old)
{
	struct strmap_slot *s = strmap_find(m, key, h);
	if (s) {
		if (old)
			*old = s->value;
		s->key = key;
		s->value = value;
		return 0;
	}
	if (old)
		*old = NULL;
	if ((m->used + 1) * 10 >= m->cap * 7 && strmap_grow(m) < 0)
		return -1;
	size_t mask = m->cap - 1;
	size_t i = h & mask;
	while (m->slots[i].key && m->slots[i].key != STRMAP_DELETED)
		i = (i + 1) & mask;
	if (!m->slots[i].key)
		m->used++;
	m->slots[i].key = key;
	m->slots[i].value = value;
	m->slots[i].hash = h;
	m->count++;
	return 0;
}

void *strmap_del(struct strmap *m, const char *key)
{
	/* An empty map (the tombstones, most of a replay) spares the hash. */
	if (!m->count)
		return NULL;
	return strmap_del_hashed(m, key, strmap_hash(key, strlen(key)));
}

void *strmap_del_hashed(struct strmap *m, const char *key, uint64_t h)
{
	struct strmap_slot *s = m->count ? strmap_find(m, key, h) : NULL;
	if (!s)
		return NULL;
	void *v = s->value;
	s->key = STRMAP_DELETED;
	s->value = NULL;
	m->count--;
	return v;
}

void strmap_free(struct strmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->count = m->used = 0;
}

struct strmap_slot *strmap_next(const struct strmap *m, size_t *i)
{
	while (*i < m->cap) {
		struct strmap_slot *s = &m->slots[(*i)++];
		if (s->key && s->key != STRMAP_DELETED)
			return s;
	}
	return NULL;
}

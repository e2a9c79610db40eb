/*
 * strmap: deleted slots keep a marker (key == STRMAP_DELETED) so that probe
 * chains stay intact; they are dropped when the table is rebuilt.
 */
#include "base/strmap.h"

#include <stdlib.h>
#include <string.h>

static const char strmap_deleted_marker;
#define STRMAP_DELETED (&strmap_deleted_marker)

uint64_t strmap_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
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

static int strmap_grow(struct strmap *m)
{
	size_t cap = m->cap ? m->cap : 16;
	while (m->count * 10 >= cap * 5)
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

int strmap_put(struct strmap *m, const char *key, void *value, void **old)
{
	uint64_t h = strmap_hash(key, strlen(key));
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
	struct strmap_slot *s = strmap_find(m, key, strmap_hash(key, strlen(key)));
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

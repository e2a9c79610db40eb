/*
 * keyset: groups in an open-addressing table (FNV-1a hashes, the key bytes
 * kept for an exact comparison), and per group a list of sorted runs.
 *
 * A run is its first value, then the gaps to each next value as varints: a
 * gap that is a whole number of seconds (when values are microseconds) is
 * stored in seconds, so one-minute bars cost one byte each.  Every 32nd
 * value is also written to a sparse index (value, offset), so a lookup is a
 * binary search and at most 31 decodes.  The last run is open and takes the
 * values that arrive above its end; a value below it that is not in any run
 * closes it and opens a new one.  Closed runs are merged while the newest is
 * at least as long as the one before it (a binary counter), which bounds
 * their number by log2 of the group's size.  Runs, their bytes and their
 * index entries are stored in order, so the two runs a merge joins are
 * always the last two and the merge rewrites only the tail.
 */
#include "record/keyset.h"

#include <stdlib.h>
#include <string.h>

#define KS_INDEX_EVERY 32
#define KS_ESCAPE      1u /* a code for a gap too large to double: 8 raw bytes follow */
#define KS_SECOND      1000000u

struct ks_run {
	int64_t lo, hi;
	uint64_t n;
	size_t off, len;   /* its gap bytes in data */
	size_t ioff, ilen; /* its entries in idx */
};

struct ks_idx {
	int64_t value;
	size_t off; /* where the gaps after this value start */
};

struct ks_ord {
	struct ks_run *runs; /* runs[nruns - 1] is the open one */
	size_t nruns, capruns;
	unsigned char *data;
	size_t len, cap;
	struct ks_idx *idx;
	size_t ilen, icap;
	int64_t closed_hi; /* the largest value of any closed run */
	int has_closed;
};

struct ks_slot {
	uint64_t hash;
	size_t keyoff;
	uint32_t ord; /* index in ords, or UINT32_MAX */
	uint16_t keylen;
	uint16_t used;
};

struct keyset {
	struct keyset_budget *budget;
	size_t held; /* bytes of the budget this set holds */
	struct ks_slot *slots;
	size_t nslots, ngroups;
	unsigned char *keys;
	size_t keylen, keycap;
	struct ks_ord *ords;
	size_t nords, capords;
	size_t last; /* slot of the previous key's group, or SIZE_MAX */
	uint64_t count;
	int overflowed;
};

/* Memory ---------------------------------------------------------------------- */

/*
 * Grow *p (an array of elem-byte items, capacity *cap) to hold at least
 * need items, drawing the difference from the budget.  Returns 0, or -1
 * (nothing changed) when the budget or the allocator says no.
 */
static int ks_grow(struct keyset *ks, void **p, size_t *cap, size_t elem, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 8;
	while (ncap < need)
		ncap *= 2;
	size_t more = (ncap - *cap) * elem;
	if (ks->budget->used + more > ks->budget->limit)
		return -1;
	void *q = realloc(*p, ncap * elem);
	if (!q)
		return -1;
	*p = q;
	*cap = ncap;
	ks->budget->used += more;
	ks->held += more;
	return 0;
}

static void ks_ord_free(struct ks_ord *o)
{
	free(o->runs);
	free(o->data);
	free(o->idx);
}

struct keyset *keyset_new(struct keyset_budget *b)
{
	struct keyset *ks = calloc(1, sizeof *ks);
	if (!ks)
		return NULL;
	ks->budget = b;
	ks->last = SIZE_MAX;
	return ks;
}

void keyset_clear(struct keyset *ks)
{
	for (size_t i = 0; i < ks->nords; i++)
		ks_ord_free(&ks->ords[i]);
	free(ks->ords);
	free(ks->slots);
	free(ks->keys);
	ks->budget->used -= ks->held;
	struct keyset_budget *b = ks->budget;
	memset(ks, 0, sizeof *ks);
	ks->budget = b;
	ks->last = SIZE_MAX;
}

void keyset_free(struct keyset *ks)
{
	if (!ks)
		return;
	keyset_clear(ks);
	free(ks);
}

int keyset_overflowed(const struct keyset *ks)
{
	return ks->overflowed;
}

uint64_t keyset_count(const struct keyset *ks)
{
	return ks->count;
}

/* Groups ------------------------------------------------------------------------ */

static uint64_t ks_hash(const unsigned char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

static int ks_rehash(struct keyset *ks)
{
	size_t n = ks->nslots ? ks->nslots * 2 : 64;
	size_t bytes = n * sizeof(struct ks_slot);
	if (ks->budget->used + bytes > ks->budget->limit)
		return -1;
	struct ks_slot *s = calloc(n, sizeof *s);
	if (!s)
		return -1;
	for (size_t i = 0; i < ks->nslots; i++) {
		if (!ks->slots[i].used)
			continue;
		size_t j = ks->slots[i].hash & (n - 1);
		while (s[j].used)
			j = (j + 1) & (n - 1);
		s[j] = ks->slots[i];
	}
	size_t old = ks->nslots * sizeof(struct ks_slot);
	free(ks->slots);
	ks->slots = s;
	ks->nslots = n;
	ks->budget->used += bytes - old;
	ks->held += bytes - old;
	ks->last = SIZE_MAX;
	return 0;
}

/*
 * The slot of the group, or SIZE_MAX when it is not there; *created says
 * whether it was added now.  Adding fails (SIZE_MAX) when memory is out.
 */
static size_t ks_group(struct keyset *ks, const unsigned char *g, size_t glen, int *created)
{
	*created = 0;
	if (ks->last != SIZE_MAX) {
		const struct ks_slot *s = &ks->slots[ks->last];
		if (s->keylen == glen && memcmp(ks->keys + s->keyoff, g, glen) == 0)
			return ks->last;
	}
	uint64_t h = ks_hash(g, glen);
	if (ks->nslots) {
		size_t j = h & (ks->nslots - 1);
		for (; ks->slots[j].used; j = (j + 1) & (ks->nslots - 1)) {
			const struct ks_slot *s = &ks->slots[j];
			if (s->hash == h && s->keylen == glen &&
			    memcmp(ks->keys + s->keyoff, g, glen) == 0)
				return ks->last = j;
		}
	}
	if ((ks->ngroups + 1) * 2 > ks->nslots && ks_rehash(ks) < 0)
		return SIZE_MAX;
	if (ks_grow(ks, (void **)&ks->keys, &ks->keycap, 1, ks->keylen + glen) < 0)
		return SIZE_MAX;
	size_t j = h & (ks->nslots - 1);
	while (ks->slots[j].used)
		j = (j + 1) & (ks->nslots - 1);
	struct ks_slot *s = &ks->slots[j];
	s->hash = h;
	s->keyoff = ks->keylen;
	s->keylen = (uint16_t)glen;
	s->used = 1;
	s->ord = UINT32_MAX;
	memcpy(ks->keys + ks->keylen, g, glen);
	ks->keylen += glen;
	ks->ngroups++;
	*created = 1;
	return ks->last = j;
}

/* Gap codes ---------------------------------------------------------------------- */

/* Encode the gap d (> 0) at p (room for 11 bytes); returns the bytes used. */
static size_t ks_put_gap(unsigned char *p, uint64_t d)
{
	uint64_t code;
	size_t n = 0;
	if (d % KS_SECOND == 0)
		code = d / KS_SECOND << 1;
	else if (d < (UINT64_C(1) << 62))
		code = d << 1 | 1;
	else {
		p[n++] = KS_ESCAPE;
		for (int i = 0; i < 8; i++)
			p[n++] = (unsigned char)(d >> (8 * i));
		return n;
	}
	while (code >= 0x80) {
		p[n++] = (unsigned char)(code | 0x80);
		code >>= 7;
	}
	p[n++] = (unsigned char)code;
	return n;
}

/* Decode the gap at *off and advance it. */
static uint64_t ks_get_gap(const unsigned char *data, size_t *off)
{
	size_t i = *off;
	uint64_t code = 0;
	int shift = 0;
	for (;;) {
		unsigned char c = data[i++];
		code |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			break;
		shift += 7;
	}
	if (code == KS_ESCAPE) {
		uint64_t d = 0;
		for (int k = 0; k < 8; k++)
			d |= (uint64_t)data[i++] << (8 * k);
		*off = i;
		return d;
	}
	*off = i;
	return code & 1 ? code >> 1 : (code >> 1) * KS_SECOND;
}

/* Runs ---------------------------------------------------------------------------- */

/* Is x (lo <= x <= hi) in run r? */
static int ks_in_run(const struct ks_ord *o, const struct ks_run *r, int64_t x)
{
	if (x == r->lo || x == r->hi)
		return 1;
	int64_t cur = r->lo;
	size_t off = r->off, end = r->off + r->len;
	size_t a = r->ioff, b = r->ioff + r->ilen; /* the last entry <= x is before b */
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (o->idx[m].value <= x)
			a = m + 1;
		else
			b = m;
	}
	if (a > r->ioff) {
		cur = o->idx[a - 1].value;
		off = o->idx[a - 1].off;
	}
	while (cur < x && off < end)
		cur = (int64_t)((uint64_t)cur + ks_get_gap(o->data, &off));
	return cur == x;
}

static int ks_in_closed(const struct ks_ord *o, int64_t x)
{
	if (!o->has_closed || x > o->closed_hi)
		return 0;
	for (size_t i = 0; i + 1 < o->nruns; i++) {
		const struct ks_run *r = &o->runs[i];
		if (x >= r->lo && x <= r->hi && ks_in_run(o, r, x))
			return 1;
	}
	return 0;
}

/* Append x (above its end) to the open run r. */
static int ks_append(struct keyset *ks, struct ks_ord *o, struct ks_run *r, int64_t x)
{
	if (ks_grow(ks, (void **)&o->data, &o->cap, 1, o->len + 11) < 0)
		return -1;
	if (r->n % KS_INDEX_EVERY == 0 &&
	    ks_grow(ks, (void **)&o->idx, &o->icap, sizeof *o->idx, o->ilen + 1) < 0)
		return -1;
	o->len += ks_put_gap(o->data + o->len, (uint64_t)x - (uint64_t)r->hi);
	r->len = o->len - r->off;
	r->hi = x;
	if (r->n % KS_INDEX_EVERY == 0) {
		o->idx[o->ilen].value = x;
		o->idx[o->ilen].off = o->len;
		o->ilen++;
		r->ilen++;
	}
	r->n++;
	return 0;
}

/* A reader of one run's values in order. */
struct ks_cursor {
	int64_t cur;
	size_t off, end;
	uint64_t left; /* values not yet returned, cur included */
};

static void ks_cursor_init(struct ks_cursor *c, const struct ks_run *r)
{
	c->cur = r->lo;
	c->off = r->off;
	c->end = r->off + r->len;
	c->left = r->n;
}

static void ks_cursor_next(struct ks_cursor *c, const unsigned char *data)
{
	if (--c->left > 0)
		c->cur = (int64_t)((uint64_t)c->cur + ks_get_gap(data, &c->off));
}

/*
 * Merge the last two (closed) runs into one.  The result is built in a
 * scratch buffer, then copied over the tail.  Returns -1, leaving both runs
 * as they were, when memory is short.
 */
static int ks_merge_last(struct keyset *ks, struct ks_ord *o)
{
	struct ks_run *a = &o->runs[o->nruns - 2], *b = &o->runs[o->nruns - 1];
	/* Gaps may grow when runs interleave, so the scratch bytes grow as needed. */
	size_t cap = a->len + b->len + 32, len = 0, nix = 0;
	size_t entries = (size_t)((a->n + b->n) / KS_INDEX_EVERY + 1);
	size_t scratch = cap + entries * sizeof(struct ks_idx);
	unsigned char *buf = NULL;
	struct ks_idx *ix = NULL;
	int rc = -1;
	if (ks->budget->used + scratch > ks->budget->limit)
		return -1;
	ks->budget->used += scratch;
	buf = malloc(cap);
	ix = malloc(entries * sizeof *ix);
	if (!buf || !ix)
		goto out;
	struct ks_cursor ca, cb;
	ks_cursor_init(&ca, a);
	ks_cursor_init(&cb, b);
	struct ks_run m = {0};
	while (ca.left || cb.left) {
		int64_t x;
		if (!cb.left || (ca.left && ca.cur <= cb.cur)) {
			x = ca.cur;
			if (cb.left && cb.cur == x)
				ks_cursor_next(&cb, o->data);
			ks_cursor_next(&ca, o->data);
		} else {
			x = cb.cur;
			ks_cursor_next(&cb, o->data);
		}
		if (m.n == 0) {
			m.lo = x;
		} else {
			if (len + 11 > cap) {
				if (ks->budget->used + cap > ks->budget->limit)
					goto out;
				unsigned char *nb = realloc(buf, cap * 2);
				if (!nb)
					goto out;
				buf = nb;
				ks->budget->used += cap;
				scratch += cap;
				cap *= 2;
			}
			len += ks_put_gap(buf + len, (uint64_t)x - (uint64_t)m.hi);
			if (m.n % KS_INDEX_EVERY == 0) {
				ix[nix].value = x;
				ix[nix].off = a->off + len;
				nix++;
			}
		}
		m.hi = x;
		m.n++;
	}
	if (ks_grow(ks, (void **)&o->data, &o->cap, 1, a->off + len) == 0 &&
	    ks_grow(ks, (void **)&o->idx, &o->icap, sizeof *o->idx, a->ioff + nix) == 0) {
		/* Two one-value runs merge into no gap bytes and no index: nothing to copy. */
		if (len)
			memcpy(o->data + a->off, buf, len);
		if (nix)
			memcpy(o->idx + a->ioff, ix, nix * sizeof *ix);
		m.off = a->off;
		m.len = len;
		m.ioff = a->ioff;
		m.ilen = nix;
		o->len = a->off + len;
		o->ilen = a->ioff + nix;
		*a = m;
		o->nruns--;
		rc = 0;
	}
out:
	free(buf);
	free(ix);
	ks->budget->used -= scratch;
	return rc;
}

/* Start a run holding only x after the existing ones. */
static int ks_new_run(struct keyset *ks, struct ks_ord *o, int64_t x)
{
	if (ks_grow(ks, (void **)&o->runs, &o->capruns, sizeof *o->runs, o->nruns + 1) < 0)
		return -1;
	if (o->nruns > 0) {
		/* The open run is closed; merge while the newest is not shorter. */
		const struct ks_run *open = &o->runs[o->nruns - 1];
		if (!o->has_closed || open->hi > o->closed_hi)
			o->closed_hi = open->hi;
		o->has_closed = 1;
		while (o->nruns >= 2 && o->runs[o->nruns - 1].n >= o->runs[o->nruns - 2].n)
			if (ks_merge_last(ks, o) < 0)
				break;
	}
	struct ks_run *r = &o->runs[o->nruns++];
	memset(r, 0, sizeof *r);
	r->lo = r->hi = x;
	r->n = 1;
	r->off = o->len;
	r->ioff = o->ilen;
	return 0;
}

static int ks_add_ordered(struct keyset *ks, struct ks_slot *s, int64_t x)
{
	if (s->ord == UINT32_MAX) {
		if (ks_grow(ks, (void **)&ks->ords, &ks->capords, sizeof *ks->ords, ks->nords + 1) <
		    0)
			return KEYSET_UNTRACKED;
		memset(&ks->ords[ks->nords], 0, sizeof *ks->ords);
		s->ord = (uint32_t)ks->nords++;
	}
	struct ks_ord *o = &ks->ords[s->ord];
	if (o->nruns == 0)
		return ks_new_run(ks, o, x) < 0 ? KEYSET_UNTRACKED : KEYSET_NEW;
	struct ks_run *open = &o->runs[o->nruns - 1];
	if (x > open->hi) {
		/* The usual case: the next value of an increasing sequence. */
		if (ks_in_closed(o, x))
			return KEYSET_DUPLICATE;
		return ks_append(ks, o, open, x) < 0 ? KEYSET_UNTRACKED : KEYSET_NEW;
	}
	if (x >= open->lo && ks_in_run(o, open, x))
		return KEYSET_DUPLICATE;
	if (ks_in_closed(o, x))
		return KEYSET_DUPLICATE;
	return ks_new_run(ks, o, x) < 0 ? KEYSET_UNTRACKED : KEYSET_NEW;
}

int keyset_add(struct keyset *ks, const void *group, size_t glen, int ordered, int64_t value)
{
	int created;
	if (glen > KEYSET_GROUP_MAX)
		glen = KEYSET_GROUP_MAX;
	size_t j = ks_group(ks, group, glen, &created);
	int rc;
	if (j == SIZE_MAX)
		rc = KEYSET_UNTRACKED;
	else if (!ordered)
		rc = created ? KEYSET_NEW : KEYSET_DUPLICATE;
	else
		rc = ks_add_ordered(ks, &ks->slots[j], value);
	if (rc == KEYSET_NEW)
		ks->count++;
	else if (rc == KEYSET_UNTRACKED)
		ks->overflowed = 1;
	return rc;
}

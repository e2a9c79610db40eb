/*
 * pq_buf: the growable byte buffer of the Parquet codec.
 *
 * Encoders append to it in tight loops, so the fast path (room already
 * there) is inline and the slow path (pq_buf_grow) is out of line.  The
 * buffer owns its memory; pq_buf_free() releases it and leaves an empty
 * buffer that can be used again.  Growth fails cleanly (-1, nothing
 * changed) on overflow or when malloc fails, and PQ_BUF_MAX bounds any
 * single buffer so that a size computed from bad input cannot wrap.
 */
#ifndef STOCKETL_PQ_BUF_H
#define STOCKETL_PQ_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PQ_BUF_MAX ((size_t)1 << 40)

struct pq_buf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

#define PQ_BUF_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* A byte string that points into memory owned by someone else. */
struct pq_bytes {
	const uint8_t *p;
	size_t len;
};

/* Make the capacity at least len + n; -1 when that is impossible. */
int pq_buf_grow(struct pq_buf *b, size_t n);
void pq_buf_free(struct pq_buf *b);

static inline int pq_buf_reserve(struct pq_buf *b, size_t n)
{
	return b->cap - b->len >= n ? 0 : pq_buf_grow(b, n);
}

static inline int pq_buf_put(struct pq_buf *b, const void *p, size_t n)
{
	if (pq_buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static inline int pq_buf_byte(struct pq_buf *b, uint8_t c)
{
	if (pq_buf_reserve(b, 1) < 0)
		return -1;
	b->p[b->len++] = c;
	return 0;
}

/* Unsigned LEB128, at most 10 bytes. */
static inline size_t pq_uleb_put(uint8_t *out, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

static inline int pq_buf_uleb(struct pq_buf *b, uint64_t v)
{
	if (pq_buf_reserve(b, 10) < 0)
		return -1;
	b->len += pq_uleb_put(b->p + b->len, v);
	return 0;
}

static inline uint64_t pq_zigzag(int64_t v)
{
	uint64_t u = (uint64_t)v;
	return (u << 1) ^ (0 - (u >> 63));
}

static inline int64_t pq_unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline void pq_store32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t pq_load32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t pq_load64(const uint8_t *p)
{
	return (uint64_t)pq_load32(p) | (uint64_t)pq_load32(p + 4) << 32;
}

static inline void pq_store64(uint8_t *p, uint64_t v)
{
	pq_store32(p, (uint32_t)v);
	pq_store32(p + 4, (uint32_t)(v >> 32));
}

static inline int pq_buf_u32le(struct pq_buf *b, uint32_t v)
{
	if (pq_buf_reserve(b, 4) < 0)
		return -1;
	pq_store32(b->p + b->len, v);
	b->len += 4;
	return 0;
}

#endif

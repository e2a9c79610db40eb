/*
 * record_internal: what stream.c and tick.c share and nobody else sees:
 * little-endian access to the bytes of binary frames, and the reader of
 * JSON integer text that batch markers and tick records both use.
 *
 * The accessors are written out byte by byte (no loops) so that the
 * compiler turns each into a single load or store on little-endian
 * machines: frames are the hot path of binary streams.
 */
#ifndef STOCKETL_RECORD_INTERNAL_H
#define STOCKETL_RECORD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

static inline void rec_put_le16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static inline void rec_put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static inline void rec_put_le64(unsigned char *p, int64_t v)
{
	uint64_t u = (uint64_t)v;
	p[0] = (unsigned char)u;
	p[1] = (unsigned char)(u >> 8);
	p[2] = (unsigned char)(u >> 16);
	p[3] = (unsigned char)(u >> 24);
	p[4] = (unsigned char)(u >> 32);
	p[5] = (unsigned char)(u >> 40);
	p[6] = (unsigned char)(u >> 48);
	p[7] = (unsigned char)(u >> 56);
}

static inline uint16_t rec_get_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t rec_get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline int64_t rec_get_le64(const unsigned char *p)
{
	return (int64_t)((uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	                 (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	                 (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56);
}

/*
 * A 64-bit integer from its decimal text s[0..n): an optional '-' and
 * digits, nothing else (no '+', no fraction, no exponent, no blanks).
 * *ok is 1 when the text is such an integer in range, else 0.
 */
int64_t rec_parse_i64(const char *s, size_t n, int *ok);

#endif

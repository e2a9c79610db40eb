/*
 * pq_enc: the Parquet value and level encodings, as pure functions over
 * arrays.
 *
 * Encoders append to a pq_buf and return 0, or -1 when memory runs out.
 * Decoders read a byte range they never step outside of and produce exactly
 * the number of values the caller expects; anything else (truncated data, a
 * bit width out of range, counts that disagree) returns -1 with *why set to
 * a static text for the caller's error message.  Decoders that return byte
 * strings give pointers into the input (or into a caller-owned pq_buf for
 * DELTA_BYTE_ARRAY, whose values must be rebuilt).
 *
 * Layouts follow parquet-format's Encodings.md: bit packing is LSB first;
 * the RLE/bit-packing hybrid has ULEB128 run headers (low bit 0 = repeated
 * run, 1 = bit-packed run of groups of 8); DELTA_BINARY_PACKED uses blocks
 * of 128 values in 4 miniblocks of 32.
 */
#ifndef STOCKETL_PQ_ENC_H
#define STOCKETL_PQ_ENC_H

#include <stddef.h>
#include <stdint.h>

#include "parquet/pq_buf.h"

/* Bits needed to hold v (0 for 0). */
static inline int pq_bit_width(uint64_t v)
{
	return v ? 64 - __builtin_clzll(v) : 0;
}

/*
 * Bit packing of n values of width w (0..64, 0..32 for the 32-bit forms),
 * LSB first: out receives exactly (n * w + 7) / 8 bytes.  Values wider
 * than w are masked.  The unpackers read from in, where avail bytes (at
 * least (n * w + 7) / 8) may be read: the more, the fewer values take the
 * slow path near the end.
 */
void pq_bitpack64(uint8_t *out, const uint64_t *v, size_t n, int w);
void pq_bitpack32(uint8_t *out, const uint32_t *v, size_t n, int w);
void pq_bitunpack64(const uint8_t *in, size_t avail, uint64_t *out, size_t n, int w);
void pq_bitunpack32(const uint8_t *in, size_t avail, uint32_t *out, size_t n, int w);

/*
 * The RLE/bit-packing hybrid of n values of width w (0..32; 0..16 for
 * levels), without any length prefix.
 */
int pq_rle_encode32(struct pq_buf *b, const uint32_t *v, size_t n, int w);
int pq_rle_encode16(struct pq_buf *b, const uint16_t *v, size_t n, int w);
/* Decode exactly n values; data after them (run padding) is ignored. */
int pq_rle_decode32(const uint8_t *p, size_t len, int w, uint32_t *out, size_t n, const char **why);
int pq_rle_decode16(const uint8_t *p, size_t len, int w, uint16_t *out, size_t n, const char **why);
/* The deprecated BIT_PACKED level encoding: MSB first, no runs. */
int pq_bitpacked_legacy_decode16(const uint8_t *p, size_t len, int w, uint16_t *out, size_t n,
                                 const char **why);

/*
 * DELTA_BINARY_PACKED.  Arithmetic wraps (mod 2^64, or 2^32 for the 32-bit
 * forms), so any values round-trip.  The decoders require the header's
 * count to equal n, and store in *used the bytes the encoding took.
 */
int pq_dbp_encode64(struct pq_buf *b, const int64_t *v, size_t n);
int pq_dbp_encode32(struct pq_buf *b, const int32_t *v, size_t n);
int pq_dbp_decode64(const uint8_t *p, size_t len, int64_t *out, size_t n, size_t *used,
                    const char **why);
int pq_dbp_decode32(const uint8_t *p, size_t len, int32_t *out, size_t n, size_t *used,
                    const char **why);
/* The same, widened to 128 bits (decimals): from 32-bit values when is32. */
int pq_dbp_decode_wide(const uint8_t *p, size_t len, __int128 *out, int is32, size_t n,
                       size_t *used, const char **why);

/*
 * DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY of n strings.  The
 * DELTA_BYTE_ARRAY decoder rebuilds values into out (reset first), refusing
 * to produce more than max bytes; the strings then point into out.
 */
int pq_dlba_encode(struct pq_buf *b, const struct pq_bytes *v, size_t n);
int pq_dba_encode(struct pq_buf *b, const struct pq_bytes *v, size_t n);
int pq_dlba_decode(const uint8_t *p, size_t len, struct pq_bytes *v, size_t n, size_t *used,
                   const char **why);
int pq_dba_decode(const uint8_t *p, size_t len, struct pq_bytes *v, size_t n, struct pq_buf *out,
                  size_t max, const char **why);

/* BYTE_STREAM_SPLIT of n values of k bytes each (in and out hold n * k bytes). */
void pq_bss_encode(uint8_t *out, const uint8_t *in, size_t n, size_t k);
void pq_bss_decode(uint8_t *out, const uint8_t *in, size_t n, size_t k);

/* Read one ULEB128 value at *p (< end), advancing *p; -1 if truncated or too long. */
int pq_uleb_get(const uint8_t **p, const uint8_t *end, uint64_t *v);

#endif

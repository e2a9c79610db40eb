/*
 * pq_codec: page compression for Parquet (ZSTD, SNAPPY, GZIP, none; LZ4 and
 * LZ4_RAW decompressed only), and the CRC-32 that page headers carry.
 *
 * A struct pq_codec holds the reusable compression and decompression
 * contexts, so a writer or reader makes one and compresses every page with
 * it.  Decompression must yield exactly the size the page header declared;
 * anything else is an error, as it is for every other Parquet reader.
 */
#ifndef STOCKETL_PQ_CODEC_H
#define STOCKETL_PQ_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "parquet/pq_buf.h"

/* The CompressionCodec values of parquet.thrift. */
enum pq_compression {
	PQ_UNCOMPRESSED = 0,
	PQ_SNAPPY = 1,
	PQ_GZIP = 2,
	PQ_LZO = 3,
	PQ_BROTLI = 4,
	PQ_LZ4 = 5,
	PQ_ZSTD = 6,
	PQ_LZ4_RAW = 7,
};

struct pq_codec;

struct pq_codec *pq_codec_new(void);
void pq_codec_free(struct pq_codec *c);
/* The codec's name as parquet.thrift spells it, or NULL when unknown. */
const char *pq_codec_name(int codec);
/* 1 when pq_decompress() can handle the codec, 0 otherwise. */
int pq_codec_supported(int codec);
/*
 * Append the compressed form of src[0..n) to out.  level is the ZSTD level
 * (ignored by the others).  -1 with *why set on failure.
 */
int pq_compress(struct pq_codec *c, int codec, int level, const uint8_t *src, size_t n,
                struct pq_buf *out, const char **why);
/* Decompress src[0..n) into dst, which must come out exactly dn bytes long. */
int pq_decompress(struct pq_codec *c, int codec, const uint8_t *src, size_t n, uint8_t *dst,
                  size_t dn, const char **why);
/*
 * The size src[0..n) decompresses to, as the compressed data itself states
 * it (ZSTD frame headers, Snappy's preamble), without decompressing: 1 with
 * *size set, 0 when the data does not state it, -1 with *why set when the
 * data is malformed.  pq_decompress() to that size succeeds on data that
 * is as it was written.
 */
int pq_decompressed_size(int codec, const uint8_t *src, size_t n, size_t *size, const char **why);
/*
 * The CRC-32 of p[0..n), continuing crc (0 to start): the checksum of gzip
 * and zlib (polynomial 0x04C11DB7), which parquet.thrift prescribes for
 * PageHeader.crc.
 */
uint32_t pq_crc32(uint32_t crc, const uint8_t *p, size_t n);

#endif

/*
 * pq_codec: page compression (see pq_codec.h).
 *
 * ZSTD pages are bare frames (possibly several back to back), SNAPPY pages
 * raw Snappy blocks, GZIP pages gzip members (zlib streams are accepted
 * too, as some writers produce them).  The ZSTD contexts live as long as
 * the codec so that each page does not pay for their setup.  The page CRC
 * is zlib's, which is the one the format names and a table-driven one that
 * runs at several GB/s, far faster than any of the codecs.
 */
#include "parquet/pq_codec.h"

#include <limits.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

struct pq_codec {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
};

struct pq_codec *pq_codec_new(void)
{
	return calloc(1, sizeof(struct pq_codec));
}

void pq_codec_free(struct pq_codec *c)
{
	if (!c)
		return;
	ZSTD_freeCCtx(c->cctx);
	ZSTD_freeDCtx(c->dctx);
	free(c);
}

const char *pq_codec_name(int codec)
{
	static const char *const names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
	                                    "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};
	return codec >= 0 && codec < 8 ? names[codec] : NULL;
}

int pq_codec_supported(int codec)
{
	return codec == PQ_UNCOMPRESSED || codec == PQ_SNAPPY || codec == PQ_GZIP ||
	       codec == PQ_ZSTD;
}

static int gzip_compress(const uint8_t *src, size_t n, struct pq_buf *out, const char **why)
{
	z_stream z = {0};
	if (n > UINT_MAX || deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	                                 Z_DEFAULT_STRATEGY) != Z_OK) {
		*why = "gzip setup failed";
		return -1;
	}
	size_t bound = deflateBound(&z, (uLong)n);
	if (pq_buf_reserve(out, bound) < 0 || bound > UINT_MAX) {
		deflateEnd(&z);
		*why = "out of memory";
		return -1;
	}
	z.next_in = (Bytef *)(uintptr_t)src;
	z.avail_in = (uInt)n;
	z.next_out = out->p + out->len;
	z.avail_out = (uInt)bound;
	int rc = deflate(&z, Z_FINISH);
	size_t produced = bound - z.avail_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		*why = "gzip compression failed";
		return -1;
	}
	out->len += produced;
	return 0;
}

int pq_compress(struct pq_codec *c, int codec, int level, const uint8_t *src, size_t n,
                struct pq_buf *out, const char **why)
{
	switch (codec) {
	case PQ_UNCOMPRESSED:
		if (pq_buf_put(out, src, n) < 0) {
			*why = "out of memory";
			return -1;
		}
		return 0;
	case PQ_ZSTD: {
		if (!c->cctx && !(c->cctx = ZSTD_createCCtx())) {
			*why = "out of memory";
			return -1;
		}
		size_t bound = ZSTD_compressBound(n);
		if (pq_buf_reserve(out, bound) < 0) {
			*why = "out of memory";
			return -1;
		}
		size_t r = ZSTD_compressCCtx(c->cctx, out->p + out->len, bound, src, n, level);
		if (ZSTD_isError(r)) {
			*why = ZSTD_getErrorName(r);
			return -1;
		}
		out->len += r;
		return 0;
	}
	case PQ_SNAPPY: {
		size_t bound = snappy_max_compressed_length(n);
		if (pq_buf_reserve(out, bound) < 0) {
			*why = "out of memory";
			return -1;
		}
		size_t r = bound;
		if (snappy_compress((const char *)src, n, (char *)out->p + out->len, &r) !=
		    SNAPPY_OK) {
			*why = "snappy compression failed";
			return -1;
		}
		out->len += r;
		return 0;
	}
	case PQ_GZIP:
		return gzip_compress(src, n, out, why);
	default:
		*why = "unsupported compression codec";
		return -1;
	}
}

/* Inflate gzip members (or zlib streams) back to back until dst is full. */
static int gzip_decompress(const uint8_t *src, size_t n, uint8_t *dst, size_t dn, const char **why)
{
	if (n > UINT_MAX || dn > UINT_MAX) {
		*why = "gzip page too large";
		return -1;
	}
	z_stream z = {0};
	if (inflateInit2(&z, 15 + 32) != Z_OK) {
		*why = "gzip setup failed";
		return -1;
	}
	z.next_in = (Bytef *)(uintptr_t)src;
	z.avail_in = (uInt)n;
	z.next_out = dst;
	z.avail_out = (uInt)dn;
	int rc;
	for (;;) {
		rc = inflate(&z, Z_FINISH);
		if (rc == Z_STREAM_END && z.avail_in > 0 && z.avail_out > 0) {
			if (inflateReset(&z) != Z_OK)
				break;
			continue;
		}
		break;
	}
	size_t produced = dn - z.avail_out;
	int left_in = z.avail_in > 0;
	inflateEnd(&z);
	if (rc != Z_STREAM_END && !(rc == Z_BUF_ERROR && z.avail_out == 0)) {
		*why = rc == Z_BUF_ERROR ? "gzip data ends early" : "gzip data corrupt";
		return -1;
	}
	if (produced != dn || (rc != Z_STREAM_END && left_in)) {
		*why = "decompressed size differs from the page header's";
		return -1;
	}
	return 0;
}

int pq_decompress(struct pq_codec *c, int codec, const uint8_t *src, size_t n, uint8_t *dst,
                  size_t dn, const char **why)
{
	switch (codec) {
	case PQ_UNCOMPRESSED:
		if (n != dn) {
			*why = "uncompressed page sizes disagree";
			return -1;
		}
		if (n)
			memcpy(dst, src, n);
		return 0;
	case PQ_ZSTD: {
		if (!c->dctx && !(c->dctx = ZSTD_createDCtx())) {
			*why = "out of memory";
			return -1;
		}
		size_t r = ZSTD_decompressDCtx(c->dctx, dst, dn, src, n);
		if (ZSTD_isError(r)) {
			*why = ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall
			           ? "decompressed size differs from the page header's"
			           : "zstd data corrupt";
			return -1;
		}
		if (r != dn) {
			*why = "decompressed size differs from the page header's";
			return -1;
		}
		return 0;
	}
	case PQ_SNAPPY: {
		size_t len;
		if (snappy_uncompressed_length((const char *)src, n, &len) != SNAPPY_OK) {
			*why = "snappy data corrupt";
			return -1;
		}
		if (len != dn) {
			*why = "decompressed size differs from the page header's";
			return -1;
		}
		if (snappy_uncompress((const char *)src, n, (char *)dst, &len) != SNAPPY_OK ||
		    len != dn) {
			*why = "snappy data corrupt";
			return -1;
		}
		return 0;
	}
	case PQ_GZIP:
		return gzip_decompress(src, n, dst, dn, why);
	default:
		*why = "unsupported compression codec";
		return -1;
	}
}

uint32_t pq_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
	/* zlib takes a null buffer as "start afresh": an empty range changes nothing. */
	return n ? (uint32_t)crc32_z(crc, p, n) : crc;
}

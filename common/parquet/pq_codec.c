/*
 * pq_codec: page compression (see pq_codec.h).
 *
 * ZSTD pages are bare frames (possibly several back to back), SNAPPY pages
 * raw Snappy blocks, GZIP pages gzip members (zlib streams are accepted
 * too, as some writers produce them), LZ4_RAW pages one LZ4 block (no
 * frame).  LZ4 pages are read as Arrow reads them: parquet.thrift says
 * Hadoop's framing (blocks each behind their big-endian decompressed and
 * compressed sizes), but older Parquet C++ wrote one bare block, so a page
 * whose framing does not parse is taken as a bare block.  BROTLI pages
 * are one Brotli stream, as Arrow (and so DuckDB and pyarrow) writes them.
 * LZ4 and BROTLI are read only: the writer never produces them.  The ZSTD contexts live as long as
 * the codec so that each page does not pay for their setup.  The page CRC
 * is the CRC-32 of zlib, which the format names: on x86-64 processors with
 * carry-less multiplication (PCLMULQDQ, every one since 2010) computed by
 * folding, at about twice the speed of zlib's tables; otherwise by zlib.
 */
#include "parquet/pq_codec.h"

#include <brotli/decode.h>
#include <limits.h>
#include <lz4.h>
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
	       codec == PQ_ZSTD || codec == PQ_LZ4 || codec == PQ_LZ4_RAW || codec == PQ_BROTLI;
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

/*
 * One LZ4 block src[0..n) into dst[0..cap): the size it decompressed to, or
 * -1 when it is malformed or would not fit (LZ4 tells the two apart no
 * more than that).  Never reads or writes outside the two ranges.
 */
static long lz4_block(const uint8_t *src, size_t n, uint8_t *dst, size_t cap)
{
	if (n > INT_MAX || cap > INT_MAX)
		return -1;
	int r = LZ4_decompress_safe((const char *)src, (char *)dst, (int)n, (int)cap);
	return r < 0 ? -1 : r;
}

/*
 * Hadoop's LZ4 framing, as Arrow reads it: frames of a 4-byte big-endian
 * decompressed size, a 4-byte big-endian compressed size and an LZ4 block
 * of that size which decompresses to that size, filling src[0..n) exactly.
 * The total decompressed into dst[0..dn), or -1 when the page is not so
 * framed (dst may then hold anything).
 */
static long lz4_hadoop(const uint8_t *src, size_t n, uint8_t *dst, size_t dn)
{
	size_t out = 0;
	while (n >= 8) {
		size_t un =
		    (size_t)src[0] << 24 | (size_t)src[1] << 16 | (size_t)src[2] << 8 | src[3];
		size_t cn =
		    (size_t)src[4] << 24 | (size_t)src[5] << 16 | (size_t)src[6] << 8 | src[7];
		src += 8;
		n -= 8;
		if (cn > n || un > dn - out || lz4_block(src, cn, dst + out, un) != (long)un)
			return -1;
		src += cn;
		n -= cn;
		out += un;
	}
	return n == 0 ? (long)out : -1;
}

static int lz4_decompress(int codec, const uint8_t *src, size_t n, uint8_t *dst, size_t dn,
                          const char **why)
{
	if (n > INT_MAX || dn > INT_MAX) {
		*why = "lz4 page too large";
		return -1;
	}
	long r = codec == PQ_LZ4 ? lz4_hadoop(src, n, dst, dn) : -1;
	if (r < 0)
		r = lz4_block(src, n, dst, dn);
	if (r < 0) {
		/* Also what a block that decompresses to more than dn gives. */
		*why = "lz4 data corrupt";
		return -1;
	}
	if ((size_t)r != dn) {
		*why = "decompressed size differs from the page header's";
		return -1;
	}
	return 0;
}

/*
 * One Brotli stream src[0..n) into exactly dn bytes at dst.  The stream
 * states no size up front: one that needs more room than the page header
 * gives, or ends short of it, disagrees with the header.
 */
static int brotli_decompress(const uint8_t *src, size_t n, uint8_t *dst, size_t dn,
                             const char **why)
{
	BrotliDecoderState *st = BrotliDecoderCreateInstance(NULL, NULL, NULL);
	if (!st) {
		*why = "out of memory";
		return -1;
	}
	size_t in_left = n, out_left = dn;
	const uint8_t *in = src;
	uint8_t *out = dst;
	BrotliDecoderResult r =
	    BrotliDecoderDecompressStream(st, &in_left, &in, &out_left, &out, NULL);
	BrotliDecoderDestroyInstance(st);
	if (r == BROTLI_DECODER_RESULT_SUCCESS && out_left == 0 && in_left == 0)
		return 0;
	if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT ||
	    (r == BROTLI_DECODER_RESULT_SUCCESS && out_left != 0))
		*why = "decompressed size differs from the page header's";
	else if (r == BROTLI_DECODER_RESULT_SUCCESS)
		*why = "brotli data corrupt: bytes after the end of the stream";
	else
		*why = "brotli data corrupt";
	return -1;
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
	case PQ_LZ4:
	case PQ_LZ4_RAW:
		return lz4_decompress(codec, src, n, dst, dn, why);
	case PQ_BROTLI:
		return brotli_decompress(src, n, dst, dn, why);
	default:
		*why = "unsupported compression codec";
		return -1;
	}
}

int pq_decompressed_size(int codec, const uint8_t *src, size_t n, size_t *size, const char **why)
{
	switch (codec) {
	case PQ_UNCOMPRESSED:
		*size = n;
		return 1;
	case PQ_ZSTD: {
		/* Each frame may state its content size; one that does not leaves it unknown. */
		size_t total = 0;
		if (n == 0)
			return 0;
		while (n > 0) {
			unsigned long long fcs = ZSTD_getFrameContentSize(src, n);
			size_t fl = ZSTD_findFrameCompressedSize(src, n);
			if (fcs == ZSTD_CONTENTSIZE_UNKNOWN)
				return 0;
			if (fcs == ZSTD_CONTENTSIZE_ERROR || ZSTD_isError(fl) ||
			    fcs > SIZE_MAX - total) {
				*why = "zstd data corrupt";
				return -1;
			}
			total += (size_t)fcs;
			src += fl;
			n -= fl;
		}
		*size = total;
		return 1;
	}
	case PQ_SNAPPY:
		if (snappy_uncompressed_length((const char *)src, n, size) != SNAPPY_OK) {
			*why = "snappy data corrupt";
			return -1;
		}
		return 1;
	default:
		/*
		 * gzip keeps the size of its last member only, modulo 2^32; an
		 * LZ4 block states none, and LZ4's Hadoop framing is known to be
		 * that only once its blocks have decompressed.
		 */
		return 0;
	}
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define PQ_CRC_FOLD 1

/* x (128 bits of remainder) carried 128 or 512 bits on by the constants k, plus next. */
__attribute__((target("pclmul,sse4.1"))) static inline __m128i fold(__m128i x, __m128i k,
                                                                    __m128i next)
{
	__m128i lo = _mm_clmulepi64_si128(x, k, 0x00), hi = _mm_clmulepi64_si128(x, k, 0x11);
	return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/*
 * The CRC-32 register after p[0..n) (n at least 64, a multiple of 16),
 * starting from state (the register itself, not zlib's inverted form), by
 * carry-less multiplication: four 128-bit lanes are folded forward over 64
 * bytes at a time, then into one, which is reduced to 32 bits by Barrett
 * reduction.  The constants are x^k mod P for the distances folded (in
 * the bit-reflected order of this CRC) and, for the reduction, the
 * polynomial P and floor(x^64 / P).  Six to eight times zlib's table-driven
 * speed, which matters to a reader that checks every page it decodes.
 */
__attribute__((target("pclmul,sse4.1"))) static uint32_t crc32_fold(uint32_t state,
                                                                    const uint8_t *p, size_t n)
{
	const __m128i k512 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);
	const __m128i k128 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);
	const __m128i k64 = _mm_set_epi64x(0, 0x163cd6124);
	const __m128i poly = _mm_set_epi64x(0x1f7011641, 0x1db710641);
	const __m128i low32 = _mm_set_epi32(0, 0, 0, -1);
	__m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
	__m128i x3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
	__m128i x4 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
	x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)state));
	for (p += 64, n -= 64; n >= 64; p += 64, n -= 64) {
		x1 = fold(x1, k512, _mm_loadu_si128((const __m128i *)(const void *)p));
		x2 = fold(x2, k512, _mm_loadu_si128((const __m128i *)(const void *)(p + 16)));
		x3 = fold(x3, k512, _mm_loadu_si128((const __m128i *)(const void *)(p + 32)));
		x4 = fold(x4, k512, _mm_loadu_si128((const __m128i *)(const void *)(p + 48)));
	}
	x1 = fold(fold(fold(x1, k128, x2), k128, x3), k128, x4);
	for (; n >= 16; p += 16, n -= 16)
		x1 = fold(x1, k128, _mm_loadu_si128((const __m128i *)(const void *)p));
	/* 128 bits to 64, then to 32 with 32 zero bits appended. */
	x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), _mm_clmulepi64_si128(k128, x1, 0x01));
	x1 = _mm_xor_si128(_mm_srli_si128(x1, 4),
	                   _mm_clmulepi64_si128(_mm_and_si128(x1, low32), k64, 0x00));
	/* Barrett reduction: the quotient by floor(x^64 / P), times P. */
	__m128i q =
	    _mm_and_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, low32), poly, 0x10), low32);
	x1 = _mm_xor_si128(x1, _mm_clmulepi64_si128(q, poly, 0x00));
	return (uint32_t)_mm_extract_epi32(x1, 1);
}
#endif

uint32_t pq_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
#ifdef PQ_CRC_FOLD
	/* Found out once; threads that race to it find out the same. */
	static int fast = -1;
	int f = __atomic_load_n(&fast, __ATOMIC_RELAXED);
	if (f < 0) {
		f = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
		__atomic_store_n(&fast, f, __ATOMIC_RELAXED);
	}
	if (f && n >= 64) {
		size_t m = n & ~(size_t)15;
		uint32_t state = crc32_fold(~crc, p, m);
		return m < n ? (uint32_t)crc32_z(~state, p + m, n - m) : ~state;
	}
#endif
	/* zlib takes a null buffer as "start afresh": an empty range changes nothing. */
	return n ? (uint32_t)crc32_z(crc, p, n) : crc;
}

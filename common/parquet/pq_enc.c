/*
 * pq_enc: Parquet encodings (see pq_enc.h).
 *
 * The bit unpackers read 64-bit little-endian words where eight bytes are
 * known to be inside the input and fall back to a zero-padded copy for the
 * last few values, so the fast path needs no bounds test per value.  The
 * RLE encoder works on a whole page at once: a run of eight or more equal
 * values becomes a repeated run, everything else goes into bit-packed runs
 * of whole groups of eight, padded only at the very end.
 */
#include "parquet/pq_enc_internal.h"

#include <stdlib.h>
#include <string.h>

/* Empty input may come as a NULL pointer; point it somewhere before any arithmetic. */
static const uint8_t *nonnull(const uint8_t *p)
{
	static const uint8_t none[1];
	return p ? p : none;
}

int pq_uleb_get(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t x = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (p >= end)
			return -1;
		uint8_t c = *p++;
		if (shift == 63 && c > 1)
			return -1;
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*pp = p;
			*v = x;
			return 0;
		}
	}
	return -1;
}

static inline uint64_t width_mask(int w)
{
	return w >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << w) - 1;
}

void pq_bitpack64(uint8_t *out, const uint64_t *v, size_t n, int w)
{
	if (w <= 0)
		return;
	uint64_t mask = width_mask(w), acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t x = v[i] & mask;
		acc |= x << bits;
		bits += w;
		if (bits >= 64) {
			pq_store64(out, acc);
			out += 8;
			bits -= 64;
			acc = bits ? x >> (w - bits) : 0;
		}
	}
	for (; bits > 0; bits -= 8) {
		*out++ = (uint8_t)acc;
		acc >>= 8;
	}
}

void pq_bitpack32(uint8_t *out, const uint32_t *v, size_t n, int w)
{
	if (w <= 0)
		return;
	uint64_t mask = width_mask(w), acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t x = v[i] & mask;
		acc |= x << bits;
		bits += w;
		if (bits >= 64) {
			pq_store64(out, acc);
			out += 8;
			bits -= 64;
			acc = bits ? x >> (w - bits) : 0;
		}
	}
	for (; bits > 0; bits -= 8) {
		*out++ = (uint8_t)acc;
		acc >>= 8;
	}
}

/* The value at bit offset bit, for the last values where a word load could overrun. */
static uint64_t unpack_slow(const uint8_t *in, size_t nbytes, size_t bit, int w)
{
	uint8_t tmp[16] = {0};
	size_t byte = bit >> 3;
	size_t avail = nbytes - byte;
	memcpy(tmp, in + byte, avail < 9 ? avail : 9);
	int sh = (int)(bit & 7);
	uint64_t x = pq_load64(tmp) >> sh;
	if (sh + w > 64)
		x |= (uint64_t)tmp[8] << (64 - sh);
	return x & width_mask(w);
}

void pq_bitunpack64(const uint8_t *in, size_t avail, uint64_t *out, size_t n, int w)
{
	if (w <= 0) {
		memset(out, 0, n * sizeof *out);
		return;
	}
	size_t nbytes = avail;
	uint64_t mask = width_mask(w);
	size_t bit = 0, i = 0;
	for (; i < n && (bit >> 3) + 9 <= nbytes; i++, bit += (size_t)w) {
		const uint8_t *q = in + (bit >> 3);
		int sh = (int)(bit & 7);
		uint64_t x = pq_load64(q) >> sh;
		if (sh + w > 64)
			x |= (uint64_t)q[8] << (64 - sh);
		out[i] = x & mask;
	}
	for (; i < n; i++, bit += (size_t)w)
		out[i] = unpack_slow(in, nbytes, bit, w);
}

void pq_bitunpack32(const uint8_t *in, size_t avail, uint32_t *out, size_t n, int w)
{
	if (w <= 0) {
		memset(out, 0, n * sizeof *out);
		return;
	}
	size_t nbytes = avail;
	uint64_t mask = width_mask(w);
	size_t bit = 0, i = 0;
	if (w == 1) {
		for (; i + 8 <= n; i += 8) {
			uint8_t c = in[i >> 3];
			for (int k = 0; k < 8; k++)
				out[i + k] = (c >> k) & 1;
		}
		bit = i;
	}
	for (; i < n && (bit >> 3) + 8 <= nbytes; i++, bit += (size_t)w)
		out[i] = (uint32_t)((pq_load64(in + (bit >> 3)) >> (bit & 7)) & mask);
	for (; i < n; i++, bit += (size_t)w)
		out[i] = (uint32_t)unpack_slow(in, nbytes, bit, w);
}

/*
 * 32 values of width w from in, where at least 4 * w + 8 bytes may be read.
 * Inlined for each constant width, the shifts and offsets fold away: this
 * is the inner loop of DELTA_BINARY_PACKED decoding.
 */
static inline __attribute__((always_inline)) void unpack32_const(const uint8_t *in, uint64_t *out,
                                                                 const int w)
{
	const uint64_t mask = width_mask(w);
	for (int i = 0; i < 32; i++) {
		const size_t bit = (size_t)i * (size_t)w;
		const uint8_t *q = in + (bit >> 3);
		const int sh = (int)(bit & 7);
		uint64_t x = pq_load64(q) >> sh;
		if (sh + w > 64)
			x |= (uint64_t)q[8] << (64 - sh);
		out[i] = x & mask;
	}
}

#define UNPACK_CASE(A, B, C, D)                                                                    \
	case A:                                                                                    \
		unpack32_const(in, out, A);                                                        \
		break;                                                                             \
	case B:                                                                                    \
		unpack32_const(in, out, B);                                                        \
		break;                                                                             \
	case C:                                                                                    \
		unpack32_const(in, out, C);                                                        \
		break;                                                                             \
	case D:                                                                                    \
		unpack32_const(in, out, D);                                                        \
		break;

/* 32 values of width w (1..64) from in, where 4 * w + 8 bytes may be read. */
static void unpack32(const uint8_t *in, uint64_t *out, int w)
{
	/* clang-format off */
	switch (w) {
		UNPACK_CASE(1, 2, 3, 4)
		UNPACK_CASE(5, 6, 7, 8)
		UNPACK_CASE(9, 10, 11, 12)
		UNPACK_CASE(13, 14, 15, 16)
		UNPACK_CASE(17, 18, 19, 20)
		UNPACK_CASE(21, 22, 23, 24)
		UNPACK_CASE(25, 26, 27, 28)
		UNPACK_CASE(29, 30, 31, 32)
		UNPACK_CASE(33, 34, 35, 36)
		UNPACK_CASE(37, 38, 39, 40)
		UNPACK_CASE(41, 42, 43, 44)
		UNPACK_CASE(45, 46, 47, 48)
		UNPACK_CASE(49, 50, 51, 52)
		UNPACK_CASE(53, 54, 55, 56)
		UNPACK_CASE(57, 58, 59, 60)
		UNPACK_CASE(61, 62, 63, 64)
	default:
		break;
	}
	/* clang-format on */
}

/*
 * The hybrid encoder, for 16-bit levels and 32-bit dictionary indices.
 * run_at() measures the run of equal values starting at i, looking at most
 * cap values ahead.
 */
#define RLE_ENCODER(NAME, T)                                                                       \
	static size_t NAME##_run_at(const T *v, size_t i, size_t n, size_t cap)                    \
	{                                                                                          \
		size_t j = i + 1, lim = n - i > cap ? i + cap : n;                                 \
		while (j < lim && v[j] == v[i])                                                    \
			j++;                                                                       \
		return j - i;                                                                      \
	}                                                                                          \
                                                                                                   \
	int NAME(struct pq_buf *b, const T *v, size_t n, int w)                                    \
	{                                                                                          \
		size_t vb = ((size_t)w + 7) / 8, i = 0;                                            \
		uint64_t mask = width_mask(w);                                                     \
		while (i < n) {                                                                    \
			size_t r = NAME##_run_at(v, i, n, (size_t)INT32_MAX);                      \
			if (r >= 8) {                                                              \
				if (pq_buf_reserve(b, 10 + vb) < 0)                                \
					return -1;                                                 \
				b->len += pq_uleb_put(b->p + b->len, (uint64_t)r << 1);            \
				uint64_t x = v[i] & mask;                                          \
				for (size_t k = 0; k < vb; k++)                                    \
					b->p[b->len++] = (uint8_t)(x >> (8 * k));                  \
				i += r;                                                            \
				continue;                                                          \
			}                                                                          \
			size_t start = i;                                                          \
			i += 8;                                                                    \
			while (i < n && NAME##_run_at(v, i, n, 8) < 8)                             \
				i += 8;                                                            \
			size_t end = i < n ? i : n, groups = (end - start + 7) / 8;                \
			size_t bytes = groups * (size_t)w;                                         \
			if (pq_buf_reserve(b, 10 + bytes) < 0)                                     \
				return -1;                                                         \
			b->len += pq_uleb_put(b->p + b->len, (uint64_t)groups << 1 | 1);           \
			uint8_t *out = b->p + b->len;                                              \
			memset(out, 0, bytes);                                                     \
			uint64_t acc = 0;                                                          \
			int bits = 0;                                                              \
			for (size_t k = start; k < end; k++) {                                     \
				acc |= (uint64_t)(v[k] & mask) << bits;                            \
				bits += w;                                                         \
				while (bits >= 8) {                                                \
					*out++ = (uint8_t)acc;                                     \
					acc >>= 8;                                                 \
					bits -= 8;                                                 \
				}                                                                  \
			}                                                                          \
			if (bits > 0)                                                              \
				*out = (uint8_t)acc;                                               \
			b->len += bytes;                                                           \
		}                                                                                  \
		return 0;                                                                          \
	}

RLE_ENCODER(pq_rle_encode32, uint32_t)
RLE_ENCODER(pq_rle_encode16, uint16_t)

/*
 * The hybrid decoder.  A bit-packed run whose data is cut short by the end
 * of the input still yields the values that are wholly present, as some
 * writers do not pad the final group.
 */
#define RLE_DECODER(NAME, T, MAXW)                                                                 \
	int NAME(const uint8_t *p, size_t len, int w, T *out, size_t n, const char **why)          \
	{                                                                                          \
		if (w < 0 || w > MAXW) {                                                           \
			*why = "bit width out of range";                                           \
			return -1;                                                                 \
		}                                                                                  \
		p = nonnull(p);                                                                    \
		const uint8_t *end = p + len;                                                      \
		size_t vb = ((size_t)w + 7) / 8, i = 0;                                            \
		uint32_t tmp[256];                                                                 \
		uint64_t wide[32];                                                                 \
		while (i < n) {                                                                    \
			uint64_t h;                                                                \
			if (pq_uleb_get(&p, end, &h) < 0) {                                        \
				*why = "run-length data ends early";                               \
				return -1;                                                         \
			}                                                                          \
			uint64_t cnt = h >> 1;                                                     \
			size_t want = n - i;                                                       \
			if (h & 1) {                                                               \
				uint64_t runbytes =                                                \
				    cnt > ((uint64_t)1 << 56) ? UINT64_MAX : cnt * (uint64_t)w;    \
				size_t avail = (size_t)(end - p);                                  \
				if (runbytes < avail)                                              \
					avail = (size_t)runbytes;                                  \
				size_t have = w ? avail * 8 / (size_t)w : SIZE_MAX;                \
				if (cnt < ((uint64_t)1 << 60) && have > cnt * 8)                   \
					have = (size_t)(cnt * 8);                                  \
				if (have > want)                                                   \
					have = want;                                               \
				else if (have < want && runbytes > (size_t)(end - p)) {            \
					*why = "bit-packed run ends early";                        \
					return -1;                                                 \
				}                                                                  \
				for (size_t k = 0; k < have;) {                                    \
					size_t at = k / 8 * (size_t)w;                             \
					size_t left = (size_t)(end - p) - at;                      \
					if (w > 0 && have - k >= 32 &&                             \
					    left >= 4 * (size_t)w + 8) {                           \
						unpack32(p + at, wide, w);                         \
						for (size_t j = 0; j < 32; j++)                    \
							out[i + k + j] = (T)wide[j];               \
						k += 32;                                           \
						continue;                                          \
					}                                                          \
					size_t m = have - k < 256 ? have - k : 256;                \
					pq_bitunpack32(p + at, left, tmp, m, w);                   \
					for (size_t j = 0; j < m; j++)                             \
						out[i + k + j] = (T)tmp[j];                        \
					k += m;                                                    \
				}                                                                  \
				i += have;                                                         \
				p += avail;                                                        \
			} else {                                                                   \
				if ((size_t)(end - p) < vb) {                                      \
					*why = "run-length data ends early";                       \
					return -1;                                                 \
				}                                                                  \
				uint32_t x = 0;                                                    \
				for (size_t k = 0; k < vb; k++)                                    \
					x |= (uint32_t)p[k] << (8 * k);                            \
				p += vb;                                                           \
				if (w < 32 && x >> w) {                                            \
					*why = "run value wider than its bit width";               \
					return -1;                                                 \
				}                                                                  \
				size_t take = cnt < want ? (size_t)cnt : want;                     \
				for (size_t k = 0; k < take; k++)                                  \
					out[i + k] = (T)x;                                         \
				i += take;                                                         \
			}                                                                          \
		}                                                                                  \
		return 0;                                                                          \
	}

RLE_DECODER(pq_rle_decode32, uint32_t, 32)
RLE_DECODER(pq_rle_decode16, uint16_t, 16)

int pq_bitpacked_legacy_decode16(const uint8_t *p, size_t len, int w, uint16_t *out, size_t n,
                                 const char **why)
{
	if (w < 0 || w > 16) {
		*why = "bit width out of range";
		return -1;
	}
	if (w && len < (n * (size_t)w + 7) / 8) {
		*why = "bit-packed levels end early";
		return -1;
	}
	size_t bit = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned x = 0;
		for (int k = 0; k < w; k++, bit++)
			x = x << 1 | ((p[bit >> 3] >> (7 - (bit & 7))) & 1);
		out[i] = (uint16_t)x;
	}
	return 0;
}

/* One block of DELTA_BINARY_PACKED: cnt (1..128) deltas d[], already wrapped. */
static int dbp_block(struct pq_buf *b, uint64_t *d, size_t cnt, int is32)
{
	int64_t min = is32 ? (int32_t)d[0] : (int64_t)d[0];
	for (size_t k = 1; k < cnt; k++) {
		int64_t x = is32 ? (int32_t)d[k] : (int64_t)d[k];
		if (x < min)
			min = x;
	}
	uint64_t mask = is32 ? 0xffffffffu : ~(uint64_t)0;
	for (size_t k = 0; k < cnt; k++)
		d[k] = (d[k] - (uint64_t)min) & mask;
	for (size_t k = cnt; k < 128; k++)
		d[k] = 0;
	int wid[4];
	size_t bytes = 0;
	for (int m = 0; m < 4; m++) {
		uint64_t o = 0;
		for (size_t k = (size_t)m * 32; k < (size_t)m * 32 + 32; k++)
			o |= d[k];
		wid[m] = (size_t)m * 32 < cnt ? pq_bit_width(o) : 0;
		bytes += (size_t)wid[m] * 4;
	}
	if (pq_buf_reserve(b, 10 + 4 + bytes) < 0)
		return -1;
	b->len += pq_uleb_put(b->p + b->len, pq_zigzag(min));
	for (int m = 0; m < 4; m++)
		b->p[b->len++] = (uint8_t)wid[m];
	for (int m = 0; m < 4 && (size_t)m * 32 < cnt; m++) {
		pq_bitpack64(b->p + b->len, d + m * 32, 32, wid[m]);
		b->len += (size_t)wid[m] * 4;
	}
	return 0;
}

static int dbp_header(struct pq_buf *b, size_t n, int64_t first)
{
	if (pq_buf_reserve(b, 40) < 0)
		return -1;
	b->len += pq_uleb_put(b->p + b->len, 128);
	b->len += pq_uleb_put(b->p + b->len, 4);
	b->len += pq_uleb_put(b->p + b->len, n);
	b->len += pq_uleb_put(b->p + b->len, pq_zigzag(first));
	return 0;
}

int pq_dbp_encode64(struct pq_buf *b, const int64_t *v, size_t n)
{
	uint64_t d[128];
	if (dbp_header(b, n, n ? v[0] : 0) < 0)
		return -1;
	for (size_t i = 1; i < n; i += 128) {
		size_t cnt = n - i < 128 ? n - i : 128;
		for (size_t k = 0; k < cnt; k++)
			d[k] = (uint64_t)v[i + k] - (uint64_t)v[i + k - 1];
		if (dbp_block(b, d, cnt, 0) < 0)
			return -1;
	}
	return 0;
}

int pq_dbp_encode32(struct pq_buf *b, const int32_t *v, size_t n)
{
	uint64_t d[128];
	if (dbp_header(b, n, n ? v[0] : 0) < 0)
		return -1;
	for (size_t i = 1; i < n; i += 128) {
		size_t cnt = n - i < 128 ? n - i : 128;
		for (size_t k = 0; k < cnt; k++)
			d[k] = (uint32_t)v[i + k] - (uint32_t)v[i + k - 1];
		if (dbp_block(b, d, cnt, 1) < 0)
			return -1;
	}
	return 0;
}

/* Where decoded DELTA_BINARY_PACKED values go. */
enum dbp_out { OUT_I64, OUT_I32, OUT_WIDE64, OUT_WIDE32 };

/* Store the running sums of values out[at..at+n): prev + min + d[k], accumulated. */
static inline uint64_t dbp_store(void *out, enum dbp_out kind, size_t at, uint64_t prev,
                                 uint64_t min, const uint64_t *d, size_t n)
{
	switch (kind) {
	case OUT_I64:
		for (size_t k = 0; k < n; k++)
			((int64_t *)out)[at + k] = (int64_t)(prev += min + (d ? d[k] : 0));
		break;
	case OUT_I32:
		for (size_t k = 0; k < n; k++)
			((int32_t *)out)[at + k] = (int32_t)(prev += min + (d ? d[k] : 0));
		break;
	case OUT_WIDE64:
		for (size_t k = 0; k < n; k++)
			((__int128 *)out)[at + k] = (int64_t)(prev += min + (d ? d[k] : 0));
		break;
	default:
		for (size_t k = 0; k < n; k++)
			((__int128 *)out)[at + k] = (int32_t)(prev += min + (d ? d[k] : 0));
		break;
	}
	return prev;
}

/*
 * Decode DELTA_BINARY_PACKED into out.  Sums are kept mod 2^64; for 32-bit
 * columns the low half is the value whichever width the writer computed
 * its deltas in.
 */
static int dbp_decode(const uint8_t *p, size_t len, void *out, enum dbp_out kind, size_t n,
                      size_t *used, const char **why)
{
	p = nonnull(p);
	const uint8_t *start = p, *end = p + len;
	uint64_t bsize, nmini, total, first;
	if (pq_uleb_get(&p, end, &bsize) < 0 || pq_uleb_get(&p, end, &nmini) < 0 ||
	    pq_uleb_get(&p, end, &total) < 0 || pq_uleb_get(&p, end, &first) < 0) {
		*why = "delta header truncated";
		return -1;
	}
	if (bsize == 0 || bsize % 128 || bsize > (1u << 20) || nmini == 0 || bsize % nmini ||
	    (bsize / nmini) % 32) {
		*why = "delta block layout invalid";
		return -1;
	}
	if (total != n) {
		*why = "delta value count differs from the page's";
		return -1;
	}
	size_t vpm = (size_t)(bsize / nmini);
	uint64_t prev = (uint64_t)pq_unzigzag(first), tmp[32];
	size_t i = 0;
	if (n > 0) {
		dbp_store(out, kind, 0, prev, 0, NULL, 1);
		i = 1;
	}
	while (i < n) {
		uint64_t zmin;
		if (pq_uleb_get(&p, end, &zmin) < 0 || (size_t)(end - p) < nmini) {
			*why = "delta block truncated";
			return -1;
		}
		uint64_t min = (uint64_t)pq_unzigzag(zmin);
		const uint8_t *wid = p;
		p += nmini;
		for (size_t m = 0; m < nmini && i < n; m++) {
			int w = wid[m];
			if (w > 64) {
				*why = "delta bit width over 64";
				return -1;
			}
			size_t take = n - i < vpm ? n - i : vpm;
			size_t need = (take + 31) / 32 * 4 * (size_t)w;
			size_t full = vpm / 8 * (size_t)w;
			if ((size_t)(end - p) < need) {
				*why = "delta miniblock truncated";
				return -1;
			}
			if (w == 0) {
				prev = dbp_store(out, kind, i, prev, min, NULL, take);
			} else {
				for (size_t k = 0; k < take; k += 32) {
					size_t m32 = take - k < 32 ? take - k : 32;
					size_t at = k / 8 * (size_t)w,
					       avail = (size_t)(end - p) - at;
					if (m32 == 32 && avail >= 4 * (size_t)w + 8)
						unpack32(p + at, tmp, w);
					else
						pq_bitunpack64(p + at, avail, tmp, m32, w);
					prev = dbp_store(out, kind, i + k, prev, min, tmp, m32);
				}
			}
			i += take;
			p += (size_t)(end - p) < full ? (size_t)(end - p) : full;
		}
	}
	*used = (size_t)(p - start);
	return 0;
}

int pq_dbp_decode64(const uint8_t *p, size_t len, int64_t *out, size_t n, size_t *used,
                    const char **why)
{
	return dbp_decode(p, len, out, OUT_I64, n, used, why);
}

int pq_dbp_decode32(const uint8_t *p, size_t len, int32_t *out, size_t n, size_t *used,
                    const char **why)
{
	return dbp_decode(p, len, out, OUT_I32, n, used, why);
}

int pq_dbp_decode_wide(const uint8_t *p, size_t len, __int128 *out, int is32, size_t n,
                       size_t *used, const char **why)
{
	return dbp_decode(p, len, out, is32 ? OUT_WIDE32 : OUT_WIDE64, n, used, why);
}

int pq_dlba_encode(struct pq_buf *b, const struct pq_bytes *v, size_t n)
{
	int32_t *lens = calloc(n ? n : 1, sizeof *lens);
	if (!lens)
		return -1;
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		lens[i] = (int32_t)v[i].len;
		total += v[i].len;
	}
	int rc = pq_dbp_encode32(b, lens, n);
	free(lens);
	if (rc < 0 || pq_buf_reserve(b, total) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i].len)
			memcpy(b->p + b->len, v[i].p, v[i].len);
		b->len += v[i].len;
	}
	return 0;
}

int pq_dba_encode(struct pq_buf *b, const struct pq_bytes *v, size_t n)
{
	int32_t *pre = calloc((n ? n : 1) * 2, sizeof *pre);
	if (!pre)
		return -1;
	int32_t *suf = pre + (n ? n : 1);
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		if (i > 0) {
			size_t lim = v[i].len < v[i - 1].len ? v[i].len : v[i - 1].len;
			while (k < lim && v[i].p[k] == v[i - 1].p[k])
				k++;
		}
		pre[i] = (int32_t)k;
		suf[i] = (int32_t)(v[i].len - k);
		total += v[i].len - k;
	}
	int rc = pq_dbp_encode32(b, pre, n);
	if (rc == 0)
		rc = pq_dbp_encode32(b, suf, n);
	if (rc == 0)
		rc = pq_buf_reserve(b, total);
	if (rc == 0) {
		for (size_t i = 0; i < n; i++) {
			if (suf[i])
				memcpy(b->p + b->len, v[i].p + pre[i], (size_t)suf[i]);
			b->len += (size_t)suf[i];
		}
	}
	free(pre);
	return rc;
}

int pq_dlba_decode(const uint8_t *p, size_t len, struct pq_bytes *v, size_t n, size_t *used,
                   const char **why)
{
	int32_t *lens = malloc((n ? n : 1) * sizeof *lens);
	if (!lens) {
		*why = "out of memory";
		return -1;
	}
	size_t hdr;
	if (pq_dbp_decode32(p, len, lens, n, &hdr, why) < 0) {
		free(lens);
		return -1;
	}
	const uint8_t *q = p + hdr;
	size_t left = len - hdr;
	for (size_t i = 0; i < n; i++) {
		if (lens[i] < 0 || (size_t)lens[i] > left) {
			*why = lens[i] < 0 ? "negative string length" : "string data ends early";
			free(lens);
			return -1;
		}
		v[i].p = q;
		v[i].len = (size_t)lens[i];
		q += lens[i];
		left -= (size_t)lens[i];
	}
	free(lens);
	*used = (size_t)(q - p);
	return 0;
}

int pq_dba_decode(const uint8_t *p, size_t len, struct pq_bytes *v, size_t n, struct pq_buf *out,
                  size_t max, const char **why)
{
	int rc = -1;
	int32_t *pre = malloc((n ? n : 1) * 2 * sizeof *pre);
	if (!pre) {
		*why = "out of memory";
		return -1;
	}
	int32_t *suf = pre + (n ? n : 1);
	size_t a, c;
	if (pq_dbp_decode32(p, len, pre, n, &a, why) < 0 ||
	    pq_dbp_decode32(p + a, len - a, suf, n, &c, why) < 0)
		goto done;
	const uint8_t *q = p + a + c;
	size_t left = len - a - c, total = 0, prevlen = 0;
	for (size_t i = 0; i < n; i++) {
		if (pre[i] < 0 || suf[i] < 0) {
			*why = "negative prefix or suffix length";
			goto done;
		}
		if ((size_t)pre[i] > prevlen) {
			*why = "prefix longer than the previous value";
			goto done;
		}
		if ((size_t)suf[i] > left) {
			*why = "suffix data ends early";
			goto done;
		}
		left -= (size_t)suf[i];
		prevlen = (size_t)pre[i] + (size_t)suf[i];
		total += prevlen;
		if (total > max) {
			*why = "decoded strings too large";
			goto done;
		}
	}
	out->len = 0;
	if (pq_buf_reserve(out, total ? total : 1) < 0) {
		*why = "out of memory";
		goto done;
	}
	const uint8_t *prev = NULL;
	for (size_t i = 0; i < n; i++) {
		uint8_t *d = out->p + out->len;
		if (pre[i])
			memcpy(d, prev, (size_t)pre[i]);
		if (suf[i])
			memcpy(d + pre[i], q, (size_t)suf[i]);
		q += suf[i];
		v[i].p = d;
		v[i].len = (size_t)pre[i] + (size_t)suf[i];
		out->len += v[i].len;
		prev = d;
	}
	rc = 0;
done:
	free(pre);
	return rc;
}

void pq_bss_encode(uint8_t *out, const uint8_t *in, size_t n, size_t k)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < k; j++)
			out[j * n + i] = in[i * k + j];
}

void pq_bss_decode(uint8_t *out, const uint8_t *in, size_t n, size_t k)
{
	for (size_t j = 0; j < k; j++)
		for (size_t i = 0; i < n; i++)
			out[i * k + j] = in[j * n + i];
}

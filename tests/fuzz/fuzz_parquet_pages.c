/*
 * Fuzz target: the page decoders on their own.  The first byte picks the
 * decoder, the second a bit width, the third a value count; the rest is the
 * encoded data.  Whatever decodes is encoded again and decoded once more,
 * which must give the same values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/pq_enc_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	int which = data[0] % 8, w = data[1];
	size_t n = (size_t)data[2] * 8 + (data[1] & 7);
	const uint8_t *p = data + 3;
	size_t len = size - 3;
	const char *why;
	size_t used;
	uint32_t v32[2048], back32[2048];
	uint16_t v16[2048];
	int64_t i64[2048];
	int32_t i32[2048];
	struct pq_bytes bytes[2048];
	struct pq_buf b = PQ_BUF_INIT, rebuilt = PQ_BUF_INIT;
	switch (which) {
	case 0:
		if (pq_rle_decode32(p, len, w % 34, v32, n, &why) == 0 && w % 34 <= 32) {
			if (pq_rle_encode32(&b, v32, n, w % 34) < 0 ||
			    pq_rle_decode32(b.p, b.len, w % 34, back32, n, &why) < 0 ||
			    memcmp(v32, back32, n * sizeof *v32) != 0)
				abort();
		}
		break;
	case 1:
		pq_rle_decode16(p, len, w % 18, v16, n, &why);
		break;
	case 2:
		if (pq_dbp_decode64(p, len, i64, n, &used, &why) == 0) {
			int64_t again[2048];
			if (used > len || pq_dbp_encode64(&b, i64, n) < 0 ||
			    pq_dbp_decode64(b.p, b.len, again, n, &used, &why) < 0 ||
			    memcmp(i64, again, n * sizeof *i64) != 0)
				abort();
		}
		break;
	case 3:
		if (pq_dbp_decode32(p, len, i32, n, &used, &why) == 0) {
			int32_t again[2048];
			if (used > len || pq_dbp_encode32(&b, i32, n) < 0 ||
			    pq_dbp_decode32(b.p, b.len, again, n, &used, &why) < 0 ||
			    memcmp(i32, again, n * sizeof *i32) != 0)
				abort();
		}
		break;
	case 4:
		if (pq_dlba_decode(p, len, bytes, n, &used, &why) == 0 && used > len)
			abort();
		break;
	case 5:
		if (pq_dba_decode(p, len, bytes, n, &rebuilt, 1u << 20, &why) == 0) {
			struct pq_bytes again[2048];
			struct pq_buf out2 = PQ_BUF_INIT;
			if (pq_dba_encode(&b, bytes, n) < 0 ||
			    pq_dba_decode(b.p, b.len, again, n, &out2, 1u << 20, &why) < 0)
				abort();
			for (size_t i = 0; i < n; i++)
				if (again[i].len != bytes[i].len ||
				    (bytes[i].len && memcmp(again[i].p, bytes[i].p, bytes[i].len)))
					abort();
			pq_buf_free(&out2);
		}
		break;
	case 6:
		pq_bitpacked_legacy_decode16(p, len, w % 18, v16, n, &why);
		break;
	default:
		if (w % 65 <= 64 && len >= (n * (size_t)(w % 65) + 7) / 8) {
			uint64_t u[2048];
			pq_bitunpack64(p, len, u, n, w % 65);
		}
		break;
	}
	pq_buf_free(&b);
	pq_buf_free(&rebuilt);
	return 0;
}

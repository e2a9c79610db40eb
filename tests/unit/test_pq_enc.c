/* Unit tests for common/parquet/pq_enc: bit packing, RLE hybrid, delta and split encodings. */
#include "parquet/pq_enc_internal.h"
#include "t.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int hex_eq(const uint8_t *got, size_t n, const char *want_hex)
{
	char buf[1024];
	size_t k = 0;
	for (size_t i = 0; i < n && k + 3 < sizeof buf; i++)
		k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%02x", i ? " " : "", got[i]);
	buf[k] = '\0';
	if (strcmp(buf, want_hex) != 0) {
		printf("#   got  %s\n#   want %s\n", buf, want_hex);
		return 0;
	}
	return 1;
}

static void test_bit_packing_round_trips_every_width(void)
{
	uint64_t in[77], out[77];
	uint8_t packed[77 * 8 + 8];
	for (int w = 0; w <= 64; w++) {
		uint64_t mask = w == 64 ? ~0ull : (1ull << w) - 1;
		for (size_t n = 0; n <= 77; n += (n < 10 ? 1 : 11)) {
			for (size_t i = 0; i < n; i++)
				in[i] = next_rand() & mask;
			if (n > 2) {
				in[0] = mask; /* the extremes */
				in[1] = 0;
			}
			size_t bytes = (n * (size_t)w + 7) / 8;
			memset(packed, 0xee, sizeof packed);
			pq_bitpack64(packed, in, n, w);
			T_CHECK(packed[bytes] == 0xee); /* writes exactly its bytes */
			pq_bitunpack64(packed, bytes, out, n, w);
			T_CHECK(memcmp(in, out, n * sizeof *in) == 0);
			if (w <= 32) {
				uint32_t in32[77], out32[77];
				for (size_t i = 0; i < n; i++)
					in32[i] = (uint32_t)in[i];
				uint8_t p32[77 * 4 + 4];
				pq_bitpack32(p32, in32, n, w);
				T_CHECK(memcmp(p32, packed, bytes) == 0);
				pq_bitunpack32(p32, bytes, out32, n, w);
				T_CHECK(memcmp(in32, out32, n * sizeof *in32) == 0);
			}
		}
	}
}

static void test_bit_packing_is_lsb_first(void)
{
	/* The Encodings.md example: 0..7 packed at width 3 is 10001000 11000110 11111010. */
	uint64_t v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
	uint8_t out[3];
	pq_bitpack64(out, v, 8, 3);
	T_CHECK(hex_eq(out, 3, "88 c6 fa"));
}

static void test_rle_levels_match_the_format_examples(void)
{
	struct pq_buf b = PQ_BUF_INIT;
	uint16_t lv[20000];
	for (int i = 0; i < 10; i++)
		lv[i] = 1;
	pq_rle_encode16(&b, lv, 10, 1);
	T_CHECK(hex_eq(b.p, b.len, "14 01"));

	b.len = 0;
	lv[3] = 0;
	pq_rle_encode16(&b, lv, 10, 1);
	T_CHECK(hex_eq(b.p, b.len, "05 f7 03"));

	b.len = 0;
	for (int i = 0; i < 23; i++)
		lv[i] = i < 20;
	pq_rle_encode16(&b, lv, 23, 1);
	T_CHECK(hex_eq(b.p, b.len, "28 01 03 00"));

	b.len = 0;
	for (int i = 0; i < 20000; i++)
		lv[i] = 1;
	pq_rle_encode16(&b, lv, 20000, 1);
	T_CHECK(hex_eq(b.p, b.len, "c0 b8 02 01"));
	pq_buf_free(&b);
}

static void test_rle_round_trips_runs_and_noise(void)
{
	struct pq_buf b = PQ_BUF_INIT;
	static uint32_t in[5000], out[5000];
	const char *why = NULL;
	for (int w = 0; w <= 32; w++) {
		uint32_t mask = w == 32 ? ~0u : (1u << w) - 1;
		for (int shape = 0; shape < 4; shape++) {
			size_t n = shape == 3 ? 1 : 1000 + (size_t)w * 97;
			for (size_t i = 0; i < n; i++) {
				uint32_t r = (uint32_t)next_rand() & mask;
				/* 0: noise, 1: long runs, 2: runs of 1..10, 3: one value */
				if (shape == 1)
					in[i] = i % 300 < 150 ? 0 : mask;
				else if (shape == 2)
					in[i] = i && next_rand() % 10 ? in[i - 1] : r;
				else
					in[i] = r;
			}
			b.len = 0;
			T_EQ_INT(pq_rle_encode32(&b, in, n, w), 0);
			memset(out, 0xab, sizeof out);
			T_EQ_INT(pq_rle_decode32(b.p, b.len, w, out, n, &why), 0);
			T_CHECK(memcmp(in, out, n * sizeof *in) == 0);
		}
	}
	pq_buf_free(&b);
}

static void test_rle_decoder_refuses_short_or_bad_data(void)
{
	uint32_t out[64];
	const char *why = NULL;
	static const uint8_t short_run[] = {0x14}; /* a run of 10 with no value byte */
	T_EQ_INT(pq_rle_decode32(short_run, 1, 1, out, 10, &why), -1);
	static const uint8_t too_few[] = {0x0a, 0x01}; /* 5 values where 10 are due */
	T_EQ_INT(pq_rle_decode32(too_few, 2, 1, out, 10, &why), -1);
	T_EQ_STR(why, "run-length data ends early");
	static const uint8_t packed_cut[] = {0x05, 0xff}; /* 2 groups, 1 byte of 2 */
	T_EQ_INT(pq_rle_decode32(packed_cut, 2, 1, out, 16, &why), -1);
	T_EQ_STR(why, "bit-packed run ends early");
	static const uint8_t wide[] = {0x14, 0x05};
	T_EQ_INT(pq_rle_decode32(wide, 2, 2, out, 10, &why), -1);
	T_EQ_STR(why, "run value wider than its bit width");
	T_EQ_INT(pq_rle_decode32(wide, 2, 33, out, 10, &why), -1);
	T_EQ_STR(why, "bit width out of range");
	/* A final bit-packed group cut short still gives the values wholly present. */
	static const uint8_t unpadded[] = {0x03, 0x2d};
	T_EQ_INT(pq_rle_decode32(unpadded, 2, 2, out, 4, &why), 0);
	T_EQ_INT(out[0], 1);
	T_EQ_INT(out[1], 3);
	T_EQ_INT(out[2], 2);
	T_EQ_INT(out[3], 0);
}

static void test_delta_binary_packed_matches_the_format_example(void)
{
	int64_t t = 1704205800000000LL;
	int64_t v[8];
	for (int i = 0; i < 8; i++)
		v[i] = i < 4 ? t : t + (i - 3) * 60000000LL;
	struct pq_buf b = PQ_BUF_INIT;
	pq_dbp_encode64(&b, v, 8);
	T_CHECK(hex_eq(b.p, 17, "80 01 04 08 80 a8 aa d5 ea fd 86 06 00 1a 00 00 00"));
	T_EQ_INT(b.len, 17 + 104);
	int64_t out[8];
	size_t used;
	const char *why;
	T_EQ_INT(pq_dbp_decode64(b.p, b.len, out, 8, &used, &why), 0);
	T_EQ_INT(used, b.len);
	T_CHECK(memcmp(out, v, sizeof v) == 0);
	pq_buf_free(&b);
}

static void test_delta_binary_packed_round_trips_extremes(void)
{
	static int64_t v[1000], out[1000];
	static int32_t v32[1000], out32[1000];
	struct pq_buf b = PQ_BUF_INIT;
	size_t used;
	const char *why = NULL;
	size_t sizes[] = {0, 1, 2, 3, 31, 32, 33, 127, 128, 129, 130, 255, 256, 257, 1000};
	for (int shape = 0; shape < 5; shape++) {
		for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
			size_t n = sizes[s];
			for (size_t i = 0; i < n; i++) {
				uint64_t r = next_rand();
				switch (shape) {
				case 0: /* alternate the extremes: every delta wraps */
					v[i] = i % 2 ? INT64_MAX : INT64_MIN;
					break;
				case 1:
					v[i] = (int64_t)r;
					break;
				case 2: /* timestamps a minute apart */
					v[i] = 1700000000000000LL + (int64_t)i * 60000000LL;
					break;
				case 3: /* a constant */
					v[i] = -42;
					break;
				default: /* a small random walk */
					v[i] = i ? v[i - 1] + (int64_t)(r % 201) - 100 : 160070000;
					break;
				}
				v32[i] =
				    shape == 0 ? (i % 2 ? INT32_MAX : INT32_MIN) : (int32_t)v[i];
			}
			b.len = 0;
			T_EQ_INT(pq_dbp_encode64(&b, v, n), 0);
			memset(out, 0, sizeof out);
			T_EQ_INT(pq_dbp_decode64(b.p, b.len, out, n, &used, &why), 0);
			T_EQ_INT(used, b.len);
			T_CHECK(memcmp(out, v, n * sizeof *v) == 0);

			b.len = 0;
			T_EQ_INT(pq_dbp_encode32(&b, v32, n), 0);
			T_EQ_INT(pq_dbp_decode32(b.p, b.len, out32, n, &used, &why), 0);
			T_CHECK(memcmp(out32, v32, n * sizeof *v32) == 0);
		}
	}
	pq_buf_free(&b);
}

static void test_delta_binary_packed_refuses_bad_data(void)
{
	int64_t v[300], out[300];
	for (int i = 0; i < 300; i++)
		v[i] = i * i;
	struct pq_buf b = PQ_BUF_INIT;
	pq_dbp_encode64(&b, v, 300);
	size_t used;
	const char *why = NULL;
	T_EQ_INT(pq_dbp_decode64(b.p, b.len, out, 299, &used, &why), -1);
	T_EQ_STR(why, "delta value count differs from the page's");
	for (size_t n = 0; n < b.len; n++) {
		uint8_t *cut = malloc(n ? n : 1);
		memcpy(cut, b.p, n);
		T_EQ_INT(pq_dbp_decode64(cut, n, out, 300, &used, &why), -1);
		free(cut);
	}
	static const uint8_t badblock[] = {0x81, 0x01, 0x04, 0x02, 0x00, 0x00};
	T_EQ_INT(pq_dbp_decode64(badblock, sizeof badblock, out, 2, &used, &why), -1);
	T_EQ_STR(why, "delta block layout invalid");
	static const uint8_t wide[] = {0x80, 0x01, 0x04, 0x02, 0x00, 0x00, 0x41, 0, 0, 0};
	T_EQ_INT(pq_dbp_decode64(wide, sizeof wide, out, 2, &used, &why), -1);
	T_EQ_STR(why, "delta bit width over 64");
	pq_buf_free(&b);
}

static void test_byte_array_encodings_round_trip(void)
{
	static const char *const words[] = {"",     "a",   "ab",
	                                    "abc",  "abd", "\xff\xfe",
	                                    "\xff", "",    "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
	                                    "zzz"};
	size_t n = sizeof words / sizeof *words;
	struct pq_bytes v[10], out[10];
	for (size_t i = 0; i < n; i++) {
		v[i].p = (const uint8_t *)words[i];
		v[i].len = strlen(words[i]);
	}
	struct pq_buf b = PQ_BUF_INIT, rebuilt = PQ_BUF_INIT;
	size_t used;
	const char *why = NULL;
	T_EQ_INT(pq_dlba_encode(&b, v, n), 0);
	T_EQ_INT(pq_dlba_decode(b.p, b.len, out, n, &used, &why), 0);
	T_EQ_INT(used, b.len);
	for (size_t i = 0; i < n; i++)
		T_CHECK(out[i].len == v[i].len && memcmp(out[i].p, v[i].p, v[i].len) == 0);

	b.len = 0;
	T_EQ_INT(pq_dba_encode(&b, v, n), 0);
	T_EQ_INT(pq_dba_decode(b.p, b.len, out, n, &rebuilt, 1 << 20, &why), 0);
	for (size_t i = 0; i < n; i++)
		T_CHECK(out[i].len == v[i].len && memcmp(out[i].p, v[i].p, v[i].len) == 0);
	T_EQ_INT(pq_dba_decode(b.p, b.len, out, n, &rebuilt, 10, &why), -1);
	T_EQ_STR(why, "decoded strings too large");

	/* A prefix longer than the value before it. */
	struct pq_buf bad = PQ_BUF_INIT;
	int32_t pre[2] = {0, 5}, suf[2] = {1, 1};
	pq_dbp_encode32(&bad, pre, 2);
	pq_dbp_encode32(&bad, suf, 2);
	pq_buf_put(&bad, "xy", 2);
	T_EQ_INT(pq_dba_decode(bad.p, bad.len, out, 2, &rebuilt, 1 << 20, &why), -1);
	T_EQ_STR(why, "prefix longer than the previous value");
	pq_buf_free(&bad);
	pq_buf_free(&b);
	pq_buf_free(&rebuilt);
}

static void test_byte_stream_split_round_trips(void)
{
	double d[5] = {1.5, -0.0, 1e300, -3.25, 0}, back[5];
	uint8_t split[40];
	pq_bss_encode(split, (const uint8_t *)d, 5, 8);
	/* The first stream holds each value's lowest byte. */
	for (int i = 0; i < 5; i++)
		T_EQ_INT(split[i], ((const uint8_t *)&d[i])[0]);
	pq_bss_decode((uint8_t *)back, split, 5, 8);
	T_CHECK(memcmp(d, back, sizeof d) == 0);
}

int main(void)
{
	T_RUN(test_bit_packing_round_trips_every_width);
	T_RUN(test_bit_packing_is_lsb_first);
	T_RUN(test_rle_levels_match_the_format_examples);
	T_RUN(test_rle_round_trips_runs_and_noise);
	T_RUN(test_rle_decoder_refuses_short_or_bad_data);
	T_RUN(test_delta_binary_packed_matches_the_format_example);
	T_RUN(test_delta_binary_packed_round_trips_extremes);
	T_RUN(test_delta_binary_packed_refuses_bad_data);
	T_RUN(test_byte_array_encodings_round_trip);
	T_RUN(test_byte_stream_split_round_trips);
	T_DONE();
}

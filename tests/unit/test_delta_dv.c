/*
 * Deletion vectors: Z85 text, the 64-bit portable Roaring bitmap with each
 * kind of container, the descriptor's unique id, and what is refused.
 */
#include "t.h"

#include "delta/delta.h"

/* A bitmap being built, little-endian as the format has it. */
struct bm {
	uint8_t b[20000];
	size_t n;
};

static void u16(struct bm *m, unsigned v)
{
	m->b[m->n++] = (uint8_t)v;
	m->b[m->n++] = (uint8_t)(v >> 8);
}

static void u32(struct bm *m, uint32_t v)
{
	u16(m, v & 0xFFFF);
	u16(m, v >> 16);
}

/* The magic number and the number of buckets. */
static void head(struct bm *m, uint32_t buckets)
{
	m->n = 0;
	u32(m, 1681511377u);
	u32(m, buckets);
	u32(m, 0);
}

/* A bucket of one array container of the values (below 2^16) given. */
static void array_bucket(struct bm *m, uint32_t key, const uint16_t *v, unsigned n)
{
	u32(m, key);
	u32(m, 12346); /* no run containers */
	u32(m, 1);
	u16(m, 0);
	u16(m, n - 1);
	u32(m, 16); /* the container's offset in the bucket */
	for (unsigned i = 0; i < n; i++)
		u16(m, v[i]);
}

static void test_z85(void)
{
	struct buf b = BUF_INIT;
	/* The example of ZeroMQ's RFC 32. */
	T_EQ_INT(delta_z85_decode("HelloWorld", 10, &b), 0);
	static const uint8_t want[] = {0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B};
	T_EQ_INT(b.len, 8);
	T_CHECK(memcmp(b.data, want, 8) == 0);
	buf_reset(&b);
	T_EQ_INT(delta_z85_decode("Hello", 4, &b), -1);  /* not a multiple of 5 */
	T_EQ_INT(delta_z85_decode("Hel\"o", 5, &b), -1); /* not in the alphabet */
	T_EQ_INT(delta_z85_decode("#####", 5, &b), -1);  /* past 2^32 */
	buf_free(&b);
}

static void test_array_containers_in_two_buckets(void)
{
	struct bm m;
	static const uint16_t lo[] = {1, 3, 65535}, hi[] = {7};
	head(&m, 2);
	array_bucket(&m, 0, lo, 3);
	array_bucket(&m, 5, hi, 1);
	struct delta_dv dv;
	const char *why = NULL;
	T_EQ_INT(delta_dv_parse(m.b, m.n, 4, &dv, &why), 0);
	T_EQ_INT(dv.n, 4);
	if (dv.n == 4) {
		T_EQ_INT(dv.rows[0], 1);
		T_EQ_INT(dv.rows[1], 3);
		T_EQ_INT(dv.rows[2], 65535);
		T_CHECK(dv.rows[3] == ((uint64_t)5 << 32 | 7));
	}
	delta_dv_free(&dv);
	/* the cardinality the descriptor states must be the bitmap's */
	T_EQ_INT(delta_dv_parse(m.b, m.n, 3, &dv, &why), -1);
	T_EQ_INT(delta_dv_parse(m.b, m.n, 5, &dv, &why), -1);
	T_EQ_STR(why, "it holds other than the number of rows its cardinality says");
	/* cut short, or with bytes after it */
	T_EQ_INT(delta_dv_parse(m.b, m.n - 1, 4, &dv, &why), -1);
	m.b[m.n] = 0;
	T_EQ_INT(delta_dv_parse(m.b, m.n + 1, 4, &dv, &why), -1);
	T_EQ_STR(why, "bytes follow its bitmap");
	/* another magic number */
	m.b[0] ^= 1;
	T_EQ_INT(delta_dv_parse(m.b, m.n, 4, &dv, &why), -1);
	T_EQ_STR(why, "it does not start with the magic number of the format");
}

static void test_bitmap_and_run_containers(void)
{
	struct bm m;
	head(&m, 1);
	u32(&m, 0);
	/* Two containers, the second of runs: the cookie counts them, a bit says which run. */
	u32(&m, 12347 | (2 - 1) << 16);
	m.b[m.n++] = 0x2; /* container 1 is of runs */
	u16(&m, 0);       /* container 0: key 0, 5000 values: a bitmap */
	u16(&m, 5000 - 1);
	u16(&m, 2); /* container 1: key 2, runs of 3 + 2 values */
	u16(&m, 5 - 1);
	/* fewer than four containers with runs: no offsets */
	size_t at = m.n;
	memset(m.b + at, 0, 8192);
	for (unsigned v = 0; v < 10000; v += 2)
		m.b[at + v / 8] |= (uint8_t)(1u << (v % 8));
	m.n += 8192;
	u16(&m, 2);  /* runs */
	u16(&m, 10); /* 10, 11, 12 */
	u16(&m, 2);
	u16(&m, 100); /* 100, 101 */
	u16(&m, 1);
	struct delta_dv dv;
	const char *why = NULL;
	T_EQ_INT(delta_dv_parse(m.b, m.n, 5005, &dv, &why), 0);
	T_EQ_INT(dv.n, 5005);
	if (dv.n == 5005) {
		T_EQ_INT(dv.rows[0], 0);
		T_EQ_INT(dv.rows[4999], 9998);
		T_EQ_INT(dv.rows[5000], 2 * 65536 + 10);
		T_EQ_INT(dv.rows[5002], 2 * 65536 + 12);
		T_EQ_INT(dv.rows[5004], 2 * 65536 + 101);
	}
	delta_dv_free(&dv);
	/* a run past its container's end */
	m.b[m.n - 4] = 0xFF;
	m.b[m.n - 3] = 0xFF;
	T_EQ_INT(delta_dv_parse(m.b, m.n, 5005, &dv, &why), -1);
	T_EQ_STR(why, "a run passes its container's end");
}

static void test_containers_out_of_order(void)
{
	struct bm m;
	head(&m, 1);
	u32(&m, 0);
	u32(&m, 12346);
	u32(&m, 2);
	u16(&m, 3); /* key 3, then key 1 */
	u16(&m, 0);
	u16(&m, 1);
	u16(&m, 0);
	u32(&m, 24);
	u32(&m, 26);
	u16(&m, 9);
	u16(&m, 9);
	struct delta_dv dv;
	const char *why = NULL;
	T_EQ_INT(delta_dv_parse(m.b, m.n, 2, &dv, &why), -1);
	T_EQ_STR(why, "a bucket's containers are out of order");
	/* a bucket key with its top bit set */
	static const uint16_t one[] = {1};
	head(&m, 1);
	array_bucket(&m, 0x80000000u, one, 1);
	T_EQ_INT(delta_dv_parse(m.b, m.n, 1, &dv, &why), -1);
}

static void test_rows_past_the_file(void)
{
	struct bm m;
	static const uint16_t rows[] = {1, 10};
	head(&m, 1);
	array_bucket(&m, 0, rows, 2);
	struct delta_dv dv;
	const char *why = NULL;
	struct err_msg e = {0};
	T_EQ_INT(delta_dv_parse(m.b, m.n, 2, &dv, &why), 0);
	/* row 10 is the last of a file of 11 rows, and past the last of a file of 10 */
	const char *inl = "{\"storageType\":\"i\",\"pathOrInlineDv\":\"x\",\"sizeInBytes\":36,"
	                  "\"cardinality\":2}";
	T_EQ_INT(delta_dv_check_rows("t", "a.parquet", inl, &dv, 11, &e), 0);
	T_EQ_INT(delta_dv_check_rows("t", "a.parquet", inl, &dv, 10, &e), -1);
	T_EQ_INT(e.status, 65);
	T_EQ_STR(e.text,
	         "t: deletion vector of a.parquet: the vector inline in the log marks row 10, "
	         "past the file's last (it has 10 rows): it is not this file's");
	T_EQ_INT(delta_dv_check_rows("t", "a.parquet",
	                             "{\"storageType\":\"p\",\"pathOrInlineDv\":\"file:/v/dv.bin\","
	                             "\"offset\":4,\"sizeInBytes\":36,\"cardinality\":2}",
	                             &dv, 0, &e),
	         -1);
	T_EQ_STR(e.text,
	         "t: deletion vector of a.parquet: the vector in /v/dv.bin at offset 4 marks "
	         "row 10, past the file's last (it has 0 rows): it is not this file's");
	delta_dv_free(&dv);
	/* no rows at all: any file's */
	T_EQ_INT(delta_dv_check_rows("t", "a.parquet", inl, &dv, 0, &e), 0);
}

static void test_unique_id(void)
{
	struct buf b = BUF_INIT;
	T_EQ_INT(delta_dv_id("{\"storageType\":\"u\",\"pathOrInlineDv\":\"ab^-aqEH.-t@S}K{vb[*k^\","
	                     "\"offset\":4,\"sizeInBytes\":40,\"cardinality\":6}",
	                     &b),
	         0);
	T_EQ_STR(b.data, "uab^-aqEH.-t@S}K{vb[*k^@4");
	buf_free(&b);
	T_CHECK(delta_same_dv(NULL, NULL));
	T_CHECK(!delta_same_dv(NULL, "{\"storageType\":\"i\",\"pathOrInlineDv\":\"x\"}"));
	T_CHECK(
	    delta_same_dv("{\"storageType\":\"i\",\"pathOrInlineDv\":\"x\",\"cardinality\":1}",
	                  "{\"cardinality\":1,\"pathOrInlineDv\":\"x\",\"storageType\":\"i\"}"));
	T_CHECK(!delta_same_dv("{\"storageType\":\"u\",\"pathOrInlineDv\":\"x\",\"offset\":1}",
	                       "{\"storageType\":\"u\",\"pathOrInlineDv\":\"x\",\"offset\":2}"));
}

int main(void)
{
	T_RUN(test_z85);
	T_RUN(test_array_containers_in_two_buckets);
	T_RUN(test_bitmap_and_run_containers);
	T_RUN(test_containers_out_of_order);
	T_RUN(test_rows_past_the_file);
	T_RUN(test_unique_id);
	T_DONE();
}

/*
 * Unit tests for the Parquet writer's dictionaries: a chunk whose
 * dictionary outgrew dict_max_bytes on its first page must leave nothing
 * behind for the next chunk of the column (the next row group), whose
 * dictionary starts empty; and a dictionary that outgrows it later falls
 * back to an encoding the column's type has.
 */
#include "parquet/parquet.h"
#include "t.h"

#include <stdlib.h>
#include <unistd.h>

static char dir[256];
static char path[512];

/*
 * Write one string column in row groups of 10: the first row group holds
 * 10 distinct strings of 20 bytes (240 bytes of PLAIN dictionary, over
 * dict_max_bytes), the second only strings already seen in the first.
 * Read it back: every value as written.
 */
static void write_and_check(int forced)
{
	struct err_msg e = {{0}, 0};
	struct pq_schema *s = pq_schema_new();
	pq_schema_add(s, PQ_ROOT, "v", PQ_STRING, 0);
	struct pq_write_options o;
	pq_write_options_init(&o);
	o.dict_max_bytes = 100;
	o.row_group_rows = 10;
	o.threads = 1;
	snprintf(path, sizeof path, "%s/dict%d.parquet", dir, forced);
	struct pq_writer *w = pq_writer_open(path, s, &o, &e);
	pq_schema_free(s);
	T_CHECK(w != NULL);
	if (!w)
		return;
	if (forced)
		T_EQ_INT(pq_writer_set_encoding(w, 0, PQ_ENC_RLE_DICTIONARY), 0);
	char b[64];
	for (int i = 0; i < 30; i++) {
		snprintf(b, sizeof b, "a-string-of-20-b-%03d", i < 10 ? i : i % 3);
		pq_writer_put_bytes(w, 0, b, strlen(b));
		pq_writer_end_row(w);
	}
	T_EQ_INT(pq_writer_close(w), 0);
	pq_writer_free(w);

	struct pq_reader *r = pq_reader_open(path, NULL, &e);
	T_CHECK(r != NULL);
	if (!r)
		return;
	T_EQ_INT(pq_reader_num_row_groups(r), 3);
	const struct pq_value *row;
	int rc, i = 0, bad = 0;
	while ((rc = pq_reader_next_row(r, &row, &e)) > 0) {
		snprintf(b, sizeof b, "a-string-of-20-b-%03d", i < 10 ? i : i % 3);
		const struct pq_value *v = &row->items[0];
		bad += v->kind != PQ_V_BYTES || v->bytes.len != strlen(b) ||
		       memcmp(v->bytes.p, b, v->bytes.len) != 0;
		i++;
	}
	if (rc < 0)
		printf("#   %s\n", e.text);
	T_EQ_INT(rc, 0);
	T_EQ_INT(i, 30);
	T_EQ_INT(bad, 0);
	/* The later row groups took a dictionary of their own. */
	struct pq_chunk_info ci;
	pq_reader_chunk_info(r, 1, 0, &ci);
	T_CHECK(ci.dictionary_page_offset > 0);
	pq_reader_close(r);
	unlink(path);
}

static void test_a_dictionary_given_up_on_the_first_page_leaves_no_entries_to_the_next_chunk(void)
{
	write_and_check(0);
}

static void
test_a_forced_dictionary_given_up_on_the_first_page_leaves_no_entries_to_the_next_chunk(void)
{
	write_and_check(1);
}

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Value i of the fallback files: the first 3000 among `distinct`, then all new. */
static uint64_t fallback_key(int i, int distinct)
{
	return (i < 3000 ? (uint64_t)i * 7919 % (uint64_t)distinct : rnd()) * 0x9e3779b97f4a7c15ull;
}

static void put_fallback_value(struct pq_writer *w, enum pq_type t, uint64_t h)
{
	char b[32];
	switch (t) {
	case PQ_FLOAT:
		pq_writer_put_f32(w, 0, (float)(h >> 40) / 7.0f);
		break;
	case PQ_DOUBLE:
		pq_writer_put_f64(w, 0, (double)(h >> 12) / 7.0);
		break;
	case PQ_DECIMAL:
		pq_writer_put_dec(w, 0, (pq_int128)(h >> 4) * 1000003);
		break;
	default:
		snprintf(b, sizeof b, "%010llx", (unsigned long long)(h >> 24));
		pq_writer_put_bytes(w, 0, b, strlen(b));
		break;
	}
}

static int fallback_value_is(const struct pq_value *v, enum pq_type t, uint64_t h)
{
	char b[32];
	switch (t) {
	case PQ_FLOAT:
		return v->kind == PQ_V_F32 && v->f32 == (float)(h >> 40) / 7.0f;
	case PQ_DOUBLE:
		return v->kind == PQ_V_F64 && v->f64 == (double)(h >> 12) / 7.0;
	case PQ_DECIMAL:
		return v->kind == PQ_V_DEC && v->dec == (pq_int128)(h >> 4) * 1000003;
	default:
		snprintf(b, sizeof b, "%010llx", (unsigned long long)(h >> 24));
		return v->kind == PQ_V_BYTES && v->bytes.len == strlen(b) &&
		       memcmp(v->bytes.p, b, v->bytes.len) == 0;
	}
}

/*
 * Columns of types without DELTA_BINARY_PACKED whose first page takes a
 * dictionary that later outgrows dict_max_bytes, for first pages of many
 * cardinalities (so that some are decided by the compressed sizes, where
 * PLAIN can be ruled out): the chunk falls back to PLAIN, never to
 * DELTA_BINARY_PACKED, and reads back as written.
 */
static void test_a_dictionary_that_grows_too_large_falls_back_to_an_encoding_of_the_type(void)
{
	static const enum pq_type types[] = {PQ_STRING, PQ_BINARY, PQ_FLOAT, PQ_DOUBLE, PQ_DECIMAL};
	int dict_files = 0;
	for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
		for (int distinct = 100; distinct <= 1000; distinct += 100) {
			enum pq_type t = types[ti];
			struct err_msg e = {{0}, 0};
			struct pq_schema *s = pq_schema_new();
			if (t == PQ_DECIMAL)
				pq_schema_add_decimal(s, PQ_ROOT, "v", 38, 2, 0);
			else
				pq_schema_add(s, PQ_ROOT, "v", t, 0);
			struct pq_write_options o;
			pq_write_options_init(&o);
			o.page_bytes = 16384;
			o.dict_max_bytes = 20000;
			o.threads = 1;
			snprintf(path, sizeof path, "%s/fallback.parquet", dir);
			struct pq_writer *w = pq_writer_open(path, s, &o, &e);
			pq_schema_free(s);
			T_CHECK(w != NULL);
			if (!w)
				return;
			uint64_t seed = rng;
			for (int i = 0; i < 20000; i++) {
				put_fallback_value(w, t, fallback_key(i, distinct));
				pq_writer_end_row(w);
			}
			T_EQ_INT(pq_writer_close(w), 0);
			pq_writer_free(w);

			struct pq_reader *r = pq_reader_open(path, NULL, &e);
			T_CHECK(r != NULL);
			if (!r)
				return;
			struct pq_chunk_info ci;
			pq_reader_chunk_info(r, 0, 0, &ci);
			for (int k = 0; k < ci.nencodings; k++)
				T_CHECK(ci.encodings[k] != PQ_ENC_DELTA_BINARY_PACKED);
			dict_files += ci.dictionary_page_offset > 0;
			rng = seed;
			const struct pq_value *row;
			int rc, i = 0, bad = 0;
			while ((rc = pq_reader_next_row(r, &row, &e)) > 0) {
				bad += !fallback_value_is(&row->items[0], t,
				                          fallback_key(i, distinct));
				i++;
			}
			if (rc < 0)
				printf("#   %s %d: %s\n", pq_type_name(t), distinct, e.text);
			T_EQ_INT(rc, 0);
			T_EQ_INT(i, 20000);
			T_EQ_INT(bad, 0);
			pq_reader_close(r);
			unlink(path);
		}
	}
	/* The sweep did try dictionaries that then fell back. */
	T_CHECK(dict_files > 10);
}

int main(void)
{
	snprintf(dir, sizeof dir, "%s/test_parquet_dictionary.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 70;
	}
	T_RUN(test_a_dictionary_given_up_on_the_first_page_leaves_no_entries_to_the_next_chunk);
	T_RUN(
	    test_a_forced_dictionary_given_up_on_the_first_page_leaves_no_entries_to_the_next_chunk);
	T_RUN(test_a_dictionary_that_grows_too_large_falls_back_to_an_encoding_of_the_type);
	rmdir(dir);
	T_DONE();
}

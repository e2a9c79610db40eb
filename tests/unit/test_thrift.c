/* Unit tests for common/parquet/thrift: the compact protocol, written and read back. */
#include "parquet/pq_internal.h"
#include "t.h"
#include "parquet/thrift_internal.h"

static int bytes_eq(const struct pq_buf *b, const uint8_t *want, size_t n)
{
	if (b->len != n || memcmp(b->p, want, n) != 0) {
		printf("#   got");
		for (size_t i = 0; i < b->len; i++)
			printf(" %02x", b->p[i]);
		printf("\n");
		return 0;
	}
	return 1;
}

static void test_data_page_header_bytes_match_the_format_example(void)
{
	static const uint8_t want[] = {0x15, 0x00, 0x15, 0xc8, 0x01, 0x15, 0x78, 0x2c, 0x15,
	                               0x14, 0x15, 0x00, 0x15, 0x06, 0x15, 0x06, 0x00, 0x00};
	struct pq_buf b = PQ_BUF_INIT;
	struct thrift_w w;
	thrift_w_init(&w, &b);
	thrift_struct_begin(&w);
	thrift_i32(&w, 1, 0);
	thrift_i32(&w, 2, 100);
	thrift_i32(&w, 3, 60);
	thrift_struct_field(&w, 5);
	thrift_i32(&w, 1, 10);
	thrift_i32(&w, 2, 0);
	thrift_i32(&w, 3, 3);
	thrift_i32(&w, 4, 3);
	thrift_struct_end(&w);
	thrift_struct_end(&w);
	T_CHECK(!w.failed);
	T_CHECK(bytes_eq(&b, want, sizeof want));

	struct pq_page_header h;
	size_t used = 0;
	const char *why = NULL;
	T_EQ_INT(pq_page_header_parse(b.p, b.len, &h, &used, &why), 0);
	T_EQ_INT(used, sizeof want);
	T_EQ_INT(h.type, PQ_PAGE_DATA);
	T_EQ_INT(h.unc, 100);
	T_EQ_INT(h.comp, 60);
	T_EQ_INT(h.num_values, 10);
	T_EQ_INT(h.def_enc, 3);
	pq_buf_free(&b);
}

static void test_page_header_crc_and_type_are_read(void)
{
	/* A dictionary page with a CRC whose top bit is set (a negative i32 on the wire). */
	struct pq_buf b = PQ_BUF_INIT;
	struct thrift_w w;
	thrift_w_init(&w, &b);
	thrift_struct_begin(&w);
	thrift_i32(&w, 1, PQ_PAGE_DICTIONARY);
	thrift_i32(&w, 2, 8);
	thrift_i32(&w, 3, 8);
	thrift_i32(&w, 4, (int32_t)0xcbf43926u);
	thrift_struct_field(&w, 7);
	thrift_i32(&w, 1, 1);
	thrift_i32(&w, 2, 0);
	thrift_struct_end(&w);
	thrift_struct_end(&w);
	struct pq_page_header h;
	size_t used = 0;
	const char *why = NULL;
	T_EQ_INT(pq_page_header_parse(b.p, b.len, &h, &used, &why), 0);
	T_EQ_INT(h.has_crc, 1);
	T_EQ_INT(h.crc, 0xcbf43926u);

	/* The same with an index page's type: its dictionary header contradicts it. */
	b.p[1] = 0x02; /* zigzag 1: INDEX_PAGE */
	T_EQ_INT(pq_page_header_parse(b.p, b.len, &h, &used, &why), -1);
	T_EQ_STR(why, "page header does not match its page type");
	/* An unknown type: the same. */
	b.p[1] = 0x0e;
	T_EQ_INT(pq_page_header_parse(b.p, b.len, &h, &used, &why), -1);
	T_EQ_STR(why, "page header does not match its page type");
	pq_buf_free(&b);

	/* A page of an unknown type with no page-specific header is skipped by readers. */
	thrift_w_init(&w, &b);
	thrift_struct_begin(&w);
	thrift_i32(&w, 1, 7);
	thrift_i32(&w, 2, 0);
	thrift_i32(&w, 3, 0);
	thrift_struct_end(&w);
	T_EQ_INT(pq_page_header_parse(b.p, b.len, &h, &used, &why), 0);
	T_EQ_INT(h.has_crc, 0);
	pq_buf_free(&b);
}

static void test_column_orders_bytes_match_the_format_example(void)
{
	static const uint8_t want[] = {0x79, 0x2c, 0x1c, 0x00, 0x00, 0x1c, 0x00, 0x00};
	struct pq_buf b = PQ_BUF_INIT;
	struct thrift_w w;
	thrift_w_init(&w, &b);
	thrift_struct_begin(&w);
	thrift_list_field(&w, 7, THRIFT_STRUCT, 2);
	for (int i = 0; i < 2; i++) {
		thrift_struct_begin(&w);
		thrift_struct_field(&w, 1);
		thrift_struct_end(&w);
		thrift_struct_end(&w);
	}
	T_CHECK(bytes_eq(&b, want, sizeof want));
	pq_buf_free(&b);
}

static void test_every_type_round_trips(void)
{
	struct pq_buf b = PQ_BUF_INIT;
	struct thrift_w w;
	thrift_w_init(&w, &b);
	thrift_struct_begin(&w);
	thrift_i32(&w, 1, INT32_MIN);
	thrift_i64(&w, 2, INT64_MAX);
	thrift_bool(&w, 3, 1);
	thrift_bool(&w, 4, 0);
	thrift_string(&w, 40, "far field"); /* a delta over 15: long header */
	thrift_i64(&w, 20, -1);             /* a negative delta */
	thrift_i8(&w, 21, -5);
	thrift_list_field(&w, 22, THRIFT_I32, 20); /* 15 or more: long list header */
	for (int i = 0; i < 20; i++)
		thrift_put_varint(&w, i * 1000 - 7);
	thrift_struct_end(&w);
	T_CHECK(!w.failed);

	struct thrift_r r;
	int16_t last = 0, id;
	int type, n = 0;
	thrift_r_init(&r, b.p, b.len);
	T_EQ_INT(thrift_enter(&r), 0);
	while (thrift_next_field(&r, &last, &id, &type) > 0) {
		int32_t i32;
		int64_t i64;
		int bv;
		const uint8_t *p;
		size_t len;
		n++;
		switch (id) {
		case 1:
			T_EQ_INT(thrift_read_i32(&r, type, &i32), 0);
			T_EQ_INT(i32, INT32_MIN);
			break;
		case 2:
			T_EQ_INT(thrift_read_i64(&r, type, &i64), 0);
			T_CHECK(i64 == INT64_MAX);
			break;
		case 3:
		case 4:
			T_EQ_INT(thrift_read_bool(&r, type, &bv), 0);
			T_EQ_INT(bv, id == 3);
			break;
		case 40:
			T_EQ_INT(thrift_read_binary(&r, type, &p, &len), 0);
			T_EQ_INT(len, 9);
			T_CHECK(memcmp(p, "far field", 9) == 0);
			break;
		case 20:
			T_EQ_INT(thrift_read_i64(&r, type, &i64), 0);
			T_EQ_INT(i64, -1);
			break;
		case 21:
			T_EQ_INT(thrift_read_i32(&r, type, &i32), 0);
			T_EQ_INT(i32, -5);
			break;
		case 22: {
			int et;
			T_EQ_INT(thrift_read_list(&r, type, &et, &len), 0);
			T_EQ_INT(len, 20);
			for (size_t i = 0; i < len; i++) {
				T_EQ_INT(thrift_read_i32(&r, et, &i32), 0);
				T_EQ_INT(i32, (int)i * 1000 - 7);
			}
			break;
		}
		default:
			T_CHECK(0);
		}
	}
	T_CHECK(r.err == NULL);
	T_EQ_INT(n, 8);
	T_CHECK(r.p == r.end);
	pq_buf_free(&b);
}

static void test_unknown_fields_of_every_type_are_skipped(void)
{
	/* A struct with one field of each type, then a field the reader wants. */
	struct pq_buf b = PQ_BUF_INIT;
	struct thrift_w w;
	thrift_w_init(&w, &b);
	thrift_struct_begin(&w);
	thrift_bool(&w, 1, 1);
	thrift_i8(&w, 2, 1);
	thrift_field(&w, 3, THRIFT_I16);
	thrift_put_varint(&w, 300);
	thrift_i32(&w, 4, 7);
	thrift_i64(&w, 5, 1LL << 40);
	thrift_field(&w, 6, THRIFT_DOUBLE);
	pq_buf_put(&b, "\0\0\0\0\0\0\xf0\x3f", 8);
	thrift_binary(&w, 7, "xyz", 3);
	thrift_list_field(&w, 8, THRIFT_TRUE, 3);
	pq_buf_put(&b, "\1\2\1", 3);
	thrift_field(&w, 9, THRIFT_MAP);
	pq_buf_put(&b, "\x02\x85\x01\x61\x02\x01\x62\x04", 8); /* {"a": 1, "b": 2} */
	thrift_struct_field(&w, 10);
	thrift_list_field(&w, 1, THRIFT_STRUCT, 1);
	thrift_struct_begin(&w);
	thrift_i32(&w, 1, 5);
	thrift_struct_end(&w);
	thrift_struct_end(&w);
	thrift_i32(&w, 11, 42);
	thrift_struct_end(&w);

	struct thrift_r r;
	int16_t last = 0, id;
	int type, found = 0;
	thrift_r_init(&r, b.p, b.len);
	thrift_enter(&r);
	while (thrift_next_field(&r, &last, &id, &type) > 0) {
		if (id == 11) {
			int32_t v;
			T_EQ_INT(thrift_read_i32(&r, type, &v), 0);
			T_EQ_INT(v, 42);
			found = 1;
		} else {
			T_EQ_INT(thrift_skip(&r, type), 0);
		}
	}
	T_CHECK(r.err == NULL);
	T_CHECK(found);
	pq_buf_free(&b);
}

static void test_every_truncation_is_an_error_not_a_crash(void)
{
	struct pq_buf b = PQ_BUF_INIT;
	struct thrift_w w;
	thrift_w_init(&w, &b);
	thrift_struct_begin(&w);
	thrift_i64(&w, 1, 123456789);
	thrift_string(&w, 2, "hello");
	thrift_list_field(&w, 3, THRIFT_STRUCT, 2);
	for (int i = 0; i < 2; i++) {
		thrift_struct_begin(&w);
		thrift_i32(&w, 1, i);
		thrift_struct_end(&w);
	}
	thrift_struct_end(&w);
	for (size_t n = 0; n < b.len; n++) {
		/* A copy of exactly n bytes, so that ASan sees any read past it. */
		uint8_t *cut = malloc(n ? n : 1);
		memcpy(cut, b.p, n);
		struct thrift_r r;
		thrift_r_init(&r, cut, n);
		T_EQ_INT(thrift_skip(&r, THRIFT_STRUCT), -1);
		T_CHECK(r.err != NULL);
		free(cut);
	}
	struct thrift_r r;
	thrift_r_init(&r, b.p, b.len);
	T_EQ_INT(thrift_skip(&r, THRIFT_STRUCT), 0);
	pq_buf_free(&b);
}

static void test_hostile_input_is_refused(void)
{
	struct thrift_r r;
	int16_t last = 0, id;
	int type, et;
	size_t n;
	const uint8_t *p;

	/* An eleven-byte varint. */
	static const uint8_t longvar[] = {0x16, 0xff, 0xff, 0xff, 0xff, 0xff,
	                                  0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	int64_t v;
	thrift_r_init(&r, longvar, sizeof longvar);
	T_EQ_INT(thrift_next_field(&r, &last, &id, &type), 1);
	T_EQ_INT(thrift_read_i64(&r, type, &v), -1);
	T_EQ_STR(r.err, "varint overflow");

	/* A string longer than the data. */
	static const uint8_t longstr[] = {0x08, 0x40, 'a'};
	thrift_r_init(&r, longstr, sizeof longstr);
	T_EQ_INT(thrift_read_binary(&r, THRIFT_BINARY, &p, &n), -1);

	/* A list claiming more elements than there are bytes. */
	static const uint8_t biglist[] = {0xf5, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
	thrift_r_init(&r, biglist, sizeof biglist);
	T_EQ_INT(thrift_read_list(&r, THRIFT_LIST, &et, &n), -1);
	T_EQ_STR(r.err, "list longer than its data");

	/* Structs nested deeper than the limit. */
	uint8_t deep[200];
	for (size_t i = 0; i < sizeof deep; i++)
		deep[i] = 0x1c; /* field 1, struct */
	thrift_r_init(&r, deep, sizeof deep);
	T_EQ_INT(thrift_skip(&r, THRIFT_STRUCT), -1);
	T_EQ_STR(r.err, "nesting too deep");

	/* A field of the wrong type. */
	static const uint8_t wrong[] = {0x18, 0x01, 'a'};
	int32_t i32;
	last = 0;
	thrift_r_init(&r, wrong, sizeof wrong);
	T_EQ_INT(thrift_next_field(&r, &last, &id, &type), 1);
	T_EQ_INT(thrift_read_i32(&r, type, &i32), -1);
	T_EQ_STR(r.err, "field has the wrong type");
}

int main(void)
{
	T_RUN(test_data_page_header_bytes_match_the_format_example);
	T_RUN(test_page_header_crc_and_type_are_read);
	T_RUN(test_column_orders_bytes_match_the_format_example);
	T_RUN(test_every_type_round_trips);
	T_RUN(test_unknown_fields_of_every_type_are_skipped);
	T_RUN(test_every_truncation_is_an_error_not_a_crash);
	T_RUN(test_hostile_input_is_refused);
	T_DONE();
}

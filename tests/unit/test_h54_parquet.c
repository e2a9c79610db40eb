/*
 * Unit tests for the Parquet writer's dictionaries across column chunks:
 * a chunk whose dictionary outgrew dict_max_bytes on its first page must
 * leave nothing behind for the next chunk of the column (the next row
 * group), whose dictionary starts empty.
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

int main(void)
{
	snprintf(dir, sizeof dir, "%s/test_h54_parquet.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 70;
	}
	T_RUN(test_a_dictionary_given_up_on_the_first_page_leaves_no_entries_to_the_next_chunk);
	T_RUN(
	    test_a_forced_dictionary_given_up_on_the_first_page_leaves_no_entries_to_the_next_chunk);
	rmdir(dir);
	T_DONE();
}

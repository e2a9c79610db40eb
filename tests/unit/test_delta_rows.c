/*
 * Unit tests for the data-file reader and writer (common/delta/
 * delta_rows_read.c, delta_rows_write.c): rows written into partition
 * files read back whole and projected, partition values restored, a
 * column the file lacks read as null, files sorted within and cut at the
 * target size, discarded files removed, files pruned by partition values
 * and statistics, and the transaction's read predicate that upserts use
 * (common/delta/delta_txn.c).
 */
#include "t_delta.h"

#include "delta/delta_rows.h"
#include "t.h"

/* k string, t timestamp, d date (partition), x decimal(18,6), n long. */
static struct delta_schema schema_of(const char *extra)
{
	char text[1024];
	snprintf(text, sizeof text,
	         "{\"type\":\"struct\",\"fields\":["
	         "{\"name\":\"k\",\"type\":\"string\",\"nullable\":false,\"metadata\":{}},"
	         "{\"name\":\"t\",\"type\":\"timestamp\",\"nullable\":false,\"metadata\":{}},"
	         "{\"name\":\"d\",\"type\":\"date\",\"nullable\":true,\"metadata\":{}},"
	         "{\"name\":\"x\",\"type\":\"decimal(18,6)\",\"nullable\":true,\"metadata\":{}},"
	         "{\"name\":\"n\",\"type\":\"long\",\"nullable\":true,\"metadata\":{}}%s]}",
	         extra);
	struct delta_schema s;
	struct err_msg e;
	if (delta_schema_parse_json(text, strlen(text), &s, &e) < 0) {
		printf("# %s\n", e.text);
		exit(70);
	}
	return s;
}

static char *parts[] = {(char *)"d"};

/* Row i: key "k<i % 7>", t = i seconds, d = day i % 2, x = i.5, n null for odd i. */
static void row(int i, struct delta_cell c[5], char *key)
{
	memset(c, 0, 5 * sizeof *c);
	snprintf(key, 16, "k%d", i % 7);
	c[0].s = key;
	c[0].n = strlen(key);
	c[1].i = (int64_t)i * 1000000;
	c[2].i = 19000 + i % 2;
	c[3].dec = (__int128)i * 1000000 + 500000;
	c[4].i = i;
	c[4].null = i % 2;
}

static struct delta_writer *writer(const struct t_table *t, const struct delta_schema *s,
                                   const size_t *sort, size_t nsort, int64_t target, int threads)
{
	struct delta_writer_opts o;
	struct err_msg e;
	delta_writer_opts_init(&o);
	o.threads = threads;
	o.sort_cols = sort;
	o.nsort = nsort;
	if (target)
		o.target_size = target;
	struct delta_writer *w = delta_writer_new(t->root, s, parts, 1, &o, &e);
	if (!w) {
		printf("# %s\n", e.text);
		exit(70);
	}
	return w;
}

static void test_rows_written_read_back_with_partition_values(void)
{
	struct t_table t;
	t_table_new(&t, 0);
	struct delta_schema s = schema_of("");
	struct delta_writer *w = writer(&t, &s, NULL, 0, 0, 2);
	struct err_msg e;
	char key[16];
	struct delta_cell c[5];
	for (int i = 0; i < 3000; i++) {
		row(i, c, key);
		T_EQ_INT(delta_writer_put(w, c, &e), 0);
	}
	T_EQ_INT(delta_writer_rows(w), 3000);
	T_EQ_INT(delta_writer_finish(w, &e), 0);
	size_t n;
	const struct delta_written *f = delta_writer_files(w, &n);
	T_EQ_INT(n, 2);
	struct delta_rows_col cols[5];
	for (size_t i = 0; i < 5; i++)
		cols[i] = (struct delta_rows_col){&s.fields[i], i == 2};
	int64_t total = 0;
	for (size_t k = 0; k < n; k++) {
		T_EQ_INT(f[k].rows, 1500);
		T_CHECK(strncmp(f[k].file.path, "d=2022-0", 8) == 0);
		T_CHECK(strstr(f[k].file.stats, "\"numRecords\":1500") != NULL);
		T_CHECK(f[k].file.size > 0);
		struct delta_rows *r = delta_rows_open(t.root, &f[k].file, cols, 5, NULL, &e);
		T_CHECK(r != NULL);
		const struct delta_value *v;
		int i = -1, got, ok = 1;
		while (r && (got = delta_rows_next(r, &v, &e)) == 1) {
			/* Rows keep their order within a file: every other one of the stream. */
			i = i < 0 ? (int)(v[1].c.i / 1000000) : i + 2;
			row(i, c, key);
			ok = ok && v[0].c.n == c[0].n && memcmp(v[0].c.s, key, c[0].n) == 0 &&
			     v[1].c.i == c[1].i && v[2].c.i == c[2].i && v[3].c.dec == c[3].dec &&
			     v[4].c.null == c[4].null && (c[4].null || v[4].c.i == c[4].i);
			total++;
		}
		T_CHECK(ok);
		delta_rows_close(r);
	}
	T_EQ_INT(total, 3000);
	/* A projection, in another order, with a column the files do not have. */
	struct delta_schema wide = schema_of(
	    ",{\"name\":\"added\",\"type\":\"string\",\"nullable\":true,\"metadata\":{}}");
	struct delta_rows_col proj[3] = {
	    {&wide.fields[5], 0}, {&wide.fields[2], 1}, {&wide.fields[4], 0}};
	struct delta_rows *r = delta_rows_open(t.root, &f[0].file, proj, 3, NULL, &e);
	const struct delta_value *v;
	T_EQ_INT(delta_rows_next(r, &v, &e), 1);
	T_CHECK(v[0].c.null);
	T_CHECK(v[1].c.i == 19000 || v[1].c.i == 19001);
	T_CHECK(!v[2].c.null);
	delta_rows_close(r);
	delta_writer_release(w);
	T_EQ_INT(delta_writer_rows(w), 0);
	delta_writer_free(w);
	delta_schema_free(&wide);
	delta_schema_free(&s);
	t_table_free(&t);
}

static void test_sorted_files_are_cut_at_the_target_size(void)
{
	struct t_table t;
	t_table_new(&t, 0);
	struct delta_schema s = schema_of("");
	size_t sort[] = {2, 0, 1}; /* d (a partition column: ignored), k, t */
	struct delta_writer *w = writer(&t, &s, sort, 3, 32768, 2);
	struct err_msg e;
	char key[16];
	struct delta_cell c[5];
	for (int i = 20000; i > 0; i--) {
		row(i * 2, c, key); /* all in day 19000 */
		T_EQ_INT(delta_writer_put(w, c, &e), 0);
	}
	T_EQ_INT(delta_writer_finish(w, &e), 0);
	size_t n;
	const struct delta_written *f = delta_writer_files(w, &n);
	T_CHECK(n >= 2);
	struct delta_rows_col cols[2] = {{&s.fields[0], 0}, {&s.fields[1], 0}};
	int64_t total = 0;
	int sorted = 1;
	for (size_t k = 0; k < n; k++) {
		struct delta_rows *r = delta_rows_open(t.root, &f[k].file, cols, 2, NULL, &e);
		const struct delta_value *v;
		char prev[16] = "";
		int64_t pt = -1;
		while (r && delta_rows_next(r, &v, &e) == 1) {
			char cur[16];
			snprintf(cur, sizeof cur, "%.*s", (int)v[0].c.n, v[0].c.s);
			int kc = strcmp(prev, cur);
			if (kc > 0 || (kc == 0 && v[1].c.i <= pt))
				sorted = 0;
			memcpy(prev, cur, sizeof prev);
			pt = v[1].c.i;
			total++;
		}
		delta_rows_close(r);
	}
	T_CHECK(sorted);
	T_EQ_INT(total, 20000);
	delta_writer_free(w);
	delta_schema_free(&s);
	t_table_free(&t);
}

static void test_discarded_files_are_removed_and_kept_ones_synced(void)
{
	struct t_table t;
	t_table_new(&t, 0);
	struct delta_schema s = schema_of("");
	/* No writer threads: the files are written by this thread. */
	struct delta_writer *w = writer(&t, &s, NULL, 0, 0, 0);
	struct err_msg e;
	char key[16], path[600];
	struct delta_cell c[5];
	for (int i = 0; i < 10; i++) {
		row(i, c, key);
		delta_writer_put(w, c, &e);
	}
	T_EQ_INT(delta_writer_finish(w, &e), 0);
	size_t n;
	const struct delta_written *f = delta_writer_files(w, &n);
	T_EQ_INT(n, 2);
	snprintf(path, sizeof path, "%s/%s", t.root, f[0].file.path);
	T_EQ_INT(access(path, F_OK), 0);
	delta_writer_discard(w);
	T_CHECK(access(path, F_OK) < 0);
	delta_writer_files(w, &n);
	T_EQ_INT(n, 0);
	/* Files made durable are listed until released. */
	row(1, c, key);
	delta_writer_put(w, c, &e);
	T_EQ_INT(delta_writer_finish(w, &e), 0);
	T_EQ_INT(delta_writer_sync(w, &e), 0);
	delta_writer_files(w, &n);
	T_EQ_INT(n, 1);
	delta_writer_release(w);
	delta_writer_free(w);
	delta_schema_free(&s);
	t_table_free(&t);
}

/* Write rows lo..hi-1 with w and finish its files. */
static void write_rows(struct delta_writer *w, int lo, int hi)
{
	struct err_msg e;
	char key[16];
	struct delta_cell c[5];
	for (int i = lo; i < hi; i++) {
		row(i, c, key);
		T_EQ_INT(delta_writer_put(w, c, &e), 0);
	}
	T_EQ_INT(delta_writer_finish(w, &e), 0);
}

static void test_fsyncs_started_are_waited_for_and_their_failure_told(void)
{
	struct t_table t;
	t_table_new(&t, 0);
	struct delta_schema s = schema_of("");
	struct delta_writer *a = writer(&t, &s, NULL, 0, 0, 0);
	struct delta_writer *b = writer(&t, &s, NULL, 0, 0, 0);
	struct err_msg e;
	/* Two writers' fsyncs under way at once (the second made by its caller): both end well. */
	write_rows(a, 0, 10);
	write_rows(b, 10, 20);
	T_EQ_INT(delta_writer_sync_start(a, &e), 0);
	T_EQ_INT(delta_writer_sync_start(b, &e), 0);
	T_EQ_INT(delta_writer_sync_wait(b, &e), 0);
	T_EQ_INT(delta_writer_sync_wait(a, &e), 0);
	T_EQ_INT(delta_writer_sync_wait(a, &e), 0);
	delta_writer_release(a);
	delta_writer_release(b);
	/* A file gone before its fsync: the wait says which, and says it again. */
	write_rows(a, 20, 22);
	size_t n;
	const struct delta_written *f = delta_writer_files(a, &n);
	T_EQ_INT(n, 2);
	char path[600];
	snprintf(path, sizeof path, "%s/%s", t.root, f[1].file.path);
	T_EQ_INT(unlink(path), 0);
	T_EQ_INT(delta_writer_sync_start(a, &e), 0);
	err_clear(&e);
	T_EQ_INT(delta_writer_sync_wait(a, &e), -1);
	T_EQ_INT(e.status, EX_IOERR);
	T_CHECK(strstr(e.text, f[1].file.path) != NULL);
	T_CHECK(strstr(e.text, "cannot make it durable") != NULL);
	err_clear(&e);
	T_EQ_INT(delta_writer_sync_wait(a, &e), -1);
	T_CHECK(strstr(e.text, f[1].file.path) != NULL);
	/* Discarded: the other file is removed, and the next batch starts clean. */
	snprintf(path, sizeof path, "%s/%s", t.root, f[0].file.path);
	delta_writer_discard(a);
	T_CHECK(access(path, F_OK) < 0);
	write_rows(a, 30, 31);
	T_EQ_INT(delta_writer_sync(a, &e), 0);
	delta_writer_release(a);
	delta_writer_free(a);
	delta_writer_free(b);
	delta_schema_free(&s);
	t_table_free(&t);
}

static void test_files_are_pruned_by_partition_values_and_statistics(void)
{
	struct delta_schema s = schema_of("");
	struct delta_kv kv = {(char *)"d", (char *)"2022-01-08"};
	struct delta_file f = {0};
	f.path = (char *)"d=2022-01-08/a.parquet";
	f.partition_values.kv = &kv;
	f.partition_values.n = 1;
	f.stats = (char *)"{\"numRecords\":10,\"minValues\":{\"k\":\"b\",\"t\":"
	                  "\"2022-01-08T10:00:00.000Z\"},\"maxValues\":{\"k\":\"d\",\"t\":"
	                  "\"2022-01-08T12:00:00.000Z\"},\"nullCount\":{\"k\":0,\"t\":0}}";
	struct buf scratch[3] = {BUF_INIT, BUF_INIT, BUF_INIT};
	struct delta_range r[3];
	memset(r, 0, sizeof r);
	r[0].f = &s.fields[0];
	r[0].lo.s = r[0].hi.s = "c";
	r[0].lo.n = r[0].hi.n = 1;
	r[1].f = &s.fields[1];
	/* 2022-01-08T12:00:00.000500Z: within the millisecond the maximum was cut to. */
	r[1].lo.i = r[1].hi.i = 1641643200000500;
	r[2].f = &s.fields[2];
	r[2].partition = 1;
	r[2].lo.i = r[2].hi.i = 19000;
	T_EQ_INT(delta_file_may_hold(&f, r, 3, scratch), 1);
	r[1].lo.i = r[1].hi.i = 1641643201000000; /* a second past the maximum */
	T_EQ_INT(delta_file_may_hold(&f, r, 3, scratch), 0);
	r[1].lo.i = 0;
	r[0].lo.s = r[0].hi.s = "e";
	T_EQ_INT(delta_file_may_hold(&f, r, 3, scratch), 0);
	r[0].lo.s = "a";
	r[2].lo.i = r[2].hi.i = 19001; /* another day */
	T_EQ_INT(delta_file_may_hold(&f, r, 3, scratch), 0);
	r[2].lo.i = 18000;
	T_EQ_INT(delta_file_may_hold(&f, r, 3, scratch), 1);
	/* Without statistics only the partition values decide. */
	f.stats = NULL;
	r[0].lo.s = r[0].hi.s = "z";
	T_EQ_INT(delta_file_may_hold(&f, r, 3, scratch), 1);
	for (int i = 0; i < 3; i++)
		buf_free(&scratch[i]);
	delta_schema_free(&s);
}

/* The read predicate of the test below: files whose stats say they hold key "k3". */
static int holds_k3(void *arg, const struct delta_file *f)
{
	int *calls = arg;
	(*calls)++;
	return f->stats && strstr(f->stats, "k3") != NULL &&
	       strcmp(delta_map_get(&f->partition_values, "p", NULL), "a") == 0;
}

static void test_an_added_file_the_read_predicate_accepts_is_a_conflict(void)
{
	struct t_table t;
	t_table_new(&t, 0);
	t_append(&t, 1, "a", NULL);
	struct delta_snapshot s;
	struct delta_load_opts lo = {-1, -1, 0, 0, 0};
	struct err_msg e;
	if (delta_snapshot_load(t.root, &lo, &s, &e) < 0) {
		printf("# %s\n", e.text);
		exit(70);
	}
	struct delta_store *store = delta_store_link(t.root, NULL);
	struct delta_txn *x = delta_txn_begin(&s, store, "MERGE");
	int calls = 0;
	delta_txn_read_predicate(x, holds_k3, &calls);
	T_CHECK(!delta_txn_is_blind_append(x));
	const char *other =
	    "{\"commitInfo\":{\"isBlindAppend\":true}}\n"
	    "{\"add\":{\"path\":\"p=a/x.parquet\",\"partitionValues\":{\"p\":\"a\"},"
	    "\"size\":1,\"modificationTime\":1,\"dataChange\":true,"
	    "\"stats\":\"{\\\"minValues\\\":{\\\"k\\\":\\\"k1\\\"}}\"}}\n";
	T_EQ_INT(delta_txn_check_winner(x, 2, other, strlen(other), &e), DELTA_WINNER_COMPATIBLE);
	const char *ours =
	    "{\"commitInfo\":{\"isBlindAppend\":true}}\n"
	    "{\"add\":{\"path\":\"p=a/y%20z.parquet\",\"partitionValues\":{\"p\":\"a\"},"
	    "\"size\":1,\"modificationTime\":1,\"dataChange\":true,"
	    "\"stats\":\"{\\\"minValues\\\":{\\\"k\\\":\\\"k3\\\"}}\"}}\n";
	T_EQ_INT(delta_txn_check_winner(x, 3, ours, strlen(ours), &e), DELTA_WINNER_APPEND_READ);
	T_CHECK(strstr(e.text, "added p=a/y z.parquet where this transaction read") != NULL);
	/* A rearrangement (dataChange false) adds no row anyone could miss: not asked. */
	const char *compaction =
	    "{\"add\":{\"path\":\"p=a/c.parquet\",\"partitionValues\":{\"p\":\"a\"},"
	    "\"size\":1,\"modificationTime\":1,\"dataChange\":false,"
	    "\"stats\":\"{\\\"minValues\\\":{\\\"k\\\":\\\"k3\\\"}}\"}}\n";
	T_EQ_INT(delta_txn_check_winner(x, 4, compaction, strlen(compaction), &e),
	         DELTA_WINNER_COMPATIBLE);
	T_EQ_INT(calls, 2);
	delta_txn_free(x);
	delta_store_close(store);
	delta_snapshot_free(&s);
	t_table_free(&t);
}

/* Write rows 0..n-1 with w, finish, and open its first file as the table's columns. */
static struct delta_rows *written(const struct t_table *t, struct delta_writer *w, int n,
                                  const struct delta_rows_col *cols)
{
	struct err_msg e;
	char key[16];
	struct delta_cell c[5];
	for (int i = 0; i < n; i++) {
		row(i, c, key);
		T_EQ_INT(delta_writer_put(w, c, &e), 0);
	}
	T_EQ_INT(delta_writer_finish(w, &e), 0);
	size_t nf;
	const struct delta_written *f = delta_writer_files(w, &nf);
	T_CHECK(nf > 0);
	struct delta_rows *r = nf ? delta_rows_open(t->root, &f[0].file, cols, 5, NULL, &e) : NULL;
	T_CHECK(r != NULL);
	return r;
}

static void test_encodings_read_from_a_file_are_forced_on_new_files(void)
{
	struct t_table t;
	t_table_new(&t, 0);
	struct delta_schema s = schema_of("");
	struct delta_rows_col cols[5];
	for (size_t i = 0; i < 5; i++)
		cols[i] = (struct delta_rows_col){&s.fields[i], i == 2};
	/* The writer's own choices: a dictionary for the keys, deltas for the times. */
	struct delta_writer *w = writer(&t, &s, NULL, 0, 0, 0);
	struct delta_rows *r = written(&t, w, 600, cols);
	T_EQ_INT(delta_rows_encoding(r, 0), PQ_ENC_RLE_DICTIONARY);
	T_EQ_INT(delta_rows_encoding(r, 1), PQ_ENC_DELTA_BINARY_PACKED);
	T_EQ_INT(delta_rows_encoding(r, 2), PQ_ENC_AUTO); /* a partition column */
	T_EQ_INT(delta_rows_encoding(r, 5), PQ_ENC_AUTO); /* no such column */
	delta_rows_close(r);
	delta_writer_release(w);
	delta_writer_free(w);
	/* Forced: every new file takes the encodings given, a column left to the writer its own. */
	int enc[5] = {PQ_ENC_PLAIN, PQ_ENC_AUTO, PQ_ENC_RLE_DICTIONARY, PQ_ENC_BYTE_STREAM_SPLIT,
	              PQ_ENC_DELTA_BINARY_PACKED};
	w = writer(&t, &s, NULL, 0, 0, 0);
	delta_writer_learn(w, enc);
	r = written(&t, w, 600, cols);
	T_EQ_INT(delta_rows_encoding(r, 0), PQ_ENC_PLAIN);
	T_EQ_INT(delta_rows_encoding(r, 1), PQ_ENC_DELTA_BINARY_PACKED);
	T_EQ_INT(delta_rows_encoding(r, 3), PQ_ENC_BYTE_STREAM_SPLIT);
	T_EQ_INT(delta_rows_encoding(r, 4), PQ_ENC_DELTA_BINARY_PACKED);
	/* ... and the rows read back. */
	struct err_msg e;
	const struct delta_value *v;
	int64_t rows = 0;
	while (delta_rows_next(r, &v, &e) == 1)
		rows += v[4].c.null || v[4].c.i % 2 == 0;
	T_EQ_INT(rows, 300);
	delta_rows_close(r);
	/* Read as a double, the long column's deltas would not suit a writer of that table. */
	struct delta_schema d = schema_of("");
	d.fields[4].type = DT_DOUBLE;
	struct delta_rows_col dcols[5];
	for (size_t i = 0; i < 5; i++)
		dcols[i] = (struct delta_rows_col){&d.fields[i], i == 2};
	size_t nf;
	const struct delta_written *f = delta_writer_files(w, &nf);
	struct delta_rows *rd = delta_rows_open(t.root, &f[0].file, dcols, 5, NULL, &e);
	T_CHECK(rd != NULL);
	T_EQ_INT(rd ? delta_rows_encoding(rd, 4) : -2, PQ_ENC_AUTO);
	T_EQ_INT(rd ? delta_rows_encoding(rd, 3) : -2, PQ_ENC_BYTE_STREAM_SPLIT);
	delta_rows_close(rd);
	delta_writer_free(w);
	delta_schema_free(&d);
	delta_schema_free(&s);
	t_table_free(&t);
}

int main(void)
{
	T_RUN(test_rows_written_read_back_with_partition_values);
	T_RUN(test_sorted_files_are_cut_at_the_target_size);
	T_RUN(test_discarded_files_are_removed_and_kept_ones_synced);
	T_RUN(test_fsyncs_started_are_waited_for_and_their_failure_told);
	T_RUN(test_files_are_pruned_by_partition_values_and_statistics);
	T_RUN(test_an_added_file_the_read_predicate_accepts_is_a_conflict);
	T_RUN(test_encodings_read_from_a_file_are_forced_on_new_files);
	T_DONE();
}

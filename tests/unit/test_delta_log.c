/*
 * Unit tests for log replay (common/delta/delta_replay.c, delta_log.c) and
 * checkpoints (delta_checkpoint.c): replay in order, every line checked
 * also without file lists, gaps named whatever _last_checkpoint says,
 * unusable checkpoints left aside for an older one or the JSON commits,
 * _last_checkpoint never moving backwards, the add and remove columns of
 * checkpoints read column by column to the same state as rows give (also
 * hand-written ones whose actions come in any order, in row groups and
 * parts), and the parsers of durations and _last_checkpoint.
 */
#include "t_delta.h"

#include "delta/delta_internal.h"
#include "parquet/parquet.h"
#include "t.h"

static int load(const struct t_table *t, int no_files, struct delta_snapshot *s, struct err_msg *e)
{
	struct delta_load_opts o = {-1, -1, no_files, 0, 0};
	return delta_snapshot_load(t->root, &o, s, e);
}

static void test_replay_applies_commits_in_order(void)
{
	struct t_table t;
	struct delta_snapshot s;
	struct err_msg e;
	t_table_new(&t, 0);
	t_append(&t, 1, "a", NULL);
	t_append(&t, 2, "b", "app1");
	t_text(&t, 3,
	       "{\"remove\":{\"path\":\"p=a/f1.parquet\",\"deletionTimestamp\":5,"
	       "\"dataChange\":true}}\n");
	T_EQ_INT(load(&t, 0, &s, &e), 0);
	T_EQ_INT(s.version, 3);
	T_EQ_INT(s.files.count, 1);
	T_CHECK(strmap_get(&s.files, "p=b/f2.parquet") != NULL);
	T_CHECK(strmap_get(&s.tombstones, "p=a/f1.parquet") != NULL);
	T_EQ_INT(delta_txn_version(&s, "app1"), 2);
	T_EQ_INT(delta_txn_version(&s, "other"), -1);
	T_EQ_INT(s.has_notice, 0);
	delta_snapshot_free(&s);
	/* Without file lists: the same state otherwise. */
	T_EQ_INT(load(&t, 1, &s, &e), 0);
	T_EQ_INT(s.version, 3);
	T_EQ_INT(s.files.count, 0);
	T_EQ_INT(delta_txn_version(&s, "app1"), 2);
	delta_snapshot_free(&s);
	t_table_free(&t);
}

static void test_every_line_is_checked_without_file_lists(void)
{
	struct t_table t;
	struct delta_snapshot s;
	struct err_msg e;
	t_table_new(&t, 0);
	t_append(&t, 1, "a", NULL);
	/* A commit whose add line was cut short. */
	t_text(&t, 2,
	       "{\"commitInfo\":{}}\n{\"add\":{\"path\":\"p=a/"
	       "f2.parquet\",\"partitionValues\":{\"p\":");
	T_EQ_INT(load(&t, 1, &s, &e), -1);
	T_EQ_INT(e.status, EX_DATAERR);
	T_CHECK(strstr(e.text, "version 2, line 2: not a JSON action") != NULL);
	/* A remove with a malformed escape in its path. */
	t_text(&t, 2, "{\"remove\":{\"path\":\"p=a/f%zz\",\"dataChange\":true}}\n");
	T_EQ_INT(load(&t, 1, &s, &e), -1);
	T_CHECK(strstr(e.text, "version 2, line 1: path \"p=a/f%zz\" has a malformed") != NULL);
	t_table_free(&t);
}

/*
 * A commit without a single action (cut to 0 bytes, or blank lines only)
 * is damaged: refused naming its version, by readers and by writers' loads
 * without file lists, never replayed as a version that changed nothing.
 */
static void test_an_empty_commit_is_refused_naming_it(void)
{
	static const char *const empty[] = {"", "\n", " \n\r\n\t\n"};
	struct t_table t;
	struct delta_snapshot s;
	struct buf text = BUF_INIT;
	struct err_msg e;
	t_table_new(&t, 0);
	for (int v = 1; v <= 3; v++)
		t_append(&t, v, "a", NULL);
	for (size_t i = 0; i < sizeof empty / sizeof *empty; i++) {
		t_text(&t, 2, empty[i]);
		for (int no_files = 0; no_files <= 1; no_files++) {
			T_EQ_INT(load(&t, no_files, &s, &e), -1);
			T_EQ_INT(e.status, EX_DATAERR);
			T_CHECK(strstr(e.text, "version 2 is empty") != NULL);
		}
		/* Time travel to it, and reading it alone (a writer's conflict check). */
		struct delta_load_opts o = {2, -1, 0, 0, 0};
		T_EQ_INT(delta_snapshot_load(t.root, &o, &s, &e), -1);
		T_CHECK(strstr(e.text, "version 2 is empty") != NULL);
		T_EQ_INT(delta_commit_read(t.root, 2, &text, &e), -1);
		T_EQ_INT(e.status, EX_DATAERR);
	}
	/* Versions before it still read. */
	struct delta_load_opts o = {1, -1, 0, 0, 0};
	T_EQ_INT(delta_snapshot_load(t.root, &o, &s, &e), 0);
	T_EQ_INT(s.version, 1);
	delta_snapshot_free(&s);
	buf_free(&text);
	t_table_free(&t);
}

/*
 * A byte of a commit replaced by a control character: refused naming the
 * version and line, never read as an action with an unknown key (its
 * partition values lost) or a path that names another file.
 */
static void test_a_control_character_in_a_commit_is_refused(void)
{
	static const char *const damaged[] = {
	    "{\"add\":{\"path\":\"p=a/f2.parquet\",\"partitionVa\x01ues\":{\"p\":\"a\"},"
	    "\"size\":100,\"modificationTime\":1,\"dataChange\":true}}\n",
	    "{\"add\":{\"path\":\"p=a/f\x01.parquet\",\"partitionValues\":{\"p\":\"a\"},"
	    "\"size\":100,\"modificationTime\":1,\"dataChange\":true}}\n",
	    "{\"add\":{\"path\":\"p=a/f2.parquet\",\"partitionValues\":{\"p\":\"a\"},"
	    "\"size\":100,\x01\"modificationTime\":1,\"dataChange\":true}}\n",
	};
	struct t_table t;
	struct delta_snapshot s;
	struct err_msg e;
	t_table_new(&t, 0);
	t_append(&t, 1, "a", NULL);
	for (size_t i = 0; i < sizeof damaged / sizeof *damaged; i++) {
		char text[512];
		snprintf(text, sizeof text, "{\"commitInfo\":{}}\n%s", damaged[i]);
		t_text(&t, 2, text);
		for (int no_files = 0; no_files <= 1; no_files++) {
			T_EQ_INT(load(&t, no_files, &s, &e), -1);
			T_EQ_INT(e.status, EX_DATAERR);
			if (!strstr(e.text, "version 2, line 2: not a JSON action (invalid JSON: "))
				printf("#   %s\n", e.text);
			T_CHECK(strstr(e.text,
			               "version 2, line 2: not a JSON action (invalid JSON: ") !=
			        NULL);
		}
	}
	t_table_free(&t);
}

static void test_a_gap_is_named(void)
{
	struct t_table t;
	struct delta_snapshot s;
	struct err_msg e;
	t_table_new(&t, 0);
	for (int v = 1; v <= 5; v++)
		t_append(&t, v, "a", NULL);
	t_remove_commit(&t, 3);
	T_EQ_INT(load(&t, 1, &s, &e), -1);
	T_EQ_INT(e.status, EX_DATAERR);
	T_CHECK(strstr(e.text, "version 3 is missing from the log (the newest is 5)") != NULL);
	T_EQ_INT(delta_latest_version(t.root, &e), -2);
	T_CHECK(strstr(e.text, "version 3 is missing from the log") != NULL);
	/* Time travel below the gap is refused too: the table is damaged. */
	struct delta_load_opts o = {2, -1, 0, 0, 0};
	T_EQ_INT(delta_snapshot_load(t.root, &o, &s, &e), -1);
	T_CHECK(strstr(e.text, "version 3 is missing") != NULL);
	t_table_free(&t);
}

static void test_a_gap_after_the_hinted_checkpoint_is_named(void)
{
	struct t_table t;
	struct delta_snapshot s;
	struct err_msg e;
	t_table_new(&t, 0);
	for (int v = 1; v <= 15; v++)
		t_append(&t, v, "a", NULL);
	T_EQ_INT(t_checkpoint(&t, 10), 0);
	t_remove_commit(&t, 12);
	/* _last_checkpoint leads to 10 and 11; the listing finds 13..15. */
	T_EQ_INT(load(&t, 0, &s, &e), -1);
	T_CHECK(strstr(e.text, "version 12 is missing from the log (the newest is 15)") != NULL);
	/* Deferred, as writers load: the snapshot stops at 11 and the check says why. */
	struct delta_load_opts o = {-1, -1, 1, 1, 0};
	T_EQ_INT(delta_snapshot_load(t.root, &o, &s, &e), 0);
	T_EQ_INT(s.version, 11);
	T_EQ_INT(delta_snapshot_check(&s, &e), -1);
	T_CHECK(strstr(e.text, "version 12 is missing from the log") != NULL);
	T_EQ_INT(delta_snapshot_check(&s, &e), 0); /* checked once */
	delta_snapshot_free(&s);
	t_table_free(&t);
}

static void test_a_stale_hint_is_caught(void)
{
	struct t_table t;
	struct delta_snapshot s;
	struct err_msg e;
	char lc[512], old[512];
	t_table_new(&t, 0);
	for (int v = 1; v <= 25; v++)
		t_append(&t, v, "a", NULL);
	T_EQ_INT(t_checkpoint(&t, 10), 0);
	t_log_path(&t, "_last_checkpoint", lc, sizeof lc);
	t_log_path(&t, "lc10", old, sizeof old);
	rename(lc, old);
	T_EQ_INT(t_checkpoint(&t, 20), 0);
	rename(old, lc); /* _last_checkpoint says 10 */
	for (int v = 0; v <= 19; v++)
		t_remove_commit(&t, v); /* log cleanup up to the checkpoint of 20 */
	T_EQ_INT(load(&t, 0, &s, &e), 0);
	T_EQ_INT(s.version, 25);
	T_EQ_INT(s.checkpoint_version, 20);
	T_EQ_INT(s.files.count, 25);
	delta_snapshot_free(&s);
	/* Deferred: the snapshot stops at 10, and the check says the log moved on without it. */
	struct delta_load_opts o = {-1, -1, 1, 1, 0};
	T_EQ_INT(delta_snapshot_load(t.root, &o, &s, &e), 0);
	T_EQ_INT(s.version, 10);
	T_EQ_INT(delta_snapshot_check(&s, &e), DELTA_SNAPSHOT_STALE);
	delta_snapshot_free(&s);
	t_table_free(&t);
}

static void corrupt(const struct t_table *t, const char *name, const char *with)
{
	char path[512];
	t_log_path(t, name, path, sizeof path);
	t_write(path, with);
}

static void test_an_unreadable_checkpoint_falls_back_to_the_commits(void)
{
	struct t_table t;
	struct delta_snapshot s;
	struct err_msg e;
	t_table_new(&t, 0);
	for (int v = 1; v <= 12; v++)
		t_append(&t, v, v % 2 ? "a" : "b", NULL);
	T_EQ_INT(t_checkpoint(&t, 10), 0);
	corrupt(&t, "00000000000000000010.checkpoint.parquet", "PAR1 not really");
	T_EQ_INT(load(&t, 0, &s, &e), 0);
	T_EQ_INT(s.version, 12);
	T_EQ_INT(s.files.count, 12);
	T_EQ_INT(s.checkpoint_version, -1);
	T_EQ_INT(s.has_notice, 1);
	T_CHECK(strstr(s.notice.text,
	               "checkpoint of version 10: "
	               "_delta_log/00000000000000000010.checkpoint.parquet: ") != NULL);
	T_CHECK(strstr(s.notice.text, "the state was rebuilt from the JSON commits") != NULL);
	delta_snapshot_free(&s);
	/* A writer's load (no file lists) falls back the same way. */
	T_EQ_INT(load(&t, 1, &s, &e), 0);
	T_EQ_INT(s.version, 12);
	T_EQ_INT(s.has_notice, 1);
	delta_snapshot_free(&s);
	t_table_free(&t);
}

/* XOR the last byte of a checkpoint's column chunk (in its last page) with mask. */
static void damage_column(const struct t_table *t, const char *name, const char *path, int mask)
{
	char file[512];
	struct err_msg e;
	struct pq_chunk_info ci;
	t_log_path(t, name, file, sizeof file);
	struct pq_reader *r = pq_reader_open(file, NULL, &e);
	int f = r ? pq_schema_find(pq_reader_schema(r), path) : -1;
	T_CHECK(f >= 0);
	if (f < 0) {
		pq_reader_close(r);
		return;
	}
	pq_reader_chunk_info(r, 0, pq_schema_field(pq_reader_schema(r), f)->leaf, &ci);
	pq_reader_close(r);
	off_t at = (off_t)(ci.dictionary_page_offset >= 0 ? ci.dictionary_page_offset
	                                                  : ci.data_page_offset) +
	           (off_t)ci.total_compressed_size - 1;
	unsigned char b = 0;
	int fd = open(file, O_RDWR);
	T_CHECK(fd >= 0 && pread(fd, &b, 1, at) == 1);
	b ^= (unsigned char)mask;
	T_CHECK(pwrite(fd, &b, 1, at) == 1);
	close(fd);
}

/*
 * A writer's load (no file lists) does not decode the add and remove
 * columns, but it refuses a checkpoint whose pages are damaged as readers
 * do, when nothing else can rebuild the state: it never commits on top of
 * a state that readers cannot read.
 */
static void test_a_writer_refuses_a_damaged_checkpoint_as_readers_do(void)
{
	static const char *const columns[] = {"add.path", "add.partitionValues.value",
	                                      "add.modificationTime"};
	struct t_table t;
	struct delta_snapshot s;
	struct err_msg e;
	t_table_new(&t, 0);
	for (int v = 1; v <= 12; v++)
		t_append(&t, v, v % 2 ? "a" : "b", NULL);
	T_EQ_INT(t_checkpoint(&t, 10), 0);
	for (int v = 0; v <= 9; v++)
		t_remove_commit(&t, v);
	for (size_t i = 0; i < sizeof columns / sizeof *columns; i++) {
		char page[200];
		snprintf(
		    page, sizeof page,
		    "checkpoint of version 10: _delta_log/00000000000000000010.checkpoint.parquet: "
		    "row group 0, column %s: page ",
		    columns[i]);
		damage_column(&t, "00000000000000000010.checkpoint.parquet", columns[i], 0x10);
		for (int no_files = 0; no_files <= 1; no_files++) {
			T_EQ_INT(load(&t, no_files, &s, &e), -1);
			T_EQ_INT(e.status, EX_DATAERR);
			if (!strstr(e.text, page))
				printf("#   %s\n", e.text);
			T_CHECK(strstr(e.text, page) != NULL);
			T_CHECK(strstr(e.text, ": checksum mismatch, the page is damaged") != NULL);
			T_CHECK(strstr(e.text, "the state cannot be rebuilt without it") != NULL);
		}
		/* Undamaged again, both load it. */
		damage_column(&t, "00000000000000000010.checkpoint.parquet", columns[i], 0x10);
		for (int no_files = 0; no_files <= 1; no_files++) {
			T_EQ_INT(load(&t, no_files, &s, &e), 0);
			T_EQ_INT(s.checkpoint_version, 10);
			delta_snapshot_free(&s);
		}
	}
	t_table_free(&t);
}

/* The same text, or both absent. */
static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Every field of the files of one map equal to those of the other. */
static void same_files(const char *root, const struct strmap *a, const struct strmap *b)
{
	size_t it = 0;
	struct strmap_slot *sl;
	T_EQ_INT(a->count, b->count);
	while ((sl = strmap_next(a, &it))) {
		const struct delta_file *x = sl->value, *y = strmap_get(b, sl->key);
		T_CHECK(y != NULL);
		if (!y) {
			printf("#   %s: %s read by rows only\n", root, sl->key);
			continue;
		}
		int same = same_str(x->path, y->path) && same_str(x->raw_path, y->raw_path) &&
		           x->size == y->size && x->modification_time == y->modification_time &&
		           x->data_change == y->data_change && same_str(x->stats, y->stats) &&
		           same_str(x->tags_json, y->tags_json) &&
		           x->deletion_timestamp == y->deletion_timestamp &&
		           x->version == y->version &&
		           x->has_deletion_vector == y->has_deletion_vector &&
		           x->partition_values.n == y->partition_values.n;
		for (size_t i = 0; same && i < x->partition_values.n; i++)
			same = same_str(x->partition_values.kv[i].key,
			                y->partition_values.kv[i].key) &&
			       same_str(x->partition_values.kv[i].value,
			                y->partition_values.kv[i].value);
		if (!same)
			printf("#   %s: %s differs\n", root, sl->key);
		T_CHECK(same);
	}
}

/* Load root both ways (column by column, rows only) and hold the states against each other. */
static void same_both_ways(const char *root, int64_t version, size_t min_files)
{
	struct delta_load_opts o = {version, -1, 0, 0, 0};
	struct delta_snapshot cols, rows;
	struct err_msg e;
	delta_checkpoint_rowwise = 1;
	int rc = delta_snapshot_load(root, &o, &rows, &e);
	delta_checkpoint_rowwise = 0;
	T_EQ_INT(rc, 0);
	if (rc < 0) {
		printf("#   %s\n", e.text);
		return;
	}
	rc = delta_snapshot_load(root, &o, &cols, &e);
	T_EQ_INT(rc, 0);
	if (rc < 0) {
		printf("#   %s\n", e.text);
		delta_snapshot_free(&rows);
		return;
	}
	T_CHECK(cols.checkpoint_version >= 0);
	T_EQ_INT(cols.checkpoint_version, rows.checkpoint_version);
	T_EQ_INT(cols.version, rows.version);
	T_EQ_INT(cols.has_notice, 0);
	T_CHECK(cols.files.count >= min_files);
	T_CHECK(same_str(cols.meta.id, rows.meta.id));
	T_EQ_INT(cols.protocol.min_reader, rows.protocol.min_reader);
	T_EQ_INT(cols.txns.count, rows.txns.count);
	same_files(root, &cols.files, &rows.files);
	same_files(root, &cols.tombstones, &rows.tombstones);
	delta_snapshot_free(&cols);
	delta_snapshot_free(&rows);
}

/* A table of ours whose checkpoint holds every kind of add and remove field. */
static void t_varied(struct t_table *t)
{
	t_table_new(t, 0);
	t_text(t, 1,
	       "{\"add\":{\"path\":\"p=a/f%201.parquet\",\"partitionValues\":{\"p\":\"a\"},"
	       "\"size\":10,\"modificationTime\":5,\"dataChange\":true,"
	       "\"stats\":\"{\\\"numRecords\\\":3}\"}}\n"
	       "{\"add\":{\"path\":\"p=b/f2.parquet\",\"partitionValues\":{\"p\":null},"
	       "\"size\":20,\"modificationTime\":6,\"dataChange\":false}}\n"
	       "{\"add\":{\"path\":\"f3.parquet\",\"partitionValues\":{},"
	       "\"size\":30,\"modificationTime\":7,\"dataChange\":true}}\n"
	       "{\"txn\":{\"appId\":\"job\",\"version\":4}}\n");
	t_text(t, 2,
	       "{\"remove\":{\"path\":\"p=b/f2.parquet\",\"deletionTimestamp\":4102444800000,"
	       "\"dataChange\":true,\"partitionValues\":{\"p\":null},\"size\":20}}\n");
	for (int v = 3; v <= 12; v++)
		t_append(t, v, v % 2 ? "a" : "b", NULL);
}

static void test_checkpoints_read_column_by_column_hold_what_their_rows_hold(void)
{
	static const struct {
		const char *root;
		int64_t version;
		size_t files;
	} fixtures[] = {
	    {"tests/fixtures/delta/dat/no_replay/delta", -1, 1},
	    {"tests/fixtures/delta/dat/no_stats/delta", -1, 1},
	    {"tests/fixtures/delta/dat/stats_as_struct/delta", -1, 1},
	    {"tests/fixtures/delta/dat/with_checkpoint/delta", -1, 1},
	    {"tests/fixtures/delta/delta-golden/basic-with-inserts-deletes-checkpoint", -1, 1},
	    {"tests/fixtures/delta/delta-golden/multi-part-checkpoint", 1, 1},
	    {"tests/fixtures/delta/delta-rs/delta-0.2.0", 3, 1},
	    {"tests/fixtures/delta/delta-rs/simple_table_with_checkpoint", 10, 1},
	};
	for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++)
		same_both_ways(fixtures[i].root, fixtures[i].version, fixtures[i].files);
	struct t_table t;
	t_varied(&t);
	T_EQ_INT(t_checkpoint(&t, 10), 0);
	same_both_ways(t.root, -1, 12);
	struct delta_snapshot s;
	struct err_msg e;
	T_EQ_INT(load(&t, 0, &s, &e), 0);
	const struct delta_file *f = strmap_get(&s.files, "p=a/f 1.parquet");
	const struct delta_file *gone = strmap_get(&s.tombstones, "p=b/f2.parquet");
	T_CHECK(f && gone);
	if (f && gone) {
		T_EQ_STR(f->stats, "{\"numRecords\":3}");
		T_EQ_INT(gone->deletion_timestamp, 4102444800000);
		T_EQ_INT(gone->partition_values.n, 1);
		T_CHECK(gone->partition_values.kv[0].value == NULL);
	}
	delta_snapshot_free(&s);
	t_table_free(&t);
}

/* Checkpoints written by hand: the actions in any order, across row groups and parts. */

/* One action of a hand-written checkpoint row. */
struct t_act {
	char kind; /* 'a'dd, 'r'emove, 'm'etaData, 'p'rotocol, 't'xn, '2': an add and a txn */
	const char *name; /* path or app id */
	int64_t n;        /* size or txn version */
};

static struct pq_schema *t_ck_schema(void)
{
	struct pq_schema *s = pq_schema_new();
	int t = pq_schema_add(s, PQ_ROOT, "txn", PQ_STRUCT, 1);
	pq_schema_add(s, t, "appId", PQ_STRING, 1);
	pq_schema_add(s, t, "version", PQ_LONG, 1);
	int a = pq_schema_add(s, PQ_ROOT, "add", PQ_STRUCT, 1);
	pq_schema_add(s, a, "path", PQ_STRING, 1);
	int pv = pq_schema_add(s, a, "partitionValues", PQ_MAP, 1);
	pq_schema_add(s, pv, "key", PQ_STRING, 0);
	pq_schema_add(s, pv, "value", PQ_STRING, 1);
	pq_schema_add(s, a, "size", PQ_LONG, 1);
	pq_schema_add(s, a, "modificationTime", PQ_LONG, 1);
	pq_schema_add(s, a, "dataChange", PQ_BOOLEAN, 1);
	pq_schema_add(s, a, "stats", PQ_STRING, 1);
	int r = pq_schema_add(s, PQ_ROOT, "remove", PQ_STRUCT, 1);
	pq_schema_add(s, r, "path", PQ_STRING, 1);
	pq_schema_add(s, r, "deletionTimestamp", PQ_LONG, 1);
	pq_schema_add(s, r, "dataChange", PQ_BOOLEAN, 1);
	int m = pq_schema_add(s, PQ_ROOT, "metaData", PQ_STRUCT, 1);
	pq_schema_add(s, m, "id", PQ_STRING, 1);
	int f = pq_schema_add(s, m, "format", PQ_STRUCT, 1);
	pq_schema_add(s, f, "provider", PQ_STRING, 1);
	pq_schema_add(s, m, "schemaString", PQ_STRING, 1);
	int pc = pq_schema_add(s, m, "partitionColumns", PQ_LIST, 1);
	pq_schema_add(s, pc, "element", PQ_STRING, 1);
	int c = pq_schema_add(s, m, "configuration", PQ_MAP, 1);
	pq_schema_add(s, c, "key", PQ_STRING, 0);
	pq_schema_add(s, c, "value", PQ_STRING, 1);
	int p = pq_schema_add(s, PQ_ROOT, "protocol", PQ_STRUCT, 1);
	pq_schema_add(s, p, "minReaderVersion", PQ_INT, 1);
	pq_schema_add(s, p, "minWriterVersion", PQ_INT, 1);
	return s;
}

static void t_str(struct pq_value *v, const char *s)
{
	memset(v, 0, sizeof *v);
	v->kind = s ? PQ_V_BYTES : PQ_V_NULL;
	if (s) {
		v->bytes.p = (const uint8_t *)s;
		v->bytes.len = strlen(s);
	}
}

static void t_i64(struct pq_value *v, int64_t x)
{
	memset(v, 0, sizeof *v);
	v->kind = PQ_V_I64;
	v->i64 = x;
}

static void t_agg(struct pq_value *v, enum pq_vkind kind, struct pq_value *items, uint32_t n)
{
	memset(v, 0, sizeof *v);
	v->kind = kind;
	v->items = items;
	v->n = n;
}

#define T_SCHEMA_TEXT                                                                              \
	"{\"type\":\"struct\",\"fields\":[{\"name\":\"v\",\"type\":\"long\",\"nullable\":true,"    \
	"\"metadata\":{}},{\"name\":\"p\",\"type\":\"string\",\"nullable\":true,\"metadata\":{}}]" \
	"}"

/*
 * Write the actions as the rows of a checkpoint file (name, in _delta_log):
 * row groups of group_rows rows, pages of a few entries, so that the rare
 * actions fall first, last and alone in row groups and pages.
 */
static void t_ck_write(const struct t_table *t, const char *name, const struct t_act *acts,
                       size_t n, int64_t group_rows)
{
	char path[512];
	struct err_msg e;
	t_log_path(t, name, path, sizeof path);
	struct pq_schema *s = t_ck_schema();
	struct pq_write_options o;
	pq_write_options_init(&o);
	o.row_group_rows = group_rows;
	o.page_bytes = 48;
	struct pq_writer *w = pq_writer_open(path, s, &o, &e);
	pq_schema_free(s);
	T_CHECK(w != NULL);
	if (!w)
		return;
	for (size_t i = 0; i < n; i++) {
		struct pq_value row, cols[5], txn[2], add[6], pv[2], rm[3], md[5], fmt[1], pc[1],
		    conf[2], proto[2];
		char part[32], stats[64];
		const struct t_act *a = &acts[i];
		for (int k = 0; k < 5; k++)
			t_str(&cols[k], NULL);
		if (a->kind == 't' || a->kind == '2') {
			t_str(&txn[0], a->kind == '2' ? "both" : a->name);
			t_i64(&txn[1], a->n);
			t_agg(&cols[0], PQ_V_STRUCT, txn, 2);
		}
		if (a->kind == 'a' || a->kind == '2') {
			snprintf(part, sizeof part, "%c", a->name[2]);
			snprintf(stats, sizeof stats, "{\"numRecords\":%lld}", (long long)a->n);
			t_str(&add[0], a->name);
			t_str(&pv[0], "p");
			t_str(&pv[1], a->n % 3 ? part : NULL);
			t_agg(&add[1], PQ_V_MAP, pv, 1);
			t_i64(&add[2], a->n);
			t_i64(&add[3], 1000 + a->n);
			memset(&add[4], 0, sizeof add[4]);
			add[4].kind = PQ_V_BOOL;
			add[4].b = (int)(a->n & 1);
			t_str(&add[5], a->n % 2 ? stats : NULL);
			t_agg(&cols[1], PQ_V_STRUCT, add, 6);
		}
		if (a->kind == 'r') {
			t_str(&rm[0], a->name);
			t_i64(&rm[1], 4102444800000 + a->n);
			memset(&rm[2], 0, sizeof rm[2]);
			rm[2].kind = PQ_V_BOOL;
			rm[2].b = 1;
			t_agg(&cols[2], PQ_V_STRUCT, rm, 3);
		}
		if (a->kind == 'm') {
			t_str(&md[0], a->name);
			t_str(&fmt[0], "parquet");
			t_agg(&md[1], PQ_V_STRUCT, fmt, 1);
			t_str(&md[2], T_SCHEMA_TEXT);
			t_str(&pc[0], "p");
			t_agg(&md[3], PQ_V_LIST, pc, 1);
			t_str(&conf[0], "delta.appendOnly");
			t_str(&conf[1], "false");
			t_agg(&md[4], PQ_V_MAP, conf, 1);
			t_agg(&cols[3], PQ_V_STRUCT, md, 5);
		}
		if (a->kind == 'p') {
			memset(proto, 0, sizeof proto);
			proto[0].kind = proto[1].kind = PQ_V_I32;
			proto[0].i32 = 1;
			proto[1].i32 = 2;
			t_agg(&cols[4], PQ_V_STRUCT, proto, 2);
		}
		t_agg(&row, PQ_V_STRUCT, cols, 5);
		T_EQ_INT(pq_writer_write_row(w, &row), 0);
	}
	T_EQ_INT(pq_writer_close(w), 0);
	pq_writer_free(w);
}

/* The actions as JSON commit 1 (what replay rebuilds when the checkpoint is refused). */
static void t_ck_commits(const struct t_table *t, const struct t_act *acts, size_t n)
{
	char text[8192];
	size_t k = 0;
	for (size_t i = 0; i < n && k < sizeof text - 512; i++) {
		const struct t_act *a = &acts[i];
		if (a->kind == 'a' || a->kind == '2')
			k += (size_t)snprintf(text + k, sizeof text - k,
			                      "{\"add\":{\"path\":\"%s\",\"partitionValues\":{},"
			                      "\"size\":%lld,\"modificationTime\":1,"
			                      "\"dataChange\":true}}\n",
			                      a->name, (long long)a->n);
		else if (a->kind == 'r')
			k += (size_t)snprintf(
			    text + k, sizeof text - k,
			    "{\"remove\":{\"path\":\"%s\",\"dataChange\":true}}\n", a->name);
	}
	text[k] = '\0';
	t_text(t, 1, text);
}

/* Rows in an order no writer of ours makes: the rare actions among the files. */
static const struct t_act t_mixed[] = {
    {'a', "p=a/m0.parquet", 1},
    {'t', "job", 7},
    {'a', "p=b/m1.parquet", 2},
    {'r', "p=c/gone.parquet", 3},
    {'m', "11111111-2222-4333-8444-555555555555", 0},
    {'a', "p=c/m2.parquet", 3},
    {'a', "p=d/m3.parquet", 4},
    {'a', "p=e/m4.parquet", 5},
    {'a', "p=f/m5.parquet", 6},
    {'a', "p=g/m6.parquet", 7},
    {'p', NULL, 0},
    {'a', "p=h/m7.parquet", 8},
    {'a', "p=i/m8.parquet", 9},
    {'a', "p=j/m9.parquet", 10},
    {'t', "other", 2},
    {'r', "p=k/old.parquet", 4},
};
#define T_MIXED_N (sizeof t_mixed / sizeof *t_mixed)

/* The state the mixed rows give, however they were split. */
static void t_mixed_state(const struct t_table *t)
{
	struct delta_snapshot s;
	struct err_msg e;
	T_EQ_INT(load(t, 0, &s, &e), 0);
	T_EQ_INT(s.checkpoint_version, 1);
	T_EQ_INT(s.has_notice, 0);
	T_EQ_INT(s.files.count, 10);
	T_EQ_INT(s.tombstones.count, 2);
	T_EQ_INT(s.protocol.min_writer, 2);
	T_CHECK(s.meta.id && strcmp(s.meta.id, t_mixed[4].name) == 0);
	T_EQ_INT(delta_txn_version(&s, "job"), 7);
	T_EQ_INT(delta_txn_version(&s, "other"), 2);
	const struct delta_file *f = strmap_get(&s.files, "p=e/m4.parquet");
	T_CHECK(f != NULL);
	if (f) {
		T_EQ_INT(f->size, 5);
		T_EQ_INT(f->modification_time, 1005);
		T_EQ_INT(f->data_change, 1);
		T_EQ_STR(f->stats, "{\"numRecords\":5}");
		T_EQ_INT(f->partition_values.n, 1);
		T_EQ_STR(f->partition_values.kv[0].value, "e");
	}
	const struct delta_file *g = strmap_get(&s.files, "p=f/m5.parquet");
	T_CHECK(g && !g->stats && !g->data_change && g->partition_values.n == 1 &&
	        g->partition_values.kv[0].value == NULL);
	delta_snapshot_free(&s);
	/* A writer's load: the same protocol, metadata and txns, no files. */
	T_EQ_INT(load(t, 1, &s, &e), 0);
	T_EQ_INT(s.checkpoint_version, 1);
	T_EQ_INT(s.has_notice, 0);
	T_EQ_INT(s.files.count, 0);
	T_EQ_INT(s.protocol.min_reader, 1);
	T_CHECK(s.meta.id && strcmp(s.meta.id, t_mixed[4].name) == 0);
	T_EQ_INT(delta_txn_version(&s, "job"), 7);
	T_EQ_INT(delta_txn_version(&s, "other"), 2);
	delta_snapshot_free(&s);
}

static void test_a_checkpoint_with_its_actions_in_any_order_reads_as_its_rows_say(void)
{
	for (int64_t group = 1; group <= 6; group++) {
		struct t_table t;
		t_table_new(&t, 0);
		t_ck_commits(&t, t_mixed, T_MIXED_N);
		t_ck_write(&t, "00000000000000000001.checkpoint.parquet", t_mixed, T_MIXED_N,
		           group);
		same_both_ways(t.root, -1, 10);
		t_mixed_state(&t);
		/* Files of the checkpoint removed, replaced and brought back by a commit after it. */
		t_text(&t, 2,
		       "{\"remove\":{\"path\":\"p=a/m0.parquet\",\"dataChange\":true}}\n"
		       "{\"add\":{\"path\":\"p=b/m1.parquet\",\"partitionValues\":{},"
		       "\"size\":77,\"modificationTime\":1,\"dataChange\":true}}\n"
		       "{\"add\":{\"path\":\"p=c/gone.parquet\",\"partitionValues\":{},"
		       "\"size\":78,\"modificationTime\":1,\"dataChange\":true}}\n");
		struct delta_snapshot s;
		struct err_msg e;
		T_EQ_INT(load(&t, 0, &s, &e), 0);
		T_EQ_INT(s.files.count, 10);
		T_EQ_INT(s.tombstones.count, 2);
		const struct delta_file *m1 = strmap_get(&s.files, "p=b/m1.parquet");
		T_CHECK(m1 && m1->size == 77 && m1->version == 2);
		T_CHECK(strmap_get(&s.tombstones, "p=a/m0.parquet") != NULL);
		T_CHECK(strmap_get(&s.tombstones, "p=c/gone.parquet") == NULL);
		delta_snapshot_free(&s);
		t_table_free(&t);
	}
}

static void test_a_checkpoint_in_parts_reads_as_one(void)
{
	/* The files alone in the first part, every rare action in the second; then cut elsewhere. */
	static const size_t cuts[] = {3, 10, 11, T_MIXED_N - 1};
	for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
		struct t_table t;
		t_table_new(&t, 0);
		t_ck_commits(&t, t_mixed, T_MIXED_N);
		t_ck_write(&t, "00000000000000000001.checkpoint.0000000001.0000000002.parquet",
		           t_mixed, cuts[c], 2);
		t_ck_write(&t, "00000000000000000001.checkpoint.0000000002.0000000002.parquet",
		           t_mixed + cuts[c], T_MIXED_N - cuts[c], 3);
		same_both_ways(t.root, -1, 10);
		t_mixed_state(&t);
		t_table_free(&t);
	}
}

static void test_a_checkpoint_row_with_two_actions_is_refused_wherever_it_is(void)
{
	for (size_t at = 0; at < T_MIXED_N; at += 5) {
		struct t_act acts[T_MIXED_N];
		memcpy(acts, t_mixed, sizeof acts);
		if (acts[at].kind != 'a')
			at++;
		acts[at].kind = '2';
		struct t_table t;
		t_table_new(&t, 0);
		t_ck_commits(&t, acts, T_MIXED_N);
		t_ck_write(&t, "00000000000000000001.checkpoint.parquet", acts, T_MIXED_N, 4);
		struct delta_snapshot s;
		struct err_msg e;
		T_EQ_INT(load(&t, 0, &s, &e), 0);
		T_EQ_INT(s.checkpoint_version, -1);
		T_EQ_INT(s.has_notice, 1);
		T_CHECK(strstr(s.notice.text, "a row holds more than one action") != NULL);
		T_EQ_INT(s.files.count, 10);
		delta_snapshot_free(&s);
		t_table_free(&t);
	}
}

/* Paths and stats, one of a kind per file, are written without a dictionary. */
static void test_checkpoints_write_paths_and_stats_plain(void)
{
	struct t_table t;
	struct err_msg e;
	t_varied(&t);
	T_EQ_INT(t_checkpoint(&t, 10), 0);
	char path[512];
	t_log_path(&t, "00000000000000000010.checkpoint.parquet", path, sizeof path);
	struct pq_reader *r = pq_reader_open(path, NULL, &e);
	T_CHECK(r != NULL);
	static const char *const plain[] = {"add.path", "add.stats", "remove.path"};
	for (size_t i = 0; r && i < sizeof plain / sizeof *plain; i++) {
		const struct pq_schema *s = pq_reader_schema(r);
		const struct pq_field *f = pq_schema_field(s, pq_schema_find(s, plain[i]));
		struct pq_chunk_info ci;
		T_CHECK(f && pq_reader_chunk_info(r, 0, f->leaf, &ci) == 0);
		T_EQ_INT(ci.dictionary_page_offset, -1);
		for (int k = 0; k < ci.nencodings; k++)
			T_CHECK(ci.encodings[k] != PQ_ENC_RLE_DICTIONARY &&
			        ci.encodings[k] != PQ_ENC_PLAIN_DICTIONARY);
	}
	pq_reader_close(r);
	t_table_free(&t);
}

/*
 * The columns read one by one, the map columns and the columns replay does
 * not keep: a damaged page in any is refused as a row read refuses it, and
 * the JSON commits take over.
 */
static void test_a_damaged_page_in_a_checkpoint_read_column_by_column_is_refused(void)
{
	static const char *const columns[] = {"add.stats", "add.tags.key", "add.baseRowId",
	                                      "remove.deletionTimestamp", "txn.appId"};
	const char *ck = "00000000000000000010.checkpoint.parquet";
	struct t_table t;
	struct delta_snapshot s;
	struct err_msg e;
	t_varied(&t);
	T_EQ_INT(t_checkpoint(&t, 10), 0);
	for (size_t i = 0; i < sizeof columns / sizeof *columns; i++) {
		char page[200];
		snprintf(page, sizeof page,
		         "checkpoint of version 10: _delta_log/%s: row group 0, column %s: page ",
		         ck, columns[i]);
		damage_column(&t, ck, columns[i], 0x10);
		T_EQ_INT(load(&t, 0, &s, &e), 0);
		T_EQ_INT(s.checkpoint_version, -1);
		T_EQ_INT(s.files.count, 12);
		T_EQ_INT(s.has_notice, 1);
		if (!strstr(s.notice.text, page))
			printf("#   %s\n", s.notice.text);
		T_CHECK(strstr(s.notice.text, page) != NULL);
		T_CHECK(strstr(s.notice.text, "the state was rebuilt from the JSON commits") !=
		        NULL);
		delta_snapshot_free(&s);
		damage_column(&t, ck, columns[i], 0x10);
		T_EQ_INT(load(&t, 0, &s, &e), 0);
		T_EQ_INT(s.checkpoint_version, 10);
		T_EQ_INT(s.has_notice, 0);
		delta_snapshot_free(&s);
	}
	t_table_free(&t);
}

static void test_counts_that_disagree_with_last_checkpoint_leave_it_aside(void)
{
	struct t_table t;
	struct delta_snapshot s;
	struct err_msg e;
	t_table_new(&t, 0);
	for (int v = 1; v <= 11; v++)
		t_append(&t, v, "a", NULL);
	T_EQ_INT(t_checkpoint(&t, 10), 0);
	corrupt(&t, "_last_checkpoint", "{\"version\":10,\"size\":12,\"numOfAddFiles\":9}\n");
	for (int no_files = 0; no_files <= 1; no_files++) {
		T_EQ_INT(load(&t, no_files, &s, &e), 0);
		T_EQ_INT(s.version, 11);
		T_EQ_INT(s.has_notice, 1);
		T_CHECK(strstr(s.notice.text, "10 add actions, but _last_checkpoint says 9") !=
		        NULL);
		delta_snapshot_free(&s);
	}
	corrupt(&t, "_last_checkpoint", "{\"version\":10,\"size\":5}\n");
	T_EQ_INT(load(&t, 0, &s, &e), 0);
	T_CHECK(strstr(s.notice.text, "12 actions, but _last_checkpoint says 5") != NULL);
	delta_snapshot_free(&s);
	/* delta-rs 0.11 put a byte size in "size" (with "parts":null): not a count to check. */
	corrupt(&t, "_last_checkpoint", "{\"version\":10,\"size\":16384,\"parts\":null}\n");
	T_EQ_INT(load(&t, 0, &s, &e), 0);
	T_EQ_INT(s.has_notice, 0);
	T_EQ_INT(s.checkpoint_version, 10);
	delta_snapshot_free(&s);
	t_table_free(&t);
}

static void test_an_older_checkpoint_takes_over(void)
{
	struct t_table t;
	struct delta_snapshot s;
	struct err_msg e;
	t_table_new(&t, 0);
	for (int v = 1; v <= 22; v++)
		t_append(&t, v, "a", NULL);
	T_EQ_INT(t_checkpoint(&t, 10), 0);
	T_EQ_INT(t_checkpoint(&t, 20), 0);
	for (int v = 0; v <= 9; v++)
		t_remove_commit(&t, v);
	corrupt(&t, "00000000000000000020.checkpoint.parquet", "");
	T_EQ_INT(load(&t, 0, &s, &e), 0);
	T_EQ_INT(s.version, 22);
	T_EQ_INT(s.checkpoint_version, 10);
	T_EQ_INT(s.files.count, 22);
	T_CHECK(strstr(s.notice.text, "rebuilt from an older checkpoint") != NULL);
	delta_snapshot_free(&s);
	/* Without the older one nothing can rebuild the state: refused. */
	corrupt(&t, "00000000000000000010.checkpoint.parquet", "junk");
	T_EQ_INT(load(&t, 0, &s, &e), -1);
	T_EQ_INT(e.status, EX_DATAERR);
	T_CHECK(strstr(e.text, "checkpoint of version 20:") != NULL);
	T_CHECK(strstr(e.text,
	               "the state cannot be rebuilt without it (version 0 is not in the log)") !=
	        NULL);
	t_table_free(&t);
}

static void test_last_checkpoint_never_moves_backwards(void)
{
	struct t_table t;
	struct err_msg e;
	char lc[512];
	t_table_new(&t, 0);
	for (int v = 1; v <= 20; v++)
		t_append(&t, v, "a", NULL);
	T_EQ_INT(t_checkpoint(&t, 20), 0);
	/* A slower writer finishing the checkpoint of 10 afterwards. */
	T_EQ_INT(t_checkpoint(&t, 10), 0);
	t_log_path(&t, "_last_checkpoint", lc, sizeof lc);
	FILE *f = fopen(lc, "r");
	char line[256] = "";
	T_CHECK(f && fgets(line, sizeof line, f));
	if (f)
		fclose(f);
	struct delta_last_checkpoint p;
	T_EQ_INT(delta_last_checkpoint_parse(line, strlen(line), &p), 0);
	T_EQ_INT(p.version, 20);
	T_EQ_INT(p.add_files, 20);
	struct delta_snapshot s;
	T_EQ_INT(load(&t, 0, &s, &e), 0);
	T_EQ_INT(s.checkpoint_version, 20);
	delta_snapshot_free(&s);
	t_table_free(&t);
}

static void test_durations_parse_without_overflow(void)
{
	int64_t ms;
	T_EQ_INT(delta_interval_ms("interval 7 days", &ms), 0);
	T_EQ_INT(ms, 7LL * 86400000);
	T_EQ_INT(delta_interval_ms("interval 1 week", &ms), 0);
	T_EQ_INT(ms, 604800000);
	T_EQ_INT(delta_interval_ms("INTERVAL 30 Minutes", &ms), 0);
	T_EQ_INT(ms, 1800000);
	T_EQ_INT(delta_interval_ms("interval 9223372036854775807 milliseconds", &ms), 0);
	T_EQ_INT(ms, INT64_MAX);
	T_EQ_INT(delta_interval_ms("interval 9223372036854775807 weeks", &ms), -1);
	T_EQ_INT(delta_interval_ms("interval 99999999999999999999 days", &ms), -1);
	T_EQ_INT(delta_interval_ms("interval -1 days", &ms), -1);
	T_EQ_INT(delta_interval_ms("interval 3 fortnights", &ms), -1);
	T_EQ_INT(delta_interval_ms("7 days", &ms), -1);
	T_EQ_INT(delta_interval_ms("interval 7", &ms), -1);
}

static void test_last_checkpoint_parses(void)
{
	struct delta_last_checkpoint lc;
	const char *spark =
	    "{\"version\":10,\"size\":13,\"sizeInBytes\":16479,\"numOfAddFiles\":6}";
	T_EQ_INT(delta_last_checkpoint_parse(spark, strlen(spark), &lc), 0);
	T_EQ_INT(lc.version, 10);
	T_EQ_INT(lc.size, 13);
	T_EQ_INT(lc.add_files, 6);
	T_EQ_INT(lc.parts, 1);
	const char *multi = "{\"version\":1,\"size\":12,\"parts\":2}";
	T_EQ_INT(delta_last_checkpoint_parse(multi, strlen(multi), &lc), 0);
	T_EQ_INT(lc.parts, 2);
	const char *rs = "{\"version\":3,\"size\":9999,\"parts\":null}";
	T_EQ_INT(delta_last_checkpoint_parse(rs, strlen(rs), &lc), 0);
	T_EQ_INT(lc.size, -1);
	const char *bad[] = {"",
	                     "{}",
	                     "{\"version\":-1}",
	                     "{\"version\":2,\"parts\":0}",
	                     "[1]",
	                     "{\"version\":\"3\"}"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		T_EQ_INT(delta_last_checkpoint_parse(bad[i], strlen(bad[i]), &lc), -1);
	/* A V2 checkpoint's name is kept when it is one of the pointer's version. */
	const char *v2 = "{\"version\":10,\"size\":7,\"v2Checkpoint\":{\"path\":"
	                 "\"00000000000000000010.checkpoint.80a083e8-7026-4e79-81be-"
	                 "64bd76c43a11.json\",\"sizeInBytes\":1,\"modificationTime\":1}}";
	T_EQ_INT(delta_last_checkpoint_parse(v2, strlen(v2), &lc), 0);
	T_EQ_STR(lc.v2_name,
	         "00000000000000000010.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.json");
	const char *other = "{\"version\":11,\"v2Checkpoint\":{\"path\":"
	                    "\"00000000000000000010.checkpoint.80a083e8.json\"}}";
	T_EQ_INT(delta_last_checkpoint_parse(other, strlen(other), &lc), 0);
	T_EQ_STR(lc.v2_name, "");
}

static void test_checkpoint_names_parse(void)
{
	struct delta_ckpt c;
	char name[128];
	T_EQ_INT(delta_ckpt_parse("00000000000000000010.checkpoint.parquet", &c), 1);
	T_EQ_INT(c.kind, DELTA_CKPT_CLASSIC);
	T_EQ_INT(c.parts, 1);
	T_EQ_INT(
	    delta_ckpt_parse("00000000000000000010.checkpoint.0000000002.0000000003.parquet", &c),
	    1);
	T_EQ_INT(c.parts, 3);
	T_EQ_INT(c.have[1], 1);
	T_EQ_INT(c.have[0], 0);
	T_EQ_INT(
	    delta_ckpt_parse(
	        "00000000000000000010.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.json", &c),
	    1);
	T_EQ_INT(c.kind, DELTA_CKPT_UUID_JSON);
	T_EQ_INT(c.version, 10);
	T_EQ_STR(c.uuid, "80a083e8-7026-4e79-81be-64bd76c43a11");
	T_EQ_INT(delta_ckpt_name(&c, name, sizeof name), 0);
	T_EQ_STR(name, "00000000000000000010.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.json");
	T_EQ_INT(delta_ckpt_parse("00000000000000000010.checkpoint.0ABC.parquet", &c), 1);
	T_EQ_INT(c.kind, DELTA_CKPT_UUID_PARQUET);
	const char * not [] = {"00000000000000000010.checkpoint.0000000004.0000000003.parquet",
	                       "00000000000000000010.checkpoint.0000000001.0000000001.parquet",
	                       "00000000000000000010.checkpoint..json",
	                       "00000000000000000010.checkpoint.80a0.crc",
	                       "00000000000000000010.checkpoint.x_y.json",
	                       "0000000000000000001x.checkpoint.parquet",
	                       "00000000000000000010.json"};
	for (size_t i = 0; i < sizeof not / sizeof *not ; i++)
		T_EQ_INT(delta_ckpt_parse(not [i], &c), 0);
}

int main(void)
{
	T_RUN(test_replay_applies_commits_in_order);
	T_RUN(test_every_line_is_checked_without_file_lists);
	T_RUN(test_an_empty_commit_is_refused_naming_it);
	T_RUN(test_a_control_character_in_a_commit_is_refused);
	T_RUN(test_a_gap_is_named);
	T_RUN(test_a_gap_after_the_hinted_checkpoint_is_named);
	T_RUN(test_a_stale_hint_is_caught);
	T_RUN(test_an_unreadable_checkpoint_falls_back_to_the_commits);
	T_RUN(test_a_writer_refuses_a_damaged_checkpoint_as_readers_do);
	T_RUN(test_checkpoints_read_column_by_column_hold_what_their_rows_hold);
	T_RUN(test_a_checkpoint_with_its_actions_in_any_order_reads_as_its_rows_say);
	T_RUN(test_a_checkpoint_in_parts_reads_as_one);
	T_RUN(test_a_checkpoint_row_with_two_actions_is_refused_wherever_it_is);
	T_RUN(test_checkpoints_write_paths_and_stats_plain);
	T_RUN(test_a_damaged_page_in_a_checkpoint_read_column_by_column_is_refused);
	T_RUN(test_counts_that_disagree_with_last_checkpoint_leave_it_aside);
	T_RUN(test_an_older_checkpoint_takes_over);
	T_RUN(test_last_checkpoint_never_moves_backwards);
	T_RUN(test_durations_parse_without_overflow);
	T_RUN(test_last_checkpoint_parses);
	T_RUN(test_checkpoint_names_parse);
	T_DONE();
}

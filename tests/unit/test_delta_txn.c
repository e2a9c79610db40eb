/*
 * Unit tests for transactions (common/delta/delta_txn.c) and the link
 * commit store (delta_store.c): the commit text of a transaction, the
 * judgement of each kind of winning commit, moving past other writers'
 * appends at no cost, duplicates, revalidated metadata changes, the
 * checkpoint that falls due (written in the commit, or behind it by a
 * checkpointer; from a snapshot kept without tombstones, once it is
 * loaded whole), the barrier that holds a commit back until its data is
 * durable, and two creators racing for version 0.
 */
#include "t_delta.h"

#include <time.h>

#include "t.h"

static struct delta_snapshot snap_of(const struct t_table *t, int no_files)
{
	struct delta_snapshot s;
	struct delta_load_opts o = {-1, -1, no_files, 0, 0};
	struct err_msg e;
	if (delta_snapshot_load(t->root, &o, &s, &e) < 0) {
		printf("# %s\n", e.text);
		exit(70);
	}
	return s;
}

static struct delta_file file(const char *path, struct delta_kv *kv, const char *stats)
{
	struct delta_file f = {0};
	f.path = (char *)path;
	f.partition_values.kv = kv;
	f.partition_values.n = kv ? 1 : 0;
	f.size = 512;
	f.modification_time = 1700000000000;
	f.data_change = 1;
	f.stats = (char *)stats;
	f.deletion_timestamp = -1;
	return f;
}

static void test_the_commit_text_of_a_transaction(void)
{
	struct t_table t;
	t_table_new(&t, 0);
	struct delta_snapshot s = snap_of(&t, 1);
	struct delta_store *store = delta_store_link(t.root, NULL);
	struct delta_txn *x = delta_txn_begin(&s, store, "WRITE");
	struct delta_kv kv = {(char *)"p", (char *)"a b"}, knull = {(char *)"p", NULL};
	struct delta_file f = file("p=a b/part 1.parquet", &kv, "{\"numRecords\":2}");
	struct delta_file g = file("p=__HIVE_DEFAULT_PARTITION__/old.parquet", &knull, NULL);
	T_EQ_INT(delta_txn_param(x, "mode", "Append"), 0);
	T_EQ_INT(delta_txn_param(x, "partitionBy", "[\"p\"]"), 0);
	T_EQ_INT(delta_txn_metric_i64(x, "numFiles", 1), 0);
	T_EQ_INT(delta_txn_add(x, &f), 0);
	T_EQ_INT(delta_txn_set_app(x, "feed", 42), 0);
	T_CHECK(delta_txn_is_blind_append(x));
	struct buf b = BUF_INIT, want = BUF_INIT;
	T_EQ_INT(delta_txn_text(x, 1700000000123, &b), 0);
	buf_printf(
	    &want,
	    "{\"commitInfo\":{\"timestamp\":1700000000123,\"operation\":\"WRITE\","
	    "\"operationParameters\":{\"mode\":\"Append\",\"partitionBy\":\"[\\\"p\\\"]\"},"
	    "\"readVersion\":0,\"isolationLevel\":\"WriteSerializable\",\"isBlindAppend\":true,"
	    "\"operationMetrics\":{\"numFiles\":\"1\"},\"engineInfo\":\"%s\",\"txnId\":\"%s\"}}\n"
	    "{\"txn\":{\"appId\":\"feed\",\"version\":42,\"lastUpdated\":1700000000123}}\n"
	    "{\"add\":{\"path\":\"p=a%%20b/part%%201.parquet\",\"partitionValues\":{\"p\":\"a b\"},"
	    "\"size\":512,\"modificationTime\":1700000000000,\"dataChange\":true,"
	    "\"stats\":\"{\\\"numRecords\\\":2}\"}}\n",
	    DELTA_ENGINE, delta_txn_id(x));
	T_EQ_STR(b.data, want.data);
	/* A remove makes it no blind append; it comes before the adds, with Spark's fields. */
	T_EQ_INT(delta_txn_remove(x, &g, 1700000000999, 0), 0);
	T_CHECK(!delta_txn_is_blind_append(x));
	T_EQ_INT(delta_txn_text(x, 1, &b), 0);
	T_CHECK(strstr(b.data, "\"isBlindAppend\":false") != NULL);
	const char *rm = strstr(b.data, "{\"remove\":{\"path\":\"p=__HIVE_DEFAULT_PARTITION__/"
	                                "old.parquet\",\"deletionTimestamp\":1700000000999,"
	                                "\"dataChange\":false,\"extendedFileMetadata\":true,"
	                                "\"partitionValues\":{\"p\":null},\"size\":512}}\n");
	T_CHECK(rm != NULL && rm < strstr(b.data, "{\"add\""));
	/* The text is what gets committed: it replays. */
	struct delta_commit_info info;
	struct err_msg e;
	T_EQ_INT(delta_txn_commit(x, &info, &e), 0);
	T_EQ_INT(info.version, 1);
	T_EQ_INT(s.version, 1);
	T_EQ_INT(delta_txn_version(&s, "feed"), 42);
	buf_free(&b);
	buf_free(&want);
	delta_txn_free(x);
	delta_snapshot_free(&s);
	delta_store_close(store);
	t_table_free(&t);
}

/* Judge winner text for a transaction set up by the caller. */
static int judge(struct delta_txn *x, int64_t v, const char *text)
{
	struct err_msg e;
	return delta_txn_check_winner(x, v, text, strlen(text), &e);
}

static void test_winning_commits_are_judged_by_their_actions(void)
{
	struct t_table t;
	t_table_new(&t, 0);
	t_append(&t, 1, "a", NULL);
	t_append(&t, 2, "b", NULL);
	struct delta_snapshot s = snap_of(&t, 0);
	struct delta_store *store = delta_store_link(t.root, NULL);
	struct delta_kv ka = {(char *)"p", (char *)"a"};
	struct delta_map pa = {&ka, 1};
	struct delta_txn *x = delta_txn_begin(&s, store, "MERGE");
	delta_txn_set_app(x, "feed", 10);
	/* An upsert: it rewrites f1 (partition a) and read partition a. */
	struct delta_file f1 = file("p=a/f1.parquet", &ka, NULL);
	delta_txn_remove(x, &f1, 5, 1);
	delta_txn_read_partition(x, &pa);
	const char *blind_b =
	    "{\"commitInfo\":{\"isBlindAppend\":true}}\n"
	    "{\"add\":{\"path\":\"p=b/n.parquet\",\"partitionValues\":{\"p\":\"b\"},"
	    "\"size\":1,\"modificationTime\":1,\"dataChange\":true}}\n";
	T_EQ_INT(judge(x, 3, blind_b), DELTA_WINNER_COMPATIBLE);
	T_EQ_INT(s.version, 3);
	T_CHECK(strmap_get(&s.files, "p=b/n.parquet") != NULL);
	/* Another writer's blind append into the partition we read: fine under WriteSerializable. */
	const char *blind_a =
	    "{\"add\":{\"path\":\"p=a/n.parquet\",\"partitionValues\":{\"p\":\"a\"},"
	    "\"size\":1,\"modificationTime\":1,\"dataChange\":true}}\n";
	T_EQ_INT(judge(x, 4, blind_a), DELTA_WINNER_COMPATIBLE);
	/* ... but not when that commit also read (it says it was no blind append). */
	const char *merge_a =
	    "{\"commitInfo\":{\"isBlindAppend\":false}}\n"
	    "{\"add\":{\"path\":\"p=a/m.parquet\",\"partitionValues\":{\"p\":\"a\"},"
	    "\"size\":1,\"modificationTime\":1,\"dataChange\":true}}\n";
	T_EQ_INT(judge(x, 5, merge_a), DELTA_WINNER_APPEND_READ);
	/* Compaction adds no rows: no conflict with a read. */
	const char *compact =
	    "{\"commitInfo\":{\"isBlindAppend\":false}}\n"
	    "{\"add\":{\"path\":\"p=a/c.parquet\",\"partitionValues\":{\"p\":\"a\"},"
	    "\"size\":1,\"modificationTime\":1,\"dataChange\":false}}\n";
	T_EQ_INT(judge(x, 6, compact), DELTA_WINNER_COMPATIBLE);
	/* Serializable: even blind appends into what we read conflict. */
	delta_txn_set_isolation(x, DELTA_SERIALIZABLE);
	T_EQ_INT(judge(x, 7, blind_a), DELTA_WINNER_APPEND_READ);
	delta_txn_set_isolation(x, DELTA_WRITE_SERIALIZABLE);
	/* Removing what we remove, or what we read. */
	T_EQ_INT(judge(x, 8, "{\"remove\":{\"path\":\"p=a/f1.parquet\",\"dataChange\":true}}\n"),
	         DELTA_WINNER_DELETE_DELETE);
	delta_txn_read_file(x, "p=b/f2.parquet");
	T_EQ_INT(judge(x, 9, "{\"remove\":{\"path\":\"p=b/f2.parquet\",\"dataChange\":true}}\n"),
	         DELTA_WINNER_DELETE_READ);
	/* A path compared after decoding, as replay compares them. */
	delta_txn_read_file(x, "p=b/x y.parquet");
	T_EQ_INT(
	    judge(x, 10, "{\"remove\":{\"path\":\"p=b/x%20y.parquet\",\"dataChange\":true}}\n"),
	    DELTA_WINNER_DELETE_READ);
	/* Our application's txn: at our id or above we are a duplicate, below we are not. */
	T_EQ_INT(judge(x, 11, "{\"txn\":{\"appId\":\"feed\",\"version\":9}}\n"),
	         DELTA_WINNER_COMPATIBLE);
	T_EQ_INT(judge(x, 12, "{\"txn\":{\"appId\":\"other\",\"version\":99}}\n"),
	         DELTA_WINNER_COMPATIBLE);
	T_EQ_INT(judge(x, 13, "{\"txn\":{\"appId\":\"feed\",\"version\":10}}\n"),
	         DELTA_WINNER_DUPLICATE);
	/* Metadata and protocol changes; a substring in a value is no action. */
	T_EQ_INT(judge(x, 14,
	               "{\"commitInfo\":{\"operation\":\"{\\\"metaData\\\"\"}}\n"
	               "{\"add\":{\"path\":"
	               "\"p=b/z.parquet\",\"partitionValues\":{\"p\":\"b\"},\"size\":1,"
	               "\"modificationTime\":1,\"dataChange\":true}}\n"),
	         DELTA_WINNER_COMPATIBLE);
	T_EQ_INT(judge(x, 15, "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}\n"),
	         DELTA_WINNER_PROTOCOL);
	char meta[1024];
	snprintf(meta, sizeof meta,
	         "{\"metaData\":{\"id\":\"00000000-0000-4000-8000-000000000000\",\"format\":"
	         "{\"provider\":\"parquet\",\"options\":{}},\"schemaString\":\"%s\","
	         "\"partitionColumns\":[\"p\"],\"configuration\":{\"k\":\"v\"}}}\n",
	         T_SCHEMA);
	T_EQ_INT(judge(x, 16, meta), DELTA_WINNER_METADATA);
	T_EQ_INT(judge(x, 17, "{\"add\":{\"path\":\"x\"}"), -1);
	T_EQ_INT(s.version, 16);
	delta_txn_free(x);
	delta_snapshot_free(&s);
	delta_store_close(store);
	t_table_free(&t);
}

/* Commit one blind append of file name through its own snapshot (another writer). */
static void other_writer(const struct t_table *t, struct delta_store *store, const char *name)
{
	struct delta_snapshot s = snap_of(t, 1);
	struct delta_txn *x = delta_txn_begin(&s, store, "WRITE");
	struct delta_kv kv = {(char *)"p", (char *)"a"};
	struct delta_file f = file(name, &kv, NULL);
	struct delta_commit_info info;
	struct err_msg e;
	delta_txn_add(x, &f);
	if (delta_txn_commit(x, &info, &e) < 0)
		printf("# %s\n", e.text);
	delta_txn_free(x);
	delta_snapshot_free(&s);
}

static void test_catching_up_over_appends_costs_no_attempt(void)
{
	struct t_table t;
	struct err_msg e;
	t_table_new(&t, 1000);
	struct delta_store *store = delta_store_link(t.root, NULL);
	struct delta_snapshot slow = snap_of(&t, 1);
	char name[64];
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof name, "p=a/fast-%d.parquet", i);
		other_writer(&t, store, name);
	}
	struct delta_txn *x = delta_txn_begin(&slow, store, "WRITE");
	struct delta_kv kv = {(char *)"p", (char *)"a"};
	struct delta_file f = file("p=a/slow.parquet", &kv, NULL);
	delta_txn_add(x, &f);
	delta_txn_set_app(x, "slow", 2);
	/* No conflict may be revalidated at all: catching up must not need it. */
	delta_txn_set_revalidate(x, NULL, NULL, 0);
	struct delta_commit_info info;
	T_EQ_INT(delta_txn_commit(x, &info, &e), 0);
	T_EQ_INT(info.version, 21);
	T_EQ_INT(info.winners, 20);
	T_EQ_INT(info.attempts, 0);
	T_EQ_INT(slow.version, 21);
	delta_txn_free(x);
	delta_snapshot_free(&slow);
	struct delta_snapshot all = snap_of(&t, 0);
	T_EQ_INT(all.files.count, 21);
	delta_snapshot_free(&all);
	delta_store_close(store);
	t_table_free(&t);
}

static int accept_all(void *arg, const struct delta_snapshot *snap, struct err_msg *e)
{
	(void)snap;
	(void)e;
	++*(int *)arg;
	return 0;
}

static void test_duplicates_and_metadata_changes(void)
{
	struct t_table t;
	struct err_msg e;
	struct delta_commit_info info;
	t_table_new(&t, 0);
	struct delta_store *store = delta_store_link(t.root, NULL);
	struct delta_snapshot s = snap_of(&t, 1);
	/* Another writer loads batch 7 of feed first. */
	t_append(&t, 1, "a", NULL);
	t_text(&t, 2, "{\"txn\":{\"appId\":\"feed\",\"version\":7}}\n");
	struct delta_txn *x = delta_txn_begin(&s, store, "WRITE");
	struct delta_kv kv = {(char *)"p", (char *)"a"};
	struct delta_file f = file("p=a/mine.parquet", &kv, NULL);
	delta_txn_add(x, &f);
	delta_txn_set_app(x, "feed", 7);
	T_EQ_INT(delta_txn_commit(x, &info, &e), 1);
	T_EQ_INT(info.duplicate, 1);
	T_EQ_INT(info.version, -1);
	delta_txn_free(x);
	struct buf text = BUF_INIT;
	T_EQ_INT(delta_commit_read(t.root, 3, &text, &e), 1);
	/* A metadata change: a conflict, unless the hook says the staged files still fit. */
	char meta[1024];
	snprintf(meta, sizeof meta,
	         "{\"metaData\":{\"id\":\"00000000-0000-4000-8000-000000000000\",\"format\":"
	         "{\"provider\":\"parquet\",\"options\":{}},\"schemaString\":\"%s\","
	         "\"partitionColumns\":[\"p\"],\"configuration\":{\"k\":\"v\"}}}\n",
	         T_SCHEMA);
	t_text(&t, 3, meta);
	x = delta_txn_begin(&s, store, "WRITE");
	delta_txn_add(x, &f);
	T_EQ_INT(delta_txn_commit(x, &info, &e), -1);
	T_EQ_INT(e.status, EX_TEMPFAIL);
	T_EQ_INT(info.conflict, DELTA_WINNER_METADATA);
	T_CHECK(strstr(e.text, "version 3 changed the table's metadata") != NULL);
	delta_txn_free(x);
	t_text(&t, 4, meta);
	int calls = 0;
	x = delta_txn_begin(&s, store, "WRITE");
	delta_txn_add(x, &f);
	delta_txn_set_revalidate(x, accept_all, &calls, 3);
	T_EQ_INT(delta_txn_commit(x, &info, &e), 0);
	T_EQ_INT(info.version, 5);
	T_EQ_INT(info.attempts, 1);
	T_EQ_INT(calls, 1);
	delta_txn_free(x);
	buf_free(&text);
	delta_snapshot_free(&s);
	delta_store_close(store);
	t_table_free(&t);
}

static void test_the_checkpoint_that_falls_due_is_written(void)
{
	struct t_table t;
	struct err_msg e;
	t_table_new(&t, 2);
	t_append(&t, 1, "a", NULL);
	struct delta_store *store = delta_store_link(t.root, NULL);
	struct delta_snapshot s = snap_of(&t, 1);
	struct delta_txn *x = delta_txn_begin(&s, store, "WRITE");
	struct delta_kv kv = {(char *)"p", (char *)"b"};
	struct delta_file f = file("p=b/two.parquet", &kv, NULL);
	delta_txn_add(x, &f);
	struct delta_commit_info info;
	T_EQ_INT(delta_txn_commit(x, &info, &e), 0);
	T_EQ_INT(info.version, 2);
	T_EQ_INT(info.checkpoint, 1);
	/* Loaded whole for it, the snapshot keeps its files from now on. */
	T_EQ_INT(s.no_files, 0);
	T_EQ_INT(s.files.count, 2);
	delta_txn_free(x);
	struct delta_snapshot r = snap_of(&t, 0);
	T_EQ_INT(r.checkpoint_version, 2);
	T_EQ_INT(r.files.count, 2);
	delta_snapshot_free(&r);
	delta_snapshot_free(&s);
	delta_store_close(store);
	t_table_free(&t);
}

/* A remove of path at now (within any retention), as commit v. */
static void t_remove_now(const struct t_table *t, int64_t v, const char *path)
{
	char text[512];
	snprintf(text, sizeof text,
	         "{\"remove\":{\"path\":\"%s\",\"deletionTimestamp\":%lld,\"dataChange\":true}}\n",
	         path, (long long)time(NULL) * 1000);
	t_text(t, v, text);
}

static void test_a_snapshot_without_tombstones_still_checkpoints_them(void)
{
	struct t_table t;
	struct err_msg e;
	t_table_new(&t, 6);
	t_append(&t, 1, "a", NULL);
	t_append(&t, 2, "b", NULL);
	t_remove_now(&t, 3, "p=a/f1.parquet");
	T_EQ_INT(t_checkpoint(&t, 3), 0); /* holds b, and the tombstone of a */
	t_remove_now(&t, 4, "p=b/f2.parquet");
	t_append(&t, 5, "c", NULL);
	/* Without tombstones: the live files are the same, no tombstone is kept. */
	struct delta_snapshot s;
	struct delta_load_opts o = {-1, -1, 0, 0, 1};
	T_EQ_INT(delta_snapshot_load(t.root, &o, &s, &e), 0);
	T_EQ_INT(s.no_tombstones, 1);
	T_EQ_INT(s.checkpoint_version, 3);
	T_EQ_INT(s.files.count, 1);
	T_CHECK(strmap_get(&s.files, "p=c/f5.parquet") != NULL);
	T_EQ_INT(s.tombstones.count, 0);
	struct delta_snapshot full = snap_of(&t, 0);
	T_EQ_INT(full.files.count, 1);
	T_EQ_INT(full.tombstones.count, 2);
	delta_snapshot_free(&full);
	/* Nor can a checkpoint be written from it. */
	T_EQ_INT(delta_checkpoint_write(&s, &e), -1);
	T_CHECK(strstr(e.text, "tombstones") != NULL);
	/* The commit on which a checkpoint falls loads the table whole for it. */
	struct delta_store *store = delta_store_link(t.root, NULL);
	struct delta_txn *x = delta_txn_begin(&s, store, "DELETE");
	T_EQ_INT(delta_txn_remove(x, strmap_get(&s.files, "p=c/f5.parquet"),
	                          (int64_t)time(NULL) * 1000, 1),
	         0);
	struct delta_commit_info info;
	T_EQ_INT(delta_txn_commit(x, &info, &e), 0);
	T_EQ_INT(info.version, 6);
	T_EQ_INT(info.checkpoint, 1);
	T_EQ_INT(s.no_tombstones, 0);
	T_EQ_INT(s.tombstones.count, 3);
	delta_txn_free(x);
	struct delta_snapshot r = snap_of(&t, 0);
	T_EQ_INT(r.checkpoint_version, 6);
	T_EQ_INT(r.files.count, 0);
	T_EQ_INT(r.tombstones.count, 3);
	T_CHECK(strmap_get(&r.tombstones, "p=a/f1.parquet") != NULL);
	T_CHECK(strmap_get(&r.tombstones, "p=b/f2.parquet") != NULL);
	T_CHECK(strmap_get(&r.tombstones, "p=c/f5.parquet") != NULL);
	delta_snapshot_free(&r);
	delta_snapshot_free(&s);
	delta_store_close(store);
	t_table_free(&t);
}

/* delta.appendOnly=true: a removal of data is refused at the commit; a rearrangement is not. */
static void test_an_append_only_table_takes_no_removal_of_data(void)
{
	struct t_table t;
	struct err_msg e;
	struct delta_commit_info info;
	t_table_new(&t, 100);
	t_append(&t, 1, "a", NULL);
	struct delta_snapshot s = snap_of(&t, 0);
	struct delta_kv kv = {(char *)"delta.appendOnly", (char *)"TRUE"};
	struct delta_map saved = s.meta.configuration;
	s.meta.configuration.kv = &kv;
	s.meta.configuration.n = 1;
	T_EQ_INT(delta_append_only(&s), 1);
	struct delta_store *store = delta_store_link(t.root, NULL);
	const struct delta_file *f1 = strmap_get(&s.files, "p=a/f1.parquet");
	struct delta_txn *x = delta_txn_begin(&s, store, "DELETE");
	T_EQ_INT(delta_txn_remove(x, f1, 1700000000000, 1), 0);
	T_EQ_INT(delta_txn_commit(x, &info, &e), -1);
	T_EQ_INT(e.status, EX_DATAERR);
	T_CHECK(strstr(e.text, "append-only (delta.appendOnly=true): a DELETE that removes rows") !=
	        NULL);
	delta_txn_free(x);
	/* Nothing was committed. */
	T_EQ_INT(delta_latest_version(t.root, &e), 1);
	/* OPTIMIZE's removes change no data (dataChange false). */
	struct delta_kv pv = {(char *)"p", (char *)"a"};
	struct delta_file g = file("p=a/g.parquet", &pv, NULL);
	g.data_change = 0;
	x = delta_txn_begin(&s, store, "OPTIMIZE");
	T_EQ_INT(delta_txn_remove(x, f1, 1700000000000, 0), 0);
	T_EQ_INT(delta_txn_add(x, &g), 0);
	T_EQ_INT(delta_txn_commit(x, &info, &e), 0);
	T_EQ_INT(info.version, 2);
	delta_txn_free(x);
	s.meta.configuration = saved;
	T_EQ_INT(delta_append_only(&s), 0);
	delta_snapshot_free(&s);
	delta_store_close(store);
	t_table_free(&t);
}

/* What the barrier of a commit saw when it was called. */
struct barrier_seen {
	const char *root;
	int calls, fail;
	int linked;     /* the version's file existed */
	int hidden_tmp; /* a hidden commit file was in _delta_log */
};

static int count_hidden(const char *root)
{
	char dir[512];
	snprintf(dir, sizeof dir, "%s/_delta_log", root);
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		n += de->d_name[0] == '.' && strstr(de->d_name, ".json.") != NULL;
	if (d)
		closedir(d);
	return n;
}

static int barrier(void *arg, struct err_msg *e)
{
	struct barrier_seen *b = arg;
	char final[512];
	b->calls++;
	snprintf(final, sizeof final, "%s/_delta_log/%020d.json", b->root, 2);
	b->linked = access(final, F_OK) == 0;
	b->hidden_tmp = count_hidden(b->root);
	if (b->fail) {
		err_set(e, EX_IOERR, "p=b/two.parquet: cannot make it durable: Input/output error");
		return -1;
	}
	return 0;
}

static void test_the_barrier_holds_the_commit_back_until_it_returns(void)
{
	for (int fail = 0; fail < 2; fail++) {
		struct t_table t;
		struct err_msg e;
		t_table_new(&t, 0);
		t_append(&t, 1, "a", NULL);
		struct delta_store *store = delta_store_link(t.root, NULL);
		struct delta_snapshot s = snap_of(&t, 1);
		struct delta_txn *x = delta_txn_begin(&s, store, "WRITE");
		struct delta_kv kv = {(char *)"p", (char *)"b"};
		struct delta_file f = file("p=b/two.parquet", &kv, NULL);
		delta_txn_add(x, &f);
		struct barrier_seen b = {t.root, 0, fail, 0, 0};
		delta_txn_set_barrier(x, barrier, &b);
		struct delta_commit_info info;
		int rc = delta_txn_commit(x, &info, &e);
		/* called once, with the commit written under its hidden name and not yet linked */
		T_EQ_INT(b.calls, 1);
		T_EQ_INT(b.linked, 0);
		T_EQ_INT(b.hidden_tmp, 1);
		T_EQ_INT(count_hidden(t.root), 0);
		char final[512];
		snprintf(final, sizeof final, "%s/_delta_log/%020d.json", t.root, 2);
		if (fail) {
			T_EQ_INT(rc, -1);
			T_EQ_INT(info.version, -1);
			T_EQ_INT(e.status, EX_IOERR);
			T_CHECK(strstr(e.text, "Input/output error") != NULL);
			T_CHECK(access(final, F_OK) != 0);
		} else {
			T_EQ_INT(rc, 0);
			T_EQ_INT(info.version, 2);
			T_CHECK(access(final, F_OK) == 0);
		}
		delta_txn_free(x);
		delta_snapshot_free(&s);
		delta_store_close(store);
		t_table_free(&t);
	}
}

static void test_a_checkpoint_written_behind_holds_its_own_version(void)
{
	struct t_table t;
	struct err_msg e;
	t_table_new(&t, 2);
	t_append(&t, 1, "a", NULL);
	struct delta_store *store = delta_store_link(t.root, NULL);
	struct delta_snapshot s = snap_of(&t, 0);
	struct delta_checkpointer *k = delta_checkpointer_new();
	struct delta_kv kv = {(char *)"p", (char *)"b"};
	const char *paths[] = {"p=b/two.parquet", "p=b/three.parquet"};
	for (int i = 0; i < 2; i++) {
		struct delta_txn *x = delta_txn_begin(&s, store, "WRITE");
		struct delta_file f = file(paths[i], &kv, NULL);
		delta_txn_add(x, &f);
		delta_txn_set_checkpointer(x, k);
		struct delta_commit_info info;
		T_EQ_INT(delta_txn_commit(x, &info, &e), 0);
		T_EQ_INT(info.version, 2 + i);
		/* due at 2, handed to the checkpointer; 3 is not due */
		T_EQ_INT(info.checkpoint, i == 0 ? 2 : 0);
		delta_txn_free(x);
	}
	int64_t v = -1;
	T_EQ_INT(delta_checkpointer_poll(k, 1, &v, &e), 1);
	T_EQ_INT(v, 2);
	T_EQ_INT(delta_checkpointer_poll(k, 1, &v, &e), 0);
	/* the checkpoint of version 2 holds the two files of version 2, not the third */
	struct delta_snapshot r;
	struct delta_load_opts o = {2, -1, 0, 0, 0};
	T_EQ_INT(delta_snapshot_load(t.root, &o, &r, &e), 0);
	T_EQ_INT(r.checkpoint_version, 2);
	T_EQ_INT(r.files.count, 2);
	T_CHECK(strmap_get(&r.files, "p=b/three.parquet") == NULL);
	delta_snapshot_free(&r);
	delta_checkpointer_free(k);
	delta_snapshot_free(&s);
	delta_store_close(store);
	t_table_free(&t);
}

/*
 * The checkpoint due at 4 waits for the one of 2, which has finished
 * unseen: the outcome of both is taken, oldest first, and neither is
 * lost to the other (a failure of the first would go untold).
 */
static void test_every_checkpoint_written_behind_is_told(void)
{
	struct t_table t;
	struct err_msg e;
	t_table_new(&t, 2);
	t_append(&t, 1, "a", NULL);
	struct delta_store *store = delta_store_link(t.root, NULL);
	struct delta_snapshot s = snap_of(&t, 0);
	struct delta_checkpointer *k = delta_checkpointer_new();
	struct delta_kv kv = {(char *)"p", (char *)"b"};
	const char *paths[] = {"p=b/2.parquet", "p=b/3.parquet", "p=b/4.parquet"};
	for (int i = 0; i < 3; i++) {
		struct delta_txn *x = delta_txn_begin(&s, store, "WRITE");
		struct delta_file f = file(paths[i], &kv, NULL);
		delta_txn_add(x, &f);
		delta_txn_set_checkpointer(x, k);
		struct delta_commit_info info;
		T_EQ_INT(delta_txn_commit(x, &info, &e), 0);
		T_EQ_INT(info.version, 2 + i);
		T_EQ_INT(info.checkpoint, i == 1 ? 0 : 2);
		delta_txn_free(x);
	}
	int64_t v = -1;
	T_EQ_INT(delta_checkpointer_poll(k, 1, &v, &e), 1);
	T_EQ_INT(v, 2);
	T_EQ_INT(delta_checkpointer_poll(k, 1, &v, &e), 1);
	T_EQ_INT(v, 4);
	T_EQ_INT(delta_checkpointer_poll(k, 1, &v, &e), 0);
	delta_checkpointer_free(k);
	delta_snapshot_free(&s);
	delta_store_close(store);
	t_table_free(&t);
}

static void test_two_creators_race_for_version_0(void)
{
	struct t_table t;
	struct err_msg e;
	t_table_new(&t, 0);
	t_remove_commit(&t, 0);
	struct delta_store *store = delta_store_link(t.root, NULL);
	struct delta_protocol p = {1, 2, NULL, 0, NULL, 0};
	struct delta_metadata m = {0};
	char *cols[] = {(char *)"p"};
	m.id = (char *)"11111111-1111-4111-8111-111111111111";
	m.schema_string =
	    (char *)"{\"type\":\"struct\",\"fields\":[{\"name\":\"v\",\"type\":\"long\","
	            "\"nullable\":true,\"metadata\":{}},{\"name\":\"p\",\"type\":"
	            "\"string\",\"nullable\":true,\"metadata\":{}}]}";
	m.partition_columns = cols;
	m.n_partition_columns = 1;
	m.created_time = 5;
	struct delta_commit_info info;
	for (int i = 0; i < 2; i++) {
		struct delta_txn *x = delta_txn_begin(NULL, store, "CREATE TABLE");
		delta_txn_set_protocol(x, &p);
		delta_txn_set_metadata(x, &m);
		int rc = delta_txn_commit(x, &info, &e);
		if (i == 0) {
			T_EQ_INT(rc, 0);
			T_EQ_INT(info.version, 0);
		} else {
			T_EQ_INT(rc, -1);
			T_EQ_INT(info.conflict, DELTA_WINNER_PROTOCOL);
		}
		delta_txn_free(x);
	}
	struct delta_snapshot s = snap_of(&t, 0);
	T_EQ_STR(s.meta.id, "11111111-1111-4111-8111-111111111111");
	T_EQ_INT(s.meta.created_time, 5);
	delta_snapshot_free(&s);
	/* Without protocol and metaData there is no table to create. */
	struct delta_txn *x = delta_txn_begin(NULL, store, "CREATE TABLE");
	T_EQ_INT(delta_txn_commit(x, &info, &e), -1);
	T_EQ_INT(e.status, EX_SOFTWARE);
	delta_txn_free(x);
	delta_store_close(store);
	t_table_free(&t);
}

int main(void)
{
	T_RUN(test_the_commit_text_of_a_transaction);
	T_RUN(test_winning_commits_are_judged_by_their_actions);
	T_RUN(test_catching_up_over_appends_costs_no_attempt);
	T_RUN(test_duplicates_and_metadata_changes);
	T_RUN(test_the_checkpoint_that_falls_due_is_written);
	T_RUN(test_a_snapshot_without_tombstones_still_checkpoints_them);
	T_RUN(test_an_append_only_table_takes_no_removal_of_data);
	T_RUN(test_the_barrier_holds_the_commit_back_until_it_returns);
	T_RUN(test_a_checkpoint_written_behind_holds_its_own_version);
	T_RUN(test_every_checkpoint_written_behind_is_told);
	T_RUN(test_two_creators_race_for_version_0);
	T_DONE();
}

/*
 * Unit tests for the integrity files of a Delta log: MD5 (common/base/md5.c)
 * against RFC 1321's test suite; the canonical form and checksum of JSON
 * that PROTOCOL.md gives for _last_checkpoint (common/delta/delta_crc.c)
 * against its sample, escaping and ordering cases, and the pointers Spark
 * wrote in the fixtures; a pointer whose checksum does not match is not
 * used; and the version checksum file that a commit writes when it knows
 * the table's state, and never over one that is there.
 */
#include "t_delta.h"

#include "base/md5.h"
#include "delta/delta_internal.h"
#include "t.h"

static void test_md5_gives_the_digests_of_rfc_1321(void)
{
	static const struct {
		const char *in, *want;
	} v[] = {
	    {"", "d41d8cd98f00b204e9800998ecf8427e"},
	    {"a", "0cc175b9c0f1b6a831c399e269772661"},
	    {"abc", "900150983cd24fb0d6963f7d28e17f72"},
	    {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
	    {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
	    {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
	     "d174ab98d277d9f5a5611c2c9f419d9f"},
	    {"1234567890123456789012345678901234567890123456789012345678901234567890123456789"
	     "0",
	     "57edf4a22be3c955ac49da2e2107b67a"},
	};
	char hex[33];
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		md5_hex(v[i].in, strlen(v[i].in), hex);
		T_EQ_STR(hex, v[i].want);
	}
}

static void test_md5_fed_in_pieces_gives_the_digest_of_the_whole(void)
{
	/* Lengths around the block (64) and the padding (56) boundaries, fed unevenly. */
	char data[300];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (char)(i * 7 + 3);
	static const size_t lens[] = {55, 56, 57, 63, 64, 65, 119, 120, 128, 300};
	for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
		char whole[33], pieces[33];
		md5_hex(data, lens[l], whole);
		struct md5 m;
		unsigned char d[16];
		md5_init(&m);
		for (size_t at = 0, step = 1; at < lens[l]; at += step, step = step * 2 + 1)
			md5_update(&m, data + at, at + step > lens[l] ? lens[l] - at : step);
		md5_final(&m, d);
		for (int i = 0; i < 16; i++)
			snprintf(pieces + 2 * i, 3, "%02x", d[i]);
		T_EQ_STR(pieces, whole);
	}
	/* A million 'a's: RFC 1321's longer case as other implementations give it. */
	struct md5 m;
	unsigned char d[16];
	char a[1000], hex[33];
	memset(a, 'a', sizeof a);
	md5_init(&m);
	for (int i = 0; i < 1000; i++)
		md5_update(&m, a, sizeof a);
	md5_final(&m, d);
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	T_EQ_STR(hex, "7707d6ae4e027c70eea2a935c2296f21");
}

/* The canonical form of text, or "(invalid)". */
static char *canon(const char *text)
{
	static char out[4096];
	struct buf b = BUF_INIT;
	if (delta_json_canonical(text, strlen(text), &b) < 0)
		snprintf(out, sizeof out, "(invalid)");
	else
		snprintf(out, sizeof out, "%s", b.data);
	buf_free(&b);
	return out;
}

static void test_the_sample_of_the_protocol_gives_its_canonical_form_and_checksum(void)
{
	const char *sample = "{\"k0\":\"'v 0'\", \"checksum\": \"adsaskfljadfkjadfkj\", "
	                     "\"k1\":{\"k2\": 2, \"k3\": [\"v3\", [1, 2], {\"k4\": \"v4\", "
	                     "\"k5\": [\"v5\", \"v6\", \"v7\"]}]}}";
	T_EQ_STR(
	    canon(sample),
	    "\"k0\"=\"%27v%200%27\",\"k1\"+\"k2\"=2,\"k1\"+\"k3\"+0=\"v3\",\"k1\"+\"k3\"+1+0=1,"
	    "\"k1\"+\"k3\"+1+1=2,\"k1\"+\"k3\"+2+\"k4\"=\"v4\",\"k1\"+\"k3\"+2+\"k5\"+0="
	    "\"v5\",\"k1\"+\"k3\"+2+\"k5\"+1=\"v6\",\"k1\"+\"k3\"+2+\"k5\"+2=\"v7\"");
	char sum[33];
	T_EQ_INT(delta_json_checksum(sample, strlen(sample), sum), 0);
	T_EQ_STR(sum, "6a92d155a59bf2eecbd4b4ec7fd1f875");
	/* The other examples of the section. */
	T_EQ_STR(canon("{\"k1\": \"v1\", \"checksum\": \"<anything>\", \"k3\": 23}"),
	         "\"k1\"=\"v1\",\"k3\"=23");
	T_EQ_STR(canon("{\"a\": 10, \"b\": {\"y\": null, \"x\": \"https://delta.io\"} }"),
	         "\"a\"=10,\"b\"+\"x\"=\"https%3A%2F%2Fdelta.io\",\"b\"+\"y\"=null");
	T_EQ_STR(canon("{\"k\":[null, \"hi ho\", 2.71]}"),
	         "\"k\"+0=null,\"k\"+1=\"hi%20ho\",\"k\"+2=2.71");
}

static void test_strings_and_keys_are_url_encoded_from_their_utf8_bytes(void)
{
	/* Unreserved octets stay; every other one is %XX in upper case, '%' and '+' too. */
	T_EQ_STR(canon("{\"s\":\"aZ09-._~\"}"), "\"s\"=\"aZ09-._~\"");
	T_EQ_STR(canon("{\"s\":\"100% a+b=c,d\"}"), "\"s\"=\"100%25%20a%2Bb%3Dc%2Cd\"");
	T_EQ_STR(canon("{\"s\":\"<>\\\"/\\\\\"}"), "\"s\"=\"%3C%3E%22%2F%5C\"");
	/* UTF-8, written as it is or escaped: the same octets. */
	T_EQ_STR(canon("{\"s\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}"),
	         "\"s\"=\"%C3%A9%E2%82%AC%F0%9F%98%80\"");
	T_EQ_STR(canon("{\"s\":\"\\u00e9\\u20ac\\ud83d\\ude00\"}"),
	         "\"s\"=\"%C3%A9%E2%82%AC%F0%9F%98%80\"");
	T_EQ_STR(canon("{\"s\":\"a\\nb\\tc\\u0000\"}"), "\"s\"=\"a%0Ab%09c%00\"");
	/* Keys likewise, on every segment of a path. */
	T_EQ_STR(canon("{\"a b\":{\"c+d\":{\"\xc3\xa9%\":1}}}"),
	         "\"a%20b\"+\"c%2Bd\"+\"%C3%A9%25\"=1");
	T_EQ_STR(canon("{\"\":\"\"}"), "\"\"=\"\"");
}

static void test_values_keep_their_form_and_nesting_gives_their_paths(void)
{
	/* Numbers as written, literals as they are. */
	T_EQ_STR(canon("{\"a\":-1.50e+3,\"b\":0,\"c\":true,\"d\":false,\"e\":null,\"f\":1E2}"),
	         "\"a\"=-1.50e+3,\"b\"=0,\"c\"=true,\"d\"=false,\"e\"=null,\"f\"=1E2");
	/* Arrays in arrays: indexes bare; empty objects and arrays give no pair. */
	T_EQ_STR(canon("{\"a\":[[1,[2,[3]]],[],{}],\"b\":{},\"c\":[]}"),
	         "\"a\"+0+0=1,\"a\"+0+1+0=2,\"a\"+0+1+1+0=3");
	T_EQ_STR(canon("{}"), "");
	/* Sorted by the paths' bytes: index 10 before 2, a shorter path before a longer. */
	T_EQ_STR(
	    canon("{\"k\":[0,1,2,3,4,5,6,7,8,9,10]}"),
	    "\"k\"+0=0,\"k\"+1=1,\"k\"+10=10,\"k\"+2=2,\"k\"+3=3,\"k\"+4=4,\"k\"+5=5,\"k\"+6=6,"
	    "\"k\"+7=7,\"k\"+8=8,\"k\"+9=9");
	T_EQ_STR(canon("{\"b\":1,\"a b\":2,\"B\":3,\"ab\":4,\"a\":{\"z\":5}}"),
	         "\"B\"=3,\"a\"+\"z\"=5,\"a%20b\"=2,\"ab\"=4,\"b\"=1");
	/* Only the top-level checksum is left out. */
	T_EQ_STR(canon("{\"x\":{\"checksum\":\"c\"},\"checksum\":{\"y\":1}}"),
	         "\"x\"+\"checksum\"=\"c\"");
}

static void test_duplicate_keys_and_text_that_is_not_json_have_no_canonical_form(void)
{
	T_EQ_STR(canon("{\"a\":1,\"a\":2}"), "(invalid)");
	T_EQ_STR(canon("{\"a\":{\"x\":1},\"b\":2,\"a\":{\"y\":2}}"), "(invalid)");
	T_EQ_STR(canon("{\"a\":{\"x\":1,\"x\":1}}"), "(invalid)");
	/* Written differently, the same key. */
	T_EQ_STR(canon("{\"\\u0061\":1,\"a\":2}"), "(invalid)");
	T_EQ_STR(canon("{\"checksum\":\"1\",\"checksum\":\"2\"}"), "(invalid)");
	T_EQ_STR(canon("{\"a\":[{\"x\":1},{\"x\":1}]}"), "\"a\"+0+\"x\"=1,\"a\"+1+\"x\"=1");
	T_EQ_STR(canon("{\"a\":1"), "(invalid)");
	T_EQ_STR(canon("{\"a\":1} x"), "(invalid)");
	T_EQ_STR(canon("{\"a\":\"\xff\"}"), "(invalid)");
	T_EQ_STR(canon(""), "(invalid)");
}

static void test_the_pointers_spark_wrote_have_the_checksum_computed_here(void)
{
	static const char *const dirs[] = {
	    "dat/no_stats/delta",
	    "dat/no_replay/delta",
	    "dat/with_checkpoint/delta",
	    "dat/stats_as_struct/delta",
	    "delta-golden/multi-part-checkpoint",
	    "delta-golden/v2-checkpoint-parquet",
	    "delta-golden/v2-checkpoint-json",
	    "delta-golden/basic-with-inserts-deletes-checkpoint",
	};
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		char path[512];
		snprintf(path, sizeof path, "tests/fixtures/delta/%s/_delta_log/_last_checkpoint",
		         dirs[i]);
		struct buf text = BUF_INIT;
		struct err_msg e;
		int missing = 0;
		T_EQ_INT(delta_read_file(path, &text, 1 << 20, &e, &missing), 0);
		const char *at = text.data ? strstr(text.data, "\"checksum\":\"") : NULL;
		T_CHECK(at != NULL);
		if (at) {
			char stored[33], sum[33] = "";
			snprintf(stored, sizeof stored, "%s", at + 12);
			T_EQ_INT(delta_json_checksum(text.data, text.len, sum), 0);
			if (strcmp(sum, stored) != 0)
				printf("#   %s\n", dirs[i]);
			T_EQ_STR(sum, stored);
			T_CHECK(delta_json_checksum_ok(text.data, text.len, stored));
		}
		struct delta_last_checkpoint lc;
		T_EQ_INT(delta_last_checkpoint_parse(text.data, text.len, &lc), 0);
		buf_free(&text);
	}
}

static void test_a_pointer_whose_checksum_does_not_match_is_not_used(void)
{
	struct delta_last_checkpoint lc;
	struct buf b = BUF_INIT;
	buf_puts(&b, "{\"version\":10,\"size\":13,\"sizeInBytes\":2048,\"numOfAddFiles\":9}\n");
	T_EQ_INT(delta_json_add_checksum(&b), 0);
	char sum[33];
	T_EQ_INT(delta_json_checksum(b.data, b.len, sum), 0);
	/* Independently: "numOfAddFiles"=9,"size"=13,"sizeInBytes"=2048,"version"=10. */
	char want[33];
	const char *c = "\"numOfAddFiles\"=9,\"size\"=13,\"sizeInBytes\"=2048,\"version\"=10";
	md5_hex(c, strlen(c), want);
	T_EQ_STR(sum, want);
	char text[256];
	snprintf(text, sizeof text,
	         "{\"version\":10,\"size\":13,\"sizeInBytes\":2048,\"numOfAddFiles\":9,"
	         "\"checksum\":\"%s\"}\n",
	         want);
	T_EQ_STR(b.data, text);
	T_EQ_INT(delta_last_checkpoint_parse(b.data, b.len, &lc), 0);
	T_EQ_INT(lc.version, 10);
	T_EQ_INT(lc.add_files, 9);
	/* Upper-case hex is the same digest. */
	for (char *p = strstr(text, "checksum") + 11; *p != '"'; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	T_EQ_INT(delta_last_checkpoint_parse(text, strlen(text), &lc), 0);
	/* A count changed after the checksum was taken. */
	char *n = strstr(b.data, "\"numOfAddFiles\":9");
	n[16] = '8';
	T_EQ_INT(delta_last_checkpoint_parse(b.data, b.len, &lc), -1);
	/* A checksum that is not a string, or a duplicate key: not usable either. */
	const char *bad[] = {
	    "{\"version\":10,\"checksum\":5}",
	    "{\"version\":10,\"checksum\":null}",
	    "{\"version\":10,\"version\":11,\"checksum\":\"00000000000000000000000000000000\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		T_EQ_INT(delta_last_checkpoint_parse(bad[i], strlen(bad[i]), &lc), -1);
	/* Without a checksum a pointer is used as before. */
	const char *plain = "{\"version\":10,\"size\":13}";
	T_EQ_INT(delta_last_checkpoint_parse(plain, strlen(plain), &lc), 0);
	T_EQ_INT(lc.version, 10);
	buf_free(&b);
}

static void test_a_checkpoint_writes_a_pointer_with_its_checksum(void)
{
	struct t_table t;
	t_table_new(&t, 0);
	t_append(&t, 1, "a", "feed");
	T_EQ_INT(t_checkpoint(&t, 1), 0);
	char path[512];
	t_log_path(&t, "_last_checkpoint", path, sizeof path);
	struct buf text = BUF_INIT;
	struct err_msg e;
	T_EQ_INT(delta_read_file(path, &text, 1 << 20, &e, NULL), 0);
	const char *at = text.data ? strstr(text.data, "\"checksum\":\"") : NULL;
	T_CHECK(at != NULL);
	if (at) {
		char stored[33];
		snprintf(stored, sizeof stored, "%s", at + 12);
		T_CHECK(delta_json_checksum_ok(text.data, text.len, stored));
	}
	buf_free(&text);
	t_rm(t.root);
}

/* The .crc of version v as text ("" when there is none). */
static char *crc_of(const struct t_table *t, int64_t v)
{
	static char out[8192];
	char path[512];
	struct buf b = BUF_INIT;
	struct err_msg e;
	int missing = 0;
	out[0] = '\0';
	delta_crc_path(t->root, v, path, sizeof path);
	if (delta_read_file(path, &b, sizeof out - 1, &e, &missing) == 0 && b.data)
		snprintf(out, sizeof out, "%s", b.data);
	buf_free(&b);
	return out;
}

static int commit_one(struct delta_snapshot *s, struct delta_store *store, const char *name,
                      int64_t size, const struct delta_file *remove)
{
	struct delta_txn *x = delta_txn_begin(s, store, "WRITE");
	struct delta_kv kv = {(char *)"p", (char *)"a"};
	struct delta_file f = {0};
	f.path = (char *)name;
	f.partition_values.kv = &kv;
	f.partition_values.n = 1;
	f.size = size;
	f.data_change = 1;
	f.deletion_timestamp = -1;
	delta_txn_add(x, &f);
	if (remove)
		delta_txn_remove(x, remove, 1, 1);
	struct delta_commit_info info;
	struct err_msg e;
	int rc = delta_txn_commit(x, &info, &e);
	if (rc < 0)
		printf("# %s\n", e.text);
	delta_txn_free(x);
	return rc;
}

static void test_a_commit_writes_the_version_checksum_when_it_knows_the_state(void)
{
	struct t_table t;
	t_table_new(&t, 100);
	t_append(&t, 1, "a", "feed");
	struct delta_store *store = delta_store_link(t.root, NULL);
	struct delta_snapshot s;
	struct delta_load_opts full = {-1, -1, 0, 0, 1}, lean = {-1, -1, 1, 0, 0};
	struct err_msg e;
	/* File lists: the state is known (f1 of 100 bytes, from the log). */
	T_EQ_INT(delta_snapshot_load(t.root, &full, &s, &e), 0);
	T_EQ_INT(commit_one(&s, store, "p=a/x.parquet", 50, NULL), 0);
	T_CHECK(strstr(crc_of(&t, 2), "\"tableSizeBytes\":150,\"numFiles\":2,") != NULL);
	T_CHECK(strstr(crc_of(&t, 2), "\"setTransactions\":[{\"appId\":\"feed\",\"version\":1}]"));
	T_CHECK(
	    strstr(crc_of(&t, 2), "\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}"));
	T_CHECK(
	    strstr(crc_of(&t, 2), "\"metadata\":{\"id\":\"00000000-0000-4000-8000-000000000000\""));
	const struct delta_file *x = strmap_get(&s.files, "p=a/x.parquet");
	T_CHECK(x != NULL);
	/* A remove of a file the snapshot knows. */
	T_EQ_INT(commit_one(&s, store, "p=a/y.parquet", 7, x), 0);
	T_CHECK(strstr(crc_of(&t, 3), "\"tableSizeBytes\":107,\"numFiles\":2,") != NULL);
	delta_snapshot_free(&s);
	/* Without file lists: from the checksum of the version before and the adds. */
	T_EQ_INT(delta_snapshot_load(t.root, &lean, &s, &e), 0);
	T_EQ_INT(commit_one(&s, store, "p=a/z.parquet", 1000, NULL), 0);
	T_CHECK(strstr(crc_of(&t, 4), "\"tableSizeBytes\":1107,\"numFiles\":3,") != NULL);
	/* ... and none when that one is missing: the state is not known. */
	char path[512];
	delta_crc_path(t.root, 4, path, sizeof path);
	unlink(path);
	T_EQ_INT(commit_one(&s, store, "p=a/w.parquet", 1, NULL), 0);
	T_EQ_STR(crc_of(&t, 5), "");
	/* ... or is another table's. */
	delta_snapshot_free(&s);
	T_EQ_INT(delta_snapshot_load(t.root, &full, &s, &e), 0);
	T_EQ_INT(commit_one(&s, store, "p=a/v.parquet", 1, NULL), 0);
	T_CHECK(strstr(crc_of(&t, 6), "\"tableSizeBytes\":1109,\"numFiles\":5,") != NULL);
	delta_snapshot_free(&s);
	T_EQ_INT(delta_snapshot_load(t.root, &lean, &s, &e), 0);
	delta_crc_path(t.root, 6, path, sizeof path);
	char *other = strdup(crc_of(&t, 6));
	char *id = strstr(other, "00000000-0000-4000-8000-000000000000");
	id[0] = '1';
	unlink(path);
	t_write(path, other);
	free(other);
	T_EQ_INT(commit_one(&s, store, "p=a/u.parquet", 1, NULL), 0);
	T_EQ_STR(crc_of(&t, 7), "");
	delta_snapshot_free(&s);
	delta_store_close(store);
	t_rm(t.root);
}

static void test_a_version_checksum_file_is_never_replaced(void)
{
	struct t_table t;
	t_table_new(&t, 0);
	char path[512];
	delta_crc_path(t.root, 1, path, sizeof path);
	t_write(path, "{\"mine\":1}\n");
	struct err_msg e;
	T_EQ_INT(delta_crc_put(t.root, 1, "{\"theirs\":1}\n", 13, &e), 0);
	T_EQ_STR(crc_of(&t, 1), "{\"mine\":1}\n");
	T_EQ_INT(delta_crc_put(t.root, 2, "{\"theirs\":2}\n", 13, &e), 1);
	T_EQ_STR(crc_of(&t, 2), "{\"theirs\":2}\n");
	/* A commit over a checksum file that was there leaves it. */
	struct delta_store *store = delta_store_link(t.root, NULL);
	struct delta_snapshot s;
	struct delta_load_opts full = {-1, -1, 0, 0, 1};
	T_EQ_INT(delta_snapshot_load(t.root, &full, &s, &e), 0);
	T_EQ_INT(commit_one(&s, store, "p=a/x.parquet", 50, NULL), 0);
	T_EQ_STR(crc_of(&t, 1), "{\"mine\":1}\n");
	delta_snapshot_free(&s);
	delta_store_close(store);
	/* No temporary file is left behind. */
	char dir[512];
	t_log_path(&t, "", dir, sizeof dir);
	DIR *d = opendir(dir);
	struct dirent *de;
	int hidden = 0;
	while (d && (de = readdir(d)))
		hidden += de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 &&
		          strcmp(de->d_name, "..") != 0;
	if (d)
		closedir(d);
	T_EQ_INT(hidden, 0);
	t_rm(t.root);
}

int main(void)
{
	T_RUN(test_md5_gives_the_digests_of_rfc_1321);
	T_RUN(test_md5_fed_in_pieces_gives_the_digest_of_the_whole);
	T_RUN(test_the_sample_of_the_protocol_gives_its_canonical_form_and_checksum);
	T_RUN(test_strings_and_keys_are_url_encoded_from_their_utf8_bytes);
	T_RUN(test_values_keep_their_form_and_nesting_gives_their_paths);
	T_RUN(test_duplicate_keys_and_text_that_is_not_json_have_no_canonical_form);
	T_RUN(test_the_pointers_spark_wrote_have_the_checksum_computed_here);
	T_RUN(test_a_pointer_whose_checksum_does_not_match_is_not_used);
	T_RUN(test_a_checkpoint_writes_a_pointer_with_its_checksum);
	T_RUN(test_a_commit_writes_the_version_checksum_when_it_knows_the_state);
	T_RUN(test_a_version_checksum_file_is_never_replaced);
	T_DONE();
}

/*
 * Unit tests for the Delta module's values, schemas and paths
 * (common/delta/delta_schema.c, delta_value.c, delta_log.c).  Replay, gaps
 * and checkpoints are in test_delta_log.c, transactions and conflicts in
 * test_delta_txn.c.
 */
#include <errno.h>

#include "delta/delta.h"
#include "t.h"

static void test_paths(void)
{
	struct buf b = BUF_INIT;
	delta_hive_escape("A/A", &b);
	T_EQ_STR(b.data, "A%2FA");
	buf_reset(&b);
	delta_hive_escape("a b+c:d=e%", &b);
	T_EQ_STR(b.data, "a b+c%3Ad%3De%25");
	buf_reset(&b);
	delta_hive_escape(NULL, &b);
	T_EQ_STR(b.data, "__HIVE_DEFAULT_PARTITION__");
	buf_reset(&b);
	delta_hive_escape("", &b);
	T_EQ_STR(b.data, "__HIVE_DEFAULT_PARTITION__");
	buf_reset(&b);
	delta_uri_encode("x=A%2FA/part 1.parquet", &b);
	T_EQ_STR(b.data, "x=A%252FA/part%201.parquet");
	struct buf d = BUF_INIT;
	T_EQ_INT(delta_uri_decode(b.data, &d), 0);
	T_EQ_STR(d.data, "x=A%2FA/part 1.parquet");
	T_EQ_INT(delta_uri_decode("bad%2", &d), -1);
	T_EQ_INT(delta_uri_decode("bad%zz", &d), -1);
	char path[128];
	T_EQ_INT(delta_commit_path("/t", 42, path, sizeof path), 0);
	T_EQ_STR(path, "/t/_delta_log/00000000000000000042.json");
	/* A path that does not fit is refused, never cut to another name. */
	char small[39];
	T_EQ_INT(delta_commit_path("/t", 42, small, sizeof small), -1);
	T_EQ_INT(errno, ENAMETOOLONG);
	T_EQ_STR(small, "");
	T_EQ_INT(delta_commit_path("/", 42, small, sizeof small), 0);
	char u1[37], u2[37];
	delta_uuid(u1);
	delta_uuid(u2);
	T_EQ_INT(strlen(u1), 36);
	T_CHECK(u1[14] == '4');
	T_CHECK(strcmp(u1, u2) != 0);
	buf_free(&b);
	buf_free(&d);
}

static struct delta_field field(int type, int precision, int scale)
{
	struct delta_field f = {.name = (char *)"c",
	                        .type = type,
	                        .precision = precision,
	                        .scale = scale,
	                        .nullable = 1};
	return f;
}

static void check_partition(int type, int p, int s, const char *text, const char *back)
{
	struct delta_field f = field(type, p, s);
	struct delta_cell c;
	struct buf scratch = BUF_INIT, out = BUF_INIT;
	struct err_msg e;
	int rc = delta_partition_parse(&f, text, &c, &scratch, &e);
	T_EQ_INT(rc, back ? 0 : -1);
	if (rc == 0 && back) {
		delta_partition_text(&f, &c, &out);
		if (strcmp(out.data ? out.data : "", back) != 0)
			printf("#   %s -> %s, want %s\n", text, out.data, back);
		T_EQ_STR(out.data ? out.data : "", back);
	}
	buf_free(&scratch);
	buf_free(&out);
}

static void test_partition_values(void)
{
	check_partition(DT_DATE, 0, 0, "2025-06-17", "2025-06-17");
	check_partition(DT_LONG, 0, 0, "-42", "-42");
	check_partition(DT_INTEGER, 0, 0, "3000000000", NULL);
	check_partition(DT_BOOLEAN, 0, 0, "true", "true");
	check_partition(DT_DECIMAL, 38, 18, "12.000000000000000000", "12.000000000000000000");
	check_partition(DT_DECIMAL, 5, 2, "1.5", "1.50");
	check_partition(DT_TIMESTAMP, 0, 0, "2020-01-01 08:09:10.001",
	                "2020-01-01T08:09:10.001000Z");
	check_partition(DT_TIMESTAMP, 0, 0, "2024-01-01T10:00:00.000000Z",
	                "2024-01-01T10:00:00.000000Z");
	check_partition(DT_STRING, 0, 0, "A/A", "A/A");
	check_partition(DT_DATE, 0, 0, "junk", NULL);
	/* an empty partition value is null */
	struct delta_field f = field(DT_STRING, 0, 0);
	struct delta_cell c;
	struct buf scratch = BUF_INIT;
	struct err_msg e;
	T_EQ_INT(delta_partition_parse(&f, "", &c, &scratch, &e), 0);
	T_CHECK(c.null);
	buf_free(&scratch);
}

static void test_cells_to_json(void)
{
	struct buf out = BUF_INIT;
	struct delta_field f = field(DT_DOUBLE, 0, 0);
	struct delta_cell c = {.d = 0.1};
	delta_cell_to_json(&f, &c, &out);
	T_EQ_STR(out.data, "0.1");
	buf_reset(&out);
	c.d = 1;
	delta_cell_to_json(&f, &c, &out);
	T_EQ_STR(out.data, "1.0");
	buf_reset(&out);
	f = field(DT_DECIMAL, 18, 6);
	c.dec = -5000000;
	delta_cell_to_json(&f, &c, &out);
	T_EQ_STR(out.data, "-5");
	buf_reset(&out);
	f = field(DT_STRING, 0, 0);
	c.s = "a\xff"
	      "b";
	c.n = 3;
	delta_cell_to_json(&f, &c, &out);
	T_EQ_STR(out.data, "\"a\xef\xbf\xbd"
	                   "b\"");
	buf_reset(&out);
	f = field(DT_TIMESTAMP_NTZ, 0, 0);
	c.i = 1000000;
	delta_cell_to_json(&f, &c, &out);
	T_EQ_STR(out.data, "\"1970-01-01T00:00:01\"");
	buf_free(&out);
}

static void test_schema_json_round_trip(void)
{
	const char *s = "{\"type\":\"struct\",\"fields\":[{\"name\":\"id\",\"type\":\"long\","
	                "\"nullable\":false,\"metadata\":{}},{\"name\":\"m\",\"type\":{\"type\":"
	                "\"map\",\"keyType\":\"string\",\"valueType\":{\"type\":\"array\","
	                "\"elementType\":\"decimal(10,2)\",\"containsNull\":false},"
	                "\"valueContainsNull\":true},\"nullable\":true,\"metadata\":{\"k\":1}}]}";
	struct delta_schema a, b;
	struct err_msg e;
	T_EQ_INT(delta_schema_parse_json(s, strlen(s), &a, &e), 0);
	T_EQ_INT(a.n, 2);
	T_EQ_INT(a.fields[1].type, DT_MAP);
	T_EQ_INT(a.fields[1].children[1].type, DT_ARRAY);
	T_EQ_INT(a.fields[1].children[1].children[0].precision, 10);
	struct buf out = BUF_INIT;
	delta_schema_to_json(&a, &out);
	T_EQ_STR(out.data, s);
	T_EQ_INT(delta_schema_parse_json(out.data, out.len, &b, &e), 0);
	T_CHECK(delta_schema_equal(&a, &b));
	T_CHECK(delta_schema_find(&a, "id") == &a.fields[0]);
	T_CHECK(delta_schema_find(&a, "ID") == NULL);
	delta_schema_free(&a);
	delta_schema_free(&b);
	buf_free(&out);
	const char *dup = "{\"type\":\"struct\",\"fields\":[{\"name\":\"a\",\"type\":\"long\"},"
	                  "{\"name\":\"A\",\"type\":\"long\"}]}";
	T_EQ_INT(delta_schema_parse_json(dup, strlen(dup), &a, &e), -1);
	T_CHECK(strstr(e.text, "differ only in case") != NULL);
}

int main(void)
{
	T_RUN(test_paths);
	T_RUN(test_partition_values);
	T_RUN(test_cells_to_json);
	T_RUN(test_schema_json_round_trip);
	T_DONE();
}

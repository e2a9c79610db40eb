/*
 * The metadata spool: where it is, the writer's files and lines, the
 * parser of lines, the reader of files (torn and overlong lines) and the
 * liveness of writers.
 */
#include "meta/meta.h"
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmp[256];

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	T_CHECK(fp != NULL);
	if (!fp)
		return;
	fputs(text, fp);
	fclose(fp);
}

static void test_time_has_six_fractional_digits(void)
{
	char t[META_TIME_MAX];
	T_EQ_INT(meta_format_time(0, t), 27);
	T_EQ_STR(t, "1970-01-01T00:00:00.000000Z");
	meta_format_time(1765016100123456LL, t);
	T_EQ_STR(t, "2025-12-06T10:15:00.123456Z");
	meta_format_time(-1, t);
	T_EQ_STR(t, "1969-12-31T23:59:59.999999Z");
}

static void test_spool_dir_precedence(void)
{
	struct buf b = BUF_INIT;
	struct err_msg e;
	unsetenv(META_SPOOL_ENV);
	unsetenv(META_STATE_ENV);
	T_EQ_INT(meta_spool_dir(NULL, &b), 0);
	T_EQ_STR(b.data, "var/spool");
	const char ini[] = "[job]\nstate = /srv/etl\n";
	struct config *c = config_parse("t.ini", ini, sizeof ini - 1, &e);
	T_CHECK(c != NULL);
	T_EQ_INT(meta_spool_dir(c, &b), 1);
	T_EQ_STR(b.data, "/srv/etl/spool");
	setenv(META_STATE_ENV, "/state", 1);
	T_EQ_INT(meta_spool_dir(c, &b), 1);
	T_EQ_STR(b.data, "/state/spool");
	setenv(META_SPOOL_ENV, "/elsewhere", 1);
	T_EQ_INT(meta_spool_dir(c, &b), 1);
	T_EQ_STR(b.data, "/elsewhere");
	/* An empty variable is no setting. */
	setenv(META_SPOOL_ENV, "", 1);
	unsetenv(META_STATE_ENV);
	T_EQ_INT(meta_spool_dir(c, &b), 1);
	T_EQ_STR(b.data, "/srv/etl/spool");
	unsetenv(META_SPOOL_ENV);
	config_free(c);
	buf_free(&b);
}

static void test_parse_reads_every_kind(void)
{
	struct meta_fact f;
	struct buf arena = BUF_INIT;
	struct err_msg e;
	const char *run =
	    "{\"fact\":\"run\",\"run_id\":\"r1\",\"program\":\"runner\",\"at\":"
	    "\"2026-12-06T10:15:00.000000Z\",\"job\":\"intraday\",\"attempt\":1,"
	    "\"started_at\":\"2026-12-06T10:15:00Z\",\"ended_at\":null,\"status\":null,"
	    "\"failed_stage\":null,\"reason\":null,\"host\":\"h\",\"extra\":[1,{}]}";
	T_EQ_INT(meta_parse(run, strlen(run), &f, &arena, &e), 0);
	T_EQ_INT(f.kind, META_RUN);
	T_EQ_STR(f.run_id, "r1");
	T_EQ_STR(f.job, "intraday");
	T_EQ_INT(f.attempt, 1);
	T_EQ_INT(f.started_at, 1796552100000000LL);
	T_EQ_INT(f.ended_at, META_NULL);
	T_EQ_INT(f.status, META_NULL);
	T_CHECK(f.reason == NULL);
	T_EQ_STR(f.host, "h");
	const char *chk =
	    "{\"fact\":\"check\",\"run_id\":null,\"program\":\"tick-validate\",\"at\":"
	    "\"2026-12-06T10:15:00.5Z\",\"batch_app\":\"a\\/b\",\"batch_id\":17,"
	    "\"check\":\"row_count > 0\",\"metric\":\"row_count\",\"value\":1.50,"
	    "\"outcome\":\"warn\"}";
	T_EQ_INT(meta_parse(chk, strlen(chk), &f, &arena, &e), 0);
	T_EQ_INT(f.kind, META_CHECK);
	T_CHECK(f.run_id == NULL);
	T_EQ_STR(f.batch_app, "a/b");
	T_EQ_INT(f.batch_id, 17);
	T_EQ_STR(f.value, "1.50");
	T_EQ_STR(f.outcome, "warn");
	/* A member of another kind does not leak into this one. */
	const char *wm =
	    "{\"fact\":\"watermark\",\"program\":\"p\",\"at\":\"2026-12-06T10:15:00Z\","
	    "\"symbol\":\"IBM\",\"interval\":\"5min\",\"newest\":"
	    "\"2026-12-05T20:55:00Z\",\"job\":\"x\"}";
	T_EQ_INT(meta_parse(wm, strlen(wm), &f, &arena, &e), 0);
	T_EQ_INT(f.kind, META_WATERMARK);
	T_CHECK(f.job == NULL);
	T_EQ_STR(f.interval, "5min");
	buf_free(&arena);
}

static void test_parse_refuses_what_is_not_a_fact(void)
{
	static const struct {
		const char *line, *why;
	} cases[] = {
	    {"[]", "not a JSON object"},
	    {"{\"fact\":\"run\"", "not valid JSON"},
	    {"{\"fact\":\"nope\",\"program\":\"p\",\"at\":\"2026-01-01T00:00:00Z\"}",
	     "unknown fact \"nope\""},
	    {"{\"program\":\"p\",\"at\":\"2026-01-01T00:00:00Z\"}", "no member \"fact\""},
	    {"{\"fact\":\"watermark\",\"fact\":\"watermark\"}", "the member \"fact\" is repeated"},
	    {"{\"fact\":\"watermark\",\"program\":\"p\",\"program\":\"q\"}",
	     "the member \"program\" is repeated"},
	    {"{\"fact\":\"watermark\",\"program\":\"p\",\"at\":\"yesterday\"}",
	     "\"at\": expected an RFC 3339 time"},
	    {"{\"fact\":\"commit\",\"program\":\"p\",\"at\":\"2026-01-01T00:00:00Z\",\"table\":"
	     "\"t\","
	     "\"version\":1.5,\"operation\":\"WRITE\"}",
	     "\"version\": expected an integer"},
	    {"{\"fact\":\"commit\",\"program\":\"p\",\"at\":\"2026-01-01T00:00:00Z\",\"table\":"
	     "\"t\","
	     "\"operation\":\"WRITE\"}",
	     "a commit fact needs \"version\""},
	    {"{\"fact\":\"check\",\"program\":\"p\",\"at\":\"2026-01-01T00:00:00Z\",\"check\":"
	     "\"c\","
	     "\"metric\":\"m\",\"outcome\":\"maybe\"}",
	     "\"outcome\": expected pass, warn, fail or skipped"},
	    {"{\"fact\":\"watermark\",\"program\":\"p\\u0000\",\"at\":\"2026-01-01T00:00:00Z\"}",
	     "\"program\": not a valid string"},
	    {"{\"fact\":\"watermark\"} {}", "text after the object"},
	    {"{\"fact\":\"request\",\"program\":\"p\",\"at\":\"2026-01-01T00:00:00Z\",\"symbol\":"
	     "\"I\","
	     "\"function\":\"intraday\",\"outcome\":\"data\",\"attempts\":99999999999999999999}",
	     "\"attempts\": expected an integer"},
	};
	struct meta_fact f;
	struct buf arena = BUF_INIT;
	struct err_msg e;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		err_clear(&e);
		T_EQ_INT(meta_parse(cases[i].line, strlen(cases[i].line), &f, &arena, &e), -1);
		T_EQ_INT(e.status, EX_DATAERR);
		if (strncmp(e.text, cases[i].why, strlen(cases[i].why)) != 0) {
			printf("#   case %zu: \"%s\" does not begin \"%s\"\n", i, e.text,
			       cases[i].why);
			t_current_failed = 1;
		}
	}
	buf_free(&arena);
}

static void test_writer_makes_one_file_renamed_at_close(void)
{
	char dir[300];
	snprintf(dir, sizeof dir, "%s/spool", tmp);
	setenv(META_SPOOL_ENV, dir, 1);
	setenv(META_RUN_ID_ENV, "run-7", 1);
	meta_open(NULL);
	T_CHECK(meta_active());
	T_CHECK(meta_file_path() == NULL); /* nothing made before the first fact */
	struct meta_request r = {"IBM", "intraday", "5min", NULL, "compact", "data", 2, 41, 200};
	T_EQ_INT(meta_request(&r), 0);
	struct meta_check c = {"av-fetch/x", 5, "row_count > 0", "row_count", "12", "pass"};
	T_EQ_INT(meta_check(&c), 0);
	struct meta_check bad_value = {NULL, META_NULL, "c\xff", "min", "1e", "fail"};
	T_EQ_INT(meta_check(&bad_value), 0);
	struct meta_commit cm = {"lake/bronze", 3, "av-fetch/x", 5, 100, 2, 4096, "WRITE"};
	T_EQ_INT(meta_commit(&cm), 0);
	struct meta_watermark w = {"IBM", "5min", 1796552100000000LL};
	T_EQ_INT(meta_watermark(&w), 0);
	const char *path = meta_file_path();
	T_CHECK(path != NULL);
	char part[512];
	snprintf(part, sizeof part, "%s", path ? path : "");
	T_CHECK(strstr(part, "-test_meta.ndjson.part") != NULL);
	/* The file is locked while the writer lives. */
	struct meta_file *files;
	size_t n;
	struct err_msg e;
	T_EQ_INT(meta_spool_list(dir, &files, &n, &e), 0);
	T_EQ_INT(n, 1);
	if (n == 1) {
		T_CHECK(files[0].part);
		T_EQ_INT(files[0].pid, getpid());
		T_EQ_INT(meta_part_live(dir, &files[0]), 1);
		T_CHECK(strstr(files[0].source, ".ndjson") != NULL &&
		        strstr(files[0].source, ".part") == NULL);
	}
	free(files);
	meta_close();
	T_CHECK(access(part, F_OK) < 0);
	part[strlen(part) - 5] = '\0';
	T_EQ_INT(access(part, F_OK), 0);

	struct meta_reader *rd = meta_reader_open(part, &e);
	T_CHECK(rd != NULL);
	if (!rd)
		return;
	struct meta_fact f;
	uint64_t line;
	T_EQ_INT(meta_reader_next(rd, &f, &line, &e), META_LINE);
	T_EQ_INT(line, 1);
	T_EQ_INT(f.kind, META_REQUEST);
	T_EQ_STR(f.run_id, "run-7");
	T_EQ_STR(f.program, "test_meta");
	T_EQ_STR(f.symbol, "IBM");
	T_EQ_STR(f.outputsize, "compact");
	T_CHECK(f.month == NULL);
	T_EQ_INT(f.attempts, 2);
	T_EQ_INT(f.latency_ms, 41);
	T_EQ_INT(f.http_status, 200);
	T_EQ_INT(meta_reader_next(rd, &f, &line, &e), META_LINE);
	T_EQ_STR(f.value, "12");
	T_EQ_INT(meta_reader_next(rd, &f, &line, &e), META_LINE);
	T_CHECK(f.value == NULL); /* not a number: null */
	T_EQ_STR(f.check, "c?");  /* not UTF-8: replaced */
	T_CHECK(f.batch_app == NULL);
	T_EQ_INT(f.batch_id, META_NULL);
	T_EQ_INT(meta_reader_next(rd, &f, &line, &e), META_LINE);
	T_EQ_STR(f.table, "lake/bronze");
	T_EQ_INT(f.bytes, 4096);
	T_EQ_INT(meta_reader_next(rd, &f, &line, &e), META_LINE);
	T_EQ_INT(f.newest, 1796552100000000LL);
	T_EQ_INT(meta_reader_next(rd, &f, &line, &e), META_EOF);
	meta_reader_close(rd);
	unsetenv(META_RUN_ID_ENV);
}

static void test_reader_skips_torn_and_reports_bad_lines(void)
{
	char path[300];
	snprintf(path, sizeof path, "%s/lines.ndjson", tmp);
	struct buf text = BUF_INIT;
	const char *good =
	    "{\"fact\":\"watermark\",\"program\":\"p\",\"at\":\"2026-01-01T00:00:00Z\","
	    "\"symbol\":\"IBM\",\"interval\":\"5min\",\"newest\":\"2026-01-01T00:00:00Z\"}";
	buf_printf(&text, "%s\nnot json\n", good);
	for (int i = 0; i < META_LINE_MAX + 10; i++)
		buf_putc(&text, 'x');
	buf_printf(&text, "\n%s\n{\"fact\":\"wat", good);
	write_file(path, text.data);
	buf_free(&text);
	struct err_msg e;
	struct meta_reader *r = meta_reader_open(path, &e);
	T_CHECK(r != NULL);
	if (!r)
		return;
	struct meta_fact f;
	uint64_t line;
	T_EQ_INT(meta_reader_next(r, &f, &line, &e), META_LINE);
	T_EQ_INT(meta_reader_next(r, &f, &line, &e), META_BAD);
	T_EQ_INT(line, 2);
	T_CHECK(strstr(e.text, "lines.ndjson:2: not a JSON object") != NULL);
	T_EQ_INT(meta_reader_next(r, &f, &line, &e), META_BAD);
	T_EQ_INT(line, 3);
	T_CHECK(strstr(e.text, ":3: longer than 65536 bytes") != NULL);
	T_EQ_INT(meta_reader_next(r, &f, &line, &e), META_LINE);
	T_EQ_INT(line, 4);
	T_EQ_STR(f.symbol, "IBM");
	T_EQ_INT(meta_reader_next(r, &f, &line, &e), META_TORN);
	T_EQ_INT(line, 5);
	T_EQ_INT(meta_reader_next(r, &f, &line, &e), META_EOF);
	meta_reader_close(r);
	snprintf(path, sizeof path, "%s/missing.ndjson", tmp);
	T_CHECK(meta_reader_open(path, &e) == NULL);
	T_EQ_INT(errno, ENOENT);
}

static void test_list_sorts_by_time_and_ignores_other_names(void)
{
	char dir[300], path[600];
	snprintf(dir, sizeof dir, "%s/list", tmp);
	mkdir(dir, 0777);
	static const char *const names[] = {
	    "20-5-b.ndjson", "100-1-a.ndjson.part", "3-9-runner.ndjson", "x-1-a.ndjson",
	    "1-1-a.json",    "1-1-a b.ndjson",      "5-0-a.ndjson",      "7-2-.ndjson",
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		write_file(path, "");
	}
	struct meta_file *files;
	size_t n;
	struct err_msg e;
	T_EQ_INT(meta_spool_list(dir, &files, &n, &e), 0);
	T_EQ_INT(n, 3);
	if (n == 3) {
		T_EQ_STR(files[0].name, "3-9-runner.ndjson");
		T_EQ_STR(files[1].name, "20-5-b.ndjson");
		T_EQ_STR(files[2].name, "100-1-a.ndjson.part");
		T_EQ_STR(files[2].source, "100-1-a.ndjson");
		T_EQ_INT(files[2].part, 1);
		T_EQ_INT(files[2].created_us, 100);
	}
	free(files);
	snprintf(path, sizeof path, "%s/none", tmp);
	T_EQ_INT(meta_spool_list(path, &files, &n, &e), 0);
	T_EQ_INT(n, 0);
}

static void test_part_liveness_without_a_lock(void)
{
	char dir[300], path[600];
	snprintf(dir, sizeof dir, "%s/live", tmp);
	mkdir(dir, 0777);
	struct meta_file f;
	memset(&f, 0, sizeof f);
	/* This process, which started before "now": a live shell-like writer. */
	f.pid = getpid();
	f.created_us = (int64_t)time(NULL) * 1000000;
	snprintf(f.name, sizeof f.name, "%lld-%d-sh.ndjson.part", (long long)f.created_us,
	         (int)f.pid);
	snprintf(path, sizeof path, "%s/%s", dir, f.name);
	write_file(path, "");
	T_EQ_INT(meta_part_live(dir, &f), 1);
	/* The same pid for a file made long before the process started: a reused pid. */
	f.created_us = 1000000;
	T_EQ_INT(meta_part_live(dir, &f), 0);
	/* A pid that has exited. */
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	f.pid = child;
	f.created_us = (int64_t)time(NULL) * 1000000;
	T_EQ_INT(meta_part_live(dir, &f), 0);
	/* A pid that has exited but is not waited for yet (a zombie): it answers kill(2). */
	child = fork();
	if (child == 0)
		_exit(0);
	char stat[64], text[256] = "";
	snprintf(stat, sizeof stat, "/proc/%d/stat", (int)child);
	for (int i = 0; i < 500 && !strstr(text, ") Z "); i++) {
		usleep(10000);
		FILE *fp = fopen(stat, "r");
		if (fp && !fgets(text, sizeof text, fp))
			text[0] = '\0';
		if (fp)
			fclose(fp);
	}
	T_CHECK(strstr(text, ") Z ") != NULL);
	T_EQ_INT(kill(child, 0), 0);
	f.pid = child;
	f.created_us = (int64_t)time(NULL) * 1000000;
	T_EQ_INT(meta_part_live(dir, &f), 0);
	waitpid(child, NULL, 0);
}

int main(void)
{
	err_init("test_meta");
	snprintf(tmp, sizeof tmp, "%s/test_meta.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN(test_time_has_six_fractional_digits);
	T_RUN(test_spool_dir_precedence);
	T_RUN(test_parse_reads_every_kind);
	T_RUN(test_parse_refuses_what_is_not_a_fact);
	T_RUN(test_writer_makes_one_file_renamed_at_close);
	T_RUN(test_reader_skips_torn_and_reports_bad_lines);
	T_RUN(test_list_sorts_by_time_and_ignores_other_names);
	T_RUN(test_part_liveness_without_a_lock);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmp);
	T_DONE();
}

/*
 * The commit store and the migrations against a real PostgreSQL cluster:
 * tests/stocketl-db.bats starts one (tests/helpers/pg.bash) and runs this binary
 * with $STOCKETL_TEST_PG_DSN pointing at it, as the superuser.  Run alone
 * (tests/run runs every unit binary), it has no cluster and says so with a
 * TAP skip.  Each test makes its own database, so the tests do not see
 * each other's rows or schema.
 *
 *   test_pg_store              every test below
 *   test_pg_store server-stop  connect, then run $STOCKETL_TEST_PG_STOP (a
 *                              command that stops the server) and check
 *                              what the store says next
 */
#include "pg/commit_store.h"
#include "pg/schema.h"
#include "t.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *base_dsn;

/* Settings for database db of the cluster (the base DSN, db and extra appended: last wins). */
static struct pg_settings settings(char *buf, size_t n, const char *db, const char *extra)
{
	struct pg_settings s = {0};
	snprintf(buf, n, "%s dbname=%s %s", base_dsn, db, extra ? extra : "");
	s.dsn = buf;
	s.dsn_from = "test";
	s.configured = 1;
	s.connect_timeout = 5;
	s.statement_timeout_ms = 30000;
	s.application = "test_pg_store";
	return s;
}

static struct pg_conn *connect_to(char *buf, size_t n, struct pg_settings *s, const char *db,
                                  const char *extra)
{
	struct err_msg e;
	*s = settings(buf, n, db, extra);
	struct pg_conn *c = pg_connect(s, &e);
	if (!c)
		printf("#   connect %s: %s\n", db, e.text);
	return c;
}

/* Run one statement as the superuser in the cluster's own database. */
static int admin(const char *sql)
{
	char dsn[1024];
	struct pg_settings s;
	struct err_msg e;
	struct pg_conn *c = connect_to(dsn, sizeof dsn, &s, "postgres", NULL);
	if (!c)
		return -1;
	int rc = pg_exec(c, sql, 0, NULL, NULL, NULL, &e);
	if (rc < 0)
		printf("#   %s: %s\n", sql, e.text);
	pg_close(c);
	return rc;
}

/* A new, empty database for one test. */
static void fresh_db(char *name, size_t n, const char *what)
{
	char sql[256];
	snprintf(name, n, "store_%s_%ld", what, (long)getpid());
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
	admin(sql);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
	T_EQ_INT(admin(sql), PG_OK);
}

static void test_first_use_creates_the_schema(void)
{
	char db[64], dsn[1024];
	struct pg_settings s;
	struct err_msg e;
	struct pg_commit_row row;
	fresh_db(db, sizeof db, "first");
	struct pg_conn *c = connect_to(dsn, sizeof dsn, &s, db, NULL);
	T_CHECK(c != NULL);
	if (!c)
		return;
	T_EQ_INT(pg_schema_version(c, &e), 0);
	T_EQ_INT(pg_commit_latest(c, "s3://b/t", &row, &e), 0);
	T_EQ_INT(pg_schema_version(c, &e), pg_schema_latest());
	pg_close(c);
}

static void test_claim_complete_latest_get(void)
{
	char db[64], dsn[1024];
	struct pg_settings s;
	struct err_msg e;
	struct pg_commit_row row;
	fresh_db(db, sizeof db, "ops");
	struct pg_conn *c = connect_to(dsn, sizeof dsn, &s, db, NULL);
	T_CHECK(c != NULL);
	if (!c)
		return;
	/* Bytes, not text: a NUL and a high byte survive. */
	static const char body0[] = "{\"commitInfo\":{}}\n\0\xff";
	const char *t = "s3://lake/bronze";
	T_EQ_INT(pg_commit_claim(c, t, 0, ".tmp/0.json.a", body0, sizeof body0, &e), PG_CLAIM_WON);
	T_EQ_INT(pg_commit_claim(c, t, 0, ".tmp/0.json.b", "other", 5, &e), PG_CLAIM_LOST);
	/* The same attempt sent again (its first reply lost) is still this writer's. */
	T_EQ_INT(pg_commit_claim(c, t, 0, ".tmp/0.json.a", body0, sizeof body0, &e), PG_CLAIM_WON);
	/* Another table's version 0 is its own. */
	T_EQ_INT(pg_commit_claim(c, "s3://lake/silver", 0, ".tmp/0.json.c", "", 0, &e),
	         PG_CLAIM_WON);

	T_EQ_INT(pg_commit_latest(c, t, &row, &e), 1);
	T_EQ_INT(row.version, 0);
	T_EQ_INT(row.complete, 0);
	T_EQ_STR(row.temp_path, ".tmp/0.json.a");
	T_EQ_INT(row.body_len, sizeof body0);
	T_CHECK(row.body && memcmp(row.body, body0, sizeof body0) == 0);
	T_CHECK(row.completed_at == NULL);
	T_CHECK(row.created_at && strlen(row.created_at) == 27 && row.created_at[26] == 'Z');
	pg_commit_row_free(&row);

	T_EQ_INT(pg_commit_complete(c, t, 0, &e), 0);
	T_EQ_INT(pg_commit_get(c, t, 0, &row, &e), 1);
	T_EQ_INT(row.complete, 1);
	char first_done[40];
	snprintf(first_done, sizeof first_done, "%s", row.completed_at ? row.completed_at : "");
	pg_commit_row_free(&row);
	/* Completing twice changes nothing. */
	T_EQ_INT(pg_commit_complete(c, t, 0, &e), 0);
	T_EQ_INT(pg_commit_get(c, t, 0, &row, &e), 1);
	T_EQ_STR(row.completed_at, first_done);
	pg_commit_row_free(&row);

	T_EQ_INT(pg_commit_claim(c, t, 1, ".tmp/1.json.d", "one", 3, &e), PG_CLAIM_WON);
	T_EQ_INT(pg_commit_latest(c, t, &row, &e), 1);
	T_EQ_INT(row.version, 1);
	T_EQ_INT(row.complete, 0);
	T_EQ_INT(row.body_len, 3);
	T_EQ_STR((const char *)row.body, "one");
	pg_commit_row_free(&row);
	T_EQ_INT(pg_commit_get(c, t, 7, &row, &e), 0);
	T_EQ_INT(pg_commit_latest(c, "s3://lake/none", &row, &e), 0);

	/* Completing a version nobody claimed is a caller's bug. */
	T_EQ_INT(pg_commit_complete(c, t, 7, &e), -1);
	T_EQ_INT(e.status, EX_SOFTWARE);
	T_EQ_INT(pg_commit_claim(c, t, -1, ".tmp/x", "", 0, &e), -1);
	pg_close(c);
}

#define RACERS   4
#define VERSIONS 40

/* Child: claim every version, write one byte per version (1 won, 0 lost) to fd. */
static int racer(const char *db, int id, int fd)
{
	char dsn[1024], temp[64];
	struct pg_settings s;
	struct err_msg e;
	struct pg_conn *c = connect_to(dsn, sizeof dsn, &s, db, NULL);
	if (!c)
		return 1;
	for (int v = 0; v < VERSIONS; v++) {
		snprintf(temp, sizeof temp, ".tmp/%d.json.racer-%d", v, id);
		int got = pg_commit_claim(c, "s3://lake/race", v, temp, temp, strlen(temp), &e);
		if (got < 0) {
			printf("#   racer %d: %s\n", id, e.text);
			return 1;
		}
		char b = (char)got;
		if (write(fd, &b, 1) != 1)
			return 1;
	}
	pg_close(c);
	return 0;
}

static void test_claim_races_have_one_winner(void)
{
	char db[64], dsn[1024];
	struct pg_settings s;
	struct err_msg e;
	fresh_db(db, sizeof db, "race");
	/* The schema first, so that the race is over the rows. */
	struct pg_conn *c = connect_to(dsn, sizeof dsn, &s, db, NULL);
	T_CHECK(c != NULL);
	if (!c)
		return;
	T_EQ_INT(pg_schema_ensure(c, &e), 0);
	int fds[RACERS][2];
	pid_t pids[RACERS];
	fflush(stdout);
	for (int i = 0; i < RACERS; i++) {
		T_EQ_INT(pipe(fds[i]), 0);
		pids[i] = fork();
		if (pids[i] == 0) {
			close(fds[i][0]);
			_exit(racer(db, i, fds[i][1]));
		}
		close(fds[i][1]);
	}
	int wins[VERSIONS] = {0}, winner[VERSIONS];
	for (int i = 0; i < RACERS; i++) {
		char got[VERSIONS];
		size_t n = 0;
		ssize_t k;
		while (n < VERSIONS && (k = read(fds[i][0], got + n, VERSIONS - n)) > 0)
			n += (size_t)k;
		close(fds[i][0]);
		int status;
		T_EQ_INT(waitpid(pids[i], &status, 0), pids[i]);
		T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		T_EQ_INT(n, VERSIONS);
		for (size_t v = 0; v < n; v++)
			if (got[v]) {
				wins[v]++;
				winner[v] = i;
			}
	}
	int one_each = 1;
	struct pg_commit_row row;
	for (int v = 0; v < VERSIONS; v++) {
		one_each &= wins[v] == 1;
		/* The stored row is the winner's. */
		char want[64];
		snprintf(want, sizeof want, ".tmp/%d.json.racer-%d", v,
		         wins[v] == 1 ? winner[v] : -1);
		if (pg_commit_get(c, "s3://lake/race", v, &row, &e) == 1) {
			one_each &= strcmp(row.temp_path, want) == 0;
			pg_commit_row_free(&row);
		} else {
			one_each = 0;
		}
	}
	T_CHECK(one_each);
	pg_close(c);
}

static void test_concurrent_migrations_apply_once(void)
{
	char db[64], dsn[1024];
	struct pg_settings s;
	struct err_msg e;
	fresh_db(db, sizeof db, "migr");
	pid_t pids[RACERS];
	fflush(stdout);
	for (int i = 0; i < RACERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			struct pg_conn *m = connect_to(dsn, sizeof dsn, &s, db, NULL);
			int n = m ? pg_schema_migrate(m, NULL, NULL, &e) : -1;
			if (n < 0 && m)
				printf("#   migrator %d: %s\n", i, e.text);
			pg_close(m);
			/* How many migrations this one applied (100: an error). */
			_exit(n < 0 ? 100 : n);
		}
	}
	int applied = 0;
	for (int i = 0; i < RACERS; i++) {
		int status;
		T_EQ_INT(waitpid(pids[i], &status, 0), pids[i]);
		T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) < 100);
		applied += WIFEXITED(status) ? WEXITSTATUS(status) : 0;
	}
	/* Between them, every migration once. */
	T_EQ_INT(applied, pg_schema_latest());
	struct pg_conn *c = connect_to(dsn, sizeof dsn, &s, db, NULL);
	T_CHECK(c != NULL);
	if (!c)
		return;
	struct pg_result *r;
	T_EQ_INT(pg_exec(c,
	                 "SELECT count(*), count(DISTINCT version) FROM stocketl.schema_migrations",
	                 0, NULL, NULL, &r, &e),
	         PG_OK);
	char latest[16];
	snprintf(latest, sizeof latest, "%d", pg_schema_latest());
	T_EQ_STR(pg_result_value(r, 0, 0), latest);
	T_EQ_STR(pg_result_value(r, 0, 1), latest);
	pg_result_free(r);
	pg_close(c);
}

static void test_reconnects_after_a_terminated_backend(void)
{
	char db[64], dsn[1024];
	struct pg_settings s;
	struct err_msg e;
	struct pg_commit_row row;
	fresh_db(db, sizeof db, "reconn");
	struct pg_conn *c = connect_to(dsn, sizeof dsn, &s, db, NULL);
	T_CHECK(c != NULL);
	if (!c)
		return;
	T_EQ_INT(pg_commit_claim(c, "s3://b/t", 0, ".tmp/a", "x", 1, &e), PG_CLAIM_WON);
	struct pg_result *r;
	T_EQ_INT(pg_exec(c, "SELECT pg_backend_pid()", 0, NULL, NULL, &r, &e), PG_OK);
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%s)", pg_result_value(r, 0, 0));
	pg_result_free(r);
	T_EQ_INT(admin(sql), PG_OK);
	/* The next statement finds the connection broken, makes it again and goes on. */
	T_EQ_INT(pg_commit_latest(c, "s3://b/t", &row, &e), 1);
	T_EQ_INT(row.version, 0);
	pg_commit_row_free(&row);
	pg_close(c);
}

static void test_a_role_without_create_is_told_to_run_make_ddl(void)
{
	char db[64], dsn[1024], sql[256], role[64], extra[96];
	struct pg_settings s;
	struct err_msg e;
	struct pg_commit_row row;
	fresh_db(db, sizeof db, "nocreate");
	snprintf(role, sizeof role, "nocreate_%ld", (long)getpid());
	snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", role);
	admin(sql);
	snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN", role);
	T_EQ_INT(admin(sql), PG_OK);
	snprintf(extra, sizeof extra, "user=%s", role);
	struct pg_conn *c = connect_to(dsn, sizeof dsn, &s, db, extra);
	T_CHECK(c != NULL);
	if (!c)
		return;
	T_EQ_INT(pg_commit_latest(c, "s3://b/t", &row, &e), -1);
	T_EQ_INT(e.status, EX_CONFIG);
	T_CHECK(strstr(e.text, "run `make ddl` (stocketl-db migrate) as a role that may") != NULL);
	T_EQ_INT(pg_schema_migrate(c, NULL, NULL, &e), -1);
	T_EQ_INT(e.status, EX_CONFIG);
	T_CHECK(strstr(e.text, "needs a role with CREATE on the database") != NULL);
	pg_close(c);
	snprintf(sql, sizeof sql, "DROP DATABASE %s", db);
	admin(sql);
	snprintf(sql, sizeof sql, "DROP ROLE %s", role);
	admin(sql);
}

/* Run last, alone: the server is gone afterwards. */
static void test_a_stopped_server_is_temporary(void)
{
	char dsn[1024];
	struct pg_settings s;
	struct err_msg e;
	struct pg_commit_row row;
	const char *stop = getenv("STOCKETL_TEST_PG_STOP");
	T_CHECK(stop != NULL);
	if (!stop)
		return;
	struct pg_conn *c = connect_to(dsn, sizeof dsn, &s, "postgres", "password=hunter2-secret");
	T_CHECK(c != NULL);
	if (!c)
		return;
	T_CHECK(pg_commit_latest(c, "s3://b/t", &row, &e) >= 0);
	pg_commit_row_free(&row);
	T_EQ_INT(system(stop), 0);
	T_EQ_INT(pg_commit_latest(c, "s3://b/t", &row, &e), -1);
	T_EQ_INT(e.status, EX_TEMPFAIL);
	T_CHECK(strstr(e.text, "connection lost") != NULL);
	T_CHECK(strstr(e.text, "hunter2") == NULL);
	printf("#   %s\n", e.text);
	pg_close(c);
}

int main(int argc, char **argv)
{
	base_dsn = getenv("STOCKETL_TEST_PG_DSN");
	if (!base_dsn || !*base_dsn) {
		printf("1..0 # SKIP needs a PostgreSQL cluster: tests/stocketl-db.bats runs it "
		       "with one\n");
		return 0;
	}
	err_init("test_pg_store");
	/* A child's failed write to a closed pipe must be an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && strcmp(argv[1], "server-stop") == 0) {
		T_RUN(test_a_stopped_server_is_temporary);
		T_DONE();
	}
	T_RUN(test_first_use_creates_the_schema);
	T_RUN(test_claim_complete_latest_get);
	T_RUN(test_claim_races_have_one_winner);
	T_RUN(test_concurrent_migrations_apply_once);
	T_RUN(test_reconnects_after_a_terminated_backend);
	T_RUN(test_a_role_without_create_is_told_to_run_make_ddl);
	T_DONE();
}

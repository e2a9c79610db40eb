/*
 * pg_schema: the migrations, in order, and the code that applies them.
 *
 * The bootstrap (the schema and schema_migrations) happens inside the first
 * migration's transaction, under the same lock, so two migrators on an
 * empty database cannot both create the schema.  Existence is checked
 * before any CREATE because PostgreSQL checks the right to create before it
 * looks whether the object exists: CREATE SCHEMA IF NOT EXISTS fails for a
 * role without CREATE on the database even when the schema is there.
 *
 * A migration is a list of statements without parameters (DDL takes
 * none); each is sent alone through the extended protocol, like every
 * other statement.  Adding a migration: append an entry to pg_migrations
 * and never edit an applied one.
 */
#include "pg/schema.h"

#include "pg/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pg_migration {
	const char *name;
	const char *const *sql; /* NULL-terminated */
};

static const char *const pg_m1_commit_store[] = {
    "CREATE TABLE stocketl.delta_commit ("
    " table_id text NOT NULL,"
    " version bigint NOT NULL CHECK (version >= 0),"
    " temp_path text NOT NULL,"
    " complete boolean NOT NULL DEFAULT false,"
    " created_at timestamptz NOT NULL DEFAULT now(),"
    " completed_at timestamptz,"
    " body bytea NOT NULL,"
    " PRIMARY KEY (table_id, version),"
    " CHECK (complete = (completed_at IS NOT NULL)))",
    "COMMENT ON TABLE stocketl.delta_commit IS 'Delta commits claimed by writers that share a "
    "table on storage without put-if-absent (s3fs): one row per (table, version); the row "
    "decides which writer owns the version, body recovers the commit'",
    NULL,
};

/*
 * The job's facts, one row per spool line (stocketl(7), METADATA): a row's
 * key is where its line was, (source_file, source_line), so that loading a
 * file again adds nothing.  A run has a row for its start and one for its
 * end; the report folds them.  The indexes serve the history report: the
 * latest runs, a run's rows, a window of days, the newest bar per symbol.
 */
static const char *const pg_m2_job_facts[] = {
    "CREATE TABLE stocketl.runs ("
    " source_file text NOT NULL, source_line integer NOT NULL,"
    " run_id text, program text NOT NULL, at timestamptz NOT NULL,"
    " job text NOT NULL, attempt integer NOT NULL, started_at timestamptz NOT NULL,"
    " ended_at timestamptz, status integer, failed_stage text, reason text, host text,"
    " loaded_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (source_file, source_line))",
    "CREATE INDEX runs_started ON stocketl.runs (started_at DESC)",
    "CREATE INDEX runs_run ON stocketl.runs (run_id, attempt)",
    "CREATE TABLE stocketl.stages ("
    " source_file text NOT NULL, source_line integer NOT NULL,"
    " run_id text, program text NOT NULL, at timestamptz NOT NULL,"
    " job text NOT NULL, stage text NOT NULL, attempt integer, status integer,"
    " started_at timestamptz, ended_at timestamptz,"
    " records_in bigint, records_out bigint, rejected bigint,"
    " loaded_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (source_file, source_line))",
    "CREATE INDEX stages_run ON stocketl.stages (run_id)",
    "CREATE TABLE stocketl.requests ("
    " source_file text NOT NULL, source_line integer NOT NULL,"
    " run_id text, program text NOT NULL, at timestamptz NOT NULL,"
    " symbol text NOT NULL, function text NOT NULL, bar_interval text, month text,"
    " outputsize text, outcome text NOT NULL, attempts integer NOT NULL,"
    " latency_ms bigint, http_status integer,"
    " loaded_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (source_file, source_line))",
    "CREATE INDEX requests_run ON stocketl.requests (run_id)",
    "CREATE INDEX requests_at ON stocketl.requests (at)",
    "CREATE TABLE stocketl.checks ("
    " source_file text NOT NULL, source_line integer NOT NULL,"
    " run_id text, program text NOT NULL, at timestamptz NOT NULL,"
    " batch_app text, batch_id bigint, check_name text NOT NULL, metric text NOT NULL,"
    " value numeric, outcome text NOT NULL"
    " CHECK (outcome IN ('pass', 'warn', 'fail', 'skipped')),"
    " loaded_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (source_file, source_line))",
    "CREATE INDEX checks_run ON stocketl.checks (run_id)",
    "CREATE INDEX checks_at ON stocketl.checks (at)",
    "CREATE TABLE stocketl.commits ("
    " source_file text NOT NULL, source_line integer NOT NULL,"
    " run_id text, program text NOT NULL, at timestamptz NOT NULL,"
    " table_root text NOT NULL, version bigint NOT NULL, batch_app text, batch_id bigint,"
    " rows bigint, files bigint, bytes bigint, operation text NOT NULL,"
    " loaded_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (source_file, source_line))",
    "CREATE INDEX commits_run ON stocketl.commits (run_id)",
    "CREATE INDEX commits_table ON stocketl.commits (table_root, version)",
    "CREATE TABLE stocketl.watermarks ("
    " source_file text NOT NULL, source_line integer NOT NULL,"
    " run_id text, program text NOT NULL, at timestamptz NOT NULL,"
    " symbol text NOT NULL, bar_interval text NOT NULL, newest timestamptz NOT NULL,"
    " loaded_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (source_file, source_line))",
    "CREATE INDEX watermarks_newest ON stocketl.watermarks (symbol, bar_interval, newest DESC)",
    "CREATE INDEX watermarks_run ON stocketl.watermarks (run_id)",
    "COMMENT ON TABLE stocketl.runs IS 'The job runner''s runs: a row when an attempt "
    "starts and one when it ends, one per line of the metadata spool'",
    NULL,
};

static const struct pg_migration pg_migrations[] = {
    {"commit store (stocketl.delta_commit)", pg_m1_commit_store},
    {"the job's facts (runs, stages, requests, checks, commits, watermarks)", pg_m2_job_facts},
};

#define PG_MIGRATIONS ((int)(sizeof pg_migrations / sizeof pg_migrations[0]))

/* The advisory lock that serialises migrators: "stocketl" in ASCII. */
#define PG_MIGRATION_LOCK "8319104444386551148"

int pg_schema_latest(void)
{
	return PG_MIGRATIONS;
}

const char *pg_schema_name(int v)
{
	return v >= 1 && v <= PG_MIGRATIONS ? pg_migrations[v - 1].name : NULL;
}

/* One boolean or integer out of a one-row query; -1 on error. */
static int64_t pg_schema_scalar(struct pg_conn *c, const char *sql, struct err_msg *e)
{
	struct pg_result *r;
	if (pg_exec(c, sql, 0, NULL, NULL, &r, e) != PG_OK)
		return -1;
	const char *v = pg_result_value(r, 0, 0);
	int64_t n = !v                    ? 0
	            : strcmp(v, "t") == 0 ? 1
	            : strcmp(v, "f") == 0 ? 0
	                                  : strtoll(v, NULL, 10);
	pg_result_free(r);
	return n;
}

int pg_schema_version(struct pg_conn *c, struct err_msg *e)
{
	int64_t exists =
	    pg_schema_scalar(c, "SELECT to_regclass('stocketl.schema_migrations') IS NOT NULL", e);
	if (exists <= 0)
		return (int)exists;
	return (int)pg_schema_scalar(
	    c, "SELECT coalesce(max(version), 0) FROM stocketl.schema_migrations", e);
}

static int pg_schema_step(struct pg_conn *c, const char *sql, struct err_msg *e)
{
	int rc = pg_exec(c, sql, 0, NULL, NULL, NULL, e);
	if (rc == PG_UNIQUE) {
		err_set(e, EX_SOFTWARE, "postgres at %s: unique violation in: %.200s", pg_target(c),
		        sql);
		return -1;
	}
	return rc;
}

/*
 * One transaction: lock, bootstrap if needed, read the version, apply the
 * next migration if there is one.  Returns the migration applied (1..),
 * 0 when the schema was current, -1 on error (the transaction rolled back;
 * *denied set when the role lacked a right).
 */
static int pg_schema_next(struct pg_conn *c, int *denied, struct err_msg *e)
{
	const char *lock[1] = {PG_MIGRATION_LOCK};
	if (pg_schema_step(c, "BEGIN", e) < 0)
		return -1;
	int v = -1;
	if (pg_exec(c, "SELECT pg_advisory_xact_lock($1::bigint)", 1, lock, NULL, NULL, e) != PG_OK)
		goto fail;
	int64_t has_schema = pg_schema_scalar(
	    c, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'stocketl')", e);
	if (has_schema < 0)
		goto fail;
	if (!has_schema && pg_schema_step(c, "CREATE SCHEMA stocketl", e) < 0)
		goto fail;
	v = pg_schema_version(c, e);
	if (v < 0)
		goto fail;
	if (v == 0 &&
	    pg_schema_scalar(c,
	                     "SELECT to_regclass('stocketl.schema_migrations') IS NOT "
	                     "NULL",
	                     e) == 0 &&
	    pg_schema_step(c,
	                   "CREATE TABLE stocketl.schema_migrations ("
	                   " version integer PRIMARY KEY,"
	                   " name text NOT NULL,"
	                   " applied_at timestamptz NOT NULL DEFAULT now())",
	                   e) < 0)
		goto fail;
	if (v >= PG_MIGRATIONS) {
		if (pg_schema_step(c, "COMMIT", e) < 0)
			return -1;
		return 0;
	}
	v++;
	for (const char *const *s = pg_migrations[v - 1].sql; *s; s++)
		if (pg_schema_step(c, *s, e) < 0)
			goto fail;
	char vtext[16];
	snprintf(vtext, sizeof vtext, "%d", v);
	const char *params[2] = {vtext, pg_migrations[v - 1].name};
	if (pg_exec(c, "INSERT INTO stocketl.schema_migrations (version, name) VALUES ($1, $2)", 2,
	            params, NULL, NULL, e) != PG_OK) {
		err_set(e, EX_SOFTWARE, "postgres at %s: migration %d recorded twice", pg_target(c),
		        v);
		goto fail;
	}
	if (pg_schema_step(c, "COMMIT", e) < 0)
		return -1;
	return v;
fail:
	*denied = strcmp(pg_last_sqlstate(c), "42501") == 0;
	struct err_msg ignored;
	pg_exec(c, "ROLLBACK", 0, NULL, NULL, NULL, &ignored);
	return -1;
}

/* pg_schema_migrate(), telling whether a missing right stopped it. */
static int pg_schema_run(struct pg_conn *c, void (*applied)(int v, const char *name, void *arg),
                         void *arg, int *denied, struct err_msg *e)
{
	int count = 0;
	*denied = 0;
	for (;;) {
		int v = pg_schema_next(c, denied, e);
		if (v < 0) {
			if (*denied)
				e->status = EX_CONFIG;
			return -1;
		}
		if (v == 0)
			return count;
		count++;
		if (applied)
			applied(v, pg_migrations[v - 1].name, arg);
	}
}

/* Append text to e's message, as much as fits. */
static void pg_schema_say(struct err_msg *e, const char *text)
{
	size_t n = strlen(e->text);
	snprintf(e->text + n, sizeof e->text - n, "%s", text);
}

int pg_schema_migrate(struct pg_conn *c, void (*applied)(int v, const char *name, void *arg),
                      void *arg, struct err_msg *e)
{
	int denied;
	int rc = pg_schema_run(c, applied, arg, &denied, e);
	if (rc < 0 && denied)
		pg_schema_say(e, "; creating the schema stocketl needs a role with CREATE on the "
		                 "database (its owner, say)");
	return rc;
}

int pg_schema_ensure(struct pg_conn *c, struct err_msg *e)
{
	if (pg_conn_schema_ready(c))
		return 0;
	int v = pg_schema_version(c, e);
	if (v < 0)
		return -1;
	if (v >= PG_MIGRATIONS) {
		pg_conn_set_schema_ready(c);
		return 0;
	}
	int denied;
	if (pg_schema_run(c, NULL, NULL, &denied, e) < 0) {
		if (denied)
			pg_schema_say(
			    e, "; this role may not create the schema stocketl: run `make "
			       "ddl` (stocketl-db migrate) as a role that may, then try again");
		return -1;
	}
	pg_conn_set_schema_ready(c);
	return 0;
}

/*
 * pg_commit: the commit store's statements (see pg/commit_store.h).
 *
 * The claim is INSERT ... ON CONFLICT DO NOTHING in autocommit: the
 * primary key (table_id, version) makes exactly one insert of a version
 * succeed however many writers race, and DO NOTHING keeps the losers' races
 * out of the server's error log.  Times are returned already formatted as
 * UTC RFC 3339, so no caller depends on the session's time zone.
 */
#include "pg/commit_store.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_internal.h"
#include "pg/schema.h"

#define PG_COMMIT_COLUMNS                                                                          \
	"version, complete, temp_path, body,"                                                      \
	" to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"            \
	" to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

static char *pg_commit_strdup(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p)
		memcpy(p, s, n);
	return p;
}

void pg_commit_row_free(struct pg_commit_row *row)
{
	if (!row)
		return;
	free(row->temp_path);
	free(row->body);
	free(row->created_at);
	free(row->completed_at);
	memset(row, 0, sizeof *row);
}

/* Row i of r (selected with PG_COMMIT_COLUMNS) into *row. */
static int pg_commit_fill(const struct pg_result *r, int i, struct pg_commit_row *row,
                          struct err_msg *e)
{
	memset(row, 0, sizeof *row);
	const char *v = pg_result_value(r, i, 0);
	const char *done = pg_result_value(r, i, 1);
	row->version = v ? strtoll(v, NULL, 10) : -1;
	row->complete = done && strcmp(done, "t") == 0;
	row->temp_path = pg_commit_strdup(pg_result_value(r, i, 2));
	row->body = pg_result_bytea(r, i, 3, &row->body_len);
	row->created_at = pg_commit_strdup(pg_result_value(r, i, 4));
	row->completed_at = pg_commit_strdup(pg_result_value(r, i, 5));
	if (!row->temp_path || !row->body || !row->created_at ||
	    (row->complete && !row->completed_at)) {
		pg_commit_row_free(row);
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	return 0;
}

/* Run a query that selects at most one row of the store: 1, 0 (no row) or -1. */
static int pg_commit_one(struct pg_conn *c, const char *sql, int n, const char *const *params,
                         struct pg_commit_row *row, struct err_msg *e)
{
	struct pg_result *r;
	if (pg_exec(c, sql, n, params, NULL, &r, e) != PG_OK)
		return -1;
	int found = pg_result_rows(r) > 0;
	if (found && pg_commit_fill(r, 0, row, e) < 0) {
		pg_result_free(r);
		return -1;
	}
	if (!found)
		memset(row, 0, sizeof *row);
	pg_result_free(r);
	return found;
}

int pg_commit_claim(struct pg_conn *c, const char *table, int64_t version, const char *temp_path,
                    const void *body, size_t len, struct err_msg *e)
{
	if (version < 0) {
		err_set(e, EX_SOFTWARE, "commit store: version %lld is negative",
		        (long long)version);
		return -1;
	}
	if (len > INT_MAX) {
		err_set(e, EX_SOFTWARE, "commit store: a commit of %zu bytes is larger than %d",
		        len, INT_MAX);
		return -1;
	}
	if (pg_schema_ensure(c, e) < 0)
		return -1;
	char vtext[24];
	snprintf(vtext, sizeof vtext, "%lld", (long long)version);
	/* An empty body still is a value, not SQL NULL. */
	const char *params[4] = {table, vtext, temp_path, len ? (const char *)body : ""};
	const int lengths[4] = {-1, -1, -1, (int)len};
	struct pg_result *r;
	int rc = pg_exec(c,
	                 "INSERT INTO stocketl.delta_commit (table_id, version, temp_path, body)"
	                 " VALUES ($1, $2, $3, $4) ON CONFLICT (table_id, version) DO NOTHING",
	                 4, params, lengths, &r, e);
	if (rc < 0)
		return pg_conn_outcome_unknown(c) ? PG_CLAIM_UNKNOWN : -1;
	int64_t inserted = rc == PG_OK ? pg_result_affected(r) : 0;
	pg_result_free(r);
	if (inserted == 1)
		return PG_CLAIM_WON;
	/* Someone's row holds the version: this writer's own, if sent twice? */
	/*
	 * Failing to ask is an unknown outcome: the insert may have been sent
	 * twice (a broken connection, made again) and its first copy stored.
	 */
	struct pg_result *q;
	if (pg_exec(c,
	            "SELECT temp_path FROM stocketl.delta_commit WHERE table_id = $1 AND version = "
	            "$2",
	            2, params, NULL, &q, e) != PG_OK)
		return PG_CLAIM_UNKNOWN;
	const char *holder = pg_result_value(q, 0, 0);
	int mine = holder && strcmp(holder, temp_path) == 0;
	int present = pg_result_rows(q) > 0;
	pg_result_free(q);
	if (!present) {
		err_set(e, EX_SOFTWARE,
		        "commit store: version %lld of %s was neither inserted nor found (rows are "
		        "never deleted)",
		        (long long)version, table);
		return -1;
	}
	return mine ? PG_CLAIM_WON : PG_CLAIM_LOST;
}

int pg_commit_complete(struct pg_conn *c, const char *table, int64_t version, struct err_msg *e)
{
	if (pg_schema_ensure(c, e) < 0)
		return -1;
	char vtext[24];
	snprintf(vtext, sizeof vtext, "%lld", (long long)version);
	const char *params[2] = {table, vtext};
	struct pg_result *r;
	if (pg_exec(c,
	            "UPDATE stocketl.delta_commit SET complete = true,"
	            " completed_at = coalesce(completed_at, now())"
	            " WHERE table_id = $1 AND version = $2",
	            2, params, NULL, &r, e) != PG_OK)
		return -1;
	int64_t n = pg_result_affected(r);
	pg_result_free(r);
	if (n != 1) {
		err_set(e, EX_SOFTWARE, "commit store: no row for version %lld of %s to complete",
		        (long long)version, table);
		return -1;
	}
	return 0;
}

int pg_commit_latest(struct pg_conn *c, const char *table, struct pg_commit_row *row,
                     struct err_msg *e)
{
	if (pg_schema_ensure(c, e) < 0)
		return -1;
	const char *params[1] = {table};
	return pg_commit_one(c,
	                     "SELECT " PG_COMMIT_COLUMNS " FROM stocketl.delta_commit"
	                     " WHERE table_id = $1 ORDER BY version DESC LIMIT 1",
	                     1, params, row, e);
}

int pg_commit_get(struct pg_conn *c, const char *table, int64_t version, struct pg_commit_row *row,
                  struct err_msg *e)
{
	if (pg_schema_ensure(c, e) < 0)
		return -1;
	char vtext[24];
	snprintf(vtext, sizeof vtext, "%lld", (long long)version);
	const char *params[2] = {table, vtext};
	return pg_commit_one(c,
	                     "SELECT " PG_COMMIT_COLUMNS " FROM stocketl.delta_commit"
	                     " WHERE table_id = $1 AND version = $2",
	                     2, params, row, e);
}

int pg_commit_first(struct pg_conn *c, const char *table, int64_t *version, struct err_msg *e)
{
	if (pg_schema_ensure(c, e) < 0)
		return -1;
	const char *params[1] = {table};
	struct pg_result *r;
	if (pg_exec(c, "SELECT min(version) FROM stocketl.delta_commit WHERE table_id = $1", 1,
	            params, NULL, &r, e) != PG_OK)
		return -1;
	const char *v = pg_result_value(r, 0, 0);
	*version = v ? strtoll(v, NULL, 10) : -1;
	pg_result_free(r);
	return v != NULL;
}

int pg_commit_forget(struct pg_conn *c, const char *table, int64_t *n, struct err_msg *e)
{
	*n = 0;
	if (pg_schema_ensure(c, e) < 0)
		return -1;
	const char *params[1] = {table};
	struct pg_result *r;
	if (pg_exec(c, "DELETE FROM stocketl.delta_commit WHERE table_id = $1", 1, params, NULL, &r,
	            e) != PG_OK)
		return -1;
	*n = pg_result_affected(r);
	pg_result_free(r);
	return 0;
}

void pg_commit_rows_free(struct pg_commit_row *rows, size_t n)
{
	for (size_t i = 0; rows && i < n; i++)
		pg_commit_row_free(&rows[i]);
	free(rows);
}

int pg_commit_range(struct pg_conn *c, const char *table, int64_t from, int64_t to,
                    struct pg_commit_row **rows, size_t *n, struct err_msg *e)
{
	*rows = NULL;
	*n = 0;
	if (pg_schema_ensure(c, e) < 0)
		return -1;
	char ftext[24], ttext[24];
	snprintf(ftext, sizeof ftext, "%lld", (long long)from);
	snprintf(ttext, sizeof ttext, "%lld", (long long)to);
	const char *params[3] = {table, ftext, ttext};
	struct pg_result *r;
	if (pg_exec(c,
	            "SELECT " PG_COMMIT_COLUMNS " FROM stocketl.delta_commit"
	            " WHERE table_id = $1 AND version BETWEEN $2 AND $3 ORDER BY version",
	            3, params, NULL, &r, e) != PG_OK)
		return -1;
	int count = pg_result_rows(r);
	struct pg_commit_row *out = count ? calloc((size_t)count, sizeof *out) : NULL;
	if (count && !out) {
		pg_result_free(r);
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	for (int i = 0; i < count; i++)
		if (pg_commit_fill(r, i, &out[i], e) < 0) {
			pg_commit_rows_free(out, (size_t)i);
			pg_result_free(r);
			return -1;
		}
	pg_result_free(r);
	*rows = out;
	*n = (size_t)count;
	return 0;
}

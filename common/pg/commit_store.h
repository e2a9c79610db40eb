/*
 * commit_store: the rows through which writers of one table, on storage
 * without an atomic create (an s3fs mount), agree on who commits each
 * version: a port of Delta's S3DynamoDBLogStore onto PostgreSQL.
 *
 * The store knows strings and numbers only: a table identity (the same
 * text on every host, see pg/tableid.h), a version, the temporary path the
 * commit was staged at, and the commit's bytes.  The protocol on top of it
 * (write the temporary file, claim, write N.json, complete; recover an
 * incomplete latest row) belongs to the Delta code.
 *
 * Rows are never deleted while their table is in the bucket (only
 * pg_commit_forget(), for a table deleted from it): a row is what proves,
 * long after, that a version was taken.  Every function makes sure the
 * schema exists on its first use through a connection
 * (pg_schema_ensure()): a new, empty database works
 * without `make ddl` when the role may create the schema, and a clear
 * message says to run it when the role may not.
 *
 * Every function returns -1 with e set (75, 78, 70 as pg/pg.h says) when
 * the store cannot answer.  The caller commits nothing then.
 */
#ifndef STOCKETL_PG_COMMIT_STORE_H
#define STOCKETL_PG_COMMIT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "pg/pg.h"

/* A row of the store.  Strings and body are malloc'd and owned by the row. */
struct pg_commit_row {
	int64_t version;
	int complete;
	char *temp_path;
	unsigned char *body; /* NUL-terminated for convenience; body_len excludes it */
	size_t body_len;
	char *created_at;   /* RFC 3339, UTC, microseconds */
	char *completed_at; /* NULL while incomplete */
};

/* Outcomes of pg_commit_claim(). */
#define PG_CLAIM_WON     1
#define PG_CLAIM_LOST    0
/*
 * The connection broke after the insert was sent and could not be made
 * again to read the row back: the claim may or may not be stored (e says
 * why, with 75).  The caller must treat the version as possibly its own.
 */
#define PG_CLAIM_UNKNOWN 2

/*
 * Claim version of table: insert the row (incomplete) with the commit's
 * temporary path and body.  PG_CLAIM_WON when this call's row is the one
 * stored, PG_CLAIM_LOST when another writer's row holds the version.  A
 * row with the same temp_path counts as this writer's own: a claim whose
 * first attempt reached the server before the connection broke is not
 * mistaken for a lost race when it is sent again.  temp_path must
 * therefore be unique to the attempt (it holds a UUID in Delta's layout).
 * When the connection breaks with the insert sent and cannot be made
 * again, the result is PG_CLAIM_UNKNOWN.
 */
int pg_commit_claim(struct pg_conn *c, const char *table, int64_t version, const char *temp_path,
                    const void *body, size_t len, struct err_msg *e);

/*
 * The oldest version of table that has a row into *version: 1 when there
 * is one, 0 when the table has no rows, -1 on error.  Versions below it
 * were committed before the table's writers used the store (an adopted
 * log): they have no row, and their commits are only in _delta_log.
 */
int pg_commit_first(struct pg_conn *c, const char *table, int64_t *version, struct err_msg *e);

/*
 * Mark the row complete (N.json is in place).  Idempotent: completing a
 * complete row changes nothing (its completion time stays).  Returns 0,
 * or -1 (EX_SOFTWARE when no such row exists: complete what you claimed).
 */
int pg_commit_complete(struct pg_conn *c, const char *table, int64_t version, struct err_msg *e);

/*
 * The newest row of table into *row: 1 when there is one, 0 when the
 * table has no rows, -1 on error.  Free the row with pg_commit_row_free().
 */
int pg_commit_latest(struct pg_conn *c, const char *table, struct pg_commit_row *row,
                     struct err_msg *e);

/* The row of table's version into *row: 1 found, 0 none, -1 error. */
int pg_commit_get(struct pg_conn *c, const char *table, int64_t version, struct pg_commit_row *row,
                  struct err_msg *e);

/*
 * The rows of table's versions from .. to (inclusive) that exist, in
 * ascending order, into a new array *rows of *n rows (NULL and 0 when
 * there are none).  Free each row, then the array (pg_commit_rows_free()).
 * Returns 0 or -1.
 */
int pg_commit_range(struct pg_conn *c, const char *table, int64_t from, int64_t to,
                    struct pg_commit_row **rows, size_t *n, struct err_msg *e);
void pg_commit_rows_free(struct pg_commit_row *rows, size_t n);

/*
 * Delete every row of table (a table deleted from the bucket, so that a
 * table made again at its location starts at version 0): the number of
 * rows deleted into *n.  Returns 0 or -1.  The caller makes sure that the
 * table's log is gone: rows are otherwise never deleted.
 */
int pg_commit_forget(struct pg_conn *c, const char *table, int64_t *n, struct err_msg *e);

void pg_commit_row_free(struct pg_commit_row *row);

#endif

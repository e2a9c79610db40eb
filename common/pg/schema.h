/*
 * schema: stocketl's tables in PostgreSQL and their versioned migrations.
 *
 * Every table lives in the schema "stocketl".  stocketl.schema_migrations
 * records each applied migration (version, name, time).  A migration is a
 * list of statements applied in one transaction together with its row in
 * schema_migrations, under a transaction-level advisory lock, so that
 * migrators running at once wait for each other and the second finds
 * nothing left to do.  Migrations are only ever appended: a database whose
 * schema is newer than this build is fine (later migrations add, they do
 * not change what earlier ones made).
 *
 *   1  stocketl.delta_commit: the commit store (see pg/commit_store.h)
 *   2  the job's facts loaded from the metadata spool (meta/meta.h):
 *      stocketl.runs, stages, requests, checks, commits, watermarks
 */
#ifndef STOCKETL_PG_SCHEMA_H
#define STOCKETL_PG_SCHEMA_H

#include "pg/pg.h"

/* The newest schema version this build knows. */
int pg_schema_latest(void);
/* The name of migration v (1 .. pg_schema_latest()), or NULL. */
const char *pg_schema_name(int v);

/*
 * The applied version: 0 when the schema or its version table does not
 * exist; -1 on error.
 */
int pg_schema_version(struct pg_conn *c, struct err_msg *e);

/*
 * Apply every pending migration, each in its own transaction.  Calls
 * applied(v, name, arg) after each one commits (applied may be NULL).
 * Returns how many were applied (0 when the schema was already current),
 * or -1.  A role that may not create the schema or its tables gets
 * EX_CONFIG and a message that says which right is missing.
 */
int pg_schema_migrate(struct pg_conn *c, void (*applied)(int v, const char *name, void *arg),
                      void *arg, struct err_msg *e);

/*
 * Make sure the schema is current before first use: nothing when it is
 * (one query), else pg_schema_migrate().  When the role may not create it,
 * EX_CONFIG with a message that says to run `make ddl` (stocketl-db
 * migrate) as a role that may.  Returns 0 or -1.
 */
int pg_schema_ensure(struct pg_conn *c, struct err_msg *e);

#endif

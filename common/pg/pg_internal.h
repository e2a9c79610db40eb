/*
 * pg_internal: what the pg module's files share and callers must not see.
 */
#ifndef STOCKETL_PG_INTERNAL_H
#define STOCKETL_PG_INTERNAL_H

#include "pg/pg.h"

/*
 * Has pg_schema_ensure() found the schema current through this connection?
 * Then the commit store does not ask again: migrations only ever add, so
 * the answer cannot go stale while the connection lives.
 */
int pg_conn_schema_ready(const struct pg_conn *c);
void pg_conn_set_schema_ready(struct pg_conn *c);

/*
 * Did the last failed pg_exec() send its statement on a live connection
 * that broke before the answer came (and could not be made again)?  Then
 * the server may have applied it: the commit store's claim tells its
 * caller that the outcome is unknown instead of "not claimed".
 */
int pg_conn_outcome_unknown(const struct pg_conn *c);

#endif

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

#endif

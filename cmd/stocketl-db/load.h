/*
 * load: the metadata spool into PostgreSQL (stocketl-db load-spool).
 */
#ifndef STOCKETL_DB_LOAD_H
#define STOCKETL_DB_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "pg/pg.h"

struct load_stats {
	size_t files;       /* files loaded (then removed, or moved to rejected/) */
	size_t live;        /* .part files left to their running writers */
	size_t quarantined; /* files with bad lines, moved to <spool>/rejected */
	uint64_t added;     /* rows inserted */
	uint64_t present;   /* lines already loaded before (a file loaded again) */
	uint64_t torn;      /* torn last lines, ignored */
	uint64_t bad;       /* lines that are not facts */
};

/*
 * Load every finished spool file of dir (.ndjson, and .part files whose
 * writer is gone), each in one transaction, then remove it; a file with
 * bad lines has its good lines loaded and is moved to dir/rejected.  On
 * a failure of PostgreSQL (e: 75, 78, 70) or of the spool (e: 74) the
 * file being loaded stays, rolled back, and so do the files after it.
 * Returns 0 or -1.
 */
int load_spool(struct pg_conn *c, const char *dir, struct load_stats *st, struct err_msg *e);

#endif

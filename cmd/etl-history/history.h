/*
 * history: etl-history's parts.  A source (source.c) fills a store with
 * the facts a report needs, from PostgreSQL or from the spool files; the
 * report (report.c) is computed from the store alone, so that both sources
 * give the same report for the same facts, but for one thing that no fact
 * says: whether the runner of an attempt without an end has gone (lock.c).
 */
#ifndef ETL_HISTORY_H
#define ETL_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "meta/meta.h"
#include "pg/pg.h"

enum report { R_RUNS, R_RUN, R_CHECKS, R_FRESHNESS };

/* What a report asks of a source. */
struct query {
	int report;
	int64_t limit;      /* runs: how many */
	const char *run_id; /* run: which */
	int64_t since;      /* checks: facts at or after (µs) */
};

/* Facts, each a deep copy that the store owns. */
struct store {
	struct meta_fact *v;
	size_t n, cap;
	uint64_t bad; /* spool lines that were not facts */
};

int store_add(struct store *s, const struct meta_fact *f);
void store_free(struct store *s);

/* The facts that q needs from the spool dir.  0, or -1 with e. */
int source_spool(const char *dir, const struct query *q, struct store *s, struct err_msg *e);
/* The facts that q needs from PostgreSQL.  0, or -1 with e. */
int source_pg(struct pg_conn *c, const struct query *q, struct store *s, struct err_msg *e);
/* The spool files not yet loaded (for a report from PostgreSQL); -1 when unreadable. */
long source_pending(const char *dir);

/* Where the facts came from, for the report's head. */
struct origin {
	const char *source; /* "postgres" or "spool" */
	const char *where;  /* the target (never a password) or the spool directory */
	long pending;       /* postgres: spool files not loaded yet (-1: unknown) */
	int64_t now;
	const char *locks; /* the runner's lock files, <state>/locks */
};

/*
 * Has the runner of run_id, a run of job on host, gone without recording
 * its end?  1 when host is this host, no process holds the job's lock in
 * the directory locks and the lock file still names the run (the runner
 * empties it when a run ends); 0 when the run may be going or it cannot be
 * told.  Call it after reading the facts that lack the end.
 */
int runner_gone(const char *locks, const char *job, const char *run_id, const char *host);

/*
 * Write q's report of the facts in s to stdout, as a table or as one JSON
 * object.  Returns 0 (also when the reader went away: EPIPE), EX_IOERR
 * (the write failed) or -1 (out of memory); each reported.
 */
int report_write(const struct query *q, const struct store *s, const struct origin *o, int table);

#endif

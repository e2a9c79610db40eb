/*
 * delta-compact's parts: the maintenance operations, each in a file of its
 * own, over one shared context.
 *
 *   optimize.c   bin-packing of small files into files near a target size
 *   vacuum.c     deletion of data files no retained version needs
 *   logclean.c   checkpoints, and removal of expired commits and checkpoints
 *
 * Every operation loads the snapshot it needs itself: the table may have
 * moved on between two of them (other writers append while it runs), and
 * each one is safe against that on its own.
 *
 * Ownership: the context borrows the configuration and owns nothing else
 * than its counters; the store is opened and closed by main.
 */
#ifndef STOCKETL_DELTA_COMPACT_H
#define STOCKETL_DELTA_COMPACT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "delta/delta.h"
#include "delta/delta_store.h"

#define MIB ((int64_t)1 << 20)

struct config;

struct compact {
	const struct config *cfg;
	const char *table; /* as given on the command line, for messages */
	const char *root;  /* the table's directory */
	struct delta_store *store;
	int64_t now_ms; /* the run's time: every age is measured from it */

	/* optimize */
	int64_t target_size;  /* -1: the table's delta.targetFileSize, else the default */
	const char *order_by; /* comma-separated columns, or NULL */
	const char *where;    /* a partition filter in delta-cat's syntax, or NULL */

	/* vacuum */
	int64_t retain_ms;       /* -1: the table's delta.deletedFileRetentionDuration */
	const char *retain_text; /* --retain as given, or NULL */
	int dry_run;
	int force;

	/* what was done, for the summary */
	int64_t first_version, last_version; /* versions created, -1 when none */
};

/* Note a version created by this run. */
void compact_created(struct compact *c, int64_t version);

/* A size for people: "1.5 MiB", "812 B". */
void compact_size_text(int64_t bytes, char *out, size_t cap);
/* A duration for people, in the largest unit that divides it: "7d", "36h", "90s", "250ms". */
void compact_duration_text(int64_t ms, char *out, size_t cap);
struct stat;
/* A file's modification time, epoch ms. */
int64_t compact_mtime_ms(const struct stat *st);
/*
 * Load the latest snapshot of the table (with its file lists when files),
 * checked for writing; reports errors and returns a status.
 */
int compact_load(struct compact *c, int files, struct delta_snapshot *snap);

/*
 * The operations.  Each returns an exit status (0 on success) after
 * reporting its own errors, and prints its summary on stderr unless quiet.
 */
int compact_optimize(struct compact *c);
int compact_checkpoint(struct compact *c);
int compact_vacuum(struct compact *c);
int compact_cleanup_log(struct compact *c);

#endif

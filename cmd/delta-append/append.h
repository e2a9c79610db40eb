/*
 * delta-append's parts: the state they share.
 *
 * main.c reads the options and the input, decides each batch's fate and
 * commits it through a Delta transaction; cells.c maps records to the
 * table's columns; the library's writer (delta/delta_rows.h) writes the
 * partition files with its writer threads.
 */
#ifndef DELTA_APPEND_H
#define DELTA_APPEND_H

#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/strmap.h"
#include "delta/delta.h"
#include "delta/delta_rows.h"
#include "delta/delta_store.h"
#include "delta/delta_txn.h"
#include "record/stream.h"
#include "text/decimal.h"

struct column {
	const struct delta_field *f;
	size_t name_len;
	dec128 dec_limit; /* decimals: 10^precision, the first value that does not fit */
	dec128 dec_scale; /* decimals: 10^|scale - 6|, to move a tick price to this scale */
	int part_string;  /* a string partition column: its value names a directory */
	struct buf scratch;
};

struct app {
	const char *root;
	const char *table; /* TABLE as given, for the summary */
	struct delta_store *store;
	struct delta_snapshot snap;
	struct delta_checkpointer *ckpt; /* checkpoints written behind the next batch */
	/*
	 * The schema and partition columns the data files are written with: a
	 * copy of the snapshot's, which a commit by another writer may replace
	 * (then they must still agree, see still_writable() in main.c).
	 */
	struct delta_schema tschema;
	char **part_cols;
	char *column_mapping; /* delta.columnMapping.mode, for the writers (delta_writer_opts) */
	struct column *cols;
	size_t ncols;
	size_t npart;
	int has_part_string;    /* some column has part_string set */
	int has_nested;         /* some column is a struct, array or map */
	struct delta_writer *w; /* the batch's data files */
	struct merge *merge;    /* upserts by a key (merge.c), or NULL for appends */
	struct delta_writer_opts wopts;
	int64_t retries;
	const char *app_id; /* --app-id */
	int64_t batch_id;   /* --batch-id, or -1 */
	int batch_id_col;   /* the column "batch_id", or -1 */
	int tick_col[TICK_FIELD_COUNT];
	int tick_table;   /* the columns are exactly the tick record's: the fast path applies */
	struct tick tick; /* the current record, when read by the fast path */
	int tick_direct;  /* ... and of the same types: see tick_cells_direct() */
	uint16_t tick_required; /* null bits of the tick fields whose columns are not nullable */
	/* the batch being read */
	int64_t records;
	int bad;          /* a record of this batch was bad */
	int has_batch_id; /* a record of this batch carries a batch_id */
	/* totals, for the summary */
	int64_t first_version, last_version;
	int64_t committed, committed_records, committed_files;
	int64_t skipped, discarded;
	int status;
};

/* cells.c */
/* Columns and the tick mapping, from a->tschema. */
int setup_columns(struct app *a, struct err_msg *e);
/* Convert a record into cells (one per column); e says why a record does not fit. */
int record_cells(struct app *a, struct rec_reader *rd, struct rec *r, struct delta_cell *cells,
                 struct err_msg *e);

/* main.c */
/*
 * Is the table still one the batch's files fit (its schema and partition
 * columns as read at the start, writable)?  The revalidate hook of
 * commits.
 */
int still_writable(void *arg, const struct delta_snapshot *snap, struct err_msg *e);
/* Report and count a commit that is in the table (info->version >= 0). */
/* A commit's barrier (delta_txn_set_barrier()): the data files of writer w are durable. */
int files_durable(void *w, struct err_msg *e);
/* Report the checkpoints written behind (wait 1: wait for the one in flight). */
void note_checkpoints(struct app *a, int wait);
void note_commit(struct app *a, const struct delta_commit_info *info, int64_t rows, int64_t files,
                 const char *app);

/* merge.c */
/* Upsert by the key columns named in list ("a,b,c"): EX_USAGE for a bad list. */
int merge_setup(struct app *a, const char *list, struct err_msg *e);
/* The key, as "a,b,c". */
const char *merge_key_text(const struct app *a);
/*
 * Of a batch's records of one key, keep the one with the greatest value of
 * column (ties: the later one) instead of the last: EX_USAGE for no such
 * column.
 */
int merge_latest_by(struct app *a, const char *column, struct err_msg *e);
/*
 * Take a record's cells into the batch (a later record of its key will
 * replace it).  1 when the record cannot be merged (a null in the key, e
 * says so), -1 for fatal errors.
 */
int merge_put(struct app *a, const struct delta_cell *cells, struct err_msg *e);
/*
 * Merge the batch into the table as one MERGE commit (with the txn of app
 * and id unless app is NULL), again from a fresh snapshot after each
 * conflict, up to a->retries times.  0 when committed or found loaded by
 * another writer; -1 with e set for what stops the run.  The batch is
 * emptied.
 */
int merge_commit(struct app *a, const char *app, int64_t id, const char *label, struct err_msg *e);
/* Drop the batch's records. */
void merge_discard(struct app *a);
void merge_free(struct app *a);

#endif

/*
 * delta-append's parts: the state they share.
 *
 * main.c reads the options and the input, decides each batch's fate and
 * commits it through a Delta transaction; cells.c maps records to the
 * table's columns; files.c writes the partition files with the writer
 * threads.
 */
#ifndef DELTA_APPEND_H
#define DELTA_APPEND_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/strmap.h"
#include "delta/delta.h"
#include "delta/delta_store.h"
#include "parquet/parquet.h"
#include "record/stream.h"
#include "text/decimal.h"

struct column {
	const struct delta_field *f;
	int partition; /* index among partition columns, or -1 */
	int leaf;      /* leaf in the data files, or -1 for partition columns */
	int kind;      /* enum col_kind of the values in memory */
	size_t name_len;
	dec128 dec_limit; /* decimals: 10^precision, the first value that does not fit */
	dec128 dec_scale; /* decimals: 10^|scale - 6|, to move a tick price to this scale */
	struct buf scratch;
};

/*
 * Rows on their way into a data file, column by column: the writer takes
 * them a chunk at a time through its batch calls, which is much cheaper
 * than a call per value.  String bytes are kept in an arena and addressed
 * by offset until the chunk is handed over.
 */
#define ROW_CHUNK   1024
#define LEARN_EVERY 256

enum col_kind { K_I64, K_I32, K_F32, K_F64, K_BOOL, K_BYTES, K_DEC };

struct colbuf {
	void *vals;
	uint8_t *valid;
	int has_null;
	uint32_t *off, *len; /* K_BYTES: the value's place in the arena */
};

struct rowbuf {
	size_t n;
	struct colbuf *cols; /* one per data file column (leaf) */
	struct buf arena;
	struct pq_bytes *bytes; /* scratch for handing strings over */
	struct rowbuf *next;    /* in the pool of free buffers */
};

/* A data file being written, or finished and waiting for its commit. */
struct part_file {
	char *key;              /* partition key (the strmap key while open) */
	char *rel;              /* path relative to the table root (not encoded) */
	char *abs;              /* path on disk */
	struct delta_map pvals; /* partition values by column (values NULL for null) */
	size_t nleaves;         /* columns of rb */
	struct pq_writer *w;
	struct rowbuf *fill;     /* the chunk being filled (main thread) */
	int worker;              /* the worker thread that writes this file */
	_Atomic int64_t written; /* bytes the writer has produced so far */
	int failed;              /* the worker hit an error on this file */
	int learning;            /* the writer chooses encodings; keep its choice */
	int *forced;             /* otherwise: the encodings to use, one per column */
	int64_t rows;
	int64_t size;
	int64_t mtime;
	char *stats; /* add.stats JSON, or NULL when it could not be built */
	uint64_t last_use;
	struct part_file *next; /* finished list */
};

struct job {
	struct part_file *p;
	struct rowbuf *rb; /* rows to write, or NULL */
	int finish;        /* then finish the file */
	struct job *next;
};

struct worker {
	struct app *a;
	pthread_t th;
	pthread_cond_t cv;
	struct job *head, *tail;
	struct pq_codec *codec;
	struct pq_write_options wopts;
	struct part_file *done; /* files finished by this worker */
};

struct app {
	const char *root;
	const char *table; /* TABLE as given, for the summary */
	struct delta_store *store;
	struct delta_snapshot snap;
	/*
	 * The schema and partition columns the data files are written with: a
	 * copy of the snapshot's, which a commit by another writer may replace
	 * (then they must still agree, see still_writable() in main.c).
	 */
	struct delta_schema tschema;
	char **part_cols;
	struct column *cols;
	size_t ncols;
	size_t npart;
	struct pq_schema *schema;
	struct pq_write_options wopts;
	int64_t target_size;
	size_t max_open;
	int64_t retries;
	const char *app_id; /* --app-id */
	int64_t batch_id;   /* --batch-id, or -1 */
	int64_t stats_cols; /* leading data columns with min/max stats, -1 all */
	int batch_id_col;   /* the column "batch_id", or -1 */
	size_t nleaves;
	const struct column **leaf_col; /* data file column -> table column */
	/*
	 * Encodings learned from a finished file and forced on the next ones:
	 * the writer's trial encodings cost more than the rest of writing a
	 * small file, and the files of one stream are alike.  Relearned every
	 * LEARN_EVERY files.
	 */
	int *learned;
	int have_learned;
	unsigned files_since_learning;
	int tick_col[TICK_FIELD_COUNT];
	int tick_table;   /* the columns are exactly the tick record's: the fast path applies */
	struct tick tick; /* the current record, when read by the fast path */
	int tick_direct;  /* ... and of the same types: see tick_cells_direct() */
	uint16_t tick_required; /* null bits of the tick fields whose columns are not nullable */
	/* the batch being read */
	struct strmap open;
	size_t nopen;
	/* writer threads: the main thread parses; workers encode and write files */
	struct worker *workers;
	int nworkers, next_worker;
	pthread_mutex_t mu;
	pthread_cond_t cv_done; /* a job finished */
	size_t pending;         /* jobs queued or running */
	size_t max_pending;
	struct rowbuf *pool;
	int stopping;
	int werr; /* a worker failed: werr_msg says why */
	struct err_msg werr_msg;
	struct part_file *last;        /* the partition of the previous row */
	struct delta_cell *last_cells; /* its partition cells */
	int last_cacheable;
	struct part_file *done;
	int64_t records;
	int bad;          /* a record of this batch was bad */
	int has_batch_id; /* a record of this batch carries a batch_id */
	uint64_t clock;
	/* totals, for the summary */
	int64_t first_version, last_version;
	int64_t committed, committed_records, committed_files;
	int64_t skipped, discarded;
	int status;
};

/* cells.c */
/* Columns, the data-file schema and the tick mapping, from a->tschema and a->part_cols. */
int setup_columns(struct app *a, struct err_msg *e);
/* Convert a record into cells (one per column); e says why a record does not fit. */
int record_cells(struct app *a, struct rec_reader *rd, struct rec *r, struct delta_cell *cells,
                 struct err_msg *e);

/* files.c */
/* Write one record into its partition's file. -1: a fatal error (I/O), e set. */
int write_row(struct app *a, const struct delta_cell *cells, struct buf *key, struct err_msg *e);
/* Finish every open file of the batch and wait for the writers: its files are then in a->done. */
int finish_all(struct app *a, struct err_msg *e);
/* Drop the batch: close and remove every file it wrote. */
void discard_batch(struct app *a);
/* Forget the batch's files once committed (they are the table's now). */
void release_batch(struct app *a);
int start_workers(struct app *a, int n, struct err_msg *e);
void stop_workers(struct app *a);

#endif

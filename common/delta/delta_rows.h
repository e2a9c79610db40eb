/*
 * delta_rows: a table's data files as rows of cells, read and written.
 *
 * Every program that touches the rows of a table goes through this module:
 * delta-cat reads, delta-append appends and upserts, compaction reads and
 * rewrites.  Rows are arrays of struct delta_cell (delta/delta.h), one per
 * column of the table (or of a projection), with partition values restored
 * from the log, so that callers never see how Parquet stores a column or
 * that partition columns are not in the files at all.
 *
 * Reading (delta_rows_read.c): delta_rows_open() reads a data file's footer
 * and maps the columns asked for onto the file's by name: a column the file
 * lacks (added to the table after the file was written) reads as null, a
 * narrower type in the file is widened (int to long or double, a decimal to
 * a larger scale, a date to timestamp_ntz).  Flat columns come from the
 * columnar reader a batch at a time; nested ones (struct, array, map) from
 * the row reader as value trees, with a plan (struct delta_nplan) that maps
 * the file's nested fields onto the table's.  Row groups can be left out by
 * their footer statistics before reading.
 *
 * Pruning: what the log knows about a file without opening it.
 * delta_stats_bounds() parses add.stats into bounds per column;
 * delta_file_may_hold() says whether a file can hold a row whose columns
 * lie within given ranges, from its partition values and those bounds.
 * Pruning only ever drops what cannot match: unknown or unusable bounds
 * (a string maximum that was cut to a prefix) keep the file.
 *
 * Writing (delta_rows_write.c): a struct delta_writer takes rows of cells
 * of a flat table and writes ZSTD Parquet data files under the table root,
 * in Hive partition directories (col=value/part-00000-<uuid>-c000.zstd.parquet),
 * one file per partition at a time, a new one past the target size, with
 * add.stats as delta_stats_json() states them.  Encoding and writing run in
 * writer threads: the caller converts and buffers rows, a chunk at a time
 * per file; encodings learned from one finished file are forced on the
 * next ones (relearned every 256 files), or given by a caller that read
 * them from the files it rewrites, since the files of one stream are
 * alike and the writer's trial encodings cost more than writing a small
 * file.  Files are invisible until a commit names them: the caller commits
 * what delta_writer_files() gives (struct delta_file, ready for an add)
 * and then releases them, or discards them, which removes them.
 *
 * Ownership: a reader owns the state of its file; the rows it gives point
 * into it and are valid until the next call on it.  A writer copies the
 * schema and partition columns it is given; the files it lists are its own
 * until released or discarded.
 */
#ifndef STOCKETL_DELTA_ROWS_H
#define STOCKETL_DELTA_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "delta/delta.h"
#include "parquet/parquet.h"

/* Conversions ------------------------------------------------------------------------------ */

/*
 * How a value of a file's Parquet column becomes a value of the table's
 * type: the Parquet reader's representation (parquet.h) widened or
 * rescaled where the table's type is wider than the file's.
 */
enum delta_conv {
	DELTA_CV_BOOL,
	DELTA_CV_I32,     /* int32 to an integer, a date */
	DELTA_CV_I64,     /* int64 to long, a timestamp */
	DELTA_CV_I32_F,   /* int32 to double */
	DELTA_CV_I64_F,   /* int64 to double */
	DELTA_CV_F32,     /* float to float or double */
	DELTA_CV_F64,     /* double */
	DELTA_CV_BYTES,   /* string, binary */
	DELTA_CV_DEC,     /* decimal, scaled up by `shift` digits */
	DELTA_CV_I32_DEC, /* int32 to decimal */
	DELTA_CV_I64_DEC, /* int64 to decimal */
	DELTA_CV_DATE_TS  /* date to timestamp_ntz (midnight) */
};

/*
 * The conversion from Parquet field pf to table field f (a primitive type),
 * or -1 when the file's type cannot be read as the table's.
 */
int delta_conv_pick(const struct delta_field *f, const struct pq_field *pf, int *conv, int *shift);
/* The Parquet type that holds values of primitive column f. */
enum pq_type delta_pq_type(const struct delta_field *f);
/* A value of the reader's representation (p points to one of the column's kind) as a cell. */
void delta_conv_raw(int conv, int shift, const void *p, struct delta_cell *c);
/* The same from a value tree (PQ_V_NULL gives a null cell). */
void delta_conv_value(int conv, int shift, const struct pq_value *v, struct delta_cell *c);

/* How a file's nested value maps onto the table's nested type. */
struct delta_nplan {
	int absent;      /* the file lacks the field: always null */
	int conv, shift; /* primitives */
	int *item;       /* structs: per table field, its index in the file's struct, or -1 */
	struct delta_nplan
	    *kids; /* structs: per table field; arrays: the element; maps: key, value */
	size_t nkids;
};

/* Reading -------------------------------------------------------------------------------- */

/* A column a reader produces: a column of the table, from the file or from its partition values. */
struct delta_rows_col {
	const struct delta_field *f;
	int partition; /* 1: a partition column (its value comes from partitionValues) */
};

/* One value of a row. */
struct delta_value {
	struct delta_cell c;          /* primitive columns (c.null for null) */
	const struct pq_value *v;     /* nested columns: the value tree, NULL for null */
	const struct delta_nplan *np; /* nested columns: how v maps onto the column's type */
};

struct delta_rows;

/*
 * Open data file f (a live file of a snapshot of the table at root) to
 * read the columns cols[0..ncols) (any of the table's, in any order: the
 * projection).  The footer is read and each column mapped onto the file's
 * by name (exactly, else ignoring case); partition columns are parsed from
 * f->partition_values.  ro may be NULL (it may carry decompression
 * contexts to share; see struct pq_read_options).  NULL with e set:
 * EX_DATAERR for a file whose types do not fit the table or that the log
 * names but is not there, EX_IOERR for I/O.
 */
struct delta_rows *delta_rows_open(const char *root, const struct delta_file *f,
                                   const struct delta_rows_col *cols, size_t ncols,
                                   const struct pq_read_options *ro, struct err_msg *e);
/* The path of the file on storage, for messages. */
const char *delta_rows_path(const struct delta_rows *r);
/*
 * The encoding of column col's values in the file (a pq_encoding: the one
 * its first row group's data pages use), for a writer of files like it to
 * force (delta_writer_learn()); PQ_ENC_AUTO for a partition or nested
 * column, one the file lacks, or an encoding that cannot be told or that a
 * writer of the table's type could not use.
 */
int delta_rows_encoding(const struct delta_rows *r, size_t col);
/* Row groups of the file, and the rows of one. */
int delta_rows_row_groups(const struct delta_rows *r);
int64_t delta_rows_row_group_rows(const struct delta_rows *r, int g);

/*
 * What is known about a column over a file or a row group: bounds (a lower
 * bound lo and an upper bound hi, either may be unknown) and counts (-1
 * when unknown).
 */
struct delta_bounds {
	int has_lo, has_hi;
	struct delta_cell lo, hi;
	int64_t nulls, rows;
};
/*
 * Bounds of column col (an index into the reader's columns) over row group
 * g from the footer's statistics: a column the file lacks is all nulls; a
 * partition or nested column, or one without statistics, has unknown
 * bounds.
 */
void delta_rows_group_bounds(struct delta_rows *r, int g, size_t col, struct delta_bounds *b);
/* Leave row group g out of the rows (use 0) or read it (1, the default); before the first row. */
void delta_rows_use_group(struct delta_rows *r, int g, int use);
/*
 * The next row: one value per column, in the order they were asked for.
 * Returns 1 with *row set (valid until the next call), 0 after the last
 * row, -1 with e set (the message names the file).
 */
int delta_rows_next(struct delta_rows *r, const struct delta_value **row, struct err_msg *e);
void delta_rows_close(struct delta_rows *r);

/* Pruning -------------------------------------------------------------------------------- */

/*
 * Bounds of columns fields[0..n) from a file's add.stats JSON (b[i] for
 * fields[i]).  Strings point into stats or into scratch[i]; unusable or
 * unknown parts stay unknown (a string maximum that may be a cut-off
 * prefix, a value that does not parse, malformed statistics).  Timestamp
 * maxima are widened by 999 microseconds, as the log keeps milliseconds.
 */
void delta_stats_bounds(const char *stats, const struct delta_field *const *fields, size_t n,
                        struct delta_bounds *b, struct buf *scratch);
struct jscan_token;
/*
 * A minValues or maxValues value of add.stats (a token of it) as a cell of
 * column f's type, exactly as written (a bound is not widened, a cut string
 * maximum not refused): 0, or -1 when the token is not a value of the type.
 * An escaped string is unescaped onto the end of scratch, which must have
 * room for it (twice the token's length), so that cells pointing into it
 * stay valid.
 */
int delta_stats_cell(const struct delta_field *f, const struct jscan_token *t, struct buf *scratch,
                     struct delta_cell *c);

/* A closed range of non-null values of one column: lo <= value <= hi. */
struct delta_range {
	const struct delta_field *f;
	int partition; /* 1: a partition column */
	struct delta_cell lo, hi;
};

/*
 * Can file f hold a row whose columns r[0..n) all lie within their ranges?
 * Partition columns are decided exactly by f's partition values (a null
 * one holds no value in a range); other columns by the bounds and null
 * counts in f's add.stats.  1 when it may (or when nothing rules it out),
 * 0 when it cannot.  scratch: one buffer per range, reused across calls.
 */
int delta_file_may_hold(const struct delta_file *f, const struct delta_range *r, size_t n,
                        struct buf *scratch);

/* Writing -------------------------------------------------------------------------------- */

/*
 * The table property (metaData.configuration) that names the columns a
 * table's rows are upserted by, comma-separated: writers replace the row
 * of a key instead of adding another.  A plain property: other engines
 * ignore it.
 */
#define DELTA_MERGE_KEY_PROPERTY "stocketl.mergeKey"

struct delta_writer_opts {
	int64_t target_size; /* a file past this many bytes is finished and another started */
	size_t max_open;     /* partitions written at once; past it the least recently used is
	                        finished */
	int threads;         /* writer threads (up to 64); 0: files are encoded and written
	                        in the caller's thread, which is quicker for a few small
	                        files than handing them over */
	int64_t stats_cols;  /* leading data columns with min/max statistics, -1 all
	                        (delta_stats_columns()) */
	/*
	 * Sort each file's rows by these columns (indexes into the schema,
	 * ascending, nulls first; partition columns are constant within a file
	 * and ignored).  A sorted file is held in memory until it is finished,
	 * and is cut when the rows held reach target_size times the
	 * compression ratio of the files finished before it (1 until one is).
	 */
	const size_t *sort_cols;
	size_t nsort;
	/*
	 * The table's delta.columnMapping.mode ("name" or "id"; NULL or
	 * "none": no mapping).  Under column mapping the data files name
	 * their columns by physical names and carry the fields' ids as
	 * Parquet field ids, and partition values and statistics are keyed
	 * by physical names (PROTOCOL.md, "Column Mapping").
	 */
	const char *column_mapping;
	/*
	 * A directory of the table's (NULL: none) under which the files go,
	 * their partition directories below it: _change_data for change data
	 * files.  Their paths relative to the root begin with it, and it is
	 * made durable with them.
	 */
	const char *subdir;
};

/* The defaults: 128 MiB files, 16 open, threads from the processors (up to 4), stats on 32. */
void delta_writer_opts_init(struct delta_writer_opts *o);

/* A file the writer finished: what its add needs, and how many rows it holds. */
struct delta_written {
	struct delta_file file; /* path (relative, not encoded), partition_values, size,
	                           modification_time, data_change 1 (a caller that only
	                           rearranges rows commits its copy with 0), stats */
	int64_t rows;
};

struct delta_writer;

/*
 * A writer of data files of the table at root, whose columns are schema's
 * (flat: primitive types only) and whose partition columns are
 * part_cols[0..npart).  NULL with e set: a nested column (EX_DATAERR),
 * threads that cannot start, memory.
 */
struct delta_writer *delta_writer_new(const char *root, const struct delta_schema *schema,
                                      char *const *part_cols, size_t npart,
                                      const struct delta_writer_opts *o, struct err_msg *e);
/*
 * Write one row: cells[i] is the value of the schema's column i (strings
 * are copied).  -1 with e set: a value too long for a file (EX_DATAERR),
 * a writer thread's failure (I/O, EX_IOERR), memory.
 */
int delta_writer_put(struct delta_writer *w, const struct delta_cell *cells, struct err_msg *e);
/*
 * Force encodings on the files started from now on, as if learned from a
 * finished file: enc[i] for the schema's column i (partition columns are
 * ignored; PQ_ENC_AUTO lets the writer choose that column's), each one
 * that delta_rows_encoding() gives for the column.  A caller that rewrites
 * files it reads spares every new file the trial encodings this way.
 */
void delta_writer_learn(struct delta_writer *w, const int *enc);
/* Rows put since the last release or discard. */
int64_t delta_writer_rows(const struct delta_writer *w);
/*
 * Finish every open file and wait for the writer threads: the files are
 * then listed by delta_writer_files().  -1 with e set when a file could not
 * be written (the others stay listed: discard them).
 */
int delta_writer_finish(struct delta_writer *w, struct err_msg *e);
/*
 * Make the finished files durable before a commit names them: each file
 * and every directory between it and the table root fsynced, several at
 * once, or, past 64 files, one syncfs(2) of the table's filesystem
 * (cheaper for many files, but it waits for whatever else is being
 * written there).  On a FUSE mount (s3fs, where a file's close uploaded it
 * and reported a failure) there is nothing to do.  -1 with e set
 * (EX_IOERR).
 */
int delta_writer_sync(struct delta_writer *w, struct err_msg *e);
/*
 * The same in two halves, so that a commit can be prepared while the disk
 * works: _start() begins the fsyncs on threads of their own (-1 with e set
 * only when they cannot be listed; without threads it makes them itself),
 * _wait() waits for them and says how they went (0, or -1 with e set; a
 * second call says the same).  A writer discarded or freed waits for them
 * first.
 */
int delta_writer_sync_start(struct delta_writer *w, struct err_msg *e);
int delta_writer_sync_wait(struct delta_writer *w, struct err_msg *e);
/* The finished files (valid until the next put, finish, release or discard). */
const struct delta_written *delta_writer_files(const struct delta_writer *w, size_t *n);
/* Forget the finished files: a commit made them the table's. */
void delta_writer_release(struct delta_writer *w);
/* Stop writing: every file written since the last release, open or finished, is removed. */
void delta_writer_discard(struct delta_writer *w);
/* Discard what is not released, stop the threads, free. */
void delta_writer_free(struct delta_writer *w);

#endif

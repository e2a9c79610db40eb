/*
 * delta-cat's parts: reading a table's data files into rows, pruned by the
 * --where expression (scan.c; the expressions are the library's,
 * delta/delta_where.h), and writing rows as JSON, CSV or binary tick
 * records (out.c); main.c ties them together.
 *
 * Ownership: a struct dc_scan owns the state of the file it is reading.  Rows handed
 * to the output (struct delta_value arrays) point into the scanner's column
 * batches and value trees and are valid only during the call that gets
 * them.
 */
#ifndef DELTACAT_H
#define DELTACAT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "delta/delta.h"
#include "delta/delta_rows.h"
#include "delta/delta_where.h"
#include "base/err.h"
#include "parquet/parquet.h"

/* A column the scanner produces: shown in the output, or only needed by --where. */
struct dc_col {
	const struct delta_field *f;
	int partition; /* 1: the value comes from the file's partitionValues */
	int out;       /* position in the output, or -1 */
};

/* Reading (scan.c) ------------------------------------------------------- */

/* Called for each row that passes --where; a -1 return stops the scan (e set). */
typedef int (*dc_emit_fn)(void *ctx, const struct delta_value *row, struct err_msg *e);

struct dc_scan {
	const char *root;
	const struct dc_col *cols;
	size_t ncols;
	struct delta_where *where;
	dc_emit_fn emit;
	void *ctx;
	const struct pq_read_options *ropts; /* may be NULL */
	/* counters for -v */
	int64_t files, files_by_partition, files_by_stats;
	int64_t row_groups, row_groups_skipped;
	int64_t rows_read, rows_out;
};

/*
 * Read one data file (pruning it first), giving its rows to s->emit.
 * Returns 0, -1 when the file cannot be read (e set), or -2 when s->emit
 * failed (its e).
 */
int dc_scan_file(struct dc_scan *s, const struct delta_file *f, struct err_msg *e);

/* Output (out.c) --------------------------------------------------------- */

enum dc_format { DC_JSON, DC_CSV, DC_BINARY };

struct dc_out;

/*
 * An output on stdout for the output columns of cols (those with out >=
 * 0).  DC_BINARY needs exactly the tick record's columns with types that
 * hold them; otherwise NULL and e (EX_USAGE).  CSV starts with the header.
 */
struct dc_out *dc_out_open(int format, const struct dc_col *cols, size_t ncols, struct err_msg *e);
int dc_out_row(void *out, const struct delta_value *row, struct err_msg *e);
/* 1 when a write failed because the reader of stdout went away (not worth a message). */
/*
 * A batch marker (JSON and binary only) that ends the batch of the rows
 * written since the one before: app, id, and their number as records.
 */
int dc_out_batch(struct dc_out *o, const char *app, int64_t id, struct err_msg *e);
/*
 * The read failed after rows went out: end them with a failed batch marker
 * (app and id as given, records the rows since the last marker), so that a
 * consumer such as delta-append commits none of them, whether or not it is
 * told the batch's id.  Nothing when no row went out since the last
 * marker, for CSV, or when the reader went away.
 */
int dc_out_fail(struct dc_out *o, const char *app, int64_t id);
int dc_out_broken_pipe(const struct dc_out *o);
/*
 * Flush, close and free the output: 0, -1 with e filled, or -2 when the
 * reader of stdout went away (at any time).
 */
int dc_out_close(struct dc_out *o, struct err_msg *e);

/* Append the JSON text of a nested value of table field f. */
int dc_nested_json(const struct delta_field *f, const struct delta_nplan *np,
                   const struct pq_value *v, struct buf *out);

#endif

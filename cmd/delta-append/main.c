/*
 * delta-append: load record streams into a Delta table, one atomic commit
 * per batch.
 *
 * Records are mapped by name onto the table's columns and written to
 * Parquet files (ZSTD), one or more per partition per batch, straight into
 * their final place under the table: a file is invisible until a commit
 * names it.  At each batch marker the open files are finished and one
 * commit is made with an add per file, the batch's txn (app, id) and a
 * commitInfo.  A batch that is marked failed, whose count does not match,
 * that holds a bad record or that is cut off by the end of input or a
 * signal is never committed and its files are removed.  Replayed batches
 * (id not above the table's txn version for the app) are skipped, so a
 * replayed stream loads exactly once.
 *
 * Commits go through the put-if-absent store; when another writer took the
 * version, its commit is read and checked for real conflicts (a protocol or
 * metadata change, or the same app having loaded this batch) and the same
 * files are committed at the next version.
 */
#define _GNU_SOURCE /* syncfs(2) */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cli.h"
#include "base/config.h"
#include "text/decimal.h"
#include "delta/delta.h"
#include "base/err.h"
#include "parquet/parquet.h"
#include "record/stream.h"
#include "base/strmap.h"
#include "text/ts.h"

static const char usage[] =
    "usage: delta-append [-qv] [--app-id ID] [--commit-retries N] [--config FILE]\n"
    "                    [--max-open-files N] [--target-file-size BYTES] [--threads N]\n"
    "                    TABLE [FILE ...]\n";

static const struct cli_option options[] = {
    {"--app-id ID", "the txn app id, instead of each marker's app"},
    {"--commit-retries N", "retries when another writer wins (default 15)"},
    {"--config FILE", "the configuration file"},
    {"--max-open-files N", "partitions written at once (default 16)"},
    {"--target-file-size BYTES", "a new data file past this size"},
    {"--threads N", "writer threads (default: processors, up to 4)"},
    {NULL, NULL},
};

/* A bad setting: from its flag a usage error, from the configuration file a configuration error. */
static int setting_error(const char *flag, const struct err_msg *e)
{
	if (flag)
		return cli_usage_error(usage, "%s", e->text);
	err_error("%s", e->text);
	return EX_CONFIG;
}

#define STATS_STRING_PREFIX 32

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

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
	char *key;    /* partition key (the strmap key while open) */
	char *rel;    /* path relative to the table root (not encoded) */
	char *abs;    /* path on disk */
	char **pvals; /* partition values, NULL for null */
	size_t npvals;
	size_t nleaves; /* columns of rb */
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
	char *stats;
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
	struct delta_snapshot snap;
	struct column *cols;
	size_t ncols;
	size_t npart;
	const struct delta_field **part_fields;
	struct pq_schema *schema;
	struct pq_write_options wopts;
	int64_t target_size;
	size_t max_open;
	int64_t retries;
	const char *app_id; /* --app-id */
	int64_t stats_cols; /* leading data columns with min/max stats, -1 all */
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
	int bad; /* a record of this batch was rejected */
	uint64_t clock;
	/* totals */
	int64_t committed, skipped, discarded, failed_batches;
	int status;
};

static int status_rank(int st)
{
	/* The most serious status wins: I/O and contention over data errors over check failures. */
	static const int order[] = {EX_OK,      EX_REJECTS,  EX_CHECKFAIL,
	                            EX_DATAERR, EX_TEMPFAIL, EX_IOERR};
	for (int i = 0; i < 6; i++)
		if (order[i] == st)
			return i;
	return 6;
}

static void set_status(struct app *a, int st)
{
	if (status_rank(st) > status_rank(a->status))
		a->status = st;
}

static enum pq_type pq_type_of(const struct delta_field *f)
{
	switch (f->type) {
	case DT_STRING:
		return PQ_STRING;
	case DT_LONG:
		return PQ_LONG;
	case DT_INTEGER:
		return PQ_INT;
	case DT_SHORT:
		return PQ_SHORT;
	case DT_BYTE:
		return PQ_BYTE;
	case DT_FLOAT:
		return PQ_FLOAT;
	case DT_DOUBLE:
		return PQ_DOUBLE;
	case DT_BOOLEAN:
		return PQ_BOOLEAN;
	case DT_BINARY:
		return PQ_BINARY;
	case DT_DATE:
		return PQ_DATE;
	case DT_TIMESTAMP:
		return PQ_TIMESTAMP;
	case DT_TIMESTAMP_NTZ:
		return PQ_TIMESTAMP_NTZ;
	default:
		return PQ_DECIMAL;
	}
}

/* Columns, the data-file schema and the tick mapping. */
static int setup_columns(struct app *a, struct err_msg *e)
{
	const struct delta_metadata *m = &a->snap.meta;
	a->ncols = m->schema.n;
	a->cols = calloc(a->ncols, sizeof *a->cols);
	a->npart = m->n_partition_columns;
	a->part_fields = calloc(a->npart ? a->npart : 1, sizeof *a->part_fields);
	a->last_cells = calloc(a->ncols ? a->ncols : 1, sizeof *a->last_cells);
	a->schema = pq_schema_new();
	if (!a->cols || !a->part_fields || !a->last_cells || !a->schema) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	int leaf = 0;
	for (size_t i = 0; i < a->ncols; i++) {
		struct column *c = &a->cols[i];
		c->f = &m->schema.fields[i];
		c->name_len = strlen(c->f->name);
		c->partition = -1;
		if (c->f->type == DT_DECIMAL) {
			c->dec_limit = dec_pow10(c->f->precision);
			c->dec_scale =
			    dec_pow10(c->f->scale >= DEC6_SCALE ? c->f->scale - DEC6_SCALE
			                                        : DEC6_SCALE - c->f->scale);
		}
		c->leaf = -1;
		if (!delta_type_is_primitive(c->f->type) || c->f->type == DT_VOID) {
			err_set(e, EX_DATAERR,
			        "%s: column \"%s\" is nested; delta-append writes flat "
			        "tables only",
			        a->root, c->f->name);
			return -1;
		}
		for (size_t k = 0; k < a->npart; k++)
			if (strcmp(m->partition_columns[k], c->f->name) == 0) {
				c->partition = (int)k;
				a->part_fields[k] = c->f;
			}
		if (c->partition >= 0)
			continue;
		int idx = c->f->type == DT_DECIMAL
		              ? pq_schema_add_decimal(a->schema, PQ_ROOT, c->f->name,
		                                      c->f->precision, c->f->scale, c->f->nullable)
		              : pq_schema_add(a->schema, PQ_ROOT, c->f->name, pq_type_of(c->f),
		                              c->f->nullable);
		if (idx < 0) {
			err_set(e, EX_SOFTWARE, "cannot build the data file schema");
			return -1;
		}
		c->leaf = leaf++;
		switch (c->f->type) {
		case DT_LONG:
		case DT_TIMESTAMP:
		case DT_TIMESTAMP_NTZ:
			c->kind = K_I64;
			break;
		case DT_INTEGER:
		case DT_SHORT:
		case DT_BYTE:
		case DT_DATE:
			c->kind = K_I32;
			break;
		case DT_FLOAT:
			c->kind = K_F32;
			break;
		case DT_DOUBLE:
			c->kind = K_F64;
			break;
		case DT_BOOLEAN:
			c->kind = K_BOOL;
			break;
		case DT_STRING:
		case DT_BINARY:
			c->kind = K_BYTES;
			break;
		default:
			c->kind = c->f->precision <= 18 ? K_I64 : K_DEC;
		}
	}
	a->nleaves = (size_t)leaf;
	a->leaf_col = calloc(a->nleaves ? a->nleaves : 1, sizeof *a->leaf_col);
	a->learned = calloc(a->nleaves ? a->nleaves : 1, sizeof *a->learned);
	if (!a->leaf_col || !a->learned) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < a->ncols; i++)
		if (a->cols[i].leaf >= 0)
			a->leaf_col[a->cols[i].leaf] = &a->cols[i];
	a->tick_table = a->ncols == TICK_FIELD_COUNT;
	for (int t = 0; t < TICK_FIELD_COUNT; t++) {
		a->tick_col[t] = -1;
		for (size_t i = 0; i < a->ncols; i++)
			if (strcmp(a->cols[i].f->name, tick_field_names[t]) == 0)
				a->tick_col[t] = (int)i;
		if (a->tick_col[t] < 0)
			a->tick_table = 0;
	}
	if (a->tick_table) {
		static const int want[TICK_FIELD_COUNT] = {
		    DT_STRING,  DT_STRING,  DT_TIMESTAMP, DT_DATE, DT_DECIMAL,   DT_DECIMAL,
		    DT_DECIMAL, DT_DECIMAL, DT_LONG,      DT_LONG, DT_TIMESTAMP, DT_STRING};
		a->tick_direct = 1;
		for (int t = 0; t < TICK_FIELD_COUNT; t++) {
			const struct delta_field *f = a->cols[a->tick_col[t]].f;
			if (f->type != want[t] || (f->type == DT_DECIMAL &&
			                           (f->scale != DEC6_SCALE || f->precision < 18)))
				a->tick_direct = 0;
			if (!f->nullable)
				a->tick_required |= (uint16_t)(1u << t);
		}
	}
	return 0;
}

/* Tick field t as a cell of column c (types must agree; decimals are rescaled). */
static int tick_cell(const struct column *c, const struct tick *t, int field,
                     struct delta_cell *cell, struct err_msg *e)
{
	memset(cell, 0, sizeof *cell);
	if (t->nulls & (1u << field)) {
		cell->null = 1;
		if (!c->f->nullable) {
			err_set(e, EX_DATAERR,
			        "column \"%s\": null in a column that is not nullable", c->f->name);
			return -1;
		}
		return 0;
	}
	int want;
	switch (field) {
	case 0:
	case 1:
	case 11:
		want = DT_STRING;
		cell->s = field == 0    ? t->symbol
		          : field == 11 ? t->source
		                        : tick_interval_name(t->interval);
		cell->n = strlen(cell->s);
		break;
	case 2:
	case 10:
		want = DT_TIMESTAMP;
		cell->i = field == 2 ? t->trade_timestamp : t->ingested_at;
		break;
	case 3:
		want = DT_DATE;
		cell->i = t->trade_date;
		break;
	case 8:
	case 9:
		want = DT_LONG;
		cell->i = field == 8 ? t->volume : t->batch_id;
		break;
	default: {
		want = DT_DECIMAL;
		int64_t v = field == 4   ? t->open
		            : field == 5 ? t->high
		            : field == 6 ? t->low
		                         : t->close;
		if (c->f->type != DT_DECIMAL)
			break;
		dec128 d = v;
		int scale = c->f->scale;
		if (scale >= DEC6_SCALE) {
			d *= c->dec_scale;
		} else {
			if (d % c->dec_scale != 0) {
				err_set(e, EX_DATAERR,
				        "column \"%s\": value has more than %d decimals",
				        c->f->name, scale);
				return -1;
			}
			d /= c->dec_scale;
		}
		if (d >= c->dec_limit || d <= -c->dec_limit) {
			err_set(e, EX_DATAERR, "column \"%s\": value does not fit decimal(%d,%d)",
			        c->f->name, c->f->precision, scale);
			return -1;
		}
		cell->dec = d;
		return 0;
	}
	}
	if (c->f->type != want) {
		char ty[40];
		delta_field_type_name(c->f, ty, sizeof ty);
		err_set(e, EX_DATAERR, "column \"%s\" is %s; tick field %s does not fit it",
		        c->f->name, ty, tick_field_names[field]);
		return -1;
	}
	return 0;
}

/* Cells from a tick record; columns without a tick field are null. */
/*
 * The tick table's own layout (every column the tick field of the same
 * name and type, decimals at scale 6): cells straight from the tick, with
 * only the nulls to check.  Decided once, in setup_columns().
 */
static int tick_cells_direct(struct app *a, const struct tick *tk, struct delta_cell *cells,
                             struct err_msg *e)
{
	if (tk->nulls & a->tick_required) {
		for (int t = 0; t < TICK_FIELD_COUNT; t++)
			if (tk->nulls & a->tick_required & (1u << t)) {
				err_set(e, EX_DATAERR,
				        "column \"%s\": null in a column that is not nullable",
				        tick_field_names[t]);
				return -1;
			}
	}
	const int *col = a->tick_col;
	for (int t = 0; t < TICK_FIELD_COUNT; t++)
		cells[col[t]].null = (tk->nulls >> t) & 1;
	struct delta_cell *c = &cells[col[0]];
	c->s = tk->symbol;
	c->n = strnlen(tk->symbol, TICK_SYMBOL_MAX);
	c = &cells[col[1]];
	c->s = tick_interval_name(tk->interval);
	c->n = c->s ? strlen(c->s) : 0;
	cells[col[2]].i = tk->trade_timestamp;
	cells[col[3]].i = tk->trade_date;
	cells[col[4]].dec = tk->open;
	cells[col[5]].dec = tk->high;
	cells[col[6]].dec = tk->low;
	cells[col[7]].dec = tk->close;
	cells[col[8]].i = tk->volume;
	cells[col[9]].i = tk->batch_id;
	cells[col[10]].i = tk->ingested_at;
	c = &cells[col[11]];
	c->s = tk->source;
	c->n = strnlen(tk->source, TICK_SOURCE_MAX);
	return 0;
}

static int tick_cells(struct app *a, const struct tick *tk, struct delta_cell *cells,
                      struct err_msg *e)
{
	if (a->tick_direct)
		return tick_cells_direct(a, tk, cells, e);
	unsigned seen = 0;
	for (int t = 0; t < TICK_FIELD_COUNT; t++) {
		int ci = a->tick_col[t];
		if (ci < 0) {
			if (!(tk->nulls & (1u << t))) {
				err_set(e, EX_DATAERR, "unknown column \"%s\"",
				        tick_field_names[t]);
				return -1;
			}
			continue;
		}
		seen |= 1u << ci;
		if (tick_cell(&a->cols[ci], tk, t, &cells[ci], e) < 0)
			return -1;
	}
	for (size_t i = 0; i < a->ncols; i++)
		if (!(i < 32 && (seen & (1u << i))) &&
		    delta_cell_from_json(a->cols[i].f, NULL, &cells[i], &a->cols[i].scratch, e) < 0)
			return -1;
	return 0;
}

/*
 * Convert a record into cells (one per column).  For tables whose columns
 * are the tick record's, JSON lines are read lazily: a line in the exact
 * layout tick writers produce is parsed straight into a tick (the fast
 * path); any other line is tokenized and mapped field by field, which also
 * gives the precise error for a bad one.
 */
static int record_cells(struct app *a, struct rec_reader *rd, struct rec *r,
                        struct delta_cell *cells, struct err_msg *e)
{
	if (r->format == REC_FMT_BINARY)
		return tick_cells(a, &r->tick, cells, e);
	if (a->tick_table && !r->fields) {
		/* The tick outlives this call: string cells point into it. */
		if (tick_from_canonical_json(r->text, r->text_len, &a->tick) == 0)
			return tick_cells(a, &a->tick, cells, e);
		struct err_msg pe;
		if (rec_parse_fields(rd, r, &pe) != REC_DATA) {
			/* Keep the reason only: the caller names the input and record. */
			const char *why = strstr(pe.text, ": record ");
			why = why ? strchr(why + 9, ':') : NULL;
			err_set(e, EX_DATAERR, "%s", why ? why + 2 : pe.text);
			return -1;
		}
	}
	/* JSON: every field must name a column; absent columns are null. */
	const struct rec_field *byc[1024];
	if (a->ncols > 1024) {
		err_set(e, EX_DATAERR, "more than 1024 columns");
		return -1;
	}
	memset(byc, 0, a->ncols * sizeof *byc);
	for (size_t k = 0; k < r->nfields; k++) {
		const struct rec_field *rf = &r->fields[k];
		/* Records usually list the columns in table order: try that one first. */
		size_t i = k < a->ncols && a->cols[k].name_len == rf->name_len &&
		                   memcmp(a->cols[k].f->name, rf->name, rf->name_len) == 0
		               ? k
		               : a->ncols;
		for (size_t j = 0; i == a->ncols && j < a->ncols; j++)
			if (a->cols[j].name_len == rf->name_len &&
			    memcmp(a->cols[j].f->name, rf->name, rf->name_len) == 0)
				i = j;
		if (i == a->ncols) {
			err_set(e, EX_DATAERR, "unknown column \"%.*s\"",
			        (int)(rf->name_len > 64 ? 64 : rf->name_len), rf->name);
			return -1;
		}
		byc[i] = rf;
	}
	for (size_t i = 0; i < a->ncols; i++)
		if (delta_cell_from_json(a->cols[i].f, byc[i], &cells[i], &a->cols[i].scratch, e) <
		    0)
			return -1;
	return 0;
}

static struct rowbuf *rowbuf_get(struct app *a);
static void rowbuf_put(struct app *a, struct rowbuf *rb);
static int submit(struct app *a, struct part_file *p, struct rowbuf *rb, int finish,
                  struct err_msg *e);

static void rowbuf_free(struct rowbuf *rb, size_t ncols)
{
	for (size_t i = 0; rb->cols && i < ncols; i++) {
		free(rb->cols[i].vals);
		free(rb->cols[i].valid);
		free(rb->cols[i].off);
		free(rb->cols[i].len);
	}
	free(rb->cols);
	free(rb->bytes);
	buf_free(&rb->arena);
	memset(rb, 0, sizeof *rb);
}

static void part_file_free(struct part_file *p)
{
	if (!p)
		return;
	if (p->fill) {
		rowbuf_free(p->fill, p->nleaves);
		free(p->fill);
	}
	if (p->w)
		pq_writer_free(p->w);
	free(p->key);
	free(p->rel);
	free(p->abs);
	for (size_t i = 0; p->pvals && i < p->npvals; i++)
		free(p->pvals[i]);
	free(p->pvals);
	free(p->stats);
	free(p->forced);
	free(p);
}

/* Append the stats value of a pq statistic bound to out (JSON), or return -1 to leave it out. */
static int stats_value(const struct delta_field *f, const struct pq_value *v, struct buf *out)
{
	struct delta_cell c = {0};
	char tmp[DEC_TEXT_MAX + TS_TEXT_MAX];
	switch (v->kind) {
	case PQ_V_I32:
		c.i = v->i32;
		break;
	case PQ_V_I64:
		c.i = v->i64;
		c.dec = v->i64;
		break;
	case PQ_V_F32:
		c.d = v->f32;
		break;
	case PQ_V_F64:
		c.d = v->f64;
		break;
	case PQ_V_DEC:
		c.dec = v->dec;
		break;
	case PQ_V_BYTES:
		c.s = (const char *)v->bytes.p;
		c.n = v->bytes.len;
		break;
	default:
		return -1;
	}
	switch (f->type) {
	case DT_BOOLEAN:
	case DT_BINARY:
		return -1;
	case DT_FLOAT:
	case DT_DOUBLE:
		if (c.d != c.d || c.d - c.d != 0)
			return -1; /* NaN and infinities have no JSON form */
		return delta_cell_to_json(f, &c, out);
	case DT_DECIMAL:
		dec_format_fixed(c.dec, f->scale, tmp);
		return buf_puts(out, tmp);
	case DT_TIMESTAMP:
		ts_format_rfc3339_ms(c.i, tmp);
		buf_putc(out, '"');
		buf_puts(out, tmp);
		return buf_putc(out, '"');
	case DT_TIMESTAMP_NTZ: {
		size_t n = ts_format_rfc3339_ms(c.i, tmp);
		tmp[n - 1] = '\0';
		buf_putc(out, '"');
		buf_puts(out, tmp);
		return buf_putc(out, '"');
	}
	default:
		return delta_cell_to_json(f, &c, out);
	}
}

/* The add.stats JSON of a finished file. */
static char *file_stats(struct app *a, struct part_file *p)
{
	struct buf mins = BUF_INIT, maxs = BUF_INIT, nulls = BUF_INIT, out = BUF_INIT,
	           tmp = BUF_INIT;
	int64_t indexed = 0;
	for (size_t i = 0; i < a->ncols; i++) {
		const struct column *c = &a->cols[i];
		if (c->leaf < 0)
			continue;
		struct pq_stats st;
		if (pq_writer_stats(p->w, c->leaf, &st) < 0)
			continue;
		const char *name = c->f->name;
		buf_puts(&nulls, nulls.len ? "," : "");
		buf_json_str(&nulls, name, strlen(name));
		buf_printf(&nulls, ":%lld", (long long)(st.null_count < 0 ? 0 : st.null_count));
		if (a->stats_cols >= 0 && indexed++ >= a->stats_cols)
			continue;
		if (!st.has_min_max)
			continue;
		if (c->f->type == DT_STRING) {
			/* Exact when short; a long minimum is cut to a prefix (still a bound). */
			size_t cp = 0, at = 0;
			for (; at < st.min.bytes.len && cp < STATS_STRING_PREFIX; at++)
				if ((st.min.bytes.p[at] & 0xC0) != 0x80)
					cp++;
			while (at < st.min.bytes.len && (st.min.bytes.p[at] & 0xC0) == 0x80)
				at++;
			buf_puts(&mins, mins.len ? "," : "");
			buf_json_str(&mins, name, strlen(name));
			buf_putc(&mins, ':');
			buf_json_str(&mins, (const char *)st.min.bytes.p, at);
			size_t mcp = 0;
			for (size_t k = 0; k < st.max.bytes.len; k++)
				if ((st.max.bytes.p[k] & 0xC0) != 0x80)
					mcp++;
			if (mcp <= STATS_STRING_PREFIX) {
				buf_puts(&maxs, maxs.len ? "," : "");
				buf_json_str(&maxs, name, strlen(name));
				buf_putc(&maxs, ':');
				buf_json_str(&maxs, (const char *)st.max.bytes.p, st.max.bytes.len);
			}
			continue;
		}
		buf_reset(&tmp);
		if (stats_value(c->f, &st.min, &tmp) == 0) {
			buf_puts(&mins, mins.len ? "," : "");
			buf_json_str(&mins, name, strlen(name));
			buf_putc(&mins, ':');
			buf_append(&mins, tmp.data, tmp.len);
		}
		buf_reset(&tmp);
		if (stats_value(c->f, &st.max, &tmp) == 0) {
			buf_puts(&maxs, maxs.len ? "," : "");
			buf_json_str(&maxs, name, strlen(name));
			buf_putc(&maxs, ':');
			buf_append(&maxs, tmp.data, tmp.len);
		}
	}
	buf_printf(&out,
	           "{\"numRecords\":%lld,\"minValues\":{%s},\"maxValues\":{%s},\"nullCount\":{%s}}",
	           (long long)p->rows, mins.data ? mins.data : "", maxs.data ? maxs.data : "",
	           nulls.data ? nulls.data : "");
	buf_free(&mins);
	buf_free(&maxs);
	buf_free(&nulls);
	buf_free(&tmp);
	return buf_detach(&out);
}

/* Finish an open file: footer, stats, onto the batch's done list. */
static int finish_file(struct app *a, struct part_file *p, struct err_msg *e)
{
	if (a->last == p)
		a->last = NULL;
	strmap_del(&a->open, p->key);
	a->nopen--;
	/* The worker writes the last rows, the footer and the stats; drain() collects it. */
	struct rowbuf *rb = p->fill;
	p->fill = NULL;
	return submit(a, p, rb, 1, e);
}

static int finish_lru(struct app *a, struct err_msg *e)
{
	struct part_file *old = NULL;
	size_t i = 0;
	struct strmap_slot *s;
	while ((s = strmap_next(&a->open, &i))) {
		struct part_file *p = s->value;
		if (!old || p->last_use < old->last_use)
			old = p;
	}
	return old ? finish_file(a, old, e) : 0;
}

static struct part_file *remember_partition(struct app *a, struct part_file *p,
                                            const struct delta_cell *cells)
{
	a->last = p;
	a->last_cacheable = 1;
	for (size_t k = 0; k < a->ncols; k++) {
		if (a->cols[k].partition < 0)
			continue;
		a->last_cells[k] = cells[k];
		if (a->cols[k].f->type == DT_STRING || a->cols[k].f->type == DT_BINARY)
			a->last_cacheable = 0;
	}
	return p;
}

/* Do two rows go to the same partition?  (Cells of the partition columns compared.) */
static int same_partition(const struct app *a, const struct delta_cell *x,
                          const struct delta_cell *y)
{
	for (size_t k = 0; k < a->ncols; k++) {
		const struct column *c = &a->cols[k];
		if (c->partition < 0)
			continue;
		if (x[k].null != y[k].null)
			return 0;
		if (!x[k].null && delta_cell_cmp(c->f, &x[k], &y[k]) != 0)
			return 0;
	}
	return 1;
}

/* The open file for a partition (creating it), given the partition cells. */
static struct part_file *file_for(struct app *a, const struct delta_cell *cells, struct buf *key,
                                  struct err_msg *e)
{
	/*
	 * Rows mostly arrive grouped by partition: when this row's partition is
	 * the previous row's, skip building and hashing its key.  Only
	 * non-string partition values are cached, since strings point into
	 * buffers that the next record reuses.
	 */
	if (a->last && a->last_cacheable && same_partition(a, cells, a->last_cells))
		return a->last;
	buf_reset(key);
	for (size_t k = 0; k < a->ncols; k++) {
		const struct column *c = &a->cols[k];
		if (c->partition < 0)
			continue;
		const struct delta_cell *cell = &cells[k];
		if (cell->null || (c->f->type == DT_STRING && cell->n == 0))
			buf_append(key, "\x01", 1);
		else
			delta_partition_text(c->f, cell, key);
		buf_append(key, "\x02", 1);
	}
	buf_reserve(key, 0);
	struct part_file *p = strmap_get(&a->open, key->data ? key->data : "");
	if (p)
		return remember_partition(a, p, cells);
	if (a->nopen >= a->max_open && finish_lru(a, e) < 0)
		return NULL;
	p = calloc(1, sizeof *p);
	if (!p) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return NULL;
	}
	p->key = strdup(key->data ? key->data : "");
	p->pvals = calloc(a->npart + 1, sizeof *p->pvals);
	p->npvals = a->npart;
	struct buf dir = BUF_INIT, val = BUF_INIT;
	for (size_t k = 0; k < a->ncols; k++) {
		const struct column *c = &a->cols[k];
		if (c->partition < 0)
			continue;
		const struct delta_cell *cell = &cells[k];
		buf_reset(&val);
		int isnull = cell->null || (c->f->type == DT_STRING && cell->n == 0);
		if (!isnull) {
			delta_partition_text(c->f, cell, &val);
			p->pvals[c->partition] = strdup(val.data ? val.data : "");
		}
		delta_hive_escape(c->f->name, &dir);
		buf_putc(&dir, '=');
		delta_hive_escape(isnull ? NULL : val.data, &dir);
		buf_putc(&dir, '/');
	}
	char uuid[37];
	delta_uuid(uuid);
	buf_printf(&dir, "part-00000-%s-c000.zstd.parquet", uuid);
	p->rel = buf_detach(&dir);
	struct buf abs = BUF_INIT;
	buf_printf(&abs, "%s/%s", a->root, p->rel);
	p->abs = buf_detach(&abs);
	buf_free(&val);
	p->nleaves = a->nleaves;
	p->forced = calloc(a->nleaves ? a->nleaves : 1, sizeof *p->forced);
	if (!p->forced || !(p->fill = rowbuf_get(a))) {
		err_set(e, EX_SOFTWARE, "out of memory");
		part_file_free(p);
		return NULL;
	}
	/*
	 * Files go to the writer threads in turn; each file stays with one,
	 * which also creates it (directories and all: creating files is much
	 * of the kernel's share of the work).
	 */
	p->worker = a->next_worker++ % a->nworkers;
	pthread_mutex_lock(&a->mu);
	p->learning = !a->have_learned || ++a->files_since_learning >= LEARN_EVERY;
	if (p->learning)
		a->files_since_learning = 0;
	else
		memcpy(p->forced, a->learned, a->nleaves * sizeof *p->forced);
	pthread_mutex_unlock(&a->mu);
	if (strmap_put(&a->open, p->key, p, NULL) < 0) {
		err_set(e, EX_SOFTWARE, "out of memory");
		part_file_free(p);
		return NULL;
	}
	a->nopen++;
	return remember_partition(a, p, cells);
}

static size_t kind_size(int kind)
{
	switch (kind) {
	case K_I64:
		return sizeof(int64_t);
	case K_I32:
		return sizeof(int32_t);
	case K_F32:
		return sizeof(float);
	case K_F64:
		return sizeof(double);
	case K_BOOL:
		return 1;
	case K_BYTES:
		return sizeof(uint32_t);
	default:
		return sizeof(pq_int128);
	}
}

static int rowbuf_init(struct rowbuf *rb, const struct app *a)
{
	memset(rb, 0, sizeof *rb);
	rb->cols = calloc(a->nleaves ? a->nleaves : 1, sizeof *rb->cols);
	rb->bytes = calloc(ROW_CHUNK, sizeof *rb->bytes);
	if (!rb->cols || !rb->bytes)
		return -1;
	for (size_t l = 0; l < a->nleaves; l++) {
		struct colbuf *cb = &rb->cols[l];
		int kind = a->leaf_col[l]->kind;
		cb->valid = malloc(ROW_CHUNK);
		if (kind == K_BYTES) {
			cb->off = malloc(ROW_CHUNK * sizeof *cb->off);
			cb->len = malloc(ROW_CHUNK * sizeof *cb->len);
			if (!cb->off || !cb->len)
				return -1;
		} else if (!(cb->vals = malloc(ROW_CHUNK * kind_size(kind)))) {
			return -1;
		}
		if (!cb->valid)
			return -1;
	}
	return 0;
}

/* A chunk buffer from the pool, or a new one (NULL when memory runs out). */
static struct rowbuf *rowbuf_get(struct app *a)
{
	pthread_mutex_lock(&a->mu);
	struct rowbuf *rb = a->pool;
	if (rb)
		a->pool = rb->next;
	pthread_mutex_unlock(&a->mu);
	if (rb)
		return rb;
	rb = malloc(sizeof *rb);
	if (rb && rowbuf_init(rb, a) < 0) {
		rowbuf_free(rb, a->nleaves);
		free(rb);
		rb = NULL;
	}
	return rb;
}

static void rowbuf_put(struct app *a, struct rowbuf *rb)
{
	rb->n = 0;
	buf_reset(&rb->arena);
	for (size_t l = 0; l < a->nleaves; l++)
		rb->cols[l].has_null = 0;
	pthread_mutex_lock(&a->mu);
	rb->next = a->pool;
	a->pool = rb;
	pthread_mutex_unlock(&a->mu);
}

/* Add one value to the chunk of column c. */
static int buffer_cell(struct rowbuf *rb, const struct column *c, const struct delta_cell *cell)
{
	struct colbuf *cb = &rb->cols[c->leaf];
	size_t n = rb->n;
	if (cell->null) {
		cb->valid[n] = 0;
		cb->has_null = 1;
		if (c->kind == K_BYTES)
			cb->off[n] = cb->len[n] = 0;
		else
			memset((char *)cb->vals + n * kind_size(c->kind), 0, kind_size(c->kind));
		return 0;
	}
	cb->valid[n] = 1;
	switch (c->kind) {
	case K_I64:
		((int64_t *)cb->vals)[n] = c->f->type == DT_DECIMAL ? (int64_t)cell->dec : cell->i;
		break;
	case K_I32:
		((int32_t *)cb->vals)[n] = (int32_t)cell->i;
		break;
	case K_F32:
		((float *)cb->vals)[n] = (float)cell->d;
		break;
	case K_F64:
		((double *)cb->vals)[n] = cell->d;
		break;
	case K_BOOL:
		((uint8_t *)cb->vals)[n] = (uint8_t)(cell->i != 0);
		break;
	case K_BYTES:
		if (cell->n > UINT32_MAX || rb->arena.len + cell->n > UINT32_MAX)
			return -1;
		cb->off[n] = (uint32_t)rb->arena.len;
		cb->len[n] = (uint32_t)cell->n;
		return buf_append(&rb->arena, cell->s, cell->n);
	default:
		((pq_int128 *)cb->vals)[n] = cell->dec;
	}
	return 0;
}

/* Hand a chunk of rows to a file's writer (in the file's worker thread). */
static int flush_rows(const struct app *a, struct part_file *p, struct rowbuf *rb)
{
	size_t n = rb->n;
	if (n == 0)
		return 0;
	for (size_t l = 0; l < a->nleaves; l++) {
		struct colbuf *cb = &rb->cols[l];
		const uint8_t *valid = cb->has_null ? cb->valid : NULL;
		int leaf = (int)l, rc;
		switch (a->leaf_col[l]->kind) {
		case K_I64:
			rc = pq_writer_write_i64(p->w, leaf, cb->vals, valid, n);
			break;
		case K_I32:
			rc = pq_writer_write_i32(p->w, leaf, cb->vals, valid, n);
			break;
		case K_F32:
			rc = pq_writer_write_f32(p->w, leaf, cb->vals, valid, n);
			break;
		case K_F64:
			rc = pq_writer_write_f64(p->w, leaf, cb->vals, valid, n);
			break;
		case K_BOOL:
			rc = pq_writer_write_bool(p->w, leaf, cb->vals, valid, n);
			break;
		case K_BYTES:
			for (size_t i = 0; i < n; i++) {
				rb->bytes[i].p = (const uint8_t *)rb->arena.data + cb->off[i];
				rb->bytes[i].len = cb->len[i];
			}
			rc = pq_writer_write_bytes(p->w, leaf, rb->bytes, valid, n);
			break;
		default:
			rc = pq_writer_write_dec(p->w, leaf, cb->vals, valid, n);
		}
		if (rc < 0)
			return -1;
		cb->has_null = 0;
	}
	rb->n = 0;
	buf_reset(&rb->arena);
	return pq_writer_end_row(p->w);
}

/* Write one record into its partition's file. -1: a fatal error (I/O), e set. */
static int write_row(struct app *a, const struct delta_cell *cells, struct buf *key,
                     struct err_msg *e)
{
	struct part_file *p = file_for(a, cells, key, e);
	if (!p)
		return -1;
	p->last_use = ++a->clock;
	for (size_t l = 0; l < a->nleaves; l++) {
		const struct column *c = a->leaf_col[l];
		if (buffer_cell(p->fill, c, &cells[c - a->cols]) < 0) {
			err_set(e, EX_DATAERR, "column \"%s\": value too long", c->f->name);
			return -1;
		}
	}
	p->rows++;
	a->records++;
	if (++p->fill->n < ROW_CHUNK)
		return 0;
	struct rowbuf *full = p->fill;
	if (!(p->fill = rowbuf_get(a))) {
		p->fill = full;
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	if (submit(a, p, full, 0, e) < 0)
		return -1;
	if (atomic_load(&p->written) >= a->target_size)
		return finish_file(a, p, e);
	return 0;
}

/* Drop the batch: close and remove every file it wrote. */
/* Writer threads ----------------------------------------------------------- */

static void worker_fail_msg(struct app *a, struct part_file *p, const struct err_msg *we)
{
	pthread_mutex_lock(&a->mu);
	if (!a->werr) {
		a->werr = 1;
		a->werr_msg = *we;
		if (!a->werr_msg.status)
			a->werr_msg.status = EX_IOERR;
	}
	pthread_mutex_unlock(&a->mu);
	p->failed = 1;
}

/* Create a file's directories and its writer (in the worker that owns it). */
static void open_file(struct worker *wk, struct part_file *p)
{
	struct app *a = wk->a;
	struct err_msg e;
	char *slash = strrchr(p->abs, '/');
	*slash = '\0';
	int mk = delta_mkdirs(p->abs);
	*slash = '/';
	if (mk < 0) {
		err_set(&e, EX_IOERR, "%s: %s", p->abs, strerror(errno));
		worker_fail_msg(a, p, &e);
		return;
	}
	err_clear(&e);
	p->w = pq_writer_open(p->abs, a->schema, &wk->wopts, &e);
	if (!p->w) {
		if (!e.text[0])
			err_set(&e, EX_IOERR, "%s: cannot create", p->abs);
		worker_fail_msg(a, p, &e);
		return;
	}
	for (size_t l = 0; !p->learning && l < a->nleaves; l++)
		pq_writer_set_encoding(p->w, (int)l, p->forced[l]);
}

static void worker_fail(struct app *a, struct part_file *p, const char *fallback)
{
	const struct err_msg *we = pq_writer_error(p->w);
	pthread_mutex_lock(&a->mu);
	if (!a->werr) {
		a->werr = 1;
		err_set(&a->werr_msg, we && we->status ? we->status : EX_IOERR, "%s",
		        we && we->text[0] ? we->text : fallback);
	}
	pthread_mutex_unlock(&a->mu);
	p->failed = 1;
}

/* Run one job: write a chunk, and/or finish the file. */
static void run_job(struct worker *wk, struct job *j)
{
	struct app *a = wk->a;
	struct part_file *p = j->p;
	if (!p->w && !p->failed)
		open_file(wk, p);
	if (j->rb) {
		if (!p->failed && flush_rows(a, p, j->rb) < 0)
			worker_fail(a, p, "cannot write a data file");
		if (p->w)
			atomic_store(&p->written, (int64_t)pq_writer_bytes(p->w));
		rowbuf_put(a, j->rb);
	}
	if (!j->finish)
		return;
	if (!p->failed && pq_writer_close(p->w) < 0)
		worker_fail(a, p, "cannot finish a data file");
	if (!p->failed) {
		p->size = (int64_t)pq_writer_bytes(p->w);
		p->stats = file_stats(a, p);
		p->mtime = ts_now() / 1000;
	}
	if (!p->failed && p->learning && p->rows > 0) {
		pthread_mutex_lock(&a->mu);
		for (size_t l = 0; l < a->nleaves; l++)
			a->learned[l] = pq_writer_chunk_encoding(p->w, (int)l);
		a->have_learned = 1;
		pthread_mutex_unlock(&a->mu);
	}
	pq_writer_free(p->w);
	p->w = NULL;
	if (p->failed)
		unlink(p->abs);
	/* Failed files go on the list too, so that discarding the batch frees them. */
	p->next = wk->done;
	wk->done = p;
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct app *a = wk->a;
	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (!wk->head && !a->stopping)
			pthread_cond_wait(&wk->cv, &a->mu);
		if (!wk->head)
			break;
		struct job *j = wk->head;
		wk->head = j->next;
		if (!wk->head)
			wk->tail = NULL;
		pthread_mutex_unlock(&a->mu);
		run_job(wk, j);
		free(j);
		pthread_mutex_lock(&a->mu);
		a->pending--;
		pthread_cond_broadcast(&a->cv_done);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* Queue a job for the file's worker, waiting while too many are queued. */
static int submit(struct app *a, struct part_file *p, struct rowbuf *rb, int finish,
                  struct err_msg *e)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	j->p = p;
	j->rb = rb;
	j->finish = finish;
	struct worker *wk = &a->workers[p->worker];
	pthread_mutex_lock(&a->mu);
	while (a->pending >= a->max_pending && !a->werr)
		pthread_cond_wait(&a->cv_done, &a->mu);
	if (wk->tail)
		wk->tail->next = j;
	else
		wk->head = j;
	wk->tail = j;
	a->pending++;
	pthread_cond_signal(&wk->cv);
	int failed = a->werr;
	if (failed)
		*e = a->werr_msg;
	pthread_mutex_unlock(&a->mu);
	return failed ? -1 : 0;
}

/*
 * Wait until every queued job is done and collect the finished files into
 * the batch.  -1 (e set) when a worker failed.
 */
static int drain(struct app *a, struct err_msg *e)
{
	pthread_mutex_lock(&a->mu);
	while (a->pending > 0)
		pthread_cond_wait(&a->cv_done, &a->mu);
	for (int w = 0; w < a->nworkers; w++) {
		struct worker *wk = &a->workers[w];
		while (wk->done) {
			struct part_file *p = wk->done;
			wk->done = p->next;
			p->next = a->done;
			a->done = p;
		}
	}
	int failed = a->werr;
	if (failed) {
		*e = a->werr_msg;
		a->werr = 0;
	}
	pthread_mutex_unlock(&a->mu);
	return failed ? -1 : 0;
}

static int start_workers(struct app *a, int n, struct err_msg *e)
{
	a->workers = calloc((size_t)n, sizeof *a->workers);
	if (!a->workers) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv_done, NULL);
	a->max_pending = (size_t)n * 8;
	for (int w = 0; w < n; w++) {
		struct worker *wk = &a->workers[w];
		wk->a = a;
		wk->codec = pq_codec_new();
		wk->wopts = a->wopts;
		wk->wopts.codec = wk->codec;
		pthread_cond_init(&wk->cv, NULL);
		if (!wk->codec || pthread_create(&wk->th, NULL, worker_main, wk) != 0) {
			err_set(e, EX_SOFTWARE, "cannot start a writer thread");
			return -1;
		}
		a->nworkers++;
	}
	return 0;
}

static void stop_workers(struct app *a)
{
	if (!a->workers)
		return;
	pthread_mutex_lock(&a->mu);
	a->stopping = 1;
	for (int w = 0; w < a->nworkers; w++)
		pthread_cond_signal(&a->workers[w].cv);
	pthread_mutex_unlock(&a->mu);
	for (int w = 0; w < a->nworkers; w++) {
		pthread_join(a->workers[w].th, NULL);
		pq_codec_free(a->workers[w].codec);
		pthread_cond_destroy(&a->workers[w].cv);
	}
	while (a->pool) {
		struct rowbuf *rb = a->pool;
		a->pool = rb->next;
		rowbuf_free(rb, a->nleaves);
		free(rb);
	}
	free(a->workers);
	a->workers = NULL;
	pthread_cond_destroy(&a->cv_done);
	pthread_mutex_destroy(&a->mu);
}

static int drain(struct app *a, struct err_msg *e);

static void discard_batch(struct app *a)
{
	size_t i = 0;
	struct strmap_slot *s;
	struct part_file *open_list = NULL;
	struct err_msg ignored;
	drain(a, &ignored);
	while ((s = strmap_next(&a->open, &i))) {
		struct part_file *p = s->value;
		p->next = open_list;
		open_list = p;
	}
	for (struct part_file *p = open_list, *n; p; p = n) {
		n = p->next;
		unlink(p->abs);
		part_file_free(p);
	}
	strmap_free(&a->open);
	a->nopen = 0;
	a->last = NULL;
	for (struct part_file *p = a->done, *n; p; p = n) {
		n = p->next;
		unlink(p->abs);
		part_file_free(p);
	}
	a->done = NULL;
	a->records = 0;
	a->bad = 0;
}

static int finish_all(struct app *a, struct err_msg *e)
{
	while (a->nopen) {
		size_t i = 0;
		struct strmap_slot *sl = strmap_next(&a->open, &i);
		if (finish_file(a, sl->value, e) < 0)
			return -1;
	}
	return drain(a, e);
}

static void json_strv(struct buf *b, char **v, size_t n)
{
	buf_putc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(b, ',');
		buf_json_str(b, v[i], strlen(v[i]));
	}
	buf_putc(b, ']');
}

/* The commit text for the finished files of the batch. */
static void build_commit(struct app *a, const char *app, int64_t id, int64_t read_version,
                         struct buf *out)
{
	int64_t nfiles = 0, bytes = 0, rows = 0;
	for (struct part_file *p = a->done; p; p = p->next) {
		nfiles++;
		bytes += p->size;
		rows += p->rows;
	}
	char txn[37];
	delta_uuid(txn);
	int64_t now = ts_now() / 1000;
	struct buf tmp = BUF_INIT;
	buf_reset(out);
	buf_printf(out,
	           "{\"commitInfo\":{\"timestamp\":%lld,\"operation\":\"WRITE\","
	           "\"operationParameters\":{\"mode\":\"Append\",\"partitionBy\":",
	           (long long)now);
	json_strv(&tmp, a->snap.meta.partition_columns, a->snap.meta.n_partition_columns);
	buf_json_str(out, tmp.data, tmp.len);
	buf_printf(out,
	           "},\"readVersion\":%lld,\"isolationLevel\":\"WriteSerializable\","
	           "\"isBlindAppend\":true,\"operationMetrics\":{\"numFiles\":\"%lld\","
	           "\"numOutputRows\":\"%lld\",\"numOutputBytes\":\"%lld\"},"
	           "\"engineInfo\":\"%s\",\"txnId\":\"%s\"}}\n",
	           (long long)read_version, (long long)nfiles, (long long)rows, (long long)bytes,
	           DELTA_ENGINE, txn);
	if (app) {
		buf_puts(out, "{\"txn\":{\"appId\":");
		buf_json_str(out, app, strlen(app));
		buf_printf(out, ",\"version\":%lld,\"lastUpdated\":%lld}}\n", (long long)id,
		           (long long)now);
	}
	for (struct part_file *p = a->done; p; p = p->next) {
		buf_reset(&tmp);
		delta_uri_encode(p->rel, &tmp);
		buf_puts(out, "{\"add\":{\"path\":");
		buf_json_str(out, tmp.data, tmp.len);
		buf_puts(out, ",\"partitionValues\":{");
		for (size_t k = 0; k < a->npart; k++) {
			if (k)
				buf_putc(out, ',');
			const char *name = a->snap.meta.partition_columns[k];
			buf_json_str(out, name, strlen(name));
			buf_putc(out, ':');
			if (p->pvals[k])
				buf_json_str(out, p->pvals[k], strlen(p->pvals[k]));
			else
				buf_puts(out, "null");
		}
		buf_printf(out,
		           "},\"size\":%lld,\"modificationTime\":%lld,\"dataChange\":true,"
		           "\"stats\":",
		           (long long)p->size, (long long)p->mtime);
		buf_json_str(out, p->stats, strlen(p->stats));
		buf_puts(out, "}}\n");
	}
	buf_free(&tmp);
}

/*
 * A winning commit at version v: apply it to our snapshot and decide.
 * Returns 0 to retry at the next version, 1 when this batch is a duplicate,
 * -1 for a real conflict (e set).
 */
static int check_winner(struct app *a, int64_t v, const char *app, int64_t id, struct err_msg *e)
{
	struct buf text = BUF_INIT;
	int rc = delta_commit_read(a->root, v, &text, e);
	if (rc != 0) {
		if (rc == 1)
			err_set(e, EX_TEMPFAIL, "%s: version %lld vanished after a conflict",
			        a->root, (long long)v);
		buf_free(&text);
		return -1;
	}
	/*
	 * Protocol and metadata changes are conflicts for a writer that read the
	 * old ones (a cheap look for the action names; a false alarm only costs
	 * a retry later).
	 */
	int had_meta = strstr(text.data, "{\"metaData\"") != NULL;
	int had_protocol = strstr(text.data, "{\"protocol\"") != NULL;
	int rc2 = delta_snapshot_apply(&a->snap, v, text.data, text.len, e);
	buf_free(&text);
	if (rc2 < 0)
		return -1;
	a->snap.version = v;
	if (had_protocol || had_meta) {
		err_set(e, EX_TEMPFAIL,
		        "%s: version %lld changed the table's %s while this batch was written; "
		        "not committed, safe to run again",
		        a->root, (long long)v, had_protocol ? "protocol" : "metadata");
		return -1;
	}
	if (app) {
		const struct delta_txn *t = strmap_get(&a->snap.txns, app);
		if (t && t->version >= id)
			return 1;
	}
	return 0;
}

/* Commit the finished files of the batch; app/id may be NULL/-1. */
static int commit_batch(struct app *a, const char *app, int64_t id, struct err_msg *e)
{
	struct buf text = BUF_INIT;
	if (app) {
		const struct delta_txn *t = strmap_get(&a->snap.txns, app);
		if (t && t->version >= id) {
			err_info("batch %s/%lld: already in the table (txn version %lld); skipped",
			         app, (long long)id, (long long)t->version);
			discard_batch(a);
			a->skipped++;
			return 0;
		}
	}
	/*
	 * Every data file and directory of the batch must be on disk before a
	 * commit names them: one syncfs() of the table's filesystem does it for
	 * all of them at once, instead of an fsync per file and directory.
	 */
	int rootfd = open(a->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0 || syncfs(rootfd) < 0) {
		err_set(e, EX_IOERR, "%s: cannot flush the batch's files: %s", a->root,
		        strerror(errno));
		if (rootfd >= 0)
			close(rootfd);
		discard_batch(a);
		return -1;
	}
	close(rootfd);
	int64_t rows = a->records;
	int64_t read_version = a->snap.version;
	int64_t v = read_version + 1;
	int rc = -1;
	build_commit(a, app, id, read_version, &text);
	for (int64_t attempt = 0;; attempt++) {
		int put = delta_commit_put(a->root, v, text.data, text.len, e);
		if (put == 0) {
			rc = 0;
			break;
		}
		if (put < 0)
			goto out;
		if (attempt >= a->retries) {
			err_set(
			    e, EX_TEMPFAIL,
			    "%s: could not commit after %lld attempts (other writers kept winning)",
			    a->root, (long long)attempt + 1);
			goto out;
		}
		int w = check_winner(a, v, app, id, e);
		if (w < 0)
			goto out;
		if (w == 1) {
			err_info("batch %s/%lld: loaded by another writer at version %lld; skipped",
			         app, (long long)id, (long long)v);
			discard_batch(a);
			a->skipped++;
			buf_free(&text);
			return 0;
		}
		err_debug("version %lld taken by another writer; retrying at %lld", (long long)v,
		          (long long)v + 1);
		v++;
	}
	/* Keep the in-memory snapshot current for the next batch. */
	if (delta_snapshot_apply(&a->snap, v, text.data, text.len, e) < 0)
		goto out;
	a->snap.version = v;
	for (struct part_file *p = a->done, *n; p; p = n) {
		n = p->next;
		part_file_free(p);
	}
	a->done = NULL;
	a->records = 0;
	a->committed++;
	err_info("committed version %lld: %lld records%s%s", (long long)v, (long long)rows,
	         app ? " for " : "", app ? app : "");
	if (v % delta_checkpoint_interval(&a->snap) == 0) {
		struct delta_snapshot full;
		struct delta_load_opts o = {v, -1, 0};
		struct err_msg ce;
		if (delta_snapshot_load(a->root, &o, &full, &ce) < 0 ||
		    delta_checkpoint_write(&full, &ce) < 0)
			err_warn("checkpoint at version %lld: %s", (long long)v, ce.text);
		else
			err_info("wrote the checkpoint of version %lld", (long long)v);
		if (full.root)
			delta_snapshot_free(&full);
	}
out:
	if (rc < 0) {
		discard_batch(a);
	}
	buf_free(&text);
	return rc;
}

/* A batch marker arrived: commit or drop the batch. -1 only for fatal errors. */
static int end_batch(struct app *a, const struct rec_batch *b, const char *input, struct err_msg *e)
{
	const char *app = a->app_id ? a->app_id : b->app;
	if (a->bad) {
		err_error("%s: batch %s/%lld has rejected records; not committed", input, b->app,
		          (long long)b->id);
		discard_batch(a);
		a->discarded++;
		set_status(a, EX_DATAERR);
		return 0;
	}
	if (b->status != BATCH_OK) {
		err_warn("%s: batch %s/%lld is marked failed upstream; not committed", input,
		         b->app, (long long)b->id);
		discard_batch(a);
		a->failed_batches++;
		set_status(a, EX_CHECKFAIL);
		return 0;
	}
	if (b->records != a->records) {
		err_error("%s: batch %s/%lld says %lld records but %lld arrived; not committed",
		          input, b->app, (long long)b->id, (long long)b->records,
		          (long long)a->records);
		discard_batch(a);
		a->discarded++;
		set_status(a, EX_DATAERR);
		return 0;
	}
	if (finish_all(a, e) < 0 || commit_batch(a, app, b->id, e) < 0) {
		discard_batch(a);
		return -1;
	}
	return 0;
}

/* Read one input to its end. Returns 0, or -1 for a fatal error (e set). */
static int load_input(struct app *a, int fd, const char *name, size_t max_line, struct err_msg *e)
{
	struct rec_reader *r = rec_reader_new(fd, name, max_line);
	if (!r) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	rec_reader_set_interrupt(r, &stop_signal);
	rec_reader_set_lazy(r, a->tick_table);
	struct delta_cell *cells = calloc(a->ncols, sizeof *cells);
	struct buf key = BUF_INIT;
	struct rec rec;
	int markers = 0, rc = 0, k;
	struct err_msg re;
	while (!stop_signal && (k = rec_read(r, &rec, &re)) != REC_END) {
		if (k < 0) {
			if (stop_signal)
				break;
			*e = re;
			rc = -1;
			break;
		}
		if (k == REC_BAD) {
			err_error("%s", re.text);
			a->bad = 1;
			continue;
		}
		if (k == REC_CONTROL)
			continue;
		if (k == REC_BATCH) {
			markers = 1;
			if (end_batch(a, &rec.batch, name, e) < 0) {
				rc = -1;
				break;
			}
			continue;
		}
		if (a->bad) {
			a->records++;
			continue;
		}
		struct err_msg ce;
		if (record_cells(a, r, &rec, cells, &ce) < 0) {
			err_error("%s: record %llu: %s", name, (unsigned long long)rec.number,
			          ce.text);
			a->bad = 1;
			a->records++;
			continue;
		}
		if (write_row(a, cells, &key, e) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && stop_signal) {
		if (a->records || a->nopen || a->done) {
			err_warn(
			    "%s: stopped by signal %d; the batch in progress (%lld records) is not "
			    "committed",
			    name, (int)stop_signal, (long long)a->records);
			set_status(a, EX_TEMPFAIL);
		}
		discard_batch(a);
	} else if (rc == 0 && (a->records || a->bad)) {
		if (markers) {
			err_error(
			    "%s: input ended inside a batch (%lld records without their marker); "
			    "not committed",
			    name, (long long)a->records);
			discard_batch(a);
			a->discarded++;
			set_status(a, EX_DATAERR);
		} else if (a->bad) {
			err_error("%s: the input has rejected records; nothing committed", name);
			discard_batch(a);
			a->discarded++;
			set_status(a, EX_DATAERR);
		} else if (finish_all(a, e) < 0 || commit_batch(a, NULL, -1, e) < 0) {
			rc = -1;
		}
	}
	if (rc < 0)
		discard_batch(a);
	free(cells);
	buf_free(&key);
	rec_reader_free(r);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"app-id", required_argument, NULL, 'a'},
	    {"commit-retries", required_argument, NULL, 'r'},
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {"max-open-files", required_argument, NULL, 'o'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"target-file-size", required_argument, NULL, 't'},
	    {"threads", required_argument, NULL, 'j'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL, *o_retries = NULL, *o_open = NULL, *o_target = NULL,
	           *o_threads = NULL;
	struct app a = {0};
	int level = ERR_NORMAL, ch;
	struct err_msg e;
	err_init(argv[0]);
	while ((ch = cli_getopt(usage, argc, argv, "hqv", longopts)) != -1) {
		switch (ch) {
		case 'a':
			a.app_id = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'h':
			return cli_help(usage, options);
		case 'j':
			o_threads = optarg;
			break;
		case 'o':
			o_open = optarg;
			break;
		case 'q':
			level = ERR_QUIET;
			break;
		case 'r':
			o_retries = optarg;
			break;
		case 't':
			o_target = optarg;
			break;
		case 'v':
			level++;
			break;
		case 'V':
			return cli_version();
		default:
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	err_set_level(level);
	if (argc < 1)
		return cli_usage_error(usage, "no table given");
	if (a.app_id && (!*a.app_id || strlen(a.app_id) > REC_APP_MAX))
		return cli_bad_value(usage, "--app-id", a.app_id, "1 to %d bytes", REC_APP_MAX);

	struct config *cfg = config_open(config, &e);
	if (!cfg)
		err_die(e.status, "%s", e.text);
	int64_t retries, max_open, target, max_line;
	const char *from;
	const char *v = config_value(cfg, o_retries, NULL, "delta", "commit_retries", "15", &from);
	if (config_parse_int(v, o_retries ? "--commit-retries" : "[delta] commit_retries", 0, 10000,
	                     &retries, &e) < 0)
		exit(setting_error(o_retries, &e));
	v = config_value(cfg, o_open, NULL, "delta", "max_open_files", "16", &from);
	if (config_parse_int(v, o_open ? "--max-open-files" : "[delta] max_open_files", 1, 4096,
	                     &max_open, &e) < 0)
		exit(setting_error(o_open, &e));
	v = config_value(cfg, o_target, NULL, "delta", "target_file_size", "134217728", &from);
	if (config_parse_int(v, o_target ? "--target-file-size" : "[delta] target_file_size", 4096,
	                     INT64_MAX, &target, &e) < 0)
		exit(setting_error(o_target, &e));
	char ncpu[16];
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(ncpu, sizeof ncpu, "%ld", online < 1 ? 1 : online > 4 ? 4 : online);
	int64_t threads;
	v = config_value(cfg, o_threads, NULL, "delta", "threads", ncpu, &from);
	if (config_parse_int(v, o_threads ? "--threads" : "[delta] threads", 1, 64, &threads, &e) <
	    0)
		exit(setting_error(o_threads, &e));
	v = config_value(cfg, NULL, NULL, "streams", "max_line", "16777216", &from);
	if (config_parse_int(v, "[streams] max_line", 1024, 1LL << 32, &max_line, &e) < 0)
		err_die(EX_CONFIG, "%s", e.text);
	a.retries = retries;
	a.max_open = (size_t)max_open;
	a.target_size = target;

	struct buf root = BUF_INIT;
	int rc = EX_OK;
	if (delta_resolve_table(cfg, argv[0], &root, &e) < 0) {
		rc = cli_report(usage, &e);
		goto out_cfg;
	}
	a.root = root.data;
	struct delta_load_opts lo = {-1, -1, 1};
	if (delta_snapshot_load(a.root, &lo, &a.snap, &e) < 0) {
		err_error("%s%s", e.text,
		          strstr(e.text, "not a Delta table") ? " (create it with delta-create)"
		                                              : "");
		rc = e.status;
		goto out_cfg;
	}
	if (delta_check_write(&a.snap, &e) < 0 || setup_columns(&a, &e) < 0) {
		err_error("%s", e.text);
		rc = e.status;
		goto out;
	}
	const char *sc = delta_property(&a.snap, "delta.dataSkippingNumIndexedCols", "32");
	a.stats_cols = strtoll(sc, NULL, 10);
	pq_write_options_init(&a.wopts);
	/* Files are made durable together, once per batch, just before the commit. */
	a.wopts.sync = 0;
	/* The writer threads below already spread the files over the processors. */
	a.wopts.threads = 1;
	struct pq_kv kv = {"writer", DELTA_ENGINE};
	a.wopts.kv = &kv;
	a.wopts.nkv = 1;
	if (start_workers(&a, (int)threads, &e) < 0) {
		err_error("%s", e.text);
		rc = e.status;
		goto out;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if (argc == 1) {
		if (load_input(&a, STDIN_FILENO, "stdin", (size_t)max_line, &e) < 0)
			goto fatal;
	}
	for (int i = 1; i < argc && !stop_signal; i++) {
		int fd = strcmp(argv[i], "-") == 0 ? STDIN_FILENO : open(argv[i], O_RDONLY);
		if (fd < 0) {
			err_error_errno("%s", argv[i]);
			set_status(&a, EX_IOERR);
			continue;
		}
		int lr = load_input(&a, fd, strcmp(argv[i], "-") == 0 ? "stdin" : argv[i],
		                    (size_t)max_line, &e);
		if (fd != STDIN_FILENO)
			close(fd);
		if (lr < 0)
			goto fatal;
	}
	rc = a.status;
	err_info("%lld batches committed, %lld skipped as already loaded, %lld not committed",
	         (long long)a.committed, (long long)a.skipped,
	         (long long)(a.discarded + a.failed_batches));
	goto out;
fatal:
	err_error("%s", e.text);
	rc = e.status ? e.status : EX_SOFTWARE;
out:
	if (a.workers)
		discard_batch(&a);
	stop_workers(&a);
	for (size_t i = 0; i < a.ncols; i++)
		buf_free(&a.cols[i].scratch);
	free(a.cols);
	free(a.part_fields);
	free(a.last_cells);
	free(a.leaf_col);
	free(a.learned);
	pq_schema_free(a.schema);
	delta_snapshot_free(&a.snap);
out_cfg:
	buf_free(&root);
	config_free(cfg);
	return rc;
}

/*
 * delta_rows_write: the writer of a table's data files (see delta_rows.h
 * for the contract).
 *
 * Rows are written to Parquet files (ZSTD), one or more per partition,
 * straight into their final place under the table: a file is invisible
 * until a commit names it.  The caller's thread converts cells and buffers
 * them a chunk of rows at a time per file, column by column; each file
 * belongs to one writer thread, which creates it (directories and all:
 * creating files is much of the kernel's share of the work), encodes and
 * writes its chunks, and finishes it (footer and add.stats).  A file that
 * grows past the target size is finished and another started; past the
 * open-file limit the least recently used one is finished.
 *
 * Sorted files are held whole: their chunks are kept until the file is
 * finished, then the writer thread orders the rows by the sort columns and
 * writes them in that order.
 */
#define _GNU_SOURCE /* qsort_r, syncfs */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/strmap.h"
#include "delta/delta_nested.h"
#include "delta/delta_rows.h"
#include "delta/delta_store.h"
#include "text/ts.h"

/*
 * Rows on their way into a data file, column by column: the Parquet writer
 * takes them a chunk at a time through its batch calls, which is much
 * cheaper than a call per value.  String bytes are kept in an arena and
 * addressed by offset until the chunk is handed over; a string equal to
 * the previous row's shares its bytes, so that the Parquet writer sees the
 * same place again and stores the value without comparing it.
 */
#define ROW_CHUNK      1024
#define LEARN_EVERY    256
#define SYNC_FILES_MAX 64 /* more files than this are made durable by one syncfs() */
#define SYNC_THREADS   15 /* besides the caller's, for fsyncs that wait together */

enum col_kind { K_I64, K_I32, K_F32, K_F64, K_BOOL, K_BYTES, K_DEC };

struct wcol {
	const struct delta_field *f;
	int partition; /* index among the partition columns, or -1 */
	int leaf;      /* column in the data files, or -1 for partition columns */
	int kind;      /* enum col_kind of the values in memory */
	int nested;    /* a struct, array or map: its cells hold encoded values (K_BYTES) */
};

/*
 * What delta_writer_put() needs of a data file column, packed in leaf
 * order: the row's cell it takes and how it stores it.  Kept apart from
 * struct wcol so that buffering a row reads one small array instead of
 * following each column's field.
 */
struct leaf_put {
	size_t cell;  /* index of the table column, in the caller's cells */
	int kind;     /* enum col_kind */
	int from_dec; /* K_I64 holding a decimal: the cell's dec, not its i */
};

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
	struct rowbuf *next;    /* in the pool of free buffers, or in a file's held chunks */
};

/* A data file being written, or finished and waiting for its commit. */
struct part_file {
	char *key;              /* partition key (the strmap key while open) */
	char *rel;              /* path relative to the table root (not encoded) */
	char *abs;              /* path on disk */
	struct delta_map pvals; /* partition values by column (values NULL for null) */
	struct pq_writer *pw;
	struct rowbuf *fill;     /* the chunk being filled (caller's thread) */
	struct rowbuf *held;     /* sorted files: the chunks filled so far, newest first */
	int64_t held_bytes;      /* ... and their size in memory */
	int worker;              /* the writer thread that writes this file */
	_Atomic int64_t written; /* bytes the writer has produced so far */
	int failed;              /* the worker hit an error on this file */
	int learning;            /* the writer chooses encodings; keep its choice */
	int *forced;             /* otherwise: the encodings to use, one per column */
	int64_t rows;
	int64_t *col_nulls; /* nested tables: the nulls of each column, by table column */
	int64_t size;
	int64_t mtime;
	char *stats; /* add.stats JSON */
	uint64_t last_use;
	struct part_file *next; /* finished list */
};

struct job {
	struct part_file *p;
	struct rowbuf *rb; /* rows to write, or NULL */
	int finish;        /* then finish the file (writing its held chunks first, sorted) */
	struct job *next;
};

struct worker {
	struct delta_writer *w;
	pthread_t th;
	pthread_cond_t cv;
	struct job *head, *tail;
	struct pq_codec *codec;
	struct pq_write_options wopts;
	struct part_file *done; /* files finished by this worker */
};

struct delta_writer {
	char *root;
	struct delta_schema schema;
	char **part_cols;
	char *subdir; /* delta_writer_opts.subdir, or NULL */
	size_t npart;
	struct wcol *cols;
	size_t ncols;
	size_t *part_at;          /* the partition columns' indices, in column order */
	unsigned char *part_by_i; /* ... and whether their cells compare by i alone */
	size_t npart_at;
	const struct wcol **leaf_col; /* data file column -> table column */
	struct leaf_put *put;         /* data file column -> how a row's cell is buffered */
	size_t nleaves;
	/*
	 * A column is a struct, array or map: the data file columns are not
	 * the Parquet leaves, rows are written whole (pq_writer_write_row())
	 * and the writer chooses the encodings of every file.
	 */
	int nested;
	struct pq_schema *pqs;
	struct pq_kv kv;
	struct pq_write_options wopts;
	int64_t target_size;
	size_t max_open;
	int64_t stats_cols;
	size_t *sort_leaf; /* the sort columns that are in the files, as leaves */
	size_t nsort;
	double held_ratio; /* sorted files: bytes held in memory per byte of file */
	/*
	 * Encodings learned from a finished file and forced on the next ones,
	 * relearned every LEARN_EVERY files.
	 */
	int *learned;
	int have_learned;
	unsigned files_since_learning;
	/* the files being written */
	struct strmap open;
	size_t nopen;
	struct part_file *last;        /* the partition of the previous row */
	struct delta_cell *last_cells; /* its partition cells */
	int last_cacheable;
	struct buf key;
	uint64_t clock;
	int64_t rows;
	/* the fsyncs of the finished files, started and not yet waited for */
	struct sync_list *sync;
	int sync_rc;
	struct err_msg sync_err;
	/* writer threads */
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
	/* finished files */
	struct part_file *done;
	struct delta_written *out;
	size_t nout;
};

static struct rowbuf *rowbuf_get(struct delta_writer *w);
static void rowbuf_put(struct delta_writer *w, struct rowbuf *rb);
static int submit(struct delta_writer *w, struct part_file *p, struct rowbuf *rb, int finish,
                  struct err_msg *e);

void delta_writer_opts_init(struct delta_writer_opts *o)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	memset(o, 0, sizeof *o);
	o->target_size = 128LL << 20;
	o->max_open = 16;
	o->threads = online < 1 ? 1 : online > 4 ? 4 : (int)online;
	o->stats_cols = 32;
}

/* Chunks ------------------------------------------------------------------------------- */

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

static int rowbuf_init(struct rowbuf *rb, const struct delta_writer *w)
{
	memset(rb, 0, sizeof *rb);
	rb->cols = calloc(w->nleaves ? w->nleaves : 1, sizeof *rb->cols);
	rb->bytes = calloc(ROW_CHUNK, sizeof *rb->bytes);
	if (!rb->cols || !rb->bytes)
		return -1;
	for (size_t l = 0; l < w->nleaves; l++) {
		struct colbuf *cb = &rb->cols[l];
		int kind = w->leaf_col[l]->kind;
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
static struct rowbuf *rowbuf_get(struct delta_writer *w)
{
	pthread_mutex_lock(&w->mu);
	struct rowbuf *rb = w->pool;
	if (rb)
		w->pool = rb->next;
	pthread_mutex_unlock(&w->mu);
	if (rb) {
		rb->next = NULL;
		return rb;
	}
	rb = malloc(sizeof *rb);
	if (rb && rowbuf_init(rb, w) < 0) {
		rowbuf_free(rb, w->nleaves);
		free(rb);
		rb = NULL;
	}
	return rb;
}

static void rowbuf_put(struct delta_writer *w, struct rowbuf *rb)
{
	rb->n = 0;
	buf_reset(&rb->arena);
	for (size_t l = 0; l < w->nleaves; l++)
		rb->cols[l].has_null = 0;
	pthread_mutex_lock(&w->mu);
	rb->next = w->pool;
	w->pool = rb;
	pthread_mutex_unlock(&w->mu);
}

/* Bytes a full chunk takes in memory. */
static int64_t rowbuf_bytes(const struct delta_writer *w, const struct rowbuf *rb)
{
	int64_t b = (int64_t)rb->arena.len;
	for (size_t l = 0; l < w->nleaves; l++)
		b += (int64_t)(rb->n * (kind_size(w->leaf_col[l]->kind) + 1));
	return b;
}

/* Are the n bytes at a and b equal?  Short strings (symbols) without a call. */
static inline int same_bytes(const char *a, const char *b, size_t n)
{
	if (n > 16)
		return memcmp(a, b, n) == 0;
	if (n >= 8) {
		uint64_t x, y, u, v;
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		memcpy(&u, a + n - 8, 8);
		memcpy(&v, b + n - 8, 8);
		return x == y && u == v;
	}
	if (n >= 4) {
		uint32_t x, y, u, v;
		memcpy(&x, a, 4);
		memcpy(&y, b, 4);
		memcpy(&u, a + n - 4, 4);
		memcpy(&v, b + n - 4, 4);
		return x == y && u == v;
	}
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

/*
 * Add a row's cells to chunk rb, one value per data file column.  -1 when
 * a string does not fit the chunk's arena (*bad: its column).  The column
 * arrays are fetched once per column into locals: stores into them cannot
 * then make the compiler reload the chunk's and the columns' descriptions
 * for every value.
 */
static int buffer_row(const struct delta_writer *w, struct rowbuf *rb,
                      const struct delta_cell *cells, size_t *bad)
{
	const struct leaf_put *put = w->put;
	struct colbuf *cols = rb->cols;
	const size_t n = rb->n, nleaves = w->nleaves;
	for (size_t l = 0; l < nleaves; l++) {
		const struct delta_cell *cell = &cells[put[l].cell];
		struct colbuf *cb = &cols[l];
		const int kind = put[l].kind;
		uint8_t *valid = cb->valid;
		void *vals = cb->vals;
		if (cell->null) {
			valid[n] = 0;
			cb->has_null = 1;
			if (kind == K_BYTES)
				cb->off[n] = cb->len[n] = 0;
			else
				memset((char *)vals + n * kind_size(kind), 0, kind_size(kind));
			continue;
		}
		valid[n] = 1;
		switch (kind) {
		case K_I64:
			((int64_t *)vals)[n] = put[l].from_dec ? (int64_t)cell->dec : cell->i;
			break;
		case K_I32:
			((int32_t *)vals)[n] = (int32_t)cell->i;
			break;
		case K_F32:
			((float *)vals)[n] = (float)cell->d;
			break;
		case K_F64:
			((double *)vals)[n] = cell->d;
			break;
		case K_BOOL:
			((uint8_t *)vals)[n] = (uint8_t)(cell->i != 0);
			break;
		case K_BYTES: {
			/*
			 * A string equal to the previous row's (a symbol, an
			 * interval, a source: they come in runs) shares its bytes.
			 */
			struct buf *arena = &rb->arena;
			size_t at = arena->len;
			if (cell->n > 0 && n > 0 && cb->len[n - 1] == cell->n && cb->valid[n - 1] &&
			    same_bytes(arena->data + cb->off[n - 1], cell->s, cell->n)) {
				at = cb->off[n - 1];
			} else if (cell->n > UINT32_MAX || at + cell->n > UINT32_MAX ||
			           buf_append(arena, cell->s, cell->n) < 0) {
				*bad = l;
				return -1;
			}
			cb->off[n] = (uint32_t)at;
			cb->len[n] = (uint32_t)cell->n;
			break;
		}
		default:
			((pq_int128 *)vals)[n] = cell->dec;
		}
	}
	return 0;
}

/* Copy row i of chunk src to the end of chunk dst (same columns). */
static int copy_row(const struct delta_writer *w, struct rowbuf *dst, const struct rowbuf *src,
                    size_t i)
{
	size_t n = dst->n;
	for (size_t l = 0; l < w->nleaves; l++) {
		const struct colbuf *s = &src->cols[l];
		struct colbuf *d = &dst->cols[l];
		int kind = w->leaf_col[l]->kind;
		d->valid[n] = s->valid[i];
		d->has_null |= !s->valid[i];
		if (kind != K_BYTES) {
			size_t k = kind_size(kind);
			memcpy((char *)d->vals + n * k, (const char *)s->vals + i * k, k);
			continue;
		}
		d->off[n] = (uint32_t)dst->arena.len;
		d->len[n] = s->len[i];
		if (buf_append(&dst->arena, src->arena.data + s->off[i], s->len[i]) < 0)
			return -1;
	}
	dst->n++;
	return 0;
}

/* A chunk of a nested table's rows to its Parquet writer, row by row as value trees. */
static int flush_nested(const struct delta_writer *w, struct part_file *p, struct rowbuf *rb)
{
	size_t n = rb->n, total = 0;
	for (size_t l = 0; l < w->nleaves; l++) {
		const struct colbuf *cb = &rb->cols[l];
		for (size_t i = 0; i < n; i++) {
			if (!cb->valid[i]) {
				p->col_nulls[w->put[l].cell]++;
				continue;
			}
			if (w->leaf_col[l]->nested)
				total += delta_nested_nodes(
				    w->leaf_col[l]->f, rb->arena.data + cb->off[i], cb->len[i]);
		}
	}
	struct pq_value *nodes = malloc((total + w->nleaves) * sizeof *nodes);
	if (!nodes)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct pq_value row = {.kind = PQ_V_STRUCT, .n = (uint32_t)w->nleaves};
		struct pq_value *pool = nodes + w->nleaves;
		row.items = nodes;
		for (size_t l = 0; l < w->nleaves && rc == 0; l++) {
			const struct colbuf *cb = &rb->cols[l];
			const struct wcol *c = w->leaf_col[l];
			struct pq_value *v = &row.items[l];
			memset(v, 0, sizeof *v);
			if (!cb->valid[i]) {
				v->kind = PQ_V_NULL;
				continue;
			}
			switch (c->kind) {
			case K_I64:
				v->kind = PQ_V_I64;
				v->i64 = ((const int64_t *)cb->vals)[i];
				break;
			case K_I32:
				v->kind = PQ_V_I32;
				v->i32 = ((const int32_t *)cb->vals)[i];
				break;
			case K_F32:
				v->kind = PQ_V_F32;
				v->f32 = ((const float *)cb->vals)[i];
				break;
			case K_F64:
				v->kind = PQ_V_F64;
				v->f64 = ((const double *)cb->vals)[i];
				break;
			case K_BOOL:
				v->kind = PQ_V_BOOL;
				v->b = ((const uint8_t *)cb->vals)[i];
				break;
			case K_BYTES: {
				const char *at = rb->arena.data + cb->off[i];
				if (!c->nested) {
					v->kind = PQ_V_BYTES;
					v->bytes.p = (const uint8_t *)at;
					v->bytes.len = cb->len[i];
					break;
				}
				size_t k = delta_nested_nodes(c->f, at, cb->len[i]);
				rc = delta_nested_to_tree(c->f, at, cb->len[i], v, pool);
				pool += k;
				break;
			}
			default:
				v->kind = PQ_V_DEC;
				v->dec = ((const pq_int128 *)cb->vals)[i];
			}
		}
		if (rc == 0)
			rc = pq_writer_write_row(p->pw, &row);
	}
	free(nodes);
	for (size_t l = 0; l < w->nleaves; l++)
		rb->cols[l].has_null = 0;
	rb->n = 0;
	buf_reset(&rb->arena);
	return rc;
}

/* Hand a chunk of rows to a file's Parquet writer (in the file's writer thread). */
static int flush_rows(const struct delta_writer *w, struct part_file *p, struct rowbuf *rb)
{
	size_t n = rb->n;
	if (n == 0)
		return 0;
	if (w->nested)
		return flush_nested(w, p, rb);
	for (size_t l = 0; l < w->nleaves; l++) {
		struct colbuf *cb = &rb->cols[l];
		const uint8_t *valid = cb->has_null ? cb->valid : NULL;
		int leaf = (int)l, rc;
		switch (w->leaf_col[l]->kind) {
		case K_I64:
			rc = pq_writer_write_i64(p->pw, leaf, cb->vals, valid, n);
			break;
		case K_I32:
			rc = pq_writer_write_i32(p->pw, leaf, cb->vals, valid, n);
			break;
		case K_F32:
			rc = pq_writer_write_f32(p->pw, leaf, cb->vals, valid, n);
			break;
		case K_F64:
			rc = pq_writer_write_f64(p->pw, leaf, cb->vals, valid, n);
			break;
		case K_BOOL:
			rc = pq_writer_write_bool(p->pw, leaf, cb->vals, valid, n);
			break;
		case K_BYTES:
			for (size_t i = 0; i < n; i++) {
				rb->bytes[i].p = (const uint8_t *)rb->arena.data + cb->off[i];
				rb->bytes[i].len = cb->len[i];
			}
			rc = pq_writer_write_bytes(p->pw, leaf, rb->bytes, valid, n);
			break;
		default:
			rc = pq_writer_write_dec(p->pw, leaf, cb->vals, valid, n);
		}
		if (rc < 0)
			return -1;
		cb->has_null = 0;
	}
	rb->n = 0;
	buf_reset(&rb->arena);
	return pq_writer_end_row(p->pw);
}

/* Sorting a held file ------------------------------------------------------------------- */

struct sort_ctx {
	const struct delta_writer *w;
	struct rowbuf **chunks;
};

/* Compare one column's values at two places; nulls first, NaN last. */
static int cmp_value(const struct delta_writer *w, size_t l, const struct rowbuf *a, size_t i,
                     const struct rowbuf *b, size_t j)
{
	const struct colbuf *x = &a->cols[l], *y = &b->cols[l];
	if (!x->valid[i] || !y->valid[j])
		return (int)x->valid[i] - (int)y->valid[j];
	switch (w->leaf_col[l]->kind) {
	case K_I64: {
		int64_t u = ((const int64_t *)x->vals)[i], v = ((const int64_t *)y->vals)[j];
		return (u > v) - (u < v);
	}
	case K_I32: {
		int32_t u = ((const int32_t *)x->vals)[i], v = ((const int32_t *)y->vals)[j];
		return (u > v) - (u < v);
	}
	case K_F32:
	case K_F64: {
		double u = w->leaf_col[l]->kind == K_F32 ? ((const float *)x->vals)[i]
		                                         : ((const double *)x->vals)[i];
		double v = w->leaf_col[l]->kind == K_F32 ? ((const float *)y->vals)[j]
		                                         : ((const double *)y->vals)[j];
		if (u != u || v != v)
			return (u != u) - (v != v);
		return (u > v) - (u < v);
	}
	case K_BOOL: {
		int u = ((const uint8_t *)x->vals)[i], v = ((const uint8_t *)y->vals)[j];
		return u - v;
	}
	case K_BYTES: {
		uint32_t m = x->len[i], n = y->len[j];
		int r = memcmp(a->arena.data + x->off[i], b->arena.data + y->off[j], m < n ? m : n);
		return r ? (r > 0) - (r < 0) : (m > n) - (m < n);
	}
	default: {
		pq_int128 u = ((const pq_int128 *)x->vals)[i], v = ((const pq_int128 *)y->vals)[j];
		return (u > v) - (u < v);
	}
	}
}

/* Rows are numbered chunk * ROW_CHUNK + row; ties keep the order they came in. */
static int row_order(const void *pa, const void *pb, void *arg)
{
	const struct sort_ctx *s = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	const struct rowbuf *ca = s->chunks[a / ROW_CHUNK], *cb = s->chunks[b / ROW_CHUNK];
	for (size_t k = 0; k < s->w->nsort; k++) {
		int r = cmp_value(s->w, s->w->sort_leaf[k], ca, a % ROW_CHUNK, cb, b % ROW_CHUNK);
		if (r)
			return r;
	}
	return (a > b) - (a < b);
}

/* Write a held file's chunks (and its last, partly filled one) in the order of the sort columns. */
static int write_sorted(struct delta_writer *w, struct part_file *p, struct rowbuf *last)
{
	size_t nchunks = last ? 1 : 0;
	for (struct rowbuf *rb = p->held; rb; rb = rb->next)
		nchunks++;
	struct rowbuf **chunks = calloc(nchunks ? nchunks : 1, sizeof *chunks);
	size_t *order = NULL;
	struct rowbuf *out = NULL;
	int rc = -1;
	if (!chunks) {
		/* Give them back from the list. */
		while (p->held) {
			struct rowbuf *rb = p->held;
			p->held = rb->next;
			rowbuf_put(w, rb);
		}
		if (last)
			rowbuf_put(w, last);
		return -1;
	}
	/* Held chunks are newest first; they are all full but the last one. */
	size_t c = nchunks;
	if (last)
		chunks[--c] = last;
	for (struct rowbuf *rb = p->held; rb; rb = rb->next)
		chunks[--c] = rb;
	p->held = NULL;
	if (!(order = calloc(nchunks ? nchunks * ROW_CHUNK : 1, sizeof *order)))
		goto done;
	size_t n = 0;
	for (size_t k = 0; k < nchunks; k++)
		for (size_t i = 0; i < chunks[k]->n; i++)
			order[n++] = k * ROW_CHUNK + i;
	struct sort_ctx ctx = {w, chunks};
	qsort_r(order, n, sizeof *order, row_order, &ctx);
	if (!(out = rowbuf_get(w)))
		goto done;
	rc = 0;
	for (size_t k = 0; k < n && rc == 0; k++) {
		rc = copy_row(w, out, chunks[order[k] / ROW_CHUNK], order[k] % ROW_CHUNK);
		if (rc == 0 && (out->n == ROW_CHUNK || k + 1 == n))
			rc = flush_rows(w, p, out);
	}
done:
	if (out)
		rowbuf_put(w, out);
	for (size_t k = 0; k < nchunks; k++)
		rowbuf_put(w, chunks[k]);
	free(chunks);
	free(order);
	return rc;
}

/* Files ------------------------------------------------------------------------------- */

static void part_file_free(struct delta_writer *w, struct part_file *p)
{
	if (!p)
		return;
	if (p->fill) {
		rowbuf_free(p->fill, w->nleaves);
		free(p->fill);
	}
	while (p->held) {
		struct rowbuf *rb = p->held;
		p->held = rb->next;
		rowbuf_free(rb, w->nleaves);
		free(rb);
	}
	if (p->pw)
		pq_writer_free(p->pw);
	free(p->key);
	free(p->rel);
	free(p->abs);
	for (size_t i = 0; i < p->pvals.n; i++) {
		free(p->pvals.kv[i].key);
		free(p->pvals.kv[i].value);
	}
	free(p->pvals.kv);
	free(p->stats);
	free(p->forced);
	free(p->col_nulls);
	free(p);
}

static int finish_file(struct delta_writer *w, struct part_file *p, struct err_msg *e)
{
	if (w->last == p)
		w->last = NULL;
	strmap_del(&w->open, p->key);
	w->nopen--;
	/* The worker writes the last rows, the footer and the stats; drain() collects it. */
	struct rowbuf *rb = p->fill;
	p->fill = NULL;
	return submit(w, p, rb, 1, e);
}

static int finish_lru(struct delta_writer *w, struct err_msg *e)
{
	struct part_file *old = NULL;
	size_t i = 0;
	struct strmap_slot *s;
	while ((s = strmap_next(&w->open, &i))) {
		struct part_file *p = s->value;
		if (!old || p->last_use < old->last_use)
			old = p;
	}
	return old ? finish_file(w, old, e) : 0;
}

static struct part_file *remember_partition(struct delta_writer *w, struct part_file *p,
                                            const struct delta_cell *cells)
{
	w->last = p;
	w->last_cacheable = 1;
	for (size_t k = 0; k < w->ncols; k++) {
		if (w->cols[k].partition < 0)
			continue;
		w->last_cells[k] = cells[k];
		if (w->cols[k].f->type == DT_STRING || w->cols[k].f->type == DT_BINARY)
			w->last_cacheable = 0;
	}
	return p;
}

/* Do two rows go to the same partition?  (Cells of the partition columns compared.) */
static int same_partition(const struct delta_writer *w, const struct delta_cell *x,
                          const struct delta_cell *y)
{
	for (size_t j = 0; j < w->npart_at; j++) {
		size_t k = w->part_at[j];
		if (x[k].null != y[k].null)
			return 0;
		if (x[k].null)
			continue;
		if (w->part_by_i[j]) {
			if (x[k].i != y[k].i)
				return 0;
		} else if (w->cols[k].f->type == DT_FLOAT || w->cols[k].f->type == DT_DOUBLE) {
			/* By their bits: -0.0 and 0.0 are partitions of their own ("-0.0", "0.0"). */
			if (memcmp(&x[k].d, &y[k].d, sizeof x[k].d) != 0)
				return 0;
		} else if (delta_cell_cmp(w->cols[k].f, &x[k], &y[k]) != 0) {
			return 0;
		}
	}
	return 1;
}

/* A new file of the partition whose key is in w->key, given the partition cells. */
static struct part_file *new_file(struct delta_writer *w, const struct delta_cell *cells,
                                  struct err_msg *e)
{
	struct part_file *p = calloc(1, sizeof *p);
	if (!p) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return NULL;
	}
	p->key = strdup(w->key.data ? w->key.data : "");
	p->pvals.kv = calloc(w->npart + 1, sizeof *p->pvals.kv);
	if (!p->key || !p->pvals.kv) {
		err_set(e, EX_SOFTWARE, "out of memory");
		part_file_free(w, p);
		return NULL;
	}
	p->pvals.n = w->npart;
	struct buf dir = BUF_INIT, val = BUF_INIT;
	if (w->subdir)
		buf_printf(&dir, "%s/", w->subdir);
	for (size_t k = 0; k < w->ncols; k++) {
		const struct wcol *c = &w->cols[k];
		if (c->partition < 0)
			continue;
		const struct delta_cell *cell = &cells[k];
		buf_reset(&val);
		int isnull = cell->null || (delta_partition_bytes(c->f) && cell->n == 0);
		struct delta_kv *kv = &p->pvals.kv[c->partition];
		kv->key = strdup(delta_field_file_name(c->f));
		if (!isnull) {
			/* (a type that has no partition text was refused by file_for()) */
			delta_partition_text(c->f, cell, &val);
			kv->value = strdup(val.data ? val.data : "");
		}
		delta_hive_escape(c->f->name, &dir);
		buf_putc(&dir, '=');
		delta_hive_escape(isnull ? NULL : val.data, &dir);
		buf_putc(&dir, '/');
	}
	char uuid[37];
	delta_uuid(uuid);
	buf_printf(&dir, "part-00000-%s-c000.zstd.parquet", uuid);
	struct buf abs = BUF_INIT;
	buf_printf(&abs, "%s/%s", w->root, dir.data);
	int built = !buf_failed(&dir) && !buf_failed(&val) && !buf_failed(&abs);
	p->rel = buf_detach(&dir);
	p->abs = buf_detach(&abs);
	buf_free(&val);
	for (size_t k = 0; k < w->npart; k++)
		built = built && p->pvals.kv[k].key;
	p->forced = calloc(w->nleaves ? w->nleaves : 1, sizeof *p->forced);
	if (w->nested)
		p->col_nulls = calloc(w->ncols ? w->ncols : 1, sizeof *p->col_nulls);
	if (!built || !p->forced || (w->nested && !p->col_nulls) || !(p->fill = rowbuf_get(w))) {
		err_set(e, EX_SOFTWARE, "out of memory");
		part_file_free(w, p);
		return NULL;
	}
	/* Files go to the writer threads in turn; each file stays with one. */
	p->worker = w->nworkers ? w->next_worker++ % w->nworkers : 0;
	pthread_mutex_lock(&w->mu);
	p->learning = w->nested || !w->have_learned || ++w->files_since_learning >= LEARN_EVERY;
	if (p->learning)
		w->files_since_learning = 0;
	else
		memcpy(p->forced, w->learned, w->nleaves * sizeof *p->forced);
	pthread_mutex_unlock(&w->mu);
	return p;
}

/* The open file for a row's partition (creating it), given the row's cells. */
static struct part_file *file_for(struct delta_writer *w, const struct delta_cell *cells,
                                  struct err_msg *e)
{
	/*
	 * Rows mostly arrive grouped by partition: when this row's partition is
	 * the previous row's, skip building and hashing its key.  Only
	 * non-string partition values are cached, since strings point into
	 * buffers that the caller's next row reuses.
	 */
	if (w->last && w->last_cacheable && same_partition(w, cells, w->last_cells))
		return w->last;
	struct buf *key = &w->key;
	buf_reset(key);
	for (size_t k = 0; k < w->ncols; k++) {
		const struct wcol *c = &w->cols[k];
		if (c->partition < 0)
			continue;
		const struct delta_cell *cell = &cells[k];
		int bytes = delta_partition_bytes(c->f);
		if (bytes && !cell->null && memchr(cell->s, '\0', cell->n)) {
			/* A partition value is a directory name and a C string: no NUL fits either. */
			err_set(e, EX_DATAERR,
			        "column \"%s\": a partition value cannot hold a NUL character",
			        c->f->name);
			return NULL;
		}
		if (cell->null || (bytes && cell->n == 0)) {
			buf_append(key, "\x01", 1);
		} else if (delta_partition_text(c->f, cell, key) < 0) {
			char ty[40];
			delta_field_type_name(c->f, ty, sizeof ty);
			err_set(e, EX_DATAERR,
			        "column \"%s\": a %s value cannot be a partition value", c->f->name,
			        ty);
			return NULL;
		}
		buf_append(key, "\x02", 1);
	}
	buf_reserve(key, 0);
	if (buf_failed(key)) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return NULL;
	}
	struct part_file *p = strmap_get(&w->open, key->data ? key->data : "");
	if (p)
		return remember_partition(w, p, cells);
	if (w->nopen >= w->max_open && finish_lru(w, e) < 0)
		return NULL;
	if (!(p = new_file(w, cells, e)))
		return NULL;
	if (strmap_put(&w->open, p->key, p, NULL) < 0) {
		err_set(e, EX_SOFTWARE, "out of memory");
		part_file_free(w, p);
		return NULL;
	}
	w->nopen++;
	return remember_partition(w, p, cells);
}

int delta_writer_put(struct delta_writer *w, const struct delta_cell *cells, struct err_msg *e)
{
	struct part_file *p = file_for(w, cells, e);
	if (!p)
		return -1;
	p->last_use = ++w->clock;
	size_t bad;
	if (buffer_row(w, p->fill, cells, &bad) < 0) {
		err_set(e, EX_DATAERR, "column \"%s\": value too long", w->leaf_col[bad]->f->name);
		return -1;
	}
	p->rows++;
	w->rows++;
	if (++p->fill->n < ROW_CHUNK)
		return 0;
	struct rowbuf *full = p->fill;
	if (!(p->fill = rowbuf_get(w))) {
		p->fill = full;
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	if (w->nsort) {
		/* Held until the file is finished, and sorted then. */
		full->next = p->held;
		p->held = full;
		p->held_bytes += rowbuf_bytes(w, full);
		pthread_mutex_lock(&w->mu);
		double ratio = w->held_ratio;
		pthread_mutex_unlock(&w->mu);
		if ((double)p->held_bytes >= (double)w->target_size * ratio)
			return finish_file(w, p, e);
		return 0;
	}
	if (submit(w, p, full, 0, e) < 0)
		return -1;
	if (atomic_load(&p->written) >= w->target_size)
		return finish_file(w, p, e);
	return 0;
}

void delta_writer_learn(struct delta_writer *w, const int *enc)
{
	if (w->nested)
		return; /* encodings are forced on flat files only */
	pthread_mutex_lock(&w->mu);
	for (size_t l = 0; l < w->nleaves; l++)
		w->learned[l] = enc[w->leaf_col[l] - w->cols];
	w->have_learned = 1;
	w->files_since_learning = 0;
	pthread_mutex_unlock(&w->mu);
}

int64_t delta_writer_rows(const struct delta_writer *w)
{
	return w->rows;
}

/* Writer threads ----------------------------------------------------------- */

static void worker_fail_msg(struct delta_writer *w, struct part_file *p, const struct err_msg *we)
{
	pthread_mutex_lock(&w->mu);
	if (!w->werr) {
		w->werr = 1;
		w->werr_msg = *we;
		if (!w->werr_msg.status)
			w->werr_msg.status = EX_IOERR;
	}
	pthread_mutex_unlock(&w->mu);
	p->failed = 1;
}

static void worker_fail(struct delta_writer *w, struct part_file *p, const char *fallback)
{
	const struct err_msg *we = pq_writer_error(p->pw);
	struct err_msg e;
	err_set(&e, we && we->status ? we->status : EX_IOERR, "%s",
	        we && we->text[0] ? we->text : fallback);
	worker_fail_msg(w, p, &e);
}

/* Create a file's directories and its Parquet writer (in the worker that owns it). */
static void open_file(struct worker *wk, struct part_file *p)
{
	struct delta_writer *w = wk->w;
	struct err_msg e;
	char *slash = strrchr(p->abs, '/');
	*slash = '\0';
	int mk = delta_mkdirs(p->abs);
	*slash = '/';
	if (mk < 0) {
		err_set(&e, EX_IOERR, "%s: %s", p->abs, strerror(errno));
		worker_fail_msg(w, p, &e);
		return;
	}
	err_clear(&e);
	p->pw = pq_writer_open(p->abs, w->pqs, &wk->wopts, &e);
	if (!p->pw) {
		if (!e.text[0])
			err_set(&e, EX_IOERR, "%s: cannot create", p->abs);
		worker_fail_msg(w, p, &e);
		return;
	}
	for (size_t l = 0; !p->learning && l < w->nleaves; l++)
		pq_writer_set_encoding(p->pw, (int)l, p->forced[l]);
}

/* Finish a file: footer, size, statistics, and what it taught about encodings. */
static void close_file(struct delta_writer *w, struct part_file *p)
{
	if (!p->failed && pq_writer_close(p->pw) < 0)
		worker_fail(w, p, "cannot finish a data file");
	if (!p->failed) {
		struct buf st = BUF_INIT;
		p->size = (int64_t)pq_writer_bytes(p->pw);
		p->mtime = ts_now() / 1000;
		if (delta_stats_json(&w->schema, w->part_cols, w->npart, w->stats_cols, p->pw,
		                     p->rows, p->col_nulls, &st) < 0) {
			struct err_msg oom;
			err_set(&oom, EX_SOFTWARE, "%s: out of memory for its statistics", p->abs);
			worker_fail_msg(w, p, &oom);
		}
		p->stats = buf_detach(&st);
	}
	if (!p->failed && p->rows > 0) {
		pthread_mutex_lock(&w->mu);
		if (p->learning && !w->nested) {
			for (size_t l = 0; l < w->nleaves; l++)
				w->learned[l] = pq_writer_chunk_encoding(p->pw, (int)l);
			w->have_learned = 1;
		}
		if (w->nsort && p->held_bytes > 0 && p->size > 0)
			w->held_ratio = (double)p->held_bytes / (double)p->size;
		pthread_mutex_unlock(&w->mu);
	}
	pq_writer_free(p->pw);
	p->pw = NULL;
	if (p->failed)
		unlink(p->abs);
}

/* Run one job: write a chunk, and/or finish the file. */
static void run_job(struct worker *wk, struct job *j)
{
	struct delta_writer *w = wk->w;
	struct part_file *p = j->p;
	if (!p->pw && !p->failed)
		open_file(wk, p);
	if (j->finish && w->nsort) {
		struct rowbuf *last = j->rb;
		if (last && last->n)
			p->held_bytes += rowbuf_bytes(w, last);
		if (!p->failed && write_sorted(w, p, last) < 0)
			worker_fail(w, p, "cannot write a data file");
		else if (p->failed) {
			while (p->held) {
				struct rowbuf *rb = p->held;
				p->held = rb->next;
				rowbuf_put(w, rb);
			}
			if (last)
				rowbuf_put(w, last);
		}
	} else if (j->rb) {
		if (!p->failed && flush_rows(w, p, j->rb) < 0)
			worker_fail(w, p, "cannot write a data file");
		if (p->pw)
			atomic_store(&p->written, (int64_t)pq_writer_bytes(p->pw));
		rowbuf_put(w, j->rb);
	}
	if (!j->finish)
		return;
	close_file(w, p);
	/* Failed files go on the list too, so that discarding frees them. */
	p->next = wk->done;
	wk->done = p;
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct delta_writer *w = wk->w;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!wk->head && !w->stopping)
			pthread_cond_wait(&wk->cv, &w->mu);
		if (!wk->head)
			break;
		struct job *j = wk->head;
		wk->head = j->next;
		if (!wk->head)
			wk->tail = NULL;
		pthread_mutex_unlock(&w->mu);
		run_job(wk, j);
		free(j);
		pthread_mutex_lock(&w->mu);
		w->pending--;
		pthread_cond_broadcast(&w->cv_done);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Queue a job for the file's worker, waiting while too many are queued. */
static int submit(struct delta_writer *w, struct part_file *p, struct rowbuf *rb, int finish,
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
	struct worker *wk = &w->workers[p->worker];
	if (!w->nworkers) {
		/* No writer threads: the caller's thread does the job now. */
		run_job(wk, j);
		free(j);
		pthread_mutex_lock(&w->mu);
		int failed = w->werr;
		if (failed)
			*e = w->werr_msg;
		pthread_mutex_unlock(&w->mu);
		return failed ? -1 : 0;
	}
	pthread_mutex_lock(&w->mu);
	while (w->pending >= w->max_pending && !w->werr)
		pthread_cond_wait(&w->cv_done, &w->mu);
	if (wk->tail)
		wk->tail->next = j;
	else
		wk->head = j;
	wk->tail = j;
	w->pending++;
	pthread_cond_signal(&wk->cv);
	int failed = w->werr;
	if (failed)
		*e = w->werr_msg;
	pthread_mutex_unlock(&w->mu);
	return failed ? -1 : 0;
}

/*
 * Wait until every queued job is done and collect the finished files.  -1
 * (e set) when a worker failed.
 */
static int drain(struct delta_writer *w, struct err_msg *e)
{
	pthread_mutex_lock(&w->mu);
	while (w->pending > 0)
		pthread_cond_wait(&w->cv_done, &w->mu);
	for (int k = 0; k < (w->nworkers ? w->nworkers : 1); k++) {
		struct worker *wk = &w->workers[k];
		while (wk->done) {
			struct part_file *p = wk->done;
			wk->done = p->next;
			p->next = w->done;
			w->done = p;
		}
	}
	int failed = w->werr;
	if (failed) {
		*e = w->werr_msg;
		w->werr = 0;
	}
	pthread_mutex_unlock(&w->mu);
	return failed ? -1 : 0;
}

static int start_workers(struct delta_writer *w, int n, struct err_msg *e)
{
	w->workers = calloc(n ? (size_t)n : 1, sizeof *w->workers);
	if (!w->workers) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	if (!n) {
		/* The caller's thread is the only writer: a worker without a thread. */
		struct worker *wk = &w->workers[0];
		wk->w = w;
		wk->codec = pq_codec_new();
		wk->wopts = w->wopts;
		wk->wopts.codec = wk->codec;
		if (!wk->codec) {
			err_set(e, EX_SOFTWARE, "out of memory");
			return -1;
		}
		return 0;
	}
	w->max_pending = (size_t)n * 8;
	/*
	 * The writers run with every signal blocked (they inherit the mask they
	 * are created with), so that SIGINT and SIGTERM reach the caller's
	 * thread, whose reads they interrupt.
	 */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = 0;
	for (int k = 0; k < n; k++) {
		struct worker *wk = &w->workers[k];
		wk->w = w;
		wk->codec = pq_codec_new();
		wk->wopts = w->wopts;
		wk->wopts.codec = wk->codec;
		pthread_cond_init(&wk->cv, NULL);
		if (!wk->codec || pthread_create(&wk->th, NULL, worker_main, wk) != 0) {
			pq_codec_free(wk->codec);
			pthread_cond_destroy(&wk->cv);
			err_set(e, EX_SOFTWARE, "cannot start a writer thread");
			rc = -1;
			break;
		}
		w->nworkers++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static void stop_workers(struct delta_writer *w)
{
	if (!w->workers)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	for (int k = 0; k < w->nworkers; k++)
		pthread_cond_signal(&w->workers[k].cv);
	pthread_mutex_unlock(&w->mu);
	for (int k = 0; k < w->nworkers; k++) {
		pthread_join(w->workers[k].th, NULL);
		pq_codec_free(w->workers[k].codec);
		pthread_cond_destroy(&w->workers[k].cv);
	}
	if (!w->nworkers)
		pq_codec_free(w->workers[0].codec);
	free(w->workers);
	w->workers = NULL;
}

/* The batch of files ------------------------------------------------------------------ */

int delta_writer_finish(struct delta_writer *w, struct err_msg *e)
{
	while (w->nopen) {
		size_t i = 0;
		struct strmap_slot *sl = strmap_next(&w->open, &i);
		if (finish_file(w, sl->value, e) < 0)
			return -1;
	}
	if (drain(w, e) < 0)
		return -1;
	size_t n = 0;
	for (struct part_file *p = w->done; p; p = p->next)
		n++;
	struct delta_written *out = realloc(w->out, (n ? n : 1) * sizeof *out);
	if (!out) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	w->out = out;
	w->nout = n;
	/* In the order the files were finished. */
	for (struct part_file *p = w->done; p; p = p->next) {
		struct delta_written *d = &out[--n];
		memset(d, 0, sizeof *d);
		d->file.path = p->rel;
		d->file.partition_values = p->pvals;
		d->file.size = p->size;
		d->file.modification_time = p->mtime;
		d->file.data_change = 1;
		d->file.stats = p->stats;
		d->file.deletion_timestamp = -1;
		d->file.version = -1;
		d->rows = p->rows;
	}
	return 0;
}

/* fsync a file or directory by path: 0, or -1 with e set. */
static int sync_path(const char *path, int dir, struct err_msg *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
	if (fd < 0 || fsync(fd) < 0) {
		err_set(e, EX_IOERR, "%s: cannot make it durable: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Paths to fsync, shared by the threads that do it: each takes the next
 * path not taken; the last to finish one says so.
 */
struct sync_list {
	char **path;
	unsigned char *dir;
	size_t n;
	_Atomic size_t next, finished;
	int users;  /* pool threads working on it (under the pool's lock) */
	int failed; /* under the pool's lock */
	struct err_msg e;
};

/*
 * The threads that fsync for the process's writers, started when first
 * needed (one per path of the largest list, up to SYNC_THREADS + 1) and
 * kept: a writer of many small batches would otherwise start and end
 * threads for every commit.  One list at a time is theirs; a list started
 * while another is is synced by its caller.  Their signals are blocked:
 * they are the main thread's to take.
 */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct sync_list *job; /* the list being synced, or NULL */
	int nthreads;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0};

/* Take paths of l until none is left (the caller need not hold the lock). */
static void sync_take(struct sync_list *l)
{
	size_t i;
	while ((i = atomic_fetch_add(&l->next, 1)) < l->n) {
		struct err_msg e;
		int bad = sync_path(l->path[i], l->dir[i], &e) < 0;
		pthread_mutex_lock(&pool.mu);
		if (bad && !l->failed) {
			l->failed = 1;
			l->e = e;
		}
		if (atomic_fetch_add(&l->finished, 1) + 1 == l->n)
			pthread_cond_broadcast(&pool.done);
		pthread_mutex_unlock(&pool.mu);
	}
}

static void *sync_worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pool.mu);
	for (;;) {
		struct sync_list *l = pool.job;
		if (!l || atomic_load(&l->next) >= l->n) {
			pthread_cond_wait(&pool.work, &pool.mu);
			continue;
		}
		l->users++;
		pthread_mutex_unlock(&pool.mu);
		sync_take(l);
		pthread_mutex_lock(&pool.mu);
		if (--l->users == 0)
			pthread_cond_broadcast(&pool.done);
	}
	return NULL;
}

/*
 * Start fsyncing every path of the list, several at once (each waits for
 * the disk, and the disk serves them together), on the pool's threads;
 * when the pool is busy with another list, or no thread can be started,
 * the caller's thread makes them all now.
 */
static void sync_begin(struct sync_list *l)
{
	atomic_store(&l->next, 0);
	atomic_store(&l->finished, 0);
	l->users = 0;
	pthread_mutex_lock(&pool.mu);
	if (pool.job) {
		pthread_mutex_unlock(&pool.mu);
		sync_take(l);
		return;
	}
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (pool.nthreads < SYNC_THREADS + 1 && (size_t)pool.nthreads < l->n) {
		pthread_t th;
		if (pthread_create(&th, NULL, sync_worker, NULL) != 0)
			break;
		pthread_detach(th);
		pool.nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pool.nthreads == 0) {
		pthread_mutex_unlock(&pool.mu);
		sync_take(l);
		return;
	}
	pool.job = l;
	pthread_cond_broadcast(&pool.work);
	pthread_mutex_unlock(&pool.mu);
}

/* Wait for the fsyncs of the list: 0, or -1 with e set. */
static int sync_end(struct sync_list *l, struct err_msg *e)
{
	pthread_mutex_lock(&pool.mu);
	/* Every path done, and no thread still holding the list. */
	while (atomic_load(&l->finished) < l->n || l->users > 0)
		pthread_cond_wait(&pool.done, &pool.mu);
	if (pool.job == l)
		pool.job = NULL;
	int failed = l->failed;
	if (failed)
		*e = l->e;
	pthread_mutex_unlock(&pool.mu);
	return failed ? -1 : 0;
}

static void sync_list_free(struct sync_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->path[i]);
	free(l->path);
	free(l->dir);
	free(l);
}

/* Add a path to the list, once. */
static int sync_add(struct sync_list *l, struct strmap *seen, const char *path, size_t len, int dir)
{
	char *p = strndup(path, len);
	if (!p)
		return -1;
	if (strmap_get(seen, p)) {
		free(p);
		return 1;
	}
	char **np = realloc(l->path, (l->n + 1) * sizeof *np);
	if (np)
		l->path = np;
	unsigned char *nd = np ? realloc(l->dir, l->n + 1) : NULL;
	if (!np || !nd || strmap_put(seen, p, p, NULL) < 0) {
		free(p);
		return -1;
	}
	l->dir = nd;
	l->path[l->n] = p;
	l->dir[l->n++] = (unsigned char)dir;
	return 0;
}

int delta_writer_sync_start(struct delta_writer *w, struct err_msg *e)
{
	if (w->sync)
		return 0;
	w->sync_rc = 0;
	/*
	 * On s3fs, the only FUSE file system that a writer is let onto
	 * (delta_store.c), each file was uploaded by its close, which reported a
	 * failed upload, and an fsync has nothing left to send: opening the
	 * file again for it only costs requests to the bucket (two HEADs).
	 */
	if (delta_on_fuse(w->root) == 1)
		return 0;
	if (w->nout > SYNC_FILES_MAX) {
		int fd = open(w->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || syncfs(fd) < 0) {
			err_set(e, EX_IOERR, "%s: cannot flush the files written: %s", w->root,
			        strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
		return 0;
	}
	/* Each file, and each directory up to the root once (partitions share them). */
	struct sync_list *l = calloc(1, sizeof *l);
	struct strmap seen = STRMAP_INIT;
	size_t rootlen = strlen(w->root);
	int rc = l ? 0 : -1;
	for (struct part_file *p = w->done; p && rc == 0; p = p->next) {
		rc = sync_add(l, &seen, p->abs, strlen(p->abs), 0) < 0 ? -1 : 0;
		for (const char *slash = strrchr(p->abs, '/');
		     rc == 0 && slash && (size_t)(slash - p->abs) >= rootlen;) {
			size_t len = (size_t)(slash - p->abs);
			int k = sync_add(l, &seen, p->abs, len, 1);
			if (k != 0) {
				rc = k < 0 ? -1 : 0;
				break; /* listed already, with everything above it */
			}
			while (slash > p->abs && *--slash != '/')
				;
		}
	}
	strmap_free(&seen);
	if (rc < 0) {
		if (l)
			sync_list_free(l);
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	sync_begin(l);
	w->sync = l;
	return 0;
}

int delta_writer_sync_wait(struct delta_writer *w, struct err_msg *e)
{
	if (w->sync) {
		w->sync_rc = sync_end(w->sync, &w->sync_err);
		sync_list_free(w->sync);
		w->sync = NULL;
	}
	if (w->sync_rc < 0)
		*e = w->sync_err;
	return w->sync_rc;
}

int delta_writer_sync(struct delta_writer *w, struct err_msg *e)
{
	if (delta_writer_sync_start(w, e) < 0)
		return -1;
	return delta_writer_sync_wait(w, e);
}

const struct delta_written *delta_writer_files(const struct delta_writer *w, size_t *n)
{
	*n = w->nout;
	return w->out;
}

void delta_writer_release(struct delta_writer *w)
{
	for (struct part_file *p = w->done, *n; p; p = n) {
		n = p->next;
		part_file_free(w, p);
	}
	w->done = NULL;
	w->nout = 0;
	w->rows = 0;
}

void delta_writer_discard(struct delta_writer *w)
{
	size_t i = 0;
	struct strmap_slot *s;
	struct part_file *open_list = NULL;
	struct err_msg ignored;
	if (w->workers)
		drain(w, &ignored);
	/* No fsync may still hold a file being removed. */
	delta_writer_sync_wait(w, &ignored);
	w->sync_rc = 0;
	while ((s = strmap_next(&w->open, &i))) {
		struct part_file *p = s->value;
		p->next = open_list;
		open_list = p;
	}
	for (struct part_file *p = open_list, *n; p; p = n) {
		n = p->next;
		unlink(p->abs);
		part_file_free(w, p);
	}
	strmap_free(&w->open);
	w->nopen = 0;
	w->last = NULL;
	for (struct part_file *p = w->done, *n; p; p = n) {
		n = p->next;
		unlink(p->abs);
		part_file_free(w, p);
	}
	w->done = NULL;
	w->nout = 0;
	w->rows = 0;
}

/* Setting up ---------------------------------------------------------------------- */

enum pq_type delta_pq_type(const struct delta_field *f)
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

static int kind_of(const struct delta_field *f)
{
	switch (f->type) {
	case DT_LONG:
	case DT_TIMESTAMP:
	case DT_TIMESTAMP_NTZ:
		return K_I64;
	case DT_INTEGER:
	case DT_SHORT:
	case DT_BYTE:
	case DT_DATE:
		return K_I32;
	case DT_FLOAT:
		return K_F32;
	case DT_DOUBLE:
		return K_F64;
	case DT_BOOLEAN:
		return K_BOOL;
	case DT_STRING:
	case DT_BINARY:
		return K_BYTES;
	default:
		return f->precision <= 18 ? K_I64 : K_DEC;
	}
}

/* Does a field hold the void type, or a struct without fields (neither has a Parquet form)? */
static int unwritable(const struct delta_field *f)
{
	if (f->type == DT_VOID || (f->type == DT_STRUCT && f->nchildren == 0))
		return 1;
	for (size_t i = 0; i < f->nchildren; i++)
		if (unwritable(&f->children[i]))
			return 1;
	return 0;
}

/*
 * Add field f under parent in the data file schema (lists and maps as
 * Parquet's three-level groups); -1 when the schema refuses it.
 */
static int add_pq_node(struct pq_schema *s, int parent, const struct delta_field *f, int optional);

static int add_pq_field(struct pq_schema *s, int parent, const struct delta_field *f, int optional)
{
	int idx = add_pq_node(s, parent, f, optional);
	/* Under column mapping a field's id is its Parquet field id (0: it has none). */
	if (idx >= 0 && f->map_id > 0 && f->map_id <= INT32_MAX &&
	    pq_schema_set_field_id(s, idx, (int)f->map_id) < 0)
		return -1;
	return idx;
}

static int add_pq_node(struct pq_schema *s, int parent, const struct delta_field *f, int optional)
{
	int idx;
	const char *name = delta_field_file_name(f);
	switch (f->type) {
	case DT_DECIMAL:
		return pq_schema_add_decimal(s, parent, name, f->precision, f->scale, optional);
	case DT_STRUCT:
		idx = pq_schema_add(s, parent, name, PQ_STRUCT, optional);
		for (size_t i = 0; idx >= 0 && i < f->nchildren; i++)
			if (add_pq_field(s, idx, &f->children[i], f->children[i].nullable) < 0)
				return -1;
		return idx;
	case DT_ARRAY:
		idx = pq_schema_add(s, parent, name, PQ_LIST, optional);
		if (idx >= 0 && add_pq_field(s, idx, &f->children[0], f->children[0].nullable) < 0)
			return -1;
		return idx;
	case DT_MAP:
		idx = pq_schema_add(s, parent, name, PQ_MAP, optional);
		/* A map's keys are never null. */
		if (idx >= 0 &&
		    (add_pq_field(s, idx, &f->children[0], 0) < 0 ||
		     add_pq_field(s, idx, &f->children[1], f->children[1].nullable) < 0))
			return -1;
		return idx;
	default:
		return pq_schema_add(s, parent, name, delta_pq_type(f), optional);
	}
}

/* The columns, the data file schema and the sort order, from w->schema and w->part_cols. */
static int setup_columns(struct delta_writer *w, const struct delta_writer_opts *o,
                         struct err_msg *e)
{
	w->ncols = w->schema.n;
	w->cols = calloc(w->ncols ? w->ncols : 1, sizeof *w->cols);
	w->last_cells = calloc(w->ncols ? w->ncols : 1, sizeof *w->last_cells);
	w->pqs = pq_schema_new();
	if (!w->cols || !w->last_cells || !w->pqs)
		goto oom;
	int leaf = 0;
	for (size_t i = 0; i < w->ncols; i++) {
		struct wcol *c = &w->cols[i];
		c->f = &w->schema.fields[i];
		c->partition = -1;
		c->leaf = -1;
		if (unwritable(c->f)) {
			err_set(e, EX_DATAERR,
			        "%s: column \"%s\" is of type void or holds one, or a struct "
			        "without fields: neither has values to write",
			        w->root, c->f->name);
			return -1;
		}
		c->nested = delta_type_is_nested(c->f->type);
		for (size_t k = 0; k < w->npart; k++)
			if (strcmp(w->part_cols[k], c->f->name) == 0)
				c->partition = (int)k;
		if (c->partition >= 0 && c->nested) {
			err_set(e, EX_DATAERR,
			        "%s: partition column \"%s\" is not of a primitive type", w->root,
			        c->f->name);
			return -1;
		}
		if (c->partition >= 0)
			continue;
		if (add_pq_field(w->pqs, PQ_ROOT, c->f, c->f->nullable) < 0) {
			err_set(e, EX_SOFTWARE, "cannot build the data file schema");
			return -1;
		}
		c->leaf = leaf++;
		c->kind = c->nested ? K_BYTES : kind_of(c->f);
		w->nested |= c->nested;
	}
	w->nleaves = (size_t)leaf;
	w->leaf_col = calloc(w->nleaves ? w->nleaves : 1, sizeof *w->leaf_col);
	w->part_at = calloc(w->npart ? w->npart : 1, sizeof *w->part_at);
	w->part_by_i = calloc(w->npart ? w->npart : 1, 1);
	if (!w->part_at || !w->part_by_i)
		goto oom;
	for (size_t i = 0; i < w->ncols && w->npart_at < w->npart; i++) {
		int t = w->cols[i].f->type;
		if (w->cols[i].partition < 0)
			continue;
		w->part_at[w->npart_at] = i;
		/* Dates, timestamps, integers and booleans (delta_cell_cmp's default) are their i. */
		w->part_by_i[w->npart_at++] = t != DT_STRING && t != DT_BINARY && t != DT_FLOAT &&
		                              t != DT_DOUBLE && t != DT_DECIMAL;
	}
	w->put = calloc(w->nleaves ? w->nleaves : 1, sizeof *w->put);
	w->learned = calloc(w->nleaves ? w->nleaves : 1, sizeof *w->learned);
	w->sort_leaf = calloc(o->nsort ? o->nsort : 1, sizeof *w->sort_leaf);
	if (!w->leaf_col || !w->put || !w->learned || !w->sort_leaf)
		goto oom;
	for (size_t i = 0; i < w->ncols; i++) {
		const struct wcol *c = &w->cols[i];
		if (c->leaf < 0)
			continue;
		w->leaf_col[c->leaf] = c;
		w->put[c->leaf].cell = i;
		w->put[c->leaf].kind = c->kind;
		w->put[c->leaf].from_dec = c->kind == K_I64 && c->f->type == DT_DECIMAL;
	}
	for (size_t k = 0; k < o->nsort; k++) {
		if (o->sort_cols[k] >= w->ncols) {
			err_set(e, EX_SOFTWARE, "sort column %zu is not a column", o->sort_cols[k]);
			return -1;
		}
		const struct wcol *c = &w->cols[o->sort_cols[k]];
		if (c->nested) {
			err_set(e, EX_DATAERR,
			        "%s: column \"%s\" is nested: rows cannot be sorted by it", w->root,
			        c->f->name);
			return -1;
		}
		if (c->leaf >= 0)
			w->sort_leaf[w->nsort++] = (size_t)c->leaf;
	}
	return 0;
oom:
	err_set(e, EX_SOFTWARE, "out of memory");
	return -1;
}

struct delta_writer *delta_writer_new(const char *root, const struct delta_schema *schema,
                                      char *const *part_cols, size_t npart,
                                      const struct delta_writer_opts *o, struct err_msg *e)
{
	struct delta_writer *w = calloc(1, sizeof *w);
	struct buf js = BUF_INIT;
	if (!w) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv_done, NULL);
	if (!(w->root = strdup(root)) || !(w->part_cols = calloc(npart + 1, sizeof *w->part_cols)))
		goto oom;
	w->npart = npart;
	for (size_t i = 0; i < npart; i++)
		if (!(w->part_cols[i] = strdup(part_cols[i])))
			goto oom;
	/* A copy of the schema: the caller's may be replaced while files are written. */
	if (delta_schema_to_json(schema, &js) < 0 || buf_failed(&js))
		goto oom;
	if (delta_schema_parse_json(js.data, js.len, &w->schema, e) < 0 ||
	    (o->column_mapping && delta_schema_map(&w->schema, o->column_mapping, e) < 0))
		goto fail;
	buf_free(&js);
	if (o->subdir && !(w->subdir = strdup(o->subdir)))
		goto oom;
	w->target_size = o->target_size > 0 ? o->target_size : 128LL << 20;
	w->max_open = o->max_open ? o->max_open : 1;
	w->stats_cols = o->stats_cols;
	w->held_ratio = 1.0;
	if (setup_columns(w, o, e) < 0)
		goto fail;
	pq_write_options_init(&w->wopts);
	/* Callers make the files durable together, before the commit that names them. */
	w->wopts.sync = 0;
	/* The writer threads already spread the files over the processors. */
	w->wopts.threads = 1;
	w->kv.key = "writer";
	w->kv.value = DELTA_ENGINE;
	w->wopts.kv = &w->kv;
	w->wopts.nkv = 1;
	if (start_workers(w, o->threads < 0 ? 0 : o->threads > 64 ? 64 : o->threads, e) < 0)
		goto fail;
	return w;
oom:
	err_set(e, EX_SOFTWARE, "out of memory");
fail:
	buf_free(&js);
	delta_writer_free(w);
	return NULL;
}

void delta_writer_free(struct delta_writer *w)
{
	if (!w)
		return;
	delta_writer_discard(w);
	stop_workers(w);
	while (w->pool) {
		struct rowbuf *rb = w->pool;
		w->pool = rb->next;
		rowbuf_free(rb, w->nleaves);
		free(rb);
	}
	pthread_cond_destroy(&w->cv_done);
	pthread_mutex_destroy(&w->mu);
	free(w->out);
	free(w->cols);
	free(w->leaf_col);
	free(w->put);
	free(w->part_at);
	free(w->part_by_i);
	free(w->learned);
	free(w->sort_leaf);
	free(w->last_cells);
	buf_free(&w->key);
	pq_schema_free(w->pqs);
	for (size_t i = 0; w->part_cols && i < w->npart; i++)
		free(w->part_cols[i]);
	free(w->part_cols);
	free(w->subdir);
	delta_schema_free(&w->schema);
	free(w->root);
	free(w);
}

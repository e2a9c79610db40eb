/*
 * delta-compact's optimize: rewrite each partition's small files into
 * files near a target size, rows in order, without changing a row.
 *
 * Planning, per partition: the candidates are the live files smaller than
 * three quarters of the target (a file nearer the target is done); in
 * arrival order they are packed into bins whose input makes about one
 * file of the target size; a bin of one file is left alone.  Each bin
 * becomes one new file, its rows sorted by the order columns (--order-by,
 * the table's stocketl.mergeKey, or symbol and trade_timestamp for the
 * tick tables), so that readers skip by the files' statistics and row
 * groups.  How much input makes a file of the target size is learnt as
 * the run goes (many small files rewritten as one lose their footers and
 * compress better; the first bin of a run counts one for one), so new
 * files may come out below the target, never far above it.  Every rewrite
 * turns two files or more into one, so passes only ever merge and come to
 * rest: a partition that fits the target becomes one file.  A run makes
 * another pass (planned afresh, its ratio learnt afresh) while the last
 * one rewrote something, at most MAX_PASSES, so that what a pass left
 * small (its first bin, a partition's last) is merged now and the next
 * run finds nothing to do.
 *
 * Committing: partitions are taken in order and grouped until a group has
 * rewritten enough (GROUP_FILES files or GROUP_BYTES bytes); each group is
 * one commit of OPTIMIZE with Spark's parameters and metrics, a remove of
 * each input and an add of each output, all with dataChange false.  Its
 * read set is only the files it removes, so writers appending to the same
 * partitions at the same time never conflict with it; another rewrite of
 * the same files does (delete/delete), and then this run's new files are
 * removed and the rest is planned again from the latest version, up to
 * [delta] commit_retries times, then 75, nothing lost.  The plan of each
 * group is made from the snapshot as the previous commit left it.  A run that is
 * killed leaves its committed groups done and its unfinished files
 * unreferenced (vacuum removes them); the next run does the rest.
 *
 * The rows of the files are read and written by the library's row reader
 * and writer (delta/delta_rows.h): partition values come back as cells and
 * go out as directories, statistics are computed as delta-append's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/strmap.h"
#include "compact.h"
#include "delta/delta_nested.h"
#include "delta/delta_rows.h"
#include "delta/delta_txn.h"
#include "delta/delta_where.h"
#include "text/json.h"

#define DEFAULT_TARGET (128 * MIB)
/* A group's commit comes after this many files or bytes rewritten. */
#define GROUP_FILES    2000
#define GROUP_BYTES    (1024 * MIB)
/* Sorted files are held in memory until finished: so many targets' worth at once. */
#define OPEN_BYTES     (1024 * MIB)

/* The live files of one partition. */
struct part {
	int excluded; /* not selected by --where */
	char *key;    /* partition values, canonical */
	char *name;   /* col=value/..., for messages */
	struct delta_file **files;
	size_t n, cap;
	int64_t bytes;
};

/* What the whole run did, for the summary. */
struct totals {
	int64_t removed, removed_bytes, added, added_bytes, rows, partitions;
};

struct optimize {
	struct compact *c;
	struct delta_snapshot snap;
	struct delta_where where; /* --where: the partitions to optimize (none: all) */
	const struct delta_schema *schema;
	int64_t target;
	size_t *sort_cols;
	size_t nsort;
	struct delta_rows_col *cols;
	struct delta_cell *cells;
	struct buf *nested; /* per column: a nested value read, encoded (delta_nested.h) */
	int has_nested;     /* some column is a struct, array or map */
	struct totals t;
	/* o->t's bytes when this pass began: each pass learns its ratio afresh */
	int64_t pass_removed_bytes, pass_added_bytes;
	int conflict;              /* the last commit lost to another writer's rewrite */
	struct err_msg conflict_e; /* what the commit said then */
};

/* Partitions ------------------------------------------------------------------- */

static void part_free(struct part *p)
{
	free(p->key);
	free(p->name);
	free(p->files);
	free(p);
}

/*
 * The canonical key and the display name of a file's partition.  A value
 * is keyed by what it means, not by its text: writers spell some types
 * differently (Spark's timestamp "2024-01-01 10:00:00", this library's
 * "2024-01-01T10:00:00.000000Z"; an empty string is null), and files of
 * one partition in both spellings are still one partition to merge.
 * canon and scratch are the caller's buffers.
 */
static int part_key(const struct delta_snapshot *snap, const struct delta_file *f, struct buf *key,
                    struct buf *name, struct buf *canon, struct buf *scratch)
{
	buf_reset(key);
	buf_reset(name);
	for (size_t i = 0; i < snap->meta.n_partition_columns; i++) {
		const char *col = snap->meta.partition_columns[i];
		/* Partition values are keyed by physical names under column mapping. */
		const struct delta_field *pf = delta_schema_find(&snap->meta.schema, col);
		int found;
		const char *v = delta_map_get(&f->partition_values,
		                              pf ? delta_field_file_name(pf) : col, &found);
		if (v && !*v)
			v = NULL;
		if (v && pf && !delta_partition_bytes(pf)) {
			struct delta_cell c;
			struct err_msg e;
			buf_reset(canon);
			buf_reset(scratch);
			memset(&c, 0, sizeof c);
			/* A value that does not parse keeps its text. */
			if (delta_partition_parse(pf, v, &c, scratch, &e) == 0 && !c.null &&
			    delta_partition_text(pf, &c, canon) == 0 && !buf_failed(canon))
				v = canon->data;
		}
		/* \x1e marks null and \x1f ends a value: neither is in a partition value's text. */
		if (v)
			buf_puts(key, v);
		else
			buf_putc(key, '\x1e');
		buf_putc(key, '\x1f');
		if (i)
			buf_putc(name, '/');
		buf_printf(name, "%s=%s", col, v ? v : "__HIVE_DEFAULT_PARTITION__");
	}
	if (!snap->meta.n_partition_columns) { /* one partition, the whole table */
		buf_putc(key, '\x1f');
		buf_puts(name, "(unpartitioned)");
	}
	return buf_failed(key) || buf_failed(name) ? -1 : 0;
}

static int cmp_part(const void *a, const void *b)
{
	const struct part *x = *(struct part *const *)a, *y = *(struct part *const *)b;
	return strcmp(x->key, y->key);
}

/* Does the partition of file f satisfy --where? */
static int partition_matches(const struct optimize *o, const struct delta_file *f)
{
	for (size_t i = 0; i < o->where.n; i++) {
		const struct delta_pred *p = &o->where.p[i];
		struct delta_cell c;
		struct buf scratch = BUF_INIT;
		struct err_msg e;
		int found;
		const char *text =
		    delta_map_get(&f->partition_values, delta_field_file_name(p->f), &found);
		memset(&c, 0, sizeof c);
		c.null = 1;
		int ok = !text || delta_partition_parse(p->f, text, &c, &scratch, &e) == 0;
		int pass = ok && delta_pred_test(p, &c);
		buf_free(&scratch);
		/* A value that does not parse cannot be compared: the partition is not selected. */
		if (!pass)
			return 0;
	}
	return 1;
}

/* Arrival order: modification time, then path. */
static int cmp_file(const void *a, const void *b)
{
	const struct delta_file *x = *(struct delta_file *const *)a;
	const struct delta_file *y = *(struct delta_file *const *)b;
	if (x->modification_time != y->modification_time)
		return x->modification_time < y->modification_time ? -1 : 1;
	return strcmp(x->path, y->path);
}

/*
 * The live files of the snapshot by partition (those --where selects),
 * sorted by partition key and each partition's files in arrival order;
 * *nfiles gets the count of their files.  -1 out of memory.
 */
static int partitions(const struct optimize *o, struct part ***out, size_t *nout, int64_t *nfiles)
{
	const struct delta_snapshot *snap = &o->snap;
	struct strmap byk = STRMAP_INIT;
	struct buf key = BUF_INIT, name = BUF_INIT, canon = BUF_INIT, scratch = BUF_INIT;
	struct part **v = NULL;
	size_t n = 0, cap = 0;
	struct strmap_slot *s;
	size_t i = 0;
	int rc = 0;
	*nfiles = 0;
	while (rc == 0 && (s = strmap_next(&snap->files, &i))) {
		struct delta_file *f = s->value;
		if (part_key(snap, f, &key, &name, &canon, &scratch) < 0) {
			rc = -1;
			break;
		}
		struct part *p = strmap_get(&byk, key.data);
		if (p && p->excluded)
			continue;
		if (!p) {
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct part **nv = realloc(v, nc * sizeof *nv);
				if (!nv) {
					rc = -1;
					break;
				}
				v = nv;
				cap = nc;
			}
			p = calloc(1, sizeof *p);
			if (!p || !(p->key = strdup(key.data)) || !(p->name = strdup(name.data)) ||
			    strmap_put(&byk, p->key, p, NULL) < 0) {
				if (p)
					part_free(p);
				rc = -1;
				break;
			}
			v[n++] = p;
			if ((p->excluded = !partition_matches(o, f)))
				continue;
		}
		if (p->n == p->cap) {
			size_t nc = p->cap ? p->cap * 2 : 16;
			struct delta_file **nf = realloc(p->files, nc * sizeof *nf);
			if (!nf) {
				rc = -1;
				break;
			}
			p->files = nf;
			p->cap = nc;
		}
		p->files[p->n++] = f;
		p->bytes += f->size;
	}
	strmap_free(&byk);
	buf_free(&key);
	buf_free(&name);
	buf_free(&canon);
	buf_free(&scratch);
	if (rc < 0) {
		for (size_t k = 0; k < n; k++)
			part_free(v[k]);
		free(v);
		return -1;
	}
	/* Only the partitions --where selects, and only their files count. */
	size_t kept = 0;
	*nfiles = 0;
	for (size_t k = 0; k < n; k++) {
		if (v[k]->excluded) {
			part_free(v[k]);
			continue;
		}
		*nfiles += (int64_t)v[k]->n;
		v[kept++] = v[k];
	}
	n = kept;
	if (n)
		qsort(v, n, sizeof *v, cmp_part);
	for (size_t k = 0; k < n; k++)
		qsort(v[k]->files, v[k]->n, sizeof *v[k]->files, cmp_file);
	*out = v;
	*nout = n;
	return 0;
}

static void partitions_free(struct part **v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		part_free(v[k]);
	free(v);
}

/* Settings ------------------------------------------------------------------------ */

/* The target size: --target-file-size, delta.targetFileSize, [compact] target_file_size. */
static int resolve_target(struct optimize *o)
{
	struct compact *c = o->c;
	struct err_msg e;
	if (c->target_size > 0) {
		o->target = c->target_size;
		return EX_OK;
	}
	const char *prop = delta_property(&o->snap, "delta.targetFileSize", NULL);
	if (prop) {
		if (config_parse_int(prop, "delta.targetFileSize", 4096, (int64_t)1 << 40,
		                     &o->target, &e) < 0) {
			err_error("%s: %s", c->table, e.text);
			return EX_DATAERR;
		}
		return EX_OK;
	}
	const char *from;
	const char *v =
	    config_value(c->cfg, NULL, NULL, "compact", "target_file_size", NULL, &from);
	if (!v) {
		o->target = DEFAULT_TARGET;
		return EX_OK;
	}
	if (config_parse_int(v, "[compact] target_file_size", 4096, (int64_t)1 << 40, &o->target,
	                     &e) < 0) {
		err_error("%s", e.text);
		return EX_CONFIG;
	}
	return EX_OK;
}

/*
 * Add the column name names, as delta-cat names columns (exactly, else the
 * only one that matches ignoring case), to the sort columns; -1 when there
 * is no such column, -2 when it is nested (a struct, array or map has no
 * order).
 */
static int add_sort_col(struct optimize *o, const char *name)
{
	const struct delta_field *f = delta_schema_column(o->schema, name);
	if (!f)
		return -1;
	if (!delta_type_is_primitive(f->type))
		return -2;
	o->sort_cols[o->nsort++] = (size_t)(f - o->schema->fields);
	return 0;
}

/* Parse a comma-separated list of columns (or a JSON array of names) into the sort columns. */
static int parse_order(struct optimize *o, const char *list, const char *what, int status)
{
	struct err_msg e;
	if (!(o->sort_cols = calloc(o->schema->n + 1, sizeof *o->sort_cols))) {
		err_error("out of memory");
		return EX_SOFTWARE;
	}
	o->nsort = 0;
	if (list[0] == '[') {
		struct json *j = json_parse(list, strlen(list), &e);
		size_t n = j && json_type(j) == JSON_ARRAY ? json_size(j) : 0;
		int bad = !j || json_type(j) != JSON_ARRAY;
		for (size_t i = 0; !bad && i < n && o->nsort < o->schema->n; i++) {
			const char *s = json_str(json_at(j, i));
			bad = !s || add_sort_col(o, s) < 0;
		}
		json_free(j);
		if (bad) {
			err_error(
			    "%s: %s: expected names of the table's primitive columns, got '%s'",
			    o->c->table, what, list);
			return status;
		}
		return EX_OK;
	}
	const char *p = list;
	while (*p && o->nsort < o->schema->n) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		while (n && p[0] == ' ') {
			p++;
			n--;
		}
		while (n && p[n - 1] == ' ')
			n--;
		char *name = strndup(p, n);
		if (!name) {
			err_error("out of memory");
			return EX_SOFTWARE;
		}
		int got = n ? add_sort_col(o, name) : -1;
		free(name);
		if (got < 0) {
			err_error("%s: %s: %s '%.*s'%s", o->c->table, what,
			          got == -2 ? "rows cannot be ordered by the nested column"
			                    : "no column",
			          (int)n, p, got == -2 ? "" : " in the table");
			return status;
		}
		p += n;
		while (*p == ' ')
			p++;
		if (*p == ',')
			p++;
	}
	return EX_OK;
}

/* The order of the rows: --order-by, stocketl.mergeKey, or the tick tables' symbol and time. */
static int resolve_order(struct optimize *o)
{
	if (o->c->order_by)
		return parse_order(o, o->c->order_by, "--order-by", EX_USAGE);
	const char *key = delta_property(&o->snap, "stocketl.mergeKey", NULL);
	if (key)
		return parse_order(o, key, "stocketl.mergeKey", EX_DATAERR);
	if (delta_schema_find(o->schema, "symbol") &&
	    delta_schema_find(o->schema, "trade_timestamp"))
		return parse_order(o, "symbol,trade_timestamp", "the tick order", EX_SOFTWARE);
	return EX_OK;
}

/*
 * --where: parsed and bound to the partition columns, the only ones it may
 * name (optimize selects partitions; it never splits one).
 */
static int resolve_where(struct optimize *o)
{
	struct compact *c = o->c;
	struct err_msg e;
	if (!c->where)
		return EX_OK;
	if (delta_where_parse(c->where, &o->where, &e) < 0) {
		err_error("%s", e.text);
		return e.status;
	}
	const struct delta_metadata *m = &o->snap.meta;
	for (size_t i = 0; i < o->where.n; i++) {
		struct delta_pred *p = &o->where.p[i];
		/* Named as delta-cat names columns: exactly, else the only one ignoring case. */
		const struct delta_field *named = delta_schema_column(o->schema, p->column);
		const char *name = named ? named->name : p->column;
		size_t k = 0;
		while (k < m->n_partition_columns && strcmp(m->partition_columns[k], name) != 0)
			k++;
		if (k == m->n_partition_columns) {
			err_error("--where: '%s' is not a partition column of %s (optimize selects "
			          "whole partitions)",
			          p->column, c->table);
			return EX_USAGE;
		}
		p->f = delta_schema_find(o->schema, m->partition_columns[k]);
		p->col = (int)k;
		if (!p->f) {
			err_error("%s: partition column '%s' is not in the schema", c->table,
			          m->partition_columns[k]);
			return EX_DATAERR;
		}
	}
	if (delta_where_bind(&o->where, &e) < 0) {
		err_error("%s", e.text);
		return e.status;
	}
	return EX_OK;
}

/* Rewriting ------------------------------------------------------------------------ */

/* Read every row of file f into the writer; the rows read are added to *rows. */
static int copy_rows(struct optimize *o, struct delta_writer *w, const struct delta_file *f,
                     int64_t *rows, struct err_msg *e)
{
	struct delta_rows *r = delta_rows_open(o->c->root, f, o->cols, o->schema->n, NULL, e);
	if (!r)
		return -1;
	const struct delta_value *row;
	int got;
	while ((got = delta_rows_next(r, &row, e)) == 1) {
		for (size_t i = 0; i < o->schema->n; i++)
			o->cells[i] = row[i].c;
		/* Nested values are encoded into cells (delta_nested.h); most tables have none. */
		for (size_t i = 0; o->has_nested && i < o->schema->n && got == 1; i++)
			if (delta_value_to_cell(&o->schema->fields[i], &row[i], &o->cells[i],
			                        &o->nested[i]) < 0) {
				err_set(e, EX_SOFTWARE, "out of memory");
				got = -1;
			}
		if (got < 0)
			break;
		if (delta_writer_put(w, o->cells, e) < 0) {
			got = -1;
			break;
		}
		(*rows)++;
	}
	delta_rows_close(r);
	return got < 0 ? -1 : 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* A JSON array of one string, as Spark records its predicates. */
static int predicate_param(const char *where, struct buf *out)
{
	buf_reset(out);
	if (!where)
		return buf_puts(out, "[]");
	buf_putc(out, '[');
	buf_json_str(out, where, strlen(where));
	buf_putc(out, ']');
	return buf_failed(out) ? -1 : 0;
}

/*
 * Stage and commit the group: removes of the inputs, adds of the files
 * the writer finished (made durable first), and the metrics.  Returns an
 * exit status.
 */
static int commit_group(struct optimize *o, struct delta_writer *w, struct delta_file **inputs,
                        size_t ninputs, int64_t rows_in, size_t nparts)
{
	struct compact *c = o->c;
	struct delta_commit_info info;
	struct err_msg e;
	struct buf pred = BUF_INIT;
	size_t nout;
	const struct delta_written *out = delta_writer_files(w, &nout);
	int64_t rows_out = 0, removed_bytes = 0, added_bytes = 0, dvs = 0;
	int64_t *sizes = calloc(nout + 1, sizeof *sizes);
	struct delta_txn *t = delta_txn_begin(&o->snap, c->store, "OPTIMIZE");
	int bad = !t || !sizes || predicate_param(c->where, &pred) < 0;
	for (size_t i = 0; !bad && i < nout; i++) {
		struct delta_file f = out[i].file;
		f.data_change = 0;
		rows_out += out[i].rows;
		added_bytes += f.size;
		sizes[i] = f.size;
		bad = delta_txn_add(t, &f) < 0;
	}
	for (size_t i = 0; !bad && i < ninputs; i++) {
		removed_bytes += inputs[i]->size;
		dvs += inputs[i]->has_deletion_vector;
		bad = delta_txn_remove(t, inputs[i], c->now_ms, 0) < 0;
	}
	if (!bad && nout)
		qsort(sizes, nout, sizeof *sizes, cmp_i64);
	if (!bad) {
		bad |= delta_txn_param(t, "predicate", pred.data);
		bad |= delta_txn_param(t, "zOrderBy", "[]");
		bad |= delta_txn_param(t, "auto", "false");
		bad |= delta_txn_metric_i64(t, "numRemovedFiles", (int64_t)ninputs);
		bad |= delta_txn_metric_i64(t, "numRemovedBytes", removed_bytes);
		bad |= delta_txn_metric_i64(t, "numAddedFiles", (int64_t)nout);
		bad |= delta_txn_metric_i64(t, "numAddedBytes", added_bytes);
		bad |= delta_txn_metric_i64(t, "minFileSize", nout ? sizes[0] : 0);
		bad |= delta_txn_metric_i64(t, "p25FileSize", nout ? sizes[nout / 4] : 0);
		bad |= delta_txn_metric_i64(t, "p50FileSize", nout ? sizes[nout / 2] : 0);
		bad |= delta_txn_metric_i64(t, "p75FileSize", nout ? sizes[nout * 3 / 4] : 0);
		bad |= delta_txn_metric_i64(t, "maxFileSize", nout ? sizes[nout - 1] : 0);
		/* The files rewritten with the rows their vectors deleted left out. */
		bad |= delta_txn_metric_i64(t, "numDeletionVectorsRemoved", dvs);
	}
	free(sizes);
	buf_free(&pred);
	if (bad) {
		delta_txn_free(t);
		delta_writer_discard(w);
		err_error("out of memory");
		return EX_SOFTWARE;
	}
	if (delta_writer_sync(w, &e) < 0) {
		/* A commit must never name a file that a crash could still lose. */
		delta_txn_free(t);
		delta_writer_discard(w);
		err_error("%s", e.text);
		return e.status ? e.status : EX_IOERR;
	}
	if (rows_out != rows_in) {
		/* Never commit a rewrite that lost or made up rows. */
		delta_txn_free(t);
		delta_writer_discard(w);
		err_error("%s: the new files hold %" PRId64 " rows, the old ones %" PRId64
		          "; nothing committed",
		          c->table, rows_out, rows_in);
		return EX_SOFTWARE;
	}
	int rc = delta_txn_commit(t, &info, &e);
	delta_txn_free(t);
	if (info.version >= 0) {
		/* Whatever else went wrong, the version names the files: they stay. */
		delta_writer_release(w);
		compact_created(c, info.version);
		o->t.removed += (int64_t)ninputs;
		o->t.removed_bytes += removed_bytes;
		o->t.added += (int64_t)nout;
		o->t.added_bytes += added_bytes;
		o->t.rows += rows_in;
		o->t.partitions += (int64_t)nparts;
		err_info("committed version %" PRId64 ": %zu files rewritten into %zu (%" PRId64
		         " rows)",
		         info.version, ninputs, nout, rows_in);
	} else {
		delta_writer_discard(w);
	}
	if (info.unsynced)
		err_warn("%s", info.sync_err.text);
	if (info.checkpoint < 0)
		err_warn("%s", info.checkpoint_err.text);
	if (rc < 0) {
		if (info.conflict) {
			/* The caller plans again, or says so when it may not. */
			o->conflict = 1;
			o->conflict_e = e;
		} else {
			err_error("%s", e.text);
		}
		return e.status ? e.status : EX_SOFTWARE;
	}
	return EX_OK;
}

/* A group being rewritten: its inputs, counts, and what the writer holds open. */
struct group {
	struct delta_file **inputs;
	size_t n, cap;
	int64_t bytes, rows;
	int64_t open_bytes; /* input of the files the writer has not finished */
	int64_t out_bytes;  /* output of the files it finished */
	size_t parts;
};

/*
 * How much input makes a file of the target size: the target over the
 * ratio of output to input bytes seen so far in this run (many small
 * files rewritten as one lose their footers and compress better), one for
 * one until a file is finished, and at most MAX_RATIO times the target.
 */
#define MAX_RATIO  64
/* At most this many passes over the table in one run (see compact_optimize). */
#define MAX_PASSES 4
static int64_t bin_capacity(const struct optimize *o, const struct group *g)
{
	int64_t in = o->t.removed_bytes - o->pass_removed_bytes + g->bytes - g->open_bytes;
	int64_t out = o->t.added_bytes - o->pass_added_bytes + g->out_bytes;
	if (in <= 0 || out <= 0 || out >= in)
		return o->target;
	if (out * MAX_RATIO <= in)
		return o->target * MAX_RATIO;
	return (int64_t)((double)o->target * (double)in / (double)out);
}

/* Finish the files the writer holds open, and learn their size. */
static int finish_open(struct delta_writer *w, struct group *g)
{
	struct err_msg e;
	if (delta_writer_finish(w, &e) < 0) {
		err_error("%s", e.text);
		return e.status ? e.status : EX_IOERR;
	}
	size_t n;
	const struct delta_written *f = delta_writer_files(w, &n);
	g->out_bytes = 0;
	for (size_t i = 0; i < n; i++)
		g->out_bytes += f[i].file.size;
	g->open_bytes = 0;
	return EX_OK;
}

static int add_input(struct group *g, struct delta_file *f)
{
	if (g->n == g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 256;
		struct delta_file **ni = realloc(g->inputs, nc * sizeof *ni);
		if (!ni)
			return -1;
		g->inputs = ni;
		g->cap = nc;
	}
	g->inputs[g->n++] = f;
	g->bytes += f->size;
	g->open_bytes += f->size;
	return 0;
}

/*
 * Rewrite the candidates of partition p (its files below three quarters of
 * the target) bin by bin: a bin is a run of candidates, in arrival order,
 * whose input makes about one file of the target size, and becomes that
 * one file; a bin of one file is left alone.  A file near the target that
 * arrived between two candidates is no candidate and parts no bin: else
 * small files on either side of it would never be merged.  A second bin
 * of the partition first finishes the file of the one before (the writer
 * keeps one open file per partition), which also teaches the bin
 * capacity, as does holding too much in memory.
 */
static int rewrite_partition(struct optimize *o, struct delta_writer *w, const struct part *p,
                             struct group *g)
{
	struct err_msg e;
	int64_t small = o->target / 4 * 3;
	size_t i = 0, n = 0, bins = 0, files = 0;
	int rc = EX_OK;
	struct delta_file **cand = malloc((p->n + 1) * sizeof *cand);
	if (!cand) {
		err_error("out of memory");
		return EX_SOFTWARE;
	}
	for (size_t k = 0; k < p->n; k++)
		if (p->files[k]->size < small)
			cand[n++] = p->files[k];
	while (i < n && rc == EX_OK) {
		if (bins > 0 && g->open_bytes > 0 && (rc = finish_open(w, g)) != EX_OK)
			break;
		int64_t cap = bin_capacity(o, g), sum = 0;
		size_t start = i;
		while (i < n && (i == start || sum + cand[i]->size <= cap))
			sum += cand[i++]->size;
		if (i - start < 2)
			continue;
		if (g->open_bytes > 0 && g->open_bytes + sum > OPEN_BYTES &&
		    (rc = finish_open(w, g)) != EX_OK)
			break;
		err_debug("%s: %zu files (%" PRId64 " bytes) into one", p->name, i - start, sum);
		for (size_t k = start; k < i && rc == EX_OK; k++) {
			if (add_input(g, cand[k]) < 0) {
				err_error("out of memory");
				rc = EX_SOFTWARE;
			} else if (copy_rows(o, w, cand[k], &g->rows, &e) < 0) {
				err_error("%s", e.text);
				rc = e.status ? e.status : EX_IOERR;
			}
		}
		bins++;
		files += i - start;
	}
	free(cand);
	if (rc == EX_OK && bins) {
		g->parts++;
		err_info("%s: %zu files rewritten into %zu", p->name, files, bins);
	}
	return rc;
}

/*
 * Rewrite partitions parts[from..) until the group is full, and commit
 * them; *next gets the first partition not done.  Returns an exit status.
 */
static int rewrite_group(struct optimize *o, struct delta_writer *w, struct part **parts,
                         size_t nparts, size_t from, size_t *next)
{
	struct group g;
	memset(&g, 0, sizeof g);
	int rc = EX_OK;
	size_t k = from;
	for (; k < nparts && rc == EX_OK; k++) {
		if ((int64_t)g.n >= GROUP_FILES || g.bytes >= GROUP_BYTES)
			break;
		rc = rewrite_partition(o, w, parts[k], &g);
	}
	*next = k;
	if (rc == EX_OK && g.n && (rc = finish_open(w, &g)) == EX_OK)
		rc = commit_group(o, w, g.inputs, g.n, g.rows, g.parts);
	if (rc != EX_OK)
		delta_writer_discard(w);
	free(g.inputs);
	return rc;
}

/* The live files of the table and their bytes. */
static void table_size(const struct delta_snapshot *snap, int64_t *files, int64_t *bytes)
{
	struct strmap_slot *s;
	size_t i = 0;
	*files = *bytes = 0;
	while ((s = strmap_next(&snap->files, &i))) {
		(*files)++;
		*bytes += ((const struct delta_file *)s->value)->size;
	}
}

/* The whole run ---------------------------------------------------------------------- */

static int setup_columns(struct optimize *o)
{
	const struct delta_metadata *m = &o->snap.meta;
	o->has_nested = 0;
	o->cols = calloc(o->schema->n + 1, sizeof *o->cols);
	o->cells = calloc(o->schema->n + 1, sizeof *o->cells);
	o->nested = calloc(o->schema->n + 1, sizeof *o->nested);
	if (!o->cols || !o->cells || !o->nested) {
		err_error("out of memory");
		return EX_SOFTWARE;
	}
	for (size_t i = 0; i < o->schema->n; i++) {
		o->cols[i].f = &o->schema->fields[i];
		o->has_nested |= delta_type_is_nested(o->schema->fields[i].type);
		for (size_t k = 0; k < m->n_partition_columns; k++)
			if (strcmp(m->partition_columns[k], o->schema->fields[i].name) == 0)
				o->cols[i].partition = 1;
	}
	return EX_OK;
}

/* What the first plan found, and the table as the last attempt left it, for the summary. */
struct run {
	int planned;
	size_t nparts;
	int64_t files_before, bytes_before, table_files, table_bytes;
	int64_t files_after, bytes_after;
	char tsize[32];
};

/*
 * One attempt: plan from the latest version, rewrite and commit group by
 * group.  The totals carry over from the attempts before; an attempt whose
 * commit lost to another writer's rewrite of the same files returns with
 * o->conflict set, its committed groups done.
 */
static int optimize_once(struct compact *c, struct optimize *o, struct run *r)
{
	struct err_msg e;
	int rc = compact_load(c, 1, &o->snap);
	if (rc != EX_OK)
		return rc;
	o->schema = &o->snap.meta.schema;
	struct delta_writer *w = NULL;
	struct part **parts = NULL;
	size_t nparts = 0;
	int64_t files_before = 0, bytes_before = 0;
	if ((rc = resolve_target(o)) != EX_OK || (rc = resolve_order(o)) != EX_OK ||
	    (rc = resolve_where(o)) != EX_OK || (rc = setup_columns(o)) != EX_OK)
		goto out;
	if (partitions(o, &parts, &nparts, &files_before) < 0) {
		err_error("out of memory");
		rc = EX_SOFTWARE;
		goto out;
	}
	for (size_t k = 0; k < nparts; k++)
		bytes_before += parts[k]->bytes;
	if (!r->planned) {
		r->planned = 1;
		r->nparts = nparts;
		r->files_before = files_before;
		r->bytes_before = bytes_before;
		table_size(&o->snap, &r->table_files, &r->table_bytes);
		compact_size_text(o->target, r->tsize, sizeof r->tsize);
		err_info("%s: %" PRId64 " file%s in %zu partition%s; target %s", c->table,
		         files_before, files_before == 1 ? "" : "s", nparts, nparts == 1 ? "" : "s",
		         r->tsize);
	}
	struct delta_writer_opts wo;
	delta_writer_opts_init(&wo);
	/* A bin is one file: the writer never cuts one (a bin's input is within reach of the target). */
	wo.target_size = o->target * (MAX_RATIO + 1);
	wo.max_open = (size_t)(OPEN_BYTES / o->target > 0 ? OPEN_BYTES / o->target : 1);
	if (wo.max_open > 16)
		wo.max_open = 16;
	wo.stats_cols = delta_stats_columns(&o->snap);
	wo.sort_cols = o->sort_cols;
	wo.nsort = o->nsort;
	wo.column_mapping = delta_column_mapping_mode(&o->snap);
	w = delta_writer_new(c->root, o->schema, o->snap.meta.partition_columns,
	                     o->snap.meta.n_partition_columns, &wo, &e);
	if (!w) {
		err_error("%s", e.text);
		rc = e.status ? e.status : EX_SOFTWARE;
		goto out;
	}
	/*
	 * Group by group, each planned from the snapshot as the last commit
	 * left it: partitions are found again by key, with the files other
	 * writers added meanwhile.
	 */
	size_t done = 0;
	while (rc == EX_OK && done < nparts) {
		size_t next = done;
		struct part **now = NULL;
		size_t nnow = 0;
		int64_t ignored;
		if (partitions(o, &now, &nnow, &ignored) < 0) {
			err_error("out of memory");
			rc = EX_SOFTWARE;
			break;
		}
		/* The current partitions from the first one not done, by key. */
		size_t from = 0;
		while (from < nnow && strcmp(now[from]->key, parts[done]->key) < 0)
			from++;
		rc = rewrite_group(o, w, now, nnow, from, &next);
		/* Map the position reached back onto the partitions of the first plan. */
		const char *stop = next < nnow ? now[next]->key : NULL;
		while (done < nparts && (!stop || strcmp(parts[done]->key, stop) < 0))
			done++;
		partitions_free(now, nnow);
	}
	/* The table now, with what other writers added meanwhile. */
	table_size(&o->snap, &r->files_after, &r->bytes_after);
out:
	if (w)
		delta_writer_free(w);
	partitions_free(parts, nparts);
	delta_where_free(&o->where);
	free(o->sort_cols);
	free(o->cols);
	free(o->cells);
	for (size_t i = 0; o->nested && i < o->schema->n; i++)
		buf_free(&o->nested[i]);
	free(o->nested);
	o->nested = NULL;
	delta_snapshot_free(&o->snap);
	o->sort_cols = NULL;
	o->nsort = 0;
	o->cols = NULL;
	o->cells = NULL;
	return rc;
}

/*
 * Optimize, planned again from the latest version after a conflict (a
 * writer that rewrote or removed files of a group first: an upsert, or
 * another optimize), up to [delta] commit_retries times as delta-append.
 */
int compact_optimize(struct compact *c)
{
	struct optimize o;
	struct run r;
	struct err_msg e;
	int64_t retries;
	const char *from;
	memset(&o, 0, sizeof o);
	memset(&r, 0, sizeof r);
	o.c = c;
	const char *v = config_value(c->cfg, NULL, NULL, "delta", "commit_retries", "15", &from);
	if (config_parse_int(v, "[delta] commit_retries", 0, 10000, &retries, &e) < 0) {
		err_error("%s", e.text);
		return EX_CONFIG;
	}
	int rc, passes = 0;
	int64_t attempt = 0, parts = 0;
	for (;;) {
		int64_t removed = o.t.removed, parts_before = o.t.partitions;
		o.conflict = 0;
		o.pass_removed_bytes = o.t.removed_bytes;
		o.pass_added_bytes = o.t.added_bytes;
		rc = optimize_once(c, &o, &r);
		/* the partitions rewritten: as many as the pass that rewrote the most */
		if (o.t.partitions - parts_before > parts)
			parts = o.t.partitions - parts_before;
		/*
		 * Another pass while the last one rewrote something: the first
		 * bin of a pass and the last of a partition may come out small,
		 * and are merged now rather than by the next run, so that a
		 * second run finds nothing to do.  Each pass turns two files or
		 * more into one, so the passes come to rest.
		 */
		if (rc == EX_OK) {
			if (o.t.removed > removed)
				passes++;
			if (o.t.removed == removed || passes == MAX_PASSES)
				break;
			continue;
		}
		if (!o.conflict)
			break;
		if (attempt++ >= retries) {
			attempt--;
			err_error("%s (a conflict: another writer rewrote or deleted these files "
			          "first; the new files were removed; %" PRId64 " retr%s spent, "
			          "[delta] commit_retries)",
			          o.conflict_e.text, retries, retries == 1 ? "y" : "ies");
			break;
		}
		err_info("%s: optimize: another writer rewrote files of this group first (%s); "
		         "planning again from the latest version (retry %" PRId64 " of %" PRId64
		         ")",
		         c->table, o.conflict_e.text, attempt, retries);
	}
	char before[32], after[32], added[32], removed[32];
	if (o.t.removed == 0 && rc == EX_OK) {
		compact_size_text(r.bytes_before, before, sizeof before);
		err_warn("%s: optimize: nothing to rewrite among %" PRId64
		         " file%s (%s) in %zu partition%s (target %s)",
		         c->table, r.files_before, r.files_before == 1 ? "" : "s", before, r.nparts,
		         r.nparts == 1 ? "" : "s", r.tsize);
	} else if (o.t.removed) {
		compact_size_text(r.bytes_after, after, sizeof after);
		compact_size_text(r.table_bytes, before, sizeof before);
		compact_size_text(o.t.removed_bytes, removed, sizeof removed);
		compact_size_text(o.t.added_bytes, added, sizeof added);
		char in_passes[32] = "";
		if (passes > 1)
			snprintf(in_passes, sizeof in_passes, " in %d passes", passes);
		err_warn("%s: optimize: %" PRId64 " files (%s) rewritten into %" PRId64
		         " (%s) in %" PRId64 " partition%s%s, %" PRId64
		         " rows; the table had %" PRId64 " files (%s), now %" PRId64 " (%s)",
		         c->table, o.t.removed, removed, o.t.added, added, parts,
		         parts == 1 ? "" : "s", in_passes, o.t.rows, r.table_files, before,
		         r.files_after, after);
	}
	return rc;
}

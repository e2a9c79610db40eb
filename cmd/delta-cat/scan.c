/*
 * scan: read one data file of a table into rows of the table's columns.
 *
 * A file is first judged without opening it: its partition values decide
 * the predicates on partition columns exactly, and its add.stats may show
 * that no row can match.  Then the footer is read, columns are looked up by
 * name (a column the file lacks, as after a schema change, is null, and so
 * are partition columns that Spark leaves out of its files), and row groups
 * whose footer statistics rule out a match are skipped.
 *
 * Flat columns are read with the columnar API, batch by batch, each column
 * at its own pace (pages end at different rows); nested columns come from
 * the row API, which is told to assemble only them and to skip the same
 * row groups, so both advance one row at a time in step.  Values are
 * converted to the table's types as they are read: the Parquet reader
 * already gives one representation per logical type (timestamps in
 * microseconds whatever the file stores), so what remains is widening
 * (int to long or double, float to double, a decimal to a larger scale,
 * a date to timestamp_ntz) for files written before a type change.
 */
#include "deltacat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "text/decimal.h"
#include "text/ts.h"

#define BATCH_ROWS 4096

/* Conversions ---------------------------------------------------------------- */

int dc_conv_pick(const struct delta_field *f, const struct pq_field *pf, int *conv, int *shift)
{
	enum pq_type t = pf->type;
	int small_int = t == PQ_BYTE || t == PQ_SHORT || t == PQ_INT;
	*shift = 0;
	switch (f->type) {
	case DT_BOOLEAN:
		*conv = DC_CV_BOOL;
		return t == PQ_BOOLEAN ? 0 : -1;
	case DT_BYTE:
	case DT_SHORT:
	case DT_INTEGER:
		*conv = DC_CV_I32;
		return small_int ? 0 : -1;
	case DT_LONG:
		*conv = small_int ? DC_CV_I32 : DC_CV_I64;
		return small_int || t == PQ_LONG ? 0 : -1;
	case DT_FLOAT:
		*conv = DC_CV_F32;
		return t == PQ_FLOAT ? 0 : -1;
	case DT_DOUBLE:
		*conv = t == PQ_FLOAT    ? DC_CV_F32
		        : t == PQ_DOUBLE ? DC_CV_F64
		        : small_int      ? DC_CV_I32_F
		                         : DC_CV_I64_F;
		return t == PQ_FLOAT || t == PQ_DOUBLE || small_int || t == PQ_LONG ? 0 : -1;
	case DT_STRING:
	case DT_BINARY:
		*conv = DC_CV_BYTES;
		return t == PQ_STRING || t == PQ_BINARY ? 0 : -1;
	case DT_DATE:
		*conv = DC_CV_I32;
		return t == PQ_DATE ? 0 : -1;
	case DT_TIMESTAMP:
	case DT_TIMESTAMP_NTZ:
		if (t == PQ_DATE && f->type == DT_TIMESTAMP_NTZ) {
			*conv = DC_CV_DATE_TS;
			return 0;
		}
		*conv = DC_CV_I64;
		return t == PQ_TIMESTAMP || t == PQ_TIMESTAMP_NTZ ? 0 : -1;
	case DT_DECIMAL:
		if (t == PQ_DECIMAL) {
			*conv = DC_CV_DEC;
			*shift = f->scale - pf->scale;
			return *shift >= 0 ? 0 : -1;
		}
		*conv = small_int ? DC_CV_I32_DEC : DC_CV_I64_DEC;
		*shift = f->scale;
		return small_int || t == PQ_LONG ? 0 : -1;
	default:
		return -1;
	}
}

void dc_conv_raw(int conv, int shift, const void *p, struct delta_cell *c)
{
	int32_t i32;
	int64_t i64;
	float f32;
	pq_int128 dec;
	struct pq_bytes b;
	c->null = 0;
	switch (conv) {
	case DC_CV_BOOL:
		c->i = *(const uint8_t *)p != 0;
		break;
	case DC_CV_I32:
		memcpy(&i32, p, 4);
		c->i = i32;
		break;
	case DC_CV_I64:
		memcpy(&c->i, p, 8);
		break;
	case DC_CV_I32_F:
		memcpy(&i32, p, 4);
		c->d = i32;
		break;
	case DC_CV_I64_F:
		memcpy(&i64, p, 8);
		c->d = (double)i64;
		break;
	case DC_CV_F32:
		memcpy(&f32, p, 4);
		c->d = f32;
		break;
	case DC_CV_F64:
		memcpy(&c->d, p, 8);
		break;
	case DC_CV_BYTES:
		memcpy(&b, p, sizeof b);
		c->s = b.p ? (const char *)b.p : "";
		c->n = b.len;
		break;
	case DC_CV_DEC:
		memcpy(&dec, p, sizeof dec);
		c->dec = shift ? dec * dec_pow10(shift) : dec;
		break;
	case DC_CV_I32_DEC:
		memcpy(&i32, p, 4);
		c->dec = (pq_int128)i32 * dec_pow10(shift);
		break;
	case DC_CV_I64_DEC:
		memcpy(&i64, p, 8);
		c->dec = (pq_int128)i64 * dec_pow10(shift);
		break;
	default: /* DC_CV_DATE_TS */
		memcpy(&i32, p, 4);
		c->i = (int64_t)i32 * TS_US_PER_DAY;
		break;
	}
}

void dc_conv_value(int conv, int shift, const struct pq_value *v, struct delta_cell *c)
{
	memset(c, 0, sizeof *c);
	if (v->kind == PQ_V_NULL) {
		c->null = 1;
		return;
	}
	if (conv == DC_CV_BOOL) {
		c->i = v->b != 0;
		return;
	}
	/* The union's members all start at its address. */
	dc_conv_raw(conv, shift, &v->i64, c);
}

/* Size of one value of a kind in a column batch. */
static size_t kind_size(enum pq_vkind k)
{
	switch (k) {
	case PQ_V_BOOL:
		return 1;
	case PQ_V_I32:
	case PQ_V_F32:
		return 4;
	case PQ_V_I64:
	case PQ_V_F64:
		return 8;
	case PQ_V_BYTES:
		return sizeof(struct pq_bytes);
	default:
		return sizeof(pq_int128);
	}
}

/* Column lookup ---------------------------------------------------------------- */

/* The child of parent named name (exactly, else ignoring case); its position in *pos. */
static int find_child(const struct pq_schema *s, int parent, const char *name, int *pos)
{
	const struct pq_field *p = pq_schema_field(s, parent);
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < p->nchildren; i++) {
			const char *n = pq_schema_field(s, p->children[i])->name;
			if (pass == 0 ? strcmp(n, name) == 0 : strcasecmp(n, name) == 0) {
				if (pos)
					*pos = i;
				return p->children[i];
			}
		}
	return -1;
}

static int mismatch(struct err_msg *e, const char *file, const char *column,
                    const struct delta_field *f, const struct pq_field *pf)
{
	char type[64];
	delta_field_type_name(f, type, sizeof type);
	err_set(e, EX_DATAERR, "%s: column %s is %s in the table but %s in the file", file, column,
	        type, pq_type_name(pf->type));
	return -1;
}

static void nplan_free(struct dc_nplan *np)
{
	for (size_t i = 0; i < np->nkids; i++)
		nplan_free(&np->kids[i]);
	free(np->kids);
	free(np->item);
	memset(np, 0, sizeof *np);
}

/* Map table field f onto file field pf (path names it in messages). */
static int nplan_build(const struct delta_field *f, const struct pq_schema *s, int pf,
                       struct dc_nplan *np, const char *file, const char *path, struct err_msg *e)
{
	const struct pq_field *q = pq_schema_field(s, pf);
	memset(np, 0, sizeof *np);
	int want = f->type == DT_STRUCT  ? PQ_STRUCT
	           : f->type == DT_ARRAY ? PQ_LIST
	           : f->type == DT_MAP   ? PQ_MAP
	                                 : -1;
	if (f->type == DT_VOID) {
		np->absent = 1;
		return 0;
	}
	if (want < 0) {
		if (q->leaf < 0 || dc_conv_pick(f, q, &np->conv, &np->shift) < 0)
			return mismatch(e, file, path, f, q);
		return 0;
	}
	if ((int)q->type != want)
		return mismatch(e, file, path, f, q);
	np->nkids = f->nchildren;
	np->kids = calloc(f->nchildren ? f->nchildren : 1, sizeof *np->kids);
	np->item = calloc(f->nchildren ? f->nchildren : 1, sizeof *np->item);
	if (!np->kids || !np->item) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < f->nchildren; i++) {
		const struct delta_field *c = &f->children[i];
		char sub[512];
		snprintf(sub, sizeof sub, "%s.%s", path, c->name);
		int k = -1, child;
		if (f->type == DT_STRUCT) {
			child = find_child(s, pf, c->name, &k);
		} else {
			k = (int)i;
			child = k < q->nchildren ? q->children[k] : -1;
		}
		np->item[i] = child < 0 ? -1 : k;
		if (child < 0) {
			/* A struct field added to the table after the file was written. */
			np->kids[i].absent = 1;
			continue;
		}
		if (nplan_build(c, s, child, &np->kids[i], file, sub, e) < 0)
			return -1;
	}
	return 0;
}

/* Reading a file -------------------------------------------------------------- */

enum { SRC_NULL, SRC_PART, SRC_FLAT, SRC_NESTED };

struct fcol {
	int src;
	int leaf, field, item;
	int conv, shift;
	size_t ksize;
	struct dc_nplan np;
	struct pq_column *pc;
	struct pq_column_batch b;
	size_t pos;
};

struct file_state {
	struct dc_val *vals;
	struct fcol *fc;
	struct buf *pscratch; /* per column: its partition value */
	struct dc_bounds *bounds;
	struct buf *bscratch; /* per predicate: unescaped statistics */
	unsigned char *keep;  /* per row group */
	const char **paths;
	struct pq_reader *r;
	struct buf path;
};

static void file_state_free(struct file_state *st, size_t ncols, size_t npreds)
{
	for (size_t i = 0; st->fc && i < ncols; i++) {
		pq_column_close(st->fc[i].pc);
		nplan_free(&st->fc[i].np);
	}
	for (size_t i = 0; st->pscratch && i < ncols; i++)
		buf_free(&st->pscratch[i]);
	for (size_t i = 0; st->bscratch && i < npreds; i++)
		buf_free(&st->bscratch[i]);
	free(st->vals);
	free(st->fc);
	free(st->pscratch);
	free(st->bounds);
	free(st->bscratch);
	free(st->keep);
	free(st->paths);
	pq_reader_close(st->r);
	buf_free(&st->path);
}

/*
 * Where a data file is: add.path is relative to the table root, or an
 * absolute URI, of which only local files (file:) can be read here.
 */
static int file_path(const char *root, const char *path, struct buf *out, struct err_msg *e)
{
	if (strncmp(path, "file://", 7) == 0)
		path += 7;
	else if (strncmp(path, "file:", 5) == 0)
		path += 5;
	else if (strstr(path, "://")) {
		err_set(e, EX_DATAERR, "%s: data file %s is not on the local file system", root,
		        path);
		return -1;
	}
	if (path[0] == '/')
		return buf_puts(out, path);
	return buf_printf(out, "%s/%s", root, path);
}

/* Bounds of column c over row group g, from the footer. */
static void rg_bounds(struct pq_reader *r, int g, const struct fcol *fc, struct dc_bounds *b)
{
	memset(b, 0, sizeof *b);
	b->nulls = b->rows = -1;
	int64_t rows = pq_reader_row_group_rows(r, g);
	if (fc->src == SRC_NULL) {
		b->nulls = b->rows = rows;
		return;
	}
	struct pq_stats st;
	if (fc->src != SRC_FLAT || pq_reader_stats(r, g, fc->leaf, &st) < 0)
		return;
	b->rows = rows;
	b->nulls = st.null_count;
	if (st.has_min_max) {
		dc_conv_value(fc->conv, fc->shift, &st.min, &b->lo);
		dc_conv_value(fc->conv, fc->shift, &st.max, &b->hi);
		b->has_lo = !b->lo.null;
		b->has_hi = !b->hi.null;
	}
}

/* The next value of a flat column into cell c. */
static int flat_next(struct fcol *fc, struct delta_cell *c, struct err_msg *e)
{
	if (fc->pos >= fc->b.n) {
		ssize_t k = pq_column_read(fc->pc, &fc->b, BATCH_ROWS, e);
		if (k < 0)
			return -1;
		if (k == 0) {
			err_set(e, EX_DATAERR, "a column ends before its row group");
			return -1;
		}
		fc->pos = 0;
	}
	size_t i = fc->pos++;
	if (fc->b.valid && !fc->b.valid[i]) {
		c->null = 1;
		return 0;
	}
	dc_conv_raw(fc->conv, fc->shift, fc->b.b + i * fc->ksize, c);
	return 0;
}

/* Do the row's values pass the predicates that the file could not decide? */
static int row_passes(const struct dc_scan *s, const struct file_state *st)
{
	const struct dc_where *w = s->where;
	for (size_t i = 0; w && i < w->n; i++) {
		const struct dc_pred *p = &w->p[i];
		if (s->cols[p->col].partition)
			continue; /* decided for the whole file */
		const struct dc_val *v = &st->vals[p->col];
		if (!delta_type_is_primitive(p->f->type)) {
			struct delta_cell c = {.null = v->v == NULL};
			if (!dc_pred_test(p, &c))
				return 0;
		} else if (!dc_pred_test(p, &v->c)) {
			return 0;
		}
	}
	return 1;
}

/* Map the table's columns onto the file's. */
static int map_columns(struct dc_scan *s, struct file_state *st, const char *name, size_t *nnested,
                       struct err_msg *e)
{
	const struct pq_schema *sch = pq_reader_schema(st->r);
	*nnested = 0;
	for (size_t i = 0; i < s->ncols; i++) {
		const struct delta_field *f = s->cols[i].f;
		struct fcol *fc = &st->fc[i];
		if (s->cols[i].partition)
			continue;
		st->vals[i].c.null = 1;
		fc->src = SRC_NULL;
		int pf = f->type == DT_VOID ? -1 : find_child(sch, PQ_ROOT, f->name, NULL);
		if (pf < 0)
			continue;
		const struct pq_field *q = pq_schema_field(sch, pf);
		fc->field = pf;
		if (delta_type_is_primitive(f->type)) {
			if (q->leaf < 0 || dc_conv_pick(f, q, &fc->conv, &fc->shift) < 0)
				return mismatch(e, name, f->name, f, q);
			fc->src = SRC_FLAT;
			fc->leaf = q->leaf;
			fc->ksize = kind_size(pq_type_kind(q->type));
			continue;
		}
		if (nplan_build(f, sch, pf, &fc->np, name, f->name, e) < 0)
			return -1;
		fc->src = SRC_NESTED;
		st->paths[(*nnested)++] = q->name;
	}
	return 0;
}

/* Which row groups can hold a match (st->keep). */
static void choose_row_groups(struct dc_scan *s, struct file_state *st, int ng)
{
	const struct dc_where *w = s->where;
	for (int g = 0; g < ng; g++) {
		st->keep[g] = pq_reader_row_group_rows(st->r, g) > 0;
		if (!st->keep[g])
			continue;
		s->row_groups++;
		for (size_t i = 0; w && i < w->n; i++) {
			const struct dc_pred *p = &w->p[i];
			struct dc_bounds b;
			if (s->cols[p->col].partition)
				continue;
			rg_bounds(st->r, g, &st->fc[p->col], &b);
			if (!dc_pred_may_match(p, &b)) {
				st->keep[g] = 0;
				s->row_groups_skipped++;
				break;
			}
		}
	}
}

/* Read the kept row groups and emit the rows that pass. */
static int read_rows(struct dc_scan *s, struct file_state *st, int ng, size_t nnested,
                     struct err_msg *e)
{
	for (int g = 0; g < ng; g++) {
		if (!st->keep[g])
			continue;
		for (size_t i = 0; i < s->ncols; i++) {
			struct fcol *fc = &st->fc[i];
			if (fc->src != SRC_FLAT)
				continue;
			pq_column_close(fc->pc);
			memset(&fc->b, 0, sizeof fc->b);
			fc->pos = 0;
			if (!(fc->pc = pq_column_open(st->r, g, fc->leaf, e)))
				return -1;
		}
		int64_t rows = pq_reader_row_group_rows(st->r, g);
		for (int64_t n = 0; n < rows; n++) {
			for (size_t i = 0; i < s->ncols; i++)
				if (st->fc[i].src == SRC_FLAT &&
				    flat_next(&st->fc[i], &st->vals[i].c, e) < 0)
					return -1;
			if (nnested) {
				const struct pq_value *row;
				int k = pq_reader_next_row(st->r, &row, e);
				if (k <= 0) {
					if (k == 0)
						err_set(e, EX_DATAERR, "rows end early");
					return -1;
				}
				for (size_t i = 0; i < s->ncols; i++) {
					struct fcol *fc = &st->fc[i];
					if (fc->src != SRC_NESTED)
						continue;
					const struct pq_value *v = &row->items[fc->item];
					st->vals[i].v = v->kind == PQ_V_NULL ? NULL : v;
					st->vals[i].np = &fc->np;
				}
			}
			s->rows_read++;
			if (!row_passes(s, st))
				continue;
			s->rows_out++;
			if (s->emit(s->ctx, st->vals, e) < 0)
				return -2;
		}
	}
	return 0;
}

/* Keep the reader's message but prefix what is only known here. */
static int file_fail(struct err_msg *e, const char *file)
{
	if (strstr(e->text, file))
		return -1;
	char tmp[ERR_MSG_MAX];
	snprintf(tmp, sizeof tmp, "%s", e->text);
	err_set(e, e->status ? e->status : EX_DATAERR, "%s: %s", file, tmp);
	return -1;
}

int dc_scan_file(struct dc_scan *s, const struct delta_file *f, struct err_msg *e)
{
	struct file_state st = {0};
	size_t nc = s->ncols, np = s->where ? s->where->n : 0;
	int rc = -1;
	s->files++;
	st.vals = calloc(nc ? nc : 1, sizeof *st.vals);
	st.fc = calloc(nc ? nc : 1, sizeof *st.fc);
	st.pscratch = calloc(nc ? nc : 1, sizeof *st.pscratch);
	st.paths = calloc(nc ? nc : 1, sizeof *st.paths);
	st.bounds = calloc(np ? np : 1, sizeof *st.bounds);
	st.bscratch = calloc(np ? np : 1, sizeof *st.bscratch);
	if (!st.vals || !st.fc || !st.pscratch || !st.paths || !st.bounds || !st.bscratch) {
		err_set(e, EX_SOFTWARE, "out of memory");
		goto out;
	}
	if (file_path(s->root, f->path, &st.path, e) < 0)
		goto out;

	/* Partition values decide their predicates for the whole file. */
	for (size_t i = 0; i < nc; i++) {
		if (!s->cols[i].partition)
			continue;
		struct err_msg pe;
		const char *text = delta_map_get(&f->partition_values, s->cols[i].f->name, NULL);
		st.fc[i].src = SRC_PART;
		if (delta_partition_parse(s->cols[i].f, text, &st.vals[i].c, &st.pscratch[i], &pe) <
		    0) {
			err_set(e, EX_DATAERR, "%s: %s", st.path.data, pe.text);
			goto out;
		}
	}
	int has_data_pred = 0;
	for (size_t i = 0; i < np; i++) {
		const struct dc_pred *p = &s->where->p[i];
		if (!s->cols[p->col].partition) {
			has_data_pred = 1;
			continue;
		}
		if (!dc_pred_test(p, &st.vals[p->col].c)) {
			s->files_by_partition++;
			rc = 0;
			goto out;
		}
	}
	/* The log's statistics. */
	if (has_data_pred && f->stats) {
		dc_stats_bounds(f->stats, s->where, st.bounds, st.bscratch);
		for (size_t i = 0; i < np; i++) {
			const struct dc_pred *p = &s->where->p[i];
			if (!s->cols[p->col].partition && !dc_pred_may_match(p, &st.bounds[i])) {
				s->files_by_stats++;
				rc = 0;
				goto out;
			}
		}
	}

	if (!(st.r = pq_reader_open(st.path.data, s->ropts, e))) {
		if (e->status == EX_IOERR && access(st.path.data, F_OK) < 0 && errno == ENOENT)
			e->status = EX_DATAERR; /* the log names a file that is not there */
		goto out;
	}
	size_t nnested;
	if (map_columns(s, &st, st.path.data, &nnested, e) < 0)
		goto out;
	int ng = pq_reader_num_row_groups(st.r);
	st.keep = calloc(ng ? (size_t)ng : 1, 1);
	if (!st.keep) {
		err_set(e, EX_SOFTWARE, "out of memory");
		goto out;
	}
	choose_row_groups(s, &st, ng);
	if (nnested) {
		if (pq_reader_select(st.r, st.paths, nnested, e) < 0)
			goto out;
		const struct pq_schema *sch = pq_reader_schema(st.r);
		const struct pq_field *root = pq_schema_field(sch, PQ_ROOT);
		int rank = 0;
		for (int k = 0; k < root->nchildren; k++) {
			int ch = root->children[k];
			if (!pq_reader_selected(st.r, ch))
				continue;
			for (size_t i = 0; i < nc; i++)
				if (st.fc[i].src == SRC_NESTED && st.fc[i].field == ch)
					st.fc[i].item = rank;
			rank++;
		}
		for (int g = 0; g < ng; g++)
			pq_reader_use_row_group(st.r, g, st.keep[g]);
	}
	int k = read_rows(s, &st, ng, nnested, e);
	if (k == -1)
		file_fail(e, st.path.data);
	rc = k;
out:
	file_state_free(&st, nc, np);
	return rc;
}

/*
 * delta_rows_read: reading a table's data files as rows, and pruning files
 * by what the log knows about them (see delta_rows.h for the contract).
 *
 * Flat columns are read with the columnar API, batch by batch, each column
 * at its own pace (pages end at different rows); nested columns come from
 * the row API, which is told to assemble only them and to skip the same
 * row groups, so both advance one row at a time in step.  Values are
 * converted to the table's types as they are read: the Parquet reader
 * already gives one representation per logical type (timestamps in
 * microseconds whatever the file stores), so what remains is widening for
 * files written before a type change.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "delta/delta_rows.h"
#include "text/decimal.h"
#include "text/jscan.h"
#include "text/ts.h"

#define BATCH_ROWS 4096

/* Conversions ---------------------------------------------------------------- */

int delta_conv_pick(const struct delta_field *f, const struct pq_field *pf, int *conv, int *shift)
{
	enum pq_type t = pf->type;
	int small_int = t == PQ_BYTE || t == PQ_SHORT || t == PQ_INT;
	*shift = 0;
	switch (f->type) {
	case DT_BOOLEAN:
		*conv = DELTA_CV_BOOL;
		return t == PQ_BOOLEAN ? 0 : -1;
	case DT_BYTE:
	case DT_SHORT:
	case DT_INTEGER:
		*conv = DELTA_CV_I32;
		return small_int ? 0 : -1;
	case DT_LONG:
		*conv = small_int ? DELTA_CV_I32 : DELTA_CV_I64;
		return small_int || t == PQ_LONG ? 0 : -1;
	case DT_FLOAT:
		*conv = DELTA_CV_F32;
		return t == PQ_FLOAT ? 0 : -1;
	case DT_DOUBLE:
		*conv = t == PQ_FLOAT    ? DELTA_CV_F32
		        : t == PQ_DOUBLE ? DELTA_CV_F64
		        : small_int      ? DELTA_CV_I32_F
		                         : DELTA_CV_I64_F;
		return t == PQ_FLOAT || t == PQ_DOUBLE || small_int || t == PQ_LONG ? 0 : -1;
	case DT_STRING:
	case DT_BINARY:
		*conv = DELTA_CV_BYTES;
		return t == PQ_STRING || t == PQ_BINARY ? 0 : -1;
	case DT_DATE:
		*conv = DELTA_CV_I32;
		return t == PQ_DATE ? 0 : -1;
	case DT_TIMESTAMP:
	case DT_TIMESTAMP_NTZ:
		if (t == PQ_DATE && f->type == DT_TIMESTAMP_NTZ) {
			*conv = DELTA_CV_DATE_TS;
			return 0;
		}
		*conv = DELTA_CV_I64;
		return t == PQ_TIMESTAMP || t == PQ_TIMESTAMP_NTZ ? 0 : -1;
	case DT_DECIMAL:
		if (t == PQ_DECIMAL) {
			*conv = DELTA_CV_DEC;
			*shift = f->scale - pf->scale;
			return *shift >= 0 ? 0 : -1;
		}
		*conv = small_int ? DELTA_CV_I32_DEC : DELTA_CV_I64_DEC;
		*shift = f->scale;
		return small_int || t == PQ_LONG ? 0 : -1;
	default:
		return -1;
	}
}

void delta_conv_raw(int conv, int shift, const void *p, struct delta_cell *c)
{
	int32_t i32;
	int64_t i64;
	float f32;
	pq_int128 dec;
	struct pq_bytes b;
	c->null = 0;
	switch (conv) {
	case DELTA_CV_BOOL:
		c->i = *(const uint8_t *)p != 0;
		break;
	case DELTA_CV_I32:
		memcpy(&i32, p, 4);
		c->i = i32;
		break;
	case DELTA_CV_I64:
		memcpy(&c->i, p, 8);
		break;
	case DELTA_CV_I32_F:
		memcpy(&i32, p, 4);
		c->d = i32;
		break;
	case DELTA_CV_I64_F:
		memcpy(&i64, p, 8);
		c->d = (double)i64;
		break;
	case DELTA_CV_F32:
		memcpy(&f32, p, 4);
		c->d = f32;
		break;
	case DELTA_CV_F64:
		memcpy(&c->d, p, 8);
		break;
	case DELTA_CV_BYTES:
		memcpy(&b, p, sizeof b);
		c->s = b.p ? (const char *)b.p : "";
		c->n = b.len;
		break;
	case DELTA_CV_DEC:
		memcpy(&dec, p, sizeof dec);
		c->dec = shift ? dec * dec_pow10(shift) : dec;
		break;
	case DELTA_CV_I32_DEC:
		memcpy(&i32, p, 4);
		c->dec = (pq_int128)i32 * dec_pow10(shift);
		break;
	case DELTA_CV_I64_DEC:
		memcpy(&i64, p, 8);
		c->dec = (pq_int128)i64 * dec_pow10(shift);
		break;
	default: /* DELTA_CV_DATE_TS */
		memcpy(&i32, p, 4);
		c->i = (int64_t)i32 * TS_US_PER_DAY;
		break;
	}
}

void delta_conv_value(int conv, int shift, const struct pq_value *v, struct delta_cell *c)
{
	memset(c, 0, sizeof *c);
	if (v->kind == PQ_V_NULL) {
		c->null = 1;
		return;
	}
	if (conv == DELTA_CV_BOOL) {
		c->i = v->b != 0;
		return;
	}
	/* The union's members all start at its address. */
	delta_conv_raw(conv, shift, &v->i64, c);
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

/*
 * The child of parent that holds field f: the one with f's column mapping
 * id (mode id), else named as f is in files (its physical name under
 * column mapping, exactly; else its name, exactly, else ignoring case);
 * its position in *pos.
 */
static int find_child(const struct pq_schema *s, int parent, const struct delta_field *f, int *pos)
{
	const struct pq_field *p = pq_schema_field(s, parent);
	const char *name = delta_field_file_name(f);
	if (f->map_id > 0) {
		for (int i = 0; i < p->nchildren; i++)
			if (pq_schema_field(s, p->children[i])->field_id == f->map_id) {
				if (pos)
					*pos = i;
				return p->children[i];
			}
		return -1;
	}
	for (int pass = 0; pass < (f->phys ? 1 : 2); pass++)
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

static void nplan_free(struct delta_nplan *np)
{
	for (size_t i = 0; i < np->nkids; i++)
		nplan_free(&np->kids[i]);
	free(np->kids);
	free(np->item);
	memset(np, 0, sizeof *np);
}

/* Map table field f onto file field pf (path names it in messages). */
static int nplan_build(const struct delta_field *f, const struct pq_schema *s, int pf,
                       struct delta_nplan *np, const char *file, const char *path,
                       struct err_msg *e)
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
		if (q->leaf < 0 || delta_conv_pick(f, q, &np->conv, &np->shift) < 0)
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
			child = find_child(s, pf, c, &k);
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
	struct delta_nplan np;
	struct pq_column *pc;
	struct pq_column_batch b;
	size_t pos;
};

struct delta_rows {
	const struct delta_rows_col *cols;
	size_t ncols;
	struct delta_value *vals;
	struct fcol *fc;
	struct buf *pscratch; /* per column: its partition value */
	unsigned char *keep;  /* per row group */
	const char **paths;   /* nested columns selected for the row reader */
	size_t nnested;
	struct pq_reader *r;
	int ng;
	int g;        /* the row group being read, or -1 before the first */
	int64_t left; /* rows left in it */
	struct buf path;
	/* the deletion vector: rows to leave out, by their index in the file */
	struct delta_dv dv;
	size_t dv_at;       /* the first of dv.rows not below the next row's index */
	int64_t index;      /* the index of the next row read */
	int64_t next_start; /* the index of the first row of the group after r->g */
};

void delta_rows_close(struct delta_rows *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->fc && i < r->ncols; i++) {
		pq_column_close(r->fc[i].pc);
		nplan_free(&r->fc[i].np);
	}
	for (size_t i = 0; r->pscratch && i < r->ncols; i++)
		buf_free(&r->pscratch[i]);
	free(r->vals);
	free(r->fc);
	free(r->pscratch);
	free(r->keep);
	free(r->paths);
	delta_dv_free(&r->dv);
	pq_reader_close(r->r);
	buf_free(&r->path);
	free(r);
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

/* Map the table's columns onto the file's. */
static int map_columns(struct delta_rows *r, struct err_msg *e)
{
	const struct pq_schema *sch = pq_reader_schema(r->r);
	const char *name = r->path.data;
	for (size_t i = 0; i < r->ncols; i++) {
		const struct delta_field *f = r->cols[i].f;
		struct fcol *fc = &r->fc[i];
		if (r->cols[i].partition)
			continue;
		r->vals[i].c.null = 1;
		fc->src = SRC_NULL;
		int pf = f->type == DT_VOID ? -1 : find_child(sch, PQ_ROOT, f, NULL);
		if (pf < 0)
			continue;
		const struct pq_field *q = pq_schema_field(sch, pf);
		fc->field = pf;
		if (delta_type_is_primitive(f->type)) {
			if (q->leaf < 0 || delta_conv_pick(f, q, &fc->conv, &fc->shift) < 0)
				return mismatch(e, name, f->name, f, q);
			fc->src = SRC_FLAT;
			fc->leaf = q->leaf;
			fc->ksize = kind_size(pq_type_kind(q->type));
			continue;
		}
		if (nplan_build(f, sch, pf, &fc->np, name, f->name, e) < 0)
			return -1;
		fc->src = SRC_NESTED;
		r->paths[r->nnested++] = q->name;
	}
	return 0;
}

/* Tell the row reader which top-level fields to assemble, and where each lands in its rows. */
static int select_nested(struct delta_rows *r, struct err_msg *e)
{
	if (pq_reader_select(r->r, r->paths, r->nnested, e) < 0)
		return -1;
	const struct pq_schema *sch = pq_reader_schema(r->r);
	const struct pq_field *root = pq_schema_field(sch, PQ_ROOT);
	int rank = 0;
	for (int k = 0; k < root->nchildren; k++) {
		int ch = root->children[k];
		if (!pq_reader_selected(r->r, ch))
			continue;
		for (size_t i = 0; i < r->ncols; i++)
			if (r->fc[i].src == SRC_NESTED && r->fc[i].field == ch)
				r->fc[i].item = rank;
		rank++;
	}
	return 0;
}

/* Keep the reader's message but prefix what is only known here. */
static void file_fail(struct err_msg *e, const char *file)
{
	if (strstr(e->text, file))
		return;
	char tmp[ERR_MSG_MAX];
	snprintf(tmp, sizeof tmp, "%s", e->text);
	err_set(e, e->status ? e->status : EX_DATAERR, "%s: %s", file, tmp);
}

struct delta_rows *delta_rows_open(const char *root, const struct delta_file *f,
                                   const struct delta_rows_col *cols, size_t ncols,
                                   const struct pq_read_options *ro, struct err_msg *e)
{
	struct delta_rows *r = calloc(1, sizeof *r);
	size_t nc = ncols ? ncols : 1;
	if (!r || !(r->vals = calloc(nc, sizeof *r->vals)) ||
	    !(r->fc = calloc(nc, sizeof *r->fc)) ||
	    !(r->pscratch = calloc(nc, sizeof *r->pscratch)) ||
	    !(r->paths = calloc(nc, sizeof *r->paths))) {
		err_set(e, EX_SOFTWARE, "out of memory");
		goto fail;
	}
	r->cols = cols;
	r->ncols = ncols;
	r->g = -1;
	if (file_path(root, f->path, &r->path, e) < 0)
		goto fail;
	if (buf_failed(&r->path)) {
		err_set(e, EX_SOFTWARE, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < ncols; i++) {
		if (!cols[i].partition)
			continue;
		struct err_msg pe;
		const char *text =
		    delta_map_get(&f->partition_values, delta_field_file_name(cols[i].f), NULL);
		r->fc[i].src = SRC_PART;
		if (delta_partition_parse(cols[i].f, text, &r->vals[i].c, &r->pscratch[i], &pe) <
		    0) {
			err_set(e, EX_DATAERR, "%s: %s", r->path.data, pe.text);
			goto fail;
		}
	}
	if (f->dv_json && delta_dv_read(root, f->path, f->dv_json, &r->dv, e) < 0)
		goto fail;
	if (!(r->r = pq_reader_open(r->path.data, ro, e))) {
		if (e->status == EX_IOERR && access(r->path.data, F_OK) < 0 && errno == ENOENT) {
			/* The log names a file that is not there: say what usually took it. */
			err_set(e, EX_DATAERR,
			        "%s: No such file or directory (a data file the log names is gone: "
			        "deleted by hand, or, for a version older than the table's "
			        "delta.deletedFileRetentionDuration, by VACUUM)",
			        r->path.data);
		}
		goto fail;
	}
	if (f->dv_json &&
	    delta_dv_check_rows(root, f->path, f->dv_json, &r->dv, pq_reader_num_rows(r->r), e) < 0)
		goto fail;
	if (map_columns(r, e) < 0)
		goto fail;
	r->ng = pq_reader_num_row_groups(r->r);
	if (!(r->keep = calloc(r->ng ? (size_t)r->ng : 1, 1))) {
		err_set(e, EX_SOFTWARE, "out of memory");
		goto fail;
	}
	memset(r->keep, 1, (size_t)r->ng);
	if (r->nnested && select_nested(r, e) < 0)
		goto fail;
	return r;
fail:
	delta_rows_close(r);
	return NULL;
}

const char *delta_rows_path(const struct delta_rows *r)
{
	return r->path.data;
}

/* Can a writer of the table's column f force encoding enc (see pq_writer_set_encoding())? */
static int encoding_suits(const struct delta_field *f, int enc)
{
	int ints = f->type == DT_LONG || f->type == DT_INTEGER || f->type == DT_SHORT ||
	           f->type == DT_BYTE || f->type == DT_DATE || f->type == DT_TIMESTAMP ||
	           f->type == DT_TIMESTAMP_NTZ;
	int text = f->type == DT_STRING || f->type == DT_BINARY;
	int dec = f->type == DT_DECIMAL;
	switch (enc) {
	case PQ_ENC_PLAIN:
		return 1;
	case PQ_ENC_RLE_DICTIONARY:
		return f->type != DT_BOOLEAN;
	case PQ_ENC_DELTA_BINARY_PACKED:
		/* Decimals of up to 18 digits are stored in int32 or int64. */
		return ints || (dec && f->precision <= 18);
	case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
		return text;
	case PQ_ENC_DELTA_BYTE_ARRAY:
		return text || (dec && f->precision > 18);
	case PQ_ENC_BYTE_STREAM_SPLIT:
		return ints || dec || f->type == DT_FLOAT || f->type == DT_DOUBLE;
	case PQ_ENC_RLE:
		return f->type == DT_BOOLEAN;
	default:
		return 0;
	}
}

int delta_rows_encoding(const struct delta_rows *r, size_t col)
{
	struct pq_chunk_info ci;
	if (col >= r->ncols || r->fc[col].src != SRC_FLAT || r->ng < 1 ||
	    pq_reader_chunk_info(r->r, 0, r->fc[col].leaf, &ci) < 0)
		return PQ_ENC_AUTO;
	/* The chunk's list names its levels' encodings (RLE) and its dictionary page's too. */
	int enc = PQ_ENC_AUTO, rle = 0;
	for (int i = 0; i < ci.nencodings && i < 16; i++) {
		int x = ci.encodings[i];
		if (x == PQ_ENC_RLE_DICTIONARY || x == PQ_ENC_PLAIN_DICTIONARY) {
			enc = PQ_ENC_RLE_DICTIONARY;
			break;
		}
		if (x == PQ_ENC_RLE || x == PQ_ENC_BIT_PACKED)
			rle |= x == PQ_ENC_RLE;
		else if (enc == PQ_ENC_AUTO)
			enc = x;
	}
	if (enc == PQ_ENC_AUTO && rle && r->cols[col].f->type == DT_BOOLEAN)
		enc = PQ_ENC_RLE;
	return enc != PQ_ENC_AUTO && encoding_suits(r->cols[col].f, enc) ? enc : PQ_ENC_AUTO;
}

int delta_rows_row_groups(const struct delta_rows *r)
{
	return r->ng;
}

int64_t delta_rows_row_group_rows(const struct delta_rows *r, int g)
{
	return pq_reader_row_group_rows(r->r, g);
}

void delta_rows_group_bounds(struct delta_rows *r, int g, size_t col, struct delta_bounds *b)
{
	const struct fcol *fc = &r->fc[col];
	memset(b, 0, sizeof *b);
	b->nulls = b->rows = -1;
	int64_t rows = pq_reader_row_group_rows(r->r, g);
	if (fc->src == SRC_NULL) {
		b->nulls = b->rows = rows;
		return;
	}
	struct pq_stats st;
	if (fc->src != SRC_FLAT || pq_reader_stats(r->r, g, fc->leaf, &st) < 0)
		return;
	b->rows = rows;
	b->nulls = st.null_count;
	if (st.has_min_max) {
		delta_conv_value(fc->conv, fc->shift, &st.min, &b->lo);
		delta_conv_value(fc->conv, fc->shift, &st.max, &b->hi);
		b->has_lo = !b->lo.null;
		b->has_hi = !b->hi.null;
	}
}

void delta_rows_use_group(struct delta_rows *r, int g, int use)
{
	if (g < 0 || g >= r->ng)
		return;
	r->keep[g] = (unsigned char)(use != 0);
	if (r->nnested)
		pq_reader_use_row_group(r->r, g, use);
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
	delta_conv_raw(fc->conv, fc->shift, fc->b.b + i * fc->ksize, c);
	return 0;
}

/* Move to the next row group to read, opening its flat columns: 1, 0 when none is left, -1. */
static int next_group(struct delta_rows *r, struct err_msg *e)
{
	while (++r->g < r->ng) {
		int64_t rows = pq_reader_row_group_rows(r->r, r->g);
		int64_t start = r->next_start;
		r->next_start += rows > 0 ? rows : 0;
		if (!r->keep[r->g] || rows <= 0)
			continue;
		r->index = start;
		for (size_t i = 0; i < r->ncols; i++) {
			struct fcol *fc = &r->fc[i];
			if (fc->src != SRC_FLAT)
				continue;
			pq_column_close(fc->pc);
			memset(&fc->b, 0, sizeof fc->b);
			fc->pos = 0;
			if (!(fc->pc = pq_column_open(r->r, r->g, fc->leaf, e)))
				return -1;
		}
		r->left = rows;
		return 1;
	}
	return 0;
}

static int read_row(struct delta_rows *r, struct err_msg *e)
{
	if (r->left == 0) {
		int k = next_group(r, e);
		if (k <= 0)
			return k;
	}
	r->left--;
	for (size_t i = 0; i < r->ncols; i++)
		if (r->fc[i].src == SRC_FLAT && flat_next(&r->fc[i], &r->vals[i].c, e) < 0)
			return -1;
	if (!r->nnested)
		return 1;
	const struct pq_value *row;
	int k = pq_reader_next_row(r->r, &row, e);
	if (k <= 0) {
		if (k == 0)
			err_set(e, EX_DATAERR, "rows end early");
		return -1;
	}
	for (size_t i = 0; i < r->ncols; i++) {
		struct fcol *fc = &r->fc[i];
		if (fc->src != SRC_NESTED)
			continue;
		const struct pq_value *v = &row->items[fc->item];
		r->vals[i].v = v->kind == PQ_V_NULL ? NULL : v;
		r->vals[i].np = &fc->np;
	}
	return 1;
}

int delta_rows_next(struct delta_rows *r, const struct delta_value **row, struct err_msg *e)
{
	int k = read_row(r, e);
	/* Rows that the deletion vector removes are read past. */
	while (k == 1 && r->dv.n) {
		uint64_t index = (uint64_t)r->index++;
		while (r->dv_at < r->dv.n && r->dv.rows[r->dv_at] < index)
			r->dv_at++;
		if (r->dv_at == r->dv.n || r->dv.rows[r->dv_at] != index)
			break;
		k = read_row(r, e);
	}
	if (k < 0) {
		file_fail(e, r->path.data);
		return -1;
	}
	*row = r->vals;
	return k;
}

/* Statistics from the log ------------------------------------------------- */

/* Code points in UTF-8 text. */
static size_t utf8_len(const char *s, size_t n)
{
	size_t cp = 0;
	for (size_t i = 0; i < n; i++)
		cp += ((unsigned char)s[i] & 0xC0) != 0x80;
	return cp;
}

/*
 * A string maximum is a bound when it cannot have been cut: at most 32 code
 * points (the prefix length writers keep), or ending in the tie-breaker
 * that Spark appends to a cut maximum (U+007F or U+10FFFF).
 */
static int string_max_usable(const char *s, size_t n)
{
	if (utf8_len(s, n) <= 32)
		return 1;
	if (n >= 1 && s[n - 1] == 0x7F)
		return 1;
	return n >= 4 && memcmp(s + n - 4, "\xf4\x8f\xbf\xbf", 4) == 0;
}

/* A min or max token of the stats as a cell of the column's type; -1 when unusable. */
static int stat_cell(const struct delta_field *f, const struct jscan_token *t, int is_max,
                     struct buf *scratch, struct delta_cell *c)
{
	const char *s = t->s;
	size_t n = t->n;
	struct err_msg e;
	memset(c, 0, sizeof *c);
	if (t->type == JS_STR && t->escaped) {
		size_t at = scratch->len;
		if (jscan_unescape(s, n, scratch) < 0)
			return -1;
		/* Earlier cells may point into scratch: it was reserved big enough by the caller. */
		s = scratch->data + at;
		n = scratch->len - at;
	}
	switch (f->type) {
	case DT_STRING:
		if (t->type != JS_STR || (is_max && !string_max_usable(s, n)))
			return -1;
		c->s = s;
		c->n = n;
		return 0;
	case DT_DATE: {
		int32_t d;
		if (t->type != JS_STR || ts_parse_date(s, n, &d) < 0)
			return -1;
		c->i = d;
		return 0;
	}
	case DT_TIMESTAMP:
	case DT_TIMESTAMP_NTZ: {
		char tmp[64];
		if (t->type != JS_STR || n + 2 > sizeof tmp)
			return -1;
		memcpy(tmp, s, n);
		tmp[n] = '\0';
		if (ts_parse_rfc3339(tmp, n, &c->i) < 0) {
			/* timestamp_ntz statistics have no offset */
			tmp[n] = 'Z';
			if (ts_parse_rfc3339(tmp, n + 1, &c->i) < 0)
				return -1;
		}
		if (is_max)
			c->i += 999;
		return 0;
	}
	case DT_LONG:
	case DT_INTEGER:
	case DT_SHORT:
	case DT_BYTE: {
		char tmp[32], *end;
		if (t->type != JS_NUM || n >= sizeof tmp)
			return -1;
		memcpy(tmp, s, n);
		tmp[n] = '\0';
		errno = 0;
		c->i = strtoll(tmp, &end, 10);
		return *end || errno == ERANGE ? -1 : 0;
	}
	case DT_FLOAT:
	case DT_DOUBLE: {
		char tmp[64], *end;
		if (t->type != JS_NUM || n >= sizeof tmp)
			return -1;
		memcpy(tmp, s, n);
		tmp[n] = '\0';
		/* A float's bound is the float its text names (0.1 is 0.100000001490116...). */
		c->d = f->type == DT_FLOAT ? strtof(tmp, &end) : strtod(tmp, &end);
		return *end || isnan(c->d) ? -1 : 0;
	}
	case DT_DECIMAL:
		/* Exponent forms (0E-10) are fine; more digits than the scale are not a bound. */
		if (t->type != JS_NUM ||
		    dec_parse(s, n, DEC_MAX_PRECISION, f->scale, &c->dec, &e) < 0)
			return -1;
		return 0;
	case DT_BOOLEAN:
		if (t->type != JS_TRUE && t->type != JS_FALSE)
			return -1;
		c->i = t->type == JS_TRUE;
		return 0;
	default:
		return -1;
	}
}

int delta_stats_cell(const struct delta_field *f, const struct jscan_token *t, struct buf *scratch,
                     struct delta_cell *c)
{
	return stat_cell(f, t, 0, scratch, c);
}

enum { SEC_NONE, SEC_MIN, SEC_MAX, SEC_NULLS };

static void bounds_unknown(struct delta_bounds *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		memset(&b[i], 0, sizeof b[i]);
		b[i].nulls = b[i].rows = -1;
	}
}

void delta_stats_bounds(const char *stats, const struct delta_field *const *fields, size_t n,
                        struct delta_bounds *b, struct buf *scratch)
{
	bounds_unknown(b, n);
	for (size_t i = 0; i < n; i++)
		buf_reset(&scratch[i]);
	if (!stats)
		return;
	size_t len = strlen(stats);
	for (size_t i = 0; i < n; i++)
		/* Unescaped strings never grow: room for all of them up front keeps pointers valid. */
		if (buf_reserve(&scratch[i], 2 * len + 1) < 0)
			return;
	struct jscan js;
	struct jscan_token t, k;
	struct buf key = BUF_INIT;
	int64_t rows = -1;
	/*
	 * The columns' names and their lengths, looked up once rather than at
	 * every member of the statistics (up to 64 columns; past them, each
	 * time).
	 */
	enum { NAMES_KEPT = 64 };
	const char *names[NAMES_KEPT];
	size_t nlens[NAMES_KEPT];
	for (size_t i = 0; i < n && i < NAMES_KEPT; i++) {
		names[i] = delta_field_file_name(fields[i]);
		nlens[i] = strlen(names[i]);
	}
	jscan_init(&js, stats, len);
	if (jscan_next(&js, &t) != JS_OBJ)
		goto out;
	while (jscan_next(&js, &k) == JS_KEY) {
		int sec = SEC_NONE;
		if (k.n == 10 && memcmp(k.s, "numRecords", 10) == 0)
			sec = -1;
		else if (k.n == 9 && memcmp(k.s, "minValues", 9) == 0)
			sec = SEC_MIN;
		else if (k.n == 9 && memcmp(k.s, "maxValues", 9) == 0)
			sec = SEC_MAX;
		else if (k.n == 9 && memcmp(k.s, "nullCount", 9) == 0)
			sec = SEC_NULLS;
		if (jscan_next(&js, &t) <= 0)
			goto out;
		if (sec == -1 && t.type == JS_NUM) {
			char tmp[32];
			if (t.n < sizeof tmp) {
				memcpy(tmp, t.s, t.n);
				tmp[t.n] = '\0';
				rows = strtoll(tmp, NULL, 10);
			}
			continue;
		}
		if (sec <= SEC_NONE || t.type != JS_OBJ) {
			const char *raw;
			size_t rawlen;
			if (jscan_skip(&js, &t, &raw, &rawlen) < 0)
				goto out;
			continue;
		}
		struct jscan_token ck, cv;
		while (jscan_next(&js, &ck) == JS_KEY) {
			if (jscan_next(&js, &cv) <= 0)
				goto out;
			/* A name without escapes is compared where it stands. */
			const char *name = ck.s;
			size_t nlen = ck.n;
			if (ck.escaped) {
				buf_reset(&key);
				if (jscan_unescape(ck.s, ck.n, &key) < 0 ||
				    buf_reserve(&key, 0) < 0)
					goto out;
				name = key.data;
				nlen = key.len;
			}
			for (size_t i = 0; i < n; i++) {
				const struct delta_field *f = fields[i];
				const char *fn =
				    i < NAMES_KEPT ? names[i] : delta_field_file_name(f);
				size_t fl = i < NAMES_KEPT ? nlens[i] : strlen(fn);
				if (fl != nlen || memcmp(fn, name, nlen) != 0)
					continue;
				if (sec == SEC_NULLS) {
					char tmp[32];
					if (cv.type == JS_NUM && cv.n < sizeof tmp) {
						memcpy(tmp, cv.s, cv.n);
						tmp[cv.n] = '\0';
						b[i].nulls = strtoll(tmp, NULL, 10);
					}
				} else if (sec == SEC_MIN) {
					b[i].has_lo =
					    stat_cell(f, &cv, 0, &scratch[i], &b[i].lo) == 0;
				} else {
					b[i].has_hi =
					    stat_cell(f, &cv, 1, &scratch[i], &b[i].hi) == 0;
				}
			}
			if (cv.type == JS_OBJ || cv.type == JS_ARR) {
				const char *raw;
				size_t rawlen;
				if (jscan_skip(&js, &cv, &raw, &rawlen) < 0)
					goto out;
			}
		}
		if (js.error)
			goto out;
	}
	if (js.error)
		goto out;
	for (size_t i = 0; i < n; i++)
		b[i].rows = rows;
	buf_free(&key);
	return;
out:
	/* Malformed statistics tell nothing. */
	bounds_unknown(b, n);
	buf_free(&key);
}

/* Pruning ------------------------------------------------------------------ */

/* Does a cell compare as unordered (a float NaN)? */
static int unordered(const struct delta_field *f, const struct delta_cell *c)
{
	return (f->type == DT_FLOAT || f->type == DT_DOUBLE) && isnan(c->d);
}

int delta_file_may_hold(const struct delta_file *f, const struct delta_range *r, size_t n,
                        struct buf *scratch)
{
	const struct delta_field *fields[64];
	struct delta_bounds b[64];
	size_t idx[64], nd = 0;
	for (size_t i = 0; i < n; i++) {
		if (!r[i].partition) {
			/* Past 64 data columns the rest are not looked at: pruning stays safe. */
			if (nd < 64) {
				idx[nd] = i;
				fields[nd++] = r[i].f;
			}
			continue;
		}
		struct delta_cell v;
		struct err_msg pe;
		const char *text =
		    delta_map_get(&f->partition_values, delta_field_file_name(r[i].f), NULL);
		if (delta_partition_parse(r[i].f, text, &v, &scratch[i], &pe) < 0)
			continue; /* a value that does not parse rules nothing out */
		if (v.null || unordered(r[i].f, &v))
			return 0;
		if (delta_cell_cmp(r[i].f, &v, &r[i].lo) < 0 ||
		    delta_cell_cmp(r[i].f, &v, &r[i].hi) > 0)
			return 0;
	}
	if (!nd || !f->stats)
		return 1;
	/* The data columns' scratch buffers, gathered in their order and given back grown. */
	struct buf bs[64];
	for (size_t k = 0; k < nd; k++)
		bs[k] = scratch[idx[k]];
	delta_stats_bounds(f->stats, fields, nd, b, bs);
	for (size_t k = 0; k < nd; k++)
		scratch[idx[k]] = bs[k];
	int may = 1;
	for (size_t k = 0; may && k < nd; k++) {
		const struct delta_range *ri = &r[idx[k]];
		if (b[k].nulls >= 0 && b[k].rows >= 0 && b[k].nulls >= b[k].rows)
			may = 0; /* every value is null: none is in a range */
		else if (b[k].has_hi && delta_cell_cmp(ri->f, &b[k].hi, &ri->lo) < 0)
			may = 0;
		else if (b[k].has_lo && delta_cell_cmp(ri->f, &b[k].lo, &ri->hi) > 0)
			may = 0;
	}
	return may;
}

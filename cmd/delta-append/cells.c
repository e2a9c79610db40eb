/*
 * delta-append cells: records mapped onto the table's columns.
 *
 * Each field of a JSON record is matched by name to a column (absent
 * columns are null; an unknown field is an error naming it) and converted
 * to a cell of the column's type.  Tick records take two faster routes:
 * binary frames and lines in the exact layout tick writers produce are
 * read straight into a struct tick and mapped by the tick field to column
 * correspondence decided once in setup_columns().
 */
#include <stdlib.h>
#include <string.h>

#include "append.h"
#include "base/utf8.h"

int setup_columns(struct app *a, struct err_msg *e)
{
	a->ncols = a->tschema.n;
	a->cols = calloc(a->ncols ? a->ncols : 1, sizeof *a->cols);
	a->batch_id_col = -1;
	if (!a->cols) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < a->ncols; i++) {
		struct column *c = &a->cols[i];
		c->f = &a->tschema.fields[i];
		c->name_len = strlen(c->f->name);
		if (c->f->type == DT_DECIMAL) {
			c->dec_limit = dec_pow10(c->f->precision);
			c->dec_scale =
			    dec_pow10(c->f->scale >= DEC6_SCALE ? c->f->scale - DEC6_SCALE
			                                        : DEC6_SCALE - c->f->scale);
		}
		if (c->f->type == DT_VOID) {
			err_set(e, EX_DATAERR,
			        "%s: column \"%s\" is of type void, which has no values to write",
			        a->root, c->f->name);
			return -1;
		}
		a->has_nested |= !delta_type_is_primitive(c->f->type);
		if (strcmp(c->f->name, "batch_id") == 0)
			a->batch_id_col = (int)i;
		for (size_t k = 0; k < a->npart && c->f->type == DT_STRING; k++)
			if (strcmp(a->part_cols[k], c->f->name) == 0)
				a->has_part_string = c->part_string = 1;
	}
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
	const unsigned nulls = tk->nulls;
	/* Field by field, not in a loop: this runs for every record of a batch. */
	struct delta_cell *c = &cells[col[0]];
	c->null = nulls & 1;
	c->s = tk->symbol;
	c->n = strnlen(tk->symbol, TICK_SYMBOL_MAX);
	c = &cells[col[1]];
	c->null = (nulls >> 1) & 1;
	c->s = tick_interval_name(tk->interval);
	c->n = c->s ? strlen(c->s) : 0;
	cells[col[2]].null = (nulls >> 2) & 1;
	cells[col[2]].i = tk->trade_timestamp;
	cells[col[3]].null = (nulls >> 3) & 1;
	cells[col[3]].i = tk->trade_date;
	cells[col[4]].null = (nulls >> 4) & 1;
	cells[col[4]].dec = tk->open;
	cells[col[5]].null = (nulls >> 5) & 1;
	cells[col[5]].dec = tk->high;
	cells[col[6]].null = (nulls >> 6) & 1;
	cells[col[6]].dec = tk->low;
	cells[col[7]].null = (nulls >> 7) & 1;
	cells[col[7]].dec = tk->close;
	cells[col[8]].null = (nulls >> 8) & 1;
	cells[col[8]].i = tk->volume;
	cells[col[9]].null = (nulls >> 9) & 1;
	cells[col[9]].i = tk->batch_id;
	cells[col[10]].null = (nulls >> 10) & 1;
	cells[col[10]].i = tk->ingested_at;
	c = &cells[col[11]];
	c->null = (nulls >> 11) & 1;
	c->s = tk->source;
	c->n = strnlen(tk->source, TICK_SOURCE_MAX);
	return 0;
}

/* Cells from a tick record; columns without a tick field are null. */
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
static int cells_of(struct app *a, struct rec_reader *rd, struct rec *r, struct delta_cell *cells,
                    struct err_msg *e)
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

int record_cells(struct app *a, struct rec_reader *rd, struct rec *r, struct delta_cell *cells,
                 struct err_msg *e)
{
	if (cells_of(a, rd, r, cells, e) < 0)
		return -1;
	/* A partition value names a directory and is a C string in the log: no NUL. */
	for (size_t i = 0; a->has_part_string && i < a->ncols; i++) {
		if (!a->cols[i].part_string || cells[i].null)
			continue;
		if (memchr(cells[i].s, '\0', cells[i].n)) {
			err_set(e, EX_DATAERR,
			        "column \"%s\": a partition value cannot hold a NUL character",
			        a->cols[i].f->name);
			return -1;
		}
		/* The log states it as JSON text, which is UTF-8. */
		if (utf8_valid(cells[i].s, cells[i].n) < 0) {
			err_set(e, EX_DATAERR, "column \"%s\": a partition value must be UTF-8",
			        a->cols[i].f->name);
			return -1;
		}
	}
	return 0;
}

/*
 * scan: read one data file of a table into rows of the table's columns,
 * through the Delta library's reader (delta/delta_rows.h).
 *
 * A file is first judged without opening it: its partition values decide
 * the predicates on partition columns exactly, and its add.stats may show
 * that no row can match.  Then the reader maps the table's columns onto the
 * file's (a column the file lacks is null, partition values are restored),
 * row groups whose footer statistics rule out a match are left out, and
 * the rows that are read are filtered exactly.
 */
#include "deltacat.h"

#include <stdlib.h>
#include <string.h>

/* Do the row's values pass the predicates that the file could not decide? */
static int row_passes(const struct dc_scan *s, const struct delta_value *vals)
{
	const struct delta_where *w = s->where;
	for (size_t i = 0; w && i < w->n; i++) {
		const struct delta_pred *p = &w->p[i];
		if (s->cols[p->col].partition)
			continue; /* decided for the whole file */
		const struct delta_value *v = &vals[p->col];
		if (!delta_type_is_primitive(p->f->type)) {
			struct delta_cell c = {.null = v->v == NULL};
			if (!delta_pred_test(p, &c))
				return 0;
		} else if (!delta_pred_test(p, &v->c)) {
			return 0;
		}
	}
	return 1;
}

/* Leave out the row groups whose footer statistics rule out a match. */
static void choose_row_groups(struct dc_scan *s, struct delta_rows *r)
{
	const struct delta_where *w = s->where;
	int ng = delta_rows_row_groups(r);
	for (int g = 0; g < ng; g++) {
		if (delta_rows_row_group_rows(r, g) <= 0)
			continue;
		s->row_groups++;
		for (size_t i = 0; w && i < w->n; i++) {
			const struct delta_pred *p = &w->p[i];
			struct delta_bounds b;
			if (s->cols[p->col].partition)
				continue;
			delta_rows_group_bounds(r, g, (size_t)p->col, &b);
			if (!delta_pred_may_match(p, &b)) {
				delta_rows_use_group(r, g, 0);
				s->row_groups_skipped++;
				break;
			}
		}
	}
}

/*
 * Can the file hold a match, judging by its partition values and its
 * statistics in the log?  1 yes (or cannot tell), 0 no, -1 when a
 * partition value does not parse (e set).
 */
static int file_may_match(struct dc_scan *s, const struct delta_file *f, struct err_msg *e)
{
	const struct delta_where *w = s->where;
	size_t np = w ? w->n : 0;
	int has_data_pred = 0;
	struct buf scratch = BUF_INIT;
	for (size_t i = 0; i < np; i++) {
		const struct delta_pred *p = &w->p[i];
		if (!s->cols[p->col].partition) {
			has_data_pred = 1;
			continue;
		}
		struct delta_cell c;
		struct err_msg pe;
		const char *text =
		    delta_map_get(&f->partition_values, delta_field_file_name(p->f), NULL);
		if (delta_partition_parse(p->f, text, &c, &scratch, &pe) < 0) {
			err_set(e, EX_DATAERR, "%s/%s: %s", s->root, f->path, pe.text);
			buf_free(&scratch);
			return -1;
		}
		int pass = delta_pred_test(p, &c);
		buf_reset(&scratch);
		if (!pass) {
			s->files_by_partition++;
			buf_free(&scratch);
			return 0;
		}
	}
	buf_free(&scratch);
	if (!has_data_pred || !f->stats)
		return 1;
	struct delta_bounds *b = calloc(np, sizeof *b);
	struct buf *bs = calloc(np, sizeof *bs);
	int may = 1;
	if (b && bs) {
		delta_where_stats_bounds(f->stats, w, b, bs);
		for (size_t i = 0; may && i < np; i++) {
			const struct delta_pred *p = &w->p[i];
			if (!s->cols[p->col].partition && !delta_pred_may_match(p, &b[i])) {
				s->files_by_stats++;
				may = 0;
			}
		}
	}
	for (size_t i = 0; bs && i < np; i++)
		buf_free(&bs[i]);
	free(b);
	free(bs);
	return may;
}

int dc_scan_file(struct dc_scan *s, const struct delta_file *f, struct err_msg *e)
{
	s->files++;
	int may = file_may_match(s, f, e);
	if (may <= 0)
		return may;
	struct delta_rows_col *rc = calloc(s->ncols ? s->ncols : 1, sizeof *rc);
	if (!rc) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < s->ncols; i++) {
		rc[i].f = s->cols[i].f;
		rc[i].partition = s->cols[i].partition;
	}
	struct delta_rows *r = delta_rows_open(s->root, f, rc, s->ncols, s->ropts, e);
	int k = -1;
	if (r) {
		choose_row_groups(s, r);
		const struct delta_value *row;
		while ((k = delta_rows_next(r, &row, e)) == 1) {
			s->rows_read++;
			if (!row_passes(s, row))
				continue;
			s->rows_out++;
			if (s->emit(s->ctx, row, e) < 0) {
				k = -2;
				break;
			}
		}
	}
	delta_rows_close(r);
	free(rc);
	return k;
}

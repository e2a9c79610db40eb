/*
 * delta_stats: the add.stats JSON of a data file, from the statistics its
 * Parquet writer kept while writing it, so that every writer of the module
 * (appends now; upserts and compaction later) states the same statistics
 * the same way.
 *
 * The values follow Spark: decimals as JSON numbers at their scale,
 * timestamps in UTC with milliseconds, dates as text; no min/max for
 * booleans and binary, nor for floats holding NaN or infinities (JSON has
 * no form for them); a string minimum longer than 32 characters is cut to
 * its first 32 (still a lower bound) and a longer maximum is left out, as
 * is a string bound that is not UTF-8.
 * Partition columns are not in the data files, so not in the statistics.
 */
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "delta/delta.h"
#include "parquet/parquet.h"
#include "text/decimal.h"
#include "text/ts.h"

#define STATS_STRING_PREFIX 32

/* Append the stats value of a Parquet statistic bound to out (JSON), or return -1 to leave it out. */
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

/* Append "name":value to a member list being built. */
static void member(struct buf *b, const char *name, const char *value, size_t n)
{
	buf_puts(b, b->len ? "," : "");
	buf_json_str(b, name, strlen(name));
	buf_putc(b, ':');
	buf_append(b, value, n);
}

static int is_partition_column(char *const *parts, size_t nparts, const char *name)
{
	for (size_t k = 0; k < nparts; k++)
		if (strcmp(parts[k], name) == 0)
			return 1;
	return 0;
}

int64_t delta_stats_columns(const struct delta_snapshot *snap)
{
	const char *sc = delta_property(snap, "delta.dataSkippingNumIndexedCols", "32");
	char *end;
	long long n = strtoll(sc, &end, 10);
	return *end || n < -1 ? 32 : n;
}

/* Parquet leaves under a field (its own one for a primitive). */
static int leaves_of(const struct delta_field *f)
{
	if (delta_type_is_primitive(f->type))
		return 1;
	int n = 0;
	for (size_t i = 0; i < f->nchildren; i++)
		n += leaves_of(&f->children[i]);
	return n;
}

struct stats_walk {
	struct pq_writer *w;
	int leaf;        /* the next Parquet leaf */
	int64_t indexed; /* columns given bounds so far (struct fields count one each) */
	int64_t stats_cols;
	struct buf tmp;
};

static void prim_bounds(struct stats_walk *sw, const struct delta_field *f,
                        const struct pq_stats *st, struct buf *mins, struct buf *maxs)
{
	const char *name = delta_field_file_name(f);
	struct buf *tmp = &sw->tmp;
	if (f->type == DT_STRING) {
		/* Exact when short; a long minimum is cut to a prefix (still a bound). */
		size_t cp = 0, at = 0;
		for (; at < st->min.bytes.len && cp < STATS_STRING_PREFIX; at++)
			if ((st->min.bytes.p[at] & 0xC0) != 0x80)
				cp++;
		while (at < st->min.bytes.len && (st->min.bytes.p[at] & 0xC0) == 0x80)
			at++;
		/*
		 * A bound that is not UTF-8 (a string column of a foreign
		 * file) has no JSON form that still bounds the values: left
		 * out, as nothing may be skipped by it.
		 */
		if (utf8_valid((const char *)st->min.bytes.p, at) == 0) {
			buf_reset(tmp);
			buf_json_str(tmp, (const char *)st->min.bytes.p, at);
			member(mins, name, tmp->data, tmp->len);
		}
		size_t mcp = 0;
		for (size_t k = 0; k < st->max.bytes.len; k++)
			if ((st->max.bytes.p[k] & 0xC0) != 0x80)
				mcp++;
		if (mcp <= STATS_STRING_PREFIX &&
		    utf8_valid((const char *)st->max.bytes.p, st->max.bytes.len) == 0) {
			buf_reset(tmp);
			buf_json_str(tmp, (const char *)st->max.bytes.p, st->max.bytes.len);
			member(maxs, name, tmp->data, tmp->len);
		}
		return;
	}
	buf_reset(tmp);
	if (stats_value(f, &st->min, tmp) == 0)
		member(mins, name, tmp->data, tmp->len);
	buf_reset(tmp);
	if (stats_value(f, &st->max, tmp) == 0)
		member(maxs, name, tmp->data, tmp->len);
}

/*
 * The statistics of field f onto the member lists: a primitive's bounds
 * and null count, a struct's as an object of its fields', an array's or a
 * map's null count alone (top_nulls; -1 when unknown, inside a struct).
 */
static void field_stats(struct stats_walk *sw, const struct delta_field *f, int64_t top_nulls,
                        struct buf *mins, struct buf *maxs, struct buf *nulls)
{
	struct buf *tmp = &sw->tmp;
	if (f->type == DT_ARRAY || f->type == DT_MAP) {
		sw->leaf += leaves_of(f);
		sw->indexed++;
		if (top_nulls >= 0) {
			buf_reset(tmp);
			buf_i64(tmp, top_nulls);
			member(nulls, delta_field_file_name(f), tmp->data, tmp->len);
		}
		return;
	}
	if (f->type == DT_STRUCT) {
		struct buf smin = BUF_INIT, smax = BUF_INIT, snull = BUF_INIT;
		for (size_t i = 0; i < f->nchildren; i++)
			field_stats(sw, &f->children[i], -1, &smin, &smax, &snull);
		struct buf *parts[3] = {&smin, &smax, &snull}, *into[3] = {mins, maxs, nulls};
		for (int k = 0; k < 3; k++) {
			if (!parts[k]->len && !buf_failed(parts[k]))
				continue;
			buf_reset(tmp);
			buf_putc(tmp, '{');
			buf_append(tmp, parts[k]->data, parts[k]->len);
			buf_putc(tmp, '}');
			member(into[k], delta_field_file_name(f), tmp->data, tmp->len);
			if (buf_failed(parts[k]))
				into[k]->failed = 1;
		}
		buf_free(&smin);
		buf_free(&smax);
		buf_free(&snull);
		return;
	}
	struct pq_stats st;
	if (pq_writer_stats(sw->w, sw->leaf++, &st) < 0)
		return;
	buf_reset(tmp);
	buf_i64(tmp, st.null_count < 0 ? 0 : st.null_count);
	member(nulls, delta_field_file_name(f), tmp->data, tmp->len);
	if ((sw->stats_cols >= 0 && sw->indexed++ >= sw->stats_cols) || !st.has_min_max)
		return;
	prim_bounds(sw, f, &st, mins, maxs);
}

int delta_stats_json(const struct delta_schema *schema, char *const *parts, size_t nparts,
                     int64_t stats_cols, struct pq_writer *w, int64_t rows,
                     const int64_t *col_nulls, struct buf *out)
{
	struct buf mins = BUF_INIT, maxs = BUF_INIT, nulls = BUF_INIT;
	struct stats_walk sw = {.w = w, .stats_cols = stats_cols, .tmp = BUF_INIT};
	for (size_t i = 0; i < schema->n; i++) {
		const struct delta_field *f = &schema->fields[i];
		if (is_partition_column(parts, nparts, f->name))
			continue;
		field_stats(&sw, f, col_nulls ? col_nulls[i] : -1, &mins, &maxs, &nulls);
	}
	buf_printf(out,
	           "{\"numRecords\":%lld,\"minValues\":{%s},\"maxValues\":{%s},\"nullCount\":{%s}}",
	           (long long)rows, mins.data ? mins.data : "", maxs.data ? maxs.data : "",
	           nulls.data ? nulls.data : "");
	int failed = buf_failed(&mins) || buf_failed(&maxs) || buf_failed(&nulls) ||
	             buf_failed(&sw.tmp) || buf_failed(out);
	buf_free(&mins);
	buf_free(&maxs);
	buf_free(&nulls);
	buf_free(&sw.tmp);
	return failed ? -1 : 0;
}

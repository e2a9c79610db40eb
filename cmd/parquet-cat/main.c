/*
 * parquet-cat: print the rows of Parquet files as records, or their footers.
 *
 * Rows become JSON objects in the conventions of stocketl-records(5):
 * decimals are numbers with their shortest exact text (160.07), timestamps
 * RFC 3339 strings in UTC (without Z for a timestamp without time zone, as
 * delta-cat prints a timestamp_ntz), dates YYYY-MM-DD, binary values base64, nested
 * values objects and arrays (a map is an object whose keys are the map's
 * keys as text).  Files with the tick schema can also come out as binary
 * tick records; a data file of a table partitioned by trade_date lacks that
 * column, whose value is then the one of the trade_date=YYYY-MM-DD directory
 * the file is in.  --meta prints each file's footer instead: its schema, row
 * groups and column chunks with encodings, sizes and statistics.
 *
 * A file that cannot be read is reported and skipped; the exit status then
 * says so.  All output goes through the record-stream writer.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/utf8.h"
#include "base/cli.h"
#include "text/decimal.h"
#include "base/err.h"
#include "parquet/parquet.h"
#include "record/stream.h"
#include "text/ts.h"

#define STDIN_MAX ((size_t)1 << 30) /* a Parquet file read from stdin is held in memory */

static const char usage[] =
    "usage: parquet-cat [-qv] [--binary] [--columns LIST] [--meta] FILE ...\n";

static const struct cli_option options[] = {
    {"--binary", "write binary tick records (never to a terminal)"},
    {"--columns LIST", "only these columns: dotted paths, comma-separated"},
    {"--meta", "print each file's footer instead of its rows"},
    {NULL, NULL},
};

/* ------------------------------------------------------------ values */

/* The JSON text of a primitive value of field f. */
static void put_primitive(struct buf *b, const struct pq_field *f, const struct pq_value *v)
{
	char text[DEC_TEXT_MAX + TS_TEXT_MAX];
	switch (v->kind) {
	case PQ_V_NULL:
		buf_puts(b, "null");
		break;
	case PQ_V_BOOL:
		buf_puts(b, v->b ? "true" : "false");
		break;
	case PQ_V_I32:
		if (f->type == PQ_DATE) {
			ts_format_date(v->i32, text);
			buf_json_str(b, text, strlen(text));
		} else {
			buf_i64(b, v->i32);
		}
		break;
	case PQ_V_I64:
		if (f->type == PQ_TIMESTAMP || f->type == PQ_TIMESTAMP_NTZ) {
			size_t n = ts_format_rfc3339(v->i64, text);
			/*
			 * A timestamp without time zone is wall-clock time, not an
			 * instant: no Z, as delta-cat prints a timestamp_ntz and
			 * delta-append reads one.
			 */
			if (f->type == PQ_TIMESTAMP_NTZ)
				text[--n] = '\0';
			buf_json_str(b, text, n);
		} else {
			buf_i64(b, v->i64);
		}
		break;
	case PQ_V_F32:
		buf_json_number(b, v->f32, 1);
		break;
	case PQ_V_F64:
		buf_json_number(b, v->f64, 0);
		break;
	case PQ_V_BYTES:
		if (f->type == PQ_STRING)
			buf_json_str(b, (const char *)v->bytes.p, v->bytes.len);
		else {
			buf_putc(b, '"');
			buf_base64(b, v->bytes.p, v->bytes.len);
			buf_putc(b, '"');
		}
		break;
	case PQ_V_DEC:
		/* The shortest exact text, as stocketl-records(5) and delta-cat write it. */
		dec_format(v->dec, f->scale, text);
		buf_puts(b, text);
		break;
	default:
		buf_puts(b, "null");
		break;
	}
}

static void put_value(struct buf *b, const struct pq_reader *r, int field,
                      const struct pq_value *v);

/* A map key: its text as a JSON string. */
static void put_key(struct buf *b, const struct pq_reader *r, int field, const struct pq_value *v)
{
	if (v->kind == PQ_V_BYTES &&
	    pq_schema_field(pq_reader_schema(r), field)->type == PQ_STRING) {
		buf_json_str(b, (const char *)v->bytes.p, v->bytes.len);
		return;
	}
	struct buf tmp = BUF_INIT;
	put_value(&tmp, r, field, v);
	if (tmp.len && tmp.data[0] == '"')
		buf_append(b, tmp.data, tmp.len);
	else
		buf_json_str(b, tmp.data ? tmp.data : "", tmp.len);
	buf_free(&tmp);
}

static void put_value(struct buf *b, const struct pq_reader *r, int field, const struct pq_value *v)
{
	const struct pq_schema *s = pq_reader_schema(r);
	const struct pq_field *f = pq_schema_field(s, field);
	switch (v->kind) {
	case PQ_V_STRUCT: {
		uint32_t k = 0;
		buf_putc(b, '{');
		for (int i = 0; i < f->nchildren && k < v->n; i++) {
			int c = f->children[i];
			if (!pq_reader_selected(r, c))
				continue;
			if (k)
				buf_putc(b, ',');
			const char *name = pq_schema_field(s, c)->name;
			buf_json_str(b, name, strlen(name));
			buf_putc(b, ':');
			put_value(b, r, c, &v->items[k++]);
		}
		buf_putc(b, '}');
		break;
	}
	case PQ_V_LIST:
		buf_putc(b, '[');
		for (uint32_t i = 0; i < v->n; i++) {
			if (i)
				buf_putc(b, ',');
			put_value(b, r, f->children[0], &v->items[i]);
		}
		buf_putc(b, ']');
		break;
	case PQ_V_MAP:
		buf_putc(b, '{');
		for (uint32_t i = 0; i < v->n; i++) {
			if (i)
				buf_putc(b, ',');
			put_key(b, r, f->children[0], &v->items[2 * i]);
			buf_putc(b, ':');
			put_value(b, r, f->children[1], &v->items[2 * i + 1]);
		}
		buf_putc(b, '}');
		break;
	default:
		put_primitive(b, f, v);
		break;
	}
}

/* -------------------------------------------------------------- footer */

static void put_str_member(struct buf *b, const char *key, const char *v)
{
	buf_printf(b, ",\"%s\":", key);
	if (v)
		buf_json_str(b, v, strlen(v));
	else
		buf_puts(b, "null");
}

static void put_logical(struct buf *b, const struct pq_element *el)
{
	static const char *const units[] = {"?", "MILLIS", "MICROS", "NANOS"};
	const char *unit = el->logical_b >= 1 && el->logical_b <= 3 ? units[el->logical_b] : "?";
	switch (el->logical) {
	case 1:
		buf_puts(b, "\"STRING\"");
		break;
	case 2:
		buf_puts(b, "\"MAP\"");
		break;
	case 3:
		buf_puts(b, "\"LIST\"");
		break;
	case 4:
		buf_puts(b, "\"ENUM\"");
		break;
	case 5:
		buf_printf(b, "\"DECIMAL(%d,%d)\"", el->logical_b, el->logical_a);
		break;
	case 6:
		buf_puts(b, "\"DATE\"");
		break;
	case 7:
	case 8:
		buf_printf(b, "\"%s(%s,%s)\"", el->logical == 7 ? "TIME" : "TIMESTAMP", unit,
		           el->logical_a ? "UTC" : "local");
		break;
	case 10:
		buf_printf(b, "\"INTEGER(%d,%s)\"", el->logical_a,
		           el->logical_b ? "signed" : "unsigned");
		break;
	case 12:
		buf_puts(b, "\"JSON\"");
		break;
	case 13:
		buf_puts(b, "\"BSON\"");
		break;
	case 14:
		buf_puts(b, "\"UUID\"");
		break;
	case 15:
		buf_puts(b, "\"FLOAT16\"");
		break;
	default:
		buf_printf(b, "\"LOGICAL(%d)\"", el->logical);
		break;
	}
}

static void put_element(struct buf *b, const struct pq_element *el)
{
	static const char *const reps[] = {"REQUIRED", "OPTIONAL", "REPEATED"};
	buf_puts(b, "{\"name\":");
	buf_json_str(b, el->name, strlen(el->name));
	if (el->type >= 0)
		put_str_member(b, "type", pq_physical_name(el->type));
	if (el->type_length >= 0)
		buf_printf(b, ",\"type_length\":%d", el->type_length);
	if (el->repetition >= 0 && el->repetition <= 2)
		put_str_member(b, "repetition", reps[el->repetition]);
	if (el->num_children >= 0)
		buf_printf(b, ",\"num_children\":%d", el->num_children);
	if (el->converted_type >= 0)
		put_str_member(b, "converted_type", pq_converted_name(el->converted_type));
	if (el->scale >= 0)
		buf_printf(b, ",\"scale\":%d", el->scale);
	if (el->precision >= 0)
		buf_printf(b, ",\"precision\":%d", el->precision);
	if (el->field_id >= 0)
		buf_printf(b, ",\"field_id\":%d", el->field_id);
	if (el->logical) {
		buf_puts(b, ",\"logical_type\":");
		put_logical(b, el);
	}
	buf_putc(b, '}');
}

static void put_meta(struct buf *b, const char *name, const struct pq_reader *r)
{
	const struct pq_schema *s = pq_reader_schema(r);
	buf_puts(b, "{\"file\":");
	buf_json_str(b, name, strlen(name));
	buf_printf(b, ",\"num_rows\":%lld", (long long)pq_reader_num_rows(r));
	put_str_member(b, "created_by", pq_reader_created_by(r));
	buf_puts(b, ",\"key_value_metadata\":{");
	for (size_t i = 0; i < pq_reader_num_kv(r); i++) {
		const struct pq_kv *kv = pq_reader_kv(r, i);
		if (i)
			buf_putc(b, ',');
		buf_json_str(b, kv->key, strlen(kv->key));
		buf_putc(b, ':');
		if (kv->value)
			buf_json_str(b, kv->value, strlen(kv->value));
		else
			buf_puts(b, "null");
	}
	buf_puts(b, "},\"schema\":[");
	for (size_t i = 0; i < pq_reader_num_elements(r); i++) {
		if (i)
			buf_putc(b, ',');
		put_element(b, pq_reader_element(r, i));
	}
	buf_puts(b, "],\"row_groups\":[");
	for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
		buf_printf(b, "%s{\"num_rows\":%lld,\"columns\":[", g ? "," : "",
		           (long long)pq_reader_row_group_rows(r, g));
		for (int l = 0; l < pq_schema_nleaves(s); l++) {
			struct pq_chunk_info ci;
			struct pq_stats st;
			char path[1024];
			pq_reader_chunk_info(r, g, l, &ci);
			pq_reader_stats(r, g, l, &st);
			pq_reader_column_path(r, l, path, sizeof path);
			buf_puts(b, l ? ",{\"path\":" : "{\"path\":");
			buf_json_str(b, path, strlen(path));
			put_str_member(b, "type", pq_physical_name(ci.type));
			put_str_member(b, "codec", pq_codec_name(ci.codec));
			buf_puts(b, ",\"encodings\":[");
			for (int k = 0; k < ci.nencodings; k++) {
				const char *en = pq_encoding_name(ci.encodings[k]);
				if (k)
					buf_putc(b, ',');
				if (en)
					buf_json_str(b, en, strlen(en));
				else
					buf_printf(b, "%d", ci.encodings[k]);
			}
			buf_printf(b,
			           "],\"num_values\":%lld,\"total_compressed_size\":%lld,"
			           "\"total_uncompressed_size\":%lld,\"data_page_offset\":%lld",
			           (long long)ci.num_values, (long long)ci.total_compressed_size,
			           (long long)ci.total_uncompressed_size,
			           (long long)ci.data_page_offset);
			if (ci.dictionary_page_offset >= 0)
				buf_printf(b, ",\"dictionary_page_offset\":%lld",
				           (long long)ci.dictionary_page_offset);
			buf_puts(b, ",\"statistics\":{\"null_count\":");
			if (st.null_count >= 0)
				buf_i64(b, st.null_count);
			else
				buf_puts(b, "null");
			if (st.has_min_max) {
				const struct pq_field *f =
				    pq_schema_field(s, pq_schema_leaf_field(s, l));
				buf_puts(b, ",\"min\":");
				put_primitive(b, f, &st.min);
				buf_puts(b, ",\"max\":");
				put_primitive(b, f, &st.max);
			}
			buf_puts(b, "}}");
		}
		buf_puts(b, "]}");
	}
	buf_puts(b, "]}");
}

/* --------------------------------------------------------------- ticks */

#define TRADE_DATE 3 /* the tick field that partitions tick tables */

/*
 * The top-level field of each tick column, or -1 and a message when the file
 * has no tick schema.  A file without trade_date (a table's partition
 * column, which Delta keeps out of the data files) gets idx[TRADE_DATE] -1.
 */
static int tick_fields(const struct pq_schema *s, int idx[TICK_FIELD_COUNT], char *why, size_t n)
{
	static const enum pq_type want[TICK_FIELD_COUNT] = {
	    PQ_STRING,  PQ_STRING,  PQ_TIMESTAMP, PQ_DATE, PQ_DECIMAL,   PQ_DECIMAL,
	    PQ_DECIMAL, PQ_DECIMAL, PQ_LONG,      PQ_LONG, PQ_TIMESTAMP, PQ_STRING};
	const struct pq_field *root = pq_schema_field(s, PQ_ROOT);
	int found = 0;
	for (int i = 0; i < TICK_FIELD_COUNT; i++) {
		idx[i] = pq_schema_child(s, PQ_ROOT, tick_field_names[i]);
		const struct pq_field *f = idx[i] >= 0 ? pq_schema_field(s, idx[i]) : NULL;
		if (!f && i == TRADE_DATE)
			continue;
		if (!f) {
			snprintf(why, n, "not the tick schema (no column %s)", tick_field_names[i]);
			return -1;
		}
		found++;
		if (f->type != want[i] ||
		    (f->type == PQ_DECIMAL && (f->scale != DEC6_SCALE || f->precision > 18))) {
			snprintf(why, n, "not the tick schema (column %s is %s)",
			         tick_field_names[i], pq_type_name(f->type));
			return -1;
		}
	}
	if (root->nchildren != found) {
		snprintf(why, n, "not the tick schema (%d columns, not %d)", root->nchildren,
		         found);
		return -1;
	}
	return 0;
}

/*
 * The trade_date of a data file that lacks the column: the value of the
 * innermost trade_date=VALUE directory on its path (a relative path taken
 * from the working directory, "." and ".." resolved as written, symbolic
 * links not followed), as Hive-style partitioning writes it; the value
 * __HIVE_DEFAULT_PARTITION__ stands for null.  0 with *day (or *null) set,
 * -1 and a message when there is no such directory or its value is not a
 * date.
 */
static int partition_date(const char *name, int32_t *day, int *null, char *why, size_t n)
{
	static const char key[] = "trade_date=", hive_null[] = "__HIVE_DEFAULT_PARTITION__";
	char full[8192];
	const char *dirs[512] = {NULL}; /* the directories of the path, outermost first */
	size_t lens[512] = {0};
	int depth = 0;
	*null = 0;
	full[0] = '\0';
	if (name[0] != '/' && !getcwd(full, sizeof full - 1))
		full[0] = '\0';
	size_t at = strlen(full);
	snprintf(full + at, sizeof full - at, "/%s", name);
	char *last = strrchr(full, '/');
	for (char *c = full; c < last;) {
		char *slash = memchr(c, '/', (size_t)(last - c));
		char *stop = slash ? slash : last;
		size_t len = (size_t)(stop - c);
		if (len == 2 && memcmp(c, "..", 2) == 0)
			depth -= depth > 0;
		else if (len && !(len == 1 && c[0] == '.') && depth < 512) {
			dirs[depth] = c;
			lens[depth++] = len;
		}
		c = stop + 1;
	}
	while (depth > 0 && (lens[depth - 1] < sizeof key - 1 ||
	                     memcmp(dirs[depth - 1], key, sizeof key - 1) != 0))
		depth--;
	if (depth == 0) {
		snprintf(why, n,
		         "no column trade_date, and no trade_date=YYYY-MM-DD directory on "
		         "its path to take it from");
		return -1;
	}
	const char *value = dirs[depth - 1] + sizeof key - 1;
	size_t len = lens[depth - 1] - (sizeof key - 1);
	if (len == sizeof hive_null - 1 && memcmp(value, hive_null, len) == 0) {
		*null = 1;
		return 0;
	}
	if (ts_parse_date(value, len, day) < 0) {
		snprintf(why, n, "its directory trade_date=%.*s does not hold a date",
		         (int)(len > 40 ? 40 : len), value);
		return -1;
	}
	return 0;
}

/* The trade_date of every row of a file without the column (see partition_date()). */
static int file_date(const char *name, struct pq_value *date, char *why, size_t n)
{
	int null;
	if (strcmp(name, "-") == 0) {
		snprintf(why, n,
		         "no column trade_date, and standard input has no path to take "
		         "it from");
		return -1;
	}
	if (partition_date(name, &date->i32, &null, why, n) < 0)
		return -1;
	date->kind = null ? PQ_V_NULL : PQ_V_I32;
	return 0;
}

/*
 * Fill a tick from a row of a tick-schema file (pos: where each tick column
 * is among the row's items, -1 for the trade_date of the file's partition,
 * which is date); -1 and a message when a value does not fit.
 */
static int row_to_tick(const struct pq_value *row, const int pos[TICK_FIELD_COUNT],
                       const struct pq_value *date, struct tick *t, char *why, size_t n)
{
	memset(t, 0, sizeof *t);
	for (int i = 0; i < TICK_FIELD_COUNT; i++) {
		const struct pq_value *v = pos[i] >= 0 ? &row->items[pos[i]] : date;
		if (v->kind == PQ_V_NULL) {
			t->nulls |= (uint16_t)(1u << i);
			continue;
		}
		switch (i) {
		case 0:
		case 11: {
			char *dst = i == 0 ? t->symbol : t->source;
			if (v->bytes.len > TICK_SYMBOL_MAX) {
				snprintf(why, n, "%s longer than %d bytes", tick_field_names[i],
				         TICK_SYMBOL_MAX);
				return -1;
			}
			int nul = memchr(v->bytes.p, '\0', v->bytes.len) != NULL;
			if (nul || utf8_valid((const char *)v->bytes.p, v->bytes.len) < 0) {
				snprintf(why, n, "%s holds %s", tick_field_names[i],
				         nul ? "a NUL byte" : "bytes that are not UTF-8");
				return -1;
			}
			memcpy(dst, v->bytes.p, v->bytes.len);
			dst[v->bytes.len] = '\0';
			break;
		}
		case 1:
			t->interval =
			    (uint8_t)tick_interval_parse((const char *)v->bytes.p, v->bytes.len);
			if (!t->interval) {
				snprintf(why, n, "interval \"%.*s\" is not a tick interval",
				         (int)(v->bytes.len > 32 ? 32 : v->bytes.len),
				         (const char *)v->bytes.p);
				return -1;
			}
			break;
		case 2:
			t->trade_timestamp = v->i64;
			break;
		case 3:
			t->trade_date = v->i32;
			break;
		case 4:
			t->open = (int64_t)v->dec;
			break;
		case 5:
			t->high = (int64_t)v->dec;
			break;
		case 6:
			t->low = (int64_t)v->dec;
			break;
		case 7:
			t->close = (int64_t)v->dec;
			break;
		case 8:
			t->volume = v->i64;
			break;
		case 9:
			t->batch_id = v->i64;
			break;
		default:
			t->ingested_at = v->i64;
			break;
		}
	}
	return 0;
}

/*
 * -1 and a message when the rows would not read back as data: a line
 * whose only member's name starts with '@' (one column selected, or the
 * file's only one, named so) is a control line of the record stream, and
 * one whose first member is "@batch" a batch marker, so the readers
 * downstream would skip or refuse every row.
 */
static int control_like(const struct pq_reader *r, char *why, size_t n)
{
	const struct pq_schema *s = pq_reader_schema(r);
	const struct pq_field *root = pq_schema_field(s, PQ_ROOT);
	const char *first = NULL;
	int selected = 0;
	for (int i = 0; i < root->nchildren; i++)
		if (pq_reader_selected(r, root->children[i]) && selected++ == 0)
			first = pq_schema_field(s, root->children[i])->name;
	if (first && selected == 1 && first[0] == '@')
		snprintf(why, n,
		         "column %.64s alone would make each row a control line of the record "
		         "stream, not data%s",
		         first, root->nchildren > 1 ? " (select another column with it)" : "");
	else if (first && strcmp(first, "@batch") == 0)
		snprintf(why, n,
		         "column @batch first would make each row a batch marker of the record "
		         "stream, not data");
	else
		return 0;
	return -1;
}

/* ---------------------------------------------------------------- files */

struct opts {
	int binary, meta;
	const char **columns;
	size_t ncolumns;
};

/* Read all of stdin (a Parquet file needs random access). */
static int slurp_stdin(struct buf *b, struct err_msg *e)
{
	char chunk[65536];
	for (;;) {
		ssize_t k = read(STDIN_FILENO, chunk, sizeof chunk);
		if (k < 0) {
			err_set(e, EX_IOERR, "stdin: read failed: %s", strerror(errno));
			return -1;
		}
		if (k == 0)
			return 0;
		if (b->len + (size_t)k > STDIN_MAX) {
			err_set(e, EX_DATAERR, "stdin: more than %zu bytes", STDIN_MAX);
			return -1;
		}
		if (buf_append(b, chunk, (size_t)k) < 0) {
			err_set(e, EX_SOFTWARE, "stdin: out of memory");
			return -1;
		}
	}
}

/*
 * Print one file.  Returns 0, a data or input status for a file that could
 * not be read (reported here), or -1 when output failed (the caller stops).
 */
/* Rows written so far, for the failed marker that ends the output of a read that failed. */
static int64_t rows_out;

static int cat_file(const char *name, const struct opts *o, struct rec_writer *w, struct buf *line)
{
	struct err_msg e;
	struct buf in = BUF_INIT;
	struct pq_reader *r;
	int status = 0;
	if (strcmp(name, "-") == 0) {
		if (slurp_stdin(&in, &e) < 0) {
			err_error("%s", e.text);
			buf_free(&in);
			return e.status;
		}
		r = pq_reader_open_mem(in.data ? in.data : "", in.len, "stdin", NULL, &e);
	} else {
		r = pq_reader_open(name, NULL, &e);
	}
	if (!r) {
		err_error("%s", e.text);
		buf_free(&in);
		return e.status;
	}
	err_info("%s: %lld rows in %d row groups", name, (long long)pq_reader_num_rows(r),
	         pq_reader_num_row_groups(r));
	if (o->meta) {
		buf_reset(line);
		put_meta(line, name, r);
		if (rec_write_json(w, line->data, line->len, &e) < 0)
			status = -1;
		goto out;
	}
	int idx[TICK_FIELD_COUNT], pos[TICK_FIELD_COUNT];
	struct pq_value date = {.kind = PQ_V_NULL};
	char why[200];
	if (o->binary) {
		const struct pq_schema *s = pq_reader_schema(r);
		if (tick_fields(s, idx, why, sizeof why) < 0 ||
		    (idx[TRADE_DATE] < 0 && file_date(name, &date, why, sizeof why) < 0)) {
			err_error("%s: %s", name, why);
			status = EX_DATAERR;
			goto out;
		}
		/* Position of each tick column among the row's items (schema order). */
		const struct pq_field *root = pq_schema_field(s, PQ_ROOT);
		for (int i = 0; i < TICK_FIELD_COUNT; i++) {
			pos[i] = -1;
			for (int k = 0; k < root->nchildren; k++)
				if (root->children[k] == idx[i])
					pos[i] = k;
		}
	} else if (o->ncolumns && pq_reader_select(r, o->columns, o->ncolumns, &e) < 0) {
		err_error("%s", e.text);
		status = EX_USAGE;
		goto out;
	} else if (control_like(r, why, sizeof why) < 0) {
		err_error("%s: %s", name, why);
		status = EX_DATAERR;
		goto out;
	}
	const struct pq_value *row;
	int rc;
	int64_t n = 0;
	while ((rc = pq_reader_next_row(r, &row, &e)) > 0) {
		n++;
		if (o->binary) {
			struct tick t;
			if (row_to_tick(row, pos, &date, &t, why, sizeof why) < 0) {
				err_error("%s: row %lld: %s", name, (long long)n, why);
				status = EX_DATAERR;
				goto out;
			}
			if (rec_write_tick(w, &t, &e) < 0) {
				status = -1;
				goto out;
			}
			rows_out++;
			continue;
		}
		buf_reset(line);
		put_value(line, r, PQ_ROOT, row);
		if (rec_write_json(w, line->data, line->len, &e) < 0) {
			status = -1;
			goto out;
		}
		rows_out++;
	}
	if (rc < 0) {
		err_error("%s", e.text);
		status = e.status;
	}
out:
	if (status < 0 && !rec_writer_broken_pipe(w))
		err_error("%s", e.text);
	pq_reader_close(r);
	buf_free(&in);
	return status;
}

/* Split a comma-separated list of column paths (in place). */
static int split_columns(char *list, struct opts *o)
{
	size_t n = 1;
	for (const char *p = list; *p; p++)
		n += *p == ',';
	o->columns = calloc(n, sizeof *o->columns);
	if (!o->columns)
		return -1;
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ","))
		if (*tok)
			o->columns[o->ncolumns++] = tok;
	return o->ncolumns ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"binary", no_argument, NULL, 'b'},  {"columns", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},    {"meta", no_argument, NULL, 'm'},
	    {"quiet", no_argument, NULL, 'q'},   {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0},
	};
	struct opts o = {0, 0, NULL, 0};
	char *columns = NULL;
	int level = ERR_NORMAL, ch;
	err_init(argv[0]);
	while ((ch = cli_getopt(usage, argc, argv, "hqv", longopts)) != -1) {
		switch (ch) {
		case 'b':
			o.binary = 1;
			break;
		case 'c':
			columns = optarg;
			break;
		case 'h':
			return cli_help(usage, options);
		case 'm':
			o.meta = 1;
			break;
		case 'q':
			level = ERR_QUIET;
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
	if (argc == 0)
		return cli_usage_error(usage, "no file given");
	if (o.meta && (o.binary || columns))
		return cli_usage_error(usage, "--meta prints footers: no --binary or --columns");
	if (o.binary && columns)
		return cli_usage_error(usage, "--binary writes whole tick records: no --columns");
	if (columns && split_columns(columns, &o) < 0) {
		free(o.columns);
		return cli_bad_value(usage, "--columns", columns,
		                     "a comma-separated list of columns");
	}
	int rc = o.binary ? cli_refuse_binary_tty(usage, "--binary") : EX_OK;
	if (rc != EX_OK) {
		free(o.columns);
		return rc;
	}

	struct rec_writer *w =
	    rec_writer_new(dup(STDOUT_FILENO), "stdout", o.binary ? REC_FMT_BINARY : REC_FMT_JSON);
	struct buf line = BUF_INIT;
	struct err_msg e;
	/* A file that cannot be read is reported and the next one read; the worst status wins. */
	for (int i = 0; i < argc; i++) {
		int st = cat_file(argv[i], &o, w, &line);
		if (st < 0) {
			/* A reader that went away (parquet-cat F | head -1) is a quiet end. */
			if (!rec_writer_broken_pipe(w))
				rc = EX_IOERR;
			break;
		}
		rc = err_status_worse(rc, st);
	}
	/*
	 * Some file could not be read: the rows that went out are not all of
	 * them.  A failed batch marker ends them, so that delta-append commits
	 * none (told --app-id and --batch-id or not).  Without rows, an empty
	 * output commits nothing anyway.
	 */
	if (!o.meta && rc >= EX_USAGE && rows_out > 0 && !rec_writer_broken_pipe(w)) {
		struct rec_batch b;
		memset(&b, 0, sizeof b);
		snprintf(b.app, sizeof b.app, "parquet-cat");
		b.records = rows_out;
		b.status = BATCH_FAILED;
		if (rec_write_batch(w, &b, &e) < 0 && !rec_writer_broken_pipe(w))
			err_error("%s", e.text);
	}
	int closed = rec_writer_close(w, &e);
	if (closed == -1 && rc != EX_IOERR) {
		err_error("%s", e.text);
		rc = EX_IOERR;
	}
	rc = err_status_worse(rc, cli_close_stdout());
	buf_free(&line);
	free(o.columns);
	return rc;
}

/*
 * out: delta-cat's output formats.
 *
 * JSON (the default) is one object per row with the output columns in
 * order, values as the record streams write them (stocketl-records(5)):
 * exact decimals, RFC 3339 timestamps in UTC, base64 for binary, "NaN" and
 * "Infinity" as strings, structs and string-keyed maps as objects, arrays
 * as arrays, other maps as arrays of {"key":..,"value":..}.
 *
 * CSV (RFC 4180) has a header line; a null is an empty field and an empty
 * string is "" so that the two stay apart; nested values are their JSON
 * text.  Binary is the tick record frame, for tables whose columns are the
 * tick record's.
 *
 * Rows are written as they come, through a 64 KiB buffer, so output starts
 * before the last file is read and memory does not grow with the table.
 */
#include "deltacat.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/utf8.h"
#include "text/decimal.h"
#include "record/stream.h"

struct dc_out {
	int format;
	const struct dc_col *cols;
	size_t *order; /* output position -> column */
	size_t nout;
	char **keys; /* JSON: "name": */
	size_t *keylen;
	struct rec_writer *w; /* JSON and binary */
	struct buf line, tmp;
	int tick[TICK_FIELD_COUNT]; /* binary: the column of each tick field */
	/* binary: a decimal field's factor to scale 6 (below it, above it) */
	dec128 dec_mul[TICK_FIELD_COUNT], dec_div[TICK_FIELD_COUNT];
	dec128 dec_limit; /* 10^DEC6_PRECISION: no tick decimal reaches it */
	/*
	 * binary: the last symbol, interval and source taken, checked already:
	 * they come in runs (and from dictionaries), so most rows repeat them
	 * and skip their checks.
	 */
	struct dc_seen {
		int ok;
		size_t n;
		char s[TICK_SOURCE_MAX + 1];
		uint8_t interval;
	} seen[3];
	int broken;
	uint64_t rows;
	uint64_t batch_from; /* rows before the batch being written */
};

/* Nested values ------------------------------------------------------------- */

int dc_nested_json(const struct delta_field *f, const struct delta_nplan *np,
                   const struct pq_value *v, struct buf *out)
{
	if (!v || v->kind == PQ_V_NULL || np->absent)
		return buf_puts(out, "null");
	struct delta_cell c;
	switch (f->type) {
	case DT_STRUCT:
		if (v->kind != PQ_V_STRUCT)
			return buf_puts(out, "null");
		buf_putc(out, '{');
		for (size_t i = 0; i < f->nchildren; i++) {
			const struct delta_field *cf = &f->children[i];
			int k = np->item[i];
			if (i)
				buf_putc(out, ',');
			buf_json_str(out, cf->name, strlen(cf->name));
			buf_putc(out, ':');
			dc_nested_json(cf, &np->kids[i],
			               k >= 0 && (uint32_t)k < v->n ? &v->items[k] : NULL, out);
		}
		return buf_putc(out, '}');
	case DT_ARRAY:
		if (v->kind != PQ_V_LIST)
			return buf_puts(out, "null");
		buf_putc(out, '[');
		for (uint32_t i = 0; i < v->n; i++) {
			if (i)
				buf_putc(out, ',');
			dc_nested_json(&f->children[0], &np->kids[0], &v->items[i], out);
		}
		return buf_putc(out, ']');
	case DT_MAP: {
		if (v->kind != PQ_V_MAP)
			return buf_puts(out, "null");
		const struct delta_field *kf = &f->children[0], *vf = &f->children[1];
		int as_object = kf->type == DT_STRING;
		buf_putc(out, as_object ? '{' : '[');
		for (uint32_t i = 0; i < v->n; i++) {
			const struct pq_value *key = &v->items[2 * i], *val = &v->items[2 * i + 1];
			if (i)
				buf_putc(out, ',');
			if (as_object) {
				delta_conv_value(np->kids[0].conv, np->kids[0].shift, key, &c);
				if (c.null)
					buf_puts(out, "\"\"");
				else
					delta_cell_to_json(kf, &c, out);
				buf_putc(out, ':');
			} else {
				buf_puts(out, "{\"key\":");
				dc_nested_json(kf, &np->kids[0], key, out);
				buf_puts(out, ",\"value\":");
			}
			dc_nested_json(vf, &np->kids[1], val, out);
			if (!as_object)
				buf_putc(out, '}');
		}
		return buf_putc(out, as_object ? '}' : ']');
	}
	default:
		delta_conv_value(np->conv, np->shift, v, &c);
		return delta_cell_to_json(f, &c, out);
	}
}

/* Opening ------------------------------------------------------------------------- */

static int tick_type_fits(int field, const struct delta_field *f)
{
	switch (field) {
	case 0:
	case 1:
	case 11:
		return f->type == DT_STRING;
	case 2:
	case 10:
		return f->type == DT_TIMESTAMP;
	case 3:
		return f->type == DT_DATE;
	case 8:
	case 9:
		return f->type == DT_LONG || f->type == DT_INTEGER || f->type == DT_SHORT ||
		       f->type == DT_BYTE;
	default:
		return f->type == DT_DECIMAL;
	}
}

static int setup_binary(struct dc_out *o, struct err_msg *e)
{
	o->dec_limit = dec_pow10(DEC6_PRECISION);
	for (int t = 0; t < TICK_FIELD_COUNT; t++) {
		o->tick[t] = -1;
		for (size_t k = 0; k < o->nout; k++)
			if (strcmp(o->cols[o->order[k]].f->name, tick_field_names[t]) == 0)
				o->tick[t] = (int)o->order[k];
		if (o->tick[t] < 0) {
			err_set(e, EX_USAGE,
			        "--binary writes tick records, and the output has no column %s",
			        tick_field_names[t]);
			return -1;
		}
		const struct delta_field *f = o->cols[o->tick[t]].f;
		if (f->type == DT_DECIMAL) {
			o->dec_mul[t] = dec_pow10(DEC6_SCALE - f->scale);
			o->dec_div[t] = dec_pow10(f->scale - DEC6_SCALE);
		}
		if (!tick_type_fits(t, f)) {
			char type[64];
			delta_field_type_name(f, type, sizeof type);
			err_set(e, EX_USAGE, "--binary writes tick records, and column %s is %s",
			        f->name, type);
			return -1;
		}
	}
	if (o->nout != TICK_FIELD_COUNT) {
		for (size_t k = 0; k < o->nout; k++) {
			int known = 0;
			for (int t = 0; t < TICK_FIELD_COUNT; t++)
				known |=
				    strcmp(o->cols[o->order[k]].f->name, tick_field_names[t]) == 0;
			if (!known) {
				err_set(e, EX_USAGE,
				        "--binary writes tick records, which have no column %s",
				        o->cols[o->order[k]].f->name);
				return -1;
			}
		}
	}
	return 0;
}

static void csv_field(struct buf *out, const char *s, size_t n)
{
	int quote = n == 0 || memchr(s, ',', n) || memchr(s, '"', n) || memchr(s, '\n', n) ||
	            memchr(s, '\r', n);
	if (!quote) {
		buf_append(out, s, n);
		return;
	}
	buf_putc(out, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			buf_putc(out, '"');
		buf_putc(out, s[i]);
	}
	buf_putc(out, '"');
}

static int csv_write(struct dc_out *o, struct err_msg *e)
{
	if (fwrite(o->line.data, 1, o->line.len, stdout) != o->line.len) {
		o->broken = errno == EPIPE;
		err_set(e, EX_IOERR, "stdout: write error: %s", strerror(errno));
		return -1;
	}
	return 0;
}

struct dc_out *dc_out_open(int format, const struct dc_col *cols, size_t ncols, struct err_msg *e)
{
	struct dc_out *o = calloc(1, sizeof *o);
	if (!o || !(o->order = calloc(ncols ? ncols : 1, sizeof *o->order)) ||
	    !(o->keys = calloc(ncols ? ncols : 1, sizeof *o->keys)) ||
	    !(o->keylen = calloc(ncols ? ncols : 1, sizeof *o->keylen))) {
		if (o) {
			free(o->order);
			free(o->keys);
		}
		free(o);
		err_set(e, EX_SOFTWARE, "out of memory");
		return NULL;
	}
	o->format = format;
	o->cols = cols;
	for (size_t i = 0; i < ncols; i++)
		if (cols[i].out >= 0) {
			o->order[cols[i].out] = i;
			o->nout++;
		}
	for (size_t k = 0; k < o->nout; k++) {
		struct buf b = BUF_INIT;
		const char *name = cols[o->order[k]].f->name;
		buf_json_str(&b, name, strlen(name));
		buf_putc(&b, ':');
		o->keylen[k] = b.len;
		o->keys[k] = buf_detach(&b);
	}
	if (format == DC_BINARY && setup_binary(o, e) < 0)
		goto fail;
	if (format == DC_CSV) {
		/* A reader that goes away must be a write error, not a signal that kills. */
		signal(SIGPIPE, SIG_IGN);
		setvbuf(stdout, NULL, _IOFBF, 1 << 16);
		for (size_t k = 0; k < o->nout; k++) {
			const char *name = cols[o->order[k]].f->name;
			if (k)
				buf_putc(&o->line, ',');
			csv_field(&o->line, name, strlen(name));
		}
		buf_putc(&o->line, '\n');
		if (csv_write(o, e) < 0)
			goto fail;
		return o;
	}
	int fd = dup(STDOUT_FILENO);
	if (fd < 0) {
		err_set(e, EX_IOERR, "stdout: %s", strerror(errno));
		goto fail;
	}
	o->w = rec_writer_new(fd, "stdout", format == DC_BINARY ? REC_FMT_BINARY : REC_FMT_JSON);
	if (!o->w) {
		close(fd);
		err_set(e, EX_SOFTWARE, "out of memory");
		goto fail;
	}
	return o;
fail:
	for (size_t k = 0; k < o->nout; k++)
		free(o->keys[k]);
	free(o->keys);
	free(o->keylen);
	free(o->order);
	buf_free(&o->line);
	free(o);
	return NULL;
}

/* Rows ---------------------------------------------------------------------------- */

static int tick_fail(struct dc_out *o, struct err_msg *e, int field, const char *why)
{
	err_set(e, EX_DATAERR, "row %llu: column %s: %s, which a tick record cannot hold",
	        (unsigned long long)o->rows, tick_field_names[field], why);
	return -1;
}

/* Whether a string cell is the one last checked and kept in seen. */
static int seen_again(const struct dc_seen *seen, const struct delta_cell *c)
{
	return seen->ok && c->n == seen->n && (!c->n || memcmp(c->s, seen->s, c->n) == 0);
}

/* Keep a checked string cell (and its interval) for the rows after it. */
static void seen_keep(struct dc_seen *seen, const struct delta_cell *c, uint8_t interval)
{
	seen->ok = c->n < sizeof seen->s;
	if (!seen->ok)
		return;
	seen->n = c->n;
	if (c->n)
		memcpy(seen->s, c->s, c->n);
	seen->interval = interval;
}

static int row_tick(struct dc_out *o, const struct delta_value *row, struct tick *t,
                    struct err_msg *e)
{
	/*
	 * Each field set rather than the struct cleared whole: a memset of it
	 * was a sixth of this function's time.  The strings end at their NUL,
	 * which is all tick_to_frame() reads of them.
	 */
	t->symbol[0] = t->source[0] = '\0';
	t->trade_timestamp = t->open = t->high = t->low = t->close = 0;
	t->volume = t->batch_id = t->ingested_at = 0;
	t->trade_date = 0;
	t->nulls = 0;
	t->interval = 0;
	for (int k = 0; k < TICK_FIELD_COUNT; k++) {
		const struct delta_field *f = o->cols[o->tick[k]].f;
		const struct delta_cell *c = &row[o->tick[k]].c;
		if (c->null) {
			t->nulls |= (uint16_t)(1u << k);
			continue;
		}
		switch (k) {
		case 0:
		case 11: {
			struct dc_seen *seen = &o->seen[k == 0 ? 0 : 2];
			size_t max = k == 0 ? TICK_SYMBOL_MAX : TICK_SOURCE_MAX;
			if (!seen_again(seen, c)) {
				if (c->n > max || memchr(c->s, '\0', c->n))
					return tick_fail(o, e, k,
					                 c->n > max ? "the value is too long"
					                            : "a NUL byte");
				if (utf8_valid(c->s, c->n) < 0)
					return tick_fail(o, e, k, "bytes that are not UTF-8");
				seen_keep(seen, c, 0);
			}
			char *to = k == 0 ? t->symbol : t->source;
			if (c->n)
				memcpy(to, c->s, c->n);
			to[c->n] = '\0';
			break;
		}
		case 1:
			if (seen_again(&o->seen[1], c)) {
				t->interval = o->seen[1].interval;
				break;
			}
			t->interval = (uint8_t)tick_interval_parse(c->s, c->n);
			if (!t->interval)
				return tick_fail(o, e, k, "an unknown interval");
			seen_keep(&o->seen[1], c, t->interval);
			break;
		case 2:
			t->trade_timestamp = c->i;
			break;
		case 10:
			t->ingested_at = c->i;
			break;
		case 3:
			t->trade_date = (int32_t)c->i;
			break;
		case 8:
			t->volume = c->i;
			break;
		case 9:
			t->batch_id = c->i;
			break;
		default: {
			/*
			 * The column's scale brought to the tick's 6, by the factor
			 * worked out once (powers of ten computed per value were a
			 * third of delta-cat's time on a table of bars).
			 */
			dec128 d = c->dec;
			if (f->scale > DEC6_SCALE) {
				if (d % o->dec_div[k])
					return tick_fail(o, e, k, "more than 6 decimals");
				d /= o->dec_div[k];
			} else if (f->scale < DEC6_SCALE) {
				d *= o->dec_mul[k];
			}
			if (d >= o->dec_limit || d <= -o->dec_limit)
				return tick_fail(o, e, k, "more than 12 integer digits");
			int64_t v = (int64_t)d;
			if (k == 4)
				t->open = v;
			else if (k == 5)
				t->high = v;
			else if (k == 6)
				t->low = v;
			else
				t->close = v;
			break;
		}
		}
	}
	return 0;
}

/* One CSV field of a value. */
static void csv_value(struct dc_out *o, const struct delta_field *f, const struct delta_value *v)
{
	if (!delta_type_is_primitive(f->type)) {
		if (!v->v)
			return;
		buf_reset(&o->tmp);
		dc_nested_json(f, v->np, v->v, &o->tmp);
		csv_field(&o->line, o->tmp.data, o->tmp.len);
		return;
	}
	if (v->c.null)
		return;
	if (f->type == DT_STRING) {
		csv_field(&o->line, v->c.s, v->c.n);
		return;
	}
	buf_reset(&o->tmp);
	delta_cell_to_json(f, &v->c, &o->tmp);
	/* Dates, timestamps, base64 and "NaN" lose their JSON quotes; they hold no commas. */
	if (o->tmp.len == 2 && o->tmp.data[0] == '"')
		buf_puts(&o->line, "\"\""); /* empty binary: still not a null */
	else if (o->tmp.len > 2 && o->tmp.data[0] == '"')
		buf_append(&o->line, o->tmp.data + 1, o->tmp.len - 2);
	else
		buf_append(&o->line, o->tmp.data, o->tmp.len);
}

int dc_out_row(void *out, const struct delta_value *row, struct err_msg *e)
{
	struct dc_out *o = out;
	o->rows++;
	if (o->format == DC_BINARY) {
		struct tick t;
		if (row_tick(o, row, &t, e) < 0)
			return -1;
		if (rec_write_tick(o->w, &t, e) < 0) {
			o->broken = rec_writer_broken_pipe(o->w);
			return -1;
		}
		return 0;
	}
	buf_reset(&o->line);
	if (o->format == DC_JSON)
		buf_putc(&o->line, '{');
	for (size_t k = 0; k < o->nout; k++) {
		size_t i = o->order[k];
		const struct delta_field *f = o->cols[i].f;
		if (k)
			buf_putc(&o->line, ',');
		if (o->format == DC_CSV) {
			csv_value(o, f, &row[i]);
			continue;
		}
		buf_append(&o->line, o->keys[k], o->keylen[k]);
		if (delta_type_is_primitive(f->type))
			delta_cell_to_json(f, &row[i].c, &o->line);
		else
			dc_nested_json(f, row[i].np, row[i].v, &o->line);
	}
	if (o->format == DC_CSV) {
		buf_putc(&o->line, '\n');
		return csv_write(o, e);
	}
	buf_putc(&o->line, '}');
	if (rec_write_json(o->w, o->line.data, o->line.len, e) < 0) {
		o->broken = rec_writer_broken_pipe(o->w);
		return -1;
	}
	return 0;
}

/* A batch marker of the rows since the last one. */
static int put_marker(struct dc_out *o, const char *app, int64_t id, int status, struct err_msg *e)
{
	struct rec_batch b;
	memset(&b, 0, sizeof b);
	snprintf(b.app, sizeof b.app, "%s", app);
	b.id = id;
	b.records = (int64_t)(o->rows - o->batch_from);
	b.status = status;
	o->batch_from = o->rows;
	if (rec_write_batch(o->w, &b, e) < 0) {
		o->broken = rec_writer_broken_pipe(o->w);
		return -1;
	}
	return 0;
}

int dc_out_batch(struct dc_out *o, const char *app, int64_t id, struct err_msg *e)
{
	return put_marker(o, app, id, BATCH_OK, e);
}

int dc_out_fail(struct dc_out *o, const char *app, int64_t id)
{
	struct err_msg e;
	if (!o->w || o->broken || o->format == DC_CSV || o->rows == o->batch_from)
		return 0;
	return put_marker(o, app, id, BATCH_FAILED, &e);
}

int dc_out_broken_pipe(const struct dc_out *o)
{
	return o->broken;
}

int dc_out_close(struct dc_out *o, struct err_msg *e)
{
	int rc = 0;
	if (o->w) {
		int k = rec_writer_close(o->w, e);
		if (k == REC_EPIPE)
			o->broken = 1;
		rc = k < 0 ? -1 : 0;
	} else if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
		o->broken = o->broken || errno == EPIPE;
		err_set(e, EX_IOERR, "stdout: write error: %s", strerror(errno));
		rc = -1;
	}
	if (o->broken)
		rc = -2;
	for (size_t k = 0; k < o->nout; k++)
		free(o->keys[k]);
	free(o->keys);
	free(o->keylen);
	free(o->order);
	buf_free(&o->line);
	buf_free(&o->tmp);
	free(o);
	return rc;
}

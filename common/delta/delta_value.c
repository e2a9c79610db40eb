/*
 * delta_value: typed values of Delta's primitive types and their text forms
 * (record JSON, partition values).  Exactness rules: decimals never pass
 * through binary floating point; timestamps keep microseconds; integers are
 * range-checked against their column's width.
 */
#include "delta/delta.h"
#include "delta/delta_nested.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/decimal.h"
#include "text/jscan.h"
#include "record/stream.h"
#include "text/ts.h"

static int cell_fail(struct err_msg *e, const struct delta_field *f, const char *why)
{
	char type[40];
	delta_field_type_name(f, type, sizeof type);
	err_set(e, EX_DATAERR, "column \"%s\" (%s): %s", f->name, type, why);
	return -1;
}

static int parse_i64_text(const char *s, size_t n, int64_t *out)
{
	if (n == 0 || n > 20)
		return -1;
	size_t i = s[0] == '-' ? 1 : 0;
	if (i == n)
		return -1;
	uint64_t v = 0;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (s[0] == '-') {
		if (v > (uint64_t)INT64_MAX + 1)
			return -1;
		*out = (int64_t)(0 - v);
	} else {
		if (v > (uint64_t)INT64_MAX)
			return -1;
		*out = (int64_t)v;
	}
	return 0;
}

static int int_range(int type, int64_t v)
{
	switch (type) {
	case DT_INTEGER:
		return v >= INT32_MIN && v <= INT32_MAX;
	case DT_SHORT:
		return v >= INT16_MIN && v <= INT16_MAX;
	case DT_BYTE:
		return v >= INT8_MIN && v <= INT8_MAX;
	default:
		return 1;
	}
}

/* Parse "YYYY-MM-DDTHH:MM:SS[.f]" without an offset (timestamp_ntz). */
static int parse_ntz(const char *s, size_t n, int64_t *us)
{
	char tmp[48];
	if (n + 1 >= sizeof tmp)
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = 'Z';
	return ts_parse_rfc3339(tmp, n + 1, us);
}

/* Text (from JSON or a partition value) to a cell; src says which for messages. */
static int cell_from_text(const struct delta_field *f, const char *s, size_t n, int is_string,
                          struct delta_cell *c, struct buf *scratch, struct err_msg *e)
{
	struct err_msg de;
	switch (f->type) {
	case DT_STRING:
		if (!is_string)
			return cell_fail(e, f, "expected a string");
		c->s = s;
		c->n = n;
		return 0;
	case DT_BINARY:
		if (!is_string)
			return cell_fail(e, f, "expected a base64 string");
		buf_reset(scratch);
		if (buf_base64_decode(scratch, s, n) < 0)
			return cell_fail(e, f, "expected a base64 string");
		c->s = scratch->data;
		c->n = scratch->len;
		return 0;
	case DT_LONG:
	case DT_INTEGER:
	case DT_SHORT:
	case DT_BYTE:
		if (parse_i64_text(s, n, &c->i) < 0 || !int_range(f->type, c->i))
			return cell_fail(e, f,
			                 f->type == DT_LONG ? "expected a 64-bit integer"
			                                    : "expected an integer in range");
		return 0;
	case DT_FLOAT:
	case DT_DOUBLE: {
		char tmp[64];
		if (n == 0 || n >= sizeof tmp)
			return cell_fail(e, f, "expected a number");
		memcpy(tmp, s, n);
		tmp[n] = '\0';
		if (strcmp(tmp, "NaN") == 0) {
			c->d = NAN;
			return 0;
		}
		if (strcmp(tmp, "Infinity") == 0 || strcmp(tmp, "-Infinity") == 0) {
			c->d = tmp[0] == '-' ? -INFINITY : INFINITY;
			return 0;
		}
		char *end;
		errno = 0;
		c->d = strtod(tmp, &end);
		/* strtod's "-nan" forms are no number either: NaN is written "NaN" alone. */
		if (*end || (tmp[0] != '-' && (tmp[0] < '0' || tmp[0] > '9') && tmp[0] != '.') ||
		    isnan(c->d))
			return cell_fail(e, f, "expected a number");
		/* A finite number past the largest double (1e400): never taken for Infinity. */
		if (isinf(c->d))
			return cell_fail(e, f,
			                 f->type == DT_FLOAT ? "out of range for float"
			                                     : "out of range for double");
		/*
		 * A float column holds the float nearest the text, as the file
		 * will: else 0.1 would be a key that the 0.1 read back from a
		 * file (0.100000001490116...) never equals.  Out of range is past
		 * the largest float once rounded to one: 3.4028235e38, as floats
		 * are printed, is above FLT_MAX as a double but rounds to it.
		 */
		if (f->type == DT_FLOAT) {
			float fv = strtof(tmp, NULL);
			if (isinf(fv))
				return cell_fail(e, f, "out of range for float");
			c->d = fv;
		}
		return 0;
	}
	case DT_BOOLEAN:
		if (n == 4 && memcmp(s, "true", 4) == 0)
			c->i = 1;
		else if (n == 5 && memcmp(s, "false", 5) == 0)
			c->i = 0;
		else
			return cell_fail(e, f, "expected true or false");
		return 0;
	case DT_DATE: {
		int32_t d;
		if (!is_string || ts_parse_date(s, n, &d) < 0)
			return cell_fail(e, f, "expected a date YYYY-MM-DD");
		c->i = d;
		return 0;
	}
	case DT_TIMESTAMP:
		if (!is_string || ts_parse_rfc3339(s, n, &c->i) < 0)
			return cell_fail(e, f, "expected an RFC 3339 timestamp with an offset");
		return 0;
	case DT_TIMESTAMP_NTZ:
		if (!is_string || parse_ntz(s, n, &c->i) < 0)
			return cell_fail(e, f,
			                 "expected a timestamp YYYY-MM-DDTHH:MM:SS without offset");
		return 0;
	case DT_DECIMAL:
		if (dec_parse(s, n, f->precision, f->scale, &c->dec, &de) < 0)
			return cell_fail(e, f, de.text);
		return 0;
	default:
		return cell_fail(e, f, "nested and void columns cannot be written");
	}
}

int delta_cell_from_json(const struct delta_field *f, const struct rec_field *rf,
                         struct delta_cell *c, struct buf *scratch, struct err_msg *e)
{
	memset(c, 0, sizeof *c);
	if (!rf || rf->type == JS_NULL) {
		c->null = 1;
		if (!f->nullable)
			return cell_fail(e, f,
			                 rf ? "null in a column that is not nullable"
			                    : "missing, and the column is not nullable");
		return 0;
	}
	if (delta_type_is_nested(f->type)) {
		if (rf->type != JS_OBJ && rf->type != JS_ARR)
			return cell_fail(e, f,
			                 f->type == DT_STRUCT ? "expected an object"
			                 : f->type == DT_ARRAY
			                     ? "expected an array"
			                     : "expected an object or an array of "
			                       "key and value objects");
		buf_reset(scratch);
		if (delta_nested_from_json(f, rf->val, rf->val_len, scratch, e) < 0)
			return -1;
		c->s = scratch->data;
		c->n = scratch->len;
		return 0;
	}
	switch (rf->type) {
	case JS_STR:
		if (rf->escaped) {
			buf_reset(scratch);
			if (jscan_unescape(rf->val, rf->val_len, scratch) < 0)
				return cell_fail(e, f, "bad string escape");
			return cell_from_text(f, scratch->data, scratch->len, 1, c, scratch, e);
		}
		/* Numbers held in strings are accepted ("160.0700"); so are booleans' texts. */
		return cell_from_text(f, rf->val, rf->val_len, 1, c, scratch, e);
	case JS_NUM:
		if (f->type == DT_STRING || f->type == DT_BINARY || f->type == DT_DATE ||
		    f->type == DT_TIMESTAMP || f->type == DT_TIMESTAMP_NTZ)
			return cell_fail(e, f, "expected a string, got a number");
		return cell_from_text(f, rf->val, rf->val_len, 0, c, scratch, e);
	case JS_TRUE:
	case JS_FALSE:
		if (f->type != DT_BOOLEAN)
			return cell_fail(e, f, "got a boolean");
		c->i = rf->type == JS_TRUE;
		return 0;
	default:
		return cell_fail(e, f, "got an object or array");
	}
}

/* Shortest text that reads back as the same double (or float). */
static void put_float(struct buf *out, double d, int is_float)
{
	char tmp[40];
	for (int prec = is_float ? 6 : 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, d);
		if (is_float ? (float)strtod(tmp, NULL) == (float)d : strtod(tmp, NULL) == d)
			break;
	}
	/* Keep it a JSON number that still looks like a float: 1 -> 1.0 */
	if (!strpbrk(tmp, ".eEn"))
		strcat(tmp, ".0");
	buf_puts(out, tmp);
}

int delta_cell_to_json(const struct delta_field *f, const struct delta_cell *c, struct buf *out)
{
	char tmp[DEC_TEXT_MAX + TS_TEXT_MAX];
	if (c->null)
		return buf_puts(out, "null");
	if (delta_type_is_nested(f->type))
		return delta_nested_to_json(f, c->s, c->n, out);
	switch (f->type) {
	case DT_STRING:
		/* Not UTF-8: buf_json_str() keeps it JSON (the bad bytes as U+FFFD). */
		return buf_json_str(out, c->s, c->n);
	case DT_BINARY:
		buf_putc(out, '"');
		buf_base64(out, c->s, c->n);
		return buf_putc(out, '"');
	case DT_LONG:
	case DT_INTEGER:
	case DT_SHORT:
	case DT_BYTE:
		return buf_i64(out, c->i);
	case DT_FLOAT:
	case DT_DOUBLE:
		if (isnan(c->d))
			return buf_puts(out, "\"NaN\"");
		if (isinf(c->d))
			return buf_puts(out, c->d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		put_float(out, c->d, f->type == DT_FLOAT);
		return 0;
	case DT_BOOLEAN:
		return buf_puts(out, c->i ? "true" : "false");
	case DT_DATE:
		ts_format_date(c->i, tmp);
		buf_putc(out, '"');
		buf_puts(out, tmp);
		return buf_putc(out, '"');
	case DT_TIMESTAMP:
		ts_format_rfc3339(c->i, tmp);
		buf_putc(out, '"');
		buf_puts(out, tmp);
		return buf_putc(out, '"');
	case DT_TIMESTAMP_NTZ: {
		size_t n = ts_format_rfc3339(c->i, tmp);
		tmp[n - 1] = '\0'; /* no zone: drop the Z */
		buf_putc(out, '"');
		buf_puts(out, tmp);
		return buf_putc(out, '"');
	}
	case DT_DECIMAL:
		dec_format(c->dec, f->scale, tmp);
		return buf_puts(out, tmp);
	default:
		return buf_puts(out, "null");
	}
}

int delta_partition_text(const struct delta_field *f, const struct delta_cell *c, struct buf *out)
{
	char tmp[DEC_TEXT_MAX + TS_TEXT_MAX];
	switch (f->type) {
	case DT_STRING:
	case DT_BINARY: /* its bytes, as Spark writes them and delta_partition_parse() reads them */
		return buf_append(out, c->s, c->n);
	case DT_LONG:
	case DT_INTEGER:
	case DT_SHORT:
	case DT_BYTE:
		return buf_i64(out, c->i);
	case DT_BOOLEAN:
		return buf_puts(out, c->i ? "true" : "false");
	case DT_DATE:
		ts_format_date(c->i, tmp);
		return buf_puts(out, tmp);
	case DT_TIMESTAMP: {
		/* The ISO form with six fractional digits and Z. */
		int64_t days = ts_floor_div(c->i, TS_US_PER_DAY);
		int64_t rem = c->i - days * TS_US_PER_DAY;
		ts_format_date(days, tmp);
		return buf_printf(out, "%sT%02d:%02d:%02d.%06dZ", tmp, (int)(rem / 3600000000LL),
		                  (int)(rem / 60000000LL % 60), (int)(rem / 1000000 % 60),
		                  (int)(rem % 1000000));
	}
	case DT_TIMESTAMP_NTZ: {
		int64_t days = ts_floor_div(c->i, TS_US_PER_DAY);
		int64_t rem = c->i - days * TS_US_PER_DAY;
		ts_format_date(days, tmp);
		return buf_printf(out, "%s %02d:%02d:%02d.%06d", tmp, (int)(rem / 3600000000LL),
		                  (int)(rem / 60000000LL % 60), (int)(rem / 1000000 % 60),
		                  (int)(rem % 1000000));
	}
	case DT_DECIMAL:
		dec_format_fixed(c->dec, f->scale, tmp);
		return buf_puts(out, tmp);
	case DT_FLOAT:
	case DT_DOUBLE:
		/* The forms Spark writes and reads (Java's Double.toString), not C's nan and inf. */
		if (isnan(c->d))
			return buf_puts(out, "NaN");
		if (isinf(c->d))
			return buf_puts(out, c->d > 0 ? "Infinity" : "-Infinity");
		put_float(out, c->d, f->type == DT_FLOAT);
		return 0;
	default:
		return -1;
	}
}

int delta_partition_bytes(const struct delta_field *f)
{
	return f->type == DT_STRING || f->type == DT_BINARY;
}

int delta_partition_parse(const struct delta_field *f, const char *text, struct delta_cell *c,
                          struct buf *scratch, struct err_msg *e)
{
	memset(c, 0, sizeof *c);
	if (!text || !*text) {
		c->null = 1;
		return 0;
	}
	size_t n = strlen(text);
	if (f->type == DT_TIMESTAMP) {
		/* ISO with Z, or the legacy "YYYY-MM-DD HH:MM:SS[.fff]" read as UTC. */
		if (ts_parse_rfc3339(text, n, &c->i) == 0)
			return 0;
		char tmp[48];
		if (n + 1 < sizeof tmp) {
			memcpy(tmp, text, n);
			tmp[n] = 'Z';
			if (ts_parse_rfc3339(tmp, n + 1, &c->i) == 0)
				return 0;
		}
		return cell_fail(e, f, "partition value is not a timestamp");
	}
	if (f->type == DT_TIMESTAMP_NTZ) {
		if (parse_ntz(text, n, &c->i) == 0)
			return 0;
		return cell_fail(e, f, "partition value is not a timestamp");
	}
	if (f->type == DT_BINARY) {
		/* Binary partition values are the raw bytes. */
		buf_reset(scratch);
		buf_append(scratch, text, n);
		c->s = scratch->data;
		c->n = scratch->len;
		return 0;
	}
	return cell_from_text(f, text, n, f->type != DT_BOOLEAN, c, scratch, e);
}

int delta_cell_cmp(const struct delta_field *f, const struct delta_cell *a,
                   const struct delta_cell *b)
{
	switch (f->type) {
	case DT_STRING:
	case DT_BINARY: {
		size_t n = a->n < b->n ? a->n : b->n;
		int r = memcmp(a->s, b->s, n);
		if (r)
			return r;
		return a->n < b->n ? -1 : a->n > b->n;
	}
	case DT_FLOAT:
	case DT_DOUBLE:
		return a->d < b->d ? -1 : a->d > b->d;
	case DT_DECIMAL:
		return a->dec < b->dec ? -1 : a->dec > b->dec;
	default:
		return a->i < b->i ? -1 : a->i > b->i;
	}
}

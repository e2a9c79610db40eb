/*
 * Unit tests for the Parquet writer and reader: round trips of every type,
 * codec and page version, the encodings the writer picks, statistics,
 * nested shredding (the worked example of the format brief), and files
 * that are truncated, corrupted or lie in their footer.
 */
#include "parquet/parquet.h"
#include "parquet/pq_enc_internal.h"
#include "parquet/pq_internal.h"
#include "t.h"
#include "parquet/thrift_internal.h"
#include "text/jscan.h"

#include <brotli/encode.h>
#include <dirent.h>
#include <fcntl.h>
#include <lz4.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[256];
static char path[512];

static const char *tmpfile_named(const char *name)
{
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return path;
}

static pq_int128 pow10_128(int k)
{
	pq_int128 v = 1;
	while (k-- > 0)
		v *= 10;
	return v;
}

static int value_eq(const struct pq_value *a, const struct pq_value *b)
{
	if (a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case PQ_V_NULL:
		return 1;
	case PQ_V_BOOL:
		return !a->b == !b->b;
	case PQ_V_I32:
		return a->i32 == b->i32;
	case PQ_V_I64:
		return a->i64 == b->i64;
	case PQ_V_F32:
		return memcmp(&a->f32, &b->f32, 4) == 0;
	case PQ_V_F64:
		return memcmp(&a->f64, &b->f64, 8) == 0;
	case PQ_V_BYTES:
		return a->bytes.len == b->bytes.len &&
		       (a->bytes.len == 0 || memcmp(a->bytes.p, b->bytes.p, a->bytes.len) == 0);
	case PQ_V_DEC:
		return a->dec == b->dec;
	default: {
		uint32_t n = a->kind == PQ_V_MAP ? 2 * a->n : a->n;
		if (a->n != b->n)
			return 0;
		for (uint32_t i = 0; i < n; i++)
			if (!value_eq(&a->items[i], &b->items[i]))
				return 0;
		return 1;
	}
	}
}

/* Read every row of a file; the error text (or NULL) and the row count. */
static char read_err[ERR_MSG_MAX];

static const char *read_all(const char *file, const struct pq_read_options *o, int64_t *rows)
{
	struct err_msg e = {{0}, 0};
	*rows = 0;
	struct pq_reader *r = pq_reader_open(file, o, &e);
	if (!r) {
		snprintf(read_err, sizeof read_err, "%s", e.text);
		return read_err;
	}
	const struct pq_value *row;
	int rc;
	while ((rc = pq_reader_next_row(r, &row, &e)) > 0)
		(*rows)++;
	pq_reader_close(r);
	if (rc < 0) {
		snprintf(read_err, sizeof read_err, "%s", e.text);
		return read_err;
	}
	return NULL;
}

static int contains(const char *s, const char *part)
{
	if (s && strstr(s, part))
		return 1;
	printf("#   \"%s\" does not contain \"%s\"\n", s ? s : "(null)", part);
	return 0;
}

/* ----------------------------------------------------- every flat type */

enum {
	C_BOOL,
	C_BYTE,
	C_SHORT,
	C_INT,
	C_LONG,
	C_FLOAT,
	C_DOUBLE,
	C_STRING,
	C_BINARY,
	C_DATE,
	C_TS,
	C_NTZ,
	C_DEC9,
	C_DEC18,
	C_DEC38,
	NCOLS
};

static struct pq_schema *flat_schema(int optional)
{
	struct pq_schema *s = pq_schema_new();
	static const enum pq_type types[] = {PQ_BOOLEAN, PQ_BYTE,  PQ_SHORT,     PQ_INT,
	                                     PQ_LONG,    PQ_FLOAT, PQ_DOUBLE,    PQ_STRING,
	                                     PQ_BINARY,  PQ_DATE,  PQ_TIMESTAMP, PQ_TIMESTAMP_NTZ};
	static const char *const names[] = {"bool",   "byte",   "short",  "int",  "long", "float",
	                                    "double", "string", "binary", "date", "ts",   "ntz"};
	for (int i = 0; i < 12; i++)
		pq_schema_add(s, PQ_ROOT, names[i], types[i], optional);
	pq_schema_add_decimal(s, PQ_ROOT, "dec9", 9, 2, optional);
	pq_schema_add_decimal(s, PQ_ROOT, "dec18", 18, 6, optional);
	pq_schema_add_decimal(s, PQ_ROOT, "dec38", 38, 10, optional);
	return s;
}

/* The value of column c in row i (null every 5th row when nullable). */
static struct pq_value flat_value(int c, int i, int nullable, char *sbuf)
{
	struct pq_value v;
	memset(&v, 0, sizeof v);
	if (nullable && i % 5 == 3) {
		v.kind = PQ_V_NULL;
		return v;
	}
	int sign = i % 2 ? -1 : 1;
	switch (c) {
	case C_BOOL:
		v.kind = PQ_V_BOOL;
		v.b = i % 3 == 0;
		break;
	case C_BYTE:
		v.kind = PQ_V_I32;
		v.i32 = i == 1 ? -128 : i == 2 ? 127 : sign * (i % 100);
		break;
	case C_SHORT:
		v.kind = PQ_V_I32;
		v.i32 = i == 1 ? -32768 : i == 2 ? 32767 : sign * i * 3;
		break;
	case C_INT:
	case C_DATE:
		v.kind = PQ_V_I32;
		v.i32 = i == 1 ? INT32_MIN : i == 2 ? INT32_MAX : sign * i * 1000;
		if (c == C_DATE)
			v.i32 = -719162 + i * 37; /* from 0001-01-01 on, before and after 1970 */
		break;
	case C_LONG:
	case C_TS:
	case C_NTZ:
		v.kind = PQ_V_I64;
		v.i64 = i == 1 ? INT64_MIN : i == 2 ? INT64_MAX : sign * (int64_t)i * 123456789;
		if (c != C_LONG)
			v.i64 = -62135596800000000LL + (int64_t)i * 86400000123LL;
		break;
	case C_FLOAT:
		v.kind = PQ_V_F32;
		v.f32 = i == 1 ? NAN : i == 2 ? -0.0f : i == 4 ? INFINITY : (float)(sign * i) / 8;
		break;
	case C_DOUBLE:
		v.kind = PQ_V_F64;
		v.f64 = i == 1 ? -INFINITY : i == 2 ? 1e308 : i == 4 ? NAN : sign * i * 0.1;
		break;
	case C_STRING:
	case C_BINARY:
		v.kind = PQ_V_BYTES;
		snprintf(sbuf, 64, "%s%d",
		         i % 7 == 0   ? ""
		         : i % 7 == 1 ? "\xc3\xa9t\xc3\xa9"
		                      : "k",
		         i % 23);
		if (i % 11 == 0)
			sbuf[0] = '\0';
		v.bytes.p = (const uint8_t *)sbuf;
		v.bytes.len = strlen(sbuf);
		if (c == C_BINARY && i % 13 == 0) {
			sbuf[0] = '\0';
			sbuf[1] = '\xff';
			v.bytes.len = 2;
		}
		break;
	case C_DEC9:
		v.kind = PQ_V_DEC;
		v.dec = i == 1 ? -(pow10_128(9) - 1) : i == 2 ? pow10_128(9) - 1 : sign * i * 101;
		break;
	case C_DEC18:
		v.kind = PQ_V_DEC;
		v.dec = i == 1   ? -(pow10_128(18) - 1)
		        : i == 2 ? pow10_128(18) - 1
		                 : 160070000 + sign * (i % 50) * 10000;
		break;
	default:
		v.kind = PQ_V_DEC;
		v.dec = i == 1   ? -(pow10_128(38) - 1)
		        : i == 2 ? pow10_128(38) - 1
		                 : (pq_int128)(sign * i) * 1000000000000LL * 1000000000LL;
		break;
	}
	return v;
}

static int put_value(struct pq_writer *w, int c, const struct pq_value *v)
{
	switch (v->kind) {
	case PQ_V_NULL:
		return pq_writer_put_null(w, c);
	case PQ_V_BOOL:
		return pq_writer_put_bool(w, c, v->b);
	case PQ_V_I32:
		return pq_writer_put_i32(w, c, v->i32);
	case PQ_V_I64:
		return pq_writer_put_i64(w, c, v->i64);
	case PQ_V_F32:
		return pq_writer_put_f32(w, c, v->f32);
	case PQ_V_F64:
		return pq_writer_put_f64(w, c, v->f64);
	case PQ_V_BYTES:
		return pq_writer_put_bytes(w, c, v->bytes.p, v->bytes.len);
	default:
		return pq_writer_put_dec(w, c, v->dec);
	}
}

#define NROWS 3000

/* Write NROWS rows one value at a time; 0 or -1. */
static int write_flat_rows(const char *file, const struct pq_write_options *o, int nullable,
                           int rows);

static int write_flat(const char *file, const struct pq_write_options *o, int nullable)
{
	return write_flat_rows(file, o, nullable, NROWS);
}

/* The first rows of write_flat()'s file. */
static int write_flat_rows(const char *file, const struct pq_write_options *o, int nullable,
                           int rows)
{
	struct err_msg e = {{0}, 0};
	struct pq_schema *s = flat_schema(nullable);
	struct pq_writer *w = pq_writer_open(file, s, o, &e);
	pq_schema_free(s);
	if (!w) {
		printf("#   %s\n", e.text);
		return -1;
	}
	char sbuf[64];
	int rc = 0;
	for (int i = 0; i < rows && rc == 0; i++) {
		for (int c = 0; c < NCOLS && rc == 0; c++) {
			struct pq_value v = flat_value(c, i, nullable, sbuf);
			rc = put_value(w, c, &v);
		}
		if (rc == 0)
			rc = pq_writer_end_row(w);
	}
	if (rc == 0)
		rc = pq_writer_close(w);
	if (rc < 0)
		printf("#   %s\n", pq_writer_error(w)->text);
	pq_writer_free(w);
	return rc;
}

/* Read a file written by write_flat() back by rows and by columns. */
static void check_flat(const char *file, int nullable)
{
	struct err_msg e = {{0}, 0};
	struct pq_reader *r = pq_reader_open(file, NULL, &e);
	T_CHECK(r != NULL);
	if (!r) {
		printf("#   %s\n", e.text);
		return;
	}
	T_EQ_INT(pq_reader_num_rows(r), NROWS);
	const struct pq_value *row;
	char sbuf[64];
	int i = 0, bad = 0, rc;
	while ((rc = pq_reader_next_row(r, &row, &e)) > 0) {
		for (int c = 0; c < NCOLS; c++) {
			struct pq_value want = flat_value(c, i, nullable, sbuf);
			if (!value_eq(&row->items[c], &want) && bad++ < 5)
				printf("#   row %d column %d differs\n", i, c);
		}
		i++;
	}
	T_EQ_INT(rc, 0);
	T_EQ_INT(i, NROWS);
	T_EQ_INT(bad, 0);

	/* The columnar reader gives the same values. */
	for (int c = 0; c < NCOLS; c++) {
		int row_no = 0;
		for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
			struct pq_column *col = pq_column_open(r, g, c, &e);
			T_CHECK(col != NULL);
			if (!col)
				break;
			struct pq_column_batch b;
			ssize_t n;
			while ((n = pq_column_read(col, &b, 100, &e)) > 0) {
				for (ssize_t k = 0; k < n; k++, row_no++) {
					struct pq_value want =
					    flat_value(c, row_no, nullable, sbuf);
					struct pq_value got;
					memset(&got, 0, sizeof got);
					got.kind = b.valid && !b.valid[k] ? PQ_V_NULL : want.kind;
					if (got.kind == PQ_V_BOOL)
						got.b = b.b[k];
					else if (got.kind == PQ_V_I32)
						got.i32 = b.i32[k];
					else if (got.kind == PQ_V_I64)
						got.i64 = b.i64[k];
					else if (got.kind == PQ_V_F32)
						got.f32 = b.f32[k];
					else if (got.kind == PQ_V_F64)
						got.f64 = b.f64[k];
					else if (got.kind == PQ_V_BYTES)
						got.bytes = b.bytes[k];
					else if (got.kind == PQ_V_DEC)
						got.dec = b.dec[k];
					if (!value_eq(&got, &want) && bad++ < 5)
						printf("#   column %d row %d differs\n", c, row_no);
				}
			}
			T_EQ_INT(n, 0);
			pq_column_close(col);
		}
		T_EQ_INT(row_no, NROWS);
	}
	T_EQ_INT(bad, 0);
	pq_reader_close(r);
}

static void test_every_type_round_trips_with_every_codec_and_page_version(void)
{
	static const int codecs[] = {PQ_ZSTD, PQ_SNAPPY, PQ_GZIP, PQ_UNCOMPRESSED};
	for (size_t k = 0; k < 4; k++) {
		for (int version = 1; version <= 2; version++) {
			for (int nullable = 0; nullable <= 1; nullable++) {
				struct pq_write_options o;
				pq_write_options_init(&o);
				o.compression = codecs[k];
				o.page_version = version;
				o.row_group_rows = 1000;
				o.page_bytes = 2000;
				const char *f = tmpfile_named("flat.parquet");
				T_EQ_INT(write_flat(f, &o, nullable), 0);
				check_flat(f, nullable);
			}
		}
	}
}

static void test_batches_write_what_rows_write(void)
{
	struct err_msg e = {{0}, 0};
	struct pq_write_options o;
	pq_write_options_init(&o);
	o.row_group_rows = 700;
	o.page_bytes = 1500;
	struct pq_schema *s = flat_schema(1);
	const char *f = tmpfile_named("batch.parquet");
	struct pq_writer *w = pq_writer_open(f, s, &o, &e);
	pq_schema_free(s);
	T_CHECK(w != NULL);
	if (!w)
		return;
	static char sbufs[NROWS][64];
	static uint8_t valid[NROWS], b8[NROWS];
	static int32_t i32[NROWS];
	static int64_t i64[NROWS];
	static float f32[NROWS];
	static double f64[NROWS];
	static struct pq_bytes bytes[NROWS];
	static pq_int128 dec[NROWS];
	int rc = 0;
	/* Batches of 250 rows, each column in turn, then the end of the batch. */
	for (int at = 0; at < NROWS && rc == 0; at += 250) {
		for (int c = 0; c < NCOLS && rc == 0; c++) {
			for (int i = at; i < at + 250; i++) {
				struct pq_value v = flat_value(c, i, 1, sbufs[i]);
				valid[i] = v.kind != PQ_V_NULL;
				b8[i] = (uint8_t)v.b;
				i32[i] = v.i32;
				i64[i] = c == C_DEC18 ? (int64_t)v.dec : v.i64;
				f32[i] = v.f32;
				f64[i] = v.f64;
				bytes[i] = v.bytes;
				dec[i] = v.dec;
			}
			switch (c) {
			case C_BOOL:
				rc = pq_writer_write_bool(w, c, b8 + at, valid + at, 250);
				break;
			case C_BYTE:
			case C_SHORT:
			case C_INT:
			case C_DATE:
				rc = pq_writer_write_i32(w, c, i32 + at, valid + at, 250);
				break;
			case C_LONG:
			case C_TS:
			case C_NTZ:
			case C_DEC18: /* decimals up to 18 digits also come as int64 */
				rc = pq_writer_write_i64(w, c, i64 + at, valid + at, 250);
				break;
			case C_FLOAT:
				rc = pq_writer_write_f32(w, c, f32 + at, valid + at, 250);
				break;
			case C_DOUBLE:
				rc = pq_writer_write_f64(w, c, f64 + at, valid + at, 250);
				break;
			case C_STRING:
			case C_BINARY:
				rc = pq_writer_write_bytes(w, c, bytes + at, valid + at, 250);
				break;
			default:
				rc = pq_writer_write_dec(w, c, dec + at, valid + at, 250);
				break;
			}
		}
		if (rc == 0)
			rc = pq_writer_end_row(w);
	}
	if (rc == 0)
		rc = pq_writer_close(w);
	if (rc < 0)
		printf("#   %s\n", pq_writer_error(w)->text);
	T_EQ_INT(rc, 0);
	T_EQ_INT(pq_writer_rows(w), NROWS);
	pq_writer_free(w);
	check_flat(f, 1);
}

/*
 * Strings come in runs (a symbol, an interval): the writer stores a value
 * passed at the same place as the one before it, or equal to the page's
 * previous value, without its bytes again.  Runs broken by nulls, empty
 * strings, equal values at other places, a buffer rewritten between
 * batches and runs across pages all read back as written, whatever the
 * encoding.
 */
static void test_runs_of_equal_strings_read_back_as_written(void)
{
	enum { N = 3000, BATCH = 200 };
	static const int encs[] = {-1, PQ_ENC_PLAIN, PQ_ENC_RLE_DICTIONARY,
	                           PQ_ENC_DELTA_LENGTH_BYTE_ARRAY, PQ_ENC_DELTA_BYTE_ARRAY};
	static const char *const words[] = {"AAPL", "", "MSFT", "1min", "alphavantage-intraday"};
	static char want[N][32];
	static uint8_t isnull[N];
	for (size_t k = 0; k < sizeof encs / sizeof *encs; k++) {
		struct err_msg e = {{0}, 0};
		struct pq_write_options o;
		pq_write_options_init(&o);
		o.page_bytes = 700;
		struct pq_schema *s = pq_schema_new();
		pq_schema_add(s, PQ_ROOT, "s", PQ_STRING, 1);
		const char *f = tmpfile_named("runs.parquet");
		struct pq_writer *w = pq_writer_open(f, s, &o, &e);
		pq_schema_free(s);
		T_CHECK(w != NULL);
		if (!w)
			return;
		if (encs[k] >= 0)
			T_EQ_INT(pq_writer_set_encoding(w, 0, encs[k]), 0);
		/* One buffer per word, rewritten with the next word every batch. */
		static char place[5][32];
		struct pq_bytes v[BATCH];
		uint8_t valid[BATCH];
		int rc = 0;
		for (int at = 0; at < N && rc == 0; at += BATCH) {
			for (int b = 0; b < 5; b++)
				snprintf(place[b], sizeof place[b], "%s",
				         words[(b + at / BATCH) % 5]);
			for (int i = 0; i < BATCH; i++) {
				int row = at + i, b = (row / 37) % 5;
				isnull[row] = row % 53 == 7;
				valid[i] = !isnull[row];
				/* Every 11th value an equal copy at another place. */
				static char copy[BATCH][32];
				memcpy(copy[i], place[b], sizeof copy[i]);
				v[i].p = (const uint8_t *)(row % 11 == 3 ? copy[i] : place[b]);
				v[i].len = strlen(place[b]);
				memcpy(want[row], place[b], sizeof want[row]);
			}
			rc = pq_writer_write_bytes(w, 0, v, valid, BATCH);
			if (rc == 0)
				rc = pq_writer_end_row(w);
		}
		if (rc == 0)
			rc = pq_writer_close(w);
		T_EQ_INT(rc, 0);
		pq_writer_free(w);
		struct pq_reader *r = pq_reader_open(f, NULL, &e);
		T_CHECK(r != NULL);
		if (!r)
			return;
		const struct pq_value *row;
		int i = 0, bad = 0;
		while ((rc = pq_reader_next_row(r, &row, &e)) > 0 && i < N) {
			const struct pq_value *got = &row->items[0];
			int ok = isnull[i] ? got->kind == PQ_V_NULL
			                   : got->kind == PQ_V_BYTES &&
			                         got->bytes.len == strlen(want[i]) &&
			                         memcmp(got->bytes.p, want[i], got->bytes.len) == 0;
			if (!ok && bad++ < 5)
				printf("#   encoding %d: row %d differs\n", encs[k], i);
			i++;
		}
		T_EQ_INT(rc, 0);
		T_EQ_INT(i, N);
		T_EQ_INT(bad, 0);
		pq_reader_close(r);
	}
}

static void test_required_int64_batches_take_the_fast_path(void)
{
	struct err_msg e = {{0}, 0};
	struct pq_schema *s = pq_schema_new();
	pq_schema_add(s, PQ_ROOT, "v", PQ_LONG, 0);
	struct pq_write_options o;
	pq_write_options_init(&o);
	o.page_bytes = 8 * 1000;
	const char *f = tmpfile_named("fast.parquet");
	struct pq_writer *w = pq_writer_open(f, s, &o, &e);
	pq_schema_free(s);
	static int64_t v[100000];
	for (int i = 0; i < 100000; i++)
		v[i] = (int64_t)i * i;
	T_EQ_INT(pq_writer_write_i64(w, 0, v, NULL, 100000), 0);
	T_EQ_INT(pq_writer_end_row(w), 0);
	T_EQ_INT(pq_writer_close(w), 0);
	pq_writer_free(w);
	struct pq_reader *r = pq_reader_open(f, NULL, &e);
	struct pq_column *c = pq_column_open(r, 0, 0, &e);
	struct pq_column_batch b;
	ssize_t n;
	int64_t at = 0, bad = 0;
	while ((n = pq_column_read(c, &b, 4096, &e)) > 0) {
		T_CHECK(b.valid == NULL);
		for (ssize_t k = 0; k < n; k++, at++)
			bad += b.i64[k] != at * at;
	}
	T_EQ_INT(at, 100000);
	T_EQ_INT(bad, 0);
	pq_column_close(c);
	pq_reader_close(r);
}

/* ------------------------------------------------------------ encodings */

static int chunk_has(struct pq_reader *r, int rg, int leaf, int enc)
{
	struct pq_chunk_info ci;
	pq_reader_chunk_info(r, rg, leaf, &ci);
	for (int i = 0; i < ci.nencodings; i++)
		if (ci.encodings[i] == enc)
			return 1;
	return 0;
}

static void test_writer_picks_encodings_by_size(void)
{
	struct err_msg e = {{0}, 0};
	struct pq_schema *s = pq_schema_new();
	pq_schema_add(s, PQ_ROOT, "ts", PQ_TIMESTAMP, 0);
	pq_schema_add(s, PQ_ROOT, "symbol", PQ_STRING, 0);
	pq_schema_add(s, PQ_ROOT, "noise", PQ_DOUBLE, 0);
	pq_schema_add(s, PQ_ROOT, "flag", PQ_BOOLEAN, 0);
	const char *f = tmpfile_named("enc.parquet");
	struct pq_writer *w = pq_writer_open(f, s, NULL, &e);
	pq_schema_free(s);
	static const char *const syms[] = {"AAPL", "IBM", "NVDA", "TSLA"};
	for (int i = 0; i < 20000; i++) {
		pq_writer_put_i64(w, 0, 1700000000000000LL + (int64_t)i * 60000000);
		pq_writer_put_bytes(w, 1, syms[i / 5000], strlen(syms[i / 5000]));
		pq_writer_put_f64(w, 2, sin(i) * 1e6);
		pq_writer_put_bool(w, 3, i % 2);
		pq_writer_end_row(w);
	}
	T_EQ_INT(pq_writer_close(w), 0);
	pq_writer_free(w);
	struct pq_reader *r = pq_reader_open(f, NULL, &e);
	T_CHECK(chunk_has(r, 0, 0, PQ_ENC_DELTA_BINARY_PACKED));
	T_CHECK(chunk_has(r, 0, 1, PQ_ENC_RLE_DICTIONARY));
	T_CHECK(!chunk_has(r, 0, 2, PQ_ENC_RLE_DICTIONARY));
	T_CHECK(chunk_has(r, 0, 2, PQ_ENC_PLAIN));
	struct pq_chunk_info ci;
	pq_reader_chunk_info(r, 0, 0, &ci);
	/* 20000 timestamps a minute apart: a few bytes per block. */
	T_CHECK(ci.total_compressed_size < 2000);
	pq_reader_close(r);
}

static void test_dictionary_falls_back_to_plain_when_it_grows_too_large(void)
{
	struct err_msg e = {{0}, 0};
	struct pq_schema *s = pq_schema_new();
	pq_schema_add(s, PQ_ROOT, "word", PQ_STRING, 1);
	struct pq_write_options o;
	pq_write_options_init(&o);
	o.dict_max_bytes = 4000;
	o.page_bytes = 1000;
	const char *f = tmpfile_named("fallback.parquet");
	struct pq_writer *w = pq_writer_open(f, s, &o, &e);
	pq_schema_free(s);
	char buf[32];
	/* 10 distinct words first (the dictionary wins), then all new ones. */
	for (int i = 0; i < 5000; i++) {
		snprintf(buf, sizeof buf, "word-%d", i < 2000 ? i % 10 : i);
		if (i % 17 == 0)
			pq_writer_put_null(w, 0);
		else
			pq_writer_put_bytes(w, 0, buf, strlen(buf));
		pq_writer_end_row(w);
	}
	T_EQ_INT(pq_writer_close(w), 0);
	pq_writer_free(w);
	struct pq_reader *r = pq_reader_open(f, NULL, &e);
	T_CHECK(chunk_has(r, 0, 0, PQ_ENC_RLE_DICTIONARY));
	T_CHECK(chunk_has(r, 0, 0, PQ_ENC_PLAIN));
	struct pq_chunk_info ci;
	pq_reader_chunk_info(r, 0, 0, &ci);
	T_CHECK(ci.dictionary_page_offset >= 4);
	const struct pq_value *row;
	int i = 0, bad = 0;
	while (pq_reader_next_row(r, &row, &e) > 0) {
		snprintf(buf, sizeof buf, "word-%d", i < 2000 ? i % 10 : i);
		const struct pq_value *v = &row->items[0];
		if (i % 17 == 0)
			bad += v->kind != PQ_V_NULL;
		else
			bad += v->kind != PQ_V_BYTES || v->bytes.len != strlen(buf) ||
			       memcmp(v->bytes.p, buf, v->bytes.len) != 0;
		i++;
	}
	T_EQ_INT(i, 5000);
	T_EQ_INT(bad, 0);
	pq_reader_close(r);
}

static void test_forced_encodings_round_trip(void)
{
	static const struct {
		int col, enc;
	} forced[] = {
	    {C_BOOL, PQ_ENC_RLE},
	    {C_INT, PQ_ENC_DELTA_BINARY_PACKED},
	    {C_LONG, PQ_ENC_DELTA_BINARY_PACKED},
	    {C_DATE, PQ_ENC_BYTE_STREAM_SPLIT},
	    {C_FLOAT, PQ_ENC_BYTE_STREAM_SPLIT},
	    {C_DOUBLE, PQ_ENC_RLE_DICTIONARY},
	    {C_STRING, PQ_ENC_DELTA_LENGTH_BYTE_ARRAY},
	    {C_BINARY, PQ_ENC_DELTA_BYTE_ARRAY},
	    {C_DEC38, PQ_ENC_DELTA_BYTE_ARRAY},
	    {C_DEC18, PQ_ENC_PLAIN},
	};
	for (int version = 1; version <= 2; version++) {
		struct err_msg e = {{0}, 0};
		struct pq_write_options o;
		pq_write_options_init(&o);
		o.page_version = version;
		o.page_bytes = 3000;
		struct pq_schema *s = flat_schema(1);
		const char *f = tmpfile_named("forced.parquet");
		struct pq_writer *w = pq_writer_open(f, s, &o, &e);
		pq_schema_free(s);
		for (size_t k = 0; k < sizeof forced / sizeof *forced; k++)
			T_EQ_INT(pq_writer_set_encoding(w, forced[k].col, forced[k].enc), 0);
		char sbuf[64];
		for (int i = 0; i < NROWS; i++) {
			for (int c = 0; c < NCOLS; c++) {
				struct pq_value v = flat_value(c, i, 1, sbuf);
				put_value(w, c, &v);
			}
			pq_writer_end_row(w);
		}
		T_EQ_INT(pq_writer_close(w), 0);
		pq_writer_free(w);
		struct pq_reader *r = pq_reader_open(f, NULL, &e);
		for (size_t k = 0; k < sizeof forced / sizeof *forced; k++)
			T_CHECK(chunk_has(r, 0, forced[k].col, forced[k].enc));
		pq_reader_close(r);
		check_flat(f, 1);
	}
}

static void test_unsuitable_encodings_are_refused(void)
{
	struct err_msg e = {{0}, 0};
	struct pq_schema *s = flat_schema(0);
	struct pq_writer *w = pq_writer_open(tmpfile_named("refuse.parquet"), s, NULL, &e);
	pq_schema_free(s);
	T_EQ_INT(pq_writer_set_encoding(w, C_STRING, PQ_ENC_DELTA_BINARY_PACKED), -1);
	T_CHECK(
	    contains(pq_writer_error(w)->text,
	             "column string: encoding DELTA_BINARY_PACKED does not suit a string column"));
	pq_writer_free(w);
}

/* ----------------------------------------------------------- statistics */

static void test_statistics_follow_each_types_order(void)
{
	struct err_msg e = {{0}, 0};
	struct pq_schema *s = pq_schema_new();
	pq_schema_add(s, PQ_ROOT, "i", PQ_INT, 1);
	pq_schema_add(s, PQ_ROOT, "s", PQ_STRING, 1);
	pq_schema_add_decimal(s, PQ_ROOT, "d", 30, 4, 1);
	pq_schema_add(s, PQ_ROOT, "f", PQ_DOUBLE, 1);
	pq_schema_add(s, PQ_ROOT, "date", PQ_DATE, 1);
	pq_schema_add(s, PQ_ROOT, "none", PQ_LONG, 1);
	pq_schema_add(s, PQ_ROOT, "b", PQ_BOOLEAN, 1);
	const char *f = tmpfile_named("stats.parquet");
	struct pq_writer *w = pq_writer_open(f, s, NULL, &e);
	pq_schema_free(s);
	static const int32_t ints[] = {5, -7, 3, -1, 0};
	static const char *const strs[] = {"z", "\xff", "a", "\xc3\xa9", "zz"};
	static const double dbl[] = {NAN, -2.5, 0.0, -0.0, 7};
	for (int i = 0; i < 5; i++) {
		pq_writer_put_i32(w, 0, ints[i]);
		pq_writer_put_bytes(w, 1, strs[i], strlen(strs[i]));
		pq_writer_put_dec(w, 2, (pq_int128)(i - 3) * pow10_128(25));
		pq_writer_put_f64(w, 3, dbl[i]);
		pq_writer_put_i32(w, 4, -365 * i);
		pq_writer_put_null(w, 5);
		if (i == 2)
			pq_writer_put_null(w, 6);
		else
			pq_writer_put_bool(w, 6, 0);
		pq_writer_end_row(w);
	}
	T_EQ_INT(pq_writer_close(w), 0);

	struct pq_reader *r = pq_reader_open(f, NULL, &e);
	for (int pass = 0; pass < 2; pass++) {
		struct pq_stats st[7];
		for (int c = 0; c < 7; c++) {
			if (pass == 0)
				T_EQ_INT(pq_writer_stats(w, c, &st[c]), 0);
			else
				T_EQ_INT(pq_reader_stats(r, 0, c, &st[c]), 0);
		}
		T_EQ_INT(st[0].min.i32, -7);
		T_EQ_INT(st[0].max.i32, 5);
		T_EQ_INT(st[0].null_count, 0);
		T_EQ_INT(st[1].min.bytes.len, 1);
		T_EQ_INT(st[1].min.bytes.p[0], 'a');
		T_EQ_INT(st[1].max.bytes.p[0], 0xff); /* unsigned bytes: 0xff sorts last */
		T_CHECK(st[2].min.dec == -3 * pow10_128(25));
		T_CHECK(st[2].max.dec == 1 * pow10_128(25));
		T_EQ_INT(st[3].has_min_max, 0); /* a NaN rules bounds out */
		T_EQ_INT(st[4].min.i32, -1460);
		T_EQ_INT(st[4].max.i32, 0);
		T_EQ_INT(st[5].has_min_max, 0); /* all null: no bounds */
		T_EQ_INT(st[5].null_count, 5);
		T_EQ_INT(st[5].num_values, 5);
		T_EQ_INT(st[6].null_count, 1);
		T_EQ_INT(st[6].min.b, 0);
		T_EQ_INT(st[6].max.b, 0);
	}
	pq_reader_close(r);
	pq_writer_free(w);
}

static void test_long_string_bounds_are_shortened_in_the_footer_only(void)
{
	struct err_msg e = {{0}, 0};
	struct pq_schema *s = pq_schema_new();
	pq_schema_add(s, PQ_ROOT, "s", PQ_STRING, 0);
	const char *f = tmpfile_named("long.parquet");
	struct pq_writer *w = pq_writer_open(f, s, NULL, &e);
	pq_schema_free(s);
	char a[100], b[100];
	memset(a, 'a', sizeof a);
	memset(b, 'b', sizeof b);
	b[70] = '\xff';
	pq_writer_put_bytes(w, 0, a, sizeof a);
	pq_writer_end_row(w);
	pq_writer_put_bytes(w, 0, b, sizeof b);
	pq_writer_end_row(w);
	T_EQ_INT(pq_writer_close(w), 0);
	struct pq_stats ws, rs;
	pq_writer_stats(w, 0, &ws);
	T_EQ_INT(ws.min.bytes.len, 100);
	T_EQ_INT(ws.max.bytes.len, 100);
	struct pq_reader *r = pq_reader_open(f, NULL, &e);
	pq_reader_stats(r, 0, 0, &rs);
	T_EQ_INT(rs.min.bytes.len, 64);
	T_CHECK(memcmp(rs.min.bytes.p, a, 64) == 0);
	T_EQ_INT(rs.max.bytes.len, 64);
	T_EQ_INT(rs.max.bytes.p[63], 'c'); /* rounded up, so that it still bounds the data */
	pq_reader_close(r);
	pq_writer_free(w);
}

/*
 * The bounds of s shortened to max bytes, checked against lo and hi ("" for
 * no max); text: as a string column, else as binary.
 */
#define T_CUT(s, max, text, lo, hi)                                                                \
	do {                                                                                       \
		const uint8_t *t_s_ = (const uint8_t *)(s);                                        \
		size_t t_n_ = strlen(s);                                                           \
		char t_lo_[80] = "", t_hi_[80] = "";                                               \
		uint8_t t_out_[72] = {0};                                                          \
		memcpy(t_lo_, t_s_, pq_bound_cut_min(t_s_, t_n_, (max), (text)));                  \
		memcpy(t_hi_, t_out_, pq_bound_cut_max(t_s_, t_n_, (max), (text), t_out_));        \
		T_EQ_STR(t_lo_, lo);                                                               \
		T_EQ_STR(t_hi_, hi);                                                               \
	} while (0)

static void test_shortened_string_bounds_end_on_a_character(void)
{
	/* ASCII: a prefix, and the prefix with its last character incremented */
	T_CUT("abcdefghij", 8, 1, "abcdefgh", "abcdefgi");
	/* a 2-, 3- or 4-byte character across the cut is left out of both */
	T_CUT("abcdefg\xc3\xa9z", 8, 1, "abcdefg", "abcdefh");
	T_CUT("abcdef\xe2\x82\xacz", 8, 1, "abcdef", "abcdeg");
	T_CUT("abcde\xf0\x9f\x98\x80z", 8, 1, "abcde", "abcdf");
	/* one that ends at the cut is kept, and is the one incremented */
	T_CUT("abcdef\xc3\xa9z", 8, 1, "abcdef\xc3\xa9", "abcdef\xc3\xaa");
	T_CUT("abcde\xe2\x82\xacz", 8, 1, "abcde\xe2\x82\xac", "abcde\xe2\x82\xad");
	T_CUT("abcd\xf0\x9f\x98\x80z", 8, 1, "abcd\xf0\x9f\x98\x80", "abcd\xf0\x9f\x98\x81");
	/* U+10FFFF cannot be incremented: it goes, and the character before is */
	T_CUT("a\xf4\x8f\xbf\xbf\xf4\x8f\xbf\xbf\xf4\x8f\xbf\xbf", 8, 1, "a\xf4\x8f\xbf\xbf", "b");
	T_CUT("\xc3\xa9\xf4\x8f\xbf\xbf\xf4\x8f\xbf\xbfz", 8, 1, "\xc3\xa9\xf4\x8f\xbf\xbf",
	      "\xc3\xaa");
	/* nothing but U+10FFFF: no max */
	T_CUT("\xf4\x8f\xbf\xbf\xf4\x8f\xbf\xbf\xf4\x8f\xbf\xbf", 8, 1,
	      "\xf4\x8f\xbf\xbf\xf4\x8f\xbf\xbf", "");
	/* U+FFFF becomes U+10000 (one byte longer) when there is room */
	T_CUT("ab\xef\xbf\xbf\xf4\x8f\xbf\xbf", 8, 1, "ab\xef\xbf\xbf", "ab\xf0\x90\x80\x80");
	/* when there is none, the character before is incremented */
	T_CUT("abcde\xef\xbf\xbfz", 8, 1, "abcde\xef\xbf\xbf", "abcdf");
	T_CUT("abcdefg\x7fz", 8, 1, "abcdefg\x7f", "abcdefh");
	T_CUT("abcdef\xdf\xbfz", 8, 1, "abcdef\xdf\xbf", "abcdeg");
	T_CUT("abcdef\x7f\xdf\xbf", 8, 1, "abcdef\x7f", "abcdef\xc2\x80");
	/* the surrogates are skipped: U+D7FF is followed by U+E000 */
	T_CUT("abcde\xed\x9f\xbfz", 8, 1, "abcde\xed\x9f\xbf", "abcde\xee\x80\x80");
	T_CUT("abcde\xed\x9f\xbez", 8, 1, "abcde\xed\x9f\xbe", "abcde\xed\x9f\xbf");
}

static void test_shortened_binary_bounds_are_byte_prefixes(void)
{
	/* binary, and strings that are not UTF-8, are cut and rounded up byte-wise */
	T_CUT("abcdefg\xc3\xa9z", 8, 0, "abcdefg\xc3", "abcdefg\xc4");
	T_CUT("ab\xff\xff\xff\xff\xff\xff\xff", 8, 0, "ab\xff\xff\xff\xff\xff\xff", "ac");
	T_CUT("\xff\xff\xff\xff\xff\xff\xff\xff\xff", 8, 0, "\xff\xff\xff\xff\xff\xff\xff\xff", "");
	T_CUT("ab\xff\xff\xff\xff\xff\xff\xff", 8, 1, "ab\xff\xff\xff\xff\xff\xff", "ac");
	T_CUT("\xf4\x8f\xbf\xbf\xf4\x8f\xbf\xbf\xf4\x8f\xbf\xbf", 8, 0,
	      "\xf4\x8f\xbf\xbf\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf\xf4\x8f\xbf\xc0");
}

/* a sorts before b as bytes (code point order, for UTF-8): -1, 0 or 1. */
static int bytes_cmp(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
	int c = memcmp(a, b, na < nb ? na : nb);
	return c ? (c > 0) - (c < 0) : (na > nb) - (na < nb);
}

static void test_shortened_string_bounds_bound_every_value(void)
{
	/* the characters around every change of length and every edge */
	static const uint32_t pool[] = {'a',    0x7E,   0x7F,   0x80,    0x7FF,    0x800,   0xD7FF,
	                                0xE000, 0xFFFE, 0xFFFF, 0x10000, 0x10FFFE, 0x10FFFF};
	uint64_t seed = 42;
	int nomax = 0;
	for (int round = 0; round < 20000; round++) {
		uint8_t s[200], lo[72], hi[72], ext[210];
		size_t n = 0;
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		size_t chars = 1 + (seed >> 33) % 40, max = 1 + (seed >> 20) % 64;
		for (size_t i = 0; i < chars; i++) {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			/* mostly U+10FFFF, so that long runs of it come up */
			uint32_t cp = (seed >> 40) % 3 ? 0x10FFFF : pool[(seed >> 33) % 13];
			if (cp < 0x80) {
				s[n++] = (uint8_t)cp;
			} else if (cp < 0x800) {
				s[n++] = (uint8_t)(0xC0 | cp >> 6);
				s[n++] = (uint8_t)(0x80 | (cp & 0x3F));
			} else if (cp < 0x10000) {
				s[n++] = (uint8_t)(0xE0 | cp >> 12);
				s[n++] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
				s[n++] = (uint8_t)(0x80 | (cp & 0x3F));
			} else {
				s[n++] = (uint8_t)(0xF0 | cp >> 18);
				s[n++] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
				s[n++] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
				s[n++] = (uint8_t)(0x80 | (cp & 0x3F));
			}
		}
		if (n <= max)
			continue;
		size_t nlo = pq_bound_cut_min(s, n, max, 1);
		memcpy(lo, s, nlo);
		T_CHECK(nlo <= max && nlo + 3 >= max);
		T_CHECK(jscan_utf8_valid((const char *)lo, nlo) == 0);
		size_t nhi = pq_bound_cut_max(s, n, max, 1, hi);
		if (nhi == 0) {
			nomax++;
			continue;
		}
		T_CHECK(nhi <= max);
		T_CHECK(jscan_utf8_valid((const char *)hi, nhi) == 0);
		/* above s, and above anything else that begins with the same max bytes */
		T_EQ_INT(bytes_cmp(hi, nhi, s, n), 1);
		memcpy(ext, s, max);
		memset(ext + max, 0xff, sizeof ext - max);
		T_EQ_INT(bytes_cmp(hi, nhi, ext, sizeof ext), 1);
		if (t_current_failed) {
			printf("#   round %d: %zu bytes cut to %zu\n", round, n, max);
			return;
		}
	}
	T_CHECK(nomax > 0);
}

static void test_long_string_bounds_stay_utf8_in_the_footer(void)
{
	struct err_msg e = {{0}, 0};
	struct pq_schema *s = pq_schema_new();
	pq_schema_add(s, PQ_ROOT, "s", PQ_STRING, 0);
	pq_schema_add(s, PQ_ROOT, "top", PQ_STRING, 0);
	pq_schema_add(s, PQ_ROOT, "b", PQ_BINARY, 0);
	const char *f = tmpfile_named("long-utf8.parquet");
	struct pq_writer *w = pq_writer_open(f, s, NULL, &e);
	pq_schema_free(s);
	char v[80], top[120];
	memset(v, 'a', 63);
	memcpy(v + 63, "\xc3\xa9z", 3); /* the 64-byte cut falls inside the é */
	for (int i = 0; i < 30; i++)
		memcpy(top + 4 * i, "\xf4\x8f\xbf\xbf", 4);
	pq_writer_put_bytes(w, 0, v, 66);
	pq_writer_put_bytes(w, 1, top, sizeof top);
	pq_writer_put_bytes(w, 2, v, 66);
	pq_writer_end_row(w);
	T_EQ_INT(pq_writer_close(w), 0);
	struct pq_reader *r = pq_reader_open(f, NULL, &e);
	struct pq_stats rs;
	pq_reader_stats(r, 0, 0, &rs);
	T_EQ_INT(rs.has_min_max, 1);
	T_EQ_INT(rs.min.bytes.len, 63);
	T_CHECK(memcmp(rs.min.bytes.p, v, 63) == 0);
	T_EQ_INT(rs.max.bytes.len, 63);
	T_CHECK(memcmp(rs.max.bytes.p, v, 62) == 0 && rs.max.bytes.p[62] == 'b');
	pq_reader_stats(r, 0, 1, &rs);
	T_EQ_INT(rs.has_min_max, 0); /* a string of U+10FFFF has no shorter max */
	pq_reader_stats(r, 0, 2, &rs);
	T_EQ_INT(rs.has_min_max, 1);
	T_EQ_INT(rs.min.bytes.len, 64);
	T_CHECK(memcmp(rs.min.bytes.p, v, 64) == 0);
	T_EQ_INT(rs.max.bytes.len, 64);
	T_CHECK(memcmp(rs.max.bytes.p, v, 63) == 0 && rs.max.bytes.p[63] == 0xc4);
	pq_reader_close(r);
	pq_writer_free(w);
}

/* ------------------------------------------------------------- nesting */

/* The schema of the worked example: add, remove and metaData actions. */
static struct pq_schema *action_schema(void)
{
	struct pq_schema *s = pq_schema_new();
	int add = pq_schema_add(s, PQ_ROOT, "add", PQ_STRUCT, 1);
	pq_schema_add(s, add, "path", PQ_STRING, 1);
	int pv = pq_schema_add(s, add, "partitionValues", PQ_MAP, 1);
	pq_schema_add(s, pv, "key", PQ_STRING, 0);
	pq_schema_add(s, pv, "value", PQ_STRING, 1);
	pq_schema_add(s, add, "size", PQ_LONG, 1);
	int rm = pq_schema_add(s, PQ_ROOT, "remove", PQ_STRUCT, 1);
	pq_schema_add(s, rm, "path", PQ_STRING, 1);
	int rpv = pq_schema_add(s, rm, "partitionValues", PQ_MAP, 1);
	pq_schema_add(s, rpv, "key", PQ_STRING, 0);
	pq_schema_add(s, rpv, "value", PQ_STRING, 1);
	int md = pq_schema_add(s, PQ_ROOT, "metaData", PQ_STRUCT, 1);
	int pc = pq_schema_add(s, md, "partitionColumns", PQ_LIST, 1);
	pq_schema_add(s, pc, "element", PQ_STRING, 1);
	return s;
}

static struct pq_value str(const char *s)
{
	struct pq_value v;
	memset(&v, 0, sizeof v);
	if (!s) {
		v.kind = PQ_V_NULL;
		return v;
	}
	v.kind = PQ_V_BYTES;
	v.bytes.p = (const uint8_t *)s;
	v.bytes.len = strlen(s);
	return v;
}

static struct pq_value i64v(int64_t x)
{
	struct pq_value v;
	memset(&v, 0, sizeof v);
	v.kind = PQ_V_I64;
	v.i64 = x;
	return v;
}

static struct pq_value agg(enum pq_vkind kind, struct pq_value *items, uint32_t n)
{
	struct pq_value v;
	memset(&v, 0, sizeof v);
	v.kind = kind;
	v.items = items;
	v.n = n;
	return v;
}

static const struct pq_value null_value = {.kind = PQ_V_NULL};

/* The five rows of the example's table plus a metaData row. */
static struct pq_value ex_rows[6];
static struct pq_value ex_fields[6][3], ex_add[6][3], ex_md[2], ex_maps[6][4], ex_list[2];

static void build_example(void)
{
	static const char *const paths[] = {"p1", "p2", "p3", "p4"};
	for (int i = 0; i < 6; i++) {
		ex_fields[i][0] = null_value;
		ex_fields[i][1] = null_value;
		ex_fields[i][2] = null_value;
		if (i < 4) {
			ex_add[i][0] = str(paths[i]);
			ex_add[i][2] = i64v(10 + i);
			ex_maps[i][0] = str("date");
			ex_maps[i][1] = str("2024-01-02");
			ex_maps[i][2] = str("symbol");
			ex_maps[i][3] = str(i == 1 ? NULL : "NVDA");
			ex_add[i][1] =
			    i == 3 ? null_value : agg(PQ_V_MAP, ex_maps[i], i == 2 ? 0 : 2);
			ex_fields[i][0] = agg(PQ_V_STRUCT, ex_add[i], 3);
		}
		ex_rows[i] = agg(PQ_V_STRUCT, ex_fields[i], 3);
	}
	ex_list[0] = str("date");
	ex_list[1] = str("symbol");
	ex_md[0] = agg(PQ_V_LIST, ex_list, 2);
	ex_fields[5][2] = agg(PQ_V_STRUCT, ex_md, 1);
}

/* The (r, d) levels of leaf's only data page, as the file holds them. */
static int leaf_levels(const char *file, int leaf, char *out, size_t n)
{
	struct err_msg e = {{0}, 0};
	struct pq_reader *r = pq_reader_open(file, NULL, &e);
	struct pq_chunk_info ci;
	pq_reader_chunk_info(r, 0, leaf, &ci);
	int fd = open(file, O_RDONLY);
	uint8_t buf[4096];
	ssize_t got = pread(fd, buf, sizeof buf, ci.data_page_offset);
	close(fd);
	struct pq_page_header h;
	size_t used;
	const char *why;
	if (got <= 0 || pq_page_header_parse(buf, (size_t)got, &h, &used, &why) < 0 ||
	    h.type != PQ_PAGE_DATA_V2) {
		pq_reader_close(r);
		return -1;
	}
	uint16_t rep[64] = {0}, def[64] = {0};
	int w_rep = pq_bit_width((uint64_t)ci.max_rep), w_def = pq_bit_width((uint64_t)ci.max_def);
	if (ci.max_rep)
		pq_rle_decode16(buf + used, (size_t)h.rep_len, w_rep, rep, (size_t)h.num_values,
		                &why);
	if (ci.max_def)
		pq_rle_decode16(buf + used + h.rep_len, (size_t)h.def_len, w_def, def,
		                (size_t)h.num_values, &why);
	size_t k = 0;
	for (int i = 0; i < h.num_values && k + 8 < n; i++)
		k += (size_t)snprintf(out + k, n - k, "%sr%dd%d", i ? " " : "", rep[i], def[i]);
	pq_reader_close(r);
	return 0;
}

static void test_nested_rows_shred_as_the_worked_example(void)
{
	struct err_msg e = {{0}, 0};
	build_example();
	struct pq_schema *s = action_schema();
	struct pq_write_options o;
	pq_write_options_init(&o);
	o.page_version = 2;
	o.compression = PQ_UNCOMPRESSED;
	const char *f = tmpfile_named("actions.parquet");
	struct pq_writer *w = pq_writer_open(f, s, &o, &e);
	pq_schema_free(s);
	for (int i = 0; i < 6; i++)
		T_EQ_INT(pq_writer_write_row(w, &ex_rows[i]), 0);
	T_EQ_INT(pq_writer_close(w), 0);
	pq_writer_free(w);

	/* Leaves: add.path, add.pv.key, add.pv.value, add.size, remove.path, remove.pv.key,
	 * remove.pv.value, metaData.partitionColumns.element. */
	static const char *const want[] = {
	    "r0d2 r0d2 r0d2 r0d2 r0d0 r0d0",           "r0d3 r1d3 r0d3 r1d3 r0d2 r0d1 r0d0 r0d0",
	    "r0d4 r1d4 r0d4 r1d3 r0d2 r0d1 r0d0 r0d0", "r0d2 r0d2 r0d2 r0d2 r0d0 r0d0",
	    "r0d0 r0d0 r0d0 r0d0 r0d0 r0d0",           "r0d0 r0d0 r0d0 r0d0 r0d0 r0d0",
	    "r0d0 r0d0 r0d0 r0d0 r0d0 r0d0",           "r0d0 r0d0 r0d0 r0d0 r0d0 r0d4 r1d4",
	};
	char got[512];
	for (int l = 0; l < 8; l++) {
		T_EQ_INT(leaf_levels(f, l, got, sizeof got), 0);
		T_EQ_STR(got, want[l]);
	}

	/* And the rows come back as they went in. */
	struct pq_reader *r = pq_reader_open(f, NULL, &e);
	const struct pq_value *row;
	int i = 0;
	while (pq_reader_next_row(r, &row, &e) > 0) {
		T_CHECK(i < 6 && value_eq(row, &ex_rows[i]));
		i++;
	}
	T_EQ_INT(i, 6);
	pq_reader_close(r);
}

static void test_rows_can_be_projected_to_nested_fields(void)
{
	struct err_msg e = {{0}, 0};
	const char *f = tmpfile_named("actions.parquet");
	struct pq_reader *r = pq_reader_open(f, NULL, &e);
	const char *paths[] = {"add.size", "metaData.partitionColumns.element", "add.path"};
	T_EQ_INT(pq_reader_select(r, paths, 3, &e), 0);
	const struct pq_value *row;
	T_EQ_INT(pq_reader_next_row(r, &row, &e), 1);
	T_EQ_INT(row->n, 2); /* add, metaData */
	T_EQ_INT(row->items[0].kind, PQ_V_STRUCT);
	T_EQ_INT(row->items[0].n, 2); /* path, size: schema order */
	T_CHECK(row->items[0].items[0].bytes.len == 2);
	T_EQ_INT(row->items[0].items[1].i64, 10);
	for (int i = 1; i < 6; i++)
		T_EQ_INT(pq_reader_next_row(r, &row, &e), 1);
	T_EQ_INT(row->items[1].kind, PQ_V_STRUCT);
	T_EQ_INT(row->items[1].items[0].n, 2);
	T_EQ_INT(pq_reader_next_row(r, &row, &e), 0);
	pq_reader_close(r);

	r = pq_reader_open(f, NULL, &e);
	const char *bad[] = {"add.nothing"};
	T_EQ_INT(pq_reader_select(r, bad, 1, &e), -1);
	T_CHECK(contains(e.text, "no column add.nothing"));
	pq_reader_close(r);
}

/*
 * Rows whose selected columns are all null are skipped without being
 * assembled: the count stops before each row that has one set, in every
 * layout of row groups, pages, page versions and codecs, and the rows read
 * after a skip are those a full read gives.
 */
static void test_rows_null_in_the_selected_columns_are_skipped(void)
{
	/* Rows 0 (remove), 5, 6 and 39 (metaData), 17 (remove) hold a selected column. */
	enum { N = 40 };
	static struct pq_value fields[N][3], add[N][3], rm[N][2], md[N][1], list[2], maps[N][2];
	static char names[N][16];
	static struct pq_value rows[N];
	for (int i = 0; i < N; i++) {
		fields[i][0] = fields[i][1] = fields[i][2] = null_value;
		snprintf(names[i], sizeof names[i], "f%d", i);
		maps[i][0] = str("p");
		maps[i][1] = str(i % 2 ? names[i] : NULL);
		if (i == 0 || i == 17) {
			rm[i][0] = str(names[i]);
			rm[i][1] = agg(PQ_V_MAP, maps[i], 1);
			fields[i][1] = agg(PQ_V_STRUCT, rm[i], 2);
		} else if (i == 5 || i == 6 || i == 39) {
			md[i][0] = agg(PQ_V_LIST, list, 2);
			fields[i][2] = agg(PQ_V_STRUCT, md[i], 1);
		} else {
			add[i][0] = str(names[i]);
			add[i][1] = i % 3 ? agg(PQ_V_MAP, maps[i], 1) : null_value;
			add[i][2] = i64v(i);
			fields[i][0] = agg(PQ_V_STRUCT, add[i], 3);
		}
		rows[i] = agg(PQ_V_STRUCT, fields[i], 3);
	}
	list[0] = str("date");
	list[1] = str("symbol");
	static const int64_t group_rows[] = {1, 3, 8, 1000};
	for (int version = 1; version <= 2; version++)
		for (size_t g = 0; g < sizeof group_rows / sizeof *group_rows; g++) {
			struct err_msg e = {{0}, 0};
			struct pq_schema *s = action_schema();
			struct pq_write_options o;
			pq_write_options_init(&o);
			o.page_version = version;
			o.compression = version == 1 ? PQ_ZSTD : PQ_UNCOMPRESSED;
			o.row_group_rows = group_rows[g];
			o.page_bytes = 24;
			const char *f = tmpfile_named("skip.parquet");
			struct pq_writer *w = pq_writer_open(f, s, &o, &e);
			pq_schema_free(s);
			for (int i = 0; i < N; i++)
				T_EQ_INT(pq_writer_write_row(w, &rows[i]), 0);
			T_EQ_INT(pq_writer_close(w), 0);
			pq_writer_free(w);

			struct pq_reader *r = pq_reader_open(f, NULL, &e);
			const char *sel[] = {"remove", "metaData"};
			T_EQ_INT(pq_reader_select(r, sel, 2, &e), 0);
			const struct pq_value *row;
			char got[256] = "";
			size_t k = 0;
			int i = 0;
			for (;;) {
				int64_t n = pq_reader_skip_null_rows(r, 1000, &e);
				T_CHECK(n >= 0);
				i += (int)n;
				int rc = pq_reader_next_row(r, &row, &e);
				k += (size_t)snprintf(got + k, sizeof got - k, "%lld%s ",
				                      (long long)n, rc > 0 ? "+" : "");
				if (rc <= 0) {
					T_EQ_INT(rc, 0);
					break;
				}
				/* The row is the one a full read gives: remove and metaData of row i. */
				struct pq_value want[2] = {fields[i][1], fields[i][2]}, w2;
				w2 = agg(PQ_V_STRUCT, want, 2);
				T_CHECK(value_eq(row, &w2));
				i++;
			}
			T_EQ_STR(got, "0+ 4+ 0+ 10+ 21+ 0 ");
			T_EQ_INT(i, N);
			pq_reader_close(r);

			/* At most max rows; and no row is skipped where a column is set. */
			r = pq_reader_open(f, NULL, &e);
			T_EQ_INT(pq_reader_select(r, sel, 2, &e), 0);
			T_EQ_INT(pq_reader_skip_null_rows(r, 5, &e), 0);
			T_EQ_INT(pq_reader_next_row(r, &row, &e), 1);
			T_EQ_INT(pq_reader_skip_null_rows(r, 2, &e), 2);
			T_EQ_INT(pq_reader_skip_null_rows(r, 0, &e), 0);
			T_EQ_INT(pq_reader_skip_null_rows(r, 5, &e), 2);
			T_EQ_INT(pq_reader_next_row(r, &row, &e), 1);
			T_EQ_INT(row->items[1].kind, PQ_V_STRUCT);
			pq_reader_close(r);

			/* Every column selected: each row has one set, none is skipped. */
			r = pq_reader_open(f, NULL, &e);
			for (i = 0; i < N; i++) {
				T_EQ_INT(pq_reader_skip_null_rows(r, N, &e), 0);
				T_EQ_INT(pq_reader_next_row(r, &row, &e), 1);
			}
			T_EQ_INT(pq_reader_skip_null_rows(r, N, &e), 0);
			T_EQ_INT(pq_reader_next_row(r, &row, &e), 0);
			pq_reader_close(r);
		}
}

/* A value tree as text (bytes and integers as they are, nulls as "-"). */
static size_t dump_value(const struct pq_value *v, char *out, size_t cap)
{
	size_t k = 0;
	if (cap < 2)
		return 0;
	switch (v->kind) {
	case PQ_V_NULL:
		k = (size_t)snprintf(out, cap, "-");
		break;
	case PQ_V_BYTES:
		k = (size_t)snprintf(out, cap, "'%.*s'", (int)v->bytes.len,
		                     (const char *)v->bytes.p);
		break;
	case PQ_V_I64:
		k = (size_t)snprintf(out, cap, "%lld", (long long)v->i64);
		break;
	case PQ_V_STRUCT:
	case PQ_V_LIST:
	case PQ_V_MAP:
		k = (size_t)snprintf(out, cap, "(");
		for (uint32_t i = 0; i < v->n * (v->kind == PQ_V_MAP ? 2u : 1u) && k < cap; i++)
			k += dump_value(&v->items[i], out + k, cap - k);
		if (k < cap)
			k += (size_t)snprintf(out + k, cap - k, ")");
		break;
	default:
		k = (size_t)snprintf(out, cap, "?");
		break;
	}
	return k < cap ? k : cap - 1;
}

/*
 * The rows with remove or metaData set of a file in memory, as "index:value"
 * words, read with or without skipping the null ones: 0, or -1 when the
 * file is refused.
 */
static int rare_rows(const uint8_t *data, size_t len, int skip, char *out, size_t cap)
{
	struct err_msg e = {{0}, 0};
	struct pq_read_options o = {.skip_crc = 1};
	struct pq_reader *r = pq_reader_open_mem(data, len, "flipped", &o, &e);
	const char *sel[] = {"remove", "metaData"};
	size_t k = 0;
	int rc = -1;
	out[0] = '\0';
	if (!r || pq_reader_select(r, sel, 2, &e) < 0)
		goto out;
	for (int64_t i = 0;; i++) {
		if (skip) {
			int64_t n = pq_reader_skip_null_rows(r, 1 << 20, &e);
			if (n < 0)
				goto out;
			i += n;
		}
		const struct pq_value *row;
		int got = pq_reader_next_row(r, &row, &e);
		if (got < 0)
			goto out;
		if (got == 0)
			break;
		int set = 0;
		for (uint32_t c = 0; c < row->n; c++)
			set |= row->items[c].kind != PQ_V_NULL;
		if (set && k + 16 < cap) {
			k += (size_t)snprintf(out + k, cap - k, " %lld:", (long long)i);
			k += dump_value(row, out + k, cap - k);
		}
	}
	rc = 0;
out:
	pq_reader_close(r);
	return rc;
}

/* Whatever byte of a file is damaged, skipping refuses it exactly when reading every row does. */
static void test_skipping_null_rows_refuses_what_reading_them_refuses(void)
{
	const char *f = tmpfile_named("skip.parquet");
	int fd = open(f, O_RDONLY);
	static uint8_t data[1 << 16];
	ssize_t len = read(fd, data, sizeof data);
	close(fd);
	T_CHECK(len > 0 && len < (ssize_t)sizeof data);
	char a[4096], b[4096];
	int refused = 0, differ = 0;
	for (ssize_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit += 3) {
			data[i] ^= (uint8_t)(1 << bit);
			int ra = rare_rows(data, (size_t)len, 0, a, sizeof a);
			int rb = rare_rows(data, (size_t)len, 1, b, sizeof b);
			data[i] ^= (uint8_t)(1 << bit);
			refused += ra < 0;
			if (ra != rb || (ra == 0 && strcmp(a, b) != 0)) {
				if (differ++ < 5)
					printf("#   byte %zd bit %d: rows %d \"%s\", skipping %d "
					       "\"%s\"\n",
					       i, bit, ra, a, rb, b);
			}
		}
	printf("#   %s: %zd bytes, %d flips refused\n", f, len, refused);
	T_CHECK(refused > 0);
	T_EQ_INT(differ, 0);
}

static void test_nested_values_must_match_the_schema(void)
{
	struct err_msg e = {{0}, 0};
	build_example();
	struct pq_schema *s = action_schema();
	struct pq_writer *w = pq_writer_open(tmpfile_named("bad.parquet"), s, NULL, &e);
	pq_schema_free(s);
	struct pq_value m[2] = {str(NULL), str("x")};
	ex_add[0][1] = agg(PQ_V_MAP, m, 1);
	T_EQ_INT(pq_writer_write_row(w, &ex_rows[0]), -1);
	T_CHECK(contains(pq_writer_error(w)->text, "field add.partitionValues: null map key"));
	pq_writer_free(w);
	build_example();
}

/* ---------------------------------------------------------- row groups */

static void test_many_row_groups_and_row_group_skipping(void)
{
	struct err_msg e = {{0}, 0};
	struct pq_schema *s = pq_schema_new();
	pq_schema_add(s, PQ_ROOT, "n", PQ_LONG, 0);
	struct pq_write_options o;
	pq_write_options_init(&o);
	o.row_group_rows = 10;
	const char *f = tmpfile_named("groups.parquet");
	struct pq_writer *w = pq_writer_open(f, s, &o, &e);
	pq_schema_free(s);
	for (int i = 0; i < 1000; i++) {
		pq_writer_put_i64(w, 0, i);
		pq_writer_end_row(w);
	}
	T_EQ_INT(pq_writer_close(w), 0);
	pq_writer_free(w);
	struct pq_reader *r = pq_reader_open(f, NULL, &e);
	T_EQ_INT(pq_reader_num_row_groups(r), 100);
	/* Keep the row groups whose statistics say they may hold 500..519. */
	for (int g = 0; g < 100; g++) {
		struct pq_stats st;
		pq_reader_stats(r, g, 0, &st);
		pq_reader_use_row_group(r, g, st.max.i64 >= 500 && st.min.i64 <= 519);
	}
	const struct pq_value *row;
	int64_t want = 500;
	int n = 0;
	while (pq_reader_next_row(r, &row, &e) > 0) {
		T_EQ_INT(row->items[0].i64, want++);
		n++;
	}
	T_EQ_INT(n, 20);
	pq_reader_close(r);
}

static void test_a_file_of_no_rows_is_valid(void)
{
	struct err_msg e = {{0}, 0};
	struct pq_schema *s = flat_schema(1);
	const char *f = tmpfile_named("empty.parquet");
	struct pq_writer *w = pq_writer_open(f, s, NULL, &e);
	pq_schema_free(s);
	T_EQ_INT(pq_writer_close(w), 0);
	struct pq_stats st;
	T_EQ_INT(pq_writer_stats(w, 0, &st), 0);
	T_EQ_INT(st.num_values, 0);
	pq_writer_free(w);
	int64_t rows = -1;
	T_CHECK(read_all(f, NULL, &rows) == NULL);
	T_EQ_INT(rows, 0);
}

/* ------------------------------------------------------------- threads */

/* The threads of this process but the first, into tids; their number. */
static int other_threads(long *tids, int max)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;
	while (d && (de = readdir(d)))
		if (atol(de->d_name) > 0 && atol(de->d_name) != (long)getpid() && n < max)
			tids[n++] = atol(de->d_name);
	if (d)
		closedir(d);
	return n;
}

/* The blocked signals of a thread of this process (from /proc): 0, or -1. */
static int blocked_signals(long tid, uint64_t *mask)
{
	char name[64], line[256];
	snprintf(name, sizeof name, "/proc/self/task/%ld/status", tid);
	FILE *f = fopen(name, "r");
	int rc = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "SigBlk:", 7) == 0) {
			*mask = strtoull(line + 7, NULL, 16);
			rc = 0;
		}
	fclose(f);
	return rc;
}

static void test_writer_threads_leave_signals_to_the_program(void)
{
	struct err_msg e = {{0}, 0};
	struct pq_schema *s = pq_schema_new();
	pq_schema_add(s, PQ_ROOT, "n", PQ_LONG, 0);
	struct pq_write_options o;
	pq_write_options_init(&o);
	o.threads = 3;
	o.page_bytes = 1000;
	long before[64], now[64];
	int nbefore = other_threads(before, 64);
	struct pq_writer *w = pq_writer_open(tmpfile_named("threads.parquet"), s, &o, &e);
	pq_schema_free(s);
	/* Pages fill up before the row group ends: the two workers start. */
	for (int i = 0; i < 10000; i++) {
		pq_writer_put_i64(w, 0, i);
		pq_writer_end_row(w);
	}
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT, SIGUSR1, SIGALRM};
	uint64_t mine = 0, m = 0;
	int workers = 0, blocking = 0;
	T_EQ_INT(blocked_signals((long)getpid(), &mine), 0);
	for (int i = 0; i < 7; i++)
		T_EQ_INT(mine >> (sigs[i] - 1) & 1, 0); /* the program's own mask is unchanged */
	int nnow = other_threads(now, 64);
	for (int k = 0; k < nnow; k++) {
		int old = 0;
		for (int j = 0; j < nbefore; j++)
			old |= before[j] == now[k];
		if (old)
			continue;
		/*
		 * A thread being started has every signal blocked until it sets
		 * the mask it inherits: wait (a second at most) for that, seen
		 * as SIGSEGV unblocked, which the workers leave to the kernel.
		 */
		int got = -1;
		for (int tries = 0; tries < 1000; tries++) {
			got = blocked_signals(now[k], &m);
			if (got < 0 || !(m >> (SIGSEGV - 1) & 1))
				break;
			usleep(1000);
		}
		int all = got == 0 && !(m >> (SIGSEGV - 1) & 1);
		for (int i = 0; i < 7; i++)
			all &= (int)(m >> (sigs[i] - 1) & 1);
		workers++;
		blocking += all;
	}
	T_EQ_INT(workers, 2);
	T_EQ_INT(blocking, workers);
	T_EQ_INT(pq_writer_close(w), 0);
	pq_writer_free(w);
}

/* ------------------------------------------------------------ checksums */

/* CRC-32 bit by bit, as parquet.thrift defines it: independent of the library's. */
static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
	}
	return ~c;
}

static uint8_t *slurp(const char *file, size_t *n)
{
	int fd = open(file, O_RDONLY);
	off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
	uint8_t *d = size > 0 ? malloc((size_t)size) : NULL;
	if (!d || pread(fd, d, (size_t)size, 0) != size) {
		free(d);
		d = NULL;
	}
	if (fd >= 0)
		close(fd);
	*n = d ? (size_t)size : 0;
	return d;
}

/* One page of a file: where its body is and what its header says. */
struct span {
	size_t body, len;
	int type, has_crc;
	uint32_t crc;
};

/* The pages of every column chunk of d[0..n), in file order; their number, or -1. */
static int file_pages(const uint8_t *d, size_t n, struct span *sp, int max)
{
	struct err_msg e = {{0}, 0};
	struct pq_reader *r = pq_reader_open_mem(d, n, "pages", NULL, &e);
	if (!r)
		return -1;
	int k = 0;
	for (int g = 0; g < pq_reader_num_row_groups(r); g++)
		for (int l = 0; l < pq_schema_nleaves(pq_reader_schema(r)); l++) {
			struct pq_chunk_info ci;
			pq_reader_chunk_info(r, g, l, &ci);
			size_t at =
			    (size_t)(ci.dictionary_page_offset >= 0 ? ci.dictionary_page_offset
			                                            : ci.data_page_offset);
			size_t end = at + (size_t)ci.total_compressed_size;
			while (at < end && k < max) {
				struct pq_page_header h;
				size_t used;
				const char *why;
				if (pq_page_header_parse(d + at, end - at, &h, &used, &why) < 0) {
					pq_reader_close(r);
					return -1;
				}
				sp[k] = (struct span){at + used, (size_t)h.comp, h.type, h.has_crc,
				                      h.crc};
				k++;
				at += used + (size_t)h.comp;
			}
		}
	pq_reader_close(r);
	return k;
}

/*
 * The footer checksum of d[0..n), recomputed: 1 when the footer carries
 * one and it is right, 0 when it carries none, -1 when it is wrong.
 */
static int footer_crc_ok(const uint8_t *d, size_t n)
{
	uint32_t flen = pq_load32(d + n - 8);
	const uint8_t *f = d + n - 8 - flen;
	static const char key[] = PQ_FOOTER_CRC_KEY;
	for (size_t i = 0; i + sizeof key + 10 < flen; i++) {
		if (memcmp(f + i, key, sizeof key - 1) != 0)
			continue;
		/* The key's string, then the value field: header byte, length 8, digits. */
		const uint8_t *v = f + i + sizeof key - 1 + 2;
		char digits[9], want[9];
		memcpy(digits, v, 8);
		digits[8] = '\0';
		uint8_t *copy = malloc(flen);
		memcpy(copy, f, flen);
		memcpy(copy + (v - f), "00000000", 8);
		snprintf(want, sizeof want, "%08x", (unsigned)crc32_bitwise(copy, flen));
		free(copy);
		return strcmp(digits, want) == 0 ? 1 : -1;
	}
	return 0;
}

static void test_the_page_crc_is_the_crc32_of_gzip(void)
{
	const uint8_t *check = (const uint8_t *)"123456789";
	T_EQ_INT(pq_crc32(0, check, 9), 0xcbf43926u); /* the standard check value */
	T_EQ_INT(pq_crc32(pq_crc32(0, check, 4), check + 4, 5), 0xcbf43926u);
	T_EQ_INT(pq_crc32(0x1234, check, 0), 0x1234);
	T_EQ_INT(crc32_bitwise(check, 9), 0xcbf43926u);
	/* Every length and alignment, across the fast path's 64- and 16-byte steps. */
	static uint8_t buf[4200];
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < sizeof buf; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
	int bad = 0;
	for (size_t n = 0; n <= 300; n++)
		for (size_t off = 0; off < 16; off++)
			bad += pq_crc32(0, buf + off, n) != crc32_bitwise(buf + off, n);
	bad += pq_crc32(0, buf + 3, 4197) != crc32_bitwise(buf + 3, 4197);
	bad += pq_crc32(pq_crc32(0, buf, 1000), buf + 1000, 3200) != crc32_bitwise(buf, 4200);
	T_EQ_INT(bad, 0);
}

static void test_every_page_and_the_footer_carry_their_crc(void)
{
	static const int codecs[] = {PQ_ZSTD, PQ_UNCOMPRESSED, PQ_SNAPPY};
	static struct span sp[4096];
	for (int k = 0; k < 3; k++) {
		for (int version = 1; version <= 2; version++) {
			for (int no_crc = 0; no_crc <= 1; no_crc++) {
				struct pq_write_options o;
				pq_write_options_init(&o);
				o.compression = codecs[k];
				o.page_version = version;
				o.page_bytes = 2000;
				o.row_group_rows = 1000;
				o.no_crc = no_crc;
				const char *f = tmpfile_named("crc.parquet");
				T_EQ_INT(write_flat(f, &o, 1), 0);
				size_t n;
				uint8_t *d = slurp(f, &n);
				int np = d ? file_pages(d, n, sp, 4096) : -1;
				int with = 0, right = 0, dict = 0, data = 0;
				for (int i = 0; i < np; i++) {
					with += sp[i].has_crc;
					right +=
					    sp[i].has_crc &&
					    sp[i].crc == crc32_bitwise(d + sp[i].body, sp[i].len);
					dict += sp[i].type == PQ_PAGE_DICTIONARY;
					data += sp[i].type ==
					        (version == 1 ? PQ_PAGE_DATA : PQ_PAGE_DATA_V2);
				}
				T_CHECK(np > 100);
				T_CHECK(dict > 0);
				T_EQ_INT(dict + data, np);
				T_EQ_INT(with, no_crc ? 0 : np);
				T_EQ_INT(right, no_crc ? 0 : np);
				T_EQ_INT(footer_crc_ok(d, n), no_crc ? 0 : 1);
				free(d);
				/* With or without checksums, the rows are the same. */
				check_flat(f, 1);
			}
		}
	}
}

/*
 * Read d[0..n) and good[0..n) side by side: 0 when d gives the same schema
 * and rows, 1 when it is refused (its error in *e), -1 when it gives
 * something else without a word.
 */
static int same_or_refused(const uint8_t *good, const uint8_t *d, size_t n, struct err_msg *e)
{
	struct err_msg ge = {{0}, 0};
	struct pq_reader *r = pq_reader_open_mem(d, n, "damaged.parquet", NULL, e);
	if (!r)
		return 1;
	struct pq_reader *q = pq_reader_open_mem(good, n, "good.parquet", NULL, &ge);
	const struct pq_schema *rs = pq_reader_schema(r), *qs = pq_reader_schema(q);
	int differ = pq_schema_nfields(rs) != pq_schema_nfields(qs);
	for (int i = 0; !differ && i < pq_schema_nfields(rs); i++) {
		const struct pq_field *a = pq_schema_field(rs, i), *b = pq_schema_field(qs, i);
		differ = a->type != b->type || a->optional != b->optional ||
		         a->precision != b->precision || a->scale != b->scale ||
		         strcmp(a->name ? a->name : "", b->name ? b->name : "") != 0;
	}
	int rc = 0;
	while (!differ) {
		const struct pq_value *x, *y;
		int got = pq_reader_next_row(r, &x, e);
		if (got < 0) {
			rc = 1;
			break;
		}
		int want = pq_reader_next_row(q, &y, &ge);
		if (got != want || (got && !value_eq(x, y)))
			differ = 1;
		if (!got)
			break;
	}
	pq_reader_close(r);
	pq_reader_close(q);
	return differ ? -1 : rc;
}

static void test_a_damaged_page_is_refused_with_its_place(void)
{
	static struct span sp[4096];
	struct pq_write_options o;
	pq_write_options_init(&o);
	o.page_bytes = 2000;
	const char *f = tmpfile_named("damaged.parquet");
	T_EQ_INT(write_flat(f, &o, 1), 0);
	size_t n;
	uint8_t *d = slurp(f, &n);
	T_CHECK(d != NULL);
	if (!d)
		return;
	uint8_t *bad = malloc(n);
	/* The second page of the first row group's column "string" (leaf 7). */
	struct err_msg e = {{0}, 0};
	struct pq_reader *r = pq_reader_open_mem(d, n, "x", NULL, &e);
	struct pq_chunk_info ci;
	pq_reader_chunk_info(r, 0, C_STRING, &ci);
	pq_reader_close(r);
	int np = file_pages(d, n, sp, 4096), at = -1;
	for (int i = 0; i < np && at < 0; i++)
		if (sp[i].body > (size_t)ci.data_page_offset)
			at = i;
	T_CHECK(at >= 0 && sp[at].len > 10);
	if (at >= 0) {
		memcpy(bad, d, n);
		bad[sp[at].body + sp[at].len / 2] ^= 0x20;
		T_EQ_INT(same_or_refused(d, bad, n, &e), 1);
		T_EQ_INT(e.status, EX_DATAERR);
		T_CHECK(contains(e.text, "damaged.parquet: row group 0, column string: page 2: "
		                         "checksum mismatch, the page is damaged (CRC-32 "));

		/* The columnar reader refuses the column chunk before giving any of it. */
		r = pq_reader_open_mem(bad, n, "damaged.parquet", NULL, &e);
		struct pq_column *c = pq_column_open(r, 0, C_STRING, &e);
		T_CHECK(c == NULL);
		T_EQ_INT(e.status, EX_DATAERR);
		T_CHECK(contains(e.text, "column string: page 2: checksum mismatch"));
		pq_column_close(c);
		pq_reader_close(r);
	}

	/* A changed byte in the footer: a column name. */
	memcpy(bad, d, n);
	uint32_t flen = pq_load32(d + n - 8);
	uint8_t *name = NULL;
	for (uint8_t *q = bad + n - 8 - flen; !name && q + 5 <= bad + n - 8; q++)
		if (memcmp(q, "dec18", 5) == 0)
			name = q;
	T_CHECK(name != NULL);
	if (name) {
		name[4] = '9';
		T_EQ_INT(same_or_refused(d, bad, n, &e), 1);
		T_EQ_INT(e.status, EX_DATAERR);
		T_CHECK(contains(e.text, "damaged.parquet: footer checksum mismatch, the footer is "
		                         "damaged (CRC-32 "));
	}
	free(bad);
	free(d);
}

/*
 * One byte changed anywhere in a file (every byte; every bit of it outside
 * the pages' bytes): the file reads as it was, or it is refused, never read
 * as something else; and a change inside a page is the checksum's error.
 */
static void sweep_file(const char *f)
{
	static struct span sp[4096];
	/* Every bit of the headers and the footer; a page's bytes, where the CRC works. */
	static const uint8_t masks[] = {0x01, 0xff, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80};
	size_t n;
	uint8_t *d = slurp(f, &n);
	T_CHECK(d != NULL);
	if (!d)
		return;
	uint8_t *bad = malloc(n);
	int np = file_pages(d, n, sp, 4096);
	T_CHECK(np > 0);
	int same = 0, refused = 0, silent = 0, not_crc = 0, other_status = 0, crc_refused = 0;
	for (size_t i = 0; i < n; i++) {
		int in_page = 0;
		for (int k = 0; k < np && !in_page; k++)
			in_page = i >= sp[k].body && i < sp[k].body + sp[k].len;
		for (size_t m = 0; m < (in_page ? 2 : sizeof masks); m++) {
			struct err_msg e = {{0}, 0};
			memcpy(bad, d, n);
			bad[i] ^= masks[m];
			int rc = same_or_refused(d, bad, n, &e);
			if (rc < 0 && silent++ < 5)
				printf("#   %s: byte %zu ^ 0x%02x reads as other rows\n", f, i,
				       masks[m]);
			if (rc == 0)
				same++;
			if (rc == 1) {
				refused++;
				other_status += e.status != EX_DATAERR;
				crc_refused += strstr(e.text, "checksum mismatch") != NULL;
			}
			if (in_page && rc == 1 && !strstr(e.text, "checksum mismatch") &&
			    not_crc++ < 5)
				printf("#   %s: byte %zu ^ 0x%02x in a page: %s\n", f, i, masks[m],
				       e.text);
			if (in_page && rc == 0)
				not_crc++;
		}
	}
	printf("#   %s: %zu bytes: %d flips read the same, %d were refused (%d by a checksum)\n", f,
	       n, same, refused, crc_refused);
	T_EQ_INT(silent, 0);
	T_EQ_INT(not_crc, 0);
	T_EQ_INT(other_status, 0);
	T_CHECK(crc_refused > refused / 2);
	free(bad);
	free(d);
}

static void test_every_changed_byte_is_refused_or_harmless(void)
{
	struct pq_write_options o;
	pq_write_options_init(&o);
	o.page_bytes = 300;
	o.row_group_rows = 40;
	/* Flat columns of every type: V1 ZSTD pages, then V2 pages without compression. */
	struct err_msg e = {{0}, 0};
	for (int version = 1; version <= 2; version++) {
		o.page_version = version;
		o.compression = version == 1 ? PQ_ZSTD : PQ_UNCOMPRESSED;
		const char *f =
		    tmpfile_named(version == 1 ? "sweep_v1.parquet" : "sweep_v2.parquet");
		struct pq_schema *s = flat_schema(1);
		struct pq_writer *w = pq_writer_open(f, s, &o, &e);
		pq_schema_free(s);
		char sbuf[64];
		for (int i = 0; i < 80; i++) {
			for (int c = 0; c < NCOLS; c++) {
				struct pq_value v = flat_value(c, i, 1, sbuf);
				put_value(w, c, &v);
			}
			pq_writer_end_row(w);
		}
		T_EQ_INT(pq_writer_close(w), 0);
		pq_writer_free(w);
		sweep_file(f);
	}
	/* Nested Delta actions (structs, a map, a list). */
	build_example();
	struct pq_schema *s = action_schema();
	const char *f = tmpfile_named("sweep_nested.parquet");
	struct pq_writer *w = pq_writer_open(f, s, NULL, &e);
	pq_schema_free(s);
	for (int i = 0; i < 6; i++)
		pq_writer_write_row(w, &ex_rows[i]);
	T_EQ_INT(pq_writer_close(w), 0);
	pq_writer_free(w);
	sweep_file(f);
}

/* Is d[0..n) refused by reading all its rows (1), or read (0)? */
static int rows_refused(const uint8_t *d, size_t n)
{
	struct err_msg e = {{0}, 0};
	struct pq_reader *r = pq_reader_open_mem(d, n, "damaged.parquet", NULL, &e);
	const struct pq_value *row;
	int got = r ? 1 : -1;
	while (got == 1)
		got = pq_reader_next_row(r, &row, &e);
	pq_reader_close(r);
	return got < 0;
}

/* Is d[0..n) refused by verifying every column chunk (1), or not (0)? */
static int chunks_refused(const uint8_t *d, size_t n, struct err_msg *e)
{
	struct pq_reader *r = pq_reader_open_mem(d, n, "damaged.parquet", NULL, e);
	if (!r)
		return 1;
	int bad = 0;
	for (int g = 0; !bad && g < pq_reader_num_row_groups(r); g++)
		for (int l = 0; !bad && l < pq_schema_nleaves(pq_reader_schema(r)); l++)
			bad = pq_column_verify(r, g, l, e) < 0;
	pq_reader_close(r);
	return bad;
}

/*
 * Every bit of every byte of a file flipped: verifying its column chunks
 * refuses it exactly when reading its rows does (exact: a file with
 * checksums), or at least never refuses what reading reads (without them,
 * some damage shows only when rows are assembled).
 */
static void verify_sweep(const char *f, int exact)
{
	size_t n;
	uint8_t *d = slurp(f, &n);
	T_CHECK(d != NULL);
	if (!d)
		return;
	static struct span sp[4096];
	uint8_t *bad = malloc(n);
	int refused = 0, stricter = 0, laxer = 0, np = file_pages(d, n, sp, 4096);
	T_CHECK(np > 0);
	for (size_t i = 0; i < n; i++) {
		/* Every bit of the headers and the footer; two of a page's bytes, which its CRC covers. */
		int in_page = 0;
		for (int k = 0; k < np && !in_page; k++)
			in_page = i >= sp[k].body && i < sp[k].body + sp[k].len;
		for (int bit = 0; bit < 8; bit += in_page && exact ? 7 : 1) {
			struct err_msg e = {{0}, 0};
			memcpy(bad, d, n);
			bad[i] ^= (uint8_t)(1u << bit);
			int rows = rows_refused(bad, n), chunks = chunks_refused(bad, n, &e);
			refused += rows;
			if (chunks && !rows && stricter++ < 5)
				printf(
				    "#   %s: byte %zu ^ 0x%02x reads, but verifying refuses: %s\n",
				    f, i, 1u << bit, e.text);
			if (rows && !chunks && exact && laxer++ < 5)
				printf("#   %s: byte %zu ^ 0x%02x is refused, but verifies\n", f, i,
				       1u << bit);
		}
	}
	printf("#   %s: %zu bytes, %d flips refused\n", f, n, refused);
	T_EQ_INT(stricter, 0);
	T_EQ_INT(laxer, 0);
	T_CHECK(refused > 0);
	free(bad);
	free(d);
}

static void test_verifying_chunks_refuses_what_reading_refuses(void)
{
	static const struct {
		const char *name;
		int version, compression, no_crc;
	} files[] = {
	    {"verify_v1_zstd.parquet", 1, PQ_ZSTD, 0},
	    {"verify_v1_snappy.parquet", 1, PQ_SNAPPY, 0},
	    {"verify_v1_gzip.parquet", 1, PQ_GZIP, 0},
	    {"verify_v2_zstd.parquet", 2, PQ_ZSTD, 0},
	    {"verify_no_crc.parquet", 1, PQ_ZSTD, 1},
	};
	struct pq_write_options o;
	struct err_msg e = {{0}, 0};
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		pq_write_options_init(&o);
		o.page_bytes = 300;
		o.row_group_rows = 40;
		o.page_version = files[i].version;
		o.compression = files[i].compression;
		o.no_crc = files[i].no_crc;
		const char *f = tmpfile_named(files[i].name);
		T_EQ_INT(write_flat_rows(f, &o, 1, 40), 0);
		verify_sweep(f, !files[i].no_crc);
	}
	/* Nested Delta actions (structs, maps, a list), as in a checkpoint. */
	build_example();
	struct pq_schema *s = action_schema();
	const char *f = tmpfile_named("verify_nested.parquet");
	struct pq_writer *w = pq_writer_open(f, s, NULL, &e);
	pq_schema_free(s);
	for (int i = 0; i < 6; i++)
		pq_writer_write_row(w, &ex_rows[i]);
	T_EQ_INT(pq_writer_close(w), 0);
	pq_writer_free(w);
	verify_sweep(f, 1);
}

/* --------------------------------------------------------------- errors */

static void test_misuse_is_reported_with_the_column(void)
{
	struct err_msg e = {{0}, 0};
	struct pq_schema *s = flat_schema(0);
	struct pq_writer *w = pq_writer_open(tmpfile_named("misuse.parquet"), s, NULL, &e);
	T_EQ_INT(pq_writer_put_null(w, C_INT), -1);
	T_CHECK(contains(pq_writer_error(w)->text, "column int: null in a required column"));
	T_EQ_INT(pq_writer_put_i32(w, C_INT, 1), -1); /* errors stick */
	pq_writer_free(w);

	w = pq_writer_open(tmpfile_named("misuse.parquet"), s, NULL, &e);
	T_EQ_INT(pq_writer_put_i32(w, C_BYTE, 300), -1);
	T_CHECK(contains(pq_writer_error(w)->text, "column byte: 300 out of range for byte"));
	pq_writer_free(w);

	w = pq_writer_open(tmpfile_named("misuse.parquet"), s, NULL, &e);
	T_EQ_INT(pq_writer_put_dec(w, C_DEC9, pow10_128(9)), -1);
	T_CHECK(contains(pq_writer_error(w)->text, "column dec9: value has more than 9 digits"));
	pq_writer_free(w);

	w = pq_writer_open(tmpfile_named("misuse.parquet"), s, NULL, &e);
	T_EQ_INT(pq_writer_put_f64(w, C_LONG, 1.0), -1);
	T_CHECK(contains(pq_writer_error(w)->text, "column long is long: wrong kind of value"));
	pq_writer_free(w);

	w = pq_writer_open(tmpfile_named("misuse.parquet"), s, NULL, &e);
	pq_writer_put_i64(w, C_LONG, 1);
	T_EQ_INT(pq_writer_end_row(w), -1);
	T_CHECK(contains(pq_writer_error(w)->text, "column bool has 0 rows but column long has 1"));
	pq_writer_free(w);
	pq_schema_free(s);

	s = pq_schema_new();
	T_EQ_INT(pq_schema_add(s, PQ_ROOT, "", PQ_INT, 0), -1);
	int l = pq_schema_add(s, PQ_ROOT, "l", PQ_LIST, 1);
	T_CHECK(l > 0);
	T_EQ_INT(pq_writer_open(tmpfile_named("misuse.parquet"), s, NULL, &e) == NULL, 1);
	T_CHECK(contains(e.text, "list l needs an element"));
	T_CHECK(pq_schema_add(s, l, "element", PQ_INT, 1) > 0);
	T_EQ_INT(pq_schema_add(s, l, "second", PQ_INT, 1), -1);
	T_EQ_INT(pq_schema_add(s, PQ_ROOT, "l", PQ_INT, 1), -1); /* a name used twice */
	pq_schema_free(s);
}

static void test_a_full_disk_is_an_io_error(void)
{
	struct err_msg e = {{0}, 0};
	int full = open("/dev/full", O_WRONLY);
	if (full < 0) {
		printf("# skipped: no /dev/full\n");
		return;
	}
	struct pq_schema *s = flat_schema(1);
	struct pq_writer *w = pq_writer_open_fd(full, "full.parquet", s, NULL, &e);
	T_CHECK(w == NULL);
	T_EQ_INT(e.status, EX_IOERR);
	T_CHECK(contains(e.text, "full.parquet: write failed: No space left on device"));

	/* A disk that fills up later: the footer fails, not silently. */
	int fd = open(tmpfile_named("filling.parquet"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	w = pq_writer_open_fd(fd, "filling.parquet", s, NULL, &e);
	T_CHECK(w != NULL);
	if (!w) {
		close(fd);
		close(full);
		pq_schema_free(s);
		return;
	}
	char sbuf[64];
	for (int c = 0; c < NCOLS; c++) {
		struct pq_value v = flat_value(c, 0, 1, sbuf);
		put_value(w, c, &v);
	}
	pq_writer_end_row(w);
	dup2(full, fd);
	T_EQ_INT(pq_writer_close(w), -1);
	T_EQ_INT(pq_writer_error(w)->status, EX_IOERR);
	pq_writer_free(w);
	close(fd);
	close(full);
	pq_schema_free(s);
}

/*
 * Hand-made files: one INT64 column (optionally inside an optional struct)
 * with four values in one uncompressed V1 page, and a footer whose every
 * number can be made to lie.  lz4 (PQ_LZ4 or PQ_LZ4_RAW) compresses the
 * data page with liblz4, which the library uses for reading only: one bare
 * block, or with hadoop > 0 that many blocks in Hadoop's framing (each
 * behind its big-endian decompressed and compressed sizes).
 */
struct craft {
	int optional, nested, dict, bad_index, bad_def, zstd, lz4, hadoop;
	int64_t rg_rows, file_rows, chunk_values, comp_adjust;
	int page_values, unc_adjust, comp_page_adjust;
};

/* body[] LZ4-compressed in place: one bare block, or hadoop blocks in Hadoop's framing. */
static void craft_lz4(struct pq_buf *body, int hadoop)
{
	uint8_t plain[256], packed[512];
	size_t left = body->len, at = 0;
	memcpy(plain, body->p, body->len);
	body->len = 0;
	for (int k = 0; k < (hadoop ? hadoop : 1); k++) {
		/* Halves, the last part taking what is left. */
		size_t part = !hadoop || k == hadoop - 1 ? left : left / 2;
		int cn = LZ4_compress_default((const char *)plain + at, (char *)packed, (int)part,
		                              (int)sizeof packed);
		if (hadoop) {
			uint8_t be[8] = {0, 0, (uint8_t)(part >> 8), (uint8_t)part,
			                 0, 0, (uint8_t)(cn >> 8),   (uint8_t)cn};
			pq_buf_put(body, be, 8);
		}
		pq_buf_put(body, packed, (size_t)cn);
		at += part;
		left -= part;
	}
}

static void craft_defaults(struct craft *c)
{
	memset(c, 0, sizeof *c);
	c->rg_rows = c->file_rows = c->chunk_values = 4;
	c->page_values = 4;
}

static size_t craft_file(const struct craft *c, uint8_t *out)
{
	struct pq_buf f = PQ_BUF_INIT, body = PQ_BUF_INIT, hdr = PQ_BUF_INIT;
	struct thrift_w t;
	int maxdef = c->optional + c->nested;
	pq_buf_put(&f, "PAR1", 4);
	int64_t dict_off = -1;
	if (c->dict) {
		dict_off = (int64_t)f.len;
		for (int i = 0; i < 3; i++) {
			uint8_t v[8];
			pq_store64(v, (uint64_t)(i + 1) * 10);
			pq_buf_put(&body, v, 8);
		}
		size_t plain = body.len;
		if (c->lz4)
			craft_lz4(&body, c->hadoop);
		thrift_w_init(&t, &hdr);
		thrift_struct_begin(&t);
		thrift_i32(&t, 1, PQ_PAGE_DICTIONARY);
		thrift_i32(&t, 2, (int32_t)plain);
		thrift_i32(&t, 3, (int32_t)body.len);
		thrift_struct_field(&t, 7);
		thrift_i32(&t, 1, 3);
		thrift_i32(&t, 2, PQ_ENC_PLAIN);
		thrift_struct_end(&t);
		thrift_struct_end(&t);
		pq_buf_put(&f, hdr.p, hdr.len);
		pq_buf_put(&f, body.p, body.len);
	}
	int64_t data_off = (int64_t)f.len;
	body.len = hdr.len = 0;
	if (maxdef) {
		/* An RLE run of four levels, all present (or bad_def). */
		uint8_t lv[6] = {2, 0, 0, 0, 8, (uint8_t)(c->bad_def ? c->bad_def : maxdef)};
		pq_buf_put(&body, lv, 6);
	}
	if (c->dict) {
		/* Width 2, one bit-packed group: 0, 1, 2, bad_index. */
		uint8_t idx[4] = {2, 0x03, (uint8_t)(0 | 1 << 2 | 2 << 4 | (c->bad_index & 3) << 6),
		                  0};
		pq_buf_put(&body, idx, 4);
	} else {
		for (int i = 0; i < 4; i++) {
			uint8_t v[8];
			pq_store64(v, (uint64_t)(i + 1) * 10);
			pq_buf_put(&body, v, 8);
		}
	}
	size_t unc = body.len;
	if (c->zstd) {
		struct pq_codec *z = pq_codec_new();
		struct pq_buf packed = PQ_BUF_INIT;
		const char *why;
		pq_compress(z, PQ_ZSTD, 1, body.p, body.len, &packed, &why);
		body.len = 0;
		pq_buf_put(&body, packed.p, packed.len);
		pq_buf_free(&packed);
		pq_codec_free(z);
	}
	if (c->lz4)
		craft_lz4(&body, c->hadoop);
	thrift_w_init(&t, &hdr);
	thrift_struct_begin(&t);
	thrift_i32(&t, 1, PQ_PAGE_DATA);
	thrift_i32(&t, 2, (int32_t)unc + c->unc_adjust);
	thrift_i32(&t, 3, (int32_t)body.len + c->comp_page_adjust);
	thrift_struct_field(&t, 5);
	thrift_i32(&t, 1, c->page_values);
	thrift_i32(&t, 2, c->dict ? PQ_ENC_RLE_DICTIONARY : PQ_ENC_PLAIN);
	thrift_i32(&t, 3, PQ_ENC_RLE);
	thrift_i32(&t, 4, PQ_ENC_RLE);
	thrift_struct_end(&t);
	thrift_struct_end(&t);
	pq_buf_put(&f, hdr.p, hdr.len);
	pq_buf_put(&f, body.p, body.len);
	int64_t chunk_start = dict_off >= 0 ? dict_off : data_off;
	int64_t total = (int64_t)f.len - chunk_start + c->comp_adjust;

	size_t meta_at = f.len;
	thrift_w_init(&t, &f);
	thrift_struct_begin(&t);
	thrift_i32(&t, 1, 1);
	thrift_list_field(&t, 2, THRIFT_STRUCT, c->nested ? 3 : 2);
	thrift_struct_begin(&t);
	thrift_string(&t, 4, "schema");
	thrift_i32(&t, 5, 1);
	thrift_struct_end(&t);
	if (c->nested) {
		thrift_struct_begin(&t);
		thrift_i32(&t, 3, 1);
		thrift_string(&t, 4, "s");
		thrift_i32(&t, 5, 1);
		thrift_struct_end(&t);
	}
	thrift_struct_begin(&t);
	thrift_i32(&t, 1, PQ_PT_INT64);
	thrift_i32(&t, 3, c->optional);
	thrift_string(&t, 4, "x");
	thrift_struct_end(&t);
	thrift_i64(&t, 3, c->file_rows);
	thrift_list_field(&t, 4, THRIFT_STRUCT, 1);
	thrift_struct_begin(&t);
	thrift_list_field(&t, 1, THRIFT_STRUCT, 1);
	thrift_struct_begin(&t);
	thrift_i64(&t, 2, 0);
	thrift_struct_field(&t, 3);
	thrift_i32(&t, 1, PQ_PT_INT64);
	thrift_list_field(&t, 2, THRIFT_I32, 1);
	thrift_put_varint(&t, PQ_ENC_PLAIN);
	thrift_list_field(&t, 3, THRIFT_BINARY, c->nested ? 2 : 1);
	if (c->nested)
		thrift_put_binary(&t, "s", 1);
	thrift_put_binary(&t, "x", 1);
	thrift_i32(&t, 4, c->zstd ? PQ_ZSTD : c->lz4 ? c->lz4 : PQ_UNCOMPRESSED);
	thrift_i64(&t, 5, c->chunk_values);
	thrift_i64(&t, 6, total);
	thrift_i64(&t, 7, total);
	thrift_i64(&t, 9, data_off);
	if (dict_off >= 0)
		thrift_i64(&t, 11, dict_off);
	thrift_struct_end(&t);
	thrift_struct_end(&t);
	thrift_i64(&t, 2, total);
	thrift_i64(&t, 3, c->rg_rows);
	thrift_struct_end(&t);
	thrift_struct_end(&t);
	pq_buf_u32le(&f, (uint32_t)(f.len - meta_at));
	pq_buf_put(&f, "PAR1", 4);
	size_t n = f.len;
	memcpy(out, f.p, n);
	pq_buf_free(&f);
	pq_buf_free(&body);
	pq_buf_free(&hdr);
	return n;
}

/* Read a crafted file from memory (exactly its bytes, so ASan sees overruns). */
static const char *read_crafted(const uint8_t *data, size_t n, int64_t *rows)
{
	struct err_msg e = {{0}, 0};
	uint8_t *copy = malloc(n ? n : 1);
	memcpy(copy, data, n);
	*rows = 0;
	struct pq_reader *r = pq_reader_open_mem(copy, n, "crafted.parquet", NULL, &e);
	int rc = -1;
	if (r) {
		const struct pq_value *row;
		while ((rc = pq_reader_next_row(r, &row, &e)) > 0)
			(*rows)++;
		pq_reader_close(r);
	}
	free(copy);
	if (rc < 0) {
		snprintf(read_err, sizeof read_err, "%s", e.text);
		return read_err;
	}
	return NULL;
}

static const char *crafted_error(const struct craft *c)
{
	static uint8_t buf[4096];
	int64_t rows;
	size_t n = craft_file(c, buf);
	return read_crafted(buf, n, &rows);
}

static void test_crafted_files_read_when_honest(void)
{
	struct craft c;
	int64_t rows;
	static uint8_t buf[4096];
	for (int variant = 0; variant < 4; variant++) {
		craft_defaults(&c);
		c.optional = variant & 1;
		c.dict = variant >> 1;
		size_t n = craft_file(&c, buf);
		T_CHECK(read_crafted(buf, n, &rows) == NULL);
		T_EQ_INT(rows, 4);
	}
	craft_defaults(&c);
	c.nested = c.optional = 1;
	size_t n = craft_file(&c, buf);
	T_CHECK(read_crafted(buf, n, &rows) == NULL);
}

static void test_lies_in_the_footer_are_caught(void)
{
	struct craft c;
	craft_defaults(&c);
	c.rg_rows = 3;
	c.file_rows = 3;
	T_CHECK(contains(crafted_error(&c),
	                 "crafted.parquet: row group 0, column x: value count differs from the row "
	                 "group's row count"));
	craft_defaults(&c);
	c.file_rows = 5;
	T_CHECK(contains(crafted_error(&c), "footer says 5 rows but its row groups hold 4"));
	craft_defaults(&c);
	c.comp_adjust = 1000;
	T_CHECK(contains(crafted_error(&c), "column x: data lies outside the file's data section"));
	craft_defaults(&c);
	c.comp_adjust = -3;
	T_CHECK(contains(crafted_error(&c), "page 1: 32 bytes run past the column chunk"));
	craft_defaults(&c);
	c.page_values = 5;
	T_CHECK(contains(crafted_error(&c), "page 1: more values than the column chunk's 4"));
	craft_defaults(&c);
	c.page_values = 3;
	T_CHECK(
	    contains(crafted_error(&c), "column x: its pages hold 3 values, the column chunk 4"));
	craft_defaults(&c);
	c.rg_rows = c.file_rows = c.chunk_values = 5;
	c.page_values = 5;
	T_CHECK(contains(crafted_error(&c), "page 1: values end early (32 bytes for 5 values)"));
}

static void test_corrupt_pages_are_caught(void)
{
	struct craft c;
	craft_defaults(&c);
	c.dict = 1;
	c.bad_index = 3;
	T_CHECK(
	    contains(crafted_error(&c),
	             "crafted.parquet: row group 0, column x: page 2: dictionary index 3 out of "
	             "range (dictionary has 3 entries)"));
	craft_defaults(&c);
	c.optional = c.nested = 1;
	c.bad_def = 3;
	T_CHECK(contains(crafted_error(&c),
	                 "column s.x: page 1: definition level 3 out of range (maximum 2)"));
	craft_defaults(&c);
	c.unc_adjust = 1;
	T_CHECK(contains(crafted_error(&c), "page 1: uncompressed page sizes disagree"));
	craft_defaults(&c);
	c.zstd = 1;
	T_CHECK(crafted_error(&c) == NULL);
	c.unc_adjust = 1;
	T_CHECK(contains(crafted_error(&c),
	                 "page 1: decompressed size differs from the page header's"));
	c.unc_adjust = -1;
	T_CHECK(contains(crafted_error(&c),
	                 "page 1: decompressed size differs from the page header's"));
}

/* The values of x in a crafted file read from memory, as one number (digits 1 to 4). */
static int64_t crafted_values(const struct craft *c)
{
	static uint8_t buf[4096];
	struct err_msg e = {{0}, 0};
	size_t n = craft_file(c, buf);
	struct pq_reader *r = pq_reader_open_mem(buf, n, "crafted.parquet", NULL, &e);
	int64_t all = 0;
	const struct pq_value *row;
	if (!r)
		return -1;
	while (pq_reader_next_row(r, &row, &e) > 0)
		all = all * 10 + row->items[0].i64 / 10;
	pq_reader_close(r);
	return e.status ? -1 : all;
}

/* BROTLI: one stream, which decompresses to exactly the page header's size. */
static void test_brotli_pages_decompress_to_exactly_their_size(void)
{
	uint8_t plain[5000], packed[6000], out[5002];
	for (size_t i = 0; i < sizeof plain; i++)
		plain[i] = (uint8_t)("0123456789,NVDA;"[i % 16] + (i % 331 == 0));
	size_t n = sizeof packed;
	T_CHECK(BrotliEncoderCompress(BROTLI_DEFAULT_QUALITY, BROTLI_DEFAULT_WINDOW,
	                              BROTLI_MODE_GENERIC, sizeof plain, plain, &n, packed));
	struct pq_codec *c = pq_codec_new();
	const char *why = NULL;
	T_CHECK(pq_codec_supported(PQ_BROTLI));
	T_EQ_INT(pq_decompress(c, PQ_BROTLI, packed, n, out, sizeof plain, &why), 0);
	T_CHECK(memcmp(out, plain, sizeof plain) == 0);
	/* The stream states no size: known by decompressing it. */
	size_t size = 0;
	T_EQ_INT(pq_decompressed_size(PQ_BROTLI, packed, n, &size, &why), 0);
	/* Larger or smaller than the header says. */
	why = NULL;
	T_EQ_INT(pq_decompress(c, PQ_BROTLI, packed, n, out, sizeof plain - 1, &why), -1);
	T_EQ_STR(why, "decompressed size differs from the page header's");
	why = NULL;
	T_EQ_INT(pq_decompress(c, PQ_BROTLI, packed, n, out, sizeof plain + 2, &why), -1);
	T_EQ_STR(why, "decompressed size differs from the page header's");
	/* Cut short, or with bytes after the stream's end. */
	why = NULL;
	T_EQ_INT(pq_decompress(c, PQ_BROTLI, packed, n - 3, out, sizeof plain, &why), -1);
	T_CHECK(why != NULL);
	uint8_t longer[6004];
	memcpy(longer, packed, n);
	memcpy(longer + n, "tail", 4);
	why = NULL;
	T_EQ_INT(pq_decompress(c, PQ_BROTLI, longer, n + 4, out, sizeof plain, &why), -1);
	T_EQ_STR(why, "brotli data corrupt: bytes after the end of the stream");
	/* Not Brotli at all. */
	memset(longer, 0xff, 64);
	why = NULL;
	T_EQ_INT(pq_decompress(c, PQ_BROTLI, longer, 64, out, sizeof plain, &why), -1);
	T_EQ_STR(why, "brotli data corrupt");
	pq_codec_free(c);
}

static void test_lz4_pages_read_bare_or_in_hadoop_framing(void)
{
	struct craft c;
	/* LZ4_RAW: one bare block.  LZ4: Hadoop's framing, or else one bare block. */
	static const int kinds[][2] = {{PQ_LZ4_RAW, 0}, {PQ_LZ4, 0}, {PQ_LZ4, 1}, {PQ_LZ4, 2}};
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		for (int variant = 0; variant < 4; variant++) {
			craft_defaults(&c);
			c.lz4 = kinds[k][0];
			c.hadoop = kinds[k][1];
			c.optional = variant & 1;
			c.dict = variant >> 1;
			T_CHECK(crafted_error(&c) == NULL);
			/* Dictionary indices 0, 1, 2, 0 against values 10 to 40. */
			T_EQ_INT(crafted_values(&c), c.dict ? 1231 : 1234);
		}
	}
	/* Hadoop's framing is LZ4's, never LZ4_RAW's: there it is a damaged block. */
	craft_defaults(&c);
	c.lz4 = PQ_LZ4_RAW;
	c.hadoop = 2;
	T_CHECK(contains(crafted_error(&c), "row group 0, column x: page 1: lz4 data corrupt"));
	/* A page of the wrong size, in either framing. */
	for (int hadoop = 0; hadoop <= 2; hadoop += 2) {
		craft_defaults(&c);
		c.lz4 = PQ_LZ4;
		c.hadoop = hadoop;
		c.unc_adjust = 1;
		T_CHECK(contains(crafted_error(&c),
		                 "page 1: decompressed size differs from the page header's"));
		c.unc_adjust = -1;
		T_CHECK(contains(crafted_error(&c), "page 1: lz4 data corrupt"));
	}
}

static void test_pages_over_the_limits_are_refused(void)
{
	static uint8_t buf[4096];
	struct craft c;
	craft_defaults(&c);
	size_t n = craft_file(&c, buf);
	struct pq_read_options o = {.max_page_bytes = 16, .max_page_values = 3};
	struct err_msg e = {{0}, 0};
	struct pq_reader *r = pq_reader_open_mem(buf, n, "small.parquet", &o, &e);
	T_CHECK(r != NULL);
	if (!r)
		return;
	const struct pq_value *row;
	T_EQ_INT(pq_reader_next_row(r, &row, &e), -1);
	T_CHECK(contains(e.text, "small.parquet: row group 0, column x: page 1: 4 values, more "
	                         "than the limit of 3"));
	pq_reader_close(r);
	o.max_page_values = 0;
	r = pq_reader_open_mem(buf, n, "small.parquet", &o, &e);
	T_CHECK(r != NULL);
	if (!r)
		return;
	T_EQ_INT(pq_reader_next_row(r, &row, &e), -1);
	T_CHECK(contains(e.text, "page 1: 32 bytes, more than the limit of 16"));
	pq_reader_close(r);
}

static void test_a_damaged_footer_checksum_key_is_refused(void)
{
	const char *f = tmpfile_named("crc_key.parquet");
	T_CHECK(write_flat_rows(f, NULL, 1, 3) == 0);
	size_t n;
	uint8_t *d = slurp(f, &n);
	size_t kl = strlen(PQ_FOOTER_CRC_KEY);
	uint8_t *k = NULL;
	for (size_t i = 0; d && !k && i + kl <= n; i++)
		if (memcmp(d + i, PQ_FOOTER_CRC_KEY, kl) == 0)
			k = d + i;
	T_CHECK(k != NULL);
	if (!k) {
		free(d);
		return;
	}
	int64_t rows;
	k[2] ^= 0x01; /* "stnck...": else the footer would pass for one without a checksum */
	T_CHECK(contains(read_crafted(d, n, &rows),
	                 "footer checksum under a damaged key: the footer is damaged"));
	free(d);
}

static void test_truncated_and_damaged_files_are_refused_without_crashing(void)
{
	/* A real file with every encoding the writer has, then every truncation. */
	struct pq_write_options o;
	pq_write_options_init(&o);
	o.page_bytes = 300;
	o.row_group_rows = 40;
	const char *f = tmpfile_named("victim.parquet");
	struct err_msg e = {{0}, 0};
	struct pq_schema *s = flat_schema(1);
	struct pq_writer *w = pq_writer_open(f, s, &o, &e);
	pq_schema_free(s);
	char sbuf[64];
	for (int i = 0; i < 100; i++) {
		for (int c = 0; c < NCOLS; c++) {
			struct pq_value v = flat_value(c, i, 1, sbuf);
			put_value(w, c, &v);
		}
		pq_writer_end_row(w);
	}
	T_EQ_INT(pq_writer_close(w), 0);
	pq_writer_free(w);
	int fd = open(f, O_RDONLY);
	static uint8_t data[1 << 20];
	ssize_t size = read(fd, data, sizeof data);
	close(fd);
	T_CHECK(size > 1000);
	int64_t rows;
	T_CHECK(read_crafted(data, (size_t)size, &rows) == NULL);
	T_EQ_INT(rows, 100);

	T_CHECK(contains(read_crafted(data, 7, &rows), "not a Parquet file (only 7 bytes)"));
	T_CHECK(contains(read_crafted(data, (size_t)size - 1, &rows),
	                 "crafted.parquet: not a Parquet file (no PAR1 at the end)"));
	int failures = 0;
	for (ssize_t n = 0; n < size; n += 1 + n / 50) {
		static uint8_t cut[1 << 20];
		memcpy(cut, data, (size_t)n);
		memcpy(cut + n - (n >= 8 ? 8 : 0), data + size - 8, n >= 8 ? 8 : 0);
		failures += read_crafted(cut, (size_t)n, &rows) != NULL;
	}
	T_CHECK(failures > 0);

	/*
	 * Bytes changed at random, one to four at a time: the file is refused
	 * as damaged or still reads as it was, never as other rows.
	 */
	uint64_t x = 88172645463325252ull;
	int silent = 0, refused = 0, other_status = 0;
	for (int round = 0; round < 3000; round++) {
		static uint8_t bad[1 << 20];
		memcpy(bad, data, (size_t)size);
		for (int k = 0; k < 1 + round % 4; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			bad[x % (uint64_t)size] ^= (uint8_t)(1u << (x >> 60 & 7));
		}
		struct err_msg be = {{0}, 0};
		int rc = same_or_refused(data, bad, (size_t)size, &be);
		silent += rc < 0;
		refused += rc == 1;
		other_status += rc == 1 && be.status != EX_DATAERR;
	}
	T_EQ_INT(silent, 0);
	T_EQ_INT(other_status, 0);
	T_CHECK(refused > 2500);
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/test_parquet.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN(test_every_type_round_trips_with_every_codec_and_page_version);
	T_RUN(test_batches_write_what_rows_write);
	T_RUN(test_runs_of_equal_strings_read_back_as_written);
	T_RUN(test_required_int64_batches_take_the_fast_path);
	T_RUN(test_writer_picks_encodings_by_size);
	T_RUN(test_dictionary_falls_back_to_plain_when_it_grows_too_large);
	T_RUN(test_forced_encodings_round_trip);
	T_RUN(test_unsuitable_encodings_are_refused);
	T_RUN(test_statistics_follow_each_types_order);
	T_RUN(test_long_string_bounds_are_shortened_in_the_footer_only);
	T_RUN(test_shortened_string_bounds_end_on_a_character);
	T_RUN(test_shortened_binary_bounds_are_byte_prefixes);
	T_RUN(test_shortened_string_bounds_bound_every_value);
	T_RUN(test_long_string_bounds_stay_utf8_in_the_footer);
	T_RUN(test_nested_rows_shred_as_the_worked_example);
	T_RUN(test_rows_can_be_projected_to_nested_fields);
	T_RUN(test_rows_null_in_the_selected_columns_are_skipped);
	T_RUN(test_skipping_null_rows_refuses_what_reading_them_refuses);
	T_RUN(test_nested_values_must_match_the_schema);
	T_RUN(test_many_row_groups_and_row_group_skipping);
	T_RUN(test_a_file_of_no_rows_is_valid);
	T_RUN(test_writer_threads_leave_signals_to_the_program);
	T_RUN(test_the_page_crc_is_the_crc32_of_gzip);
	T_RUN(test_every_page_and_the_footer_carry_their_crc);
	T_RUN(test_a_damaged_page_is_refused_with_its_place);
	T_RUN(test_every_changed_byte_is_refused_or_harmless);
	T_RUN(test_verifying_chunks_refuses_what_reading_refuses);
	T_RUN(test_misuse_is_reported_with_the_column);
	T_RUN(test_a_full_disk_is_an_io_error);
	T_RUN(test_crafted_files_read_when_honest);
	T_RUN(test_lies_in_the_footer_are_caught);
	T_RUN(test_corrupt_pages_are_caught);
	T_RUN(test_lz4_pages_read_bare_or_in_hadoop_framing);
	T_RUN(test_brotli_pages_decompress_to_exactly_their_size);
	T_RUN(test_pages_over_the_limits_are_refused);
	T_RUN(test_a_damaged_footer_checksum_key_is_refused);
	T_RUN(test_truncated_and_damaged_files_are_refused_without_crashing);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	T_DONE();
}

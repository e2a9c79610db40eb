/*
 * The Parquet files that tests/parquet.bats gives to DuckDB, and the rows
 * each one must hold.
 *
 *   test_parquet_files DIR   write DIR/NAME.parquet and DIR/NAME.jsonl (the
 *                            expected rows, in stocketl's JSON conventions)
 *   test_parquet_files       write them to a temporary directory and read
 *                            them back with stocketl's reader (a unit test)
 *
 * The set covers every type with nulls and extremes, every codec, both data
 * page versions, pages with checksums and without, every encoding the
 * writer has, nested actions as in a
 * Delta checkpoint, the three ways of giving rows (values, batches, value
 * trees), dictionary fallback, many row groups and an empty file.  The
 * expected JSON is formatted here from the values written, independently
 * of parquet-cat.
 */
#include "base/buf.h"
#include "text/decimal.h"
#include "parquet/parquet.h"
#include "t.h"
#include "text/ts.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#define MAXROWS 20000

struct file {
	const char *name;
	struct pq_schema *s;
	struct pq_write_options o;
	int forced[16]; /* leaf -> encoding, PQ_ENC_AUTO for none */
	int api;        /* 0 value trees, 1 put_* per value, 2 batches */
	int nrows;
	struct pq_value *rows; /* PQ_V_STRUCT rows */
};

/* Every value tree lives in one arena, freed at the end. */
static char *arena;
static size_t arena_used, arena_cap;

static void *take(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (arena_used + n > arena_cap) {
		fprintf(stderr, "test_parquet_files: arena full\n");
		exit(70);
	}
	void *p = arena + arena_used;
	arena_used += n;
	memset(p, 0, n);
	return p;
}

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static struct pq_value vnull(void)
{
	struct pq_value v;
	memset(&v, 0, sizeof v);
	return v;
}

static struct pq_value vi32(int32_t x)
{
	struct pq_value v = vnull();
	v.kind = PQ_V_I32;
	v.i32 = x;
	return v;
}

static struct pq_value vi64(int64_t x)
{
	struct pq_value v = vnull();
	v.kind = PQ_V_I64;
	v.i64 = x;
	return v;
}

static struct pq_value vdec(pq_int128 x)
{
	struct pq_value v = vnull();
	v.kind = PQ_V_DEC;
	v.dec = x;
	return v;
}

static struct pq_value vbytes(const void *p, size_t n)
{
	struct pq_value v = vnull();
	uint8_t *copy = take(n + 1);
	memcpy(copy, p, n);
	v.kind = PQ_V_BYTES;
	v.bytes.p = copy;
	v.bytes.len = n;
	return v;
}

static struct pq_value vstr(const char *s)
{
	return s ? vbytes(s, strlen(s)) : vnull();
}

static struct pq_value vagg(enum pq_vkind kind, uint32_t n)
{
	struct pq_value v = vnull();
	v.kind = kind;
	v.n = n;
	v.items = take((kind == PQ_V_MAP ? 2 : 1) * (n ? n : 1) * sizeof *v.items);
	return v;
}

static pq_int128 p10(int k)
{
	pq_int128 v = 1;
	while (k-- > 0)
		v *= 10;
	return v;
}

/* ------------------------------------------------------------ the ticks */

static const char *const tick_names[] = {
    "symbol", "interval", "trade_timestamp", "trade_date", "open",        "high",
    "low",    "close",    "volume",          "batch_id",   "ingested_at", "source"};

static struct pq_schema *tick_schema(void)
{
	struct pq_schema *s = pq_schema_new();
	for (int i = 0; i < 12; i++) {
		if (i >= 4 && i <= 7)
			pq_schema_add_decimal(s, PQ_ROOT, tick_names[i], 18, 6, 1);
		else
			pq_schema_add(s, PQ_ROOT, tick_names[i],
			              i == 0 || i == 1 || i == 11 ? PQ_STRING
			              : i == 2 || i == 10         ? PQ_TIMESTAMP
			              : i == 3                    ? PQ_DATE
			                                          : PQ_LONG,
			              1);
	}
	return s;
}

/* 20000 one-minute bars: 4 days x 5 symbols x 1000 bars, prices in random walks. */
static struct pq_value *tick_rows(int *n)
{
	static const char *const syms[] = {"AAPL", "IBM", "NVDA", "TSLA", "BRK.B"};
	struct pq_value *rows = take(MAXROWS * sizeof *rows);
	int k = 0;
	int64_t price[5] = {189500000, 160070000, 131250000, 250000000, 411000000};
	rng = 42;
	for (int day = 0; day < 4; day++) {
		int32_t date = 19900 + day;
		for (int s = 0; s < 5; s++) {
			int64_t batch = ((int64_t)date * 86400 + 72000 + s) * 1000000;
			for (int m = 0; m < 1000; m++, k++) {
				struct pq_value r = vagg(PQ_V_STRUCT, 12);
				int64_t ts = (int64_t)date * 86400000000LL + 48600000000LL +
				             (int64_t)m * 60000000LL;
				int64_t open = price[s];
				int64_t close = open + (int64_t)(rnd() % 200001) - 100000;
				int64_t hi =
				    (open > close ? open : close) + (int64_t)(rnd() % 50000);
				int64_t lo =
				    (open < close ? open : close) - (int64_t)(rnd() % 50000);
				price[s] = close;
				r.items[0] = vstr(syms[s]);
				r.items[1] = vstr("1min");
				r.items[2] = vi64(ts);
				r.items[3] = vi32(date);
				r.items[4] = vdec(open);
				r.items[5] = vdec(hi);
				r.items[6] = vdec(lo);
				r.items[7] = k % 997 == 5 ? vnull() : vdec(close);
				r.items[8] =
				    k % 1301 == 7 ? vnull() : vi64((int64_t)(rnd() % 5000000));
				r.items[9] = vi64(batch);
				r.items[10] = vi64(batch + 1234);
				r.items[11] = vstr("alphavantage");
				rows[k] = r;
			}
		}
	}
	*n = k;
	return rows;
}

/* ------------------------------------------------------------ all types */

static struct pq_schema *types_schema(int optional)
{
	static const enum pq_type t[] = {PQ_BOOLEAN, PQ_BYTE,  PQ_SHORT,    PQ_INT,
	                                 PQ_LONG,    PQ_FLOAT, PQ_DOUBLE,   PQ_STRING,
	                                 PQ_BINARY,  PQ_DATE,  PQ_TIMESTAMP};
	static const char *const names[] = {"bool",   "byte",   "short",  "int",  "long", "float",
	                                    "double", "string", "binary", "date", "ts"};
	struct pq_schema *s = pq_schema_new();
	for (int i = 0; i < 11; i++)
		pq_schema_add(s, PQ_ROOT, names[i], t[i], optional);
	pq_schema_add_decimal(s, PQ_ROOT, "dec5", 5, 3, optional);
	pq_schema_add_decimal(s, PQ_ROOT, "dec18", 18, 6, optional);
	pq_schema_add_decimal(s, PQ_ROOT, "dec38", 38, 18, optional);
	return s;
}

static struct pq_value type_value(int c, int i, int optional)
{
	if (optional && (i % 7 == 3 || i == 299))
		return vnull();
	int neg = i % 2;
	int edge = i % 10; /* rows 1, 2 of each ten: the extremes */
	char buf[64];
	switch (c) {
	case 0: {
		struct pq_value v = vnull();
		v.kind = PQ_V_BOOL;
		v.b = i % 3 == 0;
		return v;
	}
	case 1:
		return vi32(edge == 1 ? -128 : edge == 2 ? 127 : (neg ? -1 : 1) * (i % 90));
	case 2:
		return vi32(edge == 1 ? -32768 : edge == 2 ? 32767 : (neg ? -1 : 1) * i * 7);
	case 3:
		return vi32(edge == 1   ? INT32_MIN
		            : edge == 2 ? INT32_MAX
		                        : (neg ? -1 : 1) * i * 9999);
	case 4:
		return vi64(edge == 1   ? INT64_MIN
		            : edge == 2 ? INT64_MAX
		                        : (neg ? -1 : 1) * (int64_t)i * 1000000007LL);
	case 5: {
		struct pq_value v = vnull();
		v.kind = PQ_V_F32;
		v.f32 = edge == 1 ? -3.4028235e38f : edge == 2 ? 1.17549435e-38f : (float)i / 3;
		if (i == 4)
			v.f32 = NAN;
		if (i == 5)
			v.f32 = -INFINITY;
		return v;
	}
	case 6: {
		struct pq_value v = vnull();
		v.kind = PQ_V_F64;
		v.f64 = edge == 1 ? -1.7976931348623157e308 : edge == 2 ? 5e-324 : i * 0.1 - 7;
		if (i == 6)
			v.f64 = INFINITY;
		if (i == 8)
			v.f64 = NAN;
		if (i == 12)
			v.f64 = -0.0;
		return v;
	}
	case 7:
		if (i % 11 == 0)
			return vstr("");
		snprintf(buf, sizeof buf, "%s-%d", i % 5 == 1 ? "\xc3\xa9t\xc3\xa9 \"q\"\\" : "w",
		         i % 37);
		return vstr(buf);
	case 8: {
		uint8_t b[8];
		for (int k = 0; k < 8; k++)
			b[k] = (uint8_t)(i * 31 + k * 97);
		return vbytes(b, (size_t)(i % 9));
	}
	case 9:
		/* 0001-01-01 .. 9999-12-31, many before 1970 */
		return vi32(edge == 1 ? -719162 : edge == 2 ? 2932896 : -40000 + i * 223);
	case 10:
		return vi64(edge == 1   ? -62135596800000000LL
		            : edge == 2 ? 253402300799999999LL
		                        : -1000000000000000LL + (int64_t)i * 7777777777777LL);
	case 11:
		return vdec(edge == 1 ? -99999 : edge == 2 ? 99999 : (neg ? -1 : 1) * i * 11);
	case 12:
		return vdec(edge == 1   ? -(p10(18) - 1)
		            : edge == 2 ? p10(18) - 1
		                        : (neg ? -1 : 1) * (pq_int128)i * 1000003);
	default:
		return vdec(edge == 1   ? -(p10(38) - 1)
		            : edge == 2 ? p10(38) - 1
		                        : (neg ? -1 : 1) * (pq_int128)i * p10(20) + i);
	}
}

static struct pq_value *type_rows(int optional, int *n)
{
	struct pq_value *rows = take(300 * sizeof *rows);
	for (int i = 0; i < 300; i++) {
		rows[i] = vagg(PQ_V_STRUCT, 14);
		for (int c = 0; c < 14; c++)
			rows[i].items[c] = type_value(c, i, optional);
	}
	*n = 300;
	return rows;
}

/* --------------------------------------------------------------- nesting */

/* Delta checkpoint actions: add (with a map), remove, metaData (a list and a map). */
static struct pq_schema *nested_schema(void)
{
	struct pq_schema *s = pq_schema_new();
	int txn = pq_schema_add(s, PQ_ROOT, "txn", PQ_STRUCT, 1);
	pq_schema_add(s, txn, "appId", PQ_STRING, 1);
	pq_schema_add(s, txn, "version", PQ_LONG, 1);
	int add = pq_schema_add(s, PQ_ROOT, "add", PQ_STRUCT, 1);
	pq_schema_add(s, add, "path", PQ_STRING, 1);
	int pv = pq_schema_add(s, add, "partitionValues", PQ_MAP, 1);
	pq_schema_add(s, pv, "key", PQ_STRING, 0);
	pq_schema_add(s, pv, "value", PQ_STRING, 1);
	pq_schema_add(s, add, "size", PQ_LONG, 1);
	pq_schema_add(s, add, "dataChange", PQ_BOOLEAN, 1);
	int md = pq_schema_add(s, PQ_ROOT, "metaData", PQ_STRUCT, 1);
	pq_schema_add(s, md, "id", PQ_STRING, 1);
	int fmt = pq_schema_add(s, md, "format", PQ_STRUCT, 1);
	pq_schema_add(s, fmt, "provider", PQ_STRING, 1);
	int pc = pq_schema_add(s, md, "partitionColumns", PQ_LIST, 1);
	pq_schema_add(s, pc, "element", PQ_STRING, 1);
	int conf = pq_schema_add(s, md, "configuration", PQ_MAP, 1);
	pq_schema_add(s, conf, "key", PQ_STRING, 0);
	pq_schema_add(s, conf, "value", PQ_STRING, 1);
	int pr = pq_schema_add(s, PQ_ROOT, "protocol", PQ_STRUCT, 1);
	pq_schema_add(s, pr, "minReaderVersion", PQ_INT, 1);
	int rf = pq_schema_add(s, pr, "readerFeatures", PQ_LIST, 1);
	pq_schema_add(s, rf, "element", PQ_STRING, 1);
	int ll = pq_schema_add(s, PQ_ROOT, "matrix", PQ_LIST, 1);
	int inner = pq_schema_add(s, ll, "element", PQ_LIST, 1);
	pq_schema_add(s, inner, "element", PQ_INT, 1);
	return s;
}

static struct pq_value *nested_rows(int *n)
{
	int count = 400;
	struct pq_value *rows = take((size_t)count * sizeof *rows);
	char buf[64];
	for (int i = 0; i < count; i++) {
		struct pq_value r = vagg(PQ_V_STRUCT, 5);
		for (int k = 0; k < 5; k++)
			r.items[k] = vnull();
		switch (i % 6) {
		case 0: {
			struct pq_value t = vagg(PQ_V_STRUCT, 2);
			snprintf(buf, sizeof buf, "app-%d", i % 3);
			t.items[0] = vstr(buf);
			t.items[1] = vi64(i);
			r.items[0] = t;
			break;
		}
		case 1:
		case 2:
		case 3: {
			struct pq_value a = vagg(PQ_V_STRUCT, 4);
			snprintf(buf, sizeof buf, "part-%05d.parquet", i);
			a.items[0] = vstr(buf);
			/* A map of 2 entries, one with a null value, an empty one, or none. */
			int shape = i % 4;
			if (shape == 3) {
				a.items[1] = vnull();
			} else {
				struct pq_value m = vagg(PQ_V_MAP, shape == 2 ? 0 : 2);
				if (shape != 2) {
					m.items[0] = vstr("trade_date");
					snprintf(buf, sizeof buf, "2024-01-%02d", 1 + i % 28);
					m.items[1] = vstr(buf);
					m.items[2] = vstr("symbol");
					m.items[3] = shape == 1 ? vnull() : vstr("NVDA");
				}
				a.items[1] = m;
			}
			a.items[2] = i % 5 ? vi64(1000 + i) : vnull();
			struct pq_value b = vnull();
			b.kind = PQ_V_BOOL;
			b.b = i % 2;
			a.items[3] = b;
			r.items[1] = a;
			break;
		}
		case 4: {
			struct pq_value md = vagg(PQ_V_STRUCT, 4);
			md.items[0] = vstr("5fba94ed-9794-4965-ba6e-6ee3c0d22af9");
			struct pq_value f = vagg(PQ_V_STRUCT, 1);
			f.items[0] = vstr("parquet");
			md.items[1] = f;
			struct pq_value pc = vagg(PQ_V_LIST, (uint32_t)(i % 3));
			for (uint32_t k = 0; k < pc.n; k++)
				pc.items[k] = k == 1 && i % 4 == 0
				                  ? vnull()
				                  : vstr(k ? "symbol" : "trade_date");
			md.items[2] = pc;
			struct pq_value c = vagg(PQ_V_MAP, 1);
			c.items[0] = vstr("delta.checkpointInterval");
			c.items[1] = vstr("10");
			md.items[3] = i % 8 == 4 ? vnull() : c;
			r.items[2] = md;
			break;
		}
		default: {
			struct pq_value p = vagg(PQ_V_STRUCT, 2);
			p.items[0] = vi32(1);
			p.items[1] = i % 4 == 1 ? vnull() : vagg(PQ_V_LIST, 0);
			r.items[3] = p;
			/* A list of lists with empty and null inner lists. */
			struct pq_value mx = vagg(PQ_V_LIST, 3);
			for (uint32_t k = 0; k < 3; k++) {
				if (k == 1 && i % 4 == 1) {
					mx.items[k] = vnull();
					continue;
				}
				struct pq_value in = vagg(PQ_V_LIST, k);
				for (uint32_t j = 0; j < k; j++)
					in.items[j] = j == 0 && k == 2
					                  ? vnull()
					                  : vi32((int32_t)(i * 10 + j));
				mx.items[k] = in;
			}
			r.items[4] = mx;
			break;
		}
		}
		rows[i] = r;
	}
	*n = count;
	return rows;
}

/* ---------------------------------------------------------- other shapes */

static struct pq_schema *one_column(const char *name, enum pq_type t, int optional)
{
	struct pq_schema *s = pq_schema_new();
	pq_schema_add(s, PQ_ROOT, name, t, optional);
	return s;
}

/* Strings that start with few distinct values and then are all new. */
static struct pq_value *fallback_rows(int *n)
{
	struct pq_value *rows = take(6000 * sizeof *rows);
	char buf[64];
	for (int i = 0; i < 6000; i++) {
		rows[i] = vagg(PQ_V_STRUCT, 1);
		snprintf(buf, sizeof buf, "word-%d", i < 2000 ? i % 10 : i);
		rows[i].items[0] = i % 101 == 0 ? vnull() : vstr(buf);
	}
	*n = 6000;
	return rows;
}

static struct pq_value *counter_rows(int count, int *n)
{
	struct pq_value *rows = take((size_t)(count ? count : 1) * sizeof *rows);
	for (int i = 0; i < count; i++) {
		rows[i] = vagg(PQ_V_STRUCT, 1);
		rows[i].items[0] = vi64((int64_t)i * i - 5000);
	}
	*n = count;
	return rows;
}

/* --------------------------------------------------------------- writing */

static int put_one(struct pq_writer *w, const struct pq_field *f, int leaf,
                   const struct pq_value *v)
{
	switch (v->kind) {
	case PQ_V_NULL:
		return pq_writer_put_null(w, leaf);
	case PQ_V_BOOL:
		return pq_writer_put_bool(w, leaf, v->b);
	case PQ_V_I32:
		return pq_writer_put_i32(w, leaf, v->i32);
	case PQ_V_I64:
		return pq_writer_put_i64(w, leaf, v->i64);
	case PQ_V_F32:
		return pq_writer_put_f32(w, leaf, v->f32);
	case PQ_V_F64:
		return pq_writer_put_f64(w, leaf, v->f64);
	case PQ_V_BYTES:
		return pq_writer_put_bytes(w, leaf, v->bytes.p, v->bytes.len);
	default:
		/* Decimals up to 18 digits go in as int64, as the tick writer does. */
		return f->precision <= 18 ? pq_writer_put_i64(w, leaf, (int64_t)v->dec)
		                          : pq_writer_put_dec(w, leaf, v->dec);
	}
}

/* Columns in batches of 700 rows (flat schemas only). */
static int write_batches(struct pq_writer *w, const struct file *f)
{
	int ncols = pq_schema_nleaves(f->s);
	static uint8_t valid[700], b8[700];
	static int32_t i32[700];
	static int64_t i64[700];
	static float f32[700];
	static double f64[700];
	static struct pq_bytes by[700];
	static pq_int128 dec[700];
	for (int at = 0; at < f->nrows; at += 700) {
		int n = f->nrows - at < 700 ? f->nrows - at : 700;
		for (int c = 0; c < ncols; c++) {
			const struct pq_field *fd =
			    pq_schema_field(f->s, pq_schema_leaf_field(f->s, c));
			for (int k = 0; k < n; k++) {
				const struct pq_value *v = &f->rows[at + k].items[c];
				valid[k] = v->kind != PQ_V_NULL;
				b8[k] = (uint8_t)v->b;
				i32[k] = v->i32;
				i64[k] = v->i64;
				f32[k] = v->f32;
				f64[k] = v->f64;
				by[k] = v->bytes;
				dec[k] = v->dec;
			}
			int rc;
			switch (pq_type_kind(fd->type)) {
			case PQ_V_BOOL:
				rc = pq_writer_write_bool(w, c, b8, valid, (size_t)n);
				break;
			case PQ_V_I32:
				rc = pq_writer_write_i32(w, c, i32, valid, (size_t)n);
				break;
			case PQ_V_I64:
				rc = pq_writer_write_i64(w, c, i64, valid, (size_t)n);
				break;
			case PQ_V_F32:
				rc = pq_writer_write_f32(w, c, f32, valid, (size_t)n);
				break;
			case PQ_V_F64:
				rc = pq_writer_write_f64(w, c, f64, valid, (size_t)n);
				break;
			case PQ_V_BYTES:
				rc = pq_writer_write_bytes(w, c, by, valid, (size_t)n);
				break;
			default:
				rc = pq_writer_write_dec(w, c, dec, valid, (size_t)n);
				break;
			}
			if (rc < 0)
				return -1;
		}
		if (pq_writer_end_row(w) < 0)
			return -1;
	}
	return 0;
}

static int write_file(const char *dir, struct file *f)
{
	char path[1024];
	struct err_msg e = {{0}, 0};
	snprintf(path, sizeof path, "%s/%s.parquet", dir, f->name);
	struct pq_writer *w = pq_writer_open(path, f->s, &f->o, &e);
	if (!w) {
		fprintf(stderr, "%s\n", e.text);
		return -1;
	}
	int rc = 0;
	for (int l = 0; l < pq_schema_nleaves(f->s) && l < 16 && rc == 0; l++)
		if (f->forced[l] != PQ_ENC_AUTO)
			rc = pq_writer_set_encoding(w, l, f->forced[l]);
	if (rc == 0 && f->api == 2) {
		rc = write_batches(w, f);
	} else {
		for (int i = 0; i < f->nrows && rc == 0; i++) {
			if (f->api == 0) {
				rc = pq_writer_write_row(w, &f->rows[i]);
				continue;
			}
			for (uint32_t c = 0; c < f->rows[i].n && rc == 0; c++)
				rc = put_one(
				    w, pq_schema_field(f->s, pq_schema_leaf_field(f->s, (int)c)),
				    (int)c, &f->rows[i].items[c]);
			if (rc == 0)
				rc = pq_writer_end_row(w);
		}
	}
	if (rc == 0)
		rc = pq_writer_close(w);
	if (rc < 0)
		fprintf(stderr, "%s\n", pq_writer_error(w)->text);
	pq_writer_free(w);
	return rc;
}

/* ------------------------------------------------------ the expected JSON */

static void put_json_value(FILE *out, const struct pq_schema *s, int field,
                           const struct pq_value *v);

static void put_string(FILE *out, const uint8_t *p, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '"' || p[i] == '\\')
			fprintf(out, "\\%c", p[i]);
		else if (p[i] < 0x20)
			fprintf(out, "\\u%04x", p[i]);
		else
			fputc(p[i], out);
	}
	fputc('"', out);
}

static void put_json_value(FILE *out, const struct pq_schema *s, int field,
                           const struct pq_value *v)
{
	static struct buf text; /* numbers and base64, formatted by the library */
	const struct pq_field *f = pq_schema_field(s, field);
	char t[64];
	switch (v->kind) {
	case PQ_V_NULL:
		fputs("null", out);
		break;
	case PQ_V_BOOL:
		fputs(v->b ? "true" : "false", out);
		break;
	case PQ_V_I32:
		if (f->type == PQ_DATE) {
			ts_format_date(v->i32, t);
			fprintf(out, "\"%s\"", t);
		} else {
			fprintf(out, "%d", v->i32);
		}
		break;
	case PQ_V_I64:
		if (f->type == PQ_TIMESTAMP) {
			ts_format_rfc3339(v->i64, t);
			fprintf(out, "\"%s\"", t);
		} else {
			fprintf(out, "%lld", (long long)v->i64);
		}
		break;
	case PQ_V_F32:
	case PQ_V_F64:
		buf_reset(&text);
		buf_json_number(&text, v->kind == PQ_V_F32 ? v->f32 : v->f64, v->kind == PQ_V_F32);
		fputs(text.data, out);
		break;
	case PQ_V_BYTES:
		if (f->type == PQ_STRING)
			put_string(out, v->bytes.p, v->bytes.len);
		else {
			buf_reset(&text);
			buf_base64(&text, v->bytes.p, v->bytes.len);
			fprintf(out, "\"%s\"", text.data ? text.data : "");
		}
		break;
	case PQ_V_DEC:
		dec_format(v->dec, f->scale, t);
		fputs(t, out);
		break;
	case PQ_V_STRUCT:
		fputc('{', out);
		for (uint32_t i = 0; i < v->n; i++) {
			const struct pq_field *c = pq_schema_field(s, f->children[i]);
			fprintf(out, "%s\"%s\":", i ? "," : "", c->name);
			put_json_value(out, s, f->children[i], &v->items[i]);
		}
		fputc('}', out);
		break;
	case PQ_V_LIST:
		fputc('[', out);
		for (uint32_t i = 0; i < v->n; i++) {
			if (i)
				fputc(',', out);
			put_json_value(out, s, f->children[0], &v->items[i]);
		}
		fputc(']', out);
		break;
	default:
		fputc('{', out);
		for (uint32_t i = 0; i < v->n; i++) {
			if (i)
				fputc(',', out);
			put_json_value(out, s, f->children[0], &v->items[2 * i]);
			fputc(':', out);
			put_json_value(out, s, f->children[1], &v->items[2 * i + 1]);
		}
		fputc('}', out);
		break;
	}
}

static int write_expected(const char *dir, const struct file *f)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s.jsonl", dir, f->name);
	FILE *out = fopen(path, "w");
	if (!out)
		return -1;
	for (int i = 0; i < f->nrows; i++) {
		put_json_value(out, f->s, PQ_ROOT, &f->rows[i]);
		fputc('\n', out);
	}
	return fclose(out) == 0 ? 0 : -1;
}

/* ----------------------------------------------------------- the set */

static struct file files[16];
static int nfiles;

static struct file *add_file(const char *name, struct pq_schema *s, int api)
{
	struct file *f = &files[nfiles++];
	memset(f, 0, sizeof *f);
	f->name = name;
	f->s = s;
	f->api = api;
	pq_write_options_init(&f->o);
	for (int i = 0; i < 16; i++)
		f->forced[i] = PQ_ENC_AUTO;
	return f;
}

static void build_set(void)
{
	struct file *f;
	int n;
	struct pq_value *ticks = tick_rows(&n);

	f = add_file("ticks_zstd_v1", tick_schema(), 2);
	f->rows = ticks;
	f->nrows = n;
	f->o.row_group_rows = 6000;
	f->o.page_bytes = 16384;

	f = add_file("ticks_snappy_v2", tick_schema(), 1);
	f->rows = ticks;
	f->nrows = n;
	f->o.compression = PQ_SNAPPY;
	f->o.page_version = 2;
	f->o.row_group_rows = 5000;
	f->o.page_bytes = 8192;

	/* Without the page and footer checksums that every other file has. */
	f = add_file("ticks_zstd_v1_nocrc", tick_schema(), 2);
	f->rows = ticks;
	f->nrows = n;
	f->o.row_group_rows = 6000;
	f->o.page_bytes = 16384;
	f->o.no_crc = 1;

	f = add_file("ticks_gzip_v1", tick_schema(), 0);
	f->rows = ticks;
	f->nrows = n;
	f->o.compression = PQ_GZIP;
	f->o.row_group_rows = 7000;

	f = add_file("ticks_uncompressed_v2", tick_schema(), 2);
	f->rows = ticks;
	f->nrows = n;
	f->o.compression = PQ_UNCOMPRESSED;
	f->o.page_version = 2;
	f->o.zstd_level = 1;

	f = add_file("types_optional", types_schema(1), 1);
	f->rows = type_rows(1, &f->nrows);
	f->o.page_bytes = 700;
	f->o.row_group_rows = 128;

	f = add_file("types_required_v2", types_schema(0), 2);
	f->rows = type_rows(0, &f->nrows);
	f->o.page_version = 2;
	f->o.page_bytes = 900;

	/* Every other encoding the writer has, on the types DuckDB reads them for. */
	f = add_file("types_encodings", types_schema(1), 0);
	f->rows = type_rows(1, &f->nrows);
	f->o.page_bytes = 1000;
	f->forced[0] = PQ_ENC_RLE;
	f->forced[3] = PQ_ENC_DELTA_BINARY_PACKED;
	f->forced[4] = PQ_ENC_DELTA_BINARY_PACKED;
	f->forced[5] = PQ_ENC_BYTE_STREAM_SPLIT;
	f->forced[6] = PQ_ENC_BYTE_STREAM_SPLIT;
	f->forced[7] = PQ_ENC_DELTA_BYTE_ARRAY;
	f->forced[8] = PQ_ENC_DELTA_LENGTH_BYTE_ARRAY;
	f->forced[12] = PQ_ENC_RLE_DICTIONARY;

	f = add_file("nested_v1", nested_schema(), 0);
	f->rows = nested_rows(&f->nrows);
	f->o.page_bytes = 512;
	f->o.row_group_rows = 150;

	f = add_file("nested_v2", nested_schema(), 0);
	f->rows = nested_rows(&f->nrows);
	f->o.page_version = 2;
	f->o.compression = PQ_SNAPPY;

	f = add_file("dictionary_fallback", one_column("word", PQ_STRING, 1), 1);
	f->rows = fallback_rows(&f->nrows);
	f->o.dict_max_bytes = 4096;
	f->o.page_bytes = 2048;

	f = add_file("many_row_groups", one_column("n", PQ_LONG, 0), 1);
	f->rows = counter_rows(3000, &f->nrows);
	f->o.row_group_rows = 3;

	f = add_file("empty", types_schema(1), 1);
	f->rows = counter_rows(0, &f->nrows);
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
		       (!a->bytes.len || memcmp(a->bytes.p, b->bytes.p, a->bytes.len) == 0);
	case PQ_V_DEC:
		return a->dec == b->dec;
	default:
		if (a->n != b->n)
			return 0;
		for (uint32_t i = 0; i < (a->kind == PQ_V_MAP ? 2 * a->n : a->n); i++)
			if (!value_eq(&a->items[i], &b->items[i]))
				return 0;
		return 1;
	}
}

/* The unit test: each file reads back as the rows written. */
static void check_file(const char *dir, const struct file *f)
{
	char path[1024];
	struct err_msg e = {{0}, 0};
	snprintf(path, sizeof path, "%s/%s.parquet", dir, f->name);
	struct pq_reader *r = pq_reader_open(path, NULL, &e);
	T_CHECK(r != NULL);
	if (!r) {
		printf("#   %s\n", e.text);
		return;
	}
	const struct pq_value *row;
	int i = 0, bad = 0, rc;
	while ((rc = pq_reader_next_row(r, &row, &e)) > 0) {
		if (i >= f->nrows || !value_eq(row, &f->rows[i]))
			bad++;
		i++;
	}
	if (rc < 0 || i != f->nrows || bad)
		printf("#   %s: %s\n", f->name, rc < 0 ? e.text : "rows differ");
	T_EQ_INT(rc, 0);
	T_EQ_INT(i, f->nrows);
	T_EQ_INT(bad, 0);
	pq_reader_close(r);
}

static char tmpdir[256];

static void test_every_file_reads_back_as_written(void)
{
	for (int i = 0; i < nfiles; i++) {
		T_EQ_INT(write_file(tmpdir, &files[i]), 0);
		check_file(tmpdir, &files[i]);
	}
}

int main(int argc, char **argv)
{
	arena_cap = 64u << 20;
	arena = malloc(arena_cap);
	if (!arena)
		return 70;
	build_set();
	int rc = 0;
	if (argc > 1) {
		for (int i = 0; i < nfiles && rc == 0; i++)
			if (write_file(argv[1], &files[i]) < 0 ||
			    write_expected(argv[1], &files[i]) < 0)
				rc = 74;
	} else {
		const char *t = getenv("TMPDIR");
		snprintf(tmpdir, sizeof tmpdir, "%s/test_parquet_files.XXXXXX",
		         t && *t ? t : "/tmp");
		if (!mkdtemp(tmpdir))
			return 1;
		T_RUN(test_every_file_reads_back_as_written);
		char cmd[600];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			return 1;
	}
	for (int i = 0; i < nfiles; i++)
		pq_schema_free(files[i].s);
	free(arena);
	if (argc > 1)
		return rc;
	T_DONE();
}

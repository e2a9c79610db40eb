/*
 * parquet_write: the streaming Parquet writer (see parquet.h).
 *
 * Values go into per-column page buffers in their raw form (levels as
 * 16-bit arrays, values as typed arrays, strings in a byte heap, where a
 * string equal to the one before it shares that one's bytes).  When a
 * page holds page_bytes of raw values it is handed over to be encoded,
 * compressed and appended to the column's chunk buffer, by a worker thread
 * while the caller goes on filling a second page buffer; when a row group is
 * full, every column's last page and dictionary page are encoded (in
 * parallel) and the chunks written to the file in schema order, each
 * dictionary page first (it is known only at the end of the chunk).  So
 * memory holds two raw pages per column plus the compressed row group, and
 * a file's footer is the only thing kept for the whole file.
 *
 * Encodings are chosen per column chunk on its first page: the writer
 * encodes that page with the candidates that suit the type (a dictionary
 * for everything but booleans, DELTA_BINARY_PACKED for integers, PLAIN) and
 * keeps the smallest; unless one is far smaller, it compares them after
 * compression, on a sample.  PLAIN, the slowest to compress, must then be
 * clearly smaller (by a fifth) to be taken; a dictionary is not tried on
 * pages whose first values are mostly distinct.  A dictionary that outgrows
 * dict_max_bytes is frozen: the pages already written keep it, later pages
 * of the chunk use the fallback (the better of PLAIN and
 * DELTA_BINARY_PACKED on the first page).
 *
 * Statistics are exact: min/max in each type's order for each page, chunk
 * and the whole file, null counts always.  Long string and binary bounds
 * are shortened in the page headers and the footer (and marked inexact),
 * strings between characters, but kept whole for pq_writer_stats().
 *
 * Every page header carries the CRC-32 of its page, and the footer a CRC-32
 * of itself (PQ_FOOTER_CRC_KEY), so that a reader can refuse a damaged file
 * instead of reading other values from it.
 */
#include "parquet/pq_internal.h"

#include "parquet/pq_enc_internal.h"
#include "parquet/thrift_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef STOCKETL_VERSION
#define STOCKETL_VERSION "unknown"
#endif
/*
 * created_by in parquet.thrift's form, "<app> version <version> (build
 * <hash>)": the Makefile sets STOCKETL_BUILD to the commit built from,
 * and leaves it unset where there is no git checkout (the build part is
 * then left out, as parquet.thrift's readers allow).
 */
#ifdef STOCKETL_BUILD
#define CREATED_BY "stocketl version " STOCKETL_VERSION " (build " STOCKETL_BUILD ")"
#else
#define CREATED_BY "stocketl version " STOCKETL_VERSION
#endif

#define STATS_MAX_BYTES  64           /* longer string bounds are shortened in the footer */
#define MAX_VALUE_BYTES  (1u << 30)   /* one string or binary value */
#define MAX_PAGE_BYTES   (256u << 20) /* page_bytes is clamped to this */
#define MAX_PAGE_ENTRIES (1u << 20)   /* level entries in one page (nulls take no bytes) */
#define MAX_DICT_BYTES   (1u << 30)   /* dict_max_bytes is clamped to this */
#define SAMPLE_VALUES    8192         /* values compressed to compare encodings */

enum mode {
	MODE_UNDECIDED,
	MODE_DICT,
	MODE_PLAIN,
	MODE_DBP,
	MODE_DLBA,
	MODE_DBA,
	MODE_BSS,
	MODE_RLE,
};

/* The page encoding a mode stands for (PQ_ENC_AUTO before a decision). */
static int mode_encoding(int mode)
{
	switch (mode) {
	case MODE_DICT:
		return PQ_ENC_RLE_DICTIONARY;
	case MODE_PLAIN:
		return PQ_ENC_PLAIN;
	case MODE_DBP:
		return PQ_ENC_DELTA_BINARY_PACKED;
	case MODE_DLBA:
		return PQ_ENC_DELTA_LENGTH_BYTE_ARRAY;
	case MODE_DBA:
		return PQ_ENC_DELTA_BYTE_ARRAY;
	case MODE_BSS:
		return PQ_ENC_BYTE_STREAM_SPLIT;
	case MODE_RLE:
		return PQ_ENC_RLE;
	default:
		return PQ_ENC_AUTO;
	}
}

struct ba { /* a string in a page or dictionary heap */
	uint32_t off;
	uint32_t len;
};

struct dict {
	uint32_t *slots; /* entry + 1; 0 is empty */
	size_t nslots;   /* a power of two */
	uint32_t count;
	size_t plain_bytes;
	uint8_t *vals; /* entries: typed like page values */
	size_t cap;
	struct pq_buf heap;
	uint64_t *hash; /* byte arrays: the hash of each entry */
	size_t hcap;
	int frozen;
};

/* Statistics being gathered: typed like the physical storage. */
struct bounds {
	int has;
	int nan; /* a NaN was seen: no bounds at all, as readers order NaN differently */
	struct pq_value min, max;
	struct pq_buf minb, maxb; /* owned copies of byte-array bounds */
};

struct chunkmeta {
	int64_t dict_off, data_off, total_unc, total_comp, num_values, null_count;
	uint32_t encodings;
	uint8_t *min, *max;
	size_t minlen, maxlen;
	int has_min, has_max, min_exact, max_exact;
};

struct rgmeta {
	int64_t num_rows, total_unc, total_comp, file_offset;
	struct chunkmeta *cols;
};

/* The raw values and levels of one page. */
struct page {
	uint16_t *def, *rep;
	size_t nlev, caplev;
	uint8_t *vals;
	size_t nval, capval;
	struct pq_buf heap;
	size_t page_est, page_rows;
};

struct wcol {
	int field, phys, precision, flba;
	pq_int128 dec_limit; /* decimals: 10^precision, which no value may reach */
	enum pq_type type;
	int max_def, max_rep, flat;
	int forced;
	size_t vsize;
	/*
	 * The page being filled, and the one being encoded (by a worker, when
	 * busy: until then the chunk's state below belongs to that worker).
	 */
	struct page pg, spare, *work; /* work: the page being encoded (spare) */
	int busy, final;
	/* the chunk being filled */
	int mode, fallback, dict_used;
	int chosen; /* the encoding the last finished chunk started with (enum pq_encoding) */
	struct dict dict;
	struct pq_buf pages, dictpage; /* encoded data pages; the dictionary page */
	int64_t c_values, c_nulls, c_unc, c_comp;
	uint32_t c_enc;
	struct bounds c_st;
	int64_t rows;
	/* the whole file */
	int64_t f_values, f_nulls;
	struct bounds f_st;
};

/*
 * What encoding a page needs besides the page itself: buffers, the
 * compression context, and its own error (so that workers share nothing
 * while they encode).
 */
struct scratch {
	struct pq_writer *w;
	struct pq_buf vbuf, tbuf, lbuf, cbuf, hbuf, sbuf;
	uint32_t *idx;
	size_t capidx;
	uint32_t *stamp;
	size_t capstamp;
	uint32_t page_serial;
	struct pq_codec *codec;
	int own_codec;
	struct err_msg err;
	int failed;
};

struct pq_writer {
	struct err_msg err;
	int failed, closed;
	int fd, own_fd;
	char *name;
	struct pq_schema *s;
	struct pq_write_options o;
	struct pq_kv *kv;
	struct pq_codec *codec;
	int own_codec;
	uint64_t pos;
	struct wcol *cols;
	int ncols;
	int *leaf_lo, *leaf_hi; /* per field: the leaves below it */
	int64_t rows, total_rows;
	struct rgmeta *rgs;
	int nrg, caprg;
	struct pq_buf foot;
	struct scratch mine; /* the caller's thread encodes with this */
	/*
	 * Pages are encoded by nthreads - 1 workers and, at the end of a row
	 * group, the caller's thread too.  A column has at most one page being
	 * encoded (busy), so its chunk is only ever touched by one thread and
	 * its pages stay in order.  The lock guards the queue, busy and the
	 * workers' first error.
	 */
	int nthreads, nworkers;
	pthread_t *tid;
	struct scratch *wscratch;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	int *queue; /* column numbers, a ring of ncols */
	int qhead, qcount, pending, stop;
	struct err_msg async_err;
	int async_failed;
};

static int fail(struct pq_writer *w, int status, const char *fmt, ...) ERR_PRINTF(3, 4);

static int fail(struct pq_writer *w, int status, const char *fmt, ...)
{
	if (!w->failed) {
		char msg[ERR_MSG_MAX];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		err_set(&w->err, status, "%s: %s", w->name, msg);
		w->failed = 1;
	}
	return -1;
}

static int nomem(struct pq_writer *w)
{
	return fail(w, EX_SOFTWARE, "out of memory");
}

/* The same for the thread encoding a page: the error goes to its scratch. */
static int xfail(struct scratch *x, struct pq_writer *w, int status, const char *fmt, ...)
    ERR_PRINTF(4, 5);

static int xfail(struct scratch *x, struct pq_writer *w, int status, const char *fmt, ...)
{
	if (!x->failed) {
		char msg[ERR_MSG_MAX];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		err_set(&x->err, status, "%s: %s", w->name, msg);
		x->failed = 1;
	}
	return -1;
}

static int xnomem(struct scratch *x, struct pq_writer *w)
{
	return xfail(x, w, EX_SOFTWARE, "out of memory");
}

static const char *colname(struct pq_writer *w, struct wcol *c, char *buf, size_t n)
{
	pq_schema_path(w->s, c->field, buf, n);
	return buf;
}

void pq_write_options_init(struct pq_write_options *o)
{
	memset(o, 0, sizeof *o);
	o->row_group_rows = 1 << 20;
	o->page_bytes = 1 << 20;
	o->compression = PQ_ZSTD;
	o->zstd_level = 1;
	o->page_version = 1;
	o->dict_max_bytes = 1 << 20;
}

/* One worker per processor (the caller's thread mostly gathers values). */
static int default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n + 1 : 2;
}

/* ------------------------------------------------------------- output */

static int write_all(struct pq_writer *w, const void *p, size_t n)
{
	const uint8_t *q = p;
	while (n > 0) {
		ssize_t k = write(w->fd, q, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return fail(w, EX_IOERR, "write failed: %s", strerror(errno));
		}
		if (k == 0)
			return fail(w, EX_IOERR, "write failed: no progress");
		q += k;
		n -= (size_t)k;
		w->pos += (uint64_t)k;
	}
	return 0;
}

/* ------------------------------------------------------------- storage */

static size_t value_size(int phys)
{
	switch (phys) {
	case PQ_PT_BOOLEAN:
		return 1;
	case PQ_PT_INT32:
	case PQ_PT_FLOAT:
		return 4;
	case PQ_PT_INT64:
	case PQ_PT_DOUBLE:
	case PQ_PT_BYTE_ARRAY:
		return 8; /* doubles, or struct ba */
	default:
		return sizeof(pq_int128);
	}
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 64;
	while (c < need)
		c *= 2;
	void *q = realloc(*p, c * size);
	if (!q)
		return -1;
	*p = q;
	*cap = c;
	return 0;
}

static inline int room_lev(struct wcol *c, size_t k)
{
	if (c->pg.nlev + k <= c->pg.caplev)
		return 0;
	if (!c->max_def && !c->max_rep) {
		c->pg.caplev = SIZE_MAX / 2;
		return 0;
	}
	size_t cap = c->pg.caplev ? c->pg.caplev : 64;
	while (cap < c->pg.nlev + k)
		cap *= 2;
	if (c->max_def) {
		uint16_t *p = realloc(c->pg.def, cap * sizeof *p);
		if (!p)
			return -1;
		c->pg.def = p;
	}
	if (c->max_rep) {
		uint16_t *p = realloc(c->pg.rep, cap * sizeof *p);
		if (!p)
			return -1;
		c->pg.rep = p;
	}
	c->pg.caplev = cap;
	return 0;
}

static inline int room_val(struct wcol *c, size_t k)
{
	if (c->pg.nval + k <= c->pg.capval)
		return 0;
	void *p = c->pg.vals;
	if (grow(&p, &c->pg.capval, c->pg.nval + k, c->vsize) < 0)
		return -1;
	c->pg.vals = p;
	return 0;
}

/* ---------------------------------------------------------- statistics */

static void stat_reset(struct bounds *s)
{
	s->has = 0;
	s->nan = 0;
}

static void stat_free(struct bounds *s)
{
	pq_buf_free(&s->minb);
	pq_buf_free(&s->maxb);
}

/* Make a bound own its bytes. */
static int own(struct pq_value *v, struct pq_buf *b)
{
	if (v->kind != PQ_V_BYTES)
		return 0;
	b->len = 0;
	if (pq_buf_put(b, v->bytes.p, v->bytes.len) < 0 || pq_buf_reserve(b, 1) < 0)
		return -1;
	v->bytes.p = b->p;
	return 0;
}

/* Fold bounds lo..hi into s. */
static int stat_merge(struct bounds *s, const struct pq_value *lo, const struct pq_value *hi)
{
	if (!s->has || pq_value_cmp(lo, &s->min) < 0) {
		s->min = *lo;
		if (own(&s->min, &s->minb) < 0)
			return -1;
	}
	if (!s->has || pq_value_cmp(hi, &s->max) > 0) {
		s->max = *hi;
		if (own(&s->max, &s->maxb) < 0)
			return -1;
	}
	s->has = 1;
	return 0;
}

static struct pq_value ba_value(const struct wcol *c, const struct pq_buf *heap, size_t i)
{
	struct pq_value v = {.kind = PQ_V_BYTES};
	struct ba e;
	memcpy(&e, c->work->vals + i * 8, sizeof e);
	v.bytes.p = heap->p + e.off;
	v.bytes.len = e.len;
	return v;
}

static struct pq_value dict_value(const struct wcol *c, uint32_t i)
{
	struct pq_value v = {.kind = PQ_V_BYTES};
	struct ba e;
	memcpy(&e, c->dict.vals + (size_t)i * 8, sizeof e);
	v.bytes.p = c->dict.heap.p + e.off;
	v.bytes.len = e.len;
	return v;
}

#define PAGE_NAN 2

/*
 * Bounds of the page's values: 1 with lo and hi set, 0 when there are none
 * (no values), PAGE_NAN when a NaN rules them out, -1 on no memory.  Byte
 * arrays that went through the dictionary are compared once per distinct
 * entry (idx non-NULL).
 */
static int page_bounds(struct scratch *x, struct wcol *c, const uint32_t *idx, struct pq_value *lo,
                       struct pq_value *hi)
{
	size_t n = c->work->nval;
	if (n == 0)
		return 0;
	switch (c->phys) {
	case PQ_PT_BOOLEAN: {
		int a = 1, b = 0;
		for (size_t i = 0; i < n; i++) {
			a &= c->work->vals[i];
			b |= c->work->vals[i];
		}
		lo->kind = hi->kind = PQ_V_BOOL;
		lo->b = a;
		hi->b = b;
		return 1;
	}
	case PQ_PT_INT32: {
		const int32_t *v = (const int32_t *)(void *)c->work->vals;
		int32_t a = v[0], b = v[0];
		for (size_t i = 1; i < n; i++) {
			a = v[i] < a ? v[i] : a;
			b = v[i] > b ? v[i] : b;
		}
		lo->kind = hi->kind = PQ_V_I32;
		lo->i32 = a;
		hi->i32 = b;
		return 1;
	}
	case PQ_PT_INT64: {
		const int64_t *v = (const int64_t *)(void *)c->work->vals;
		int64_t a = v[0], b = v[0];
		for (size_t i = 1; i < n; i++) {
			a = v[i] < a ? v[i] : a;
			b = v[i] > b ? v[i] : b;
		}
		lo->kind = hi->kind = PQ_V_I64;
		lo->i64 = a;
		hi->i64 = b;
		return 1;
	}
	case PQ_PT_FLOAT: {
		/*
		 * A page with NaN gets no bounds (PAGE_NAN): Parquet leaves NaN out
		 * of min/max, but DuckDB sorts it above everything and would skip
		 * pages it should read.  The sign of a zero bound is fixed on output.
		 */
		const float *v = (const float *)(void *)c->work->vals;
		int any = 0;
		float a = 0, b = 0;
		for (size_t i = 0; i < n; i++) {
			if (isnan(v[i]))
				return PAGE_NAN;
			if (!any || v[i] < a)
				a = v[i];
			if (!any || v[i] > b)
				b = v[i];
			any = 1;
		}
		lo->kind = hi->kind = PQ_V_F32;
		lo->f32 = a;
		hi->f32 = b;
		return any;
	}
	case PQ_PT_DOUBLE: {
		/*
		 * A page with NaN gets no bounds (PAGE_NAN): Parquet leaves NaN out
		 * of min/max, but DuckDB sorts it above everything and would skip
		 * pages it should read.  The sign of a zero bound is fixed on output.
		 */
		const double *v = (const double *)(void *)c->work->vals;
		int any = 0;
		double a = 0, b = 0;
		for (size_t i = 0; i < n; i++) {
			if (isnan(v[i]))
				return PAGE_NAN;
			if (!any || v[i] < a)
				a = v[i];
			if (!any || v[i] > b)
				b = v[i];
			any = 1;
		}
		lo->kind = hi->kind = PQ_V_F64;
		lo->f64 = a;
		hi->f64 = b;
		return any;
	}
	case PQ_PT_BYTE_ARRAY: {
		if (idx) {
			/* stamp[k] == page_serial: entry k was already compared on this page. */
			size_t old = x->capstamp;
			if (grow((void **)&x->stamp, &x->capstamp, c->dict.count,
			         sizeof *x->stamp) < 0)
				return -1;
			if (x->capstamp > old)
				memset(x->stamp + old, 0, (x->capstamp - old) * sizeof *x->stamp);
			if (++x->page_serial == 0) {
				memset(x->stamp, 0, x->capstamp * sizeof *x->stamp);
				x->page_serial = 1;
			}
			int first = 1;
			for (size_t i = 0; i < n; i++) {
				uint32_t k = idx[i];
				if (x->stamp[k] == x->page_serial)
					continue;
				x->stamp[k] = x->page_serial;
				struct pq_value v = dict_value(c, k);
				if (first || pq_value_cmp(&v, lo) < 0)
					*lo = v;
				if (first || pq_value_cmp(&v, hi) > 0)
					*hi = v;
				first = 0;
			}
			return 1;
		}
		*lo = *hi = ba_value(c, &c->work->heap, 0);
		for (size_t i = 1; i < n; i++) {
			struct pq_value v = ba_value(c, &c->work->heap, i);
			if (pq_value_cmp(&v, lo) < 0)
				*lo = v;
			else if (pq_value_cmp(&v, hi) > 0)
				*hi = v;
		}
		return 1;
	}
	default: {
		const pq_int128 *v = (const pq_int128 *)(void *)c->work->vals;
		pq_int128 a = v[0], b = v[0];
		for (size_t i = 1; i < n; i++) {
			a = v[i] < a ? v[i] : a;
			b = v[i] > b ? v[i] : b;
		}
		lo->kind = hi->kind = PQ_V_DEC;
		lo->dec = a;
		hi->dec = b;
		return 1;
	}
	}
}

/* The PLAIN bytes of a statistics bound (big-endian for FIXED_LEN_BYTE_ARRAY decimals). */
static size_t bound_bytes(const struct wcol *c, const struct pq_value *v, uint8_t *out,
                          const uint8_t **p)
{
	*p = out;
	switch (v->kind) {
	case PQ_V_BOOL:
		out[0] = (uint8_t)v->b;
		return 1;
	case PQ_V_I32:
		pq_store32(out, (uint32_t)v->i32);
		return 4;
	case PQ_V_I64:
		pq_store64(out, (uint64_t)v->i64);
		return 8;
	case PQ_V_F32: {
		uint32_t u;
		memcpy(&u, &v->f32, 4);
		pq_store32(out, u);
		return 4;
	}
	case PQ_V_F64: {
		uint64_t u;
		memcpy(&u, &v->f64, 8);
		pq_store64(out, u);
		return 8;
	}
	case PQ_V_BYTES:
		*p = v->bytes.p;
		return v->bytes.len;
	default: {
		unsigned __int128 u = (unsigned __int128)v->dec;
		for (int i = c->flba - 1; i >= 0; i--, u >>= 8)
			out[i] = (uint8_t)u;
		return (size_t)c->flba;
	}
	}
}

/*
 * The character at p (before end): its length, and its code point in *cp;
 * 0 when it is not well-formed UTF-8 (overlong, a surrogate, past U+10FFFF).
 */
static size_t utf8_char(const uint8_t *p, const uint8_t *end, uint32_t *cp)
{
	static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
	size_t n = *p < 0x80   ? 1
	           : *p < 0xC2 ? 0
	           : *p < 0xE0 ? 2
	           : *p < 0xF0 ? 3
	           : *p < 0xF5 ? 4
	                       : 0;
	if (n == 0 || (size_t)(end - p) < n)
		return 0;
	uint32_t v = n == 1 ? *p : *p & (0x3Fu >> (n - 1));
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3Fu);
	}
	if (v < least[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

static int utf8_valid(const uint8_t *s, size_t n)
{
	uint32_t cp;
	for (size_t i = 0, k; i < n; i += k)
		if ((k = utf8_char(s + i, s + n, &cp)) == 0)
			return 0;
	return 1;
}

/* Write code point cp as UTF-8 at p; its length. */
static size_t utf8_put(uint8_t *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = (uint8_t)cp;
		return 1;
	}
	size_t n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
	for (size_t i = n - 1; i > 0; i--, cp >>= 6)
		p[i] = (uint8_t)(0x80 | (cp & 0x3F));
	p[0] = (uint8_t)((0xF00u >> n) | cp);
	return n;
}

/* k, moved back off the continuation bytes of a character that s[k] is inside (3 at most). */
static size_t utf8_boundary(const uint8_t *s, size_t k)
{
	for (int i = 0; i < 3 && k > 0 && (s[k] & 0xC0) == 0x80; i++)
		k--;
	return k;
}

size_t pq_bound_cut_min(const uint8_t *s, size_t n, size_t max, int text)
{
	if (n <= max)
		return n;
	return text ? utf8_boundary(s, max) : max;
}

size_t pq_bound_cut_max(const uint8_t *s, size_t n, size_t max, int text, uint8_t *out)
{
	size_t k = n < max ? n : max;
	if (text) {
		size_t t = k < n ? utf8_boundary(s, k) : k;
		if (utf8_valid(s, t)) {
			memcpy(out, s, t);
			/* Code point order is byte order: a greater last character bounds them all. */
			while (t > 0) {
				size_t i = t - 1;
				uint32_t cp;
				while ((out[i] & 0xC0) == 0x80)
					i--;
				utf8_char(out + i, out + t, &cp);
				t = i;
				if (cp == 0x10FFFF)
					continue;
				cp = cp == 0xD7FF ? 0xE000 : cp + 1;
				uint8_t enc[4];
				size_t len = utf8_put(enc, cp);
				if (i + len > max)
					continue; /* U+007F, U+07FF, U+FFFF grow a byte */
				memcpy(out + i, enc, len);
				return i + len;
			}
			return 0;
		}
	}
	memcpy(out, s, k);
	while (k > 0 && out[k - 1] == 0xff)
		k--;
	if (k == 0)
		return 0;
	out[k - 1]++;
	return k;
}

/*
 * The footer form of bounds lo..hi: zeros normalised as parquet-format asks
 * (-0 for a min, +0 for a max), long strings and binaries cut to
 * STATS_MAX_BYTES (see pq_bound_cut_min() and pq_bound_cut_max(): strings
 * stay valid UTF-8; the max still bounds every value, or is left out).
 */
struct wire_bounds {
	uint8_t lob[16], hib[16];
	const uint8_t *lo, *hi;
	size_t lolen, hilen;
	int has_lo, has_hi, lo_exact, hi_exact;
	uint8_t hicut[STATS_MAX_BYTES];
};

static void wire_bounds(const struct wcol *c, struct pq_value lo, struct pq_value hi,
                        struct wire_bounds *wb)
{
	int text = c->type == PQ_STRING;
	if (lo.kind == PQ_V_F32 && lo.f32 == 0)
		lo.f32 = -0.0f;
	if (hi.kind == PQ_V_F32 && hi.f32 == 0)
		hi.f32 = 0.0f;
	if (lo.kind == PQ_V_F64 && lo.f64 == 0)
		lo.f64 = -0.0;
	if (hi.kind == PQ_V_F64 && hi.f64 == 0)
		hi.f64 = 0.0;
	wb->lolen = bound_bytes(c, &lo, wb->lob, &wb->lo);
	wb->hilen = bound_bytes(c, &hi, wb->hib, &wb->hi);
	wb->has_lo = wb->has_hi = wb->lo_exact = wb->hi_exact = 1;
	if (wb->lolen > STATS_MAX_BYTES) {
		wb->lolen = pq_bound_cut_min(wb->lo, wb->lolen, STATS_MAX_BYTES, text);
		wb->lo_exact = 0;
	}
	if (wb->hilen > STATS_MAX_BYTES) {
		wb->hilen = pq_bound_cut_max(wb->hi, wb->hilen, STATS_MAX_BYTES, text, wb->hicut);
		wb->hi = wb->hicut;
		wb->hi_exact = 0;
		wb->has_hi = wb->hilen > 0;
	}
}

/* Statistics struct fields (the caller has opened the struct). */
static void put_stats(struct thrift_w *t, const struct wcol *c, int64_t nulls, int has,
                      const struct pq_value *lo, const struct pq_value *hi)
{
	struct wire_bounds wb;
	thrift_i64(t, 3, nulls);
	if (!has)
		return;
	wire_bounds(c, *lo, *hi, &wb);
	if (wb.has_hi)
		thrift_binary(t, 5, wb.hi, wb.hilen);
	thrift_binary(t, 6, wb.lo, wb.lolen);
	if (!wb.hi_exact && wb.has_hi)
		thrift_bool(t, 7, 0);
	if (!wb.lo_exact)
		thrift_bool(t, 8, 0);
}

/* ---------------------------------------------------------- dictionary */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	return x;
}

/* Byte strings of equal length n: equal?  Short ones (symbols) without a call. */
static inline int bytes_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
	if (n > 16)
		return memcmp(a, b, n) == 0;
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
	uint64_t h = 0x243f6a8885a308d3ull ^ (n * 0x9e3779b97f4a7c15ull);
	while (n >= 8) {
		h = (h ^ pq_load64(p)) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
		p += 8;
		n -= 8;
	}
	uint64_t t = 0;
	for (size_t i = 0; i < n; i++)
		t |= (uint64_t)p[i] << (8 * i);
	h = (h ^ t) * 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 29;
	return h;
}

static void dict_reset(struct dict *d)
{
	if (d->slots && d->count)
		memset(d->slots, 0, d->nslots * sizeof *d->slots);
	d->count = 0;
	d->plain_bytes = 0;
	d->heap.len = 0;
	d->frozen = 0;
}

static void dict_free(struct dict *d)
{
	free(d->slots);
	free(d->vals);
	free(d->hash);
	pq_buf_free(&d->heap);
}

static uint64_t dict_hash_entry(const struct wcol *c, uint32_t i)
{
	const uint8_t *v = c->dict.vals + (size_t)i * c->vsize;
	switch (c->phys) {
	case PQ_PT_INT32:
	case PQ_PT_FLOAT:
		return mix64(pq_load32(v));
	case PQ_PT_INT64:
	case PQ_PT_DOUBLE:
		return mix64(pq_load64(v));
	case PQ_PT_BYTE_ARRAY:
		return c->dict.hash[i];
	default:
		return mix64(pq_load64(v) ^ mix64(pq_load64(v + 8)));
	}
}

static int dict_rehash(struct wcol *c, size_t nslots)
{
	uint32_t *s = calloc(nslots, sizeof *s);
	if (!s)
		return -1;
	free(c->dict.slots);
	c->dict.slots = s;
	c->dict.nslots = nslots;
	for (uint32_t i = 0; i < c->dict.count; i++) {
		size_t k = dict_hash_entry(c, i) & (nslots - 1);
		while (s[k])
			k = (k + 1) & (nslots - 1);
		s[k] = i + 1;
	}
	return 0;
}

/*
 * The dictionary index of page value i, adding it if new.  Returns the
 * index, or -1 when memory runs out.
 */
static int64_t dict_find(struct wcol *c, size_t i)
{
	struct dict *d = &c->dict;
	if ((size_t)d->count * 2 + 2 > d->nslots &&
	    dict_rehash(c, d->nslots ? d->nslots * 2 : 1024) < 0)
		return -1;
	size_t mask = d->nslots - 1, k;
	const uint8_t *v = c->work->vals + i * c->vsize;
	uint64_t h = 0;
	struct ba e = {0, 0};
	const uint8_t *bp = NULL;
	switch (c->phys) {
	case PQ_PT_INT32:
	case PQ_PT_FLOAT:
		h = mix64(pq_load32(v));
		break;
	case PQ_PT_INT64:
	case PQ_PT_DOUBLE:
		h = mix64(pq_load64(v));
		break;
	case PQ_PT_BYTE_ARRAY:
		memcpy(&e, v, sizeof e);
		bp = c->work->heap.p + e.off;
		h = hash_bytes(bp, e.len);
		break;
	default:
		h = mix64(pq_load64(v) ^ mix64(pq_load64(v + 8)));
		break;
	}
	for (k = h & mask; d->slots[k]; k = (k + 1) & mask) {
		uint32_t j = d->slots[k] - 1;
		if (c->phys == PQ_PT_BYTE_ARRAY) {
			struct ba f;
			memcpy(&f, d->vals + (size_t)j * 8, sizeof f);
			if (d->hash[j] == h && f.len == e.len &&
			    bytes_eq(d->heap.p + f.off, bp, e.len))
				return j;
		} else if (memcmp(d->vals + (size_t)j * c->vsize, v, c->vsize) == 0) {
			return j;
		}
	}
	void *p = d->vals;
	if (grow(&p, &d->cap, (size_t)d->count + 1, c->vsize) < 0)
		return -1;
	d->vals = p;
	if (c->phys == PQ_PT_BYTE_ARRAY) {
		void *hp = d->hash;
		if (grow(&hp, &d->hcap, (size_t)d->count + 1, sizeof *d->hash) < 0)
			return -1;
		d->hash = hp;
		struct ba f = {(uint32_t)d->heap.len, e.len};
		if (pq_buf_put(&d->heap, bp, e.len) < 0)
			return -1;
		memcpy(d->vals + (size_t)d->count * 8, &f, sizeof f);
		d->hash[d->count] = h;
		d->plain_bytes += 4 + e.len;
	} else {
		memcpy(d->vals + (size_t)d->count * c->vsize, v, c->vsize);
		d->plain_bytes += c->phys == PQ_PT_FLBA ? (size_t)c->flba : c->vsize;
	}
	d->slots[k] = d->count + 1;
	return d->count++;
}

/* Is the value at p (of vs bytes) equal to the one before it? */
static inline int same_as_previous(const uint8_t *p, size_t vs)
{
	switch (vs) {
	case 4:
		return pq_load32(p) == pq_load32(p - 4);
	case 8:
		return pq_load64(p) == pq_load64(p - 8);
	default:
		return memcmp(p, p - vs, vs) == 0;
	}
}

/*
 * Map the page's values to dictionary indices in x->idx and encode them
 * into out.  Returns 0, 1 when the dictionary would grow too large (it is
 * then frozen at its previous size and out is untouched), -1 on no memory.
 */
static int encode_dict(struct scratch *x, struct pq_writer *w, struct wcol *c, struct pq_buf *out)
{
	struct dict *d = &c->dict;
	if (d->frozen)
		return 1;
	if (grow((void **)&x->idx, &x->capidx, c->work->nval + 1, sizeof *x->idx) < 0)
		return -1;
	uint32_t before = d->count;
	size_t before_bytes = d->plain_bytes, before_heap = d->heap.len;
	size_t vs = c->vsize;
	for (size_t i = 0; i < c->work->nval; i++) {
		/* Runs of one value are common (a symbol, a batch id): skip the hash. */
		if (i > 0 && c->phys != PQ_PT_BYTE_ARRAY &&
		    same_as_previous(c->work->vals + i * vs, vs)) {
			x->idx[i] = x->idx[i - 1];
			continue;
		}
		if (i > 0 && c->phys == PQ_PT_BYTE_ARRAY) {
			struct ba a, b;
			memcpy(&a, c->work->vals + i * 8, sizeof a);
			memcpy(&b, c->work->vals + (i - 1) * 8, sizeof b);
			if (a.len == b.len &&
			    (a.off == b.off ||
			     bytes_eq(c->work->heap.p + a.off, c->work->heap.p + b.off, a.len))) {
				x->idx[i] = x->idx[i - 1];
				continue;
			}
		}
		int64_t k = dict_find(c, i);
		if (k < 0)
			return -1;
		x->idx[i] = (uint32_t)k;
		if (d->plain_bytes > w->o.dict_max_bytes || d->count >= INT32_MAX) {
			/*
			 * Forget the slots of the entries this page added: left
			 * behind, they would be found again once the dictionary
			 * is reset for the next chunk (dict_reset() clears no
			 * slots when it holds no entries), indices past its end
			 * that its dictionary page lacks.  They were placed after
			 * every older entry, so no older entry's probe runs
			 * through them.
			 */
			for (size_t j = 0; j < d->nslots; j++)
				if (d->slots[j] > before)
					d->slots[j] = 0;
			d->count = before;
			d->plain_bytes = before_bytes;
			d->heap.len = before_heap;
			d->frozen = 1;
			return 1;
		}
	}
	int bw = d->count > 1 ? pq_bit_width(d->count - 1) : 0;
	if (pq_buf_byte(out, (uint8_t)bw) < 0 ||
	    pq_rle_encode32(out, x->idx, c->work->nval, bw) < 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------- encoding */

/* PLAIN encoding of n values at vals (heap for byte arrays). */
static int encode_plain(const struct wcol *c, const uint8_t *vals, const struct pq_buf *heap,
                        size_t n, struct pq_buf *out)
{
	/* A page of nulls has no values: nothing to write, and out may have no buffer yet. */
	if (n == 0)
		return 0;
	switch (c->phys) {
	case PQ_PT_BOOLEAN: {
		if (pq_buf_reserve(out, (n + 7) / 8) < 0)
			return -1;
		uint8_t *o = out->p + out->len;
		memset(o, 0, (n + 7) / 8);
		for (size_t i = 0; i < n; i++)
			o[i >> 3] |= (uint8_t)((vals[i] & 1) << (i & 7));
		out->len += (n + 7) / 8;
		return 0;
	}
	case PQ_PT_INT32:
	case PQ_PT_FLOAT:
	case PQ_PT_INT64:
	case PQ_PT_DOUBLE:
		/* The in-memory layout is already little-endian PLAIN. */
		return pq_buf_put(out, vals, n * c->vsize);
	case PQ_PT_BYTE_ARRAY: {
		size_t total = 0;
		for (size_t i = 0; i < n; i++) {
			struct ba e;
			memcpy(&e, vals + i * 8, sizeof e);
			total += 4 + e.len;
		}
		if (pq_buf_reserve(out, total) < 0)
			return -1;
		uint8_t *o = out->p + out->len;
		for (size_t i = 0; i < n; i++) {
			struct ba e;
			memcpy(&e, vals + i * 8, sizeof e);
			pq_store32(o, e.len);
			if (e.len)
				memcpy(o + 4, heap->p + e.off, e.len);
			o += 4 + e.len;
		}
		out->len += total;
		return 0;
	}
	default: {
		size_t k = (size_t)c->flba;
		if (pq_buf_reserve(out, n * k) < 0)
			return -1;
		uint8_t *o = out->p + out->len;
		for (size_t i = 0; i < n; i++) {
			pq_int128 v;
			memcpy(&v, vals + i * sizeof v, sizeof v);
			unsigned __int128 u = (unsigned __int128)v;
			for (size_t j = k; j-- > 0; u >>= 8)
				o[j] = (uint8_t)u;
			o += k;
		}
		out->len += n * k;
		return 0;
	}
	}
}

static int page_strings(struct wcol *c, struct pq_bytes **out, size_t *cap)
{
	if (grow((void **)out, cap, c->work->nval + 1, sizeof **out) < 0)
		return -1;
	for (size_t i = 0; i < c->work->nval; i++) {
		struct ba e;
		memcpy(&e, c->work->vals + i * 8, sizeof e);
		(*out)[i].p = c->work->heap.p + e.off;
		(*out)[i].len = e.len;
	}
	return 0;
}

/* Encode the page's values in mode (other than MODE_DICT) into out; sets *enc. */
static int encode_other(struct scratch *x, struct wcol *c, int mode, struct pq_buf *out, int *enc)
{
	size_t n = c->work->nval;
	switch (mode) {
	case MODE_DBP:
		*enc = PQ_ENC_DELTA_BINARY_PACKED;
		return c->phys == PQ_PT_INT32
		           ? pq_dbp_encode32(out, (const int32_t *)(void *)c->work->vals, n)
		           : pq_dbp_encode64(out, (const int64_t *)(void *)c->work->vals, n);
	case MODE_DLBA:
	case MODE_DBA: {
		struct pq_bytes *v = NULL;
		size_t cap = 0;
		if (c->phys == PQ_PT_FLBA) {
			/* DELTA_BYTE_ARRAY of big-endian decimals: PLAIN gives the bytes. */
			struct pq_buf tmp = PQ_BUF_INIT;
			int rc = encode_plain(c, c->work->vals, &c->work->heap, n, &tmp);
			if (rc == 0 && grow((void **)&v, &cap, n + 1, sizeof *v) == 0) {
				for (size_t i = 0; i < n; i++) {
					v[i].p = tmp.p + i * (size_t)c->flba;
					v[i].len = (size_t)c->flba;
				}
				rc = pq_dba_encode(out, v, n);
			} else {
				rc = -1;
			}
			free(v);
			pq_buf_free(&tmp);
			*enc = PQ_ENC_DELTA_BYTE_ARRAY;
			return rc;
		}
		if (page_strings(c, &v, &cap) < 0)
			return -1;
		int rc = mode == MODE_DLBA ? pq_dlba_encode(out, v, n) : pq_dba_encode(out, v, n);
		free(v);
		*enc = mode == MODE_DLBA ? PQ_ENC_DELTA_LENGTH_BYTE_ARRAY : PQ_ENC_DELTA_BYTE_ARRAY;
		return rc;
	}
	case MODE_BSS: {
		size_t k = c->phys == PQ_PT_FLBA ? (size_t)c->flba : c->vsize;
		struct pq_buf tmp = PQ_BUF_INIT;
		const uint8_t *src = c->work->vals;
		if (c->phys == PQ_PT_FLBA) {
			if (encode_plain(c, c->work->vals, &c->work->heap, n, &tmp) < 0) {
				pq_buf_free(&tmp);
				return -1;
			}
			src = tmp.p;
		}
		int rc = pq_buf_reserve(out, n * k);
		if (rc == 0) {
			pq_bss_encode(out->p + out->len, src, n, k);
			out->len += n * k;
		}
		pq_buf_free(&tmp);
		*enc = PQ_ENC_BYTE_STREAM_SPLIT;
		return rc;
	}
	case MODE_RLE: {
		*enc = PQ_ENC_RLE;
		size_t at = out->len;
		if (pq_buf_u32le(out, 0) < 0)
			return -1;
		if (grow((void **)&x->idx, &x->capidx, n + 1, sizeof *x->idx) < 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			x->idx[i] = c->work->vals[i];
		if (pq_rle_encode32(out, x->idx, n, 1) < 0)
			return -1;
		pq_store32(out->p + at, (uint32_t)(out->len - at - 4));
		return 0;
	}
	default:
		*enc = PQ_ENC_PLAIN;
		return encode_plain(c, c->work->vals, &c->work->heap, n, out);
	}
}

/*
 * Is a dictionary worth trying on this page?  Not when a sample of its
 * first values is mostly distinct (prices, volumes, timestamps): building a
 * dictionary of every value of a page costs more than the other encodings.
 */
static int dict_promising(struct wcol *c)
{
	size_t ns = c->work->nval < SAMPLE_VALUES / 2 ? c->work->nval : SAMPLE_VALUES / 2;
	if (c->forced >= 0 || ns < 64)
		return 1;
	for (size_t i = 0; i < ns; i++)
		if (dict_find(c, i) < 0)
			return 1;
	int ok = c->dict.count <= ns / 2;
	if (!ok)
		dict_reset(&c->dict);
	return ok;
}

/* The size of p[0..n) after the file's compression. */
static size_t packed_size(struct scratch *x, struct pq_writer *w, const uint8_t *p, size_t n)
{
	const char *why;
	if (w->o.compression == PQ_UNCOMPRESSED)
		return n;
	x->cbuf.len = 0;
	if (pq_compress(x->codec, w->o.compression, w->o.zstd_level, p, n, &x->cbuf, &why) < 0)
		return n;
	return x->cbuf.len;
}

/*
 * The first page of a chunk: try the candidate encodings and keep the
 * smallest (after compression, when that is not clear before).  The
 * winner's bytes are left in x->vbuf.
 */
static int decide(struct scratch *x, struct pq_writer *w, struct wcol *c, int *enc, int *used_dict)
{
	*used_dict = 0;
	if (c->forced >= 0) {
		switch (c->forced) {
		case PQ_ENC_RLE_DICTIONARY:
		case PQ_ENC_PLAIN_DICTIONARY:
			c->mode = MODE_DICT;
			break;
		case PQ_ENC_DELTA_BINARY_PACKED:
			c->mode = MODE_DBP;
			break;
		case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
			c->mode = MODE_DLBA;
			break;
		case PQ_ENC_DELTA_BYTE_ARRAY:
			c->mode = MODE_DBA;
			break;
		case PQ_ENC_BYTE_STREAM_SPLIT:
			c->mode = MODE_BSS;
			break;
		case PQ_ENC_RLE:
			c->mode = MODE_RLE;
			break;
		default:
			c->mode = MODE_PLAIN;
			break;
		}
		c->fallback = MODE_PLAIN;
		if (c->mode != MODE_DICT)
			return encode_other(x, c, c->mode, &x->vbuf, enc);
		int rc = encode_dict(x, w, c, &x->vbuf);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			*enc = PQ_ENC_RLE_DICTIONARY;
			*used_dict = 1;
			return 0;
		}
		c->mode = MODE_PLAIN;
		return encode_other(x, c, MODE_PLAIN, &x->vbuf, enc);
	}
	if (c->phys == PQ_PT_BOOLEAN) {
		c->mode = c->fallback = MODE_PLAIN;
		return encode_other(x, c, MODE_PLAIN, &x->vbuf, enc);
	}
	size_t plain = 0;
	if (c->phys == PQ_PT_BYTE_ARRAY) {
		for (size_t i = 0; i < c->work->nval; i++) {
			struct ba e;
			memcpy(&e, c->work->vals + i * 8, sizeof e);
			plain += 4 + e.len;
		}
	} else {
		plain = c->work->nval * (c->phys == PQ_PT_FLBA ? (size_t)c->flba : c->vsize);
	}
	size_t dsize = SIZE_MAX;
	int rc = dict_promising(c) ? encode_dict(x, w, c, &x->vbuf) : 1;
	if (rc < 0)
		return -1;
	if (rc == 0)
		dsize = x->vbuf.len + c->dict.plain_bytes;
	int ints = c->phys == PQ_PT_INT32 || c->phys == PQ_PT_INT64;
	size_t dbp = SIZE_MAX;
	x->tbuf.len = 0;
	if (ints) {
		int e2;
		if (encode_other(x, c, MODE_DBP, &x->tbuf, &e2) < 0)
			return -1;
		dbp = x->tbuf.len;
	}
	size_t other = dbp < plain ? dbp : plain;
	if (dsize > other / 4 && w->o.compression != PQ_UNCOMPRESSED) {
		/*
		 * No clear winner: what counts is the size after compression, so
		 * compress a sample of each candidate (the dictionary as a whole,
		 * weighed by its share of the page).
		 */
		size_t ns = c->work->nval < SAMPLE_VALUES ? c->work->nval : SAMPLE_VALUES;
		x->sbuf.len = 0;
		if (encode_plain(c, c->work->vals, &c->work->heap, ns, &x->sbuf) < 0)
			return -1;
		size_t cp = packed_size(x, w, x->sbuf.p, x->sbuf.len);
		size_t cb = SIZE_MAX, cd = SIZE_MAX;
		if (ints) {
			x->sbuf.len = 0;
			if ((c->phys == PQ_PT_INT32
			         ? pq_dbp_encode32(&x->sbuf, (const int32_t *)(void *)c->work->vals,
			                           ns)
			         : pq_dbp_encode64(&x->sbuf, (const int64_t *)(void *)c->work->vals,
			                           ns)) < 0)
				return -1;
			cb = packed_size(x, w, x->sbuf.p, x->sbuf.len);
		}
		if (rc == 0) {
			size_t ci = packed_size(x, w, x->vbuf.p, x->vbuf.len);
			x->sbuf.len = 0;
			if (encode_plain(c, c->dict.vals, &c->dict.heap, c->dict.count, &x->sbuf) <
			    0)
				return -1;
			cd = (size_t)((double)(ci + packed_size(x, w, x->sbuf.p, x->sbuf.len)) *
			              (double)ns / (double)c->work->nval);
		}
		/*
		 * PLAIN has the most bytes to compress, the slowest part of
		 * writing: take it only when it comes out clearly smaller.
		 */
		size_t best = cb < cd ? cb : cd;
		if (best != SIZE_MAX && cp > best - best / 5)
			cp = SIZE_MAX;
		/*
		 * Only integers have DELTA_BINARY_PACKED (cb): for the others
		 * cb is SIZE_MAX, which PLAIN ruled out just above equals.
		 */
		c->fallback = ints && cb <= cp ? MODE_DBP : MODE_PLAIN;
		dsize = cd;
		dbp = cb;
		plain = cp;
	} else {
		c->fallback = dbp < plain ? MODE_DBP : MODE_PLAIN;
	}
	if (dsize <= dbp && dsize <= plain) {
		c->mode = MODE_DICT;
		*enc = PQ_ENC_RLE_DICTIONARY;
		*used_dict = 1;
		return 0;
	}
	dict_reset(&c->dict);
	c->mode = c->fallback;
	if (c->mode == MODE_DBP) {
		struct pq_buf t = x->vbuf;
		x->vbuf = x->tbuf;
		x->tbuf = t;
		*enc = PQ_ENC_DELTA_BINARY_PACKED;
		return 0;
	}
	x->vbuf.len = 0;
	return encode_other(x, c, MODE_PLAIN, &x->vbuf, enc);
}

/*
 * Encode levels with a u32 length prefix (V1) or without (V2).  all_max:
 * every level is max (a page without nulls), which is one run.
 */
static int put_levels(struct pq_buf *b, const uint16_t *lv, size_t n, int max, int prefix,
                      int all_max)
{
	size_t at = b->len;
	if (prefix && pq_buf_u32le(b, 0) < 0)
		return -1;
	if (all_max) {
		if (pq_buf_uleb(b, (uint64_t)n << 1) < 0 || pq_buf_byte(b, (uint8_t)max) < 0 ||
		    (max > 255 && pq_buf_byte(b, (uint8_t)(max >> 8)) < 0))
			return -1;
	} else if (pq_rle_encode16(b, lv, n, pq_bit_width((uint64_t)max)) < 0) {
		return -1;
	}
	if (prefix)
		pq_store32(b->p + at, (uint32_t)(b->len - at - 4));
	return 0;
}

/*
 * PageHeader.crc: the CRC-32 of the page's bytes as they follow the header
 * (compressed; levels included, which in a V2 page are not compressed), so
 * that a reader can tell a damaged page from a good one instead of decoding
 * whatever the damage left.  Stored as an i32 with the same bits.
 */
static void put_crc(struct thrift_w *t, const struct pq_writer *w, const uint8_t *body, size_t n)
{
	if (!w->o.no_crc)
		thrift_i32(t, 4, (int32_t)pq_crc32(0, body, n));
}

static int flush_page(struct scratch *x, struct pq_writer *w, struct wcol *c)
{
	if (c->work->nlev == 0)
		return 0;
	char nm[256];
	const char *why = NULL;
	int enc = PQ_ENC_PLAIN, used_dict = 0, rc;
	int64_t nulls = (int64_t)(c->work->nlev - c->work->nval);

	/* Levels, then values; V1 compresses both, V2 only the values. */
	int v2 = w->o.page_version == 2;
	x->lbuf.len = 0;
	size_t replen = 0;
	if (c->max_rep && put_levels(&x->lbuf, c->work->rep, c->work->nlev, c->max_rep, !v2, 0) < 0)
		return xnomem(x, w);
	replen = x->lbuf.len;
	if (c->max_def && put_levels(&x->lbuf, c->work->def, c->work->nlev, c->max_def, !v2,
	                             c->work->nval == c->work->nlev && !c->max_rep) < 0)
		return xnomem(x, w);
	size_t levlen = x->lbuf.len;

	/*
	 * V1 values go right after the levels; V2 values, and those of a
	 * chunk's first page (where candidates are compared), into vbuf.
	 */
	struct pq_buf *vb = !v2 && c->mode != MODE_UNDECIDED ? &x->lbuf : &x->vbuf;
	x->vbuf.len = 0;
	if (c->mode == MODE_UNDECIDED) {
		rc = decide(x, w, c, &enc, &used_dict);
	} else if (c->mode == MODE_DICT) {
		rc = encode_dict(x, w, c, vb);
		if (rc == 1) {
			c->mode = c->fallback;
			rc = encode_other(x, c, c->mode, vb, &enc);
		} else {
			enc = PQ_ENC_RLE_DICTIONARY;
			used_dict = rc == 0;
		}
	} else {
		rc = encode_other(x, c, c->mode, vb, &enc);
	}
	if (rc < 0)
		return xnomem(x, w);
	if (used_dict)
		c->dict_used = 1;

	struct pq_value lo = {0}, hi = {0};
	int has =
	    page_bounds(x, c, used_dict && c->phys == PQ_PT_BYTE_ARRAY ? x->idx : NULL, &lo, &hi);
	if (has < 0)
		return xnomem(x, w);
	if (has == PAGE_NAN) {
		c->c_st.nan = 1;
		has = 0;
	}
	const uint8_t *body;
	size_t unc, comp;
	int compressed = 1;
	x->cbuf.len = 0;
	if (!v2) {
		if (vb == &x->vbuf && pq_buf_put(&x->lbuf, x->vbuf.p, x->vbuf.len) < 0)
			return xnomem(x, w);
		unc = x->lbuf.len;
		if (w->o.compression == PQ_UNCOMPRESSED) {
			body = x->lbuf.p;
			comp = unc;
		} else {
			if (pq_compress(x->codec, w->o.compression, w->o.zstd_level, x->lbuf.p, unc,
			                &x->cbuf, &why) < 0)
				return xfail(x, w, EX_SOFTWARE, "column %s: %s",
				             colname(w, c, nm, sizeof nm), why);
			body = x->cbuf.p;
			comp = x->cbuf.len;
		}
	} else {
		unc = levlen + x->vbuf.len;
		if (w->o.compression != PQ_UNCOMPRESSED) {
			if (pq_compress(x->codec, w->o.compression, w->o.zstd_level, x->vbuf.p,
			                x->vbuf.len, &x->cbuf, &why) < 0)
				return xfail(x, w, EX_SOFTWARE, "column %s: %s",
				             colname(w, c, nm, sizeof nm), why);
		}
		/* V2 may store a page's values uncompressed when that is smaller. */
		if (w->o.compression == PQ_UNCOMPRESSED || x->cbuf.len >= x->vbuf.len) {
			compressed = w->o.compression != PQ_UNCOMPRESSED ? 0 : 1;
			if (pq_buf_put(&x->lbuf, x->vbuf.p, x->vbuf.len) < 0)
				return xnomem(x, w);
		} else if (pq_buf_put(&x->lbuf, x->cbuf.p, x->cbuf.len) < 0) {
			return xnomem(x, w);
		}
		body = x->lbuf.p;
		comp = x->lbuf.len;
	}
	if (unc > INT32_MAX || comp > INT32_MAX)
		return xfail(x, w, EX_SOFTWARE, "column %s: page too large",
		             colname(w, c, nm, sizeof nm));

	struct thrift_w t;
	x->hbuf.len = 0;
	thrift_w_init(&t, &x->hbuf);
	thrift_struct_begin(&t);
	thrift_i32(&t, 1, v2 ? PQ_PAGE_DATA_V2 : PQ_PAGE_DATA);
	thrift_i32(&t, 2, (int32_t)unc);
	thrift_i32(&t, 3, (int32_t)comp);
	put_crc(&t, w, body, comp);
	if (!v2) {
		thrift_struct_field(&t, 5);
		thrift_i32(&t, 1, (int32_t)c->work->nlev);
		thrift_i32(&t, 2, enc);
		thrift_i32(&t, 3, PQ_ENC_RLE);
		thrift_i32(&t, 4, PQ_ENC_RLE);
		thrift_struct_field(&t, 5);
		put_stats(&t, c, nulls, has, &lo, &hi);
		thrift_struct_end(&t);
		thrift_struct_end(&t);
	} else {
		thrift_struct_field(&t, 8);
		thrift_i32(&t, 1, (int32_t)c->work->nlev);
		thrift_i32(&t, 2, (int32_t)nulls);
		thrift_i32(&t, 3, (int32_t)c->work->page_rows);
		thrift_i32(&t, 4, enc);
		thrift_i32(&t, 5, (int32_t)(levlen - replen));
		thrift_i32(&t, 6, (int32_t)replen);
		if (!compressed)
			thrift_bool(&t, 7, 0);
		thrift_struct_field(&t, 8);
		put_stats(&t, c, nulls, has, &lo, &hi);
		thrift_struct_end(&t);
		thrift_struct_end(&t);
	}
	thrift_struct_end(&t);
	if (t.failed || pq_buf_put(&c->pages, x->hbuf.p, x->hbuf.len) < 0 ||
	    pq_buf_put(&c->pages, body, comp) < 0)
		return xnomem(x, w);

	c->c_unc += (int64_t)(x->hbuf.len + unc);
	c->c_comp += (int64_t)(x->hbuf.len + comp);
	c->c_values += (int64_t)c->work->nlev;
	c->c_nulls += nulls;
	c->c_enc |= 1u << enc;
	if (c->max_def || c->max_rep)
		c->c_enc |= 1u << PQ_ENC_RLE;
	if (has && stat_merge(&c->c_st, &lo, &hi) < 0)
		return xnomem(x, w);
	c->work->nlev = c->work->nval = 0;
	c->work->heap.len = 0;
	c->work->page_est = c->work->page_rows = 0;
	return 0;
}

/* --------------------------------------------------------- row groups */

static void chunkmeta_free(struct chunkmeta *m)
{
	free(m->min);
	free(m->max);
}

/* The dictionary page of a finished chunk, into c->dictpage (header and body). */
static int dict_page(struct scratch *x, struct pq_writer *w, struct wcol *c)
{
	const char *why;
	char nm[256];
	x->vbuf.len = 0;
	if (encode_plain(c, c->dict.vals, &c->dict.heap, c->dict.count, &x->vbuf) < 0)
		return xnomem(x, w);
	const uint8_t *body = x->vbuf.p;
	size_t unc = x->vbuf.len, comp = unc;
	if (w->o.compression != PQ_UNCOMPRESSED) {
		x->cbuf.len = 0;
		if (pq_compress(x->codec, w->o.compression, w->o.zstd_level, x->vbuf.p, unc,
		                &x->cbuf, &why) < 0)
			return xfail(x, w, EX_SOFTWARE, "column %s: %s",
			             colname(w, c, nm, sizeof nm), why);
		body = x->cbuf.p;
		comp = x->cbuf.len;
	}
	if (unc > INT32_MAX || comp > INT32_MAX)
		return xfail(x, w, EX_SOFTWARE, "column %s: dictionary too large",
		             colname(w, c, nm, sizeof nm));
	struct thrift_w t;
	x->hbuf.len = 0;
	thrift_w_init(&t, &x->hbuf);
	thrift_struct_begin(&t);
	thrift_i32(&t, 1, PQ_PAGE_DICTIONARY);
	thrift_i32(&t, 2, (int32_t)unc);
	thrift_i32(&t, 3, (int32_t)comp);
	put_crc(&t, w, body, comp);
	thrift_struct_field(&t, 7);
	thrift_i32(&t, 1, (int32_t)c->dict.count);
	thrift_i32(&t, 2, PQ_ENC_PLAIN);
	thrift_struct_end(&t);
	thrift_struct_end(&t);
	c->dictpage.len = 0;
	if (t.failed || pq_buf_put(&c->dictpage, x->hbuf.p, x->hbuf.len) < 0 ||
	    pq_buf_put(&c->dictpage, body, comp) < 0)
		return xnomem(x, w);
	c->c_unc += (int64_t)(x->hbuf.len + unc);
	c->c_comp += (int64_t)(x->hbuf.len + comp);
	c->c_enc |= 1u << PQ_ENC_PLAIN;
	return 0;
}

/* The footer's copy of a chunk's bounds. */
static int keep_bounds(struct wcol *c, struct chunkmeta *m)
{
	if (!c->c_st.has || c->c_st.nan)
		return 0;
	struct wire_bounds wb;
	wire_bounds(c, c->c_st.min, c->c_st.max, &wb);
	m->min = malloc(wb.lolen ? wb.lolen : 1);
	m->max = malloc(wb.hilen ? wb.hilen : 1);
	if (!m->min || !m->max)
		return -1;
	memcpy(m->min, wb.lo, wb.lolen);
	memcpy(m->max, wb.hi, wb.hilen);
	m->minlen = wb.lolen;
	m->maxlen = wb.hilen;
	m->has_min = 1;
	m->has_max = wb.has_hi;
	m->min_exact = wb.lo_exact;
	m->max_exact = wb.hi_exact;
	return 0;
}

/* ------------------------------------------------------------- workers */

/* Encode column c's spare page and, at the end of its chunk, its dictionary page. */
static void run_job(struct scratch *x, struct pq_writer *w, struct wcol *c)
{
	c->work = &c->spare;
	if (flush_page(x, w, c) == 0 && c->final && c->dict_used)
		dict_page(x, w, c);
}

/* A job is over: the column is free again, and its error kept.  With w->mu held. */
static void job_done(struct pq_writer *w, struct scratch *x, struct wcol *c)
{
	c->busy = 0;
	w->pending--;
	if (x->failed && !w->async_failed) {
		w->async_err = x->err;
		w->async_failed = 1;
	}
	x->failed = 0;
	pthread_cond_broadcast(&w->done);
}

/* The next queued column, or NULL.  With w->mu held. */
static struct wcol *next_job(struct pq_writer *w)
{
	if (!w->qcount)
		return NULL;
	struct wcol *c = &w->cols[w->queue[w->qhead]];
	w->qhead = (w->qhead + 1) % w->ncols;
	w->qcount--;
	return c;
}

static void *worker(void *arg)
{
	struct scratch *x = arg;
	struct pq_writer *w = x->w;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct wcol *c = next_job(w);
		if (!c) {
			if (w->stop)
				break;
			pthread_cond_wait(&w->work, &w->mu);
			continue;
		}
		pthread_mutex_unlock(&w->mu);
		run_job(x, w, c);
		pthread_mutex_lock(&w->mu);
		job_done(w, x, c);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/*
 * Start the workers (when a first page fills up); without them the caller's
 * thread does all.  Workers block every signal but those of faults, and
 * threads inherit the mask of the thread that starts them: so SIGINT, SIGTERM,
 * SIGPIPE and the like reach the program's own threads, whose handlers and
 * interrupted system calls it expects, never a worker's.
 */
static int start_workers(struct pq_writer *w)
{
	int n = w->nthreads - 1;
	w->queue = calloc((size_t)w->ncols, sizeof *w->queue);
	w->tid = calloc((size_t)n, sizeof *w->tid);
	w->wscratch = calloc((size_t)n, sizeof *w->wscratch);
	if (!w->queue || !w->tid || !w->wscratch)
		return -1;
	sigset_t block, old;
	sigfillset(&block);
	sigdelset(&block, SIGSEGV);
	sigdelset(&block, SIGBUS);
	sigdelset(&block, SIGFPE);
	sigdelset(&block, SIGILL);
	pthread_sigmask(SIG_SETMASK, &block, &old);
	for (int i = 0; i < n; i++) {
		struct scratch *x = &w->wscratch[i];
		x->w = w;
		x->own_codec = 1;
		if (!(x->codec = pq_codec_new()) ||
		    pthread_create(&w->tid[i], NULL, worker, x) != 0) {
			pq_codec_free(x->codec);
			x->codec = NULL;
			break;
		}
		w->nworkers = i + 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

static void stop_workers(struct pq_writer *w)
{
	if (!w->nworkers)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->work);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->nworkers; i++)
		pthread_join(w->tid[i], NULL);
	w->nworkers = 0;
}

/* A worker's error becomes the writer's. */
static int take_async_error(struct pq_writer *w)
{
	if (!w->failed) {
		w->err = w->async_err;
		w->failed = 1;
	}
	return -1;
}

/*
 * Hand column c's page over to be encoded (final: the last of its chunk,
 * with the dictionary page to make too) and give the column an empty one.
 * A worker encodes it; without workers this thread does, now.
 */
static int enqueue(struct pq_writer *w, struct wcol *c, int final)
{
	/* A file whose pages all fit before its end (a small one) starts no threads. */
	if (w->nthreads > 1 && !w->tid && !final && start_workers(w) < 0)
		return nomem(w);
	pthread_mutex_lock(&w->mu);
	while (c->busy)
		pthread_cond_wait(&w->done, &w->mu);
	struct page t = c->pg;
	c->pg = c->spare;
	c->spare = t;
	c->pg.nlev = c->pg.nval = c->pg.page_est = c->pg.page_rows = 0;
	c->pg.heap.len = 0;
	c->final = final;
	int failed = w->async_failed;
	if (w->nworkers && !failed) {
		c->busy = 1;
		w->pending++;
		w->queue[(w->qhead + w->qcount) % w->ncols] = (int)(c - w->cols);
		w->qcount++;
		pthread_cond_signal(&w->work);
	}
	pthread_mutex_unlock(&w->mu);
	if (failed)
		return take_async_error(w);
	if (!w->nworkers) {
		run_job(&w->mine, w, c);
		if (w->mine.failed) {
			w->mine.failed = 0;
			w->err = w->mine.err;
			w->failed = 1;
			return -1;
		}
	}
	return 0;
}

/* Wait for every page handed over, encoding queued ones on this thread too. */
static int drain(struct pq_writer *w)
{
	pthread_mutex_lock(&w->mu);
	while (w->pending) {
		struct wcol *c = next_job(w);
		if (!c) {
			pthread_cond_wait(&w->done, &w->mu);
			continue;
		}
		pthread_mutex_unlock(&w->mu);
		run_job(&w->mine, w, c);
		pthread_mutex_lock(&w->mu);
		job_done(w, &w->mine, c);
	}
	int failed = w->async_failed;
	pthread_mutex_unlock(&w->mu);
	return failed ? take_async_error(w) : 0;
}

static int end_row_group(struct pq_writer *w)
{
	if (w->rows == 0)
		return 0;
	if (w->nrg == w->caprg) {
		int cap = w->caprg ? w->caprg * 2 : 8;
		struct rgmeta *r = realloc(w->rgs, (size_t)cap * sizeof *r);
		if (!r)
			return nomem(w);
		w->rgs = r;
		w->caprg = cap;
	}
	struct rgmeta *rg = &w->rgs[w->nrg];
	memset(rg, 0, sizeof *rg);
	rg->cols = calloc((size_t)w->ncols, sizeof *rg->cols);
	if (!rg->cols)
		return nomem(w);
	w->nrg++;
	rg->num_rows = w->rows;
	/* Every column's last page and dictionary, encoded in parallel; then the writing. */
	for (int i = 0; i < w->ncols; i++)
		if (enqueue(w, &w->cols[i], 1) < 0)
			return -1;
	if (drain(w) < 0)
		return -1;
	rg->file_offset = (int64_t)w->pos;
	for (int i = 0; i < w->ncols; i++) {
		struct wcol *c = &w->cols[i];
		struct chunkmeta *m = &rg->cols[i];
		m->dict_off = -1;
		if (c->dict_used) {
			m->dict_off = (int64_t)w->pos;
			if (write_all(w, c->dictpage.p, c->dictpage.len) < 0)
				return -1;
		}
		m->data_off = (int64_t)w->pos;
		if (write_all(w, c->pages.p, c->pages.len) < 0)
			return -1;
		m->total_unc = c->c_unc;
		m->total_comp = c->c_comp;
		m->num_values = c->c_values;
		m->null_count = c->c_nulls;
		m->encodings = c->c_enc;
		if (keep_bounds(c, m) < 0)
			return nomem(w);
		rg->total_unc += c->c_unc;
		rg->total_comp += c->c_comp;
		c->f_values += c->c_values;
		c->f_nulls += c->c_nulls;
		if (c->c_st.has && stat_merge(&c->f_st, &c->c_st.min, &c->c_st.max) < 0)
			return nomem(w);
		c->f_st.nan |= c->c_st.nan;
		/* The next chunk chooses its encodings afresh. */
		c->chosen = mode_encoding(c->dict_used ? MODE_DICT : c->mode);
		c->mode = MODE_UNDECIDED;
		c->dict_used = 0;
		dict_reset(&c->dict);
		c->pages.len = 0;
		c->dictpage.len = 0;
		c->c_values = c->c_nulls = c->c_unc = c->c_comp = 0;
		c->c_enc = 0;
		stat_reset(&c->c_st);
		c->rows = 0;
	}
	w->total_rows += w->rows;
	w->rows = 0;
	return 0;
}

/* ---------------------------------------------------------------- open */

static int setup_columns(struct pq_writer *w)
{
	struct pq_schema *s = w->s;
	w->ncols = s->nleaves;
	w->cols = calloc((size_t)w->ncols, sizeof *w->cols);
	w->leaf_lo = calloc((size_t)s->nf, sizeof(int));
	w->leaf_hi = calloc((size_t)s->nf, sizeof(int));
	if (!w->cols || !w->leaf_lo || !w->leaf_hi)
		return -1;
	for (int i = 0; i < s->nf; i++) {
		w->leaf_lo[i] = INT32_MAX;
		w->leaf_hi[i] = -1;
	}
	for (int l = 0; l < s->nleaves; l++) {
		struct pq_leaf *lf = &s->leaves[l];
		struct wcol *c = &w->cols[l];
		const struct pq_field *f = &s->f[lf->field].pub;
		c->field = lf->field;
		c->phys = lf->phys;
		c->flba = lf->type_length;
		c->type = f->type;
		c->precision = f->precision;
		c->dec_limit = 1;
		for (int k = 0; c->type == PQ_DECIMAL && k < f->precision; k++)
			c->dec_limit *= 10;
		c->max_def = lf->max_def;
		c->max_rep = lf->max_rep;
		c->flat = f->parent == PQ_ROOT;
		c->forced = PQ_ENC_AUTO;
		c->chosen = PQ_ENC_AUTO;
		c->vsize = value_size(c->phys);
		for (int k = lf->field; k >= 0; k = s->f[k].pub.parent) {
			if (w->leaf_lo[k] > l)
				w->leaf_lo[k] = l;
			if (w->leaf_hi[k] < l)
				w->leaf_hi[k] = l;
		}
	}
	return 0;
}

struct pq_writer *pq_writer_open_fd(int fd, const char *name, const struct pq_schema *s,
                                    const struct pq_write_options *o, struct err_msg *e)
{
	struct pq_write_options def;
	if (!o) {
		pq_write_options_init(&def);
		o = &def;
	}
	if (o->compression != PQ_ZSTD && o->compression != PQ_SNAPPY && o->compression != PQ_GZIP &&
	    o->compression != PQ_UNCOMPRESSED) {
		err_set(e, EX_SOFTWARE, "%s: unsupported compression codec %d", name,
		        o->compression);
		return NULL;
	}
	if (o->page_version != 1 && o->page_version != 2) {
		err_set(e, EX_SOFTWARE, "%s: data page version must be 1 or 2", name);
		return NULL;
	}
	struct pq_writer *w = calloc(1, sizeof *w);
	if (!w) {
		err_set(e, EX_SOFTWARE, "%s: out of memory", name);
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->done, NULL);
	w->fd = fd;
	w->o = *o;
	w->nthreads = o->threads > 0 ? o->threads : default_threads();
	if (w->nthreads > 64)
		w->nthreads = 64;
	if (w->o.row_group_rows <= 0)
		w->o.row_group_rows = 1 << 20;
	if (w->o.page_bytes == 0)
		w->o.page_bytes = 1 << 20;
	if (w->o.page_bytes > MAX_PAGE_BYTES)
		w->o.page_bytes = MAX_PAGE_BYTES;
	if (w->o.dict_max_bytes == 0)
		w->o.dict_max_bytes = 1 << 20;
	if (w->o.dict_max_bytes > MAX_DICT_BYTES)
		w->o.dict_max_bytes = MAX_DICT_BYTES;
	w->name = strdup(name);
	w->s = pq_schema_copy(s);
	if (!w->name || !w->s)
		goto nomem;
	if (pq_schema_layout(w->s, e) < 0) {
		char msg[ERR_MSG_MAX];
		snprintf(msg, sizeof msg, "%s", e->text);
		err_set(e, EX_SOFTWARE, "%s: %s", name, msg);
		pq_writer_free(w);
		return NULL;
	}
	if (setup_columns(w) < 0)
		goto nomem;
	if (o->nkv) {
		w->kv = calloc(o->nkv, sizeof *w->kv);
		if (!w->kv)
			goto nomem;
		for (size_t i = 0; i < o->nkv; i++) {
			w->kv[i].key = strdup(o->kv[i].key);
			w->kv[i].value = o->kv[i].value ? strdup(o->kv[i].value) : NULL;
			w->o.nkv = i + 1;
			if (!w->kv[i].key || (o->kv[i].value && !w->kv[i].value))
				goto nomem;
		}
	}
	w->o.kv = w->kv;
	w->codec = o->codec;
	if (!w->codec) {
		w->codec = pq_codec_new();
		w->own_codec = 1;
		if (!w->codec)
			goto nomem;
	}
	w->mine.w = w;
	w->mine.codec = w->codec;
	if (write_all(w, "PAR1", 4) < 0) {
		*e = w->err;
		pq_writer_free(w);
		return NULL;
	}
	return w;
nomem:
	err_set(e, EX_SOFTWARE, "%s: out of memory", name);
	pq_writer_free(w);
	return NULL;
}

struct pq_writer *pq_writer_open(const char *path, const struct pq_schema *s,
                                 const struct pq_write_options *o, struct err_msg *e)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err_set(e, EX_IOERR, "%s: cannot create: %s", path, strerror(errno));
		return NULL;
	}
	struct pq_writer *w = pq_writer_open_fd(fd, path, s, o, e);
	if (!w) {
		close(fd);
		return NULL;
	}
	w->own_fd = 1;
	return w;
}

int pq_writer_chunk_encoding(const struct pq_writer *w, int leaf)
{
	if (leaf < 0 || leaf >= w->ncols)
		return PQ_ENC_AUTO;
	return w->cols[leaf].chosen;
}

int pq_writer_set_encoding(struct pq_writer *w, int leaf, int encoding)
{
	if (w->failed)
		return -1;
	if (leaf < 0 || leaf >= w->ncols)
		return fail(w, EX_SOFTWARE, "no leaf column %d", leaf);
	struct wcol *c = &w->cols[leaf];
	int p = c->phys, ok;
	switch (encoding) {
	case PQ_ENC_AUTO:
	case PQ_ENC_PLAIN:
		ok = 1;
		break;
	case PQ_ENC_RLE_DICTIONARY:
	case PQ_ENC_PLAIN_DICTIONARY:
		ok = p != PQ_PT_BOOLEAN;
		break;
	case PQ_ENC_DELTA_BINARY_PACKED:
		ok = p == PQ_PT_INT32 || p == PQ_PT_INT64;
		break;
	case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
		ok = p == PQ_PT_BYTE_ARRAY;
		break;
	case PQ_ENC_DELTA_BYTE_ARRAY:
		ok = p == PQ_PT_BYTE_ARRAY || p == PQ_PT_FLBA;
		break;
	case PQ_ENC_BYTE_STREAM_SPLIT:
		ok = p == PQ_PT_FLOAT || p == PQ_PT_DOUBLE || p == PQ_PT_INT32 ||
		     p == PQ_PT_INT64 || p == PQ_PT_FLBA;
		break;
	case PQ_ENC_RLE:
		ok = p == PQ_PT_BOOLEAN;
		break;
	default:
		ok = 0;
		break;
	}
	char nm[256];
	if (!ok)
		return fail(w, EX_SOFTWARE, "column %s: encoding %s does not suit a %s column",
		            colname(w, c, nm, sizeof nm),
		            pq_encoding_name(encoding) ? pq_encoding_name(encoding) : "?",
		            pq_type_name(c->type));
	if (c->pg.nlev || c->c_values || w->total_rows)
		return fail(w, EX_SOFTWARE, "column %s: encoding set after the first value",
		            colname(w, c, nm, sizeof nm));
	c->forced = encoding;
	return 0;
}

const struct err_msg *pq_writer_error(const struct pq_writer *w)
{
	return &w->err;
}

/* ---------------------------------------------------------- appending */

/* Start a level entry at repetition level r: a new row may first close the page. */
static inline int begin_entry(struct pq_writer *w, struct wcol *c, int r)
{
	if (r == 0) {
		if ((c->pg.page_est >= w->o.page_bytes || c->pg.nlev >= MAX_PAGE_ENTRIES) &&
		    enqueue(w, c, 0) < 0)
			return -1;
		c->pg.page_rows++;
		c->rows++;
	}
	if (room_lev(c, 1) < 0)
		return nomem(w);
	return 0;
}

static inline void put_level(struct wcol *c, int r, int d)
{
	if (c->max_def)
		c->pg.def[c->pg.nlev] = (uint16_t)d;
	if (c->max_rep)
		c->pg.rep[c->pg.nlev] = (uint16_t)r;
	c->pg.nlev++;
}

static int check_range(struct pq_writer *w, struct wcol *c, pq_int128 v)
{
	char nm[256];
	switch (c->type) {
	case PQ_BYTE:
		if (v < INT8_MIN || v > INT8_MAX)
			return fail(w, EX_DATAERR, "column %s: %lld out of range for byte",
			            colname(w, c, nm, sizeof nm), (long long)v);
		return 0;
	case PQ_SHORT:
		if (v < INT16_MIN || v > INT16_MAX)
			return fail(w, EX_DATAERR, "column %s: %lld out of range for short",
			            colname(w, c, nm, sizeof nm), (long long)v);
		return 0;
	case PQ_DECIMAL:
		if (v <= -c->dec_limit || v >= c->dec_limit)
			return fail(w, EX_DATAERR, "column %s: value has more than %d digits",
			            colname(w, c, nm, sizeof nm), c->precision);
		return 0;
	default:
		return 0;
	}
}

/* Store a value already known to suit the column's storage. */
static inline int add_i32(struct pq_writer *w, struct wcol *c, int32_t v)
{
	if (room_val(c, 1) < 0)
		return nomem(w);
	((int32_t *)(void *)c->pg.vals)[c->pg.nval++] = v;
	c->pg.page_est += 4;
	return 0;
}

static inline int add_i64(struct pq_writer *w, struct wcol *c, int64_t v)
{
	if (room_val(c, 1) < 0)
		return nomem(w);
	((int64_t *)(void *)c->pg.vals)[c->pg.nval++] = v;
	c->pg.page_est += 8;
	return 0;
}

static int add_dec(struct pq_writer *w, struct wcol *c, pq_int128 v)
{
	if (check_range(w, c, v) < 0)
		return -1;
	if (c->phys == PQ_PT_INT32)
		return add_i32(w, c, (int32_t)v);
	if (c->phys == PQ_PT_INT64)
		return add_i64(w, c, (int64_t)v);
	if (room_val(c, 1) < 0)
		return nomem(w);
	memcpy(c->pg.vals + c->pg.nval * sizeof v, &v, sizeof v);
	c->pg.nval++;
	c->pg.page_est += (size_t)c->flba;
	return 0;
}

static int add_bytes(struct pq_writer *w, struct wcol *c, const void *p, size_t n)
{
	char nm[256];
	if (n > MAX_VALUE_BYTES)
		return fail(w, EX_DATAERR, "column %s: value of %zu bytes is too long",
		            colname(w, c, nm, sizeof nm), n);
	if (room_val(c, 1) < 0)
		return nomem(w);
	struct ba e = {(uint32_t)c->pg.heap.len, (uint32_t)n}, prev;
	int shared = 0;
	/*
	 * A value equal to the page's previous one (strings come in runs: a
	 * symbol, an interval) shares its bytes in the heap; every reader of
	 * the heap goes through the entries' offsets.
	 */
	if (c->pg.nval > 0 && n > 0) {
		memcpy(&prev, c->pg.vals + (c->pg.nval - 1) * 8, sizeof prev);
		shared = prev.len == n && bytes_eq(c->pg.heap.p + prev.off, p, n);
		if (shared)
			e.off = prev.off;
	}
	if (!shared) {
		if (pq_buf_reserve(&c->pg.heap, n) < 0)
			return nomem(w);
		if (n)
			memcpy(c->pg.heap.p + c->pg.heap.len, p, n);
		c->pg.heap.len += n;
	}
	memcpy(c->pg.vals + c->pg.nval * 8, &e, sizeof e);
	c->pg.nval++;
	c->pg.page_est += 4 + n;
	return 0;
}

/* The column of a put/write call, after the checks common to all of them. */
static struct wcol *flat_col(struct pq_writer *w, int leaf, int kind)
{
	char nm[256];
	if (w->failed)
		return NULL;
	if (w->closed) {
		fail(w, EX_SOFTWARE, "writer already closed");
		return NULL;
	}
	if (leaf < 0 || leaf >= w->ncols) {
		fail(w, EX_SOFTWARE, "no leaf column %d", leaf);
		return NULL;
	}
	struct wcol *c = &w->cols[leaf];
	if (!c->flat) {
		fail(w, EX_SOFTWARE, "column %s is nested: write whole rows",
		     colname(w, c, nm, sizeof nm));
		return NULL;
	}
	enum pq_vkind want = pq_type_kind(c->type);
	if (kind >= 0 && kind != (int)want &&
	    !(kind == PQ_V_I64 && c->type == PQ_DECIMAL && c->precision <= 18)) {
		fail(w, EX_SOFTWARE, "column %s is %s: wrong kind of value",
		     colname(w, c, nm, sizeof nm), pq_type_name(c->type));
		return NULL;
	}
	return c;
}

#define PUT_BEGIN(kind)                                                                            \
	struct wcol *c = flat_col(w, leaf, kind);                                                  \
	if (!c || begin_entry(w, c, 0) < 0)                                                        \
		return -1;                                                                         \
	put_level(c, 0, c->max_def)

int pq_writer_put_null(struct pq_writer *w, int leaf)
{
	char nm[256];
	struct wcol *c = flat_col(w, leaf, -1);
	if (!c)
		return -1;
	if (!c->max_def)
		return fail(w, EX_DATAERR, "column %s: null in a required column",
		            colname(w, c, nm, sizeof nm));
	if (begin_entry(w, c, 0) < 0)
		return -1;
	put_level(c, 0, 0);
	return 0;
}

int pq_writer_put_bool(struct pq_writer *w, int leaf, int v)
{
	PUT_BEGIN(PQ_V_BOOL);
	if (room_val(c, 1) < 0)
		return nomem(w);
	c->pg.vals[c->pg.nval++] = v ? 1 : 0;
	c->pg.page_est += 1;
	return 0;
}

int pq_writer_put_i32(struct pq_writer *w, int leaf, int32_t v)
{
	PUT_BEGIN(PQ_V_I32);
	if (check_range(w, c, v) < 0)
		return -1;
	return add_i32(w, c, v);
}

int pq_writer_put_i64(struct pq_writer *w, int leaf, int64_t v)
{
	PUT_BEGIN(PQ_V_I64);
	if (c->type == PQ_DECIMAL)
		return add_dec(w, c, v);
	return add_i64(w, c, v);
}

int pq_writer_put_f32(struct pq_writer *w, int leaf, float v)
{
	PUT_BEGIN(PQ_V_F32);
	if (room_val(c, 1) < 0)
		return nomem(w);
	((float *)(void *)c->pg.vals)[c->pg.nval++] = v;
	c->pg.page_est += 4;
	return 0;
}

int pq_writer_put_f64(struct pq_writer *w, int leaf, double v)
{
	PUT_BEGIN(PQ_V_F64);
	if (room_val(c, 1) < 0)
		return nomem(w);
	((double *)(void *)c->pg.vals)[c->pg.nval++] = v;
	c->pg.page_est += 8;
	return 0;
}

int pq_writer_put_bytes(struct pq_writer *w, int leaf, const void *p, size_t n)
{
	PUT_BEGIN(PQ_V_BYTES);
	return add_bytes(w, c, p, n);
}

int pq_writer_put_dec(struct pq_writer *w, int leaf, pq_int128 v)
{
	PUT_BEGIN(PQ_V_DEC);
	return add_dec(w, c, v);
}

int pq_writer_end_row(struct pq_writer *w)
{
	char a[256], b[256];
	if (w->failed)
		return -1;
	if (w->closed)
		return fail(w, EX_SOFTWARE, "writer already closed");
	int64_t rows = w->cols[0].rows;
	for (int i = 1; i < w->ncols; i++)
		if (w->cols[i].rows != rows)
			return fail(
			    w, EX_SOFTWARE, "column %s has %lld rows but column %s has %lld",
			    colname(w, &w->cols[0], a, sizeof a), (long long)rows,
			    colname(w, &w->cols[i], b, sizeof b), (long long)w->cols[i].rows);
	w->rows = rows;
	if (rows >= w->o.row_group_rows)
		return end_row_group(w);
	return 0;
}

/* Values of the given width that still fit the page (at least one when it is empty). */
static size_t page_room(const struct pq_writer *w, const struct wcol *c, size_t width)
{
	if (c->pg.nlev >= MAX_PAGE_ENTRIES || (c->pg.nlev && c->pg.page_est >= w->o.page_bytes))
		return 0;
	size_t k =
	    c->pg.page_est < w->o.page_bytes ? (w->o.page_bytes - c->pg.page_est) / width : 0;
	if (k > MAX_PAGE_ENTRIES - c->pg.nlev)
		k = MAX_PAGE_ENTRIES - c->pg.nlev;
	return k ? k : 1;
}

/*
 * A batch without nulls for a column whose storage is the caller's layout
 * (width bytes a value): straight copies, page by page, and the levels
 * filled in (every value present).
 */
static int copy_batch(struct pq_writer *w, struct wcol *c, const void *v, size_t n, size_t width)
{
	const uint8_t *src = v;
	for (size_t i = 0; i < n;) {
		size_t k = page_room(w, c, width);
		if (k == 0) {
			if (enqueue(w, c, 0) < 0)
				return -1;
			k = page_room(w, c, width);
		}
		if (k > n - i)
			k = n - i;
		if (room_val(c, k) < 0 || room_lev(c, k) < 0)
			return nomem(w);
		memcpy(c->pg.vals + c->pg.nval * width, src + i * width, k * width);
		for (size_t j = 0; c->max_def && j < k; j++)
			c->pg.def[c->pg.nlev + j] = (uint16_t)c->max_def;
		c->pg.nval += k;
		c->pg.nlev += k;
		c->pg.page_est += k * width;
		c->pg.page_rows += k;
		c->rows += (int64_t)k;
		i += k;
	}
	return 0;
}

/*
 * The batch loop: fill the page up to page_bytes at a time.  STORE(j, i)
 * stores value i of the batch at page slot j.
 */
#define WRITE_BATCH(kind, width, STORE)                                                            \
	char nm_[256];                                                                             \
	struct wcol *c = flat_col(w, leaf, kind);                                                  \
	if (!c)                                                                                    \
		return -1;                                                                         \
	for (size_t i = 0; i < n;) {                                                               \
		size_t k = page_room(w, c, width);                                                 \
		if (k == 0) {                                                                      \
			if (enqueue(w, c, 0) < 0)                                                  \
				return -1;                                                         \
			k = page_room(w, c, width);                                                \
		}                                                                                  \
		if (k > n - i)                                                                     \
			k = n - i;                                                                 \
		if (room_lev(c, k) < 0 || room_val(c, k) < 0)                                      \
			return nomem(w);                                                           \
		for (size_t j = 0; j < k; j++, i++) {                                              \
			if (valid && !valid[i]) {                                                  \
				if (!c->max_def)                                                   \
					return fail(w, EX_DATAERR,                                 \
					            "column %s: null in a required column",        \
					            colname(w, c, nm_, sizeof nm_));               \
				c->pg.def[c->pg.nlev++] = 0;                                       \
				continue;                                                          \
			}                                                                          \
			if (c->max_def)                                                            \
				c->pg.def[c->pg.nlev] = 1;                                         \
			c->pg.nlev++;                                                              \
			STORE;                                                                     \
		}                                                                                  \
		c->pg.page_rows += k;                                                              \
		c->rows += (int64_t)k;                                                             \
	}                                                                                          \
	return 0

int pq_writer_write_bool(struct pq_writer *w, int leaf, const uint8_t *v, const uint8_t *valid,
                         size_t n)
{
	WRITE_BATCH(PQ_V_BOOL, 1, (c->pg.vals[c->pg.nval++] = v[i] ? 1 : 0, c->pg.page_est += 1));
}

int pq_writer_write_i32(struct pq_writer *w, int leaf, const int32_t *v, const uint8_t *valid,
                        size_t n)
{
	struct wcol *d = flat_col(w, leaf, PQ_V_I32);
	if (!d)
		return -1;
	if (!valid && (d->type == PQ_INT || d->type == PQ_DATE))
		return copy_batch(w, d, v, n, 4);
	WRITE_BATCH(PQ_V_I32, 4, if (check_range(w, c, v[i]) < 0) return -1;
	            ((int32_t *)(void *)c->pg.vals)[c->pg.nval++] = v[i]; c->pg.page_est += 4);
}

int pq_writer_write_i64(struct pq_writer *w, int leaf, const int64_t *v, const uint8_t *valid,
                        size_t n)
{
	struct wcol *d = flat_col(w, leaf, PQ_V_I64);
	if (!d)
		return -1;
	if (d->type == PQ_DECIMAL && (valid || d->phys != PQ_PT_INT64)) {
		WRITE_BATCH(PQ_V_I64, 8, if (add_dec(w, c, v[i]) < 0) return -1);
	}
	if (!valid) {
		if (d->type == PQ_DECIMAL) {
			/* Below 19 digits the limit fits an int64. */
			int64_t lim = (int64_t)d->dec_limit;
			for (size_t i = 0; i < n; i++)
				if (v[i] <= -lim || v[i] >= lim)
					return check_range(w, d, v[i]);
		}
		return copy_batch(w, d, v, n, 8);
	}
	WRITE_BATCH(PQ_V_I64, 8,
	            (((int64_t *)(void *)c->pg.vals)[c->pg.nval++] = v[i], c->pg.page_est += 8));
}

int pq_writer_write_f32(struct pq_writer *w, int leaf, const float *v, const uint8_t *valid,
                        size_t n)
{
	struct wcol *d = flat_col(w, leaf, PQ_V_F32);
	if (d && !valid)
		return copy_batch(w, d, v, n, 4);
	WRITE_BATCH(PQ_V_F32, 4,
	            (((float *)(void *)c->pg.vals)[c->pg.nval++] = v[i], c->pg.page_est += 4));
}

int pq_writer_write_f64(struct pq_writer *w, int leaf, const double *v, const uint8_t *valid,
                        size_t n)
{
	struct wcol *d = flat_col(w, leaf, PQ_V_F64);
	if (d && !valid)
		return copy_batch(w, d, v, n, 8);
	WRITE_BATCH(PQ_V_F64, 8,
	            (((double *)(void *)c->pg.vals)[c->pg.nval++] = v[i], c->pg.page_est += 8));
}

/*
 * The previous value stored on a byte array column's page, stored again
 * (room for it already made).
 */
static inline void repeat_bytes(struct wcol *c)
{
	struct ba e;
	memcpy(&e, c->pg.vals + (c->pg.nval - 1) * 8, sizeof e);
	memcpy(c->pg.vals + c->pg.nval * 8, &e, sizeof e);
	c->pg.nval++;
	c->pg.page_est += 4 + e.len;
}

int pq_writer_write_bytes(struct pq_writer *w, int leaf, const struct pq_bytes *v,
                          const uint8_t *valid, size_t n)
{
	/*
	 * A value at the same place as the one stored before it (callers pass
	 * repeated strings that way) is that value again: no compare, no copy.
	 */
	const uint8_t *last = NULL;
	size_t last_len = 0;
	WRITE_BATCH(PQ_V_BYTES, 16,
	            if (last && v[i].p == last && v[i].len == last_len && c->pg.nval > 0)
	                repeat_bytes(c);
	            else if (add_bytes(w, c, v[i].p, v[i].len) < 0) return -1; last = v[i].p;
	            last_len = v[i].len);
}

int pq_writer_write_dec(struct pq_writer *w, int leaf, const pq_int128 *v, const uint8_t *valid,
                        size_t n)
{
	WRITE_BATCH(PQ_V_DEC, 8, if (add_dec(w, c, v[i]) < 0) return -1);
}

/* ------------------------------------------------------------ shredding */

/* Give every leaf below field the entry (r, d) with no value. */
static int shred_null(struct pq_writer *w, int field, int r, int d)
{
	for (int l = w->leaf_lo[field]; l <= w->leaf_hi[field]; l++) {
		struct wcol *c = &w->cols[l];
		if (begin_entry(w, c, r) < 0)
			return -1;
		put_level(c, r, d);
	}
	return 0;
}

static int shred_leaf(struct pq_writer *w, struct wcol *c, const struct pq_value *v)
{
	switch (c->type) {
	case PQ_BOOLEAN:
		if (room_val(c, 1) < 0)
			return nomem(w);
		c->pg.vals[c->pg.nval++] = v->b ? 1 : 0;
		c->pg.page_est += 1;
		return 0;
	case PQ_BYTE:
	case PQ_SHORT:
	case PQ_INT:
	case PQ_DATE:
		if (check_range(w, c, v->i32) < 0)
			return -1;
		return add_i32(w, c, v->i32);
	case PQ_LONG:
	case PQ_TIMESTAMP:
	case PQ_TIMESTAMP_NTZ:
		return add_i64(w, c, v->i64);
	case PQ_FLOAT:
		if (room_val(c, 1) < 0)
			return nomem(w);
		((float *)(void *)c->pg.vals)[c->pg.nval++] = v->f32;
		c->pg.page_est += 4;
		return 0;
	case PQ_DOUBLE:
		if (room_val(c, 1) < 0)
			return nomem(w);
		((double *)(void *)c->pg.vals)[c->pg.nval++] = v->f64;
		c->pg.page_est += 8;
		return 0;
	case PQ_STRING:
	case PQ_BINARY:
		return add_bytes(w, c, v->bytes.p, v->bytes.len);
	default:
		return add_dec(w, c, v->kind == PQ_V_I64 ? v->i64 : v->dec);
	}
}

static int shred(struct pq_writer *w, int field, const struct pq_value *v, int r, int d)
{
	char nm[256];
	const struct pq_fieldx *x = &w->s->f[field];
	const struct pq_field *f = &x->pub;
	if (v->kind == PQ_V_NULL) {
		if (!f->optional) {
			pq_schema_path(w->s, field, nm, sizeof nm);
			return fail(w, EX_DATAERR, "field %s: null in a required field", nm);
		}
		return shred_null(w, field, r, d);
	}
	enum pq_vkind want = pq_type_kind(f->type);
	if (v->kind != want &&
	    !(v->kind == PQ_V_I64 && f->type == PQ_DECIMAL && f->precision <= 18)) {
		pq_schema_path(w->s, field, nm, sizeof nm);
		return fail(w, EX_SOFTWARE, "field %s is %s: wrong kind of value", nm,
		            pq_type_name(f->type));
	}
	int dd = x->dl;
	switch (f->type) {
	case PQ_STRUCT:
		if (v->n != (uint32_t)f->nchildren) {
			pq_schema_path(w->s, field, nm, sizeof nm);
			return fail(w, EX_SOFTWARE, "field %s: struct has %u values for %d fields",
			            nm, v->n, f->nchildren);
		}
		for (int k = 0; k < f->nchildren; k++)
			if (shred(w, f->children[k], &v->items[k], r, dd) < 0)
				return -1;
		return 0;
	case PQ_LIST:
		if (v->n == 0)
			return shred_null(w, field, r, dd);
		for (uint32_t k = 0; k < v->n; k++)
			if (shred(w, f->children[0], &v->items[k], k ? x->rl : r, x->idl) < 0)
				return -1;
		return 0;
	case PQ_MAP:
		if (v->n == 0)
			return shred_null(w, field, r, dd);
		for (uint32_t k = 0; k < v->n; k++) {
			int rr = k ? x->rl : r;
			if (v->items[2 * k].kind == PQ_V_NULL) {
				pq_schema_path(w->s, field, nm, sizeof nm);
				return fail(w, EX_DATAERR, "field %s: null map key", nm);
			}
			if (shred(w, f->children[0], &v->items[2 * k], rr, x->idl) < 0 ||
			    shred(w, f->children[1], &v->items[2 * k + 1], rr, x->idl) < 0)
				return -1;
		}
		return 0;
	default: {
		struct wcol *c = &w->cols[f->leaf];
		if (begin_entry(w, c, r) < 0)
			return -1;
		put_level(c, r, dd);
		return shred_leaf(w, c, v);
	}
	}
}

int pq_writer_write_row(struct pq_writer *w, const struct pq_value *row)
{
	if (w->failed)
		return -1;
	if (w->closed)
		return fail(w, EX_SOFTWARE, "writer already closed");
	const struct pq_field *root = &w->s->f[PQ_ROOT].pub;
	if (row->kind != PQ_V_STRUCT || row->n != (uint32_t)root->nchildren)
		return fail(w, EX_SOFTWARE, "a row must be a struct of %d columns",
		            root->nchildren);
	for (int k = 0; k < root->nchildren; k++)
		if (shred(w, root->children[k], &row->items[k], 0, 0) < 0)
			return -1;
	return pq_writer_end_row(w);
}

/* -------------------------------------------------------------- footer */

static void put_logical_leaf(struct thrift_w *t, const struct wcol *c, int prec, int scale,
                             int field_id)
{
	int conv = -1;
	switch (c->type) {
	case PQ_BYTE:
		conv = PQ_CT_INT_8;
		break;
	case PQ_SHORT:
		conv = PQ_CT_INT_16;
		break;
	case PQ_INT:
		conv = PQ_CT_INT_32;
		break;
	case PQ_LONG:
		conv = PQ_CT_INT_64;
		break;
	case PQ_STRING:
		conv = PQ_CT_UTF8;
		break;
	case PQ_DATE:
		conv = PQ_CT_DATE;
		break;
	case PQ_TIMESTAMP:
		conv = PQ_CT_TIMESTAMP_MICROS;
		break;
	case PQ_DECIMAL:
		conv = PQ_CT_DECIMAL;
		break;
	default:
		break;
	}
	if (conv >= 0)
		thrift_i32(t, 6, conv);
	if (c->type == PQ_DECIMAL) {
		thrift_i32(t, 7, scale);
		thrift_i32(t, 8, prec);
	}
	if (field_id >= 0)
		thrift_i32(t, 9, field_id);
	switch (c->type) {
	case PQ_BYTE:
	case PQ_SHORT:
	case PQ_INT:
	case PQ_LONG:
		thrift_struct_field(t, 10);
		thrift_struct_field(t, PQ_LT_INTEGER);
		thrift_i8(t, 1,
		          (int8_t)(c->type == PQ_BYTE    ? 8
		                   : c->type == PQ_SHORT ? 16
		                   : c->type == PQ_INT   ? 32
		                                         : 64));
		thrift_bool(t, 2, 1);
		thrift_struct_end(t);
		thrift_struct_end(t);
		break;
	case PQ_STRING:
	case PQ_DATE:
		thrift_struct_field(t, 10);
		thrift_struct_field(t, c->type == PQ_STRING ? PQ_LT_STRING : PQ_LT_DATE);
		thrift_struct_end(t);
		thrift_struct_end(t);
		break;
	case PQ_TIMESTAMP:
	case PQ_TIMESTAMP_NTZ:
		thrift_struct_field(t, 10);
		thrift_struct_field(t, PQ_LT_TIMESTAMP);
		thrift_bool(t, 1, c->type == PQ_TIMESTAMP);
		thrift_struct_field(t, 2);
		thrift_struct_field(t, 2); /* MICROS */
		thrift_struct_end(t);
		thrift_struct_end(t);
		thrift_struct_end(t);
		thrift_struct_end(t);
		break;
	case PQ_DECIMAL:
		thrift_struct_field(t, 10);
		thrift_struct_field(t, PQ_LT_DECIMAL);
		thrift_i32(t, 1, scale);
		thrift_i32(t, 2, prec);
		thrift_struct_end(t);
		thrift_struct_end(t);
		break;
	default:
		break;
	}
}

static int count_elements(const struct pq_schema *s, int i)
{
	const struct pq_field *f = &s->f[i].pub;
	int n = 1 + (f->type == PQ_LIST || f->type == PQ_MAP);
	for (int k = 0; k < f->nchildren; k++)
		n += count_elements(s, f->children[k]);
	return n;
}

static void put_elements(struct pq_writer *w, struct thrift_w *t, int i)
{
	const struct pq_field *f = &w->s->f[i].pub;
	thrift_struct_begin(t);
	if (f->leaf >= 0) {
		const struct wcol *c = &w->cols[f->leaf];
		thrift_i32(t, 1, c->phys);
		if (c->phys == PQ_PT_FLBA)
			thrift_i32(t, 2, c->flba);
		thrift_i32(t, 3, f->optional);
		thrift_string(t, 4, f->name);
		put_logical_leaf(t, c, f->precision, f->scale, f->field_id);
		thrift_struct_end(t);
		return;
	}
	if (i != PQ_ROOT)
		thrift_i32(t, 3, f->optional);
	thrift_string(t, 4, i == PQ_ROOT ? "schema" : f->name);
	if (f->type == PQ_STRUCT) {
		thrift_i32(t, 5, f->nchildren);
		if (f->field_id >= 0)
			thrift_i32(t, 9, f->field_id);
		thrift_struct_end(t);
	} else {
		int list = f->type == PQ_LIST;
		thrift_i32(t, 5, 1);
		thrift_i32(t, 6, list ? PQ_CT_LIST : PQ_CT_MAP);
		if (f->field_id >= 0)
			thrift_i32(t, 9, f->field_id);
		thrift_struct_field(t, 10);
		thrift_struct_field(t, list ? PQ_LT_LIST : PQ_LT_MAP);
		thrift_struct_end(t);
		thrift_struct_end(t);
		thrift_struct_end(t);
		thrift_struct_begin(t);
		thrift_i32(t, 3, 2);
		thrift_string(t, 4, list ? "list" : "key_value");
		thrift_i32(t, 5, f->nchildren);
		thrift_struct_end(t);
	}
	for (int k = 0; k < f->nchildren; k++)
		put_elements(w, t, f->children[k]);
}

static void put_chunk(struct pq_writer *w, struct thrift_w *t, int l, const struct chunkmeta *m)
{
	const struct wcol *c = &w->cols[l];
	const struct pq_leaf *lf = &w->s->leaves[l];
	thrift_struct_begin(t);
	thrift_i64(t, 2, 0);
	thrift_struct_field(t, 3);
	thrift_i32(t, 1, c->phys);
	int nenc = __builtin_popcount(m->encodings);
	thrift_list_field(t, 2, THRIFT_I32, (size_t)nenc);
	for (int e = 0; e < 32; e++)
		if (m->encodings & (1u << e))
			thrift_put_varint(t, e);
	thrift_list_field(t, 3, THRIFT_BINARY, (size_t)lf->npath);
	for (int k = 0; k < lf->npath; k++)
		thrift_put_binary(t, lf->path[k], strlen(lf->path[k]));
	thrift_i32(t, 4, w->o.compression);
	thrift_i64(t, 5, m->num_values);
	thrift_i64(t, 6, m->total_unc);
	thrift_i64(t, 7, m->total_comp);
	thrift_i64(t, 9, m->data_off);
	if (m->dict_off >= 0)
		thrift_i64(t, 11, m->dict_off);
	thrift_struct_field(t, 12);
	thrift_i64(t, 3, m->null_count);
	if (m->has_max)
		thrift_binary(t, 5, m->max, m->maxlen);
	if (m->has_min)
		thrift_binary(t, 6, m->min, m->minlen);
	if (m->has_max && !m->max_exact)
		thrift_bool(t, 7, 0);
	if (m->has_min && !m->min_exact)
		thrift_bool(t, 8, 0);
	thrift_struct_end(t);
	thrift_struct_end(t);
	thrift_struct_end(t);
}

static int write_footer(struct pq_writer *w)
{
	struct thrift_w t;
	w->foot.len = 0;
	thrift_w_init(&t, &w->foot);
	thrift_struct_begin(&t);
	thrift_i32(&t, 1, 1);
	thrift_list_field(&t, 2, THRIFT_STRUCT, (size_t)count_elements(w->s, PQ_ROOT));
	put_elements(w, &t, PQ_ROOT);
	thrift_i64(&t, 3, w->total_rows);
	thrift_list_field(&t, 4, THRIFT_STRUCT, (size_t)w->nrg);
	for (int g = 0; g < w->nrg; g++) {
		const struct rgmeta *rg = &w->rgs[g];
		thrift_struct_begin(&t);
		thrift_list_field(&t, 1, THRIFT_STRUCT, (size_t)w->ncols);
		for (int l = 0; l < w->ncols; l++)
			put_chunk(w, &t, l, &rg->cols[l]);
		thrift_i64(&t, 2, rg->total_unc);
		thrift_i64(&t, 3, rg->num_rows);
		thrift_i64(&t, 5, rg->file_offset);
		thrift_i64(&t, 6, rg->total_comp);
		thrift_field(&t, 7, THRIFT_I16);
		thrift_put_varint(&t, g);
		thrift_struct_end(&t);
	}
	size_t crc_at = 0, nkv = w->o.nkv + !w->o.no_crc;
	if (nkv) {
		thrift_list_field(&t, 5, THRIFT_STRUCT, nkv);
		for (size_t i = 0; i < w->o.nkv; i++) {
			thrift_struct_begin(&t);
			thrift_string(&t, 1, w->kv[i].key);
			if (w->kv[i].value)
				thrift_string(&t, 2, w->kv[i].value);
			thrift_struct_end(&t);
		}
		if (!w->o.no_crc) {
			/* A placeholder, replaced by the checksum of the whole footer below. */
			thrift_struct_begin(&t);
			thrift_string(&t, 1, PQ_FOOTER_CRC_KEY);
			thrift_string(&t, 2, "00000000");
			crc_at = w->foot.len - 8;
			thrift_struct_end(&t);
		}
	}
	thrift_string(&t, 6, CREATED_BY);
	thrift_list_field(&t, 7, THRIFT_STRUCT, (size_t)w->ncols);
	for (int l = 0; l < w->ncols; l++) {
		thrift_struct_begin(&t);
		thrift_struct_field(&t, 1);
		thrift_struct_end(&t);
		thrift_struct_end(&t);
	}
	thrift_struct_end(&t);
	if (t.failed)
		return nomem(w);
	if (!w->o.no_crc) {
		char hex[9];
		snprintf(hex, sizeof hex, "%08x", (unsigned)pq_crc32(0, w->foot.p, w->foot.len));
		memcpy(w->foot.p + crc_at, hex, 8);
	}
	if (w->foot.len > UINT32_MAX || pq_buf_u32le(&w->foot, (uint32_t)w->foot.len) < 0 ||
	    pq_buf_put(&w->foot, "PAR1", 4) < 0)
		return nomem(w);
	return write_all(w, w->foot.p, w->foot.len);
}

int pq_writer_close(struct pq_writer *w)
{
	if (w->failed)
		return -1;
	if (w->closed)
		return fail(w, EX_SOFTWARE, "writer already closed");
	if (pq_writer_end_row(w) < 0 || end_row_group(w) < 0 || write_footer(w) < 0)
		return -1;
	w->closed = 1;
	stop_workers(w);
	if (w->o.sync && fsync(w->fd) < 0)
		return fail(w, EX_IOERR, "fsync failed: %s", strerror(errno));
	if (w->own_fd) {
		int rc = close(w->fd);
		w->own_fd = 0;
		w->fd = -1;
		if (rc < 0)
			return fail(w, EX_IOERR, "close failed: %s", strerror(errno));
	}
	return 0;
}

int64_t pq_writer_rows(const struct pq_writer *w)
{
	return w->total_rows + w->rows;
}

uint64_t pq_writer_bytes(const struct pq_writer *w)
{
	return w->pos;
}

int pq_writer_stats(const struct pq_writer *w, int leaf, struct pq_stats *st)
{
	if (!w->closed || leaf < 0 || leaf >= w->ncols)
		return -1;
	const struct wcol *c = &w->cols[leaf];
	memset(st, 0, sizeof *st);
	st->num_values = c->f_values;
	st->null_count = c->f_nulls;
	st->has_min_max = c->f_st.has && !c->f_st.nan;
	if (!st->has_min_max)
		return 0;
	st->min = c->f_st.min;
	st->max = c->f_st.max;
	if (c->type == PQ_DECIMAL) {
		/* Decimals are stored in INT32/INT64 below 19 digits; give them as int128. */
		if (st->min.kind == PQ_V_I32) {
			st->min.dec = st->min.i32;
			st->max.dec = st->max.i32;
		} else if (st->min.kind == PQ_V_I64) {
			st->min.dec = st->min.i64;
			st->max.dec = st->max.i64;
		}
		st->min.kind = st->max.kind = PQ_V_DEC;
	}
	return 0;
}

static void page_free(struct page *p)
{
	free(p->def);
	free(p->rep);
	free(p->vals);
	pq_buf_free(&p->heap);
}

static void scratch_free(struct scratch *x)
{
	pq_buf_free(&x->vbuf);
	pq_buf_free(&x->tbuf);
	pq_buf_free(&x->lbuf);
	pq_buf_free(&x->cbuf);
	pq_buf_free(&x->hbuf);
	pq_buf_free(&x->sbuf);
	free(x->idx);
	free(x->stamp);
	if (x->own_codec)
		pq_codec_free(x->codec);
}

void pq_writer_free(struct pq_writer *w)
{
	if (!w)
		return;
	stop_workers(w);
	if (w->own_fd)
		close(w->fd);
	for (int i = 0; i < w->ncols; i++) {
		struct wcol *c = &w->cols[i];
		page_free(&c->pg);
		page_free(&c->spare);
		dict_free(&c->dict);
		pq_buf_free(&c->pages);
		pq_buf_free(&c->dictpage);
		stat_free(&c->c_st);
		stat_free(&c->f_st);
	}
	for (int g = 0; g < w->nrg; g++) {
		for (int i = 0; i < w->ncols; i++)
			chunkmeta_free(&w->rgs[g].cols[i]);
		free(w->rgs[g].cols);
	}
	free(w->rgs);
	free(w->cols);
	free(w->leaf_lo);
	free(w->leaf_hi);
	for (size_t i = 0; w->kv && i < w->o.nkv; i++) {
		free((char *)(uintptr_t)w->kv[i].key);
		free((char *)(uintptr_t)w->kv[i].value);
	}
	free(w->kv);
	if (w->own_codec)
		pq_codec_free(w->codec);
	scratch_free(&w->mine);
	for (int i = 0; w->wscratch && i < w->nthreads - 1; i++)
		scratch_free(&w->wscratch[i]);
	free(w->wscratch);
	free(w->tid);
	free(w->queue);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->done);
	pq_buf_free(&w->foot);
	pq_schema_free(w->s);
	free(w->name);
	free(w);
}

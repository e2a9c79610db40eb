/*
 * parquet_read: the Parquet reader (see parquet.h).
 *
 * Opening reads and checks the footer and turns the file's schema into the
 * logical tree of parquet.h (recognising LIST and MAP groups and the older
 * list layouts).  Data is read one column chunk and one page at a time: a
 * struct pq_column holds the chunk's bytes, its dictionary (decoded once,
 * already converted to the column's value kind) and the decoded levels and
 * values of the current page.  The columnar API hands those arrays out; the
 * row API keeps one such cursor per selected leaf and assembles rows from
 * the levels (Dremel record assembly): a field is null when the definition
 * level of the first leaf below it is lower than its own, a list goes on
 * while that leaf's next repetition level equals the list's.
 *
 * Nothing in a file is trusted: every offset and size is checked against
 * the file and the chunk, decompressed sizes against the page headers,
 * levels against their maximum, dictionary indices against the dictionary,
 * value counts against the levels and row counts against the row group.
 * Pages are limited in size and value count (struct pq_read_options), which
 * bounds what a page can make the reader allocate.
 *
 * Those checks catch a file that lies, not one that was damaged: a changed
 * byte in a page's values decodes to another value as well as the original
 * did.  So checksums are verified where a file has them: the footer's
 * (stocketl's, see PQ_FOOTER_CRC_KEY) when the file is opened, and every
 * page's CRC when its column chunk is loaded, together with the page
 * headers' value counts, so that a damaged row group is refused before any
 * of its rows is given out.  Files without checksums read as before.
 */
#include "parquet/pq_internal.h"

#include "parquet/pq_enc_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the Parquet codec copies little-endian values directly");

#define MAX_SCHEMA_DEPTH 64
#define JULIAN_EPOCH     2440588 /* the Julian day of 1970-01-01 */

struct arena_blk {
	struct arena_blk *next;
	size_t cap, used;
	_Alignas(16) uint8_t data[];
};

struct arena {
	struct arena_blk *first, *cur;
};

struct pq_column {
	struct pq_reader *r;
	int rg, leaf;
	const struct pq_leaf *lf;
	enum pq_vkind kind;
	size_t ksize;
	struct pq_codec *codec;
	int own_codec;
	char label[300];
	/* the chunk */
	const uint8_t *chunk;
	uint8_t *chunk_owned;
	size_t clen, cpos;
	int64_t values_left, rows_left;
	int pages, data_pages;
	/* the dictionary, converted */
	int has_dict;
	uint8_t *dict;
	size_t ndict;
	struct pq_buf dict_page;
	/* the current page */
	struct pq_buf page, dba, scratch;
	uint16_t *def, *rep;
	size_t lcap;
	size_t n, pos;
	int all_present; /* every entry of the page has a value */
	uint8_t *vals;
	size_t vcap, nv, vpos;
	uint32_t *idx;
	size_t idxcap;
	/* columnar output */
	uint8_t *out, *valid;
	size_t outcap;
};

struct pq_reader {
	char *name;
	int fd;
	const uint8_t *mem;
	uint64_t size;
	uint8_t *footer_buf;
	struct pq_footer ft;
	struct pq_schema *s;
	struct pq_read_options o;
	int *leaf_lo, *leaf_hi; /* per field: the leaves below it */
	uint8_t *sel;           /* per field: part of the rows */
	uint8_t *use_rg;
	int *first_leaf; /* per field: the first selected leaf below it */
	struct pq_codec *codec;
	/* row iteration */
	int started, done, cur_rg;
	int64_t row_in_rg;
	struct pq_column **cur; /* per leaf, for the selected ones */
	struct arena arena;
	struct pq_value row;
	struct pq_value **scratch; /* per list depth: items being gathered */
	size_t *scratch_cap;
};

/* ---------------------------------------------------------------- arena */

static void *arena_alloc(struct arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (!n)
		n = 16;
	while (a->cur && a->cur->cap - a->cur->used < n) {
		if (!a->cur->next)
			break;
		a->cur = a->cur->next;
		a->cur->used = 0;
	}
	if (!a->cur || a->cur->cap - a->cur->used < n) {
		size_t cap = n > (64u << 10) ? n : (64u << 10);
		struct arena_blk *b = malloc(sizeof *b + cap);
		if (!b)
			return NULL;
		b->cap = cap;
		b->used = 0;
		if (a->cur) {
			b->next = a->cur->next;
			a->cur->next = b;
		} else {
			b->next = NULL;
			a->first = b;
		}
		a->cur = b;
	}
	void *p = a->cur->data + a->cur->used;
	a->cur->used += n;
	return p;
}

static void arena_reset(struct arena *a)
{
	a->cur = a->first;
	if (a->cur)
		a->cur->used = 0;
}

static void arena_free(struct arena *a)
{
	struct arena_blk *b = a->first;
	while (b) {
		struct arena_blk *n = b->next;
		free(b);
		b = n;
	}
	a->first = a->cur = NULL;
}

/* ------------------------------------------------------------- the file */

static int read_at(struct pq_reader *r, uint64_t off, size_t len, uint8_t *buf, struct err_msg *e)
{
	if (off > r->size || len > r->size - off) {
		err_set(e, EX_DATAERR, "%s: read past the end of the file", r->name);
		return -1;
	}
	if (r->mem) {
		memcpy(buf, r->mem + off, len);
		return 0;
	}
	while (len > 0) {
		ssize_t k = pread(r->fd, buf, len, (off_t)off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			err_set(e, EX_IOERR, "%s: read failed: %s", r->name, strerror(errno));
			return -1;
		}
		if (k == 0) {
			err_set(e, EX_IOERR, "%s: file shrank while being read", r->name);
			return -1;
		}
		buf += k;
		len -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

/* ------------------------------------------------------------- the schema */

struct build {
	struct pq_reader *r;
	const struct pq_footer *f;
	size_t *parent; /* per element: its parent element */
	size_t *kidpos; /* per element: index of its first child in kids */
	size_t *kids;
	size_t nkids;
	char why[200];
};

static int scan_schema(struct build *b, size_t i, size_t *next, int depth)
{
	const struct pq_element *el = &b->f->el[i];
	*next = i + 1;
	if (depth > MAX_SCHEMA_DEPTH) {
		snprintf(b->why, sizeof b->why, "schema nested too deeply");
		return -1;
	}
	if (el->num_children <= 0 && (i == 0 || el->type >= 0)) {
		b->kidpos[i] = b->nkids;
		return 0;
	}
	if (el->num_children <= 0) {
		snprintf(b->why, sizeof b->why, "schema element %s is an empty group", el->name);
		return -1;
	}
	/* All the children of all groups are the elements after the root. */
	if ((size_t)el->num_children > b->f->nel - 1 - b->nkids) {
		snprintf(b->why, sizeof b->why, "schema element %s claims %d children", el->name,
		         el->num_children);
		return -1;
	}
	size_t base = b->nkids;
	b->kidpos[i] = base;
	b->nkids += (size_t)el->num_children;
	for (int k = 0; k < el->num_children; k++) {
		if (*next >= b->f->nel) {
			snprintf(b->why, sizeof b->why, "schema ends inside element %s", el->name);
			return -1;
		}
		b->kids[base + (size_t)k] = *next;
		b->parent[*next] = i;
		if (scan_schema(b, *next, next, depth + 1) < 0)
			return -1;
	}
	return 0;
}

static int is_group(const struct pq_element *el)
{
	return el->num_children > 0;
}

static size_t kid(const struct build *b, size_t e, int k)
{
	return b->kids[b->kidpos[e] + (size_t)k];
}

/* The logical type of a leaf element and how its values are converted. */
static int leaf_type(struct build *b, const struct pq_element *el, enum pq_type *t, int *prec,
                     int *scale, enum pq_conv *conv)
{
	int ct = el->converted_type, lt = el->logical;
	int dec = lt == PQ_LT_DECIMAL || (lt == 0 && ct == PQ_CT_DECIMAL);
	*conv = PQ_CONV_NONE;
	*prec = *scale = 0;
	if (dec) {
		*prec = lt == PQ_LT_DECIMAL ? el->logical_b : el->precision;
		*scale = lt == PQ_LT_DECIMAL ? el->logical_a : el->scale;
		if (*scale < 0)
			*scale = 0;
		if (*prec < 1 || *prec > 38 || *scale > *prec) {
			snprintf(b->why, sizeof b->why, "column %s: unsupported decimal(%d,%d)",
			         el->name, *prec, *scale);
			return -1;
		}
	}
	switch (el->type) {
	case PQ_PT_BOOLEAN:
		*t = PQ_BOOLEAN;
		return 0;
	case PQ_PT_INT32:
		if (dec) {
			*t = PQ_DECIMAL;
			*conv = PQ_CONV_INT_TO_DEC;
		} else if (lt == PQ_LT_DATE || ct == PQ_CT_DATE) {
			*t = PQ_DATE;
		} else if ((lt == PQ_LT_INTEGER && el->logical_a == 8 && el->logical_b) ||
		           (lt == 0 && ct == PQ_CT_INT_8)) {
			*t = PQ_BYTE;
		} else if ((lt == PQ_LT_INTEGER && el->logical_a == 16 && el->logical_b) ||
		           (lt == 0 && ct == PQ_CT_INT_16)) {
			*t = PQ_SHORT;
		} else if ((lt == PQ_LT_INTEGER && el->logical_a == 32 && !el->logical_b) ||
		           (lt == 0 && ct == PQ_CT_UINT_32)) {
			*t = PQ_LONG;
			*conv = PQ_CONV_U32;
		} else {
			*t = PQ_INT;
		}
		return 0;
	case PQ_PT_INT64:
		if (dec) {
			*t = PQ_DECIMAL;
			*conv = PQ_CONV_INT_TO_DEC;
		} else if (lt == PQ_LT_TIMESTAMP) {
			*t = el->logical_a ? PQ_TIMESTAMP : PQ_TIMESTAMP_NTZ;
			*conv = el->logical_b == 1   ? PQ_CONV_MILLIS
			        : el->logical_b == 3 ? PQ_CONV_NANOS
			                             : PQ_CONV_NONE;
		} else if (lt == 0 &&
		           (ct == PQ_CT_TIMESTAMP_MILLIS || ct == PQ_CT_TIMESTAMP_MICROS)) {
			*t = PQ_TIMESTAMP;
			*conv = ct == PQ_CT_TIMESTAMP_MILLIS ? PQ_CONV_MILLIS : PQ_CONV_NONE;
		} else if ((lt == PQ_LT_INTEGER && el->logical_a == 64 && !el->logical_b) ||
		           (lt == 0 && ct == PQ_CT_UINT_64)) {
			*t = PQ_DECIMAL;
			*prec = 20;
			*conv = PQ_CONV_U64_TO_DEC;
		} else {
			*t = PQ_LONG;
		}
		return 0;
	case PQ_PT_INT96:
		*t = PQ_TIMESTAMP;
		*conv = PQ_CONV_INT96;
		return 0;
	case PQ_PT_FLOAT:
		*t = PQ_FLOAT;
		return 0;
	case PQ_PT_DOUBLE:
		*t = PQ_DOUBLE;
		return 0;
	case PQ_PT_BYTE_ARRAY:
	case PQ_PT_FLBA:
		if (el->type == PQ_PT_FLBA &&
		    (el->type_length < 1 || el->type_length > (1 << 20))) {
			snprintf(b->why, sizeof b->why, "column %s: bad fixed length %d", el->name,
			         el->type_length);
			return -1;
		}
		if (dec) {
			if (el->type == PQ_PT_FLBA && el->type_length > 16) {
				snprintf(b->why, sizeof b->why,
				         "column %s: decimal wider than 16 bytes", el->name);
				return -1;
			}
			*t = PQ_DECIMAL;
			*conv = PQ_CONV_BYTES_TO_DEC;
		} else if (el->type == PQ_PT_BYTE_ARRAY &&
		           (lt == PQ_LT_STRING || lt == PQ_LT_ENUM || lt == PQ_LT_JSON ||
		            (lt == 0 &&
		             (ct == PQ_CT_UTF8 || ct == PQ_CT_ENUM || ct == PQ_CT_JSON)))) {
			*t = PQ_STRING;
		} else {
			*t = PQ_BINARY;
		}
		return 0;
	default:
		snprintf(b->why, sizeof b->why, "column %s: unknown physical type %d", el->name,
		         el->type);
		return -1;
	}
}

static int new_field(struct build *b, const struct pq_element *el, int parent, enum pq_type t,
                     int optional, int dl, int rl)
{
	struct pq_schema *s = b->r->s;
	int id = pq_schema_add_raw(s, parent, el->name, strlen(el->name), t, optional);
	if (id < 0) {
		snprintf(b->why, sizeof b->why, "out of memory");
		return -1;
	}
	s->f[id].dl = dl;
	s->f[id].rl = rl;
	s->f[id].pub.field_id = el->field_id;
	return id;
}

/*
 * Convert element e (whose parent has levels pdef, prep; depth is e's
 * distance from the root) into a logical field under lparent.  as_elem: e
 * is the repeated group of a list, taken as the list's (required) element.
 */
static int convert(struct build *b, size_t e, int lparent, int pdef, int prep, int as_elem,
                   int depth)
{
	const struct pq_element *el = &b->f->el[e];
	struct pq_schema *s = b->r->s;
	int rep = el->repetition < 0 ? 0 : el->repetition;
	if (rep > 2) {
		snprintf(b->why, sizeof b->why, "schema element %s: bad repetition %d", el->name,
		         rep);
		return -1;
	}
	if (depth > MAX_SCHEMA_DEPTH) {
		snprintf(b->why, sizeof b->why, "schema nested too deeply");
		return -1;
	}
	int d = pdef + (rep != 0), r = prep + (rep == 2);
	int optional = rep == 1 && !as_elem;

	if (rep == 2 && !as_elem) {
		/* A repeated field outside a LIST group: a list that is never null. */
		int l = new_field(b, el, lparent, PQ_LIST, 0, pdef, r);
		if (l < 0)
			return -1;
		s->f[l].idl = d;
		if (convert(b, e, l, pdef, prep, 1, depth) < 0)
			return -1;
		free(s->f[s->f[l].kids[0]].name);
		s->f[s->f[l].kids[0]].name = strdup("element");
		s->f[s->f[l].kids[0]].pub.name = s->f[s->f[l].kids[0]].name;
		return s->f[s->f[l].kids[0]].name ? 0 : -1;
	}
	if (is_group(el)) {
		int list =
		    el->logical == PQ_LT_LIST || (!el->logical && el->converted_type == PQ_CT_LIST);
		int map = el->logical == PQ_LT_MAP ||
		          (!el->logical && (el->converted_type == PQ_CT_MAP ||
		                            el->converted_type == PQ_CT_MAP_KEY_VALUE));
		size_t c = kid(b, e, 0);
		const struct pq_element *ce = &b->f->el[c];
		if (list && el->num_children == 1 && ce->repetition == 2) {
			int l = new_field(b, el, lparent, PQ_LIST, optional, d, r + 1);
			if (l < 0)
				return -1;
			s->f[l].idl = d + 1;
			char tuple[300];
			snprintf(tuple, sizeof tuple, "%s_tuple", el->name);
			if (!is_group(ce) || ce->num_children > 1 ||
			    strcmp(ce->name, "array") == 0 || strcmp(ce->name, tuple) == 0)
				return convert(b, c, l, d, r, 1, depth + 1);
			return convert(b, kid(b, c, 0), l, d + 1, r + 1, 0, depth + 2);
		}
		if (map && el->num_children == 1 && ce->repetition == 2 && is_group(ce) &&
		    ce->num_children == 2) {
			int m = new_field(b, el, lparent, PQ_MAP, optional, d, r + 1);
			if (m < 0)
				return -1;
			s->f[m].idl = d + 1;
			if (convert(b, kid(b, c, 0), m, d + 1, r + 1, 0, depth + 2) < 0 ||
			    convert(b, kid(b, c, 1), m, d + 1, r + 1, 0, depth + 2) < 0)
				return -1;
			return 0;
		}
		int st = new_field(b, el, lparent, PQ_STRUCT, optional, d, r);
		if (st < 0)
			return -1;
		for (int k = 0; k < el->num_children; k++)
			if (convert(b, kid(b, e, k), st, d, r, 0, depth + 1) < 0)
				return -1;
		return 0;
	}
	enum pq_type t;
	int prec, scale;
	enum pq_conv conv;
	if (leaf_type(b, el, &t, &prec, &scale, &conv) < 0)
		return -1;
	int id = new_field(b, el, lparent, t, optional, d, r);
	if (id < 0)
		return -1;
	s->f[id].pub.precision = prec;
	s->f[id].pub.scale = scale;
	struct pq_leaf *lv = realloc(s->leaves, (size_t)(s->nleaves + 1) * sizeof *lv);
	if (!lv) {
		snprintf(b->why, sizeof b->why, "out of memory");
		return -1;
	}
	s->leaves = lv;
	struct pq_leaf *lf = &lv[s->nleaves];
	memset(lf, 0, sizeof *lf);
	lf->field = id;
	lf->max_def = d;
	lf->max_rep = r;
	lf->phys = el->type;
	lf->type_length = el->type_length;
	lf->conv = conv;
	lf->element = (int)e;
	lf->npath = depth;
	s->f[id].pub.leaf = s->nleaves++;
	/* path_in_schema: the element names from the root's child down to e. */
	if (!(lf->path = calloc((size_t)depth, sizeof *lf->path))) {
		snprintf(b->why, sizeof b->why, "out of memory");
		return -1;
	}
	for (size_t k = e, i = (size_t)depth; i-- > 0; k = b->parent[k])
		if (!(lf->path[i] = strdup(b->f->el[k].name))) {
			snprintf(b->why, sizeof b->why, "out of memory");
			return -1;
		}
	return 0;
}

static int build_schema(struct pq_reader *r, char *why, size_t whylen)
{
	struct build b = {.r = r, .f = &r->ft};
	int rc = -1;
	b.why[0] = '\0';
	if (r->ft.nel == 0) {
		snprintf(why, whylen, "the schema is empty");
		return -1;
	}
	b.kidpos = calloc(r->ft.nel, sizeof *b.kidpos);
	b.kids = calloc(r->ft.nel, sizeof *b.kids);
	b.parent = calloc(r->ft.nel, sizeof *b.parent);
	r->s = pq_schema_new();
	if (!b.kidpos || !b.kids || !b.parent || !r->s) {
		snprintf(why, whylen, "out of memory");
		goto done;
	}
	size_t next;
	if (scan_schema(&b, 0, &next, 0) < 0)
		goto fail;
	if (next != r->ft.nel) {
		snprintf(b.why, sizeof b.why, "schema has %zu elements after its root's children",
		         r->ft.nel - next);
		goto fail;
	}
	const struct pq_element *root = &r->ft.el[0];
	for (int k = 0; k < (root->num_children > 0 ? root->num_children : 0); k++)
		if (convert(&b, kid(&b, 0, k), PQ_ROOT, 0, 0, 0, 1) < 0)
			goto fail;
	pq_schema_number_leaves(r->s);
	r->s->frozen = 1;
	rc = 0;
	goto done;
fail:
	snprintf(why, whylen, "%s", b.why[0] ? b.why : "bad schema");
done:
	free(b.kidpos);
	free(b.kids);
	free(b.parent);
	return rc;
}

/* ------------------------------------------------------------ statistics */

static int decode_bound(const struct pq_reader *r, const struct pq_leaf *lf, struct pq_bytes b,
                        struct pq_value *v)
{
	const struct pq_field *f = &r->s->f[lf->field].pub;
	v->kind = pq_type_kind(f->type);
	switch (lf->phys) {
	case PQ_PT_BOOLEAN:
		if (b.len != 1)
			return -1;
		v->b = b.p[0] & 1;
		return 0;
	case PQ_PT_INT32: {
		if (b.len != 4)
			return -1;
		int32_t x = (int32_t)pq_load32(b.p);
		if (v->kind == PQ_V_I32)
			v->i32 = x;
		else if (v->kind == PQ_V_I64)
			v->i64 = (uint32_t)x;
		else
			v->dec = x;
		return 0;
	}
	case PQ_PT_INT64: {
		if (b.len != 8)
			return -1;
		int64_t x = (int64_t)pq_load64(b.p);
		if (lf->conv == PQ_CONV_MILLIS) {
			if (x > INT64_MAX / 1000 || x < INT64_MIN / 1000)
				return -1;
			v->i64 = x * 1000;
		} else if (lf->conv == PQ_CONV_NANOS) {
			v->i64 = x / 1000 - (x % 1000 < 0);
		} else if (lf->conv == PQ_CONV_U64_TO_DEC) {
			v->dec = (uint64_t)x;
		} else if (v->kind == PQ_V_DEC) {
			v->dec = x;
		} else {
			v->i64 = x;
		}
		return 0;
	}
	case PQ_PT_FLOAT:
		if (b.len != 4)
			return -1;
		memcpy(&v->f32, b.p, 4);
		return isnan(v->f32) ? -1 : 0;
	case PQ_PT_DOUBLE:
		if (b.len != 8)
			return -1;
		memcpy(&v->f64, b.p, 8);
		return isnan(v->f64) ? -1 : 0;
	case PQ_PT_BYTE_ARRAY:
	case PQ_PT_FLBA:
		if (v->kind == PQ_V_DEC) {
			if (b.len == 0 || b.len > 16)
				return -1;
			unsigned __int128 u = (b.p[0] & 0x80) ? ~(unsigned __int128)0 : 0;
			for (size_t i = 0; i < b.len; i++)
				u = u << 8 | b.p[i];
			v->dec = (pq_int128)u;
			return 0;
		}
		v->bytes = b;
		return 0;
	default:
		return -1;
	}
}

int pq_reader_stats(const struct pq_reader *r, int rg, int leaf, struct pq_stats *st)
{
	if (rg < 0 || rg >= r->ft.nrg || leaf < 0 || leaf >= r->s->nleaves)
		return -1;
	const struct pq_colchunk *c = &r->ft.rg[rg].cols[leaf];
	const struct pq_leaf *lf = &r->s->leaves[leaf];
	const struct pq_rawstats *rs = &c->st;
	memset(st, 0, sizeof *st);
	st->num_values = c->num_values;
	st->null_count = rs->has_null_count ? rs->null_count : -1;
	int typed = leaf < r->ft.norders && r->ft.orders[leaf] == 1;
	/* The deprecated fields are in signed order: right only for signed integers. */
	int legacy = (lf->phys == PQ_PT_INT32 || lf->phys == PQ_PT_INT64) &&
	             lf->conv != PQ_CONV_U32 && lf->conv != PQ_CONV_U64_TO_DEC;
	struct pq_bytes lo, hi;
	if (typed && rs->has_min_value && rs->has_max_value) {
		lo = rs->min_value;
		hi = rs->max_value;
	} else if (legacy && rs->has_min && rs->has_max) {
		lo = rs->min;
		hi = rs->max;
	} else {
		return 0;
	}
	if (lf->phys == PQ_PT_INT96)
		return 0;
	if (decode_bound(r, lf, lo, &st->min) < 0 || decode_bound(r, lf, hi, &st->max) < 0) {
		memset(&st->min, 0, sizeof st->min);
		memset(&st->max, 0, sizeof st->max);
		return 0;
	}
	st->has_min_max = 1;
	return 0;
}

/* ------------------------------------------------------------------ open */

static void reader_free(struct pq_reader *r)
{
	if (!r)
		return;
	if (r->cur) {
		for (int i = 0; i < r->s->nleaves; i++)
			pq_column_close(r->cur[i]);
		free(r->cur);
	}
	if (r->scratch) {
		for (int i = 0; i <= MAX_SCHEMA_DEPTH; i++)
			free(r->scratch[i]);
		free(r->scratch);
	}
	free(r->scratch_cap);
	arena_free(&r->arena);
	pq_codec_free(r->codec);
	pq_schema_free(r->s);
	pq_footer_free(&r->ft);
	free(r->footer_buf);
	free(r->leaf_lo);
	free(r->leaf_hi);
	free(r->sel);
	free(r->use_rg);
	free(r->first_leaf);
	if (r->fd >= 0)
		close(r->fd);
	free(r->name);
	free(r);
}

void pq_reader_close(struct pq_reader *r)
{
	reader_free(r);
}

/* Check what the footer says about each column chunk against the file. */
static int check_chunks(struct pq_reader *r, uint64_t data_end, struct err_msg *e)
{
	int64_t total = 0;
	char nm[256];
	for (int g = 0; g < r->ft.nrg; g++) {
		const struct pq_rowgroup *rg = &r->ft.rg[g];
		if (rg->ncols != r->s->nleaves) {
			err_set(e, EX_DATAERR, "%s: row group %d has %d columns, the schema %d",
			        r->name, g, rg->ncols, r->s->nleaves);
			return -1;
		}
		if (rg->num_rows < 0 || rg->num_rows > INT64_MAX - total) {
			err_set(e, EX_DATAERR, "%s: row group %d: bad row count %lld", r->name, g,
			        (long long)rg->num_rows);
			return -1;
		}
		total += rg->num_rows;
		for (int l = 0; l < rg->ncols; l++) {
			const struct pq_colchunk *c = &rg->cols[l];
			const struct pq_leaf *lf = &r->s->leaves[l];
			const char *why = NULL;
			int64_t start = c->dict_off >= 4 && c->dict_off < c->data_off ? c->dict_off
			                                                              : c->data_off;
			int empty = c->num_values == 0 && c->total_comp == 0;
			if (c->type != lf->phys)
				why = "physical type differs from the schema's";
			else if (c->npath != lf->npath)
				why = "path differs from the schema's";
			else if (c->num_values < 0 || c->total_comp < 0 || c->total_unc < 0)
				why = "negative count or size";
			else if (c->num_values < rg->num_rows)
				why = "fewer values than the row group has rows";
			else if (lf->max_rep == 0 && c->num_values != rg->num_rows)
				why = "value count differs from the row group's row count";
			else if (!empty && (start < 4 || (uint64_t)start > data_end ||
			                    (uint64_t)c->total_comp > data_end - (uint64_t)start))
				why = "data lies outside the file's data section";
			if (why) {
				pq_schema_path(r->s, lf->field, nm, sizeof nm);
				err_set(e, EX_DATAERR, "%s: row group %d, column %s: %s", r->name,
				        g, nm, why);
				return -1;
			}
		}
	}
	if (total != r->ft.num_rows) {
		err_set(e, EX_DATAERR, "%s: footer says %lld rows but its row groups hold %lld",
		        r->name, (long long)r->ft.num_rows, (long long)total);
		return -1;
	}
	return 0;
}

static int setup_fields(struct pq_reader *r)
{
	int nf = r->s->nf, nl = r->s->nleaves;
	r->leaf_lo = malloc((size_t)nf * sizeof(int));
	r->leaf_hi = malloc((size_t)nf * sizeof(int));
	r->first_leaf = malloc((size_t)nf * sizeof(int));
	r->sel = malloc((size_t)nf);
	r->use_rg = malloc((size_t)(r->ft.nrg ? r->ft.nrg : 1));
	r->cur = calloc((size_t)(nl ? nl : 1), sizeof *r->cur);
	r->scratch = calloc(MAX_SCHEMA_DEPTH + 1, sizeof *r->scratch);
	r->scratch_cap = calloc(MAX_SCHEMA_DEPTH + 1, sizeof *r->scratch_cap);
	r->codec = pq_codec_new();
	if (!r->leaf_lo || !r->leaf_hi || !r->first_leaf || !r->sel || !r->use_rg || !r->cur ||
	    !r->scratch || !r->scratch_cap || !r->codec)
		return -1;
	for (int i = 0; i < nf; i++) {
		r->leaf_lo[i] = INT32_MAX;
		r->leaf_hi[i] = -1;
		r->sel[i] = 1;
	}
	for (int l = 0; l < nl; l++)
		for (int k = r->s->leaves[l].field; k >= 0; k = r->s->f[k].pub.parent) {
			if (r->leaf_lo[k] > l)
				r->leaf_lo[k] = l;
			if (r->leaf_hi[k] < l)
				r->leaf_hi[k] = l;
		}
	for (int i = 0; i < nf; i++)
		r->first_leaf[i] = r->leaf_lo[i] <= r->leaf_hi[i] ? r->leaf_lo[i] : -1;
	memset(r->use_rg, 1, (size_t)(r->ft.nrg ? r->ft.nrg : 1));
	return 0;
}

static struct pq_reader *open_common(struct pq_reader *r, const struct pq_read_options *o,
                                     struct err_msg *e)
{
	char why[256];
	if (o)
		r->o = *o;
	if (!r->o.max_footer_bytes)
		r->o.max_footer_bytes = 256u << 20;
	if (!r->o.max_page_bytes)
		r->o.max_page_bytes = 1u << 30;
	if (!r->o.max_page_values)
		r->o.max_page_values = 16u << 20;
	uint8_t tail[8];
	if (r->size < 12) {
		err_set(e, EX_DATAERR, "%s: not a Parquet file (only %llu bytes)", r->name,
		        (unsigned long long)r->size);
		goto fail;
	}
	if (read_at(r, r->size - 8, 8, tail, e) < 0)
		goto fail;
	if (memcmp(tail + 4, "PARE", 4) == 0) {
		err_set(e, EX_DATAERR, "%s: encrypted Parquet files are not supported", r->name);
		goto fail;
	}
	if (memcmp(tail + 4, "PAR1", 4) != 0) {
		err_set(e, EX_DATAERR, "%s: not a Parquet file (no PAR1 at the end)", r->name);
		goto fail;
	}
	uint32_t flen = pq_load32(tail);
	if ((uint64_t)flen > r->size - 12 || flen > r->o.max_footer_bytes || flen == 0) {
		err_set(e, EX_DATAERR, "%s: footer length %u does not fit the file", r->name, flen);
		goto fail;
	}
	uint64_t foff = r->size - 8 - flen;
	const uint8_t *fp;
	if (r->mem) {
		fp = r->mem + foff;
	} else {
		if (!(r->footer_buf = malloc(flen))) {
			err_set(e, EX_SOFTWARE, "%s: out of memory", r->name);
			goto fail;
		}
		if (read_at(r, foff, flen, r->footer_buf, e) < 0)
			goto fail;
		fp = r->footer_buf;
	}
	if (pq_footer_parse(fp, flen, &r->ft, why, sizeof why) < 0 ||
	    (!r->o.skip_crc && pq_footer_verify(fp, flen, &r->ft, why, sizeof why) < 0)) {
		err_set(e, EX_DATAERR, "%s: %s", r->name, why);
		goto fail;
	}
	if (build_schema(r, why, sizeof why) < 0) {
		err_set(e, EX_DATAERR, "%s: %s", r->name, why);
		goto fail;
	}
	if (check_chunks(r, foff, e) < 0)
		goto fail;
	if (setup_fields(r) < 0) {
		err_set(e, EX_SOFTWARE, "%s: out of memory", r->name);
		goto fail;
	}
	return r;
fail:
	reader_free(r);
	return NULL;
}

struct pq_reader *pq_reader_open(const char *path, const struct pq_read_options *o,
                                 struct err_msg *e)
{
	struct pq_reader *r = calloc(1, sizeof *r);
	if (!r || !(r->name = strdup(path))) {
		free(r);
		err_set(e, EX_SOFTWARE, "%s: out of memory", path);
		return NULL;
	}
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		err_set(e, EX_IOERR, "%s: %s", path, strerror(errno));
		reader_free(r);
		return NULL;
	}
	struct stat sb;
	if (fstat(r->fd, &sb) < 0) {
		err_set(e, EX_IOERR, "%s: cannot stat: %s", path, strerror(errno));
		reader_free(r);
		return NULL;
	}
	if (!S_ISREG(sb.st_mode)) {
		err_set(e, EX_IOERR, "%s: not a regular file", path);
		reader_free(r);
		return NULL;
	}
	r->size = (uint64_t)sb.st_size;
	return open_common(r, o, e);
}

struct pq_reader *pq_reader_open_mem(const void *data, size_t len, const char *name,
                                     const struct pq_read_options *o, struct err_msg *e)
{
	struct pq_reader *r = calloc(1, sizeof *r);
	if (!r || !(r->name = strdup(name))) {
		free(r);
		err_set(e, EX_SOFTWARE, "%s: out of memory", name);
		return NULL;
	}
	r->fd = -1;
	r->mem = data;
	r->size = len;
	return open_common(r, o, e);
}

/* -------------------------------------------------------------- accessors */

const struct pq_schema *pq_reader_schema(const struct pq_reader *r)
{
	return r->s;
}

int64_t pq_reader_num_rows(const struct pq_reader *r)
{
	return r->ft.num_rows;
}

int pq_reader_num_row_groups(const struct pq_reader *r)
{
	return r->ft.nrg;
}

int64_t pq_reader_row_group_rows(const struct pq_reader *r, int rg)
{
	return rg >= 0 && rg < r->ft.nrg ? r->ft.rg[rg].num_rows : -1;
}

const char *pq_reader_created_by(const struct pq_reader *r)
{
	return r->ft.created_by;
}

size_t pq_reader_num_kv(const struct pq_reader *r)
{
	return r->ft.nkv;
}

const struct pq_kv *pq_reader_kv(const struct pq_reader *r, size_t i)
{
	return i < r->ft.nkv ? &r->ft.kv[i] : NULL;
}

size_t pq_reader_num_elements(const struct pq_reader *r)
{
	return r->ft.nel;
}

const struct pq_element *pq_reader_element(const struct pq_reader *r, size_t i)
{
	return i < r->ft.nel ? &r->ft.el[i] : NULL;
}

int pq_reader_checksummed(const struct pq_reader *r)
{
	return r->ft.crc_text && !r->o.skip_crc;
}

int pq_reader_chunk_info(const struct pq_reader *r, int rg, int leaf, struct pq_chunk_info *ci)
{
	if (rg < 0 || rg >= r->ft.nrg || leaf < 0 || leaf >= r->s->nleaves)
		return -1;
	const struct pq_colchunk *c = &r->ft.rg[rg].cols[leaf];
	memset(ci, 0, sizeof *ci);
	ci->type = c->type;
	ci->codec = c->codec;
	ci->nencodings = c->nencodings;
	memcpy(ci->encodings, c->encodings, sizeof ci->encodings);
	ci->num_values = c->num_values;
	ci->total_compressed_size = c->total_comp;
	ci->total_uncompressed_size = c->total_unc;
	ci->data_page_offset = c->data_off;
	ci->dictionary_page_offset = c->dict_off >= 4 ? c->dict_off : -1;
	ci->max_def = r->s->leaves[leaf].max_def;
	ci->max_rep = r->s->leaves[leaf].max_rep;
	return 0;
}

size_t pq_reader_column_path(const struct pq_reader *r, int leaf, char *out, size_t n)
{
	size_t len = 0;
	if (leaf < 0 || leaf >= r->s->nleaves) {
		if (n)
			out[0] = '\0';
		return 0;
	}
	const struct pq_leaf *lf = &r->s->leaves[leaf];
	for (int i = 0; i < lf->npath; i++) {
		for (const char *p = i ? "." : ""; *p; p++, len++)
			if (len + 1 < n)
				out[len] = *p;
		for (const char *p = lf->path[i]; *p; p++, len++)
			if (len + 1 < n)
				out[len] = *p;
	}
	if (n)
		out[len < n ? len : n - 1] = '\0';
	return len;
}

/* ------------------------------------------------------------ the cursor */

static int cfail(struct pq_column *c, struct err_msg *e, const char *fmt, ...) ERR_PRINTF(3, 4);

static int cfail(struct pq_column *c, struct err_msg *e, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	err_set(e, EX_DATAERR, "%s: %s: %s", c->r->name, c->label, msg);
	return -1;
}

static int cnomem(struct pq_column *c, struct err_msg *e)
{
	err_set(e, EX_SOFTWARE, "%s: %s: out of memory", c->r->name, c->label);
	return -1;
}

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

static int grow_to(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 256;
	while (c < need)
		c *= 2;
	void *q = realloc(*p, c * size);
	if (!q)
		return -1;
	*p = q;
	*cap = c;
	return 0;
}

/*
 * Walk the page headers of a chunk before any of its values are used: every
 * page's CRC, when it has one, must match its bytes, and the data pages must
 * hold the chunk's number of values.  A damaged page, or a damaged header
 * whose page would be skipped or cut short (which shifts the values of every
 * row after it), is refused here, before any row of the row group is given
 * out.  The headers are small next to the pages, and the CRC runs over the
 * pages as stored (compressed), which costs little next to decoding them.
 */
static int scan_pages(struct pq_column *c, struct err_msg *e)
{
	int64_t values = 0;
	size_t pos = 0;
	for (int page = 1; pos < c->clen; page++) {
		struct pq_page_header h;
		size_t used;
		const char *why;
		if (pq_page_header_parse(c->chunk + pos, c->clen - pos, &h, &used, &why) < 0)
			return cfail(c, e, "page %d: %s", page, why);
		pos += used;
		if ((size_t)h.comp > c->clen - pos)
			return cfail(c, e, "page %d: %d bytes run past the column chunk", page,
			             h.comp);
		if (h.has_crc && !c->r->o.skip_crc) {
			uint32_t crc = pq_crc32(0, c->chunk + pos, (size_t)h.comp);
			if (crc != h.crc)
				return cfail(c, e,
				             "page %d: checksum mismatch, the page is damaged "
				             "(CRC-32 %08x in its header, %08x over its %d bytes)",
				             page, h.crc, crc, h.comp);
		}
		pos += (size_t)h.comp;
		if (h.type == PQ_PAGE_DATA || h.type == PQ_PAGE_DATA_V2) {
			if (h.num_values < 0)
				return cfail(c, e, "page %d: negative value count", page);
			values += h.num_values;
			if (values > c->values_left)
				return cfail(c, e,
				             "page %d: more values than the column chunk's %lld",
				             page, (long long)c->values_left);
		}
	}
	if (values != c->values_left)
		return cfail(c, e, "its pages hold %lld values, the column chunk %lld",
		             (long long)values, (long long)c->values_left);
	return 0;
}

static struct pq_column *column_new(struct pq_reader *r, int rg, int leaf, int shared_codec,
                                    struct err_msg *e)
{
	char path[256];
	struct pq_column *c = calloc(1, sizeof *c);
	if (!c) {
		err_set(e, EX_SOFTWARE, "%s: out of memory", r->name);
		return NULL;
	}
	const struct pq_colchunk *cc = &r->ft.rg[rg].cols[leaf];
	c->r = r;
	c->rg = rg;
	c->leaf = leaf;
	c->lf = &r->s->leaves[leaf];
	c->kind = pq_type_kind(r->s->f[c->lf->field].pub.type);
	c->ksize = kind_size(c->kind);
	pq_schema_path(r->s, c->lf->field, path, sizeof path);
	snprintf(c->label, sizeof c->label, "row group %d, column %s", rg, path);
	if (!pq_codec_supported(cc->codec)) {
		const char *nm = pq_codec_name(cc->codec);
		cfail(c, e, "unsupported compression codec %s", nm ? nm : "(unknown)");
		free(c);
		return NULL;
	}
	/* The caller's contexts serve every read (one set of zstd buffers, not two). */
	if (shared_codec || r->o.codec) {
		c->codec = r->o.codec ? r->o.codec : r->codec;
	} else {
		c->codec = pq_codec_new();
		c->own_codec = 1;
		if (!c->codec) {
			cnomem(c, e);
			free(c);
			return NULL;
		}
	}
	int64_t start =
	    cc->dict_off >= 4 && cc->dict_off < cc->data_off ? cc->dict_off : cc->data_off;
	c->clen = (size_t)cc->total_comp;
	c->values_left = cc->num_values;
	c->rows_left = r->ft.rg[rg].num_rows;
	if (r->mem) {
		c->chunk = r->mem + start;
	} else {
		c->chunk_owned = malloc(c->clen ? c->clen : 1);
		if (!c->chunk_owned) {
			cnomem(c, e);
			pq_column_close(c);
			return NULL;
		}
		if (read_at(r, (uint64_t)start, c->clen, c->chunk_owned, e) < 0) {
			pq_column_close(c);
			return NULL;
		}
		c->chunk = c->chunk_owned;
	}
	if (scan_pages(c, e) < 0) {
		pq_column_close(c);
		return NULL;
	}
	return c;
}

void pq_column_close(struct pq_column *c)
{
	if (!c)
		return;
	if (c->own_codec)
		pq_codec_free(c->codec);
	free(c->chunk_owned);
	free(c->dict);
	pq_buf_free(&c->dict_page);
	pq_buf_free(&c->page);
	pq_buf_free(&c->dba);
	pq_buf_free(&c->scratch);
	free(c->def);
	free(c->rep);
	free(c->vals);
	free(c->idx);
	free(c->out);
	free(c->valid);
	free(c);
}

/* ---------------------------------------------------------- conversions */

/* Turn n fixed-width physical values at src into the column's kind at dst. */
static int convert_fixed(struct pq_column *c, const uint8_t *src, size_t n, uint8_t *dst,
                         struct err_msg *e)
{
	const struct pq_leaf *lf = c->lf;
	switch (lf->phys) {
	case PQ_PT_INT32:
		if (c->kind == PQ_V_I32) {
			memcpy(dst, src, n * 4);
		} else if (c->kind == PQ_V_I64) {
			int64_t *o = (int64_t *)(void *)dst;
			for (size_t i = 0; i < n; i++)
				o[i] = pq_load32(src + 4 * i);
		} else {
			pq_int128 *o = (pq_int128 *)(void *)dst;
			for (size_t i = 0; i < n; i++)
				o[i] = (int32_t)pq_load32(src + 4 * i);
		}
		return 0;
	case PQ_PT_INT64:
		if (c->kind == PQ_V_DEC) {
			pq_int128 *o = (pq_int128 *)(void *)dst;
			for (size_t i = 0; i < n; i++) {
				uint64_t u = pq_load64(src + 8 * i);
				o[i] = lf->conv == PQ_CONV_U64_TO_DEC ? (pq_int128)u
				                                      : (pq_int128)(int64_t)u;
			}
			return 0;
		}
		if (lf->conv == PQ_CONV_NONE) {
			memcpy(dst, src, n * 8);
			return 0;
		}
		for (size_t i = 0; i < n; i++) {
			int64_t x = (int64_t)pq_load64(src + 8 * i);
			if (lf->conv == PQ_CONV_MILLIS) {
				if (x > INT64_MAX / 1000 || x < INT64_MIN / 1000)
					return cfail(c, e, "millisecond timestamp out of range");
				x *= 1000;
			} else {
				x = x / 1000 - (x % 1000 < 0);
			}
			memcpy(dst + 8 * i, &x, 8);
		}
		return 0;
	case PQ_PT_INT96:
		for (size_t i = 0; i < n; i++) {
			uint64_t nanos = pq_load64(src + 12 * i);
			int64_t day = (int32_t)pq_load32(src + 12 * i + 8);
			__int128 us = (__int128)(day - JULIAN_EPOCH) * 86400000000LL +
			              (__int128)(nanos / 1000);
			if (us > INT64_MAX || us < INT64_MIN)
				return cfail(c, e, "INT96 timestamp out of range");
			int64_t x = (int64_t)us;
			memcpy(dst + 8 * i, &x, 8);
		}
		return 0;
	default: /* FLOAT, DOUBLE */
		memcpy(dst, src, n * c->ksize);
		return 0;
	}
}

/* Turn n byte strings into the column's kind (strings, or decimals). */
static int convert_refs(struct pq_column *c, const struct pq_bytes *refs, size_t n, uint8_t *dst,
                        struct err_msg *e)
{
	if (c->kind == PQ_V_BYTES) {
		if ((const uint8_t *)refs != dst)
			memmove(dst, refs, n * sizeof *refs);
		return 0;
	}
	pq_int128 *o = (pq_int128 *)(void *)dst;
	for (size_t i = 0; i < n; i++) {
		struct pq_bytes b = refs[i];
		if (b.len > 16)
			return cfail(c, e, "decimal value of %zu bytes", b.len);
		unsigned __int128 u = b.len && (b.p[0] & 0x80) ? ~(unsigned __int128)0 : 0;
		for (size_t k = 0; k < b.len; k++)
			u = u << 8 | b.p[k];
		o[i] = (pq_int128)u;
	}
	return 0;
}

/*
 * PLAIN values: n of them from p[0..len) into dst (the column's kind).
 * Byte strings point into p.
 */
static int decode_plain(struct pq_column *c, const uint8_t *p, size_t len, size_t n, uint8_t *dst,
                        struct err_msg *e)
{
	const struct pq_leaf *lf = c->lf;
	size_t w = 0;
	switch (lf->phys) {
	case PQ_PT_BOOLEAN:
		if (len < (n + 7) / 8)
			return cfail(c, e, "page %d: boolean values end early", c->pages);
		for (size_t i = 0; i < n; i++)
			dst[i] = (p[i >> 3] >> (i & 7)) & 1;
		return 0;
	case PQ_PT_INT32:
	case PQ_PT_FLOAT:
		w = 4;
		break;
	case PQ_PT_INT64:
	case PQ_PT_DOUBLE:
		w = 8;
		break;
	case PQ_PT_INT96:
		w = 12;
		break;
	case PQ_PT_BYTE_ARRAY: {
		/* Decimals are decoded after the refs, so the refs go to the scratch buffer. */
		struct pq_bytes *refs = (struct pq_bytes *)(void *)dst;
		if (c->kind == PQ_V_DEC) {
			c->scratch.len = 0;
			if (pq_buf_reserve(&c->scratch, (n ? n : 1) * sizeof *refs) < 0)
				return cnomem(c, e);
			refs = (struct pq_bytes *)(void *)c->scratch.p;
		}
		size_t off = 0;
		for (size_t i = 0; i < n; i++) {
			if (len - off < 4)
				return cfail(c, e, "page %d: string values end early", c->pages);
			uint32_t l = pq_load32(p + off);
			off += 4;
			if (l > len - off)
				return cfail(c, e, "page %d: string value runs past the page",
				             c->pages);
			refs[i].p = p + off;
			refs[i].len = l;
			off += l;
		}
		return convert_refs(c, refs, n, dst, e);
	}
	default: { /* FIXED_LEN_BYTE_ARRAY */
		size_t k = (size_t)lf->type_length;
		if (n && len / n < k)
			return cfail(c, e, "page %d: fixed-length values end early", c->pages);
		struct pq_bytes *refs = (struct pq_bytes *)(void *)dst;
		if (c->kind == PQ_V_DEC) {
			c->scratch.len = 0;
			if (pq_buf_reserve(&c->scratch, (n ? n : 1) * sizeof *refs) < 0)
				return cnomem(c, e);
			refs = (struct pq_bytes *)(void *)c->scratch.p;
		}
		for (size_t i = 0; i < n; i++) {
			refs[i].p = p + i * k;
			refs[i].len = k;
		}
		return convert_refs(c, refs, n, dst, e);
	}
	}
	if (n && len / n < w)
		return cfail(c, e, "page %d: values end early (%zu bytes for %zu values)", c->pages,
		             len, n);
	return convert_fixed(c, p, n, dst, e);
}

static int decode_dictionary(struct pq_column *c, const struct pq_page_header *h,
                             const uint8_t *body, struct err_msg *e)
{
	const char *why;
	if (c->has_dict)
		return cfail(c, e, "second dictionary page");
	if (c->data_pages)
		return cfail(c, e, "dictionary page after a data page");
	if (h->dict_encoding != PQ_ENC_PLAIN && h->dict_encoding != PQ_ENC_PLAIN_DICTIONARY)
		return cfail(c, e, "dictionary page in unsupported encoding %d", h->dict_encoding);
	if (c->lf->phys == PQ_PT_BOOLEAN)
		return cfail(c, e, "dictionary page in a boolean column");
	if (h->dict_values < 0)
		return cfail(c, e, "dictionary page with a negative count");
	if ((size_t)h->unc > c->r->o.max_page_bytes)
		return cfail(c, e, "dictionary page of %d bytes is over the limit", h->unc);
	size_t n = (size_t)h->dict_values;
	/* Every PLAIN value takes at least one byte (four for strings). */
	if (n > (size_t)h->unc)
		return cfail(c, e, "dictionary page claims %zu values in %d bytes", n, h->unc);
	if (pq_buf_reserve(&c->dict_page, (size_t)h->unc + 1) < 0)
		return cnomem(c, e);
	if (pq_decompress(c->codec, c->r->ft.rg[c->rg].cols[c->leaf].codec, body, (size_t)h->comp,
	                  c->dict_page.p, (size_t)h->unc, &why) < 0)
		return cfail(c, e, "dictionary page: %s", why);
	c->dict_page.len = (size_t)h->unc;
	c->dict = malloc((n ? n : 1) * c->ksize);
	if (!c->dict)
		return cnomem(c, e);
	if (decode_plain(c, c->dict_page.p, c->dict_page.len, n, c->dict, e) < 0)
		return -1;
	/* Strings that need rebuilding for a decimal went through scratch; values are kept. */
	c->ndict = n;
	c->has_dict = 1;
	return 0;
}

static int levels_max(const uint16_t *lv, size_t n)
{
	uint16_t m = 0;
	for (size_t i = 0; i < n; i++)
		m = lv[i] > m ? lv[i] : m;
	return m;
}

/*
 * Levels of n entries from *p (advanced past them): V1 pages prefix RLE
 * levels with their length, BIT_PACKED levels take a computed length, V2
 * pages pass their length as v2len.
 */
/* Is p[0..len) one run of at least n levels, all equal to max (a page without nulls)? */
static int one_run_of(const uint8_t *p, size_t len, int max, size_t n)
{
	const uint8_t *q = p;
	uint64_t h;
	if (pq_uleb_get(&q, p + len, &h) < 0 || (h & 1) || (h >> 1) < n)
		return 0;
	size_t vb = ((size_t)pq_bit_width((uint64_t)max) + 7) / 8, left = (size_t)(p + len - q);
	if (vb > left)
		return 0;
	unsigned v = 0;
	for (size_t k = 0; k < vb; k++)
		v |= (unsigned)q[k] << (8 * k);
	return v == (unsigned)max;
}

static int decode_levels(struct pq_column *c, const char *what, int enc, const uint8_t **p,
                         const uint8_t *end, size_t v2len, int v2, uint16_t *out, size_t n, int max,
                         int *all_max, struct err_msg *e)
{
	const char *why;
	int w = pq_bit_width((uint64_t)max);
	size_t avail = (size_t)(end - *p), len;
	if (all_max)
		*all_max = 0;
	if (v2 || enc == PQ_ENC_RLE) {
		if (v2) {
			len = v2len;
		} else {
			if (avail < 4)
				return cfail(c, e, "page %d: %s levels end early", c->pages, what);
			len = pq_load32(*p);
			*p += 4;
			if (len > avail - 4)
				return cfail(c, e, "page %d: %s levels run past the page", c->pages,
				             what);
		}
		/* Pages without nulls need no level array (see def_at()). */
		if (all_max && one_run_of(*p, len, max, n)) {
			*all_max = 1;
			*p += len;
			return 0;
		}
		if (pq_rle_decode16(*p, len, w, out, n, &why) < 0)
			return cfail(c, e, "page %d: %s levels: %s", c->pages, what, why);
	} else if (enc == PQ_ENC_BIT_PACKED) {
		len = (n * (size_t)w + 7) / 8;
		if (pq_bitpacked_legacy_decode16(*p, avail, w, out, n, &why) < 0)
			return cfail(c, e, "page %d: %s levels: %s", c->pages, what, why);
	} else {
		return cfail(c, e, "page %d: %s levels in unsupported encoding %d", c->pages, what,
		             enc);
	}
	*p += len;
	int m = levels_max(out, n);
	if (m > max)
		return cfail(c, e, "page %d: %s level %d out of range (maximum %d)", c->pages, what,
		             m, max);
	return 0;
}

/* out[i] = dict[idx[i]] for values of k bytes (indices already checked). */
static void gather(uint8_t *out, const uint8_t *dict, const uint32_t *idx, size_t n, size_t k)
{
	switch (k) {
	case 4:
		for (size_t i = 0; i < n; i++)
			memcpy(out + 4 * i, dict + 4 * (size_t)idx[i], 4);
		break;
	case 8:
		for (size_t i = 0; i < n; i++)
			memcpy(out + 8 * i, dict + 8 * (size_t)idx[i], 8);
		break;
	case 16:
		for (size_t i = 0; i < n; i++)
			memcpy(out + 16 * i, dict + 16 * (size_t)idx[i], 16);
		break;
	default:
		for (size_t i = 0; i < n; i++)
			out[i] = dict[idx[i]];
		break;
	}
}

/* The width of a value in BYTE_STREAM_SPLIT for the column, or 0 when it cannot be split. */
static size_t bss_width(const struct pq_leaf *lf)
{
	switch (lf->phys) {
	case PQ_PT_INT32:
	case PQ_PT_FLOAT:
		return 4;
	case PQ_PT_INT64:
	case PQ_PT_DOUBLE:
		return 8;
	case PQ_PT_FLBA:
		return (size_t)lf->type_length;
	default:
		return 0;
	}
}

/*
 * Can a data page in encoding enc hold this column's values?  What the
 * header alone decides, before any value is decoded: both a read
 * (decode_values()) and a check without decoding (pq_column_verify())
 * refuse the same pages.
 */
static int encoding_fits(struct pq_column *c, int enc, struct err_msg *e)
{
	const struct pq_leaf *lf = c->lf;
	switch (enc) {
	case PQ_ENC_PLAIN:
		return 0;
	case PQ_ENC_PLAIN_DICTIONARY:
	case PQ_ENC_RLE_DICTIONARY:
		if (!c->has_dict)
			return cfail(c, e, "page %d: dictionary-encoded page without a dictionary",
			             c->pages);
		return 0;
	case PQ_ENC_RLE:
		if (lf->phys != PQ_PT_BOOLEAN)
			return cfail(c, e, "page %d: RLE values in a non-boolean column", c->pages);
		return 0;
	case PQ_ENC_DELTA_BINARY_PACKED:
		if (lf->phys != PQ_PT_INT32 && lf->phys != PQ_PT_INT64)
			return cfail(c, e, "page %d: DELTA_BINARY_PACKED in a %s column", c->pages,
			             pq_physical_name(lf->phys));
		return 0;
	case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
	case PQ_ENC_DELTA_BYTE_ARRAY:
		if (lf->phys != PQ_PT_BYTE_ARRAY &&
		    !(enc == PQ_ENC_DELTA_BYTE_ARRAY && lf->phys == PQ_PT_FLBA))
			return cfail(c, e, "page %d: %s in a %s column", c->pages,
			             pq_encoding_name(enc), pq_physical_name(lf->phys));
		return 0;
	case PQ_ENC_BYTE_STREAM_SPLIT:
		if (!bss_width(lf))
			return cfail(c, e, "page %d: BYTE_STREAM_SPLIT in a %s column", c->pages,
			             pq_physical_name(lf->phys));
		return 0;
	default: {
		const char *nm = pq_encoding_name(enc);
		return cfail(c, e, "page %d: unsupported encoding %s", c->pages,
		             nm ? nm : "(unknown)");
	}
	}
}

/* Values of a data page: nn (non-null) values from p[0..len) in encoding enc. */
static int decode_values(struct pq_column *c, int enc, const uint8_t *p, size_t len, size_t nn,
                         struct err_msg *e)
{
	const char *why;
	const struct pq_leaf *lf = c->lf;
	size_t used;
	if (encoding_fits(c, enc, e) < 0)
		return -1;
	if (grow_to((void **)&c->vals, &c->vcap, nn + 1, c->ksize) < 0)
		return cnomem(c, e);
	switch (enc) {
	case PQ_ENC_PLAIN_DICTIONARY:
	case PQ_ENC_RLE_DICTIONARY: {
		if (nn == 0)
			return 0;
		if (len < 1)
			return cfail(c, e, "page %d: dictionary indices missing", c->pages);
		if (p[0] > 32)
			return cfail(c, e, "page %d: dictionary index width %d", c->pages, p[0]);
		if (grow_to((void **)&c->idx, &c->idxcap, nn, sizeof *c->idx) < 0)
			return cnomem(c, e);
		if (pq_rle_decode32(p + 1, len - 1, p[0], c->idx, nn, &why) < 0)
			return cfail(c, e, "page %d: dictionary indices: %s", c->pages, why);
		uint32_t top = 0;
		for (size_t i = 0; i < nn; i++)
			top = c->idx[i] > top ? c->idx[i] : top;
		if (top >= c->ndict)
			return cfail(c, e,
			             "page %d: dictionary index %u out of range "
			             "(dictionary has %zu entries)",
			             c->pages, top, c->ndict);
		gather(c->vals, c->dict, c->idx, nn, c->ksize);
		return 0;
	}
	case PQ_ENC_RLE: {
		if (len < 4 || pq_load32(p) > len - 4)
			return cfail(c, e, "page %d: RLE values end early", c->pages);
		if (grow_to((void **)&c->idx, &c->idxcap, nn + 1, sizeof *c->idx) < 0)
			return cnomem(c, e);
		if (pq_rle_decode32(p + 4, pq_load32(p), 1, c->idx, nn, &why) < 0)
			return cfail(c, e, "page %d: RLE values: %s", c->pages, why);
		for (size_t i = 0; i < nn; i++)
			c->vals[i] = (uint8_t)c->idx[i];
		return 0;
	}
	case PQ_ENC_DELTA_BINARY_PACKED: {
		size_t w = lf->phys == PQ_PT_INT32 ? 4 : 8;
		uint8_t *dst = c->vals;
		if (c->kind == PQ_V_DEC && lf->conv == PQ_CONV_INT_TO_DEC) {
			if (pq_dbp_decode_wide(p, len, (pq_int128 *)(void *)dst, w == 4, nn, &used,
			                       &why) < 0)
				return cfail(c, e, "page %d: %s", c->pages, why);
			return 0;
		}
		int direct = (w == 4 && c->kind == PQ_V_I32) ||
		             (w == 8 && c->kind == PQ_V_I64 && lf->conv == PQ_CONV_NONE);
		if (!direct) {
			c->scratch.len = 0;
			if (pq_buf_reserve(&c->scratch, (nn ? nn : 1) * w) < 0)
				return cnomem(c, e);
			dst = c->scratch.p;
		}
		int rc = w == 4 ? pq_dbp_decode32(p, len, (int32_t *)(void *)dst, nn, &used, &why)
		                : pq_dbp_decode64(p, len, (int64_t *)(void *)dst, nn, &used, &why);
		if (rc < 0)
			return cfail(c, e, "page %d: %s", c->pages, why);
		return direct ? 0 : convert_fixed(c, dst, nn, c->vals, e);
	}
	case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
	case PQ_ENC_DELTA_BYTE_ARRAY: {
		struct pq_bytes *refs = (struct pq_bytes *)(void *)c->vals;
		if (c->kind == PQ_V_DEC) {
			c->scratch.len = 0;
			if (pq_buf_reserve(&c->scratch, (nn ? nn : 1) * sizeof *refs) < 0)
				return cnomem(c, e);
			refs = (struct pq_bytes *)(void *)c->scratch.p;
		}
		int rc =
		    enc == PQ_ENC_DELTA_LENGTH_BYTE_ARRAY
		        ? pq_dlba_decode(p, len, refs, nn, &used, &why)
		        : pq_dba_decode(p, len, refs, nn, &c->dba, c->r->o.max_page_bytes, &why);
		if (rc < 0)
			return cfail(c, e, "page %d: %s", c->pages, why);
		if (lf->phys == PQ_PT_FLBA)
			for (size_t i = 0; i < nn; i++)
				if (refs[i].len != (size_t)lf->type_length)
					return cfail(c, e, "page %d: value of the wrong length",
					             c->pages);
		return convert_refs(c, refs, nn, c->vals, e);
	}
	case PQ_ENC_BYTE_STREAM_SPLIT: {
		size_t k = bss_width(lf);
		if (nn && len / nn < k)
			return cfail(c, e, "page %d: BYTE_STREAM_SPLIT values end early", c->pages);
		/* The values are needed as plain bytes; then they decode like PLAIN. */
		if (pq_buf_reserve(&c->dba, (nn ? nn : 1) * k) < 0)
			return cnomem(c, e);
		pq_bss_decode(c->dba.p, p, nn, k);
		return decode_plain(c, c->dba.p, nn * k, nn, c->vals, e);
	}
	default: /* PLAIN: encoding_fits() let no other encoding through */
		return decode_plain(c, p, len, nn, c->vals, e);
	}
}

/* A data page's counts and size against the chunk and the reader's limits. */
static int data_page_fits(struct pq_column *c, const struct pq_page_header *h, struct err_msg *e)
{
	if (h->num_values < 0)
		return cfail(c, e, "page %d: negative value count", c->pages);
	size_t n = (size_t)h->num_values;
	if ((int64_t)n > c->values_left)
		return cfail(c, e, "page %d: more values than the column chunk's %lld", c->pages,
		             (long long)c->r->ft.rg[c->rg].cols[c->leaf].num_values);
	if (n > c->r->o.max_page_values)
		return cfail(c, e, "page %d: %zu values, more than the limit of %zu", c->pages, n,
		             c->r->o.max_page_values);
	if ((size_t)h->unc > c->r->o.max_page_bytes)
		return cfail(c, e, "page %d: %d bytes, more than the limit of %zu", c->pages,
		             h->unc, c->r->o.max_page_bytes);
	return 0;
}

static int decode_data_page(struct pq_column *c, const struct pq_page_header *h,
                            const uint8_t *body, struct err_msg *e)
{
	const char *why;
	const struct pq_leaf *lf = c->lf;
	int v2 = h->type == PQ_PAGE_DATA_V2;
	int codec = c->r->ft.rg[c->rg].cols[c->leaf].codec;
	if (data_page_fits(c, h, e) < 0)
		return -1;
	size_t n = (size_t)h->num_values;
	if (grow_to((void **)&c->def, &c->lcap, n + 1, sizeof(uint16_t)) < 0)
		return cnomem(c, e);
	size_t rcap = c->lcap;
	uint16_t *rep = realloc(c->rep, rcap * sizeof *rep);
	if (!rep)
		return cnomem(c, e);
	c->rep = rep;

	const uint8_t *p, *end;
	const uint8_t *vp;
	size_t vlen;
	int all = 0; /* the definition levels are one run of the maximum */
	if (!v2) {
		if (pq_buf_reserve(&c->page, (size_t)h->unc + 1) < 0)
			return cnomem(c, e);
		if (pq_decompress(c->codec, codec, body, (size_t)h->comp, c->page.p, (size_t)h->unc,
		                  &why) < 0)
			return cfail(c, e, "page %d: %s", c->pages, why);
		p = c->page.p;
		end = p + h->unc;
		if (lf->max_rep && decode_levels(c, "repetition", h->rep_enc, &p, end, 0, 0, c->rep,
		                                 n, lf->max_rep, NULL, e) < 0)
			return -1;
		if (lf->max_def && decode_levels(c, "definition", h->def_enc, &p, end, 0, 0, c->def,
		                                 n, lf->max_def, &all, e) < 0)
			return -1;
		vp = p;
		vlen = (size_t)(end - p);
	} else {
		if (h->rep_len < 0 || h->def_len < 0 ||
		    (int64_t)h->rep_len + h->def_len > (int64_t)h->comp ||
		    (int64_t)h->rep_len + h->def_len > (int64_t)h->unc)
			return cfail(c, e, "page %d: level lengths do not fit the page", c->pages);
		/* Levels where the column has none would be read as its values. */
		if ((!lf->max_rep && h->rep_len) || (!lf->max_def && h->def_len))
			return cfail(c, e, "page %d: %s levels in a column without them", c->pages,
			             !lf->max_rep && h->rep_len ? "repetition" : "definition");
		p = body;
		end = body + h->rep_len + h->def_len;
		if (lf->max_rep &&
		    decode_levels(c, "repetition", PQ_ENC_RLE, &p, end, (size_t)h->rep_len, 1,
		                  c->rep, n, lf->max_rep, NULL, e) < 0)
			return -1;
		p = body + h->rep_len;
		if (lf->max_def &&
		    decode_levels(c, "definition", PQ_ENC_RLE, &p, end, (size_t)h->def_len, 1,
		                  c->def, n, lf->max_def, &all, e) < 0)
			return -1;
		const uint8_t *cv = body + h->rep_len + h->def_len;
		size_t clen = (size_t)h->comp - (size_t)h->rep_len - (size_t)h->def_len;
		size_t ulen = (size_t)h->unc - (size_t)h->rep_len - (size_t)h->def_len;
		if (h->is_compressed && codec != PQ_UNCOMPRESSED && !(clen == 0 && ulen == 0)) {
			if (pq_buf_reserve(&c->page, ulen + 1) < 0)
				return cnomem(c, e);
			if (pq_decompress(c->codec, codec, cv, clen, c->page.p, ulen, &why) < 0)
				return cfail(c, e, "page %d: %s", c->pages, why);
			vp = c->page.p;
		} else {
			if (clen != ulen)
				return cfail(c, e, "page %d: uncompressed sizes disagree",
				             c->pages);
			vp = cv;
		}
		vlen = ulen;
	}
	/* Without levels (a required or flat column) def and rep are not filled: see def_at(). */
	size_t nn = n, rows = n;
	if (lf->max_def && !all) {
		nn = 0;
		for (size_t i = 0; i < n; i++)
			nn += c->def[i] == lf->max_def;
	}
	if (lf->max_rep) {
		rows = 0;
		for (size_t i = 0; i < n; i++)
			rows += c->rep[i] == 0;
		if (c->data_pages == 0 && n > 0 && c->rep[0] != 0)
			return cfail(c, e, "page %d: first repetition level is not 0", c->pages);
	}
	if ((int64_t)rows > c->rows_left)
		return cfail(c, e, "page %d: more rows than the row group's %lld", c->pages,
		             (long long)c->r->ft.rg[c->rg].num_rows);
	if (decode_values(c, h->encoding, vp, vlen, nn, e) < 0)
		return -1;
	c->values_left -= (int64_t)n;
	c->rows_left -= (int64_t)rows;
	c->n = n;
	c->pos = 0;
	c->all_present = nn == n;
	c->nv = nn;
	c->vpos = 0;
	c->data_pages++;
	return 0;
}

/* Load the next data page: 1, or 0 at the end of the chunk, -1 on error. */
static int next_page(struct pq_column *c, struct err_msg *e)
{
	for (;;) {
		if (c->values_left == 0) {
			if (c->rows_left != 0)
				return cfail(c, e, "%lld rows fewer than the row group's %lld",
				             (long long)c->rows_left,
				             (long long)c->r->ft.rg[c->rg].num_rows);
			return 0;
		}
		if (c->cpos >= c->clen)
			return cfail(c, e, "column chunk ends %lld values early",
			             (long long)c->values_left);
		struct pq_page_header h;
		size_t used;
		const char *why;
		c->pages++;
		if (pq_page_header_parse(c->chunk + c->cpos, c->clen - c->cpos, &h, &used, &why) <
		    0)
			return cfail(c, e, "page %d: %s", c->pages, why);
		c->cpos += used;
		if ((size_t)h.comp > c->clen - c->cpos)
			return cfail(c, e, "page %d: %d bytes run past the column chunk", c->pages,
			             h.comp);
		const uint8_t *body = c->chunk + c->cpos;
		c->cpos += (size_t)h.comp;
		switch (h.type) {
		case PQ_PAGE_DICTIONARY:
			if (decode_dictionary(c, &h, body, e) < 0)
				return -1;
			break;
		case PQ_PAGE_DATA:
		case PQ_PAGE_DATA_V2:
			if (decode_data_page(c, &h, body, e) < 0)
				return -1;
			if (c->n > 0)
				return 1;
			break;
		default:
			break;
		}
	}
}

/* --------------------------------------------------------- columnar API */

struct pq_column *pq_column_open(struct pq_reader *r, int rg, int leaf, struct err_msg *e)
{
	if (rg < 0 || rg >= r->ft.nrg || leaf < 0 || leaf >= r->s->nleaves) {
		err_set(e, EX_SOFTWARE, "%s: no row group %d or column %d", r->name, rg, leaf);
		return NULL;
	}
	if (r->s->leaves[leaf].max_rep) {
		char nm[256];
		pq_schema_path(r->s, r->s->leaves[leaf].field, nm, sizeof nm);
		err_set(e, EX_SOFTWARE, "%s: column %s is inside a list or map: read rows", r->name,
		        nm);
		return NULL;
	}
	return column_new(r, rg, leaf, 0, e);
}

struct pq_column *pq_column_open_entries(struct pq_reader *r, int rg, int leaf, struct err_msg *e)
{
	if (rg < 0 || rg >= r->ft.nrg || leaf < 0 || leaf >= r->s->nleaves) {
		err_set(e, EX_SOFTWARE, "%s: no row group %d or column %d", r->name, rg, leaf);
		return NULL;
	}
	return column_new(r, rg, leaf, 0, e);
}

/*
 * The one value encoding the footer lists for a column chunk, those of
 * levels (RLE, BIT_PACKED) aside, or -1 when it lists none or several.
 */
static int listed_value_encoding(const struct pq_colchunk *cc)
{
	int enc = -1;
	for (int i = 0; i < cc->nencodings; i++) {
		int x = cc->encodings[i];
		if (x == PQ_ENC_RLE || x == PQ_ENC_BIT_PACKED || x == enc)
			continue;
		if (enc >= 0)
			return -1;
		enc = x;
	}
	return enc;
}

static int listed(const struct pq_colchunk *cc, int enc)
{
	for (int i = 0; i < cc->nencodings; i++)
		if (cc->encodings[i] == enc)
			return 1;
	return 0;
}

/* A level encoding decode_levels() reads (V1 pages), and that the footer lists. */
static int level_encoding_listed(const struct pq_colchunk *cc, int enc)
{
	return (enc == PQ_ENC_RLE || enc == PQ_ENC_BIT_PACKED) && listed(cc, enc);
}

/*
 * Judge a column chunk's pages by their headers (scan_pages() has checked
 * their CRCs): 1 when the headers vouch for every page, 0 when one must be
 * decoded to know, -1 with e set for a page a read would refuse.
 *
 * A page whose bytes match their CRC is as it was written, and so is a
 * footer that matches its own checksum (the schema that says how pages
 * decode: levels, types); without one, nothing is vouched for.  A damaged
 * page header could still make a read decode those bytes another way
 * (another encoding, a dictionary count, level lengths), which only
 * decoding would show.  So a page is vouched for only when its header
 * agrees with what the footer says of the chunk: a V1 data page in the one
 * value encoding the footer lists for a chunk without a dictionary, its
 * level encodings listed too.  Then what a read checks before decoding is
 * checked here (counts and limits, the encoding against the column's
 * type, and the decompressed size, which zstd and snappy state in their
 * own headers).
 */
static int vouch_pages(struct pq_column *c, struct err_msg *e)
{
	const struct pq_colchunk *cc = &c->r->ft.rg[c->rg].cols[c->leaf];
	int enc = listed_value_encoding(cc), rc = 1;
	size_t pos = 0;
	if (enc < 0 || !pq_reader_checksummed(c->r))
		return 0;
	for (c->pages = 1; rc == 1 && pos < c->clen; c->pages++) {
		struct pq_page_header h;
		size_t used, size;
		const char *why;
		if (pq_page_header_parse(c->chunk + pos, c->clen - pos, &h, &used, &why) < 0)
			return cfail(c, e, "page %d: %s", c->pages, why);
		const uint8_t *body = c->chunk + pos + used;
		pos += used + (size_t)h.comp;
		if (h.type != PQ_PAGE_DATA) {
			/* Dictionaries, V2 pages: decoded.  Index pages are skipped by reads too. */
			rc = h.type == PQ_PAGE_DICTIONARY || h.type == PQ_PAGE_DATA_V2 ? 0 : 1;
			continue;
		}
		if (!h.has_crc || h.encoding != enc ||
		    (c->lf->max_rep && !level_encoding_listed(cc, h.rep_enc)) ||
		    (c->lf->max_def && !level_encoding_listed(cc, h.def_enc))) {
			rc = 0;
			continue;
		}
		if (data_page_fits(c, &h, e) < 0 || encoding_fits(c, h.encoding, e) < 0)
			return -1;
		int k = pq_decompressed_size(cc->codec, body, (size_t)h.comp, &size, &why);
		if (k < 0)
			return cfail(c, e, "page %d: %s", c->pages, why);
		if (k == 1 && size != (size_t)h.unc)
			return cfail(c, e,
			             "page %d: decompressed size differs from the page header's",
			             c->pages);
		rc = k; /* a size the data does not state is known by decompressing */
	}
	c->pages = 0;
	return rc;
}

int pq_column_verify(struct pq_reader *r, int rg, int leaf, struct err_msg *e)
{
	if (rg < 0 || rg >= r->ft.nrg || leaf < 0 || leaf >= r->s->nleaves) {
		err_set(e, EX_SOFTWARE, "%s: no row group %d or column %d", r->name, rg, leaf);
		return -1;
	}
	struct pq_column *c = column_new(r, rg, leaf, 1, e);
	if (!c)
		return -1;
	int rc = vouch_pages(c, e);
	if (rc == 0)
		while ((rc = next_page(c, e)) > 0)
			;
	pq_column_close(c);
	return rc < 0 ? -1 : 0;
}

ssize_t pq_column_read(struct pq_column *c, struct pq_column_batch *b, size_t max,
                       struct err_msg *e)
{
	memset(b, 0, sizeof *b);
	while (c->pos >= c->n) {
		int rc = next_page(c, e);
		if (rc <= 0)
			return rc;
	}
	if (max == 0)
		max = 1;
	size_t k = c->n - c->pos;
	if (k > max)
		k = max;
	int md = c->lf->max_def;
	size_t present = k;
	if (md && !c->all_present) {
		present = 0;
		for (size_t i = 0; i < k; i++)
			present += c->def[c->pos + i] == md;
	}
	if (present == k) {
		b->b = c->vals + c->vpos * c->ksize;
		c->vpos += k;
	} else {
		if (grow_to((void **)&c->out, &c->outcap, k, c->ksize) < 0) {
			cnomem(c, e);
			return -1;
		}
		uint8_t *valid = realloc(c->valid, c->outcap);
		if (!valid) {
			cnomem(c, e);
			return -1;
		}
		c->valid = valid;
		for (size_t i = 0; i < k; i++) {
			int ok = c->def[c->pos + i] == md;
			c->valid[i] = (uint8_t)ok;
			if (ok)
				memcpy(c->out + i * c->ksize, c->vals + c->vpos++ * c->ksize,
				       c->ksize);
			else
				memset(c->out + i * c->ksize, 0, c->ksize);
		}
		b->valid = c->valid;
		b->b = c->out;
	}
	if (md && !c->all_present)
		b->def = c->def + c->pos;
	if (c->lf->max_rep)
		b->rep = c->rep + c->pos;
	c->pos += k;
	b->n = k;
	return (ssize_t)k;
}

/* --------------------------------------------------------- row assembly */

/*
 * The field of the leaf whose path in the file (path_in_schema, as the
 * footer names it: "arr.list.element", "m.key_value.key") is path, or -1.
 */
static int leaf_by_file_path(const struct pq_schema *s, const char *path)
{
	for (int l = 0; l < s->nleaf; l++) {
		const struct pq_leaf *lf = &s->leaves[l];
		const char *p = path;
		int k;
		for (k = 0; k < lf->npath; k++) {
			size_t len = strlen(lf->path[k]);
			if (strncmp(p, lf->path[k], len) != 0)
				break;
			p += len;
			if (k + 1 < lf->npath) {
				if (*p != '.')
					break;
				p++;
			}
		}
		if (lf->npath > 0 && k == lf->npath && *p == '\0')
			return lf->field;
	}
	return -1;
}

int pq_reader_select(struct pq_reader *r, const char *const *paths, size_t n, struct err_msg *e)
{
	struct pq_schema *s = r->s;
	if (r->started) {
		err_set(e, EX_SOFTWARE, "%s: columns selected after reading began", r->name);
		return -1;
	}
	if (!paths || n == 0) {
		memset(r->sel, 1, (size_t)s->nf);
		return 0;
	}
	memset(r->sel, 0, (size_t)s->nf);
	r->sel[PQ_ROOT] = 1;
	for (size_t i = 0; i < n; i++) {
		int f = pq_schema_find(s, paths[i]);
		if (f < 0)
			f = leaf_by_file_path(s, paths[i]);
		if (f < 0) {
			err_set(e, EX_DATAERR, "%s: no column %s", r->name, paths[i]);
			return -1;
		}
		/* Inside a list or map, take the outermost one whole. */
		for (int k = f; k > PQ_ROOT; k = s->f[k].pub.parent)
			if (s->f[k].pub.type == PQ_LIST || s->f[k].pub.type == PQ_MAP)
				f = k;
		for (int k = f; k >= 0; k = s->f[k].pub.parent)
			r->sel[k] = 1;
		/* Everything below f: fields are numbered depth-first. */
		for (int k = f + 1; k < s->nf; k++) {
			int a = s->f[k].pub.parent;
			while (a > f)
				a = s->f[a].pub.parent;
			if (a == f)
				r->sel[k] = 1;
		}
	}
	for (int i = 0; i < s->nf; i++) {
		r->first_leaf[i] = -1;
		for (int l = r->leaf_lo[i]; l <= r->leaf_hi[i]; l++)
			if (r->sel[s->leaves[l].field]) {
				r->first_leaf[i] = l;
				break;
			}
	}
	return 0;
}

int pq_reader_selected(const struct pq_reader *r, int field)
{
	return field >= 0 && field < r->s->nf && r->sel[field];
}

void pq_reader_use_row_group(struct pq_reader *r, int rg, int use)
{
	if (rg >= 0 && rg < r->ft.nrg)
		r->use_rg[rg] = use ? 1 : 0;
}

/*
 * The definition level of entry i of the page: the maximum on a page where
 * every entry has a value (whose level array may not be filled; for a
 * column without levels, that is 0).
 */
static inline int def_at(const struct pq_column *c, size_t i)
{
	return c->all_present ? c->lf->max_def : c->def[i];
}

/* Make sure leaf l's cursor has an entry: 1, or 0 at the end of its chunk. */
static int peek(struct pq_reader *r, int l, struct err_msg *e)
{
	struct pq_column *c = r->cur[l];
	while (c->pos >= c->n) {
		int rc = next_page(c, e);
		if (rc <= 0)
			return rc;
	}
	return 1;
}

static int need(struct pq_reader *r, int l, struct err_msg *e)
{
	int rc = peek(r, l, e);
	if (rc == 0)
		return cfail(r->cur[l], e, "column ends before the row group's rows");
	return rc;
}

/* Consume one entry of every selected leaf below field f. */
static int skip_entries(struct pq_reader *r, int f, struct err_msg *e)
{
	for (int l = r->leaf_lo[f]; l <= r->leaf_hi[f]; l++) {
		if (!r->sel[r->s->leaves[l].field])
			continue;
		if (need(r, l, e) < 0)
			return -1;
		struct pq_column *c = r->cur[l];
		if (def_at(c, c->pos) == c->lf->max_def)
			c->vpos++;
		c->pos++;
	}
	return 0;
}

static int leaf_value(struct pq_reader *r, struct pq_column *c, struct pq_value *out,
                      struct err_msg *e)
{
	const uint8_t *v = c->vals + c->vpos++ * c->ksize;
	out->kind = c->kind;
	out->n = 0;
	switch (c->kind) {
	case PQ_V_BOOL:
		out->b = v[0];
		break;
	case PQ_V_I32:
		memcpy(&out->i32, v, 4);
		break;
	case PQ_V_I64:
		memcpy(&out->i64, v, 8);
		break;
	case PQ_V_F32:
		memcpy(&out->f32, v, 4);
		break;
	case PQ_V_F64:
		memcpy(&out->f64, v, 8);
		break;
	case PQ_V_BYTES: {
		struct pq_bytes b;
		memcpy(&b, v, sizeof b);
		/* The page may change before the row is used: copy. */
		uint8_t *p = arena_alloc(&r->arena, b.len);
		if (!p)
			return cnomem(c, e);
		if (b.len)
			memcpy(p, b.p, b.len);
		out->bytes.p = p;
		out->bytes.len = b.len;
		break;
	}
	default:
		memcpy(&out->dec, v, sizeof out->dec);
		break;
	}
	return 0;
}

static int assemble(struct pq_reader *r, int f, struct pq_value *out, int depth, struct err_msg *e);

/* The items of list or map f (one or two values each) into out. */
static int assemble_items(struct pq_reader *r, int f, struct pq_value *out, int depth,
                          struct err_msg *e)
{
	const struct pq_fieldx *x = &r->s->f[f];
	int l = r->first_leaf[f];
	int per = x->pub.type == PQ_MAP ? 2 : 1;
	size_t n = 0;
	if (depth >= MAX_SCHEMA_DEPTH)
		return cfail(r->cur[l], e, "nesting too deep");
	for (;;) {
		if (grow_to((void **)&r->scratch[depth], &r->scratch_cap[depth], (n + 1) * 2,
		            sizeof(struct pq_value)) < 0)
			return cnomem(r->cur[l], e);
		for (int k = 0; k < per; k++)
			if (assemble(r, x->pub.children[k], &r->scratch[depth][n * per + (size_t)k],
			             depth + 1, e) < 0)
				return -1;
		n++;
		int rc = peek(r, l, e);
		if (rc < 0)
			return -1;
		if (rc == 0)
			break;
		struct pq_column *c = r->cur[l];
		int rl = c->rep[c->pos];
		if (rl < x->rl)
			break;
		if (rl > x->rl)
			return cfail(c, e, "repetition level %d where %d or less was due", rl,
			             x->rl);
		if (n >= UINT32_MAX)
			return cfail(c, e, "list too long");
	}
	struct pq_value *items = arena_alloc(&r->arena, n * (size_t)per * sizeof *items);
	if (!items)
		return cnomem(r->cur[l], e);
	memcpy(items, r->scratch[depth], n * (size_t)per * sizeof *items);
	out->items = items;
	out->n = (uint32_t)n;
	return 0;
}

static int assemble(struct pq_reader *r, int f, struct pq_value *out, int depth, struct err_msg *e)
{
	const struct pq_fieldx *x = &r->s->f[f];
	int l = r->first_leaf[f];
	if (need(r, l, e) < 0)
		return -1;
	struct pq_column *c = r->cur[l];
	int d = def_at(c, c->pos);
	memset(out, 0, sizeof *out);
	if (d < x->dl) {
		if (!x->pub.optional)
			return cfail(c, e, "definition level %d leaves a required field empty", d);
		out->kind = PQ_V_NULL;
		return skip_entries(r, f, e);
	}
	switch (x->pub.type) {
	case PQ_STRUCT: {
		int k = 0, n = 0;
		for (int i = 0; i < x->pub.nchildren; i++)
			n += r->sel[x->pub.children[i]];
		struct pq_value *items = arena_alloc(&r->arena, (size_t)n * sizeof *items);
		if (!items)
			return cnomem(c, e);
		out->kind = PQ_V_STRUCT;
		out->items = items;
		out->n = (uint32_t)n;
		for (int i = 0; i < x->pub.nchildren; i++) {
			int ch = x->pub.children[i];
			if (r->sel[ch] && assemble(r, ch, &items[k++], depth, e) < 0)
				return -1;
		}
		return 0;
	}
	case PQ_LIST:
	case PQ_MAP:
		out->kind = x->pub.type == PQ_LIST ? PQ_V_LIST : PQ_V_MAP;
		if (d < x->idl)
			return skip_entries(r, f, e);
		return assemble_items(r, f, out, depth, e);
	default:
		if (d == c->lf->max_def) {
			if (leaf_value(r, c, out, e) < 0)
				return -1;
		} else {
			out->kind = PQ_V_NULL;
		}
		c->pos++;
		return 0;
	}
}

/* Open cursors for the selected leaves of row group g. */
static int open_row_group(struct pq_reader *r, int g, struct err_msg *e)
{
	for (int l = 0; l < r->s->nleaves; l++) {
		pq_column_close(r->cur[l]);
		r->cur[l] = NULL;
		if (!r->sel[r->s->leaves[l].field])
			continue;
		if (!(r->cur[l] = column_new(r, g, l, 1, e)))
			return -1;
	}
	r->cur_rg = g;
	r->row_in_rg = 0;
	return 0;
}

/* After the last row of a row group: every cursor must be at its end. */
static int finish_row_group(struct pq_reader *r, struct err_msg *e)
{
	for (int l = 0; l < r->s->nleaves; l++) {
		if (!r->cur[l])
			continue;
		int rc = peek(r, l, e);
		if (rc < 0)
			return -1;
		if (rc > 0)
			return cfail(r->cur[l], e, "more rows than the row group's %lld",
			             (long long)r->ft.rg[r->cur_rg].num_rows);
	}
	return 0;
}

/*
 * Position the cursors at the next row, past the row groups that are done
 * (each checked at its end) or left out: 1, 0 after the last row, -1.
 */
static int row_ready(struct pq_reader *r, struct err_msg *e)
{
	struct pq_schema *s = r->s;
	if (!r->started) {
		r->started = 1;
		r->cur_rg = -1;
		r->row_in_rg = 0;
	}
	if (r->done)
		return 0;
	while (r->cur_rg < 0 || r->row_in_rg >= r->ft.rg[r->cur_rg].num_rows) {
		if (r->cur_rg >= 0 && finish_row_group(r, e) < 0)
			return -1;
		int g = r->cur_rg + 1;
		while (g < r->ft.nrg && !r->use_rg[g])
			g++;
		if (g >= r->ft.nrg) {
			for (int l = 0; l < s->nleaves; l++) {
				pq_column_close(r->cur[l]);
				r->cur[l] = NULL;
			}
			r->done = 1;
			return 0;
		}
		if (open_row_group(r, g, e) < 0)
			return -1;
	}
	/* Each row starts with repetition level 0 in every column. */
	for (int l = 0; l < s->nleaves; l++) {
		if (!r->cur[l] || !r->cur[l]->lf->max_rep)
			continue;
		if (need(r, l, e) < 0)
			return -1;
		struct pq_column *c = r->cur[l];
		if (c->rep[c->pos] != 0)
			return cfail(c, e, "row starts with repetition level %d", c->rep[c->pos]);
	}
	return 1;
}

/*
 * Rows of the current row group from the cursors on in which every
 * selected top-level field is null, counted within the pages the fields'
 * first leaves have loaded (at most max): 0 when the next row has one set,
 * or a required one empty (pq_reader_next_row() tells which).
 */
static int64_t null_run(struct pq_reader *r, int64_t max)
{
	struct pq_schema *s = r->s;
	const struct pq_field *root = &s->f[PQ_ROOT].pub;
	int64_t left = r->ft.rg[r->cur_rg].num_rows - r->row_in_rg;
	int64_t k = max < left ? max : left;
	for (int i = 0; i < root->nchildren && k > 0; i++) {
		int ch = root->children[i];
		if (!r->sel[ch])
			continue;
		int l = r->first_leaf[ch];
		if (l < 0 || !s->f[ch].pub.optional)
			return 0;
		const struct pq_column *c = r->cur[l];
		int dl = s->f[ch].dl;
		int64_t j = 0;
		/* A page whose entries all have a value holds no null row. */
		if (!c->all_present)
			while (j < k && c->pos + (size_t)j < c->n &&
			       c->def[c->pos + (size_t)j] < dl)
				j++;
		k = j;
	}
	return k;
}

int64_t pq_reader_skip_null_rows(struct pq_reader *r, int64_t max, struct err_msg *e)
{
	struct pq_schema *s = r->s;
	int64_t n = 0;
	while (n < max) {
		int rc = row_ready(r, e);
		if (rc <= 0)
			return rc < 0 ? -1 : n;
		for (int l = 0; l < s->nleaves; l++)
			if (r->cur[l] && r->sel[s->leaves[l].field] && need(r, l, e) < 0)
				return -1;
		int64_t k = null_run(r, max - n);
		if (k == 0)
			return n;
		/*
		 * As assembling k null rows would: one entry of each selected
		 * leaf a row, each starting a row (repetition level 0).
		 */
		for (int l = 0; l < s->nleaves; l++) {
			struct pq_column *c = r->cur[l];
			if (!c || !r->sel[s->leaves[l].field])
				continue;
			/* A page at a time: the entries it holds of the k rows. */
			for (int64_t j = 0; j < k;) {
				if (need(r, l, e) < 0)
					return -1;
				size_t m = c->n - c->pos;
				if ((int64_t)m > k - j)
					m = (size_t)(k - j);
				if (c->lf->max_rep)
					for (size_t i = 0; i < m; i++)
						if (c->rep[c->pos + i] != 0) {
							c->pos += i;
							return cfail(
							    c, e,
							    "row starts with repetition level %d",
							    c->rep[c->pos]);
						}
				if (c->all_present) {
					c->vpos += m;
				} else {
					for (size_t i = 0; i < m; i++)
						c->vpos += c->def[c->pos + i] == c->lf->max_def;
				}
				c->pos += m;
				j += (int64_t)m;
			}
		}
		r->row_in_rg += k;
		n += k;
	}
	return n;
}

int pq_reader_next_row(struct pq_reader *r, const struct pq_value **row, struct err_msg *e)
{
	struct pq_schema *s = r->s;
	*row = NULL;
	int rc = row_ready(r, e);
	if (rc <= 0)
		return rc;
	arena_reset(&r->arena);
	const struct pq_field *root = &s->f[PQ_ROOT].pub;
	int n = 0, k = 0;
	for (int i = 0; i < root->nchildren; i++)
		n += r->sel[root->children[i]];
	struct pq_value *items = arena_alloc(&r->arena, (size_t)n * sizeof *items);
	if (!items) {
		err_set(e, EX_SOFTWARE, "%s: out of memory", r->name);
		return -1;
	}
	for (int i = 0; i < root->nchildren; i++) {
		int ch = root->children[i];
		if (r->sel[ch] && assemble(r, ch, &items[k++], 0, e) < 0)
			return -1;
	}
	r->row.kind = PQ_V_STRUCT;
	r->row.n = (uint32_t)n;
	r->row.items = items;
	r->row_in_rg++;
	*row = &r->row;
	return 1;
}

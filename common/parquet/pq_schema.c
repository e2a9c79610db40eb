/*
 * pq_schema: logical schemas of Parquet files (see parquet.h), their
 * levels and their physical layout, and the names of the format's enums.
 *
 * Fields live in one array, the root at index 0, each with a growable array
 * of child indices; a field's index never changes, so the writer and reader
 * refer to fields by index.  Levels follow the Dremel rules as parquet-format
 * states them: each optional field adds one definition level, each list or
 * map adds one definition level and one repetition level for its repeated
 * group.
 */
#include "parquet/pq_internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32

static const char *const type_names[] = {
    "boolean", "byte", "short",     "integer",       "long",    "float",  "double", "string",
    "binary",  "date", "timestamp", "timestamp_ntz", "decimal", "struct", "array",  "map",
};

const char *pq_type_name(enum pq_type t)
{
	return (unsigned)t < sizeof type_names / sizeof *type_names ? type_names[t] : "?";
}

enum pq_vkind pq_type_kind(enum pq_type t)
{
	switch (t) {
	case PQ_BOOLEAN:
		return PQ_V_BOOL;
	case PQ_BYTE:
	case PQ_SHORT:
	case PQ_INT:
	case PQ_DATE:
		return PQ_V_I32;
	case PQ_LONG:
	case PQ_TIMESTAMP:
	case PQ_TIMESTAMP_NTZ:
		return PQ_V_I64;
	case PQ_FLOAT:
		return PQ_V_F32;
	case PQ_DOUBLE:
		return PQ_V_F64;
	case PQ_STRING:
	case PQ_BINARY:
		return PQ_V_BYTES;
	case PQ_DECIMAL:
		return PQ_V_DEC;
	case PQ_STRUCT:
		return PQ_V_STRUCT;
	case PQ_LIST:
		return PQ_V_LIST;
	case PQ_MAP:
		return PQ_V_MAP;
	}
	return PQ_V_NULL;
}

const char *pq_encoding_name(int encoding)
{
	static const char *const names[] = {
	    "PLAIN",          "GROUP_VAR_INT",       "PLAIN_DICTIONARY",        "RLE",
	    "BIT_PACKED",     "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
	    "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
	return encoding >= 0 && encoding < 10 ? names[encoding] : NULL;
}

const char *pq_physical_name(int type)
{
	static const char *const names[] = {
	    "BOOLEAN", "INT32",  "INT64",      "INT96",
	    "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
	return type >= 0 && type < 8 ? names[type] : NULL;
}

const char *pq_converted_name(int converted)
{
	static const char *const names[] = {"UTF8",
	                                    "MAP",
	                                    "MAP_KEY_VALUE",
	                                    "LIST",
	                                    "ENUM",
	                                    "DECIMAL",
	                                    "DATE",
	                                    "TIME_MILLIS",
	                                    "TIME_MICROS",
	                                    "TIMESTAMP_MILLIS",
	                                    "TIMESTAMP_MICROS",
	                                    "UINT_8",
	                                    "UINT_16",
	                                    "UINT_32",
	                                    "UINT_64",
	                                    "INT_8",
	                                    "INT_16",
	                                    "INT_32",
	                                    "INT_64",
	                                    "JSON",
	                                    "BSON",
	                                    "INTERVAL"};
	return converted >= 0 && converted < 22 ? names[converted] : NULL;
}

int pq_decimal_bytes(int precision)
{
	/* The fewest bytes whose signed range holds 10^precision - 1. */
	int bytes = 1;
	pq_int128 lim = 127, need = 1;
	for (int i = 0; i < precision; i++)
		need *= 10;
	need -= 1;
	while (lim < need && bytes < 16) {
		bytes++;
		lim = lim * 256 + 255;
	}
	return bytes;
}

struct pq_schema *pq_schema_new(void)
{
	struct pq_schema *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	if (pq_schema_add_raw(s, -1, "", 0, PQ_STRUCT, 0) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

static void free_leaves(struct pq_schema *s)
{
	for (int i = 0; i < s->nleaves; i++) {
		for (int k = 0; s->leaves[i].path && k < s->leaves[i].npath; k++)
			free(s->leaves[i].path[k]);
		free(s->leaves[i].path);
	}
	free(s->leaves);
	s->leaves = NULL;
	s->nleaves = 0;
}

void pq_schema_free(struct pq_schema *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nf; i++) {
		free(s->f[i].name);
		free(s->f[i].kids);
	}
	free(s->f);
	free(s->leaf_of);
	free_leaves(s);
	free(s);
}

/* Point each field's public view at its own arrays again (after the field array moved). */
static void relink(struct pq_schema *s)
{
	for (int i = 0; i < s->nf; i++) {
		s->f[i].pub.name = s->f[i].name;
		s->f[i].pub.children = s->f[i].kids;
	}
}

int pq_schema_add_raw(struct pq_schema *s, int parent, const char *name, size_t namelen,
                      enum pq_type type, int optional)
{
	if (s->nf == s->cap) {
		int cap = s->cap ? s->cap * 2 : 16;
		int *lo = realloc(s->leaf_of, (size_t)cap * sizeof *lo);
		if (!lo)
			return -1;
		s->leaf_of = lo;
		struct pq_fieldx *f = realloc(s->f, (size_t)cap * sizeof *f);
		if (!f)
			return -1;
		s->f = f;
		s->cap = cap;
		relink(s);
	}
	if (parent >= 0) {
		struct pq_fieldx *p = &s->f[parent];
		if (p->pub.nchildren == p->cap) {
			int cap = p->cap ? p->cap * 2 : 4;
			int *k = realloc(p->kids, (size_t)cap * sizeof *k);
			if (!k)
				return -1;
			p->kids = k;
			p->cap = cap;
			p->pub.children = k;
		}
	}
	char *nm = malloc(namelen + 1);
	if (!nm)
		return -1;
	memcpy(nm, name, namelen);
	nm[namelen] = '\0';
	int id = s->nf++;
	struct pq_fieldx *x = &s->f[id];
	memset(x, 0, sizeof *x);
	x->name = nm;
	x->pub.name = nm;
	x->pub.type = type;
	x->pub.optional = optional ? 1 : 0;
	x->pub.parent = parent;
	x->pub.leaf = -1;
	x->pub.field_id = -1;
	if (parent >= 0) {
		struct pq_fieldx *p = &s->f[parent];
		p->kids[p->pub.nchildren++] = id;
	}
	return id;
}

static int depth_of(const struct pq_schema *s, int i)
{
	int d = 0;
	while (s->f[i].pub.parent >= 0) {
		i = s->f[i].pub.parent;
		d++;
	}
	return d;
}

int pq_schema_add(struct pq_schema *s, int parent, const char *name, enum pq_type type,
                  int optional)
{
	if (!s || !name || !*name || parent < 0 || parent >= s->nf || type == PQ_DECIMAL ||
	    (unsigned)type > PQ_MAP || s->frozen)
		return -1;
	const struct pq_field *p = &s->f[parent].pub;
	if (p->type == PQ_LIST && p->nchildren >= 1)
		return -1;
	if (p->type == PQ_MAP) {
		if (p->nchildren >= 2)
			return -1;
		if (p->nchildren == 0 && optional)
			return -1;
	}
	if (p->type != PQ_STRUCT && p->type != PQ_LIST && p->type != PQ_MAP)
		return -1;
	if (pq_schema_child(s, parent, name) >= 0 || depth_of(s, parent) >= MAX_DEPTH)
		return -1;
	int id = pq_schema_add_raw(s, parent, name, strlen(name), type, optional);
	if (id >= 0)
		pq_schema_number_leaves(s);
	return id;
}

static void number_below(struct pq_schema *s, int i)
{
	struct pq_field *f = &s->f[i].pub;
	if (i != PQ_ROOT && f->type != PQ_STRUCT && f->type != PQ_LIST && f->type != PQ_MAP) {
		f->leaf = s->nleaf;
		s->leaf_of[s->nleaf++] = i;
		return;
	}
	for (int k = 0; k < f->nchildren; k++)
		number_below(s, f->children[k]);
}

void pq_schema_number_leaves(struct pq_schema *s)
{
	s->nleaf = 0;
	number_below(s, PQ_ROOT);
}

int pq_schema_add_decimal(struct pq_schema *s, int parent, const char *name, int precision,
                          int scale, int optional)
{
	if (precision < 1 || precision > 38 || scale < 0 || scale > precision)
		return -1;
	int id = pq_schema_add(s, parent, name, PQ_LONG, optional);
	if (id < 0)
		return -1;
	s->f[id].pub.type = PQ_DECIMAL;
	s->f[id].pub.precision = precision;
	s->f[id].pub.scale = scale;
	return id;
}

int pq_schema_set_field_id(struct pq_schema *s, int i, int id)
{
	if (i <= PQ_ROOT || i >= s->nf || id < 0)
		return -1;
	s->f[i].pub.field_id = id;
	return 0;
}

int pq_schema_nfields(const struct pq_schema *s)
{
	return s->nf;
}

const struct pq_field *pq_schema_field(const struct pq_schema *s, int i)
{
	return i >= 0 && i < s->nf ? &s->f[i].pub : NULL;
}

int pq_schema_nleaves(const struct pq_schema *s)
{
	return s->nleaf;
}

int pq_schema_leaf_field(const struct pq_schema *s, int leaf)
{
	return leaf >= 0 && leaf < s->nleaf ? s->leaf_of[leaf] : -1;
}

int pq_schema_child(const struct pq_schema *s, int parent, const char *name)
{
	if (parent < 0 || parent >= s->nf)
		return -1;
	const struct pq_field *p = &s->f[parent].pub;
	for (int i = 0; i < p->nchildren; i++)
		if (strcmp(s->f[p->children[i]].name, name) == 0)
			return p->children[i];
	return -1;
}

/*
 * The field below cur at path (n bytes).  A name may itself hold dots
 * ("a.b", which Delta and Parquet allow): each child whose name is the
 * path up to a dot, or all of it, is tried, the shortest first, so that a
 * path that means a field inside a struct keeps meaning it.
 */
static int find_below(const struct pq_schema *s, int cur, const char *p, size_t n)
{
	const struct pq_field *f = &s->f[cur].pub;
	for (size_t k = 0; k <= n; k++) {
		if (k < n && p[k] != '.')
			continue;
		for (int i = 0; i < f->nchildren; i++) {
			const char *nm = s->f[f->children[i]].name;
			if (strlen(nm) != k || memcmp(nm, p, k) != 0)
				continue;
			int found = k == n ? f->children[i]
			                   : find_below(s, f->children[i], p + k + 1, n - k - 1);
			if (found >= 0)
				return found;
		}
	}
	return -1;
}

int pq_schema_find(const struct pq_schema *s, const char *path)
{
	if (!*path)
		return -1;
	return find_below(s, PQ_ROOT, path, strlen(path));
}

size_t pq_schema_path(const struct pq_schema *s, int field, char *out, size_t n)
{
	int chain[MAX_DEPTH + 8], depth = 0;
	for (int i = field; i > PQ_ROOT && depth < MAX_DEPTH + 8; i = s->f[i].pub.parent)
		chain[depth++] = i;
	size_t len = 0;
	for (int k = depth - 1; k >= 0; k--) {
		const char *nm = s->f[chain[k]].name;
		size_t l = strlen(nm);
		if (k != depth - 1) {
			if (len + 1 < n)
				out[len] = '.';
			len++;
		}
		for (size_t j = 0; j < l; j++, len++)
			if (len + 1 < n)
				out[len] = nm[j];
	}
	if (n)
		out[len < n ? len : n - 1] = '\0';
	return len;
}

static int add_path(struct pq_leaf *l, const char *name)
{
	char **p = realloc(l->path, (size_t)(l->npath + 1) * sizeof *p);
	if (!p)
		return -1;
	l->path = p;
	if (!(p[l->npath] = strdup(name)))
		return -1;
	l->npath++;
	return 0;
}

/* Physical type and width of a primitive logical type, as the writer stores it. */
static void physical_of(const struct pq_field *f, int *phys, int *len)
{
	*len = 0;
	switch (f->type) {
	case PQ_BOOLEAN:
		*phys = PQ_PT_BOOLEAN;
		break;
	case PQ_BYTE:
	case PQ_SHORT:
	case PQ_INT:
	case PQ_DATE:
		*phys = PQ_PT_INT32;
		break;
	case PQ_FLOAT:
		*phys = PQ_PT_FLOAT;
		break;
	case PQ_DOUBLE:
		*phys = PQ_PT_DOUBLE;
		break;
	case PQ_STRING:
	case PQ_BINARY:
		*phys = PQ_PT_BYTE_ARRAY;
		break;
	case PQ_DECIMAL:
		if (f->precision <= 9) {
			*phys = PQ_PT_INT32;
		} else if (f->precision <= 18) {
			*phys = PQ_PT_INT64;
		} else {
			*phys = PQ_PT_FLBA;
			*len = pq_decimal_bytes(f->precision);
		}
		break;
	default:
		*phys = PQ_PT_INT64;
		break;
	}
}

/* Levels and leaves below field i, whose definition and repetition context is dl, rl. */
static int lay(struct pq_schema *s, int i, int dl, int rl, struct pq_leaf *path, struct err_msg *e)
{
	struct pq_fieldx *x = &s->f[i];
	const struct pq_field *f = &x->pub;
	x->dl = dl + (i != PQ_ROOT && f->optional);
	x->rl = rl;
	if (i != PQ_ROOT && add_path(path, x->name) < 0)
		goto nomem;
	if (f->type == PQ_STRUCT) {
		if (f->nchildren == 0) {
			err_set(e, EX_SOFTWARE, "struct %s has no fields", x->name);
			return -1;
		}
		for (int k = 0; k < f->nchildren; k++)
			if (lay(s, f->children[k], x->dl, rl, path, e) < 0)
				return -1;
	} else if (f->type == PQ_LIST || f->type == PQ_MAP) {
		int want = f->type == PQ_LIST ? 1 : 2;
		if (f->nchildren != want) {
			err_set(e, EX_SOFTWARE, "%s %s needs %s",
			        f->type == PQ_LIST ? "list" : "map", x->name,
			        f->type == PQ_LIST ? "an element" : "a key and a value");
			return -1;
		}
		x->idl = x->dl + 1;
		x->rl = rl + 1;
		if (add_path(path, f->type == PQ_LIST ? "list" : "key_value") < 0)
			goto nomem;
		for (int k = 0; k < f->nchildren; k++)
			if (lay(s, f->children[k], x->idl, x->rl, path, e) < 0)
				return -1;
		free(path->path[--path->npath]);
	} else {
		struct pq_leaf *l = realloc(s->leaves, (size_t)(s->nleaves + 1) * sizeof *l);
		if (!l)
			goto nomem;
		s->leaves = l;
		struct pq_leaf *leaf = &l[s->nleaves];
		memset(leaf, 0, sizeof *leaf);
		leaf->field = i;
		leaf->max_def = x->dl;
		leaf->max_rep = rl;
		physical_of(f, &leaf->phys, &leaf->type_length);
		leaf->element = -1;
		for (int k = 0; k < path->npath; k++) {
			if (add_path(leaf, path->path[k]) < 0) {
				for (int j = 0; j < leaf->npath; j++)
					free(leaf->path[j]);
				free(leaf->path);
				goto nomem;
			}
		}
		x->pub.leaf = s->nleaves++;
	}
	if (i != PQ_ROOT)
		free(path->path[--path->npath]);
	return 0;
nomem:
	err_set(e, EX_SOFTWARE, "out of memory");
	return -1;
}

int pq_schema_layout(struct pq_schema *s, struct err_msg *e)
{
	free_leaves(s);
	if (s->f[PQ_ROOT].pub.nchildren == 0) {
		err_set(e, EX_SOFTWARE, "schema has no columns");
		return -1;
	}
	struct pq_leaf path = {0};
	int rc = lay(s, PQ_ROOT, 0, 0, &path, e);
	for (int k = 0; k < path.npath; k++)
		free(path.path[k]);
	free(path.path);
	if (rc < 0)
		free_leaves(s);
	return rc;
}

struct pq_schema *pq_schema_copy(const struct pq_schema *s)
{
	struct pq_schema *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->f = calloc((size_t)s->nf, sizeof *c->f);
	c->leaf_of = calloc((size_t)s->nf, sizeof *c->leaf_of);
	c->leaves = calloc((size_t)(s->nleaves ? s->nleaves : 1), sizeof *c->leaves);
	if (!c->f || !c->leaf_of || !c->leaves)
		goto fail;
	c->cap = s->nf;
	c->nleaf = s->nleaf;
	c->frozen = s->frozen;
	if (s->nleaf)
		memcpy(c->leaf_of, s->leaf_of, (size_t)s->nleaf * sizeof *c->leaf_of);
	for (int i = 0; i < s->nf; i++) {
		struct pq_fieldx *d = &c->f[i];
		*d = s->f[i];
		d->name = strdup(s->f[i].name);
		d->kids = malloc((size_t)(d->pub.nchildren ? d->pub.nchildren : 1) * sizeof(int));
		d->cap = d->pub.nchildren;
		c->nf = i + 1;
		if (!d->name || !d->kids)
			goto fail;
		if (d->pub.nchildren)
			memcpy(d->kids, s->f[i].kids, (size_t)d->pub.nchildren * sizeof(int));
	}
	relink(c);
	for (int i = 0; i < s->nleaves; i++) {
		struct pq_leaf *d = &c->leaves[i];
		*d = s->leaves[i];
		d->path = calloc((size_t)(d->npath ? d->npath : 1), sizeof *d->path);
		c->nleaves = i + 1;
		if (!d->path) {
			d->npath = 0;
			goto fail;
		}
		for (int k = 0; k < d->npath; k++)
			if (!(d->path[k] = strdup(s->leaves[i].path[k])))
				goto fail;
	}
	return c;
fail:
	pq_schema_free(c);
	return NULL;
}

int pq_value_cmp(const struct pq_value *a, const struct pq_value *b)
{
	switch (a->kind) {
	case PQ_V_BOOL:
		return (a->b > b->b) - (a->b < b->b);
	case PQ_V_I32:
		return (a->i32 > b->i32) - (a->i32 < b->i32);
	case PQ_V_I64:
		return (a->i64 > b->i64) - (a->i64 < b->i64);
	case PQ_V_F32:
		return (a->f32 > b->f32) - (a->f32 < b->f32);
	case PQ_V_F64:
		return (a->f64 > b->f64) - (a->f64 < b->f64);
	case PQ_V_DEC:
		return (a->dec > b->dec) - (a->dec < b->dec);
	case PQ_V_BYTES: {
		size_t n = a->bytes.len < b->bytes.len ? a->bytes.len : b->bytes.len;
		int c = n ? memcmp(a->bytes.p, b->bytes.p, n) : 0;
		if (c)
			return c < 0 ? -1 : 1;
		return (a->bytes.len > b->bytes.len) - (a->bytes.len < b->bytes.len);
	}
	default:
		return 0;
	}
}

/*
 * delta_nested: nested values in cells (see delta_nested.h for the layout).
 */
#define _GNU_SOURCE /* qsort_r */
#include "delta/delta_nested.h"

#include <stdlib.h>
#include <string.h>

#include "record/stream.h"
#include "text/jscan.h"

int delta_type_is_nested(int type)
{
	return type == DT_STRUCT || type == DT_ARRAY || type == DT_MAP;
}

/* Encoding ------------------------------------------------------------------------------ */

static int put_tag(struct buf *out, int present)
{
	return buf_putc(out, present ? 1 : 0);
}

static int put_u32(struct buf *out, uint32_t v)
{
	return buf_append(out, &v, sizeof v);
}

/* A present primitive value of f, from its cell. */
static int put_prim(const struct delta_field *f, const struct delta_cell *c, struct buf *out)
{
	put_tag(out, 1);
	switch (f->type) {
	case DT_BOOLEAN:
		return buf_putc(out, c->i != 0);
	case DT_BYTE:
	case DT_SHORT:
	case DT_INTEGER:
	case DT_DATE: {
		int32_t v = (int32_t)c->i;
		return buf_append(out, &v, sizeof v);
	}
	case DT_LONG:
	case DT_TIMESTAMP:
	case DT_TIMESTAMP_NTZ:
		return buf_append(out, &c->i, sizeof c->i);
	case DT_FLOAT: {
		float v = (float)c->d;
		return buf_append(out, &v, sizeof v);
	}
	case DT_DOUBLE:
		return buf_append(out, &c->d, sizeof c->d);
	case DT_DECIMAL:
		return buf_append(out, &c->dec, sizeof c->dec);
	case DT_STRING:
	case DT_BINARY:
		if (c->n > UINT32_MAX)
			return -1;
		put_u32(out, (uint32_t)c->n);
		return buf_append(out, c->s, c->n);
	default:
		return -1;
	}
}

/* From JSON ------------------------------------------------------------------------------ */

struct jctx {
	struct buf *out;
	struct buf scratch; /* a primitive value's unescaped or decoded bytes */
	struct err_msg *e;
	char path[256]; /* the field's path, for messages */
	size_t plen;
};

/* A member of an object, kept until its field's turn comes (structs are written in schema order). */
struct member {
	int set;
	struct jscan_token t; /* a primitive value, or JS_OBJ / JS_ARR with raw set */
	const char *raw;
	size_t rawlen;
};

static int json_value(struct jctx *x, const struct delta_field *f, struct jscan *js,
                      const struct jscan_token *t);

static size_t path_push(struct jctx *x, const char *name)
{
	size_t was = x->plen, n = strlen(name);
	if (x->plen + 1 + n < sizeof x->path) {
		x->path[x->plen++] = '.';
		memcpy(x->path + x->plen, name, n);
		x->plen += n;
		x->path[x->plen] = '\0';
	}
	return was;
}

static void path_pop(struct jctx *x, size_t was)
{
	x->plen = was;
	x->path[was] = '\0';
}

static int fail(struct jctx *x, const struct delta_field *f, const char *why)
{
	char type[40];
	delta_field_type_name(f, type, sizeof type);
	err_set(x->e, EX_DATAERR, "column \"%s\" (%s): %s", x->path, type, why);
	return -1;
}

static int bad_json(struct jctx *x, const struct delta_field *f, const struct jscan *js)
{
	return fail(x, f, js->error ? js->error : "invalid JSON");
}

/*
 * The members of an object (after its JS_OBJ token) into m[], one per
 * field of kids[0..nkids): an unknown or repeated member is an error.
 */
static int collect(struct jctx *x, const struct delta_field *f, const struct delta_field *kids,
                   size_t nkids, struct jscan *js, struct member *m)
{
	struct buf name = BUF_INIT;
	int rc = -1;
	for (;;) {
		struct jscan_token k, v;
		int kt = jscan_next(js, &k);
		if (kt == JS_OBJ_END) {
			rc = 0;
			break;
		}
		if (kt != JS_KEY) {
			bad_json(x, f, js);
			break;
		}
		const char *nm = k.s;
		size_t nn = k.n;
		if (k.escaped) {
			buf_reset(&name);
			if (jscan_unescape(k.s, k.n, &name) < 0) {
				fail(x, f, "bad escape in a member name");
				break;
			}
			nm = name.data ? name.data : "";
			nn = name.len;
		}
		size_t i = 0;
		while (i < nkids &&
		       !(strlen(kids[i].name) == nn && memcmp(kids[i].name, nm, nn) == 0))
			i++;
		if (i == nkids) {
			struct buf why = BUF_INIT;
			buf_puts(&why, "unknown field ");
			buf_json_str(&why, nm, nn);
			fail(x, f, buf_failed(&why) ? "unknown field" : why.data);
			buf_free(&why);
			break;
		}
		if (m[i].set) {
			struct buf why = BUF_INIT;
			buf_puts(&why, "field ");
			buf_json_str(&why, nm, nn);
			buf_puts(&why, " given twice");
			fail(x, f, buf_failed(&why) ? "a field given twice" : why.data);
			buf_free(&why);
			break;
		}
		int vt = jscan_next(js, &v);
		if (vt == JS_ERR || vt == JS_END || vt == JS_OBJ_END || vt == JS_ARR_END) {
			bad_json(x, f, js);
			break;
		}
		m[i].set = 1;
		m[i].t = v;
		m[i].raw = NULL;
		if ((vt == JS_OBJ || vt == JS_ARR) &&
		    jscan_skip(js, &v, &m[i].raw, &m[i].rawlen) < 0) {
			bad_json(x, f, js);
			break;
		}
	}
	buf_free(&name);
	return rc;
}

/* Encode a collected member as field kf (named name in the path). */
static int emit_member(struct jctx *x, const struct delta_field *kf, const char *name,
                       const struct member *m)
{
	size_t was = path_push(x, name);
	int rc;
	if (!m->set) {
		rc = kf->nullable ? put_tag(x->out, 0)
		                  : fail(x, kf, "missing, and it is not nullable");
	} else if (m->raw) {
		struct jscan sub;
		struct jscan_token t;
		jscan_init(&sub, m->raw, m->rawlen);
		rc = jscan_next(&sub, &t) == JS_ERR ? bad_json(x, kf, &sub)
		                                    : json_value(x, kf, &sub, &t);
	} else {
		rc = json_value(x, kf, NULL, &m->t);
	}
	path_pop(x, was);
	return rc;
}

static int put_count(struct buf *out, size_t at, size_t n)
{
	if (n > UINT32_MAX || buf_failed(out))
		return -1;
	uint32_t v = (uint32_t)n;
	memcpy(out->data + at, &v, sizeof v);
	return 0;
}

/* Are two encoded keys (offset and length in out) equal?  Sorted to find out. */
struct span {
	size_t at, len;
};
static int span_cmp(const void *a, const void *b, void *base)
{
	const struct span *x = a, *y = b;
	const char *p = base;
	size_t n = x->len < y->len ? x->len : y->len;
	int r = memcmp(p + x->at, p + y->at, n);
	return r ? r : (x->len > y->len) - (x->len < y->len);
}

static int repeated_key(const struct buf *out, struct span *keys, size_t n)
{
	if (n < 2)
		return 0;
	qsort_r(keys, n, sizeof *keys, span_cmp, out->data);
	for (size_t i = 1; i < n; i++)
		if (span_cmp(&keys[i - 1], &keys[i], out->data) == 0)
			return 1;
	return 0;
}

/*
 * A floating-point map key of -0.0 is the key 0.0 (as Spark normalizes
 * it), so that the two are one key and found twice; the key's value
 * follows its tag at out->data + at.
 */
static void zero_key(const struct delta_field *kf, struct buf *out, size_t at)
{
	if (buf_failed(out) || out->len <= at + 1)
		return;
	if (kf->type == DT_DOUBLE && out->len >= at + 1 + sizeof(double)) {
		double d;
		memcpy(&d, out->data + at + 1, sizeof d);
		if (d == 0) {
			d = 0.0;
			memcpy(out->data + at + 1, &d, sizeof d);
		}
	} else if (kf->type == DT_FLOAT && out->len >= at + 1 + sizeof(float)) {
		float v;
		memcpy(&v, out->data + at + 1, sizeof v);
		if (v == 0) {
			v = 0.0f;
			memcpy(out->data + at + 1, &v, sizeof v);
		}
	}
}

static int json_map(struct jctx *x, const struct delta_field *f, struct jscan *js,
                    const struct jscan_token *t)
{
	const struct delta_field *kf = &f->children[0], *vf = &f->children[1];
	struct span *keys = NULL;
	size_t nkeys = 0, cap = 0, count = 0;
	int rc = -1;
	put_tag(x->out, 1);
	size_t at = x->out->len;
	put_u32(x->out, 0);
	for (;;) {
		struct jscan_token k, v;
		int kt = jscan_next(js, &k);
		if (kt == (t->type == JS_OBJ ? JS_OBJ_END : JS_ARR_END)) {
			rc = 0;
			break;
		}
		if (nkeys == cap) {
			size_t nc = cap ? 2 * cap : 16;
			struct span *nk = realloc(keys, nc * sizeof *nk);
			if (!nk) {
				err_set(x->e, EX_SOFTWARE, "out of memory");
				break;
			}
			keys = nk;
			cap = nc;
		}
		size_t key_at = x->out->len;
		if (t->type == JS_OBJ) {
			/* {"k": v, ...}: the member names are the keys, read as record strings are. */
			if (kt != JS_KEY) {
				bad_json(x, f, js);
				break;
			}
			struct jscan_token ks = k;
			ks.type = JS_STR;
			size_t was = path_push(x, "key");
			int krc = json_value(x, kf, NULL, &ks);
			path_pop(x, was);
			if (krc < 0)
				break;
			zero_key(kf, x->out, key_at);
			keys[nkeys].at = key_at;
			keys[nkeys++].len = x->out->len - key_at;
			int vt = jscan_next(js, &v);
			if (vt == JS_ERR || vt == JS_END || vt == JS_OBJ_END || vt == JS_ARR_END) {
				bad_json(x, f, js);
				break;
			}
			was = path_push(x, "value");
			int vrc = json_value(x, vf, js, &v);
			path_pop(x, was);
			if (vrc < 0)
				break;
		} else {
			/* [{"key": k, "value": v}, ...] */
			if (kt != JS_OBJ) {
				if (kt == JS_ERR)
					bad_json(x, f, js);
				else
					fail(x, f,
					     "expected an array of {\"key\": ..., \"value\": ...}");
				break;
			}
			struct member m[2];
			memset(m, 0, sizeof m);
			if (collect(x, f, f->children, 2, js, m) < 0)
				break;
			if (!m[0].set || m[0].t.type == JS_NULL) {
				fail(x, f, "a map key cannot be null");
				break;
			}
			if (emit_member(x, kf, "key", &m[0]) < 0)
				break;
			zero_key(kf, x->out, key_at);
			keys[nkeys].at = key_at;
			keys[nkeys++].len = x->out->len - key_at;
			if (emit_member(x, vf, "value", &m[1]) < 0)
				break;
		}
		count++;
	}
	if (rc == 0 && put_count(x->out, at, count) < 0) {
		err_set(x->e, EX_SOFTWARE, "out of memory");
		rc = -1;
	}
	if (rc == 0 && repeated_key(x->out, keys, nkeys))
		rc = fail(x, f, "a map key given twice");
	free(keys);
	return rc;
}

/* Encode the value starting at token t (js positioned after it) as field f. */
static int json_value(struct jctx *x, const struct delta_field *f, struct jscan *js,
                      const struct jscan_token *t)
{
	if (t->type == JS_NULL) {
		if (!f->nullable)
			return fail(x, f, "null where the type allows none");
		return put_tag(x->out, 0);
	}
	switch (f->type) {
	case DT_STRUCT: {
		if (t->type != JS_OBJ)
			return fail(x, f, "expected an object");
		struct member *m = calloc(f->nchildren ? f->nchildren : 1, sizeof *m);
		if (!m) {
			err_set(x->e, EX_SOFTWARE, "out of memory");
			return -1;
		}
		int rc = collect(x, f, f->children, f->nchildren, js, m);
		if (rc == 0)
			put_tag(x->out, 1);
		for (size_t i = 0; rc == 0 && i < f->nchildren; i++)
			rc = emit_member(x, &f->children[i], f->children[i].name, &m[i]);
		free(m);
		return rc;
	}
	case DT_ARRAY: {
		if (t->type != JS_ARR)
			return fail(x, f, "expected an array");
		put_tag(x->out, 1);
		size_t at = x->out->len, count = 0;
		put_u32(x->out, 0);
		for (;;) {
			struct jscan_token v;
			int vt = jscan_next(js, &v);
			if (vt == JS_ARR_END)
				break;
			if (vt == JS_ERR || vt == JS_END || vt == JS_OBJ_END)
				return bad_json(x, f, js);
			size_t was = path_push(x, "element");
			int rc = json_value(x, &f->children[0], js, &v);
			path_pop(x, was);
			if (rc < 0)
				return -1;
			count++;
		}
		if (put_count(x->out, at, count) < 0) {
			err_set(x->e, EX_SOFTWARE, "out of memory");
			return -1;
		}
		return 0;
	}
	case DT_MAP:
		if (t->type != JS_OBJ && t->type != JS_ARR)
			return fail(x, f,
			            "expected an object or an array of key and value objects");
		return json_map(x, f, js, t);
	default: {
		if (t->type == JS_OBJ || t->type == JS_ARR)
			return fail(x, f, "got an object or array");
		struct rec_field rf = {
		    .val = t->s, .val_len = t->n, .type = t->type, .escaped = t->escaped};
		struct delta_field named = *f;
		named.name = x->path;
		struct delta_cell c;
		if (delta_cell_from_json(&named, &rf, &c, &x->scratch, x->e) < 0)
			return -1;
		if (put_prim(f, &c, x->out) < 0) {
			err_set(x->e, EX_DATAERR, "column \"%s\": a value too long", x->path);
			return -1;
		}
		return 0;
	}
	}
}

int delta_nested_from_json(const struct delta_field *f, const char *text, size_t n, struct buf *out,
                           struct err_msg *e)
{
	struct jctx x = {.out = out, .scratch = BUF_INIT, .e = e};
	size_t len = strlen(f->name);
	if (len >= sizeof x.path)
		len = sizeof x.path - 1;
	memcpy(x.path, f->name, len);
	x.path[len] = '\0';
	x.plen = len;
	struct jscan js;
	struct jscan_token t;
	jscan_init(&js, text, n);
	int rc = jscan_next(&js, &t) == JS_ERR ? bad_json(&x, f, &js) : json_value(&x, f, &js, &t);
	if (rc == 0 && jscan_next(&js, &t) != JS_END)
		rc = bad_json(&x, f, &js);
	if (rc == 0 && buf_failed(out)) {
		err_set(e, EX_SOFTWARE, "out of memory");
		rc = -1;
	}
	buf_free(&x.scratch);
	return rc;
}

/* From the reader's trees --------------------------------------------------------------- */

int delta_nested_from_tree(const struct delta_field *f, const struct delta_nplan *np,
                           const struct pq_value *v, struct buf *out)
{
	if (!v || v->kind == PQ_V_NULL || np->absent)
		return put_tag(out, 0);
	switch (f->type) {
	case DT_STRUCT:
		if (v->kind != PQ_V_STRUCT)
			return put_tag(out, 0);
		put_tag(out, 1);
		for (size_t i = 0; i < f->nchildren; i++) {
			int k = np->item[i];
			const struct pq_value *cv =
			    k >= 0 && (uint32_t)k < v->n ? &v->items[k] : NULL;
			if (delta_nested_from_tree(&f->children[i], &np->kids[i], cv, out) < 0)
				return -1;
		}
		return buf_failed(out) ? -1 : 0;
	case DT_ARRAY:
		if (v->kind != PQ_V_LIST)
			return put_tag(out, 0);
		put_tag(out, 1);
		put_u32(out, v->n);
		for (uint32_t i = 0; i < v->n; i++)
			if (delta_nested_from_tree(&f->children[0], &np->kids[0], &v->items[i],
			                           out) < 0)
				return -1;
		return buf_failed(out) ? -1 : 0;
	case DT_MAP:
		if (v->kind != PQ_V_MAP)
			return put_tag(out, 0);
		put_tag(out, 1);
		put_u32(out, v->n);
		for (uint32_t i = 0; i < v->n; i++)
			if (delta_nested_from_tree(&f->children[0], &np->kids[0], &v->items[2 * i],
			                           out) < 0 ||
			    delta_nested_from_tree(&f->children[1], &np->kids[1],
			                           &v->items[2 * i + 1], out) < 0)
				return -1;
		return buf_failed(out) ? -1 : 0;
	default: {
		struct delta_cell c;
		delta_conv_value(np->conv, np->shift, v, &c);
		if (c.null)
			return put_tag(out, 0);
		return put_prim(f, &c, out) < 0 || buf_failed(out) ? -1 : 0;
	}
	}
}

int delta_value_to_cell(const struct delta_field *f, const struct delta_value *v,
                        struct delta_cell *c, struct buf *scratch)
{
	if (!delta_type_is_nested(f->type)) {
		*c = v->c;
		return 0;
	}
	memset(c, 0, sizeof *c);
	if (!v->v || v->v->kind == PQ_V_NULL || !v->np || v->np->absent) {
		c->null = 1;
		return 0;
	}
	buf_reset(scratch);
	if (delta_nested_from_tree(f, v->np, v->v, scratch) < 0)
		return -1;
	if (scratch->len == 1 && scratch->data[0] == 0) {
		c->null = 1;
		return 0;
	}
	c->s = scratch->data;
	c->n = scratch->len;
	return 0;
}

/* Decoding ------------------------------------------------------------------------------ */

struct rd {
	const char *p, *end;
	int bad;
};

static void take(struct rd *r, void *dst, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = 1;
		memset(dst, 0, n);
		return;
	}
	memcpy(dst, r->p, n);
	r->p += n;
}

static int rd_tag(struct rd *r)
{
	uint8_t t;
	take(r, &t, 1);
	return t;
}

static uint32_t rd_u32(struct rd *r)
{
	uint32_t v;
	take(r, &v, sizeof v);
	return v;
}

/* A present primitive value of f (its tag read) as a cell; strings point into the encoding. */
static void rd_prim(const struct delta_field *f, struct rd *r, struct delta_cell *c)
{
	memset(c, 0, sizeof *c);
	switch (f->type) {
	case DT_BOOLEAN: {
		uint8_t b;
		take(r, &b, 1);
		c->i = b;
		break;
	}
	case DT_BYTE:
	case DT_SHORT:
	case DT_INTEGER:
	case DT_DATE: {
		int32_t v;
		take(r, &v, sizeof v);
		c->i = v;
		break;
	}
	case DT_LONG:
	case DT_TIMESTAMP:
	case DT_TIMESTAMP_NTZ:
		take(r, &c->i, sizeof c->i);
		break;
	case DT_FLOAT: {
		float v;
		take(r, &v, sizeof v);
		c->d = v;
		break;
	}
	case DT_DOUBLE:
		take(r, &c->d, sizeof c->d);
		break;
	case DT_DECIMAL:
		take(r, &c->dec, sizeof c->dec);
		c->i = (int64_t)c->dec;
		break;
	case DT_STRING:
	case DT_BINARY:
		c->n = rd_u32(r);
		if (r->bad || (size_t)(r->end - r->p) < c->n) {
			r->bad = 1;
			c->n = 0;
			break;
		}
		c->s = r->p;
		r->p += c->n;
		break;
	default:
		r->bad = 1;
	}
}

static int json_of(const struct delta_field *f, struct rd *r, struct buf *out)
{
	if (!rd_tag(r) || r->bad)
		return buf_puts(out, "null");
	struct delta_cell c;
	switch (f->type) {
	case DT_STRUCT:
		buf_putc(out, '{');
		for (size_t i = 0; i < f->nchildren && !r->bad; i++) {
			if (i)
				buf_putc(out, ',');
			buf_json_str(out, f->children[i].name, strlen(f->children[i].name));
			buf_putc(out, ':');
			json_of(&f->children[i], r, out);
		}
		return buf_putc(out, '}');
	case DT_ARRAY: {
		uint32_t n = rd_u32(r);
		buf_putc(out, '[');
		for (uint32_t i = 0; i < n && !r->bad; i++) {
			if (i)
				buf_putc(out, ',');
			json_of(&f->children[0], r, out);
		}
		return buf_putc(out, ']');
	}
	case DT_MAP: {
		const struct delta_field *kf = &f->children[0], *vf = &f->children[1];
		int as_object = kf->type == DT_STRING;
		uint32_t n = rd_u32(r);
		buf_putc(out, as_object ? '{' : '[');
		for (uint32_t i = 0; i < n && !r->bad; i++) {
			if (i)
				buf_putc(out, ',');
			if (as_object) {
				if (rd_tag(r)) {
					rd_prim(kf, r, &c);
					buf_json_str(out, c.s, c.n);
				} else {
					buf_puts(out, "\"\"");
				}
				buf_putc(out, ':');
			} else {
				buf_puts(out, "{\"key\":");
				json_of(kf, r, out);
				buf_puts(out, ",\"value\":");
			}
			json_of(vf, r, out);
			if (!as_object)
				buf_putc(out, '}');
		}
		return buf_putc(out, as_object ? '}' : ']');
	}
	default:
		rd_prim(f, r, &c);
		return delta_cell_to_json(f, &c, out);
	}
}

int delta_nested_to_json(const struct delta_field *f, const char *p, size_t n, struct buf *out)
{
	struct rd r = {p, p + n, 0};
	json_of(f, &r, out);
	return r.bad || buf_failed(out) ? -1 : 0;
}

/* Items a value takes from the node pool (the value's own node is its parent's). */
static size_t count_items(const struct delta_field *f, struct rd *r)
{
	if (!rd_tag(r) || r->bad)
		return 0;
	struct delta_cell c;
	size_t n = 0;
	switch (f->type) {
	case DT_STRUCT:
		n = f->nchildren;
		for (size_t i = 0; i < f->nchildren && !r->bad; i++)
			n += count_items(&f->children[i], r);
		return n;
	case DT_ARRAY: {
		uint32_t k = rd_u32(r);
		n = k;
		for (uint32_t i = 0; i < k && !r->bad; i++)
			n += count_items(&f->children[0], r);
		return n;
	}
	case DT_MAP: {
		uint32_t k = rd_u32(r);
		n = 2 * (size_t)k;
		for (uint32_t i = 0; i < k && !r->bad; i++) {
			n += count_items(&f->children[0], r);
			n += count_items(&f->children[1], r);
		}
		return n;
	}
	default:
		rd_prim(f, r, &c);
		return 0;
	}
}

size_t delta_nested_nodes(const struct delta_field *f, const char *p, size_t n)
{
	struct rd r = {p, p + n, 0};
	return count_items(f, &r);
}

static void tree_of(const struct delta_field *f, struct rd *r, struct pq_value *v,
                    struct pq_value **pool)
{
	memset(v, 0, sizeof *v);
	if (!rd_tag(r) || r->bad) {
		v->kind = PQ_V_NULL;
		return;
	}
	struct delta_cell c;
	switch (f->type) {
	case DT_STRUCT:
		v->kind = PQ_V_STRUCT;
		v->n = (uint32_t)f->nchildren;
		v->items = *pool;
		*pool += f->nchildren;
		for (size_t i = 0; i < f->nchildren; i++)
			tree_of(&f->children[i], r, &v->items[i], pool);
		return;
	case DT_ARRAY:
		v->kind = PQ_V_LIST;
		v->n = rd_u32(r);
		if (r->bad)
			v->n = 0;
		v->items = *pool;
		*pool += v->n;
		for (uint32_t i = 0; i < v->n; i++)
			tree_of(&f->children[0], r, &v->items[i], pool);
		return;
	case DT_MAP:
		v->kind = PQ_V_MAP;
		v->n = rd_u32(r);
		if (r->bad)
			v->n = 0;
		v->items = *pool;
		*pool += 2 * (size_t)v->n;
		for (uint32_t i = 0; i < v->n; i++) {
			tree_of(&f->children[0], r, &v->items[2 * i], pool);
			tree_of(&f->children[1], r, &v->items[2 * i + 1], pool);
		}
		return;
	default:
		rd_prim(f, r, &c);
		switch (f->type) {
		case DT_BOOLEAN:
			v->kind = PQ_V_BOOL;
			v->b = c.i != 0;
			return;
		case DT_BYTE:
		case DT_SHORT:
		case DT_INTEGER:
		case DT_DATE:
			v->kind = PQ_V_I32;
			v->i32 = (int32_t)c.i;
			return;
		case DT_LONG:
		case DT_TIMESTAMP:
		case DT_TIMESTAMP_NTZ:
			v->kind = PQ_V_I64;
			v->i64 = c.i;
			return;
		case DT_FLOAT:
			v->kind = PQ_V_F32;
			v->f32 = (float)c.d;
			return;
		case DT_DOUBLE:
			v->kind = PQ_V_F64;
			v->f64 = c.d;
			return;
		case DT_DECIMAL:
			v->kind = PQ_V_DEC;
			v->dec = c.dec;
			return;
		default:
			v->kind = PQ_V_BYTES;
			v->bytes.p = (const uint8_t *)c.s;
			v->bytes.len = c.n;
			return;
		}
	}
}

int delta_nested_to_tree(const struct delta_field *f, const char *p, size_t n,
                         struct pq_value *root, struct pq_value *nodes)
{
	struct rd r = {p, p + n, 0};
	struct pq_value *pool = nodes;
	tree_of(f, &r, root, &pool);
	return r.bad ? -1 : 0;
}

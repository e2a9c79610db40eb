/*
 * thrift: the Thrift compact protocol (see thrift.h).
 *
 * The reader is written for hostile input: every byte read is checked
 * against the end of the range, varints longer than ten bytes are errors,
 * and the first error sticks so that callers can test once.
 */
#include "parquet/thrift_internal.h"

#include <string.h>

void thrift_w_init(struct thrift_w *w, struct pq_buf *b)
{
	w->b = b;
	w->depth = 0;
	w->last[0] = 0;
	w->failed = 0;
}

static void put_byte(struct thrift_w *w, uint8_t c)
{
	if (pq_buf_byte(w->b, c) < 0)
		w->failed = 1;
}

static void put_uleb(struct thrift_w *w, uint64_t v)
{
	if (pq_buf_uleb(w->b, v) < 0)
		w->failed = 1;
}

void thrift_struct_begin(struct thrift_w *w)
{
	if (w->depth >= THRIFT_MAX_DEPTH) {
		w->failed = 1;
		return;
	}
	w->last[++w->depth] = 0;
}

void thrift_struct_end(struct thrift_w *w)
{
	put_byte(w, THRIFT_STOP);
	if (w->depth > 0)
		w->depth--;
}

void thrift_field(struct thrift_w *w, int16_t id, enum thrift_type type)
{
	int delta = id - w->last[w->depth];
	if (delta > 0 && delta <= 15) {
		put_byte(w, (uint8_t)(delta << 4 | type));
	} else {
		put_byte(w, (uint8_t)type);
		put_uleb(w, pq_zigzag(id));
	}
	w->last[w->depth] = id;
}

void thrift_put_varint(struct thrift_w *w, int64_t v)
{
	put_uleb(w, pq_zigzag(v));
}

void thrift_put_binary(struct thrift_w *w, const void *p, size_t n)
{
	put_uleb(w, n);
	if (pq_buf_put(w->b, p, n) < 0)
		w->failed = 1;
}

void thrift_i32(struct thrift_w *w, int16_t id, int32_t v)
{
	thrift_field(w, id, THRIFT_I32);
	thrift_put_varint(w, v);
}

void thrift_i64(struct thrift_w *w, int16_t id, int64_t v)
{
	thrift_field(w, id, THRIFT_I64);
	thrift_put_varint(w, v);
}

void thrift_bool(struct thrift_w *w, int16_t id, int v)
{
	thrift_field(w, id, v ? THRIFT_TRUE : THRIFT_FALSE);
}

void thrift_i8(struct thrift_w *w, int16_t id, int8_t v)
{
	thrift_field(w, id, THRIFT_I8);
	put_byte(w, (uint8_t)v);
}

void thrift_binary(struct thrift_w *w, int16_t id, const void *p, size_t n)
{
	thrift_field(w, id, THRIFT_BINARY);
	thrift_put_binary(w, p, n);
}

void thrift_string(struct thrift_w *w, int16_t id, const char *s)
{
	thrift_binary(w, id, s, strlen(s));
}

void thrift_struct_field(struct thrift_w *w, int16_t id)
{
	thrift_field(w, id, THRIFT_STRUCT);
	thrift_struct_begin(w);
}

void thrift_list_field(struct thrift_w *w, int16_t id, enum thrift_type etype, size_t n)
{
	thrift_field(w, id, THRIFT_LIST);
	if (n < 15) {
		put_byte(w, (uint8_t)(n << 4 | etype));
	} else {
		put_byte(w, (uint8_t)(0xf0 | etype));
		put_uleb(w, n);
	}
}

void thrift_r_init(struct thrift_r *r, const void *p, size_t n)
{
	r->p = p;
	r->end = r->p + n;
	r->depth = 0;
	r->err = NULL;
}

static int fail(struct thrift_r *r, const char *why)
{
	if (!r->err)
		r->err = why;
	return -1;
}

static int get_byte(struct thrift_r *r, uint8_t *c)
{
	if (r->err)
		return -1;
	if (r->p >= r->end)
		return fail(r, "truncated");
	*c = *r->p++;
	return 0;
}

static int get_uleb(struct thrift_r *r, uint64_t *v)
{
	uint64_t x = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		uint8_t c;
		if (get_byte(r, &c) < 0)
			return -1;
		if (shift == 63 && c > 1)
			return fail(r, "varint overflow");
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return fail(r, "varint too long");
}

int thrift_enter(struct thrift_r *r)
{
	if (r->err)
		return -1;
	if (r->depth >= THRIFT_MAX_DEPTH)
		return fail(r, "nesting too deep");
	r->depth++;
	return 0;
}

void thrift_leave(struct thrift_r *r)
{
	if (r->depth > 0)
		r->depth--;
}

int thrift_next_field(struct thrift_r *r, int16_t *last, int16_t *id, int *type)
{
	uint8_t c;
	if (get_byte(r, &c) < 0)
		return -1;
	if (c == THRIFT_STOP)
		return 0;
	int t = c & 0x0f;
	if (t > THRIFT_STRUCT)
		return fail(r, "bad field type");
	int delta = c >> 4;
	if (delta) {
		int v = *last + delta;
		if (v > INT16_MAX)
			return fail(r, "field id overflow");
		*id = (int16_t)v;
	} else {
		uint64_t u;
		if (get_uleb(r, &u) < 0)
			return -1;
		int64_t v = pq_unzigzag(u);
		if (v < INT16_MIN || v > INT16_MAX)
			return fail(r, "field id out of range");
		*id = (int16_t)v;
	}
	*last = *id;
	*type = t;
	return 1;
}

static int get_int(struct thrift_r *r, int type, int64_t *v)
{
	if (r->err)
		return -1;
	if (type == THRIFT_I8) {
		uint8_t c;
		if (get_byte(r, &c) < 0)
			return -1;
		*v = (int8_t)c;
		return 0;
	}
	if (type != THRIFT_I16 && type != THRIFT_I32 && type != THRIFT_I64)
		return fail(r, "field has the wrong type");
	uint64_t u;
	if (get_uleb(r, &u) < 0)
		return -1;
	*v = pq_unzigzag(u);
	return 0;
}

int thrift_read_i32(struct thrift_r *r, int type, int32_t *v)
{
	int64_t x;
	if (get_int(r, type, &x) < 0)
		return -1;
	if (x < INT32_MIN || x > INT32_MAX)
		return fail(r, "i32 out of range");
	*v = (int32_t)x;
	return 0;
}

int thrift_read_i64(struct thrift_r *r, int type, int64_t *v)
{
	return get_int(r, type, v);
}

int thrift_read_bool(struct thrift_r *r, int type, int *v)
{
	if (r->err)
		return -1;
	if (type != THRIFT_TRUE && type != THRIFT_FALSE)
		return fail(r, "field has the wrong type");
	*v = type == THRIFT_TRUE;
	return 0;
}

int thrift_read_bool_elem(struct thrift_r *r, int *v)
{
	uint8_t c;
	if (get_byte(r, &c) < 0)
		return -1;
	if (c > 2)
		return fail(r, "bad boolean");
	*v = c == 1;
	return 0;
}

int thrift_read_double(struct thrift_r *r, int type, double *v)
{
	if (r->err)
		return -1;
	if (type != THRIFT_DOUBLE)
		return fail(r, "field has the wrong type");
	if (r->end - r->p < 8)
		return fail(r, "truncated");
	uint64_t u = pq_load64(r->p);
	r->p += 8;
	memcpy(v, &u, sizeof *v);
	return 0;
}

int thrift_read_binary(struct thrift_r *r, int type, const uint8_t **p, size_t *n)
{
	if (r->err)
		return -1;
	if (type != THRIFT_BINARY)
		return fail(r, "field has the wrong type");
	uint64_t len;
	if (get_uleb(r, &len) < 0)
		return -1;
	if (len > (uint64_t)(r->end - r->p))
		return fail(r, "truncated");
	*p = r->p;
	*n = (size_t)len;
	r->p += len;
	return 0;
}

int thrift_read_list(struct thrift_r *r, int type, int *etype, size_t *n)
{
	if (r->err)
		return -1;
	if (type != THRIFT_LIST && type != THRIFT_SET)
		return fail(r, "field has the wrong type");
	uint8_t c;
	if (get_byte(r, &c) < 0)
		return -1;
	uint64_t size = c >> 4;
	if (size == 15 && get_uleb(r, &size) < 0)
		return -1;
	int t = c & 0x0f;
	if (t == THRIFT_STOP || t > THRIFT_STRUCT)
		return fail(r, "bad list element type");
	if (size > (uint64_t)(r->end - r->p))
		return fail(r, "list longer than its data");
	*etype = t;
	*n = (size_t)size;
	return 0;
}

int thrift_skip(struct thrift_r *r, int type)
{
	uint8_t c;
	uint64_t u;
	const uint8_t *p;
	size_t n;
	int etype;

	switch (type) {
	case THRIFT_TRUE:
	case THRIFT_FALSE:
		return r->err ? -1 : 0;
	case THRIFT_I8:
		return get_byte(r, &c);
	case THRIFT_I16:
	case THRIFT_I32:
	case THRIFT_I64:
		return get_uleb(r, &u);
	case THRIFT_DOUBLE:
		if (r->err)
			return -1;
		if (r->end - r->p < 8)
			return fail(r, "truncated");
		r->p += 8;
		return 0;
	case THRIFT_BINARY:
		return thrift_read_binary(r, type, &p, &n);
	case THRIFT_LIST:
	case THRIFT_SET:
		if (thrift_read_list(r, type, &etype, &n) < 0 || thrift_enter(r) < 0)
			return -1;
		for (size_t i = 0; i < n; i++) {
			/* Boolean elements are one byte, unlike boolean fields. */
			int st = etype == THRIFT_TRUE || etype == THRIFT_FALSE ? THRIFT_I8 : etype;
			if (thrift_skip(r, st) < 0)
				return -1;
		}
		thrift_leave(r);
		return 0;
	case THRIFT_MAP: {
		if (get_uleb(r, &u) < 0)
			return -1;
		if (u == 0)
			return 0;
		if (u > (uint64_t)(r->end - r->p))
			return fail(r, "map longer than its data");
		if (get_byte(r, &c) < 0 || thrift_enter(r) < 0)
			return -1;
		int kt = c >> 4, vt = c & 0x0f;
		if (kt == THRIFT_STOP || kt > THRIFT_STRUCT || vt == THRIFT_STOP ||
		    vt > THRIFT_STRUCT)
			return fail(r, "bad map element type");
		if (kt == THRIFT_TRUE || kt == THRIFT_FALSE)
			kt = THRIFT_I8;
		if (vt == THRIFT_TRUE || vt == THRIFT_FALSE)
			vt = THRIFT_I8;
		for (uint64_t i = 0; i < u; i++)
			if (thrift_skip(r, kt) < 0 || thrift_skip(r, vt) < 0)
				return -1;
		thrift_leave(r);
		return 0;
	}
	case THRIFT_STRUCT: {
		int16_t last = 0, id;
		int t, rc;
		if (thrift_enter(r) < 0)
			return -1;
		while ((rc = thrift_next_field(r, &last, &id, &t)) > 0)
			if (thrift_skip(r, t) < 0)
				return -1;
		if (rc < 0)
			return -1;
		thrift_leave(r);
		return 0;
	}
	default:
		return fail(r, "bad type");
	}
}

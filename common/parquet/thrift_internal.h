/*
 * thrift: the Thrift compact protocol, the subset that Parquet metadata uses.
 *
 * Writing: a struct thrift_w appends to a caller-owned pq_buf.  Fields are
 * written in ascending id order inside thrift_struct_begin()/_end() pairs
 * (the writer keeps the previous field id of each open struct, so that field
 * headers can use the one-byte delta form).  Allocation failures are sticky:
 * check thrift_w.failed once at the end.
 *
 * Reading: a struct thrift_r is a cursor over a byte range that it never
 * reads past.  Every decoding function returns 0 or -1; on -1 the cursor's
 * err holds a static description ("truncated", "bad field type", ...) and
 * every later call fails too, so a parser can check once per struct.
 * Nesting deeper than THRIFT_MAX_DEPTH is an error, which bounds the
 * recursion of thrift_skip() on hostile input.
 */
#ifndef STOCKETL_THRIFT_H
#define STOCKETL_THRIFT_H

#include <stddef.h>
#include <stdint.h>

#include "parquet/pq_buf.h"

/* Compact protocol type codes, as they appear in field and list headers. */
enum thrift_type {
	THRIFT_STOP = 0,
	THRIFT_TRUE = 1,
	THRIFT_FALSE = 2,
	THRIFT_I8 = 3,
	THRIFT_I16 = 4,
	THRIFT_I32 = 5,
	THRIFT_I64 = 6,
	THRIFT_DOUBLE = 7,
	THRIFT_BINARY = 8,
	THRIFT_LIST = 9,
	THRIFT_SET = 10,
	THRIFT_MAP = 11,
	THRIFT_STRUCT = 12,
};

#define THRIFT_MAX_DEPTH 32

struct thrift_w {
	struct pq_buf *b;
	int16_t last[THRIFT_MAX_DEPTH + 1];
	int depth;
	int failed;
};

void thrift_w_init(struct thrift_w *w, struct pq_buf *b);
/* Open a struct (the top-level one, or a list element); close it with its stop byte. */
void thrift_struct_begin(struct thrift_w *w);
void thrift_struct_end(struct thrift_w *w);
/* A field header; the value follows through one of the thrift_put_* calls. */
void thrift_field(struct thrift_w *w, int16_t id, enum thrift_type type);
/* Fields with their value. */
void thrift_i32(struct thrift_w *w, int16_t id, int32_t v);
void thrift_i64(struct thrift_w *w, int16_t id, int64_t v);
void thrift_bool(struct thrift_w *w, int16_t id, int v);
void thrift_i8(struct thrift_w *w, int16_t id, int8_t v);
void thrift_binary(struct thrift_w *w, int16_t id, const void *p, size_t n);
void thrift_string(struct thrift_w *w, int16_t id, const char *s);
/* A field holding a struct: header, then the struct is open until thrift_struct_end(). */
void thrift_struct_field(struct thrift_w *w, int16_t id);
/* A field holding a list of n elements of type etype; the elements follow. */
void thrift_list_field(struct thrift_w *w, int16_t id, enum thrift_type etype, size_t n);
/* Bare values (list elements). */
void thrift_put_varint(struct thrift_w *w, int64_t v);
void thrift_put_binary(struct thrift_w *w, const void *p, size_t n);

struct thrift_r {
	const uint8_t *p;
	const uint8_t *end;
	int depth;
	const char *err;
};

void thrift_r_init(struct thrift_r *r, const void *p, size_t n);
/*
 * Read the next field header of the struct whose previous field id is
 * *last.  Returns 1 and sets *id and *type, 0 at the stop byte, -1 on error.
 * For booleans *type is THRIFT_TRUE or THRIFT_FALSE: the value is the type.
 */
int thrift_next_field(struct thrift_r *r, int16_t *last, int16_t *id, int *type);
/* Enter and leave a nested struct (depth accounting only). */
int thrift_enter(struct thrift_r *r);
void thrift_leave(struct thrift_r *r);
/* Values of a field of the given wire type; a type mismatch is an error. */
int thrift_read_i32(struct thrift_r *r, int type, int32_t *v);
int thrift_read_i64(struct thrift_r *r, int type, int64_t *v);
int thrift_read_bool(struct thrift_r *r, int type, int *v);
int thrift_read_double(struct thrift_r *r, int type, double *v);
/* A binary/string value: *p points into the input, *n its length. */
int thrift_read_binary(struct thrift_r *r, int type, const uint8_t **p, size_t *n);
/*
 * A list header: element type and count.  The count is checked against the
 * bytes left (every element takes at least one byte), which bounds what a
 * caller allocates for it.  Boolean elements are one byte each: read them
 * with thrift_read_bool_elem().
 */
int thrift_read_list(struct thrift_r *r, int type, int *etype, size_t *n);
/* One boolean list element: 1 is true, 0 or 2 false (writers differ). */
int thrift_read_bool_elem(struct thrift_r *r, int *v);
/* Skip a value of the given type (nested values included). */
int thrift_skip(struct thrift_r *r, int type);

#endif

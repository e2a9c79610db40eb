/*
 * json: JSON documents as trees, for the places that need a whole document
 * at once (Delta log actions, API response classification, schema files).
 * Streams of records use the faster record/stream.h and jscan.h instead.
 *
 * This module owns the cJSON dependency; nothing else includes cJSON.h.
 * Ownership: json_parse() returns a tree the caller frees with json_free();
 * every other function returns pointers into that tree, valid until it is
 * freed.  Numbers are kept as doubles by the underlying parser, so
 * json_i64() refuses integers beyond 2^53 rather than round them; values that
 * must stay exact (decimal statistics) are read with jscan.h from the text.
 */
#ifndef STOCKETL_JSON_H
#define STOCKETL_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

struct json;

enum json_type {
	JSON_INVALID,
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT
};

/*
 * Parse text[0..len): a single complete value, strictly as RFC 8259 has it
 * (no control character or invalid UTF-8 in a string, nothing after the
 * value but whitespace).  NULL + e (EX_DATAERR) on failure.
 */
struct json *json_parse(const char *text, size_t len, struct err_msg *e);
void json_free(struct json *j);

enum json_type json_type(const struct json *j);
/* Object member by exact key, or NULL when j is not an object or lacks it. */
const struct json *json_get(const struct json *j, const char *key);
/* String value, or NULL when j is not a string. */
const char *json_str(const struct json *j);
/* Boolean: 1/0, or -1 when not a boolean. */
int json_bool(const struct json *j);
/* Number as a double: 0 on success, -1 when not a number. */
int json_num(const struct json *j, double *out);
/* Integer number exactly representable (|v| < 2^53, no fraction): 0, else -1. */
int json_i64(const struct json *j, int64_t *out);

/* Arrays and objects: the number of elements/members and the i-th one. */
size_t json_size(const struct json *j);
const struct json *json_at(const struct json *j, size_t i);
/* Iteration in document order: the first element/member, then the next one (NULL at the end). */
const struct json *json_first(const struct json *j);
const struct json *json_next(const struct json *member);
/* For an object member returned by json_at()/json_first()/json_next(): its key. */
const char *json_key(const struct json *member);

/* Append the compact text of j to out. Returns 0 or -1. */
int json_print(const struct json *j, struct buf *out);

#endif

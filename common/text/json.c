/*
 * json: a thin layer over cJSON.  cJSON's types are hidden behind
 * struct json (a cJSON node cast), so the dependency can change without
 * touching callers.
 */
#include "text/json.h"

#include "text/jscan.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define J(x)  ((const cJSON *)(const void *)(x))
#define JW(x) ((struct json *)(void *)(x))

struct json *json_parse(const char *text, size_t len, struct err_msg *e)
{
	/*
	 * cJSON is more lenient than RFC 8259: it takes every byte below 0x20
	 * for whitespace, and keeps control characters and invalid UTF-8 inside
	 * strings.  A damaged byte in a Delta commit would then turn a key into
	 * an unknown one or a path into another, and the action would be read
	 * as something it never said.  jscan checks the grammar strictly (and
	 * costs little next to building the tree), so only text it accepts,
	 * one value and nothing after it but whitespace, reaches cJSON.
	 */
	struct jscan js;
	struct jscan_token t;
	int k;
	jscan_init(&js, text, len);
	while ((k = jscan_next(&js, &t)) > JS_END)
		;
	if (k == JS_ERR) {
		err_set(e, EX_DATAERR, "invalid JSON: %s at byte %zu", js.error, jscan_offset(&js));
		return NULL;
	}
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!root) {
		/* Valid JSON that cJSON cannot hold (a number over 63 characters, no memory). */
		size_t off = end && end >= text ? (size_t)(end - text) : 0;
		err_set(e, EX_DATAERR, "invalid JSON near byte %zu", off);
		return NULL;
	}
	return JW(root);
}

void json_free(struct json *j)
{
	cJSON_Delete((cJSON *)(void *)j);
}

enum json_type json_type(const struct json *j)
{
	if (!j)
		return JSON_INVALID;
	switch (J(j)->type & 0xFF) {
	case cJSON_NULL:
		return JSON_NULL;
	case cJSON_True:
	case cJSON_False:
		return JSON_BOOL;
	case cJSON_Number:
		return JSON_NUMBER;
	case cJSON_String:
		return JSON_STRING;
	case cJSON_Array:
		return JSON_ARRAY;
	case cJSON_Object:
		return JSON_OBJECT;
	default:
		return JSON_INVALID;
	}
}

const struct json *json_get(const struct json *j, const char *key)
{
	if (!j || !cJSON_IsObject(J(j)))
		return NULL;
	return JW(cJSON_GetObjectItemCaseSensitive(J(j), key));
}

const char *json_str(const struct json *j)
{
	if (!j || !cJSON_IsString(J(j)))
		return NULL;
	return J(j)->valuestring;
}

int json_bool(const struct json *j)
{
	if (!j)
		return -1;
	if (cJSON_IsTrue(J(j)))
		return 1;
	if (cJSON_IsFalse(J(j)))
		return 0;
	return -1;
}

int json_num(const struct json *j, double *out)
{
	if (!j || !cJSON_IsNumber(J(j)))
		return -1;
	*out = J(j)->valuedouble;
	return 0;
}

int json_i64(const struct json *j, int64_t *out)
{
	double d;
	if (json_num(j, &d) < 0)
		return -1;
	if (!(d > -9007199254740992.0 && d < 9007199254740992.0) || floor(d) != d)
		return -1;
	*out = (int64_t)d;
	return 0;
}

size_t json_size(const struct json *j)
{
	if (!j || !(cJSON_IsArray(J(j)) || cJSON_IsObject(J(j))))
		return 0;
	return (size_t)cJSON_GetArraySize(J(j));
}

const struct json *json_at(const struct json *j, size_t i)
{
	if (!j || !(cJSON_IsArray(J(j)) || cJSON_IsObject(J(j))))
		return NULL;
	const cJSON *c = J(j)->child;
	while (c && i--)
		c = c->next;
	return JW(c);
}

const struct json *json_first(const struct json *j)
{
	if (!j || !(cJSON_IsArray(J(j)) || cJSON_IsObject(J(j))))
		return NULL;
	return JW(J(j)->child);
}

const struct json *json_next(const struct json *member)
{
	return member ? JW(J(member)->next) : NULL;
}

const char *json_key(const struct json *member)
{
	return member ? J(member)->string : NULL;
}

int json_print(const struct json *j, struct buf *out)
{
	char *s = cJSON_PrintUnformatted(J(j));
	if (!s)
		return -1;
	int rc = buf_puts(out, s);
	cJSON_free(s);
	return rc;
}

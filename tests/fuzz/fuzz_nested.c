/*
 * Fuzz target: the JSON of nested values (structs, arrays, maps) as
 * delta-append reads them into cells.  The first byte picks a column of a
 * schema that nests every kind in every other; the rest is the value's
 * JSON.  A value that is accepted must turn into a value tree of exactly
 * the nodes it counts, and print as JSON that reads back to the same
 * encoding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delta/delta_nested.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char schema_json[] =
    "{\"type\":\"struct\",\"fields\":["
    "{\"name\":\"s\",\"type\":{\"type\":\"struct\",\"fields\":["
    "{\"name\":\"d\",\"type\":\"decimal(38,10)\",\"nullable\":true,\"metadata\":{}},"
    "{\"name\":\"n\",\"type\":\"decimal(18,6)\",\"nullable\":false,\"metadata\":{}},"
    "{\"name\":\"t\",\"type\":\"timestamp\",\"nullable\":true,\"metadata\":{}},"
    "{\"name\":\"z\",\"type\":\"timestamp_ntz\",\"nullable\":true,\"metadata\":{}},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"elementType\":\"string\",\"containsNull\":true}"
    ","
    "\"nullable\":true,\"metadata\":{}},"
    "{\"name\":\"b\",\"type\":\"binary\",\"nullable\":true,\"metadata\":{}}]},"
    "\"nullable\":true,\"metadata\":{}},"
    "{\"name\":\"l\",\"type\":{\"type\":\"array\",\"elementType\":{\"type\":\"struct\",\"fields\":["
    "{\"name\":\"f\",\"type\":\"float\",\"nullable\":true,\"metadata\":{}},"
    "{\"name\":\"g\",\"type\":\"double\",\"nullable\":true,\"metadata\":{}},"
    "{\"name\":\"h\",\"type\":\"boolean\",\"nullable\":true,\"metadata\":{}}]},"
    "\"containsNull\":false},\"nullable\":true,\"metadata\":{}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"keyType\":\"date\",\"valueType\":{\"type\":"
    "\"array\","
    "\"elementType\":\"byte\",\"containsNull\":true},\"valueContainsNull\":true},"
    "\"nullable\":true,\"metadata\":{}},"
    "{\"name\":\"k\",\"type\":{\"type\":\"map\",\"keyType\":\"string\",\"valueType\":{\"type\":"
    "\"map\","
    "\"keyType\":\"long\",\"valueType\":\"short\",\"valueContainsNull\":false},"
    "\"valueContainsNull\":true},\"nullable\":true,\"metadata\":{}},"
    "{\"name\":\"q\",\"type\":{\"type\":\"array\",\"elementType\":{\"type\":\"array\","
    "\"elementType\":"
    "\"integer\",\"containsNull\":true},\"containsNull\":true},\"nullable\":true,\"metadata\":{}}"
    "]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct delta_schema schema;
	static int ready;
	struct err_msg e;
	if (!ready) {
		if (delta_schema_parse_json(schema_json, strlen(schema_json), &schema, &e) < 0)
			abort();
		ready = 1;
	}
	if (size < 1)
		return 0;
	const struct delta_field *f = &schema.fields[data[0] % schema.n];
	const char *text = (const char *)data + 1;
	size_t n = size - 1;
	struct buf enc = BUF_INIT, json = BUF_INIT, again = BUF_INIT;
	if (delta_nested_from_json(f, text, n, &enc, &e) == 0) {
		size_t nodes = delta_nested_nodes(f, enc.data, enc.len);
		struct pq_value root, *pool = malloc((nodes ? nodes : 1) * sizeof *pool);
		if (!pool || delta_nested_to_tree(f, enc.data, enc.len, &root, pool) < 0)
			abort();
		free(pool);
		if (delta_nested_to_json(f, enc.data, enc.len, &json) < 0)
			abort();
		if (delta_nested_from_json(f, json.data, json.len, &again, &e) < 0 ||
		    again.len != enc.len || memcmp(again.data, enc.data, enc.len) != 0)
			abort();
	}
	buf_free(&enc);
	buf_free(&json);
	buf_free(&again);
	return 0;
}

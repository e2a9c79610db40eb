/*
 * Fuzz target: Spark schema JSON and schema files (the column list, with
 * nested types in Spark's DDL), each parsed, printed as JSON, parsed
 * again: the two must be equal; and partition value and base64 text for
 * every primitive type.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delta/delta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A parsed schema prints as JSON that parses back to it; s is freed. */
static void round_trip(struct delta_schema *s)
{
	struct delta_schema back;
	struct err_msg e;
	struct buf b = BUF_INIT;
	if (delta_schema_to_json(s, &b) < 0 ||
	    delta_schema_parse_json(b.data, b.len, &back, &e) < 0 || !delta_schema_equal(s, &back))
		abort();
	delta_schema_free(&back);
	buf_free(&b);
	delta_schema_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct delta_schema s;
	struct err_msg e;
	if (delta_schema_parse_json((const char *)data, size, &s, &e) == 0)
		round_trip(&s);
	/* The same input as a schema file (the column list when it is not JSON). */
	static char path[64];
	if (!path[0])
		snprintf(path, sizeof path, "/tmp/fuzz_delta_schema.%ld", (long)getpid());
	FILE *fp = fopen(path, "wb");
	if (fp) {
		int ok = fwrite(data, 1, size, fp) == size;
		if (fclose(fp) == 0 && ok && delta_schema_parse_file(path, &s, &e) == 0)
			round_trip(&s);
		unlink(path);
	}
	char text[256];
	size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
	memcpy(text, data, n);
	text[n] = '\0';
	static const int types[] = {DT_STRING,    DT_LONG,          DT_INTEGER, DT_SHORT,  DT_BYTE,
	                            DT_FLOAT,     DT_DOUBLE,        DT_BOOLEAN, DT_BINARY, DT_DATE,
	                            DT_TIMESTAMP, DT_TIMESTAMP_NTZ, DT_DECIMAL};
	struct buf scratch = BUF_INIT, out = BUF_INIT;
	for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
		struct delta_field f = {.name = (char *)"c",
		                        .type = types[i],
		                        .precision = 38,
		                        .scale = 10,
		                        .nullable = 1};
		struct delta_cell c;
		if (delta_partition_parse(&f, text, &c, &scratch, &e) == 0 && !c.null) {
			buf_reset(&out);
			delta_partition_text(&f, &c, &out);
			delta_cell_to_json(&f, &c, &out);
		}
	}
	buf_reset(&out);
	buf_base64_decode(&out, (const char *)data, size);
	buf_free(&scratch);
	buf_free(&out);
	return 0;
}

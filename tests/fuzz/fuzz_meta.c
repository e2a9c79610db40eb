/*
 * Fuzz target: the parser of metadata spool lines (common/meta) on
 * arbitrary bytes.  Whatever the line, a fact that parses has a known kind,
 * the members every fact needs, and strings without a NUL inside; a line
 * that does not parse has a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct buf arena = BUF_INIT;
	/* The parser is given text it does not own: a copy of exactly size bytes. */
	char *line = malloc(size ? size : 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	struct meta_fact f;
	struct err_msg e;
	err_clear(&e);
	if (meta_parse(line, size, &f, &arena, &e) == 0) {
		if (f.kind < 0 || f.kind >= META_KIND_COUNT || !f.program || f.at == META_NULL)
			abort();
		if (strlen(meta_kind_name(f.kind)) == 0)
			abort();
	} else if (!e.text[0]) {
		abort();
	}
	free(line);
	return 0;
}

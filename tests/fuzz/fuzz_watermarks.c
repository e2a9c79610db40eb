/*
 * Fuzz target: the watermark lines of tick-normalize --watermarks
 * (cmd/tick-normalize/watermarks.c) on arbitrary input split at newlines.
 * Whatever the line, a refusal has a reason, an accepted line adds at most
 * one key, and every key looked up again is found with a time no older
 * than before.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../cmd/tick-normalize/watermarks.h"
#include "record/tick.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct watermarks w = WATERMARKS_INIT;
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		/* The parser is given a line it does not own: a copy of exactly n bytes. */
		char *line = malloc(n ? n : 1);
		if (!line)
			break;
		memcpy(line, p, n);
		char why[WM_WHY_MAX];
		why[0] = '\0';
		size_t before = wm_count(&w);
		int64_t ibm = wm_get(&w, "IBM", TICK_5MIN);
		int rc = wm_add_line(&w, line, n, why);
		if (rc == -1 && !why[0])
			abort();
		if (wm_count(&w) > before + 1 || (rc != 0 && wm_count(&w) != before))
			abort();
		if (wm_get(&w, "IBM", TICK_5MIN) < ibm)
			abort();
		free(line);
		p += n + (nl ? 1 : 0);
	}
	wm_free(&w);
	return 0;
}

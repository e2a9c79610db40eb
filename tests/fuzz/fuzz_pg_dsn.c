/*
 * Fuzz target: what the pg module reads out of a DSN's text (the password
 * to keep out of messages, the target to show).  Input: DSN, a NUL, then a
 * message to scrub.  Checks that nothing is written past the buffers and
 * that the result stays a string.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t dlen = nul ? (size_t)(nul - data) : size;
	size_t tlen = nul ? size - dlen - 1 : 0;
	char *dsn = malloc(dlen + 1);
	char *text = malloc(tlen + 1);
	if (!dsn || !text) {
		free(dsn);
		free(text);
		return 0;
	}
	memcpy(dsn, data, dlen);
	dsn[dlen] = '\0';
	if (tlen)
		memcpy(text, nul + 1, tlen);
	text[tlen] = '\0';
	struct pg_settings s = {0};
	s.dsn = dsn;
	pg_scrub(&s, text, tlen + 1);
	if (strlen(text) > tlen)
		abort();
	char target[64];
	pg_settings_target(&s, target, sizeof target);
	if (strlen(target) >= sizeof target)
		abort();
	free(dsn);
	free(text);
	return 0;
}

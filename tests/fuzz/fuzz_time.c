/* Fuzz target: RFC 3339, date, naive-time and duration parsers; accepted text round-trips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/ts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	int64_t us;
	if (ts_parse_rfc3339(s, size, &us) == 0) {
		char text[TS_TEXT_MAX];
		size_t k = ts_format_rfc3339(us, text);
		int64_t back;
		if (ts_parse_rfc3339(text, k, &back) != 0 || back != us)
			abort();
	}
	int32_t days;
	if (ts_parse_date(s, size, &days) == 0) {
		char text[16];
		ts_format_date(days, text);
		if (strlen(text) != size || memcmp(text, s, size) != 0)
			abort();
	}
	struct ts_civil c;
	ts_parse_naive(s, size, &c);
	char z[64];
	if (size < sizeof z) {
		memcpy(z, s, size);
		z[size] = '\0';
		ts_parse_duration(z, &us);
	}
	return 0;
}

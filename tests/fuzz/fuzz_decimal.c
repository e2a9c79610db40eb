/* Fuzz target: decimal parsing; whatever parses must print and parse back to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/decimal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	int scale = data[0] % 39;
	int precision = 1 + data[1] % 38;
	if (scale > precision)
		scale = precision;
	const char *s = (const char *)data + 2;
	size_t n = size - 2;
	struct err_msg e;
	dec128 v;
	if (dec_parse(s, n, precision, scale, &v, &e) == 0) {
		char text[DEC_TEXT_MAX];
		size_t k = dec_format(v, scale, text);
		dec128 back;
		if (dec_parse(text, k, precision, scale, &back, &e) != 0 || back != v)
			abort();
		k = dec_format_fixed(v, scale, text);
		if (dec_parse(text, k, precision, scale, &back, &e) != 0 || back != v)
			abort();
	}
	int64_t v6;
	dec6_parse(s, n, &v6, &e);
	return 0;
}

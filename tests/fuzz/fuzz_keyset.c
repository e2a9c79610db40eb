/*
 * Fuzz target: keyset against a plain reference.  The input is read as a
 * sequence of 3-byte keys (group and kind, 16-bit value); every answer must
 * match a table of the keys seen, with a budget large enough never to run
 * out, and all memory must be given back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record/keyset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t seen[4][2][65536];
	struct keyset_budget b = {64u << 20, 0};
	struct keyset *ks = keyset_new(&b);
	if (!ks)
		abort();
	memset(seen, 0, sizeof seen);
	for (size_t i = 0; i + 3 <= size; i += 3) {
		uint8_t g = data[i] & 3;
		int kind = (data[i] >> 2) & 1;
		unsigned v = (unsigned)(data[i + 1] | data[i + 2] << 8);
		/* Whole minutes (one-byte gaps) or odd negative values (long gaps), never equal. */
		int64_t x = kind ? (int64_t)v * 60000000 : -((int64_t)v * 7 + 1);
		int want = seen[g][kind][v] ? KEYSET_DUPLICATE : KEYSET_NEW;
		seen[g][kind][v] = 1;
		if (keyset_add(ks, &g, 1, 1, x) != want)
			abort();
	}
	keyset_free(ks);
	if (b.used != 0)
		abort();
	return 0;
}

/*
 * Fuzz target: deletion vectors.  The first two bytes are the cardinality
 * the descriptor states; the rest is the serialized bitmap (magic number,
 * 64-bit portable Roaring), and also Z85 text.  A bitmap that is accepted
 * holds exactly that many row indexes, strictly ascending.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delta/delta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	int64_t card = data[0] | data[1] << 8;
	struct delta_dv dv;
	const char *why;
	if (delta_dv_parse(data + 2, size - 2, card, &dv, &why) == 0) {
		if (dv.n != (size_t)card)
			abort();
		for (size_t i = 1; i < dv.n; i++)
			if (dv.rows[i] <= dv.rows[i - 1])
				abort();
		delta_dv_free(&dv);
	}
	struct buf b = BUF_INIT;
	if (delta_z85_decode((const char *)data + 2, size - 2, &b) == 0 &&
	    b.len != (size - 2) / 5 * 4)
		abort();
	buf_free(&b);
	return 0;
}

/*
 * Fuzz target: a whole Parquet file from memory.  Open it, read every row
 * (the row assembler over every page decoder), then verify every column
 * chunk (pq_column_verify()), read every column with the columnar
 * reader (those inside lists and maps entry by entry, with their levels),
 * and decode every footer statistic.  Limits keep a
 * page's claims from asking for more memory than the fuzzer allows.  Each
 * input is read twice: with the page and footer checksums verified, and
 * without, since a mutated page almost never keeps its CRC and the decoders
 * behind the check would otherwise go unfuzzed.
 */
#include <stdint.h>
#include <stdlib.h>

#include "parquet/parquet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where the levels read go, so that reading them is not optimised away. */
static volatile unsigned sink;

static void read_file(const uint8_t *data, size_t size, int skip_crc)
{
	struct pq_read_options o = {.max_footer_bytes = 1u << 20,
	                            .max_page_bytes = 16u << 20,
	                            .max_page_values = 1u << 20,
	                            .skip_crc = skip_crc};
	struct err_msg e;
	struct pq_reader *r = pq_reader_open_mem(data, size, "fuzz", &o, &e);
	if (!r)
		return;
	const struct pq_schema *s = pq_reader_schema(r);
	const struct pq_value *row;
	for (int n = 0; n < 100000 && pq_reader_next_row(r, &row, &e) > 0; n++)
		;
	for (int g = 0; g < pq_reader_num_row_groups(r) && g < 64; g++) {
		for (int l = 0; l < pq_schema_nleaves(s) && l < 64; l++) {
			struct pq_stats st;
			struct pq_chunk_info ci;
			pq_reader_stats(r, g, l, &st);
			pq_reader_chunk_info(r, g, l, &ci);
			pq_column_verify(r, g, l, &e);
			struct pq_column *c = pq_column_open(r, g, l, &e);
			if (!c)
				c = pq_column_open_entries(r, g, l, &e);
			if (!c)
				continue;
			struct pq_column_batch b;
			unsigned levels = 0;
			for (int k = 0; k < 10000 && pq_column_read(c, &b, 1000, &e) > 0; k++)
				for (size_t i = 0; i < b.n; i++)
					levels += (b.def ? b.def[i] : 0) + (b.rep ? b.rep[i] : 0);
			sink += levels;
			pq_column_close(c);
		}
	}
	pq_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	read_file(data, size, 0);
	read_file(data, size, 1);
	return 0;
}

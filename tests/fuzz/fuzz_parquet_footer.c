/*
 * Fuzz target: the footer decoder.  The input is a FileMetaData; it is
 * wrapped in the magic and length of a file with no data, so that the Thrift
 * decoder, the schema conversion (LIST, MAP, legacy layouts) and the checks
 * of column chunks against the file all see it.  A footer with stocketl's
 * checksum is opened with the checksum verified and again without, so that
 * mutations of such a footer reach the rest too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/parquet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1u << 20))
		return 0;
	uint8_t *file = malloc(size + 12);
	if (!file)
		abort();
	memcpy(file, "PAR1", 4);
	memcpy(file + 4, data, size);
	uint32_t n = (uint32_t)size;
	for (int i = 0; i < 4; i++)
		file[4 + size + (size_t)i] = (uint8_t)(n >> (8 * i));
	memcpy(file + size + 8, "PAR1", 4);
	struct err_msg e;
	for (int skip_crc = 0; skip_crc <= 1; skip_crc++) {
		struct pq_read_options o = {.skip_crc = skip_crc};
		struct pq_reader *r = pq_reader_open_mem(file, size + 12, "fuzz", &o, &e);
		if (!r)
			continue;
		const struct pq_schema *s = pq_reader_schema(r);
		char path[256];
		for (int i = 0; i < pq_schema_nfields(s); i++)
			pq_schema_path(s, i, path, sizeof path);
		for (int l = 0; l < pq_schema_nleaves(s); l++)
			pq_reader_column_path(r, l, path, sizeof path);
		for (int g = 0; g < pq_reader_num_row_groups(r) && g < 64; g++)
			for (int l = 0; l < pq_schema_nleaves(s) && l < 64; l++) {
				struct pq_stats st;
				pq_reader_stats(r, g, l, &st);
			}
		pq_reader_close(r);
	}
	free(file);
	return 0;
}

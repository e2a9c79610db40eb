/*
 * Fuzz target: the fast path for canonical tick lines against the general
 * reader.  Whatever tick_from_canonical_json() accepts must be a valid tick
 * record that rec_tick() reads to the very same values, and writing it back
 * must give a line the fast path reads again to the same values.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "record/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tick fast, slow, again;
	if (memchr(data, '\n', size) ||
	    tick_from_canonical_json((const char *)data, size, &fast) < 0)
		return 0;
	int fd = memfd_create("in", 0);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	lseek(fd, 0, SEEK_SET);
	struct rec_reader *r = rec_reader_new(fd, "fuzz", 0);
	struct rec rec;
	struct err_msg e;
	if (rec_read(r, &rec, &e) != REC_DATA || rec_tick(&rec, &slow, &e) < 0 ||
	    memcmp(&fast, &slow, sizeof fast) != 0)
		abort();
	struct buf out = BUF_INIT;
	if (tick_to_json(&fast, &out) < 0 ||
	    tick_from_canonical_json(out.data, out.len, &again) < 0 ||
	    memcmp(&fast, &again, sizeof fast) != 0)
		abort();
	buf_free(&out);
	rec_reader_free(r);
	close(fd);
	return 0;
}

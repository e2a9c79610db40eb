/*
 * Fuzz target: the record-stream reader on arbitrary bytes (JSON or binary),
 * plus the tick conversion and the writer on everything it accepts.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "record/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("in", 0);
	int out = open("/dev/null", O_WRONLY);
	if (fd < 0 || out < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	lseek(fd, 0, SEEK_SET);
	struct rec_reader *r = rec_reader_new(fd, "fuzz", 4096);
	struct rec_writer *wj = rec_writer_new(out, "null", REC_FMT_JSON);
	struct rec_writer *wb = rec_writer_new(dup(out), "null", REC_FMT_BINARY);
	struct rec rec;
	struct err_msg e;
	int k;
	for (int guard = 0; guard < 100000 && (k = rec_read(r, &rec, &e)) > 0; guard++) {
		if (k == REC_BAD)
			continue;
		rec_write_rec(wj, &rec, &e);
		rec_write_rec(wb, &rec, &e);
		if (k == REC_DATA) {
			struct tick t;
			rec_tick(&rec, &t, &e);
		}
	}
	rec_writer_close(wj, &e);
	rec_writer_close(wb, &e);
	rec_reader_free(r);
	close(fd);
	return 0;
}

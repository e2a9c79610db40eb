/*
 * Fuzz target: table identities from mountinfo and an s3fs command line.
 * Input: mountinfo text, a NUL, then the NUL-separated command line of a
 * process whose name is s3fs.  Both are written to a private directory
 * that stands for /proc.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pg/tableid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void put(const char *name, const void *p, size_t n)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *fp = fopen(path, "wb");
	if (!fp)
		abort();
	if (n && fwrite(p, 1, n, fp) != n)
		abort();
	fclose(fp);
}

/* The directory goes when the fuzzer exits. */
static void cleanup(void)
{
	static const char *const files[] = {
	    "proc/77/comm", "proc/77/cmdline", "mountinfo", "proc/77", "proc", ""};
	char path[128];
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		remove(path);
	}
}

static void setup(void)
{
	char path[128];
	snprintf(dir, sizeof dir, "/tmp/fuzz_pg_mount.%ld", (long)getpid());
	if (mkdir(dir, 0700) < 0)
		abort();
	atexit(cleanup);
	snprintf(path, sizeof path, "%s/proc", dir);
	if (mkdir(path, 0700) < 0)
		abort();
	snprintf(path, sizeof path, "%s/proc/77", dir);
	if (mkdir(path, 0700) < 0)
		abort();
	put("proc/77/comm", "s3fs\n", 5);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!*dir)
		setup();
	const uint8_t *nul = memchr(data, 0, size);
	size_t mlen = nul ? (size_t)(nul - data) : size;
	put("mountinfo", data, mlen);
	put("proc/77/cmdline", nul ? nul + 1 : data, nul ? size - mlen - 1 : 0);
	char mi[96], pr[96];
	snprintf(mi, sizeof mi, "%s/mountinfo", dir);
	snprintf(pr, sizeof pr, "%s/proc", dir);
	struct buf out = BUF_INIT;
	struct err_msg e;
	int rc = pg_table_identity_in("/tmp/lake/bronze", mi, pr, &out, &e);
	if (rc == 1 && (!out.data || strncmp(out.data, "s3://", 5) != 0))
		abort();
	buf_free(&out);
	return 0;
}

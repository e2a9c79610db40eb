/*
 * t_delta.h: tables on disk for the Delta unit tests.
 *
 * Each test makes a table in a fresh temporary directory (removed by
 * t_table_free()): version 0 holds protocol 1/2 and a metaData with the
 * columns v (long) and p (string, the partition column); t_append() adds
 * one commit with one add in partition p, and t_text() writes any commit
 * text as it is, so that tests can damage a log at will.
 */
#ifndef STOCKETL_T_DELTA_H
#define STOCKETL_T_DELTA_H

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta/delta.h"
#include "delta/delta_store.h"
#include "delta/delta_txn.h"

#define T_SCHEMA                                                                                   \
	"{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":[{\\\"name\\\":\\\"v\\\",\\\"type\\\":"       \
	"\\\"long\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}},{\\\"name\\\":\\\"p\\\","         \
	"\\\"type\\\":\\\"string\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}}]}"

struct t_table {
	char root[256];
};

static inline void t_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		printf("# cannot write %s: %s\n", path, strerror(errno));
		exit(70);
	}
	fputs(text, f);
	fclose(f);
}

static inline void t_log_path(const struct t_table *t, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/_delta_log/%s", t->root, name);
}

/* Write text as commit v, whatever is there. */
static inline void t_text(const struct t_table *t, int64_t v, const char *text)
{
	char path[512];
	delta_commit_path(t->root, v, path, sizeof path);
	t_write(path, text);
}

static inline void t_remove_commit(const struct t_table *t, int64_t v)
{
	char path[512];
	delta_commit_path(t->root, v, path, sizeof path);
	unlink(path);
}

/* A new table with version 0; interval: delta.checkpointInterval (0: the default). */
static inline void t_table_new(struct t_table *t, int interval)
{
	const char *tmp = getenv("TMPDIR");
	memset(t, 0, sizeof *t);
	snprintf(t->root, sizeof t->root, "%s/stocketl-delta-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(t->root)) {
		printf("# mkdtemp: %s\n", strerror(errno));
		exit(70);
	}
	char dir[300], conf[64] = "";
	snprintf(dir, sizeof dir, "%s/_delta_log", t->root);
	mkdir(dir, 0755);
	if (interval)
		snprintf(conf, sizeof conf, "\"delta.checkpointInterval\":\"%d\"", interval);
	char text[2048];
	snprintf(text, sizeof text,
	         "{\"commitInfo\":{\"operation\":\"CREATE TABLE\"}}\n"
	         "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}\n"
	         "{\"metaData\":{\"id\":\"00000000-0000-4000-8000-000000000000\",\"format\":"
	         "{\"provider\":\"parquet\",\"options\":{}},\"schemaString\":\"%s\","
	         "\"partitionColumns\":[\"p\"],\"configuration\":{%s}}}\n",
	         T_SCHEMA, conf);
	t_text(t, 0, text);
}

/* Commit v: one add of file f<v> in partition p, and a txn when app is not NULL. */
static inline void t_append(const struct t_table *t, int64_t v, const char *p, const char *app)
{
	char text[1024], txn[256] = "";
	if (app)
		snprintf(txn, sizeof txn, "{\"txn\":{\"appId\":\"%s\",\"version\":%lld}}\n", app,
		         (long long)v);
	snprintf(text, sizeof text,
	         "{\"commitInfo\":{\"operation\":\"WRITE\",\"isBlindAppend\":true}}\n%s"
	         "{\"add\":{\"path\":\"p=%s/f%lld.parquet\",\"partitionValues\":{\"p\":\"%s\"},"
	         "\"size\":100,\"modificationTime\":1,\"dataChange\":true}}\n",
	         txn, p, (long long)v, p);
	t_text(t, v, text);
}

/* Write the checkpoint of version v (from a full replay) and _last_checkpoint. */
static inline int t_checkpoint(const struct t_table *t, int64_t v)
{
	struct delta_snapshot s;
	struct delta_load_opts o = {v, -1, 0, 0, 0};
	struct err_msg e;
	if (delta_snapshot_load(t->root, &o, &s, &e) < 0) {
		printf("# %s\n", e.text);
		return -1;
	}
	int rc = delta_checkpoint_write(&s, &e);
	if (rc < 0)
		printf("# %s\n", e.text);
	delta_snapshot_free(&s);
	return rc;
}

/* rm -r path */
static inline void t_rm(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			char sub[1024];
			if (snprintf(sub, sizeof sub, "%s/%s", path, de->d_name) < (int)sizeof sub)
				t_rm(sub);
		}
		if (d)
			closedir(d);
	}
	remove(path);
}

static inline void t_table_free(struct t_table *t)
{
	t_rm(t->root);
}

#endif

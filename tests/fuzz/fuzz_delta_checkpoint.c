/*
 * Fuzz target: a Delta checkpoint (a classic Parquet checkpoint file, or a
 * UUID-named JSON one when the input starts with '{'), and a sidecar: what
 * follows the first "\0SIDECAR" in the input is written as
 * _delta_log/_sidecars/s.parquet, which a V2 checkpoint's sidecar action
 * may name.  The input is written as the checkpoint of version 1 of a
 * table in a temporary directory and loaded twice: its add and remove actions column
 * by column, as replay reads them, and every action row by row.  When both
 * loads succeed they must hold the same files and tombstones, field for
 * field; a difference aborts, which libFuzzer reports.  Loaded a third and
 * a fourth time without tombstones (each way), as upserts and readers load
 * a table, it must succeed or fail as the full load did and hold the same
 * live files, with no tombstone kept.  The seeds are the
 * checkpoints of Spark, delta-rs and stocketl in tests/fixtures, most
 * without page checksums, so mutations reach the decoders behind them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta/delta.h"
#include "delta/delta_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define JSON_NAME "00000000000000000001.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.json"

static char root[64], ckpt[128], json_ckpt[192], sidecar[128];
static int is_json;

/* The table goes with the process. */
static void cleanup(void)
{
	char dir[128];
	unlink(ckpt);
	unlink(json_ckpt);
	unlink(sidecar);
	snprintf(dir, sizeof dir, "%s/_delta_log/_sidecars", root);
	rmdir(dir);
	snprintf(dir, sizeof dir, "%s/_delta_log", root);
	rmdir(dir);
	rmdir(root);
}

static void put(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
}

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void same_files(const struct strmap *a, const struct strmap *b)
{
	size_t it = 0;
	struct strmap_slot *sl;
	if (a->count != b->count)
		abort();
	while ((sl = strmap_next(a, &it))) {
		const struct delta_file *x = sl->value, *y = strmap_get(b, sl->key);
		if (!y || !same(x->raw_path, y->raw_path) || x->size != y->size ||
		    x->modification_time != y->modification_time ||
		    x->data_change != y->data_change || !same(x->stats, y->stats) ||
		    !same(x->tags_json, y->tags_json) ||
		    x->deletion_timestamp != y->deletion_timestamp ||
		    x->has_deletion_vector != y->has_deletion_vector ||
		    x->has_base_row_id != y->has_base_row_id ||
		    (x->has_base_row_id && x->base_row_id != y->base_row_id) ||
		    x->has_row_commit_version != y->has_row_commit_version ||
		    (x->has_row_commit_version &&
		     x->default_row_commit_version != y->default_row_commit_version) ||
		    x->partition_values.n != y->partition_values.n)
			abort();
		for (size_t i = 0; i < x->partition_values.n; i++)
			if (!same(x->partition_values.kv[i].key, y->partition_values.kv[i].key) ||
			    !same(x->partition_values.kv[i].value, y->partition_values.kv[i].value))
				abort();
	}
}

/* The same metadata domains, with the same configurations. */
static void same_domains(const struct delta_snapshot *a, const struct delta_snapshot *b)
{
	size_t it = 0;
	struct strmap_slot *sl;
	if (a->domains.count != b->domains.count)
		abort();
	while ((sl = strmap_next(&a->domains, &it))) {
		const struct delta_domain *x = sl->value, *y = strmap_get(&b->domains, sl->key);
		if (!y || !same(x->configuration, y->configuration))
			abort();
	}
}

static int load(struct delta_snapshot *s, int rowwise, int no_tombstones)
{
	struct err_msg e;
	memset(s, 0, sizeof *s);
	s->root = strdup(root);
	s->checkpoint_version = -1;
	s->no_tombstones = no_tombstones;
	delta_checkpoint_rowwise = rowwise;
	return s->root ? delta_checkpoint_load(s, 1, 1, is_json ? JSON_NAME : NULL, NULL, &e) : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!root[0]) {
		char dir[128];
		snprintf(root, sizeof root, "/tmp/fuzz-ckpt-XXXXXX");
		if (!mkdtemp(root))
			abort();
		snprintf(dir, sizeof dir, "%s/_delta_log", root);
		snprintf(ckpt, sizeof ckpt, "%s/00000000000000000001.checkpoint.parquet", dir);
		snprintf(json_ckpt, sizeof json_ckpt, "%s/" JSON_NAME, dir);
		snprintf(sidecar, sizeof sidecar, "%s/_sidecars/s.parquet", dir);
		if (mkdir(dir, 0700) < 0)
			abort();
		snprintf(dir, sizeof dir, "%s/_delta_log/_sidecars", root);
		if (mkdir(dir, 0700) < 0)
			abort();
		atexit(cleanup);
	}
	size_t main_size = size;
	for (size_t i = 0; i + 8 <= size; i++)
		if (memcmp(data + i, "\0SIDECAR", 8) == 0) {
			main_size = i;
			break;
		}
	is_json = main_size > 0 && data[0] == '{';
	put(is_json ? json_ckpt : ckpt, data, main_size);
	if (main_size < size)
		put(sidecar, data + main_size + 8, size - main_size - 8);
	else
		unlink(sidecar);
	struct delta_snapshot cols, rows, live[2];
	int a = load(&cols, 0, 0), b = load(&rows, 1, 0);
	if (a == 0 && b == 0) {
		same_files(&cols.files, &rows.files);
		same_files(&cols.tombstones, &rows.tombstones);
		same_domains(&cols, &rows);
	}
	for (int rowwise = 0; rowwise < 2; rowwise++) {
		const struct delta_snapshot *full = rowwise ? &rows : &cols;
		int c = load(&live[rowwise], rowwise, 1);
		if ((c == 0) != ((rowwise ? b : a) == 0))
			abort();
		if (c == 0) {
			same_files(&full->files, &live[rowwise].files);
			if (live[rowwise].tombstones.count)
				abort();
		}
		delta_snapshot_free(&live[rowwise]);
	}
	delta_snapshot_free(&cols);
	delta_snapshot_free(&rows);
	return 0;
}

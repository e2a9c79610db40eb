/*
 * Fuzz target: Delta log actions (a commit file's text) applied to a
 * snapshot, then the protocol gates over whatever state results.  The
 * same text is applied again to a snapshot that keeps no tombstones, as
 * upserts and readers load a table: it must be accepted or refused alike,
 * and leave the same live files, with no tombstone kept; a difference
 * aborts, which libFuzzer reports.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delta/delta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fresh(struct delta_snapshot *s, int no_tombstones)
{
	memset(s, 0, sizeof *s);
	s->root = strdup("fuzz");
	s->checkpoint_version = -1;
	s->no_tombstones = no_tombstones;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct delta_snapshot snap, live;
	struct err_msg e;
	fresh(&snap, 0);
	fresh(&live, 1);
	int a = delta_snapshot_apply(&snap, 1, (const char *)data, size, &e);
	int b = delta_snapshot_apply(&live, 1, (const char *)data, size, &e);
	if ((a == 0) != (b == 0) || live.tombstones.count)
		abort();
	if (a == 0) {
		if (snap.files.count != live.files.count)
			abort();
		size_t it = 0;
		struct strmap_slot *sl;
		while ((sl = strmap_next(&snap.files, &it)))
			if (!strmap_get(&live.files, sl->key))
				abort();
	}
	if (a == 0 && snap.has_protocol && snap.has_meta) {
		delta_check_read(&snap, &e);
		delta_check_write(&snap, &e);
		delta_checkpoint_interval(&snap);
		if (delta_row_tracking(&snap))
			delta_row_id_high_water_mark(&snap);
	}
	delta_snapshot_free(&snap);
	delta_snapshot_free(&live);
	return 0;
}

/*
 * Fuzz target: Delta log actions (a commit file's text) applied to a
 * snapshot, then the protocol gates over whatever state results.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delta/delta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct delta_snapshot snap;
	struct err_msg e;
	memset(&snap, 0, sizeof snap);
	snap.root = strdup("fuzz");
	snap.checkpoint_version = -1;
	if (delta_snapshot_apply(&snap, 1, (const char *)data, size, &e) == 0 &&
	    snap.has_protocol && snap.has_meta) {
		delta_check_read(&snap, &e);
		delta_check_write(&snap, &e);
		delta_checkpoint_interval(&snap);
	}
	delta_snapshot_free(&snap);
	return 0;
}

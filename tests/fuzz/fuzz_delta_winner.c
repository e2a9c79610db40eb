/*
 * Fuzz target: a winning commit judged by a transaction (its actions
 * parsed, classified against a read set, a remove and a txn, and applied to
 * the snapshot), and the same bytes as a _last_checkpoint pointer and as a
 * Delta duration.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delta/delta.h"
#include "delta/delta_store.h"
#include "delta/delta_txn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct delta_snapshot snap;
	struct err_msg e;
	memset(&snap, 0, sizeof snap);
	snap.root = strdup("fuzz");
	snap.checkpoint_version = -1;
	struct delta_store *store = delta_store_link("fuzz", &e);
	struct delta_txn *t = store ? delta_txn_begin(&snap, store, "MERGE") : NULL;
	if (t) {
		struct delta_kv kv = {(char *)"p", (char *)"a"};
		struct delta_map part = {&kv, 1};
		struct delta_file f = {0};
		f.path = (char *)"p=a/f 1.parquet";
		f.partition_values = part;
		delta_txn_set_app(t, "feed", 12);
		delta_txn_remove(t, &f, 1, 1);
		delta_txn_read_partition(t, &part);
		delta_txn_read_file(t, "p=b/x.parquet");
		delta_txn_check_winner(t, 1, (const char *)data, size, &e);
		struct buf text = BUF_INIT;
		delta_txn_text(t, 1, &text);
		buf_free(&text);
		delta_txn_free(t);
	}
	delta_store_close(store);
	delta_snapshot_free(&snap);

	char *s = malloc(size + 1);
	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
		struct delta_last_checkpoint lc;
		delta_last_checkpoint_parse(s, size, &lc);
		int64_t ms;
		delta_interval_ms(s, &ms);
		free(s);
	}
	return 0;
}

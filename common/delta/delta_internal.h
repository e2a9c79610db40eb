/*
 * delta_internal: what the files of the Delta module share and nothing
 * outside it uses: applying one parsed action, reading a file whole,
 * building paths that never truncate, the listing of _delta_log and the
 * background check that proves a log has no gap.
 */
#ifndef STOCKETL_DELTA_INTERNAL_H
#define STOCKETL_DELTA_INTERNAL_H

#include <pthread.h>

#include "delta/delta.h"

struct json;

/* Paths in the log are built into buffers of this size; longer ones are refused. */
#define DELTA_PATH_MAX 4096

/*
 * snprintf into out (size cap) that refuses to truncate: 0, or -1 with
 * errno ENAMETOOLONG when the text does not fit.
 */
int delta_pathf(char *out, size_t cap, const char *fmt, ...) ERR_PRINTF(3, 4);

/*
 * 1: read checkpoints row by row only, as every layout can be read; 0 (the
 * default): their add and remove actions column by column where the
 * layout allows.  For tests that hold the one against the other.
 */
extern int delta_checkpoint_rowwise;

/* Apply one parsed action object (a line of a commit, or a checkpoint row). */
int delta_apply_action(struct delta_snapshot *snap, int64_t v, const struct json *j,
                       struct err_msg *e);

/*
 * Read a file whole into out, at most max bytes.  A file that does not
 * exist sets *missing (when missing is not NULL) without an error message.
 */
int delta_read_file(const char *path, struct buf *out, size_t max, struct err_msg *e, int *missing);

/* fsync a directory: 0, or -1 with errno. */
int delta_fsync_dir(const char *dir);

/* Write all n bytes of p to fd, again after EINTR: 0, or -1 with errno. */
int delta_write_all(int fd, const char *p, size_t n);

/* Drop the state of a snapshot (actions, notice) but keep its root and mode. */
void delta_snapshot_reset(struct delta_snapshot *snap);

/*
 * The listing of _delta_log: commit versions and checkpoints.  A version
 * may have several checkpoints (a classic one and UUID-named ones, which
 * tables with the v2Checkpoint feature have), each listed apart; any
 * complete one will do.
 */
enum delta_ckpt_kind {
	DELTA_CKPT_CLASSIC,      /* n.checkpoint.parquet, or its parts */
	DELTA_CKPT_UUID_PARQUET, /* n.checkpoint.<uuid>.parquet (V2 spec) */
	DELTA_CKPT_UUID_JSON     /* n.checkpoint.<uuid>.json (V2 spec) */
};
/* The longest <uuid> of a UUID-named checkpoint that the listing takes. */
#define DELTA_CKPT_UUID_MAX 64

struct delta_ckpt {
	int64_t version;
	int kind;  /* enum delta_ckpt_kind */
	int parts; /* 1 for a single-file checkpoint */
	int found; /* parts present */
	unsigned char have[64];
	char uuid[DELTA_CKPT_UUID_MAX + 1]; /* UUID-named ones: the <uuid> of the name */
};

/*
 * The name in _delta_log of a single-file checkpoint (classic or
 * UUID-named; a multi-part one's first part): 0, or -1 when it does not
 * fit in cap.
 */
int delta_ckpt_name(const struct delta_ckpt *c, char *out, size_t cap);
/*
 * Parse a checkpoint file name of _delta_log: 1 with *c set (one part
 * found) when it is one (classic, a part of a multi-part one, or
 * UUID-named), else 0.
 */
int delta_ckpt_parse(const char *name, struct delta_ckpt *c);
/*
 * Read checkpoint c into snap (delta_checkpoint_load()), checking the
 * counts of lc when it is the checkpoint lc names.
 */
int delta_ckpt_load(struct delta_snapshot *snap, const struct delta_ckpt *c,
                    const struct delta_last_checkpoint *lc, struct err_msg *e);

struct delta_listing {
	int64_t *commits; /* ascending */
	size_t ncommits, capc;
	struct delta_ckpt *ckpts; /* ascending by version */
	size_t nckpts, capk;
};

int delta_list(const char *root, struct delta_listing *l, struct err_msg *e);
void delta_listing_free(struct delta_listing *l);
int delta_listing_has(const struct delta_listing *l, int64_t v);
/* The newest version listed: a commit or a complete checkpoint; -1 for none. */
int64_t delta_listing_newest(const struct delta_listing *l);

/*
 * Time travel by timestamp (delta_travel.c): the latest version of the log
 * listed in l committed at or before at (epoch ms), by the commit times
 * the protocol gives as of the table's latest state (latest, loaded with
 * or without its files): 0 with *version and *when (its commit time) set,
 * or -1 with e set (EX_DATAERR: no version was committed by then, naming
 * the oldest that can be read; I/O errors).
 */
int delta_travel_version(const char *root, const struct delta_listing *l,
                         const struct delta_snapshot *latest, int64_t at, int64_t *version,
                         int64_t *when, struct err_msg *e);

/*
 * A listing of _delta_log made by a thread of its own while replay reads
 * the checkpoint and commits (a log of many thousand versions takes
 * milliseconds to list).
 */
struct delta_log_check {
	pthread_t th;
	char *root;
	struct delta_listing l;
	struct err_msg e;
	int rc;
	int started, joined;
};

/*
 * In-commit timestamps (PROTOCOL.md, "In-Commit Timestamps"): enabled as
 * of a snapshot when the protocol is writer version 7 with the feature
 * inCommitTimestamp and delta.enableInCommitTimestamps is true.
 */
#define DELTA_ICT_FEATURE "inCommitTimestamp"
int delta_ict_enabled(const struct delta_snapshot *s);
/*
 * commitInfo.inCommitTimestamp of a commit's text (its first line, where
 * the protocol puts the commitInfo of such a table): 0 with *ict set, -1
 * when the first action is not a commitInfo with one.
 */
int delta_commit_ict(const char *text, size_t len, int64_t *ict);

/*
 * The canonical form of JSON text that PROTOCOL.md's "JSON checksum" gives
 * (delta_crc.c), NUL-terminated in out: 0, or -1 for text that is not one
 * JSON value, an object with a key twice, or no memory.
 * delta_json_checksum() is its MD5 in 32 lower-case hex digits;
 * delta_json_checksum_ok() says 1 when stored (NULL: none) is that of
 * text, 0 otherwise; delta_json_add_checksum() puts the checksum member
 * at the end of the JSON object in b (which has none): 0, or -1.
 */
int delta_json_canonical(const char *text, size_t len, struct buf *out);
int delta_json_checksum(const char *text, size_t len, char out[33]);
int delta_json_checksum_ok(const char *text, size_t len, const char *stored);
int delta_json_add_checksum(struct buf *b);

/*
 * Version checksum files (PROTOCOL.md, "Version Checksum File";
 * delta_crc.c): "<root>/_delta_log/<20-digit v>.crc".
 *
 * delta_crc_read() takes the counts of an existing one: 0 with *files
 * and *bytes, -1 when it is missing, larger than DELTA_CRC_FILE_MAX,
 * malformed, lacks a required field, or is not of the table whose
 * metaData.id is table_id.
 *
 * delta_crc_text() is the file's text for snap's state (files live files
 * of bytes in all; txn_id NULL: none; ict > 0: the version's in-commit
 * timestamp): 0, or -1 out of memory.  delta_crc_put() writes it as
 * version v's, never replacing one that is there: 1 written, 0 one was
 * there, -1 with e set.
 */
#define DELTA_CRC_FILE_MAX (16u << 20)
int delta_crc_path(const char *root, int64_t v, char *out, size_t cap);
int delta_crc_read(const char *root, int64_t v, const char *table_id, int64_t *files,
                   int64_t *bytes);
int delta_crc_text(const struct delta_snapshot *snap, int64_t files, int64_t bytes,
                   const char *txn_id, int64_t ict, struct buf *out);
int delta_crc_put(const char *root, int64_t v, const char *text, size_t len, struct err_msg *e);

/*
 * The JSON object of a metaData or protocol action (delta_txn.c), as
 * commits hold it, appended to out: what a commit stages and a version
 * checksum file repeats.
 */
void delta_metadata_json(const struct delta_metadata *m, struct buf *out);
void delta_protocol_json(const struct delta_protocol *p, struct buf *out);

#endif

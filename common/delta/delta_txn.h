/*
 * delta_txn: a Delta transaction, the one way this project commits.
 *
 * A transaction begins from a snapshot (its read version), stages actions
 * (add, remove, txn, metaData, protocol) and a commitInfo whose operation,
 * parameters and metrics the caller gives, records what it read (files,
 * partitions, the whole table), and commits at read version + 1 through a
 * commit store (delta/delta_store.h).
 *
 * When another writer took the version, each winning commit is parsed and
 * judged from its actions, as Spark's conflict checker does:
 *
 *   - a protocol or metaData change: a conflict, unless the caller's
 *     revalidate hook accepts the new state (then it costs one attempt);
 *   - a txn of the same application at or above ours: this transaction is
 *     a duplicate, which is not an error: nothing is committed;
 *   - a removal of a file this transaction removes (delete/delete) or read
 *     (delete/read): a conflict;
 *   - added files in a partition this transaction read, when the winner was
 *     not a blind append or this transaction is Serializable: a conflict;
 *   - added files that the transaction's read predicate accepts: a
 *     conflict;
 *   - anything else (another writer's blind append): no conflict; the
 *     transaction moves past it at no cost and tries the next version.
 *
 * Catching up over other writers' appends therefore never runs out of
 * attempts; only real conflicts spend them.  After the commit, the
 * snapshot is at the new version and the checkpoint that falls due
 * (version % delta.checkpointInterval == 0) is written, from the snapshot
 * in memory when it holds the file lists and the tombstones; a snapshot
 * loaded without either is first loaded whole at that version, and kept
 * so.
 *
 * Ownership: the transaction borrows the snapshot and the store (both must
 * outlive it) and copies everything staged into it.  The snapshot is
 * updated in place: winners read while catching up, then the commit.
 */
#ifndef STOCKETL_DELTA_TXN_H
#define STOCKETL_DELTA_TXN_H

#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "delta/delta.h"
#include "delta/delta_store.h"

struct delta_txn;

enum delta_isolation { DELTA_WRITE_SERIALIZABLE = 0, DELTA_SERIALIZABLE = 1 };

/* What a winning commit means for the transaction (delta_txn_check_winner()). */
enum delta_winner {
	DELTA_WINNER_COMPATIBLE = 0, /* move past it */
	DELTA_WINNER_DUPLICATE,      /* it holds our txn (or a later one): we are a duplicate */
	DELTA_WINNER_PROTOCOL,       /* conflict: it changed the protocol */
	DELTA_WINNER_METADATA,       /* conflict: it changed the metadata */
	DELTA_WINNER_DELETE_DELETE,  /* conflict: it removed a file we remove */
	DELTA_WINNER_DELETE_READ,    /* conflict: it removed a file we read */
	DELTA_WINNER_APPEND_READ     /* conflict: it added files where we read */
};

/*
 * Begin a transaction on snap (its version is the read version) committing
 * through store.  snap NULL begins the creation of a table (version 0,
 * which must stage protocol and metaData).  operation is commitInfo's
 * ("WRITE", "CREATE TABLE", "MERGE", "OPTIMIZE", "VACUUM START", ...).
 * NULL when out of memory.
 */
struct delta_txn *delta_txn_begin(struct delta_snapshot *snap, struct delta_store *store,
                                  const char *operation);
void delta_txn_free(struct delta_txn *t);

/* commitInfo.operationParameters and .operationMetrics: string values (value NULL: null). */
int delta_txn_param(struct delta_txn *t, const char *key, const char *value);
int delta_txn_metric(struct delta_txn *t, const char *key, const char *value);
int delta_txn_metric_i64(struct delta_txn *t, const char *key, int64_t value);
void delta_txn_set_isolation(struct delta_txn *t, enum delta_isolation level);

/*
 * Stage an add: f->path is the file's path relative to the table root, as
 * on storage (the transaction URI-encodes it); partition_values, size,
 * modification_time, data_change and stats (JSON text or NULL) are used.
 */
int delta_txn_add(struct delta_txn *t, const struct delta_file *f);
/*
 * Add a change data file (a cdc action: f->path relative to the table
 * root, under _change_data/, with its partition values and size; always
 * dataChange false).  0, or -1 out of memory.
 */
int delta_txn_cdc(struct delta_txn *t, const struct delta_file *f);
/*
 * Stage a remove of file f (a live file of the snapshot, or one described
 * the same way): path, partition values, size and stats are copied, with
 * deletionTimestamp and dataChange as given and extendedFileMetadata true.
 * A removed file is also part of the read set.
 */
int delta_txn_remove(struct delta_txn *t, const struct delta_file *f, int64_t deletion_timestamp,
                     int data_change);
/* Stage the txn action of application app at version (idempotent loading). */
int delta_txn_set_app(struct delta_txn *t, const char *app, int64_t version);
/* Stage a protocol action (reader and writer versions, and features if any). */
int delta_txn_set_protocol(struct delta_txn *t, const struct delta_protocol *p);
/*
 * Stage a metaData action: id, name, description, format provider and
 * options, schemaString, partitionColumns, configuration and createdTime
 * (when >= 0) of m.
 */
int delta_txn_set_metadata(struct delta_txn *t, const struct delta_metadata *m);

/* The read set: files (paths as in the snapshot), partitions (values by column), the whole table. */
int delta_txn_read_file(struct delta_txn *t, const char *path);
int delta_txn_read_partition(struct delta_txn *t, const struct delta_map *values);
void delta_txn_read_table(struct delta_txn *t);
/*
 * The read predicate of a transaction that must see every row it depends
 * on, wherever a winner put it (an upsert must not miss a row of a key it
 * writes): fn is called for each file a winning commit adds with
 * dataChange, with the file's decoded path, partition values and stats,
 * and returns 1 when the file may hold such rows.  A file it accepts is a
 * conflict (DELTA_WINNER_APPEND_READ) at either isolation level, also
 * when the winner was a blind append.
 */
typedef int (*delta_read_pred_fn)(void *arg, const struct delta_file *f);
void delta_txn_read_predicate(struct delta_txn *t, delta_read_pred_fn fn, void *arg);

/*
 * Called when a winner changed the protocol or the metadata: return 0 when
 * the staged actions are still valid against snap (now holding the
 * winner), -1 with e set when they are not.  max_attempts bounds how many
 * times this may happen (default 15).
 */
typedef int (*delta_revalidate_fn)(void *arg, const struct delta_snapshot *snap, struct err_msg *e);
void delta_txn_set_revalidate(struct delta_txn *t, delta_revalidate_fn fn, void *arg,
                              int64_t max_attempts);

/*
 * What must hold before the commit becomes visible: fn(arg, e) is called
 * by each put of the commit once the commit is written and before it is
 * made visible (delta_store_put_after()), so that the commit is prepared
 * while the data files it names are still being made durable; -1 with e
 * set fails the commit (nothing committed).
 */
void delta_txn_set_barrier(struct delta_txn *t, int (*fn)(void *arg, struct err_msg *e), void *arg);
/* Is it a blind append: adds files, reads and removes none, changes no metadata or protocol? */
int delta_txn_is_blind_append(const struct delta_txn *t);
/* The transaction's id (commitInfo.txnId). */
const char *delta_txn_id(const struct delta_txn *t);

/*
 * The commit text (NDJSON, commitInfo first) with commitInfo.timestamp
 * now_ms.  0, or -1 when it could not be built whole (out of memory); the
 * text is never truncated.
 */
int delta_txn_text(const struct delta_txn *t, int64_t now_ms, struct buf *out);

/*
 * Judge the winning commit text at version v (see the top of this file)
 * and apply it to the transaction's snapshot.  Returns an enum
 * delta_winner, with e describing a conflict or a duplicate, or -1 with e
 * set when the commit is not a valid one (EX_DATAERR).
 */
int delta_txn_check_winner(struct delta_txn *t, int64_t v, const char *text, size_t len,
                           struct err_msg *e);

/* The outcome of delta_txn_commit(). */
struct delta_commit_info {
	int64_t version;  /* the version committed, or -1 */
	int64_t winners;  /* other writers' commits moved past */
	int64_t attempts; /* revalidated conflicts */
	int conflict;     /* enum delta_winner of the conflict that ended it, or 0 */
	int duplicate;    /* 1: a winner held our txn; nothing committed */
	/*
	 * 1: the store could not say whether version was taken (it went away
	 * during the claim): not counted as committed, but the files it may
	 * name must be kept (DELTA_PUT_UNKNOWN)
	 */
	int unknown;
	int unsynced; /* committed, but not made durable: sync_err says why */
	struct err_msg sync_err;
	/* 1 written, -1 failed (checkpoint_err), 0 not due, 2 handed to the checkpointer */
	int checkpoint;
	struct err_msg checkpoint_err;
};

/*
 * Commit.  Returns 0 when committed (info->version), 1 when a winner made
 * this transaction a duplicate (nothing committed), -1 with e set
 * otherwise: a conflict (EX_TEMPFAIL; info->conflict says which), a gap in
 * the log (EX_DATAERR), I/O (EX_IOERR).  Whenever info->version >= 0 the
 * version is in the table, whatever else went wrong, and the files it
 * names must be kept.  A failed checkpoint does not fail the commit.
 */
int delta_txn_commit(struct delta_txn *t, struct delta_commit_info *info, struct err_msg *e);

/*
 * Checkpoints written behind the work.  A process that commits batch after
 * batch gives its transactions a checkpointer: the checkpoint that falls
 * due is then written by a thread of its own, from a copy of the snapshot
 * at the version committed, while the process goes on with its next batch
 * (delta_txn_commit() says 2).  The next checkpoint due waits for it; so
 * does delta_checkpointer_free().  Without memory or a thread it is
 * written in the commit, as without a checkpointer.
 *
 * delta_checkpointer_poll() takes the result of a checkpoint that has
 * finished, the oldest not yet taken first (wait 1: waits for the one in
 * flight when none is left): 1 with *version when it was written, -1 with
 * *version and e when it failed, 0 when none is there to take; call it
 * until it says 0.  A failed checkpoint fails nothing else.
 */
struct delta_checkpointer;
struct delta_checkpointer *delta_checkpointer_new(void);
void delta_txn_set_checkpointer(struct delta_txn *t, struct delta_checkpointer *k);
int delta_checkpointer_poll(struct delta_checkpointer *k, int wait, int64_t *version,
                            struct err_msg *e);
void delta_checkpointer_free(struct delta_checkpointer *k);

#endif

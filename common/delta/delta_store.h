/*
 * delta_store: where a table's commits are made atomic, behind one
 * interface ([storage] commit_store = auto | link | postgres in
 * stocketl(7)).
 *
 * A commit store gives put-if-absent of version N (the one primitive
 * optimistic concurrency needs), reading a commit, the latest version, and
 * recovery of a commit that a writer started and did not finish.  The store
 * may be the authority on the latest version instead of a directory
 * listing (a store in a database is, on a bucket whose listings lag), which
 * is why readers and writers go through it.
 *
 * Two stores:
 *
 *   link      the commit is written to a hidden temporary file in
 *             _delta_log, fsynced, and hard-linked to its name with
 *             link(2), which fails with EEXIST when the version exists;
 *             the directory is then fsynced.  Its commits are atomic when
 *             made, so it has nothing to recover.  Local filesystems.
 *   postgres  for tables on an s3fs mount, which has no link(2) and no
 *             atomic create: writers claim each version with a row in
 *             PostgreSQL (delta_store_pg.c, the protocol of Delta's
 *             S3DynamoDBLogStore), the row holding the commit's bytes; the
 *             database is the authority on the latest version, and any
 *             writer or reader finishes a claimed version whose N.json a
 *             dead writer never wrote.
 *
 * Which one a table gets: the postgres store when the configuration asks
 * for it ([storage] commit_store = postgres, or auto, the default, with a
 * DSN in [postgres] dsn or $STOCKETL_PG_DSN; $STOCKETL_COMMIT_STORE
 * overrides the file) and the table is on an s3fs mount; the link store on
 * every other filesystem, where link(2) is atomic and no server is needed.
 * A writer of a table on a FUSE mount without the postgres store is
 * refused when the store is opened, before any data file is written
 * (EX_CONFIG, saying to configure PostgreSQL); a reader there reads the
 * log as listed, as engines that know nothing of the store do.
 *
 * Ownership: the store owns its copy of the root; delta_store_close()
 * frees it.
 */
#ifndef STOCKETL_DELTA_STORE_H
#define STOCKETL_DELTA_STORE_H

#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

struct config;
struct delta_store;
struct delta_snapshot;
struct delta_load_opts;

/* The setting's environment variable (between a flag, which there is none of, and the file). */
#define DELTA_STORE_ENV "STOCKETL_COMMIT_STORE"

/* Results of put. */
enum {
	DELTA_PUT_DONE = 0,   /* version v is ours */
	DELTA_PUT_EXISTS = 1, /* another writer made version v first */
	/*
	 * Version v is ours, but making it durable or visible failed (the
	 * directory's fsync; N.json on the bucket): e says why.  The commit
	 * stands; its data files must be kept.
	 */
	DELTA_PUT_UNSYNCED = 2,
	/*
	 * Whether version v is ours cannot be known now (the store went away
	 * while the claim was on its way): e says why.  The data files must be
	 * kept, since the version may name them; running again settles it (the
	 * commit is finished and its batch found loaded, or the batch is loaded
	 * anew).
	 */
	DELTA_PUT_UNKNOWN = 3
};

struct delta_store_ops {
	const char *name;
	/* Put-if-absent of version v: a DELTA_PUT_* value, or -1 with e set (nothing committed). */
	int (*put)(struct delta_store *s, int64_t v, const char *text, size_t len,
	           struct err_msg *e);
	/* Read version v into out: 0, 1 when it does not exist, -1 with e set. */
	int (*read)(struct delta_store *s, int64_t v, struct buf *out, struct err_msg *e);
	/*
	 * The latest version, -1 for none, -2 with e set on error (a gap in
	 * the log included).
	 */
	int64_t (*latest)(struct delta_store *s, struct err_msg *e);
	/*
	 * Finish commits that a writer left incomplete, so that a listing of
	 * _delta_log can be trusted; called by readers and writers before they
	 * list.  NULL for a store whose commits are complete when made.
	 */
	int (*recover)(struct delta_store *s, struct err_msg *e);
	void (*close)(struct delta_store *s);
	/*
	 * latest() and read() know commits that a listing of _delta_log may
	 * not show yet: snapshots are brought up to latest() through read().
	 */
	int authoritative;
};

struct delta_store {
	const struct delta_store_ops *ops;
	char *root;
	/*
	 * For one put (delta_store_put_after()): called once the commit is
	 * ready to be made visible and before it is (linked, claimed); what
	 * the commit names must be durable by then.  A put calls it through
	 * delta_store_barrier().
	 */
	int (*barrier)(void *arg, struct err_msg *e);
	void *barrier_arg;
	/*
	 * Opened for reading (delta_table_open() without DELTA_TABLE_WRITE):
	 * a commit left unfinished that this process may not write to
	 * _delta_log (a read-only mount, credentials that only read) is read
	 * from the store, and left for a writer to finish.
	 */
	int reader;
};

/*
 * The commit store of the table at root, for a writer, as the
 * configuration and the table's filesystem choose (see the top of this
 * file).  Errors: a [storage] commit_store that is not auto, link or
 * postgres, or a table on a FUSE mount without the postgres store
 * (EX_CONFIG, naming what to configure); an s3fs mount whose bucket cannot
 * be named (EX_CONFIG); PostgreSQL unreachable (EX_TEMPFAIL) or refusing
 * the settings (EX_CONFIG).  NULL with e set on failure.
 */
struct delta_store *delta_store_open(const struct config *c, const char *root, struct err_msg *e);
/* How a program opens a table: delta_table_open()'s flags. */
enum {
	/*
	 * The writer's store (delta_store_open), else the reader's, which
	 * needs no put-if-absent: where a writer would be refused for want of
	 * the postgres store, the link store reads the log as listed.
	 */
	DELTA_TABLE_WRITE = 1,
	DELTA_TABLE_RECOVER = 2, /* what a writer left incomplete finished before returning */
};
/*
 * TABLE as a program's argument names it (a name under the lake or a
 * path, delta_resolve_table), its root in *root, and its store opened as
 * flags say.  Every program that reads or writes a table starts here, so
 * that each refuses what it cannot use in the same words and in the same
 * order: a bad name (EX_USAGE) before the configuration's store, a store
 * that cannot commit before anything is written.  NULL with e set; *root
 * is the caller's to free either way.
 */
struct delta_store *delta_table_open(const struct config *c, const char *table, unsigned flags,
                                     struct buf *root, struct err_msg *e);
/* The link store of root, without configuration (tests, tools). */
struct delta_store *delta_store_link(const char *root, struct err_msg *e);
/*
 * The postgres store of root, a table on an s3fs mount, connecting with
 * the configuration's [postgres] settings (pg/pg.h says where the DSN
 * comes from).  id is the table's identity when the caller has it
 * (pg_table_identity()), NULL to find it; EX_CONFIG when root is not on an
 * s3fs mount.
 */
struct delta_store *delta_store_postgres(const struct config *c, const char *root, const char *id,
                                         struct err_msg *e);
void delta_store_close(struct delta_store *s);

/* Is the directory (or its nearest existing parent) on a FUSE mount? 1, 0, or -1 with errno. */
int delta_on_fuse(const char *path);

/*
 * Whether the log of the table at root is in its directory: 1 when
 * _delta_log lists a commit or a checkpoint, 0 when it lists none or does
 * not exist, -1 with e set when it cannot be read.  A _delta_log reported
 * missing is believed only when the nearest directory above it that opens
 * lists without an error and does not name it: through s3fs a server that
 * does not answer reports every name as missing (EX_IOERR then).  With the postgres
 * store a table's commits are also rows in PostgreSQL, and a table deleted
 * from the bucket leaves its rows behind: a table made again at that
 * location would take up the deleted one's versions (stocketl-db
 * forget-table removes them).
 */
int delta_log_listed(const char *root, struct err_msg *e);

/*
 * For a writer, with latest the version the store holds (-1: none): 0
 * when the table is there to be written; -1 with e set (EX_DATAERR) when
 * the store is the authority and holds versions of a table whose log is
 * gone from the bucket (a commit or a checkpoint written into it would
 * make a table no reader can open), or when the log cannot be read.
 */
int delta_store_log_present(const struct delta_store *s, int64_t latest, struct err_msg *e);

/*
 * Load a snapshot of the table as delta_snapshot_load() does, through the
 * store: what a writer left incomplete is finished first; then the log is
 * replayed as listed, and when the store is the authority and knows newer
 * commits than the listing showed (a cache of the filesystem that lags),
 * they are read from the store and applied, so that the latest version is
 * the store's.  A log that cannot be replayed as listed (a commit listed
 * and then not found, as through a mount that caches missing names) is
 * replayed from the newest checkpoint listed with every commit after it
 * read through the store.
 */
int delta_store_load(struct delta_store *s, const struct delta_load_opts *o,
                     struct delta_snapshot *snap, struct err_msg *e);

static inline int delta_store_put(struct delta_store *s, int64_t v, const char *text, size_t len,
                                  struct err_msg *e)
{
	return s->ops->put(s, v, text, len, e);
}

/*
 * A put that calls barrier(arg, e) just before the commit becomes visible,
 * so that the commit can be written while what it names is still being
 * made durable; a barrier that fails (-1 with e set) fails the put:
 * nothing is committed, nothing of the put is left.
 */
static inline int delta_store_put_after(struct delta_store *s, int64_t v, const char *text,
                                        size_t len, int (*barrier)(void *, struct err_msg *),
                                        void *arg, struct err_msg *e)
{
	s->barrier = barrier;
	s->barrier_arg = arg;
	int rc = s->ops->put(s, v, text, len, e);
	s->barrier = NULL;
	s->barrier_arg = NULL;
	return rc;
}

/* For the stores' puts: the barrier of the put, if it has one (0, or -1 with e set). */
static inline int delta_store_barrier(struct delta_store *s, struct err_msg *e)
{
	return s->barrier ? s->barrier(s->barrier_arg, e) : 0;
}

static inline int delta_store_read(struct delta_store *s, int64_t v, struct buf *out,
                                   struct err_msg *e)
{
	return s->ops->read(s, v, out, e);
}

static inline int64_t delta_store_latest(struct delta_store *s, struct err_msg *e)
{
	return s->ops->latest(s, e);
}

static inline int delta_store_recover(struct delta_store *s, struct err_msg *e)
{
	return s->ops->recover ? s->ops->recover(s, e) : 0;
}

#endif

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
 * The store in this build is "link": the commit is written to a hidden
 * temporary file in _delta_log, fsynced, and hard-linked to its name with
 * link(2), which fails with EEXIST when the version exists; the directory
 * is then fsynced.  Its commits are atomic when made, so it has nothing to
 * recover.  A FUSE mount (s3fs) offers no atomic link, so the link store
 * refuses such a table when it is opened, before a writer writes a data
 * file; commits there need the PostgreSQL store, which is not part of
 * this build.
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

/* Results of put. */
enum {
	DELTA_PUT_DONE = 0,   /* version v is ours */
	DELTA_PUT_EXISTS = 1, /* another writer made version v first */
	/*
	 * Version v is ours and visible, but making it durable failed (the
	 * directory's fsync): e says why.  The commit stands; its data files
	 * must be kept.
	 */
	DELTA_PUT_UNSYNCED = 2
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
};

struct delta_store {
	const struct delta_store_ops *ops;
	char *root;
};

/*
 * The commit store of the table at root, for a writer, as the
 * configuration chooses: [storage] commit_store = auto (the default) or
 * link.  auto is the PostgreSQL store where [postgres] dsn is set and that
 * store exists; this build has only the link store, so auto is link.
 * postgres is a configuration error in this build, as is any other value
 * (EX_CONFIG).  The link store refuses a root on a FUSE mount (EX_CONFIG),
 * naming the PostgreSQL store as the way to commit there.  NULL with e set
 * on failure.
 */
struct delta_store *delta_store_open(const struct config *c, const char *root, struct err_msg *e);
/* The link store of root, without configuration (tests, tools). */
struct delta_store *delta_store_link(const char *root, struct err_msg *e);
void delta_store_close(struct delta_store *s);

/* Is the directory (or its nearest existing parent) on a FUSE mount? 1, 0, or -1 with errno. */
int delta_on_fuse(const char *path);

static inline int delta_store_put(struct delta_store *s, int64_t v, const char *text, size_t len,
                                  struct err_msg *e)
{
	return s->ops->put(s, v, text, len, e);
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

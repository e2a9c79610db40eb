/*
 * delta_store: the commit-store interface, the choice of a table's store,
 * the link store, and snapshots loaded through a store (see delta_store.h
 * for the contracts; the postgres store is delta_store_pg.c).
 *
 * put-if-absent with link(2): the commit is written whole to a hidden
 * temporary name, fsynced, then hard-linked to N.json; link fails with
 * EEXIST when the version exists, so two writers can never both make it,
 * and a reader never sees a partly written commit.  The directory is
 * fsynced after the link so that the version survives a crash; a failure
 * there is reported (DELTA_PUT_UNSYNCED), never ignored, and never turned
 * into "not committed", since the version is visible already.
 *
 * The choice depends on the table's filesystem as much as on the
 * configuration: the postgres store exists for s3fs, and a table on a
 * local disk keeps link(2) (atomic there, and no server to wait for) even
 * when the configuration names PostgreSQL for the lake on the bucket.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "base/config.h"
#include "pg/pg.h"
#include "pg/tableid.h"
#include "delta/delta.h"
#include "delta/delta_internal.h"
#include "delta/delta_store.h"
#include "text/json.h"

#define FUSE_SUPER_MAGIC 0x65735546

int delta_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int delta_on_fuse(const char *path)
{
	char p[DELTA_PATH_MAX];
	if (delta_pathf(p, sizeof p, "%s", path) < 0)
		return -1;
	/* The table may not exist yet (delta-create): ask its nearest existing parent. */
	for (;;) {
		struct statfs st;
		if (statfs(p, &st) == 0)
			return st.f_type == FUSE_SUPER_MAGIC;
		if (errno != ENOENT && errno != ENOTDIR)
			return -1;
		char *slash = strrchr(p, '/');
		if (!slash)
			return delta_on_fuse(".");
		if (slash == p) {
			p[1] = '\0';
			if (statfs(p, &st) < 0)
				return -1;
			return st.f_type == FUSE_SUPER_MAGIC;
		}
		*slash = '\0';
	}
}

int delta_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int link_put(struct delta_store *s, int64_t v, const char *text, size_t len,
                    struct err_msg *e)
{
	char final[DELTA_PATH_MAX], tmp[DELTA_PATH_MAX], dir[DELTA_PATH_MAX], uuid[37];
	delta_uuid(uuid);
	/* A hidden name: readers and listings ignore it, even if a crash leaves it behind. */
	if (delta_commit_path(s->root, v, final, sizeof final) < 0 ||
	    delta_pathf(dir, sizeof dir, "%s/_delta_log", s->root) < 0 ||
	    delta_pathf(tmp, sizeof tmp, "%s/.%020lld.json.%s.tmp", dir, (long long)v, uuid) < 0) {
		err_set(e, EX_IOERR, "%s: %s", s->root, strerror(ENAMETOOLONG));
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		err_set(e, EX_IOERR, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (delta_write_all(fd, text, len) < 0 || fsync(fd) < 0) {
		err_set(e, EX_IOERR, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0) {
		err_set(e, EX_IOERR, "%s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (delta_store_barrier(s, e) < 0) {
		unlink(tmp);
		return -1;
	}
	int rc = DELTA_PUT_DONE;
	if (link(tmp, final) < 0) {
		if (errno == EEXIST) {
			rc = DELTA_PUT_EXISTS;
		} else if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP ||
		           errno == ENOSYS) {
			err_set(
			    e, EX_IOERR,
			    "%s: this filesystem cannot create links, so commits cannot be made "
			    "atomic here (on s3fs, configure the PostgreSQL commit store): %s",
			    final, strerror(errno));
			rc = -1;
		} else {
			err_set(e, EX_IOERR, "%s: %s", final, strerror(errno));
			rc = -1;
		}
	}
	unlink(tmp);
	if (rc == DELTA_PUT_DONE && delta_fsync_dir(dir) < 0) {
		err_set(e, EX_IOERR,
		        "%s: version %lld is committed but could not be made durable "
		        "(syncing the directory failed: %s)",
		        s->root, (long long)v, strerror(errno));
		rc = DELTA_PUT_UNSYNCED;
	}
	return rc;
}

static int link_read(struct delta_store *s, int64_t v, struct buf *out, struct err_msg *e)
{
	return delta_commit_read(s->root, v, out, e);
}

static int64_t link_latest(struct delta_store *s, struct err_msg *e)
{
	return delta_latest_version(s->root, e);
}

static void link_close(struct delta_store *s)
{
	free(s->root);
	free(s);
}

static const struct delta_store_ops link_ops = {
    "link", link_put, link_read, link_latest, NULL, link_close, 0,
};

struct delta_store *delta_store_link(const char *root, struct err_msg *e)
{
	struct delta_store *s = calloc(1, sizeof *s);
	if (!s || !(s->root = strdup(root))) {
		free(s);
		err_set(e, EX_SOFTWARE, "out of memory");
		return NULL;
	}
	s->ops = &link_ops;
	return s;
}

/*
 * The setting as its source names it, for messages: "FILE:LINE: [storage]
 * commit_store = V", "$STOCKETL_COMMIT_STORE = V", or "[storage]
 * commit_store = V" for the default.
 */
static void setting_text(const struct config *c, const char *from, const char *v, char *out,
                         size_t cap)
{
	if (from && strcmp(from, "environment") == 0)
		snprintf(out, cap, "$%s = %s", DELTA_STORE_ENV, v);
	else if (from && strcmp(from, "default") != 0 && config_path(c))
		snprintf(out, cap, "%s:%d: [storage] commit_store = %s", config_path(c),
		         config_line(c, "storage", "commit_store"), v);
	else
		snprintf(out, cap, "[storage] commit_store = %s", v);
}

/*
 * The store the configuration and the table's filesystem call for; for a
 * reader (reading != 0), a table on a FUSE mount without the postgres
 * store gets the link store, which reads the log as listed.
 */
static struct delta_store *store_open(const struct config *c, const char *root, int reading,
                                      struct err_msg *e)
{
	const char *from = NULL;
	const char *v =
	    config_value(c, NULL, DELTA_STORE_ENV, "storage", "commit_store", "auto", &from);
	char setting[DELTA_PATH_MAX + 128];
	setting_text(c, from, v, setting, sizeof setting);
	int want_pg;
	if (strcmp(v, "postgres") == 0) {
		want_pg = 1;
	} else if (strcmp(v, "link") == 0) {
		want_pg = 0;
	} else if (strcmp(v, "auto") == 0) {
		struct pg_settings ps;
		if (pg_settings_load(c, NULL, &ps, e) < 0)
			return NULL;
		want_pg = ps.configured;
	} else {
		err_set(e, EX_CONFIG, "%s: expected auto, link or postgres", setting);
		return NULL;
	}
	int fuse = delta_on_fuse(root);
	if (fuse < 0) {
		err_set(e, EX_IOERR, "%s: %s", root, strerror(errno));
		return NULL;
	}
	if (want_pg && fuse) {
		struct buf id = BUF_INIT;
		int s3 = pg_table_identity(root, &id, e);
		struct delta_store *s = s3 > 0 ? delta_store_postgres(c, root, id.data, e) : NULL;
		buf_free(&id);
		if (s3 != 0)
			return s;
	}
	if (fuse && !reading) {
		if (want_pg)
			err_set(e, EX_CONFIG,
			        "%s: the table is on a FUSE mount that is not s3fs: it has no "
			        "link(2) for the link store, and the PostgreSQL commit store "
			        "coordinates tables on s3fs mounts only",
			        root);
		else if (strcmp(v, "link") == 0)
			err_set(
			    e, EX_CONFIG,
			    "%s: this filesystem cannot create links, so commits cannot be made "
			    "atomic here: the table is on a FUSE mount (s3fs), where commits "
			    "need the PostgreSQL commit store (%s; set it to postgres or auto "
			    "and configure PostgreSQL: [postgres] dsn or $%s)",
			    root, setting, PG_DSN_ENV);
		else
			err_set(
			    e, EX_CONFIG,
			    "%s: this filesystem cannot create links, so commits cannot be made "
			    "atomic here: the table is on a FUSE mount (s3fs), where commits "
			    "need the PostgreSQL commit store: configure PostgreSQL ([postgres] "
			    "dsn or $%s; `make up` does)",
			    root, PG_DSN_ENV);
		return NULL;
	}
	return delta_store_link(root, e);
}

struct delta_store *delta_store_open(const struct config *c, const char *root, struct err_msg *e)
{
	return store_open(c, root, 0, e);
}

struct delta_store *delta_table_open(const struct config *c, const char *table, unsigned flags,
                                     struct buf *root, struct err_msg *e)
{
	if (delta_resolve_table(c, table, root, e) < 0)
		return NULL;
	struct delta_store *s = store_open(c, root->data, !(flags & DELTA_TABLE_WRITE), e);
	if (s)
		s->reader = !(flags & DELTA_TABLE_WRITE);
	if (s && (flags & DELTA_TABLE_RECOVER) && delta_store_recover(s, e) < 0) {
		delta_store_close(s);
		return NULL;
	}
	return s;
}

/* commitInfo.timestamp of a commit's text (our commits put it first), or -1. */
static int64_t commit_time(const char *text, size_t len)
{
	const char *nl = memchr(text, '\n', len);
	size_t n = nl ? (size_t)(nl - text) : len;
	struct err_msg ignored;
	struct json *j = json_parse(text, n, &ignored);
	int64_t ts = -1;
	if (json_i64(json_get(json_get(j, "commitInfo"), "timestamp"), &ts) < 0)
		ts = -1;
	json_free(j);
	return ts;
}

/* Apply versions from+1 .. to, read through the store, to snap. */
static int apply_through(struct delta_store *s, struct delta_snapshot *snap, int64_t from,
                         int64_t to, struct err_msg *e)
{
	struct buf text = BUF_INIT;
	int rc = 0;
	for (int64_t v = from + 1; v <= to; v++) {
		int got = delta_store_read(s, v, &text, e);
		if (got == 1)
			err_set(e, EX_DATAERR,
			        "%s: version %lld is neither in the commit store nor in _delta_log",
			        s->root, (long long)v);
		if (got != 0 || delta_snapshot_apply(snap, v, text.data, text.len, e) < 0) {
			rc = -1;
			break;
		}
		snap->version = v;
		snap->timestamp = commit_time(text.data, text.len);
	}
	buf_free(&text);
	return rc;
}

/*
 * Rebuild snap at target from checkpoint c (NULL: none) and every commit
 * after it read through the store.
 * Errors: EX_DATAERR for a checkpoint that cannot be used or a commit that
 * is missing or malformed, others for I/O and the store.
 */
static int replay_store(struct delta_store *s, const struct delta_load_opts *o,
                        const struct delta_ckpt *c, const struct delta_last_checkpoint *lc,
                        int64_t target, struct delta_snapshot *snap, struct err_msg *e)
{
	memset(snap, 0, sizeof *snap);
	snap->checkpoint_version = -1;
	snap->version = -1;
	snap->timestamp = -1;
	snap->no_files = o->no_files;
	snap->no_tombstones = o->no_tombstones;
	if (!(snap->root = strdup(s->root))) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	if (c) {
		if (delta_ckpt_load(snap, c, lc, e) < 0) {
			delta_snapshot_free(snap);
			return -1;
		}
		snap->checkpoint_version = snap->version = c->version;
	}
	if (apply_through(s, snap, snap->version, target, e) < 0) {
		delta_snapshot_free(snap);
		return -1;
	}
	if (!snap->has_protocol || !snap->has_meta) {
		err_set(e, EX_DATAERR, "%s: the log has no %s action", s->root,
		        !snap->has_protocol ? "protocol" : "metaData");
		delta_snapshot_free(snap);
		return -1;
	}
	return 0;
}

/* _last_checkpoint, when it is there and readable: 1 with *lc set, else 0. */
static int last_checkpoint(const char *root, struct delta_last_checkpoint *lc)
{
	char path[DELTA_PATH_MAX];
	struct buf text = BUF_INIT;
	struct err_msg ignored;
	int missing;
	int ok = delta_pathf(path, sizeof path, "%s/_delta_log/_last_checkpoint", root) == 0 &&
	         delta_read_file(path, &text, 1 << 20, &ignored, &missing) == 0 &&
	         delta_last_checkpoint_parse(text.data, text.len, lc) == 0;
	buf_free(&text);
	return ok;
}

/*
 * Load snap at target from a store that is the authority on commits,
 * every commit read through the store, starting from the first of these
 * that works: the checkpoint _last_checkpoint names (when it is at or
 * below target), version 0, then the complete checkpoints listed, newest
 * first (for commits older than the store's first that log cleanup
 * removed).  A start that fails for its data (EX_DATAERR: an unusable
 * checkpoint, a missing commit) gives way to the next, and the snapshot's
 * notice says so; any other failure ends the load.  No commit is read
 * through the filesystem where the store has it, and the directory is
 * listed only when the first two starts fail, so no cache of the mount
 * decides what is read.
 */
static int load_authoritative(struct delta_store *s, const struct delta_load_opts *o,
                              int64_t target, struct delta_snapshot *snap, struct err_msg *e)
{
	struct delta_last_checkpoint lc;
	struct delta_ckpt hint;
	struct err_msg why = {{0}, 0};
	int64_t hinted = -1, bad = -1; /* bad: the first checkpoint left aside, why says why */
	if (last_checkpoint(s->root, &lc) && lc.version <= target) {
		if (lc.v2_name[0]) {
			delta_ckpt_parse(lc.v2_name, &hint);
		} else {
			memset(&hint, 0, sizeof hint);
			hint.version = lc.version;
			hint.parts = hint.found = lc.parts > 0 ? (int)lc.parts : 1;
		}
		if (replay_store(s, o, &hint, &lc, target, snap, e) == 0)
			return 0;
		if (e->status != EX_DATAERR)
			return -1;
		hinted = bad = lc.version;
		why = *e;
	}
	if (replay_store(s, o, NULL, NULL, target, snap, e) == 0)
		goto rebuilt;
	if (e->status != EX_DATAERR)
		return -1;
	if (hinted < 0)
		why = *e;
	struct delta_listing l;
	if (delta_list(s->root, &l, e) < 0) {
		if (e->status == EX_DATAERR)
			err_set(e, EX_DATAERR,
			        "%s: the commit store holds versions up to %lld of this table, but "
			        "the mount shows no _delta_log: the table was removed from the "
			        "bucket (its rows in the commit store are kept; `stocketl-db "
			        "forget-table` deletes them, to make a new table there), or the "
			        "mount cannot reach it",
			        s->root, (long long)target);
		return -1;
	}
	int rc = -1;
	*e = why;
	for (size_t i = l.nckpts; i-- > 0;) {
		const struct delta_ckpt *c = &l.ckpts[i];
		if (c->version > target || c->found != c->parts ||
		    (hinted >= 0 && c->version == hint.version && c->kind == hint.kind &&
		     c->parts == hint.parts && strcmp(c->uuid, hint.uuid) == 0))
			continue;
		rc = replay_store(s, o, c, hinted >= 0 ? &lc : NULL, target, snap, e);
		if (rc == 0 || e->status != EX_DATAERR)
			break;
		if (bad < 0) {
			bad = c->version;
			why = *e;
		}
	}
	delta_listing_free(&l);
	if (rc < 0) {
		if (e->status == EX_DATAERR && bad >= 0) {
			char reason[ERR_MSG_MAX];
			snprintf(reason, sizeof reason, "%s", why.text);
			err_set(e, EX_DATAERR, "%s; the state cannot be rebuilt without it",
			        reason);
		}
		return -1;
	}
rebuilt:
	if (bad >= 0) {
		snap->has_notice = 1;
		err_set(&snap->notice, 0, "%s; the state was rebuilt from %s", why.text,
		        snap->checkpoint_version == bad ? "another checkpoint of that version"
		        : snap->checkpoint_version >= 0
		            ? "an older checkpoint and the commits after it"
		            : "the commits");
	}
	return 0;
}

int delta_store_load(struct delta_store *s, const struct delta_load_opts *o,
                     struct delta_snapshot *snap, struct err_msg *e)
{
	struct delta_load_opts latest_opts = DELTA_LOAD_LATEST;
	if (!o)
		o = &latest_opts;
	if (delta_store_recover(s, e) < 0)
		return -1;
	/* A time is found by the commit files' times: that takes the listing. */
	if (!s->ops->authoritative || o->timestamp >= 0)
		return delta_snapshot_load(s->root, o, snap, e);
	int64_t latest = delta_store_latest(s, e);
	if (latest < -1)
		return -1;
	if (latest < 0)
		return delta_snapshot_load(s->root, o, snap, e);
	/* A table deleted from the bucket, its rows left: no version of it reads. */
	if (delta_store_log_present(s, latest, e) < 0)
		return -1;
	if (o->version > latest) {
		err_set(e, EX_DATAERR, "%s: version %lld does not exist (the latest is %lld)",
		        s->root, (long long)o->version, (long long)latest);
		return -1;
	}
	return load_authoritative(s, o, o->version >= 0 ? o->version : latest, snap, e);
}

void delta_store_close(struct delta_store *s)
{
	if (s)
		s->ops->close(s);
}

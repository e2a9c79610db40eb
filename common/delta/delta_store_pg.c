/*
 * delta_store_pg: the postgres commit store, for tables on an s3fs mount
 * (see delta_store.h for the interface, pg/commit_store.h for the rows and
 * reference/delta-protocol.md section 11 for the design it ports).
 *
 * s3fs has no put-if-absent: link(2) fails, rename(2) overwrites, O_EXCL
 * only knows its own mount, and its stat cache can hide another host's
 * file.  So writers agree in PostgreSQL, one row per (table identity,
 * version), and the bucket only ever receives what a row decided:
 *
 *   put(N):   1. the newest row says where the log is: N at or below it is
 *                taken; an incomplete newest row (N-1) is finished first
 *                (below), so that every row but the newest is complete;
 *                an N.json already there was written without the store,
 *                and is refused, never replaced;
 *             2. the commit is written whole to _delta_log/.tmp/N.json.<uuid>
 *                through the mount;
 *             3. the claim: an insert of (table, N, temp path, body); a
 *                lost claim means another writer has N (its text is in its
 *                row), and the temporary file is removed;
 *             4. the temporary file is renamed to N.json: on s3fs a
 *                server-side copy, so N.json appears whole or not at all,
 *                on every host;
 *             5. the row is marked complete.
 *   The claim is the commit: once it is stored, the version is the
 *   writer's whatever happens to steps 4 and 5, and the data files it
 *   names were made durable before it (the caller's job).  A failure in
 *   step 4 is DELTA_PUT_UNSYNCED (the commit stands, N.json is written by
 *   whoever comes next); a failure in step 5 is left to the next reader or
 *   writer, as Spark's store leaves it.
 *
 *   finish(row), run by any reader or writer that finds the newest row
 *   incomplete (a writer died, or is still between steps 3 and 5):
 *   N.json is read back; when it is absent or differs from the row's body,
 *   the body is written through a temporary file and renamed, then the row
 *   is completed.  Every step is idempotent, so any number of hosts may do
 *   it at once: they all write the same bytes.  A reader that may not write
 *   (a read-only mount) skips it: it reads the commit from the row anyway.
 *
 * The latest version is the newest row's, never a listing's: s3fs's caches
 * do not decide it.  A table whose log was made before its writers used
 * the store has no rows: its listing is the truth until the first claim
 * (adoption), which must then be the version after the newest listed; its
 * older versions stay readable from _delta_log.  Commits are read from the
 * rows (one query, cheaper than a file through the mount and never stale),
 * and from _delta_log below the first row.  Rows are never deleted while
 * the table is in the bucket (pg_commit_forget() is for a deleted one).
 *
 * Table identity: pg_table_identity(), "s3://BUCKET/KEY", the same from
 * every host and mount point.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/config.h"
#include "delta/delta.h"
#include "delta/delta_internal.h"
#include "delta/delta_store.h"
#include "pg/commit_store.h"
#include "pg/pg.h"
#include "pg/tableid.h"

#define COMMIT_BODY_MAX (256u << 20)

struct pg_store {
	struct delta_store base; /* first: the interface's functions get this */
	struct pg_conn *conn;
	char *id;      /* the table's identity in the store */
	int64_t first; /* the oldest version that has a row, once known (rows stay); else -1 */
	/*
	 * Rows read ahead (a replay reads versions in a row, delta-history
	 * from the newest down): bodies never change once claimed, so a row
	 * held here is never stale; a version missing from it is asked again.
	 */
	struct pg_commit_row *ahead;
	size_t nahead;
	int64_t last_read;
};

/* Rows fetched at once when reading commits. */
#define READ_AHEAD 64

static struct pg_store *pg_store_of(struct delta_store *s)
{
	return (struct pg_store *)s;
}

/* Prefix e's text (a message of the pg module) with the table and what failed. */
static void store_error(struct delta_store *s, struct err_msg *e, const char *what)
{
	char detail[ERR_MSG_MAX];
	snprintf(detail, sizeof detail, "%s", e->text);
	err_set(e, e->status ? e->status : EX_SOFTWARE, "%s: %s: %s", s->root, what, detail);
}

/*
 * Write text whole to the new temporary file _delta_log/.tmp/<v>.json.<uuid>
 * (its path relative to _delta_log in rel, absolute in abs), making the
 * directory when it is missing.  s3fs uploads the file when it is closed,
 * so a failed upload is a failed close.  On failure nothing is left, and
 * errno says why.
 */
static int stage(struct delta_store *s, int64_t v, const char *text, size_t len, char *rel,
                 size_t relcap, char *abs, size_t abscap, struct err_msg *e)
{
	char uuid[37], dir[DELTA_PATH_MAX];
	delta_uuid(uuid);
	if (delta_pathf(rel, relcap, ".tmp/%020lld.json.%s", (long long)v, uuid) < 0 ||
	    delta_pathf(dir, sizeof dir, "%s/_delta_log/.tmp", s->root) < 0 ||
	    delta_pathf(abs, abscap, "%s/_delta_log/%s", s->root, rel) < 0) {
		err_set(e, EX_IOERR, "%s: %s", s->root, strerror(ENAMETOOLONG));
		return -1;
	}
	int fd = open(abs, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT) {
		if (delta_mkdirs(dir) < 0) {
			int saved = errno;
			err_set(e, EX_IOERR, "%s: %s", dir, strerror(saved));
			errno = saved;
			return -1;
		}
		fd = open(abs, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	}
	if (fd < 0) {
		int saved = errno;
		err_set(e, EX_IOERR, "%s: %s", abs, strerror(saved));
		errno = saved;
		return -1;
	}
	int bad = delta_write_all(fd, text, len) < 0;
	int saved = errno;
	if (close(fd) < 0 && !bad) {
		bad = 1;
		saved = errno;
	}
	if (bad) {
		err_set(e, EX_IOERR, "%s: %s", abs, strerror(saved));
		unlink(abs);
		errno = saved;
		return -1;
	}
	return 0;
}

/*
 * Rename the staged file to N.json (replacing what is there, which can only
 * be the same bytes).  On failure the staged file is removed and errno says
 * why.
 */
static int publish(struct delta_store *s, int64_t v, const char *tmp, struct err_msg *e)
{
	char final[DELTA_PATH_MAX];
	if (delta_commit_path(s->root, v, final, sizeof final) < 0) {
		err_set(e, EX_IOERR, "%s: %s", s->root, strerror(ENAMETOOLONG));
		return -1;
	}
	if (rename(tmp, final) < 0) {
		int saved = errno;
		err_set(e, EX_IOERR, "%s: %s", final, strerror(saved));
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

/*
 * Finish a claimed version: make N.json hold the row's body, then mark the
 * row complete (see the top of this file).  When N.json cannot be written,
 * *werr is the errno of the failed write (else 0).
 */
static int finish(struct delta_store *s, const struct pg_commit_row *row, int *werr,
                  struct err_msg *e)
{
	struct pg_store *p = pg_store_of(s);
	char path[DELTA_PATH_MAX], rel[DELTA_PATH_MAX], tmp[DELTA_PATH_MAX];
	struct buf have = BUF_INIT;
	int missing = 0;
	*werr = 0;
	if (delta_commit_path(s->root, row->version, path, sizeof path) < 0) {
		err_set(e, EX_IOERR, "%s: %s", s->root, strerror(ENAMETOOLONG));
		return -1;
	}
	/*
	 * Whatever stops the read (absent, or replaced under it by another
	 * host finishing the same version: s3fs can list a file and then fail
	 * to open it), the body is written again: the same bytes, so it is
	 * harmless, and a bucket that really fails fails the write too.
	 */
	struct err_msg ignored;
	int got = delta_read_file(path, &have, COMMIT_BODY_MAX, &ignored, &missing);
	int same = got == 0 && have.len == row->body_len &&
	           memcmp(have.data ? have.data : "", row->body, row->body_len) == 0;
	buf_free(&have);
	if (!same && (stage(s, row->version, (const char *)row->body, row->body_len, rel,
	                    sizeof rel, tmp, sizeof tmp, e) < 0 ||
	              publish(s, row->version, tmp, e) < 0)) {
		*werr = errno;
		char why[ERR_MSG_MAX];
		snprintf(why, sizeof why, "%s", e->text);
		err_set(e, EX_IOERR,
		        "%s: version %lld, claimed in the commit store by a writer that did not "
		        "finish it, cannot be written to _delta_log: %s",
		        s->root, (long long)row->version, why);
		return -1;
	}
	if (pg_commit_complete(p->conn, p->id, row->version, e) < 0) {
		store_error(s, e, "the commit store cannot be reached");
		return -1;
	}
	return 0;
}

/*
 * Version v, above the store's newest, must not be in _delta_log unless
 * another writer claimed it since (its row is asked for again, as the
 * claim comes before N.json): a file there without a row was written
 * without the store (by a writer that does not use it, or before the
 * database was restored from an older backup), and the rename of step 4
 * would replace it, destroying a commit that readers of the log have seen.
 * 0 when there is none, DELTA_PUT_EXISTS when another writer has v, -1
 * with e set otherwise.
 */
static int unclaimed_absent(struct delta_store *s, int64_t v, int64_t newest, struct err_msg *e)
{
	struct pg_store *p = pg_store_of(s);
	char path[DELTA_PATH_MAX];
	struct stat st;
	if (delta_commit_path(s->root, v, path, sizeof path) < 0) {
		err_set(e, EX_IOERR, "%s: %s", s->root, strerror(ENAMETOOLONG));
		return -1;
	}
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		err_set(e, EX_IOERR, "%s: %s", path, strerror(errno));
		return -1;
	}
	struct pg_commit_row row;
	int got = pg_commit_get(p->conn, p->id, v, &row, e);
	if (got < 0) {
		store_error(s, e, "the commit store cannot be reached; nothing committed");
		return -1;
	}
	if (got) {
		pg_commit_row_free(&row);
		return DELTA_PUT_EXISTS;
	}
	err_set(e, EX_DATAERR,
	        "%s: version %lld is in _delta_log but not in the commit store, whose newest "
	        "version is %lld: it was written without the store (a writer that does not use "
	        "it, or the database restored from an older backup), and committing would "
	        "replace it; nothing committed",
	        path, (long long)v, (long long)newest);
	return -1;
}

static int pg_put(struct delta_store *s, int64_t v, const char *text, size_t len, struct err_msg *e)
{
	struct pg_store *p = pg_store_of(s);
	struct pg_commit_row row;
	int werr;
	int got = pg_commit_latest(p->conn, p->id, &row, e);
	if (got < 0) {
		store_error(s, e, "the commit store cannot be reached; nothing committed");
		return -1;
	}
	if (got) {
		int64_t newest = row.version;
		int rc = 0;
		if (v <= newest) {
			rc = DELTA_PUT_EXISTS;
		} else if (v > newest + 1) {
			err_set(e, EX_DATAERR,
			        "%s: version %lld follows %lld, but the commit store's newest "
			        "version is %lld: the log holds commits made without the store; "
			        "nothing committed",
			        s->root, (long long)v, (long long)v - 1, (long long)newest);
			rc = -1;
		} else if (!row.complete && finish(s, &row, &werr, e) < 0) {
			rc = -1;
		} else {
			rc = unclaimed_absent(s, v, newest, e);
		}
		pg_commit_row_free(&row);
		if (rc != 0)
			return rc;
	} else {
		/* No rows: the listing is the truth until this first claim (adoption). */
		int64_t listed = delta_latest_version(s->root, e);
		if (listed < -1)
			return -1;
		if (v <= listed)
			return DELTA_PUT_EXISTS;
		if (v > listed + 1) {
			err_set(e, EX_DATAERR,
			        "%s: version %lld follows %lld, but the log's newest version is "
			        "%lld; nothing committed",
			        s->root, (long long)v, (long long)v - 1, (long long)listed);
			return -1;
		}
	}
	char rel[DELTA_PATH_MAX], tmp[DELTA_PATH_MAX];
	if (stage(s, v, text, len, rel, sizeof rel, tmp, sizeof tmp, e) < 0)
		return -1;
	if (delta_store_barrier(s, e) < 0) {
		unlink(tmp);
		return -1;
	}
	int claim = pg_commit_claim(p->conn, p->id, v, rel, text, len, e);
	if (claim != PG_CLAIM_WON) {
		unlink(tmp);
		if (claim == PG_CLAIM_LOST)
			return DELTA_PUT_EXISTS;
		if (claim == PG_CLAIM_UNKNOWN) {
			char why[ERR_MSG_MAX];
			snprintf(why, sizeof why, "%s", e->text);
			err_set(e, EX_TEMPFAIL,
			        "%s: the commit store went away while version %lld was being "
			        "claimed, so whether it was committed is unknown (%s); the batch's "
			        "files are kept: running again finishes the commit or loads the "
			        "batch again",
			        s->root, (long long)v, why);
			return DELTA_PUT_UNKNOWN;
		}
		store_error(s, e, "the commit store cannot be reached; nothing committed");
		return -1;
	}
	/* Claimed: the version is ours, whatever follows. */
	if (publish(s, v, tmp, e) < 0) {
		char why[ERR_MSG_MAX];
		snprintf(why, sizeof why, "%s", e->text);
		err_set(e, EX_IOERR,
		        "%s: version %lld is committed (claimed in the commit store) but could "
		        "not be written to _delta_log (%s): the next reader or writer of the "
		        "table writes it",
		        s->root, (long long)v, why);
		return DELTA_PUT_UNSYNCED;
	}
	struct err_msg later;
	pg_commit_complete(p->conn, p->id, v, &later);
	return DELTA_PUT_DONE;
}

/* The row of version v among those read ahead, or NULL. */
static const struct pg_commit_row *ahead_find(const struct pg_store *p, int64_t v)
{
	size_t lo = 0, hi = p->nahead;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->ahead[mid].version == v)
			return &p->ahead[mid];
		if (p->ahead[mid].version < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int pg_read(struct delta_store *s, int64_t v, struct buf *out, struct err_msg *e)
{
	struct pg_store *p = pg_store_of(s);
	const struct pg_commit_row *row = ahead_find(p, v);
	if (!row) {
		/* Read ahead in the direction of reading: down when the last read was v + 1. */
		int64_t from = v, to = v + READ_AHEAD - 1;
		if (p->last_read == v + 1) {
			from = v >= READ_AHEAD - 1 ? v - (READ_AHEAD - 1) : 0;
			to = v;
		}
		pg_commit_rows_free(p->ahead, p->nahead);
		p->ahead = NULL;
		p->nahead = 0;
		if (pg_commit_range(p->conn, p->id, from, to, &p->ahead, &p->nahead, e) < 0) {
			store_error(s, e, "the commit store cannot be reached");
			return -1;
		}
		row = ahead_find(p, v);
	}
	p->last_read = v;
	if (row) {
		buf_reset(out);
		if (buf_append(out, (const char *)row->body, row->body_len) < 0 ||
		    buf_reserve(out, 0) < 0) {
			err_set(e, EX_SOFTWARE, "out of memory");
			return -1;
		}
		return 0;
	}
	if (p->first < 0) {
		int64_t first;
		int any = pg_commit_first(p->conn, p->id, &first, e);
		if (any < 0) {
			store_error(s, e, "the commit store cannot be reached");
			return -1;
		}
		if (any)
			p->first = first;
	}
	/* Above the first row, a version without a row does not exist. */
	if (p->first >= 0 && v >= p->first)
		return 1;
	return delta_commit_read(s->root, v, out, e);
}

static int64_t pg_latest(struct delta_store *s, struct err_msg *e)
{
	struct pg_store *p = pg_store_of(s);
	struct pg_commit_row row;
	int got = pg_commit_latest(p->conn, p->id, &row, e);
	if (got < 0) {
		store_error(s, e, "the commit store cannot be reached");
		return -2;
	}
	if (!got)
		return delta_latest_version(s->root, e);
	int64_t v = row.version;
	pg_commit_row_free(&row);
	return v;
}

static int pg_recover(struct delta_store *s, struct err_msg *e)
{
	struct pg_store *p = pg_store_of(s);
	struct pg_commit_row row;
	int got = pg_commit_latest(p->conn, p->id, &row, e);
	if (got < 0) {
		store_error(s, e, "the commit store cannot be reached");
		return -1;
	}
	int werr = 0;
	int rc = got && !row.complete ? finish(s, &row, &werr, e) : 0;
	if (got)
		pg_commit_row_free(&row);
	/*
	 * A reader that may not write reads the commit from its row, as it
	 * reads every commit the store holds; a writer, or a bucket that
	 * fails, fails.
	 */
	if (rc < 0 && s->reader && (werr == EROFS || werr == EACCES || werr == EPERM))
		rc = 0;
	return rc;
}

static void pg_store_close(struct delta_store *s)
{
	struct pg_store *p = pg_store_of(s);
	pg_close(p->conn);
	pg_commit_rows_free(p->ahead, p->nahead);
	free(p->id);
	free(s->root);
	free(p);
}

static const struct delta_store_ops pg_ops = {
    "postgres", pg_put, pg_read, pg_latest, pg_recover, pg_store_close, 1,
};

struct delta_store *delta_store_postgres(const struct config *c, const char *root, const char *id,
                                         struct err_msg *e)
{
	struct buf found = BUF_INIT;
	if (!id) {
		int s3 = pg_table_identity(root, &found, e);
		if (s3 <= 0) {
			if (s3 == 0)
				err_set(
				    e, EX_CONFIG,
				    "%s: not on an s3fs mount: the PostgreSQL commit store "
				    "coordinates tables on s3fs mounts (elsewhere link(2) makes "
				    "commits atomic)",
				    root);
			buf_free(&found);
			return NULL;
		}
		id = found.data;
	}
	struct pg_settings ps;
	struct pg_store *p = NULL;
	if (pg_settings_load(c, NULL, &ps, e) < 0)
		goto fail;
	if (!(p = calloc(1, sizeof *p)) || !(p->base.root = strdup(root)) ||
	    !(p->id = strdup(id))) {
		err_set(e, EX_SOFTWARE, "out of memory");
		goto fail;
	}
	buf_free(&found);
	p->base.ops = &pg_ops;
	p->first = -1;
	p->last_read = -1;
	if (!(p->conn = pg_connect(&ps, e))) {
		store_error(&p->base, e, "the commit store cannot be reached");
		goto fail;
	}
	return &p->base;
fail:
	if (p) {
		free(p->id);
		free(p->base.root);
		free(p);
	}
	buf_free(&found);
	return NULL;
}

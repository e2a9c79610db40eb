/*
 * delta-compact's log maintenance: a checkpoint on demand, and the removal
 * of expired commits and checkpoints (--cleanup-log).
 *
 * Cleanup follows Delta's rule for expired log files: they are deleted only
 * below a checkpoint, so that every version still kept can be rebuilt.
 * The checkpoint chosen is the newest one at or below the cutoff commit,
 * the newest commit older than delta.logRetentionDuration (30 days by
 * default) by the commit times that time travel goes by (in-commit
 * timestamps where the table has them, else file times): the versions
 * before it stopped being the table's latest before the cutoff, so no
 * reader within the retention can ask for them.  That checkpoint and
 * its commit stay, and the log then starts there; replay of any version
 * from it up takes the newest checkpoint at or below the version asked.
 * As PROTOCOL.md ("Metadata Cleanup") and Spark have it, the cutoff is
 * midnight UTC of the day the retention reaches back to, and a log
 * compaction file goes when its range starts at or below that checkpoint,
 * and a staged commit (_delta_log/_staged_commits) when its version is.
 * Before anything is deleted the checkpoint is read back whole: a damaged
 * one is never made the only way into the table.  Then, in a table with
 * V2 checkpoints, the files of _delta_log/_sidecars that are older than
 * the cutoff and that no checkpoint still kept names are deleted (a newer
 * one may belong to a checkpoint being written); when a kept checkpoint
 * cannot be read, none is.
 *
 * Files go in ascending version order, so a run that is killed leaves the
 * log whole from some version up to the latest, and a rerun finishes the
 * work.  Commits are never written here: log cleanup is not a commit.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/strmap.h"
#include "compact.h"

/* Checkpoints ---------------------------------------------------------------- */

int compact_checkpoint(struct compact *c)
{
	struct delta_snapshot snap;
	struct err_msg e;
	int rc = compact_load(c, 1, &snap);
	if (rc != EX_OK)
		return rc;
	if (snap.checkpoint_version == snap.version) {
		err_warn("%s: version %" PRId64 " already has a checkpoint", c->table,
		         snap.version);
	} else if (delta_checkpoint_write(&snap, &e) < 0) {
		err_error("%s", e.text);
		rc = e.status;
	} else {
		size_t kept = delta_checkpoint_tombstones(&snap);
		err_warn("%s: wrote the checkpoint of version %" PRId64 " (%zu live file%s, %zu "
		         "tombstone%s)",
		         c->table, snap.version, snap.files.count, snap.files.count == 1 ? "" : "s",
		         kept, kept == 1 ? "" : "s");
	}
	delta_snapshot_free(&snap);
	return rc;
}

/* Log cleanup ---------------------------------------------------------------- */

enum log_kind { LOG_COMMIT, LOG_CHECKPOINT, LOG_COMPACTED, LOG_OTHER };

/* A file of _delta_log named by a version. */
struct log_file {
	char *name;
	int64_t version; /* the first version the file is about */
	int64_t last;    /* the last one (a compacted commit range), else version */
	int kind;
	int parts; /* checkpoints: the part count (1 for a single file, 0 for a UUID-named one) */
};

struct log_list {
	struct log_file *f;
	size_t n, cap;
};

static void log_list_free(struct log_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->f[i].name);
	free(l->f);
}

static int digits(const char *s, size_t n, int64_t *out)
{
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * What a name of _delta_log is: a commit, a checkpoint (classic, multi-part
 * or UUID-named), a compacted range, a version checksum.  0 with f filled
 * (name not set), -1 for anything else (_last_checkpoint, temporary files),
 * which cleanup leaves alone.
 */
static int classify(const char *n, struct log_file *f)
{
	size_t len = strlen(n);
	int64_t v, w;
	if (len < 22 || n[20] != '.' || digits(n, 20, &v) < 0)
		return -1;
	const char *rest = n + 21;
	f->version = f->last = v;
	f->kind = LOG_OTHER;
	f->parts = 1;
	if (strcmp(rest, "json") == 0) {
		f->kind = LOG_COMMIT;
		return 0;
	}
	if (strcmp(rest, "crc") == 0)
		return 0;
	if (strcmp(rest, "checkpoint.parquet") == 0) {
		f->kind = LOG_CHECKPOINT;
		return 0;
	}
	if (strncmp(rest, "checkpoint.", 11) == 0) {
		int64_t part, parts;
		const char *p = rest + 11;
		if (strlen(p) == 29 && p[10] == '.' && p[21] == '.' &&
		    strcmp(p + 22, "parquet") == 0 && digits(p, 10, &part) == 0 &&
		    digits(p + 11, 10, &parts) == 0 && part >= 1 && parts >= 1 && part <= parts &&
		    parts <= 1000000) {
			f->kind = LOG_CHECKPOINT;
			f->parts = (int)parts;
			return 0;
		}
		/* A UUID-named (V2) checkpoint: a start like the others (its sidecars are kept). */
		f->kind = LOG_CHECKPOINT;
		f->parts = 0;
		return 0;
	}
	if (strlen(rest) == 35 && rest[20] == '.' && strcmp(rest + 21, "compacted.json") == 0 &&
	    digits(rest, 20, &w) == 0 && w >= v) {
		f->kind = LOG_COMPACTED;
		f->last = w;
		return 0;
	}
	return -1;
}

static int cmp_log_file(const void *a, const void *b)
{
	const struct log_file *x = a, *y = b;
	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int list_log(const char *dir, struct log_list *l, struct err_msg *e)
{
	memset(l, 0, sizeof *l);
	DIR *d = opendir(dir);
	if (!d) {
		err_set(e, EX_IOERR, "%s: %s", dir, strerror(errno));
		return -1;
	}
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		struct log_file f;
		if (classify(de->d_name, &f) < 0)
			continue;
		if (l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 256;
			struct log_file *nf = realloc(l->f, cap * sizeof *nf);
			if (!nf)
				goto oom;
			l->f = nf;
			l->cap = cap;
		}
		if (!(f.name = strdup(de->d_name)))
			goto oom;
		l->f[l->n++] = f;
		errno = 0;
	}
	if (errno) {
		err_set(e, EX_IOERR, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	closedir(d);
	qsort(l->f, l->n, sizeof *l->f, cmp_log_file);
	return 0;
oom:
	err_set(e, EX_SOFTWARE, "out of memory");
fail:
	closedir(d);
	log_list_free(l);
	return -1;
}

/* Are all parts of the checkpoint of l->f[i]'s version present? */
static int checkpoint_complete(const struct log_list *l, size_t i)
{
	const struct log_file *c = &l->f[i];
	int found = 0;
	if (c->parts == 0)
		return 1; /* a UUID-named checkpoint is one file */
	for (size_t j = 0; j < l->n; j++)
		if (l->f[j].version == c->version && l->f[j].kind == LOG_CHECKPOINT &&
		    l->f[j].parts == c->parts)
			found++;
	return found == c->parts;
}

/*
 * Is the checkpoint of version v a sound start: does the snapshot at v
 * load from it, without leaving it aside?
 */
static int checkpoint_usable(const struct compact *c, int64_t v)
{
	struct delta_load_opts lo = {v, -1, 1, 0, 0};
	struct delta_snapshot snap;
	struct err_msg e;
	/*
	 * A store that is the authority on commits (PostgreSQL, on s3fs)
	 * rebuilds an older version from its rows when _last_checkpoint names
	 * a newer checkpoint, and would never start at this one: the log as
	 * listed is read instead, which every version below the store's
	 * newest is complete in.
	 */
	int rc = c->store->ops->authoritative ? delta_snapshot_load(c->root, &lo, &snap, &e)
	                                      : delta_store_load(c->store, &lo, &snap, &e);
	if (rc < 0) {
		err_warn("%s: the checkpoint of version %" PRId64 " cannot be read back (%s)",
		         c->table, v, e.text);
		return 0;
	}
	int ok = snap.checkpoint_version == v && !snap.has_notice;
	if (!ok)
		err_warn("%s: the checkpoint of version %" PRId64 " cannot be used%s%s", c->table,
		         v, snap.has_notice ? ": " : "", snap.has_notice ? snap.notice.text : "");
	delta_snapshot_free(&snap);
	return ok;
}

/* Sidecars ------------------------------------------------------------------- */

/* A sidecar a kept checkpoint names, into the set arg (file name -> itself). */
static int sidecar_keep(void *arg, const char *name)
{
	struct strmap *keep = arg;
	if (strmap_get(keep, name))
		return 0;
	char *copy = strdup(name);
	if (!copy || strmap_put(keep, copy, copy, NULL) < 0) {
		free(copy);
		return -1;
	}
	return 0;
}

/*
 * Delete the files of _delta_log/_sidecars modified before cutoff that no
 * checkpoint of l at or above start names.  The count deleted, or -1 with
 * the reason reported (nothing is deleted then).
 */
static int64_t clean_sidecars(const struct compact *c, const char *dir, const struct log_list *l,
                              int64_t start, int64_t cutoff)
{
	char sdir[8192 + 16];
	snprintf(sdir, sizeof sdir, "%s/_sidecars", dir);
	DIR *d = opendir(sdir);
	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		err_error("%s: %s", sdir, strerror(errno));
		return -1;
	}
	struct strmap keep = STRMAP_INIT;
	struct err_msg e;
	int64_t deleted = 0;
	int read = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (compact_mtime_ms(&st) >= cutoff)
			continue;
		/* The first one old enough: what the checkpoints kept name, read once. */
		for (size_t i = 0; !read && i < l->n; i++) {
			const struct log_file *f = &l->f[i];
			if (f->kind != LOG_CHECKPOINT || f->version < start || f->parts > 1)
				continue; /* (a multi-part checkpoint is never of the V2 spec) */
			if (delta_checkpoint_sidecars(c->root, f->version, f->name, sidecar_keep,
			                              &keep, &e) < 0) {
				err_warn("%s: %s; no sidecar deleted", c->table, e.text);
				deleted = -1;
				goto out;
			}
		}
		read = 1;
		if (strmap_get(&keep, de->d_name))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
			err_error("%s/%s: %s", sdir, de->d_name, strerror(errno));
			deleted = -1;
			goto out;
		}
		err_debug("deleted %s/%s", sdir, de->d_name);
		deleted++;
	}
out:
	closedir(d);
	size_t i = 0;
	struct strmap_slot *sl;
	while ((sl = strmap_next(&keep, &i)))
		free(sl->value);
	strmap_free(&keep);
	return deleted;
}

/*
 * Delete the staged commits of _delta_log/_staged_commits
 * (<version>.<uuid>.json, PROTOCOL.md "Staged commit") of versions at or
 * below start, as the protocol's metadata cleanup does: the log starts at
 * that version's checkpoint now, and a catalog ratifies no version that
 * old.  The count deleted, or -1 with the error reported.
 */
static int64_t clean_staged(const char *dir, int64_t start)
{
	char sdir[8192 + 32];
	snprintf(sdir, sizeof sdir, "%s/_staged_commits", dir);
	DIR *d = opendir(sdir);
	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		err_error("%s: %s", sdir, strerror(errno));
		return -1;
	}
	int64_t deleted = 0, v;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		size_t len = strlen(n);
		if (len <= 26 || n[20] != '.' || strcmp(n + len - 5, ".json") != 0 ||
		    digits(n, 20, &v) < 0 || v > start)
			continue;
		if (unlinkat(dirfd(d), n, 0) < 0 && errno != ENOENT) {
			err_error("%s/%s: %s", sdir, n, strerror(errno));
			deleted = -1;
			break;
		}
		err_debug("deleted %s/%s", sdir, n);
		deleted++;
	}
	closedir(d);
	return deleted;
}

int compact_cleanup_log(struct compact *c)
{
	struct delta_snapshot snap;
	struct err_msg e;
	int rc = compact_load(c, 0, &snap);
	if (rc != EX_OK)
		return rc;
	const char *prop = delta_property(&snap, "delta.logRetentionDuration", "interval 30 days");
	int64_t retention, latest = snap.version;
	int bad = delta_interval_ms(prop, &retention) < 0 || retention < 0;
	int v2 = 0;
	for (size_t i = 0; i < snap.protocol.n_reader_features; i++)
		v2 |= strcmp(snap.protocol.reader_features[i], "v2Checkpoint") == 0;
	if (bad) {
		err_error("%s: delta.logRetentionDuration: expected an interval such as "
		          "'interval 30 days', got '%s'",
		          c->table, prop);
		delta_snapshot_free(&snap);
		return EX_DATAERR;
	}
	/* Midnight UTC of the day the retention reaches back to (PROTOCOL.md, "Metadata Cleanup"). */
	int64_t cutoff = c->now_ms - retention, day = 86400000;
	cutoff = cutoff >= 0 ? cutoff / day * day : -((-cutoff + day - 1) / day * day);
	/*
	 * The cutoff commit, the newest committed at or before the cutoff, by
	 * the commit times of time travel: in a table with in-commit
	 * timestamps, the commits from their enablement on are as old as their
	 * commitInfo says, whatever their files' times.
	 */
	int64_t cutoff_commit = -1;
	int found = delta_version_at(c->root, &snap, cutoff, &cutoff_commit, &e);
	delta_snapshot_free(&snap);
	if (found < 0) {
		err_error("%s", e.text);
		return e.status;
	}
	char dir[8192], rtext[32];
	compact_duration_text(retention, rtext, sizeof rtext);
	if (snprintf(dir, sizeof dir, "%s/_delta_log", c->root) >= (int)sizeof dir) {
		err_error("%s: %s", c->root, strerror(ENAMETOOLONG));
		return EX_IOERR;
	}
	struct log_list l;
	if (list_log(dir, &l, &e) < 0) {
		err_error("%s", e.text);
		return e.status;
	}
	/*
	 * The start is the newest complete checkpoint at or below the cutoff
	 * commit, up to the latest version.
	 */
	int64_t start = -1;
	for (size_t i = l.n; found && i-- > 0;) {
		const struct log_file *f = &l.f[i];
		if (f->kind != LOG_CHECKPOINT || f->version > cutoff_commit ||
		    f->version > latest || f->version <= start || !checkpoint_complete(&l, i))
			continue;
		if (f->version <= l.f[0].version)
			break; /* nothing below it to delete */
		if (checkpoint_usable(c, f->version)) {
			start = f->version;
			break;
		}
	}
	if (start < 0) {
		err_warn("%s: no commit older than the log retention (%s) lies below a usable "
		         "checkpoint; nothing deleted",
		         c->table, rtext);
		log_list_free(&l);
		return EX_OK;
	}
	int64_t commits = 0, checkpoints = 0, others = 0;
	for (size_t i = 0; i < l.n; i++) {
		const struct log_file *f = &l.f[i];
		char path[8192 + 256];
		if (f->kind == LOG_COMPACTED ? f->version > start : f->last >= start)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, f->name);
		if (unlink(path) < 0 && errno != ENOENT) {
			err_error("%s: %s", path, strerror(errno));
			rc = EX_IOERR;
			break;
		}
		err_debug("deleted %s", path);
		if (f->kind == LOG_COMMIT)
			commits++;
		else if (f->kind == LOG_CHECKPOINT)
			checkpoints++;
		else
			others++;
	}
	if (rc == EX_OK) {
		int64_t staged = clean_staged(dir, start);
		if (staged < 0)
			rc = EX_IOERR;
		else
			others += staged;
	}
	err_warn("%s: log cleanup (retention %s): deleted %" PRId64 " commit%s, %" PRId64
	         " checkpoint file%s and %" PRId64 " other file%s; the log starts at the "
	         "checkpoint of version %" PRId64,
	         c->table, rtext, commits, commits == 1 ? "" : "s", checkpoints,
	         checkpoints == 1 ? "" : "s", others, others == 1 ? "" : "s", start);
	if (rc == EX_OK && v2) {
		int64_t sc = clean_sidecars(c, dir, &l, start, cutoff);
		if (sc < 0)
			rc = EX_IOERR;
		else if (sc > 0)
			err_warn("%s: deleted %" PRId64
			         " sidecar file%s that no checkpoint kept names "
			         "(_delta_log/_sidecars)",
			         c->table, sc, sc == 1 ? "" : "s");
	}
	log_list_free(&l);
	return rc;
}

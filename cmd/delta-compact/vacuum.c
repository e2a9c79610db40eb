/*
 * delta-compact --vacuum: delete the data files that no retained version
 * of the table reads, and what failed writers left behind.
 *
 * The rule is Delta's: a file is kept when the latest version reads it
 * (a live add) or when a version that was the table's latest within the
 * retention read it: a tombstone whose removal happened after the cutoff;
 * so is the file of such a file's deletion vector.
 * The removal's time is the later of its deletionTimestamp and the commit
 * time of the version that removed it, so a remover that staged early and
 * committed late does not shorten the retention (for a tombstone the
 * checkpoint holds, whose removing version is not known, its
 * deletionTimestamp alone).  Every other file under
 * the table (outside _delta_log and hidden directories, partition
 * directories and _change_data aside) is deleted once its own modification
 * time is older than the cutoff: the data files of writes that failed or
 * were killed before their commit, stray temporary files, and change data
 * files, which no snapshot names (Spark's vacuum deletes them so too).  In _delta_log only the
 * hidden temporary files of commits and checkpoints (".*.tmp") and the
 * commits the PostgreSQL store staged in .tmp/ are candidates; commits and
 * checkpoints are the business of --cleanup-log.
 * A file younger than the cutoff is never deleted, whatever the log says:
 * it may belong to a writer that has not committed yet.  Directories left
 * empty go too, when they were not touched within the retention.
 *
 * The retention is delta.deletedFileRetentionDuration (7 days by
 * default); a shorter one is refused without --force, as Spark refuses it.
 * A real run commits VACUUM START (what it is about to delete) and VACUUM
 * END (what it deleted) as Spark writes them; a run with nothing to delete
 * commits nothing, so that a scheduled vacuum does not fill the log.  Those
 * commits hold only commitInfo and read nothing, so they never conflict.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cli.h"
#include "base/strmap.h"
#include "compact.h"
#include "delta/delta_txn.h"

#define DEFAULT_RETENTION "interval 1 week"

/* A file or directory the walk decided to delete. */
struct victim {
	char *rel; /* relative to the table root */
	int64_t size;
	int is_dir;
};

struct vacuum {
	struct compact *c;
	struct strmap valid; /* relative path -> (unused), owned keys */
	int64_t cutoff;      /* epoch ms: older than this is expired */
	struct victim *v;
	size_t nv, capv;
	int64_t files_seen, dirs_seen, kept_young, bytes_to_delete, files_to_delete, dirs_to_delete;
	struct err_msg e;
	int failed;
};

static int add_victim(struct vacuum *vc, const char *rel, int64_t size, int is_dir)
{
	if (vc->nv == vc->capv) {
		size_t cap = vc->capv ? vc->capv * 2 : 256;
		struct victim *nv = realloc(vc->v, cap * sizeof *nv);
		if (!nv)
			return -1;
		vc->v = nv;
		vc->capv = cap;
	}
	struct victim *v = &vc->v[vc->nv];
	if (!(v->rel = strdup(rel)))
		return -1;
	v->size = size;
	v->is_dir = is_dir;
	vc->nv++;
	if (is_dir) {
		vc->dirs_to_delete++;
	} else {
		vc->files_to_delete++;
		vc->bytes_to_delete += size;
	}
	return 0;
}

/*
 * The path of a log entry relative to the table root, or NULL when it
 * lies outside the table (an absolute path elsewhere) and cannot be one of
 * its files.  Spark may write absolute "file:" URIs; they count when they
 * name a place under the root, also by another way to it (a symbolic link
 * on the path, as the walk never takes): the file's own real path decides
 * then, or a live file named so would be deleted as one the log never
 * named.
 */
static const char *relative_path(const char *root, const char *path, struct buf *tmp)
{
	const char *p = path;
	if (strncmp(p, "file:", 5) == 0) {
		p += 5;
		while (p[0] == '/' && p[1] == '/')
			p++;
	}
	if (p[0] != '/')
		return p == path ? path : NULL;
	char real[PATH_MAX], file[PATH_MAX];
	if (!realpath(root, real))
		return NULL;
	size_t n = strlen(real);
	if (strncmp(p, real, n) != 0 || p[n] != '/') {
		if (!realpath(p, file))
			return NULL;
		p = file;
		if (strncmp(p, real, n) != 0 || p[n] != '/')
			return NULL;
	}
	buf_reset(tmp);
	buf_puts(tmp, p + n + 1);
	return buf_failed(tmp) ? NULL : tmp->data;
}

static int keep_one(struct vacuum *vc, const char *path, struct buf *tmp)
{
	const char *rel = relative_path(vc->c->root, path, tmp);
	if (!rel || strmap_get(&vc->valid, rel))
		return 0;
	char *key = strdup(rel);
	if (!key || strmap_put(&vc->valid, key, key, NULL) < 0) {
		free(key);
		return -1;
	}
	return 0;
}

/* Keep a file, and the file of its deletion vector. */
static int keep_path(struct vacuum *vc, const struct delta_file *f, struct buf *tmp)
{
	if (keep_one(vc, f->path, tmp) < 0)
		return -1;
	if (!f->dv_json)
		return 0;
	struct buf dv = BUF_INIT;
	int k = delta_dv_file(f->dv_json, &dv);
	int rc = k == 0 ? keep_one(vc, dv.data, tmp) : k < 0 ? -1 : 0;
	buf_free(&dv);
	return rc;
}

/* The commit time of version v (its file's mtime), or -1 when it is gone. */
static int64_t commit_time(const char *root, int64_t v)
{
	char path[8192];
	struct stat st;
	if (delta_commit_path(root, v, path, sizeof path) < 0 || stat(path, &st) < 0)
		return -1;
	return compact_mtime_ms(&st);
}

/* The set of files that must stay: live files and the tombstones within the retention. */
static int build_valid(struct vacuum *vc, const struct delta_snapshot *snap)
{
	struct buf tmp = BUF_INIT;
	struct strmap_slot *s;
	size_t i = 0;
	int rc = 0;
	while (rc == 0 && (s = strmap_next(&snap->files, &i)))
		rc = keep_path(vc, s->value, &tmp);
	i = 0;
	while (rc == 0 && (s = strmap_next(&snap->tombstones, &i))) {
		const struct delta_file *f = s->value;
		int64_t removed = f->deletion_timestamp;
		/*
		 * A tombstone read from the checkpoint carries the checkpoint's
		 * version, not the version that removed it, whose time is unknown:
		 * its deletionTimestamp alone, as Spark judges every tombstone.
		 */
		int in_checkpoint = f->version <= snap->checkpoint_version;
		if (removed >= 0 && removed <= vc->cutoff && !in_checkpoint) {
			int64_t t = commit_time(vc->c->root, f->version);
			if (t > removed)
				removed = t;
		}
		if (removed < 0 || removed > vc->cutoff)
			rc = keep_path(vc, f, &tmp);
	}
	buf_free(&tmp);
	return rc;
}

/*
 * Is this directory name hidden (skipped by the walk), as Spark decides?
 * Not _change_data: its change data files are named by no snapshot, only
 * by the commits that added them, and go like any other file once older
 * than the retention (readers of the change feed of retained versions
 * find theirs).
 */
static int hidden_dir(const char *name)
{
	return (name[0] == '.' || name[0] == '_') && !strchr(name, '=') &&
	       strcmp(name, "_change_data") != 0;
}

/* A stray temporary file of the log: ".<name>.tmp", as the commit store and checkpoints leave. */
static int log_temporary(const char *name)
{
	size_t n = strlen(name);
	return name[0] == '.' && n > 5 && strcmp(name + n - 4, ".tmp") == 0;
}

/*
 * _delta_log/.tmp/, where the PostgreSQL store stages commits: a staged
 * file outlives its commit when the writer died between the claim and the
 * commit's file (the next reader writes that from the store's row).  Those
 * older than the cutoff are deleted as the log's other temporary files are.
 * 0, or -1 with vc->e set.
 */
static int log_staged(struct vacuum *vc, int logfd)
{
	int fd = openat(logfd, ".tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		err_set(&vc->e, EX_IOERR, "%s/_delta_log/.tmp: %s", vc->c->root, strerror(errno));
		return -1;
	}
	vc->dirs_seen++;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		vc->files_seen++;
		if (compact_mtime_ms(&st) > vc->cutoff) {
			vc->kept_young++;
			continue;
		}
		char rel[1024];
		if (snprintf(rel, sizeof rel, "_delta_log/.tmp/%s", de->d_name) >=
		        (int)sizeof rel ||
		    add_victim(vc, rel, (int64_t)st.st_size, 0) < 0) {
			err_set(&vc->e, EX_SOFTWARE, "out of memory");
			rc = -1;
			break;
		}
	}
	closedir(d);
	return rc;
}

/*
 * Walk directory rel (relative to the root; "" for the root) whose
 * descriptor is fd (taken).  Returns 1 when everything in it is to be
 * deleted (the directory would be left empty), 0 when something stays,
 * -1 on error (vc->e).
 */
static int walk(struct vacuum *vc, int fd, struct buf *rel)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		err_set(&vc->e, EX_IOERR, "%s/%s: %s", vc->c->root, rel->data, strerror(errno));
		close(fd);
		return -1;
	}
	vc->dirs_seen++;
	int empty = 1, rc = 0;
	size_t base = rel->len;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue; /* gone meanwhile */
			err_set(&vc->e, EX_IOERR, "%s/%s%s: %s", vc->c->root, rel->data, n,
			        strerror(errno));
			rc = -1;
			break;
		}
		rel->len = base;
		if (buf_puts(rel, n) < 0) {
			err_set(&vc->e, EX_SOFTWARE, "out of memory");
			rc = -1;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			int at_root = base == 0;
			int is_log = at_root && strcmp(n, "_delta_log") == 0;
			if (is_log) {
				empty = 0;
				int lfd = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				DIR *ld = lfd < 0 ? NULL : fdopendir(lfd);
				if (!ld) {
					err_set(&vc->e, EX_IOERR, "%s/%s: %s", vc->c->root, n,
					        strerror(errno));
					if (lfd >= 0)
						close(lfd);
					rc = -1;
					break;
				}
				vc->dirs_seen++;
				struct dirent *le;
				while ((le = readdir(ld))) {
					struct stat ls;
					if (strcmp(le->d_name, ".tmp") == 0) {
						if (log_staged(vc, dirfd(ld)) < 0) {
							rc = -1;
							break;
						}
						continue;
					}
					if (!log_temporary(le->d_name) ||
					    fstatat(dirfd(ld), le->d_name, &ls,
					            AT_SYMLINK_NOFOLLOW) < 0 ||
					    !S_ISREG(ls.st_mode))
						continue;
					vc->files_seen++;
					if (compact_mtime_ms(&ls) > vc->cutoff) {
						vc->kept_young++;
						continue;
					}
					char lrel[1024];
					if (snprintf(lrel, sizeof lrel, "_delta_log/%s",
					             le->d_name) >= (int)sizeof lrel ||
					    add_victim(vc, lrel, (int64_t)ls.st_size, 0) < 0) {
						err_set(&vc->e, EX_SOFTWARE, "out of memory");
						rc = -1;
						break;
					}
				}
				closedir(ld);
				if (rc < 0)
					break;
				continue;
			}
			if (hidden_dir(n)) {
				empty = 0;
				continue;
			}
			int sfd =
			    openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sfd < 0) {
				err_set(&vc->e, EX_IOERR, "%s/%s: %s", vc->c->root, rel->data,
				        strerror(errno));
				rc = -1;
				break;
			}
			int64_t dir_mtime = compact_mtime_ms(&st);
			if (buf_putc(rel, '/') < 0) {
				close(sfd);
				err_set(&vc->e, EX_SOFTWARE, "out of memory");
				rc = -1;
				break;
			}
			int sub = walk(vc, sfd, rel);
			rel->len = base;
			buf_puts(rel, n);
			if (sub < 0) {
				rc = -1;
				break;
			}
			/*
			 * An emptied directory goes when nobody touched it within the
			 * retention: a writer that just made it may be about to fill it.
			 */
			if (sub == 1 && dir_mtime <= vc->cutoff) {
				if (add_victim(vc, rel->data, 0, 1) < 0) {
					err_set(&vc->e, EX_SOFTWARE, "out of memory");
					rc = -1;
					break;
				}
			} else {
				empty = 0;
			}
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			empty = 0; /* links, sockets: never ours to delete */
			continue;
		}
		vc->files_seen++;
		if (strmap_get(&vc->valid, rel->data)) {
			empty = 0;
			continue;
		}
		if (compact_mtime_ms(&st) > vc->cutoff) {
			vc->kept_young++;
			empty = 0;
			continue;
		}
		if (add_victim(vc, rel->data, (int64_t)st.st_size, 0) < 0) {
			err_set(&vc->e, EX_SOFTWARE, "out of memory");
			rc = -1;
			break;
		}
		errno = 0;
	}
	if (rc == 0 && errno && errno != ENOENT) {
		err_set(&vc->e, EX_IOERR, "%s/%s: %s", vc->c->root, rel->data, strerror(errno));
		rc = -1;
	}
	rel->len = base;
	if (rel->data)
		rel->data[base] = '\0';
	closedir(d);
	return rc < 0 ? -1 : empty;
}

/* Commit VACUUM START or END with the parameters and metrics Spark gives them. */
static int commit_marker(struct vacuum *vc, struct delta_snapshot *snap, int start,
                         int64_t table_ms, int specified, int64_t deleted, int ok)
{
	struct compact *c = vc->c;
	struct delta_txn *t =
	    delta_txn_begin(snap, c->store, start ? "VACUUM START" : "VACUUM END");
	struct delta_commit_info info;
	struct err_msg e;
	if (!t) {
		err_error("out of memory");
		return EX_SOFTWARE;
	}
	int bad = 0;
	if (start) {
		bad |= delta_txn_param(t, "retentionCheckEnabled", c->force ? "false" : "true");
		char text[32];
		snprintf(text, sizeof text, "%" PRId64, table_ms);
		bad |= delta_txn_param(t, "defaultRetentionMillis", text);
		if (specified) {
			snprintf(text, sizeof text, "%" PRId64, c->retain_ms);
			bad |= delta_txn_param(t, "specifiedRetentionMillis", text);
		}
		bad |= delta_txn_metric_i64(t, "numFilesToDelete",
		                            vc->files_to_delete + vc->dirs_to_delete);
		bad |= delta_txn_metric_i64(t, "sizeOfDataToDelete", vc->bytes_to_delete);
	} else {
		bad |= delta_txn_param(t, "status", ok ? "COMPLETED" : "FAILED");
		bad |= delta_txn_metric_i64(t, "numDeletedFiles", deleted);
		bad |= delta_txn_metric_i64(t, "numVacuumedDirectories", vc->dirs_seen);
	}
	if (bad) {
		delta_txn_free(t);
		err_error("out of memory");
		return EX_SOFTWARE;
	}
	int rc = delta_txn_commit(t, &info, &e);
	delta_txn_free(t);
	if (info.version >= 0)
		compact_created(c, info.version);
	if (info.unsynced)
		err_warn("%s", info.sync_err.text);
	if (info.checkpoint < 0)
		err_warn("%s", info.checkpoint_err.text);
	if (rc < 0) {
		err_error("%s", e.text);
		return e.status ? e.status : EX_SOFTWARE;
	}
	err_info("committed version %" PRId64 ": %s", info.version,
	         start ? "VACUUM START" : "VACUUM END");
	return EX_OK;
}

int compact_vacuum(struct compact *c)
{
	struct delta_snapshot snap;
	struct vacuum vc;
	memset(&vc, 0, sizeof vc);
	vc.c = c;
	int rc = compact_load(c, 1, &snap);
	if (rc != EX_OK)
		return rc;
	const char *prop =
	    delta_property(&snap, "delta.deletedFileRetentionDuration", DEFAULT_RETENTION);
	int64_t table_ms;
	char ttext[32], rtext[32];
	if (delta_interval_ms(prop, &table_ms) < 0 || table_ms < 0) {
		err_error("%s: delta.deletedFileRetentionDuration: expected an interval such as "
		          "'interval 7 days', got '%s'",
		          c->table, prop);
		rc = EX_DATAERR;
		goto out;
	}
	int specified = c->retain_ms >= 0;
	int64_t retain = specified ? c->retain_ms : table_ms;
	compact_duration_text(table_ms, ttext, sizeof ttext);
	compact_duration_text(retain, rtext, sizeof rtext);
	if (retain < table_ms && !c->force) {
		err_error("%s: --retain %s is shorter than the table's "
		          "delta.deletedFileRetentionDuration (%s): readers of recent versions "
		          "and writers that have not committed yet could lose files; give --force "
		          "to vacuum anyway",
		          c->table, c->retain_text ? c->retain_text : rtext, ttext);
		rc = EX_USAGE;
		goto out;
	}
	vc.cutoff = c->now_ms - retain;
	if (build_valid(&vc, &snap) < 0) {
		err_error("out of memory");
		rc = EX_SOFTWARE;
		goto out;
	}
	err_info("%s: %zu live files, %zu tombstones, %zu files kept; listing the table", c->table,
	         snap.files.count, snap.tombstones.count, vc.valid.count);
	int fd = open(c->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct buf rel = BUF_INIT;
	if (fd < 0) {
		err_error("%s: %s", c->root, strerror(errno));
		rc = EX_IOERR;
		goto out;
	}
	buf_reserve(&rel, 256);
	if (rel.data)
		rel.data[0] = '\0';
	int w = walk(&vc, fd, &rel);
	buf_free(&rel);
	if (w < 0) {
		err_error("%s", vc.e.text);
		rc = vc.e.status;
		goto out;
	}
	char size[32];
	compact_size_text(vc.bytes_to_delete, size, sizeof size);
	if (c->dry_run) {
		for (size_t i = 0; i < vc.nv; i++)
			printf("%s/%s%s\n", c->root, vc.v[i].rel, vc.v[i].is_dir ? "/" : "");
		rc = cli_close_stdout();
		err_warn("%s: vacuum (retention %s, dry run): would delete %" PRId64
		         " file%s (%s) and %" PRId64 " director%s of %" PRId64 " file%s in %" PRId64
		         " directories",
		         c->table, rtext, vc.files_to_delete, vc.files_to_delete == 1 ? "" : "s",
		         size, vc.dirs_to_delete, vc.dirs_to_delete == 1 ? "y" : "ies",
		         vc.files_seen, vc.files_seen == 1 ? "" : "s", vc.dirs_seen);
		goto out;
	}
	if (vc.nv == 0) {
		err_warn("%s: vacuum (retention %s): nothing to delete among %" PRId64
		         " file%s in %" PRId64 " directories",
		         c->table, rtext, vc.files_seen, vc.files_seen == 1 ? "" : "s",
		         vc.dirs_seen);
		goto out;
	}
	rc = commit_marker(&vc, &snap, 1, table_ms, specified, 0, 1);
	if (rc != EX_OK)
		goto out;
	int64_t deleted_files = 0, deleted_dirs = 0, deleted_bytes = 0, failures = 0;
	for (size_t i = 0; i < vc.nv; i++) {
		char path[8192];
		struct victim *v = &vc.v[i];
		if (snprintf(path, sizeof path, "%s/%s", c->root, v->rel) >= (int)sizeof path)
			continue;
		int r = v->is_dir ? rmdir(path) : unlink(path);
		if (r < 0 && errno != ENOENT) {
			/* A directory that a writer filled meanwhile stays, as it should. */
			if (v->is_dir && (errno == ENOTEMPTY || errno == EEXIST))
				continue;
			err_warn("%s: %s", path, strerror(errno));
			failures++;
			continue;
		}
		if (v->is_dir) {
			deleted_dirs++;
		} else {
			deleted_files++;
			deleted_bytes += v->size;
		}
		if (i % 1000 == 999)
			err_info("%s: deleted %zu of %zu", c->table, i + 1, vc.nv);
	}
	int end = commit_marker(&vc, &snap, 0, table_ms, specified, deleted_files + deleted_dirs,
	                        failures == 0);
	compact_size_text(deleted_bytes, size, sizeof size);
	err_warn("%s: vacuum (retention %s): deleted %" PRId64 " file%s (%s) and %" PRId64
	         " director%s of %" PRId64 " file%s in %" PRId64 " directories",
	         c->table, rtext, deleted_files, deleted_files == 1 ? "" : "s", size, deleted_dirs,
	         deleted_dirs == 1 ? "y" : "ies", vc.files_seen, vc.files_seen == 1 ? "" : "s",
	         vc.dirs_seen);
	if (failures) {
		err_error("%s: %" PRId64 " file%s could not be deleted", c->table, failures,
		          failures == 1 ? "" : "s");
		rc = EX_IOERR;
	} else {
		rc = end;
	}
out:
	for (size_t i = 0; i < vc.nv; i++)
		free(vc.v[i].rel);
	free(vc.v);
	struct strmap_slot *s;
	size_t i = 0;
	while ((s = strmap_next(&vc.valid, &i)))
		free(s->value);
	strmap_free(&vc.valid);
	delta_snapshot_free(&snap);
	return rc;
}

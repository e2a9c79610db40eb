/*
 * delta_store: the commit-store interface and the link store (see
 * delta_store.h for the contract).
 *
 * put-if-absent with link(2): the commit is written whole to a hidden
 * temporary name, fsynced, then hard-linked to N.json; link fails with
 * EEXIST when the version exists, so two writers can never both make it,
 * and a reader never sees a partly written commit.  The directory is
 * fsynced after the link so that the version survives a crash; a failure
 * there is reported (DELTA_PUT_UNSYNCED), never ignored, and never turned
 * into "not committed", since the version is visible already.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "base/config.h"
#include "delta/delta.h"
#include "delta/delta_internal.h"
#include "delta/delta_store.h"

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

static int write_all(int fd, const char *p, size_t n)
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
	if (write_all(fd, text, len) < 0 || fsync(fd) < 0) {
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
    "link", link_put, link_read, link_latest, NULL, link_close,
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

struct delta_store *delta_store_open(const struct config *c, const char *root, struct err_msg *e)
{
	const char *v = config_value(c, NULL, NULL, "storage", "commit_store", "auto", NULL);
	if (strcmp(v, "auto") != 0 && strcmp(v, "link") != 0) {
		/* Only the file sets it: name the place. */
		char where[DELTA_PATH_MAX + 32];
		const char *file = config_path(c);
		snprintf(where, sizeof where, "%s:%d: ", file ? file : "",
		         config_line(c, "storage", "commit_store"));
		err_set(e, EX_CONFIG, "%s[storage] commit_store = %s: %s", file ? where : "", v,
		        strcmp(v, "postgres") == 0
		            ? "the PostgreSQL commit store is not available in this build "
		              "(expected auto or link)"
		            : "expected auto or link");
		return NULL;
	}
	int fuse = delta_on_fuse(root);
	if (fuse < 0) {
		err_set(e, EX_IOERR, "%s: %s", root, strerror(errno));
		return NULL;
	}
	if (fuse) {
		err_set(e, EX_CONFIG,
		        "%s: this filesystem cannot create links, so commits cannot be made atomic "
		        "here: the table is on a FUSE mount (s3fs), where commits need the "
		        "PostgreSQL commit store ([storage] commit_store = postgres with "
		        "[postgres] dsn)",
		        root);
		return NULL;
	}
	return delta_store_link(root, e);
}

void delta_store_close(struct delta_store *s)
{
	if (s)
		s->ops->close(s);
}

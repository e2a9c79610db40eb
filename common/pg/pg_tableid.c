/*
 * pg_tableid: a table's identity from its place in an s3fs-mounted bucket
 * (see pg/tableid.h for the why).
 *
 * The path is made absolute and canonical first: the deepest part of it
 * that exists goes through realpath(3) (symbolic links resolved), the rest
 * is appended as written, so that a table about to be created gets the
 * identity it will have.  The kernel writes mount points in mountinfo
 * resolved the same way, with space, tab, newline and backslash as octal
 * escapes.
 *
 * s3fs rewrites its own argv: "BUCKET:/PREFIX" becomes "BUCKET" and
 * "/PREFIX" (the ':' overwritten by a NUL), so its command line shows either
 * form and both are read.  A daemonised s3fs has changed directory to "/",
 * so a relative mount point on its command line is resolved against its
 * current directory only as a last resort and usually does not match: such
 * mounts should name their bucket with fsname.
 */
#include "pg/tableid.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TID_MOUNTINFO_MAX (8 << 20)
#define TID_CMDLINE_MAX   (1 << 16)

struct tid_mount {
	char *root;       /* the part of the file system mounted here ("/" for all of it) */
	char *mountpoint; /* where */
	char *fstype;
	char *source;
	char dev[32]; /* major:minor */
};

/* Read a whole (small, /proc) file of at most max bytes; -1 with errno (EFBIG: larger). */
static int tid_read_file(const char *path, size_t max, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	buf_reset(out);
	for (;;) {
		/* /proc files have no size to ask for: read until the end, one byte past max at most. */
		size_t room = max + 1 - out->len;
		size_t want = room < 4096 ? room : 4096;
		if (want == 0 || buf_reserve(out, want) < 0) {
			close(fd);
			errno = want == 0 ? EFBIG : ENOMEM;
			return -1;
		}
		ssize_t k = read(fd, out->data + out->len, want);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			int saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (k == 0)
			break;
		out->len += (size_t)k;
		out->data[out->len] = '\0';
	}
	close(fd);
	return 0;
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void tid_unescape(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

/*
 * Parse one mountinfo line in place:
 *   ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
 */
static int tid_parse_line(char *line, struct tid_mount *m)
{
	char *f[64];
	int n = 0;
	for (char *save = NULL, *t = strtok_r(line, " ", &save); t && n < 64;
	     t = strtok_r(NULL, " ", &save))
		f[n++] = t;
	int dash = -1;
	for (int i = 6; i < n; i++)
		if (strcmp(f[i], "-") == 0) {
			dash = i;
			break;
		}
	if (n < 6 || dash < 0 || dash + 2 >= n)
		return -1;
	snprintf(m->dev, sizeof m->dev, "%s", f[2]);
	m->root = f[3];
	m->mountpoint = f[4];
	m->fstype = f[dash + 1];
	m->source = f[dash + 2];
	tid_unescape(m->root);
	tid_unescape(m->mountpoint);
	tid_unescape(m->source);
	return 0;
}

/* Is dir the same as path or one of its ancestors? */
static int tid_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (strcmp(dir, "/") == 0)
		return 1;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Append "/part" for each non-empty '/'-separated part of s. */
static void tid_join(struct buf *b, const char *s)
{
	while (*s) {
		while (*s == '/')
			s++;
		const char *end = strchr(s, '/');
		size_t n = end ? (size_t)(end - s) : strlen(s);
		if (n) {
			buf_putc(b, '/');
			buf_append(b, s, n);
		}
		s += n;
	}
}

/*
 * The absolute, canonical form of path: its deepest existing ancestor
 * resolved by realpath(3), the rest appended.  "." and ".." are taken out
 * as written first.
 */
static int tid_canonical(const char *path, struct buf *out, struct err_msg *e)
{
	struct buf abs = BUF_INIT, norm = BUF_INIT;
	char cwd[PATH_MAX], resolved[PATH_MAX];
	int rc = -1;
	if (path[0] != '/') {
		if (!getcwd(cwd, sizeof cwd)) {
			err_set(e, EX_IOERR, "%s: cannot find the current directory: %s", path,
			        strerror(errno));
			goto out;
		}
		buf_puts(&abs, cwd);
		buf_putc(&abs, '/');
	}
	buf_puts(&abs, path);
	/* Lexical clean-up: components, without "." and with ".." applied. */
	for (const char *s = abs.data; s && *s;) {
		while (*s == '/')
			s++;
		const char *end = strchr(s, '/');
		size_t n = end ? (size_t)(end - s) : strlen(s);
		if (n == 1 && s[0] == '.') {
			/* nothing */
		} else if (n == 2 && s[0] == '.' && s[1] == '.') {
			char *slash = norm.len ? strrchr(norm.data, '/') : NULL;
			if (slash) {
				norm.len = (size_t)(slash - norm.data);
				norm.data[norm.len] = '\0';
			}
		} else if (n) {
			buf_putc(&norm, '/');
			buf_append(&norm, s, n);
		}
		s += n;
	}
	if (buf_failed(&abs) || buf_failed(&norm)) {
		err_set(e, EX_SOFTWARE, "out of memory");
		goto out;
	}
	if (norm.len == 0)
		buf_putc(&norm, '/');
	/* The deepest ancestor that exists decides. */
	size_t cut = norm.len;
	for (;;) {
		char saved = norm.data[cut];
		norm.data[cut] = '\0';
		const char *probe = cut ? norm.data : "/";
		char *r = realpath(probe, resolved);
		int err = errno;
		norm.data[cut] = saved;
		if (r) {
			buf_reset(out);
			buf_puts(out, strcmp(resolved, "/") == 0 ? "" : resolved);
			tid_join(out, norm.data + cut);
			if (out->len == 0)
				buf_putc(out, '/');
			rc = buf_failed(out) ? -1 : 0;
			if (rc < 0)
				err_set(e, EX_SOFTWARE, "out of memory");
			break;
		}
		if ((err != ENOENT && err != ENOTDIR) || cut == 0) {
			err_set(e, EX_IOERR, "%s: %s", path, strerror(err));
			break;
		}
		while (cut > 0 && norm.data[cut - 1] != '/')
			cut--;
		if (cut > 0)
			cut--;
	}
out:
	buf_free(&abs);
	buf_free(&norm);
	return rc;
}

/* Split "BUCKET[:/PREFIX]" into its parts (in place); -1 when BUCKET is malformed. */
static int tid_bucket_split(char *spec, char **bucket, char **prefix)
{
	char *colon = strchr(spec, ':');
	*bucket = spec;
	*prefix = NULL;
	if (colon) {
		*colon = '\0';
		*prefix = colon + 1;
	}
	return **bucket && !strchr(*bucket, '/') ? 0 : -1;
}

struct tid_where {
	char bucket[256];
	char prefix[PATH_MAX];
	int found;
	int conflict; /* two processes claim the mount with different buckets */
	char other[PATH_MAX + 256];
};

static void tid_where_set(struct tid_where *w, const char *bucket, const char *prefix)
{
	char pre[PATH_MAX];
	struct buf norm = BUF_INIT;
	tid_join(&norm, prefix ? prefix : "");
	snprintf(pre, sizeof pre, "%s", norm.data ? norm.data : "");
	buf_free(&norm);
	if (w->found && (strcmp(w->bucket, bucket) != 0 || strcmp(w->prefix, pre) != 0)) {
		w->conflict = 1;
		snprintf(w->other, sizeof w->other, "%s:%s", bucket, *pre ? pre : "/");
		return;
	}
	snprintf(w->bucket, sizeof w->bucket, "%s", bucket);
	snprintf(w->prefix, sizeof w->prefix, "%s", pre);
	w->found = 1;
}

/*
 * Does the s3fs command line args[0..len) (NUL-separated) serve one of the
 * mount points in mps[0..nmp)?  If so, record its bucket and prefix in w.
 */
static void tid_from_cmdline(char *args, size_t len, const char *cwd, char *const *mps, int nmp,
                             struct tid_where *w)
{
	char *pos[8];
	int npos = 0;
	char bucket_opt[PATH_MAX] = "";
	char *end = args + len;
	char *a = args + strlen(args) + 1; /* skip argv[0] */
	for (; a < end; a += strlen(a) + 1) {
		char *opts = NULL;
		if (strcmp(a, "-o") == 0) {
			a += strlen(a) + 1;
			if (a >= end)
				break;
			opts = a;
		} else if (strncmp(a, "-o", 2) == 0) {
			opts = a + 2;
		} else if (a[0] == '-') {
			continue;
		} else if (npos < 8) {
			pos[npos++] = a;
		}
		for (char *o = opts; o && *o;) {
			char *comma = strchr(o, ',');
			size_t n = comma ? (size_t)(comma - o) : strlen(o);
			if (n > 7 && strncmp(o, "bucket=", 7) == 0)
				snprintf(bucket_opt, sizeof bucket_opt, "%.*s", (int)(n - 7),
				         o + 7);
			o += n + (comma ? 1 : 0);
		}
	}
	if (npos == 0)
		return;
	char spec[PATH_MAX + 256];
	const char *mp = pos[npos - 1];
	if (*bucket_opt)
		snprintf(spec, sizeof spec, "%s", bucket_opt);
	else if (npos == 3)
		snprintf(spec, sizeof spec, "%s:%s", pos[0], pos[1]);
	else if (npos == 2)
		snprintf(spec, sizeof spec, "%s", pos[0]);
	else
		return;
	/* The mount point as the kernel shows it: absolute, canonical. */
	char given[PATH_MAX * 2], resolved[PATH_MAX];
	if (mp[0] == '/')
		snprintf(given, sizeof given, "%s", mp);
	else
		snprintf(given, sizeof given, "%s/%s", cwd, mp);
	struct buf clean = BUF_INIT;
	tid_join(&clean, given);
	int match = 0;
	for (int i = 0; i < nmp && !match; i++)
		match = clean.data && strcmp(clean.data, mps[i]) == 0;
	if (!match && realpath(given, resolved))
		for (int i = 0; i < nmp && !match; i++)
			match = strcmp(resolved, mps[i]) == 0;
	buf_free(&clean);
	char *bucket, *prefix;
	if (match && tid_bucket_split(spec, &bucket, &prefix) == 0)
		tid_where_set(w, bucket, prefix);
}

/* Look through the processes under proc for the s3fs that serves mps. */
static int tid_from_processes(const char *proc, char *const *mps, int nmp, struct tid_where *w,
                              struct err_msg *e)
{
	DIR *d = opendir(proc);
	if (!d) {
		err_set(e, EX_IOERR, "%s: %s", proc, strerror(errno));
		return -1;
	}
	struct buf text = BUF_INIT;
	struct dirent *de;
	char path[PATH_MAX], cwd[PATH_MAX];
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
		    strspn(de->d_name, "0123456789") != strlen(de->d_name))
			continue;
		snprintf(path, sizeof path, "%s/%s/comm", proc, de->d_name);
		if (tid_read_file(path, 64, &text) < 0 ||
		    strcmp(text.data ? text.data : "", "s3fs\n"))
			continue;
		snprintf(path, sizeof path, "%s/%s/cwd", proc, de->d_name);
		ssize_t n = readlink(path, cwd, sizeof cwd - 1);
		cwd[n > 0 ? n : 0] = '\0';
		snprintf(path, sizeof path, "%s/%s/cmdline", proc, de->d_name);
		/* A process that ended meanwhile, or is not ours to read, is skipped. */
		if (tid_read_file(path, TID_CMDLINE_MAX, &text) < 0 || text.len == 0)
			continue;
		tid_from_cmdline(text.data, text.len, *cwd ? cwd : "/", mps, nmp, w);
	}
	closedir(d);
	buf_free(&text);
	return 0;
}

int pg_table_identity_in(const char *path, const char *mountinfo, const char *proc, struct buf *out,
                         struct err_msg *e)
{
	struct buf canon = BUF_INIT, info = BUF_INIT;
	struct tid_mount *mounts = NULL;
	char **mps = NULL;
	size_t nm = 0;
	int rc = -1;
	buf_reset(out);
	if (tid_canonical(path, &canon, e) < 0)
		goto out;
	if (tid_read_file(mountinfo, TID_MOUNTINFO_MAX, &info) < 0) {
		err_set(e, EX_IOERR, "%s: %s", mountinfo, strerror(errno));
		goto out;
	}
	size_t lines = 1;
	for (size_t i = 0; i < info.len; i++)
		lines += info.data[i] == '\n';
	mounts = calloc(lines, sizeof *mounts);
	mps = calloc(lines, sizeof *mps);
	if (!mounts || !mps) {
		err_set(e, EX_SOFTWARE, "out of memory");
		goto out;
	}
	/* The mount that holds the path: the longest mount point; the last of equals is on top. */
	long best = -1;
	for (char *save = NULL, *l = strtok_r(info.data, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		if (tid_parse_line(l, &mounts[nm]) < 0)
			continue;
		if (tid_under(canon.data, mounts[nm].mountpoint) &&
		    (best < 0 || strlen(mounts[nm].mountpoint) >= strlen(mounts[best].mountpoint)))
			best = (long)nm;
		nm++;
	}
	if (best < 0) {
		err_set(e, EX_IOERR, "%s: no mount holds it in %s", canon.data, mountinfo);
		goto out;
	}
	const struct tid_mount *m = &mounts[best];
	int named = strncmp(m->source, "s3fs#", 5) == 0;
	if (strcmp(m->fstype, "fuse.s3fs") != 0 && !(named && strncmp(m->fstype, "fuse", 4) == 0)) {
		rc = 0;
		goto out;
	}
	struct tid_where w;
	memset(&w, 0, sizeof w);
	if (named) {
		char spec[PATH_MAX];
		char *bucket, *prefix;
		snprintf(spec, sizeof spec, "%s", m->source + 5);
		if (tid_bucket_split(spec, &bucket, &prefix) < 0) {
			err_set(
			    e, EX_CONFIG,
			    "%s: the s3fs mount at %s is named \"%s\", not s3fs#BUCKET[:/PREFIX]",
			    path, m->mountpoint, m->source);
			goto out;
		}
		tid_where_set(&w, bucket, prefix);
	} else {
		/* The mount points at which s3fs mounted this file system whole. */
		int nmp = 0;
		for (size_t i = 0; i < nm; i++)
			if (strcmp(mounts[i].dev, m->dev) == 0 && strcmp(mounts[i].root, "/") == 0)
				mps[nmp++] = mounts[i].mountpoint;
		if (nmp && tid_from_processes(proc, mps, nmp, &w, e) < 0)
			goto out;
		if (!w.found) {
			err_set(e, EX_CONFIG,
			        "%s is on an s3fs mount (%s) whose bucket cannot be found: no s3fs "
			        "process here serves it; mount it with -o "
			        "fsname=s3fs#BUCKET[:/PREFIX] so that the mount names its bucket",
			        path, m->mountpoint);
			goto out;
		}
	}
	if (w.conflict) {
		err_set(e, EX_CONFIG,
		        "%s: the s3fs mount at %s is claimed by processes of two buckets or "
		        "prefixes (%s:%s and %s); mount it with -o fsname=s3fs#BUCKET[:/PREFIX]",
		        path, m->mountpoint, w.bucket, *w.prefix ? w.prefix : "/", w.other);
		goto out;
	}
	buf_puts(out, "s3://");
	buf_puts(out, w.bucket);
	tid_join(out, w.prefix);
	tid_join(out, m->root);
	tid_join(out, canon.data + (strcmp(m->mountpoint, "/") == 0 ? 0 : strlen(m->mountpoint)));
	if (buf_failed(out)) {
		err_set(e, EX_SOFTWARE, "out of memory");
		goto out;
	}
	rc = 1;
out:
	if (rc != 1)
		buf_reset(out);
	free(mounts);
	free(mps);
	buf_free(&canon);
	buf_free(&info);
	return rc;
}

int pg_table_identity(const char *path, struct buf *out, struct err_msg *e)
{
	return pg_table_identity_in(path, "/proc/self/mountinfo", "/proc", out, e);
}

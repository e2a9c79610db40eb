/*
 * delta_replay: the listing of _delta_log and log replay.
 *
 * The rule replay keeps is that versions are contiguous from where the state
 * can be rebuilt (a complete checkpoint, or version 0) up to the newest
 * version in the log, whatever _last_checkpoint says: a missing commit is
 * an error that names it, for readers and writers alike, so that nobody
 * reads an old version as the latest or commits into the hole.  So is a
 * commit that holds no action (an empty file), which would otherwise read
 * as a version that changed nothing.
 *
 * Finding that newest version takes a listing, which for a log of ten
 * thousand commits costs milliseconds.  When _last_checkpoint points at a
 * checkpoint that is there, replay starts from it at once (probing the
 * commits after it one by one) while a thread of its own lists the log;
 * the two meet at the end, or, for a writer that asked to defer it, just
 * before its commit (delta_snapshot_check()), so that the listing overlaps
 * with writing the data files.
 *
 * A checkpoint that cannot be used (unreadable, a row that is not a valid
 * action, counts that disagree with _last_checkpoint) is left aside for an
 * older one or for the JSON commits when they are all present; the
 * snapshot's notice says what happened.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta/delta.h"
#include "delta/delta_internal.h"
#include "delta/delta_store.h"
#include "text/json.h"

#define COMMIT_FILE_MAX          (256u << 20)
#define LAST_CHECKPOINT_FILE_MAX (1u << 20)

/* Listing ------------------------------------------------------------------------ */

void delta_listing_free(struct delta_listing *l)
{
	free(l->commits);
	free(l->ckpts);
	memset(l, 0, sizeof *l);
}

static int parse_digits(const char *s, int n, int64_t *out)
{
	int64_t v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* By version, then the same kinds together, a version's checkpoints in a fixed order. */
static int cmp_ckpt(const void *a, const void *b)
{
	const struct delta_ckpt *x = a, *y = b;
	int c = cmp_i64(&x->version, &y->version);
	if (c)
		return c;
	if (x->kind != y->kind)
		return x->kind < y->kind ? 1 : -1; /* the classic one last: tried first */
	if (x->parts != y->parts)
		return x->parts < y->parts ? -1 : 1;
	return strcmp(x->uuid, y->uuid);
}

/* A <uuid> of a checkpoint's name: what UUIDs are made of, and not empty. */
static int uuid_ok(const char *s, size_t n)
{
	if (n == 0 || n > DELTA_CKPT_UUID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F') || s[i] == '-'))
			return 0;
	return 1;
}

int delta_ckpt_parse(const char *n, struct delta_ckpt *c)
{
	size_t len = strlen(n);
	int64_t v, part, parts;
	memset(c, 0, sizeof *c);
	if (len < 39 || n[20] != '.' || parse_digits(n, 20, &v) < 0 ||
	    strncmp(n + 21, "checkpoint.", 11) != 0)
		return 0;
	const char *rest = n + 32;
	size_t rl = len - 32;
	c->version = v;
	c->parts = c->found = c->have[0] = 1;
	if (strcmp(rest, "parquet") == 0)
		return 1;
	if (rl == 29 && rest[10] == '.' && rest[21] == '.' && strcmp(rest + 22, "parquet") == 0 &&
	    parse_digits(rest, 10, &part) == 0 && parse_digits(rest + 11, 10, &parts) == 0) {
		/*
		 * A part of a multi-part checkpoint (at most 64 parts are read).
		 * PROTOCOL.md gives one more than one part: "part 1 of 1" is no
		 * checkpoint's name, and taken for the classic checkpoint of its
		 * version it would have the reader look for a file not there.
		 */
		if (part < 1 || parts < 2 || part > parts || parts > 64)
			return 0;
		c->parts = (int)parts;
		c->have[0] = 0;
		c->have[part - 1] = 1;
		return 1;
	}
	const char *dot = strrchr(rest, '.');
	if (!dot || !uuid_ok(rest, (size_t)(dot - rest)))
		return 0;
	if (strcmp(dot, ".json") == 0)
		c->kind = DELTA_CKPT_UUID_JSON;
	else if (strcmp(dot, ".parquet") == 0)
		c->kind = DELTA_CKPT_UUID_PARQUET;
	else
		return 0;
	memcpy(c->uuid, rest, (size_t)(dot - rest));
	c->uuid[dot - rest] = '\0';
	return 1;
}

int delta_ckpt_name(const struct delta_ckpt *c, char *out, size_t cap)
{
	if (c->kind == DELTA_CKPT_CLASSIC && c->parts > 1)
		return delta_pathf(out, cap, "%020lld.checkpoint.%010d.%010d.parquet",
		                   (long long)c->version, 1, c->parts);
	if (c->kind == DELTA_CKPT_CLASSIC)
		return delta_pathf(out, cap, "%020lld.checkpoint.parquet", (long long)c->version);
	return delta_pathf(out, cap, "%020lld.checkpoint.%s.%s", (long long)c->version, c->uuid,
	                   c->kind == DELTA_CKPT_UUID_JSON ? "json" : "parquet");
}

static int delta_listing_add_ckpt(struct delta_listing *l, const struct delta_ckpt *k)
{
	/* Parts of one multi-part checkpoint meet here; a single file needs no search. */
	int part = 0;
	while (k->parts > 1 && !k->have[part])
		part++;
	for (size_t i = 0; k->parts > 1 && i < l->nckpts; i++) {
		struct delta_ckpt *c = &l->ckpts[i];
		if (c->version == k->version && c->kind == DELTA_CKPT_CLASSIC &&
		    c->parts == k->parts) {
			if (!c->have[part]) {
				c->have[part] = 1;
				c->found++;
			}
			return 0;
		}
	}
	if (l->nckpts == l->capk) {
		size_t cap = l->capk ? l->capk * 2 : 8;
		struct delta_ckpt *n = realloc(l->ckpts, cap * sizeof *n);
		if (!n)
			return -1;
		l->ckpts = n;
		l->capk = cap;
	}
	l->ckpts[l->nckpts++] = *k;
	return 0;
}

/*
 * Put the commit versions in order.  A log's versions are dense, so they
 * are placed in a bitmap over their range and read back in order, which
 * for tens of thousands of versions costs far less than sorting them;
 * sparse ones (a log after cleanup, or odd names) are sorted.
 */
static int sort_commits(struct delta_listing *l)
{
	size_t n = l->ncommits;
	if (n < 2)
		return 0;
	int64_t lo = l->commits[0], hi = lo;
	for (size_t i = 1; i < n; i++) {
		if (l->commits[i] < lo)
			lo = l->commits[i];
		if (l->commits[i] > hi)
			hi = l->commits[i];
	}
	uint64_t range = (uint64_t)(hi - lo) + 1;
	if (range > (uint64_t)n * 64 + 65536) {
		qsort(l->commits, n, sizeof *l->commits, cmp_i64);
		return 0;
	}
	unsigned char *bits = calloc((size_t)(range + 7) / 8, 1);
	if (!bits)
		return -1;
	for (size_t i = 0; i < n; i++) {
		uint64_t off = (uint64_t)(l->commits[i] - lo);
		bits[off >> 3] |= (unsigned char)(1u << (off & 7));
	}
	size_t k = 0;
	for (uint64_t off = 0; off < range; off++)
		if (bits[off >> 3] >> (off & 7) & 1)
			l->commits[k++] = lo + (int64_t)off;
	l->ncommits = k; /* a version listed twice counts once */
	free(bits);
	return 0;
}

int delta_list(const char *root, struct delta_listing *l, struct err_msg *e)
{
	char dir[DELTA_PATH_MAX];
	memset(l, 0, sizeof *l);
	if (delta_pathf(dir, sizeof dir, "%s/_delta_log", root) < 0) {
		err_set(e, EX_IOERR, "%s: %s", root, strerror(ENAMETOOLONG));
		return -1;
	}
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			err_set(e, EX_DATAERR, "%s: not a Delta table (no _delta_log)", root);
		else
			err_set(e, EX_IOERR, "%s: %s", dir, strerror(errno));
		return -1;
	}
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		int64_t v;
		/* Names are "<20 digits>.<kind>"; most are commits, told by their length. */
		if (n[0] < '0' || n[0] > '9')
			continue;
		size_t len = strlen(n);
		if (len < 25 || n[20] != '.' || parse_digits(n, 20, &v) < 0)
			continue;
		const char *rest = n + 21;
		if (len == 25 && memcmp(rest, "json", 4) == 0) {
			if (l->ncommits == l->capc) {
				size_t cap = l->capc ? l->capc * 2 : 64;
				int64_t *c = realloc(l->commits, cap * sizeof *c);
				if (!c)
					goto oom;
				l->commits = c;
				l->capc = cap;
			}
			l->commits[l->ncommits++] = v;
		} else {
			struct delta_ckpt k;
			if (delta_ckpt_parse(n, &k) && delta_listing_add_ckpt(l, &k) < 0)
				goto oom;
		}
	}
	int rerr = errno;
	closedir(d);
	if (rerr) {
		err_set(e, EX_IOERR, "%s: %s", dir, strerror(rerr));
		delta_listing_free(l);
		return -1;
	}
	if (sort_commits(l) < 0) {
		delta_listing_free(l);
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	if (l->nckpts)
		qsort(l->ckpts, l->nckpts, sizeof *l->ckpts, cmp_ckpt);
	return 0;
oom:
	closedir(d);
	delta_listing_free(l);
	err_set(e, EX_SOFTWARE, "out of memory");
	return -1;
}

/*
 * Whether path, which was just reported missing, is missing.  Through
 * s3fs a server that does not answer reports every name as missing
 * (ENOENT for a table's directory and for the lake's alike), so that
 * alone says nothing; a listing the server answered does.  The nearest
 * directory above path that opens is listed in full: 1 when it does not
 * name the next component down (path is gone); 0 when it names it (the
 * mount still remembers the name as missing from when the server did not
 * answer, for its stat cache's second: path is taken as there); -1 with e
 * set (EX_IOERR) when it cannot be listed.
 */
static int confirm_missing(const char *path, struct err_msg *e)
{
	char p[DELTA_PATH_MAX], cwd[DELTA_PATH_MAX];
	int n = -1;
	if (path[0] == '/')
		n = snprintf(p, sizeof p, "%s", path);
	else if (getcwd(cwd, sizeof cwd))
		n = snprintf(p, sizeof p, "%s/%s", cwd, path);
	if (n < 0 || (size_t)n >= sizeof p) {
		err_set(e, EX_IOERR, "%s: cannot tell whether it is gone (%s)", path,
		        strerror(n < 0 ? errno : ENAMETOOLONG));
		return -1;
	}
	for (;;) {
		size_t len = strlen(p);
		while (len > 1 && p[len - 1] == '/')
			p[--len] = '\0';
		char *slash = strrchr(p, '/');
		if (!slash || len <= 1 || strcmp(slash + 1, "..") == 0) {
			err_set(e, EX_IOERR,
			        "%s: reported missing, and no directory above it lists", path);
			return -1;
		}
		char name[256];
		int skip = strcmp(slash + 1, ".") == 0;
		snprintf(name, sizeof name, "%s", slash + 1);
		if (slash == p)
			slash[1] = '\0'; /* the parent is "/" */
		else
			*slash = '\0';
		if (skip)
			continue;
		DIR *d = opendir(p);
		if (!d) {
			if (errno == ENOENT)
				continue; /* missing too: ask the directory above */
			err_set(e, EX_IOERR, "%s: %s (so whether %s is gone cannot be told)", p,
			        strerror(errno), path);
			return -1;
		}
		struct dirent *de;
		int found = 0;
		errno = 0;
		while (!found && (de = readdir(d)))
			found = strcmp(de->d_name, name) == 0;
		int rerr = found ? 0 : errno;
		closedir(d);
		if (rerr) {
			err_set(
			    e, EX_IOERR,
			    "%s: %s (the bucket did not answer a listing, so whether %s is gone "
			    "cannot be told)",
			    p, strerror(rerr), path);
			return -1;
		}
		return !found;
	}
}

int delta_log_listed(const char *root, struct err_msg *e)
{
	struct delta_listing l;
	if (delta_list(root, &l, e) < 0) {
		if (e->status != EX_DATAERR)
			return -1;
		/* no _delta_log: nothing listed, if a listing the bucket answered agrees */
		char dir[DELTA_PATH_MAX];
		if (delta_pathf(dir, sizeof dir, "%s/_delta_log", root) < 0) {
			err_set(e, EX_IOERR, "%s: %s", root, strerror(ENAMETOOLONG));
			return -1;
		}
		int gone = confirm_missing(dir, e);
		return gone < 0 ? -1 : !gone;
	}
	int listed = l.ncommits > 0 || l.nckpts > 0;
	delta_listing_free(&l);
	return listed;
}

int delta_store_log_present(const struct delta_store *s, int64_t latest, struct err_msg *e)
{
	if (latest < 0 || !s->ops->authoritative)
		return 0;
	char path[8192];
	struct stat st;
	/* The latest commit where it belongs: the table is there (one stat, not a listing). */
	if (delta_commit_path(s->root, latest, path, sizeof path) == 0 && stat(path, &st) == 0)
		return 0;
	int listed = delta_log_listed(s->root, e);
	if (listed < 0)
		return -1;
	if (listed)
		return 0;
	err_set(e, EX_DATAERR,
	        "%s: the commit store still holds versions up to %lld of a table at this "
	        "location, whose log is gone from the bucket (the table was deleted, its rows "
	        "in PostgreSQL were not); `stocketl-db forget-table %s` removes them, then "
	        "create the table again",
	        s->root, (long long)latest, s->root);
	return -1;
}

int delta_listing_has(const struct delta_listing *l, int64_t v)
{
	size_t lo = 0, hi = l->ncommits;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->commits[mid] == v)
			return 1;
		if (l->commits[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

int64_t delta_listing_newest(const struct delta_listing *l)
{
	int64_t v = l->ncommits ? l->commits[l->ncommits - 1] : -1;
	for (size_t i = 0; i < l->nckpts; i++)
		if (l->ckpts[i].found == l->ckpts[i].parts && l->ckpts[i].version > v)
			v = l->ckpts[i].version;
	return v;
}

/*
 * The first version in (from, to] that the listing lacks, or -1 when they
 * are all there.
 */
static int64_t first_missing(const struct delta_listing *l, int64_t from, int64_t to)
{
	for (int64_t v = from + 1; v <= to; v++)
		if (!delta_listing_has(l, v))
			return v;
	return -1;
}

/* The newest complete checkpoint at or below v, or NULL. */
static const struct delta_ckpt *newest_ckpt_at_or_below(const struct delta_listing *l, int64_t v)
{
	for (size_t i = l->nckpts; i-- > 0;)
		if (l->ckpts[i].version <= v && l->ckpts[i].found == l->ckpts[i].parts)
			return &l->ckpts[i];
	return NULL;
}

/*
 * The gap error for a log whose versions up to newest cannot be rebuilt:
 * name the first version missing after the newest checkpoint (or version 0).
 */
static void gap_error(const char *root, const struct delta_listing *l, int64_t newest,
                      struct err_msg *e)
{
	const struct delta_ckpt *c = newest_ckpt_at_or_below(l, newest);
	int64_t from = c ? c->version : -1;
	int64_t missing = first_missing(l, from, newest);
	if (missing == 0)
		err_set(e, EX_DATAERR,
		        "%s: the log has no checkpoint and no version 0 to start from", root);
	else
		err_set(e, EX_DATAERR,
		        "%s: version %lld is missing from the log (the newest is %lld)", root,
		        (long long)missing, (long long)newest);
}

/* Is the log rebuildable from a checkpoint or from version 0 up to newest? */
static int listing_contiguous(const struct delta_listing *l, int64_t newest)
{
	for (size_t i = l->nckpts; i-- > 0;) {
		const struct delta_ckpt *c = &l->ckpts[i];
		if (c->version <= newest && c->found == c->parts &&
		    first_missing(l, c->version, newest) < 0)
			return 1;
	}
	return first_missing(l, -1, newest) < 0;
}

int64_t delta_latest_version(const char *root, struct err_msg *e)
{
	struct delta_listing l;
	if (delta_list(root, &l, e) < 0)
		return -2;
	int64_t v = delta_listing_newest(&l);
	if (v >= 0 && !listing_contiguous(&l, v)) {
		gap_error(root, &l, v, e);
		v = -2;
	}
	delta_listing_free(&l);
	return v;
}

/* Reading files ---------------------------------------------------------------------- */

int delta_read_file(const char *path, struct buf *out, size_t max, struct err_msg *e, int *missing)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (missing)
		*missing = 0;
	if (fd < 0) {
		if (errno == ENOENT && missing) {
			*missing = 1;
			return -1;
		}
		err_set(e, EX_IOERR, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf_reset(out);
	for (;;) {
		if (buf_reserve(out, 65536) < 0) {
			close(fd);
			err_set(e, EX_SOFTWARE, "%s: out of memory", path);
			return -1;
		}
		ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err_set(e, EX_IOERR, "%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		if (out->len > max) {
			close(fd);
			err_set(e, EX_DATAERR, "%s: larger than %zu bytes", path, max);
			return -1;
		}
	}
	out->data[out->len] = '\0';
	close(fd);
	return 0;
}

int delta_commit_read(const char *root, int64_t v, struct buf *out, struct err_msg *e)
{
	char path[DELTA_PATH_MAX];
	int missing;
	if (delta_commit_path(root, v, path, sizeof path) < 0) {
		err_set(e, EX_IOERR, "%s: %s", root, strerror(ENAMETOOLONG));
		return -1;
	}
	if (delta_read_file(path, out, COMMIT_FILE_MAX, e, &missing) < 0)
		return missing ? 1 : -1;
	/*
	 * Every commit holds at least one action.  An empty one (cut to 0
	 * bytes, or created and never written) would replay as a version that
	 * changed nothing: its batch lost for readers, and writers committing
	 * on top of the loss.
	 */
	for (size_t i = 0; i < out->len; i++)
		if (out->data[i] != ' ' && out->data[i] != '\n' && out->data[i] != '\r' &&
		    out->data[i] != '\t')
			return 0;
	err_set(e, EX_DATAERR, "%s: version %lld is empty (a commit holds at least one action)",
	        root, (long long)v);
	return -1;
}

static int64_t delta_mtime_ms(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

/* Does commit v exist now?  (A probe, for versions a listing may have missed.) */
static int commit_exists(const char *root, int64_t v)
{
	char path[DELTA_PATH_MAX];
	struct stat st;
	return delta_commit_path(root, v, path, sizeof path) == 0 && stat(path, &st) == 0;
}

/* The path of checkpoint c (a multi-part one's first part). */
static int ckpt_path(const char *root, const struct delta_ckpt *c, char *out, size_t cap)
{
	char name[DELTA_PATH_MAX];
	if (delta_ckpt_name(c, name, sizeof name) < 0)
		return -1;
	return delta_pathf(out, cap, "%s/_delta_log/%s", root, name);
}

int delta_ckpt_load(struct delta_snapshot *snap, const struct delta_ckpt *c,
                    const struct delta_last_checkpoint *lc, struct err_msg *e)
{
	char name[DELTA_PATH_MAX];
	int uuid = c->kind != DELTA_CKPT_CLASSIC;
	if (uuid && delta_ckpt_name(c, name, sizeof name) < 0) {
		err_set(e, EX_IOERR, "%s: %s", snap->root, strerror(ENAMETOOLONG));
		return -1;
	}
	/* _last_checkpoint's counts are those of the one checkpoint it names. */
	if (lc && (lc->version != c->version ||
	           (uuid ? strcmp(lc->v2_name, name) != 0 : lc->v2_name[0] != '\0')))
		lc = NULL;
	return delta_checkpoint_load(snap, c->version, c->parts, uuid ? name : NULL, lc, e);
}

/* _last_checkpoint -------------------------------------------------------------------- */

int delta_last_checkpoint_parse(const char *text, size_t len, struct delta_last_checkpoint *lc)
{
	struct err_msg e;
	struct json *j = json_parse(text, len, &e);
	int64_t v;
	lc->version = lc->size = lc->add_files = -1;
	lc->parts = 1;
	if (!j || json_type(j) != JSON_OBJECT || json_i64(json_get(j, "version"), &v) < 0 ||
	    v < 0) {
		json_free(j);
		return -1;
	}
	/*
	 * A checksum that does not match makes the pointer unusable (a hint,
	 * which the listing does without), as a pointer that does not parse.
	 */
	const struct json *sum = json_get(j, "checksum");
	if (sum && !delta_json_checksum_ok(text, len, json_str(sum))) {
		json_free(j);
		return -1;
	}
	lc->version = v;
	lc->v2_name[0] = '\0';
	/*
	 * v2Checkpoint.path names a UUID-named checkpoint (Spark writes its
	 * file name; a path is taken by its last component).  Only a name of
	 * the pointer's version is kept: the listing finds the rest.
	 */
	const char *v2 = json_str(json_get(json_get(j, "v2Checkpoint"), "path"));
	if (v2) {
		const char *base = strrchr(v2, '/');
		struct delta_ckpt k;
		base = base ? base + 1 : v2;
		if (strlen(base) < sizeof lc->v2_name && delta_ckpt_parse(base, &k) &&
		    k.kind != DELTA_CKPT_CLASSIC && k.version == v)
			memcpy(lc->v2_name, base, strlen(base) + 1);
	}
	const struct json *jp = json_get(j, "parts");
	int64_t n;
	if (jp && json_type(jp) != JSON_NULL) {
		if (json_i64(jp, &n) < 0 || n < 1 || n > 64) {
			json_free(j);
			return -1;
		}
		lc->parts = n;
	}
	/*
	 * "size" counts the checkpoint's actions in Spark's pointer, but
	 * delta-rs 0.11 wrote its byte size there, with "parts":null and no
	 * "sizeInBytes": only the first kind is a count worth checking.
	 */
	int rs_bytes = jp && json_type(jp) == JSON_NULL && !json_get(j, "sizeInBytes");
	if (!rs_bytes && json_i64(json_get(j, "size"), &n) == 0 && n >= 0)
		lc->size = n;
	if (json_i64(json_get(j, "numOfAddFiles"), &n) == 0 && n >= 0)
		lc->add_files = n;
	json_free(j);
	return 0;
}

/* Read _last_checkpoint: 1 with lc set, 0 when absent or unusable (a hint only). */
static int read_last_checkpoint(const char *root, struct delta_last_checkpoint *lc)
{
	char path[DELTA_PATH_MAX];
	struct buf text = BUF_INIT;
	struct err_msg e;
	int missing, ok = 0;
	if (delta_pathf(path, sizeof path, "%s/_delta_log/_last_checkpoint", root) == 0 &&
	    delta_read_file(path, &text, LAST_CHECKPOINT_FILE_MAX, &e, &missing) == 0)
		ok = delta_last_checkpoint_parse(text.data, text.len, lc) == 0;
	buf_free(&text);
	return ok;
}

/* The gap check in the background ------------------------------------------------------- */

static void *check_main(void *arg)
{
	struct delta_log_check *c = arg;
	c->rc = delta_list(c->root, &c->l, &c->e);
	return NULL;
}

static void check_free(struct delta_log_check *c)
{
	if (!c)
		return;
	if (c->started && !c->joined)
		pthread_join(c->th, NULL);
	delta_listing_free(&c->l);
	free(c->root);
	free(c);
}

/*
 * Start listing the log in a thread (signals blocked there, so that they
 * reach the program's main thread).  NULL when it cannot start: the caller
 * lists in its own thread instead.
 */
static struct delta_log_check *check_start(const char *root)
{
	struct delta_log_check *c = calloc(1, sizeof *c);
	if (!c || !(c->root = strdup(root))) {
		free(c);
		return NULL;
	}
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	c->started = pthread_create(&c->th, NULL, check_main, c) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!c->started) {
		check_free(c);
		return NULL;
	}
	return c;
}

static int check_join(struct delta_log_check *c, struct err_msg *e)
{
	if (!c->joined) {
		pthread_join(c->th, NULL);
		c->joined = 1;
	}
	if (c->rc < 0) {
		*e = c->e;
		return -1;
	}
	return 0;
}

/*
 * Judge a snapshot at version t, made by probing commits after a hinted
 * checkpoint, against a listing: 0 when nothing after t is missing (newer
 * versions are other writers' commits), DELTA_SNAPSHOT_STALE when a
 * version after t is gone but a newer checkpoint makes the latest state
 * rebuildable (the hint was stale), -1 with e set for a gap.
 */
static int check_verdict(const char *root, int64_t t, const struct delta_listing *l,
                         struct err_msg *e)
{
	int64_t newest = delta_listing_newest(l);
	int64_t missing = -1;
	for (int64_t v = t + 1; v <= newest && missing < 0; v++)
		/* A commit made while the listing ran may be absent from it: look again. */
		if (!delta_listing_has(l, v) && !commit_exists(root, v))
			missing = v;
	if (missing < 0)
		return 0;
	if (listing_contiguous(l, newest))
		return DELTA_SNAPSHOT_STALE;
	err_set(e, EX_DATAERR, "%s: version %lld is missing from the log (the newest is %lld)",
	        root, (long long)missing, (long long)newest);
	return -1;
}

void delta_snapshot_wait(struct delta_snapshot *snap)
{
	if (snap->pending && !snap->pending->joined) {
		pthread_join(snap->pending->th, NULL);
		snap->pending->joined = 1;
	}
}

int delta_snapshot_check(struct delta_snapshot *snap, struct err_msg *e)
{
	struct delta_log_check *c = snap->pending;
	if (!c)
		return 0;
	snap->pending = NULL;
	int rc = check_join(c, e);
	if (rc == 0)
		rc = check_verdict(snap->root, snap->version, &c->l, e);
	check_free(c);
	return rc;
}

/* Replay ------------------------------------------------------------------------------ */

/*
 * Rebuild snap at target from the checkpoint at start (-1: none) and the
 * commits after it.  *ckpt_failed tells a checkpoint that could not be
 * used (EX_DATAERR from it) from every other failure.
 */
static int replay_from(struct delta_snapshot *snap, const struct delta_ckpt *c,
                       const struct delta_last_checkpoint *lc, int64_t target, int *ckpt_failed,
                       struct err_msg *e)
{
	struct buf text = BUF_INIT;
	int64_t start = c ? c->version : -1;
	*ckpt_failed = 0;
	delta_snapshot_reset(snap);
	if (c) {
		if (delta_ckpt_load(snap, c, lc, e) < 0) {
			*ckpt_failed = e->status == EX_DATAERR;
			return -1;
		}
		snap->checkpoint_version = start;
	}
	for (int64_t v = start + 1; v <= target; v++) {
		int rc = delta_commit_read(snap->root, v, &text, e);
		if (rc == 1)
			err_set(e, EX_DATAERR, "%s: version %lld disappeared during the read",
			        snap->root, (long long)v);
		if (rc != 0 || delta_snapshot_apply(snap, v, text.data, text.len, e) < 0) {
			buf_free(&text);
			return -1;
		}
	}
	buf_free(&text);
	if (!snap->has_protocol || !snap->has_meta) {
		err_set(e, EX_DATAERR, "%s: the log has no %s action", snap->root,
		        !snap->has_protocol ? "protocol" : "metaData");
		return -1;
	}
	snap->version = target;
	char path[DELTA_PATH_MAX];
	snap->timestamp = -1;
	if (delta_commit_path(snap->root, target, path, sizeof path) == 0)
		snap->timestamp = delta_mtime_ms(path);
	if (snap->timestamp < 0 && c && start == target &&
	    ckpt_path(snap->root, c, path, sizeof path) == 0)
		snap->timestamp = delta_mtime_ms(path);
	return 0;
}

static int load_listed(struct delta_snapshot *snap, const struct delta_listing *l,
                       const struct delta_load_opts *o, const struct delta_last_checkpoint *lc,
                       const struct delta_ckpt *bad, struct err_msg *why, struct err_msg *e);

/*
 * The version committed at or before o->timestamp, and its commit time:
 * what the commit times are depends on the table's latest state (in-commit
 * timestamps), so that is loaded first, without its files, from the same
 * listing.
 */
static int travel_target(const char *root, const struct delta_listing *l,
                         const struct delta_load_opts *o, const struct delta_last_checkpoint *lc,
                         int64_t *target, int64_t *when, struct err_msg *e)
{
	struct delta_load_opts lo = DELTA_LOAD_LATEST;
	struct delta_snapshot latest;
	struct err_msg unused = {{0}, 0};
	lo.no_files = lo.no_tombstones = 1;
	memset(&latest, 0, sizeof latest);
	latest.checkpoint_version = -1;
	latest.no_files = latest.no_tombstones = 1;
	if (!(latest.root = strdup(root))) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	int rc = load_listed(&latest, l, &lo, lc, NULL, &unused, e);
	if (rc == 0)
		rc = delta_travel_version(root, l, &latest, o->timestamp, target, when, e);
	delta_snapshot_free(&latest);
	return rc;
}

/*
 * The version asked for, from a listing: 0 with *target set (and *when, its
 * commit time, for a timestamp; else -1), or -1 with e set.
 */
static int choose_target(const char *root, const struct delta_listing *l,
                         const struct delta_load_opts *o, const struct delta_last_checkpoint *lc,
                         int64_t *target, int64_t *when, struct err_msg *e)
{
	int64_t newest = delta_listing_newest(l);
	*when = -1;
	if (newest < 0) {
		err_set(e, EX_DATAERR, "%s: not a Delta table (no commits in _delta_log)", root);
		return -1;
	}
	*target = newest;
	if (o->version >= 0) {
		if (o->version > newest) {
			err_set(e, EX_DATAERR,
			        "%s: version %lld does not exist (the latest is %lld)", root,
			        (long long)o->version, (long long)newest);
			return -1;
		}
		*target = o->version;
	} else if (o->timestamp >= 0) {
		return travel_target(root, l, o, lc, target, when, e);
	}
	return 0;
}

/* Are a and b (NULL: none) the same checkpoint? */
static int same_ckpt(const struct delta_ckpt *a, const struct delta_ckpt *b)
{
	return a && b && a->version == b->version && a->kind == b->kind && a->parts == b->parts &&
	       strcmp(a->uuid, b->uuid) == 0;
}

/*
 * Replay from a listing: the newest usable checkpoint at or below the
 * target with every commit after it, falling back to older ones and to the
 * JSON commits when a checkpoint cannot be used (another of the same
 * version first).  bad: a checkpoint already found unusable (NULL for
 * none), with why in *why.
 */
static int load_listed(struct delta_snapshot *snap, const struct delta_listing *l,
                       const struct delta_load_opts *o, const struct delta_last_checkpoint *lc,
                       const struct delta_ckpt *bad, struct err_msg *why, struct err_msg *e)
{
	int64_t newest = delta_listing_newest(l), target, when;
	if (choose_target(snap->root, l, o, lc, &target, &when, e) < 0)
		return -1;
	if (!listing_contiguous(l, newest)) {
		gap_error(snap->root, l, newest, e);
		return -1;
	}
	int64_t first_bad = bad ? bad->version : -1, gap = -1;
	struct err_msg bad_why = {{0}, 0};
	if (bad)
		bad_why = *why;
	/* Candidates: checkpoints newest first, then version 0 (start -1). */
	for (size_t i = l->nckpts + 1; i-- > 0;) {
		const struct delta_ckpt *c = i ? &l->ckpts[i - 1] : NULL;
		int64_t start = c ? c->version : -1;
		if (c && (c->version > target || c->found != c->parts || same_ckpt(c, bad)))
			continue;
		int64_t missing = first_missing(l, start, target);
		if (missing >= 0) {
			/* What stops the newest way left after an unusable checkpoint. */
			if (first_bad >= 0 && gap < 0)
				gap = missing;
			continue;
		}
		int failed;
		if (replay_from(snap, c, lc, target, &failed, e) == 0) {
			if (when >= 0)
				snap->timestamp = when;
			if (first_bad >= 0) {
				snap->has_notice = 1;
				err_set(&snap->notice, 0, "%s; the state was rebuilt from %s",
				        bad_why.text,
				        start == first_bad ? "another checkpoint of that version"
				        : start >= 0
				            ? "an older checkpoint and the commits after it"
				            : "the JSON commits");
			}
			return 0;
		}
		if (!failed)
			return -1;
		if (first_bad < 0) {
			first_bad = start;
			bad_why = *e;
		}
	}
	if (first_bad >= 0) {
		/* Every way to the target needed an unusable checkpoint. */
		char reason[ERR_MSG_MAX];
		snprintf(reason, sizeof reason, "%s", bad_why.text);
		if (gap < 0)
			gap = first_missing(l, -1, target);
		if (gap >= 0)
			err_set(e, EX_DATAERR,
			        "%s; the state cannot be rebuilt without it (version %lld is not "
			        "in the log)",
			        reason, (long long)gap);
		else
			err_set(e, EX_DATAERR, "%s; the state cannot be rebuilt without it",
			        reason);
		return -1;
	}
	/* A target below a gap that the newest checkpoint covers (time travel). */
	const struct delta_ckpt *c = newest_ckpt_at_or_below(l, target);
	int64_t missing = first_missing(l, c ? c->version : -1, target);
	/* The oldest version a checkpoint lets one read, when it is above the target. */
	const struct delta_ckpt *oldest = NULL;
	for (size_t i = 0; i < l->nckpts && !oldest; i++)
		if (l->ckpts[i].found == l->ckpts[i].parts)
			oldest = &l->ckpts[i];
	/* (cleanup removes every commit below a checkpoint: none at or below the target is left) */
	int cleaned =
	    oldest && oldest->version > target && (l->ncommits == 0 || l->commits[0] > target);
	if ((missing == 0 || (missing < 0 && !c)) && cleaned)
		err_set(e, EX_DATAERR,
		        "%s: version %lld is no longer in the log (log cleanup); the oldest "
		        "version that can be read is %lld",
		        snap->root, (long long)target, (long long)oldest->version);
	else if (missing == 0 || (missing < 0 && !c))
		err_set(e, EX_DATAERR,
		        "%s: the log has no checkpoint and no version 0 to start from", snap->root);
	else
		err_set(e, EX_DATAERR, "%s: version %lld is missing from the log", snap->root,
		        (long long)missing);
	return -1;
}

/*
 * The fast way to the latest version: _last_checkpoint names a checkpoint
 * whose files are there; the commits after it are found by probing V+1,
 * V+2, ...  Returns 1 with *target set, 0 when the hint cannot be used.
 */
static int probe_from_hint(const char *root, const struct delta_last_checkpoint *lc,
                           struct delta_ckpt *c, int64_t *target)
{
	char path[DELTA_PATH_MAX];
	struct stat st;
	if (lc->v2_name[0]) {
		if (!delta_ckpt_parse(lc->v2_name, c))
			return 0;
	} else {
		memset(c, 0, sizeof *c);
		c->version = lc->version;
		c->parts = c->found = (int)lc->parts;
	}
	for (int i = 1; i <= c->parts; i++) {
		char name[DELTA_PATH_MAX];
		if (c->kind == DELTA_CKPT_CLASSIC && c->parts > 1)
			snprintf(name, sizeof name, "%020lld.checkpoint.%010d.%010d.parquet",
			         (long long)c->version, i, c->parts);
		else if (delta_ckpt_name(c, name, sizeof name) < 0)
			return 0;
		if (delta_pathf(path, sizeof path, "%s/_delta_log/%s", root, name) < 0 ||
		    stat(path, &st) < 0)
			return 0;
		c->have[i - 1] = 1;
	}
	int64_t t = lc->version;
	while (commit_exists(root, t + 1))
		t++;
	*target = t;
	return 1;
}

int delta_snapshot_load(const char *root, const struct delta_load_opts *o,
                        struct delta_snapshot *snap, struct err_msg *e)
{
	struct delta_load_opts latest = DELTA_LOAD_LATEST;
	struct delta_listing own = {0};
	struct delta_last_checkpoint lc;
	struct delta_log_check *check = NULL;
	const struct delta_listing *l = &own;
	struct err_msg why = {{0}, 0};
	struct delta_ckpt hint;
	const struct delta_ckpt *bad = NULL;
	int64_t target;
	if (!o)
		o = &latest;
	memset(snap, 0, sizeof *snap);
	snap->root = strdup(root);
	snap->checkpoint_version = -1;
	snap->no_files = o->no_files;
	snap->no_tombstones = o->no_tombstones;
	if (!snap->root) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	int have_lc = read_last_checkpoint(root, &lc);
	if (o->version < 0 && o->timestamp < 0 && have_lc &&
	    probe_from_hint(root, &lc, &hint, &target) && (check = check_start(root))) {
		int failed;
		if (replay_from(snap, &hint, &lc, target, &failed, e) == 0) {
			if (o->defer_check) {
				snap->pending = check;
				return 0;
			}
			int rc = check_join(check, e);
			if (rc == 0)
				rc = check_verdict(root, target, &check->l, e);
			if (rc == 0) {
				check_free(check);
				return 0;
			}
			if (rc < 0)
				goto fail;
			/* The hint was stale: replay from the listing. */
		} else {
			if (!failed)
				goto fail;
			bad = &hint;
			why = *e;
			if (check_join(check, e) < 0)
				goto fail;
		}
		l = &check->l;
	} else if (delta_list(root, &own, e) < 0) {
		goto fail;
	}
	if (load_listed(snap, l, o, have_lc ? &lc : NULL, bad, &why, e) < 0)
		goto fail;
	check_free(check);
	delta_listing_free(&own);
	return 0;
fail:
	check_free(check);
	delta_listing_free(&own);
	delta_snapshot_free(snap);
	return -1;
}

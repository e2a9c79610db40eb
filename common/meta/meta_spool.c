/*
 * meta_spool: where the spool is, the process's writer, and the listing
 * of spool files with the liveness of their writers.
 *
 * The writer is a process-wide singleton because the contract is one file
 * per process: every fact a program records, from whichever of its
 * modules, lands in the same file.  It is opened on the first fact (a run
 * that records nothing leaves nothing behind), with O_EXCL so that two
 * processes never share a file, and with an exclusive flock(2) that lives
 * as long as the process: the kernel drops it when the process dies, even
 * by SIGKILL, which is how a loader knows that a .part file is finished.
 * A process id alone cannot tell, since ids are reused.
 *
 * Each line goes out with one write(2) on an O_APPEND descriptor.  A short
 * write (a full disk) is cut back with ftruncate(), so the file holds only
 * whole lines, and recording stops: metadata never fails the data path.
 * Nothing is fsync'ed: the facts of the last moments before a machine
 * crash may be lost, but never a program's time.
 */
#include "meta/meta.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "text/jscan.h"
#include "text/ts.h"

/* A writer started this long after a file's creation time is not its writer (clock granularity). */
#define META_START_SLACK_US (2 * TS_US_PER_SEC)

/* Where ----------------------------------------------------------------------------------- */

int meta_spool_dir(const struct config *c, struct buf *out)
{
	const char *spool = getenv(META_SPOOL_ENV);
	buf_reset(out);
	if (spool && *spool)
		return buf_puts(out, spool) < 0 ? -1 : 1;
	const char *from = NULL;
	const char *state = config_value(c, NULL, META_STATE_ENV, "job", "state", "var", &from);
	int in_use = strcmp(from, "default") != 0 && *state;
	if (!*state)
		state = "var";
	if (buf_puts(out, state) < 0 || buf_puts(out, "/spool") < 0)
		return -1;
	return in_use;
}

int meta_spool_named(const char *dir, struct err_msg *e)
{
	struct stat sb;
	if (stat(dir, &sb) < 0) {
		err_set(e, EX_IOERR, "--spool %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		err_set(e, EX_IOERR, "--spool %s: not a directory", dir);
		return -1;
	}
	return 0;
}

size_t meta_format_time(int64_t us, char out[META_TIME_MAX])
{
	int64_t frac = us - ts_floor_div(us, TS_US_PER_SEC) * TS_US_PER_SEC;
	size_t n = ts_format_rfc3339(us - frac, out);
	/* "...SSZ" becomes "...SS.ffffffZ". */
	return (size_t)snprintf(out + n - 1, META_TIME_MAX - (n - 1), ".%06lldZ", (long long)frac) +
	       n - 1;
}

/* Writer ---------------------------------------------------------------------------------- */

static struct {
	int decided, active, failed, at_exit;
	int fd;
	pid_t owner;
	char dir[PATH_MAX];
	char path[PATH_MAX];
	struct buf line;
} meta_w = {.fd = -1};

void meta_open(const struct config *c)
{
	struct buf dir = BUF_INIT;
	if (meta_w.decided)
		return;
	meta_w.decided = 1;
	if (meta_spool_dir(c, &dir) == 1 && dir.len < sizeof meta_w.dir) {
		memcpy(meta_w.dir, dir.data, dir.len + 1);
		meta_w.active = 1;
		if (!meta_w.at_exit && atexit(meta_close) == 0)
			meta_w.at_exit = 1;
	}
	buf_free(&dir);
}

int meta_active(void)
{
	return meta_w.active && !meta_w.failed;
}

const char *meta_file_path(void)
{
	return meta_w.fd >= 0 && meta_w.owner == getpid() ? meta_w.path : NULL;
}

/* Recording stops for the rest of the process, said once. */
static int meta_fail(const char *what, int err)
{
	if (!meta_w.failed)
		err_warn("metadata spool %s: %s: %s; recording stops (the run goes on)", meta_w.dir,
		         what, strerror(err));
	meta_w.failed = 1;
	return -1;
}

/* mkdir -p, each missing directory with mode 0777 less the umask. */
static int meta_mkdirs(const char *dir)
{
	char p[PATH_MAX];
	size_t n = strlen(dir);
	if (n >= sizeof p) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(p, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char keep = p[i];
		p[i] = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST)
			return -1;
		p[i] = keep;
	}
	return 0;
}

/* The program's name as it may stand in a file name: [A-Za-z0-9._-], others become '_'. */
static void meta_name_part(const char *in, char *out, size_t n)
{
	size_t o = 0;
	for (; in && *in && o + 1 < n; in++) {
		char c = *in;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		out[o++] = ok ? c : '_';
	}
	if (o == 0)
		out[o++] = '_';
	out[o] = '\0';
}

/* This process's file, made on its first line (again in a child after fork). */
static int meta_file(void)
{
	pid_t pid = getpid();
	if (meta_w.fd >= 0 && meta_w.owner == pid)
		return 0;
	/* A child's inherited descriptor stays the parent's: the child gets its own file. */
	meta_w.fd = -1;
	if (meta_mkdirs(meta_w.dir) < 0)
		return meta_fail("cannot create the directory", errno);
	char prog[64];
	meta_name_part(err_progname(), prog, sizeof prog);
	int n = snprintf(meta_w.path, sizeof meta_w.path, "%s/%lld-%ld-%s.ndjson.part", meta_w.dir,
	                 (long long)ts_now(), (long)pid, prog);
	if (n < 0 || (size_t)n >= sizeof meta_w.path)
		return meta_fail("the file name is too long", ENAMETOOLONG);
	int fd = open(meta_w.path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0666);
	if (fd < 0)
		return meta_fail("cannot create a file", errno);
	/* Held until the process ends: the loader's sign that the file is still being written. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		close(fd);
		unlink(meta_w.path);
		return meta_fail("cannot lock its file", err);
	}
	meta_w.fd = fd;
	meta_w.owner = pid;
	return 0;
}

void meta_close(void)
{
	if (meta_w.fd < 0 || meta_w.owner != getpid())
		return;
	char done[PATH_MAX];
	size_t n = strlen(meta_w.path) - strlen(".part");
	memcpy(done, meta_w.path, n);
	done[n] = '\0';
	/* Renamed before the lock goes: a loader never finds a finished file still named .part. */
	if (rename(meta_w.path, done) < 0)
		meta_fail("cannot rename its file", errno);
	close(meta_w.fd);
	meta_w.fd = -1;
	buf_free(&meta_w.line);
}

/* Append one line (b holds it, without its newline) with one write(2). */
static int meta_write(struct buf *b)
{
	if (buf_putc(b, '\n') < 0 || buf_failed(b))
		return meta_fail("cannot build a line", ENOMEM);
	if (b->len > META_LINE_MAX)
		return meta_fail("a line is too long", E2BIG);
	if (meta_file() < 0)
		return -1;
	off_t at = lseek(meta_w.fd, 0, SEEK_END);
	ssize_t k;
	do
		k = write(meta_w.fd, b->data, b->len);
	while (k < 0 && errno == EINTR);
	if (k == (ssize_t)b->len)
		return 0;
	int err = k < 0 ? errno : ENOSPC;
	/* Only whole lines stay: a part of one would be a torn line in the middle of the file. */
	if (k > 0 && at >= 0 && ftruncate(meta_w.fd, at) < 0)
		err = errno;
	return meta_fail("cannot write", err);
}

/* Append s as a JSON string, at most META_TEXT_MAX bytes of it, valid UTF-8. */
static void meta_put_text(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	if (n > META_TEXT_MAX) {
		n = META_TEXT_MAX;
		/* Cut before a character, never inside one. */
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	if (jscan_utf8_valid(s, n) == 0) {
		buf_json_str(b, s, n);
		return;
	}
	char *copy = malloc(n + 1);
	if (!copy) {
		b->failed = 1;
		return;
	}
	for (size_t i = 0; i < n; i++)
		copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	buf_json_str(b, copy, n);
	free(copy);
}

static void meta_key(struct buf *b, const char *key)
{
	buf_puts(b, ",\"");
	buf_puts(b, key);
	buf_puts(b, "\":");
}

static void meta_put_str(struct buf *b, const char *key, const char *s)
{
	meta_key(b, key);
	if (s)
		meta_put_text(b, s);
	else
		buf_puts(b, "null");
}

static void meta_put_i64(struct buf *b, const char *key, int64_t v)
{
	meta_key(b, key);
	if (v == META_NULL)
		buf_puts(b, "null");
	else
		buf_i64(b, v);
}

static void meta_put_time(struct buf *b, const char *key, int64_t us)
{
	char t[META_TIME_MAX];
	meta_key(b, key);
	if (us == META_NULL) {
		buf_puts(b, "null");
		return;
	}
	buf_putc(b, '"');
	buf_append(b, t, meta_format_time(us, t));
	buf_putc(b, '"');
}

/* Is s the text of a JSON number? */
static int meta_is_number(const char *s)
{
	struct jscan js;
	struct jscan_token t;
	jscan_init(&js, s, strlen(s));
	return jscan_next(&js, &t) == JS_NUM && jscan_next(&js, &t) == JS_END;
}

/* The line's common head: fact, run_id, program, at.  NULL when nothing is recorded. */
static struct buf *meta_begin(const char *fact)
{
	if (!meta_active())
		return NULL;
	struct buf *b = &meta_w.line;
	buf_reset(b);
	b->max = META_LINE_MAX + 1;
	buf_puts(b, "{\"fact\":\"");
	buf_puts(b, fact);
	buf_putc(b, '"');
	const char *run_id = getenv(META_RUN_ID_ENV);
	meta_put_str(b, "run_id", run_id && *run_id ? run_id : NULL);
	meta_put_str(b, "program", err_progname());
	meta_put_time(b, "at", ts_now());
	return b;
}

static int meta_end(struct buf *b)
{
	buf_putc(b, '}');
	return meta_write(b);
}

int meta_request(const struct meta_request *r)
{
	struct buf *b = meta_begin("request");
	if (!b)
		return meta_w.failed ? -1 : 0;
	meta_put_str(b, "symbol", r->symbol);
	meta_put_str(b, "function", r->function);
	meta_put_str(b, "interval", r->interval);
	meta_put_str(b, "month", r->month);
	meta_put_str(b, "outputsize", r->outputsize);
	meta_put_str(b, "outcome", r->outcome);
	meta_put_i64(b, "attempts", r->attempts);
	meta_put_i64(b, "latency_ms", r->latency_ms);
	meta_put_i64(b, "http_status", r->http_status);
	return meta_end(b);
}

int meta_check(const struct meta_check *c)
{
	struct buf *b = meta_begin("check");
	if (!b)
		return meta_w.failed ? -1 : 0;
	meta_put_str(b, "batch_app", c->batch_app);
	meta_put_i64(b, "batch_id", c->batch_id);
	meta_put_str(b, "check", c->check);
	meta_put_str(b, "metric", c->metric);
	meta_key(b, "value");
	buf_puts(b, c->value && meta_is_number(c->value) ? c->value : "null");
	meta_put_str(b, "outcome", c->outcome);
	return meta_end(b);
}

int meta_commit(const struct meta_commit *c)
{
	struct buf *b = meta_begin("commit");
	if (!b)
		return meta_w.failed ? -1 : 0;
	meta_put_str(b, "table", c->table);
	meta_put_i64(b, "version", c->version);
	meta_put_str(b, "batch_app", c->batch_app);
	meta_put_i64(b, "batch_id", c->batch_id);
	meta_put_i64(b, "rows", c->rows);
	meta_put_i64(b, "files", c->files);
	meta_put_i64(b, "bytes", c->bytes);
	meta_put_str(b, "operation", c->operation);
	return meta_end(b);
}

int meta_watermark(const struct meta_watermark *w)
{
	struct buf *b = meta_begin("watermark");
	if (!b)
		return meta_w.failed ? -1 : 0;
	meta_put_str(b, "symbol", w->symbol);
	meta_put_str(b, "interval", w->interval);
	meta_put_time(b, "newest", w->newest);
	return meta_end(b);
}

/* Listing --------------------------------------------------------------------------------- */

/* Parse "<epoch_us>-<pid>-<program>.ndjson[.part]" into f; 0, or -1 when it is not one. */
static int meta_parse_name(const char *name, struct meta_file *f)
{
	size_t n = strlen(name);
	if (n >= sizeof f->name)
		return -1;
	const char *p = name;
	char *end;
	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	long long us = strtoll(p, &end, 10);
	if (errno || *end != '-' || end[1] < '0' || end[1] > '9')
		return -1;
	long long pid = strtoll(end + 1, &end, 10);
	if (errno || *end != '-' || pid <= 0 || pid > INT_MAX)
		return -1;
	const char *prog = end + 1;
	size_t tail = n - (size_t)(prog - name);
	int part = tail > 12 && strcmp(name + n - 12, ".ndjson.part") == 0;
	size_t suffix = part ? 12 : 7;
	if (tail <= suffix || strcmp(name + n - suffix, part ? ".ndjson.part" : ".ndjson") != 0)
		return -1;
	for (const char *c = prog; c < name + n - suffix; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-'))
			return -1;
	memcpy(f->name, name, n + 1);
	memcpy(f->source, name, n - (part ? 5 : 0));
	f->source[n - (part ? 5 : 0)] = '\0';
	f->part = part;
	f->created_us = us;
	f->pid = (pid_t)pid;
	return 0;
}

static int meta_file_cmp(const void *a, const void *b)
{
	const struct meta_file *x = a, *y = b;
	if (x->created_us != y->created_us)
		return x->created_us < y->created_us ? -1 : 1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return strcmp(x->name, y->name);
}

int meta_spool_list(const char *dir, struct meta_file **files, size_t *n, struct err_msg *e)
{
	*files = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		err_set(e, EX_IOERR, "%s: %s", dir, strerror(errno));
		return -1;
	}
	size_t cap = 0;
	struct dirent *de;
	struct meta_file f;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (meta_parse_name(de->d_name, &f) < 0)
			continue;
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct meta_file *nf = realloc(*files, nc * sizeof *nf);
			if (!nf) {
				closedir(d);
				free(*files);
				*files = NULL;
				*n = 0;
				err_set(e, EX_SOFTWARE, "out of memory");
				return -1;
			}
			*files = nf;
			cap = nc;
		}
		(*files)[(*n)++] = f;
		errno = 0;
	}
	int err = errno;
	closedir(d);
	if (err) {
		free(*files);
		*files = NULL;
		*n = 0;
		err_set(e, EX_IOERR, "%s: %s", dir, strerror(err));
		return -1;
	}
	if (*n)
		qsort(*files, *n, sizeof **files, meta_file_cmp);
	return 0;
}

/*
 * Process pid's state (/proc/PID/stat's 3rd field: R, S, D, Z for a zombie
 * ...) into *state, and when it started, in µs since the epoch, into
 * *start_us; 0 and -1 for what cannot be told (no /proc).  The 22nd field
 * counts clock ticks since boot, and /proc/stat's btime is the boot's time
 * in seconds.
 */
static void meta_pid_stat(pid_t pid, char *state, int64_t *start_us)
{
	char path[64], text[1024];
	*state = 0;
	*start_us = -1;
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t k = read(fd, text, sizeof text - 1);
	close(fd);
	if (k <= 0)
		return;
	text[k] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: count from its last ')'. */
	char *p = strrchr(text, ')');
	if (!p || p[1] != ' ' || !p[2])
		return;
	*state = p[2];
	unsigned long long ticks = 0;
	int field = 2;
	for (p++; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (field != 22 || sscanf(p, "%llu", &ticks) != 1)
		return;
	FILE *st = fopen("/proc/stat", "re");
	long long btime = -1;
	char line[256];
	while (st && fgets(line, sizeof line, st))
		if (sscanf(line, "btime %lld", &btime) == 1)
			break;
	if (st)
		fclose(st);
	long hz = sysconf(_SC_CLK_TCK);
	if (btime < 0 || hz <= 0)
		return;
	*start_us = btime * TS_US_PER_SEC +
	            (int64_t)(ticks * (unsigned long long)TS_US_PER_SEC / (unsigned long long)hz);
}

int meta_part_live(const char *dir, const struct meta_file *f)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, f->name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int locked = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	if (locked)
		return 1;
	if (kill(f->pid, 0) < 0 && errno == ESRCH)
		return 0;
	char state;
	int64_t started;
	meta_pid_stat(f->pid, &state, &started);
	/*
	 * A zombie (exited, its parent has not waited for it yet) still answers
	 * kill(2), but it writes nothing more: its file is finished.
	 */
	if (state == 'Z' || state == 'X' || state == 'x')
		return 0;
	/* Unknown start (no /proc): the process may be the writer, and a live file is never taken. */
	if (started < 0)
		return 1;
	return started <= f->created_us + META_START_SLACK_US;
}

/*
 * meta_read: spool lines back into facts, for the loader and the history
 * report.
 *
 * A line is checked completely before it counts (valid JSON, one object,
 * no repeated member, each member the contract names of the right type,
 * the required ones present), so that whatever the loader sends to
 * PostgreSQL casts without error: a bad line is reported with its file and
 * line and never stops the lines around it.  Members the contract leaves
 * out are skipped, so that a newer writer does not stop an older loader;
 * a member that may be null may also be absent.
 *
 * Files are read in blocks, each line bounded by META_LINE_MAX: a file
 * without newlines cannot make the reader hold more than that.
 */
#include "meta/meta.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "text/jscan.h"
#include "text/ts.h"

static const char *const meta_kinds[META_KIND_COUNT] = {
    [META_RUN] = "run",     [META_STAGE] = "stage",   [META_REQUEST] = "request",
    [META_CHECK] = "check", [META_COMMIT] = "commit", [META_WATERMARK] = "watermark",
};

const char *meta_kind_name(int kind)
{
	return kind >= 0 && kind < META_KIND_COUNT ? meta_kinds[kind] : "unknown";
}

/* What a member is. */
enum { M_STR, M_INT, M_TIME, M_NUM };
/* Which kinds have it, and which require it (not null). */
#define K(k) (1u << (k))
#define KALL                                                                                       \
	(K(META_RUN) | K(META_STAGE) | K(META_REQUEST) | K(META_CHECK) | K(META_COMMIT) |          \
	 K(META_WATERMARK))

struct meta_member {
	const char *key;
	int type;
	unsigned kinds, required;
	size_t off; /* in struct meta_fact */
};

#define S(f) offsetof(struct meta_fact, f)

static const struct meta_member meta_members[] = {
    {"run_id", M_STR, KALL, 0, S(run_id)},
    {"program", M_STR, KALL, KALL, S(program)},
    {"at", M_TIME, KALL, KALL, S(at)},
    {"job", M_STR, K(META_RUN) | K(META_STAGE), K(META_RUN) | K(META_STAGE), S(job)},
    {"attempt", M_INT, K(META_RUN) | K(META_STAGE), K(META_RUN), S(attempt)},
    {"started_at", M_TIME, K(META_RUN) | K(META_STAGE), K(META_RUN), S(started_at)},
    {"ended_at", M_TIME, K(META_RUN) | K(META_STAGE), 0, S(ended_at)},
    {"status", M_INT, K(META_RUN) | K(META_STAGE), 0, S(status)},
    {"failed_stage", M_STR, K(META_RUN), 0, S(failed_stage)},
    {"reason", M_STR, K(META_RUN), 0, S(reason)},
    {"host", M_STR, K(META_RUN), 0, S(host)},
    {"stage", M_STR, K(META_STAGE), K(META_STAGE), S(stage)},
    {"records_in", M_INT, K(META_STAGE), 0, S(records_in)},
    {"records_out", M_INT, K(META_STAGE), 0, S(records_out)},
    {"rejected", M_INT, K(META_STAGE), 0, S(rejected)},
    {"symbol", M_STR, K(META_REQUEST) | K(META_WATERMARK), K(META_REQUEST) | K(META_WATERMARK),
     S(symbol)},
    {"function", M_STR, K(META_REQUEST), K(META_REQUEST), S(function)},
    {"interval", M_STR, K(META_REQUEST) | K(META_WATERMARK), K(META_WATERMARK), S(interval)},
    {"month", M_STR, K(META_REQUEST), 0, S(month)},
    {"outputsize", M_STR, K(META_REQUEST), 0, S(outputsize)},
    {"outcome", M_STR, K(META_REQUEST) | K(META_CHECK), K(META_REQUEST) | K(META_CHECK),
     S(outcome)},
    {"attempts", M_INT, K(META_REQUEST), K(META_REQUEST), S(attempts)},
    {"latency_ms", M_INT, K(META_REQUEST), 0, S(latency_ms)},
    {"http_status", M_INT, K(META_REQUEST), 0, S(http_status)},
    {"batch_app", M_STR, K(META_CHECK) | K(META_COMMIT), 0, S(batch_app)},
    {"batch_id", M_INT, K(META_CHECK) | K(META_COMMIT), 0, S(batch_id)},
    {"check", M_STR, K(META_CHECK), K(META_CHECK), S(check)},
    {"metric", M_STR, K(META_CHECK), K(META_CHECK), S(metric)},
    {"value", M_NUM, K(META_CHECK), 0, S(value)},
    {"table", M_STR, K(META_COMMIT), K(META_COMMIT), S(table)},
    {"version", M_INT, K(META_COMMIT), K(META_COMMIT), S(version)},
    {"rows", M_INT, K(META_COMMIT), 0, S(rows)},
    {"files", M_INT, K(META_COMMIT), 0, S(files)},
    {"bytes", M_INT, K(META_COMMIT), 0, S(bytes)},
    {"operation", M_STR, K(META_COMMIT), K(META_COMMIT), S(operation)},
    {"newest", M_TIME, K(META_WATERMARK), K(META_WATERMARK), S(newest)},
};

#define META_MEMBERS (sizeof meta_members / sizeof meta_members[0])

/* The longest number text kept (a check's value). */
#define META_NUM_MAX 64

static void meta_fact_clear(struct meta_fact *f)
{
	memset(f, 0, sizeof *f);
	f->kind = -1;
	for (size_t i = 0; i < META_MEMBERS; i++)
		if (meta_members[i].type == M_INT || meta_members[i].type == M_TIME)
			*(int64_t *)(void *)((char *)f + meta_members[i].off) = META_NULL;
}

/* A JSON integer's text into *v: no fraction, no exponent, within int64.  0 or -1. */
static int meta_int(const char *s, size_t n, int64_t *v)
{
	int neg = n && s[0] == '-';
	size_t i = (size_t)neg;
	if (i == n)
		return -1;
	uint64_t acc = 0;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (acc > (UINT64_MAX - d) / 10)
			return -1;
		acc = acc * 10 + d;
	}
	if (neg ? acc > (uint64_t)INT64_MAX : acc >= (uint64_t)INT64_MAX)
		return -1;
	*v = neg ? -(int64_t)acc : (int64_t)acc;
	return 0;
}

int meta_parse(const char *line, size_t len, struct meta_fact *f, struct buf *arena,
               struct err_msg *e)
{
	struct jscan js;
	struct jscan_token t, v;
	/* Strings are first kept as offsets into the arena, which may move as it grows. */
	size_t str_at[META_MEMBERS];
	uint64_t seen[2] = {0, 0};
	buf_reset(arena);
	meta_fact_clear(f);
	for (size_t i = 0; i < META_MEMBERS; i++)
		str_at[i] = SIZE_MAX;
	int kind = -1;
	jscan_init(&js, line, len);
	if (jscan_next(&js, &t) != JS_OBJ) {
		err_set(e, EX_DATAERR, "not a JSON object%s%s", js.error ? ": " : "",
		        js.error ? js.error : "");
		return -1;
	}
	struct buf key = BUF_INIT;
	int rc = -1;
	for (;;) {
		int k = jscan_next(&js, &t);
		if (k == JS_OBJ_END)
			break;
		if (k != JS_KEY) {
			err_set(e, EX_DATAERR, "not valid JSON: %s", js.error ? js.error : "?");
			goto out;
		}
		buf_reset(&key);
		if (jscan_unescape(t.s, t.n, &key) < 0 || buf_failed(&key)) {
			err_set(e, EX_DATAERR, "a member's name is not valid");
			goto out;
		}
		int vt = jscan_next(&js, &v);
		if (vt == JS_ERR) {
			err_set(e, EX_DATAERR, "not valid JSON: %s", js.error ? js.error : "?");
			goto out;
		}
		const char *raw;
		size_t rawlen;
		if ((vt == JS_OBJ || vt == JS_ARR) && jscan_skip(&js, &v, &raw, &rawlen) < 0) {
			err_set(e, EX_DATAERR, "not valid JSON: %s", js.error ? js.error : "?");
			goto out;
		}
		const char *name = key.data ? key.data : "";
		if (strcmp(name, "fact") == 0) {
			if (kind >= 0) {
				err_set(e, EX_DATAERR, "the member \"fact\" is repeated");
				goto out;
			}
			if (vt != JS_STR) {
				err_set(e, EX_DATAERR, "\"fact\" is not a string");
				goto out;
			}
			for (int i = 0; i < META_KIND_COUNT && kind < 0; i++)
				if (strlen(meta_kinds[i]) == v.n &&
				    memcmp(meta_kinds[i], v.s, v.n) == 0 && !v.escaped)
					kind = i;
			if (kind < 0) {
				err_set(e, EX_DATAERR, "unknown fact \"%.*s\"",
				        (int)(v.n > 40 ? 40 : v.n), v.s);
				goto out;
			}
			continue;
		}
		size_t m = 0;
		while (m < META_MEMBERS && strcmp(meta_members[m].key, name) != 0)
			m++;
		if (m == META_MEMBERS)
			continue; /* a member of a newer writer */
		if (seen[m / 64] & (1ull << (m % 64))) {
			err_set(e, EX_DATAERR, "the member \"%s\" is repeated", name);
			goto out;
		}
		seen[m / 64] |= 1ull << (m % 64);
		const struct meta_member *mm = &meta_members[m];
		if (vt == JS_NULL)
			continue;
		void *slot = (char *)f + mm->off;
		switch (mm->type) {
		case M_STR:
			if (vt != JS_STR)
				goto wrong;
			str_at[m] = arena->len;
			if (jscan_unescape(v.s, v.n, arena) < 0 || buf_failed(arena) ||
			    memchr(arena->data + str_at[m], 0, arena->len - str_at[m])) {
				err_set(e, EX_DATAERR, "\"%s\": not a valid string", name);
				goto out;
			}
			buf_putc(arena, '\0');
			break;
		case M_INT:
			if (vt != JS_NUM || meta_int(v.s, v.n, slot) < 0)
				goto wrong;
			break;
		case M_TIME:
			if (vt != JS_STR || v.escaped || ts_parse_rfc3339(v.s, v.n, slot) < 0)
				goto wrong;
			break;
		case M_NUM:
			if (vt != JS_NUM || v.n > META_NUM_MAX)
				goto wrong;
			str_at[m] = arena->len;
			buf_append(arena, v.s, v.n);
			buf_putc(arena, '\0');
			break;
		}
		continue;
	wrong:
		err_set(e, EX_DATAERR, "\"%s\": expected %s", name,
		        mm->type == M_STR    ? "a string"
		        : mm->type == M_INT  ? "an integer"
		        : mm->type == M_TIME ? "an RFC 3339 time"
		                             : "a number");
		goto out;
	}
	if (jscan_next(&js, &t) != JS_END) {
		err_set(e, EX_DATAERR, "text after the object");
		goto out;
	}
	if (kind < 0) {
		err_set(e, EX_DATAERR, "no member \"fact\"");
		goto out;
	}
	if (buf_failed(arena)) {
		err_set(e, EX_SOFTWARE, "out of memory");
		goto out;
	}
	f->kind = kind;
	for (size_t m = 0; m < META_MEMBERS; m++) {
		const struct meta_member *mm = &meta_members[m];
		void *slot = (char *)f + mm->off;
		if (str_at[m] != SIZE_MAX)
			*(const char **)slot = arena->data + str_at[m];
		/* A member of another kind is not this fact's: it reads as absent. */
		if (!(mm->kinds & K(kind))) {
			if (mm->type == M_STR || mm->type == M_NUM)
				*(const char **)slot = NULL;
			else
				*(int64_t *)slot = META_NULL;
			continue;
		}
		int present = mm->type == M_STR || mm->type == M_NUM
		                  ? *(const char **)slot != NULL
		                  : *(const int64_t *)slot != META_NULL;
		if ((mm->required & K(kind)) && !present) {
			err_set(e, EX_DATAERR, "a %s fact needs \"%s\"", meta_kinds[kind], mm->key);
			goto out;
		}
	}
	if (kind == META_CHECK && strcmp(f->outcome, "pass") != 0 &&
	    strcmp(f->outcome, "warn") != 0 && strcmp(f->outcome, "fail") != 0 &&
	    strcmp(f->outcome, "skipped") != 0) {
		err_set(e, EX_DATAERR, "\"outcome\": expected pass, warn, fail or skipped");
		goto out;
	}
	rc = 0;
out:
	buf_free(&key);
	if (rc < 0)
		meta_fact_clear(f);
	return rc;
}

/* Reading files ------------------------------------------------------------------------- */

#define META_BLOCK (2 * META_LINE_MAX)

struct meta_reader {
	int fd;
	char *path;
	char *block;
	size_t start, end; /* the unread bytes: block[start..end) */
	int eof;
	int skipping; /* inside a line longer than META_LINE_MAX */
	uint64_t line;
	struct buf arena;
};

struct meta_reader *meta_reader_open(const char *path, struct err_msg *e)
{
	struct meta_reader *r = calloc(1, sizeof *r);
	if (!r || !(r->block = malloc(META_BLOCK)) || !(r->path = strdup(path))) {
		if (r)
			free(r->block);
		free(r);
		err_set(e, EX_SOFTWARE, "out of memory");
		return NULL;
	}
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		int err = errno;
		err_set(e, EX_IOERR, "%s: %s", path, strerror(err));
		meta_reader_close(r);
		errno = err;
		return NULL;
	}
	return r;
}

void meta_reader_close(struct meta_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->block);
	free(r->path);
	buf_free(&r->arena);
	free(r);
}

/* Read more into the block; 0, or -1 with e. */
static int meta_fill(struct meta_reader *r, struct err_msg *e)
{
	if (r->start > 0) {
		memmove(r->block, r->block + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	while (r->end < META_BLOCK) {
		ssize_t k = read(r->fd, r->block + r->end, META_BLOCK - r->end);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			err_set(e, EX_IOERR, "%s: %s", r->path, strerror(errno));
			return -1;
		}
		if (k == 0) {
			r->eof = 1;
			break;
		}
		r->end += (size_t)k;
		break;
	}
	return 0;
}

int meta_reader_next(struct meta_reader *r, struct meta_fact *f, uint64_t *line, struct err_msg *e)
{
	for (;;) {
		char *nl = memchr(r->block + r->start, '\n', r->end - r->start);
		if (!nl) {
			if (r->end - r->start > META_LINE_MAX) {
				/* Too long to be a fact: drop what is here and look for its end. */
				if (!r->skipping) {
					r->skipping = 1;
					r->line++;
					*line = r->line;
					r->start = r->end;
					err_set(e, EX_DATAERR, "%s:%llu: longer than %d bytes",
					        r->path, (unsigned long long)r->line,
					        META_LINE_MAX);
					return META_BAD;
				}
				r->start = r->end;
			}
			if (r->eof) {
				if (r->end > r->start || r->skipping) {
					int was_skipping = r->skipping;
					r->start = r->end;
					r->skipping = 0;
					if (!was_skipping) {
						*line = ++r->line;
						return META_TORN;
					}
				}
				return META_EOF;
			}
			if (meta_fill(r, e) < 0)
				return META_IOERR;
			continue;
		}
		size_t n = (size_t)(nl - (r->block + r->start));
		const char *text = r->block + r->start;
		r->start += n + 1;
		if (r->skipping) {
			r->skipping = 0;
			continue;
		}
		*line = ++r->line;
		if (n + 1 > META_LINE_MAX) {
			err_set(e, EX_DATAERR, "%s:%llu: longer than %d bytes", r->path,
			        (unsigned long long)r->line, META_LINE_MAX);
			return META_BAD;
		}
		struct err_msg why;
		if (meta_parse(text, n, f, &r->arena, &why) < 0) {
			err_set(e, why.status == EX_SOFTWARE ? EX_SOFTWARE : EX_DATAERR,
			        "%s:%llu: %s", r->path, (unsigned long long)r->line, why.text);
			return META_BAD;
		}
		return META_LINE;
	}
}

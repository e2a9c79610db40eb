/*
 * report: the history reports, computed from a store of facts and written
 * as a table (for a terminal) or as one JSON object (for programs).
 *
 * Runs are folded here: the runner writes a line when an attempt starts
 * and one when it ends, and an attempt is their union (the end line gives
 * the status, the failed stage and the reason).  An attempt is the job's
 * of its first line: a job run inside another (bronze in stock-etl) shares
 * the outer run's id and attempt and writes lines of its own, whose end is
 * not the outer attempt's.  An end without a status is a later run's
 * finding that the attempt's runner died (pipelines/lib/runner.sh,
 * runner_lost): the attempt is "lost", unless the runner's own end is
 * there too.  An attempt without an end is "running", or "lost" when its
 * runner has gone (lock.c).  Stage and commit lines belong to their run's
 * attempt: the one they name (a stage line may carry "attempt"), else the
 * latest attempt that started before they did.  Everything is sorted with
 * a total order, so the same facts give the same bytes from either source.
 */
#include "history.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "text/decimal.h"
#include "text/ts.h"

/* Text helpers ---------------------------------------------------------------------------- */

static const char *nz(const char *s)
{
	return s ? s : "";
}

static int cmp_str(const char *a, const char *b)
{
	return strcmp(nz(a), nz(b));
}

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

/* Seconds of a duration in µs as an exact decimal ("1.5"). */
static void put_seconds(struct buf *b, int64_t us)
{
	char t[DEC_TEXT_MAX];
	buf_append(b, t, dec_format((dec128)us, 6, t));
}

static void j_key(struct buf *b, const char *key, int *first)
{
	if (!*first)
		buf_putc(b, ',');
	*first = 0;
	buf_json_str(b, key, strlen(key));
	buf_putc(b, ':');
}

static void j_str(struct buf *b, const char *key, const char *s, int *first)
{
	j_key(b, key, first);
	if (s)
		buf_json_str(b, s, strlen(s));
	else
		buf_puts(b, "null");
}

static void j_int(struct buf *b, const char *key, int64_t v, int *first)
{
	j_key(b, key, first);
	if (v == META_NULL)
		buf_puts(b, "null");
	else
		buf_i64(b, v);
}

static void j_time(struct buf *b, const char *key, int64_t us, int *first)
{
	char t[META_TIME_MAX];
	j_key(b, key, first);
	if (us == META_NULL) {
		buf_puts(b, "null");
		return;
	}
	buf_putc(b, '"');
	buf_append(b, t, meta_format_time(us, t));
	buf_putc(b, '"');
}

static void j_secs(struct buf *b, const char *key, int64_t us, int *first)
{
	j_key(b, key, first);
	if (us == META_NULL)
		buf_puts(b, "null");
	else
		put_seconds(b, us);
}

/* For tables: "2026-12-06T10:15:00Z" (whole seconds), or "-". */
static const char *t_time(int64_t us, char out[META_TIME_MAX])
{
	if (us == META_NULL)
		return "-";
	ts_format_rfc3339(ts_floor_div(us, TS_US_PER_SEC) * TS_US_PER_SEC, out);
	return out;
}

/* For tables: "0.25s", "42.0s", "3m05s", "2h07m", "3d04h", or "-". */
static const char *t_dur(int64_t us, char out[32])
{
	if (us == META_NULL)
		return "-";
	const char *sign = us < 0 ? "-" : "";
	int64_t a = us < 0 ? -us : us, s = a / TS_US_PER_SEC;
	if (a < 60 * TS_US_PER_SEC)
		snprintf(out, 32, "%s%.*fs", sign, a < TS_US_PER_SEC ? 2 : 1, (double)a / 1e6);
	else if (s < 3600)
		snprintf(out, 32, "%s%lldm%02llds", sign, (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(out, 32, "%s%lldh%02lldm", sign, (long long)(s / 3600),
		         (long long)(s / 60 % 60));
	else
		snprintf(out, 32, "%s%lldd%02lldh", sign, (long long)(s / 86400),
		         (long long)(s / 3600 % 24));
	return out;
}

static const char *t_int(int64_t v, char out[32])
{
	if (v == META_NULL)
		return "-";
	snprintf(out, 32, "%lld", (long long)v);
	return out;
}

static int64_t span(int64_t from, int64_t to)
{
	return from == META_NULL || to == META_NULL ? META_NULL : to - from;
}

/* A table: rows of cells, printed with each column as wide as its widest cell. */
#define TABLE_COLS 12

struct table {
	char **cells; /* rows * ncols */
	size_t rows, cap;
	int ncols;
	int failed;
};

static void table_row(struct table *t, const char *const *cells)
{
	if (t->rows == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 32;
		char **n = realloc(t->cells, nc * (size_t)t->ncols * sizeof *n);
		if (!n) {
			t->failed = 1;
			return;
		}
		t->cells = n;
		t->cap = nc;
	}
	for (int c = 0; c < t->ncols; c++) {
		char *copy = strdup(cells[c] ? cells[c] : "");
		if (!copy)
			t->failed = 1;
		t->cells[t->rows * (size_t)t->ncols + (size_t)c] = copy;
	}
	t->rows++;
}

static void table_print(struct table *t, struct buf *b)
{
	size_t width[TABLE_COLS] = {0};
	for (size_t r = 0; r < t->rows; r++)
		for (int c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
			size_t n = s ? strlen(s) : 0;
			if (n > width[c])
				width[c] = n;
		}
	for (size_t r = 0; r < t->rows; r++) {
		struct buf line = BUF_INIT;
		for (int c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
			buf_printf(&line, "%s%-*s", c ? "  " : "",
			           c == t->ncols - 1 ? 0 : (int)width[c], nz(s));
		}
		while (line.len && line.data[line.len - 1] == ' ')
			line.data[--line.len] = '\0';
		buf_append(b, line.data ? line.data : "", line.len);
		buf_putc(b, '\n');
		t->failed |= buf_failed(&line);
		buf_free(&line);
	}
	for (size_t i = 0; i < t->rows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->rows = t->cap = 0;
}

/* Runs ------------------------------------------------------------------------------------ */

enum state { S_RUNNING, S_ENDED, S_LOST };

static const char *const state_names[] = {"running", "ended", "lost"};

struct attempt {
	const char *run_id, *job, *host, *failed_stage, *reason;
	int64_t attempt, started, ended, status, rows;
	int state;
	size_t first, n; /* its stages: members[first .. first + n) */
};

struct runs {
	struct attempt *a;
	size_t n;
	size_t *members; /* stage facts' indices, grouped by attempt */
};

static const struct store *sort_store;

static int cmp_run_facts(const void *x, const void *y)
{
	const struct meta_fact *a = &sort_store->v[*(const size_t *)x];
	const struct meta_fact *b = &sort_store->v[*(const size_t *)y];
	int c = cmp_str(a->run_id, b->run_id);
	if (!c)
		c = cmp_i64(a->attempt, b->attempt);
	if (!c)
		c = cmp_i64(a->at, b->at);
	return c;
}

static int cmp_attempt_key(const struct attempt *a, const char *run_id, int64_t attempt)
{
	int c = cmp_str(a->run_id, run_id);
	return c ? c : cmp_i64(a->attempt, attempt);
}

/* The attempt a stage or commit fact belongs to, or -1 when its run has none. */
static long attempt_of(const struct runs *r, const struct meta_fact *f)
{
	/* Attempts are sorted by (run_id, attempt): find the run's first. */
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cmp_str(r->a[mid].run_id, f->run_id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == r->n || cmp_str(r->a[lo].run_id, f->run_id) != 0)
		return -1;
	long pick = (long)lo;
	int64_t when = f->started_at != META_NULL ? f->started_at : f->at;
	for (size_t i = lo; i < r->n && cmp_str(r->a[i].run_id, f->run_id) == 0; i++) {
		if (f->attempt != META_NULL) {
			if (r->a[i].attempt == f->attempt)
				return (long)i;
			continue;
		}
		if (r->a[i].started <= when)
			pick = (long)i;
	}
	return pick;
}

struct member {
	size_t attempt, fact;
};

static int cmp_members(const void *x, const void *y)
{
	const struct member *a = x, *b = y;
	const struct meta_fact *fa = &sort_store->v[a->fact], *fb = &sort_store->v[b->fact];
	int c = cmp_i64((int64_t)a->attempt, (int64_t)b->attempt);
	if (!c)
		c = cmp_i64(fa->started_at, fb->started_at);
	if (!c)
		c = cmp_i64(fa->at, fb->at);
	if (!c)
		c = cmp_str(fa->stage, fb->stage);
	return c;
}

/* Fold the run, stage and commit facts of s into attempts.  0 or -1 (memory). */
static int runs_fold(const struct store *s, struct runs *r)
{
	size_t *idx = malloc((s->n + 1) * sizeof *idx);
	struct member *m = malloc((s->n + 1) * sizeof *m);
	size_t ni = 0, nm = 0;
	memset(r, 0, sizeof *r);
	r->a = malloc((s->n + 1) * sizeof *r->a);
	r->members = malloc((s->n + 1) * sizeof *r->members);
	if (!idx || !m || !r->a || !r->members) {
		free(idx);
		free(m);
		return -1;
	}
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].kind == META_RUN)
			idx[ni++] = i;
	sort_store = s;
	qsort(idx, ni, sizeof *idx, cmp_run_facts);
	for (size_t i = 0; i < ni; i++) {
		const struct meta_fact *f = &s->v[idx[i]];
		struct attempt *a = &r->a[r->n];
		if (r->n == 0 || cmp_attempt_key(&r->a[r->n - 1], f->run_id, f->attempt) != 0) {
			memset(a, 0, sizeof *a);
			a->run_id = f->run_id;
			a->attempt = f->attempt;
			a->started = a->ended = a->status = a->rows = META_NULL;
			a->state = S_RUNNING;
			r->n++;
		} else {
			a = &r->a[r->n - 1];
		}
		if (!a->job)
			a->job = f->job;
		if (!a->host)
			a->host = f->host;
		if (a->started == META_NULL ||
		    (f->started_at != META_NULL && f->started_at < a->started))
			a->started = f->started_at;
		/*
		 * The line that records the end: of the attempt's own job, the
		 * runner's own before a finding that it was lost, the latest
		 * of those.
		 */
		int own = !f->job || !a->job || strcmp(f->job, a->job) == 0;
		int lost = f->status == META_NULL;
		if (f->ended_at != META_NULL && own && !(lost && a->state == S_ENDED)) {
			a->ended = f->ended_at;
			a->status = f->status;
			a->failed_stage = f->failed_stage;
			a->reason = f->reason;
			a->state = lost ? S_LOST : S_ENDED;
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct meta_fact *f = &s->v[i];
		if (f->kind != META_STAGE && f->kind != META_COMMIT)
			continue;
		long at = attempt_of(r, f);
		if (at < 0)
			continue;
		if (f->kind == META_COMMIT) {
			struct attempt *a = &r->a[at];
			if (f->rows != META_NULL)
				a->rows = (a->rows == META_NULL ? 0 : a->rows) + f->rows;
			continue;
		}
		m[nm].attempt = (size_t)at;
		m[nm++].fact = i;
	}
	qsort(m, nm, sizeof *m, cmp_members);
	for (size_t i = 0; i < nm; i++) {
		struct attempt *a = &r->a[m[i].attempt];
		if (a->n == 0)
			a->first = i;
		a->n++;
		r->members[i] = m[i].fact;
	}
	/* An attempt that ended without a commit committed no row: 0, not unknown. */
	for (size_t i = 0; i < r->n; i++)
		if (r->a[i].state == S_ENDED && r->a[i].rows == META_NULL)
			r->a[i].rows = 0;
	free(idx);
	free(m);
	return 0;
}

/*
 * The attempts without an end whose runner has gone are lost, with the
 * reason that says how it was told.  After the facts were read (lock.c).
 */
static void runs_judge(struct runs *r, const struct origin *o)
{
	for (size_t i = 0; i < r->n; i++) {
		struct attempt *a = &r->a[i];
		if (a->state == S_RUNNING && runner_gone(o->locks, a->job, a->run_id, a->host)) {
			a->state = S_LOST;
			a->reason = "the runner has gone: the job's lock is free and still names "
			            "the run";
		}
	}
}

static void runs_free(struct runs *r)
{
	free(r->a);
	free(r->members);
}

/* Newest first; ties by run id and attempt, newest first too. */
static int cmp_newest(const void *x, const void *y)
{
	const struct attempt *a = x, *b = y;
	int c = cmp_i64(b->started, a->started);
	if (!c)
		c = cmp_str(b->run_id, a->run_id);
	if (!c)
		c = cmp_i64(b->attempt, a->attempt);
	return c;
}

static int cmp_oldest(const void *x, const void *y)
{
	return cmp_newest(y, x);
}

static void json_attempt(struct buf *b, const struct store *s, const struct runs *r,
                         const struct attempt *a)
{
	int first = 1;
	buf_putc(b, '{');
	j_str(b, "run_id", a->run_id, &first);
	j_int(b, "attempt", a->attempt, &first);
	j_str(b, "job", a->job, &first);
	j_str(b, "host", a->host, &first);
	j_time(b, "started_at", a->started, &first);
	j_time(b, "ended_at", a->ended, &first);
	j_secs(b, "duration_s", span(a->started, a->ended), &first);
	j_int(b, "status", a->status, &first);
	j_str(b, "state", state_names[a->state], &first);
	j_str(b, "failed_stage", a->failed_stage, &first);
	j_str(b, "reason", a->reason, &first);
	j_int(b, "rows_committed", a->rows, &first);
	j_key(b, "stages", &first);
	buf_putc(b, '[');
	for (size_t i = 0; i < a->n; i++) {
		const struct meta_fact *f = &s->v[r->members[a->first + i]];
		int ff = 1;
		buf_puts(b, i ? ",{" : "{");
		j_str(b, "stage", f->stage, &ff);
		/* a job run as a stage of another (bronze in stock-etl) names its own stages */
		j_str(b, "job", f->job, &ff);
		j_int(b, "status", f->status, &ff);
		j_time(b, "started_at", f->started_at, &ff);
		j_time(b, "ended_at", f->ended_at, &ff);
		j_secs(b, "duration_s", span(f->started_at, f->ended_at), &ff);
		j_int(b, "records_in", f->records_in, &ff);
		j_int(b, "records_out", f->records_out, &ff);
		j_int(b, "rejected", f->rejected, &ff);
		buf_putc(b, '}');
	}
	buf_puts(b, "]}");
}

static void table_attempt(struct table *t, const struct store *s, const struct runs *r,
                          const struct attempt *a)
{
	char att[32], st[32], dur[32], rows[32], when[META_TIME_MAX];
	const char *row[] = {nz(a->run_id),
	                     t_int(a->attempt, att),
	                     nz(a->job),
	                     t_time(a->started, when),
	                     t_dur(span(a->started, a->ended), dur),
	                     a->state == S_ENDED ? t_int(a->status, st) : state_names[a->state],
	                     a->failed_stage ? a->failed_stage : "-",
	                     t_int(a->rows, rows)};
	table_row(t, row);
	for (size_t i = 0; i < a->n; i++) {
		const struct meta_fact *f = &s->v[r->members[a->first + i]];
		char name[300], in[32], out[32], rej[32], counts[128];
		if (f->job && a->job && strcmp(f->job, a->job) != 0)
			snprintf(name, sizeof name, "  %s/%s", f->job, nz(f->stage));
		else
			snprintf(name, sizeof name, "  %s", nz(f->stage));
		snprintf(counts, sizeof counts, "%s in, %s out, %s rejected",
		         t_int(f->records_in, in), t_int(f->records_out, out),
		         t_int(f->rejected, rej));
		const char *srow[] = {name,
		                      "",
		                      "",
		                      t_time(f->started_at, when),
		                      t_dur(span(f->started_at, f->ended_at), dur),
		                      t_int(f->status, st),
		                      "",
		                      counts};
		table_row(t, srow);
	}
}

static const char *const run_header[] = {"RUN",      "ATTEMPT", "JOB",          "STARTED",
                                         "DURATION", "STATUS",  "FAILED STAGE", "ROWS"};

static void report_runs(const struct query *q, const struct store *s, struct buf *b, int table,
                        struct runs *r)
{
	qsort(r->a, r->n, sizeof *r->a, cmp_newest);
	size_t n = q->limit >= 0 && (size_t)q->limit < r->n ? (size_t)q->limit : r->n;
	if (table) {
		struct table t = {.ncols = 8};
		table_row(&t, run_header);
		for (size_t i = 0; i < n; i++)
			table_attempt(&t, s, r, &r->a[i]);
		if (n == 0)
			buf_puts(b, "no runs recorded\n");
		else
			table_print(&t, b);
		b->failed |= t.failed;
		return;
	}
	buf_puts(b, ",\"runs\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(b, ',');
		json_attempt(b, s, r, &r->a[i]);
	}
	buf_putc(b, ']');
}

/* One run ----------------------------------------------------------------------------------- */

static int cmp_fact_at(const void *x, const void *y)
{
	const struct meta_fact *a = &sort_store->v[*(const size_t *)x];
	const struct meta_fact *b = &sort_store->v[*(const size_t *)y];
	int c = cmp_i64(a->at, b->at);
	if (!c)
		c = cmp_str(a->program, b->program);
	if (!c)
		c = cmp_str(a->symbol ? a->symbol : a->check, b->symbol ? b->symbol : b->check);
	return c;
}

static void json_fact(struct buf *b, const struct meta_fact *f)
{
	int first = 1;
	buf_putc(b, '{');
	j_time(b, "at", f->at, &first);
	j_str(b, "program", f->program, &first);
	switch (f->kind) {
	case META_REQUEST:
		j_str(b, "symbol", f->symbol, &first);
		j_str(b, "function", f->function, &first);
		j_str(b, "interval", f->interval, &first);
		j_str(b, "month", f->month, &first);
		j_str(b, "outputsize", f->outputsize, &first);
		j_str(b, "outcome", f->outcome, &first);
		j_int(b, "attempts", f->attempts, &first);
		j_int(b, "latency_ms", f->latency_ms, &first);
		j_int(b, "http_status", f->http_status, &first);
		break;
	case META_CHECK:
		j_str(b, "batch_app", f->batch_app, &first);
		j_int(b, "batch_id", f->batch_id, &first);
		j_str(b, "check", f->check, &first);
		j_str(b, "metric", f->metric, &first);
		j_key(b, "value", &first);
		buf_puts(b, f->value ? f->value : "null");
		j_str(b, "outcome", f->outcome, &first);
		break;
	case META_COMMIT:
		j_str(b, "table", f->table, &first);
		j_int(b, "version", f->version, &first);
		j_str(b, "batch_app", f->batch_app, &first);
		j_int(b, "batch_id", f->batch_id, &first);
		j_int(b, "rows", f->rows, &first);
		j_int(b, "files", f->files, &first);
		j_int(b, "bytes", f->bytes, &first);
		j_str(b, "operation", f->operation, &first);
		break;
	default:
		j_str(b, "symbol", f->symbol, &first);
		j_str(b, "interval", f->interval, &first);
		j_time(b, "newest", f->newest, &first);
		break;
	}
	buf_putc(b, '}');
}

static void table_fact(struct table *t, const struct meta_fact *f)
{
	char when[META_TIME_MAX], a[32], l[32], h[32], v[32], r[32], fl[32], by[32], what[600];
	switch (f->kind) {
	case META_REQUEST: {
		snprintf(what, sizeof what, "%s%s%s%s%s", nz(f->function), f->interval ? " " : "",
		         nz(f->interval), f->month ? " " : "", nz(f->month));
		const char *row[] = {t_time(f->at, when),
		                     nz(f->symbol),
		                     what,
		                     nz(f->outcome),
		                     t_int(f->attempts, a),
		                     f->latency_ms == META_NULL ? "-"
		                                                : t_dur(f->latency_ms * 1000, l),
		                     t_int(f->http_status, h)};
		table_row(t, row);
		break;
	}
	case META_CHECK: {
		snprintf(what, sizeof what, "%s/%s", f->batch_app ? f->batch_app : "-",
		         t_int(f->batch_id, a));
		const char *row[] = {
		    t_time(f->at, when),       what,          nz(f->check), nz(f->metric),
		    f->value ? f->value : "-", nz(f->outcome)};
		table_row(t, row);
		break;
	}
	case META_COMMIT: {
		const char *row[] = {t_time(f->at, when), nz(f->table),      t_int(f->version, v),
		                     nz(f->operation),    t_int(f->rows, r), t_int(f->files, fl),
		                     t_int(f->bytes, by)};
		table_row(t, row);
		break;
	}
	default: {
		char newest[META_TIME_MAX];
		const char *row[] = {t_time(f->at, when), nz(f->symbol), nz(f->interval),
		                     t_time(f->newest, newest)};
		table_row(t, row);
		break;
	}
	}
}

static const char *const *fact_header(int kind, int *ncols)
{
	static const char *const req[] = {"AT",       "SYMBOL",  "REQUEST", "OUTCOME",
	                                  "ATTEMPTS", "LATENCY", "HTTP"};
	static const char *const chk[] = {"AT", "BATCH", "CHECK", "METRIC", "VALUE", "OUTCOME"};
	static const char *const cm[] = {"AT",   "TABLE", "VERSION", "OPERATION",
	                                 "ROWS", "FILES", "BYTES"};
	static const char *const wm[] = {"AT", "SYMBOL", "INTERVAL", "NEWEST"};
	switch (kind) {
	case META_REQUEST:
		*ncols = 7;
		return req;
	case META_CHECK:
		*ncols = 6;
		return chk;
	case META_COMMIT:
		*ncols = 7;
		return cm;
	default:
		*ncols = 4;
		return wm;
	}
}

static int report_run(const struct query *q, const struct store *s, struct buf *b, int table,
                      struct runs *r)
{
	static const int kinds[] = {META_REQUEST, META_CHECK, META_COMMIT, META_WATERMARK};
	static const char *const names[] = {"requests", "checks", "commits", "watermarks"};
	size_t *idx = malloc((s->n + 1) * sizeof *idx);
	if (!idx)
		return -1;
	qsort(r->a, r->n, sizeof *r->a, cmp_oldest);
	if (table && s->n == 0)
		buf_printf(b, "no facts recorded for run %s\n", q->run_id);
	if (table && r->n) {
		struct table t = {.ncols = 8};
		table_row(&t, run_header);
		for (size_t i = 0; i < r->n; i++)
			table_attempt(&t, s, r, &r->a[i]);
		table_print(&t, b);
		b->failed |= t.failed;
	}
	if (!table) {
		buf_puts(b, ",\"run_id\":");
		buf_json_str(b, q->run_id, strlen(q->run_id));
		buf_puts(b, ",\"attempts\":[");
		for (size_t i = 0; i < r->n; i++) {
			if (i)
				buf_putc(b, ',');
			json_attempt(b, s, r, &r->a[i]);
		}
		buf_putc(b, ']');
	}
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		size_t n = 0;
		for (size_t i = 0; i < s->n; i++)
			if (s->v[i].kind == kinds[k])
				idx[n++] = i;
		sort_store = s;
		qsort(idx, n, sizeof *idx, cmp_fact_at);
		if (table) {
			if (n == 0)
				continue;
			struct table t;
			memset(&t, 0, sizeof t);
			const char *const *h = fact_header(kinds[k], &t.ncols);
			table_row(&t, h);
			for (size_t i = 0; i < n; i++)
				table_fact(&t, &s->v[idx[i]]);
			buf_printf(b, "\n%s:\n", names[k]);
			table_print(&t, b);
			b->failed |= t.failed;
			continue;
		}
		buf_printf(b, ",\"%s\":[", names[k]);
		for (size_t i = 0; i < n; i++) {
			if (i)
				buf_putc(b, ',');
			json_fact(b, &s->v[idx[i]]);
		}
		buf_putc(b, ']');
	}
	free(idx);
	return 0;
}

/* Checks over time -------------------------------------------------------------------------- */

static int cmp_check_day(const void *x, const void *y)
{
	const struct meta_fact *a = &sort_store->v[*(const size_t *)x];
	const struct meta_fact *b = &sort_store->v[*(const size_t *)y];
	int c = cmp_str(a->check, b->check);
	if (!c)
		c = cmp_i64(ts_floor_div(a->at, TS_US_PER_DAY), ts_floor_div(b->at, TS_US_PER_DAY));
	return c;
}

static int report_checks(const struct query *q, const struct store *s, struct buf *b, int table)
{
	static const char *const outcomes[] = {"pass", "warn", "fail", "skipped"};
	size_t *idx = malloc((s->n + 1) * sizeof *idx);
	if (!idx)
		return -1;
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].kind == META_CHECK && s->v[i].at >= q->since)
			idx[n++] = i;
	sort_store = s;
	qsort(idx, n, sizeof *idx, cmp_check_day);
	struct table t = {.ncols = 6};
	static const char *const header[] = {"CHECK", "DAY", "PASS", "WARN", "FAIL", "SKIPPED"};
	char since[TS_TEXT_MAX];
	ts_format_date(ts_floor_div(q->since, TS_US_PER_DAY), since);
	if (table)
		table_row(&t, header);
	else
		buf_printf(b, ",\"since\":\"%s\",\"days\":[", since);
	size_t rows = 0;
	for (size_t i = 0; i < n;) {
		const struct meta_fact *f = &s->v[idx[i]];
		int64_t day = ts_floor_div(f->at, TS_US_PER_DAY);
		int64_t count[4] = {0, 0, 0, 0};
		size_t j = i;
		for (; j < n && cmp_check_day(&idx[i], &idx[j]) == 0; j++)
			for (int o = 0; o < 4; o++)
				count[o] += strcmp(s->v[idx[j]].outcome, outcomes[o]) == 0;
		char date[TS_TEXT_MAX], c[4][32];
		ts_format_date(day, date);
		if (table) {
			const char *row[] = {nz(f->check),          date,
			                     t_int(count[0], c[0]), t_int(count[1], c[1]),
			                     t_int(count[2], c[2]), t_int(count[3], c[3])};
			table_row(&t, row);
		} else {
			int first = 1;
			buf_puts(b, rows ? ",{" : "{");
			j_str(b, "check", f->check, &first);
			j_str(b, "day", date, &first);
			for (int o = 0; o < 4; o++)
				j_int(b, outcomes[o], count[o], &first);
			buf_putc(b, '}');
		}
		rows++;
		i = j;
	}
	if (table) {
		if (rows)
			table_print(&t, b);
		else
			buf_printf(b, "no checks recorded since %s\n", since);
		b->failed |= t.failed;
	} else {
		buf_putc(b, ']');
	}
	free(idx);
	return 0;
}

/* Freshness -------------------------------------------------------------------------------- */

static int cmp_fresh(const void *x, const void *y)
{
	const struct meta_fact *a = &sort_store->v[*(const size_t *)x];
	const struct meta_fact *b = &sort_store->v[*(const size_t *)y];
	int c = cmp_str(a->symbol, b->symbol);
	if (!c)
		c = cmp_str(a->interval, b->interval);
	if (!c)
		c = cmp_i64(b->newest, a->newest);
	return c;
}

static int report_freshness(const struct origin *o, const struct store *s, struct buf *b, int table)
{
	size_t *idx = malloc((s->n + 1) * sizeof *idx);
	if (!idx)
		return -1;
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].kind == META_WATERMARK)
			idx[n++] = i;
	sort_store = s;
	qsort(idx, n, sizeof *idx, cmp_fresh);
	struct table t = {.ncols = 4};
	static const char *const header[] = {"SYMBOL", "INTERVAL", "NEWEST", "AGE"};
	if (table)
		table_row(&t, header);
	else
		buf_puts(b, ",\"symbols\":[");
	size_t rows = 0;
	for (size_t i = 0; i < n; i++) {
		const struct meta_fact *f = &s->v[idx[i]];
		if (i && cmp_str(f->symbol, s->v[idx[i - 1]].symbol) == 0 &&
		    cmp_str(f->interval, s->v[idx[i - 1]].interval) == 0)
			continue;
		int64_t age = o->now - f->newest;
		if (table) {
			char newest[META_TIME_MAX], a[32];
			const char *row[] = {nz(f->symbol), nz(f->interval),
			                     t_time(f->newest, newest), t_dur(age, a)};
			table_row(&t, row);
		} else {
			int first = 1;
			buf_puts(b, rows ? ",{" : "{");
			j_str(b, "symbol", f->symbol, &first);
			j_str(b, "interval", f->interval, &first);
			j_time(b, "newest", f->newest, &first);
			j_secs(b, "age_s", age, &first);
			buf_putc(b, '}');
		}
		rows++;
	}
	if (table) {
		if (rows)
			table_print(&t, b);
		else
			buf_puts(b, "no watermarks recorded\n");
		b->failed |= t.failed;
	} else {
		buf_putc(b, ']');
	}
	free(idx);
	return 0;
}

/* The report ------------------------------------------------------------------------------ */

int report_write(const struct query *q, const struct store *s, const struct origin *o, int table)
{
	static const char *const names[] = {"runs", "run", "checks", "freshness"};
	struct buf b = BUF_INIT;
	struct runs r;
	int rc = 0;
	memset(&r, 0, sizeof r);
	if ((q->report == R_RUNS || q->report == R_RUN) && runs_fold(s, &r) < 0) {
		err_error("out of memory");
		return -1;
	}
	runs_judge(&r, o);
	if (table) {
		buf_printf(&b, "source: %s %s", o->source, o->where);
		if (o->pending > 0)
			buf_printf(&b, " (%ld spool files not loaded yet)", o->pending);
		buf_puts(&b, "\n\n");
	} else {
		int first = 1;
		buf_putc(&b, '{');
		j_str(&b, "report", names[q->report], &first);
		j_str(&b, "source", o->source, &first);
		j_str(&b, "where", o->where, &first);
		if (o->pending >= 0)
			j_int(&b, "pending_spool_files", o->pending, &first);
		j_time(&b, "now", o->now, &first);
	}
	switch (q->report) {
	case R_RUNS:
		report_runs(q, s, &b, table, &r);
		break;
	case R_RUN:
		rc = report_run(q, s, &b, table, &r);
		break;
	case R_CHECKS:
		rc = report_checks(q, s, &b, table);
		break;
	default:
		rc = report_freshness(o, s, &b, table);
		break;
	}
	if (!table)
		buf_puts(&b, "}\n");
	runs_free(&r);
	if (rc < 0 || buf_failed(&b)) {
		err_error("out of memory");
		buf_free(&b);
		return -1;
	}
	/*
	 * Written whole with write(2), so that a reader that went away
	 * (etl-history | head) is told from a failed write by its errno.
	 */
	int status = 0;
	const char *p = b.data;
	size_t left = b.len;
	fflush(stdout);
	while (left) {
		ssize_t n = write(STDOUT_FILENO, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EPIPE) {
				err_error("stdout: %s", strerror(errno));
				status = EX_IOERR;
			}
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	buf_free(&b);
	return status;
}

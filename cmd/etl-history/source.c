/*
 * source: the facts of a report, from the spool files or from PostgreSQL.
 *
 * From the spool every file is read, finished or not (a .part file shows
 * the run in progress; its last line may still be unwritten and reads as
 * torn, which is skipped), and the facts are filtered here.  From
 * PostgreSQL the same filter is SQL that the indexes of migration 2 serve,
 * and rows come back as facts: times as RFC 3339 text with microseconds,
 * exact, so that the report cannot tell the two sources apart.
 */
#include "history.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/ts.h"

/* The store ------------------------------------------------------------------------------- */

/* The string members of a fact, which a store's copy owns. */
static const size_t str_offsets[] = {
    offsetof(struct meta_fact, run_id),       offsetof(struct meta_fact, program),
    offsetof(struct meta_fact, job),          offsetof(struct meta_fact, stage),
    offsetof(struct meta_fact, failed_stage), offsetof(struct meta_fact, reason),
    offsetof(struct meta_fact, host),         offsetof(struct meta_fact, symbol),
    offsetof(struct meta_fact, function),     offsetof(struct meta_fact, interval),
    offsetof(struct meta_fact, month),        offsetof(struct meta_fact, outputsize),
    offsetof(struct meta_fact, outcome),      offsetof(struct meta_fact, batch_app),
    offsetof(struct meta_fact, check),        offsetof(struct meta_fact, metric),
    offsetof(struct meta_fact, value),        offsetof(struct meta_fact, table),
    offsetof(struct meta_fact, operation),
};

#define STRINGS (sizeof str_offsets / sizeof str_offsets[0])

static const char **str_at(struct meta_fact *f, size_t i)
{
	return (const char **)(void *)((char *)f + str_offsets[i]);
}

static void fact_free(struct meta_fact *f)
{
	for (size_t i = 0; i < STRINGS; i++) {
		free((void *)*str_at(f, i));
		*str_at(f, i) = NULL;
	}
}

int store_add(struct store *s, const struct meta_fact *f)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 256;
		struct meta_fact *nv = realloc(s->v, nc * sizeof *nv);
		if (!nv)
			return -1;
		s->v = nv;
		s->cap = nc;
	}
	struct meta_fact *d = &s->v[s->n];
	*d = *f;
	for (size_t i = 0; i < STRINGS; i++)
		*str_at(d, i) = NULL;
	for (size_t i = 0; i < STRINGS; i++) {
		const char *src = *str_at((struct meta_fact *)f, i);
		if (src && !(*str_at(d, i) = strdup(src))) {
			fact_free(d);
			return -1;
		}
	}
	s->n++;
	return 0;
}

void store_free(struct store *s)
{
	for (size_t i = 0; i < s->n; i++)
		fact_free(&s->v[i]);
	free(s->v);
	memset(s, 0, sizeof *s);
}

/* Which facts a report reads, and whether f is one of them. */
static int wanted(const struct query *q, const struct meta_fact *f)
{
	switch (q->report) {
	case R_RUNS:
		return f->kind == META_RUN || f->kind == META_STAGE || f->kind == META_COMMIT;
	case R_RUN:
		return f->run_id && strcmp(f->run_id, q->run_id) == 0;
	case R_CHECKS:
		return f->kind == META_CHECK && f->at >= q->since;
	default:
		return f->kind == META_WATERMARK;
	}
}

/* The spool ------------------------------------------------------------------------------- */

int source_spool(const char *dir, const struct query *q, struct store *s, struct err_msg *e)
{
	struct meta_file *files;
	size_t n;
	if (meta_spool_list(dir, &files, &n, e) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
		struct meta_reader *r = meta_reader_open(path, e);
		if (!r) {
			/* Loaded and removed since the listing: its facts are in PostgreSQL now. */
			if (errno == ENOENT)
				continue;
			rc = -1;
			break;
		}
		struct meta_fact f;
		uint64_t line;
		for (;;) {
			struct err_msg why;
			int k = meta_reader_next(r, &f, &line, &why);
			if (k == META_EOF || k == META_TORN)
				break;
			if (k == META_IOERR) {
				*e = why;
				rc = -1;
				break;
			}
			if (k == META_BAD) {
				s->bad++;
				err_record("%s", why.text);
				continue;
			}
			if (wanted(q, &f) && store_add(s, &f) < 0) {
				err_set(e, EX_SOFTWARE, "out of memory");
				rc = -1;
				break;
			}
		}
		meta_reader_close(r);
	}
	free(files);
	return rc;
}

long source_pending(const char *dir)
{
	struct meta_file *files;
	size_t n;
	struct err_msg e;
	if (meta_spool_list(dir, &files, &n, &e) < 0)
		return -1;
	free(files);
	return (long)n;
}

/* PostgreSQL ------------------------------------------------------------------------------ */

/* A timestamptz column as exact RFC 3339 text. */
#define T(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* The columns of each kind, in the order of its fields list below. */
static const char *const select_cols[META_KIND_COUNT] = {
    [META_RUN] = "run_id, program, " T("at") ", job, attempt, " T("started_at") ", " T(
        "ended_at") ", status, failed_stage, reason, host FROM stocketl.runs",
    [META_STAGE] = "run_id, program, " T("at") ", job, stage, attempt, status, " T(
        "started_at") ", " T("ended_at") ", records_in, records_out, rejected FROM stocketl.stages",
    [META_REQUEST] = "run_id, program, " T(
        "at") ", symbol, function, bar_interval, month,"
              " outputsize, outcome, attempts, latency_ms, http_status FROM stocketl.requests",
    [META_CHECK] = "run_id, program, " T("at") ", batch_app, batch_id, check_name, metric,"
                                               " value::text, outcome FROM stocketl.checks",
    [META_COMMIT] =
        "run_id, program, " T("at") ", table_root, version, batch_app, batch_id,"
                                    " rows, files, bytes, operation FROM stocketl.commits",
    [META_WATERMARK] = "run_id, program, " T("at") ", symbol, bar_interval, " T(
        "newest") " FROM stocketl.watermarks",
};

/* F_END (0) ends a kind's list. */
enum { F_END, F_STR, F_INT, F_TIME };
struct field {
	int type;
	size_t off;
};

#define FS(m)                                                                                      \
	{                                                                                          \
		F_STR, offsetof(struct meta_fact, m)                                               \
	}
#define FI(m)                                                                                      \
	{                                                                                          \
		F_INT, offsetof(struct meta_fact, m)                                               \
	}
#define FT(m)                                                                                      \
	{                                                                                          \
		F_TIME, offsetof(struct meta_fact, m)                                              \
	}
#define FIELDS_MAX 12

static const struct field fields[META_KIND_COUNT][FIELDS_MAX] = {
    [META_RUN] = {FS(run_id), FS(program), FT(at), FS(job), FI(attempt), FT(started_at),
                  FT(ended_at), FI(status), FS(failed_stage), FS(reason), FS(host)},
    [META_STAGE] = {FS(run_id), FS(program), FT(at), FS(job), FS(stage), FI(attempt), FI(status),
                    FT(started_at), FT(ended_at), FI(records_in), FI(records_out), FI(rejected)},
    [META_REQUEST] = {FS(run_id), FS(program), FT(at), FS(symbol), FS(function), FS(interval),
                      FS(month), FS(outputsize), FS(outcome), FI(attempts), FI(latency_ms),
                      FI(http_status)},
    [META_CHECK] = {FS(run_id), FS(program), FT(at), FS(batch_app), FI(batch_id), FS(check),
                    FS(metric), FS(value), FS(outcome)},
    [META_COMMIT] = {FS(run_id), FS(program), FT(at), FS(table), FI(version), FS(batch_app),
                     FI(batch_id), FI(rows), FI(files), FI(bytes), FS(operation)},
    [META_WATERMARK] = {FS(run_id), FS(program), FT(at), FS(symbol), FS(interval), FT(newest)},
};

/* Run "SELECT <kind's columns> <where>" and add each row as a fact. */
static int select_facts(struct pg_conn *c, int kind, const char *where, int n,
                        const char *const *params, struct store *s, struct err_msg *e)
{
	char sql[2048];
	snprintf(sql, sizeof sql, "SELECT %s %s", select_cols[kind], where);
	struct pg_result *r;
	if (pg_exec(c, sql, n, params, NULL, &r, e) != PG_OK)
		return -1;
	int rc = 0;
	for (int row = 0; row < pg_result_rows(r) && rc == 0; row++) {
		struct meta_fact f;
		memset(&f, 0, sizeof f);
		f.kind = kind;
		int64_t *ints[] = {&f.at,       &f.attempt,    &f.started_at,  &f.ended_at,
		                   &f.status,   &f.records_in, &f.records_out, &f.rejected,
		                   &f.attempts, &f.latency_ms, &f.http_status, &f.newest,
		                   &f.batch_id, &f.version,    &f.rows,        &f.files,
		                   &f.bytes};
		for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
			*ints[i] = META_NULL;
		for (int col = 0; col < FIELDS_MAX && fields[kind][col].type != F_END; col++) {
			const struct field *fd = &fields[kind][col];
			const char *v = pg_result_value(r, row, col);
			void *slot = (char *)&f + fd->off;
			if (!v)
				continue;
			if (fd->type == F_STR)
				*(const char **)slot = v;
			else if (fd->type == F_INT)
				*(int64_t *)slot = strtoll(v, NULL, 10);
			else if (ts_parse_rfc3339(v, strlen(v), slot) < 0)
				*(int64_t *)slot = META_NULL;
		}
		if (store_add(s, &f) < 0) {
			err_set(e, EX_SOFTWARE, "out of memory");
			rc = -1;
		}
	}
	pg_result_free(r);
	return rc;
}

int source_pg(struct pg_conn *c, const struct query *q, struct store *s, struct err_msg *e)
{
	char num[32];
	switch (q->report) {
	case R_RUNS: {
		/* The last N attempts, and the stages and commits of their runs. */
		static const char last[] =
		    "WITH last AS (SELECT run_id, attempt FROM stocketl.runs GROUP BY run_id, "
		    "attempt"
		    " ORDER BY min(started_at) DESC, run_id DESC, attempt DESC LIMIT $1)";
		char sql[512];
		const char *p[1] = {num};
		snprintf(num, sizeof num, "%lld", (long long)q->limit);
		snprintf(sql, sizeof sql, "WHERE (run_id, attempt) IN (%s SELECT * FROM last)",
		         last);
		if (select_facts(c, META_RUN, sql, 1, p, s, e) < 0)
			return -1;
		snprintf(sql, sizeof sql, "WHERE run_id IN (%s SELECT run_id FROM last)", last);
		if (select_facts(c, META_STAGE, sql, 1, p, s, e) < 0 ||
		    select_facts(c, META_COMMIT, sql, 1, p, s, e) < 0)
			return -1;
		return 0;
	}
	case R_RUN: {
		const char *p[1] = {q->run_id};
		for (int k = 0; k < META_KIND_COUNT; k++)
			if (select_facts(c, k, "WHERE run_id = $1", 1, p, s, e) < 0)
				return -1;
		return 0;
	}
	case R_CHECKS: {
		char t[META_TIME_MAX];
		const char *p[1] = {t};
		meta_format_time(q->since, t);
		return select_facts(c, META_CHECK, "WHERE at >= $1", 1, p, s, e);
	}
	default:
		/* The newest row of each symbol and interval: one index scan per pair. */
		return select_facts(
		    c, META_WATERMARK,
		    "WHERE (symbol, bar_interval, newest) IN (SELECT DISTINCT ON (symbol,"
		    " bar_interval) symbol, bar_interval, newest FROM stocketl.watermarks"
		    " ORDER BY symbol, bar_interval, newest DESC)",
		    0, NULL, s, e);
	}
}

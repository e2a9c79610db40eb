/*
 * load: spool files into the tables of migration 2, one transaction per
 * file.
 *
 * Loading is idempotent because every row's key is where its line was,
 * (file name without ".part", line number), and each insert does nothing
 * on a key that is there: a file loaded by a loader that died before
 * removing it, or by two loaders at once, gives each row once.  The file is
 * removed only after its transaction committed, so PostgreSQL going away
 * in the middle leaves it for the next run.  Lines are checked by
 * meta_parse() before they are sent, so no cast can fail on the server.
 */
#include "load.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "meta/meta.h"
#include "pg/schema.h"

#define P_MAX 16

static const char *const insert_sql[META_KIND_COUNT] = {
    [META_RUN] = "INSERT INTO stocketl.runs (source_file, source_line, run_id, program, at, job,"
                 " attempt, started_at, ended_at, status, failed_stage, reason, host)"
                 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                 " ON CONFLICT DO NOTHING",
    [META_STAGE] = "INSERT INTO stocketl.stages (source_file, source_line, run_id, program, at,"
                   " job, stage, attempt, status, started_at, ended_at, records_in, records_out,"
                   " rejected)"
                   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
                   " ON CONFLICT DO NOTHING",
    [META_REQUEST] = "INSERT INTO stocketl.requests (source_file, source_line, run_id, program,"
                     " at, symbol, function, bar_interval, month, outputsize, outcome, attempts,"
                     " latency_ms, http_status)"
                     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
                     " ON CONFLICT DO NOTHING",
    [META_CHECK] = "INSERT INTO stocketl.checks (source_file, source_line, run_id, program, at,"
                   " batch_app, batch_id, check_name, metric, value, outcome)"
                   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                   " ON CONFLICT DO NOTHING",
    [META_COMMIT] = "INSERT INTO stocketl.commits (source_file, source_line, run_id, program, at,"
                    " table_root, version, batch_app, batch_id, rows, files, bytes, operation)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                    " ON CONFLICT DO NOTHING",
    [META_WATERMARK] = "INSERT INTO stocketl.watermarks (source_file, source_line, run_id,"
                       " program, at, symbol, bar_interval, newest)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                       " ON CONFLICT DO NOTHING",
};

/* The parameters of one insert, as text. */
struct params {
	const char *v[P_MAX];
	char text[P_MAX][META_TIME_MAX];
	int n;
};

static void p_str(struct params *p, const char *s)
{
	p->v[p->n++] = s;
}

static void p_int(struct params *p, int64_t v)
{
	if (v == META_NULL) {
		p->v[p->n++] = NULL;
		return;
	}
	snprintf(p->text[p->n], sizeof p->text[p->n], "%lld", (long long)v);
	p->v[p->n] = p->text[p->n];
	p->n++;
}

static void p_time(struct params *p, int64_t us)
{
	if (us == META_NULL) {
		p->v[p->n++] = NULL;
		return;
	}
	meta_format_time(us, p->text[p->n]);
	p->v[p->n] = p->text[p->n];
	p->n++;
}

static void fill(struct params *p, const char *source, uint64_t line, const struct meta_fact *f)
{
	p->n = 0;
	p_str(p, source);
	p_int(p, (int64_t)line);
	p_str(p, f->run_id);
	p_str(p, f->program);
	p_time(p, f->at);
	switch (f->kind) {
	case META_RUN:
		p_str(p, f->job);
		p_int(p, f->attempt);
		p_time(p, f->started_at);
		p_time(p, f->ended_at);
		p_int(p, f->status);
		p_str(p, f->failed_stage);
		p_str(p, f->reason);
		p_str(p, f->host);
		break;
	case META_STAGE:
		p_str(p, f->job);
		p_str(p, f->stage);
		p_int(p, f->attempt);
		p_int(p, f->status);
		p_time(p, f->started_at);
		p_time(p, f->ended_at);
		p_int(p, f->records_in);
		p_int(p, f->records_out);
		p_int(p, f->rejected);
		break;
	case META_REQUEST:
		p_str(p, f->symbol);
		p_str(p, f->function);
		p_str(p, f->interval);
		p_str(p, f->month);
		p_str(p, f->outputsize);
		p_str(p, f->outcome);
		p_int(p, f->attempts);
		p_int(p, f->latency_ms);
		p_int(p, f->http_status);
		break;
	case META_CHECK:
		p_str(p, f->batch_app);
		p_int(p, f->batch_id);
		p_str(p, f->check);
		p_str(p, f->metric);
		p_str(p, f->value);
		p_str(p, f->outcome);
		break;
	case META_COMMIT:
		p_str(p, f->table);
		p_int(p, f->version);
		p_str(p, f->batch_app);
		p_int(p, f->batch_id);
		p_int(p, f->rows);
		p_int(p, f->files);
		p_int(p, f->bytes);
		p_str(p, f->operation);
		break;
	case META_WATERMARK:
		p_str(p, f->symbol);
		p_str(p, f->interval);
		p_time(p, f->newest);
		break;
	}
}

/*
 * The file's lines inside the caller's transaction, counted in st (the
 * file's own counts: they stand only if the transaction commits).  1 when
 * a line was bad, 0, or -1.
 */
static int load_lines(struct pg_conn *c, const char *path, const struct meta_file *mf,
                      struct load_stats *st, struct err_msg *e)
{
	struct meta_reader *r = meta_reader_open(path, e);
	if (!r)
		return errno == ENOENT ? 0 : -1;
	struct meta_fact f;
	struct params p;
	uint64_t line;
	int bad = 0, rc = 0;
	for (;;) {
		struct err_msg why;
		int k = meta_reader_next(r, &f, &line, &why);
		if (k == META_EOF)
			break;
		if (k == META_IOERR) {
			*e = why;
			rc = -1;
			break;
		}
		if (k == META_TORN) {
			st->torn++;
			err_warn("%s:%llu: a torn last line (its writer stopped while writing it): "
			         "ignored",
			         path, (unsigned long long)line);
			continue;
		}
		if (k == META_BAD) {
			if (why.status == EX_SOFTWARE) {
				*e = why;
				rc = -1;
				break;
			}
			st->bad++;
			bad = 1;
			err_record("%s", why.text);
			continue;
		}
		if (line > INT_MAX) {
			err_set(e, EX_DATAERR, "%s: more than %d lines", path, INT_MAX);
			rc = -1;
			break;
		}
		fill(&p, mf->source, line, &f);
		struct pg_result *res;
		if (pg_exec(c, insert_sql[f.kind], p.n, p.v, NULL, &res, e) != PG_OK) {
			rc = -1;
			break;
		}
		if (pg_result_affected(res) > 0)
			st->added++;
		else
			st->present++;
		pg_result_free(res);
	}
	meta_reader_close(r);
	return rc < 0 ? -1 : bad;
}

/* A file with bad lines goes to dir/rejected, where nothing loads it again. */
static int quarantine(const char *dir, const char *name, struct err_msg *e)
{
	char from[PATH_MAX], to[PATH_MAX];
	snprintf(to, sizeof to, "%s/rejected", dir);
	if (mkdir(to, 0777) < 0 && errno != EEXIST) {
		err_set(e, EX_IOERR, "%s: %s", to, strerror(errno));
		return -1;
	}
	snprintf(from, sizeof from, "%s/%s", dir, name);
	snprintf(to, sizeof to, "%s/rejected/%s", dir, name);
	if (rename(from, to) < 0 && errno != ENOENT) {
		err_set(e, EX_IOERR, "%s: cannot move it to %s/rejected: %s", from, dir,
		        strerror(errno));
		return -1;
	}
	err_warn("%s: lines that are not facts; the others are loaded and the file is in %s", from,
	         to);
	return 0;
}

int load_spool(struct pg_conn *c, const char *dir, struct load_stats *st, struct err_msg *e)
{
	struct meta_file *files;
	size_t n;
	memset(st, 0, sizeof *st);
	if (meta_spool_list(dir, &files, &n, e) < 0)
		return -1;
	if (n && pg_schema_ensure(c, e) < 0) {
		free(files);
		return -1;
	}
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct meta_file *mf = &files[i];
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", dir, mf->name);
		if (mf->part && meta_part_live(dir, mf)) {
			st->live++;
			continue;
		}
		if (pg_exec(c, "BEGIN", 0, NULL, NULL, NULL, e) != PG_OK) {
			rc = -1;
			break;
		}
		/* A file rolled back adds nothing: its rows are loaded by a later run. */
		struct load_stats one = {0};
		int bad = load_lines(c, path, mf, &one, e);
		if (bad < 0 || pg_exec(c, "COMMIT", 0, NULL, NULL, NULL, e) != PG_OK) {
			struct err_msg ignored;
			pg_exec(c, "ROLLBACK", 0, NULL, NULL, NULL, &ignored);
			rc = -1;
			break;
		}
		st->added += one.added;
		st->present += one.present;
		st->torn += one.torn;
		st->bad += one.bad;
		st->files++;
		if (bad) {
			st->quarantined++;
			rc = quarantine(dir, mf->name, e);
		} else if (unlink(path) < 0 && errno != ENOENT) {
			err_set(e, EX_IOERR, "%s: loaded, but cannot remove it: %s", path,
			        strerror(errno));
			rc = -1;
		}
	}
	free(files);
	return rc;
}

/*
 * delta-append: load record streams into a Delta table, one atomic commit
 * per batch.
 *
 * This file holds the options and the input loop: it reads records, hands
 * them to cells.c (mapping to columns) and files.c (the partition files and
 * their writer threads), and at each batch marker decides the batch's fate.
 * A batch is committed only when its marker says ok, names an application
 * (or --app-id does), counts the records that arrived and follows the
 * previous batch of its application; a batch that is marked failed, whose
 * count does not match, that holds a bad record, whose marker is malformed
 * or that is cut off by the end of input or a signal is never committed and
 * its files are removed, and the next batch goes on.  A batch whose id is
 * not above the table's txn version for its application was loaded before
 * and is skipped, so a replayed stream loads exactly once.
 *
 * Commits are Delta transactions of the library (delta/delta_txn.h): a
 * WRITE with the batch's adds and its txn (app, id), through the table's
 * commit store, moving past other writers' appends and stopping only at
 * real conflicts.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "append.h"
#include "base/cli.h"
#include "base/config.h"
#include "delta/delta_txn.h"
#include "meta/meta.h"

/* Writer threads on a FUSE mount when none are configured (see main). */
#define FUSE_WRITER_THREADS 16

static const char usage[] =
    "usage: delta-append [-qv] [--app-id ID [--batch-id N]] [--commit-retries N]\n"
    "                    [--config FILE] [--latest-by COL] [--max-open-files N]\n"
    "                    [--merge-key COLS] [--target-file-size BYTES] [--threads N]\n"
    "                    TABLE [FILE ...]\n"
    "       delta-append [--config FILE] --txn-version APP TABLE\n";

static const struct cli_option options[] = {
    {"--app-id ID", "the txn app id, instead of each marker's app"},
    {"--batch-id N", "with --app-id: txn version of unmarked input"},
    {"--commit-retries N", "retries after a real conflict (default 15)"},
    {"--config FILE", "the configuration file"},
    {"--latest-by COL", "a key's record with the greatest COL wins"},
    {"--max-open-files N", "partitions written at once (default 16)"},
    {"--merge-key COLS", "upsert by these columns (default: table's key)"},
    {"--target-file-size BYTES", "a new data file past this size"},
    {"--threads N", "writer threads (CPUs up to 4; 16 on s3fs)"},
    {"--txn-version APP", "print the table's txn version of APP (-1: none)"},
    {NULL, NULL},
};

/* A bad setting: from its flag a usage error, from the configuration file a configuration error. */
static int setting_error(const char *flag, const struct err_msg *e)
{
	if (flag)
		return cli_usage_error(usage, "%s", e->text);
	err_error("%s", e->text);
	return EX_CONFIG;
}

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static int status_rank(int st)
{
	/* The most serious status wins: I/O and contention over data errors over check failures. */
	static const int order[] = {EX_OK,      EX_REJECTS,  EX_CHECKFAIL,
	                            EX_DATAERR, EX_TEMPFAIL, EX_IOERR};
	for (int i = 0; i < 6; i++)
		if (order[i] == st)
			return i;
	return 6;
}

static void set_status(struct app *a, int st)
{
	if (status_rank(st) > status_rank(a->status))
		a->status = st;
}

/* One input: its name, whether it had markers, and the last batch id of each application. */
struct stream {
	const char *name;
	int markers;
	struct strmap last_id; /* app -> struct last_id */
};

struct last_id {
	char *app;
	int64_t id;
};

static void stream_free(struct stream *s)
{
	size_t i = 0;
	struct strmap_slot *sl;
	while ((sl = strmap_next(&s->last_id, &i))) {
		struct last_id *l = sl->value;
		free(l->app);
		free(l);
	}
	strmap_free(&s->last_id);
}

/*
 * The id before this one for app in this stream (-1 if none), then
 * remember this one (the larger of the two).
 */
static int64_t stream_previous(struct stream *s, const char *app, int64_t id)
{
	struct last_id *l = strmap_get(&s->last_id, app);
	if (l) {
		int64_t prev = l->id;
		if (id > l->id)
			l->id = id;
		return prev;
	}
	l = calloc(1, sizeof *l);
	if (l && (l->app = strdup(app)) && strmap_put(&s->last_id, l->app, l, NULL) == 0) {
		l->id = id;
		return -1;
	}
	if (l)
		free(l->app);
	free(l);
	return -1;
}

/* The batch's files --------------------------------------------------------------- */

/* Drop the batch: its files are removed. */
static void discard_batch(struct app *a)
{
	if (a->w)
		delta_writer_discard(a->w);
	merge_discard(a);
	a->records = 0;
	a->bad = 0;
	a->has_batch_id = 0;
}

/* The batch is committed: its files are the table's now. */
static void release_batch(struct app *a)
{
	delta_writer_release(a->w);
	a->records = 0;
	a->bad = 0;
	a->has_batch_id = 0;
}

/* Commits ---------------------------------------------------------------------- */

/*
 * A winner changed the table's protocol or metadata: the batch's files were
 * written for the schema and partitioning read at the start, and still fit
 * if those did not change and the table can still be written.
 */
int still_writable(void *arg, const struct delta_snapshot *snap, struct err_msg *e)
{
	const struct app *a = arg;
	if (delta_check_write(snap, e) < 0)
		return -1;
	int same = snap->meta.n_partition_columns == a->npart;
	for (size_t i = 0; same && i < a->npart; i++)
		same = strcmp(snap->meta.partition_columns[i], a->part_cols[i]) == 0;
	if (!same || !delta_schema_equal(&snap->meta.schema, &a->tschema)) {
		err_set(e, EX_TEMPFAIL, "the %s changed", same ? "schema" : "partition columns");
		return -1;
	}
	return 0;
}

static void json_strv(struct buf *b, char **v, size_t n)
{
	buf_putc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(b, ',');
		buf_json_str(b, v[i], strlen(v[i]));
	}
	buf_putc(b, ']');
}

int files_durable(void *w, struct err_msg *e)
{
	return delta_writer_sync_wait(w, e);
}

/* The transaction of the finished files of the batch; app NULL for none. */
static struct delta_txn *batch_txn(struct app *a, const char *app, int64_t id)
{
	struct delta_txn *t = delta_txn_begin(&a->snap, a->store, "WRITE");
	if (!t)
		return NULL;
	struct buf by = BUF_INIT;
	json_strv(&by, a->part_cols, a->npart);
	int64_t nfiles = 0, bytes = 0, rows = 0;
	int ok = !buf_failed(&by) && delta_txn_param(t, "mode", "Append") == 0 &&
	         delta_txn_param(t, "partitionBy", by.data) == 0;
	size_t n;
	const struct delta_written *files = delta_writer_files(a->w, &n);
	for (size_t i = 0; ok && i < n; i++) {
		ok = delta_txn_add(t, &files[i].file) == 0;
		nfiles++;
		bytes += files[i].file.size;
		rows += files[i].rows;
	}
	ok = ok && (!app || delta_txn_set_app(t, app, id) == 0) &&
	     delta_txn_metric_i64(t, "numFiles", nfiles) == 0 &&
	     delta_txn_metric_i64(t, "numOutputRows", rows) == 0 &&
	     delta_txn_metric_i64(t, "numOutputBytes", bytes) == 0;
	buf_free(&by);
	if (!ok) {
		delta_txn_free(t);
		return NULL;
	}
	delta_txn_set_revalidate(t, still_writable, a, a->retries);
	delta_txn_set_checkpointer(t, a->ckpt);
	delta_txn_set_barrier(t, files_durable, a->w);
	return t;
}

/* The batch id of the commit being made (commit_batch()), for its fact in the spool. */
static int64_t committing_id = -1;

/* A commit's fact in the metadata spool (stocketl(7), METADATA): the table by its absolute root. */
static void spool_commit(const struct app *a, const struct delta_commit_info *info, int64_t rows,
                         int64_t files, const char *app)
{
	char *abs = realpath(a->root, NULL);
	struct meta_commit mc = {
	    .table = abs ? abs : a->root,
	    .version = info->version,
	    .batch_app = app,
	    .batch_id = app && committing_id >= 0 ? committing_id : META_NULL,
	    .rows = rows,
	    .files = files,
	    .bytes = META_NULL,
	    .operation = a->merge ? "MERGE" : "WRITE",
	};
	meta_commit(&mc);
	free(abs);
}

void note_commit(struct app *a, const struct delta_commit_info *info, int64_t rows, int64_t files,
                 const char *app)
{
	spool_commit(a, info, rows, files, app);
	a->committed++;
	a->committed_records += rows;
	a->committed_files += files;
	if (a->first_version < 0)
		a->first_version = info->version;
	a->last_version = info->version;
	err_info("committed version %lld: %lld record%s%s%s", (long long)info->version,
	         (long long)rows, rows == 1 ? "" : "s", app ? " for " : "", app ? app : "");
	if (info->unsynced) {
		err_error("%s", info->sync_err.text);
		set_status(a, EX_IOERR);
	}
	if (info->checkpoint == 1)
		err_info("wrote the checkpoint of version %lld", (long long)info->version);
	else if (info->checkpoint < 0)
		err_warn("checkpoint at version %lld: %s", (long long)info->version,
		         info->checkpoint_err.text);
	note_checkpoints(a, 0);
}

void note_checkpoints(struct app *a, int wait)
{
	int64_t v;
	struct err_msg ce;
	int k;
	while ((k = delta_checkpointer_poll(a->ckpt, wait, &v, &ce)) != 0) {
		if (k > 0)
			err_info("wrote the checkpoint of version %lld", (long long)v);
		else
			err_warn("checkpoint at version %lld: %s", (long long)v, ce.text);
	}
}

/*
 * Commit the finished files of the batch (app NULL: no txn), or merge the
 * batch by its key.  -1 only for what stops the run (I/O, a conflict, a
 * damaged log), e set.
 */
static int commit_batch(struct app *a, const char *app, int64_t id, const char *label,
                        struct err_msg *e)
{
	if (app) {
		int64_t have = delta_txn_version(&a->snap, app);
		if (have >= id) {
			err_info("%s: already in the table (txn version %lld); skipped", label,
			         (long long)have);
			discard_batch(a);
			a->skipped++;
			return 0;
		}
	}
	committing_id = id;
	if (a->merge) {
		int rc = merge_commit(a, app, id, label, e);
		/* Committed or not, the batch's records are done with. */
		a->records = 0;
		a->bad = 0;
		a->has_batch_id = 0;
		return rc;
	}
	/*
	 * Every data file and directory of the batch must be on disk before a
	 * commit names them.  The listing of the log started at load is let
	 * finish first: it runs much slower while the filesystem syncs.
	 */
	delta_snapshot_wait(&a->snap);
	/* The files are made durable while the commit is written (the barrier waits for them). */
	if (delta_writer_sync_start(a->w, e) < 0) {
		discard_batch(a);
		return -1;
	}
	size_t nfiles;
	delta_writer_files(a->w, &nfiles);
	int64_t rows = a->records, files = (int64_t)nfiles;
	struct delta_txn *t = batch_txn(a, app, id);
	if (!t) {
		err_set(e, EX_SOFTWARE, "out of memory");
		discard_batch(a);
		return -1;
	}
	struct delta_commit_info info;
	int rc = delta_txn_commit(t, &info, e);
	delta_txn_free(t);
	if (info.version >= 0) {
		/* In the table, whatever followed: the files are the table's now. */
		release_batch(a);
		note_commit(a, &info, rows, files, app);
		return rc < 0 ? -1 : 0;
	}
	if (rc == 1) {
		err_info("%s: loaded by another writer (%s); skipped", label, e->text);
		discard_batch(a);
		a->skipped++;
		return 0;
	}
	if (info.unknown) {
		/* The version may name the files: they stay, and a run again settles it. */
		release_batch(a);
		return -1;
	}
	discard_batch(a);
	return -1;
}

/* Batches ---------------------------------------------------------------------- */

static void drop_batch(struct app *a, int status)
{
	discard_batch(a);
	a->discarded++;
	set_status(a, status);
}

/* A batch marker arrived (rec is the marker): commit or drop the batch.  -1 only for fatal errors. */
static int end_batch(struct app *a, struct stream *s, const struct rec *rec, struct err_msg *e)
{
	const struct rec_batch *b = &rec->batch;
	const char *app = a->app_id ? a->app_id : b->app[0] ? b->app : NULL;
	char label[REC_APP_MAX + 64];
	if (app)
		snprintf(label, sizeof label, "batch %s/%lld", app, (long long)b->id);
	else
		snprintf(label, sizeof label, "batch %lld", (long long)b->id);
	int64_t prev = app ? stream_previous(s, app, b->id) : -1;
	if (a->bad) {
		err_error("%s: %s has rejected records; not committed", s->name, label);
		drop_batch(a, EX_DATAERR);
		return 0;
	}
	if (b->status != BATCH_OK) {
		err_warn("%s: %s is marked failed upstream; not committed", s->name, label);
		discard_batch(a);
		a->discarded++;
		set_status(a, EX_CHECKFAIL);
		return 0;
	}
	if (!app) {
		err_error("%s: line %llu: %s: the marker names no app, so the batch cannot be "
		          "loaded exactly once; give the producer an app name or pass --app-id; "
		          "not committed",
		          s->name, (unsigned long long)rec->number, label);
		drop_batch(a, EX_DATAERR);
		return 0;
	}
	if (b->records != a->records) {
		err_error("%s: %s says %lld records but %lld arrived; not committed", s->name,
		          label, (long long)b->records, (long long)a->records);
		drop_batch(a, EX_DATAERR);
		return 0;
	}
	if (prev >= b->id) {
		err_warn("%s: %s comes after batch %s/%lld in the stream, and batch ids must "
		         "increase; skipped",
		         s->name, label, app, (long long)prev);
		discard_batch(a);
		a->skipped++;
		set_status(a, EX_REJECTS);
		return 0;
	}
	if (a->w && delta_writer_finish(a->w, e) < 0) {
		discard_batch(a);
		return -1;
	}
	return commit_batch(a, app, b->id, label, e);
}

/*
 * The input ended with records after its last marker (or without any):
 * decide what they are.  -1 only for fatal errors.
 */
static int end_input(struct app *a, struct stream *s, struct err_msg *e)
{
	if (s->markers) {
		err_error("%s: input ended inside a batch (%lld records without their marker); "
		          "not committed",
		          s->name, (long long)a->records);
		drop_batch(a, EX_DATAERR);
		return 0;
	}
	if (a->bad) {
		err_error("%s: the input has rejected records; nothing committed", s->name);
		drop_batch(a, EX_DATAERR);
		return 0;
	}
	if (a->batch_id >= 0) {
		/* --app-id and --batch-id name this batch: loaded once, however often it is run. */
		char label[REC_APP_MAX + 64];
		snprintf(label, sizeof label, "batch %s/%lld", a->app_id, (long long)a->batch_id);
		if (a->w && delta_writer_finish(a->w, e) < 0) {
			discard_batch(a);
			return -1;
		}
		return commit_batch(a, a->app_id, a->batch_id, label, e);
	}
	if (a->has_batch_id) {
		/*
		 * Records of a batch (they carry batch_id) and no marker: a
		 * pipeline cut before its first marker.  Committing them would
		 * load them twice once the stream is replayed whole.
		 */
		err_error("%s: input ended inside a batch (%lld record%s carrying batch_id, and no "
		          "batch marker); not committed (to load a stream without markers, name it "
		          "with --app-id and --batch-id)",
		          s->name, (long long)a->records, a->records == 1 ? "" : "s");
		drop_batch(a, EX_DATAERR);
		return 0;
	}
	if (a->app_id)
		err_warn(
		    "%s: the input has no batch markers and no --batch-id, so loading it is not "
		    "idempotent: running it again loads it again",
		    s->name);
	if (a->w && delta_writer_finish(a->w, e) < 0) {
		discard_batch(a);
		return -1;
	}
	return commit_batch(a, NULL, -1, "the input", e);
}

/*
 * Read one input to its end.  Returns 0 (problems of the input itself are
 * reported and set the status), or -1 for what stops the run (e set).
 */
static int load_input(struct app *a, int fd, const char *name, size_t max_line, struct err_msg *e)
{
	struct rec_reader *r = rec_reader_new(fd, name, max_line);
	struct delta_cell *cells = calloc(a->ncols ? a->ncols : 1, sizeof *cells);
	if (!r || !cells) {
		rec_reader_free(r);
		free(cells);
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	rec_reader_set_interrupt(r, &stop_signal);
	rec_reader_set_lazy(r, a->tick_table);
	struct stream s = {name, 0, STRMAP_INIT};
	struct rec rec;
	int rc = 0, k, broken = 0;
	struct err_msg re;
	while (!stop_signal && (k = rec_read(r, &rec, &re)) != REC_END) {
		if (k < 0) {
			if (stop_signal)
				break;
			/* The input cannot go on: its batch in progress is dropped, the next input read. */
			err_error("%s", re.text);
			if (a->records || a->bad) {
				err_error(
				    "%s: the batch in progress (%lld records) is not committed",
				    name, (long long)a->records);
				a->discarded++;
			}
			discard_batch(a);
			set_status(a, re.status ? re.status : EX_IOERR);
			broken = 1;
			break;
		}
		if (k == REC_BAD) {
			err_record("%s", re.text);
			a->bad = 1;
			continue;
		}
		/* (a failed marker, as a reader that failed ends its rows with, is refused below) */
		if ((k == REC_BAD_MARKER || (k == REC_BATCH && rec.batch.status == BATCH_OK)) &&
		    !s.markers && a->batch_id >= 0)
			err_warn(
			    "%s: the input has batch markers: their ids are used, not --batch-id",
			    name);
		if (k == REC_BAD_MARKER) {
			/* The batch it ends fails; the stream goes on with the next one. */
			s.markers = 1;
			err_error("%s; the batch it ends (%lld records) is not committed", re.text,
			          (long long)a->records);
			drop_batch(a, EX_DATAERR);
			continue;
		}
		if (k == REC_CONTROL)
			continue;
		if (k == REC_BATCH) {
			s.markers = 1;
			if (end_batch(a, &s, &rec, e) < 0) {
				rc = -1;
				break;
			}
			continue;
		}
		if (a->bad) {
			a->records++;
			continue;
		}
		struct err_msg ce;
		if (record_cells(a, r, &rec, cells, &ce) < 0) {
			err_record("%s: record %llu: %s", name, (unsigned long long)rec.number,
			           ce.text);
			a->bad = 1;
			a->records++;
			continue;
		}
		if (a->batch_id_col >= 0 && !cells[a->batch_id_col].null)
			a->has_batch_id = 1;
		a->records++;
		if (a->merge) {
			int mk = merge_put(a, cells, &ce);
			if (mk == 1) {
				err_record("%s: record %llu: %s", name,
				           (unsigned long long)rec.number, ce.text);
				a->bad = 1;
				continue;
			}
			if (mk < 0) {
				*e = ce;
				rc = -1;
				break;
			}
		} else if (delta_writer_put(a->w, cells, e) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && !broken && stop_signal) {
		if (a->records) {
			err_warn(
			    "%s: stopped by signal %d; the batch in progress (%lld records) is not "
			    "committed",
			    name, (int)stop_signal, (long long)a->records);
			set_status(a, EX_TEMPFAIL);
		}
		discard_batch(a);
	} else if (rc == 0 && !broken && (a->records || a->bad)) {
		rc = end_input(a, &s, e);
	}
	if (rc < 0)
		discard_batch(a);
	stream_free(&s);
	free(cells);
	rec_reader_free(r);
	return rc;
}

/* The run's summary: what was committed, then what was not (when anything was not). */
static void summary(const struct app *a)
{
	if (a->committed == 0)
		err_warn("%s: nothing committed", a->table);
	else if (a->first_version == a->last_version)
		err_warn("%s: version %lld: %lld batch%s, %lld record%s, %lld file%s", a->table,
		         (long long)a->first_version, (long long)a->committed,
		         a->committed == 1 ? "" : "es", (long long)a->committed_records,
		         a->committed_records == 1 ? "" : "s", (long long)a->committed_files,
		         a->committed_files == 1 ? "" : "s");
	else
		err_warn("%s: versions %lld-%lld: %lld batch%s, %lld record%s, %lld file%s",
		         a->table, (long long)a->first_version, (long long)a->last_version,
		         (long long)a->committed, a->committed == 1 ? "" : "es",
		         (long long)a->committed_records, a->committed_records == 1 ? "" : "s",
		         (long long)a->committed_files, a->committed_files == 1 ? "" : "s");
	char skipped[64] = "", discarded[64] = "";
	if (a->skipped)
		snprintf(skipped, sizeof skipped, "%lld batch%s skipped as already loaded",
		         (long long)a->skipped, a->skipped == 1 ? "" : "es");
	if (a->discarded)
		snprintf(discarded, sizeof discarded, "%lld batch%s not committed",
		         (long long)a->discarded, a->discarded == 1 ? "" : "es");
	if (a->skipped || a->discarded)
		err_warn("%s: %s%s%s", a->table, skipped, a->skipped && a->discarded ? ", " : "",
		         discarded);
}

/*
 * --txn-version: the table's txn version of an application, or -1, on
 * stdout; what a job that feeds the table exactly once reads to know where
 * it stopped.  An exit status.
 */
static int print_txn_version(const struct config *cfg, const char *table, const char *app)
{
	struct buf root = BUF_INIT;
	struct delta_snapshot snap;
	struct delta_load_opts lo = {-1, -1, 1, 0, 0};
	struct err_msg e;
	struct delta_store *store = NULL;
	int rc = EX_OK;
	if (!(store = delta_table_open(cfg, table, 0, &root, &e))) {
		rc = cli_report(usage, &e);
		goto out;
	}
	/* Through the store, which finishes what a writer left incomplete and knows the latest version. */
	if (delta_store_load(store, &lo, &snap, &e) < 0) {
		err_error("%s", e.text);
		rc = e.status ? e.status : EX_DATAERR;
		goto out;
	}
	if (delta_check_read(&snap, &e) < 0) {
		err_error("%s", e.text);
		rc = e.status;
	} else if (printf("%lld\n", (long long)delta_txn_version(&snap, app)) < 0 ||
	           fflush(stdout) != 0) {
		err_error_errno("stdout");
		rc = EX_IOERR;
	}
	delta_snapshot_free(&snap);
out:
	delta_store_close(store);
	buf_free(&root);
	return rc;
}

/*
 * Upserts by key (from --merge-key when given, else the table's property):
 * an upsert reads the snapshot's file lists to find the files its keys may
 * be in, so a snapshot loaded without them is loaded again.  An exit
 * status.
 */
static int upsert_setup(struct app *a, const char *key, int from_option, const char *latest,
                        struct err_msg *e)
{
	if (merge_setup(a, key, e) < 0) {
		if (from_option && e->status == EX_USAGE)
			return cli_usage_error(usage, "--merge-key: %s", e->text);
		err_error("%s%s", e->text,
		          from_option ? "" : " (the table's " DELTA_MERGE_KEY_PROPERTY ")");
		return e->status == EX_USAGE ? EX_DATAERR : e->status;
	}
	if (latest && merge_latest_by(a, latest, e) < 0)
		return cli_usage_error(usage, "--latest-by: %s", e->text);
	int stale = delta_snapshot_check(&a->snap, e);
	if (stale < 0) {
		err_error("%s", e->text);
		return e->status ? e->status : EX_DATAERR;
	}
	if (a->snap.no_files || stale == DELTA_SNAPSHOT_STALE) {
		/* The table named its key (its file lists are needed after all), or moved on. */
		struct delta_snapshot full;
		struct delta_load_opts lo = {-1, -1, 0, 0, 1};
		if (delta_store_load(a->store, &lo, &full, e) < 0) {
			err_error("%s", e->text);
			return e->status ? e->status : EX_DATAERR;
		}
		delta_snapshot_free(&a->snap);
		a->snap = full;
	}
	if (delta_check_write(&a->snap, e) < 0 || still_writable(a, &a->snap, e) < 0) {
		err_error("%s", e->text);
		return e->status ? e->status : EX_DATAERR;
	}
	if (delta_append_only(&a->snap)) {
		err_error("%s: the table is append-only (delta.appendOnly=true), and an upsert "
		          "replaces rows",
		          a->table);
		return EX_DATAERR;
	}
	err_info("%s: upserting by (%s)", a->table, merge_key_text(a));
	return EX_OK;
}

/*
 * A copy of the table's schema (with its physical names under column
 * mapping) and partition columns for the files to be written with.
 */
static int copy_layout(struct app *a, struct err_msg *e)
{
	const struct delta_metadata *m = &a->snap.meta;
	if (!(a->column_mapping = strdup(delta_column_mapping_mode(&a->snap)))) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	a->wopts.column_mapping = a->column_mapping;
	if (delta_schema_parse_json(m->schema_string, strlen(m->schema_string), &a->tschema, e) <
	        0 ||
	    delta_schema_map(&a->tschema, a->column_mapping, e) < 0)
		return -1;
	a->npart = m->n_partition_columns;
	a->part_cols = calloc(a->npart + 1, sizeof *a->part_cols);
	for (size_t i = 0; a->part_cols && i < a->npart; i++)
		if (!(a->part_cols[i] = strdup(m->partition_columns[i]))) {
			err_set(e, EX_SOFTWARE, "out of memory");
			return -1;
		}
	if (!a->part_cols) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	/*
	 * An upsert's batch is held in buffers freed when it is committed, and
	 * each file's pages in buffers freed when it is closed: malloc's
	 * default handed that memory back to the kernel every time, and
	 * faulting it in again took a seventh of a silver load.  Freed memory
	 * is kept instead, which the largest batch and file bound.
	 */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	static const struct option longopts[] = {
	    {"app-id", required_argument, NULL, 'a'},
	    {"batch-id", required_argument, NULL, 'b'},
	    {"commit-retries", required_argument, NULL, 'r'},
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {"latest-by", required_argument, NULL, 'l'},
	    {"max-open-files", required_argument, NULL, 'o'},
	    {"merge-key", required_argument, NULL, 'm'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"target-file-size", required_argument, NULL, 't'},
	    {"threads", required_argument, NULL, 'j'},
	    {"txn-version", required_argument, NULL, 'x'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL, *o_retries = NULL, *o_open = NULL, *o_target = NULL,
	           *o_threads = NULL, *o_batch = NULL, *o_merge = NULL, *o_txn = NULL,
	           *o_latest = NULL;
	struct app a = {0};
	int level = ERR_NORMAL, ch;
	struct err_msg e;
	err_init(argv[0]);
	a.batch_id = -1;
	a.first_version = a.last_version = -1;
	while ((ch = cli_getopt(usage, argc, argv, "hqv", longopts)) != -1) {
		switch (ch) {
		case 'a':
			a.app_id = optarg;
			break;
		case 'b':
			o_batch = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'h':
			return cli_help(usage, options);
		case 'j':
			o_threads = optarg;
			break;
		case 'l':
			o_latest = optarg;
			break;
		case 'm':
			o_merge = optarg;
			break;
		case 'o':
			o_open = optarg;
			break;
		case 'q':
			level = ERR_QUIET;
			break;
		case 'r':
			o_retries = optarg;
			break;
		case 't':
			o_target = optarg;
			break;
		case 'v':
			level++;
			break;
		case 'V':
			return cli_version();
		case 'x':
			o_txn = optarg;
			break;
		default:
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	err_set_level(level);
	if (argc < 1)
		return cli_usage_error(usage, "no table given");
	if (o_txn && (argc > 1 || a.app_id || o_batch || o_merge || o_retries || o_open ||
	              o_target || o_threads || o_latest))
		return cli_usage_error(usage, "--txn-version takes a table and nothing to load");
	if (a.app_id && (!*a.app_id || strlen(a.app_id) > REC_APP_MAX))
		return cli_bad_value(usage, "--app-id", a.app_id, "1 to %d bytes", REC_APP_MAX);
	if (o_merge && (!*o_merge || strlen(o_merge) > 4096))
		return cli_bad_value(usage, "--merge-key", o_merge,
		                     "1 to 4096 bytes of column names");
	if (o_batch) {
		if (!a.app_id)
			return cli_usage_error(usage, "--batch-id needs --app-id");
		if (argc > 2)
			return cli_usage_error(usage, "--batch-id names one batch: give one input");
		if (config_parse_int(o_batch, "--batch-id", 0, INT64_MAX, &a.batch_id, &e) < 0)
			return cli_usage_error(usage, "%s", e.text);
	}

	struct config *cfg = config_open(config, &e);
	if (!cfg)
		err_die(e.status, "%s", e.text);
	if (o_txn) {
		int st = print_txn_version(cfg, argv[0], o_txn);
		config_free(cfg);
		return st;
	}
	meta_open(cfg);
	int64_t retries, max_open, target, max_line;
	const char *from;
	const char *v = config_value(cfg, o_retries, NULL, "delta", "commit_retries", "15", &from);
	if (config_parse_int(v, o_retries ? "--commit-retries" : "[delta] commit_retries", 0, 10000,
	                     &retries, &e) < 0)
		exit(setting_error(o_retries, &e));
	v = config_value(cfg, o_open, NULL, "delta", "max_open_files", "16", &from);
	if (config_parse_int(v, o_open ? "--max-open-files" : "[delta] max_open_files", 1, 4096,
	                     &max_open, &e) < 0)
		exit(setting_error(o_open, &e));
	v = config_value(cfg, o_target, NULL, "delta", "target_file_size", "134217728", &from);
	if (config_parse_int(v, o_target ? "--target-file-size" : "[delta] target_file_size", 4096,
	                     INT64_MAX, &target, &e) < 0)
		exit(setting_error(o_target, &e));
	char ncpu[16];
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(ncpu, sizeof ncpu, "%ld", online < 1 ? 1 : online > 4 ? 4 : online);
	int64_t threads;
	v = config_value(cfg, o_threads, NULL, "delta", "threads", ncpu, &from);
	int threads_default = from && strcmp(from, "default") == 0;
	if (config_parse_int(v, o_threads ? "--threads" : "[delta] threads", 1, 64, &threads, &e) <
	    0)
		exit(setting_error(o_threads, &e));
	v = config_value(cfg, NULL, NULL, "streams", "max_line", "16777216", &from);
	if (config_parse_int(v, "[streams] max_line", 1024, INT32_MAX, &max_line, &e) < 0)
		err_die(EX_CONFIG, "%s", e.text);
	a.retries = retries;
	delta_writer_opts_init(&a.wopts);
	a.wopts.max_open = (size_t)max_open;
	a.wopts.target_size = target;
	a.table = argv[0];

	struct buf root = BUF_INIT;
	int rc = EX_OK;
	/* The store first: a table it cannot commit to is refused before any data file is written. */
	if (!(a.store = delta_table_open(cfg, argv[0], DELTA_TABLE_WRITE, &root, &e))) {
		rc = cli_report(usage, &e);
		goto out_cfg;
	}
	a.root = root.data;
	if (!(a.ckpt = delta_checkpointer_new())) {
		err_error("out of memory");
		rc = EX_SOFTWARE;
		goto out_cfg;
	}
	/*
	 * The snapshot without file lists (an append needs none; an upsert
	 * needs the live files, never the tombstones), every action checked,
	 * through the store (which first finishes what a writer left
	 * incomplete, and may know newer commits than a listing shows); the
	 * listing that proves the log has no gap finishes while the first
	 * batch is written, and is waited for before its commit.
	 */
	struct delta_load_opts lo = {-1, -1, !o_merge, 1, 1};
	if (delta_store_load(a.store, &lo, &a.snap, &e) < 0) {
		err_error("%s%s", e.text,
		          strstr(e.text, "not a Delta table") ? " (create it with delta-create)"
		                                              : "");
		rc = e.status;
		goto out_cfg;
	}
	if (a.snap.has_notice)
		err_warn("%s", a.snap.notice.text);
	if (delta_check_write(&a.snap, &e) < 0 || copy_layout(&a, &e) < 0 ||
	    setup_columns(&a, &e) < 0) {
		err_error("%s", e.text);
		rc = e.status;
		goto out;
	}
	const char *key =
	    o_merge ? o_merge : delta_property(&a.snap, DELTA_MERGE_KEY_PROPERTY, NULL);
	if (o_latest && !key) {
		rc = cli_usage_error(usage, "--latest-by: %s has no merge key; give --merge-key",
		                     a.table);
		goto out;
	}
	if (key && (rc = upsert_setup(&a, key, o_merge != NULL, o_latest, &e)) != EX_OK)
		goto out;
	a.wopts.stats_cols = delta_stats_columns(&a.snap);
	/*
	 * On a FUSE mount (s3fs) each file's creation and upload waits on the
	 * bucket rather than on a processor: more writers keep more requests
	 * in flight.
	 */
	if (threads_default && delta_on_fuse(a.root) == 1)
		threads = FUSE_WRITER_THREADS;
	a.wopts.threads = (int)threads;
	/* Appends write through one writer for the run; upserts make theirs per batch (merge.c). */
	if (!a.merge &&
	    !(a.w = delta_writer_new(a.root, &a.tschema, a.part_cols, a.npart, &a.wopts, &e))) {
		err_error("%s", e.text);
		rc = e.status;
		goto out;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if (argc == 1) {
		if (load_input(&a, STDIN_FILENO, "stdin", (size_t)max_line, &e) < 0)
			goto fatal;
	}
	for (int i = 1; i < argc && !stop_signal; i++) {
		int fd =
		    strcmp(argv[i], "-") == 0 ? STDIN_FILENO : open(argv[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			/* Reported, and the next input loaded: the status says one was missed. */
			err_error_errno("%s", argv[i]);
			set_status(&a, EX_IOERR);
			continue;
		}
		int lr = load_input(&a, fd, strcmp(argv[i], "-") == 0 ? "stdin" : argv[i],
		                    (size_t)max_line, &e);
		if (fd != STDIN_FILENO)
			close(fd);
		if (lr < 0)
			goto fatal;
	}
	/* A run that committed nothing has not yet heard whether the log has a gap. */
	if (delta_snapshot_check(&a.snap, &e) < 0) {
		err_error("%s", e.text);
		set_status(&a, e.status ? e.status : EX_DATAERR);
	}
	rc = a.status;
	goto out;
fatal:
	err_error("%s", e.text);
	rc = e.status ? e.status : EX_SOFTWARE;
out:
	note_checkpoints(&a, 1);
	delta_writer_free(a.w);
	merge_free(&a);
	err_record_end(NULL);
	if (a.cols)
		summary(&a);
	for (size_t i = 0; i < a.ncols; i++)
		buf_free(&a.cols[i].scratch);
	free(a.cols);
	for (size_t i = 0; a.part_cols && i < a.npart; i++)
		free(a.part_cols[i]);
	free(a.part_cols);
	free(a.column_mapping);
	delta_schema_free(&a.tschema);
	delta_snapshot_free(&a.snap);
out_cfg:
	delta_checkpointer_free(a.ckpt);
	delta_store_close(a.store);
	buf_free(&root);
	config_free(cfg);
	return rc;
}

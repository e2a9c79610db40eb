/*
 * meta: the job's facts (runs, stages, API requests, check results,
 * commits, watermarks) as lines of the local spool: the one format that
 * the programs, the job runner and the loader share (stocketl(7),
 * METADATA).
 *
 * Recording never makes the data path wait: a program appends each fact
 * as one line to a file of its own under the spool directory, with one
 * write(2), and goes on; `stocketl-db load-spool` moves the spool into
 * PostgreSQL whenever it can reach it.  A spool that cannot be written is
 * said once on stderr and recording stops; the program's work and its
 * exit status are not affected.
 *
 * Where: $STOCKETL_SPOOL, else <state>/spool where <state> is
 * $STOCKETL_STATE, else [job] state, else ./var.  A program records only
 * when a spool is in use: $STOCKETL_SPOOL set (the runner sets it for
 * every stage), or the state directory set by $STOCKETL_STATE or
 * [job] state.  The run id is $STOCKETL_RUN_ID (absent: null).
 *
 * Files: <spool>/<epoch_us>-<pid>-<program>.ndjson.part while written,
 * renamed to <same>.ndjson when the writer is done (at exit).  The writer
 * holds an exclusive flock(2) on its .part file as long as it lives, so a
 * loader tells a live writer from a dead one without trusting process ids
 * alone.  A line's identity is (its file's name without ".part", its line
 * number), the same before and after the rename.
 *
 * Ownership: the writer is process-wide (one file per process, opened on
 * the first fact, closed and renamed by meta_close() or at exit).  A fact
 * read back (struct meta_fact) points into its reader, valid until the
 * next read or meta_reader_close().
 */
#ifndef STOCKETL_META_H
#define STOCKETL_META_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/err.h"

#define META_SPOOL_ENV  "STOCKETL_SPOOL"
#define META_STATE_ENV  "STOCKETL_STATE"
#define META_RUN_ID_ENV "STOCKETL_RUN_ID"

/* The longest line a writer writes and a reader accepts, its newline included. */
#define META_LINE_MAX (64 * 1024)
/* The longest text member (a reason, a check's name); longer ones are cut by writers. */
#define META_TEXT_MAX 2048

/* A missing integer or time (JSON null). */
#define META_NULL INT64_MIN

/*
 * The spool directory that the environment and c (may be NULL) name, into
 * out (reset first).  Returns 1 when a spool is in use (see above), 0 when
 * the programs record nothing (out still holds where the spool would be),
 * -1 when out of memory.
 */
int meta_spool_dir(const struct config *c, struct buf *out);
/*
 * A spool named by the user (--spool DIR) must be a directory: a mistyped
 * path is not an empty spool, as the default one not made yet is.  0, or
 * -1 with e set (EX_IOERR, "--spool DIR: ...").
 */
int meta_spool_named(const char *dir, struct err_msg *e);

/* Writer ------------------------------------------------------------------------------------ */

/*
 * Decide, once per process, whether facts are recorded and where (from
 * the environment and c, which may be NULL).  Nothing is created until the
 * first fact.  A program that records calls this after reading its
 * configuration; without it, the functions below record nothing.
 */
void meta_open(const struct config *c);
/* Is a spool in use for this process (and still writable)? */
int meta_active(void);
/*
 * Close the file and rename it from .part to .ndjson; also run at exit
 * once meta_open() found a spool in use.  Idempotent.
 */
void meta_close(void);
/* The path of this process's spool file (.part while open), or NULL when none was made. */
const char *meta_file_path(void);

/*
 * An API request as av-fetch made it: one line per request, after its last
 * attempt.  Strings may be NULL (written as null) except symbol, function
 * and outcome; latency_ms and http_status may be META_NULL.  The API key
 * is never among them.
 */
struct meta_request {
	const char *symbol, *function, *interval, *month, *outputsize, *outcome;
	int attempts;
	int64_t latency_ms;
	int64_t http_status;
};

/*
 * A data-quality check judged on a batch.  batch_app NULL and batch_id
 * META_NULL for records without a marker; value is a JSON number's text or
 * NULL; outcome is pass, warn, fail or skipped.
 */
struct meta_check {
	const char *batch_app;
	int64_t batch_id;
	const char *check, *metric, *value, *outcome;
};

/*
 * A Delta commit, after it succeeded: the table's root path, the version
 * written, the batch it carried (batch_app NULL and batch_id META_NULL
 * when none), what it added, and the operation (WRITE, MERGE, OPTIMIZE).
 */
struct meta_commit {
	const char *table;
	int64_t version;
	const char *batch_app;
	int64_t batch_id;
	int64_t rows, files, bytes;
	const char *operation;
};

/* The newest bar of a symbol and interval loaded into bronze (µs since the epoch). */
struct meta_watermark {
	const char *symbol, *interval;
	int64_t newest;
};

/*
 * Record one fact.  Each returns 0 when the line was written or no spool is
 * in use, -1 when it could not be written (said once on stderr; recording
 * stops for the rest of the process).  Callers may ignore the result.
 */
int meta_request(const struct meta_request *r);
int meta_check(const struct meta_check *c);
int meta_commit(const struct meta_commit *c);
int meta_watermark(const struct meta_watermark *w);

/* Reading the spool ------------------------------------------------------------------------- */

enum meta_kind {
	META_RUN,
	META_STAGE,
	META_REQUEST,
	META_CHECK,
	META_COMMIT,
	META_WATERMARK,
	META_KIND_COUNT
};

/* "run", "stage", ... as written in the fact member. */
const char *meta_kind_name(int kind);

/*
 * A fact read back.  Strings are NUL-terminated, NULL for null or absent;
 * integers and times (µs since the epoch) are META_NULL for null or
 * absent.  Which members a kind has: stocketl(7), METADATA.  value (of a
 * check) is the JSON number's text.
 */
struct meta_fact {
	int kind;
	const char *run_id, *program;
	int64_t at;
	/* run, stage */
	const char *job, *stage, *failed_stage, *reason, *host;
	int64_t attempt, started_at, ended_at, status, records_in, records_out, rejected;
	/* request, watermark */
	const char *symbol, *function, *interval, *month, *outputsize, *outcome;
	int64_t attempts, latency_ms, http_status, newest;
	/* check, commit */
	const char *batch_app, *check, *metric, *value, *table, *operation;
	int64_t batch_id, version, rows, files, bytes;
};

/*
 * Parse one line (without its newline) into f, whose strings then point
 * into arena (reset first).  Members the contract does not name are
 * ignored, so that a newer writer's additions do not stop an older loader.
 * Returns 0, or -1 with why (EX_DATAERR, "what is wrong") when the line is
 * not a fact: not one JSON object, a repeated member, an unknown fact, a
 * required member missing, a member of the wrong type.
 */
int meta_parse(const char *line, size_t len, struct meta_fact *f, struct buf *arena,
               struct err_msg *e);

/* A spool file found by meta_spool_list(). */
struct meta_file {
	char name[256];     /* as on disk */
	char source[256];   /* the name without ".part": a line's identity is (source, line) */
	int part;           /* still being written, or its writer died */
	int64_t created_us; /* from the name */
	pid_t pid;          /* from the name */
};

/*
 * The spool files of dir, sorted by name (which is by creation time).
 * Names that do not follow the contract are left out.  A missing dir is
 * an empty spool.  Returns 0 (free *files), or -1 with e (EX_IOERR).
 */
int meta_spool_list(const char *dir, struct meta_file **files, size_t *n, struct err_msg *e);

/*
 * Is the writer of a .part file alive?  1 when it holds the file's lock,
 * or, for writers that take no lock (a shell), when a process with the
 * file's pid runs and started no later than the file was created (a pid
 * reused by a later process is not the writer; a zombie, which has exited
 * but not been waited for, does not run).  0 when it is gone.  Without
 * /proc, a process with the file's pid counts as its running writer.
 */
int meta_part_live(const char *dir, const struct meta_file *f);

/* What meta_reader_next() found. */
enum meta_read {
	META_EOF = 0,
	META_LINE, /* a fact, in f */
	META_BAD,  /* a complete line that is not a fact: e says why (with file and line) */
	META_TORN, /* the last line has no newline: a write that did not finish; ignore it */
	META_IOERR = -1
};

struct meta_reader;
/* Open a spool file for reading; NULL with e (EX_IOERR; errno ENOENT when it is gone). */
struct meta_reader *meta_reader_open(const char *path, struct err_msg *e);
/* The next line: its number (1-based) in *line.  See enum meta_read. */
int meta_reader_next(struct meta_reader *r, struct meta_fact *f, uint64_t *line, struct err_msg *e);
void meta_reader_close(struct meta_reader *r);

/* "2026-12-06T10:15:00.000000Z": always six fractional digits (the spool's form). */
#define META_TIME_MAX 40
size_t meta_format_time(int64_t us, char out[META_TIME_MAX]);

#endif

/*
 * delta-history: list a table's commits, newest first.
 *
 * Each commit's commitInfo gives the operation, its parameters and metrics;
 * a commit without one (older writers) still gets a line, with the file's
 * modification time as its timestamp.  Versions whose JSON was removed by
 * log cleanup are not listed.  Output is one JSON object per line, or an
 * aligned table when stdout is a terminal (--format overrides), printed
 * once the widest value of each of its columns is known.  The JSON
 * carries everything commitInfo recorded; the table, for people, shows of
 * the operations it knows (WRITE, MERGE, OPTIMIZE, VACUUM START and END,
 * ...) only the parameters and metrics that say what they did, with sizes
 * and retentions in units.  The versions and their text come through the
 * table's commit store, so a table on s3fs lists what PostgreSQL knows,
 * whatever the mount's caches show.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cli.h"
#include "base/config.h"
#include "delta/delta.h"
#include "delta/delta_store.h"
#include "base/err.h"
#include "text/json.h"
#include "record/stream.h"
#include "text/ts.h"

static const char usage[] =
    "usage: delta-history [-qv] [--config FILE] [--format json|table] [--limit N] TABLE\n";

static const struct cli_option options[] = {
    {"--config FILE", "the configuration file"},
    {"--format json|table", "the output (default: a table on a terminal)"},
    {"-n, --limit N", "at most N commits, newest first"},
    {NULL, NULL},
};

/* The commitInfo object of a commit's text, or NULL (caller frees). */
static struct json *find_commit_info(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *s = p;
		p = nl ? nl + 1 : end;
		/* Cheap filter before a full parse. */
		const char *hit = NULL;
		for (const char *q = s; q + 13 <= le; q++)
			if (memcmp(q, "\"commitInfo\"", 12) == 0) {
				hit = q;
				break;
			}
		if (!hit)
			continue;
		struct err_msg e;
		struct json *j = json_parse(s, (size_t)(le - s), &e);
		if (j && json_type(json_get(j, "commitInfo")) == JSON_OBJECT)
			return j;
		json_free(j);
	}
	return NULL;
}

static int64_t file_mtime_ms(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

/* Append member "key":<json of v, or null> */
static void put_member(struct buf *b, const char *key, const struct json *v)
{
	buf_putc(b, ',');
	buf_json_str(b, key, strlen(key));
	buf_putc(b, ':');
	if (v)
		json_print(v, b);
	else
		buf_puts(b, "null");
}

/*
 * What the table shows of each operation: the parameters and metrics that
 * say what it did, by Spark's names (the JSON output keeps them all).  An
 * operation not listed shows everything it recorded.
 */
struct op_view {
	const char *op;
	const char *params[4];
	const char *metrics[8];
};

static const struct op_view views[] = {
    {"WRITE", {"mode", "predicate"}, {"numFiles", "numOutputRows", "numOutputBytes"}},
    {"STREAMING UPDATE",
     {"outputMode", "epochId"},
     {"numAddedFiles", "numRemovedFiles", "numOutputRows", "numOutputBytes"}},
    {"CREATE TABLE", {"partitionBy", "properties"}, {NULL}},
    {"CREATE OR REPLACE TABLE", {"partitionBy", "properties"}, {NULL}},
    {"REPLACE TABLE", {"partitionBy", "properties"}, {NULL}},
    {"CREATE TABLE AS SELECT",
     {"partitionBy", "properties"},
     {"numFiles", "numOutputRows", "numOutputBytes"}},
    {"MERGE",
     {"predicate"},
     {"numSourceRows", "numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsDeleted",
      "numTargetRowsCopied", "numTargetFilesAdded", "numTargetFilesRemoved"}},
    {"DELETE",
     {"predicate"},
     {"numDeletedRows", "numCopiedRows", "numAddedFiles", "numRemovedFiles"}},
    {"UPDATE",
     {"predicate"},
     {"numUpdatedRows", "numCopiedRows", "numAddedFiles", "numRemovedFiles"}},
    {"OPTIMIZE",
     {"predicate", "zOrderBy"},
     {"numRemovedFiles", "numRemovedBytes", "numAddedFiles", "numAddedBytes", "p50FileSize"}},
    {"VACUUM START",
     {"specifiedRetentionMillis", "defaultRetentionMillis"},
     {"numFilesToDelete", "sizeOfDataToDelete"}},
    {"VACUUM END", {"status"}, {"numDeletedFiles", "numVacuumedDirectories"}},
};

static const struct op_view *find_view(const char *op)
{
	for (size_t i = 0; op && i < sizeof views / sizeof views[0]; i++)
		if (strcmp(views[i].op, op) == 0)
			return &views[i];
	return NULL;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * Text from the log for the table: control characters escaped (\n, \t,
 * \xHH), so that a commit stays on one line and a value cannot send
 * escape sequences to the terminal.
 */
static void put_text(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n')
			buf_puts(b, "\\n");
		else if (c == '\t')
			buf_puts(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\x%02x", c);
		else
			buf_putc(b, (char)c);
	}
}

/*
 * A value for people: sizes in KiB, MiB, ...; retentions as durations;
 * anything else as recorded.
 */
static void put_value(struct buf *b, const char *key, const struct json *v)
{
	const char *text = json_type(v) == JSON_STRING ? json_str(v) : NULL;
	char *end = NULL;
	long long n = text && *text ? strtoll(text, &end, 10) : 0;
	int number = text && *text && end && *end == '\0' && n >= 0;
	/* Spark records metrics as strings, delta-rs as JSON numbers. */
	int64_t whole;
	if (!text && json_type(v) == JSON_NUMBER && json_i64(v, &whole) == 0 && whole >= 0) {
		n = (long long)whole;
		number = 1;
	}
	if (number && (ends_with(key, "Bytes") || ends_with(key, "FileSize") ||
	               strcmp(key, "sizeOfDataToDelete") == 0)) {
		static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
		if (n < 1024) {
			buf_printf(b, "%lldB", n);
			return;
		}
		double d = (double)n / 1024;
		int u = 0;
		while (d >= 1024 && u < 3) {
			d /= 1024;
			u++;
		}
		buf_printf(b, "%.1f%s", d, units[u]);
		return;
	}
	if (number && ends_with(key, "RetentionMillis")) {
		static const struct {
			long long ms;
			const char *unit;
		} units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
		for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
			if (n && n % units[i].ms == 0) {
				buf_printf(b, "%lld%s", n / units[i].ms, units[i].unit);
				return;
			}
		buf_printf(b, "%lldms", n);
		return;
	}
	if (text)
		put_text(b, text);
	else
		json_print(v, b);
}

/* Append key=value, after a space unless it is the first. */
static void put_pair(struct buf *b, int *first, const char *key, const struct json *v)
{
	if (!*first)
		buf_putc(b, ' ');
	*first = 0;
	put_text(b, key);
	buf_putc(b, '=');
	put_value(b, key, v);
}

/*
 * One part of a line of the table: the members of o named in keys, in
 * that order (all of them, in o's order, when keys is NULL or o has none
 * of them), as key=value; "-" when there is none.  Other writers name
 * their parameters and metrics their own way (delta-rs's WRITE records
 * num_added_rows, its OPTIMIZE numFilesAdded): what they recorded is shown
 * rather than hidden behind a "-".
 */
static void flat_object(struct buf *b, const struct json *o, const char *const *keys, size_t nkeys)
{
	int first = 1;
	if (keys) {
		for (size_t k = 0; k < nkeys && keys[k]; k++) {
			const struct json *m = json_get(o, keys[k]);
			if (m)
				put_pair(b, &first, keys[k], m);
		}
	}
	if (first && json_type(o) == JSON_OBJECT) {
		for (const struct json *m = json_first(o); m; m = json_next(m))
			put_pair(b, &first, json_key(m), m);
	}
	if (first)
		buf_putc(b, '-');
}

/*
 * The table's rows, kept until the last one is known: each column is as
 * wide as its widest cell among the rows shown (at least the widths of
 * the table's usual operations), so that a long operation name
 * (CREATE OR REPLACE TABLE AS SELECT) does not push the columns after it
 * out of line.
 */
struct row {
	char version[24], ts[TS_TEXT_MAX];
	char *op, *rest; /* the operation, and its parameters | metrics */
};

struct rows {
	struct row *v;
	size_t n, cap;
};

/* Columns as wide as text of this many characters (UTF-8 sequences), at the least. */
#define VERSION_WIDTH 8
#define TS_WIDTH      24
#define OP_WIDTH      16

/* Characters of a cell: the table's text is UTF-8 (the log is JSON) with controls escaped. */
static size_t text_width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Append a row of copies of the texts; -1 when out of memory. */
static int rows_add(struct rows *t, int64_t version, const char *ts, const char *op,
                    const char *rest)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		struct row *v = realloc(t->v, cap * sizeof *v);
		if (!v)
			return -1;
		t->v = v;
		t->cap = cap;
	}
	struct row *r = &t->v[t->n];
	snprintf(r->version, sizeof r->version, "%lld", (long long)version);
	snprintf(r->ts, sizeof r->ts, "%s", ts);
	r->op = strdup(op);
	r->rest = strdup(rest);
	if (!r->op || !r->rest) {
		free(r->op);
		free(r->rest);
		return -1;
	}
	t->n++;
	return 0;
}

static void rows_free(struct rows *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].op);
		free(t->v[i].rest);
	}
	free(t->v);
}

/* text, then spaces to width characters, then the space between columns. */
static void put_cell(struct buf *b, const char *text, size_t width)
{
	buf_puts(b, text);
	for (size_t n = text_width(text); n < width; n++)
		buf_putc(b, ' ');
	buf_putc(b, ' ');
}

/*
 * Write one line of output and empty the buffer.  -1 when the output
 * failed: *rc becomes 74 (reported), except when the reader went away
 * (delta-history T | head -1), which is a quiet end.
 */
static int put_line(struct rec_writer *w, struct buf *line, int *rc)
{
	struct err_msg e;
	int put = rec_write_json(w, line->data, line->len, &e);
	buf_reset(line);
	if (put == 0)
		return 0;
	if (!rec_writer_broken_pipe(w)) {
		err_error("%s", e.text);
		*rc = EX_IOERR;
	}
	return -1;
}

/* Write the header and the rows of the table, its columns aligned; -1 as put_line(). */
static int put_table(struct rec_writer *w, const struct rows *t, struct buf *line, int *rc)
{
	size_t wv = VERSION_WIDTH, wt = TS_WIDTH, wo = OP_WIDTH;
	for (size_t i = 0; i < t->n; i++) {
		size_t n;
		if ((n = text_width(t->v[i].version)) > wv)
			wv = n;
		if ((n = text_width(t->v[i].ts)) > wt)
			wt = n;
		if ((n = text_width(t->v[i].op)) > wo)
			wo = n;
	}
	put_cell(line, "VERSION", wv);
	put_cell(line, "TIMESTAMP", wt);
	put_cell(line, "OPERATION", wo);
	buf_puts(line, "PARAMETERS | METRICS");
	if (put_line(w, line, rc) < 0)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		put_cell(line, t->v[i].version, wv);
		put_cell(line, t->v[i].ts, wt);
		put_cell(line, t->v[i].op, wo);
		buf_puts(line, t->v[i].rest);
		if (put_line(w, line, rc) < 0)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'}, {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},         {"limit", required_argument, NULL, 'n'},
	    {"quiet", no_argument, NULL, 'q'},        {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	const char *config = NULL, *format = NULL;
	int64_t limit = -1;
	int level = ERR_NORMAL, ch;
	struct err_msg e;
	err_init(argv[0]);
	while ((ch = cli_getopt(usage, argc, argv, "hn:qv", longopts)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'f':
			format = optarg;
			break;
		case 'h':
			return cli_help(usage, options);
		case 'n':
			if (config_parse_int(optarg, "--limit", 0, INT64_MAX, &limit, &e) < 0)
				return cli_usage_error(usage, "%s", e.text);
			break;
		case 'q':
			level = ERR_QUIET;
			break;
		case 'v':
			level++;
			break;
		case 'V':
			return cli_version();
		default:
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	err_set_level(level);
	if (argc != 1)
		return cli_usage_error(usage, argc ? "one table expected" : "no table given");
	if (format && strcmp(format, "json") != 0 && strcmp(format, "table") != 0)
		return cli_bad_value(usage, "--format", format, "json or table");
	int table = format ? strcmp(format, "table") == 0 : isatty(STDOUT_FILENO);

	struct config *cfg = config_open(config, &e);
	if (!cfg)
		err_die(e.status, "%s", e.text);
	struct buf root = BUF_INIT, text = BUF_INIT, line = BUF_INIT;
	struct delta_store *store = NULL;
	int rc = EX_OK;
	if (!(store = delta_table_open(cfg, argv[0], DELTA_TABLE_RECOVER, &root, &e))) {
		rc = cli_report(usage, &e);
		goto out;
	}
	int64_t latest = delta_store_latest(store, &e);
	if (latest < 0) {
		if (latest == -1)
			err_set(&e, EX_DATAERR, "%s: not a Delta table (no commits in _delta_log)",
			        root.data);
		err_error("%s", e.text);
		rc = e.status;
		goto out;
	}
	/* A table deleted from the bucket, its rows left in the store: said so. */
	if (delta_store_log_present(store, latest, &e) < 0) {
		err_error("%s", e.text);
		rc = e.status;
		goto out;
	}
	/* Both forms go through one writer, which tells a reader that went away (EPIPE). */
	struct rec_writer *w = rec_writer_new(dup(STDOUT_FILENO), "stdout", REC_FMT_JSON);
	struct rows rows = {NULL, 0, 0};
	struct buf op_text = BUF_INIT;
	int64_t shown = 0;
	for (int64_t v = latest; v >= 0 && (limit < 0 || shown < limit); v--) {
		int got = delta_store_read(store, v, &text, &e);
		if (got == 1)
			continue; /* removed by log cleanup, or only in a checkpoint */
		if (got < 0) {
			err_error("%s", e.text);
			rc = e.status;
			break;
		}
		shown++;
		struct json *j = find_commit_info(text.data, text.len);
		const struct json *ci = j ? json_get(j, "commitInfo") : NULL;
		int64_t ts = -1;
		/* The in-commit timestamp, where the table has them, is the commit's time. */
		if (json_i64(json_get(ci, "inCommitTimestamp"), &ts) < 0 &&
		    json_i64(json_get(ci, "timestamp"), &ts) < 0) {
			char path[4200];
			delta_commit_path(root.data, v, path, sizeof path);
			ts = file_mtime_ms(path);
		}
		char tstext[TS_TEXT_MAX];
		ts_format_rfc3339_ms(ts * 1000, tstext);
		const char *op = json_str(json_get(ci, "operation"));
		if (table) {
			buf_reset(&op_text);
			put_text(&op_text, op ? op : "-");
			const struct op_view *view = find_view(op);
			flat_object(&line, json_get(ci, "operationParameters"),
			            view ? view->params : NULL, 4);
			buf_puts(&line, " | ");
			flat_object(&line, json_get(ci, "operationMetrics"),
			            view ? view->metrics : NULL, 8);
			int added = buf_failed(&op_text) || buf_failed(&line)
			                ? -1
			                : rows_add(&rows, v, tstext,
			                           op_text.data ? op_text.data : "", line.data);
			json_free(j);
			buf_reset(&line);
			if (added < 0) {
				err_error("out of memory");
				rc = EX_SOFTWARE;
				break;
			}
			continue;
		} else {
			buf_printf(&line, "{\"version\":%lld,\"timestamp\":\"%s\"", (long long)v,
			           tstext);
			put_member(&line, "operation", json_get(ci, "operation"));
			put_member(&line, "operationParameters",
			           json_get(ci, "operationParameters"));
			put_member(&line, "operationMetrics", json_get(ci, "operationMetrics"));
			put_member(&line, "readVersion", json_get(ci, "readVersion"));
			put_member(&line, "isBlindAppend", json_get(ci, "isBlindAppend"));
			put_member(&line, "engineInfo", json_get(ci, "engineInfo"));
			buf_putc(&line, '}');
		}
		json_free(j);
		if (put_line(w, &line, &rc) < 0)
			break;
	}
	/* The rows read before an error that stopped the listing are still shown. */
	if (table)
		put_table(w, &rows, &line, &rc);
	rows_free(&rows);
	buf_free(&op_text);
	int closed = rec_writer_close(w, &e);
	if (closed == -1 && rc == EX_OK) {
		err_error("%s", e.text);
		rc = EX_IOERR;
	}
out:
	delta_store_close(store);
	buf_free(&root);
	buf_free(&text);
	buf_free(&line);
	config_free(cfg);
	return rc;
}

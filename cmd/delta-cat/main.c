/*
 * delta-cat: print a table's rows, at its latest version or an older one,
 * as records.
 *
 * The log is replayed to the version asked for (by number, or the latest
 * committed at or before a time), what cannot be read is refused, and the
 * live data files are read in the order they were added, their partition
 * values restored into the rows.  --where prunes files by partition values
 * and log statistics and row groups by footer statistics before filtering
 * rows exactly.  --since-version reads, instead of the snapshot, the files
 * that data-changing commits after a version added: what an incremental
 * reader has not seen yet; with --batch-every N, as batches of N versions,
 * each ended by a batch marker whose id is its last version (an
 * incremental consumer such as silver's upsert commits each once).
 *
 * Output streams as it is read; a reader that goes away (delta-cat | head)
 * ends the run without a message.
 */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cli.h"
#include "base/config.h"
#include "delta/delta.h"
#include "delta/delta_store.h"
#include "deltacat.h"
#include "base/err.h"
#include "text/ts.h"

static const char usage[] =
    "usage: delta-cat [-qv] [--binary | --csv] [--columns LIST] [--config FILE]\n"
    "                 [--at-timestamp T | --at-version N]\n"
    "                 [--since-version N [--batch-every N --batch-app APP]]\n"
    "                 [--where EXPR] TABLE\n";

static const struct cli_option options[] = {
    {"--at-timestamp T", "the version current at T (RFC 3339, or a date)"},
    {"--at-version N", "read version N instead of the latest"},
    {"--batch-app APP", "the application named in the batch markers"},
    {"--batch-every N", "a batch marker after every N versions"},
    {"--binary", "write binary tick records (never to a terminal)"},
    {"--columns LIST", "only these columns, in this order (comma-separated)"},
    {"--config FILE", "the configuration file"},
    {"--csv", "write CSV with a header (RFC 4180)"},
    {"--since-version N", "only the rows that commits after version N added"},
    {"--where EXPR", "only the rows that match: comparisons joined by 'and'"},
    {NULL, NULL},
};

#define COLUMNS_MAX 4096

struct opts {
	const char *config, *columns, *where_text;
	int format;
	int64_t version, timestamp_ms, since;
	int64_t batch_every; /* 0: no batch markers */
	const char *batch_app;
};

static int is_partition(const struct delta_metadata *m, const char *name)
{
	for (size_t i = 0; i < m->n_partition_columns; i++)
		if (strcmp(m->partition_columns[i], name) == 0)
			return 1;
	return 0;
}

/* "no column x in TABLE (its columns: a, b, c)" */
static void unknown_column(const char *what, const char *name, const char *root,
                           const struct delta_schema *s)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < s->n && b.len < 300; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", s->fields[i].name);
	err_error("%s: no column %s in %s (its columns: %s)", what, name, root,
	          b.data ? b.data : "none");
	buf_free(&b);
}

/*
 * The scanner's columns: the output ones (--columns, or all in schema
 * order), then those only --where needs.  Binds the predicates.
 */
static int build_columns(const struct opts *o, const struct delta_snapshot *snap,
                         struct delta_where *w, struct dc_col **out, size_t *n)
{
	const struct delta_schema *s = &snap->meta.schema;
	size_t cap = (o->columns ? strlen(o->columns) / 2 + 1 : s->n) + w->n + 1;
	struct dc_col *cols = calloc(cap, sizeof *cols);
	size_t nc = 0;
	struct err_msg e;
	*out = cols;
	if (!cols) {
		err_error("out of memory");
		return EX_SOFTWARE;
	}
	if (o->columns) {
		char *list = strdup(o->columns);
		if (!list) {
			err_error("out of memory");
			return EX_SOFTWARE;
		}
		for (char *save = NULL, *name = strtok_r(list, ",", &save); name;
		     name = strtok_r(NULL, ",", &save)) {
			while (*name == ' ')
				name++;
			size_t len = strlen(name);
			while (len && name[len - 1] == ' ')
				name[--len] = '\0';
			const struct delta_field *f = delta_schema_column(s, name);
			if (!f) {
				unknown_column("--columns", name, snap->root, s);
				free(list);
				return EX_USAGE;
			}
			for (size_t i = 0; i < nc; i++)
				if (cols[i].f == f) {
					err_error("--columns: %s is named twice", f->name);
					free(list);
					return EX_USAGE;
				}
			cols[nc] = (struct dc_col){f, is_partition(&snap->meta, f->name), (int)nc};
			nc++;
		}
		free(list);
	} else {
		for (size_t i = 0; i < s->n; i++, nc++)
			cols[nc] = (struct dc_col){
			    &s->fields[i], is_partition(&snap->meta, s->fields[i].name), (int)nc};
	}
	for (size_t k = 0; k < w->n; k++) {
		struct delta_pred *p = &w->p[k];
		p->f = delta_schema_column(s, p->column);
		if (!p->f) {
			unknown_column("--where", p->column, snap->root, s);
			return EX_USAGE;
		}
		size_t i;
		for (i = 0; i < nc && cols[i].f != p->f; i++)
			;
		if (i == nc)
			cols[nc++] =
			    (struct dc_col){p->f, is_partition(&snap->meta, p->f->name), -1};
		p->col = (int)i;
	}
	*n = nc;
	if (delta_where_bind(w, &e) < 0) {
		err_error("%s", e.text);
		return EX_USAGE;
	}
	return EX_OK;
}

/*
 * JSON rows that would not read back as data: an object whose only member's
 * name starts with '@' (a table of one such column, or only it selected) is
 * a control line of the record stream, and one whose first member is
 * "@batch" a batch marker, so every reader downstream would skip or refuse
 * each row.  65 before any row is written.
 */
static int control_like(const char *root, const struct dc_col *cols, size_t n)
{
	const char *first = NULL;
	size_t shown = 0;
	for (size_t i = 0; i < n; i++)
		if (cols[i].out >= 0 && shown++ == 0)
			first = cols[i].f->name;
	if (first && shown == 1 && first[0] == '@')
		err_error("%s: column %.64s alone would make each row a control line of the record "
		          "stream, not data (select another column with it, or use --csv)",
		          root, first);
	else if (first && strcmp(first, "@batch") == 0)
		err_error(
		    "%s: column @batch first would make each row a batch marker of the record "
		    "stream, not data (put another column first with --columns, or use --csv)",
		    root);
	else
		return EX_OK;
	return EX_DATAERR;
}

static int file_order(const void *a, const void *b)
{
	const struct delta_file *x = *(const struct delta_file *const *)a;
	const struct delta_file *y = *(const struct delta_file *const *)b;
	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* The files of a map, in the order they were added (version, then path). */
static const struct delta_file **sorted_files(const struct strmap *m, size_t *n)
{
	const struct delta_file **v = calloc(m->count ? m->count : 1, sizeof *v);
	size_t i = 0, k = 0;
	struct strmap_slot *s;
	if (!v)
		return NULL;
	while ((s = strmap_next(m, &i)))
		v[k++] = s->value;
	qsort(v, k, sizeof *v, file_order);
	*n = k;
	return v;
}

/* Read files in order; returns an exit status, having reported any error. */
static int scan_files(struct dc_scan *sc, const struct delta_file **files, size_t n,
                      int only_data_changes, const struct dc_out *out)
{
	struct err_msg e;
	for (size_t i = 0; i < n; i++) {
		if (only_data_changes && !files[i]->data_change)
			continue;
		int k = dc_scan_file(sc, files[i], &e);
		if (k == -2 && dc_out_broken_pipe(out))
			return EX_IOERR;
		if (k < 0) {
			err_error("%s", e.text);
			return e.status ? e.status : EX_SOFTWARE;
		}
	}
	return EX_OK;
}

/*
 * --since-version: the files added with dataChange by each commit after
 * o->since up to the snapshot's version, commit by commit.  A file that a
 * later commit removed still counts as added in its own commit; one that a
 * commit added again with a deletion vector (deleting some of its rows)
 * adds none.
 */
/* Did the commit of snapshot one remove a file of this path (with whatever DV)? */
static int removed_path(const struct delta_snapshot *one, const char *path)
{
	size_t i = 0;
	struct strmap_slot *s;
	while ((s = strmap_next(&one->tombstones, &i)))
		if (strcmp(((const struct delta_file *)s->value)->path, path) == 0)
			return 1;
	return 0;
}

/* With --batch-every: the last version of the batch being read (its marker's id), else -1. */
static int64_t batch_end = -1;

static int scan_since(struct dc_scan *sc, const struct opts *o, const struct delta_snapshot *snap,
                      struct delta_store *store, struct dc_out *out)
{
	struct buf text = BUF_INIT;
	struct err_msg e;
	int rc = EX_OK;
	if (o->since > snap->version) {
		err_error("%s: --since-version %lld is after the version read (%lld)", snap->root,
		          (long long)o->since, (long long)snap->version);
		return EX_DATAERR;
	}
	for (int64_t v = o->since + 1; v <= snap->version && rc == EX_OK; v++) {
		if (o->batch_every > 0) {
			int64_t k = (v - o->since + o->batch_every - 1) / o->batch_every;
			batch_end = o->since + k * o->batch_every;
			if (batch_end > snap->version)
				batch_end = snap->version;
		}
		int got = delta_store_read(store, v, &text, &e);
		if (got == 1) {
			err_error("%s: version %lld is no longer in the log (log cleanup); "
			          "--since-version needs every commit after %lld",
			          snap->root, (long long)v, (long long)o->since);
			rc = EX_DATAERR;
			break;
		}
		if (got < 0) {
			err_error("%s", e.text);
			rc = e.status;
			break;
		}
		struct delta_snapshot one;
		memset(&one, 0, sizeof one);
		one.root = strdup(snap->root);
		if (!one.root) {
			err_error("out of memory");
			rc = EX_SOFTWARE;
			break;
		}
		if (delta_snapshot_apply(&one, v, text.data, text.len, &e) < 0) {
			err_error("%s", e.text);
			rc = e.status;
		} else {
			size_t n, k = 0;
			const struct delta_file **files = sorted_files(&one.files, &n);
			/*
			 * A file added again with a deletion vector by the commit
			 * that removed it (a delete) adds no rows.
			 */
			for (size_t i = 0; files && i < n; i++)
				if (!files[i]->has_deletion_vector ||
				    !removed_path(&one, files[i]->path))
					files[k++] = files[i];
			n = k;
			if (!files) {
				err_error("out of memory");
				rc = EX_SOFTWARE;
			} else {
				err_debug("version %lld: %zu files added", (long long)v, n);
				rc = scan_files(sc, files, n, 1, out);
			}
			free(files);
		}
		delta_snapshot_free(&one);
		/* A batch ends after every batch_every versions, and at the last one. */
		if (rc == EX_OK && o->batch_every > 0 &&
		    ((v - o->since) % o->batch_every == 0 || v == snap->version) &&
		    dc_out_batch(out, o->batch_app, v, &e) < 0) {
			if (dc_out_broken_pipe(out)) {
				rc = EX_IOERR;
			} else {
				err_error("%s", e.text);
				rc = e.status ? e.status : EX_IOERR;
			}
		}
	}
	buf_free(&text);
	return rc;
}

/* A batch marker's app: 1 to 255 bytes, no control characters. */
static int app_name_ok(const char *app)
{
	size_t n = strlen(app);
	if (n == 0 || n > 255)
		return 0;
	for (const unsigned char *p = (const unsigned char *)app; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* --at-timestamp: RFC 3339, or a date meaning its midnight in UTC; epoch milliseconds. */
static int parse_timestamp(const char *s, int64_t *ms)
{
	int32_t days;
	int64_t us;
	size_t n = strlen(s);
	if (ts_parse_date(s, n, &days) == 0) {
		*ms = (int64_t)days * 86400000;
		return 0;
	}
	if (ts_parse_rfc3339(s, n, &us) < 0)
		return -1;
	*ms = ts_floor_div(us, 1000);
	return 0;
}

static int read_table(const struct opts *o, struct delta_where *w, struct delta_store *store)
{
	const char *root = store->root;
	struct delta_snapshot snap;
	struct delta_load_opts lo = {o->version, o->timestamp_ms, o->since >= 0, 0, 1};
	struct dc_col *cols = NULL;
	struct err_msg e;
	size_t ncols = 0;
	int rc;
	if (delta_store_load(store, &lo, &snap, &e) < 0) {
		err_error("%s", e.text);
		return e.status;
	}
	if (snap.has_notice)
		err_warn("%s", snap.notice.text);
	if (delta_check_read(&snap, &e) < 0) {
		err_error("%s", e.text);
		rc = e.status;
		goto out;
	}
	if (o->timestamp_ms >= 0) {
		char when[TS_TEXT_MAX];
		ts_format_rfc3339_ms(snap.timestamp * 1000, when);
		err_info("%s: version %lld, committed at %s%s", root, (long long)snap.version, when,
		         snap.checkpoint_version >= 0 ? " (from a checkpoint)" : "");
	} else {
		err_info("%s: version %lld%s", root, (long long)snap.version,
		         snap.checkpoint_version >= 0 ? " (from a checkpoint)" : "");
	}
	if ((rc = build_columns(o, &snap, w, &cols, &ncols)) != EX_OK)
		goto out;
	if (o->format == DC_JSON && (rc = control_like(root, cols, ncols)) != EX_OK)
		goto out;
	struct dc_out *out = dc_out_open(o->format, cols, ncols, &e);
	if (!out) {
		err_error("%s", e.text);
		rc = e.status;
		goto out;
	}
	/* One set of decompression contexts for every column of every file. */
	struct pq_read_options ro = {.codec = pq_codec_new()};
	struct dc_scan sc = {.root = root, .cols = cols, .ncols = ncols, .where = w};
	sc.emit = dc_out_row;
	sc.ctx = out;
	sc.ropts = &ro;
	if (o->since >= 0) {
		rc = scan_since(&sc, o, &snap, store, out);
	} else {
		size_t n;
		const struct delta_file **files = sorted_files(&snap.files, &n);
		if (!files) {
			err_error("out of memory");
			rc = EX_SOFTWARE;
		} else {
			rc = scan_files(&sc, files, n, 0, out);
		}
		free(files);
	}
	pq_codec_free(ro.codec);
	/* Rows that went out of a read that failed are not the version's rows: mark them so. */
	if (rc != EX_OK && !dc_out_broken_pipe(out))
		dc_out_fail(out, o->batch_app ? o->batch_app : "delta-cat",
		            batch_end >= 0 ? batch_end : snap.version);
	int broken = dc_out_broken_pipe(out);
	int closed = dc_out_close(out, &e);
	if (broken || closed == -2) {
		/* The reader went away (delta-cat T | head -1): the scan stopped, quietly. */
		if (rc == EX_IOERR)
			rc = EX_OK;
	} else if (closed == -1 && rc == EX_OK) {
		err_error("%s", e.text);
		rc = EX_IOERR;
	}
	if (rc == EX_OK)
		err_info(
		    "skipped %lld of %lld files (%lld by partition values, %lld by statistics) "
		    "and %lld of %lld row groups; %lld of %lld rows read matched",
		    (long long)(sc.files_by_partition + sc.files_by_stats), (long long)sc.files,
		    (long long)sc.files_by_partition, (long long)sc.files_by_stats,
		    (long long)sc.row_groups_skipped, (long long)sc.row_groups,
		    (long long)sc.rows_out, (long long)sc.rows_read);
out:
	free(cols);
	delta_snapshot_free(&snap);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"at-timestamp", required_argument, NULL, 't'},
	    {"at-version", required_argument, NULL, 'a'},
	    {"batch-app", required_argument, NULL, 'A'},
	    {"batch-every", required_argument, NULL, 'B'},
	    {"binary", no_argument, NULL, 'b'},
	    {"columns", required_argument, NULL, 'C'},
	    {"config", required_argument, NULL, 'c'},
	    {"csv", no_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"since-version", required_argument, NULL, 's'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {"where", required_argument, NULL, 'w'},
	    {NULL, 0, NULL, 0},
	};
	struct opts o = {.format = DC_JSON, .version = -1, .timestamp_ms = -1, .since = -1};
	/*
	 * Each data file's pages are decoded into buffers freed when the file
	 * is done: malloc's default handed that memory back to the kernel
	 * after every file, and faulting it in again was a third of the time
	 * on a table of small files (bronze's).  Freed memory is kept instead,
	 * which the peak of one file bounds.
	 */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	int level = ERR_NORMAL, ch, binary = 0, csv = 0, rc;
	const char *timestamp = NULL;
	struct err_msg e;
	struct delta_where w = {0};
	err_init(argv[0]);
	while ((ch = cli_getopt(usage, argc, argv, "hqv", longopts)) != -1) {
		switch (ch) {
		case 'a':
			if (config_parse_int(optarg, "--at-version", 0, INT64_MAX, &o.version, &e) <
			    0)
				return cli_usage_error(usage, "%s", e.text);
			break;
		case 'A':
			o.batch_app = optarg;
			break;
		case 'B':
			if (config_parse_int(optarg, "--batch-every", 1, INT64_MAX, &o.batch_every,
			                     &e) < 0)
				return cli_usage_error(usage, "%s", e.text);
			break;
		case 'b':
			binary = 1;
			break;
		case 'C':
			o.columns = optarg;
			break;
		case 'c':
			o.config = optarg;
			break;
		case 'h':
			return cli_help(usage, options);
		case 'q':
			level = ERR_QUIET;
			break;
		case 'S':
			csv = 1;
			break;
		case 's':
			if (config_parse_int(optarg, "--since-version", 0, INT64_MAX, &o.since,
			                     &e) < 0)
				return cli_usage_error(usage, "%s", e.text);
			break;
		case 't':
			timestamp = optarg;
			break;
		case 'v':
			level++;
			break;
		case 'V':
			/* --version N once picked a table version: never answer such a script with data. */
			if (optind < argc && argv[optind][0] != '-')
				return cli_usage_error(usage,
				                       "--version takes nothing else; a table "
				                       "version is --at-version N");
			return cli_version();
		case 'w':
			o.where_text = optarg;
			break;
		default:
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	err_set_level(level);
	if (argc != 1)
		return cli_usage_error(usage, argc ? "one table expected" : "no table given");
	if (binary && csv)
		return cli_usage_error(usage, "--binary and --csv exclude each other");
	if ((o.batch_every > 0) != (o.batch_app != NULL))
		return cli_usage_error(usage, "--batch-every and --batch-app go together");
	if (o.batch_every > 0 && o.since < 0)
		return cli_usage_error(usage, "--batch-every needs --since-version");
	if (o.batch_every > 0 && csv)
		return cli_usage_error(usage, "--batch-every: CSV cannot carry batch markers");
	if (o.batch_app && !app_name_ok(o.batch_app))
		return cli_bad_value(usage, "--batch-app", o.batch_app,
		                     "1 to 255 bytes without control characters");
	o.format = binary ? DC_BINARY : csv ? DC_CSV : DC_JSON;
	if (timestamp && o.version >= 0)
		return cli_usage_error(usage, "--at-timestamp and --at-version exclude each other");
	if (timestamp && parse_timestamp(timestamp, &o.timestamp_ms) < 0)
		return cli_bad_value(usage, "--at-timestamp", timestamp,
		                     "an RFC 3339 date-time (2024-01-02T15:04:05Z) or a date "
		                     "(2024-01-02)");
	if (o.columns && (!*o.columns || strlen(o.columns) > COLUMNS_MAX))
		return cli_bad_value(usage, "--columns", o.columns, "a list of 1 to %d characters",
		                     COLUMNS_MAX);
	if (binary && (rc = cli_refuse_binary_tty(usage, "--binary")) != 0)
		return rc;
	if (o.where_text && delta_where_parse(o.where_text, &w, &e) < 0)
		return cli_usage_error(usage, "%s", e.text);

	struct config *cfg = config_open(o.config, &e);
	if (!cfg) {
		delta_where_free(&w);
		err_die(e.status, "%s", e.text);
	}
	struct buf root = BUF_INIT;
	struct delta_store *store = NULL;
	if (!(store = delta_table_open(cfg, argv[0], 0, &root, &e))) {
		rc = cli_report(usage, &e);
	} else {
		rc = read_table(&o, &w, store);
	}
	delta_store_close(store);
	buf_free(&root);
	delta_where_free(&w);
	config_free(cfg);
	return rc;
}

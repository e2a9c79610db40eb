/*
 * tick-validate: the quality gate between tick-normalize and delta-append.
 *
 * Records stream through: each is tested against the row rules and either
 * passed on at once (JSON input is copied byte for byte) or quarantined;
 * the batch-level metrics are updated from the records that pass.  At each
 * batch marker the batch's checks are judged, the scan report line and the
 * summary are written, and the marker is passed on with the counts of this
 * stage and, when a fail-level check failed, status "failed", which keeps
 * delta-append from loading the batch.  Nothing but the current record and
 * the metrics (bounded by --key-memory) is held.
 *
 * The stream itself is checked too, because a fault there would load the
 * wrong records: a marker whose count is not the number of records that
 * arrived fails its batch, and a malformed marker ends its batch, which
 * fails, and is passed on as it came so that every stage downstream fails
 * the same batch.  Neither is ever taken for a record.
 *
 * Each check judged on a batch is also recorded in the metadata spool
 * (meta/meta.h), when one is in use: the check's name, metric, value and
 * outcome, under the batch's app and id.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checks.h"
#include "base/cli.h"
#include "base/config.h"
#include "base/err.h"
#include "meta/meta.h"
#include "text/decimal.h"
#include "text/jscan.h"
#include "record/stream.h"
#include "text/ts.h"

static const char usage[] =
    "usage: tick-validate [-qv] [--binary] [--checks FILE] [--config FILE]\n"
    "                     [--key-memory BYTES] [--max-line BYTES] [--now TIME]\n"
    "                     [--rejects FILE] [--report FILE] [FILE ...]\n";

/* Under conf/: ./conf/ in a checkout, else the installed copy (config_data_file). */
#define CHECKS_DEFAULT  "checks/ticks.checks"
#define CHECKS_FILE_MAX (1 << 20)
#define PARSE_CHECK     "tick record" /* the name of the implicit check that a record parses */

static const struct cli_option options[] = {
    {"--binary", "write binary tick records (never to a terminal)"},
    {"--checks FILE", "the checks (default: the shipped ticks.checks)"},
    {"--config FILE", "the configuration file"},
    {"--key-memory BYTES", "memory for duplicate keys, percentiles (default 16M)"},
    {"--max-line BYTES", "the longest input line (default 16 MiB)"},
    {"--now TIME", "judge freshness as if it were TIME (RFC 3339)"},
    {"--rejects FILE", "append quarantined records to FILE"},
    {"--report FILE", "append each batch's scan report to FILE"},
    {NULL, NULL},
};

struct validate {
	struct checks *cs;
	struct rec_writer *out, *rejects, *report;
	const char *rejects_path, *report_path;
	int rejects_failed, report_failed; /* a write error was reported */
	int64_t now;                       /* --now, or INT64_MIN for the clock */

	/* The batch being read. */
	int64_t passed, quarantined;

	/* The whole run. */
	int markers;           /* batch markers seen, malformed ones included */
	int worst;             /* enum check_outcome over every batch */
	int64_t stream_errors; /* malformed markers and markers with a wrong count */
	int64_t total_quarantined;
	int status; /* fatal exit status, 0 while going */
	/* what stopped the run (status), for the batch it leaves open; "" for none */
	char stopped[ERR_MSG_MAX];
	int input_status; /* the worst of the inputs that could not be opened or read on */
	/*
	 * The read error that cut short the one batch of a stream without
	 * markers; the records of the inputs after it are the rest of that
	 * batch, which fails (input_end()).  "" for none.
	 */
	char cut[ERR_MSG_MAX];
	int out_failed; /* a write to stdout failed: nothing more goes there */
	struct buf line;
	struct buf number; /* a metric's value for the metadata spool */
};

/* Output ---------------------------------------------------------------------- */

/*
 * A write to w failed: say so once (the error names the writer's file), and
 * not at all for a reader of stdout that went away.
 */
static int write_failed(struct validate *v, struct rec_writer *w, struct err_msg *e)
{
	int *reported = w == v->rejects  ? &v->rejects_failed
	                : w == v->report ? &v->report_failed
	                                 : NULL;
	if ((w != v->out || !rec_writer_broken_pipe(w)) && !(reported && *reported))
		err_error("%s", e->text);
	if (reported)
		*reported = 1;
	if (w == v->out)
		v->out_failed = 1;
	/* The run stops, but for the report, whose loss leaves the batches whole. */
	if (!v->status && w != v->report)
		snprintf(v->stopped, sizeof v->stopped, "%s", e->text);
	v->status = EX_IOERR;
	return -1;
}

/* s[0..n) as a JSON string; bytes that are not UTF-8 become U+FFFD. */
static void put_text(struct buf *b, const char *s, size_t n)
{
	if (jscan_utf8_valid(s, n) == 0) {
		buf_json_str(b, s, n);
		return;
	}
	struct buf clean = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		size_t k = 2;
		if ((unsigned char)s[i] < 0x80) {
			buf_putc(&clean, s[i]);
			continue;
		}
		while (k <= 4 && i + k <= n && jscan_utf8_valid(s + i, k) < 0)
			k++;
		if (k <= 4 && i + k <= n) {
			buf_append(&clean, s + i, k);
			i += k - 1;
		} else {
			buf_puts(&clean, "\xef\xbf\xbd");
		}
	}
	buf_json_str(b, clean.data ? clean.data : "", clean.len);
	buf_free(&clean);
}

/* The record as JSON: its own text when it is valid JSON, a string otherwise. */
static void put_record(struct buf *b, const struct rec *rec, const struct tick *t, int valid_json)
{
	if (rec->format == REC_FMT_BINARY && t)
		tick_to_json(t, b);
	else if (rec->text && valid_json)
		buf_append(b, rec->text, rec->text_len);
	else if (rec->text)
		put_text(b, rec->text, rec->text_len);
	else
		buf_puts(b, "null");
}

/* "name: record 12: why" -> "why" (the reason without its place, which the reject says). */
static const char *strip_where(const char *text)
{
	const char *at = strstr(text, "record ");
	if (!at)
		return text;
	at += 7;
	while (*at >= '0' && *at <= '9')
		at++;
	return at[0] == ':' && at[1] == ' ' ? at + 2 : text;
}

/* Quarantine a record: under check `check`, with the values of the columns in refs. */
static int quarantine(struct validate *v, const struct rec *rec, const struct tick *t,
                      int valid_json, const char *check, const char *reason, uint16_t refs,
                      const char *file)
{
	v->quarantined++;
	v->total_quarantined++;
	err_record("%s: record %llu: quarantined by \"%s\": %s", file,
	           (unsigned long long)rec->number, check, reason);
	if (!v->rejects)
		return 0;
	struct buf *b = &v->line;
	buf_reset(b);
	buf_puts(b, "{\"check\":");
	buf_json_str(b, check, strlen(check));
	buf_puts(b, ",\"reason\":");
	buf_json_str(b, reason, strlen(reason));
	buf_puts(b, ",\"record\":");
	put_record(b, rec, t, valid_json);
	if (t && refs) {
		buf_puts(b, ",\"values\":{");
		int first = 1;
		for (int col = 0; col < TICK_FIELD_COUNT; col++) {
			if (!(refs & (1u << col)))
				continue;
			if (!first)
				buf_putc(b, ',');
			first = 0;
			buf_json_str(b, tick_field_names[col], strlen(tick_field_names[col]));
			buf_putc(b, ':');
			checks_put_value(b, t, col);
		}
		buf_putc(b, '}');
	}
	buf_puts(b, ",\"source\":{\"file\":");
	buf_json_str(b, file, strlen(file));
	buf_puts(b, ",\"record\":");
	buf_i64(b, (int64_t)rec->number);
	buf_puts(b, "}}");
	struct err_msg e;
	if (rec_write_json(v->rejects, b->data, b->len, &e) < 0)
		return write_failed(v, v->rejects, &e);
	return 0;
}

/* Records ------------------------------------------------------------------------ */

static int record(struct validate *v, struct rec_reader *r, struct rec *rec, const char *file)
{
	struct tick t;
	uint16_t present = TICK_N_ALL;
	struct err_msg e;
	if (rec->format == REC_FMT_BINARY) {
		t = rec->tick;
	} else if (tick_from_canonical_json(rec->text, rec->text_len, &t) < 0) {
		/* Not in the canonical layout: the general reader, which also says what is wrong. */
		int k = rec->fields ? REC_DATA : rec_parse_fields(r, rec, &e);
		if (k != REC_DATA)
			return quarantine(v, rec, NULL, 0, PARSE_CHECK, strip_where(e.text), 0,
			                  file);
		if (rec_tick(rec, &t, &e) < 0)
			return quarantine(v, rec, NULL, 1, PARSE_CHECK, strip_where(e.text), 0,
			                  file);
		present = 0;
		for (size_t i = 0; i < rec->nfields; i++) {
			int col = checks_column(rec->fields[i].name, rec->fields[i].name_len);
			if (col >= 0)
				present |= (uint16_t)(1u << col);
		}
	}
	int bad = checks_rows(v->cs, &t);
	if (bad >= 0) {
		const struct check *c = &v->cs->v[bad];
		char reason[sizeof c->condition + 32];
		snprintf(reason, sizeof reason, "fail condition holds: %s", c->condition);
		return quarantine(v, rec, &t, 1, c->name, reason, c->refs, file);
	}
	checks_take(v->cs, &t, present);
	int rc;
	if (rec->format == REC_FMT_JSON && rec_writer_format(v->out) == REC_FMT_JSON)
		rc = rec_write_json(v->out, rec->text, rec->text_len, &e);
	else
		rc = rec_write_tick(v->out, &t, &e);
	if (rc < 0)
		return write_failed(v, v->out, &e);
	v->passed++;
	return 0;
}

/* Batches ------------------------------------------------------------------------ */

/*
 * A check's metric as the spool's number (text into out, NULL for none):
 * freshness in seconds, other metrics as the report writes them, which is
 * a number for counts and prices; a timestamp or a date (min or max of
 * such a column) is no number and is recorded as null (meta_check()).
 */
static const char *meta_value(const struct check *c, dec128 v, int has_value, struct buf *out)
{
	char text[DEC_TEXT_MAX];
	buf_reset(out);
	if (!has_value)
		return NULL;
	if (c->kind == CK_FRESHNESS)
		/* A duration in µs is its seconds at scale 6. */
		buf_append(out, text, dec_format(v, 6, text));
	else
		checks_put_metric(out, c, v, has_value);
	return buf_failed(out) ? NULL : out->data;
}

/* Why a value is not the metric's (checks_judge()), for the warning that shows it. */
static const char *inexact_note(const struct check *c, int exact)
{
	if (exact)
		return "";
	if (c->kind == CK_DUPLICATE)
		return " (a lower bound: --key-memory ran out)";
	if (c->kind == CK_PERCENTILE)
		return " (not computed: its values ran out of --key-memory)";
	return " (beyond 38 digits: the largest value instead)";
}

static void put_cond(struct buf *b, const char *key, const struct check_cond *k)
{
	buf_puts(b, ",\"");
	buf_puts(b, key);
	buf_puts(b, "\":");
	buf_json_str(b, k->text, strlen(k->text));
}

/*
 * Judge the batch's checks, write its report line and summary, and reset
 * the metrics.  in is the batch's marker, NULL for records that had none or
 * whose marker is malformed; stream_error says what is wrong with the
 * stream in this batch (NULL: nothing).  A batch whose marker arrived
 * failed (a stage upstream failed it, as av-fetch does when no request of
 * its batch was answered) is not judged: its checks would only report the
 * consequences of that failure.  Returns the batch's outcome.
 */
static int judge(struct validate *v, const struct rec_batch *in, const char *label,
                 const char *stream_error)
{
	struct checks *cs = v->cs;
	int64_t now = v->now != INT64_MIN ? v->now : ts_now();
	int upstream = in && in->status != BATCH_OK;
	int worst = v->quarantined ? OUT_WARN : OUT_PASS;
	int tally[4] = {0};
	struct buf *b = &v->line;
	char ts[TS_TEXT_MAX];
	buf_reset(b);
	buf_puts(b, "{\"dataset\":");
	buf_json_str(b, cs->dataset, strlen(cs->dataset));
	buf_puts(b, ",\"checks_file\":");
	buf_json_str(b, cs->path, strlen(cs->path));
	buf_puts(b, ",\"batch\":");
	if (in) {
		buf_puts(b, "{\"app\":");
		if (in->app[0])
			buf_json_str(b, in->app, strlen(in->app));
		else
			buf_puts(b, "null");
		buf_puts(b, ",\"id\":");
		buf_i64(b, in->id);
		buf_puts(b, "}");
	} else {
		buf_puts(b, "null");
	}
	buf_puts(b, ",\"scanned_at\":\"");
	buf_append(b, ts, ts_format_rfc3339(now, ts));
	buf_puts(b, "\",\"records\":{\"in\":");
	buf_i64(b, v->passed + v->quarantined);
	buf_puts(b, ",\"passed\":");
	buf_i64(b, v->passed);
	buf_puts(b, ",\"quarantined\":");
	buf_i64(b, v->quarantined);
	buf_puts(b, "},\"checks\":[");
	for (size_t i = 0; i < cs->n && !upstream; i++) {
		struct check *c = &cs->v[i];
		dec128 value;
		int has_value, exact;
		int outcome = checks_judge(c, now, &value, &has_value, &exact);
		tally[outcome]++;
		if (outcome > worst)
			worst = outcome;
		if (i)
			buf_putc(b, ',');
		buf_puts(b, "{\"name\":");
		buf_json_str(b, c->name, strlen(c->name));
		buf_puts(b, ",\"definition\":");
		buf_json_str(b, c->definition, strlen(c->definition));
		buf_puts(b, ",\"line\":");
		buf_i64(b, c->line);
		buf_puts(b, ",\"metric\":\"");
		buf_puts(b, checks_metric_name(c));
		buf_putc(b, '"');
		if (c->ncols) {
			buf_puts(b, ",\"columns\":[");
			for (int k = 0; k < c->ncols; k++) {
				if (k)
					buf_putc(b, ',');
				buf_putc(b, '"');
				buf_puts(b, tick_field_names[c->cols[k]]);
				buf_putc(b, '"');
			}
			buf_putc(b, ']');
		}
		if (c->kind == CK_FAILED_ROWS) {
			buf_puts(b, ",\"condition\":");
			buf_json_str(b, c->condition, strlen(c->condition));
		}
		if (c->has_inline)
			put_cond(b, "threshold", &c->inline_cond);
		if (c->has_warn && c->kind != CK_SCHEMA)
			put_cond(b, "warn", &c->warn);
		if (c->has_fail && c->kind != CK_SCHEMA)
			put_cond(b, "fail", &c->fail);
		buf_puts(b, ",\"value\":");
		size_t vat = b->len;
		checks_put_metric(b, c, value, has_value);
		size_t vlen = b->len - vat;
		if (c->kind == CK_SCHEMA) {
			buf_puts(b, ",\"missing_columns\":[");
			int first = 1;
			for (int col = 0; col < TICK_FIELD_COUNT; col++) {
				if (!(c->missing_cols & (1u << col)))
					continue;
				if (!first)
					buf_putc(b, ',');
				first = 0;
				buf_putc(b, '"');
				buf_puts(b, tick_field_names[col]);
				buf_putc(b, '"');
			}
			buf_putc(b, ']');
		}
		/* Duplicate counts always say; other metrics only when they are not exact. */
		if (c->kind == CK_DUPLICATE || !exact) {
			buf_puts(b, exact ? ",\"exact\":true" : ",\"exact\":false");
		}
		buf_puts(b, ",\"outcome\":\"");
		buf_puts(b, checks_outcome_name(outcome));
		buf_puts(b, "\"}");
		struct meta_check mc = {
		    .batch_app = in && in->app[0] ? in->app : NULL,
		    .batch_id = in ? in->id : META_NULL,
		    .check = c->name,
		    .metric = checks_metric_name(c),
		    .value = meta_value(c, value, has_value, &v->number),
		    .outcome = checks_outcome_name(outcome),
		};
		meta_check(&mc);
		if (outcome == OUT_WARN || outcome == OUT_FAIL)
			err_warn("%s: %s: %s (line %d): %s = %.*s%s", label,
			         checks_outcome_name(outcome), c->name, c->line,
			         checks_metric_name(c), (int)vlen, b->data + vat,
			         inexact_note(c, exact));
	}
	buf_puts(b, "]");
	if (stream_error) {
		buf_puts(b, ",\"stream_error\":");
		buf_json_str(b, stream_error, strlen(stream_error));
	}
	if (upstream)
		buf_puts(b, ",\"failed_upstream\":true");
	/* A batch the stream or a stage upstream fails is failed, whatever its checks say. */
	buf_puts(b, ",\"outcome\":\"");
	buf_puts(b, checks_outcome_name(stream_error || upstream ? OUT_FAIL : worst));
	buf_puts(b, "\"}");
	struct err_msg e;
	if (v->report && (rec_write_json(v->report, b->data, b->len, &e) < 0 ||
	                  rec_writer_flush(v->report, &e) < 0))
		write_failed(v, v->report, &e);
	long long nin = (long long)(v->passed + v->quarantined);
	if (upstream)
		err_warn(
		    "%s: %lld record%s, %lld passed, %lld quarantined; marked failed upstream, "
		    "so its checks are not judged",
		    label, nin, nin == 1 ? "" : "s", (long long)v->passed,
		    (long long)v->quarantined);
	else
		err_warn(
		    "%s: %lld record%s, %lld passed, %lld quarantined; %zu check%s: %d passed, "
		    "%d warned, %d failed, %d skipped%s",
		    label, nin, nin == 1 ? "" : "s", (long long)v->passed,
		    (long long)v->quarantined, cs->n, cs->n == 1 ? "" : "s", tally[OUT_PASS],
		    tally[OUT_WARN], tally[OUT_FAIL], tally[OUT_SKIPPED],
		    worst == OUT_FAIL || stream_error ? "; the batch fails" : "");
	if (worst > v->worst)
		v->worst = worst;
	checks_reset(cs);
	v->passed = v->quarantined = 0;
	return worst;
}

static int batch_end(struct validate *v, const struct rec_batch *in)
{
	char label[REC_BATCH_LABEL_MAX], why[REC_BATCH_LABEL_MAX + 96];
	const char *stream_error = NULL;
	rec_batch_label(in, label, sizeof label);
	v->markers++;
	struct rec_batch b = *in;
	int64_t arrived = v->passed + v->quarantined;
	if (in->records != arrived) {
		snprintf(why, sizeof why, "the marker says %lld records, %lld arrived",
		         (long long)in->records, (long long)arrived);
		err_error("%s: %s; the batch fails", label, why);
		stream_error = why;
		v->stream_errors++;
		b.status = BATCH_FAILED;
	}
	b.records = v->passed;
	b.rejected = in->rejected + v->quarantined;
	if (judge(v, in, label, stream_error) == OUT_FAIL)
		b.status = BATCH_FAILED;
	struct err_msg e;
	if (rec_write_batch(v->out, &b, &e) < 0 || rec_writer_flush(v->out, &e) < 0)
		return write_failed(v, v->out, &e);
	return 0;
}

/*
 * A malformed marker: the end of a batch that fails, whatever its checks
 * say.  Its records were passed on already; the marker follows them as it
 * came, so that each stage downstream fails the same batch.
 */
static int bad_marker(struct validate *v, const struct rec *rec, const struct err_msg *re)
{
	char label[64];
	struct err_msg e;
	err_error("%s; the batch it ends fails", re->text);
	v->stream_errors++;
	v->markers++;
	snprintf(label, sizeof label, "the batch ending at %s %llu",
	         rec->format == REC_FMT_BINARY ? "record" : "line",
	         (unsigned long long)rec->number);
	const char *why = strstr(re->text, "malformed batch marker");
	judge(v, NULL, label, why ? why : re->text);
	if (rec_write_control(v->out, rec->text, rec->text_len, &e) < 0 ||
	    rec_writer_flush(v->out, &e) < 0)
		return write_failed(v, v->out, &e);
	return 0;
}

/*
 * End the batch of passed + quarantined records just passed on with a
 * failed marker (app tick-validate, id 0), so that no stage downstream
 * loads it; flushed at once when flush is set (more input follows).
 */
static void failed_marker(struct validate *v, int64_t passed, int64_t quarantined, int flush)
{
	struct rec_batch b;
	memset(&b, 0, sizeof b);
	snprintf(b.app, sizeof b.app, "tick-validate");
	b.records = passed;
	b.rejected = quarantined;
	b.status = BATCH_FAILED;
	struct err_msg e;
	if (rec_write_batch(v->out, &b, &e) < 0 || (flush && rec_writer_flush(v->out, &e) < 0))
		write_failed(v, v->out, &e);
}

/*
 * The records after the last marker, or the whole of a stream without
 * markers.  A run that an error stopped (v->stopped) leaves its batch
 * incomplete: the batch is judged and reported as usual but fails, and a
 * stream without markers gets its failed marker all the same, since its
 * records were passed on already and a stage downstream would otherwise
 * load them as a whole batch.  So does the rest of a stream without
 * markers whose batch an unreadable input cut short (v->cut).
 */
static void input_end(struct validate *v)
{
	int64_t passed = v->passed, quarantined = v->quarantined;
	const char *stopped = v->stopped[0] ? v->stopped : !v->markers && v->cut[0] ? v->cut : NULL;
	if (v->out_failed || ((v->markers || stopped) && passed + quarantined == 0))
		return;
	if (v->markers) {
		err_warn("%lld record%s after the last batch marker: their batch has not ended",
		         (long long)(passed + quarantined), passed + quarantined == 1 ? "" : "s");
		judge(v, NULL, "records without a marker", stopped);
		return;
	}
	if (judge(v, NULL, "input", stopped) != OUT_FAIL && !stopped)
		return;
	/* One batch without a marker failed: a failed marker keeps it from being loaded. */
	failed_marker(v, passed, quarantined, 0);
}

/*
 * An input that cannot be read on (a read error, a binary frame cut short,
 * e): the batch in progress never gets its end.  It is judged and reported
 * with the error, which fails it, and passed on with a failed marker, as
 * input_end() ends a stream without markers that failed: its records were
 * passed on already, and a stage downstream must neither load them nor
 * take the records of the next input for the rest of their batch.  The run
 * goes on with the next input; the status says that one could not be read.
 */
static void cut_short(struct validate *v, const struct err_msg *e)
{
	int64_t passed = v->passed, quarantined = v->quarantined;
	v->input_status = err_status_worse(v->input_status, e->status ? e->status : EX_IOERR);
	if (v->out_failed || passed + quarantined == 0)
		return;
	if (!v->markers && !v->cut[0])
		snprintf(v->cut, sizeof v->cut, "%s", e->text);
	judge(v, NULL, v->markers ? "records without a marker" : "input", e->text);
	failed_marker(v, passed, quarantined, 1);
}

static int validate_fd(struct validate *v, int fd, const char *name, size_t max_line)
{
	struct rec_reader *r = rec_reader_new(fd, name, max_line);
	if (!r) {
		err_error("out of memory");
		v->status = EX_SOFTWARE;
		snprintf(v->stopped, sizeof v->stopped, "out of memory");
		return -1;
	}
	rec_reader_set_lazy(r, 1);
	struct rec rec;
	struct err_msg e;
	int rc = 0;
	while (rc == 0) {
		rec.text = NULL; /* left NULL by a line too long to keep */
		int k = rec_read(r, &rec, &e);
		if (k == REC_END)
			break;
		if (k < 0) {
			err_error("%s", e.text);
			cut_short(v, &e);
			rc = -1;
			break;
		}
		switch (k) {
		case REC_DATA:
			rc = record(v, r, &rec, name);
			break;
		case REC_BATCH:
			rc = batch_end(v, &rec.batch);
			break;
		case REC_CONTROL:
			if (rec_write_control(v->out, rec.text, rec.text_len, &e) < 0)
				rc = write_failed(v, v->out, &e);
			break;
		case REC_BAD_MARKER:
			rc = bad_marker(v, &rec, &e);
			break;
		default:
			rc =
			    quarantine(v, &rec, NULL, 0, PARSE_CHECK, strip_where(e.text), 0, name);
			break;
		}
	}
	rec_reader_free(r);
	return rc;
}

/* Options -------------------------------------------------------------------------- */

/* "16M", "64k", "1G" or a number of bytes. */
static int parse_bytes(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (errno || end == s || n < 0)
		return -1;
	int64_t mul = 1;
	if (*end == 'k' || *end == 'K')
		mul = 1 << 10;
	else if (*end == 'm' || *end == 'M')
		mul = 1 << 20;
	else if (*end == 'g' || *end == 'G')
		mul = 1 << 30;
	if (mul > 1)
		end++;
	if (*end || n > INT64_MAX / mul)
		return -1;
	*out = n * mul;
	return 0;
}

static struct checks *load_checks(const char *path, size_t key_memory, int *status)
{
	struct err_msg e;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_error_errno("checks file %s", path);
		*status = EX_CONFIG;
		return NULL;
	}
	char *text = malloc(CHECKS_FILE_MAX + 1);
	size_t len = 0;
	ssize_t n = 0;
	while (text && len <= CHECKS_FILE_MAX &&
	       (n = read(fd, text + len, CHECKS_FILE_MAX + 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (!text || n < 0) {
		if (text)
			err_error_errno("checks file %s", path);
		else
			err_error("out of memory");
		free(text);
		*status = text ? EX_CONFIG : EX_SOFTWARE;
		return NULL;
	}
	if (len > CHECKS_FILE_MAX) {
		err_error("checks file %s: larger than %d bytes", path, CHECKS_FILE_MAX);
		free(text);
		*status = EX_CONFIG;
		return NULL;
	}
	struct checks *cs = checks_parse(path, text, len, key_memory, &e);
	free(text);
	if (!cs) {
		err_error("%s", e.text);
		*status = e.status ? e.status : EX_CONFIG;
	}
	return cs;
}

/* The rejects or the report file; both accumulate from run to run. */
static struct rec_writer *open_output(const char *path, int *status)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
	if (fd < 0) {
		err_error_errno("%s", path);
		*status = EX_IOERR;
		return NULL;
	}
	struct rec_writer *w = rec_writer_new(fd, path, REC_FMT_JSON);
	if (!w) {
		close(fd);
		err_error("out of memory");
		*status = EX_SOFTWARE;
	}
	return w;
}

int main(int argc, char **argv)
{
	enum {
		OPT_BINARY = 256,
		OPT_CHECKS,
		OPT_CONFIG,
		OPT_KEY_MEMORY,
		OPT_MAX_LINE,
		OPT_NOW,
		OPT_REJECTS,
		OPT_REPORT
	};
	static const struct option longopts[] = {
	    {"binary", no_argument, NULL, OPT_BINARY},
	    {"checks", required_argument, NULL, OPT_CHECKS},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"help", no_argument, NULL, 'h'},
	    {"key-memory", required_argument, NULL, OPT_KEY_MEMORY},
	    {"max-line", required_argument, NULL, OPT_MAX_LINE},
	    {"now", required_argument, NULL, OPT_NOW},
	    {"quiet", no_argument, NULL, 'q'},
	    {"rejects", required_argument, NULL, OPT_REJECTS},
	    {"report", required_argument, NULL, OPT_REPORT},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct validate v;
	const char *checks_path = NULL, *config_flag = NULL, *max_line_flag = NULL;
	const char *key_memory_flag = "16M", *now_flag = NULL;
	int binary = 0, level = ERR_NORMAL, ch, status = EX_OK;

	err_init(argv[0]);
	memset(&v, 0, sizeof v);
	v.now = INT64_MIN;
	while ((ch = cli_getopt(usage, argc, argv, "hqv", longopts)) != -1) {
		switch (ch) {
		case OPT_BINARY:
			binary = 1;
			break;
		case OPT_CHECKS:
			checks_path = optarg;
			break;
		case OPT_CONFIG:
			config_flag = optarg;
			break;
		case 'h':
			return cli_help(usage, options);
		case OPT_KEY_MEMORY:
			key_memory_flag = optarg;
			break;
		case OPT_MAX_LINE:
			max_line_flag = optarg;
			break;
		case OPT_NOW:
			now_flag = optarg;
			break;
		case 'q':
			level = ERR_QUIET;
			break;
		case OPT_REJECTS:
			v.rejects_path = optarg;
			break;
		case OPT_REPORT:
			v.report_path = optarg;
			break;
		case 'v':
			if (level < ERR_DEBUG)
				level++;
			break;
		case 'V':
			return cli_version();
		default:
			return EX_USAGE;
		}
	}
	err_set_level(level);
	/* Options, checked together. */
	int64_t key_memory, max_line = 0;
	struct err_msg e;
	if (parse_bytes(key_memory_flag, &key_memory) < 0)
		return cli_bad_value(usage, "--key-memory", key_memory_flag,
		                     "a size such as 16M, 64k or 1G");
	if (now_flag && ts_parse_rfc3339(now_flag, strlen(now_flag), &v.now) < 0)
		return cli_bad_value(usage, "--now", now_flag, "an RFC 3339 timestamp");
	if (binary && cli_refuse_binary_tty(usage, "--binary") != 0)
		return EX_USAGE;
	struct config *cfg = config_open(config_flag, &e);
	if (!cfg) {
		err_error("%s", e.text);
		return EX_CONFIG;
	}
	meta_open(cfg);
	const char *from = NULL;
	const char *ml =
	    config_value(cfg, max_line_flag, NULL, "streams", "max_line", "16777216", &from);
	/* A value from the file is named with its file and line, as av-fetch names it. */
	char what[4200];
	config_setting_name(cfg, from, "--max-line", "streams", "max_line", what, sizeof what);
	int ok = config_parse_int(ml, what, 1024, INT32_MAX, &max_line, &e) == 0;
	config_free(cfg);
	if (!ok) {
		if (max_line_flag)
			return cli_usage_error(usage, "%s", e.text);
		err_error("%s", e.text);
		return EX_CONFIG;
	}
	char checks_default[4096];
	if (!checks_path) {
		struct stat st;
		if (config_data_file(CHECKS_DEFAULT, checks_default, sizeof checks_default) < 0) {
			err_error("the default checks: $STOCKETL_SHARE is too long");
			return EX_CONFIG;
		}
		if (stat(checks_default, &st) != 0) {
			err_error("no checks file: neither ./conf/%s nor %s/conf/%s exists (give "
			          "--checks FILE)",
			          CHECKS_DEFAULT, config_share_dir(), CHECKS_DEFAULT);
			return EX_CONFIG;
		}
		checks_path = checks_default;
	}
	v.cs = load_checks(checks_path, (size_t)key_memory, &status);
	if (!v.cs)
		return status;

	/* Work. */
	v.out = rec_writer_new(STDOUT_FILENO, "stdout", binary ? REC_FMT_BINARY : REC_FMT_JSON);
	if (!v.out) {
		err_error("out of memory");
		status = EX_SOFTWARE;
		goto done;
	}
	if (v.rejects_path && !(v.rejects = open_output(v.rejects_path, &status)))
		goto done;
	if (v.report_path && !(v.report = open_output(v.report_path, &status)))
		goto done;
	if (optind == argc) {
		validate_fd(&v, STDIN_FILENO, "stdin", (size_t)max_line);
	} else {
		for (int i = optind; i < argc && v.status == 0; i++) {
			if (strcmp(argv[i], "-") == 0) {
				validate_fd(&v, STDIN_FILENO, "stdin", (size_t)max_line);
				continue;
			}
			int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				/* Reported, and the run goes on with the next file. */
				err_error_errno("%s", argv[i]);
				v.input_status = err_status_worse(v.input_status, EX_IOERR);
				continue;
			}
			validate_fd(&v, fd, argv[i], (size_t)max_line);
			close(fd);
		}
	}
	input_end(&v);
	status = v.status;
	if (v.total_quarantined) {
		char hint[300];
		snprintf(hint, sizeof hint, "see %s",
		         v.rejects_path ? v.rejects_path : "--rejects FILE");
		err_record_end(hint);
	}

done:
	/* A reader that went away (tick-validate | head -1) ended the run: quietly, status 0. */
	if (v.out && rec_writer_broken_pipe(v.out) && status == EX_IOERR)
		status = EX_OK;
	if (v.rejects && rec_writer_close(v.rejects, &e) < 0) {
		if (!v.rejects_failed)
			err_error("%s", e.text);
		if (!status)
			status = EX_IOERR;
	}
	if (v.report && rec_writer_close(v.report, &e) < 0) {
		if (!v.report_failed)
			err_error("%s", e.text);
		if (!status)
			status = EX_IOERR;
	}
	int closed = v.out ? rec_writer_close(v.out, &e) : 0;
	if (closed == -1) {
		if (status != EX_IOERR)
			err_error("%s", e.text);
		if (!status)
			status = EX_IOERR;
	}
	status = err_status_worse(status, v.input_status);
	if (status == EX_OK) {
		if (v.stream_errors)
			status = EX_DATAERR;
		else if (v.worst == OUT_FAIL)
			status = EX_CHECKFAIL;
		else if (v.worst == OUT_WARN || v.total_quarantined)
			status = EX_REJECTS;
	}
	checks_free(v.cs);
	buf_free(&v.line);
	buf_free(&v.number);
	return status;
}

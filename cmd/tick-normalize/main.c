/*
 * tick-normalize: av-fetch envelopes in, canonical tick records out.
 *
 * Each envelope is read whole (it is one line), its bars are converted to
 * UTC in the response's zone and sorted, and the ticks are written before
 * the next line is read, so memory is one envelope.  The batch id each tick
 * carries comes from the envelope's batch_id member, else from an earlier
 * envelope of its batch, else from --batch-id; failing all three, the ticks
 * are held until a batch_id or the batch's marker turns up (see
 * tick-normalize(1)).  Batch markers are passed on with the counts of this
 * stage: records written, and rejects added to those from upstream.
 *
 * With --watermarks, bars older than the newest bar already loaded for
 * their (symbol, interval) are dropped before they are written: they are
 * neither records nor rejects, only counted, and the markers count what
 * this stage passes on.  The file is looked at again before each envelope
 * and read again when it changed, so a pipeline that runs for days (the
 * stream job) follows the watermarks its job advances after each commit.
 *
 * A marker is also checked against the stream: one whose count is not the
 * number of envelopes that arrived fails its batch, and a malformed one
 * ends its batch, which fails, and is passed on as it came, so that every
 * stage downstream fails the same batch.  Neither is ever an envelope.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "watermarks.h"
#include "av/avapi.h"
#include "av/envelope.h"
#include "base/cli.h"
#include "base/config.h"
#include "base/err.h"
#include "record/stream.h"
#include "text/jscan.h"
#include "text/ts.h"
#include "text/tz.h"

static const char usage[] =
    "usage: tick-normalize [-qv] [--binary] [--batch-id ID] [--config FILE]\n"
    "                      [--max-line BYTES] [--rejects FILE] [--watermarks FILE]\n"
    "                      [--zone ZONE] [FILE ...]\n";

static const struct cli_option options[] = {
    {"--batch-id ID", "the batch id of envelopes that have none"},
    {"--binary", "write binary tick records (never to a terminal)"},
    {"--config FILE", "the configuration file"},
    {"--max-line BYTES", "the longest input line (default 16 MiB)"},
    {"--rejects FILE", "append rejected bars and envelopes to FILE"},
    {"--watermarks FILE", "drop bars older than FILE's watermarks"},
    {"--zone ZONE", "bars' zone when the answer has none"},
    {NULL, NULL},
};

/* Ticks of envelopes without a batch_id wait for their batch's id, up to this many. */
#define HOLD_MAX  (1u << 18)
#define ZONES_MAX 8

struct normalize {
	struct rec_writer *out;
	struct rec_writer *rejects; /* NULL: rejects are warnings on stderr */
	const char *rejects_path;
	int rejects_failed; /* a write error of the rejects file was reported */
	struct av_env env;
	const char *default_zone;
	struct tz *zones[ZONES_MAX];
	size_t nzones;
	int64_t fallback_id; /* --batch-id, or -1 */
	struct watermarks wm;
	int use_wm;          /* --watermarks was given */
	const char *wm_path; /* --watermarks FILE */
	struct stat wm_st;   /* the file as it was when last read */
	size_t max_line;
	struct buf line; /* scratch for reject lines */

	/* The batch being read. */
	int64_t lines;    /* envelope lines read, rejected ones included */
	int64_t written;  /* ticks written */
	int64_t rejected; /* bars and envelopes rejected */
	int64_t seen_id;  /* the batch_id of its envelopes, -1 before one is seen */
	int id_conflict;  /* its envelopes disagree on batch_id */
	struct tick *held;
	size_t nheld, capheld;

	/* The whole run. */
	int64_t total_ticks, total_bar_rejects, total_env_rejects, envelopes;
	int64_t total_older;   /* bars dropped as older than their watermark */
	int64_t stream_errors; /* malformed markers and markers with a wrong count */
	int status;            /* fatal exit status, 0 while going */
};

/* Zones ------------------------------------------------------------------------ */

static const struct tz *zone_get(struct normalize *nz, const char *name, struct err_msg *e)
{
	for (size_t i = 0; i < nz->nzones; i++)
		if (strcmp(tz_name(nz->zones[i]), name) == 0)
			return nz->zones[i];
	struct tz *z = tz_load(name, e);
	if (!z)
		return NULL;
	if (nz->nzones == ZONES_MAX) {
		tz_free(nz->zones[ZONES_MAX - 1]);
		nz->nzones--;
	}
	nz->zones[nz->nzones++] = z;
	return z;
}

/* Output ------------------------------------------------------------------------ */

static int write_failed(struct normalize *nz, struct err_msg *e)
{
	if (!rec_writer_broken_pipe(nz->out))
		err_error("%s", e->text);
	nz->status = EX_IOERR;
	return -1;
}

static int emit(struct normalize *nz, const struct tick *t)
{
	struct err_msg e;
	if (rec_write_tick(nz->out, t, &e) < 0)
		return write_failed(nz, &e);
	nz->written++;
	nz->total_ticks++;
	return 0;
}

static int hold(struct normalize *nz, const struct tick *t)
{
	if (nz->nheld == HOLD_MAX) {
		err_error("more than %u ticks wait for their batch id: envelopes need a batch_id "
		          "member (see tick-normalize(1))",
		          HOLD_MAX);
		nz->status = EX_DATAERR;
		return -1;
	}
	if (nz->nheld == nz->capheld) {
		size_t ncap = nz->capheld ? nz->capheld * 2 : 1024;
		struct tick *p = realloc(nz->held, ncap * sizeof *p);
		if (!p) {
			err_error("out of memory");
			nz->status = EX_SOFTWARE;
			return -1;
		}
		nz->held = p;
		nz->capheld = ncap;
	}
	nz->held[nz->nheld++] = *t;
	return 0;
}

/* Write the held ticks with batch id `id` (null when id < 0). */
static int release(struct normalize *nz, int64_t id)
{
	for (size_t i = 0; i < nz->nheld; i++) {
		struct tick *t = &nz->held[i];
		if (id >= 0)
			t->batch_id = id;
		else
			t->nulls |= TICK_N_BATCH_ID;
		if (emit(nz, t) < 0)
			return -1;
	}
	nz->nheld = 0;
	return 0;
}

/* Rejects ------------------------------------------------------------------------ */

static void put_source(struct normalize *nz, const char *file, uint64_t lineno)
{
	struct buf *b = &nz->line;
	const struct av_env *env = &nz->env;
	buf_puts(b, ",\"source\":{\"file\":");
	buf_json_str(b, file, strlen(file));
	buf_puts(b, ",\"line\":");
	buf_i64(b, (int64_t)lineno);
	if (env->function_name[0]) {
		buf_puts(b, ",\"function\":");
		buf_json_str(b, env->function_name, strlen(env->function_name));
	}
	if (env->symbol[0]) {
		buf_puts(b, ",\"symbol\":");
		buf_json_str(b, env->symbol, strlen(env->symbol));
	}
	if (env->interval) {
		buf_puts(b, ",\"interval\":\"");
		buf_puts(b, tick_interval_name(env->interval));
		buf_putc(b, '"');
	}
	if (env->has_fetched_at) {
		char ts[TS_TEXT_MAX];
		buf_puts(b, ",\"fetched_at\":\"");
		buf_append(b, ts, ts_format_rfc3339(env->fetched_at, ts));
		buf_putc(b, '"');
	}
	buf_puts(b, "}}");
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
		size_t k = 1;
		while (k <= 4 && i + k <= n && jscan_utf8_valid(s + i, k) < 0)
			k++;
		if ((unsigned char)s[i] < 0x80) {
			buf_putc(&clean, s[i]);
		} else if (k <= 4 && i + k <= n) {
			buf_append(&clean, s + i, k);
			i += k - 1;
		} else {
			buf_puts(&clean, "\xef\xbf\xbd");
		}
	}
	buf_json_str(b, clean.data ? clean.data : "", clean.len);
	buf_free(&clean);
}

/*
 * Quarantine one item: a bar (input = the bar as JSON, or its CSV line as a
 * string) or a whole envelope (input = the line, embedded as JSON when it
 * is valid JSON, else as a string).
 */
static int reject(struct normalize *nz, const char *stage, const char *reason, const char *in,
                  size_t inlen, int in_json, int wrap_member, const char *file, uint64_t lineno)
{
	err_record("%s: line %llu: %s%s%s rejected: %s", file, (unsigned long long)lineno,
	           nz->env.symbol, nz->env.symbol[0] ? ": " : "", stage, reason);
	if (!nz->rejects)
		return 0;
	struct buf *b = &nz->line;
	buf_reset(b);
	buf_puts(b, "{\"reason\":");
	buf_json_str(b, reason, strlen(reason));
	buf_puts(b, ",\"stage\":");
	buf_json_str(b, stage, strlen(stage));
	buf_puts(b, ",\"input\":");
	if (in_json && wrap_member) {
		buf_putc(b, '{');
		buf_append(b, in, inlen);
		buf_putc(b, '}');
	} else if (in_json) {
		buf_append(b, in, inlen);
	} else if (in) {
		put_text(b, in, inlen);
	} else {
		buf_puts(b, "null");
	}
	put_source(nz, file, lineno);
	struct err_msg e;
	if (rec_write_json(nz->rejects, b->data, b->len, &e) < 0) {
		/* The error names the file; it is said once. */
		if (!nz->rejects_failed)
			err_error("%s", e.text);
		nz->rejects_failed = 1;
		nz->status = EX_IOERR;
		return -1;
	}
	return 0;
}

/* Envelopes ------------------------------------------------------------------------ */

static void refresh_watermarks(struct normalize *nz);

static int envelope(struct normalize *nz, const char *s, size_t n, const char *file,
                    uint64_t lineno)
{
	struct av_env *env = &nz->env;
	if (nz->use_wm)
		refresh_watermarks(nz);
	nz->envelopes++;
	nz->lines++;
	int rc = av_env_parse(env, s, n);
	if (rc == -2) {
		err_error("out of memory");
		nz->status = EX_SOFTWARE;
		return -1;
	}
	if (rc < 0) {
		nz->rejected++;
		nz->total_env_rejects++;
		return reject(nz, "envelope", env->reject, s, n, env->valid_json, 0, file, lineno);
	}
	if (env->no_data) {
		err_info("%s: line %llu: %s: no data", file, (unsigned long long)lineno,
		         env->symbol);
		return 0;
	}
	struct err_msg e;
	const char *zname = env->zone[0] ? env->zone : nz->default_zone;
	const struct tz *z = zone_get(nz, zname, &e);
	if (!z) {
		char why[ERR_MSG_MAX + 32];
		snprintf(why, sizeof why, "time zone: %s", e.text);
		nz->rejected++;
		nz->total_env_rejects++;
		return reject(nz, "envelope", why, s, n, env->valid_json, 0, file, lineno);
	}
	size_t good = av_env_convert(env, z);

	/* The batch id: the envelope's, else its batch's so far, else --batch-id, else wait. */
	int64_t id = -1;
	if (env->has_batch_id)
		id = env->batch_id;
	else if (nz->seen_id >= 0)
		id = nz->seen_id;
	else
		id = nz->fallback_id;
	if (id >= 0) {
		if (nz->seen_id >= 0 && nz->seen_id != id)
			nz->id_conflict = 1;
		if (nz->seen_id < 0)
			nz->seen_id = id;
		if (nz->nheld && release(nz, id) < 0)
			return -1;
	}
	struct tick t;
	memset(&t, 0, sizeof t);
	memcpy(t.symbol, env->symbol, sizeof t.symbol);
	memcpy(t.source, AV_SOURCE, sizeof AV_SOURCE);
	t.interval = (uint8_t)env->interval;
	t.batch_id = id;
	t.ingested_at = env->fetched_at;
	int64_t mark = nz->use_wm ? wm_get(&nz->wm, env->symbol, env->interval) : INT64_MIN;
	int64_t older = 0;
	for (size_t i = 0; i < good; i++) {
		const struct av_bar *b = &env->bars[i];
		if (b->ts < mark) {
			older++;
			continue;
		}
		t.trade_timestamp = b->ts;
		t.trade_date = b->date;
		t.open = b->open;
		t.high = b->high;
		t.low = b->low;
		t.close = b->close;
		t.volume = b->volume;
		if ((id >= 0 ? emit(nz, &t) : hold(nz, &t)) < 0)
			return -1;
	}
	if (older) {
		nz->total_older += older;
		err_info("%s: line %llu: %s: %lld bars older than the watermark", file,
		         (unsigned long long)lineno, env->symbol, (long long)older);
	}
	for (size_t i = good; i < env->nbars; i++) {
		const struct av_bar *b = &env->bars[i];
		nz->rejected++;
		nz->total_bar_rejects++;
		if (reject(nz, "bar", av_env_bar_why(env, b), b->raw, b->raw_len, b->raw_json, 1,
		           file, lineno) < 0)
			return -1;
	}
	return 0;
}

/* Forget the batch that ended. */
static void batch_reset(struct normalize *nz)
{
	nz->lines = nz->written = nz->rejected = 0;
	nz->seen_id = -1;
	nz->id_conflict = 0;
}

static int batch_end(struct normalize *nz, const struct rec_batch *in)
{
	struct rec_batch b = *in;
	char label[REC_BATCH_LABEL_MAX];
	rec_batch_label(in, label, sizeof label);
	if (nz->seen_id >= 0 && nz->seen_id != in->id)
		nz->id_conflict = 1;
	if (release(nz, in->id) < 0)
		return -1;
	if (nz->id_conflict) {
		err_warn("%s: its envelopes carry other batch ids; the batch fails", label);
		b.status = BATCH_FAILED;
	}
	if (in->records != nz->lines) {
		err_error(
		    "%s: the marker says %lld records, %lld envelopes arrived; the batch fails",
		    label, (long long)in->records, (long long)nz->lines);
		nz->stream_errors++;
		b.status = BATCH_FAILED;
	}
	b.records = nz->written;
	b.rejected = in->rejected + nz->rejected;
	struct err_msg e;
	if (rec_write_batch(nz->out, &b, &e) < 0 || rec_writer_flush(nz->out, &e) < 0)
		return write_failed(nz, &e);
	batch_reset(nz);
	return 0;
}

/*
 * A malformed marker ends a batch that fails.  Ticks still waiting for the
 * batch's id get --batch-id (or null): the marker that would have named it
 * cannot be read.  The marker follows them as it came.
 */
static int bad_marker(struct normalize *nz, const struct rec *rec, const struct err_msg *re)
{
	struct err_msg e;
	err_error("%s; the batch it ends fails", re->text);
	nz->stream_errors++;
	if (release(nz, nz->fallback_id) < 0)
		return -1;
	if (rec_write_control(nz->out, rec->text, rec->text_len, &e) < 0 ||
	    rec_writer_flush(nz->out, &e) < 0)
		return write_failed(nz, &e);
	batch_reset(nz);
	return 0;
}

static int normalize_fd(struct normalize *nz, int fd, const char *name, size_t max_line)
{
	struct rec_reader *r = rec_reader_new(fd, name, max_line);
	if (!r) {
		err_error("out of memory");
		nz->status = EX_SOFTWARE;
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
			nz->status = e.status ? e.status : EX_IOERR;
			rc = -1;
			break;
		}
		if (rec_reader_format(r) == REC_FMT_BINARY) {
			err_error("%s: a binary record stream, not envelopes", name);
			nz->status = EX_DATAERR;
			rc = -1;
			break;
		}
		switch (k) {
		case REC_DATA:
			rc = envelope(nz, rec.text, rec.text_len, name, rec.number);
			break;
		case REC_BATCH:
			rc = batch_end(nz, &rec.batch);
			break;
		case REC_CONTROL:
			if (rec_write_control(nz->out, rec.text, rec.text_len, &e) < 0)
				rc = write_failed(nz, &e);
			break;
		case REC_BAD_MARKER:
			rc = bad_marker(nz, &rec, &e);
			break;
		default: {
			/* A line that is not a JSON object, or too long (the reader says why). */
			const char *why = strstr(e.text, ": record ");
			why = why ? strchr(why + 9, ':') : NULL;
			why = why ? why + 2 : e.text;
			char reason[ERR_MSG_MAX + 16];
			snprintf(
			    reason, sizeof reason, "%s%s",
			    strncmp(why, "line longer", 11) == 0 ? "" : "not valid JSON: ", why);
			nz->env.function_name[0] = nz->env.symbol[0] = '\0';
			nz->env.interval = nz->env.has_fetched_at = 0;
			nz->lines++;
			nz->envelopes++;
			nz->rejected++;
			nz->total_env_rejects++;
			rc = reject(nz, "envelope", reason, rec.text, rec.text ? rec.text_len : 0,
			            0, 0, name, rec.number);
			break;
		}
		}
	}
	rec_reader_free(r);
	return rc;
}

/* The same file, unchanged: the same inode, size and modification time. */
static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/*
 * Read the watermarks file into w: every line must be a watermark.
 * Returns 0, or an exit status (74 when the file cannot be read, 65 for a
 * line that is not a watermark) after saying why: as an error at the start,
 * as a warning when the file is read again (reload), since the watermarks
 * read before then stay.  st gets the file's identity.
 */
static int load_watermarks(struct watermarks *w, const char *path, size_t max_line, struct stat *st,
                           int reload)
{
	void (*say)(const char *, ...) ERR_PRINTF(1, 2) = reload ? err_warn : err_error;
	const char *stays = reload ? "; the watermarks read before stay" : "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;
		say("--watermarks: %s: %s%s", path, strerror(saved), stays);
		return EX_IOERR;
	}
	if (fstat(fd, st) < 0)
		memset(st, 0, sizeof *st);
	struct rec_reader *r = rec_reader_new(fd, path, max_line);
	if (!r) {
		close(fd);
		err_error("out of memory");
		return EX_SOFTWARE;
	}
	rec_reader_set_lazy(r, 1);
	struct rec rec;
	struct err_msg e;
	char why[WM_WHY_MAX];
	int status = 0;
	while (status == 0) {
		int k = rec_read(r, &rec, &e);
		if (k == REC_END)
			break;
		if (k < 0) {
			say("--watermarks: %s%s", e.text, stays);
			status = e.status ? e.status : EX_IOERR;
		} else if (rec_reader_format(r) == REC_FMT_BINARY) {
			say("--watermarks: %s: a binary record stream, not watermarks%s", path,
			    stays);
			status = EX_DATAERR;
		} else if (k != REC_DATA) {
			/* The reader's reason without its "NAME: record N: " prefix. */
			const char *why_bad = strstr(e.text, ": record ");
			why_bad = why_bad ? strchr(why_bad + 9, ':') : NULL;
			if (k != REC_BAD)
				why_bad = "a control line";
			else
				why_bad = why_bad ? why_bad + 2 : e.text;
			say("--watermarks: %s: line %llu: not a watermark: %s%s", path,
			    (unsigned long long)rec.number, why_bad, stays);
			status = EX_DATAERR;
		} else {
			int rc = wm_add_line(w, rec.text, rec.text_len, why);
			if (rc == -2) {
				err_error("out of memory");
				status = EX_SOFTWARE;
			} else if (rc < 0) {
				say("--watermarks: %s: line %llu: not a watermark: %s%s", path,
				    (unsigned long long)rec.number, why, stays);
				status = EX_DATAERR;
			}
		}
	}
	rec_reader_free(r);
	close(fd);
	if (status == 0)
		err_info("--watermarks: %s: %zu keys%s", path, wm_count(w),
		         reload ? " (read again)" : "");
	return status;
}

/*
 * Before each envelope: read the watermarks again if the file changed
 * since it was read (the job replaces it whole after each commit).  A file
 * that is gone or cannot be read keeps the watermarks read before; each
 * change is tried once.
 */
static void refresh_watermarks(struct normalize *nz)
{
	struct stat now;
	if (stat(nz->wm_path, &now) < 0 || same_file(&now, &nz->wm_st))
		return;
	struct watermarks fresh = WATERMARKS_INIT;
	struct stat st;
	if (load_watermarks(&fresh, nz->wm_path, nz->max_line, &st, 1) == 0) {
		wm_free(&nz->wm);
		nz->wm = fresh;
		nz->wm_st = st;
		return;
	}
	wm_free(&fresh);
	nz->wm_st = now;
}

static int parse_size(const char *text, const char *what, int64_t min, int64_t max, int64_t *out)
{
	struct err_msg e;
	if (config_parse_int(text, what, min, max, out, &e) < 0) {
		cli_usage_error(usage, "%s", e.text);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	enum {
		OPT_BINARY = 256,
		OPT_BATCH_ID,
		OPT_CONFIG,
		OPT_MAX_LINE,
		OPT_REJECTS,
		OPT_WATERMARKS,
		OPT_ZONE
	};
	static const struct option longopts[] = {
	    {"batch-id", required_argument, NULL, OPT_BATCH_ID},
	    {"binary", no_argument, NULL, OPT_BINARY},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"help", no_argument, NULL, 'h'},
	    {"max-line", required_argument, NULL, OPT_MAX_LINE},
	    {"quiet", no_argument, NULL, 'q'},
	    {"rejects", required_argument, NULL, OPT_REJECTS},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {"watermarks", required_argument, NULL, OPT_WATERMARKS},
	    {"zone", required_argument, NULL, OPT_ZONE},
	    {NULL, 0, NULL, 0},
	};
	struct normalize nz;
	const char *config_flag = NULL, *max_line_flag = NULL, *batch_id_flag = NULL;
	const char *watermarks_path = NULL, *zone_flag = NULL;
	int binary = 0, level = ERR_NORMAL, ch, status = EX_OK, input_status = EX_OK;

	err_init(argv[0]);
	memset(&nz, 0, sizeof nz);
	av_env_init(&nz.env);
	nz.default_zone = "US/Eastern";
	nz.fallback_id = -1;
	nz.seen_id = -1;
	while ((ch = cli_getopt(usage, argc, argv, "hqv", longopts)) != -1) {
		switch (ch) {
		case OPT_BATCH_ID:
			batch_id_flag = optarg;
			break;
		case OPT_BINARY:
			binary = 1;
			break;
		case OPT_CONFIG:
			config_flag = optarg;
			break;
		case 'h':
			return cli_help(usage, options);
		case OPT_MAX_LINE:
			max_line_flag = optarg;
			break;
		case 'q':
			level = ERR_QUIET;
			break;
		case OPT_REJECTS:
			nz.rejects_path = optarg;
			break;
		case 'v':
			if (level < ERR_DEBUG)
				level++;
			break;
		case 'V':
			return cli_version();
		case OPT_WATERMARKS:
			watermarks_path = optarg;
			break;
		case OPT_ZONE:
			nz.default_zone = zone_flag = optarg;
			break;
		default:
			return EX_USAGE;
		}
	}
	err_set_level(level);

	/* Options, checked together. */
	int64_t max_line = 0;
	struct err_msg e;
	if (batch_id_flag &&
	    parse_size(batch_id_flag, "--batch-id", 0, INT64_MAX, &nz.fallback_id) < 0)
		return EX_USAGE;
	if (binary && cli_refuse_binary_tty(usage, "--binary") != 0)
		return EX_USAGE;
	struct config *cfg = config_open(config_flag, &e);
	if (!cfg) {
		err_error("%s", e.text);
		return EX_CONFIG;
	}
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
	if (!zone_get(&nz, nz.default_zone, &e)) {
		if (zone_flag)
			return cli_usage_error(usage, "--zone: %s", e.text);
		/* The built-in default: the system's time-zone database lacks it. */
		err_error("%s", e.text);
		return EX_CONFIG;
	}
	if (watermarks_path) {
		nz.use_wm = 1;
		nz.wm_path = watermarks_path;
		nz.max_line = (size_t)max_line;
		status = load_watermarks(&nz.wm, watermarks_path, nz.max_line, &nz.wm_st, 0);
		if (status)
			goto done;
	}

	/* Work. */
	nz.out = rec_writer_new(STDOUT_FILENO, "stdout", binary ? REC_FMT_BINARY : REC_FMT_JSON);
	if (nz.rejects_path) {
		/* A quarantine accumulates from run to run. */
		int fd = open(nz.rejects_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
		if (fd < 0) {
			err_error_errno("%s", nz.rejects_path);
			status = EX_IOERR;
			goto done;
		}
		nz.rejects = rec_writer_new(fd, nz.rejects_path, REC_FMT_JSON);
	}
	if (!nz.out || (nz.rejects_path && !nz.rejects)) {
		err_error("out of memory");
		status = EX_SOFTWARE;
		goto done;
	}
	if (optind == argc) {
		normalize_fd(&nz, STDIN_FILENO, "stdin", (size_t)max_line);
	} else {
		for (int i = optind; i < argc && nz.status == 0; i++) {
			if (strcmp(argv[i], "-") == 0) {
				normalize_fd(&nz, STDIN_FILENO, "stdin", (size_t)max_line);
				continue;
			}
			int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				/* Reported, and the run goes on with the next file. */
				err_error_errno("%s", argv[i]);
				input_status = EX_IOERR;
				continue;
			}
			normalize_fd(&nz, fd, argv[i], (size_t)max_line);
			close(fd);
		}
	}
	/* Ticks still waiting: their batch never ended (or the stream has no markers). */
	if (nz.status == 0 && nz.nheld)
		release(&nz, nz.fallback_id);
	status = nz.status;

done:
	/* A reader that went away (tick-normalize | head -1) ended the run: quietly, status 0. */
	int reader_gone = nz.out && rec_writer_broken_pipe(nz.out);
	if (reader_gone && status == EX_IOERR)
		status = EX_OK;
	if (nz.rejects && rec_writer_close(nz.rejects, &e) < 0) {
		if (!nz.rejects_failed)
			err_error("%s", e.text);
		if (!status)
			status = EX_IOERR;
	}
	int closed = nz.out ? rec_writer_close(nz.out, &e) : 0;
	if (closed == -1) {
		if (status != EX_IOERR)
			err_error("%s", e.text);
		if (!status)
			status = EX_IOERR;
	}
	/* The inputs were read to their end (a file that could not be opened was skipped). */
	int finished = status == EX_OK && !reader_gone;
	status = err_status_worse(status, input_status);
	int64_t rejected = nz.total_bar_rejects + nz.total_env_rejects;
	if (rejected) {
		char hint[300];
		snprintf(hint, sizeof hint, "see %s",
		         nz.rejects_path ? nz.rejects_path : "--rejects FILE");
		err_record_end(hint);
	}
	if (status == EX_OK && nz.stream_errors)
		status = EX_DATAERR;
	else if (status == EX_OK && rejected > 0)
		status = EX_REJECTS;
	if (finished) {
		char older[64] = "";
		if (nz.use_wm)
			snprintf(older, sizeof older, ", %lld older than the watermark",
			         (long long)nz.total_older);
		err_warn(
		    "%lld envelopes, %lld bars out%s, %lld rejected (%lld bars, %lld envelopes)",
		    (long long)nz.envelopes, (long long)nz.total_ticks, older, (long long)rejected,
		    (long long)nz.total_bar_rejects, (long long)nz.total_env_rejects);
	}
	for (size_t i = 0; i < nz.nzones; i++)
		tz_free(nz.zones[i]);
	free(nz.held);
	wm_free(&nz.wm);
	buf_free(&nz.line);
	av_env_free(&nz.env);
	return status;
}

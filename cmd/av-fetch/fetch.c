/*
 * fetch: batches of requests to Alpha Vantage, run by one event loop.
 *
 * A batch is a list of jobs (one per symbol, or per symbol and month for
 * a backfill).  The loop starts waiting jobs while there is room under the
 * concurrency limit and the rate limiter allows, drives the transfers, and
 * handles each answer as it completes: data is written at once as an
 * envelope (and flushed, so a consumer sees it without delay); a failure
 * that may pass is rescheduled after a backoff; a permanent one is
 * reported and counted; a daily-limit or configuration answer stops the
 * run.  The batch ends with its marker when no job is left.
 *
 * Signals: SIGINT and SIGTERM set a flag.  The loop then starts nothing
 * new, lets the transfers in flight finish (their data is still written),
 * closes the batch and ends.  The handler is installed once-only, so a
 * second signal ends the process at once.
 *
 * Every URL that is printed is the redacted one from av_url(NULL key), and
 * every text that comes from outside (vendor messages, libcurl errors)
 * goes through av_redact() before it is printed.
 *
 * Each request is recorded in the metadata spool (meta/meta.h) when it is
 * done: its last answer's kind, its attempts, the last attempt's latency
 * and HTTP status.  Nothing of the URL goes there, so neither does the key.
 */
#include "fetch.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/backoff.h"
#include "base/err.h"
#include "meta/meta.h"
#include "net/limiter.h"
#include "record/tick.h"
#include "text/ts.h"

/* The longest the loop sleeps before it looks at the signal flag again. */
#define AVF_TICK_US        100000
/* Spacing added to the vendor's windows to absorb network jitter. */
#define AVF_RATE_MARGIN_US 100000
/* A wait for the rate limiter longer than this is said on stderr. */
#define AVF_SAY_WAIT_US    (5 * TS_US_PER_SEC)

/* Kinds of answers in the summary beyond the classes of av_classify(). */
enum { AVF_HTTP_ERROR = AV_CLASS_COUNT, AVF_NO_ANSWER, AVF_KINDS };

enum avf_job_state { JOB_WAITING, JOB_RUNNING, JOB_DONE };

struct avf_job {
	struct av_request req;
	size_t sym;         /* index in cfg->symbols */
	int state;          /* enum avf_job_state */
	int attempts;       /* attempts started */
	int64_t first_us;   /* monotonic time of the first attempt */
	int64_t start_us;   /* monotonic time of the current attempt */
	int64_t not_before; /* monotonic time before which it must not start */
	/* The last attempt, for the metadata spool. */
	const char *outcome; /* an answer's kind (avf_class_words) or a transfer's failure */
	long http_status;    /* 0: no response */
	int64_t latency_us;
	int recorded;
};

/* The kinds of answers as the metadata spool names them (outcome of a request). */
static const char *const avf_class_words[AV_CLASS_COUNT] = {
    [AV_DATA] = "data",
    [AV_EMPTY] = "empty",
    [AV_ERROR] = "error",
    [AV_BAD_KEY] = "bad_key",
    [AV_PREMIUM] = "premium",
    [AV_THROTTLE_MINUTE] = "throttle",
    [AV_THROTTLE_SECOND] = "burst",
    [AV_DAILY_LIMIT] = "daily_limit",
    [AV_NOTICE] = "notice",
    [AV_EMPTY_QUOTE] = "empty_quote",
    [AV_OTHER_SERIES] = "other_series",
    [AV_MALFORMED] = "malformed",
};

/* Transfers that brought no response, as the spool names them. */
static const char *const avf_transfer_words[HTTP_OUTCOME_COUNT] = {
    [HTTP_DONE] = "http_error",
    [HTTP_E_CONNECT] = "connect_failed",
    [HTTP_E_TIMEOUT] = "timeout",
    [HTTP_E_TRUNCATED] = "truncated",
    [HTTP_E_TLS] = "tls_failed",
    [HTTP_E_TOOBIG] = "too_big",
    [HTTP_E_TRANSFER] = "transfer_failed",
};

struct avf_symstat {
	int emitted, empty, failed, attempts;
	size_t entries, bytes;
};

struct avf_run {
	const struct avf_config *cfg;
	struct rec_writer *w;
	struct http_client *http;
	struct limiter *lim;
	struct backoff bo;
	struct buf url, shown, env, text;
	struct avf_job *jobs;
	size_t njobs;
	struct avf_symstat *stats;
	int64_t last_id;
	int64_t records, rejected;
	int64_t hold_until;      /* the limiter is held (a throttle) until then */
	int64_t said_wait_until; /* the end of the last wait that was said */
	/* The whole run, for the summary. */
	int64_t requests, retries, answers[AVF_KINDS];
	size_t entries;
	int status;      /* the worst outcome of this batch */
	int stopping;    /* start nothing new */
	int stop_status; /* the run must end with this status (-1: it need not end) */
	int quiet_end;   /* the output's reader went away: end without a message */
};

static volatile sig_atomic_t avf_signal;

static void avf_on_signal(int sig)
{
	avf_signal = sig;
}

static void avf_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM};
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = avf_on_signal;
	/* No SA_RESTART: a sleep or poll must return so the flag is seen. */
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		/* A signal ignored by the parent (a shell's background job, nohup) stays ignored. */
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
}

/* How bad a status is, to keep the worst of several. */
static int avf_rank(int status)
{
	switch (status) {
	case EX_OK:
		return 0;
	case EX_REJECTS:
		return 1;
	case EX_DATAERR:
		return 2;
	case EX_UNAVAILABLE:
		return 3;
	case EX_TEMPFAIL:
		return 4;
	case EX_CONFIG:
		return 5;
	case EX_IOERR:
		return 6;
	default:
		return 7;
	}
}

static int avf_worse(int a, int b)
{
	return avf_rank(b) > avf_rank(a) ? b : a;
}

static void avf_stop(struct avf_run *run, int status)
{
	run->stopping = 1;
	run->stop_status = run->stop_status < 0 ? status : avf_worse(run->stop_status, status);
}

/* "IBM", or "IBM 2024-03" for a request of one month. */
static const char *avf_label(const struct avf_job *j, char *out, size_t n)
{
	if (j->req.month == AV_NO_MONTH) {
		snprintf(out, n, "%s", j->req.symbol);
	} else {
		char m[8];
		av_month_format(j->req.month, m);
		snprintf(out, n, "%s %s", j->req.symbol, m);
	}
	return out;
}

/* The printable URL of a job, in run->shown. */
static const char *avf_shown(struct avf_run *run, const struct avf_job *j)
{
	buf_reset(&run->shown);
	if (av_url(&run->shown, run->cfg->base_url, &j->req, NULL) < 0)
		return "(out of memory)";
	return run->shown.data;
}

/* Copy outside text into run->text with the key removed; returns it. */
static const char *avf_clean(struct avf_run *run, const char *s)
{
	buf_reset(&run->text);
	if (buf_puts(&run->text, s) < 0)
		return "(out of memory)";
	av_redact(run->text.data, run->cfg->api_key);
	run->text.len = strlen(run->text.data);
	return run->text.data;
}

static double avf_secs(int64_t us)
{
	return (double)us / 1e6;
}

/* A duration for messages: "0.05s", "1.25s", "60s", "300s". */
static const char *avf_dur(int64_t us, char out[32])
{
	double s = avf_secs(us);
	snprintf(out, 32, s < 10 ? "%.3gs" : "%.0fs", s);
	return out;
}

/* The request's line in the metadata spool, once, when it was asked at least once. */
static void avf_record(struct avf_job *j)
{
	const struct av_request *q = &j->req;
	char month[8];
	if (j->recorded || j->attempts == 0)
		return;
	j->recorded = 1;
	if (q->month != AV_NO_MONTH)
		av_month_format(q->month, month);
	struct meta_request m = {
	    .symbol = q->symbol,
	    .function = av_function_name(q->function),
	    .interval = q->function == AV_INTRADAY ? tick_interval_name(q->interval) : NULL,
	    .month = q->month != AV_NO_MONTH ? month : NULL,
	    .outputsize = q->function == AV_QUOTE ? NULL
	                  : q->outputsize_full    ? "full"
	                                          : "compact",
	    .outcome = j->outcome ? j->outcome : "no_answer",
	    .attempts = j->attempts,
	    .latency_ms = (j->latency_us + 500) / 1000,
	    .http_status = j->http_status ? j->http_status : META_NULL,
	};
	meta_request(&m);
}

static void avf_done(struct avf_job *j)
{
	j->state = JOB_DONE;
	avf_record(j);
}

static void avf_fail(struct avf_run *run, struct avf_job *j, int status, const char *what)
{
	char label[40];
	avf_label(j, label, sizeof label);
	err_error("%s: %s (%s)", label, what, avf_shown(run, j));
	avf_done(j);
	run->rejected++;
	run->stats[j->sym].failed++;
	run->status = avf_worse(run->status, status);
}

/*
 * Schedule another attempt after at least min_delay, or fail the job when
 * the attempts or the time allowed for retries are used up.
 */
static void avf_retry(struct avf_run *run, struct avf_job *j, int status, const char *what,
                      int64_t min_delay)
{
	const struct avf_config *cfg = run->cfg;
	char msg[ERR_MSG_MAX + 64], label[40], d[32];
	int64_t now = ts_monotonic();
	if (run->stopping) {
		avf_fail(run, j, status, what);
		return;
	}
	if (j->attempts >= cfg->max_attempts) {
		snprintf(msg, sizeof msg, "giving up after %d attempt%s in %s: %s", j->attempts,
		         j->attempts == 1 ? "" : "s", avf_dur(now - j->first_us, d), what);
		avf_fail(run, j, status, msg);
		return;
	}
	int64_t delay = backoff_delay(&run->bo, j->attempts);
	if (delay < min_delay)
		delay = min_delay;
	if (now + delay - j->first_us > cfg->max_retry_us) {
		snprintf(msg, sizeof msg,
		         "giving up after %d attempt%s: the next would start after max_retry_time "
		         "(%s): %s",
		         j->attempts, j->attempts == 1 ? "" : "s", avf_dur(cfg->max_retry_us, d),
		         what);
		avf_fail(run, j, status, msg);
		return;
	}
	err_info("%s: %s; retrying in %s (attempt %d of %d)", avf_label(j, label, sizeof label),
	         what, avf_dur(delay, d), j->attempts + 1, cfg->max_attempts);
	run->retries++;
	j->state = JOB_WAITING;
	j->not_before = now + delay;
}

/* The output failed: the run ends with 74, quietly when its reader went away (EPIPE). */
static void avf_write_failed(struct avf_run *run, const struct err_msg *e)
{
	if (rec_writer_broken_pipe(run->w))
		run->quiet_end = 1;
	else
		err_error("%s", e->text);
	avf_stop(run, EX_IOERR);
}

static void avf_emit(struct avf_run *run, struct avf_job *j, const struct http_response *r,
                     const struct av_answer *a)
{
	const struct avf_config *cfg = run->cfg;
	struct err_msg e;
	char label[40], what[160];
	buf_reset(&run->env);
	if (av_envelope(&run->env, &j->req, ts_now(), r->status, run->last_id, r->body.data,
	                r->body.len, a->json) < 0) {
		avf_fail(run, j, EX_SOFTWARE, "out of memory for the envelope");
		avf_stop(run, EX_SOFTWARE);
		return;
	}
	if (run->env.len > cfg->max_line) {
		snprintf(what, sizeof what,
		         "the envelope of %zu bytes is longer than [streams] max_line (%zu)",
		         run->env.len, cfg->max_line);
		avf_fail(run, j, EX_DATAERR, what);
		return;
	}
	if (av_json_quotes_key(run->env.data, run->env.len, cfg->api_key)) {
		avf_fail(run, j, EX_DATAERR, "the answer quotes the API key; it is not written");
		return;
	}
	err_clear(&e);
	if (rec_write_json(run->w, run->env.data, run->env.len, &e) < 0 ||
	    rec_writer_flush(run->w, &e) < 0) {
		avf_done(j);
		avf_write_failed(run, &e);
		return;
	}
	avf_done(j);
	run->records++;
	struct avf_symstat *st = &run->stats[j->sym];
	st->emitted++;
	st->entries += a->entries;
	run->entries += a->entries;
	st->bytes += r->body.len;
	err_info("%s: %zu %s, %zu bytes in %.2fs", avf_label(j, label, sizeof label), a->entries,
	         j->req.function == AV_QUOTE ? "quote" : "bars", r->body.len,
	         avf_secs(r->elapsed_us));
}

/* Let no request start before until: the server asked every request to wait. */
static void avf_hold(struct avf_run *run, int64_t until)
{
	limiter_hold(run->lim, until);
	if (until > run->hold_until)
		run->hold_until = until;
}

/* Wait after a throttle: this request and, through the limiter, every other one. */
static void avf_throttled(struct avf_run *run, struct avf_job *j, const struct av_answer *a,
                          int64_t wait)
{
	char label[40], what[ERR_MSG_MAX], d[32];
	avf_hold(run, ts_monotonic() + wait);
	err_warn("%s: %s: %s; pausing every request for %s (lower calls_per_minute or "
	         "calls_per_second to avoid this)",
	         avf_label(j, label, sizeof label), av_class_name(a->cls),
	         avf_clean(run, a->message), avf_dur(wait, d));
	snprintf(what, sizeof what, "%s", av_class_name(a->cls));
	avf_retry(run, j, EX_TEMPFAIL, what, wait);
}

static void avf_answer(struct avf_run *run, struct avf_job *j, const struct http_response *r)
{
	const struct avf_config *cfg = run->cfg;
	struct av_answer a;
	char label[40], what[ERR_MSG_MAX + 64];
	avf_label(j, label, sizeof label);
	av_classify(&j->req, r->body.data ? r->body.data : "", r->body.len, &a);
	run->answers[a.cls]++;
	j->outcome = avf_class_words[a.cls];
	switch (a.cls) {
	case AV_DATA:
		avf_emit(run, j, r, &a);
		break;
	case AV_EMPTY:
		err_warn("%s: no data: %s", label, a.message);
		avf_done(j);
		run->stats[j->sym].empty++;
		break;
	case AV_ERROR:
		snprintf(what, sizeof what, "refused by Alpha Vantage: %s",
		         avf_clean(run, a.message));
		avf_fail(run, j, EX_REJECTS, what);
		break;
	case AV_EMPTY_QUOTE:
		/* Asking again for a symbol the vendor does not know gives the same answer. */
		snprintf(what, sizeof what, "no quote: %s", a.message);
		avf_fail(run, j, EX_REJECTS, what);
		break;
	case AV_OTHER_SERIES:
		snprintf(what, sizeof what, "%s; asking again will not change it",
		         avf_clean(run, a.message));
		avf_fail(run, j, EX_DATAERR, what);
		break;
	case AV_BAD_KEY:
	case AV_PREMIUM:
		snprintf(what, sizeof what, "%s: %s",
		         a.cls == AV_BAD_KEY ? "the API key was refused"
		                             : "refused as a premium feature",
		         avf_clean(run, a.message));
		avf_fail(run, j, EX_CONFIG, what);
		avf_stop(run, EX_CONFIG);
		break;
	case AV_DAILY_LIMIT:
		snprintf(what, sizeof what, "the daily request limit is used up: %s",
		         avf_clean(run, a.message));
		avf_fail(run, j, EX_TEMPFAIL, what);
		avf_stop(run, EX_TEMPFAIL);
		break;
	case AV_THROTTLE_MINUTE:
		avf_throttled(run, j, &a, cfg->throttle_wait_us);
		break;
	case AV_THROTTLE_SECOND:
		avf_throttled(run, j, &a, cfg->burst_wait_us);
		break;
	case AV_NOTICE:
		snprintf(what, sizeof what, "unrecognised notice: %s", avf_clean(run, a.message));
		avf_retry(run, j, EX_UNAVAILABLE, what, 0);
		break;
	default:
		/* The content type tells a proxy's or a load balancer's HTML page at a glance. */
		snprintf(what, sizeof what, "malformed answer (HTTP %ld, %s, %zu bytes): %s",
		         r->status,
		         r->content_type[0] ? avf_clean(run, r->content_type) : "no type",
		         r->body.len, a.message);
		avf_retry(run, j, EX_UNAVAILABLE, what, 0);
		break;
	}
}

static void avf_response(struct avf_run *run, struct http_response *r)
{
	struct avf_job *j = r->tag;
	char what[ERR_MSG_MAX];
	run->stats[j->sym].attempts++;
	j->latency_us = r->elapsed_us;
	j->http_status = r->outcome == HTTP_DONE ? r->status : 0;
	j->outcome = r->outcome >= 0 && r->outcome < HTTP_OUTCOME_COUNT
	                 ? avf_transfer_words[r->outcome]
	                 : "transfer_failed";
	if (r->outcome != HTTP_DONE)
		run->answers[AVF_NO_ANSWER]++;
	else if (r->status < 200 || r->status > 299)
		run->answers[AVF_HTTP_ERROR]++;
	if (r->outcome != HTTP_DONE) {
		snprintf(what, sizeof what, "%s: %s", http_outcome_name(r->outcome),
		         avf_clean(run, r->error));
		if (r->outcome == HTTP_E_TLS)
			avf_fail(run, j, EX_UNAVAILABLE, what);
		else if (r->outcome == HTTP_E_TOOBIG)
			avf_fail(run, j, EX_DATAERR, what);
		else
			avf_retry(run, j, EX_UNAVAILABLE, what, 0);
		return;
	}
	int64_t after = r->retry_after_us > 0 ? r->retry_after_us : 0;
	if (r->status == 429) {
		/* The server's own throttle: every request waits, as for a throttle answer. */
		int64_t wait = after > 0 ? after : backoff_delay(&run->bo, j->attempts);
		avf_hold(run, ts_monotonic() + wait);
		avf_retry(run, j, EX_TEMPFAIL, "HTTP 429 (too many requests)", wait);
	} else if (r->status >= 500 || r->status == 408) {
		snprintf(what, sizeof what, "HTTP %ld", r->status);
		avf_retry(run, j, EX_UNAVAILABLE, what, after);
	} else if (r->status < 200 || r->status > 299) {
		snprintf(what, sizeof what, "HTTP %ld", r->status);
		avf_fail(run, j, EX_UNAVAILABLE, what);
	} else {
		avf_answer(run, j, r);
	}
}

static int avf_start(struct avf_run *run, struct avf_job *j, int64_t now)
{
	struct err_msg e;
	char label[40];
	buf_reset(&run->url);
	if (av_url(&run->url, run->cfg->base_url, &j->req, run->cfg->api_key) < 0) {
		err_error("out of memory");
		return -1;
	}
	err_clear(&e);
	if (http_start(run->http, run->url.data, &run->cfg->limits, j, &e) < 0) {
		err_error("%s: %s", avf_label(j, label, sizeof label), e.text);
		return -1;
	}
	err_info("%s: GET %s", avf_label(j, label, sizeof label), avf_shown(run, j));
	limiter_record(run->lim, now);
	run->requests++;
	if (!j->attempts)
		j->first_us = now;
	j->attempts++;
	j->start_us = now;
	j->state = JOB_RUNNING;
	return 0;
}

/*
 * Say a long wait for the rate limiter, once per wait.  A throttle's hold
 * has been said when it began, and the per-second window never holds a
 * request for long: a long wait past any hold is the per-minute window.
 */
static void avf_say_wait(struct avf_run *run, int64_t now, int64_t at)
{
	if (at - now <= AVF_SAY_WAIT_US || at <= run->hold_until || at <= run->said_wait_until)
		return;
	run->said_wait_until = at;
	err_warn("waiting %lld s: %lld calls a minute",
	         (long long)((at - now + TS_US_PER_SEC / 2) / TS_US_PER_SEC),
	         (long long)run->cfg->calls_per_minute);
}

/* Start the jobs that may start now; returns the earliest time another may, or INT64_MAX. */
static int64_t avf_start_ready(struct avf_run *run, int64_t now)
{
	int64_t next = INT64_MAX;
	for (size_t i = 0; i < run->njobs && !run->stopping; i++) {
		struct avf_job *j = &run->jobs[i];
		if (j->state != JOB_WAITING)
			continue;
		if (j->not_before > now) {
			if (j->not_before < next)
				next = j->not_before;
			continue;
		}
		if (http_pending(run->http) >= run->cfg->concurrency)
			return next;
		int64_t at = limiter_next(run->lim, now);
		if (at > now) {
			avf_say_wait(run, now, at);
			return at < next ? at : next;
		}
		if (avf_start(run, j, now) < 0) {
			avf_stop(run, EX_SOFTWARE);
			avf_done(j);
			return next;
		}
	}
	return next;
}

static int avf_jobs(struct avf_run *run)
{
	const struct avf_config *cfg = run->cfg;
	size_t months =
	    cfg->month_from == AV_NO_MONTH ? 1 : (size_t)(cfg->month_to - cfg->month_from + 1);
	run->njobs = months * cfg->nsymbols;
	run->jobs = calloc(run->njobs, sizeof *run->jobs);
	if (!run->jobs)
		return -1;
	/* Oldest month first, the symbols in their order within each month. */
	for (size_t m = 0, k = 0; m < months; m++)
		for (size_t s = 0; s < cfg->nsymbols; s++, k++) {
			struct avf_job *j = &run->jobs[k];
			j->req = cfg->proto;
			memcpy(j->req.symbol, cfg->symbols[s], sizeof j->req.symbol);
			j->req.month =
			    cfg->month_from == AV_NO_MONTH ? AV_NO_MONTH : cfg->month_from + (int)m;
			j->sym = s;
		}
	return 0;
}

static void avf_summary(struct avf_run *run, int64_t id, int64_t took)
{
	const struct avf_config *cfg = run->cfg;
	if (err_level() < ERR_VERBOSE)
		return;
	for (size_t s = 0; s < cfg->nsymbols; s++) {
		const struct avf_symstat *st = &run->stats[s];
		err_info("summary: %s: %d emitted, %d empty, %d failed; %zu %s, %zu bytes; %d "
		         "attempts",
		         cfg->symbols[s], st->emitted, st->empty, st->failed, st->entries,
		         cfg->proto.function == AV_QUOTE ? "quotes" : "bars", st->bytes,
		         st->attempts);
	}
	err_info("batch %lld: %lld envelopes, %lld rejected, %.2fs", (long long)id,
	         (long long)run->records, (long long)run->rejected, avf_secs(took));
}

/*
 * The run's summary line: requests, the answers by kind (in the order of
 * the classes), bars, retries.
 */
static void avf_run_summary(const struct avf_run *run)
{
	struct buf kinds = BUF_INIT;
	for (int k = 0; k < AVF_KINDS; k++) {
		if (!run->answers[k])
			continue;
		const char *name = k == AVF_HTTP_ERROR  ? "HTTP error"
		                   : k == AVF_NO_ANSWER ? "no answer"
		                                        : av_class_name(k);
		buf_printf(&kinds, "%s%lld %s", kinds.len ? ", " : "", (long long)run->answers[k],
		           name);
	}
	err_warn("%lld requests; answers: %s; %zu %s; %lld retries", (long long)run->requests,
	         kinds.len && !buf_failed(&kinds) ? kinds.data : "none", run->entries,
	         run->cfg->proto.function == AV_QUOTE ? "quotes" : "bars", (long long)run->retries);
	buf_free(&kinds);
}

/* One batch: returns its status (the worst outcome of its requests). */
static int avf_batch(struct avf_run *run)
{
	const struct avf_config *cfg = run->cfg;
	struct err_msg e;
	int64_t t0 = ts_monotonic();
	int64_t id = ts_now();
	if (id <= run->last_id)
		id = run->last_id + 1;
	run->last_id = id;
	run->records = run->rejected = 0;
	run->status = EX_OK;
	free(run->jobs);
	run->jobs = NULL;
	memset(run->stats, 0, cfg->nsymbols * sizeof *run->stats);
	if (avf_jobs(run) < 0) {
		err_error("out of memory");
		avf_stop(run, EX_SOFTWARE);
		return EX_SOFTWARE;
	}
	for (;;) {
		if (avf_signal && !run->stopping) {
			err_info("signal %d: finishing the requests in flight", (int)avf_signal);
			run->stopping = 1;
		}
		int64_t now = ts_monotonic();
		int64_t next = avf_start_ready(run, now);
		if (http_pending(run->http) == 0 && (run->stopping || next == INT64_MAX))
			break;
		int64_t wait = next == INT64_MAX ? AVF_TICK_US : next - now;
		if (wait > AVF_TICK_US)
			wait = AVF_TICK_US;
		err_clear(&e);
		if (http_poll(run->http, wait, &e) < 0) {
			err_error("%s", e.text);
			avf_stop(run, EX_SOFTWARE);
			break;
		}
		struct http_response *r;
		while ((r = http_collect(run->http))) {
			avf_response(run, r);
			http_response_free(r);
		}
	}
	/* Jobs left waiting by a stop are failures; those left by a signal were never asked for. */
	for (size_t i = 0; i < run->njobs; i++) {
		struct avf_job *j = &run->jobs[i];
		if (j->state == JOB_WAITING && run->stop_status >= 0) {
			j->state = JOB_DONE;
			run->rejected++;
			run->stats[j->sym].failed++;
		}
		/* A request waiting for its next attempt when the run stopped ends with its last. */
		avf_record(j);
	}
	if (run->stop_status == EX_IOERR || run->quiet_end)
		return run->status;
	struct rec_batch b;
	memset(&b, 0, sizeof b);
	memcpy(b.app, cfg->app, sizeof b.app);
	b.id = id;
	b.records = run->records;
	b.rejected = run->rejected;
	/*
	 * A batch that got nothing because the run failed (the service
	 * unreachable, the daily limit, a refused key: statuses 64 and up)
	 * failed here, not in the checks downstream.  Symbols refused one by
	 * one (status 1) leave an empty batch for the checks to judge.
	 */
	b.status = run->records == 0 && run->rejected > 0 && run->status >= EX_USAGE ? BATCH_FAILED
	                                                                             : BATCH_OK;
	err_clear(&e);
	if (rec_write_batch(run->w, &b, &e) < 0 || rec_writer_flush(run->w, &e) < 0) {
		avf_write_failed(run, &e);
		return run->status;
	}
	avf_summary(run, id, ts_monotonic() - t0);
	return run->status;
}

/* Sleep until the real-time clock reads `until` or a signal arrives. */
static void avf_sleep_until(int64_t until)
{
	for (;;) {
		int64_t left = until - ts_now();
		if (left <= 0 || avf_signal)
			return;
		/* Short naps keep the wake-up right when the clock is stepped. */
		if (left > TS_US_PER_SEC)
			left = TS_US_PER_SEC;
		struct timespec ts = {(time_t)(left / TS_US_PER_SEC),
		                      (long)(left % TS_US_PER_SEC) * 1000};
		nanosleep(&ts, NULL);
	}
}

/* The start of the next cycle: the next multiple of every (since the epoch) plus settle. */
static int64_t avf_next_cycle(const struct avf_config *cfg, int64_t now)
{
	int64_t base = ts_floor_div(now - cfg->settle_us, cfg->every_us) * cfg->every_us;
	return base + cfg->every_us + cfg->settle_us;
}

int avf_run(const struct avf_config *cfg, struct rec_writer *w)
{
	struct avf_run run;
	struct err_msg e;
	int status = EX_OK;
	memset(&run, 0, sizeof run);
	run.cfg = cfg;
	run.w = w;
	run.stop_status = -1;
	err_clear(&e);
	run.http = http_client_new("stocketl-av-fetch/" STOCKETL_VERSION, &e);
	run.lim = limiter_new();
	run.stats = calloc(cfg->nsymbols, sizeof *run.stats);
	if (!run.http || !run.lim || !run.stats) {
		err_error("%s", run.http ? "out of memory" : e.text);
		status = EX_SOFTWARE;
		goto out;
	}
	if ((cfg->calls_per_minute && limiter_add(run.lim, cfg->calls_per_minute,
	                                          60 * TS_US_PER_SEC + AVF_RATE_MARGIN_US) < 0) ||
	    (cfg->calls_per_second &&
	     limiter_add(run.lim, cfg->calls_per_second, TS_US_PER_SEC + AVF_RATE_MARGIN_US) < 0)) {
		err_error("out of memory");
		status = EX_SOFTWARE;
		goto out;
	}
	backoff_init(&run.bo, cfg->backoff_base_us, cfg->backoff_max_us,
	             (uint64_t)ts_now() ^ ((uint64_t)getpid() << 32));
	avf_signals();
	for (;;) {
		int bs = avf_batch(&run);
		if (!cfg->follow) {
			status = bs;
			break;
		}
		if (run.stop_status >= 0 || avf_signal)
			break;
		int64_t now = ts_now();
		int64_t next = avf_next_cycle(cfg, now);
		err_debug("next cycle in %.3fs", avf_secs(next - now));
		avf_sleep_until(next);
		if (avf_signal)
			break;
	}
	if (run.stop_status >= 0)
		status = avf_worse(status, run.stop_status);
	if (!run.quiet_end)
		avf_run_summary(&run);
out:
	free(run.jobs);
	free(run.stats);
	limiter_free(run.lim);
	http_client_free(run.http);
	buf_free(&run.url);
	buf_free(&run.shown);
	buf_free(&run.env);
	buf_free(&run.text);
	return status;
}

/*
 * etl-history: the job's history: its runs and their stages, one run in
 * detail, the outcomes of the data-quality checks day by day, and the
 * freshness of each symbol, from PostgreSQL when it can be reached, else
 * from the local metadata spool (stocketl(7), METADATA).
 *
 * A program of its own rather than a command of stocketl-db: it reads
 * only, and works without any database (the spool is the whole record of a
 * job without PostgreSQL), while stocketl-db looks after the database.
 *
 * This file is the command line and the choice of the source; source.c
 * gathers the facts and report.c makes the report out of them.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cli.h"
#include "base/config.h"
#include "base/err.h"
#include "history.h"
#include "pg/schema.h"
#include "text/ts.h"

static const char usage[] =
    "usage: etl-history [-qv] [--config FILE] [--dsn DSN] [--format json | table]\n"
    "                   [--source postgres | spool] [--spool DIR] [--now TIME]\n"
    "                   [--limit N] [--days N] [runs | checks | freshness]\n"
    "       etl-history [-qv] [--config FILE] [--dsn DSN] [--format json | table]\n"
    "                   [--source postgres | spool] [--spool DIR] run RUN_ID\n";

static const struct cli_option options[] = {
    {"--config FILE", "the configuration file"},
    {"--days N", "checks: the last N days (default 7)"},
    {"--dsn DSN", "the PostgreSQL connection string or URI"},
    {"--format json|table", "table on a terminal, else JSON (the default)"},
    {"--limit N", "runs: the last N attempts (default 20)"},
    {"--now TIME", "report as if it were TIME (RFC 3339): ages, days"},
    {"--source postgres|spool", "where from (default PostgreSQL if reachable)"},
    {"--spool DIR", "the spool directory (default <state>/spool)"},
    {NULL, NULL},
};

/* The schema version whose tables hold the job's facts. */
#define FACTS_SCHEMA 2

/*
 * The source: PostgreSQL when asked for, or by default when a DSN is
 * configured and the server answers with the facts' tables; else the
 * spool.  Returns the connection (NULL for the spool), or sets *status.
 */
static struct pg_conn *choose_source(const char *source, const struct pg_settings *s, int *status)
{
	struct err_msg e;
	int want_pg = source && strcmp(source, "postgres") == 0;
	if ((source && !want_pg) || (!want_pg && !s->configured))
		return NULL;
	struct pg_conn *c = pg_connect(s, &e);
	int v = c ? pg_schema_version(c, &e) : -1;
	if (c && v >= 0 && v < FACTS_SCHEMA)
		err_set(&e, EX_CONFIG,
		        "postgres at %s: the schema is at version %d, without the job's tables "
		        "(stocketl-db migrate)",
		        pg_target(c), v);
	if (c && v >= FACTS_SCHEMA)
		return c;
	pg_close(c);
	if (want_pg) {
		err_error("%s", e.text);
		*status = e.status ? e.status : EX_SOFTWARE;
	} else {
		err_warn("%s; reporting from the spool", e.text);
	}
	return NULL;
}

static int parse_count(const char *opt, const char *text, int64_t max, int64_t *out)
{
	struct err_msg e;
	if (config_parse_int(text, opt, 1, max, out, &e) < 0)
		return cli_bad_value(usage, opt, text, "an integer from 1 to %lld", (long long)max);
	return 0;
}

int main(int argc, char **argv)
{
	enum {
		OPT_CONFIG = 256,
		OPT_DAYS,
		OPT_DSN,
		OPT_FORMAT,
		OPT_LIMIT,
		OPT_NOW,
		OPT_SOURCE,
		OPT_SPOOL,
		OPT_VERSION
	};
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"days", required_argument, NULL, OPT_DAYS},
	    {"dsn", required_argument, NULL, OPT_DSN},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"help", no_argument, NULL, 'h'},
	    {"limit", required_argument, NULL, OPT_LIMIT},
	    {"now", required_argument, NULL, OPT_NOW},
	    {"quiet", no_argument, NULL, 'q'},
	    {"source", required_argument, NULL, OPT_SOURCE},
	    {"spool", required_argument, NULL, OPT_SPOOL},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL, *dsn = NULL, *format = NULL, *now_flag = NULL, *source = NULL;
	const char *spool = NULL, *days_flag = NULL, *limit_flag = NULL;
	int level = ERR_NORMAL, ch;
	err_init(argv[0]);
	/* A reader that goes away (etl-history | head) ends the report, not the process. */
	signal(SIGPIPE, SIG_IGN);
	while ((ch = cli_getopt(usage, argc, argv, "hqv", longopts)) != -1) {
		switch (ch) {
		case OPT_CONFIG:
			config = optarg;
			break;
		case OPT_DAYS:
			days_flag = optarg;
			break;
		case OPT_DSN:
			dsn = optarg;
			break;
		case OPT_FORMAT:
			format = optarg;
			break;
		case 'h':
			return cli_help(usage, options);
		case OPT_LIMIT:
			limit_flag = optarg;
			break;
		case OPT_NOW:
			now_flag = optarg;
			break;
		case 'q':
			level = ERR_QUIET;
			break;
		case OPT_SOURCE:
			source = optarg;
			break;
		case OPT_SPOOL:
			spool = optarg;
			break;
		case 'v':
			if (level < ERR_DEBUG)
				level++;
			break;
		case OPT_VERSION:
			return cli_version();
		default:
			return EX_USAGE;
		}
	}
	err_set_level(level);

	/* Options and the command, checked together. */
	struct query q = {.report = R_RUNS, .limit = 20};
	int64_t days = 7, now = ts_now();
	const char *cmd = optind < argc ? argv[optind] : "runs";
	int args = argc - optind;
	if (strcmp(cmd, "runs") == 0 || strcmp(cmd, "checks") == 0 ||
	    strcmp(cmd, "freshness") == 0) {
		q.report = cmd[0] == 'r' ? R_RUNS : cmd[0] == 'c' ? R_CHECKS : R_FRESHNESS;
		if (args > 1)
			return cli_usage_error(usage, "%s takes no arguments", cmd);
	} else if (strcmp(cmd, "run") == 0) {
		q.report = R_RUN;
		if (args != 2)
			return cli_usage_error(usage, "run: expected one RUN_ID");
		q.run_id = argv[optind + 1];
	} else {
		return cli_usage_error(usage, "unknown report \"%s\"", cmd);
	}
	if (format && strcmp(format, "json") != 0 && strcmp(format, "table") != 0)
		return cli_bad_value(usage, "--format", format, "json or table");
	if (source && strcmp(source, "postgres") != 0 && strcmp(source, "spool") != 0)
		return cli_bad_value(usage, "--source", source, "postgres or spool");
	if (source && dsn && strcmp(source, "spool") == 0)
		return cli_usage_error(usage, "--dsn: not used with --source spool");
	if (now_flag && ts_parse_rfc3339(now_flag, strlen(now_flag), &now) < 0)
		return cli_bad_value(usage, "--now", now_flag, "an RFC 3339 timestamp");
	if (limit_flag &&
	    (q.report != R_RUNS || parse_count("--limit", limit_flag, 100000, &q.limit)))
		return q.report != R_RUNS ? cli_usage_error(usage, "--limit: only for runs")
		                          : EX_USAGE;
	if (days_flag && (q.report != R_CHECKS || parse_count("--days", days_flag, 3660, &days)))
		return q.report != R_CHECKS ? cli_usage_error(usage, "--days: only for checks")
		                            : EX_USAGE;
	q.since = (ts_floor_div(now, TS_US_PER_DAY) - (days - 1)) * TS_US_PER_DAY;
	int table = format ? strcmp(format, "table") == 0 : isatty(STDOUT_FILENO);

	struct err_msg e;
	struct config *cfg = config_open(config, &e);
	if (!cfg)
		err_die(e.status ? e.status : EX_CONFIG, "%s", e.text);
	struct pg_settings s;
	struct buf dir = BUF_INIT, locks = BUF_INIT;
	struct store st;
	memset(&st, 0, sizeof st);
	int status = EX_OK;
	if (pg_settings_load(cfg, dsn, &s, &e) < 0) {
		err_error("%s", e.text);
		status = e.status;
		goto out;
	}
	/* The runner's locks are in the state directory, wherever the spool is. */
	const char *state = config_value(cfg, NULL, META_STATE_ENV, "job", "state", "var", NULL);
	if ((spool ? buf_puts(&dir, spool) < 0 : meta_spool_dir(cfg, &dir) < 0) ||
	    buf_printf(&locks, "%s/locks", *state ? state : "var") < 0) {
		err_error("out of memory");
		status = EX_SOFTWARE;
		goto out;
	}
	/* A spool that is named must be there: a mistyped path is not "no history". */
	if (spool && meta_spool_named(spool, &e) < 0) {
		err_error("%s", e.text);
		status = e.status;
		goto out;
	}
	struct pg_conn *c = choose_source(source, &s, &status);
	if (status)
		goto out;
	struct origin o = {c ? "postgres" : "spool", c ? pg_target(c) : dir.data, -1, now,
	                   locks.data};
	if (c) {
		o.pending = source_pending(dir.data);
		if (source_pg(c, &q, &st, &e) < 0) {
			err_error("%s", e.text);
			status = e.status ? e.status : EX_SOFTWARE;
		}
	} else if (source_spool(dir.data, &q, &st, &e) < 0) {
		err_error("%s", e.text);
		status = e.status ? e.status : EX_IOERR;
	}
	if (st.bad) {
		err_record_end(NULL);
		err_warn("%s: %llu %s left out", dir.data, (unsigned long long)st.bad,
		         st.bad == 1 ? "line that is not a fact was"
		                     : "lines that are not facts were");
	}
	if (!status) {
		int w = report_write(&q, &st, &o, table);
		if (w)
			status = w < 0 ? EX_SOFTWARE : w;
	}
	if (!status && st.bad)
		status = EX_REJECTS;
	pg_close(c);
out:
	store_free(&st);
	buf_free(&dir);
	buf_free(&locks);
	config_free(cfg);
	if (cli_close_stdout() != 0 && (status == EX_OK || status == EX_REJECTS))
		status = EX_IOERR;
	return status;
}

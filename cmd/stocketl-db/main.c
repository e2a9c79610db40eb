/*
 * stocketl-db: look after stocketl's PostgreSQL database.
 *
 *   migrate       apply the pending schema migrations (what `make ddl` runs)
 *   status        where the database is (never the password) and the
 *                 schema's version against this build's
 *   table-id      the commit store's identity of tables on an s3fs mount,
 *                 so that two hosts can check that they agree
 *   forget-table  remove from the commit store the rows of tables that
 *                 were deleted from the bucket, so that a table made again
 *                 at the same location starts afresh
 *   load-spool    move the metadata spool (meta/meta.h) into the job's
 *                 tables; what the job runner calls after each run
 *
 * The connection settings are those of every program (pg/pg.h): --dsn,
 * $STOCKETL_PG_DSN, [postgres] dsn, else the PG* variables.  Results go to
 * stdout, one line each; diagnostics to stderr.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/cli.h"
#include "base/config.h"
#include "base/err.h"
#include "delta/delta_store.h"
#include "load.h"
#include "meta/meta.h"
#include "pg/commit_store.h"
#include "pg/pg.h"
#include "pg/schema.h"
#include "pg/tableid.h"

static const char usage[] = "usage: stocketl-db [-qv] [--config FILE] [--dsn DSN] migrate\n"
                            "       stocketl-db [-qv] [--config FILE] [--dsn DSN] status\n"
                            "       stocketl-db [-qv] [--config FILE] [--dsn DSN] [--spool DIR] "
                            "load-spool\n"
                            "       stocketl-db [-qv] table-id PATH ...\n"
                            "       stocketl-db [-qv] [--config FILE] [--dsn DSN] forget-table "
                            "PATH ...\n";

static const struct cli_option options[] = {
    {"--config FILE", "the configuration file"},
    {"--dsn DSN", "the PostgreSQL connection string or URI"},
    {"--spool DIR", "load-spool: the spool directory (default <state>/spool)"},
    {NULL, NULL},
};

static int quiet;

static void say_applied(int v, const char *name, void *arg)
{
	(void)arg;
	if (!quiet)
		printf("applied %d: %s\n", v, name);
}

static int cmd_migrate(const struct pg_settings *s)
{
	struct err_msg e;
	struct pg_conn *c = pg_connect(s, &e);
	if (!c) {
		err_error("%s", e.text);
		return e.status;
	}
	int n = pg_schema_migrate(c, say_applied, NULL, &e);
	int rc = EX_OK;
	if (n < 0) {
		err_error("%s", e.text);
		rc = e.status;
	} else if (!quiet) {
		printf("schema stocketl at version %d on %s%s\n", pg_schema_latest(), pg_target(c),
		       n ? "" : " (nothing to apply)");
	}
	pg_close(c);
	return rc;
}

static int cmd_status(const struct pg_settings *s)
{
	struct err_msg e;
	char target[512];
	pg_settings_target(s, target, sizeof target);
	printf("target: %s\n", target);
	printf("dsn from: %s\n", s->dsn_from);
	struct pg_conn *c = pg_connect(s, &e);
	if (!c) {
		printf("server: not connected\n");
		err_error("%s", e.text);
		return e.status;
	}
	int sv = pg_server_version(c);
	printf("server: PostgreSQL %d.%d\n", sv / 10000, sv % 10000);
	int v = pg_schema_version(c, &e);
	int rc = EX_OK;
	if (v < 0) {
		err_error("%s", e.text);
		rc = e.status;
	} else if (v == 0) {
		printf("schema: none (this build's: %d; stocketl-db migrate creates it, or the "
		       "first commit through the store)\n",
		       pg_schema_latest());
	} else if (v < pg_schema_latest()) {
		printf("schema: %d, behind this build's %d (stocketl-db migrate)\n", v,
		       pg_schema_latest());
	} else {
		printf("schema: %d%s\n", v,
		       v > pg_schema_latest() ? " (newer than this build's)" : "");
	}
	pg_close(c);
	return rc;
}

static int cmd_load_spool(const struct pg_settings *s, const char *dir)
{
	struct err_msg e;
	struct load_stats st;
	struct pg_conn *c = pg_connect(s, &e);
	if (!c) {
		err_error("%s (the spool stays in %s for the next load)", e.text, dir);
		return e.status;
	}
	int rc = EX_OK;
	if (load_spool(c, dir, &st, &e) < 0) {
		err_error("%s (the spool stays in %s for the next load)", e.text, dir);
		rc = e.status;
	}
	if (st.bad) {
		err_record_end(NULL);
		if (rc == EX_OK)
			rc = EX_REJECTS;
	}
	if (!quiet) {
		printf("loaded %zu files from %s into %s: %llu rows added, %llu already there",
		       st.files, dir, pg_target(c), (unsigned long long)st.added,
		       (unsigned long long)st.present);
		if (st.torn)
			printf(", %llu torn lines ignored", (unsigned long long)st.torn);
		if (st.bad)
			printf(", %llu bad lines (%zu files moved to %s/rejected)",
			       (unsigned long long)st.bad, st.quarantined, dir);
		if (st.live)
			printf(", %zu files of running writers left", st.live);
		printf("\n");
	}
	pg_close(c);
	return rc;
}

static int cmd_table_id(int argc, char **argv)
{
	struct buf id = BUF_INIT;
	struct err_msg e;
	int rc = EX_OK;
	for (int i = 0; i < argc; i++) {
		int got = pg_table_identity(argv[i], &id, &e);
		if (got < 0) {
			err_error("%s", e.text);
			/* The most serious status wins: configuration, then I/O. */
			if (rc == EX_OK || e.status == EX_CONFIG)
				rc = e.status;
			continue;
		}
		printf("%s\t%s\n", got ? id.data : "-", argv[i]);
	}
	buf_free(&id);
	return rc;
}

/*
 * forget-table: for each PATH on an s3fs mount whose _delta_log lists no
 * commit and no checkpoint (the table was deleted from the bucket), the
 * store's rows of its identity are deleted.  A table whose log is still
 * there is refused: its rows are its commits.
 */
static int cmd_forget(const struct pg_settings *s, int argc, char **argv)
{
	struct err_msg e;
	struct buf id = BUF_INIT;
	struct pg_conn *c = NULL;
	int rc = EX_OK;
	for (int i = 0; i < argc; i++) {
		int got = pg_table_identity(argv[i], &id, &e);
		int listed = got == 1 ? delta_log_listed(argv[i], &e) : 0;
		if (got < 0 || listed < 0) {
			err_error("%s", e.text);
			rc = rc == EX_OK ? e.status : rc;
			continue;
		}
		if (got == 0) {
			err_error(
			    "%s: not on an s3fs mount: a local table has no rows in the commit "
			    "store",
			    argv[i]);
			rc = rc == EX_OK ? EX_USAGE : rc;
			continue;
		}
		if (listed) {
			err_error(
			    "%s: its _delta_log still holds commits: the table is not deleted, "
			    "and its rows in the store are its commits (delete the table from the "
			    "bucket first)",
			    argv[i]);
			rc = rc == EX_OK ? EX_DATAERR : rc;
			continue;
		}
		if (!c && !(c = pg_connect(s, &e))) {
			err_error("%s", e.text);
			rc = e.status;
			break;
		}
		int64_t n;
		if (pg_commit_forget(c, id.data, &n, &e) < 0) {
			err_error("%s", e.text);
			rc = e.status;
			break;
		}
		if (!quiet)
			printf("forgot %lld version%s of %s\t%s\n", (long long)n, n == 1 ? "" : "s",
			       id.data, argv[i]);
	}
	pg_close(c);
	buf_free(&id);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'}, {"dsn", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},         {"quiet", no_argument, NULL, 'q'},
	    {"spool", required_argument, NULL, 's'},  {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	const char *config = NULL, *dsn = NULL, *spool = NULL;
	int level = ERR_NORMAL, ch;
	err_init(argv[0]);
	/* "+": options stop at the command, as in git. */
	while ((ch = cli_getopt(usage, argc, argv, "+hqv", longopts)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'd':
			dsn = optarg;
			break;
		case 'h':
			return cli_help(usage, options);
		case 'q':
			level = ERR_QUIET;
			quiet = 1;
			break;
		case 's':
			spool = optarg;
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
	if (argc < 1)
		return cli_usage_error(usage, "no command given");
	const char *cmd = argv[0];
	int is_migrate = strcmp(cmd, "migrate") == 0, is_status = strcmp(cmd, "status") == 0;
	int is_table_id = strcmp(cmd, "table-id") == 0;
	int is_load = strcmp(cmd, "load-spool") == 0;
	int is_forget = strcmp(cmd, "forget-table") == 0;
	if (!is_migrate && !is_status && !is_table_id && !is_load && !is_forget)
		return cli_usage_error(usage, "unknown command \"%s\"", cmd);
	if ((is_migrate || is_status || is_load) && argc != 1)
		return cli_usage_error(usage, "%s takes no arguments", cmd);
	if (spool && !is_load)
		return cli_usage_error(usage, "--spool: only with load-spool");
	if (is_table_id && argc < 2)
		return cli_usage_error(usage, "table-id: no PATH given");
	if (is_forget && argc < 2)
		return cli_usage_error(usage, "forget-table: no PATH given");

	int rc;
	if (is_table_id) {
		rc = cmd_table_id(argc - 1, argv + 1);
	} else {
		struct err_msg e;
		struct config *cfg = config_open(config, &e);
		if (!cfg)
			err_die(e.status, "%s", e.text);
		struct pg_settings s;
		struct buf dir = BUF_INIT;
		if (pg_settings_load(cfg, dsn, &s, &e) < 0) {
			err_error("%s", e.text);
			rc = e.status;
		} else if (is_forget) {
			rc = cmd_forget(&s, argc - 1, argv + 1);
		} else if (is_load && spool && meta_spool_named(spool, &e) < 0) {
			err_error("%s", e.text);
			rc = e.status;
		} else if (is_load) {
			if (spool ? buf_puts(&dir, spool) < 0 : meta_spool_dir(cfg, &dir) < 0)
				err_die(EX_SOFTWARE, "out of memory");
			rc = cmd_load_spool(&s, dir.data);
		} else {
			rc = is_migrate ? cmd_migrate(&s) : cmd_status(&s);
		}
		buf_free(&dir);
		config_free(cfg);
	}
	if (cli_close_stdout() != 0 && rc == EX_OK)
		rc = EX_IOERR;
	return rc;
}

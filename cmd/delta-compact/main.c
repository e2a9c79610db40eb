/*
 * delta-compact: keep a Delta table small and fast to read while other
 * programs write to it.
 *
 * A table loaded one commit a minute grows thousands of small files and a
 * long log.  The operations here undo that without stopping the writers:
 *
 *   --optimize (the default)  rewrite each partition's small files into
 *                             files near a target size, rows in order
 *   --vacuum                  delete data files no retained version reads
 *   --checkpoint              write a checkpoint of the latest version
 *   --cleanup-log             delete commits and checkpoints that expired
 *
 * Several may be given; they run in that order (a checkpoint after the
 * optimize holds the compacted state).  Nothing here takes a lock: each
 * operation commits through the table's commit store as any writer does,
 * declaring only what it really read, so appends that run at the same
 * time never conflict with it, and each deletes only what no retained
 * version can need.  This file holds the options and the summary; the
 * operations live in optimize.c, vacuum.c and logclean.c.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/config.h"
#include "compact.h"
#include "text/ts.h"

static const char usage[] =
    "usage: delta-compact [-qv] [--checkpoint] [--cleanup-log] [--config FILE]\n"
    "                     [--optimize [--order-by COLS] [--target-file-size BYTES]\n"
    "                     [--where EXPR]] [--vacuum [--dry-run] [--force]\n"
    "                     [--retain DURATION]] TABLE\n";

static const struct cli_option options[] = {
    {"--checkpoint", "write a checkpoint of the latest version"},
    {"--cleanup-log", "delete commits past delta.logRetentionDuration"},
    {"--config FILE", "the configuration file"},
    {"--dry-run", "with --vacuum: list the files, delete nothing"},
    {"--force", "with --vacuum: allow a shorter retention"},
    {"--optimize", "rewrite small files (the default operation)"},
    {"--order-by COLS", "the rows' order in new files (comma-separated)"},
    {"--retain DURATION", "with --vacuum: keep files this long (7d, 168h)"},
    {"--target-file-size BYTES", "the size of the files optimize writes"},
    {"--vacuum", "delete data files that no retained version reads"},
    {"--where EXPR", "optimize only the partitions that match"},
    {NULL, NULL},
};

void compact_created(struct compact *c, int64_t version)
{
	if (c->first_version < 0 || version < c->first_version)
		c->first_version = version;
	if (version > c->last_version)
		c->last_version = version;
}

void compact_size_text(int64_t bytes, char *out, size_t cap)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	if (bytes < 1024) {
		snprintf(out, cap, "%" PRId64 " B", bytes);
		return;
	}
	double v = (double)bytes / 1024;
	int u = 0;
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(out, cap, "%.1f %s", v, units[u]);
}

void compact_duration_text(int64_t ms, char *out, size_t cap)
{
	static const struct {
		int64_t ms;
		const char *unit;
	} units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
	if (ms == 0) {
		snprintf(out, cap, "0s");
		return;
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (ms % units[i].ms == 0) {
			snprintf(out, cap, "%" PRId64 "%s", ms / units[i].ms, units[i].unit);
			return;
		}
	snprintf(out, cap, "%" PRId64 "ms", ms);
}

int64_t compact_mtime_ms(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

int compact_load(struct compact *c, int files, struct delta_snapshot *snap)
{
	struct delta_load_opts lo = DELTA_LOAD_LATEST;
	struct err_msg e;
	lo.no_files = !files;
	if (delta_store_load(c->store, &lo, snap, &e) < 0) {
		err_error("%s", e.text);
		return e.status;
	}
	if (snap->has_notice)
		err_warn("%s", snap->notice.text);
	if (delta_check_write(snap, &e) < 0) {
		err_error("%s", e.text);
		delta_snapshot_free(snap);
		return e.status;
	}
	return EX_OK;
}

/*
 * A retention: a duration as elsewhere in stocketl (7d, 168h, 90m), or a
 * Delta interval ("interval 7 days").  0, or -1 when it is neither.
 */
static int parse_retention(const char *text, int64_t *ms)
{
	int64_t us;
	if (ts_parse_duration(text, &us) == 0) {
		*ms = us / 1000;
		return 0;
	}
	return delta_interval_ms(text, ms);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"checkpoint", no_argument, NULL, 'C'},
	    {"cleanup-log", no_argument, NULL, 'L'},
	    {"config", required_argument, NULL, 'c'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {"optimize", no_argument, NULL, 'O'},
	    {"order-by", required_argument, NULL, 'o'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"retain", required_argument, NULL, 'r'},
	    {"target-file-size", required_argument, NULL, 't'},
	    {"vacuum", no_argument, NULL, 'W'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {"where", required_argument, NULL, 'w'},
	    {NULL, 0, NULL, 0},
	};
	struct compact c;
	memset(&c, 0, sizeof c);
	c.retain_ms = -1;
	c.target_size = -1;
	c.first_version = c.last_version = -1;
	const char *config = NULL, *o_target = NULL, *o_retain = NULL;
	int optimize = 0, checkpoint = 0, vacuum = 0, cleanup = 0;
	int level = ERR_NORMAL, ch;
	struct err_msg e;
	err_init(argv[0]);
	while ((ch = cli_getopt(usage, argc, argv, "hqv", longopts)) != -1) {
		switch (ch) {
		case 'C':
			checkpoint = 1;
			break;
		case 'L':
			cleanup = 1;
			break;
		case 'c':
			config = optarg;
			break;
		case 'n':
			c.dry_run = 1;
			break;
		case 'f':
			c.force = 1;
			break;
		case 'h':
			return cli_help(usage, options);
		case 'O':
			optimize = 1;
			break;
		case 'o':
			c.order_by = optarg;
			break;
		case 'q':
			level = ERR_QUIET;
			break;
		case 'r':
			o_retain = optarg;
			break;
		case 't':
			o_target = optarg;
			break;
		case 'v':
			level++;
			break;
		case 'V':
			return cli_version();
		case 'W':
			vacuum = 1;
			break;
		case 'w':
			c.where = optarg;
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
	if (!checkpoint && !vacuum && !cleanup)
		optimize = 1;
	if (!vacuum && (c.dry_run || c.force || o_retain))
		return cli_usage_error(usage, "%s needs --vacuum",
		                       c.dry_run ? "--dry-run"
		                       : c.force ? "--force"
		                                 : "--retain");
	if (!optimize && (c.order_by || o_target || c.where))
		return cli_usage_error(usage, "%s needs --optimize",
		                       c.order_by ? "--order-by"
		                       : o_target ? "--target-file-size"
		                                  : "--where");
	if (o_target && config_parse_int(o_target, "--target-file-size", 4096, (int64_t)1 << 40,
	                                 &c.target_size, &e) < 0)
		return cli_usage_error(usage, "%s", e.text);
	if (c.order_by && !*c.order_by)
		return cli_bad_value(usage, "--order-by", c.order_by, "column names");
	c.retain_text = o_retain;
	if (o_retain && parse_retention(o_retain, &c.retain_ms) < 0)
		return cli_bad_value(usage, "--retain", o_retain,
		                     "a duration such as 7d, 168h or 30m");

	struct config *cfg = config_open(config, &e);
	if (!cfg)
		err_die(e.status, "%s", e.text);
	struct buf root = BUF_INIT;
	int rc = EX_OK;
	/*
	 * The store first, as every writer does: a table it cannot commit to
	 * is refused before anything is written or deleted, and what it left
	 * incomplete is finished before the log is listed.  A dry run commits
	 * nothing, yet takes the same way so that it answers as the real run.
	 */
	if (!(c.store = delta_table_open(cfg, argv[0], DELTA_TABLE_WRITE | DELTA_TABLE_RECOVER,
	                                 &root, &e))) {
		rc = cli_report(usage, &e);
		goto out;
	}
	c.cfg = cfg;
	c.table = argv[0];
	c.root = root.data;
	c.now_ms = ts_now() / 1000;
	if (optimize)
		rc = compact_optimize(&c);
	if (rc == EX_OK && vacuum)
		rc = compact_vacuum(&c);
	if (rc == EX_OK && checkpoint)
		rc = compact_checkpoint(&c);
	if (rc == EX_OK && cleanup)
		rc = compact_cleanup_log(&c);
	if (c.first_version >= 0) {
		if (c.first_version == c.last_version)
			err_warn("%s: created version %" PRId64, c.table, c.first_version);
		else
			err_warn("%s: created versions %" PRId64 "-%" PRId64, c.table,
			         c.first_version, c.last_version);
	}
out:
	delta_store_close(c.store);
	buf_free(&root);
	config_free(cfg);
	return rc;
}

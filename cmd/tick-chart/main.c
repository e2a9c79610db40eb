/*
 * tick-chart: a candlestick and volume chart of tick records, as SVG.
 *
 *     delta-cat silver --where "symbol = 'NVDA'" | tick-chart > nvda.svg
 *
 * Records are read from the files named, or standard input, in either
 * encoding; batch markers and other control lines are ignored.  Each
 * (symbol, interval) gets a panel, and its bars are aggregated as they
 * arrive into every candle size at once, keeping only the sizes that fit
 * the panel's width (bucket.c), so neither memory nor the picture grows
 * with the input.  The SVG is built in memory (bounded by the widths and
 * the number of panels) and written at the end: to standard output, or to
 * -o FILE through a temporary file renamed into place, so a run that draws
 * nothing leaves an existing file alone.
 *
 * This is a reader: a record that cannot be read is reported (the first
 * ERR_RECORD_SHOWN of them) and left out, never quarantined.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cli.h"
#include "base/config.h"
#include "base/err.h"
#include "chart.h"
#include "record/stream.h"
#include "text/jscan.h"
#include "text/tz.h"

static const char usage[] =
    "usage: tick-chart [-qv] [-o FILE] [--height PX] [--title TEXT] [--width PX]\n"
    "                  [--zone NAME] [FILE ...]\n";

static const struct cli_option options[] = {
    {"--height PX", "the height of each panel (default 400)"},
    {"-o, --output FILE", "write the SVG to FILE (default: stdout)"},
    {"--title TEXT", "the chart's title (default: symbol, interval, dates)"},
    {"--width PX", "the width of the chart (default 1200)"},
    {"--zone NAME", "the time zone of the time axis (default America/New_York)"},
    {NULL, NULL},
};

#define PANELS_MAX   64
#define ZONE_DEFAULT "America/New_York"
#define TITLE_MAX    200

/* The fields a bar cannot be drawn without. */
#define NEEDED                                                                                     \
	(TICK_N_SYMBOL | TICK_N_INTERVAL | TICK_N_TIMESTAMP | TICK_N_OPEN | TICK_N_HIGH |          \
	 TICK_N_LOW | TICK_N_CLOSE)

struct run {
	struct chart_panel *panels[PANELS_MAX];
	size_t npanels, last; /* last: the panel of the previous record */
	size_t limit;         /* candles per panel */
	const struct tz *zone;
	uint64_t unreadable; /* records that could not be read */
	uint64_t left_out;   /* readable records of panels past PANELS_MAX */
	int io_error;
	int status; /* a fatal status (out of memory), 0 while going */
};

static struct chart_panel *find_panel(struct run *r, const struct tick *t)
{
	if (r->npanels && r->panels[r->last]->interval == t->interval &&
	    strcmp(r->panels[r->last]->symbol, t->symbol) == 0)
		return r->panels[r->last];
	for (size_t i = 0; i < r->npanels; i++)
		if (r->panels[i]->interval == t->interval &&
		    strcmp(r->panels[i]->symbol, t->symbol) == 0)
			return r->panels[r->last = i];
	if (r->npanels == PANELS_MAX)
		return NULL;
	struct chart_panel *p = malloc(sizeof *p);
	if (!p)
		return NULL;
	chart_panel_init(p, t->symbol, t->interval, r->limit);
	r->last = r->npanels;
	r->panels[r->npanels++] = p;
	return p;
}

static void take(struct run *r, const struct rec *rec, const char *name)
{
	struct tick t;
	struct err_msg e;
	if (rec_tick(rec, &t, &e) < 0) {
		err_record("%s: %s", name, e.text);
		r->unreadable++;
		return;
	}
	unsigned missing = t.nulls & NEEDED;
	if (missing || !tick_interval_name(t.interval)) {
		/* The first field missing; else the interval, whose code is out of range. */
		int f = missing ? __builtin_ctz(missing) : __builtin_ctz(TICK_N_INTERVAL);
		err_record("%s: record %llu: field \"%s\": %s", name,
		           (unsigned long long)rec->number, tick_field_names[f],
		           missing ? "null or missing" : "out of range");
		r->unreadable++;
		return;
	}
	struct chart_panel *p = find_panel(r, &t);
	if (!p) {
		if (r->npanels < PANELS_MAX) {
			err_error("out of memory");
			r->status = EX_SOFTWARE;
			return;
		}
		err_record(
		    "%s: record %llu: %s %s left out: more than %d symbol and interval pairs", name,
		    (unsigned long long)rec->number, t.symbol, tick_interval_name(t.interval),
		    PANELS_MAX);
		r->left_out++;
		return;
	}
	if (chart_panel_add(p, &t, r->zone) < 0) {
		err_error("out of memory");
		r->status = EX_SOFTWARE;
	}
}

static void read_fd(struct run *r, int fd, const char *name)
{
	struct rec_reader *rd = rec_reader_new(fd, name, 0);
	if (!rd) {
		err_error("out of memory");
		r->status = EX_SOFTWARE;
		return;
	}
	struct rec rec;
	struct err_msg e;
	while (r->status == 0) {
		int k = rec_read(rd, &rec, &e);
		if (k == REC_END)
			break;
		if (k < 0) {
			/* The stream cannot go on: what was read before still draws. */
			err_error("%s", e.text);
			if (e.status == EX_DATAERR)
				r->unreadable++;
			else
				r->io_error = 1;
			break;
		}
		if (k == REC_DATA) {
			take(r, &rec, name);
		} else if (k == REC_BAD) {
			err_record("%s", e.text);
			r->unreadable++;
		}
	}
	rec_reader_free(rd);
}

static int by_symbol_interval(const void *a, const void *b)
{
	const struct chart_panel *p = *(struct chart_panel *const *)a;
	const struct chart_panel *q = *(struct chart_panel *const *)b;
	int c = strcmp(p->symbol, q->symbol);
	return c ? c : (p->interval > q->interval) - (p->interval < q->interval);
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Write the chart into a file that is not a regular one (a device, a named
 * pipe, /dev/stdout on a pipe): it is opened and written, as a shell's
 * redirection would, not replaced.  A reader of a pipe that went away is
 * a quiet end, as on stdout.  Returns an exit status.
 */
static int write_special(const char *path, const struct buf *svg)
{
	signal(SIGPIPE, SIG_IGN);
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0) {
		err_error_errno("%s", path);
		return EX_IOERR;
	}
	int rc = EX_OK;
	if (write_all(fd, svg->data, svg->len) < 0 && errno != EPIPE) {
		err_error("%s: write error: %s", path, strerror(errno));
		rc = EX_IOERR;
	}
	if (close(fd) < 0 && rc == EX_OK && errno != EPIPE) {
		err_error_errno("%s", path);
		rc = EX_IOERR;
	}
	return rc;
}

/*
 * Write the chart to path through a temporary file in its directory,
 * renamed into place.  A path that names something other than a regular
 * file is written directly (write_special()); a symbolic link to a regular
 * file has that file replaced, the link kept.  Returns an exit status.
 */
static int write_file(const char *path, const struct buf *svg)
{
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return write_special(path, svg);
	/* Messages name the path as given; the file written is the one a link names. */
	char *real = NULL;
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		real = realpath(path, NULL); /* NULL for a dangling link: replaced, as before */
	const char *target = real ? real : path;
	struct buf tmp = BUF_INIT;
	const char *slash = strrchr(target, '/');
	if (slash)
		buf_append(&tmp, target, (size_t)(slash - target + 1));
	buf_printf(&tmp, ".%s.XXXXXX", slash ? slash + 1 : target);
	int rc = EX_OK, fd = -1;
	if (buf_failed(&tmp)) {
		err_error("out of memory");
		rc = EX_SOFTWARE;
	} else if ((fd = mkstemp(tmp.data)) < 0) {
		err_error_errno("%s", path);
		rc = EX_IOERR;
	}
	if (fd >= 0) {
		/* mkstemp makes the file private; a chart is as readable as any new file. */
		mode_t mask = umask(0);
		umask(mask);
		if (fchmod(fd, 0666 & ~mask) < 0 || write_all(fd, svg->data, svg->len) < 0) {
			err_error_errno("%s", path);
			rc = EX_IOERR;
		}
		if (close(fd) < 0 && rc == EX_OK) {
			err_error_errno("%s", path);
			rc = EX_IOERR;
		}
		if (rc == EX_OK && rename(tmp.data, target) < 0) {
			err_error_errno("%s", path);
			rc = EX_IOERR;
		}
		if (rc != EX_OK)
			unlink(tmp.data);
	}
	buf_free(&tmp);
	free(real);
	return rc;
}

/*
 * Write the chart to standard output.  A reader that went away
 * (tick-chart | head -c 100) is a quiet end, as for every program here,
 * not a death by SIGPIPE; any other failure is reported.  Returns an exit
 * status.
 */
static int write_stdout(const struct buf *svg)
{
	signal(SIGPIPE, SIG_IGN);
	if (write_all(STDOUT_FILENO, svg->data, svg->len) < 0) {
		if (errno == EPIPE)
			return EX_OK;
		err_error("stdout: write error: %s", strerror(errno));
		return EX_IOERR;
	}
	/* Nothing went through stdio; closing still reports a failed close (NFS). */
	return cli_close_stdout();
}

/* A --title must be text that XML can carry: UTF-8 without control characters. */
static int title_ok(const char *s)
{
	size_t n = strlen(s);
	if (n > TITLE_MAX || jscan_utf8_valid(s, n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	enum { OPT_HEIGHT = 256, OPT_TITLE, OPT_WIDTH, OPT_ZONE };
	static const struct option longopts[] = {
	    {"height", required_argument, NULL, OPT_HEIGHT},
	    {"help", no_argument, NULL, 'h'},
	    {"output", required_argument, NULL, 'o'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"title", required_argument, NULL, OPT_TITLE},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {"width", required_argument, NULL, OPT_WIDTH},
	    {"zone", required_argument, NULL, OPT_ZONE},
	    {NULL, 0, NULL, 0},
	};
	const char *height_flag = "400", *output = NULL, *title = NULL, *width_flag = "1200";
	const char *zone_name = ZONE_DEFAULT;
	int level = ERR_NORMAL, ch;

	err_init(argv[0]);
	while ((ch = cli_getopt(usage, argc, argv, "ho:qv", longopts)) != -1) {
		switch (ch) {
		case OPT_HEIGHT:
			height_flag = optarg;
			break;
		case 'h':
			return cli_help(usage, options);
		case 'o':
			output = optarg;
			break;
		case 'q':
			level = ERR_QUIET;
			break;
		case OPT_TITLE:
			title = optarg;
			break;
		case 'v':
			if (level < ERR_DEBUG)
				level++;
			break;
		case 'V':
			return cli_version();
		case OPT_WIDTH:
			width_flag = optarg;
			break;
		case OPT_ZONE:
			zone_name = optarg;
			break;
		default:
			return EX_USAGE;
		}
	}
	err_set_level(level);

	/* Options, checked together. */
	struct err_msg e;
	int64_t width, height;
	if (config_parse_int(width_flag, "--width", 300, 20000, &width, &e) < 0 ||
	    config_parse_int(height_flag, "--height", 150, 20000, &height, &e) < 0)
		return cli_usage_error(usage, "%s", e.text);
	if (title && !title_ok(title))
		return cli_usage_error(usage,
		                       "--title: expected at most %d bytes of UTF-8 text without "
		                       "control characters",
		                       TITLE_MAX);
	if (output && !*output)
		return cli_usage_error(usage, "-o: expected a file name");
	struct tz *zone = tz_load(zone_name, &e);
	if (!zone)
		return cli_usage_error(usage, "--zone: %s", e.text);

	/* Work. */
	struct run r;
	memset(&r, 0, sizeof r);
	r.limit = chart_capacity((int)width);
	r.zone = zone;
	if (optind == argc) {
		read_fd(&r, STDIN_FILENO, "stdin");
	} else {
		for (int i = optind; i < argc && r.status == 0; i++) {
			if (strcmp(argv[i], "-") == 0) {
				read_fd(&r, STDIN_FILENO, "stdin");
				continue;
			}
			int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				/* A file that cannot be opened is reported; the others still draw. */
				err_error_errno("%s", argv[i]);
				r.io_error = 1;
				continue;
			}
			read_fd(&r, fd, argv[i]);
			close(fd);
		}
	}
	if (r.unreadable || r.left_out)
		err_record_end(NULL);

	int status = r.status;
	struct buf svg = BUF_INIT;
	if (status == 0 && r.npanels == 0) {
		if (r.io_error) {
			status = EX_IOERR;
		} else if (r.unreadable) {
			if (r.unreadable == 1)
				err_error("nothing to draw: the one record could not be read");
			else
				err_error("nothing to draw: none of the %llu records could be read",
				          (unsigned long long)r.unreadable);
			status = EX_DATAERR;
		} else {
			err_error("nothing to draw: no tick records in the input");
			status = EX_DATAERR;
		}
	}
	if (status == 0) {
		qsort(r.panels, r.npanels, sizeof *r.panels, by_symbol_interval);
		for (size_t i = 0; i < r.npanels; i++) {
			const struct chart_level *l = chart_panel_level(r.panels[i]);
			err_info("%s %s: %lld records, %zu candles of %s", r.panels[i]->symbol,
			         tick_interval_name(r.panels[i]->interval),
			         (long long)r.panels[i]->records, l->n, chart_unit_name(l->unit));
		}
		struct chart_opts o = {(int)width, (int)height, title, zone};
		if (chart_svg(&svg, r.panels, r.npanels, &o) < 0) {
			err_error("out of memory");
			status = EX_SOFTWARE;
		} else if (output && strcmp(output, "-") != 0) {
			status = write_file(output, &svg);
		} else {
			status = write_stdout(&svg);
		}
	}
	if (status == 0)
		status = r.io_error ? EX_IOERR : (r.unreadable || r.left_out) ? EX_REJECTS : EX_OK;
	buf_free(&svg);
	for (size_t i = 0; i < r.npanels; i++) {
		chart_panel_free(r.panels[i]);
		free(r.panels[i]);
	}
	tz_free(zone);
	return status;
}

/*
 * av-fetch: extract intraday, daily and quote data from Alpha Vantage.
 *
 * This file is the command line: options, the [av-fetch] and [API]
 * settings of the configuration, the API key, and the output; fetch.c does
 * the work.  Every setting is resolved and checked before the first
 * request, so a mistake costs no quota.  A setting given as a flag is a
 * usage error (64) when it is wrong; one from the file is a configuration
 * error (78) that names the file and line.
 *
 * The API key is never an argument (ps shows arguments to every user):
 * options are not abbreviated, and an option that looks like a key
 * option is refused without echoing its value.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "av/avapi.h"
#include "base/cli.h"
#include "base/config.h"
#include "base/err.h"
#include "base/utf8.h"
#include "fetch.h"
#include "meta/meta.h"
#include "record/stream.h"
#include "text/ts.h"

static const char usage[] =
    "usage: av-fetch [--function intraday | daily | quote]\n"
    "                [--interval 1min | 5min | 15min | 30min | 60min]\n"
    "                [--outputsize compact | full]\n"
    "                [--month YYYY-MM | --from YYYY-MM --to YYYY-MM]\n"
    "                [--datatype json | csv] [--adjusted true | false]\n"
    "                [--extended-hours true | false] [--entitlement realtime | delayed]\n"
    "                [--follow [--every DURATION]] [--base-url URL]\n"
    "                [--api-key-file FILE] [--app NAME] [--config FILE] [-o FILE]\n"
    "                [-v | -q] [SYMBOL ...]\n"
    "       av-fetch --help | --version\n";

static const struct cli_option options[] = {
    {"--adjusted true|false", "adjusted bars (default true)"},
    {"--api-key-file FILE", "the API key, on the first line of FILE"},
    {"--app NAME", "the producer name of the batch markers"},
    {"--base-url URL", "the API's address"},
    {"--config FILE", "the configuration file"},
    {"--datatype json|csv", "the answer's format"},
    {"--entitlement realtime|delayed", "a premium key's data entitlement"},
    {"--every DURATION", "with --follow: time between polls"},
    {"--extended-hours true|false", "pre- and post-market bars too"},
    {"--follow", "poll for new bars until stopped"},
    {"--from YYYY-MM", "a backfill's first month (with --to)"},
    {"--function FUNCTION", "intraday (default), daily or quote"},
    {"--interval INTERVAL", "the bars' interval (default 5min)"},
    {"--month YYYY-MM", "one month of intraday history"},
    {"--outputsize compact|full", "the latest 100 bars, or all of them"},
    {"--to YYYY-MM", "a backfill's last month (with --from)"},
    {"-o FILE", "write to FILE instead of stdout"},
    {NULL, NULL},
};

#define SECTION          "av-fetch"
#define DEFAULT_SYMBOLS  "NVDA TSLA IBM AAPL"
#define DEFAULT_BASE_URL "https://www.alphavantage.co/query"
#define KEY_FILE_MAX     4096
#define MAX_SYMBOLS      1000
#define MAX_MONTHS       1200

enum {
	OPT_ADJUSTED = 256,
	OPT_APP,
	OPT_BASE_URL,
	OPT_CONFIG,
	OPT_DATATYPE,
	OPT_ENTITLEMENT,
	OPT_EVERY,
	OPT_EXTENDED,
	OPT_FOLLOW,
	OPT_FROM,
	OPT_FUNCTION,
	OPT_HELP,
	OPT_INTERVAL,
	OPT_KEY_FILE,
	OPT_MONTH,
	OPT_OUTPUTSIZE,
	OPT_TO,
	OPT_VERSION
};

static const struct option longopts[] = {{"adjusted", required_argument, NULL, OPT_ADJUSTED},
                                         {"api-key-file", required_argument, NULL, OPT_KEY_FILE},
                                         {"app", required_argument, NULL, OPT_APP},
                                         {"base-url", required_argument, NULL, OPT_BASE_URL},
                                         {"config", required_argument, NULL, OPT_CONFIG},
                                         {"datatype", required_argument, NULL, OPT_DATATYPE},
                                         {"entitlement", required_argument, NULL, OPT_ENTITLEMENT},
                                         {"every", required_argument, NULL, OPT_EVERY},
                                         {"extended-hours", required_argument, NULL, OPT_EXTENDED},
                                         {"follow", no_argument, NULL, OPT_FOLLOW},
                                         {"from", required_argument, NULL, OPT_FROM},
                                         {"function", required_argument, NULL, OPT_FUNCTION},
                                         {"help", no_argument, NULL, OPT_HELP},
                                         {"interval", required_argument, NULL, OPT_INTERVAL},
                                         {"month", required_argument, NULL, OPT_MONTH},
                                         {"outputsize", required_argument, NULL, OPT_OUTPUTSIZE},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"to", required_argument, NULL, OPT_TO},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {"version", no_argument, NULL, OPT_VERSION},
                                         {NULL, 0, NULL, 0}};

/* The flags as given; NULL when absent. */
struct flags {
	const char *adjusted, *app, *base_url, *config, *datatype, *entitlement, *every;
	const char *extended, *follow, *from, *function, *interval, *key_file, *month;
	const char *outputsize, *output, *to;
	int verbosity;
};

/* A setting's value and where it came from, for messages. */
struct setting {
	const char *value;
	int given;  /* by a flag or the file (not the default) */
	int status; /* what a bad value exits with: EX_USAGE for a flag, EX_CONFIG for the file */
	char where[300];
};

/* Everything resolution needs, and the first error it met. */
struct resolve {
	const struct config *conf;
	int status;
};

static void bad(struct resolve *rs, const struct setting *s, const char *fmt, ...) ERR_PRINTF(3, 4);

static void bad(struct resolve *rs, const struct setting *s, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (rs->status)
		return;
	if (s->status == EX_USAGE)
		rs->status = cli_usage_error(usage, "%s: %s", s->where, msg);
	else {
		err_error("%s: %s", s->where, msg);
		rs->status = s->status;
	}
}

static struct setting get(const struct resolve *rs, const char *flag, const char *flagname,
                          const char *section, const char *key, const char *def)
{
	struct setting s;
	const char *from;
	memset(&s, 0, sizeof s);
	s.value = config_value(rs->conf, flag, NULL, section, key, def, &from);
	if (flag) {
		s.given = 1;
		s.status = EX_USAGE;
		snprintf(s.where, sizeof s.where, "%s", flagname);
	} else if (strcmp(from, "default") != 0) {
		s.given = 1;
		s.status = EX_CONFIG;
		snprintf(s.where, sizeof s.where, "%s:%d: [%s] %s", config_path(rs->conf),
		         config_line(rs->conf, section, key), section, key);
	} else {
		s.status = EX_SOFTWARE;
		snprintf(s.where, sizeof s.where, "default %s", key);
	}
	return s;
}

static int pick(const char *v, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	return -1;
}

static int get_bool(struct resolve *rs, const struct setting *s, int *out)
{
	struct err_msg e;
	if (config_parse_bool(s->value, "x", out, &e) < 0) {
		bad(rs, s, "expected true or false, got '%s'", s->value);
		return -1;
	}
	return 0;
}

static int get_int(struct resolve *rs, const struct setting *s, int64_t min, int64_t max,
                   int64_t *out)
{
	struct err_msg e;
	if (config_parse_int(s->value, "x", min, max, out, &e) < 0) {
		bad(rs, s, "expected an integer from %lld to %lld, got '%s'", (long long)min,
		    (long long)max, s->value);
		return -1;
	}
	return 0;
}

static int get_duration(struct resolve *rs, const struct setting *s, int64_t min, int64_t *out)
{
	if (ts_parse_duration(s->value, out) < 0 || *out < min) {
		bad(rs, s, "expected a duration%s such as 500ms, 30s, 5m or 1h30m, got '%s'",
		    min > 0 ? " above zero" : "", s->value);
		return -1;
	}
	return 0;
}

static int get_month(struct resolve *rs, const struct setting *s, int *out)
{
	if (av_month_parse(s->value, out) < 0) {
		bad(rs, s, "expected a month YYYY-MM from 2000-01, got '%s'", s->value);
		return -1;
	}
	return 0;
}

/* A flag that the chosen function does not use is a usage error. */
static void not_for(struct resolve *rs, const char *flag, const char *flagname, int function)
{
	if (flag && !rs->status)
		rs->status = cli_usage_error(usage, "%s: not used by --function %s", flagname,
		                             av_function_name(function));
}

static int cmp_symbol(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Add the symbols of text (separated by blanks or commas) to cfg, upper case, once each. */
static void add_symbols(struct resolve *rs, struct avf_config *cfg, const struct setting *s,
                        char *const *list, int n)
{
	for (int i = 0; i < n && !rs->status; i++) {
		const char *v = list[i];
		char up[AV_SYMBOL_MAX + 1];
		if (av_symbol_upper(v, strlen(v), up) < 0) {
			bad(rs, s, "invalid symbol \"%s\": expected 1 to 15 of A-Z a-z 0-9 . -", v);
			return;
		}
		size_t j = 0;
		while (j < cfg->nsymbols && strcmp(cfg->symbols[j], up) != 0)
			j++;
		if (j < cfg->nsymbols)
			continue;
		if (cfg->nsymbols == MAX_SYMBOLS) {
			bad(rs, s, "more than %d symbols", MAX_SYMBOLS);
			return;
		}
		memcpy(cfg->symbols[cfg->nsymbols++], up, sizeof up);
	}
}

static void symbols_from_text(struct resolve *rs, struct avf_config *cfg, const struct setting *s)
{
	char *copy = strdup(s->value), *save = NULL;
	char *list[MAX_SYMBOLS + 1];
	int n = 0;
	if (!copy) {
		rs->status = EX_SOFTWARE;
		return;
	}
	for (char *t = strtok_r(copy, " \t,", &save); t && n <= MAX_SYMBOLS;
	     t = strtok_r(NULL, " \t,", &save))
		list[n++] = t;
	if (n == 0)
		bad(rs, s, "no symbols");
	add_symbols(rs, cfg, s, list, n);
	free(copy);
}

/* 64-bit FNV-1a, to name a batch producer whose symbol list is too long to spell out. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/*
 * The producer name of the batch markers: function, interval, months and
 * the sorted symbols, so that two runs that fetch different things at the
 * same time never share a name.
 */
static int derive_app(struct avf_config *cfg)
{
	struct buf head = BUF_INIT, syms = BUF_INIT;
	char(*sorted)[AV_SYMBOL_MAX + 1] = malloc(cfg->nsymbols * sizeof *sorted);
	int rc = -1;
	if (!sorted)
		goto out;
	memcpy(sorted, cfg->symbols, cfg->nsymbols * sizeof *sorted);
	qsort(sorted, cfg->nsymbols, sizeof *sorted, cmp_symbol);
	int r = buf_printf(&head, "av-fetch/%s", av_function_name(cfg->proto.function));
	if (cfg->proto.function == AV_INTRADAY)
		r |= buf_printf(&head, "/%s", tick_interval_name(cfg->proto.interval));
	if (cfg->month_from != AV_NO_MONTH) {
		char a[8], b[8];
		av_month_format(cfg->month_from, a);
		av_month_format(cfg->month_to, b);
		r |= cfg->month_from == cfg->month_to ? buf_printf(&head, "/%s", a)
		                                      : buf_printf(&head, "/%s..%s", a, b);
	}
	for (size_t i = 0; i < cfg->nsymbols; i++)
		r |= buf_printf(&syms, "%s%s", i ? "," : "", sorted[i]);
	if (r)
		goto out;
	if (head.len + 1 + syms.len <= REC_APP_MAX)
		snprintf(cfg->app, sizeof cfg->app, "%s/%s", head.data, syms.data);
	else
		snprintf(cfg->app, sizeof cfg->app, "%s/%zu-symbols-%016llx", head.data,
		         cfg->nsymbols, (unsigned long long)fnv1a(syms.data));
	rc = 0;
out:
	free(sorted);
	buf_free(&head);
	buf_free(&syms);
	return rc;
}

static int is_loopback_url(const char *url)
{
	const char *h = strstr(url, "://");
	if (!h)
		return 0;
	h += 3;
	static const char *const hosts[] = {"127.0.0.1", "localhost", "[::1]"};
	for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
		size_t n = strlen(hosts[i]);
		if (strncasecmp(h, hosts[i], n) == 0 &&
		    (h[n] == '\0' || h[n] == ':' || h[n] == '/' || h[n] == '?'))
			return 1;
	}
	return 0;
}

/* Resolve every setting into cfg; returns 0 or the exit status of the first error. */
static int resolve_settings(const struct flags *fl, const struct config *conf, int nargs,
                            char *const *args, struct avf_config *cfg)
{
	static const char *const sizes[] = {"compact", "full"};
	static const char *const datatypes[] = {"json", "csv"};
	static const char *const entitlements[] = {"realtime", "delayed"};
	struct resolve rs = {conf, 0};
	struct setting s;
	int64_t v;
	int b;

	s = get(&rs, fl->function, "--function", SECTION, "function", "intraday");
	int function = av_function_parse(s.value);
	if (function < 0) {
		bad(&rs, &s, "expected intraday, daily or quote, got '%s'", s.value);
		return rs.status;
	}
	struct av_request *p = &cfg->proto;
	av_request_init(p, function);
	int intraday = function == AV_INTRADAY;

	if (intraday) {
		s = get(&rs, fl->interval, "--interval", SECTION, "interval", "5min");
		/* The intraday intervals: every tick interval but the day. */
		int iv = tick_interval_parse(s.value, strlen(s.value));
		if (iv == 0 || iv == TICK_1D)
			bad(&rs, &s, "expected 1min, 5min, 15min, 30min or 60min, got '%s'",
			    s.value);
		else
			p->interval = iv;
		s = get(&rs, fl->adjusted, "--adjusted", SECTION, "adjusted", "true");
		if (get_bool(&rs, &s, &b) == 0 && s.given) {
			p->adjusted = b;
			p->sent |= AV_SENT_ADJUSTED;
		}
		s = get(&rs, fl->extended, "--extended-hours", SECTION, "extended_hours", "true");
		if (get_bool(&rs, &s, &b) == 0 && s.given) {
			p->extended_hours = b;
			p->sent |= AV_SENT_EXTENDED;
		}
	} else {
		not_for(&rs, fl->interval, "--interval", function);
		not_for(&rs, fl->adjusted, "--adjusted", function);
		not_for(&rs, fl->extended, "--extended-hours", function);
		not_for(&rs, fl->month, "--month", function);
		not_for(&rs, fl->from, "--from", function);
		not_for(&rs, fl->to, "--to", function);
	}

	/* The month, or a range of months for a backfill. */
	cfg->month_from = cfg->month_to = AV_NO_MONTH;
	if (intraday && !rs.status) {
		struct setting m = get(&rs, fl->month, "--month", SECTION, "month", NULL);
		struct setting f = get(&rs, fl->from, "--from", SECTION, "from", NULL);
		struct setting t = get(&rs, fl->to, "--to", SECTION, "to", NULL);
		if (m.value && (f.value || t.value))
			bad(&rs, &m, "--month and --from/--to exclude each other");
		else if (!f.value != !t.value)
			bad(&rs, f.value ? &f : &t, "--from and --to go together");
		else if (m.value && get_month(&rs, &m, &cfg->month_from) == 0)
			cfg->month_to = cfg->month_from;
		else if (f.value && get_month(&rs, &f, &cfg->month_from) == 0 &&
		         get_month(&rs, &t, &cfg->month_to) == 0) {
			if (cfg->month_to < cfg->month_from)
				bad(&rs, &t, "%s is before --from %s", t.value, f.value);
			else if (cfg->month_to - cfg->month_from >= MAX_MONTHS)
				bad(&rs, &t, "more than %d months", MAX_MONTHS);
		}
	}

	if (function != AV_QUOTE) {
		/* A month is wanted whole: its default is full, and it is always sent. */
		const char *def = cfg->month_from != AV_NO_MONTH ? "full" : "compact";
		s = get(&rs, fl->outputsize, "--outputsize", SECTION, "outputsize", def);
		int i = pick(s.value, sizes, 2);
		if (i < 0)
			bad(&rs, &s, "expected compact or full, got '%s'", s.value);
		p->outputsize_full = i == 1;
		if (s.given || cfg->month_from != AV_NO_MONTH)
			p->sent |= AV_SENT_OUTPUTSIZE;
	} else {
		not_for(&rs, fl->outputsize, "--outputsize", function);
	}

	s = get(&rs, fl->datatype, "--datatype", SECTION, "datatype", "json");
	int dt = pick(s.value, datatypes, 2);
	if (dt < 0)
		bad(&rs, &s, "expected json or csv, got '%s'", s.value);
	p->datatype = dt == 1 ? AV_CSV : AV_JSON;
	if (s.given)
		p->sent |= AV_SENT_DATATYPE;

	s = get(&rs, fl->entitlement, "--entitlement", SECTION, "entitlement", NULL);
	if (s.value) {
		int en = pick(s.value, entitlements, 2);
		if (en < 0)
			bad(&rs, &s, "expected realtime or delayed, got '%s'", s.value);
		p->entitlement = en == 0 ? AV_ENT_REALTIME : AV_ENT_DELAYED;
	}

	/* Follow mode. */
	struct setting follow = get(&rs, fl->follow, "--follow", SECTION, "follow", "false");
	if (get_bool(&rs, &follow, &cfg->follow) == 0 && cfg->follow &&
	    cfg->month_from != AV_NO_MONTH)
		bad(&rs, &follow, "follow mode polls the latest data; it does not take a month");
	s = get(&rs, fl->every, "--every", SECTION, "every", NULL);
	if (fl->every && !cfg->follow)
		bad(&rs, &s, "only with --follow");
	if (cfg->follow && !rs.status) {
		if (s.value)
			get_duration(&rs, &s, 1, &cfg->every_us);
		else if (intraday)
			cfg->every_us = tick_interval_us(p->interval);
		else if (function == AV_DAILY)
			cfg->every_us = TS_US_PER_DAY;
		else
			bad(&rs, &follow, "following quotes needs --every (or [%s] every)",
			    SECTION);
	}
	s = get(&rs, NULL, NULL, SECTION, "settle", "10s");
	get_duration(&rs, &s, 0, &cfg->settle_us);

	/* Symbols: the arguments, else the file, else the default list. */
	cfg->symbols = calloc(MAX_SYMBOLS, sizeof *cfg->symbols);
	if (!cfg->symbols)
		return EX_SOFTWARE;
	if (nargs > 0) {
		struct setting a = {NULL, 1, EX_USAGE, "symbol"};
		if (nargs > MAX_SYMBOLS)
			bad(&rs, &a, "more than %d symbols", MAX_SYMBOLS);
		else
			add_symbols(&rs, cfg, &a, args, nargs);
	} else {
		s = get(&rs, NULL, NULL, SECTION, "symbols", DEFAULT_SYMBOLS);
		symbols_from_text(&rs, cfg, &s);
	}

	/* The service and the limits on talking to it. */
	s = get(&rs, fl->base_url, "--base-url", "API", "base_url", DEFAULT_BASE_URL);
	cfg->base_url = s.value;
	if (strncasecmp(s.value, "http://", 7) != 0 && strncasecmp(s.value, "https://", 8) != 0)
		bad(&rs, &s, "expected an http:// or https:// URL");
	else if (strncasecmp(s.value, "http://", 7) == 0 && !is_loopback_url(s.value))
		err_warn("%s: plain http: the API key travels unencrypted", s.where);
	s = get(&rs, NULL, NULL, SECTION, "timeout", "30s");
	get_duration(&rs, &s, 1, &cfg->limits.timeout_us);
	s = get(&rs, NULL, NULL, SECTION, "connect_timeout", "10s");
	get_duration(&rs, &s, 1, &cfg->limits.connect_timeout_us);
	s = get(&rs, NULL, NULL, SECTION, "max_body", "16777216");
	if (get_int(&rs, &s, 1024, (int64_t)1 << 30, &v) == 0)
		cfg->limits.max_body = (size_t)v;
	s = get(&rs, NULL, NULL, SECTION, "max_attempts", "5");
	if (get_int(&rs, &s, 1, 100, &v) == 0)
		cfg->max_attempts = (int)v;
	s = get(&rs, NULL, NULL, SECTION, "max_retry_time", "5m");
	get_duration(&rs, &s, 0, &cfg->max_retry_us);
	s = get(&rs, NULL, NULL, SECTION, "backoff_base", "1s");
	get_duration(&rs, &s, 1, &cfg->backoff_base_us);
	s = get(&rs, NULL, NULL, SECTION, "backoff_max", "60s");
	get_duration(&rs, &s, 1, &cfg->backoff_max_us);
	s = get(&rs, NULL, NULL, SECTION, "throttle_wait", "60s");
	get_duration(&rs, &s, 0, &cfg->throttle_wait_us);
	s = get(&rs, NULL, NULL, SECTION, "burst_wait", "1s");
	get_duration(&rs, &s, 0, &cfg->burst_wait_us);
	s = get(&rs, NULL, NULL, SECTION, "calls_per_minute", "5");
	get_int(&rs, &s, 0, 100000, &cfg->calls_per_minute);
	s = get(&rs, NULL, NULL, SECTION, "calls_per_second", "1");
	get_int(&rs, &s, 0, 100000, &cfg->calls_per_second);
	s = get(&rs, NULL, NULL, SECTION, "concurrency", "4");
	if (get_int(&rs, &s, 1, 64, &v) == 0)
		cfg->concurrency = (int)v;
	/* The range tick-normalize and tick-validate take, as they read the same setting. */
	s = get(&rs, NULL, NULL, "streams", "max_line", "16777216");
	if (get_int(&rs, &s, 1024, INT32_MAX, &v) == 0)
		cfg->max_line = (size_t)v;

	if (rs.status)
		return rs.status;
	s = get(&rs, fl->app, "--app", SECTION, "app", NULL);
	if (s.value) {
		size_t n = strlen(s.value);
		int printable = n >= 1 && n <= REC_APP_MAX;
		for (size_t i = 0; i < n && printable; i++)
			printable = (unsigned char)s.value[i] >= 0x20 && s.value[i] != 0x7F;
		/* The marker is JSON and the app a Delta appId: UTF-8 text only. */
		if (!printable || utf8_valid(s.value, n) < 0)
			bad(&rs, &s, "expected 1 to %d printable bytes of UTF-8", REC_APP_MAX);
		else
			memcpy(cfg->app, s.value, n + 1);
	} else if (derive_app(cfg) < 0) {
		return EX_SOFTWARE;
	}
	return rs.status;
}

/* Read the key from the first line of path; returns a malloc'ed key or NULL (reported). */
static char *read_key_file(const char *path, const char *where, int *status)
{
	char text[KEY_FILE_MAX + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_error_errno("%s: %s", where, path);
		*status = EX_CONFIG;
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && (st.st_mode & 077))
		err_warn("%s: readable by group or others; run chmod 600 %s", path, path);
	size_t n = 0;
	ssize_t k;
	while (n < sizeof text && (k = read(fd, text + n, sizeof text - n)) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			err_error_errno("%s: %s", where, path);
			close(fd);
			*status = EX_CONFIG;
			return NULL;
		}
		n += (size_t)k;
	}
	close(fd);
	if (n > KEY_FILE_MAX) {
		err_error("%s: %s: larger than %d bytes; expected the key on one line", where, path,
		          KEY_FILE_MAX);
		*status = EX_CONFIG;
		return NULL;
	}
	size_t a = 0, z = 0;
	while (a < n && isspace((unsigned char)text[a]))
		a++;
	z = a;
	while (z < n && text[z] != '\n' && text[z] != '\r')
		z++;
	while (z > a && isspace((unsigned char)text[z - 1]))
		z--;
	if (z == a) {
		err_error("%s: %s: no key in the file", where, path);
		*status = EX_CONFIG;
		return NULL;
	}
	text[z] = '\0';
	char *key = strdup(text + a);
	explicit_bzero(text, sizeof text);
	if (!key)
		*status = EX_SOFTWARE;
	return key;
}

/*
 * The API key: --api-key-file, then $ALPHAVANTAGE_API_KEY, then
 * [av-fetch] api_key_file, then [API] api_key.  NULL (reported) when
 * there is none or it cannot be read.
 */
static char *find_key(const struct flags *fl, const struct config *conf, int *status)
{
	char *key = NULL;
	const char *env = getenv("ALPHAVANTAGE_API_KEY");
	const char *file = config_get(conf, SECTION, "api_key_file");
	const char *inconf = config_get(conf, "API", "api_key");
	if (fl->key_file) {
		key = read_key_file(fl->key_file, "--api-key-file", status);
	} else if (env && *env) {
		key = strdup(env);
		if (!key)
			*status = EX_SOFTWARE;
	} else if (file && *file) {
		char where[300];
		snprintf(where, sizeof where, "%s:%d: [%s] api_key_file", config_path(conf),
		         config_line(conf, SECTION, "api_key_file"), SECTION);
		key = read_key_file(file, where, status);
	} else if (inconf && *inconf) {
		key = strdup(inconf);
		if (!key)
			*status = EX_SOFTWARE;
	} else {
		err_error("no API key: looked at --api-key-file, $ALPHAVANTAGE_API_KEY, "
		          "[%s] api_key_file and [API] api_key in %s",
		          SECTION,
		          config_path(conf) ? config_path(conf)
		                            : "the configuration (none found: " CONFIG_SEARCH_TEXT
		                              ")");
		*status = EX_CONFIG;
		return NULL;
	}
	if (!key)
		return NULL;
	for (const char *c = key; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7F) {
			err_error("the API key holds a space or a control or non-ASCII character");
			free(key);
			*status = EX_CONFIG;
			return NULL;
		}
	return key;
}

static const struct option *long_option(const char *name, size_t n)
{
	for (const struct option *o = longopts; o->name; o++)
		if (strlen(o->name) == n && strncmp(o->name, name, n) == 0)
			return o;
	return NULL;
}

/*
 * Refuse, before getopt sees them, options that look like a key given on
 * the command line ("--api-key=..."), with a message that says where a key
 * goes instead.  Messages show the option name only, never what follows
 * '='.  Other unknown options are left to cli_getopt().
 */
static int check_long_options(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			return 0;
		if (a[0] == '-' && a[1] != '-' && a[1] != '\0') {
			/* A cluster of short options: -o takes the rest, or the next argument. */
			const char *o = strchr(a + 1, 'o');
			if (o && o[1] == '\0')
				i++;
			continue;
		}
		if (a[0] != '-' || a[1] != '-')
			continue;
		const char *name = a + 2;
		size_t n = strcspn(name, "=");
		const struct option *o = long_option(name, n);
		if (o) {
			if (o->has_arg == required_argument && name[n] != '=')
				i++;
			continue;
		}
		char lower[64];
		size_t k = 0;
		for (; k < n && k < sizeof lower - 1; k++)
			lower[k] = (char)tolower((unsigned char)name[k]);
		lower[k] = '\0';
		if (strstr(lower, "key"))
			return cli_usage_error(
			    usage,
			    "--%.*s: the API key is never taken from the command "
			    "line, where ps shows it to everyone; use "
			    "--api-key-file FILE, $ALPHAVANTAGE_API_KEY or [API] "
			    "api_key",
			    (int)(n > 40 ? 40 : n), name);
	}
	return 0;
}

static int parse_flags(int argc, char **argv, struct flags *fl, int *done)
{
	int c, status = check_long_options(argc, argv);
	if (status)
		return status;
	while ((c = cli_getopt(usage, argc, argv, "ho:qv", longopts)) != -1) {
		switch (c) {
		case OPT_ADJUSTED:
			fl->adjusted = optarg;
			break;
		case OPT_APP:
			fl->app = optarg;
			break;
		case OPT_BASE_URL:
			fl->base_url = optarg;
			break;
		case OPT_CONFIG:
			fl->config = optarg;
			break;
		case OPT_DATATYPE:
			fl->datatype = optarg;
			break;
		case OPT_ENTITLEMENT:
			fl->entitlement = optarg;
			break;
		case OPT_EVERY:
			fl->every = optarg;
			break;
		case OPT_EXTENDED:
			fl->extended = optarg;
			break;
		case OPT_FOLLOW:
			fl->follow = "true";
			break;
		case OPT_FROM:
			fl->from = optarg;
			break;
		case OPT_FUNCTION:
			fl->function = optarg;
			break;
		case 'h':
		case OPT_HELP:
			*done = 1;
			return cli_help(usage, options);
		case OPT_INTERVAL:
			fl->interval = optarg;
			break;
		case OPT_KEY_FILE:
			fl->key_file = optarg;
			break;
		case OPT_MONTH:
			fl->month = optarg;
			break;
		case OPT_OUTPUTSIZE:
			fl->outputsize = optarg;
			break;
		case OPT_TO:
			fl->to = optarg;
			break;
		case OPT_VERSION:
			*done = 1;
			return cli_version();
		case 'o':
			fl->output = optarg;
			break;
		case 'q':
			fl->verbosity = ERR_QUIET;
			break;
		case 'v':
			if (fl->verbosity >= 0)
				fl->verbosity++;
			break;
		default:
			return EX_USAGE;
		}
	}
	return 0;
}

/* The output: -o FILE (or [av-fetch] output), else stdout. */
static struct rec_writer *open_output(const char *path, int *status)
{
	int fd;
	const char *name = path;
	if (!path || strcmp(path, "-") == 0) {
		/* A copy, so the writer can close its descriptor and stdout is still checked. */
		fd = dup(STDOUT_FILENO);
		name = "stdout";
	} else {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	}
	if (fd < 0) {
		err_error_errno("%s", name);
		*status = EX_IOERR;
		return NULL;
	}
	struct rec_writer *w = rec_writer_new(fd, name, REC_FMT_JSON);
	if (!w) {
		close(fd);
		err_error("out of memory");
		*status = EX_SOFTWARE;
	}
	return w;
}

int main(int argc, char **argv)
{
	struct flags fl;
	struct avf_config cfg;
	struct config *conf = NULL;
	struct rec_writer *w = NULL;
	struct err_msg e;
	char *key = NULL;
	int done = 0, status;

	err_init(argv[0]);
	memset(&fl, 0, sizeof fl);
	memset(&cfg, 0, sizeof cfg);
	status = parse_flags(argc, argv, &fl, &done);
	if (status || done)
		return status;
	err_set_level(fl.verbosity);

	err_clear(&e);
	conf = config_open(fl.config, &e);
	if (!conf) {
		err_error("%s", e.text);
		status = e.status ? e.status : EX_CONFIG;
		goto out;
	}
	status = resolve_settings(&fl, conf, argc - optind, argv + optind, &cfg);
	if (status)
		goto out;
	meta_open(conf);
	key = find_key(&fl, conf, &status);
	if (!key)
		goto out;
	cfg.api_key = key;
	struct setting out_setting =
	    get(&(struct resolve){conf, 0}, fl.output, "-o", SECTION, "output", NULL);
	w = open_output(out_setting.value, &status);
	if (!w)
		goto out;

	status = avf_run(&cfg, w);

	err_clear(&e);
	/*
	 * A reader that went away (av-fetch | head -1) ended the run: fetch.c
	 * stopped asking, quietly, and the run ends with status 0.
	 */
	int broken = rec_writer_broken_pipe(w);
	if (broken && status == EX_IOERR)
		status = EX_OK;
	int closed = rec_writer_close(w, &e);
	if (closed == -1 && !broken && status != EX_IOERR) {
		err_error("%s", e.text);
		status = EX_IOERR;
	}
	w = NULL;
out:
	if (w)
		rec_writer_close(w, &e);
	if (key) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	free(cfg.symbols);
	config_free(conf);
	int cs = cli_close_stdout();
	return status ? status : cs;
}

/*
 * err: message formatting and the verbosity level.  All output goes through
 * err_emit() so that one line is written with one fputs and the stream can be
 * swapped by tests.
 */
#include "base/err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *progname = "stocketl";
static int level = ERR_NORMAL;
static FILE *stream;
static unsigned long long records_seen;

int err_status_worse(int a, int b)
{
	static const int order[] = {EX_OK,          EX_REJECTS,  EX_CHECKFAIL, EX_DATAERR,
	                            EX_UNAVAILABLE, EX_TEMPFAIL, EX_CONFIG,    EX_IOERR,
	                            EX_USAGE,       EX_SOFTWARE};
	size_t n = sizeof order / sizeof order[0], ra = n, rb = n;
	for (size_t i = 0; i < n; i++) {
		if (order[i] == a)
			ra = i;
		if (order[i] == b)
			rb = i;
	}
	return rb > ra ? b : a;
}

void err_init(const char *name)
{
	const char *slash = strrchr(name, '/');
	progname = slash ? slash + 1 : name;
}

const char *err_progname(void)
{
	return progname;
}

void err_set_level(int l)
{
	if (l < ERR_QUIET)
		l = ERR_QUIET;
	if (l > ERR_DEBUG)
		l = ERR_DEBUG;
	level = l;
}

int err_level(void)
{
	return level;
}

void err_set_stream(FILE *fp)
{
	stream = fp;
}

FILE *err_stream(void)
{
	return stream ? stream : stderr;
}

static void err_emit(int errnum, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void err_emit(int errnum, const char *fmt, va_list ap)
{
	char line[2048];
	int n = snprintf(line, sizeof line, "%s: ", progname);
	if (n < 0 || (size_t)n >= sizeof line)
		n = 0;
	int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	if (m > 0)
		n += m;
	if ((size_t)n >= sizeof line - 2)
		n = (int)sizeof line - 2;
	if (errnum) {
		int k = snprintf(line + n, sizeof line - (size_t)n, ": %s", strerror(errnum));
		if (k > 0)
			n += k;
		if ((size_t)n >= sizeof line - 2)
			n = (int)sizeof line - 2;
	}
	line[n++] = '\n';
	line[n] = '\0';
	FILE *fp = err_stream();
	fputs(line, fp);
	fflush(fp);
}

#define ERR_BODY(min_level, errnum)                                                                \
	do {                                                                                       \
		if (level < (min_level))                                                           \
			return;                                                                    \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		err_emit((errnum), fmt, ap);                                                       \
		va_end(ap);                                                                        \
	} while (0)

void err_error(const char *fmt, ...)
{
	ERR_BODY(ERR_QUIET, 0);
}

void err_error_errno(const char *fmt, ...)
{
	int e = errno;
	ERR_BODY(ERR_QUIET, e);
}

void err_warn(const char *fmt, ...)
{
	ERR_BODY(ERR_NORMAL, 0);
}

void err_warn_errno(const char *fmt, ...)
{
	int e = errno;
	ERR_BODY(ERR_NORMAL, e);
}

void err_info(const char *fmt, ...)
{
	ERR_BODY(ERR_VERBOSE, 0);
}

void err_debug(const char *fmt, ...)
{
	ERR_BODY(ERR_DEBUG, 0);
}

void err_record(const char *fmt, ...)
{
	records_seen++;
	if (records_seen > ERR_RECORD_SHOWN && level < ERR_VERBOSE)
		return;
	ERR_BODY(ERR_NORMAL, 0);
}

unsigned long long err_record_end(const char *hint)
{
	unsigned long long left_out = 0;
	if (records_seen > ERR_RECORD_SHOWN && level < ERR_VERBOSE)
		left_out = records_seen - ERR_RECORD_SHOWN;
	records_seen = 0;
	if (left_out && level >= ERR_NORMAL) {
		FILE *fp = err_stream();
		fprintf(fp, "%s: ... and %llu more%s%s%s\n", progname, left_out, hint ? " (" : "",
		        hint ? hint : "", hint ? ")" : "");
		fflush(fp);
	}
	return left_out;
}

unsigned long long err_record_count(void)
{
	return records_seen;
}

void err_die(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_emit(0, fmt, ap);
	va_end(ap);
	exit(status);
}

void err_die_errno(int status, const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	err_emit(e, fmt, ap);
	va_end(ap);
	exit(status);
}

void err_vset(struct err_msg *e, int status, const char *fmt, va_list ap)
{
	if (!e)
		return;
	vsnprintf(e->text, sizeof e->text, fmt, ap);
	e->status = status;
}

void err_set(struct err_msg *e, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vset(e, status, fmt, ap);
	va_end(ap);
}

void err_clear(struct err_msg *e)
{
	if (!e)
		return;
	e->text[0] = '\0';
	e->status = 0;
}

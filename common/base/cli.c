/*
 * cli: shared command-line behaviour.  The version comes from the build
 * (STOCKETL_VERSION, set by the Makefile).
 *
 * getopt's own messages are off (opterr = 0) because they name argv[0],
 * which is a path when the program was run by one; cli_getopt() asks for
 * ':' on a missing value and works out from optind which argument failed,
 * so that every program words its usage errors the same way.
 */
#include "base/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef STOCKETL_VERSION
#define STOCKETL_VERSION "unknown"
#endif

/* Option names in messages are cut here: an unknown option may be anything. */
#define NAME_SHOWN  40
/* Values in messages are cut here. */
#define VALUE_SHOWN 80
/*
 * --help's descriptions line up after the widest option, but start no further
 * right than this column: a longer option pushes only its own line.
 */
#define HELP_COLUMN 38

static const struct cli_option common_options[] = {
    {"-q, --quiet", "print nothing on stderr but errors"},
    {"-v, --verbose", "say more on stderr (-vv: debugging detail)"},
    {"-h, --help", "print this help and exit"},
    {"--version", "print the version and exit"},
    {NULL, NULL},
};

int cli_usage_error(const char *usage, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	err_error("%s", msg);
	fputs(usage, err_stream());
	return EX_USAGE;
}

int cli_report(const char *usage, const struct err_msg *e)
{
	if (e->status == EX_USAGE)
		return cli_usage_error(usage, "%s", e->text);
	err_error("%s", e->text);
	return e->status ? e->status : EX_SOFTWARE;
}

int cli_bad_value(const char *usage, const char *option, const char *value, const char *what, ...)
{
	char expected[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, what);
	vsnprintf(expected, sizeof expected, what, ap);
	va_end(ap);
	return cli_usage_error(usage, "%s: expected %s, got '%.*s%s'", option, expected,
	                       VALUE_SHOWN, value, strlen(value) > VALUE_SHOWN ? "..." : "");
}

/* The name of a long option as written: the text after "--" up to '=' (its length in *n). */
static const char *long_name(const char *arg, int *n)
{
	const char *name = arg + 2;
	size_t k = strcspn(name, "=");
	*n = (int)(k > NAME_SHOWN ? NAME_SHOWN : k);
	return name;
}

static int is_long_option(const char *arg)
{
	return arg && arg[0] == '-' && arg[1] == '-' && arg[2] != '\0';
}

static const struct option *find_long(const struct option *longopts, const char *name, size_t n)
{
	for (const struct option *o = longopts; o && o->name; o++)
		if (strlen(o->name) == n && strncmp(o->name, name, n) == 0)
			return o;
	return NULL;
}

/* A usage error met while parsing: reported, and cli_getopt() returns '?'. */
static int parse_error(const char *usage, const char *fmt, ...) ERR_PRINTF(2, 3);

static int parse_error(const char *usage, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cli_usage_error(usage, "%s", msg);
	return '?';
}

int cli_getopt(const char *usage, int argc, char *const argv[], const char *shortopts,
               const struct option *longopts)
{
	char opts[64];
	int before = optind, idx = -1, n;
	/* getopt reads a leading '+' (stop at the first operand) before the ':'. */
	if (shortopts[0] == '+')
		snprintf(opts, sizeof opts, "+:%s", shortopts + 1);
	else
		snprintf(opts, sizeof opts, ":%s", shortopts);
	opterr = 0;
	int ch = getopt_long(argc, argv, opts, longopts, &idx);
	if (ch == -1)
		return -1;
	/*
	 * A long option always moves optind past itself, so after an error the
	 * failing argument is argv[optind - 1] when that is a long option and
	 * optind moved; otherwise the error is about the short option optopt
	 * (which may sit inside a cluster such as -qx).
	 */
	const char *failed = optind > before && optind - 1 < argc ? argv[optind - 1] : NULL;
	const char *name = is_long_option(failed) ? long_name(failed, &n) : NULL;
	if (ch == ':') {
		if (name)
			return parse_error(usage, "option '--%.*s' needs a value", n, name);
		return parse_error(usage, "option '-%c' needs a value", optopt);
	}
	if (ch == '?') {
		/* getopt sets optopt for a known long option given a value it does not take. */
		if (name && optopt != 0 && find_long(longopts, name, strcspn(name, "=")))
			return parse_error(usage, "option '--%.*s' takes no value", n, name);
		if (name)
			return parse_error(usage, "unknown option '--%.*s'", n, name);
		if (optopt > 0x20 && optopt < 0x7f)
			return parse_error(usage, "unknown option '-%c'", optopt);
		return parse_error(usage, "unknown option");
	}
	if (idx >= 0) {
		/* An abbreviation: the element that named it (before its value when that came apart). */
		const char *el = optarg && optind >= 2 && optarg == argv[optind - 1]
		                     ? argv[optind - 2]
		                     : argv[optind - 1];
		if (is_long_option(el) && strcspn(el + 2, "=") != strlen(longopts[idx].name)) {
			name = long_name(el, &n);
			return parse_error(usage, "unknown option '--%.*s'", n, name);
		}
	}
	return ch;
}

static int help_width(const struct cli_option *v, int width)
{
	for (; v && v->flags; v++) {
		int w = (int)strlen(v->flags) + (v->flags[1] == '-' ? 4 : 0);
		if (w > width && w <= HELP_COLUMN - 4)
			width = w;
	}
	return width;
}

static void help_lines(const struct cli_option *v, int width)
{
	for (; v && v->flags; v++)
		printf("  %s%-*s  %s\n", v->flags[1] == '-' ? "    " : "",
		       width - (v->flags[1] == '-' ? 4 : 0), v->flags, v->help);
}

int cli_help(const char *usage, const struct cli_option *options)
{
	int width = help_width(common_options, help_width(options, 0));
	fputs(usage, stdout);
	putchar('\n');
	help_lines(options, width);
	help_lines(common_options, width);
	printf("\nSee %s(1).\n", err_progname());
	return cli_close_stdout();
}

int cli_version(void)
{
	printf("%s (stocketl) %s\n", err_progname(), STOCKETL_VERSION);
	return cli_close_stdout();
}

int cli_refuse_binary_tty(const char *usage, const char *option)
{
	if (!isatty(STDOUT_FILENO))
		return 0;
	return cli_usage_error(usage,
	                       "%s: will not write binary records to a terminal "
	                       "(redirect stdout to a file or a pipe)",
	                       option);
}

int cli_close_stdout(void)
{
	/* A write that failed earlier left the error flag set, and errno may be long gone. */
	int failed = ferror(stdout), e = 0;
	if (fflush(stdout) != 0) {
		failed = 1;
		e = errno;
	}
	if (fclose(stdout) != 0) {
		failed = 1;
		if (!e)
			e = errno;
	}
	if (!failed || e == EPIPE)
		return 0;
	if (e)
		err_error("stdout: %s", strerror(e));
	else
		err_error("stdout: write failed");
	return EX_IOERR;
}

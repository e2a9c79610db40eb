/*
 * cli: the conventions every program's command line shares.
 *
 * Each program describes its command line once: its usage, "usage: program
 * ...\n" with its continuation lines, which is exactly its man page's
 * SYNOPSIS, and a table of its own options, one line each for --help.
 * From those, these helpers keep the common parts identical in every
 * program:
 *
 *   - -h and --help print the usage, the options and a pointer to the man
 *     page on stdout and exit 0; --version prints "program (stocketl)
 *     VERSION".  Both check that stdout took the text (74 if not).
 *   - cli_getopt() is getopt_long(3) with getopt's own messages (which
 *     name argv[0], a path) turned off: unknown options, abbreviated long
 *     options, missing values and values given to a flag are reported in
 *     one wording, followed by the usage, exit 64.  Long options are never
 *     abbreviated, so a script keeps its meaning when options are added.
 *   - bad option values read "--limit: expected ..., got 'x'".
 *   - binary records are never written to a terminal.
 *   - a reader that goes away (EPIPE) ends the output quietly: status 0.
 *
 * Messages go through err, so they begin with the program's name.
 */
#ifndef STOCKETL_CLI_H
#define STOCKETL_CLI_H

#include <getopt.h>

#include "base/err.h"

/*
 * One line of --help: the option as written ("--limit N", "-o FILE") and
 * what it does.  A program's table ends with {NULL, NULL} and lists its own
 * options; cli_help() adds -q, -v, -h and --version.
 */
struct cli_option {
	const char *flags;
	const char *help;
};

/*
 * getopt_long(3) with the shared error handling.  shortopts lists the
 * short options as for getopt (without a leading ':'; a leading '+' stops
 * at the first operand, for programs with commands).  Returns the option
 * as getopt_long does, -1 at the end of the options, or '?' after reporting
 * a usage error (message and usage on stderr): the caller returns EX_USAGE.
 */
int cli_getopt(const char *usage, int argc, char *const argv[], const char *shortopts,
               const struct option *longopts);

/*
 * --help: the usage, the options (the program's, then -q, -v, -h and
 * --version) and "See program(1)." on stdout.  Returns EX_OK, or EX_IOERR
 * (reported) when stdout could not take it.
 */
int cli_help(const char *usage, const struct cli_option *options);
/* --version: "program (stocketl) VERSION" on stdout.  Returns EX_OK or EX_IOERR (reported). */
int cli_version(void);

/* Print "program: message" and the usage to stderr.  Returns EX_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...) ERR_PRINTF(2, 3);
/*
 * Report an error that a function left in e: a usage error (EX_USAGE, say
 * a bad table name) with the usage, anything else as a plain message.
 * Returns e's status (EX_SOFTWARE if it has none).
 */
int cli_report(const char *usage, const struct err_msg *e);
/*
 * A bad option value: "program: OPTION: expected WHAT, got 'VALUE'" and
 * the usage.  what is a printf format ("an integer from %d to %d").  Returns
 * EX_USAGE.
 */
int cli_bad_value(const char *usage, const char *option, const char *value, const char *what, ...)
    ERR_PRINTF(4, 5);

/*
 * Binary records are refused on a terminal, before anything is written.
 * Returns 0 when stdout is not a terminal, else reports a usage error
 * naming option and returns EX_USAGE.
 */
int cli_refuse_binary_tty(const char *usage, const char *option);

/*
 * Flush and close stdout.  Returns 0, also when the reader went away
 * (EPIPE: a quiet end), or EX_IOERR after reporting the failure (a full
 * disk).
 */
int cli_close_stdout(void);

#endif

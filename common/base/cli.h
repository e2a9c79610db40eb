/*
 * cli: the conventions every program's command line shares.
 *
 * Each program parses its own options with getopt_long(3); these helpers
 * keep the common parts identical: the version line, usage errors (a
 * message, then the usage text, exit 64), and the rule that --help prints
 * the usage to stdout and exits 0.
 */
#ifndef STOCKETL_CLI_H
#define STOCKETL_CLI_H

#include "base/err.h"

/* Print "program (stocketl) VERSION" to stdout. */
void cli_version(void);
/* Print usage to stdout (for --help). Returns EX_OK. */
int cli_help(const char *usage);
/* Print "program: message" and the usage to stderr. Returns EX_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...) ERR_PRINTF(2, 3);
/* Flush and close stdout, reporting a failure (a full disk). Returns 0 or EX_IOERR. */
int cli_close_stdout(void);

#endif

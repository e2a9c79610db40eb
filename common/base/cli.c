/*
 * cli: shared command-line behaviour.  The version comes from the build
 * (STOCKETL_VERSION, set by the Makefile).
 */
#include "base/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef STOCKETL_VERSION
#define STOCKETL_VERSION "unknown"
#endif

void cli_version(void)
{
	printf("%s (stocketl) %s\n", err_progname(), STOCKETL_VERSION);
}

int cli_help(const char *usage)
{
	fputs(usage, stdout);
	return EX_OK;
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	err_error("%s", msg);
	fputs(usage, stderr);
	return EX_USAGE;
}

int cli_close_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			err_error_errno("stdout");
		fclose(stdout);
		return EX_IOERR;
	}
	if (fclose(stdout) != 0) {
		if (errno != EPIPE)
			err_error_errno("stdout");
		return EX_IOERR;
	}
	return 0;
}

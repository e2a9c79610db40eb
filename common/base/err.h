/*
 * err: diagnostics and exit statuses shared by every stocketl program.
 *
 * Messages follow err(3): "program: what failed: detail", lower case, one
 * line, on stderr.  The program name is set once by err_init().  Verbosity is
 * a single process-wide level: -q lowers it, each -v raises it.  Warnings and
 * errors print unless quiet; info lines need -v, debug lines -vv.
 *
 * The exit statuses are those of stocketl(7); the 64..78 range is sysexits(3).
 */
#ifndef STOCKETL_ERR_H
#define STOCKETL_ERR_H

#include <stdarg.h>
#include <stdio.h>
#include <sysexits.h>

/* Exit statuses beyond sysexits(3). */
#define EX_REJECTS   1 /* success, but records were rejected or checks warned */
#define EX_CHECKFAIL 2 /* a fail-level data-quality check failed */

#define ERR_PRINTF(a, b) __attribute__((format(printf, a, b)))

/*
 * The more serious of two exit statuses, for a run that goes on after a
 * problem (a missing input file) and must still end with the worst one:
 * 0 < 1 < 2 < 65 < 69 < 75 < 78 < 74 < 64 < 70 (stocketl(7)).  A status
 * outside the table counts as the most serious, so that it shows.
 */
int err_status_worse(int a, int b);

enum err_level { ERR_QUIET = -1, ERR_NORMAL = 0, ERR_VERBOSE = 1, ERR_DEBUG = 2 };

/* Set the program name used as the prefix of every message. */
void err_init(const char *progname);
const char *err_progname(void);

/* Verbosity: ERR_QUIET .. ERR_DEBUG (higher values are clamped). */
void err_set_level(int level);
int err_level(void);

/* Where messages go (stderr by default); tests redirect it. */
void err_set_stream(FILE *fp);
FILE *err_stream(void);

/* Print "program: message" (+ ": strerror(errno)" for the _errno forms). */
void err_error(const char *fmt, ...) ERR_PRINTF(1, 2);
void err_error_errno(const char *fmt, ...) ERR_PRINTF(1, 2);
void err_warn(const char *fmt, ...) ERR_PRINTF(1, 2);
void err_warn_errno(const char *fmt, ...) ERR_PRINTF(1, 2);
void err_info(const char *fmt, ...) ERR_PRINTF(1, 2);
void err_debug(const char *fmt, ...) ERR_PRINTF(1, 2);

/*
 * Per-record messages (a bad record, a quarantined bar) are bounded so that
 * a stream of bad input cannot flood the terminal: the first
 * ERR_RECORD_SHOWN of a run print as warnings (every one of them with -v);
 * the rest are only counted, and err_record_end() says how many were left
 * out.  Quiet mode (-q) prints none of them.
 */
#define ERR_RECORD_SHOWN 20
void err_record(const char *fmt, ...) ERR_PRINTF(1, 2);
/*
 * Print "... and N more" when messages were left out, followed by
 * " (hint)" when hint is not NULL (say "see --rejects FILE", or the rejects
 * file's name).  Returns N; the count starts again from zero.
 */
unsigned long long err_record_end(const char *hint);
/* Per-record messages printed or counted so far. */
unsigned long long err_record_count(void);

/* Print the message and exit with status; never returns. */
_Noreturn void err_die(int status, const char *fmt, ...) ERR_PRINTF(2, 3);
_Noreturn void err_die_errno(int status, const char *fmt, ...) ERR_PRINTF(2, 3);

/*
 * A fixed buffer that functions fill with the reason they failed, so that
 * the caller decides how to report it (library code never prints).
 */
#define ERR_MSG_MAX 512
struct err_msg {
	char text[ERR_MSG_MAX];
	int status; /* an exit status from the table above, 0 if unset */
};
void err_set(struct err_msg *e, int status, const char *fmt, ...) ERR_PRINTF(3, 4);
void err_vset(struct err_msg *e, int status, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void err_clear(struct err_msg *e);

#endif

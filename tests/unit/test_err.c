/* Unit tests for common/base/err: message format, verbosity, err_msg. */
#include "base/err.h"
#include "t.h"

#include <errno.h>

static char buf[4096];

static FILE *capture(void)
{
	memset(buf, 0, sizeof buf);
	FILE *fp = fmemopen(buf, sizeof buf, "w");
	err_set_stream(fp);
	return fp;
}

static void test_format_has_program_prefix(void)
{
	FILE *fp = capture();
	err_init("/usr/bin/delta-append");
	err_set_level(ERR_NORMAL);
	err_error("%s: %s", "bronze", "no such table");
	fclose(fp);
	T_EQ_STR(buf, "delta-append: bronze: no such table\n");
}

static void test_quiet_hides_warnings_not_errors(void)
{
	FILE *fp = capture();
	err_init("x");
	err_set_level(ERR_QUIET);
	err_warn("hidden");
	err_info("hidden");
	err_error("shown");
	fclose(fp);
	T_EQ_STR(buf, "x: shown\n");
}

static void test_verbose_levels(void)
{
	FILE *fp = capture();
	err_init("x");
	err_set_level(ERR_VERBOSE);
	err_info("info");
	err_debug("debug");
	err_set_level(ERR_DEBUG + 5);
	T_EQ_INT(err_level(), ERR_DEBUG);
	err_debug("debug2");
	fclose(fp);
	T_EQ_STR(buf, "x: info\nx: debug2\n");
}

static void test_errno_suffix(void)
{
	FILE *fp = capture();
	err_init("x");
	err_set_level(ERR_NORMAL);
	errno = ENOENT;
	err_error_errno("open %s", "f");
	fclose(fp);
	T_EQ_STR(buf, "x: open f: No such file or directory\n");
}

static void test_err_msg_set_and_clear(void)
{
	struct err_msg e;
	err_clear(&e);
	T_EQ_STR(e.text, "");
	err_set(&e, EX_DATAERR, "record %d: bad", 7);
	T_EQ_STR(e.text, "record 7: bad");
	T_EQ_INT(e.status, 65);
	err_clear(&e);
	T_EQ_INT(e.status, 0);
}

static void test_exit_status_values(void)
{
	T_EQ_INT(EX_OK, 0);
	T_EQ_INT(EX_REJECTS, 1);
	T_EQ_INT(EX_CHECKFAIL, 2);
	T_EQ_INT(EX_USAGE, 64);
	T_EQ_INT(EX_DATAERR, 65);
	T_EQ_INT(EX_UNAVAILABLE, 69);
	T_EQ_INT(EX_SOFTWARE, 70);
	T_EQ_INT(EX_IOERR, 74);
	T_EQ_INT(EX_TEMPFAIL, 75);
	T_EQ_INT(EX_CONFIG, 78);
}

int main(void)
{
	T_RUN(test_format_has_program_prefix);
	T_RUN(test_quiet_hides_warnings_not_errors);
	T_RUN(test_verbose_levels);
	T_RUN(test_errno_suffix);
	T_RUN(test_err_msg_set_and_clear);
	T_RUN(test_exit_status_values);
	T_DONE();
}

/* Unit tests for common/base/err: message format, verbosity, err_msg. */
#include "base/err.h"
#include "t.h"

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* err_die prints its message and exits with the status it is given. */
static void test_die_exits_with_status(void)
{
	int fds[2];
	T_CHECK(pipe(fds) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		FILE *fp = fdopen(fds[1], "w");
		err_set_stream(fp);
		err_init("x");
		err_die(EX_TEMPFAIL, "table %s is busy", "t");
	}
	close(fds[1]);
	char got[256] = {0};
	ssize_t n = read(fds[0], got, sizeof got - 1);
	close(fds[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	T_CHECK(n > 0);
	T_EQ_STR(got, "x: table t is busy\n");
	T_CHECK(WIFEXITED(st));
	T_EQ_INT(WEXITSTATUS(st), 75);
}

/* Per-record messages: the first ERR_RECORD_SHOWN print, the rest are counted. */
static void test_record_messages_are_bounded(void)
{
	FILE *fp = capture();
	err_init("x");
	err_set_level(ERR_NORMAL);
	for (int i = 1; i <= 25; i++)
		err_record("record %d: bad", i);
	T_EQ_INT(err_record_count(), 25);
	T_EQ_INT(err_record_end("see --rejects FILE"), 5);
	T_EQ_INT(err_record_count(), 0);
	fclose(fp);
	T_CHECK(strstr(buf, "x: record 20: bad\n") != NULL);
	T_CHECK(strstr(buf, "record 21") == NULL);
	T_CHECK(strstr(buf, "x: ... and 5 more (see --rejects FILE)\n") != NULL);
}

static void test_record_messages_all_with_verbose_none_when_quiet(void)
{
	FILE *fp = capture();
	err_init("x");
	err_set_level(ERR_VERBOSE);
	for (int i = 1; i <= 25; i++)
		err_record("r%d", i);
	T_EQ_INT(err_record_end(NULL), 0);
	err_set_level(ERR_QUIET);
	for (int i = 1; i <= 25; i++)
		err_record("q%d", i);
	T_EQ_INT(err_record_end(NULL), 5);
	fclose(fp);
	T_CHECK(strstr(buf, "x: r25\n") != NULL);
	T_CHECK(strstr(buf, "q1") == NULL);
	T_CHECK(strstr(buf, "more") == NULL);
}

static void test_record_hint_is_optional(void)
{
	FILE *fp = capture();
	err_init("x");
	err_set_level(ERR_NORMAL);
	for (int i = 0; i < ERR_RECORD_SHOWN + 1; i++)
		err_record("r");
	T_EQ_INT(err_record_end(NULL), 1);
	fclose(fp);
	T_CHECK(strstr(buf, "x: ... and 1 more\n") != NULL);
}

/* A run that goes on after a problem ends with the most serious status it met. */
static void test_status_worse_ranks_the_table(void)
{
	T_EQ_INT(err_status_worse(EX_OK, EX_REJECTS), EX_REJECTS);
	T_EQ_INT(err_status_worse(EX_REJECTS, EX_OK), EX_REJECTS);
	T_EQ_INT(err_status_worse(EX_CHECKFAIL, EX_REJECTS), EX_CHECKFAIL);
	T_EQ_INT(err_status_worse(EX_DATAERR, EX_IOERR), EX_IOERR);
	T_EQ_INT(err_status_worse(EX_IOERR, EX_DATAERR), EX_IOERR);
	T_EQ_INT(err_status_worse(EX_TEMPFAIL, EX_IOERR), EX_IOERR);
	T_EQ_INT(err_status_worse(EX_IOERR, EX_SOFTWARE), EX_SOFTWARE);
	T_EQ_INT(err_status_worse(EX_CONFIG, EX_IOERR), EX_IOERR);
	T_EQ_INT(err_status_worse(EX_UNAVAILABLE, EX_TEMPFAIL), EX_TEMPFAIL);
	T_EQ_INT(err_status_worse(EX_USAGE, EX_IOERR), EX_USAGE);
	/* A status outside the table is never hidden by one inside it. */
	T_EQ_INT(err_status_worse(EX_SOFTWARE, 99), 99);
	T_EQ_INT(err_status_worse(99, EX_OK), 99);
}

int main(void)
{
	T_RUN(test_format_has_program_prefix);
	T_RUN(test_quiet_hides_warnings_not_errors);
	T_RUN(test_verbose_levels);
	T_RUN(test_errno_suffix);
	T_RUN(test_err_msg_set_and_clear);
	T_RUN(test_die_exits_with_status);
	T_RUN(test_record_messages_are_bounded);
	T_RUN(test_record_messages_all_with_verbose_none_when_quiet);
	T_RUN(test_record_hint_is_optional);
	T_RUN(test_status_worse_ranks_the_table);
	T_DONE();
}

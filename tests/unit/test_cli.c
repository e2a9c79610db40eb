/*
 * Unit tests for common/base/cli: how option errors are worded whatever
 * the argument order, that long options are never abbreviated, and the
 * layout of --help.
 */
#include "base/cli.h"
#include "t.h"

#include <getopt.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "usage: x [-qv] [--binary] [--limit N] [-n N] TABLE\n";

static const struct option longopts[] = {
    {"binary", no_argument, NULL, 'b'},      {"help", no_argument, NULL, 'h'},
    {"limit", required_argument, NULL, 'n'}, {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},     {NULL, 0, NULL, 0},
};

static char buf[4096];

/*
 * Parse argv (NULL-terminated) to the end or the first error; returns the
 * options seen as a string ("bn" ...), '?' marking an error, and leaves
 * what was printed in buf.
 */
static const char *parse(const char **args)
{
	static char seen[32];
	char *argv[16];
	size_t k = 0;
	int argc = 0, ch;
	/* getopt reorders the pointers, never the strings. */
	while (argc < 15 && args[argc]) {
		argv[argc] = (char *)args[argc];
		argc++;
	}
	argv[argc] = NULL;
	memset(buf, 0, sizeof buf);
	FILE *fp = fmemopen(buf, sizeof buf, "w");
	err_set_stream(fp);
	err_init("x");
	optind = 0; /* glibc: start over */
	while ((ch = cli_getopt(usage, argc, argv, "hn:qv", longopts)) != -1 &&
	       k < sizeof seen - 1) {
		seen[k++] = (char)ch;
		if (ch == '?')
			break;
	}
	seen[k] = '\0';
	fclose(fp);
	err_set_stream(NULL);
	return seen;
}

static void test_known_options_parse(void)
{
	const char *argv[] = {"x",   "--limit",   "5",   "T", "--binary",
	                      "-qv", "--limit=6", "-n7", NULL};
	T_EQ_STR(parse(argv), "nbqvnn");
	T_EQ_STR(buf, "");
}

static void test_unknown_long_option(void)
{
	const char *argv[] = {"x", "T", "--foo", NULL};
	T_EQ_STR(parse(argv), "?");
	T_EQ_STR(buf,
	         "x: unknown option '--foo'\nusage: x [-qv] [--binary] [--limit N] [-n N] TABLE\n");
}

static void test_value_of_unknown_option_is_never_shown(void)
{
	const char *argv[] = {"x", "--api-key=SECRET", NULL};
	T_EQ_STR(parse(argv), "?");
	T_CHECK(strstr(buf, "x: unknown option '--api-key'\n") == buf);
	T_CHECK(strstr(buf, "SECRET") == NULL);
}

static void test_abbreviations_are_unknown(void)
{
	const char *a[] = {"x", "--lim", "5", NULL};
	T_EQ_STR(parse(a), "?");
	T_CHECK(strncmp(buf, "x: unknown option '--lim'\n", 26) == 0);
	const char *b[] = {"x", "--bin", NULL};
	T_EQ_STR(parse(b), "?");
	T_CHECK(strncmp(buf, "x: unknown option '--bin'\n", 26) == 0);
	const char *c[] = {"x", "--lim=5", NULL};
	T_EQ_STR(parse(c), "?");
	T_CHECK(strncmp(buf, "x: unknown option '--lim'\n", 26) == 0);
}

static void test_missing_values(void)
{
	const char *a[] = {"x", "T", "--limit", NULL};
	T_EQ_STR(parse(a), "?");
	T_CHECK(strncmp(buf, "x: option '--limit' needs a value\nusage: x ", 43) == 0);
	const char *b[] = {"x", "-n", NULL};
	T_EQ_STR(parse(b), "?");
	T_CHECK(strncmp(buf, "x: option '-n' needs a value\n", 29) == 0);
}

static void test_value_given_to_a_flag(void)
{
	const char *argv[] = {"x", "--binary=yes", NULL};
	T_EQ_STR(parse(argv), "?");
	T_CHECK(strncmp(buf, "x: option '--binary' takes no value\n", 36) == 0);
}

static void test_unknown_short_option_in_a_cluster(void)
{
	/* The long option before the cluster is not the one that failed. */
	const char *a[] = {"x", "--binary", "-xq", NULL};
	T_EQ_STR(parse(a), "b?");
	T_CHECK(strncmp(buf, "x: unknown option '-x'\n", 23) == 0);
	const char *b[] = {"x", "--binary", "T", "-qx", NULL};
	T_EQ_STR(parse(b), "bq?");
	T_CHECK(strncmp(buf, "x: unknown option '-x'\n", 23) == 0);
}

static void test_bad_value_wording(void)
{
	memset(buf, 0, sizeof buf);
	FILE *fp = fmemopen(buf, sizeof buf, "w");
	err_set_stream(fp);
	err_init("x");
	T_EQ_INT(cli_bad_value(usage, "--limit", "lots", "an integer from %d to %d", 1, 1000),
	         EX_USAGE);
	fclose(fp);
	err_set_stream(NULL);
	T_EQ_STR(buf, "x: --limit: expected an integer from 1 to 1000, got 'lots'\n"
	              "usage: x [-qv] [--binary] [--limit N] [-n N] TABLE\n");
}

/* Run cli_help() in a child whose stdout is a pipe; returns its exit status. */
static int help_in_child(void)
{
	static const struct cli_option options[] = {
	    {"--binary", "write binary records"},
	    {"-n, --limit N", "at most N"},
	    {NULL, NULL},
	};
	int fds[2];
	T_CHECK(pipe(fds) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[1]);
		err_init("/usr/bin/x");
		_exit(cli_help(usage, options));
	}
	close(fds[1]);
	memset(buf, 0, sizeof buf);
	size_t n = 0;
	ssize_t k;
	while (n < sizeof buf - 1 && (k = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0)
		n += (size_t)k;
	close(fds[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_help_lists_options_and_the_man_page(void)
{
	T_EQ_INT(help_in_child(), 0);
	T_EQ_STR(buf, "usage: x [-qv] [--binary] [--limit N] [-n N] TABLE\n"
	              "\n"
	              "      --binary   write binary records\n"
	              "  -n, --limit N  at most N\n"
	              "  -q, --quiet    print nothing on stderr but errors\n"
	              "  -v, --verbose  say more on stderr (-vv: debugging detail)\n"
	              "  -h, --help     print this help and exit\n"
	              "      --version  print the version and exit\n"
	              "\n"
	              "See x(1).\n");
}

int main(void)
{
	T_RUN(test_known_options_parse);
	T_RUN(test_unknown_long_option);
	T_RUN(test_value_of_unknown_option_is_never_shown);
	T_RUN(test_abbreviations_are_unknown);
	T_RUN(test_missing_values);
	T_RUN(test_value_given_to_a_flag);
	T_RUN(test_unknown_short_option_in_a_cluster);
	T_RUN(test_bad_value_wording);
	T_RUN(test_help_lists_options_and_the_man_page);
	T_DONE();
}

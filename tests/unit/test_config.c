/* Unit tests for common/base/config: grammar, errors with line numbers, precedence. */
#include "base/config.h"
#include "t.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static struct config *parse(const char *text, struct err_msg *e)
{
	return config_parse("test.ini", text, strlen(text), e);
}

static void test_sections_keys_comments(void)
{
	struct err_msg e;
	struct config *c = parse("# comment\n"
	                         "; another\n"
	                         "[API]\n"
	                         "api_key = abc123\n"
	                         "base_url=https://example.test/query   # inline\n"
	                         "\n"
	                         "[storage]\r\n"
	                         "  lake : /data/lake ; inline\r\n"
	                         "empty =\n",
	                         &e);
	T_CHECK(c != NULL);
	if (!c)
		return;
	T_EQ_STR(config_get(c, "API", "api_key"), "abc123");
	T_EQ_STR(config_get(c, "api", "API_KEY"), "abc123");
	T_EQ_STR(config_get(c, "API", "base_url"), "https://example.test/query");
	T_EQ_STR(config_get(c, "storage", "lake"), "/data/lake");
	T_EQ_STR(config_get(c, "storage", "empty"), "");
	T_CHECK(config_get(c, "storage", "missing") == NULL);
	T_EQ_INT(config_line(c, "API", "base_url"), 5);
	config_free(c);
}

static void test_quoting(void)
{
	struct err_msg e;
	struct config *c = parse("[s]\n"
	                         "a = \"  spaced # not a comment ; \"\n"
	                         "b = \"say \\\"hi\\\"\\tand\\\\\"  # comment\n"
	                         "c = x#y\n",
	                         &e);
	T_CHECK(c != NULL);
	if (!c)
		return;
	T_EQ_STR(config_get(c, "s", "a"), "  spaced # not a comment ; ");
	T_EQ_STR(config_get(c, "s", "b"), "say \"hi\"\tand\\");
	T_EQ_STR(config_get(c, "s", "c"), "x#y");
	config_free(c);
}

static void check_error(const char *text, const char *want)
{
	struct err_msg e;
	err_clear(&e);
	struct config *c = parse(text, &e);
	T_CHECK(c == NULL);
	config_free(c);
	if (!strstr(e.text, want))
		printf("#   got \"%s\", want \"%s\"\n", e.text, want);
	T_CHECK(strstr(e.text, want) != NULL);
	T_EQ_INT(e.status, EX_CONFIG);
}

static void test_malformed(void)
{
	check_error("key = v\n", "test.ini:1: key \"key\" outside any [section]");
	check_error("[s]\njust text\n", "test.ini:2: expected \"key = value\"");
	check_error("[s\n", "test.ini:1: expected \"[section]\"");
	check_error("[]\n", "test.ini:1: expected a section name");
	check_error("[s]\na = 1\nA = 2\n",
	            "test.ini:3: duplicate key \"A\" in [s] (first set on line 2)");
	check_error("[s]\na = \"open\n", "test.ini:2: unterminated quoted value");
	check_error("[s]\na = \"x\" y\n", "test.ini:2: text after the closing quote");
	check_error("[s]\na = \"\\q\"\n", "test.ini:2: unknown escape");
	check_error("[s]\nbad key = 1\n", "test.ini:2: expected a key");
}

static void test_precedence(void)
{
	struct err_msg e;
	struct config *c = parse("[API]\napi_key = from-file\n", &e);
	const char *from;
	unsetenv("T_CONFIG_KEY");
	T_EQ_STR(config_value(c, NULL, "T_CONFIG_KEY", "API", "api_key", "dflt", &from),
	         "from-file");
	T_EQ_STR(from, "test.ini");
	setenv("T_CONFIG_KEY", "from-env", 1);
	T_EQ_STR(config_value(c, NULL, "T_CONFIG_KEY", "API", "api_key", "dflt", &from),
	         "from-env");
	T_EQ_STR(from, "environment");
	T_EQ_STR(config_value(c, "from-flag", "T_CONFIG_KEY", "API", "api_key", "dflt", &from),
	         "from-flag");
	T_EQ_STR(from, "flag");
	setenv("T_CONFIG_KEY", "", 1);
	T_EQ_STR(config_value(c, NULL, "T_CONFIG_KEY", "API", "api_key", "dflt", NULL),
	         "from-file");
	T_EQ_STR(config_value(c, NULL, NULL, "API", "other", "dflt", &from), "dflt");
	T_EQ_STR(from, "default");
	config_free(c);
}

static void test_typed_values(void)
{
	struct err_msg e;
	int64_t v;
	int b;
	T_EQ_INT(config_parse_int("42", "[x] n", 0, 100, &v, &e), 0);
	T_EQ_INT(v, 42);
	T_EQ_INT(config_parse_int("420", "[x] n", 0, 100, &v, &e), -1);
	T_EQ_STR(e.text, "[x] n: expected an integer from 0 to 100, got '420'");
	T_EQ_INT(config_parse_int("4x", "[x] n", 0, 100, &v, &e), -1);
	T_EQ_INT(config_parse_bool("Yes", "--b", &b, &e), 0);
	T_EQ_INT(b, 1);
	T_EQ_INT(config_parse_bool("off", "--b", &b, &e), 0);
	T_EQ_INT(b, 0);
	T_EQ_INT(config_parse_bool("maybe", "--b", &b, &e), -1);
	T_EQ_STR(e.text, "--b: expected true or false, got 'maybe'");
	T_EQ_INT(e.status, EX_CONFIG);
}

static void test_open_finds_files_and_warns_on_secrets(void)
{
	char dir[] = "/tmp/stocketl-config-XXXXXX";
	T_CHECK(mkdtemp(dir) != NULL);
	char path[256];
	snprintf(path, sizeof path, "%s/a.ini", dir);
	FILE *fp = fopen(path, "w");
	fputs("[API]\napi_key = secret\n", fp);
	fclose(fp);
	chmod(path, 0644);

	char out[1024] = "";
	FILE *cap = fmemopen(out, sizeof out, "w");
	err_set_stream(cap);
	err_init("t");
	struct err_msg e;
	struct config *c = config_open(path, &e);
	fclose(cap);
	err_set_stream(NULL);
	T_CHECK(c != NULL);
	T_CHECK(strstr(out, "holds a secret ([API] api_key) but is readable by group or others") !=
	        NULL);
	config_free(c);

	chmod(path, 0600);
	memset(out, 0, sizeof out);
	cap = fmemopen(out, sizeof out, "w");
	err_set_stream(cap);
	setenv("STOCKETL_CONFIG", path, 1);
	c = config_open(NULL, &e);
	fclose(cap);
	err_set_stream(NULL);
	T_CHECK(c != NULL);
	T_EQ_STR(out, "");
	T_EQ_STR(config_get(c, "API", "api_key"), "secret");
	config_free(c);

	/* a file that was named but does not exist is an error */
	snprintf(path, sizeof path, "%s/missing.ini", dir);
	c = config_open(path, &e);
	T_CHECK(c == NULL);
	T_EQ_INT(e.status, EX_CONFIG);
	T_CHECK(strstr(e.text, "missing.ini: No such file") != NULL);

	/* nothing named, no ./conf/stocketl.ini nor ~/.config/stocketl/stocketl.ini:
	 * an empty configuration (unless the machine has /etc/stocketl's) */
	unsetenv("STOCKETL_CONFIG");
	setenv("HOME", dir, 1);
	char cwd[512];
	T_CHECK(getcwd(cwd, sizeof cwd) != NULL);
	T_CHECK(chdir(dir) == 0);
	c = config_open(NULL, &e);
	T_CHECK(c != NULL);
	T_CHECK(config_path(c) == NULL || strcmp(config_path(c), CONFIG_SYSTEM_PATH) == 0);
	T_CHECK(config_get(c, "API", "api_key") == NULL);
	config_free(c);
	T_CHECK(chdir(cwd) == 0);
	snprintf(path, sizeof path, "%s/a.ini", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	T_RUN(test_sections_keys_comments);
	T_RUN(test_quoting);
	T_RUN(test_malformed);
	T_RUN(test_precedence);
	T_RUN(test_typed_values);
	T_RUN(test_open_finds_files_and_warns_on_secrets);
	T_DONE();
}

/*
 * Unit tests for common/pg that need no server: where the settings come
 * from, messages without passwords, statuses of connections that cannot
 * be made, and table identities from a mountinfo file and a process
 * directory made up in a temporary directory (tests/stocketl-db.bats derives them
 * from real s3fs mounts; test_pg_store runs against a real cluster).
 */
#include "pg/pg.h"
#include "pg/tableid.h"
#include "t.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static struct config *ini(const char *text)
{
	struct err_msg e;
	struct config *c = config_parse("test.ini", text, strlen(text), &e);
	T_CHECK(c != NULL);
	return c;
}

static void test_dsn_precedence(void)
{
	struct err_msg e;
	struct pg_settings s;
	struct config *c = ini("[postgres]\ndsn = \"host=/file dbname=f\"\n");
	unsetenv(PG_DSN_ENV);
	unsetenv("PGCONNECT_TIMEOUT");
	T_EQ_INT(pg_settings_load(c, NULL, &s, &e), 0);
	T_EQ_STR(s.dsn, "host=/file dbname=f");
	T_EQ_STR(s.dsn_from, "test.ini");
	T_EQ_INT(s.configured, 1);
	T_EQ_INT(s.connect_timeout, PG_DEFAULT_CONNECT_TIMEOUT);
	T_EQ_INT(s.statement_timeout_ms, PG_DEFAULT_STATEMENT_TIMEOUT);
	setenv(PG_DSN_ENV, "host=/env", 1);
	T_EQ_INT(pg_settings_load(c, NULL, &s, &e), 0);
	T_EQ_STR(s.dsn, "host=/env");
	T_EQ_STR(s.dsn_from, "environment");
	T_EQ_INT(pg_settings_load(c, "host=/flag", &s, &e), 0);
	T_EQ_STR(s.dsn, "host=/flag");
	T_EQ_STR(s.dsn_from, "flag");
	unsetenv(PG_DSN_ENV);
	config_free(c);

	/* No DSN anywhere: libpq's PG* variables alone, and not "configured". */
	c = ini("[storage]\nlake = /l\n");
	T_EQ_INT(pg_settings_load(c, NULL, &s, &e), 0);
	T_EQ_STR(s.dsn, "");
	T_EQ_INT(s.configured, 0);
	T_EQ_STR(s.dsn_from, "PG* environment");
	config_free(c);
}

static void test_timeouts(void)
{
	struct err_msg e;
	struct pg_settings s;
	struct config *c = ini("[postgres]\nconnect_timeout = 500ms\nstatement_timeout = 2m\n");
	unsetenv("PGCONNECT_TIMEOUT");
	T_EQ_INT(pg_settings_load(c, NULL, &s, &e), 0);
	T_EQ_INT(s.connect_timeout, 1); /* whole seconds, rounded up */
	T_EQ_INT(s.statement_timeout_ms, 120000);
	/* The environment's $PGCONNECT_TIMEOUT wins over the file: left to libpq. */
	setenv("PGCONNECT_TIMEOUT", "3", 1);
	T_EQ_INT(pg_settings_load(c, NULL, &s, &e), 0);
	T_EQ_INT(s.connect_timeout, 0);
	unsetenv("PGCONNECT_TIMEOUT");
	config_free(c);

	c = ini("[postgres]\nstatement_timeout = 0\n");
	T_EQ_INT(pg_settings_load(c, NULL, &s, &e), 0);
	T_EQ_INT(s.statement_timeout_ms, 0);
	config_free(c);

	c = ini("[postgres]\nconnect_timeout = soon\n");
	T_EQ_INT(pg_settings_load(c, NULL, &s, &e), -1);
	T_EQ_INT(e.status, EX_CONFIG);
	T_CHECK(strstr(e.text, "test.ini: [postgres] connect_timeout: \"soon\"") != NULL);
	config_free(c);
}

static void test_scrub(void)
{
	struct pg_settings s = {0};
	char text[256];
	unsetenv("PGPASSWORD");

	s.dsn = "host=h password=hunter2 user=u";
	snprintf(text, sizeof text, "said hunter2 twice: hunter2.");
	pg_scrub(&s, text, sizeof text);
	T_EQ_STR(text, "said *** twice: ***.");

	s.dsn = "host=h password='pa ss\\'word' user=u";
	snprintf(text, sizeof text, "x pa ss'word y");
	pg_scrub(&s, text, sizeof text);
	T_EQ_STR(text, "x *** y");

	/* A URI's password, as written (percent-encoded) and as meant. */
	s.dsn = "postgresql://alice:p%40ss@db:5432/x";
	snprintf(text, sizeof text, "a p%%40ss b p@ss c");
	pg_scrub(&s, text, sizeof text);
	T_EQ_STR(text, "a *** b *** c");

	/* A malformed DSN's password is still found in its text. */
	s.dsn = "host=h password=topsecret port=notanumber =";
	snprintf(text, sizeof text, "bad: topsecret");
	pg_scrub(&s, text, sizeof text);
	T_EQ_STR(text, "bad: ***");

	s.dsn = "";
	setenv("PGPASSWORD", "fromenv", 1);
	snprintf(text, sizeof text, "fromenv!");
	pg_scrub(&s, text, sizeof text);
	T_EQ_STR(text, "***!");
	unsetenv("PGPASSWORD");

	/* A short buffer is cut, never overrun, and the secret still goes. */
	char small[8];
	s.dsn = "password=ab";
	snprintf(small, sizeof small, "xxxxxab");
	pg_scrub(&s, small, sizeof small);
	T_EQ_STR(small, "xxxxx**");
}

static void test_target_without_password(void)
{
	struct pg_settings s = {0};
	char t[256];
	s.dsn = "host=/run/pg port=6543 dbname=lake user=etl password=hunter2";
	pg_settings_target(&s, t, sizeof t);
	T_EQ_STR(t, "host=/run/pg port=6543 dbname=lake user=etl");
	s.dsn = "postgresql://etl:hunter2@db.example:5433/lake?sslmode=require";
	pg_settings_target(&s, t, sizeof t);
	T_EQ_STR(t, "host=db.example port=5433 dbname=lake user=etl");
	s.dsn = "host=h password=hunter2 'unterminated";
	pg_settings_target(&s, t, sizeof t);
	T_EQ_STR(t, "(malformed DSN)");
}

static void test_malformed_dsn_is_config(void)
{
	struct pg_settings s = {0};
	struct err_msg e;
	s.dsn = "postgresql://etl:hunter2@db:notaport/lake";
	s.dsn_from = "flag";
	T_CHECK(pg_connect(&s, &e) == NULL);
	T_EQ_INT(e.status, EX_CONFIG);
	T_CHECK(strstr(e.text, "hunter2") == NULL);
	s.dsn = "host=h password=hunter2 nosuchoption=1";
	T_CHECK(pg_connect(&s, &e) == NULL);
	T_EQ_INT(e.status, EX_CONFIG);
	T_CHECK(strstr(e.text, "malformed DSN") != NULL);
	T_CHECK(strstr(e.text, "(DSN from flag)") != NULL);
	T_CHECK(strstr(e.text, "hunter2") == NULL);
}

/* A loopback port that nothing listens on: bound, then closed. */
static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {0};
	socklen_t n = sizeof a;
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &n) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return ntohs(a.sin_port);
}

static void test_unreachable_is_temporary(void)
{
	char dsn[128];
	struct pg_settings s = {0};
	struct err_msg e;
	int port = closed_port();
	T_CHECK(port > 0);
	snprintf(dsn, sizeof dsn, "host=127.0.0.1 port=%d dbname=x user=u password=hunter2", port);
	s.dsn = dsn;
	s.connect_timeout = 2;
	T_CHECK(pg_connect(&s, &e) == NULL);
	T_EQ_INT(e.status, EX_TEMPFAIL);
	T_CHECK(strstr(e.text, "Connection refused") != NULL);
	T_CHECK(strstr(e.text, "hunter2") == NULL);
	char want[96];
	snprintf(want, sizeof want, "postgres at host=127.0.0.1 port=%d dbname=x user=u:", port);
	T_CHECK(strncmp(e.text, want, strlen(want)) == 0);
}

/* Table identities ------------------------------------------------------------------------- */

static char tmp[512];

static void put(const char *rel, const char *data, size_t len)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", tmp, rel);
	FILE *fp = fopen(path, "wb");
	T_CHECK(fp != NULL);
	if (fp) {
		fwrite(data, 1, len, fp);
		fclose(fp);
	}
}

static void dir(const char *rel)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", tmp, rel);
	T_EQ_INT(mkdir(path, 0755), 0);
}

/* A process of proc/: comm and a NUL-separated command line. */
static void proc(const char *pid, const char *comm, const char *args, size_t len)
{
	char rel[64];
	snprintf(rel, sizeof rel, "proc/%s", pid);
	dir(rel);
	snprintf(rel, sizeof rel, "proc/%s/comm", pid);
	put(rel, comm, strlen(comm));
	snprintf(rel, sizeof rel, "proc/%s/cmdline", pid);
	put(rel, args, len);
}

static int identity(const char *rel, struct buf *out, struct err_msg *e)
{
	char path[1024], mi[1024], pr[1024];
	snprintf(path, sizeof path, "%s/%s", tmp, rel);
	snprintf(mi, sizeof mi, "%s/mountinfo", tmp);
	snprintf(pr, sizeof pr, "%s/proc", tmp);
	return pg_table_identity_in(path, mi, pr, out, e);
}

static void test_table_identity(void)
{
	struct buf id = BUF_INIT, info = BUF_INIT, args = BUF_INIT;
	struct err_msg e;
	snprintf(tmp, sizeof tmp, "%s/test_pg.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	T_CHECK(mkdtemp(tmp) != NULL);
	char real[4096];
	T_CHECK(realpath(tmp, real) != NULL);
	if (strlen(real) < sizeof tmp)
		memcpy(tmp, real, strlen(real) + 1);
	dir("a");
	dir("b b");
	dir("named");
	dir("bind");
	dir("orphan");
	dir("local");
	dir("proc");
	buf_printf(&info,
	           "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	           "40 22 0:40 / %s/a rw,nosuid,nodev,relatime shared:2 - fuse.s3fs s3fs "
	           "rw,user_id=0,group_id=0\n"
	           "41 22 0:41 / %s/b\\040b rw,nosuid,nodev,relatime - fuse.s3fs s3fs rw\n"
	           "42 22 0:42 / %s/named rw,nosuid,nodev - fuse s3fs\\043lake-bucket:/lake/ rw\n"
	           "43 22 0:40 /sub %s/bind rw,nosuid,nodev - fuse.s3fs s3fs rw\n"
	           "44 22 0:44 / %s/orphan rw,nosuid,nodev - fuse.s3fs s3fs rw\n",
	           tmp, tmp, tmp, tmp, tmp);
	put("mountinfo", info.data, info.len);
	/* s3fs as it shows itself: "BUCKET:/PREFIX" split by a NUL it wrote. */
	buf_printf(&args, "s3fs%clake-bucket%c/lake%c%s/a%c-f%c-o%curl=http://x:9000", 0, 0, 0, tmp,
	           0, 0, 0);
	proc("4001", "s3fs\n", args.data, args.len + 1);
	buf_reset(&args);
	/* The bucket as an option, with a trailing slash on the prefix. */
	buf_printf(&args, "s3fs%c-obucket=lake-bucket:/lake/,url=http://y:9000%c%s/b b%c", 0, 0,
	           tmp, 0);
	proc("4002", "s3fs\n", args.data, args.len);
	buf_reset(&args);
	/* Something else whose command line looks like a mount of a.  */
	buf_printf(&args, "sh%cother-bucket%c%s/a%c", 0, 0, tmp, 0);
	proc("4003", "sh\n", args.data, args.len);

	/* Two mount points of one bucket and prefix: one identity, table not yet made. */
	T_EQ_INT(identity("a/bronze", &id, &e), 1);
	T_EQ_STR(id.data, "s3://lake-bucket/lake/bronze");
	T_EQ_INT(identity("b b/bronze/", &id, &e), 1);
	T_EQ_STR(id.data, "s3://lake-bucket/lake/bronze");
	T_EQ_INT(identity("a/./x/../bronze", &id, &e), 1);
	T_EQ_STR(id.data, "s3://lake-bucket/lake/bronze");
	/* Another table never shares it. */
	T_EQ_INT(identity("a/silver", &id, &e), 1);
	T_EQ_STR(id.data, "s3://lake-bucket/lake/silver");
	/* A mount that names its bucket needs no process. */
	T_EQ_INT(identity("named/bronze", &id, &e), 1);
	T_EQ_STR(id.data, "s3://lake-bucket/lake/bronze");
	/* A bind mount of part of a: its place in the bucket. */
	T_EQ_INT(identity("bind/t", &id, &e), 1);
	T_EQ_STR(id.data, "s3://lake-bucket/lake/sub/t");
	/* Not on s3fs. */
	T_EQ_INT(identity("local/t", &id, &e), 0);
	T_EQ_STR(id.data ? id.data : "", "");
	/* An s3fs mount whose process is not here. */
	T_EQ_INT(identity("orphan/t", &id, &e), -1);
	T_EQ_INT(e.status, EX_CONFIG);
	T_CHECK(strstr(e.text, "fsname=s3fs#BUCKET[:/PREFIX]") != NULL);

	/* Two s3fs processes that claim one mount point with different buckets. */
	buf_reset(&args);
	buf_printf(&args, "s3fs%cother-bucket%c%s/a%c", 0, 0, tmp, 0);
	proc("4004", "s3fs\n", args.data, args.len);
	T_EQ_INT(identity("a/bronze", &id, &e), -1);
	T_EQ_INT(e.status, EX_CONFIG);
	T_CHECK(strstr(e.text, "two buckets") != NULL);

	char cmd[1024];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	T_EQ_INT(system(cmd), 0);
	buf_free(&id);
	buf_free(&info);
	buf_free(&args);
}

int main(void)
{
	T_RUN(test_dsn_precedence);
	T_RUN(test_timeouts);
	T_RUN(test_scrub);
	T_RUN(test_target_without_password);
	T_RUN(test_malformed_dsn_is_config);
	T_RUN(test_unreachable_is_temporary);
	T_RUN(test_table_identity);
	T_DONE();
}

/*
 * Unit tests for common/net/http that need no server: query building, the
 * refusal of other URL schemes, and a refused connection on loopback
 * reported as such (the transfers themselves are tested by av-fetch.bats
 * against the mock server).
 */
#include "net/http.h"
#include "net/url.h"
#include "t.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_url_param(void)
{
	struct buf u = BUF_INIT;
	buf_puts(&u, "http://h/query");
	T_EQ_INT(url_param(&u, "function", "GLOBAL_QUOTE"), 0);
	T_EQ_INT(url_param(&u, "symbol", "BRK.B"), 0);
	T_EQ_INT(url_param(&u, "k", "a b&c=d/é~_-"), 0);
	T_EQ_STR(u.data, "http://h/query?function=GLOBAL_QUOTE&symbol=BRK.B"
	                 "&k=a%20b%26c%3Dd%2F%C3%A9~_-");
	buf_reset(&u);
	buf_puts(&u, "http://h/q?x=1&");
	T_EQ_INT(url_param(&u, "y", "2"), 0);
	T_EQ_STR(u.data, "http://h/q?x=1&y=2");
	buf_free(&u);
}

static void test_only_http_and_https(void)
{
	struct err_msg e;
	struct http_client *c = http_client_new("test", &e);
	T_CHECK(c != NULL);
	if (!c)
		return;
	T_EQ_INT(http_start(c, "file:///etc/passwd", NULL, NULL, &e), -1);
	T_EQ_INT(e.status, EX_USAGE);
	T_EQ_INT(http_start(c, "ftp://example.invalid/", NULL, NULL, &e), -1);
	T_EQ_INT(http_pending(c), 0);
	http_client_free(c);
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

static void test_refused_connection(void)
{
	struct err_msg e;
	struct http_client *c = http_client_new("test", &e);
	char url[96];
	int port = closed_port();
	int tag = 7;
	T_CHECK(c != NULL && port > 0);
	if (!c || port <= 0) {
		http_client_free(c);
		return;
	}
	snprintf(url, sizeof url, "http://127.0.0.1:%d/query?apikey=SECRET", port);
	struct http_limits lim = {5000000, 2000000, 1024};
	T_EQ_INT(http_start(c, url, &lim, &tag, &e), 0);
	T_EQ_INT(http_pending(c), 1);
	struct http_response *r = NULL;
	for (int i = 0; i < 100 && !r; i++) {
		T_EQ_INT(http_poll(c, 50000, &e), 0);
		r = http_collect(c);
	}
	T_CHECK(r != NULL);
	if (r) {
		T_CHECK(r->tag == &tag);
		T_EQ_INT(r->outcome, HTTP_E_CONNECT);
		T_EQ_INT(r->status, 0);
		T_CHECK(strstr(r->error, "SECRET") == NULL);
		T_EQ_STR(http_outcome_name(r->outcome), "connection failed");
		http_response_free(r);
	}
	T_EQ_INT(http_pending(c), 0);
	http_client_free(c);
}

int main(void)
{
	T_RUN(test_url_param);
	T_RUN(test_only_http_and_https);
	T_RUN(test_refused_connection);
	T_DONE();
}

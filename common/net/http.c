/*
 * http: GET transfers over libcurl's multi interface.  Each transfer is an
 * easy handle in one multi handle, so connections (and TLS sessions) are
 * kept and reused between the requests of a long-running process.  When
 * libcurl reports a transfer done, its response is completed and queued;
 * the caller collects it in finishing order.
 *
 * The body is collected in a bounded buffer: the write callback refuses
 * to grow it past the limit, which ends the transfer at once instead of
 * after the whole body has arrived.
 */
#include "net/http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct http_transfer {
	CURL *easy;
	struct http_response *resp;
	struct http_transfer *next;
	size_t max_body;
	int toobig;
	int nomem;
	char errbuf[CURL_ERROR_SIZE];
};

struct http_client {
	CURLM *multi;
	char *user_agent;
	struct http_transfer *active;
	struct http_transfer *done_head, *done_tail;
	int pending;
};

static int http_global_done;

static const char *const outcome_names[HTTP_OUTCOME_COUNT] = {
    [HTTP_DONE] = "response",
    [HTTP_E_CONNECT] = "connection failed",
    [HTTP_E_TIMEOUT] = "timeout",
    [HTTP_E_TRUNCATED] = "truncated response",
    [HTTP_E_TLS] = "TLS failure",
    [HTTP_E_TOOBIG] = "response too large",
    [HTTP_E_TRANSFER] = "transfer failed",
};

const char *http_outcome_name(int outcome)
{
	if (outcome < 0 || outcome >= HTTP_OUTCOME_COUNT)
		return "unknown";
	return outcome_names[outcome];
}

struct http_client *http_client_new(const char *user_agent, struct err_msg *e)
{
	/* libcurl's global state is set up once per process and left for exit to reclaim. */
	if (!http_global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			err_set(e, EX_SOFTWARE, "libcurl initialisation failed");
			return NULL;
		}
		http_global_done = 1;
	}
	struct http_client *c = calloc(1, sizeof *c);
	if (!c || !(c->multi = curl_multi_init()) ||
	    !(c->user_agent = strdup(user_agent ? user_agent : "stocketl"))) {
		if (c && c->multi)
			curl_multi_cleanup(c->multi);
		free(c);
		err_set(e, EX_SOFTWARE, "out of memory");
		return NULL;
	}
	return c;
}

static void http_transfer_free(struct http_transfer *t)
{
	if (!t)
		return;
	if (t->easy)
		curl_easy_cleanup(t->easy);
	http_response_free(t->resp);
	free(t);
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	for (struct http_transfer *t = c->active, *next; t; t = next) {
		next = t->next;
		curl_multi_remove_handle(c->multi, t->easy);
		http_transfer_free(t);
	}
	for (struct http_transfer *t = c->done_head, *next; t; t = next) {
		next = t->next;
		http_transfer_free(t);
	}
	curl_multi_cleanup(c->multi);
	free(c->user_agent);
	free(c);
}

void http_response_free(struct http_response *r)
{
	if (!r)
		return;
	buf_free(&r->body);
	free(r);
}

static size_t http_write(char *p, size_t size, size_t n, void *ud)
{
	struct http_transfer *t = ud;
	size_t len = size * n;
	if (t->max_body && t->resp->body.len + len > t->max_body) {
		t->toobig = 1;
		return 0;
	}
	if (buf_append(&t->resp->body, p, len) < 0) {
		t->nomem = 1;
		return 0;
	}
	return len;
}

/* Is the header line p[0..n) the field name (case-insensitive, then ':')? Returns the value. */
static const char *http_header_value(const char *p, size_t n, const char *name, size_t *vlen)
{
	size_t k = strlen(name);
	if (n <= k || strncasecmp(p, name, k) != 0 || p[k] != ':')
		return NULL;
	const char *v = p + k + 1, *end = p + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*vlen = (size_t)(end - v);
	return v;
}

static size_t http_header(char *p, size_t size, size_t n, void *ud)
{
	struct http_transfer *t = ud;
	size_t len = size * n, vlen;
	const char *v;
	/* A status line starts a new response (after 1xx ones): forget the previous headers. */
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		t->resp->content_type[0] = '\0';
		t->resp->retry_after_us = -1;
	} else if ((v = http_header_value(p, len, "content-type", &vlen))) {
		size_t k = vlen < sizeof t->resp->content_type - 1
		               ? vlen
		               : sizeof t->resp->content_type - 1;
		memcpy(t->resp->content_type, v, k);
		t->resp->content_type[k] = '\0';
	} else if ((v = http_header_value(p, len, "retry-after", &vlen))) {
		/* Only delta-seconds; an HTTP-date is rare enough to be treated as absent. */
		int64_t s = 0;
		size_t i = 0;
		for (; i < vlen && isdigit((unsigned char)v[i]) && s < 86400 * 365; i++)
			s = s * 10 + (v[i] - '0');
		if (i == vlen && vlen > 0)
			t->resp->retry_after_us = s * 1000000;
	}
	return len;
}

static int http_url_ok(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

int http_start(struct http_client *c, const char *url, const struct http_limits *lim, void *tag,
               struct err_msg *e)
{
	if (!http_url_ok(url)) {
		err_set(e, EX_USAGE, "not an http or https URL");
		return -1;
	}
	struct http_transfer *t = calloc(1, sizeof *t);
	if (!t || !(t->resp = calloc(1, sizeof *t->resp)) || !(t->easy = curl_easy_init())) {
		http_transfer_free(t);
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	t->resp->tag = tag;
	t->resp->retry_after_us = -1;
	t->max_body = lim ? lim->max_body : 0;
	CURL *h = t->easy;
	CURLcode rc = CURLE_OK;
	rc |= curl_easy_setopt(h, CURLOPT_URL, url);
	rc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	rc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	rc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	/* No SIGALRM-based DNS timeouts: signals belong to the program. */
	rc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	rc |= curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	rc |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->errbuf);
	rc |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write);
	rc |= curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
	rc |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, http_header);
	rc |= curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
	rc |= curl_easy_setopt(h, CURLOPT_PRIVATE, t);
	if (lim && lim->timeout_us > 0)
		rc |=
		    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)((lim->timeout_us + 999) / 1000));
	if (lim && lim->connect_timeout_us > 0)
		rc |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
		                       (long)((lim->connect_timeout_us + 999) / 1000));
	if (lim && lim->max_body)
		rc |= curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)lim->max_body);
	if (rc != CURLE_OK || curl_multi_add_handle(c->multi, h) != CURLM_OK) {
		http_transfer_free(t);
		err_set(e, EX_SOFTWARE, "cannot set up the transfer");
		return -1;
	}
	t->next = c->active;
	c->active = t;
	c->pending++;
	return 0;
}

int http_pending(const struct http_client *c)
{
	return c->pending;
}

static int http_outcome_of(CURLcode rc, const struct http_transfer *t)
{
	switch (rc) {
	case CURLE_OK:
		return HTTP_DONE;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return HTTP_E_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_E_TIMEOUT;
	case CURLE_PARTIAL_FILE:
		return HTTP_E_TRUNCATED;
	case CURLE_RECV_ERROR:
		/* A reset after the status line arrived cut the body short. */
		return t->resp->status ? HTTP_E_TRUNCATED : HTTP_E_TRANSFER;
	case CURLE_FILESIZE_EXCEEDED:
		return HTTP_E_TOOBIG;
	case CURLE_WRITE_ERROR:
		return t->toobig ? HTTP_E_TOOBIG : HTTP_E_TRANSFER;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
		return HTTP_E_TLS;
	default:
		return HTTP_E_TRANSFER;
	}
}

/* Move the transfers libcurl reports done from the active list to the done queue. */
static void http_drain(struct http_client *c)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(c->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct http_transfer *t = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		CURLcode rc = m->data.result;
		struct http_response *r = t->resp;
		long status = 0;
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
		r->status = status;
		curl_off_t total = 0;
		if (curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &total) == CURLE_OK)
			r->elapsed_us = (int64_t)total;
		r->outcome = http_outcome_of(rc, t);
		if (t->nomem)
			snprintf(r->error, sizeof r->error, "out of memory for the response body");
		else if (r->outcome == HTTP_E_TOOBIG)
			snprintf(r->error, sizeof r->error, "response body larger than %zu bytes",
			         t->max_body);
		else if (rc != CURLE_OK)
			snprintf(r->error, sizeof r->error, "%s",
			         t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
		curl_multi_remove_handle(c->multi, t->easy);
		curl_easy_cleanup(t->easy);
		t->easy = NULL;
		for (struct http_transfer **pp = &c->active; *pp; pp = &(*pp)->next)
			if (*pp == t) {
				*pp = t->next;
				break;
			}
		t->next = NULL;
		if (c->done_tail)
			c->done_tail->next = t;
		else
			c->done_head = t;
		c->done_tail = t;
	}
}

int http_poll(struct http_client *c, int64_t wait_us, struct err_msg *e)
{
	int running;
	if (curl_multi_perform(c->multi, &running) != CURLM_OK) {
		err_set(e, EX_SOFTWARE, "libcurl: transfer processing failed");
		return -1;
	}
	http_drain(c);
	if (c->done_head || wait_us <= 0)
		return 0;
	int ms = wait_us > 3600000000LL ? 3600000 : (int)((wait_us + 999) / 1000);
	if (curl_multi_poll(c->multi, NULL, 0, ms, NULL) != CURLM_OK ||
	    curl_multi_perform(c->multi, &running) != CURLM_OK) {
		err_set(e, EX_SOFTWARE, "libcurl: waiting for the network failed");
		return -1;
	}
	http_drain(c);
	return 0;
}

struct http_response *http_collect(struct http_client *c)
{
	struct http_transfer *t = c->done_head;
	if (!t)
		return NULL;
	c->done_head = t->next;
	if (!c->done_head)
		c->done_tail = NULL;
	c->pending--;
	struct http_response *r = t->resp;
	t->resp = NULL;
	http_transfer_free(t);
	return r;
}

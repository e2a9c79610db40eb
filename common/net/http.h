/*
 * http: HTTP GET transfers, several at a time, for the programs that talk
 * to a web API (av-fetch).  This module owns the libcurl dependency;
 * nothing else includes curl.h.
 *
 * A client runs any number of transfers concurrently in one thread: start
 * them with http_start(), drive them with http_poll(), and take each
 * finished one with http_collect().  Certificate verification is always on
 * for HTTPS, only http and https URLs are accepted, and redirects are not
 * followed (a redirect would carry the query string, secrets included, to
 * another place).
 *
 * Ownership: the client copies the URL and owns a transfer until
 * http_collect() hands its struct http_response to the caller, who frees
 * it with http_response_free().  http_client_free() aborts and frees the
 * transfers that were never collected.
 *
 * Secrets: the URL is never put into an error text; messages name the
 * failure, and at most the host and port that libcurl reports.
 */
#ifndef STOCKETL_HTTP_H
#define STOCKETL_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define HTTP_ERROR_MAX 256

/* How a transfer ended. */
enum http_outcome {
	HTTP_DONE = 0,    /* a complete response arrived (any HTTP status) */
	HTTP_E_CONNECT,   /* name resolution or connection failed */
	HTTP_E_TIMEOUT,   /* the connect or the whole-transfer timeout expired */
	HTTP_E_TRUNCATED, /* the connection ended before the body was complete */
	HTTP_E_TLS,       /* TLS handshake or certificate verification failed */
	HTTP_E_TOOBIG,    /* the body exceeded the limit */
	HTTP_E_TRANSFER,  /* any other failure while sending or receiving */
	HTTP_OUTCOME_COUNT
};

/* Limits of one transfer (all 0 means libcurl's defaults and no limit). */
struct http_limits {
	int64_t timeout_us;         /* the whole transfer */
	int64_t connect_timeout_us; /* name resolution and connection */
	size_t max_body;            /* larger bodies end with HTTP_E_TOOBIG */
};

struct http_response {
	void *tag;       /* the caller's tag given to http_start() */
	int outcome;     /* enum http_outcome */
	long status;     /* the HTTP status code, 0 when no response arrived */
	struct buf body; /* the response body (decoded if it was compressed) */
	char content_type[128];
	int64_t retry_after_us;     /* the Retry-After header in seconds, as µs; -1 if absent */
	int64_t elapsed_us;         /* from the start of the transfer to its end */
	char error[HTTP_ERROR_MAX]; /* outcome != HTTP_DONE: what went wrong */
};

struct http_client;

/*
 * A client whose requests send user_agent.  NULL + e (EX_SOFTWARE) when
 * libcurl cannot be initialised.
 */
struct http_client *http_client_new(const char *user_agent, struct err_msg *e);
void http_client_free(struct http_client *c);

/*
 * Start a GET of url.  Returns 0, or -1 + e (EX_USAGE for a URL that is not
 * http or https, EX_SOFTWARE otherwise) when it cannot be started.
 */
int http_start(struct http_client *c, const char *url, const struct http_limits *lim, void *tag,
               struct err_msg *e);

/* Transfers started and not yet collected. */
int http_pending(const struct http_client *c);

/*
 * Make progress on every transfer, waiting at most wait_us for network
 * activity (it returns early on activity and when a signal arrives).  With
 * no transfers it just waits.  Returns 0, or -1 + e when libcurl fails.
 */
int http_poll(struct http_client *c, int64_t wait_us, struct err_msg *e);

/* A finished transfer, in the order they finished, or NULL. */
struct http_response *http_collect(struct http_client *c);
void http_response_free(struct http_response *r);

/* A short name of an outcome ("timeout", "connection failed", ...). */
const char *http_outcome_name(int outcome);

#endif

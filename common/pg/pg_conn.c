/*
 * pg_conn: settings, connections, statements and the classification of
 * failures into exit statuses.
 *
 * libpq reports a failed connection as text only (no SQLSTATE before the
 * session exists), so connection failures are classified by the phrases of
 * libpq's and the server's messages.  The programs never call setlocale(),
 * so libpq's own messages are in English; the server's FATAL messages are
 * in its lc_messages, and a server set to another language makes an
 * authentication failure look like an unreachable server (75, retried
 * later) instead of 78: the safe side of the mistake.
 *
 * Statement failures carry a SQLSTATE and are classified by it.  The
 * statement is sent again after one reconnection only when the connection
 * broke outside a transaction (a transaction's earlier statements died with
 * the connection).
 *
 * libpq is loaded when first needed (dlopen), not linked: with the 20-odd
 * libraries it brings (TLS, Kerberos, LDAP) it took about 4 ms of every
 * start of the programs that open a table, most of which never talk to
 * PostgreSQL (a table on a local disk commits by link(2)).  Only this
 * file calls it, through the table pq below, typed by libpq's own header.
 */
#include "pg/pg.h"

#include <dlfcn.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_internal.h"
#include "text/ts.h"

struct pg_conn {
	PGconn *conn;
	const struct pg_settings *settings; /* &own */
	struct pg_settings own;             /* a copy: the caller's may go away */
	char *dsn;                          /* own.dsn's text */
	char target[512];
	char sqlstate[6];
	int last_tx;      /* PQtransactionStatus after the last statement */
	int schema_ready; /* pg_schema_ensure() succeeded on this connection */
	int unknown;      /* the last failed statement may have been applied */
};

struct pg_result {
	PGresult *res;
};

/* libpq, loaded on first use ---------------------------------------------------------------- */

/* The soname of the libpq this was built against (Debian's libpq5). */
#define PQ_SONAME "libpq.so.5"

#define PQ_FUNCTIONS(X)                                                                            \
	X(PQclear)                                                                                 \
	X(PQcmdTuples)                                                                             \
	X(PQconndefaults)                                                                          \
	X(PQconnectdbParams)                                                                       \
	X(PQconnectionNeedsPassword)                                                               \
	X(PQconninfoFree)                                                                          \
	X(PQconninfoParse)                                                                         \
	X(PQdb)                                                                                    \
	X(PQerrorMessage)                                                                          \
	X(PQexecParams)                                                                            \
	X(PQfinish)                                                                                \
	X(PQfreemem)                                                                               \
	X(PQgetisnull)                                                                             \
	X(PQgetvalue)                                                                              \
	X(PQhost)                                                                                  \
	X(PQnfields)                                                                               \
	X(PQntuples)                                                                               \
	X(PQport)                                                                                  \
	X(PQreset)                                                                                 \
	X(PQresultErrorField)                                                                      \
	X(PQresultStatus)                                                                          \
	X(PQserverVersion)                                                                         \
	X(PQsetNoticeProcessor)                                                                    \
	X(PQstatus)                                                                                \
	X(PQtransactionStatus)                                                                     \
	X(PQunescapeBytea)                                                                         \
	X(PQuser)

/* libpq's functions, each typed as its declaration in libpq-fe.h. */
static struct {
#define PQ_MEMBER(f) __typeof__(f) *f;
	PQ_FUNCTIONS(PQ_MEMBER)
#undef PQ_MEMBER
} pq;

static int pq_state; /* 0: not tried; 1: loaded; -1: failed (pq_error says why) */
static char pq_error[ERR_MSG_MAX];

/*
 * Load libpq and every function this file calls, once a process.  A
 * library that cannot be loaded (not installed, or too old to have a
 * function) is an installation problem: EX_CONFIG, naming the package.
 */
static int pq_load(struct err_msg *e)
{
	if (pq_state == 0) {
		void *h = dlopen(PQ_SONAME, RTLD_NOW | RTLD_LOCAL);
		const char *missing = NULL;
		if (h) {
			void *sym;
#define PQ_BIND(f)                                                                                 \
	if (!missing && !(sym = dlsym(h, #f)))                                                     \
		missing = #f;                                                                      \
	else if (!missing)                                                                         \
		memcpy(&pq.f, &sym, sizeof sym);
			PQ_FUNCTIONS(PQ_BIND)
#undef PQ_BIND
		}
		if (h && !missing) {
			pq_state = 1;
		} else {
			const char *why = dlerror();
			snprintf(pq_error, sizeof pq_error,
			         "PostgreSQL's client library cannot be loaded (install Debian's "
			         "libpq5): %s%s%s",
			         missing ? PQ_SONAME " has no " : "", missing ? missing : "",
			         missing ? ""
			         : why   ? why
			                 : PQ_SONAME);
			if (h)
				dlclose(h);
			pq_state = -1;
		}
	}
	if (pq_state < 0 && e)
		err_set(e, EX_CONFIG, "%s", pq_error);
	return pq_state > 0 ? 0 : -1;
}

/* Settings ---------------------------------------------------------------------------------- */

/* A duration setting in milliseconds ("10s", "500ms", "0"); -1 when malformed. */
static int64_t pg_duration_ms(const char *text)
{
	int64_t us;
	if (strcmp(text, "0") == 0)
		return 0;
	if (ts_parse_duration(text, &us) < 0 || us < 0)
		return -1;
	return us / 1000;
}

int pg_settings_load(const struct config *c, const char *flag_dsn, struct pg_settings *s,
                     struct err_msg *e)
{
	const char *from = NULL;
	const char *dsn = config_value(c, flag_dsn, PG_DSN_ENV, "postgres", "dsn", NULL, &from);
	memset(s, 0, sizeof *s);
	if (dsn && *dsn) {
		s->dsn = dsn;
		s->dsn_from = from;
		s->configured = 1;
	} else {
		s->dsn = "";
		s->dsn_from = "PG* environment";
	}
	s->application = err_progname();

	/* $PGCONNECT_TIMEOUT is the environment's word on it and wins over the file. */
	const char *ct = config_get(c, "postgres", "connect_timeout");
	const char *env_ct = getenv("PGCONNECT_TIMEOUT");
	if (env_ct && *env_ct) {
		s->connect_timeout = 0;
	} else if (ct) {
		int64_t ms = pg_duration_ms(ct);
		if (ms < 0 || ms > 3600 * 1000) {
			err_set(e, EX_CONFIG,
			        "%s: [postgres] connect_timeout: \"%s\" is not a duration up to 1h "
			        "(such as 10s)",
			        config_path(c), ct);
			return -1;
		}
		/* libpq counts whole seconds; round up so that 500ms is not "none". */
		s->connect_timeout = (int)((ms + 999) / 1000);
	} else {
		s->connect_timeout = PG_DEFAULT_CONNECT_TIMEOUT;
	}
	const char *st = config_get(c, "postgres", "statement_timeout");
	if (st) {
		int64_t ms = pg_duration_ms(st);
		if (ms < 0 || ms > INT32_MAX) {
			err_set(e, EX_CONFIG,
			        "%s: [postgres] statement_timeout: \"%s\" is not a duration (such "
			        "as 30s, or 0 for none)",
			        config_path(c), st);
			return -1;
		}
		s->statement_timeout_ms = (int)ms;
	} else {
		s->statement_timeout_ms = PG_DEFAULT_STATEMENT_TIMEOUT;
	}
	return 0;
}

/* Secrets ----------------------------------------------------------------------------------- */

#define PG_SECRETS_MAX 4

struct pg_secrets {
	char *s[PG_SECRETS_MAX];
	int n;
};

static void pg_secret_add(struct pg_secrets *sec, const char *p, size_t len)
{
	if (len == 0 || sec->n == PG_SECRETS_MAX)
		return;
	char *c = malloc(len + 1);
	if (!c)
		return;
	memcpy(c, p, len);
	c[len] = '\0';
	for (int i = 0; i < sec->n; i++)
		if (strcmp(sec->s[i], c) == 0) {
			free(c);
			return;
		}
	sec->s[sec->n++] = c;
}

static void pg_secrets_free(struct pg_secrets *sec)
{
	for (int i = 0; i < sec->n; i++)
		free(sec->s[i]);
	sec->n = 0;
}

static int pg_hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * Every form in which the DSN's password could appear in a message: as
 * libpq parsed it, and as written in the text (a URI's user:password@
 * with its percent-encoding, a key=value pair), which matters when the
 * DSN is malformed and libpq quotes a piece of it.
 */
static void pg_secrets_collect(const struct pg_settings *s, struct pg_secrets *sec)
{
	sec->n = 0;
	const char *dsn = s ? s->dsn : NULL;
	const char *env = getenv("PGPASSWORD");
	if (env)
		pg_secret_add(sec, env, strlen(env));
	if (!dsn || !*dsn)
		return;
	/* Without libpq no message of libpq's can hold the password: the text's forms suffice. */
	char *err = NULL;
	PQconninfoOption *opts = pq_load(NULL) < 0 ? NULL : pq.PQconninfoParse(dsn, &err);
	if (opts) {
		for (PQconninfoOption *o = opts; o->keyword; o++)
			if (strcmp(o->keyword, "password") == 0 && o->val)
				pg_secret_add(sec, o->val, strlen(o->val));
		pq.PQconninfoFree(opts);
	}
	if (err)
		pq.PQfreemem(err);
	const char *scheme = strstr(dsn, "://");
	if (scheme) {
		const char *u = scheme + 3;
		const char *at = strchr(u, '@');
		const char *colon = at ? memchr(u, ':', (size_t)(at - u)) : NULL;
		if (colon) {
			const char *p = colon + 1;
			size_t len = (size_t)(at - p);
			pg_secret_add(sec, p, len);
			char dec[256];
			size_t o = 0;
			for (size_t i = 0; i < len && o + 1 < sizeof dec; i++) {
				int hi, lo;
				if (p[i] == '%' && i + 2 < len + 1 &&
				    (hi = pg_hexval(p[i + 1])) >= 0 &&
				    (lo = pg_hexval(p[i + 2])) >= 0) {
					dec[o++] = (char)(hi * 16 + lo);
					i += 2;
				} else {
					dec[o++] = p[i];
				}
			}
			pg_secret_add(sec, dec, o);
		}
	}
	for (const char *p = dsn; (p = strstr(p, "password")) != NULL; p += 8) {
		const char *q = p + 8;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q != '=')
			continue;
		q++;
		while (*q == ' ' || *q == '\t')
			q++;
		const char *v = q;
		if (*v == '\'') {
			v++;
			q = v;
			while (*q && *q != '\'')
				q += q[0] == '\\' && q[1] ? 2 : 1;
		} else {
			while (*q && *q != ' ' && *q != '\t' && *q != '&')
				q++;
		}
		pg_secret_add(sec, v, (size_t)(q - v));
	}
}

static void pg_scrub_with(const struct pg_secrets *sec, char *text, size_t size)
{
	char *out = sec->n ? malloc(size) : NULL;
	if (!out) {
		/* No memory for the copy: drop the text rather than risk showing a secret. */
		if (sec->n)
			snprintf(text, size, "(message withheld)");
		return;
	}
	for (int i = 0; i < sec->n; i++) {
		const char *secret = sec->s[i];
		size_t sl = strlen(secret), o = 0;
		for (const char *p = text; *p && o + 1 < size;) {
			if (strncmp(p, secret, sl) == 0) {
				for (int k = 0; k < 3 && o + 1 < size; k++)
					out[o++] = '*';
				p += sl;
			} else {
				out[o++] = *p++;
			}
		}
		out[o] = '\0';
		memcpy(text, out, o + 1);
	}
	free(out);
}

void pg_scrub(const struct pg_settings *s, char *text, size_t size)
{
	struct pg_secrets sec;
	if (size == 0)
		return;
	pg_secrets_collect(s, &sec);
	pg_scrub_with(&sec, text, size);
	pg_secrets_free(&sec);
}

/*
 * Set e to "postgres at TARGET: what: detail", the detail being libpq's or
 * the server's text on one line (its line breaks and tabs become spaces),
 * with every secret replaced.
 */
static void pg_fail(const struct pg_settings *s, const char *target, struct err_msg *e, int status,
                    const char *what, const char *detail)
{
	char text[ERR_MSG_MAX];
	size_t o = 0;
	int space = 0, line = 0;
	for (const char *p = detail ? detail : ""; *p && o + 1 < sizeof text; p++) {
		if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
			space = o > 0;
			line |= *p == '\n' && o > 0;
			continue;
		}
		if (line && o + 3 < sizeof text) {
			text[o++] = ';';
			text[o++] = ' ';
		} else if (space && o + 2 < sizeof text) {
			text[o++] = ' ';
		}
		space = line = 0;
		text[o++] = *p;
	}
	text[o] = '\0';
	err_set(e, status, "postgres at %s: %s%s%s", target, what, *text ? ": " : "", text);
	pg_scrub(s, e->text, sizeof e->text);
}

/* Targets ----------------------------------------------------------------------------------- */

static void pg_target_append(char *out, size_t n, size_t *o, const char *key, const char *val)
{
	if (!val || !*val || *o >= n)
		return;
	int k = snprintf(out + *o, n - *o, "%s%s=%s", *o ? " " : "", key, val);
	if (k > 0)
		*o = *o + (size_t)k < n ? *o + (size_t)k : n - 1;
}

void pg_settings_target(const struct pg_settings *s, char *out, size_t n)
{
	static const char *const keys[] = {"host", "hostaddr", "port", "dbname", "user"};
	if (n == 0)
		return;
	out[0] = '\0';
	if (pq_load(NULL) < 0) {
		snprintf(out, n, "(no client library to read the DSN)");
		return;
	}
	char *err = NULL;
	PQconninfoOption *opts = pq.PQconninfoParse(s && s->dsn ? s->dsn : "", &err);
	pq.PQfreemem(err);
	if (!opts) {
		snprintf(out, n, "(malformed DSN)");
		return;
	}
	PQconninfoOption *defs = pq.PQconndefaults();
	const char *vals[5] = {NULL, NULL, NULL, NULL, NULL};
	for (size_t k = 0; k < 5; k++) {
		for (PQconninfoOption *o = opts; o->keyword; o++)
			if (strcmp(o->keyword, keys[k]) == 0 && o->val && *o->val)
				vals[k] = o->val;
		for (PQconninfoOption *o = defs; !vals[k] && o && o->keyword; o++)
			if (strcmp(o->keyword, keys[k]) == 0 && o->val && *o->val)
				vals[k] = o->val;
	}
	/* A database named like its user is libpq's default too. */
	if (!vals[3])
		vals[3] = vals[4];
	size_t o = 0;
	for (size_t k = 0; k < 5; k++)
		pg_target_append(out, n, &o, keys[k], vals[k]);
	if (o == 0)
		snprintf(out, n, "(libpq defaults)");
	pq.PQconninfoFree(opts);
	pq.PQconninfoFree(defs);
	pg_scrub(s, out, n);
}

static void pg_conn_target(struct pg_conn *c)
{
	size_t o = 0;
	const char *host = pq.PQhost(c->conn);
	c->target[0] = '\0';
	pg_target_append(c->target, sizeof c->target, &o, "host", host);
	pg_target_append(c->target, sizeof c->target, &o, "port", pq.PQport(c->conn));
	pg_target_append(c->target, sizeof c->target, &o, "dbname", pq.PQdb(c->conn));
	pg_target_append(c->target, sizeof c->target, &o, "user", pq.PQuser(c->conn));
	pg_scrub(c->settings, c->target, sizeof c->target);
}

const char *pg_target(const struct pg_conn *c)
{
	return c->target;
}

int pg_server_version(const struct pg_conn *c)
{
	return pq.PQserverVersion(c->conn);
}

int pg_conn_schema_ready(const struct pg_conn *c)
{
	return c->schema_ready;
}

void pg_conn_set_schema_ready(struct pg_conn *c)
{
	c->schema_ready = 1;
}

int pg_conn_outcome_unknown(const struct pg_conn *c)
{
	return c->unknown;
}

const char *pg_last_sqlstate(const struct pg_conn *c)
{
	return c->sqlstate;
}

/* Connecting -------------------------------------------------------------------------------- */

static int pg_contains(const char *text, const char *const *phrases)
{
	for (size_t i = 0; phrases[i]; i++)
		if (strstr(text, phrases[i]))
			return 1;
	return 0;
}

/*
 * The status of a failed connection: 78 for what the settings got wrong,
 * 75 for everything that may go away by itself (the server is down,
 * starting, full, far away).
 */
static int pg_connect_status(PGconn *conn, const char *msg)
{
	static const char *const temporary[] = {
	    "the database system is starting up",
	    "the database system is shutting down",
	    "the database system is in recovery mode",
	    "the database system is not yet accepting connections",
	    "too many clients",
	    "remaining connection slots",
	    "Temporary failure in name resolution",
	    NULL,
	};
	static const char *const config[] = {
	    "authentication failed",
	    "password authentication",
	    "no password supplied",
	    "does not exist",
	    "pg_hba.conf",
	    "not permitted to log in",
	    "permission denied",
	    "invalid ",
	    "missing \"=\"",
	    "unterminated quoted string",
	    "unrecognized",
	    "does not support SSL",
	    "certificate",
	    "could not translate host name",
	    "unsupported",
	    "GSSAPI",
	    "Kerberos",
	    "not supported",
	    NULL,
	};
	if (conn && pq.PQconnectionNeedsPassword(conn))
		return EX_CONFIG;
	if (pg_contains(msg, temporary))
		return EX_TEMPFAIL;
	if (pg_contains(msg, config))
		return EX_CONFIG;
	return EX_TEMPFAIL;
}

/* The server's notices (NOTICE, WARNING) are for the curious: -vv shows them. */
static void pg_notice(void *arg, const char *message)
{
	struct pg_conn *c = arg;
	char text[ERR_MSG_MAX];
	size_t n = strlen(message);
	while (n > 0 && message[n - 1] == '\n')
		n--;
	snprintf(text, sizeof text, "%.*s", (int)n, message);
	pg_scrub(c->settings, text, sizeof text);
	err_debug("postgres at %s: %s", c->target, text);
}

/* The session's settings, sent again after each reconnection. */
static int pg_session_setup(struct pg_conn *c, struct err_msg *e)
{
	char ms[32];
	snprintf(ms, sizeof ms, "%d", c->settings->statement_timeout_ms);
	const char *v[1] = {ms};
	PGresult *r = pq.PQexecParams(c->conn, "SELECT set_config('statement_timeout', $1, false)",
	                              1, NULL, v, NULL, NULL, 0);
	int ok = r && pq.PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		pg_fail(c->settings, c->target, e,
		        pq.PQstatus(c->conn) == CONNECTION_BAD ? EX_TEMPFAIL : EX_SOFTWARE,
		        "cannot set the statement timeout", pq.PQerrorMessage(c->conn));
	pq.PQclear(r);
	return ok ? 0 : -1;
}

struct pg_conn *pg_connect(const struct pg_settings *s, struct err_msg *e)
{
	if (pq_load(e) < 0)
		return NULL;
	char target[512];
	pg_settings_target(s, target, sizeof target);
	char *perr = NULL;
	PQconninfoOption *parsed = pq.PQconninfoParse(s->dsn, &perr);
	if (!parsed) {
		pg_fail(s, target, e, EX_CONFIG, "malformed DSN", perr ? perr : "");
		/* Where it came from, after the fact: the DSN itself is never shown. */
		size_t len = strlen(e->text);
		snprintf(e->text + len, sizeof e->text - len, " (DSN from %s)", s->dsn_from);
		pq.PQfreemem(perr);
		return NULL;
	}
	pq.PQconninfoFree(parsed);

	/*
	 * Keywords are applied in order and a later one wins, so the DSN
	 * (expanded from "dbname") comes last: its own connect_timeout or
	 * application name override these defaults.
	 */
	const char *keys[6], *vals[6];
	char timeout[16];
	int k = 0;
	if (s->connect_timeout > 0) {
		snprintf(timeout, sizeof timeout, "%d", s->connect_timeout);
		keys[k] = "connect_timeout";
		vals[k++] = timeout;
	}
	keys[k] = "fallback_application_name";
	vals[k++] = s->application ? s->application : "stocketl";
	keys[k] = "client_encoding";
	vals[k++] = "UTF8";
	if (*s->dsn) {
		keys[k] = "dbname";
		vals[k++] = s->dsn;
	}
	keys[k] = NULL;
	vals[k] = NULL;

	struct pg_conn *c = calloc(1, sizeof *c);
	if (!c) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return NULL;
	}
	c->own = *s;
	c->dsn = malloc(strlen(s->dsn) + 1);
	if (!c->dsn) {
		err_set(e, EX_SOFTWARE, "out of memory");
		free(c);
		return NULL;
	}
	memcpy(c->dsn, s->dsn, strlen(s->dsn) + 1);
	c->own.dsn = c->dsn;
	c->own.dsn_from = NULL;
	c->own.application = NULL;
	c->settings = &c->own;
	c->conn = pq.PQconnectdbParams(keys, vals, 1);
	if (!c->conn) {
		err_set(e, EX_SOFTWARE, "out of memory");
		free(c->dsn);
		free(c);
		return NULL;
	}
	if (pq.PQstatus(c->conn) != CONNECTION_OK) {
		const char *msg = pq.PQerrorMessage(c->conn);
		pg_fail(s, target, e, pg_connect_status(c->conn, msg), "cannot connect", msg);
		pg_close(c);
		return NULL;
	}
	pg_conn_target(c);
	pq.PQsetNoticeProcessor(c->conn, pg_notice, c);
	if (pg_session_setup(c, e) < 0) {
		pg_close(c);
		return NULL;
	}
	c->last_tx = pq.PQtransactionStatus(c->conn);
	return c;
}

void pg_close(struct pg_conn *c)
{
	if (!c)
		return;
	pq.PQfinish(c->conn);
	free(c->dsn);
	free(c);
}

/* Statements -------------------------------------------------------------------------------- */

/* The status for a failed statement's SQLSTATE. */
static int pg_sqlstate_status(const char *state)
{
	static const char *const temporary[] = {"57P01", "57P02", "57P03", "57014",
	                                        "40001", "40P01", "55P03", NULL};
	static const char *const config[] = {"3D000", "42501", "25006", NULL};
	if (!state || !*state)
		return EX_SOFTWARE;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0)
		return EX_TEMPFAIL;
	if (strncmp(state, "28", 2) == 0)
		return EX_CONFIG;
	for (size_t i = 0; temporary[i]; i++)
		if (strcmp(state, temporary[i]) == 0)
			return EX_TEMPFAIL;
	for (size_t i = 0; config[i]; i++)
		if (strcmp(state, config[i]) == 0)
			return EX_CONFIG;
	return EX_SOFTWARE;
}

/* Make a broken connection again; 0 when it works. */
static int pg_reconnect(struct pg_conn *c, struct err_msg *e)
{
	pq.PQreset(c->conn);
	if (pq.PQstatus(c->conn) != CONNECTION_OK) {
		const char *msg = pq.PQerrorMessage(c->conn);
		int st = pg_connect_status(c->conn, msg);
		pg_fail(c->settings, c->target, e, st, "connection lost and cannot be made again",
		        msg);
		return -1;
	}
	if (pg_session_setup(c, e) < 0)
		return -1;
	c->last_tx = pq.PQtransactionStatus(c->conn);
	return 0;
}

int pg_exec(struct pg_conn *c, const char *sql, int n, const char *const *values,
            const int *lengths, struct pg_result **out, struct err_msg *e)
{
	int formats[16], lens[16];
	if (out)
		*out = NULL;
	if (n < 0 || n > 16) {
		err_set(e, EX_SOFTWARE, "pg_exec: %d parameters (at most 16)", n);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		formats[i] = lengths && lengths[i] >= 0;
		lens[i] = lengths && lengths[i] >= 0 ? lengths[i] : 0;
	}
	c->unknown = 0;
	for (int attempt = 0;; attempt++) {
		/* Only a statement outside a transaction can be sent again by itself. */
		int in_tx = c->last_tx == PQTRANS_INTRANS || c->last_tx == PQTRANS_INERROR;
		/*
		 * Sent on a live connection, a statement whose answer never comes
		 * may have been applied: the server can commit it and die (or be
		 * cut off) before the answer reaches us.
		 */
		int live = pq.PQstatus(c->conn) == CONNECTION_OK;
		PGresult *r = pq.PQexecParams(c->conn, sql, n, NULL, values, lens, formats, 0);
		ExecStatusType st = r ? pq.PQresultStatus(r) : PGRES_FATAL_ERROR;
		c->last_tx = pq.PQtransactionStatus(c->conn);
		c->sqlstate[0] = '\0';
		int broke = pq.PQstatus(c->conn) == CONNECTION_BAD;
		if (!broke)
			c->unknown = 0; /* the server answered this attempt */
		else if (live)
			c->unknown = 1;
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			if (out) {
				struct pg_result *pr = malloc(sizeof *pr);
				if (!pr) {
					pq.PQclear(r);
					err_set(e, EX_SOFTWARE, "out of memory");
					return -1;
				}
				pr->res = r;
				*out = pr;
			} else {
				pq.PQclear(r);
			}
			return PG_OK;
		}
		const char *state = r ? pq.PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
		if (state)
			snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state);
		if (state && strcmp(state, "23505") == 0) {
			pq.PQclear(r);
			return PG_UNIQUE;
		}
		if (broke) {
			char msg[ERR_MSG_MAX];
			snprintf(msg, sizeof msg, "%s", pq.PQerrorMessage(c->conn));
			pq.PQclear(r);
			if (attempt == 0 && !in_tx) {
				if (pg_reconnect(c, e) < 0)
					return -1;
				continue;
			}
			pg_fail(c->settings, c->target, e, EX_TEMPFAIL,
			        in_tx ? "connection lost inside a transaction (rolled back)"
			              : "connection lost",
			        msg);
			return -1;
		}
		const char *primary = r ? pq.PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
		char what[ERR_MSG_MAX];
		snprintf(what, sizeof what, "%s (SQLSTATE %s)",
		         primary ? primary : pq.PQerrorMessage(c->conn), state ? state : "none");
		pg_fail(c->settings, c->target, e, pg_sqlstate_status(state), "statement failed",
		        what);
		pq.PQclear(r);
		return -1;
	}
}

int pg_exec_tx(struct pg_conn *c, const char *const *sql, size_t n, struct err_msg *e)
{
	if (pg_exec(c, "BEGIN", 0, NULL, NULL, NULL, e) != PG_OK)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int rc = pg_exec(c, sql[i], 0, NULL, NULL, NULL, e);
		if (rc != PG_OK) {
			if (rc == PG_UNIQUE)
				err_set(e, EX_SOFTWARE,
				        "postgres at %s: unique violation in: %.200s", c->target,
				        sql[i]);
			struct err_msg ignored;
			if (pq.PQstatus(c->conn) == CONNECTION_OK)
				pg_exec(c, "ROLLBACK", 0, NULL, NULL, NULL, &ignored);
			return -1;
		}
	}
	return pg_exec(c, "COMMIT", 0, NULL, NULL, NULL, e) == PG_OK ? 0 : -1;
}

/* Results ----------------------------------------------------------------------------------- */

int pg_result_rows(const struct pg_result *r)
{
	return r ? pq.PQntuples(r->res) : 0;
}

int64_t pg_result_affected(const struct pg_result *r)
{
	const char *t = r ? pq.PQcmdTuples(r->res) : "";
	return *t ? strtoll(t, NULL, 10) : 0;
}

const char *pg_result_value(const struct pg_result *r, int row, int col)
{
	if (!r || row < 0 || row >= pq.PQntuples(r->res) || col < 0 ||
	    col >= pq.PQnfields(r->res) || pq.PQgetisnull(r->res, row, col))
		return NULL;
	return pq.PQgetvalue(r->res, row, col);
}

unsigned char *pg_result_bytea(const struct pg_result *r, int row, int col, size_t *len)
{
	const char *text = pg_result_value(r, row, col);
	*len = 0;
	if (!text)
		return NULL;
	size_t n = 0;
	unsigned char *raw = pq.PQunescapeBytea((const unsigned char *)text, &n);
	unsigned char *copy = raw ? malloc(n + 1) : NULL;
	if (!copy) {
		pq.PQfreemem(raw);
		*len = SIZE_MAX;
		return NULL;
	}
	memcpy(copy, raw, n);
	copy[n] = '\0';
	pq.PQfreemem(raw);
	*len = n;
	return copy;
}

void pg_result_free(struct pg_result *r)
{
	if (!r)
		return;
	pq.PQclear(r->res);
	free(r);
}

/*
 * pg: the one module that talks to PostgreSQL (the only code that includes
 * libpq's headers).  Callers see an opaque connection, statements with
 * parameters (never SQL built from values), text results, and failures as
 * an err_msg whose status is one of stocketl(7)'s exit codes:
 *
 *   75  the server cannot be reached, stopped, timed out, or the connection
 *       broke and could not be made again: temporary, safe to retry later
 *   78  the settings are wrong: a malformed DSN, a failed authentication, a
 *       database or role that does not exist, no right to do what is needed
 *   70  any other SQL error (a bug: the statements are ours)
 *
 * A unique violation (SQLSTATE 23505) is not an error: pg_exec() returns
 * PG_UNIQUE and the caller decides what it means.
 *
 * Where the connection comes from: a libpq connection string or URI from
 * --dsn, else $STOCKETL_PG_DSN, else [postgres] dsn; with none of them,
 * libpq's own PG* environment variables (PGHOST, PGDATABASE, ...) alone.
 * A DSN's own settings win over the defaults set here (connect_timeout,
 * application name).
 *
 * Secrets: no message from this module holds a password.  The target is
 * shown as "host=... port=... dbname=... user=..." rebuilt without the
 * password, and every text that comes from libpq or the server passes
 * through a filter that replaces the DSN's password (and $PGPASSWORD) with
 * "***".
 *
 * A broken connection (the server restarted, a backend terminated) is made
 * again once, and the statement sent again once, unless it broke inside a
 * transaction: then the transaction is lost and the caller gets 75.
 * Statements that run again must therefore be idempotent, or their caller
 * must recognise its own earlier success (pg_commit_claim() does).
 *
 * Ownership: a connection owns its results' memory until pg_result_free();
 * strings returned by pg_result_value() live as long as their result.
 */
#ifndef STOCKETL_PG_H
#define STOCKETL_PG_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/err.h"

/* The environment variable that holds a DSN (between --dsn and the file). */
#define PG_DSN_ENV "STOCKETL_PG_DSN"
/* The schema that holds every stocketl table. */
#define PG_SCHEMA  "stocketl"

#define PG_DEFAULT_CONNECT_TIMEOUT   10    /* seconds */
#define PG_DEFAULT_STATEMENT_TIMEOUT 30000 /* milliseconds */

/* How to reach the server. */
struct pg_settings {
	const char *dsn;          /* conninfo string or URI; "" means the PG* environment only */
	const char *dsn_from;     /* "flag", "environment", the file's name, or "PG* environment" */
	int configured;           /* a DSN was given (flag, environment or file) */
	int connect_timeout;      /* seconds; 0 leaves it to libpq ($PGCONNECT_TIMEOUT) */
	int statement_timeout_ms; /* 0 leaves the server's setting */
	const char *application;  /* application_name, default the program's name */
};

/*
 * Fill s from the flag (may be NULL), $STOCKETL_PG_DSN, [postgres] dsn,
 * [postgres] connect_timeout and statement_timeout (durations such as 10s,
 * 500ms).  The strings stay owned by c and the environment.  -1 with
 * EX_CONFIG for a malformed timeout.
 */
int pg_settings_load(const struct config *c, const char *flag_dsn, struct pg_settings *s,
                     struct err_msg *e);

/*
 * The target that settings point at, for messages: the DSN's host, port,
 * dbname and user (those it does not name come from PG* variables or
 * libpq's defaults), never the password.  Malformed DSNs give "(malformed
 * DSN)".  Writes at most n bytes, NUL-terminated.
 */
void pg_settings_target(const struct pg_settings *s, char *out, size_t n);

struct pg_conn;
struct pg_result;

/*
 * Connect, set the statement timeout, and return the connection; NULL with
 * e (75, 78, see above) when it fails.  The message names the target
 * (without password) and says why.
 */
struct pg_conn *pg_connect(const struct pg_settings *s, struct err_msg *e);
void pg_close(struct pg_conn *c);

/* The target of a live connection, as pg_settings_target() shows it. */
const char *pg_target(const struct pg_conn *c);
/* The server's version as a number (150018 for 15.18). */
int pg_server_version(const struct pg_conn *c);

/* pg_exec()'s results besides -1 (error, e set). */
#define PG_OK     0
#define PG_UNIQUE 1 /* the statement violated a unique constraint (23505) */

/*
 * Run one statement with n parameters $1..$n.  values[i] NULL is SQL NULL;
 * lengths (may be NULL) gives, per parameter, -1 for text (NUL-terminated)
 * or the byte length of a binary value (for bytea).  The result (may be
 * NULL when not wanted) holds the rows, in text form.  Returns PG_OK,
 * PG_UNIQUE (no result then) or -1.
 */
int pg_exec(struct pg_conn *c, const char *sql, int n, const char *const *values,
            const int *lengths, struct pg_result **out, struct err_msg *e);

/* Run a list of statements in one transaction: all or none.  0 or -1. */
int pg_exec_tx(struct pg_conn *c, const char *const *sql, size_t n, struct err_msg *e);

/* Rows, and the statement's affected-row count (INSERT, UPDATE). */
int pg_result_rows(const struct pg_result *r);
int64_t pg_result_affected(const struct pg_result *r);
/* Column col of row row: its text, or NULL for SQL NULL. */
const char *pg_result_value(const struct pg_result *r, int row, int col);
/*
 * A bytea column decoded into a new malloc'd buffer (*len bytes, plus a NUL
 * not counted); NULL for SQL NULL or when memory runs out (*len is then
 * SIZE_MAX).
 */
unsigned char *pg_result_bytea(const struct pg_result *r, int row, int col, size_t *len);
void pg_result_free(struct pg_result *r);

/* The SQLSTATE of the last failed statement ("" if none or client-side). */
const char *pg_last_sqlstate(const struct pg_conn *c);

/*
 * Replace every copy of the secrets that settings hold (the DSN's password,
 * $PGPASSWORD) in text by "***", in place.  For messages built by callers
 * from text that reached them from elsewhere.
 */
void pg_scrub(const struct pg_settings *s, char *text, size_t size);

#endif

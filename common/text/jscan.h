/*
 * jscan: a zero-copy, validating pull tokenizer for JSON text (RFC 8259).
 *
 * The caller owns the text; tokens point into it and stay valid as long as
 * the text does.  jscan_next() returns one token at a time and checks the
 * grammar as it goes (nesting, commas, colons, number syntax, string
 * escapes, UTF-8, no control characters in strings), so a document that was
 * scanned to JS_END without JS_ERR is valid JSON (the members a caller took
 * whole with jscan_member_taken() on its word).  Strings come back as the
 * raw bytes between the quotes; `escaped` says whether jscan_unescape() is
 * needed to get their value.
 *
 * This is the fast path for record lines and API bodies.  Whole documents
 * that a program wants as a tree (Delta log actions) go through json.h.
 */
#ifndef STOCKETL_JSCAN_H
#define STOCKETL_JSCAN_H

#include <stddef.h>

#include "base/buf.h"

#define JSCAN_MAX_DEPTH 64

enum jscan_type {
	JS_ERR = -1,
	JS_END = 0,
	JS_OBJ,     /* { */
	JS_OBJ_END, /* } */
	JS_ARR,     /* [ */
	JS_ARR_END, /* ] */
	JS_KEY,     /* an object key (string) */
	JS_STR,
	JS_NUM,
	JS_TRUE,
	JS_FALSE,
	JS_NULL
};

struct jscan_token {
	int type;
	const char *s; /* string contents (without quotes), number text, or the bracket */
	size_t n;
	int escaped; /* strings: contains backslash escapes */
};

struct jscan {
	const char *p, *start, *end;
	int depth;
	int state;
	unsigned char ctx[JSCAN_MAX_DEPTH];
	const char *error; /* static text describing the first error */
};

void jscan_init(struct jscan *js, const char *text, size_t len);
/* The next token; JS_ERR sets js->error and every later call returns JS_ERR. */
int jscan_next(struct jscan *js, struct jscan_token *t);
/*
 * After a JS_OBJ or JS_ARR token t, consume the rest of that value and give
 * its raw text (brackets included).  After any other value token, give the
 * token's own raw text (with quotes for strings).  Returns 0 or -1.
 */
int jscan_skip(struct jscan *js, const struct jscan_token *t, const char **raw, size_t *rawlen);
/* Byte offset of the scanner in the text (for error messages). */
size_t jscan_offset(const struct jscan *js);

/*
 * For a caller's own reader of a layout it knows well (a fast path over the
 * members of one object): when the scanner expects the next member of an
 * object or its end (after JS_OBJ, or after a member's value), the text from
 * its position to the end of the text, *left bytes, whitespace not skipped,
 * and *first set when no member of the object has been read yet.  NULL in
 * any other state (an array, an error, the end).
 */
const char *jscan_member_text(const struct jscan *js, size_t *left, int *first);

/*
 * Move past n bytes from the position jscan_member_text() gave: exactly one
 * member ("key":value), with its separating comma first when it is not the
 * first member, that the caller took whole.  The caller vouches that the
 * bytes are that member in valid JSON, nesting included; the scanner then
 * goes on as after any member's value, so the rest of the text is still
 * checked.
 */
void jscan_member_taken(struct jscan *js, size_t n);

/*
 * Append the value of the JSON string contents s[0..n) (as returned in a
 * token) to out, decoding escapes and \u surrogate pairs into UTF-8.
 * Returns 0, or -1 for an invalid escape or a lone surrogate.
 */
int jscan_unescape(const char *s, size_t n, struct buf *out);

/* Validate UTF-8 (no overlongs, no surrogates, <= U+10FFFF). Returns 0 or -1. */
int jscan_utf8_valid(const char *s, size_t n);

#endif

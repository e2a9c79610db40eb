/*
 * delta_where: --where expressions (delta-cat, delta-compact), their exact
 * evaluation, and the pruning of files and row groups by what is known
 * about their values.
 *
 * An expression is comparisons joined by "and": a column, an operator
 * (= != <> < <= > >=, or "is [not] null") and a literal (a number, a
 * 'single-' or "double-quoted" string, true, false).  Literals are
 * converted to the column's type once (delta_where_bind), so that rows
 * compare typed values, never text.
 *
 * Semantics are SQL's: a null satisfies no comparison, only "is null".
 * Floating-point comparisons follow IEEE 754: NaN equals nothing and only
 * != holds for it.  That also makes pruning safe with statistics that leave
 * NaN out of their bounds.
 *
 * Pruning only ever drops what cannot match: a bound that may not be a
 * bound (a string maximum that was cut to a prefix) is treated as unknown,
 * and timestamp maxima from the log, kept in milliseconds, are widened to
 * the last microsecond of their millisecond.
 */
#include "delta/delta_where.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "text/decimal.h"
#include "text/jscan.h"
#include "text/ts.h"

#define WHERE_MAX_PREDS 256

/* Tokens ----------------------------------------------------------------- */

enum tok {
	T_END,
	T_IDENT,
	T_NUM,
	T_STR,
	T_OP,
	T_AND,
	T_OR,
	T_IS,
	T_NOT,
	T_NULL,
	T_TRUE,
	T_FALSE,
	T_BAD
};

struct lexer {
	const char *src, *p;
	int type;
	const char *start; /* the token's first character in src */
	struct buf text;   /* identifiers and strings: unquoted */
	int op;
	const char *why; /* T_BAD */
};

static int keyword(const char *s, size_t n)
{
	static const struct {
		const char *word;
		int tok;
	} kw[] = {{"and", T_AND},   {"or", T_OR},     {"is", T_IS},      {"not", T_NOT},
	          {"null", T_NULL}, {"true", T_TRUE}, {"false", T_FALSE}};
	for (size_t i = 0; i < sizeof kw / sizeof *kw; i++)
		if (strlen(kw[i].word) == n && strncasecmp(kw[i].word, s, n) == 0)
			return kw[i].tok;
	return T_IDENT;
}

/* A quoted string or identifier; a doubled quote character stands for itself. */
static int lex_quoted(struct lexer *lx, char q)
{
	const char *p = lx->p + 1;
	for (;;) {
		if (!*p) {
			lx->why = q == '`' ? "unterminated `name`" : "unterminated string";
			return T_BAD;
		}
		if (*p == q) {
			if (p[1] != q)
				break;
			p++;
		}
		if (buf_putc(&lx->text, *p) < 0) {
			lx->why = "out of memory";
			return T_BAD;
		}
		p++;
	}
	lx->p = p + 1;
	return q == '`' ? T_IDENT : T_STR;
}

static int lex_number(struct lexer *lx)
{
	const char *p = lx->p;
	if (*p == '+' || *p == '-')
		p++;
	int digits = 0;
	while (isdigit((unsigned char)*p)) {
		p++;
		digits++;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			p++;
			digits++;
		}
	}
	if (!digits) {
		lx->why = "a sign without a number";
		return T_BAD;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p)) {
			lx->why = "a number with a bad exponent";
			return T_BAD;
		}
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (isalnum((unsigned char)*p) || *p == '_') {
		lx->why = "a number followed by letters";
		return T_BAD;
	}
	buf_append(&lx->text, lx->p, (size_t)(p - lx->p));
	lx->p = p;
	return T_NUM;
}

static int lex(struct lexer *lx)
{
	while (isspace((unsigned char)*lx->p))
		lx->p++;
	buf_reset(&lx->text);
	buf_reserve(&lx->text, 0);
	lx->start = lx->p;
	char c = *lx->p;
	if (!c)
		return lx->type = T_END;
	if (c == '\'' || c == '"' || c == '`')
		return lx->type = lex_quoted(lx, c);
	if (isdigit((unsigned char)c) || c == '.' || c == '+' || c == '-')
		return lx->type = lex_number(lx);
	if (isalpha((unsigned char)c) || c == '_') {
		const char *p = lx->p;
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		size_t n = (size_t)(p - lx->p);
		buf_append(&lx->text, lx->p, n);
		lx->p = p;
		return lx->type = keyword(lx->start, n);
	}
	static const struct {
		const char *s;
		int op;
	} ops[] = {{"<=", DELTA_OP_LE}, {">=", DELTA_OP_GE}, {"!=", DELTA_OP_NE},
	           {"<>", DELTA_OP_NE}, {"==", DELTA_OP_EQ}, {"=", DELTA_OP_EQ},
	           {"<", DELTA_OP_LT},  {">", DELTA_OP_GT}};
	for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
		size_t n = strlen(ops[i].s);
		if (strncmp(lx->p, ops[i].s, n) == 0) {
			lx->p += n;
			lx->op = ops[i].op;
			return lx->type = T_OP;
		}
	}
	lx->why = "an unexpected character";
	return lx->type = T_BAD;
}

/* "at character N (near "...")" */
static void lex_fail(struct lexer *lx, struct err_msg *e, const char *what)
{
	if (lx->type == T_BAD) {
		err_set(e, EX_USAGE, "--where: %s at character %d", lx->why,
		        (int)(lx->start - lx->src) + 1);
		return;
	}
	if (lx->type == T_END) {
		err_set(e, EX_USAGE, "--where: expected %s at the end", what);
		return;
	}
	size_t n = strcspn(lx->start, " \t\n");
	err_set(e, EX_USAGE, "--where: expected %s at character %d, found \"%.*s\"", what,
	        (int)(lx->start - lx->src) + 1, (int)(n > 40 ? 40 : n), lx->start);
}

int delta_where_parse(const char *text, struct delta_where *w, struct err_msg *e)
{
	struct lexer lx = {.src = text, .p = text};
	memset(w, 0, sizeof *w);
	int rc = -1;
	lex(&lx);
	if (lx.type == T_END) {
		err_set(e, EX_USAGE, "--where: empty expression");
		goto out;
	}
	for (;;) {
		if (lx.type != T_IDENT) {
			lex_fail(&lx, e, "a column name");
			goto out;
		}
		if (w->n == WHERE_MAX_PREDS) {
			err_set(e, EX_USAGE, "--where: more than %d comparisons", WHERE_MAX_PREDS);
			goto out;
		}
		struct delta_pred *np = realloc(w->p, (w->n + 1) * sizeof *np);
		if (!np) {
			err_set(e, EX_SOFTWARE, "out of memory");
			goto out;
		}
		w->p = np;
		struct delta_pred *p = &w->p[w->n++];
		memset(p, 0, sizeof *p);
		p->col = -1;
		p->column = strdup(lx.text.data ? lx.text.data : "");
		if (!p->column) {
			err_set(e, EX_SOFTWARE, "out of memory");
			goto out;
		}
		lex(&lx);
		if (lx.type == T_IS) {
			lex(&lx);
			p->op = DELTA_OP_ISNULL;
			if (lx.type == T_NOT) {
				p->op = DELTA_OP_NOTNULL;
				lex(&lx);
			}
			if (lx.type != T_NULL) {
				lex_fail(&lx, e, "null after \"is\"");
				goto out;
			}
		} else if (lx.type == T_OP) {
			p->op = lx.op;
			lex(&lx);
			switch (lx.type) {
			case T_NUM:
				p->lit = DELTA_LIT_NUM;
				break;
			case T_STR:
				p->lit = DELTA_LIT_STR;
				break;
			case T_TRUE:
			case T_FALSE:
				p->lit = DELTA_LIT_BOOL;
				break;
			case T_NULL:
				err_set(e, EX_USAGE,
				        "--where: a comparison with null is never true; write "
				        "\"%s is null\" or \"%s is not null\"",
				        p->column, p->column);
				goto out;
			default:
				lex_fail(&lx, e,
				         "a value (a number, a quoted string, true or false)");
				goto out;
			}
			p->textlen = lx.text.len;
			p->text = malloc(lx.text.len + 1);
			if (!p->text) {
				err_set(e, EX_SOFTWARE, "out of memory");
				goto out;
			}
			memcpy(p->text, lx.text.data ? lx.text.data : "", lx.text.len);
			p->text[lx.text.len] = '\0';
		} else {
			lex_fail(&lx, e, "an operator (= != <> < <= > >= or is [not] null)");
			goto out;
		}
		lex(&lx);
		if (lx.type == T_END)
			break;
		if (lx.type == T_OR) {
			err_set(e, EX_USAGE,
			        "--where: only \"and\" joins comparisons (\"or\" at character %d)",
			        (int)(lx.start - lx.src) + 1);
			goto out;
		}
		if (lx.type != T_AND) {
			lex_fail(&lx, e, "\"and\" or the end of the expression");
			goto out;
		}
		lex(&lx);
	}
	rc = 0;
out:
	buf_free(&lx.text);
	if (rc < 0)
		delta_where_free(w);
	return rc;
}

void delta_where_free(struct delta_where *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->p[i].column);
		free(w->p[i].text);
		buf_free(&w->p[i].scratch);
	}
	free(w->p);
	memset(w, 0, sizeof *w);
}

/* Binding ---------------------------------------------------------------- */

static int bind_fail(struct delta_pred *p, struct err_msg *e, const char *why)
{
	char type[64];
	delta_field_type_name(p->f, type, sizeof type);
	err_set(e, EX_USAGE, "--where: column %s is %s: %s", p->f->name, type, why);
	return -1;
}

static int is_integer_type(int t)
{
	return t == DT_LONG || t == DT_INTEGER || t == DT_SHORT || t == DT_BYTE;
}

static int is_number_type(int t)
{
	return is_integer_type(t) || t == DT_FLOAT || t == DT_DOUBLE || t == DT_DECIMAL;
}

/* A numeric literal (from a number or a quoted string) for a numeric column. */
static int bind_number(struct delta_pred *p, struct err_msg *e)
{
	const char *s = p->text;
	size_t n = p->textlen;
	int t = p->f->type;
	if (is_integer_type(t)) {
		struct err_msg de;
		dec128 v;
		if (dec_parse(s, n, DEC_MAX_PRECISION, 0, &v, &de) < 0 || v > INT64_MAX ||
		    v < INT64_MIN)
			return bind_fail(p, e, "the value must be a 64-bit integer");
		p->v.i = (int64_t)v;
		return 0;
	}
	if (t == DT_DECIMAL) {
		struct err_msg de;
		if (dec_parse(s, n, DEC_MAX_PRECISION, p->f->scale, &p->v.dec, &de) < 0) {
			char why[ERR_MSG_MAX + 64];
			snprintf(why, sizeof why, "%s: %s", s, de.text);
			return bind_fail(p, e, why);
		}
		return 0;
	}
	double d;
	if (n == 3 && memcmp(s, "NaN", 3) == 0) {
		d = NAN;
	} else if ((n == 8 && memcmp(s, "Infinity", 8) == 0) ||
	           (n == 9 && memcmp(s, "-Infinity", 9) == 0)) {
		d = s[0] == '-' ? -INFINITY : INFINITY;
	} else {
		char *end;
		d = strtod(s, &end);
		if (n == 0 || end != s + n || isnan(d) ||
		    (isinf(d) && isalpha((unsigned char)s[n - 1])))
			return bind_fail(
			    p, e,
			    "the value must be a number (or NaN, Infinity, -Infinity, as "
			    "printed)");
		/* Past the largest double (1e400): no value the column can hold. */
		if (isinf(d))
			return bind_fail(p, e,
			                 t == DT_FLOAT ? "out of range for float"
			                               : "out of range for double");
		/*
		 * Rows of a float column hold floats: compare with the float
		 * nearest the literal (past the largest float once rounded to
		 * one, none).
		 */
		if (t == DT_FLOAT) {
			char tmp[64];
			float fv = (float)d;
			if (n < sizeof tmp) {
				memcpy(tmp, s, n);
				tmp[n] = '\0';
				fv = strtof(tmp, NULL);
			}
			if (isinf(fv))
				return bind_fail(p, e, "out of range for float");
			d = fv;
		}
	}
	p->v.d = d;
	return 0;
}

static int bind_string(struct delta_pred *p, struct err_msg *e)
{
	const char *s = p->text;
	size_t n = p->textlen;
	struct err_msg pe;
	int32_t days;
	switch (p->f->type) {
	case DT_STRING:
		p->v.s = s;
		p->v.n = n;
		return 0;
	case DT_BINARY:
		/* Binary values are written as base64 (delta-cat, parquet-cat): so are literals. */
		buf_reset(&p->scratch);
		if (buf_base64_decode(&p->scratch, s, n) < 0)
			return bind_fail(p, e, "the value of a binary column must be base64");
		p->v.s = p->scratch.data ? p->scratch.data : "";
		p->v.n = p->scratch.len;
		return 0;
	case DT_DATE:
		if (ts_parse_date(s, n, &days) < 0)
			return bind_fail(p, e, "the value must be a date 'YYYY-MM-DD'");
		p->v.i = days;
		return 0;
	case DT_TIMESTAMP:
	case DT_TIMESTAMP_NTZ:
		if (ts_parse_date(s, n, &days) == 0) {
			p->v.i = (int64_t)days * TS_US_PER_DAY;
			return 0;
		}
		if (memchr(s, '\0', n) ||
		    delta_partition_parse(p->f, s, &p->v, &p->scratch, &pe) < 0 || p->v.null)
			return bind_fail(p, e,
			                 p->f->type == DT_TIMESTAMP
			                     ? "the value must be an RFC 3339 timestamp, "
			                       "'YYYY-MM-DD HH:MM:SS' (UTC) or 'YYYY-MM-DD'"
			                     : "the value must be 'YYYY-MM-DD HH:MM:SS' or "
			                       "'YYYY-MM-DD'");
		return 0;
	case DT_BOOLEAN:
		if (n == 4 && strncasecmp(s, "true", 4) == 0)
			p->v.i = 1;
		else if (n == 5 && strncasecmp(s, "false", 5) == 0)
			p->v.i = 0;
		else
			return bind_fail(p, e, "the value must be true or false");
		return 0;
	default:
		return bind_number(p, e);
	}
}

int delta_where_bind(struct delta_where *w, struct err_msg *e)
{
	for (size_t i = 0; i < w->n; i++) {
		struct delta_pred *p = &w->p[i];
		int t = p->f->type;
		memset(&p->v, 0, sizeof p->v);
		if (p->op == DELTA_OP_ISNULL || p->op == DELTA_OP_NOTNULL)
			continue;
		if (!delta_type_is_primitive(t) || t == DT_VOID)
			return bind_fail(p, e,
			                 t == DT_VOID ? "it is always null"
			                              : "only is null and is not null apply to it");
		switch (p->lit) {
		case DELTA_LIT_BOOL:
			if (t != DT_BOOLEAN)
				return bind_fail(p, e, "true and false compare with booleans only");
			p->v.i = p->text[0] == 't' || p->text[0] == 'T';
			break;
		case DELTA_LIT_NUM:
			if (!is_number_type(t)) {
				if (t == DT_BOOLEAN)
					return bind_fail(p, e, "the value must be true or false");
				return bind_fail(p, e, "write the value in quotes");
			}
			if (bind_number(p, e) < 0)
				return -1;
			break;
		default:
			if (bind_string(p, e) < 0)
				return -1;
			break;
		}
	}
	return 0;
}

/* Evaluation ------------------------------------------------------------- */

/* -1, 0, 1, or 2 when unordered (a NaN). */
static int cmp(const struct delta_field *f, const struct delta_cell *a, const struct delta_cell *b)
{
	if ((f->type == DT_FLOAT || f->type == DT_DOUBLE) && (isnan(a->d) || isnan(b->d)))
		return 2;
	/* delta_cell_cmp() may give any magnitude (memcmp()'s). */
	int r = delta_cell_cmp(f, a, b);
	return (r > 0) - (r < 0);
}

int delta_pred_test(const struct delta_pred *p, const struct delta_cell *c)
{
	if (p->op == DELTA_OP_ISNULL)
		return c->null;
	if (p->op == DELTA_OP_NOTNULL || c->null)
		return !c->null;
	int r = cmp(p->f, c, &p->v);
	if (r == 2)
		return p->op == DELTA_OP_NE;
	switch (p->op) {
	case DELTA_OP_EQ:
		return r == 0;
	case DELTA_OP_NE:
		return r != 0;
	case DELTA_OP_LT:
		return r < 0;
	case DELTA_OP_LE:
		return r <= 0;
	case DELTA_OP_GT:
		return r > 0;
	default:
		return r >= 0;
	}
}

int delta_pred_may_match(const struct delta_pred *p, const struct delta_bounds *b)
{
	if (p->op == DELTA_OP_ISNULL)
		return b->nulls != 0;
	int all_null = b->nulls >= 0 && b->rows >= 0 && b->nulls >= b->rows;
	if (all_null)
		return 0;
	if (p->op == DELTA_OP_NOTNULL || p->op == DELTA_OP_NE)
		return 1;
	int lo = b->has_lo ? cmp(p->f, &b->lo, &p->v) : 2; /* lo vs literal */
	int hi = b->has_hi ? cmp(p->f, &b->hi, &p->v) : 2;
	switch (p->op) {
	case DELTA_OP_EQ:
		return !(lo == 1 || hi == -1);
	case DELTA_OP_LT:
		return !(lo == 0 || lo == 1);
	case DELTA_OP_LE:
		return lo != 1;
	case DELTA_OP_GT:
		return !(hi == 0 || hi == -1);
	default:
		return hi != -1;
	}
}

/* Statistics from the log ------------------------------------------------- */

void delta_where_stats_bounds(const char *stats, const struct delta_where *w,
                              struct delta_bounds *b, struct buf *scratch)
{
	const struct delta_field *one[WHERE_MAX_PREDS];
	for (size_t i = 0; i < w->n && i < WHERE_MAX_PREDS; i++)
		one[i] = w->p[i].f;
	delta_stats_bounds(stats, one, w->n < WHERE_MAX_PREDS ? w->n : WHERE_MAX_PREDS, b, scratch);
}

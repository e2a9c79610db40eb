/*
 * checks_parse: the checks file, line by line.
 *
 * The file is indentation-structured like the YAML of SodaCL, but it is
 * read here as a small line language rather than as YAML: a header at
 * column 0, items "- ..." at one indentation, their "key: value" lines
 * deeper, and (for schema alerts) one level more.  Each line is parsed
 * where it stands, so every error names the line and what was expected
 * there.  Values are converted at parse time into the unit of the metric
 * they are compared with (counts, microseconds, scaled decimals, days), so
 * that judging a check is integer comparison.
 */
#include "checks.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/ts.h"

/* Column types, by tick field index. */
enum col_type { CT_STR, CT_TS, CT_DATE, CT_DEC6, CT_INT };
static const int col_types[TICK_FIELD_COUNT] = {
    CT_STR,  CT_STR,  CT_TS,  CT_DATE, CT_DEC6, CT_DEC6,
    CT_DEC6, CT_DEC6, CT_INT, CT_INT,  CT_TS,   CT_STR,
};

/* Units of metrics and thresholds. */
enum unit { U_COUNT, U_DURATION, U_COLUMN, U_SCALE6 };

struct parser {
	const char *name;
	struct err_msg *e;
	int line;
	struct checks *cs;
};

static int fail_at(struct parser *p, const char *fmt, ...) ERR_PRINTF(2, 3);

static int fail_at(struct parser *p, const char *fmt, ...)
{
	char what[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	err_set(p->e, EX_CONFIG, "%s:%d: %s", p->name, p->line, what);
	return -1;
}

int checks_column(const char *s, size_t n)
{
	for (int i = 0; i < TICK_FIELD_COUNT; i++)
		if (strlen(tick_field_names[i]) == n && memcmp(tick_field_names[i], s, n) == 0)
			return i;
	return -1;
}

static const char columns_list[] = "symbol, interval, trade_timestamp, trade_date, open, high, "
                                   "low, close, volume, batch_id, ingested_at or source";

/*
 * Keep s[0..n) in dst, a buffer of size bytes, for reports; what names it.
 * Text that does not fit is an error, never cut short: a report or a
 * reject would show a name or a condition other than the one written.
 */
static int keep_text(struct parser *p, char *dst, size_t size, const char *s, size_t n,
                     const char *what)
{
	if (n >= size)
		return fail_at(p, "expected %s of at most %zu bytes", what, size - 1);
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* Text scanning ------------------------------------------------------------------ */

struct text {
	const char *s, *end;
};

static void skip_space(struct text *t)
{
	while (t->s < t->end && (*t->s == ' ' || *t->s == '\t'))
		t->s++;
}

static int at_end(struct text *t)
{
	skip_space(t);
	return t->s >= t->end;
}

/* An identifier [A-Za-z_][A-Za-z0-9_]* at the cursor (after blanks); length 0 if none. */
static size_t ident(struct text *t, const char **s)
{
	skip_space(t);
	const char *q = t->s;
	if (q < t->end && (isalpha((unsigned char)*q) || *q == '_'))
		while (q < t->end && (isalnum((unsigned char)*q) || *q == '_'))
			q++;
	*s = t->s;
	return (size_t)(q - t->s);
}

static int accept(struct text *t, const char *lit)
{
	skip_space(t);
	size_t n = strlen(lit);
	if ((size_t)(t->end - t->s) >= n && memcmp(t->s, lit, n) == 0) {
		t->s += n;
		return 1;
	}
	return 0;
}

/* A keyword: the identifier lit, not followed by more identifier characters. */
static int accept_word(struct text *t, const char *lit)
{
	struct text save = *t;
	const char *s;
	size_t n = ident(t, &s);
	if (n == strlen(lit) && memcmp(s, lit, n) == 0) {
		t->s += n;
		return 1;
	}
	*t = save;
	return 0;
}

/* A comparison operator, longest first. */
static int accept_op(struct text *t, int *op)
{
	static const struct {
		const char *s;
		int op;
	} ops[] = {{"<=", OP_LE}, {">=", OP_GE}, {"!=", OP_NE}, {"<>", OP_NE},
	           {"=", OP_EQ},  {"<", OP_LT},  {">", OP_GT}};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (accept(t, ops[i].s)) {
			*op = ops[i].op;
			return 1;
		}
	return 0;
}

/* The next blank-delimited word (a value), up to a stop word or the end. */
static size_t word(struct text *t, const char **s)
{
	skip_space(t);
	const char *q = t->s;
	while (q < t->end && *q != ' ' && *q != '\t')
		q++;
	*s = t->s;
	size_t n = (size_t)(q - t->s);
	t->s = q;
	return n;
}

/* Values -------------------------------------------------------------------------- */

static int unit_of(const struct check *c)
{
	if (c->kind == CK_FRESHNESS)
		return U_DURATION;
	if (c->kind == CK_MIN || c->kind == CK_MAX || c->kind == CK_SUM || c->kind == CK_PERCENTILE)
		return U_COLUMN;
	if (c->percent || c->kind == CK_AVG || c->kind == CK_AVG_LENGTH ||
	    (c->kind >= CK_STDDEV && c->kind <= CK_VAR_SAMP))
		return U_SCALE6;
	return U_COUNT;
}

/* A value of column col's type: scaled decimals, integers, microseconds, days. */
static int parse_col_value(struct parser *p, int col, const char *s, size_t n, dec128 *out)
{
	struct err_msg de;
	int64_t i64;
	int32_t days;
	switch (col_types[col]) {
	case CT_DEC6:
		if (dec_parse(s, n, 38, 6, out, &de) < 0)
			return fail_at(p, "expected a decimal number for %s, not \"%.*s\"",
			               tick_field_names[col], (int)(n > 40 ? 40 : n), s);
		return 0;
	case CT_INT:
		if (dec_parse(s, n, 19, 0, out, &de) < 0 || *out > INT64_MAX || *out < INT64_MIN)
			return fail_at(p, "expected an integer for %s, not \"%.*s\"",
			               tick_field_names[col], (int)(n > 40 ? 40 : n), s);
		return 0;
	case CT_TS:
		if (ts_parse_rfc3339(s, n, &i64) < 0)
			return fail_at(p, "expected an RFC 3339 timestamp for %s, not \"%.*s\"",
			               tick_field_names[col], (int)(n > 40 ? 40 : n), s);
		*out = i64;
		return 0;
	case CT_DATE:
		if (ts_parse_date(s, n, &days) < 0)
			return fail_at(p, "expected a date YYYY-MM-DD for %s, not \"%.*s\"",
			               tick_field_names[col], (int)(n > 40 ? 40 : n), s);
		*out = days;
		return 0;
	default:
		return fail_at(p,
		               "expected a numeric, date or timestamp column, not the string "
		               "column %s",
		               tick_field_names[col]);
	}
}

/* A threshold value in the unit of check c's metric. */
static int parse_metric_value(struct parser *p, const struct check *c, const char *s, size_t n,
                              dec128 *out)
{
	struct err_msg de;
	char buf[64];
	int64_t us;
	switch (unit_of(c)) {
	case U_DURATION:
		snprintf(buf, sizeof buf, "%.*s", (int)(n > 60 ? 60 : n), s);
		if (n > 60 || ts_parse_duration(buf, &us) < 0)
			return fail_at(p, "expected a duration such as 15m, 6h or 1d6h, not \"%s\"",
			               buf);
		*out = us;
		return 0;
	case U_COLUMN:
		return parse_col_value(p, c->col, s, n, out);
	case U_SCALE6:
		/* A percentage may say so: "< 5%", or "< 5 %" (parse_cond()). */
		if (c->percent && n > 1 && s[n - 1] == '%')
			n--;
		if (dec_parse(s, n, 38, 6, out, &de) < 0)
			return fail_at(p, "expected a %s, not \"%.*s\"",
			               c->percent ? "percentage" : "number", (int)(n > 40 ? 40 : n),
			               s);
		return 0;
	default:
		if (dec_parse(s, n, 19, 0, out, &de) < 0)
			return fail_at(p, "expected a count (an integer), not \"%.*s\"",
			               (int)(n > 40 ? 40 : n), s);
		return 0;
	}
}

/* The "%" after a percentage's value, written apart ("< 5 %"). */
static void accept_percent(const struct check *c, struct text *t)
{
	struct text save = *t;
	skip_space(t);
	if (c->percent && t->s < t->end && *t->s == '%' &&
	    (t->s + 1 == t->end || t->s[1] == ' ' || t->s[1] == '\t'))
		t->s++;
	else
		*t = save;
}

/* "<op> <value>", "between A and B" or "not between A and B", to the end of t. */
static int parse_cond(struct parser *p, const struct check *c, struct text *t,
                      struct check_cond *out)
{
	const char *s;
	size_t n;
	skip_space(t);
	if (keep_text(p, out->text, sizeof out->text, t->s, (size_t)(t->end - t->s),
	              "a threshold") < 0)
		return -1;
	int neg = accept_word(t, "not");
	if (accept_word(t, "between")) {
		out->op = neg ? OP_NOT_BETWEEN : OP_BETWEEN;
		n = word(t, &s);
		if (n == 0)
			return fail_at(p, "expected a value after \"between\"");
		if (parse_metric_value(p, c, s, n, &out->a) < 0)
			return -1;
		accept_percent(c, t);
		if (!accept_word(t, "and"))
			return fail_at(p, "expected \"and\" in \"between A and B\"");
		n = word(t, &s);
		if (n == 0)
			return fail_at(p, "expected a value after \"and\"");
		if (parse_metric_value(p, c, s, n, &out->b) < 0)
			return -1;
		accept_percent(c, t);
		if (out->a > out->b)
			return fail_at(p, "expected \"between A and B\" with A <= B");
	} else {
		if (neg || !accept_op(t, &out->op))
			return fail_at(p, "expected a comparison (=, !=, <, <=, >, >=) or "
			                  "\"between A and B\"");
		n = word(t, &s);
		if (n == 0)
			return fail_at(p, "expected a value after the comparison");
		if (parse_metric_value(p, c, s, n, &out->a) < 0)
			return -1;
		accept_percent(c, t);
	}
	if (!at_end(t))
		return fail_at(p, "expected the end of the threshold, not \"%.*s\"",
		               (int)(t->end - t->s > 40 ? 40 : t->end - t->s), t->s);
	return 0;
}

/*
 * Freshness takes the comparisons SodaCL gives it: inline "< DURATION",
 * alerts "when > DURATION" (<= and >= are read as Soda reads them, the
 * same).  Soda judges each as "the data is older than DURATION", so that
 * a freshness equal to it passes: the condition is made to say so.  Soda
 * reads any other comparison in a way of its own ("> 1h" as no threshold,
 * a check that never fails; "between 1h and 2h" as "< 2h"): here it is an
 * error.
 */
static int freshness_cond(struct parser *p, struct check_cond *k, int inline_cond)
{
	if (inline_cond && (k->op == OP_LT || k->op == OP_LE)) {
		k->op = OP_LE; /* passes */
		return 0;
	}
	if (!inline_cond && (k->op == OP_GT || k->op == OP_GE)) {
		k->op = OP_GT; /* warns or fails */
		return 0;
	}
	if (inline_cond)
		return fail_at(p,
		               "expected \"< DURATION\" for freshness: it fails when the data is "
		               "older (or \"warn: when > DURATION\", \"fail: when > DURATION\")");
	return fail_at(p, "expected \"when > DURATION\" for freshness: it fails when the data is "
	                  "older");
}

/* "[a, b, 'c']": the items of a list, unquoted, each into fn(). */
static int parse_list(struct parser *p, struct text *t,
                      int (*fn)(struct parser *, struct check *, const char *, size_t),
                      struct check *c)
{
	if (!accept(t, "["))
		return fail_at(p, "expected a list in brackets: [a, b, ...]");
	if (accept(t, "]"))
		return fail_at(p, "expected at least one item in the list");
	for (;;) {
		skip_space(t);
		const char *s = t->s;
		size_t n;
		if (t->s < t->end && (*t->s == '\'' || *t->s == '"')) {
			char q = *t->s;
			const char *close = memchr(t->s + 1, q, (size_t)(t->end - t->s - 1));
			if (!close)
				return fail_at(p, "expected the closing %c of a quoted item", q);
			s = t->s + 1;
			n = (size_t)(close - s);
			t->s = close + 1;
		} else {
			while (t->s < t->end && *t->s != ',' && *t->s != ']')
				t->s++;
			n = (size_t)(t->s - s);
			while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
				n--;
			if (n == 0)
				return fail_at(p, "expected a list item");
		}
		if (fn(p, c, s, n) < 0)
			return -1;
		if (accept(t, "]"))
			break;
		if (!accept(t, ","))
			return fail_at(p, "expected \",\" or \"]\" in the list");
	}
	if (!at_end(t))
		return fail_at(p, "expected the end of the line after the list");
	return 0;
}

/* The rest of a setting's line, without the quotes around it if it has them: its length. */
static size_t unquoted(struct text *v, const char **s)
{
	skip_space(v);
	size_t n = (size_t)(v->end - v->s);
	*s = v->s;
	if (n >= 2 && (v->s[0] == '"' || v->s[0] == '\'') && v->s[n - 1] == v->s[0]) {
		(*s)++;
		n -= 2;
	}
	return n;
}

/*
 * One item of a list of values of c's column into values (numbers, dates,
 * timestamps) or svalues (strings), *count of them so far; what names the
 * list in messages.
 */
static int add_value(struct parser *p, const struct check *c, const char *s, size_t n,
                     const char *what, dec128 *values, char (*svalues)[16], int *count)
{
	if (*count == VALUES_MAX)
		return fail_at(p, "expected at most %d %s values", VALUES_MAX, what);
	if (col_types[c->col] == CT_STR) {
		if (n > 15)
			return fail_at(p, "expected values of at most 15 bytes for %s",
			               tick_field_names[c->col]);
		memcpy(svalues[*count], s, n);
		svalues[*count][n] = '\0';
	} else if (parse_col_value(p, c->col, s, n, &values[*count]) < 0) {
		return -1;
	}
	(*count)++;
	return 0;
}

/* An item of "valid values: [...]" (invalid_count) or "missing values: [...]" (missing_count). */
static int add_valid_value(struct parser *p, struct check *c, const char *s, size_t n)
{
	return add_value(p, c, s, n, c->kind == CK_MISSING ? "missing" : "valid", c->values,
	                 c->svalues, &c->nvalues);
}

/* An item of "invalid values: [...]": a value the column may not hold. */
static int add_invalid_value(struct parser *p, struct check *c, const char *s, size_t n)
{
	return add_value(p, c, s, n, "invalid", c->ivalues, c->isvalues, &c->ninvalid);
}

/*
 * How many times regcomp() copies a pattern's parts, at most limit + 1:
 * it copies a repeated part once per count of "{m,n}" (n, or m for
 * "{m,}") and twice for "+", and the copies multiply when repetitions
 * nest or stack ("a+++", "(a{9}){9}").  The product over the whole
 * pattern bounds that; escaped characters and bracket expressions repeat
 * nothing.
 */
static long repetitions(const char *s, long limit)
{
	long product = 1;
	while (*s && product <= limit) {
		if (*s == '\\') {
			s += s[1] ? 2 : 1;
		} else if (*s == '[') {
			/* a ']' first (after '^') is one of the set */
			s += s[1] == '^' ? 2 : 1;
			if (*s == ']')
				s++;
			while (*s && *s != ']')
				s++;
			if (*s)
				s++;
		} else if (*s == '+') {
			product *= 2;
			s++;
		} else if (*s == '{' && isdigit((unsigned char)s[1])) {
			long m = 0;
			for (s++; isdigit((unsigned char)*s) && m <= limit; s++)
				m = m * 10 + (*s - '0');
			if (*s == ',' && isdigit((unsigned char)s[1])) {
				m = 0;
				for (s++; isdigit((unsigned char)*s) && m <= limit; s++)
					m = m * 10 + (*s - '0');
			}
			product *= m > 0 ? m : 1;
		} else {
			s++;
		}
	}
	return product > limit ? limit + 1 : product;
}

/*
 * "valid regex:", "invalid regex:" (invalid_count) or "missing regex:"
 * (missing_count), what: a POSIX extended expression, quoted or not, into
 * re; *has says it is there.
 */
static int parse_regex(struct parser *p, const struct check *c, const char *what, struct text *v,
                       regex_t *re, int *has)
{
	if (col_types[c->col] != CT_STR)
		return fail_at(
		    p, "expected a string column (symbol, interval or source) for \"%s\"", what);
	if (*has)
		return fail_at(p, "expected one \"%s:\" per check", what);
	const char *s;
	size_t n = unquoted(v, &s);
	if (n == 0 || n > 200)
		return fail_at(p, "expected a regular expression after \"%s:\"", what);
	char pattern[201], why[128];
	memcpy(pattern, s, n);
	pattern[n] = '\0';
	if (repetitions(pattern, 1000) > 1000)
		return fail_at(p,
		               "expected a regular expression whose repetitions ({m,n} and +) "
		               "multiply to at most 1000 after \"%s:\"",
		               what);
	int rc = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		regerror(rc, re, why, sizeof why);
		return fail_at(p,
		               "expected a regular expression (POSIX extended) after \"%s:\": %s",
		               what, why);
	}
	*has = 1;
	return 0;
}

/*
 * The built-in formats, after Soda Core 3's format_cfg (the version of
 * 3.5, whose dates were corrected), as POSIX extended expressions matched
 * against the whole value.  Where Soda's expression does not say what its
 * name does, the name wins (tick-validate(1) says so too): a credit card
 * number is anchored at both ends as a whole, not only its first and last
 * alternatives (there, any 14 to 19 digits in a row anywhere would do);
 * a money point's decimal separator is a '.', not any character.  Soda's \\d is
 * [0-9] and \\s [[:space:]], as in PostgreSQL; the letters À to ȳ of an
 * email address (U+00C0 to U+0233) are their UTF-8 bytes, since the
 * expressions run in the C locale.  Blanks (" *") may surround numbers,
 * dates and times, as there.
 */
#define F_SP           " *"
#define F_DPC          "([0-9]+([.,][0-9]+)?|[.,][0-9]+)"
#define F_DP           "([0-9]+([.][0-9]+)?|[.][0-9]+)"
#define F_DC           "([0-9]+(,[0-9]+)?|,[0-9]+)"
#define F_ZPC          "(0+([.,]0+)?|[.,]0+)"
#define F_ZP           "(0+([.]0+)?|[.]0+)"
#define F_ZC           "(0+(,0+)?|,0+)"
#define F_ANY(n)       "^" F_SP "[-+]?" F_SP n
#define F_POS(n)       "^" F_SP "[+]?" F_SP n
#define F_NEG(n, zero) "^" F_SP "(-" F_SP n "|" zero ")"
#define F_CUR          F_SP "([A-Z]{3}|[a-z]{3})" F_SP "$"
#define F_DAY          "(0?[1-9]|[12][0-9]|3[01])"
#define F_MONTH        "(0?[1-9]|1[012])"
#define F_YEAR         "([12][0-9])?[0-9][0-9]"
#define F_H24          "(0?[0-9]|[01][0-9]|2[0-3])"
#define F_H12          "(0?[0-9]|1[0-2])"
#define F_MIN          "[0-5]?[0-9]"
#define F_SEC          "[0-5]?[0-9]([.,][0-9]+)?"
#define F_MM           "[0-5][0-9]"
#define F_HEX4         "[0-9a-fA-F]{1,4}"
#define F_OCTET        "(25[0-5]|(2[0-4]|1?[0-9])?[0-9])"
#define F_IPV4         "(" F_OCTET "[.]){3}" F_OCTET
#define F_LETTER       "|\xc3[\x80-\xbf]|[\xc4-\xc7][\x80-\xbf]|\xc8[\x80-\xb3]"
static const struct {
	const char *name, *pattern;
} formats[] = {
    {"integer", F_ANY("[0-9]+") F_SP "$"},
    {"positive integer", F_POS("[0-9]+") F_SP "$"},
    {"negative integer", F_NEG("[0-9]+", "0+") F_SP "$"},
    {"decimal", F_ANY(F_DPC) F_SP "$"},
    {"positive decimal", F_POS(F_DPC) F_SP "$"},
    {"negative decimal", F_NEG(F_DPC, F_ZPC) F_SP "$"},
    {"decimal point", F_ANY(F_DP) F_SP "$"},
    {"positive decimal point", F_POS(F_DP) F_SP "$"},
    {"negative decimal point", F_NEG(F_DP, F_ZP) F_SP "$"},
    {"decimal comma", F_ANY(F_DC) F_SP "$"},
    {"positive decimal comma", F_POS(F_DC) F_SP "$"},
    {"negative decimal comma", F_NEG(F_DC, F_ZC) F_SP "$"},
    {"percentage", F_ANY(F_DPC) F_SP "%" F_SP "$"},
    {"positive percentage", F_POS(F_DPC) F_SP "%" F_SP "$"},
    {"negative percentage", F_NEG(F_DPC, F_ZPC) F_SP "%" F_SP "$"},
    {"percentage point", F_ANY(F_DP) F_SP "%" F_SP "$"},
    {"positive percentage point", F_POS(F_DP) F_SP "%" F_SP "$"},
    {"negative percentage point", F_NEG(F_DP, F_ZP) F_SP "%" F_SP "$"},
    {"percentage comma", F_ANY(F_DC) F_SP "%" F_SP "$"},
    {"positive percentage comma", F_POS(F_DC) F_SP "%" F_SP "$"},
    {"negative percentage comma", F_NEG(F_DC, F_ZC) F_SP "%" F_SP "$"},
    {"money", F_ANY(F_DPC) F_CUR},
    {"money point", F_ANY("[0-9]{1,3}(,[0-9]{3})*([.][0-9]+)?") F_CUR},
    {"money comma", F_ANY("[0-9]{1,3}([.][0-9]{3})*(,[0-9]+)?") F_CUR},
    {"date us", "^" F_SP F_MONTH "[-./]" F_DAY "[-./]" F_YEAR F_SP "$"},
    {"date eu", "^" F_SP F_DAY "[-./]" F_MONTH "[-./]" F_YEAR F_SP "$"},
    {"date inverse", "^" F_SP F_YEAR "[-./]" F_MONTH "[-./]" F_DAY F_SP "$"},
    {"date iso 8601", "^" F_SP "[12][0-9]{3}-?((0[1-9]|1[012])-?(0[1-9]|[12][0-9]|3[01])|"
                      "W[0-5][0-9](-?[1-7])?|[0-3][0-9][0-9])"
                      "([ T]" F_H24 "(:?" F_MM "(:?" F_MM "([.,][0-9]+)?)?)?([+-]" F_H24 ":?" F_MM
                      "|Z)?)?" F_SP "$"},
    {"time 24h", "^" F_SP F_H24 ":" F_MIN "(:" F_SEC ")?" F_SP "$"},
    {"time 24h nosec", "^" F_SP F_H24 ":" F_MIN F_SP "$"},
    {"time 12h", "^" F_SP F_H12 ":" F_MIN "(:" F_SEC ")?" F_SP "$"},
    {"time 12h nosec", "^" F_SP F_H12 ":" F_MIN F_SP "$"},
    {"timestamp 24h", "^" F_SP F_H24 ":" F_MIN ":" F_SEC F_SP "$"},
    {"timestamp 12h", "^" F_SP F_H12 ":" F_MIN ":" F_SEC F_SP "$"},
    {"uuid", "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
    {"ip address", "^[0-9]{1,3}[.][0-9]{1,3}[.][0-9]{1,3}[.][0-9]{1,3}$"},
    {"ipv4 address", "^[0-9]{1,3}[.][0-9]{1,3}[.][0-9]{1,3}[.][0-9]{1,3}$"},
    {"ipv6 address",
     "^((" F_HEX4 ":){7}" F_HEX4 "|(" F_HEX4 ":){1,7}:|(" F_HEX4 ":){1,6}:" F_HEX4 "|(" F_HEX4
     ":){1,5}(:" F_HEX4 "){1,2}|(" F_HEX4 ":){1,4}(:" F_HEX4 "){1,3}|(" F_HEX4 ":){1,3}(:" F_HEX4
     "){1,4}|(" F_HEX4 ":){1,2}(:" F_HEX4 "){1,5}|" F_HEX4 ":(:" F_HEX4 "){1,6}|:((:" F_HEX4
     "){1,7}|:)|fe80:(:[0-9a-fA-F]{0,4}){0,4}%[0-9a-zA-Z]+|::(ffff(:0{1,4})?:)?" F_IPV4 "|(" F_HEX4
     ":){1,4}:" F_IPV4 ")$"},
    {"email", "^([-a-zA-Z0-9._%+]" F_LETTER ")+@([-a-zA-Z0-9._%]" F_LETTER ")+[.][A-Za-z]{2,4}$"},
    {"phone number",
     "^(([+][0-9]{1,2}[[:space:]])?[(]?[0-9]{3}[)]?[[:space:].-])?[0-9]{3}[[:space:].-][0-9]{4}$"},
    {"credit card number", "^([0-9]{14,19}|([0-9]{4}-){3}[0-9]{4}|([0-9]{4} ){3}[0-9]{4})$"},
};

_Static_assert(sizeof formats / sizeof formats[0] == CHECKS_FORMATS, "CHECKS_FORMATS");

/*
 * "valid format:", "invalid format:" (invalid_count) or "missing format:"
 * (missing_count), what: the name of a built-in format, quoted or not, its
 * expression into *out (compiled once for every check that names it).
 */
static int parse_format(struct parser *p, const struct check *c, const char *what, struct text *v,
                        const regex_t **out)
{
	if (col_types[c->col] != CT_STR)
		return fail_at(
		    p, "expected a string column (symbol, interval or source) for \"%s\"", what);
	if (*out)
		return fail_at(p, "expected one \"%s:\" per check", what);
	const char *s;
	size_t n = unquoted(v, &s);
	int i = 0;
	while (i < CHECKS_FORMATS &&
	       (strlen(formats[i].name) != n || memcmp(formats[i].name, s, n)))
		i++;
	if (i == CHECKS_FORMATS)
		return fail_at(p,
		               "expected a format (integer, decimal, decimal point, percentage, "
		               "money, date us, date eu, date iso 8601, time 24h, uuid, ipv4 "
		               "address, email... as tick-validate(1) lists them) after \"%s:\", "
		               "not \"%.*s\"",
		               what, (int)(n > 40 ? 40 : n), s);
	struct checks *cs = p->cs;
	if (!cs->has_format[i]) {
		char why[128];
		int rc = regcomp(&cs->formats[i], formats[i].pattern, REG_EXTENDED | REG_NOSUB);
		if (rc != 0) {
			regerror(rc, &cs->formats[i], why, sizeof why);
			err_set(p->e, EX_SOFTWARE, "%s:%d: the format \"%s\" does not compile: %s",
			        p->name, p->line, formats[i].name, why);
			return -1;
		}
		cs->has_format[i] = 1;
	}
	*out = &cs->formats[i];
	return 0;
}

/* "valid length:", "valid min length:", "valid max length:": characters. */
static int parse_length(struct parser *p, struct check *c, const char *key, size_t klen,
                        struct text *v, int *out)
{
	const char *s;
	size_t n = word(v, &s);
	if (col_types[c->col] != CT_STR)
		return fail_at(p,
		               "expected a string column (symbol, interval or source) for \"%.*s\"",
		               (int)klen, key);
	if (*out >= 0)
		return fail_at(p, "expected one \"%.*s:\" per check", (int)klen, key);
	int len = 0;
	for (size_t i = 0; i < n && len <= 1000000; i++)
		len = isdigit((unsigned char)s[i]) ? len * 10 + (s[i] - '0') : -1;
	if (n == 0 || len < 0 || len > 1000000 || !at_end(v))
		return fail_at(p,
		               "expected a length (a whole number of characters) after \"%.*s:\"",
		               (int)klen, key);
	*out = len;
	return 0;
}

static int add_required(struct parser *p, struct check *c, const char *s, size_t n)
{
	int col = checks_column(s, n);
	if (col < 0)
		return fail_at(p, "expected a column (%s), not \"%.*s\"", columns_list,
		               (int)(n > 40 ? 40 : n), s);
	c->required |= (uint16_t)(1u << col);
	return 0;
}

/* Fail conditions ------------------------------------------------------------------ */

/*
 * The parser below recurses for each "not", "(" and min()/max() it enters;
 * the nodes of a condition are bounded (EXPR_MAX), but parentheses make
 * none, and a "not" or a min() makes its node only once what it holds is
 * parsed.  The depth is bounded apart, so that a checks file of nested
 * parentheses is a configuration error rather than a stack overflow.
 */
#define XP_DEPTH_MAX 100

struct xp {
	struct parser *p;
	struct check *c;
	struct text t;
	int depth;
};

/* Enter one level of nesting; -1, with the message, past XP_DEPTH_MAX. */
static int xp_enter(struct xp *x)
{
	if (++x->depth > XP_DEPTH_MAX)
		return fail_at(x->p, "expected a fail condition nested at most %d deep",
		               XP_DEPTH_MAX);
	return 0;
}

static int xp_node(struct xp *x, int kind)
{
	if (x->c->nnodes == EXPR_MAX)
		return fail_at(x->p, "expected a shorter fail condition (at most %d terms)",
		               EXPR_MAX);
	struct expr_node *n = &x->c->nodes[x->c->nnodes];
	memset(n, 0, sizeof *n);
	n->kind = kind;
	return x->c->nnodes++;
}

static int xp_operand_slot(struct xp *x)
{
	if (x->c->noperands == OPERAND_MAX)
		return fail_at(x->p, "expected a shorter fail condition (at most %d values)",
		               OPERAND_MAX);
	memset(&x->c->operands[x->c->noperands], 0, sizeof x->c->operands[0]);
	return x->c->noperands++;
}

static int xp_operand(struct xp *x)
{
	const char *s;
	skip_space(&x->t);
	size_t n = ident(&x->t, &s);
	if (n > 0) {
		int fn =
		    (n == 3 && memcmp(s, "min", 3) == 0) || (n == 5 && !memcmp(s, "least", 5))
		        ? OPD_MIN
		    : (n == 3 && memcmp(s, "max", 3) == 0) || (n == 8 && !memcmp(s, "greatest", 8))
		        ? OPD_MAX
		        : -1;
		if (fn >= 0) {
			x->t.s += n;
			if (!accept(&x->t, "("))
				return fail_at(x->p, "expected \"(\" after %.*s", (int)n, s);
			if (xp_enter(x) < 0)
				return -1;
			int args[OPERAND_ARGS], nargs = 0;
			do {
				if (nargs == OPERAND_ARGS)
					return fail_at(x->p, "expected at most %d arguments",
					               OPERAND_ARGS);
				int a = xp_operand(x);
				if (a < 0)
					return -1;
				args[nargs++] = a;
			} while (accept(&x->t, ","));
			if (!accept(&x->t, ")"))
				return fail_at(x->p, "expected \",\" or \")\"");
			if (nargs < 2)
				return fail_at(x->p, "expected at least two arguments to %.*s",
				               (int)n, s);
			x->depth--;
			int i = xp_operand_slot(x);
			if (i < 0)
				return -1;
			struct expr_operand *o = &x->c->operands[i];
			o->kind = fn;
			memcpy(o->args, args, sizeof args);
			o->nargs = nargs;
			return i;
		}
		int col = checks_column(s, n);
		if (col < 0 || (col_types[col] != CT_DEC6 && col_types[col] != CT_INT))
			return fail_at(x->p,
			               "expected a numeric column (open, high, low, close, volume, "
			               "batch_id), a number, min(...) or max(...), not \"%.*s\"",
			               (int)n, s);
		x->t.s += n;
		int i = xp_operand_slot(x);
		if (i < 0)
			return -1;
		x->c->operands[i].kind = OPD_COL;
		x->c->operands[i].col = col;
		x->c->refs |= (uint16_t)(1u << col);
		return i;
	}
	const char *q = x->t.s;
	if (q < x->t.end && (*q == '-' || *q == '+'))
		q++;
	while (q < x->t.end && ((*q >= '0' && *q <= '9') || *q == '.'))
		q++;
	struct err_msg de;
	dec128 v;
	if (q == x->t.s)
		return fail_at(x->p, "expected a column, a number, min(...) or max(...)");
	/* A number that does not fit: say why, not that it is no number. */
	if (dec_parse(x->t.s, (size_t)(q - x->t.s), 38, 6, &v, &de) < 0)
		return fail_at(x->p, "expected a number of at most 32 digits and 6 decimals: %s",
		               de.text);
	x->t.s = q;
	int i = xp_operand_slot(x);
	if (i < 0)
		return -1;
	x->c->operands[i].kind = OPD_CONST;
	x->c->operands[i].value = v;
	return i;
}

/* "HH:MM" as seconds after midnight (24:00 allowed). */
static int xp_time(struct xp *x, int32_t *out)
{
	skip_space(&x->t);
	const char *s = x->t.s;
	if (x->t.end - s < 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
	    s[2] != ':' || !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
		return fail_at(x->p, "expected a time of day HH:MM");
	int h = (s[0] - '0') * 10 + s[1] - '0', m = (s[3] - '0') * 10 + s[4] - '0';
	if (m > 59 || h > 24 || (h == 24 && m > 0))
		return fail_at(x->p, "expected a time of day HH:MM, not %.5s", s);
	*out = h * 3600 + m * 60;
	x->t.s += 5;
	return 0;
}

static int xp_or(struct xp *x);

static int xp_primary(struct xp *x)
{
	if (accept_word(&x->t, "not")) {
		if (xp_enter(x) < 0)
			return -1;
		int a = xp_primary(x);
		if (a < 0)
			return -1;
		x->depth--;
		int i = xp_node(x, EX_NOT);
		if (i < 0)
			return -1;
		x->c->nodes[i].a = a;
		return i;
	}
	if (accept(&x->t, "(")) {
		if (xp_enter(x) < 0)
			return -1;
		int a = xp_or(x);
		if (a < 0)
			return -1;
		if (!accept(&x->t, ")"))
			return fail_at(x->p, "expected \")\"");
		x->depth--;
		return a;
	}
	int pred = accept_word(&x->t, "off_grid")          ? EX_OFF_GRID
	           : accept_word(&x->t, "outside_session") ? EX_OUTSIDE_SESSION
	                                                   : -1;
	if (pred >= 0) {
		const char *s;
		if (!accept(&x->t, "("))
			return fail_at(x->p, "expected \"(\" and a timestamp column");
		size_t n = ident(&x->t, &s);
		int col = checks_column(s, n);
		if (col != 2)
			return fail_at(x->p, "expected the column trade_timestamp");
		x->t.s += n;
		int i = xp_node(x, pred);
		if (i < 0)
			return -1;
		struct expr_node *node = &x->c->nodes[i];
		node->col = col;
		node->start = 4 * 3600;
		node->end = 20 * 3600;
		if (pred == EX_OUTSIDE_SESSION && accept(&x->t, ",")) {
			if (xp_time(x, &node->start) < 0)
				return -1;
			if (!accept(&x->t, ","))
				return fail_at(x->p, "expected \",\" and the end of the session");
			if (xp_time(x, &node->end) < 0)
				return -1;
			if (node->end <= node->start)
				return fail_at(x->p,
				               "expected a session that ends after it starts");
		}
		if (!accept(&x->t, ")"))
			return fail_at(x->p, "expected \")\"");
		x->c->refs |= (uint16_t)(1u << col | TICK_N_INTERVAL);
		return i;
	}
	int a = xp_operand(x);
	if (a < 0)
		return -1;
	int op;
	if (!accept_op(&x->t, &op))
		return fail_at(x->p, "expected a comparison operator (=, !=, <, <=, >, >=)");
	int b = xp_operand(x);
	if (b < 0)
		return -1;
	int i = xp_node(x, EX_CMP);
	if (i < 0)
		return -1;
	x->c->nodes[i].op = op;
	x->c->nodes[i].a = a;
	x->c->nodes[i].b = b;
	return i;
}

static int xp_and(struct xp *x)
{
	int a = xp_primary(x);
	while (a >= 0 && accept_word(&x->t, "and")) {
		int b = xp_primary(x);
		if (b < 0)
			return -1;
		int i = xp_node(x, EX_AND);
		if (i < 0)
			return -1;
		x->c->nodes[i].a = a;
		x->c->nodes[i].b = b;
		a = i;
	}
	return a;
}

static int xp_or(struct xp *x)
{
	int a = xp_and(x);
	while (a >= 0 && accept_word(&x->t, "or")) {
		int b = xp_and(x);
		if (b < 0)
			return -1;
		int i = xp_node(x, EX_OR);
		if (i < 0)
			return -1;
		x->c->nodes[i].a = a;
		x->c->nodes[i].b = b;
		a = i;
	}
	return a;
}

/*
 * The column type shared by every column under operand i: CT_DEC6 or
 * CT_INT, -1 for none (constants only), -2 for a mix.
 */
static int operand_type(const struct check *c, int i)
{
	const struct expr_operand *o = &c->operands[i];
	if (o->kind == OPD_CONST)
		return -1;
	if (o->kind == OPD_COL)
		return col_types[o->col];
	int type = -1;
	for (int k = 0; k < o->nargs; k++) {
		int t = operand_type(c, o->args[k]);
		if (t == -2 || (t >= 0 && type >= 0 && t != type))
			return -2;
		if (t >= 0)
			type = t;
	}
	return type;
}

/* Give the constants under operand i their value at the scale of type; -1 if one has no exact one. */
static int operand_scale(struct check *c, int i, int type)
{
	struct expr_operand *o = &c->operands[i];
	if (o->kind == OPD_CONST) {
		dec128 v = o->value;
		if (type == CT_INT) {
			if (v % 1000000 != 0)
				return -1;
			v /= 1000000;
		}
		if (v > INT64_MAX || v < INT64_MIN)
			return -1;
		o->v64 = (int64_t)v;
		return 0;
	}
	for (int k = 0; o->kind != OPD_COL && k < o->nargs; k++)
		if (operand_scale(c, o->args[k], type) < 0)
			return -1;
	return 0;
}

/* Mark the comparisons that can run in 64 bits (all the usual bar rules can). */
static void plan_fast(struct check *c)
{
	for (int i = 0; i < c->nnodes; i++) {
		struct expr_node *n = &c->nodes[i];
		if (n->kind != EX_CMP)
			continue;
		int ta = operand_type(c, n->a), tb = operand_type(c, n->b);
		int type = ta >= 0 ? ta : tb;
		if (type == -1)
			type = CT_DEC6;
		n->fast = ta != -2 && tb != -2 && (ta < 0 || ta == type) &&
		          (tb < 0 || tb == type) && operand_scale(c, n->a, type) == 0 &&
		          operand_scale(c, n->b, type) == 0;
	}
}

static int parse_condition(struct parser *p, struct check *c, struct text *t)
{
	struct xp x = {p, c, *t, 0};
	c->nnodes = c->noperands = 0;
	c->refs = 0;
	int root = xp_or(&x);
	if (root < 0)
		return -1;
	if (!at_end(&x.t))
		return fail_at(p,
		               "expected \"and\", \"or\" or the end of the condition, not \"%.*s\"",
		               (int)(x.t.end - x.t.s > 40 ? 40 : x.t.end - x.t.s), x.t.s);
	c->root = root;
	plan_fast(c);
	return 0;
}

/* Items ---------------------------------------------------------------------------- */

static const struct {
	const char *name;
	int kind, percent;
} metrics[] = {
    {"row_count", CK_ROW_COUNT, 0},
    {"missing_count", CK_MISSING, 0},
    {"missing_percent", CK_MISSING, 1},
    {"invalid_count", CK_INVALID, 0},
    {"invalid_percent", CK_INVALID, 1},
    {"duplicate_count", CK_DUPLICATE, 0},
    {"duplicate_percent", CK_DUPLICATE, 1},
    {"freshness", CK_FRESHNESS, 0},
    {"min", CK_MIN, 0},
    {"max", CK_MAX, 0},
    {"avg", CK_AVG, 0},
    {"sum", CK_SUM, 0},
    {"stddev", CK_STDDEV, 0},
    {"stddev_pop", CK_STDDEV_POP, 0},
    {"stddev_samp", CK_STDDEV_SAMP, 0},
    {"variance", CK_VARIANCE, 0},
    {"var_pop", CK_VAR_POP, 0},
    {"var_samp", CK_VAR_SAMP, 0},
    {"percentile", CK_PERCENTILE, 0},
    {"avg_length", CK_AVG_LENGTH, 0},
    {"min_length", CK_MIN_LENGTH, 0},
    {"max_length", CK_MAX_LENGTH, 0},
};

/*
 * percentile's ", FRACTION" after its column: a decimal from 0 to 1 (at
 * most 18 decimals), the value's position in the ordered values as in
 * PostgreSQL's percentile_disc.
 */
static int parse_fraction(struct parser *p, struct check *c, struct text *t)
{
	if (!accept(t, ","))
		return fail_at(p, "expected \", FRACTION)\" after percentile's column: "
		                  "percentile(COLUMN, 0.95)");
	skip_space(t);
	const char *s = t->s;
	while (t->s < t->end && *t->s != ')' && *t->s != ' ' && *t->s != '\t')
		t->s++;
	size_t n = (size_t)(t->s - s);
	struct err_msg de;
	dec128 f;
	if (n == 0 || dec_parse(s, n, 19, 18, &f, &de) < 0 || f < 0 ||
	    f > (dec128)1000000000000000000)
		return fail_at(p,
		               "expected a fraction from 0 to 1 such as 0.95 in percentile, not "
		               "\"%.*s\"",
		               (int)(n > 40 ? 40 : n), s);
	c->fraction = (int64_t)f;
	return 0;
}

/* The text of an item after "- " (a trailing ':' already removed). */
static int parse_item(struct parser *p, struct check *c, struct text *t)
{
	const char *s;
	size_t n;
	if (keep_text(p, c->definition, sizeof c->definition, t->s, (size_t)(t->end - t->s),
	              "a check") < 0)
		return -1;
	snprintf(c->name, sizeof c->name, "%s", c->definition);
	c->col = -1;
	c->order_col = -1;
	c->valid_len = c->valid_min_len = c->valid_max_len = -1;
	if (accept_word(t, "schema")) {
		c->kind = CK_SCHEMA;
		if (!at_end(t))
			return fail_at(p, "expected \"schema:\" and its alerts on the lines below");
		return 0;
	}
	{
		struct text save = *t;
		if (accept_word(t, "failed") && accept_word(t, "rows")) {
			c->kind = CK_FAILED_ROWS;
			if (!at_end(t))
				return fail_at(p,
				               "expected \"failed rows:\" and its fail condition "
				               "on the lines below");
			return 0;
		}
		*t = save;
	}
	n = ident(t, &s);
	c->kind = -1;
	for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++)
		if (strlen(metrics[i].name) == n && memcmp(metrics[i].name, s, n) == 0) {
			c->kind = metrics[i].kind;
			c->percent = metrics[i].percent;
		}
	if (c->kind < 0)
		return fail_at(
		    p, "expected a check: row_count, missing_count(COLUMN), "
		       "invalid_count(COLUMN), duplicate_count(COLUMNS), their _percent forms, "
		       "freshness(COLUMN), min(COLUMN), max(COLUMN), avg(COLUMN), sum(COLUMN), "
		       "stddev(COLUMN), stddev_pop, stddev_samp, variance, var_pop, var_samp, "
		       "percentile(COLUMN, FRACTION), avg_length(COLUMN), min_length, "
		       "max_length, schema or failed rows");
	t->s += n;
	if (c->kind != CK_ROW_COUNT) {
		if (!accept(t, "("))
			return fail_at(p, "expected \"(\" and a column after %.*s", (int)n, s);
		do {
			const char *cs;
			size_t cn = ident(t, &cs);
			int col = checks_column(cs, cn);
			if (col < 0)
				return fail_at(p, "expected a column (%s)", columns_list);
			t->s += cn;
			for (int i = 0; i < c->ncols; i++)
				if (c->cols[i] == col)
					return fail_at(p, "expected each column once");
			c->cols[c->ncols++] = col;
		} while (c->kind == CK_DUPLICATE && accept(t, ","));
		if (c->kind == CK_PERCENTILE && parse_fraction(p, c, t) < 0)
			return -1;
		if (!accept(t, ")"))
			return fail_at(p, c->kind == CK_DUPLICATE ? "expected \",\" or \")\""
			                                          : "expected \")\"");
		c->col = c->cols[0];
		int ty = col_types[c->col];
		if (c->kind == CK_FRESHNESS && ty != CT_TS)
			return fail_at(p, "expected a timestamp column (trade_timestamp or "
			                  "ingested_at) for freshness");
		if ((c->kind == CK_MIN || c->kind == CK_MAX) && ty == CT_STR)
			return fail_at(p, "expected a numeric, date or timestamp column for %.*s",
			               (int)n, s);
		int numeric = c->kind == CK_AVG || c->kind == CK_SUM || c->kind == CK_PERCENTILE ||
		              (c->kind >= CK_STDDEV && c->kind <= CK_VAR_SAMP);
		if (numeric && ty != CT_DEC6 && ty != CT_INT)
			return fail_at(
			    p,
			    "expected a numeric column (open, high, low, close, volume or "
			    "batch_id) for %.*s",
			    (int)n, s);
		if ((c->kind == CK_AVG_LENGTH || c->kind == CK_MIN_LENGTH ||
		     c->kind == CK_MAX_LENGTH) &&
		    ty != CT_STR)
			return fail_at(p,
			               "expected a string column (symbol, interval or source) for "
			               "%.*s",
			               (int)n, s);
		if (c->kind == CK_DUPLICATE) {
			/* The time column, when there is one, is the ordered part of the key. */
			for (int i = 0; i < c->ncols; i++)
				if (c->cols[i] == 2 || (c->order_col != 2 && c->cols[i] == 3))
					c->order_col = c->cols[i];
		}
	}
	if (at_end(t))
		return 0;
	c->has_inline = 1;
	if (parse_cond(p, c, t, &c->inline_cond) < 0)
		return -1;
	return c->kind == CK_FRESHNESS ? freshness_cond(p, &c->inline_cond, 1) : 0;
}

/* One "key: value" line of item c (value may be empty). */
static int parse_config(struct parser *p, struct check *c, const char *key, size_t klen,
                        struct text *v)
{
#define KEY(lit) (klen == strlen(lit) && memcmp(key, lit, klen) == 0)
	if (KEY("name")) {
		const char *s;
		size_t n = unquoted(v, &s);
		if (n == 0)
			return fail_at(p, "expected a name after \"name:\"");
		return keep_text(p, c->name, sizeof c->name, s, n, "a name");
	}
	if (KEY("warn") || KEY("fail")) {
		int fail = KEY("fail");
		if (c->kind == CK_SCHEMA) {
			if (!at_end(v))
				return fail_at(
				    p,
				    "expected \"%s:\" alone, with \"when required column "
				    "missing: [...]\" on the line below",
				    fail ? "fail" : "warn");
			if (c->has_warn || c->has_fail)
				return fail_at(p, "expected one alert (warn or fail) for schema");
			c->required_level = fail ? OUT_FAIL : OUT_WARN;
			*(fail ? &c->has_fail : &c->has_warn) = 1;
			return 1; /* a nested block follows */
		}
		if (*(fail ? &c->has_fail : &c->has_warn))
			return fail_at(p, "expected one \"%s:\" per check", fail ? "fail" : "warn");
		if (c->has_inline)
			return fail_at(p,
			               "expected either an inline threshold or warn:/fail: alerts, "
			               "not both");
		if (!accept_word(v, "when"))
			return fail_at(p, "expected \"%s: when <comparison>\"",
			               fail ? "fail" : "warn");
		*(fail ? &c->has_fail : &c->has_warn) = 1;
		struct check_cond *k = fail ? &c->fail : &c->warn;
		if (parse_cond(p, c, v, k) < 0)
			return -1;
		return c->kind == CK_FRESHNESS ? freshness_cond(p, k, 0) : 0;
	}
	if (c->kind == CK_INVALID && (KEY("valid min") || KEY("valid max"))) {
		int isMin = KEY("valid min");
		const char *s;
		size_t n = word(v, &s);
		if (n == 0 || !at_end(v))
			return fail_at(p, "expected one value after \"%.*s:\"", (int)klen, key);
		if (parse_col_value(p, c->col, s, n, isMin ? &c->valid_min : &c->valid_max) < 0)
			return -1;
		*(isMin ? &c->has_valid_min : &c->has_valid_max) = 1;
		return 0;
	}
	if (c->kind == CK_INVALID && KEY("valid values")) {
		if (c->nvalues)
			return fail_at(p, "expected one \"valid values:\" per check");
		return parse_list(p, v, add_valid_value, c);
	}
	if (c->kind == CK_MISSING && KEY("missing values")) {
		if (c->nvalues)
			return fail_at(p, "expected one \"missing values:\" per check");
		return parse_list(p, v, add_valid_value, c);
	}
	if (c->kind == CK_MISSING && KEY("missing regex"))
		return parse_regex(p, c, "missing regex", v, &c->missing_re, &c->has_missing_re);
	if (c->kind == CK_MISSING && KEY("missing format"))
		return parse_format(p, c, "missing format", v, &c->missing_fmt);
	if (c->kind == CK_INVALID && KEY("invalid values")) {
		if (c->ninvalid)
			return fail_at(p, "expected one \"invalid values:\" per check");
		return parse_list(p, v, add_invalid_value, c);
	}
	if (c->kind == CK_INVALID && KEY("valid regex"))
		return parse_regex(p, c, "valid regex", v, &c->valid_re, &c->has_valid_re);
	if (c->kind == CK_INVALID && KEY("invalid regex"))
		return parse_regex(p, c, "invalid regex", v, &c->invalid_re, &c->has_invalid_re);
	if (c->kind == CK_INVALID && KEY("valid format"))
		return parse_format(p, c, "valid format", v, &c->valid_fmt);
	if (c->kind == CK_INVALID && KEY("invalid format"))
		return parse_format(p, c, "invalid format", v, &c->invalid_fmt);
	if (c->kind == CK_INVALID && KEY("valid length"))
		return parse_length(p, c, key, klen, v, &c->valid_len);
	if (c->kind == CK_INVALID && KEY("valid min length"))
		return parse_length(p, c, key, klen, v, &c->valid_min_len);
	if (c->kind == CK_INVALID && KEY("valid max length"))
		return parse_length(p, c, key, klen, v, &c->valid_max_len);
	if (c->kind == CK_FAILED_ROWS && KEY("fail condition")) {
		if (c->nnodes)
			return fail_at(p, "expected one \"fail condition:\" per check");
		if (at_end(v))
			return fail_at(p, "expected a condition after \"fail condition:\"");
		/* Parsed first: what is wrong in it says more than its length. */
		struct text all = *v;
		if (parse_condition(p, c, v) < 0)
			return -1;
		return keep_text(p, c->condition, sizeof c->condition, all.s,
		                 (size_t)(all.end - all.s), "a fail condition");
	}
	if (c->kind == CK_FAILED_ROWS && KEY("time zone")) {
		skip_space(v);
		c->zone_line = p->line;
		if (v->s == v->end)
			return fail_at(p, "expected a zone name after \"time zone:\"");
		return keep_text(p, c->zone_name, sizeof c->zone_name, v->s,
		                 (size_t)(v->end - v->s), "a zone name");
	}
#undef KEY
	static const char *const keys[] = {
	    [CK_ROW_COUNT] = "name, warn or fail",
	    [CK_MISSING] = "name, warn, fail, missing values, missing regex or missing format",
	    [CK_INVALID] =
	        "name, warn, fail, valid min, valid max, valid values, invalid values, "
	        "valid regex, invalid regex, valid format, invalid format, valid length, valid "
	        "min length or valid max length",
	    [CK_DUPLICATE] = "name, warn or fail",
	    [CK_FRESHNESS] = "name, warn or fail",
	    [CK_MIN] = "name, warn or fail",
	    [CK_MAX] = "name, warn or fail",
	    [CK_SCHEMA] = "name, warn or fail",
	    [CK_FAILED_ROWS] = "name, fail condition, time zone, warn or fail",
	    [CK_AVG] = "name, warn or fail",
	    [CK_SUM] = "name, warn or fail",
	    [CK_STDDEV] = "name, warn or fail",
	    [CK_STDDEV_POP] = "name, warn or fail",
	    [CK_STDDEV_SAMP] = "name, warn or fail",
	    [CK_VARIANCE] = "name, warn or fail",
	    [CK_VAR_POP] = "name, warn or fail",
	    [CK_VAR_SAMP] = "name, warn or fail",
	    [CK_PERCENTILE] = "name, warn or fail",
	    [CK_AVG_LENGTH] = "name, warn or fail",
	    [CK_MIN_LENGTH] = "name, warn or fail",
	    [CK_MAX_LENGTH] = "name, warn or fail",
	};
	return fail_at(p, "expected a setting of this check (%s), not \"%.*s\"", keys[c->kind],
	               (int)(klen > 40 ? 40 : klen), key);
}

/* The nested line of a schema alert: "when required column missing: [...]". */
static int parse_schema_when(struct parser *p, struct check *c, const char *key, size_t klen,
                             struct text *v)
{
	static const char want[] = "when required column missing";
	if (klen != sizeof want - 1 || memcmp(key, want, klen) != 0)
		return fail_at(p, "expected \"when required column missing: [COLUMNS]\"");
	if (c->required)
		return fail_at(p, "expected one list of required columns");
	return parse_list(p, v, add_required, c);
}

/* Is the item complete?  Checked at the line after its last one. */
static int finish_item(struct parser *p, struct check *c, int line)
{
	int at = p->line;
	p->line = line;
	int rc = 0;
	if (c->kind == CK_SCHEMA) {
		if (!c->required)
			rc = fail_at(p,
			             "expected a \"fail:\" or \"warn:\" alert with \"when required "
			             "column missing: [...]\"");
	} else if (c->kind == CK_FAILED_ROWS) {
		if (!c->nnodes)
			rc = fail_at(p, "expected a \"fail condition:\" for failed rows");
		if (!c->has_warn && !c->has_fail) {
			/* Quarantine is the rule's effect; the batch warns by default. */
			c->has_warn = 1;
			c->warn.op = OP_GT;
			c->warn.a = 0;
			snprintf(c->warn.text, sizeof c->warn.text, "> 0");
		}
		/* Without a name, a rule is known by its condition. */
		if (!rc && strcmp(c->name, c->definition) == 0)
			snprintf(c->name, sizeof c->name, "%s", c->condition);
	} else {
		if (!c->has_inline && !c->has_warn && !c->has_fail)
			rc = fail_at(p,
			             "expected a threshold: \"%s > 0\" inline, or warn:/fail: "
			             "alerts on the lines below",
			             c->definition);
		else if (c->kind == CK_INVALID && !c->has_valid_min && !c->has_valid_max &&
		         !c->nvalues && !c->ninvalid && !c->has_valid_re && !c->has_invalid_re &&
		         !c->valid_fmt && !c->invalid_fmt && c->valid_len < 0 &&
		         c->valid_min_len < 0 && c->valid_max_len < 0)
			rc = fail_at(p,
			             "expected \"valid min:\", \"valid max:\" or \"valid values:\" "
			             "(or another validity setting) for %s",
			             c->percent ? "invalid_percent" : "invalid_count");
	}
	p->line = at;
	return rc;
}

/* Lines ------------------------------------------------------------------------------ */

struct cline {
	int no;
	int indent;
	const char *s;
	size_t n;
};

/*
 * Cut a comment: '#' at the start or after a blank, outside quotes.  As in
 * YAML, a quote opens a quoted value only where a value starts (at the
 * start, after a blank, '[' or ','): the apostrophe of "don't" is text.
 */
static size_t strip_comment(const char *s, size_t n)
{
	char quote = 0;
	for (size_t i = 0; i < n; i++) {
		if (quote) {
			if (s[i] == quote)
				quote = 0;
		} else if ((s[i] == '"' || s[i] == '\'') && (i == 0 || strchr(" \t[,", s[i - 1]))) {
			quote = s[i];
		} else if (s[i] == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
			n = i;
			break;
		}
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n;
}

/* Split "key: value" at the first ':' followed by a blank or the end. */
static int split_key(const char *s, size_t n, size_t *klen, struct text *v)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ':' && (i + 1 == n || s[i + 1] == ' ' || s[i + 1] == '\t')) {
			*klen = i;
			v->s = s + i + 1;
			v->end = s + n;
			return i > 0 ? 0 : -1;
		}
	}
	return -1;
}

static struct tz *zone_get(struct checks *cs, const char *name, struct err_msg *e)
{
	for (size_t i = 0; i < cs->nzones; i++)
		if (strcmp(tz_name(cs->zones[i]), name) == 0)
			return cs->zones[i];
	if (cs->nzones == sizeof cs->zones / sizeof cs->zones[0]) {
		err_set(e, EX_CONFIG, "more than %zu time zones", cs->nzones);
		return NULL;
	}
	struct tz *z = tz_load(name, e);
	if (z)
		cs->zones[cs->nzones++] = z;
	return z;
}

static int parse_lines(struct parser *p, const char *text, size_t len)
{
	struct checks *cs = p->cs;
	size_t pos = 0;
	int lineno = 0, header = 0;
	int item_indent = -1, config_indent = -1, nested_indent = -1;
	int nested_open = 0; /* the last config line opened a nested block */
	int item_line = 0;
	struct check *c = NULL;
	int item_colon = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		const char *s = text + pos;
		size_t n = end - pos;
		pos = end + 1;
		lineno++;
		p->line = lineno;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		size_t ind = 0;
		while (ind < n && (s[ind] == ' ' || s[ind] == '\t')) {
			if (s[ind] == '\t')
				return fail_at(p, "expected spaces for indentation, not a tab");
			ind++;
		}
		n = strip_comment(s, n);
		if (n <= ind) {
			if (!nl)
				break;
			continue;
		}
		const char *t0 = s + ind;
		size_t tn = n - ind;
		int indent = (int)ind;

		if (indent == 0) {
			static const char hdr[] = "checks for ";
			if (header)
				return fail_at(
				    p, "expected one \"checks for\" block (this file has one "
				       "already) or an indented line");
			if (tn < sizeof hdr || memcmp(t0, hdr, sizeof hdr - 1) != 0 ||
			    t0[tn - 1] != ':')
				return fail_at(p, "expected \"checks for <dataset>:\"");
			size_t dn = tn - sizeof hdr;
			const char *d = t0 + sizeof hdr - 1;
			while (dn > 0 && d[dn - 1] == ' ')
				dn--;
			if (dn == 0 || dn >= sizeof cs->dataset)
				return fail_at(p, "expected a dataset name after \"checks for\"");
			for (size_t i = 0; i < dn; i++)
				if (!isalnum((unsigned char)d[i]) && d[i] != '_' && d[i] != '-' &&
				    d[i] != '.')
					return fail_at(
					    p, "expected a dataset name of letters, digits, "
					       "'_', '-' and '.'");
			memcpy(cs->dataset, d, dn);
			cs->dataset[dn] = '\0';
			header = 1;
			if (!nl)
				break;
			continue;
		}
		if (!header)
			return fail_at(p, "expected \"checks for <dataset>:\" before any check");

		if (tn >= 1 && t0[0] == '-' && (tn == 1 || t0[1] == ' ')) {
			if (item_indent < 0)
				item_indent = indent;
			if (indent != item_indent)
				return fail_at(p,
				               "expected \"- \" at the indentation of the other "
				               "checks (%d spaces)",
				               item_indent);
			if (c && finish_item(p, c, item_line) < 0)
				return -1;
			if (cs->n == CHECKS_MAX)
				return fail_at(p, "expected at most %d checks", CHECKS_MAX);
			c = &cs->v[cs->n++];
			memset(c, 0, sizeof *c);
			c->line = lineno;
			item_line = lineno;
			struct text t = {t0 + 1, t0 + tn};
			skip_space(&t);
			item_colon = t.end > t.s && t.end[-1] == ':';
			if (item_colon)
				t.end--;
			if (at_end(&t))
				return fail_at(p, "expected a check after \"- \"");
			if (parse_item(p, c, &t) < 0)
				return -1;
			config_indent = nested_indent = -1;
			nested_open = 0;
			if (!nl)
				break;
			continue;
		}

		/* A setting of the current check, or a nested alert line. */
		if (!c || indent <= item_indent)
			return fail_at(p, "expected \"- \" and a check");
		if (!item_colon)
			return fail_at(p,
			               "expected \"- %s:\" (with a colon) before the settings "
			               "of a check",
			               c->definition);
		size_t klen;
		struct text v;
		if (split_key(t0, tn, &klen, &v) < 0)
			return fail_at(p, "expected \"key: value\"");
		if (config_indent < 0)
			config_indent = indent;
		if (indent == config_indent) {
			nested_indent = -1;
			int rc = parse_config(p, c, t0, klen, &v);
			if (rc < 0)
				return -1;
			nested_open = rc == 1;
		} else if (indent > config_indent && nested_open) {
			if (nested_indent < 0)
				nested_indent = indent;
			if (indent != nested_indent)
				return fail_at(p, "expected the indentation of the line above");
			if (parse_schema_when(p, c, t0, klen, &v) < 0)
				return -1;
		} else {
			return fail_at(p,
			               "expected the indentation of the check's other settings "
			               "(%d spaces)",
			               config_indent);
		}
		if (!nl)
			break;
	}
	p->line = lineno > 0 ? lineno : 1; /* an empty file: its first line */
	if (!header)
		return fail_at(p, "expected \"checks for <dataset>:\"%s",
		               lineno > 0 ? "" : " (the file is empty)");
	if (cs->n == 0)
		return fail_at(p, "expected at least one check");
	return finish_item(p, c, item_line);
}

struct checks *checks_parse(const char *name, const char *text, size_t len, size_t key_memory,
                            struct err_msg *e)
{
	struct checks *cs = calloc(1, sizeof *cs);
	if (cs)
		cs->v = calloc(CHECKS_MAX, sizeof *cs->v);
	if (!cs || !cs->v) {
		free(cs);
		err_set(e, EX_SOFTWARE, "out of memory");
		return NULL;
	}
	snprintf(cs->path, sizeof cs->path, "%s", name);
	cs->budget.limit = key_memory;
	struct parser p = {name, e, 0, cs};
	if (memchr(text, '\0', len)) {
		err_set(e, EX_CONFIG, "%s: expected text, found a NUL byte", name);
		goto fail;
	}
	/* A byte order mark, as some editors write, is no part of the first line. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3;
		len -= 3;
	}
	if (parse_lines(&p, text, len) < 0)
		goto fail;
	for (size_t i = 0; i < cs->n; i++) {
		struct check *c = &cs->v[i];
		if (c->kind == CK_FAILED_ROWS) {
			struct err_msg ze;
			const char *zn = c->zone_name[0] ? c->zone_name : "US/Eastern";
			c->zone = zone_get(cs, zn, &ze);
			if (!c->zone) {
				err_set(e, EX_CONFIG,
				        "%s:%d: expected a time zone of the system "
				        "database: %s",
				        name, c->zone_line ? c->zone_line : c->line, ze.text);
				goto fail;
			}
			snprintf(c->zone_name, sizeof c->zone_name, "%s", zn);
			c->zone_from = c->zone_until = 0;
		}
		if (c->kind == CK_FAILED_ROWS)
			cs->rules[cs->nrules++] = (int)i;
		else
			cs->metrics[cs->nmetrics++] = (int)i;
		if (c->kind == CK_DUPLICATE && (!(c->keys = keyset_new(&cs->budget)) ||
		                                !(c->dups = keyset_new(&cs->budget)))) {
			err_set(e, EX_SOFTWARE, "out of memory");
			goto fail;
		}
	}
	return cs;
fail:
	checks_free(cs);
	return NULL;
}

void checks_free(struct checks *cs)
{
	if (!cs)
		return;
	for (size_t i = 0; i < cs->n; i++) {
		keyset_free(cs->v[i].keys);
		keyset_free(cs->v[i].dups);
		if (cs->v[i].has_valid_re)
			regfree(&cs->v[i].valid_re);
		if (cs->v[i].has_invalid_re)
			regfree(&cs->v[i].invalid_re);
		if (cs->v[i].has_missing_re)
			regfree(&cs->v[i].missing_re);
		free(cs->v[i].kept);
	}
	for (int i = 0; i < CHECKS_FORMATS; i++)
		if (cs->has_format[i])
			regfree(&cs->formats[i]);
	for (size_t i = 0; i < cs->nzones; i++)
		tz_free(cs->zones[i]);
	free(cs->v);
	free(cs);
}

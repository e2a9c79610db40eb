/*
 * checks: the checks file of tick-validate, parsed and evaluated.
 *
 * The language follows SodaCL's shape (tick-validate(1) describes it):
 * a "checks for <dataset>:" block of "- <check>" items, each a metric with
 * an inline threshold or warn:/fail: alerts, or a "failed rows" rule whose
 * fail condition is tested on every record.  checks_parse() compiles the
 * file into a list of checks; the scan functions keep each check's metric
 * for the batch being read and judge it at the batch's end.
 *
 * Ownership: a checks set owns everything it points to, including the time
 * zones its rules load and the key sets of its duplicate counts; they are
 * freed by checks_free().
 */
#ifndef TICK_VALIDATE_CHECKS_H
#define TICK_VALIDATE_CHECKS_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "text/decimal.h"
#include "base/err.h"
#include "record/keyset.h"
#include "record/tick.h"
#include "text/tz.h"

enum check_kind {
	CK_ROW_COUNT,
	CK_MISSING,
	CK_INVALID,
	CK_DUPLICATE,
	CK_FRESHNESS,
	CK_MIN,
	CK_MAX,
	CK_SCHEMA,
	CK_FAILED_ROWS,
	CK_AVG,
	CK_SUM,
	CK_STDDEV, /* stddev and variance are the sample statistics, as in PostgreSQL */
	CK_STDDEV_POP,
	CK_STDDEV_SAMP,
	CK_VARIANCE,
	CK_VAR_POP,
	CK_VAR_SAMP,
	CK_PERCENTILE,
	CK_AVG_LENGTH,
	CK_MIN_LENGTH,
	CK_MAX_LENGTH
};

enum check_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_BETWEEN, OP_NOT_BETWEEN };

enum check_outcome { OUT_PASS, OUT_SKIPPED, OUT_WARN, OUT_FAIL };

/* A condition on a metric, in the metric's unit. */
struct check_cond {
	int op;
	dec128 a, b;
	char text[128]; /* as written, for reports */
};

/* Nodes of a fail condition: a small tree of comparisons and predicates. */
enum expr_kind { EX_OR, EX_AND, EX_NOT, EX_CMP, EX_OFF_GRID, EX_OUTSIDE_SESSION };
enum operand_kind { OPD_CONST, OPD_COL, OPD_MIN, OPD_MAX };

#define EXPR_MAX     48
#define OPERAND_MAX  48
#define OPERAND_ARGS 6
#define VALUES_MAX   64

struct expr_operand {
	int kind;
	int col;      /* OPD_COL */
	dec128 value; /* OPD_CONST, at scale 6 */
	int64_t v64;  /* OPD_CONST at the scale of its comparison's columns (expr_node.fast) */
	int args[OPERAND_ARGS];
	int nargs;
};

struct expr_node {
	int kind;
	int op;   /* EX_CMP */
	int fast; /* EX_CMP: every column is of one type, so compare in 64 bits at its scale */
	int a, b; /* children (EX_OR, EX_AND, EX_NOT) or operands (EX_CMP) */
	int col;  /* the timestamp column of a predicate */
	int32_t start, end; /* EX_OUTSIDE_SESSION: seconds after local midnight */
};

struct check {
	int kind;
	/*
	 * missing_percent, invalid_percent, duplicate_percent: the count of
	 * CK_MISSING, CK_INVALID or CK_DUPLICATE as a percentage of the
	 * batch's rows, at scale 6
	 */
	int percent;
	int line;
	char definition[256];       /* the item as written, without a trailing ':' */
	char name[512];             /* name:, or the definition (a rule's condition) */
	int col;                    /* the column of one-column metrics */
	int cols[TICK_FIELD_COUNT]; /* duplicate_count's columns, in order */
	int ncols;
	uint16_t required;  /* schema: columns that must be present (bits by field index) */
	int required_level; /* OUT_WARN or OUT_FAIL */

	int has_inline, has_warn, has_fail;
	struct check_cond inline_cond; /* passes when true */
	struct check_cond warn, fail;  /* warns / fails when true */

	/* invalid_count validity; values and svalues: its valid values, or missing_count's missing values */
	int has_valid_min, has_valid_max, nvalues;
	dec128 valid_min, valid_max;
	dec128 values[VALUES_MAX];    /* numeric, date and timestamp columns */
	char svalues[VALUES_MAX][16]; /* string columns */
	int ninvalid;                 /* invalid values: the same, denied */
	dec128 ivalues[VALUES_MAX];
	char isvalues[VALUES_MAX][16];
	/* string columns: regular expressions (POSIX extended), lengths in characters or -1 */
	int has_valid_re, has_invalid_re, has_missing_re;
	regex_t valid_re, invalid_re, missing_re; /* missing_re: missing_count's missing regex */
	int valid_len, valid_min_len, valid_max_len;
	/* built-in formats (valid format, invalid format, missing format): checks.formats */
	const regex_t *valid_fmt, *invalid_fmt, *missing_fmt;

	/* percentile: the fraction at scale 18, 0 to 10^18 */
	int64_t fraction;

	/* failed rows */
	char condition[512]; /* the fail condition as written */
	struct expr_node nodes[EXPR_MAX];
	int nnodes, root;
	struct expr_operand operands[OPERAND_MAX];
	int noperands;
	uint16_t refs; /* columns the condition reads (for the rejects' values) */
	const struct tz *zone;
	char zone_name[64];
	int zone_line;                 /* where "time zone:" was set */
	int64_t zone_from, zone_until; /* a one-entry cache of the zone's offset, UTC µs */
	int32_t zone_off;

	/* The batch's metric. */
	int64_t count;
	int64_t rows; /* records taken (percentages), or values summed (avg, stddev, avg_length) */
	dec128 agg;
	int has_agg;
	/* stddev, variance: the sum of the squares of the values, in 256 bits */
	unsigned __int128 squares_lo, squares_hi;
	/* percentile: the batch's values, unordered, held and allocated (within budget) */
	int64_t *kept;
	size_t nvalues_kept, values_cap;
	int values_overflowed; /* a value found no room in --key-memory */
	uint16_t missing_cols;
	struct keyset *keys; /* duplicate_count: the batch's keys */
	struct keyset *dups; /* ... those seen twice, each counted once */
	int order_col;       /* duplicate_count: the column kept in order, or -1 */
};

#define CHECKS_MAX 256

/* The built-in formats of "valid format:" and the like (checks_parse.c), by index. */
#define CHECKS_FORMATS 41

struct checks {
	char dataset[64];
	char path[4096]; /* the checks file as named (open(2) takes no longer path) */
	struct check *v;
	size_t n;
	int rules[CHECKS_MAX]; /* the failed-rows checks, in file order */
	size_t nrules;
	int metrics[CHECKS_MAX]; /* the batch checks */
	size_t nmetrics;
	struct tz *zones[8];
	size_t nzones;
	struct keyset_budget budget;     /* duplicate counts' keys and percentiles' values */
	regex_t formats[CHECKS_FORMATS]; /* each compiled when a check first names it */
	unsigned char has_format[CHECKS_FORMATS];
};

/*
 * Parse the checks file text (name for messages).  key_memory is the
 * budget shared by duplicate counts.  NULL + e (EX_CONFIG, "name:line:
 * expected ...") on failure.
 */
struct checks *checks_parse(const char *name, const char *text, size_t len, size_t key_memory,
                            struct err_msg *e);
void checks_free(struct checks *cs);

/* The column a name denotes (a tick field index), or -1. */
int checks_column(const char *s, size_t n);

/*
 * Row rules: test record t against every failed-rows check.  Returns the
 * index of the first check it fails, or -1; every check it fails counts it.
 */
int checks_rows(struct checks *cs, const struct tick *t);

/* Batch metrics: take in a record that passed (present: bits of the fields it carries). */
void checks_take(struct checks *cs, const struct tick *t, uint16_t present);

/*
 * Judge check c at the end of a batch; now is the scan time (freshness).
 * *exact is 0 for a value that is not the metric's: a duplicate count past
 * --key-memory (a lower bound), a percentile past it (no value), a variance
 * beyond 38 digits (the largest value).  Such a check never passes.  A
 * percentile's values are sorted in place, hence c is not const.
 */
int checks_judge(struct check *c, int64_t now, dec128 *value, int *has_value, int *exact);

/* Forget the batch's metrics (and give their memory back to the budget). */
void checks_reset(struct checks *cs);

/* Append the JSON text of column col's value in t (null when absent) to out. */
void checks_put_value(struct buf *out, const struct tick *t, int col);
/* Append a metric value of check c as JSON. */
void checks_put_metric(struct buf *out, const struct check *c, dec128 v, int has_value);
/* The metric's name in reports ("row_count", "missing_count"...). */
const char *checks_metric_name(const struct check *c);
const char *checks_outcome_name(int outcome);

#endif

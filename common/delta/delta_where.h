/*
 * delta_where: filter expressions over a table's columns, as delta-cat's
 * --where and delta-compact's --where write them: comparisons of a column
 * with a literal joined by "and" (= != <> < <= > >=, "is [not] null"),
 * their exact evaluation on cells, and what bounds (add.stats, footer
 * statistics, partition values) say about whether a file or row group can
 * hold a match.
 *
 * The caller parses (delta_where_parse), resolves each predicate's column
 * in its table (p->f, and p->col, an index of its own), binds the literals
 * to the columns' types (delta_where_bind), then tests cells.
 *
 * Ownership: struct delta_where owns its predicates and their literals;
 * delta_where_free() releases them.
 */
#ifndef STOCKETL_DELTA_WHERE_H
#define STOCKETL_DELTA_WHERE_H

#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "delta/delta.h"
#include "delta/delta_rows.h"

enum delta_op {
	DELTA_OP_EQ,
	DELTA_OP_NE,
	DELTA_OP_LT,
	DELTA_OP_LE,
	DELTA_OP_GT,
	DELTA_OP_GE,
	DELTA_OP_ISNULL,
	DELTA_OP_NOTNULL
};
enum delta_lit { DELTA_LIT_NONE, DELTA_LIT_NUM, DELTA_LIT_STR, DELTA_LIT_BOOL };

struct delta_pred {
	char *column; /* as written */
	int op;
	int lit;        /* enum delta_lit */
	char *text;     /* the literal's text (strings unquoted) */
	size_t textlen; /* strings may hold NUL bytes */
	/* bound to the table by delta_where_bind() */
	int col; /* the caller's index of the column (delta-cat: its scanner's) */
	const struct delta_field *f;
	struct delta_cell v;
	struct buf scratch;
};

struct delta_where {
	struct delta_pred *p;
	size_t n;
};

/*
 * Parse an expression: comparisons of a column with a literal joined by
 * "and".  Syntax errors fill e (EX_USAGE) with where and why.
 */
int delta_where_parse(const char *text, struct delta_where *w, struct err_msg *e);
/* Convert each literal to the type of its column (p->f, set by the caller); EX_USAGE errors. */
int delta_where_bind(struct delta_where *w, struct err_msg *e);
void delta_where_free(struct delta_where *w);
/* Does a value satisfy the predicate (SQL: a null satisfies only "is null")? */
int delta_pred_test(const struct delta_pred *p, const struct delta_cell *c);

/* 0 when no value within the bounds can satisfy the predicate, else 1. */
int delta_pred_may_match(const struct delta_pred *p, const struct delta_bounds *b);
/*
 * Bounds of the column of every predicate from a file's add.stats JSON
 * (b[i] for w->p[i]), as delta_stats_bounds() reads them.
 */
void delta_where_stats_bounds(const char *stats, const struct delta_where *w,
                              struct delta_bounds *b, struct buf *scratch);

#endif

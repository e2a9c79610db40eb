/*
 * checks: evaluating the compiled checks on records and batches.
 *
 * This is the per-record hot path, so every value is an integer: prices at
 * scale 6, counts, microseconds, days; a rule's operands are compared at
 * scale 6 in 128 bits, so mixing volume and prices cannot overflow.  A fail
 * condition is evaluated with SQL's three-valued logic: a comparison with a
 * null column is unknown, and only a condition that is true fails the row.
 * The exchange zone's offset is cached by UTC hour, since a rule asks for it
 * once per bar and bars come in time order.
 */
#include "checks.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "text/ts.h"

#define SCALE6 1000000

/* Column values ----------------------------------------------------------------- */

/* Where each numeric column lives in struct tick (0: a string column). */
static const size_t col_offset[TICK_FIELD_COUNT] = {
    0,
    0,
    offsetof(struct tick, trade_timestamp),
    offsetof(struct tick, trade_date),
    offsetof(struct tick, open),
    offsetof(struct tick, high),
    offsetof(struct tick, low),
    offsetof(struct tick, close),
    offsetof(struct tick, volume),
    offsetof(struct tick, batch_id),
    offsetof(struct tick, ingested_at),
    0,
};

/* The numeric value of column col (unit of its type); 0 when null or a string column. */
static inline int col_get(const struct tick *t, int col, dec128 *v)
{
	if ((t->nulls & (1u << col)) || !col_offset[col])
		return 0;
	if (col == 3) {
		*v = t->trade_date;
		return 1;
	}
	int64_t x;
	memcpy(&x, (const char *)t + col_offset[col], sizeof x);
	*v = x;
	return 1;
}

/* The text of a string column, or NULL when null. */
static const char *col_str(const struct tick *t, int col)
{
	if (t->nulls & (1u << col))
		return NULL;
	if (col == 0)
		return t->symbol;
	if (col == 11)
		return t->source;
	return tick_interval_name(t->interval);
}

/* Fail conditions ------------------------------------------------------------------ */

/* Operand i at scale 6; 0 when a column it reads is null. */
static int eval_operand(const struct check *c, int i, const struct tick *t, dec128 *v)
{
	const struct expr_operand *o = &c->operands[i];
	switch (o->kind) {
	case OPD_CONST:
		*v = o->value;
		return 1;
	case OPD_COL:
		if (!col_get(t, o->col, v))
			return 0;
		if (o->col == 8 || o->col == 9)
			*v *= SCALE6;
		return 1;
	default: {
		dec128 best = 0, x;
		for (int k = 0; k < o->nargs; k++) {
			if (!eval_operand(c, o->args[k], t, &x))
				return 0;
			if (k == 0 || (o->kind == OPD_MIN ? x < best : x > best))
				best = x;
		}
		*v = best;
		return 1;
	}
	}
}

static int eval_operand64(const struct check *c, int i, const struct tick *t, int64_t *v);

/* Operand i in 64 bits at its comparison's scale (expr_node.fast); 0 when null. */
static inline int operand64(const struct check *c, int i, const struct tick *t, int64_t *v)
{
	const struct expr_operand *o = &c->operands[i];
	if (o->kind == OPD_COL) {
		if (t->nulls & (1u << o->col))
			return 0;
		memcpy(v, (const char *)t + col_offset[o->col], sizeof *v);
		return 1;
	}
	if (o->kind == OPD_CONST) {
		*v = o->v64;
		return 1;
	}
	return eval_operand64(c, i, t, v);
}

/* min() and max() in 64 bits (the leaves are inlined: this is most of a rule's work). */
static int eval_operand64(const struct check *c, int i, const struct tick *t, int64_t *v)
{
	const struct expr_operand *o = &c->operands[i];
	/* Which argument wins is data, not pattern: keep it free of branches. */
	int64_t best, x;
	if (!operand64(c, o->args[0], t, &best))
		return 0;
	for (int k = 1; k < o->nargs; k++) {
		if (!operand64(c, o->args[k], t, &x))
			return 0;
		if (o->kind == OPD_MIN)
			best = x < best ? x : best;
		else
			best = x > best ? x : best;
	}
	*v = best;
	return 1;
}

static int cmp_holds64(int op, int64_t a, int64_t b)
{
	switch (op) {
	case OP_EQ:
		return a == b;
	case OP_NE:
		return a != b;
	case OP_LT:
		return a < b;
	case OP_LE:
		return a <= b;
	case OP_GT:
		return a > b;
	default:
		return a >= b;
	}
}

static int cmp_holds(int op, dec128 a, dec128 b)
{
	switch (op) {
	case OP_EQ:
		return a == b;
	case OP_NE:
		return a != b;
	case OP_LT:
		return a < b;
	case OP_LE:
		return a <= b;
	case OP_GT:
		return a > b;
	default:
		return a >= b;
	}
}

/* Floor division for the common case of instants after 1970. */
static inline int64_t floor_div(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : ts_floor_div(a, b);
}

/* The zone's UTC offset at ts (microseconds), cached for the UTC hour around ts. */
static int32_t zone_offset(struct check *c, int64_t ts)
{
	if (ts >= c->zone_from && ts < c->zone_until)
		return c->zone_off;
	int64_t hour = floor_div(ts, 3600 * TS_US_PER_SEC);
	int32_t a = tz_offset(c->zone, hour * 3600), b = tz_offset(c->zone, hour * 3600 + 3599);
	if (a != b) /* a change within this hour: no caching */
		return tz_offset(c->zone, floor_div(ts, TS_US_PER_SEC));
	c->zone_from = hour * 3600 * TS_US_PER_SEC;
	c->zone_until = c->zone_from + 3600 * TS_US_PER_SEC;
	c->zone_off = a;
	return a;
}

/* Interval lengths in microseconds, by enum tick_interval. */
static const int64_t interval_us[TICK_INTERVAL_COUNT] = {
    0,
    60 * TS_US_PER_SEC,
    300 * TS_US_PER_SEC,
    900 * TS_US_PER_SEC,
    1800 * TS_US_PER_SEC,
    3600 * TS_US_PER_SEC,
    TS_US_PER_DAY,
};

/* A comparison or a predicate: 1 true, 0 false, -1 unknown (a null column). */
static inline int eval_leaf(struct check *c, const struct expr_node *n, const struct tick *t)
{
	if (n->kind == EX_CMP) {
		if (n->fast) {
			int64_t a, b;
			if (!operand64(c, n->a, t, &a) || !operand64(c, n->b, t, &b))
				return -1;
			return cmp_holds64(n->op, a, b);
		}
		dec128 a, b;
		if (!eval_operand(c, n->a, t, &a) || !eval_operand(c, n->b, t, &b))
			return -1;
		return cmp_holds(n->op, a, b);
	}
	if (t->nulls & (TICK_N_TIMESTAMP | TICK_N_INTERVAL) || t->interval == 0 ||
	    t->interval >= TICK_INTERVAL_COUNT)
		return -1;
	int64_t local =
	    t->trade_timestamp + (int64_t)zone_offset(c, t->trade_timestamp) * TS_US_PER_SEC;
	int64_t day = floor_div(local, TS_US_PER_DAY);
	int64_t tod = local - day * TS_US_PER_DAY;
	int64_t len = interval_us[t->interval];
	if (n->kind == EX_OFF_GRID && t->interval == TICK_1D && tod != 0) {
		/*
		 * A daily bar starts its day: at midnight, or, where clocks go
		 * forward at midnight, when the change is over (the instant
		 * before it is on the day before).
		 */
		int64_t prev = t->trade_timestamp - 1;
		int64_t plocal = prev + (int64_t)zone_offset(c, prev) * TS_US_PER_SEC;
		return floor_div(plocal, TS_US_PER_DAY) == day;
	}
	if (n->kind == EX_OFF_GRID)
		return tod % len != 0;
	int64_t wd = ((day + 4) % 7 + 7) % 7; /* 1970-01-01 was a Thursday; 0 is Sunday */
	if (wd == 0 || wd == 6)
		return 1;
	if (t->interval == TICK_1D)
		return 0;
	return tod < (int64_t)n->start * TS_US_PER_SEC ||
	       tod + len > (int64_t)n->end * TS_US_PER_SEC;
}

/* Node i of the condition, with SQL's three-valued and, or, not. */
static int eval_node(struct check *c, int i, const struct tick *t)
{
	const struct expr_node *n = &c->nodes[i];
	switch (n->kind) {
	case EX_OR: {
		int a = eval_node(c, n->a, t);
		if (a == 1)
			return 1;
		int b = eval_node(c, n->b, t);
		return b == 1 ? 1 : a < 0 || b < 0 ? -1 : 0;
	}
	case EX_AND: {
		int a = eval_node(c, n->a, t);
		if (a == 0)
			return 0;
		int b = eval_node(c, n->b, t);
		return b == 0 ? 0 : a < 0 || b < 0 ? -1 : 1;
	}
	case EX_NOT: {
		int a = eval_node(c, n->a, t);
		return a < 0 ? -1 : !a;
	}
	default:
		return eval_leaf(c, n, t);
	}
}

int checks_rows(struct checks *cs, const struct tick *t)
{
	int first = -1;
	for (size_t k = 0; k < cs->nrules; k++) {
		struct check *c = &cs->v[cs->rules[k]];
		const struct expr_node *root = &c->nodes[c->root];
		/* Most rules are one comparison or one predicate: no tree walk for them. */
		int r = root->kind >= EX_CMP ? eval_leaf(c, root, t) : eval_node(c, c->root, t);
		if (r != 1)
			continue;
		c->count++;
		if (first < 0)
			first = cs->rules[k];
	}
	return first;
}

/* Batch metrics ---------------------------------------------------------------------- */

/* Is string s, or value v, among the n of a list? */
static int str_listed(const char *s, const char (*list)[16], int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

static int value_listed(dec128 v, const dec128 *list, int n)
{
	for (int i = 0; i < n; i++)
		if (list[i] == v)
			return 1;
	return 0;
}

/*
 * Is t's value of c's column (not null) one of c's missing values, or
 * matched by its missing regex or missing format?
 */
static int listed(const struct check *c, const struct tick *t)
{
	if (c->col == 0 || c->col == 1 || c->col == 11) {
		const char *s = col_str(t, c->col);
		return s && ((c->nvalues && str_listed(s, c->svalues, c->nvalues)) ||
		             (c->has_missing_re && regexec(&c->missing_re, s, 0, NULL, 0) == 0) ||
		             (c->missing_fmt && regexec(c->missing_fmt, s, 0, NULL, 0) == 0));
	}
	dec128 v;
	return col_get(t, c->col, &v) && value_listed(v, c->values, c->nvalues);
}

/* The characters of UTF-8 text (its bytes that do not continue a sequence). */
static int chars(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static int is_invalid(const struct check *c, const struct tick *t)
{
	if (c->col == 0 || c->col == 1 || c->col == 11) {
		const char *s = col_str(t, c->col);
		if (!s)
			return 0; /* missing, not invalid */
		if ((c->nvalues && !str_listed(s, c->svalues, c->nvalues)) ||
		    str_listed(s, c->isvalues, c->ninvalid))
			return 1;
		if (c->valid_len >= 0 || c->valid_min_len >= 0 || c->valid_max_len >= 0) {
			int n = chars(s);
			if ((c->valid_len >= 0 && n != c->valid_len) ||
			    (c->valid_min_len >= 0 && n < c->valid_min_len) ||
			    (c->valid_max_len >= 0 && n > c->valid_max_len))
				return 1;
		}
		if ((c->has_valid_re && regexec(&c->valid_re, s, 0, NULL, 0) != 0) ||
		    (c->valid_fmt && regexec(c->valid_fmt, s, 0, NULL, 0) != 0))
			return 1;
		return (c->has_invalid_re && regexec(&c->invalid_re, s, 0, NULL, 0) == 0) ||
		       (c->invalid_fmt && regexec(c->invalid_fmt, s, 0, NULL, 0) == 0);
	}
	dec128 v;
	if (!col_get(t, c->col, &v))
		return 0;
	if ((c->has_valid_min && v < c->valid_min) || (c->has_valid_max && v > c->valid_max))
		return 1;
	return value_listed(v, c->ivalues, c->ninvalid) ||
	       (c->nvalues && !value_listed(v, c->values, c->nvalues));
}

/*
 * The duplicate key of t: its group bytes, and its ordered value when there
 * is one; -1 when one of the key's columns is null (such a record has no
 * key, as SodaCL's duplicate_count leaves it out).
 */
static ssize_t dup_key(const struct check *c, const struct tick *t, unsigned char *k, int *ordered,
                       int64_t *value)
{
	size_t n = 0;
	dec128 v = 0;
	*ordered = 0;
	for (int i = 0; i < c->ncols; i++) {
		int col = c->cols[i];
		if (t->nulls & (1u << col))
			return -1;
		if (col == c->order_col && col_get(t, col, &v)) {
			*ordered = 1;
			*value = (int64_t)v;
			continue;
		}
		if (col == 1) {
			k[n++] = t->interval;
		} else if (col == 0 || col == 11) {
			const char *s = col_str(t, col);
			size_t len = strnlen(s, 16);
			k[n++] = (unsigned char)len;
			memcpy(k + n, s, len);
			n += len;
		} else {
			col_get(t, col, &v);
			int64_t x = (int64_t)v;
			memcpy(k + n, &x, sizeof x);
			n += sizeof x;
		}
	}
	return (ssize_t)n;
}

/*
 * Keep value v of a percentile, its array grown within the budget shared
 * with the duplicate counts; a value that finds no room marks the check
 * overflowed (its percentile is then unknown).
 */
static void keep_value(struct check *c, struct keyset_budget *b, int64_t v)
{
	if (c->values_overflowed)
		return;
	if (c->nvalues_kept == c->values_cap) {
		size_t want = c->values_cap ? c->values_cap * 2 : 1024;
		size_t room = b->limit > b->used ? (b->limit - b->used) / sizeof v : 0;
		if (want - c->values_cap > room)
			want = c->values_cap + room;
		int64_t *grown = want > c->values_cap ? realloc(c->kept, want * sizeof v) : NULL;
		if (!grown) {
			c->values_overflowed = 1;
			return;
		}
		b->used += (want - c->values_cap) * sizeof v;
		c->kept = grown;
		c->values_cap = want;
	}
	c->kept[c->nvalues_kept++] = v;
}

void checks_take(struct checks *cs, const struct tick *t, uint16_t present)
{
	for (size_t k = 0; k < cs->nmetrics; k++) {
		struct check *c = &cs->v[cs->metrics[k]];
		dec128 v;
		c->rows += c->percent;
		switch (c->kind) {
		case CK_ROW_COUNT:
			c->count++;
			break;
		case CK_MISSING:
			if ((t->nulls & (1u << c->col)) ||
			    ((c->nvalues || c->has_missing_re || c->missing_fmt) && listed(c, t)))
				c->count++;
			break;
		case CK_INVALID:
			if (is_invalid(c, t))
				c->count++;
			break;
		case CK_DUPLICATE: {
			unsigned char key[KEYSET_GROUP_MAX];
			int ordered;
			int64_t value = 0;
			ssize_t n = dup_key(c, t, key, &ordered, &value);
			/*
			 * Keys that occur more than once, each counted once (its
			 * second occurrence), as SodaCL counts them: A, A, A is one.
			 */
			if (n >= 0 &&
			    keyset_add(c->keys, key, (size_t)n, ordered, value) ==
			        KEYSET_DUPLICATE &&
			    keyset_add(c->dups, key, (size_t)n, ordered, value) == KEYSET_NEW)
				c->count++;
			break;
		}
		case CK_MIN:
			if (col_get(t, c->col, &v) && (!c->has_agg || v < c->agg)) {
				c->agg = v;
				c->has_agg = 1;
			}
			break;
		case CK_MAX:
		case CK_FRESHNESS:
			if (col_get(t, c->col, &v) && (!c->has_agg || v > c->agg)) {
				c->agg = v;
				c->has_agg = 1;
			}
			break;
		case CK_AVG:
		case CK_SUM:
			/* Values of 38 digits at most: a sum of int64s or of prices at scale 6 fits. */
			if (col_get(t, c->col, &v)) {
				c->agg = c->has_agg ? c->agg + v : v;
				c->has_agg = 1;
				c->rows++;
			}
			break;
		case CK_STDDEV:
		case CK_STDDEV_POP:
		case CK_STDDEV_SAMP:
		case CK_VARIANCE:
		case CK_VAR_POP:
		case CK_VAR_SAMP:
			/* The count, sum and sum of squares: exact, judged in checks_judge(). */
			if (col_get(t, c->col, &v)) {
				unsigned __int128 sq = (unsigned __int128)(v < 0 ? -v : v);
				sq *= sq; /* |v| <= 2^63: at most 2^126 */
				c->squares_lo += sq;
				c->squares_hi += c->squares_lo < sq;
				c->agg += v;
				c->has_agg = 1;
				c->rows++;
			}
			break;
		case CK_PERCENTILE:
			if (col_get(t, c->col, &v)) {
				keep_value(c, &cs->budget, (int64_t)v);
				c->has_agg = 1;
				c->rows++;
			}
			break;
		case CK_AVG_LENGTH:
		case CK_MIN_LENGTH:
		case CK_MAX_LENGTH: {
			const char *s = col_str(t, c->col);
			if (!s)
				break;
			int n = chars(s);
			if (c->kind == CK_AVG_LENGTH)
				c->agg += n;
			else if (!c->has_agg ||
			         (c->kind == CK_MIN_LENGTH ? n < c->agg : n > c->agg))
				c->agg = n;
			c->has_agg = 1;
			c->rows++;
			break;
		}
		case CK_SCHEMA: {
			uint16_t missing = c->required & (uint16_t)~present;
			if (missing) {
				c->count++;
				c->missing_cols |= missing;
			}
			break;
		}
		default:
			break;
		}
	}
}

void checks_reset(struct checks *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		struct check *c = &cs->v[i];
		c->count = 0;
		c->rows = 0;
		c->agg = 0;
		c->has_agg = 0;
		c->missing_cols = 0;
		c->squares_lo = c->squares_hi = 0;
		if (c->kept) {
			cs->budget.used -= c->values_cap * sizeof *c->kept;
			free(c->kept);
			c->kept = NULL;
		}
		c->nvalues_kept = c->values_cap = 0;
		c->values_overflowed = 0;
		if (c->keys)
			keyset_clear(c->keys);
		if (c->dups)
			keyset_clear(c->dups);
	}
}

/*
 * v + e against t, where e is less than half of v's last digit and rest is
 * its sign: the order of a metric that v only rounds (an average) and of a
 * threshold that has no more digits than v.  Soda compares the metric's
 * own value, not its rounding: an average of 10.3333333... is above 10.333333.
 */
static int cmp_rest(dec128 v, int rest, dec128 t)
{
	return v < t ? -1 : v > t ? 1 : rest;
}

/* Does the value v + e (see cmp_rest()) meet k? */
static int cond_holds(const struct check_cond *k, dec128 v, int rest)
{
	int a = cmp_rest(v, rest, k->a);
	switch (k->op) {
	case OP_BETWEEN:
		return a >= 0 && cmp_rest(v, rest, k->b) <= 0;
	case OP_NOT_BETWEEN:
		return a < 0 || cmp_rest(v, rest, k->b) > 0;
	default:
		return cmp_holds(k->op, a, 0);
	}
}

/* Is column col a decimal at scale 6 (the prices)? */
static int price_column(int col)
{
	return col >= 4 && col <= 7;
}

/* num / den rounded half away from zero (den > 0). */
static dec128 div_round(dec128 num, int64_t den)
{
	dec128 q = num / den, r = num % den;
	if (2 * (r < 0 ? -r : r) >= den)
		q += num < 0 ? -1 : 1;
	return q;
}

/* The sign of num / den - q, for q = div_round(num, den). */
static int div_rest(dec128 num, int64_t den, dec128 q)
{
	dec128 d = num - q * den;
	return (d > 0) - (d < 0);
}

/*
 * Unsigned integers of 512 bits, for the variances: n times a sum of
 * squares takes up to 254 bits, and rounding a square root exactly squares
 * it again.  Slow and simple; they run once per check and batch.
 */
#define BIG_WORDS 16
struct big {
	uint32_t w[BIG_WORDS]; /* least significant first */
};

static struct big big_of(unsigned __int128 x)
{
	struct big a;
	memset(&a, 0, sizeof a);
	for (int i = 0; i < 4; i++, x >>= 32)
		a.w[i] = (uint32_t)x;
	return a;
}

static int big_cmp(const struct big *a, const struct big *b)
{
	for (int i = BIG_WORDS - 1; i >= 0; i--)
		if (a->w[i] != b->w[i])
			return a->w[i] < b->w[i] ? -1 : 1;
	return 0;
}

static struct big big_add(const struct big *a, const struct big *b)
{
	struct big r;
	uint64_t carry = 0;
	for (int i = 0; i < BIG_WORDS; i++) {
		carry += (uint64_t)a->w[i] + b->w[i];
		r.w[i] = (uint32_t)carry;
		carry >>= 32;
	}
	return r;
}

/* a - b, for a >= b */
static struct big big_sub(const struct big *a, const struct big *b)
{
	struct big r;
	int64_t borrow = 0;
	for (int i = 0; i < BIG_WORDS; i++) {
		int64_t d = (int64_t)a->w[i] - b->w[i] - borrow;
		borrow = d < 0;
		r.w[i] = (uint32_t)(d + (borrow << 32));
	}
	return r;
}

/* a * b, for products below 2^512 */
static struct big big_mul(const struct big *a, const struct big *b)
{
	struct big r;
	memset(&r, 0, sizeof r);
	for (int i = 0; i < BIG_WORDS; i++) {
		uint64_t carry = 0;
		for (int j = 0; i + j < BIG_WORDS; j++) {
			carry += (uint64_t)a->w[i] * b->w[j] + r.w[i + j];
			r.w[i + j] = (uint32_t)carry;
			carry >>= 32;
		}
	}
	return r;
}

/* a / b and a % b (b > 0), a bit at a time. */
static struct big big_div(const struct big *a, const struct big *b, struct big *rem)
{
	struct big q, r;
	memset(&q, 0, sizeof q);
	memset(&r, 0, sizeof r);
	for (int bit = BIG_WORDS * 32 - 1; bit >= 0; bit--) {
		for (int i = BIG_WORDS - 1; i > 0; i--)
			r.w[i] = r.w[i] << 1 | r.w[i - 1] >> 31;
		r.w[0] = r.w[0] << 1 | (a->w[bit / 32] >> (bit % 32) & 1);
		if (big_cmp(&r, b) >= 0) {
			r = big_sub(&r, b);
			q.w[bit / 32] |= 1u << (bit % 32);
		}
	}
	*rem = r;
	return q;
}

/* floor(sqrt(a)), for a below 2^300. */
static struct big big_sqrt(const struct big *a)
{
	struct big root = big_of(0);
	for (int bit = 150; bit >= 0; bit--) {
		struct big c = root;
		c.w[bit / 32] |= 1u << (bit % 32);
		struct big sq = big_mul(&c, &c);
		if (big_cmp(&sq, a) <= 0)
			root = c;
	}
	return root;
}

/* a as a metric value; 0 when a is beyond 38 digits (*v is then the largest value). */
static int big_value(const struct big *a, dec128 *v)
{
	dec128 max = dec_pow10(DEC_MAX_PRECISION) - 1;
	struct big m = big_of((unsigned __int128)max);
	if (big_cmp(a, &m) > 0) {
		*v = max;
		return 0;
	}
	unsigned __int128 x = 0;
	for (int i = 3; i >= 0; i--)
		x = x << 32 | a->w[i];
	*v = (dec128)x;
	return 1;
}

/*
 * The variance or standard deviation of c's values at scale 6, rounded
 * half away from zero (they are never negative), from their count n, sum
 * S and sum of squares Q: the population variance is (nQ - S^2) / n^2,
 * the sample variance (nQ - S^2) / (n(n - 1)).  *rest is the sign of the
 * exact value minus *value.  0 when the value does not fit 38 digits.
 */
static int moment(const struct check *c, dec128 *value, int *rest)
{
	int root = c->kind <= CK_STDDEV_SAMP;
	int pop = c->kind == CK_STDDEV_POP || c->kind == CK_VAR_POP;
	unsigned __int128 n = (unsigned __int128)c->rows;
	struct big bn = big_of(n), sum = big_of((unsigned __int128)(c->agg < 0 ? -c->agg : c->agg));
	struct big squares = big_of(c->squares_hi), lo = big_of(c->squares_lo);
	squares = big_mul(&squares, &(struct big){.w = {0, 0, 0, 0, 1}});
	squares = big_add(&squares, &lo);
	struct big nq = big_mul(&bn, &squares), s2 = big_mul(&sum, &sum);
	struct big num = big_cmp(&nq, &s2) > 0 ? big_sub(&nq, &s2) : big_of(0);
	struct big den = big_of(pop ? n * n : n * (n - 1));
	/*
	 * Values are in the column's unit: 10^-6 for prices, 1 for integers.
	 * A price variance in 10^-12 is num/den, its square root in 10^-6;
	 * an integer's is scaled up by 10^12 for its root at scale 6, by 10^6
	 * for the variance itself at scale 6.
	 */
	int ints = !price_column(c->col);
	struct big rem, q;
	if (root) {
		if (ints) {
			struct big m12 = big_of((unsigned __int128)1000000000000);
			num = big_mul(&num, &m12);
		}
		q = big_div(&num, &den, &rem);
		struct big k = big_sqrt(&q);
		/* sqrt(num/den) >= k + 1/2 exactly when 4 num >= (2k + 1)^2 den */
		struct big two = big_of(2), one = big_of(1), four = big_of(4);
		struct big odd = big_mul(&k, &two);
		odd = big_add(&odd, &one);
		struct big lhs = big_mul(&num, &four), rhs = big_mul(&odd, &odd);
		rhs = big_mul(&rhs, &den);
		if (big_cmp(&lhs, &rhs) >= 0)
			k = big_add(&k, &one);
		/* sqrt(num/den) against k: num against k^2 den */
		struct big k2 = big_mul(&k, &k);
		k2 = big_mul(&k2, &den);
		*rest = big_cmp(&num, &k2);
		return big_value(&k, value);
	}
	struct big m6 = big_of(1000000);
	if (ints)
		num = big_mul(&num, &m6);
	else
		den = big_mul(&den, &m6);
	q = big_div(&num, &den, &rem);
	struct big twice = big_add(&rem, &rem), zero = big_of(0);
	*rest = big_cmp(&rem, &zero) > 0;
	if (big_cmp(&twice, &den) >= 0) {
		struct big one = big_of(1);
		q = big_add(&q, &one);
		*rest = -1;
	}
	return big_value(&q, value);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/*
 * PostgreSQL's percentile_disc(f): the k-th smallest of the n values, k =
 * ceil(f n), at least 1.  The fraction is exact here (PostgreSQL's float8
 * may round f n up past a whole number).
 */
static int64_t percentile(struct check *c)
{
	size_t n = c->nvalues_kept;
	qsort(c->kept, n, sizeof *c->kept, cmp_i64);
	unsigned __int128 fn = (unsigned __int128)c->fraction * n;
	unsigned __int128 one = 1000000000000000000;
	size_t k = (size_t)((fn + one - 1) / one);
	return c->kept[k > 0 ? k - 1 : 0];
}

/*
 * count as a percentage of rows, at scale 6, as Soda computes it and then
 * judges it: count * 100 / rows in double precision (Python's division of
 * two integers), rounded to two decimals by Python's round(), which rounds
 * the double's exact binary value, a tie to the even hundredth (1 in 800,
 * 0.125, is 0.12).  printf's %.2f rounds the same way.
 */
static dec128 soda_percent(int64_t count, int64_t rows)
{
	char text[64];
	dec128 v;
	struct err_msg e;
	int n = snprintf(text, sizeof text, "%.2f", (double)(count * 100) / (double)rows);
	if (n < 0 || (size_t)n >= sizeof text || dec_parse(text, (size_t)n, 38, 6, &v, &e) < 0)
		return 0;
	return v;
}

static int is_moment(int kind)
{
	return kind >= CK_STDDEV && kind <= CK_VAR_SAMP;
}

int checks_judge(struct check *c, int64_t now, dec128 *value, int *has_value, int *exact)
{
	*exact =
	    !((c->keys && keyset_overflowed(c->keys)) || (c->dups && keyset_overflowed(c->dups)));
	*has_value = 1;
	int rest = 0; /* the sign of the metric's exact value minus *value */
	switch (c->kind) {
	case CK_MIN:
	case CK_MAX:
	case CK_SUM:
		*value = c->agg;
		*has_value = c->has_agg;
		break;
	case CK_AVG:
		/* At scale 6 whatever the column's: an average of integers has a fraction. */
		*has_value = c->has_agg;
		if (c->has_agg) {
			dec128 sum = price_column(c->col) ? c->agg : c->agg * 1000000;
			*value = div_round(sum, c->rows);
			rest = div_rest(sum, c->rows, *value);
		}
		break;
	case CK_FRESHNESS:
		/*
		 * No value to measure from fails, as in Soda (its freshness
		 * check fails on a max() that is null): data that never came
		 * is not fresh.
		 */
		if (!c->has_agg) {
			*has_value = 0;
			*value = 0;
			return OUT_FAIL;
		}
		*value = (dec128)now - c->agg;
		break;
	case CK_STDDEV:
	case CK_STDDEV_POP:
	case CK_STDDEV_SAMP:
	case CK_VARIANCE:
	case CK_VAR_POP:
	case CK_VAR_SAMP:
		/* A sample statistic of one value is undefined (null in PostgreSQL). */
		*has_value = c->rows >= (c->kind == CK_STDDEV_POP || c->kind == CK_VAR_POP ? 1 : 2);
		if (*has_value)
			*exact = moment(c, value, &rest);
		break;
	case CK_PERCENTILE:
		if (c->values_overflowed) {
			/* Past --key-memory there is no value, and no reason to pass. */
			*has_value = 0;
			*exact = 0;
			*value = 0;
			return OUT_WARN;
		}
		*has_value = c->has_agg;
		if (c->has_agg)
			*value = percentile(c);
		break;
	case CK_AVG_LENGTH:
		*has_value = c->has_agg;
		if (c->has_agg) {
			*value = div_round(c->agg * 1000000, c->rows);
			rest = div_rest(c->agg * 1000000, c->rows, *value);
		}
		break;
	case CK_MIN_LENGTH:
	case CK_MAX_LENGTH:
		*value = c->agg;
		*has_value = c->has_agg;
		break;
	default:
		*value = c->count;
		/* A percentage of no rows is 0, as of rows none of which counts. */
		if (c->percent)
			*value = c->rows ? soda_percent(c->count, c->rows) : 0;
		break;
	}
	if (!*has_value)
		return OUT_SKIPPED;
	int outcome = OUT_PASS;
	if (c->kind == CK_SCHEMA)
		outcome = c->count > 0 ? c->required_level : OUT_PASS;
	else if (c->has_inline)
		outcome = cond_holds(&c->inline_cond, *value, rest) ? OUT_PASS : OUT_FAIL;
	else if (c->has_fail && cond_holds(&c->fail, *value, rest))
		outcome = OUT_FAIL;
	else if (c->has_warn && cond_holds(&c->warn, *value, rest))
		outcome = OUT_WARN;
	/* A lower bound that passes proves nothing: say so. */
	if (!*exact && outcome == OUT_PASS)
		outcome = OUT_WARN;
	return outcome;
}

/* Report values ------------------------------------------------------------------------ */

static void put_ts(struct buf *out, int64_t us)
{
	char text[TS_TEXT_MAX];
	buf_putc(out, '"');
	buf_append(out, text, ts_format_rfc3339(us, text));
	buf_putc(out, '"');
}

static void put_date(struct buf *out, int64_t days)
{
	char text[TS_TEXT_MAX];
	buf_putc(out, '"');
	buf_append(out, text, ts_format_date(days, text));
	buf_putc(out, '"');
}

void checks_put_value(struct buf *out, const struct tick *t, int col)
{
	dec128 v;
	char text[DEC_TEXT_MAX];
	if (col == 0 || col == 1 || col == 11) {
		const char *s = col_str(t, col);
		if (s)
			buf_json_str(out, s, strlen(s));
		else
			buf_puts(out, "null");
		return;
	}
	if (!col_get(t, col, &v)) {
		buf_puts(out, "null");
		return;
	}
	if (col == 2 || col == 10)
		put_ts(out, (int64_t)v);
	else if (col == 3)
		put_date(out, (int64_t)v);
	else if (price_column(col))
		buf_append(out, text, dec_format(v, 6, text));
	else
		buf_i64(out, (int64_t)v);
}

/* A duration as "1d2h3m4.5s" ("0s" for none). */
static void put_duration(struct buf *out, dec128 v)
{
	char text[96];
	int n = 0;
	if (v < 0) {
		text[n++] = '-';
		v = -v;
	}
	int64_t us = v > INT64_MAX ? INT64_MAX : (int64_t)v;
	int64_t d = us / TS_US_PER_DAY, h = us / 3600000000LL % 24, m = us / 60000000LL % 60;
	int64_t s = us / TS_US_PER_SEC % 60, f = us % TS_US_PER_SEC;
	if (d)
		n += snprintf(text + n, sizeof text - (size_t)n, "%lldd", (long long)d);
	if (h)
		n += snprintf(text + n, sizeof text - (size_t)n, "%lldh", (long long)h);
	if (m)
		n += snprintf(text + n, sizeof text - (size_t)n, "%lldm", (long long)m);
	if (s || f || (!d && !h && !m)) {
		n += snprintf(text + n, sizeof text - (size_t)n, "%lld", (long long)s);
		if (f) {
			n += snprintf(text + n, sizeof text - (size_t)n, ".%06lld", (long long)f);
			while (text[n - 1] == '0')
				n--;
		}
		text[n++] = 's';
	}
	buf_json_str(out, text, (size_t)n);
}

void checks_put_metric(struct buf *out, const struct check *c, dec128 v, int has_value)
{
	char text[DEC_TEXT_MAX];
	if (!has_value) {
		buf_puts(out, "null");
		return;
	}
	if (c->kind == CK_FRESHNESS) {
		put_duration(out, v);
		return;
	}
	if (c->percent || c->kind == CK_AVG || c->kind == CK_AVG_LENGTH || is_moment(c->kind)) {
		buf_append(out, text, dec_format(v, 6, text));
		return;
	}
	if (c->kind != CK_MIN && c->kind != CK_MAX && c->kind != CK_SUM &&
	    c->kind != CK_PERCENTILE) {
		buf_i64(out, (int64_t)v);
		return;
	}
	if (c->col == 2 || c->col == 10)
		put_ts(out, (int64_t)v);
	else if (c->col == 3)
		put_date(out, (int64_t)v);
	else if (price_column(c->col))
		buf_append(out, text, dec_format(v, 6, text));
	else
		buf_append(out, text, dec_format(v, 0, text));
}

const char *checks_metric_name(const struct check *c)
{
	if (c->percent)
		return c->kind == CK_MISSING   ? "missing_percent"
		       : c->kind == CK_INVALID ? "invalid_percent"
		                               : "duplicate_percent";
	static const char *const names[] = {
	    [CK_ROW_COUNT] = "row_count",
	    [CK_MISSING] = "missing_count",
	    [CK_INVALID] = "invalid_count",
	    [CK_DUPLICATE] = "duplicate_count",
	    [CK_FRESHNESS] = "freshness",
	    [CK_MIN] = "min",
	    [CK_MAX] = "max",
	    [CK_SCHEMA] = "schema",
	    [CK_FAILED_ROWS] = "failed_rows",
	    [CK_AVG] = "avg",
	    [CK_SUM] = "sum",
	    [CK_STDDEV] = "stddev",
	    [CK_STDDEV_POP] = "stddev_pop",
	    [CK_STDDEV_SAMP] = "stddev_samp",
	    [CK_VARIANCE] = "variance",
	    [CK_VAR_POP] = "var_pop",
	    [CK_VAR_SAMP] = "var_samp",
	    [CK_PERCENTILE] = "percentile",
	    [CK_AVG_LENGTH] = "avg_length",
	    [CK_MIN_LENGTH] = "min_length",
	    [CK_MAX_LENGTH] = "max_length",
	};
	return names[c->kind];
}

const char *checks_outcome_name(int outcome)
{
	static const char *const names[] = {"pass", "skipped", "warn", "fail"};
	return names[outcome];
}

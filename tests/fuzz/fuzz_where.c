/*
 * Fuzz target: --where expressions (common/delta/delta_where.c).
 * The input is an expression, then a NUL and the stats JSON of a data
 * file.  Each predicate is bound to a column of a fixed schema with one
 * column of every primitive type (by name, or by the name's length when
 * none has it), tested against a few values, and its file pruned by the
 * stats; pruning may never drop a file that holds a value the predicate
 * accepts, so the literal itself, when it is in the file's bounds, must
 * not be pruned away.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delta/delta_where.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One column of each primitive type, named by the type. */
static const int types[] = {DT_STRING,    DT_LONG,          DT_INTEGER, DT_SHORT,  DT_BYTE,
                            DT_FLOAT,     DT_DOUBLE,        DT_BOOLEAN, DT_BINARY, DT_DATE,
                            DT_TIMESTAMP, DT_TIMESTAMP_NTZ, DT_DECIMAL, DT_VOID};
#define NFIELDS (sizeof types / sizeof types[0])
static char names[NFIELDS][4] = {"s",  "l",   "i",  "sh", "by",  "f",   "d",
                                 "bo", "bin", "dt", "ts", "ntz", "dec", "v"};
static struct delta_field fields[NFIELDS];

static const struct delta_field *column(const char *name)
{
	if (!fields[0].name)
		for (size_t i = 0; i < NFIELDS; i++)
			fields[i] =
			    (struct delta_field){.name = names[i],
			                         .type = types[i],
			                         .precision = types[i] == DT_DECIMAL ? 18 : 0,
			                         .scale = types[i] == DT_DECIMAL ? 6 : 0,
			                         .nullable = 1};
	for (size_t i = 0; i < NFIELDS; i++)
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	return &fields[strlen(name) % NFIELDS];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t elen = nul ? (size_t)(nul - data) : size;
	char *expr = malloc(elen + 1);
	char *stats = nul ? malloc(size - elen) : NULL;
	if (!expr || (nul && !stats))
		abort();
	memcpy(expr, data, elen);
	expr[elen] = '\0';
	if (nul) {
		memcpy(stats, nul + 1, size - elen - 1);
		stats[size - elen - 1] = '\0';
	}
	struct delta_where w;
	struct err_msg e;
	memset(&w, 0, sizeof w);
	if (delta_where_parse(expr, &w, &e) == 0) {
		for (size_t i = 0; i < w.n; i++) {
			w.p[i].f = column(w.p[i].column);
			w.p[i].col = (int)i;
		}
		if (delta_where_bind(&w, &e) == 0) {
			struct delta_cell null_cell = {.null = 1, .s = ""};
			struct delta_cell zero = {.s = ""};
			struct delta_bounds *b = calloc(w.n ? w.n : 1, sizeof *b);
			struct buf *scratch = calloc(w.n ? w.n : 1, sizeof *scratch);
			if (!b || !scratch)
				abort();
			delta_where_stats_bounds(stats, &w, b, scratch);
			for (size_t i = 0; i < w.n; i++) {
				const struct delta_pred *p = &w.p[i];
				delta_pred_test(p, &null_cell);
				delta_pred_test(p, &zero);
				int holds = delta_pred_test(p, &p->v);
				/* A file whose only value is the literal itself holds it. */
				struct delta_bounds one = {.has_lo = 1,
				                           .has_hi = 1,
				                           .lo = p->v,
				                           .hi = p->v,
				                           .nulls = 0,
				                           .rows = 1};
				if (p->op != DELTA_OP_ISNULL && p->op != DELTA_OP_NOTNULL &&
				    holds == 1 && !delta_pred_may_match(p, &one))
					abort();
				delta_pred_may_match(p, &b[i]);
				buf_free(&scratch[i]);
			}
			free(b);
			free(scratch);
		}
	}
	delta_where_free(&w);
	free(expr);
	free(stats);
	return 0;
}

/*
 * pqbench: the Parquet writer and reader timed on tick rows, for
 * bench/parquet.sh (built by "make bench", not installed).
 *
 *   pqbench write FILE ROWS [--stream] [--by-symbol] [--rows-per-group N]
 *                 [--level L] [--codec zstd|snappy|none] [--v2] [--threads N]
 *                 [--no-crc] [--force LEAF ENCODING]...
 *   pqbench read FILE [--threads N]
 *
 * The rows are those of tests/helpers/gen-ticks (the same generator, the
 * same seed): four symbols in turn, one-minute bars, random-walk prices
 * (with --by-symbol, each symbol's trading day in one run, as av-fetch
 * delivers them).
 * write generates them in memory first and times only the writer, which
 * gets them in column batches of 65536 rows; with --stream it generates
 * each batch just before writing it, so that peak memory is the writer's
 * own; --no-crc leaves out the page and footer checksums that the writer
 * writes by default.  It prints "SECONDS BYTES CPU_SECONDS".  read reads
 * every column of every row group with the columnar reader (row groups
 * shared among the threads), verifying the checksums the file has, and
 * prints "SECONDS ROWS CHECKSUM CPU_SECONDS".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "parquet/parquet.h"

#define BATCH 65536

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static double cpu(void)
{
	return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static void die(const char *what)
{
	fprintf(stderr, "pqbench: %s\n", what);
	exit(70);
}

/* Column arrays of a run of rows. */
struct cols {
	struct pq_bytes *symbol, *interval, *source;
	int64_t *ts, *open, *high, *low, *close, *volume, *batch, *ingested;
	int32_t *date;
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

static void cols_alloc(struct cols *c, size_t n)
{
	c->symbol = xmalloc(n * sizeof *c->symbol);
	c->interval = xmalloc(n * sizeof *c->interval);
	c->source = xmalloc(n * sizeof *c->source);
	c->ts = xmalloc(n * 8);
	c->open = xmalloc(n * 8);
	c->high = xmalloc(n * 8);
	c->low = xmalloc(n * 8);
	c->close = xmalloc(n * 8);
	c->volume = xmalloc(n * 8);
	c->batch = xmalloc(n * 8);
	c->ingested = xmalloc(n * 8);
	c->date = xmalloc(n * 4);
}

/* The generator state of gen-ticks. */
struct gen {
	int64_t seed, price[5];
	int minute, day, s, nsym;
	int by_symbol; /* one symbol's day at a time, as av-fetch delivers them */
};

static const char *const names[] = {"", "NVDA", "TSLA", "IBM", "AAPL"};

static void gen_init(struct gen *g)
{
	memset(g, 0, sizeof *g);
	g->nsym = 4;
	for (int s = 1; s <= g->nsym; s++)
		g->price[s] = 1000000 + s * 250000;
	g->seed = 12345;
	g->day = 20241;
	g->s = 1;
}

/* Rows at..at+n of the columns (prices at four decimals, stored at six). */
static void gen_rows(struct gen *g, struct cols *c, size_t at, size_t n)
{
	static const struct pq_bytes iv = {(const uint8_t *)"1min", 4};
	static const struct pq_bytes src = {(const uint8_t *)"alphavantage", 12};
	for (size_t i = at; i < at + n; i++) {
		g->seed = (g->seed * 1103515245 + 12345) % 2147483648LL;
		int s = g->s;
		int64_t o = g->price[s], cl = o + g->seed % 401 - 200;
		if (cl < 100)
			cl = 100;
		int64_t h = (o > cl ? o : cl) + g->seed % 37, l = (o < cl ? o : cl) - g->seed % 29;
		if (l < 50)
			l = 50;
		g->price[s] = cl;
		c->symbol[i].p = (const uint8_t *)names[s];
		c->symbol[i].len = strlen(names[s]);
		c->interval[i] = iv;
		c->source[i] = src;
		int64_t day_us = (int64_t)g->day * 86400000000LL;
		c->ts[i] = day_us + (int64_t)(13 * 60 + 30 + g->minute) * 60000000LL;
		c->date[i] = g->day;
		c->open[i] = o * 100;
		c->high[i] = h * 100;
		c->low[i] = l * 100;
		c->close[i] = cl * 100;
		c->volume[i] = 1000 + g->seed % 100000;
		c->batch[i] = 1750000000000000LL;
		c->ingested[i] = day_us + 72300123456LL;
		if (g->by_symbol) {
			if (++g->minute == 390) {
				g->minute = 0;
				if (++g->s > g->nsym) {
					g->s = 1;
					g->day++;
				}
			}
		} else if (++g->s > g->nsym) {
			g->s = 1;
			if (++g->minute == 390) {
				g->minute = 0;
				g->day++;
			}
		}
	}
}

static struct pq_schema *tick_schema(void)
{
	struct pq_schema *s = pq_schema_new();
	pq_schema_add(s, PQ_ROOT, "symbol", PQ_STRING, 1);
	pq_schema_add(s, PQ_ROOT, "interval", PQ_STRING, 1);
	pq_schema_add(s, PQ_ROOT, "trade_timestamp", PQ_TIMESTAMP, 1);
	pq_schema_add(s, PQ_ROOT, "trade_date", PQ_DATE, 1);
	pq_schema_add_decimal(s, PQ_ROOT, "open", 18, 6, 1);
	pq_schema_add_decimal(s, PQ_ROOT, "high", 18, 6, 1);
	pq_schema_add_decimal(s, PQ_ROOT, "low", 18, 6, 1);
	pq_schema_add_decimal(s, PQ_ROOT, "close", 18, 6, 1);
	pq_schema_add(s, PQ_ROOT, "volume", PQ_LONG, 1);
	pq_schema_add(s, PQ_ROOT, "batch_id", PQ_LONG, 1);
	pq_schema_add(s, PQ_ROOT, "ingested_at", PQ_TIMESTAMP, 1);
	pq_schema_add(s, PQ_ROOT, "source", PQ_STRING, 1);
	return s;
}

static void write_batch(struct pq_writer *w, const struct cols *c, size_t at, size_t n)
{
	int rc = pq_writer_write_bytes(w, 0, c->symbol + at, NULL, n) |
	         pq_writer_write_bytes(w, 1, c->interval + at, NULL, n) |
	         pq_writer_write_i64(w, 2, c->ts + at, NULL, n) |
	         pq_writer_write_i32(w, 3, c->date + at, NULL, n) |
	         pq_writer_write_i64(w, 4, c->open + at, NULL, n) |
	         pq_writer_write_i64(w, 5, c->high + at, NULL, n) |
	         pq_writer_write_i64(w, 6, c->low + at, NULL, n) |
	         pq_writer_write_i64(w, 7, c->close + at, NULL, n) |
	         pq_writer_write_i64(w, 8, c->volume + at, NULL, n) |
	         pq_writer_write_i64(w, 9, c->batch + at, NULL, n) |
	         pq_writer_write_i64(w, 10, c->ingested + at, NULL, n) |
	         pq_writer_write_bytes(w, 11, c->source + at, NULL, n);
	if (rc < 0 || pq_writer_end_row(w) < 0)
		die(pq_writer_error(w)->text);
}

static int cmd_write(int argc, char **argv)
{
	if (argc < 2)
		die("write FILE ROWS [options]");
	const char *file = argv[0];
	size_t rows = strtoull(argv[1], NULL, 10);
	int stream = 0, by_symbol = 0, nforce = 0, force_leaf[16], force_enc[16];
	struct pq_write_options o;
	pq_write_options_init(&o);
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--stream") == 0)
			stream = 1;
		else if (strcmp(argv[i], "--by-symbol") == 0)
			by_symbol = 1;
		else if (strcmp(argv[i], "--force") == 0 && i + 2 < argc) {
			force_leaf[nforce] = atoi(argv[++i]);
			force_enc[nforce++] = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--v2") == 0)
			o.page_version = 2;
		else if (strcmp(argv[i], "--no-crc") == 0)
			o.no_crc = 1;
		else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
			o.threads = atoi(argv[++i]);
		else if (strcmp(argv[i], "--rows-per-group") == 0 && i + 1 < argc)
			o.row_group_rows = atoll(argv[++i]);
		else if (strcmp(argv[i], "--level") == 0 && i + 1 < argc)
			o.zstd_level = atoi(argv[++i]);
		else if (strcmp(argv[i], "--codec") == 0 && i + 1 < argc) {
			const char *c = argv[++i];
			o.compression = strcmp(c, "snappy") == 0 ? PQ_SNAPPY
			                : strcmp(c, "none") == 0 ? PQ_UNCOMPRESSED
			                                         : PQ_ZSTD;
		} else {
			die("unknown option");
		}
	}
	struct gen g;
	struct cols c;
	gen_init(&g);
	g.by_symbol = by_symbol;
	cols_alloc(&c, stream ? BATCH : rows);
	if (!stream)
		gen_rows(&g, &c, 0, rows);
	struct pq_schema *s = tick_schema();
	struct err_msg e;
	double t0 = now(), c0 = cpu();
	struct pq_writer *w = pq_writer_open(file, s, &o, &e);
	if (!w)
		die(e.text);
	for (int k = 0; k < nforce; k++)
		if (pq_writer_set_encoding(w, force_leaf[k], force_enc[k]) < 0)
			die(pq_writer_error(w)->text);
	for (size_t at = 0; at < rows; at += BATCH) {
		size_t n = rows - at < BATCH ? rows - at : BATCH;
		if (stream) {
			gen_rows(&g, &c, 0, n);
			write_batch(w, &c, 0, n);
		} else {
			write_batch(w, &c, at, n);
		}
	}
	if (pq_writer_close(w) < 0)
		die(pq_writer_error(w)->text);
	double t = now() - t0, ct = cpu() - c0;
	printf("%.3f %llu %.3f\n", t, (unsigned long long)pq_writer_bytes(w), ct);
	pq_writer_free(w);
	pq_schema_free(s);
	return 0;
}

struct reader_job {
	struct pq_reader *r;
	int first, step;
	uint64_t rows, sum;
};

static void *read_groups(void *arg)
{
	struct reader_job *j = arg;
	struct err_msg e;
	const struct pq_schema *s = pq_reader_schema(j->r);
	for (int g = j->first; g < pq_reader_num_row_groups(j->r); g += j->step) {
		for (int l = 0; l < pq_schema_nleaves(s); l++) {
			struct pq_column *c = pq_column_open(j->r, g, l, &e);
			if (!c)
				die(e.text);
			struct pq_column_batch b;
			ssize_t n;
			enum pq_vkind kind =
			    pq_type_kind(pq_schema_field(s, pq_schema_leaf_field(s, l))->type);
			while ((n = pq_column_read(c, &b, 65536, &e)) > 0) {
				uint64_t sum = 0;
				for (ssize_t k = 0; k < n; k++) {
					if (kind == PQ_V_BYTES)
						sum += b.bytes[k].len;
					else if (kind == PQ_V_I64)
						sum += (uint64_t)b.i64[k];
					else if (kind == PQ_V_I32)
						sum += (uint64_t)b.i32[k];
					else if (kind == PQ_V_DEC)
						sum += (uint64_t)b.dec[k];
				}
				j->sum += sum;
				if (l == 0)
					j->rows += (uint64_t)n;
			}
			if (n < 0)
				die(e.text);
			pq_column_close(c);
		}
	}
	return NULL;
}

static int cmd_read(int argc, char **argv)
{
	if (argc < 1)
		die("read FILE [--threads N]");
	int threads = argc >= 3 && strcmp(argv[1], "--threads") == 0 ? atoi(argv[2]) : 1;
	if (threads < 1 || threads > 64)
		die("--threads 1..64");
	struct err_msg e;
	double t0 = now(), c0 = cpu();
	struct pq_reader *r = pq_reader_open(argv[0], NULL, &e);
	if (!r)
		die(e.text);
	struct reader_job jobs[64];
	pthread_t tid[64];
	for (int t = 0; t < threads; t++) {
		jobs[t] = (struct reader_job){r, t, threads, 0, 0};
		if (pthread_create(&tid[t], NULL, read_groups, &jobs[t]) != 0)
			die("cannot start a thread");
	}
	uint64_t rows = 0, sum = 0;
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		rows += jobs[t].rows;
		sum += jobs[t].sum;
	}
	double t = now() - t0, ct = cpu() - c0;
	printf("%.3f %llu %llu %.3f\n", t, (unsigned long long)rows, (unsigned long long)sum, ct);
	pq_reader_close(r);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "write") == 0)
		return cmd_write(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "read") == 0)
		return cmd_read(argc - 2, argv + 2);
	fprintf(stderr, "usage: pqbench write FILE ROWS [options] | read FILE [--threads N]\n");
	return 64;
}

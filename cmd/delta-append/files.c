/*
 * delta-append files: the batch's data files and the threads that write
 * them.
 *
 * Records are written to Parquet files (ZSTD), one or more per partition
 * per batch, straight into their final place under the table: a file is
 * invisible until a commit names it.  The main thread converts records and
 * buffers them a chunk of rows at a time per file; each file belongs to one
 * writer thread, which creates it, encodes and writes its chunks, and
 * finishes it (footer and add.stats).  A file that grows past the target
 * size is finished and another started; past the open-file limit the least
 * recently used one is finished.  A batch that is not committed has its
 * files removed.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "append.h"
#include "text/ts.h"

static struct rowbuf *rowbuf_get(struct app *a);
static void rowbuf_put(struct app *a, struct rowbuf *rb);
static int submit(struct app *a, struct part_file *p, struct rowbuf *rb, int finish,
                  struct err_msg *e);

static void rowbuf_free(struct rowbuf *rb, size_t ncols)
{
	for (size_t i = 0; rb->cols && i < ncols; i++) {
		free(rb->cols[i].vals);
		free(rb->cols[i].valid);
		free(rb->cols[i].off);
		free(rb->cols[i].len);
	}
	free(rb->cols);
	free(rb->bytes);
	buf_free(&rb->arena);
	memset(rb, 0, sizeof *rb);
}

static void part_file_free(struct part_file *p)
{
	if (!p)
		return;
	if (p->fill) {
		rowbuf_free(p->fill, p->nleaves);
		free(p->fill);
	}
	if (p->w)
		pq_writer_free(p->w);
	free(p->key);
	free(p->rel);
	free(p->abs);
	for (size_t i = 0; i < p->pvals.n; i++) {
		free(p->pvals.kv[i].key);
		free(p->pvals.kv[i].value);
	}
	free(p->pvals.kv);
	free(p->stats);
	free(p->forced);
	free(p);
}

/* Append the stats value of a pq statistic bound to out (JSON), or return -1 to leave it out. */

static int finish_file(struct app *a, struct part_file *p, struct err_msg *e)
{
	if (a->last == p)
		a->last = NULL;
	strmap_del(&a->open, p->key);
	a->nopen--;
	/* The worker writes the last rows, the footer and the stats; drain() collects it. */
	struct rowbuf *rb = p->fill;
	p->fill = NULL;
	return submit(a, p, rb, 1, e);
}

static int finish_lru(struct app *a, struct err_msg *e)
{
	struct part_file *old = NULL;
	size_t i = 0;
	struct strmap_slot *s;
	while ((s = strmap_next(&a->open, &i))) {
		struct part_file *p = s->value;
		if (!old || p->last_use < old->last_use)
			old = p;
	}
	return old ? finish_file(a, old, e) : 0;
}

static struct part_file *remember_partition(struct app *a, struct part_file *p,
                                            const struct delta_cell *cells)
{
	a->last = p;
	a->last_cacheable = 1;
	for (size_t k = 0; k < a->ncols; k++) {
		if (a->cols[k].partition < 0)
			continue;
		a->last_cells[k] = cells[k];
		if (a->cols[k].f->type == DT_STRING || a->cols[k].f->type == DT_BINARY)
			a->last_cacheable = 0;
	}
	return p;
}

/* Do two rows go to the same partition?  (Cells of the partition columns compared.) */
static int same_partition(const struct app *a, const struct delta_cell *x,
                          const struct delta_cell *y)
{
	for (size_t k = 0; k < a->ncols; k++) {
		const struct column *c = &a->cols[k];
		if (c->partition < 0)
			continue;
		if (x[k].null != y[k].null)
			return 0;
		if (!x[k].null && delta_cell_cmp(c->f, &x[k], &y[k]) != 0)
			return 0;
	}
	return 1;
}

/* The open file for a partition (creating it), given the partition cells. */
static struct part_file *file_for(struct app *a, const struct delta_cell *cells, struct buf *key,
                                  struct err_msg *e)
{
	/*
	 * Rows mostly arrive grouped by partition: when this row's partition is
	 * the previous row's, skip building and hashing its key.  Only
	 * non-string partition values are cached, since strings point into
	 * buffers that the next record reuses.
	 */
	if (a->last && a->last_cacheable && same_partition(a, cells, a->last_cells))
		return a->last;
	buf_reset(key);
	for (size_t k = 0; k < a->ncols; k++) {
		const struct column *c = &a->cols[k];
		if (c->partition < 0)
			continue;
		const struct delta_cell *cell = &cells[k];
		if (cell->null || (c->f->type == DT_STRING && cell->n == 0))
			buf_append(key, "\x01", 1);
		else
			delta_partition_text(c->f, cell, key);
		buf_append(key, "\x02", 1);
	}
	buf_reserve(key, 0);
	struct part_file *p = strmap_get(&a->open, key->data ? key->data : "");
	if (p)
		return remember_partition(a, p, cells);
	if (a->nopen >= a->max_open && finish_lru(a, e) < 0)
		return NULL;
	p = calloc(1, sizeof *p);
	if (!p) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return NULL;
	}
	p->key = strdup(key->data ? key->data : "");
	p->pvals.kv = calloc(a->npart + 1, sizeof *p->pvals.kv);
	if (!p->key || !p->pvals.kv) {
		err_set(e, EX_SOFTWARE, "out of memory");
		part_file_free(p);
		return NULL;
	}
	p->pvals.n = a->npart;
	struct buf dir = BUF_INIT, val = BUF_INIT;
	for (size_t k = 0; k < a->ncols; k++) {
		const struct column *c = &a->cols[k];
		if (c->partition < 0)
			continue;
		const struct delta_cell *cell = &cells[k];
		buf_reset(&val);
		int isnull = cell->null || (c->f->type == DT_STRING && cell->n == 0);
		struct delta_kv *kv = &p->pvals.kv[c->partition];
		kv->key = strdup(c->f->name);
		if (!isnull) {
			delta_partition_text(c->f, cell, &val);
			kv->value = strdup(val.data ? val.data : "");
		}
		delta_hive_escape(c->f->name, &dir);
		buf_putc(&dir, '=');
		delta_hive_escape(isnull ? NULL : val.data, &dir);
		buf_putc(&dir, '/');
	}
	char uuid[37];
	delta_uuid(uuid);
	buf_printf(&dir, "part-00000-%s-c000.zstd.parquet", uuid);
	struct buf abs = BUF_INIT;
	buf_printf(&abs, "%s/%s", a->root, dir.data);
	int built = !buf_failed(&dir) && !buf_failed(&val) && !buf_failed(&abs);
	p->rel = buf_detach(&dir);
	p->abs = buf_detach(&abs);
	buf_free(&val);
	for (size_t k = 0; k < a->npart; k++)
		built = built && p->pvals.kv[k].key;
	p->nleaves = a->nleaves;
	p->forced = calloc(a->nleaves ? a->nleaves : 1, sizeof *p->forced);
	if (!built || !p->forced || !(p->fill = rowbuf_get(a))) {
		err_set(e, EX_SOFTWARE, "out of memory");
		part_file_free(p);
		return NULL;
	}
	/*
	 * Files go to the writer threads in turn; each file stays with one,
	 * which also creates it (directories and all: creating files is much
	 * of the kernel's share of the work).
	 */
	p->worker = a->next_worker++ % a->nworkers;
	pthread_mutex_lock(&a->mu);
	p->learning = !a->have_learned || ++a->files_since_learning >= LEARN_EVERY;
	if (p->learning)
		a->files_since_learning = 0;
	else
		memcpy(p->forced, a->learned, a->nleaves * sizeof *p->forced);
	pthread_mutex_unlock(&a->mu);
	if (strmap_put(&a->open, p->key, p, NULL) < 0) {
		err_set(e, EX_SOFTWARE, "out of memory");
		part_file_free(p);
		return NULL;
	}
	a->nopen++;
	return remember_partition(a, p, cells);
}

static size_t kind_size(int kind)
{
	switch (kind) {
	case K_I64:
		return sizeof(int64_t);
	case K_I32:
		return sizeof(int32_t);
	case K_F32:
		return sizeof(float);
	case K_F64:
		return sizeof(double);
	case K_BOOL:
		return 1;
	case K_BYTES:
		return sizeof(uint32_t);
	default:
		return sizeof(pq_int128);
	}
}

static int rowbuf_init(struct rowbuf *rb, const struct app *a)
{
	memset(rb, 0, sizeof *rb);
	rb->cols = calloc(a->nleaves ? a->nleaves : 1, sizeof *rb->cols);
	rb->bytes = calloc(ROW_CHUNK, sizeof *rb->bytes);
	if (!rb->cols || !rb->bytes)
		return -1;
	for (size_t l = 0; l < a->nleaves; l++) {
		struct colbuf *cb = &rb->cols[l];
		int kind = a->leaf_col[l]->kind;
		cb->valid = malloc(ROW_CHUNK);
		if (kind == K_BYTES) {
			cb->off = malloc(ROW_CHUNK * sizeof *cb->off);
			cb->len = malloc(ROW_CHUNK * sizeof *cb->len);
			if (!cb->off || !cb->len)
				return -1;
		} else if (!(cb->vals = malloc(ROW_CHUNK * kind_size(kind)))) {
			return -1;
		}
		if (!cb->valid)
			return -1;
	}
	return 0;
}

/* A chunk buffer from the pool, or a new one (NULL when memory runs out). */
static struct rowbuf *rowbuf_get(struct app *a)
{
	pthread_mutex_lock(&a->mu);
	struct rowbuf *rb = a->pool;
	if (rb)
		a->pool = rb->next;
	pthread_mutex_unlock(&a->mu);
	if (rb)
		return rb;
	rb = malloc(sizeof *rb);
	if (rb && rowbuf_init(rb, a) < 0) {
		rowbuf_free(rb, a->nleaves);
		free(rb);
		rb = NULL;
	}
	return rb;
}

static void rowbuf_put(struct app *a, struct rowbuf *rb)
{
	rb->n = 0;
	buf_reset(&rb->arena);
	for (size_t l = 0; l < a->nleaves; l++)
		rb->cols[l].has_null = 0;
	pthread_mutex_lock(&a->mu);
	rb->next = a->pool;
	a->pool = rb;
	pthread_mutex_unlock(&a->mu);
}

/* Add one value to the chunk of column c. */
static int buffer_cell(struct rowbuf *rb, const struct column *c, const struct delta_cell *cell)
{
	struct colbuf *cb = &rb->cols[c->leaf];
	size_t n = rb->n;
	if (cell->null) {
		cb->valid[n] = 0;
		cb->has_null = 1;
		if (c->kind == K_BYTES)
			cb->off[n] = cb->len[n] = 0;
		else
			memset((char *)cb->vals + n * kind_size(c->kind), 0, kind_size(c->kind));
		return 0;
	}
	cb->valid[n] = 1;
	switch (c->kind) {
	case K_I64:
		((int64_t *)cb->vals)[n] = c->f->type == DT_DECIMAL ? (int64_t)cell->dec : cell->i;
		break;
	case K_I32:
		((int32_t *)cb->vals)[n] = (int32_t)cell->i;
		break;
	case K_F32:
		((float *)cb->vals)[n] = (float)cell->d;
		break;
	case K_F64:
		((double *)cb->vals)[n] = cell->d;
		break;
	case K_BOOL:
		((uint8_t *)cb->vals)[n] = (uint8_t)(cell->i != 0);
		break;
	case K_BYTES:
		if (cell->n > UINT32_MAX || rb->arena.len + cell->n > UINT32_MAX)
			return -1;
		cb->off[n] = (uint32_t)rb->arena.len;
		cb->len[n] = (uint32_t)cell->n;
		return buf_append(&rb->arena, cell->s, cell->n);
	default:
		((pq_int128 *)cb->vals)[n] = cell->dec;
	}
	return 0;
}

/* Hand a chunk of rows to a file's writer (in the file's worker thread). */
static int flush_rows(const struct app *a, struct part_file *p, struct rowbuf *rb)
{
	size_t n = rb->n;
	if (n == 0)
		return 0;
	for (size_t l = 0; l < a->nleaves; l++) {
		struct colbuf *cb = &rb->cols[l];
		const uint8_t *valid = cb->has_null ? cb->valid : NULL;
		int leaf = (int)l, rc;
		switch (a->leaf_col[l]->kind) {
		case K_I64:
			rc = pq_writer_write_i64(p->w, leaf, cb->vals, valid, n);
			break;
		case K_I32:
			rc = pq_writer_write_i32(p->w, leaf, cb->vals, valid, n);
			break;
		case K_F32:
			rc = pq_writer_write_f32(p->w, leaf, cb->vals, valid, n);
			break;
		case K_F64:
			rc = pq_writer_write_f64(p->w, leaf, cb->vals, valid, n);
			break;
		case K_BOOL:
			rc = pq_writer_write_bool(p->w, leaf, cb->vals, valid, n);
			break;
		case K_BYTES:
			for (size_t i = 0; i < n; i++) {
				rb->bytes[i].p = (const uint8_t *)rb->arena.data + cb->off[i];
				rb->bytes[i].len = cb->len[i];
			}
			rc = pq_writer_write_bytes(p->w, leaf, rb->bytes, valid, n);
			break;
		default:
			rc = pq_writer_write_dec(p->w, leaf, cb->vals, valid, n);
		}
		if (rc < 0)
			return -1;
		cb->has_null = 0;
	}
	rb->n = 0;
	buf_reset(&rb->arena);
	return pq_writer_end_row(p->w);
}

int write_row(struct app *a, const struct delta_cell *cells, struct buf *key, struct err_msg *e)
{
	struct part_file *p = file_for(a, cells, key, e);
	if (!p)
		return -1;
	p->last_use = ++a->clock;
	for (size_t l = 0; l < a->nleaves; l++) {
		const struct column *c = a->leaf_col[l];
		if (buffer_cell(p->fill, c, &cells[c - a->cols]) < 0) {
			err_set(e, EX_DATAERR, "column \"%s\": value too long", c->f->name);
			return -1;
		}
	}
	p->rows++;
	a->records++;
	if (++p->fill->n < ROW_CHUNK)
		return 0;
	struct rowbuf *full = p->fill;
	if (!(p->fill = rowbuf_get(a))) {
		p->fill = full;
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	if (submit(a, p, full, 0, e) < 0)
		return -1;
	if (atomic_load(&p->written) >= a->target_size)
		return finish_file(a, p, e);
	return 0;
}

/* Writer threads ----------------------------------------------------------- */

static void worker_fail_msg(struct app *a, struct part_file *p, const struct err_msg *we)
{
	pthread_mutex_lock(&a->mu);
	if (!a->werr) {
		a->werr = 1;
		a->werr_msg = *we;
		if (!a->werr_msg.status)
			a->werr_msg.status = EX_IOERR;
	}
	pthread_mutex_unlock(&a->mu);
	p->failed = 1;
}

/* Create a file's directories and its writer (in the worker that owns it). */
static void open_file(struct worker *wk, struct part_file *p)
{
	struct app *a = wk->a;
	struct err_msg e;
	char *slash = strrchr(p->abs, '/');
	*slash = '\0';
	int mk = delta_mkdirs(p->abs);
	*slash = '/';
	if (mk < 0) {
		err_set(&e, EX_IOERR, "%s: %s", p->abs, strerror(errno));
		worker_fail_msg(a, p, &e);
		return;
	}
	err_clear(&e);
	p->w = pq_writer_open(p->abs, a->schema, &wk->wopts, &e);
	if (!p->w) {
		if (!e.text[0])
			err_set(&e, EX_IOERR, "%s: cannot create", p->abs);
		worker_fail_msg(a, p, &e);
		return;
	}
	for (size_t l = 0; !p->learning && l < a->nleaves; l++)
		pq_writer_set_encoding(p->w, (int)l, p->forced[l]);
}

static void worker_fail(struct app *a, struct part_file *p, const char *fallback)
{
	const struct err_msg *we = pq_writer_error(p->w);
	pthread_mutex_lock(&a->mu);
	if (!a->werr) {
		a->werr = 1;
		err_set(&a->werr_msg, we && we->status ? we->status : EX_IOERR, "%s",
		        we && we->text[0] ? we->text : fallback);
	}
	pthread_mutex_unlock(&a->mu);
	p->failed = 1;
}

/* Run one job: write a chunk, and/or finish the file. */
static void run_job(struct worker *wk, struct job *j)
{
	struct app *a = wk->a;
	struct part_file *p = j->p;
	if (!p->w && !p->failed)
		open_file(wk, p);
	if (j->rb) {
		if (!p->failed && flush_rows(a, p, j->rb) < 0)
			worker_fail(a, p, "cannot write a data file");
		if (p->w)
			atomic_store(&p->written, (int64_t)pq_writer_bytes(p->w));
		rowbuf_put(a, j->rb);
	}
	if (!j->finish)
		return;
	if (!p->failed && pq_writer_close(p->w) < 0)
		worker_fail(a, p, "cannot finish a data file");
	if (!p->failed) {
		struct buf st = BUF_INIT;
		p->size = (int64_t)pq_writer_bytes(p->w);
		p->mtime = ts_now() / 1000;
		if (delta_stats_json(&a->tschema, a->part_cols, a->npart, a->stats_cols, p->w,
		                     p->rows, &st) < 0) {
			struct err_msg oom;
			err_set(&oom, EX_SOFTWARE, "%s: out of memory for its statistics", p->abs);
			worker_fail_msg(a, p, &oom);
		}
		p->stats = buf_detach(&st);
	}
	if (!p->failed && p->learning && p->rows > 0) {
		pthread_mutex_lock(&a->mu);
		for (size_t l = 0; l < a->nleaves; l++)
			a->learned[l] = pq_writer_chunk_encoding(p->w, (int)l);
		a->have_learned = 1;
		pthread_mutex_unlock(&a->mu);
	}
	pq_writer_free(p->w);
	p->w = NULL;
	if (p->failed)
		unlink(p->abs);
	/* Failed files go on the list too, so that discarding the batch frees them. */
	p->next = wk->done;
	wk->done = p;
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct app *a = wk->a;
	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (!wk->head && !a->stopping)
			pthread_cond_wait(&wk->cv, &a->mu);
		if (!wk->head)
			break;
		struct job *j = wk->head;
		wk->head = j->next;
		if (!wk->head)
			wk->tail = NULL;
		pthread_mutex_unlock(&a->mu);
		run_job(wk, j);
		free(j);
		pthread_mutex_lock(&a->mu);
		a->pending--;
		pthread_cond_broadcast(&a->cv_done);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* Queue a job for the file's worker, waiting while too many are queued. */
static int submit(struct app *a, struct part_file *p, struct rowbuf *rb, int finish,
                  struct err_msg *e)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	j->p = p;
	j->rb = rb;
	j->finish = finish;
	struct worker *wk = &a->workers[p->worker];
	pthread_mutex_lock(&a->mu);
	while (a->pending >= a->max_pending && !a->werr)
		pthread_cond_wait(&a->cv_done, &a->mu);
	if (wk->tail)
		wk->tail->next = j;
	else
		wk->head = j;
	wk->tail = j;
	a->pending++;
	pthread_cond_signal(&wk->cv);
	int failed = a->werr;
	if (failed)
		*e = a->werr_msg;
	pthread_mutex_unlock(&a->mu);
	return failed ? -1 : 0;
}

/*
 * Wait until every queued job is done and collect the finished files into
 * the batch.  -1 (e set) when a worker failed.
 */
static int drain(struct app *a, struct err_msg *e)
{
	pthread_mutex_lock(&a->mu);
	while (a->pending > 0)
		pthread_cond_wait(&a->cv_done, &a->mu);
	for (int w = 0; w < a->nworkers; w++) {
		struct worker *wk = &a->workers[w];
		while (wk->done) {
			struct part_file *p = wk->done;
			wk->done = p->next;
			p->next = a->done;
			a->done = p;
		}
	}
	int failed = a->werr;
	if (failed) {
		*e = a->werr_msg;
		a->werr = 0;
	}
	pthread_mutex_unlock(&a->mu);
	return failed ? -1 : 0;
}

int start_workers(struct app *a, int n, struct err_msg *e)
{
	a->workers = calloc((size_t)n, sizeof *a->workers);
	if (!a->workers) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv_done, NULL);
	a->max_pending = (size_t)n * 8;
	/*
	 * The writers run with every signal blocked (they inherit the mask they
	 * are created with), so that SIGINT and SIGTERM reach the main thread,
	 * whose reads they interrupt.
	 */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = 0;
	for (int w = 0; w < n && rc == 0; w++) {
		struct worker *wk = &a->workers[w];
		wk->a = a;
		wk->codec = pq_codec_new();
		wk->wopts = a->wopts;
		wk->wopts.codec = wk->codec;
		pthread_cond_init(&wk->cv, NULL);
		if (!wk->codec || pthread_create(&wk->th, NULL, worker_main, wk) != 0) {
			pq_codec_free(wk->codec);
			pthread_cond_destroy(&wk->cv);
			err_set(e, EX_SOFTWARE, "cannot start a writer thread");
			rc = -1;
			break;
		}
		a->nworkers++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

void stop_workers(struct app *a)
{
	if (!a->workers)
		return;
	pthread_mutex_lock(&a->mu);
	a->stopping = 1;
	for (int w = 0; w < a->nworkers; w++)
		pthread_cond_signal(&a->workers[w].cv);
	pthread_mutex_unlock(&a->mu);
	for (int w = 0; w < a->nworkers; w++) {
		pthread_join(a->workers[w].th, NULL);
		pq_codec_free(a->workers[w].codec);
		pthread_cond_destroy(&a->workers[w].cv);
	}
	while (a->pool) {
		struct rowbuf *rb = a->pool;
		a->pool = rb->next;
		rowbuf_free(rb, a->nleaves);
		free(rb);
	}
	free(a->workers);
	a->workers = NULL;
	pthread_cond_destroy(&a->cv_done);
	pthread_mutex_destroy(&a->mu);
}

void discard_batch(struct app *a)
{
	size_t i = 0;
	struct strmap_slot *s;
	struct part_file *open_list = NULL;
	struct err_msg ignored;
	drain(a, &ignored);
	while ((s = strmap_next(&a->open, &i))) {
		struct part_file *p = s->value;
		p->next = open_list;
		open_list = p;
	}
	for (struct part_file *p = open_list, *n; p; p = n) {
		n = p->next;
		unlink(p->abs);
		part_file_free(p);
	}
	strmap_free(&a->open);
	a->nopen = 0;
	a->last = NULL;
	for (struct part_file *p = a->done, *n; p; p = n) {
		n = p->next;
		unlink(p->abs);
		part_file_free(p);
	}
	a->done = NULL;
	a->records = 0;
	a->bad = 0;
	a->has_batch_id = 0;
}

int finish_all(struct app *a, struct err_msg *e)
{
	while (a->nopen) {
		size_t i = 0;
		struct strmap_slot *sl = strmap_next(&a->open, &i);
		if (finish_file(a, sl->value, e) < 0)
			return -1;
	}
	return drain(a, e);
}

void release_batch(struct app *a)
{
	for (struct part_file *p = a->done, *n; p; p = n) {
		n = p->next;
		part_file_free(p);
	}
	a->done = NULL;
	a->records = 0;
	a->bad = 0;
	a->has_batch_id = 0;
}

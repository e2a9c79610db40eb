/*
 * delta_txn: transactions (see delta_txn.h for the contract).
 *
 * The commit text is built once: a winner changes nothing in it (readVersion
 * stays the version the transaction read, as Spark keeps it), so moving
 * past other writers' commits costs a read and a parse of each of them and
 * one more put-if-absent, never a rebuild.  Winners are read in order from
 * the version that was taken up to the first one that does not exist, and
 * only then is the next put tried: a writer far behind catches up in one
 * pass instead of failing a put (and its fsync) per version.
 *
 * In-commit timestamps (PROTOCOL.md, "In-Commit Timestamps"): on a table
 * that has them, every commit's commitInfo (its first action) carries
 * inCommitTimestamp, the later of the time the commit is attempted and
 * one millisecond after the previous commit's.  The previous one is the
 * snapshot's, known when this process committed it and else read from
 * that commit; moving past winners takes theirs, and then the text is
 * built again with a timestamp after the last of them.
 */
#define _GNU_SOURCE /* pthread_tryjoin_np */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "delta/delta_internal.h"
#include "delta/delta_txn.h"
#include "text/json.h"
#include "text/ts.h"

#define DEFAULT_MAX_ATTEMPTS 15

struct kv_list {
	struct delta_kv *kv;
	size_t n, cap;
};

struct delta_txn {
	struct delta_snapshot *snap; /* the caller's, or &own when creating */
	struct delta_snapshot own;
	int creating;
	struct delta_store *store;
	int64_t read_version; /* -1 when creating */
	char *operation;
	struct kv_list params, metrics;
	struct delta_file **adds, **removes, **cdcs;
	size_t nadds, capa, nremoves, capr, ncdcs, capc;
	char *app;
	int64_t app_version;
	struct buf protocol_json, metadata_json; /* staged actions, as their lines */
	struct strmap read_files;                /* path -> its own copy */
	struct delta_map *read_parts;
	size_t nread_parts;
	int read_all;
	delta_read_pred_fn read_pred;
	void *read_pred_arg;
	int isolation;
	char id[37];
	delta_revalidate_fn revalidate;
	void *revalidate_arg;
	int64_t max_attempts;
	struct delta_checkpointer *ckpt; /* checkpoints behind the work, or NULL */
	int (*barrier)(void *arg, struct err_msg *e);
	void *barrier_arg;
	/* creating: the staged protocol and metaData enable in-commit timestamps */
	int ict_feature, ict_property;
	int64_t ict; /* the commit's in-commit timestamp, 0 for none */
	/*
	 * The version the commit text is for (-1: the one after the
	 * snapshot's), which row tracking writes into its adds.
	 */
	int64_t version;
};

/*
 * A checkpoint in flight: the thread writes it from a copy of the
 * snapshot at its version, which nothing else touches, into run_ok and
 * run_err.  Once joined, its outcome joins the results that
 * delta_checkpointer_poll() takes, oldest first: the next checkpoint due
 * joins the one before it, which may have finished unseen, and its
 * failure must still be told.
 */
struct ckpt_result {
	int64_t version;
	int ok;
	struct err_msg err;
};

struct delta_checkpointer {
	pthread_t th;
	int running;               /* th was started and not yet joined */
	struct delta_snapshot *cp; /* the copy being written */
	int64_t run_version;
	int run_ok;
	struct err_msg run_err;
	struct ckpt_result *res; /* results not yet taken, oldest first */
	size_t nres, capres;
};

/* Lifetime ------------------------------------------------------------------------- */

struct delta_txn *delta_txn_begin(struct delta_snapshot *snap, struct delta_store *store,
                                  const char *operation)
{
	struct delta_txn *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->store = store;
	t->max_attempts = DEFAULT_MAX_ATTEMPTS;
	t->app_version = -1;
	t->version = -1;
	if (!(t->operation = strdup(operation))) {
		free(t);
		return NULL;
	}
	if (snap) {
		t->snap = snap;
		t->read_version = snap->version;
	} else {
		/* Creating: winners for version 0 are replayed into a snapshot of our own. */
		t->creating = 1;
		t->read_version = -1;
		t->snap = &t->own;
		t->own.checkpoint_version = -1;
		t->own.version = -1;
		if (!(t->own.root = strdup(store->root))) {
			free(t->operation);
			free(t);
			return NULL;
		}
	}
	delta_uuid(t->id);
	return t;
}

static void kv_free(struct kv_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->kv[i].key);
		free(l->kv[i].value);
	}
	free(l->kv);
	memset(l, 0, sizeof *l);
}

static void map_free(struct delta_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->kv[i].key);
		free(m->kv[i].value);
	}
	free(m->kv);
	memset(m, 0, sizeof *m);
}

void delta_txn_free(struct delta_txn *t)
{
	if (!t)
		return;
	free(t->operation);
	kv_free(&t->params);
	kv_free(&t->metrics);
	for (size_t i = 0; i < t->nadds; i++)
		delta_file_free(t->adds[i]);
	for (size_t i = 0; i < t->nremoves; i++)
		delta_file_free(t->removes[i]);
	for (size_t i = 0; i < t->ncdcs; i++)
		delta_file_free(t->cdcs[i]);
	free(t->adds);
	free(t->removes);
	free(t->cdcs);
	free(t->app);
	buf_free(&t->protocol_json);
	buf_free(&t->metadata_json);
	size_t i = 0;
	struct strmap_slot *s;
	while ((s = strmap_next(&t->read_files, &i)))
		free(s->value);
	strmap_free(&t->read_files);
	for (size_t k = 0; k < t->nread_parts; k++)
		map_free(&t->read_parts[k]);
	free(t->read_parts);
	if (t->creating)
		delta_snapshot_free(&t->own);
	free(t);
}

/* Staging ------------------------------------------------------------------------------ */

static int kv_add(struct kv_list *l, const char *key, const char *value)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct delta_kv *n = realloc(l->kv, cap * sizeof *n);
		if (!n)
			return -1;
		l->kv = n;
		l->cap = cap;
	}
	struct delta_kv *kv = &l->kv[l->n];
	kv->key = strdup(key);
	kv->value = value ? strdup(value) : NULL;
	if (!kv->key || (value && !kv->value)) {
		free(kv->key);
		free(kv->value);
		return -1;
	}
	l->n++;
	return 0;
}

int delta_txn_param(struct delta_txn *t, const char *key, const char *value)
{
	return kv_add(&t->params, key, value);
}

int delta_txn_metric(struct delta_txn *t, const char *key, const char *value)
{
	return kv_add(&t->metrics, key, value);
}

int delta_txn_metric_i64(struct delta_txn *t, const char *key, int64_t value)
{
	char text[24];
	snprintf(text, sizeof text, "%lld", (long long)value);
	return kv_add(&t->metrics, key, text);
}

void delta_txn_set_isolation(struct delta_txn *t, enum delta_isolation level)
{
	t->isolation = level;
}

void delta_txn_set_revalidate(struct delta_txn *t, delta_revalidate_fn fn, void *arg,
                              int64_t max_attempts)
{
	t->revalidate = fn;
	t->revalidate_arg = arg;
	t->max_attempts = max_attempts;
}

static int map_copy(struct delta_map *to, const struct delta_map *from)
{
	memset(to, 0, sizeof *to);
	if (!from->n)
		return 0;
	to->kv = calloc(from->n, sizeof *to->kv);
	if (!to->kv)
		return -1;
	for (size_t i = 0; i < from->n; i++) {
		to->kv[i].key = strdup(from->kv[i].key);
		to->kv[i].value = from->kv[i].value ? strdup(from->kv[i].value) : NULL;
		to->n++;
		if (!to->kv[i].key || (from->kv[i].value && !to->kv[i].value))
			return -1;
	}
	return 0;
}

/* A copy of the parts of f that actions carry. */
static struct delta_file *file_copy(const struct delta_file *f)
{
	struct delta_file *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->path = strdup(f->path);
	c->raw_path = f->raw_path ? strdup(f->raw_path) : NULL;
	c->stats = f->stats ? strdup(f->stats) : NULL;
	c->dv_json = f->dv_json ? strdup(f->dv_json) : NULL;
	c->has_deletion_vector = f->has_deletion_vector;
	c->size = f->size;
	c->modification_time = f->modification_time;
	c->data_change = f->data_change;
	c->deletion_timestamp = f->deletion_timestamp;
	c->base_row_id = f->base_row_id;
	c->has_base_row_id = f->has_base_row_id;
	c->default_row_commit_version = f->default_row_commit_version;
	c->has_row_commit_version = f->has_row_commit_version;
	c->version = -1;
	if (!c->path || (f->raw_path && !c->raw_path) || (f->stats && !c->stats) ||
	    (f->dv_json && !c->dv_json) ||
	    map_copy(&c->partition_values, &f->partition_values) < 0) {
		delta_file_free(c);
		return NULL;
	}
	return c;
}

static int push_file(struct delta_file ***v, size_t *n, size_t *cap, struct delta_file *f)
{
	if (!f)
		return -1;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct delta_file **nv = realloc(*v, nc * sizeof *nv);
		if (!nv) {
			delta_file_free(f);
			return -1;
		}
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = f;
	return 0;
}

/* A copy of a file this commit adds onto a list (the path it names always encoded here). */
static int push_added(struct delta_file ***v, size_t *n, size_t *cap, const struct delta_file *f)
{
	struct delta_file *c = file_copy(f);
	if (c) {
		free(c->raw_path);
		c->raw_path = NULL;
	}
	return push_file(v, n, cap, c);
}

int delta_txn_add(struct delta_txn *t, const struct delta_file *f)
{
	return push_added(&t->adds, &t->nadds, &t->capa, f);
}

int delta_txn_cdc(struct delta_txn *t, const struct delta_file *f)
{
	return push_added(&t->cdcs, &t->ncdcs, &t->capc, f);
}

int delta_txn_remove(struct delta_txn *t, const struct delta_file *f, int64_t deletion_timestamp,
                     int data_change)
{
	struct delta_file *c = file_copy(f);
	if (c) {
		c->deletion_timestamp = deletion_timestamp;
		c->data_change = data_change;
	}
	if (push_file(&t->removes, &t->nremoves, &t->capr, c) < 0)
		return -1;
	/* What a transaction removes, it read. */
	return delta_txn_read_file(t, f->path);
}

int delta_txn_set_app(struct delta_txn *t, const char *app, int64_t version)
{
	char *a = strdup(app);
	if (!a)
		return -1;
	free(t->app);
	t->app = a;
	t->app_version = version;
	return 0;
}

static void json_strv(struct buf *b, char *const *v, size_t n)
{
	buf_putc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(b, ',');
		buf_json_str(b, v[i], strlen(v[i]));
	}
	buf_putc(b, ']');
}

static void json_map(struct buf *b, const struct delta_kv *kv, size_t n)
{
	buf_putc(b, '{');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(b, ',');
		buf_json_str(b, kv[i].key, strlen(kv[i].key));
		buf_putc(b, ':');
		if (kv[i].value)
			buf_json_str(b, kv[i].value, strlen(kv[i].value));
		else
			buf_puts(b, "null");
	}
	buf_putc(b, '}');
}

void delta_protocol_json(const struct delta_protocol *p, struct buf *b)
{
	buf_printf(b, "{\"minReaderVersion\":%d,\"minWriterVersion\":%d", p->min_reader,
	           p->min_writer);
	if (p->reader_features) {
		buf_puts(b, ",\"readerFeatures\":");
		json_strv(b, p->reader_features, p->n_reader_features);
	}
	if (p->writer_features) {
		buf_puts(b, ",\"writerFeatures\":");
		json_strv(b, p->writer_features, p->n_writer_features);
	}
	buf_putc(b, '}');
}

int delta_txn_set_protocol(struct delta_txn *t, const struct delta_protocol *p)
{
	struct buf *b = &t->protocol_json;
	buf_reset(b);
	t->ict_feature = 0;
	for (size_t i = 0; p->min_writer >= 7 && i < p->n_writer_features; i++)
		t->ict_feature |= strcmp(p->writer_features[i], DELTA_ICT_FEATURE) == 0;
	buf_puts(b, "{\"protocol\":");
	delta_protocol_json(p, b);
	buf_puts(b, "}\n");
	return buf_failed(b) ? -1 : 0;
}

void delta_metadata_json(const struct delta_metadata *m, struct buf *b)
{
	buf_puts(b, "{\"id\":");
	buf_json_str(b, m->id, strlen(m->id));
	if (m->name) {
		buf_puts(b, ",\"name\":");
		buf_json_str(b, m->name, strlen(m->name));
	}
	if (m->description) {
		buf_puts(b, ",\"description\":");
		buf_json_str(b, m->description, strlen(m->description));
	}
	buf_puts(b, ",\"format\":{\"provider\":");
	const char *provider = m->provider ? m->provider : "parquet";
	buf_json_str(b, provider, strlen(provider));
	buf_puts(b, ",\"options\":");
	json_map(b, m->format_options.kv, m->format_options.n);
	buf_puts(b, "},\"schemaString\":");
	buf_json_str(b, m->schema_string, strlen(m->schema_string));
	buf_puts(b, ",\"partitionColumns\":");
	json_strv(b, m->partition_columns, m->n_partition_columns);
	buf_puts(b, ",\"configuration\":");
	json_map(b, m->configuration.kv, m->configuration.n);
	if (m->created_time >= 0)
		buf_printf(b, ",\"createdTime\":%lld", (long long)m->created_time);
	buf_putc(b, '}');
}

int delta_txn_set_metadata(struct delta_txn *t, const struct delta_metadata *m)
{
	struct buf *b = &t->metadata_json;
	buf_reset(b);
	int found = 0;
	const char *ict =
	    delta_map_get(&m->configuration, "delta.enableInCommitTimestamps", &found);
	t->ict_property = found && ict && strcasecmp(ict, "true") == 0;
	buf_puts(b, "{\"metaData\":");
	delta_metadata_json(m, b);
	buf_puts(b, "}\n");
	return buf_failed(b) ? -1 : 0;
}

int delta_txn_read_file(struct delta_txn *t, const char *path)
{
	if (strmap_get(&t->read_files, path))
		return 0;
	char *p = strdup(path);
	if (!p || strmap_put(&t->read_files, p, p, NULL) < 0) {
		free(p);
		return -1;
	}
	return 0;
}

int delta_txn_read_partition(struct delta_txn *t, const struct delta_map *values)
{
	struct delta_map *n = realloc(t->read_parts, (t->nread_parts + 1) * sizeof *n);
	if (!n)
		return -1;
	t->read_parts = n;
	if (map_copy(&n[t->nread_parts], values) < 0) {
		map_free(&n[t->nread_parts]);
		return -1;
	}
	t->nread_parts++;
	return 0;
}

void delta_txn_read_table(struct delta_txn *t)
{
	t->read_all = 1;
}

void delta_txn_read_predicate(struct delta_txn *t, delta_read_pred_fn fn, void *arg)
{
	t->read_pred = fn;
	t->read_pred_arg = arg;
}

static int txn_reads(const struct delta_txn *t)
{
	return t->read_all || t->nread_parts || t->read_files.count || t->read_pred;
}

int delta_txn_is_blind_append(const struct delta_txn *t)
{
	return t->nadds > 0 && t->nremoves == 0 && !txn_reads(t) && !t->metadata_json.len &&
	       !t->protocol_json.len;
}

const char *delta_txn_id(const struct delta_txn *t)
{
	return t->id;
}

/* The commit text -------------------------------------------------------------------- */

static void put_path(struct buf *b, const struct delta_file *f, struct buf *tmp)
{
	buf_reset(tmp);
	if (f->raw_path)
		buf_puts(tmp, f->raw_path);
	else
		delta_uri_encode(f->path, tmp);
	buf_json_str(b, tmp->data ? tmp->data : "", tmp->len);
}

/* The txn action's line, when the transaction has one. */
static void put_txn(struct buf *out, const struct delta_txn *t, int64_t now_ms)
{
	if (!t->app)
		return;
	buf_puts(out, "{\"txn\":{\"appId\":");
	buf_json_str(out, t->app, strlen(t->app));
	buf_printf(out, ",\"version\":%lld,\"lastUpdated\":%lld}}\n", (long long)t->app_version,
	           (long long)now_ms);
}

/* The rows of a file, from its statistics' numRecords; -1 when they do not say. */
static int64_t file_rows(const struct delta_file *f)
{
	struct err_msg e;
	struct json *j = f->stats ? json_parse(f->stats, strlen(f->stats), &e) : NULL;
	int64_t n;
	if (!j || json_i64(json_get(j, "numRecords"), &n) < 0 || n < 0)
		n = -1;
	json_free(j);
	return n;
}

/*
 * Row tracking: the domainMetadata line that records hwm, the highest row
 * id given so far, as the delta.rowTracking domain's rowIdHighWaterMark.
 * The ids a commit gives come after the mark of its snapshot, which holds
 * the commits it has read, winners included (PROTOCOL.md, "Row Tracking").
 */
static void put_row_id_mark(struct buf *out, int64_t hwm)
{
	char conf[64];
	snprintf(conf, sizeof conf, "{\"rowIdHighWaterMark\":%lld}", (long long)hwm);
	buf_puts(out, "{\"domainMetadata\":{\"domain\":\"delta.rowTracking\",\"configuration\":");
	buf_json_str(out, conf, strlen(conf));
	buf_puts(out, ",\"removed\":false}}\n");
}

/* The high water mark after the rows this commit adds (the snapshot's when it adds none). */
static int64_t row_id_mark_after(const struct delta_txn *t)
{
	int64_t hwm = delta_row_id_high_water_mark(t->snap);
	for (size_t i = 0; i < t->nadds; i++) {
		int64_t n = t->adds[i]->has_base_row_id ? 0 : file_rows(t->adds[i]);
		hwm += n > 0 ? n : 0;
	}
	return hwm;
}

int delta_txn_text(const struct delta_txn *t, int64_t now_ms, struct buf *out)
{
	struct buf tmp = BUF_INIT;
	/* Row tracking: row ids after the mark, and the commit version, for every file added. */
	int rt = t->creating ? 0 : delta_row_tracking(t->snap);
	int64_t hwm = rt ? delta_row_id_high_water_mark(t->snap) : -1, mark = hwm;
	int64_t version = t->version >= 0 ? t->version : t->snap->version + 1;
	buf_reset(out);
	buf_puts(out, "{\"commitInfo\":{");
	if (t->ict > 0)
		buf_printf(out, "\"inCommitTimestamp\":%lld,", (long long)t->ict);
	buf_printf(out, "\"timestamp\":%lld,\"operation\":", (long long)now_ms);
	buf_json_str(out, t->operation, strlen(t->operation));
	buf_puts(out, ",\"operationParameters\":");
	json_map(out, t->params.kv, t->params.n);
	if (t->read_version >= 0)
		buf_printf(out, ",\"readVersion\":%lld", (long long)t->read_version);
	buf_printf(out, ",\"isolationLevel\":\"%s\",\"isBlindAppend\":%s,\"operationMetrics\":",
	           t->isolation == DELTA_SERIALIZABLE ? "Serializable" : "WriteSerializable",
	           delta_txn_is_blind_append(t) ? "true" : "false");
	json_map(out, t->metrics.kv, t->metrics.n);
	/*
	 * With row tracking enabled, the stable row ids of rows copied are not
	 * kept (no materialized row id column is written): a commit that
	 * rewrites files says so, one that only adds keeps them all.
	 */
	if (rt == 2)
		buf_printf(out, ",\"tags\":{\"delta.rowTracking.preserved\":\"%s\"}",
		           t->nremoves && t->nadds ? "false" : "true");
	buf_printf(out, ",\"engineInfo\":\"%s\",\"txnId\":\"%s\"}}\n", DELTA_ENGINE, t->id);
	buf_append(out, t->protocol_json.data, t->protocol_json.len);
	buf_append(out, t->metadata_json.data, t->metadata_json.len);
	put_txn(out, t, now_ms);
	for (size_t i = 0; i < t->nremoves; i++) {
		const struct delta_file *f = t->removes[i];
		buf_puts(out, "{\"remove\":{\"path\":");
		put_path(out, f, &tmp);
		buf_printf(
		    out,
		    ",\"deletionTimestamp\":%lld,\"dataChange\":%s,\"extendedFileMetadata\":true,"
		    "\"partitionValues\":",
		    (long long)f->deletion_timestamp, f->data_change ? "true" : "false");
		json_map(out, f->partition_values.kv, f->partition_values.n);
		if (f->size >= 0)
			buf_printf(out, ",\"size\":%lld", (long long)f->size);
		if (f->stats) {
			buf_puts(out, ",\"stats\":");
			buf_json_str(out, f->stats, strlen(f->stats));
		}
		/* The logical file removed is the path with its deletion vector. */
		if (f->dv_json) {
			buf_puts(out, ",\"deletionVector\":");
			buf_puts(out, f->dv_json);
		}
		/* Those of the add that put it here. */
		if (f->has_base_row_id)
			buf_printf(out, ",\"baseRowId\":%lld", (long long)f->base_row_id);
		if (f->has_row_commit_version)
			buf_printf(out, ",\"defaultRowCommitVersion\":%lld",
			           (long long)f->default_row_commit_version);
		buf_puts(out, "}}\n");
	}
	for (size_t i = 0; i < t->nadds; i++) {
		const struct delta_file *f = t->adds[i];
		buf_puts(out, "{\"add\":{\"path\":");
		put_path(out, f, &tmp);
		buf_puts(out, ",\"partitionValues\":");
		json_map(out, f->partition_values.kv, f->partition_values.n);
		buf_printf(out, ",\"size\":%lld,\"modificationTime\":%lld,\"dataChange\":%s",
		           (long long)f->size, (long long)f->modification_time,
		           f->data_change ? "true" : "false");
		if (f->stats) {
			buf_puts(out, ",\"stats\":");
			buf_json_str(out, f->stats, strlen(f->stats));
		}
		if (f->has_base_row_id) {
			/* A file added again keeps the ids of the add that put it there. */
			buf_printf(out, ",\"baseRowId\":%lld", (long long)f->base_row_id);
			if (f->has_row_commit_version)
				buf_printf(out, ",\"defaultRowCommitVersion\":%lld",
				           (long long)f->default_row_commit_version);
		} else if (rt) {
			/* Fresh row ids, above every one given so far (the rows counted when committing). */
			int64_t n = file_rows(f);
			buf_printf(out, ",\"baseRowId\":%lld,\"defaultRowCommitVersion\":%lld",
			           (long long)(hwm + 1), (long long)version);
			hwm += n > 0 ? n : 0;
		}
		buf_puts(out, "}}\n");
	}
	if (rt && hwm > mark)
		put_row_id_mark(out, hwm);
	for (size_t i = 0; i < t->ncdcs; i++) {
		const struct delta_file *f = t->cdcs[i];
		buf_puts(out, "{\"cdc\":{\"path\":");
		put_path(out, f, &tmp);
		buf_puts(out, ",\"partitionValues\":");
		json_map(out, f->partition_values.kv, f->partition_values.n);
		buf_printf(out, ",\"size\":%lld,\"dataChange\":false}}\n", (long long)f->size);
	}
	int failed = buf_failed(&tmp) || buf_failed(out);
	buf_free(&tmp);
	return failed ? -1 : 0;
}

/* Winners ------------------------------------------------------------------------------ */

/* What a winning commit did, from its parsed actions. */
struct winner {
	int has_meta, has_protocol, removes, adds, blind;
	int64_t dup_version; /* its txn for our application at or above ours, or -1 */
	char *removed_ours;  /* a file we remove that it removed */
	char *removed_read;  /* a file we read that it removed */
	char *added_read;    /* a file it added where we read */
	int added_pred;      /* ... accepted by our read predicate */
};

/* Do the partition values of an add (JSON object) match a partition we read? */
static int in_partition(const struct json *pv, const struct delta_map *part)
{
	for (size_t i = 0; i < part->n; i++) {
		const struct json *v = json_get(pv, part->kv[i].key);
		const char *s = v ? json_str(v) : NULL;
		/* An empty string is null, as in partition values everywhere. */
		if (s && !*s)
			s = NULL;
		const char *want =
		    part->kv[i].value && *part->kv[i].value ? part->kv[i].value : NULL;
		if ((s == NULL) != (want == NULL) || (s && strcmp(s, want) != 0))
			return 0;
	}
	return 1;
}

/* The decoded path of an add or remove action, into tmp; NULL when it has none. */
static const char *action_path(const struct json *a, struct buf *tmp)
{
	const char *raw = json_str(json_get(a, "path"));
	if (!raw || delta_uri_decode(raw, tmp) < 0)
		return NULL;
	return tmp->data;
}

/*
 * Does the read predicate accept an added file (action a, partition values
 * pv)?  The file is shown as a struct delta_file whose strings point into
 * the parsed action; a file that cannot be shown (no path, memory) is
 * accepted, which can only cost a retry.
 */
static int pred_accepts(const struct delta_txn *t, const struct json *a, const struct json *pv,
                        struct buf *tmp)
{
	struct delta_file f;
	memset(&f, 0, sizeof f);
	f.path = (char *)action_path(a, tmp);
	if (!f.path)
		return 1;
	size_t n = pv && json_type(pv) == JSON_OBJECT ? json_size(pv) : 0;
	struct delta_kv *kv = calloc(n ? n : 1, sizeof *kv);
	if (!kv)
		return 1;
	for (const struct json *c = n ? json_first(pv) : NULL; c; c = json_next(c)) {
		kv[f.partition_values.n].key = (char *)json_key(c);
		kv[f.partition_values.n++].value =
		    json_type(c) == JSON_STRING ? (char *)json_str(c) : NULL;
	}
	f.partition_values.kv = kv;
	f.stats = (char *)json_str(json_get(a, "stats"));
	f.size = -1;
	f.deletion_timestamp = -1;
	int hit = t->read_pred(t->read_pred_arg, &f) != 0;
	free(kv);
	return hit;
}

static int txn_removes(const struct delta_txn *t, const char *path)
{
	for (size_t i = 0; i < t->nremoves; i++)
		if (strcmp(t->removes[i]->path, path) == 0)
			return 1;
	return 0;
}

/* Note one action of a winner in w. */
static void observe(const struct delta_txn *t, const struct json *j, struct winner *w,
                    struct buf *tmp)
{
	const struct json *a;
	if ((a = json_get(j, "commitInfo")) && json_type(a) == JSON_OBJECT) {
		int b = json_bool(json_get(a, "isBlindAppend"));
		if (b >= 0)
			w->blind = b;
	} else if ((a = json_get(j, "metaData")) && json_type(a) == JSON_OBJECT) {
		w->has_meta = 1;
	} else if ((a = json_get(j, "protocol")) && json_type(a) == JSON_OBJECT) {
		w->has_protocol = 1;
	} else if ((a = json_get(j, "txn")) && json_type(a) == JSON_OBJECT) {
		const char *app = json_str(json_get(a, "appId"));
		int64_t v;
		if (t->app && app && strcmp(app, t->app) == 0 &&
		    json_i64(json_get(a, "version"), &v) == 0 && v >= t->app_version &&
		    v > w->dup_version)
			w->dup_version = v;
	} else if ((a = json_get(j, "remove")) && json_type(a) == JSON_OBJECT) {
		w->removes++;
		const char *p = action_path(a, tmp);
		if (!p)
			return;
		if (!w->removed_ours && txn_removes(t, p))
			w->removed_ours = strdup(p);
		else if (!w->removed_read && (t->read_all || strmap_get(&t->read_files, p)))
			w->removed_read = strdup(p);
	} else if ((a = json_get(j, "add")) && json_type(a) == JSON_OBJECT) {
		w->adds++;
		/* Files added without a change of data (compaction) add no rows anyone could miss. */
		if (w->added_read || json_bool(json_get(a, "dataChange")) != 1)
			return;
		int hit = t->read_all;
		const struct json *pv = json_get(a, "partitionValues");
		for (size_t i = 0; !hit && i < t->nread_parts; i++)
			hit = in_partition(pv, &t->read_parts[i]);
		if (!hit && t->read_pred && (hit = pred_accepts(t, a, pv, tmp)) != 0)
			w->added_pred = 1;
		const char *p = hit ? action_path(a, tmp) : NULL;
		if (p)
			w->added_read = strdup(p);
	}
}

static void winner_free(struct winner *w)
{
	free(w->removed_ours);
	free(w->removed_read);
	free(w->added_read);
}

int delta_txn_check_winner(struct delta_txn *t, int64_t v, const char *text, size_t len,
                           struct err_msg *e)
{
	struct delta_snapshot *snap = t->snap;
	struct winner w = {0, 0, 0, 0, -1, -1, NULL, NULL, NULL, 0};
	struct buf tmp = BUF_INIT;
	const char *p = text, *end = text + len;
	int line = 0, rc = -1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *s = p;
		p = nl ? nl + 1 : end;
		line++;
		while (s < le && (*s == ' ' || *s == '\t' || *s == '\r'))
			s++;
		if (s == le)
			continue;
		struct err_msg je;
		struct json *j = json_parse(s, (size_t)(le - s), &je);
		if (!j || json_type(j) != JSON_OBJECT) {
			json_free(j);
			err_set(e, EX_DATAERR, "%s: version %lld, line %d: not a JSON action",
			        snap->root, (long long)v, line);
			goto out;
		}
		observe(t, j, &w, &tmp);
		/* The same parse keeps the snapshot current. */
		int ar = delta_apply_action(snap, v, j, &je);
		json_free(j);
		if (ar < 0) {
			err_set(e, je.status ? je.status : EX_DATAERR,
			        "%s: version %lld, line %d: %s", snap->root, (long long)v, line,
			        je.text);
			goto out;
		}
	}
	snap->version = v;
	/* A commit that says nothing about itself is blind if it only adds. */
	if (w.blind < 0)
		w.blind = !w.removes && !w.has_meta && !w.has_protocol;
	const char *root = snap->root;
	long long lv = (long long)v;
	if (w.has_protocol) {
		err_set(e, EX_TEMPFAIL, "%s: version %lld changed the table's protocol", root, lv);
		rc = DELTA_WINNER_PROTOCOL;
	} else if (w.has_meta) {
		err_set(e, EX_TEMPFAIL, "%s: version %lld changed the table's metadata", root, lv);
		rc = DELTA_WINNER_METADATA;
	} else if (w.dup_version >= 0) {
		err_set(e, 0, "%s: version %lld holds txn %s/%lld", root, lv, t->app,
		        (long long)w.dup_version);
		rc = DELTA_WINNER_DUPLICATE;
	} else if (w.removed_ours) {
		err_set(e, EX_TEMPFAIL,
		        "%s: version %lld removed %s, which this transaction removes", root, lv,
		        w.removed_ours);
		rc = DELTA_WINNER_DELETE_DELETE;
	} else if (w.removed_read) {
		err_set(e, EX_TEMPFAIL, "%s: version %lld removed %s, which this transaction read",
		        root, lv, w.removed_read);
		rc = DELTA_WINNER_DELETE_READ;
	} else if (w.added_read &&
	           (w.added_pred || !w.blind || t->isolation == DELTA_SERIALIZABLE)) {
		err_set(e, EX_TEMPFAIL, "%s: version %lld added %s where this transaction read",
		        root, lv, w.added_read);
		rc = DELTA_WINNER_APPEND_READ;
	} else {
		rc = DELTA_WINNER_COMPATIBLE;
	}
out:
	winner_free(&w);
	buf_free(&tmp);
	return rc;
}

/* Commit ---------------------------------------------------------------------------------- */

static int strv_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return 1;
}

static int map_equal(const struct delta_map *a, const struct delta_map *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		int found;
		const char *v = delta_map_get(b, a->kv[i].key, &found);
		const char *w = a->kv[i].value;
		if (!found || (v == NULL) != (w == NULL) || (v && strcmp(v, w) != 0))
			return 0;
	}
	return 1;
}

/* Did the protocol or the metadata change between two snapshots of a table? */
static int state_changed(const struct delta_snapshot *a, const struct delta_snapshot *b)
{
	const struct delta_protocol *p = &a->protocol, *q = &b->protocol;
	if (p->min_reader != q->min_reader || p->min_writer != q->min_writer ||
	    !strv_equal(p->reader_features, p->n_reader_features, q->reader_features,
	                q->n_reader_features) ||
	    !strv_equal(p->writer_features, p->n_writer_features, q->writer_features,
	                q->n_writer_features))
		return DELTA_WINNER_PROTOCOL;
	const struct delta_metadata *m = &a->meta, *n = &b->meta;
	if (strcmp(m->id, n->id) != 0 || strcmp(m->schema_string, n->schema_string) != 0 ||
	    !strv_equal(m->partition_columns, m->n_partition_columns, n->partition_columns,
	                n->n_partition_columns) ||
	    !map_equal(&m->configuration, &n->configuration))
		return DELTA_WINNER_METADATA;
	return 0;
}

/* Accept a protocol or metadata change when the caller's hook says the staged actions still hold. */
static int try_revalidate(struct delta_txn *t, int kind, struct delta_commit_info *info,
                          struct err_msg *e)
{
	struct err_msg re;
	if (t->revalidate && info->attempts < t->max_attempts &&
	    t->revalidate(t->revalidate_arg, t->snap, &re) == 0) {
		info->attempts++;
		return 0;
	}
	char what[ERR_MSG_MAX];
	snprintf(what, sizeof what, "%s", e->text);
	if (t->revalidate && info->attempts < t->max_attempts)
		err_set(e, EX_TEMPFAIL, "%s (%s); not committed", what, re.text);
	else if (t->revalidate)
		err_set(e, EX_TEMPFAIL, "%s; not committed after %lld such changes", what,
		        (long long)info->attempts);
	else
		err_set(e, EX_TEMPFAIL,
		        "%s while this transaction was prepared; not committed, "
		        "safe to run again",
		        what);
	info->conflict = kind;
	return -1;
}

/*
 * The log moved on past the snapshot by way of a newer checkpoint, so the
 * commits in between cannot be read one by one: load the table again and
 * judge the change as a whole.  A blind append (nothing read, nothing
 * removed) can still check everything that matters to it.
 */
static int reload(struct delta_txn *t, struct delta_commit_info *info, struct err_msg *e)
{
	struct delta_snapshot fresh;
	struct delta_load_opts o = {-1, -1, t->snap->no_files, 0, t->snap->no_tombstones};
	if (delta_store_load(t->store, &o, &fresh, e) < 0)
		return -1;
	if (t->nremoves || txn_reads(t)) {
		delta_snapshot_free(&fresh);
		err_set(e, EX_TEMPFAIL,
		        "%s: the log moved on past a newer checkpoint while this transaction was "
		        "prepared; not committed, safe to run again",
		        t->snap->root);
		return -1;
	}
	int kind = state_changed(t->snap, &fresh);
	info->winners += fresh.version - t->snap->version;
	delta_snapshot_free(t->snap);
	*t->snap = fresh;
	if (t->app && delta_txn_version(t->snap, t->app) >= t->app_version) {
		err_set(e, 0, "%s: version %lld holds txn %s/%lld", t->snap->root,
		        (long long)t->snap->version, t->app,
		        (long long)delta_txn_version(t->snap, t->app));
		info->duplicate = 1;
		return 1;
	}
	if (kind) {
		err_set(e, EX_TEMPFAIL, "%s: the table's %s changed", t->snap->root,
		        kind == DELTA_WINNER_PROTOCOL ? "protocol" : "metadata");
		return try_revalidate(t, kind, info, e);
	}
	return 0;
}

/* A copy of a list of strings; 0, or -1 (out of memory, *to holds what was copied). */
static int strv_copy(char ***to, size_t *nto, char *const *from, size_t n)
{
	*to = NULL;
	*nto = 0;
	if (!from)
		return 0;
	if (!(*to = calloc(n ? n : 1, sizeof **to)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!((*to)[i] = strdup(from[i])))
			return -1;
		(*nto)++;
	}
	return 0;
}

static char *dup_or_null(const char *s, int *bad)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*bad = 1;
	return d;
}

/* Copy every file of one map of a snapshot into another's (0, or -1 out of memory). */
static int files_copy(struct delta_snapshot *to, const struct strmap *from, int is_add)
{
	size_t i = 0;
	struct strmap_slot *s;
	struct err_msg ignored;
	while ((s = strmap_next(from, &i))) {
		struct delta_file *c = file_copy(s->value);
		if (!c || delta_snapshot_put_file(to, c, is_add, &ignored) < 0)
			return -1;
	}
	return 0;
}

/*
 * What a checkpoint of snap is written from, copied: the root, version,
 * protocol, metadata (the schema parsed again from its text), txns,
 * metadata domains, live files and tombstones.  NULL when out of
 * memory.
 */
static struct delta_snapshot *checkpoint_copy(const struct delta_snapshot *snap)
{
	struct delta_snapshot *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	int bad = 0;
	c->version = snap->version;
	c->timestamp = snap->timestamp;
	c->checkpoint_version = -1;
	c->has_protocol = snap->has_protocol;
	c->has_meta = snap->has_meta;
	c->root = dup_or_null(snap->root, &bad);
	const struct delta_protocol *p = &snap->protocol;
	c->protocol.min_reader = p->min_reader;
	c->protocol.min_writer = p->min_writer;
	const struct delta_metadata *m = &snap->meta;
	c->meta.id = dup_or_null(m->id, &bad);
	c->meta.name = dup_or_null(m->name, &bad);
	c->meta.description = dup_or_null(m->description, &bad);
	c->meta.provider = dup_or_null(m->provider, &bad);
	c->meta.schema_string = dup_or_null(m->schema_string, &bad);
	c->meta.created_time = m->created_time;
	/* The schema, for the parsed statistics and partition values (as the original parsed it). */
	struct err_msg se;
	if (bad ||
	    delta_schema_parse_json(m->schema_string, strlen(m->schema_string), &c->meta.schema,
	                            &se) < 0 ||
	    strv_copy(&c->protocol.reader_features, &c->protocol.n_reader_features,
	              p->reader_features, p->n_reader_features) < 0 ||
	    strv_copy(&c->protocol.writer_features, &c->protocol.n_writer_features,
	              p->writer_features, p->n_writer_features) < 0 ||
	    strv_copy(&c->meta.partition_columns, &c->meta.n_partition_columns,
	              m->partition_columns, m->n_partition_columns) < 0 ||
	    map_copy(&c->meta.format_options, &m->format_options) < 0 ||
	    map_copy(&c->meta.configuration, &m->configuration) < 0 ||
	    files_copy(c, &snap->files, 1) < 0 || files_copy(c, &snap->tombstones, 0) < 0)
		goto fail;
	size_t i = 0;
	struct strmap_slot *s;
	while ((s = strmap_next(&snap->txns, &i))) {
		const struct delta_set_txn *t = s->value;
		struct delta_set_txn *ct = calloc(1, sizeof *ct);
		if (!ct)
			goto fail;
		*ct = *t;
		if (!(ct->app_id = strdup(t->app_id)) ||
		    strmap_put(&c->txns, ct->app_id, ct, NULL) < 0) {
			free(ct->app_id);
			free(ct);
			goto fail;
		}
	}
	i = 0;
	while ((s = strmap_next(&snap->domains, &i))) {
		const struct delta_domain *d = s->value;
		struct delta_domain *cd = calloc(1, sizeof *cd);
		if (!cd)
			goto fail;
		if (!(cd->domain = strdup(d->domain)) ||
		    !(cd->configuration = strdup(d->configuration)) ||
		    strmap_put(&c->domains, cd->domain, cd, NULL) < 0) {
			free(cd->domain);
			free(cd->configuration);
			free(cd);
			goto fail;
		}
	}
	return c;
fail:
	delta_snapshot_free(c);
	free(c);
	return NULL;
}

static void *checkpointer_main(void *arg)
{
	struct delta_checkpointer *k = arg;
	k->run_ok = delta_checkpoint_write(k->cp, &k->run_err) == 0;
	return NULL;
}

struct delta_checkpointer *delta_checkpointer_new(void)
{
	return calloc(1, sizeof(struct delta_checkpointer));
}

/* Join the thread in flight, if any (wait 0: only if it has finished), keeping its result. */
static void checkpointer_join(struct delta_checkpointer *k, int wait)
{
	if (!k->running)
		return;
	if (wait)
		pthread_join(k->th, NULL);
	else if (pthread_tryjoin_np(k->th, NULL) != 0)
		return;
	k->running = 0;
	delta_snapshot_free(k->cp);
	free(k->cp);
	k->cp = NULL;
	if (k->nres == k->capres) {
		size_t cap = k->capres ? k->capres * 2 : 4;
		struct ckpt_result *r = realloc(k->res, cap * sizeof *r);
		if (!r) { /* without memory, the newest result stands for the last */
			if (k->nres)
				k->nres--;
			else
				return;
		} else {
			k->res = r;
			k->capres = cap;
		}
	}
	struct ckpt_result *r = &k->res[k->nres++];
	r->version = k->run_version;
	r->ok = k->run_ok;
	r->err = k->run_err;
}

int delta_checkpointer_poll(struct delta_checkpointer *k, int wait, int64_t *version,
                            struct err_msg *e)
{
	if (!k)
		return 0;
	if (!k->nres)
		checkpointer_join(k, wait);
	if (!k->nres)
		return 0;
	struct ckpt_result r = k->res[0];
	memmove(k->res, k->res + 1, --k->nres * sizeof *k->res);
	*version = r.version;
	if (r.ok)
		return 1;
	*e = r.err;
	return -1;
}

void delta_checkpointer_free(struct delta_checkpointer *k)
{
	if (!k)
		return;
	checkpointer_join(k, 1);
	free(k->res);
	free(k);
}

void delta_txn_set_checkpointer(struct delta_txn *t, struct delta_checkpointer *k)
{
	t->ckpt = k;
}

void delta_txn_set_barrier(struct delta_txn *t, int (*fn)(void *arg, struct err_msg *e), void *arg)
{
	t->barrier = fn;
	t->barrier_arg = arg;
}

/*
 * Hand the checkpoint of snap to the checkpointer's thread (waiting for
 * the one before it first): 1 when started, 0 when it could not be (out of
 * memory, no thread), to be written here instead.
 */
static int checkpoint_behind(struct delta_checkpointer *k, const struct delta_snapshot *snap)
{
	checkpointer_join(k, 1);
	struct delta_snapshot *cp = checkpoint_copy(snap);
	if (!cp)
		return 0;
	k->cp = cp;
	k->run_version = snap->version;
	k->run_ok = 0;
	err_clear(&k->run_err);
	/* Every signal blocked in the thread: they are the main thread's to take. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	k->running = pthread_create(&k->th, NULL, checkpointer_main, k) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!k->running) {
		delta_snapshot_free(cp);
		free(cp);
		k->cp = NULL;
		return 0;
	}
	return 1;
}

/*
 * Write the checkpoint that falls due at the version just committed, from
 * the snapshot in memory; a snapshot kept without file lists or without
 * tombstones is loaded whole at that version first, and kept so, so that
 * the checkpoints after it come from memory too.  With a checkpointer, a
 * copy of the snapshot is written by its thread while the caller goes on.
 */
static void checkpoint(struct delta_txn *t, struct delta_commit_info *info)
{
	struct delta_snapshot *snap = t->snap;
	if (snap->no_files || snap->no_tombstones) {
		struct delta_snapshot full;
		struct delta_load_opts o = {snap->version, -1, 0, 0, 0};
		if (delta_store_load(t->store, &o, &full, &info->checkpoint_err) < 0) {
			info->checkpoint = -1;
			return;
		}
		delta_snapshot_free(snap);
		*snap = full;
	}
	if (t->ckpt && checkpoint_behind(t->ckpt, snap)) {
		info->checkpoint = 2;
		return;
	}
	info->checkpoint = delta_checkpoint_write(snap, &info->checkpoint_err) < 0 ? -1 : 1;
}

/*
 * The version checksum file of version v, just committed (PROTOCOL.md,
 * "Version Checksum File"), when the table's state at v is known exactly:
 * from the snapshot's file lists, which hold every winner moved past; or,
 * for a snapshot kept without them, from the checksum file of v - 1 and
 * this commit's adds, when it removes nothing (the files it adds are new
 * ones: data files are never reused).  Otherwise none is written: readers
 * do without.  Nothing here fails the commit, which stands already; a
 * checksum file that cannot be written is left out.
 */
static void version_checksum(struct delta_txn *t, int64_t v)
{
	const struct delta_snapshot *snap = t->snap;
	int64_t files = 0, bytes = 0;
	if (!snap->has_meta || !snap->has_protocol || snap->version != v)
		return;
	if (!snap->no_files) {
		size_t i = 0;
		struct strmap_slot *s;
		while ((s = strmap_next(&snap->files, &i))) {
			const struct delta_file *f = s->value;
			files++;
			bytes += f->size;
		}
	} else {
		if (t->nremoves ||
		    delta_crc_read(snap->root, v - 1, snap->meta.id, &files, &bytes) < 0)
			return;
		for (size_t i = 0; i < t->nadds; i++) {
			files++;
			bytes += t->adds[i]->size;
		}
	}
	struct buf text = BUF_INIT;
	struct err_msg e;
	if (delta_crc_text(snap, files, bytes, t->id, delta_ict_enabled(snap) ? t->ict : 0,
	                   &text) == 0)
		delta_crc_put(snap->root, v, text.data, text.len, &e);
	buf_free(&text);
}

/* The actions of the commit that a snapshot without file lists keeps: protocol, metaData, txn. */
static int delta_txn_state_text(const struct delta_txn *t, int64_t now_ms, struct buf *out)
{
	buf_reset(out);
	buf_append(out, t->protocol_json.data, t->protocol_json.len);
	buf_append(out, t->metadata_json.data, t->metadata_json.len);
	put_txn(out, t, now_ms);
	int64_t before = delta_row_id_high_water_mark(t->snap), after;
	if (!t->creating && delta_row_tracking(t->snap) && (after = row_id_mark_after(t)) > before)
		put_row_id_mark(out, after);
	buf_reserve(out, 0);
	return buf_failed(out) ? -1 : 0;
}

int delta_ict_enabled(const struct delta_snapshot *s)
{
	const struct delta_protocol *p = &s->protocol;
	int listed = 0;
	for (size_t i = 0; i < p->n_writer_features && !listed; i++)
		listed = strcmp(p->writer_features[i], DELTA_ICT_FEATURE) == 0;
	return p->min_writer >= 7 && listed &&
	       strcasecmp(delta_property(s, "delta.enableInCommitTimestamps", "false"), "true") ==
	           0;
}

int delta_commit_ict(const char *text, size_t len, int64_t *ict)
{
	const char *s = text, *end = text + len;
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++;
	const char *nl = memchr(s, '\n', (size_t)(end - s));
	struct err_msg ignored;
	struct json *j = json_parse(s, (size_t)((nl ? nl : end) - s), &ignored);
	int ok = json_i64(json_get(json_get(j, "commitInfo"), "inCommitTimestamp"), ict) == 0;
	json_free(j);
	return ok ? 0 : -1;
}

/*
 * The in-commit timestamp of the snapshot's version into *out (0 for a
 * new table): as this process committed it, else from its commitInfo, or
 * the commit's time when it has none (a commit from before the feature was
 * enabled).  0, or -1 with e set.
 */
static int snapshot_ict(struct delta_txn *t, int64_t *out, struct err_msg *e)
{
	struct delta_snapshot *s = t->snap;
	*out = 0;
	if (s->version < 0)
		return 0;
	if (s->ict > 0 && s->ict_version == s->version) {
		*out = s->ict;
		return 0;
	}
	struct buf b = BUF_INIT;
	int got = delta_store_read(t->store, s->version, &b, e);
	if (got < 0) {
		buf_free(&b);
		return -1;
	}
	if (got != 0 || delta_commit_ict(b.data, b.len, out) < 0)
		*out = s->timestamp > 0 ? s->timestamp : 0;
	buf_free(&b);
	return 0;
}

/* The commit's in-commit timestamp, after `after` (0: none), and its text built with it. */
static int ict_text(struct delta_txn *t, int64_t after, int64_t *now, struct buf *text)
{
	int64_t at = ts_now() / 1000;
	t->ict = at > after ? at : after + 1;
	*now = t->ict;
	return delta_txn_text(t, *now, text);
}

int delta_txn_commit(struct delta_txn *t, struct delta_commit_info *info, struct err_msg *e)
{
	struct buf text = BUF_INIT, winner = BUF_INIT;
	struct delta_snapshot *snap = t->snap;
	int rc = -1, put = -1;
	memset(info, 0, sizeof *info);
	info->version = -1;
	if (t->creating && (!t->protocol_json.len || !t->metadata_json.len)) {
		err_set(e, EX_SOFTWARE, "%s: a new table needs protocol and metaData", snap->root);
		return -1;
	}
	int64_t now = ts_now() / 1000, last_ict = 0;
	if (!t->creating) {
		int c = delta_snapshot_check(snap, e);
		if (c < 0)
			goto out;
		if (c == DELTA_SNAPSHOT_STALE && (c = reload(t, info, e)) != 0) {
			rc = c;
			goto out;
		}
	}
	/*
	 * The table may have been deleted from the bucket since it was read (a
	 * writer that runs for long, a stream): nothing is committed into it.
	 */
	if (!t->creating && delta_store_log_present(t->store, snap->version, e) < 0)
		goto out;
	int ict = t->creating ? t->ict_feature && t->ict_property : delta_ict_enabled(snap);
	if (ict && snapshot_ict(t, &last_ict, e) < 0)
		goto out;
	/* Row tracking gives each file's rows their ids: their number must be known. */
	for (size_t i = 0; !t->creating && delta_row_tracking(snap) && i < t->nadds; i++)
		if (!t->adds[i]->has_base_row_id && file_rows(t->adds[i]) < 0) {
			err_set(e, EX_SOFTWARE,
			        "%s: %s: no numRecords in its statistics, so its rows cannot be "
			        "given row ids (delta.rowTracking)",
			        snap->root, t->adds[i]->path);
			goto out;
		}
	t->version = snap->version + 1;
	if ((ict ? ict_text(t, last_ict, &now, &text) : delta_txn_text(t, now, &text)) < 0) {
		err_set(e, EX_SOFTWARE, "%s: cannot build the commit: out of memory", snap->root);
		goto out;
	}
	if (delta_append_only(snap))
		for (size_t i = 0; i < t->nremoves; i++)
			if (t->removes[i]->data_change) {
				err_set(e, EX_DATAERR,
				        "%s: the table is append-only (delta.appendOnly=true): a "
				        "%s that "
				        "removes rows is refused",
				        snap->root, t->operation);
				goto out;
			}
	int64_t v = snap->version + 1;
	for (;;) {
		put = delta_store_put_after(t->store, v, text.data, text.len, t->barrier,
		                            t->barrier_arg, e);
		if (put == DELTA_PUT_DONE || put == DELTA_PUT_UNSYNCED)
			break;
		if (put == DELTA_PUT_UNKNOWN)
			info->unknown = 1;
		if (put < 0 || put == DELTA_PUT_UNKNOWN)
			goto out;
		/* Taken: move past every winner from v on, then try the first free version. */
		int64_t next = v;
		for (;; next++) {
			int got = delta_store_read(t->store, next, &winner, e);
			if (got == 1)
				break;
			if (got < 0)
				goto out;
			int k = delta_txn_check_winner(t, next, winner.data, winner.len, e);
			if (k < 0)
				goto out;
			info->winners++;
			int64_t w;
			if (delta_commit_ict(winner.data, winner.len, &w) == 0 && w > last_ict)
				last_ict = w;
			if (k == DELTA_WINNER_DUPLICATE) {
				info->duplicate = 1;
				rc = 1;
				goto out;
			}
			if ((k == DELTA_WINNER_PROTOCOL || k == DELTA_WINNER_METADATA) &&
			    !t->creating) {
				if (try_revalidate(t, k, info, e) < 0)
					goto out;
				continue;
			}
			if (k != DELTA_WINNER_COMPATIBLE) {
				char what[ERR_MSG_MAX];
				snprintf(what, sizeof what, "%s", e->text);
				err_set(e, EX_TEMPFAIL, "%s; not committed, safe to run again",
				        what);
				info->conflict = k;
				goto out;
			}
		}
		if (next == v) {
			err_set(e, EX_TEMPFAIL, "%s: version %lld exists but cannot be read",
			        snap->root, (long long)v);
			goto out;
		}
		v = next;
		/*
		 * After the winners (one of which may have turned in-commit
		 * timestamps on or off): a timestamp later than theirs.  With row
		 * tracking, the files' row ids come after the ones the winners
		 * gave, and their commit version is the new one.
		 */
		int was = t->ict > 0;
		ict = t->creating ? t->ict_feature && t->ict_property : delta_ict_enabled(snap);
		t->ict = 0;
		t->version = v;
		if ((ict || was || !t->creating) && (ict ? ict_text(t, last_ict, &now, &text)
		                                         : delta_txn_text(t, now, &text)) < 0) {
			err_set(e, EX_SOFTWARE, "%s: cannot build the commit: out of memory",
			        snap->root);
			goto out;
		}
	}
	info->version = v;
	if (put == DELTA_PUT_UNSYNCED) {
		info->unsynced = 1;
		info->sync_err = *e;
	}
	/*
	 * Keep the snapshot current for whatever this process commits next.  A
	 * snapshot without file lists needs only the actions it keeps: the
	 * adds of a large batch need not be parsed again.
	 */
	if (snap->no_files && delta_txn_state_text(t, now, &winner) < 0) {
		err_set(e, EX_SOFTWARE, "%s: out of memory", snap->root);
		goto out;
	}
	const struct buf *mine = snap->no_files ? &winner : &text;
	if (delta_snapshot_apply(snap, v, mine->data, mine->len, e) < 0)
		goto out;
	snap->version = v;
	snap->timestamp = now;
	snap->ict = t->ict;
	snap->ict_version = v;
	rc = 0;
	if (!t->creating && v > 0 && v % delta_checkpoint_interval(snap) == 0)
		checkpoint(t, info);
	/* Only once N.json is in _delta_log (an unsynced put may not have put it there). */
	if (put == DELTA_PUT_DONE)
		version_checksum(t, v);
out:
	buf_free(&text);
	buf_free(&winner);
	return rc;
}

/*
 * delta_checkpoint: checkpoints, read (classic and multi-part ones, and the
 * V2 ones of the v2Checkpoint feature: UUID-named JSON or Parquet files,
 * or classic ones with a checkpointMetadata row, whose add and remove
 * actions may be in sidecar files) and written (classic V1 Parquet only,
 * which the protocol allows in every table).
 *
 * A V2 checkpoint is read as a classic one is, its checkpointMetadata and
 * sidecar actions gathered on the way (struct cp_v2), then checked, and
 * its sidecars read as checkpoint parts that hold add and remove actions
 * alone (cp_load_v2()); a JSON one line by line, as a commit.
 *
 * Reading looks every column up by name, so Spark's, delta-rs's and our own
 * layouts all work; only the action columns replay needs are selected
 * (txn, add, remove, metaData, protocol), and stats_parsed is ignored when
 * the JSON stats are there (they are enough for file skipping); a
 * checkpoint without add.stats (delta.checkpoint.writeStatsAsJson false)
 * is read row by row, its stats_parsed turned back into JSON.  Every program
 * that opens a table pays for this read, so it is kept lean: the file is
 * read whole in one go (cp_open()), the add and remove actions, most of a
 * checkpoint, are decoded column by column into the file list, each file in
 * one allocation (cp_file_block()), and the rare others as rows, the rows
 * that hold none of them skipped without being assembled
 * (cp_load_columns()).  A writer, which
 * keeps no file lists, does not decode the add and remove columns of a
 * checkpoint with checksums but verifies their pages, and reads any other
 * checkpoint whole: it refuses what readers refuse.  Writing uses
 * the full classic schema of Spark 3 / Delta 3 so that every engine reads
 * the file: one row per action, exactly one action column set per row,
 * with the statistics as the table's properties ask (struct cp_layout).
 */
#include "delta/delta.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta/delta_internal.h"
#include "delta/delta_rows.h"
#include "parquet/parquet.h"
#include "text/decimal.h"
#include "text/jscan.h"
#include "text/json.h"
#include "text/ts.h"

/* Reading ------------------------------------------------------------------------ */

/* The child value named name of struct/row value v whose schema field is field. */
static const struct pq_value *cp_child(const struct pq_reader *r, int field,
                                       const struct pq_value *v, const char *name, int *child_field)
{
	const struct pq_schema *s = pq_reader_schema(r);
	const struct pq_field *f = pq_schema_field(s, field);
	if (!v || v->kind != PQ_V_STRUCT || !f)
		return NULL;
	uint32_t k = 0;
	for (int i = 0; i < f->nchildren; i++) {
		int c = f->children[i];
		if (!pq_reader_selected(r, c))
			continue;
		if (k >= v->n)
			return NULL;
		if (strcmp(pq_schema_field(s, c)->name, name) == 0) {
			if (child_field)
				*child_field = c;
			return &v->items[k];
		}
		k++;
	}
	return NULL;
}

static char *cp_str(const struct pq_value *v)
{
	if (!v || v->kind != PQ_V_BYTES)
		return NULL;
	char *s = malloc(v->bytes.len + 1);
	if (s) {
		memcpy(s, v->bytes.p, v->bytes.len);
		s[v->bytes.len] = '\0';
	}
	return s;
}

/*
 * A deletion vector descriptor as JSON text (delta_file.dv_json), from its
 * fields (st and pd not NUL-terminated; offset -1 when absent).
 */
static char *cp_dv_json(const uint8_t *st, size_t stn, const uint8_t *pd, size_t pdn,
                        int64_t offset, int64_t size, int64_t card)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "{\"storageType\":");
	buf_json_str(&b, (const char *)st, stn);
	buf_puts(&b, ",\"pathOrInlineDv\":");
	buf_json_str(&b, (const char *)pd, pdn);
	if (offset >= 0)
		buf_printf(&b, ",\"offset\":%lld", (long long)offset);
	buf_printf(&b, ",\"sizeInBytes\":%lld,\"cardinality\":%lld}", (long long)size,
	           (long long)card);
	if (buf_failed(&b)) {
		buf_free(&b);
		return NULL;
	}
	return buf_detach(&b);
}

static int64_t cp_i64(const struct pq_value *v, int64_t def)
{
	if (!v)
		return def;
	if (v->kind == PQ_V_I64)
		return v->i64;
	if (v->kind == PQ_V_I32)
		return v->i32;
	return def;
}

/* Append a JSON string member "key":"value" (or null) to out. */
static void cp_json_member(struct buf *out, const char *key, const struct pq_value *v, int *first)
{
	if (!*first)
		buf_putc(out, ',');
	*first = 0;
	buf_json_str(out, key, strlen(key));
	buf_putc(out, ':');
	if (!v || v->kind == PQ_V_NULL)
		buf_puts(out, "null");
	else if (v->kind == PQ_V_BYTES)
		buf_json_str(out, (const char *)v->bytes.p, v->bytes.len);
	else if (v->kind == PQ_V_BOOL)
		buf_puts(out, v->b ? "true" : "false");
	else
		buf_i64(out, cp_i64(v, 0));
}

/* A map<string,string> value as a JSON object. */
static void cp_json_map(struct buf *out, const struct pq_value *v)
{
	if (!v || v->kind != PQ_V_MAP) {
		buf_puts(out, "null");
		return;
	}
	buf_putc(out, '{');
	int first = 1;
	for (uint32_t i = 0; i < v->n; i++) {
		const struct pq_value *k = &v->items[2 * i], *val = &v->items[2 * i + 1];
		if (k->kind != PQ_V_BYTES)
			continue;
		char *key = cp_str(k);
		if (key)
			cp_json_member(out, key, val, &first);
		free(key);
	}
	buf_putc(out, '}');
}

static void cp_json_list(struct buf *out, const struct pq_value *v)
{
	if (!v || v->kind != PQ_V_LIST) {
		buf_puts(out, "null");
		return;
	}
	buf_putc(out, '[');
	for (uint32_t i = 0; i < v->n; i++) {
		if (i)
			buf_putc(out, ',');
		if (v->items[i].kind == PQ_V_BYTES)
			buf_json_str(out, (const char *)v->items[i].bytes.p, v->items[i].bytes.len);
		else
			buf_puts(out, "null");
	}
	buf_putc(out, ']');
}

/*
 * Turn one checkpoint row into the JSON text of the action it holds, so that
 * checkpoints and commits go through the same replay code.
 */
static int cp_row_to_json(const struct pq_reader *r, const struct pq_value *row, struct buf *out)
{
	static const char *const actions[] = {"add",      "remove",        "metaData",
	                                      "protocol", "txn",           "checkpointMetadata",
	                                      "sidecar",  "domainMetadata"};
	buf_reset(out);
	for (size_t i = 0; i < sizeof actions / sizeof *actions; i++) {
		int af;
		const struct pq_value *a = cp_child(r, PQ_ROOT, row, actions[i], &af);
		if (!a || a->kind != PQ_V_STRUCT)
			continue;
		const struct pq_schema *s = pq_reader_schema(r);
		const struct pq_field *f = pq_schema_field(s, af);
		buf_puts(out, "{");
		buf_json_str(out, actions[i], strlen(actions[i]));
		buf_puts(out, ":{");
		int first = 1;
		uint32_t k = 0;
		for (int c = 0; c < f->nchildren; c++) {
			int cf = f->children[c];
			if (!pq_reader_selected(r, cf))
				continue;
			const struct pq_value *v = k < a->n ? &a->items[k] : NULL;
			k++;
			const struct pq_field *fc = pq_schema_field(s, cf);
			const char *name = fc->name;
			if (fc->type == PQ_MAP) {
				if (!first)
					buf_putc(out, ',');
				first = 0;
				buf_json_str(out, name, strlen(name));
				buf_putc(out, ':');
				cp_json_map(out, v);
			} else if (fc->type == PQ_LIST) {
				if (!first)
					buf_putc(out, ',');
				first = 0;
				buf_json_str(out, name, strlen(name));
				buf_putc(out, ':');
				cp_json_list(out, v);
			} else if (fc->type == PQ_STRUCT) {
				/* format {provider, options}; deletionVector: only whether it is set. */
				if (!first)
					buf_putc(out, ',');
				first = 0;
				buf_json_str(out, name, strlen(name));
				buf_putc(out, ':');
				if (!v || v->kind != PQ_V_STRUCT) {
					buf_puts(out, "null");
				} else if (strcmp(name, "format") == 0) {
					int pf;
					const struct pq_value *prov =
					    cp_child(r, cf, v, "provider", &pf);
					const struct pq_value *opt =
					    cp_child(r, cf, v, "options", NULL);
					int f2 = 1;
					buf_putc(out, '{');
					cp_json_member(out, "provider", prov, &f2);
					buf_puts(out, ",\"options\":");
					cp_json_map(out, opt);
					buf_putc(out, '}');
				} else {
					buf_puts(out, "{}");
				}
			} else {
				cp_json_member(out, name, v, &first);
			}
		}
		buf_puts(out, "}}");
		return 1;
	}
	return 0;
}

/* A map<string,string> value into a delta_map (values may be null). */
static int cp_map(const struct pq_value *v, struct delta_map *m)
{
	memset(m, 0, sizeof *m);
	if (!v || v->kind != PQ_V_MAP || v->n == 0)
		return 0;
	m->kv = calloc(v->n, sizeof *m->kv);
	if (!m->kv)
		return -1;
	for (uint32_t i = 0; i < v->n; i++) {
		const struct pq_value *k = &v->items[2 * i], *val = &v->items[2 * i + 1];
		if (k->kind != PQ_V_BYTES)
			continue;
		struct delta_kv *kv = &m->kv[m->n++];
		kv->key = cp_str(k);
		kv->value = val->kind == PQ_V_BYTES ? cp_str(val) : NULL;
		if (!kv->key || (val->kind == PQ_V_BYTES && !kv->value))
			return -1;
	}
	return 0;
}

/*
 * Finish a file read from an add or remove action (raw_path and the rest
 * set, path not yet) and put it into the snapshot, or check it and drop it
 * without file lists.  f is consumed.
 */
static int cp_file_put(struct delta_snapshot *snap, struct delta_file *f, int is_add,
                       int64_t version, struct buf *path, struct err_msg *e)
{
	if (!f->raw_path || !*f->raw_path) {
		delta_file_free(f);
		err_set(e, EX_DATAERR, "%s action without a path", is_add ? "add" : "remove");
		return -1;
	}
	/* Most paths have no escape: decoding them would copy them a byte at a time. */
	if (!strchr(f->raw_path, '%')) {
		f->path = strdup(f->raw_path);
	} else if (delta_uri_decode(f->raw_path, path) < 0) {
		err_set(e, EX_DATAERR, "path \"%s\" has a malformed %%-escape", f->raw_path);
		delta_file_free(f);
		return -1;
	} else {
		f->path = strdup(path->data);
	}
	f->version = version;
	if (!f->path) {
		delta_file_free(f);
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	if (snap->no_files) {
		/* Checked like any other action, then left out. */
		delta_file_free(f);
		return 0;
	}
	return delta_snapshot_put_file(snap, f, is_add, e);
}

/*
 * A statistic of add.stats_parsed (a value of schema field f) as the JSON
 * add.stats gives it (delta_stats.c): 0, or -1 for one that JSON statistics
 * have no form for (binary, NaN, infinities).
 */
static int cp_stat_json(const struct pq_field *f, const struct pq_value *v, struct buf *out)
{
	char tmp[DEC_TEXT_MAX + TS_TEXT_MAX];
	switch (v->kind) {
	case PQ_V_BOOL:
		return buf_puts(out, v->b ? "true" : "false");
	case PQ_V_I32:
		if (f->type != PQ_DATE)
			return buf_i64(out, v->i32);
		ts_format_date(v->i32, tmp);
		return buf_printf(out, "\"%s\"", tmp);
	case PQ_V_I64:
		if (f->type != PQ_TIMESTAMP && f->type != PQ_TIMESTAMP_NTZ)
			return buf_i64(out, v->i64);
		size_t n = ts_format_rfc3339_ms(v->i64, tmp);
		if (f->type == PQ_TIMESTAMP_NTZ)
			tmp[n - 1] = '\0'; /* no offset */
		return buf_printf(out, "\"%s\"", tmp);
	case PQ_V_F32:
	case PQ_V_F64: {
		double d = v->kind == PQ_V_F32 ? v->f32 : v->f64;
		if (d != d || d - d != 0)
			return -1;
		return buf_json_number(out, d, v->kind == PQ_V_F32);
	}
	case PQ_V_BYTES:
		if (f->type != PQ_STRING)
			return -1;
		return buf_json_str(out, (const char *)v->bytes.p, v->bytes.len);
	case PQ_V_DEC:
		dec_format_fixed(v->dec, f->scale, tmp);
		return buf_puts(out, tmp);
	default:
		return -1;
	}
}

/* Struct value v of field f of add.stats_parsed as the JSON object add.stats would hold. */
static int cp_stats_json(const struct pq_reader *r, int f, const struct pq_value *v,
                         struct buf *out, struct buf *tmp)
{
	const struct pq_schema *s = pq_reader_schema(r);
	const struct pq_field *pf = pq_schema_field(s, f);
	int first = 1;
	uint32_t k = 0;
	buf_putc(out, '{');
	for (int i = 0; i < pf->nchildren; i++) {
		int c = pf->children[i];
		if (!pq_reader_selected(r, c))
			continue;
		const struct pq_value *cv = k < v->n ? &v->items[k] : NULL;
		k++;
		if (!cv || cv->kind == PQ_V_NULL)
			continue;
		const struct pq_field *cf = pq_schema_field(s, c);
		buf_reset(tmp);
		if (cv->kind != PQ_V_STRUCT && cp_stat_json(cf, cv, tmp) < 0)
			continue;
		if (!first)
			buf_putc(out, ',');
		first = 0;
		buf_json_str(out, cf->name, strlen(cf->name));
		buf_putc(out, ':');
		if (cv->kind == PQ_V_STRUCT)
			cp_stats_json(r, c, cv, out, tmp);
		else
			buf_append(out, tmp->data, tmp->len);
	}
	return buf_putc(out, '}');
}

/*
 * An add or remove row straight into the snapshot, for checkpoints read
 * row by row (when cp_load_columns() cannot read their layout).  An add
 * without add.stats takes its statistics from add.stats_parsed, as a
 * checkpoint written with delta.checkpoint.writeStatsAsJson false has them.
 */
static int cp_file(struct delta_snapshot *snap, const struct pq_reader *r, int af,
                   const struct pq_value *a, int is_add, int64_t version, struct buf *path,
                   struct err_msg *e)
{
	struct delta_file *f = calloc(1, sizeof *f);
	if (!f) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	f->raw_path = cp_str(cp_child(r, af, a, "path", NULL));
	f->size = cp_i64(cp_child(r, af, a, "size", NULL), -1);
	f->modification_time = cp_i64(cp_child(r, af, a, "modificationTime", NULL), -1);
	f->deletion_timestamp = cp_i64(cp_child(r, af, a, "deletionTimestamp", NULL), -1);
	f->base_row_id = cp_i64(cp_child(r, af, a, "baseRowId", NULL), -1);
	f->has_base_row_id = f->base_row_id >= 0;
	f->default_row_commit_version =
	    cp_i64(cp_child(r, af, a, "defaultRowCommitVersion", NULL), -1);
	f->has_row_commit_version = f->default_row_commit_version >= 0;
	const struct pq_value *dc = cp_child(r, af, a, "dataChange", NULL);
	f->data_change = dc && dc->kind == PQ_V_BOOL && dc->b;
	f->stats = cp_str(cp_child(r, af, a, "stats", NULL));
	int spf;
	const struct pq_value *sp = cp_child(r, af, a, "stats_parsed", &spf);
	if (!f->stats && sp && sp->kind == PQ_V_STRUCT) {
		struct buf js = BUF_INIT, tmp = BUF_INIT;
		cp_stats_json(r, spf, sp, &js, &tmp);
		buf_free(&tmp);
		if (buf_failed(&js)) {
			buf_free(&js);
			delta_file_free(f);
			err_set(e, EX_SOFTWARE, "out of memory");
			return -1;
		}
		f->stats = buf_detach(&js);
	}
	int dvf;
	const struct pq_value *dv = cp_child(r, af, a, "deletionVector", &dvf);
	f->has_deletion_vector = dv && dv->kind == PQ_V_STRUCT;
	if (f->has_deletion_vector) {
		const struct pq_value *st = cp_child(r, dvf, dv, "storageType", NULL);
		const struct pq_value *pd = cp_child(r, dvf, dv, "pathOrInlineDv", NULL);
		if (!st || st->kind != PQ_V_BYTES || !pd || pd->kind != PQ_V_BYTES) {
			delta_file_free(f);
			err_set(e, EX_DATAERR, "a deletionVector without its storage type or path");
			return -1;
		}
		f->dv_json = cp_dv_json(st->bytes.p, st->bytes.len, pd->bytes.p, pd->bytes.len,
		                        cp_i64(cp_child(r, dvf, dv, "offset", NULL), -1),
		                        cp_i64(cp_child(r, dvf, dv, "sizeInBytes", NULL), -1),
		                        cp_i64(cp_child(r, dvf, dv, "cardinality", NULL), -1));
		if (!f->dv_json) {
			delta_file_free(f);
			err_set(e, EX_SOFTWARE, "out of memory");
			return -1;
		}
	}
	const struct pq_value *tags = cp_child(r, af, a, "tags", NULL);
	if (tags && tags->kind == PQ_V_MAP) {
		struct buf t = BUF_INIT;
		cp_json_map(&t, tags);
		f->tags_json = buf_detach(&t);
	}
	if (cp_map(cp_child(r, af, a, "partitionValues", NULL), &f->partition_values) < 0) {
		delta_file_free(f);
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	return cp_file_put(snap, f, is_add, version, path, e);
}

/*
 * Record why a checkpoint cannot be used, naming its version and its file
 * (path, shown from the table's root; a reason from the Parquet reader,
 * which starts with the full path, is given without it): replay then
 * looks for another way.
 */
static int cp_unusable(struct err_msg *e, const struct delta_snapshot *snap, const char *path,
                       int64_t version, int status, const char *why)
{
	char text[ERR_MSG_MAX];
	size_t rl = strlen(snap->root), pl = strlen(path);
	if (strncmp(why, path, pl) == 0 && strncmp(why + pl, ": ", 2) == 0)
		why += pl + 2;
	if (strncmp(path, snap->root, rl) == 0 && path[rl] == '/')
		path += rl + 1;
	snprintf(text, sizeof text, "%s", why);
	err_set(e, status ? status : EX_DATAERR, "%s: checkpoint of version %lld: %s: %s",
	        snap->root, (long long)version, path, text);
	return -1;
}

/* V2 checkpoints ---------------------------------------------------------------- */

/* A sidecar action: the file (its path as written) and its size. */
struct cp_sidecar {
	char *path;
	int64_t size;
};

/*
 * What the V2 actions of a checkpoint say, gathered while its rows are
 * read (checkpointMetadata and sidecar go nowhere else: they take no part
 * in replay), and how many add and remove actions it holds itself.
 */
struct cp_v2 {
	int64_t metas;        /* checkpointMetadata actions */
	int64_t meta_version; /* the version the first one gives */
	int64_t files;        /* add and remove actions in the checkpoint itself */
	struct cp_sidecar *sc;
	size_t nsc, cap;
	int files_only; /* reading a sidecar: its add and remove actions alone */
};

static void cp_v2_free(struct cp_v2 *v2)
{
	for (size_t i = 0; i < v2->nsc; i++)
		free(v2->sc[i].path);
	free(v2->sc);
}

/*
 * Apply one parsed action of a checkpoint: the V2 ones into v2, every
 * other to the snapshot as a commit's would be.
 */
static int cp_apply(struct delta_snapshot *snap, struct cp_v2 *v2, int64_t version,
                    const struct json *j, struct err_msg *e)
{
	const struct json *a;
	int64_t n;
	if ((a = json_get(j, "checkpointMetadata")) && json_type(a) == JSON_OBJECT) {
		if (json_i64(json_get(a, "version"), &n) < 0) {
			err_set(e, EX_DATAERR, "checkpointMetadata without a version");
			return -1;
		}
		if (v2->metas++ == 0)
			v2->meta_version = n;
		return 0;
	}
	if ((a = json_get(j, "sidecar")) && json_type(a) == JSON_OBJECT) {
		const char *path = json_str(json_get(a, "path"));
		int64_t t;
		if (!path || !*path || json_i64(json_get(a, "sizeInBytes"), &n) < 0 || n < 0 ||
		    json_i64(json_get(a, "modificationTime"), &t) < 0) {
			err_set(e, EX_DATAERR,
			        "sidecar action without a path, sizeInBytes and modificationTime");
			return -1;
		}
		if (v2->nsc == v2->cap) {
			size_t cap = v2->cap ? v2->cap * 2 : 8;
			struct cp_sidecar *m = realloc(v2->sc, cap * sizeof *m);
			if (!m) {
				err_set(e, EX_SOFTWARE, "out of memory");
				return -1;
			}
			v2->sc = m;
			v2->cap = cap;
		}
		if (!(v2->sc[v2->nsc].path = strdup(path))) {
			err_set(e, EX_SOFTWARE, "out of memory");
			return -1;
		}
		v2->sc[v2->nsc++].size = n;
		return 0;
	}
	if ((json_get(j, "add") && json_type(json_get(j, "add")) == JSON_OBJECT) ||
	    (json_get(j, "remove") && json_type(json_get(j, "remove")) == JSON_OBJECT))
		v2->files++;
	return delta_apply_action(snap, version, j, e);
}

/* Is a log path well formed: not empty, every '%' followed by two hex digits? */
static int cp_path_ok(const uint8_t *p, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] == '%' && !(i + 2 < n && isxdigit(p[i + 1]) && isxdigit(p[i + 2])))
			return 0;
	return 1;
}

/*
 * Without file lists (no_files), the adds of a checksummed checkpoint are
 * only counted (against _last_checkpoint), and its removes (a V2
 * checkpoint's files are all in it or all in sidecars): from the footer's
 * statistics of add.path (remove.path) when every row group has them, else
 * by reading that one column,
 * each path checked as a full read would check it.  Rows are never
 * assembled per file (a checkpoint of a large table is mostly adds).
 */
static int cp_count_paths(struct pq_reader *r, const char *column, int64_t *count, const char **why,
                          struct err_msg *pe)
{
	const struct pq_schema *sch = pq_reader_schema(r);
	int f = pq_schema_find(sch, column);
	const struct pq_field *pf = f >= 0 ? pq_schema_field(sch, f) : NULL;
	if (!pf)
		return 0;
	if (pf->leaf < 0 || (pf->type != PQ_STRING && pf->type != PQ_BINARY)) {
		*why = "a path column that is not a string";
		return -1;
	}
	int64_t counted = 0;
	int nrg = pq_reader_num_row_groups(r), rg;
	for (rg = 0; rg < nrg; rg++) {
		struct pq_stats st;
		if (pq_reader_stats(r, rg, pf->leaf, &st) < 0 || st.null_count < 0 ||
		    st.null_count > st.num_values ||
		    st.num_values != pq_reader_row_group_rows(r, rg))
			break;
		counted += st.num_values - st.null_count;
	}
	if (rg == nrg) {
		*count += counted;
		return 0;
	}
	for (rg = 0; rg < nrg; rg++) {
		struct pq_column *c = pq_column_open(r, rg, pf->leaf, pe);
		if (!c)
			return -1;
		struct pq_column_batch b;
		ssize_t n;
		while ((n = pq_column_read(c, &b, 4096, pe)) > 0)
			for (size_t i = 0; i < b.n; i++) {
				if (b.valid && !b.valid[i])
					continue;
				if (!cp_path_ok(b.bytes[i].p, b.bytes[i].len)) {
					pq_column_close(c);
					*why = "an add or remove without a path, or with a "
					       "malformed %-escape in it";
					return -1;
				}
				++*count;
			}
		pq_column_close(c);
		if (n < 0)
			return -1;
	}
	return 0;
}

/*
 * Without file lists the add and remove columns are not read, but readers
 * decode them, and refuse a checkpoint whose pages are damaged; a writer
 * must refuse it too, or it would commit on top of a state that nobody can
 * read.  So their column chunks are verified (pq_column_verify(): page
 * checksums and headers, decoding only the pages those cannot vouch for),
 * which costs a fraction of decoding them.
 */
static int cp_verify_files(struct pq_reader *r, struct err_msg *pe)
{
	const struct pq_schema *sch = pq_reader_schema(r);
	int add_f = pq_schema_child(sch, PQ_ROOT, "add");
	int remove_f = pq_schema_child(sch, PQ_ROOT, "remove");
	int nrg = pq_reader_num_row_groups(r);
	for (int leaf = 0; leaf < pq_schema_nleaves(sch); leaf++) {
		/* The action column the leaf belongs to. */
		int f = pq_schema_leaf_field(sch, leaf);
		while (f > PQ_ROOT && pq_schema_field(sch, f)->parent != PQ_ROOT)
			f = pq_schema_field(sch, f)->parent;
		if (f < 0 || (f != add_f && f != remove_f))
			continue;
		for (int rg = 0; rg < nrg; rg++)
			if (pq_column_verify(r, rg, leaf, pe) < 0)
				return -1;
	}
	return 0;
}

/* Reading add and remove column by column ---------------------------------------- */

/*
 * A checkpoint of a large table is mostly add actions, and assembling each
 * as a generic row (every leaf of the struct, strings copied into the row,
 * then copied again into the file list) costs most of a replay.  So the
 * add and remove leaves that replay keeps are decoded column by column,
 * straight from the column chunks into the file list, in step with a row
 * reader that assembles only the rare actions (metaData, protocol, txn)
 * and skips the rows without one (pq_reader_skip_null_rows(), which
 * checks them as assembling them would).
 * The other leaves of add and remove (stats_parsed, row tracking, ...)
 * are verified as a writer verifies them (cp_verify_files()): a damaged
 * page is refused as a full read refuses it.
 *
 * Levels are read as the row reader reads them: an action is set when the
 * definition level of its path reaches the action's, a field is null below
 * its maximum, a map's entries continue while the repetition level is 1.
 * Only the layouts whose levels follow from the schema this way (fields
 * in structs, map<string,string> as a repeated key_value group) are read
 * so; any other checkpoint is read row by row.
 */

/* One leaf, read entry by entry in step with the others. */
struct cp_col {
	int leaf; /* -1: not in the file */
	int max_def, max_rep, required;
	enum pq_vkind kind;
	struct pq_column *c;
	struct pq_column_batch b;
	size_t i;
};

struct cp_mapcols {
	int dl; /* definition level at which the map is set (not null) */
	struct cp_col key, val;
};

struct cp_actcols {
	int field; /* add or remove; -1: not in the file */
	int dl;    /* definition level at which the action is set */
	struct cp_col path, size, mtime, dts, dc, stats, dv;
	struct cp_col dvpath, dvoff, dvsize, dvcard; /* the deletion vector's other fields */
	struct cp_col brid, rcv;                     /* baseRowId, defaultRowCommitVersion */
	int dv_dl;
	struct cp_mapcols pv, tags;
};

#define CP_KIND(k) (1u << (k))

/* Definition level at which field f (below structs only) has a value. */
static int cp_def_level(const struct pq_schema *s, int f)
{
	int d = 0;
	for (; f > PQ_ROOT; f = pq_schema_field(s, f)->parent)
		d += pq_schema_field(s, f)->optional;
	return d;
}

/* The levels of a leaf (from the first row group's chunk), or -1. */
static int cp_levels(const struct pq_reader *r, int leaf, int *max_def, int *max_rep)
{
	struct pq_chunk_info ci;
	if (pq_reader_chunk_info(r, 0, leaf, &ci) < 0)
		return -1;
	*max_def = ci.max_def;
	*max_rep = ci.max_rep;
	return 0;
}

/*
 * A primitive field f as a column: 0, or -1 when its kind is not one of
 * kinds or its levels are not those of a field below structs.
 */
static int cp_col_field(const struct pq_reader *r, int f, unsigned kinds, struct cp_col *k)
{
	const struct pq_schema *s = pq_reader_schema(r);
	const struct pq_field *pf = pq_schema_field(s, f);
	if (!pf || pf->leaf < 0 || !(kinds & CP_KIND(pq_type_kind(pf->type))) ||
	    cp_levels(r, pf->leaf, &k->max_def, &k->max_rep) < 0 || k->max_rep != 0 ||
	    k->max_def != cp_def_level(s, f))
		return -1;
	k->leaf = pf->leaf;
	k->required = !pf->optional;
	k->kind = pq_type_kind(pf->type);
	return 0;
}

/* The child called name of action field af as a column (absent: leaf -1). */
static int cp_col_setup(const struct pq_reader *r, int af, const char *name, unsigned kinds,
                        struct cp_col *k)
{
	memset(k, 0, sizeof *k);
	k->leaf = -1;
	int f = pq_schema_child(pq_reader_schema(r), af, name);
	return f < 0 ? 0 : cp_col_field(r, f, kinds, k);
}

/* A map<string,string> child of af as its key and value columns. */
static int cp_map_setup(const struct pq_reader *r, int af, const char *name, struct cp_mapcols *m)
{
	const struct pq_schema *s = pq_reader_schema(r);
	memset(m, 0, sizeof *m);
	m->key.leaf = m->val.leaf = -1;
	int f = pq_schema_child(s, af, name);
	if (f < 0)
		return 0;
	const struct pq_field *mf = pq_schema_field(s, f);
	if (mf->type != PQ_MAP || mf->nchildren != 2)
		return -1;
	const struct pq_field *kf = pq_schema_field(s, mf->children[0]);
	const struct pq_field *vf = pq_schema_field(s, mf->children[1]);
	m->dl = cp_def_level(s, f);
	if (kf->leaf < 0 || vf->leaf < 0 || pq_type_kind(kf->type) != PQ_V_BYTES ||
	    pq_type_kind(vf->type) != PQ_V_BYTES ||
	    cp_levels(r, kf->leaf, &m->key.max_def, &m->key.max_rep) < 0 ||
	    cp_levels(r, vf->leaf, &m->val.max_def, &m->val.max_rep) < 0 || m->key.max_rep != 1 ||
	    m->val.max_rep != 1 || m->key.max_def != m->dl + 1 ||
	    m->val.max_def != m->dl + 1 + vf->optional)
		return -1;
	m->key.leaf = kf->leaf;
	m->val.leaf = vf->leaf;
	m->key.kind = m->val.kind = PQ_V_BYTES;
	m->val.required = !vf->optional;
	return 0;
}

/* The columns of action name, or -1 when it cannot be read column by column. */
static int cp_act_setup(const struct pq_reader *r, const char *name, struct cp_actcols *a)
{
	const struct pq_schema *s = pq_reader_schema(r);
	const unsigned ints = CP_KIND(PQ_V_I32) | CP_KIND(PQ_V_I64);
	memset(a, 0, sizeof *a);
	a->field = pq_schema_child(s, PQ_ROOT, name);
	a->path.leaf = a->size.leaf = a->mtime.leaf = a->dts.leaf = a->dc.leaf = -1;
	a->stats.leaf = a->dv.leaf = a->pv.key.leaf = a->pv.val.leaf = -1;
	a->dvpath.leaf = a->dvoff.leaf = a->dvsize.leaf = a->dvcard.leaf = -1;
	a->tags.key.leaf = a->tags.val.leaf = -1;
	a->brid.leaf = a->rcv.leaf = -1;
	if (a->field < 0)
		return 0;
	if (pq_schema_field(s, a->field)->type != PQ_STRUCT)
		return -1;
	a->dl = cp_def_level(s, a->field);
	if (cp_col_setup(r, a->field, "path", CP_KIND(PQ_V_BYTES), &a->path) < 0 ||
	    a->path.leaf < 0 || cp_col_setup(r, a->field, "size", ints, &a->size) < 0 ||
	    cp_col_setup(r, a->field, "modificationTime", ints, &a->mtime) < 0 ||
	    cp_col_setup(r, a->field, "deletionTimestamp", ints, &a->dts) < 0 ||
	    cp_col_setup(r, a->field, "dataChange", CP_KIND(PQ_V_BOOL), &a->dc) < 0 ||
	    cp_col_setup(r, a->field, "stats", CP_KIND(PQ_V_BYTES), &a->stats) < 0 ||
	    cp_map_setup(r, a->field, "partitionValues", &a->pv) < 0 ||
	    cp_map_setup(r, a->field, "tags", &a->tags) < 0 ||
	    cp_col_setup(r, a->field, "baseRowId", ints, &a->brid) < 0 ||
	    cp_col_setup(r, a->field, "defaultRowCommitVersion", ints, &a->rcv) < 0)
		return -1;
	/* deletionVector: only whether it is set, told by its first leaf. */
	int dv = pq_schema_child(s, a->field, "deletionVector");
	if (dv >= 0) {
		const struct pq_field *df = pq_schema_field(s, dv);
		if (df->type != PQ_STRUCT || df->nchildren < 1)
			return -1;
		memset(&a->dv, 0, sizeof a->dv);
		if (cp_col_field(r, df->children[0], ~0u, &a->dv) < 0)
			return -1;
		a->dv_dl = cp_def_level(s, dv);
		if (cp_col_setup(r, dv, "pathOrInlineDv", CP_KIND(PQ_V_BYTES), &a->dvpath) < 0 ||
		    cp_col_setup(r, dv, "offset", ints, &a->dvoff) < 0 ||
		    cp_col_setup(r, dv, "sizeInBytes", ints, &a->dvsize) < 0 ||
		    cp_col_setup(r, dv, "cardinality", ints, &a->dvcard) < 0)
			return -1;
	}
	return 0;
}

static struct cp_col *cp_act_col(struct cp_actcols *a, int i)
{
	struct cp_col *all[] = {&a->path,   &a->size,   &a->mtime,  &a->dts,      &a->dc,
	                        &a->stats,  &a->dv,     &a->dvpath, &a->dvoff,    &a->dvsize,
	                        &a->dvcard, &a->pv.key, &a->pv.val, &a->tags.key, &a->tags.val,
	                        &a->brid,   &a->rcv};
	return i < (int)(sizeof all / sizeof *all) ? all[i] : NULL;
}

static void cp_act_close(struct cp_actcols *a)
{
	struct cp_col *k;
	for (int i = 0; (k = cp_act_col(a, i)); i++) {
		pq_column_close(k->c);
		k->c = NULL;
		k->b.n = k->i = 0;
	}
}

/* Open the action's columns for row group rg. */
static int cp_act_open(struct pq_reader *r, struct cp_actcols *a, int rg, struct err_msg *e)
{
	struct cp_col *k;
	cp_act_close(a);
	for (int i = 0; (k = cp_act_col(a, i)); i++)
		if (k->leaf >= 0 && !(k->c = pq_column_open_entries(r, rg, k->leaf, e)))
			return -1;
	return 0;
}

/* Is leaf one of the action's columns? */
static int cp_act_has(struct cp_actcols *a, int leaf)
{
	struct cp_col *k;
	for (int i = 0; (k = cp_act_col(a, i)); i++)
		if (k->leaf >= 0 && k->leaf == leaf)
			return 1;
	return 0;
}

/* Where a checkpoint part is being read: for messages. */
struct cp_at {
	struct pq_reader *r;
	const char *path;
	int rg;
};

static int cp_col_fail(const struct cp_at *at, const struct cp_col *k, struct err_msg *e,
                       const char *what)
{
	char name[256];
	pq_reader_column_path(at->r, k->leaf, name, sizeof name);
	err_set(e, EX_DATAERR, "%s: row group %d, column %s: %s", at->path, at->rg, name, what);
	return -1;
}

/* Make sure a column has an entry: 1, 0 at the end of its chunk, -1. */
static int cp_col_peek(struct cp_col *k, struct err_msg *e)
{
	while (k->i >= k->b.n) {
		ssize_t n = pq_column_read(k->c, &k->b, 256, e);
		if (n <= 0)
			return (int)n;
		k->i = 0;
	}
	return 1;
}

static int cp_col_need(const struct cp_at *at, struct cp_col *k, struct err_msg *e)
{
	int rc = cp_col_peek(k, e);
	if (rc == 0)
		return cp_col_fail(at, k, e, "column ends before the row group's rows");
	return rc;
}

static inline int cp_def(const struct cp_col *k)
{
	return k->b.def ? k->b.def[k->i] : k->max_def;
}

static inline int cp_rep(const struct cp_col *k)
{
	return k->b.rep ? k->b.rep[k->i] : 0;
}

/*
 * Consume one row's entry of a flat column: 1 when it has a value (at
 * index *at_i of the column's batch, valid until the next read of it), 0
 * for a null, which a required field of a set action may not be.
 */
static int cp_flat(const struct cp_at *at, struct cp_col *k, int set, size_t *at_i,
                   struct err_msg *e)
{
	if (k->leaf < 0)
		return 0;
	if (cp_col_need(at, k, e) < 0)
		return -1;
	int has = cp_def(k) == k->max_def;
	*at_i = k->i++;
	if (!has && set && k->required)
		return cp_col_fail(at, k, e, "definition level leaves a required field empty");
	return has;
}

static int64_t cp_col_i64(const struct cp_col *k, size_t i)
{
	return k->kind == PQ_V_I64 ? k->b.i64[i] : k->b.i32[i];
}

/*
 * What one row's file is gathered into before it is put in one allocation
 * (cp_file_block()): a checkpoint of a large table is mostly adds, and a
 * malloc for the file, each of its strings and each partition value cost
 * more than decoding them.  Reused from row to row.
 */
struct cp_scratch {
	struct buf raw;  /* the raw path with a '%', NUL-terminated for decoding */
	struct buf path; /* ... and decoded */
	struct buf tags; /* tags as a JSON object */
	struct buf pv;   /* partition values: key NUL, value NUL (when not null) */
	struct cp_kvoff {
		size_t key, value; /* offsets into pv; value SIZE_MAX: null */
	} * kv;
	size_t nkv, capkv;
};

static void cp_scratch_free(struct cp_scratch *sc)
{
	buf_free(&sc->raw);
	buf_free(&sc->path);
	buf_free(&sc->tags);
	buf_free(&sc->pv);
	free(sc->kv);
}

/* Append a byte string and a NUL to b; its offset in *off. */
static int cp_put_str(struct buf *b, const struct pq_bytes *v, size_t *off)
{
	*off = b->len;
	return buf_append(b, v->p, v->len) < 0 || buf_putc(b, '\0') < 0 ? -1 : 0;
}

/*
 * One row's entries of a map's key and value columns: *set 1 when the map
 * is set, its entries appended to sc's partition values (when sc is not
 * NULL) and to json as an object (when not NULL).
 */
static int cp_map_row(const struct cp_at *at, struct cp_mapcols *m, int *set, struct cp_scratch *sc,
                      struct buf *json, struct err_msg *e)
{
	*set = 0;
	if (m->key.leaf < 0)
		return 0;
	if (cp_col_need(at, &m->key, e) < 0 || cp_col_need(at, &m->val, e) < 0)
		return -1;
	if (cp_rep(&m->key) != 0)
		return cp_col_fail(at, &m->key, e, "row starts with a repetition level above 0");
	if (cp_rep(&m->val) != 0)
		return cp_col_fail(at, &m->val, e, "row starts with a repetition level above 0");
	int d = cp_def(&m->key);
	if (d < m->dl) {
		m->key.i++;
		m->val.i++;
		return 0;
	}
	*set = 1;
	if (json)
		buf_putc(json, '{');
	if (d == m->dl) { /* empty */
		m->key.i++;
		m->val.i++;
		if (json)
			buf_putc(json, '}');
		return 0;
	}
	size_t n = 0;
	for (;;) {
		const struct pq_bytes *k = &m->key.b.bytes[m->key.i];
		int has = cp_def(&m->val) == m->val.max_def;
		if (!has && m->val.required)
			return cp_col_fail(at, &m->val, e,
			                   "definition level leaves a required field empty");
		const struct pq_bytes *v = has ? &m->val.b.bytes[m->val.i] : NULL;
		if (json) {
			if (n)
				buf_putc(json, ',');
			/* A key is a C string: it ends at a NUL byte, if it holds one. */
			buf_json_str(json, (const char *)k->p, strnlen((const char *)k->p, k->len));
			buf_putc(json, ':');
			if (v)
				buf_json_str(json, (const char *)v->p, v->len);
			else
				buf_puts(json, "null");
		}
		if (sc) {
			if (sc->nkv == sc->capkv) {
				size_t cap = sc->capkv ? sc->capkv * 2 : 8;
				struct cp_kvoff *kv = realloc(sc->kv, cap * sizeof *kv);
				if (!kv) {
					err_set(e, EX_SOFTWARE, "out of memory");
					return -1;
				}
				sc->kv = kv;
				sc->capkv = cap;
			}
			struct cp_kvoff *o = &sc->kv[sc->nkv++];
			o->value = SIZE_MAX;
			if (cp_put_str(&sc->pv, k, &o->key) < 0 ||
			    (v && cp_put_str(&sc->pv, v, &o->value) < 0)) {
				err_set(e, EX_SOFTWARE, "out of memory");
				return -1;
			}
		}
		n++;
		m->key.i++;
		m->val.i++;
		int rc = cp_col_peek(&m->key, e);
		if (rc < 0)
			return -1;
		if (rc == 0 || cp_rep(&m->key) == 0)
			break;
		if (cp_col_need(at, &m->val, e) < 0)
			return -1;
		if (cp_rep(&m->key) != 1 || cp_rep(&m->val) != 1)
			return cp_col_fail(at, &m->key, e,
			                   "repetition levels of a map's keys and values disagree");
		if (cp_def(&m->key) <= m->dl)
			return cp_col_fail(at, &m->key, e,
			                   "definition level leaves a required field empty");
	}
	if (json)
		buf_putc(json, '}');
	return 0;
}

/* Copy n bytes to *at and end them with a NUL; the copy. */
static char *cp_block_str(char **at, const void *p, size_t n)
{
	char *s = *at;
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	*at += n + 1;
	return s;
}

/*
 * The file of an add or remove row in one allocation (delta_file.one_block):
 * the struct, its partition values' array, then the strings.  The path is
 * the raw one (rawlen bytes; a C string ends at a NUL byte) when it has no
 * %-escape, which most paths do not: the two then share their bytes.
 */
static struct delta_file *cp_file_block(const struct pq_bytes *raw, size_t rawlen,
                                        const struct buf *decoded, const struct pq_bytes *stats,
                                        const struct buf *tags, const struct cp_scratch *sc)
{
	size_t size = sizeof(struct delta_file) + sc->nkv * sizeof(struct delta_kv) + rawlen + 1 +
	              (decoded ? decoded->len + 1 : 0) + (stats ? stats->len + 1 : 0) +
	              (tags ? tags->len + 1 : 0) + sc->pv.len;
	struct delta_file *f = malloc(size);
	if (!f)
		return NULL;
	memset(f, 0, sizeof *f);
	f->one_block = 1;
	struct delta_kv *kv = (struct delta_kv *)(f + 1);
	char *at = (char *)(kv + sc->nkv);
	f->raw_path = cp_block_str(&at, raw->p, rawlen);
	f->path = decoded ? cp_block_str(&at, decoded->data, decoded->len) : f->raw_path;
	if (stats)
		f->stats = cp_block_str(&at, stats->p, stats->len);
	if (tags)
		f->tags_json = cp_block_str(&at, tags->data, tags->len);
	if (sc->nkv) {
		char *pv = at;
		memcpy(pv, sc->pv.data, sc->pv.len);
		for (size_t i = 0; i < sc->nkv; i++) {
			kv[i].key = pv + sc->kv[i].key;
			kv[i].value = sc->kv[i].value == SIZE_MAX ? NULL : pv + sc->kv[i].value;
		}
		f->partition_values.kv = kv;
		f->partition_values.n = sc->nkv;
	}
	return f;
}

/*
 * One row of an action's columns: *set 1 when the action is set, then
 * checked and put into the snapshot (or only checked, without file lists).
 */
static int cp_act_row(struct delta_snapshot *snap, const struct cp_at *at, struct cp_actcols *a,
                      int is_add, int64_t version, int *set, struct cp_scratch *sc,
                      struct err_msg *e)
{
	size_t i;
	*set = 0;
	if (a->field < 0)
		return 0;
	if (cp_col_need(at, &a->path, e) < 0)
		return -1;
	int s = cp_def(&a->path) >= a->dl;
	/* The byte strings point into their columns' batches, read no further in this row. */
	const struct pq_bytes *raw = NULL, *stats = NULL;
	int64_t size = -1, mtime = -1, dts = -1;
	int dc = 0, dv = 0, rc, pv_set, tags_set;
	if ((rc = cp_flat(at, &a->path, 0, &i, e)) < 0)
		return -1;
	if (rc)
		raw = &a->path.b.bytes[i];
	if ((rc = cp_flat(at, &a->size, s, &i, e)) < 0)
		return -1;
	if (rc)
		size = cp_col_i64(&a->size, i);
	if ((rc = cp_flat(at, &a->mtime, s, &i, e)) < 0)
		return -1;
	if (rc)
		mtime = cp_col_i64(&a->mtime, i);
	if ((rc = cp_flat(at, &a->dts, s, &i, e)) < 0)
		return -1;
	if (rc)
		dts = cp_col_i64(&a->dts, i);
	if ((rc = cp_flat(at, &a->dc, s, &i, e)) < 0)
		return -1;
	dc = rc && a->dc.b.b[i];
	if ((rc = cp_flat(at, &a->stats, s, &i, e)) < 0)
		return -1;
	if (rc)
		stats = &a->stats.b.bytes[i];
	int64_t brid = -1, rcv = -1;
	if ((rc = cp_flat(at, &a->brid, s, &i, e)) < 0)
		return -1;
	if (rc)
		brid = cp_col_i64(&a->brid, i);
	if ((rc = cp_flat(at, &a->rcv, s, &i, e)) < 0)
		return -1;
	if (rc)
		rcv = cp_col_i64(&a->rcv, i);
	const struct pq_bytes *dvst = NULL, *dvpath = NULL;
	int64_t dvoff = -1, dvsize = -1, dvcard = -1;
	if (a->dv.leaf >= 0) {
		if (cp_col_need(at, &a->dv, e) < 0)
			return -1;
		dv = cp_def(&a->dv) >= a->dv_dl;
		if (cp_def(&a->dv) == a->dv.max_def && a->dv.kind == PQ_V_BYTES)
			dvst = &a->dv.b.bytes[a->dv.i];
		a->dv.i++;
		if ((rc = cp_flat(at, &a->dvpath, 0, &i, e)) < 0)
			return -1;
		if (rc)
			dvpath = &a->dvpath.b.bytes[i];
		if ((rc = cp_flat(at, &a->dvoff, 0, &i, e)) < 0)
			return -1;
		if (rc)
			dvoff = cp_col_i64(&a->dvoff, i);
		if ((rc = cp_flat(at, &a->dvsize, 0, &i, e)) < 0)
			return -1;
		if (rc)
			dvsize = cp_col_i64(&a->dvsize, i);
		if ((rc = cp_flat(at, &a->dvcard, 0, &i, e)) < 0)
			return -1;
		if (rc)
			dvcard = cp_col_i64(&a->dvcard, i);
		if (dv && (!dvst || !dvpath)) {
			err_set(e, EX_DATAERR, "a deletionVector without its storage type or path");
			return -1;
		}
	}
	sc->nkv = 0;
	buf_reset(&sc->pv);
	buf_reset(&sc->tags);
	if (cp_map_row(at, &a->pv, &pv_set, s ? sc : NULL, NULL, e) < 0 ||
	    cp_map_row(at, &a->tags, &tags_set, NULL, s ? &sc->tags : NULL, e) < 0)
		return -1;
	if (!s)
		return 0;
	*set = 1;
	size_t rawlen = raw ? strnlen((const char *)raw->p, raw->len) : 0;
	if (!rawlen) {
		err_set(e, EX_DATAERR, "%s action without a path", is_add ? "add" : "remove");
		return -1;
	}
	const struct buf *decoded = NULL;
	if (memchr(raw->p, '%', rawlen)) {
		buf_reset(&sc->raw);
		buf_append(&sc->raw, raw->p, rawlen);
		if (buf_reserve(&sc->raw, 0) < 0 || buf_failed(&sc->raw)) {
			err_set(e, EX_SOFTWARE, "out of memory");
			return -1;
		}
		if (delta_uri_decode(sc->raw.data, &sc->path) < 0) {
			err_set(e, EX_DATAERR, "path \"%s\" has a malformed %%-escape",
			        sc->raw.data);
			return -1;
		}
		decoded = &sc->path;
	}
	if (buf_failed(&sc->tags) || buf_failed(&sc->pv)) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	/* Checked like any other action, then left out. */
	if (snap->no_files)
		return 0;
	char *dv_json = NULL;
	if (dv && !(dv_json = cp_dv_json(dvst->p, dvst->len, dvpath->p, dvpath->len, dvoff, dvsize,
	                                 dvcard))) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	if (!is_add && snap->no_tombstones) {
		/* Not kept, but still no longer live (delta_snapshot_put_file()). */
		if (snap->files.count) {
			if (!decoded) {
				buf_reset(&sc->raw);
				buf_append(&sc->raw, raw->p, rawlen);
				if (buf_reserve(&sc->raw, 0) < 0 || buf_failed(&sc->raw)) {
					err_set(e, EX_SOFTWARE, "out of memory");
					return -1;
				}
			}
			const char *key = decoded ? decoded->data : sc->raw.data;
			const struct delta_file *live = strmap_get(&snap->files, key);
			/* Another logical file of the path (another DV) stays. */
			if (live && delta_same_dv(live->dv_json, dv_json))
				delta_file_free(strmap_del(&snap->files, key));
		}
		free(dv_json);
		return 0;
	}
	struct delta_file *f =
	    cp_file_block(raw, rawlen, decoded, stats, tags_set ? &sc->tags : NULL, sc);
	if (!f) {
		free(dv_json);
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	f->dv_json = dv_json;
	f->size = size;
	f->modification_time = mtime;
	f->deletion_timestamp = dts;
	f->data_change = dc;
	f->has_deletion_vector = dv;
	f->base_row_id = brid;
	f->has_base_row_id = brid >= 0;
	f->default_row_commit_version = rcv;
	f->has_row_commit_version = rcv >= 0;
	f->version = version;
	return delta_snapshot_put_file(snap, f, is_add, e);
}

/*
 * Every leaf of add and remove that is not read column by column, checked
 * for what reading it would refuse (cp_verify_files() for the rest).
 */
static int cp_verify_rest(struct pq_reader *r, struct cp_actcols *acts, struct err_msg *pe)
{
	const struct pq_schema *sch = pq_reader_schema(r);
	int nrg = pq_reader_num_row_groups(r);
	for (int leaf = 0; leaf < pq_schema_nleaves(sch); leaf++) {
		int f = pq_schema_leaf_field(sch, leaf);
		while (f > PQ_ROOT && pq_schema_field(sch, f)->parent != PQ_ROOT)
			f = pq_schema_field(sch, f)->parent;
		struct cp_actcols *a = f == acts[0].field   ? &acts[0]
		                       : f == acts[1].field ? &acts[1]
		                                            : NULL;
		if (f < 0 || !a || cp_act_has(a, leaf))
			continue;
		for (int rg = 0; rg < nrg; rg++)
			if (pq_column_verify(r, rg, leaf, pe) < 0)
				return -1;
	}
	return 0;
}

/* Every action column of a row group at its end. */
static int cp_act_end(const struct cp_at *at, struct cp_actcols *a, int64_t n, struct err_msg *e)
{
	struct cp_col *k;
	for (int i = 0; (k = cp_act_col(a, i)); i++) {
		if (k->leaf < 0)
			continue;
		int rc = cp_col_peek(k, e);
		if (rc < 0)
			return -1;
		if (rc > 0) {
			char why[96];
			snprintf(why, sizeof why, "more rows than the row group's %lld",
			         (long long)n);
			return cp_col_fail(at, k, e, why);
		}
	}
	return 0;
}

/*
 * Size the file map for the adds to come, so that it is not rebuilt on the
 * way as it grows: their number from the footer's statistics of add.path
 * (else the file's rows), bounded so that a footer that lies cannot make
 * it large.  A map that cannot be sized grows as it would have.
 */
static void cp_reserve_files(struct delta_snapshot *snap, const struct pq_reader *r,
                             const struct cp_actcols *add)
{
	if (add->field < 0)
		return;
	int64_t n = 0;
	for (int rg = 0; rg < pq_reader_num_row_groups(r); rg++) {
		struct pq_stats st;
		int64_t rows = pq_reader_row_group_rows(r, rg);
		if (pq_reader_stats(r, rg, add->path.leaf, &st) == 0 && st.null_count >= 0 &&
		    st.null_count <= st.num_values && st.num_values == rows)
			rows -= st.null_count;
		n += rows;
	}
	if (n > 0)
		strmap_reserve(&snap->files,
		               snap->files.count + (size_t)(n < 1 << 20 ? n : 1 << 20));
}

/*
 * One part of a checkpoint into snap, its add and remove actions read
 * column by column: 0, -1 with e set, or 1 when the file's layout is not
 * one this reads (nothing read yet: read it row by row).
 */
static int cp_load_columns(struct delta_snapshot *snap, struct pq_reader *r, const char *path,
                           int64_t version, int64_t *rows, int64_t *adds, struct cp_v2 *v2,
                           struct err_msg *e)
{
	static const char *const rare[] = {"metaData",           "protocol", "txn",
	                                   "checkpointMetadata", "sidecar",  "domainMetadata"};
	enum { NRARE = sizeof rare / sizeof *rare };
	const struct pq_schema *sch = pq_reader_schema(r);
	struct cp_actcols acts[2];
	int nrg = pq_reader_num_row_groups(r);
	if (nrg == 0 || cp_act_setup(r, "add", &acts[0]) < 0 ||
	    cp_act_setup(r, "remove", &acts[1]) < 0 || (acts[0].field < 0 && acts[1].field < 0))
		return 1;
	/* Statistics only in add.stats_parsed are turned into JSON by the row reader (cp_file()). */
	if (acts[0].field >= 0 && acts[0].stats.leaf < 0 &&
	    pq_schema_child(sch, acts[0].field, "stats_parsed") >= 0)
		return 1;
	const char *have[NRARE];
	size_t nh = 0;
	/* A sidecar holds add and remove actions alone: any other column is not read. */
	for (size_t i = 0; i < NRARE && !v2->files_only; i++)
		if (pq_schema_child(sch, PQ_ROOT, rare[i]) >= 0)
			have[nh++] = rare[i];
	struct buf line = BUF_INIT;
	struct cp_scratch sc = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, NULL, 0, 0};
	struct err_msg pe;
	int rc = -1;
	err_clear(&pe);
	if (nh && pq_reader_select(r, have, nh, &pe) < 0) {
		cp_unusable(e, snap, path, version, EX_DATAERR, pe.text);
		goto out;
	}
	if (cp_verify_rest(r, acts, &pe) < 0)
		goto bad;
	if (!snap->no_files)
		cp_reserve_files(snap, r, &acts[0]);
	*rows += pq_reader_num_rows(r);
	for (int rg = 0; rg < nrg; rg++) {
		struct cp_at at = {r, path, rg};
		int64_t n = pq_reader_row_group_rows(r, rg);
		if (cp_act_open(r, &acts[0], rg, &pe) < 0 || cp_act_open(r, &acts[1], rg, &pe) < 0)
			goto bad;
		/* Rows up to here hold none of the rare actions (pq_reader_skip_null_rows()). */
		int64_t plain = 0;
		for (int64_t i = 0; i < n; i++) {
			const struct pq_value *row = NULL;
			int set = 0, which = -1, set_add, set_rm;
			if (nh && i >= plain) {
				int64_t skipped = pq_reader_skip_null_rows(r, n - i, &pe);
				if (skipped < 0)
					goto bad;
				plain = i + skipped;
			}
			if (nh && i >= plain) {
				int k = pq_reader_next_row(r, &row, &pe);
				if (k == 0)
					err_set(&pe, EX_DATAERR,
					        "%s: fewer rows than its row groups say", path);
				if (k <= 0)
					goto bad;
				for (size_t j = 0; j < nh; j++) {
					const struct pq_value *v =
					    cp_child(r, PQ_ROOT, row, have[j], NULL);
					if (v && v->kind == PQ_V_STRUCT) {
						set++;
						which = (int)j;
					}
				}
			}
			for (int j = 0; j < 2; j++) {
				struct cp_actcols *a = &acts[j];
				if (a->field < 0)
					continue;
				if (cp_col_need(&at, &a->path, &pe) < 0)
					goto bad;
				set += cp_def(&a->path) >= a->dl;
			}
			if (set > 1) {
				cp_unusable(e, snap, path, version, EX_DATAERR,
				            "a row holds more than one action");
				goto out;
			}
			if (cp_act_row(snap, &at, &acts[0], 1, version, &set_add, &sc, &pe) < 0 ||
			    cp_act_row(snap, &at, &acts[1], 0, version, &set_rm, &sc, &pe) < 0)
				goto bad;
			*adds += set_add;
			v2->files += set_add + set_rm;
			if (which < 0 || !cp_row_to_json(r, row, &line))
				continue;
			struct json *j = json_parse(line.data, line.len, &pe);
			int ok = j && cp_apply(snap, v2, version, j, &pe) == 0;
			json_free(j);
			if (!ok) {
				cp_unusable(e, snap, path, version,
				            pe.status == EX_SOFTWARE ? EX_SOFTWARE : EX_DATAERR,
				            pe.text);
				goto out;
			}
		}
		struct cp_at end = {r, path, rg};
		if (cp_act_end(&end, &acts[0], n, &pe) < 0 ||
		    cp_act_end(&end, &acts[1], n, &pe) < 0)
			goto bad;
	}
	if (nh) {
		const struct pq_value *row;
		int k = pq_reader_next_row(r, &row, &pe);
		if (k > 0)
			err_set(&pe, EX_DATAERR, "%s: more rows than its row groups say", path);
		if (k != 0)
			goto bad;
	}
	rc = 0;
	goto out;
bad:
	cp_unusable(e, snap, path, version,
	            pe.status == EX_IOERR || pe.status == EX_SOFTWARE ? pe.status : EX_DATAERR,
	            pe.text);
out:
	cp_act_close(&acts[0]);
	cp_act_close(&acts[1]);
	buf_free(&line);
	cp_scratch_free(&sc);
	return rc;
}

/* Checkpoints up to this size are read whole (cp_open()). */
#define CP_WHOLE_MAX (64u << 20)

/*
 * Open a checkpoint part for reading.  One that is not large is read whole
 * into *whole in one go and parsed from memory: a file read column chunk by
 * column chunk costs a read and an allocation for each of its sixty-odd
 * leaves, more than most of them take to decode.  The messages are those
 * of pq_reader_open().
 */
static struct pq_reader *cp_open(const char *path, const struct pq_read_options *o, char **whole,
                                 struct err_msg *e)
{
	*whole = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_set(e, EX_IOERR, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > CP_WHOLE_MAX) {
		/* The reader says what is wrong, or reads a large file as it needs it. */
		close(fd);
		return pq_reader_open(path, o, e);
	}
	size_t size = (size_t)sb.st_size, got = 0;
	char *p = malloc(size ? size : 1);
	if (!p) {
		close(fd);
		err_set(e, EX_SOFTWARE, "%s: out of memory", path);
		return NULL;
	}
	while (got < size) {
		ssize_t k = read(fd, p + got, size - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k < 0)
				err_set(e, EX_IOERR, "%s: read failed: %s", path, strerror(errno));
			else
				err_set(e, EX_IOERR, "%s: file shrank while being read", path);
			close(fd);
			free(p);
			return NULL;
		}
		got += (size_t)k;
	}
	close(fd);
	struct pq_reader *r = pq_reader_open_mem(p, size, path, o, e);
	if (!r)
		free(p);
	else
		*whole = p;
	return r;
}

/* One part of a checkpoint into snap; rows and adds are counted. */
static int cp_load_part(struct delta_snapshot *snap, const char *path, int64_t version,
                        int64_t *rows, int64_t *adds, struct cp_v2 *v2, struct err_msg *e)
{
	static const char *const sel[] = {"add",      "remove",        "metaData",
	                                  "protocol", "txn",           "checkpointMetadata",
	                                  "sidecar",  "domainMetadata"};
	enum { NSEL = sizeof sel / sizeof *sel };
	struct buf line = BUF_INIT, decoded = BUF_INIT;
	struct err_msg pe;
	/* Decompression contexts for the columns read one by one, the rows and the checks. */
	struct pq_read_options o = {0};
	if (!(o.codec = pq_codec_new())) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	char *whole;
	struct pq_reader *r = cp_open(path, &o, &whole, &pe);
	if (!r) {
		pq_codec_free(o.codec);
		return cp_unusable(e, snap, path, version,
		                   pe.status == EX_IOERR ? EX_IOERR : EX_DATAERR, pe.text);
	}
	/*
	 * Without file lists, a writer needs no adds or removes, only to know
	 * that readers can read them: in a checkpoint whose footer and pages
	 * carry checksums (ours) they are counted and verified without being
	 * decoded (cp_count_adds(), cp_verify_files()); any other checkpoint is
	 * read whole, as readers read it, or damage that they refuse could go
	 * unseen.  Select the action columns this file has (older checkpoints
	 * lack some).
	 */
	int light = snap->no_files && pq_reader_checksummed(r);
	if (!light && !delta_checkpoint_rowwise) {
		int k = cp_load_columns(snap, r, path, version, rows, adds, v2, e);
		if (k <= 0) {
			pq_reader_close(r);
			free(whole);
			pq_codec_free(o.codec);
			return k;
		}
	}
	const char *have[NSEL];
	size_t nh = 0;
	const struct pq_schema *sch = pq_reader_schema(r);
	for (size_t i = light ? 2 : 0; i < (v2->files_only ? 2 : NSEL); i++)
		if (pq_schema_child(sch, PQ_ROOT, sel[i]) >= 0)
			have[nh++] = sel[i];
	int rc = -1;
	/* A sidecar read light has nothing to select: its files are only counted and verified. */
	int count_only = light && v2->files_only;
	if (count_only && pq_schema_child(sch, PQ_ROOT, "add") < 0 &&
	    pq_schema_child(sch, PQ_ROOT, "remove") < 0) {
		cp_unusable(e, snap, path, version, EX_DATAERR,
		            "not a Delta checkpoint (no action columns)");
		goto out;
	}
	if (!count_only && (nh == 0 || pq_reader_select(r, have, nh, &pe) < 0)) {
		cp_unusable(e, snap, path, version, EX_DATAERR,
		            nh == 0 ? "not a Delta checkpoint (no action columns)" : pe.text);
		goto out;
	}
	if (light) {
		const char *why = NULL;
		err_clear(&pe);
		int64_t added = 0, removed = 0;
		if (cp_count_paths(r, "add.path", &added, &why, &pe) < 0 ||
		    cp_count_paths(r, "remove.path", &removed, &why, &pe) < 0) {
			cp_unusable(e, snap, path, version, why ? EX_DATAERR : pe.status,
			            why ? why : pe.text);
			goto out;
		}
		*adds += added;
		v2->files += added + removed;
		if (cp_verify_files(r, &pe) < 0) {
			cp_unusable(e, snap, path, version, pe.status, pe.text);
			goto out;
		}
	}
	int add_f = pq_schema_child(sch, PQ_ROOT, "add");
	int remove_f = pq_schema_child(sch, PQ_ROOT, "remove");
	*rows += pq_reader_num_rows(r);
	if (count_only) {
		rc = 0;
		goto out;
	}
	const struct pq_value *row;
	int k;
	for (;;) {
		/* Rows without a selected action (the files, when only the rare ones are read). */
		if (pq_reader_skip_null_rows(r, INT64_MAX, &pe) < 0) {
			k = -1;
			break;
		}
		if ((k = pq_reader_next_row(r, &row, &pe)) != 1)
			break;
		const struct pq_value *av[NSEL];
		int set = 0, which = -1;
		for (int i = 0; i < NSEL; i++) {
			av[i] = cp_child(r, PQ_ROOT, row, sel[i], NULL);
			if (av[i] && av[i]->kind == PQ_V_STRUCT) {
				set++;
				which = i;
			}
		}
		if (set > 1) {
			cp_unusable(e, snap, path, version, EX_DATAERR,
			            "a row holds more than one action");
			goto out;
		}
		if (which == 0 || which == 1) {
			int af = which == 0 ? add_f : remove_f;
			*adds += which == 0;
			v2->files++;
			if (cp_file(snap, r, af, av[which], which == 0, version, &decoded, &pe) <
			    0) {
				cp_unusable(e, snap, path, version, pe.status, pe.text);
				goto out;
			}
			continue;
		}
		if (which < 0 || !cp_row_to_json(r, row, &line))
			continue;
		struct json *j = json_parse(line.data, line.len, &pe);
		int ok = j && cp_apply(snap, v2, version, j, &pe) == 0;
		json_free(j);
		if (!ok) {
			cp_unusable(e, snap, path, version,
			            pe.status == EX_SOFTWARE ? EX_SOFTWARE : EX_DATAERR, pe.text);
			goto out;
		}
	}
	if (k < 0) {
		cp_unusable(e, snap, path, version, pe.status == EX_IOERR ? EX_IOERR : EX_DATAERR,
		            pe.text);
		goto out;
	}
	rc = 0;
out:
	pq_reader_close(r);
	free(whole);
	pq_codec_free(o.codec);
	buf_free(&line);
	buf_free(&decoded);
	return rc;
}

int delta_checkpoint_rowwise;

/* A UUID-named JSON checkpoint is read whole, as a commit is; larger ones are refused. */
#define CP_JSON_MAX (1u << 30)

/* A UUID-named JSON checkpoint into snap: one action a line, as in a commit. */
static int cp_load_json(struct delta_snapshot *snap, const char *path, int64_t version,
                        int64_t *rows, int64_t *adds, struct cp_v2 *v2, struct err_msg *e)
{
	struct buf text = BUF_INIT;
	struct err_msg pe;
	int missing, line = 0;
	if (delta_read_file(path, &text, CP_JSON_MAX, &pe, &missing) < 0) {
		buf_free(&text);
		return cp_unusable(e, snap, path, version, missing ? EX_DATAERR : pe.status,
		                   missing ? "it disappeared during the read" : pe.text);
	}
	const char *p = text.data, *end = text.data + text.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *ls = p;
		char why[ERR_MSG_MAX + 64];
		line++;
		p = nl ? nl + 1 : end;
		while (ls < le && (*ls == ' ' || *ls == '\t' || *ls == '\r'))
			ls++;
		if (ls == le)
			continue;
		struct json *j = json_parse(ls, (size_t)(le - ls), &pe);
		if (!j || json_type(j) != JSON_OBJECT) {
			snprintf(why, sizeof why, "line %d: not a JSON action%s%s%s", line,
			         j ? "" : " (", j ? "" : pe.text, j ? "" : ")");
			json_free(j);
			buf_free(&text);
			return cp_unusable(e, snap, path, version, EX_DATAERR, why);
		}
		const struct json *a = json_get(j, "add");
		*adds += a && json_type(a) == JSON_OBJECT;
		++*rows;
		int rc = cp_apply(snap, v2, version, j, &pe);
		json_free(j);
		if (rc < 0) {
			snprintf(why, sizeof why, "line %d: %s", line, pe.text);
			buf_free(&text);
			return cp_unusable(e, snap, path, version,
			                   pe.status == EX_SOFTWARE ? EX_SOFTWARE : EX_DATAERR,
			                   why);
		}
	}
	buf_free(&text);
	return 0;
}

/*
 * Where a sidecar is.  Sidecars live in the table's _delta_log/_sidecars
 * (PROTOCOL.md, "Sidecar Files"): a relative path is taken from there, an
 * absolute one on this file system (file: or /) as it is, and a URI of
 * another file system (s3a:, abfss: ...), which names the same directory
 * as the engine that wrote it saw it, by its file name in that directory.
 */
static int cp_sidecar_path(const char *root, const char *raw, struct buf *out)
{
	struct buf dec = BUF_INIT;
	int rc = -1;
	buf_reset(out);
	if (delta_uri_decode(raw, &dec) < 0)
		goto out;
	const char *p = dec.data;
	if (strncmp(p, "file://", 7) == 0)
		p += 7;
	else if (strncmp(p, "file:", 5) == 0)
		p += 5;
	else if (strstr(p, "://"))
		p = strrchr(p, '/') + 1;
	if (!*p)
		goto out;
	rc =
	    p[0] == '/' ? buf_puts(out, p) : buf_printf(out, "%s/_delta_log/_sidecars/%s", root, p);
	if (buf_failed(out))
		rc = -1;
out:
	buf_free(&dec);
	return rc;
}

/*
 * The checks of a V2 spec checkpoint (name: the one called so in messages),
 * then its sidecars into snap: each must be there at the size its action
 * gives, and is read as a checkpoint part holding add and remove actions.
 */
static int cp_load_v2(struct delta_snapshot *snap, const char *name, int64_t version,
                      struct cp_v2 *v2, int64_t *rows, int64_t *adds, struct err_msg *e)
{
	char why[ERR_MSG_MAX];
	int feature = 0;
	for (size_t i = 0; i < snap->protocol.n_reader_features; i++)
		feature |= strcmp(snap->protocol.reader_features[i], "v2Checkpoint") == 0;
	if (v2->metas != 1) {
		snprintf(why, sizeof why,
		         "%lld checkpointMetadata actions (a V2 checkpoint holds exactly one)",
		         (long long)v2->metas);
		return cp_unusable(e, snap, name, version, EX_DATAERR, why);
	}
	if (v2->meta_version != version) {
		snprintf(why, sizeof why, "its checkpointMetadata is of version %lld",
		         (long long)v2->meta_version);
		return cp_unusable(e, snap, name, version, EX_DATAERR, why);
	}
	if (!feature)
		return cp_unusable(e, snap, name, version, EX_DATAERR,
		                   "a V2 checkpoint of a table without the v2Checkpoint "
		                   "reader feature");
	if (v2->nsc && v2->files)
		return cp_unusable(e, snap, name, version, EX_DATAERR,
		                   "add or remove actions both in the checkpoint and in sidecars "
		                   "(a V2 checkpoint has them all in one or the other)");
	struct buf path = BUF_INIT;
	struct cp_v2 side = {0};
	int rc = 0;
	side.files_only = 1;
	for (size_t i = 0; i < v2->nsc && rc == 0; i++) {
		struct stat st;
		const char *shown;
		if (cp_sidecar_path(snap->root, v2->sc[i].path, &path) < 0) {
			snprintf(why, sizeof why, "sidecar \"%s\": a malformed path",
			         v2->sc[i].path);
			rc = cp_unusable(e, snap, name, version, EX_DATAERR, why);
			break;
		}
		shown = path.data;
		if (strncmp(shown, snap->root, strlen(snap->root)) == 0 &&
		    shown[strlen(snap->root)] == '/')
			shown += strlen(snap->root) + 1;
		if (stat(path.data, &st) < 0) {
			snprintf(why, sizeof why, "sidecar %s: %s", shown, strerror(errno));
			rc = cp_unusable(
			    e, snap, name, version,
			    errno == ENOENT || errno == ENOTDIR ? EX_DATAERR : EX_IOERR, why);
		} else if ((int64_t)st.st_size != v2->sc[i].size) {
			snprintf(why, sizeof why,
			         "sidecar %s is %lld bytes, its sidecar action says %lld", shown,
			         (long long)st.st_size, (long long)v2->sc[i].size);
			rc = cp_unusable(e, snap, name, version, EX_DATAERR, why);
		} else {
			rc = cp_load_part(snap, path.data, version, rows, adds, &side, e);
		}
	}
	buf_free(&path);
	return rc;
}

int delta_checkpoint_load(struct delta_snapshot *snap, int64_t version, int parts, const char *file,
                          const struct delta_last_checkpoint *lc, struct err_msg *e)
{
	int64_t rows = 0, adds = 0;
	struct cp_v2 v2 = {0};
	char name[DELTA_PATH_MAX];
	int rc = -1;
	/* What the checkpoint as a whole is called in messages: its file, or its parts. */
	if (file) {
		parts = 1;
		snprintf(name, sizeof name, "%s/_delta_log/%s", snap->root, file);
	} else if (parts == 1)
		snprintf(name, sizeof name, "%s/_delta_log/%020lld.checkpoint.parquet", snap->root,
		         (long long)version);
	else
		snprintf(name, sizeof name, "%s/_delta_log/%020lld.checkpoint.*.%010d.parquet",
		         snap->root, (long long)version, parts);
	for (int part = 1; part <= parts; part++) {
		char path[DELTA_PATH_MAX];
		int n =
		    file ? delta_pathf(path, sizeof path, "%s/_delta_log/%s", snap->root, file)
		    : parts == 1
		        ? delta_pathf(path, sizeof path, "%s/_delta_log/%020lld.checkpoint.parquet",
		                      snap->root, (long long)version)
		        : delta_pathf(path, sizeof path,
		                      "%s/_delta_log/%020lld.checkpoint.%010d.%010d.parquet",
		                      snap->root, (long long)version, part, parts);
		if (n < 0) {
			cp_unusable(e, snap, name, version, EX_IOERR, strerror(ENAMETOOLONG));
			goto out;
		}
		size_t fl = file ? strlen(file) : 0;
		int json = fl > 5 && strcmp(file + fl - 5, ".json") == 0;
		if ((json ? cp_load_json(snap, path, version, &rows, &adds, &v2, e)
		          : cp_load_part(snap, path, version, &rows, &adds, &v2, e)) < 0)
			goto out;
	}
	char why[160];
	if (!snap->has_protocol || !snap->has_meta) {
		snprintf(why, sizeof why, "no %s row",
		         !snap->has_protocol ? "protocol" : "metaData");
		cp_unusable(e, snap, name, version, EX_DATAERR, why);
		goto out;
	}
	/* A UUID-named checkpoint is V2; a classic one is when it has V2 actions. */
	if ((file || v2.metas || v2.nsc) &&
	    cp_load_v2(snap, name, version, &v2, &rows, &adds, e) < 0)
		goto out;
	if (lc && lc->size >= 0 && lc->size != rows) {
		snprintf(why, sizeof why, "%lld actions, but _last_checkpoint says %lld",
		         (long long)rows, (long long)lc->size);
		cp_unusable(e, snap, name, version, EX_DATAERR, why);
		goto out;
	}
	if (lc && lc->add_files >= 0 && lc->add_files != adds) {
		snprintf(why, sizeof why, "%lld add actions, but _last_checkpoint says %lld",
		         (long long)adds, (long long)lc->add_files);
		cp_unusable(e, snap, name, version, EX_DATAERR, why);
		goto out;
	}
	rc = 0;
out:
	cp_v2_free(&v2);
	return rc;
}

int delta_checkpoint_sidecars(const char *root, int64_t version, const char *file,
                              int (*fn)(void *arg, const char *name), void *arg, struct err_msg *e)
{
	struct delta_snapshot tmp;
	struct cp_v2 v2 = {0};
	struct buf path = BUF_INIT;
	int64_t rows = 0, adds = 0;
	int rc = -1;
	memset(&tmp, 0, sizeof tmp);
	/* Only the actions that are not files are wanted: they are read as a writer reads them. */
	tmp.no_files = 1;
	if (!(tmp.root = strdup(root))) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	char at[DELTA_PATH_MAX];
	if (delta_pathf(at, sizeof at, "%s/_delta_log/%s", root, file) < 0) {
		cp_unusable(e, &tmp, file, version, EX_IOERR, strerror(ENAMETOOLONG));
		goto out;
	}
	size_t fl = strlen(file);
	int json = fl > 5 && strcmp(file + fl - 5, ".json") == 0;
	if ((json ? cp_load_json(&tmp, at, version, &rows, &adds, &v2, e)
	          : cp_load_part(&tmp, at, version, &rows, &adds, &v2, e)) < 0)
		goto out;
	rc = 0;
	for (size_t i = 0; i < v2.nsc && rc == 0; i++) {
		/* By its file name in _delta_log/_sidecars, which is where every sidecar is. */
		if (cp_sidecar_path(root, v2.sc[i].path, &path) < 0) {
			err_set(e, EX_DATAERR, "%s/_delta_log/%s: sidecar \"%s\": a malformed path",
			        root, file, v2.sc[i].path);
			rc = -1;
			break;
		}
		const char *slash = strrchr(path.data, '/');
		rc = fn(arg, slash ? slash + 1 : path.data);
		if (rc < 0)
			err_set(e, EX_SOFTWARE, "out of memory");
	}
out:
	buf_free(&path);
	cp_v2_free(&v2);
	delta_snapshot_free(&tmp);
	return rc;
}

/* Writing ------------------------------------------------------------------------ */

static int cp_add(struct pq_schema *s, int parent, const char *name, enum pq_type t)
{
	return pq_schema_add(s, parent, name, t, 1);
}

static int cp_add_map(struct pq_schema *s, int parent, const char *name)
{
	int m = pq_schema_add(s, parent, name, PQ_MAP, 1);
	if (m < 0 || pq_schema_add(s, m, "key", PQ_STRING, 0) < 0 ||
	    pq_schema_add(s, m, "value", PQ_STRING, 1) < 0)
		return -1;
	return m;
}

static int cp_add_list(struct pq_schema *s, int parent, const char *name)
{
	int l = pq_schema_add(s, parent, name, PQ_LIST, 1);
	if (l < 0 || pq_schema_add(s, l, "element", PQ_STRING, 1) < 0)
		return -1;
	return l;
}

static int cp_add_dv(struct pq_schema *s, int parent)
{
	int dv = cp_add(s, parent, "deletionVector", PQ_STRUCT);
	if (dv < 0 || cp_add(s, dv, "storageType", PQ_STRING) < 0 ||
	    cp_add(s, dv, "pathOrInlineDv", PQ_STRING) < 0 || cp_add(s, dv, "offset", PQ_INT) < 0 ||
	    cp_add(s, dv, "sizeInBytes", PQ_INT) < 0 || cp_add(s, dv, "cardinality", PQ_LONG) < 0 ||
	    cp_add(s, dv, "maxRowIndex", PQ_LONG) < 0)
		return -1;
	return dv;
}

/*
 * What a checkpoint holds of each add besides its action fields, as the
 * table's properties ask (PROTOCOL.md, "Checkpoint Schema"):
 * add.stats, the statistics as JSON text, unless
 * delta.checkpoint.writeStatsAsJson is false, when the field is left out
 * of the schema as Spark leaves it out; with
 * delta.checkpoint.writeStatsAsStruct true, add.partitionValues_parsed
 * (the partition columns with their types; a partitioned table only) and
 * add.stats_parsed, the statistics as a struct of Spark's stats schema:
 * numRecords, minValues and maxValues of the columns whose types have
 * them (numbers, strings, dates, timestamps) with those types, and
 * nullCount of every column as a long, over the data columns among the
 * first delta.dataSkippingNumIndexedCols, structs nested, a struct left
 * out when nothing in it is kept.
 */
struct cp_layout {
	struct pq_schema *schema;
	const struct delta_snapshot *snap;
	int add_fields; /* children of add */
	int stats_at;   /* positions among them: add.stats, or -1 */
	int pvp_at;     /* add.partitionValues_parsed, or -1 */
	int sp_at;      /* add.stats_parsed, or -1 */
	int pvp_field, sp_field;
	/* per schema field: the table's column whose values (not null counts) it holds */
	const struct delta_field **owner;
	size_t nowner;
	const struct delta_field **pcols; /* partitionValues_parsed's columns, in order */
	size_t npcols;
};

static void cp_layout_free(struct cp_layout *l)
{
	pq_schema_free(l->schema);
	free(l->owner);
	free(l->pcols);
}

/* A table property that is a boolean ("true" or "false", any case), or def. */
static int cp_flag(const struct delta_snapshot *snap, const char *key, int def)
{
	const char *v = delta_property(snap, key, NULL);
	if (v && strcasecmp(v, "true") == 0)
		return 1;
	if (v && strcasecmp(v, "false") == 0)
		return 0;
	return def;
}

/* Add field name under parent holding values of column f (null counts: a long). */
static int cp_add_column(struct cp_layout *l, int parent, const struct delta_field *f, int count)
{
	int k;
	if (count)
		k = cp_add(l->schema, parent, f->name, PQ_LONG);
	else if (f->type == DT_DECIMAL)
		k = pq_schema_add_decimal(l->schema, parent, f->name, f->precision, f->scale, 1);
	else
		k = cp_add(l->schema, parent, f->name, delta_pq_type(f));
	if (k < 0 || count)
		return k;
	if ((size_t)k >= l->nowner) {
		size_t n = (size_t)k * 2 + 16;
		const struct delta_field **o = realloc(l->owner, n * sizeof *o);
		if (!o)
			return -1;
		memset(o + l->nowner, 0, (n - l->nowner) * sizeof *o);
		l->owner = o;
		l->nowner = n;
	}
	l->owner[k] = f;
	return k;
}

/* Does Spark keep minimum and maximum values for a column of type t? */
static int cp_minmax_type(int t)
{
	switch (t) {
	case DT_STRING:
	case DT_LONG:
	case DT_INTEGER:
	case DT_SHORT:
	case DT_BYTE:
	case DT_FLOAT:
	case DT_DOUBLE:
	case DT_DATE:
	case DT_TIMESTAMP:
	case DT_TIMESTAMP_NTZ:
	case DT_DECIMAL:
		return 1;
	default:
		return 0;
	}
}

static int cp_is_partition(const struct delta_snapshot *snap, const char *name)
{
	for (size_t i = 0; i < snap->meta.n_partition_columns; i++)
		if (strcmp(snap->meta.partition_columns[i], name) == 0)
			return 1;
	return 0;
}

/*
 * Add under parent the stats fields of the columns fs[0..n) (top: the
 * table's, partition columns skipped) for minValues/maxValues (count 0)
 * or nullCount (count 1), while *left leaf columns remain (-1: all); with
 * parent -1 only count them.  Returns how many fields were (or would be)
 * added, -1 when the schema cannot be built.
 */
static int cp_add_stats(struct cp_layout *l, int parent, const struct delta_field *fs, size_t n,
                        int top, int count, int64_t *left)
{
	int added = 0;
	for (size_t i = 0; i < n; i++) {
		const struct delta_field *f = &fs[i];
		if (top && cp_is_partition(l->snap, f->name))
			continue;
		if (f->type == DT_STRUCT) {
			int64_t probe = *left;
			int k = cp_add_stats(l, -1, f->children, f->nchildren, 0, count, &probe);
			if (k < 0)
				return -1;
			if (k == 0 || parent < 0) {
				*left = probe;
				added += k > 0;
				continue;
			}
			int sf = cp_add(l->schema, parent, f->name, PQ_STRUCT);
			if (sf < 0 ||
			    cp_add_stats(l, sf, f->children, f->nchildren, 0, count, left) < 0)
				return -1;
			added++;
			continue;
		}
		if (*left == 0)
			break;
		if (*left > 0)
			--*left;
		if (!count && !cp_minmax_type(f->type))
			continue;
		if (parent >= 0 && cp_add_column(l, parent, f, count) < 0)
			return -1;
		added++;
	}
	return added;
}

/* add.stats_parsed under add (field a). */
static int cp_add_stats_parsed(struct cp_layout *l, int a)
{
	const struct delta_schema *ts = &l->snap->meta.schema;
	int64_t limit = delta_stats_columns(l->snap), left;
	int sp = cp_add(l->schema, a, "stats_parsed", PQ_STRUCT);
	if (sp < 0 || cp_add(l->schema, sp, "numRecords", PQ_LONG) < 0)
		return -1;
	static const char *const part[] = {"minValues", "maxValues", "nullCount"};
	for (int i = 0; i < 3; i++) {
		int count = i == 2;
		left = limit;
		int k = cp_add_stats(l, -1, ts->fields, ts->n, 1, count, &left);
		if (k < 0)
			return -1;
		if (k == 0)
			continue;
		int f = cp_add(l->schema, sp, part[i], PQ_STRUCT);
		left = limit;
		if (f < 0 || cp_add_stats(l, f, ts->fields, ts->n, 1, count, &left) < 0)
			return -1;
	}
	return sp;
}

/* The classic checkpoint schema (delta-protocol reference, section 7) of snap's table. */
static int cp_schema_new(const struct delta_snapshot *snap, struct cp_layout *l)
{
	memset(l, 0, sizeof *l);
	l->snap = snap;
	l->stats_at = l->pvp_at = l->sp_at = l->pvp_field = l->sp_field = -1;
	struct pq_schema *s = l->schema = pq_schema_new();
	if (!s)
		return -1;
	int as_json = cp_flag(snap, "delta.checkpoint.writeStatsAsJson", 1);
	/*
	 * Under column mapping the typed statistics and partition values would
	 * be keyed by physical names; they are left out (the JSON statistics
	 * and partitionValues carry the same, and readers need neither).
	 */
	int as_struct = cp_flag(snap, "delta.checkpoint.writeStatsAsStruct", 0) &&
	                strcasecmp(delta_column_mapping_mode(snap), "none") == 0;
	int ok = 1;
	int t = cp_add(s, PQ_ROOT, "txn", PQ_STRUCT);
	ok &= t >= 0 && cp_add(s, t, "appId", PQ_STRING) >= 0 &&
	      cp_add(s, t, "version", PQ_LONG) >= 0 && cp_add(s, t, "lastUpdated", PQ_LONG) >= 0;
	int a = cp_add(s, PQ_ROOT, "add", PQ_STRUCT);
	ok &= a >= 0 && cp_add(s, a, "path", PQ_STRING) >= 0 &&
	      cp_add_map(s, a, "partitionValues") >= 0 && cp_add(s, a, "size", PQ_LONG) >= 0 &&
	      cp_add(s, a, "modificationTime", PQ_LONG) >= 0 &&
	      cp_add(s, a, "dataChange", PQ_BOOLEAN) >= 0 && cp_add_map(s, a, "tags") >= 0 &&
	      cp_add_dv(s, a) >= 0 && cp_add(s, a, "baseRowId", PQ_LONG) >= 0 &&
	      cp_add(s, a, "defaultRowCommitVersion", PQ_LONG) >= 0;
	l->add_fields = 9;
	if (ok && as_json) {
		ok = cp_add(s, a, "stats", PQ_STRING) >= 0;
		l->stats_at = l->add_fields++;
	}
	if (ok && as_struct) {
		/* Spark's partition schema: the partition columns in partitionColumns order. */
		size_t np = snap->meta.n_partition_columns;
		l->pcols = calloc(np ? np : 1, sizeof *l->pcols);
		ok = l->pcols != NULL;
		for (size_t i = 0; ok && i < np; i++) {
			const struct delta_field *f =
			    delta_schema_find(&snap->meta.schema, snap->meta.partition_columns[i]);
			if (f && delta_type_is_primitive(f->type) && f->type != DT_VOID)
				l->pcols[l->npcols++] = f;
		}
		if (ok && l->npcols) {
			l->pvp_field = cp_add(s, a, "partitionValues_parsed", PQ_STRUCT);
			ok = l->pvp_field >= 0;
			for (size_t i = 0; ok && i < l->npcols; i++)
				ok = cp_add_column(l, l->pvp_field, l->pcols[i], 0) >= 0;
			l->pvp_at = l->add_fields++;
		}
		if (ok) {
			l->sp_field = cp_add_stats_parsed(l, a);
			ok = l->sp_field >= 0;
			l->sp_at = l->add_fields++;
		}
	}
	int r = cp_add(s, PQ_ROOT, "remove", PQ_STRUCT);
	ok &= r >= 0 && cp_add(s, r, "path", PQ_STRING) >= 0 &&
	      cp_add(s, r, "deletionTimestamp", PQ_LONG) >= 0 &&
	      cp_add(s, r, "dataChange", PQ_BOOLEAN) >= 0 &&
	      cp_add(s, r, "extendedFileMetadata", PQ_BOOLEAN) >= 0 &&
	      cp_add_map(s, r, "partitionValues") >= 0 && cp_add(s, r, "size", PQ_LONG) >= 0 &&
	      cp_add_dv(s, r) >= 0 && cp_add(s, r, "baseRowId", PQ_LONG) >= 0 &&
	      cp_add(s, r, "defaultRowCommitVersion", PQ_LONG) >= 0;
	int m = cp_add(s, PQ_ROOT, "metaData", PQ_STRUCT);
	ok &= m >= 0 && cp_add(s, m, "id", PQ_STRING) >= 0 &&
	      cp_add(s, m, "name", PQ_STRING) >= 0 && cp_add(s, m, "description", PQ_STRING) >= 0;
	int f = ok ? cp_add(s, m, "format", PQ_STRUCT) : -1;
	ok &= f >= 0 && cp_add(s, f, "provider", PQ_STRING) >= 0 &&
	      cp_add_map(s, f, "options") >= 0 && cp_add(s, m, "schemaString", PQ_STRING) >= 0 &&
	      cp_add_list(s, m, "partitionColumns") >= 0 &&
	      cp_add_map(s, m, "configuration") >= 0 && cp_add(s, m, "createdTime", PQ_LONG) >= 0;
	int p = cp_add(s, PQ_ROOT, "protocol", PQ_STRUCT);
	ok &= p >= 0 && cp_add(s, p, "minReaderVersion", PQ_INT) >= 0 &&
	      cp_add(s, p, "minWriterVersion", PQ_INT) >= 0 &&
	      cp_add_list(s, p, "readerFeatures") >= 0 && cp_add_list(s, p, "writerFeatures") >= 0;
	int d = cp_add(s, PQ_ROOT, "domainMetadata", PQ_STRUCT);
	ok &= d >= 0 && cp_add(s, d, "domain", PQ_STRING) >= 0 &&
	      cp_add(s, d, "configuration", PQ_STRING) >= 0 &&
	      cp_add(s, d, "removed", PQ_BOOLEAN) >= 0;
	return ok ? 0 : -1;
}

/* Value-tree builders over a fixed arena (a row never needs more than a few hundred). */
struct cp_arena {
	struct pq_value *v;
	size_t n, cap;
};

static struct pq_value *cp_alloc(struct cp_arena *a, size_t n)
{
	if (a->n + n > a->cap)
		return NULL;
	struct pq_value *p = &a->v[a->n];
	memset(p, 0, n * sizeof *p);
	a->n += n;
	return p;
}

static void cp_set_str(struct pq_value *v, const char *s)
{
	if (!s) {
		v->kind = PQ_V_NULL;
		return;
	}
	v->kind = PQ_V_BYTES;
	v->bytes.p = (const uint8_t *)s;
	v->bytes.len = strlen(s);
}

static void cp_set_i64(struct pq_value *v, int64_t x)
{
	v->kind = PQ_V_I64;
	v->i64 = x;
}

static int cp_set_map(struct cp_arena *a, struct pq_value *v, const struct delta_map *m)
{
	v->kind = PQ_V_MAP;
	v->n = (uint32_t)m->n;
	v->items = cp_alloc(a, 2 * m->n);
	if (!v->items && m->n)
		return -1;
	for (size_t i = 0; i < m->n; i++) {
		cp_set_str(&v->items[2 * i], m->kv[i].key);
		cp_set_str(&v->items[2 * i + 1], m->kv[i].value);
	}
	return 0;
}

/* A list<string>; NULL s gives a null list when nullable, else an empty one. */
static int cp_set_list(struct cp_arena *a, struct pq_value *v, char **s, size_t n, int nullable)
{
	if (!s && nullable) {
		v->kind = PQ_V_NULL;
		return 0;
	}
	v->kind = PQ_V_LIST;
	v->n = (uint32_t)n;
	v->items = cp_alloc(a, n);
	if (!v->items && n)
		return -1;
	for (size_t i = 0; i < n; i++)
		cp_set_str(&v->items[i], s[i]);
	return 0;
}

/* A row with 6 null action columns; returns the item for column col. */
static struct pq_value *cp_row(struct cp_arena *a, struct pq_value *row, int col, uint32_t nfields)
{
	a->n = 0;
	row->kind = PQ_V_STRUCT;
	row->n = 6;
	row->items = cp_alloc(a, 6);
	struct pq_value *act = &row->items[col];
	act->kind = PQ_V_STRUCT;
	act->n = nfields;
	act->items = cp_alloc(a, nfields);
	for (uint32_t i = 0; i < nfields; i++)
		act->items[i].kind = PQ_V_NULL;
	return act;
}

enum { COL_TXN, COL_ADD, COL_REMOVE, COL_META, COL_PROTOCOL, COL_DOMAIN };

/* The deletionVector field of add and remove (after path, partitionValues ... tags). */
#define CP_DV_AT 6

/*
 * A file's tags into v (add.tags, a map of strings), from their JSON text
 * parsed into *j, which must outlive the row's writing; null without them.
 */
static int cp_set_tags(struct cp_arena *a, struct pq_value *v, const struct delta_file *f,
                       struct json **j)
{
	struct err_msg e;
	v->kind = PQ_V_NULL;
	if (!f->tags_json)
		return 0;
	if (!(*j = json_parse(f->tags_json, strlen(f->tags_json), &e)) ||
	    json_type(*j) != JSON_OBJECT)
		return *j ? 0 : -1;
	size_t n = json_size(*j);
	v->kind = PQ_V_MAP;
	v->n = (uint32_t)n;
	if (!(v->items = cp_alloc(a, 2 * n)) && n)
		return -1;
	size_t i = 0;
	for (const struct json *c = json_first(*j); c && i < n; c = json_next(c), i++) {
		cp_set_str(&v->items[2 * i], json_key(c));
		cp_set_str(&v->items[2 * i + 1], json_type(c) == JSON_STRING ? json_str(c) : NULL);
	}
	return 0;
}

/* baseRowId and defaultRowCommitVersion of add and remove (after deletionVector), when the file has them. */
static void cp_set_row_tracking(struct pq_value *v, const struct delta_file *f)
{
	if (f->has_base_row_id)
		cp_set_i64(&v->items[CP_DV_AT + 1], f->base_row_id);
	if (f->has_row_commit_version)
		cp_set_i64(&v->items[CP_DV_AT + 2], f->default_row_commit_version);
}

/*
 * A file's deletion vector into v (add.deletionVector or
 * remove.deletionVector), from its descriptor parsed into *j, which must
 * outlive the row's writing; null without one.
 */
static int cp_set_dv(struct cp_arena *a, struct pq_value *v, const struct delta_file *f,
                     struct json **j)
{
	v->kind = PQ_V_NULL;
	if (!f->dv_json)
		return 0;
	struct err_msg e;
	if (!(*j = json_parse(f->dv_json, strlen(f->dv_json), &e)))
		return -1;
	const char *st = json_str(json_get(*j, "storageType"));
	const char *pd = json_str(json_get(*j, "pathOrInlineDv"));
	int64_t x;
	if (!st || !pd || !(v->items = cp_alloc(a, 6)))
		return -1;
	v->kind = PQ_V_STRUCT;
	v->n = 6;
	cp_set_str(&v->items[0], st);
	cp_set_str(&v->items[1], pd);
	static const char *const ints[] = {"offset", "sizeInBytes", "cardinality", "maxRowIndex"};
	for (int i = 0; i < 4; i++) {
		v->items[2 + i].kind = PQ_V_NULL;
		if (json_i64(json_get(*j, ints[i]), &x) == 0) {
			/* offset and sizeInBytes are ints in the checkpoint's schema */
			if (i < 2) {
				v->items[2 + i].kind = PQ_V_I32;
				v->items[2 + i].i32 = (int32_t)x;
			} else {
				cp_set_i64(&v->items[2 + i], x);
			}
		}
	}
	return 0;
}

/* A struct value of schema field f with every field null (kept if it is one already). */
static int cp_set_struct(const struct cp_layout *l, struct cp_arena *a, struct pq_value *v, int f)
{
	if (v->kind == PQ_V_STRUCT)
		return 0;
	uint32_t n = (uint32_t)pq_schema_field(l->schema, f)->nchildren;
	v->items = cp_alloc(a, n);
	if (!v->items && n)
		return -1;
	v->kind = PQ_V_STRUCT;
	v->n = n;
	return 0;
}

/* A cell of column f as a value of its Parquet type; one out of the type's range is null. */
static void cp_set_cell(struct pq_value *v, const struct delta_field *f, const struct delta_cell *c)
{
	v->kind = PQ_V_NULL;
	if (c->null)
		return;
	int64_t lim = f->type == DT_BYTE ? INT8_MAX : f->type == DT_SHORT ? INT16_MAX : INT32_MAX;
	switch (f->type) {
	case DT_BOOLEAN:
		v->kind = PQ_V_BOOL;
		v->b = c->i != 0;
		break;
	case DT_BYTE:
	case DT_SHORT:
	case DT_INTEGER:
	case DT_DATE:
		if (c->i < -lim - 1 || c->i > lim)
			return;
		v->kind = PQ_V_I32;
		v->i32 = (int32_t)c->i;
		break;
	case DT_LONG:
	case DT_TIMESTAMP:
	case DT_TIMESTAMP_NTZ:
		cp_set_i64(v, c->i);
		break;
	case DT_FLOAT:
		v->kind = PQ_V_F32;
		v->f32 = (float)c->d;
		break;
	case DT_DOUBLE:
		v->kind = PQ_V_F64;
		v->f64 = c->d;
		break;
	case DT_STRING:
	case DT_BINARY:
		v->kind = PQ_V_BYTES;
		v->bytes.p = (const uint8_t *)c->s;
		v->bytes.len = c->n;
		break;
	case DT_DECIMAL: {
		pq_int128 bound = dec_pow10(f->precision);
		if (c->dec >= bound || c->dec <= -bound)
			return;
		v->kind = PQ_V_DEC;
		v->dec = c->dec;
		break;
	}
	default:
		break;
	}
}

/* The partition values of file f as add.partitionValues_parsed (unparseable: null, as Spark casts). */
static int cp_set_pvp(const struct cp_layout *l, struct cp_arena *a, struct pq_value *v,
                      const struct delta_file *f, struct buf *scratch)
{
	if (cp_set_struct(l, a, v, l->pvp_field) < 0)
		return -1;
	for (size_t i = 0; i < l->npcols; i++) {
		const struct delta_field *pf = l->pcols[i];
		struct delta_cell c;
		struct err_msg e;
		const char *text = delta_map_get(&f->partition_values, pf->name, NULL);
		if (delta_partition_parse(pf, text, &c, &scratch[i], &e) == 0)
			cp_set_cell(&v->items[i], pf, &c);
	}
	return 0;
}

/* Consume the rest of a value whose first token is t: 0, -1 when the text is malformed. */
static int cp_json_skip(struct jscan *js, const struct jscan_token *t)
{
	const char *raw;
	size_t rawlen;
	if (t->type != JS_OBJ && t->type != JS_ARR)
		return 0;
	return jscan_skip(js, t, &raw, &rawlen) < 0 ? -1 : 0;
}

/*
 * The members of the JSON object just opened in js into v, a struct value
 * of schema field f: a member named as one of f's fields, of its type (null
 * counts: a long), sets it; any other is passed over.  0, or -1 when the
 * text is malformed or the arena full.
 */
static int cp_stats_object(const struct cp_layout *l, struct cp_arena *a, struct jscan *js, int f,
                           int count, struct pq_value *v, struct buf *key, struct buf *scratch)
{
	const struct pq_field *pf = pq_schema_field(l->schema, f);
	struct jscan_token k, t;
	int type;
	if (cp_set_struct(l, a, v, f) < 0)
		return -1;
	while ((type = jscan_next(js, &k)) == JS_KEY) {
		if (jscan_next(js, &t) <= 0)
			return -1;
		const char *name = k.s;
		size_t n = k.n;
		if (k.escaped) {
			buf_reset(key);
			if (jscan_unescape(k.s, k.n, key) < 0 || buf_reserve(key, 0) < 0)
				return -1;
			name = key->data;
			n = key->len;
		}
		int at = -1;
		for (int i = 0; i < pf->nchildren && at < 0; i++) {
			const char *cn = pq_schema_field(l->schema, pf->children[i])->name;
			if (strlen(cn) == n && memcmp(cn, name, n) == 0)
				at = i;
		}
		if (at < 0) {
			if (cp_json_skip(js, &t) < 0)
				return -1;
			continue;
		}
		int c = pf->children[at];
		struct pq_value *cv = &v->items[at];
		if (pq_schema_field(l->schema, c)->type == PQ_STRUCT) {
			if (t.type == JS_OBJ
			        ? cp_stats_object(l, a, js, c, count, cv, key, scratch) < 0
			        : cp_json_skip(js, &t) < 0)
				return -1;
			continue;
		}
		if (t.type == JS_OBJ || t.type == JS_ARR) {
			if (cp_json_skip(js, &t) < 0)
				return -1;
			continue;
		}
		struct delta_cell cell;
		if (count) {
			char tmp[32], *end;
			if (t.type != JS_NUM || t.n >= sizeof tmp)
				continue;
			memcpy(tmp, t.s, t.n);
			tmp[t.n] = '\0';
			errno = 0;
			int64_t x = strtoll(tmp, &end, 10);
			if (!*end && errno != ERANGE)
				cp_set_i64(cv, x);
		} else if (delta_stats_cell(l->owner[c], &t, scratch, &cell) == 0) {
			cp_set_cell(cv, l->owner[c], &cell);
		}
	}
	return type == JS_OBJ_END ? 0 : -1;
}

/*
 * The add.stats JSON of a file as add.stats_parsed: null when the file has
 * none or they are malformed, as Spark's from_json gives them.  The
 * strings point into scratch.  -1 when memory runs out.
 */
static int cp_set_stats_parsed(const struct cp_layout *l, struct cp_arena *a, struct pq_value *v,
                               const char *stats, struct buf *key, struct buf *scratch)
{
	static const char *const part[] = {"numRecords", "minValues", "maxValues", "nullCount"};
	v->kind = PQ_V_NULL;
	if (!stats)
		return 0;
	size_t len = strlen(stats), mark = a->n;
	buf_reset(scratch);
	if (buf_reserve(scratch, 2 * len + 1) < 0)
		return -1;
	const struct pq_field *sf = pq_schema_field(l->schema, l->sp_field);
	struct jscan js;
	struct jscan_token k, t;
	int type;
	jscan_init(&js, stats, len);
	if (jscan_next(&js, &t) != JS_OBJ || cp_set_struct(l, a, v, l->sp_field) < 0)
		goto bad;
	while ((type = jscan_next(&js, &k)) == JS_KEY) {
		if (jscan_next(&js, &t) <= 0)
			goto bad;
		int at = -1;
		for (int i = 0; i < sf->nchildren && at < 0; i++) {
			const char *cn = pq_schema_field(l->schema, sf->children[i])->name;
			if (strlen(cn) == k.n && memcmp(cn, k.s, k.n) == 0)
				at = i;
		}
		const char *name = at < 0 ? "" : pq_schema_field(l->schema, sf->children[at])->name;
		if (strcmp(name, part[0]) == 0 && t.type == JS_NUM) {
			char tmp[32], *end;
			if (t.n < sizeof tmp) {
				memcpy(tmp, t.s, t.n);
				tmp[t.n] = '\0';
				errno = 0;
				int64_t x = strtoll(tmp, &end, 10);
				if (!*end && errno != ERANGE)
					cp_set_i64(&v->items[at], x);
			}
		} else if (at >= 0 && t.type == JS_OBJ &&
		           pq_schema_field(l->schema, sf->children[at])->type == PQ_STRUCT) {
			if (cp_stats_object(l, a, &js, sf->children[at], strcmp(name, part[3]) == 0,
			                    &v->items[at], key, scratch) < 0)
				goto bad;
		} else if (cp_json_skip(&js, &t) < 0) {
			goto bad;
		}
	}
	if (type == JS_OBJ_END && jscan_next(&js, &t) == JS_END)
		return 0;
bad:
	/* Malformed statistics tell nothing (the arena has room for every field: cp_write_file()). */
	a->n = mark;
	v->kind = PQ_V_NULL;
	return 0;
}

int delta_interval_ms(const char *text, int64_t *ms)
{
	static const struct {
		const char *u;
		int64_t ms;
	} units[] = {{"millisecond", 1}, {"second", 1000},  {"minute", 60000},
	             {"hour", 3600000},  {"day", 86400000}, {"week", 604800000}};
	const char *p = text;
	if (strncasecmp(p, "interval", 8) != 0 || (p[8] != ' ' && p[8] != '\t'))
		return -1;
	p += 8;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	int64_t n = 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		int d = *p - '0';
		if (n > (INT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	if (*p != ' ' && *p != '\t')
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t ul = strlen(p);
	while (ul > 0 && (p[ul - 1] == ' ' || p[ul - 1] == '\t'))
		ul--;
	if (ul > 1 && (p[ul - 1] == 's' || p[ul - 1] == 'S'))
		ul--;
	for (size_t i = 0; i < sizeof units / sizeof *units; i++)
		if (strlen(units[i].u) == ul && strncasecmp(p, units[i].u, ul) == 0) {
			/* A number of weeks near 2^63 must not wrap into a negative retention. */
			if (n > INT64_MAX / units[i].ms)
				return -1;
			*ms = n * units[i].ms;
			return 0;
		}
	return -1;
}

/* Retention of tombstones: delta.deletedFileRetentionDuration ("interval 1 week"). */
static int64_t cp_retention_ms(const struct delta_snapshot *snap)
{
	const char *v = delta_property(snap, "delta.deletedFileRetentionDuration", NULL);
	int64_t ms;
	if (!v || delta_interval_ms(v, &ms) < 0)
		return 7LL * 24 * 3600 * 1000;
	return ms;
}

size_t delta_checkpoint_tombstones(const struct delta_snapshot *snap)
{
	int64_t cutoff = ts_now() / 1000 - cp_retention_ms(snap);
	size_t i = 0, n = 0;
	struct strmap_slot *s;
	while ((s = strmap_next(&snap->tombstones, &i))) {
		const struct delta_file *f = s->value;
		n += !(f->deletion_timestamp >= 0 && f->deletion_timestamp < cutoff);
	}
	return n;
}

/*
 * Point _last_checkpoint at the checkpoint just written, unless it already
 * names a newer one.  Writers of this module hold a lock on _delta_log
 * (flock(2) on the directory itself, so no lock file appears in the log)
 * from reading the pointer to renaming the new one into place: two
 * checkpoints written at once cannot leave the older one named.
 */
static int cp_point_to(const struct delta_snapshot *snap, int64_t rows, uint64_t bytes,
                       int64_t nadds, const char *uuid, struct err_msg *e)
{
	char dir[DELTA_PATH_MAX], lc[DELTA_PATH_MAX], lctmp[DELTA_PATH_MAX];
	if (delta_pathf(dir, sizeof dir, "%s/_delta_log", snap->root) < 0 ||
	    delta_pathf(lc, sizeof lc, "%s/_last_checkpoint", dir) < 0 ||
	    delta_pathf(lctmp, sizeof lctmp, "%s/._last_checkpoint.%s.tmp", dir, uuid) < 0) {
		err_set(e, EX_IOERR, "%s: %s", snap->root, strerror(ENAMETOOLONG));
		return -1;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		err_set(e, EX_IOERR, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while (flock(dfd, LOCK_EX) < 0)
		if (errno != EINTR) {
			err_set(e, EX_IOERR, "%s: cannot lock: %s", dir, strerror(errno));
			close(dfd);
			return -1;
		}
	struct buf cur = BUF_INIT;
	struct err_msg re;
	struct delta_last_checkpoint now;
	int missing, rc = 0;
	if (delta_read_file(lc, &cur, 1 << 20, &re, &missing) == 0 &&
	    delta_last_checkpoint_parse(cur.data, cur.len, &now) == 0 &&
	    now.version >= snap->version)
		goto out; /* a newer (or the same) checkpoint is named already */
	/* With the MD5 checksum of its canonical form, which readers verify (PROTOCOL.md). */
	struct buf text = BUF_INIT;
	buf_printf(
	    &text, "{\"version\":%lld,\"size\":%lld,\"sizeInBytes\":%llu,\"numOfAddFiles\":%lld}\n",
	    (long long)snap->version, (long long)rows, (unsigned long long)bytes, (long long)nadds);
	if (buf_failed(&text) || delta_json_add_checksum(&text) < 0) {
		buf_free(&text);
		err_set(e, EX_SOFTWARE, "%s: out of memory", lc);
		rc = -1;
		goto out;
	}
	int fd = open(lctmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int bad = fd < 0 || delta_write_all(fd, text.data, text.len) < 0 || fsync(fd) < 0;
	int saved = errno;
	buf_free(&text);
	if (fd >= 0 && close(fd) < 0 && !bad) {
		bad = 1;
		saved = errno;
	}
	if (!bad && rename(lctmp, lc) < 0) {
		bad = 1;
		saved = errno;
	}
	if (!bad && fsync(dfd) < 0) {
		err_set(e, EX_IOERR, "%s: cannot sync the directory: %s", dir, strerror(errno));
		rc = -1;
		goto out;
	}
	if (bad) {
		err_set(e, EX_IOERR, "%s: %s", lc, strerror(saved));
		unlink(lctmp);
		rc = -1;
	}
out:
	buf_free(&cur);
	flock(dfd, LOCK_UN);
	close(dfd);
	return rc;
}

/*
 * Write the checkpoint rows of snap to the file tmp: the number of rows and
 * of adds, and the file's size.  On failure nothing is left at tmp.
 */
static int cp_write_file(const struct delta_snapshot *snap, const char *tmp, int64_t *nrows,
                         int64_t *nadd, uint64_t *size, struct err_msg *e)
{
	struct cp_layout l;
	if (cp_schema_new(snap, &l) < 0) {
		cp_layout_free(&l);
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	struct pq_schema *schema = l.schema;
	struct pq_write_options o;
	pq_write_options_init(&o);
	o.sync = 1;
	/*
	 * Small pages: every program that opens the table reads this file, and
	 * a reader decompresses a page into a buffer it keeps for the next one.
	 * A large table's stats column in one page of half a megabyte is as
	 * much fresh memory to fault in (and map and unmap) on every start;
	 * pages of 32 KiB reuse one small buffer and compress as well.
	 */
	o.page_bytes = 32 << 10;
	/*
	 * Snappy, as Spark writes checkpoints: every start of every program
	 * decompresses the whole file, most of it the stats column, and
	 * Snappy pages decode in a fraction of ZSTD's time (on a table of
	 * 642 files, 0.3 ms of the 3 ms that opening it costs, for a file
	 * of 124 KB instead of 72 KB).
	 */
	o.compression = PQ_SNAPPY;
	struct pq_kv kv = {"writer", DELTA_ENGINE};
	o.kv = &kv;
	o.nkv = 1;
	struct pq_writer *w = pq_writer_open(tmp, schema, &o, e);
	if (!w) {
		cp_layout_free(&l);
		/* It may have been created before its first write failed (a full disk). */
		unlink(tmp);
		return -1;
	}
	/*
	 * Paths and stats are one of a kind per file: a dictionary of them
	 * saves nothing, and is one page as large as the column, whatever the
	 * page size.
	 */
	static const char *const plain[] = {"add.path", "add.stats", "remove.path"};
	for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
		const struct pq_field *pf =
		    pq_schema_field(schema, pq_schema_find(schema, plain[i]));
		if (pf)
			pq_writer_set_encoding(w, pf->leaf, PQ_ENC_PLAIN);
	}
	/* A row's values, and one for each field of the schema: the parsed statistics. */
	size_t cap = 4096 + (size_t)pq_schema_nfields(schema);
	struct cp_arena a = {calloc(cap, sizeof(struct pq_value)), 0, cap};
	struct buf key = BUF_INIT, scratch = BUF_INIT;
	struct buf *pscratch = calloc(l.npcols ? l.npcols : 1, sizeof *pscratch);
	struct pq_value row;
	int64_t rows = 0, nadds = 0;
	int ok = a.v != NULL && pscratch != NULL;

	/* protocol */
	if (ok) {
		struct pq_value *p = cp_row(&a, &row, COL_PROTOCOL, 4);
		p->items[0].kind = PQ_V_I32;
		p->items[0].i32 = snap->protocol.min_reader;
		p->items[1].kind = PQ_V_I32;
		p->items[1].i32 = snap->protocol.min_writer;
		ok = cp_set_list(&a, &p->items[2], snap->protocol.reader_features,
		                 snap->protocol.n_reader_features, 1) == 0 &&
		     cp_set_list(&a, &p->items[3], snap->protocol.writer_features,
		                 snap->protocol.n_writer_features, 1) == 0 &&
		     pq_writer_write_row(w, &row) == 0;
		rows++;
	}
	/* metaData */
	if (ok) {
		const struct delta_metadata *m = &snap->meta;
		struct pq_value *v = cp_row(&a, &row, COL_META, 8);
		cp_set_str(&v->items[0], m->id);
		cp_set_str(&v->items[1], m->name);
		cp_set_str(&v->items[2], m->description);
		struct pq_value *fmt = &v->items[3];
		fmt->kind = PQ_V_STRUCT;
		fmt->n = 2;
		fmt->items = cp_alloc(&a, 2);
		cp_set_str(&v->items[4], m->schema_string);
		ok = fmt->items != NULL;
		if (ok) {
			cp_set_str(&fmt->items[0], m->provider ? m->provider : "parquet");
			ok = cp_set_map(&a, &fmt->items[1], &m->format_options) == 0 &&
			     cp_set_list(&a, &v->items[5], m->partition_columns,
			                 m->n_partition_columns, 0) == 0 &&
			     cp_set_map(&a, &v->items[6], &m->configuration) == 0;
		}
		if (m->created_time >= 0)
			cp_set_i64(&v->items[7], m->created_time);
		ok = ok && pq_writer_write_row(w, &row) == 0;
		rows++;
	}
	/* txn */
	size_t i = 0;
	struct strmap_slot *s;
	while (ok && (s = strmap_next(&snap->txns, &i))) {
		const struct delta_set_txn *t = s->value;
		struct pq_value *v = cp_row(&a, &row, COL_TXN, 3);
		cp_set_str(&v->items[0], t->app_id);
		cp_set_i64(&v->items[1], t->version);
		if (t->last_updated >= 0)
			cp_set_i64(&v->items[2], t->last_updated);
		ok = pq_writer_write_row(w, &row) == 0;
		rows++;
	}
	/* domainMetadata: the domains of the snapshot, none removed */
	i = 0;
	while (ok && (s = strmap_next(&snap->domains, &i))) {
		const struct delta_domain *d = s->value;
		struct pq_value *v = cp_row(&a, &row, COL_DOMAIN, 3);
		cp_set_str(&v->items[0], d->domain);
		cp_set_str(&v->items[1], d->configuration);
		v->items[2].kind = PQ_V_BOOL;
		v->items[2].b = 0;
		ok = pq_writer_write_row(w, &row) == 0;
		rows++;
	}
	/* add */
	i = 0;
	while (ok && (s = strmap_next(&snap->files, &i))) {
		const struct delta_file *f = s->value;
		struct pq_value *v = cp_row(&a, &row, COL_ADD, (uint32_t)l.add_fields);
		cp_set_str(&v->items[0], f->raw_path);
		ok = cp_set_map(&a, &v->items[1], &f->partition_values) == 0;
		cp_set_i64(&v->items[2], f->size);
		cp_set_i64(&v->items[3], f->modification_time);
		v->items[4].kind = PQ_V_BOOL;
		v->items[4].b = f->data_change;
		if (l.stats_at >= 0)
			cp_set_str(&v->items[l.stats_at], f->stats);
		if (ok && l.pvp_at >= 0)
			ok = cp_set_pvp(&l, &a, &v->items[l.pvp_at], f, pscratch) == 0;
		if (ok && l.sp_at >= 0)
			ok = cp_set_stats_parsed(&l, &a, &v->items[l.sp_at], f->stats, &key,
			                         &scratch) == 0;
		cp_set_row_tracking(v, f);
		struct json *dv = NULL, *tags = NULL;
		ok = ok && cp_set_tags(&a, &v->items[CP_DV_AT - 1], f, &tags) == 0;
		ok = ok && cp_set_dv(&a, &v->items[CP_DV_AT], f, &dv) == 0;
		ok = ok && pq_writer_write_row(w, &row) == 0;
		json_free(dv);
		json_free(tags);
		rows++;
		nadds++;
	}
	/* remove: tombstones still within the retention period */
	int64_t cutoff = ts_now() / 1000 - cp_retention_ms(snap);
	i = 0;
	while (ok && (s = strmap_next(&snap->tombstones, &i))) {
		const struct delta_file *f = s->value;
		if (f->deletion_timestamp >= 0 && f->deletion_timestamp < cutoff)
			continue;
		struct pq_value *v = cp_row(&a, &row, COL_REMOVE, 9);
		cp_set_str(&v->items[0], f->raw_path);
		if (f->deletion_timestamp >= 0)
			cp_set_i64(&v->items[1], f->deletion_timestamp);
		v->items[2].kind = PQ_V_BOOL;
		v->items[2].b = f->data_change;
		v->items[3].kind = PQ_V_BOOL;
		v->items[3].b = 1;
		ok = cp_set_map(&a, &v->items[4], &f->partition_values) == 0;
		if (f->size >= 0)
			cp_set_i64(&v->items[5], f->size);
		cp_set_row_tracking(v, f);
		struct json *dv = NULL;
		ok = ok && cp_set_dv(&a, &v->items[CP_DV_AT], f, &dv) == 0;
		ok = ok && pq_writer_write_row(w, &row) == 0;
		json_free(dv);
		rows++;
	}
	free(a.v);
	buf_free(&key);
	buf_free(&scratch);
	for (size_t k = 0; pscratch && k < l.npcols; k++)
		buf_free(&pscratch[k]);
	free(pscratch);
	cp_layout_free(&l);
	if (!ok || pq_writer_close(w) < 0) {
		const struct err_msg *we = pq_writer_error(w);
		if (we && we->text[0])
			err_set(e, we->status ? we->status : EX_IOERR, "%s", we->text);
		else
			err_set(e, EX_SOFTWARE, "%s: could not build the checkpoint", tmp);
		pq_writer_free(w);
		unlink(tmp);
		return -1;
	}
	*size = pq_writer_bytes(w);
	*nrows = rows;
	*nadd = nadds;
	pq_writer_free(w);
	return 0;
}

int delta_checkpoint_write(const struct delta_snapshot *snap, struct err_msg *e)
{
	char final[DELTA_PATH_MAX], tmp[DELTA_PATH_MAX], uuid[37];
	if (snap->no_files || snap->no_tombstones) {
		err_set(e, EX_SOFTWARE, "%s: a checkpoint needs a snapshot with its %s", snap->root,
		        snap->no_files ? "files" : "tombstones");
		return -1;
	}
	delta_uuid(uuid);
	if (delta_pathf(final, sizeof final, "%s/_delta_log/%020lld.checkpoint.parquet", snap->root,
	                (long long)snap->version) < 0 ||
	    delta_pathf(tmp, sizeof tmp, "%s/_delta_log/.%020lld.checkpoint.parquet.%s.tmp",
	                snap->root, (long long)snap->version, uuid) < 0) {
		err_set(e, EX_IOERR, "%s: %s", snap->root, strerror(ENAMETOOLONG));
		return -1;
	}
	/*
	 * The Parquet writer may start threads of its own; they inherit this
	 * mask, so with every signal blocked here they never take a SIGINT or
	 * SIGTERM meant for the program's main thread, which gets it once the
	 * mask is restored.
	 */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int64_t rows = 0, nadds = 0;
	uint64_t bytes = 0;
	int rc = cp_write_file(snap, tmp, &rows, &nadds, &bytes, e);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0)
		return -1;
	if (rename(tmp, final) < 0) {
		err_set(e, EX_IOERR, "%s: %s", final, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return cp_point_to(snap, rows, bytes, nadds, uuid, e);
}

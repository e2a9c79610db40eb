/*
 * delta_log: paths, log actions and the protocol gates.
 *
 * Every line of a commit is parsed (as strict JSON, so that a damaged byte
 * cannot change a key or a path unnoticed) and checked, add and remove
 * included, also when the snapshot keeps no file lists: a writer must
 * refuse a damaged log as a reader does, or it would commit on top of it.  Listing and
 * replay live in delta_replay.c, checkpoints in delta_checkpoint.c, commit
 * stores in delta_store.c and transactions in delta_txn.c.
 */
#include "delta/delta.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/config.h"
#include "delta/delta_internal.h"
#include "text/json.h"

/* Paths and names ------------------------------------------------------------- */

int delta_pathf(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap) {
		/* Never hand on a truncated path: it would name another file. */
		if (cap)
			out[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int delta_commit_path(const char *root, int64_t v, char *out, size_t cap)
{
	return delta_pathf(out, cap, "%s/_delta_log/%020lld.json", root, (long long)v);
}

static int delta_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int delta_uri_decode(const char *s, struct buf *out)
{
	buf_reset(out);
	for (const char *p = s; *p; p++) {
		if (*p != '%') {
			if (buf_putc(out, *p) < 0)
				return -1;
			continue;
		}
		int hi = delta_hexval(p[1]), lo = hi < 0 ? -1 : delta_hexval(p[2]);
		if (hi < 0 || lo < 0)
			return -1;
		if (buf_putc(out, (char)(hi << 4 | lo)) < 0)
			return -1;
		p += 2;
	}
	return buf_reserve(out, 0);
}

int delta_uri_encode(const char *s, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned c = *p;
		int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~' ||
		           c == '/' || c == '=' || c == '+';
		if (keep) {
			if (buf_putc(out, (char)c) < 0)
				return -1;
		} else {
			char t[3] = {'%', hex[c >> 4], hex[c & 15]};
			if (buf_append(out, t, 3) < 0)
				return -1;
		}
	}
	return 0;
}

int delta_hive_escape(const char *s, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	if (!s || !*s)
		return buf_puts(out, "__HIVE_DEFAULT_PARTITION__");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned c = *p;
		int esc = (c >= 0x01 && c <= 0x1F) || c == '"' || c == '#' || c == '%' ||
		          c == '\'' || c == '*' || c == '/' || c == ':' || c == '=' || c == '?' ||
		          c == '\\' || c == 0x7F || c == '{' || c == '[' || c == ']' || c == '^';
		if (esc) {
			char t[3] = {'%', hex[c >> 4], hex[c & 15]};
			if (buf_append(out, t, 3) < 0)
				return -1;
		} else if (buf_putc(out, (char)c) < 0) {
			return -1;
		}
	}
	return 0;
}

/*
 * The directory itself first, then its parents only when it says ENOENT:
 * the parents nearly always exist (a table's partition directories share
 * them), and on s3fs every mkdir is several requests to the bucket, which
 * made creating from the root down cost a file as much as its upload.
 */
int delta_mkdirs(const char *path)
{
	char tmp[8192];
	char *cut[256];
	size_t ncut = 0;
	if (delta_pathf(tmp, sizeof tmp, "%s", path) < 0)
		return -1;
	for (size_t n = strlen(tmp); n > 1 && tmp[n - 1] == '/'; n--)
		tmp[n - 1] = '\0';
	while (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
		char *slash = strrchr(tmp, '/');
		if (errno != ENOENT || !slash || slash == tmp)
			return -1;
		if (ncut == sizeof cut / sizeof cut[0]) {
			errno = ENAMETOOLONG;
			return -1;
		}
		*slash = '\0';
		cut[ncut++] = slash;
	}
	while (ncut > 0) {
		*cut[--ncut] = '/';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

void delta_uuid(char out[37])
{
	unsigned char r[16];
	size_t got = 0;
	while (got < sizeof r) {
		ssize_t n = getrandom(r + got, sizeof r - got, 0);
		if (n > 0)
			got += (size_t)n;
		else if (n < 0 && errno != EINTR)
			break;
	}
	if (got < sizeof r) {
		/* No entropy source: fall back to time and pid, still unique per process. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t a = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		uint64_t b = (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)out;
		memcpy(r, &a, 8);
		memcpy(r + 8, &b, 8);
	}
	r[6] = (unsigned char)((r[6] & 0x0F) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3F) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
	         r[13], r[14], r[15]);
}

int delta_resolve_table(const struct config *c, const char *table, struct buf *out,
                        struct err_msg *e)
{
	buf_reset(out);
	if (!*table) {
		err_set(e, EX_USAGE, "empty table name");
		return -1;
	}
	if (strchr(table, '/') || table[0] == '.') {
		size_t n = strlen(table);
		while (n > 1 && table[n - 1] == '/')
			n--;
		if (buf_append(out, table, n) < 0) {
			err_set(e, EX_SOFTWARE, "out of memory");
			return -1;
		}
		return 0;
	}
	for (const char *p = table; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.')) {
			err_set(e, EX_USAGE,
			        "table \"%s\": a name may hold letters, digits, '_', '-' and '.' "
			        "(or give a path)",
			        table);
			return -1;
		}
	const char *lake =
	    config_value(c, NULL, "STOCKETL_LAKE", "storage", "lake", "./lake", NULL);
	if (!*lake) /* "lake =" is the default, not the root */
		lake = "./lake";
	size_t n = strlen(lake);
	while (n > 1 && lake[n - 1] == '/')
		n--;
	if (buf_append(out, lake, n) < 0 || buf_putc(out, '/') < 0 || buf_puts(out, table) < 0) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	return 0;
}

/* Maps and frees ---------------------------------------------------------------- */

static void delta_map_free(struct delta_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->kv[i].key);
		free(m->kv[i].value);
	}
	free(m->kv);
	m->kv = NULL;
	m->n = 0;
}

const char *delta_map_get(const struct delta_map *m, const char *key, int *found)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->kv[i].key, key) == 0) {
			if (found)
				*found = 1;
			return m->kv[i].value;
		}
	if (found)
		*found = 0;
	return NULL;
}

static void delta_strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void delta_file_free(struct delta_file *f)
{
	if (!f)
		return;
	free(f->dv_json); /* its own allocations, even in a one-block file */
	free(f->dv_key);
	if (f->one_block) {
		free(f);
		return;
	}
	free(f->path);
	free(f->raw_path);
	delta_map_free(&f->partition_values);
	free(f->stats);
	free(f->tags_json);
	free(f);
}

static void delta_meta_free(struct delta_metadata *m)
{
	free(m->id);
	free(m->name);
	free(m->description);
	free(m->provider);
	delta_map_free(&m->format_options);
	free(m->schema_string);
	delta_schema_free(&m->schema);
	delta_strv_free(m->partition_columns, m->n_partition_columns);
	delta_map_free(&m->configuration);
	memset(m, 0, sizeof *m);
}

static void delta_protocol_free(struct delta_protocol *p)
{
	delta_strv_free(p->reader_features, p->n_reader_features);
	delta_strv_free(p->writer_features, p->n_writer_features);
	memset(p, 0, sizeof *p);
}

static void delta_domain_free(struct delta_domain *d)
{
	if (!d)
		return;
	free(d->domain);
	free(d->configuration);
	free(d);
}

static void delta_filemap_free(struct strmap *m)
{
	size_t i = 0;
	struct strmap_slot *s;
	while ((s = strmap_next(m, &i)))
		delta_file_free(s->value);
	strmap_free(m);
}

void delta_snapshot_reset(struct delta_snapshot *snap)
{
	delta_protocol_free(&snap->protocol);
	delta_meta_free(&snap->meta);
	delta_filemap_free(&snap->files);
	delta_filemap_free(&snap->tombstones);
	size_t i = 0;
	struct strmap_slot *s;
	while ((s = strmap_next(&snap->txns, &i))) {
		struct delta_set_txn *t = s->value;
		free(t->app_id);
		free(t);
	}
	strmap_free(&snap->txns);
	i = 0;
	while ((s = strmap_next(&snap->domains, &i)))
		delta_domain_free(s->value);
	strmap_free(&snap->domains);
	snap->has_protocol = snap->has_meta = 0;
	snap->version = snap->timestamp = 0;
	snap->ict = snap->ict_version = 0;
	snap->checkpoint_version = -1;
}

void delta_snapshot_free(struct delta_snapshot *snap)
{
	/* A pending gap check is waited for: its thread reads the table's directory. */
	struct err_msg ignored;
	delta_snapshot_check(snap, &ignored);
	delta_snapshot_reset(snap);
	free(snap->root);
	memset(snap, 0, sizeof *snap);
}

int64_t delta_txn_version(const struct delta_snapshot *snap, const char *app)
{
	const struct delta_set_txn *t = strmap_get(&snap->txns, app);
	return t ? t->version : -1;
}

/* Actions ------------------------------------------------------------------------ */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* A JSON object of strings (or nulls) into a map. */
static int delta_map_from_json(const struct json *j, struct delta_map *m, const char *what,
                               struct err_msg *e)
{
	memset(m, 0, sizeof *m);
	if (!j || json_type(j) == JSON_NULL)
		return 0;
	if (json_type(j) != JSON_OBJECT) {
		err_set(e, EX_DATAERR, "%s is not an object", what);
		return -1;
	}
	size_t n = json_size(j);
	m->kv = calloc(n ? n : 1, sizeof *m->kv);
	if (!m->kv) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	for (const struct json *c = json_first(j); c; c = json_next(c)) {
		struct delta_kv *kv = &m->kv[m->n++];
		kv->key = strdup(json_key(c));
		if (json_type(c) == JSON_STRING) {
			kv->value = strdup(json_str(c));
		} else if (json_type(c) != JSON_NULL) {
			err_set(e, EX_DATAERR, "%s: value of \"%s\" is not a string", what,
			        json_key(c));
			return -1;
		}
	}
	return 0;
}

static int delta_strv_from_json(const struct json *j, char ***out, size_t *n, const char *what,
                                struct err_msg *e)
{
	*out = NULL;
	*n = 0;
	if (!j || json_type(j) == JSON_NULL)
		return 0;
	if (json_type(j) != JSON_ARRAY) {
		err_set(e, EX_DATAERR, "%s is not an array", what);
		return -1;
	}
	size_t cnt = json_size(j);
	*out = calloc(cnt + 1, sizeof **out);
	if (!*out) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	for (const struct json *c = json_first(j); c; c = json_next(c)) {
		if (json_type(c) != JSON_STRING) {
			err_set(e, EX_DATAERR, "%s holds a value that is not a string", what);
			return -1;
		}
		(*out)[(*n)++] = strdup(json_str(c));
	}
	return 0;
}

static int64_t json_i64_or(const struct json *j, int64_t def)
{
	int64_t v;
	return json_i64(j, &v) == 0 ? v : def;
}

static int delta_apply_file(struct delta_snapshot *snap, const struct json *a, int is_add,
                            int64_t v, struct err_msg *e)
{
	const char *raw = json_str(json_get(a, "path"));
	if (!raw || !*raw) {
		err_set(e, EX_DATAERR, "%s action without a path", is_add ? "add" : "remove");
		return -1;
	}
	struct delta_file *f = calloc(1, sizeof *f);
	struct buf path = BUF_INIT;
	if (!f) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	if (delta_uri_decode(raw, &path) < 0) {
		err_set(e, EX_DATAERR, "path \"%s\" has a malformed %%-escape", raw);
		buf_free(&path);
		free(f);
		return -1;
	}
	f->path = buf_detach(&path);
	f->raw_path = strdup(raw);
	f->size = json_i64_or(json_get(a, "size"), -1);
	f->modification_time = json_i64_or(json_get(a, "modificationTime"), -1);
	f->data_change = json_bool(json_get(a, "dataChange")) == 1;
	f->deletion_timestamp = json_i64_or(json_get(a, "deletionTimestamp"), -1);
	f->version = v;
	f->has_base_row_id = json_i64(json_get(a, "baseRowId"), &f->base_row_id) == 0;
	f->has_row_commit_version =
	    json_i64(json_get(a, "defaultRowCommitVersion"), &f->default_row_commit_version) == 0;
	f->stats = dup_or_null(json_str(json_get(a, "stats")));
	const struct json *tags = json_get(a, "tags");
	if (tags && json_type(tags) == JSON_OBJECT) {
		struct buf b = BUF_INIT;
		json_print(tags, &b);
		f->tags_json = buf_detach(&b);
	}
	const struct json *dv = json_get(a, "deletionVector");
	f->has_deletion_vector = dv && json_type(dv) == JSON_OBJECT;
	if (f->has_deletion_vector) {
		struct buf b = BUF_INIT;
		json_print(dv, &b);
		if (buf_failed(&b)) {
			buf_free(&b);
			delta_file_free(f);
			err_set(e, EX_SOFTWARE, "out of memory");
			return -1;
		}
		f->dv_json = buf_detach(&b);
	}
	if (delta_map_from_json(json_get(a, "partitionValues"), &f->partition_values,
	                        "partitionValues", e) < 0) {
		delta_file_free(f);
		return -1;
	}
	if (!f->path || !f->raw_path) {
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

int delta_same_dv(const char *a, const char *b)
{
	if (!a || !b)
		return !a && !b;
	struct buf x = BUF_INIT, y = BUF_INIT;
	int same = delta_dv_id(a, &x) == 0 && delta_dv_id(b, &y) == 0 && x.len == y.len &&
	           memcmp(x.data, y.data, x.len) == 0;
	buf_free(&x);
	buf_free(&y);
	return same;
}

int delta_snapshot_put_file(struct delta_snapshot *snap, struct delta_file *f, int is_add,
                            struct err_msg *e)
{
	/*
	 * A logical file is its path and its deletion vector: a remove takes
	 * out the live file only when their DVs are the same, and a file added
	 * again with a DV (a delete) stays live whatever order the commit or
	 * checkpoint lists the remove of its older self in.  Live files are
	 * known by their path (one at a time), tombstones by the logical file,
	 * so that the removes of one path with several DVs are all kept.
	 * Hashed once for both maps when there is no DV; the other map is
	 * often empty (no tombstones yet).
	 */
	uint64_t h = strmap_hash(f->path, strlen(f->path)), th = h;
	const char *tkey = f->path;
	if (f->dv_json) {
		struct buf k = BUF_INIT;
		buf_puts(&k, f->path);
		buf_putc(&k, '\x01');
		if (delta_dv_id(f->dv_json, &k) < 0 || buf_failed(&k)) {
			buf_free(&k);
			err_set(e, EX_DATAERR, "%s: a malformed deletionVector", f->path);
			delta_file_free(f);
			return -1;
		}
		free(f->dv_key);
		f->dv_key = buf_detach(&k);
		tkey = f->dv_key;
		th = strmap_hash(tkey, strlen(tkey));
	}
	if (is_add) {
		/* Added again, the same logical file is no longer a tombstone. */
		delta_file_free(strmap_del_hashed(&snap->tombstones, tkey, th));
	} else {
		struct delta_file *live = strmap_del_hashed(&snap->files, f->path, h);
		if (live && (live->dv_json || f->dv_json) &&
		    !delta_same_dv(live->dv_json, f->dv_json)) {
			/* Another logical file of the same path: it stays. */
			if (strmap_put_hashed(&snap->files, live->path, h, live, NULL) < 0) {
				delta_file_free(live);
				delta_file_free(f);
				err_set(e, EX_SOFTWARE, "out of memory");
				return -1;
			}
			live = NULL;
		}
		delta_file_free(live);
		if (snap->no_tombstones) {
			delta_file_free(f);
			return 0;
		}
	}
	struct strmap *to = is_add ? &snap->files : &snap->tombstones;
	void *old = NULL;
	if (strmap_put_hashed(to, is_add ? f->path : tkey, is_add ? h : th, f, &old) < 0) {
		delta_file_free(f);
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	delta_file_free(old);
	return 0;
}

/*
 * The column mapping mode of a table of protocol p and configuration conf:
 * PROTOCOL.md has delta.columnMapping.mode honored only where the protocol
 * has column mapping (reader version 2, or 3 with the columnMapping
 * feature); elsewhere columns are found by their names, whatever the
 * property says.
 */
static const char *mapping_mode(const struct delta_protocol *p, const struct delta_map *conf)
{
	int has = p->min_reader == 2;
	for (size_t i = 0; p->min_reader == 3 && i < p->n_reader_features; i++)
		has |= strcmp(p->reader_features[i], "columnMapping") == 0;
	int found;
	const char *mode = has ? delta_map_get(conf, "delta.columnMapping.mode", &found) : NULL;
	return mode && found ? mode : "none";
}

const char *delta_column_mapping_mode(const struct delta_snapshot *snap)
{
	return mapping_mode(&snap->protocol, &snap->meta.configuration);
}

static int delta_apply_meta(struct delta_snapshot *snap, const struct json *a, struct err_msg *e)
{
	struct delta_metadata m = {0};
	m.created_time = json_i64_or(json_get(a, "createdTime"), -1);
	m.id = dup_or_null(json_str(json_get(a, "id")));
	m.name = dup_or_null(json_str(json_get(a, "name")));
	m.description = dup_or_null(json_str(json_get(a, "description")));
	const struct json *fmt = json_get(a, "format");
	m.provider = dup_or_null(json_str(json_get(fmt, "provider")));
	const char *schema = json_str(json_get(a, "schemaString"));
	if (!m.id || !schema) {
		err_set(e, EX_DATAERR, "metaData without %s", !m.id ? "an id" : "a schemaString");
		goto fail;
	}
	m.schema_string = strdup(schema);
	if (delta_schema_parse_json(schema, strlen(schema), &m.schema, e) < 0 ||
	    delta_map_from_json(json_get(fmt, "options"), &m.format_options, "format.options", e) <
	        0 ||
	    delta_map_from_json(json_get(a, "configuration"), &m.configuration, "configuration",
	                        e) < 0 ||
	    delta_strv_from_json(json_get(a, "partitionColumns"), &m.partition_columns,
	                         &m.n_partition_columns, "partitionColumns", e) < 0)
		goto fail;
	/* A protocol not seen yet (it may follow in the commit) maps the schema when it comes. */
	if (snap->has_protocol &&
	    delta_schema_map(&m.schema, mapping_mode(&snap->protocol, &m.configuration), e) < 0)
		goto fail;
	for (size_t i = 0; i < m.n_partition_columns; i++)
		if (!delta_schema_find(&m.schema, m.partition_columns[i])) {
			err_set(e, EX_DATAERR, "partition column \"%s\" is not in the schema",
			        m.partition_columns[i]);
			goto fail;
		}
	delta_meta_free(&snap->meta);
	snap->meta = m;
	snap->has_meta = 1;
	return 0;
fail:
	delta_meta_free(&m);
	return -1;
}

static int delta_apply_protocol(struct delta_snapshot *snap, const struct json *a,
                                struct err_msg *e)
{
	struct delta_protocol p = {0};
	int64_t r, w;
	if (json_i64(json_get(a, "minReaderVersion"), &r) < 0 ||
	    json_i64(json_get(a, "minWriterVersion"), &w) < 0 || r < 0 || w < 0 || r > 1000 ||
	    w > 1000) {
		err_set(e, EX_DATAERR, "protocol action without valid reader and writer versions");
		return -1;
	}
	p.min_reader = (int)r;
	p.min_writer = (int)w;
	if (delta_strv_from_json(json_get(a, "readerFeatures"), &p.reader_features,
	                         &p.n_reader_features, "readerFeatures", e) < 0 ||
	    delta_strv_from_json(json_get(a, "writerFeatures"), &p.writer_features,
	                         &p.n_writer_features, "writerFeatures", e) < 0) {
		delta_protocol_free(&p);
		return -1;
	}
	/* The schema is mapped, or no longer, as the new protocol says. */
	if (snap->has_meta &&
	    delta_schema_map(&snap->meta.schema, mapping_mode(&p, &snap->meta.configuration), e) <
	        0) {
		delta_protocol_free(&p);
		return -1;
	}
	delta_protocol_free(&snap->protocol);
	snap->protocol = p;
	snap->has_protocol = 1;
	return 0;
}

static int delta_apply_txn(struct delta_snapshot *snap, const struct json *a, struct err_msg *e)
{
	const char *app = json_str(json_get(a, "appId"));
	int64_t version;
	if (!app || json_i64(json_get(a, "version"), &version) < 0) {
		err_set(e, EX_DATAERR, "txn action without appId and version");
		return -1;
	}
	struct delta_set_txn *t = strmap_get(&snap->txns, app);
	if (!t) {
		t = calloc(1, sizeof *t);
		if (!t || !(t->app_id = strdup(app)) ||
		    strmap_put(&snap->txns, t->app_id, t, NULL) < 0) {
			if (t)
				free(t->app_id);
			free(t);
			err_set(e, EX_SOFTWARE, "out of memory");
			return -1;
		}
	}
	t->version = version;
	t->last_updated = json_i64_or(json_get(a, "lastUpdated"), -1);
	return 0;
}

/* A domainMetadata action: the domain set, or gone when removed (action reconciliation). */
static int delta_apply_domain(struct delta_snapshot *snap, const struct json *a, struct err_msg *e)
{
	const char *domain = json_str(json_get(a, "domain"));
	const char *config = json_str(json_get(a, "configuration"));
	int removed = json_bool(json_get(a, "removed"));
	if (!domain || !config || removed < 0) {
		err_set(e, EX_DATAERR,
		        "domainMetadata action without a domain, a configuration and removed");
		return -1;
	}
	if (removed) {
		delta_domain_free(strmap_del(&snap->domains, domain));
		return 0;
	}
	struct delta_domain *d = calloc(1, sizeof *d);
	void *old = NULL;
	if (!d || !(d->domain = strdup(domain)) || !(d->configuration = strdup(config)) ||
	    strmap_put(&snap->domains, d->domain, d, &old) < 0) {
		delta_domain_free(d);
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	delta_domain_free(old);
	return 0;
}

int delta_apply_action(struct delta_snapshot *snap, int64_t v, const struct json *j,
                       struct err_msg *e)
{
	const struct json *a;
	if ((a = json_get(j, "add")) && json_type(a) == JSON_OBJECT)
		return delta_apply_file(snap, a, 1, v, e);
	if ((a = json_get(j, "remove")) && json_type(a) == JSON_OBJECT)
		return delta_apply_file(snap, a, 0, v, e);
	if ((a = json_get(j, "metaData")) && json_type(a) == JSON_OBJECT)
		return delta_apply_meta(snap, a, e);
	if ((a = json_get(j, "protocol")) && json_type(a) == JSON_OBJECT)
		return delta_apply_protocol(snap, a, e);
	if ((a = json_get(j, "txn")) && json_type(a) == JSON_OBJECT)
		return delta_apply_txn(snap, a, e);
	if ((a = json_get(j, "domainMetadata")) && json_type(a) == JSON_OBJECT)
		return delta_apply_domain(snap, a, e);
	/* commitInfo, cdc, checkpointMetadata, sidecar, unknown: ignored. */
	return 0;
}

int delta_snapshot_apply(struct delta_snapshot *snap, int64_t v, const char *text, size_t len,
                         struct err_msg *e)
{
	const char *p = text, *end = text + len;
	int line = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		line++;
		const char *s = p;
		p = nl ? nl + 1 : end;
		while (s < le && (*s == ' ' || *s == '\t' || *s == '\r'))
			s++;
		if (s == le)
			continue;
		struct err_msg je;
		struct json *j = json_parse(s, (size_t)(le - s), &je);
		if (!j || json_type(j) != JSON_OBJECT) {
			/* Say why the text is not JSON: a damaged byte is found by its offset. */
			int parsed = j != NULL;
			json_free(j);
			err_set(e, EX_DATAERR, "%s: version %lld, line %d: not a JSON action%s%s%s",
			        snap->root, (long long)v, line, parsed ? "" : " (",
			        parsed ? "" : je.text, parsed ? "" : ")");
			return -1;
		}
		struct err_msg ae;
		int rc = delta_apply_action(snap, v, j, &ae);
		json_free(j);
		if (rc < 0) {
			err_set(e, ae.status ? ae.status : EX_DATAERR,
			        "%s: version %lld, line %d: %s", snap->root, (long long)v, line,
			        ae.text);
			return -1;
		}
	}
	return 0;
}

/*
 * The features this reads and writes (vacuumProtocolCheck asks only that
 * vacuum check them).  v2Checkpoint: its checkpoints are read
 * (delta_checkpoint.c); writers may write classic V1 checkpoints in such a
 * table, which PROTOCOL.md always allows, never multi-part ones, which it
 * forbids there (and which this never writes).  The writer features of
 * invariants, CHECK constraints, generated and identity columns ask a
 * writer to respect them where the table uses them: a table that does is
 * refused by delta_check_write(), whatever its features.  Change data
 * feed asks for change data files from commits that update or delete
 * rows: appends and compaction need none, and upserts refuse such a table
 * (delta_change_data_feed()).
 */
static const char *const reader_features_ok[] = {
    "timestampNtz",         "deletionVectors",     "columnMapping", "typeWidening",
    "typeWidening-preview", "vacuumProtocolCheck", "v2Checkpoint"};
static const char *const writer_features_ok[] = {
    "appendOnly",           "timestampNtz",        "deletionVectors",   "typeWidening",
    "typeWidening-preview", "vacuumProtocolCheck", "inCommitTimestamp", "columnMapping",
    "v2Checkpoint",         "invariants",          "checkConstraints",  "changeDataFeed",
    "generatedColumns",     "identityColumns",     "domainMetadata",    "rowTracking"};

static int delta_feature_ok(const char *f, const char *const *ok, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(f, ok[i]) == 0)
			return 1;
	return 0;
}

int delta_check_read(const struct delta_snapshot *snap, struct err_msg *e)
{
	const struct delta_protocol *p = &snap->protocol;
	if (p->min_reader > 3) {
		/* Name the features too: they say what the table needs better than a number. */
		char names[200] = "";
		size_t at = 0;
		for (size_t i = 0; i < p->n_reader_features && at < sizeof names; i++)
			if (!delta_feature_ok(p->reader_features[i], reader_features_ok,
			                      sizeof reader_features_ok /
			                          sizeof *reader_features_ok))
				at += (size_t)snprintf(names + at, sizeof names - at, "%s%s",
				                       at ? ", " : " (reader features ",
				                       p->reader_features[i]);
		err_set(e, EX_DATAERR,
		        "%s: reader version %d%s%s is not supported; this reads versions 1 and 2, "
		        "and 3 with the features timestampNtz, deletionVectors, columnMapping, "
		        "typeWidening, vacuumProtocolCheck and v2Checkpoint",
		        snap->root, p->min_reader, names, at ? ")" : "");
		return -1;
	}
	if (p->min_reader == 3)
		for (size_t i = 0; i < p->n_reader_features; i++)
			if (!delta_feature_ok(p->reader_features[i], reader_features_ok,
			                      sizeof reader_features_ok /
			                          sizeof *reader_features_ok)) {
				err_set(e, EX_DATAERR, "%s: reader feature \"%s\" is not supported",
				        snap->root, p->reader_features[i]);
				return -1;
			}
	struct err_msg te;
	if (delta_schema_check_type_changes(&snap->meta.schema, &te) < 0) {
		err_set(e, te.status, "%s: %s", snap->root, te.text);
		return -1;
	}
	return 0;
}

static int delta_field_has_invariant(const struct delta_field *f)
{
	if (f->metadata_json && strstr(f->metadata_json, "\"delta.invariants\""))
		return 1;
	for (size_t i = 0; i < f->nchildren; i++)
		if (delta_field_has_invariant(&f->children[i]))
			return 1;
	return 0;
}

static int delta_field_has_meta(const struct delta_field *f, const char *key)
{
	if (f->metadata_json && strstr(f->metadata_json, key))
		return 1;
	for (size_t i = 0; i < f->nchildren; i++)
		if (delta_field_has_meta(&f->children[i], key))
			return 1;
	return 0;
}

int delta_check_write(const struct delta_snapshot *snap, struct err_msg *e)
{
	if (delta_check_read(snap, e) < 0)
		return -1;
	const struct delta_protocol *p = &snap->protocol;
	/*
	 * Writer versions 3 to 6 ask a writer to respect CHECK constraints,
	 * change data feed, generated columns, column mapping and identity
	 * columns: column mapping is written, and a table that uses any of the
	 * others is refused below, whatever its version.
	 */
	if (p->min_writer > 7) {
		err_set(e, EX_DATAERR, "%s: writer version %d is not supported", snap->root,
		        p->min_writer);
		return -1;
	}
	if (p->min_writer == 7)
		for (size_t i = 0; i < p->n_writer_features; i++)
			if (!delta_feature_ok(p->writer_features[i], writer_features_ok,
			                      sizeof writer_features_ok /
			                          sizeof *writer_features_ok)) {
				err_set(e, EX_DATAERR, "%s: writer feature \"%s\" is not supported",
				        snap->root, p->writer_features[i]);
				return -1;
			}
	for (size_t i = 0; i < snap->meta.schema.n; i++) {
		const struct delta_field *f = &snap->meta.schema.fields[i];
		if (delta_field_has_invariant(f)) {
			err_set(e, EX_DATAERR,
			        "%s: column \"%s\" has invariants, which are not "
			        "supported",
			        snap->root, f->name);
			return -1;
		}
		if (delta_field_has_meta(f, "\"delta.identity.") ||
		    delta_field_has_meta(f, "\"delta.generationExpression\"")) {
			err_set(e, EX_DATAERR,
			        "%s: column \"%s\" is an identity or generated column, which are "
			        "not supported",
			        snap->root, f->name);
			return -1;
		}
	}
	const struct delta_map *c = &snap->meta.configuration;
	for (size_t i = 0; i < c->n; i++) {
		const char *k = c->kv[i].key;
		if (strncmp(k, "delta.constraints.", 18) == 0) {
			err_set(e, EX_DATAERR, "%s: CHECK constraint %s is not supported",
			        snap->root, k + 18);
			return -1;
		}
	}
	/* Row tracking keeps its high water mark in a metadata domain. */
	int rt = 0, dm = 0;
	for (size_t i = 0; i < p->n_writer_features; i++) {
		rt |= strcmp(p->writer_features[i], "rowTracking") == 0;
		dm |= strcmp(p->writer_features[i], "domainMetadata") == 0;
	}
	if (p->min_writer == 7 && rt && !dm) {
		err_set(e, EX_DATAERR,
		        "%s: the writer feature rowTracking without domainMetadata, which it needs",
		        snap->root);
		return -1;
	}
	return 0;
}

const char *delta_domain_config(const struct delta_snapshot *snap, const char *domain)
{
	const struct delta_domain *d = strmap_get(&snap->domains, domain);
	return d ? d->configuration : NULL;
}

int delta_row_tracking(const struct delta_snapshot *snap)
{
	const struct delta_protocol *p = &snap->protocol;
	int listed = 0;
	for (size_t i = 0; p->min_writer == 7 && i < p->n_writer_features && !listed; i++)
		listed = strcmp(p->writer_features[i], "rowTracking") == 0;
	if (!listed ||
	    strcasecmp(delta_property(snap, "delta.rowTrackingSuspended", "false"), "true") == 0)
		return 0;
	return strcasecmp(delta_property(snap, "delta.enableRowTracking", "false"), "true") == 0
	           ? 2
	           : 1;
}

int64_t delta_row_id_high_water_mark(const struct delta_snapshot *snap)
{
	const char *c = delta_domain_config(snap, "delta.rowTracking");
	struct err_msg e;
	struct json *j = c ? json_parse(c, strlen(c), &e) : NULL;
	int64_t hwm;
	if (!j || json_i64(json_get(j, "rowIdHighWaterMark"), &hwm) < 0)
		hwm = -1;
	json_free(j);
	return hwm;
}

const char *delta_property(const struct delta_snapshot *snap, const char *key, const char *def)
{
	int found;
	const char *v = delta_map_get(&snap->meta.configuration, key, &found);
	return found && v ? v : def;
}

int delta_append_only(const struct delta_snapshot *snap)
{
	return strcasecmp(delta_property(snap, "delta.appendOnly", "false"), "true") == 0;
}

int delta_change_data_feed(const struct delta_snapshot *snap)
{
	return strcasecmp(delta_property(snap, "delta.enableChangeDataFeed", "false"), "true") == 0;
}

int64_t delta_checkpoint_interval(const struct delta_snapshot *snap)
{
	const char *v = delta_property(snap, "delta.checkpointInterval", NULL);
	if (!v)
		return DELTA_DEFAULT_CHECKPOINT_INTERVAL;
	char *end;
	long long n = strtoll(v, &end, 10);
	return *end || n <= 0 ? DELTA_DEFAULT_CHECKPOINT_INTERVAL : n;
}

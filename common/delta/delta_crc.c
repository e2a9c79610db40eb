/*
 * delta_crc: the integrity files of a Delta log that PROTOCOL.md defines
 * beside the commits: the checksum of _last_checkpoint and the version
 * checksum files (N.crc).
 *
 * _last_checkpoint's "checksum" is the MD5 of the pointer's canonical form
 * ("JSON checksum" in PROTOCOL.md): every leaf value as one "path=value"
 * pair, the path's names URL-encoded in quotes and its array indexes bare,
 * joined by '+'; strings URL-encoded in quotes, numbers as written,
 * literals as they are; the pairs sorted by their paths' bytes and joined
 * by ','; the top-level "checksum" member left out.  Empty objects and
 * arrays have no leaf and give nothing.  The text is scanned (jscan.h)
 * rather than parsed into a tree, so that numbers keep the text they were
 * written with, which is their canonical form.
 *
 * A version checksum file holds the table's state at its version: live
 * files and their bytes, metadata, protocol, live txns and domains.  The
 * writer (delta_txn.c) knows the counts exactly or writes none; this file
 * builds the text and puts it in place without ever replacing one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/md5.h"
#include "delta/delta_internal.h"
#include "text/jscan.h"
#include "text/json.h"

/* The canonical form ---------------------------------------------------------------- */

struct canon_pair {
	size_t off;  /* in canon.pairs: "path=value" */
	size_t plen; /* the path's length */
	size_t len;
	const char *s; /* the pair, once every pair is in (for sorting) */
};

struct canon {
	struct jscan js;
	struct buf path;  /* the current path */
	struct buf pairs; /* every pair, one after the other */
	struct canon_pair *p;
	size_t n, cap;
	struct buf keys; /* the encoded keys of the objects being read (duplicates) */
	struct buf tmp;  /* a string's unescaped value */
};

/* Append s[0..n) (a JSON string's raw contents) URL-encoded and in quotes: 0, or -1. */
static int canon_string(struct canon *c, struct buf *out, const char *s, size_t n, int escaped)
{
	if (escaped) {
		buf_reset(&c->tmp);
		if (jscan_unescape(s, n, &c->tmp) < 0)
			return -1;
		s = c->tmp.data ? c->tmp.data : "";
		n = c->tmp.len;
	}
	static const char hex[] = "0123456789ABCDEF";
	buf_putc(out, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char b = (unsigned char)s[i];
		if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
		    b == '-' || b == '.' || b == '_' || b == '~') {
			buf_putc(out, (char)b);
		} else {
			char pct[3] = {'%', hex[b >> 4], hex[b & 15]};
			buf_append(out, pct, 3);
		}
	}
	buf_putc(out, '"');
	return buf_failed(out) ? -1 : 0;
}

static int canon_pair(struct canon *c, const char *value, size_t vlen)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		struct canon_pair *p = realloc(c->p, cap * sizeof *p);
		if (!p)
			return -1;
		c->p = p;
		c->cap = cap;
	}
	struct canon_pair *p = &c->p[c->n++];
	p->off = c->pairs.len;
	p->plen = c->path.len;
	buf_append(&c->pairs, c->path.data ? c->path.data : "", c->path.len);
	buf_putc(&c->pairs, '=');
	buf_append(&c->pairs, value, vlen);
	p->len = c->pairs.len - p->off;
	return buf_failed(&c->pairs) ? -1 : 0;
}

struct canon_key {
	size_t off, len; /* in canon.keys */
	const char *s;   /* the key, once the object's keys are all in (for sorting) */
};

static int cmp_key(const void *a, const void *b)
{
	const struct canon_key *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int d = memcmp(x->s, y->s, n);
	return d ? d : (x->len > y->len) - (x->len < y->len);
}

static int canon_value(struct canon *c, const struct jscan_token *t, int depth);

/* An object, after its '{': its members, each key checked against the others. */
static int canon_object(struct canon *c, int depth)
{
	struct jscan_token k, v;
	struct canon_key *keys = NULL;
	size_t nkeys = 0, capkeys = 0, mark = c->keys.len;
	int type, rc = -1;
	while ((type = jscan_next(&c->js, &k)) == JS_KEY) {
		size_t at = c->path.len, koff = c->keys.len;
		if (canon_string(c, &c->keys, k.s, k.n, k.escaped) < 0)
			goto out;
		if (nkeys == capkeys) {
			size_t cap = capkeys ? capkeys * 2 : 8;
			struct canon_key *nk = realloc(keys, cap * sizeof *nk);
			if (!nk)
				goto out;
			keys = nk;
			capkeys = cap;
		}
		keys[nkeys].off = koff;
		keys[nkeys++].len = c->keys.len - koff;
		if (jscan_next(&c->js, &v) <= 0)
			goto out;
		/* The top-level checksum is what is computed, so it is no part of it. */
		static const char skip[] = "\"checksum\"";
		if (depth == 0 && c->keys.len - koff == sizeof skip - 1 &&
		    memcmp(c->keys.data + koff, skip, sizeof skip - 1) == 0) {
			const char *raw;
			size_t rawlen;
			if (jscan_skip(&c->js, &v, &raw, &rawlen) < 0)
				goto out;
			continue;
		}
		if (at)
			buf_putc(&c->path, '+');
		buf_append(&c->path, c->keys.data + koff, c->keys.len - koff);
		if (buf_failed(&c->path) || canon_value(c, &v, depth + 1) < 0)
			goto out;
		c->path.len = at;
	}
	if (type != JS_OBJ_END)
		goto out;
	/* PROTOCOL.md: a JSON with duplicate keys is not a valid one. */
	for (size_t i = 0; i < nkeys; i++)
		keys[i].s = c->keys.data + keys[i].off;
	if (nkeys > 1)
		qsort(keys, nkeys, sizeof *keys, cmp_key);
	for (size_t i = 1; i < nkeys; i++)
		if (cmp_key(&keys[i - 1], &keys[i]) == 0)
			goto out;
	rc = 0;
out:
	free(keys);
	c->keys.len = mark;
	return rc;
}

static int canon_value(struct canon *c, const struct jscan_token *t, int depth)
{
	switch (t->type) {
	case JS_OBJ:
		return canon_object(c, depth);
	case JS_ARR: {
		struct jscan_token v;
		int64_t i = 0;
		int type;
		while ((type = jscan_next(&c->js, &v)) > 0 && type != JS_ARR_END) {
			size_t at = c->path.len;
			if (at)
				buf_putc(&c->path, '+');
			buf_printf(&c->path, "%lld", (long long)i++);
			if (buf_failed(&c->path) || canon_value(c, &v, depth + 1) < 0)
				return -1;
			c->path.len = at;
		}
		return type == JS_ARR_END ? 0 : -1;
	}
	case JS_STR: {
		struct buf s = BUF_INIT;
		int rc = canon_string(c, &s, t->s, t->n, t->escaped) < 0
		             ? -1
		             : canon_pair(c, s.data, s.len);
		buf_free(&s);
		return rc;
	}
	case JS_NUM:
		return canon_pair(c, t->s, t->n);
	case JS_TRUE:
		return canon_pair(c, "true", 4);
	case JS_FALSE:
		return canon_pair(c, "false", 5);
	case JS_NULL:
		return canon_pair(c, "null", 4);
	default:
		return -1;
	}
}

/* By the paths' bytes (the pairs of one document have distinct paths). */
static int cmp_pair(const void *a, const void *b)
{
	const struct canon_pair *x = a, *y = b;
	size_t n = x->plen < y->plen ? x->plen : y->plen;
	int d = memcmp(x->s, y->s, n);
	return d ? d : (x->plen > y->plen) - (x->plen < y->plen);
}

int delta_json_canonical(const char *text, size_t len, struct buf *out)
{
	struct canon c;
	struct jscan_token t;
	memset(&c, 0, sizeof c);
	jscan_init(&c.js, text, len);
	int rc = -1;
	if (jscan_next(&c.js, &t) <= 0 || canon_value(&c, &t, 0) < 0 ||
	    jscan_next(&c.js, &t) != JS_END)
		goto out;
	for (size_t i = 0; i < c.n; i++)
		c.p[i].s = c.pairs.data + c.p[i].off;
	if (c.n > 1)
		qsort(c.p, c.n, sizeof *c.p, cmp_pair);
	buf_reset(out);
	for (size_t i = 0; i < c.n; i++) {
		if (i)
			buf_putc(out, ',');
		buf_append(out, c.pairs.data + c.p[i].off, c.p[i].len);
	}
	buf_reserve(out, 1);
	if (!buf_failed(out)) {
		out->data[out->len] = '\0';
		rc = 0;
	}
out:
	free(c.p);
	buf_free(&c.path);
	buf_free(&c.pairs);
	buf_free(&c.keys);
	buf_free(&c.tmp);
	return rc;
}

int delta_json_checksum(const char *text, size_t len, char out[33])
{
	struct buf b = BUF_INIT;
	int rc = delta_json_canonical(text, len, &b);
	if (rc == 0)
		md5_hex(b.data ? b.data : "", b.len, out);
	buf_free(&b);
	return rc;
}

int delta_json_checksum_ok(const char *text, size_t len, const char *stored)
{
	char sum[33];
	return stored && delta_json_checksum(text, len, sum) == 0 && strcasecmp(sum, stored) == 0;
}

int delta_json_add_checksum(struct buf *b)
{
	char sum[33];
	size_t end = b->len;
	while (end > 0 && (b->data[end - 1] == '\n' || b->data[end - 1] == ' '))
		end--;
	if (end < 2 || b->data[end - 1] != '}' || delta_json_checksum(b->data, b->len, sum) < 0)
		return -1;
	/* {"a":1} becomes {"a":1,"checksum":"..."}; {} becomes {"checksum":"..."}. */
	char tail[64];
	int n = snprintf(tail, sizeof tail, "%s\"checksum\":\"%s\"}", end == 2 ? "" : ",", sum);
	size_t keep = b->len - end;
	char rest[8];
	if (keep >= sizeof rest)
		return -1;
	memcpy(rest, b->data + end, keep);
	b->len = end - 1;
	buf_append(b, tail, (size_t)n);
	buf_append(b, rest, keep);
	return buf_failed(b) ? -1 : 0;
}

/* Version checksum files ------------------------------------------------------------- */

int delta_crc_path(const char *root, int64_t v, char *out, size_t cap)
{
	return delta_pathf(out, cap, "%s/_delta_log/%020lld.crc", root, (long long)v);
}

int delta_crc_read(const char *root, int64_t v, const char *table_id, int64_t *files,
                   int64_t *bytes)
{
	char path[DELTA_PATH_MAX];
	struct buf text = BUF_INIT;
	struct err_msg e;
	int missing, rc = -1;
	if (delta_crc_path(root, v, path, sizeof path) < 0 ||
	    delta_read_file(path, &text, DELTA_CRC_FILE_MAX, &e, &missing) < 0) {
		buf_free(&text);
		return -1;
	}
	struct json *j = json_parse(text.data ? text.data : "", text.len, &e);
	int64_t nm, np;
	const char *id = json_str(json_get(json_get(j, "metadata"), "id"));
	/* Only a file that is whole and of this table says anything. */
	if (j && json_i64(json_get(j, "numFiles"), files) == 0 &&
	    json_i64(json_get(j, "tableSizeBytes"), bytes) == 0 && *files >= 0 && *bytes >= 0 &&
	    json_i64(json_get(j, "numMetadata"), &nm) == 0 && nm == 1 &&
	    json_i64(json_get(j, "numProtocol"), &np) == 0 && np == 1 &&
	    json_type(json_get(j, "protocol")) == JSON_OBJECT && id && table_id &&
	    strcmp(id, table_id) == 0)
		rc = 0;
	json_free(j);
	buf_free(&text);
	return rc;
}

/*
 * The values of a map of the snapshot whose values begin with their name
 * (struct delta_set_txn, struct delta_domain), in the order of the names,
 * so that one state always gives one text; NULL when out of memory.
 */
static int cmp_named(const void *a, const void *b)
{
	const char *const *x = *(const void *const *)a, *const *y = *(const void *const *)b;
	return strcmp(*x, *y);
}

static const void **sorted_values(const struct strmap *m)
{
	const void **v = calloc(m->count ? m->count : 1, sizeof *v);
	size_t i = 0, n = 0;
	struct strmap_slot *s;
	if (!v)
		return NULL;
	while ((s = strmap_next(m, &i)) && n < m->count)
		v[n++] = s->value;
	qsort(v, n, sizeof *v, cmp_named);
	return v;
}

int delta_crc_text(const struct delta_snapshot *snap, int64_t files, int64_t bytes,
                   const char *txn_id, int64_t ict, struct buf *out)
{
	buf_reset(out);
	buf_puts(out, "{");
	if (txn_id) {
		buf_puts(out, "\"txnId\":");
		buf_json_str(out, txn_id, strlen(txn_id));
		buf_putc(out, ',');
	}
	buf_printf(out,
	           "\"tableSizeBytes\":%lld,\"numFiles\":%lld,\"numMetadata\":1,"
	           "\"numProtocol\":1",
	           (long long)bytes, (long long)files);
	if (ict > 0)
		buf_printf(out, ",\"inCommitTimestampOpt\":%lld", (long long)ict);
	const void **v = sorted_values(&snap->txns);
	if (!v)
		return -1;
	buf_puts(out, ",\"setTransactions\":[");
	for (size_t k = 0; k < snap->txns.count; k++) {
		const struct delta_set_txn *t = v[k];
		buf_puts(out, k ? ",{\"appId\":" : "{\"appId\":");
		buf_json_str(out, t->app_id, strlen(t->app_id));
		buf_printf(out, ",\"version\":%lld", (long long)t->version);
		if (t->last_updated >= 0)
			buf_printf(out, ",\"lastUpdated\":%lld", (long long)t->last_updated);
		buf_putc(out, '}');
	}
	buf_putc(out, ']');
	free(v);
	if (snap->domains.count) {
		if (!(v = sorted_values(&snap->domains)))
			return -1;
		buf_puts(out, ",\"domainMetadata\":[");
		for (size_t k = 0; k < snap->domains.count; k++) {
			const struct delta_domain *d = v[k];
			buf_puts(out, k ? ",{\"domain\":" : "{\"domain\":");
			buf_json_str(out, d->domain, strlen(d->domain));
			buf_puts(out, ",\"configuration\":");
			buf_json_str(out, d->configuration, strlen(d->configuration));
			buf_puts(out, ",\"removed\":false}");
		}
		buf_putc(out, ']');
		free(v);
	}
	buf_puts(out, ",\"metadata\":");
	delta_metadata_json(&snap->meta, out);
	buf_puts(out, ",\"protocol\":");
	delta_protocol_json(&snap->protocol, out);
	buf_puts(out, "}\n");
	return buf_failed(out) ? -1 : 0;
}

int delta_crc_put(const char *root, int64_t v, const char *text, size_t len, struct err_msg *e)
{
	char final[DELTA_PATH_MAX], tmp[DELTA_PATH_MAX], uuid[37];
	delta_uuid(uuid);
	if (delta_crc_path(root, v, final, sizeof final) < 0 ||
	    delta_pathf(tmp, sizeof tmp, "%s/_delta_log/.%020lld.crc.%s.tmp", root, (long long)v,
	                uuid) < 0) {
		err_set(e, EX_IOERR, "%s: %s", root, strerror(ENAMETOOLONG));
		return -1;
	}
	/*
	 * Written whole under a hidden name, then linked to its own: a reader
	 * sees all of it or nothing, and link(2) never replaces a file.  No
	 * fsync: the file is optional, and one that a crash leaves empty is
	 * one that readers cannot parse, which they take as missing.
	 */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		err_set(e, EX_IOERR, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	int bad = delta_write_all(fd, text, len) < 0;
	int saved = errno;
	if (close(fd) < 0 && !bad) {
		bad = 1;
		saved = errno;
	}
	if (bad) {
		unlink(tmp);
		err_set(e, EX_IOERR, "%s: %s", tmp, strerror(saved));
		return -1;
	}
	int rc = 1;
	if (link(tmp, final) < 0) {
		saved = errno;
		if (saved == EEXIST) {
			rc = 0;
		} else if (saved == EPERM || saved == ENOTSUP || saved == EOPNOTSUPP ||
		           saved == ENOSYS) {
			/*
			 * s3fs has no link(2); its rename is a server-side copy,
			 * which appears whole.  The version is this writer's (the
			 * commit store gave it), and so is its checksum file: what
			 * is there already is some other writer's, and stays.
			 */
			if (access(final, F_OK) == 0)
				rc = 0;
			else if (errno != ENOENT || rename(tmp, final) < 0)
				rc = -1;
			saved = errno;
		} else {
			rc = -1;
		}
	}
	if (rc < 0)
		err_set(e, EX_IOERR, "%s: %s", final, strerror(saved));
	unlink(tmp);
	return rc;
}

/*
 * delta_dv: deletion vectors, the rows of a data file that a table's log
 * marks deleted without rewriting the file (reader feature
 * deletionVectors).
 *
 * A file's add action carries a descriptor: the DV is inline in the log
 * (storageType "i", Z85 text), in a file of the table named by a UUID
 * (storageType "u": <prefix>/deletion_vector_<uuid>.bin, the UUID as the
 * last 20 Z85 characters) or in a file at an absolute path ("p"), at an
 * offset.  A DV in a file is its size (32 bits, big-endian), its bytes and
 * their CRC-32 (big-endian).  The bytes are a magic number (1681511377,
 * little-endian) and a 64-bit Roaring bitmap in the portable format: the
 * number of 32-bit buckets (64 bits), then per bucket its key (the high
 * 32 bits) and a 32-bit Roaring bitmap, itself containers of 2^16 values
 * (sorted arrays, bitmaps or runs) under a header.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delta/delta.h"
#include "parquet/pq_codec.h"
#include "text/json.h"

#define DV_MAGIC       1681511377u
#define COOKIE_NO_RUNS 12346u
#define COOKIE_RUNS    12347u
#define ARRAY_MAX      4096
#define DV_MAX_ROWS    ((size_t)1 << 32) /* row indexes a DV may list */
#define DV_MAX_BYTES   ((int64_t)1 << 31)

static const char z85_chars[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

int delta_z85_decode(const char *s, size_t n, struct buf *out)
{
	static signed char value[256];
	static int ready;
	if (!ready) {
		memset(value, -1, sizeof value);
		for (int i = 0; i < 85; i++)
			value[(unsigned char)z85_chars[i]] = (signed char)i;
		ready = 1;
	}
	if (n % 5)
		return -1;
	for (size_t i = 0; i < n; i += 5) {
		uint64_t v = 0;
		for (size_t k = 0; k < 5; k++) {
			int d = value[(unsigned char)s[i + k]];
			if (d < 0)
				return -1;
			v = v * 85 + (uint64_t)d;
		}
		if (v > UINT32_MAX)
			return -1;
		unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
		                      (unsigned char)(v >> 8), (unsigned char)v};
		if (buf_append(out, b, 4) < 0)
			return -1;
	}
	return 0;
}

/* Reading the bitmap --------------------------------------------------------------- */

struct cur {
	const uint8_t *p, *end;
};

static int need(const struct cur *c, size_t n)
{
	return (size_t)(c->end - c->p) >= n;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Append row index v, which must be greater than the last. */
static int put_row(struct delta_dv *dv, size_t cap, uint64_t v)
{
	if (dv->n == cap || (dv->n && v <= dv->rows[dv->n - 1]))
		return -1;
	dv->rows[dv->n++] = v;
	return 0;
}

/* One 32-bit Roaring bitmap (portable format) whose values take the high bits hi. */
static int roaring32(struct cur *c, uint64_t hi, struct delta_dv *dv, size_t cap, const char **why)
{
	if (!need(c, 4)) {
		*why = "a bucket is cut short";
		return -1;
	}
	uint32_t cookie = le32(c->p);
	c->p += 4;
	uint32_t n;
	const uint8_t *runs = NULL;
	if ((cookie & 0xFFFF) == COOKIE_RUNS) {
		n = (cookie >> 16) + 1;
		if (!need(c, (n + 7) / 8)) {
			*why = "a bucket is cut short";
			return -1;
		}
		runs = c->p;
		c->p += (n + 7) / 8;
	} else if (cookie == COOKIE_NO_RUNS) {
		if (!need(c, 4)) {
			*why = "a bucket is cut short";
			return -1;
		}
		n = le32(c->p);
		c->p += 4;
	} else {
		*why = "a bucket is not a Roaring bitmap (unknown cookie)";
		return -1;
	}
	if (n > 65536 || !need(c, (size_t)n * 4)) {
		*why = "a bucket's header is cut short";
		return -1;
	}
	const uint8_t *head = c->p;
	c->p += (size_t)n * 4;
	if (!runs || n >= 4) {
		/* The containers' offsets: they must say where the containers follow. */
		if (!need(c, (size_t)n * 4)) {
			*why = "a bucket's offsets are cut short";
			return -1;
		}
		c->p += (size_t)n * 4;
	}
	int last_key = -1;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t key = le16(head + 4 * i), card = (uint32_t)le16(head + 4 * i + 2) + 1;
		if ((int)key <= last_key) {
			*why = "a bucket's containers are out of order";
			return -1;
		}
		last_key = (int)key;
		uint64_t base = hi << 32 | (uint64_t)key << 16;
		size_t before = dv->n;
		if (runs && (runs[i / 8] >> (i % 8) & 1)) {
			if (!need(c, 2)) {
				*why = "a run container is cut short";
				return -1;
			}
			uint32_t nruns = le16(c->p);
			c->p += 2;
			if (!need(c, (size_t)nruns * 4)) {
				*why = "a run container is cut short";
				return -1;
			}
			for (uint32_t k = 0; k < nruns; k++) {
				uint32_t from = le16(c->p + 4 * k),
				         len = (uint32_t)le16(c->p + 4 * k + 2) + 1;
				if (from + len > 65536) {
					*why = "a run passes its container's end";
					return -1;
				}
				for (uint32_t v = from; v < from + len; v++)
					if (put_row(dv, cap, base | v) < 0) {
						*why = "its rows are out of order or more than its "
						       "cardinality";
						return -1;
					}
			}
			c->p += (size_t)nruns * 4;
		} else if (card <= ARRAY_MAX) {
			if (!need(c, (size_t)card * 2)) {
				*why = "an array container is cut short";
				return -1;
			}
			for (uint32_t k = 0; k < card; k++)
				if (put_row(dv, cap, base | le16(c->p + 2 * k)) < 0) {
					*why = "its rows are out of order or more than its "
					       "cardinality";
					return -1;
				}
			c->p += (size_t)card * 2;
		} else {
			if (!need(c, 8192)) {
				*why = "a bitmap container is cut short";
				return -1;
			}
			for (uint32_t v = 0; v < 65536; v++)
				if (c->p[v / 8] >> (v % 8) & 1)
					if (put_row(dv, cap, base | v) < 0) {
						*why = "its rows are more than its cardinality";
						return -1;
					}
			c->p += 8192;
		}
		if (dv->n - before != card) {
			*why = "a container holds other than the number of values its header says";
			return -1;
		}
	}
	return 0;
}

int delta_dv_parse(const uint8_t *p, size_t n, int64_t cardinality, struct delta_dv *dv,
                   const char **why)
{
	memset(dv, 0, sizeof *dv);
	if (cardinality < 0 || (uint64_t)cardinality > DV_MAX_ROWS) {
		*why = "its cardinality is out of range";
		return -1;
	}
	struct cur c = {p, p + n};
	if (!need(&c, 12) || le32(c.p) != DV_MAGIC) {
		*why = "it does not start with the magic number of the format";
		return -1;
	}
	c.p += 4;
	uint64_t nbuckets = (uint64_t)le32(c.p) | (uint64_t)le32(c.p + 4) << 32;
	c.p += 8;
	if (nbuckets > n) {
		*why = "its number of buckets is out of range";
		return -1;
	}
	size_t cap = (size_t)cardinality;
	dv->rows = malloc((cap ? cap : 1) * sizeof *dv->rows);
	if (!dv->rows) {
		*why = "out of memory";
		return -1;
	}
	int64_t last = -1;
	for (uint64_t b = 0; b < nbuckets; b++) {
		if (!need(&c, 4)) {
			*why = "a bucket is cut short";
			goto fail;
		}
		uint32_t key = le32(c.p);
		c.p += 4;
		if (key & 0x80000000u || (int64_t)key <= last) {
			*why = "its bucket keys are out of order or out of range";
			goto fail;
		}
		last = key;
		if (roaring32(&c, key, dv, cap, why) < 0)
			goto fail;
	}
	if (c.p != c.end) {
		*why = "bytes follow its bitmap";
		goto fail;
	}
	if (dv->n != cap) {
		*why = "it holds other than the number of rows its cardinality says";
		goto fail;
	}
	return 0;
fail:
	delta_dv_free(dv);
	return -1;
}

void delta_dv_free(struct delta_dv *dv)
{
	free(dv->rows);
	dv->rows = NULL;
	dv->n = 0;
}

/* The descriptor --------------------------------------------------------------------- */

/* A descriptor's fields (st and pd point into j, which desc_free() releases). */
struct dv_desc {
	struct json *j;
	const char *st, *pd;
	int has_offset;
	int64_t offset, size, card; /* offset 0 when absent; size and card -1 */
};

/* Parse a descriptor: -1 unless it has a storage type u, i or p and its path or bytes. */
static int desc_parse(const char *dv_json, struct dv_desc *d)
{
	struct err_msg e;
	memset(d, 0, sizeof *d);
	d->size = d->card = -1;
	d->j = json_parse(dv_json, strlen(dv_json), &e);
	d->st = json_str(json_get(d->j, "storageType"));
	d->pd = json_str(json_get(d->j, "pathOrInlineDv"));
	const struct json *off = json_get(d->j, "offset");
	d->has_offset = off && json_type(off) != JSON_NULL;
	if ((d->has_offset && (json_i64(off, &d->offset) < 0 || d->offset < 0)) ||
	    (json_get(d->j, "sizeInBytes") &&
	     json_i64(json_get(d->j, "sizeInBytes"), &d->size) < 0) ||
	    (json_get(d->j, "cardinality") &&
	     json_i64(json_get(d->j, "cardinality"), &d->card) < 0))
		return -1;
	return d->st && d->pd && strlen(d->st) == 1 && strchr("uip", d->st[0]) ? 0 : -1;
}

static void desc_free(struct dv_desc *d)
{
	json_free(d->j);
	d->j = NULL;
}

int delta_dv_id(const char *dv_json, struct buf *out)
{
	struct dv_desc d;
	int rc = -1;
	if (desc_parse(dv_json, &d) == 0) {
		buf_printf(out, "%s%s", d.st, d.pd);
		if (d.has_offset)
			buf_printf(out, "@%lld", (long long)d.offset);
		rc = buf_failed(out) ? -1 : 0;
	}
	desc_free(&d);
	return rc;
}

/*
 * The path of a DV file: <prefix>/deletion_vector_<uuid>.bin under the
 * table's root (root NULL: relative to it), or an absolute path.
 */
static int dv_path(const char *root, const char *st, const char *pd, struct buf *path,
                   const char **why)
{
	if (st[0] == 'p') {
		if (strncmp(pd, "file://", 7) == 0)
			pd += 7;
		else if (strncmp(pd, "file:", 5) == 0)
			pd += 5;
		if (pd[0] != '/') {
			*why = "its file is not on the local file system";
			return -1;
		}
		/* A path as add.path writes it: a URI, %-escaped. */
		if (delta_uri_decode(pd, path) < 0) {
			*why = "its path has a malformed %-escape";
			return -1;
		}
		return 0;
	}
	size_t n = strlen(pd);
	struct buf id = BUF_INIT;
	if (n < 20 || delta_z85_decode(pd + n - 20, 20, &id) < 0 || id.len != 16) {
		buf_free(&id);
		*why = "its file's UUID is not Z85 text";
		return -1;
	}
	const unsigned char *u = (const unsigned char *)id.data;
	if (root)
		buf_printf(path, "%s/", root);
	if (n > 20)
		buf_printf(path, "%.*s/", (int)(n - 20), pd);
	buf_printf(path,
	           "deletion_vector_%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	           "%02x%02x%02x%02x%02x%02x.bin",
	           u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
	           u[13], u[14], u[15]);
	buf_free(&id);
	return 0;
}

/* The DV's bytes from its file: size, bytes and CRC at offset. */
static int dv_file(const char *path, int64_t offset, int64_t size, struct buf *out,
                   const char **why, int *io)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*io = errno;
		return -1;
	}
	uint8_t head[4], crc[4];
	int rc = -1;
	if (pread(fd, head, 4, offset) != 4) {
		*why = "its file ends before it";
		goto out;
	}
	if (be32(head) != (uint64_t)size) {
		*why = "its file states another size";
		goto out;
	}
	if (buf_reserve(out, (size_t)size) < 0) {
		*why = "out of memory";
		goto out;
	}
	if (pread(fd, out->data, (size_t)size, offset + 4) != (ssize_t)size ||
	    pread(fd, crc, 4, offset + 4 + size) != 4) {
		*why = "its file ends before it";
		goto out;
	}
	out->len = (size_t)size;
	if (pq_crc32(0, (const uint8_t *)out->data, out->len) != be32(crc)) {
		*why = "its checksum does not match (a damaged file)";
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

int delta_dv_file(const char *dv_json, struct buf *path)
{
	struct dv_desc d;
	const char *why;
	int rc = -1;
	if (desc_parse(dv_json, &d) == 0)
		rc = d.st[0] == 'i'                                                  ? 1
		     : dv_path(NULL, d.st, d.pd, path, &why) < 0 || buf_failed(path) ? -1
		                                                                     : 0;
	desc_free(&d);
	return rc;
}

int delta_dv_check_rows(const char *root, const char *file, const char *dv_json,
                        const struct delta_dv *dv, int64_t rows, struct err_msg *e)
{
	if (!dv->n || dv->rows[dv->n - 1] < (uint64_t)(rows > 0 ? rows : 0))
		return 0;
	/* Name the vector by where it is kept, as its descriptor may be another file's. */
	struct dv_desc d;
	struct buf path = BUF_INIT, name = BUF_INIT;
	const char *why;
	if (desc_parse(dv_json, &d) == 0 && d.st[0] == 'i')
		buf_puts(&name, " inline in the log");
	else if (d.st && d.pd && dv_path(NULL, d.st, d.pd, &path, &why) == 0 &&
	         !buf_failed(&path)) {
		buf_printf(&name, " in %s", path.data);
		if (d.has_offset)
			buf_printf(&name, " at offset %lld", (long long)d.offset);
	}
	err_set(e, EX_DATAERR,
	        "%s: deletion vector of %s: the vector%s marks row %llu, past the file's last "
	        "(it has %lld rows): it is not this file's",
	        root, file, buf_failed(&name) || !name.len ? "" : name.data,
	        (unsigned long long)dv->rows[dv->n - 1], (long long)rows);
	desc_free(&d);
	buf_free(&path);
	buf_free(&name);
	return -1;
}

int delta_dv_read(const char *root, const char *file, const char *dv_json, struct delta_dv *dv,
                  struct err_msg *e)
{
	struct dv_desc d;
	const char *why = NULL;
	struct buf path = BUF_INIT, bytes = BUF_INIT;
	int io = 0, rc = -1;
	memset(dv, 0, sizeof *dv);
	if (desc_parse(dv_json, &d) < 0 || d.card < 0 || d.size < 12 || d.size > DV_MAX_BYTES) {
		why = "its descriptor is malformed";
		goto out;
	}
	if (d.st[0] == 'i') {
		if (delta_z85_decode(d.pd, strlen(d.pd), &bytes) < 0 ||
		    bytes.len < (size_t)d.size) {
			why = "its inline bytes are not Z85 text of its size";
			goto out;
		}
		bytes.len = (size_t)d.size;
	} else {
		if (dv_path(root, d.st, d.pd, &path, &why) < 0)
			goto out;
		if (buf_failed(&path)) {
			why = "out of memory";
			goto out;
		}
		if (dv_file(path.data, d.offset, d.size, &bytes, &why, &io) < 0) {
			if (io)
				err_set(e, io == ENOENT ? EX_DATAERR : EX_IOERR,
				        "%s: deletion vector of %s: %s: %s", root, file, path.data,
				        strerror(io));
			goto out;
		}
	}
	rc = delta_dv_parse((const uint8_t *)bytes.data, bytes.len, d.card, dv, &why);
out:
	if (rc < 0 && !io)
		err_set(e, why && strcmp(why, "out of memory") == 0 ? EX_SOFTWARE : EX_DATAERR,
		        "%s: deletion vector of %s: %s", root, file, why ? why : "unreadable");
	desc_free(&d);
	buf_free(&path);
	buf_free(&bytes);
	return rc;
}

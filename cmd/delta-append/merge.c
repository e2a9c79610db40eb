/*
 * delta-append merge: upserts by a key, copy-on-write.
 *
 * A batch's records are kept in memory, each encoded compactly and found
 * by its key through a hash table: a record whose key came before replaces
 * the earlier one (the last record of a key in the stream wins).  At the
 * batch's end, the files that may hold one of its keys are found from the
 * log alone, by their partition values and the key columns' statistics
 * (a binary search of the batch's keys, sorted by the key column that
 * tells them apart best, within each file's bounds).  Only those files are
 * read, one at a time and streamed, first their key columns alone: a file
 * that holds none of the batch's keys stays as it is.  Of the others, the
 * rows whose key is in the batch are dropped, the rest written again, and
 * then every record of the batch is written, through the library's writer
 * (delta/delta_rows.h), in the encodings the largest of them uses, so that
 * the writer does not try its candidate encodings on every new file.
 * One MERGE commit removes the files rewritten and adds the files written,
 * with the batch's txn, so a batch is loaded once however often it is
 * sent; a key that moved to another partition loses its old row wherever
 * it was, since the key, not the partition, decides what is replaced.
 *
 * A running process keeps what the log says of each live file's keys
 * (partition values, the key columns' bounds), parsed once: from its
 * second batch on, the batches of a stream parse the statistics of only
 * the files the commits before them added.
 *
 * Memory is the batch (its records and keys), the files being rewritten
 * and those bounds (a few hundred bytes a live file, beside the snapshot's
 * file list), never the table's rows.
 *
 * Change data feed (delta.enableChangeDataFeed=true): an upsert that
 * rewrites files writes the changes of the attempt beside its data files,
 * in _change_data/ under the same partition directories, with the column
 * _change_type: an old row whose key the batch holds as update_preimage (a
 * second old row of that key as delete), the batch's record that replaces
 * it as update_postimage, a new key as insert; the rows only copied are no
 * change and are not there.  The commit names them in cdc actions, which
 * change data readers use instead of its adds and removes.  An upsert that
 * rewrites no file only adds rows and needs none (PROTOCOL.md, "Change
 * Data Files").
 *
 * Concurrency: the files rewritten are the transaction's read set, so a
 * winner that removed one of them is a conflict (one that removed a file
 * read and left as it is took none of the batch's keys with it); a winner
 * that added a file that may hold one of the batch's keys is one too (the
 * read predicate), since the upsert would leave that key twice.  A conflict discards the files
 * written and starts over from a fresh snapshot: the candidates are found
 * and rewritten again.
 */
#define _GNU_SOURCE /* qsort_r */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include "append.h"
#include "delta/delta_nested.h"
#include "delta/delta_txn.h"
#include "text/ts.h"

#define MAX_KEY_COLUMNS 64

/*
 * Records whose slot is being fetched: a record enters the hash table this
 * many records after it was taken, when its slot is likely in the cache.
 */
#define PENDING 16

/* Below this many bytes to write, an attempt writes its files in its own thread. */
#define INLINE_BYTES (64LL << 20)

/*
 * A slot of the batch's hash table: the record holding a key, and the low
 * 32 bits of the key's hash, which place it (so that growing the table
 * reads no key) and rule out most other keys without reading theirs (a
 * read of the record's key is a cache miss on a large batch).
 */
struct slot {
	uint32_t rec; /* record index + 1, 0 for empty */
	uint32_t hash;
};

/*
 * What the log says of a file's keys, parsed once and kept while the file
 * is live (from the second search for candidates of a process on): a
 * running process (a stream of batches) parses the statistics of only the
 * files the last commits added, instead of every file's at every batch.
 * A kept entry is one allocation: the values' strings are copied into it.
 * It is known by the file's path, and holds for the add action of that
 * path at that version and size only.
 */
struct prune_entry {
	const char *path;
	int64_t version, size;
	uint64_t pass;               /* the last search for candidates that saw the file */
	int no_keys;                 /* a null partition value, or a key column with no value */
	int *part_known;             /* per key column: part[k] holds its partition value */
	struct delta_cell *part;     /* per key column */
	struct delta_bounds *bounds; /* per key column in the data files (m->data_key) */
};

struct merge {
	size_t *key; /* key columns, as indexes into the table's columns */
	size_t nkey;
	char *key_text; /* "a,b,c" */
	/*
	 * the batch: records encoded one after the other in data, each its
	 * key, a bitmap of its null cells, then its other cells; data is a
	 * mapping of its own (see data_reserve())
	 */
	struct {
		char *data;
		size_t len, cap;
	} data;
	size_t *off;           /* record i starts at data + off[i] */
	unsigned char *in_key; /* per column: in the key (so not again after it) */
	unsigned char *enc;    /* per column: its encoding (ENC_*) */
	size_t key_max;        /* the most bytes a key takes encoded, besides its strings' */
	size_t rest_max;       /* ... and the other columns of a record, besides its strings' */
	size_t *rest_bytes;    /* the columns not in the key that are encoded as bytes */
	size_t nrest_bytes;
	size_t *part; /* the partition columns */
	size_t npart;
	size_t null_bytes; /* the bitmap's size */
	uint32_t *klen;
	size_t n, cap;
	struct slot *slot; /* hash table, open addressing */
	size_t nslots;
	size_t distinct;
	struct slot pend[PENDING]; /* records taken, not yet in the table (a ring) */
	size_t npend, pend_at;
	struct buf kbuf; /* scratch: one key, encoded */
	/* while a batch is merged */
	size_t *rows;                 /* the distinct records, in the order of their last arrival */
	size_t *put;                  /* ... the order they are written in, or NULL: rows' */
	unsigned char *matched;       /* per record: its key was found in the table */
	struct delta_cell *pcell;     /* per distinct record, its pruning value unless an integer */
	size_t *ord;                  /* distinct records sorted by the pruning column */
	size_t prune;                 /* that column, as an index into key */
	struct delta_cell pmin, pmax; /* the batch's least and greatest pruning values */
	const struct delta_field **data_fields; /* key columns that are in the data files */
	size_t *data_key;                       /* ... their index into key */
	size_t ndata;
	struct delta_bounds *bounds;
	struct buf *scratch;     /* per key column: its partition value, then its statistics */
	struct strmap known;     /* path -> struct prune_entry: what the log says of each file */
	struct prune_entry view; /* the file being judged, when its entry is not kept */
	uint64_t pass;           /* counts the searches for candidates */
	struct delta_rows_col *cols;
	struct delta_cell *cells;
	/* change data feed: the attempt's writer of change data files, and a row of them */
	struct delta_writer *cw;
	struct delta_cell *ccells;
	struct delta_writer *w; /* the attempt's writer of data files */
	struct buf *nested;     /* per column: a nested value of a file rewritten, encoded */
	size_t ncols;
	/*
	 * --latest-by: of a batch's records of one key, the one with the
	 * greatest value of this column wins (ties: the later); -1 without it
	 */
	ssize_t latest;
};

/* Encoding ------------------------------------------------------------------------ */

/*
 * A record is encoded compactly, since a batch of a million records is
 * most of an upsert's memory and faulting its pages in most of the
 * kernel's share of the work: strings take a one-byte length below 255
 * (else 255 and a 32-bit length), decimals eight bytes when they fit a
 * 64-bit integer, dates and narrower integers four bytes when they fit 32
 * bits; a value that does not fit is the escape (the narrow form's
 * minimum) followed by its full form.  Each value has one encoding, so
 * that keys compare by their bytes.
 *
 * A column's encoding is decided once, from its type (enc_of()): the
 * records of a large batch are encoded and decoded column by column
 * through a switch on it, not on the column's type.
 */
#define ESC_I64 INT64_MIN
#define ESC_I32 INT32_MIN

enum {
	ENC_BYTES, /* strings, binary, nested values (encoded bytes, delta_nested.h) */
	ENC_F64,   /* floats and doubles: the double */
	ENC_DEC,   /* decimals */
	ENC_I32,   /* integers that usually fit 32 bits: booleans, bytes, shorts, ints, dates */
	ENC_I64    /* other integers: longs, timestamps */
};

/* The most bytes a non-null cell of each encoding takes, besides a string's bytes. */
static const unsigned char enc_max[] = {
    [ENC_BYTES] = 1 + sizeof(uint32_t),
    [ENC_F64] = sizeof(double),
    [ENC_DEC] = sizeof(int64_t) + sizeof(__int128),
    [ENC_I32] = sizeof(int32_t) + sizeof(int64_t),
    [ENC_I64] = sizeof(int64_t),
};

static unsigned char enc_of(const struct delta_field *f)
{
	switch (f->type) {
	case DT_STRING:
	case DT_BINARY:
	case DT_STRUCT:
	case DT_ARRAY:
	case DT_MAP:
		return ENC_BYTES;
	case DT_FLOAT:
	case DT_DOUBLE:
		return ENC_F64;
	case DT_DECIMAL:
		return ENC_DEC;
	case DT_BOOLEAN:
	case DT_BYTE:
	case DT_SHORT:
	case DT_INTEGER:
	case DT_DATE:
		return ENC_I32;
	default:
		return ENC_I64;
	}
}

/*
 * Write a non-null cell at o, which has room for enc_max[enc] bytes and
 * the string's (whose length fits 32 bits); returns the end.
 */
static inline char *put_cell(char *o, int enc, const struct delta_cell *c)
{
	switch (enc) {
	case ENC_BYTES: {
		if (c->n < 255) {
			*o++ = (char)(unsigned char)c->n;
		} else {
			uint32_t n = (uint32_t)c->n;
			*o++ = (char)255;
			memcpy(o, &n, sizeof n);
			o += sizeof n;
		}
		if (c->n)
			memcpy(o, c->s, c->n);
		return o + c->n;
	}
	case ENC_F64:
		memcpy(o, &c->d, sizeof c->d);
		return o + sizeof c->d;
	case ENC_DEC: {
		int64_t v = c->dec > INT64_MIN && c->dec <= INT64_MAX ? (int64_t)c->dec : ESC_I64;
		memcpy(o, &v, sizeof v);
		o += sizeof v;
		if (v != ESC_I64)
			return o;
		memcpy(o, &c->dec, sizeof c->dec);
		return o + sizeof c->dec;
	}
	case ENC_I32: {
		int32_t v = c->i > INT32_MIN && c->i <= INT32_MAX ? (int32_t)c->i : ESC_I32;
		memcpy(o, &v, sizeof v);
		o += sizeof v;
		if (v != ESC_I32)
			return o;
	}
		/* fall through */
	default:
		memcpy(o, &c->i, sizeof c->i);
		return o + sizeof c->i;
	}
}

/* Read one value of encoding enc at *p into c (strings point into the encoding). */
static inline const char *get_cell(const char *p, int enc, struct delta_cell *c)
{
	memset(c, 0, sizeof *c);
	switch (enc) {
	case ENC_BYTES: {
		uint32_t n = (unsigned char)*p++;
		if (n == 255) {
			memcpy(&n, p, sizeof n);
			p += sizeof n;
		}
		c->s = p;
		c->n = n;
		return p + n;
	}
	case ENC_F64:
		memcpy(&c->d, p, sizeof c->d);
		return p + sizeof c->d;
	case ENC_DEC: {
		int64_t v;
		memcpy(&v, p, sizeof v);
		p += sizeof v;
		if (v != ESC_I64) {
			c->dec = v;
			return p;
		}
		memcpy(&c->dec, p, sizeof c->dec);
		return p + sizeof c->dec;
	}
	case ENC_I32: {
		int32_t v;
		memcpy(&v, p, sizeof v);
		p += sizeof v;
		if (v != ESC_I32) {
			c->i = v;
			return p;
		}
	}
		/* fall through */
	default:
		memcpy(&c->i, p, sizeof c->i);
		return p + sizeof c->i;
	}
}

/* Past one encoded value of encoding enc at p. */
static inline const char *skip_cell(const char *p, int enc)
{
	switch (enc) {
	case ENC_BYTES: {
		uint32_t n = (unsigned char)*p++;
		if (n == 255) {
			memcpy(&n, p, sizeof n);
			p += sizeof n;
		}
		return p + n;
	}
	case ENC_F64:
		return p + sizeof(double);
	case ENC_DEC: {
		int64_t v;
		memcpy(&v, p, sizeof v);
		return p + sizeof v + (v == ESC_I64 ? sizeof(__int128) : 0);
	}
	case ENC_I32: {
		int32_t v;
		memcpy(&v, p, sizeof v);
		return p + sizeof v + (v == ESC_I32 ? sizeof(int64_t) : 0);
	}
	default:
		return p + sizeof(int64_t);
	}
}

/*
 * The room the key of a row of cells takes encoded, at most, into *room:
 * 0, or 1 when a key column is null (then it has none), 2 when a key
 * value is too long to encode.
 */
static inline int key_room(const struct merge *m, const struct delta_cell *cells, size_t *room)
{
	size_t len = m->key_max;
	for (size_t k = 0; k < m->nkey; k++) {
		const struct delta_cell *c = &cells[m->key[k]];
		if (c->null)
			return 1;
		if (m->enc[m->key[k]] == ENC_BYTES) {
			if (c->n > UINT32_MAX)
				return 2;
			len += c->n;
		}
	}
	*room = len;
	return 0;
}

/* Write the key of a row of cells (checked by key_room()) at o; returns the end. */
static inline char *put_key(const struct merge *m, const struct delta_cell *cells, char *o)
{
	for (size_t k = 0; k < m->nkey; k++) {
		size_t c = m->key[k];
		int enc = m->enc[c];
		if (enc != ENC_F64) {
			o = put_cell(o, enc, &cells[c]);
			continue;
		}
		/*
		 * Keys compare by their bytes: a floating key equal to zero is
		 * +0.0 (as -0.0 = 0.0 in SQL), and every NaN one NaN.
		 */
		struct delta_cell f = cells[c];
		if (f.d == 0)
			f.d = 0;
		else if (f.d != f.d)
			f.d = __builtin_nan("");
		o = put_cell(o, enc, &f);
	}
	return o;
}

/*
 * The key of a row of cells into m->kbuf; 1 when a key column is null
 * (then it has none), 2 when a key value is too long to encode.
 */
static int encode_key(struct merge *m, const struct delta_cell *cells)
{
	size_t room;
	int k = key_room(m, cells, &room);
	if (k)
		return k;
	buf_reset(&m->kbuf);
	if (buf_reserve(&m->kbuf, room) < 0)
		return -1;
	m->kbuf.len = (size_t)(put_key(m, cells, m->kbuf.data) - m->kbuf.data);
	return 0;
}

static const char *rec_key(const struct merge *m, size_t i)
{
	return m->data.data + m->off[i];
}

/* Decode record i's row into cells. */
static void decode_row(const struct merge *m, const struct app *a, size_t i,
                       struct delta_cell *cells)
{
	const char *p = rec_key(m, i);
	const unsigned char *enc = m->enc, *in_key = m->in_key;
	for (size_t k = 0; k < m->nkey; k++)
		p = get_cell(p, enc[m->key[k]], &cells[m->key[k]]);
	const unsigned char *nulls = (const unsigned char *)p;
	p += m->null_bytes;
	for (size_t c = 0, n = a->ncols; c < n; c++) {
		if (in_key[c])
			continue;
		if (nulls[c / 8] & (1u << (c % 8))) {
			memset(&cells[c], 0, sizeof cells[c]);
			cells[c].null = 1;
		} else {
			p = get_cell(p, enc[c], &cells[c]);
		}
	}
}

/* Hash table -------------------------------------------------------------------------- */

/*
 * The hash of an encoded key, eight bytes at a time, every bit mixed into
 * the low ones that pick the slot: a byte-wise hash was most of an
 * upsert's time on large batches, and keys that differ only in a
 * timestamp's low bytes crowded its low bits.
 */
static uint64_t key_hash(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, v;
	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&v, p, 8);
		h = (h ^ v) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
	}
	v = 0;
	memcpy(&v, p, n);
	h = (h ^ v) * 0x94d049bb133111ebULL;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 32);
}

/* The slot of a key whose hash is h: where it is, or the empty one where it would go. */
static size_t find_slot(const struct merge *m, const char *key, size_t len, uint32_t h)
{
	size_t mask = m->nslots - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const struct slot *s = &m->slot[i];
		if (!s->rec)
			return i;
		size_t r = s->rec - 1;
		if (s->hash == h && m->klen[r] == len && memcmp(rec_key(m, r), key, len) == 0)
			return i;
	}
}

static int grow_slots(struct merge *m)
{
	size_t nslots = m->nslots ? m->nslots * 2 : 1024;
	struct slot *old = m->slot;
	size_t nold = m->nslots;
	if (!(m->slot = calloc(nslots, sizeof *m->slot))) {
		m->slot = old;
		return -1;
	}
	/*
	 * Each page written once before the probes read it: a fresh mapping's
	 * page that is read first maps the zero page and faults again at its
	 * first write, which made the table's pages a quarter of an upsert's
	 * page faults.  (The stores are volatile so that they are not taken
	 * for calloc's zeroes and dropped.)
	 */
	for (size_t i = 0; i < nslots; i += 4096 / sizeof *m->slot)
		((volatile struct slot *)m->slot)[i].rec = 0;
	m->nslots = nslots;
	size_t mask = nslots - 1;
	for (size_t i = 0; i < nold; i++)
		if (old[i].rec) {
			size_t j = old[i].hash & mask;
			while (m->slot[j].rec)
				j = (j + 1) & mask;
			m->slot[j] = old[i];
		}
	free(old);
	return 0;
}

/* The record holding this key (m->key), or -1. */
static ssize_t lookup(const struct merge *m)
{
	if (!m->nslots)
		return -1;
	uint32_t h = (uint32_t)key_hash(m->kbuf.data, m->kbuf.len);
	uint32_t s = m->slot[find_slot(m, m->kbuf.data, m->kbuf.len, h)].rec;
	return s ? (ssize_t)s - 1 : -1;
}

/* Record i's value of column c (strings point into the batch). */
static void rec_cell(const struct merge *m, size_t i, size_t c, struct delta_cell *out)
{
	const char *p = rec_key(m, i);
	if (m->in_key[c]) {
		for (size_t k = 0; m->key[k] != c; k++)
			p = skip_cell(p, m->enc[m->key[k]]);
		get_cell(p, m->enc[c], out);
		return;
	}
	p += m->klen[i];
	const unsigned char *nulls = (const unsigned char *)p;
	p += m->null_bytes;
	for (size_t j = 0; j < m->ncols; j++) {
		if (m->in_key[j])
			continue;
		int null = (nulls[j / 8] >> (j % 8)) & 1;
		if (j == c) {
			if (null) {
				memset(out, 0, sizeof *out);
				out->null = 1;
			} else {
				get_cell(p, m->enc[j], out);
			}
			return;
		}
		if (!null)
			p = skip_cell(p, m->enc[j]);
	}
}

/*
 * With --latest-by, does record later (of the same key as record earlier,
 * and after it in the stream) replace it?  Unless its value of the column
 * is less: a null is less than any value, and NaN than any number.
 */
static int later_wins(const struct merge *m, size_t earlier, size_t later)
{
	struct delta_cell x, y;
	size_t c = (size_t)m->latest;
	rec_cell(m, earlier, c, &x);
	rec_cell(m, later, c, &y);
	if (x.null || y.null)
		return y.null <= x.null;
	const struct delta_field *f = m->cols[c].f;
	if ((f->type == DT_DOUBLE || f->type == DT_FLOAT) && (x.d != x.d || y.d != y.d))
		return y.d == y.d || x.d != x.d;
	return delta_cell_cmp(f, &y, &x) >= 0;
}

/*
 * Put the oldest pending record into the hash table: the last record of a
 * key wins (with --latest-by, the last of those with its greatest value).
 */
static int settle_one(struct merge *m)
{
	struct slot p = m->pend[m->pend_at];
	if ((m->distinct + 1) * 10 >= m->nslots * 7 && grow_slots(m) < 0)
		return -1;
	m->pend_at = (m->pend_at + 1) % PENDING;
	m->npend--;
	size_t r = p.rec - 1;
	size_t s = find_slot(m, rec_key(m, r), m->klen[r], p.hash);
	if (!m->slot[s].rec)
		m->distinct++;
	else if (m->latest >= 0 && !later_wins(m, m->slot[s].rec - 1, r))
		return 0;
	m->slot[s] = p;
	return 0;
}

/* Every pending record into the hash table. */
static int settle(struct merge *m)
{
	while (m->npend)
		if (settle_one(m) < 0)
			return -1;
	return 0;
}

/* Setting up ------------------------------------------------------------------------- */

int merge_setup(struct app *a, const char *list, struct err_msg *e)
{
	struct merge *m = calloc(1, sizeof *m);
	char *copy = strdup(list);
	if (!m || !copy) {
		free(m);
		free(copy);
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	a->merge = m;
	m->key = calloc(a->ncols ? a->ncols : 1, sizeof *m->key);
	m->in_key = calloc(a->ncols ? a->ncols : 1, 1);
	m->null_bytes = (a->ncols + 7) / 8;
	m->ncols = a->ncols;
	m->latest = -1;
	m->cols = calloc(a->ncols ? a->ncols : 1, sizeof *m->cols);
	m->cells = calloc(a->ncols ? a->ncols : 1, sizeof *m->cells);
	m->ccells = calloc(a->ncols + 1, sizeof *m->ccells);
	m->nested = calloc(a->ncols ? a->ncols : 1, sizeof *m->nested);
	struct buf text = BUF_INIT;
	if (!m->key || !m->in_key || !m->cols || !m->cells || !m->ccells || !m->nested) {
		free(copy);
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	for (char *save = NULL, *name = strtok_r(copy, ",", &save); name;
	     name = strtok_r(NULL, ",", &save)) {
		while (*name == ' ')
			name++;
		size_t len = strlen(name);
		while (len && name[len - 1] == ' ')
			name[--len] = '\0';
		size_t i;
		for (i = 0; i < a->ncols && strcmp(a->cols[i].f->name, name) != 0; i++)
			;
		int twice = 0;
		for (size_t k = 0; k < m->nkey; k++)
			twice |= m->key[k] == i;
		int nested = i < a->ncols && !delta_type_is_primitive(a->cols[i].f->type);
		if (i == a->ncols || twice || nested || m->nkey == MAX_KEY_COLUMNS) {
			err_set(e, EX_USAGE, "merge key %s: %s \"%s\"", list,
			        i == a->ncols ? "no column"
			        : twice       ? "names twice the column"
			        : nested      ? "a key cannot hold the nested column"
			                      : "more than 64 columns, at",
			        name);
			free(copy);
			buf_free(&text);
			return -1;
		}
		buf_printf(&text, "%s%s", m->nkey ? "," : "", name);
		m->key[m->nkey++] = i;
		m->in_key[i] = 1;
	}
	free(copy);
	if (!m->nkey) {
		err_set(e, EX_USAGE, "merge key \"%s\": no column named", list);
		buf_free(&text);
		return -1;
	}
	m->key_text = buf_detach(&text);
	m->data_fields = calloc(m->nkey, sizeof *m->data_fields);
	m->data_key = calloc(m->nkey, sizeof *m->data_key);
	m->bounds = calloc(m->nkey, sizeof *m->bounds);
	m->scratch = calloc(2 * m->nkey, sizeof *m->scratch);
	m->view.part = calloc(m->nkey, sizeof *m->view.part);
	m->view.part_known = calloc(m->nkey, sizeof *m->view.part_known);
	m->view.bounds = m->bounds;
	if (!m->key_text || !m->data_fields || !m->data_key || !m->bounds || !m->scratch ||
	    !m->view.part || !m->view.part_known) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	for (size_t k = 0; k < m->nkey; k++) {
		int part = 0;
		for (size_t p = 0; p < a->npart; p++)
			part |= strcmp(a->part_cols[p], a->cols[m->key[k]].f->name) == 0;
		if (!part) {
			m->data_key[m->ndata] = k;
			m->data_fields[m->ndata++] = a->cols[m->key[k]].f;
		}
	}
	for (size_t i = 0; i < a->ncols; i++) {
		m->cols[i].f = a->cols[i].f;
		for (size_t p = 0; p < a->npart; p++)
			m->cols[i].partition |= strcmp(a->part_cols[p], a->cols[i].f->name) == 0;
	}
	m->enc = malloc(a->ncols ? a->ncols : 1);
	m->rest_bytes = calloc(a->ncols ? a->ncols : 1, sizeof *m->rest_bytes);
	m->part = calloc(a->ncols ? a->ncols : 1, sizeof *m->part);
	if (!m->enc || !m->rest_bytes || !m->part) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < a->ncols; i++) {
		m->enc[i] = enc_of(a->cols[i].f);
		if (m->cols[i].partition)
			m->part[m->npart++] = i;
		if (m->in_key[i]) {
			m->key_max += enc_max[m->enc[i]];
			continue;
		}
		m->rest_max += enc_max[m->enc[i]];
		if (m->enc[i] == ENC_BYTES)
			m->rest_bytes[m->nrest_bytes++] = i;
	}
	return 0;
}

const char *merge_key_text(const struct app *a)
{
	return a->merge->key_text;
}

int merge_latest_by(struct app *a, const char *column, struct err_msg *e)
{
	struct merge *m = a->merge;
	for (size_t i = 0; i < a->ncols; i++)
		if (strcmp(a->cols[i].f->name, column) == 0) {
			if (!delta_type_is_primitive(a->cols[i].f->type)) {
				err_set(e, EX_USAGE, "column \"%s\" is not of a type with an order",
				        column);
				return -1;
			}
			m->latest = (ssize_t)i;
			return 0;
		}
	err_set(e, EX_USAGE, "no column \"%s\"", column);
	return -1;
}

/* The batch ------------------------------------------------------------------------------ */

/*
 * Room for n more bytes of records.  The records are a mapping grown by
 * mremap(), which moves its pages rather than copying them: growing a
 * large batch by realloc() copied its records at each doubling into fresh
 * pages.  0, or -1 out of memory.
 */
static int data_reserve(struct merge *m, size_t n)
{
	if (m->data.cap - m->data.len >= n)
		return 0;
	size_t cap = m->data.cap ? m->data.cap : 1 << 20;
	while (cap - m->data.len < n) {
		if (cap > SIZE_MAX / 2)
			return -1;
		cap *= 2;
	}
	void *p = m->data.cap
	              ? mremap(m->data.data, m->data.cap, cap, MREMAP_MAYMOVE)
	              : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	m->data.data = p;
	m->data.cap = cap;
	return 0;
}

int merge_put(struct app *a, const struct delta_cell *cells, struct err_msg *e)
{
	struct merge *m = a->merge;
	size_t room = 0;
	int k = key_room(m, cells, &room);
	if (k == 1) {
		for (size_t i = 0; i < m->nkey; i++)
			if (cells[m->key[i]].null) {
				err_set(e, EX_DATAERR, "column \"%s\": null in the merge key (%s)",
				        a->cols[m->key[i]].f->name, m->key_text);
				break;
			}
		return 1;
	}
	/*
	 * An empty string partition value is stored as null, as Spark stores
	 * it: the row would land with a null key, which no later batch matches.
	 */
	for (size_t i = 0; a->has_part_string && i < m->nkey; i++)
		if (a->cols[m->key[i]].part_string && cells[m->key[i]].n == 0) {
			err_set(e, EX_DATAERR,
			        "column \"%s\": an empty string in the merge key (%s), which a "
			        "partition value stores as null",
			        a->cols[m->key[i]].f->name, m->key_text);
			return 1;
		}
	/*
	 * The record is written in place, in room for the most it can take:
	 * the fixed part of that is known from the columns' encodings, and
	 * only the strings' lengths are added up.
	 */
	room += m->null_bytes + m->rest_max;
	int long_value = k == 2;
	for (size_t j = 0; j < m->nrest_bytes; j++) {
		const struct delta_cell *c = &cells[m->rest_bytes[j]];
		if (!c->null) {
			long_value |= c->n > UINT32_MAX;
			room += c->n;
		}
	}
	if (long_value) {
		for (size_t c = 0; c < a->ncols; c++)
			if (m->enc[c] == ENC_BYTES && !cells[c].null && cells[c].n > UINT32_MAX) {
				err_set(e, EX_DATAERR, "column \"%s\": value too long",
				        a->cols[c].f->name);
				break;
			}
		return -1;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 1024;
		size_t *off = realloc(m->off, cap * sizeof *off);
		if (off)
			m->off = off;
		uint32_t *klen = off ? realloc(m->klen, cap * sizeof *klen) : NULL;
		if (!off || !klen) {
			err_set(e, EX_SOFTWARE, "out of memory");
			return -1;
		}
		m->klen = klen;
		m->cap = cap;
	}
	if (m->n >= UINT32_MAX - 1) {
		err_set(e, EX_DATAERR, "more than %u records in one batch", UINT32_MAX - 2);
		return -1;
	}
	if (data_reserve(m, room) < 0) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	size_t i = m->n;
	char *start = m->data.data + m->data.len;
	char *o = put_key(m, cells, start);
	size_t klen = (size_t)(o - start);
	unsigned char *nulls = (unsigned char *)o;
	o += m->null_bytes;
	const unsigned char *enc = m->enc, *in_key = m->in_key;
	if (a->ncols <= 64) {
		/* the bitmap gathered in a word (a call to memset cost more than the cells) */
		uint64_t bits = 0;
		for (size_t c = 0, n = a->ncols; c < n; c++) {
			if (in_key[c])
				continue;
			if (cells[c].null)
				bits |= 1ULL << c;
			else
				o = put_cell(o, enc[c], &cells[c]);
		}
		for (size_t b = 0; b < m->null_bytes; b++)
			nulls[b] = (unsigned char)(bits >> (8 * b));
	} else {
		memset(nulls, 0, m->null_bytes);
		for (size_t c = 0, n = a->ncols; c < n; c++) {
			if (in_key[c])
				continue;
			if (cells[c].null)
				nulls[c / 8] |= (unsigned char)(1u << (c % 8));
			else
				o = put_cell(o, enc[c], &cells[c]);
		}
	}
	m->off[i] = m->data.len;
	m->klen[i] = (uint32_t)klen;
	m->data.len += (size_t)(o - start);
	m->n++;
	/*
	 * On a large batch the key's slot is a cache miss, which was the
	 * largest cost of taking a record: it is fetched now and filled
	 * PENDING records later.
	 */
	uint32_t h = (uint32_t)key_hash(start, klen);
	if (m->nslots)
		__builtin_prefetch(&m->slot[h & (m->nslots - 1)]);
	if (m->npend == PENDING && settle_one(m) < 0) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	m->pend[(m->pend_at + m->npend++) % PENDING] = (struct slot){(uint32_t)(i + 1), h};
	return 0;
}

static void batch_clear(struct merge *m)
{
	m->data.len = 0;
	m->n = 0;
	m->distinct = 0;
	m->npend = m->pend_at = 0;
	if (m->slot)
		memset(m->slot, 0, m->nslots * sizeof *m->slot);
	free(m->rows);
	free(m->put);
	free(m->matched);
	free(m->pcell);
	free(m->ord);
	m->rows = m->put = m->ord = NULL;
	m->matched = NULL;
	m->pcell = NULL;
}

void merge_discard(struct app *a)
{
	if (a->merge)
		batch_clear(a->merge);
}

static void prune_forget(struct merge *m, int all);

void merge_free(struct app *a)
{
	struct merge *m = a->merge;
	if (!m)
		return;
	batch_clear(m);
	prune_forget(m, 1);
	if (m->data.cap)
		munmap(m->data.data, m->data.cap);
	buf_free(&m->kbuf);
	for (size_t k = 0; m->scratch && k < 2 * m->nkey; k++)
		buf_free(&m->scratch[k]);
	free(m->scratch);
	free(m->view.part);
	free(m->view.part_known);
	free(m->bounds);
	free(m->data_fields);
	free(m->data_key);
	free(m->off);
	free(m->klen);
	free(m->slot);
	free(m->key);
	free(m->in_key);
	free(m->enc);
	free(m->rest_bytes);
	free(m->part);
	free(m->key_text);
	free(m->cols);
	free(m->cells);
	free(m->ccells);
	for (size_t c = 0; m->nested && c < m->ncols; c++)
		buf_free(&m->nested[c]);
	free(m->nested);
	free(m);
	a->merge = NULL;
}

/* Pruning ------------------------------------------------------------------------------ */

/*
 * The pruning index keeps no key cells: a key is decoded from its record
 * when a file's bounds are checked against it.  Cells of every key (64
 * bytes each, three a key on silver) were more memory than the batch's
 * records, and faulting them in was most of the search for candidates.
 */

/* Cell k of distinct record j's key (strings point into the batch). */
static void key_cell(const struct merge *m, size_t j, size_t k, struct delta_cell *c)
{
	const char *p = rec_key(m, m->rows[j]);
	for (size_t i = 0; i < k; i++)
		p = skip_cell(p, m->enc[m->key[i]]);
	get_cell(p, m->enc[m->key[k]], c);
}

/*
 * Distinct record j's pruning value against v (a value of the pruning
 * column f): an integer is decoded from the record again, since only a
 * binary search for a file's bounds asks.
 */
static int prune_cmp(const struct merge *m, const struct delta_field *f, size_t j,
                     const struct delta_cell *v)
{
	if (m->pcell)
		return delta_cell_cmp(f, &m->pcell[j], v);
	struct delta_cell c;
	key_cell(m, j, m->prune, &c);
	return delta_cell_cmp(f, &c, v);
}

struct prune_ctx {
	const struct merge *m;
	const struct delta_field *f;
	size_t k; /* the key column compared */
};

/* Distinct records by key column k, decoded from the records (a sample of them). */
static int by_key_column(const void *x, const void *y, void *arg)
{
	const struct prune_ctx *c = arg;
	struct delta_cell p, q;
	key_cell(c->m, *(const size_t *)x, c->k, &p);
	key_cell(c->m, *(const size_t *)y, c->k, &q);
	return delta_cell_cmp(c->f, &p, &q);
}

/* Distinct records by their pruning cell. */
static int by_prune_cell(const void *x, const void *y, void *arg)
{
	const struct prune_ctx *c = arg;
	const struct merge *m = c->m;
	return delta_cell_cmp(c->f, &m->pcell[*(const size_t *)x], &m->pcell[*(const size_t *)y]);
}

/*
 * A pruning value that is an integer (dates, timestamps, integers), beside
 * its record: a large batch is sorted by these compact pairs rather than
 * through its key cells, which are scattered over memory (a cache miss a
 * comparison, most of an upsert's pruning on silver's batches).
 */
struct ord_pair {
	int64_t v;
	size_t j;
};

#define RADIX_BITS 11
#define RADIX      (1u << RADIX_BITS)

/*
 * Sort pairs by value, ties in their order (a stable LSD radix sort over
 * the bits in which the values differ, through tmp): qsort's comparisons
 * took most of the sort on silver's batches.  Returns the sorted array
 * (p or tmp).
 */
static struct ord_pair *sort_pairs(struct ord_pair *p, struct ord_pair *tmp, size_t n)
{
	if (n < 2)
		return p;
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	for (size_t i = 0; i < n; i++) {
		lo = p[i].v < lo ? p[i].v : lo;
		hi = p[i].v > hi ? p[i].v : hi;
	}
	/* Low bits that no value sets are passed over (a minute's microseconds end in 8 zero bits). */
	uint64_t span = (uint64_t)hi - (uint64_t)lo, set = 0;
	for (size_t i = 0; i < n; i++)
		set |= (uint64_t)p[i].v - (uint64_t)lo;
	size_t count[RADIX];
	for (unsigned shift = set ? (unsigned)__builtin_ctzll(set) : 64;
	     shift < 64 && span >> shift; shift += RADIX_BITS) {
		memset(count, 0, sizeof count);
		for (size_t i = 0; i < n; i++)
			count[(((uint64_t)p[i].v - (uint64_t)lo) >> shift) & (RADIX - 1)]++;
		for (size_t b = 0, at = 0; b < RADIX; b++) {
			size_t c = count[b];
			count[b] = at;
			at += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[count[(((uint64_t)p[i].v - (uint64_t)lo) >> shift) & (RADIX - 1)]++] =
			    p[i];
		struct ord_pair *t = p;
		p = tmp;
		tmp = t;
	}
	return p;
}

/* Do cells of column f compare by their integer (as delta_cell_cmp() does)? */
static int integer_type(const struct delta_field *f)
{
	switch (f->type) {
	case DT_STRING:
	case DT_BINARY:
	case DT_FLOAT:
	case DT_DOUBLE:
	case DT_DECIMAL:
		return 0;
	default:
		return 1;
	}
}

/* The batch's distinct records, in the order of their last arrival. */
static int batch_rows(struct merge *m)
{
	size_t d = m->distinct;
	m->rows = calloc(d ? d : 1, sizeof *m->rows);
	m->matched = calloc(m->n ? m->n : 1, 1);
	if (!m->rows || !m->matched)
		return -1;
	unsigned char *live = m->matched; /* borrowed, cleared below */
	for (size_t s = 0; s < m->nslots; s++)
		if (m->slot[s].rec)
			live[m->slot[s].rec - 1] = 1;
	size_t j = 0;
	for (size_t i = 0; i < m->n; i++)
		if (live[i])
			m->rows[j++] = i;
	memset(m->matched, 0, m->n ? m->n : 1);
	return 0;
}

/*
 * The order in which the batch's records are written (indexes into rows):
 * grouped by partition, the partitions in the order they first come, the
 * records of one in their order.  The writer keeps max_open partitions'
 * files open and finishes the least recently used past that, so records
 * written in their order of arrival across more partitions (a backfill,
 * each symbol's days after another's) made a file per partition per run
 * of its records.  m->put stays NULL (the records' own order) when the
 * batch spans no more partitions than that.  0, or -1 out of memory.
 */
/* Are two cells of a partition column one partition (a null and "" are one)? */
static int same_partition(const struct delta_field *f, const struct delta_cell *x,
                          const struct delta_cell *y)
{
	int xn = x->null || (f->type == DT_STRING && x->n == 0);
	int yn = y->null || (f->type == DT_STRING && y->n == 0);
	if (xn || yn)
		return xn == yn;
	return delta_cell_cmp(f, x, y) == 0;
}

static int write_order(struct merge *m, struct app *a)
{
	if (!a->npart || m->distinct <= a->wopts.max_open)
		return 0;
	struct strmap parts = STRMAP_INIT;
	struct buf key = BUF_INIT;
	char **names = NULL;
	size_t nparts = 0, *start = NULL;
	uint32_t *pid = malloc(m->distinct * sizeof *pid);
	/* the previous record's partition cells (strings point into the batch) */
	struct delta_cell *prev = calloc(a->ncols ? a->ncols : 1, sizeof *prev);
	int rc = -1;
	if (!pid || !prev)
		goto out;
	for (size_t j = 0; j < m->distinct; j++) {
		/*
		 * Only the partition columns are decoded, and a record in the
		 * partition of the one before it (most are) is placed without
		 * its key: this runs over every record of a large batch.
		 */
		int same = j > 0;
		for (size_t q = 0; q < m->npart; q++) {
			size_t c = m->part[q];
			rec_cell(m, m->rows[j], c, &m->cells[c]);
			same = same && same_partition(a->cols[c].f, &m->cells[c], &prev[c]);
		}
		if (same) {
			pid[j] = pid[j - 1];
			continue;
		}
		for (size_t q = 0; q < m->npart; q++)
			prev[m->part[q]] = m->cells[m->part[q]];
		/* The partition's cells encoded, in hex, as the map's key: a null and "" are one. */
		buf_reset(&key);
		for (size_t c = 0; c < a->ncols; c++) {
			const struct delta_cell *cell = &m->cells[c];
			if (!m->cols[c].partition)
				continue;
			if (cell->null || (a->cols[c].f->type == DT_STRING && cell->n == 0)) {
				buf_puts(&key, "-;");
				continue;
			}
			char tmp[64], *o = tmp, *big = NULL;
			size_t n = enc_max[m->enc[c]] + (m->enc[c] == ENC_BYTES ? cell->n : 0);
			if (n > sizeof tmp && !(o = big = malloc(n)))
				goto out;
			char *end = put_cell(o, m->enc[c], cell);
			static const char hex[] = "0123456789abcdef";
			for (const char *q = o; q < end; q++) {
				unsigned char b = (unsigned char)*q;
				char h[2] = {hex[b >> 4], hex[b & 15]};
				buf_append(&key, h, 2);
			}
			buf_putc(&key, ';');
			free(big);
		}
		if (buf_reserve(&key, 0) < 0)
			goto out;
		void *v = strmap_get(&parts, key.data);
		if (!v) {
			if (nparts % 64 == 0) {
				char **more = realloc(names, (nparts + 64) * sizeof *names);
				if (!more)
					goto out;
				names = more;
			}
			if (!(names[nparts] = strdup(key.data)))
				goto out;
			v = (void *)(uintptr_t)++nparts;
			if (strmap_put(&parts, names[nparts - 1], v, NULL) < 0)
				goto out;
		}
		pid[j] = (uint32_t)((uintptr_t)v - 1);
	}
	if (nparts <= a->wopts.max_open) {
		rc = 0;
		goto out;
	}
	/* A counting sort by partition: stable, so each partition's records keep their order. */
	if (!(start = calloc(nparts + 1, sizeof *start)) ||
	    !(m->put = malloc(m->distinct * sizeof *m->put)))
		goto out;
	for (size_t j = 0; j < m->distinct; j++)
		start[pid[j] + 1]++;
	for (size_t p = 0; p < nparts; p++)
		start[p + 1] += start[p];
	for (size_t j = 0; j < m->distinct; j++)
		m->put[start[pid[j]]++] = j;
	rc = 0;
out:
	for (size_t p = 0; p < nparts; p++)
		free(names[p]);
	free(names);
	free(start);
	free(pid);
	free(prev);
	strmap_free(&parts);
	buf_free(&key);
	return rc;
}

/*
 * Distinct values of key column k among n keys picked across the batch:
 * one at a random place in each n-th of it.  (Evenly spaced picks fall in
 * step with the records' own period: a stream of symbols' days of
 * one-minute bars sampled every 187th record shows a few minutes of each
 * day, and its symbols looked the column with the most values.)
 */
static size_t sample_distinct(struct merge *m, const struct app *a, size_t k, size_t n)
{
	struct prune_ctx c = {m, a->cols[m->key[k]].f, k};
	size_t step = m->distinct / n, nd = n ? 1 : 0;
	for (size_t j = 0; j < n; j++) {
		uint64_t z = (j + 1) * 0x9e3779b97f4a7c15ULL;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z ^= z >> 31;
		m->ord[j] = j * step + (step > 1 ? (size_t)(z % step) : 0);
	}
	qsort_r(m->ord, n, sizeof *m->ord, by_key_column, &c);
	for (size_t j = 1; j < n; j++)
		nd += by_key_column(&m->ord[j - 1], &m->ord[j], &c) != 0;
	return nd;
}

/*
 * The pruning index, built when a file is first judged (an empty table
 * needs none): every distinct record's value of the key column with the
 * most distinct values (counted on a sample), which is the one whose
 * bounds in a file pick the fewest keys, and an order of the records by
 * it.
 */
/* The batch's extreme pruning values, from the ends of ord (decoded from the records). */
static void prune_range(struct merge *m)
{
	if (!m->distinct)
		return;
	key_cell(m, m->ord[0], m->prune, &m->pmin);
	key_cell(m, m->ord[m->distinct - 1], m->prune, &m->pmax);
}

static int key_index(struct merge *m, const struct app *a)
{
	size_t d = m->distinct;
	if (m->ord)
		return 0;
	if (!(m->ord = calloc(d ? d : 1, sizeof *m->ord)))
		return -1;
	size_t best = 0, best_distinct = 0, n = d < 4096 ? d : 4096;
	for (size_t k = 0; k < m->nkey && n; k++) {
		size_t nd = sample_distinct(m, a, k, n);
		if (nd > best_distinct) {
			best_distinct = nd;
			best = k;
		}
	}
	m->prune = best;
	const struct delta_field *pf = a->cols[m->key[best]].f;
	if (integer_type(pf)) {
		struct ord_pair *pairs = malloc((d ? d : 1) * sizeof *pairs);
		struct ord_pair *tmp = malloc((d ? d : 1) * sizeof *tmp);
		if (!pairs || !tmp) {
			free(pairs);
			free(tmp);
			goto fail;
		}
		for (size_t j = 0; j < d; j++) {
			struct delta_cell c;
			key_cell(m, j, best, &c);
			pairs[j] = (struct ord_pair){c.i, j};
		}
		struct ord_pair *sorted = sort_pairs(pairs, tmp, d);
		for (size_t j = 0; j < d; j++)
			m->ord[j] = sorted[j].j;
		free(pairs);
		free(tmp);
		prune_range(m);
		return 0;
	}
	if (!(m->pcell = malloc((d ? d : 1) * sizeof *m->pcell)))
		goto fail;
	for (size_t j = 0; j < d; j++) {
		key_cell(m, j, best, &m->pcell[j]);
		m->ord[j] = j;
	}
	struct prune_ctx c = {m, pf, best};
	qsort_r(m->ord, d, sizeof *m->ord, by_prune_cell, &c);
	prune_range(m);
	return 0;
fail:
	free(m->ord);
	m->ord = NULL;
	return -1;
}

static size_t align_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

/* Copy a cell's string (if it has one) to *at, moving *at past it. */
static void own_cell(struct delta_cell *c, char **at)
{
	if (c->null || !c->s)
		return;
	memcpy(*at, c->s, c->n);
	c->s = *at;
	*at += c->n;
}

static size_t cell_bytes(const struct delta_cell *c)
{
	return c->null || !c->s ? 0 : c->n;
}

/* Parse what the log says of file f's keys into m->view (valid until the next parse). */
static struct prune_entry *prune_parse(struct merge *m, const struct app *a,
                                       const struct delta_file *f)
{
	struct prune_entry *p = &m->view;
	p->no_keys = 0;
	for (size_t k = 0; k < m->nkey; k++) {
		p->part_known[k] = 0;
		memset(&p->part[k], 0, sizeof p->part[k]);
		if (!m->cols[m->key[k]].partition)
			continue;
		const struct delta_field *pf = a->cols[m->key[k]].f;
		struct err_msg pe;
		const char *text =
		    delta_map_get(&f->partition_values, delta_field_file_name(pf), NULL);
		if (delta_partition_parse(pf, text, &p->part[k], &m->scratch[k], &pe) < 0) {
			memset(&p->part[k], 0, sizeof p->part[k]);
			continue; /* a value that does not parse rules nothing out */
		}
		if (p->part[k].null)
			p->no_keys = 1; /* keys are never null */
		else
			p->part_known[k] = 1;
	}
	delta_stats_bounds(f->stats, m->data_fields, m->ndata, p->bounds, m->scratch + m->nkey);
	for (size_t d = 0; d < m->ndata; d++) {
		const struct delta_bounds *b = &p->bounds[d];
		if (b->nulls >= 0 && b->rows >= 0 && b->nulls >= b->rows)
			p->no_keys = 1; /* no row with a value in a key column */
	}
	p->path = f->path;
	p->version = f->version;
	p->size = f->size;
	p->pass = m->pass;
	return p;
}

/* A copy of m->view that owns its strings, or NULL (out of memory). */
static struct prune_entry *prune_keep(const struct merge *m)
{
	const struct prune_entry *v = &m->view;
	size_t text = strlen(v->path) + 1;
	for (size_t k = 0; k < m->nkey; k++)
		text += cell_bytes(&v->part[k]);
	for (size_t d = 0; d < m->ndata; d++)
		text += (v->bounds[d].has_lo ? cell_bytes(&v->bounds[d].lo) : 0) +
		        (v->bounds[d].has_hi ? cell_bytes(&v->bounds[d].hi) : 0);
	size_t at_part = align_up(sizeof(struct prune_entry), _Alignof(struct delta_cell));
	size_t at_bounds =
	    align_up(at_part + m->nkey * sizeof(struct delta_cell), _Alignof(struct delta_bounds));
	size_t at_known = at_bounds + m->ndata * sizeof(struct delta_bounds);
	size_t at_text = at_known + m->nkey * sizeof(int);
	char *block = malloc(at_text + text);
	if (!block)
		return NULL;
	struct prune_entry *p = (struct prune_entry *)(void *)block;
	*p = *v;
	p->part = (struct delta_cell *)(void *)(block + at_part);
	p->bounds = (struct delta_bounds *)(void *)(block + at_bounds);
	p->part_known = (int *)(void *)(block + at_known);
	char *at = block + at_text;
	memcpy(p->part, v->part, m->nkey * sizeof *p->part);
	memcpy(p->part_known, v->part_known, m->nkey * sizeof *p->part_known);
	memcpy(p->bounds, v->bounds, m->ndata * sizeof *p->bounds);
	for (size_t k = 0; k < m->nkey; k++)
		own_cell(&p->part[k], &at);
	for (size_t d = 0; d < m->ndata; d++) {
		if (p->bounds[d].has_lo)
			own_cell(&p->bounds[d].lo, &at);
		if (p->bounds[d].has_hi)
			own_cell(&p->bounds[d].hi, &at);
	}
	memcpy(at, v->path, strlen(v->path) + 1);
	p->path = at;
	return p;
}

/*
 * The entry of file f, parsed now unless known; NULL when out of memory.
 * The first search of a process keeps nothing: most processes upsert one
 * batch, and copying 600 files' bounds took a quarter of their pruning.
 */
static const struct prune_entry *prune_entry_of(struct merge *m, const struct app *a,
                                                const struct delta_file *f)
{
	struct prune_entry *p = strmap_get(&m->known, f->path);
	if (p && p->version == f->version && p->size == f->size) {
		p->pass = m->pass;
		return p;
	}
	struct prune_entry *v = prune_parse(m, a, f);
	if (m->pass < 2)
		return v;
	struct prune_entry *kept = prune_keep(m);
	if (!kept)
		return NULL;
	if (strmap_put(&m->known, kept->path, kept, NULL) < 0) {
		free(kept);
		return NULL;
	}
	free(p); /* replaced: the map no longer points into it */
	return kept;
}

/* Forget the files the last search for candidates did not see (removed from the table). */
static void prune_forget(struct merge *m, int all)
{
	size_t i = 0;
	struct strmap_slot *s;
	while ((s = strmap_next(&m->known, &i))) {
		struct prune_entry *p = s->value;
		if (all || p->pass != m->pass)
			free(strmap_del(&m->known, p->path));
	}
	if (all)
		strmap_free(&m->known);
}

/* Does distinct record j's key lie within what the log says of a file? */
static int key_within(const struct merge *m, const struct app *a, size_t j,
                      const struct prune_entry *p)
{
	/*
	 * The key's cells are decoded one at a time, as far as a check needs:
	 * most keys judged are ruled out by their first column.
	 */
	struct delta_cell c;
	const char *at = rec_key(m, m->rows[j]);
	for (size_t k = 0; k < m->nkey; k++) {
		const struct delta_field *f = a->cols[m->key[k]].f;
		at = get_cell(at, m->enc[m->key[k]], &c);
		if (p->part_known[k] && delta_cell_cmp(f, &c, &p->part[k]) != 0)
			return 0;
		for (size_t d = 0; d < m->ndata; d++) {
			if (m->data_key[d] != k)
				continue;
			const struct delta_bounds *b = &p->bounds[d];
			if (b->has_lo && delta_cell_cmp(f, &c, &b->lo) < 0)
				return 0;
			if (b->has_hi && delta_cell_cmp(f, &c, &b->hi) > 0)
				return 0;
		}
	}
	return 1;
}

/* The first position in ord whose pruning value is not below (upper: is above) v. */
static size_t ord_bound(const struct merge *m, const struct delta_field *f,
                        const struct delta_cell *v, int upper)
{
	size_t lo = 0, hi = m->distinct;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = prune_cmp(m, f, m->ord[mid], v);
		if (upper ? c <= 0 : c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* May file f hold a row with one of the batch's keys (from the log alone)? */
static int may_hold_key(struct merge *m, const struct app *a, const struct delta_file *f)
{
	if (!m->distinct)
		return 0;
	const struct prune_entry *p;
	if (key_index(m, a) < 0 || !(p = prune_entry_of(m, a, f)))
		return 1; /* out of memory: the file may hold a key, for all we know */
	if (p->no_keys)
		return 0;
	/*
	 * The keys whose pruning value can be in the file; first the batch's
	 * range against the file's, which rules out most files at once.
	 */
	const struct delta_field *pf = a->cols[m->key[m->prune]].f;
	size_t from = 0, to = m->distinct;
	if (p->part_known[m->prune]) {
		const struct delta_cell *v = &p->part[m->prune];
		if (delta_cell_cmp(pf, v, &m->pmin) < 0 || delta_cell_cmp(pf, v, &m->pmax) > 0)
			return 0;
		from = ord_bound(m, pf, &p->part[m->prune], 0);
		to = ord_bound(m, pf, &p->part[m->prune], 1);
	} else {
		for (size_t d = 0; d < m->ndata; d++) {
			if (m->data_key[d] != m->prune)
				continue;
			const struct delta_bounds *b = &p->bounds[d];
			if ((b->has_hi && delta_cell_cmp(pf, &b->hi, &m->pmin) < 0) ||
			    (b->has_lo && delta_cell_cmp(pf, &b->lo, &m->pmax) > 0))
				return 0;
			if (p->bounds[d].has_lo)
				from = ord_bound(m, pf, &p->bounds[d].lo, 0);
			if (p->bounds[d].has_hi)
				to = ord_bound(m, pf, &p->bounds[d].hi, 1);
		}
	}
	for (size_t i = from; i < to; i++)
		if (key_within(m, a, m->ord[i], p))
			return 1;
	return 0;
}

/* The read predicate: a file another writer added that may hold one of our keys. */
static int added_may_hold(void *arg, const struct delta_file *f)
{
	struct app *a = arg;
	return may_hold_key(a->merge, a, f);
}

/* One attempt ---------------------------------------------------------------------------- */

struct merge_stats {
	int64_t source_rows, inserted, updated, deleted, copied;
	int64_t files_before, files_after, files_removed, files_added;
	int64_t bytes_removed, bytes_added, parts_removed, parts_added;
	int64_t scan_ms, rewrite_ms;
};

static int file_order(const void *x, const void *y)
{
	const struct delta_file *f = *(const struct delta_file *const *)x;
	const struct delta_file *g = *(const struct delta_file *const *)y;
	if (f->version != g->version)
		return f->version < g->version ? -1 : 1;
	return strcmp(f->path, g->path);
}

/* The files of the snapshot that may hold a key of the batch, in the order they were added. */
static const struct delta_file **candidates(struct app *a, size_t *n)
{
	struct strmap *files = &a->snap.files;
	const struct delta_file **v = calloc(files->count ? files->count : 1, sizeof *v);
	size_t i = 0, k = 0;
	struct strmap_slot *s;
	if (!v)
		return NULL;
	a->merge->pass++;
	while ((s = strmap_next(files, &i)))
		if (may_hold_key(a->merge, a, s->value))
			v[k++] = s->value;
	prune_forget(a->merge, 0);
	qsort(v, k, sizeof *v, file_order);
	*n = k;
	return v;
}

/* How many distinct partitions (by their values) a list of files touches. */
static int64_t count_partitions(const struct delta_map *const *pv, size_t n)
{
	int64_t parts = 0;
	for (size_t i = 0; i < n; i++) {
		size_t j;
		for (j = 0; j < i; j++) {
			int same = pv[i]->n == pv[j]->n;
			for (size_t k = 0; same && k < pv[i]->n; k++) {
				const char *x = pv[i]->kv[k].value;
				const char *y = delta_map_get(pv[j], pv[i]->kv[k].key, NULL);
				same = (x == NULL) == (y == NULL) && (!x || strcmp(x, y) == 0);
			}
			if (same)
				break;
		}
		parts += j == i;
	}
	return parts;
}

/* Rewrite one candidate file: its rows whose key is not in the batch. */
/* Row m->cells as a change of the kind given (_change_type) to the change data files. */
static int put_change(struct merge *m, const struct app *a, const char *kind, struct err_msg *e)
{
	memcpy(m->ccells, m->cells, a->ncols * sizeof *m->cells);
	struct delta_cell *c = &m->ccells[a->ncols];
	memset(c, 0, sizeof *c);
	c->s = kind;
	c->n = strlen(kind);
	return delta_writer_put(m->cw, m->ccells, e);
}

/*
 * The writer of the attempt's change data files: the table's columns and
 * _change_type, under _change_data/ with the table's partition columns.
 */
static struct delta_writer *change_writer(const struct app *a, const struct delta_writer_opts *o,
                                          struct err_msg *e)
{
	/*
	 * Under column mapping the data columns go by their physical names, and
	 * _change_type, no column of the table, by its own name; its field id
	 * (mode id) is one no column can have, for it is found by name.
	 */
	static char name[] = "_change_type", meta[] = "{}",
	            mapped[] = "{\"delta.columnMapping.physicalName\":\"_change_type\","
	                       "\"delta.columnMapping.id\":2147483647}";
	struct delta_schema s = {calloc(a->tschema.n + 1, sizeof *s.fields), a->tschema.n + 1};
	struct delta_writer *w = NULL;
	if (!s.fields) {
		err_set(e, EX_SOFTWARE, "out of memory");
	} else {
		memcpy(s.fields, a->tschema.fields, a->tschema.n * sizeof *s.fields);
		struct delta_field *ct = &s.fields[a->tschema.n];
		ct->name = name;
		ct->type = DT_STRING;
		ct->nullable = 1;
		ct->metadata_json =
		    o->column_mapping && strcasecmp(o->column_mapping, "none") != 0 ? mapped : meta;
		struct delta_writer_opts co = *o;
		co.sort_cols = NULL;
		co.nsort = 0;
		co.subdir = "_change_data";
		w = delta_writer_new(a->root, &s, a->part_cols, a->npart, &co, e);
	}
	free(s.fields); /* the writer keeps a copy of its own */
	return w;
}

/* The commit's barrier: the data files, and the change data files, are durable. */
static int merge_durable(void *arg, struct err_msg *e)
{
	struct merge *m = arg;
	return delta_writer_sync_wait(m->w, e) < 0 ||
	               (m->cw && delta_writer_sync_wait(m->cw, e) < 0)
	           ? -1
	           : 0;
}

static int rewrite_file(struct app *a, struct delta_writer *w, const struct delta_file *f,
                        struct merge_stats *st, const struct pq_read_options *ro, struct err_msg *e)
{
	struct merge *m = a->merge;
	/* Rows that a deletion vector deletes are not read, so not written again. */
	struct delta_rows *r = delta_rows_open(a->root, f, m->cols, a->ncols, ro, e);
	if (!r)
		return -1;
	const struct delta_value *v;
	int k;
	while ((k = delta_rows_next(r, &v, e)) == 1) {
		for (size_t c = 0; c < a->ncols; c++)
			m->cells[c] = v[c].c;
		for (size_t c = 0; c < a->ncols && a->has_nested; c++)
			if (delta_value_to_cell(a->cols[c].f, &v[c], &m->cells[c], &m->nested[c]) <
			    0) {
				err_set(e, EX_SOFTWARE, "out of memory");
				k = -1;
				break;
			}
		if (k < 0)
			break;
		int nk = encode_key(m, m->cells);
		ssize_t hit = nk == 0 ? lookup(m) : -1;
		if (nk < 0) {
			err_set(e, EX_SOFTWARE, "out of memory");
			k = -1;
			break;
		}
		if (hit >= 0) {
			/* Replaced by the batch's record; a second row of the key is a duplicate gone. */
			if (m->cw &&
			    put_change(m, a, m->matched[hit] ? "delete" : "update_preimage", e) <
			        0) {
				k = -1;
				break;
			}
			if (m->matched[hit])
				st->deleted++;
			m->matched[hit] = 1;
			continue;
		}
		if (delta_writer_put(w, m->cells, e) < 0) {
			k = -1;
			break;
		}
		st->copied++;
	}
	delta_rows_close(r);
	return k;
}

/*
 * Does candidate f hold a key of the batch?  Its key columns alone are
 * read, up to the first row that does: statistics only say that a file
 * may hold one, and a file that holds none is left as it is rather than
 * copied whole (it would be removed and written again for nothing, and
 * conflict with other writers' rewrites of it).  1 or 0, or -1 with e set.
 */
static int holds_key(struct app *a, const struct delta_file *f, const struct pq_read_options *ro,
                     struct err_msg *e)
{
	struct merge *m = a->merge;
	struct delta_rows_col kc[MAX_KEY_COLUMNS];
	for (size_t k = 0; k < m->nkey; k++)
		kc[k] = m->cols[m->key[k]];
	struct delta_rows *r = delta_rows_open(a->root, f, kc, m->nkey, ro, e);
	if (!r)
		return -1;
	const struct delta_value *v;
	int got, hit = 0;
	while (!hit && (got = delta_rows_next(r, &v, e)) == 1) {
		for (size_t k = 0; k < m->nkey; k++)
			m->cells[m->key[k]] = v[k].c;
		int nk = encode_key(m, m->cells);
		if (nk < 0) {
			err_set(e, EX_SOFTWARE, "out of memory");
			got = -1;
			break;
		}
		hit = nk == 0 && lookup(m) >= 0;
	}
	delta_rows_close(r);
	return hit ? 1 : got < 0 ? -1 : 0;
}

/*
 * The files written are like the ones rewritten: the largest candidate's
 * encodings are forced on them, which spares each its trial encodings
 * (most of the cost of writing a small file).  Only its footer is read.
 */
static int learn_encodings(struct app *a, struct delta_writer *w, const struct delta_file **cand,
                           size_t ncand, const struct pq_read_options *ro, struct err_msg *e)
{
	struct merge *m = a->merge;
	size_t big = 0;
	for (size_t i = 1; i < ncand; i++)
		if (cand[i]->size > cand[big]->size)
			big = i;
	struct delta_rows *r = delta_rows_open(a->root, cand[big], m->cols, a->ncols, ro, e);
	if (!r)
		return -1;
	int *enc = calloc(a->ncols ? a->ncols : 1, sizeof *enc);
	if (!enc) {
		delta_rows_close(r);
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	for (size_t c = 0; c < a->ncols; c++)
		enc[c] = delta_rows_encoding(r, c);
	delta_rows_close(r);
	delta_writer_learn(w, enc);
	free(enc);
	return 0;
}

/* Build the MERGE transaction of the files read and written. */
static struct delta_txn *merge_txn(struct app *a, struct delta_writer *w,
                                   const struct delta_file **cand, size_t ncand, const char *app,
                                   int64_t id, struct merge_stats *st)
{
	struct merge *m = a->merge;
	struct delta_txn *t = delta_txn_begin(&a->snap, a->store, "MERGE");
	if (!t)
		return NULL;
	struct buf pred = BUF_INIT, tmp = BUF_INIT;
	for (size_t k = 0; k < m->nkey; k++)
		buf_printf(&tmp, "%s(target.%s = source.%s)", k ? " AND " : "",
		           a->cols[m->key[k]].f->name, a->cols[m->key[k]].f->name);
	buf_putc(&pred, '[');
	buf_json_str(&pred, tmp.data ? tmp.data : "", tmp.len);
	buf_putc(&pred, ']');
	int64_t now = ts_now() / 1000;
	int ok = !buf_failed(&pred) && !buf_failed(&tmp) &&
	         delta_txn_param(t, "predicate", pred.data) == 0 &&
	         delta_txn_param(t, "matchedPredicates", "[{\"actionType\":\"update\"}]") == 0 &&
	         delta_txn_param(t, "notMatchedPredicates", "[{\"actionType\":\"insert\"}]") == 0 &&
	         delta_txn_param(t, "notMatchedBySourcePredicates", "[]") == 0;
	buf_free(&pred);
	buf_free(&tmp);
	const struct delta_map **pv = calloc(ncand ? ncand : 1, sizeof *pv);
	ok = ok && pv;
	for (size_t i = 0; ok && i < ncand; i++) {
		ok = delta_txn_remove(t, cand[i], now, 1) == 0;
		st->bytes_removed += cand[i]->size;
		pv[i] = &cand[i]->partition_values;
	}
	st->parts_removed = ok ? count_partitions(pv, ncand) : 0;
	free(pv);
	size_t n;
	const struct delta_written *files = delta_writer_files(w, &n);
	const struct delta_map **apv = calloc(n ? n : 1, sizeof *apv);
	ok = ok && apv;
	for (size_t i = 0; ok && i < n; i++) {
		ok = delta_txn_add(t, &files[i].file) == 0;
		st->bytes_added += files[i].file.size;
		apv[i] = &files[i].file.partition_values;
	}
	st->parts_added = ok ? count_partitions(apv, n) : 0;
	free(apv);
	st->files_removed = (int64_t)ncand;
	st->files_added = (int64_t)n;
	/* The change data files. */
	size_t nc = 0;
	int64_t cbytes = 0;
	const struct delta_written *cf = m->cw ? delta_writer_files(m->cw, &nc) : NULL;
	for (size_t i = 0; ok && i < nc; i++) {
		ok = delta_txn_cdc(t, &cf[i].file) == 0;
		cbytes += cf[i].file.size;
	}
	ok = ok && delta_txn_metric_i64(t, "numTargetChangeFilesAdded", (int64_t)nc) == 0 &&
	     delta_txn_metric_i64(t, "numTargetChangeFileBytes", cbytes) == 0;
	static const char *const zero[] = {"numTargetRowsNotMatchedBySourceUpdated",
	                                   "numTargetRowsMatchedDeleted",
	                                   "numTargetRowsNotMatchedBySourceDeleted"};
	ok = ok && (!app || delta_txn_set_app(t, app, id) == 0) &&
	     delta_txn_metric_i64(t, "numSourceRows", st->source_rows) == 0 &&
	     delta_txn_metric_i64(t, "numTargetRowsInserted", st->inserted) == 0 &&
	     delta_txn_metric_i64(t, "numTargetRowsUpdated", st->updated) == 0 &&
	     delta_txn_metric_i64(t, "numTargetRowsMatchedUpdated", st->updated) == 0 &&
	     delta_txn_metric_i64(t, "numTargetRowsDeleted", st->deleted) == 0 &&
	     delta_txn_metric_i64(t, "numTargetRowsCopied", st->copied) == 0 &&
	     delta_txn_metric_i64(t, "numOutputRows", st->inserted + st->updated + st->copied) ==
	         0 &&
	     delta_txn_metric_i64(t, "numTargetFilesBeforeSkipping", st->files_before) == 0 &&
	     delta_txn_metric_i64(t, "numTargetFilesAfterSkipping", st->files_after) == 0 &&
	     delta_txn_metric_i64(t, "numTargetFilesAdded", st->files_added) == 0 &&
	     delta_txn_metric_i64(t, "numTargetFilesRemoved", st->files_removed) == 0 &&
	     delta_txn_metric_i64(t, "numTargetBytesAdded", st->bytes_added) == 0 &&
	     delta_txn_metric_i64(t, "numTargetBytesRemoved", st->bytes_removed) == 0 &&
	     delta_txn_metric_i64(t, "numTargetPartitionsAddedTo", st->parts_added) == 0 &&
	     delta_txn_metric_i64(t, "numTargetPartitionsRemovedFrom", st->parts_removed) == 0;
	for (size_t i = 0; ok && i < sizeof zero / sizeof *zero; i++)
		ok = delta_txn_metric_i64(t, zero[i], 0) == 0;
	ok = ok && delta_txn_metric_i64(t, "executionTimeMs", st->scan_ms + st->rewrite_ms) == 0 &&
	     delta_txn_metric_i64(t, "scanTimeMs", st->scan_ms) == 0 &&
	     delta_txn_metric_i64(t, "rewriteTimeMs", st->rewrite_ms) == 0;
	if (!ok) {
		delta_txn_free(t);
		return NULL;
	}
	delta_txn_read_predicate(t, added_may_hold, a);
	delta_txn_set_revalidate(t, still_writable, a, a->retries);
	delta_txn_set_checkpointer(t, a->ckpt);
	return t;
}

/*
 * One attempt at merging the batch into the snapshot: find, read and
 * rewrite the candidates, write the batch, commit.  Returns what
 * delta_txn_commit() returns (0 committed, 1 duplicate, -1 with e set);
 * info says more.  The files written are released when committed,
 * discarded otherwise.
 */
static int merge_once(struct app *a, const char *app, int64_t id, struct delta_commit_info *info,
                      struct merge_stats *st, struct err_msg *e)
{
	struct merge *m = a->merge;
	int64_t t0 = ts_monotonic();
	int rc = -1;
	memset(info, 0, sizeof *info);
	info->version = -1;
	st->inserted = st->updated = st->deleted = st->copied = 0;
	st->bytes_added = st->bytes_removed = 0;
	memset(m->matched, 0, m->n ? m->n : 1);
	size_t ncand = 0;
	const struct delta_file **cand = candidates(a, &ncand);
	if (!cand) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	st->files_before = (int64_t)a->snap.files.count;
	st->files_after = (int64_t)ncand;
	int64_t t1 = ts_monotonic();
	/*
	 * A writer of its own for the attempt: a few small files are written
	 * quicker by this thread than handed to writer threads.
	 */
	int64_t bytes = (int64_t)m->data.len;
	for (size_t i = 0; i < ncand; i++)
		bytes += cand[i]->size * 8; /* the rows in memory, about */
	struct delta_writer_opts wo = a->wopts;
	if (bytes < INLINE_BYTES)
		wo.threads = 0;
	struct delta_writer *w =
	    delta_writer_new(a->root, &a->tschema, a->part_cols, a->npart, &wo, e);
	struct pq_read_options ro = {.codec = pq_codec_new()};
	m->w = w;
	m->cw = NULL;
	if (!w || !ro.codec) {
		if (w)
			err_set(e, EX_SOFTWARE, "out of memory");
		goto out;
	}
	/* Of the files read, only those that hold a key are rewritten. */
	size_t touched = 0;
	for (size_t i = 0; i < ncand; i++) {
		int h = holds_key(a, cand[i], &ro, e);
		if (h < 0)
			goto out;
		if (h)
			cand[touched++] = cand[i];
	}
	ncand = touched;
	/* Rewriting files changes rows: the changes go to change data files. */
	if (ncand && delta_change_data_feed(&a->snap) && !(m->cw = change_writer(a, &wo, e)))
		goto out;
	if (ncand && learn_encodings(a, w, cand, ncand, &ro, e) < 0)
		goto out;
	for (size_t i = 0; i < ncand; i++)
		if (rewrite_file(a, w, cand[i], st, &ro, e) < 0)
			goto out;
	for (size_t j = 0; j < m->distinct; j++) {
		size_t r = m->rows[m->put ? m->put[j] : j];
		decode_row(m, a, r, m->cells);
		if (delta_writer_put(w, m->cells, e) < 0)
			goto out;
		if (m->cw && put_change(m, a, m->matched[r] ? "update_postimage" : "insert", e) < 0)
			goto out;
		if (m->matched[r])
			st->updated++;
		else
			st->inserted++;
	}
	if (delta_writer_finish(w, e) < 0 || (m->cw && delta_writer_finish(m->cw, e) < 0))
		goto out;
	int64_t t2 = ts_monotonic();
	st->scan_ms = (t1 - t0) / 1000;
	st->rewrite_ms = (t2 - t1) / 1000;
	/* The files are made durable while the commit is written (the barrier waits for them). */
	if (delta_writer_sync_start(w, e) < 0 || (m->cw && delta_writer_sync_start(m->cw, e) < 0))
		goto out;
	struct delta_txn *t = merge_txn(a, w, cand, ncand, app, id, st);
	if (!t) {
		err_set(e, EX_SOFTWARE, "out of memory");
		goto out;
	}
	delta_txn_set_barrier(t, merge_durable, m);
	rc = delta_txn_commit(t, info, e);
	delta_txn_free(t);
out:
	pq_codec_free(ro.codec);
	free(cand);
	if (w && info->version >= 0) {
		delta_writer_release(w);
		if (m->cw)
			delta_writer_release(m->cw);
	}
	/* Not committed: freeing the writers removes their files. */
	delta_writer_free(m->cw);
	delta_writer_free(w);
	m->w = m->cw = NULL;
	return rc;
}

/* A fresh snapshot with its file lists, for another attempt after a conflict. */
static int reload(struct app *a, struct err_msg *e)
{
	struct delta_snapshot fresh;
	struct delta_load_opts lo = {-1, -1, 0, 0, 1};
	if (delta_store_load(a->store, &lo, &fresh, e) < 0)
		return -1;
	delta_snapshot_free(&a->snap);
	a->snap = fresh;
	if (delta_check_write(&a->snap, e) < 0 || still_writable(a, &a->snap, e) < 0)
		return -1;
	return 0;
}

int merge_commit(struct app *a, const char *app, int64_t id, const char *label, struct err_msg *e)
{
	struct merge *m = a->merge;
	struct merge_stats st;
	memset(&st, 0, sizeof st);
	st.source_rows = a->records;
	if (settle(m) < 0 || batch_rows(m) < 0 || write_order(m, a) < 0) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	int rc = -1;
	for (int64_t attempt = 0;; attempt++) {
		struct delta_commit_info info;
		int k = merge_once(a, app, id, &info, &st, e);
		if (info.version >= 0) {
			err_info("merged %lld records by (%s): %lld updated, %lld inserted, %lld "
			         "copied; %lld of %lld files rewritten",
			         (long long)st.source_rows, m->key_text, (long long)st.updated,
			         (long long)st.inserted, (long long)st.copied,
			         (long long)st.files_removed, (long long)st.files_before);
			/* the rows it wrote from the batch: its distinct keys */
			note_commit(a, &info, st.inserted + st.updated, st.files_added, app);
			rc = k < 0 ? -1 : 0;
			break;
		}
		if (k == 1) {
			err_info("%s: loaded by another writer (%s); skipped", label, e->text);
			a->skipped++;
			rc = 0;
			break;
		}
		if (e->status != EX_TEMPFAIL)
			break;
		if (attempt >= a->retries) {
			struct err_msg last = *e;
			err_set(e, EX_TEMPFAIL, "%s (%lld retr%s spent, --commit-retries)",
			        last.text, (long long)a->retries, a->retries == 1 ? "y" : "ies");
			break;
		}
		err_info("%s: %s; merging again (attempt %lld)", label, e->text,
		         (long long)attempt + 2);
		if (reload(a, e) < 0)
			break;
		if (app && delta_txn_version(&a->snap, app) >= id) {
			err_info("%s: loaded by another writer; skipped", label);
			a->skipped++;
			rc = 0;
			break;
		}
	}
	batch_clear(m);
	return rc;
}

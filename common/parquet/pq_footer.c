/*
 * pq_footer: decoding of Parquet's Thrift metadata (FileMetaData and
 * PageHeader) into plain C structs for the reader.
 *
 * Input is untrusted.  The Thrift cursor never reads outside the footer;
 * list counts are bounded by the bytes left; everything allocated is
 * charged to a budget proportional to the footer's size, so a small footer
 * cannot claim a huge schema or millions of row groups; required fields
 * are checked, and unknown fields skipped.  Encrypted files and column data
 * kept in other files are refused here, with a message that says so.
 *
 * Each struct is decoded by a loop over its fields:
 *
 *	while ((rc = next_field(cx, &it)) > 0)
 *		switch (it.id) { case 1: ...; default: skip it }
 *
 * next_field() enters the struct on its first call and leaves it at the
 * stop byte.
 */
#include "parquet/pq_internal.h"

#include "parquet/thrift_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
	struct thrift_r r;
	size_t budget;
	char *why;
	size_t whylen;
	const uint8_t *crc_text; /* the footer checksum's 8 digits, where they are */
};

struct field_it {
	int16_t last, id;
	int type;
	int started;
};

static int bad(struct ctx *cx, const char *what)
{
	if (!cx->why[0])
		snprintf(cx->why, cx->whylen, "%s", what);
	return -1;
}

/* A Thrift-level failure: say what the cursor found. */
static int tfail(struct ctx *cx)
{
	if (!cx->why[0])
		snprintf(cx->why, cx->whylen, "footer is corrupt: %s",
		         cx->r.err ? cx->r.err : "bad data");
	return -1;
}

static int next_field(struct ctx *cx, struct field_it *it)
{
	if (!it->started) {
		it->started = 1;
		it->last = 0;
		if (thrift_enter(&cx->r) < 0)
			return tfail(cx);
	}
	int rc = thrift_next_field(&cx->r, &it->last, &it->id, &it->type);
	if (rc < 0)
		return tfail(cx);
	if (rc == 0)
		thrift_leave(&cx->r);
	return rc;
}

static int skip(struct ctx *cx, const struct field_it *it)
{
	return thrift_skip(&cx->r, it->type) < 0 ? tfail(cx) : 0;
}

static int get_i32(struct ctx *cx, const struct field_it *it, int32_t *v)
{
	return thrift_read_i32(&cx->r, it->type, v) < 0 ? tfail(cx) : 0;
}

static int get_i64(struct ctx *cx, const struct field_it *it, int64_t *v)
{
	return thrift_read_i64(&cx->r, it->type, v) < 0 ? tfail(cx) : 0;
}

static int get_bool(struct ctx *cx, const struct field_it *it, int *v)
{
	return thrift_read_bool(&cx->r, it->type, v) < 0 ? tfail(cx) : 0;
}

static int get_bytes(struct ctx *cx, const struct field_it *it, struct pq_bytes *b)
{
	return thrift_read_binary(&cx->r, it->type, &b->p, &b->len) < 0 ? tfail(cx) : 0;
}

/* A list of structs; *n gets its length. */
static int get_struct_list(struct ctx *cx, const struct field_it *it, size_t *n)
{
	int etype;
	if (thrift_read_list(&cx->r, it->type, &etype, n) < 0)
		return tfail(cx);
	if (etype != THRIFT_STRUCT)
		return bad(cx, "footer is corrupt: a list has the wrong element type");
	return 0;
}

static void *take(struct ctx *cx, size_t n, size_t size)
{
	if (n && size > cx->budget / n) {
		bad(cx, "footer is implausibly large for its size");
		return NULL;
	}
	cx->budget -= n * size;
	void *p = calloc(n ? n : 1, size);
	if (!p)
		bad(cx, "out of memory");
	return p;
}

static char *take_str(struct ctx *cx, struct pq_bytes b)
{
	char *s = take(cx, b.len + 1, 1);
	if (s && b.len)
		memcpy(s, b.p, b.len);
	return s;
}

/* A union of empty structs (ColumnOrder, TimeUnit): *which gets the member's id. */
static int parse_union(struct ctx *cx, int *which)
{
	struct field_it it = {0};
	int rc;
	*which = 0;
	while ((rc = next_field(cx, &it)) > 0) {
		if (!*which)
			*which = it.id;
		if (skip(cx, &it) < 0)
			return -1;
	}
	return rc;
}

static int parse_logical_params(struct ctx *cx, struct pq_element *el)
{
	struct field_it it = {0};
	int rc;
	int32_t v;
	while ((rc = next_field(cx, &it)) > 0) {
		if (el->logical == PQ_LT_DECIMAL && (it.id == 1 || it.id == 2)) {
			if (get_i32(cx, &it, &v) < 0)
				return -1;
			*(it.id == 1 ? &el->logical_a : &el->logical_b) = v;
		} else if ((el->logical == PQ_LT_TIME || el->logical == PQ_LT_TIMESTAMP) &&
		           it.id == 1) {
			if (get_bool(cx, &it, &el->logical_a) < 0)
				return -1;
		} else if ((el->logical == PQ_LT_TIME || el->logical == PQ_LT_TIMESTAMP) &&
		           it.id == 2) {
			if (parse_union(cx, &el->logical_b) < 0)
				return -1;
		} else if (el->logical == PQ_LT_INTEGER && it.id == 1) {
			if (get_i32(cx, &it, &v) < 0)
				return -1;
			el->logical_a = v;
		} else if (el->logical == PQ_LT_INTEGER && it.id == 2) {
			if (get_bool(cx, &it, &el->logical_b) < 0)
				return -1;
		} else if (skip(cx, &it) < 0) {
			return -1;
		}
	}
	return rc;
}

static int parse_logical(struct ctx *cx, struct pq_element *el)
{
	struct field_it it = {0};
	int rc;
	while ((rc = next_field(cx, &it)) > 0) {
		if (it.type != THRIFT_STRUCT || el->logical) {
			if (skip(cx, &it) < 0)
				return -1;
			continue;
		}
		el->logical = it.id;
		if (parse_logical_params(cx, el) < 0)
			return -1;
	}
	return rc;
}

static int parse_element(struct ctx *cx, struct pq_element *el)
{
	struct field_it it = {0};
	struct pq_bytes name = {NULL, 0};
	int rc, has_name = 0;
	el->type = el->type_length = el->repetition = el->num_children = -1;
	el->converted_type = el->scale = el->precision = el->field_id = -1;
	while ((rc = next_field(cx, &it)) > 0) {
		switch (it.id) {
		case 1:
			rc = get_i32(cx, &it, &el->type);
			break;
		case 2:
			rc = get_i32(cx, &it, &el->type_length);
			break;
		case 3:
			rc = get_i32(cx, &it, &el->repetition);
			break;
		case 4:
			rc = get_bytes(cx, &it, &name);
			has_name = 1;
			break;
		case 5:
			rc = get_i32(cx, &it, &el->num_children);
			break;
		case 6:
			rc = get_i32(cx, &it, &el->converted_type);
			break;
		case 7:
			rc = get_i32(cx, &it, &el->scale);
			break;
		case 8:
			rc = get_i32(cx, &it, &el->precision);
			break;
		case 9:
			rc = get_i32(cx, &it, &el->field_id);
			break;
		case 10:
			rc = it.type == THRIFT_STRUCT ? parse_logical(cx, el) : skip(cx, &it);
			break;
		default:
			rc = skip(cx, &it);
			break;
		}
		if (rc < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	if (!has_name)
		return bad(cx, "footer is corrupt: a schema element has no name");
	return (el->name = take_str(cx, name)) ? 0 : -1;
}

static int parse_stats(struct ctx *cx, struct pq_rawstats *st)
{
	struct field_it it = {0};
	int rc;
	while ((rc = next_field(cx, &it)) > 0) {
		switch (it.id) {
		case 1:
			rc = get_bytes(cx, &it, &st->max);
			st->has_max = 1;
			break;
		case 2:
			rc = get_bytes(cx, &it, &st->min);
			st->has_min = 1;
			break;
		case 3:
			rc = get_i64(cx, &it, &st->null_count);
			st->has_null_count = 1;
			break;
		case 5:
			rc = get_bytes(cx, &it, &st->max_value);
			st->has_max_value = 1;
			break;
		case 6:
			rc = get_bytes(cx, &it, &st->min_value);
			st->has_min_value = 1;
			break;
		default:
			rc = skip(cx, &it);
			break;
		}
		if (rc < 0)
			return -1;
	}
	return rc;
}

static int parse_colmeta(struct ctx *cx, struct pq_colchunk *c)
{
	struct field_it it = {0};
	unsigned seen = 0;
	int rc, etype;
	size_t n;
	c->dict_off = -1;
	while ((rc = next_field(cx, &it)) > 0) {
		switch (it.id) {
		case 1:
			rc = get_i32(cx, &it, &c->type);
			break;
		case 2:
			if (thrift_read_list(&cx->r, it.type, &etype, &n) < 0)
				return tfail(cx);
			c->nencodings = 0;
			for (size_t i = 0; i < n && rc >= 0; i++) {
				int32_t v;
				if (thrift_read_i32(&cx->r, etype, &v) < 0)
					return tfail(cx);
				if (c->nencodings < 16)
					c->encodings[c->nencodings++] = v;
			}
			break;
		case 3:
			if (thrift_read_list(&cx->r, it.type, &etype, &n) < 0)
				return tfail(cx);
			for (size_t i = 0; i < n; i++) {
				struct pq_bytes b;
				if (thrift_read_binary(&cx->r, etype, &b.p, &b.len) < 0)
					return tfail(cx);
			}
			c->npath = n > 1000 ? 1000 : (int)n;
			break;
		case 4:
			rc = get_i32(cx, &it, &c->codec);
			break;
		case 5:
			rc = get_i64(cx, &it, &c->num_values);
			break;
		case 6:
			rc = get_i64(cx, &it, &c->total_unc);
			break;
		case 7:
			rc = get_i64(cx, &it, &c->total_comp);
			break;
		case 9:
			rc = get_i64(cx, &it, &c->data_off);
			break;
		case 11:
			rc = get_i64(cx, &it, &c->dict_off);
			break;
		case 12:
			rc = it.type == THRIFT_STRUCT ? parse_stats(cx, &c->st) : skip(cx, &it);
			break;
		default:
			rc = skip(cx, &it);
			break;
		}
		if (rc < 0)
			return -1;
		if (it.id >= 1 && it.id <= 9)
			seen |= 1u << it.id;
	}
	if (rc < 0)
		return -1;
	unsigned need =
	    1u << 1 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 6 | 1u << 7 | 1u << 9;
	if ((seen & need) != need)
		return bad(cx, "footer is corrupt: column metadata lacks a required field");
	return 0;
}

static int parse_chunk(struct ctx *cx, struct pq_colchunk *c)
{
	struct field_it it = {0};
	int rc, has_meta = 0;
	while ((rc = next_field(cx, &it)) > 0) {
		switch (it.id) {
		case 1:
			return bad(cx, "column data kept in another file is not supported");
		case 3:
			if (it.type != THRIFT_STRUCT)
				return bad(cx, "footer is corrupt: bad column metadata");
			rc = parse_colmeta(cx, c);
			has_meta = 1;
			break;
		case 8:
		case 9:
			return bad(cx, "encrypted columns are not supported");
		default:
			rc = skip(cx, &it);
			break;
		}
		if (rc < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	if (!has_meta)
		return bad(cx, "footer is corrupt: a column chunk has no metadata");
	return 0;
}

static int parse_rowgroup(struct ctx *cx, struct pq_rowgroup *g)
{
	struct field_it it = {0};
	unsigned seen = 0;
	int rc;
	size_t n;
	int64_t total;
	while ((rc = next_field(cx, &it)) > 0) {
		switch (it.id) {
		case 1:
			if (g->cols)
				return bad(cx,
				           "footer is corrupt: two column lists in a row group");
			if (get_struct_list(cx, &it, &n) < 0 ||
			    !(g->cols = take(cx, n, sizeof *g->cols)))
				return -1;
			g->ncols = n > INT32_MAX ? INT32_MAX : (int)n;
			for (size_t i = 0; i < n && rc >= 0; i++)
				rc = parse_chunk(cx, &g->cols[i]);
			break;
		case 2:
			rc = get_i64(cx, &it, &total);
			break;
		case 3:
			rc = get_i64(cx, &it, &g->num_rows);
			break;
		default:
			rc = skip(cx, &it);
			break;
		}
		if (rc < 0)
			return -1;
		if (it.id >= 1 && it.id <= 3)
			seen |= 1u << it.id;
	}
	if (rc < 0)
		return -1;
	if (seen != 14)
		return bad(cx, "footer is corrupt: a row group lacks a required field");
	return 0;
}

/*
 * 1 when key is PQ_FOOTER_CRC_KEY with a few bits changed.  Damage there
 * would otherwise pass the footer off as one without a checksum, and other
 * damage to it would go unseen; no writer's own key is so close to ours.
 */
static int damaged_crc_key(const char *key)
{
	static const char crc_key[] = PQ_FOOTER_CRC_KEY;
	if (strlen(key) != sizeof crc_key - 1)
		return 0;
	int bits = 0;
	for (size_t i = 0; i < sizeof crc_key - 1; i++)
		bits += __builtin_popcount((unsigned char)key[i] ^ (unsigned char)crc_key[i]);
	return bits > 0 && bits <= 8;
}

static int parse_kv(struct ctx *cx, struct pq_kv *kv)
{
	struct field_it it = {0};
	struct pq_bytes b, value = {NULL, 0};
	int rc;
	while ((rc = next_field(cx, &it)) > 0) {
		if ((it.id == 1 && !kv->key) || (it.id == 2 && !kv->value)) {
			if (get_bytes(cx, &it, &b) < 0)
				return -1;
			const char *s = take_str(cx, b);
			if (!s)
				return -1;
			*(it.id == 1 ? &kv->key : &kv->value) = s;
			if (it.id == 2)
				value = b;
		} else if (skip(cx, &it) < 0) {
			return -1;
		}
	}
	if (rc < 0)
		return -1;
	if (!kv->key)
		return bad(cx, "footer is corrupt: key/value metadata without a key");
	if (strcmp(kv->key, PQ_FOOTER_CRC_KEY) == 0) {
		if (cx->crc_text)
			return bad(cx, "footer is corrupt: two footer checksums");
		if (value.len != 8)
			return bad(cx,
			           "footer checksum is not 8 hex digits: the footer is damaged");
		cx->crc_text = value.p;
	} else if (damaged_crc_key(kv->key)) {
		return bad(cx, "footer checksum under a damaged key: the footer is damaged");
	}
	return 0;
}

static int parse_filemeta(struct ctx *cx, struct pq_footer *f)
{
	struct field_it it = {0};
	unsigned seen = 0;
	int rc;
	size_t n;
	int32_t version;
	struct pq_bytes b;
	while ((rc = next_field(cx, &it)) > 0) {
		switch (it.id) {
		case 1:
			rc = get_i32(cx, &it, &version);
			break;
		case 2:
			if (f->el)
				return bad(cx, "footer is corrupt: two schemas");
			if (get_struct_list(cx, &it, &n) < 0 ||
			    !(f->el = take(cx, n, sizeof *f->el)))
				return -1;
			for (size_t i = 0; i < n && rc >= 0; i++) {
				f->nel = i + 1;
				rc = parse_element(cx, &f->el[i]);
			}
			break;
		case 3:
			rc = get_i64(cx, &it, &f->num_rows);
			break;
		case 4:
			if (f->rg)
				return bad(cx, "footer is corrupt: two row group lists");
			if (get_struct_list(cx, &it, &n) < 0)
				return -1;
			if (n > INT32_MAX)
				return bad(cx, "footer is corrupt: too many row groups");
			if (!(f->rg = take(cx, n, sizeof *f->rg)))
				return -1;
			for (size_t i = 0; i < n && rc >= 0; i++) {
				f->nrg = (int)i + 1;
				rc = parse_rowgroup(cx, &f->rg[i]);
			}
			break;
		case 5:
			if (f->kv)
				return bad(cx, "footer is corrupt: two key/value lists");
			if (get_struct_list(cx, &it, &n) < 0 ||
			    !(f->kv = take(cx, n, sizeof *f->kv)))
				return -1;
			for (size_t i = 0; i < n && rc >= 0; i++) {
				f->nkv = i + 1;
				rc = parse_kv(cx, &f->kv[i]);
			}
			break;
		case 6:
			if (get_bytes(cx, &it, &b) < 0)
				return -1;
			free(f->created_by);
			rc = (f->created_by = take_str(cx, b)) ? 0 : -1;
			break;
		case 7:
			if (f->orders)
				return bad(cx, "footer is corrupt: two column order lists");
			if (get_struct_list(cx, &it, &n) < 0 ||
			    !(f->orders = take(cx, n, sizeof *f->orders)))
				return -1;
			for (size_t i = 0; i < n && rc >= 0; i++) {
				rc = parse_union(cx, &f->orders[i]);
				f->norders = (int)i + 1;
			}
			break;
		case 8:
			return bad(cx, "encrypted files are not supported");
		default:
			rc = skip(cx, &it);
			break;
		}
		if (rc < 0)
			return -1;
		if (it.id >= 1 && it.id <= 4)
			seen |= 1u << it.id;
	}
	if (rc < 0)
		return -1;
	if (seen != 30)
		return bad(cx, "footer is corrupt: FileMetaData lacks a required field");
	return 0;
}

int pq_footer_parse(const uint8_t *p, size_t n, struct pq_footer *f, char *why, size_t whylen)
{
	struct ctx cx;
	memset(f, 0, sizeof *f);
	thrift_r_init(&cx.r, p, n);
	cx.budget = n * 64 + (1u << 20);
	cx.why = why;
	cx.whylen = whylen;
	cx.crc_text = NULL;
	why[0] = '\0';
	if (parse_filemeta(&cx, f) < 0) {
		pq_footer_free(f);
		return -1;
	}
	f->crc_text = cx.crc_text;
	return 0;
}

int pq_footer_verify(const uint8_t *p, size_t n, const struct pq_footer *f, char *why,
                     size_t whylen)
{
	const uint8_t *at = f->crc_text;
	uint32_t want = 0;
	if (!at)
		return 0;
	for (int i = 0; i < 8; i++) {
		int c = at[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0) {
			snprintf(why, whylen,
			         "footer checksum is not 8 hex digits: the footer is damaged");
			return -1;
		}
		want = want << 4 | (uint32_t)d;
	}
	size_t off = (size_t)(at - p);
	uint32_t crc = pq_crc32(0, p, off);
	crc = pq_crc32(crc, (const uint8_t *)"00000000", 8);
	crc = pq_crc32(crc, at + 8, n - off - 8);
	if (crc != want) {
		snprintf(why, whylen,
		         "footer checksum mismatch, the footer is damaged (CRC-32 %08x in its "
		         "key/value metadata, %08x over its %zu bytes)",
		         want, crc, n);
		return -1;
	}
	return 0;
}

void pq_footer_free(struct pq_footer *f)
{
	for (size_t i = 0; i < f->nel; i++)
		free((char *)(uintptr_t)f->el[i].name);
	free(f->el);
	for (int i = 0; i < f->nrg; i++)
		free(f->rg[i].cols);
	free(f->rg);
	for (size_t i = 0; i < f->nkv; i++) {
		free((char *)(uintptr_t)f->kv[i].key);
		free((char *)(uintptr_t)f->kv[i].value);
	}
	free(f->kv);
	free(f->created_by);
	free(f->orders);
	memset(f, 0, sizeof *f);
}

/* ---------------------------------------------------------- page headers */

/*
 * Fields of DataPageHeader (V1, sub 5), DictionaryPageHeader (sub 7) and
 * DataPageHeaderV2 (sub 8); *seen gets a bit per required field found.
 */
static int parse_page_sub(struct ctx *cx, int sub, struct pq_page_header *h, unsigned *seen)
{
	struct field_it it = {0};
	int rc;
	int32_t *v1[] = {NULL, &h->num_values, &h->encoding, &h->def_enc, &h->rep_enc};
	int32_t *v2[] = {NULL,         &h->num_values, &h->num_nulls, &h->num_rows,
	                 &h->encoding, &h->def_len,    &h->rep_len};
	int32_t *dict[] = {NULL, &h->dict_values, &h->dict_encoding};
	while ((rc = next_field(cx, &it)) > 0) {
		int32_t *dst = NULL;
		if (sub == 5 && it.id >= 1 && it.id <= 4)
			dst = v1[it.id];
		else if (sub == 8 && it.id >= 1 && it.id <= 6)
			dst = v2[it.id];
		else if (sub == 7 && it.id >= 1 && it.id <= 2)
			dst = dict[it.id];
		if (dst) {
			if (get_i32(cx, &it, dst) < 0)
				return -1;
			*seen |= 1u << it.id;
		} else if (sub == 8 && it.id == 7) {
			if (get_bool(cx, &it, &h->is_compressed) < 0)
				return -1;
		} else if (skip(cx, &it) < 0) {
			return -1;
		}
	}
	return rc;
}

int pq_page_header_parse(const uint8_t *p, size_t n, struct pq_page_header *h, size_t *used,
                         const char **why)
{
	char msg[128];
	struct ctx cx;
	struct field_it it = {0};
	unsigned seen = 0, sub_seen[9] = {0};
	int rc, sub_found = 0;
	memset(h, 0, sizeof *h);
	h->is_compressed = 1;
	thrift_r_init(&cx.r, p, n);
	cx.budget = 0;
	cx.why = msg;
	cx.whylen = sizeof msg;
	cx.crc_text = NULL;
	msg[0] = '\0';
	while ((rc = next_field(&cx, &it)) > 0) {
		if (it.id >= 1 && it.id <= 3) {
			int32_t *dst = it.id == 1 ? &h->type : it.id == 2 ? &h->unc : &h->comp;
			rc = get_i32(&cx, &it, dst);
			seen |= 1u << it.id;
		} else if (it.id == 4) {
			int32_t crc;
			rc = get_i32(&cx, &it, &crc);
			h->crc = (uint32_t)crc;
			h->has_crc = 1;
		} else if ((it.id == 5 || it.id == 7 || it.id == 8) && it.type == THRIFT_STRUCT) {
			rc = parse_page_sub(&cx, it.id, h, &sub_seen[it.id]);
			sub_found |= 1 << it.id;
		} else {
			rc = skip(&cx, &it);
		}
		if (rc < 0)
			break;
	}
	if (rc < 0) {
		*why = cx.r.err ? cx.r.err : "page header is corrupt";
		return -1;
	}
	if (seen != 14) {
		*why = "page header lacks a required field";
		return -1;
	}
	if (h->unc < 0 || h->comp < 0) {
		*why = "negative page size";
		return -1;
	}
	int sub = h->type == PQ_PAGE_DATA         ? 5
	          : h->type == PQ_PAGE_DICTIONARY ? 7
	          : h->type == PQ_PAGE_DATA_V2    ? 8
	                                          : 0;
	unsigned need = sub == 5 ? 30 : sub == 7 ? 6 : 126;
	if (sub && (!(sub_found & (1 << sub)) || (sub_seen[sub] & need) != need)) {
		*why = "page header lacks the header of its page type";
		return -1;
	}
	/*
	 * Only one page-specific header is set, that of the page's type.  A
	 * data or dictionary header on a page of another type (an index page,
	 * or one this reader does not know, which are skipped) means a damaged
	 * type, and skipping that page would shift the column's values.
	 */
	if (sub_found & ~(sub ? 1 << sub : 0)) {
		*why = "page header does not match its page type";
		return -1;
	}
	*used = (size_t)(cx.r.p - p);
	return 0;
}

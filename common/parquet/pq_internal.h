/*
 * pq_internal: what the Parquet writer and reader share and nobody else
 * sees: the schema's private side (levels and physical layout), the
 * parquet.thrift enumerations, and small helpers for statistics.
 *
 * A schema holds one struct pq_fieldx per logical field; the public
 * struct pq_field is its first member.  Once laid out (pq_schema_layout()
 * for a schema built by hand, the footer parser for one read from a file)
 * every field knows its definition and repetition levels and every leaf its
 * physical column.
 */
#ifndef STOCKETL_PQ_INTERNAL_H
#define STOCKETL_PQ_INTERNAL_H

#include "parquet/parquet.h"

/* parquet.thrift Type */
enum {
	PQ_PT_BOOLEAN = 0,
	PQ_PT_INT32 = 1,
	PQ_PT_INT64 = 2,
	PQ_PT_INT96 = 3,
	PQ_PT_FLOAT = 4,
	PQ_PT_DOUBLE = 5,
	PQ_PT_BYTE_ARRAY = 6,
	PQ_PT_FLBA = 7,
};

/* parquet.thrift ConvertedType */
enum {
	PQ_CT_UTF8 = 0,
	PQ_CT_MAP = 1,
	PQ_CT_MAP_KEY_VALUE = 2,
	PQ_CT_LIST = 3,
	PQ_CT_ENUM = 4,
	PQ_CT_DECIMAL = 5,
	PQ_CT_DATE = 6,
	PQ_CT_TIME_MILLIS = 7,
	PQ_CT_TIME_MICROS = 8,
	PQ_CT_TIMESTAMP_MILLIS = 9,
	PQ_CT_TIMESTAMP_MICROS = 10,
	PQ_CT_UINT_8 = 11,
	PQ_CT_UINT_16 = 12,
	PQ_CT_UINT_32 = 13,
	PQ_CT_UINT_64 = 14,
	PQ_CT_INT_8 = 15,
	PQ_CT_INT_16 = 16,
	PQ_CT_INT_32 = 17,
	PQ_CT_INT_64 = 18,
	PQ_CT_JSON = 19,
	PQ_CT_BSON = 20,
	PQ_CT_INTERVAL = 21,
};

/* LogicalType union members */
enum {
	PQ_LT_STRING = 1,
	PQ_LT_MAP = 2,
	PQ_LT_LIST = 3,
	PQ_LT_ENUM = 4,
	PQ_LT_DECIMAL = 5,
	PQ_LT_DATE = 6,
	PQ_LT_TIME = 7,
	PQ_LT_TIMESTAMP = 8,
	PQ_LT_INTEGER = 10,
	PQ_LT_UNKNOWN = 11,
	PQ_LT_JSON = 12,
	PQ_LT_BSON = 13,
	PQ_LT_UUID = 14,
	PQ_LT_FLOAT16 = 15,
};

/* PageType */
enum {
	PQ_PAGE_DATA = 0,
	PQ_PAGE_INDEX = 1,
	PQ_PAGE_DICTIONARY = 2,
	PQ_PAGE_DATA_V2 = 3,
};

/* How the reader turns a column's physical values into its logical kind. */
enum pq_conv {
	PQ_CONV_NONE,         /* already the right representation */
	PQ_CONV_U32,          /* unsigned INT32 to int64 */
	PQ_CONV_INT_TO_DEC,   /* INT32 or INT64 unscaled decimal to int128 */
	PQ_CONV_U64_TO_DEC,   /* unsigned INT64 to int128 */
	PQ_CONV_BYTES_TO_DEC, /* big-endian two's complement to int128 */
	PQ_CONV_MILLIS,       /* INT64 milliseconds to microseconds */
	PQ_CONV_NANOS,        /* INT64 nanoseconds to microseconds */
	PQ_CONV_INT96,        /* Impala/Spark INT96 timestamps to microseconds */
};

struct pq_fieldx {
	struct pq_field pub;
	char *name;
	int *kids;
	int cap;
	int dl;  /* definition level at which this field is present */
	int idl; /* lists and maps: definition level at which an item is present */
	int rl;  /* lists and maps: repetition level of the items; others: of the field */
};

struct pq_leaf {
	int field;
	int max_def, max_rep;
	int phys;        /* physical type */
	int type_length; /* FIXED_LEN_BYTE_ARRAY size */
	enum pq_conv conv;
	int element; /* reader: index of the schema element */
	char **path; /* path_in_schema */
	int npath;   /* the number of names in path_in_schema */
};

struct pq_schema {
	struct pq_fieldx *f;
	int nf, cap;
	int *leaf_of; /* leaf number -> field, kept as fields are added (capacity cap) */
	int nleaf;
	int frozen;             /* read from a file: no more fields */
	struct pq_leaf *leaves; /* after layout: levels and physical types */
	int nleaves;
};

static inline struct pq_fieldx *pq_fx(const struct pq_schema *s, int i)
{
	return &s->f[i];
}

/*
 * Writer side: check the schema is complete (every struct has fields, every
 * list one element, every map key and value) and compute levels, leaves
 * and the physical layout.  -1 and e filled when it is not.
 */
int pq_schema_layout(struct pq_schema *s, struct err_msg *e);
/* Deep copy (after layout). */
struct pq_schema *pq_schema_copy(const struct pq_schema *s);
/* Number the leaves in depth-first order (pq_schema_add() does it as it goes). */
void pq_schema_number_leaves(struct pq_schema *s);
/* Add a field without the checks of pq_schema_add() (the reader builds its schema so). */
int pq_schema_add_raw(struct pq_schema *s, int parent, const char *name, size_t namelen,
                      enum pq_type type, int optional);
/* Bytes of a FIXED_LEN_BYTE_ARRAY that holds any decimal of this precision. */
int pq_decimal_bytes(int precision);

/* ------------------------------------------------ the footer, as read */

struct pq_rawstats {
	int has_min, has_max, has_min_value, has_max_value, has_null_count;
	struct pq_bytes min, max, min_value, max_value; /* point into the footer bytes */
	int64_t null_count;
};

struct pq_colchunk {
	int type, codec;
	int encodings[16];
	int nencodings;
	int64_t num_values, total_unc, total_comp;
	int64_t data_off, dict_off; /* dict_off -1 when absent */
	int npath;
	struct pq_rawstats st;
};

struct pq_rowgroup {
	struct pq_colchunk *cols;
	int ncols;
	int64_t num_rows;
};

/*
 * The footer checksum, stocketl's own key/value entry: Parquet has no
 * checksum for its footer, where one changed byte can rename a column or
 * change a decimal's scale or a timestamp's unit without anything else
 * noticing.  Its value is the CRC-32 (8 lower-case hex digits) of the
 * FileMetaData bytes with those 8 digits read as "00000000", so that it
 * covers the whole footer, itself included.  Other readers ignore it.
 */
#define PQ_FOOTER_CRC_KEY "stocketl.footer.crc32"

struct pq_footer {
	struct pq_element *el;
	size_t nel;
	int64_t num_rows;
	struct pq_rowgroup *rg;
	int nrg;
	struct pq_kv *kv;
	size_t nkv;
	char *created_by;
	int *orders; /* per leaf: 1 type-defined order, 0 unknown */
	int norders;
	const uint8_t *crc_text; /* the 8 digits of PQ_FOOTER_CRC_KEY's value, or NULL */
};

/*
 * Decode a FileMetaData from p[0..n), which must outlive the result (the
 * statistics point into it).  Structural checks only: field presence and
 * value ranges; the reader checks sizes against the file.  Allocation is
 * bounded by a budget proportional to n.  -1 with *why (static text, or
 * why_buf filled) on failure.
 */
int pq_footer_parse(const uint8_t *p, size_t n, struct pq_footer *f, char *why, size_t whylen);
/*
 * Check the footer checksum of f, parsed from p[0..n): 0 when it matches or
 * the footer has none, -1 with why filled when the footer was damaged.
 */
int pq_footer_verify(const uint8_t *p, size_t n, const struct pq_footer *f, char *why,
                     size_t whylen);
void pq_footer_free(struct pq_footer *f);

struct pq_page_header {
	int type;
	int32_t unc, comp;
	int has_crc;  /* the header carries a CRC-32 of the page's bytes after it */
	uint32_t crc; /* (stored as an i32: the same 32 bits) */
	/* DATA_PAGE and DATA_PAGE_V2 */
	int32_t num_values, encoding;
	int32_t def_enc, rep_enc;                      /* V1 */
	int32_t num_nulls, num_rows, def_len, rep_len; /* V2 */
	int is_compressed;
	/* DICTIONARY_PAGE */
	int32_t dict_values, dict_encoding;
};

/* Decode a PageHeader at p (at most n bytes); *used gets its length. */
int pq_page_header_parse(const uint8_t *p, size_t n, struct pq_page_header *h, size_t *used,
                         const char **why);

/*
 * Order of two values of the same kind (see struct pq_stats); -1, 0 or 1.
 * NaN compares as neither below nor above anything: callers skip it.
 */
int pq_value_cmp(const struct pq_value *a, const struct pq_value *b);

/*
 * Statistics bounds shortened to at most max bytes, for a byte-array value
 * s[0..n) longer than that.  text: the column is a string, so that a bound
 * that is valid UTF-8 must stay so (parquet.thrift wants shortened values
 * to be values of the column's logical type); otherwise bytes are bytes.
 *
 * pq_bound_cut_min() returns the length of a prefix of s: max bytes, or
 * fewer so as not to split a character.  pq_bound_cut_max() writes to out
 * (max bytes) a value greater than every value beginning with s's first max
 * bytes: a prefix of s whose last character (byte, for binary) is
 * incremented, the characters that cannot be (U+10FFFF, or a 0xff byte)
 * dropped, a character that would grow past max bytes too; surrogates are
 * skipped.  It returns its length, or 0 when there is no such value (the
 * prefix is all U+10FFFF, or all 0xff): then no maximum can be written.
 * Text whose prefix is not valid UTF-8 is bounded byte-wise, as binary.
 */
size_t pq_bound_cut_min(const uint8_t *s, size_t n, size_t max, int text);
size_t pq_bound_cut_max(const uint8_t *s, size_t n, size_t max, int text, uint8_t *out);

#endif

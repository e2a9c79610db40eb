/*
 * parquet: reading and writing Apache Parquet files.
 *
 * Ownership, once for the whole module: an object returned by a *_new or
 * *_open function belongs to the caller, who releases it with the matching
 * *_free or *_close.  Pointers handed out by an object (schema fields and
 * names, statistics, rows, column batches, footer details) point into that
 * object: they stay valid until it is released or, for rows and column
 * batches, until the next read call on it.  Everything passed in (schemas,
 * names, byte strings, rows, option strings) is copied when it must be kept,
 * so the caller may reuse its own memory as soon as a call returns.
 *
 * Schemas are logical trees in Delta Lake's terms: primitive types, structs,
 * lists and maps.  The writer turns lists and maps into Parquet's standard
 * three-level groups (LIST: name { repeated group list { element } }, MAP:
 * name { repeated group key_value { key; value } }); the reader recognises
 * those and the older layouts (two-level lists, unannotated repeated fields)
 * and presents them as the same logical tree.
 *
 * Values in memory (struct pq_value, column batches, statistics) have one
 * representation per logical type, whatever the file stores:
 *
 *   boolean                          PQ_V_BOOL  int (0 or 1)
 *   byte, short, integer, date       PQ_V_I32   int32_t (dates: days since 1970-01-01)
 *   long, timestamp, timestamp_ntz   PQ_V_I64   int64_t (timestamps: microseconds since
 *                                               the epoch, also for INT96, millisecond
 *                                               and nanosecond columns)
 *   float / double                   PQ_V_F32 / PQ_V_F64
 *   string, binary                   PQ_V_BYTES struct pq_bytes (not NUL-terminated)
 *   decimal(p,s)                     PQ_V_DEC   pq_int128: the unscaled value
 *   struct                           PQ_V_STRUCT  items[0..n): the fields in schema order
 *   list                             PQ_V_LIST    items[0..n): the elements
 *   map                              PQ_V_MAP     items[0..2n): key, value, key, value...
 *   null (any optional type)         PQ_V_NULL
 *
 * Errors: functions that can fail return -1 (or NULL) and fill the struct
 * err_msg they were given with a message naming the file and, where there
 * is one, the row group, column and page; the status is EX_DATAERR for a
 * malformed, damaged (a page or footer whose checksum does not match) or
 * unsupported file, EX_IOERR for a file that cannot be opened ("path:
 * strerror") and a failed read or write, and EX_SOFTWARE for misuse of
 * the API or when memory runs out.  The writer keeps its error instead
 * (see pq_writer_error()), so that its per-value calls stay cheap.
 */
#ifndef STOCKETL_PARQUET_H
#define STOCKETL_PARQUET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"
#include "parquet/pq_buf.h"
#include "parquet/pq_codec.h"

typedef __int128 pq_int128;

/* Logical types (Delta Lake's primitive types and the three nested ones). */
enum pq_type {
	PQ_BOOLEAN,
	PQ_BYTE,
	PQ_SHORT,
	PQ_INT,
	PQ_LONG,
	PQ_FLOAT,
	PQ_DOUBLE,
	PQ_STRING,
	PQ_BINARY,
	PQ_DATE,
	PQ_TIMESTAMP,     /* INT64 microseconds, isAdjustedToUTC = true */
	PQ_TIMESTAMP_NTZ, /* the same without time zone (isAdjustedToUTC = false) */
	PQ_DECIMAL,
	PQ_STRUCT,
	PQ_LIST,
	PQ_MAP,
};

/* The lower-case Delta name of a type ("long", "timestamp", "struct", ...). */
const char *pq_type_name(enum pq_type t);

/* ---------------------------------------------------------------- schema */

/* Field 0 of every schema is the root: a struct with no name whose children are the columns. */
#define PQ_ROOT 0

struct pq_field {
	const char *name;
	enum pq_type type;
	int optional;         /* 1: may be null */
	int precision, scale; /* decimals only */
	int parent;           /* field index; -1 for the root */
	int nchildren;        /* struct: fields; list: 1 (element); map: 2 (key, value) */
	const int *children;  /* field indices */
	int leaf;             /* leaf column number for primitive fields, -1 for the others */
	int field_id;         /* the file's SchemaElement.field_id, -1 when absent */
};

struct pq_schema;

struct pq_schema *pq_schema_new(void);
void pq_schema_free(struct pq_schema *s);
/*
 * Add a field under parent (PQ_ROOT, a struct, a list or a map) and return
 * its index, or -1 (a bad parent, a list with a second child, a map with a
 * third, a map key that is optional or nested, a name already used,
 * or no memory).  A list gets one child, its element; a map two, key then
 * value.  Decimals are added with pq_schema_add_decimal(): precision 1..38,
 * scale 0..precision.
 */
int pq_schema_add(struct pq_schema *s, int parent, const char *name, enum pq_type type,
                  int optional);
int pq_schema_add_decimal(struct pq_schema *s, int parent, const char *name, int precision,
                          int scale, int optional);
/* Give field i (not the root) the SchemaElement.field_id id (>= 0) that writers put in the footer. */
int pq_schema_set_field_id(struct pq_schema *s, int i, int id);
int pq_schema_nfields(const struct pq_schema *s);
/* A field by index, or NULL; the pointer is valid until the next pq_schema_add*(). */
const struct pq_field *pq_schema_field(const struct pq_schema *s, int i);
/* Leaf columns, numbered in depth-first schema order (the order of column chunks). */
int pq_schema_nleaves(const struct pq_schema *s);
int pq_schema_leaf_field(const struct pq_schema *s, int leaf);
/* The child of parent called name, or -1. */
int pq_schema_child(const struct pq_schema *s, int parent, const char *name);
/*
 * The field at a dotted path from the root ("add.partitionValues",
 * "metaData.format.provider"), or -1.  List elements and map keys and values
 * are reached by their names ("partitionColumns.element").  A name that
 * holds dots is found too ("a.b" at the root, when no struct a has a b).
 */
int pq_schema_find(const struct pq_schema *s, const char *path);
/* Write the dotted path of a field into out (size n); returns its length (may be >= n). */
size_t pq_schema_path(const struct pq_schema *s, int field, char *out, size_t n);

/* ---------------------------------------------------------------- values */

enum pq_vkind {
	PQ_V_NULL,
	PQ_V_BOOL,
	PQ_V_I32,
	PQ_V_I64,
	PQ_V_F32,
	PQ_V_F64,
	PQ_V_BYTES,
	PQ_V_DEC,
	PQ_V_STRUCT,
	PQ_V_LIST,
	PQ_V_MAP,
};

struct pq_value {
	enum pq_vkind kind;
	uint32_t n; /* struct fields, list elements or map entries */
	union {
		int b;
		int32_t i32;
		int64_t i64;
		float f32;
		double f64;
		struct pq_bytes bytes;
		pq_int128 dec;
		struct pq_value *items;
	};
};

/* The value kind that holds a type (see the table at the top). */
enum pq_vkind pq_type_kind(enum pq_type t);

/*
 * Statistics of one column (a leaf): for a column chunk from a file footer,
 * or for a whole written file.  num_values counts level entries (rows, for a
 * column that is not inside a list or map) and null_count the entries
 * without a value; null_count is -1 when a file does not say.  min and max
 * (when has_min_max) are values of the column's kind, in the column's order:
 * signed for integers, decimals, dates and timestamps, unsigned bytewise for
 * strings and binary, false before true, and numeric for floating point.
 * A floating-point column that holds NaN has no bounds (readers disagree on
 * where NaN sorts, so none would be safe).
 */
struct pq_stats {
	int64_t num_values;
	int64_t null_count;
	int has_min_max;
	struct pq_value min, max;
};

/* Key/value metadata of a file footer. */
struct pq_kv {
	const char *key;
	const char *value; /* may be NULL */
};

/* --------------------------------------------------------------- writing */

/* Page encodings, as numbered in parquet.thrift; PQ_ENC_AUTO lets the writer choose. */
enum pq_encoding {
	PQ_ENC_AUTO = -1,
	PQ_ENC_PLAIN = 0,
	PQ_ENC_PLAIN_DICTIONARY = 2,
	PQ_ENC_RLE = 3,
	PQ_ENC_BIT_PACKED = 4,
	PQ_ENC_DELTA_BINARY_PACKED = 5,
	PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
	PQ_ENC_DELTA_BYTE_ARRAY = 7,
	PQ_ENC_RLE_DICTIONARY = 8,
	PQ_ENC_BYTE_STREAM_SPLIT = 9,
};

/* The encoding's name as parquet.thrift spells it, or NULL. */
const char *pq_encoding_name(int encoding);

struct pq_write_options {
	int64_t row_group_rows; /* rows per row group (default 1048576) */
	size_t page_bytes;      /* page size before encoding and compression (default 1 MiB) */
	int compression;        /* PQ_ZSTD (default), PQ_SNAPPY, PQ_GZIP or PQ_UNCOMPRESSED */
	int zstd_level;         /* default 1 (on ticks as small as 3, and a third faster) */
	int page_version;       /* data page format: 1 (default) or 2 */
	size_t dict_max_bytes;  /* dictionary size at which a column falls back (default 1 MiB) */
	int sync;               /* 1: fsync the file before pq_writer_close() returns */
	int no_crc;             /* 1: leave out the checksums written by default, the
	                           CRC-32 of every page and of the footer (for
	                           measuring what they cost) */
	int threads;            /* threads that encode and compress pages, the caller's
	                           included: 1 for none besides it (default 0: one
	                           worker per processor, started only when a page
	                           fills up before the end of a row group) */
	const struct pq_kv *kv; /* key/value metadata for the footer */
	size_t nkv;
	struct pq_codec *codec; /* compression contexts to reuse across writers (optional) */
};

/* Fill o with the defaults above. */
void pq_write_options_init(struct pq_write_options *o);

struct pq_writer;

/*
 * Start a file at path (created or truncated, mode 0644) or on an open file
 * descriptor (positioned at offset 0 of an empty file; the writer never
 * closes it) named name in messages.  The schema is copied.  NULL and e
 * filled on failure.
 */
struct pq_writer *pq_writer_open(const char *path, const struct pq_schema *s,
                                 const struct pq_write_options *o, struct err_msg *e);
struct pq_writer *pq_writer_open_fd(int fd, const char *name, const struct pq_schema *s,
                                    const struct pq_write_options *o, struct err_msg *e);
/*
 * Force a leaf's encoding instead of the writer's choice (before any value):
 * PLAIN, RLE_DICTIONARY (falls back to PLAIN when the dictionary grows past
 * dict_max_bytes), DELTA_BINARY_PACKED (int, long and the types stored in
 * them), DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY (string, binary;
 * DELTA_BYTE_ARRAY also decimals over 18 digits), BYTE_STREAM_SPLIT (float,
 * double, and the fixed-size ints) or RLE (boolean).  -1 when the encoding
 * does not suit the column.
 */
int pq_writer_set_encoding(struct pq_writer *w, int leaf, int encoding);
/*
 * The encoding the writer chose for the last finished column chunk of a
 * leaf (the one its first data page used; PQ_ENC_AUTO before any chunk
 * ended).  Writers of many similar small files decide once and force the
 * choice on the next files with pq_writer_set_encoding(), which skips the
 * trial encodings of each new chunk.
 */
int pq_writer_chunk_encoding(const struct pq_writer *w, int leaf);
/* The writer's first error; once it has one, every call fails. */
const struct err_msg *pq_writer_error(const struct pq_writer *w);

/*
 * Rows one value at a time, for columns that are not inside a struct, list
 * or map (named by their leaf number: pq_schema_field()->leaf, the column's
 * position when no column is nested).  Give each column
 * one value (or null) and end the row.  The call must match the column's
 * value kind (see the table at the top); pq_writer_put_i64() is also
 * accepted for decimals of precision up to 18.  Values out of their type's
 * range (a byte outside -128..127, a decimal with more digits than its
 * precision) are errors, as is a null in a required column.
 */
int pq_writer_put_null(struct pq_writer *w, int leaf);
int pq_writer_put_bool(struct pq_writer *w, int leaf, int v);
int pq_writer_put_i32(struct pq_writer *w, int leaf, int32_t v);
int pq_writer_put_i64(struct pq_writer *w, int leaf, int64_t v);
int pq_writer_put_f32(struct pq_writer *w, int leaf, float v);
int pq_writer_put_f64(struct pq_writer *w, int leaf, double v);
int pq_writer_put_bytes(struct pq_writer *w, int leaf, const void *p, size_t n);
int pq_writer_put_dec(struct pq_writer *w, int leaf, pq_int128 v);
/* End a row (or a batch, below): every column must have the same number of rows. */
int pq_writer_end_row(struct pq_writer *w);

/*
 * Columns in batches: append n values to one column; valid (NULL when all
 * are present) marks with 0 the rows that are null, whose values are
 * ignored.  Give every column the same number of rows, then call
 * pq_writer_end_row() once.  Row groups end at the first such point at or
 * past row_group_rows, so batches should be small next to a row group.
 */
int pq_writer_write_bool(struct pq_writer *w, int leaf, const uint8_t *v, const uint8_t *valid,
                         size_t n);
int pq_writer_write_i32(struct pq_writer *w, int leaf, const int32_t *v, const uint8_t *valid,
                        size_t n);
int pq_writer_write_i64(struct pq_writer *w, int leaf, const int64_t *v, const uint8_t *valid,
                        size_t n);
int pq_writer_write_f32(struct pq_writer *w, int leaf, const float *v, const uint8_t *valid,
                        size_t n);
int pq_writer_write_f64(struct pq_writer *w, int leaf, const double *v, const uint8_t *valid,
                        size_t n);
int pq_writer_write_bytes(struct pq_writer *w, int leaf, const struct pq_bytes *v,
                          const uint8_t *valid, size_t n);
int pq_writer_write_dec(struct pq_writer *w, int leaf, const pq_int128 *v, const uint8_t *valid,
                        size_t n);

/*
 * A whole row as a value tree, for any schema (structs, lists, maps): row is
 * a PQ_V_STRUCT with one item per top-level column.  Each value's kind must
 * match its field (PQ_V_NULL for a null; PQ_V_I64 is also accepted for
 * decimals up to 18 digits); a map's keys may not be null.
 */
int pq_writer_write_row(struct pq_writer *w, const struct pq_value *row);

/*
 * Finish the file: the last row group, the footer, and (with sync) fsync.
 * Then the statistics below are available.  A file that is freed without a
 * successful close is incomplete: remove it.
 */
int pq_writer_close(struct pq_writer *w);
/* Rows written so far, and the file's size after pq_writer_close(). */
int64_t pq_writer_rows(const struct pq_writer *w);
uint64_t pq_writer_bytes(const struct pq_writer *w);
/* Whole-file statistics of a leaf, after pq_writer_close(); -1 before. */
int pq_writer_stats(const struct pq_writer *w, int leaf, struct pq_stats *st);
void pq_writer_free(struct pq_writer *w);

/* --------------------------------------------------------------- reading */

struct pq_read_options {
	size_t max_footer_bytes; /* default 256 MiB */
	size_t max_page_bytes;   /* decompressed page size (default 1 GiB) */
	size_t max_page_values;  /* level entries in one page (default 16 Mi) */
	/*
	 * Decompression contexts for pq_column_open() to share (optional, owned
	 * by the caller): creating them per column chunk costs more than small
	 * chunks take to decode, but columns sharing them are read by one thread.
	 * Given, they also serve the reader's rows and pq_column_verify() in
	 * place of the reader's own.
	 */
	struct pq_codec *codec;
	/*
	 * Pages and footers that carry a checksum (PageHeader.crc; stocketl's
	 * footer checksum) are verified, and a mismatch is an error: the file
	 * was damaged.  1 skips that, for fuzzing the decoders behind it.
	 */
	int skip_crc;
};

struct pq_reader;

/*
 * Open a file by path, or parse one held in memory (which must outlive the
 * reader); name is used in messages.  The footer is read and checked: sizes
 * and offsets inside the file, a schema that makes sense, types this reader
 * can convert.  o may be NULL for the defaults.
 */
struct pq_reader *pq_reader_open(const char *path, const struct pq_read_options *o,
                                 struct err_msg *e);
struct pq_reader *pq_reader_open_mem(const void *data, size_t len, const char *name,
                                     const struct pq_read_options *o, struct err_msg *e);
void pq_reader_close(struct pq_reader *r);

const struct pq_schema *pq_reader_schema(const struct pq_reader *r);
int64_t pq_reader_num_rows(const struct pq_reader *r);
int pq_reader_num_row_groups(const struct pq_reader *r);
int64_t pq_reader_row_group_rows(const struct pq_reader *r, int rg);
const char *pq_reader_created_by(const struct pq_reader *r); /* NULL when absent */
/*
 * 1 when the footer carried a checksum and it matched (the files stocketl
 * writes, unless written with no_crc), 0 otherwise, also with skip_crc.
 */
int pq_reader_checksummed(const struct pq_reader *r);
size_t pq_reader_num_kv(const struct pq_reader *r);
const struct pq_kv *pq_reader_kv(const struct pq_reader *r, size_t i);
/*
 * Footer statistics of a column chunk, decoded to typed values.  Bounds are
 * given only when the file's column order says they can be trusted (the
 * deprecated signed min/max only for integer-backed columns).  Returns 0, or
 * -1 when rg or leaf is out of range.
 */
int pq_reader_stats(const struct pq_reader *r, int rg, int leaf, struct pq_stats *st);

/* Footer details, for tools that show them (parquet-cat --meta). */
struct pq_element { /* one SchemaElement */
	const char *name;
	int type;           /* physical type (parquet.thrift Type), -1 for groups */
	int type_length;    /* -1 when absent */
	int repetition;     /* 0 required, 1 optional, 2 repeated, -1 when absent (the root) */
	int num_children;   /* -1 for leaves */
	int converted_type; /* -1 when absent */
	int scale, precision, field_id; /* -1 when absent */
	int logical;                    /* LogicalType union member id, 0 when absent */
	int logical_a, logical_b;       /* DECIMAL: scale, precision; TIME and TIMESTAMP:
				     isAdjustedToUTC, unit (1 ms, 2 us, 3 ns);
				     INTEGER: bit width, signed */
};
size_t pq_reader_num_elements(const struct pq_reader *r);
const struct pq_element *pq_reader_element(const struct pq_reader *r, size_t i);

struct pq_chunk_info {
	int type; /* physical type */
	int codec;
	int encodings[16];
	int nencodings;
	int64_t num_values;
	int64_t total_compressed_size;
	int64_t total_uncompressed_size;
	int64_t data_page_offset;
	int64_t dictionary_page_offset; /* -1 when absent */
	int max_def, max_rep;
};
int pq_reader_chunk_info(const struct pq_reader *r, int rg, int leaf, struct pq_chunk_info *ci);
/* A leaf's path_in_schema, dotted ("add.partitionValues.key_value.key"), into out (size n). */
size_t pq_reader_column_path(const struct pq_reader *r, int leaf, char *out, size_t n);
/* The name of a physical type ("INT64", ...) or converted type ("UTF8", ...), or NULL. */
const char *pq_physical_name(int type);
const char *pq_converted_name(int converted);

/*
 * Choose what pq_reader_next_row() returns: the fields at the given dotted
 * paths (with everything below them), in schema order whatever the order
 * of paths.  Selecting "add.path" and "add.size" gives rows whose "add" is a
 * struct of just those two.  NULL (or n 0) selects everything, the default.
 * -1 and e filled when a path names no field.  Call before reading.
 */
int pq_reader_select(struct pq_reader *r, const char *const *paths, size_t n, struct err_msg *e);
/* 1 when the field is part of the rows pq_reader_next_row() returns. */
int pq_reader_selected(const struct pq_reader *r, int field);
/* Leave a row group out of pq_reader_next_row() (use 0), e.g. after looking at its statistics. */
void pq_reader_use_row_group(struct pq_reader *r, int rg, int use);
/*
 * The next row as a PQ_V_STRUCT of the selected top-level fields (each
 * projected the same way).  Returns 1 with *row set, 0 after the last row,
 * -1 on error.  The row stays valid until the next call.
 */
int pq_reader_next_row(struct pq_reader *r, const struct pq_value **row, struct err_msg *e);
/*
 * Skip the rows that pq_reader_next_row() would give with every selected
 * top-level field null, up to max of them: the number skipped (it stops
 * before the first row with a field set, or after the last row), or -1.
 * The rows are checked as reading them would check them, without being
 * assembled: for a file most of whose rows are null in the selected
 * columns (the rare actions of a Delta checkpoint).
 */
int64_t pq_reader_skip_null_rows(struct pq_reader *r, int64_t max, struct err_msg *e);

/*
 * The columnar reader: one leaf that is not inside a list or map, over one
 * row group.  pq_column_open() loads the column chunk and checks its pages'
 * checksums and value counts (NULL and e filled when one is damaged; so do
 * pq_reader_next_row() at each row group's first row).
 * pq_column_read() gives up to max rows (at least one while rows
 * remain; 0 at the end) as an array of the column's kind, with valid[i] 0
 * for a null (valid is NULL when every row in the batch has a value).  The
 * arrays stay valid until the next call.  Columns are independent: several
 * may be read at once, also from different threads (unless they share
 * pq_read_options.codec).
 */
struct pq_column;
struct pq_column_batch {
	size_t n;
	const uint8_t *valid;
	union {
		const uint8_t *b;
		const int32_t *i32;
		const int64_t *i64;
		const float *f32;
		const double *f64;
		const struct pq_bytes *bytes;
		const pq_int128 *dec;
	};
	/*
	 * The entries' definition levels (NULL when every entry has a value)
	 * and repetition levels (NULL for a leaf outside lists and maps), for
	 * readers that tell a null struct from a null field below it.
	 */
	const uint16_t *def, *rep;
};
struct pq_column *pq_column_open(struct pq_reader *r, int rg, int leaf, struct err_msg *e);
/*
 * The same for any leaf, also inside a list or map: pq_column_read() then
 * gives level entries (a list's elements, a map's keys or values, and the
 * entries of empty and null ones) rather than rows, with their levels.
 */
struct pq_column *pq_column_open_entries(struct pq_reader *r, int rg, int leaf, struct err_msg *e);
ssize_t pq_column_read(struct pq_column *c, struct pq_column_batch *b, size_t max,
                       struct err_msg *e);
void pq_column_close(struct pq_column *c);

/*
 * Check one column chunk (any leaf, also inside lists and maps) for what
 * reading it would refuse, without decoding what need not be: its pages'
 * checksums and value counts, then each page's header against what the
 * footer says of the chunk.  Pages whose checksum and header vouch for
 * them, in a file whose footer has a checksum too, are not decompressed
 * (zstd and snappy state their sizes); the others (no checksum, a
 * dictionary, V2 pages, a header that disagrees with the footer) are
 * decoded as pq_column_read() would.  A page is refused exactly when
 * decoding it would be; what only assembling rows can show (levels of
 * sibling columns that disagree, which checksummed files cannot hold
 * unnoticed) is left to reading rows.  Uses the reader's own
 * decompression contexts (pq_read_options.codec when given): not at the
 * same time as other reads of r.
 * 0, or -1 with e filled.
 */
int pq_column_verify(struct pq_reader *r, int rg, int leaf, struct err_msg *e);

#endif

/*
 * delta: Delta Lake tables as directories: the schema, values, the log and
 * snapshots (protocol 1/2, no table features).
 *
 * A table is a directory with a _delta_log/ of JSON commits and Parquet
 * checkpoints.  delta_snapshot_load() replays the log to a version:
 * the newest usable checkpoint at or below it (classic, multi-part or UUID-named;
 * _last_checkpoint is only a hint), then every JSON commit after it, which
 * must be contiguous up to the newest version in the log.  Every action is
 * parsed and checked; paths are URI-decoded once; unknown actions and
 * fields are ignored; what this code cannot read or write is refused by
 * delta_check_read()/delta_check_write() with the feature named.
 *
 * Commits are made by transactions (delta/delta_txn.h) through a commit
 * store (delta/delta_store.h); this header is what reading needs.
 *
 * Ownership: a snapshot owns everything it points to; delta_snapshot_free()
 * releases it.  Schemas likewise (delta_schema_free()).
 */
#ifndef STOCKETL_DELTA_H
#define STOCKETL_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/strmap.h"

#define DELTA_ENGINE                      "stocketl/" STOCKETL_VERSION
#define DELTA_DEFAULT_CHECKPOINT_INTERVAL 10

/* Schema -------------------------------------------------------------------- */

enum delta_type {
	DT_STRING = 1,
	DT_LONG,
	DT_INTEGER,
	DT_SHORT,
	DT_BYTE,
	DT_FLOAT,
	DT_DOUBLE,
	DT_BOOLEAN,
	DT_BINARY,
	DT_DATE,
	DT_TIMESTAMP,
	DT_TIMESTAMP_NTZ,
	DT_DECIMAL,
	DT_VOID,
	DT_STRUCT,
	DT_ARRAY,
	DT_MAP
};

/*
 * A column or nested field.  Structs have their fields in children;
 * arrays one child (the element, named "element"); maps two ("key",
 * "value").  For arrays and maps `nullable` of the child says whether
 * elements/values may be null (containsNull / valueContainsNull).
 */
struct delta_field {
	char *name;
	int type;
	int precision, scale; /* DT_DECIMAL */
	int nullable;
	char *metadata_json; /* the field's metadata object as JSON text ("{}" when empty) */
	/*
	 * Column mapping (delta_schema_map()): the field's physical name in
	 * data files, partition values and statistics (NULL: its name), and in
	 * mode id its delta.columnMapping.id, matched to the files' field ids
	 * (0: by name).
	 */
	char *phys;
	int64_t map_id;
	struct delta_field *children;
	size_t nchildren;
};

struct delta_schema {
	struct delta_field *fields;
	size_t n;
};

/* Parse Spark's schema JSON ({"type":"struct","fields":[...]}). */
int delta_schema_parse_json(const char *text, size_t len, struct delta_schema *s,
                            struct err_msg *e);
/*
 * Parse a schema file: Spark's schema JSON, or a column list with one
 * "name type [not null]" per line ('#' comments; types as in Delta:
 * string long integer short byte float double boolean binary date
 * timestamp decimal(p,s); aliases bigint int smallint tinyint).
 * EX_IOERR when the file cannot be read, EX_DATAERR when it is malformed.
 */
int delta_schema_parse_file(const char *path, struct delta_schema *s, struct err_msg *e);
/* Spark's schema JSON for s (the metaData.schemaString). */
int delta_schema_to_json(const struct delta_schema *s, struct buf *out);
void delta_schema_free(struct delta_schema *s);
/* Same names (case-sensitive), types, nullability and order. */
int delta_schema_equal(const struct delta_schema *a, const struct delta_schema *b);
/* The top-level column named name, or NULL. */
const struct delta_field *delta_schema_find(const struct delta_schema *s, const char *name);
/*
 * The top-level column a user names (delta-cat --columns and --where,
 * delta-compact --order-by): the one named name exactly, else the only one
 * that matches it ignoring case; NULL when none or several do.
 */
const struct delta_field *delta_schema_column(const struct delta_schema *s, const char *name);
/*
 * Column mapping mode ("none", "name" or "id": delta.columnMapping.mode):
 * give every field its physical name and, in mode id, its id, from its
 * metadata; mode "none" or NULL takes them off.  -1 (e set) for an unknown
 * mode or a field without them.
 */
int delta_schema_map(struct delta_schema *s, const char *mode, struct err_msg *e);
/*
 * Type widening: every change of type that a field's delta.typeChanges
 * records is one the readers convert (integers to wider integers, double
 * or decimal; float to double; date to timestamp_ntz; decimals to more
 * digits); -1 (e set, EX_DATAERR) naming the first that is not.
 */
int delta_schema_check_type_changes(const struct delta_schema *s, struct err_msg *e);
/* The name of field f in data files, partition values and statistics. */
static inline const char *delta_field_file_name(const struct delta_field *f)
{
	return f->phys ? f->phys : f->name;
}
/* "long", "decimal(18,6)", "struct", ... */
int delta_field_type_name(const struct delta_field *f, char *out, size_t cap);
int delta_type_is_primitive(int type);

/* Values ------------------------------------------------------------------------ */

/*
 * One value of a primitive column in memory: integers, dates (days) and
 * timestamps (microseconds) in i, floats in d, decimals unscaled in dec,
 * strings and binary as bytes s[0..n) (not owned).
 */
struct delta_cell {
	int null;
	int64_t i;
	double d;
	__int128 dec;
	const char *s;
	size_t n;
};

struct rec_field;
/*
 * Convert a JSON record field (NULL when absent) to a cell of column f's
 * type.  Strings are unescaped into scratch (the cell points into it, so
 * use one scratch buffer per cell).  Errors name the column and say what was
 * expected; a null in a non-nullable column is one.
 */
int delta_cell_from_json(const struct delta_field *f, const struct rec_field *rf,
                         struct delta_cell *c, struct buf *scratch, struct err_msg *e);
/* Append the JSON text of a cell of column f (null when c->null). */
int delta_cell_to_json(const struct delta_field *f, const struct delta_cell *c, struct buf *out);
/*
 * Partition values are strings in the log: the text of a cell
 * (dates YYYY-MM-DD, timestamps 2024-01-01T10:00:00.000000Z, decimals at
 * their scale, booleans true/false, strings and binary values their
 * bytes), and back.  An empty string or a missing value is null.
 * delta_partition_text() is -1 for a type that has no partition text
 * (nested types); delta_partition_bytes() tells the types whose text is
 * their bytes (an empty one is null, and none can hold a NUL).
 */
int delta_partition_text(const struct delta_field *f, const struct delta_cell *c, struct buf *out);
int delta_partition_bytes(const struct delta_field *f);
int delta_partition_parse(const struct delta_field *f, const char *text, struct delta_cell *c,
                          struct buf *scratch, struct err_msg *e);
/* Compare two non-null cells of column f's type: <0, 0, >0 (strings bytewise). */
int delta_cell_cmp(const struct delta_field *f, const struct delta_cell *a,
                   const struct delta_cell *b);

/* Log actions ---------------------------------------------------------------- */

/* A string map (partition values, configuration); a value may be NULL (JSON null). */
struct delta_kv {
	char *key;
	char *value;
};

struct delta_map {
	struct delta_kv *kv;
	size_t n;
};

const char *delta_map_get(const struct delta_map *m, const char *key, int *found);

struct delta_protocol {
	int min_reader;
	int min_writer;
	char **reader_features; /* NULL when absent */
	size_t n_reader_features;
	char **writer_features;
	size_t n_writer_features;
};

struct delta_metadata {
	char *id;
	char *name;
	char *description;
	char *provider;
	struct delta_map format_options;
	char *schema_string;
	struct delta_schema schema;
	char **partition_columns;
	size_t n_partition_columns;
	struct delta_map configuration;
	int64_t created_time; /* -1 when absent */
};

/* A data file: live (from add) or a tombstone (from remove). */
struct delta_file {
	char *path;     /* decoded: relative to the table root, as on storage */
	char *raw_path; /* as written in the log */
	struct delta_map partition_values;
	int64_t size;
	int64_t modification_time;
	int data_change;
	char *stats;                /* JSON text, or NULL */
	char *tags_json;            /* JSON text, or NULL */
	int64_t deletion_timestamp; /* tombstones; -1 when absent */
	int64_t version;            /* the version whose action put it here */
	int has_deletion_vector;
	char *dv_json; /* the deletionVector descriptor as JSON text, or NULL */
	char *dv_key;  /* a tombstone with a DV: its key, "<path>\x01<DV id>" (the logical file) */
	/*
	 * Row tracking (PROTOCOL.md, "Row Tracking"): the baseRowId and
	 * defaultRowCommitVersion of the add that put the file here, each
	 * when its has_ flag is set.
	 */
	int64_t base_row_id, default_row_commit_version;
	unsigned char has_base_row_id, has_row_commit_version;
	/*
	 * 1: the strings and the partition values live in f's own allocation
	 * (files read from a checkpoint, one malloc each): free f alone, with
	 * delta_file_free(), and never free or replace one of them.
	 */
	int one_block;
};

/*
 * Deletion vectors (delta_dv.c): the rows of a data file that the log
 * marks deleted, as their indexes in the file (from 0), ascending.
 */
struct delta_dv {
	uint64_t *rows;
	size_t n;
};
/*
 * Read the deletion vector of data file `file` (for messages) of the table
 * at root, given its descriptor (delta_file.dv_json): inline, or from its
 * file, whose checksum is verified.  -1 with e set: EX_DATAERR for a
 * malformed, damaged or missing DV, EX_IOERR when its file cannot be read.
 */
int delta_dv_read(const char *root, const char *file, const char *dv_json, struct delta_dv *dv,
                  struct err_msg *e);
/*
 * Check that dv, read from descriptor dv_json for data file `file` of the
 * table at root, marks only rows of that file, which holds rows rows: a row
 * index at or past rows means the vector is not the file's.  0, or -1 with
 * e set (EX_DATAERR) naming the file and where the vector is kept.
 */
int delta_dv_check_rows(const char *root, const char *file, const char *dv_json,
                        const struct delta_dv *dv, int64_t rows, struct err_msg *e);
/* The serialized bitmap (magic number, 64-bit portable Roaring) of cardinality rows. */
int delta_dv_parse(const uint8_t *p, size_t n, int64_t cardinality, struct delta_dv *dv,
                   const char **why);
void delta_dv_free(struct delta_dv *dv);
/* A DV's unique id, <storageType><pathOrInlineDv>[@offset] (files are keyed by path and it). */
int delta_dv_id(const char *dv_json, struct buf *out);
/*
 * The file a DV is kept in, into path: relative to the table's root
 * (<prefix>/deletion_vector_<uuid>.bin) or absolute; 1 for an inline DV
 * (no file), -1 for a malformed descriptor.
 */
int delta_dv_file(const char *dv_json, struct buf *path);
/* Are two descriptors (NULL: none) the same deletion vector? */
int delta_same_dv(const char *a, const char *b);
/* Z85 (ZeroMQ's Base85, as Delta uses it) text of n characters (a multiple of 5) onto out. */
int delta_z85_decode(const char *s, size_t n, struct buf *out);

/* A txn action (SetTransaction): the latest version of an application. */
struct delta_set_txn {
	char *app_id;
	int64_t version;
	int64_t last_updated; /* -1 when absent */
};

/* Snapshots ------------------------------------------------------------------ */

/* A metadata domain (domainMetadata action) of a snapshot: one not removed. */
struct delta_domain {
	char *domain;
	char *configuration;
};

struct delta_log_check;

struct delta_snapshot {
	char *root;
	int64_t version;
	/*
	 * Commit time of `version`, epoch ms: its file's modification time,
	 * or, loaded by timestamp, the commit time that chose it (the
	 * in-commit timestamp, or the file time made increasing).
	 */
	int64_t timestamp;
	/*
	 * The in-commit timestamp of version ict_version when this process
	 * committed it (0: not known), for the next commit's.
	 */
	int64_t ict, ict_version;
	int64_t checkpoint_version; /* the checkpoint replay started from, or -1 */
	struct delta_protocol protocol;
	struct delta_metadata meta;
	int has_protocol, has_meta;
	int no_files;             /* loaded without the file lists (struct delta_load_opts) */
	int no_tombstones;        /* loaded without the tombstones (struct delta_load_opts) */
	struct strmap files;      /* path -> struct delta_file, the live files */
	struct strmap tombstones; /* path -> struct delta_file */
	struct strmap txns;       /* app id -> struct delta_set_txn */
	struct strmap domains;    /* domain -> struct delta_domain, kept even without file lists */
	/*
	 * Set when replay had to leave a checkpoint aside (unreadable, wrong
	 * rows, counts that disagree with _last_checkpoint) and rebuilt the
	 * state another way: what happened, for the caller to warn about.
	 */
	int has_notice;
	struct err_msg notice;
	/* The listing that checks the log for gaps, still running (delta_load_opts.defer_check). */
	struct delta_log_check *pending;
};

struct delta_load_opts {
	int64_t version; /* -1: the latest */
	/*
	 * Epoch ms, -1: none; the latest version committed at or before it, by
	 * the commit times of PROTOCOL.md: in-commit timestamps where the
	 * table has them, else file times made increasing as Spark does.
	 */
	int64_t timestamp;
	/*
	 * Keep protocol, metadata and txns only: add and remove actions are
	 * still parsed and checked (a writer refuses a damaged log as a reader
	 * does) but not kept.
	 */
	int no_files;
	/*
	 * Latest version only: let the listing that proves the log has no gap
	 * after the snapshot finish in the background; delta_snapshot_check()
	 * waits for it.  Writers use it to overlap the listing with writing
	 * their data files.
	 */
	int defer_check;
	/*
	 * Keep the live files but not the tombstones: remove actions are
	 * parsed and checked, and take their file out of the live ones, but
	 * are not kept.  A table written every few minutes carries thousands
	 * of tombstones until their retention ends, which only checkpoints and
	 * VACUUM need; reading them cost a writer's cold start as much as the
	 * live files did.  A commit on such a snapshot that falls on a
	 * checkpoint loads the table whole first (delta_txn.h).
	 */
	int no_tombstones;
};

#define DELTA_LOAD_LATEST                                                                          \
	{                                                                                          \
		-1, -1, 0, 0, 0                                                                    \
	}

/*
 * Replay the log of the table at root to the version asked for.
 *
 * The start is the newest usable checkpoint at or below it (classic,
 * multi-part or UUID-named; _last_checkpoint is only a hint), then every JSON commit
 * after it.  Versions must be contiguous up to the newest one in the log,
 * whatever _last_checkpoint says: a gap is an error naming the missing
 * version.  A checkpoint that cannot be used (unreadable Parquet, a row
 * that is not a valid action, no protocol or metaData, a count that
 * disagrees with _last_checkpoint) is left aside for an older one or for
 * the JSON commits, when they are all present, and snap->notice says so;
 * only a state that cannot be rebuilt at all is an error.
 *
 * Errors: no table there, a missing version, a gap, malformed actions
 * (EX_DATAERR); I/O (EX_IOERR).
 */
int delta_snapshot_load(const char *root, const struct delta_load_opts *o,
                        struct delta_snapshot *snap, struct err_msg *e);
/*
 * The latest version of the log of the table at root committed at or
 * before at (epoch ms), by the commit times time travel goes by
 * (delta_load_opts.timestamp: in-commit timestamps from their enablement
 * on, else file times made increasing), as of the table's latest state
 * latest (loaded with or without its files).  Log cleanup's cutoff commit
 * (PROTOCOL.md, "Metadata Cleanup").  1 with *version set, 0 when no
 * version that can be read was committed by then, -1 with e set (a commit
 * without its in-commit timestamp, bad enablement properties: EX_DATAERR;
 * I/O: EX_IOERR).
 */
int delta_version_at(const char *root, const struct delta_snapshot *latest, int64_t at,
                     int64_t *version, struct err_msg *e);
/*
 * Wait for a deferred gap check (delta_load_opts.defer_check).  Returns 0
 * when the log has no gap after the snapshot (newer versions may exist:
 * other writers' commits, to be read in order after it),
 * DELTA_SNAPSHOT_STALE when the log moved on past the snapshot by way of a
 * newer checkpoint and the snapshot must be loaded again, -1 for a gap or
 * an error (e set).  Without a pending check it returns 0.
 */
#define DELTA_SNAPSHOT_STALE 1
int delta_snapshot_check(struct delta_snapshot *snap, struct err_msg *e);
/*
 * Let a deferred gap check finish now, keeping its verdict for
 * delta_snapshot_check(): for a writer about to flush its files, whose
 * syncfs would slow a listing that runs at the same time.
 */
void delta_snapshot_wait(struct delta_snapshot *snap);
void delta_snapshot_free(struct delta_snapshot *snap);
/* Refuse to read (delta_check_read) or write (delta_check_write) a table whose protocol,
 * features or columns this code does not support, naming what it found. */
int delta_check_read(const struct delta_snapshot *snap, struct err_msg *e);
int delta_check_write(const struct delta_snapshot *snap, struct err_msg *e);
/* The table property key (configuration), or def. */
const char *delta_property(const struct delta_snapshot *snap, const char *key, const char *def);
/*
 * The column mapping mode that reads and writes snap's files: its
 * delta.columnMapping.mode where the protocol has column mapping (reader
 * version 2, or 3 with the columnMapping feature), else "none".
 */
const char *delta_column_mapping_mode(const struct delta_snapshot *snap);
/*
 * delta.appendOnly=true: commits may add data but never remove it (a
 * remove with dataChange true is refused by delta_txn_commit(); a
 * rearrangement such as OPTIMIZE, dataChange false, is allowed).
 */
int delta_append_only(const struct delta_snapshot *snap);
/* The configuration of a metadata domain of snap, or NULL when it has none. */
const char *delta_domain_config(const struct delta_snapshot *snap, const char *domain);
/*
 * Row tracking in snap (PROTOCOL.md, "Row Tracking"): 0 when writers
 * assign no row ids (the writer feature rowTracking is not listed, or
 * delta.rowTrackingSuspended is true), 1 when they must (the feature is
 * listed), 2 when it is also enabled (delta.enableRowTracking is true).
 */
int delta_row_tracking(const struct delta_snapshot *snap);
/* The rowIdHighWaterMark of snap's delta.rowTracking domain, or -1 when it has none. */
int64_t delta_row_id_high_water_mark(const struct delta_snapshot *snap);

/*
 * delta.enableChangeDataFeed=true: a commit that updates or deletes rows
 * must carry the change data files of its changes (cdc actions).  Commits
 * that only add rows, or only rearrange them (dataChange false), need
 * none (PROTOCOL.md, "Change Data Files"), so appends and compaction
 * write such a table as any other; the writers that would update rows
 * (upserts) refuse it.
 */
int delta_change_data_feed(const struct delta_snapshot *snap);
int64_t delta_checkpoint_interval(const struct delta_snapshot *snap);
/*
 * The latest version of the log (-1 if it has none), after checking that
 * the versions are contiguous from where the state can be rebuilt (a
 * checkpoint, or version 0) up to the newest one: a gap is -2 with e set
 * (EX_DATAERR) naming the missing version, as are I/O errors (EX_IOERR).
 */
int64_t delta_latest_version(const char *root, struct err_msg *e);
/* The txn version of application app in the snapshot, or -1. */
int64_t delta_txn_version(const struct delta_snapshot *snap, const char *app);

/*
 * Apply the actions of one commit file (NDJSON text) at version v to the
 * snapshot.  Every line must be a valid action, add and remove included.
 */
int delta_snapshot_apply(struct delta_snapshot *snap, int64_t v, const char *text, size_t len,
                         struct err_msg *e);

/*
 * Put a file action into the snapshot (taking ownership of f, which must be
 * malloc'ed with its strings, or in one block): an add makes it live, a
 * remove a tombstone.
 * For readers of checkpoints that build files without going through JSON.
 */
int delta_snapshot_put_file(struct delta_snapshot *snap, struct delta_file *f, int is_add,
                            struct err_msg *e);
void delta_file_free(struct delta_file *f);

/*
 * The _last_checkpoint pointer: version, and the counts it may carry
 * (-1 when absent): size (actions, a V2 checkpoint's sidecars' included),
 * numOfAddFiles, parts; and, for a UUID-named checkpoint, its name in
 * _delta_log from v2Checkpoint.path ("" when absent or not such a name
 * of that version).  Parsing accepts the keys Spark and delta-rs wrote;
 * 0, or -1 when the text is not a usable pointer, which includes one with
 * a "checksum" that is not the MD5 of its canonical form (PROTOCOL.md,
 * "JSON checksum"; a pointer without one is taken as it is).
 */
struct delta_last_checkpoint {
	int64_t version;
	int64_t size;
	int64_t add_files;
	int64_t parts;
	char v2_name[128];
};
int delta_last_checkpoint_parse(const char *text, size_t len, struct delta_last_checkpoint *lc);

/*
 * A Delta duration property ("interval 7 days", "interval 1 week"; units
 * millisecond to week, singular or plural) in milliseconds.  0, or -1 when
 * the text is not one or the value does not fit 64 bits.
 */
int delta_interval_ms(const char *text, int64_t *ms);

/*
 * Checkpoints (delta_checkpoint.c).
 *
 * delta_checkpoint_load() reads a checkpoint of version into snap, whose
 * root is set: the classic one (in `parts` files) when name is NULL, else
 * the UUID-named one called name in _delta_log (JSON or Parquet).  A V2
 * spec checkpoint (any UUID-named one; a classic one with a
 * checkpointMetadata row) must hold exactly one checkpointMetadata of
 * that version, be in a table with the v2Checkpoint feature, and has its
 * add and remove actions either in itself or all in the sidecar files its
 * sidecar actions name (under _delta_log/_sidecars), which are read too.
 * Every row it keeps is checked and, when lc is not NULL (the
 * _last_checkpoint that names this checkpoint), the counts it gives.
 * Errors are EX_DATAERR for a checkpoint that cannot be used (a missing
 * sidecar among them, named), EX_IOERR for I/O.
 *
 * delta_checkpoint_write() writes the checkpoint of snap->version (which
 * must hold the file lists) and then _last_checkpoint, both through
 * temporary names that a failure removes; _last_checkpoint carries the
 * checksum that readers verify.  _last_checkpoint never moves
 * backwards: writers of two checkpoints at once leave the newer one named.
 */
int delta_checkpoint_load(struct delta_snapshot *snap, int64_t version, int parts, const char *name,
                          const struct delta_last_checkpoint *lc, struct err_msg *e);
int delta_checkpoint_write(const struct delta_snapshot *snap, struct err_msg *e);
/*
 * The sidecar files a checkpoint of version names (file: its name in
 * _delta_log, JSON or Parquet), each by its file name in
 * _delta_log/_sidecars, to fn; what log cleanup must keep.  The checkpoint
 * is read as a writer reads it (its add and remove actions checked, not
 * kept).  0, or -1 with e set (fn returning -1 is out of memory).
 */
int delta_checkpoint_sidecars(const char *root, int64_t version, const char *file,
                              int (*fn)(void *arg, const char *name), void *arg, struct err_msg *e);
/* The tombstones a checkpoint of snap keeps: those within delta.deletedFileRetentionDuration. */
size_t delta_checkpoint_tombstones(const struct delta_snapshot *snap);

/*
 * add.stats (delta_stats.c): the statistics JSON of a finished data file of
 * a table with this schema and these partition columns, from its Parquet
 * writer (whose columns are the table's data columns in schema order,
 * partition columns left out): numRecords, then minValues and maxValues of
 * the first stats_cols data columns (-1: all; a struct's fields count one
 * each, an array or a map one) as Spark writes them, and nullCount of every
 * column.  A struct's statistics are an object of its fields'; an array or
 * a map has no bounds, and its null count is col_nulls[i] (i its index in
 * the schema; col_nulls may be NULL for a table without them, and an array
 * or map inside a struct has none).  -1 when out of memory.
 * delta_stats_columns() is the table's delta.dataSkippingNumIndexedCols
 * (32 by default).
 */
struct pq_writer;
int delta_stats_json(const struct delta_schema *schema, char *const *parts, size_t nparts,
                     int64_t stats_cols, struct pq_writer *w, int64_t rows,
                     const int64_t *col_nulls, struct buf *out);
int64_t delta_stats_columns(const struct delta_snapshot *snap);

/* Commits ------------------------------------------------------------------ */

/*
 * Read the commit file of version v into out: 0, 1 if it does not exist,
 * -1 on error (EX_DATAERR for a commit without a single action, which is
 * damaged: empty, or nothing but blank lines).  Commits are written through a commit store
 * (delta/delta_store.h), by a transaction (delta/delta_txn.h).
 */
int delta_commit_read(const char *root, int64_t v, struct buf *out, struct err_msg *e);

/* Paths -------------------------------------------------------------------------- */

struct config;
/*
 * Where TABLE is: a path when it contains '/' or starts with '.', else a
 * name under the lake root ($STOCKETL_LAKE, else [storage] lake, else
 * ./lake).  Names are letters, digits, '_', '-' and '.'.
 */
int delta_resolve_table(const struct config *c, const char *table, struct buf *out,
                        struct err_msg *e);

/* "<root>/_delta_log/<20-digit v>.json"; -1 (errno ENAMETOOLONG) when it does not fit in cap. */
int delta_commit_path(const char *root, int64_t v, char *out, size_t cap);
/* URI-decode s (%XX) into out; -1 on a malformed escape. */
int delta_uri_decode(const char *s, struct buf *out);
/* URI-encode a relative path for add.path (keeps A-Z a-z 0-9 - . _ ~ / = +). */
int delta_uri_encode(const char *s, struct buf *out);
/* Hive-escape a partition column name or value for a directory name. */
int delta_hive_escape(const char *s, struct buf *out);
/* mkdir -p: create path and its missing parents (mode 0755). 0, or -1 with errno. */
int delta_mkdirs(const char *path);
/* A random (version 4) UUID, 36 characters plus NUL. */
void delta_uuid(char out[37]);

#endif

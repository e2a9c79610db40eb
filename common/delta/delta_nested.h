/*
 * delta_nested: values of struct, array and map columns carried in cells.
 *
 * The programs move rows as arrays of struct delta_cell: a writer buffers
 * them, an upsert keeps them in its batch, a compaction copies them from
 * the files it reads.  A cell of a nested column holds the whole value as
 * bytes (c->s, c->n), encoded in a layout of this module that lives only in
 * memory (never in a file or a pipe): every value is a tag byte (0 null, 1
 * present) followed, when present, by its payload in the host's byte order:
 *
 *   boolean                                 1 byte (0 or 1)
 *   byte, short, integer, date              int32_t
 *   long, timestamp, timestamp_ntz          int64_t
 *   float / double                          float / double
 *   decimal                                 __int128 (the unscaled value)
 *   string, binary                          uint32_t length, then the bytes
 *   struct                                  each field's value, in schema order
 *   array                                   uint32_t count, then the elements
 *   map                                     uint32_t count, then key, value, key, value...
 *
 * So the rest of a program handles a nested cell as it handles a string.
 * The values come from record JSON (delta-append), from the value trees of
 * the Parquet reader (the files an upsert or a compaction rewrites), and go
 * to the Parquet writer as value trees and to JSON.
 */
#ifndef STOCKETL_DELTA_NESTED_H
#define STOCKETL_DELTA_NESTED_H

#include "delta/delta_rows.h"

/* A struct, array or map type. */
int delta_type_is_nested(int type);

/*
 * Encode the JSON text of a value of nested field f (an object for a
 * struct, an array for an array; a map is an object whose member names are
 * its keys, or an array of {"key": ..., "value": ...} objects, the form
 * delta-cat prints for keys that are not strings) onto out.  Members of a
 * struct match its fields by name; a missing field is null, an unknown or
 * repeated one an error, as is a null where the type allows none or a
 * repeated map key.  Primitive values are read as record fields are (see
 * delta_cell_from_json()).  -1 with e set (EX_DATAERR, the message naming
 * the field by its path: "quote.bid", "tags.element", "m.key").
 */
int delta_nested_from_json(const struct delta_field *f, const char *text, size_t n, struct buf *out,
                           struct err_msg *e);

/*
 * Encode a value tree of the Parquet reader, mapped onto field f's type by
 * np (struct delta_value's v and np; v NULL for null), onto out.  -1 when
 * out of memory.
 */
int delta_nested_from_tree(const struct delta_field *f, const struct delta_nplan *np,
                           const struct pq_value *v, struct buf *out);

/*
 * The cell of column f from a value of a row reader: the primitive cell as
 * it is, a nested value encoded into scratch (reset first; the cell points
 * into it, so use one scratch buffer per column).  -1 when out of memory.
 */
int delta_value_to_cell(const struct delta_field *f, const struct delta_value *v,
                        struct delta_cell *c, struct buf *scratch);

/* Append the JSON text of an encoded value of f (as delta-cat prints nested values). */
int delta_nested_to_json(const struct delta_field *f, const char *p, size_t n, struct buf *out);

/*
 * The encoded value of f as a value tree for the Parquet writer: the
 * number of tree nodes it takes (delta_nested_nodes()), then the tree
 * built into *root, its items taken from nodes (at least that many).
 * Strings point into p.  -1 when the encoding is damaged.
 */
size_t delta_nested_nodes(const struct delta_field *f, const char *p, size_t n);
int delta_nested_to_tree(const struct delta_field *f, const char *p, size_t n,
                         struct pq_value *root, struct pq_value *nodes);

#endif

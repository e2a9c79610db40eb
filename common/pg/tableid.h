/*
 * tableid: the identity of a table in the commit store, derived from where
 * its files are in the bucket: "s3://BUCKET/KEY", KEY being the table's
 * key prefix (no trailing slash).  Every host that mounts the bucket, at
 * whatever mount point and with whatever prefix mounted, derives the same
 * text for the same table; two tables, being at two keys, never share it.
 *
 * Why the location and not an identity file written in the table: the
 * identity is needed before version 0 exists, to claim version 0 itself,
 * and two writers creating one table at once would each write their own
 * identity file (s3fs has no atomic create, and its stat cache may hide
 * the other's file for up to stat_cache_expire).  The bucket and the key
 * are known without reading anything through s3fs, so no cache can make
 * two hosts disagree.  The S3 endpoint is left out on purpose: hosts reach
 * one service under different URLs (a container's "minio:9000", a host's
 * loopback port), and two services must therefore not share one database.
 *
 * How the bucket is found, for the mount that holds the path (the longest
 * mount point above it in /proc/self/mountinfo, of type fuse.s3fs or with
 * a source of the form below):
 *
 *  1. the mount's source, when it names the bucket: "s3fs#BUCKET" or
 *     "s3fs#BUCKET:/PREFIX" (mount with -o fsname=s3fs#BUCKET[:/PREFIX];
 *     `make up` and docker/ do) -- the only way when the s3fs process is
 *     not in this process namespace (a container given a host's mount);
 *  2. else the command line of the s3fs process that serves the mount
 *     (its BUCKET[:/PREFIX] argument or -o bucket=..., and its mount
 *     point), found under /proc.
 *
 * A bind mount of part of the bucket is followed back to its s3fs mount
 * (mountinfo's root field gives the part).
 */
#ifndef STOCKETL_PG_TABLEID_H
#define STOCKETL_PG_TABLEID_H

#include "base/buf.h"
#include "base/err.h"

/*
 * The identity of the table whose root directory is path (it need not
 * exist yet; its parent's mount decides).  Returns 1 with the identity in
 * out when path is on an s3fs mount; 0 (out empty) when it is not, where
 * the local store (link(2)) applies; -1 with e when it is on an s3fs mount
 * whose bucket cannot be found (EX_CONFIG, saying how to name it) or the
 * path or /proc cannot be read (EX_IOERR).
 */
int pg_table_identity(const char *path, struct buf *out, struct err_msg *e);

/*
 * The same, reading mountinfo from the file mountinfo and processes from
 * the directory proc (for tests: "/proc/self/mountinfo" and "/proc").
 */
int pg_table_identity_in(const char *path, const char *mountinfo, const char *proc, struct buf *out,
                         struct err_msg *e);

#endif

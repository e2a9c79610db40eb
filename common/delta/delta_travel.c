/*
 * delta_travel: the version a timestamp names (time travel by timestamp).
 *
 * A commit's time is its file's modification time, unless the table has
 * in-commit timestamps (PROTOCOL.md, "In-Commit Timestamps"): the writer
 * feature inCommitTimestamp in the protocol and
 * delta.enableInCommitTimestamps=true, as of the latest version.  Then it
 * is commitInfo.inCommitTimestamp, except for the versions below
 * delta.inCommitTimestampEnablementVersion when the feature was turned on
 * after version 0; a time at or after delta.inCommitTimestampEnablementTimestamp
 * is looked for among the versions from the enablement on, an earlier one
 * among those before it.
 *
 * File times are not kept in order by anything (a copy, a clock that went
 * back), so they are made increasing as Spark's DeltaHistoryManager does:
 * a commit whose time is not after the previous one's counts as that time
 * plus 1 ms.  The sequence starts at the oldest version whose state can be
 * rebuilt (version 0, or the oldest checkpoint that every later commit
 * follows): commits that log cleanup left below it are not readable and
 * take no part.  In-commit timestamps increase by the protocol's rule, so
 * they are searched by bisection, reading a few commits of a long log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "delta/delta.h"
#include "delta/delta_internal.h"
#include "text/json.h"
#include "text/ts.h"

/* Table property key as a non-negative integer: 1 with *out set, 0 when absent, -1 when bad. */
static int property_i64(const struct delta_snapshot *s, const char *key, int64_t *out)
{
	const char *v = delta_property(s, key, NULL);
	if (!v)
		return 0;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (end == v || *end || errno || n < 0)
		return -1;
	*out = n;
	return 1;
}

/*
 * The in-commit timestamp of commit v, from its commitInfo, which the
 * protocol puts first in every commit of such a table.  0, or -1 with e
 * set.
 */
static int commit_ict(const char *root, int64_t v, struct buf *text, int64_t *ict,
                      struct err_msg *e)
{
	int rc = delta_commit_read(root, v, text, e);
	if (rc == 1)
		err_set(e, EX_DATAERR, "%s: version %lld disappeared during the read", root,
		        (long long)v);
	if (rc != 0)
		return -1;
	if (delta_commit_ict(text->data, text->len, ict) == 0)
		return 0;
	err_set(e, EX_DATAERR,
	        "%s: version %lld: the table has in-commit timestamps, but the commit's first "
	        "action is not a commitInfo with an inCommitTimestamp",
	        root, (long long)v);
	return -1;
}

static int64_t file_time_ms(const char *root, int64_t v)
{
	char path[DELTA_PATH_MAX];
	struct stat st;
	if (delta_commit_path(root, v, path, sizeof path) < 0 || stat(path, &st) < 0)
		return -1;
	return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

/*
 * The oldest version whose state can be rebuilt: 0 when every version up
 * to the newest is listed, else the oldest complete checkpoint above the
 * newest missing version; -1 when there is none.
 */
static int64_t oldest_readable(const struct delta_listing *l)
{
	int64_t v = delta_listing_newest(l);
	while (v >= 0 && delta_listing_has(l, v))
		v--;
	if (v < 0)
		return 0;
	for (size_t i = 0; i < l->nckpts; i++)
		if (l->ckpts[i].version >= v && l->ckpts[i].found == l->ckpts[i].parts)
			return l->ckpts[i].version;
	return -1;
}

/* The index of the first commit listed at or after version v (ncommits: none). */
static size_t commit_index(const struct delta_listing *l, int64_t v)
{
	size_t lo = 0, hi = l->ncommits;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->commits[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void before_error(const char *root, int64_t v, int64_t when, struct err_msg *e)
{
	char t[TS_TEXT_MAX];
	if (v < 0) {
		err_set(e, EX_DATAERR, "%s: no version was committed at or before the timestamp",
		        root);
		return;
	}
	ts_format_rfc3339_ms(when * 1000, t);
	err_set(e, EX_DATAERR,
	        "%s: no version was committed at or before the timestamp (the oldest that can be "
	        "read, version %lld, was committed at %s)",
	        root, (long long)v, t);
}

/*
 * The latest commit among l->commits[from, to) whose file time, made
 * increasing from commits[from] on, is at or before at.  A file gone since
 * the listing (log cleanup) is passed over.  0; 1 with e set when none is;
 * -1 with e set.
 */
static int by_file_time(const char *root, const struct delta_listing *l, size_t from, size_t to,
                        int64_t at, int64_t *version, int64_t *when, struct err_msg *e)
{
	int64_t prev = INT64_MIN, first = -1, first_time = -1;
	*version = -1;
	for (size_t i = from; i < to; i++) {
		int64_t t = file_time_ms(root, l->commits[i]);
		if (t < 0)
			continue;
		if (prev != INT64_MIN && t <= prev)
			t = prev + 1;
		prev = t;
		if (first < 0) {
			first = l->commits[i];
			first_time = t;
		}
		if (t > at)
			break;
		*version = l->commits[i];
		*when = t;
	}
	if (*version >= 0)
		return 0;
	before_error(root, first, first_time, e);
	return 1;
}

/*
 * The latest commit among l->commits[from, to) whose in-commit timestamp
 * is at or before at; returns as by_file_time().
 */
static int by_ict(const char *root, const struct delta_listing *l, size_t from, size_t to,
                  int64_t at, int64_t *version, int64_t *when, struct err_msg *e)
{
	struct buf text = BUF_INIT;
	int64_t t;
	int rc = 1;
	if (from >= to) {
		before_error(root, -1, 0, e);
		goto out;
	}
	rc = -1;
	if (commit_ict(root, l->commits[from], &text, &t, e) < 0)
		goto out;
	if (t > at) {
		before_error(root, l->commits[from], t, e);
		rc = 1;
		goto out;
	}
	/* Invariant: the commit at lo is at or before `at`, every one from hi on is after it. */
	size_t lo = from, hi = to;
	*when = t;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (commit_ict(root, l->commits[mid], &text, &t, e) < 0)
			goto out;
		if (t <= at) {
			lo = mid;
			*when = t;
		} else {
			hi = mid;
		}
	}
	*version = l->commits[lo];
	rc = 0;
out:
	buf_free(&text);
	return rc;
}

/* delta_travel_version(), with 1 (e set) when no version was committed by at. */
static int travel(const char *root, const struct delta_listing *l,
                  const struct delta_snapshot *latest, int64_t at, int64_t *version, int64_t *when,
                  struct err_msg *e)
{
	int64_t oldest = oldest_readable(l);
	if (oldest < 0) {
		before_error(root, -1, 0, e);
		return 1;
	}
	size_t start = commit_index(l, oldest), end = l->ncommits;
	if (!delta_ict_enabled(latest))
		return by_file_time(root, l, start, end, at, version, when, e);
	int64_t ev = 0, et = 0;
	int hv = property_i64(latest, "delta.inCommitTimestampEnablementVersion", &ev);
	int ht = property_i64(latest, "delta.inCommitTimestampEnablementTimestamp", &et);
	if (hv < 0 || ht < 0 || hv != ht) {
		err_set(e, EX_DATAERR,
		        "%s: delta.inCommitTimestampEnablementVersion and "
		        "delta.inCommitTimestampEnablementTimestamp must be set together, as "
		        "integers",
		        root);
		return -1;
	}
	/* Enabled at version 0 (no enablement properties): every commit has its timestamp. */
	if (!hv || at >= et) {
		size_t from = commit_index(l, ev > oldest ? ev : oldest);
		return by_ict(root, l, from, end, at, version, when, e);
	}
	size_t ict_from = commit_index(l, ev);
	if (ict_from > start)
		return by_file_time(root, l, start, ict_from, at, version, when, e);
	/* Log cleanup removed every commit from before the enablement. */
	struct buf text = BUF_INIT;
	int64_t t = 0;
	if (start < end && commit_ict(root, l->commits[start], &text, &t, e) < 0) {
		buf_free(&text);
		return -1;
	}
	buf_free(&text);
	before_error(root, start < end ? l->commits[start] : -1, t, e);
	return 1;
}

int delta_travel_version(const char *root, const struct delta_listing *l,
                         const struct delta_snapshot *latest, int64_t at, int64_t *version,
                         int64_t *when, struct err_msg *e)
{
	return travel(root, l, latest, at, version, when, e) == 0 ? 0 : -1;
}

int delta_version_at(const char *root, const struct delta_snapshot *latest, int64_t at,
                     int64_t *version, struct err_msg *e)
{
	struct delta_listing l;
	int64_t when;
	if (delta_list(root, &l, e) < 0)
		return -1;
	int rc = travel(root, &l, latest, at, version, &when, e);
	delta_listing_free(&l);
	return rc < 0 ? -1 : rc == 0;
}

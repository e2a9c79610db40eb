# Helpers for the benchmark scripts (sourced).
# shellcheck shell=bash

# median N1 N2 ...: the median of the numbers given.
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# timed OUTVAR RSSVAR CMD...: run CMD under /usr/bin/time; wall seconds and peak RSS (KiB).
timed() {
	local -n _wall=$1 _rss=$2
	shift 2
	local tf
	tf=$(mktemp)
	/usr/bin/time -f '%e %M' -o "$tf" "$@"
	read -r _wall _rss <"$tf"
	rm -f "$tf"
}

# result NAME STOCKETL DUCKDB UNIT higher|lower: one line of the summary
# (tab-separated, so names may hold spaces).
result() {
	printf 'RESULT\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5"
}

# duck SQL...: run statements in DuckDB (in one Node process); prints the
# milliseconds the last statement took.
duck() {
	node "$STOCKETL_ROOT/bench/duck-time.js" "$@"
}

# discard PATH...: move the output of an earlier run out of the way, into
# $BENCH_DIR/.discarded, which bench/run removes when every benchmark is
# done.  Why not rm -rf: this machine's root is ext4 without a journal,
# whose inode allocator passes over every inode freed in the last minutes
# (60 s, or 360 s while the inode table is unwritten) when it creates a
# file, reading each one's table block; a benchmark that deletes the
# thousands of files of its last run and then creates as many pays about
# 0.3 ms of system time per file created, which the program under test
# would never pay on a journalled file system, and which falls on the side
# that writes more files.
discard() {
	local p t
	mkdir -p "$BENCH_DIR/.discarded"
	for p in "$@"; do
		[ -e "$p" ] || continue
		t=$(mktemp -d "$BENCH_DIR/.discarded/XXXXXXXX")
		mv "$p" "$t/"
	done
}

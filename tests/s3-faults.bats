#!/usr/bin/env bats
# A full bucket-side disk under a lake on s3fs with the PostgreSQL commit
# store.  The S3 server's storage is a tmpfs of its own (s3_data_limit),
# which a test fills by writing beside the bucket on the server's side; the
# bucket is mounted with the lake's options (two hosts, as in
# s3-store.bats).  Real servers, started here: PostgreSQL by initdb, the S3
# server on loopback, s3fs.
#
# What a full disk does to s3rver 3.7 (tests/node_modules/s3rver) decides
# what can be tested.  Its filesystem store writes an object's body through
# fs.createWriteStream with no 'error' listener (lib/stores/filesystem.js,
# putObject), so ENOSPC on an upload is thrown as an uncaught exception and
# the server process ends: to s3fs, a PUT onto a full disk is a connection
# dropped and then refused, as when the server is stopped.  A copy (s3fs's
# rename) goes through fs-extra's copy, a promise: ENOSPC there is an
# InternalError (500) and the server lives on.  So an upload onto a full
# disk is tested with the server dying and started again over the same
# storage once there is room, and a rename onto a full disk with the server
# answering 500.

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
# shellcheck disable=SC2030,SC2031 # a test exports or sets what only it uses; each runs in its own subshell
load helpers/common
load helpers/pg
load helpers/s3
load helpers/lake

SCHEMA=$STOCKETL_ROOT/conf/tables/bronze.schema
ROOMY=64m
LARGER=128m

setup_file() {
	pg_start
	s3_start
	s3_data_limit "$ROOMY"
	lake_hosts
}

teardown_file() {
	s3_stop
	pg_stop
}

setup() {
	common_setup
	pg_env
	lake_env
	T=$STOCKETL_LAKE/bronze
	TB=$LAKE_B/bronze
}

teardown() {
	# room again, and a server, for the next test
	rm -f "$S3_DATA"/filler.*
	s3_data_resize "$ROOMY"
	server_back
}

create() {
	delta-create bronze --schema "$SCHEMA" --partition-by trade_date
}

# fill FREE: fill the server's disk until FREE bytes are left, with files
# beside the bucket (no object).  A writer may take some of the room between
# the measure and the allocation: then it is measured again.
fill() {
	local avail _
	for _ in 1 2 3 4 5 6 7 8; do
		avail=$(df --output=avail -B1 "$S3_DATA" | tail -n 1)
		[ "$avail" -gt "$1" ] || return 0
		fallocate -l "$((avail - $1))" "$S3_DATA/filler.$RANDOM$RANDOM" 2>/dev/null && return 0
	done
	return 1
}

# server_back: start the server again over the same storage if the full
# disk ended it.  An upload that fails on the full disk can leave its
# metadata file empty (created, then ENOSPC), whether s3rver died in it or
# answered 500 and lived on (an empty object, such as a directory's
# marker), and s3rver then fails every listing that reaches that key with a
# 500 (getMetadata parses the file as JSON), which s3fs reports as EIO for
# the whole directory, and which stops s3fs from mounting the bucket at
# all.  Such remains are no object (no upload of them was acknowledged):
# they are removed on the server's side, before it starts again or under
# the server that lived on (it reads metadata from its files on each
# request; no upload is in flight once the writer that met the full disk
# has exited).
server_back() {
	local meta
	find "$S3_DATA/$S3_BUCKET" -name '*._S3rver_metadata.json' -print0 |
		while IFS= read -r -d '' meta; do
			jq -e . "$meta" >/dev/null 2>&1 ||
				rm -f "$meta" "${meta%_metadata.json}_object" "${meta%_metadata.json}_object.md5"
		done
	s3_server_running && return 0
	s3_server_start
}

# room: give the server room again, a disk twice the size over the same
# storage, and the server back.
room() {
	s3_data_resize "$LARGER" && server_back
}

# rows_once: the rows of bronze read through host B, as "total distinct"
# (distinct by bar and batch).
rows_once() {
	STOCKETL_LAKE=$LAKE_B delta-cat --columns symbol,trade_timestamp,batch_id bronze |
		jq -r '[.symbol, .trade_timestamp, .batch_id] | @tsv' | sort | awk '{ n++ } $0 != p { d++ } { p = $0 } END { print n + 0, d + 0 }'
}

# duck_rows TABLE_DIR: how many rows DuckDB reads from the files that a
# listing of the log names, as an engine without the store reads.
duck_rows() {
	local live
	live=$(live_files "$1" | sed "s|^|'$1/|; s|$|'|" | paste -sd,)
	duckdb-query.js "SELECT count(*) AS n FROM read_parquet([$live])" | jq -r .n
}

untraceable() {
	echo "${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
}

# fast_lake: the test's lake through a host whose s3fs gives up after one
# retry: with the server gone every request through the mount fails only
# after its retries, and a writer removing a batch's files makes several.
fast_lake() {
	local mnt
	# a server that a full disk left unable to answer the mount's bucket
	# check is started again over the same storage, once
	mnt=$(lake_mount retries=1) ||
		{ s3_server_stop && server_back && mnt=$(lake_mount retries=1); } || return 1
	echo "$mnt/lake-$BATS_TEST_NUMBER"
}

@test "a full bucket-side disk partway through a batch's data files: exit 74 every time, nothing committed, none of its files referenced; with room again the same batch loads once" {
	create
	gen-ticks -m 3000 >first.ndjson
	delta-append -q --app-id feed --batch-id 1 bronze first.ndjson
	live=$(live_files "$TB")
	# four days, a data file of about 24 kB each; room for two
	gen-ticks -m -d 20300 6240 >second.ndjson
	# mounted while the server has room: s3fs checks the bucket as it mounts
	fast=$(fast_lake)
	fill 80000
	for attempt in 1 2; do
		run --separate-stderr env STOCKETL_LAKE="$fast" delta-append --app-id feed --batch-id 2 bronze second.ndjson
		echo "attempt $attempt: $stderr"
		assert_failure 74
		# the file named is one of the batch's, at its close or its create
		[[ $stderr == "delta-append: $fast/bronze/trade_date=2025-0"*".zstd.parquet: "*"Input/output error"$'\n'* ]]
		assert_equal "${stderr##*$'\n'}" "delta-append: bronze: nothing committed"
		# the disk stays full: the server, started again, fails the same way
		server_back
	done
	room
	run store_rows "$T"
	assert_output $'0|t\n1|t'
	assert_equal "$(log_versions "$TB" | paste -sd ' ')" "0 1"
	assert_equal "$(live_files "$TB")" "$live"
	assert_equal "$(rows_once)" "3000 3000"
	assert_equal "$(duck_rows "$TB")" 3000
	# what landed of the batch before the disk filled is left behind (the
	# server was gone when the writer removed it) and never referenced
	orphans=$(comm -13 <(echo "$live") <(parquet_files "$TB"))
	run --separate-stderr delta-append --app-id feed --batch-id 2 bronze second.ndjson
	assert_success
	run store_rows "$T"
	assert_output $'0|t\n1|t\n2|t'
	assert_equal "$(rows_once)" "9240 9240"
	assert_equal "$(duck_rows "$TB")" 9240
	if [ -n "$orphans" ]; then
		assert_equal "$(comm -12 <(echo "$orphans") <(live_files "$TB"))" ""
	fi
	run --separate-stderr delta-append -v --app-id feed --batch-id 2 bronze second.ndjson
	assert_success
	[[ $stderr == *"batch feed/2: already in the table (txn version 2); skipped"* ]]
}

@test "delta-compact onto a full bucket-side disk: exit 74, the table reads the same rows from the same files; with room again it compacts" {
	create
	gen-ticks -a feed -b 6 -i 1 -d 20700 10 | delta-append -q bronze
	live=$(live_files "$TB")
	# mounted while the server has room: s3fs checks the bucket as it mounts
	fast=$(fast_lake)
	fill 0
	run --separate-stderr env STOCKETL_LAKE="$fast" delta-compact bronze
	echo "$stderr"
	assert_failure 74
	[[ $stderr == "delta-compact: $fast/bronze/trade_date=2026-09-0"*".zstd.parquet: "*"Input/output error"* ]]
	room
	run store_rows "$T"
	assert_equal "${lines[-1]}" "6|t"
	assert_equal "$(live_files "$TB")" "$live"
	assert_equal "$(rows_once)" "60 60"
	assert_equal "$(duck_rows "$TB")" 60
	run --separate-stderr delta-compact bronze
	assert_success
	run store_rows "$T"
	assert_equal "${lines[-1]}" "7|t"
	[ "$(live_files "$TB" | wc -l)" -lt "$(echo "$live" | wc -l)" ]
	assert_equal "$(rows_once)" "60 60"
	assert_equal "$(duck_rows "$TB")" 60
}

@test "a checkpoint onto a full bucket-side disk: exit 74, _last_checkpoint unmoved, the table reads from its JSON commits; with room again it is written" {
	create
	gen-ticks -a feed -b 6 -i 1 -d 20700 10 | delta-append -q bronze
	# mounted while the server has room: s3fs checks the bucket as it mounts
	fast=$(fast_lake)
	fill 0
	run --separate-stderr env STOCKETL_LAKE="$fast" delta-compact --checkpoint bronze
	echo "$stderr"
	assert_failure 74
	[[ $stderr == "delta-compact: $fast/bronze/_delta_log/.00000000000000000006.checkpoint.parquet."*".tmp: "*"Input/output error"* ]]
	room
	[ ! -e "$TB/_delta_log/_last_checkpoint" ]
	run --separate-stderr env -u STOCKETL_PG_DSN STOCKETL_LAKE="$LAKE_B" delta-cat --columns batch_id bronze
	assert_success
	assert_equal "${#lines[@]}" 60
	assert_equal "$(rows_once)" "60 60"
	assert_equal "$(duck_rows "$TB")" 60
	run --separate-stderr delta-compact --checkpoint bronze
	assert_success
	# (through host A, which wrote it: host B cached its absence just now)
	run jq -r .version "$T/_delta_log/_last_checkpoint"
	assert_output 6
	run --separate-stderr env -u STOCKETL_PG_DSN STOCKETL_LAKE="$LAKE_B" delta-cat --columns batch_id bronze
	assert_success
	assert_equal "${#lines[@]}" 60
}

# server_objects GLOB: the objects of this test's table on the server's
# side whose key (under _delta_log) matches GLOB.
server_objects() {
	find "$S3_DATA/$S3_BUCKET/lake-$BATS_TEST_NUMBER/bronze/_delta_log" -maxdepth 1 \
		-name "$1._S3rver_object" -printf '%f\n' 2>/dev/null
}

@test "a checkpoint whose rename meets a full disk (the server answers 500 and lives): a warning, the commit stands, no temporary file, the table reads" {
	create
	gen-ticks -a feed -b 9 -i 1 -d 20700 10 | delta-append -q bronze
	gen-ticks -a feed -i 10 -d 20700 10 >tenth.ndjson
	# the checkpoint is written by a thread of its own, after the commit:
	# the first rename of each thread (strace counts a thread's calls) is
	# held 3 s, the main thread's (N.json) and then the checkpoint's, while
	# the disk fills under it
	ASAN_OPTIONS=$(untraceable) strace -f -qq -o /dev/null -e trace=rename \
		-e inject=rename:delay_enter=3000000:when=1 \
		delta-append bronze tenth.ndjson 2>err &
	tracer=$!
	for _ in $(seq 200); do
		[ -n "$(server_objects '.*.checkpoint.parquet.*.tmp')" ] && break
		sleep 0.05
	done
	[ -n "$(server_objects '.*.checkpoint.parquet.*.tmp')" ]
	fill 0
	status=0
	wait "$tracer" || status=$?
	cat err
	assert_equal "$status" 0
	grep -q "^delta-append: checkpoint at version 10: $T/_delta_log/00000000000000000010.checkpoint.parquet: Input/output error\$" err
	s3_server_running
	room
	run store_rows "$T"
	assert_equal "${lines[-1]}" "10|t"
	[ ! -e "$TB/_delta_log/_last_checkpoint" ]
	assert_equal "$(server_objects '*.tmp*')" ""
	assert_equal "$(rows_once)" "100 100"
	assert_equal "$(duck_rows "$TB")" 100
}

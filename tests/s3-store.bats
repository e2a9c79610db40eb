#!/usr/bin/env bats
# The PostgreSQL commit store: Delta tables on an S3 bucket mounted with
# s3fs (two mounts of one bucket, two "hosts", with the lake's mount
# options), writers agreeing on each version in PostgreSQL.  Real servers,
# started here: PostgreSQL by initdb, the S3 server on loopback, s3fs.
#
# What the Delta suites check on a local disk is checked here on the mount
# (commits, exactly-once replay, writers passing each other, duplicates,
# checkpoints, delta-cat and delta-history on the other host), then what is
# the store's own: rows and bodies, caches that lie, adoption of a table
# made before the store, recovery of a writer killed between its claim and
# N.json, and the failures of PostgreSQL and of the bucket.

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
# shellcheck disable=SC2030,SC2031 # a test exports or sets what only it uses; each runs in its own subshell
load helpers/common
load helpers/pg
load helpers/s3
load helpers/lake

SCHEMA=$STOCKETL_ROOT/conf/tables/bronze.schema

setup_file() {
	pg_start
	s3_start
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
	# A server a test stopped starts again for the next one.
	if ! pg_query "SELECT 1" >/dev/null 2>&1; then
		pg_server_start
	fi
	if ! s3_server_running; then
		s3_server_start
	fi
}

create() {
	delta-create bronze --schema "$SCHEMA" --partition-by trade_date
}

# wait_row V STATE: wait (up to 30 s) until the newest row of bronze is version V, complete (t) or not (f).
wait_row() {
	local _
	for _ in $(seq 600); do
		[ "$(store_rows "$T" | tail -n 1)" = "$1|$2" ] && return 0
		sleep 0.05
	done
	echo "the newest row never became $1|$2: $(store_rows "$T" | tail -n 1)" >&2
	return 1
}

# body_md5 V: the MD5 of the body of bronze's row V.
body_md5() {
	pg_query "SELECT md5(body) FROM stocketl.delta_commit WHERE version = $1 AND table_id = '$(stocketl-db table-id "$T" | cut -f 1)'"
}

commit_file() {
	printf '%s/_delta_log/%020d.json' "$1" "$2"
}

# rows_once: the rows of bronze read through host B, as "total distinct" (distinct by bar and batch).
rows_once() {
	STOCKETL_LAKE=$HOST_B/lake-$BATS_TEST_NUMBER delta-cat --columns symbol,trade_timestamp,batch_id bronze |
		jq -r '[.symbol, .trade_timestamp, .batch_id] | @tsv' | sort | awk '{ n++ } $0 != p { d++ } { p = $0 } END { print n + 0, d + 0 }'
}

# stderr_has TEXT: the last run's stderr holds TEXT.
stderr_has() {
	[[ $stderr == *"$1"* ]] || fail "stderr lacks \"$1\": $stderr"
}

# untraceable: ASAN_OPTIONS for a program run under strace: LeakSanitizer
# cannot work under ptrace, and would turn every exit status into 1.
untraceable() {
	echo "${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
}

# children PID: the process ids of PID's children.
children() {
	ps -o pid= --ppid "$1" | tr -d ' '
}

# --- the Delta behaviours, on the mount ------------------------------------

@test "with a DSN, auto commits on s3fs through PostgreSQL: a complete row per version, N.json holding its body, no temporary file left" {
	create
	gen-ticks -a feed -b 3 -i 1 50 | delta-append -q bronze
	run store_rows "$T"
	assert_output $'0|t\n1|t\n2|t\n3|t'
	for v in 0 1 2 3; do
		assert_equal "$(md5sum <"$(commit_file "$T" "$v")" | cut -d ' ' -f 1)" "$(body_md5 "$v")"
	done
	run pg_query "SELECT DISTINCT table_id FROM stocketl.delta_commit WHERE table_id LIKE '%/lake-$BATS_TEST_NUMBER/%'"
	assert_output "s3://$S3_BUCKET/lake-$BATS_TEST_NUMBER/bronze"
	run ls -A "$T/_delta_log/.tmp"
	assert_output ""
}

@test "a batch on the mount is one commit with its txn and stats; DuckDB reads its files through the other host" {
	create
	gen-ticks -a feed -i 7 -s 2 120 >in.ndjson
	run --separate-stderr delta-append bronze <in.ndjson
	assert_success
	assert_equal "$stderr" "delta-append: bronze: version 1: 1 batch, 120 records, 1 file"
	run jq -c 'select(.txn) | .txn | {appId, version}' "$(commit_file "$TB" 1)"
	assert_output '{"appId":"feed","version":7}'
	run jq -r 'select(.add) | .add.stats | fromjson | .numRecords' "$(commit_file "$TB" 1)"
	assert_output 120
	run duckdb-query.js "SELECT count(*) AS n, sum(volume) AS v FROM read_parquet('$TB/trade_date=*/*.parquet')"
	assert_output "$(jq -s -c '{n: length, v: (map(.volume // empty) | add)}' <(grep -v '"@batch"' in.ndjson))"
}

@test "a replayed stream is skipped from either host: each batch loads exactly once" {
	create
	gen-ticks -a feed -b 4 -i 1 20 >in.ndjson
	delta-append -q bronze <in.ndjson
	run --separate-stderr env STOCKETL_LAKE="$HOST_B/lake-$BATS_TEST_NUMBER" delta-append -v bronze <in.ndjson
	assert_success
	stderr_has "batch feed/1: already in the table (txn version 4); skipped"
	assert_equal "$(store_rows "$T" | wc -l)" 5
	assert_equal "$(rows_once)" "80 80"
}

@test "two hosts, two writers on each, 25 batches each: 100 commits, every row once by DuckDB and by the log" {
	create
	for w in 1 2 3 4; do
		gen-ticks -a "writer$w" -b 25 -i 1 -d $((20000 + w)) 4 >"in$w"
	done
	pids=()
	for w in 1 2 3 4; do
		lake=$HOST_A/lake-$BATS_TEST_NUMBER
		[ "$w" -gt 2 ] && lake=$HOST_B/lake-$BATS_TEST_NUMBER
		STOCKETL_LAKE=$lake delta-append --commit-retries 200 bronze <"in$w" 2>"err$w" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || fail "a writer failed: $(cat err1 err2 err3 err4)"
	done
	run store_rows "$T"
	assert_equal "${#lines[@]}" 101
	refute_output --partial '|f'
	assert_equal "$(log_versions "$TB" | paste -sd ' ')" "$(seq 0 100 | paste -sd ' ')"
	# each writer's 25 batches once, by the log's txn actions
	run bash -c "cat '$TB'/_delta_log/*.json | jq -r 'select(.txn) | \"\(.txn.appId) \(.txn.version)\"' | sort | uniq -c | awk '{ print \$1 }' | sort -u"
	assert_output 1
	assert_equal "$(cat "$TB"/_delta_log/*.json | jq -r 'select(.txn) | .txn.appId' | sort -u | wc -l)" 4
	run duckdb-query.js "SELECT count(*) AS n, count(DISTINCT (symbol, trade_timestamp, batch_id, trade_date)) AS d FROM read_parquet('$TB/trade_date=*/*.parquet')"
	assert_output '{"n":400,"d":400}'
	assert_equal "$(rows_once)" "400 400"
	for v in 10 20 30 40 50 60 70 80 90 100; do
		[ -f "$TB/_delta_log/$(printf %020d "$v").checkpoint.parquet" ]
	done
}

@test "a writer far behind moves past the other host's appends, whose commits it reads from the store" {
	create
	gen-ticks -a slow -b 2 -i 1 -d 20100 2 >g
	(head -3 g; sleep 3; sed -n 4,6p g) | delta-append --app-id slow bronze 2>slow.err &
	slow=$!
	wait_row 1 t
	run --separate-stderr env STOCKETL_LAKE="$HOST_B/lake-$BATS_TEST_NUMBER" \
		bash -c 'gen-ticks -a fast -b 20 -i 1 -d 20200 3 | delta-append bronze'
	assert_success
	status=0
	wait "$slow" || status=$?
	cat slow.err
	assert_equal "$status" 0
	assert_equal "$(store_rows "$T" | wc -l)" 23
	assert_equal "$(rows_once)" "64 64"
}

@test "the same batch loaded on both hosts at once commits once; the loser says another writer loaded it" {
	create
	gen-ticks -a feed -i 5 30 >batch.ndjson
	mkfifo a b
	delta-append -v bronze <a 2>a.err &
	pa=$!
	STOCKETL_LAKE=$HOST_B/lake-$BATS_TEST_NUMBER delta-append -v bronze <b 2>b.err &
	pb=$!
	exec 4>a 5>b
	# both have read the table at version 0 before either batch arrives
	sleep 1
	cat batch.ndjson >&4
	exec 4>&-
	wait "$pa"
	cat batch.ndjson >&5
	exec 5>&-
	wait "$pb"
	stderr=$(cat b.err)
	stderr_has "batch feed/5: loaded by another writer"
	assert_equal "$(store_rows "$T" | wc -l)" 2
	assert_equal "$(rows_once)" "30 30"
}

@test "checkpoints through the store: every 10 commits, read by DuckDB and by the other host's replay" {
	create
	gen-ticks -a feed -b 12 -i 1 10 | delta-append -q bronze
	ck=$TB/_delta_log/00000000000000000010.checkpoint.parquet
	[ -f "$ck" ]
	run jq -c '{version}' "$TB/_delta_log/_last_checkpoint"
	assert_output '{"version":10}'
	run duckdb-query.js "SELECT count(*) AS adds FROM read_parquet('$ck') WHERE add IS NOT NULL"
	assert_output '{"adds":10}'
	run --separate-stderr env STOCKETL_LAKE="$HOST_B/lake-$BATS_TEST_NUMBER" delta-cat -v --columns batch_id bronze
	assert_success
	assert_equal "${stderr_lines[0]}" "delta-cat: $TB: version 12 (from a checkpoint)"
	assert_equal "${#lines[@]}" 120
}

@test "delta-cat on the other host: the latest version, --at-version and --since-version, through the store" {
	create
	gen-ticks -a feed -b 3 -i 1 10 | delta-append -q bronze
	export STOCKETL_LAKE=$HOST_B/lake-$BATS_TEST_NUMBER
	run --separate-stderr delta-cat --columns batch_id bronze
	assert_success
	assert_equal "$(sort -u <<<"$output" | jq -r .batch_id | paste -sd ' ')" "1 2 3"
	run --separate-stderr delta-cat --at-version 1 --columns batch_id bronze
	assert_equal "$(sort -u <<<"$output" | jq -r .batch_id)" 1
	run --separate-stderr delta-cat --since-version 2 --columns batch_id bronze
	assert_equal "$(sort -u <<<"$output" | jq -r .batch_id)" 3
	run --separate-stderr delta-cat --at-version 4 bronze
	assert_failure 65
	assert_equal "$stderr" "delta-cat: $TB: version 4 does not exist (the latest is 3)"
}

@test "delta-history on the other host lists every version once, newest first, from the store" {
	create
	gen-ticks -a feed -b 3 -i 1 10 | delta-append -q bronze
	run --separate-stderr env STOCKETL_LAKE="$HOST_B/lake-$BATS_TEST_NUMBER" delta-history bronze
	assert_success
	assert_equal "$(jq -r '"\(.version) \(.operation)"' <<<"$output" | paste -sd ,)" "3 WRITE,2 WRITE,1 WRITE,0 CREATE TABLE"
}

@test "an upsert on the mount (delta-append --merge-key) commits MERGE through the store; the other host reads each key once, revised" {
	delta-create silver --schema "$STOCKETL_ROOT/conf/tables/silver.schema" --partition-by trade_date \
		--merge-key symbol,interval,trade_timestamp
	gen-ticks -a feed -i 1 -d 20600 40 | delta-append -q --merge-key symbol,interval,trade_timestamp silver
	# the same 40 bars again (batch 2 revises them) and 20 more
	gen-ticks -a feed -i 2 -d 20600 60 | delta-append -q --merge-key symbol,interval,trade_timestamp silver
	run store_rows "$STOCKETL_LAKE/silver"
	assert_output $'0|t\n1|t\n2|t'
	run --separate-stderr env STOCKETL_LAKE="$LAKE_B" delta-cat --columns symbol,trade_timestamp,batch_id silver
	assert_success
	assert_equal "${#lines[@]}" 60
	assert_equal "$(jq -r .batch_id <<<"$output" | sort -u)" 2
	assert_equal "$(jq -r '[.symbol, .trade_timestamp] | @tsv' <<<"$output" | sort -u | wc -l)" 60
	run --separate-stderr env STOCKETL_LAKE="$LAKE_B" delta-history silver
	assert_equal "$(jq -r '"\(.version) \(.operation)"' <<<"$output" | paste -sd ,)" "2 MERGE,1 MERGE,0 CREATE TABLE"
}

@test "delta-compact on the mount: OPTIMIZE through the store, the same rows in fewer files, read by the other host and by a reader that lists the log" {
	create
	gen-ticks -a feed -b 6 -i 1 -d 20700 10 | delta-append -q bronze
	before=$(live_files "$TB" | wc -l)
	run --separate-stderr delta-compact bronze
	assert_success
	run store_rows "$T"
	assert_equal "${lines[-1]}" "7|t"
	assert_equal "$(md5sum <"$(commit_file "$TB" 7)" | cut -d ' ' -f 1)" "$(body_md5 7)"
	run jq -r 'select(.commitInfo) | .commitInfo.operation' "$(commit_file "$TB" 7)"
	assert_output OPTIMIZE
	[ "$(live_files "$TB" | wc -l)" -lt "$before" ]
	assert_equal "$(rows_once)" "60 60"
	# without PostgreSQL a reader lists _delta_log, as engines that know nothing of the store do
	run --separate-stderr env -u STOCKETL_PG_DSN STOCKETL_LAKE="$LAKE_B" delta-cat --columns batch_id bronze
	assert_success
	assert_equal "${#lines[@]}" 60
}

# threads_of PID: how many threads the process runs now.
threads_of() {
	awk '/^Threads:/ { print $2 }' "/proc/$1/status"
}

@test "a table deleted from the bucket and made again: delta-create, delta-append and delta-compact refuse it until stocketl-db forget-table drops the old rows, then it starts at version 0" {
	create
	gen-ticks -a feed -b 3 -i 1 20 | delta-append -q bronze
	# forget-table refuses a table whose log is there: its rows are its commits
	run --separate-stderr stocketl-db forget-table "$T"
	assert_failure 65
	assert_equal "$stderr" "stocketl-db: $T: its _delta_log still holds commits: the table is not deleted, and its rows in the store are its commits (delete the table from the bucket first)"
	assert_equal "$(store_rows "$T" | wc -l)" 4
	rm -rf "$T"
	gone="the commit store still holds versions up to 3 of a table at this location, whose log is gone from the bucket (the table was deleted, its rows in PostgreSQL were not); \`stocketl-db forget-table $T\` removes them, then create the table again"
	# the writers refuse it too: a commit or a checkpoint would make a table no reader can open
	run --separate-stderr bash -c 'gen-ticks -a late -i 1 4 | delta-append -q bronze'
	assert_failure 65
	assert_equal "$stderr" "delta-append: $T: $gone"
	for op in --checkpoint --vacuum --cleanup-log --optimize; do
		run --separate-stderr delta-compact -q "$op" bronze
		assert_failure 65
		assert_equal "$stderr" "delta-compact: $T: $gone"
	done
	[ ! -e "$T" ] || [ -z "$(find "$T" -type f)" ]
	# and the readers say what happened, rather than naming a missing data file
	run --separate-stderr delta-cat bronze
	assert_failure 65
	assert_equal "$stderr" "delta-cat: $T: $gone"
	run --separate-stderr delta-history bronze
	assert_failure 65
	assert_equal "$stderr" "delta-history: $T: $gone"
	run --separate-stderr delta-create bronze --schema "$SCHEMA" --partition-by trade_date
	assert_failure 65
	assert_equal "$stderr" "delta-create: $T: $gone"
	[ -z "$(find "$T" -type f)" ]
	run --separate-stderr stocketl-db forget-table "$T"
	assert_success
	assert_output "forgot 4 versions of s3://$S3_BUCKET/lake-$BATS_TEST_NUMBER/bronze	$T"
	assert_equal "$(store_rows "$T" | wc -l)" 0
	# the table made again holds its own versions and rows only, on both hosts
	create
	gen-ticks -a other -i 9 -s 2 10 | delta-append -q bronze
	run store_rows "$T"
	assert_output $'0|t\n1|t'
	assert_equal "$(STOCKETL_LAKE=$HOST_B/lake-$BATS_TEST_NUMBER delta-cat bronze | jq -r .batch_id | sort -u)" 9
	assert_equal "$(rows_once)" "10 10"
}

@test "a writer that runs on (a stream) commits nothing into its table once it is deleted from the bucket through another host" {
	create
	gen-ticks -a feed -b 4 -i 1 10 >in.ndjson
	mkfifo in
	delta-append bronze <in 2>err &
	pid=$!
	exec 4>in
	head -n 22 in.ndjson >&4
	wait_row 2 t
	rm -rf "$TB"
	# past the mounts' stat cache (1 s)
	sleep 1.5
	tail -n +23 in.ndjson >&4
	exec 4>&-
	status=0
	wait "$pid" || status=$?
	cat err
	assert_equal "$status" 65
	grep -q "the commit store still holds versions up to 2 of a table at this location, whose log is gone from the bucket" err
	run store_rows "$T"
	assert_output $'0|t\n1|t\n2|t'
	[ -z "$(find "$TB" -name '*.json' 2>/dev/null)" ]
}

@test "with the S3 server stopped every name looks missing through the mount: forget-table deletes no row, and delta-append and delta-create exit 74, never taking the table for deleted" {
	create
	gen-ticks -a feed -b 3 -i 1 20 | delta-append -q bronze
	# a host whose s3fs gives up after one retry, so that each failure comes in seconds
	fast=$(lake_mount retries=1)
	FL=$fast/lake-$BATS_TEST_NUMBER
	[ -d "$FL/bronze/_delta_log" ]
	s3_server_stop
	# past the mount's stat cache (1 s): the log is reported missing, not failing
	sleep 1.5
	run --separate-stderr stocketl-db forget-table "$FL/bronze"
	echo "$stderr"
	assert_failure 74
	stderr_has "whether $FL/bronze/_delta_log is gone cannot be told"
	run --separate-stderr bash -c "gen-ticks -a late -i 1 4 | STOCKETL_LAKE=$FL delta-append -q bronze"
	echo "$stderr"
	assert_failure 74
	[[ $stderr != *"forget-table"* ]]
	run --separate-stderr env STOCKETL_LAKE="$FL" delta-create bronze --schema "$SCHEMA" --partition-by trade_date
	echo "$stderr"
	assert_failure 74
	[[ $stderr != *"forget-table"* ]]
	s3_server_start
	run store_rows "$T"
	assert_output $'0|t\n1|t\n2|t\n3|t'
	assert_equal "$(rows_once)" "60 60"
}

@test "delta-compact --cleanup-log on the mount deletes expired commits below a checkpoint, though a newer one is the latest; every kept version reads as before" {
	create
	gen-ticks -a feed -b 25 -i 1 8 | delta-append -q bronze
	for v in 20 25; do delta-cat --at-version "$v" bronze | sort >"v$v"; done
	delta-compact -q --checkpoint bronze
	log=$T/_delta_log
	# Versions 0-21 are past the retention; checkpoints stand at 10, 20 and 25.
	touch -d '40 days ago' "$log"/0000000000000000000*.json "$log"/000000000000000000{1[0-9],2[01]}.json \
		"$log"/*.checkpoint.parquet
	run --separate-stderr delta-compact --cleanup-log bronze
	assert_success
	assert_equal "$stderr" "delta-compact: bronze: log cleanup (retention 30d): deleted 20 commits, 1 checkpoint file and 20 other files; the log starts at the checkpoint of version 20"
	[ -f "$log"/00000000000000000020.crc ] && [ ! -e "$log"/00000000000000000019.crc ]
	run ls -I '*.crc' "$log"
	assert_line --index 0 00000000000000000020.checkpoint.parquet
	assert_line --index 1 00000000000000000020.json
	# through the store, and through the other host's mount without it
	for v in 20 25; do
		delta-cat --at-version "$v" bronze | sort | cmp "v$v" -
		STOCKETL_LAKE=$HOST_B/lake-$BATS_TEST_NUMBER STOCKETL_COMMIT_STORE=link STOCKETL_PG_DSN='' \
			delta-cat --at-version "$v" bronze | sort | cmp "v$v" -
	done
}

@test "on the mount delta-append runs 16 writer threads unless told otherwise, so that more uploads are in flight" {
	create
	mkfifo in
	delta-append bronze <in 2>/dev/null &
	pid=$!
	exec 4>in
	n=0
	for _ in $(seq 200); do
		n=$(threads_of "$pid")
		[ "$n" -ge 17 ] && break
		sleep 0.05
	done
	exec 4>&-
	wait "$pid"
	assert_equal "$n" 17
	delta-append --threads 2 bronze <in 2>/dev/null &
	pid=$!
	exec 4>in
	sleep 1
	n=$(threads_of "$pid")
	exec 4>&-
	wait "$pid"
	assert_equal "$n" 3
}

# --- the store's own -------------------------------------------------------

@test "a commit is seen on another host as soon as it is acknowledged, whatever that host's mount caches" {
	create
	# a third host whose s3fs trusts what it saw for 15 minutes, absent names included
	slow=$(lake_mount "stat_cache_expire=900,enable_noobj_cache")
	ST=$slow/lake-$BATS_TEST_NUMBER/bronze
	[ ! -e "$(commit_file "$ST" 1)" ]
	gen-ticks -a feed -i 1 25 | delta-append -q bronze
	# the mount still says version 1 is not there ...
	[ ! -e "$(commit_file "$ST" 1)" ]
	# ... and the readers, asking PostgreSQL, see it
	run --separate-stderr env STOCKETL_LAKE="$slow/lake-$BATS_TEST_NUMBER" delta-cat --columns batch_id bronze
	assert_success
	assert_equal "${#lines[@]}" 25
	run --separate-stderr env STOCKETL_LAKE="$slow/lake-$BATS_TEST_NUMBER" delta-history --limit 1 bronze
	assert_output --partial '"version":1,'
}

@test "a table made without the store is adopted: its versions stay readable and the next commit claims the one after them" {
	mkdir -p "$STOCKETL_LAKE"
	cp -r "$FIXTURES/delta/delta-rs/delta-0.8.0-partitioned" "$STOCKETL_LAKE/t"
	before=$(STOCKETL_LAKE=$LAKE_B delta-cat t | wc -l)
	newest=$(log_versions "$STOCKETL_LAKE/t" | tail -n 1)
	run --separate-stderr bash -c 'printf "%s\n" "{\"value\":\"8\",\"year\":\"2022\",\"month\":\"1\",\"day\":\"1\"}" | delta-append --app-id a --batch-id 1 t'
	assert_success
	run store_rows "$STOCKETL_LAKE/t"
	assert_output "$((newest + 1))|t"
	assert_equal "$(STOCKETL_LAKE=$LAKE_B delta-cat t | wc -l)" "$((before + 1))"
	assert_equal "$(STOCKETL_LAKE=$LAKE_B delta-history t | jq -r .version | paste -sd ' ')" "$(seq "$((newest + 1))" -1 0 | paste -sd ' ')"
}

@test "a commit put into _delta_log without the store is never replaced: the next writer refuses it (exit 65), nothing committed" {
	create
	gen-ticks -a feed -i 1 5 | delta-append -q bronze
	# version 2 made on a copy of the table by a writer without the store, and copied back
	mkdir elsewhere
	cp -r "$T" elsewhere/
	STOCKETL_PG_DSN='' STOCKETL_LAKE=$PWD/elsewhere bash -c 'gen-ticks -a other -i 1 -d 20300 6 | delta-append -q bronze'
	for f in $(jq -r 'select(.add) | .add.path' "$(commit_file elsewhere/bronze 2)"); do
		mkdir -p "$(dirname "$T/$f")"
		cp "elsewhere/bronze/$f" "$T/$f"
	done
	cp "$(commit_file elsewhere/bronze 2)" "$(commit_file "$T" 2)"
	before=$(md5sum <"$(commit_file "$T" 2)")
	files=$(parquet_files "$T")
	for lake in "$STOCKETL_LAKE" "$LAKE_B"; do
		run --separate-stderr env STOCKETL_LAKE="$lake" bash -c 'gen-ticks -a feed -i 2 -d 20400 4 | delta-append bronze'
		assert_failure 65
		stderr_has "/_delta_log/00000000000000000002.json: version 2 is in _delta_log but not in the commit store, whose newest version is 1"
		stderr_has "nothing committed"
	done
	assert_equal "$(md5sum <"$(commit_file "$T" 2)")" "$before"
	assert_equal "$(parquet_files "$T")" "$files"
	run store_rows "$T"
	assert_output $'0|t\n1|t'
}

@test "a writer killed between its claim and N.json: the next reader finishes the commit, and the log is whole for readers without the store" {
	create
	gen-ticks -a feed -i 1 40 >in.ndjson
	# the rename of the staged commit to N.json waits a minute: the claim is made, N.json is not
	ASAN_OPTIONS=$(untraceable) strace -f -qq -o /dev/null -e trace=rename \
		-e inject=rename:delay_enter=60000000:when=1 \
		delta-append bronze <in.ndjson 2>/dev/null &
	tracer=$!
	wait_row 1 f
	kill -KILL "$(children "$tracer")" "$tracer"
	wait "$tracer" || true
	[ ! -e "$(commit_file "$TB" 1)" ]
	run --separate-stderr env STOCKETL_LAKE="$HOST_B/lake-$BATS_TEST_NUMBER" delta-cat --columns batch_id bronze
	assert_success
	assert_equal "${#lines[@]}" 40
	run store_rows "$T"
	assert_output $'0|t\n1|t'
	assert_equal "$(md5sum <"$(commit_file "$TB" 1)" | cut -d ' ' -f 1)" "$(body_md5 1)"
	# what Spark or DuckDB would list: every version, and the files they name
	assert_equal "$(log_versions "$TB" | paste -sd ' ')" "0 1"
	live=$(live_files "$TB" | sed "s|^|'$TB/|; s|$|'|" | paste -sd,)
	run duckdb-query.js "SELECT count(*) AS n FROM read_parquet([$live])"
	assert_output '{"n":40}'
}

@test "a writer killed between its claim and N.json: a reader on a read-only mount reads the commit from the store and leaves it to a writer" {
	create
	gen-ticks -a feed -i 1 40 >in.ndjson
	ASAN_OPTIONS=$(untraceable) strace -f -qq -o /dev/null -e trace=rename \
		-e inject=rename:delay_enter=60000000:when=1 \
		delta-append bronze <in.ndjson 2>/dev/null &
	tracer=$!
	wait_row 1 f
	kill -KILL "$(children "$tracer")" "$tracer"
	wait "$tracer" || true
	# a host that mounts the bucket read-only (or with keys that only read)
	ro=$(lake_mount ro)
	RO=$ro/lake-$BATS_TEST_NUMBER
	run --separate-stderr env STOCKETL_LAKE="$RO" delta-cat --columns batch_id bronze
	assert_success
	assert_equal "${#lines[@]}" 40
	assert_equal "$stderr" ""
	run --separate-stderr env STOCKETL_LAKE="$RO" delta-history bronze
	assert_success
	assert_equal "$(jq -r .version <<<"$output" | paste -sd ' ')" "1 0"
	run --separate-stderr env STOCKETL_LAKE="$RO" delta-cat --at-version 1 --columns batch_id bronze
	assert_success
	assert_equal "${#lines[@]}" 40
	# nothing written through it: the commit waits for a writer
	run store_rows "$T"
	assert_output $'0|t\n1|f'
	[ ! -e "$(commit_file "$TB" 1)" ]
	# a writer there cannot finish it, and says so
	run --separate-stderr env STOCKETL_LAKE="$RO" bash -c 'gen-ticks -a other -i 1 -d 20500 10 | delta-append bronze'
	assert_failure 74
	stderr_has "version 1, claimed in the commit store by a writer that did not finish it, cannot be written to _delta_log"
	stderr_has "Read-only file system"
	run --separate-stderr env STOCKETL_LAKE="$HOST_B/lake-$BATS_TEST_NUMBER" \
		bash -c 'gen-ticks -a other -i 1 -d 20500 10 | delta-append bronze'
	assert_success
	run store_rows "$T"
	assert_output $'0|t\n1|t\n2|t'
	assert_equal "$(md5sum <"$(commit_file "$TB" 1)" | cut -d ' ' -f 1)" "$(body_md5 1)"
}

@test "a writer killed between its claim and N.json: the next writer finishes it first, and a rerun of the batch is skipped" {
	create
	gen-ticks -a feed -i 1 40 >in.ndjson
	ASAN_OPTIONS=$(untraceable) strace -f -qq -o /dev/null -e trace=rename \
		-e inject=rename:delay_enter=60000000:when=1 \
		delta-append bronze <in.ndjson 2>/dev/null &
	tracer=$!
	wait_row 1 f
	kill -KILL "$(children "$tracer")" "$tracer"
	wait "$tracer" || true
	run --separate-stderr env STOCKETL_LAKE="$HOST_B/lake-$BATS_TEST_NUMBER" \
		bash -c 'gen-ticks -a other -i 1 -d 20500 10 | delta-append bronze'
	assert_success
	assert_equal "$stderr" "delta-append: bronze: version 2: 1 batch, 10 records, 1 file"
	run store_rows "$T"
	assert_output $'0|t\n1|t\n2|t'
	assert_equal "$(log_versions "$TB" | paste -sd ' ')" "0 1 2"
	run --separate-stderr delta-append -v bronze <in.ndjson
	assert_success
	stderr_has "batch feed/1: already in the table (txn version 1); skipped"
	assert_equal "$(rows_once)" "50 50"
}

@test "kill -9 of writers on both hosts at random moments: the table always reads, and a rerun loads each batch once" {
	create
	gen-ticks -a ha -b 6 -i 1 -d 20300 400 >a.ndjson
	gen-ticks -a hb -b 6 -i 1 -d 20400 400 >b.ndjson
	for round in $(seq 8); do
		delta-append bronze <a.ndjson 2>/dev/null &
		pa=$!
		STOCKETL_LAKE=$HOST_B/lake-$BATS_TEST_NUMBER delta-append bronze <b.ndjson 2>/dev/null &
		pb=$!
		sleep "0.$(((round * 7919) % 90 + 5))"
		kill -KILL "$pa" "$pb" 2>/dev/null || true
		wait "$pa" "$pb" 2>/dev/null || true
		run --separate-stderr env STOCKETL_LAKE="$HOST_B/lake-$BATS_TEST_NUMBER" delta-cat --columns batch_id bronze
		assert_success
	done
	run --separate-stderr delta-append bronze a.ndjson b.ndjson
	assert_success
	run store_rows "$T"
	refute_output --partial '|f'
	assert_equal "$(log_versions "$TB" | wc -l)" "${#lines[@]}"
	run bash -c "cat '$TB'/_delta_log/*.json | jq -r 'select(.txn) | \"\(.txn.appId) \(.txn.version)\"' | sort | uniq -c | awk '{ print \$1 }' | sort -u"
	assert_output 1
	assert_equal "$(rows_once)" "4800 4800"
	live=$(live_files "$TB" | sed "s|^|'$TB/|; s|$|'|" | paste -sd,)
	run duckdb-query.js "SELECT count(*) AS n FROM read_parquet([$live])"
	assert_output '{"n":4800}'
}

@test "PostgreSQL unreachable when a writer starts: exit 75, nothing written" {
	create
	before=$(parquet_files "$T")
	run --separate-stderr env STOCKETL_PG_DSN="host=127.0.0.1 port=1 dbname=x connect_timeout=2" \
		bash -c 'gen-ticks -a feed -i 1 10 | delta-append bronze'
	assert_failure 75
	assert_regex "$stderr" "^delta-append: $T: the commit store cannot be reached: postgres at host=127\.0\.0\.1 port=1 .*: cannot connect"
	assert_equal "$(parquet_files "$T")" "$before"
}

@test "PostgreSQL stopped mid-run: exit 75, the batch's files removed, nothing half-committed; a rerun loads each batch once" {
	create
	gen-ticks -a feed -b 3 -i 1 30 >in.ndjson
	mkfifo in
	delta-append bronze <in 2>err &
	pid=$!
	exec 4>in
	head -n 31 in.ndjson >&4
	wait_row 1 t
	pg_server_stop
	sed -n 32,62p in.ndjson >&4
	exec 4>&-
	status=0
	wait "$pid" || status=$?
	cat err
	assert_equal "$status" 75
	stderr=$(cat err)
	stderr_has "the commit store cannot be reached; nothing committed"
	assert_equal "$(parquet_files "$T")" "$(live_files "$TB")"
	pg_server_start
	run store_rows "$T"
	assert_output $'0|t\n1|t'
	assert_equal "$(log_versions "$TB" | paste -sd ' ')" "0 1"
	run --separate-stderr delta-append bronze <in.ndjson
	assert_success
	assert_equal "$(rows_once)" "90 90"
}

@test "PostgreSQL gone while the claim waits for its commit: exit 75, the files kept; a rerun finishes the commit and skips the batch" {
	create
	# commits wait for a standby that never comes: the claim is stored, its answer never sent
	pg_query "ALTER SYSTEM SET synchronous_commit = on"
	pg_query "ALTER SYSTEM SET synchronous_standby_names = 'nobody'"
	pg_query "SELECT pg_reload_conf()" >/dev/null
	gen-ticks -a feed -i 1 30 >in.ndjson
	delta-append bronze <in.ndjson 2>err &
	pid=$!
	for _ in $(seq 600); do
		[ "$(pg_query "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'")" -gt 0 ] && break
		sleep 0.05
	done
	pg_server_stop
	status=0
	wait "$pid" || status=$?
	cat err
	assert_equal "$status" 75
	stderr=$(cat err)
	stderr_has "whether it was committed is unknown"
	assert_equal "$(parquet_files "$T" | wc -l)" 1
	pg_server_start
	pg_query "ALTER SYSTEM RESET synchronous_standby_names"
	pg_query "ALTER SYSTEM RESET synchronous_commit"
	pg_query "SELECT pg_reload_conf()" >/dev/null
	run store_rows "$T"
	assert_output $'0|t\n1|f'
	run --separate-stderr delta-append -v bronze <in.ndjson
	assert_success
	stderr_has "batch feed/1: already in the table (txn version 1); skipped"
	run store_rows "$T"
	assert_output $'0|t\n1|t'
	assert_equal "$(parquet_files "$T")" "$(live_files "$TB")"
	assert_equal "$(rows_once)" "30 30"
}

@test "the S3 server stopped mid-run: exit 74, nothing committed; a rerun after it is back loads each batch once" {
	create
	gen-ticks -a feed -b 3 -i 1 30 >in.ndjson
	mkfifo in
	# a host whose s3fs gives up after one retry, so that the failure comes in seconds
	fast=$(lake_mount retries=1)
	STOCKETL_LAKE=$fast/lake-$BATS_TEST_NUMBER delta-append bronze <in 2>err &
	pid=$!
	exec 4>in
	head -n 31 in.ndjson >&4
	wait_row 1 t
	s3_server_stop
	sed -n 32,62p in.ndjson >&4
	exec 4>&-
	status=0
	wait "$pid" || status=$?
	cat err
	assert_equal "$status" 74
	s3_server_start
	run store_rows "$T"
	assert_output $'0|t\n1|t'
	assert_equal "$(log_versions "$TB" | paste -sd ' ')" "0 1"
	run --separate-stderr delta-append bronze <in.ndjson
	assert_success
	assert_equal "$(rows_once)" "90 90"
}

@test "the bucket failing between the claim and N.json: exit 74, the commit stands, and the next reader writes N.json" {
	create
	gen-ticks -a feed -i 1 30 >in.ndjson
	fast=$(lake_mount retries=1)
	STOCKETL_LAKE=$fast/lake-$BATS_TEST_NUMBER ASAN_OPTIONS=$(untraceable) \
		strace -f -qq -o /dev/null -e trace=rename \
		-e inject=rename:delay_enter=3000000:when=1 delta-append bronze <in.ndjson 2>err &
	tracer=$!
	wait_row 1 f
	s3_server_stop
	status=0
	wait "$tracer" || status=$?
	cat err
	assert_equal "$status" 74
	stderr=$(cat err)
	stderr_has "version 1 is committed (claimed in the commit store) but could not be written to _delta_log"
	s3_server_start
	run store_rows "$T"
	assert_output $'0|t\n1|f'
	run --separate-stderr env STOCKETL_LAKE="$HOST_B/lake-$BATS_TEST_NUMBER" delta-cat --columns batch_id bronze
	assert_success
	assert_equal "${#lines[@]}" 30
	run store_rows "$T"
	assert_output $'0|t\n1|t'
	[ -f "$(commit_file "$TB" 1)" ]
	run --separate-stderr delta-append -v bronze <in.ndjson
	assert_success
	stderr_has "batch feed/1: already in the table (txn version 1); skipped"
}

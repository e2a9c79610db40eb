#!/usr/bin/env bats
# delta-append: batches of records into a Delta table, one commit each,
# exactly once; every file it writes is read back by DuckDB.

# shellcheck disable=SC2154 # $stderr and $stderr_lines are set by BATS's run --separate-stderr
load helpers/common

setup() {
	common_setup
	export STOCKETL_LAKE=$TEST_DIR/lake
	SCHEMA=$STOCKETL_ROOT/conf/tables/bronze.schema
	delta-create bronze --schema "$SCHEMA" --partition-by trade_date
	T=$STOCKETL_LAKE/bronze
}

teardown() {
	# the full-disk test's small filesystem, should it have failed before unmounting
	if mountpoint -q "$TEST_DIR/small" 2>/dev/null; then
		umount "$TEST_DIR/small"
	fi
}

# The data files on disk (checkpoints in _delta_log are Parquet too).
data_files() {
	find "$T" -path '*/trade_date=*' -name '*.parquet' | wc -l
}

# How many commit files the table has.
commits() {
	find "$T/_delta_log" -name '*.json' | wc -l
}

log() { printf '%s/_delta_log/%020d.json' "$T" "$1"; }

# The live files of the table, from its JSON commits (no checkpoints here).
live_files() {
	cat "$T"/_delta_log/*.json | jq -r 'select(.add) | .add.path' | sort
}

# DuckDB's reading of every data file of the table, as sorted JSON lines.
duck_rows() {
	duckdb-query.js "SELECT * EXCLUDE (trade_date), trade_date FROM read_parquet('$T/trade_date=*/*.parquet', hive_partitioning = true, hive_types = {'trade_date': DATE}) ORDER BY symbol, trade_timestamp, batch_id"
}

@test "--help prints the usage, which is the man page's SYNOPSIS" {
	run --separate-stderr delta-append --help
	assert_success
	assert_help_matches_man delta-append
}

@test "a batch of one record is said in the singular" {
	gen-ticks -a one -i 1750000000000001 1 >in.ndjson
	run --separate-stderr delta-append -v bronze <in.ndjson
	assert_success
	assert_equal "${stderr_lines[0]}" "delta-append: committed version 1: 1 record for one"
}

@test "a batch becomes one commit with its txn, an add per partition and exact stats" {
	gen-ticks -a test -i 1750000000000001 8 >in.ndjson
	run --separate-stderr delta-append -v bronze <in.ndjson
	assert_success
	assert_output ""
	assert_equal "${stderr_lines[0]}" "delta-append: committed version 1: 8 records for test"
	run jq -c 'select(.txn) | .txn | [.appId, .version]' "$(log 1)"
	assert_output '["test",1750000000000001]'
	run jq -c 'select(.commitInfo) | .commitInfo | [.operation, .readVersion, .isBlindAppend, .operationMetrics.numOutputRows]' "$(log 1)"
	assert_output '["WRITE",0,true,"8"]'
	run jq -r 'select(.add) | "\(.add.partitionValues.trade_date) \(.add.dataChange) \(.add.stats | fromjson | .numRecords)"' "$(log 1)"
	assert_output "2025-06-02 true 8"
	run jq -r 'select(.add) | .add.path' "$(log 1)"
	assert_output --regexp '^trade_date=2025-06-02/part-00000-[0-9a-f-]{36}-c000\.zstd\.parquet$'
	[ -f "$T/$output" ]
	want=$(jq -s -c '[.[] | select(.open)] | [(map(.open) | min), (map(.high) | max), (map(.trade_timestamp) | min | sub("Z$"; ".000Z")), (map(.symbol) | max), 0, false]' in.ndjson)
	run jq -c 'select(.add) | .add.stats | fromjson | [.minValues.open, .maxValues.high, .minValues.trade_timestamp, .maxValues.symbol, .nullCount.volume, (.minValues | has("trade_date"))]' "$(log 1)"
	assert_output "$want"
	assert_output '[124.9846,200.02,"2025-06-02T13:30:00.000Z","TSLA",0,false]'
}

@test "DuckDB reads every file back with the values that went in, decimals exact" {
	gen-ticks -a test -s 3 -d 20241 900 >in.ndjson
	delta-append bronze <in.ndjson
	duck_rows >duck.ndjson
	assert_equal "$(wc -l <duck.ndjson)" 900
	grep -v '"@batch"' in.ndjson | jq -S -c '.open |= tostring | .high |= tostring | .low |= tostring | .close |= tostring' | sort >want
	jq -S -c '.open |= tostring | .high |= tostring | .low |= tostring | .close |= tostring' duck.ndjson | sort >got
	run diff want got
	assert_success
}

@test "stats in every add agree with DuckDB's min, max and null counts of the file" {
	gen-ticks -a test -s 4 1600 >in.ndjson
	delta-append bronze <in.ndjson
	for f in $(live_files); do
		want=$(jq -r --arg p "$f" 'select(.add.path == $p) | .add.stats | fromjson | "\(.numRecords) \(.minValues.low) \(.maxValues.high) \(.minValues.volume) \(.maxValues.trade_timestamp) \(.nullCount.close)"' "$T"/_delta_log/*.json)
		got=$(duckdb-query.js "SELECT count(*) AS n, min(low)::VARCHAR AS a, max(high)::VARCHAR AS b, min(volume) AS c, strftime(max(trade_timestamp) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS d, count(*) - count(close) AS e FROM read_parquet('$T/$f')" |
			jq -r '"\(.n) \(.a | tonumber) \(.b | tonumber) \(.c) \(.d) \(.e)"')
		want=$(awk '{ $2 = $2 + 0; $3 = $3 + 0; print }' <<<"$want")
		got=$(awk '{ $2 = $2 + 0; $3 = $3 + 0; print }' <<<"$got")
		assert_equal "$got" "$want"
	done
}

@test "a replayed stream is skipped: each batch loads exactly once" {
	gen-ticks -a feed -b 3 -i 100 5 >in.ndjson
	run --separate-stderr delta-append bronze <in.ndjson
	assert_success
	run --separate-stderr delta-append -v bronze <in.ndjson
	assert_success
	assert_equal "${stderr_lines[0]}" "delta-append: batch feed/100: already in the table (txn version 102); skipped"
	assert_equal "${stderr_lines[3]}" "delta-append: bronze: nothing committed"
	assert_equal "${stderr_lines[4]}" "delta-append: bronze: 3 batches skipped as already loaded"
	assert_equal "$(commits)" 4
	assert_equal "$(data_files)" "$(live_files | wc -l)"
	# a stream that repeats old batches and then carries a new one loads only the new one
	gen-ticks -a feed -b 4 -i 100 5 | delta-append bronze
	assert_equal "$(commits)" 5
	run jq -c 'select(.txn) | .txn.version' "$(log 4)"
	assert_output 103
}

@test "--app-id replaces the marker's app as the txn application" {
	gen-ticks -a feed -i 7 2 | delta-append --app-id other bronze
	run jq -c 'select(.txn) | [.txn.appId, .txn.version]' "$(log 1)"
	assert_output '["other",7]'
}

@test "a marker without app takes --app-id; with neither the batch is refused, naming its line" {
	# needs the record library's markers without app (struct rec_batch.app "")
	gen-ticks -a feed -i 5 2 | sed 's/"app":"feed",//' >noapp.ndjson
	gen-ticks -a feed -i 6 2 >>noapp.ndjson
	run --separate-stderr delta-append bronze noapp.ndjson
	assert_failure 65
	assert_equal "${stderr_lines[0]}" "delta-append: noapp.ndjson: line 3: batch 5: the marker names no app, so the batch cannot be loaded exactly once; give the producer an app name or pass --app-id; not committed"
	assert_equal "${stderr_lines[1]}" "delta-append: bronze: version 1: 1 batch, 2 records, 1 file"
	run jq -c 'select(.txn) | [.txn.appId, .txn.version]' "$(log 1)"
	assert_output '["feed",6]'
	run --separate-stderr delta-append --app-id backfill bronze noapp.ndjson
	assert_success
	run jq -c 'select(.txn) | [.txn.appId, .txn.version]' "$(log 2)" "$(log 3)"
	assert_output $'["backfill",5]\n["backfill",6]'
}

@test "a malformed marker fails only the batch it ends, reported with its line" {
	# needs the record library's REC_BAD_MARKER
	{
		gen-ticks -a feed -i 1 2 | sed '3s/"records":2/"records":2,"records":2/'
		gen-ticks -a feed -i 2 3
	} >in.ndjson
	run --separate-stderr delta-append bronze in.ndjson
	assert_failure 65
	assert_regex "${stderr_lines[0]}" '^delta-append: in\.ndjson: line 3: malformed batch marker: .*; the batch it ends \(2 records\) is not committed$'
	assert_equal "${stderr_lines[1]}" "delta-append: bronze: version 1: 1 batch, 3 records, 1 file"
	assert_equal "${stderr_lines[2]}" "delta-append: bronze: 1 batch not committed"
	run jq -c 'select(.txn) | .txn.version' "$(log 1)"
	assert_output 2
	assert_equal "$(data_files)" 1
}

@test "a batch whose id goes backwards for its app is skipped with a message; exit 1" {
	{
		gen-ticks -a feed -i 5 2
		gen-ticks -a feed -i 3 2
		gen-ticks -a feed -i 7 2
	} >in.ndjson
	run --separate-stderr delta-append bronze in.ndjson
	assert_failure 1
	assert_equal "${stderr_lines[0]}" "delta-append: in.ndjson: batch feed/3 comes after batch feed/5 in the stream, and batch ids must increase; skipped"
	assert_equal "${stderr_lines[1]}" "delta-append: bronze: versions 1-2: 2 batches, 4 records, 2 files"
	assert_equal "${stderr_lines[2]}" "delta-append: bronze: 1 batch skipped as already loaded"
	run bash -c "cat '$T'/_delta_log/*.json | jq -c 'select(.txn) | .txn.version'"
	assert_output $'5\n7'
	assert_equal "$(data_files)" 2
}

@test "per-record messages are bounded: the first 20, then how many more" {
	printf 'a long\n' >plain.schema
	delta-create plain --schema plain.schema
	{
		seq 2000 | sed 's/.*/{"a":&} x/'
		printf '{"@batch":{"app":"feed","id":1,"records":2000,"rejected":0,"status":"ok"}}\n'
	} >bad.ndjson
	run --separate-stderr delta-append plain bad.ndjson
	assert_failure 65
	assert_equal "${stderr_lines[0]}" 'delta-append: bad.ndjson: record 1: invalid JSON: trailing characters after the value'
	assert_equal "${stderr_lines[19]}" 'delta-append: bad.ndjson: record 20: invalid JSON: trailing characters after the value'
	assert_equal "${stderr_lines[20]}" "delta-append: bad.ndjson: batch feed/1 has rejected records; not committed"
	assert_equal "${stderr_lines[21]}" "delta-append: ... and 1980 more"
	assert_equal "${#stderr_lines[@]}" 24
	run --separate-stderr delta-append -v plain bad.ndjson
	assert_equal "$(grep -c 'trailing characters' <<<"$stderr")" 2000
}

@test "the summary says what was committed and what was not; -q silences it" {
	gen-ticks -a feed -b 3 -i 1 5 >in.ndjson
	run --separate-stderr delta-append bronze in.ndjson
	assert_success
	assert_equal "$stderr" "delta-append: bronze: versions 1-3: 3 batches, 15 records, 3 files"
	gen-ticks -a feed -b 4 -i 1 5 >more.ndjson
	run --separate-stderr delta-append bronze more.ndjson
	assert_success
	assert_equal "$stderr" "delta-append: bronze: version 4: 1 batch, 5 records, 1 file
delta-append: bronze: 3 batches skipped as already loaded"
	run --separate-stderr delta-append -q bronze more.ndjson
	assert_success
	assert_equal "$stderr" ""
}

@test "a missing or unreadable input is reported, the next one loaded, and the status is 74" {
	gen-ticks -a feed -i 1 4 >good.ndjson
	mkdir adir
	run --separate-stderr delta-append bronze nosuch.ndjson adir good.ndjson
	assert_failure 74
	assert_equal "${stderr_lines[0]}" "delta-append: nosuch.ndjson: No such file or directory"
	assert_regex "${stderr_lines[1]}" "^delta-append: adir: .*Is a directory"
	assert_equal "${stderr_lines[2]}" "delta-append: bronze: version 1: 1 batch, 4 records, 1 file"
	assert_equal "$(commits)" 2
}

@test "a writer far behind moves past other writers' appends at no cost: both end 0, every row once" {
	gen-ticks -a slow -b 2 -i 1 -d 20100 2 >g
	(head -3 g; sleep 3; sed -n 4,6p g) | delta-append --app-id slow bronze 2>slow.err &
	slow=$!
	for _ in $(seq 100); do
		[ -f "$(log 1)" ] && break
		sleep 0.05
	done
	run --separate-stderr bash -c 'gen-ticks -a fast -b 20 -i 1 -d 20200 3 | delta-append bronze'
	assert_success
	status=0
	wait "$slow" || status=$?
	cat slow.err
	assert_equal "$status" 0
	assert_equal "$(commits)" 23
	total=$(duckdb-query.js "SELECT count(*) AS n, count(DISTINCT (symbol, trade_timestamp, batch_id, trade_date)) AS d FROM read_parquet('$T/trade_date=*/*.parquet')" | jq -c .)
	assert_equal "$total" '{"n":64,"d":64}'
	run bash -c "cat '$T'/_delta_log/*.json | jq -r 'select(.txn) | \"\(.txn.appId)/\(.txn.version)\"' | sort | uniq -d"
	assert_output ""
}

@test "a batch marked failed upstream is not committed and leaves no files; exit 2" {
	gen-ticks -a feed -i 1 3 | sed 's/"status":"ok"/"status":"failed"/' >in.ndjson
	gen-ticks -a feed -i 2 2 >>in.ndjson
	run --separate-stderr delta-append bronze <in.ndjson
	assert_failure 2
	assert_equal "$stderr" "delta-append: stdin: batch feed/1 is marked failed upstream; not committed
delta-append: bronze: version 1: 1 batch, 2 records, 1 file
delta-append: bronze: 1 batch not committed"
	assert_equal "$(commits)" 2
	assert_equal "$(data_files)" 1
	run jq -c 'select(.txn) | .txn.version' "$(log 1)"
	assert_output 2
}

@test "a batch whose count does not match its marker is not committed; exit 65" {
	gen-ticks -a feed -i 1 3 | sed 's/"records":3/"records":4/' | {
		run --separate-stderr delta-append -q bronze
		assert_failure 65
		assert_equal "$stderr" "delta-append: stdin: batch feed/1 says 4 records but 3 arrived; not committed"
	}
	assert_equal "$(commits)" 1
	assert_equal "$(data_files)" 0
}

@test "input that ends inside a batch commits nothing of that batch" {
	gen-ticks -a feed -b 2 -i 1 3 | head -n 6 >in.ndjson
	run --separate-stderr delta-append bronze <in.ndjson
	assert_failure 65
	assert_equal "${stderr_lines[0]}" "delta-append: stdin: input ended inside a batch (2 records without their marker); not committed"
	assert_equal "${stderr_lines[1]}" "delta-append: bronze: version 1: 1 batch, 3 records, 1 file"
	assert_equal "${stderr_lines[2]}" "delta-append: bronze: 1 batch not committed"
	assert_equal "$(commits)" 2
	assert_equal "$(data_files)" "$(live_files | wc -l)"
}

@test "plain records without markers or batch_id are one batch, committed at the end without a txn" {
	printf 'a long\nb string\n' >plain.schema
	delta-create plain --schema plain.schema
	printf '{"a":%d,"b":"x"}\n' 1 2 3 4 5 6 7 8 >in.ndjson
	run --separate-stderr delta-append plain in.ndjson
	assert_success
	assert_equal "$stderr" "delta-append: plain: version 1: 1 batch, 8 records, 1 file"
	P=$STOCKETL_LAKE/plain/_delta_log/00000000000000000001.json
	run jq -c 'select(.txn)' "$P"
	assert_output ""
	run jq -r 'select(.commitInfo) | .commitInfo.operationMetrics.numOutputRows' "$P"
	assert_output 8
	# --app-id alone cannot make such a load idempotent, and says so
	run --separate-stderr delta-append --app-id plain-load plain in.ndjson
	assert_success
	assert_equal "${stderr_lines[0]}" "delta-append: in.ndjson: the input has no batch markers and no --batch-id, so loading it is not idempotent: running it again loads it again"
}

@test "tick records cut before their first marker are a cut batch: not committed" {
	# tick records carry batch_id: without their marker, upstream stopped mid-batch
	gen-ticks -a feed -i 7 5 | head -n 3 >cut.ndjson
	run --separate-stderr delta-append bronze cut.ndjson
	assert_failure 65
	assert_equal "${stderr_lines[0]}" "delta-append: cut.ndjson: input ended inside a batch (3 records carrying batch_id, and no batch marker); not committed (to load a stream without markers, name it with --app-id and --batch-id)"
	assert_equal "$(commits)" 1
	assert_equal "$(data_files)" 0
	# the whole stream, replayed later, loads its batch once
	gen-ticks -a feed -i 7 5 | delta-append bronze
	assert_equal "$(duckdb-query.js "SELECT count(*) AS n FROM read_parquet('$T/trade_date=*/*.parquet')" | jq .n)" 5
}

@test "--app-id with --batch-id gives a stream without markers its txn: a rerun is skipped" {
	gen-ticks -m -b 2 4 >backfill.ndjson
	run --separate-stderr delta-append --app-id backfill --batch-id 20240101 bronze backfill.ndjson
	assert_success
	assert_equal "$stderr" "delta-append: bronze: version 1: 1 batch, 8 records, 1 file"
	run jq -c 'select(.txn) | [.txn.appId, .txn.version]' "$(log 1)"
	assert_output '["backfill",20240101]'
	run --separate-stderr delta-append -v --app-id backfill --batch-id 20240101 bronze backfill.ndjson
	assert_success
	assert_equal "${stderr_lines[0]}" "delta-append: batch backfill/20240101: already in the table (txn version 20240101); skipped"
	assert_equal "$(commits)" 2
	assert_equal "$(data_files)" 1
	run --separate-stderr delta-append --batch-id 1 bronze backfill.ndjson
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "delta-append: --batch-id needs --app-id"
	run --separate-stderr delta-append --app-id x --batch-id 1 bronze backfill.ndjson backfill.ndjson
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "delta-append: --batch-id names one batch: give one input"
}

@test "bad records are errors with their record number and their batch is not committed" {
	{
		gen-ticks -a feed -i 1 2 | sed '2s/"volume":[0-9]*/"volume":"lots"/'
		gen-ticks -a feed -i 2 2 | sed '1s/"source"/"sauce"/'
		gen-ticks -a feed -i 3 2 | sed '2s/,"symbol":"[A-Z]*"//; 2s/"symbol":"[A-Z]*",//'
		gen-ticks -a feed -i 4 2 | sed '1s/"open":[0-9.]*/"open":1.1234567/'
		gen-ticks -a feed -i 5 2 | sed '1s/$/ x/'
		gen-ticks -a feed -i 6 2
	} >in.ndjson
	run --separate-stderr delta-append bronze <in.ndjson
	assert_failure 65
	assert_equal "${stderr_lines[0]}" "delta-append: stdin: record 2: column \"volume\" (long): expected a 64-bit integer"
	assert_equal "${stderr_lines[1]}" "delta-append: stdin: batch feed/1 has rejected records; not committed"
	assert_equal "${stderr_lines[2]}" "delta-append: stdin: record 4: unknown column \"sauce\""
	assert_equal "${stderr_lines[4]}" "delta-append: stdin: record 8: column \"symbol\" (string): missing, and the column is not nullable"
	assert_equal "${stderr_lines[6]}" "delta-append: stdin: record 10: column \"open\" (decimal(18,6)): decimal \"1.1234567\" has more than 6 fractional digits"
	assert_equal "${stderr_lines[8]}" "delta-append: stdin: record 13: invalid JSON: trailing characters after the value"
	assert_equal "${stderr_lines[10]}" "delta-append: bronze: version 1: 1 batch, 2 records, 1 file"
	assert_equal "${stderr_lines[11]}" "delta-append: bronze: 5 batches not committed"
	assert_equal "${#stderr_lines[@]}" 12
	assert_equal "$(commits)" 2
	run jq -c 'select(.txn) | .txn.version' "$(log 1)"
	assert_output 6
	assert_equal "$(data_files)" 1
}

@test "files roll over at the target size; each is a complete Parquet file" {
	gen-ticks -a feed -s 4 20000 >in.ndjson
	run --separate-stderr delta-append --target-file-size 65536 bronze <in.ndjson
	assert_success
	n=$(live_files | wc -l)
	[ "$n" -gt 4 ]
	total=$(duckdb-query.js "SELECT count(*) AS n FROM read_parquet('$T/trade_date=*/*.parquet')" | jq .n)
	assert_equal "$total" 20000
	run jq -s '[.[] | select(.add) | .add.stats | fromjson | .numRecords] | add' "$(log 1)"
	assert_output 20000
}

@test "a checkpoint every delta.checkpointInterval commits, read by DuckDB and by replay" {
	delta-create cp --schema "$SCHEMA" --partition-by trade_date --property delta.checkpointInterval=3
	gen-ticks -a feed -b 7 -i 1 4 | delta-append -v cp 2>err
	grep -q "wrote the checkpoint of version 3" err
	grep -q "wrote the checkpoint of version 6" err
	C=$STOCKETL_LAKE/cp/_delta_log
	[ -f "$C/00000000000000000006.checkpoint.parquet" ]
	run jq -c . "$C/_last_checkpoint"
	assert_output --regexp '^\{"version":6,"size":9,"sizeInBytes":[0-9]+,"numOfAddFiles":6,"checksum":"[0-9a-f]{32}"\}$'
	run duckdb-query.js "SELECT count(*) FILTER (WHERE add IS NOT NULL) AS adds, count(*) FILTER (WHERE txn IS NOT NULL) AS txns, max(txn.version) AS v, count(*) FILTER (WHERE protocol IS NOT NULL) AS p, max(metaData.partitionColumns[1]) AS pc FROM read_parquet('$C/00000000000000000006.checkpoint.parquet')"
	assert_output '{"adds":6,"txns":1,"v":6,"p":1,"pc":"trade_date"}'
	# replay from the checkpoint keeps exactly-once: the same stream again loads nothing
	run --separate-stderr bash -c "gen-ticks -a feed -b 7 -i 1 4 | delta-append cp"
	assert_success
	assert_equal "$(find "$C" -name '*.json' | wc -l)" 8
}

# Strings long enough to be shortened, each partition's cut falling inside a
# character of another length (U+00E9, U+20AC, U+1F600, U+10FFFF).  DuckDB
# shows a statistic that is not UTF-8 with its bytes as \xNN.
@test "string statistics shortened to 64 bytes (footers, checkpoint) or 32 characters (log) stay UTF-8 and bound every value" {
	printf 'p string\nid long\ns string\n' >u.schema
	delta-create u --schema u.schema --partition-by p --property delta.checkpointInterval=1
	U=$STOCKETL_LAKE/u
	jq -nc '("é" * 40) as $e | "\udbff\udfff" as $top |
		{p: ("x" + $e), id: 1, s: ("a" * 63 + "é")}, {p: ("x" + $e), id: 2, s: ("a" * 63 + "éz")},
		{p: ("y" + $e), id: 3, s: ("€" * 40)}, {p: ("y" + $e), id: 4, s: ("€" * 39 + "a")},
		{p: ("z" + $e), id: 5, s: ("a" + "😀" * 40)}, {p: ("z" + $e), id: 6, s: ("a" + $top * 40)},
		{p: ("w" + $e), id: 7, s: ($top * 40)}' >in.ndjson
	run --separate-stderr delta-append --app-id a --batch-id 1 u <in.ndjson
	assert_success
	# each footer: the min cut back to a character, the max rounded up to the
	# next character that fits (none above U+10FFFF), both marked inexact
	run duckdb-query.js "SELECT stats_min_value AS lo, stats_max_value AS hi, min_is_exact, max_is_exact FROM parquet_metadata('$U/p=*/*.parquet') WHERE path_in_schema = 's' ORDER BY lo"
	assert_success
	assert_output "$(jq -nc '"\udbff\udfff" as $top |
		{lo: ("a" * 63), hi: ("a" * 62 + "b"), min_is_exact: false, max_is_exact: false},
		{lo: ("a" + "😀" * 15), hi: "b", min_is_exact: false, max_is_exact: false},
		{lo: ("€" * 21), hi: ("€" * 20 + "₭"), min_is_exact: false, max_is_exact: false},
		{lo: ($top * 16), hi: null, min_is_exact: false, max_is_exact: null}')"
	run duckdb-query.js "SELECT count(*) AS outside FROM read_parquet('$U/p=*/*.parquet', filename = true) AS r JOIN parquet_metadata('$U/p=*/*.parquet') AS m ON m.file_name = r.filename AND m.path_in_schema = 's' WHERE r.s < m.stats_min_value OR r.s > m.stats_max_value"
	assert_output '{"outside":0}'
	# DuckDB's filters, which skip files by those bounds, find every row
	from="FROM read_parquet('$U/p=*/*.parquet')"
	queries=()
	for id in 1 2 3 4 5 6 7; do
		queries+=("SELECT list(id) AS ids $from WHERE s = '$(jq -r --argjson id "$id" 'select(.id == $id) | .s' in.ndjson)'")
	done
	queries+=("SELECT list(id ORDER BY id) AS ids $from WHERE s >= 'b'")
	queries+=("SELECT list(id ORDER BY id) AS ids $from WHERE s > 'a' || repeat('😀', 39)")
	queries+=("SELECT list(id ORDER BY id) AS ids $from WHERE s < '€€€'")
	run duckdb-query.js --each "${queries[@]}"
	assert_success
	assert_output "$(for ids in 1 2 3 4 5 6 7 3,4,7 3,4,5,6,7 1,2,5,6; do
		printf '{"ids":[%s]}\n' "$ids"
		printf '{"@end":%d}\n' "$((++k))"
	done)"
	# the log: UTF-8 JSON, minimums cut to 32 characters, longer maximums left out
	iconv -f UTF-8 -t UTF-8 "$U/_delta_log/00000000000000000001.json" >/dev/null
	run jq -s -c '[.[] | select(.add) | .add.stats | fromjson | [.minValues.s, .maxValues.s]] | sort | .[]' "$U/_delta_log/00000000000000000001.json"
	assert_output "$(jq -nc '"\udbff\udfff" as $top |
		["a" * 32, null], ["a" + "😀" * 31, null], ["€" * 32, null], [$top * 32, null]')"
	# the checkpoint: its partition values are cut inside an é, and no statistic is other than UTF-8
	C=$U/_delta_log/00000000000000000001.checkpoint.parquet
	run duckdb-query.js "SELECT stats_min_value AS lo, stats_max_value AS hi FROM parquet_metadata('$C') WHERE path_in_schema = 'add, partitionValues, key_value, value'"
	assert_output "$(jq -nc '{lo: ("w" + "é" * 31), hi: ("z" + "é" * 30 + "ê")}')"
	run duckdb-query.js "SELECT list(path_in_schema) AS bad FROM parquet_metadata('$C') WHERE contains(stats_min_value, '\\x') OR contains(stats_max_value, '\\x')"
	assert_output '{"bad":null}'
}

@test "refuses tables whose protocol or features it does not implement, naming them" {
	cp -r "$FIXTURES/delta/delta-rs/simple_table_features" features
	chmod -R u+w features
	run --separate-stderr delta-append ./features </dev/null
	assert_failure 65
	assert_equal "$stderr" "delta-append: ./features: reader version 5 (reader features blahabl) is not supported; this reads versions 1 and 2, and 3 with the features timestampNtz, deletionVectors, columnMapping, typeWidening, vacuumProtocolCheck and v2Checkpoint"
	run --separate-stderr delta-append nosuch </dev/null
	assert_failure 65
	assert_equal "$stderr" "delta-append: $STOCKETL_LAKE/nosuch: not a Delta table (no _delta_log) (create it with delta-create)"
}

@test "appends to a copy of a Spark-written table: DuckDB reads every file, old rows plus new" {
	cp -r "$FIXTURES/delta/dat/basic_append/delta" spark
	chmod -R u+w spark
	printf '%s\n' '{"letter":"x","number":10,"a_float":1.5}' '{"letter":null,"number":11,"a_float":null}' \
		'{"@batch":{"app":"a","id":1,"records":2,"rejected":0,"status":"ok"}}' >in.ndjson
	run --separate-stderr delta-append ./spark <in.ndjson
	assert_success
	[ -f spark/_delta_log/00000000000000000002.json ]
	files=$(cat spark/_delta_log/*.json | jq -r 'select(.add) | .add.path' | sed "s|^|'$PWD/spark/|; s|$|'|" | paste -sd,)
	run duckdb-query.js "SELECT letter, number, a_float FROM read_parquet([$files]) ORDER BY number"
	assert_output "$(printf '%s\n' '{"letter":"a","number":1,"a_float":1.1}' '{"letter":"b","number":2,"a_float":2.2}' '{"letter":"c","number":3,"a_float":3.3}' '{"letter":"d","number":4,"a_float":4.4}' '{"letter":"e","number":5,"a_float":5.5}' '{"letter":"x","number":10,"a_float":1.5}' '{"letter":null,"number":11,"a_float":null}')"
}

@test "SIGTERM commits no partial batch and exits" {
	mkfifo pipe
	{ gen-ticks -a feed -i 1 3; gen-ticks -a feed -i 2 2 | head -n 1; sleep 30; } >pipe &
	writer=$!
	delta-append -v bronze <pipe 2>err &
	pid=$!
	for _ in $(seq 100); do
		[ -f "$(log 1)" ] && break
		sleep 0.1
	done
	sleep 0.3
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	assert_equal "$status" 75
	kill "$writer" 2>/dev/null || true
	grep -q "stopped by signal 15; the batch in progress (1 records) is not committed" err
	assert_equal "$(commits)" 2
	assert_equal "$(data_files)" "$(live_files | wc -l)"
}

@test "four writers appending 25 batches each end with 100 commits and every row exactly once" {
	for w in 1 2 3 4; do
		gen-ticks -a "writer$w" -b 25 -i 1 -d $((20000 + w)) 3 | delta-append --commit-retries 200 bronze 2>"err$w" &
	done
	wait
	cat err1 err2 err3 err4
	assert_equal "$(commits)" 101
	# versions are contiguous and each holds one batch of one writer
	run bash -c "cat '$T'/_delta_log/*.json | jq -r 'select(.txn) | \"\(.txn.appId) \(.txn.version)\"' | sort | uniq -d"
	assert_output ""
	assert_equal "$(cat "$T"/_delta_log/*.json | jq -r 'select(.txn) | .txn.appId' | sort | uniq -c | awk '{print $1}' | sort -u)" 25
	total=$(duckdb-query.js "SELECT count(*) AS n, count(DISTINCT (symbol, trade_timestamp, batch_id, trade_date)) AS d FROM read_parquet('$T/trade_date=*/*.parquet')" | jq -c .)
	assert_equal "$total" '{"n":300,"d":300}'
	assert_equal "$(data_files)" "$(live_files | wc -l)"
}

@test "kill -9 at random moments always leaves a table that replays; re-running loads each batch once" {
	gen-ticks -a crash -b 8 -i 1 1500 >in.ndjson
	for round in $(seq 25); do
		delta-append --commit-retries 0 bronze <in.ndjson 2>/dev/null &
		pid=$!
		sleep "0.$(( (round * 7919) % 40 ))"
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		# every live file exists and the log replays
		for f in $(live_files); do
			[ -f "$T/$f" ] || fail "round $round: live file $f is missing"
		done
		run --separate-stderr delta-create bronze --schema "$SCHEMA" --partition-by trade_date
		assert_success
	done
	run --separate-stderr delta-append bronze <in.ndjson
	assert_success
	run bash -c "cat '$T'/_delta_log/*.json | jq -r 'select(.txn) | .txn.version' | sort -n | uniq -c | awk '{print \$1}' | sort -u"
	assert_output 1
	live=$(live_files | sed "s|^|'$T/|; s|$|'|" | paste -sd,)
	run duckdb-query.js "SELECT batch_id, count(*) AS n FROM read_parquet([$live]) GROUP BY batch_id ORDER BY batch_id"
	assert_output "$(for i in 1 2 3 4 5 6 7 8; do printf '{"batch_id":%d,"n":1500}\n' "$i"; done)"
}

@test "a full disk is exit 74: nothing is committed and the batch's files are removed" {
	test_lake_skip "the full disk is a small tmpfs mounted for the test, a local disk and not the bucket"
	[ "$(id -u)" -eq 0 ] || skip "mounting a small filesystem needs root"
	mkdir small
	mount -t tmpfs -o size=512k tmpfs small
	delta-create ./small/t --schema "$SCHEMA" --partition-by trade_date
	gen-ticks -a feed -i 1 -s 4 40000 >in.ndjson
	run --separate-stderr delta-append ./small/t <in.ndjson
	status_was=$status
	files=$(find small/t -name '*.parquet' | wc -l)
	commits=$(find small/t/_delta_log -name '*.json' | wc -l)
	umount small
	assert_equal "$status_was" 74
	assert_regex "$stderr" "No space left on device"
	assert_equal "$files" 0
	assert_equal "$commits" 1
}

@test "float partition values are written as Spark writes and reads them (NaN, Infinity, -Infinity), -0.0 and 0.0 are partitions of their own, and a NUL in a string partition value is a bad record" {
	printf 'v long\np double\n' >d.schema
	delta-create ./fp --schema d.schema --partition-by p
	printf '%s\n' '{"v":1,"p":"NaN"}' '{"v":2,"p":-0.0}' '{"v":3,"p":0.0}' '{"v":4,"p":"-Infinity"}' \
		'{"v":5,"p":"Infinity"}' '{"v":6,"p":1.5}' | delta-append -q --app-id a --batch-id 1 ./fp
	run bash -c "jq -r 'select(.add) | .add.partitionValues.p' fp/_delta_log/*1.json | sort"
	assert_output $'-0.0\n-Infinity\n0.0\n1.5\nInfinity\nNaN'
	run bash -c "delta-cat ./fp | sort"
	assert_output $'{"v":1,"p":"NaN"}\n{"v":2,"p":-0.0}\n{"v":3,"p":0.0}\n{"v":4,"p":"-Infinity"}\n{"v":5,"p":"Infinity"}\n{"v":6,"p":1.5}'
	run bash -c "delta-cat --where 'p = 0.0' --columns v ./fp | jq -r .v | sort"
	assert_output $'2\n3'
	printf 'v long\np string\n' >s.schema
	delta-create ./sp --schema s.schema --partition-by p
	run --separate-stderr delta-append ./sp <<-'IN'
		{"v":1,"p":"IBM"}
		{"v":2,"p":"IBM\u0000X"}
		{"@batch":{"app":"a","id":1,"records":2,"status":"ok"}}
		{"v":3,"p":"IBM"}
		{"@batch":{"app":"a","id":2,"records":1,"status":"ok"}}
	IN
	assert_failure 65
	assert_equal "${stderr_lines[0]}" 'delta-append: stdin: record 2: column "p": a partition value cannot hold a NUL character'
	assert_equal "${stderr_lines[1]}" 'delta-append: stdin: batch a/1 has rejected records; not committed'
	assert_equal "$(delta-cat ./sp | jq -c .)" '{"v":3,"p":"IBM"}'
}

@test "a number past the largest double or float is a bad record, never taken for Infinity, and so is "-NaN"; the words Infinity and NaN are kept" {
	printf 'v long\nd double\nf float\n' >dd.schema
	delta-create ./dd --schema dd.schema
	run --separate-stderr bash -c "echo '{\"v\":1,\"d\":1e400,\"f\":1}' | delta-append --app-id a --batch-id 1 ./dd"
	assert_failure 65
	assert_equal "${stderr_lines[0]}" 'delta-append: stdin: record 1: column "d" (double): out of range for double'
	run --separate-stderr bash -c "echo '{\"v\":2,\"d\":1,\"f\":1e39}' | delta-append --app-id a --batch-id 1 ./dd"
	assert_failure 65
	assert_equal "${stderr_lines[0]}" 'delta-append: stdin: record 1: column "f" (float): out of range for float'
	# NaN is "NaN" alone: strtod's signed forms are no number
	run --separate-stderr bash -c "echo '{\"v\":2,\"d\":\"-NaN\",\"f\":1}' | delta-append --app-id a --batch-id 1 ./dd"
	assert_failure 65
	assert_equal "${stderr_lines[0]}" 'delta-append: stdin: record 1: column "d" (double): expected a number'
	printf '%s\n' '{"v":3,"d":"Infinity","f":"-Infinity"}' '{"v":4,"d":-1e308,"f":"NaN"}' |
		delta-append -q --app-id a --batch-id 1 ./dd
	run delta-cat ./dd
	assert_output $'{"v":3,"d":"Infinity","f":"-Infinity"}\n{"v":4,"d":-1e+308,"f":"NaN"}'
}

@test "the largest float as floats are printed (3.4028235e+38) is taken, in records and in --where; the next one up is out of range" {
	printf 'v long\nf float\n' >ff.schema
	delta-create ./ff --schema ff.schema
	printf '%s\n' '{"v":1,"f":3.4028235e+38}' '{"v":2,"f":-3.4028235e38}' | delta-append -q --app-id a --batch-id 1 ./ff
	run delta-cat ./ff
	assert_output $'{"v":1,"f":3.4028235e+38}\n{"v":2,"f":-3.4028235e+38}'
	# what delta-cat prints is taken back
	delta-cat ./ff | delta-append -q --app-id a --batch-id 2 ./ff
	run delta-cat ./ff --where "f = 3.4028235e38"
	assert_output $'{"v":1,"f":3.4028235e+38}\n{"v":1,"f":3.4028235e+38}'
	# past halfway to the next power of two, a float rounds to Infinity
	run --separate-stderr bash -c "echo '{\"v\":3,\"f\":3.4028236e38}' | delta-append --app-id a --batch-id 3 ./ff"
	assert_failure 65
	assert_equal "${stderr_lines[0]}" 'delta-append: stdin: record 1: column "f" (float): out of range for float'
	run --separate-stderr delta-cat ./ff --where "f < 3.4028236e38"
	assert_failure 64
}

@test "a tick frame whose text is not UTF-8 is a bad record: nothing committed, and the log stays JSON" {
	delta-create ./b --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	run --separate-stderr delta-append --app-id a --batch-id 1 ./b "$FIXTURES/not-utf8/symbol.bin"
	assert_failure 65
	assert_equal "${stderr_lines[0]}" "delta-append: $FIXTURES/not-utf8/symbol.bin: record 1: malformed tick frame"
	assert_equal "$(delta-history --format json ./b | jq -s length)" 1
	run -0 delta-append --txn-version a ./b
	assert_output -- -1
}

# The rows of a table of tests/fixtures/nested, maps with keys that are not
# strings turned from delta-cat's [{"key": k, "value": v}] into objects, as
# DuckDB prints them; numbers as jq reads them (101.5 and 101.500000 alike).
nested_rows() {
	jq -S -c '.byint |= (if type == "array" then map({key: (.key | tostring), value}) | from_entries else . end)'
}

@test "structs, arrays and maps: nested JSON is written as Parquet's nested groups, read back by delta-cat and DuckDB alike, with Spark's statistics" {
	local nx=$FIXTURES/nested
	delta-create -q ./n --schema "$nx/schema.json"
	run --separate-stderr delta-append ./n "$nx/rows.ndjson"
	assert_success
	assert_equal "$stderr" 'delta-append: ./n: version 1: 1 batch, 4 records, 1 file'
	run -0 delta-cat ./n
	assert_output "$(cat "$nx/rows.expected")"
	f=$(jq -r 'select(.add) | .add.path' ./n/_delta_log/00000000000000000001.json)
	# Parquet's three-level LIST and MAP groups, as DuckDB (and Spark) read them
	duckdb-query.js "SELECT * FROM read_parquet('./n/$f') ORDER BY id" | nested_rows >duck
	nested_rows <"$nx/rows.expected" >ours
	diff ours duck
	# struct fields' bounds nested in the struct's; no bounds for booleans,
	# binary, arrays and maps; null counts of struct fields count the
	# struct's own nulls; an array's or a map's is the column's own
	run -0 jq -r 'select(.add) | .add.stats' ./n/_delta_log/00000000000000000001.json
	assert_output '{"numRecords":4,"minValues":{"id":1,"day":"2024-03-10","quote":{"bid":-0.000001,"ask":101.6000000001,"at":"2024-03-10T14:30:00.000Z","venue":{"code":"XNAS"}}},"maxValues":{"id":4,"day":"2024-03-10","quote":{"bid":101.500000,"ask":101.6000000001,"at":"2024-03-10T14:30:00.000Z","venue":{"code":"Ünïcode \"q\""}}},"nullCount":{"id":0,"day":3,"quote":{"bid":2,"ask":3,"at":3,"venue":{"code":2,"raw":3}},"fills":2,"byint":2,"bystr":1,"nums":2}}'
	# delta-cat's output goes back in as it came out
	delta-cat ./n | delta-append -q ./n
	assert_equal "$(delta-cat ./n | sort | uniq -c | awk '{ print $1 }' | sort -u)" 2
}

@test "a bad nested value is a bad record naming the field by its path; nothing is committed" {
	local nx=$FIXTURES/nested
	delta-create -q ./n --schema "$nx/schema.json"
	while IFS='|' read -r rec msg; do
		run --separate-stderr delta-append ./n <<<"$rec"
		assert_failure 65
		assert_equal "${stderr_lines[0]}" "delta-append: stdin: record 1: column $msg"
	done <<'EOF2'
{"id":9,"quote":{"bid":"x"}}|"quote.bid" (decimal(18,6)): "x" is not a decimal number
{"id":9,"quote":{"nope":1}}|"quote" (struct): unknown field "nope"
{"id":9,"quote":{"bid":1,"bid":2}}|"quote" (struct): field "bid" given twice
{"id":9,"quote":{"venue":{"raw":"AA=="}}}|"quote.venue.code" (string): missing, and it is not nullable
{"id":9,"quote":{"tags":["a",1]}}|"quote.tags.element" (string): expected a string, got a number
{"id":9,"quote":[1]}|"quote" (struct): expected an object
{"id":9,"fills":[null]}|"fills.element" (struct): null where the type allows none
{"id":9,"fills":{"px":1}}|"fills" (array): expected an array
{"id":9,"byint":{"x":[1]}}|"byint.key" (integer): expected an integer in range
{"id":9,"byint":{"1":[1],"1":[2]}}|"byint" (map): a map key given twice
{"id":9,"byint":[{"key":1,"value":[1]},{"key":1}]}|"byint" (map): a map key given twice
{"id":9,"byint":[{"key":null,"value":[1]}]}|"byint" (map): a map key cannot be null
{"id":9,"byint":[{"key":1,"valu":[1]}]}|"byint" (map): unknown field "valu"
{"id":9,"byint":[1]}|"byint" (map): expected an array of {"key": ..., "value": ...}
{"id":9,"byint":"1"}|"byint" (map): expected an object or an array of key and value objects
{"id":9,"nums":[[300]]}|"nums.element.element" (byte): expected an integer in range
{"id":9,"bystr":{"a":{"f":1e39}}}|"bystr.value.f" (float): out of range for float
EOF2
	assert_equal "$(delta-history --format json ./n | jq -s length)" 1
	# -0.0 and 0.0 are one map key, as Spark normalizes them
	echo 'k map<double,string>' >m.schema
	delta-create -q ./m --schema m.schema
	run --separate-stderr delta-append ./m <<<'{"k":[{"key":0.0,"value":"a"},{"key":-0.0,"value":"b"}]}'
	assert_failure 65
	assert_equal "${stderr_lines[0]}" 'delta-append: stdin: record 1: column "k" (map): a map key given twice'
	delta-append -q ./m <<<'{"k":[{"key":-0.0,"value":"b"}]}'
	run -0 delta-cat ./m
	assert_output '{"k":[{"key":0.0,"value":"b"}]}'
}

@test "Spark's nested_types table takes its own rows back: the new file's statistics are the ones Spark wrote for the same rows" {
	cp -r "$FIXTURES/delta/dat/nested_types/delta" ./nt
	delta-cat ./nt >rows
	delta-append -q ./nt rows
	spark=$(jq -r 'select(.add) | .add.stats' ./nt/_delta_log/00000000000000000000.json)
	ours=$(jq -r 'select(.add) | .add.stats' ./nt/_delta_log/00000000000000000001.json)
	assert_equal "$ours" "$spark"
	assert_equal "$(delta-cat ./nt | sort | uniq -d)" "$(sort rows)"
	assert_equal "$(delta-cat ./nt | wc -l)" 10
}

# The first line of each commit of table $1 as [version, inCommitTimestamp, timestamp].
ict_lines() {
	for f in "$1"/_delta_log/*.json; do
		head -n 1 "$f" | jq -c --arg v "$(basename "$f" .json)" '[($v | tonumber), .commitInfo.inCommitTimestamp, .commitInfo.timestamp]'
	done
}

@test "in-commit timestamps: every commit's commitInfo comes first with one, later than the last, upserts and maintenance too" {
	printf 'k long not null\nv string\n' >kv.schema
	delta-create ict --schema kv.schema --merge-key k --property delta.enableInCommitTimestamps=true
	I=$STOCKETL_LAKE/ict
	for i in 1 2 3; do
		printf '{"k":%d,"v":"a"}\n{"k":1,"v":"b%d"}\n' "$i" "$i" | delta-append -q ict
	done
	# travel by time goes by them: the instant of version 2 reads version 2
	at=$(head -n 1 "$I/_delta_log/00000000000000000002.json" | jq .commitInfo.inCommitTimestamp)
	run --separate-stderr delta-cat --at-timestamp "$(date -u -d "@$((at / 1000)).$(printf '%03d' $((at % 1000)))" +%Y-%m-%dT%H:%M:%S.%3NZ)" --columns k,v ict
	assert_success
	assert_equal "$(sort <<<"$output")" "$(printf '%s\n' '{"k":1,"v":"b2"}' '{"k":2,"v":"a"}')"
	echo '{"k":9,"v":"x"}' | delta-append -q --app-id a --batch-id 1 ict
	delta-compact -q ict
	delta-compact -q --vacuum --retain 0h --force ict
	run ict_lines "$I"
	# versions 0 (CREATE TABLE) to 7 (VACUUM END), each with an in-commit timestamp equal to its timestamp, strictly increasing
	assert_equal "${#lines[@]}" 8
	run jq -s -c '[.[] | select(.[1] != null and .[1] == .[2])] | length' <<<"$(ict_lines "$I")"
	assert_output 8
	run jq -s -c '[range(1; length) as $i | select(.[$i][1] <= .[$i - 1][1])] | length' <<<"$(ict_lines "$I")"
	assert_output 0
	run jq -r 'select(.commitInfo) | .commitInfo.operation' "$I"/_delta_log/*.json
	assert_output $'CREATE TABLE\nMERGE\nMERGE\nMERGE\nMERGE\nOPTIMIZE\nVACUUM START\nVACUUM END'
}

@test "in-commit timestamps: a commit after one stamped in the future is stamped 1 ms after it" {
	test_lake_skip "a commit written by hand is not in the bucket's commit store"
	printf 'k long not null\n' >k.schema
	delta-create ict --schema k.schema --property delta.enableInCommitTimestamps=true
	I=$STOCKETL_LAKE/ict
	echo '{"k":1}' | delta-append -q ict
	# version 2 (a commitInfo alone), by another writer whose clock is a day ahead
	future=$(($(date +%s) * 1000 + 86400000))
	head -n 1 "$I/_delta_log/00000000000000000001.json" |
		jq -c --argjson t "$future" '.commitInfo.inCommitTimestamp = $t | .commitInfo.timestamp = $t' \
			>"$I/_delta_log/00000000000000000002.json"
	echo '{"k":2}' | delta-append -q ict
	run jq -c 'select(.commitInfo) | .commitInfo.inCommitTimestamp' "$I/_delta_log/00000000000000000003.json"
	assert_output "$((future + 1))"
	# a writer that read version 1 and commits after version 2 was written in the meantime
	mkfifo in
	delta-append -q ict <in &
	pid=$!
	exec 5>in
	sleep 0.5
	future=$((future + 5000))
	head -n 1 "$I/_delta_log/00000000000000000003.json" |
		jq -c --argjson t "$future" '.commitInfo.inCommitTimestamp = $t | .commitInfo.timestamp = $t' \
			>"$I/_delta_log/00000000000000000004.json"
	echo '{"k":3}' >&5
	exec 5>&-
	wait "$pid"
	run jq -c 'select(.commitInfo) | .commitInfo.inCommitTimestamp' "$I/_delta_log/00000000000000000005.json"
	assert_output "$((future + 1))"
}

@test "in-commit timestamps: writers racing for versions stamp them in order" {
	printf 'k long not null\n' >k.schema
	delta-create ict --schema k.schema --property delta.enableInCommitTimestamps=true
	I=$STOCKETL_LAKE/ict
	pids=()
	for w in 1 2 3 4; do
		(for i in 1 2 3 4 5; do echo "{\"k\":$((w * 10 + i))}" | delta-append -q ict || exit 1; done) &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	run ict_lines "$I"
	assert_equal "${#lines[@]}" 21
	run jq -s -c '[range(1; length) as $i | select(.[$i][1] <= .[$i - 1][1])] | length' <<<"$(ict_lines "$I")"
	assert_output 0
	run --separate-stderr delta-cat --columns k ict
	assert_equal "$(wc -l <<<"$output")" 20
}

@test "a table with the v2Checkpoint feature takes appends: replay starts from its UUID-named checkpoint, and the checkpoints written are classic V1 ones, which the protocol allows in such a table" {
	# made on the local disk, then copied into the lake: its log is edited by
	# hand, which on the bucket the commit store would not know
	T=$BATS_TEST_TMPDIR/src C=$BATS_TEST_TMPDIR/src/_delta_log
	delta-create "$T" --schema "$SCHEMA" --partition-by trade_date --property delta.checkpointInterval=3
	gen-ticks -a feed -b 1 -i 1 4 | delta-append -q "$T"
	# version 2 turns the feature on; a UUID-named JSON checkpoint of it holds the files itself
	jq -c 'select(.protocol) | .protocol = {minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ["v2Checkpoint"], writerFeatures: ["v2Checkpoint"]}' \
		"$(log 0)" >"$(log 2)"
	{
		echo '{"checkpointMetadata":{"version":2,"tags":{}}}'
		cat "$(log 2)"
		jq -c 'select(.metaData)' "$(log 0)"
		jq -c 'select(.txn or .add) | del(.txn.lastUpdated)' "$(log 1)"
	} >"$C/00000000000000000002.checkpoint.016ae953-37a9-438e-8683-9a9a4a79a395.json"
	rm "$(log 0)" "$(log 1)"
	cp -r "$T" "$STOCKETL_LAKE/v2"
	T=$STOCKETL_LAKE/v2 C=$STOCKETL_LAKE/v2/_delta_log
	# the replayed batch is known from the checkpoint's txn
	run --separate-stderr bash -c "gen-ticks -a feed -b 3 -i 1 4 | delta-append -v v2"
	assert_success
	[[ "$stderr" == *skipped* ]]
	[[ "$stderr" == *"wrote the checkpoint of version 3"* ]]
	[ -f "$C/00000000000000000003.checkpoint.parquet" ]
	[ "$(find "$C" -name '*.checkpoint.*.*.parquet' | wc -l)" = 0 ]
	run duckdb-query.js "SELECT count(*) FILTER (WHERE add IS NOT NULL) AS adds, max(protocol.readerFeatures[1]) AS f FROM read_parquet('$C/00000000000000000003.checkpoint.parquet')"
	assert_output '{"adds":2,"f":"v2Checkpoint"}'
	assert_equal "$(delta-cat v2 | wc -l)" 12
	assert_equal "$(duck_rows | wc -l)" 12
}

@test "a writer, which reads no file lists, takes a V2 checkpoint whose sidecar has page checksums: the sidecar's files are counted and verified, not decoded" {
	# made on the local disk and copied into the lake, as the test above
	T=$BATS_TEST_TMPDIR/src C=$BATS_TEST_TMPDIR/src/_delta_log
	delta-create "$T" --schema "$SCHEMA" --partition-by trade_date --property delta.checkpointInterval=3
	jq -c 'select(.protocol) | .protocol = {minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ["v2Checkpoint"], writerFeatures: ["v2Checkpoint"]}' \
		"$(log 0)" >"$(log 1)"
	gen-ticks -a feed -b 2 -i 1 4 | delta-append -q "$T"
	# the classic checkpoint of version 3 (ours: checksummed pages) becomes the sidecar of a UUID-named one
	mkdir "$C/_sidecars"
	mv "$C/00000000000000000003.checkpoint.parquet" "$C/_sidecars/s3.parquet"
	{
		echo '{"checkpointMetadata":{"version":3,"tags":{}}}'
		cat "$(log 1)"
		jq -c 'select(.metaData)' "$(log 0)"
		jq -c 'select(.txn) | del(.txn.lastUpdated)' "$(log 3)"
		jq -nc --argjson n "$(stat -c %s "$C/_sidecars/s3.parquet")" \
			'{sidecar: {path: "s3.parquet", sizeInBytes: $n, modificationTime: 1700000000000}}'
	} >"$C/00000000000000000003.checkpoint.3a0d65cd-4056-49b8-937b-95f9e3ee90e5.json"
	rm "$C/_last_checkpoint" "$(log 0)" "$(log 1)" "$(log 2)"
	cp -r "$T" "$STOCKETL_LAKE/w"
	T=$STOCKETL_LAKE/w C=$STOCKETL_LAKE/w/_delta_log
	run --separate-stderr bash -c "gen-ticks -a feed -b 3 -i 1 4 | delta-append w"
	assert_success
	assert_equal "$stderr" $'delta-append: w: version 4: 1 batch, 4 records, 1 file\ndelta-append: w: 2 batches skipped as already loaded'
	assert_equal "$(delta-cat w | wc -l)" 12
	# a damaged page of the sidecar is refused by the writer as by readers
	head -c $(($(stat -c %s "$C/_sidecars/s3.parquet") / 2)) /dev/zero |
		dd of="$C/_sidecars/s3.parquet" bs=1 seek=4 conv=notrunc status=none
	run --separate-stderr bash -c "gen-ticks -a feed -b 1 -i 9 4 | delta-append w"
	assert_failure 65
	[[ "$stderr" == *"_delta_log/_sidecars/s3.parquet"* ]]
	run --separate-stderr delta-cat w
	assert_failure 65
	[[ "$stderr" == *"_delta_log/_sidecars/s3.parquet"* ]]
}

@test "Spark's V2-checkpoint table, which lists the writer features invariants and appendOnly without using invariants, takes appends; its next checkpoint is a classic one" {
	cp -r "$FIXTURES/delta/delta-golden/v2-checkpoint-json" g
	chmod -R u+w g
	for id in 100 101; do
		run --separate-stderr delta-append ./g <<<"{\"id\":$id}"
		assert_success
	done
	[ -f g/_delta_log/00000000000000000004.checkpoint.parquet ]
	run -0 bash -c "delta-cat --columns id ./g | jq -s -c 'map(.id) | sort'"
	assert_output '[0,1,2,3,4,5,6,7,8,9,100,101]'
	# a column with an invariant is still refused, whatever the features say
	jq -c 'if .metaData then .metaData.schemaString |= sub("\"metadata\":\\{\\}"; "\"metadata\":{\"delta.invariants\":\"{\\\"expression\\\":{\\\"expression\\\":\\\"id > 0\\\"}}\"}") else . end' \
		g/_delta_log/00000000000000000001.json >v1.json
	mkdir -p inv/_delta_log
	cp v1.json inv/_delta_log/00000000000000000000.json
	run --separate-stderr delta-append ./inv <<<'{"id":1}'
	assert_failure 65
	assert_regex "$stderr" 'has invariants, which are not supported$'
}

@test "a table with change data feed takes appends and compaction without change data files; an upsert writes the changes of the rows it updates, deletes and inserts" {
	printf 'letter string\nnumber long\na_float double\n' >cdf.schema
	delta-create cdf --schema cdf.schema --partition-by letter --property delta.enableChangeDataFeed=true
	cdf=$STOCKETL_LAKE/cdf
	printf '%s\n' '{"letter":"a","number":1,"a_float":1.1}' '{"letter":"b","number":2,"a_float":2.2}' \
		'{"letter":"c","number":3,"a_float":3.3}' '{"letter":null,"number":6,"a_float":6.6}' | delta-append -q cdf
	printf '%s\n' '{"letter":"a","number":4,"a_float":4.4}' '{"letter":"e","number":5,"a_float":5.5}' | delta-append -q cdf
	# appends and compaction only add or rearrange rows: no change data
	run --separate-stderr delta-append cdf <<<'{"letter":"b","number":2,"a_float":2.25}'
	assert_success
	run --separate-stderr delta-compact cdf
	assert_success
	run -0 jq -c 'select(.commitInfo) | .commitInfo.operation' "$cdf/_delta_log/00000000000000000003.json" "$cdf/_delta_log/00000000000000000004.json"
	assert_output $'"WRITE"\n"OPTIMIZE"'
	[ ! -e "$cdf/_change_data" ]
	# an upsert: key 1 updated, key 2 held twice (its second row deleted), key 99 new
	printf '%s\n' '{"letter":"a","number":1,"a_float":9.5}' '{"letter":"b","number":2,"a_float":7.5}' \
		'{"letter":"z","number":99,"a_float":1.0}' >batch.ndjson
	run --separate-stderr delta-append --merge-key number cdf <batch.ndjson
	assert_success
	run -0 jq -c 'select(.cdc) | .cdc | [(.path | startswith("_change_data/letter=")), .partitionValues.letter, .dataChange, (.size > 0)]' "$cdf/_delta_log/00000000000000000005.json"
	assert_equal "$(sort <<<"$output")" "$(printf '%s\n' '[true,"a",false,true]' '[true,"b",false,true]' '[true,"z",false,true]')"
	run -0 jq -c 'select(.commitInfo) | .commitInfo.operationMetrics | [.numTargetChangeFilesAdded, .numTargetRowsUpdated, .numTargetRowsDeleted, .numTargetRowsInserted]' "$cdf/_delta_log/00000000000000000005.json"
	assert_output '["3","2","1","1"]'
	# the change data files hold the changes and nothing copied
	files=$(jq -r --arg d "$cdf" 'select(.cdc) | "'"'"'" + $d + "/" + .cdc.path + "'"'"'"' "$cdf/_delta_log/00000000000000000005.json" | paste -sd,)
	run -0 duckdb-query.js "SELECT number, a_float, _change_type FROM read_parquet([$files]) ORDER BY number, _change_type, a_float"
	# (a key's second old row, in the file added later or later in a file, is the one deleted)
	assert_output '{"number":1,"a_float":9.5,"_change_type":"update_postimage"}
{"number":1,"a_float":1.1,"_change_type":"update_preimage"}
{"number":2,"a_float":2.25,"_change_type":"delete"}
{"number":2,"a_float":7.5,"_change_type":"update_postimage"}
{"number":2,"a_float":2.2,"_change_type":"update_preimage"}
{"number":99,"a_float":1,"_change_type":"insert"}'
	run -0 bash -c "delta-cat cdf | jq -s -c 'map([.number, .a_float]) | sort'"
	assert_output '[[1,9.5],[2,7.5],[3,3.3],[4,4.4],[5,5.5],[6,6.6],[99,1]]'
	# an upsert of new keys only, whose files rewrite nothing, only adds rows: no change data
	run --separate-stderr delta-append --merge-key number cdf <<<'{"letter":"q","number":1000,"a_float":0.5}'
	assert_success
	run -0 jq -c 'select(.cdc or .remove)' "$cdf/_delta_log/00000000000000000006.json"
	assert_output ''
	# vacuum keeps change data files within the retention and deletes them after, as Spark's does
	run -0 delta-compact -q --vacuum --dry-run cdf
	[[ $output != *_change_data* ]]
	sleep 1.1
	run -0 delta-compact --vacuum --retain 1s --force --dry-run cdf
	assert_equal "$(grep -c '/_change_data/letter=[a-z]*/part-.*[.]parquet$' <<<"$output")" 3
}

# Row tracking: each add of table $1's log as "version baseRowId defaultRowCommitVersion numRecords".
rt_adds() {
	local f
	for f in "$1"/_delta_log/*.json; do
		jq -r --argjson v "$((10#$(basename "$f" .json)))" \
			'select(.add) | .add | "\($v) \(.baseRowId) \(.defaultRowCommitVersion) \(.stats | fromjson | .numRecords)"' "$f"
	done
}

# "ok N" when the ids of every file ever added are fresh (each file's run
# after the one before, from 0, N the next free id) and each file's commit
# version is its own; else the first fault.
rt_check() {
	rt_adds "$1" | sort -n -k2 | awk '
		$3 != $1 { print "version " $1 ": defaultRowCommitVersion " $3; bad = 1; exit }
		$2 != next_id + 0 { print "baseRowId " $2 ", expected " next_id + 0; bad = 1; exit }
		{ next_id = $2 + $4 }
		END { if (!bad) print "ok " next_id + 0 }'
}

# The row id high water mark of each commit of table $1 that records one, in version order.
rt_marks() {
	cat "$1"/_delta_log/*.json | jq -r 'select(.domainMetadata.domain == "delta.rowTracking") | .domainMetadata.configuration | fromjson | .rowIdHighWaterMark'
}

@test "row tracking: delta-create --property delta.enableRowTracking=true; appends, four writers racing, give each file's rows fresh ids above the high water mark and the file its commit version" {
	printf 'k long not null\n' >k.schema
	delta-create rt --schema k.schema --property delta.enableRowTracking=true
	R=$STOCKETL_LAKE/rt
	run jq -c 'select(.protocol) | .protocol' "$R/_delta_log/00000000000000000000.json"
	assert_output '{"minReaderVersion":1,"minWriterVersion":7,"writerFeatures":["domainMetadata","rowTracking"]}'
	run jq -r 'select(.metaData) | .metaData.configuration | .["delta.rowTracking.materializedRowIdColumnName"], .["delta.rowTracking.materializedRowCommitVersionColumnName"]' \
		"$R/_delta_log/00000000000000000000.json"
	assert_line --index 0 --regexp '^_row-id-col-[0-9a-f-]{36}$'
	assert_line --index 1 --regexp '^_row-commit-version-col-[0-9a-f-]{36}$'
	seq 1 5 | jq -c '{k: .}' | delta-append -q rt
	run rt_adds "$R"
	assert_output "1 0 1 5"
	assert_equal "$(rt_marks "$R")" 4
	pids=()
	for w in 1 2 3 4; do
		(for i in 1 2 3; do printf '{"k":%d}\n{"k":%d}\n' $((w * 100 + i)) $((w * 100 + i + 50)) | delta-append -q rt || exit 1; done) &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	assert_equal "$(rt_adds "$R" | wc -l)" 13
	run rt_check "$R"
	assert_output "ok 29"
	# the mark rises with each commit and ends at the last id given
	run rt_marks "$R"
	assert_equal "${#lines[@]}" 13
	assert_equal "${lines[12]}" 28
	rt_marks "$R" | sort -n -c
	# pure appends keep every stable row id
	run jq -r 'select(.commitInfo) | .commitInfo.tags["delta.rowTracking.preserved"]' "$R"/_delta_log/0000000000000000000[1-9].json
	refute_output --partial false
	assert_equal "$(delta-cat --columns k rt | wc -l)" 29
}

@test "row tracking: an upsert that rewrites a file and OPTIMIZE give the rows they write fresh ids, their removes keep the ids of the adds they remove, and they say the stable ids were not kept" {
	printf 'k long not null\nv string\n' >kv.schema
	delta-create rt --schema kv.schema --merge-key k --property delta.enableRowTracking=true
	R=$STOCKETL_LAKE/rt
	for i in 1 2 3; do seq $((i * 10)) $((i * 10 + 3)) | jq -c "{k: ., v: \"a$i\"}" | delta-append -q rt; done
	# version 4 rewrites the file of version 2
	echo '{"k":21,"v":"new"}' | delta-append -q rt
	run jq -c 'select(.remove) | .remove | [.baseRowId, .defaultRowCommitVersion]' "$R/_delta_log/00000000000000000004.json"
	assert_output '[4,2]'
	run jq -r 'select(.commitInfo) | .commitInfo.tags["delta.rowTracking.preserved"]' "$R/_delta_log/00000000000000000004.json"
	assert_output false
	run rt_check "$R"
	assert_output "ok 16"
	delta-compact -q --optimize rt
	run jq -c 'select(.remove) | .remove | [.baseRowId, .defaultRowCommitVersion]' "$R/_delta_log/00000000000000000005.json"
	assert_output --partial '[0,1]'
	assert_output --partial '[8,3]'
	assert_output --partial '[12,4]'
	run jq -r 'select(.commitInfo) | .commitInfo.tags["delta.rowTracking.preserved"]' "$R/_delta_log/00000000000000000005.json"
	assert_output false
	run rt_check "$R"
	assert_output "ok 28"
	assert_equal "$(rt_marks "$R" | tail -n 1)" 27
	run --separate-stderr delta-cat --csv rt
	assert_equal "$(sort <<<"$output" | tr '\n' ' ')" "10,a1 11,a1 12,a1 13,a1 20,a2 21,new 22,a2 23,a2 30,a3 31,a3 32,a3 33,a3 k,v "
	# an upsert that only inserts keeps them all
	echo '{"k":99,"v":"x"}' | delta-append -q rt
	run jq -r 'select(.commitInfo) | .commitInfo.tags["delta.rowTracking.preserved"]' "$R/_delta_log/00000000000000000006.json"
	assert_output true
}

@test "row tracking: a checkpoint keeps the high water mark (its domainMetadata) and each file's ids; a writer that starts from it, the commits before it gone, goes on above the mark" {
	printf 'k long not null\n' >k.schema
	delta-create rt --schema k.schema --property delta.enableRowTracking=true --property delta.checkpointInterval=3
	R=$STOCKETL_LAKE/rt
	for i in 1 2 3 4; do seq $((i * 10)) $((i * 10 + 2)) | jq -c '{k: .}' | delta-append -q rt; done
	ckpt=$R/_delta_log/00000000000000000003.checkpoint.parquet
	[ -f "$ckpt" ]
	run duckdb-query.js "SELECT domainMetadata.domain AS d, domainMetadata.configuration AS c, domainMetadata.removed AS r FROM read_parquet('$ckpt') WHERE domainMetadata IS NOT NULL"
	assert_output '{"d":"delta.rowTracking","c":"{\"rowIdHighWaterMark\":8}","r":false}'
	run duckdb-query.js "SELECT add.baseRowId AS b, add.defaultRowCommitVersion AS v FROM read_parquet('$ckpt') WHERE add IS NOT NULL ORDER BY b"
	assert_line --index 0 '{"b":0,"v":1}'
	assert_line --index 1 '{"b":3,"v":2}'
	assert_line --index 2 '{"b":6,"v":3}'
	# the log cleaned up to the checkpoint: the mark is read from it
	touch -d '40 days ago' "$R"/_delta_log/0000000000000000000[0-3].*
	delta-compact -q --cleanup-log rt
	[ ! -e "$R/_delta_log/00000000000000000002.json" ]
	seq 50 51 | jq -c '{k: .}' | delta-append -q rt
	run jq -r 'select(.add) | .add | "\(.baseRowId) \(.defaultRowCommitVersion)"' "$R/_delta_log/00000000000000000005.json"
	assert_output "12 5"
	assert_equal "$(rt_marks "$R" | tail -n 1)" 13
}

@test "row tracking: supported but not enabled, ids are given and nothing said of their keeping; suspended, none are given; rowTracking without domainMetadata is refused" {
	test_lake_skip "the log is edited by hand, which the commit store would not know"
	printf 'k long not null\n' >k.schema
	delta-create plain --schema k.schema
	P=$STOCKETL_LAKE/plain
	echo '{"protocol":{"minReaderVersion":1,"minWriterVersion":7,"writerFeatures":["domainMetadata","rowTracking"]}}' >"$P/_delta_log/00000000000000000001.json"
	echo '{"k":1}' | delta-append -q plain
	run jq -c 'select(.add) | .add | [.baseRowId, .defaultRowCommitVersion]' "$P/_delta_log/00000000000000000002.json"
	assert_output '[0,2]'
	run jq -c 'select(.commitInfo) | .commitInfo.tags' "$P/_delta_log/00000000000000000002.json"
	assert_output null
	jq -c 'select(.metaData) | .metaData.configuration["delta.rowTrackingSuspended"] = "true"' \
		"$P/_delta_log/00000000000000000000.json" >"$P/_delta_log/00000000000000000003.json"
	echo '{"k":2}' | delta-append -q plain
	run jq -c 'select(.add) | .add | [.baseRowId, .defaultRowCommitVersion]' "$P/_delta_log/00000000000000000004.json"
	assert_output '[null,null]'
	run jq -c 'select(.domainMetadata)' "$P/_delta_log/00000000000000000004.json"
	assert_output ""
	echo '{"protocol":{"minReaderVersion":1,"minWriterVersion":7,"writerFeatures":["rowTracking"]}}' >"$P/_delta_log/00000000000000000005.json"
	run --separate-stderr bash -c 'echo "{\"k\":3}" | delta-append plain'
	assert_failure 65
	assert_equal "${stderr_lines[0]}" "delta-append: $P: the writer feature rowTracking without domainMetadata, which it needs"
}

@test "a binary partition column (Spark's multi_partitioned): appends, upserts and OPTIMIZE write its values as their bytes, never as null; a NUL byte is refused" {
	test_lake_skip "a copy of a partitioned Spark table cannot be made on the bucket"
	cp -r "$STOCKETL_ROOT/tests/fixtures/delta/dat/multi_partitioned/delta" "$STOCKETL_LAKE/mp"
	chmod -R u+w "$STOCKETL_LAKE/mp"
	M=$STOCKETL_LAKE/mp
	echo '{"letter":"q","date":"2020-01-01","data":"aGVsbG8=","number":99}' | delta-append -q mp
	run -0 jq -c 'select(.add) | .add | [.partitionValues.data, (.path | split("/")[2])]' "$M/_delta_log/00000000000000000003.json"
	assert_output '["hello","data=hello"]'
	run -0 delta-cat --where "number = 99" mp
	assert_output '{"letter":"q","date":"2020-01-01","data":"aGVsbG8=","number":99}'
	# an upsert that rewrites the file, and compaction of the partition
	echo '{"letter":"q","date":"2020-01-01","data":"aGVsbG8=","number":100}' | delta-append -q mp
	echo '{"letter":"q","date":"2020-01-01","data":"aGVsbG8=","number":99}' | delta-append -q --merge-key number mp
	delta-compact -q --optimize mp
	run -0 bash -c "delta-cat --where \"letter = 'q'\" mp | sort"
	assert_output '{"letter":"q","date":"2020-01-01","data":"aGVsbG8=","number":100}
{"letter":"q","date":"2020-01-01","data":"aGVsbG8=","number":99}'
	# every file written here (versions 3 on) names the value
	run -0 bash -c "cat '$M'/_delta_log/0000000000000000000[3-9].json | jq -r 'select(.add) | .add.partitionValues.data' | sort -u"
	assert_output hello
	run --separate-stderr bash -c 'echo "{\"letter\":\"q\",\"date\":\"2020-01-01\",\"data\":\"AGI=\",\"number\":98}" | delta-append mp'
	assert_failure 65
	assert_equal "${stderr_lines[0]}" 'delta-append: column "data": a partition value cannot hold a NUL character'
}

@test "[streams] max_line takes 1024 to 2147483647, the range of every stage that reads the same setting" {
	printf '[streams]\nmax_line = 2147483648\n' >big.ini
	run --separate-stderr bash -c 'echo "{}" | delta-append --config big.ini bronze'
	assert_failure 78
	assert_equal "$stderr" "delta-append: [streams] max_line: expected an integer from 1024 to 2147483647, got '2147483648'"
	printf '[streams]\nmax_line = 2147483647\n' >big.ini
	gen-ticks -a feed -b 1 -i 1 3 | delta-append -q --config big.ini bronze
	assert_equal "$(delta-cat bronze | wc -l)" 3
}

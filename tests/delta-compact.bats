#!/usr/bin/env bats
# delta-compact: optimize, checkpoints, vacuum and log cleanup of a table
# that other writers keep appending to.

# shellcheck disable=SC2154 # $stderr and $stderr_lines are set by BATS's run --separate-stderr
load helpers/common

# The table of 2,000 one-minute commits (4 symbols: 4 rows, one small file
# each) that several tests start from, made once for the suite.
setup_file() {
	export PATH="$STOCKETL_BIN:$STOCKETL_ROOT/tests/helpers:$PATH"
	MINUTES=$BATS_FILE_TMPDIR/minutes
	delta-create -q "$MINUTES" --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	gen-ticks -a feed -b 2000 4 | delta-append -q "$MINUTES"
	export MINUTES
}

setup() {
	common_setup
	export STOCKETL_LAKE=$BATS_TEST_TMPDIR/lake
	mkdir -p lake
}

# ticks_table T BATCHES [ROWS]: a bronze table of BATCHES one-batch commits of ROWS rows.
ticks_table() {
	delta-create "$1" -q --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	gen-ticks -b "$2" "${3:-8}" | delta-append -q "$1"
}

# rows T [delta-cat options]: the table's rows, sorted, as one canonical text.
rows() {
	local t=$1
	shift
	delta-cat "$@" "$t" | sort
}

# latest T: the table's latest version.
latest() {
	delta-history --limit 1 "$1" | jq .version
}

# live_files T: the paths of the live files of lake/T, from its JSON commits.
live_files() {
	jq -r 'if .add then "+ \(.add.path)" elif .remove then "- \(.remove.path)" else empty end' \
		lake/"$1"/_delta_log/*.json |
		awk '$1 == "+" { live[$2] = 1 } $1 == "-" { delete live[$2] } END { for (p in live) print p }' | sort
}

# canon: JSON rows with every number in one form (DuckDB writes decimals at
# their scale, delta-cat as exact text), sorted.
canon() {
	jq -c 'with_entries(if (.value | type) == "number" then .value |= . + 0 else . end)' | sort
}

# duck_rows T: DuckDB's reading of the live files of lake/T, as canon rows.
duck_rows() {
	{
		printf 'SELECT symbol, "interval", trade_timestamp, trade_date, open, high, low, close, volume, batch_id, ingested_at, source FROM read_parquet(['
		live_files "$1" | sed "s|.*|'lake/$1/&'|" | paste -sd,
		printf "], hive_partitioning = true, hive_types = {'trade_date': DATE})\n"
	} >duck.sql
	duckdb-query.js --file duck.sql | canon
}

# age PATH... : set the modification times 40 days into the past.
age() {
	touch -d '40 days ago' "$@"
}

@test "--help prints the usage, which is the man page's SYNOPSIS" {
	run --separate-stderr delta-compact --help
	assert_success
	assert_help_matches_man delta-compact
}

@test "--checkpoint counts the tombstones the checkpoint keeps: expired ones are left out of it and of the count" {
	cp -r "$FIXTURES/delta/delta-golden/basic-with-inserts-deletes-checkpoint" g
	run --separate-stderr delta-compact --checkpoint ./g
	assert_success
	assert_equal "$stderr" "delta-compact: ./g: wrote the checkpoint of version 13 (7 live files, 0 tombstones)"
	assert_equal "$(duckdb-query.js "SELECT count(*) AS n FROM read_parquet('g/_delta_log/00000000000000000013.checkpoint.parquet') WHERE remove IS NOT NULL" | jq .n)" 0
}

@test "--checkpoint writes a checkpoint of the latest version and _last_checkpoint; a second run leaves it" {
	ticks_table t 13
	rows t >before
	run --separate-stderr delta-compact --checkpoint t
	assert_success
	assert_equal "$stderr" "delta-compact: t: wrote the checkpoint of version 13 (13 live files, 0 tombstones)"
	[ -f lake/t/_delta_log/00000000000000000013.checkpoint.parquet ]
	run jq -c '[.version, .size, .numOfAddFiles]' lake/t/_delta_log/_last_checkpoint
	assert_output '[13,16,13]'
	# Readers start from it: the commits before it are not needed for the latest version.
	mkdir -p copy/_delta_log
	cp lake/t/_delta_log/00000000000000000013.* lake/t/_delta_log/_last_checkpoint copy/_delta_log/
	cp -r lake/t/trade_date=* copy/
	rows ./copy >after
	cmp before after
	run --separate-stderr delta-compact --checkpoint t
	assert_success
	assert_equal "$stderr" "delta-compact: t: version 13 already has a checkpoint"
	run --separate-stderr delta-compact -q --checkpoint t
	assert_success
	assert_equal "$stderr" ""
}

# add_type F: the type of the add column of checkpoint file F, as DuckDB reads it.
add_type() {
	duckdb-query.js "SELECT column_type FROM (DESCRIBE SELECT add FROM read_parquet('$1'))" | jq -r .column_type
}

# parsed_stats F: path, partition values and statistics of every add of checkpoint F, from its parsed structs.
parsed_stats() {
	local pv=NULL
	[[ $(add_type "$1") != *partitionValues_parsed* ]] || pv=add.partitionValues_parsed
	duckdb-query.js "SELECT add.path AS path, $pv AS pv, add.stats_parsed AS stats FROM read_parquet('$1') WHERE add IS NOT NULL" |
		jq -c '{path, pv, stats: (.stats | del(..|nulls))}' | sort
}

# json_stats T: the same from the JSON commits of lake/T (live files; partition values as numbers).
json_stats() {
	local p
	for p in $(live_files "$1"); do
		jq -c --arg p "$p" 'select(.add.path == $p) | .add | {path, pv: (if .partitionValues == {} then null else .partitionValues | map_values(tonumber) end), stats: (.stats | fromjson)}' lake/"$1"/_delta_log/*.json
	done | sort
}

@test "with delta.checkpoint.writeStatsAsStruct, checkpoints hold partitionValues_parsed and stats_parsed as the commits state them; writeStatsAsJson=false leaves add.stats out" {
	printf 'v long\ns string\nd date\np long\n' >d.schema
	delta-create -q lake/t --schema d.schema --partition-by p --property delta.checkpoint.writeStatsAsStruct=true \
		--property delta.checkpoint.writeStatsAsJson=false --property delta.checkpointInterval=1
	echo '{"v":1,"s":"a\"b","d":"2024-01-02","p":1}' | delta-append -q --app-id a --batch-id 1 t
	printf '{"v":%s,"s":null,"d":"2024-03-04","p":2}\n' 5 -7 | delta-append -q --app-id a --batch-id 2 t
	cp=lake/t/_delta_log/00000000000000000002.checkpoint.parquet
	assert_equal "$(add_type "$cp")" 'STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, tags MAP(VARCHAR, VARCHAR), deletionVector STRUCT(storageType VARCHAR, pathOrInlineDv VARCHAR, "offset" INTEGER, sizeInBytes INTEGER, cardinality BIGINT, maxRowIndex BIGINT), baseRowId BIGINT, defaultRowCommitVersion BIGINT, partitionValues_parsed STRUCT(p BIGINT), stats_parsed STRUCT(numRecords BIGINT, minValues STRUCT(v BIGINT, s VARCHAR, d DATE), maxValues STRUCT(v BIGINT, s VARCHAR, d DATE), nullCount STRUCT(v BIGINT, s BIGINT, d BIGINT)))'
	run duckdb-query.js "SELECT type FROM parquet_schema('$cp') WHERE name = 'p'"
	assert_output '{"type":"INT64"}'
	parsed_stats "$cp" >parsed
	json_stats t >json
	assert_equal "$(wc -l <json)" 2
	assert_equal "$(jq -c 'select(.pv.p == 2) | .stats' json)" '{"numRecords":2,"minValues":{"v":-7,"d":"2024-03-04"},"maxValues":{"v":5,"d":"2024-03-04"},"nullCount":{"v":0,"s":2,"d":0}}'
	cmp json parsed
	# delta-compact --checkpoint writes the same; the defaults stay JSON statistics only
	rm "$cp"
	run --separate-stderr delta-compact --checkpoint t
	assert_success
	parsed_stats "$cp" >parsed
	cmp json parsed
	delta-create -q lake/plain --schema d.schema --partition-by p --property delta.checkpointInterval=1
	echo '{"v":1,"p":1}' | delta-append -q --app-id a --batch-id 1 plain
	run add_type lake/plain/_delta_log/00000000000000000001.checkpoint.parquet
	assert_output --regexp 'defaultRowCommitVersion BIGINT, stats VARCHAR\)$'
}

@test "a table whose checkpoints hold statistics only in stats_parsed reads and travels as before and still skips files by them" {
	printf 'v long\np long\n' >d.schema
	delta-create -q lake/t --schema d.schema --partition-by p --property delta.checkpoint.writeStatsAsStruct=true \
		--property delta.checkpoint.writeStatsAsJson=false --property delta.checkpointInterval=1
	for i in 1 2 3; do
		echo "{\"v\":$i,\"p\":$((i % 2))}" | delta-append -q --app-id a --batch-id "$i" t
	done
	[[ $(add_type lake/t/_delta_log/00000000000000000003.checkpoint.parquet) != *"stats VARCHAR"* ]]
	run --separate-stderr delta-cat t
	assert_success
	assert_equal "$(sort <<<"$output")" $'{"v":1,"p":1}\n{"v":2,"p":0}\n{"v":3,"p":1}'
	run --separate-stderr delta-cat --at-version 1 t
	assert_output '{"v":1,"p":1}'
	run --separate-stderr delta-cat -v --where 'v > 2' t
	assert_success
	assert_output '{"v":3,"p":1}'
	assert_equal "${stderr_lines[1]}" "delta-cat: skipped 2 of 3 files (0 by partition values, 2 by statistics) and 0 of 1 row groups; 1 of 1 rows read matched"
	run --separate-stderr delta-cat -v --where 'v <= 1' t
	assert_output '{"v":1,"p":1}'
	assert_equal "${stderr_lines[1]}" "delta-cat: skipped 2 of 3 files (0 by partition values, 2 by statistics) and 0 of 1 row groups; 1 of 1 rows read matched"
}

@test "--checkpoint of Spark's stats_as_struct table writes its statistics as stats_parsed, without add.stats, as its properties ask" {
	cp -r "$STOCKETL_ROOT/tests/fixtures/delta/dat/stats_as_struct/delta" lake/s
	rows s >before
	run --separate-stderr delta-compact --checkpoint s
	assert_success
	cp=lake/s/_delta_log/00000000000000000003.checkpoint.parquet
	spark=lake/s/_delta_log/00000000000000000002.checkpoint.parquet
	# Spark's fields of add come first, in its order; add.stats is left out by both
	assert_equal "$(add_type "$spark")" 'STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, tags MAP(VARCHAR, VARCHAR))'
	[[ $(add_type "$cp") == "STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, tags MAP(VARCHAR, VARCHAR), "*", stats_parsed STRUCT(numRecords BIGINT, minValues STRUCT(letter VARCHAR, \"int\" BIGINT, date DATE), maxValues STRUCT(letter VARCHAR, \"int\" BIGINT, date DATE), nullCount STRUCT(letter BIGINT, \"int\" BIGINT, date BIGINT)))" ]]
	parsed_stats "$cp" >parsed
	json_stats s >json
	assert_equal "$(jq -c .stats json)" '{"numRecords":5,"minValues":{"letter":"a","int":93,"date":"1975-06-01"},"maxValues":{"letter":"c","int":753,"date":"2013-03-01"},"nullCount":{"letter":1,"int":0,"date":0}}'
	cmp json parsed
	rows s >after
	cmp before after
	run --separate-stderr delta-cat -v --where 'int > 753' s
	assert_success
	assert_equal "${stderr_lines[1]}" "delta-cat: skipped 1 of 1 files (0 by partition values, 1 by statistics) and 0 of 0 row groups; 0 of 0 rows read matched"
}

@test "--vacuum deletes the files of failed writes once older than the retention, and keeps younger ones" {
	ticks_table t 3
	rows t >before
	part=$(ls -d lake/t/trade_date=*)
	echo junk >"$part/part-00000-old-c000.zstd.parquet"
	echo junk >"$part/part-00000-new-c000.zstd.parquet"
	echo junk >lake/t/_delta_log/.00000000000000000009.json.0a1b.tmp
	echo junk >lake/t/_delta_log/.00000000000000000010.json.0a1c.tmp
	mkdir lake/t/trade_date=2020-01-01
	echo junk >lake/t/trade_date=2020-01-01/part-00000-x-c000.zstd.parquet
	age "$part/part-00000-old-c000.zstd.parquet" lake/t/_delta_log/.00000000000000000009.json.0a1b.tmp \
		lake/t/trade_date=2020-01-01/part-00000-x-c000.zstd.parquet lake/t/trade_date=2020-01-01
	# Live files count however old they are.
	age "$part"/part-00000-*-c000.zstd.parquet
	touch "$part/part-00000-new-c000.zstd.parquet"
	run --separate-stderr delta-compact --vacuum --dry-run t
	assert_success
	assert_equal "$(sort <<<"$output")" "$(printf "$BATS_TEST_TMPDIR/%s\n" \
		lake/t/_delta_log/.00000000000000000009.json.0a1b.tmp \
		"$part/part-00000-old-c000.zstd.parquet" \
		lake/t/trade_date=2020-01-01/ \
		lake/t/trade_date=2020-01-01/part-00000-x-c000.zstd.parquet | sort)"
	assert_equal "$stderr" "delta-compact: t: vacuum (retention 7d, dry run): would delete 3 files (15 B) and 1 directory of 8 files in 4 directories"
	[ -f "$part/part-00000-old-c000.zstd.parquet" ]
	run delta-history t
	assert_equal "$(jq -r .operation <<<"$output" | head -1)" "WRITE"

	run --separate-stderr delta-compact --vacuum t
	assert_success
	assert_equal "${stderr_lines[0]}" "delta-compact: t: vacuum (retention 7d): deleted 3 files (15 B) and 1 directory of 8 files in 4 directories"
	assert_equal "${stderr_lines[1]}" "delta-compact: t: created versions 4-5"
	[ ! -e "$part/part-00000-old-c000.zstd.parquet" ]
	[ ! -e lake/t/trade_date=2020-01-01 ]
	[ ! -e lake/t/_delta_log/.00000000000000000009.json.0a1b.tmp ]
	[ -f "$part/part-00000-new-c000.zstd.parquet" ]
	[ -f lake/t/_delta_log/.00000000000000000010.json.0a1c.tmp ]
	rows t >after
	cmp before after
	run delta-history t
	run jq -c '[.version, .operation, .operationParameters, .operationMetrics, .isBlindAppend]' <<<"$output"
	assert_line --index 0 '[5,"VACUUM END",{"status":"COMPLETED"},{"numDeletedFiles":"4","numVacuumedDirectories":"4"},false]'
	assert_line --index 1 '[4,"VACUUM START",{"retentionCheckEnabled":"true","defaultRetentionMillis":"604800000"},{"numFilesToDelete":"4","sizeOfDataToDelete":"15"},false]'
	# Only commitInfo in them.
	run jq -c 'keys' lake/t/_delta_log/00000000000000000004.json
	assert_output '["commitInfo"]'

	# Nothing left to delete: nothing committed.
	run --separate-stderr delta-compact --vacuum t
	assert_success
	assert_equal "$stderr" "delta-compact: t: vacuum (retention 7d): nothing to delete among 5 files in 3 directories"
	[ ! -e lake/t/_delta_log/00000000000000000006.json ]
}

@test "--vacuum keeps a live file that the log names by an absolute URI through a symbolic link to the table" {
	ticks_table t 2
	rows t >before
	ln -s "$BATS_TEST_TMPDIR/lake" link
	# version 2's file named as file:///.../link/t/..., as Spark may name files
	f=$(jq -r 'select(.add) | .add.path' lake/t/_delta_log/00000000000000000002.json)
	jq -c --arg p "file://$BATS_TEST_TMPDIR/link/t/$f" 'if .add then .add.path = $p else . end' \
		lake/t/_delta_log/00000000000000000002.json >v2
	cat v2 >lake/t/_delta_log/00000000000000000002.json
	age lake/t/trade_date=*/*.parquet
	for table in t ./link/t; do
		run --separate-stderr delta-compact --vacuum --dry-run "$table"
		assert_success
		assert_output ""
		assert_regex "$stderr" ": vacuum \(retention 7d, dry run\): would delete 0 files \(0 B\) and 0 directories of 2 files in 3 directories$"
	done
	run --separate-stderr delta-compact --vacuum t
	assert_success
	[ -f "lake/t/$f" ]
	rows t >after
	cmp before after
}

@test "--vacuum deletes the commits the PostgreSQL store staged in _delta_log/.tmp once older than the retention" {
	ticks_table t 2
	mkdir lake/t/_delta_log/.tmp
	echo '{}' >lake/t/_delta_log/.tmp/00000000000000000001.json.0a1b
	echo '{}' >lake/t/_delta_log/.tmp/00000000000000000002.json.0a1c
	age lake/t/_delta_log/.tmp/00000000000000000001.json.0a1b
	run --separate-stderr delta-compact --vacuum --dry-run t
	assert_success
	assert_output "$BATS_TEST_TMPDIR/lake/t/_delta_log/.tmp/00000000000000000001.json.0a1b"
	run --separate-stderr delta-compact --vacuum t
	assert_success
	[ ! -e lake/t/_delta_log/.tmp/00000000000000000001.json.0a1b ]
	[ -f lake/t/_delta_log/.tmp/00000000000000000002.json.0a1c ]
	[ -f lake/t/_delta_log/00000000000000000002.json ]
}

@test "--vacuum judges a removal that the checkpoint holds by its deletionTimestamp, not by the checkpoint's time" {
	delta-create -q m --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date \
		--merge-key symbol,interval,trade_timestamp
	gen-ticks 4 | grep -v "@batch" >a.ndjson
	# each upsert rewrites the one file: versions 2 and 3 remove the files of 1 and 2
	for n in 1 2 3; do
		delta-append -q --app-id x --batch-id "$n" m a.ndjson
	done
	old=$(live_files m)
	sleep 2.5
	delta-append -q --app-id x --batch-id 4 m a.ndjson
	gone=$(jq -r 'select(.remove) | .remove.path' lake/m/_delta_log/0000000000000000000[23].json | sort)
	assert_equal "$(wc -l <<<"$gone")" 2
	delta-compact -q --checkpoint m
	[ -f lake/m/_delta_log/00000000000000000004.checkpoint.parquet ]
	run --separate-stderr delta-compact --vacuum --retain 2s --force --dry-run m
	assert_success
	# shellcheck disable=SC2086 # one path a word
	assert_equal "$(sort <<<"$output")" "$(printf "$BATS_TEST_TMPDIR/lake/m/%s\n" $gone)"
	# the file version 4 removed, within the retention, stays
	[[ $output != *"$old"* ]]
}

@test "--vacuum's summaries count one file as one file" {
	delta-create e -q --schema "$STOCKETL_ROOT/conf/tables/bronze.schema"
	echo junk >lake/e/part-00000-stray-c000.zstd.parquet
	run --separate-stderr delta-compact --vacuum e
	assert_success
	assert_equal "$stderr" "delta-compact: e: vacuum (retention 7d): nothing to delete among 1 file in 2 directories"
	age lake/e/part-00000-stray-c000.zstd.parquet
	run --separate-stderr delta-compact --vacuum --dry-run e
	assert_success
	assert_equal "$stderr" "delta-compact: e: vacuum (retention 7d, dry run): would delete 1 file (5 B) and 0 directories of 1 file in 2 directories"
	run --separate-stderr delta-compact --vacuum e
	assert_success
	assert_equal "${stderr_lines[0]}" "delta-compact: e: vacuum (retention 7d): deleted 1 file (5 B) and 0 directories of 1 file in 2 directories"
	[ ! -e lake/e/part-00000-stray-c000.zstd.parquet ]
}

@test "--vacuum refuses a retention shorter than the table's without --force" {
	ticks_table t 2
	part=$(ls -d lake/t/trade_date=*)
	echo junk >"$part/part-00000-stray-c000.zstd.parquet"
	touch -d '2 hours ago' "$part/part-00000-stray-c000.zstd.parquet"
	run --separate-stderr delta-compact --vacuum --retain 1h t
	assert_failure 64
	assert_equal "$stderr" "delta-compact: t: --retain 1h is shorter than the table's delta.deletedFileRetentionDuration (7d): readers of recent versions and writers that have not committed yet could lose files; give --force to vacuum anyway"
	[ -f "$part/part-00000-stray-c000.zstd.parquet" ]
	# the retention as the user wrote it, whatever its unit
	run --separate-stderr delta-compact --vacuum --retain 0h t
	assert_failure 64
	assert_equal "${stderr:0:41}" "delta-compact: t: --retain 0h is shorter "
	run --separate-stderr delta-compact --vacuum --retain 0h --force --dry-run t
	assert_success
	assert_equal "${stderr:0:50}" "delta-compact: t: vacuum (retention 0s, dry run): "
	run --separate-stderr delta-compact -q --vacuum --retain 1h --force t
	assert_success
	assert_equal "$stderr" ""
	[ ! -e "$part/part-00000-stray-c000.zstd.parquet" ]
	run jq -c 'select(.commitInfo) | .commitInfo.operationParameters' lake/t/_delta_log/00000000000000000003.json
	assert_output '{"retentionCheckEnabled":"false","defaultRetentionMillis":"604800000","specifiedRetentionMillis":"3600000"}'
	# A table whose own retention is shorter needs no --force.
	delta-create u -q --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" \
		--property 'delta.deletedFileRetentionDuration=interval 1 hour'
	run --separate-stderr delta-compact --vacuum --retain 2h u
	assert_success
	assert_equal "$stderr" "delta-compact: u: vacuum (retention 2h): nothing to delete among 0 files in 2 directories"
}

@test "--cleanup-log deletes expired commits below a checkpoint, and log compaction files that start at or below it; the oldest kept version and the latest read as before" {
	ticks_table t 25
	for v in 10 15 20 25; do rows t --at-version "$v" >"v$v"; done
	delta-compact -q --checkpoint t
	log=lake/t/_delta_log
	# log compaction files (PROTOCOL.md): those starting at or below the new start go with it
	for r in 00000000000000000018.00000000000000000019 00000000000000000020.00000000000000000022 00000000000000000021.00000000000000000023; do
		cat "$log/${r%%.*}.json" >"$log/$r.compacted.json"
	done
	# Versions 0-21 are past the retention; checkpoints stand at 10, 20 and 25.
	age "$log"/0000000000000000000*.json "$log"/000000000000000000{1[0-9],2[01]}.json "$log"/*.checkpoint.parquet "$log"/*.compacted.json
	run --separate-stderr delta-compact --cleanup-log t
	assert_success
	assert_equal "$stderr" "delta-compact: t: log cleanup (retention 30d): deleted 20 commits, 1 checkpoint file and 22 other files; the log starts at the checkpoint of version 20"
	[ -f "$log"/00000000000000000020.crc ] && [ ! -e "$log"/00000000000000000019.crc ]
	run ls -I '*.crc' "$log"
	assert_line --index 0 00000000000000000020.checkpoint.parquet
	assert_line --index 1 00000000000000000020.json
	assert_output --partial 00000000000000000021.00000000000000000023.compacted.json
	refute_output --partial 00000000000000000020.00000000000000000022.compacted.json
	for v in 20 25; do
		rows t --at-version "$v" >now
		cmp "v$v" now
	done
	rows t >now
	cmp v25 now
	run --separate-stderr delta-cat --at-version 15 t
	assert_failure 65
	run --separate-stderr delta-history t
	assert_equal "$(jq -r .version <<<"$output" | tail -1)" 20
	# Again: nothing more has expired.
	run --separate-stderr delta-compact --cleanup-log t
	assert_success
	assert_equal "$stderr" "delta-compact: t: no commit older than the log retention (30d) lies below a usable checkpoint; nothing deleted"
}

@test "--cleanup-log keeps everything while no checkpoint is old enough, and honours delta.logRetentionDuration from midnight UTC" {
	delta-create t -q --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" \
		--property 'delta.logRetentionDuration=interval 2 days'
	gen-ticks -b 12 4 | delta-append -q t
	log=lake/t/_delta_log
	touch -d '3 days ago' "$log"/00000000000000000000.json "$log"/0000000000000000000[1-5].json
	run --separate-stderr delta-compact --cleanup-log t
	assert_success
	assert_equal "$stderr" "delta-compact: t: no commit older than the log retention (2d) lies below a usable checkpoint; nothing deleted"
	# the cutoff is midnight UTC of the day two days back: a commit of that day is not expired
	touch -d "$(date -u -d '2 days ago' +%Y-%m-%d) 00:00:01 UTC" "$log"/*.json
	run --separate-stderr delta-compact --cleanup-log t
	assert_success
	assert_equal "$stderr" "delta-compact: t: no commit older than the log retention (2d) lies below a usable checkpoint; nothing deleted"
	touch -d "$(date -u -d '2 days ago' +%Y-%m-%d) 00:00:00 UTC - 1 second" "$log"/*.json
	rows t >before
	run --separate-stderr delta-compact --cleanup-log t
	assert_success
	assert_equal "$stderr" "delta-compact: t: log cleanup (retention 2d): deleted 10 commits, 0 checkpoint files and 10 other files; the log starts at the checkpoint of version 10"
	rows t >after
	cmp before after
}

@test "--cleanup-log never starts the log at a damaged checkpoint" {
	ticks_table t 12
	log=lake/t/_delta_log
	age "$log"/*
	printf 'PAR1 not a checkpoint' >"$log"/00000000000000000010.checkpoint.parquet
	age "$log"/00000000000000000010.checkpoint.parquet
	run --separate-stderr delta-compact --cleanup-log t
	assert_success
	[[ ${stderr_lines[1]} == "delta-compact: t: the checkpoint of version 10 cannot be used: "* ]]
	assert_equal "${stderr_lines[2]}" "delta-compact: t: no commit older than the log retention (30d) lies below a usable checkpoint; nothing deleted"
	[ -f "$log"/00000000000000000000.json ]
}

@test "--cleanup-log judges the age of commits by their in-commit timestamps in a table that has them, not by their file times" {
	test_lake_skip "the test edits the log behind the commit store"
	delta-create t -q --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" \
		--property delta.enableInCommitTimestamps=true
	gen-ticks -b 12 4 | delta-append -q t
	log=lake/t/_delta_log
	# versions 0-11 say they were committed 40 days ago; their files are fresh
	old=$((($(date +%s) - 40 * 86400) * 1000))
	for v in $(seq 0 11); do
		f=$log/$(printf '%020d' "$v").json
		jq -c --argjson t $((old + v)) 'if .commitInfo then .commitInfo.inCommitTimestamp = $t else . end' "$f" >c
		cat c >"$f"
	done
	rows t >before
	run --separate-stderr delta-compact --cleanup-log t
	assert_success
	assert_equal "$stderr" "delta-compact: t: log cleanup (retention 30d): deleted 10 commits, 0 checkpoint files and 10 other files; the log starts at the checkpoint of version 10"
	[ ! -e "$log"/00000000000000000009.json ]
	rows t >after
	cmp before after
	# the converse: old files, fresh in-commit timestamps
	delta-create u -q --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" \
		--property delta.enableInCommitTimestamps=true
	gen-ticks -b 12 4 | delta-append -q u
	age lake/u/_delta_log/*
	run --separate-stderr delta-compact --cleanup-log u
	assert_success
	assert_equal "$stderr" "delta-compact: u: no commit older than the log retention (30d) lies below a usable checkpoint; nothing deleted"
	[ -f lake/u/_delta_log/00000000000000000000.json ]
}

@test "--cleanup-log deletes the version checksums below the checkpoint it starts the log at, and the staged commits of versions at or below it" {
	ticks_table t 12
	log=lake/t/_delta_log
	mkdir "$log"/_staged_commits
	for v in 9 10 11; do
		echo '{}' >"$log/_staged_commits/$(printf '%020d' "$v").3a0d65cd-4056-49b8-937b-95f9e3ee90e5.json"
	done
	echo '{}' >"$log"/_staged_commits/notes.json
	echo '{}' >"$log"/00000000000000000005.crc
	echo '{}' >"$log"/00000000000000000010.crc
	age "$log"/* "$log"/_staged_commits/*
	run --separate-stderr delta-compact --cleanup-log t
	assert_success
	assert_equal "$stderr" "delta-compact: t: log cleanup (retention 30d): deleted 10 commits, 0 checkpoint files and 12 other files; the log starts at the checkpoint of version 10"
	[ ! -e "$log"/00000000000000000005.crc ]
	[ -f "$log"/00000000000000000010.crc ]
	run ls "$log"/_staged_commits
	assert_output "00000000000000000011.3a0d65cd-4056-49b8-937b-95f9e3ee90e5.json
notes.json"
}

@test "errors: options without their operation, bad values, not a table" {
	run --separate-stderr delta-compact --dry-run --checkpoint t
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "delta-compact: --dry-run needs --vacuum"
	run --separate-stderr delta-compact --vacuum --retain soon t
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "delta-compact: --retain: expected a duration such as 7d, 168h or 30m, got 'soon'"
	run --separate-stderr delta-compact --vacuum nothere
	assert_failure 65
	assert_equal "$stderr" "delta-compact: $STOCKETL_LAKE/nothere: not a Delta table (no _delta_log)"
	run --separate-stderr delta-compact --checkpoint
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "delta-compact: no table given"
	run --separate-stderr delta-compact --order-by symbol --vacuum t
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "delta-compact: --order-by needs --optimize"
	run --separate-stderr delta-compact --target-file-size 10 t
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "delta-compact: --target-file-size: expected an integer from 4096 to 1099511627776, got '10'"
	ticks_table t 2
	run --separate-stderr delta-compact --order-by symbol,nope t
	assert_failure 64
	assert_equal "$stderr" "delta-compact: t: --order-by: no column 'nope' in the table"
}

@test "optimize compacts 2,000 one-minute commits while appends go on: same rows, fewer files, exact stats, dataChange false" {
	cp -a "$MINUTES" lake/t
	v0=$(latest t)
	rows t >before
	assert_equal "$(wc -l <before)" 8000
	assert_equal "$(live_files t | wc -l)" 2000
	duck_rows t >duck-before
	# Another producer appends to the same days at the same time, one batch every 20 ms.
	gen-ticks -a live -i 1 -b 100 4 | awk '{ print; fflush() } /^\{"@batch"/ { system("sleep 0.02") }' |
		delta-append -q t 2>append.err &
	appender=$!
	while [ "$(latest t)" -lt $((v0 + 3)) ]; do sleep 0.01; done
	run --separate-stderr delta-compact -v t
	assert_success
	wait "$appender"
	assert_equal "$(cat append.err)" ""
	# the first pass's commit (later passes merge what the appends added meanwhile)
	opt=$(delta-history t | jq -r 'select(.operation == "OPTIMIZE") | .version' | tail -1)
	[ "$opt" -gt "$v0" ]
	[ "$(latest t)" -gt "$opt" ] # the appends went on after the commit too
	# 100 appends, and the optimize's commits
	assert_equal "$(latest t)" $((v0 + 100 + $(delta-history t | jq -r 'select(.operation == "OPTIMIZE") | .version' | wc -l)))
	# The rows: those of version v0 and the appended ones, read by delta-cat and by DuckDB.
	delta-cat --since-version "$v0" t | sort >appended
	assert_equal "$(wc -l <appended)" 400
	sort -m before appended >want
	rows t >got
	cmp want got
	duck_rows t >duck-got
	canon <got | cmp - duck-got
	canon <before | cmp - duck-before
	# Time travel to versions before the rewrite reads what it read.
	rows t --at-version "$v0" >at-v0
	cmp before at-v0
	# Fewer files: one a day for what was compacted, plus the appends that came after it.
	run jq -r 'select(.commitInfo) | .commitInfo.operationMetrics | "\(.numRemovedFiles) \(.numAddedFiles)"' \
		"lake/t/_delta_log/$(printf '%020d' "$opt").json"
	read -r removed added <<<"$output"
	[ "$removed" -ge 2000 ]
	assert_equal "$added" 6
	[ "$(live_files t | wc -l)" -le 106 ]
	# Every file action of the rewrite says dataChange false; commitInfo as Spark writes it.
	log=lake/t/_delta_log/$(printf '%020d' "$opt").json
	run jq -sc '[.[] | (.add // .remove) | select(.) | .dataChange] | unique' "$log"
	assert_output '[false]'
	run jq -c 'select(.commitInfo) | .commitInfo | [.operation, .operationParameters, (.operationMetrics | keys), .isBlindAppend]' "$log"
	assert_output '["OPTIMIZE",{"predicate":"[]","zOrderBy":"[]","auto":"false"},["maxFileSize","minFileSize","numAddedBytes","numAddedFiles","numDeletionVectorsRemoved","numRemovedBytes","numRemovedFiles","p25FileSize","p50FileSize","p75FileSize"],false]'
	# The new files' statistics are DuckDB's reading of them; their rows are in symbol, time order.
	for f in $(jq -r 'select(.add) | .add.path' "$log"); do
		want=$(jq -r --arg p "$f" 'select(.add.path == $p) | .add.stats | fromjson | "\(.numRecords) \(.minValues.symbol) \(.maxValues.symbol) \(.minValues.low) \(.maxValues.high) \(.minValues.volume) \(.minValues.trade_timestamp) \(.maxValues.trade_timestamp) \(.nullCount.close)"' "$log")
		got=$(duckdb-query.js "SELECT count(*) AS n, min(symbol) AS s0, max(symbol) AS s1, min(low)::VARCHAR AS a, max(high)::VARCHAR AS b, min(volume) AS c, strftime(min(trade_timestamp) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS d0, strftime(max(trade_timestamp) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS d1, count(*) - count(close) AS e FROM read_parquet('lake/t/$f')" |
			jq -r '"\(.n) \(.s0) \(.s1) \(.a | tonumber) \(.b | tonumber) \(.c) \(.d0) \(.d1) \(.e)"')
		want=$(awk '{ $4 = $4 + 0; $5 = $5 + 0; print }' <<<"$want")
		got=$(awk '{ $4 = $4 + 0; $5 = $5 + 0; print }' <<<"$got")
		assert_equal "$got" "$want"
		parquet-cat "lake/t/$f" | jq -r '"\(.symbol) \(.trade_timestamp)"' >order
		sort -c order
	done
	# A second run rewrites only what the appends added after the first.
	run --separate-stderr delta-compact t
	assert_success
	rows t >again
	cmp want again
	# And a third finds nothing to do: no commit.
	v=$(latest t)
	run --separate-stderr delta-compact t
	assert_success
	assert_regex "$stderr" '^delta-compact: t: optimize: nothing to rewrite among 6 files \([0-9.]+ KiB\) in 6 partitions \(target 128.0 MiB\)$'
	assert_equal "$(latest t)" "$v"
}

@test "optimize leaves alone a partition of one file and files near the target, and takes the order and target it is given" {
	ticks_table t 1 8
	run --separate-stderr delta-compact t
	assert_success
	assert_regex "$stderr" '^delta-compact: t: optimize: nothing to rewrite among 1 file \([0-9.]+ KiB\) in 1 partition \(target 128\.0 MiB\)$'
	run --separate-stderr delta-compact -v t
	assert_success
	assert_equal "${stderr_lines[0]}" "delta-compact: t: 1 file in 1 partition; target 128.0 MiB"
	cp -a "$MINUTES" lake/u
	rows u >before
	# A small target: several files a day, each within reach of it.
	run --separate-stderr delta-compact --target-file-size 20000 --order-by trade_timestamp,symbol u
	assert_success
	rows u >after
	cmp before after
	for f in $(live_files u); do
		[ "$(stat -c %s "lake/u/$f")" -le 24000 ]
		parquet-cat "lake/u/$f" | jq -r '"\(.trade_timestamp) \(.symbol)"' >order
		sort -c order
	done
	[ "$(live_files u | wc -l)" -ge 7 ]
	# Runs after it only merge, and come to rest.
	delta-compact -q --target-file-size 20000 u
	v=$(latest u)
	run --separate-stderr delta-compact --target-file-size 20000 u
	assert_success
	assert_equal "$(latest u)" "$v"
	# delta.targetFileSize is the table's own target.
	delta-create -q w --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date \
		--property delta.targetFileSize=20000
	gen-ticks -b 400 4 | delta-append -q w
	run --separate-stderr delta-compact -v w
	assert_success
	[[ ${stderr_lines[0]} == "delta-compact: w: 400 files in 2 partitions; target 19.5 KiB" ]]
}

@test "optimize compacts unpartitioned tables that Spark wrote (0-row files, tombstones, every primitive type, structs, arrays and maps)" {
	local fx=$STOCKETL_ROOT/tests/fixtures/delta t
	cp -r "$fx/delta-rs/simple_table" lake/s
	cp -r "$fx/delta-golden/data-reader-primitives" lake/p
	cp -r "$fx/dat/basic_append/delta" lake/b
	for t in s p b; do
		rows "$t" >"before-$t"
		v=$(latest "$t")
		run --separate-stderr delta-compact "$t"
		assert_success
		assert_regex "${stderr_lines[0]}" "^delta-compact: $t: optimize: [0-9]+ files \\(.*\\) rewritten into 1 \\(.*\\) in 1 partition, "
		assert_equal "${stderr_lines[1]}" "delta-compact: $t: created version $((v + 1))"
		assert_equal "$(live_files "$t" | wc -l)" 1
		# the new file sits at the table's root, as a table without partitions keeps them
		[[ $(live_files "$t") != */* ]]
		rows "$t" >"after-$t"
		cmp "before-$t" "after-$t"
		rows "$t" --at-version "$v" >"then-$t"
		cmp "before-$t" "then-$t"
		jq -e 'select(.add) | .add.dataChange == false and .add.partitionValues == {}' \
			"lake/$t/_delta_log/$(printf %020d $((v + 1))).json" >/dev/null
		# DuckDB reads the compacted file as the same number of rows
		n=$(node "$STOCKETL_ROOT/tests/helpers/duckdb-query.js" \
			"SELECT count(*) AS n FROM read_parquet('lake/$t/$(live_files "$t")')" | jq .n)
		assert_equal "$n" "$(wc -l <"before-$t")"
	done
	assert_equal "$(jq -c .id after-s | paste -sd,)" "5,7,9"
	assert_equal "$(wc -l <after-p)" 11
	# Spark's struct, array and map columns, in Spark's file and two of ours
	cp -r "$fx/dat/nested_types/delta" lake/n
	delta-cat n >nested
	delta-append -q n nested
	delta-append -q n nested
	rows n >before-n
	run --separate-stderr delta-compact n
	assert_success
	assert_regex "${stderr_lines[0]}" '^delta-compact: n: optimize: 3 files \(.*\) rewritten into 1 \(.*\) in 1 partition, 15 rows; '
	rows n >after-n
	cmp before-n after-n
	assert_equal "$(sort -u after-n)" "$(sort nested)"
	jq -e 'select(.add) | .add.dataChange == false and (.add.stats | fromjson | .numRecords == 15 and
		.minValues == {"pk": 0, "struct": {"float64": 0.0}} and .nullCount.map == 0)' \
		lake/n/_delta_log/00000000000000000003.json >/dev/null
	# DuckDB reads the nested columns of the new file as delta-cat does
	duckdb-query.js "SELECT * FROM read_parquet('lake/n/$(live_files n)') ORDER BY pk" |
		jq -S -c . | sort -u >duck
	jq -S -c . nested | sort >ours
	diff ours duck
	run --separate-stderr delta-compact --order-by array n
	assert_failure 64
	assert_equal "$stderr" "delta-compact: n: --order-by: rows cannot be ordered by the nested column 'array'"
}

# small_files T BYTES: "partition size" of each of lake/T's live files below BYTES.
small_files() {
	jq -r 'if .add then "+ \(.add.path) \(.add.size)" elif .remove then "- \(.remove.path)" else empty end' \
		lake/"$1"/_delta_log/*.json |
		awk -v lim="$2" '$1 == "+" { live[$2] = $3 } $1 == "-" { delete live[$2] }
			END { for (p in live) if (live[p] < lim) { n = live[p]; sub(/\/.*/, "", p); print p, n } }' |
		sort -k1,1 -k2,2n
}

@test "optimize takes a partition whose values Spark and this writer spell differently as one partition" {
	# Spark's timestamp partition values read "1970-01-01 12:30:00", ours "1970-01-01T12:30:00.000000Z"
	cp -r "$STOCKETL_ROOT/tests/fixtures/delta/dat/multi_partitioned_2/delta" lake/m
	delta-cat m >spark
	delta-append -q --app-id a --batch-id 1 m spark
	delta-append -q --app-id a --batch-id 2 m spark
	run -0 bash -c "jq -r 'select(.add) | .add.partitionValues.time' lake/m/_delta_log/*.json | sort -u | wc -l"
	assert_output 6
	rows m >before
	run --separate-stderr delta-compact m
	assert_success
	assert_regex "${stderr_lines[0]}" '^delta-compact: m: optimize: 9 files \([0-9.]+ KiB\) rewritten into 3 \([0-9]+ B\) in 3 partitions, 9 rows; the table had 9 files'
	assert_equal "$(live_files m | wc -l)" 3
	rows m >after
	cmp before after
	run --separate-stderr delta-compact m
	assert_success
	assert_regex "$stderr" '^delta-compact: m: optimize: nothing to rewrite among 3 files \([0-9]+ B\) in 3 partitions '
}

@test "one run of optimize comes to rest on partitions larger than the target: a second run does nothing" {
	ticks_table t 400 4
	rows t >before
	run --separate-stderr delta-compact --target-file-size 8000 t
	assert_success
	assert_regex "${stderr_lines[0]}" '^delta-compact: t: optimize: [0-9]+ files .* rewritten into [0-9]+ .* in 2 partitions( in [234] passes)?, '
	rows t >after
	cmp before after
	# a few files a partition are left below three quarters of the target
	small_files t 6000 >small
	[ -s small ]
	[ "$(wc -l <small)" -le 6 ]
	[ "$(live_files t | wc -l)" -le 12 ]
	v=$(latest t)
	run --separate-stderr delta-compact --target-file-size 8000 t
	assert_success
	assert_regex "$stderr" '^delta-compact: t: optimize: nothing to rewrite among [0-9]+ files '
	assert_equal "$(latest t)" "$v"
}

@test "optimize packs a partition's small files together though a file near the target arrived between them" {
	delta-create t -q --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	# one day: a small file, a file near the target of 6000 bytes, a small file
	gen-ticks -m -s 1 10 | delta-append -q --app-id s --batch-id 1 t
	gen-ticks -m -s 1 300 | delta-append -q --app-id s --batch-id 2 t
	gen-ticks -m -s 1 10 | delta-append -q --app-id s --batch-id 3 t
	log=lake/t/_delta_log
	read -r s1 big s2 < <(jq -r 'select(.add) | .add.size' "$log"/0000000000000000000[123].json | paste -sd' ')
	(( s1 < 4500 && big >= 4500 && s2 < 4500 && s1 + s2 <= 6000 ))
	# they arrived in that order
	run -0 bash -c "jq -r 'select(.add) | .add.modificationTime' $log/0000000000000000000[123].json | sort -c -u -n"
	rows t >before
	run --separate-stderr delta-compact --target-file-size 6000 t
	assert_success
	assert_regex "${stderr_lines[0]}" '^delta-compact: t: optimize: 2 files \([0-9.]+ KiB\) rewritten into 1 \([0-9.]+ KiB\) in 1 partition, 20 rows; the table had 3 files'
	# the small files went, the one near the target stayed
	jq -r 'select(.add) | .add.path' "$log"/0000000000000000000[13].json | sort >small
	run -0 bash -c "jq -r 'select(.remove) | .remove.path' $log/00000000000000000004.json | sort"
	assert_output "$(cat small)"
	run -0 jq -r 'select(.add) | .add.path' "$log"/00000000000000000002.json
	live_files t | grep -qxF "$output"
	rows t >after
	cmp before after
	run --separate-stderr delta-compact --target-file-size 6000 t
	assert_success
	assert_regex "$stderr" '^delta-compact: t: optimize: nothing to rewrite among 2 files '
}

@test "vacuum after optimize keeps every file a retained version reads: time travel to each of them reads as before" {
	ticks_table t 20 8
	delta-compact -q t
	log=lake/t/_delta_log
	# That rewrite (version 21) was made ten days ago: its removes, its commit, the files it removed.
	jq -c 'if .remove then .remove.deletionTimestamp = ((now - 864000) * 1000 | floor) else . end' \
		"$log/00000000000000000021.json" >v21
	mv v21 "$log/00000000000000000021.json"
	old=$(jq -r 'select(.remove) | "lake/t/" + .remove.path' "$log/00000000000000000021.json")
	# shellcheck disable=SC2086 # one path per word
	touch -d '10 days ago' "$log/00000000000000000021.json" $old
	gen-ticks -a more -b 9 8 | delta-append -q t
	delta-compact -q t
	assert_equal "$(latest t)" 31
	for v in $(seq 21 31); do rows t --at-version "$v" >"v$v"; done
	recent=$(jq -r 'select(.remove) | "lake/t/" + .remove.path' "$log/00000000000000000031.json")
	run --separate-stderr delta-compact --vacuum t
	assert_success
	assert_regex "${stderr_lines[0]}" '^delta-compact: t: vacuum \(retention 7d\): deleted 20 files \([0-9.]+ KiB\) and 0 directories of 31 files in 3 directories$'
	for f in $old; do [ ! -e "$f" ]; done
	for f in $recent; do [ -f "$f" ]; done
	for v in $(seq 21 31); do
		rows t --at-version "$v" >now
		cmp "v$v" now
	done
	# Version 20 stopped being the latest ten days ago: its files are gone, as Delta's retention allows.
	run --separate-stderr delta-cat --at-version 20 t
	assert_failure 65
}

@test "kill -9 during each operation leaves a readable table with time travel intact, and a rerun completes it" {
	cp -a "$MINUTES" lake/t
	v0=$(latest t)
	for v in 1 1000 "$v0"; do rows t --at-version "$v" >"at$v"; done
	intact() {
		local v
		for v in "$@"; do
			rows t --at-version "$v" >now
			cmp "at$v" now
		done
		rows t >now
		cmp "at$v0" now
	}
	# optimize
	delta-compact -q t &
	pid=$!
	sleep 0.1
	kill -9 "$pid" 2>/dev/null || true # it may have finished first
	wait "$pid" || true
	intact 1 1000 "$v0"
	delta-compact -q t
	intact 1 1000 "$v0"
	assert_equal "$(live_files t | wc -l)" 6
	# vacuum: files of failed writes, old enough to go
	part=$(basename "$(find lake/t -maxdepth 1 -name "trade_date=*" | sort | head -1)")
	(cd "lake/t/$part" && touch stray-{1..3000}.parquet && touch -d '10 days ago' stray-*.parquet)
	delta-compact -q --vacuum t &
	pid=$!
	sleep 0.03
	kill -9 "$pid" 2>/dev/null || true # it may have finished first
	wait "$pid" || true
	intact 1 1000 "$v0"
	delta-compact -q --vacuum t
	intact 1 1000 "$v0"
	assert_equal "$(find lake/t -name 'stray-*' | wc -l)" 0
	assert_equal "$(delta-history -n 1 t | jq -r '.operation + " " + .operationParameters.status')" "VACUUM END COMPLETED"
	# checkpoint
	delta-compact -q --checkpoint t &
	pid=$!
	sleep 0.01
	kill -9 "$pid" 2>/dev/null || true # it may have finished first
	wait "$pid" || true
	intact 1 1000 "$v0"
	delta-compact -q --checkpoint t
	[ -f "lake/t/_delta_log/$(printf '%020d' "$(latest t)").checkpoint.parquet" ]
	# log cleanup: every commit up to v0 expired
	age lake/t/_delta_log/0*
	touch "lake/t/_delta_log/$(printf '%020d' "$((v0 + 1))").json"
	delta-compact -q --cleanup-log t &
	pid=$!
	sleep 0.03
	kill -9 "$pid" 2>/dev/null || true # it may have finished first
	wait "$pid" || true
	rows t >now
	cmp "at$v0" now
	run --separate-stderr delta-compact --cleanup-log t
	assert_success
	# The killed run may have finished first: then this one finds nothing left to delete.
	assert_regex "$stderr" "(the log starts at the checkpoint of version $v0|no commit older than the log retention \(30d\) lies below a usable checkpoint; nothing deleted)\$"
	run bash -c "ls lake/t/_delta_log | grep -E '^[0-9]{20}\.(json|checkpoint\.parquet)\$' | sort | head -1"
	assert_output "$(printf '%020d' "$v0").checkpoint.parquet"
	rows t --at-version "$v0" >now
	cmp "at$v0" now
	rows t >now
	cmp "at$v0" now
}

@test "--where optimizes only the partitions it selects, and names partition columns only" {
	cp -a "$MINUTES" lake/t
	rows t >before
	run --separate-stderr delta-compact --where "trade_date >= '2025-06-04' and trade_date < '2025-06-06'" t
	assert_success
	assert_regex "${stderr_lines[0]}" '^delta-compact: t: optimize: 780 files \([0-9.]+ MiB\) rewritten into 2 \([0-9.]+ KiB\) in 2 partitions, 3120 rows; the table had 2000 files \([0-9.]+ MiB\), now 1222 \([0-9.]+ MiB\)$'
	run jq -r 'select(.commitInfo) | .commitInfo.operationParameters.predicate' lake/t/_delta_log/00000000000000002001.json
	assert_output "[\"trade_date >= '2025-06-04' and trade_date < '2025-06-06'\"]"
	assert_equal "$(live_files t | grep -c '^trade_date=2025-06-02/')" 390
	assert_equal "$(live_files t | grep -c '^trade_date=2025-06-04/')" 1
	rows t >after
	cmp before after
	run --separate-stderr delta-compact --where "symbol = 'IBM'" t
	assert_failure 64
	assert_equal "$stderr" "delta-compact: --where: 'symbol' is not a partition column of t (optimize selects whole partitions)"
	run --separate-stderr delta-compact --where "trade_date = 5" t
	assert_failure 64
	assert_equal "$stderr" "delta-compact: --where: column trade_date is date: write the value in quotes"
	run --separate-stderr delta-compact --where "trade_date =" t
	assert_failure 64
	[ "$(latest t)" -eq 2001 ]
	# a column named in another case, as delta-cat --where takes it
	run --separate-stderr delta-compact --where "Trade_Date = '2025-06-03'" t
	assert_success
	assert_regex "${stderr_lines[0]}" '^delta-compact: t: optimize: 390 files \([0-9.]+ KiB\) rewritten into 1 \([0-9.]+ KiB\) in 1 partition, 1560 rows; '
	assert_equal "$(live_files t | grep -c '^trade_date=2025-06-03/')" 1
	assert_equal "$(live_files t | grep -c '^trade_date=2025-06-02/')" 390
	rows t >after
	cmp before after
}

@test "two optimizes at once: one rewrites, the other plans again after its conflict (or meets nothing left), and no file is left behind" {
	cp -a "$MINUTES" lake/t
	rows t >before
	delta-compact -q t 2>a.err &
	a=$!
	delta-compact -q t 2>b.err &
	b=$!
	sa=0 sb=0
	wait "$a" || sa=$?
	wait "$b" || sb=$?
	[[ " 0 75 " == *" $sa "* && " 0 75 " == *" $sb "* ]]
	[ $((sa + sb)) -le 75 ]
	for s in a b; do
		[ ! -s "$s.err" ] || assert_regex "$(cat "$s.err")" 'conflict'
	done
	rows t >after
	cmp before after
	assert_equal "$(live_files t | wc -l)" 6
	# Every data file on disk is one the log names: the loser removed its own.
	assert_equal "$(find lake/t -name '*.parquet' -path '*trade_date=*' | wc -l)" \
		"$(jq -r '.add.path // empty' lake/t/_delta_log/*.json | sort -u | wc -l)"
}

@test "[compact] target_file_size in the configuration is the target of tables that set none" {
	ticks_table t 40 8
	printf '[compact]\ntarget_file_size = 5000\n' >c.ini
	run --separate-stderr delta-compact -v --config c.ini t
	assert_success
	assert_equal "${stderr_lines[0]}" "delta-compact: t: 40 files in 1 partition; target 4.9 KiB"
	printf '[compact]\ntarget_file_size = big\n' >c.ini
	run --separate-stderr delta-compact --config c.ini t
	assert_failure 78
	assert_equal "$stderr" "delta-compact: [compact] target_file_size: expected an integer from 4096 to 1099511627776, got 'big'"
}

@test "--order-by names columns as --where does: exactly, else the only one that matches ignoring case" {
	ticks_table t 3 8
	rows t >before
	run --separate-stderr delta-compact --order-by TRADE_TIMESTAMP,Symbol t
	assert_success
	assert_regex "$stderr" '^delta-compact: t: optimize: 3 files \([0-9.]+ KiB\) rewritten into 1 '
	rows t >after
	cmp before after
	f=$(live_files t)
	parquet-cat "lake/t/$f" | jq -r '"\(.trade_timestamp) \(.symbol)"' >order
	sort -c order
	[ "$(sort -u order | wc -l)" -eq 24 ]
	run --separate-stderr delta-compact --order-by symbol,Trade_Timestampx t
	assert_failure 64
	assert_equal "$stderr" "delta-compact: t: --order-by: no column 'Trade_Timestampx' in the table"
}

@test "optimize orders the rows of a table with a merge key by that key" {
	delta-create -q s --schema "$STOCKETL_ROOT/conf/tables/silver.schema" --partition-by trade_date \
		--merge-key trade_timestamp,symbol,interval
	gen-ticks -b 20 8 | delta-append -q s
	gen-ticks -a again -b 20 8 | delta-append -q s
	rows s >before
	run --separate-stderr delta-compact s
	assert_success
	rows s >after
	cmp before after
	f=$(live_files s)
	assert_equal "$(wc -l <<<"$f")" 1
	parquet-cat "lake/s/$f" | jq -r '"\(.trade_timestamp) \(.symbol)"' >order
	sort -c order
	[ "$(head -1 order)" = "2025-06-02T13:30:00Z AAPL" ]
}

# commit_delayed_compact ARGS...: delta-compact ARGS in the background, its
# first commit held for 3 s just before the commit is linked into the log
# (strace delays the first link(2)), its stderr in c.err, its process in $!.
commit_delayed_compact() {
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -o /dev/null \
		-e trace=link -e inject=link:delay_enter=3000000:when=1 delta-compact "$@" 2>c.err &
}

# upsert_one_row T: while delta-compact waits, an upsert that rewrites the
# file holding the table's first row (its volume changed); waits for
# delta-compact's commit to be written first, so that the upsert wins the
# version.
upsert_one_row() {
	local k
	for ((k = 0; k < 100; k++)); do
		compgen -G "lake/$1/_delta_log/.*.json.*.tmp" >/dev/null && break
		sleep 0.05
	done
	compgen -G "lake/$1/_delta_log/.*.json.*.tmp" >/dev/null
	delta-cat "$1" | head -1 | jq -c '.volume = 424242' |
		delta-append -q --merge-key symbol,interval,trade_timestamp --app-id fix --batch-id 1 "$1"
}

@test "optimize that loses a group to an upsert plans again from the latest version and commits; with no retries it exits 75 and leaves nothing" {
	ticks_table t 12 4
	commit_delayed_compact -v t
	c=$!
	upsert_one_row t
	merged=$(latest t)
	rows t >expected
	grep -q 424242 expected
	wait "$c"
	run cat c.err
	assert_line --regexp "^delta-compact: t: optimize: another writer rewrote files of this group first \(.*/lake/t: version $merged removed .*\); planning again from the latest version \(retry 1 of 15\)$"
	assert_line --regexp '^delta-compact: t: optimize: 12 files .* rewritten into 1 .*; the table had 12 files .*, now 1 '
	# The optimize came after the upsert, and holds its row.
	run delta-history --format json --limit 2 t
	assert_equal "$(jq -r .operation <<<"${lines[0]}") $(jq -r .operation <<<"${lines[1]}")" "OPTIMIZE MERGE"
	rows t >after
	cmp expected after
	assert_equal "$(live_files t | wc -l)" 1
	# Every data file on disk is one the log names: the lost attempt's was removed.
	assert_equal "$(find lake/t -name '*.parquet' -path '*trade_date=*' | wc -l)" \
		"$(jq -r '.add.path // empty' lake/t/_delta_log/*.json | sort -u | wc -l)"

	# Without retries the conflict is the run's end: 75, nothing of it left.
	ticks_table u 12 4
	printf '[delta]\ncommit_retries = 0\n' >no-retries.ini
	commit_delayed_compact --config no-retries.ini u
	c=$!
	upsert_one_row u
	rows u >expected
	s=0
	wait "$c" || s=$?
	assert_equal "$s" 75
	run cat c.err
	assert_output --regexp '^delta-compact: .*lake/u: version [0-9]+ removed .*; not committed, safe to run again \(a conflict: another writer rewrote or deleted these files first; the new files were removed; 0 retries spent, \[delta\] commit_retries\)$'
	rows u >after
	cmp expected after
	assert_equal "$(delta-history --format json --limit 1 u | jq -r .operation)" MERGE
	# Every data file on disk is one the log names.
	assert_equal "$(find lake/u -name '*.parquet' -path '*trade_date=*' | wc -l)" \
		"$(jq -r '.add.path // empty' lake/u/_delta_log/*.json | sort -u | wc -l)"
}

@test "optimize of a table whose file holds a string that is not UTF-8 commits JSON: the statistics leave that bound out, and the rows read as before" {
	cp -r "$FIXTURES/not-utf8/ticks" lake/t
	before=$(delta-cat t)
	run -0 delta-compact t
	log=lake/t/_delta_log/00000000000000000003.json
	iconv -f UTF-8 -t UTF-8 "$log" >/dev/null
	jq -e . "$log" >/dev/null
	# the minimum (ABC) is UTF-8 and kept; the maximum (the other one) has no JSON form
	assert_equal "$(jq -c 'select(.add) | .add.stats | fromjson | [.minValues.symbol, .maxValues.symbol, .maxValues.source]' "$log")" '["ABC",null,"alphavantage"]'
	assert_equal "$(delta-cat t)" "$before"
	assert_equal "$(delta-cat --where "symbol = 'ABC'" --columns symbol t)" '{"symbol":"ABC"}'
}

@test "a table with deletion vectors takes appends and upserts; optimize leaves the deleted rows out and the removes carry the vectors; vacuum keeps a vector's file while a retained version needs it; checkpoints keep the vectors" {
	local fx=$STOCKETL_ROOT/tests/fixtures/delta/delta-rs/table-with-dv-small
	# delta-rs's table: values 0 to 9, of which version 1 deleted 0 and 9 by a vector
	cp -r "$fx" lake/dv
	chmod -R u+w lake/dv
	local dvfile
	dvfile=$(cd lake/dv && echo deletion_vector_*.bin)
	echo '{"value":100}' | delta-append -q dv
	assert_equal "$(rows dv | jq -c .value | sort -n | paste -sd,)" 1,2,3,4,5,6,7,8,100
	# An upsert rewrites the file without the rows the vector deleted: 0 is new again.
	printf '%s\n' '{"value":5}' '{"value":0}' | delta-append -q --merge-key value dv
	assert_equal "$(rows dv | jq -c .value | sort -n | paste -sd,)" 0,1,2,3,4,5,6,7,8,100
	run -0 jq -c 'select(.commitInfo) | .commitInfo.operationMetrics | [.numTargetRowsUpdated, .numTargetRowsInserted, .numTargetRowsCopied]' \
		lake/dv/_delta_log/00000000000000000003.json
	assert_output '["1","1","7"]'
	# The remove names the logical file removed: its path and its vector.
	run -0 jq -c 'select(.remove.deletionVector) | .remove.deletionVector | [.storageType, .cardinality]' \
		lake/dv/_delta_log/00000000000000000003.json
	assert_output '["u",2]'
	# Vacuum with no retention, while version 2 still reads the vector: the
	# vector's file goes only once no retained version needs it.
	cp -r "$fx" lake/v
	chmod -R u+w lake/v
	touch lake/v/stray.parquet
	sleep 1
	delta-compact -q --vacuum --retain 0h --force v
	[ -e "lake/v/$dvfile" ]
	[ ! -e lake/v/stray.parquet ]
	assert_equal "$(rows v | jq -c .value | paste -sd,)" 1,2,3,4,5,6,7,8
	echo '{"value":50}' | delta-append -q v
	run --separate-stderr delta-compact v
	assert_success
	assert_regex "${stderr_lines[0]}" '^delta-compact: v: optimize: 2 files \(.*\) rewritten into 1 \(.*\) in 1 partition, 9 rows; '
	run -0 jq -c 'select(.remove.deletionVector) | .remove.dataChange' lake/v/_delta_log/00000000000000000005.json
	assert_output false
	run -0 jq -r 'select(.commitInfo) | .commitInfo.operationMetrics.numDeletionVectorsRemoved' \
		lake/v/_delta_log/00000000000000000005.json
	assert_output 1
	assert_equal "$(rows v | jq -c .value | sort -n | paste -sd,)" 1,2,3,4,5,6,7,8,50
	# DuckDB reads the new file as the rows that are left.
	n=$(duckdb-query.js "SELECT count(*) AS n, min(value) AS lo, max(value) AS hi FROM read_parquet('lake/v/$(live_files v)')" | jq -c .)
	assert_equal "$n" '{"n":9,"lo":1,"hi":50}'
	sleep 1
	delta-compact -q --vacuum --retain 0h --force v
	[ ! -e "lake/v/$dvfile" ]
	# A checkpoint keeps the vector of a live file; read from it alone, as before.
	cp -r "$fx" lake/c
	chmod -R u+w lake/c
	delta-compact -q --checkpoint c
	run -0 parquet-cat --columns add lake/c/_delta_log/00000000000000000001.checkpoint.parquet
	assert_output --partial '"deletionVector":{"storageType":"u","pathOrInlineDv":"vBn[lx{q8@P<9BNH/isA","offset":1,"sizeInBytes":36,"cardinality":2,"maxRowIndex":null}'
	# ... and the tags the writer gave the file
	run -0 duckdb-query.js "SELECT map_extract(add.tags, 'INSERTION_TIME')[1] AS t, cardinality(add.tags) AS n FROM read_parquet('lake/c/_delta_log/00000000000000000001.checkpoint.parquet') WHERE add IS NOT NULL"
	assert_output '{"t":"1677811178336000","n":4}'
	rm lake/c/_delta_log/0000000000000000000[01].json
	assert_equal "$(rows c | jq -c .value | paste -sd,)" 1,2,3,4,5,6,7,8
}

@test "vacuum keeps the vector files of every removed version of a file within the retention: its tombstones are one per path and vector" {
	local fx=$STOCKETL_ROOT/tests/fixtures/delta/delta-rs/table-with-dv-small
	local p=part-00000-fae5310a-a37d-4e51-827b-c3d5516560ca-c000.snappy.parquet
	cp -r "$fx" lake/t
	chmod -R u+w lake/t
	local dv0 now
	dv0=$(cd lake/t && echo deletion_vector_*.bin)
	# The same rows deleted again twice, each time by a vector in a new file
	# (a copy of the first), as a later delete rewrites a file's vector.
	cp "lake/t/$dv0" lake/t/deletion_vector_aaaaaaaa-0000-4000-8000-000000000001.bin
	cp "lake/t/$dv0" lake/t/deletion_vector_bbbbbbbb-0000-4000-8000-000000000002.bin
	dv() { printf '{"storageType":"u","pathOrInlineDv":"%s","offset":1,"sizeInBytes":36,"cardinality":2}' "$1"; }
	now=$(date +%s%3N)
	local prev='vBn[lx{q8@P<9BNH/isA' v=2
	for next in 'S&A80002m:Fb/MH00001' 'YsUX!002m:Fb/MH00002'; do
		{
			echo "{\"remove\":{\"path\":\"$p\",\"deletionTimestamp\":$now,\"dataChange\":true,\"size\":635,\"deletionVector\":$(dv "$prev")}}"
			echo "{\"add\":{\"path\":\"$p\",\"partitionValues\":{},\"size\":635,\"modificationTime\":1,\"dataChange\":true,\"stats\":\"{\\\"numRecords\\\":10}\",\"deletionVector\":$(dv "$next")}}"
		} >"lake/t/_delta_log/$(printf %020d $v).json"
		prev=$next v=$((v + 1))
	done
	# the data and vector files are old, the removals recent
	find lake/t -path '*/_delta_log' -prune -o -type f -exec touch -d '10 days ago' {} +
	run --separate-stderr delta-compact --vacuum --dry-run t
	assert_success
	assert_output ''
	delta-compact -q --vacuum t
	for v in 1 2 3; do
		assert_equal "$(rows t --at-version "$v" | wc -l)" 8
	done
	assert_equal "$(find lake/t -maxdepth 1 -name 'deletion_vector_*.bin' | wc -l)" 3
}

@test "a table with the v2Checkpoint feature: --cleanup-log starts the log at a UUID-named checkpoint whose files are in a sidecar and keeps the sidecar, deletes old sidecars that no kept checkpoint names, keeps recent ones; --checkpoint writes a classic V1 checkpoint there" {
	ticks_table t 12
	log=lake/t/_delta_log
	# version 13 turns the feature on; a UUID-named JSON checkpoint of it has its files in a sidecar
	jq -c 'select(.protocol) | .protocol = {minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ["v2Checkpoint"], writerFeatures: ["v2Checkpoint"]}' \
		"$log"/00000000000000000000.json >"$log"/00000000000000000013.json
	mkdir "$log"/_sidecars
	local values
	values=$(jq -r 'select(.add) | .add | "({'"'"'path'"'"': '"'"'\(.path)'"'"', '"'"'partitionValues'"'"': MAP {'"'"'trade_date'"'"': '"'"'\(.partitionValues.trade_date)'"'"'}, '"'"'size'"'"': \(.size), '"'"'modificationTime'"'"': \(.modificationTime), '"'"'dataChange'"'"': false, '"'"'stats'"'"': '"'"'\(.stats)'"'"'})"' \
		"$log"/000000000000000000{0[1-9],1[0-2]}.json | paste -sd,)
	duckdb-query.js "COPY (SELECT a::STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR) AS \"add\" FROM (VALUES $values) v(a)) TO '$log/_sidecars/s13.parquet' (FORMAT parquet)" >/dev/null
	{
		echo '{"checkpointMetadata":{"version":13,"tags":{}}}'
		cat "$log"/00000000000000000013.json
		jq -c 'select(.metaData)' "$log"/00000000000000000000.json
		jq -c 'select(.txn)' "$log"/00000000000000000012.json
		jq -nc --argjson n "$(stat -c %s "$log"/_sidecars/s13.parquet)" \
			'{sidecar: {path: "s13.parquet", sizeInBytes: $n, modificationTime: 1700000000000}}'
	} >"$log"/00000000000000000013.checkpoint.7d17ac10-5cc3-401b-bd1a-9c82dd2ea032.json
	rows t >before
	# sidecars no checkpoint names: one left by an old failed checkpoint, one being written now
	cp "$log"/_sidecars/s13.parquet "$log"/_sidecars/orphan.parquet
	cp "$log"/_sidecars/s13.parquet "$log"/_sidecars/in-progress.parquet
	age "$log"/*.json "$log"/*.parquet "$log"/_sidecars/s13.parquet "$log"/_sidecars/orphan.parquet
	run --separate-stderr delta-compact --cleanup-log t
	assert_success
	assert_equal "${stderr_lines[0]}" "delta-compact: t: log cleanup (retention 30d): deleted 13 commits, 1 checkpoint file and 13 other files; the log starts at the checkpoint of version 13"
	assert_equal "${stderr_lines[1]}" "delta-compact: t: deleted 1 sidecar file that no checkpoint kept names (_delta_log/_sidecars)"
	run ls "$log" "$log"/_sidecars
	assert_output --partial 00000000000000000013.checkpoint.7d17ac10-5cc3-401b-bd1a-9c82dd2ea032.json
	assert_output --partial s13.parquet
	assert_output --partial in-progress.parquet
	refute_output --partial orphan.parquet
	[ ! -e "$log"/00000000000000000012.json ]
	rows t >after
	cmp before after
	# appends go on; the checkpoint written is classic, of the V1 spec
	gen-ticks -a later -b 1 4 | delta-append -q t
	run --separate-stderr delta-compact --checkpoint t
	assert_success
	[ -f "$log"/00000000000000000014.checkpoint.parquet ]
	run duckdb-query.js "SELECT count(*) FILTER (WHERE add IS NOT NULL) AS adds, max(protocol.readerFeatures[1]) AS f FROM read_parquet('$log/00000000000000000014.checkpoint.parquet')"
	assert_output '{"adds":13,"f":"v2Checkpoint"}'
	rm "$log"/_sidecars/s13.parquet
	assert_equal "$(rows t | wc -l)" $(($(wc -l <before) + 4))
}

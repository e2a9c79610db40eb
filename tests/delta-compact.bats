#!/usr/bin/env bats
# delta-compact: checkpoints, vacuum and log cleanup of a table that other
# writers keep appending to.

# shellcheck disable=SC2154 # $stderr and $stderr_lines are set by BATS's run --separate-stderr
load helpers/common

setup() {
	common_setup
	export STOCKETL_LAKE=$BATS_TEST_TMPDIR/lake
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

# age PATH... : set the modification times 40 days into the past.
age() {
	touch -d '40 days ago' "$@"
}

@test "--help prints the usage, which is the man page's SYNOPSIS" {
	run --separate-stderr delta-compact --help
	assert_success
	assert_help_matches_man delta-compact
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
	assert_equal "$(sort <<<"$output")" "$(printf '%s\n' "$STOCKETL_LAKE/t/_delta_log/.00000000000000000009.json.0a1b.tmp" \
		"$STOCKETL_LAKE/t/$part/part-00000-old-c000.zstd.parquet" \
		"$STOCKETL_LAKE/t/trade_date=2020-01-01/" \
		"$STOCKETL_LAKE/t/trade_date=2020-01-01/part-00000-x-c000.zstd.parquet" | sed "s|lake/t/lake/t/|lake/t/|" | sort)"
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

@test "--vacuum refuses a retention shorter than the table's without --force" {
	ticks_table t 2
	part=$(ls -d lake/t/trade_date=*)
	echo junk >"$part/part-00000-stray-c000.zstd.parquet"
	touch -d '2 hours ago' "$part/part-00000-stray-c000.zstd.parquet"
	run --separate-stderr delta-compact --vacuum --retain 1h t
	assert_failure 64
	assert_equal "$stderr" "delta-compact: t: --retain 1h is shorter than the table's delta.deletedFileRetentionDuration (7d): readers of recent versions and writers that have not committed yet could lose files; give --force to vacuum anyway"
	[ -f "$part/part-00000-stray-c000.zstd.parquet" ]
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

@test "--cleanup-log deletes expired commits below a checkpoint; the oldest kept version and the latest read as before" {
	ticks_table t 25
	for v in 10 15 20 25; do rows t --at-version "$v" >"v$v"; done
	delta-compact -q --checkpoint t
	log=lake/t/_delta_log
	# Versions 0-21 are past the retention; checkpoints stand at 10, 20 and 25.
	age "$log"/0000000000000000000*.json "$log"/000000000000000000{1[0-9],2[01]}.json "$log"/*.checkpoint.parquet
	run --separate-stderr delta-compact --cleanup-log t
	assert_success
	assert_equal "$stderr" "delta-compact: t: log cleanup (retention 30d): deleted 20 commits, 1 checkpoint file and 0 other files; the log starts at the checkpoint of version 20"
	run ls "$log"
	assert_line --index 0 00000000000000000020.checkpoint.parquet
	assert_line --index 1 00000000000000000020.json
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

@test "--cleanup-log keeps everything while no checkpoint is old enough, and honours delta.logRetentionDuration" {
	delta-create t -q --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" \
		--property 'delta.logRetentionDuration=interval 2 days'
	gen-ticks -b 12 4 | delta-append -q t
	log=lake/t/_delta_log
	touch -d '3 days ago' "$log"/00000000000000000000.json "$log"/0000000000000000000[1-5].json
	run --separate-stderr delta-compact --cleanup-log t
	assert_success
	assert_equal "$stderr" "delta-compact: t: no commit older than the log retention (2d) lies below a usable checkpoint; nothing deleted"
	touch -d '3 days ago' "$log"/*.json
	rows t >before
	run --separate-stderr delta-compact --cleanup-log t
	assert_success
	assert_equal "$stderr" "delta-compact: t: log cleanup (retention 2d): deleted 10 commits, 0 checkpoint files and 0 other files; the log starts at the checkpoint of version 10"
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

@test "errors: no operation, options without their operation, bad values, not a table" {
	run --separate-stderr delta-compact t
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "delta-compact: no operation given (--checkpoint, --cleanup-log or --vacuum)"
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
}

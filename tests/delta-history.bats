#!/usr/bin/env bats
# delta-history: one line per commit, newest first.

# shellcheck disable=SC2154 # $stderr and $stderr_lines are set by BATS's run --separate-stderr
load helpers/common

setup() {
	common_setup
	export STOCKETL_LAKE=$TEST_DIR/lake
	DELTA=$FIXTURES/delta
}

@test "--help prints the usage, which is the man page's SYNOPSIS" {
	run --separate-stderr delta-history --help
	assert_success
	assert_help_matches_man delta-history
}

@test "lists a Spark table's commits newest first with operation, parameters and metrics" {
	run --separate-stderr delta-history --limit 2 "$DELTA/delta-golden/basic-with-inserts-deletes-checkpoint"
	assert_success
	assert_equal "${#lines[@]}" 2
	run jq -c '[.version, .timestamp, .operation, .operationMetrics.numDeletedRows, .readVersion]' <<<"$output"
	assert_line --index 0 '[13,"2023-08-07T16:45:43.015Z","DELETE","14",12]'
	assert_line --index 1 '[12,"2023-08-07T16:45:42.288Z","WRITE",null,11]'
}

@test "every version of a table is listed, each once" {
	run --separate-stderr delta-history "$DELTA/delta-rs/simple_table"
	assert_success
	run jq -r '"\(.version) \(.operation)"' <<<"$output"
	assert_output $'4 DELETE\n3 UPDATE\n2 WRITE\n1 MERGE\n0 WRITE'
}

@test "versions removed by log cleanup are not listed" {
	run --separate-stderr delta-history "$DELTA/dat/no_replay/delta"
	assert_success
	run jq -r .version <<<"$output"
	assert_output $'3\n2'
}

@test "a commit without commitInfo is listed with its file time" {
	mkdir -p t/_delta_log
	cp "$DELTA/delta-rs/simple_table/_delta_log/00000000000000000000.json" t/_delta_log/
	grep -v commitInfo "$DELTA/delta-rs/simple_table/_delta_log/00000000000000000001.json" \
		>t/_delta_log/00000000000000000001.json
	touch -d @1700000000 t/_delta_log/00000000000000000001.json
	run --separate-stderr delta-history --limit 1 ./t
	assert_success
	assert_output '{"version":1,"timestamp":"2023-11-14T22:13:20.000Z","operation":null,"operationParameters":null,"operationMetrics":null,"readVersion":null,"isBlindAppend":null,"engineInfo":null}'
}

@test "a commit with an in-commit timestamp is listed with it, not with commitInfo.timestamp" {
	mkdir -p t/_delta_log
	cp "$DELTA/delta-rs/simple_table/_delta_log/00000000000000000000.json" t/_delta_log/
	jq -c 'if .commitInfo then .commitInfo.inCommitTimestamp = 1600000100000 else . end' \
		"$DELTA/delta-rs/simple_table/_delta_log/00000000000000000001.json" \
		>t/_delta_log/00000000000000000001.json
	run --separate-stderr delta-history --limit 2 ./t
	assert_success
	run jq -r .timestamp <<<"$output"
	assert_output $'2020-09-13T12:28:20.000Z\n2020-04-27T06:23:06.154Z'
}

@test "--format table prints aligned columns" {
	delta-create t --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	run --separate-stderr delta-history --format table t
	assert_success
	assert_line --index 0 --regexp '^VERSION +TIMESTAMP +OPERATION +PARAMETERS \| METRICS$'
	assert_line --index 1 --regexp '^0 +[0-9T:.-]+Z +CREATE TABLE +partitionBy=\["trade_date"\] properties=\{\} \| -$'
}

@test "the table shows the parameters and metrics that matter for each of Spark's operations" {
	run --separate-stderr delta-history --format table "$DELTA/delta-golden/basic-with-inserts-deletes-checkpoint"
	assert_success
	assert_line --index 1 --regexp '^13 +2023-08-07T16:45:43.015Z DELETE +predicate=\["\(id#6991L >= 66\)"\] \| numDeletedRows=14 numCopiedRows=6 numAddedFiles=1 numRemovedFiles=2$'
	assert_line --index 2 --regexp '^12 +2023-08-07T16:45:42.288Z WRITE +mode=Append \| numFiles=1 numOutputRows=10 numOutputBytes=527B$'
	run --separate-stderr delta-history --format table "$DELTA/delta-rs/simple_table"
	assert_success
	# shellcheck disable=SC2016 # backquotes of Spark's predicate, not a command
	assert_line --index 4 --regexp '^1 +2020-04-27T06:23:16.254Z MERGE +predicate=\(oldData.`id` = newData.`id`\) \| -$'
}

@test "maintenance commits: OPTIMIZE, VACUUM START and VACUUM END with their sizes and retentions in units" {
	mkdir -p t/_delta_log
	cp "$DELTA/delta-rs/simple_table/_delta_log/00000000000000000000.json" t/_delta_log/
	cat >t/_delta_log/00000000000000000001.json <<-'EOF'
		{"commitInfo":{"timestamp":1750000000000,"operation":"OPTIMIZE","operationParameters":{"predicate":"[\"(trade_date = '2025-06-02')\"]","zOrderBy":"[]","auto":"false"},"readVersion":0,"isolationLevel":"SnapshotIsolation","isBlindAppend":false,"operationMetrics":{"numRemovedFiles":"390","numRemovedBytes":"1048576","numAddedFiles":"1","numAddedBytes":"204800","minFileSize":"204800","p25FileSize":"204800","p50FileSize":"204800","p75FileSize":"204800","maxFileSize":"204800","numDeletionVectorsRemoved":"0"},"engineInfo":"stocketl/0.1.0"}}
	EOF
	cat >t/_delta_log/00000000000000000002.json <<-'EOF'
		{"commitInfo":{"timestamp":1750000001000,"operation":"VACUUM START","operationParameters":{"retentionCheckEnabled":"false","defaultRetentionMillis":"604800000","specifiedRetentionMillis":"3600000"},"isBlindAppend":false,"operationMetrics":{"numFilesToDelete":"390","sizeOfDataToDelete":"1048576"}}}
	EOF
	cat >t/_delta_log/00000000000000000003.json <<-'EOF'
		{"commitInfo":{"timestamp":1750000002000,"operation":"VACUUM END","operationParameters":{"status":"COMPLETED"},"isBlindAppend":false,"operationMetrics":{"numDeletedFiles":"390","numVacuumedDirectories":"3"}}}
	EOF
	run --separate-stderr delta-history --format table ./t
	assert_success
	assert_line --index 1 '3        2025-06-15T15:06:42.000Z VACUUM END       status=COMPLETED | numDeletedFiles=390 numVacuumedDirectories=3'
	assert_line --index 2 '2        2025-06-15T15:06:41.000Z VACUUM START     specifiedRetentionMillis=1h defaultRetentionMillis=7d | numFilesToDelete=390 sizeOfDataToDelete=1.0MiB'
	assert_line --index 3 "1        2025-06-15T15:06:40.000Z OPTIMIZE         predicate=[\"(trade_date = '2025-06-02')\"] zOrderBy=[] | numRemovedFiles=390 numRemovedBytes=1.0MiB numAddedFiles=1 numAddedBytes=200.0KiB p50FileSize=200.0KiB"
	# JSON keeps everything as recorded.
	run --separate-stderr delta-history --limit 3 ./t
	run jq -c '[.operation, .operationMetrics.p25FileSize, .operationParameters.auto]' <<<"$output"
	assert_line --index 2 '["OPTIMIZE","204800","false"]'
}

@test "errors: not a table, bad options" {
	run --separate-stderr delta-history nothere
	assert_failure 65
	assert_equal "$stderr" "delta-history: $STOCKETL_LAKE/nothere: not a Delta table (no _delta_log)"
	run --separate-stderr delta-history --limit x t
	assert_failure 64
	run --separate-stderr delta-history --format yaml t
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "delta-history: --format: expected json or table, got 'yaml'"
}

@test "a closed pipe ends the output quietly" {
	run --separate-stderr bash -c "delta-history '$DELTA/delta-golden/basic-with-inserts-deletes-checkpoint' | head -1"
	assert_success
	assert_equal "$stderr" ""
	assert_output --partial '"version":13'
}

@test "the MERGE commits of upserts and the OPTIMIZE that follows show what they did" {
	delta-create -q s --schema "$STOCKETL_ROOT/conf/tables/silver.schema" --partition-by trade_date \
		--merge-key symbol,interval,trade_timestamp
	gen-ticks -b 3 8 | delta-append -q s
	gen-ticks -a again -b 1 8 | delta-append -q s
	delta-compact -q s
	run --separate-stderr delta-history --format table s
	assert_success
	assert_line --index 1 --regexp '^5 +[0-9T:.-]+Z OPTIMIZE +predicate=\[\] zOrderBy=\[\] \| numRemovedFiles=3 numRemovedBytes=[0-9.]+KiB numAddedFiles=1 numAddedBytes=[0-9.]+KiB p50FileSize=[0-9.]+KiB$'
	assert_line --index 2 --regexp '^4 +[0-9T:.-]+Z MERGE +predicate=\["\(target.symbol = source.symbol\) AND .*"\] \| numSourceRows=8 numTargetRowsInserted=0 numTargetRowsUpdated=8 numTargetRowsDeleted=0 numTargetRowsCopied=[0-9]+ numTargetFilesAdded=1 numTargetFilesRemoved=1$'
}

@test "the table shows what delta-rs recorded under its own names, and its sizes given as numbers in units" {
	mkdir -p t/_delta_log
	cp "$DELTA/delta-rs/simple_table/_delta_log/00000000000000000000.json" t/_delta_log/
	cat >t/_delta_log/00000000000000000001.json <<-'EOF'
		{"commitInfo":{"timestamp":1750000000000,"operation":"WRITE","operationParameters":{"mode":"Append"},"engineInfo":"delta-rs:py-1.6.2","clientVersion":"delta-rs.py-1.6.2","operationMetrics":{"execution_time_ms":4,"num_added_files":1,"num_added_rows":3,"num_partitions":0,"num_removed_files":0}}}
	EOF
	cat >t/_delta_log/00000000000000000002.json <<-'EOF'
		{"commitInfo":{"timestamp":1750000001000,"operation":"OPTIMIZE","operationParameters":{"targetSize":"104857600"},"engineInfo":"delta-rs:py-1.6.2","operationMetrics":{"numFilesAdded":1,"numFilesRemoved":4,"partitionsOptimized":1,"numBatches":1,"totalConsideredFiles":4,"totalFilesSkipped":0,"preserveInsertionOrder":true}}}
	EOF
	cat >t/_delta_log/00000000000000000003.json <<-'EOF'
		{"commitInfo":{"timestamp":1750000002000,"operation":"VACUUM START","operationParameters":{"retentionCheckEnabled":"true","specifiedRetentionMillis":"604800000","defaultRetentionMillis":"604800000"},"engineInfo":"delta-rs:py-1.6.2","operationMetrics":{"numFilesToDelete":3,"sizeOfDataToDelete":2097152}}}
	EOF
	run --separate-stderr delta-history --format table ./t
	assert_success
	assert_line --index 1 '3        2025-06-15T15:06:42.000Z VACUUM START     specifiedRetentionMillis=7d defaultRetentionMillis=7d | numFilesToDelete=3 sizeOfDataToDelete=2.0MiB'
	assert_line --index 2 '2        2025-06-15T15:06:41.000Z OPTIMIZE         targetSize=104857600 | numFilesAdded=1 numFilesRemoved=4 partitionsOptimized=1 numBatches=1 totalConsideredFiles=4 totalFilesSkipped=0 preserveInsertionOrder=true'
	assert_line --index 3 '1        2025-06-15T15:06:40.000Z WRITE            mode=Append | execution_time_ms=4 num_added_files=1 num_added_rows=3 num_partitions=0 num_removed_files=0'
}

@test "the table keeps a commit on one line and escapes control characters of the log's text" {
	mkdir -p t/_delta_log
	cp "$DELTA/delta-rs/simple_table/_delta_log/00000000000000000000.json" t/_delta_log/
	cat >t/_delta_log/00000000000000000001.json <<-'EOF'
		{"commitInfo":{"timestamp":1750000000000,"operation":"MERGE","operationParameters":{"predicate":"target.id = source.id\n  AND \u001b[2Jtarget.k\t= source.k"},"operationMetrics":{"numSourceRows":"2"}}}
	EOF
	run --separate-stderr delta-history --format table ./t
	assert_success
	assert_equal "${#lines[@]}" 3
	assert_line --index 1 '1        2025-06-15T15:06:40.000Z MERGE            predicate=target.id = source.id\n  AND \x1b[2Jtarget.k\t= source.k | numSourceRows=2'
}

@test "the table's columns line up when an operation's name is longer than the column" {
	mkdir -p t/_delta_log
	cat >t/_delta_log/00000000000000000000.json <<-'EOF'
		{"commitInfo":{"timestamp":1750000000000,"operation":"CREATE OR REPLACE TABLE AS SELECT","operationParameters":{"partitionBy":"[]"},"operationMetrics":{"numFiles":"1","numOutputRows":"3","numOutputBytes":"900"}}}
		{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}
		{"metaData":{"id":"x","format":{"provider":"parquet","options":{}},"schemaString":"{\"type\":\"struct\",\"fields\":[{\"name\":\"id\",\"type\":\"long\",\"nullable\":true,\"metadata\":{}}]}","partitionColumns":[],"configuration":{},"createdTime":1750000000000}}
	EOF
	cat >t/_delta_log/00000000000000000001.json <<-'EOF'
		{"commitInfo":{"timestamp":1750000001000,"operation":"WRITE","operationParameters":{"mode":"Append"},"operationMetrics":{"numFiles":"1"}}}
	EOF
	cat >t/_delta_log/00000000000000000002.json <<-'EOF'
		{"commitInfo":{"timestamp":1750000002000,"operation":"ÉCRITURE DE LA TABLE ÉTENDUE","operationParameters":{},"operationMetrics":{}}}
	EOF
	run --separate-stderr delta-history --format table ./t
	assert_success
	assert_equal "$stderr" ""
	assert_line --index 0 'VERSION  TIMESTAMP                OPERATION                         PARAMETERS | METRICS'
	assert_line --index 1 '2        2025-06-15T15:06:42.000Z ÉCRITURE DE LA TABLE ÉTENDUE      - | -'
	assert_line --index 2 '1        2025-06-15T15:06:41.000Z WRITE                             mode=Append | numFiles=1'
	assert_line --index 3 '0        2025-06-15T15:06:40.000Z CREATE OR REPLACE TABLE AS SELECT partitionBy=[] | numFiles=1 numOutputRows=3 numOutputBytes=900B'
	# Only the rows shown set the widths.
	run --separate-stderr delta-history --format table --limit 1 ./t
	assert_success
	assert_output $'VERSION  TIMESTAMP                OPERATION                    PARAMETERS | METRICS\n2        2025-06-15T15:06:42.000Z ÉCRITURE DE LA TABLE ÉTENDUE - | -'
}

#!/usr/bin/env bats
# pipelines/silver.sh: bronze's rows since the bronze version silver last
# consumed (silver's txn of silver/bronze), upserted into silver.  The
# expected silver is DuckDB's reading of every bronze batch, the later
# bronze commit winning for a key (helpers/upsert.bash).

# shellcheck disable=SC2154 # $stderr and $stderr_lines are set by BATS's run --separate-stderr
load helpers/common
load helpers/upsert

setup() {
	common_setup
	export STOCKETL_LAKE=$BATS_TEST_TMPDIR/lake
	T=$STOCKETL_LAKE/silver
	B=$STOCKETL_LAKE/bronze
	delta-create bronze --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	: >tagged.ndjson
}

silver() {
	"$STOCKETL_ROOT/pipelines/silver.sh"
}

silver_versions() {
	find "$T/_delta_log" -name '*.json' | wc -l
}

# bronze_load FILE: append FILE's batches to bronze one at a time; each
# batch's records are tagged with the bronze version that holds them.
bronze_load() {
	local f v
	awk '{ print > sprintf("part.%04d", n + 1) } /"@batch"/ { n++ }' "$1"
	for f in part.*; do
		delta-append bronze "$f"
		v=$(($(find "$B/_delta_log" -name '*.json' | wc -l) - 1))
		tag "$v" <"$f"
		rm "$f"
	done
}

@test "after two overlapping bronze loads silver holds every bar once, at its latest value" {
	gen-ticks -m -s 4 3000 >ticks.ndjson
	overlap feed 1 4 1000 600 <ticks.ndjson >first.ndjson
	overlap late 2 3 800 900 200 <ticks.ndjson >second.ndjson
	bronze_load first.ndjson
	bronze_load second.ndjson
	run --separate-stderr silver
	assert_success
	assert_table_is_expected
	# one batch: bronze versions 1-7, named by the last
	run jq -c 'select(.txn) | [.txn.appId, .txn.version]' "$T/_delta_log/00000000000000000001.json"
	assert_output '["silver/bronze",7]'
	run jq -c 'select(.metaData) | .metaData.configuration' "$T/_delta_log/00000000000000000000.json"
	assert_output '{"stocketl.mergeKey":"symbol,interval,trade_timestamp"}'
	assert_equal "$(delta-append --txn-version silver/bronze silver)" 7
	# bronze rows were read more than once where loads overlapped; silver has each bar once
	assert_equal "$(delta-cat silver | wc -l)" 2800
}

@test "a rerun with nothing new in bronze commits nothing" {
	gen-ticks -a feed -b 3 -i 1 -s 2 200 >in.ndjson
	bronze_load in.ndjson
	silver
	assert_equal "$(silver_versions)" 2
	run --separate-stderr silver
	assert_success
	assert_output ""
	assert_equal "$(silver_versions)" 2
	assert_table_is_expected
}

@test "later runs take only the bronze versions added since, and a later revision wins" {
	gen-ticks -m -s 2 1200 >ticks.ndjson
	overlap feed 1 2 600 400 <ticks.ndjson >a.ndjson
	bronze_load a.ndjson
	silver
	overlap rev 3 2 300 200 100 <ticks.ndjson >b.ndjson
	bronze_load b.ndjson
	run --separate-stderr silver
	assert_success
	run jq -c 'select(.commitInfo) | .commitInfo.operationMetrics | [.numSourceRows, .numTargetRowsUpdated, .numTargetRowsInserted]' "$T/_delta_log/00000000000000000002.json"
	assert_output '["600","500","0"]'
	run jq -c 'select(.txn) | .txn.version' "$T/_delta_log/00000000000000000002.json"
	assert_output 4
	assert_table_is_expected
}

@test "after delta-compact has reordered bronze's rows, the latest fetch of a bar still wins" {
	gen-ticks -a feed -i 1 -s 2 100 >b1.ndjson
	# the same bars fetched again, revised: a later batch (its batch_id greater)
	sed 's/"volume":[0-9]*/"volume":1/; s/"id":1,/"id":2,/; s/"batch_id":1,/"batch_id":2,/' b1.ndjson >b2.ndjson
	bronze_load b1.ndjson
	bronze_load b2.ndjson
	# rows ordered by volume: every revision (volume 1) before the bar it revised
	delta-compact -q --order-by volume bronze
	assert_equal "$(delta-cat bronze | head -100 | jq .volume | sort -u)" 1
	run --separate-stderr silver
	assert_success
	assert_equal "$(delta-cat silver | jq .volume | sort | uniq -c | awk '{ print $1, $2 }')" "100 1"
	assert_table_is_expected
}

@test "batches hold at most STOCKETL_SILVER_VERSIONS bronze versions, each committed once" {
	gen-ticks -a feed -b 7 -i 1 -s 2 50 >in.ndjson
	bronze_load in.ndjson
	STOCKETL_SILVER_VERSIONS=3 silver
	run bash -c "cat '$T'/_delta_log/*.json | jq -r 'select(.txn) | .txn.version' | paste -sd' '"
	assert_output "3 6 7"
	assert_table_is_expected
	# The first batch read bronze's snapshot; the two after it came through
	# one delta-cat and one delta-append, ended by delta-cat's markers.
	run grep -c ' merge: started ' var/logs/silver/*.log
	assert_output 2
	run grep -c '^merge: delta-append: committed version ' var/logs/silver/*.log
	assert_output 3
	# Five bronze versions more: one pipeline, two batches.
	gen-ticks -a feed -b 5 -i 8 -s 2 50 >more.ndjson
	bronze_load more.ndjson
	rm var/logs/silver/*.log
	STOCKETL_SILVER_VERSIONS=3 silver
	run bash -c "cat '$T'/_delta_log/*.json | jq -r 'select(.txn) | .txn.version' | paste -sd' '"
	assert_output "3 6 7 10 12"
	run grep -c ' merge: started ' var/logs/silver/*.log
	assert_output 1
	assert_table_is_expected
	STOCKETL_SILVER_VERSIONS=0 run --separate-stderr silver
	assert_failure 78
}

@test "a run killed at any moment is resumed: every bronze version consumed once" {
	gen-ticks -m -s 4 6000 >ticks.ndjson
	overlap feed 1 40 300 140 <ticks.ndjson >in.ndjson
	bronze_load in.ndjson
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir "$TMPDIR"
	for round in $(seq 8); do
		STOCKETL_SILVER_VERSIONS=2 setsid "$STOCKETL_ROOT/pipelines/silver.sh" 2>/dev/null &
		pid=$!
		sleep "0.$(((round * 7919) % 60))"
		kill -KILL -- "-$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	run --separate-stderr env STOCKETL_SILVER_VERSIONS=2 "$STOCKETL_ROOT/pipelines/silver.sh"
	assert_success
	assert_equal "$(delta-append --txn-version silver/bronze silver)" 40
	# the killed runs' private directories are gone with them
	[ -z "$(find "$TMPDIR" -maxdepth 1 -name 'stocketl-silver.*')" ]
	# each batch of bronze versions was committed once, in order
	run bash -c "cat '$T'/_delta_log/*.json | jq -r 'select(.txn) | .txn.version' | paste -sd' '"
	assert_output "$(seq 2 2 40 | paste -sd' ')"
	assert_table_is_expected
}

@test "without bronze the run fails at its first stage with 65 and makes no silver" {
	rm -rf "$B"
	run --separate-stderr silver
	assert_failure 65
	assert_regex "${stderr_lines[-1]}" "^silver: run [^ ]*: status 65, failed at stage latest; "
	[ ! -e "$T" ]
	# an empty bronze (its version 0): silver is made, and nothing is merged into it
	delta-create -q bronze --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	run --separate-stderr silver
	assert_success
	assert_equal "$(delta-history --limit 1 silver | jq .version)" 0
}

@test "a bronze made again behind what silver read is refused with 65, not skipped" {
	gen-ticks -a feed -b 3 -i 1 -s 2 20 >in.ndjson
	bronze_load in.ndjson
	silver
	assert_equal "$(delta-append --txn-version silver/bronze silver)" 3
	rm -rf "$B"
	delta-create -q bronze --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	gen-ticks -a feed -b 1 -i 1 -s 2 20 | delta-append -q bronze
	run --separate-stderr silver
	assert_failure 65
	assert_regex "${stderr_lines[-1]}" "^silver: run [^ ]*: status 65, failed at stage consumed; "
	run grep -h "silver has read bronze up to version 3, but bronze's latest is 1: bronze was made again since" var/logs/silver/*.log
	assert_success
	assert_equal "$(silver_versions)" 2
}

@test "bronze's unread versions vacuumed away: the run fails with 65 saying the files are gone, and --full reads bronze's latest snapshot whole and catches up" {
	gen-ticks -a feed -b 2 -i 1 -s 2 30 >a.ndjson
	bronze_load a.ndjson
	silver
	assert_equal "$(delta-append --txn-version silver/bronze silver)" 2
	# three more loads, then bronze compacted and its old files vacuumed before silver reads them
	gen-ticks -a feed -b 3 -i 3 -s 2 30 >b.ndjson
	bronze_load b.ndjson
	delta-compact -q --optimize bronze
	delta-compact -q --vacuum --retain 0h --force bronze
	run --separate-stderr silver
	assert_failure 65
	assert_regex "${stderr_lines[-1]}" "^silver: run [^ ]*: status 65, failed at stage read; "
	run grep -h "a data file the log names is gone: deleted by hand, or, for a version older than the table's delta.deletedFileRetentionDuration, by VACUUM" var/logs/silver/*.log
	assert_success
	assert_equal "$(delta-append --txn-version silver/bronze silver)" 2
	run --separate-stderr "$STOCKETL_ROOT/pipelines/silver.sh" --full
	assert_success
	# bronze's latest: the loads, OPTIMIZE and VACUUM START and END
	assert_equal "$(delta-append --txn-version silver/bronze silver)" 8
	assert_table_is_expected
	# nothing new: --full has nothing to read
	run --separate-stderr "$STOCKETL_ROOT/pipelines/silver.sh" --full
	assert_success
	[[ "$stderr" == *"silver has read bronze up to its latest version (8): nothing to read"* ]]
	run --separate-stderr "$STOCKETL_ROOT/pipelines/silver.sh" --fast
	assert_failure 64
	[[ "$stderr" == *"unexpected argument '--fast' (silver.sh takes --full alone)"* ]]
}

#!/usr/bin/env bats
# The main job, pipelines/intraday.sh, end to end against the mock Alpha
# Vantage server: av-fetch | tick-normalize | tick-validate | delta-append.

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
load helpers/common
load helpers/mockav

setup_file() {
	cat >"$BATS_FILE_TMPDIR/rules.json" <<'JSON'
[{"match": {"function": "TIME_SERIES_INTRADAY", "symbol": "IBM"},
  "responses": [{"file": "intraday_IBM_5min_compact.json"}]},
 {"match": {"function": "TIME_SERIES_INTRADAY", "symbol": "EMPTY"},
  "responses": [{"file": "intraday_empty_series.json"}]}]
JSON
	mockav_start "$BATS_FILE_TMPDIR/rules.json"
}

teardown_file() {
	mockav_stop
}

setup() {
	common_setup
	export ALPHAVANTAGE_API_KEY=test-key STOCKETL_LAKE=$BATS_TEST_TMPDIR/lake
	T=$STOCKETL_LAKE/bronze
}

job() {
	"$STOCKETL_ROOT/pipelines/intraday.sh" --base-url "$MOCKAV_URL" --interval 5min "$@"
}

@test "the job lands the API's bars in bronze, in UTC with exact prices, and keeps its report" {
	run --separate-stderr job IBM
	assert_success
	[ -f "$T/_delta_log/00000000000000000001.json" ]
	run jq -r 'select(.commitInfo) | .commitInfo.operationMetrics.numOutputRows' \
		"$T/_delta_log/00000000000000000001.json"
	assert_output 100
	# 2025-06-17 11:20 ET (EDT) is 15:20 UTC; prices exactly as the API wrote them
	run duckdb-query.js "SELECT symbol, interval, trade_timestamp, trade_date, open, high, low, close, volume FROM read_parquet('$T/*/*.parquet', hive_partitioning = true, hive_types = {'trade_date': DATE}) WHERE trade_timestamp = '2025-06-17 15:20:00+00'"
	assert_output '{"symbol":"IBM","interval":"5min","trade_timestamp":"2025-06-17T15:20:00Z","trade_date":"2025-06-17","open":282.370000,"high":282.510000,"low":282.070000,"close":282.300000,"volume":12785}'
	run duckdb-query.js "SELECT count(*) AS n, count(DISTINCT trade_timestamp) AS d FROM read_parquet('$T/*/*.parquet')"
	assert_output '{"n":100,"d":100}'
	run jq -r '.checks | length > 0' var/reports/*.json
	assert_output true
	[ -f var/rejects/normalize.ndjson ]
	[ -f var/rejects/validate.ndjson ]
}

@test "each run is one more batch: bronze keeps every batch as it arrived" {
	job IBM
	job IBM
	run jq -r 'select(.txn) | .txn.appId' "$T"/_delta_log/0000000000000000000[12].json
	assert_output $'av-fetch/intraday/5min/IBM\nav-fetch/intraday/5min/IBM'
	run duckdb-query.js "SELECT count(*) AS n, count(DISTINCT batch_id) AS b FROM read_parquet('$T/*/*.parquet')"
	assert_output '{"n":200,"b":2}'
}

@test "a batch that fails a check is not loaded and the job exits 2" {
	run --separate-stderr job EMPTY
	assert_failure 2
	[ -f "$T/_delta_log/00000000000000000000.json" ]
	[ ! -f "$T/_delta_log/00000000000000000001.json" ]
}

@test "without an API key the job stops with 78 and loads nothing" {
	unset ALPHAVANTAGE_API_KEY
	run --separate-stderr job IBM
	assert_failure 78
	assert_regex "$stderr" "av-fetch: no API key"
	[ ! -f "$T/_delta_log/00000000000000000001.json" ]
}

#!/usr/bin/env bats
# The backfill job (pipelines/backfill.sh) against the mock API: intraday
# history month by month into bronze, one commit per month, resumable from
# the months it recorded as loaded; and make backfill.

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
load helpers/common
load helpers/mockav
load helpers/job

setup() {
	common_setup
	export ALPHAVANTAGE_API_KEY=test-key STOCKETL_LAKE=$BATS_TEST_TMPDIR/lake
	T=$STOCKETL_LAKE/bronze
	mkdir fx
	# one answer per symbol and month: 60-minute bars of a weekday of it
	local s m
	for s in IBM NVDA; do
		for m in 2024-01 2024-02 2024-03; do
			bars "fx/$s-$m.json" "$s" 60 "$m-05 04:00" 16
		done
	done
	RULES=$(month_rules)
}

# month_rules [RESPONSE_MEMBERS]: the rules that answer each symbol and
# month with its file, each response with RESPONSE_MEMBERS added.
month_rules() {
	local s m rules='['
	for s in IBM NVDA; do
		for m in 2024-01 2024-02 2024-03; do
			rules+="{\"match\": {\"symbol\": \"$s\", \"month\": \"$m\"}, \"responses\": [{\"file\": \"$s-$m.json\"${1:+, $1}}]},"
		done
	done
	printf '%s]\n' "${rules%,}"
}

teardown() {
	[ -z "${MOCKAV_PID:-}" ] || mockav_stop
}

backfill() {
	"$STOCKETL_ROOT/pipelines/backfill.sh" "$@" --interval 60min
}

@test "each month is one batch and one commit, oldest first, recorded as loaded once committed" {
	job_serve "$RULES"
	run --separate-stderr backfill 2024-01 2024-03 IBM NVDA
	assert_success
	assert_regex "${stderr_lines[-1]}" "^backfill: run [^ ]*: status 0; [0-9.]+ s; 96 rows committed; "
	run jq -r 'select(.txn) | .txn.appId' "$T"/_delta_log/0000000000000000000[1-3].json
	assert_output "$(printf 'backfill/intraday/60min/%s/IBM,NVDA\n' 2024-01 2024-02 2024-03)"
	run requests '[.query.month, .query.symbol, .query.outputsize]'
	assert_equal "$(sort <<<"$output")" "$(printf '["%s","%s","full"]\n' 2024-01 IBM 2024-01 NVDA 2024-02 IBM \
		2024-02 NVDA 2024-03 IBM 2024-03 NVDA)"
	run jq -c '[.month, .interval, .symbol, .version]' var/backfill/bronze.ndjson
	assert_output "$(printf '%s\n' '["2024-01","60min","IBM",1]' '["2024-01","60min","NVDA",1]' \
		'["2024-02","60min","IBM",2]' '["2024-02","60min","NVDA",2]' '["2024-03","60min","IBM",3]' '["2024-03","60min","NVDA",3]')"
	run duck "SELECT strftime(trade_date, '%Y-%m') AS month, count(*) AS n FROM t GROUP BY 1 ORDER BY 1"
	assert_output $'{"month":"2024-01","n":32}\n{"month":"2024-02","n":32}\n{"month":"2024-03","n":32}'
	# the backfill leaves the incremental jobs' watermarks alone
	[ ! -s var/watermarks/bronze.ndjson ]
}

@test "a backfill killed after its first month resumes where it stopped: the month it loaded is not fetched again" {
	job_serve "$(month_rules '"delay_ms": 1000')"
	"$STOCKETL_ROOT/pipelines/backfill.sh" -q 2024-01 2024-03 --interval 60min IBM 2>first.err 3>&- &
	local pid=$! i st=0
	# killed once the first month is loaded and the second asked for
	for ((i = 0; i < 200; i++)); do
		[ -s var/backfill/bronze.ndjson ] && [ "$(requests | wc -l)" -ge 2 ] && break
		sleep 0.05
	done
	kill -TERM "$pid"
	wait "$pid" || st=$?
	[ "$st" -eq 75 ]
	run jq -r .month var/backfill/bronze.ndjson
	assert_output 2024-01
	run --separate-stderr backfill 2024-01 2024-03 IBM
	assert_success
	# 2024-01 asked for once in all; 2024-02, cut off the first time, twice
	run requests '.query.month'
	assert_output $'"2024-01"\n"2024-02"\n"2024-02"\n"2024-03"'
	run jq -r 'select(.txn) | .txn.appId' "$T"/_delta_log/0000000000000000000[1-3].json
	assert_output "$(printf 'backfill/intraday/60min/%s/IBM\n' 2024-01 2024-02 2024-03)"
	run duck "SELECT count(*) AS n, count(DISTINCT trade_timestamp) AS bars FROM t"
	assert_output '{"n":48,"bars":48}'
}

@test "months already loaded are skipped; a symbol added later is fetched alone for them" {
	job_serve "$RULES"
	backfill -q 2024-01 2024-02 IBM
	: >"$MOCKAV_LOG"
	run --separate-stderr backfill 2024-01 2024-02 IBM
	assert_success
	[ ! -s "$MOCKAV_LOG" ]
	[ "$(cat var/logs/backfill/*.log | grep -c 'loaded before (IBM); skipped')" -eq 2 ]
	run --separate-stderr backfill 2024-01 2024-03 IBM NVDA
	assert_success
	run requests '[.query.month, .query.symbol]'
	assert_equal "$(sort <<<"$output")" "$(printf '%s\n' '["2024-01","NVDA"]' '["2024-02","NVDA"]' \
		'["2024-03","IBM"]' '["2024-03","NVDA"]')"
}

@test "a month whose batch fails a check is not recorded, the next months go on, and the run ends with 2" {
	# February answers a 60-minute series without bars
	sed 's/5min/60min/g' "$FIXTURES/alphavantage/intraday_empty_series.json" >fx/IBM-2024-02.json
	job_serve "$RULES"
	run --separate-stderr backfill 2024-01 2024-03 IBM
	assert_failure 2
	assert_regex "${stderr_lines[-1]}" "^backfill: run [^ ]*: status 2, failed at stage validate; "
	run jq -r .month var/backfill/bronze.ndjson
	assert_output $'2024-01\n2024-03'
}

@test "months are spaced to keep to [av-fetch] calls_per_minute across the month runs" {
	job_serve "$RULES"
	sed -i 's/^calls_per_minute = 0$/calls_per_minute = 60/' "$STOCKETL_CONFIG"
	run --separate-stderr backfill 2024-01 2024-03 IBM NVDA
	assert_success
	run grep -E 'backfill: 2024-0[23]: waiting [0-9.]+ s: \[av-fetch\] calls_per_minute = 60' <<<"$stderr"
	assert_equal "${#lines[@]}" 2
	# two requests a month at 60 a minute: the month runs start 2 s apart
	run requests '.t'
	run jq -s '(.[4] - .[0]) >= 3900000' <<<"$output"
	assert_output true
}

@test "FROM and TO must be months, in order, and the backfill chooses the history itself" {
	job_serve "$RULES"
	run --separate-stderr backfill 2024-3 2024-05 IBM
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "backfill: FROM: expected a month from 2000-01 as YYYY-MM, got '2024-3'"
	run --separate-stderr backfill 2024-05 2024-03 IBM
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "backfill: FROM (2024-05) is after TO (2024-03)"
	run --separate-stderr backfill 2024-01 2024-03 --outputsize compact IBM
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "backfill: --outputsize, --month, --from, --to and --follow are the backfill's to choose"
	run --separate-stderr backfill 2024-01
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "backfill: expected the months FROM and TO (YYYY-MM)"
	[ ! -s "$MOCKAV_LOG" ]
}

@test "make backfill FROM= TO= runs the backfill with ARGS" {
	job_serve "$RULES"
	local o
	o=$(cd "$STOCKETL_ROOT/${O:-build/rel}" && pwd)
	export STOCKETL_STATE=$PWD/var
	run --separate-stderr env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$STOCKETL_ROOT" -s --no-print-directory \
		O="$o" OUTBIN="$STOCKETL_BIN" backfill FROM=2024-02 TO=2024-03 ARGS="-q --interval 60min IBM"
	assert_success
	assert_regex "$stderr" "^backfill: run [^ ]*: status 0; [0-9.]+ s; 32 rows committed; log $PWD/var/logs/backfill/"
	run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$STOCKETL_ROOT" -s --no-print-directory \
		O="$o" OUTBIN="$STOCKETL_BIN" backfill TO=2024-03
	assert_failure
	assert_output --partial "make backfill: set FROM and TO (YYYY-MM)"
}

#!/usr/bin/env bats
# tick-validate: declarative checks on tick records, quarantine, scan report.

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
# shellcheck disable=SC2016 # bash -c scripts take their arguments as $1, $2
load helpers/common

SHIPPED=$STOCKETL_ROOT/conf/checks/ticks.checks
PIPE=$FIXTURES/pipeline

# tick [FIELD=JSON ...]: a tick record line (IBM 5min at 2025-06-17T13:30:00Z
# unless fields say otherwise); FIELD=- leaves the field out.
tick() {
	local f='.' kv
	for kv in "$@"; do
		if [ "${kv#*=}" = - ]; then
			f="$f | del(.${kv%%=*})"
		else
			f="$f | .${kv%%=*} = ${kv#*=}"
		fi
	done
	jq -nc '{symbol: "IBM", interval: "5min", trade_timestamp: "2025-06-17T13:30:00Z",
		trade_date: "2025-06-17", open: 10, high: 12, low: 9, close: 11, volume: 100,
		batch_id: 1, ingested_at: "2025-06-17T13:35:00Z", source: "alphavantage"}'" | $f"
}

# marker RECORDS [ID] [STATUS] [REJECTED]: the marker of a batch of RECORDS records.
marker() {
	printf '{"@batch":{"app":"test","id":%s,"records":%s,"rejected":%s,"status":"%s"}}\n' \
		"${2:-1}" "$1" "${4:-0}" "${3:-ok}"
}

# checks LINE...: a checks file c.checks with the items given (one per argument).
checks() {
	{
		echo 'checks for ticks:'
		printf '%s\n' "$@"
	} >c.checks
}

# stderr_line TEXT: a line of the last run's stderr is TEXT.
stderr_line() {
	local l
	for l in "${stderr_lines[@]}"; do
		[[ $l == "$1" ]] && return 0
	done
	printf -- '-- no stderr line is --\n%s\n-- stderr --\n%s\n' "$1" "$stderr" >&2
	return 1
}

# outcome N: the outcome of check N (0-based) in the last report line.
outcome() {
	tail -1 report.ndjson | jq -r ".checks[$1] | \"\(.outcome) \(.value)\""
}

@test "--help prints the usage, which is the man page's SYNOPSIS" {
	run --separate-stderr tick-validate --help
	assert_success
	assert_output --partial "usage: tick-validate"
	assert_help_matches_man tick-validate
}

@test "--version names the program and stocketl" {
	run tick-validate --version
	assert_success
	assert_output --regexp '^tick-validate \(stocketl\) [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "tick-normalize | tick-validate on the hand-written batch gives the hand-written output" {
	run --separate-stderr bash -c 'tick-normalize --rejects n.ndjson "$1" |
		tick-validate --checks "$2" --rejects v.ndjson --report r.ndjson' - \
		"$PIPE/envelopes.ndjson" "$SHIPPED"
	assert_failure 1
	diff "$PIPE/expected.ndjson" <(printf '%s\n' "$output")
	run jq -r '.reason' n.ndjson
	assert_output 'open: "n/a" is not a decimal number'
	run jq -r '"\(.check) | \(.values | tojson) | \(.record.symbol) \(.record.trade_timestamp)"' v.ndjson
	assert_output - <<-'EOF'
		high below open or close | {"open":281.2,"high":281,"close":281.1} | IBM 2025-06-16T20:00:00Z
		bar off the interval grid | {"interval":"1min","trade_timestamp":"2025-06-17T13:30:30Z"} | NVDA 2025-06-17T13:30:30Z
		bar outside the extended session | {"interval":"1min","trade_timestamp":"2025-06-18T00:00:00Z"} | NVDA 2025-06-18T00:00:00Z
	EOF
	run jq -c '[.outcome, .records, [.checks[] | select(.outcome != "pass") | .name]]' r.ndjson
	assert_output '["warn",{"in":9,"passed":6,"quarantined":3},["high below open or close","bar off the interval grid","bar outside the extended session"]]'
}

@test "a pipe between two stages is widened to 1 MiB by either end, so a stage runs on while the next one commits" {
	# fcntl(F_GETPIPE_SZ) (1032) of the pipe, as the program at its other end sees it
	# (read once the writer is done: it asked when it started, however late that was)
	# shellcheck disable=SC2016 # perl's variables
	size_in='local $/; <STDIN>; print fcntl(STDIN, 1032, 0) + 0, "\n"'
	# the writing end: tick-normalize's output
	run bash -c 'tick-normalize -q --binary "$1" | perl -e "$2"' - "$PIPE/envelopes.ndjson" "$size_in"
	assert_output 1048576
	# the reading end: tick-validate's input, as the program before it sees it once it started
	# shellcheck disable=SC2016 # perl's variables
	size_out='for (1 .. 600) { $s = fcntl(STDOUT, 1032, 0) + 0; last if $s == 1048576; select(undef, undef, undef, 0.05) } print STDERR "$s\n"'
	run bash -c 'perl -e "$2" 2>size | tick-validate -q --checks "$1" >/dev/null; cat size' - "$SHIPPED" "$size_out"
	assert_output 1048576
	# a pipe between other programs, for comparison: 64 KiB
	run bash -c 'true | perl -e "$1"' - "$size_in"
	assert_output 65536
}

@test "every fixture of the repository passes the shipped checks through the pipeline" {
	for f in ibm_5min_json ibm_5min_csv nvda_1min tsla_60min_dst aapl_daily_quote; do
		run --separate-stderr bash -c 'tick-normalize "$1" | tick-validate --checks "$2"' - \
			"$FIXTURES/envelopes/$f.ndjson" "$SHIPPED"
		assert_success
		assert_line --partial '"status":"ok"'
	done
}

@test "records are passed on byte for byte, and the marker gets this stage's counts" {
	checks '  - row_count > 0'
	{
		echo '{ "symbol" : "IBM", "open" : "10.50", "close" : 11 }'
		tick
		echo '{"@note":1}'
		marker 2 7 ok 3
	} >in.ndjson
	run --separate-stderr tick-validate --checks c.checks in.ndjson
	assert_success
	assert_equal "$stderr" "tick-validate: batch test/7: 2 records, 2 passed, 0 quarantined; 1 check: 1 passed, 0 warned, 0 failed, 0 skipped"
	assert_line --index 0 '{ "symbol" : "IBM", "open" : "10.50", "close" : 11 }'
	assert_line --index 1 "$(tick)"
	assert_line --index 2 '{"@note":1}'
	assert_line --index 3 '{"@batch":{"app":"test","id":7,"records":2,"rejected":3,"status":"ok"}}'
	{ tick; marker 1 8; } >one.ndjson
	run --separate-stderr tick-validate --checks c.checks one.ndjson
	assert_equal "$stderr" "tick-validate: batch test/8: 1 record, 1 passed, 0 quarantined; 1 check: 1 passed, 0 warned, 0 failed, 0 skipped"
}

@test "row_count: an inline threshold fails the batch, a warn alert warns" {
	checks '  - row_count > 2' '  - row_count:' '      warn: when < 5'
	{ tick; tick; marker 2; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	assert_line --index 2 '{"@batch":{"app":"test","id":1,"records":2,"rejected":0,"status":"failed"}}'
	run outcome 0
	assert_output 'fail 2'
	run outcome 1
	assert_output 'warn 2'
	[[ $stderr == *"tick-validate: batch test/1: fail: row_count > 2 (line 2): row_count = 2"* ]]
	[[ $stderr == *"tick-validate: batch test/1: warn: row_count (line 3): row_count = 2"* ]]
}

@test "missing_count counts nulls and absent fields, at warn and at fail level" {
	checks '  - missing_count(volume):' '      warn: when > 0' '      fail: when > 1' \
		'  - missing_count(close) = 0'
	{ tick volume=null; tick; marker 2 1; tick volume=null; tick volume=- close=null; marker 2 2; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	assert_line --index 2 --partial '"status":"ok"'
	assert_line --index 5 --partial '"status":"failed"'
	run jq -c '[.checks[] | [.outcome, .value]]' report.ndjson
	assert_output $'[["warn",1],["pass",0]]\n[["fail",2],["fail",1]]'
}

@test "missing_count and missing_percent with missing values: listed values count as missing, beside nulls" {
	checks '  - missing_count(source):' "      missing values: ['', N/A]" '      warn: when > 0' \
		'  - missing_percent(volume) < 50 %:' '      missing values: [0, -1]' \
		'  - missing_count(trade_date) = 0:' '      missing values: [1970-01-01]'
	{ tick source='""'; tick source='"N/A"' volume=0; tick source=null volume=-1; tick source='"n/a"' trade_date='"1970-01-01"'; marker 4; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	run jq -c '[.checks[] | [.metric, .outcome, .value]]' report.ndjson
	assert_output '[["missing_count","warn",3],["missing_percent","fail",50],["missing_count","fail",1]]'
}

@test "invalid_count with valid min, valid max and valid values" {
	checks '  - invalid_count(volume) = 0:' '      valid min: 0' '      valid max: 1000' \
		'  - invalid_count(symbol):' "      valid values: [IBM, 'NVDA']" '      warn: when > 0' \
		'  - invalid_count(trade_date) = 0:' '      valid min: 2025-01-01' \
		'  - invalid_count(close):' '      valid values: [11, 12.5]' '      warn: when between 1 and 2'
	{ tick; tick volume=-1 symbol='"AAPL"'; tick volume=5000 close=12.5; tick trade_date='"2024-12-31"' volume=null; marker 4; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	run jq -c '[.checks[] | [.outcome, .value]]' report.ndjson
	assert_output '[["fail",2],["warn",1],["fail",1],["pass",0]]'
}

@test "invalid_count of strings: valid regex, invalid regex, lengths in characters, invalid values; a null is missing, not invalid" {
	checks '  - invalid_count(symbol):' "      valid regex: '^[A-Z]{1,4}\$'" '      warn: when > 0' \
		'  - invalid_count(symbol):' '      invalid regex: ^BRK' '      warn: when > 0' \
		'  - invalid_count(source):' '      valid min length: 5' '      valid max length: 12' '      warn: when > 0' \
		'  - invalid_count(interval):' '      valid length: 4' '      warn: when > 0' \
		'  - invalid_count(volume):' '      invalid values: [0, 7]' '      warn: when > 0'
	{
		tick
		tick symbol='"BRK.B"' source='"av"' volume=0
		tick symbol='"nvda"' interval='"15min"' volume=7
		tick symbol='"BRKA"' source='"Älphavantäge"' volume=8
		tick symbol=null interval=null source=null volume=null
		marker 5
	} >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 1
	run jq -c '[.checks[] | .value]' report.ndjson
	# BRK.B, nvda; BRK.B, BRKA; av (2) (Älphavantäge is 12 characters, 14 bytes); 15min; 0, 7
	assert_output '[2,2,1,1,2]'
}

@test "duplicate_count finds repeated keys, in order or not, at warn and at fail level" {
	checks '  - duplicate_count(symbol, interval, trade_timestamp):' '      warn: when > 0' '      fail: when > 1' \
		'  - duplicate_count(symbol) > 0'
	{
		tick trade_timestamp='"2025-06-17T13:30:00Z"'
		tick trade_timestamp='"2025-06-17T13:35:00Z"'
		tick trade_timestamp='"2025-06-17T13:35:00Z"' interval='"1min"'
		tick trade_timestamp='"2025-06-17T13:30:00Z"'
		marker 4 1
		tick trade_timestamp='"2025-06-17T13:35:00Z"'
		tick trade_timestamp='"2025-06-17T13:30:00Z"'
		tick trade_timestamp='"2025-06-17T13:35:00Z"'
		tick trade_timestamp='"2025-06-17T13:30:00Z"' symbol='"NVDA"'
		tick trade_timestamp='"2025-06-17T13:30:00Z"'
		marker 5 2
	} >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	run jq -c '[.checks[] | [.outcome, .value, .exact]]' report.ndjson
	# Keys that occur more than once, each counted once, as SodaCL counts
	# them: IBM four times is one duplicated symbol.
	assert_output $'[["warn",1,true],["pass",1,true]]\n[["fail",2,true],["pass",1,true]]'
}

@test "duplicate_count counts each repeated key once and leaves out records with a null in the key, as SodaCL does" {
	checks '  - duplicate_count(symbol, volume) = 0' '  - duplicate_count(volume) = 1' \
		'  - duplicate_percent(volume) = 20'
	{
		# volume 7 three times, 9 twice, 1 once; null three times
		tick volume=7; tick volume=7; tick volume=7
		tick volume=9; tick volume=9; tick volume=1
		tick volume=null; tick volume=null; tick volume=null; tick volume=null
		marker 10
	} >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	run jq -c '[.checks[] | [.outcome, .value]]' report.ndjson
	# 7 and 9 repeat: 2 (the nulls are no key); 2 of 10 records is 20%
	assert_output '[["fail",2],["fail",2],["pass",20]]'
}

@test "past --key-memory a duplicate count is a lower bound and cannot pass" {
	checks '  - duplicate_count(symbol, trade_timestamp) = 0'
	for i in $(seq 0 99); do
		tick trade_timestamp="\"2025-06-17T$(printf '%02d' $((i / 60 + 10))):$(printf '%02d' $((i % 60))):00Z\"" symbol="\"S$((i * 7919 % 97))\""
	done >in.ndjson
	run --separate-stderr tick-validate --key-memory 2k --checks c.checks --report report.ndjson in.ndjson
	assert_failure 1
	run jq -c '.checks[0] | [.outcome, .value, .exact]' report.ndjson
	assert_output '["warn",0,false]'
	[[ $stderr == *"duplicate_count(symbol, trade_timestamp) = 0 (line 2): duplicate_count = 0 (a lower bound: --key-memory ran out)"* ]]
	run tick-validate --key-memory 1M --checks c.checks in.ndjson
	assert_success
}

@test "freshness measures from the newest value to --now, with duration thresholds" {
	checks '  - freshness(ingested_at):' '      warn: when > 1h' '      fail: when > 1d' \
		'  - freshness(trade_timestamp) < 90m'
	{ tick ingested_at='"2025-06-17T13:00:00Z"'; tick; marker 2; } >in.ndjson
	run tick-validate --now 2025-06-17T15:05:30.5Z --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	run jq -c '[.checks[] | [.outcome, .value]]' report.ndjson
	assert_output '[["warn","1h30m30.5s"],["fail","1h35m30.5s"]]'
	run tick-validate --now 2025-06-19T13:35:00Z --checks c.checks --report report2.ndjson in.ndjson
	run jq -c '.checks[0] | [.outcome, .value]' report2.ndjson
	assert_output '["fail","2d"]'
}

@test "freshness of a batch without a value of its column fails, as SodaCL fails it, whatever its alerts" {
	checks '  - freshness(ingested_at) < 1d' '  - freshness(trade_timestamp):' '      warn: when > 1h'
	# batch 1 is empty, batch 2 has no ingested_at, batch 3 has both
	{ marker 0 1; tick ingested_at=null; marker 1 2; tick; marker 1 3; } >in.ndjson
	run --separate-stderr tick-validate --now 2025-06-17T13:40:00Z --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	assert_line --index 0 --partial '"id":1,"records":0,"rejected":0,"status":"failed"'
	assert_line --index 2 --partial '"id":2,"records":1,"rejected":0,"status":"failed"'
	assert_line --index 4 --partial '"id":3,"records":1,"rejected":0,"status":"ok"'
	run jq -c '[.checks[] | [.outcome, .value]]' report.ndjson
	assert_output "$(printf '%s\n' '[["fail",null],["fail",null]]' '[["fail",null],["pass","10m"]]' \
		'[["pass","5m"],["pass","10m"]]')"
	stderr_line 'tick-validate: batch test/1: fail: freshness(ingested_at) < 1d (line 2): freshness = null'
	stderr_line 'tick-validate: batch test/1: fail: freshness(trade_timestamp) (line 3): freshness = null'
}

@test "freshness equal to its threshold passes, as in SodaCL: only data older than the duration fails or warns" {
	checks '  - freshness(ingested_at) < 1h' '  - freshness(ingested_at):' '      warn: when > 30m' \
		'      fail: when >= 1h' '  - freshness(ingested_at) <= 1h'
	{ tick; marker 1; } >in.ndjson
	judged() { # NOW: the outcomes of the three checks at NOW
		tick-validate -q --now "$1" --checks c.checks --report "report-$1.ndjson" in.ndjson >/dev/null
		jq -c '[.checks[] | [.outcome, .value]]' "report-$1.ndjson"
	}
	# ingested at 13:35: 30m, 1h and a microsecond past 1h later
	run judged 2025-06-17T14:05:00Z
	assert_output '[["pass","30m"],["pass","30m"],["pass","30m"]]'
	run judged 2025-06-17T14:35:00Z
	assert_output '[["pass","1h"],["warn","1h"],["pass","1h"]]'
	run judged 2025-06-17T14:35:00.000001Z
	assert_output '[["fail","1h0.000001s"],["fail","1h0.000001s"],["fail","1h0.000001s"]]'
	# the comparisons SodaCL gives freshness no meaning with are refused
	local bad
	for bad in '  - freshness(ingested_at) > 1h' '  - freshness(ingested_at) = 1h' \
		'  - freshness(ingested_at) between 1h and 2h'; do
		checks "$bad"
		run --separate-stderr tick-validate --checks c.checks in.ndjson
		assert_failure 78
		assert_equal "$stderr" 'tick-validate: c.checks:2: expected "< DURATION" for freshness: it fails when the data is older (or "warn: when > DURATION", "fail: when > DURATION")'
	done
	checks '  - freshness(ingested_at):' '      fail: when < 1h'
	run --separate-stderr tick-validate --checks c.checks in.ndjson
	assert_failure 78
	assert_equal "$stderr" 'tick-validate: c.checks:3: expected "when > DURATION" for freshness: it fails when the data is older'
}

@test "min and max compare in the column's own type, at warn and at fail level" {
	checks '  - min(low) > 0' '  - max(high):' '      warn: when > 100.25' '      fail: when > 1000' \
		'  - max(trade_timestamp) < 2025-06-17T14:00:00Z' '  - min(volume) between 10 and 50'
	{ tick low=0.000001 high=100.5; tick trade_timestamp='"2025-06-17T14:00:00Z"' volume=5; marker 2; } >in.ndjson
	run tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	run jq -c '[.checks[] | .outcome]' report.ndjson
	assert_output '["pass","warn","fail","fail"]'
	# the values as written (jq would print 0.000001 as 1e-06)
	run grep -o '"value":[^,]*' report.ndjson
	assert_output $'"value":0.000001\n"value":100.5\n"value":"2025-06-17T14:00:00Z"\n"value":5'
}

@test "missing_percent, invalid_percent and duplicate_percent: the counts as percentages of the batch's records, with or without a % sign" {
	checks '  - missing_percent(volume) < 30 %' \
		'  - invalid_percent(volume):' '      valid min: 50' '      warn: when > 20%' '      fail: when > 50 %' \
		'  - duplicate_percent(symbol, trade_timestamp) between 0 and 10' \
		'  - missing_percent(close) = 0'
	{
		tick volume=null
		tick volume=10
		tick trade_timestamp='"2025-06-17T13:35:00Z"'
		tick trade_timestamp='"2025-06-17T13:40:00Z"'
		tick trade_timestamp='"2025-06-17T13:45:00Z"'
		tick trade_timestamp='"2025-06-17T13:50:00Z"'
		marker 6 1
		tick volume=10
		tick volume=null
		tick volume=20
		marker 3 2
	} >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	run jq -c '[.checks[] | [.metric, .outcome, .value]]' report.ndjson
	# batch 1: 1 null of 6, 1 below 50 of 6 (a null is not invalid), 1 repeated key of 6
	# batch 2: 1 null of 3, 2 below 50 of 3, 1 repeated key (three times) of 3
	assert_output "$(printf '%s\n' \
		'[["missing_percent","pass",16.67],["invalid_percent","pass",16.67],["duplicate_percent","fail",16.67],["missing_percent","pass",0]]' \
		'[["missing_percent","fail",33.33],["invalid_percent","fail",66.67],["duplicate_percent","fail",33.33],["missing_percent","pass",0]]')"
	stderr_line "tick-validate: batch test/2: fail: invalid_percent(volume) (line 3): invalid_percent = 66.67"
}

@test "percentages are rounded to two decimals as Soda rounds them, and the thresholds judge the rounded value" {
	checks '  - missing_percent(volume) <= 33.33' '  - missing_percent(close) = 66.67 %' \
		'  - duplicate_percent(symbol) between 33.33 and 33.33' \
		'  - invalid_percent(volume) < 0.125:' '      valid min: 0'
	{ tick volume=null close=null; tick close=null; tick; marker 3 1; } >in.ndjson
	# 1 invalid (and 1 repeated symbol) in 800 is 0.125 %: Soda's round() goes to the
	# even hundredth, 0.12, which is below 0.125
	{ tick volume=-1; yes "$(tick)" | head -799; marker 800 2; } >>in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	run jq -c '[.checks[] | [.outcome, .value]]' report.ndjson
	assert_output "$(printf '%s\n' '[["pass",33.33],["pass",66.67],["pass",33.33],["pass",0]]' \
		'[["pass",0],["fail",0],["fail",0.12],["pass",0.12]]')"
	run grep -o '"value":[^,]*' report.ndjson
	assert_output "$(printf '"value":%s\n' 33.33 66.67 33.33 0 0 0 0.12 0.12)"
}

@test "avg and sum of prices and integers, exact, at warn and at fail level; an empty batch skips them" {
	checks '  - avg(close) = 11.5' '  - sum(close):' '      warn: when > 20' '      fail: when > 1000' \
		'  - avg(volume) between 49.5 and 50.5' '  - sum(volume) = 100'
	{ tick close=11.25; tick close=11.75 volume=null; tick volume=0; marker 3; marker 0 2; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	run jq -c '[.checks[] | [.metric, .outcome]]' report.ndjson
	assert_output $'[["avg","fail"],["sum","warn"],["avg","pass"],["sum","pass"]]\n[["avg","skipped"],["sum","skipped"],["avg","skipped"],["sum","skipped"]]'
	# the averages are of the values present (volume: 100 and 0), at scale 6, rounded
	run grep -o '"value":[^,]*' <(head -1 report.ndjson)
	assert_output $'"value":11.333333\n"value":34\n"value":50\n"value":100'
}

@test "stddev, variance and their _pop and _samp forms of prices and integers: exact, at six decimals, rounded half away from zero" {
	# judged on their exact values: 1.2472191... is above 1.247219, 1.4142135... below 1.414214
	checks '  - stddev(close) between 1.5 and 1.6' '  - stddev_pop(close) between 1.247219 and 1.24722' \
		'  - stddev_samp(close) > 1.527525' '  - variance(close):' '      warn: when > 2' '      fail: when > 3' \
		'  - var_pop(close) < 1.5' '  - var_samp(close) > 2.333333' \
		'  - stddev(volume) < 1.414214' '  - stddev_pop(volume) = 1' '  - variance(volume) = 2' '  - var_pop(volume) = 1'
	{ tick close=10 volume=1; tick close=11 volume=null; tick close=13 volume=3; marker 3; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	run jq -c '[.checks[] | [.metric, .outcome]]' report.ndjson
	assert_output '[["stddev","pass"],["stddev_pop","pass"],["stddev_samp","pass"],["variance","warn"],["var_pop","fail"],["var_samp","pass"],["stddev","pass"],["stddev_pop","pass"],["variance","pass"],["var_pop","pass"]]'
	# close 10, 11, 13: squared deviations from 34/3 sum to 14/3; the sample variance is
	# 14/3 / 2 = 7/3, the population's 14/3 / 3 = 14/9; their roots 1.5275252..., 1.2472191...
	# volume 1, 3 (a null is no value): variance 2, population 1; sqrt(2) = 1.4142135... rounds up
	run grep -o '"value":[^,]*' report.ndjson
	assert_output - <<-'EOF2'
		"value":1.527525
		"value":1.247219
		"value":1.527525
		"value":2.333333
		"value":1.555556
		"value":2.333333
		"value":1.414214
		"value":1
		"value":2
		"value":1
	EOF2
	stderr_line "tick-validate: batch test/1: fail: var_pop(close) < 1.5 (line 8): var_pop = 1.555556"
}

@test "avg, avg_length, stddev and variance are judged on their exact value, as Soda judges them, not on the six decimals written" {
	checks '  - avg(close) > 10.333333' '  - avg(close) = 10.333333' '  - avg(volume) between 1 and 1.333333' \
		'  - avg_length(symbol) > 3.333333' '  - variance(volume) > 0.333333' '  - stddev(volume):' \
		'      warn: when > 0.57735' '  - stddev_pop(close) = 0.471405' '  - avg(high) = 12'
	# close 10, 10, 11: a mean of 10.3333333...; volume 1, 1, 2: a sample variance of 1/3
	{ tick close=10 volume=1; tick close=10 volume=1; tick symbol='"NVDA"' close=11 volume=2; marker 3; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	run jq -c '[.checks[] | [.outcome, .value]]' report.ndjson
	assert_output '[["pass",10.333333],["fail",10.333333],["fail",1.333333],["pass",3.333333],["pass",0.333333],["warn",0.57735],["fail",0.471405],["pass",12]]'
}

@test "a sample stddev or variance of fewer than 2 values is skipped, a population one is 0, and an empty batch skips them all" {
	checks '  - stddev(close) = 0' '  - stddev_samp(close) = 0' '  - variance(volume) = 0' '  - var_samp(volume) = 0' \
		'  - stddev_pop(close) = 0' '  - var_pop(volume) = 0'
	{ tick close=10.5 volume=7; tick close=null volume=null; marker 2 1; marker 0 2; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_success
	run jq -c '[.checks[] | [.outcome, .value]]' report.ndjson
	assert_output - <<-'EOF2'
		[["skipped",null],["skipped",null],["skipped",null],["skipped",null],["pass",0],["pass",0]]
		[["skipped",null],["skipped",null],["skipped",null],["skipped",null],["skipped",null],["skipped",null]]
	EOF2
}

@test "percentile(COLUMN, FRACTION) is PostgreSQL's percentile_disc: the first value whose position reaches the fraction" {
	checks '  - percentile(close, 0.5) = 12' '  - percentile(close, 0.95) < 14' '  - percentile(close, 0) = 10' \
		'  - percentile(close, 0.2) = 10' '  - percentile(close, 1):' '      warn: when >= 13.5' \
		'  - percentile(volume, .6) = 300'
	# sorted: 10, 11, 12, 13, 14; 5 x 0.5 = 2.5 -> the 3rd; 4.75 -> the 5th; 0 -> the 1st;
	# 1.0 -> the 1st (a position reached exactly); the volumes 100 ... 500 and a null: 3.0 -> the 3rd
	{ tick close=14 volume=500; tick close=10 volume=100; tick close=12 volume=300; tick close=11 volume=200; tick close=13.5 volume=400; tick close=null volume=null; marker 6; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	run jq -c '[.checks[] | [.metric, .outcome]]' report.ndjson
	assert_output '[["percentile","pass"],["percentile","fail"],["percentile","pass"],["percentile","pass"],["percentile","warn"],["percentile","pass"]]'
	run grep -o '"value":[^,]*' report.ndjson
	assert_output $'"value":12\n"value":14\n"value":10\n"value":10\n"value":14\n"value":300'
	stderr_line "tick-validate: batch test/1: fail: percentile(close, 0.95) < 14 (line 3): percentile = 14"
}

@test "percentile's fraction is exact: 0.07 of 100 values is the 7th, where a float8 product would say 8th; an empty batch skips it" {
	checks '  - percentile(volume, 0.07) = 7' '  - percentile(low, 0.07) > 0'
	{ for i in $(seq 100 -1 1); do tick volume="$i"; done; marker 100 1; marker 0 2; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_success
	run jq -c '[.checks[] | [.outcome, .value]]' report.ndjson
	assert_output $'[["pass",7],["pass",9]]\n[["skipped",null],["skipped",null]]'
}

@test "past --key-memory a percentile has no value and warns instead of passing" {
	checks '  - percentile(volume, 0.5) > 0'
	for i in $(seq 300); do tick volume="$i"; done >in.ndjson
	run --separate-stderr tick-validate --key-memory 1k --checks c.checks --report report.ndjson in.ndjson
	assert_failure 1
	run jq -c '.checks[0] | [.outcome, .value, .exact]' report.ndjson
	assert_output '["warn",null,false]'
	stderr_line "tick-validate: input: warn: percentile(volume, 0.5) > 0 (line 2): percentile = null (not computed: its values ran out of --key-memory)"
	run --separate-stderr tick-validate --key-memory 4k --checks c.checks --report report2.ndjson in.ndjson
	assert_success
	run jq -c '.checks[0] | [.outcome, .value, .exact]' report2.ndjson
	assert_output '["pass",150,null]'
}

@test "a variance beyond 38 digits is shown as the largest value, not exact, and warns instead of passing" {
	checks '  - var_samp(volume) > 0' '  - stddev(volume) > 0'
	# (2 x (4 x 10^18)^2) / 1 = 3.2 x 10^37, at six decimals 44 digits; its root fits
	# (written by hand: jq would write the volumes as 4e+18)
	{ echo '{"symbol":"IBM","volume":-4000000000000000000}'; echo '{"symbol":"IBM","volume":4000000000000000000}'; marker 2; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 1
	run grep -o '"value":[^}]*' report.ndjson
	assert_output $'"value":99999999999999999999999999999999.999999,"exact":false,"outcome":"warn"\n"value":5656854249492380195.206755,"outcome":"pass"'
	stderr_line "tick-validate: batch test/1: warn: var_samp(volume) > 0 (line 2): var_samp = 99999999999999999999999999999999.999999 (beyond 38 digits: the largest value instead)"
}

@test "avg_length, min_length and max_length of strings count characters; nulls are no value, an empty batch skips them" {
	checks '  - avg_length(source) between 8 and 9' '  - min_length(source) = 2' '  - max_length(source):' '      warn: when > 10' \
		'  - avg_length(symbol) = 4' '  - min_length(symbol) >= 4' '  - max_length(interval) = 5'
	# alphavantage 12, av 2, Älphavantäge 12 characters (14 bytes): 26 / 3; IBM, NVDA, BRK.B
	{ tick; tick source='"av"' symbol='"NVDA"'; tick source='"Älphavantäge"' symbol='"BRK.B"' interval='"15min"'; tick source=null symbol=null; marker 4 1; marker 0 2; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	run jq -c '[.checks[] | [.metric, .outcome]]' report.ndjson
	assert_output $'[["avg_length","pass"],["min_length","pass"],["max_length","warn"],["avg_length","pass"],["min_length","fail"],["max_length","pass"]]\n[["avg_length","skipped"],["min_length","skipped"],["max_length","skipped"],["avg_length","skipped"],["min_length","skipped"],["max_length","skipped"]]'
	run grep -o '"value":[^,]*' <(head -1 report.ndjson)
	assert_output $'"value":8.666667\n"value":2\n"value":12\n"value":4\n"value":3\n"value":5'
}

@test "valid format and invalid format: each of Soda's built-in formats matches the whole value of a string column" {
	# FORMAT|A VALUE IN IT|A VALUE NOT IN IT ("-": none fits the 15 bytes of a column)
	while IFS='|' read -r format yes no; do
		checks '  - invalid_count(source):' "      valid format: $format" '      warn: when > 0' \
			'  - invalid_count(source):' "      invalid format: '$format'" '      warn: when > 0'
		{
			[ "$yes" = - ] || { tick source="\"$yes\""; marker 1 1; }
			tick source="\"$no\""
			tick source=null
			marker 2 2
		} >in.ndjson
		rm -f report.ndjson
		run tick-validate -q --checks c.checks --report report.ndjson in.ndjson
		run jq -c '[.batch.id, [.checks[] | .value]]' report.ndjson
		want='[2,[1,0]]'
		[ "$yes" = - ] || want=$'[1,[0,1]]\n'"$want"
		[ "$output" = "$want" ] || {
			printf '%s: "%s" and "%s" gave\n%s\n' "$format" "$yes" "$no" "$output" >&2
			return 1
		}
	done <<-'EOF2'
		integer| -12 |1.5
		positive integer|+12|-12
		negative integer|- 12|12
		decimal|-1,5|1e5
		positive decimal|.5|-.5
		negative decimal|-0.5|0.5
		decimal point|3.25|3,25
		positive decimal point|+3.25|-3.25
		negative decimal point|-3.25|3.25
		decimal comma|3,25|3.25
		positive decimal comma|3,25|-3,25
		negative decimal comma|-3,25|+3,25
		percentage|12.5 %|12.5
		positive percentage|12,5%|-12%
		negative percentage|-12%|12%
		percentage point|-0.5%|0,5%
		positive percentage point|0.5%|0,5%
		negative percentage point|-0.5%|0.5%
		percentage comma|0,5 %|0.5 %
		positive percentage comma|+0,5%|-0,5%
		negative percentage comma|- 0,5%|0,5%
		money|12.50 USD|USD 12.50
		money point|1,234.50 usd|1.234,50 usd
		money comma|1.234,50 EUR|1,234.50 EUR
		date us|12/31/2024|31/12/2024
		date eu|31.12.2024|12/31/2024
		date inverse|2024/12/31|2024/31/12
		date iso 8601|20240617T1330Z|2024-13-01
		time 24h|13:30:15|24:00
		time 24h nosec|13:30|13:30:15
		time 12h|11:59:59|13:30
		time 12h nosec|9:30|9:30:00
		timestamp 24h|23:59:59.5|23:59
		timestamp 12h|12:00:00|13:00:00
		uuid|-|123e4567-e89b
		ip address|10.0.0.1|10.0.0
		ipv4 address|192.168.1.255|192.168.1
		ipv6 address|fe80::1|1::2::3
		email|a.b@ex.com|a.b@ex
		phone number|(555) 555-1234|555-12345
		credit card number|41111111111111|4111111111111x
	EOF2
}

@test "where Soda's format expressions say less than their names, the names win: a money point's '.', a credit card number anchored whole" {
	checks '  - invalid_count(source) = 0:' '      valid format: money point' \
		'  - invalid_count(source) = 0:' '      valid format: credit card number'
	# Soda's "money point" takes any character for its '.', and its "credit card number"
	# any 14 to 19 digits in a row anywhere in the value
	{ tick source='"1,234x50 USD"'; tick source='"x41111111111111"'; marker 2; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	run jq -c '[.checks[] | .value]' report.ndjson
	assert_output '[2,2]'
}

@test "valid format beside other validity settings: a value is invalid when it breaks any of them" {
	checks '  - invalid_percent(source) < 50 %:' '      valid format: positive integer' '      valid max length: 3' '      invalid values: ["7"]'
	{ tick source='"12"'; tick source='"1234"'; tick source='"-1"'; tick source='"7"'; tick source='"007"'; marker 5; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	run jq -c '.checks[0] | [.outcome, .value]' report.ndjson
	assert_output '["fail",60]'
}

@test "missing regex and missing format count matching strings as missing, beside nulls and missing values" {
	checks '  - missing_count(source):' "      missing regex: '^(N/?A|-)?\$'" '      warn: when > 0' \
		'  - missing_percent(source) < 50 %:' '      missing format: integer' \
		'  - missing_count(source) = 0:' '      missing values: [none]' '      missing regex: ^-$' '      missing format: "decimal point"'
	{
		tick source='""'
		tick source='"NA"'
		tick source='"N/A"'
		tick source='"-"'
		tick source='"n/a"'
		tick source='" 12 "'
		tick source='"0.5"'
		tick source='"none"'
		tick source=null
		tick
		marker 10
	} >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	# "", NA, N/A, - and the null; " 12 " and the null; none, -, " 12 ", 0.5 and the null
	run jq -c '[.checks[] | [.metric, .outcome, .value]]' report.ndjson
	assert_output '[["missing_count","warn",5],["missing_percent","pass",20],["missing_count","fail",5]]'
}

@test "schema: a required column missing from a record fails, or warns" {
	checks '  - schema:' '      fail:' '        when required column missing: [symbol, trade_date]' \
		'  - schema:' '      warn:' '        when required column missing: [volume]'
	{ tick; tick trade_date=- volume=-; tick volume=null; marker 3; } >in.ndjson
	run tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	run jq -c '[.checks[] | [.outcome, .value, .missing_columns]]' report.ndjson
	assert_output '[["fail",1,["trade_date"]],["warn",1,["volume"]]]'
}

@test "each bar rule of the shipped checks quarantines the records that break it" {
	{
		tick                                                         # good
		tick high=10.5                                               # high below close 11
		tick low=10.5                                                # low above open 10
		tick low=0 open=0 close=0.5 high=1                           # low not positive
		tick volume=-1                                               # negative volume
		tick trade_timestamp='"2025-06-17T13:31:00Z"'                # 09:31 ET is off the 5min grid
		tick trade_timestamp='"2025-06-17T07:55:00Z"'                # 03:55 ET, before 04:00
		tick trade_timestamp='"2025-06-21T13:30:00Z"'                # a Saturday
		tick interval='"1d"' trade_timestamp='"2025-06-17T04:00:00Z"' # a daily bar at midnight ET
		tick high=null                                               # unknown is not a failure
		marker 10
	} >in.ndjson
	run --separate-stderr tick-validate --checks "$SHIPPED" --rejects rejects.ndjson --report report.ndjson in.ndjson
	assert_failure 1
	assert_equal "${#lines[@]}" 4
	assert_line --index 3 '{"@batch":{"app":"test","id":1,"records":3,"rejected":7,"status":"ok"}}'
	run jq -r '"\(.source.record) \(.check): \(.values | tojson)"' rejects.ndjson
	assert_output - <<-'EOF'
		2 high below open or close: {"open":10,"high":10.5,"close":11}
		3 low above open or close: {"open":10,"low":10.5,"close":11}
		4 low is not positive: {"low":0}
		5 negative volume: {"volume":-1}
		6 bar off the interval grid: {"interval":"5min","trade_timestamp":"2025-06-17T13:31:00Z"}
		7 bar outside the extended session: {"interval":"5min","trade_timestamp":"2025-06-17T07:55:00Z"}
		8 bar outside the extended session: {"interval":"5min","trade_timestamp":"2025-06-21T13:30:00Z"}
	EOF
	run jq -c '[.checks[] | select(.metric == "failed_rows") | [.outcome, .value]]' report.ndjson
	assert_output '[["warn",1],["warn",1],["warn",1],["warn",1],["warn",1],["warn",2]]'
	run jq -c 'select(.source.record == 2) | .record' rejects.ndjson
	assert_output "$(tick high=10.5)"
}

@test "off_grid: a daily bar starts its day, at midnight or, where clocks go forward at midnight, when the change is over" {
	checks '  - failed rows:' '      fail condition: off_grid(trade_timestamp)' '      time zone: America/Sao_Paulo'
	{
		tick interval='"1d"' trade_timestamp='"2018-11-03T03:00:00Z"' # midnight -03
		tick interval='"1d"' trade_timestamp='"2018-11-04T03:00:00Z"' # 01:00 -02: midnight was skipped
		tick interval='"1d"' trade_timestamp='"2018-11-05T02:00:00Z"' # midnight -02
		tick interval='"1d"' trade_timestamp='"2018-11-04T04:00:00Z"' # 02:00 -02
		tick interval='"1d"' trade_timestamp='"2018-11-03T04:00:00Z"' # 01:00 -03
	} >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --rejects rejects.ndjson in.ndjson
	assert_failure 1
	run jq -r .source.record rejects.ndjson
	assert_output $'4\n5'
}

@test "a row rule with a fail threshold fails the batch past it; a record breaking two rules is quarantined once" {
	checks '  - failed rows:' '      name: tiny volume' '      fail condition: volume < 10 and not (volume = 0)' '      fail: when > 1' \
		'  - failed rows:' '      fail condition: volume < 5'
	{ tick volume=0; tick volume=3; marker 2 1; tick volume=3; tick volume=4; marker 2 2; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --rejects rejects.ndjson --report report.ndjson in.ndjson
	assert_failure 2
	assert_line --index 0 '{"@batch":{"app":"test","id":1,"records":0,"rejected":2,"status":"ok"}}'
	assert_line --index 1 '{"@batch":{"app":"test","id":2,"records":0,"rejected":2,"status":"failed"}}'
	# a rule with only a fail alert does not warn below it (its records are quarantined all the same)
	run jq -c '[.checks[] | [.name, .outcome, .value]]' report.ndjson
	assert_output $'[["tiny volume","pass",1],["volume < 5","warn",2]]\n[["tiny volume","fail",2],["volume < 5","warn",2]]'
	run jq -r '"\(.source.record) \(.check)"' rejects.ndjson
	assert_output $'1 volume < 5\n2 tiny volume\n4 tiny volume\n5 tiny volume'
	run jq -c '.outcome' report.ndjson
	assert_output $'"warn"\n"fail"'
}

@test "rules compare exactly across prices, volumes and constants" {
	checks '  - failed rows:' '      fail condition: close >= 100.000001 or volume > high'
	{ tick close=100.000001 high=200; tick close=100 high=200; tick high=99.5 volume=100; tick high=100 volume=100; marker 4; } >in.ndjson
	run tick-validate --checks c.checks --report report.ndjson --rejects rejects.ndjson in.ndjson
	assert_failure 1
	run jq -r '.source.record' rejects.ndjson
	assert_output $'1\n3'
}

@test "a batch failed upstream stays failed; rejected counts add up" {
	checks '  - row_count > 0'
	{ tick; marker 1 1 failed 2; tick; marker 1 2 ok 1; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks in.ndjson
	assert_success
	assert_line --index 1 '{"@batch":{"app":"test","id":1,"records":1,"rejected":2,"status":"failed"}}'
	assert_line --index 3 '{"@batch":{"app":"test","id":2,"records":1,"rejected":1,"status":"ok"}}'
}

@test "a batch failed upstream is not judged: no check reports its consequences, its rows still meet the rules, exit 0" {
	checks '  - row_count > 0' '  - failed rows:' '      fail condition: volume < 5'
	# av-fetch's batch when no request was answered: no record, failed
	{ marker 0 1 failed 4; tick volume=3; tick; marker 2 2 failed 0; marker 0 3; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --rejects rejects.ndjson --report report.ndjson in.ndjson
	assert_failure 2
	assert_line --index 0 '{"@batch":{"app":"test","id":1,"records":0,"rejected":4,"status":"failed"}}'
	assert_line --index 2 '{"@batch":{"app":"test","id":2,"records":1,"rejected":1,"status":"failed"}}'
	assert_line --index 3 '{"@batch":{"app":"test","id":3,"records":0,"rejected":0,"status":"failed"}}'
	# batch 3 (ok, empty) is judged and fails row_count; batches 1 and 2 are not judged
	assert_equal "${stderr_lines[0]}" 'tick-validate: batch test/1: 0 records, 0 passed, 0 quarantined; marked failed upstream, so its checks are not judged'
	assert_equal "${stderr_lines[1]}" 'tick-validate: in.ndjson: record 2: quarantined by "volume < 5": fail condition holds: volume < 5'
	assert_equal "${stderr_lines[2]}" 'tick-validate: batch test/2: 2 records, 1 passed, 1 quarantined; marked failed upstream, so its checks are not judged'
	assert_equal "${stderr_lines[3]}" 'tick-validate: batch test/3: fail: row_count > 0 (line 2): row_count = 0'
	run jq -c '[.batch.id, (.checks | length), .failed_upstream, .outcome]' report.ndjson
	assert_output $'[1,0,true,"fail"]\n[2,0,true,"fail"]\n[3,2,null,"fail"]'
	run jq -r '.source.record' rejects.ndjson
	assert_output 2
	# alone, a batch failed upstream leaves the exit status alone
	{ marker 0 1 failed 4; tick; marker 1 2; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks in.ndjson
	assert_success
}

@test "a marker that claims more records than arrived fails its batch, with both counts; the next batch is not touched" {
	checks '  - row_count > 0'
	{ tick; tick; tick; marker 5 7; tick; marker 1 8; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 65
	assert_line --index 3 '{"@batch":{"app":"test","id":7,"records":3,"rejected":0,"status":"failed"}}'
	assert_line --index 5 '{"@batch":{"app":"test","id":8,"records":1,"rejected":0,"status":"ok"}}'
	assert_equal "${stderr_lines[0]}" 'tick-validate: batch test/7: the marker says 5 records, 3 arrived; the batch fails'
	run jq -c '[.batch.id, .stream_error, .outcome]' report.ndjson
	assert_output $'[7,"the marker says 5 records, 3 arrived","fail"]\n[8,null,"pass"]'
}

@test "a malformed marker between two batches fails the first batch alone and is passed on as it came" {
	checks '  - row_count > 0'
	bad='{"@batch":{"app":"test","id":1,"records":2,"status":"OK"}}'
	{ tick; tick; echo "$bad"; tick; marker 1 2; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --rejects rejects.ndjson --report report.ndjson in.ndjson
	assert_failure 65
	assert_equal "${#lines[@]}" 5
	assert_line --index 2 "$bad"
	assert_line --index 4 '{"@batch":{"app":"test","id":2,"records":1,"rejected":0,"status":"ok"}}'
	assert_equal "${stderr_lines[0]}" 'tick-validate: in.ndjson: line 3: malformed batch marker: @batch status must be "ok" or "failed"; the batch it ends fails'
	# never a quarantined record
	assert_equal "$(wc -c <rejects.ndjson)" 0
	run jq -c '[.batch, .records.in, .stream_error, .outcome]' report.ndjson
	assert_output - <<-'EOF'
		[null,2,"malformed batch marker: @batch status must be \"ok\" or \"failed\"","fail"]
		[{"app":"test","id":2},1,null,"pass"]
	EOF
	# The next stage, over binary, fails the same batch: the marker travels unchanged.
	run --separate-stderr bash -c 'tick-validate -q --binary --checks "$1" "$2" | tick-validate --checks "$1"' - c.checks in.ndjson
	assert_failure 65
	assert_line --index 2 "$bad"
	assert_line --index 4 '{"@batch":{"app":"test","id":2,"records":1,"rejected":0,"status":"ok"}}'
	# each stage says so
	stderr_line 'tick-validate: in.ndjson: line 3: malformed batch marker: @batch status must be "ok" or "failed"; the batch it ends fails'
	stderr_line 'tick-validate: stdin: record 3: malformed batch marker: @batch status must be "ok" or "failed"; the batch it ends fails'
}

@test "a marker that repeats a member is malformed, in JSON and in binary streams" {
	checks '  - row_count >= 0'
	bad='{"@batch":{"app":"test","id":1,"records":1,"status":"failed","status":"ok"}}'
	{ tick; echo "$bad"; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks in.ndjson
	assert_failure 65
	assert_line --index 1 "$bad"
	assert_equal "${stderr_lines[0]}" 'tick-validate: in.ndjson: line 2: malformed batch marker: @batch repeats "status"; the batch it ends fails'
	run --separate-stderr bash -c 'tick-validate -q --binary --checks "$1" "$2" | tick-validate --checks "$1"' - c.checks in.ndjson
	assert_failure 65
	assert_line --index 1 "$bad"
	[[ ${stderr_lines[0]} == *'malformed batch marker: @batch repeats "status"'* ]]
}

@test "a marker without app is passed on without app, and its batch is named by its id" {
	checks '  - row_count > 1'
	{ tick; echo '{"@batch":{"id":9,"records":1,"status":"ok"}}'; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks in.ndjson
	assert_failure 2
	assert_line --index 1 '{"@batch":{"id":9,"records":1,"rejected":0,"status":"failed"}}'
	[[ $stderr == *"tick-validate: batch 9: fail: row_count > 1 (line 2): row_count = 1"* ]]
}

@test "quarantine messages stop after 20, then say how many more and where they are" {
	checks '  - failed rows:' '      fail condition: volume < 0'
	{ for i in $(seq 25); do tick volume=-1; done; marker 25; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks in.ndjson
	assert_failure 1
	assert_equal "${stderr_lines[0]}" 'tick-validate: in.ndjson: record 1: quarantined by "volume < 0": fail condition holds: volume < 0'
	assert_equal "$(printf '%s\n' "${stderr_lines[@]}" | grep -c 'quarantined by')" 20
	stderr_line 'tick-validate: ... and 5 more (see --rejects FILE)'
	run --separate-stderr tick-validate --checks c.checks --rejects r.ndjson in.ndjson
	assert_failure 1
	stderr_line 'tick-validate: ... and 5 more (see r.ndjson)'
	assert_equal "$(wc -l <r.ndjson)" 25
	run --separate-stderr tick-validate -q --checks c.checks in.ndjson
	assert_failure 1
	assert_equal "$stderr" ''
}

@test "only the batch whose check failed is marked failed" {
	checks '  - max(volume) < 1000'
	{ tick; marker 1 1; tick volume=5000; marker 1 2; tick; marker 1 3; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks in.ndjson
	assert_failure 2
	run jq -c 'select(."@batch") | [."@batch".id, ."@batch".status]' <<<"$output"
	assert_output $'[1,"ok"]\n[2,"failed"]\n[3,"ok"]'
}

@test "the report has one line per batch with every check, its metric, value and outcome" {
	run tick-validate --now 2025-06-17T14:00:00Z --checks "$SHIPPED" --report report.ndjson "$PIPE/expected.ndjson"
	assert_success
	run jq -c 'del(.checks)' report.ndjson
	assert_output '{"dataset":"ticks","checks_file":"'"$SHIPPED"'","batch":{"app":"av-fetch/intraday/IBM,NVDA","id":1750173900000000},"scanned_at":"2025-06-17T14:00:00Z","records":{"in":6,"passed":6,"quarantined":0},"outcome":"pass"}'
	run jq -c '.checks[]' report.ndjson
	assert_line --index 0 '{"name":"row_count > 0","definition":"row_count > 0","line":10,"metric":"row_count","threshold":"> 0","value":6,"outcome":"pass"}'
	assert_line --index 1 '{"name":"missing_count(symbol) = 0","definition":"missing_count(symbol) = 0","line":11,"metric":"missing_count","columns":["symbol"],"threshold":"= 0","value":0,"outcome":"pass"}'
	assert_line --index 2 '{"name":"schema","definition":"schema","line":12,"metric":"schema","value":0,"missing_columns":[],"outcome":"pass"}'
	assert_line --index 3 '{"name":"high below open or close","definition":"failed rows","line":17,"metric":"failed_rows","condition":"high < max(open, close)","warn":"> 0","value":0,"outcome":"pass"}'
	assert_equal "${#lines[@]}" 9
}

@test "a record that is not a tick record is quarantined under 'tick record' with the reason" {
	checks '  - row_count >= 0'
	{
		echo 'not json'
		echo '{"symbol":"IBM","colour":"red"}'
		echo '{"symbol":"IBM","open":"abc"}'
		printf '{"symbol":"\xff"}\n'
		tick
		marker 5
	} >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --rejects rejects.ndjson in.ndjson
	assert_failure 1
	assert_line --index 1 '{"@batch":{"app":"test","id":1,"records":1,"rejected":4,"status":"ok"}}'
	run jq -c '[.check, .reason, .record]' rejects.ndjson
	assert_output - <<-'EOF'
		["tick record","unexpected character","not json"]
		["tick record","field \"colour\": not a field of a tick record",{"symbol":"IBM","colour":"red"}]
		["tick record","field \"open\": \"abc\" is not a decimal number",{"symbol":"IBM","open":"abc"}]
		["tick record","invalid JSON: invalid UTF-8 in string","{\"symbol\":\"�\"}"]
	EOF
}

@test "a stream without markers is one batch; when it fails, a failed marker ends it" {
	checks '  - row_count > 1'
	tick >one.ndjson
	run --separate-stderr tick-validate --checks c.checks one.ndjson
	assert_failure 2
	assert_line --index 1 '{"@batch":{"app":"tick-validate","id":0,"records":1,"rejected":0,"status":"failed"}}'
	[[ $stderr == *"tick-validate: input: fail: row_count > 1 (line 2): row_count = 1"* ]]
	{ tick; tick; } >two.ndjson
	run --separate-stderr tick-validate --checks c.checks two.ndjson
	assert_success
	assert_equal "${#lines[@]}" 2
	run --separate-stderr tick-validate --checks c.checks </dev/null
	assert_failure 2
	assert_output '{"@batch":{"app":"tick-validate","id":0,"records":0,"rejected":0,"status":"failed"}}'
}

@test "records after the last marker are judged and reported, and get no marker" {
	checks '  - row_count > 5'
	{ tick; tick; tick; tick; tick; tick; marker 6; tick; } >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_failure 2
	assert_equal "${#lines[@]}" 8
	assert_line --index 7 "$(tick)"
	[[ $stderr == *"tick-validate: 1 record after the last batch marker: their batch has not ended"* ]]
	run jq -c '[.batch, .outcome]' report.ndjson
	assert_output $'[{"app":"test","id":1},"pass"]\n[null,"fail"]'
}

@test "an input cut short fails the batch it interrupts, and a stream without markers gets its failed marker" {
	checks '  - row_count > 0'
	{ tick; tick low=8; } >two.ndjson
	tick-validate -q --binary --checks c.checks two.ndjson >two.bin
	head -c "$(($(wc -c <two.bin) - 5))" two.bin >cut.bin
	# The checks pass on the record that arrived; its batch fails all the same.
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson cut.bin
	assert_failure 65
	assert_equal "${#lines[@]}" 2
	assert_line --index 0 "$(tick)"
	assert_line --index 1 '{"@batch":{"app":"tick-validate","id":0,"records":1,"rejected":0,"status":"failed"}}'
	stderr_line 'tick-validate: cut.bin: record 2: truncated frame (99 of 104 bytes)'
	stderr_line 'tick-validate: input: 1 record, 1 passed, 0 quarantined; 1 check: 1 passed, 0 warned, 0 failed, 0 skipped; the batch fails'
	run jq -c '[.batch, .records.passed, .checks[0].outcome, .stream_error, .outcome]' report.ndjson
	assert_output '[null,1,"pass","cut.bin: record 2: truncated frame (99 of 104 bytes)","fail"]'
	# An input that cannot be read cuts its batch short the same way.
	tick >one.ndjson
	run --separate-stderr tick-validate --checks c.checks one.ndjson .
	assert_failure 74
	assert_output "$(tick; echo '{"@batch":{"app":"tick-validate","id":0,"records":1,"rejected":0,"status":"failed"}}')"
	stderr_line 'tick-validate: .: read error: Is a directory'
	# Records after the last marker are judged failed, and still get no marker.
	{ tick; marker 1; tick; } >in.ndjson
	tick-validate -q --binary --checks c.checks in.ndjson >in.bin
	head -c "$(($(wc -c <in.bin) - 5))" in.bin >cut.bin
	run --separate-stderr tick-validate --checks c.checks cut.bin
	assert_failure 65
	assert_equal "${#lines[@]}" 2
	assert_line --index 1 '{"@batch":{"app":"test","id":1,"records":1,"rejected":0,"status":"ok"}}'
}

@test "an input that cannot be read is reported, the files after it are still read, and the batch it cut short fails with a failed marker" {
	checks '  - row_count > 0'
	{ tick; marker 1 1; tick volume=2; } >a.ndjson
	{ tick volume=3; marker 1 3; tick volume=4; marker 1 4; } >c.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson a.ndjson . c.ndjson
	assert_failure 74
	assert_output "$(
		tick
		marker 1 1
		tick volume=2
		echo '{"@batch":{"app":"tick-validate","id":0,"records":1,"rejected":0,"status":"failed"}}'
		tick volume=3
		marker 1 3
		tick volume=4
		marker 1 4
	)"
	stderr_line 'tick-validate: .: read error: Is a directory'
	stderr_line 'tick-validate: records without a marker: 1 record, 1 passed, 0 quarantined; 1 check: 1 passed, 0 warned, 0 failed, 0 skipped; the batch fails'
	run jq -c '[.batch.id, .records.in, .stream_error, .outcome]' report.ndjson
	assert_output "$(printf '%s\n' '[1,1,null,"pass"]' '[null,1,".: read error: Is a directory","fail"]' \
		'[3,1,null,"pass"]' '[4,1,null,"pass"]')"
	# delta-append loads the whole batches and not the one cut short
	export STOCKETL_LAKE=$PWD/lake
	delta-create bronze --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	run bash -c 'tick-validate -q --checks c.checks a.ndjson . c.ndjson | delta-append -q bronze'
	assert_failure 2
	run delta-cat bronze
	assert_success
	run jq -s -c 'map(.volume) | sort' <<<"$output"
	assert_output '[3,4,100]'
	# A stream without markers is one batch: cut short, it fails, the rest of it too.
	tick >one.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report2.ndjson one.ndjson \
		nothing.ndjson . one.ndjson
	assert_failure 74
	assert_output "$(
		tick
		echo '{"@batch":{"app":"tick-validate","id":0,"records":1,"rejected":0,"status":"failed"}}'
		tick
		echo '{"@batch":{"app":"tick-validate","id":0,"records":1,"rejected":0,"status":"failed"}}'
	)"
	stderr_line 'tick-validate: nothing.ndjson: No such file or directory'
	stderr_line 'tick-validate: .: read error: Is a directory'
	run jq -c '[.batch, .records.in, .stream_error, .outcome]' report2.ndjson
	assert_output "$(printf '%s\n' '[null,1,".: read error: Is a directory","fail"]' \
		'[null,1,".: read error: Is a directory","fail"]')"
}

@test "min and max of an empty batch are skipped, not failed" {
	checks '  - min(low) > 0' '  - max(trade_timestamp) < 2025-01-01T00:00:00Z'
	marker 0 >in.ndjson
	run tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_success
	run jq -c '[.checks[] | [.outcome, .value]]' report.ndjson
	assert_output '[["skipped",null],["skipped",null]]'
}

@test "binary input gets the same judgement, and --binary output reads back to the same JSON" {
	run bash -c 'tick-normalize -q --binary "$1" >in.bin' - "$PIPE/envelopes.ndjson"
	assert_failure 1
	run --separate-stderr tick-validate --checks "$SHIPPED" --rejects rejects.ndjson in.bin
	assert_failure 1
	diff "$PIPE/expected.ndjson" <(printf '%s\n' "$output")
	[ "$(wc -l <rejects.ndjson)" -eq 3 ]
	tick-validate -q --binary --checks "$SHIPPED" "$PIPE/expected.ndjson" >out.bin
	run tick-validate -q --checks "$SHIPPED" out.bin
	assert_success
	diff "$PIPE/expected.ndjson" <(printf '%s\n' "$output")
}

@test "a malformed checks file is exit 78 with the file, the line and what was expected" {
	expect() { # WANT LINE...
		local want=$1
		shift
		printf '%s\n' "$@" >bad.checks
		run --separate-stderr tick-validate --checks bad.checks /dev/null
		assert_failure 78
		assert_output ''
		assert_equal "$stderr" "tick-validate: bad.checks:$want"
	}
	expect '1: expected "checks for <dataset>:"' '- row_count > 0'
	: >bad.checks
	run --separate-stderr tick-validate --checks bad.checks /dev/null
	assert_failure 78
	assert_equal "$stderr" 'tick-validate: bad.checks:1: expected "checks for <dataset>:" (the file is empty)'
	expect '2: expected at least one check' 'checks for ticks:' ''
	expect '2: expected a check: row_count, missing_count(COLUMN), invalid_count(COLUMN), duplicate_count(COLUMNS), their _percent forms, freshness(COLUMN), min(COLUMN), max(COLUMN), avg(COLUMN), sum(COLUMN), stddev(COLUMN), stddev_pop, stddev_samp, variance, var_pop, var_samp, percentile(COLUMN, FRACTION), avg_length(COLUMN), min_length, max_length, schema or failed rows' \
		'checks for ticks:' '  - rowcount > 0'
	expect '2: expected a comparison (=, !=, <, <=, >, >=) or "between A and B"' 'checks for ticks:' '  - row_count ~ 0'
	expect '2: expected a count (an integer), not "zero"' 'checks for ticks:' '  - row_count > zero'
	expect '2: expected a column (symbol, interval, trade_timestamp, trade_date, open, high, low, close, volume, batch_id, ingested_at or source)' \
		'checks for ticks:' '  - missing_count(colour) = 0'
	expect '2: expected ")"' 'checks for ticks:' '  - missing_count(symbol = 0'
	expect '2: expected a timestamp column (trade_timestamp or ingested_at) for freshness' 'checks for ticks:' '  - freshness(volume) < 1d'
	expect '3: expected a duration such as 15m, 6h or 1d6h, not "soon"' 'checks for ticks:' '  - freshness(ingested_at):' '      warn: when > soon'
	expect '2: expected a threshold: "min(low) > 0" inline, or warn:/fail: alerts on the lines below' 'checks for ticks:' '  - min(low)'
	expect '3: expected "warn: when <comparison>"' 'checks for ticks:' '  - min(low):' '      warn: > 1'
	expect '3: expected spaces for indentation, not a tab' 'checks for ticks:' '  - row_count > 0:' $'\tname: x'
	expect '3: expected a setting of this check (name, warn or fail), not "valid min"' 'checks for ticks:' '  - row_count:' '      valid min: 0'
	expect '3: expected a setting of this check (name, warn, fail, missing values, missing regex or missing format), not "valid values"' 'checks for ticks:' '  - missing_count(symbol) = 0:' '      valid values: [IBM]'
	expect '3: expected a date YYYY-MM-DD for trade_date, not "never"' 'checks for ticks:' '  - missing_count(trade_date) = 0:' '      missing values: [never]'
	expect '2: expected "valid min:", "valid max:" or "valid values:" (or another validity setting) for invalid_count' 'checks for ticks:' '  - invalid_count(volume) = 0'
	expect '2: expected "valid min:", "valid max:" or "valid values:" (or another validity setting) for invalid_percent' 'checks for ticks:' '  - invalid_percent(volume) < 1 %'
	expect '3: expected a string column (symbol, interval or source) for "valid regex"' 'checks for ticks:' '  - invalid_count(volume) = 0:' '      valid regex: ^1'
	expect '3: expected a regular expression whose repetitions ({m,n} and +) multiply to at most 1000 after "valid regex:"' \
		'checks for ticks:' '  - invalid_count(symbol) = 0:' '      valid regex: ((A{10}){10}){11}'
	expect '3: expected a regular expression whose repetitions ({m,n} and +) multiply to at most 1000 after "invalid regex:"' \
		'checks for ticks:' '  - invalid_count(symbol) = 0:' '      invalid regex: ^A++++++++++'
	expect '3: expected a length (a whole number of characters) after "valid max length:"' 'checks for ticks:' '  - invalid_count(symbol) = 0:' '      valid max length: -1'
	expect '4: expected one "invalid regex:" per check' 'checks for ticks:' '  - invalid_count(symbol) = 0:' '      invalid regex: ^A' '      invalid regex: ^B'
	expect '2: expected a percentage, not "few"' 'checks for ticks:' '  - missing_percent(volume) < few'
	expect '2: expected a count (an integer), not "5%"' 'checks for ticks:' '  - missing_count(volume) < 5%'
	expect '2: expected the end of the threshold, not "%"' 'checks for ticks:' '  - missing_percent(volume) < 5 % %'
	expect '2: expected a numeric column (open, high, low, close, volume or batch_id) for avg' 'checks for ticks:' '  - avg(trade_timestamp) > 0'
	expect '2: expected a numeric column (open, high, low, close, volume or batch_id) for sum' 'checks for ticks:' '  - sum(symbol) > 0'
	expect '2: expected a numeric column (open, high, low, close, volume or batch_id) for stddev' 'checks for ticks:' '  - stddev(symbol) > 0'
	expect '2: expected a numeric column (open, high, low, close, volume or batch_id) for var_pop' 'checks for ticks:' '  - var_pop(trade_date) > 0'
	expect '2: expected a number, not "1%"' 'checks for ticks:' '  - stddev(close) > 1%'
	expect '2: expected a numeric column (open, high, low, close, volume or batch_id) for percentile' 'checks for ticks:' '  - percentile(interval, 0.5) > 0'
	expect '2: expected a fraction from 0 to 1 such as 0.95 in percentile, not "1.5"' 'checks for ticks:' '  - percentile(close, 1.5) > 0'
	expect '2: expected a fraction from 0 to 1 such as 0.95 in percentile, not "-0.1"' 'checks for ticks:' '  - percentile(close, -0.1) > 0'
	expect '2: expected a fraction from 0 to 1 such as 0.95 in percentile, not "half"' 'checks for ticks:' '  - percentile(close, half) > 0'
	expect '2: expected ", FRACTION)" after percentile'"'"'s column: percentile(COLUMN, 0.95)' 'checks for ticks:' '  - percentile(close) > 0'
	expect '2: expected a decimal number for close, not "high"' 'checks for ticks:' '  - percentile(close, 0.5) > high'
	expect '2: expected a string column (symbol, interval or source) for avg_length' 'checks for ticks:' '  - avg_length(volume) > 0'
	expect '2: expected a string column (symbol, interval or source) for max_length' 'checks for ticks:' '  - max_length(trade_timestamp) > 0'
	expect '2: expected a count (an integer), not "1.5"' 'checks for ticks:' '  - max_length(symbol) > 1.5'
	expect '3: expected a format (integer, decimal, decimal point, percentage, money, date us, date eu, date iso 8601, time 24h, uuid, ipv4 address, email... as tick-validate(1) lists them) after "valid format:", not "money dollars"' \
		'checks for ticks:' '  - invalid_count(symbol) = 0:' '      valid format: money dollars'
	expect '3: expected a format (integer, decimal, decimal point, percentage, money, date us, date eu, date iso 8601, time 24h, uuid, ipv4 address, email... as tick-validate(1) lists them) after "missing format:", not "Integer"' \
		'checks for ticks:' '  - missing_count(symbol) = 0:' '      missing format: Integer'
	expect '3: expected a string column (symbol, interval or source) for "invalid format"' 'checks for ticks:' '  - invalid_count(volume) = 0:' '      invalid format: integer'
	expect '4: expected one "valid format:" per check' 'checks for ticks:' '  - invalid_count(symbol) = 0:' '      valid format: email' '      valid format: uuid'
	expect '3: expected a string column (symbol, interval or source) for "missing regex"' 'checks for ticks:' '  - missing_count(volume) = 0:' '      missing regex: ^0$'
	expect '3: expected a regular expression whose repetitions ({m,n} and +) multiply to at most 1000 after "missing regex:"' \
		'checks for ticks:' '  - missing_count(symbol) = 0:' '      missing regex: ((A{10}){10}){11}'
	expect '3: expected a regular expression (POSIX extended) after "missing regex:": Unmatched ( or \(' 'checks for ticks:' '  - missing_count(symbol) = 0:' '      missing regex: (A'
	expect '4: expected one "missing format:" per check' 'checks for ticks:' '  - missing_percent(symbol) = 0:' '      missing format: integer' '      missing format: decimal'
	expect '3: expected a setting of this check (name, warn, fail, missing values, missing regex or missing format), not "valid format"' \
		'checks for ticks:' '  - missing_count(symbol) = 0:' '      valid format: integer'
	expect '3: expected a setting of this check (name, warn, fail, valid min, valid max, valid values, invalid values, valid regex, invalid regex, valid format, invalid format, valid length, valid min length or valid max length), not "missing regex"' \
		'checks for ticks:' '  - invalid_count(symbol) = 0:' '      missing regex: ^$'
	expect '3: expected a setting of this check (name, warn or fail), not "valid format"' 'checks for ticks:' '  - avg_length(symbol):' '      valid format: integer'
	expect '4: expected "- " at the indentation of the other checks (2 spaces)' 'checks for ticks:' '  - row_count > 0' '' '    - row_count > 1'
	expect '3: expected "- row_count > 0:" (with a colon) before the settings of a check' 'checks for ticks:' '  - row_count > 0' '      name: x'
	expect '3: expected a comparison operator (=, !=, <, <=, >, >=)' 'checks for ticks:' '  - failed rows:' '      fail condition: high'
	expect '3: expected a numeric column (open, high, low, close, volume, batch_id), a number, min(...) or max(...), not "symbol"' \
		'checks for ticks:' '  - failed rows:' '      fail condition: symbol = 1'
	expect '3: expected "and", "or" or the end of the condition, not "close"' 'checks for ticks:' '  - failed rows:' '      fail condition: high < low close'
	expect '3: expected a number of at most 32 digits and 6 decimals: decimal "11.0000001" has more than 6 fractional digits' \
		'checks for ticks:' '  - failed rows:' '      fail condition: close = 11.0000001'
	expect '3: expected a column, a number, min(...) or max(...)' 'checks for ticks:' '  - failed rows:' '      fail condition: close = @'
	expect '3: expected a time of day HH:MM' 'checks for ticks:' '  - failed rows:' '      fail condition: outside_session(trade_timestamp, 4am, 20:00)'
	# Nesting is bounded apart from the terms: parentheses make no term, so
	# thousands of them overflowed the parser's stack.
	local deep
	deep=$(printf '%.0s(' {1..101})'high > 1'$(printf '%.0s)' {1..101})
	expect '3: expected a fail condition nested at most 100 deep' 'checks for ticks:' '  - failed rows:' "      fail condition: $deep"
	deep=$(printf '%.0snot ' {1..20000})'high > 1'
	expect '3: expected a fail condition nested at most 100 deep' 'checks for ticks:' '  - failed rows:' "      fail condition: $deep"
	deep=$(printf '%.0smax(' {1..20000})'high'$(printf '%.0s, 1)' {1..20000})' > 1'
	expect '3: expected a fail condition nested at most 100 deep' 'checks for ticks:' '  - failed rows:' "      fail condition: $deep"
	expect '2: expected a "fail condition:" for failed rows' 'checks for ticks:' '  - failed rows:'
	expect '4: expected a time zone of the system database: time zone "Mars/Base": /usr/share/zoneinfo/Mars/Base: No such file or directory' \
		'checks for ticks:' '  - failed rows:' '      fail condition: off_grid(trade_timestamp)' '      time zone: Mars/Base'
	expect '2: expected a "fail:" or "warn:" alert with "when required column missing: [...]"' 'checks for ticks:' '  - schema:'
	expect '4: expected a list in brackets: [a, b, ...]' 'checks for ticks:' '  - schema:' '      fail:' '        when required column missing: symbol'
	expect '3: expected either an inline threshold or warn:/fail: alerts, not both' 'checks for ticks:' '  - row_count > 0:' '      warn: when < 10'
	expect '2: expected "between A and B" with A <= B' 'checks for ticks:' '  - row_count between 5 and 1'
	expect '3: expected one "checks for" block (this file has one already) or an indented line' 'checks for ticks:' '  - row_count > 0' 'checks for more:'
}

@test "a checks file may start with a byte order mark, end its lines with CRLF, and hold comments after an apostrophe" {
	printf '\xef\xbb\xbfchecks for ticks:\r\n  - row_count > 0:   # the first\r\n      name: don'"'"'t load nothing  # why\r\n  - invalid_count(symbol) = 0:\r\n      valid values: ['"'"'IBM'"'"', "I'"'"'S #1"]  # a comment\r\n' >c.checks
	tick >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson in.ndjson
	assert_success
	run jq -c '[.checks[] | [.name, .line, .outcome]]' report.ndjson
	assert_output '[["don'"'"'t load nothing",2,"pass"],["invalid_count(symbol) = 0",4,"pass"]]'
}

@test "names, conditions and thresholds reach the report and the rejects whole, and one too long for them is an error" {
	local cond='volume < -1' i
	for i in {2..20}; do
		cond="$cond or volume < -$i"
	done
	cond="$cond or low > high"
	local when='between 2025-06-17T00:00:00.000000Z and 2025-06-18T00:00:00.000000Z'
	checks '  - failed rows:' "      fail condition: $cond" "  - max(trade_timestamp) $when"
	tick low=20 >in.ndjson
	run --separate-stderr tick-validate --checks c.checks --report report.ndjson --rejects rejects.ndjson in.ndjson
	assert_failure 1
	run jq -c '[.checks[] | [.name, .condition, .threshold]]' report.ndjson
	assert_output "$(jq -nc --arg c "$cond" --arg w "$when" '[[$c, $c, null], ["max(trade_timestamp) \($w)", null, $w]]')"
	run jq -r '.reason' rejects.ndjson
	assert_output "fail condition holds: $cond"
	expect() { # WANT LINE...
		local want=$1
		shift
		printf '%s\n' "$@" >bad.checks
		run --separate-stderr tick-validate --checks bad.checks /dev/null
		assert_failure 78
		assert_equal "$stderr" "tick-validate: bad.checks:$want"
	}
	local long
	long=$(printf 'x%.0s' {1..512})
	expect '3: expected a name of at most 511 bytes' 'checks for ticks:' '  - row_count > 0:' "      name: $long"
	long='close > 100000000000000000000.000000'
	for i in {2..16}; do
		long="$long or close > 100000000000000000000.00000$((i % 10))"
	done
	expect '3: expected a fail condition of at most 511 bytes' 'checks for ticks:' '  - failed rows:' \
		"      fail condition: $long"
	expect '2: expected a threshold of at most 127 bytes' 'checks for ticks:' "  - row_count between 1 and 1$(printf '0%.0s' {1..120})"
	expect '2: expected a check of at most 255 bytes' 'checks for ticks:' "  - row_count > 1$(printf '0%.0s' {1..250})"
}

@test "a missing checks file is a configuration error" {
	STOCKETL_SHARE=/nowhere run --separate-stderr tick-validate /dev/null
	assert_failure 78
	assert_equal "$stderr" 'tick-validate: no checks file: neither ./conf/checks/ticks.checks nor /nowhere/conf/checks/ticks.checks exists (give --checks FILE)'
	run --separate-stderr tick-validate --checks none.checks /dev/null
	assert_failure 78
	assert_equal "$stderr" 'tick-validate: checks file none.checks: No such file or directory'
}

@test "a bad [streams] max_line in the configuration is exit 78, named with its file and line" {
	printf '[streams]\n# the longest line\nmax_line = lots\n' >bad.ini
	run --separate-stderr tick-validate --config bad.ini --checks "$SHIPPED" /dev/null
	assert_failure 78
	assert_output ''
	assert_equal "$stderr" "tick-validate: bad.ini:3: [streams] max_line: expected an integer from 1024 to 2147483647, got 'lots'"
}

@test "usage errors exit 64 with the usage" {
	run --separate-stderr tick-validate --now yesterday
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "tick-validate: --now: expected an RFC 3339 timestamp, got 'yesterday'"
	[[ $stderr == *"usage: tick-validate"* ]]
	run --separate-stderr tick-validate --key-memory lots
	assert_failure 64
	run --separate-stderr tick-validate --checks "$SHIPPED" no-such-file
	assert_failure 74
	assert_equal "${stderr_lines[0]}" 'tick-validate: no-such-file: No such file or directory'
}

@test "a full disk is exit 74" {
	run --separate-stderr bash -c 'tick-validate -q --checks "$1" "$2" >/dev/full' - "$SHIPPED" "$PIPE/expected.ndjson"
	assert_failure 74
	[[ $stderr == *"No space left on device"* ]]
	# A full rejects or report file is said once, with its name once.
	run --separate-stderr tick-validate -q --checks "$SHIPPED" --report /dev/full "$PIPE/expected.ndjson"
	assert_failure 74
	assert_equal "$stderr" 'tick-validate: /dev/full: write error: No space left on device'
	local bad
	bad=$(tick high=1)
	yes "$bad" | head -n 3000 >bad.ndjson
	run --separate-stderr tick-validate -q --checks "$SHIPPED" --rejects /dev/full bad.ndjson
	assert_failure 74
	assert_equal "$stderr" 'tick-validate: /dev/full: write error: No space left on device'
}

@test "the rejects and report files accumulate from run to run" {
	checks '  - failed rows:' '      fail condition: volume < 0'
	tick volume=-1 >in.ndjson
	tick-validate -q --checks c.checks --rejects rejects.ndjson --report report.ndjson in.ndjson || true
	tick-validate -q --checks c.checks --rejects rejects.ndjson --report report.ndjson in.ndjson || true
	[ "$(wc -l <rejects.ndjson)" -eq 2 ]
	[ "$(wc -l <report.ndjson)" -eq 2 ]
}

#!/usr/bin/env bats
# tick-normalize: av-fetch envelopes to canonical tick records.

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
# shellcheck disable=SC2016 # bash -c scripts take their arguments as $1, $2
load helpers/common
load helpers/mockav

ENV=$FIXTURES/envelopes
BATCH=1750173900000000

# intraday SYMBOL INTERVAL BAR...: an intraday response body as Alpha Vantage
# sends it; each BAR is "time,open,high,low,close,volume", newest first.
intraday() {
	local symbol=$1 iv=$2
	shift 2
	printf '%s\n' "$@" | jq -Rsc --arg sym "$symbol" --arg iv "$iv" '
		split("\n") | map(select(length > 0) | split(",")) |
		{"Meta Data": {"1. Information": "Intraday (\($iv)) open, high, low, close prices and volume",
		               "2. Symbol": $sym, "4. Interval": $iv, "6. Time Zone": "US/Eastern"},
		 ("Time Series (" + $iv + ")"): (map({key: .[0], value: {"1. open": .[1], "2. high": .[2],
		     "3. low": .[3], "4. close": .[4], "5. volume": .[5]}}) | from_entries)}'
}

# envelope FUNCTION SYMBOL INTERVAL BODY [BATCH_ID]: an envelope line; BODY is
# JSON text, INTERVAL and BATCH_ID may be "null".
envelope() {
	jq -nc --arg fn "$1" --arg sym "$2" --argjson iv "$(jq -nc --arg i "$3" 'if $i == "null" then null else $i end')" \
		--argjson body "$4" --argjson batch "${5:-$BATCH}" '
		{source: "alphavantage", function: $fn, symbol: $sym, interval: $iv,
		 params: {outputsize: "compact", datatype: "json"},
		 fetched_at: "2025-06-17T15:25:03.123456Z", http_status: 200}
		+ (if $batch == null then {} else {batch_id: $batch} end) + {body: $body}'
}

# marker RECORDS [ID] [APP]: the marker of a batch of RECORDS envelopes, as av-fetch writes it.
marker() {
	printf '{"@batch":{"app":"%s","id":%s,"records":%s,"rejected":0,"status":"ok"}}\n' \
		"${3:-av-fetch/intraday/5min/IBM}" "${2:-$BATCH}" "$1"
}

# ticks: the output's records as "trade_timestamp trade_date open high low close volume".
ticks() {
	jq -r 'select(has("symbol")) | "\(.trade_timestamp) \(.trade_date) \(.open) \(.high) \(.low) \(.close) \(.volume)"'
}

# stderr_has TEXT: a line of the last run's stderr contains TEXT.
stderr_has() {
	local l
	for l in "${stderr_lines[@]}"; do
		[[ $l == *"$1"* ]] && return 0
	done
	printf -- '-- no stderr line contains --\n%s\n-- stderr --\n%s\n' "$1" "$stderr" >&2
	return 1
}

teardown() {
	[ -z "${MOCKAV_PID:-}" ] || mockav_stop
}

@test "--help prints the usage, which is the man page's SYNOPSIS" {
	run --separate-stderr tick-normalize --help
	assert_success
	assert_output --partial "usage: tick-normalize"
	assert_help_matches_man tick-normalize
}

@test "--version names the program and stocketl" {
	run tick-normalize --version
	assert_success
	assert_output --regexp '^tick-normalize \(stocketl\) [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "an intraday envelope becomes tick records, oldest first, in UTC, with the envelope's batch id" {
	run --separate-stderr tick-normalize "$ENV/ibm_5min_json.ndjson"
	assert_success
	assert_equal "$stderr" "tick-normalize: 1 envelopes, 100 bars out, 0 rejected (0 bars, 0 envelopes)"
	assert_equal "${#lines[@]}" 101
	assert_line --index 0 '{"symbol":"IBM","interval":"5min","trade_timestamp":"2025-06-16T18:20:00Z","trade_date":"2025-06-16","open":282.32,"high":283.04,"low":282.21,"close":282.74,"volume":75692,"batch_id":1750173900000000,"ingested_at":"2025-06-17T15:25:03.123456Z","source":"alphavantage"}'
	assert_line --index 99 '{"symbol":"IBM","interval":"5min","trade_timestamp":"2025-06-17T15:20:00Z","trade_date":"2025-06-17","open":282.37,"high":282.51,"low":282.07,"close":282.3,"volume":12785,"batch_id":1750173900000000,"ingested_at":"2025-06-17T15:25:03.123456Z","source":"alphavantage"}'
	assert_line --index 100 '{"@batch":{"app":"av-fetch/intraday/5min/IBM","id":1750173900000000,"records":100,"rejected":0,"status":"ok"}}'
	# strictly increasing times
	run jq -rs '[.[] | select(.trade_timestamp) | .trade_timestamp] | . == (sort | unique)' <<<"$output"
	assert_output true
}

@test "the same bars as JSON and as CSV give identical records" {
	tick-normalize "$ENV/ibm_5min_json.ndjson" >json.out
	tick-normalize "$ENV/ibm_5min_csv.ndjson" >csv.out
	run diff json.out csv.out
	assert_success
	[ "$(wc -l <csv.out)" -eq 101 ]
}

@test "spring forward: each side of the change keeps its own offset, and the exchange-local date" {
	run --separate-stderr tick-normalize "$ENV/tsla_60min_dst.ndjson"
	assert_success
	run ticks <<<"$output"
	# Friday 2024-03-08 is EST (UTC-5); Monday 2024-03-11 is EDT (UTC-4).
	assert_line '2024-03-08T09:00:00Z 2024-03-08 189.02 189.32 188.71 188.78 703434'
	assert_line --partial '2024-03-08T14:00:00Z 2024-03-08 '
	assert_line --partial '2024-03-11T08:00:00Z 2024-03-11 '
	assert_line --partial '2024-03-11T13:00:00Z 2024-03-11 '
	# 19:00 ET on Friday is Saturday in UTC, but its trade date is Friday
	assert_line --partial '2024-03-09T00:00:00Z 2024-03-08 '
	assert_equal "${#lines[@]}" 320
}

@test "a bar in the hour skipped by the spring change is rejected and the rest of the envelope goes on" {
	{
		envelope TIME_SERIES_INTRADAY IBM 30min "$(intraday IBM 30min \
			'2024-03-10 03:00:00,10.5,11,10,10.5,3' \
			'2024-03-10 02:30:00,10,11,9,10.5,2' \
			'2024-03-10 01:30:00,10,11,9,10,1')"
		marker 1
	} >in.ndjson
	run --separate-stderr tick-normalize --rejects rejects.ndjson in.ndjson
	assert_failure 1
	run ticks <<<"$output"
	assert_output $'2024-03-10T06:30:00Z 2024-03-10 10 11 9 10 1\n2024-03-10T07:00:00Z 2024-03-10 10.5 11 10 10.5 3'
	run jq -c . rejects.ndjson
	assert_output '{"reason":"timestamp \"2024-03-10 02:30:00\" does not exist in US/Eastern (skipped by a daylight-saving change)","stage":"bar","input":{"2024-03-10 02:30:00":{"1. open":"10","2. high":"11","3. low":"9","4. close":"10.5","5. volume":"2"}},"source":{"file":"in.ndjson","line":1,"function":"TIME_SERIES_INTRADAY","symbol":"IBM","interval":"30min","fetched_at":"2025-06-17T15:25:03.123456Z"}}'
	run --separate-stderr tick-normalize in.ndjson
	assert_line --index 2 '{"@batch":{"app":"av-fetch/intraday/5min/IBM","id":1750173900000000,"records":2,"rejected":1,"status":"ok"}}'
}

@test "a time the series gives twice is two contradicting bars: both are rejected, the rest goes on" {
	{
		# (jq keeps one member of a name: the second 10:00 is written as 09:55 and renamed)
		envelope TIME_SERIES_INTRADAY IBM 5min "$(intraday IBM 5min \
			'2024-06-03 10:05:00,2,2,2,2,2' \
			'2024-06-03 10:00:00,1,1,1,1,1' \
			'2024-06-03 09:55:00,9,9,9,9,9')" | sed 's/09:55:00/10:00:00/'
		marker 1
	} >in.ndjson
	[ "$(grep -o '"2024-06-03 10:00:00"' in.ndjson | wc -l)" -eq 2 ]
	run --separate-stderr tick-normalize --rejects rejects.ndjson in.ndjson
	assert_failure 1
	run ticks <<<"$output"
	assert_output '2024-06-03T14:05:00Z 2024-06-03 2 2 2 2 2'
	run jq -r '.reason' rejects.ndjson
	assert_output $'timestamp "2024-06-03 10:00:00" is given 2 times in the series\ntimestamp "2024-06-03 10:00:00" is given 2 times in the series'
	run jq -c '.input | to_entries[0].value."1. open"' rejects.ndjson
	assert_output $'"1"\n"9"'
}

@test "fall back: a time in the repeated hour takes its first occurrence (still daylight time)" {
	envelope TIME_SERIES_INTRADAY IBM 30min "$(intraday IBM 30min \
		'2024-11-03 02:00:00,4,4,4,4,4' \
		'2024-11-03 01:30:00,3,3,3,3,3' \
		'2024-11-03 01:00:00,2,2,2,2,2' \
		'2024-11-03 00:30:00,1,1,1,1,1')" >in.ndjson
	run --separate-stderr tick-normalize in.ndjson
	assert_success
	run ticks <<<"$output"
	assert_output - <<-'EOF'
		2024-11-03T04:30:00Z 2024-11-03 1 1 1 1 1
		2024-11-03T05:00:00Z 2024-11-03 2 2 2 2 2
		2024-11-03T05:30:00Z 2024-11-03 3 3 3 3 3
		2024-11-03T07:00:00Z 2024-11-03 4 4 4 4 4
	EOF
}

@test "trade_date is the exchange-local date, not the UTC one" {
	envelope TIME_SERIES_INTRADAY IBM 60min "$(intraday IBM 60min \
		'2025-01-02 19:00:00,1,1,1,1,1' \
		'2025-01-02 18:00:00,1,1,1,1,1')" >in.ndjson
	run --separate-stderr tick-normalize in.ndjson
	assert_success
	run ticks <<<"$output"
	assert_output $'2025-01-02T23:00:00Z 2025-01-02 1 1 1 1 1\n2025-01-03T00:00:00Z 2025-01-02 1 1 1 1 1'
}

@test "a bar whose UTC time leaves the years 0001 to 9999 is rejected, not written as a time no reader takes" {
	envelope TIME_SERIES_INTRADAY IBM 60min "$(intraday IBM 60min \
		'9999-12-31 19:00:00,1,1,1,1,1' \
		'9999-12-31 18:00:00,1,1,1,1,1')" >in.ndjson
	run --separate-stderr tick-normalize --rejects rejects.ndjson in.ndjson
	assert_failure 1
	run ticks <<<"$output"
	assert_output '9999-12-31T23:00:00Z 9999-12-31 1 1 1 1 1'
	run jq -r .reason rejects.ndjson
	assert_output 'timestamp "9999-12-31 19:00:00" in US/Eastern is outside the years 0001 to 9999 in UTC'
}

@test "prices and volumes are exact: digits a double would round survive" {
	envelope TIME_SERIES_INTRADAY IBM 5min "$(intraday IBM 5min \
		'2025-06-17 11:25:00,0.1,0.3,0.000001,0.2,9007199254740993' \
		'2025-06-17 11:20:00,123456789012.345678,999999999999.999999,0.1000,100.0100,9223372036854775807')" >in.ndjson
	run tick-normalize in.ndjson
	assert_success
	assert_line --index 0 --partial '"open":123456789012.345678,"high":999999999999.999999,"low":0.1,"close":100.01,"volume":9223372036854775807,'
	assert_line --index 1 --partial '"open":0.1,"high":0.3,"low":0.000001,"close":0.2,"volume":9007199254740993,'
}

@test "daily bars are stamped at midnight exchange time, interval 1d" {
	run tick-normalize "$ENV/aapl_daily_quote.ndjson"
	assert_success
	assert_line --index 0 '{"symbol":"AAPL","interval":"1d","trade_timestamp":"2025-01-28T05:00:00Z","trade_date":"2025-01-28","open":228.0936,"high":228.12,"low":226.46,"close":226.51,"volume":40909263,"batch_id":1750467600000000,"ingested_at":"2025-06-21T01:00:00Z","source":"alphavantage"}'
	# in June the exchange is on daylight time
	assert_line --index 99 --partial '"trade_timestamp":"2025-06-20T04:00:00Z","trade_date":"2025-06-20","open":202.03,'
}

@test "a daily bar on a day whose midnight a clock change skips starts when the change is over" {
	# America/Sao_Paulo went from -03 to -02 at midnight on 2018-11-04.
	envelope TIME_SERIES_DAILY X 1d '{"Meta Data":{"2. Symbol":"X","5. Time Zone":"America/Sao_Paulo"},"Time Series (Daily)":{
		"2018-11-05":{"1. open":"1","2. high":"1","3. low":"1","4. close":"1","5. volume":"1"},
		"2018-11-04":{"1. open":"1","2. high":"1","3. low":"1","4. close":"1","5. volume":"1"},
		"2018-11-03":{"1. open":"1","2. high":"1","3. low":"1","4. close":"1","5. volume":"1"}}}' >in.ndjson
	run --separate-stderr tick-normalize in.ndjson
	assert_success
	run ticks <<<"$output"
	assert_output - <<-'EOF'
		2018-11-03T03:00:00Z 2018-11-03 1 1 1 1 1
		2018-11-04T03:00:00Z 2018-11-04 1 1 1 1 1
		2018-11-05T02:00:00Z 2018-11-05 1 1 1 1 1
	EOF
}

@test "a global quote becomes one daily bar of its latest trading day, with the price as close" {
	run tick-normalize "$ENV/aapl_daily_quote.ndjson"
	assert_success
	assert_line --index 100 '{"symbol":"AAPL","interval":"1d","trade_timestamp":"2025-06-20T04:00:00Z","trade_date":"2025-06-20","open":202.03,"high":205.8796,"low":196.45,"close":199.04,"volume":85953229,"batch_id":1750467600000000,"ingested_at":"2025-06-21T01:00:02Z","source":"alphavantage"}'
	assert_line --index 101 '{"@batch":{"app":"av-fetch/daily/AAPL","id":1750467600000000,"records":101,"rejected":0,"status":"ok"}}'
}

@test "CSV daily bars and CSV global quotes are read too" {
	body=$(printf 'timestamp,open,high,low,close,volume\r\n2025-06-20,1.5,2,1,1.75,100\r\n2025-06-18,1,2,1,1.5,50\r\n' | jq -Rs .)
	quote=$(printf 'symbol,open,high,low,price,volume,latestDay,previousClose,change,changePercent\r\nAAPL,202.0300,205.8796,196.4500,199.0400,85953229,2025-06-20,202.3700,-3.3300,-1.6455%%\r\n' | jq -Rs .)
	{
		envelope TIME_SERIES_DAILY AAPL null "$body"
		envelope GLOBAL_QUOTE AAPL null "$quote"
	} >in.ndjson
	run --separate-stderr tick-normalize in.ndjson
	assert_success
	run ticks <<<"$output"
	assert_output - <<-'EOF'
		2025-06-18T04:00:00Z 2025-06-18 1 2 1 1.5 50
		2025-06-20T04:00:00Z 2025-06-20 1.5 2 1 1.75 100
		2025-06-20T04:00:00Z 2025-06-20 202.03 205.8796 196.45 199.04 85953229
	EOF
}

@test "a quote CSV with a row for another symbol is rejected whole, whichever row it is" {
	head='symbol,open,high,low,price,volume,latestDay,previousClose,change,changePercent'
	ibm='IBM,1.0000,2.0000,1.0000,1.5000,10,2025-06-17,1.4000,0.1000,7.1429%'
	msft='MSFT,5.0000,5.0000,5.0000,5.0000,99,2025-06-16,5.0000,0.0000,0.0000%'
	{
		envelope GLOBAL_QUOTE IBM null "$(printf '%s\r\n%s\r\n%s\r\n' "$head" "$msft" "$ibm" | jq -Rs .)"
		envelope GLOBAL_QUOTE IBM null "$(printf '%s\r\n%s\r\n%s\r\n' "$head" "$ibm" "$msft" | jq -Rs .)"
		envelope GLOBAL_QUOTE IBM null "$(printf '%s\r\n%s\r\n' "$head" "$ibm" | jq -Rs .)"
	} >in.ndjson
	run --separate-stderr tick-normalize in.ndjson
	assert_failure 1
	run ticks <<<"$output"
	assert_output '2025-06-17T04:00:00Z 2025-06-17 1 2 1 1.5 10'
	assert_equal "${stderr_lines[0]}" 'tick-normalize: in.ndjson: line 1: IBM: envelope rejected: the response is for "MSFT", not the requested "IBM"'
	assert_equal "${stderr_lines[1]}" 'tick-normalize: in.ndjson: line 2: IBM: envelope rejected: the response is for "MSFT", not the requested "IBM"'
}

@test "a bar whose time is written with JSON escapes is read as the time they spell" {
	body='{"Time Series (5min)":{"2025-06-17 09\u003a35:00":{"1. open":"1","2. high":"2","3. low":"1","4. close":"1.5","5. volume":"10"},"2025-06-17 09:30:00":{"1. open":"1","2. high":"2","3. low":"1","4. close":"1","5. volume":"5"},"2025-06-17 0\u0000:25:00":{"1. open":"1","2. high":"2","3. low":"1","4. close":"1","5. volume":"5"}}}'
	envelope TIME_SERIES_INTRADAY IBM 5min "$body" >in.ndjson
	run --separate-stderr tick-normalize in.ndjson
	assert_failure 1
	run ticks <<<"$output"
	assert_output - <<-'EOF'
		2025-06-17T13:30:00Z 2025-06-17 1 2 1 1 5
		2025-06-17T13:35:00Z 2025-06-17 1 2 1 1.5 10
	EOF
	assert_equal "${stderr_lines[0]}" 'tick-normalize: in.ndjson: line 1: IBM: bar rejected: timestamp "2025-06-17 0\u0000:25:00" does not parse as YYYY-MM-DD HH:MM:SS'
}

@test "US/Eastern is read from America/New_York on a system without the legacy zone names" {
	mkdir -p tz/America
	cp "${TZDIR:-/usr/share/zoneinfo}/America/New_York" tz/America/
	TZDIR=$PWD/tz run --separate-stderr tick-normalize "$ENV/tsla_60min_dst.ndjson"
	assert_success
	diff <(printf '%s\n' "$output") <(tick-normalize "$ENV/tsla_60min_dst.ndjson" 2>/dev/null)
	# Without any zone the default cannot load: the system's fault, not a usage error.
	mkdir empty
	TZDIR=$PWD/empty run --separate-stderr tick-normalize "$ENV/tsla_60min_dst.ndjson"
	assert_failure 78
	assert_equal "$stderr" "tick-normalize: time zone \"US/Eastern\": $PWD/empty/US/Eastern: No such file or directory"
}

@test "every bar that cannot be normalised is rejected with its reason, and counted in the marker" {
	{
		envelope TIME_SERIES_INTRADAY IBM 5min "$(intraday IBM 5min \
			'2025-06-17 11:50:00,1,2,1,1,10' \
			'2025-06-17 11:45:00,abc,2,1,1,10' \
			'2025-06-17 11:40:00,1,2,1,1.1234567,10' \
			'2025-06-17 11:35:00,1,2,1,1,-5' \
			'2025-06-17 11:30:00,1,2,1,1,12.5' \
			'2025-06-17 25:00:00,1,2,1,1,10' \
			'2025-06-17,1,2,1,1,10')"
		envelope TIME_SERIES_INTRADAY IBM 5min '{"Meta Data":{"2. Symbol":"IBM"},"Time Series (5min)":{"2025-06-17 11:20:00":{"1. open":"1","2. high":"2","3. low":"1","5. volume":"3"},"2025-06-17 11:15:00":[1,2]}}'
		envelope TIME_SERIES_INTRADAY IBM 5min "$(printf 'timestamp,open,high,low,close,volume\r\n2025-06-17 11:10:00,1,2,1\r\n2025-06-17 11:05:00,1,2,1,1,7\r\n' | jq -Rs .)"
		envelope GLOBAL_QUOTE IBM null '{"Global Quote":{"01. symbol":"IBM","02. open":"1","03. high":"2","04. low":"1","05. price":"1.5","06. volume":"9"}}'
		marker 4
	} >in.ndjson
	run --separate-stderr tick-normalize --rejects rejects.ndjson in.ndjson
	assert_failure 1
	assert_equal "${#stderr_lines[@]}" 11
	assert_equal "${stderr_lines[0]}" 'tick-normalize: in.ndjson: line 1: IBM: bar rejected: open: "abc" is not a decimal number'
	assert_equal "${stderr_lines[10]}" "tick-normalize: 4 envelopes, 2 bars out, 10 rejected (10 bars, 0 envelopes)"
	assert_line --index 2 '{"@batch":{"app":"av-fetch/intraday/5min/IBM","id":1750173900000000,"records":2,"rejected":10,"status":"ok"}}'
	run jq -r '"\(.stage) \(.source.line): \(.reason)"' rejects.ndjson
	assert_output - <<-'EOF'
		bar 1: open: "abc" is not a decimal number
		bar 1: close: decimal "1.1234567" has more than 6 fractional digits
		bar 1: volume: -5 is negative
		bar 1: volume: "12.5" is not an integer
		bar 1: timestamp "2025-06-17 25:00:00" does not parse as YYYY-MM-DD HH:MM:SS
		bar 1: timestamp "2025-06-17" does not parse as YYYY-MM-DD HH:MM:SS
		bar 2: no close
		bar 2: bar is not an object
		bar 3: CSV line has 4 fields, expected 6
		bar 4: no latest trading day
	EOF
	run jq -c 'select(.source.line == 3) | .input' rejects.ndjson
	assert_output '"2025-06-17 11:10:00,1,2,1"'
	run jq -c 'select(.reason == "bar is not an object") | .input' rejects.ndjson
	assert_output '{"2025-06-17 11:15:00":[1,2]}'
}

@test "an envelope that is not Alpha Vantage data is rejected whole, with the reason" {
	good=$(intraday IBM 5min '2025-06-17 11:50:00,1,2,1,1,10')
	{
		head -3 "$ENV/api_messages.ndjson"
		echo 'this is not JSON'
		echo '{"Meta Data":{}}'
		envelope TIME_SERIES_INTRADAY IBM 5min "$good" | jq -c '.source = "yahoo"'
		envelope TIME_SERIES_WEEKLY IBM 5min "$good"
		envelope TIME_SERIES_INTRADAY IBM 5min "$good" | jq -c '.http_status = 503'
		envelope TIME_SERIES_INTRADAY MSFT 5min "$good"
		envelope TIME_SERIES_INTRADAY IBM 1min "$good"
		envelope TIME_SERIES_INTRADAY IBM 5min "$good" | jq -c 'del(.fetched_at)'
		envelope TIME_SERIES_INTRADAY 'IBM$' 5min "$good"
		envelope GLOBAL_QUOTE IBM null '{"Global Quote":{}}'
		envelope TIME_SERIES_INTRADAY IBM 5min '"date,price\r\n2025-06-17,1\r\n"'
		envelope TIME_SERIES_DAILY IBM null "$good"
		envelope TIME_SERIES_INTRADAY IBM 5min '{"Meta Data":{"2. Symbol":"IBM"}}'
		envelope TIME_SERIES_INTRADAY IBM 5min '{"Meta Data":{"2. Symbol":"IBM","6. Time Zone":"Mars/Olympus"},"Time Series (5min)":{"2025-06-17 11:50:00":{"1. open":"1","2. high":"2","3. low":"1","4. close":"1","5. volume":"10"}}}'
		envelope TIME_SERIES_INTRADAY IBM 5min "$good" | jq -c 'del(.source)'
		envelope TIME_SERIES_INTRADAY IBM 5min "$good" | jq -c 'del(.function)'
		envelope TIME_SERIES_INTRADAY IBM 5min "$good" | jq -c '.batch_id = -3'
		envelope TIME_SERIES_INTRADAY IBM 5min "$good" | jq -c '.http_status = "200"'
		envelope TIME_SERIES_INTRADAY IBM 5min "$good" | jq -c 'del(.body)'
		envelope TIME_SERIES_INTRADAY IBM null '"timestamp,open,high,low,close,volume\r\n"'
		envelope TIME_SERIES_INTRADAY IBM 1d "$good"
		envelope TIME_SERIES_INTRADAY IBM 5min '{"Meta Data":{"4. Interval":"1min"},"Time Series (5min)":{}}'
		envelope TIME_SERIES_INTRADAY IBM 5min '{"Time Series (5min)":{},"Time Series (1min)":{}}'
		envelope GLOBAL_QUOTE IBM null '{"Meta Data":{}}'
		envelope TIME_SERIES_INTRADAY IBM 5min '""'
		envelope TIME_SERIES_DAILY IBM 5min "$good"
	} >in.ndjson
	run --separate-stderr tick-normalize --rejects rejects.ndjson in.ndjson
	assert_failure 1
	assert_output ''
	run jq -r '"\(.source.line) \(.stage): \(.reason)"' rejects.ndjson
	assert_line --index 0 '1 envelope: API error: Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for TIME_SERIES_INTRADAY.'
	assert_line --index 1 --partial '2 envelope: API note: Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute'
	assert_line --index 2 --partial '3 envelope: API information: Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day.'
	assert_line --index 3 '4 envelope: not valid JSON: unexpected character'
	assert_line --index 4 '5 envelope: not an av-fetch envelope: no source, function or body'
	assert_line --index 5 '6 envelope: source is "yahoo", not alphavantage'
	assert_line --index 6 '7 envelope: function "TIME_SERIES_WEEKLY" is not one tick-normalize reads'
	assert_line --index 7 '8 envelope: HTTP status 503'
	assert_line --index 8 '9 envelope: the response is for "IBM", not the requested "MSFT"'
	assert_line --index 9 '10 envelope: interval "1min" does not match "Time Series (5min)"'
	assert_line --index 10 '11 envelope: fetched_at is missing'
	assert_line --index 11 '12 envelope: symbol "IBM$" is not a ticker ([A-Z0-9.-]{1,15})'
	assert_line --index 12 '13 envelope: Global Quote is empty (an unknown symbol)'
	assert_line --index 13 '14 envelope: CSV body does not start with the header "timestamp,open,high,low,close,volume"'
	assert_line --index 14 '15 envelope: "Time Series (5min)" does not fit TIME_SERIES_DAILY'
	assert_line --index 15 '16 envelope: body has no time series'
	assert_line --index 16 --partial '17 envelope: time zone: time zone "Mars/Olympus": '
	assert_line --index 17 '18 envelope: source is missing'
	assert_line --index 18 '19 envelope: function is missing'
	assert_line --index 19 '20 envelope: batch_id is not a non-negative integer'
	assert_line --index 20 '21 envelope: http_status is not an integer'
	assert_line --index 21 '22 envelope: body is missing'
	assert_line --index 22 '23 envelope: a CSV body needs the envelope'"'"'s interval'
	assert_line --index 23 '24 envelope: interval "1d" is not an intraday interval'
	assert_line --index 24 '25 envelope: Meta Data interval "1min" does not match "Time Series (5min)"'
	assert_line --index 25 '26 envelope: body has more than one time series'
	assert_line --index 26 '27 envelope: body has no Global Quote'
	assert_line --index 27 '28 envelope: CSV body is empty'
	assert_line --index 28 '29 envelope: interval "5min" does not fit TIME_SERIES_DAILY'
	# the whole envelope is the input: as JSON when it is JSON, else as a string
	run jq -c 'select(.source.line == 4) | .input' rejects.ndjson
	assert_output '"this is not JSON"'
	run jq -c 'select(.source.line == 6) | .input.source' rejects.ndjson
	assert_output '"yahoo"'
}

@test "an empty response is no data, not an error" {
	{
		tail -n +4 "$ENV/api_messages.ndjson" | head -2
		marker 2 1750174200000000
	} >in.ndjson
	run --separate-stderr tick-normalize -v in.ndjson
	assert_success
	assert_output '{"@batch":{"app":"av-fetch/intraday/5min/IBM","id":1750174200000000,"records":0,"rejected":0,"status":"ok"}}'
	[[ $stderr == *"in.ndjson: line 1: IBM: no data"* ]]
	[[ $stderr == *"in.ndjson: line 2: IBM: no data"* ]]
}

@test "a CSV body with a header and no rows is no data; a quote CSV without a row is an unknown symbol" {
	{
		envelope TIME_SERIES_INTRADAY IBM 5min '"timestamp,open,high,low,close,volume\r\n"'
		envelope GLOBAL_QUOTE IBM null '"symbol,open,high,low,price,volume,latestDay,previousClose,change,changePercent\r\n"'
	} >in.ndjson
	run --separate-stderr tick-normalize -v --rejects rejects.ndjson in.ndjson
	assert_failure 1
	assert_output ''
	stderr_has 'tick-normalize: in.ndjson: line 1: IBM: no data'
	run jq -r '"\(.source.line) \(.reason)"' rejects.ndjson
	assert_output '2 the quote CSV has no row (an unknown symbol)'
}

@test "without --rejects, each reject is a warning on stderr" {
	envelope TIME_SERIES_INTRADAY IBM 5min "$(intraday IBM 5min '2025-06-17 11:50:00,x,2,1,1,10')" >in.ndjson
	run --separate-stderr tick-normalize in.ndjson
	assert_failure 1
	assert_output ''
	assert_equal "${stderr_lines[0]}" 'tick-normalize: in.ndjson: line 1: IBM: bar rejected: open: "x" is not a decimal number'
	assert_equal "${stderr_lines[1]}" 'tick-normalize: 1 envelopes, 0 bars out, 1 rejected (1 bars, 0 envelopes)'
	assert_equal "${#stderr_lines[@]}" 2
	run --separate-stderr tick-normalize -q in.ndjson
	assert_failure 1
	assert_equal "$stderr" ''
}

@test "ticks of an envelope without batch_id take the id of their batch's marker" {
	{
		envelope TIME_SERIES_INTRADAY IBM 5min "$(intraday IBM 5min '2025-06-17 11:50:00,1,2,1,1,10')" null
		envelope TIME_SERIES_INTRADAY NVDA 5min "$(intraday NVDA 5min '2025-06-17 11:50:00,3,4,3,3,30')" null
		marker 2 42
	} >in.ndjson
	run --separate-stderr tick-normalize in.ndjson
	assert_success
	run jq -c '[.symbol, .batch_id, ."@batch".id]' <<<"$output"
	assert_output $'["IBM",42,null]\n["NVDA",42,null]\n[null,null,42]'
}

@test "ticks that never see a batch id get --batch-id, or null" {
	envelope TIME_SERIES_INTRADAY IBM 5min "$(intraday IBM 5min '2025-06-17 11:50:00,1,2,1,1,10')" null >in.ndjson
	run --separate-stderr tick-normalize --batch-id 7 in.ndjson
	assert_success
	run jq -c .batch_id <<<"$output"
	assert_output 7
	run --separate-stderr tick-normalize in.ndjson
	assert_success
	run jq -c .batch_id <<<"$output"
	assert_output null
}

@test "an envelope batch_id that disagrees with its marker fails the batch" {
	{
		envelope TIME_SERIES_INTRADAY IBM 5min "$(intraday IBM 5min '2025-06-17 11:50:00,1,2,1,1,10')" 41
		marker 1 42
	} >in.ndjson
	run --separate-stderr tick-normalize in.ndjson
	assert_success
	assert_line --index 1 '{"@batch":{"app":"av-fetch/intraday/5min/IBM","id":42,"records":1,"rejected":0,"status":"failed"}}'
	assert_equal "${stderr_lines[0]}" 'tick-normalize: batch av-fetch/intraday/5min/IBM/42: its envelopes carry other batch ids; the batch fails'
}

@test "an upstream failed batch stays failed and its rejects are kept" {
	{
		envelope TIME_SERIES_INTRADAY IBM 5min "$(intraday IBM 5min '2025-06-17 11:50:00,1,2,1,1,10')"
		echo '{"@batch":{"app":"a","id":1750173900000000,"records":1,"rejected":2,"status":"failed"}}'
		echo '{"@note":{"text":"control lines pass through"}}'
	} >in.ndjson
	run tick-normalize in.ndjson
	assert_success
	assert_line --index 1 '{"@batch":{"app":"a","id":1750173900000000,"records":1,"rejected":2,"status":"failed"}}'
	assert_line --index 2 '{"@note":{"text":"control lines pass through"}}'
}

@test "a marker whose count is not the number of envelopes that arrived fails its batch, with both counts" {
	{
		envelope TIME_SERIES_INTRADAY IBM 5min "$(intraday IBM 5min '2025-06-17 11:50:00,1,2,1,1,10')"
		envelope TIME_SERIES_INTRADAY IBM 5min "$(intraday IBM 5min '2025-06-17 11:55:00,1,2,1,1,10')"
		marker 3
	} >in.ndjson
	run --separate-stderr tick-normalize in.ndjson
	assert_failure 65
	assert_line --index 2 '{"@batch":{"app":"av-fetch/intraday/5min/IBM","id":1750173900000000,"records":2,"rejected":0,"status":"failed"}}'
	assert_equal "${stderr_lines[0]}" 'tick-normalize: batch av-fetch/intraday/5min/IBM/1750173900000000: the marker says 3 records, 2 envelopes arrived; the batch fails'
}

@test "a malformed marker between two batches fails the first batch alone and is passed on as it came" {
	bad='{"@batch":{"app":"av-fetch/intraday/5min/IBM","id":1,"records":1,"status":"failed","status":"ok"}}'
	{
		envelope TIME_SERIES_INTRADAY IBM 5min "$(intraday IBM 5min '2025-06-17 11:50:00,1,2,1,1,10')" 1
		echo "$bad"
		envelope TIME_SERIES_INTRADAY IBM 5min "$(intraday IBM 5min '2025-06-17 11:55:00,1,2,1,1,10')" 2
		marker 1 2
	} >in.ndjson
	run --separate-stderr tick-normalize --rejects rejects.ndjson in.ndjson
	assert_failure 65
	assert_equal "${#lines[@]}" 4
	assert_line --index 0 --partial '"trade_timestamp":"2025-06-17T15:50:00Z"'
	assert_line --index 1 "$bad"
	assert_line --index 2 --partial '"trade_timestamp":"2025-06-17T15:55:00Z"'
	assert_line --index 3 '{"@batch":{"app":"av-fetch/intraday/5min/IBM","id":2,"records":1,"rejected":0,"status":"ok"}}'
	assert_equal "${stderr_lines[0]}" 'tick-normalize: in.ndjson: line 2: malformed batch marker: @batch repeats "status"; the batch it ends fails'
	# never a rejected envelope
	assert_equal "$(wc -c <rejects.ndjson)" 0
}

@test "a marker without app is passed on without app" {
	{
		envelope TIME_SERIES_INTRADAY IBM 5min "$(intraday IBM 5min '2025-06-17 11:50:00,1,2,1,1,10')" 5
		echo '{"@batch":{"id":5,"records":1,"status":"ok"}}'
	} >in.ndjson
	run --separate-stderr tick-normalize in.ndjson
	assert_success
	assert_line --index 1 '{"@batch":{"id":5,"records":1,"rejected":0,"status":"ok"}}'
}

@test "reject messages stop after 20, then say how many more and where they are; -q silences them and the summary" {
	bars=()
	for i in $(seq 10 34); do bars+=("2025-06-17 11:$i:00,x,2,1,1,10"); done
	envelope TIME_SERIES_INTRADAY IBM 1min "$(intraday IBM 1min "${bars[@]}")" >in.ndjson
	run --separate-stderr tick-normalize in.ndjson
	assert_failure 1
	assert_equal "${#stderr_lines[@]}" 22
	assert_equal "$(printf '%s\n' "${stderr_lines[@]}" | grep -c 'bar rejected')" 20
	assert_equal "${stderr_lines[20]}" 'tick-normalize: ... and 5 more (see --rejects FILE)'
	assert_equal "${stderr_lines[21]}" 'tick-normalize: 1 envelopes, 0 bars out, 25 rejected (25 bars, 0 envelopes)'
	run --separate-stderr tick-normalize --rejects r.ndjson in.ndjson
	assert_failure 1
	assert_equal "${stderr_lines[20]}" 'tick-normalize: ... and 5 more (see r.ndjson)'
	assert_equal "$(wc -l <r.ndjson)" 25
	run --separate-stderr tick-normalize -q in.ndjson
	assert_failure 1
	assert_equal "$stderr" ''
}

@test "--binary writes the same records in the binary encoding" {
	printf 'checks for ticks:\n  - row_count >= 0\n' >all.checks
	tick-normalize "$ENV/tsla_60min_dst.ndjson" >json.out
	tick-normalize --binary "$ENV/tsla_60min_dst.ndjson" >bin.out
	[ "$(head -c 4 bin.out | od -An -c | tr -d ' ')" = '211STK' ]
	[ "$(stat -c %s bin.out)" -lt "$(stat -c %s json.out)" ]
	run tick-validate -q --checks all.checks bin.out
	assert_success
	diff json.out <(printf '%s\n' "$output")
}

@test "--zone is the zone of responses that name none (CSV bodies)" {
	body=$(printf 'timestamp,open,high,low,close,volume\r\n2025-06-17 09:30:00,1,2,1,1,10\r\n' | jq -Rs .)
	envelope TIME_SERIES_INTRADAY IBM 5min "$body" >in.ndjson
	run tick-normalize in.ndjson
	assert_success
	assert_output --partial '"trade_timestamp":"2025-06-17T13:30:00Z"'
	run tick-normalize --zone Europe/Berlin in.ndjson
	assert_success
	assert_output --partial '"trade_timestamp":"2025-06-17T07:30:00Z"'
	run --separate-stderr tick-normalize --zone Nowhere/Land in.ndjson
	assert_failure 64
	[[ $stderr == "tick-normalize: --zone: time zone \"Nowhere/Land\":"* ]]
}

@test "a binary record stream is not an envelope stream" {
	printf 'checks for ticks:\n  - row_count >= 0\n' >all.checks
	tick-normalize --binary "$ENV/ibm_5min_json.ndjson" >bin.out
	run --separate-stderr tick-normalize bin.out
	assert_failure 65
	assert_equal "$stderr" 'tick-normalize: bin.out: a binary record stream, not envelopes'
}

@test "a line over --max-line is rejected, not truncated, and the next one is read" {
	{
		envelope TIME_SERIES_INTRADAY IBM 5min "$(intraday IBM 5min '2025-06-17 11:50:00,1,2,1,1,10' '2025-06-17 11:45:00,1,2,1,1,10' '2025-06-17 11:40:00,1,2,1,1,10' '2025-06-17 11:35:00,1,2,1,1,10' '2025-06-17 11:30:00,1,2,1,1,10' '2025-06-17 11:25:00,1,2,1,1,10' '2025-06-17 11:20:00,1,2,1,1,10' '2025-06-17 11:15:00,1,2,1,1,10' '2025-06-17 11:10:00,1,2,1,1,10' '2025-06-17 11:05:00,1,2,1,1,10' '2025-06-17 11:00:00,1,2,1,1,10' '2025-06-17 10:55:00,1,2,1,1,10' '2025-06-17 10:50:00,1,2,1,1,10')"
		envelope TIME_SERIES_INTRADAY IBM 5min "$(intraday IBM 5min '2025-06-17 11:50:00,1,2,1,1,10')"
	} >in.ndjson
	run --separate-stderr tick-normalize --max-line 1024 --rejects rejects.ndjson in.ndjson
	assert_failure 1
	assert_equal "${#lines[@]}" 1
	run jq -c '[.source.line, .reason, .input]' rejects.ndjson
	assert_output '[1,"line longer than 1024 bytes",null]'
}

@test "a bad [streams] max_line in the configuration is exit 78, named with its file and line" {
	printf '[streams]\n# the longest line\nmax_line = lots\n' >bad.ini
	run --separate-stderr tick-normalize --config bad.ini /dev/null
	assert_failure 78
	assert_output ''
	assert_equal "$stderr" "tick-normalize: bad.ini:3: [streams] max_line: expected an integer from 1024 to 2147483647, got 'lots'"
}

@test "usage errors exit 64 with the usage" {
	run --separate-stderr tick-normalize --no-such-option
	assert_failure 64
	[[ $stderr == *"usage: tick-normalize"* ]]
	run --separate-stderr tick-normalize --batch-id twelve
	assert_failure 64
	[[ $stderr == *"--batch-id"* ]]
	run --separate-stderr tick-normalize no-such-file
	assert_failure 74
	# the other inputs are read, and the summary ends the run as always
	assert_equal "$stderr" $'tick-normalize: no-such-file: No such file or directory\ntick-normalize: 0 envelopes, 0 bars out, 0 rejected (0 bars, 0 envelopes)'
}

@test "a full disk is exit 74" {
	run --separate-stderr bash -c 'tick-normalize "$1" >/dev/full' - "$ENV/ibm_5min_json.ndjson"
	assert_failure 74
	[[ $stderr == *"No space left on device"* ]]
	# A full rejects file is said once, with its name once: rejects that
	# fill the writer's buffer (whole envelopes) fail during the run, not at
	# its end.
	jq -c 'select(.body) | .http_status = 500' "$ENV/tsla_60min_dst.ndjson" "$ENV/tsla_60min_dst.ndjson" >in.ndjson
	run --separate-stderr tick-normalize -q --rejects /dev/full in.ndjson
	assert_failure 74
	assert_equal "$stderr" 'tick-normalize: /dev/full: write error: No space left on device'
}

@test "av-fetch's envelopes, JSON and CSV, from the mock API become the same ticks with av-fetch's batch ids" {
	cat >rules.json <<-'EOF'
		[{"match": {"symbol": "IBM", "datatype": "csv"}, "responses": [{"file": "intraday_IBM_5min_compact.csv"}]},
		 {"match": {"symbol": "IBM"}, "responses": [{"file": "intraday_IBM_5min_compact.json"}]}]
	EOF
	mockav_start "$PWD/rules.json"
	printf '[av-fetch]\ncalls_per_minute = 0\ncalls_per_second = 0\nsettle = 0s\n' >fast.ini
	export STOCKETL_CONFIG=$PWD/fast.ini ALPHAVANTAGE_API_KEY=TESTKEY
	av-fetch -q --base-url "$MOCKAV_URL" --interval 5min IBM | tick-normalize >json.out
	av-fetch -q --base-url "$MOCKAV_URL" --interval 5min --datatype csv IBM | tick-normalize >csv.out
	for f in json.out csv.out; do
		[ "$(wc -l <$f)" -eq 101 ]
		# every tick carries the id of the marker that ends its batch
		run jq -s '(map(select(."@batch")) | .[0]."@batch".id) as $id | map(select(.symbol)) | all(.batch_id == $id)' $f
		assert_output true
	done
	strip='select(.symbol) | del(.batch_id, .ingested_at)'
	diff <(jq -c "$strip" json.out) <(jq -c "$strip" csv.out)
	diff <(jq -c "$strip" json.out) <(jq -c "$strip" <(tick-normalize "$ENV/ibm_5min_json.ndjson"))
}

@test "the rejects file accumulates from run to run" {
	envelope TIME_SERIES_INTRADAY IBM 5min "$(intraday IBM 5min '2025-06-17 11:50:00,x,2,1,1,10')" >in.ndjson
	tick-normalize -q --rejects rejects.ndjson in.ndjson || true
	tick-normalize -q --rejects rejects.ndjson in.ndjson || true
	[ "$(wc -l <rejects.ndjson)" -eq 2 ]
}

@test "--watermarks drops the bars older than their key's watermark, keeps the watermark's own bar, and counts them" {
	printf '%s\n' '{"symbol":"ibm","interval":"5min","newest":"2025-06-17T15:00:00Z"}' \
		'{"symbol":"IBM","interval":"1min","newest":"2025-06-17T15:19:00Z"}' \
		'{"symbol":"NVDA","interval":"5min","newest":"2030-01-01T00:00:00Z"}' >wm.ndjson
	run --separate-stderr tick-normalize --watermarks wm.ndjson --rejects rejects.ndjson "$ENV/ibm_5min_json.ndjson"
	assert_success
	assert_equal "$stderr" "tick-normalize: 1 envelopes, 5 bars out, 95 older than the watermark, 0 rejected (0 bars, 0 envelopes)"
	run jq -r 'select(.symbol) | .trade_timestamp' <<<"$output"
	assert_output "$(printf '2025-06-17T15:%s:00Z\n' 00 05 10 15 20)"
	# the marker counts what this stage passed on; nothing went to the rejects
	run jq -c 'select(."@batch") | ."@batch" | [.records, .rejected, .status]' <<<"$(tick-normalize -q --watermarks wm.ndjson "$ENV/ibm_5min_json.ndjson")"
	assert_output '[5,0,"ok"]'
	[ ! -s rejects.ndjson ]
}

@test "--watermarks passes every bar of a key without a watermark, and an empty file drops nothing" {
	printf '%s\n' '{"symbol":"IBM","interval":"1min","newest":"2030-01-01T00:00:00Z"}' >other.ndjson
	: >empty.ndjson
	for f in other.ndjson empty.ndjson; do
		run --separate-stderr tick-normalize --watermarks $f "$ENV/ibm_5min_json.ndjson"
		assert_success
		assert_equal "$stderr" "tick-normalize: 1 envelopes, 100 bars out, 0 older than the watermark, 0 rejected (0 bars, 0 envelopes)"
		assert_equal "${#lines[@]}" 101
	done
}

@test "--watermarks reads spool watermark lines as they are, and a key given twice keeps its newest time" {
	printf '%s\n' \
		'{"fact":"watermark","run_id":"r1","program":"runner","at":"2025-06-17T15:26:00.000001Z","symbol":"IBM","interval":"5min","newest":"2025-06-17T15:10:00Z"}' \
		'{"symbol":"IBM","interval":"5min","newest":"2025-06-17T11:00:00-04:00","extra":{"nested":[1,2]}}' \
		'{"symbol":"IBM","interval":"5min","newest":"2025-06-17T14:00:00Z"}' >wm.ndjson
	run --separate-stderr tick-normalize -v --watermarks wm.ndjson "$ENV/ibm_5min_json.ndjson"
	assert_success
	assert_equal "$(jq -r 'select(.symbol) | .trade_timestamp' <<<"$output" | head -1)" 2025-06-17T15:10:00Z
	stderr_has "tick-normalize: --watermarks: wm.ndjson: 1 keys"
	stderr_has "ibm_5min_json.ndjson: line 1: IBM: 97 bars older than the watermark"
}

@test "a watermarks file that is not watermarks stops the run before any envelope is read, with the line" {
	printf '%s\n' '{"symbol":"IBM","interval":"5min","newest":"2025-06-17T15:00:00Z"}' \
		'{"symbol":"IBM","interval":"2min","newest":"2025-06-17T15:00:00Z"}' >bad.ndjson
	run --separate-stderr tick-normalize --watermarks bad.ndjson "$ENV/ibm_5min_json.ndjson"
	assert_failure 65
	assert_output ""
	assert_equal "$stderr" 'tick-normalize: --watermarks: bad.ndjson: line 2: not a watermark: member "interval": not an interval (1min, 5min, 15min, 30min, 60min, 1d)'
	local line why
	while IFS='|' read -r line why; do
		printf '%s\n' "$line" >bad.ndjson
		run --separate-stderr tick-normalize --watermarks bad.ndjson "$ENV/ibm_5min_json.ndjson"
		assert_failure 65
		assert_equal "$stderr" "tick-normalize: --watermarks: bad.ndjson: line 1: not a watermark: $why"
	done <<-'EOF'
		{"symbol":"IBM","interval":"5min"}|member "newest" missing
		{"symbol":"IBM","symbol":"NVDA","interval":"5min","newest":"2025-06-17T15:00:00Z"}|member "symbol" repeated
		{"symbol":"I B M","interval":"5min","newest":"2025-06-17T15:00:00Z"}|member "symbol": not a symbol ([A-Za-z0-9.-]{1,15})
		{"symbol":"IBM","interval":"5min","newest":"yesterday"}|member "newest": not an RFC 3339 time
		{"symbol":"IBM","interval":"5min","newest":1750172400}|member "newest": not a string of at most 64 bytes
		["IBM","5min","2025-06-17T15:00:00Z"]|not a JSON object
	EOF
	printf '%s\n' '{"@batch":{"app":"x","id":1,"records":0,"status":"ok"}}' >bad.ndjson
	run --separate-stderr tick-normalize --watermarks bad.ndjson "$ENV/ibm_5min_json.ndjson"
	assert_failure 65
	assert_equal "$stderr" 'tick-normalize: --watermarks: bad.ndjson: line 1: not a watermark: a control line'
	run --separate-stderr tick-normalize --watermarks no-such.ndjson "$ENV/ibm_5min_json.ndjson"
	assert_failure 74
	assert_equal "$stderr" 'tick-normalize: --watermarks: no-such.ndjson: No such file or directory'
}

@test "--watermarks follows the file when it is replaced while the input is read, and keeps the old ones when the new cannot be read" {
	printf '%s\n' '{"symbol":"IBM","interval":"5min","newest":"2025-06-17T15:00:00Z"}' >wm.ndjson
	mkfifo in
	# fd 3 is BATS's own: the writer gets another, and the background
	# process none of BATS's.
	tick-normalize --watermarks wm.ndjson <in >out.ndjson 2>err.txt 3>&- &
	local pid=$! i w
	exec {w}>in
	# wait_marker N: the output holds N batch markers
	wait_marker() {
		for ((i = 0; i < 100; i++)); do
			[ "$(grep -c '"@batch"' out.ndjson)" -ge "$1" ] && return 0
			sleep 0.05
		done
		return 1
	}
	cat "$ENV/ibm_5min_json.ndjson" >&"$w"
	wait_marker 1
	# replaced whole, as the job does after a commit
	printf '%s\n' '{"symbol":"IBM","interval":"5min","newest":"2025-06-17T15:15:00Z"}' >wm.new
	mv wm.new wm.ndjson
	cat "$ENV/ibm_5min_json.ndjson" >&"$w"
	wait_marker 2
	printf 'not json\n' >wm.ndjson
	cat "$ENV/ibm_5min_json.ndjson" >&"$w"
	exec {w}>&-
	wait "$pid"
	run jq -c 'select(."@batch") | ."@batch".records' out.ndjson
	assert_output $'5\n2\n2'
	run cat err.txt
	assert_line --index 0 "tick-normalize: --watermarks: wm.ndjson: line 1: not a watermark: unexpected character; the watermarks read before stay"
	assert_line --index 1 "tick-normalize: 3 envelopes, 9 bars out, 291 older than the watermark, 0 rejected (0 bars, 0 envelopes)"
}

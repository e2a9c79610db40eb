#!/usr/bin/env bats
# av-fetch: requests, classification of answers, retries, the rate limiter,
# backfill, follow mode and the secrecy of the API key, against the mock
# Alpha Vantage server on loopback.  Every test runs with fast settings
# (milliseconds of backoff, no rate limit unless the test sets one, one
# request at a time so that the order is known).
# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr

load helpers/common
load helpers/mockav

KEY=TESTKEY0SECRET42

setup_file() {
	echo '[]' >"$BATS_FILE_TMPDIR/none.json"
	mockav_start "$BATS_FILE_TMPDIR/none.json"
}

teardown_file() {
	mockav_stop
}

setup() {
	common_setup
	export ALPHAVANTAGE_API_KEY=$KEY
	cat >fast.ini <<'EOF'
[av-fetch]
backoff_base = 10ms
backoff_max = 40ms
throttle_wait = 30ms
burst_wait = 20ms
calls_per_minute = 0
calls_per_second = 0
timeout = 3s
connect_timeout = 2s
concurrency = 1
settle = 0s
EOF
	export STOCKETL_CONFIG=$PWD/fast.ini
	: >"$MOCKAV_LOG"
	echo '[]' >rules.json
	mockav_rules rules.json
}

# rules JSON: the mock server answers by these rules from now on.
rules() {
	printf '%s\n' "$1" >rules.json
	mockav_rules rules.json
}

# set_conf NAME VALUE: an [av-fetch] setting for this test (replacing the suite's).
set_conf() {
	sed -i "/^$1 = /d" fast.ini
	printf '%s = %s\n' "$1" "$2" >>fast.ini
}

# avf ARGS...: av-fetch against the mock server.
avf() {
	av-fetch --base-url "$MOCKAV_URL" "$@"
}

# The query of each request the server received, without the key.
requests() {
	jq -c '.query | del(.apikey)' "$MOCKAV_LOG"
}

nrequests() {
	wc -l <"$MOCKAV_LOG" | tr -d ' '
}

# For net_wait_for: has the server received N requests?  Has FILE N batch markers?
requests_reach() {
	[ "$(nrequests)" -ge "$1" ]
}

markers_reach() {
	[ -e "$1" ] && [ "$(grep -c '"@batch"' "$1")" -ge "$2" ]
}

# stderr_has TEXT, stderr_line TEXT, stderr_match REGEX: a line of the
# stderr of the last `run --separate-stderr` contains TEXT, is TEXT, or
# matches REGEX.
stderr_has() {
	local l
	for l in "${stderr_lines[@]}"; do
		[[ $l == *"$1"* ]] && return 0
	done
	printf -- '-- no stderr line contains --\n%s\n-- stderr --\n%s\n' "$1" "$stderr" >&2
	return 1
}

stderr_line() {
	local l
	for l in "${stderr_lines[@]}"; do
		[[ $l == "$1" ]] && return 0
	done
	printf -- '-- no stderr line is --\n%s\n-- stderr --\n%s\n' "$1" "$stderr" >&2
	return 1
}

stderr_match() {
	local l
	for l in "${stderr_lines[@]}"; do
		[[ $l =~ $1 ]] && return 0
	done
	printf -- '-- no stderr line matches --\n%s\n-- stderr --\n%s\n' "$1" "$stderr" >&2
	return 1
}

# The data lines and the batch markers of output text on stdin.
envelopes() {
	jq -c 'select(has("@batch") | not)'
}

markers() {
	jq -c 'select(has("@batch")) | .["@batch"]'
}

IBM_JSON='{"match":{"symbol":"IBM"},"responses":[{"file":"intraday_IBM_5min_compact.json"}]}'

# --- command line ---------------------------------------------------------

@test "--help prints the usage on stdout and exits 0" {
	run --separate-stderr av-fetch --help
	assert_success
	assert_line --index 0 'usage: av-fetch [--function intraday | daily | quote]'
	assert_equal "$stderr" ''
}

@test "--help prints the usage, which is the man page's SYNOPSIS" {
	assert_help_matches_man av-fetch
}

@test "--version prints the program and version" {
	run --separate-stderr av-fetch --version
	assert_success
	assert_output --regexp '^av-fetch \(stocketl\) [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "an unknown option is a usage error" {
	run --separate-stderr av-fetch --bogus IBM
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "av-fetch: unknown option '--bogus'"
	run --separate-stderr av-fetch -x IBM
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "av-fetch: unknown option '-x'"
}

@test "options are never abbreviated" {
	run --separate-stderr av-fetch --func daily IBM
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "av-fetch: unknown option '--func'"
}

@test "an option without its argument is a usage error" {
	run --separate-stderr av-fetch IBM --every
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "av-fetch: option '--every' needs a value"
	run --separate-stderr av-fetch IBM -o
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "av-fetch: option '-o' needs a value"
}

@test "bad option values are usage errors that name the option" {
	run --separate-stderr avf --interval 2min IBM
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "av-fetch: --interval: expected 1min, 5min, 15min, 30min or 60min, got '2min'"
	run --separate-stderr avf --function weekly IBM
	assert_failure 64
	run --separate-stderr avf --adjusted maybe IBM
	assert_failure 64
	run --separate-stderr avf --datatype xml IBM
	assert_failure 64
	run --separate-stderr avf --outputsize huge IBM
	assert_failure 64
	run --separate-stderr avf --entitlement now IBM
	assert_failure 64
	run --separate-stderr avf --follow --every soon IBM
	assert_failure 64
	run --separate-stderr avf --month 1999-12 IBM
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "av-fetch: --month: expected a month YYYY-MM from 2000-01, got '1999-12'"
	assert_equal "$(nrequests)" 0
}

@test "an --app that is not UTF-8 is refused before any request" {
	run --separate-stderr avf --app $'caf\xe9' IBM
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "av-fetch: --app: expected 1 to 255 printable bytes of UTF-8"
	set_conf app $'caf\xe9'
	run --separate-stderr avf IBM
	assert_failure 78
	assert_equal "$(nrequests)" 0
	rules "[$IBM_JSON]"
	run --separate-stderr avf --app café IBM
	assert_success
	assert_equal "$(printf '%s\n' "${lines[-1]}" | markers | jq -r .app)" café
}

@test "bad configuration values are configuration errors that name the file and line" {
	set_conf interval 7min
	run --separate-stderr avf IBM
	assert_failure 78
	assert_equal "$stderr" "av-fetch: $PWD/fast.ini:12: [av-fetch] interval: expected 1min, 5min, 15min, 30min or 60min, got '7min'"
	assert_equal "$(nrequests)" 0
}

@test "a configuration value out of range is a configuration error" {
	set_conf max_attempts 0
	run --separate-stderr avf IBM
	assert_failure 78
	assert_output ''
	assert_equal "$stderr" "av-fetch: $PWD/fast.ini:12: [av-fetch] max_attempts: expected an integer from 1 to 100, got '0'"
	# [streams] max_line has the range of the stages that read the envelopes.
	sed -i '/^max_attempts = /d' fast.ini
	printf '[streams]\nmax_line = 2147483648\n' >>fast.ini
	run --separate-stderr avf IBM
	assert_failure 78
	assert_equal "$stderr" "av-fetch: $PWD/fast.ini:13: [streams] max_line: expected an integer from 1024 to 2147483647, got '2147483648'"
}

@test "conf/stocketl.ini.example is a configuration av-fetch runs with" {
	rules "[$IBM_JSON]"
	cp "$STOCKETL_ROOT/conf/stocketl.ini.example" example.ini
	chmod 600 example.ini
	run --separate-stderr av-fetch -q --config example.ini --base-url "$MOCKAV_URL" IBM
	assert_success
	assert_equal "$stderr" ''
	assert_equal "$(requests)" '{"function":"TIME_SERIES_INTRADAY","symbol":"IBM","interval":"5min"}'
}

@test "options that the function does not use are usage errors" {
	run --separate-stderr avf --function daily --interval 1min IBM
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'av-fetch: --interval: not used by --function daily'
	run --separate-stderr avf --function quote --outputsize full IBM
	assert_failure 64
	run --separate-stderr avf --function daily --month 2024-03 IBM
	assert_failure 64
	assert_equal "$(nrequests)" 0
}

@test "--base-url must be an http or https URL" {
	run --separate-stderr av-fetch --base-url ftp://127.0.0.1/query IBM
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'av-fetch: --base-url: expected an http:// or https:// URL'
}

# --- requests and envelopes ----------------------------------------------

@test "one symbol: one JSON envelope, then the batch marker" {
	rules "[$IBM_JSON]"
	run --separate-stderr avf IBM
	assert_success
	assert_equal "$stderr" 'av-fetch: 1 requests; answers: 1 data; 100 bars; 0 retries'
	assert_equal "${#lines[@]}" 2
	printf '%s\n' "${lines[0]}" | jq -e '
		.source == "alphavantage" and .function == "TIME_SERIES_INTRADAY" and
		.symbol == "IBM" and .interval == "5min" and .http_status == 200 and
		.params == {"month":null,"outputsize":"compact","adjusted":true,
			"extended_hours":true,"entitlement":null,"datatype":"json"} and
		(.fetched_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{6})?Z$"))'
	printf '%s\n' "${lines[1]}" | jq -e '.["@batch"] | .app == "av-fetch/intraday/5min/IBM" and
		.records == 1 and .rejected == 0 and .status == "ok" and (.id | type == "number")'
	# the envelope carries its batch's id, so that the next stage can stream
	assert_equal "$(printf '%s\n' "${lines[0]}" | jq .batch_id)" \
		"$(printf '%s\n' "${lines[1]}" | jq '.["@batch"].id')"
	assert_equal "$(requests)" '{"function":"TIME_SERIES_INTRADAY","symbol":"IBM","interval":"5min"}'
	assert_equal "$(jq -r .query.apikey "$MOCKAV_LOG")" "$KEY"
}

@test "a JSON body is embedded as received: same keys in the same order, same values" {
	rules "[$IBM_JSON]"
	run --separate-stderr avf IBM
	assert_success
	printf '%s\n' "${lines[0]}" | jq -c .body >got.json
	jq -c . "$FIXTURES/alphavantage/intraday_IBM_5min_compact.json" >want.json
	cmp got.json want.json
	printf '%s\n' "${lines[0]}" | jq -r '.body["Time Series (5min)"] | keys_unsorted[0]' >first
	assert_equal "$(cat first)" '2025-06-17 11:20:00'
}

@test "a CSV body is embedded as a JSON string, byte for byte" {
	rules '[{"match":{"datatype":"csv"},"responses":[{"file":"intraday_IBM_5min_compact.csv"}]}]'
	run --separate-stderr avf --datatype csv IBM
	assert_success
	printf '%s\n' "${lines[0]}" | jq -j .body >got.csv
	cmp got.csv "$FIXTURES/alphavantage/intraday_IBM_5min_compact.csv"
	printf '%s\n' "${lines[0]}" | jq -e '.params.datatype == "csv"'
	assert_equal "$(requests)" '{"function":"TIME_SERIES_INTRADAY","symbol":"IBM","interval":"5min","datatype":"csv"}'
}

@test "every intraday parameter that is set goes into the request and the envelope" {
	rules '[{"match":{"symbol":"IBM"},"responses":[{"body":"{\"Time Series (15min)\":{\"2024-03-01 10:00:00\":{\"1. open\":\"1.0\"}}}"}]}]'
	run --separate-stderr avf --interval 15min --adjusted false --extended-hours false \
		--month 2024-03 --outputsize compact --entitlement delayed --datatype json IBM
	assert_success
	assert_equal "$(requests)" '{"function":"TIME_SERIES_INTRADAY","symbol":"IBM","interval":"15min","adjusted":"false","extended_hours":"false","month":"2024-03","outputsize":"compact","entitlement":"delayed","datatype":"json"}'
	printf '%s\n' "${lines[0]}" | jq -e '.interval == "15min" and .params ==
		{"month":"2024-03","outputsize":"compact","adjusted":false,"extended_hours":false,
		 "entitlement":"delayed","datatype":"json"}'
}

@test "the configuration file sets what the flags do not" {
	set_conf function daily
	set_conf outputsize full
	set_conf symbols "aapl, ibm"
	rules '[{"match":{"function":"TIME_SERIES_DAILY"},"responses":[{"file":"daily_AAPL_compact.json"}]}]'
	run --separate-stderr avf
	assert_success
	assert_equal "$(requests)" '{"function":"TIME_SERIES_DAILY","symbol":"AAPL","outputsize":"full"}
{"function":"TIME_SERIES_DAILY","symbol":"IBM","outputsize":"full"}'
	# A flag wins over the file.
	: >"$MOCKAV_LOG"
	run --separate-stderr avf --outputsize compact AAPL
	assert_success
	assert_equal "$(requests)" '{"function":"TIME_SERIES_DAILY","symbol":"AAPL","outputsize":"compact"}'
}

@test "daily envelopes have the interval 1d and no intraday parameters" {
	rules '[{"match":{"function":"TIME_SERIES_DAILY"},"responses":[{"file":"daily_AAPL_compact.json"}]}]'
	run --separate-stderr avf --function daily AAPL
	assert_success
	printf '%s\n' "${lines[0]}" | jq -e '.function == "TIME_SERIES_DAILY" and .interval == "1d" and
		.params == {"month":null,"outputsize":"compact","adjusted":null,"extended_hours":null,
			"entitlement":null,"datatype":"json"}'
	printf '%s\n' "${lines[1]}" | jq -e '.["@batch"].app == "av-fetch/daily/AAPL"'
}

@test "quote envelopes carry the GLOBAL_QUOTE body" {
	rules '[{"match":{"function":"GLOBAL_QUOTE"},"responses":[{"file":"global_quote_AAPL.json"}]}]'
	run --separate-stderr avf --function quote AAPL
	assert_success
	printf '%s\n' "${lines[0]}" | jq -e '.function == "GLOBAL_QUOTE" and .interval == null and
		.body["Global Quote"]["05. price"] != null'
	assert_equal "$(requests)" '{"function":"GLOBAL_QUOTE","symbol":"AAPL"}'
}

@test "symbols come from the arguments, then [av-fetch] symbols, then NVDA TSLA IBM AAPL" {
	rules '[{"responses":[{"file":"intraday_IBM_5min_compact.json"}]}]'
	run --separate-stderr avf
	assert_success
	assert_equal "$(jq -r .query.symbol "$MOCKAV_LOG" | tr '\n' ' ')" 'NVDA TSLA IBM AAPL '
	: >"$MOCKAV_LOG"
	set_conf symbols "MSFT,GOOG"
	run --separate-stderr avf
	assert_success
	assert_equal "$(jq -r .query.symbol "$MOCKAV_LOG" | tr '\n' ' ')" 'MSFT GOOG '
	: >"$MOCKAV_LOG"
	run --separate-stderr avf IBM
	assert_success
	assert_equal "$(jq -r .query.symbol "$MOCKAV_LOG" | tr '\n' ' ')" 'IBM '
}

@test "symbols are asked for in upper case, once each" {
	rules "[$IBM_JSON]"
	run --separate-stderr avf ibm IBM Ibm
	assert_success
	assert_equal "$(requests)" '{"function":"TIME_SERIES_INTRADAY","symbol":"IBM","interval":"5min"}'
	printf '%s\n' "${lines[0]}" | jq -e '.symbol == "IBM"'
}

@test "an invalid symbol is refused before any request" {
	rules "[$IBM_JSON]"
	for bad in 'IB M' '../x' 'A&apikey=x' 'ABCDEFGHIJKLMNOP' ''; do
		run --separate-stderr avf IBM "$bad"
		assert_failure 64
		assert_equal "${stderr_lines[0]}" "av-fetch: symbol: invalid symbol \"$bad\": expected 1 to 15 of A-Z a-z 0-9 . -"
	done
	set_conf symbols "IBM B/AD"
	run --separate-stderr avf
	assert_failure 78
	assert_equal "$(nrequests)" 0
}

@test "-o FILE writes the records to FILE" {
	rules "[$IBM_JSON]"
	run --separate-stderr avf -o out.ndjson IBM
	assert_success
	assert_output ''
	assert_equal "$(envelopes <out.ndjson | wc -l)" 1
	assert_equal "$(markers <out.ndjson | jq -r .records)" 1
}

@test "a full disk is exit 74 with a message" {
	rules "[$IBM_JSON]"
	run --separate-stderr avf -q -o /dev/full IBM NVDA
	assert_failure 74
	assert_equal "$stderr" 'av-fetch: /dev/full: write error: No space left on device'
	# Nothing more is asked once the output is gone.
	assert_equal "$(nrequests)" 1
}

@test "--app names the producer; by default it is derived from function, interval and the sorted symbols" {
	rules '[{"responses":[{"file":"intraday_IBM_5min_compact.json"}]}]'
	run --separate-stderr avf --interval 5min NVDA IBM
	assert_success
	printf '%s\n' "${lines[-1]}" | jq -e '.["@batch"].app == "av-fetch/intraday/5min/IBM,NVDA"'
	run --separate-stderr avf --app my/producer IBM
	assert_success
	printf '%s\n' "${lines[-1]}" | jq -e '.["@batch"].app == "my/producer"'
}

@test "a long symbol list gets a producer name with a digest of the list" {
	rules '[{"responses":[{"file":"intraday_IBM_5min_compact.json"}]}]'
	set_conf max_attempts 1
	syms=()
	for i in $(seq 1 40); do syms+=("SYMBOL$i"); done
	run --separate-stderr avf -q "${syms[@]}"
	assert_success
	app=$(printf '%s\n' "${lines[-1]}" | jq -r '.["@batch"].app')
	[[ $app =~ ^av-fetch/intraday/5min/40-symbols-[0-9a-f]{16}$ ]]
}

@test "requests for several symbols run concurrently, and each line stays one whole envelope" {
	rules '[{"responses":[{"file":"intraday_TSLA_60min_month_2024-03_dst.json","delay_ms":600}]}]'
	set_conf concurrency 4
	run --separate-stderr avf --interval 60min IBM NVDA TSLA AAPL
	assert_success
	assert_equal "$(printf '%s\n' "$output" | envelopes | wc -l)" 4
	for l in "${lines[@]}"; do printf '%s\n' "$l" | jq -e . >/dev/null; done
	# All four were asked for before the first answer (600 ms) could have come back.
	run jq -s '(map(.t) | max) - (map(.t) | min)' "$MOCKAV_LOG"
	[ "$output" -lt 500000 ]
}

# --- answers ----------------------------------------------------------------

@test "an Error Message is reported with the vendor's text, the other symbols go on, exit 1" {
	rules '[{"match":{"symbol":"BAD"},"responses":[{"file":"error_invalid_api_call.json"}]},'"$IBM_JSON"']'
	run --separate-stderr avf BAD IBM
	assert_failure 1
	assert_equal "$(printf '%s\n' "$output" | envelopes | jq -r .symbol)" IBM
	printf '%s\n' "${lines[-1]}" | jq -e '.["@batch"] | .records == 1 and .rejected == 1 and .status == "ok"'
	assert_equal "${stderr_lines[0]}" "av-fetch: BAD: refused by Alpha Vantage: Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for TIME_SERIES_INTRADAY. ($MOCKAV_URL?function=TIME_SERIES_INTRADAY&symbol=BAD&interval=5min&apikey=***)"
	# Not retried.
	assert_equal "$(nrequests)" 2
}

@test "an answer that no retry can change is asked for once: another interval, an empty quote, an Error Message" {
	# A 5-minute series in answer to --interval 1min: exit 65.
	rules "[$IBM_JSON]"
	run --separate-stderr avf --interval 1min IBM
	assert_failure 65
	assert_equal "$(nrequests)" 1
	assert_equal "${stderr_lines[0]}" "av-fetch: IBM: the answer is \"Time Series (5min)\", not the \"Time Series (1min)\" asked for; asking again will not change it ($MOCKAV_URL?function=TIME_SERIES_INTRADAY&symbol=IBM&interval=1min&apikey=***)"
	assert_equal "${#lines[@]}" 1
	printf '%s\n' "${lines[0]}" | jq -e '.["@batch"] | .records == 0 and .rejected == 1'
	# A quote without fields, the answer for an unknown symbol: exit 1.
	: >"$MOCKAV_LOG"
	rules '[{"responses":[{"body":"{\"Global Quote\": {}}"}]}]'
	run --separate-stderr avf --function quote XYZ
	assert_failure 1
	assert_equal "$(nrequests)" 1
	assert_equal "${stderr_lines[0]}" "av-fetch: XYZ: no quote: the quote is empty (the vendor's answer for an unknown symbol) ($MOCKAV_URL?function=GLOBAL_QUOTE&symbol=XYZ&apikey=***)"
	# An Error Message: exit 1.
	: >"$MOCKAV_LOG"
	rules '[{"responses":[{"file":"error_invalid_api_call.json"}]}]'
	run --separate-stderr avf BAD
	assert_failure 1
	assert_equal "$(nrequests)" 1
	stderr_has 'av-fetch: BAD: refused by Alpha Vantage: Invalid API call.'
}

@test "an empty series is reported, not emitted, and is no error" {
	rules '[{"match":{"symbol":"IBM"},"responses":[{"file":"intraday_empty_series.json"}]},
		{"match":{"symbol":"NVDA"},"responses":[{"file":"empty_object.json"}]}]'
	run --separate-stderr avf IBM NVDA
	assert_success
	assert_equal "${#lines[@]}" 1
	# answered, with nothing in it: not a failure of the batch
	printf '%s\n' "${lines[0]}" | jq -e '.["@batch"] | .records == 0 and .rejected == 0 and .status == "ok"'
	assert_equal "${stderr_lines[0]}" 'av-fetch: IBM: no data: the series is empty'
	assert_equal "${stderr_lines[1]}" 'av-fetch: NVDA: no data: the answer is an empty object'
	assert_equal "$(nrequests)" 2
}

@test "a per-minute throttle is waited out, then the request is retried" {
	set_conf throttle_wait 300ms
	rules '[{"responses":[{"file":"throttle_note_per_minute.json"},{"file":"intraday_IBM_5min_compact.json"}]}]'
	run --separate-stderr avf IBM
	assert_success
	assert_equal "$(printf '%s\n' "$output" | envelopes | wc -l)" 1
	assert_equal "$(nrequests)" 2
	stderr_has 'av-fetch: IBM: throttled (per-minute limit): Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute'
	run jq -s '.[1].t - .[0].t' "$MOCKAV_LOG"
	[ "$output" -ge 300000 ]
}

@test "a per-second throttle is waited out, then the request is retried" {
	set_conf burst_wait 200ms
	rules '[{"responses":[{"file":"extra/throttle_information_burst.json"},{"file":"intraday_IBM_5min_compact.json"}]}]'
	run --separate-stderr avf IBM
	assert_success
	assert_equal "$(nrequests)" 2
	stderr_has 'IBM: throttled (per-second limit)'
	run jq -s '.[1].t - .[0].t' "$MOCKAV_LOG"
	[ "$output" -ge 200000 ]
}

@test "a throttle holds back every request, not only the throttled one" {
	set_conf throttle_wait 400ms
	rules '[{"match":{"symbol":"NVDA"},"responses":[{"file":"throttle_note_per_minute.json"},{"file":"intraday_IBM_5min_compact.json"}]},
		{"responses":[{"file":"intraday_IBM_5min_compact.json"}]}]'
	run --separate-stderr avf NVDA IBM
	assert_success
	assert_equal "$(jq -r .query.symbol "$MOCKAV_LOG" | tr '\n' ' ')" 'NVDA NVDA IBM '
	# IBM, next in line, was not asked for during NVDA's pause.
	run jq -s '.[2].t - .[0].t' "$MOCKAV_LOG"
	[ "$output" -ge 400000 ]
}

@test "throttled until the attempts run out: exit 75" {
	set_conf max_attempts 3
	rules '[{"responses":[{"file":"throttle_note_per_minute.json"}]}]'
	run --separate-stderr avf IBM
	assert_failure 75
	assert_equal "$(nrequests)" 3
	# no request of the batch was answered: the batch failed here
	printf '%s\n' "${lines[0]}" | jq -e '.["@batch"] | .records == 0 and .rejected == 1 and .status == "failed"'
	stderr_has 'av-fetch: IBM: giving up after 3 attempts in'
}

@test "the daily limit stops the run: exit 75, nothing more is asked" {
	rules '[{"match":{"symbol":"IBM"},"responses":[{"file":"throttle_information_daily_limit.json"}]},
		{"responses":[{"file":"intraday_IBM_5min_compact.json"}]}]'
	run --separate-stderr avf IBM NVDA TSLA
	assert_failure 75
	assert_equal "$(nrequests)" 1
	assert_equal "${#lines[@]}" 1
	printf '%s\n' "${lines[0]}" | jq -e '.["@batch"] | .records == 0 and .rejected == 3 and .status == "failed"'
	assert_equal "${stderr_lines[0]}" "av-fetch: IBM: the daily request limit is used up: Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily rate limits. ($MOCKAV_URL?function=TIME_SERIES_INTRADAY&symbol=IBM&interval=5min&apikey=***)"
}

@test "a daily-limit notice that quotes a key with a message word inside it is still the daily limit" {
	# Keys are letters and digits: "demo" or "burst" inside one is no word of the message.
	for key in K7DEMO2XQ4 ZZBURSTQ91; do
		body=$(jq -nc --arg k "$key" '{"Information": ("We have detected your API key as " + $k + " and our standard API rate limit is 25 requests per day. Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily rate limits.")}')
		rules "[{\"responses\":[{\"body\":$(jq -Rs . <<<"$body")}]}]"
		: >"$MOCKAV_LOG"
		ALPHAVANTAGE_API_KEY=$key run --separate-stderr avf IBM NVDA
		assert_failure 75
		assert_equal "$(nrequests)" 1
		assert_equal "${stderr_lines[0]}" "av-fetch: IBM: the daily request limit is used up: We have detected your API key as *** and our standard API rate limit is 25 requests per day. Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily rate limits. ($MOCKAV_URL?function=TIME_SERIES_INTRADAY&symbol=IBM&interval=5min&apikey=***)"
	done
}

@test "data fetched before the daily limit is still emitted" {
	rules '[{"match":{"symbol":"NVDA"},"responses":[{"file":"throttle_information_daily_limit.json"}]},
		{"responses":[{"file":"intraday_IBM_5min_compact.json"}]}]'
	run --separate-stderr avf IBM NVDA TSLA
	assert_failure 75
	assert_equal "$(printf '%s\n' "$output" | envelopes | jq -r .symbol)" IBM
	printf '%s\n' "${lines[-1]}" | jq -e '.["@batch"] | .records == 1 and .rejected == 2'
}

@test "a premium-only answer is a configuration error (78) with the vendor's message" {
	rules '[{"responses":[{"file":"extra/information_premium_endpoint.json"}]}]'
	run --separate-stderr avf IBM NVDA
	assert_failure 78
	assert_equal "$(nrequests)" 1
	stderr_has 'av-fetch: IBM: refused as a premium feature: Thank you for using Alpha Vantage! This is a premium endpoint.'
	rules '[{"responses":[{"file":"extra/information_premium_feature_outputsize_full.json"}]}]'
	run --separate-stderr avf --function daily --outputsize full IBM
	assert_failure 78
	stderr_has 'The outputsize=full parameter value is a premium feature'
}

@test "an invalid key answer is a configuration error (78) with the vendor's message" {
	rules '[{"responses":[{"file":"extra/error_invalid_apikey.json"}]}]'
	run --separate-stderr avf IBM NVDA
	assert_failure 78
	assert_equal "$(nrequests)" 1
	stderr_has 'av-fetch: IBM: the API key was refused: the parameter apikey is invalid or missing.'
	rules '[{"responses":[{"file":"extra/information_demo_key.json"}]}]'
	run --separate-stderr avf IBM
	assert_failure 78
	stderr_has 'the API key was refused: The **demo** API key is for demo purposes only.'
}

@test "an unrecognised notice is retried, then reported with its text: exit 69" {
	set_conf max_attempts 2
	rules '[{"responses":[{"body":"{\"Information\": \"Something new happened.\"}"}]}]'
	run --separate-stderr avf IBM
	assert_failure 69
	assert_equal "$(nrequests)" 2
	stderr_has 'IBM: giving up after 2 attempts in'
	stderr_has 'unrecognised notice: Something new happened.'
}

# --- retries ------------------------------------------------------------------

@test "HTTP 500 and 503 are retried with backoff until an answer comes" {
	rules '[{"responses":[{"status":503,"body":""},{"status":500,"body":"oops"},{"file":"intraday_IBM_5min_compact.json"}]}]'
	run --separate-stderr avf -v IBM
	assert_success
	assert_equal "$(nrequests)" 3
	assert_equal "$(printf '%s\n' "$output" | envelopes | wc -l)" 1
	stderr_has 'IBM: HTTP 503; retrying in'
	stderr_has 'IBM: HTTP 500; retrying in'
	# The waits grow: at least half the nominal 10 ms, then 20 ms.
	run jq -s '[.[1].t - .[0].t >= 5000, .[2].t - .[1].t >= 10000] | all' "$MOCKAV_LOG"
	assert_output true
}

@test "HTTP 5xx until the attempts run out: exit 69 and a clear message" {
	set_conf max_attempts 4
	rules '[{"responses":[{"status":502,"body":"bad gateway"}]}]'
	run --separate-stderr avf IBM
	assert_failure 69
	assert_equal "$(nrequests)" 4
	stderr_match "^av-fetch: IBM: giving up after 4 attempts in [0-9.]+s: HTTP 502 \\($MOCKAV_URL\\?function=TIME_SERIES_INTRADAY&symbol=IBM&interval=5min&apikey=\\*\\*\\*\\)$"
	printf '%s\n' "${lines[0]}" | jq -e '.["@batch"] | .records == 0 and .rejected == 1'
}

@test "a request that fails after retries does not stop the other symbols" {
	set_conf max_attempts 2
	rules '[{"match":{"symbol":"NVDA"},"responses":[{"status":500}]},'"$IBM_JSON"']'
	run --separate-stderr avf NVDA IBM
	assert_failure 69
	assert_equal "$(printf '%s\n' "$output" | envelopes | jq -r .symbol)" IBM
}

@test "HTTP 429 is retried after the Retry-After the server asks for: exit 75 when it persists" {
	rules '[{"responses":[{"status":429,"headers":{"Retry-After":"1"}},{"file":"intraday_IBM_5min_compact.json"}]}]'
	run --separate-stderr avf IBM
	assert_success
	assert_equal "$(nrequests)" 2
	run jq -s '.[1].t - .[0].t' "$MOCKAV_LOG"
	[ "$output" -ge 1000000 ]
	: >"$MOCKAV_LOG"
	set_conf max_attempts 2
	rules '[{"responses":[{"status":429}]}]'
	run --separate-stderr avf IBM
	assert_failure 75
	stderr_has 'IBM: giving up after 2 attempts in'
	stderr_has 'HTTP 429 (too many requests)'
}

@test "a connection reset without an answer is retried" {
	rules '[{"responses":[{"close":true},{"file":"intraday_IBM_5min_compact.json"}]}]'
	run --separate-stderr avf -v IBM
	assert_success
	assert_equal "$(nrequests)" 2
	stderr_has 'IBM: transfer failed:'
}

@test "a truncated body is retried and never emitted" {
	rules '[{"responses":[{"file":"intraday_IBM_5min_compact.json","truncate":5000},{"file":"intraday_IBM_5min_compact.json"}]}]'
	run --separate-stderr avf -v IBM
	assert_success
	assert_equal "$(nrequests)" 2
	stderr_has 'IBM: truncated response:'
	assert_equal "$(printf '%s\n' "$output" | envelopes | jq -c .body)" "$(jq -c . "$FIXTURES/alphavantage/intraday_IBM_5min_compact.json")"
}

@test "a short body that claims to be complete is unparsable: retried, never emitted" {
	set_conf max_attempts 2
	rules '[{"responses":[{"body":"{\"Meta Data\": {\"1. Information\": \"Intraday\"}, \"Time Series (5min)\": {\"2025-06-17 11:20:00\": {\"1. open\": \"282.37"}]}]'
	run --separate-stderr avf IBM
	assert_failure 69
	assert_equal "$(nrequests)" 2
	assert_equal "${#lines[@]}" 1
	stderr_has 'malformed answer (HTTP 200, application/json, '
	stderr_has 'invalid JSON at byte'
}

@test "a body that is neither the JSON nor the CSV expected is retried" {
	rules '[{"responses":[{"body":"<html>502 Bad Gateway</html>","content_type":"text/html"},{"file":"intraday_IBM_5min_compact.json"}]}]'
	run --separate-stderr avf -v IBM
	assert_success
	assert_equal "$(nrequests)" 2
	stderr_has 'malformed answer (HTTP 200, text/html, 28 bytes): the answer is not a JSON object'
	: >"$MOCKAV_LOG"
	rules '[{"responses":[{"body":"timestamp,open\r\n1,2\r\n"},{"file":"intraday_IBM_5min_compact.csv"}]}]'
	run --separate-stderr avf -v --datatype csv IBM
	assert_success
	assert_equal "$(nrequests)" 2
	stderr_has 'the CSV header is not "timestamp,open,high,low,close,volume"'
}

@test "a server slower than the timeout is given up on and asked again" {
	set_conf timeout 300ms
	rules '[{"responses":[{"file":"intraday_IBM_5min_compact.json","delay_ms":2000},{"file":"intraday_IBM_5min_compact.json"}]}]'
	run --separate-stderr avf -v IBM
	assert_success
	assert_equal "$(nrequests)" 2
	stderr_has 'IBM: timeout:'
	assert_equal "$(printf '%s\n' "$output" | envelopes | wc -l)" 1
}

@test "a slow server within the timeout is waited for" {
	set_conf timeout 3s
	rules '[{"responses":[{"file":"intraday_IBM_5min_compact.json","delay_ms":700}]}]'
	run --separate-stderr avf IBM
	assert_success
	assert_equal "$(nrequests)" 1
	assert_equal "$(printf '%s\n' "$output" | envelopes | wc -l)" 1
}

@test "no retry starts after max_retry_time" {
	set_conf backoff_base 500ms
	set_conf max_retry_time 100ms
	rules '[{"responses":[{"status":500}]}]'
	run --separate-stderr avf IBM
	assert_failure 69
	assert_equal "$(nrequests)" 1
	stderr_has 'IBM: giving up after 1 attempt: the next would start after max_retry_time (0.1s): HTTP 500'
}

@test "a refused connection is retried, then exit 69" {
	set_conf max_attempts 2
	port=$(net_free_port)
	run --separate-stderr av-fetch --base-url "http://127.0.0.1:$port/query" IBM
	assert_failure 69
	stderr_has 'IBM: giving up after 2 attempts in'
	stderr_has 'connection failed:'
}

@test "HTTP 404 is not retried: exit 69" {
	rules '[{"match":{"symbol":"NOPE"},"responses":[{"status":200}]}]'
	run --separate-stderr avf IBM
	assert_failure 69
	assert_equal "$(nrequests)" 1
	stderr_has 'av-fetch: IBM: HTTP 404 ('
}

@test "a body over max_body is refused: exit 65" {
	set_conf max_body 1024
	rules "[$IBM_JSON]"
	run --separate-stderr avf IBM
	assert_failure 65
	assert_equal "$(nrequests)" 1
	stderr_has 'IBM: response too large: response body larger than 1024 bytes'
}

@test "an envelope longer than [streams] max_line is refused: exit 65" {
	printf '[streams]\nmax_line = 4096\n' >>fast.ini
	rules "[$IBM_JSON]"
	run --separate-stderr avf IBM
	assert_failure 65
	stderr_has 'is longer than [streams] max_line (4096)'
	printf '%s\n' "${lines[0]}" | jq -e '.["@batch"] | .records == 0 and .rejected == 1'
}

# --- the rate limiter ---------------------------------------------------------

@test "calls_per_second spaces the requests of all symbols" {
	set_conf calls_per_second 2
	set_conf concurrency 4
	rules '[{"responses":[{"file":"intraday_IBM_5min_compact.json"}]}]'
	run --separate-stderr avf A B C D E
	assert_success
	assert_equal "$(nrequests)" 5
	# Never more than 2 requests in any second: request i+2 comes a second after request i.
	run jq -s '[range(0; length - 2) as $i | .[$i + 2].t - .[$i].t >= 1000000] | all' "$MOCKAV_LOG"
	assert_output true
}

@test "calls_per_minute holds back the requests beyond the limit" {
	set_conf calls_per_minute 2
	rules '[{"responses":[{"file":"intraday_IBM_5min_compact.json"}]}]'
	av-fetch --base-url "$MOCKAV_URL" -o out.ndjson A B C 2>err 3>&- &
	pid=$!
	net_wait_for 100 requests_reach 2
	sleep 0.5
	# The third waits for the minute to pass; a signal ends the wait and the batch.
	assert_equal "$(nrequests)" 2
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	assert_equal "$status" 0
	assert_equal "$(envelopes <out.ndjson | wc -l)" 2
	assert_equal "$(markers <out.ndjson | jq -c '[.records, .rejected]')" '[2,0]'
	# The wait is said once, with its length and the limit that makes it.
	assert_equal "$(grep -c 'waiting' err)" 1
	grep -Eq '^av-fetch: waiting (59|60|61) s: 2 calls a minute$' err
}

# --- backfill -------------------------------------------------------------------

@test "--from and --to fetch every month for every symbol, whole months" {
	rules '[{"responses":[{"file":"intraday_TSLA_60min_month_2024-03_dst.json"}]}]'
	run --separate-stderr avf --interval 60min --from 2023-12 --to 2024-02 TSLA IBM
	assert_success
	assert_equal "$(jq -r '[.query.symbol, .query.month, .query.outputsize] | join(" ")' "$MOCKAV_LOG")" \
		'TSLA 2023-12 full
IBM 2023-12 full
TSLA 2024-01 full
IBM 2024-01 full
TSLA 2024-02 full
IBM 2024-02 full'
	assert_equal "$(printf '%s\n' "$output" | envelopes | jq -r '.symbol + " " + .params.month' | tr '\n' ' ')" \
		'TSLA 2023-12 IBM 2023-12 TSLA 2024-01 IBM 2024-01 TSLA 2024-02 IBM 2024-02 '
	printf '%s\n' "${lines[-1]}" | jq -e '.["@batch"] | .app == "av-fetch/intraday/60min/2023-12..2024-02/IBM,TSLA" and .records == 6'
}

@test "--month fetches one month, and names it in the producer" {
	rules '[{"responses":[{"file":"intraday_TSLA_60min_month_2024-03_dst.json"}]}]'
	run --separate-stderr avf --interval 60min --month 2024-03 TSLA
	assert_success
	assert_equal "$(requests)" '{"function":"TIME_SERIES_INTRADAY","symbol":"TSLA","interval":"60min","month":"2024-03","outputsize":"full"}'
	printf '%s\n' "${lines[-1]}" | jq -e '.["@batch"].app == "av-fetch/intraday/60min/2024-03/TSLA"'
}

@test "a backfill range must be whole and in order" {
	run --separate-stderr avf --from 2024-01 IBM
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'av-fetch: --from: --from and --to go together'
	run --separate-stderr avf --from 2024-03 --to 2024-01 IBM
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'av-fetch: --to: 2024-01 is before --from 2024-03'
	run --separate-stderr avf --month 2024-03 --from 2024-01 --to 2024-02 IBM
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'av-fetch: --month: --month and --from/--to exclude each other'
	assert_equal "$(nrequests)" 0
}

# --- follow mode ------------------------------------------------------------------

@test "--follow: one batch per cycle with increasing ids until SIGTERM, then exit 0" {
	rules "[$IBM_JSON]"
	av-fetch --base-url "$MOCKAV_URL" --follow --every 200ms -o out.ndjson IBM 2>err 3>&- &
	pid=$!
	net_wait_for 200 markers_reach out.ndjson 3
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	assert_equal "$status" 0
	# Only the summary of the whole run, at its end.
	assert_equal "$(cat err)" "av-fetch: $(nrequests) requests; answers: $(nrequests) data; $(($(nrequests) * 100)) bars; 0 retries"
	# Every line is whole; the output ends with a marker; one envelope per batch.
	jq -e . out.ndjson >/dev/null
	tail -n 1 out.ndjson | jq -e 'has("@batch")'
	run jq -s '[.[] | select(has("@batch")) | .["@batch"]] |
		(map(.records == 1 and .rejected == 0 and .app == "av-fetch/intraday/5min/IBM") | all) and
		([range(1; length) as $i | .[$i].id > .[$i - 1].id] | all) and length >= 3' out.ndjson
	assert_output true
	assert_equal "$(envelopes <out.ndjson | wc -l)" "$(nrequests)"
}

@test "--follow cycles start at the boundaries of --every plus the settle delay" {
	set_conf settle 100ms
	rules "[$IBM_JSON]"
	av-fetch --base-url "$MOCKAV_URL" --follow --every 1s -o out.ndjson IBM 2>err 3>&- &
	pid=$!
	net_wait_for 200 requests_reach 3
	kill -TERM "$pid"
	wait "$pid"
	# After the first, immediate, cycle: 100 to 600 ms past a whole second.
	run jq -s '[.[1:][] | .t % 1000000 | . >= 100000 and . < 600000] | all' "$MOCKAV_LOG"
	assert_output true
}

@test "--follow: SIGTERM during a request finishes it, closes the batch and exits 0" {
	rules '[{"responses":[{"file":"intraday_IBM_5min_compact.json","delay_ms":800}]}]'
	av-fetch --base-url "$MOCKAV_URL" --follow --every 1m -o out.ndjson IBM NVDA 2>err 3>&- &
	pid=$!
	net_wait_for 100 requests_reach 1
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	assert_equal "$status" 0
	# The request in hand was answered and written; NVDA, not yet asked, never was.
	assert_equal "$(nrequests)" 1
	assert_equal "$(envelopes <out.ndjson | jq -r .symbol)" IBM
	assert_equal "$(markers <out.ndjson | jq -c '[.records, .rejected, .status]')" '[1,0,"ok"]'
}

@test "--follow writes each envelope as soon as it is complete" {
	rules '[{"match":{"symbol":"NVDA"},"responses":[{"file":"intraday_IBM_5min_compact.json","delay_ms":3000}]},'"$IBM_JSON"']'
	av-fetch --base-url "$MOCKAV_URL" --follow --every 1m -o out.ndjson IBM NVDA 2>err 3>&- &
	pid=$!
	net_wait_for 100 requests_reach 2
	net_wait_for 40 test -s out.ndjson
	# IBM's envelope is in the file while NVDA's answer is still on its way.
	assert_equal "$(wc -l <out.ndjson)" 1
	head -n 1 out.ndjson | jq -e '.symbol == "IBM"'
	kill -TERM "$pid"
	wait "$pid"
}

@test "--every only with --follow; --follow takes no month; quote needs --every" {
	run --separate-stderr avf --every 5m IBM
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'av-fetch: --every: only with --follow'
	run --separate-stderr avf --follow --month 2024-03 IBM
	assert_failure 64
	run --separate-stderr avf --follow --function quote IBM
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'av-fetch: --follow: following quotes needs --every (or [av-fetch] every)'
}

@test "a single run interrupted by SIGINT closes its batch" {
	set_conf calls_per_minute 1
	rules "[{\"responses\":[{\"file\":\"intraday_IBM_5min_compact.json\"}]}]"
	env --default-signal=INT av-fetch --base-url "$MOCKAV_URL" -o out.ndjson IBM NVDA 2>err 3>&- &
	pid=$!
	net_wait_for 100 test -s out.ndjson
	kill -INT "$pid"
	status=0
	wait "$pid" || status=$?
	assert_equal "$status" 0
	assert_equal "$(markers <out.ndjson | jq -c '[.records, .rejected]')" '[1,0]'
}

@test "a reader that goes away ends the output quietly with status 0" {
	rules '[{"responses":[{"file":"intraday_TSLA_60min_month_2024-03_dst.json"}]}]'
	# 24 envelopes of 70 KB: more than the widest pipe holds (1 MiB), so
	# that the reader is gone before the last write however late it reads
	local symbols
	mapfile -t symbols < <(printf 'S%02d\n' $(seq 24))
	# shellcheck disable=SC2016 # expanded by the inner shell
	run --separate-stderr bash -c 'set -o pipefail; av-fetch --base-url "$1" --interval 60min "${@:2}" | head -c 10 >/dev/null' \
		_ "$MOCKAV_URL" "${symbols[@]}"
	assert_success
	assert_equal "$stderr" ''
}

@test "-v prints progress and a per-symbol summary on stderr" {
	rules '[{"match":{"symbol":"BAD"},"responses":[{"file":"error_invalid_api_call.json"}]},'"$IBM_JSON"']'
	run --separate-stderr avf -v IBM BAD
	assert_failure 1
	stderr_line "av-fetch: IBM: GET $MOCKAV_URL?function=TIME_SERIES_INTRADAY&symbol=IBM&interval=5min&apikey=***"
	stderr_match '^av-fetch: IBM: 100 bars, 21893 bytes in [0-9.]+s$'
	stderr_line 'av-fetch: summary: IBM: 1 emitted, 0 empty, 0 failed; 100 bars, 21893 bytes; 1 attempts'
	stderr_line 'av-fetch: summary: BAD: 0 emitted, 0 empty, 1 failed; 0 bars, 0 bytes; 1 attempts'
	stderr_match '^av-fetch: batch [0-9]+: 1 envelopes, 1 rejected, [0-9.]+s$'
}

# --- the API key ------------------------------------------------------------------

@test "the key comes from --api-key-file, then \$ALPHAVANTAGE_API_KEY, then [API] api_key" {
	rules "[$IBM_JSON]"
	printf '[API]\napi_key = FROMCONFIG\n' >>fast.ini
	chmod 600 fast.ini
	printf '  FROMFILE  \n' >key.txt
	chmod 600 key.txt
	run --separate-stderr avf --api-key-file key.txt IBM
	assert_success
	run --separate-stderr avf IBM
	assert_success
	unset ALPHAVANTAGE_API_KEY
	run --separate-stderr avf IBM
	assert_success
	assert_equal "$(jq -r .query.apikey "$MOCKAV_LOG" | tr '\n' ' ')" "FROMFILE $KEY FROMCONFIG "
}

@test "a key file readable by others is used, with a warning" {
	rules "[$IBM_JSON]"
	printf 'FROMFILE\n' >key.txt
	chmod 644 key.txt
	run --separate-stderr avf --api-key-file key.txt IBM
	assert_success
	assert_equal "${#stderr_lines[@]}" 2
	assert_equal "${stderr_lines[0]}" 'av-fetch: key.txt: readable by group or others; run chmod 600 key.txt'
}

@test "a missing key is exit 78 naming the places looked" {
	unset ALPHAVANTAGE_API_KEY
	run --separate-stderr avf IBM
	assert_failure 78
	assert_equal "$stderr" "av-fetch: no API key: looked at --api-key-file, \$ALPHAVANTAGE_API_KEY, [av-fetch] api_key_file and [API] api_key in $PWD/fast.ini"
	run --separate-stderr avf --api-key-file nonexistent IBM
	assert_failure 78
	assert_equal "$stderr" 'av-fetch: --api-key-file: nonexistent: No such file or directory'
	: >empty.txt
	run --separate-stderr avf --api-key-file empty.txt IBM
	assert_failure 78
	assert_equal "$(nrequests)" 0
}

@test "the key is never taken from the command line" {
	for arg in "--api-key=$KEY" --api-key --apikey "--key=$KEY" "--api-key-fil=$KEY"; do
		run --separate-stderr av-fetch "$arg" IBM
		assert_failure 64
		[[ $stderr != *"$KEY"* ]]
	done
	run --separate-stderr av-fetch --api-key "$KEY" IBM
	assert_failure 64
	# shellcheck disable=SC2016 # the message names the variable
	assert_equal "${stderr_lines[0]}" 'av-fetch: --api-key: the API key is never taken from the command line, where ps shows it to everyone; use --api-key-file FILE, $ALPHAVANTAGE_API_KEY or [API] api_key'
}

@test "an answer is refused when it quotes the key as the API echoes it, not when a short key is part of a word" {
	export ALPHAVANTAGE_API_KEY=K
	quote='{"Global Quote": {"01. symbol": "BRK.A", "02. open": "1.5", "03. high": "2", "04. low": "1", "05. price": "1.5", "06. volume": "100", "07. latest trading day": "2025-06-17"}}'
	rules "$(jq -nc --arg b "$quote" '[{"responses":[{"body":$b}]}]')"
	run --separate-stderr avf --function quote BRK.A
	assert_success
	assert_equal "$(printf '%s\n' "$output" | envelopes | jq -r '.body["Global Quote"]["01. symbol"]')" BRK.A
	# The same answer with the key echoed in it, as the API does in URLs and in its texts.
	for echo in 'https://x/query?apikey=K&symbol=BRK.A' 'We have detected your API key as K.'; do
		: >"$MOCKAV_LOG"
		rules "$(jq -nc --arg b "$quote" --arg e "$echo" '[{"responses":[{"body":($b | fromjson | .["Global Quote"]["08. note"] = $e | tojson)}]}]')"
		run --separate-stderr avf --function quote BRK.A
		assert_failure 65
		assert_equal "$(nrequests)" 1
		assert_equal "${#lines[@]}" 1
		assert_equal "${stderr_lines[0]}" "av-fetch: BRK.A: the answer quotes the API key; it is not written ($MOCKAV_URL?function=GLOBAL_QUOTE&symbol=BRK.A&apikey=***)"
	done
	# Written with a JSON escape, the key is still quoted: the envelope keeps
	# the escape, and every reader of it decodes it.
	: >"$MOCKAV_LOG"
	rules "$(jq -nc --arg b "${quote%\}\}}, \"08. note\": \"your key \\u004b.\"}}" '[{"responses":[{"body":$b}]}]')"
	run --separate-stderr avf --function quote BRK.A
	assert_failure 65
	assert_equal "${#lines[@]}" 1
	assert_equal "${stderr_lines[0]}" "av-fetch: BRK.A: the answer quotes the API key; it is not written ($MOCKAV_URL?function=GLOBAL_QUOTE&symbol=BRK.A&apikey=***)"
}

@test "a summary line ends the run: requests, answers by kind, bars, retries; -q leaves it out" {
	rules '[{"match":{"symbol":"BAD"},"responses":[{"file":"error_invalid_api_call.json"}]},
		{"match":{"symbol":"IBM"},"responses":[{"status":503,"body":""},{"file":"intraday_IBM_5min_compact.json"}]}]'
	run --separate-stderr avf IBM BAD
	assert_failure 1
	assert_equal "${stderr_lines[-1]}" 'av-fetch: 3 requests; answers: 1 data, 1 error message, 1 HTTP error; 100 bars; 1 retries'
	run --separate-stderr avf -q IBM BAD
	assert_failure 1
	# errors still show
	assert_equal "${#stderr_lines[@]}" 1
	stderr_has 'av-fetch: BAD: refused by Alpha Vantage'
}

@test "a long vendor message is cut between words, so no part of a key it quotes is printed" {
	# The message is cut near 400 bytes; the key stands across the cut.
	pad=$(printf '%*s' 340 '' | tr ' ' x)
	body=$(jq -nc --arg m "Thank you. $pad We have detected your API key as $KEY and our standard API rate limit is 25 requests per day." '{"Information": $m}')
	rules "[{\"responses\":[{\"body\":$(jq -Rs . <<<"$body")}]}]"
	run --separate-stderr avf IBM
	assert_failure 75
	assert_equal "${stderr_lines[0]}" "av-fetch: IBM: the daily request limit is used up: Thank you. $pad We have detected your API key as ... ($MOCKAV_URL?function=TIME_SERIES_INTRADAY&symbol=IBM&interval=5min&apikey=***)"
	[[ $stderr != *TESTKE* ]]
}

@test "the key appears in no output and no message, on any path" {
	set_conf max_attempts 2
	set_conf timeout 300ms
	k=$KEY
	scenarios=(
		'[{"responses":[{"file":"intraday_IBM_5min_compact.json"}]}]'
		'[{"responses":[{"body":"{\"Error Message\": \"Invalid API call for '"$k"'\"}"}]}]'
		'[{"responses":[{"body":"{\"Error Message\": \"the parameter apikey '"$k"' is invalid\"}"}]}]'
		'[{"responses":[{"body":"{\"Information\": \"We have detected your API key as '"$k"' and our standard API rate limit is 25 requests per day.\"}"}]}]'
		'[{"responses":[{"body":"{\"Note\": \"Key '"$k"': 5 calls per minute.\"}"}]}]'
		'[{"responses":[{"body":"{\"Information\": \"Key '"$k"': 1 request per second.\"}"}]}]'
		'[{"responses":[{"body":"{\"Information\": \"Key '"$k"': premium endpoint.\"}"}]}]'
		'[{"responses":[{"body":"{\"Information\": \"Key '"$k"': something new.\"}"}]}]'
		'[{"responses":[{"body":"<html>'"$k"'</html>"}]}]'
		'[{"responses":[{"body":"{\"Time Series (5min)\": {\"'"$k"'\": {}}}"}]}]'
		'[{"responses":[{"file":"extra/error_invalid_apikey.json"}]}]'
		'[{"responses":[{"file":"extra/information_demo_key.json"}]}]'
		'[{"responses":[{"file":"throttle_note_per_minute.json"}]}]'
		'[{"responses":[{"status":500,"body":"'"$k"'"}]}]'
		'[{"responses":[{"status":429,"body":"'"$k"'"}]}]'
		'[{"responses":[{"status":403,"body":"'"$k"'"}]}]'
		'[{"responses":[{"close":true}]}]'
		'[{"responses":[{"file":"intraday_IBM_5min_compact.json","truncate":100}]}]'
		'[{"responses":[{"file":"intraday_IBM_5min_compact.json","delay_ms":1000}]}]'
		'[{"match":{"symbol":"NONE"},"responses":[{"status":200}]}]'
	)
	for s in "${scenarios[@]}"; do
		rules "$s"
		avf -vv IBM >>all.out 2>&1 || true
		avf -vv --datatype csv --function quote IBM >>all.out 2>&1 || true
	done
	port=$(net_free_port)
	av-fetch -vv --base-url "http://127.0.0.1:$port/query" IBM >>all.out 2>&1 || true
	avf -vv 'I B M' >>all.out 2>&1 || true
	avf -vv --follow --month 2024-01 IBM >>all.out 2>&1 || true
	av-fetch -vv "--api-key=$k" IBM >>all.out 2>&1 || true
	av-fetch -vv "--apikey=$k" IBM >>all.out 2>&1 || true
	printf 'bad key with spaces %s\n' "$k" >key.txt
	chmod 600 key.txt
	avf -vv --api-key-file key.txt IBM >>all.out 2>&1 || true
	# The run did go through all those paths.
	grep -q 'the daily request limit is used up' all.out
	grep -q 'the answer quotes the API key' all.out
	grep -q 'the API key was refused' all.out
	grep -q 'truncated response' all.out
	grep -q 'timeout' all.out
	grep -q 'connection failed' all.out
	grep -q 'apikey=\*\*\*' all.out
	run grep -c -F "$k" all.out
	assert_output 0
}

#!/usr/bin/env bats
# The offline demo's data: the recorded Alpha Vantage answers in demo/
# (made by demo/gen-recordings.js), served on loopback by demo/av-server.js
# through demo/av-server.bash, fetched by av-fetch and passed through
# tick-normalize and tick-validate as the demo does.  The suite fetches the
# backfill (the month 2024-03) and the latest answers once, with a dummy key,
# and its tests check the story the data tells: the bars of each day, the
# daylight-saving change, the bad bar, the revised bar, the throttle, and a
# key that is never written anywhere.
# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr

load helpers/common
load ../demo/av-server

KEY=demo-offline-K3Y9
REC=$STOCKETL_ROOT/demo/recordings
SYMBOLS=(NVDA TSLA IBM AAPL)

# fetch NAME AV_FETCH_ARGS...: av-fetch against the demo server, then
# tick-normalize and tick-validate with the shipped checks, keeping every
# output, message and exit status under NAME.* in the suite's directory,
# with the requests the server received (NAME.requests) and av-fetch's
# time in milliseconds (NAME.fetch.ms).
fetch() {
	local name=$1 t0 t1 seen rc
	shift
	seen=$(wc -l <"$AV_SERVER_LOG")
	t0=$(date +%s%N)
	rc=0
	av-fetch --base-url "$AV_SERVER_URL" "$@" >"$name.env" 2>"$name.fetch.err" || rc=$?
	echo "$rc" >"$name.fetch.rc"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000)) >"$name.fetch.ms"
	tail -n +$((seen + 1)) "$AV_SERVER_LOG" >"$name.requests"
	rc=0
	tick-normalize --rejects "$name.normalize.rej" <"$name.env" >"$name.norm" 2>"$name.normalize.err" || rc=$?
	echo "$rc" >"$name.normalize.rc"
	rc=0
	tick-validate --checks "$STOCKETL_ROOT/conf/checks/ticks.checks" --rejects "$name.validate.rej" \
		--report "$name.report" <"$name.norm" >"$name.ticks" 2>"$name.validate.err" || rc=$?
	echo "$rc" >"$name.validate.rc"
}

setup_file() {
	export PATH="$STOCKETL_BIN:$PATH" TZ=UTC LC_ALL=C.UTF-8
	unset STOCKETL_CONFIG http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
	cd "$BATS_FILE_TMPDIR" || return 1
	av_server_start "$BATS_FILE_TMPDIR/server"
	# The demo's settings: no rate limit on loopback, and a short pause
	# after the recorded throttle note.
	printf '%s\n' '[av-fetch]' 'calls_per_minute = 0' 'calls_per_second = 0' \
		'throttle_wait = 300ms' >demo.ini
	export STOCKETL_CONFIG=$PWD/demo.ini ALPHAVANTAGE_API_KEY=$KEY
	fetch backfill --month 2024-03
	fetch latest
	fetch backfill-csv --month 2024-03 --datatype csv
	fetch latest-csv --datatype csv
}

teardown_file() {
	av_server_stop
}

setup() {
	common_setup
	D=$BATS_FILE_TMPDIR
}

teardown() {
	[ -z "${own_dir:-}" ] || av_server_stop
}

# bars FILE: "SYMBOL TRADE_DATE COUNT" for the tick records in FILE.
bars() {
	jq -rs 'map(select(.symbol)) | group_by([.symbol, .trade_date])[] |
		"\(.[0].symbol) \(.[0].trade_date) \(length)"' "$@"
}

# tick FILE SYMBOL UTC: the tick record of SYMBOL at UTC time in FILE, as
# "trade_date open high low close volume".
tick() {
	jq -r --arg s "$2" --arg t "$3" 'select(.symbol == $s and .trade_timestamp == $t) |
		"\(.trade_date) \(.open) \(.high) \(.low) \(.close) \(.volume)"' "$1"
}

# --- the recordings --------------------------------------------------

@test "each recorded JSON answer has the API's layout and its Meta Data agrees with its series" {
	for f in "$REC"/intraday_*.json; do
		name=$(basename "$f")
		sym=${name#intraday_}
		sym=${sym%%_*}
		case $name in
		*_month_2024-03.json) size='Full size' ;;
		*) size=Compact ;;
		esac
		run jq -r --arg sym "$sym" --arg size "$size" '
			(keys_unsorted == ["Meta Data", "Time Series (5min)"]) as $top |
			."Meta Data" as $m | ."Time Series (5min)" as $s | ($s | keys_unsorted) as $t |
			[$top,
			 ($m | keys_unsorted) == ["1. Information", "2. Symbol", "3. Last Refreshed",
				"4. Interval", "5. Output Size", "6. Time Zone"],
			 $m."1. Information" == "Intraday (5min) open, high, low, close prices and volume",
			 $m."2. Symbol" == $sym,
			 $m."3. Last Refreshed" == $t[0],
			 $m."4. Interval" == "5min",
			 $m."5. Output Size" == $size,
			 $m."6. Time Zone" == "US/Eastern",
			 $t == ($t | sort | reverse),
			 ($t | all(test("^2024-03-(0[89]|1[0-3]) ([01][0-9]):[0-5][05]:00$"))),
			 ([$s[] | keys_unsorted] | unique) == [["1. open", "2. high", "3. low", "4. close", "5. volume"]],
			 ([$s[] | .["1. open", "2. high", "3. low", "4. close"]] | all(test("^[0-9]+\\.[0-9]{4}$"))),
			 ([$s[] | ."5. volume"] | all(test("^[1-9][0-9]*$")))] | map(tostring) | join(" ")' "$f"
		assert_success
		assert_output "true true true true true true true true true true true true true"
	done
	# The API pretty-prints with four spaces and ends without a line end.
	run head -c 20 "$REC/intraday_IBM_5min_compact.json"
	assert_output $'{\n    "Meta Data": {'
	[ "$(tail -c 1 "$REC/intraday_IBM_5min_compact.json")" = '}' ]
}

@test "the month answers end with the bar that was forming at 10:32 and the compact answers hold 100 bars to 12:00" {
	for s in "${SYMBOLS[@]}"; do
		run jq -r '."Meta Data"."3. Last Refreshed"' "$REC/intraday_${s}_5min_month_2024-03.json"
		assert_output '2024-03-13 10:30:00'
		run jq -r '."Meta Data"."3. Last Refreshed", (."Time Series (5min)" | length)' \
			"$REC/intraday_${s}_5min_compact.json"
		assert_output $'2024-03-13 12:00:00\n100'
	done
}

@test "each CSV recording holds the bars of its JSON twin, newest first, with CRLF line ends" {
	for f in "$REC"/intraday_*.csv; do
		jq -j '"timestamp,open,high,low,close,volume\r\n",
			(."Time Series (5min)" | to_entries[] |
			 [.key, .value["1. open", "2. high", "3. low", "4. close", "5. volume"]] | join(",") + "\r\n")' \
			"${f%.csv}.json" >expected.csv
		cmp expected.csv "$f"
	done
}

@test "the generator makes exactly the committed recordings and rules" {
	run node "$STOCKETL_ROOT/demo/gen-recordings.js" "$PWD/gen"
	assert_success
	assert_output ''
	diff -r gen/recordings "$REC"
	cmp gen/rules.json "$STOCKETL_ROOT/demo/rules.json"
	run du -sk "$REC"
	[ "${output%%[[:space:]]*}" -lt 2048 ]
}

# --- the server --------------------------------------------------------

@test "the server answers by function, symbol, interval, month, outputsize and datatype, and 404 for what was not recorded" {
	q="$AV_SERVER_URL?function=TIME_SERIES_INTRADAY&interval=5min&apikey=$KEY"
	run curl -sS -o body -w '%{http_code} %{content_type}' "$q&symbol=IBM&month=2024-03&outputsize=full"
	assert_output '200 application/json'
	cmp body "$REC/intraday_IBM_5min_month_2024-03.json"
	run curl -sS -o body -w '%{http_code} %{content_type}' "$q&symbol=IBM&month=2024-03&outputsize=full&datatype=csv"
	assert_output '200 text/csv'
	cmp body "$REC/intraday_IBM_5min_month_2024-03.csv"
	run curl -sS -o body -w '%{http_code}' "$q&symbol=AAPL&outputsize=compact&datatype=json&adjusted=true&extended_hours=true"
	assert_output 200
	cmp body "$REC/intraday_AAPL_5min_compact.json"
	run curl -sS -o body -w '%{http_code}' "$q&symbol=NVDA&datatype=csv"
	assert_output 200
	cmp body "$REC/intraday_NVDA_5min_compact.csv"
	# Not recorded: another interval, symbol or month, the regular session
	# only, unadjusted bars, a compact month.
	for extra in 'symbol=IBM&interval=1min' 'symbol=MSFT' 'symbol=IBM&month=2024-02' \
		'symbol=IBM&extended_hours=false' 'symbol=IBM&adjusted=false' \
		'symbol=IBM&month=2024-03&outputsize=compact'; do
		run curl -sS -o body -w '%{http_code}' "$q&$extra"
		assert_output 404
		run jq -r .error body
		assert_output "av-server: no rule matches GET /query?function=TIME_SERIES_INTRADAY&interval=5min&apikey=***&$extra"
	done
}

@test "a rule can require a parameter to be absent (null) or one of several values (an array)" {
	printf '%s\n' '[{"match": {"a": null}, "responses": [{"body": "no a"}]},
		{"match": {"a": ["1", "2"], "b": [null, "x"]}, "responses": [{"body": "a is 1 or 2, b absent or x"}]}]' \
		>rules.json
	own_dir=1
	av_server_start "$PWD/own" "$PWD/rules.json" "$REC"
	base=${AV_SERVER_URL%/query}
	for q in '' 'b=y' 'a=1' 'a=2&b=x' 'a=2&b=y' 'a=3' 'a='; do
		printf '%s\n' "$(curl -sS "$base/query?$q")"
	done >got
	run cat got
	assert_output - <<-'EOF'
		no a
		no a
		a is 1 or 2, b absent or x
		a is 1 or 2, b absent or x
		{"error":"av-server: no rule matches GET /query?a=2&b=y"}
		{"error":"av-server: no rule matches GET /query?a=3"}
		{"error":"av-server: no rule matches GET /query?a="}
	EOF
	printf '%s\n' '[{"match": {"a": 1}, "responses": [{"body": ""}]}]' >bad.json
	run --separate-stderr av_server_start "$PWD/bad" "$PWD/bad.json"
	assert_failure 1
	assert_equal "$stderr" $'av_server_start: the server did not start\nav-server: '"$PWD"'/bad.json: rule 0: match.a must be a string, null or a non-empty array of them'
}

@test "av_server_start serves demo/ by default, writes its port file, and av_server_stop ends it and keeps the log" {
	own_dir=1
	av_server_start "$PWD/srv"
	[ "$(cat srv/port)" = "$AV_SERVER_PORT" ]
	[ "$AV_SERVER_URL" = "http://127.0.0.1:$AV_SERVER_PORT/query" ]
	run ss -Hltn "sport = :$AV_SERVER_PORT"
	[[ $output == *"127.0.0.1:$AV_SERVER_PORT"* ]]
	run curl -sS -o /dev/null -w '%{http_code}' \
		"$AV_SERVER_URL?function=TIME_SERIES_INTRADAY&symbol=TSLA&interval=5min&month=2024-03&outputsize=full&apikey=x"
	assert_output 200
	pid=$AV_SERVER_PID port=$AV_SERVER_PORT
	av_server_stop
	run kill -0 "$pid"
	assert_failure
	run curl -sS "http://127.0.0.1:$port/query"
	assert_failure 7
	assert_equal "${AV_SERVER_URL:-}" ''
	run jq -r .query.symbol srv/requests.log
	assert_output TSLA
	run av_server_stop
	assert_success
}

# --- the story through av-fetch, tick-normalize and tick-validate ----------

@test "the backfill is one batch of four month answers, and its bars per symbol and trading day are the recorded ones" {
	[ "$(cat "$D/backfill.fetch.rc")" -eq 0 ]
	run jq -r 'select(.symbol) | [.function, .symbol, .interval, .params.month, .params.outputsize] | join(" ")' \
		"$D/backfill.env"
	assert_output - <<-'EOF'
		TIME_SERIES_INTRADAY NVDA 5min 2024-03 full
		TIME_SERIES_INTRADAY TSLA 5min 2024-03 full
		TIME_SERIES_INTRADAY IBM 5min 2024-03 full
		TIME_SERIES_INTRADAY AAPL 5min 2024-03 full
	EOF
	# IBM does not trade every five minutes outside regular hours; the
	# others do: 192 bars from 04:00 to 19:55, and on the 13th up to the
	# 10:30 bar.  AAPL's bad bar of the 11th is quarantined.
	run bars "$D/backfill.ticks"
	assert_output - <<-'EOF'
		AAPL 2024-03-08 192
		AAPL 2024-03-11 191
		AAPL 2024-03-12 192
		AAPL 2024-03-13 79
		IBM 2024-03-08 118
		IBM 2024-03-11 130
		IBM 2024-03-12 124
		IBM 2024-03-13 39
		NVDA 2024-03-08 192
		NVDA 2024-03-11 192
		NVDA 2024-03-12 192
		NVDA 2024-03-13 79
		TSLA 2024-03-08 192
		TSLA 2024-03-11 192
		TSLA 2024-03-12 192
		TSLA 2024-03-13 79
	EOF
	# The same counts, straight from the recordings.
	run jq -r '."Meta Data"."2. Symbol" as $s | ."Time Series (5min)" | keys | group_by(.[0:10])[] |
		"\($s) \(.[0][0:10]) \(length)"' "$REC"/intraday_{AAPL,IBM,NVDA,TSLA}_5min_month_2024-03.json
	assert_output - <<-'EOF'
		AAPL 2024-03-08 192
		AAPL 2024-03-11 192
		AAPL 2024-03-12 192
		AAPL 2024-03-13 79
		IBM 2024-03-08 118
		IBM 2024-03-11 130
		IBM 2024-03-12 124
		IBM 2024-03-13 39
		NVDA 2024-03-08 192
		NVDA 2024-03-11 192
		NVDA 2024-03-12 192
		NVDA 2024-03-13 79
		TSLA 2024-03-08 192
		TSLA 2024-03-11 192
		TSLA 2024-03-12 192
		TSLA 2024-03-13 79
	EOF
	run jq -c 'select(."@batch") | ."@batch" | [.app, .records, .rejected, .status]' "$D/backfill.ticks"
	assert_output '["av-fetch/intraday/5min/2024-03/AAPL,IBM,NVDA,TSLA",2375,1,"ok"]'
}

@test "bars are in UTC: the same Eastern time is an hour earlier after the 2024-03-10 change, and trade_date stays the Eastern date" {
	# Friday (EST, UTC-5): 04:00 ET is 09:00Z, 19:55 ET is 00:55Z on Saturday.
	run tick "$D/backfill.ticks" NVDA 2024-03-08T09:00:00Z
	assert_output '2024-03-08 926.9 927.9 926.72 927.65 21935'
	run jq -r 'select(.symbol == "NVDA" and .trade_date == "2024-03-08") | .trade_timestamp' "$D/backfill.ticks"
	assert_line --index 0 2024-03-08T09:00:00Z
	assert_line --index 191 2024-03-09T00:55:00Z
	# Monday (EDT, UTC-4): the same wall-clock bars start an hour earlier.
	run jq -r 'select(.symbol == "NVDA" and .trade_date == "2024-03-11") | .trade_timestamp' "$D/backfill.ticks"
	assert_line --index 0 2024-03-11T08:00:00Z
	assert_line --index 191 2024-03-11T23:55:00Z
	# The regular session opens at 09:30 ET: 14:30Z on Friday, 13:30Z from
	# Monday on, each day's bar opening at the day's opening price.
	for t in 2024-03-08T14:30:00Z 2024-03-11T13:30:00Z 2024-03-12T13:30:00Z 2024-03-13T13:30:00Z; do
		tick "$D/backfill.ticks" TSLA "$t" | cut -d' ' -f1,2
	done >opens
	run cat opens
	assert_output - <<-'EOF'
		2024-03-08 181.5
		2024-03-11 175.45
		2024-03-12 177.77
		2024-03-13 173.05
	EOF
	# No bar falls on the weekend in either clock.
	run jq -r 'select(.symbol and (.trade_date == "2024-03-09" or .trade_date == "2024-03-10"))' "$D/backfill.ticks"
	assert_output ''
}

@test "the bad bar, AAPL's 2024-03-11 10:15 with high and low exchanged, is quarantined by tick-validate with its reason" {
	[ "$(cat "$D/backfill.normalize.rc")" -eq 0 ]
	[ ! -s "$D/backfill.normalize.rej" ]
	[ "$(cat "$D/backfill.validate.rc")" -eq 1 ]
	run jq -c '[.check, .reason, .record.symbol, .record.trade_timestamp, .record.trade_date, .values]' \
		"$D/backfill.validate.rej"
	assert_output '["high below open or close","fail condition holds: high < max(open, close)","AAPL","2024-03-11T14:15:00Z","2024-03-11",{"open":172.63,"high":172.38,"close":172.43}]'
	run grep -c . "$D/backfill.validate.rej"
	assert_output 1
	run jq -c '[.records.in, .records.passed, .records.quarantined, .outcome]' "$D/backfill.report"
	assert_output '[2376,2375,1,"warn"]'
	run cat "$D/backfill.validate.err"
	assert_line --partial 'warn: high below open or close (line 17): failed_rows = 1'
	# The answer as recorded: high 172.38 below low 173.02.
	run jq -c '."Time Series (5min)"."2024-03-11 10:15:00"' "$REC/intraday_AAPL_5min_month_2024-03.json"
	assert_output '{"1. open":"172.6300","2. high":"172.3800","3. low":"173.0200","4. close":"172.4300","5. volume":"684174"}'
	# It is in no other answer, and every other bar passes.
	for n in latest backfill-csv latest-csv; do
		[ ! -s "$D/$n.normalize.rej" ]
	done
	[ ! -s "$D/latest.validate.rej" ]
	[ "$(grep -c . "$D/backfill-csv.validate.rej")" -eq 1 ]
}

@test "TSLA's first latest request is throttled: av-fetch pauses throttle_wait, retries, and the batch holds all four symbols" {
	[ "$(cat "$D/latest.fetch.rc")" -eq 0 ]
	run cat "$D/latest.fetch.err"
	assert_line --partial 'TSLA: throttled (per-minute limit): Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute'
	assert_line --partial 'pausing every request for 0.3s'
	run jq -r .query.symbol "$D/latest.requests"
	assert_equal "$(sort <<<"$output" | tr '\n' ' ')" 'AAPL IBM NVDA TSLA TSLA '
	run jq -rs 'map(select(.query.symbol == "TSLA") | .t) | .[1] - .[0] >= 300000' "$D/latest.requests"
	assert_output true
	[ "$(cat "$D/latest.fetch.ms")" -lt 3000 ]
	run jq -r 'select(.symbol) | .symbol' "$D/latest.env"
	assert_equal "$(sort <<<"$output" | tr '\n' ' ')" 'AAPL IBM NVDA TSLA '
	run jq -c 'select(."@batch") | ."@batch" | [.records, .rejected, .status]' "$D/latest.env"
	assert_output '[4,0,"ok"]'
	# The CSV request has a rule of its own, without the throttle.
	run jq -r .query.symbol "$D/latest-csv.requests"
	assert_equal "$(sort <<<"$output" | tr '\n' ' ')" 'AAPL IBM NVDA TSLA '
}

@test "the latest answers overlap the backfill and revise its newest bar, the 10:30 ET bar that was still forming" {
	run bars "$D/latest.ticks"
	assert_output - <<-'EOF'
		AAPL 2024-03-12 3
		AAPL 2024-03-13 97
		IBM 2024-03-12 43
		IBM 2024-03-13 57
		NVDA 2024-03-12 3
		NVDA 2024-03-13 97
		TSLA 2024-03-12 3
		TSLA 2024-03-13 97
	EOF
	# 10:30 EDT is 14:30Z: open the same, close, high and volume revised.
	run tick "$D/backfill.ticks" NVDA 2024-03-13T14:30:00Z
	assert_output '2024-03-13 907.4822 907.6722 906.17 906.4 220915'
	run tick "$D/latest.ticks" NVDA 2024-03-13T14:30:00Z
	assert_output '2024-03-13 907.4822 907.75 902.78 905.34 535518'
	for s in "${SYMBOLS[@]}"; do
		run jq -rs --arg s "$s" '[.[] | select(.symbol == $s and .trade_timestamp == "2024-03-13T14:30:00Z")] |
			[.[0].open == .[1].open, .[0].close != .[1].close, .[0].high < .[1].high,
			 .[0].volume < .[1].volume] | all' "$D/backfill.ticks" "$D/latest.ticks"
		assert_output true
	done
	# The answers share 82 bars of each symbol; all but the revised one are
	# the same in both.
	run jq -rs '(map(select(.symbol)) | group_by([.symbol, .trade_timestamp]) |
		map(select(length == 2)) | map(.[0].trade_timestamp != "2024-03-13T14:30:00Z" and
			(.[0] | del(.batch_id, .ingested_at)) != (.[1] | del(.batch_id, .ingested_at))) |
		[(length), (map(select(.)) | length)]) | join(" ")' "$D/backfill.ticks" "$D/latest.ticks"
	assert_output '328 0'
	# Last one wins, as silver merges: the revised bar once, with the later values.
	run jq -rs 'map(select(.symbol == "NVDA" and .trade_timestamp == "2024-03-13T14:30:00Z")) |
		group_by(.trade_timestamp) | map(last | .close) | join(" ")' "$D/backfill.ticks" "$D/latest.ticks"
	assert_output 905.34
}

@test "the JSON and the CSV answers give the same ticks" {
	# (The answers arrive in any order: TSLA's throttled one comes last.)
	for n in backfill latest; do
		jq -c 'select(.symbol) | del(.batch_id, .ingested_at)' "$D/$n.ticks" | sort >json.out
		jq -c 'select(.symbol) | del(.batch_id, .ingested_at)' "$D/$n-csv.ticks" | sort >csv.out
		[ -s json.out ]
		cmp json.out csv.out
	done
}

@test "the API key appears in no envelope, tick, reject, report, message or server log" {
	run grep -rlF -- "$KEY" "$D"
	assert_output ''
	# The server logs every request with the key masked.
	run jq -r '.query.apikey' "$D/server/requests.log"
	assert_success
	[ "$(sort -u <<<"$output")" = '***' ]
	[ "$(grep -c . "$D/server/requests.log")" -ge 17 ]
	# av-fetch sent it all the same (a request without it would be refused by the API).
	run curl -sS "$AV_SERVER_URL?function=TIME_SERIES_INTRADAY&symbol=XYZ&interval=5min&apikey=$KEY"
	assert_output '{"error":"av-server: no rule matches GET /query?function=TIME_SERIES_INTRADAY&symbol=XYZ&interval=5min&apikey=***"}'
	run grep -rlF -- "$KEY" "$D"
	assert_output ''
}

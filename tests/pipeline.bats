#!/usr/bin/env bats
# The jobs end to end against the mock Alpha Vantage server: bronze
# (pipelines/bronze.sh: av-fetch | tick-normalize | tick-validate |
# delta-append, incremental by watermarks), stock-etl, the stream, their
# make targets, the crontab and the stream's systemd unit.  The runner
# itself (locks, retries, time limits, logs, spool) is tests/runner.bats;
# the backfill is tests/backfill.bats.

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
load helpers/common
load helpers/mockav
load helpers/job

setup() {
	common_setup
	export ALPHAVANTAGE_API_KEY=test-key STOCKETL_LAKE=$BATS_TEST_TMPDIR/lake
	T=$STOCKETL_LAKE/bronze
	mkdir fx
}

teardown() {
	[ -z "${MOCKAV_PID:-}" ] || mockav_stop
}

bronze() {
	"$STOCKETL_ROOT/pipelines/bronze.sh" --interval 5min "$@"
}

@test "the bronze job lands the API's bars in bronze, in UTC with exact prices, and keeps its report" {
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "intraday_IBM_5min_compact.json"}]}]'
	run --separate-stderr bronze IBM
	assert_success
	[ -f "$T/_delta_log/00000000000000000001.json" ]
	run jq -r 'select(.commitInfo) | .commitInfo.operationMetrics.numOutputRows' \
		"$T/_delta_log/00000000000000000001.json"
	assert_output 100
	# 2025-06-17 11:20 ET (EDT) is 15:20 UTC; prices exactly as the API wrote them
	run duck "SELECT symbol, interval, trade_timestamp, trade_date, open, high, low, close, volume FROM t WHERE trade_timestamp = '2025-06-17 15:20:00+00'"
	assert_output '{"symbol":"IBM","interval":"5min","trade_timestamp":"2025-06-17T15:20:00Z","trade_date":"2025-06-17","open":282.370000,"high":282.510000,"low":282.070000,"close":282.300000,"volume":12785}'
	run duck "SELECT count(*) AS n, count(DISTINCT trade_timestamp) AS d FROM t"
	assert_output '{"n":100,"d":100}'
	run jq -r '.checks | length > 0' var/reports/*.json
	assert_output true
	[ -f var/rejects/normalize.ndjson ]
	[ -f var/rejects/validate.ndjson ]
	# the first run of a symbol sets its watermark: its newest bar
	run jq -c '[.symbol, .interval, .newest]' var/watermarks/bronze.ndjson
	assert_output '["IBM","5min","2025-06-17T15:20:00Z"]'
}

@test "three overlapping five-minute runs store each bar once, and bronze keeps both versions of a revised newest bar" {
	# Each answer is the latest 100 bars, 25 minutes on: 94 bars seen
	# before, the one that was newest and still forming, now final, and 5
	# new ones, the newest forming.
	bars fx/c1.json IBM 5 "2025-06-17 04:00" 100 forming
	bars fx/c2.json IBM 5 "2025-06-17 04:25" 100 forming
	bars fx/c3.json IBM 5 "2025-06-17 04:50" 100 forming
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "c1.json"}, {"file": "c2.json"}, {"file": "c3.json"}]}]'
	local k
	for k in 99 104 109; do
		STOCKETL_NOW=$(bar_time "2025-06-17 04:00" 5 "$((k + 1))") bronze -q IBM
	done
	# the first run had no watermark (av-fetch's default size), the next two
	# asked for compact: 100 bars cover five minutes since the watermark
	run requests '.query.outputsize'
	assert_output $'null\n"compact"\n"compact"'
	run duck "SELECT count(*) AS n, count(DISTINCT trade_timestamp) AS bars FROM t"
	assert_output '{"n":112,"bars":110}'
	# 100 + 6 + 6 rows where the answers held 300: the two bars that were
	# newest when fetched are there twice, first as they were, then revised
	run duck "SELECT strftime(trade_timestamp, '%H:%M') AS utc, list(close ORDER BY batch_id) AS closes FROM t GROUP BY trade_timestamp HAVING count(*) > 1 ORDER BY 1"
	assert_output $'{"utc":"16:15","closes":[107.380000,107.350000]}\n{"utc":"16:40","closes":[107.630000,107.600000]}'
	run jq -r '.newest' var/watermarks/bronze.ndjson
	assert_output 2025-06-17T17:05:00Z
	run facts watermark '.newest'
	assert_output $'"2025-06-17T16:15:00Z"\n"2025-06-17T16:40:00Z"\n"2025-06-17T17:05:00Z"'
	run grep -h 'older than the watermark' var/logs/bronze/*.log
	assert_line --partial "normalize: tick-normalize: 1 envelopes, 6 bars out, 94 older than the watermark"
}

@test "each symbol is asked for what covers the gap since its watermark: compact, full or whole months" {
	# IBM's last bar was Friday 19:55 ET and it is Monday 05:00 ET: 14 bars
	# of trading time.  NVDA's was Tuesday: three days of 192 bars.  TSLA's
	# was 40 days ago: more than the trailing 30 days of full.
	local s
	bars fx/IBM.json IBM 5 "2025-06-16 04:00" 13
	bars fx/NVDA.json NVDA 5 "2025-06-13 04:00" 20
	bars fx/TSLA5.json TSLA 5 "2025-05-07 04:00" 20
	bars fx/TSLA6.json TSLA 5 "2025-06-02 04:00" 20
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "IBM.json"}]},
	        {"match": {"symbol": "NVDA"}, "responses": [{"file": "NVDA.json"}]},
	        {"match": {"symbol": "TSLA", "month": "2025-05"}, "responses": [{"file": "TSLA5.json"}]},
	        {"match": {"symbol": "TSLA", "month": "2025-06"}, "responses": [{"file": "TSLA6.json"}]}]'
	delta-create bronze --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	mkdir -p var/watermarks
	for s in 'IBM 2025-06-13T23:55:00Z' 'NVDA 2025-06-10T18:00:00Z' 'TSLA 2025-05-06T14:00:00Z'; do
		printf '{"symbol":"%s","interval":"5min","newest":"%s","table":"%s","version":0}\n' \
			"${s% *}" "${s#* }" "$T" >>var/watermarks/bronze.ndjson
	done
	STOCKETL_NOW=2025-06-16T09:00:00Z run --separate-stderr bronze IBM NVDA TSLA
	assert_success
	run requests '[.query.symbol, .query.outputsize, .query.month]'
	assert_equal "$(sort <<<"$output")" "$(printf '%s\n' '["IBM","compact",null]' '["NVDA","full",null]' \
		'["TSLA","full","2025-05"]' '["TSLA","full","2025-06"]')"
	# one av-fetch run, so one batch and one commit, per kind of answer
	run jq -r 'select(.txn) | .txn.appId' "$T"/_delta_log/0000000000000000000[1-3].json
	assert_equal "$(sort <<<"$output")" "$(printf '%s\n' av-fetch/intraday/5min/2025-05..2025-06/TSLA \
		av-fetch/intraday/5min/IBM av-fetch/intraday/5min/NVDA)"
	run grep -c 'plan: ' var/logs/bronze/*.log
	assert_output 3
}

@test "SIGTERM while the first of several fetches is going stops the fetch stage: no later fetch starts" {
	# IBM has a watermark (compact), NVDA none (av-fetch's default): two
	# av-fetch runs, one after the other; each answer is slow.
	bars fx/IBM.json IBM 5 "2025-06-16 04:00" 13
	bars fx/NVDA.json NVDA 5 "2025-06-16 04:00" 13
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "IBM.json", "delay_ms": 2000}]},
	        {"match": {"symbol": "NVDA"}, "responses": [{"file": "NVDA.json", "delay_ms": 2000}]}]'
	delta-create bronze --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	mkdir -p var/watermarks
	printf '{"symbol":"IBM","interval":"5min","newest":"2025-06-13T23:55:00Z","table":"%s","version":0}\n' "$T" \
		>var/watermarks/bronze.ndjson
	STOCKETL_NOW=2025-06-16T09:00:00Z "$STOCKETL_ROOT/pipelines/bronze.sh" --interval 5min -q IBM NVDA 2>bg.err 3>&- &
	local pid=$! i st=0
	for ((i = 0; i < 200; i++)); do
		[ -s "$MOCKAV_LOG" ] && break
		sleep 0.05
	done
	kill -TERM "$pid"
	wait "$pid" || st=$?
	[ "$st" -eq 75 ]
	run grep -c . "$MOCKAV_LOG"
	assert_output 1
	run grep -c 'SIGKILL' var/logs/bronze/*.log
	assert_output 0
	[ ! -e "$T/_delta_log/00000000000000000001.json" ]
}

@test "options that choose the history fetch what they say, unfiltered, and leave the watermarks alone" {
	bars fx/m.json IBM 5 "2024-03-04 09:30" 50
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "m.json"}]}]'
	mkdir -p var/watermarks
	printf '{"symbol":"IBM","interval":"5min","newest":"2025-06-17T15:20:00Z","table":"%s","version":0}\n' "$T" \
		>var/watermarks/bronze.ndjson
	cp var/watermarks/bronze.ndjson before.ndjson
	run --separate-stderr bronze --month 2024-03 IBM
	assert_success
	run requests '.query.month'
	assert_output '"2024-03"'
	run duck "SELECT count(*) AS n FROM t"
	assert_output '{"n":50}'
	diff before.ndjson var/watermarks/bronze.ndjson
}

@test "watermarks written for another table, or for a table made again since, are not used" {
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "intraday_IBM_5min_compact.json"}]}]'
	mkdir -p var/watermarks
	printf '{"symbol":"IBM","interval":"5min","newest":"2030-01-01T00:00:00Z","table":"%s","version":0}\n' \
		/elsewhere/bronze >var/watermarks/bronze.ndjson
	run --separate-stderr bronze IBM
	assert_success
	run duck "SELECT count(*) AS n FROM t"
	assert_output '{"n":100}'
	# the lake removed and the job run again: the table starts at version 0
	rm -rf lake
	run --separate-stderr bronze IBM
	assert_success
	run duck "SELECT count(*) AS n FROM t"
	assert_output '{"n":100}'
	run grep -h 'watermarks: .* emptied' var/logs/bronze/*.log
	assert_equal "${#lines[@]}" 2
}

@test "a watermark that is not a time fails the run with 65, naming the file and the symbol, and nothing is fetched" {
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "intraday_IBM_5min_compact.json"}]}]'
	delta-create bronze --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	mkdir -p var/watermarks
	printf '{"symbol":"IBM","interval":"5min","newest":"2025-06-1715:20:00Z","table":"%s","version":0}\n' "$T" \
		>var/watermarks/bronze.ndjson
	run --separate-stderr bronze IBM
	assert_failure 65
	assert_equal "${stderr_lines[0]}" "bronze: $PWD/var/watermarks/bronze.ndjson: IBM 5min: the newest bar '2025-06-1715:20:00Z' is not a time; remove its line to fetch IBM from the start"
	assert_regex "${stderr_lines[1]}" "^bronze: run [^ ]*: status 65, failed at stage watermark; "
	[ ! -s "$MOCKAV_LOG" ]
	run "$STOCKETL_ROOT/pipelines/stream.sh" -q --interval 5min IBM
	assert_failure 65
	[ ! -s "$MOCKAV_LOG" ]
}

@test "a batch that fails a check is not loaded and the job exits 2, naming the check" {
	job_serve '[{"match": {"symbol": "EMPTY"}, "responses": [{"file": "intraday_empty_series.json"}]}]'
	run --separate-stderr bronze EMPTY
	assert_failure 2
	[ -f "$T/_delta_log/00000000000000000000.json" ]
	[ ! -f "$T/_delta_log/00000000000000000001.json" ]
	assert_regex "$stderr" "bronze: run [^ ]*: status 2, failed at stage validate[ ;]"
	run facts run 'select(.ended_at) | .reason'
	assert_output --partial 'tick-validate: '
}

@test "the reason of a failed run is the failure, not the notes said before it: a batch whose every bar is quarantined fails row_count" {
	# two bars at 02:00 and 02:05 ET, before the extended session
	bars fx/night.json IBM 5 "2025-06-16 02:00" 2
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "night.json"}]}]'
	run --separate-stderr bronze -q IBM
	assert_failure 2
	run grep -c '^validate: tick-validate: stdin: record [12]: quarantined by "bar outside the extended session"' var/logs/bronze/*.log
	assert_output 2
	assert_regex "$stderr" "^bronze: run [^ ]*: status 2, failed at stage validate \(tick-validate: batch [^ ]*: fail: row_count > 0 \(line [0-9]+\): row_count = 0\); "
	run facts run 'select(.ended_at) | .reason'
	assert_regex "$output" '^"tick-validate: batch [^ ]*: fail: row_count > 0 '
}

@test "without an API key the job stops at its first stage, fetch, with one message and 78, and leaves no table nor lake behind" {
	job_serve '[]'
	unset ALPHAVANTAGE_API_KEY
	run --separate-stderr bronze IBM
	assert_failure 78
	assert_equal "${#stderr_lines[@]}" 2
	assert_regex "${stderr_lines[0]}" "^av-fetch: no API key: "
	assert_regex "${stderr_lines[1]}" "^bronze: run [^ ]*: status 78, failed at stage fetch; "
	# fetch was the run's only stage: bronze is made by the append stage, which never started
	run facts stage '.stage'
	assert_output '"fetch"'
	[ ! -e "$STOCKETL_LAKE" ]
	[ ! -s "$MOCKAV_LOG" ]
	# with a key, the first run makes the table
	echo '[{"match": {"symbol": "IBM"}, "responses": [{"file": "intraday_IBM_5min_compact.json"}]}]' >rules.json
	mockav_rules rules.json
	ALPHAVANTAGE_API_KEY=test-key run --separate-stderr bronze -q IBM
	assert_success
	[ -f "$T/_delta_log/00000000000000000000.json" ]
	[ -f "$T/_delta_log/00000000000000000001.json" ]
}

@test "with the API unreachable the job fails at fetch with 69, and no stage after it reports a failed check" {
	load helpers/net
	job_config 'retries = 0'
	port=$(net_free_port)
	sed -i "s|^base_url = .*|base_url = http://127.0.0.1:$port/query|; s|^\[av-fetch\]|&\nmax_attempts = 1|" stocketl.ini
	run --separate-stderr bronze IBM NVDA
	assert_failure 69
	[ ! -f "$T/_delta_log/00000000000000000001.json" ]
	assert_regex "$stderr" "av-fetch: IBM: giving up after 1 attempt in .*: connection failed: "
	assert_regex "$stderr" "bronze: run [^ ]*: status 69, failed at stage fetch;"
	# av-fetch failed the batch; tick-validate does not judge it, so the
	# empty batch is no failed row_count check
	[[ $stderr != *"row_count"* ]]
	[[ $stderr == *"marked failed upstream, so its checks are not judged"* ]]
	run facts check '.check'
	assert_output ''
}

@test "stock-etl runs bronze, then silver, as stages of one run under one run id, each job with its own log" {
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "intraday_IBM_5min_compact.json"}]}]'
	run --separate-stderr "$STOCKETL_ROOT/pipelines/stock-etl.sh" -q --interval 5min IBM
	assert_success
	assert_equal "${#stderr_lines[@]}" 1
	# 100 rows into bronze, the same 100 into silver
	assert_regex "$stderr" "^stock-etl: run [^ ]*: status 0; [0-9.]+ s; 200 rows committed; log "
	local id
	id=$(run_id_of "$stderr")
	[ -f "var/logs/stock-etl/$id.log" ]
	[ -f "var/logs/bronze/$id.log" ]
	[ -f "var/logs/silver/$id.log" ]
	run facts run 'select(.ended_at) | [.job, .run_id == "'"$id"'", .status]'
	assert_equal "$(sort <<<"$output")" "$(printf '%s\n' '["bronze",true,0]' '["silver",true,0]' '["stock-etl",true,0]')"
	run facts stage 'select(.job == "stock-etl") | [.stage, .status]'
	assert_output $'["bronze",0]\n["silver",0]'
	# each job's messages are in the stock-etl log, under its stage
	run grep -c '^bronze: tick-normalize: 1 envelopes, 100 bars out' "var/logs/stock-etl/$id.log"
	assert_output 1
	run grep -c '^silver: delta-append: committed version 1: 100 records for silver/bronze' "var/logs/stock-etl/$id.log"
	assert_output 1
	assert_equal "$(delta-append --txn-version silver/bronze silver)" 1
	assert_equal "$(delta-cat silver | wc -l)" 100
}

@test "stock-etl without an API key stops after fetching with one message, and silver does not run" {
	job_serve '[]'
	unset ALPHAVANTAGE_API_KEY
	run --separate-stderr "$STOCKETL_ROOT/pipelines/stock-etl.sh" --interval 5min IBM
	assert_failure 78
	assert_equal "${#stderr_lines[@]}" 2
	assert_regex "${stderr_lines[0]}" "^av-fetch: no API key: "
	assert_regex "${stderr_lines[1]}" "^stock-etl: run [^ ]*: status 78, failed at stage bronze; "
	run facts stage 'select(.job == "stock-etl") | .stage'
	assert_output '"bronze"'
	[ ! -e "$STOCKETL_LAKE" ]
}

@test "stock-etl failed at stage bronze gives bronze's reason, the failed check, not the first line bronze said" {
	job_serve '[{"match": {"symbol": "EMPTY"}, "responses": [{"file": "intraday_empty_series.json"}]}]'
	run --separate-stderr "$STOCKETL_ROOT/pipelines/stock-etl.sh" -q --interval 5min EMPTY
	assert_failure 2
	# av-fetch said first that the series is empty; the run failed at validate
	run grep -c '^bronze: av-fetch: EMPTY: no data' var/logs/stock-etl/*.log
	assert_output 1
	assert_regex "$stderr" "^stock-etl: run [^ ]*: status 2, failed at stage bronze \(tick-validate: batch [^ ]*: fail: row_count > 0 \(line [0-9]+\): row_count = 0\); "
	run facts run 'select(.ended_at and .reason) | "\(.job) \(.failed_stage) \(.reason | split(":")[0])"'
	assert_equal "$(sort <<<"$output")" $'"bronze validate tick-validate"\n"stock-etl bronze tick-validate"'
}

@test "the stream catches up, commits each cycle with each bar once, refreshes silver after each commit, and ends cleanly on SIGTERM without committing the batch in progress" {
	bars fx/c1.json IBM 5 "2025-06-17 04:00" 100 forming
	bars fx/c2.json IBM 5 "2025-06-17 04:05" 100 forming
	bars fx/c3.json IBM 5 "2025-06-17 04:10" 100 forming
	# the fourth answer is slow: SIGTERM arrives while it is awaited, once
	# silver has taken the third commit (a stop ends a silver run going)
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "c1.json"}, {"file": "c2.json"}, {"file": "c3.json"},
	        {"file": "c3.json", "delay_ms": 4000}]}]'
	# Cycles every 3 s, the first (after the catch-up) at once: start just
	# after a boundary, so that each commit's watermarks are written well
	# before the next cycle.
	while [ $((10#${EPOCHREALTIME#*.} / 1000 + ${EPOCHREALTIME%.*} % 3 * 1000)) -gt 200 ]; do
		sleep 0.02
	done
	"$STOCKETL_ROOT/pipelines/stream.sh" --interval 5min --every 3s IBM >stream.out 2>stream.err 3>&- &
	local pid=$! i
	for ((i = 0; i < 300; i++)); do
		[ "$(requests | wc -l)" -ge 4 ] && break
		sleep 0.05
	done
	for ((i = 0; i < 300; i++)); do
		[ "$(delta-append --txn-version silver/bronze silver 2>/dev/null)" = 3 ] && break
		sleep 0.05
	done
	sleep 0.3
	kill -TERM "$pid"
	local st=0
	wait "$pid" || st=$?
	[ "$st" -eq 0 ]
	run tail -n 1 stream.err
	assert_regex "$output" "^stream: run [^ ]*: status 0, stopped by SIGTERM; "
	# catch-up: 100 bars; each cycle: the bars from the watermark on
	run jq -r 'select(.commitInfo) | .commitInfo.operationMetrics.numOutputRows' "$T"/_delta_log/0000000000000000000[1-9].json
	assert_output $'100\n2\n2'
	run jq -r 'select(.txn) | .txn.appId' "$T"/_delta_log/00000000000000000003.json
	assert_output stream/intraday/5min/IBM
	[ "$(requests | wc -l)" -eq 4 ]
	[ ! -e "$T/_delta_log/00000000000000000004.json" ]
	run facts run 'select(.ended_at and .job == "stream") | [.job, .status, .failed_stage, .reason]'
	assert_output '["stream",0,null,"stopped by SIGTERM during stage follow"]'
	run jq -r '.newest' var/watermarks/bronze.ndjson
	assert_output 2025-06-17T16:25:00Z
	# silver after each of the three commits, under the stream's run id; a
	# silver run that starts after the next commit has landed (a loaded
	# machine) takes both, and the one after it has nothing left to take
	assert_equal "$(delta-append --txn-version silver/bronze silver)" 3
	run jq -r 'select(.txn) | .txn.version' "$STOCKETL_LAKE"/silver/_delta_log/0000000000000000000[1-9].json
	assert_regex "$output" $'^1\n(2\n)?3$'
	run facts stage 'select(.job == "silver" and .stage == "merge") | .status'
	assert_regex "$output" $'^0\n0(\n0)?$'
	# each bar once in silver, at its latest value: 102 bars in all
	assert_equal "$(delta-cat silver | wc -l)" 102
	# 12:20 formed at 107.43 in the second cycle and was revised to 107.40 in the third
	run delta-cat --where "trade_timestamp >= '2025-06-17T16:20:00Z'" --columns trade_timestamp,close silver
	assert_output $'{"trade_timestamp":"2025-06-17T16:20:00Z","close":107.4}\n{"trade_timestamp":"2025-06-17T16:25:00Z","close":107.48}'
}

@test "SIGTERM stops the stream while its silver run waits for another silver run: silver is not waited for" {
	bars fx/a.json IBM 5 "2025-06-17 09:30" 20
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "a.json"}]}]'
	# a silver run of cron's holds silver's lock (here: this test's shell)
	local lockfd i st=0
	mkdir -p var/locks
	exec {lockfd}>>var/locks/silver.lock
	flock "$lockfd"
	"$STOCKETL_ROOT/pipelines/stream.sh" --interval 5min --every 1h IBM >stream.out 2>stream.err 3>&- {lockfd}>&- &
	local pid=$!
	for ((i = 0; i < 300; i++)); do
		grep -q 'silver: run [^ ]*: waiting for another silver run to end' stream.err && break
		sleep 0.05
	done
	kill -TERM "$pid"
	# (a stream that waited for silver would wait for this test: the lock
	# is let go after 10 s, and silver then made)
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	exec {lockfd}>&-
	wait "$pid" || st=$?
	[ "$st" -eq 0 ]
	[ -f "$T/_delta_log/00000000000000000001.json" ]
	run grep -c '^silver: run [^ ]*: stopped by SIGTERM while waiting for the lock$' stream.err
	assert_output 1
	run tail -n 1 stream.err
	assert_regex "$output" "^stream: run [^ ]*: status 0, stopped by SIGTERM; "
	# silver was not made after the holder let go
	[ ! -e "$STOCKETL_LAKE/silver/_delta_log/00000000000000000001.json" ]
}

@test "the stream's systemd unit passes systemd-analyze verify" {
	command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
	mkdir -p unit
	sed "s|/srv/stocketl|$STOCKETL_ROOT|g" "$STOCKETL_ROOT/conf/systemd/stocketl-stream.service" \
		>unit/stocketl-stream.service
	run --separate-stderr systemd-analyze verify --man=no "$PWD/unit/stocketl-stream.service"
	assert_success
	# a value systemd cannot parse is only a warning: none may be there
	assert_equal "$stderr" ""
	run grep -E '^(ExecStart|Restart|KillSignal|KillMode|WorkingDirectory|Environment)=' \
		"$STOCKETL_ROOT/conf/systemd/stocketl-stream.service"
	assert_line 'ExecStart=/srv/stocketl/pipelines/stream.sh -q'
	assert_line 'Restart=on-failure'
	assert_line 'KillSignal=SIGTERM'
	assert_line 'Environment=STOCKETL_CONFIG=/srv/stocketl/conf/stocketl.ini'
	assert_line 'Environment=STOCKETL_STATE=/srv/stocketl/var'
}

@test "the crontab runs stock-etl every 5 minutes of the New York session on weekdays and after the close, compact nightly and vacuum weekly, with scripts that exist" {
	local tab=$STOCKETL_ROOT/conf/crontab
	run grep -E '^CRON_TZ=' "$tab"
	assert_output CRON_TZ=America/New_York
	run grep -E '^[^#A-Z].*' "$tab"
	assert_output "$(printf '%s  cd /srv/stocketl && pipelines/%s >>var/cron.log 2>&1\n' \
		'*/5 4-19 * * 1-5' 'stock-etl.sh -q' '0,5 20 * * 1-5' 'stock-etl.sh -q' \
		'30 21 * * 1-5' 'compact.sh -q --wait' '30 6 * * 0' 'compact.sh -q --wait --vacuum')"
	local script
	while read -r script; do
		[ -x "$STOCKETL_ROOT/$script" ]
	done < <(grep -oE 'pipelines/[a-z-]+\.sh' "$tab")
}

# make_job TARGET VAR=VALUE...: make in the tree as if by hand (not nested
# in the make that runs the tests), with the programs under test.
make_job() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$STOCKETL_ROOT" -s --no-print-directory \
		O="$O_DIR" OUTBIN="$STOCKETL_BIN" "$@"
}

@test "make run, silver, stock-etl and compact run their jobs with ARGS" {
	O_DIR=$(cd "$STOCKETL_ROOT/${O:-build/rel}" && pwd)
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "intraday_IBM_5min_compact.json"}]}]'
	export STOCKETL_STATE=$PWD/var
	run --separate-stderr make_job run ARGS="-q --interval 5min IBM"
	assert_success
	assert_regex "$stderr" "^bronze: run [^ ]*: status 0; [0-9.]+ s; 100 rows committed; log $PWD/var/logs/bronze/"
	run --separate-stderr make_job silver ARGS=-q
	assert_success
	assert_regex "$stderr" "^silver: run [^ ]*: status 0; [0-9.]+ s; 100 rows committed; log $PWD/var/logs/silver/"
	# the next five-minute run: the newest bar again, into bronze and silver
	STOCKETL_NOW=2025-06-17T15:25:00Z run --separate-stderr make_job stock-etl ARGS="-q --interval 5min IBM"
	assert_success
	assert_regex "$stderr" "^stock-etl: run [^ ]*: status 0; [0-9.]+ s; 2 rows committed; log $PWD/var/logs/stock-etl/"
	assert_equal "$(delta-cat bronze | wc -l)" 101
	assert_equal "$(delta-cat silver | wc -l)" 100
	run --separate-stderr make_job compact ARGS=-q
	assert_success
	assert_regex "$stderr" "^compact: run [^ ]*: status 0; [0-9.]+ s; 0 rows committed; log $PWD/var/logs/compact/"
	local id
	run facts stage 'select(.job == "compact") | [.stage, .status]'
	assert_output $'["bronze",0]\n["silver",0]'
	# bronze's newest day had two files: optimized into one; silver's merge
	# rewrote its file, so silver has nothing to optimize; both checkpointed
	run jq -r 'select(.commitInfo) | .commitInfo.operation' "$STOCKETL_LAKE/bronze/_delta_log/00000000000000000003.json"
	assert_output OPTIMIZE
	[ ! -e "$STOCKETL_LAKE/silver/_delta_log/00000000000000000003.json" ]
	[ -f "$STOCKETL_LAKE/bronze/_delta_log/_last_checkpoint" ]
	[ -f "$STOCKETL_LAKE/silver/_delta_log/_last_checkpoint" ]
	assert_equal "$(delta-cat bronze | wc -l)" 101
	assert_equal "$(delta-cat silver | wc -l)" 100
	run --separate-stderr make_job compact ARGS="-q --vacuum"
	assert_success
	id=$(run_id_of "$stderr")
	run grep -E '^(bronze|silver): delta-compact: (bronze|silver): vacuum ' "var/logs/compact/$id.log"
	assert_equal "${#lines[@]}" 2
}

@test "make treats a job's status 1 (loaded, a record quarantined) as success and a failed job as failure" {
	O_DIR=$(cd "$STOCKETL_ROOT/${O:-build/rel}" && pwd)
	mkdir -p fx
	# one bar whose high is below its low: quarantined by the shipped checks
	sed '13s/"282.5100"/"281.0000"/' "$FIXTURES/alphavantage/intraday_IBM_5min_compact.json" >fx/bad_bar.json
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "bad_bar.json"}]},
		{"match": {"symbol": "EMPTY"}, "responses": [{"file": "intraday_empty_series.json"}]}]' 'retries = 0'
	STOCKETL_STATE=$PWD/var run --separate-stderr make_job run ARGS="-q --interval 5min IBM"
	assert_success
	assert_regex "$stderr" "^bronze: run [^ ]*: status 1 \(loaded; records quarantined or checks warned\); [0-9.]+ s; 99 rows committed; "
	STOCKETL_STATE=$PWD/var run --separate-stderr make_job run ARGS="-q --interval 5min EMPTY"
	assert_failure
	assert_regex "$stderr" "bronze: run [^ ]*: status 2, failed at stage validate[ ;]"
	# make names the job's own status
	assert_regex "$stderr" "make: \*\*\* \[Makefile:[0-9]+: run\] Error 2"
}

@test "make run without an API key stops at the job's first stage with one message and 78, and leaves no table nor lake behind" {
	O_DIR=$(cd "$STOCKETL_ROOT/${O:-build/rel}" && pwd)
	job_serve '[]'
	unset ALPHAVANTAGE_API_KEY
	STOCKETL_STATE=$PWD/var run --separate-stderr make_job run ARGS="--interval 5min IBM"
	assert_failure 2
	# the one message, the run's summary, and make's note of the job's status
	assert_equal "${#stderr_lines[@]}" 3
	assert_regex "${stderr_lines[0]}" "^av-fetch: no API key: looked at --api-key-file, \\\$ALPHAVANTAGE_API_KEY, "
	assert_regex "${stderr_lines[1]}" "^bronze: run [^ ]*: status 78, failed at stage fetch; "
	assert_regex "${stderr_lines[2]}" "^make: \*\*\* \[Makefile:[0-9]+: run\] Error 78$"
	run facts stage '[.stage, .status]'
	assert_output '["fetch",78]'
	[ ! -e "$STOCKETL_LAKE" ]
	[ ! -s "$MOCKAV_LOG" ]
}

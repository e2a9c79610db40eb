# Helpers of the job suites (pipeline.bats, runner.bats, backfill.bats):
# the configuration that points the jobs at the mock API, intraday answers
# made to measure, and readers of what a run leaves under its state
# directory (./var).
#
#   load helpers/job
# shellcheck shell=bash

# job_serve RULES [LINE...]: start the mock API with RULES (a JSON rules
# document) over the Alpha Vantage fixtures and the files a test wrote into
# ./fx, and write the configuration (job_config LINE...).  The test's
# teardown stops the server (mockav_stop).
job_serve() {
	mkdir -p fx
	cp "$FIXTURES"/alphavantage/*.json fx/
	printf '%s\n' "$1" >rules.json
	shift
	mockav_start "$PWD/rules.json" "$PWD/fx"
	job_config "$@"
}

# job_config [LINE...]: write ./stocketl.ini for the mock API ($MOCKAV_URL)
# without rate limits and with quick retries, each LINE added to its [job]
# section (retry_delay is 0s unless a LINE sets it), and point
# $STOCKETL_CONFIG at it.
job_config() {
	local line delay="retry_delay = 0s"
	for line in "$@"; do
		[[ $line == retry_delay* ]] && delay=
	done
	{
		printf '[API]\nbase_url = %s\n\n' "$MOCKAV_URL"
		printf '[av-fetch]\ncalls_per_minute = 0\ncalls_per_second = 0\nsettle = 0s\n'
		printf 'backoff_base = 10ms\nbackoff_max = 20ms\nthrottle_wait = 10ms\nburst_wait = 10ms\n'
		printf '\n[job]\n'
		[ -z "$delay" ] || printf '%s\n' "$delay"
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} >"$BATS_TEST_TMPDIR/stocketl.ini"
	export STOCKETL_CONFIG=$BATS_TEST_TMPDIR/stocketl.ini
}

# bars FILE SYMBOL MINUTES START N [forming]: write to FILE an intraday
# answer of N bars of MINUTES minutes, the first at START (US/Eastern wall
# time, "YYYY-MM-DD HH:MM"), newest first, as Alpha Vantage sends it.  A
# bar's prices follow its time: it opens and closes at 100 + M/100, M being
# its minute of the day in New York (12:15 is minute 735: 107.35), high and
# low 0.05 either side, volume 1000 + M.  With
# "forming", the newest bar closes 0.03 higher: the API's value of a bar
# that has not ended yet, revised in the next answer.
bars() {
	local file=$1 sym=$2 min=$3 start=$4 n=$5 forming=${6:-} t0 k t label hm p c sep=""
	t0=$(TZ=America/New_York date -d "$start" +%s)
	{
		printf '{"Meta Data":{"1. Information":"Intraday (%smin) open, high, low, close prices and volume",' "$min"
		printf '"2. Symbol":"%s","4. Interval":"%smin","6. Time Zone":"US/Eastern"},' "$sym" "$min"
		printf '"Time Series (%smin)":{' "$min"
		for ((k = n - 1; k >= 0; k--)); do
			t=$((t0 + k * min * 60))
			TZ=America/New_York printf -v label '%(%Y-%m-%d %H:%M:%S)T' "$t"
			TZ=America/New_York printf -v hm '%(%H %M)T' "$t"
			p=$((10000 + (10#${hm% *} * 60 + 10#${hm#* })))
			c=$p
			[ "$k" = $((n - 1)) ] && [ "$forming" = forming ] && c=$((p + 3))
			printf '%s"%s":{"1. open":"%d.%02d","2. high":"%d.%02d","3. low":"%d.%02d","4. close":"%d.%02d","5. volume":"%d"}' \
				"$sep" "$label" $((p / 100)) $((p % 100)) $(((p + 5) / 100)) $(((p + 5) % 100)) \
				$(((p - 5) / 100)) $(((p - 5) % 100)) $((c / 100)) $((c % 100)) $((p - 9000))
			sep=,
		done
		printf '}}\n'
	} >"$file"
}

# bar_time START MINUTES K: bar K's start in UTC (RFC 3339), for STOCKETL_NOW.
bar_time() {
	date -u -d "@$(($(TZ=America/New_York date -d "$1" +%s) + $3 * $2 * 60))" +%Y-%m-%dT%H:%M:%SZ
}

# duck SQL: a DuckDB query over bronze's Parquet files (table t), one JSON
# object per row.
duck() {
	duckdb-query.js "WITH t AS (SELECT * FROM read_parquet('$STOCKETL_LAKE/bronze/*/*.parquet', hive_partitioning = true, hive_types = {'trade_date': DATE})) $1"
}

# facts KIND [JQ]: the spool's facts of KIND (every .ndjson file), as JSON
# lines, through the jq filter JQ (default .).
facts() {
	cat var/spool/*.ndjson 2>/dev/null | jq -c "select(.fact == \"$1\") | ${2:-.}"
}

# requests [JQ]: the mock's request log, through the jq filter JQ.
requests() {
	jq -c "${1:-.query}" "$MOCKAV_LOG"
}

# run_id_of STDERR: the run id the summary line of a run names.
run_id_of() {
	sed -n 's/^[a-z-]*: run \([0-9TZ-]*\): .*rows\? committed.*/\1/p' <<<"$1" | tail -n 1
}

# facts_all KIND [JQ]: as facts, over the .part files too: those of the
# processes of a run that was killed, which never completed them.
facts_all() {
	cat var/spool/*.ndjson var/spool/*.part 2>/dev/null | jq -c "select(.fact == \"$1\") | ${2:-.}"
}

# job_alone JOB ARG...: pipelines/JOB.sh -q ARG... in the background, in a
# session of its own (setsid), so that job_crash can end every process of
# it; its stderr in bg.err.
job_alone() {
	local job=$1
	shift
	setsid "$STOCKETL_ROOT/pipelines/$job.sh" -q "$@" 2>bg.err 3>&- &
}

# job_crash JOB: SIGKILL, at once, to every process of the run of JOB that
# holds its lock (started by job_alone: its process group is the runner's
# pid), as a crash or a power cut ends a run; then wait until they have all
# gone, reaped too (a zombie still has its pid, and the loader takes a
# spool file whose writer's pid runs as live).  The run's id in
# CRASHED_RUN, its runner's pid in CRASHED_PID.
job_crash() {
	local lock=var/locks/$1.lock i
	# shellcheck disable=SC2034 # for the test
	CRASHED_RUN=$(sed -n 's/^run \([^ ,]*\), pid [0-9]*,.*/\1/p' "$lock")
	CRASHED_PID=$(sed -n 's/^run [^ ,]*, pid \([0-9]*\),.*/\1/p' "$lock")
	if [ -z "$CRASHED_PID" ] || [ "$(ps -o pgid= -p "$CRASHED_PID" | tr -d ' ')" != "$CRASHED_PID" ]; then
		echo "job_crash: $lock names no run that leads a process group of its own" >&2
		return 1
	fi
	kill -KILL -- "-$CRASHED_PID"
	for ((i = 0; i < 400; i++)); do
		[ -z "$(ps -o pid= -g "$CRASHED_PID")" ] && flock -n "$lock" true && return 0
		sleep 0.05
	done
	echo "job_crash: the processes of the run are still there" >&2
	return 1
}

#!/usr/bin/env bats
# The job runner (pipelines/lib/runner.sh), through the bronze job against
# the mock API: run ids, logs and the spool's run and stage facts, the lock
# between runs of one job, which stage a failed run names, retries, the
# time limit, signals, on_failure and the loader.

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
# shellcheck disable=SC2016 # [job] commands are written as the shell will see them
# shellcheck disable=SC2030,SC2031 # tests export and set variables for themselves
load helpers/common
load helpers/mockav
load helpers/job
load helpers/pg

COMPACT='[{"match": {"symbol": "IBM"}, "responses": [{"file": "intraday_IBM_5min_compact.json"}]}]'
SLOW='[{"match": {"symbol": "IBM"}, "responses": [{"file": "intraday_IBM_5min_compact.json", "delay_ms": 1500}]}]'
# The first answer never comes in time, the next at once.
HANG='[{"match": {"symbol": "IBM"}, "responses": [{"file": "intraday_IBM_5min_compact.json", "delay_ms": 60000}, {"file": "intraday_IBM_5min_compact.json"}]}]'

setup() {
	common_setup
	export ALPHAVANTAGE_API_KEY=test-key STOCKETL_LAKE=$BATS_TEST_TMPDIR/lake
	T=$STOCKETL_LAKE/bronze
}

teardown() {
	[ -z "${CRASHED_PID:-}" ] || kill -KILL -- "-$CRASHED_PID" 2>/dev/null || true
	[ -z "${MOCKAV_PID:-}" ] || mockav_stop
	[ -z "${STOCKETL_TEST_PG_DIR:-}" ] || pg_stop
}

bronze() {
	"$STOCKETL_ROOT/pipelines/bronze.sh" --interval 5min "$@"
}

# bronze_bg ARG...: the job in the background, its process in $!.
bronze_bg() {
	"$STOCKETL_ROOT/pipelines/bronze.sh" --interval 5min -q "$@" 2>bg.err 3>&- &
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

# wait_for CMD...: until CMD succeeds, at most 10 s.
wait_for() {
	local i
	for ((i = 0; i < 200; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

lock_held() {
	[ -s var/locks/bronze.lock ]
}

# fetching: the mock API has had a request.
fetching() {
	[ -s "$MOCKAV_LOG" ]
}

# bronze_crash: a bronze run killed with SIGKILL, all of it at once, while
# its fetch waits for the API's first answer ($HANG); its run id in
# CRASHED_RUN, its runner's pid in CRASHED_PID (job_crash).
bronze_crash() {
	job_alone bronze --interval 5min IBM
	CRASHED_PID=$!
	wait_for fetching
	wait_for lock_held
	job_crash bronze
}

@test "--help names the job's arguments and the runner's options" {
	run --separate-stderr "$STOCKETL_ROOT/pipelines/bronze.sh" --help
	assert_success
	assert_line --index 0 "usage: bronze.sh [-q] [--wait] [--config FILE] [av-fetch options] [SYMBOL ...]"
	assert_line --partial "--wait       wait for a run of the same job that is going"
	run --separate-stderr "$STOCKETL_ROOT/pipelines/backfill.sh" -h
	assert_line --index 0 "usage: backfill.sh [-q] [--wait] [--config FILE] FROM TO [av-fetch options] [SYMBOL ...]"
}

@test "a run has an id, a log of every stage's stderr under the stage's name, run and stage facts in the spool, and a summary" {
	job_serve "$COMPACT"
	run --separate-stderr bronze IBM
	assert_success
	local id
	id=$(run_id_of "$stderr")
	assert_regex "$id" '^[0-9]{8}T[0-9]{6}Z-[0-9]+$'
	assert_regex "${stderr_lines[-1]}" "^bronze: run $id: status 0; [0-9]+\.[0-9] s; 100 rows committed; log $PWD/var/logs/bronze/$id\.log$"
	# the stages' own lines, on stderr as they wrote them and in the log under their names
	assert_regex "$stderr" $'\ntick-normalize: 1 envelopes, 100 bars out'
	local log=var/logs/bronze/$id.log
	run grep -E '^(fetch|normalize|validate|append|watermark): ' "$log"
	assert_line "fetch: av-fetch: 1 requests; answers: 1 data; 100 bars; 0 retries"
	assert_line --partial "normalize: tick-normalize: 1 envelopes, 100 bars out"
	assert_line "append: delta-append: committed version 1: 100 records for av-fetch/intraday/5min/IBM"
	assert_line "watermark: watermark: bronze version 1: 100 rows, 1 watermarks advanced"
	run grep -cE "^# [0-9T:.-]+Z bronze run $id attempt 1: (started|status 0)" "$log"
	assert_output 2
	# the spool: a run fact when the attempt starts and when it ends, a
	# stage fact for each stage, in complete files of the runner's own
	[ -z "$(find var/spool -name '*.part')" ]
	run facts run '[.run_id == "'"$id"'", .job, .attempt, .status, .failed_stage, .reason, (.ended_at != null)]'
	assert_output $'[true,"bronze",1,null,null,null,false]\n[true,"bronze",1,0,null,null,true]'
	run facts run 'keys_unsorted'
	assert_line --index 0 '["fact","run_id","program","at","job","attempt","started_at","ended_at","status","failed_stage","reason","host"]'
	run facts stage '[.stage, .status, .records_in, .records_out, .rejected]'
	assert_output "$(printf '%s\n' '["fetch",0,null,1,null]' '["normalize",0,1,100,0]' \
		'["validate",0,100,100,0]' '["append",0,100,100,null]' '["watermark",0,null,null,null]')"
	run facts stage 'select((.at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$") | not) or .started_at > .ended_at)'
	assert_output ""
}

@test "-q leaves the summary alone on stderr; the log keeps every stage's messages" {
	job_serve "$COMPACT"
	run --separate-stderr bronze -q IBM
	assert_success
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "$stderr" "^bronze: run [^ ]*: status 0; "
	run grep -c '^normalize: tick-normalize: ' var/logs/bronze/*.log
	assert_output 1
}

@test "-q: a failed run's summary says why, in its one line; a run that only warned says it loaded" {
	# A bar whose high is below its low is quarantined: status 1, loaded.
	mkdir fx
	sed -e '0,/"2. high": "282.5100"/s//"2. high": "282.0000"/' -e 's/"IBM"/"BAD"/' \
		"$FIXTURES/alphavantage/intraday_IBM_5min_compact.json" >fx/bad.json
	job_serve '[{"match": {"symbol": "BAD"}, "responses": [{"file": "bad.json"}]}]'
	run --separate-stderr bronze -q BAD
	assert_failure 1
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "$stderr" "^bronze: run [^ ]*: status 1 \(loaded; records quarantined or checks warned\); "
	unset ALPHAVANTAGE_API_KEY
	run --separate-stderr bronze -q BAD
	assert_failure 78
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "$stderr" "^bronze: run [^ ]*: status 78, failed at stage fetch \(av-fetch: no API key: [^)]*\)[^;]*; [0-9.]+ s; 0 rows committed; log "
	# Not quiet, the stage says it itself, and the summary does not again.
	run --separate-stderr bronze BAD
	assert_failure 78
	assert_equal "${#stderr_lines[@]}" 2
	assert_regex "${stderr_lines[1]}" "^bronze: run [^ ]*: status 78, failed at stage fetch; "
}

@test "a second run of a job while one is going exits 75, says which run holds the lock, and fetches nothing" {
	job_serve "$SLOW"
	bronze_bg IBM
	local first=$!
	wait_for lock_held
	run --separate-stderr bronze IBM
	assert_failure 75
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "$stderr" "^bronze: run [^ ]*: not started: another bronze run is going \(run [0-9TZ-]+, pid $first, since [0-9T:.-]+Z\); exit 75 \(on_overlap = skip; --wait waits for it\)$"
	wait "$first"
	[ "$(requests | wc -l)" -eq 1 ]
	run facts run 'select(.status == 75) | .reason'
	assert_output --partial '"skipped: another run is going (run '
}

@test "--wait, or on_overlap = wait, waits for the run that is going and then runs" {
	job_serve "$SLOW"
	bronze_bg IBM
	local first=$!
	wait_for lock_held
	run --separate-stderr bronze --wait IBM
	assert_success
	assert_regex "${stderr_lines[0]}" "^bronze: run [^ ]*: waiting for another bronze run to end \(run [0-9TZ-]+, pid $first, since "
	wait "$first"
	# the second run's attempt began after the first run's ended
	run facts run 'select(.ended_at) | [.started_at, .ended_at]'
	run jq -rs '.[0][1] < .[1][0]' <<<"$output"
	assert_output true
	# the same from the configuration
	job_config "on_overlap = wait"
	export STOCKETL_NOW=2025-06-17T15:25:00Z
	rm var/locks/bronze.lock
	bronze_bg IBM
	first=$!
	wait_for lock_held
	run --separate-stderr bronze IBM
	assert_success
	assert_regex "${stderr_lines[0]}" "^bronze: run [^ ]*: waiting for another bronze run to end \(run [0-9TZ-]+, pid $first, "
	wait "$first"
}

@test "a failing stage is named, with its first message as the reason and its stderr in the log; the stages that lost their reader are not blamed" {
	job_serve "$COMPACT"
	printf '\n[delta]\nmax_open_files = 0\n' >>"$STOCKETL_CONFIG"
	run --separate-stderr bronze IBM
	assert_failure 78
	assert_regex "${stderr_lines[-1]}" "^bronze: run [^ ]*: status 78, failed at stage append; "
	run facts run 'select(.ended_at) | [.status, .failed_stage, .reason]'
	assert_output "[78,\"append\",\"delta-append: [delta] max_open_files: expected an integer from 1 to 4096, got '0'\"]"
	run facts stage '[.stage, .status]'
	assert_output "$(printf '%s\n' '["fetch",0]' '["normalize",0]' '["validate",0]' '["append",78]' \
		'["watermark",0]')"
	run grep -c "^append: delta-append: \[delta\] max_open_files" var/logs/bronze/*.log
	assert_output 1
	# 78 is not temporary: one attempt
	run facts run 'select(.ended_at) | .attempt'
	assert_output 1
}

@test "a stage that fails with 64 or more is the run's failure even when the stages after it succeed" {
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "intraday_IBM_5min_compact.json"}]},
	            {"match": {"symbol": "NVDA"}, "responses": [{"file": "intraday_NVDA_1min_extended.json"}]}]'
	run --separate-stderr bronze IBM NVDA
	assert_failure 65
	# IBM's answer was loaded; NVDA's was another series than the one asked for
	assert_regex "${stderr_lines[-1]}" "^bronze: run [^ ]*: status 65, failed at stage fetch; [0-9.]+ s; 100 rows committed; "
	run facts run 'select(.ended_at) | [.failed_stage, (.reason | startswith("av-fetch: NVDA: "))]'
	assert_output '["fetch",true]'
	run facts stage 'select(.stage == "append") | .status'
	assert_output 0
}

@test "a temporary failure is retried under the same run id, each attempt in the spool: the daily limit once, then data" {
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "throttle_information_daily_limit.json"},
	            {"file": "intraday_IBM_5min_compact.json"}]}]'
	run --separate-stderr bronze IBM
	assert_success
	stderr_has "bronze: attempt 1 ended with status 75 at stage fetch: attempt 2 of 3 in 0.000 s"
	assert_regex "${stderr_lines[-1]}" "^bronze: run [^ ]*: status 0 after 2 attempts; [0-9.]+ s; 100 rows committed; "
	run facts run '[.attempt, .status, .failed_stage]'
	assert_output $'[1,null,null]\n[1,75,"fetch"]\n[2,null,null]\n[2,0,null]'
	run facts run '.run_id'
	assert_equal "$(sort -u <<<"$output" | wc -l)" 1
	[ "$(requests | wc -l)" -eq 2 ]
	run grep -cE '^# .* bronze run [^ ]* attempt [12]: started' var/logs/bronze/*.log
	assert_output 2
}

@test "retries wait longer each time, stop at [job] retries, and other statuses are never retried" {
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "throttle_information_daily_limit.json"}]}]' \
		"retries = 2" "retry_delay = 200ms"
	run --separate-stderr bronze IBM
	assert_failure 75
	stderr_has "attempt 1 ended with status 75 at stage fetch: attempt 2 of 3 in 0.200 s"
	stderr_has "attempt 2 ended with status 75 at stage fetch: attempt 3 of 3 in 0.400 s"
	stderr_has "attempt 3 of 3 ended with status 75; no retries left"
	assert_regex "${stderr_lines[-1]}" "^bronze: run [^ ]*: status 75 after 3 attempts, failed at stage fetch; "
	[ "$(requests | wc -l)" -eq 3 ]
	unset ALPHAVANTAGE_API_KEY
	run --separate-stderr bronze IBM
	assert_failure 78
	run facts run 'select(.ended_at and .status == 78) | .attempt'
	assert_output 1
}

@test "a run that outlives [job] timeout is stopped, ends with 75 naming the stage it was in, and is not retried" {
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "intraday_IBM_5min_compact.json", "delay_ms": 20000}]}]' \
		"timeout = 1s" "retries = 2"
	local t0=$SECONDS
	run --separate-stderr bronze IBM
	assert_failure 75
	[ $((SECONDS - t0)) -lt 10 ]
	assert_regex "${stderr_lines[-1]}" "^bronze: run [^ ]*: status 75, failed at stage fetch, timed out; "
	run facts run 'select(.ended_at) | [.attempt, .status, .failed_stage, .reason]'
	assert_output '[1,75,"fetch","timed out: the run'"'"'s time limit ([job] timeout = 1s) ran out during stage fetch"]'
	[ ! -f "$T/_delta_log/00000000000000000001.json" ]
	# the stages killed are said by the run's status, not by bash's notes of its jobs
	run grep -h 'Killed\|Terminated' var/logs/bronze/*.log
	assert_output ""
}

@test "SIGTERM stops a run: 75, the stage it was in, no retry and no on_failure" {
	job_serve "$SLOW" 'on_failure = touch "$HOME/failed"'
	bronze_bg IBM
	local pid=$! st=0
	# once the fetch has asked (its answer takes 1.5 s): before it, the
	# run may still be planning, and then no stage is running
	wait_for fetching
	kill -TERM "$pid"
	wait "$pid" || st=$?
	[ "$st" -eq 75 ]
	run cat bg.err
	assert_regex "$output" "^bronze: run [^ ]*: status 75, failed at stage fetch, stopped by SIGTERM; "
	run facts run 'select(.ended_at) | [.attempt, .status, .reason]'
	assert_output '[1,75,"stopped by SIGTERM during stage fetch"]'
	[ ! -e failed ]
}

@test "a run killed with SIGKILL is recorded by the job's next run: its attempt ends lost, without a status, with the stage it was in and the run that found it" {
	job_serve "$HANG"
	bronze_crash
	local host
	host=$(hostname)
	# nothing of the killed run says it ended
	run facts_all run "select(.run_id == \"$CRASHED_RUN\") | [.attempt, .ended_at]"
	assert_output '[1,null]'
	run --separate-stderr bronze IBM
	assert_success
	local id
	id=$(run_id_of "$stderr")
	assert_equal "${stderr_lines[0]}" "bronze: run $CRASHED_RUN died without recording its end (attempt 1, stage fetch, pid $CRASHED_PID): recorded as lost"
	run grep -c "run $CRASHED_RUN died without recording its end" "var/logs/bronze/$id.log"
	assert_output 1
	run facts_all run "select(.run_id == \"$CRASHED_RUN\" and .ended_at) | [.job, .attempt, .status, .failed_stage, .reason, .host == \"$host\", .ended_at > .started_at]"
	assert_output "[\"bronze\",1,null,\"fetch\",\"the runner died during stage fetch (pid $CRASHED_PID on $host); found by run $id\",true,true]"
	# found once the next run had the lock, before its attempt began
	run facts_all run "select(.ended_at and (.run_id == \"$CRASHED_RUN\" or .run_id == \"$id\")) | .ended_at, .started_at"
	run jq -rs '.[0] < .[3]' <<<"$output"
	assert_output true
	# a run that ends leaves nothing for the next one to find
	[ ! -s var/locks/bronze.lock ]
	run --separate-stderr bronze -q IBM
	assert_success
	run grep -c 'died' "var/logs/bronze/$(run_id_of "$stderr").log"
	assert_output 0
	assert_equal "$(facts_all run 'select(.ended_at and .status == null)' | wc -l)" 1
	# the history: lost, not running, in JSON and in the table
	run --separate-stderr etl-history --source spool
	assert_success
	run jq -c ".runs[] | [.run_id == \"$CRASHED_RUN\", .attempt, .state, .status, .failed_stage, .ended_at != null]" <<<"$output"
	assert_output "$(printf '%s\n' '[false,1,"ended",0,null,true]' '[false,1,"ended",0,null,true]' '[true,1,"lost",null,"fetch",true]')"
	run --separate-stderr etl-history --source spool --format table
	assert_line --regexp "^$CRASHED_RUN +1 +bronze +[0-9T:-]+Z +[0-9.]+s +lost +fetch +-$"
	refute_line --partial running
}

@test "a stock-etl run killed inside its bronze stage is recorded lost by stock-etl's next run, at stage bronze; a bronze run that finds it in bronze's lock leaves it to stock-etl" {
	job_serve "$HANG"
	job_alone stock-etl --interval 5min IBM
	CRASHED_PID=$!
	wait_for fetching
	job_crash stock-etl
	run cat var/locks/bronze.lock
	assert_line --index 0 --regexp "^run $CRASHED_RUN, pid [0-9]+, since "
	assert_line --index 1 --regexp "^attempt 1 started [0-9T:.-]+Z on [^ ]+, nested in stock-etl$"
	run --separate-stderr bronze -q IBM
	assert_success
	run grep -c "a bronze run inside stock-etl, died in attempt 1 during stage fetch; stock-etl's next run records it" \
		"var/logs/bronze/$(run_id_of "$stderr").log"
	assert_output 1
	assert_equal "$(facts_all run 'select(.ended_at and .status == null)' | wc -l)" 0
	run --separate-stderr "$STOCKETL_ROOT/pipelines/stock-etl.sh" -q --interval 5min IBM
	assert_success
	run facts_all run 'select(.ended_at and .status == null) | [.run_id == "'"$CRASHED_RUN"'", .job, .attempt, .failed_stage]'
	assert_output '[true,"stock-etl",1,"bronze"]'
	run --separate-stderr etl-history --source spool
	run jq -c '.runs[] | select(.run_id == "'"$CRASHED_RUN"'") | [.job, .state, .status, .failed_stage]' <<<"$output"
	assert_output '["stock-etl","lost",null,"bronze"]'
}

@test "etl-history: a killed run is lost, not running, before the job runs again (its runner left the job's lock); a run that is going is running" {
	job_serve "$HANG"
	bronze_crash
	run --separate-stderr etl-history --source spool
	assert_success
	run jq -c '.runs[] | [.run_id == "'"$CRASHED_RUN"'", .state, .status, .ended_at, .reason]' <<<"$output"
	assert_output '[true,"lost",null,null,"the runner has gone: the job'"'"'s lock is free and still names the run"]'
	run --separate-stderr etl-history --source spool --format table
	assert_line --index 2 --regexp "^$CRASHED_RUN +1 +bronze +[0-9T:-]+Z +- +lost +- +-$"
	# a run that is going, its fetch waiting for the API
	mockav_rules <(printf '%s\n' "$HANG")
	: >"$MOCKAV_LOG"
	local dead=$CRASHED_RUN
	job_alone bronze --interval 5min IBM
	CRASHED_PID=$!
	wait_for fetching
	run --separate-stderr etl-history --source spool
	assert_success
	run jq -c '.runs[] | [.run_id == "'"$dead"'", .state, .status]' <<<"$output"
	assert_output $'[false,"running",null]\n[true,"lost",null]'
	job_crash bronze
}

@test "with PostgreSQL, a killed run and its lost attempt reach the database together, loaded by the next run, and the history from it says lost" {
	job_serve "$HANG"
	pg_start
	pg_env
	# shellcheck disable=SC2153 # exported by pg_start
	export STOCKETL_PG_DSN=$STOCKETL_TEST_PG_DSN
	stocketl-db -q migrate
	bronze_crash
	run --separate-stderr bronze -q IBM
	assert_success
	local id
	id=$(run_id_of "$stderr")
	run ls var/spool
	assert_output ""
	run pg_query "SELECT run_id, attempt, ended_at IS NOT NULL, coalesce(status::text, 'null'), failed_stage, reason FROM stocketl.runs ORDER BY started_at, ended_at NULLS FIRST"
	assert_output "$(printf '%s\n' "$CRASHED_RUN|1|f|null||" \
		"$CRASHED_RUN|1|t|null|fetch|the runner died during stage fetch (pid $CRASHED_PID on $(hostname)); found by run $id" \
		"$id|1|f|null||" "$id|1|t|0||")"
	run --separate-stderr etl-history
	assert_success
	run jq -c '[.source, (.runs[] | [.run_id == "'"$CRASHED_RUN"'", .state, .status, .failed_stage])]' <<<"$output"
	assert_output '["postgres",[false,"ended",0,null],[true,"lost",null,"fetch"]]'
}

@test "on_failure runs after a failed run with the job, run id, status, stage, reason and log in its environment, and not after a success" {
	job_serve "$COMPACT" 'on_failure = env | grep ^STOCKETL_ | sort >"$HOME/failure.env"'
	unset ALPHAVANTAGE_API_KEY
	run --separate-stderr bronze -q IBM
	assert_failure 78
	local id
	id=$(run_id_of "$stderr")
	run grep -E '^STOCKETL_(JOB|RUN_ID|STATUS|FAILED_STAGE|LOG|REASON)=' failure.env
	assert_output "$(printf '%s\n' "STOCKETL_FAILED_STAGE=fetch" "STOCKETL_JOB=bronze" \
		"STOCKETL_LOG=$PWD/var/logs/bronze/$id.log" \
		"STOCKETL_REASON=$(facts run 'select(.ended_at) | .reason' | jq -r .)" \
		"STOCKETL_RUN_ID=$id" "STOCKETL_STATUS=78")"
	rm failure.env
	export ALPHAVANTAGE_API_KEY=test-key
	run --separate-stderr bronze -q IBM
	assert_success
	[ ! -e failure.env ]
}

@test "on_failure runs once, for the outer run alone: not for a nested job that failed, whether the outer run is then retried to success or fails" {
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "throttle_information_daily_limit.json"},
	            {"file": "intraday_IBM_5min_compact.json"}]}]' \
		'on_failure = echo "$STOCKETL_JOB $STOCKETL_STATUS" >>"$HOME/failures"'
	run --separate-stderr "$STOCKETL_ROOT/pipelines/stock-etl.sh" -q --interval 5min IBM
	assert_success
	assert_regex "${stderr_lines[-1]}" "^stock-etl: run [^ ]*: status 0 after 2 attempts; "
	[ ! -e failures ]
	unset ALPHAVANTAGE_API_KEY
	run --separate-stderr "$STOCKETL_ROOT/pipelines/stock-etl.sh" -q --interval 5min IBM
	assert_failure 78
	run cat failures
	assert_output "stock-etl 78"
}

@test "a commit watcher hears every commit delta-append reports, one record or many, with its application, and the summary counts their rows" {
	# A job of two stages whose last one reports commits as delta-append
	# does, and a watcher (the stream's silver refresh) that writes down
	# what it is told.
	cat >tiny.sh <<'EOF'
#!/usr/bin/env bash
# shellcheck disable=SC2317 # the stage_ functions are called by the runner
set -u
source "$STOCKETL_ROOT/pipelines/lib/runner.sh"
runner_main tiny "$@"
stage_make() { printf 'x\n'; }
stage_take() {
	cat >/dev/null
	echo "delta-append: committed version 1: 1 record for stream/intraday/5min/IBM" >&2
	echo "delta-append: committed version 2: 3 records" >&2
}
stage_commits() {
	local v rows app
	while read -r v rows app; do echo "$v|$rows|$app" >>heard.txt; done
}
run_pipeline --commits commits make take
runner_finish
EOF
	run --separate-stderr bash tiny.sh
	assert_success
	run cat heard.txt
	assert_output $'1|1|stream/intraday/5min/IBM\n2|3|'
	assert_regex "${stderr_lines[-1]}" '^tiny: run [^ ]*: status 0; [0-9.]+ s; 4 rows committed; log '
}

@test "the loader runs at the end of every run, once the spool's files are complete, and its failure changes nothing" {
	job_serve "$COMPACT" 'loader = ls "$STOCKETL_SPOOL" >"$HOME/spool.txt"; echo loading; exit 3'
	run --separate-stderr bronze -q IBM
	assert_success
	# the runner's, its attempt's, the watermark stage's, and those of
	# av-fetch, tick-validate and delta-append
	run grep -c '\.ndjson$' spool.txt
	assert_output 6
	run grep -c '\.part$' spool.txt
	assert_output 0
	run grep -E '^(# .* loader: |loading)' var/logs/bronze/*.log
	assert_line --partial 'loader: ls "$STOCKETL_SPOOL"'
	assert_line loading
	assert_line --partial 'loader: ended with status 3; the spool stays for the next run'
}

@test "without a DSN no loader runs: the spool keeps the facts of the runner and of every program" {
	job_serve "$COMPACT"
	unset STOCKETL_PG_DSN
	run --separate-stderr bronze -q IBM
	assert_success
	run grep -c 'loader' var/logs/bronze/*.log
	assert_output 0
	run facts commit '[.version, .rows, .files, .operation, (.table | endswith("/lake/bronze"))]'
	assert_output '[1,100,2,"WRITE",true]'
	run facts request '[.symbol, .outcome]'
	assert_output '["IBM","data"]'
	run facts watermark '[.symbol, .interval, .newest]'
	assert_output '["IBM","5min","2025-06-17T15:20:00Z"]'
}

@test "with PostgreSQL down a run still loads its data and its facts stay in the spool; a later run that reaches PostgreSQL loads them all" {
	job_serve "$COMPACT"
	local port id1 id2
	port=$(net_free_port 20000 32767)
	export STOCKETL_PG_DSN="host=127.0.0.1 port=$port dbname=stocketl_test user=postgres connect_timeout=2"
	run --separate-stderr bronze -q IBM
	assert_success
	id1=$(run_id_of "$stderr")
	assert_equal "$(delta-cat bronze | wc -l)" 100
	run grep -c 'loader: ended with status 75; the spool stays for the next run' "var/logs/bronze/$id1.log"
	assert_output 1
	run facts run 'select(.ended_at) | .status'
	assert_output 0
	pg_start
	pg_env
	# shellcheck disable=SC2153 # exported by pg_start
	export STOCKETL_PG_DSN=$STOCKETL_TEST_PG_DSN
	stocketl-db -q migrate
	STOCKETL_NOW=2025-06-17T15:25:00Z run --separate-stderr bronze -q IBM
	assert_success
	id2=$(run_id_of "$stderr")
	# every file loaded and removed, the first run's with the second's
	run ls var/spool
	assert_output ""
	run pg_query "SELECT run_id, job, status FROM stocketl.runs WHERE ended_at IS NOT NULL ORDER BY started_at"
	assert_output "$id1|bronze|0"$'\n'"$id2|bronze|0"
	run pg_query "SELECT run_id, version, rows, operation FROM stocketl.commits ORDER BY version"
	assert_output "$id1|1|100|WRITE"$'\n'"$id2|2|1|WRITE"
	run pg_query "SELECT count(*) FROM stocketl.stages WHERE run_id = '$id1'"
	assert_output 5
}

@test "bad [job] settings are configuration errors that name the file and the line" {
	job_serve "$COMPACT" "on_overlap = sometimes"
	run --separate-stderr bronze IBM
	assert_failure 78
	assert_equal "$stderr" "bronze: $STOCKETL_CONFIG:15: [job] on_overlap: expected wait or skip, got 'sometimes'"
	job_config "timeout = soon"
	run --separate-stderr bronze IBM
	assert_failure 78
	assert_equal "$stderr" "bronze: $STOCKETL_CONFIG:15: [job] timeout: expected a duration (30s, 5m, 1h30m) or 0, got 'soon'"
	[ ! -e var/spool ] || [ -z "$(ls var/spool)" ]
	printf '[job\nretries = 1\n' >bad.ini
	run --separate-stderr bronze --config bad.ini IBM
	assert_failure 78
	assert_equal "$stderr" "bronze: $PWD/bad.ini:1: expected [section] or key = value"
	printf 'retries = 1\n' >bad.ini
	run --separate-stderr bronze --config bad.ini IBM
	assert_failure 78
	assert_equal "$stderr" "bronze: $PWD/bad.ini:1: a key outside a section"
}

@test "a configuration that holds a secret and is readable by others is said once a run, by the runner, not by each program" {
	job_serve "$COMPACT"
	sed -i 's/^\[API\]$/[API]\napi_key = test-key/' "$STOCKETL_CONFIG"
	chmod 644 "$STOCKETL_CONFIG"
	unset ALPHAVANTAGE_API_KEY
	run --separate-stderr bronze IBM
	assert_success
	assert_equal "$(grep -c 'holds a secret' <<<"$stderr")" 1
	assert_equal "$(grep 'holds a secret' <<<"$stderr")" \
		"bronze: $STOCKETL_CONFIG: holds a secret ([api] api_key) but is readable by group or others; run chmod 600 $STOCKETL_CONFIG"
	# a program on its own still says it
	run --separate-stderr delta-history --limit 1 bronze
	assert_success
	assert_equal "$(grep -c 'holds a secret' <<<"$stderr")" 1
	chmod 600 "$STOCKETL_CONFIG"
	run --separate-stderr bronze IBM
	assert_success
	assert_equal "$(grep -c 'holds a secret' <<<"$stderr")" 0
}

@test "an empty [job] state or [storage] lake is the default directory, as the programs take it, never the root" {
	job_serve "$COMPACT" "state =" "on_failure ="
	sed -i 's/^\[job\]/[storage]\nlake =\n\n[job]/' "$STOCKETL_CONFIG"
	unset STOCKETL_LAKE
	run --separate-stderr bronze -q IBM
	assert_success
	run_id_of "$stderr" >id
	[ -f "var/logs/bronze/$(cat id).log" ]
	assert_equal "$(delta-cat lake/bronze | wc -l)" 100
	assert_equal "$(delta-cat bronze | wc -l)" 100
	[ ! -e /lake ] && [ ! -e /bronze ] && [ ! -e /spool ] && [ ! -e /locks ]
}

@test "a run that waits for the lock keeps to [job] timeout: it stops waiting when the time is out, exits 75 and makes no attempt" {
	job_serve '[{"match": {"symbol": "IBM"}, "responses": [{"file": "intraday_IBM_5min_compact.json", "delay_ms": 4000}]}]' \
		"on_overlap = wait" "retries = 0"
	# the first run has no time limit, the second one second
	bronze_bg IBM
	local first=$! t0
	wait_for lock_held
	job_config "on_overlap = wait" "retries = 0" "timeout = 1s"
	t0=$SECONDS
	run --separate-stderr bronze IBM
	assert_failure 75
	[ $((SECONDS - t0)) -lt 3 ]
	assert_regex "${stderr_lines[-1]}" "^bronze: run [^ ]*: not started: another bronze run is going \(run [0-9TZ-]+, pid $first, since [^)]*\), and the run's time limit \(\[job\] timeout = 1s\) ran out while it waited; exit 75$"
	kill -0 "$first"
	wait "$first"
	run facts run 'select(.status == 75) | [.attempt, .failed_stage, .reason]'
	assert_regex "$output" '^\[1,null,"timed out waiting for another run \(run [0-9TZ-]+, pid [0-9]+, since [^)]*\)"\]$'
	# the second run fetched nothing
	[ "$(requests | wc -l)" -eq 1 ]
}

@test "a run stopped while a job nested in it is going gives that job the time to stop its stages and record its end" {
	job_serve "$HANG" "timeout = 1s" "retries = 0"
	run --separate-stderr "$STOCKETL_ROOT/pipelines/stock-etl.sh" -q --interval 5min IBM
	assert_failure 75
	assert_regex "${stderr_lines[-1]}" "^stock-etl: run [^ ]*: status 75, failed at stage bronze, timed out; "
	# bronze, killed by nobody, ended as a stopped run does: its lock names
	# no run, its log ends with its summary, the spool has its end
	[ ! -s var/locks/bronze.lock ]
	run tail -n 1 var/logs/bronze/*.log
	assert_regex "$output" " summary: status 75, failed at stage fetch, stopped by SIGTERM; "
	run facts run 'select(.job == "bronze" and .ended_at) | [.status, .reason]'
	assert_output '[75,"stopped by SIGTERM during stage fetch"]'
	[ -z "$(find var/spool -name '*.part')" ]
}

@test "a spool that cannot be written is said once by each job's runner, without the shell's own errors, and the run loads its data" {
	job_serve "$COMPACT"
	# a place where nobody, root included, can make a file
	mkdir var
	ln -s /proc var/spool
	run --separate-stderr "$STOCKETL_ROOT/pipelines/stock-etl.sh" --interval 5min IBM
	assert_success
	run grep -h 'line [0-9]*:' var/logs/stock-etl/*.log var/logs/bronze/*.log var/logs/silver/*.log
	assert_output ""
	[ "$(grep -c "runner.sh: line" <<<"$stderr")" -eq 0 ]
	# the runners of stock-etl, bronze and silver say it, once each
	assert_equal "$(grep -Ec '^(stock-etl|bronze|silver): metadata spool .*/var/spool: cannot write .*-runner\.ndjson\.part: [^;]+; recording stops \(the run goes on\)$' <<<"$stderr")" 3
	assert_equal "$(delta-cat bronze | wc -l)" 100
	assert_equal "$(delta-cat silver | wc -l)" 100
}

@test "a state directory that cannot be made is one message and 74" {
	job_serve "$COMPACT"
	: >not-a-dir
	export STOCKETL_STATE=$PWD/not-a-dir/var
	run --separate-stderr bronze IBM
	assert_failure 74
	assert_equal "$stderr" "bronze: cannot make the state directory $STOCKETL_STATE (its spool, logs and locks): Not a directory"
	[ ! -e lake ] && [ ! -e "$STOCKETL_LAKE" ]
}

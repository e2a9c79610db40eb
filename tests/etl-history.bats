#!/usr/bin/env bats
# etl-history: the job's runs, one run in detail, checks over time and
# freshness, from the spool and from a real PostgreSQL after load-spool, as
# JSON and as a table, on runs recorded the way the runner records them.

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
# shellcheck disable=SC2030,SC2031 # each test exports the spool's variables for itself
load helpers/common
load helpers/pg
load helpers/spool

NOW=2026-12-06T12:00:00Z

setup_file() {
	pg_start
}

teardown_file() {
	pg_stop
}

setup() {
	common_setup
	pg_env
	export STOCKETL_SPOOL=$PWD/spool
}

# fresh_db NAME: an empty database NAME; its DSN in $DSN.
fresh_db() {
	pg_query "DROP DATABASE IF EXISTS $1" >/dev/null 2>&1
	pg_query "CREATE DATABASE $1"
	DSN="host=$PGHOST port=$PGPORT user=postgres dbname=$1"
}

# record: two runs as the runner records them (the second failed at
# validate, then a retry), and the facts of the programs in the first.
record() {
	(
		spool_open
		spool_run r1 1 2026-12-06T10:15:00Z
		spool_stage r1 fetch 0 2026-12-06T10:15:00Z 2026-12-06T10:15:02Z - 4 0
		spool_stage r1 validate 0 2026-12-06T10:15:02Z 2026-12-06T10:15:03.5Z 400 400 0
		spool_run r1 1 2026-12-06T10:15:00Z 2026-12-06T10:15:04Z 0
		spool_fact '{"fact":"request","run_id":"r1","program":"av-fetch","at":"2026-12-06T10:15:01.000000Z","symbol":"IBM","function":"intraday","interval":"5min","month":null,"outputsize":"compact","outcome":"data","attempts":2,"latency_ms":41,"http_status":200}'
		spool_fact '{"fact":"check","run_id":"r1","program":"tick-validate","at":"2026-12-06T10:15:03.000000Z","batch_app":"av-fetch/intraday/5min/IBM","batch_id":17,"check":"row_count > 0","metric":"row_count","value":400,"outcome":"pass"}'
		spool_fact '{"fact":"commit","run_id":"r1","program":"delta-append","at":"2026-12-06T10:15:03.800000Z","table":"lake/bronze","version":3,"batch_app":"av-fetch/intraday/5min/IBM","batch_id":17,"rows":400,"files":1,"bytes":20480,"operation":"WRITE"}'
		spool_fact '{"fact":"watermark","run_id":"r1","program":"runner","at":"2026-12-06T10:15:04.000000Z","symbol":"IBM","interval":"5min","newest":"2026-12-05T20:55:00Z"}'
		spool_run r2 1 2026-12-06T10:20:00Z
		spool_stage r2 fetch 0 2026-12-06T10:20:00Z 2026-12-06T10:20:01Z - 4 0
		spool_stage r2 validate 2 2026-12-06T10:20:01Z 2026-12-06T10:20:02Z 400 0 0
		spool_run r2 1 2026-12-06T10:20:00Z 2026-12-06T10:20:02Z 2 validate 'a check failed'
		spool_run r2 2 2026-12-06T10:21:00Z
		spool_stage r2 fetch 0 2026-12-06T10:21:00Z 2026-12-06T10:21:01Z - 4 0
		spool_fact '{"fact":"check","run_id":"r2","program":"tick-validate","at":"2026-12-05T10:20:01.500000Z","batch_app":"b","batch_id":1,"check":"row_count > 0","metric":"row_count","value":0,"outcome":"fail"}'
		spool_fact '{"fact":"check","run_id":"r2","program":"tick-validate","at":"2026-12-06T10:20:01.500000Z","batch_app":"b","batch_id":2,"check":"row_count > 0","metric":"row_count","value":3,"outcome":"warn"}'
		spool_fact '{"fact":"watermark","run_id":"r2","program":"runner","at":"2026-12-06T10:21:01.000000Z","symbol":"IBM","interval":"5min","newest":"2026-12-06T10:15:00Z"}'
		spool_fact '{"fact":"watermark","run_id":"r2","program":"runner","at":"2026-12-06T10:21:01.000000Z","symbol":"AAPL","interval":"1d","newest":"2026-12-05T05:00:00Z"}'
		spool_close
	)
}

@test "runs from the spool: newest attempt first, each with its stages, in JSON on a pipe" {
	record
	run --separate-stderr etl-history --now "$NOW"
	assert_success
	assert_equal "$stderr" ''
	run jq -c '[.report, .source, .where, .now]' <<<"$output"
	assert_output "[\"runs\",\"spool\",\"$PWD/spool\",\"2026-12-06T12:00:00.000000Z\"]"
	run etl-history --now "$NOW"
	run jq -c '.runs[] | [.run_id, .attempt, .status, .failed_stage, .reason, .duration_s, .rows_committed,
		[.stages[] | [.stage, .status, .duration_s, .records_in, .records_out]]]' <<<"$output"
	assert_output "$(printf '%s\n' \
		'["r2",2,null,null,null,null,null,[["fetch",0,1,null,4]]]' \
		'["r2",1,2,"validate","a check failed",2,0,[["fetch",0,1,null,4],["validate",2,1,400,0]]]' \
		'["r1",1,0,null,null,4,400,[["fetch",0,2,null,4],["validate",0,1.5,400,400]]]')"
	run etl-history --now "$NOW" --limit 1
	assert_equal "$(jq -c '[.runs[].run_id]' <<<"$output")" '["r2"]'
}

@test "a table on a terminal, or with --format table: the source, then a row per attempt and stage" {
	record
	run --separate-stderr script -qec "etl-history --now $NOW --limit 2" /dev/null
	assert_success
	assert_line --index 0 --partial "source: spool $PWD/spool"
	run --separate-stderr etl-history --format table --now "$NOW" --limit 2
	assert_success
	assert_line --index 0 "source: spool $PWD/spool"
	assert_line --index 1 --regexp '^RUN +ATTEMPT +JOB +STARTED +DURATION +STATUS +FAILED STAGE +ROWS$'
	assert_line --index 2 --regexp '^r2 +2 +intraday +2026-12-06T10:21:00Z +- +running +- +-$'
	assert_line --index 3 --regexp '^  fetch +2026-12-06T10:21:00Z +1\.0s +0 +- in, 4 out, 0 rejected$'
	assert_line --index 4 --regexp '^r2 +1 +intraday +2026-12-06T10:20:00Z +2\.0s +2 +validate +0$'
	assert_equal "${#lines[@]}" 7
}

@test "a job run as a stage of another (bronze in stock-etl): its stages are named with their job" {
	(
		spool_open
		spool_run r3 1 2026-12-06T11:00:00Z
		spool_stage r3 create 0 2026-12-06T11:00:00Z 2026-12-06T11:00:00.1Z - - - intraday
		spool_stage r3 fetch 0 2026-12-06T11:00:00.2Z 2026-12-06T11:00:01Z - 4 0 bronze
		spool_stage r3 create 0 2026-12-06T11:00:02Z 2026-12-06T11:00:02.1Z - - - silver
		spool_run r3 1 2026-12-06T11:00:00Z 2026-12-06T11:00:03Z 0
		spool_close
	)
	run --separate-stderr etl-history --format table --now "$NOW"
	assert_success
	assert_line --index 2 --regexp '^r3 +1 +intraday '
	assert_line --index 3 --regexp '^  create +2026-12-06T11:00:00Z '
	assert_line --index 4 --regexp '^  bronze/fetch +2026-12-06T11:00:00Z '
	assert_line --index 5 --regexp '^  silver/create +2026-12-06T11:00:02Z '
	run etl-history --now "$NOW"
	assert_equal "$(jq -c '[.runs[0].stages[] | [.job, .stage]]' <<<"$output")" '[["intraday","create"],["bronze","fetch"],["silver","create"]]'
}

# run_line RUN ATTEMPT JOB HOST STARTED [ENDED STATUS FAILED_STAGE REASON]: a
# run line as spool_run writes it, of any job and host ("-" or nothing: null).
# shellcheck disable=SC2016 # a jq program
run_line() {
	_spool_jq --arg run "$1" --argjson attempt "$2" --arg job "$3" --arg host "$4" \
		--arg started "$5" --arg ended "${6:-}" --arg status "${7:-}" --arg failed "${8:-}" \
		--arg reason "${9:-}" '
		def n: if . == "" or . == "-" then null else . end;
		{fact: "run", run_id: $run, program: "runner",
		 at: (if $ended == "" then $started else $ended end),
		 job: $job, attempt: $attempt, started_at: $started, ended_at: ($ended | n),
		 status: ($status | n | if . == null then null else tonumber end),
		 failed_stage: ($failed | n), reason: ($reason | n), host: $host}'
}

# wait_held FILE: until a process holds the lock of FILE, at most 10 s.
wait_held() {
	local i
	for ((i = 0; i < 200; i++)); do
		flock -n "$1" true || return 0
		sleep 0.05
	done
	return 1
}

@test "an end without a status, a later run's finding that the runner died, makes the attempt lost, not running: in JSON, in the table, from PostgreSQL" {
	fresh_db h_lost
	local why='the runner died during stage fetch (pid 42 on testhost); found by run r6'
	(
		spool_open
		spool_run r5 1 2026-12-06T11:00:00Z
		spool_stage r5 create 0 2026-12-06T11:00:00Z 2026-12-06T11:00:01Z - - -
		spool_run r5 1 2026-12-06T11:00:00Z 2026-12-06T11:30:00Z - fetch "$why"
		spool_run r6 1 2026-12-06T11:30:00Z
		spool_close
	)
	run --separate-stderr etl-history --source spool --now "$NOW"
	assert_success
	local spool=$output
	run jq -c '.runs[] | [.run_id, .state, .status, .ended_at, .duration_s, .failed_stage, .reason]' <<<"$output"
	assert_output "$(printf '%s\n' '["r6","running",null,null,null,null,null]' \
		"[\"r5\",\"lost\",null,\"2026-12-06T11:30:00.000000Z\",1800,\"fetch\",\"$why\"]")"
	run --separate-stderr etl-history --source spool --format table --now "$NOW"
	assert_line --index 2 --regexp '^r6 +1 +intraday +2026-12-06T11:30:00Z +- +running +- +-$'
	assert_line --index 3 --regexp '^r5 +1 +intraday +2026-12-06T11:00:00Z +30m00s +lost +fetch +-$'
	assert_line --index 4 --regexp '^  create +2026-12-06T11:00:00Z +1\.0s +0 +- in, - out, - rejected$'
	run --separate-stderr etl-history --source spool --now "$NOW" run r5
	assert_equal "$(jq -c '[.attempts[] | [.state, .status, .failed_stage]]' <<<"$output")" '[["lost",null,"fetch"]]'
	stocketl-db -q --dsn "$DSN" load-spool
	run --separate-stderr etl-history --source postgres --dsn "$DSN" --now "$NOW"
	assert_success
	assert_equal "$(jq -c 'del(.source, .where, .pending_spool_files)' <<<"$output")" \
		"$(jq -c 'del(.source, .where)' <<<"$spool")"
}

@test "the runner's own end wins over a later finding that it was lost; the end of a job run inside the attempt (bronze in stock-etl) is not the attempt's" {
	(
		spool_open
		spool_run r7 1 2026-12-06T11:00:00Z
		spool_run r7 1 2026-12-06T11:00:00Z 2026-12-06T11:00:05Z 0
		spool_run r7 1 2026-12-06T11:00:00Z 2026-12-06T11:10:00Z - - 'the runner died; found by run r8'
		spool_run r8 1 2026-12-06T11:10:00Z
		run_line r8 1 bronze testhost 2026-12-06T11:10:01Z
		run_line r8 1 bronze testhost 2026-12-06T11:10:01Z 2026-12-06T11:10:09Z 0
		spool_close
	)
	run --separate-stderr etl-history --now "$NOW"
	assert_success
	run jq -c '.runs[] | [.run_id, .job, .state, .status, .ended_at, .reason]' <<<"$output"
	assert_output "$(printf '%s\n' '["r8","intraday","running",null,null,null]' \
		'["r7","intraday","ended",0,"2026-12-06T11:00:05.000000Z",null]')"
}

@test "an attempt without an end is lost once its runner has left the job's lock (free, and still naming the run, on this host); held, or naming another run, or of another host, it is running" {
	mkdir -p var/locks
	(
		spool_open
		run_line r9 1 intraday "$(hostname)" 2026-12-06T11:00:00Z
		run_line r9 2 intraday "$(hostname)" 2026-12-06T11:01:00Z
		run_line r9 1 intraday "$(hostname)" 2026-12-06T11:00:00Z 2026-12-06T11:00:30Z 75 fetch 'daily limit'
		run_line r10 1 other elsewhere 2026-12-06T11:02:00Z
		spool_close
	)
	printf 'run r10, pid 1, since 2026-12-06T11:02:00.000000Z\n' >var/locks/other.lock
	printf 'run r9, pid 1, since 2026-12-06T11:00:00.000000Z\nattempt 2 started 2026-12-06T11:01:00.000000Z on %s\n' \
		"$(hostname)" >var/locks/intraday.lock
	run --separate-stderr etl-history --now "$NOW"
	assert_success
	run jq -c '.runs[] | [.run_id, .attempt, .state, .status, .ended_at, .reason]' <<<"$output"
	assert_output "$(printf '%s\n' '["r10",1,"running",null,null,null]' \
		'["r9",2,"lost",null,null,"the runner has gone: the job'"'"'s lock is free and still names the run"]' \
		'["r9",1,"ended",75,"2026-12-06T11:00:30.000000Z","daily limit"]')"
	run --separate-stderr etl-history --format table --now "$NOW"
	assert_line --index 3 --regexp '^r9 +2 +intraday +2026-12-06T11:01:00Z +- +lost +- +-$'
	# the lock held: the run may be going
	(
		exec 9>>var/locks/intraday.lock
		flock 9
		exec sleep 30
	) 3>&- &
	local holder=$!
	wait_held var/locks/intraday.lock
	run --separate-stderr etl-history --now "$NOW"
	kill "$holder"
	wait "$holder" || true
	assert_equal "$(jq -c '[.runs[] | .state]' <<<"$output")" '["running","running","ended"]'
	# free, but naming the run that took it since
	printf 'run r11, pid 1, since 2026-12-06T11:05:00.000000Z\n' >var/locks/intraday.lock
	run --separate-stderr etl-history --now "$NOW"
	assert_equal "$(jq -c '[.runs[] | .state]' <<<"$output")" '["running","running","ended"]'
	# emptied, as the runner leaves it when a run ends
	: >var/locks/intraday.lock
	run --separate-stderr etl-history --now "$NOW"
	assert_equal "$(jq -c '[.runs[] | .state]' <<<"$output")" '["running","running","ended"]'
}

@test "one run in detail: attempts, stages, requests, checks, commits and watermarks" {
	record
	run --separate-stderr etl-history --now "$NOW" run r1
	assert_success
	run jq -c '[.run_id, (.attempts | length), .requests[0].outcome, .requests[0].attempts,
		.checks[0].value, .commits[0].version, .commits[0].rows, .watermarks[0].newest]' <<<"$output"
	assert_output '["r1",1,"data",2,400,3,400,"2026-12-05T20:55:00.000000Z"]'
	run --separate-stderr etl-history --format table --now "$NOW" run r1
	assert_success
	assert_line --regexp '^requests:$'
	assert_line --regexp '^2026-12-06T10:15:01Z +IBM +intraday 5min +data +2 +0\.04s +200$'
	assert_line --regexp '^2026-12-06T10:15:03Z +lake/bronze +3 +WRITE +400 +1 +20480$'
	run --separate-stderr etl-history --format table run nothing-like-it
	assert_success
	assert_line --index 1 'no facts recorded for run nothing-like-it'
}

@test "checks: pass, warn and fail counts per check and day, over --days" {
	record
	run --separate-stderr etl-history --now "$NOW" checks
	assert_success
	run jq -c '.since, .days[]' <<<"$output"
	assert_output "$(printf '%s\n' '"2026-11-30"' \
		'{"check":"row_count > 0","day":"2026-12-05","pass":0,"warn":0,"fail":1,"skipped":0}' \
		'{"check":"row_count > 0","day":"2026-12-06","pass":1,"warn":1,"fail":0,"skipped":0}')"
	run etl-history --now "$NOW" --days 1 checks
	assert_equal "$(jq -c '[.days[].day]' <<<"$output")" '["2026-12-06"]'
}

@test "freshness: the newest bar per symbol and interval, and its age at --now" {
	record
	run --separate-stderr etl-history --now "$NOW" freshness
	assert_success
	run jq -c '.symbols[]' <<<"$output"
	assert_output "$(printf '%s\n' \
		'{"symbol":"AAPL","interval":"1d","newest":"2026-12-05T05:00:00.000000Z","age_s":111600}' \
		'{"symbol":"IBM","interval":"5min","newest":"2026-12-06T10:15:00.000000Z","age_s":6300}')"
	run etl-history --format table --now "$NOW" freshness
	assert_line --index 2 --regexp '^AAPL +1d +2026-12-05T05:00:00Z +1d07h$'
	assert_line --index 3 --regexp '^IBM +5min +2026-12-06T10:15:00Z +1h45m$'
}

@test "from PostgreSQL after load-spool: the same reports as from the spool, said so" {
	fresh_db h_same
	record
	for r in runs checks freshness 'run r1' 'run r2'; do
		# shellcheck disable=SC2086 # the report and its argument
		etl-history --source spool --now "$NOW" $r | jq -c 'del(.source, .where)' >"spool-$r.json"
	done
	stocketl-db -q --dsn "$DSN" load-spool
	export STOCKETL_PG_DSN=$DSN
	for r in runs checks freshness 'run r1' 'run r2'; do
		# shellcheck disable=SC2086
		run --separate-stderr etl-history --now "$NOW" $r
		assert_success
		assert_equal "$(jq -c '[.source, .where, .pending_spool_files]' <<<"$output")" \
			"[\"postgres\",\"host=$PGHOST port=$PGPORT dbname=h_same user=postgres\",0]"
		assert_equal "$(jq -c 'del(.source, .where, .pending_spool_files)' <<<"$output")" "$(cat "spool-$r.json")"
	done
	# Facts not loaded yet are counted.
	(spool_open && spool_run r3 1 2026-12-06T11:00:00Z && spool_close)
	run --separate-stderr etl-history --format table --now "$NOW"
	assert_line --index 0 "source: postgres host=$PGHOST port=$PGPORT dbname=h_same user=postgres (1 spool files not loaded yet)"
}

@test "PostgreSQL configured but unreachable: the spool, with a warning; --source postgres: exit 75" {
	record
	port=$(net_free_port 20000 32767)
	export STOCKETL_PG_DSN="host=127.0.0.1 port=$port dbname=x user=postgres connect_timeout=2"
	run --separate-stderr etl-history --now "$NOW"
	assert_success
	assert_regex "$stderr" "^etl-history: postgres at host=127.0.0.1 port=$port dbname=x user=postgres: cannot connect.*; reporting from the spool\$"
	assert_equal "$(jq -r .source <<<"$output")" spool
	run --separate-stderr etl-history --source postgres --now "$NOW"
	assert_failure 75
	assert_output ''
	# A database without the job's tables is a configuration to fix.
	fresh_db h_empty
	run --separate-stderr etl-history --source postgres --dsn "$DSN"
	assert_failure 78
	assert_regex "$stderr" 'the schema is at version 0, without the job.s tables \(stocketl-db migrate\)$'
}

@test "a malformed DSN: the spool, with a warning, without --source; exit 78 with --source postgres" {
	record
	run --separate-stderr etl-history --dsn 'host=127.0.0.1 nosuchkeyword=1' --now "$NOW"
	assert_success
	assert_equal "$stderr" 'etl-history: postgres at (malformed DSN): malformed DSN: invalid connection option "nosuchkeyword" (DSN from flag); reporting from the spool'
	assert_equal "$(jq -c '[.source, (.runs | length)]' <<<"$output")" '["spool",3]'
	run --separate-stderr etl-history --source postgres --dsn 'host=127.0.0.1 nosuchkeyword=1'
	assert_failure 78
	assert_output ''
}

@test "spool lines that are not facts are said with file and line and left out: exit 1" {
	record
	(spool_open && spool_fact '{"fact":"run"}' && spool_fact 'oops' && spool_close)
	run --separate-stderr etl-history --now "$NOW"
	assert_failure 1
	assert_equal "$(jq '.runs | length' <<<"$output")" 3
	assert_regex "${stderr_lines[0]}" '^etl-history: .*-runner\.ndjson:1: a run fact needs "program"$'
	assert_regex "${stderr_lines[1]}" '^etl-history: .*-runner\.ndjson:2: not a JSON object'
	assert_equal "${stderr_lines[2]}" "etl-history: $PWD/spool: 2 lines that are not facts were left out"
}

@test "an empty spool, or none where the state directory says, gives an empty report; a --spool that is not there is an error" {
	run --separate-stderr etl-history --now "$NOW"
	assert_success
	assert_equal "$(jq -c '.runs' <<<"$output")" '[]'
	run --separate-stderr etl-history --format table --now "$NOW" checks
	assert_line --index 1 'no checks recorded since 2026-11-30'
	# a spool named with --spool must be there: a mistyped path is no empty history
	run --separate-stderr etl-history --spool "$PWD/no/such/spool"
	assert_failure 74
	assert_equal "$stderr" "etl-history: --spool $PWD/no/such/spool: No such file or directory"
	touch plain
	run --separate-stderr etl-history --spool plain
	assert_failure 74
	assert_equal "$stderr" "etl-history: --spool plain: not a directory"
	mkdir empty
	run --separate-stderr etl-history --spool empty --now "$NOW"
	assert_success
	assert_equal "$(jq -c '.runs' <<<"$output")" '[]'
}

@test "a reader that stops early (etl-history | head) ends the report quietly: exit 0" {
	mkdir -p spool
	# 3,000 finished runs: a report larger than a pipe holds
	jq -nc 'range(3000) as $i | {fact: "run", run_id: "r\($i)", program: "runner",
		at: "2026-12-06T10:15:04Z", job: "intraday", attempt: 1, started_at: "2026-12-06T10:15:00Z",
		ended_at: "2026-12-06T10:15:04Z", status: 0, failed_stage: null, reason: null, host: "testhost"}' \
		>spool/1-1-runner.ndjson
	run bash -c 'etl-history --now "$1" --limit 3000 --format table 2>err | head -1; echo "${PIPESTATUS[0]}"' _ "$NOW"
	assert_line --index 0 --partial "source: spool"
	assert_line --index 1 0
	[ ! -s err ]
}

@test "usage errors: an unknown report, run without its id, options of other reports, bad values" {
	for args in 'nope' 'run' 'run a b' 'checks extra' '--limit 3 checks' '--days 2 runs' \
		'--limit 0' '--format xml' '--source web' '--now yesterday' '--source spool --dsn x'; do
		# shellcheck disable=SC2086
		run --separate-stderr etl-history $args
		assert_failure 64
		assert_output ''
		assert_equal "${stderr_lines[1]}" "$(etl-history --help | head -n 1)"
	done
}

@test "--help is the man page's synopsis" {
	assert_help_matches_man etl-history
	assert_help_matches_man stocketl-db
}

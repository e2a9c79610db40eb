#!/usr/bin/env bats
# The metadata spool (stocketl(7), METADATA): what av-fetch and
# tick-validate record in it, and how stocketl-db load-spool moves it into
# a real PostgreSQL cluster: everything, once, without torn lines, leaving
# the files of running writers alone, and keeping the spool while the
# server is down.  The last tests stop and restart the server.

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
# shellcheck disable=SC2030,SC2031 # each test exports the spool's variables for itself
load helpers/common
load helpers/pg
load helpers/mockav
load helpers/spool

KEY=SPOOLKEY0SECRET77

setup_file() {
	pg_start
	echo '[]' >"$BATS_FILE_TMPDIR/none.json"
	mockav_start "$BATS_FILE_TMPDIR/none.json"
}

teardown_file() {
	mockav_stop
	pg_stop
}

setup() {
	common_setup
	pg_env
	export ALPHAVANTAGE_API_KEY=$KEY
	cat >fast.ini <<'EOF'
[av-fetch]
backoff_base = 10ms
backoff_max = 40ms
throttle_wait = 30ms
burst_wait = 20ms
calls_per_minute = 0
calls_per_second = 0
concurrency = 1
EOF
	export STOCKETL_CONFIG=$PWD/fast.ini
	cat >rules.json <<'EOF'
[{"match": {"symbol": "IBM"},
  "responses": [{"file": "throttle_note_per_minute.json"},
                {"file": "intraday_IBM_5min_compact.json"}]},
 {"match": {"symbol": "BAD"}, "responses": [{"file": "error_invalid_api_call.json"}]}]
EOF
	mockav_rules rules.json
	mkdir conf
	ln -s "$STOCKETL_ROOT/conf/checks" conf/checks
}

teardown() {
	if [ -n "${LISTENER_PID:-}" ]; then
		pkill -P "$LISTENER_PID" 2>/dev/null
		kill "$LISTENER_PID" 2>/dev/null
		wait "$LISTENER_PID" 2>/dev/null || true
	fi
	if [ -n "${SLEEPER:-}" ]; then
		kill "$SLEEPER" 2>/dev/null
		wait "$SLEEPER" 2>/dev/null || true
	fi
}

# fresh_db NAME: an empty database NAME; its DSN in $DSN.
fresh_db() {
	pg_query "DROP DATABASE IF EXISTS $1" >/dev/null 2>&1
	pg_query "CREATE DATABASE $1"
	DSN="host=$PGHOST port=$PGPORT user=postgres dbname=$1"
}

# rows DB: the number of rows of each of the job's tables, on one line.
rows() {
	PGDATABASE=$1 pg_query "SELECT (SELECT count(*) FROM stocketl.runs) || ' ' ||
		(SELECT count(*) FROM stocketl.stages) || ' ' || (SELECT count(*) FROM stocketl.requests)
		|| ' ' || (SELECT count(*) FROM stocketl.checks) || ' ' ||
		(SELECT count(*) FROM stocketl.commits) || ' ' || (SELECT count(*) FROM stocketl.watermarks)"
}

# fill_spool: a runner's file (a run and two stages), av-fetch's requests
# and tick-validate's checks, all in ./spool.
fill_spool() {
	export STOCKETL_SPOOL=$PWD/spool STOCKETL_RUN_ID=run-1
	# A subshell, as a runner is a process of its own: it has ended when the loader looks.
	(
		spool_open
		spool_run run-1 1 2026-12-06T10:15:00Z
		spool_stage run-1 fetch 0 2026-12-06T10:15:00Z 2026-12-06T10:15:02Z - 1 0
		spool_stage run-1 validate 1 2026-12-06T10:15:02Z 2026-12-06T10:15:03Z 100 99 1
		spool_run run-1 1 2026-12-06T10:15:00Z 2026-12-06T10:15:04Z 1
		spool_close
	)
	av-fetch -q --base-url "$MOCKAV_URL" IBM BAD >/dev/null || true
	gen-ticks -b 2 3 | tick-validate -q --now 2025-06-02T14:00:00Z >/dev/null
}

@test "av-fetch writes a request line per request in a file of its own, renamed at exit, never the key" {
	export STOCKETL_SPOOL=$PWD/spool STOCKETL_RUN_ID=20261206T101500Z-4711
	run --separate-stderr av-fetch -q --base-url "$MOCKAV_URL" IBM BAD
	assert_failure 1
	run ls spool
	assert_success
	assert_equal "${#lines[@]}" 1
	assert_output --regexp '^[0-9]{16}-[0-9]+-av-fetch\.ndjson$'
	run jq -sc 'sort_by(.symbol)[] | [.fact, .run_id, .program, .symbol, .function, .interval,
		.month, .outputsize, .outcome, .attempts, .http_status]' spool/*
	assert_line --index 0 '["request","20261206T101500Z-4711","av-fetch","BAD","intraday","5min",null,"compact","error",1,200]'
	assert_line --index 1 '["request","20261206T101500Z-4711","av-fetch","IBM","intraday","5min",null,"compact","data",2,200]'
	assert_equal "${#lines[@]}" 2
	run jq -r '"\(.at) \(.latency_ms | type)"' spool/*
	assert_line --index 0 --regexp '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z number$'
	run grep -rl "$KEY" spool
	assert_failure 1
	assert_output ''
	# Every line is one object and a newline.
	run bash -c 'tail -c 1 spool/* | od -An -c'
	assert_output --partial '\n'
}

@test "a backfill's request lines name their months" {
	export STOCKETL_SPOOL=$PWD/spool
	echo '[{"match": {}, "responses": [{"file": "intraday_empty_series.json"}]}]' >rules.json
	mockav_rules rules.json
	av-fetch -q --base-url "$MOCKAV_URL" --from 2024-01 --to 2024-02 IBM >/dev/null
	run jq -c '[.run_id, .month, .outputsize, .outcome]' spool/*.ndjson
	assert_output "$(printf '%s\n' '[null,"2024-01","full","empty"]' '[null,"2024-02","full","empty"]')"
}

@test "without a spool or a state directory, nothing is recorded" {
	run --separate-stderr av-fetch -q --base-url "$MOCKAV_URL" IBM
	assert_success
	gen-ticks 3 | tick-validate -q --now 2025-06-02T14:00:00Z >/dev/null
	run find . -name '*.ndjson*'
	assert_output ''
	[ ! -e var ]
}

@test "[job] state in the configuration, or \$STOCKETL_STATE, turns recording on under <state>/spool" {
	printf '[job]\nstate = %s/st\n' "$PWD" >>fast.ini
	gen-ticks 3 | tick-validate -q --now 2025-06-02T14:00:00Z >/dev/null
	run ls st/spool
	assert_output --regexp '^[0-9]+-[0-9]+-tick-validate\.ndjson$'
	STOCKETL_STATE=$PWD/other av-fetch -q --base-url "$MOCKAV_URL" IBM >/dev/null
	run ls other/spool
	assert_output --regexp '^[0-9]+-[0-9]+-av-fetch\.ndjson$'
}

@test "tick-validate writes a check line per batch and check, with the batch's app and id" {
	export STOCKETL_SPOOL=$PWD/spool STOCKETL_RUN_ID=r9
	# The second batch repeats a bar: its duplicate check fails.
	{
		gen-ticks -i 7 3
		gen-ticks -i 8 3 | awk 'NR == 1 { print } { print }' | sed 's/"records":3/"records":4/'
	} >ticks.ndjson
	cat >t.checks <<'EOF'
checks for ticks:
  - row_count > 0
  - duplicate_count(symbol, interval, trade_timestamp):
      fail: when > 0
  - freshness(ingested_at):
      warn: when > 6h
  - max(high) < 1000
EOF
	run --separate-stderr tick-validate -q --checks t.checks --now 2025-06-03T02:05:00.5Z ticks.ndjson
	assert_failure 2
	run jq -c '[.run_id, .batch_app, .batch_id, .check, .metric, .value, .outcome]' spool/*
	assert_output "$(printf '%s\n' \
		'["r9","gen-ticks",7,"row_count > 0","row_count",3,"pass"]' \
		'["r9","gen-ticks",7,"duplicate_count(symbol, interval, trade_timestamp)","duplicate_count",0,"pass"]' \
		'["r9","gen-ticks",7,"freshness(ingested_at)","freshness",21600.376544,"warn"]' \
		'["r9","gen-ticks",7,"max(high) < 1000","max",175.021,"pass"]' \
		'["r9","gen-ticks",8,"row_count > 0","row_count",4,"pass"]' \
		'["r9","gen-ticks",8,"duplicate_count(symbol, interval, trade_timestamp)","duplicate_count",1,"fail"]' \
		'["r9","gen-ticks",8,"freshness(ingested_at)","freshness",21600.376544,"warn"]' \
		'["r9","gen-ticks",8,"max(high) < 1000","max",175.021,"pass"]')"
}

@test "load-spool loads every file into the job's tables, removes them, and a second load adds nothing" {
	fresh_db l_all
	fill_spool
	checks=$(grep -c '^  - ' "$STOCKETL_ROOT/conf/checks/ticks.checks")
	run --separate-stderr stocketl-db --dsn "$DSN" load-spool
	assert_success
	assert_output --regexp "^loaded 3 files from $PWD/spool into host=.* dbname=l_all user=postgres: $((4 + 2 + 2 * checks)) rows added, 0 already there\$"
	assert_equal "$stderr" ''
	run rows l_all
	assert_output "2 2 2 $((2 * checks)) 0 0"
	run ls spool
	assert_output ''
	PGDATABASE=l_all run pg_query "SELECT run_id, stage, status, records_in, records_out, rejected,
		ended_at - started_at FROM stocketl.stages ORDER BY started_at"
	assert_output "$(printf '%s\n' 'run-1|fetch|0||1|0|00:00:02' 'run-1|validate|1|100|99|1|00:00:01')"
	PGDATABASE=l_all run pg_query "SELECT symbol, outcome, attempts, http_status FROM stocketl.requests ORDER BY symbol"
	assert_output "$(printf '%s\n' 'BAD|error|1|200' 'IBM|data|2|200')"
	run --separate-stderr stocketl-db --dsn "$DSN" load-spool
	assert_success
	assert_output --regexp '^loaded 0 files from .*: 0 rows added, 0 already there$'
}

@test "a file loaded again (its loader died before removing it) adds no row twice" {
	fresh_db l_again
	fill_spool
	mkdir copy
	cp spool/* copy/
	stocketl-db -q --dsn "$DSN" load-spool
	before=$(rows l_again)
	cp copy/* spool/
	run --separate-stderr stocketl-db --dsn "$DSN" load-spool
	assert_success
	assert_output --regexp ': 0 rows added, [1-9][0-9]* already there$'
	assert_equal "$(rows l_again)" "$before"
	# The same file, once more, as the .part its writer left: the same rows.
	f=$(basename copy/*-runner.ndjson)
	cp "copy/$f" "spool/$f.part"
	stocketl-db -q --dsn "$DSN" load-spool
	assert_equal "$(rows l_again)" "$before"
	[ ! -e "spool/$f.part" ]
}

@test "a torn last line is ignored and said; the lines before it are loaded" {
	fresh_db l_torn
	export STOCKETL_SPOOL=$PWD/spool
	spool_open
	spool_run r 1 2026-12-06T10:15:00Z
	printf '{"fact":"stage","run_id":"r","prog' >>"$SPOOL_FILE"
	spool_close
	run --separate-stderr stocketl-db --dsn "$DSN" load-spool
	assert_success
	assert_equal "$stderr" "stocketl-db: $SPOOL_FILE:2: a torn last line (its writer stopped while writing it): ignored"
	assert_output --partial ': 1 rows added, 0 already there, 1 torn lines ignored'
	assert_equal "$(rows l_torn)" '1 0 0 0 0 0'
	run ls spool
	assert_output ''
}

@test "a file whose transaction is rolled back adds nothing to the rows said added: they are the rows that stay" {
	fresh_db l_rollback
	stocketl-db -q --dsn "$DSN" migrate
	export STOCKETL_SPOOL=$PWD/spool
	spool_open
	spool_run r1 1 2026-12-06T10:15:00Z
	spool_close
	# the second file: its run goes in, then its stage fails on the server
	spool_open
	spool_run r2 1 2026-12-06T10:20:00Z
	spool_stage r2 fetch 0 2026-12-06T10:20:00Z 2026-12-06T10:20:01Z - 1 0
	spool_close
	PGDATABASE=l_rollback pg_query "CREATE FUNCTION stocketl.refuse() RETURNS trigger LANGUAGE plpgsql
		AS \$\$BEGIN RAISE EXCEPTION 'no stage today'; END\$\$;
		CREATE TRIGGER refuse BEFORE INSERT ON stocketl.stages FOR EACH ROW EXECUTE FUNCTION stocketl.refuse()"
	run --separate-stderr stocketl-db --dsn "$DSN" load-spool
	assert_failure
	assert_regex "$stderr" 'no stage today'
	assert_output --regexp '^loaded 1 files from .*: 1 rows added, 0 already there$'
	assert_equal "$(rows l_rollback)" '1 0 0 0 0 0'
	[ "$(find spool -type f | wc -l)" -eq 1 ]
}

@test "a .part file of a dead writer is loaded; one of a live writer, by pid or by lock, is left alone" {
	fresh_db l_part
	export STOCKETL_SPOOL=$PWD/spool
	mkdir spool
	now=$(date +%s%6N)
	# A writer that has exited.
	sleep 0 &
	dead=$!
	wait "$dead"
	printf '%s\n' '{"fact":"watermark","program":"runner","at":"2026-12-06T10:00:00Z","symbol":"IBM","interval":"5min","newest":"2026-12-05T20:55:00Z"}' \
		>"spool/$now-$dead-runner.ndjson.part"
	# A live writer without a lock (a shell): its pid runs and started before the file.
	sleep 60 &
	SLEEPER=$!
	sleep 0.1
	later=$(date +%s%6N)
	cp "spool/$now-$dead-runner.ndjson.part" "spool/$later-$SLEEPER-runner.ndjson.part"
	# The same pid on a file made long before that process started: a reused pid, the writer is gone.
	cp "spool/$now-$dead-runner.ndjson.part" "spool/1000000-$SLEEPER-runner.ndjson.part"
	# A writer that holds the file's lock, whatever pid the name says.
	cp "spool/$now-$dead-runner.ndjson.part" "spool/$later-$dead-locked.ndjson.part"
	# (fd 3 closed: a sleep left behind would hold BATS until it ends)
	flock "spool/$later-$dead-locked.ndjson.part" sleep 60 3>&- &
	LISTENER_PID=$!
	sleep 0.3
	run --separate-stderr stocketl-db --dsn "$DSN" load-spool
	assert_success
	assert_output --partial 'loaded 2 files'
	assert_output --partial ', 2 files of running writers left'
	run ls spool
	assert_output "$(printf '%s\n' "$later-$SLEEPER-runner.ndjson.part" "$later-$dead-locked.ndjson.part" | sort)"
	assert_equal "$(rows l_part)" '0 0 0 0 0 2'
}

@test "a .part file of a writer that has exited but not been waited for (a zombie) is loaded" {
	fresh_db l_zombie
	export STOCKETL_SPOOL=$PWD/spool
	mkdir spool
	# The writer exits after its parent has become a sleep, which never waits
	# for it (one that exited sooner would be reaped by the shell before).
	(
		sleep 0.3 &
		echo $! >zombie.pid
		exec sleep 60 3>&-
	) &
	SLEEPER=$!
	local zombie stat=''
	for _ in $(seq 100); do
		zombie=$(cat zombie.pid 2>/dev/null) || true
		{ [ -n "$zombie" ] && read -r stat <"/proc/$zombie/stat"; } 2>/dev/null || true
		[[ $stat == *") Z "* ]] && break
		sleep 0.05
	done
	[[ $stat == *") Z "* ]]
	kill -0 "$zombie"
	file=spool/$(date +%s%6N)-$zombie-runner.ndjson.part
	echo '{"fact":"watermark","program":"runner","at":"2026-12-06T10:00:00Z","symbol":"IBM","interval":"5min","newest":"2026-12-05T20:55:00Z"}' >"$file"
	run --separate-stderr stocketl-db --dsn "$DSN" load-spool
	assert_success
	assert_output --regexp '^loaded 1 files from .*: 1 rows added, 0 already there$'
	assert_equal "$stderr" ''
	[ ! -e "$file" ]
	assert_equal "$(rows l_zombie)" '0 0 0 0 0 1'
}

@test "lines that are not facts are said with file and line; the rest loads and the file is set aside" {
	fresh_db l_bad
	export STOCKETL_SPOOL=$PWD/spool
	spool_open
	spool_run r 1 2026-12-06T10:15:00Z
	spool_fact '{"fact":"run","run_id":"r","program":"runner","at":"2026-12-06T10:15:00Z","job":"j","attempt":"one","started_at":"2026-12-06T10:15:00Z"}'
	spool_fact 'plain text'
	spool_close
	run --separate-stderr stocketl-db --dsn "$DSN" load-spool
	assert_failure 1
	assert_line --index 0 --partial ': 1 rows added, 0 already there, 2 bad lines (1 files moved to'
	assert_equal "${stderr_lines[0]}" "stocketl-db: $SPOOL_FILE:2: \"attempt\": expected an integer"
	assert_equal "${stderr_lines[1]}" "stocketl-db: $SPOOL_FILE:3: not a JSON object: unexpected character"
	[ -f "spool/rejected/$(basename "$SPOOL_FILE")" ]
	assert_equal "$(rows l_bad)" '1 0 0 0 0 0'
}

# pg_server_start: start the stopped cluster again on its port.
pg_server_start() {
	_pg_run "$STOCKETL_TEST_PG_BINDIR/pg_ctl" -D "$STOCKETL_TEST_PG_DIR/data" \
		-l "$STOCKETL_TEST_PG_DIR/server.log" -o "-p $STOCKETL_TEST_PG_PORT" -w -t 60 start \
		>/dev/null 3>&-
}

# listen PORT: a server on 127.0.0.1:PORT that takes connections, never
# answers, and writes a line to ./connections for each; its pid in
# $LISTENER_PID.
listen() {
	node -e '
		const fs = require("fs");
		require("net").createServer((s) => { fs.appendFileSync("connections", "connected\n"); })
			.listen(Number(process.argv[1]), "127.0.0.1", () => fs.writeFileSync("listening", ""));
	' "$1" </dev/null >/dev/null 2>&1 3>&- &
	LISTENER_PID=$!
	for _ in $(seq 100); do
		[ -e listening ] && return 0
		sleep 0.05
	done
	return 1
}

# ms CMD...: run CMD (its output discarded) and print how long it took in ms.
ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

@test "with PostgreSQL configured but down, av-fetch and tick-validate do not connect and take no longer" {
	export STOCKETL_SPOOL=$PWD/spool
	gen-ticks -b 4 200 >ticks.ndjson
	fetch() { av-fetch -q --base-url "$MOCKAV_URL" IBM; }
	validate() { tick-validate -q --now 2025-06-02T14:00:00Z ticks.ndjson; }
	mockav_rules rules.json
	base_fetch=$(ms fetch)
	base_validate=$(ms validate)
	pg_server_stop
	# In the server's place, one that would hold a client until connect_timeout (10 s).
	listen "$STOCKETL_TEST_PG_PORT"
	export STOCKETL_PG_DSN="host=127.0.0.1 port=$STOCKETL_TEST_PG_PORT dbname=x user=postgres"
	mockav_rules rules.json
	with_fetch=$(ms fetch)
	with_validate=$(ms validate)
	kill "$LISTENER_PID"
	wait "$LISTENER_PID" || true
	LISTENER_PID=
	pg_server_start
	[ ! -e connections ] || fail "a program connected: $(cat connections)"
	echo "# av-fetch ${base_fetch} ms without, ${with_fetch} ms with; tick-validate ${base_validate} ms, ${with_validate} ms" >&3
	[ "$with_fetch" -le $((base_fetch + 500)) ]
	[ "$with_validate" -le $((base_validate + 500)) ]
	run jq -r .fact spool/*.ndjson
	assert_line --index 0 request
}

@test "with the server down, load-spool exits 75 and keeps the spool; back up, it loads all of it once" {
	fresh_db l_down
	stocketl-db -q --dsn "$DSN" migrate
	fill_spool
	before=$(ls spool)
	pg_server_stop
	run --separate-stderr stocketl-db --dsn "$DSN" load-spool
	pg_server_start
	assert_failure 75
	assert_regex "$stderr" "^stocketl-db: postgres at .*: cannot connect.* \(the spool stays in $PWD/spool for the next load\)\$"
	assert_equal "$(ls spool)" "$before"
	assert_equal "$(rows l_down)" '0 0 0 0 0 0'
	run --separate-stderr stocketl-db --dsn "$DSN" load-spool
	assert_success
	checks=$(grep -c '^  - ' "$STOCKETL_ROOT/conf/checks/ticks.checks")
	assert_equal "$(rows l_down)" "2 2 2 $((2 * checks)) 0 0"
	run ls spool
	assert_output ''
}

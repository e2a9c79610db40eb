#!/usr/bin/env bats
# The offline demo (`make demo`, demo/run.sh): the whole job on the
# recorded answers of demo/, twice into one demo directory, and what its
# summary says; then the job without a key.  The suite runs the demo twice
# once, in setup_file, and its tests read what the two runs left.
# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr

load helpers/common

# make_demo N: `make demo` into $D, as a person runs it, with the programs
# under test (OUTBIN; SANITIZE=1 for the sanitizer build, whose objects are
# in build/san), its stdout, stderr and status kept as run.N.*.
make_demo() {
	local san=()
	[[ $STOCKETL_BIN == */build/san/bin ]] && san=(SANITIZE=1)
	local rc=0
	# as by hand, also when the suite runs under make test
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$STOCKETL_ROOT" demo "${san[@]}" OUTBIN="$STOCKETL_BIN" DEMO_DIR="$D" \
		>"$R/run.$1.out" 2>"$R/run.$1.err" 3>&- || rc=$?
	echo "$rc" >"$R/run.$1.status"
}

setup_file() {
	export R=$BATS_FILE_TMPDIR D=$BATS_FILE_TMPDIR/demo
	export HOME=$BATS_FILE_TMPDIR TZ=UTC LC_ALL=C.UTF-8
	unset STOCKETL_CONFIG STOCKETL_LAKE STOCKETL_STATE STOCKETL_SPOOL STOCKETL_RUN_ID \
		STOCKETL_PG_DSN ALPHAVANTAGE_API_KEY http_proxy https_proxy HTTP_PROXY HTTPS_PROXY
	cd "$BATS_FILE_TMPDIR" || return 1
	make_demo 1
	make_demo 2
}

setup() {
	common_setup
	export R D=$BATS_FILE_TMPDIR/demo
}

@test "make demo runs backfill, stock-etl and the chart offline and succeeds twice" {
	run cat "$R/run.1.status" "$R/run.2.status"
	assert_output $'0\n0'
	run cat "$R/run.1.out"
	assert_line --partial "1. the history: pipelines/backfill.sh 2024-03 2024-03"
	assert_line --partial "2. the job: pipelines/stock-etl.sh"
	assert_line --partial "3. the chart: delta-cat silver | tick-chart"
	# the real jobs ran, through the runner: their summary lines and logs
	run cat "$R/run.1.err"
	assert_line --regexp '^backfill: run [0-9TZ-]+: status 1 \(loaded; records quarantined or checks warned\); .* 2375 rows committed; log '"$D"'/state/logs/backfill/'
	assert_line --regexp '^stock-etl: run [0-9TZ-]+: status 0; .* rows committed; log '"$D"'/state/logs/stock-etl/'
	# the second run asked the loopback server for the latest bars alone (the
	# month was loaded), TSLA twice: the recorded throttle note, then the data
	run sh -c "jq -r '.query.symbol + \" \" + (.query.month // \"latest\")' '$D/av-server/requests.log' | sort"
	assert_output $'AAPL latest\nIBM latest\nNVDA latest\nTSLA latest\nTSLA latest'
	# each run met the throttle note once, in its bronze job's log
	run grep -l "av-fetch: TSLA: throttled (per-minute limit)" "$D"/state/logs/bronze/*.log
	[ "${#lines[@]}" = 2 ]
}

@test "the summary gives silver's rows per symbol and trade date" {
	run cat "$R/run.1.out"
	assert_line "silver: rows per symbol and trade date (US/Eastern)"
	assert_line "  symbol   2024-03-08 2024-03-11 2024-03-12 2024-03-13   total"
	assert_line "  AAPL            192        191        192         97     672"
	assert_line "  IBM             118        130        124         57     429"
	assert_line "  NVDA            192        192        192         97     673"
	assert_line "  TSLA            192        192        192         97     673"
	assert_line --regexp '^  all +2447$'
	run diff <(sed -n '/^silver: rows per/,/^  all/p' "$R/run.1.out") \
		<(sed -n '/^silver: rows per/,/^  all/p' "$R/run.2.out")
	assert_success
}

@test "the first run adds every bar to silver; the second changes no row of silver and says so" {
	run grep '^silver: [0-9n]' "$R/run.1.out"
	assert_output "silver: 2447 rows added and 0 changed by this run (2447 rows)"
	run grep '^silver: [0-9n]' "$R/run.2.out"
	assert_output "silver: no row changed by this run: 2447 rows, every bar with the values it had before"
	# the second run loaded the newest bar of each symbol again, and only it
	run cat "$R/run.2.err"
	assert_line --regexp '^backfill: run .*: status 0; .* 0 rows committed'
	assert_line --regexp '^stock-etl: run .*: status 0; '
	run sh -c "delta-cat -q --csv --columns symbol,trade_timestamp --since-version 2 --at-version 3 '$D/lake/bronze' | sort"
	assert_output "$(printf '%s,2024-03-13T16:00:00Z\n' AAPL IBM NVDA TSLA)"$'\nsymbol,trade_timestamp'
	# silver holds the revised 10:30 bar at its later values
	run delta-cat -q --csv --columns open,high,low,close,volume \
		--where "symbol = 'NVDA' and trade_timestamp = '2024-03-13T14:30:00Z'" "$D/lake/silver"
	assert_output $'open,high,low,close,volume\n907.4822,907.75,902.78,905.34,535518'
}

@test "the summary gives the tables' versions and what each run committed" {
	run cat "$R/run.1.out"
	assert_line "tables (lake $D/lake):"
	assert_line "  bronze  version 2 (made by this run)"
	assert_line "  silver  version 1 (made by this run)"
	run cat "$R/run.2.out"
	assert_line "  bronze  version 3 (committed by this run)"
	assert_line "  silver  version 2 (committed by this run)"
}

@test "the summary gives the check outcomes of each batch, the bad bar's warnings among them" {
	run cat "$R/run.1.out"
	assert_line "  backfill/intraday/5min/2024-03/AAPL,IBM,NVDA,TSLA: 2376 records, 2375 passed, 1 quarantined; checks: 7 passed, 2 warned, 0 failed (high below open or close, low above open or close)"
	assert_line "  av-fetch/intraday/5min/AAPL,IBM,NVDA,TSLA: 400 records, 400 passed, 0 quarantined; checks: 9 passed, 0 warned, 0 failed"
	run cat "$R/run.2.out"
	assert_line "  av-fetch/intraday/5min/AAPL,IBM,NVDA,TSLA: 4 records, 4 passed, 0 quarantined; checks: 9 passed, 0 warned, 0 failed"
	refute_line --partial "backfill/intraday"
}

@test "the summary names the quarantined record and the file that holds it" {
	run cat "$R/run.1.out"
	assert_line "  $D/state/rejects/validate.ndjson: 1 record (1 by this run)"
	assert_line "    AAPL 2024-03-11T14:15:00Z: high below open or close (fail condition holds: high < max(open, close))"
	assert_line "  $D/state/rejects/normalize.ndjson: 0 records (0 by this run)"
	run cat "$R/run.2.out"
	assert_line "  $D/state/rejects/validate.ndjson: 1 record (0 by this run)"
	run jq -r '[.record.symbol, .record.trade_timestamp, .record.high, .record.low] | @tsv' \
		"$D/state/rejects/validate.ndjson"
	assert_output $'AAPL\t2024-03-11T14:15:00Z\t172.38\t173.02'
}

@test "the chart is named, valid SVG with candles of the four symbols, and the one README shows" {
	run cat "$R/run.1.out"
	assert_line "chart: $D/chart.svg"
	xmllint --noout "$D/chart.svg"
	run xmllint --xpath 'count(//*[local-name()="g"][@class="panel"])' "$D/chart.svg"
	assert_output 4
	local sym
	for sym in AAPL IBM NVDA TSLA; do
		run xmllint --xpath "count(//*[local-name()='g'][@data-symbol='$sym']/*[local-name()='g'][starts-with(@class, 'candles')]/*)" \
			"$D/chart.svg"
		[ "$output" -gt 100 ]
	done
	cmp "$D/chart.svg" "$STOCKETL_ROOT/docs/demo-chart.svg"
	grep -q '!\[.*\](docs/demo-chart.svg)' "$STOCKETL_ROOT/README.md"
}

@test "the demo keeps everything in its directory, and its dummy key is written nowhere" {
	run ls "$D"
	assert_output $'av-server\nchart.svg\nlake\nstate\nstocketl.ini'
	[ ! -e "$BATS_FILE_TMPDIR/lake" ]
	[ ! -e "$BATS_FILE_TMPDIR/var" ]
	run grep -rl demo-offline "$D"
	assert_failure
	run stat -c %a "$D/stocketl.ini"
	assert_output 600
}

@test "demo/run.sh --fresh starts over; a bad argument is a usage error; a second demo in a directory in use is refused" {
	run --separate-stderr "$STOCKETL_ROOT/demo/run.sh" --dir "$BATS_TEST_TMPDIR/d" --bogus
	assert_failure 64
	assert_equal "$stderr" $'demo: unknown argument \'--bogus\'\nusage: demo/run.sh [--dir DIR] [--fresh]'
	[ ! -e "$BATS_TEST_TMPDIR/d" ]
	cp -a "$D" d
	run --separate-stderr "$STOCKETL_ROOT/demo/run.sh" --dir d --fresh
	assert_success
	assert_line "silver: 2447 rows added and 0 changed by this run (2447 rows)"
	assert_line "  bronze  version 2 (made by this run)"
	# a second demo in a directory where one is running: 75, and the first's files untouched
	cp d/stocketl.ini ini.before
	flock d sleep 5 &
	holder=$!
	sleep 0.3
	run --separate-stderr "$STOCKETL_ROOT/demo/run.sh" --dir d --fresh
	assert_failure 75
	assert_equal "$stderr" "demo: another demo is running in $PWD/d; wait for it, or give another --dir"
	cmp ini.before d/stocketl.ini
	[ -d d/lake/silver ]
	kill "$holder"
	wait "$holder" || true
}

@test "without a key the job stops after its first stage with one message" {
	printf '[storage]\nlake = %s\n[job]\nstate = %s\n' "$PWD/lake" "$PWD/var" >stocketl.ini
	run --separate-stderr "$STOCKETL_ROOT/pipelines/stock-etl.sh" --config stocketl.ini
	assert_failure 78
	# one message says what is wrong; the runner's summaries name the stage
	run grep -c 'API key' <<<"$stderr"
	assert_output 1
	run grep -vE '^(bronze|stock-etl): run [^ ]+: status 78, failed at stage (fetch|bronze);' <<<"$stderr"
	assert_output --regexp '^av-fetch: no API key: '
	[ "$(wc -l <<<"$output")" = 1 ]
	# the later stages and silver did not run
	refute [ -e lake/silver ]
	run cat var/logs/bronze/*.log
	refute_output --partial "tick-normalize:"
	refute_output --partial "tick-validate:"
	refute_output --partial "delta-append:"
}

#!/usr/bin/env bats
# The test helpers that other suites build on: free ports (net), a
# throwaway PostgreSQL cluster (pg), an S3 bucket mounted with s3fs (s3) and
# the mock Alpha Vantage server (mockav).  Each helper is exercised for real
# on loopback; the s3fs tests also record what the mount offers to the Delta
# commit code (no link(2), rename that replaces, O_EXCL only as a check).

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
load helpers/common
load helpers/net
load helpers/pg
load helpers/s3
load helpers/mockav

setup_file() {
	pg_start
	s3_start
}

teardown_file() {
	pg_stop
	s3_stop
}

setup() {
	common_setup
	pg_env
}

# A test that starts its own mock server has it stopped here, pass or fail;
# a directory a test made outside its own is removed.
teardown() {
	mockav_stop
	if [ -n "${outside:-}" ]; then
		rm -rf "$outside"
	fi
}

# rules JSON: write the rules document JSON to rules.json and start a mock
# server with it.
start_mock() {
	printf '%s\n' "$1" >rules.json
	mockav_start rules.json
}

# --- net ---------------------------------------------------------------

@test "net_free_port prints a port in 20000-32767 on which nothing listens" {
	run --separate-stderr net_free_port
	assert_success
	assert_output --regexp '^[0-9]+$'
	[ "$output" -ge 20000 ] && [ "$output" -le 32767 ]
	[ -z "$(ss -Hltn "sport = :$output")" ]
}

@test "net_free_port LOW HIGH fails when every port in the range is taken" {
	start_mock '[]'
	run --separate-stderr net_free_port "$MOCKAV_PORT" "$MOCKAV_PORT"
	assert_failure 1
	assert_output ''
	[ "$stderr" = "net_free_port: no free port in $MOCKAV_PORT..$MOCKAV_PORT" ]

	port=$(net_free_port)
	run --separate-stderr net_free_port "$port" "$port"
	assert_success
	assert_output "$port"
}

# --- pg ----------------------------------------------------------------

@test "pg_start exports a libpq environment that connects without a password" {
	[ -S "$PGHOST/.s.PGSQL.$PGPORT" ]
	assert_equal "$PGUSER" postgres
	assert_equal "$PGDATABASE" stocketl_test
	run --separate-stderr psql -X -A -t -c 'select current_database(), current_user'
	assert_success
	assert_output 'stocketl_test|postgres'
	assert_equal "$stderr" ''
}

@test "the libpq connection strings reach the cluster over its socket and over 127.0.0.1" {
	env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE \
		psql -X -A -t -d "$STOCKETL_TEST_PG_DSN" -c 'create table reached_by_socket ()'
	run --separate-stderr env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE \
		psql -X -A -t -d "$STOCKETL_TEST_PG_TCP_DSN" \
		-c "select inet_server_addr(), to_regclass('reached_by_socket') is not null"
	assert_success
	assert_output '127.0.0.1|t'
}

@test "pg_query prints rows separated by '|' and fails at the first SQL error" {
	run --separate-stderr pg_query "create table q (a int, b text);
		insert into q values (1, 'x'), (2, 'y'); select a, b from q order by a"
	assert_success
	assert_output $'1|x\n2|y'

	run --separate-stderr pg_query "select 1; select no_such_column; select 3"
	assert_failure
	assert_output '1'
	[[ $stderr == *'column "no_such_column" does not exist'* ]]
}

@test "the cluster's server runs as the postgres user when the tests run as root" {
	[ "$(id -u)" -eq 0 ] || skip "not running as root"
	pid=$(head -n 1 "$STOCKETL_TEST_PG_DIR/data/postmaster.pid")
	run ps -o user= -p "$pid"
	assert_success
	assert_output postgres
}

@test "pg_start reports a missing initdb and leaves no directory behind" {
	# A directory the postgres user can write (this test's own is not
	# reachable for it), so that pg_start makes the cluster's there.
	outside=$(mktemp -d /tmp/stocketl-pgfail.XXXXXX)
	chmod 1777 "$outside"
	unset STOCKETL_TEST_PG_DIR
	TMPDIR=$outside PG_BINDIR=$BATS_TEST_TMPDIR/nowhere run --separate-stderr pg_start
	assert_failure 1
	assert_output ''
	[[ $stderr == 'pg_start: initdb failed'* ]]
	run ls -A "$outside"
	assert_output ''
}

# --- s3 ----------------------------------------------------------------

@test "s3_start mounts the bucket with a passwd file of mode 600" {
	run grep -F " $S3_MOUNT fuse.s3fs " /proc/mounts
	assert_success
	run stat -c %a "$S3_DIR/passwd"
	assert_output 600
	assert_equal "$S3_BUCKET" stocketl-test
	[[ $S3_ENDPOINT =~ ^http://127\.0\.0\.1:[0-9]+$ ]]
}

@test "a file written through the mount is an object on the server" {
	mkdir -p "$S3_MOUNT/written"
	printf 'one\ntwo\n' >"$S3_MOUNT/written/a.txt"
	run curl -sS --fail "$S3_ENDPOINT/$S3_BUCKET/written/a.txt"
	assert_success
	assert_output $'one\ntwo'
	run cat "$S3_DATA/$S3_BUCKET/written/a.txt._S3rver_object"
	assert_output $'one\ntwo'
}

@test "an object put on the server is listed and read through the mount" {
	curl -sS --fail -X PUT --data-binary 'from the server' \
		"$S3_ENDPOINT/$S3_BUCKET/put/b.txt"
	run ls "$S3_MOUNT/put"
	assert_output b.txt
	run cat "$S3_MOUNT/put/b.txt"
	assert_output 'from the server'
}

@test "listing the mount shows the files and directories written through it" {
	mkdir -p "$S3_MOUNT/list/sub"
	echo 1 >"$S3_MOUNT/list/b"
	echo 2 >"$S3_MOUNT/list/a"
	echo 3 >"$S3_MOUNT/list/sub/c"
	run ls -p "$S3_MOUNT/list"
	assert_output $'a\nb\nsub/'
	run ls "$S3_MOUNT/list/sub"
	assert_output c
}

@test "a file created through the mount is no object on the server until its writer closes it" {
	mkdir -p "$S3_MOUNT/open"
	# One process that never forks: FUSE flushes a file whenever any copy
	# of a descriptor to it is closed, which a child process would do.
	# shellcheck disable=SC2016 # JavaScript, not shell, in single quotes
	run node -e '
		const fs = require("fs"), http = require("http");
		const url = `${process.env.S3_ENDPOINT}/${process.env.S3_BUCKET}/open/c.txt`;
		const object = () => new Promise(ok => http.get(url, r => {
			let n = 0;
			r.on("data", c => { n += c.length; });
			r.on("end", () => ok(r.statusCode === 200 ? `${n} bytes` : `status ${r.statusCode}`));
		}));
		(async () => {
			const fd = fs.openSync(`${process.env.S3_MOUNT}/open/c.txt`, "wx");
			console.log("created:", await object());
			fs.writeSync(fd, "a commit\n");
			console.log("written:", await object());
			fs.closeSync(fd);
			console.log("closed:", await object());
		})();' </dev/null
	assert_success
	assert_output $'created: status 404\nwritten: status 404\nclosed: 9 bytes'
}

@test "rename through the mount moves the object and replaces an existing target" {
	mkdir -p "$S3_MOUNT/ren"
	echo old >"$S3_MOUNT/ren/target"
	echo new >"$S3_MOUNT/ren/source"
	mv -T "$S3_MOUNT/ren/source" "$S3_MOUNT/ren/target"
	run ls "$S3_MOUNT/ren"
	assert_output target
	run curl -sS --fail "$S3_ENDPOINT/$S3_BUCKET/ren/target"
	assert_output new
	run curl -sS -o /dev/null -w '%{http_code}' "$S3_ENDPOINT/$S3_BUCKET/ren/source"
	assert_output 404
}

@test "link(2) on the mount fails with 'Operation not supported' and creates nothing" {
	echo data >"$S3_MOUNT/linked"
	run --separate-stderr ln "$S3_MOUNT/linked" "$S3_MOUNT/link-name"
	assert_failure 1
	[[ $stderr == *'Operation not supported'* ]]
	[ ! -e "$S3_MOUNT/link-name" ]
	run curl -sS -o /dev/null -w '%{http_code}' "$S3_ENDPOINT/$S3_BUCKET/link-name"
	assert_output 404
}

@test "O_EXCL create through the mount fails with EEXIST on a name that exists" {
	echo first >"$S3_MOUNT/excl"
	# shellcheck disable=SC2016 # JavaScript, not shell, in single quotes
	run node -e '
		const fs = require("fs"), m = process.env.S3_MOUNT;
		for (const name of ["excl", "excl-new"]) {
			try {
				fs.closeSync(fs.openSync(`${m}/${name}`, "wx"));
				console.log(`${name}: created`);
			} catch (e) {
				console.log(`${name}: ${e.code}`);
			}
		}' </dev/null
	assert_success
	assert_output $'excl: EEXIST\nexcl-new: created'
	run cat "$S3_MOUNT/excl"
	assert_output first
}

@test "O_EXCL is no put-if-absent across two mounts: both writers create the name, the last to close wins" {
	second=$(s3_mount)
	# shellcheck disable=SC2016 # JavaScript, not shell, in single quotes
	run node -e '
		const fs = require("fs");
		const a = fs.openSync(`${process.env.S3_MOUNT}/race`, "wx");
		const b = fs.openSync(`${process.argv[1]}/race`, "wx");
		fs.writeSync(a, "writer a\n");
		fs.writeSync(b, "writer b\n");
		fs.closeSync(a);
		fs.closeSync(b);
		console.log("both created");
		try {
			fs.openSync(`${process.env.S3_MOUNT}/race-same`, "wx");
			fs.openSync(`${process.env.S3_MOUNT}/race-same`, "wx");
			console.log("same mount: both created");
		} catch (e) {
			console.log(`same mount: ${e.code}`);
		}' "$second" </dev/null
	assert_success
	assert_output $'both created\nsame mount: EEXIST'
	run curl -sS --fail "$S3_ENDPOINT/$S3_BUCKET/race"
	assert_output 'writer b'
}

# --- mockav ------------------------------------------------------------

@test "a file response is served with status 200 and a content type from its extension" {
	start_mock '[{"match": {"datatype": "csv"}, "responses": [{"file": "intraday_IBM_5min_compact.csv"}]},
		{"match": {}, "responses": [{"file": "intraday_IBM_5min_compact.json"}]}]'
	run curl -sS -o body.json -w '%{http_code} %{content_type}' \
		"$MOCKAV_URL?function=TIME_SERIES_INTRADAY&symbol=IBM&interval=5min"
	assert_output '200 application/json'
	cmp body.json "$FIXTURES/alphavantage/intraday_IBM_5min_compact.json"
	run curl -sS -o body.csv -w '%{http_code} %{content_type}' "$MOCKAV_URL?symbol=IBM&datatype=csv"
	assert_output '200 text/csv'
	cmp body.csv "$FIXTURES/alphavantage/intraday_IBM_5min_compact.csv"
}

@test "status, an inline body, content_type and extra headers are sent as given" {
	start_mock '[{"match": {}, "responses": [{"status": 503, "body": "busy\n",
		"content_type": "text/plain", "headers": {"Retry-After": "30", "X-Test": "yes"}}]}]'
	run curl -sS -D headers -o body "$MOCKAV_URL?function=X"
	assert_success
	run cat body
	assert_output busy
	run grep -i -e '^HTTP/' -e '^content-type:' -e '^retry-after:' -e '^x-test:' -e '^content-length:' headers
	assert_output $'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nRetry-After: 30\r\nX-Test: yes\r'
}

@test "a rule's responses are served in order and its last response repeats" {
	start_mock '[{"match": {"symbol": "IBM"}, "responses": [{"body": "first"}, {"body": "second"}, {"body": "last"}]},
		{"match": {"symbol": "NVDA"}, "responses": [{"body": "nvda"}]}]'
	for s in IBM NVDA IBM IBM IBM NVDA; do
		curl -sS "$MOCKAV_URL?symbol=$s"
		echo
	done >got
	run cat got
	assert_output $'first\nnvda\nsecond\nlast\nlast\nnvda'
}

@test "the first rule that matches answers and keys a rule does not name match anything" {
	start_mock '[{"match": {"function": "GLOBAL_QUOTE", "symbol": "AAPL"}, "responses": [{"body": "aapl quote"}]},
		{"match": {"function": "GLOBAL_QUOTE"}, "responses": [{"body": "any quote"}]},
		{"path": "/other", "responses": [{"body": "other path"}]},
		{"match": {}, "responses": [{"body": "anything"}]}]'
	run curl -sS "$MOCKAV_URL?apikey=k&symbol=AAPL&function=GLOBAL_QUOTE"
	assert_output 'aapl quote'
	run curl -sS "$MOCKAV_URL?function=GLOBAL_QUOTE&symbol=IBM"
	assert_output 'any quote'
	run curl -sS "${MOCKAV_URL%/query}/other?function=GLOBAL_QUOTE&symbol=IBM"
	assert_output 'any quote'
	run curl -sS "${MOCKAV_URL%/query}/other?function=TIME_SERIES_DAILY"
	assert_output 'other path'
	run curl -sS "$MOCKAV_URL"
	assert_output anything
}

@test "a request that no rule matches gets 404 with a JSON error" {
	start_mock '[{"match": {"function": "TIME_SERIES_DAILY"}, "responses": [{"body": "{}"}]}]'
	run curl -sS -o body -w '%{http_code} %{content_type}' "$MOCKAV_URL?function=GLOBAL_QUOTE"
	assert_output '404 application/json'
	run jq -r .error body
	assert_output 'av-server: no rule matches GET /query?function=GLOBAL_QUOTE'
}

@test "delay_ms holds the response back: a client with a shorter timeout gives up" {
	start_mock '[{"match": {"slow": "yes"}, "responses": [{"delay_ms": 600, "body": "late"}]},
		{"match": {}, "responses": [{"body": "now"}]}]'
	run curl -sS -m 0.2 "$MOCKAV_URL?slow=yes"
	assert_failure 28
	run curl -sS -o body -w '%{time_starttransfer}' "$MOCKAV_URL?slow=yes"
	assert_success
	awk -v t="$output" 'BEGIN { exit !(t >= 0.6) }'
	run cat body
	assert_output late
	run curl -sS -m 5 "$MOCKAV_URL?slow=no"
	assert_output now
}

@test "truncate sends the first N bytes of a longer Content-Length and resets the connection" {
	start_mock '[{"match": {"n": "100"}, "responses": [{"file": "intraday_IBM_5min_compact.json", "truncate": 100}]},
		{"match": {"n": "0"}, "responses": [{"body": "0123456789", "truncate": 0}]}]'
	run --separate-stderr curl -sS -D headers -o body "$MOCKAV_URL?n=100"
	assert_failure 18
	grep -qx $'Content-Length: 21893\r' headers
	[ "$(wc -c <body)" -eq 100 ]
	cmp body <(head -c 100 "$FIXTURES/alphavantage/intraday_IBM_5min_compact.json")

	run --separate-stderr curl -sS -D headers0 -o body0 "$MOCKAV_URL?n=0"
	assert_failure 18
	grep -qx $'Content-Length: 10\r' headers0
	[ ! -s body0 ]
}

@test "close resets the connection without sending a response" {
	start_mock '[{"match": {}, "responses": [{"close": true}, {"body": "after"}]}]'
	run --separate-stderr curl -sS -D headers "$MOCKAV_URL?function=X"
	assert_failure 52
	[ ! -s headers ]
	run curl -sS "$MOCKAV_URL?function=X"
	assert_output after
}

@test "every request is logged when it arrives, with increasing timestamps and all parameters" {
	start_mock '[{"match": {}, "responses": [{"close": true}]}]'
	[ -f "$MOCKAV_LOG" ] && [ ! -s "$MOCKAV_LOG" ]
	before=$(date +%s)
	for s in IBM NVDA TSLA; do
		curl -s "$MOCKAV_URL?function=TIME_SERIES_INTRADAY&symbol=$s&interval=5min&apikey=secret" || true
	done
	curl -s -X POST "${MOCKAV_URL%/query}/elsewhere?a=1&a=2" || true
	after=$(date +%s)
	run jq -c '[.method, .path, .query]' "$MOCKAV_LOG"
	assert_output - <<-'EOF'
		["GET","/query",{"function":"TIME_SERIES_INTRADAY","symbol":"IBM","interval":"5min","apikey":"secret"}]
		["GET","/query",{"function":"TIME_SERIES_INTRADAY","symbol":"NVDA","interval":"5min","apikey":"secret"}]
		["GET","/query",{"function":"TIME_SERIES_INTRADAY","symbol":"TSLA","interval":"5min","apikey":"secret"}]
		["POST","/elsewhere",{"a":"2"}]
	EOF
	run jq -s --argjson lo "$before" --argjson hi "$after" \
		'[.[].t] | (. == (sort | unique)) and all(. >= $lo * 1000000 and . <= ($hi + 1) * 1000000)' \
		"$MOCKAV_LOG"
	assert_output true
}

@test "mockav_rules replaces the rules, restarts their counts and is not logged" {
	start_mock '[{"match": {}, "responses": [{"body": "old 1"}, {"body": "old 2"}]}]'
	run curl -sS "$MOCKAV_URL"
	assert_output 'old 1'
	printf '%s\n' '[{"match": {}, "responses": [{"body": "new 1"}, {"body": "new 2"}]}]' >new.json
	mockav_rules new.json
	run curl -sS "$MOCKAV_URL"
	assert_output 'new 1'
	run wc -l <"$MOCKAV_LOG"
	assert_output 2

	printf '%s\n' '[{"responses": []}]' >bad.json
	run --separate-stderr mockav_rules bad.json
	assert_failure 1
	assert_equal "$stderr" 'mockav_rules: {"error":"av-server: rule 0: responses must be a non-empty array"}'
	run curl -sS "$MOCKAV_URL"
	assert_output 'new 2'
}

@test "mockav_start rejects a rules file with an unknown key and leaves no server running" {
	printf '%s\n' '[{"match": {}, "responses": [{"delay": 5}]}]' >typo.json
	run --separate-stderr mockav_start "$BATS_TEST_TMPDIR/typo.json"
	assert_failure 1
	assert_equal "$stderr" $'mockav_start: the server did not start\nav-server: '"$BATS_TEST_TMPDIR"$'/typo.json: rule 0 response 0: unknown key "delay"'
	run pgrep -f "av-server.js --rules $BATS_TEST_TMPDIR/typo.json"
	assert_failure 1

	printf '%s\n' '[{"match": {}, "responses": [{"file": "no_such_fixture.json"}]}]' >missing.json
	run --separate-stderr mockav_start missing.json
	assert_failure 1
	[[ $stderr == *'rule 0 response 0: file no_such_fixture.json: ENOENT' ]]
}

@test "mockav_stop ends the server and removes its directory, and a second call does nothing" {
	start_mock '[]'
	pid=$MOCKAV_PID dir=$MOCKAV_DIR port=$MOCKAV_PORT
	mockav_stop
	net_pid_gone "$pid"
	[ ! -e "$dir" ]
	run curl -sS "http://127.0.0.1:$port/query"
	assert_failure 7
	assert_equal "${MOCKAV_URL:-}" ''
	run mockav_stop
	assert_success
}

@test "a plain bash script can source mockav.bash by a relative path and stop the server from a trap" {
	printf '%s\n' '[{"match": {}, "responses": [{"file": "empty_object.json"}]}]' >rules.json
	cat >script.sh <<-'EOF'
		cd "$STOCKETL_ROOT" || exit 70
		. tests/helpers/mockav.bash
		cd "$1" || exit 70
		mockav_start rules.json || exit 70
		trap mockav_stop EXIT
		echo "$MOCKAV_PID $MOCKAV_DIR" >started
		curl -sS "$MOCKAV_URL"
		exit 3
	EOF
	run bash script.sh "$BATS_TEST_TMPDIR"
	assert_failure 3
	assert_output '{}'
	read -r pid dir <started
	net_pid_gone "$pid"
	[ ! -e "$dir" ]
}

# --- all together --------------------------------------------------------

# inner_suite FAIL_IN: run a suite that starts every server in setup_file
# (and a second mount of the bucket) and fails, in setup_file or in its test
# (FAIL_IN), and calls each stop function twice in teardown_file; it records
# the servers' process ids and directories in ./started, one "PID DIR" line
# each: PostgreSQL, s3rver, s3fs, the mock server, the second s3fs.
inner_suite() {
	printf '%s\n' '[{"match": {}, "responses": [{"body": "{}"}]}]' >rules.json
	cat >inner.bats <<-'EOF'
		load "$STOCKETL_ROOT/tests/helpers/common"
		load "$STOCKETL_ROOT/tests/helpers/pg"
		load "$STOCKETL_ROOT/tests/helpers/s3"
		load "$STOCKETL_ROOT/tests/helpers/mockav"
		setup_file() {
			pg_start
			s3_start
			mockav_start "$INNER_DIR/rules.json"
			s3_mount >/dev/null
			{
				echo "$(head -n 1 "$STOCKETL_TEST_PG_DIR/data/postmaster.pid") $STOCKETL_TEST_PG_DIR"
				echo "$_S3_SERVER_PID $S3_DIR"
				echo "$_S3_FUSE_PID $S3_MOUNT"
				echo "$MOCKAV_PID $MOCKAV_DIR"
				cat "$S3_DIR/mounts"
			} >"$INNER_DIR/started"
			[ "$INNER_FAIL_IN" != setup_file ]
		}
		teardown_file() {
			pg_stop
			pg_stop
			s3_stop
			s3_stop
			mockav_stop
			mockav_stop
		}
	EOF
	# Written apart: BATS would take a test line inside this file's here
	# document for a test of this file.
	# shellcheck disable=SC2016 # expanded by the inner BATS
	printf '%s\n' '@test "a failing test" {' '	[ "$INNER_FAIL_IN" != test ]' '}' >>inner.bats
	# The inner BATS must not see this one's BATS_* variables.
	env -i PATH="$PATH" HOME="$HOME" TZ="$TZ" LC_ALL="$LC_ALL" STOCKETL_ROOT="$STOCKETL_ROOT" \
		INNER_DIR="$PWD" INNER_FAIL_IN="$1" bats --tap inner.bats
}

@test "every server is stopped and removed when a test of the suite that started it fails" {
	run inner_suite test
	assert_failure 1
	assert_line 'not ok 1 a failing test'
	[ "$(wc -l <started)" -eq 5 ]
	while read -r pid dir; do
		net_pid_gone "$pid"
		[ ! -e "$dir" ]
	done <started
	run grep -F -e "$(sed -n 3p started | cut -d' ' -f2)" -e "$(sed -n 5p started | cut -d' ' -f2)" /proc/mounts
	assert_failure 1
}

@test "every server is stopped and removed when setup_file fails after starting them" {
	run inner_suite setup_file
	assert_failure 1
	assert_output --partial 'setup_file failed'
	[ "$(wc -l <started)" -eq 5 ]
	while read -r pid dir; do
		net_pid_gone "$pid"
		[ ! -e "$dir" ]
	done <started
}

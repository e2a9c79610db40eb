#!/usr/bin/env bats
# The local stack (stack/stack.sh: make up, make status, make down) in a
# project directory of its own: PostgreSQL, the S3 server, the s3fs mount
# and the configuration, started, left alone when already up, and undone.
# The tests run in order and share the stack.

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
load helpers/common
load helpers/net
load helpers/mockav

setup_file() {
	# The cluster belongs to the postgres user when the tests run as root:
	# it must be able to reach the directory (BATS's own are private).
	PROJECT=$(mktemp -d /tmp/stocketl-stack.XXXXXX)
	chmod 755 "$PROJECT"
	export PROJECT
	mkdir "$PROJECT/conf"
	printf '[API]\napi_key = abc\n\n[storage]\nlake = ./mine ; my own lake\n\n[streams]\nmax_line = 65536\n' \
		>"$PROJECT/conf/stocketl.ini"
	chmod 600 "$PROJECT/conf/stocketl.ini"
	cp -p "$PROJECT/conf/stocketl.ini" "$PROJECT/user.ini"
	printf '[{"match": {"function": "TIME_SERIES_INTRADAY", "symbol": "IBM"}, "responses": [{"file": "intraday_IBM_5min_compact.json"}]}]\n' \
		>"$BATS_FILE_TMPDIR/rules.json"
	mockav_start "$BATS_FILE_TMPDIR/rules.json"
}

teardown_file() {
	mockav_stop
	if [ -n "${SECOND:-}" ] && mountpoint -q "$SECOND"; then
		fusermount -u "$SECOND"
	fi
	(cd "$PROJECT" && bash "$STOCKETL_ROOT/stack/stack.sh" down >/dev/null 2>&1)
	# --one-file-system: never into a bucket still mounted.
	rm -rf --one-file-system "$PROJECT"
}

setup() {
	common_setup
	cd "$PROJECT" || return 1
}

stack() {
	bash "$STOCKETL_ROOT/stack/stack.sh" "$@"
}

# s3_get KEY: the object KEY of the bucket, fetched from the S3 server itself.
s3_get() {
	curl -sf -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' --aws-sigv4 "aws:amz:us-east-1:s3" \
		--user "$(cat var/s3/passwd)" "$(cat var/s3/endpoint)/stocketl/$1"
}

# pids: the processes of the stack, one line.
pids() {
	echo "$(head -n 1 var/pg/data/postmaster.pid) $(cat var/s3/pid) $(cat var/s3/s3fs.pid)"
}

@test "up starts PostgreSQL, the S3 server and the s3fs mount, and points the configuration at them" {
	run --separate-stderr stack up
	assert_success
	assert_line --index 0 "stack: postgres: made a cluster in $PROJECT/var/pg/data"
	assert_line --partial "stack: s3: s3rver up at http://127.0.0.1:"
	assert_line "stack: lake: bucket stocketl mounted at $PROJECT/var/lake"
	mountpoint -q var/lake
	assert_equal "$(stat -c %a var/s3/passwd) $(stat -c %a var/pg/pgpass) $(stat -c %a var/pg/run)" "600 600 700"
	# the user's own lake is kept, commented out; the programs get the stack's
	run grep -c '^#\[make up\] lake = ./mine ; my own lake$' conf/stocketl.ini
	assert_output 1
	run --separate-stderr stocketl-db status
	assert_success
	assert_line --index 0 --regexp "^target: host=$PROJECT/var/pg/run port=[0-9]+ dbname=stocketl user=stocketl$"
	assert_line --index 1 "dsn from: conf/stocketl.ini"
	run --separate-stderr stocketl-db migrate
	assert_success
	assert_line --index 0 "applied 1: commit store (stocketl.delta_commit)"
	run --separate-stderr stocketl-db table-id var/lake/bronze
	assert_output "s3://stocketl/bronze	var/lake/bronze"
}

@test "status says each component is up, and where" {
	run --separate-stderr stack status
	assert_success
	assert_line --index 0 --regexp "^postgres  up    socket $PROJECT/var/pg/run port [0-9]+, tcp 127.0.0.1:[0-9]+ "
	assert_line --index 1 --regexp "^s3        up    s3rver http://127.0.0.1:[0-9]+, bucket stocketl "
	assert_line --index 2 "lake      up    $PROJECT/var/lake (s3fs, bucket stocketl)"
	assert_line --index 3 --partial "config    set   $PROJECT/conf/stocketl.ini"
}

@test "a second up changes nothing: same processes, same configuration file; one with another configuration is refused" {
	before=$(pids)
	conf=$(stat -c '%Y %s' conf/stocketl.ini; md5sum <conf/stocketl.ini)
	run --separate-stderr stack up
	assert_success
	assert_output ""
	assert_equal "$stderr" ""
	assert_equal "$(pids)" "$before"
	assert_equal "$(stat -c '%Y %s' conf/stocketl.ini; md5sum <conf/stocketl.ini)" "$conf"
	# up with another configuration is refused while this one is set: down restores the one it recorded
	run --separate-stderr env STOCKETL_CONFIG="$PROJECT/other.ini" bash "$STOCKETL_ROOT/stack/stack.sh" up
	assert_failure 64
	assert_equal "$stderr" "stack: the stack is up and has set $PROJECT/conf/stocketl.ini; make down first, to have it set $PROJECT/other.ini"
	[ ! -e other.ini ]
	assert_equal "$(pids)" "$before"
	assert_equal "$(cat var/stack/config)" "$PROJECT/conf/stocketl.ini"
}

@test "a file written through the mount is an object in the bucket" {
	printf 'through s3fs\n' >var/lake/probe.txt
	mkdir -p var/lake/t/_delta_log
	printf '{"commitInfo":{}}\n' >var/lake/t/_delta_log/00000000000000000000.json
	run s3_get probe.txt
	assert_success
	assert_output "through s3fs"
	run s3_get t/_delta_log/00000000000000000000.json
	assert_output '{"commitInfo":{}}'
	# the TCP port takes the password from var/pg/pgpass
	port=$(sed -n 's/^port = //p' var/pg/data/stocketl-port.conf)
	run env PGPASSFILE=var/pg/pgpass psql -X -A -t -h 127.0.0.1 -p "$port" -U stocketl -d stocketl \
		-c "SELECT count(*) FROM stocketl.delta_commit"
	assert_success
	assert_output 0
}

@test "the main job lands bronze on the bucket through the commit store; a second mount and DuckDB read it" {
	run "$STOCKETL_ROOT/pipelines/bronze.sh" --base-url "$MOCKAV_URL" --interval 5min IBM
	assert_success
	port=$(sed -n 's/^port = //p' var/pg/data/stocketl-port.conf)
	run env PGPASSFILE=var/pg/pgpass psql -X -A -t -h 127.0.0.1 -p "$port" -U stocketl -d stocketl \
		-c "SELECT version, complete FROM stocketl.delta_commit WHERE table_id = 's3://stocketl/bronze' ORDER BY version"
	assert_output $'0|t\n1|t'
	run s3_get bronze/_delta_log/00000000000000000001.json
	assert_success
	# another host: the bucket mounted a second time, with the lake's options
	SECOND=$PROJECT/second
	mkdir "$SECOND"
	# shellcheck source=stack/s3fs-options.sh
	source "$STOCKETL_ROOT/stack/s3fs-options.sh"
	s3fs stocketl "$SECOND" -o "$(s3fs_lake_options "$(cat var/s3/endpoint)" stocketl "$PROJECT/var/s3/passwd" "$BATS_TEST_TMPDIR/s3fs.log")" 3>&-
	run --separate-stderr env STOCKETL_LAKE="$SECOND" delta-cat --columns trade_timestamp bronze
	assert_success
	assert_equal "${#lines[@]}" 100
	run duckdb-query.js "SELECT count(*) AS n FROM read_parquet('$SECOND/bronze/trade_date=*/*.parquet')"
	assert_output '{"n":100}'
	fusermount -u "$SECOND"
}

@test "up mounts the bucket again when its s3fs has died, and status says so before" {
	kill -KILL "$(cat var/s3/s3fs.pid)"
	net_wait_for 100 net_pid_gone "$(cat var/s3/s3fs.pid)"
	run --separate-stderr stack status
	assert_line --index 2 "lake      dead  $PROJECT/var/lake (its s3fs has ended; make up mounts it again)"
	run --separate-stderr stack up
	assert_success
	assert_line "stack: lake: unmounted $PROJECT/var/lake"
	assert_line "stack: lake: bucket stocketl mounted at $PROJECT/var/lake"
	run cat var/lake/probe.txt
	assert_output "through s3fs"
}

@test "down unmounts and stops everything and gives the user's configuration back as it was" {
	s3fs_pid=$(cat var/s3/s3fs.pid)
	server_pid=$(cat var/s3/pid)
	run --separate-stderr stack down
	assert_success
	assert_line "stack: config: $PROJECT/conf/stocketl.ini restored"
	assert_line "stack: lake: unmounted $PROJECT/var/lake"
	assert_line "stack: s3: stopped"
	assert_line "stack: postgres: stopped"
	run mountpoint -q var/lake
	assert_failure
	# gone (an exited process that its new parent has not reaped yet counts)
	net_pid_gone "$s3fs_pid"
	net_pid_gone "$server_pid"
	cmp conf/stocketl.ini user.ini
	assert_equal "$(stat -c %a conf/stocketl.ini)" 600
}

@test "status after down says each component is down" {
	run --separate-stderr stack status
	assert_success
	assert_line --index 0 "postgres  down  $PROJECT/var/pg/data"
	assert_line --index 1 "s3        down  $PROJECT/var/s3/data"
	assert_line --index 2 "lake      down  $PROJECT/var/lake"
	assert_line --index 3 "config    unset $PROJECT/conf/stocketl.ini"
}

@test "down again changes nothing" {
	run --separate-stderr stack down
	assert_success
	assert_output ""
	assert_equal "$stderr" ""
	cmp conf/stocketl.ini user.ini
}

@test "up after down finds the objects and the schema where they were" {
	run --separate-stderr stack up
	assert_success
	refute_line --partial "made a cluster"
	run cat var/lake/probe.txt
	assert_output "through s3fs"
	run --separate-stderr stocketl-db status
	assert_line --index 3 "schema: 2"
	run --separate-stderr stack down
	assert_success
	cmp conf/stocketl.ini user.ini
}

@test "without a configuration file, up makes one and down removes it" {
	mv conf/stocketl.ini conf/keep.ini
	stack up >/dev/null
	assert_equal "$(stat -c %a conf/stocketl.ini)" 600
	run grep -c '^\[postgres\]$' conf/stocketl.ini
	assert_output 1
	run --separate-stderr stack down
	assert_line "stack: config: removed $PROJECT/conf/stocketl.ini (make up had made it)"
	[ ! -e conf/stocketl.ini ]
	mv conf/keep.ini conf/stocketl.ini
}

@test "a bad command is a usage error" {
	run --separate-stderr stack sideways
	assert_failure 64
	assert_equal "$stderr" "usage: stack/stack.sh up | down | status"
}

@test "make up, make ddl, make stock-etl, the history report and make down, in that order, from the checkout" {
	# As a user runs them in the checkout; the stack's directory and the
	# configuration are this project's, so that the checkout stays clean.
	export STOCKETL_STACK_DIR=$PROJECT/var STOCKETL_CONFIG=$PROJECT/conf/stocketl.ini
	export STOCKETL_STATE=$PROJECT/var/state
	mk() {
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$STOCKETL_ROOT" -s --no-print-directory \
			O="${O:-build/rel}" OUTBIN="$STOCKETL_BIN" "$@"
	}
	run --separate-stderr mk up
	assert_success
	mountpoint -q var/lake
	run --separate-stderr mk ddl
	assert_success
	STOCKETL_NOW=2025-06-17T21:00:00Z run --separate-stderr mk stock-etl \
		ARGS="--base-url $MOCKAV_URL --interval 5min IBM"
	assert_success
	grep -qE '^stock-etl: run [0-9TZ-]+: status 0; ' <<<"$stderr"
	# bronze and silver on the bucket, committed through PostgreSQL
	run s3_get silver/_delta_log/00000000000000000001.json
	assert_success
	run --separate-stderr delta-cat --columns trade_timestamp silver
	assert_success
	assert_equal "${#lines[@]}" 100
	# the run is in PostgreSQL's history, with its stages
	run --separate-stderr etl-history --source postgres --format json runs
	assert_success
	run jq -r '.runs[] | select(.job == "stock-etl") | "\(.status) \(.rows_committed > 0) \([.stages[].stage] | sort | join(","))"' <<<"$output"
	assert_output "0 true append,bronze,consumed,create,fetch,latest,merge,normalize,read,silver,validate,watermark"
	run --separate-stderr mk down
	assert_success
	run ! mountpoint -q var/lake
	cmp conf/stocketl.ini user.ini
	[ -d var/pg/data ] && [ -d var/s3/data ]
}

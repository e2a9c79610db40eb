#!/usr/bin/env bats
# stocketl-db and the PostgreSQL module against a throwaway cluster (initdb
# on a Unix socket): migrations, where the DSN comes from, statuses,
# messages without passwords, the commit store's C API (test_pg_store), and
# table identities from real s3fs mounts.  The last test stops the server.

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
load helpers/common
load helpers/pg
load helpers/s3

setup_file() {
	pg_start
	export UNIT=$STOCKETL_ROOT/${O:-build/rel}/tests
}

teardown_file() {
	pg_stop
}

setup() {
	common_setup
	pg_env
}

teardown() {
	s3_stop
}

# fresh_db NAME: an empty database NAME; its DSN in $DSN.
fresh_db() {
	pg_query "DROP DATABASE IF EXISTS $1" >/dev/null 2>&1
	pg_query "CREATE DATABASE $1"
	DSN="host=$PGHOST port=$PGPORT user=postgres dbname=$1"
}

@test "stocketl-db --help is the man page's synopsis; --version names the program" {
	assert_help_matches_man stocketl-db
	run stocketl-db --version
	assert_success
	assert_output --regexp '^stocketl-db \(stocketl\) [0-9]'
}

@test "stocketl-db without a command, with an unknown one, or with stray arguments is a usage error" {
	run --separate-stderr stocketl-db
	assert_failure 64
	assert_regex "$stderr" "stocketl-db: no command given"
	run --separate-stderr stocketl-db drop
	assert_failure 64
	assert_regex "$stderr" 'unknown command "drop"'
	run --separate-stderr stocketl-db migrate now
	assert_failure 64
	run --separate-stderr stocketl-db table-id
	assert_failure 64
	run --separate-stderr stocketl-db forget-table
	assert_failure 64
	assert_regex "$stderr" "forget-table: no PATH given"
	# a table on the local disk has no rows to forget
	run --separate-stderr stocketl-db forget-table "$BATS_TEST_TMPDIR/t"
	assert_failure 64
	assert_equal "$stderr" "stocketl-db: $BATS_TEST_TMPDIR/t: not on an s3fs mount: a local table has no rows in the commit store"
}

@test "migrate creates the schema on a new database; a second migrate changes nothing" {
	fresh_db m_twice
	run --separate-stderr stocketl-db --dsn "$DSN" migrate
	assert_success
	assert_line --index 0 "applied 1: commit store (stocketl.delta_commit)"
	assert_line --index 1 "applied 2: the job's facts (runs, stages, requests, checks, commits, watermarks)"
	assert_line --index 2 "schema stocketl at version 2 on host=$PGHOST port=$PGPORT dbname=m_twice user=postgres"
	assert_equal "$stderr" ""
	before=$(PGDATABASE=m_twice pg_query "SELECT version, name, applied_at FROM stocketl.schema_migrations")
	run --separate-stderr stocketl-db --dsn "$DSN" migrate
	assert_success
	assert_output "schema stocketl at version 2 on host=$PGHOST port=$PGPORT dbname=m_twice user=postgres (nothing to apply)"
	after=$(PGDATABASE=m_twice pg_query "SELECT version, name, applied_at FROM stocketl.schema_migrations")
	assert_equal "$after" "$before"
	PGDATABASE=m_twice run pg_query "SELECT column_name FROM information_schema.columns
		WHERE table_schema = 'stocketl' AND table_name = 'delta_commit' ORDER BY ordinal_position"
	assert_output "$(printf '%s\n' table_id version temp_path complete created_at completed_at body)"
}

@test "two migrates at once both succeed and apply each migration once" {
	fresh_db m_race
	stocketl-db -q --dsn "$DSN" migrate 2>"$BATS_TEST_TMPDIR/a.err" &
	a=$!
	stocketl-db -q --dsn "$DSN" migrate 2>"$BATS_TEST_TMPDIR/b.err" &
	b=$!
	wait "$a"
	wait "$b"
	run cat "$BATS_TEST_TMPDIR/a.err" "$BATS_TEST_TMPDIR/b.err"
	assert_output ""
	PGDATABASE=m_race run pg_query "SELECT version FROM stocketl.schema_migrations ORDER BY version"
	assert_output "$(printf '%s\n' 1 2)"
}

@test "status shows the target without the password, where the DSN came from, and the schema" {
	fresh_db m_status
	run --separate-stderr stocketl-db --dsn "$DSN password=hunter2-in-dsn" status
	assert_success
	assert_line --index 0 "target: host=$PGHOST port=$PGPORT dbname=m_status user=postgres"
	assert_line --index 1 "dsn from: flag"
	assert_line --index 2 --regexp '^server: PostgreSQL [0-9]+\.[0-9]+$'
	assert_line --index 3 --partial "schema: none"
	refute_output --partial hunter2
	stocketl-db -q --dsn "$DSN" migrate
	run --separate-stderr stocketl-db --dsn "$DSN" status
	assert_line --index 3 "schema: 2"
}

@test "the DSN comes from --dsn, then STOCKETL_PG_DSN, then [postgres] dsn, then the PG* variables" {
	fresh_db dsn_flag
	fresh_db dsn_env
	fresh_db dsn_file
	mkdir conf
	printf '[postgres]\ndsn = host=%s port=%s dbname=dsn_file\n' "$PGHOST" "$PGPORT" >conf/stocketl.ini
	chmod 600 conf/stocketl.ini
	run --separate-stderr stocketl-db status
	assert_line --index 0 --partial "dbname=dsn_file"
	assert_line --index 1 "dsn from: conf/stocketl.ini"
	export STOCKETL_PG_DSN="host=$PGHOST port=$PGPORT dbname=dsn_env"
	run --separate-stderr stocketl-db status
	assert_line --index 0 --partial "dbname=dsn_env"
	assert_line --index 1 "dsn from: environment"
	run --separate-stderr stocketl-db --dsn "host=$PGHOST port=$PGPORT dbname=dsn_flag" status
	assert_line --index 0 --partial "dbname=dsn_flag"
	unset STOCKETL_PG_DSN
	rm conf/stocketl.ini
	run --separate-stderr stocketl-db status
	assert_success
	assert_line --index 0 "target: host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=postgres"
	assert_line --index 1 "dsn from: PG* environment"
}

@test "a password in the DSN never reaches stderr or stdout, whatever fails" {
	run --separate-stderr stocketl-db --dsn "host=$PGHOST port=$PGPORT dbname=no_such_db password=hunter2-kv" status
	assert_failure 78
	assert_regex "$stderr" 'database "no_such_db" does not exist'
	refute_output --partial hunter2
	assert_equal "$(grep -c hunter2 <<<"$stderr")" 0
	run --separate-stderr stocketl-db --dsn "postgresql://postgres:hunter2-uri@127.0.0.1:notaport/x" migrate
	assert_failure 78
	assert_regex "$stderr" 'malformed DSN|invalid'
	assert_equal "$(grep -c hunter2 <<<"$stderr$output")" 0
	run --separate-stderr stocketl-db --dsn "host=$PGHOST port=$PGPORT password='hunter2 quoted' sslmode=bogus" migrate
	assert_failure 78
	assert_regex "$stderr" 'invalid sslmode value'
	assert_equal "$(grep -c hunter2 <<<"$stderr$output")" 0
	# from the configuration file too (and the file's mode is warned about)
	mkdir conf
	printf '[postgres]\ndsn = "host=%s port=1 password=hunter2-file"\n' "$PGHOST" >conf/stocketl.ini
	run --separate-stderr stocketl-db status
	assert_failure 75
	assert_regex "$stderr" "holds a secret \(\[postgres\] dsn\)"
	assert_equal "$(grep -c hunter2 <<<"$stderr$output")" 0
}

@test "an unreachable server is exit 75 (temporary), with the target in the message" {
	run --separate-stderr stocketl-db --dsn "host=$PGHOST port=1 dbname=x" status
	assert_failure 75
	assert_line --index 2 "server: not connected"
	assert_regex "$stderr" "^stocketl-db: postgres at host=$PGHOST port=1 dbname=x user=postgres: cannot connect: .*No such file or directory"
	run --separate-stderr stocketl-db --dsn "host=127.0.0.1 port=1 dbname=x connect_timeout=2" migrate
	assert_failure 75
	assert_regex "$stderr" "Connection refused"
}

@test "without a loadable libpq, what needs PostgreSQL is exit 78 naming the package, and a table on a local disk needs none" {
	mkdir badlib
	: >badlib/libpq.so.5
	export LD_LIBRARY_PATH=$PWD/badlib
	run --separate-stderr stocketl-db --dsn 'host=/nonexistent user=u password=sekrit' status
	assert_failure 78
	assert_regex "$stderr" "^stocketl-db: PostgreSQL's client library cannot be loaded \(install Debian's libpq5\): .*libpq\.so\.5"
	refute_output --partial sekrit
	[[ $stderr != *sekrit* ]]
	run --separate-stderr stocketl-db --dsn 'host=/nonexistent' migrate
	assert_failure 78
	unset STOCKETL_PG_DSN
	export STOCKETL_LAKE=$PWD/lake
	run delta-create t --schema "$STOCKETL_ROOT/conf/tables/bronze.schema"
	assert_success
	printf '%s\n' '{"symbol":"IBM","interval":"5min","trade_timestamp":"2025-06-17T13:30:00Z","trade_date":"2025-06-17","open":1,"high":1,"low":1,"close":1,"volume":1,"batch_id":1,"ingested_at":"2025-06-17T13:31:00Z","source":"alphavantage"}' |
		delta-append -q --app-id test --batch-id 1 t
	run delta-cat --columns symbol t
	assert_output '{"symbol":"IBM"}'
}

@test "a malformed timeout in the configuration is exit 78 naming the file" {
	mkdir conf
	printf '[postgres]\nstatement_timeout = forever\n' >conf/stocketl.ini
	run --separate-stderr stocketl-db status
	assert_failure 78
	assert_regex "$stderr" 'conf/stocketl.ini: \[postgres\] statement_timeout: "forever" is not a duration'
}

@test "a role without CREATE rights cannot migrate and is told what right is missing" {
	fresh_db m_nocreate
	pg_query "DROP ROLE IF EXISTS weak; CREATE ROLE weak LOGIN" 2>/dev/null
	run --separate-stderr stocketl-db --dsn "$DSN user=weak" migrate
	assert_failure 78
	assert_regex "$stderr" "permission denied for database m_nocreate \(SQLSTATE 42501\); creating the schema stocketl needs a role with CREATE on the database"
	# once the owner has migrated, that role sees the schema
	stocketl-db -q --dsn "$DSN" migrate
	PGDATABASE=m_nocreate pg_query "GRANT USAGE ON SCHEMA stocketl TO weak; GRANT SELECT ON ALL TABLES IN SCHEMA stocketl TO weak"
	run --separate-stderr stocketl-db --dsn "$DSN user=weak" status
	assert_success
	assert_line --index 3 "schema: 2"
}

@test "the commit store's C API: schema on first use, claims, races between processes, reconnection, rights" {
	run --separate-stderr env STOCKETL_TEST_PG_DSN="host=$PGHOST port=$PGPORT user=postgres" \
		"$UNIT/test_pg_store"
	assert_success
	assert_line "1..6"
	refute_output --partial "not ok"
	assert_equal "$stderr" ""
}

@test "table-id: two mount points of one bucket, and a prefix mount, give a table one identity" {
	s3_start stocketl-ids
	second=$(s3_mount)
	mkdir -p "$S3_MOUNT/lake/bronze"
	prefixed=$(s3_mount "$S3_BUCKET:/lake")
	named=$(s3_mount "$S3_BUCKET:/lake" "fsname=s3fs#$S3_BUCKET:/lake")
	ln -s "$second/lake" "$BATS_TEST_TMPDIR/link"
	mkdir local
	run --separate-stderr stocketl-db table-id "$S3_MOUNT/lake/bronze" "$second/lake/bronze/" \
		"$prefixed/bronze" "$named/bronze" "$BATS_TEST_TMPDIR/link/bronze" \
		"$S3_MOUNT/lake/silver" local/t
	assert_success
	assert_equal "$stderr" ""
	assert_equal "${#lines[@]}" 7
	for i in 0 1 2 3 4; do
		assert_equal "$(cut -f 1 <<<"${lines[$i]}")" "s3://stocketl-ids/lake/bronze"
	done
	# a table that does not exist yet has the identity it will have; another table another one
	assert_line --index 5 "s3://stocketl-ids/lake/silver	$S3_MOUNT/lake/silver"
	assert_line --index 6 "-	local/t"
}

@test "load-spool: a --spool that is not there, or not a directory, is exit 74 before connecting; the default spool not made yet is an empty one" {
	fresh_db l_named
	run --separate-stderr stocketl-db --dsn "$DSN" --spool "$PWD/no/such/spool" load-spool
	assert_failure 74
	assert_output ''
	assert_equal "$stderr" "stocketl-db: --spool $PWD/no/such/spool: No such file or directory"
	touch plain
	run --separate-stderr stocketl-db --dsn "$DSN" --spool plain load-spool
	assert_failure 74
	assert_equal "$stderr" "stocketl-db: --spool plain: not a directory"
	# Checked before the server: an unreachable one does not hide the mistyped path.
	run --separate-stderr stocketl-db --dsn "host=127.0.0.1 port=1 connect_timeout=2" \
		--spool "$PWD/no/such/spool" load-spool
	assert_failure 74
	STOCKETL_SPOOL=$PWD/not/made/yet run --separate-stderr stocketl-db --dsn "$DSN" load-spool
	assert_success
	assert_output --regexp "^loaded 0 files from $PWD/not/made/yet into "
}

@test "a server stopped mid-use is exit 75 for the commit store, without the password" {
	run --separate-stderr env STOCKETL_TEST_PG_DSN="host=$PGHOST port=$PGPORT user=postgres" \
		STOCKETL_TEST_PG_STOP="bash -c 'source $STOCKETL_ROOT/tests/helpers/pg.bash && pg_server_stop'" \
		"$UNIT/test_pg_store" server-stop
	assert_success
	assert_line "1..1"
	assert_line --partial "connection lost and cannot be made again"
	refute_output --partial "not ok"
	# and a program started now cannot reach it either
	run --separate-stderr stocketl-db status
	assert_failure 75
}

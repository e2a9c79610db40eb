#!/usr/bin/env bats
# Delta tables on an S3 bucket mounted with s3fs (a local S3 server on
# loopback) without PostgreSQL: what reads there, and the link store that
# must refuse rather than risk overwriting another writer's version
# (s3-store.bats has the PostgreSQL commit store).

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
load helpers/common
load helpers/s3

setup_file() {
	s3_start
}

teardown_file() {
	s3_stop
}

setup() {
	common_setup
	export STOCKETL_LAKE=$S3_MOUNT/lake-$BATS_TEST_NUMBER
}

@test "on s3fs the link store refuses before anything is written, naming the PostgreSQL store" {
	run --separate-stderr delta-create bronze --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" \
		--partition-by trade_date
	assert_failure 78
	assert_equal "$stderr" "delta-create: $STOCKETL_LAKE/bronze: this filesystem cannot create links, so commits cannot be made atomic here: the table is on a FUSE mount (s3fs), where commits need the PostgreSQL commit store: configure PostgreSQL ([postgres] dsn or \$STOCKETL_PG_DSN; \`make up\` does)"
	# nothing half-made: not even the table's directory
	[ ! -e "$STOCKETL_LAKE/bronze" ]
}

@test "on s3fs delta-append refuses a table before writing any data file" {
	mkdir -p "$STOCKETL_LAKE"
	cp -r "$FIXTURES/delta/delta-rs/delta-0.8.0-partitioned" "$STOCKETL_LAKE/t"
	before=$(find "$STOCKETL_LAKE/t" -type f | sort)
	run --separate-stderr bash -c 'printf "%s\n" "{\"value\":\"8\",\"year\":\"2022\",\"month\":\"1\",\"day\":\"1\"}" | delta-append --app-id a --batch-id 1 t'
	assert_failure 78
	assert_regex "$stderr" "the table is on a FUSE mount \(s3fs\), where commits need the PostgreSQL commit store"
	assert_equal "$(find "$STOCKETL_LAKE/t" -type f | sort)" "$before"
}

@test "commit_store = link on s3fs is refused before any data file is written, even with PostgreSQL configured" {
	mkdir -p "$STOCKETL_LAKE"
	cp -r "$FIXTURES/delta/delta-rs/delta-0.8.0-partitioned" "$STOCKETL_LAKE/t"
	before=$(find "$STOCKETL_LAKE/t" -type f | sort)
	printf '[storage]\ncommit_store = link\n[postgres]\ndsn = host=/nonexistent\n' >link.ini
	run --separate-stderr bash -c 'printf "%s\n" "{\"value\":\"8\",\"year\":\"2022\",\"month\":\"1\",\"day\":\"1\"}" | delta-append --config link.ini --app-id a --batch-id 1 t'
	assert_failure 78
	assert_equal "$stderr" "delta-append: $STOCKETL_LAKE/t: this filesystem cannot create links, so commits cannot be made atomic here: the table is on a FUSE mount (s3fs), where commits need the PostgreSQL commit store (link.ini:2: [storage] commit_store = link; set it to postgres or auto and configure PostgreSQL: [postgres] dsn or \$STOCKETL_PG_DSN)"
	assert_equal "$(find "$STOCKETL_LAKE/t" -type f | sort)" "$before"
	# the environment overrides the file, and names itself
	run --separate-stderr bash -c 'printf "%s\n" "{\"value\":\"8\",\"year\":\"2022\",\"month\":\"1\",\"day\":\"1\"}" | STOCKETL_COMMIT_STORE=link delta-append --app-id a --batch-id 1 t'
	assert_failure 78
	assert_regex "$stderr" "\(\\\$STOCKETL_COMMIT_STORE = link; set it to postgres or auto"
}

@test "a table copied onto the bucket reads back through the mount" {
	mkdir -p "$STOCKETL_LAKE"
	cp -r "$FIXTURES/delta/delta-golden/basic-with-inserts-deletes-checkpoint" "$STOCKETL_LAKE/t"
	run --separate-stderr delta-cat --columns id t
	assert_success
	assert_equal "${#lines[@]}" 41
	run --separate-stderr delta-history --limit 1 t
	assert_success
	assert_output --partial '"version":13'
}

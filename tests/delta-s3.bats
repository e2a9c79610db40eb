#!/usr/bin/env bats
# Delta tables on an S3 bucket mounted with s3fs (a local S3 server on
# loopback): what works there today, and the commit that must refuse
# rather than risk overwriting another writer's version.

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

@test "on s3fs a commit is refused (no put-if-absent there) and nothing is left behind" {
	run --separate-stderr delta-create bronze --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" \
		--partition-by trade_date
	assert_failure 74
	assert_regex "$stderr" "this filesystem cannot create links, so commits cannot be made atomic here"
	assert_regex "$stderr" "PostgreSQL commit store"
	# nothing half-made: no version 0, no temporary commit left behind
	run find "$STOCKETL_LAKE/bronze/_delta_log" -type f
	assert_output ""
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

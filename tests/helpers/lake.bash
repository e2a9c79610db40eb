# A lake on an S3 bucket with the PostgreSQL commit store, for test suites:
# the bucket mounted the way production mounts it (stack/s3fs-options.sh),
# once per "host", and the commit store's rows to look at.
#
#   load helpers/pg
#   load helpers/s3
#   load helpers/lake
#
#   setup_file()    { pg_start && s3_start && lake_hosts; }
#   teardown_file() { s3_stop; pg_stop; }
#   setup()         { common_setup; pg_env; lake_env; }
#
# lake_hosts mounts the bucket twice with the lake's options and exports
# HOST_A and HOST_B, the two mount points: two hosts sharing one lake.
# lake_env points the programs at PostgreSQL ($STOCKETL_PG_DSN, so that
# commit_store = auto is the PostgreSQL store) and at a lake of the test's
# own on host A ($STOCKETL_LAKE=$HOST_A/lake-N); LAKE_B is the same lake
# seen from host B.
# shellcheck shell=bash
# shellcheck source-path=SCRIPTDIR
# shellcheck source=../../stack/s3fs-options.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../stack/s3fs-options.sh"

# lake_options [EXTRA]: the lake's s3fs options without those that s3_mount
# gives itself (address, credentials, log), then EXTRA (comma-separated).
lake_options() {
	local o
	o=$(s3fs_lake_options "$S3_ENDPOINT" "$S3_BUCKET" "$S3_DIR/passwd" "$S3_DIR/s3fs.log")
	o=$(tr ',' '\n' <<<"$o" | grep -v -e '^url=' -e '^use_path_request_style$' \
		-e '^passwd_file=' -e '^logfile=' -e '^dbglevel=' | paste -sd, -)
	echo "$o${1:+,$1}"
}

# lake_mount [EXTRA]: mount the bucket once more with the lake's options
# (and EXTRA) and print where.
lake_mount() {
	s3_mount "$S3_BUCKET" "$(lake_options "${1:-}")"
}

# lake_hosts: two mounts of the bucket, HOST_A and HOST_B.
lake_hosts() {
	HOST_A=$(lake_mount "") || return 1
	HOST_B=$(lake_mount "") || return 1
	export HOST_A HOST_B
}

# lake_env: the programs commit through PostgreSQL to a lake of this test's
# own on host A ($STOCKETL_LAKE); LAKE_B is that lake through host B.
lake_env() {
	export STOCKETL_PG_DSN=$STOCKETL_TEST_PG_DSN
	export STOCKETL_LAKE=$HOST_A/lake-$BATS_TEST_NUMBER
	export LAKE_B=$HOST_B/lake-$BATS_TEST_NUMBER
}

# store_rows TABLE_DIR: the commit store's rows of the table at TABLE_DIR, one
# "version|complete" line each (t or f), oldest first.
store_rows() {
	pg_query "SELECT version, complete FROM stocketl.delta_commit
		WHERE table_id = '$(stocketl-db table-id "$1" | cut -f 1)' ORDER BY version"
}

# log_versions TABLE_DIR: the versions of the JSON commits in the table's
# _delta_log as listed through the mount, one per line, ascending.
log_versions() {
	find "$1/_delta_log" -maxdepth 1 -name '*.json' -printf '%f\n' | sed 's/\.json$//' |
		sort | sed 's/^0*\([0-9]\)/\1/'
}

# live_files TABLE_DIR: the data files the latest version of the table holds
# (add paths minus remove paths, from every JSON commit), one per line,
# sorted: what a reader that knows only the log reads.
live_files() {
	cat "$1"/_delta_log/*.json | jq -r 'if .add then "+" + .add.path elif .remove then "-" + .remove.path else empty end' |
		awk '/^\+/ { live[substr($0, 2)] = 1 } /^-/ { delete live[substr($0, 2)] }
			END { for (f in live) print f }' | sort
}

# parquet_files TABLE_DIR: every Parquet data file under the table, relative
# to it, sorted (orphans of batches that were never committed included).
parquet_files() {
	(cd "$1" && find . -path ./_delta_log -prune -o -name '*.parquet' -printf '%P\n' | sort)
}

# Loaded by every BATS suite: a hermetic environment and the assertions.
#
#   load helpers/common
#
# Each test gets a fresh $BATS_TEST_TMPDIR as HOME and working directory,
# fixed TZ and LC_ALL, no stocketl (metadata spool and run id included),
# Alpha Vantage, PostgreSQL or proxy settings inherited from the caller (a
# proxy would divert requests meant for the loopback test servers), and the
# programs under test first on PATH.
#
# $STOCKETL_TEST_LAKE chooses where the tests' tables are:
#
#   local (or unset)  on the local disk: $TEST_DIR is $BATS_TEST_TMPDIR
#   s3                on an S3 bucket mounted with s3fs, committed through
#                     the PostgreSQL commit store, as a lake on MinIO is:
#                     setup_file starts one S3 server, one mount with the
#                     lake's options (helpers/lake.bash) and one PostgreSQL
#                     cluster for the suite file and copies tests/fixtures
#                     onto the mount ($FIXTURES is that copy); each test's
#                     $TEST_DIR is a fresh directory of its own on the mount,
#                     and the programs get $STOCKETL_PG_DSN with
#                     $STOCKETL_COMMIT_STORE=postgres, the configuration of
#                     a lake on the bucket.  teardown_file stops it all and
#                     unmounts.
#
# Either way the test's working directory is $TEST_DIR: a suite that keeps
# its lake there (STOCKETL_LAKE=$TEST_DIR/lake), and its tables and files
# at relative paths, runs unchanged on the mount.  Its HOME stays
# $BATS_TEST_TMPDIR.  A test that cannot mean anything on the mount skips
# itself there with test_lake_skip REASON.  The s3 lake needs what
# helpers/s3.bash and helpers/pg.bash need (root, /dev/fuse, PostgreSQL),
# and a suite whose own setup_file replaces this one cannot use it.
# shellcheck shell=bash
# shellcheck source-path=SCRIPTDIR

# Suites use `run --separate-stderr` and other flags of run.
bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

STOCKETL_ROOT=${STOCKETL_ROOT:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}
STOCKETL_BIN=${STOCKETL_BIN:-$STOCKETL_ROOT/bin}
FIXTURES=$STOCKETL_ROOT/tests/fixtures
export STOCKETL_ROOT STOCKETL_BIN FIXTURES

case ${STOCKETL_TEST_LAKE:-local} in
local) ;;
s3)
	# shellcheck source=pg.bash
	source "$(dirname "${BASH_SOURCE[0]}")/pg.bash"
	# shellcheck source=s3.bash
	source "$(dirname "${BASH_SOURCE[0]}")/s3.bash"
	# shellcheck source=lake.bash
	source "$(dirname "${BASH_SOURCE[0]}")/lake.bash"
	setup_file() {
		test_lake_start
	}
	teardown_file() {
		test_lake_stop
	}
	;;
*)
	echo "common.bash: STOCKETL_TEST_LAKE: expected local or s3, got '$STOCKETL_TEST_LAKE'" >&2
	return 1
	;;
esac

# test_lake_start: the suite file's S3 server, mount and PostgreSQL cluster,
# and its copy of the fixtures on the mount ($STOCKETL_TEST_MOUNT/fixtures).
# Returns 1, with the reason on stderr, if any fails to start.
test_lake_start() {
	pg_start stocketl_test || return 1
	s3_start stocketl-test || return 1
	STOCKETL_TEST_MOUNT=$(lake_mount "") || return 1
	export STOCKETL_TEST_MOUNT
	if ! cp -r "$STOCKETL_ROOT/tests/fixtures" "$STOCKETL_TEST_MOUNT/fixtures"; then
		echo "test_lake_start: cannot copy the fixtures onto the mount" >&2
		return 1
	fi
}

# test_lake_stop: unmount the bucket, stop the S3 server and PostgreSQL.
test_lake_stop() {
	local status=0
	s3_stop || status=1
	pg_stop || status=1
	return "$status"
}

# test_lake_skip REASON: skip this test when its tables are on the mount,
# saying why it means nothing there.
test_lake_skip() {
	if [ "${STOCKETL_TEST_LAKE:-local}" = s3 ]; then
		skip "on s3fs: $1"
	fi
}

common_setup() {
	export PATH="$STOCKETL_BIN:$STOCKETL_ROOT/tests/helpers:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
	export HOME=$BATS_TEST_TMPDIR
	export TZ=UTC
	export LC_ALL=C.UTF-8
	unset STOCKETL_CONFIG STOCKETL_LAKE STOCKETL_PG_DSN STOCKETL_COMMIT_STORE STOCKETL_SPOOL \
		STOCKETL_STATE STOCKETL_RUN_ID STOCKETL_SHARE ALPHAVANTAGE_API_KEY PGHOST PGPORT PGDATABASE \
		PGUSER PGPASSWORD PGSERVICE \
		http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
	TEST_DIR=$BATS_TEST_TMPDIR
	if [ "${STOCKETL_TEST_LAKE:-local}" = s3 ]; then
		if [ -z "${STOCKETL_TEST_MOUNT:-}" ] || ! mountpoint -q "$STOCKETL_TEST_MOUNT"; then
			echo "common_setup: STOCKETL_TEST_LAKE=s3, but no bucket is mounted (a suite with its own setup_file cannot run on s3)" >&2
			return 1
		fi
		TEST_DIR=$STOCKETL_TEST_MOUNT/test-$BATS_TEST_NUMBER
		mkdir "$TEST_DIR" || return 1
		FIXTURES=$STOCKETL_TEST_MOUNT/fixtures
		export STOCKETL_PG_DSN=$STOCKETL_TEST_PG_DSN
		export STOCKETL_COMMIT_STORE=postgres
	fi
	export TEST_DIR
	cd "$TEST_DIR" || return 1
}

# Each suite's setup() calls common_setup; suites that need nothing more can
# use this default.
setup() {
	common_setup
}

# assert_help_matches_man PROG [PAGE]: the usage that PROG --help prints
# (its text up to the first empty line, before the options) is the SYNOPSIS
# of its man page, whitespace aside.
assert_help_matches_man() {
	local prog=$1 page=${2:-$STOCKETL_ROOT/cmd/$1/$1.1} help synopsis
	help=$("$prog" --help | awk 'NF == 0 { exit } { print }' | sed 's/^usage: //' |
		tr -s ' \t\n' ' ' | sed 's/^ //; s/ $//')
	synopsis=$(MANWIDTH=1000 man -l -Tutf8 "$page" 2>/dev/null | col -b |
		awk '/^SYNOPSIS/ { f = 1; next } /^[A-Z]/ { f = 0 } f' |
		tr -s ' \t\n' ' ' | sed 's/^ //; s/ $//')
	assert_equal "$help" "$synopsis"
}

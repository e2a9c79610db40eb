# Loaded by every BATS suite: a hermetic environment and the assertions.
#
#   load helpers/common
#
# Each test gets a fresh $BATS_TEST_TMPDIR as HOME and working directory,
# fixed TZ and LC_ALL, no stocketl (metadata spool and run id included),
# Alpha Vantage, PostgreSQL or proxy settings inherited from the caller (a
# proxy would divert requests meant for the loopback test servers), and the
# programs under test first on PATH.
# shellcheck shell=bash

# Suites use `run --separate-stderr` and other flags of run.
bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

STOCKETL_ROOT=${STOCKETL_ROOT:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}
STOCKETL_BIN=${STOCKETL_BIN:-$STOCKETL_ROOT/bin}
FIXTURES=$STOCKETL_ROOT/tests/fixtures
export STOCKETL_ROOT STOCKETL_BIN FIXTURES

common_setup() {
	export PATH="$STOCKETL_BIN:$STOCKETL_ROOT/tests/helpers:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
	export HOME=$BATS_TEST_TMPDIR
	export TZ=UTC
	export LC_ALL=C.UTF-8
	unset STOCKETL_CONFIG STOCKETL_LAKE STOCKETL_PG_DSN STOCKETL_COMMIT_STORE STOCKETL_SPOOL \
		STOCKETL_STATE STOCKETL_RUN_ID STOCKETL_SHARE ALPHAVANTAGE_API_KEY PGHOST PGPORT PGDATABASE \
		PGUSER PGPASSWORD PGSERVICE \
		http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
	cd "$BATS_TEST_TMPDIR" || return 1
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

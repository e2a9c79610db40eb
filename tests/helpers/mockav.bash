# The mock Alpha Vantage server for test suites: demo/av-server.js, the
# loopback stand-in that the offline demo also serves its recordings with,
# started through demo/av-server.bash.
#
#   load helpers/mockav
#
#   setup_file()    { mockav_start "$BATS_TEST_DIRNAME/fixtures/rules/x.json"; }
#   teardown_file() { mockav_stop; }
#
# or, for a server with rules of its own, start and stop it inside one test
# (stop it in teardown() so that it also ends when the test fails).  BATS
# runs teardown_file from its own EXIT trap, so the server is stopped even
# when setup_file or a test fails; a plain script uses
# `trap mockav_stop EXIT`.  Call mockav_start directly, never through `run`:
# it exports variables and a subshell would lose them.
#
# After mockav_start these are exported:
#
#   MOCKAV_URL   base URL of the API, http://127.0.0.1:PORT/query
#   MOCKAV_PORT  the port
#   MOCKAV_LOG   the request log, one JSON line per request
#                ({"t":EPOCH_US,"method":..,"path":..,"query":{..}}), the
#                API key included so that a suite can check which key a
#                client sent
#   MOCKAV_PID   the server's process id
#   MOCKAV_DIR   the server's temporary directory (log, port file, stderr)
#
# mockav_rules RULES_FILE replaces the rules of the running server (and
# restarts their counts) without restarting it.  The rules format is
# described at the top of demo/av-server.js.
# shellcheck shell=bash
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/net.bash"
# shellcheck source=../../demo/av-server.bash
source "$(dirname "${BASH_SOURCE[0]}")/../../demo/av-server.bash"

# Where this file is, resolved now: a test changes directory after loading.
_MOCKAV_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# mockav_start RULES_FILE [FIXTURES_DIR]: start the server with the rules in
# RULES_FILE, serving files relative to FIXTURES_DIR (default
# tests/fixtures/alphavantage), and wait until it listens.  Returns 1, with
# the server's complaint on stderr, if it did not start (an invalid rules
# file, say); nothing is left running then.
mockav_start() {
	local rules=$1 fixtures=${2:-$_MOCKAV_HERE/../fixtures/alphavantage} dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/stocketl-mockav.XXXXXX") || return 1
	# The log keeps the key: suites check which key av-fetch sent.
	if ! _av_server_spawn "$dir" "$rules" "$fixtures" --log-apikey; then
		rm -rf "$dir"
		return 1
	fi
	MOCKAV_PORT=$(cat "$dir/port")
	MOCKAV_URL=http://127.0.0.1:$MOCKAV_PORT/query
	MOCKAV_LOG=$dir/requests.log
	MOCKAV_PID=$_av_server_pid
	MOCKAV_DIR=$dir
	export MOCKAV_URL MOCKAV_PORT MOCKAV_LOG MOCKAV_PID MOCKAV_DIR
}

# mockav_rules RULES_FILE: replace the running server's rules with those in
# RULES_FILE and restart every rule's count.  Returns 1, with the server's
# complaint on stderr, if the rules are invalid (the old rules stay).
mockav_rules() {
	local out status
	out=$(curl -sS --noproxy '*' -o - -w '\n%{http_code}' -X PUT -H 'Content-Type: application/json' \
		--data-binary "@$1" "http://127.0.0.1:$MOCKAV_PORT/_rules") || return 1
	status=${out##*$'\n'}
	if [ "$status" != 204 ]; then
		echo "mockav_rules: ${out%$'\n'*}" >&2
		return 1
	fi
}

# mockav_stop: stop the server and remove its directory (the request log
# with it).  Does nothing when no server was started or it was already
# stopped, so it is safe in teardown paths.
mockav_stop() {
	if [ -n "${MOCKAV_PID:-}" ]; then
		_av_server_kill "$MOCKAV_PID" || return 1
	fi
	if [ -n "${MOCKAV_DIR:-}" ]; then
		rm -rf "$MOCKAV_DIR"
	fi
	unset MOCKAV_URL MOCKAV_PORT MOCKAV_LOG MOCKAV_PID MOCKAV_DIR
}

# Start and stop the loopback Alpha Vantage stand-in (av-server.js beside
# this file) from a shell script: the offline demo serves its recordings
# with it, and the test suites' tests/helpers/mockav.bash is built on it.
#
#   . demo/av-server.bash
#   av_server_start "$state/av-server" || exit
#   trap av_server_stop EXIT
#   av-fetch --base-url "$AV_SERVER_URL" ...
#
# After av_server_start these are exported:
#
#   AV_SERVER_URL   base URL of the API, http://127.0.0.1:PORT/query
#   AV_SERVER_PORT  the port
#   AV_SERVER_LOG   the request log, one JSON line per request (API key as ***)
#   AV_SERVER_PID   the server's process id
#   AV_SERVER_DIR   the server's directory (log, port file, stdout, stderr)
#
# Call av_server_start directly, never in a subshell or through BATS's
# `run`: it sets variables that a subshell would lose.  Only node(1) and the
# shell's own commands are needed, so that this file works installed, far
# from the project's test helpers.
# shellcheck shell=bash

# Where this file is, resolved now: the caller may change directory later.
_AV_SERVER_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# av_server_start DIR [RULES [FIXTURES [SERVER_OPTION ...]]]: start the
# server with its files in DIR (created if need be; an old port file and log
# in it are replaced), serving the answers that RULES (default rules.json
# beside this file) picks from FIXTURES (default recordings/ beside this
# file), and wait until it listens (at most 30 s).  SERVER_OPTIONs are passed
# on to av-server.js.  Returns 1, with the server's complaint on stderr, if
# it did not start; nothing is left running then.
av_server_start() {
	local dir=$1 rules=${2:-$_AV_SERVER_HERE/rules.json}
	local fixtures=${3:-$_AV_SERVER_HERE/recordings}
	shift $(($# < 3 ? $# : 3))
	_av_server_spawn "$dir" "$rules" "$fixtures" "$@" || return 1
	AV_SERVER_PORT=$(cat "$dir/port")
	AV_SERVER_URL=http://127.0.0.1:$AV_SERVER_PORT/query
	AV_SERVER_LOG=$dir/requests.log
	AV_SERVER_PID=$_av_server_pid
	AV_SERVER_DIR=$dir
	export AV_SERVER_URL AV_SERVER_PORT AV_SERVER_LOG AV_SERVER_PID AV_SERVER_DIR
}

# _av_server_spawn DIR RULES FIXTURES [SERVER_OPTION ...]: the work of
# av_server_start, which tests/helpers/mockav.bash shares: on success the
# server listens, DIR/port holds its port and _av_server_pid its process id.
_av_server_spawn() {
	local dir=$1 rules=$2 fixtures=$3 pid i
	shift 3
	mkdir -p "$dir" || return 1
	rm -f "$dir/port" "$dir/port.tmp"
	: >"$dir/requests.log" || return 1
	# fd 3 is BATS's output channel: a background process holding it open
	# would make BATS wait for the server forever.
	node "$_AV_SERVER_HERE/av-server.js" --rules "$rules" --fixtures "$fixtures" \
		--log "$dir/requests.log" --port-file "$dir/port" "$@" \
		</dev/null >"$dir/stdout" 2>"$dir/stderr" 3>&- &
	pid=$!
	# The port file appears, complete, once the server listens; a server
	# that refuses its rules exits at once, and then there is no point in
	# waiting longer.
	for ((i = 0; i < 600; i++)); do
		[ -s "$dir/port" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -s "$dir/port" ]; then
		_av_server_kill "$pid"
		echo "${FUNCNAME[1]}: the server did not start" >&2
		cat "$dir/stderr" >&2
		return 1
	fi
	_av_server_pid=$pid
}

# av_server_stop: stop the server started by av_server_start (its directory
# and log stay).  Does nothing when none was started or it has already
# stopped, so it is safe in traps and teardown paths.
av_server_stop() {
	if [ -n "${AV_SERVER_PID:-}" ]; then
		_av_server_kill "$AV_SERVER_PID" || return 1
	fi
	unset AV_SERVER_URL AV_SERVER_PORT AV_SERVER_LOG AV_SERVER_PID AV_SERVER_DIR
}

# _av_server_kill PID: ask the server to end (SIGTERM), wait up to 5 s, then
# kill it (SIGKILL) and wait again.  A process whose command line does not
# name av-server.js is left alone: the server ended and its id was reused.
_av_server_kill() {
	local pid=$1 i sig
	for sig in TERM KILL; do
		if _av_server_gone "$pid"; then
			wait "$pid" 2>/dev/null
			return 0
		fi
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF av-server.js || return 0
		kill "-$sig" "$pid" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			_av_server_gone "$pid" && break
			sleep 0.05
		done
	done
	_av_server_gone "$pid" && wait "$pid" 2>/dev/null
	_av_server_gone "$pid"
}

# _av_server_gone PID: true when PID has ended (a zombie, exited but not
# reaped by another parent, counts as gone: it holds no port any more).
_av_server_gone() {
	local stat
	kill -0 "$1" 2>/dev/null || return 0
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	[ "${stat%% *}" = Z ]
}

# Loopback ports and readiness waits for the test services.
#
#   load helpers/net              (BATS)
#   . tests/helpers/net.bash      (any bash script)
#
# Servers that can listen on port 0 and report the port they got (the mock
# Alpha Vantage server, s3rver) should do that: no race is possible.  Servers
# that cannot (PostgreSQL) take a port from net_free_port, which is free when
# it is chosen but may be taken before the server binds it, so the caller
# retries with another port when the bind fails (pg_start does).
# shellcheck shell=bash

# net_free_port [LOW HIGH]: print a TCP port in LOW..HIGH (default
# 20000..32767, below Linux's ephemeral range so that outgoing connections do
# not take it) on which nothing listens, on any address.  Returns 1 when no
# free port was found in the range.
net_free_port() {
	local low=${1:-20000} high=${2:-32767} span port i
	span=$((high - low + 1))
	if [ "$span" -lt 1 ]; then
		echo "net_free_port: empty range $low..$high" >&2
		return 1
	fi
	for ((i = 0; i < 64 && i < span * 4; i++)); do
		port=$((low + (RANDOM * 32768 + RANDOM) % span))
		if [ -z "$(ss -Hltn "sport = :$port")" ]; then
			echo "$port"
			return 0
		fi
	done
	echo "net_free_port: no free port in $low..$high" >&2
	return 1
}

# net_wait_for TRIES COMMAND...: run COMMAND every 50 ms until it succeeds,
# at most TRIES times.  Returns 0 as soon as it succeeds, 1 if it never did.
# Readiness waits only: the services here are started by the tests, and a
# bounded wait turns a server that never comes up into a test failure instead
# of a hang.
net_wait_for() {
	local tries=$1 i
	shift
	for ((i = 0; i < tries; i++)); do
		if "$@"; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# net_wait_gone TRIES PID: wait until process PID no longer exists (reaping
# it when it is a child of this shell), then return 0; return 1 if it still
# runs after TRIES checks 50 ms apart.
net_wait_gone() {
	local tries=$1 pid=$2
	if net_wait_for "$tries" net_pid_gone "$pid"; then
		wait "$pid" 2>/dev/null
		return 0
	fi
	return 1
}

# net_pid_gone PID: true when process PID has ended.  A zombie (exited, not
# yet reaped because its parent is another process) counts as gone: it holds
# no port, file or mount any more.
net_pid_gone() {
	local stat
	if ! kill -0 "$1" 2>/dev/null; then
		return 0
	fi
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	# The state follows the command name, which is in parentheses and may
	# itself contain spaces or parentheses.
	stat=${stat##*) }
	[ "${stat%% *}" = Z ]
}

# net_stop_pid PID [WORD]: ask process PID to end (SIGTERM), wait up to 5 s,
# then kill it (SIGKILL) and wait again.  Returns 0 once it is gone.  With
# WORD, a process whose command line does not contain WORD is left alone (it
# is not the one that was started: the server ended and its id was reused).
net_stop_pid() {
	local pid=$1 word=${2:-}
	if net_pid_gone "$pid"; then
		wait "$pid" 2>/dev/null
		return 0
	fi
	if [ -n "$word" ] && ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$word"; then
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null
	net_wait_gone 100 "$pid" && return 0
	kill -KILL "$pid" 2>/dev/null
	net_wait_gone 100 "$pid"
}

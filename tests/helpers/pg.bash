# A throwaway PostgreSQL cluster for test suites.
#
#   load helpers/pg
#
#   setup_file()    { pg_start; }
#   teardown_file() { pg_stop; }
#   setup()         { common_setup; pg_env; }
#
# pg_start creates a cluster with initdb in a temporary directory, starts it
# on a Unix socket in that directory and on a free port of 127.0.0.1, waits
# until it accepts connections, and creates a database; clients connect with
# no password (trust authentication, for a cluster that lives as long as a
# test file).  common_setup unsets the PG* variables for every test, hence
# pg_env in setup() to export them again.  BATS runs teardown_file from its
# own EXIT trap, so pg_stop runs even when setup_file or a test fails; a
# plain script uses `trap pg_stop EXIT`.  Call pg_start directly, never
# through `run`: it exports variables and a subshell would lose them.
#
# initdb and the server refuse to run as root: as root, the cluster belongs
# to the `postgres` system user that Debian's postgresql package creates,
# and its directory is made under /tmp when $TMPDIR is not open to that
# user.  The server binaries are those of the newest PostgreSQL in
# /usr/lib/postgresql (or $PG_BINDIR, or initdb on PATH).
#
# After pg_start (and pg_env) these are exported:
#
#   PGHOST PGPORT PGUSER PGDATABASE   for libpq clients (PGHOST is the socket
#                                     directory)
#   STOCKETL_TEST_PG_DSN      libpq connection string, over the Unix socket
#   STOCKETL_TEST_PG_TCP_DSN  the same over TCP to 127.0.0.1
#   STOCKETL_TEST_PG_DIR      the cluster's directory (data/, server.log)
#   STOCKETL_TEST_PG_BINDIR   the PostgreSQL programs used
# shellcheck shell=bash
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/net.bash"

# pg_start [DBNAME]: start a cluster and create DBNAME (default
# stocketl_test) in it.  Returns 1, with the reason and the server log on
# stderr, if any step fails; the cluster is removed again then.
pg_start() {
	local db=${1:-stocketl_test} bindir dir try port
	bindir=$(_pg_bindir) || return 1
	_PG_OWNER=
	if [ "$(id -u)" -eq 0 ]; then
		if ! id postgres >/dev/null 2>&1; then
			echo "pg_start: as root, the cluster needs the postgres system user (Debian package postgresql)" >&2
			return 1
		fi
		_PG_OWNER=postgres
	fi
	dir=$(_pg_mkdir) || return 1
	STOCKETL_TEST_PG_DIR=$dir
	STOCKETL_TEST_PG_BINDIR=$bindir
	export STOCKETL_TEST_PG_DIR STOCKETL_TEST_PG_BINDIR _PG_OWNER

	if ! _pg_run "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C \
		--no-sync >"$dir/initdb.log" 2>&1; then
		_pg_fail "initdb failed" "$dir/initdb.log"
		return 1
	fi
	# Durability is of no use to a cluster that is deleted after the test
	# file; without it, commits do not wait for the disk.
	cat >>"$dir/data/postgresql.conf" <<-EOF
		listen_addresses = '127.0.0.1'
		unix_socket_directories = '$dir'
		fsync = off
		synchronous_commit = off
		full_page_writes = off
	EOF

	# The port is free when chosen but another process may bind it first:
	# then the server cannot start and another port is tried.
	for try in 1 2 3 4 5; do
		port=$(net_free_port 20000 32767) || break
		# fd 3 is BATS's output channel: the server, a daemon, must not
		# inherit it or BATS would wait for it forever.
		if _pg_run "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "-p $port" \
			-w -t 60 start >"$dir/pg_ctl.log" 2>&1 3>&-; then
			break
		fi
		if [ "$try" -eq 5 ] || ! grep -q 'could not bind\|could not create any TCP/IP sockets' "$dir/server.log"; then
			_pg_fail "the server did not start" "$dir/pg_ctl.log" "$dir/server.log"
			return 1
		fi
		port=
	done
	if [ -z "$port" ]; then
		_pg_fail "no free port for the server"
		return 1
	fi

	STOCKETL_TEST_PG_PORT=$port
	STOCKETL_TEST_PG_DB=$db
	STOCKETL_TEST_PG_DSN="host=$dir port=$port user=postgres dbname=$db"
	STOCKETL_TEST_PG_TCP_DSN="host=127.0.0.1 port=$port user=postgres dbname=$db"
	export STOCKETL_TEST_PG_PORT STOCKETL_TEST_PG_DB STOCKETL_TEST_PG_DSN STOCKETL_TEST_PG_TCP_DSN
	pg_env
	if ! "$bindir/createdb" "$db" >"$dir/createdb.log" 2>&1; then
		_pg_fail "createdb $db failed" "$dir/createdb.log" "$dir/server.log"
		return 1
	fi
}

# pg_env: export PGHOST, PGPORT, PGUSER and PGDATABASE for the cluster that
# pg_start started, and unset the libpq variables that would send clients
# elsewhere or ask for a password.
pg_env() {
	unset PGHOSTADDR PGPASSWORD PGPASSFILE PGSERVICE PGSERVICEFILE PGOPTIONS \
		PGSSLMODE PGCONNECT_TIMEOUT PGTARGETSESSIONATTRS
	export PGHOST=$STOCKETL_TEST_PG_DIR
	export PGPORT=$STOCKETL_TEST_PG_PORT
	export PGUSER=postgres
	export PGDATABASE=$STOCKETL_TEST_PG_DB
}

# pg_query SQL: run SQL in the test database with psql and print the result
# unaligned, without headers, one row a line, columns separated by "|".
# Exits non-zero at the first error.
pg_query() {
	"$STOCKETL_TEST_PG_BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"
}

# pg_server_stop: stop the server (fast shutdown) and keep the cluster, the
# way an administrator or a crash takes a database away from its clients;
# pg_server_start starts it again, and pg_stop removes the cluster
# afterwards as usual.  Returns pg_ctl's status.
pg_server_stop() {
	_pg_run "$STOCKETL_TEST_PG_BINDIR/pg_ctl" -D "$STOCKETL_TEST_PG_DIR/data" -m fast -w -t 30 \
		stop >/dev/null
}

# pg_server_start: start the cluster that pg_server_stop stopped, on its
# port, and wait until it accepts connections.  Returns pg_ctl's status.
pg_server_start() {
	_pg_run "$STOCKETL_TEST_PG_BINDIR/pg_ctl" -D "$STOCKETL_TEST_PG_DIR/data" \
		-l "$STOCKETL_TEST_PG_DIR/server.log" -o "-p $STOCKETL_TEST_PG_PORT" -w -t 60 \
		start >/dev/null 3>&-
}

# pg_stop: stop the server (immediate shutdown: nothing in it needs to be
# kept) and remove the cluster's directory.  Does nothing when no cluster was
# started or it was already stopped, so it is safe in teardown paths.
pg_stop() {
	local dir=${STOCKETL_TEST_PG_DIR:-} pid
	if [ -z "$dir" ]; then
		return 0
	fi
	if [ -f "$dir/data/postmaster.pid" ]; then
		pid=$(head -n 1 "$dir/data/postmaster.pid")
		if ! _pg_run "$STOCKETL_TEST_PG_BINDIR/pg_ctl" -D "$dir/data" -m immediate -w -t 30 \
			stop >/dev/null 2>&1; then
			# pg_ctl could not do it (a damaged data directory, say): the
			# process id it would have used is still in postmaster.pid.
			[ -n "$pid" ] && net_stop_pid "$pid" postgres
		fi
		if [ -n "$pid" ] && ! net_wait_gone 100 "$pid"; then
			echo "pg_stop: the server ($pid) does not stop" >&2
			return 1
		fi
	fi
	rm -rf "$dir"
	unset STOCKETL_TEST_PG_DIR STOCKETL_TEST_PG_BINDIR STOCKETL_TEST_PG_PORT STOCKETL_TEST_PG_DB \
		STOCKETL_TEST_PG_DSN STOCKETL_TEST_PG_TCP_DSN _PG_OWNER PGHOST PGPORT PGUSER PGDATABASE
}

_pg_bindir() {
	local d
	if [ -n "${PG_BINDIR:-}" ]; then
		echo "$PG_BINDIR"
		return 0
	fi
	d=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null |
		sort -V | tail -n 1)
	if [ -n "$d" ]; then
		echo "${d%/initdb}"
		return 0
	fi
	if d=$(command -v initdb); then
		echo "${d%/initdb}"
		return 0
	fi
	echo "pg_start: no PostgreSQL server programs (Debian package postgresql)" >&2
	return 1
}

# _pg_mkdir: make the cluster's directory, owned by the cluster's owner, in
# $TMPDIR if that user can reach it there, else in /tmp.
_pg_mkdir() {
	local base dir
	for base in "${TMPDIR:-/tmp}" /tmp; do
		dir=$(mktemp -d "$base/stocketl-pg.XXXXXX") || continue
		if [ -n "$_PG_OWNER" ]; then
			chown "$_PG_OWNER:" "$dir"
		fi
		if _pg_run test -w "$dir"; then
			echo "$dir"
			return 0
		fi
		rm -rf "$dir"
	done
	echo "pg_start: no temporary directory that ${_PG_OWNER:-$(id -un)} can write" >&2
	return 1
}

# _pg_run COMMAND...: run COMMAND as the cluster's owner, from a directory
# that user can enter.
_pg_run() {
	if [ -n "$_PG_OWNER" ]; then
		(cd / && runuser -u "$_PG_OWNER" -- "$@")
	else
		"$@"
	fi
}

# _pg_fail MESSAGE [LOG...]: report a failed start with the logs that say
# why, and remove what was made.
_pg_fail() {
	local msg=$1 f
	shift
	echo "pg_start: $msg" >&2
	for f in "$@"; do
		[ -s "$f" ] && cat "$f" >&2
	done
	pg_stop
}

#!/usr/bin/env bash
# The local stack, without Docker: a PostgreSQL cluster, a local S3 server,
# a bucket, and that bucket mounted with s3fs as the lake root, plus the
# configuration that sends the programs (and `make run`) there.
#
#   stack/stack.sh up       start what is not running; change nothing else
#   stack/stack.sh down     unmount and stop all of it; restore the configuration
#   stack/stack.sh status   one line per component: up or down, and where
#
# (make up, make down, make status.)  Everything lives under ./var of the
# current directory ($STOCKETL_STACK_DIR, when set, in place of ./var):
#
#   var/pg/data        the cluster (initdb), owned by the postgres system
#                      user when run as root (PostgreSQL refuses root)
#   var/pg/run         its Unix socket directory (mode 0700); it also listens
#                      on a free port of 127.0.0.1, with password
#                      authentication there (var/pg/pgpass, mode 0600)
#   var/s3/data        the S3 server's objects: MinIO when a `minio` binary is
#                      on PATH, else s3rver from tests/node_modules
#   var/s3/passwd      the S3 credentials, ACCESS:SECRET (mode 0600)
#   var/lake           the bucket ($STOCKETL_STACK_BUCKET, default stocketl)
#                      mounted with s3fs
#   var/stack/         what down needs to undo up (the configuration file)
#
# The configuration: the file the programs read ($STOCKETL_CONFIG, else
# ./conf/stocketl.ini, made if missing) gets a block at its end, between the
# lines "# >>> make up" and "# <<< make up", that sets [storage] lake,
# [storage] commit_store = postgres and [postgres] dsn; a line of the
# user's that set one of those keys is kept, commented out with the prefix
# "#[make up] ".  down removes the block and restores those lines, and
# removes the file if up made it and nothing else is left: the user's
# settings survive both.  up writes the file only when its text changes.
#
# Data stays across down and up; remove var/pg, var/s3 (after down) to
# start afresh.  Exit status: 0; 69 when a component does not start; 78
# when something this needs is missing or misconfigured.
# shellcheck source-path=SCRIPTDIR
set -u

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../tests/helpers/net.bash
source "$root/tests/helpers/net.bash"
# shellcheck source=./s3fs-options.sh
source "$root/stack/s3fs-options.sh"

var=${STOCKETL_STACK_DIR:-$PWD/var}
case $var in
/*) ;;
*) var=$PWD/$var ;;
esac
pgdir=$var/pg
pgdata=$pgdir/data
pgrun=$pgdir/run
s3dir=$var/s3
lake=$var/lake
state=$var/stack
bucket=${STOCKETL_STACK_BUCKET:-stocketl}
config=${STOCKETL_CONFIG:-conf/stocketl.ini}
case $config in
/*) ;;
*) config=$PWD/$config ;;
esac

BEGIN_MARK="# >>> make up: the local stack (make down removes this block and restores lines marked \"#[make up] \")"
END_MARK="# <<< make up"
KEPT="#[make up] "

die() {
	local status=$1
	shift
	echo "stack: $*" >&2
	exit "$status"
}

say() {
	echo "stack: $*"
}

# PostgreSQL ---------------------------------------------------------------------------------

pg_owner=
if [ "$(id -u)" -eq 0 ]; then
	pg_owner=postgres
fi

pg_bindir() {
	local d
	if [ -n "${PG_BINDIR:-}" ]; then
		echo "$PG_BINDIR"
		return
	fi
	d=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null |
		sort -V | tail -n 1)
	if [ -n "$d" ]; then
		echo "${d%/initdb}"
	elif d=$(command -v initdb); then
		echo "${d%/initdb}"
	fi
}

# as_owner COMMAND...: run COMMAND as the cluster's owner.
as_owner() {
	if [ -n "$pg_owner" ]; then
		(cd / && runuser -u "$pg_owner" -- "$@")
	else
		"$@"
	fi
}

pg_port() {
	sed -n "s/^port = \([0-9]*\)$/\1/p" "$pgdata/stocketl-port.conf" 2>/dev/null
}

pg_running() {
	[ -f "$pgdata/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1
}

# psql_super SQL...: run SQL as the cluster's superuser over the socket.
psql_super() {
	"$bin/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$pgrun" -p "$(pg_port)" -U postgres \
		-d postgres "$@"
}

pg_up() {
	bin=$(pg_bindir)
	[ -n "$bin" ] || die 78 "no PostgreSQL server programs (Debian package postgresql)"
	if [ -n "$pg_owner" ] && ! id "$pg_owner" >/dev/null 2>&1; then
		die 78 "as root, the cluster needs the postgres system user (Debian package postgresql)"
	fi
	if [ ! -f "$pgdata/PG_VERSION" ]; then
		mkdir -p "$pgdir" || die 74 "cannot make $pgdir"
		[ -n "$pg_owner" ] && chown "$pg_owner:" "$pgdir"
		as_owner test -w "$pgdir" ||
			die 78 "$pgdir: the ${pg_owner:-current} user cannot write there (every directory above it must be searchable by that user)"
		rm -rf "$pgdata" "$pgrun"
		as_owner mkdir -m 700 "$pgrun"
		# Trust on the socket, whose directory only the owner may enter;
		# passwords on TCP, which any local user can reach.
		as_owner "$bin/initdb" -D "$pgdata" -U postgres --auth-local=trust \
			--auth-host=scram-sha-256 -E UTF8 --locale=C >"$pgdir/initdb.log" 2>&1 ||
			die 69 "initdb failed (see $pgdir/initdb.log)"
		as_owner sh -c "cat >>'$pgdata/postgresql.conf'" <<-EOF
			listen_addresses = '127.0.0.1'
			unix_socket_directories = '$pgrun'
			unix_socket_permissions = 0700
			include_if_exists = 'stocketl-port.conf'
		EOF
		say "postgres: made a cluster in $pgdata"
	fi
	local port try started=0
	port=$(pg_port)
	for try in 1 2 3 4 5; do
		pg_running && break
		if [ -z "$port" ] || [ -n "$(ss -Hltn "sport = :$port")" ]; then
			port=$(net_free_port 20000 32767) || die 69 "no free port for PostgreSQL"
			echo "port = $port" | as_owner sh -c "cat >'$pgdata/stocketl-port.conf'"
		fi
		# fd 3 may be a test runner's channel: the server must not keep it.
		if as_owner "$bin/pg_ctl" -D "$pgdata" -l "$pgdir/server.log" -w -t 60 start \
			>"$pgdir/pg_ctl.log" 2>&1 3>&-; then
			started=1
			break
		fi
		grep -q 'could not bind\|could not create any TCP/IP sockets' "$pgdir/server.log" ||
			die 69 "PostgreSQL did not start (see $pgdir/server.log)"
		port=
		[ "$try" -eq 5 ] && die 69 "PostgreSQL did not start: no free port"
	done
	# The role and the database the programs use, and the TCP password.
	if [ "$(psql_super -c "SELECT count(*) FROM pg_roles WHERE rolname = 'stocketl'")" = 0 ]; then
		local pw
		pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
		# psql quotes the variable (:'pw'), in a script read from stdin.
		echo "CREATE ROLE stocketl LOGIN PASSWORD :'pw'" | psql_super -v pw="$pw" ||
			die 69 "cannot create the role stocketl"
		(umask 077 && echo "$pw" >"$pgdir/password")
	fi
	if [ "$(psql_super -c "SELECT count(*) FROM pg_database WHERE datname = 'stocketl'")" = 0 ]; then
		psql_super -c "CREATE DATABASE stocketl OWNER stocketl" ||
			die 69 "cannot create the database stocketl"
	fi
	local pgpass
	pgpass="127.0.0.1:$(pg_port):stocketl:stocketl:$(cat "$pgdir/password")"
	if [ "$(cat "$pgdir/pgpass" 2>/dev/null)" != "$pgpass" ]; then
		(umask 077 && echo "$pgpass" >"$pgdir/pgpass")
	fi
	[ "$started" = 1 ] && say "postgres: up, socket $pgrun port $(pg_port)"
	return 0
}

pg_down() {
	bin=$(pg_bindir)
	if [ -n "$bin" ] && pg_running; then
		as_owner "$bin/pg_ctl" -D "$pgdata" -m fast -w -t 60 stop >/dev/null ||
			die 69 "PostgreSQL did not stop"
		say "postgres: stopped"
	fi
}

pg_status() {
	bin=$(pg_bindir)
	if [ -n "$bin" ] && pg_running; then
		echo "postgres  up    socket $pgrun port $(pg_port), tcp 127.0.0.1:$(pg_port) (password in $pgdir/pgpass), database stocketl"
	else
		echo "postgres  down  $pgdata"
	fi
}

# The S3 server ------------------------------------------------------------------------------

# s3_alive: the recorded server runs (and is the one recorded, not a reused pid).
s3_alive() {
	local pid
	pid=$(cat "$s3dir/pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && ! net_pid_gone "$pid" &&
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$s3dir/data"
}

s3_curl() {
	local user
	user=$(cat "$s3dir/passwd")
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$user" "$@"
}

s3_server_up() {
	mkdir -p "$s3dir/data" || die 74 "cannot make $s3dir"
	if s3_alive; then
		return 1
	fi
	local port
	if command -v minio >/dev/null; then
		if [ ! -s "$s3dir/passwd" ]; then
			(umask 077 && printf 'stocketl:%s\n' "$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" \
				>"$s3dir/passwd")
		fi
		port=$(net_free_port 20000 32767) || die 69 "no free port for MinIO"
		MINIO_ROOT_USER=$(cut -d: -f1 "$s3dir/passwd") MINIO_ROOT_PASSWORD=$(cut -d: -f2 "$s3dir/passwd") \
			setsid minio server "$s3dir/data" --address "127.0.0.1:$port" \
			--console-address "127.0.0.1:$(net_free_port 20000 32767)" </dev/null >"$s3dir/server.log" 2>&1 3>&- &
		echo $! >"$s3dir/pid"
		echo minio >"$s3dir/kind"
		echo "http://127.0.0.1:$port" >"$s3dir/endpoint"
		net_wait_for 600 s3_ready_minio "$port" ||
			die 69 "MinIO did not start (see $s3dir/server.log)"
	else
		local s3rver=$root/tests/node_modules/s3rver/bin/s3rver.js
		[ -f "$s3rver" ] || die 78 "no S3 server: install minio, or run make deps (s3rver in tests/node_modules)"
		command -v node >/dev/null || die 78 "no S3 server: s3rver needs node (Debian package nodejs)"
		# s3rver takes any key; these are the ones its documentation names.
		(umask 077 && echo "S3RVER:S3RVER" >"$s3dir/passwd")
		: >"$s3dir/server.log"
		setsid node "$s3rver" -d "$s3dir/data" -a 127.0.0.1 -p 0 --silent \
			</dev/null >"$s3dir/server.log" 2>&1 3>&- &
		echo $! >"$s3dir/pid"
		echo s3rver >"$s3dir/kind"
		net_wait_for 600 s3_ready_s3rver || die 69 "s3rver did not start (see $s3dir/server.log)"
		port=$(sed -n 's/^S3rver listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$s3dir/server.log")
		[ -n "$port" ] || die 69 "s3rver did not start (see $s3dir/server.log)"
		echo "http://127.0.0.1:$port" >"$s3dir/endpoint"
	fi
	local code
	code=$(s3_curl -X PUT "$(cat "$s3dir/endpoint")/$bucket")
	case $code in
	200 | 409) ;;
	*) die 69 "cannot create the bucket $bucket (HTTP $code)" ;;
	esac
	say "s3: $(cat "$s3dir/kind") up at $(cat "$s3dir/endpoint"), bucket $bucket"
	return 0
}

# shellcheck disable=SC2317 # called through net_wait_for
s3_ready_minio() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/minio/health/live")" = 200 ] ||
		! s3_alive
}

# shellcheck disable=SC2317 # called through net_wait_for
s3_ready_s3rver() {
	grep -q '^S3rver listening on' "$s3dir/server.log" || ! s3_alive
}

s3_server_down() {
	local pid
	if s3_alive; then
		pid=$(cat "$s3dir/pid")
		net_stop_pid "$pid" || die 69 "the S3 server ($pid) does not stop"
		say "s3: stopped"
	fi
	rm -f "$s3dir/pid"
}

s3_status() {
	if s3_alive; then
		echo "s3        up    $(cat "$s3dir/kind") $(cat "$s3dir/endpoint"), bucket $bucket (credentials in $s3dir/passwd), objects in $s3dir/data"
	else
		echo "s3        down  $s3dir/data"
	fi
}

# The s3fs mount -----------------------------------------------------------------------------

# mount_alive: the bucket is mounted and answers.
mount_alive() {
	mountpoint -q "$lake"
}

# mount_present: something is mounted there, answering or not (the mount
# of an s3fs that died fails every stat with ENOTCONN; findmnt reads the
# mount table instead).
mount_present() {
	findmnt -rn --mountpoint "$lake" >/dev/null 2>&1
}

mount_up() {
	local remount=$1 pid
	command -v s3fs >/dev/null || die 78 "no s3fs (Debian package s3fs)"
	if mount_alive && [ "$remount" = 0 ]; then
		return 0
	fi
	mount_down
	mkdir -p "$lake" || die 74 "cannot make $lake"
	if [ -n "$(ls -A "$lake")" ]; then
		die 78 "$lake is not empty: files written there while the bucket was not mounted would be hidden by the mount; move them away"
	fi
	# s3fs reads credentials from the environment before its passwd file,
	# and curl honours proxy variables: neither may leak in.
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
		-u AWSACCESSKEYID -u AWSSECRETACCESSKEY -u AWS_CREDENTIAL_FILE \
		-u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u all_proxy -u ALL_PROXY \
		setsid s3fs "$bucket" "$lake" -f \
		-o "$(s3fs_lake_options "$(cat "$s3dir/endpoint")" "$bucket" "$s3dir/passwd" "$s3dir/s3fs.log")" \
		</dev/null >>"$s3dir/s3fs.out" 2>&1 3>&- &
	pid=$!
	echo "$pid" >"$s3dir/s3fs.pid"
	if ! net_wait_for 600 mount_ready "$pid" || ! mount_alive; then
		net_stop_pid "$pid" s3fs
		die 69 "s3fs did not mount the bucket (see $s3dir/s3fs.out and $s3dir/s3fs.log)"
	fi
	say "lake: bucket $bucket mounted at $lake"
}

# shellcheck disable=SC2317 # called through net_wait_for
mount_ready() {
	mount_alive || net_pid_gone "$1"
}

mount_down() {
	local pid unmount
	pid=$(cat "$s3dir/s3fs.pid" 2>/dev/null)
	if mount_present; then
		for unmount in fusermount3 fusermount umount; do
			command -v "$unmount" >/dev/null && break
		done
		if [ "$unmount" = umount ]; then
			umount "$lake"
		elif ! mount_alive; then
			# A dead s3fs: nothing to flush, only the mount to take away.
			"$unmount" -uz "$lake"
		else
			"$unmount" -u "$lake"
		fi
		mount_present && die 74 "cannot unmount $lake (in use?)"
		say "lake: unmounted $lake"
	fi
	if [ -n "$pid" ]; then
		net_wait_gone 200 "$pid" || net_stop_pid "$pid" s3fs
	fi
	rm -f "$s3dir/s3fs.pid"
}

mount_status() {
	if mount_alive; then
		echo "lake      up    $lake (s3fs, bucket $bucket)"
	elif mount_present; then
		echo "lake      dead  $lake (its s3fs has ended; make up mounts it again)"
	else
		echo "lake      down  $lake"
	fi
}

# The configuration --------------------------------------------------------------------------

# conf_restore FILE: FILE's text without up's block, the user's lines back.
conf_restore() {
	awk -v b="$BEGIN_MARK" -v e="$END_MARK" -v k="$KEPT" '
		$0 == b { skip = 1; next }
		skip && $0 == e { skip = 0; next }
		skip { next }
		index($0, k) == 1 { print substr($0, length(k) + 1); next }
		{ print }' "$1"
}

# conf_apply: the restored text on stdin, with the keys up sets commented
# out (by INI section, names compared without case) and up's block appended.
conf_apply() {
	awk -v k="$KEPT" '
		function trim(s) { gsub(/^[ \t]+|[ \t\r]+$/, "", s); return s }
		/^[ \t]*\[/ { s = $0; sub(/^[ \t]*\[/, "", s); sub(/\].*/, "", s); section = tolower(trim(s)) }
		/^[ \t]*[A-Za-z0-9_.-]+[ \t]*[=:]/ {
			key = $0; sub(/[=:].*/, "", key); key = tolower(trim(key))
			if ((section == "storage" && (key == "lake" || key == "commit_store")) ||
			    (section == "postgres" && key == "dsn")) { print k $0; next }
		}
		{ print }'
	echo "$BEGIN_MARK"
	echo "[storage]"
	echo "lake = \"$lake\""
	echo "commit_store = postgres"
	echo "[postgres]"
	echo "dsn = \"host=$pgrun port=$(pg_port) dbname=stocketl user=stocketl\""
	echo "$END_MARK"
}

# conf_write FILE TEXTFILE: replace FILE by TEXTFILE when they differ, keeping FILE's mode.
conf_write() {
	local file=$1 text=$2
	if [ -f "$file" ] && cmp -s "$file" "$text"; then
		rm -f "$text"
		return 1
	fi
	[ -f "$file" ] && chmod --reference="$file" "$text"
	mv "$text" "$file" || die 74 "cannot write $file"
	return 0
}

# conf_check: before anything is started, the configuration a stack that is
# up has set must be the one this `up` would set: `down` restores the one it
# recorded, and another would keep the stack's lake and DSN once it is down.
conf_check() {
	local prev
	prev=$(cat "$state/config" 2>/dev/null) || return 0
	if [ "$prev" != "$config" ] && [ -f "$prev" ] && grep -qxF "$BEGIN_MARK" "$prev"; then
		die 64 "the stack is up and has set $prev; make down first, to have it set $config"
	fi
}

conf_up() {
	local tmp
	mkdir -p "$state" "$(dirname "$config")" || die 74 "cannot make $(dirname "$config")"
	if [ ! -e "$config" ]; then
		(umask 077 && : >"$config") || die 74 "cannot make $config"
		echo "$config" >"$state/config-created"
	fi
	echo "$config" >"$state/config"
	tmp=$(mktemp "$config.XXXXXX") || die 74 "cannot write next to $config"
	conf_restore "$config" | conf_apply >"$tmp"
	if conf_write "$config" "$tmp"; then
		say "config: $config sends the programs to the lake $lake and the commit store"
	fi
	if [ -n "${STOCKETL_LAKE:-}" ] || [ -n "${STOCKETL_PG_DSN:-}" ]; then
		echo "stack: warning: \$STOCKETL_LAKE or \$STOCKETL_PG_DSN is set and wins over $config" >&2
	fi
}

conf_down() {
	local file tmp
	file=$(cat "$state/config" 2>/dev/null) || return 0
	if [ -f "$file" ]; then
		tmp=$(mktemp "$file.XXXXXX") || die 74 "cannot write next to $file"
		conf_restore "$file" >"$tmp"
		if conf_write "$file" "$tmp"; then
			say "config: $file restored"
		fi
		if [ "$(cat "$state/config-created" 2>/dev/null)" = "$file" ] && ! grep -q '[^[:space:]]' "$file"; then
			rm -f "$file"
			rmdir "$(dirname "$file")" 2>/dev/null
			say "config: removed $file (make up had made it)"
		fi
	fi
	rm -f "$state/config" "$state/config-created"
}

conf_status() {
	if [ -f "$config" ] && grep -qxF "$BEGIN_MARK" "$config"; then
		echo "config    set   $config ([storage] lake, commit_store = postgres, [postgres] dsn)"
	else
		echo "config    unset $config"
	fi
}

# --------------------------------------------------------------------------------------------

case ${1:-} in
up)
	conf_check
	pg_up
	remount=0
	s3_server_up && remount=1
	mount_up "$remount"
	conf_up
	;;
down)
	conf_down
	mount_down
	s3_server_down
	pg_down
	;;
status)
	pg_status
	s3_status
	mount_status
	conf_status
	;;
*)
	echo "usage: stack/stack.sh up | down | status" >&2
	exit 64
	;;
esac
exit 0

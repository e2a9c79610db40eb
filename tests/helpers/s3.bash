# A throwaway S3 bucket, mounted with s3fs-fuse, for test suites.
#
#   load helpers/s3
#
#   setup_file()    { s3_start; }
#   teardown_file() { s3_stop; }
#
# s3_start runs s3rver (from tests/node_modules) on 127.0.0.1 with a port
# the kernel picks and its storage in a temporary directory, creates the
# bucket, and mounts it with s3fs at a temporary mount point, the way a
# production lake root is a MinIO bucket mounted with s3fs.  BATS runs
# teardown_file from its own EXIT trap, so s3_stop runs even when setup_file
# or a test fails; a plain script uses `trap s3_stop EXIT`.  Call s3_start
# directly, never through `run`: it exports variables and a subshell would
# lose them.  It needs root (or a user allowed to mount FUSE file systems)
# and /dev/fuse.
#
# After s3_start these are exported:
#
#   S3_ENDPOINT    http://127.0.0.1:PORT (path-style requests, no TLS)
#   S3_BUCKET      the bucket name (stocketl-test unless given)
#   S3_MOUNT       where the bucket is mounted
#   S3_ACCESS_KEY  S3_SECRET_KEY   credentials the server accepts
#   S3_DATA        the server's storage directory: object KEY of the bucket
#                  is the file "$S3_DATA/$S3_BUCKET/KEY._S3rver_object"
#   S3_DIR         the temporary directory holding all of the above
#
# s3_mount mounts the same bucket once more, like a second host sharing the
# lake, and prints where; it can mount a prefix of the bucket only, and add
# s3fs options.
#
# s3_server_stop stops the S3 server and leaves the mounts, the way a
# bucket goes away under its clients; s3_server_start starts it again on the
# same port with the same objects (s3_server_running says whether it is
# up).
#
# s3_data_limit SIZE gives the server's storage a file system of its own,
# a tmpfs of SIZE (such as 4m), so that a test can fill the bucket-side disk;
# s3_data_resize SIZE gives it another size, keeping the objects.  s3_stop
# unmounts it.  s3rver 3.7 does not survive a full disk: it writes an
# object's body through a stream with no error handler, so ENOSPC ends the
# process (its copies and metadata writes fail with a 500 and it lives on).
#
# What the mount offers, as tests in tests/helpers.bats record it (s3fs
# 1.90 against s3rver): link(2) fails with ENOTSUP and creates nothing, so
# there is no put-if-absent by hard link; rename(2) works (a copy and a
# delete, for files and directories) and silently replaces an existing
# target; a file created through the mount is no object on the server until
# its writer closes it (any close of any copy of the descriptor uploads what
# was written so far); O_EXCL fails with EEXIST only for a name this mount
# already knows, so two mounts can both create one name and the last to
# close wins.
# shellcheck shell=bash
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/net.bash"

# Where this file is, resolved now: a test changes directory after loading.
_S3_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# s3_start [BUCKET]: start the server, create BUCKET, mount it.  Returns 1,
# with the reason and the logs on stderr, if any step fails; whatever was
# started is stopped again then.
s3_start() {
	local bucket=${1:-stocketl-test} dir port
	dir=$(mktemp -d "${TMPDIR:-/tmp}/stocketl-s3.XXXXXX") || return 1
	S3_DIR=$dir
	S3_DATA=$dir/data
	S3_MOUNT=$dir/mnt
	S3_BUCKET=$bucket
	S3_ACCESS_KEY=S3RVER
	S3_SECRET_KEY=S3RVER
	export S3_DIR S3_DATA S3_MOUNT S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY
	mkdir "$S3_DATA" "$S3_MOUNT"

	if ! _s3_server 0 "$bucket"; then
		_s3_fail "s3rver did not start" "$dir/s3rver.out" "$dir/s3rver.err"
		return 1
	fi
	port=$(sed -n 's/^S3rver listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/s3rver.out")
	if [ -z "$port" ]; then
		_s3_fail "s3rver did not start" "$dir/s3rver.out" "$dir/s3rver.err"
		return 1
	fi
	S3_ENDPOINT=http://127.0.0.1:$port
	export S3_ENDPOINT

	(umask 077 && printf '%s:%s\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >"$dir/passwd")
	if ! _s3_mount "$S3_MOUNT"; then
		_s3_fail "s3fs did not mount the bucket" "$dir/s3fs.out" "$dir/s3fs.log"
		return 1
	fi
	_S3_FUSE_PID=$_S3_MOUNTED_PID
	export _S3_FUSE_PID
}

# s3_mount [BUCKET[:/PREFIX] [OPTIONS]]: mount the bucket (or the part of
# it under PREFIX, which must exist) once more, at a new directory in
# $S3_DIR, with the extra s3fs options OPTIONS (comma-separated, such as
# fsname=...), and print that directory: two mounts of one bucket behave
# like two hosts sharing a lake.  s3_stop unmounts it, whichever process
# calls it: the mount is recorded in $S3_DIR/mounts, not in a variable, so a
# mount made in a test is undone by s3_stop in teardown_file.  Returns 1 if
# s3fs did not mount the bucket.
s3_mount() {
	local mnt
	mnt=$(mktemp -d "$S3_DIR/mnt.XXXXXX") || return 1
	# s3fs checks the bucket as it mounts; a server that has just started
	# again may refuse that first connection: two more tries, a second apart.
	local try
	for try in 1 2 3; do
		_s3_mount "$mnt" "${1:-$S3_BUCKET}" "${2:-}" && break
		[ "$try" = 3 ] || sleep 1
	done
	if [ -z "$_S3_MOUNTED_PID" ]; then
		echo "s3_mount: s3fs did not mount the bucket at $mnt" >&2
		# what s3fs and the server said, for the failure's report
		tail -n 20 "$S3_DIR/s3fs.out" "$S3_DIR/s3fs.log" "$S3_DIR/s3rver.err" >&2 2>/dev/null
		return 1
	fi
	echo "$_S3_MOUNTED_PID $mnt" >>"$S3_DIR/mounts"
	echo "$mnt"
}

# _s3_mount MOUNTPOINT [SOURCE [OPTIONS]]: run s3fs in the foreground, as a
# background job of this shell, so that its process id is known: it is left
# in _S3_MOUNTED_PID once the bucket is mounted.  SOURCE is BUCKET[:/PREFIX]
# ($S3_BUCKET by default), OPTIONS more -o options.  Its log is
# $S3_DIR/s3fs.log, shared by every mount.
_s3_mount() {
	local mnt=$1 source=${2:-$S3_BUCKET} extra=${3:-} pid
	_S3_MOUNTED_PID=
	# s3fs reads credentials from the environment before its passwd file,
	# and curl honours proxy variables: neither may leak in from the caller.
	# fd 3 is BATS's output channel (see above).
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
		-u AWSACCESSKEYID -u AWSSECRETACCESSKEY -u AWS_CREDENTIAL_FILE \
		-u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u all_proxy -u ALL_PROXY \
		s3fs "$source" "$mnt" -f \
		-o "url=$S3_ENDPOINT,use_path_request_style,passwd_file=$S3_DIR/passwd" \
		-o "logfile=$S3_DIR/s3fs.log,dbglevel=warn${extra:+,$extra}" \
		</dev/null >>"$S3_DIR/s3fs.out" 2>&1 3>&- &
	pid=$!
	if ! net_wait_for 600 _s3_mounted "$mnt" "$pid" || ! mountpoint -q "$mnt"; then
		net_stop_pid "$pid" s3fs
		return 1
	fi
	_S3_MOUNTED_PID=$pid
}

# _s3_server PORT BUCKET: run s3rver on PORT (0: one the kernel picks) over
# $S3_DATA, creating BUCKET, as a background job; its process id in
# _S3_SERVER_PID and in $S3_DIR/s3rver.pid (where s3_stop finds it, whoever
# started it) once it listens.  Returns 1 if it does not start.
_s3_server() {
	local port=$1 bucket=$2
	# fd 3 is BATS's output channel: a background process holding it open
	# would make BATS wait for it forever.
	# S3_REQUEST_LOG=1: the server logs each answer ("PUT /BUCKET/KEY 200
	# 3ms") to $S3_DIR/s3rver.out, with ANSI colours: its logger cuts the
	# colour codes off the front of each line, and without them the method.
	local quiet=(--silent) colour=0
	[ "${S3_REQUEST_LOG:-0}" = 1 ] && quiet=() colour=1
	FORCE_COLOR=$colour node "$_S3_HERE/../node_modules/s3rver/bin/s3rver.js" -d "$S3_DATA" -a 127.0.0.1 -p "$port" \
		"${quiet[@]}" --configure-bucket "$bucket" \
		</dev/null >"$S3_DIR/s3rver.out" 2>"$S3_DIR/s3rver.err" 3>&- &
	_S3_SERVER_PID=$!
	export _S3_SERVER_PID
	echo "$_S3_SERVER_PID" >"$S3_DIR/s3rver.pid"
	net_wait_for 600 _s3_server_ready "$S3_DIR" "$_S3_SERVER_PID" &&
		kill -0 "$_S3_SERVER_PID" 2>/dev/null
}

# s3_server_running: is the S3 server up?  A server that a full disk ended
# is a zombie until the process that started it (BATS's, for a server of
# setup_file) reaps it, and a zombie is no server.
s3_server_running() {
	[ -f "$S3_DIR/s3rver.pid" ] && ! net_pid_gone "$(cat "$S3_DIR/s3rver.pid")"
}

# s3_server_stop: stop the S3 server; the mounts stay, and their requests
# fail until s3_server_start.  Returns 1 if it does not stop.
s3_server_stop() {
	net_stop_pid "$(cat "$S3_DIR/s3rver.pid")" s3rver
}

# s3_server_start: start the S3 server again, on its port, over the same
# objects.  Returns 1, with its log on stderr, if it does not start.
s3_server_start() {
	local port=${S3_ENDPOINT##*:}
	if ! _s3_server "$port" "$S3_BUCKET"; then
		echo "s3_server_start: s3rver did not start on port $port" >&2
		cat "$S3_DIR/s3rver.err" >&2
		return 1
	fi
}

# s3_data_limit SIZE: move the server's objects onto a tmpfs of SIZE
# mounted at $S3_DATA, restarting the server over them (the mounts stay).
# Returns 1 if a step fails.
s3_data_limit() {
	local size=$1
	s3_server_stop || return 1
	mv "$S3_DATA" "$S3_DIR/data.disk" && mkdir "$S3_DATA" || return 1
	mount -t tmpfs -o "size=$size,mode=0755" stocketl-s3-data "$S3_DATA" || return 1
	cp -a "$S3_DIR/data.disk/." "$S3_DATA/" && rm -rf "$S3_DIR/data.disk" || return 1
	s3_server_start
}

# s3_data_resize SIZE: the server's tmpfs takes SIZE from now on, with the
# objects it holds (a server that died of a full disk stays down).
s3_data_resize() {
	mount -o "remount,size=$1" "$S3_DATA"
}

_s3_server_ready() {
	grep -q '^S3rver listening on' "$1/s3rver.out" || ! kill -0 "$2" 2>/dev/null
}

_s3_mounted() {
	mountpoint -q "$1" || ! kill -0 "$2" 2>/dev/null
}

# _s3_fail MESSAGE LOG...: report a failed start with the logs that say why,
# and stop what was started.
_s3_fail() {
	local msg=$1 f
	shift
	echo "s3_start: $msg" >&2
	for f in "$@"; do
		[ -s "$f" ] && cat "$f" >&2
	done
	s3_stop
}

# s3_stop: unmount the bucket, stop s3fs and the server, remove the
# directories.  Does nothing when nothing was started or it was already
# stopped, so it is safe in teardown paths.  Returns 1 and leaves the
# directory in place if the bucket cannot be unmounted: removing it then
# would delete the objects through the mount.
s3_stop() {
	local pid mnt
	if [ -n "${S3_DIR:-}" ] && [ -f "$S3_DIR/mounts" ]; then
		while read -r pid mnt; do
			_s3_unmount "$mnt" "$pid" || return 1
		done <"$S3_DIR/mounts"
	fi
	if [ -n "${S3_MOUNT:-}" ]; then
		_s3_unmount "$S3_MOUNT" "${_S3_FUSE_PID:-}" || return 1
	fi
	if [ -n "${S3_DIR:-}" ] && [ -f "$S3_DIR/s3rver.pid" ]; then
		net_stop_pid "$(cat "$S3_DIR/s3rver.pid")" s3rver || return 1
	elif [ -n "${_S3_SERVER_PID:-}" ]; then
		net_stop_pid "$_S3_SERVER_PID" s3rver || return 1
	fi
	if [ -n "${S3_DATA:-}" ] && mountpoint -q "$S3_DATA"; then
		umount "$S3_DATA" || umount -l "$S3_DATA" || return 1
	fi
	if [ -n "${S3_DIR:-}" ]; then
		# --one-file-system: never descend into a bucket still mounted.
		rm -rf --one-file-system "$S3_DIR"
	fi
	unset S3_ENDPOINT S3_BUCKET S3_MOUNT S3_ACCESS_KEY S3_SECRET_KEY S3_DATA S3_DIR \
		_S3_FUSE_PID _S3_SERVER_PID _S3_MOUNTED_PID
}

# _s3_unmount MOUNTPOINT [PID]: unmount MOUNTPOINT if it is mounted and wait
# for its s3fs process PID to end (it does by itself once unmounted).
_s3_unmount() {
	local mnt=$1 pid=${2:-} unmount
	if mountpoint -q "$mnt"; then
		for unmount in fusermount3 fusermount; do
			command -v "$unmount" >/dev/null && break
		done
		"$unmount" -u "$mnt" || "$unmount" -uz "$mnt" || umount -l "$mnt"
		if mountpoint -q "$mnt"; then
			echo "s3_stop: cannot unmount $mnt" >&2
			return 1
		fi
	fi
	if [ -n "$pid" ]; then
		net_wait_gone 100 "$pid" || net_stop_pid "$pid" s3fs
	fi
}

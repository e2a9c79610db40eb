# shellcheck shell=bash
#
# The job runner, sourced by every pipeline of pipelines/.  A pipeline
# script calls runner_main with its job's name, then describes its work as
# stage functions (stage_NAME) run by run_pipeline; the runner makes that a
# job run:
#
#   - a run id (STOCKETL_RUN_ID) and the spool of SPOOL facts
#     (STOCKETL_SPOOL, under the state directory), exported to every stage;
#   - a lock (flock(1) on <state>/locks/<job>.lock): a second run of the
#     same job waits (at most until its time limit) or exits 75 ([job]
#     on_overlap, --wait); the lock file says which run holds it and which
#     attempt is going, and is emptied when the run ends, so the next run
#     finds a run that died holding it (SIGKILL, a crash, a power cut) and
#     records its attempt as lost;
#   - retries of the whole run for the temporary statuses 69 and 75, with a
#     doubling delay ([job] retries, retry_delay), each attempt recorded;
#   - a time limit for the run, the wait for the lock, attempts and delays
#     included ([job] timeout, timeout(1)): a run cut short by it ends with
#     75;
#   - each stage's status, and the run's status taken from the stage where
#     the trouble began (see runner_attribute);
#   - a log per run, <state>/logs/<job>/<run id>.log, with every stage's
#     stderr prefixed by the stage's name, and one summary line on stderr;
#   - [job] on_failure, run when a run fails, and the spool's loader, run at
#     the end of every run when it is installed.
#
# How: the script runs twice.  The first process (the supervisor) reads the
# configuration, takes the lock and runs each attempt as a child, the same
# script again with --runner-attempt DIR, under timeout(1).  In the attempt,
# runner_main returns and the script's body runs its pipelines.  Stages are
# processes joined by named pipes, so that the attempt knows each stage's
# process id, its exit status and when it ended; the stages after the first
# start only once the first has written something, so a first stage that
# fails before any output (no API key) stops the run alone.  The attempt
# hands its outcome back in DIR/result.
#
# A job started by a stage of another job (bronze by stock-etl) is nested:
# it takes the run id and attempt number of the outer run, makes one
# attempt without a time limit of its own (the outer run retries and
# limits), keeps its own lock and log, and leaves the loader to the outer
# run.
#
# The variables a pipeline may set before runner_main: RUNNER_USAGE (its
# synopsis and what its arguments are), RUNNER_STOP_STATUS (the status of a
# run stopped by SIGTERM or SIGINT, default 75; 0 for the stream) and
# RUNNER_TIMEOUT (0: [job] timeout does not apply).  After runner_main, in
# the attempt: RUNNER_ARGS (the job's arguments), RUNNER_STATE, RUNNER_LOG,
# RUNNER_RUN_ID, RUNNER_ATTEMPT, RUNNER_TMP (a private directory) and
# RUNNER_CFG (the configuration, "section.key" -> value).

RUNNER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUNNER_SCRIPT=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
# The programs built in this tree ($STOCKETL_BIN: another build of them)
# come first; installed ones otherwise.
PATH="${STOCKETL_BIN:-$RUNNER_ROOT/bin}:$PATH"

: "${RUNNER_STOP_STATUS:=75}" "${RUNNER_TIMEOUT:=1}"
RUNNER_USAGE=${RUNNER_USAGE:-}

# How long stages get to end after SIGTERM before they are killed.  A job
# nested in another is one of its outer run's stages, killed that long
# after being told to stop: it gives its own stages less (runner_supervise),
# so that it has ended them and recorded its end by then.
RUNNER_GRACE=5

declare -A RUNNER_CFG=() RUNNER_CFG_LINE=()
RUNNER_CONFIG_FILE=

# Messages ------------------------------------------------------------------

# runner_say TEXT: a message of the runner on stderr (errors and the
# summary are always said; see runner_note for the others).
runner_say() {
	printf '%s: %s\n' "$RUNNER_JOB" "$1" >&"${RUNNER_ERR:-2}"
}

# runner_note TEXT: the runner's progress (an attempt failed, a retry):
# into the log, and on stderr unless -q.
runner_note() {
	runner_log "$1"
	[ "${RUNNER_QUIET:-0}" = 1 ] || runner_say "$1"
}

# runner_log TEXT: a line of the runner in the run's log, marked with '#'
# (without a subshell: it is said from the loops that wait for stages and
# from the traps).
runner_log() {
	[ -n "${RUNNER_LOG:-}" ] || return 0
	local s
	runner_now
	TZ=UTC0 printf -v s '%(%Y-%m-%dT%H:%M:%S)T' "$((RUNNER_NOW / 1000000))"
	printf '# %s.%06dZ %s\n' "$s" "$((RUNNER_NOW % 1000000))" "$1" >>"$RUNNER_LOG"
}

runner_config_error() {
	runner_say "$1"
	exit 78
}

# Time ----------------------------------------------------------------------

# runner_now_us: microseconds since the epoch, without a process.
runner_now_us() {
	local t=${EPOCHREALTIME/[.,]/}
	printf '%s\n' "$((10#$t))"
}

# runner_now: the same in RUNNER_NOW, without a subshell either (for the
# loops that wait for stages).
runner_now() {
	local t=${EPOCHREALTIME/[.,]/}
	RUNNER_NOW=$((10#$t))
}

# runner_rfc3339 US: RFC 3339 UTC with microseconds and Z.
runner_rfc3339() {
	local us=$1 s
	TZ=UTC0 printf -v s '%(%Y-%m-%dT%H:%M:%S)T' "$((us / 1000000))"
	printf '%s.%06dZ\n' "$s" "$((us % 1000000))"
}

# runner_seconds US: a duration as seconds with one decimal ("2.4").
runner_seconds() {
	local ds=$((($1 + 50000) / 100000))
	printf '%d.%d\n' "$((ds / 10))" "$((ds % 10))"
}

# runner_duration_ms TEXT: a duration ("30s", "5m", "1h30m", "200ms", or
# seconds alone) in milliseconds on stdout; status 1 if it is not one.
runner_duration_ms() {
	local text=$1 total=0 n unit
	[[ $text =~ ^[0-9]+$ ]] && text=${text}s
	[[ $text =~ ^([0-9]+(ms|s|m|h|d))+$ ]] || return 1
	while [[ $text =~ ^([0-9]+)(ms|s|m|h|d)(.*)$ ]]; do
		n=$((10#${BASH_REMATCH[1]})) unit=${BASH_REMATCH[2]} text=${BASH_REMATCH[3]}
		case $unit in
		ms) total=$((total + n)) ;;
		s) total=$((total + n * 1000)) ;;
		m) total=$((total + n * 60000)) ;;
		h) total=$((total + n * 3600000)) ;;
		d) total=$((total + n * 86400000)) ;;
		esac
	done
	printf '%s\n' "$total"
}

# runner_ms_text MS: milliseconds as seconds for sleep(1) and timeout(1).
runner_ms_text() {
	printf '%d.%03d\n' "$(($1 / 1000))" "$(($1 % 1000))"
}

# JSON and the spool ---------------------------------------------------------

# runner_json TEXT: TEXT as a JSON string (control characters other than
# tab and newline are left out).
runner_json() {
	local s=$1 LC_ALL=C
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\t'/\\t}
	s=${s//[$'\001'-$'\037']/}
	printf '"%s"\n' "$s"
}

# runner_json_or_null TEXT: null when TEXT is empty.
runner_json_or_null() {
	if [ -n "$1" ]; then runner_json "$1"; else echo null; fi
}

# runner_spool KIND MEMBERS: one fact line of this run (stocketl(7),
# METADATA); MEMBERS is JSON text of the members after the common ones,
# starting with a comma.  Each process writes its own file, renamed from
# .part when it ends.
runner_spool() {
	runner_spool_as "$RUNNER_RUN_ID" "$@"
}

# runner_spool_as RUN_ID KIND MEMBERS: the same for another run (one that
# this run found lost: runner_lost).
runner_spool_as() {
	[ -n "${RUNNER_SPOOL_FILE:-}" ] || return 0
	# The shell's own message of a redirection that failed is no message of
	# the run's: the spool's trouble is said once (runner_spool_failed).
	{
		printf '{"fact":"%s","run_id":%s,"program":"runner","at":"%s"%s}\n' "$2" \
			"$(runner_json "$1")" "$(runner_rfc3339 "$(runner_now_us)")" "$3" \
			>>"$RUNNER_SPOOL_FILE.part"
	} 2>/dev/null || runner_spool_failed
}

# runner_spool_failed: the spool cannot be written (a directory that cannot
# be made or written, a full disk): said once, as the programs say it, and
# recording stops for this runner and its attempts; the run goes on.
runner_spool_failed() {
	local why
	why=$({ : >>"$RUNNER_SPOOL_FILE.part"; } 2>&1)
	why=${why##*: }
	runner_note "metadata spool $RUNNER_SPOOL: cannot write $RUNNER_SPOOL_FILE.part: ${why:-a short write}; recording stops (the run goes on)"
	RUNNER_SPOOL_OFF=1 RUNNER_SPOOL_FILE=
}

runner_spool_open() {
	RUNNER_SPOOL_FILE=
	[ -z "${RUNNER_SPOOL_OFF:-}" ] || return 0
	RUNNER_SPOOL_FILE=$RUNNER_SPOOL/$(runner_now_us)-$BASHPID-runner.ndjson
}

runner_spool_close() {
	[ -n "${RUNNER_SPOOL_FILE:-}" ] && [ -e "$RUNNER_SPOOL_FILE.part" ] &&
		mv -f "$RUNNER_SPOOL_FILE.part" "$RUNNER_SPOOL_FILE"
	RUNNER_SPOOL_FILE=
}

# Statuses --------------------------------------------------------------------

# runner_rank STATUS: how serious a status is (stocketl(7)): 0 < 1 < 2 <
# 65 < 69 < 75 < 78 < 74 < 64 < 70, anything else the most serious.
runner_rank() {
	case $1 in
	0) echo 0 ;; 1) echo 1 ;; 2) echo 2 ;; 65) echo 3 ;; 69) echo 4 ;;
	75) echo 5 ;; 78) echo 6 ;; 74) echo 7 ;; 64) echo 8 ;; 70) echo 9 ;;
	*) echo 10 ;;
	esac
}

# runner_worse A B: the more serious of two statuses.
runner_worse() {
	if [ "$(runner_rank "$2")" -gt "$(runner_rank "$1")" ]; then echo "$2"; else echo "$1"; fi
}

# Configuration ----------------------------------------------------------------

# runner_config_read: RUNNER_CFG["section.key"] from the configuration file
# ($STOCKETL_CONFIG, else the first that exists of ./conf/stocketl.ini,
# ~/.config/stocketl/stocketl.ini and /etc/stocketl/stocketl.ini, as the
# programs look for it), read with the
# programs' grammar (common/base/config.h): sections and keys without
# regard to case, "key = value" or "key: value", comments on lines of their
# own or after " #"/" ;", double-quoted values with \" \\ \n \t.
runner_config_read() {
	local file=${STOCKETL_CONFIG:-} sec key line val
	if [ -z "$file" ]; then
		for file in conf/stocketl.ini "${HOME:+$HOME/.config/stocketl/stocketl.ini}" \
			/etc/stocketl/stocketl.ini ''; do
			[ -n "$file" ] && [ -e "$file" ] && break
		done
		[ -n "$file" ] || return 0
	fi
	[ -r "$file" ] || runner_config_error "$file: cannot read the configuration"
	RUNNER_CONFIG_FILE=$file
	while IFS=$'\t' read -r sec key line val; do
		if [ "$sec" = "!" ]; then
			runner_config_error "$file:$line: $val"
		fi
		RUNNER_CFG[$sec.$key]=$val
		RUNNER_CFG_LINE[$sec.$key]=$line
	done < <(awk '
		function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
		function bad(why) { printf "!\t-\t%d\t%s\n", NR, why; exit }
		{
			sub(/\r$/, "")
			t = trim($0)
			if (t == "" || t ~ /^[#;]/)
				next
			if (t ~ /^\[.*\]$/) {
				sec = tolower(trim(substr(t, 2, length(t) - 2)))
				next
			}
			i = index(t, "="); j = index(t, ":")
			if (i == 0 || (j > 0 && j < i))
				i = j
			if (i < 2)
				bad("expected [section] or key = value")
			if (sec == "")
				bad("a key outside a section")
			key = tolower(trim(substr(t, 1, i - 1)))
			v = trim(substr(t, i + 1))
			if (substr(v, 1, 1) == "\"") {
				out = ""; closed = 0
				for (k = 2; k <= length(v); k++) {
					c = substr(v, k, 1)
					if (c == "\\") {
						k++; c = substr(v, k, 1)
						if (c == "n") c = " "; else if (c == "t") c = " "
					} else if (c == "\"") {
						closed = 1
						break
					}
					out = out c
				}
				if (!closed)
					bad("a quoted value without its closing quote")
				v = out
			} else if (match(v, /[ \t][#;]/)) {
				v = trim(substr(v, 1, RSTART - 1))
			}
			printf "%s\t%s\t%d\t%s\n", sec, key, NR, v
		}' "$file")
}

# runner_cfg SECTION.KEY DEFAULT: the setting's value.
runner_cfg() {
	if [ -n "${RUNNER_CFG[$1]+set}" ]; then
		printf '%s\n' "${RUNNER_CFG[$1]}"
	else
		printf '%s\n' "$2"
	fi
}

# runner_cfg_dir SECTION.KEY DEFAULT: a directory setting ([storage] lake,
# [job] state), the default when unset or empty, as the programs take it.
runner_cfg_dir() {
	local v
	v=$(runner_cfg "$1" "$2")
	printf '%s\n' "${v:-$2}"
}

# runner_config_mode: say once for the run (not once per program) that the
# configuration holds a secret but is readable by group or others, as the
# programs say it, and tell them it was said (STOCKETL_CONFIG_CHECKED).
runner_config_mode() {
	local file real mode k v
	file=${RUNNER_CONFIG_FILE:-}
	[ -n "$file" ] && real=$(realpath "$file" 2>/dev/null) || return 0
	[ "${STOCKETL_CONFIG_CHECKED:-}" = "$real" ] && return 0
	export STOCKETL_CONFIG_CHECKED=$real
	mode=$(stat -c %a "$file" 2>/dev/null) || return 0
	((8#$mode & 8#077)) || return 0
	for k in "${!RUNNER_CFG[@]}"; do
		v=${RUNNER_CFG[$k]}
		[ -n "$v" ] || continue
		case ${k#*.} in
		api_key | password | secret_key) ;;
		dsn) [[ $v == *password=* || $v =~ ://[^@/]*:[^@/]*@ ]] || continue ;;
		*) continue ;;
		esac
		runner_say "$file: holds a secret ([${k%%.*}] ${k#*.}) but is readable by group or others; run chmod 600 $file"
		return 0
	done
}

# runner_cfg_where SECTION.KEY: "FILE:LINE: [section] key" for messages.
runner_cfg_where() {
	printf '%s:%s: [%s] %s\n' "$RUNNER_CONFIG_FILE" "${RUNNER_CFG_LINE[$1]:-0}" "${1%%.*}" "${1#*.}"
}

# runner_settings: the [job] settings, checked together.
runner_settings() {
	local v
	RUNNER_ON_OVERLAP=${RUNNER_WAIT:-${STOCKETL_ON_OVERLAP:-$(runner_cfg job.on_overlap skip)}}
	case $RUNNER_ON_OVERLAP in
	wait | skip) ;;
	*) runner_config_error "$(runner_cfg_where job.on_overlap): expected wait or skip, got '$RUNNER_ON_OVERLAP'" ;;
	esac
	v=$(runner_cfg job.retries 2)
	if ! [[ $v =~ ^[0-9]{1,3}$ ]] || [ "$((10#$v))" -gt 100 ]; then
		runner_config_error "$(runner_cfg_where job.retries): expected an integer from 0 to 100, got '$v'"
	fi
	RUNNER_RETRIES=$((10#$v))
	v=$(runner_cfg job.retry_delay 30s)
	RUNNER_RETRY_DELAY_MS=$(runner_duration_ms "$v") ||
		runner_config_error "$(runner_cfg_where job.retry_delay): expected a duration (30s, 5m, 1h30m), got '$v'"
	v=$(runner_cfg job.timeout 0)
	RUNNER_TIMEOUT_MS=$(runner_duration_ms "$v") ||
		runner_config_error "$(runner_cfg_where job.timeout): expected a duration (30s, 5m, 1h30m) or 0, got '$v'"
	[ "$RUNNER_TIMEOUT" = 1 ] || RUNNER_TIMEOUT_MS=0
	RUNNER_ON_FAILURE=$(runner_cfg job.on_failure "")
	RUNNER_LOADER=$(runner_cfg job.loader auto)
}

# The supervisor ------------------------------------------------------------------

# runner_main JOB ARG...: in the supervisor, run the job and exit; in the
# attempt (--runner-attempt DIR first), set it up and return, leaving the
# job's arguments in RUNNER_ARGS.
runner_main() {
	RUNNER_JOB=$1
	shift
	if [ "${1-}" = --runner-attempt ]; then
		runner_attempt_init "$2"
		shift 2
		RUNNER_ARGS=("$@")
		return 0
	fi
	runner_options "$@"
	runner_supervise
}

runner_help() {
	printf 'usage: %s [-q] [--wait] [--config FILE]%s\n\n' "$(basename "$RUNNER_SCRIPT")" "${RUNNER_USAGE:+ $RUNNER_USAGE}"
	cat <<-'EOF'
		  -q, --quiet      only the summary on stderr (the stages' messages go to the log)
		      --wait       wait for a run of the same job that is going ([job] on_overlap = wait)
		      --config FILE
		                   the configuration file, for the runner and every stage
		  -h, --help       print this help and exit

		The runner's options may stand anywhere among the others.  Each run's log is
		<state>/logs/<job>/<run id>.log.  See README.md, "The job".
	EOF
}

# The runner's options are taken wherever they are among the job's
# arguments (up to a "--"); -q and --config would mean the same to av-fetch
# (--config reaches every stage as $STOCKETL_CONFIG).
runner_options() {
	local cfg=''
	RUNNER_QUIET=0 RUNNER_WAIT='' RUNNER_ARGS=()
	while [ $# -gt 0 ]; do
		case $1 in
		-h | --help)
			runner_help
			exit 0
			;;
		-q | --quiet) RUNNER_QUIET=1 ;;
		--wait) RUNNER_WAIT="wait" ;;
		--config)
			if [ $# -lt 2 ]; then
				runner_say "option '--config' needs a value"
				runner_help >&2
				exit 64
			fi
			cfg=$2
			shift
			;;
		--config=*) cfg=${1#--config=} ;;
		--)
			shift
			RUNNER_ARGS+=("$@")
			break
			;;
		*) RUNNER_ARGS+=("$1") ;;
		esac
		shift
	done
	if [ -n "$cfg" ]; then
		[ -r "$cfg" ] || runner_config_error "--config: $cfg: cannot read the configuration"
		STOCKETL_CONFIG=$(cd "$(dirname "$cfg")" && pwd)/$(basename "$cfg")
		export STOCKETL_CONFIG
	fi
}

runner_supervise() {
	RUNNER_NESTED=0
	[ -n "${STOCKETL_JOB:-}" ] && [ -n "${STOCKETL_RUN_ID:-}" ] && RUNNER_NESTED=1
	# A nested job's messages belong to the outer run, which shows or logs them.
	if [ "$RUNNER_NESTED" = 1 ]; then
		RUNNER_QUIET=0
		RUNNER_GRACE=3
	fi
	# Where a nested run leaves its reason for the outer run's stage
	# (runner_end, runner_attribute); its own stages are given their own.
	RUNNER_REASON_FILE=
	[ "$RUNNER_NESTED" = 1 ] && RUNNER_REASON_FILE=${STOCKETL_STAGE_REASON_FILE:-}
	unset STOCKETL_STAGE_REASON_FILE
	runner_config_read
	runner_config_mode
	runner_settings
	local state=${STOCKETL_STATE:-$(runner_cfg_dir job.state ./var)}
	local err
	if ! err=$(mkdir -p "$state/spool" "$state/logs/$RUNNER_JOB" "$state/locks" 2>&1); then
		runner_say "cannot make the state directory $state (its spool, logs and locks): ${err##*: }"
		exit 74
	fi
	RUNNER_STATE=$(cd "$state" && pwd)
	RUNNER_SPOOL=${STOCKETL_SPOOL:-$RUNNER_STATE/spool} RUNNER_SPOOL_OFF=
	# One that cannot be made is said at the first fact (runner_spool_failed).
	mkdir -p "$RUNNER_SPOOL" 2>/dev/null
	if [ "$RUNNER_NESTED" = 1 ]; then
		RUNNER_RUN_ID=$STOCKETL_RUN_ID
	else
		RUNNER_RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)-$$
	fi
	RUNNER_HOST=$(hostname 2>/dev/null || uname -n)
	export STOCKETL_STATE=$RUNNER_STATE STOCKETL_SPOOL=$RUNNER_SPOOL STOCKETL_RUN_ID=$RUNNER_RUN_ID
	RUNNER_START_US=$(runner_now_us)
	RUNNER_STOPPED=
	trap 'runner_supervisor_signal TERM' TERM
	trap 'runner_supervisor_signal INT' INT
	trap 'runner_spool_close' EXIT
	runner_spool_open
	runner_lock
	runner_tmp_clean
	RUNNER_LOG=$RUNNER_STATE/logs/$RUNNER_JOB/$RUNNER_RUN_ID.log
	runner_lost
	runner_attempts
	runner_end
}

# A signal to the supervisor stops the run: the attempt is told (and tells
# its stages), and no retry follows.
runner_supervisor_signal() {
	[ -n "$RUNNER_STOPPED" ] && return 0
	RUNNER_STOPPED=$1
	runner_log "stopping: SIG$1"
	local pid
	if [ -n "${RUNNER_ATTEMPT_DIR:-}" ] && pid=$(cat "$RUNNER_ATTEMPT_DIR/pid" 2>/dev/null); then
		kill -TERM "$pid" 2>/dev/null
	fi
	[ -n "${RUNNER_SLEEP_PID:-}" ] && kill -TERM "$RUNNER_SLEEP_PID" 2>/dev/null
	return 0
}

# runner_wait_pid PID: wait for a child of this shell to end, across the
# signals that interrupt wait; its status on stdout is not possible from a
# subshell, so it is left in RUNNER_WAITED.
runner_wait_pid() {
	local st stat
	while :; do
		wait "$1"
		st=$?
		# 127: no child of this shell (a subshell has none to wait for).
		[ "$st" = 127 ] && break
		kill -0 "$1" 2>/dev/null || break
		# Still there after wait (a signal's trap interrupted it): only a
		# child of this very process can be waited for; a subshell that
		# copied the job table would wait for ever on another's child.
		read -r stat <"/proc/$1/stat" 2>/dev/null || break
		stat=${stat##*) }
		stat=${stat#* }
		[ "${stat%% *}" = "$BASHPID" ] || break
	done
	RUNNER_WAITED=$st
}

# runner_lock: take the job's lock, or wait for it, or exit 75.  The lock
# file then holds "run ID, pid PID, since TIME" (what a run that finds the
# lock taken says), then a line when each attempt starts and when it ends
# (runner_lock_line); runner_end empties it.  What the last holder left in
# it is kept in RUNNER_LOCK_LEFT for runner_lost.  The file is never
# removed or replaced: a run waiting for it holds it open, and a new file
# would be a second lock.
runner_lock() {
	local file=$RUNNER_STATE/locks/$RUNNER_JOB.lock holder
	exec {RUNNER_LOCK_FD}>>"$file" || exit 74
	# Not -n: etl-history takes a shared lock for an instant to see whether
	# a run holds it, which must not turn this run away.
	if ! flock -w 0.2 "$RUNNER_LOCK_FD"; then
		holder=$(head -n 1 "$file" 2>/dev/null)
		holder=${holder:-a run that has not said who it is}
		if [ "$RUNNER_ON_OVERLAP" = skip ]; then
			runner_say "run $RUNNER_RUN_ID: not started: another $RUNNER_JOB run is going ($holder); exit 75 (on_overlap = skip; --wait waits for it)"
			runner_not_started "skipped: another run is going ($holder)"
		fi
		[ "$RUNNER_QUIET" = 1 ] ||
			runner_say "run $RUNNER_RUN_ID: waiting for another $RUNNER_JOB run to end ($holder)"
		# The wait is part of the run, so its time limit bounds it: a run
		# that could not start in time ends as one that ran out of time.
		local -a wait_limit=()
		if [ "$RUNNER_TIMEOUT_MS" -gt 0 ] && [ "$RUNNER_NESTED" != 1 ]; then
			local left_ms=$(((RUNNER_START_US + RUNNER_TIMEOUT_MS * 1000 - $(runner_now_us)) / 1000))
			[ "$left_ms" -lt 1 ] && left_ms=1
			wait_limit=(-w "$(runner_ms_text "$left_ms")")
		fi
		flock "${wait_limit[@]}" "$RUNNER_LOCK_FD" &
		RUNNER_SLEEP_PID=$!
		runner_wait_pid "$RUNNER_SLEEP_PID"
		RUNNER_SLEEP_PID=
		if [ -n "$RUNNER_STOPPED" ]; then
			runner_say "run $RUNNER_RUN_ID: stopped by SIG$RUNNER_STOPPED while waiting for the lock"
			exit "$RUNNER_STOP_STATUS"
		fi
		if [ "$RUNNER_WAITED" != 0 ]; then
			holder=$(head -n 1 "$file" 2>/dev/null)
			holder=${holder:-a run that has not said who it is}
			runner_say "run $RUNNER_RUN_ID: not started: another $RUNNER_JOB run is going ($holder), and the run's time limit ([job] timeout = $(runner_cfg job.timeout 0)) ran out while it waited; exit 75"
			runner_not_started "timed out waiting for another run ($holder)"
		fi
	fi
	RUNNER_LOCK_LEFT=$(cat "$file" 2>/dev/null)
	printf 'run %s, pid %s, since %s\n' "$RUNNER_RUN_ID" "$$" "$(runner_rfc3339 "$(runner_now_us)")" >"$file"
}

# runner_not_started REASON: a run that the lock kept from starting, in the
# spool as an attempt that ended as it began, with 75; exit 75.
runner_not_started() {
	local now
	now=$(runner_rfc3339 "$(runner_now_us)")
	runner_spool run ",\"job\":$(runner_json "$RUNNER_JOB"),\"attempt\":${STOCKETL_RUN_ATTEMPT:-1},\"started_at\":\"$now\",\"ended_at\":\"$now\",\"status\":75,\"failed_stage\":null,\"reason\":$(runner_json "$1"),\"host\":$(runner_json "$RUNNER_HOST")"
	exit 75
}

# runner_lock_line TEXT: a line at the end of the lock file, through the
# descriptor that holds the lock (opened to append).
runner_lock_line() {
	printf '%s\n' "$1" >&"$RUNNER_LOCK_FD" ||
		runner_log "cannot write $RUNNER_STATE/locks/$RUNNER_JOB.lock"
}

# runner_lost: the end of the attempt of a run of this job that died while
# it held the lock (killed by SIGKILL, a crash, a power cut): as
# runner_end empties the lock file, lines left in it are a run that never
# ended, and as no process of a live run lets the lock go (the attempt and
# the stages hold it too), that run has gone.  Its attempt that has no end
# (the last "attempt N started" line without its "ended") is recorded as
# ended now with no status (it has no exit status): a lost attempt
# (etl-history: state "lost"), with the stage it was in (its log's last
# stage that started and did not end) and a reason that names this run.
# Killed between attempts or after the last, every attempt has its end and
# nothing is recorded.  A run nested in another (bronze in stock-etl) is
# left to the outer job's next run, which records the outer attempt, the
# one the history shows.
runner_lost() {
	local line id='' pid='' att='' started='' host='' outer='' stage reason
	[ -n "${RUNNER_LOCK_LEFT:-}" ] || return 0
	while IFS= read -r line; do
		if [[ $line =~ ^run\ ([^ ,]+),\ pid\ ([0-9]+), ]]; then
			id=${BASH_REMATCH[1]} pid=${BASH_REMATCH[2]}
		elif [[ $line =~ ^attempt\ ([0-9]+)\ started\ ([^ ]+)\ on\ ([^ ,]*)(,\ nested\ in\ (.+))?$ ]]; then
			att=${BASH_REMATCH[1]} started=${BASH_REMATCH[2]} host=${BASH_REMATCH[3]}
			outer=${BASH_REMATCH[5]}
		elif [[ $line =~ ^attempt\ [0-9]+\ ended ]]; then
			att=''
		fi
	done <<<"$RUNNER_LOCK_LEFT"
	[ -n "$id" ] || return 0
	if [ -z "$att" ]; then
		runner_log "the lock file still names run $id (pid $pid), with no attempt of it going: nothing to record"
		return 0
	fi
	if ! [[ $started =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$ ]]; then
		runner_log "run $id (pid $pid) died in attempt $att, whose start the lock file does not say ('$started'): not recorded"
		return 0
	fi
	stage=$(runner_log_open_stage "$RUNNER_STATE/logs/$RUNNER_JOB/$id.log" "$RUNNER_JOB run $id attempt $att: started")
	if [ -n "$outer" ]; then
		runner_log "run $id (pid $pid), a $RUNNER_JOB run inside $outer, died in attempt $att${stage:+ during stage $stage}; $outer's next run records it"
		return 0
	fi
	reason="the runner died${stage:+ during stage $stage} (pid $pid on ${host:-an unknown host}); found by run $RUNNER_RUN_ID"
	runner_spool_as "$id" run ",\"job\":$(runner_json "$RUNNER_JOB"),\"attempt\":$att,\"started_at\":\"$started\",\"ended_at\":\"$(runner_rfc3339 "$(runner_now_us)")\",\"status\":null,\"failed_stage\":$(runner_json_or_null "$stage"),\"reason\":$(runner_json "$reason"),\"host\":$(runner_json_or_null "$host")"
	runner_note "run $id died without recording its end (attempt $att${stage:+, stage $stage}, pid $pid): recorded as lost"
}

# runner_log_open_stage LOG MARK: the stage that the runner's lines of LOG
# say was going, after the last line that contains MARK (an attempt's
# start): the first that started and did not end, a stage of a pipeline
# (started with a pid) before one beside it (a commit watcher, which starts
# first); nothing when there is none.
runner_log_open_stage() {
	awk -v mark="$2" '
		index($0, mark) { delete going; delete first; delete piped; n = 0; next }
		$1 != "#" || $3 !~ /^[A-Za-z0-9_-]+:$/ { next }
		$4 == "started" {
			s = substr($3, 1, length($3) - 1)
			if (!going[s]++) {
				first[s] = ++n
				piped[s] = $5 == "(pid"
			}
		}
		$4 == "ended" {
			s = substr($3, 1, length($3) - 1)
			if (going[s] > 0)
				going[s]--
		}
		END {
			best = ""
			for (s in going)
				if (going[s] > 0 && (best == "" || piped[s] > piped[best] ||
				    (piped[s] == piped[best] && first[s] < first[best])))
					best = s
			print best
		}' "$1" 2>/dev/null
}

# runner_tmp_clean: remove the private directories of this job's attempts
# that were killed before they could (SIGKILL, a crash of the host): those
# whose supervisor no longer runs.  (Its attempt, which holds the job's
# lock as long as it lives, has ended too: this run has the lock.)
runner_tmp_clean() {
	local dir pid
	for dir in "${TMPDIR:-/tmp}/stocketl-$RUNNER_JOB".*; do
		if [ -d "$dir" ] && [ -O "$dir" ] && read -r pid <"$dir/owner" 2>/dev/null &&
			[[ $pid =~ ^[0-9]+$ ]] && ! kill -0 "$pid" 2>/dev/null; then
			rm -rf "$dir"
		fi
	done
	return 0
}

# runner_attempts: attempts until one succeeds, fails for good, or time or
# retries run out.  Sets RUNNER_STATUS, RUNNER_FAILED_STAGE, RUNNER_REASON,
# RUNNER_ROWS and RUNNER_NATTEMPTS.
runner_attempts() {
	local n max deadline=0 delay now left
	max=$((RUNNER_RETRIES + 1))
	if [ "$RUNNER_NESTED" = 1 ]; then
		max=1
		RUNNER_TIMEOUT_MS=0
	fi
	[ "$RUNNER_TIMEOUT_MS" -gt 0 ] && deadline=$((RUNNER_START_US + RUNNER_TIMEOUT_MS * 1000))
	RUNNER_ROWS=0
	for ((n = 1; ; n++)); do
		RUNNER_NATTEMPTS=$n
		RUNNER_ATTEMPT=$n
		[ "$RUNNER_NESTED" = 1 ] && RUNNER_ATTEMPT=${STOCKETL_RUN_ATTEMPT:-1}
		runner_attempt "$deadline"
		RUNNER_ROWS=$((RUNNER_ROWS + A_ROWS))
		RUNNER_STATUS=$A_STATUS RUNNER_FAILED_STAGE=$A_STAGE RUNNER_REASON=$A_REASON
		[ -n "$RUNNER_STOPPED" ] && break
		case $A_STATUS in
		69 | 75) ;;
		*) break ;;
		esac
		[ "$A_TIMED_OUT" = 1 ] && break
		if [ "$n" -ge "$max" ]; then
			[ "$max" -gt 1 ] && runner_note "attempt $n of $max ended with status $A_STATUS; no retries left"
			break
		fi
		delay=$((RUNNER_RETRY_DELAY_MS << (n - 1)))
		if [ "$deadline" -gt 0 ]; then
			now=$(runner_now_us)
			left=$(((deadline - now) / 1000))
			if [ "$delay" -ge "$left" ]; then
				runner_note "attempt $n ended with status $A_STATUS${A_STAGE:+ at stage $A_STAGE}; no time left for another before the run's timeout"
				break
			fi
		fi
		runner_note "attempt $n ended with status $A_STATUS${A_STAGE:+ at stage $A_STAGE}: attempt $((n + 1)) of $max in $(runner_ms_text "$delay") s"
		sleep "$(runner_ms_text "$delay")" &
		RUNNER_SLEEP_PID=$!
		runner_wait_pid "$RUNNER_SLEEP_PID"
		RUNNER_SLEEP_PID=
		[ -n "$RUNNER_STOPPED" ] && break
	done
	if [ -n "$RUNNER_STOPPED" ]; then
		RUNNER_STATUS=$RUNNER_STOP_STATUS
		RUNNER_REASON="stopped by SIG$RUNNER_STOPPED"
		[ "$RUNNER_STOP_STATUS" = 0 ] && RUNNER_FAILED_STAGE=
	fi
}

# runner_attempt DEADLINE_US: one attempt, in a child under timeout(1).
# Sets A_STATUS, A_STAGE, A_REASON, A_ROWS and A_TIMED_OUT.
runner_attempt() {
	local deadline=$1 dir started ended st left_ms k v
	local -a limit=()
	dir=$(mktemp -d "${TMPDIR:-/tmp}/stocketl-$RUNNER_JOB.XXXXXX") || exit 74
	RUNNER_ATTEMPT_DIR=$dir
	printf '%s\n' "$$" >"$dir/owner" || exit 74
	started=$(runner_now_us)
	A_TIMED_OUT=0
	# The lock file first: a run that dies between the two is recorded as
	# lost, not left running.
	local nested=''
	[ "$RUNNER_NESTED" = 1 ] && nested=", nested in $STOCKETL_JOB"
	runner_lock_line "attempt $RUNNER_ATTEMPT started $(runner_rfc3339 "$started") on $RUNNER_HOST$nested"
	runner_spool run ",\"job\":$(runner_json "$RUNNER_JOB"),\"attempt\":$RUNNER_ATTEMPT,\"started_at\":\"$(runner_rfc3339 "$started")\",\"ended_at\":null,\"status\":null,\"failed_stage\":null,\"reason\":null,\"host\":$(runner_json "$RUNNER_HOST")"
	runner_log "$RUNNER_JOB run $RUNNER_RUN_ID attempt $RUNNER_ATTEMPT: started (pid $$ on $RUNNER_HOST)"
	# Read back in a function: global, not local, declarations.  After the
	# attempt's first fact, so that a spool found unwritable is not tried
	# (and said) again by the attempt.
	declare -p RUNNER_LOG RUNNER_QUIET RUNNER_STATE RUNNER_SPOOL RUNNER_SPOOL_OFF RUNNER_RUN_ID \
		RUNNER_ATTEMPT RUNNER_GRACE RUNNER_ON_OVERLAP RUNNER_CFG RUNNER_CFG_LINE RUNNER_CONFIG_FILE |
		sed 's/^declare -/declare -g -/' >"$dir/settings"
	if [ "$deadline" -gt 0 ]; then
		left_ms=$(((deadline - started) / 1000))
		[ "$left_ms" -lt 1 ] && left_ms=1
		# --foreground: only the attempt gets the signal, and passes it on to
		# its stages once; it kills them itself if they linger.
		limit=(timeout --foreground --kill-after="$((RUNNER_GRACE * 2))s" "$(runner_ms_text "$left_ms")s")
	fi
	STOCKETL_JOB=$RUNNER_JOB STOCKETL_RUN_ATTEMPT=$RUNNER_ATTEMPT STOCKETL_ON_OVERLAP=$RUNNER_ON_OVERLAP \
		"${limit[@]}" "$BASH" "$RUNNER_SCRIPT" --runner-attempt "$dir" "${RUNNER_ARGS[@]}" </dev/null &
	RUNNER_CHILD=$!
	runner_wait_pid "$RUNNER_CHILD"
	st=$RUNNER_WAITED
	ended=$(runner_now_us)
	A_STATUS='' A_STAGE='' A_REASON='' A_ROWS=0 A_INTERRUPTED=
	if [ -f "$dir/result" ]; then
		while IFS='=' read -r k v; do
			case $k in
			status) A_STATUS=$v ;;
			stage) A_STAGE=$v ;;
			reason) A_REASON=$v ;;
			rows) A_ROWS=$v ;;
			interrupted) A_INTERRUPTED=$v ;;
			esac
		done <"$dir/result"
	fi
	if [ ${#limit[@]} -gt 0 ] && { [ "$st" = 124 ] || [ "$st" = 137 ]; } && [ -z "$RUNNER_STOPPED" ]; then
		A_TIMED_OUT=1
		A_STATUS=75
		A_STAGE=$A_INTERRUPTED
		A_REASON="timed out: the run's time limit ([job] timeout = $(runner_cfg job.timeout 0)) ran out${A_INTERRUPTED:+ during stage $A_INTERRUPTED}"
	elif [ -n "$RUNNER_STOPPED" ]; then
		A_STATUS=$RUNNER_STOP_STATUS
		A_STAGE=$A_INTERRUPTED
		[ "$A_STATUS" = 0 ] && A_STAGE=''

		A_REASON="stopped by SIG$RUNNER_STOPPED${A_INTERRUPTED:+ during stage $A_INTERRUPTED}"
	elif [ -z "$A_STATUS" ]; then
		A_STATUS=70
		A_REASON="the attempt ended without its result (exit status $st)"
	fi
	runner_spool run ",\"job\":$(runner_json "$RUNNER_JOB"),\"attempt\":$RUNNER_ATTEMPT,\"started_at\":\"$(runner_rfc3339 "$started")\",\"ended_at\":\"$(runner_rfc3339 "$ended")\",\"status\":$A_STATUS,\"failed_stage\":$(runner_json_or_null "$A_STAGE"),\"reason\":$(runner_json_or_null "$A_REASON"),\"host\":$(runner_json "$RUNNER_HOST")"
	runner_lock_line "attempt $RUNNER_ATTEMPT ended $(runner_rfc3339 "$ended")"
	runner_log "$RUNNER_JOB run $RUNNER_RUN_ID attempt $RUNNER_ATTEMPT: status $A_STATUS${A_STAGE:+ at stage $A_STAGE}${A_REASON:+: $A_REASON} ($(runner_seconds $((ended - started))) s)"
	rm -rf "$dir"
	RUNNER_ATTEMPT_DIR=
}

# runner_end: the summary, on_failure, the loader; exit with the run's status.
runner_end() {
	local took attempts="" what
	took=$(runner_seconds $(($(runner_now_us) - RUNNER_START_US)))
	[ "$RUNNER_NATTEMPTS" -gt 1 ] && attempts=" after $RUNNER_NATTEMPTS attempts"
	what="status $RUNNER_STATUS$attempts"
	# 1 is a success that a reader of the line could take for a failure.
	[ "$RUNNER_STATUS" = 1 ] && what="$what (loaded; records quarantined or checks warned)"
	[ -n "$RUNNER_FAILED_STAGE" ] && [ "$RUNNER_STATUS" -ge 2 ] && what="$what, failed at stage $RUNNER_FAILED_STAGE"
	# Quiet, the stage's own message went to the log alone: the summary
	# (cron's whole output) says why, unless it says so already.
	[ "$RUNNER_QUIET" = 1 ] && [ "$RUNNER_STATUS" -ge 2 ] && [ -n "$RUNNER_REASON" ] &&
		[ -z "$RUNNER_STOPPED" ] && [ "$A_TIMED_OUT" != 1 ] && what="$what ($RUNNER_REASON)"
	[ -n "$RUNNER_STOPPED" ] && what="$what, stopped by SIG$RUNNER_STOPPED"
	[ "$A_TIMED_OUT" = 1 ] && what="$what, timed out"
	runner_spool_close
	local rows_s=s
	[ "$RUNNER_ROWS" = 1 ] && rows_s=
	# A nested run's summary is its outer run's to give: in its log only.
	[ "$RUNNER_NESTED" = 1 ] ||
		runner_say "run $RUNNER_RUN_ID: $what; $took s; $RUNNER_ROWS row$rows_s committed; log $RUNNER_LOG"
	runner_log "summary: $what; $took s; $RUNNER_ROWS row$rows_s committed"
	# A run that failed, not one stopped on purpose; a nested run's failure
	# is its outer run's to report (which may retry it and succeed).
	if [ "$RUNNER_STATUS" -ge 2 ] && [ -n "$RUNNER_ON_FAILURE" ] && [ -z "$RUNNER_STOPPED" ] &&
		[ "$RUNNER_NESTED" != 1 ]; then
		runner_on_failure
	fi
	[ "$RUNNER_NESTED" = 1 ] || runner_load_spool
	# The outer run names this run's reason, not the first line it said.
	if [ -n "$RUNNER_REASON_FILE" ] && [ "$RUNNER_STATUS" != 0 ] && [ -n "$RUNNER_REASON" ]; then
		printf '%s\n' "${RUNNER_REASON//$'\n'/ }" >"$RUNNER_REASON_FILE" 2>/dev/null ||
			runner_log "cannot write $RUNNER_REASON_FILE"
	fi
	# The run has ended: nothing for the next run to find (runner_lost).
	: >"$RUNNER_STATE/locks/$RUNNER_JOB.lock" ||
		runner_log "cannot empty $RUNNER_STATE/locks/$RUNNER_JOB.lock"
	exit "$RUNNER_STATUS"
}

# [job] on_failure: a shell command, told about the run in its environment;
# what it says goes to the log, and its own failure changes nothing.
runner_on_failure() {
	local st
	runner_log "on_failure: $RUNNER_ON_FAILURE"
	STOCKETL_JOB=$RUNNER_JOB STOCKETL_RUN_ID=$RUNNER_RUN_ID STOCKETL_STATUS=$RUNNER_STATUS \
		STOCKETL_FAILED_STAGE=$RUNNER_FAILED_STAGE STOCKETL_REASON=$RUNNER_REASON \
		STOCKETL_LOG=$RUNNER_LOG \
		timeout 60s sh -c "$RUNNER_ON_FAILURE" </dev/null >>"$RUNNER_LOG" 2>&1 {RUNNER_LOCK_FD}>&-
	st=$?
	[ "$st" = 0 ] || runner_log "on_failure: ended with status $st"
}

# The loader moves the spool into PostgreSQL when it can: [job] loader (a
# command; empty: none), by default (auto) stocketl-db load-spool once a
# DSN is configured ($STOCKETL_PG_DSN or [postgres] dsn), none without one.
# Its status never changes the run's: a server that is down leaves the
# spool for the next run that reaches it.
runner_load_spool() {
	local cmd=$RUNNER_LOADER st
	if [ "$cmd" = auto ]; then
		cmd=
		if [ -n "${STOCKETL_PG_DSN:-}" ] || [ -n "$(runner_cfg postgres.dsn "")" ]; then
			cmd="stocketl-db load-spool"
		fi
	fi
	[ -n "$cmd" ] || return 0
	runner_log "loader: $cmd"
	timeout 120s sh -c "$cmd" </dev/null >>"$RUNNER_LOG" 2>&1 {RUNNER_LOCK_FD}>&-
	st=$?
	[ "$st" = 0 ] || runner_log "loader: ended with status $st; the spool stays for the next run"
}

# The attempt ------------------------------------------------------------------

runner_attempt_init() {
	RUNNER_TMP=$1
	# shellcheck source=/dev/null
	source "$RUNNER_TMP/settings" || exit 70
	printf '%s\n' "$$" >"$RUNNER_TMP/pid"
	# The attempt's own stderr is the log (what bash says of a stage it
	# killed, an error in the job's script); what is meant for the user
	# goes to the stderr it was given, kept as RUNNER_ERR.
	exec {RUNNER_ERR}>&2 2>>"$RUNNER_LOG"
	# A pipe nobody writes: read -t on it is a sleep without a process.
	mkfifo "$RUNNER_TMP/nap" && exec {RUNNER_NAP}<>"$RUNNER_TMP/nap" || exit 74
	RUNNER_STATUS=0 RUNNER_FAILED_STAGE='' RUNNER_REASON='' RUNNER_ROWS=0
	RUNNER_STOPPING='' RUNNER_INTERRUPTED='' RUNNER_FINISHED='' RUNNER_NPIPE=0 RUNNER_TERM_SENT=''
	RUNNER_LIVE=() RUNNER_LIVE_NAMES=() RUNNER_HELD=()
	runner_spool_open
	trap 'runner_attempt_signal' TERM INT
	trap 'runner_attempt_exit' EXIT
}

# A signal to the attempt (from the supervisor or timeout(1)): SIGTERM to
# the stages that run, once (av-fetch ends at once on a second one); the
# wait in run_pipeline sends SIGKILL to those still there RUNNER_GRACE
# seconds later.  A job that a watcher runs (runner_watcher_job) is told
# too; the watchers themselves go on with the commits made.
runner_attempt_signal() {
	[ -n "$RUNNER_STOPPING" ] && return 0
	RUNNER_STOPPING=1
	runner_now
	RUNNER_STOP_US=$RUNNER_NOW
	if [ ${#RUNNER_LIVE[@]} -gt 0 ]; then
		RUNNER_TERM_SENT=1
		RUNNER_INTERRUPTED=${RUNNER_LIVE_NAMES[0]:-}
		runner_log "stopping: SIGTERM to ${RUNNER_LIVE_NAMES[*]}"
		kill -TERM "${RUNNER_LIVE[@]}" 2>/dev/null
	fi
	local job=''
	: >"$RUNNER_TMP/stopping"
	read -r job <"$RUNNER_TMP/watcher-job" 2>/dev/null
	if [ -n "$job" ]; then
		runner_log "stopping: SIGTERM to the job of the watcher (pid $job)"
		kill -TERM "$job" 2>/dev/null
	fi
	return 0
}

# runner_watcher_job CMD...: in a watcher, run a job (the stream's silver)
# that a stop of the attempt ends: SIGTERM reaches it, and once the
# attempt is stopping none starts (status 0).  Returns the job's status.
runner_watcher_job() {
	[ -e "$RUNNER_TMP/stopping" ] && return 0
	"$@" &
	local pid=$!
	printf '%s\n' "$pid" >"$RUNNER_TMP/watcher-job"
	# A stop between the start and the file: the attempt found no job to tell.
	[ -e "$RUNNER_TMP/stopping" ] && kill -TERM "$pid" 2>/dev/null
	runner_wait_pid "$pid"
	rm -f "$RUNNER_TMP/watcher-job"
	return "$RUNNER_WAITED"
}

runner_attempt_exit() {
	local st=$?
	if [ -z "$RUNNER_FINISHED" ]; then
		RUNNER_STATUS=70
		RUNNER_REASON="the job's script ended unexpectedly (status $st)"
		runner_log "$RUNNER_REASON"
	fi
	{
		printf 'status=%s\n' "$RUNNER_STATUS"
		printf 'stage=%s\n' "$RUNNER_FAILED_STAGE"
		printf 'reason=%s\n' "${RUNNER_REASON//$'\n'/ }"
		printf 'rows=%s\n' "$RUNNER_ROWS"
		printf 'interrupted=%s\n' "$RUNNER_INTERRUPTED"
	} >"$RUNNER_TMP/result"
	runner_spool_close
}

# runner_finish: end the attempt with the status of its stages.
runner_finish() {
	RUNNER_FINISHED=1
	exit "$RUNNER_STATUS"
}

# runner_stopping: true once the attempt was told to stop.
runner_stopping() {
	[ -n "$RUNNER_STOPPING" ]
}

# Stages ------------------------------------------------------------------------

# run_pipeline [--commits NAME] NAME...: run the functions stage_NAME...
# as a pipeline, each stage's stdout into the next one's stdin (the first
# reads nothing, the last writes to the attempt's stdout), every stderr
# into the log.  With --commits, stage_NAME runs beside the pipeline and
# reads one line "VERSION ROWS APP" per commit that delta-append -v reports.
#
# The stages after the first start once the first has written something or
# has ended well; a first stage that ends with a status of 64 or more
# without any output is the only stage of the run.  Each stage's end is a
# "stage" fact in the spool.  Returns 0 when the run may go on, 1 when the
# pipeline failed (status 64 or more) or the attempt is stopping.
run_pipeline() {
	local watcher=''
	if [ "${1-}" = --commits ]; then
		watcher=$2
		shift 2
	fi
	local -a names=("$@") pids=() started=() ended=() status=() errs=() er=() ew=()
	local n=$# d i fd rw gate='' r='' c='' first_done=0 out in wpid='' wstart=''
	d=$RUNNER_TMP/p$((++RUNNER_NPIPE))
	if ! mkdir "$d"; then
		runner_stage_failed "${names[0]}" 74 "cannot make $d"
		return 1
	fi
	for ((i = 0; i < n; i++)); do
		mkfifo "$d/$i.err" || return 1
		if [ "$i" -lt $((n - 1)) ]; then mkfifo "$d/$i.out" || return 1; fi
	done
	if [ -n "$watcher" ]; then mkfifo "$d/commits" "$d/$n.err" || return 1; fi
	# Both ends of each stderr pipe are opened here, before any child
	# starts, and handed to the children as descriptors: a FIFO's open waits
	# for its other end, and a child that opened one by its path after the
	# other side had gone would wait forever.  The runner closes the read
	# ends once the prefixes have them, and each write end once its stage
	# has it (or when the stage never starts), so that a prefix sees the end
	# of its input when its stage ends.  The commits pipe stays open here
	# until every stage and prefix has ended, so that the watcher reads it
	# to its end only then.  Every child closes what the runner holds
	# (RUNNER_HELD): an end left open there would keep a reader from ever
	# seeing the end of its input.
	for ((i = 0; i < n + (${#watcher} > 0); i++)); do
		exec {rw}<>"$d/$i.err"
		exec {fd}<"$d/$i.err"
		er+=("$fd")
		exec {fd}>"$d/$i.err"
		ew+=("$fd")
		exec {rw}<&-
	done
	if [ -n "$watcher" ]; then exec {c}<>"$d/commits"; else exec {c}>/dev/null; fi
	RUNNER_HELD=("${er[@]}" "${ew[@]}" "$c" "$RUNNER_NAP")
	# Each stage's stderr: into the log with its name, into a copy of its
	# own (for the reason and the counts), and on stderr unless -q.
	for ((i = 0; i < n; i++)); do
		(
			exec <&"${er[i]}"
			runner_close_held
			runner_prefix "${names[i]}" "$d/$i.txt"
		) >&"$c" &
		errs+=($!)
	done
	if [ -n "$watcher" ]; then
		(
			exec <&"${er[n]}" >/dev/null
			runner_close_held
			runner_prefix "$watcher" "$d/$n.txt"
		) &
		errs+=($!)
		wstart=$(runner_now_us)
		runner_log "$watcher: started"
		(
			exec 2>&"${ew[n]}"
			runner_close_held
			exec <"$d/commits"
			runner_spool_open
			"stage_$watcher"
			st=$?
			runner_spool_close
			exit "$st"
		) &
		wpid=$!
		fd=${ew[n]}
		exec {fd}>&-
		ew[n]=''
	fi
	for fd in "${er[@]}"; do
		exec {fd}<&-
	done
	RUNNER_HELD=("${ew[@]}" "$c" "$RUNNER_NAP")
	RUNNER_LIVE=() RUNNER_LIVE_NAMES=()
	if [ -z "$RUNNER_STOPPING" ]; then
		out=-
		if [ "$n" -gt 1 ]; then
			exec {gate}<>"$d/0.out"
			RUNNER_HELD+=("$gate")
			out=$d/0.out
		fi
		runner_launch "${names[0]}" /dev/null "$out" "${ew[0]}" "$d/0.reason"
		pids[0]=$RUNNER_LAUNCHED started[0]=$(runner_now_us)
		RUNNER_LIVE=("${pids[0]}") RUNNER_LIVE_NAMES=("${names[0]}")
	fi
	if [ -n "${pids[0]:-}" ] && [ "$n" -gt 1 ]; then
		# The first stage alone until it has written something or ended.
		while runner_alive "${pids[0]}" && ! read -t 0 -u "$gate" && [ -z "$RUNNER_STOPPING" ]; do
			read -r -t 0.05 -u "$RUNNER_NAP" _
		done
		if ! read -t 0 -u "$gate" && ! runner_alive "${pids[0]}"; then
			runner_wait_pid "${pids[0]}"
			status[0]=$RUNNER_WAITED ended[0]=$(runner_now_us)
			first_done=1
		fi
		if [ -n "$RUNNER_STOPPING" ]; then
			runner_log "stopping: the stages after ${names[0]} do not start"
		elif [ "$first_done" = 1 ] && [ "$(runner_rank "${status[0]}")" -ge 3 ] && [ "${status[0]}" != 141 ]; then
			runner_log "${names[0]}: ended with status ${status[0]} before any output; the stages after it do not start"
		else
			exec {r}<"$d/0.out"
			RUNNER_HELD+=("$r")
			in="&$r"
			for ((i = 1; i < n; i++)); do
				if [ "$i" -lt $((n - 1)) ]; then out=$d/$i.out; else out=-; fi
				runner_launch "${names[i]}" "$in" "$out" "${ew[i]}" "$d/$i.reason"
				pids[i]=$RUNNER_LAUNCHED started[i]=$(runner_now_us)
				in=$d/$i.out
			done
			exec {r}<&-
		fi
		exec {gate}<&-
	fi
	for fd in "${ew[@]}"; do
		[ -n "$fd" ] && exec {fd}>&-
	done
	RUNNER_HELD=("$c" "$RUNNER_NAP")
	# Wait for the stages as they end, looking every 50 ms: wait -n is not
	# used, as after a trap it may no longer report the children that ended
	# meanwhile, while wait PID always gives a child's status.  (Bash's own
	# note of a stage killed by a signal, "line 1: PID Killed ...", printed
	# when it reaps the stage, is no message of the run's: its status says
	# it, so the runner's stderr is set aside meanwhile.)
	runner_reap names pids status ended 2>/dev/null
	exec {c}>&-
	RUNNER_HELD=("$RUNNER_NAP")
	runner_drain "$d" "${errs[@]}"
	for ((i = 0; i < n; i++)); do
		[ -n "${pids[i]:-}" ] && runner_stage_end "${names[i]}" "${started[i]}" "${ended[i]}" "${status[i]}" "$d/$i.txt"
	done
	if [ -n "$wpid" ]; then
		runner_wait_pid "$wpid"
		# A watcher of stages that never started is no stage of the run.
		if [ -n "${pids[n - 1]:-}" ]; then
			runner_stage_end "$watcher" "$wstart" "$(runner_now_us)" "$RUNNER_WAITED" "$d/$n.txt"
			names+=("$watcher") status+=("$RUNNER_WAITED")
		fi
	fi
	RUNNER_ROWS=$((RUNNER_ROWS + $(cat "$d"/*.txt 2>/dev/null | awk '
		/^delta-append: committed version [0-9]+: [0-9]+ records?( |$)/ { n += $5 }
		END { print n + 0 }')))
	runner_attribute "$d" names status
	[ -z "$RUNNER_STOPPING" ] && [ "$(runner_rank "$RUNNER_STATUS")" -lt 3 ]
}

# runner_value NAME CMD...: run a short command as a stage of its own whose
# stdout is a value for the job (a version, a count), left in
# RUNNER_VALUE; its stderr is the stage's, as in run_pipeline.  Returns as
# run_pipeline does.
runner_value() {
	local name=$1 d t0 t1 st line
	shift
	d=$RUNNER_TMP/p$((++RUNNER_NPIPE))
	if ! mkdir "$d"; then
		runner_stage_failed "$name" 74 "cannot make $d"
		return 1
	fi
	t0=$(runner_now_us)
	runner_log "$name: started"
	# shellcheck disable=SC2034 # read by the job's script
	RUNNER_VALUE=$("$@" 2>"$d/0.txt" </dev/null)
	st=$?
	t1=$(runner_now_us)
	while IFS= read -r line || [ -n "$line" ]; do
		printf '%s: %s\n' "$name" "$line" >>"$RUNNER_LOG"
		[ "$RUNNER_QUIET" = 1 ] || printf '%s\n' "$line" >&"${RUNNER_ERR:-2}"
	done <"$d/0.txt"
	runner_stage_end "$name" "$t0" "$t1" "$st" "$d/0.txt"
	local -a names=("$name") status=("$st")
	runner_attribute "$d" names status
	[ -z "$RUNNER_STOPPING" ] && [ "$(runner_rank "$RUNNER_STATUS")" -lt 3 ]
}

# runner_reap NAMES PIDS STATUS ENDED: wait until every started stage has
# ended, filling in its status and end time; RUNNER_LIVE holds the stages
# still running, for a signal to stop them, and those still there
# RUNNER_GRACE seconds after it are killed.
runner_reap() {
	local -n _n=$1 _p=$2 _s=$3 _e=$4
	local i
	local -a _live _lnames
	while :; do
		_live=() _lnames=()
		for i in "${!_n[@]}"; do
			if [ -z "${_p[i]:-}" ] || [ -n "${_s[i]:-}" ]; then
				continue
			fi
			if runner_alive "${_p[i]}"; then
				_live+=("${_p[i]}") _lnames+=("${_n[i]}")
			else
				runner_wait_pid "${_p[i]}"
				runner_now
				_s[i]=$RUNNER_WAITED _e[i]=$RUNNER_NOW
			fi
		done
		# One assignment, so that a signal's trap never finds the list empty.
		RUNNER_LIVE=("${_live[@]}") RUNNER_LIVE_NAMES=("${_lnames[@]}")
		[ ${#_live[@]} -gt 0 ] || break
		if [ -n "$RUNNER_STOPPING" ]; then
			runner_now
			if [ -z "$RUNNER_TERM_SENT" ]; then
				# The signal came while no stage was known to the trap.
				RUNNER_TERM_SENT=1
				RUNNER_INTERRUPTED=${RUNNER_INTERRUPTED:-${_lnames[0]}}
				runner_log "stopping: SIGTERM to ${_lnames[*]}"
				kill -TERM "${_live[@]}" 2>/dev/null
			elif [ $((RUNNER_NOW - RUNNER_STOP_US)) -gt $((RUNNER_GRACE * 1000000)) ]; then
				runner_log "stopping: SIGKILL to ${_lnames[*]}, still there after ${RUNNER_GRACE} s"
				kill -KILL "${_live[@]}" 2>/dev/null
			fi
		fi
		read -r -t 0.05 -u "$RUNNER_NAP" _
	done
}

# runner_close_held: in a child, close the pipe ends the runner holds.
runner_close_held() {
	local fd
	for fd in "${RUNNER_HELD[@]}"; do
		[ -n "$fd" ] && eval "exec $fd<&-"
	done
}

# runner_alive PID: the child runs (a zombie does not: after a trap, bash
# may reap its children only when the next one ends).
runner_alive() {
	local stat
	kill -0 "$1" 2>/dev/null || return 1
	read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# runner_launch NAME IN OUT ERRFD REASON: start stage_NAME in the
# background with its stdin (a path, or &FD: a copy of a descriptor the
# runner holds), stdout (a path; - keeps the attempt's) and stderr (a copy
# of ERRFD, a descriptor the runner holds); a job run as the stage writes
# its reason to the file REASON.
runner_launch() {
	local name=$1 in=$2 out=$3 err=$4
	(
		export STOCKETL_STAGE_REASON_FILE=$5
		exec 2>&"$err"
		if [ "${in:0:1}" = "&" ]; then
			exec <&"${in:1}"
		else
			exec <"$in"
		fi
		runner_close_held
		[ "$out" = - ] || exec >"$out"
		"stage_$name"
	) &
	RUNNER_LAUNCHED=$!
	runner_log "$name: started (pid $RUNNER_LAUNCHED)"
}

# runner_prefix NAME COPY: a stage's stderr, line by line, into the log as
# "NAME: line", into COPY, onto stderr unless -q; delta-append's commit
# lines also go to stdout as "VERSION ROWS APP".  A shell loop rather than
# awk: mawk holds lines back while its input buffer fills, and a commit
# must reach the watcher as it is made.
runner_prefix() {
	local name=$1 line cfd lfd
	exec {cfd}>"$2" {lfd}>>"$RUNNER_LOG" || return 74
	while IFS= read -r line || [ -n "$line" ]; do
		printf '%s: %s\n' "$name" "$line" >&"$lfd"
		printf '%s\n' "$line" >&"$cfd"
		[ "$RUNNER_QUIET" = 1 ] || printf '%s\n' "$line" >&"${RUNNER_ERR:-2}"
		if [[ $line =~ ^delta-append:\ committed\ version\ ([0-9]+):\ ([0-9]+)\ records?(\ for\ (.*))?$ ]]; then
			printf '%s %s %s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[4]}"
		fi
	done
	exec {cfd}>&- {lfd}>&-
}

# runner_drain DIR PID...: wait for the prefixes (they end with the last
# writer of their stage's stderr).
runner_drain() {
	shift
	local pid
	for pid in "$@"; do
		runner_wait_pid "$pid"
	done
}

# runner_stage_end NAME STARTED_US ENDED_US STATUS COPY: the stage's end in
# the log and the spool, with what its summary lines say it read and wrote.
runner_stage_end() {
	local name=$1 t0=$2 t1=$3 st=$4 copy=$5 counts
	runner_log "$name: ended with status $st after $(runner_seconds $((t1 - t0))) s"
	counts=$(runner_counts "$copy")
	# shellcheck disable=SC2086 # three words: in, out, rejected
	runner_spool_stage "$name" "$t0" "$t1" "$st" $counts
}

runner_spool_stage() {
	runner_spool stage ",\"job\":$(runner_json "$RUNNER_JOB"),\"stage\":$(runner_json "$1"),\"status\":$4,\"started_at\":\"$(runner_rfc3339 "$2")\",\"ended_at\":\"$(runner_rfc3339 "$3")\",\"records_in\":$5,\"records_out\":$6,\"rejected\":$7"
}

# runner_counts COPY: "IN OUT REJECTED" from the summary lines the
# program of the stage writes (null where none says): av-fetch's answers
# with data, tick-normalize's envelopes, bars out and rejects,
# tick-validate's records, passed and quarantined per batch,
# delta-append's committed records.  A stage whose lines come from several
# programs (a job run as a stage) has no counts.
runner_counts() {
	awk '
		function num(s) { gsub(/[^0-9]/, "", s); return s + 0 }
		/^[a-z-]+: / {
			p = $1
			if (!(p in seen)) {
				seen[p] = 1
				if (p ~ /^(av-fetch|tick-normalize|tick-validate|delta-append):$/)
					kinds++
			}
		}
		/^av-fetch: [0-9]+ requests; answers: / {
			d = 0
			if (match($0, /[0-9]+ data/))
				d = num(substr($0, RSTART, RLENGTH))
			out += d; has_out = 1
		}
		/^tick-normalize: [0-9]+ envelopes, [0-9]+ bars out/ {
			in_ += num($2); out += num($4); has_in = has_out = 1
			if (match($0, /, [0-9]+ rejected/)) {
				rej += num(substr($0, RSTART, RLENGTH)); has_rej = 1
			}
		}
		/^tick-validate: .*: [0-9]+ records, [0-9]+ passed, [0-9]+ quarantined/ {
			match($0, /[0-9]+ records, [0-9]+ passed, [0-9]+ quarantined/)
			split(substr($0, RSTART, RLENGTH), w, " ")
			in_ += num(w[1]); out += num(w[3]); rej += num(w[5])
			has_in = has_out = has_rej = 1
		}
		/^delta-append: committed version [0-9]+: [0-9]+ records?( |$)/ {
			in_ += $5; out += $5; has_in = has_out = 1
		}
		END {
			if (kinds > 1)
				has_in = has_out = has_rej = 0
			printf "%s %s %s\n", has_in ? in_ : "null", has_out ? out : "null", has_rej ? rej : "null"
		}' "$1" 2>/dev/null || echo "null null null"
}

# runner_stage_failed NAME STATUS REASON: a failure of the runner's own on
# behalf of a stage (it could not be started).
runner_stage_failed() {
	runner_log "$1: $3"
	if [ "$(runner_rank "$RUNNER_STATUS")" -lt 3 ]; then
		RUNNER_STATUS=$2 RUNNER_FAILED_STAGE=$1 RUNNER_REASON=$3
	fi
}

# runner_fail STAGE STATUS MESSAGE: the job finds that its run cannot go
# on (a usage error in its arguments): the message on stderr (quiet: in
# the summary alone), the run ends.
runner_fail() {
	# Quiet, the summary says it.
	[ "$RUNNER_QUIET" = 1 ] || runner_say "$3"
	runner_stage_failed "$1" "$2" "$3"
	runner_finish
}

# runner_reason_of FILE: the reason in a stage's stderr: its first line,
# passing over the notes that come before a failure without being one
# (av-fetch's wait for its rate limit, the records that tick-normalize
# and tick-validate quarantine), unless it holds nothing else.
runner_reason_of() {
	awk '
		NR == 1 { first = $0 }
		/^av-fetch: waiting [0-9]+ s: [0-9]+ calls a minute$/ { next }
		/^tick-normalize: .*: line [0-9]+: .* rejected: / { next }
		/^tick-validate: .*: record [0-9]+: quarantined by "/ { next }
		/^[a-z-]+: \.\.\. and [0-9]+ more/ { next }
		{ print; found = 1; exit }
		END { if (!found && NR > 0) print first }' "$1" 2>/dev/null
}

# runner_attribute DIR NAMES STATUSES: fold the pipeline's stage statuses
# into the run's status.
#
# The stage where the trouble began is the one to name, not those that only
# saw its consequences: a stage killed by SIGPIPE lost its reader to a
# failure downstream; a stage that died of the attempt's own SIGTERM was
# stopped; and the stages after a stage that failed with 64 or more only
# saw its output cut short (an empty batch, a missing marker), so the first
# stage with a status of 64 or more, in pipeline order, is the failure.
# Without one, the most serious of 0, 1 (rejects, warnings) and 2 (a
# failed check) is the pipeline's.  A stage that could not be run at all
# (126, 127) is a configuration error (78); one killed by another signal,
# or ending with a status outside the table, an internal error (70).
# The reason is the failing stage's first message on stderr
# (runner_reason_of), or the reason that a job run as the stage left
# (runner_end).
runner_attribute() {
	local d=$1 i st mapped first='' worst=0 worst_i='' why
	local -n _names=$2 _status=$3
	for i in "${!_names[@]}"; do
		st=${_status[i]:-}
		[ -n "$st" ] || continue
		mapped=$st
		case $st in
		0 | 1 | 2 | 64 | 65 | 69 | 70 | 74 | 75 | 78) ;;
		141) continue ;;
		126 | 127) mapped=78 ;;
		*)
			[ "$st" -gt 128 ] && [ -n "$RUNNER_STOPPING" ] && continue
			mapped=70
			;;
		esac
		if [ "$mapped" -ge 64 ]; then
			first=$i
			_status[i]=$mapped
			break
		fi
		if [ "$mapped" -gt "$worst" ]; then
			worst=$mapped
			worst_i=$i
		fi
	done
	if [ -n "$first" ]; then
		i=$first
	elif [ -n "$worst_i" ]; then
		i=$worst_i
	else
		return 0
	fi
	st=${_status[i]}
	# A run keeps its first failure of 64 or more; below that the worst.
	if [ "$(runner_rank "$RUNNER_STATUS")" -ge 3 ] || [ "$(runner_rank "$st")" -le "$(runner_rank "$RUNNER_STATUS")" ]; then
		return 0
	fi
	# A job run as the stage (bronze in stock-etl) left its own reason.
	why=$(head -n 1 "$d/$i.reason" 2>/dev/null)
	[ -n "$why" ] || why=$(runner_reason_of "$d/$i.txt")
	case ${_status[i]} in
	78) [ "$st" != "${_status[i]}" ] && why="${why:-command not found}" ;;
	esac
	RUNNER_STATUS=$st
	RUNNER_REASON=${why:-exit status $st}
	RUNNER_REASON=${RUNNER_REASON:0:500}
	if [ "$st" -ge 2 ]; then
		RUNNER_FAILED_STAGE=${_names[i]}
	else
		RUNNER_FAILED_STAGE=
	fi
}

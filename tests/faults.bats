#!/usr/bin/env bats
# Fault injection: Delta tables and record streams under kill -9, I/O
# errors, a full disk, flipped bytes, missing and empty log files and
# damaged batch markers.  Every table is loaded from streams whose rows are
# kept as an oracle (tests/helpers/faults/faults.bash), so each read is
# compared with the rows of the version it reports: the rule is the right
# rows, or a refusal (exit 65) that names what is damaged; never other rows
# with exit 0, never a batch lost or loaded twice.
#
# Each case that fails says what it did (fault, seed, offset, version);
# flip-byte FILE OFFSET MASK and fault-offsets SEED COUNT SIZE reproduce a
# byte flip by hand.  FAULTS_SEED changes the sample of offsets.

# shellcheck disable=SC2154 # $stderr and $stderr_lines are set by BATS's run --separate-stderr
load helpers/common
load helpers/mockav
load helpers/faults/faults

SEED=${FAULTS_SEED:-20261206}

setup() {
	fx_setup
	# table names are directories of the working directory
	export STOCKETL_LAKE=$BATS_TEST_TMPDIR
}

teardown() {
	# a writer a test stopped and did not resume: end it, or BATS waits for it
	if [ -n "${TRACEE:-}" ]; then
		kill -KILL "$TRACEE" 2>/dev/null || true
		wait "${PID:-}" 2>/dev/null || true
	fi
	if [ -n "${MOCKAV_PID:-}" ]; then
		mockav_stop
	fi
	if mountpoint -q "$BATS_TEST_TMPDIR/small" 2>/dev/null; then
		umount "$BATS_TEST_TMPDIR/small"
	fi
}

# bronze DIR INTERVAL: an empty bronze table at DIR, partitioned by
# trade_date, with a checkpoint every INTERVAL commits.
bronze() {
	delta-create "$1" --schema "$BRONZE_SCHEMA" --partition-by trade_date \
		--property "delta.checkpointInterval=$2" >/dev/null
}

# loaded DIR BATCHES INTERVAL: a bronze table at DIR holding batches
# 1..BATCHES of fx_ticks f BATCHES 5 (in.ndjson, whose oracle is kept), one
# version each.
loaded() {
	fx_ticks f "$2" 5 >in.ndjson
	fx_oracle in.ndjson
	bronze "$1" "$3"
	delta-append "$1" <in.ndjson
}

# fresh SRC DST: DST becomes a copy of the table SRC.
fresh() {
	rm -rf "$2"
	cp -a "$1" "$2"
}

# untraceable: ASAN_OPTIONS for a program run under strace: LeakSanitizer
# cannot work under ptrace, and would turn every exit status into 1.
untraceable() {
	echo "${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
}

# One thread for the faults to count in.  strace counts a syscall's calls
# per thread, and the writer fsyncs a batch's data files on helper threads
# that it starts for each batch, its own thread taking whichever files are
# left, so that the call numbers of its later steps would change from run
# to run.  Every traced run gets WRITERS writer threads (the first threads
# it starts) and has each thread it starts after them refused (EAGAIN):
# the writer then makes every fsync itself, in one order.
WRITERS=2
SERIAL="clone3:error=EAGAIN:when=$((WRITERS + 1))+"

# steps TABLE STREAM: the system calls of a clean run of delta-append
# TABLE <STREAM (on a copy of TABLE) that fx_when aims faults at, in
# steps.log.  Faults are aimed at steps (the link of commit 3), never at
# fixed call numbers, so that they stay on their step when the writer's
# calls change.
steps() {
	fresh "$1" dry
	ASAN_OPTIONS=$(untraceable) strace -f -y -qq -o steps.log \
		-e trace=syncfs,fsync,link,unlink,rename,clone3 -e inject="$SERIAL" \
		delta-append --threads "$WRITERS" dry <"$2" 2>/dev/null
	rm -rf dry
}

# traced FAULT ARGS...: run delta-append ARGS under strace with one fault,
# SYSCALL:when=N:error=E or SYSCALL:when=N:signal=S (see strace(1), -e
# inject; SIGKILL strikes as the call is entered, before it does anything),
# its calls of SYSCALL logged in fault.log.  Its exit status is
# delta-append's (137 when killed).
traced() {
	local fault=$1
	shift
	ASAN_OPTIONS=$(untraceable) strace -f -y -qq -o fault.log -e trace="${fault%%:*},clone3" \
		-e inject="$SERIAL" -e inject="$fault" delta-append --threads "$WRITERS" "$@"
}

# struck LABEL SYSCALL MATCH: the fault of the last run logged in
# fault.log struck a call of SYSCALL matching the extended regular
# expression MATCH (the call aim chose); returns 1, with the violation
# recorded, when it struck another or none.
struck() {
	local call
	call=$(fx_struck fault.log "$2")
	if [ -z "$call" ] || ! grep -Eq -- "$3" <<<"$call"; then
		fx_fail "$1: the fault struck ${call:-no call} instead of a $2 call matching /$3/"
		return 1
	fi
}

# The steps of a load of 12 batches into a table with a checkpoint every 5
# commits, as "SYSCALLS MATCH AFTER" (see fx_when) and what the writer is
# doing then.  A batch's data files are made durable by fsyncs of each file
# and of the directories above it, or by one syncfs of the table's
# filesystem: those steps name both calls, and strike the first.
DURABLE_FILE='\.parquet>|^syncfs'
DURABLE_DIR='trade_date=[^/>]*>\)|^syncfs'
declare -gA STEP=(
	[flush-3]="fsync,syncfs $DURABLE_FILE /0+2\\.json\"\\) making batch 3's data files durable"
	[flushdir-3]="fsync,syncfs $DURABLE_DIR /0+2\\.json\"\\) making the partitions of batch 3's data files durable"
	[sync-3]='fsync \.0+3\.json\..*\.tmp> - making commit 3 durable under its temporary name'
	[link-3]='link /0+3\.json"\) - linking commit 3 to its name'
	[unlink-3]='unlink \.0+3\.json\..*\.tmp" - removing commit 3'"'"'s temporary name'
	[syncdir-3]='fsync _delta_log>\) /0+3\.json"\) making _delta_log durable after commit 3'
	[sync-cp5]='fsync \.0+5\.checkpoint\.parquet\..*\.tmp> - making checkpoint 5 durable under its temporary name'
	[rename-cp5]='rename /0+5\.checkpoint\.parquet"\) - renaming checkpoint 5 into place'
	[sync-lc5]='fsync _last_checkpoint\..*\.tmp> - making _last_checkpoint of 5 durable under its temporary name'
	[rename-lc5]='rename /_last_checkpoint"\) - renaming _last_checkpoint of 5 into place'
	[flush-6]="fsync,syncfs $DURABLE_FILE /_last_checkpoint\"\\) making batch 6's data files durable"
	[rename-cp10]='rename /0+10\.checkpoint\.parquet"\) - renaming checkpoint 10 into place'
	[rename-lc10]='rename /_last_checkpoint"\) /0+10\.checkpoint\.parquet"\) renaming _last_checkpoint of 10 into place'
)

# aim STEP: sets SC and N (the syscall and the call of it to strike, from
# steps.log), MATCH and WHAT for a step; returns 1, with the violation
# recorded, when the writer makes no such call.
aim() {
	local scs after
	read -r scs MATCH after WHAT <<<"$1"
	read -r SC N < <(fx_when steps.log "$scs" "$MATCH" "$after"; echo)
	if [ -z "$N" ]; then
		fx_fail "while $WHAT: the writer makes no ${scs//,/ or } call matching /$MATCH/"
		return 1
	fi
}

# --- kill -9 ------------------------------------------------------------------

@test "kill -9 at each step of a commit and of a checkpoint leaves the version before or after it; a rerun loads each batch once" {
	fx_ticks f 12 5 >in.ndjson
	fx_oracle in.ndjson
	bronze empty 5
	steps empty in.ndjson
	# each step, and the version the table must be at after a kill there
	while read -r step at; do
		aim "${STEP[$step]}" || continue
		label="kill -9 while $WHAT ($SC call $N)"
		fresh empty t
		status=0
		traced "$SC:when=$N:signal=KILL" t <in.ndjson 2>/dev/null || status=$?
		struck "$label" "$SC" "$MATCH" || continue
		if [ "$status" -ne 137 ]; then
			fx_fail "$label: delta-append was not killed (exit $status)"
			continue
		fi
		fx_read "$label" '' t
		fx_at "$label" "v$at"
		fx_history "$label" t "$at"
		fx_last_checkpoint "$label" t
		status=0
		delta-append t <in.ndjson 2>rerun.err || status=$?
		[ "$status" -eq 0 ] || fx_fail "$label: the rerun exits $status$(fx_said rerun.err)"
		fx_read "$label, rerun" '' t
		fx_at "$label, rerun" v12
		fx_once "$label, rerun" t 12
		fx_history "$label, rerun" t 12
		fx_last_checkpoint "$label, rerun" t
	done <<-'EOF'
		flush-3 2
		flushdir-3 2
		sync-3 2
		link-3 2
		unlink-3 3
		syncdir-3 3
		sync-cp5 5
		rename-cp5 5
		sync-lc5 5
		rename-lc5 5
		flush-6 5
		rename-cp10 10
		rename-lc10 10
	EOF
	fx_duck_batches "kill -9 at each step, DuckDB's reading after the reruns" t 12
	fx_report
}

@test "kill -9 at increasing delays, while commits and checkpoints are written, never breaks the table; reruns load each batch once" {
	fx_ticks f 30 10 >in.ndjson
	fx_oracle in.ndjson
	# a checkpoint after every other commit: many kills land in one
	bronze t 2
	at=0
	for ((round = 1; round <= 24 && at < 30; round++)); do
		ms=$((5 * round))
		label="round $round, kill -9 after ${ms}ms at version $at"
		delta-append t <in.ndjson 2>/dev/null 3>&- &
		pid=$!
		sleep "$(printf '0.%03d' "$ms")"
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		fx_read "$label" '' t
		[ "$FX_READ" != failed ] || continue
		at=${FX_READ#v}
		fx_history "$label" t "$at"
		fx_last_checkpoint "$label" t
	done
	run --separate-stderr delta-append t <in.ndjson
	assert_success
	fx_read "after the kills" '' t
	fx_at "after the kills" v30
	fx_once "after the kills" t 30
	fx_duck_batches "after the kills" t 30
	fx_report
}

# --- I/O errors at chosen steps ---------------------------------------------

# strerror ERRNO: the text of an errno name, as messages give it.
strerror() {
	case $1 in
	EIO) echo "Input/output error" ;;
	ENOSPC) echo "No space left on device" ;;
	esac
}

@test "an I/O error at each step of a commit is exit 74 with nothing of the batch left; a rerun loads the rest once" {
	fx_ticks f 12 5 >in.ndjson
	fx_oracle in.ndjson
	bronze empty 5
	steps empty in.ndjson
	while read -r step errno; do
		aim "${STEP[$step]}" || continue
		label="$errno while $WHAT ($SC call $N)"
		fresh empty t
		status=0
		traced "$SC:when=$N:error=$errno" t <in.ndjson 2>err || status=$?
		struck "$label" "$SC" "$MATCH" || continue
		[ "$status" -eq 74 ] || fx_fail "$label: exit $status, not 74$(fx_said err)"
		grep -q "$(strerror "$errno")" err || fx_fail "$label: the message does not say \"$(strerror "$errno")\"$(fx_said err)"
		fx_read "$label" '' t
		fx_at "$label" v2
		fx_strays "$label" t
		status=0
		delta-append t <in.ndjson 2>rerun.err || status=$?
		[ "$status" -eq 0 ] || fx_fail "$label: the rerun exits $status$(fx_said rerun.err)"
		fx_read "$label, rerun" '' t
		fx_at "$label, rerun" v12
		fx_once "$label, rerun" t 12
		fx_strays "$label, rerun" t
	done <<-'EOF'
		flush-3 EIO
		flushdir-3 ENOSPC
		sync-3 EIO
		sync-3 ENOSPC
		link-3 ENOSPC
		link-3 EIO
	EOF
	fx_report
}

@test "a fault in one of the fsyncs that make a batch's data files durable together is exit 74 or a kill, with nothing of the batch left; a rerun loads the rest once" {
	fx_ticks f 12 5 >in.ndjson
	fx_oracle in.ndjson
	bronze empty 5
	# batch 3's Monday partition: a directory fsynced once in the whole
	# load, by whichever of the threads that fsync batch 3's files
	# together takes it (strace -P counts the calls on that path alone)
	part=trade_date=$(date -u -d "@$(((20241 + 7 * 3) * 86400))" +%F)
	fresh empty dry
	ASAN_OPTIONS=$(untraceable) strace -f -y -qq -o steps.log -e trace=fsync,syncfs \
		delta-append dry <in.ndjson 2>/dev/null
	rm -rf dry
	grep -q "fsync([0-9]*</.*/$part>" steps.log ||
		skip "the writer makes batch 3's data files durable by syncfs, without an fsync of $part"
	for fault in error=EIO error=ENOSPC signal=KILL; do
		label="fsync:$fault at $part, batch 3's partition"
		fresh empty t
		status=0
		ASAN_OPTIONS=$(untraceable) strace -f -y -qq -o fault.log -P "$PWD/t/$part" -e trace=fsync \
			-e inject="fsync:when=1:$fault" delta-append t <in.ndjson 2>err || status=$?
		struck "$label" fsync "/$part>" || continue
		case $fault in
		error=*)
			[ "$status" -eq 74 ] || fx_fail "$label: exit $status, not 74$(fx_said err)"
			grep -q "$part: .*$(strerror "${fault#error=}")" err ||
				fx_fail "$label: the message does not name $part and \"$(strerror "${fault#error=}")\"$(fx_said err)"
			;;
		*) [ "$status" -eq 137 ] || fx_fail "$label: delta-append was not killed (exit $status)" ;;
		esac
		fx_read "$label" '' t
		fx_at "$label" v2
		[ "$fault" = signal=KILL ] || fx_strays "$label" t
		status=0
		delta-append t <in.ndjson 2>rerun.err || status=$?
		[ "$status" -eq 0 ] || fx_fail "$label: the rerun exits $status$(fx_said rerun.err)"
		fx_read "$label, rerun" '' t
		fx_at "$label, rerun" v12
		fx_once "$label, rerun" t 12
	done
	fx_report
}

@test "a fault while a batch of more than 64 data files is made durable is exit 74 or a kill, with nothing of the batch left; a rerun loads the rest once" {
	# batches 1 and 3 of two partitions each; batch 2 of 70 partitions
	{
		fx_ticks f 1 5 1
		for ((day = 20300; day < 20370; day++)); do
			gen-ticks -m -i 2 -d "$day" -s 1 1
		done
		printf '{"@batch":{"app":"f","id":2,"records":70,"rejected":0,"status":"ok"}}\n'
		fx_ticks f 1 5 3
	} >in.ndjson
	fx_oracle in.ndjson
	bronze empty 5
	steps empty in.ndjson
	aim "fsync,syncfs $DURABLE_FILE /0+1\\.json\"\\) making batch 2's data files durable" || fx_report
	for fault in error=EIO signal=KILL; do
		label="$SC:$fault while $WHAT ($SC call $N)"
		fresh empty t
		status=0
		traced "$SC:when=$N:$fault" t <in.ndjson 2>err || status=$?
		struck "$label" "$SC" "$MATCH" || continue
		if [ "$fault" = error=EIO ]; then
			[ "$status" -eq 74 ] || fx_fail "$label: exit $status, not 74$(fx_said err)"
			grep -q "$(strerror EIO)" err || fx_fail "$label: the message does not say \"$(strerror EIO)\"$(fx_said err)"
		else
			[ "$status" -eq 137 ] || fx_fail "$label: delta-append was not killed (exit $status)"
		fi
		fx_read "$label" '' t
		fx_at "$label" v1
		[ "$fault" = signal=KILL ] || fx_strays "$label" t
		status=0
		delta-append t <in.ndjson 2>rerun.err || status=$?
		[ "$status" -eq 0 ] || fx_fail "$label: the rerun exits $status$(fx_said rerun.err)"
		fx_read "$label, rerun" '' t
		fx_at "$label, rerun" v3
		fx_once "$label, rerun" t 3
	done
	fx_report
}

@test "an I/O error while a checkpoint is written is a warning: the commits stand and no temporary file is left" {
	fx_ticks f 12 5 >in.ndjson
	fx_oracle in.ndjson
	bronze empty 5
	steps empty in.ndjson
	# each step, the error, and whether checkpoint 5 is complete afterwards
	while read -r step errno kept; do
		aim "${STEP[$step]}" || continue
		label="$errno while $WHAT ($SC call $N)"
		fresh empty t
		status=0
		traced "$SC:when=$N:error=$errno" t <in.ndjson 2>err || status=$?
		struck "$label" "$SC" "$MATCH" || continue
		[ "$status" -eq 0 ] || fx_fail "$label: exit $status, not 0 (the commits stand)$(fx_said err)"
		grep -q "checkpoint at version 5: .*$(strerror "$errno")" err ||
			fx_fail "$label: no warning about the checkpoint of version 5 and its error$(fx_said err)"
		fx_read "$label" '' t
		fx_at "$label" v12
		fx_once "$label" t 12
		fx_strays "$label" t
		fx_last_checkpoint "$label" t
		if [ "$kept" = yes ]; then
			[ -f "$(fx_checkpoint_path t 5)" ] || fx_fail "$label: checkpoint 5 is missing"
		else
			[ ! -e "$(fx_checkpoint_path t 5)" ] || fx_fail "$label: a failed checkpoint 5 is in the log"
		fi
		[ "$(jq -r .version t/_delta_log/_last_checkpoint)" = 10 ] ||
			fx_fail "$label: _last_checkpoint is not at the checkpoint of version 10"
	done <<-'EOF'
		sync-cp5 EIO no
		sync-cp5 ENOSPC no
		rename-cp5 ENOSPC no
		sync-lc5 EIO yes
		rename-lc5 EIO yes
	EOF
	fx_report
}

# --- slow writers -------------------------------------------------------------

# stopped_at TABLE STREAM ERR STEP: start delta-append -v TABLE <STREAM
# (stderr to ERR) under strace and stop it with SIGSTOP right after the
# call of STEP (as aim takes it) returns; sets PID (strace's) and TRACEE
# (the writer's, which teardown kills should the test fail first); returns
# once it is stopped.  resume lets it go on.
stopped_at() {
	steps "$1" "$2"
	aim "$4" || return 1
	ASAN_OPTIONS=$(untraceable) strace -f -qq -o strace.log -e trace="$SC,clone3" \
		-e inject="$SERIAL" -e inject="$SC:when=$N:signal=STOP" \
		delta-append -v --threads "$WRITERS" "$1" <"$2" 2>"$3" 3>&- &
	PID=$!
	TRACEE=
	for _ in $(seq 300); do
		[ -n "$TRACEE" ] || TRACEE=$(pgrep -P "$PID" || true)
		if grep -q 'stopped by SIGSTOP' strace.log 2>/dev/null; then
			[ -n "$TRACEE" ] || TRACEE=$(pgrep -P "$PID")
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# resume: let the writer stopped_at stopped go on, and wait for it.
resume() {
	kill -CONT "$TRACEE"
	wait "$PID"
	unset TRACEE PID
}

@test "a checkpoint finished late by a stopped writer never moves _last_checkpoint backwards" {
	fx_ticks a 5 5 >a.ndjson
	fx_ticks b 5 5 6 >b.ndjson
	cat a.ndjson b.ndjson >all.ndjson
	fx_oracle all.ndjson
	bronze t 5
	# writer a commits versions 1-5 and is stopped just after it renamed its
	# checkpoint of version 5 into place, before _last_checkpoint; writer b
	# commits versions 6-10 and checkpoints version 10
	stopped_at t a.ndjson a.err "${STEP[rename-cp5]}"
	run --separate-stderr delta-append -v t <b.ndjson
	assert_success
	assert_equal "$(jq -r .version t/_delta_log/_last_checkpoint)" 10
	resume
	grep -q "committed version 5" a.err
	run jq -r .version t/_delta_log/_last_checkpoint
	assert_output 10
	fx_read "after both writers" '' t
	fx_at "after both writers" v10
	fx_last_checkpoint "after both writers" t
	fx_report
}

@test "a writer stopped before its commit while another commits keeps both batches, each once" {
	fx_ticks a 1 5 >a.ndjson
	fx_ticks b 1 5 2 >b.ndjson
	cat a.ndjson b.ndjson >all.ndjson
	fx_oracle all.ndjson
	bronze t 5
	# writer a is stopped once its data files and its commit under a
	# temporary name are durable, before it links the commit to its name
	stopped_at t a.ndjson a.err 'fsync \.0+1\.json\..*\.tmp> - making commit 1 durable under its temporary name'
	run --separate-stderr delta-append t <b.ndjson
	assert_success
	resume
	run jq -r 'select(.txn) | "\(.txn.appId) \(.txn.version)"' t/_delta_log/0000000000000000000[12].json
	assert_output $'b 2\na 1'
	run --separate-stderr delta-cat t
	assert_success
	assert_equal "$(fx_canon <<<"$output")" "$(cat "$FX_ORACLE/v2")"
}

# --- a full disk ---------------------------------------------------------------

@test "a full disk at every level during appends and checkpoints: exit 74, nothing half-committed, no stray files; with space a rerun loads the rest once" {
	[ "$(id -u)" -eq 0 ] || skip "mounting a small filesystem needs root"
	fx_ticks f 6 5 >in.ndjson
	fx_oracle in.ndjson
	mkdir small
	mount -t tmpfs -o size=512k tmpfs small
	# the pages (tmpfs allocates 4 KiB pages) the whole load takes
	bronze small/t 3
	base=$(df --output=used -B4096 small | tail -n 1)
	delta-append small/t <in.ndjson
	need=$(($(df --output=used -B4096 small | tail -n 1) - base))
	total=$(df --output=size -B4096 small | tail -n 1)
	for ((free = 0; free <= need; free++)); do
		label="disk full: $free free pages of the $need the load takes"
		rm -rf small/t
		bronze small/t 3
		head -c $(((total - base - free) * 4096)) /dev/zero >small/filler 2>/dev/null || true
		status=0
		delta-append small/t <in.ndjson 2>err || status=$?
		rm small/filler
		latest=$(fx_latest small/t)
		case $status in
		0) [ "$latest" = 6 ] || fx_fail "$label: exit 0 at version $latest" ;;
		74) grep -q "No space left on device" err ||
			fx_fail "$label: exit 74 without saying the disk is full$(fx_said err)" ;;
		*) fx_fail "$label: exit $status$(fx_said err)" ;;
		esac
		fx_read "$label" '' small/t
		fx_at "$label" "v$latest"
		fx_strays "$label" small/t
		fx_last_checkpoint "$label" small/t
		status=0
		delta-append small/t <in.ndjson 2>err || status=$?
		[ "$status" -eq 0 ] || fx_fail "$label: with space again, the rerun exits $status$(fx_said err)"
		fx_read "$label, rerun" '' small/t
		fx_at "$label, rerun" v6
	done
	umount small
	fx_report
}

# --- writers on a damaged log -------------------------------------------------

# appends LABEL TABLE: appending more.ndjson (batches 1..13) to TABLE, at
# version 12, loads batch 13 alone: exit 0, and version 13 reads right.
appends() {
	local label=$1 table=$2 status=0
	delta-append "$table" <more.ndjson 2>write.err || status=$?
	if [ "$status" -ne 0 ]; then
		fx_fail "$label: delta-append exit $status$(fx_said write.err)"
		return 0
	fi
	fx_read "$label, then appending batch 13" '' "$table"
	fx_at "$label, then appending batch 13" v13
}

# refuses LABEL TABLE REGEX: appending more.ndjson to TABLE is exit 65 with
# a message matching REGEX, and commits nothing.
refuses() {
	local label=$1 table=$2 regex=$3 before status=0
	before=$(fx_latest "$table")
	delta-append "$table" <more.ndjson 2>write.err || status=$?
	if [ "$status" -ne 65 ] || ! grep -Eq -- "$regex" write.err; then
		fx_fail "$label: delta-append exit $status instead of refusing with /$regex/$(fx_said write.err)"
	fi
	if [ "$(fx_latest "$table")" != "$before" ]; then
		fx_fail "$label: delta-append committed version $(fx_latest "$table") on a log it should refuse"
	fi
}

# --- flipped bits and bytes ---------------------------------------------------

# flip_sweep TABLE FILE COUNT: flip one bit at each of COUNT offsets of FILE
# (a path under TABLE) in a copy of TABLE, and read the copy: the right
# rows, or a refusal naming the file.
flip_sweep() {
	local table=$1 file=$2 count=$3 off mask
	while read -r off mask; do
		fresh "$table" w
		flip-byte "w/$file" "$off" "$mask" >/dev/null
		fx_read "seed $SEED: flip-byte $file $off $mask" "$(basename "$file")" w
		[ "$FX_READ" != failed ] || echo "  (offset $off lies in: $(fx_region "$table/$file" "$off"))" >>"$FX_FAILS"
	done < <(fault-offsets "$SEED" "$count" "$(stat -c %s "$table/$file")")
}

@test "a flipped bit anywhere in a data file of a partitioned table: the right rows, or a refusal naming the file" {
	loaded t 3 5
	flip_sweep t "$(jq -r 'select(.add) | .add.path' "$(fx_commit_path t 2)" | head -n 1)" 40
	fx_report
}

@test "a flipped bit anywhere in a data file of an unpartitioned table: the right rows, or a refusal naming the file" {
	gen-events -a e -b 3 40 >in.ndjson
	fx_oracle in.ndjson
	delta-create t --schema "$EVENTS_SCHEMA" >/dev/null
	delta-append t <in.ndjson
	flip_sweep t "$(jq -r 'select(.add) | .add.path' "$(fx_commit_path t 2)")" 40
	fx_report
}

@test "a flipped bit anywhere in a checkpoint, with every commit still in the log: readers and writers fall back to the commits" {
	loaded t 12 5
	fx_ticks f 13 5 >more.ndjson
	fx_oracle more.ndjson
	file=_delta_log/$(basename "$(fx_checkpoint_path t 10)")
	while read -r off mask; do
		label="seed $SEED: flip-byte $file $off $mask"
		fresh t w
		flip-byte "w/$file" "$off" "$mask" >/dev/null
		fx_read "$label" '' w
		[ "$FX_READ" != failed ] || echo "  (offset $off lies in: $(fx_region "t/$file" "$off"))" >>"$FX_FAILS"
		fx_read -i "$label, --where symbol = 'IBM'" '' w
		appends "$label" w
	done < <(fault-offsets "$SEED" 32 "$(stat -c %s "t/$file")")
	fx_report
}

@test "a flipped bit anywhere in a checkpoint that log cleanup left alone: the right rows, or a refusal naming the checkpoint" {
	loaded t 12 5
	fx_ticks f 13 5 >more.ndjson
	fx_oracle more.ndjson
	# what log cleanup leaves: the checkpoint of version 10, its commit and the later ones
	rm t/_delta_log/0000000000000000000[0-9].json "$(fx_checkpoint_path t 5)"
	file=_delta_log/$(basename "$(fx_checkpoint_path t 10)")
	named='00000000000000000010\.checkpoint\.parquet'
	while read -r off mask; do
		label="seed $SEED: flip-byte $file $off $mask, commits 0-9 removed"
		fresh t w
		flip-byte "w/$file" "$off" "$mask" >/dev/null
		fx_read "$label" "$named" w
		[ "$FX_READ" != failed ] || echo "  (offset $off lies in: $(fx_region "t/$file" "$off"))" >>"$FX_FAILS"
		if [ "$FX_READ" = refused ]; then
			refuses "$label" w "$named"
		else
			appends "$label" w
		fi
	done < <(fault-offsets "$SEED" 32 "$(stat -c %s "t/$file")")
	fx_report
}

@test "a byte of a commit replaced by a control character: the right rows or a refusal naming the version, and writers agree with readers" {
	loaded t 12 5
	fx_ticks f 13 5 >more.ndjson
	fx_oracle more.ndjson
	# the damaged version, the version read, how many offsets: 11 is replayed
	# after checkpoint 10 for the latest version, by readers and writers; 3
	# and 0 only for older versions
	for target in 11:latest:20 3:4:10 0:2:10; do
		IFS=: read -r v at count <<<"$target"
		file=_delta_log/$(basename "$(fx_commit_path t "$v")")
		args=()
		[ "$at" = latest ] || args=(-V "$at")
		while read -r off _; do
			fresh t w
			was=$(od -An -c -j "$off" -N 1 "w/$file" | tr -d ' ')
			flip-byte --set "w/$file" "$off" 1 >/dev/null
			label="seed $SEED: flip-byte --set $file $off 1 (was '$was')"
			fx_read "${args[@]}" "$label" "version $v([^0-9]|$)" w
			if [ "$v" != 11 ] || [ "$FX_READ" = failed ]; then
				continue
			elif [ "$FX_READ" = refused ]; then
				refuses "$label" w "version $v([^0-9]|$)"
			else
				appends "$label" w
			fi
		done < <(fault-offsets "$SEED" "$count" "$(stat -c %s "t/$file")")
	done
	fx_report
}

@test "a commit whose add action is damaged is refused by writers as by readers, naming the version" {
	loaded t 12 5
	fx_ticks f 13 5 >more.ndjson
	fx_oracle more.ndjson
	for damage in 's/"size":/"size"x/' 's/{"add":{"path":/{"add":{"paht":/'; do
		label="version 11's adds edited by $damage"
		fresh t w
		sed -i "/^{\"add\"/$damage" "$(fx_commit_path w 11)"
		fx_read "$label" 'version 11([^0-9]|$)' w
		fx_at "$label" refused
		refuses "$label" w 'version 11([^0-9]|$)'
	done
	fx_report
}

# --- missing and empty commits, _last_checkpoint --------------------------------

@test "a commit missing after the last checkpoint is refused by readers and writers naming it, with or without _last_checkpoint" {
	loaded t 14 5
	fx_ticks f 15 5 >more.ndjson
	fx_oracle more.ndjson
	for gap in 11 12 13; do
		for hint in with without; do
			label="version $gap missing of 0-14, $hint _last_checkpoint"
			fresh t w
			rm "$(fx_commit_path w "$gap")"
			[ "$hint" = with ] || rm w/_delta_log/_last_checkpoint
			fx_read "$label" "version $gap([^0-9]|$)" w
			fx_at "$label" refused
			refuses "$label" w "version $gap([^0-9]|$)"
			[ ! -e "$(fx_commit_path w "$gap")" ] || fx_fail "$label: delta-append committed into the gap"
		done
	done
	fx_report
}

@test "a commit missing below the last checkpoint: versions from a checkpoint read, older ones are refused naming it, writers go on" {
	loaded t 12 5
	fx_ticks f 13 5 >more.ndjson
	fx_oracle more.ndjson
	rm "$(fx_commit_path t 3)"
	fx_read "version 3 missing, latest" '' t
	fx_at "version 3 missing, latest" v12
	fx_read -V 7 "version 3 missing, version 7" '' t
	fx_read -V 4 "version 3 missing, version 4" 'version 3([^0-9]|$)' t
	fx_at "version 3 missing, version 4" refused
	appends "version 3 missing" t
	fx_report
}

@test "a missing newest commit reads as the version before it; a rerun loads that batch again, once" {
	loaded t 12 5
	# the newest version removed: 12, or 10 (whose checkpoint stays)
	for newest in 12 10; do
		label="newest version $newest missing"
		fresh t w
		for ((v = newest; v <= 12; v++)); do
			rm "$(fx_commit_path w "$v")"
		done
		fx_read "$label" '' w
		status=0
		delta-append w <in.ndjson 2>write.err || status=$?
		[ "$status" -eq 0 ] || fx_fail "$label: the rerun exits $status$(fx_said write.err)"
		fx_read "$label, rerun" '' w
		fx_at "$label, rerun" v12
	done
	fx_report
}

@test "a missing version 0: versions from a checkpoint read, earlier ones and tables without a checkpoint are refused" {
	loaded t 12 5
	rm "$(fx_commit_path t 0)"
	fx_read "version 0 missing, latest" '' t
	fx_at "version 0 missing, latest" v12
	fx_read -V 5 "version 0 missing, version 5" '' t
	fx_at "version 0 missing, version 5" v5
	fx_read -V 3 "version 0 missing, version 3" 'version 0([^0-9]|$)' t
	fx_at "version 0 missing, version 3" refused
	loaded u 3 10
	rm "$(fx_commit_path u 0)"
	fx_read "version 0 missing, no checkpoint" 'version 0([^0-9]|$)' u
	fx_at "version 0 missing, no checkpoint" refused
	fx_ticks f 4 5 >more.ndjson
	refuses "version 0 missing, no checkpoint" u 'version 0([^0-9]|$)'
	[ ! -e "$(fx_commit_path u 0)" ] || fx_fail "version 0 missing, no checkpoint: delta-append wrote a version 0"
	fx_report
}

@test "an empty commit is refused by readers and writers, naming its version" {
	loaded t 12 5
	fx_ticks f 13 5 >more.ndjson
	fx_oracle more.ndjson
	# the empty version; the version read; whether a writer replays it
	while read -r v at writer; do
		label="version $v empty, reading $at"
		fresh t w
		: >"$(fx_commit_path w "$v")"
		args=()
		[ "$at" = latest ] || args=(-V "$at")
		fx_read "${args[@]}" "$label" "version $v([^0-9]|$)" w
		# an empty newest commit may also read as the version before it
		[ "$v-$FX_READ" = 12-v11 ] || fx_at "$label" refused
		[ "$writer" = no ] || refuses "$label" w "version $v([^0-9]|$)"
	done <<-'EOF'
		11 latest yes
		12 latest yes
		3 4 no
		0 2 no
	EOF
	fx_report
}

@test "_last_checkpoint naming a missing checkpoint or a future version, or holding garbage, changes nothing" {
	loaded t 12 5
	fx_ticks f 13 5 >more.ndjson
	fx_oracle more.ndjson
	for damage in missing future garbage empty; do
		label="_last_checkpoint $damage"
		fresh t w
		case $damage in
		missing) rm "$(fx_checkpoint_path w 10)" ;;
		future) echo '{"version":99,"size":24}' >w/_delta_log/_last_checkpoint ;;
		garbage) printf '{"version":1x' >w/_delta_log/_last_checkpoint ;;
		empty) : >w/_delta_log/_last_checkpoint ;;
		esac
		fx_read "$label" '' w
		fx_at "$label" v12
		appends "$label" w
	done
	fx_report
}

@test "_last_checkpoint naming a damaged checkpoint: readers and writers fall back to an older checkpoint or the commits, with a warning" {
	loaded t 12 5
	fx_ticks f 13 5 >more.ndjson
	fx_oracle more.ndjson
	cp=$(basename "$(fx_checkpoint_path t 10)")
	for damage in truncated empty garbage datafile; do
		label="checkpoint 10 $damage"
		fresh t w
		f=w/_delta_log/$cp
		case $damage in
		truncated) head -c "$(($(stat -c %s "t/_delta_log/$cp") / 2))" "t/_delta_log/$cp" >"$f" ;;
		empty) : >"$f" ;;
		garbage) head -c 4096 /dev/zero | tr '\0' x >"$f" ;;
		datafile) cp "w/$(jq -r 'select(.add) | .add.path' "$(fx_commit_path w 3)" | head -n 1)" "$f" ;;
		esac
		fx_read "$label" '' w
		fx_at "$label" v12
		[ "$FX_READ" != v12 ] || grep -q "$cp" read.err ||
			fx_fail "$label: no warning naming $cp$(fx_said read.err)"
		appends "$label" w
	done
	fx_report
}

@test "a checkpoint whose add count disagrees with _last_checkpoint is not trusted" {
	loaded t 12 5
	fx_ticks f 13 5 >more.ndjson
	fx_oracle more.ndjson
	# a well-formed checkpoint, but of version 5's state (10 adds), where
	# _last_checkpoint says version 10 has 20
	cp "$(fx_checkpoint_path t 5)" "$(fx_checkpoint_path t 10)"
	fx_read "checkpoint 10 holding version 5's state" '' t
	fx_at "checkpoint 10 holding version 5's state" v12
	appends "checkpoint 10 holding version 5's state" t
	fx_report
}

# --- record streams -------------------------------------------------------------

# holds LABEL TABLE BATCH...: TABLE's rows are exactly those of the oracle's
# batches BATCH...
holds() {
	local label=$1 table=$2 b want=() got list
	shift 2
	list=$*
	for b in "$@"; do
		want+=("$FX_ORACLE/b$b")
	done
	if ! delta-cat "$table" >read.out 2>read.err; then
		fx_fail "$label: delta-cat fails$(fx_said read.err)"
		return 0
	fi
	fx_canon <read.out >read.rows
	LC_ALL=C sort -m "${want[@]}" >want.rows
	if ! cmp -s want.rows read.rows; then
		got=$(jq -r .batch_id read.rows | uniq -c | awk '{ printf "%s%s (%s rows)", (NR > 1 ? ", " : ""), $2, $1 }')
		fx_fail "$label: the table holds batches ${got:-none} instead of exactly batches ${list// /, }"
	fi
}

# damaged_streams CASES: for each line "LABEL<TAB>SED" of CASES, batches 1-3
# of app f with SED applied to batch 2's lines, loaded into a new table by
# delta-append alone and through tick-validate: batch 2 is not committed,
# 1 and 3 are, and delta-append says so with exit 2 or 65.
damaged_streams() {
	local label sed via status
	fx_ticks f 1 5 1 >b1
	fx_ticks f 1 5 2 >b2
	fx_ticks f 1 5 3 >b3
	cat b1 b2 b3 >in.ndjson
	fx_oracle in.ndjson
	while IFS=$'\t' read -r label sed; do
		sed "$sed" b2 | cat b1 - b3 >damaged.ndjson
		if cmp -s b2 <(sed "$sed" b2); then
			fx_fail "$label: the damage $sed changes nothing"
		fi
		for via in delta-append tick-validate; do
			rm -rf t
			bronze t 5
			status=0
			if [ "$via" = delta-append ]; then
				delta-append t <damaged.ndjson 2>err || status=$?
			else
				tick-validate --checks "$STOCKETL_ROOT/conf/checks/ticks.checks" <damaged.ndjson 2>/dev/null |
					delta-append t 2>err || status=$?
			fi
			case $status in
			2 | 65) ;;
			*) fx_fail "$label, through $via: delta-append exit $status, not 2 or 65$(fx_said err)" ;;
			esac
			holds "$label, through $via" t 1 3
		done
	done <<<"$1"
}

@test "a marker whose count disagrees with its batch: that batch is not committed, the batches around it are" {
	damaged_streams "$(printf '%s\t%s\n' \
		'a marker counting one record more' 's/"records":10/"records":11/' \
		'a marker counting one record fewer' 's/"records":10/"records":9/' \
		'a batch that lost a record' '3d')"
	fx_report
}

@test "a malformed marker: its batch is not committed, the batches around it are" {
	damaged_streams "$(printf '%s\t%s\n' \
		'an id that is a string' 's/"id":2/"id":"2"/' \
		'a status neither ok nor failed' 's/"status":"ok"/"status":"okay"/' \
		'a marker without its app' 's/"app":"f",//' \
		'a marker cut off' 's/,"status":"ok"}}$/,"sta/' \
		'a marker that is not an object' 's/{"@batch":{.*}}$/{"@batch":2}/')"
	fx_report
}

@test "a marker with a duplicate key is malformed: its batch is not committed, the batches around it are" {
	damaged_streams "$(printf '%s\t%s\n' \
		'status failed, then ok' 's/"status":"ok"/"status":"failed","status":"ok"/' \
		'records 11, then 10' 's/"records":10/"records":11,"records":10/' \
		'app g, then f' 's/"app":"f"/"app":"g","app":"f"/' \
		'id 9, then 2' 's/"id":2,/"id":9,"id":2,/')"
	fx_report
}

@test "a stream cut before its first marker is not committed, straight or through tick-validate" {
	cat >rules.json <<-'JSON'
		[{"match": {"function": "TIME_SERIES_INTRADAY", "symbol": "IBM"},
		  "responses": [{"file": "intraday_IBM_5min_compact.json"}]}]
	JSON
	mockav_start rules.json
	ALPHAVANTAGE_API_KEY=test-key av-fetch --base-url "$MOCKAV_URL" --interval 5min IBM >envelopes.ndjson
	mockav_stop
	grep -q '^{"@batch"' envelopes.ndjson
	checks=$STOCKETL_ROOT/conf/checks/ticks.checks
	# everything before the first marker: of the envelopes, and of the ticks
	awk '/^\{"@batch"/ { exit } { print }' envelopes.ndjson >cut-envelopes.ndjson
	tick-normalize <envelopes.ndjson 2>/dev/null | awk '/^\{"@batch"/ { exit } { print }' >cut-ticks.ndjson
	[ -s cut-envelopes.ndjson ] && [ -s cut-ticks.ndjson ]
	while read -r label pipeline; do
		rm -rf t
		bronze t 5
		status=0
		bash -c "$pipeline | delta-append t" 2>err || status=$?
		[ "$status" -eq 65 ] || fx_fail "$label: delta-append exit $status, not 65$(fx_said err)"
		[ "$(fx_latest t)" = 0 ] || fx_fail "$label: a batch whose marker never came was committed as version $(fx_latest t)"
	done <<-EOF
		envelopes-cut,normalized tick-normalize <cut-envelopes.ndjson 2>/dev/null
		envelopes-cut,normalized,validated tick-normalize <cut-envelopes.ndjson 2>/dev/null | tick-validate --checks $checks 2>/dev/null
		ticks-cut cat cut-ticks.ndjson
		ticks-cut,validated tick-validate --checks $checks <cut-ticks.ndjson 2>/dev/null
	EOF
	fx_report
}

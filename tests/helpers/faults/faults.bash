# Helpers of the fault-injection suite (tests/faults.bats): streams with an
# oracle, and the checks that every damaged, killed or starved table must
# pass.
#
#   load helpers/common
#   load helpers/faults/faults
#
# The oracle.  A stream of N batches loaded by one writer into a new table
# makes version V hold exactly batches 1..V (version 0 is the empty table),
# however often the writer was killed and rerun.  fx_oracle splits a stream
# into its batches and keeps, for each version, the rows that version must
# read as: one canonical line per row (jq -S, sorted), so that two readings
# compare as text.
#
# The checks append one line per violation to $FX_FAILS, each saying what
# was done (seed, offset, version, fault) and what came out, and return 0
# all the same, so that a test runs all its cases; it ends with fx_report,
# which fails the test with every violation at once.
# shellcheck shell=bash

FX_HELPERS=$STOCKETL_ROOT/tests/helpers/faults
BRONZE_SCHEMA=$STOCKETL_ROOT/conf/tables/bronze.schema
EVENTS_SCHEMA=$FX_HELPERS/events.schema
export FX_HELPERS BRONZE_SCHEMA EVENTS_SCHEMA

fx_setup() {
	common_setup
	export PATH="$FX_HELPERS:$PATH"
	FX_FAILS=$BATS_TEST_TMPDIR/fails
	FX_ORACLE=$BATS_TEST_TMPDIR/oracle
	: >"$FX_FAILS"
}

# fx_said FILE: what a program said on stderr (FILE), for a violation: its
# start on one line after ": ", or nothing when it said nothing.
fx_said() {
	if [ -s "$1" ]; then
		printf ": %s" "$(head -c 300 "$1" | tr "\n" " ")"
	fi
}

# fx_fail TEXT...: record a violation.
fx_fail() {
	printf "%s\n" "$*" >>"$FX_FAILS"
}

# fx_report: fail the test with every violation recorded, if any.
fx_report() {
	if [ -s "$FX_FAILS" ]; then
		echo "$(wc -l <"$FX_FAILS") violation(s):"
		cat "$FX_FAILS"
		return 1
	fi
}

# fx_ticks APP BATCHES ROWS [FIRST_ID]: BATCHES batches of tick records of
# bronze's schema, with ids FIRST_ID (default 1) on.  Batch ID holds ROWS
# bars of each of two days, the Monday and Tuesday of week ID after
# 2025-06-02: two partitions, and trading days, so that tick-validate
# passes every bar.
fx_ticks() {
	local app=$1 n=$2 rows=$3 first=${4:-1} b id day
	for ((b = 0; b < n; b++)); do
		id=$((first + b))
		day=$((20241 + 7 * id))
		gen-ticks -m -i "$id" -d "$day" "$rows"
		gen-ticks -m -i "$id" -d $((day + 1)) -s 2 "$rows"
		printf '{"@batch":{"app":"%s","id":%d,"records":%d,"rejected":0,"status":"ok"}}\n' \
			"$app" "$id" $((2 * rows))
	done
}

# fx_canon: records on stdin, control lines dropped, as canonical sorted lines.
fx_canon() {
	jq -c -S 'select((keys | length == 1 and (.[0] | startswith("@"))) | not)' | LC_ALL=C sort
}

# fx_oracle STREAM: the oracle of a stream loaded into a new table:
# $FX_ORACLE/b<N> holds batch N's rows and $FX_ORACLE/v<V> the rows of
# version V (batches 1..V), both canonical; $FX_ORACLE/counts the row
# count of each batch, one a line.
fx_oracle() {
	local stream=$1 n v
	rm -rf "$FX_ORACLE"
	mkdir -p "$FX_ORACLE"
	awk -v dir="$FX_ORACLE" '
		/^\{"@batch"/ { close(dir "/raw" n + 1); n++; next }
		{ print > (dir "/raw" n + 1) }' "$stream"
	n=$(grep -c '^{"@batch"' "$stream")
	: >"$FX_ORACLE/v0"
	for ((v = 1; v <= n; v++)); do
		fx_canon <"$FX_ORACLE/raw$v" >"$FX_ORACLE/b$v"
		rm -f "$FX_ORACLE/raw$v"
		LC_ALL=C sort -m "$FX_ORACLE/v$((v - 1))" "$FX_ORACLE/b$v" >"$FX_ORACLE/v$v"
	done
	for ((v = 1; v <= n; v++)); do
		wc -l <"$FX_ORACLE/b$v"
	done >"$FX_ORACLE/counts"
}

# fx_want V [FILTER]: the rows version V must read as; with FILTER (a fixed
# string of the canonical text, such as "symbol":"IBM"), only the rows
# holding it.
fx_want() {
	if [ -n "${2:-}" ]; then
		grep -F -- "$2" "$FX_ORACLE/v$1" || true
	else
		cat "$FX_ORACLE/v$1"
	fi
}

# fx_read [-i] [-V VERSION] LABEL REFUSAL TABLE: read TABLE with delta-cat -v
# (at VERSION if given; with -i only IBM's rows, through --where) and judge
# the outcome.
# Allowed: exit 0 with exactly the oracle's rows of the version delta-cat
# says it read (VERSION itself when given); or, when REFUSAL is not empty,
# exit 65 with a message matching the extended regular expression REFUSAL.
# Sets FX_READ to "v<version>", "refused", or "failed" (a violation,
# recorded).
fx_read() {
	local filter="" want_v="" args=() label refusal table rc v cmd raw
	while [ $# -gt 3 ]; do
		case $1 in
		-i) filter='"symbol":"IBM"' ;;
		-V)
			want_v=$2
			shift
			;;
		esac
		shift
	done
	label=$1 refusal=$2 table=$3
	[ -n "$want_v" ] && args+=(--at-version "$want_v")
	[ -n "$filter" ] && args+=(--where "symbol = 'IBM'")
	FX_READ=failed
	cmd="delta-cat${args[*]:+ ${args[*]}}"
	rc=0
	delta-cat -v "${args[@]}" "$table" >"$BATS_TEST_TMPDIR/read.out" 2>"$BATS_TEST_TMPDIR/read.err" || rc=$?
	if [ "$rc" -eq 65 ] && [ -n "$refusal" ]; then
		if grep -Eq -- "$refusal" "$BATS_TEST_TMPDIR/read.err"; then
			FX_READ=refused
			return 0
		fi
		fx_fail "$label: $cmd refused without naming /$refusal/$(fx_said "$BATS_TEST_TMPDIR/read.err")"
		return 0
	fi
	if [ "$rc" -ne 0 ]; then
		fx_fail "$label: $cmd exit $rc$(fx_said "$BATS_TEST_TMPDIR/read.err")"
		return 0
	fi
	v=$(sed -n 's/^delta-cat: .*: version \([0-9][0-9]*\).*/\1/p' "$BATS_TEST_TMPDIR/read.err" | head -n 1)
	if [ -z "$v" ] || [ ! -f "$FX_ORACLE/v$v" ]; then
		fx_fail "$label: $cmd exit 0 at a version the oracle does not know (\"$v\")$(fx_said "$BATS_TEST_TMPDIR/read.err")"
		return 0
	fi
	if [ -n "$want_v" ] && [ "$v" != "$want_v" ]; then
		fx_fail "$label: delta-cat --at-version $want_v read version $v"
		return 0
	fi
	# Fast path: delta-cat's own text of a version already found equal to
	# the oracle (kept in $FX_ORACLE/r<V>), compared without jq.
	raw=$FX_ORACLE/r$v${filter:+-filtered}
	LC_ALL=C sort "$BATS_TEST_TMPDIR/read.out" >"$BATS_TEST_TMPDIR/read.sorted"
	if [ -f "$raw" ] && cmp -s "$BATS_TEST_TMPDIR/read.sorted" "$raw"; then
		FX_READ=v$v
		return 0
	fi
	fx_canon <"$BATS_TEST_TMPDIR/read.out" >"$BATS_TEST_TMPDIR/read.rows"
	fx_want "$v" "$filter" >"$BATS_TEST_TMPDIR/want.rows"
	if ! cmp -s "$BATS_TEST_TMPDIR/read.rows" "$BATS_TEST_TMPDIR/want.rows"; then
		fx_fail "$label: $cmd exit 0 at version $v with other rows than that version's: $(wc -l <"$BATS_TEST_TMPDIR/read.rows") rows, $(wc -l <"$BATS_TEST_TMPDIR/want.rows") expected; $(diff "$BATS_TEST_TMPDIR/want.rows" "$BATS_TEST_TMPDIR/read.rows" | grep -c '^[<>]') lines differ, first: $(diff "$BATS_TEST_TMPDIR/want.rows" "$BATS_TEST_TMPDIR/read.rows" | grep -m 1 '^[<>]' | head -c 200)"
		return 0
	fi
	[ -f "$raw" ] || cp "$BATS_TEST_TMPDIR/read.sorted" "$raw"
	FX_READ=v$v
}

# fx_commits TABLE: the versions of TABLE's JSON commits, one per line, ascending.
fx_commits() {
	find "$1/_delta_log" -maxdepth 1 -name '[0-9]*.json' -printf '%f\n' | sed 's/\.json$//; s/^0*\([0-9]\)/\1/' | sort -n
}

# fx_latest TABLE: the newest JSON commit's version.
fx_latest() {
	fx_commits "$1" | tail -n 1
}

# fx_history LABEL TABLE LATEST: delta-history lists LATEST down to 0, each
# once, every version above 0 a WRITE of its batch's row count.
fx_history() {
	local label=$1 table=$2 latest=$3 got want rc=0
	got=$(delta-history --format json "$table" 2>"$BATS_TEST_TMPDIR/hist.err" |
		jq -r '"\(.version) \(.operation) \(.operationMetrics.numOutputRows // "-")"' | paste -sd' ' -) || rc=$?
	if [ "$rc" -ne 0 ]; then
		fx_fail "$label: delta-history failed$(fx_said "$BATS_TEST_TMPDIR/hist.err")"
		return 0
	fi
	want=$(head -n "$latest" "$FX_ORACLE/counts" | awk '{ w[NR] = NR " WRITE " $1 }
		END { for (v = NR; v >= 1; v--) printf "%s ", w[v]; print "0 CREATE TABLE -" }')
	if [ "$got" != "$want" ]; then
		fx_fail "$label: delta-history lists \"$(cut -c 1-120 <<<"$got")...\" instead of versions $latest..0 with their batches"
		return 0
	fi
}

# fx_once LABEL TABLE N: the JSON commits 1..N carry the txn of batches
# 1..N, in that order, each exactly once, and nothing more.
fx_once() {
	local label=$1 table=$2 n=$3 got want
	got=$(cat "$table"/_delta_log/[0-9]*.json | jq -r 'select(.txn) | .txn.version' | paste -sd' ' -)
	want=$(seq -s ' ' 1 "$n")
	if [ "$got" != "$want" ]; then
		fx_fail "$label: the log's txn versions are \"$got\", not \"$want\""
		return 0
	fi
}

# fx_strays LABEL TABLE: no hidden temporary file anywhere in the table, no
# data file that no commit names, no commit naming a file that is not there.
fx_strays() {
	local label=$1 table=$2 hidden named ondisk
	hidden=$(cd "$table" && find . -name '.*' ! -name . | paste -sd' ' -)
	if [ -n "$hidden" ]; then
		fx_fail "$label: temporary files left behind: $hidden"
	fi
	named=$(sed -n 's/^{"add":{"path":"\([^"]*\)".*/\1/p' "$table"/_delta_log/[0-9]*.json | LC_ALL=C sort)
	ondisk=$(cd "$table" && find . -path ./_delta_log -prune -o -name '*.parquet' -print | sed 's|^\./||' | LC_ALL=C sort)
	if [ "$named" != "$ondisk" ]; then
		fx_fail "$label: data files on disk and in the log differ: $(diff <(echo "$named") <(echo "$ondisk") | grep '^[<>]' | head -n 4 | paste -sd' ' -)"
	fi
}

# fx_last_checkpoint LABEL TABLE: _last_checkpoint, when there is one,
# names a checkpoint that is there and whose add count it gives.
fx_last_checkpoint() {
	local label=$1 table=$2 lc v want adds file
	lc=$table/_delta_log/_last_checkpoint
	[ -e "$lc" ] || return 0
	read -r v want < <(jq -r '"\(.version) \(.numOfAddFiles)"' "$lc")
	file=$(fx_checkpoint_path "$table" "$v")
	if [ ! -f "$file" ]; then
		fx_fail "$label: _last_checkpoint names version $v, whose checkpoint is missing"
		return 0
	fi
	adds=$(parquet-cat --columns add.path "$file" | grep -c '"path":"' || true)
	if [ "$adds" != "$want" ]; then
		fx_fail "$label: checkpoint $v holds $adds adds, _last_checkpoint says $want"
		return 0
	fi
}

# fx_duck_batches LABEL TABLE N: DuckDB, reading the data files the JSON
# commits add, finds batches 1..N with the oracle's row count each.
fx_duck_batches() {
	local label=$1 table=$2 n=$3 files got want
	files=$(cat "$table"/_delta_log/[0-9]*.json | jq -r 'select(.add) | .add.path' |
		sed "s|^|'$table/|; s|$|'|" | paste -sd, -)
	got=$(duckdb-query.js "SELECT batch_id, count(*) AS n FROM read_parquet([$files]) GROUP BY batch_id ORDER BY batch_id")
	want=$(for ((b = 1; b <= n; b++)); do
		printf '{"batch_id":%d,"n":%d}\n' "$b" "$(wc -l <"$FX_ORACLE/b$b")"
	done)
	if [ "$got" != "$want" ]; then
		fx_fail "$label: DuckDB reads these batches: $(echo "$got" | jq -r '"\(.batch_id)x\(.n)"' | paste -sd' ' -)"
		return 0
	fi
}

# fx_commit_path TABLE V and fx_checkpoint_path TABLE V: a version's files.
fx_commit_path() {
	printf '%s/_delta_log/%020d.json' "$1" "$2"
}

fx_checkpoint_path() {
	printf '%s/_delta_log/%020d.checkpoint.parquet' "$1" "$2"
}

# fx_region FILE OFFSET: where OFFSET falls in a Parquet file: "magic",
# "column NAME" (its pages) or "footer", for messages.
fx_region() {
	local file=$1 off=$2 size
	size=$(stat -c %s "$file")
	if [ "$off" -lt 4 ] || [ "$off" -ge $((size - 8)) ]; then
		echo "magic/footer length"
		return
	fi
	parquet-cat --meta "$file" 2>/dev/null | jq -r --argjson o "$off" '
		[.row_groups[].columns[] |
		 {p: .path, s: (.dictionary_page_offset // .data_page_offset), n: .total_compressed_size} |
		 select($o >= .s and $o < .s + .n) | "column \(.p)"] | first // "footer"' 2>/dev/null ||
		echo "unknown (footer unreadable)"
}

# fx_at LABEL WANT: the last fx_read came out as WANT ("v<N>" or "refused");
# a read already recorded as a violation is not reported again.
fx_at() {
	[ "$FX_READ" = failed ] || [ "$FX_READ" = "$2" ] ||
		fx_fail "$1: the table reads as $FX_READ, not $2"
}

# fx_when TRACE SYSCALLS MATCH AFTER: "SYSCALL N", where N is the N of
# strace's -e inject=SYSCALL:when=N that hits one step of a writer: the
# first call of one of SYSCALLS (a comma-separated list, such as
# fsync,syncfs: a step is what a call does, whichever call does it) in
# TRACE (the output of strace -f -y of the same run) whose text matches the
# extended regular expression MATCH, among those after the first line
# matching AFTER ("-" for any call, and for no AFTER); counted per syscall
# within its thread, as strace counts.  Prints nothing when no call
# matches.
fx_when() {
	FX_SC=$2 FX_MATCH=$3 FX_AFTER=$4 awk '
		BEGIN {
			nsc = split(ENVIRON["FX_SC"], scs, ",")
			m = ENVIRON["FX_MATCH"]; a = ENVIRON["FX_AFTER"]; seen = a == "-"
		}
		{
			tid = $1
			call = $0
			sub(/^[0-9]+ +/, "", call)
			for (i = 1; i <= nsc; i++) {
				if (index(call, scs[i] "(") != 1)
					continue
				n[tid, scs[i]]++
				if (seen && (m == "-" || call ~ m)) {
					print scs[i], n[tid, scs[i]]
					exit
				}
			}
			if (!seen && $0 ~ a)
				seen = 1
		}' "$1"
}

# fx_struck TRACE SYSCALL: the call of SYSCALL that a fault struck, in TRACE
# (the output of strace -f -y of the faulted run): the one strace marks
# INJECTED (an error), else the last one (a signal, which ends or stops the
# writer there), as one line: a call another thread's report cut off ends
# in ")" all the same.  Prints nothing when there is none.
fx_struck() {
	FX_SC=$2 awk '
		{ call = $0; sub(/^[0-9]+ +/, "", call); sub(/ <unfinished \.\.\.>$/, ")", call) }
		index(call, ENVIRON["FX_SC"] "(") != 1 { next }
		/\(INJECTED\)$/ { injected = call; exit }
		{ last = call }
		END { print injected != "" ? injected : last }' "$1"
}

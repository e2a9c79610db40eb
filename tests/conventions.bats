#!/usr/bin/env bats
# The command-line conventions that every program keeps (stocketl(7)): one
# test per convention, each looping over every program in cmd/, so that a
# new program is held to them as soon as it exists.  What a test needs to
# know about a program (its options, its operands) it reads from the
# program's --help.

# shellcheck disable=SC2154 # $stderr and $stderr_lines are set by BATS's run --separate-stderr
# shellcheck disable=SC2016 # bash -c scripts take their arguments as $1, $2
load helpers/common

# The exit statuses of DESIGN.md's table, and nothing else.
STATUSES=' 0 1 2 64 65 69 70 74 75 78 '

programs() {
	ls "$STOCKETL_ROOT/cmd"
}

# usage_of P: the first form of P's usage (the text of --help up to the
# empty line, without "usage: P" and without a second form such as
# "P --help | --version"), on one line.
usage_of() {
	"$1" --help | awk 'NF == 0 { exit } { print }' | sed '1s/^usage: //' |
		awk -v p="$1" 'NR > 1 && $1 == p { exit } { print }' | tr -s ' \n' ' ' |
		sed "s/^$1 //; s/ \$//"
}

# usage_of_line P: the first line of P's usage, as --help prints it.
usage_of_line() {
	"$1" --help | head -n 1
}

# synopsis_options P: the options P's synopsis names (--limit, -o, and each
# letter of a cluster such as -qv), one per line.
synopsis_options() {
	local u
	u=$(usage_of "$1")
	grep -oE -- '--[a-z][a-z-]*' <<<"$u"
	grep -oE -- '(^|[[ |])-[a-zA-Z]+\b' <<<"$u" | tr -d '[ |-' | grep -o . | sed 's/^/-/'
}

# option_lines P: the option lines of P's --help.
option_lines() {
	"$1" --help | awk 'f && NF == 0 { exit } f { print } NF == 0 { f = 1 }'
}

# operands P: P's operands as its synopsis writes them, one per line
# ("TABLE", "FILE ...", "[FILE ...]"), then its required options with a
# value ("--schema FILE").
operands() {
	local u prev
	u=$(usage_of "$1")
	# Drop the optional options, innermost first ([--follow [--every DURATION]]).
	while prev=$u && u=$(sed -E 's/\[-[^][]*\]//g' <<<"$u") && [ "$u" != "$prev" ]; do :; done
	sed -E 's/(^| )--?[a-z][a-z-]* [A-Z][A-Za-z=.]*//g' <<<"$u" | grep -oE '\[?[A-Z][A-Z_]*( \.\.\.)?\]?'
	grep -oE '(^| )--?[a-z][a-z-]* [A-Z][A-Za-z=.]*' <<<"$u" | sed 's/^ //'
}

# arguments P MISSING...: arguments that make a whole command line for P:
# a table for TABLE (./t, made by make_table), a symbol for SYMBOL, and the
# MISSING names for its input files (FILE operands and required FILE
# options).  Sets $inputs to the number of MISSING names used.
arguments() {
	local p=$1 op
	shift
	args=()
	inputs=0
	while read -r op; do
		case $op in
		TABLE) args+=(./t) ;;
		'FILE ...' | '[FILE ...]')
			args+=("$@")
			inputs=$#
			;;
		FILE)
			args+=("$1")
			inputs=1
			;;
		'[SYMBOL ...]' | 'SYMBOL ...') args+=(IBM) ;;
		'--'*' FILE')
			args+=("${op% FILE}" "$1")
			inputs=1
			;;
		*) fail "conventions.bats does not know how to give $p its operand \"$op\"" ;;
		esac
	done < <(operands "$p")
}

# make_table: ./t, a tick table with a few rows.
make_table() {
	delta-create ./t --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	gen-ticks 8 | delta-append ./t
}

# on_tty CMD [ARG...]: run CMD with stdin and stdout on a pseudo-terminal
# (script(1), from util-linux) and its stderr on this one; print what CMD
# wrote to the terminal and return CMD's status.
on_tty() {
	local cmd
	printf -v cmd '%q ' "$@"
	script -qec "$cmd 2>&3" /dev/null 3>&2 </dev/null | tr -d '\r'
	return "${PIPESTATUS[0]}"
}

setup() {
	common_setup
	# tick-validate's default checks file is conf/checks/ticks.checks.
	mkdir conf
	ln -s "$STOCKETL_ROOT/conf/checks" conf/checks
}

@test "-h and --help print the usage, one line per option and the man page on stdout, exit 0" {
	for p in $(programs); do
		for flag in -h --help; do
			run --separate-stderr "$p" "$flag"
			assert_success
			assert_equal "$stderr" ''
			assert_line --index 0 --regexp "^usage: $p "
			assert_equal "${lines[-1]}" "See $p(1)."
		done
		assert_help_matches_man "$p"
		# Every option of the synopsis has its line, and every line is in the man page.
		for opt in $(synopsis_options "$p"); do
			option_lines "$p" | grep -qE -- "^ +(-[a-zA-Z], )?$opt( |,|\$)" ||
				fail "$p --help has no line for $opt"
		done
		for opt in $(option_lines "$p" | grep -oE -- '^ +(-[a-zA-Z], )?--?[a-z][a-z-]*' | grep -oE -- '--?[a-z][a-z-]*$'); do
			grep -qE -- "Fl $(sed 's/^--/Fl /; s/^-//' <<<"$opt")\b" "$STOCKETL_ROOT/cmd/$p/$p.1" ||
				fail "$p(1) does not describe $opt"
		done
		for common in '-q, --quiet' '-v, --verbose' '-h, --help' '    --version'; do
			option_lines "$p" | grep -qF -- "  $common " || fail "$p --help lacks $common"
		done
		assert_equal "$(option_lines "$p" | awk 'length > 80')" ''
	done
}

@test "--version prints \"PROGRAM (stocketl) VERSION\" on stdout, exit 0" {
	for p in $(programs); do
		run --separate-stderr "$p" --version
		assert_success
		assert_output --regexp "^$p \(stocketl\) [0-9]+\.[0-9]+\.[0-9]+\$"
		assert_equal "$stderr" ''
	done
}

@test "--help and --version on a full disk: exit 74 with a message" {
	for p in $(programs); do
		for flag in --help --version; do
			run --separate-stderr bash -c '"$1" "$2" >/dev/full' - "$p" "$flag"
			assert_failure 74
			assert_equal "$stderr" "$p: stdout: No space left on device"
		done
	done
}

@test "unknown options, abbreviations, missing values and values given to a flag: one wording, the usage, exit 64" {
	for p in $(programs); do
		local value_option
		value_option=$(option_lines "$p" | grep -oE -- '^ +(-[a-zA-Z], )?--[a-z][a-z-]* [^ ]' |
			grep -oE -- '--[a-z][a-z-]*' | head -n 1)
		[ -n "$value_option" ] || fail "$p has no option with a value to test"
		for case in "--no-such-option|unknown option '--no-such-option'" \
			"-%|unknown option '-%'" \
			"--hel|unknown option '--hel'" \
			"--help=yes|option '--help' takes no value" \
			"$value_option|option '$value_option' needs a value"; do
			run --separate-stderr "$p" "${case%%|*}"
			assert_failure 64
			assert_equal "$output" ''
			assert_equal "${stderr_lines[0]}" "$p: ${case#*|}"
			assert_equal "${stderr_lines[1]}" "$(usage_of_line "$p")"
		done
	done
}

@test "messages begin with the program's name, never the path it was run by" {
	for p in $(programs); do
		run --separate-stderr "$STOCKETL_BIN/$p" --no-such-option
		assert_failure 64
		assert_equal "${stderr_lines[0]}" "$p: unknown option '--no-such-option'"
		run --separate-stderr "$STOCKETL_BIN/$p" -x
		assert_failure 64
		assert_equal "${stderr_lines[0]}" "$p: unknown option '-x'"
		[[ $stderr != *"$STOCKETL_BIN"* ]] || fail "$p names its path: $stderr"
	done
}

@test "a missing input file: 'PROGRAM: FILE: No such file or directory', the next file is read, exit 74" {
	make_table
	local tried=0
	for p in $(programs); do
		arguments "$p" missing-1 missing-2
		[ "$inputs" -gt 0 ] || continue
		tried=$((tried + 1))
		run --separate-stderr "$p" -q "${args[@]}"
		assert_failure 74
		assert_equal "${stderr_lines[0]}" "$p: missing-1: No such file or directory"
		if [ "$inputs" -eq 2 ]; then
			assert_equal "${stderr_lines[1]}" "$p: missing-2: No such file or directory"
			assert_equal "${#stderr_lines[@]}" 2
		else
			assert_equal "${#stderr_lines[@]}" 1
		fi
	done
	[ "$tried" -ge 5 ]
}

@test "a missing input file among good ones: the good ones are read and the run ends with 74" {
	gen-ticks 3 >ticks.ndjson
	run --separate-stderr tick-validate -q --now 2025-06-02T14:00:00Z missing.ndjson ticks.ndjson
	assert_failure 74
	assert_equal "$stderr" 'tick-validate: missing.ndjson: No such file or directory'
	assert_equal "${#lines[@]}" 4
	cp "$FIXTURES/envelopes/ibm_5min_json.ndjson" env.ndjson
	run --separate-stderr tick-normalize -q missing.ndjson env.ndjson
	assert_failure 74
	assert_equal "$stderr" 'tick-normalize: missing.ndjson: No such file or directory'
	assert_equal "$(grep -c '"symbol":"IBM"' <<<"$output")" 100
	make_table
	run --separate-stderr parquet-cat -q missing.parquet ./t/trade_date=*/*.parquet
	assert_failure 74
	assert_equal "$stderr" 'parquet-cat: missing.parquet: No such file or directory'
	assert_equal "${#lines[@]}" 9
	# the rows read are not all the input's: a failed marker ends them
	assert_equal "${lines[8]}" '{"@batch":{"app":"parquet-cat","id":0,"records":8,"rejected":0,"status":"failed"}}'
}

@test "-q and -v (and --quiet, --verbose) are accepted by every program" {
	for p in $(programs); do
		for flag in -q -v -vv --quiet --verbose; do
			run --separate-stderr "$p" "$flag" --version
			assert_success
			assert_output --regexp "^$p \(stocketl\) "
		done
	done
}

@test "-q silences everything but errors" {
	gen-ticks 4 | jq -c 'if .symbol == "TSLA" then .high = "1" else . end' >ticks.ndjson
	run --separate-stderr tick-validate --now 2025-06-02T14:00:00Z ticks.ndjson
	assert_failure 1
	[ -n "$stderr" ]
	run --separate-stderr tick-validate -q --now 2025-06-02T14:00:00Z ticks.ndjson
	assert_failure 1
	assert_equal "$stderr" ''
	cp "$FIXTURES/envelopes/api_messages.ndjson" env.ndjson
	run --separate-stderr tick-normalize env.ndjson
	assert_failure 1
	[ -n "$stderr" ]
	run --separate-stderr tick-normalize -q env.ndjson
	assert_failure 1
	assert_equal "$stderr" ''
	delta-create ./t --schema "$STOCKETL_ROOT/conf/tables/bronze.schema"
	run --separate-stderr delta-create ./t --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --property a=b
	assert_success
	[ -n "$stderr" ]
	run --separate-stderr delta-create -q ./t --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --property a=b
	assert_success
	assert_equal "$stderr" ''
	# Errors still show.
	run --separate-stderr delta-create -q ./t --schema missing.schema
	assert_failure 74
	assert_equal "$stderr" 'delta-create: missing.schema: No such file or directory'
}

@test "binary output is refused on a terminal before anything is written: a message, exit 64" {
	# The terminal works: text output reaches it.
	run --separate-stderr on_tty tick-normalize --version
	assert_success
	assert_output --regexp '^tick-normalize \(stocketl\) '
	local tried=0
	for p in $(programs); do
		option_lines "$p" | grep -qE -- '^ +--binary( |$)' || continue
		tried=$((tried + 1))
		arguments "$p" missing-1
		run --separate-stderr on_tty "$p" --binary "${args[@]}"
		assert_failure 64
		assert_equal "$output" ''
		assert_equal "${stderr_lines[0]}" "$p: --binary: will not write binary records to a terminal (redirect stdout to a file or a pipe)"
		assert_equal "${stderr_lines[1]}" "$(usage_of_line "$p")"
	done
	[ "$tried" -ge 4 ]
}

@test "a reader that goes away ends the output quietly with status 0" {
	delta-create ./t --schema "$STOCKETL_ROOT/conf/tables/bronze.schema"
	gen-ticks 6000 >ticks.ndjson
	delta-append ./t ticks.ndjson
	# Many commits, for delta-history: the log of a table with 1500 versions.
	mkdir -p h/_delta_log
	cp t/_delta_log/00000000000000000000.json h/_delta_log/
	for v in $(seq 1 1500); do
		printf '{"commitInfo":{"timestamp":%d,"operation":"WRITE","operationParameters":{"mode":"Append"},"operationMetrics":{"numFiles":"1"}}}\n' \
			"$((1750000000000 + v))" >"h/_delta_log/$(printf '%020d' "$v").json"
	done
	for _ in $(seq 40); do cat "$FIXTURES/envelopes/ibm_5min_json.ndjson"; done >env.ndjson
	# Each writes far more than a pipe holds (64 KiB), so the write fails for real.
	for cmd in 'delta-cat ./t' 'parquet-cat ./t/*.parquet' 'delta-history ./h' \
		'tick-normalize env.ndjson' "tick-validate --now 2025-06-02T14:00:00Z ticks.ndjson"; do
		run bash -c 'set -o pipefail; '"$cmd"' 2>err | head -n 1 >/dev/null'
		assert_success
		run cat err
		assert_output ''
		run bash -c "$cmd 2>/dev/null | wc -c"
		[ "$output" -gt 262144 ] || fail "$cmd writes only $output bytes"
	done
}

@test "the man pages and the sources use only the statuses of the one table" {
	for p in $(programs); do
		page=$STOCKETL_ROOT/cmd/$p/$p.1
		section=$(awk '/^\.Sh EXIT STATUS/ { f = 1; next } /^\.Sh / { f = 0 } f && !/^\.Xr/' "$page")
		[ -n "$section" ] || fail "$p(1) has no EXIT STATUS section"
		grep -oE '(^|[^0-9.])[0-9]{1,3}\b' <<<"$section" | grep -oE '[0-9]+' >numbers
		while read -r n; do
			[[ $STATUSES == *" $n "* ]] || fail "$p(1) lists exit status $n, which is not in the table"
		done <numbers
	done
	run grep -rnE 'EX_(NOINPUT|NOUSER|NOHOST|OSERR|OSFILE|CANTCREAT|PROTOCOL|NOPERM)' \
		"$STOCKETL_ROOT/cmd" "$STOCKETL_ROOT/common"
	assert_output ''
}

@test "README and stocketl(7) carry the same exit-status table, and nothing outside it" {
	readme=$(awk '/^## Exit status/ { f = 1; next } /^## / { f = 0 } f' "$STOCKETL_ROOT/README.md" |
		grep -oE '^\| [0-9]+ ' | tr -d '| ' | tr '\n' ' ')
	page=$(awk '/^\.Sh EXIT STATUS/ { f = 1; next } /^\.Sh / { f = 0 } f' "$STOCKETL_ROOT/common/man/stocketl.7" |
		grep -oE '^\.It [0-9]+$' | cut -d' ' -f2 | tr '\n' ' ')
	assert_equal " $readme" "$STATUSES"
	assert_equal " $page" "$STATUSES"
}

#!/usr/bin/env bats
# make install: what lands where (programs, man pages, and the pipelines,
# conf/ and demo/ under $(PREFIX)/share/stocketl), the installed demo run
# from another directory, the programs finding the installed checks, and
# the order in which the configuration file is looked for.  The suite
# installs twice in setup_file, from a copy of the build directory so that
# only the configuration module is compiled again for each PREFIX: into a
# DESTDIR staging tree (PREFIX=/opt/stocketl) and straight into a PREFIX.
# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr

load helpers/common
load ../demo/av-server

# install_into NAME MAKE-ARGS...: make install with its own build and
# program directories (NAME.o, NAME.bin), the output kept in NAME.log.
install_into() {
	local name=$1 san=() obj=build/rel
	shift
	if [[ $STOCKETL_BIN == */build/san/bin ]]; then
		san=(SANITIZE=1)
		obj=build/san
	fi
	mkdir -p "$F/$name.o"
	[ -d "$STOCKETL_ROOT/$obj" ] && cp -a "$STOCKETL_ROOT/$obj/." "$F/$name.o/"
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$STOCKETL_ROOT" install "${san[@]}" O="$F/$name.o" OUTBIN="$F/$name.bin" "$@" \
		>"$F/$name.log" 2>&1 3>&-
}

setup_file() {
	export F=$BATS_FILE_TMPDIR
	install_into staged PREFIX=/opt/stocketl DESTDIR="$F/root"
	install_into direct PREFIX="$F/prefix"
}

setup() {
	common_setup
	export F
	STAGED=$F/root/opt/stocketl
	SHARE=$STAGED/share/stocketl
	# the installed programs only: not the tree's, not the test helpers
	INSTALLED_PATH=$STAGED/bin:/usr/local/bin:/usr/bin:/bin
	unset STOCKETL_BIN
	mkdir elsewhere
}

teardown() {
	av_server_stop
}

@test "make install puts the programs, man pages, pipelines, conf and demo under DESTDIR and PREFIX" {
	local d p
	for d in "$STOCKETL_ROOT"/cmd/*; do
		p=${d##*/}
		[ -x "$STAGED/bin/$p" ] || fail "$p not installed"
		[ -f "$STAGED/share/man/man1/$p.1" ] || fail "$p.1 not installed"
	done
	[ -f "$STAGED/share/man/man5/stocketl-records.5" ]
	[ -f "$STAGED/share/man/man7/stocketl.7" ]
	for p in pipelines/stock-etl.sh pipelines/bronze.sh pipelines/silver.sh pipelines/backfill.sh \
		pipelines/lib/runner.sh demo/run.sh; do
		[ -x "$SHARE/$p" ]
	done
	for p in conf/stocketl.ini.example conf/tables/bronze.schema conf/tables/silver.schema \
		conf/checks/ticks.checks conf/crontab demo/av-server.js demo/rules.json \
		demo/recordings/intraday_AAPL_5min_month_2024-03.json; do
		[ -f "$SHARE/$p" ]
		cmp "$SHARE/$p" "$STOCKETL_ROOT/$p"
	done
	# never the checkout's own configuration, which holds its key
	[ ! -e "$SHARE/conf/stocketl.ini" ]
}

@test "the installed demo runs from another directory and keeps its files in its own" {
	cd elsewhere
	run --separate-stderr env PATH="$INSTALLED_PATH" STOCKETL_SHARE="$SHARE" \
		bash "$SHARE/demo/run.sh"
	assert_success
	local d=$HOME/.local/state/stocketl/demo
	assert_line "silver: 2447 rows added and 0 changed by this run (2447 rows)"
	assert_line "  AAPL            192        191        192         97     672"
	assert_line "  $d/state/rejects/validate.ndjson: 1 record (1 by this run)"
	assert_line "chart: $d/chart.svg"
	cmp "$d/chart.svg" "$STOCKETL_ROOT/docs/demo-chart.svg"
	# the installed checks judged the batches
	run jq -r .checks_file "$d"/state/reports/*.json
	assert_output "$SHARE/conf/checks/ticks.checks"$'\n'"$SHARE/conf/checks/ticks.checks"
	# nothing in the working directory
	run ls -A
	assert_output ""
}

@test "tick-validate and delta-create find the installed checks and schemas under the PREFIX they were built for; STOCKETL_SHARE overrides it" {
	printf '%s\n' '{"symbol":"IBM","interval":"5min","trade_timestamp":"2024-03-08T15:00:00Z","trade_date":"2024-03-08","open":195.1,"high":195.5,"low":194.9,"close":195.2,"volume":100,"batch_id":1,"ingested_at":"2024-03-08T15:05:00Z","source":"alphavantage"}' >t.ndjson
	run --separate-stderr "$F/direct.bin/tick-validate" --report r1.json <t.ndjson
	assert_success
	run jq -r .checks_file r1.json
	assert_output "$F/prefix/share/stocketl/conf/checks/ticks.checks"
	run --separate-stderr env STOCKETL_SHARE="$SHARE" "$F/direct.bin/tick-validate" --report r2.json <t.ndjson
	assert_success
	run jq -r .checks_file r2.json
	assert_output "$SHARE/conf/checks/ticks.checks"
	# a checkout's own conf/ comes first
	mkdir -p conf/checks
	printf 'checks for ticks:\n  - row_count > 5\n' >conf/checks/ticks.checks
	run --separate-stderr "$F/direct.bin/tick-validate" --report r3.json <t.ndjson
	assert_failure 2
	run jq -r .checks_file r3.json
	assert_output conf/checks/ticks.checks
	# so does delta-create for the shipped tables' schemas
	run --separate-stderr "$F/direct.bin/delta-create" "$PWD/t/silver"
	assert_success
	cmp <(jq -c 'select(.metaData) | .metaData.schemaString' t/silver/_delta_log/00000000000000000000.json) \
		<("$F/direct.bin/delta-create" "$PWD/u/silver" --schema "$STOCKETL_ROOT/conf/tables/silver.schema" &&
			jq -c 'select(.metaData) | .metaData.schemaString' u/silver/_delta_log/00000000000000000000.json)
	# without either, the message names the file it looked for
	rm -r conf
	run --separate-stderr env STOCKETL_SHARE="$PWD/nowhere" "$F/direct.bin/tick-validate" <t.ndjson
	assert_failure 78
	assert_equal "$stderr" "tick-validate: no checks file: neither ./conf/checks/ticks.checks nor $PWD/nowhere/conf/checks/ticks.checks exists (give --checks FILE)"
}

@test "an installed job run from another directory keeps its lake and state where ~/.config/stocketl/stocketl.ini says" {
	av_server_start "$BATS_TEST_TMPDIR/srv"
	mkdir -p "$HOME/.config/stocketl"
	cat >"$HOME/.config/stocketl/stocketl.ini" <<-EOF
		[API]
		base_url = $AV_SERVER_URL
		[av-fetch]
		calls_per_minute = 0
		calls_per_second = 0
		throttle_wait = 10ms
		[storage]
		lake = $BATS_TEST_TMPDIR/data/lake
		[job]
		state = $BATS_TEST_TMPDIR/data/state
		loader =
	EOF
	cd elsewhere
	run --separate-stderr env PATH="$INSTALLED_PATH" STOCKETL_SHARE="$SHARE" \
		ALPHAVANTAGE_API_KEY=demo-offline STOCKETL_NOW=2024-03-13T16:02:00Z \
		"$SHARE/pipelines/stock-etl.sh" -q IBM
	assert_success
	[[ $stderr =~ stock-etl:\ run\ [^\ ]+:\ status\ 0\;\ .*\ log\ $BATS_TEST_TMPDIR/data/state/logs/stock-etl/ ]]
	run delta-cat -q --csv --columns symbol "$BATS_TEST_TMPDIR/data/lake/silver"
	[ "${#lines[@]}" = 101 ]
	[ -d "$BATS_TEST_TMPDIR/data/lake/bronze/_delta_log" ]
	[ -d "$BATS_TEST_TMPDIR/data/lake/silver/_delta_log" ]
	[ -s "$BATS_TEST_TMPDIR/data/state/watermarks/bronze.ndjson" ]
	run ls -A
	assert_output ""
}

# no_key_config: where av-fetch says it looked for the key, which is the
# configuration file it read.
no_key_config() {
	run --separate-stderr av-fetch "$@" IBM
	assert_failure 78
	[[ $stderr =~ \[API\]\ api_key\ in\ ([^ ]+) ]]
	printf '%s\n' "${BASH_REMATCH[1]}"
}

@test "the configuration is --config, else STOCKETL_CONFIG, else ./conf, else ~/.config/stocketl, else none" {
	local f
	mkdir -p conf "$HOME/.config/stocketl"
	for f in flag.ini env.ini conf/stocketl.ini "$HOME/.config/stocketl/stocketl.ini"; do
		printf '[av-fetch]\nsymbols = IBM\n' >"$f"
	done
	run no_key_config --config flag.ini
	assert_output flag.ini
	export STOCKETL_CONFIG=env.ini
	run no_key_config --config flag.ini
	assert_output flag.ini
	run no_key_config
	assert_output env.ini
	unset STOCKETL_CONFIG
	run no_key_config
	assert_output conf/stocketl.ini
	rm conf/stocketl.ini
	run no_key_config
	assert_output "$HOME/.config/stocketl/stocketl.ini"
	rm "$HOME/.config/stocketl/stocketl.ini"
	run --separate-stderr av-fetch IBM
	assert_failure 78
	assert_equal "$stderr" "av-fetch: no API key: looked at --api-key-file, \$ALPHAVANTAGE_API_KEY, [av-fetch] api_key_file and [API] api_key in the configuration (none found: --config, \$STOCKETL_CONFIG, ./conf/stocketl.ini, ~/.config/stocketl/stocketl.ini, /etc/stocketl/stocketl.ini)"
}

# in_etc COMMAND...: COMMAND in a mount namespace of its own whose /etc is
# the machine's with ./etc-upper laid over it (overlayfs): a stocketl/ of
# the test's, seen by nothing else.
in_etc() {
	mkdir -p etc-upper etc-work
	# shellcheck disable=SC2016 # the script's arguments, expanded by its shell
	unshare --mount --propagation private bash -c \
		'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc || exit 99
		shift 2
		exec "$@"' in-etc "$PWD/etc-upper" "$PWD/etc-work" "$@"
}

@test "/etc/stocketl/stocketl.ini comes last, for the programs and the job runner" {
	in_etc true 2>/dev/null || skip "needs a mount namespace and overlayfs (unshare, as root)"
	mkdir -p etc-upper/stocketl "$HOME/.config/stocketl"
	printf '[av-fetch]\nsymbols = IBM\n[job]\nstate = %s/etc-state\n' "$PWD" \
		>etc-upper/stocketl/stocketl.ini
	run --separate-stderr in_etc av-fetch IBM
	assert_failure 78
	[[ $stderr == *"[API] api_key in /etc/stocketl/stocketl.ini" ]]
	# ~/.config's file comes before it
	printf '[av-fetch]\nsymbols = IBM\n' >"$HOME/.config/stocketl/stocketl.ini"
	run --separate-stderr in_etc av-fetch IBM
	assert_failure 78
	[[ $stderr == *"[API] api_key in $HOME/.config/stocketl/stocketl.ini" ]]
	rm "$HOME/.config/stocketl/stocketl.ini"
	# the runner reads it too: the state goes where it says
	run --separate-stderr in_etc "$STOCKETL_ROOT/pipelines/bronze.sh" -q
	assert_failure 78
	[ -d etc-state/logs/bronze ]
	[ ! -e var ]
}

@test "make uninstall removes what make install put there" {
	cp -a "$F/root" staged
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$STOCKETL_ROOT" uninstall PREFIX=/opt/stocketl DESTDIR="$PWD/staged" 3>&-
	run find staged -type f
	assert_output ""
}

@test "make install and uninstall take a PREFIX with a space, and uninstall touches nothing beside it" {
	install_into spaced PREFIX="$BATS_TEST_TMPDIR/my apps"
	[ -x "$BATS_TEST_TMPDIR/my apps/bin/tick-chart" ]
	[ -f "$BATS_TEST_TMPDIR/my apps/share/man/man1/etl-history.1" ]
	[ -x "$BATS_TEST_TMPDIR/my apps/share/stocketl/pipelines/stock-etl.sh" ]
	# the prefix's first word, a directory of its own
	mkdir "$BATS_TEST_TMPDIR/my"
	echo keep >"$BATS_TEST_TMPDIR/my/file"
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$STOCKETL_ROOT" uninstall PREFIX="$BATS_TEST_TMPDIR/my apps" 3>&-
	run find "$BATS_TEST_TMPDIR/my apps" -type f
	assert_output ""
	run cat "$BATS_TEST_TMPDIR/my/file"
	assert_output keep
}

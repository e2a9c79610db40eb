#!/usr/bin/env bats
# The build: every program has a version, a man page whose SYNOPSIS is its
# usage, and installs under PREFIX and DESTDIR.

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
load helpers/common

programs() {
	ls "$STOCKETL_ROOT/cmd"
}

@test "every program prints its version and has a man page matching its usage" {
	for p in $(programs); do
		run --separate-stderr "$p" --version
		assert_success
		assert_output --regexp "^$p \(stocketl\) [0-9]+\.[0-9]+\.[0-9]+\$"
		[ -f "$STOCKETL_ROOT/cmd/$p/$p.1" ] || fail "$p has no man page"
		assert_help_matches_man "$p"
	done
}

@test "every program rejects an unknown option with status 64 and its usage" {
	for p in $(programs); do
		run --separate-stderr "$p" --no-such-option
		assert_failure 64
		assert_regex "$stderr" "usage: $p "
	done
}

@test "make install honours PREFIX and DESTDIR; make uninstall removes what it installed" {
	[ -n "${STOCKETL_INSTALL_TEST:-1}" ]
	run make -C "$STOCKETL_ROOT" -s install DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/opt/se
	assert_success
	for p in $(programs); do
		[ -x "root/opt/se/bin/$p" ] || fail "$p not installed"
		[ -f "root/opt/se/share/man/man1/$p.1" ] || fail "$p.1 not installed"
	done
	[ -f root/opt/se/share/man/man5/stocketl-records.5 ]
	[ -f root/opt/se/share/man/man7/stocketl.7 ]
	run make -C "$STOCKETL_ROOT" -s uninstall DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/opt/se
	assert_success
	run find root -type f
	assert_output ""
}

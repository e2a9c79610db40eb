#!/usr/bin/env bats
# The build: every program has a version, a man page whose SYNOPSIS is its
# usage; make lint enforces the library's layering.  (The command-line
# conventions are in conventions.bats; make install, which builds its own
# copy of the programs, never the tree's, is in install.bats.)

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

@test "the stages that talk to no server load neither libcurl nor libpq" {
	# A stage of a pipeline starts in a millisecond when it loads only the
	# libraries its work needs; the linker drops the others (--as-needed)
	# as long as the library's object files keep them apart.
	for p in tick-normalize tick-validate parquet-cat tick-chart; do
		run ldd "$(command -v "$p")"
		assert_success
		refute_output --partial libcurl
		refute_output --partial libpq
	done
	run ldd "$(command -v av-fetch)"
	assert_output --partial libcurl
}

@test "no program links libpq: those that open a table or keep the job's history load it only to talk to PostgreSQL" {
	# libpq and the libraries it brings (TLS, Kerberos, LDAP) took about
	# 4 ms of every start; a table on a local disk never needs them.
	for p in delta-append delta-cat delta-compact delta-create delta-history etl-history stocketl-db; do
		run ldd "$(command -v "$p")"
		assert_success
		refute_output --partial libpq
	done
}

# lint_tree: a copy of what make lint's layering rules read, in ./tree.
lint_tree() {
	mkdir -p tree/tests
	cp -r "$STOCKETL_ROOT/Makefile" "$STOCKETL_ROOT/common" "$STOCKETL_ROOT/cmd" tree/
	cp "$STOCKETL_ROOT/tests/lint-layers.sh" tree/tests/
}

# lint_make ARG...: make in the copy, as if run by hand (not nested in the
# make that runs the tests, whose flags would change its output).
lint_make() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C tree -s --no-print-directory "$@"
}

# add_include FILE LINE: append an #include line to FILE of the copy; prints
# where it went ("FILE:N").
add_include() {
	printf '%s\n' "$2" >>"tree/$1"
	echo "$1:$(wc -l <"tree/$1")"
}

@test "the tree keeps the layering rules; make lint V=1 also prints the folder graph" {
	lint_tree
	run bash tree/tests/lint-layers.sh -v tree
	assert_success
	assert_line --index 0 'folder graph of common/ (a folder: the folders it includes):'
	assert_line --regexp '^  base +: \(none\)$'
	assert_line --regexp '^  delta +: .*parquet'
	run lint_make -n lint V=1
	assert_line --index 0 'bash tests/lint-layers.sh -v'
}

@test "make lint fails when a dependency's header is included outside its owning module" {
	lint_tree
	a=$(add_include cmd/av-fetch/fetch.c '#include <curl/curl.h>')
	b=$(add_include common/parquet/pq_enc.c '#include <cjson/cJSON.h>')
	c=$(add_include common/delta/delta_log.c '#include <zstd.h>')
	d=$(add_include common/text/ts.c '#include "zlib.h"')
	e=$(add_include common/record/stream.c '#include <libpq-fe.h>')
	run lint_make lint
	assert_failure
	assert_line "$a: includes curl/curl.h, which only common/net/http.c may include (one module owns each dependency)"
	assert_line "$b: includes cjson/cJSON.h, which only common/text/json.c may include (one module owns each dependency)"
	assert_line "$c: includes zstd.h, which only common/parquet/pq_codec.c may include (one module owns each dependency)"
	assert_line "$d: includes zlib.h, which only common/parquet/pq_codec.c may include (one module owns each dependency)"
	assert_line "$e: includes libpq-fe.h, which only common/pg/ may include (one module owns each dependency)"
	# Their owners may.
	lint_tree
	mkdir -p tree/common/pg
	printf '#include <libpq-fe.h>\n' >tree/common/pg/owner_check.c
	run bash tree/tests/lint-layers.sh tree
	assert_success
}

@test "make lint fails when a program includes a library-internal header" {
	lint_tree
	a=$(add_include cmd/parquet-cat/main.c '#include "parquet/pq_internal.h"')
	run lint_make lint
	assert_failure
	assert_line "$a: a program includes the library-internal header parquet/pq_internal.h"
}

@test "make lint fails when an include does not name its folder" {
	lint_tree
	a=$(add_include common/text/ts.c '#include "err.h"')
	b=$(add_include cmd/delta-history/main.c '#include "stream.h"')
	c=$(add_include cmd/delta-history/main.c '#include "nowhere/x.h"')
	# A program's own header, beside its sources, goes by its bare name.
	grep -q '#include "deltacat.h"' tree/cmd/delta-cat/main.c
	run lint_make lint
	assert_failure
	assert_line "$a: #include \"err.h\" does not name its folder (write \"base/err.h\")"
	assert_line "$b: #include \"stream.h\" does not name its folder (write \"record/stream.h\")"
	assert_line "$c: #include \"nowhere/x.h\" does not name a folder of common/"
	refute_output --partial deltacat.h
}

@test "make lint fails when the folders of common/ include each other in a cycle" {
	lint_tree
	a=$(add_include common/parquet/pq_buf.c '#include "delta/delta.h"')
	run lint_make lint
	assert_failure
	assert_line "$a: the folders of common/ include each other in a cycle: delta -> parquet -> delta"
	run bash tree/tests/lint-layers.sh -v tree
	assert_line --regexp '^  parquet +: .*delta'
}

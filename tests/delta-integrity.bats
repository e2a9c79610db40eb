#!/usr/bin/env bats
# The integrity of a table's log for readers and writers alike: every
# action checked, versions contiguous whatever _last_checkpoint says,
# unusable checkpoints left aside when the state can be rebuilt without
# them, _last_checkpoint never moving backwards, and no temporary file left
# by a failed checkpoint.

# shellcheck disable=SC2154 # $stderr and $stderr_lines are set by BATS's run --separate-stderr
load helpers/common

setup() {
	common_setup
	export STOCKETL_LAKE=$BATS_TEST_TMPDIR/lake
	SCHEMA=$STOCKETL_ROOT/conf/tables/bronze.schema
	T=$STOCKETL_LAKE/bronze
	L=$T/_delta_log
}

teardown() {
	if mountpoint -q "$BATS_TEST_TMPDIR/small" 2>/dev/null; then
		umount "$BATS_TEST_TMPDIR/small"
	fi
}

log() { printf '%s/%020d.json' "$L" "$1"; }
ckpt() { printf '%s/%020d.checkpoint.parquet' "$L" "$1"; }

# table N: bronze with N batches of 10 rows (versions 1..N), a checkpoint every 10.
table() {
	delta-create bronze --schema "$SCHEMA" --partition-by trade_date
	gen-ticks -a feed -b "$1" -i 1 10 | delta-append -q bronze
}

data_files() {
	find "$T" -path '*/trade_date=*' -name '*.parquet' | wc -l
}

@test "a writer checks every line of the log it replays and refuses a damaged one, as readers do" {
	table 2
	# the add of version 2, cut short
	head -c -40 "$(log 2)" >cut.json && mv cut.json "$(log 2)"
	files=$(data_files)
	run --separate-stderr bash -c 'gen-ticks -a feed -b 20 -i 100 5 | delta-append bronze'
	assert_failure 65
	assert_equal "${stderr_lines[0]}" "delta-append: $T: version 2, line 3: not a JSON action (invalid JSON: unterminated string at byte 222)"
	[ ! -e "$(log 3)" ]
	assert_equal "$(data_files)" "$files"
	run --separate-stderr delta-cat bronze
	assert_failure 65
	assert_equal "$stderr" "delta-cat: $T: version 2, line 3: not a JSON action (invalid JSON: unterminated string at byte 222)"
}

@test "an empty commit is exit 65 naming its version, for readers and writers" {
	table 3
	for empty in '' '\n\n'; do
		printf %b "$empty" >"$(log 2)"
		run --separate-stderr delta-cat bronze
		assert_failure 65
		assert_equal "$stderr" "delta-cat: $T: version 2 is empty (a commit holds at least one action)"
		assert_output ""
		run --separate-stderr delta-history bronze
		assert_failure 65
		assert_equal "$stderr" "delta-history: $T: version 2 is empty (a commit holds at least one action)"
		files=$(data_files)
		run --separate-stderr bash -c 'gen-ticks -a feed -b 2 -i 4 10 | delta-append bronze'
		assert_failure 65
		assert_equal "${stderr_lines[0]}" "delta-append: $T: version 2 is empty (a commit holds at least one action)"
		[ ! -e "$(log 4)" ]
		assert_equal "$(data_files)" "$files"
	done
	# the versions before it still read
	run --separate-stderr delta-cat --at-version 1 --columns batch_id bronze
	assert_success
	assert_equal "${#lines[@]}" 10
}

@test "a control character in a commit's JSON is exit 65 naming the version and line, for readers and writers" {
	table 3
	# partitionValues of version 2's add, with a byte made U+0001: an unknown key if it were read
	off=$(grep -b -o '"partitionValues"' "$(log 2)" | head -n 1 | cut -d: -f1)
	line=$(grep -n '"partitionValues"' "$(log 2)" | head -n 1 | cut -d: -f1)
	printf '\001' | dd of="$(log 2)" bs=1 seek=$((off + 5)) conv=notrunc status=none
	run --separate-stderr delta-cat bronze
	assert_failure 65
	assert_regex "$stderr" "^delta-cat: $T: version 2, line $line: not a JSON action \(invalid JSON: control character in string at byte [0-9]+\)$"
	run --separate-stderr bash -c 'gen-ticks -a feed -i 4 10 | delta-append bronze'
	assert_failure 65
	assert_regex "${stderr_lines[0]}" "^delta-append: $T: version 2, line $line: not a JSON action \(invalid JSON: control character in string at byte [0-9]+\)$"
	[ ! -e "$(log 4)" ]
}

@test "a commit missing after the checkpoint is exit 65 naming it, for readers and writers" {
	table 15
	[ -f "$(ckpt 10)" ]
	assert_equal "$(jq -c .version "$L/_last_checkpoint")" 10
	rm "$(log 12)"
	run --separate-stderr delta-cat bronze
	assert_failure 65
	assert_equal "$stderr" "delta-cat: $T: version 12 is missing from the log (the newest is 15)"
	assert_output ""
	run --separate-stderr delta-history bronze
	assert_failure 65
	assert_equal "$stderr" "delta-history: $T: version 12 is missing from the log (the newest is 15)"
	files=$(data_files)
	run --separate-stderr bash -c 'gen-ticks -a other -i 1 5 | delta-append bronze'
	assert_failure 65
	assert_equal "${stderr_lines[0]}" "delta-append: $T: version 12 is missing from the log (the newest is 15)"
	# nothing committed into the gap, no data file left behind
	[ ! -e "$(log 12)" ]
	[ ! -e "$(log 16)" ]
	assert_equal "$(data_files)" "$files"
	# a writer with nothing to commit (a replay) says so too
	run --separate-stderr bash -c 'gen-ticks -a feed -i 1 10 | delta-append bronze'
	assert_failure 65
	assert_equal "${stderr_lines[0]}" "delta-append: $T: version 12 is missing from the log (the newest is 15)"
}

@test "an unreadable checkpoint is left aside for the JSON commits, with a warning" {
	table 15
	head -c 100 "$(ckpt 10)" >part.parquet && mv part.parquet "$(ckpt 10)"
	run --separate-stderr delta-cat --columns batch_id bronze
	assert_success
	assert_equal "${#lines[@]}" 150
	assert_regex "$stderr" "^delta-cat: $T: checkpoint of version 10: .*; the state was rebuilt from the JSON commits$"
	# a writer goes on too, and checkpoints again when one falls due
	run --separate-stderr bash -c 'gen-ticks -a feed -b 5 -i 16 10 | delta-append bronze'
	assert_success
	assert_regex "${stderr_lines[0]}" "^delta-append: $T: checkpoint of version 10: "
	[ -f "$(ckpt 20)" ]
	assert_equal "$(jq -c .version "$L/_last_checkpoint")" 20
	run --separate-stderr delta-cat --columns batch_id bronze
	assert_success
	assert_equal "$stderr" ""
	assert_equal "${#lines[@]}" 200
}

@test "a checkpoint whose counts disagree with _last_checkpoint, or whose rows are no actions, is left aside" {
	table 21
	# the checkpoint of 10 in the place of 20's: 10 adds where _last_checkpoint says 20
	cp "$(ckpt 10)" "$(ckpt 20)"
	run --separate-stderr delta-cat --columns batch_id bronze
	assert_success
	assert_equal "${#lines[@]}" 210
	assert_equal "$stderr" "delta-cat: $T: checkpoint of version 20: _delta_log/00000000000000000020.checkpoint.parquet: 13 actions, but _last_checkpoint says 23; the state was rebuilt from an older checkpoint and the commits after it"
	# a data file in its place: no action columns at all
	cp "$(find "$T" -path '*/trade_date=*' -name '*.parquet' | head -n 1)" "$(ckpt 20)"
	run --separate-stderr delta-cat --columns batch_id bronze
	assert_success
	assert_equal "${#lines[@]}" 210
	assert_equal "$stderr" "delta-cat: $T: checkpoint of version 20: _delta_log/00000000000000000020.checkpoint.parquet: not a Delta checkpoint (no action columns); the state was rebuilt from an older checkpoint and the commits after it"
}

@test "a damaged page in a checkpoint that log cleanup left alone is refused by writers as by readers, naming the checkpoint" {
	table 12
	rm "$L"/0000000000000000000[0-9].json
	# a byte in the middle of the pages of add.stats, which writers do not decode
	off=$(parquet-cat --meta "$(ckpt 10)" | jq '.row_groups[0].columns[] | select(.path == "add.stats") |
		(.dictionary_page_offset // .data_page_offset) + (.total_compressed_size / 2 | floor)')
	"$STOCKETL_ROOT/tests/helpers/faults/flip-byte" "$(ckpt 10)" "$off" 16 >/dev/null
	named="checkpoint of version 10: _delta_log/00000000000000000010.checkpoint.parquet: row group 0, column add.stats: page 1: checksum mismatch, the page is damaged"
	run --separate-stderr delta-cat bronze
	assert_failure 65
	assert_regex "$stderr" "^delta-cat: $T: $named .*; the state cannot be rebuilt without it \(version 0 is not in the log\)$"
	files=$(data_files)
	run --separate-stderr bash -c 'gen-ticks -a feed -i 13 10 | delta-append bronze'
	assert_failure 65
	assert_regex "${stderr_lines[0]}" "^delta-append: $T: $named "
	[ ! -e "$(log 13)" ]
	assert_equal "$(data_files)" "$files"
	# undamaged, the writer commits on it as before
	"$STOCKETL_ROOT/tests/helpers/faults/flip-byte" "$(ckpt 10)" "$off" 16 >/dev/null
	run --separate-stderr bash -c 'gen-ticks -a feed -i 13 10 | delta-append bronze'
	assert_success
	[ -f "$(log 13)" ]
}

@test "a checkpoint without checksums (from another engine) is read whole by writers: what readers refuse, they refuse" {
	cp -r "$FIXTURES/delta/delta-rs/simple_table_with_checkpoint" rs
	chmod -R u+w rs
	rm rs/_delta_log/0000000000000000000[0-9].json
	# a bit of a path in the checkpoint: "a0%e", a malformed %-escape where "a05e" was
	"$STOCKETL_ROOT/tests/helpers/faults/flip-byte" rs/_delta_log/00000000000000000010.checkpoint.parquet 299 16 >/dev/null
	named='checkpoint of version 10: _delta_log/00000000000000000010.checkpoint.parquet: path "part-00000-9afd9224-729f-4420-a0%e-8032113a6568-c000.snappy.parquet" has a malformed %-escape'
	run --separate-stderr delta-cat ./rs
	assert_failure 65
	assert_regex "$stderr" "^delta-cat: ./rs: $named"
	run --separate-stderr bash -c 'echo "{\"version\":11}" | delta-append ./rs'
	assert_failure 65
	assert_regex "${stderr_lines[0]}" "^delta-append: ./rs: $named"
	[ ! -e rs/_delta_log/00000000000000000011.json ]
}

@test "a Spark checkpoint that cannot be read is rebuilt from Spark's commits" {
	cp -r "$FIXTURES/delta/delta-golden/basic-with-inserts-deletes-checkpoint" spark
	chmod -R u+w spark
	printf 'junk' >spark/_delta_log/00000000000000000010.checkpoint.parquet
	run --separate-stderr delta-cat --columns id ./spark
	assert_success
	assert_equal "${#lines[@]}" 41
	assert_regex "$stderr" "checkpoint of version 10: .*; the state was rebuilt from the JSON commits$"
}

@test "refused (65) only when nothing can rebuild the state without the unusable checkpoint" {
	table 12
	rm "$(log 0)" "$(log 3)"
	printf 'junk' >"$(ckpt 10)"
	run --separate-stderr delta-cat bronze
	assert_failure 65
	assert_regex "$stderr" "^delta-cat: $T: checkpoint of version 10: .*; the state cannot be rebuilt without it \(version 0 is not in the log\)$"
	run --separate-stderr bash -c 'gen-ticks -a other -i 1 5 | delta-append bronze'
	assert_failure 65
	[ ! -e "$(log 13)" ]
}

@test "two checkpoints written at once leave the newer one named in _last_checkpoint" {
	delta-create bronze --schema "$SCHEMA" --partition-by trade_date --property delta.checkpointInterval=1
	for w in 1 2 3 4; do
		gen-ticks -a "w$w" -b 15 -i 1 -d $((20000 + w)) 200 | delta-append -q --commit-retries 100 bronze &
	done
	wait
	newest=$(find "$L" -name '*.checkpoint.parquet' | sort | tail -n 1 | sed 's|.*/0*\([0-9]\)|\1|; s|\..*||')
	assert_equal "$newest" 60
	assert_equal "$(jq -c .version "$L/_last_checkpoint")" 60
	run find "$L" -name '.*'
	assert_output ""
}

@test "a checkpoint that fails on a full disk leaves no temporary file and the commit stands" {
	[ "$(id -u)" -eq 0 ] || skip "mounting a small filesystem needs root"
	mkdir small
	mount -t tmpfs -o size=256k tmpfs small
	delta-create ./small/t --schema "$SCHEMA" --partition-by trade_date --property delta.checkpointInterval=1
	gen-ticks -a feed -i 1 1 >one.ndjson
	# fill the filesystem, then free two pages: the data file and the commit fit, the checkpoint does not
	dd if=/dev/zero of=small/filler bs=4k 2>/dev/null || true
	truncate -s -8k small/filler
	run --separate-stderr delta-append ./small/t one.ndjson
	status_was=$status
	left=$(find small/t/_delta_log -name '.*')
	committed=$(find small/t/_delta_log -name '00000000000000000001.json' | wc -l)
	ckpts=$(find small/t/_delta_log -name '*.checkpoint.parquet' | wc -l)
	umount small
	assert_equal "$status_was" 0
	assert_regex "${stderr_lines[0]}" "^delta-append: checkpoint at version 1: .*No space left on device"
	assert_equal "$left" ""
	assert_equal "$committed" 1
	assert_equal "$ckpts" 0
}

@test "a retention duration too large for 64 bits falls back to a week: tombstones stay in checkpoints" {
	delta-create bronze --schema "$SCHEMA" --partition-by trade_date --property delta.checkpointInterval=4 \
		--property 'delta.deletedFileRetentionDuration=interval 9223372036854775807 weeks'
	gen-ticks -a feed -i 1 5 | delta-append -q bronze
	gone=$(jq -r 'select(.add) | .add.path' "$(log 1)")
	now=$(($(date +%s) * 1000))
	printf '{"remove":{"path":"%s","deletionTimestamp":%d,"dataChange":true}}\n' "$gone" "$now" >"$(log 2)"
	gen-ticks -a feed -b 2 -i 2 5 | delta-append -q bronze
	[ -f "$(ckpt 4)" ]
	run duckdb-query.js "SELECT count(*) FILTER (WHERE remove IS NOT NULL) AS removes, count(*) FILTER (WHERE add IS NOT NULL) AS adds FROM read_parquet('$(ckpt 4)')"
	assert_output '{"removes":1,"adds":2}'
}

@test "a multi-part checkpoint is found by listing the log when _last_checkpoint is gone" {
	cp -r "$FIXTURES/delta/delta-golden/multi-part-checkpoint" mp
	chmod -R u+w mp
	rm mp/_delta_log/_last_checkpoint
	run --separate-stderr delta-cat -v ./mp
	assert_success
	assert_equal "${#lines[@]}" 31
	assert_equal "${stderr_lines[0]}" "delta-cat: ./mp: version 1 (from a checkpoint)"
}

@test "a file named part 1 of a checkpoint in one part is no checkpoint (PROTOCOL.md: more than one part): the commits are read" {
	cp -r "$FIXTURES/delta/delta-rs/simple_table_with_checkpoint" t
	chmod -R u+w t
	mv t/_delta_log/00000000000000000010.checkpoint.parquet \
		t/_delta_log/00000000000000000010.checkpoint.0000000001.0000000001.parquet
	rm t/_delta_log/_last_checkpoint
	run --separate-stderr delta-cat -v ./t
	assert_success
	assert_equal "${#lines[@]}" 11
	assert_equal "${stderr_lines[0]}" "delta-cat: ./t: version 10"
	# Without the commits nothing rebuilds the table.
	rm t/_delta_log/00000000000000000000.json
	run --separate-stderr delta-cat ./t
	assert_failure 65
	assert_equal "$stderr" "delta-cat: ./t: the log has no checkpoint and no version 0 to start from"
}

@test "a checkpoint's pages are Snappy, as Spark writes them: DuckDB and replay read its statistics as the commits gave them" {
	table 12
	run -0 bash -c "parquet-cat --meta '$(ckpt 10)' | jq -c '[.row_groups[].columns[].codec] | unique'"
	assert_output '["SNAPPY"]'
	# every add's statistics, byte for byte, from the checkpoint and from the commits
	run -0 duckdb-query.js "SELECT count(*) AS n, string_agg(add.stats, '|' ORDER BY add.path) AS s FROM read_parquet('$(ckpt 10)') WHERE add IS NOT NULL"
	want=$(cat "$L"/0000000000000000000[1-9].json "$(log 10)" | jq -sc '[.[] | .add | select(.) | {path, stats}] | sort_by(.path) | {n: length, s: (map(.stats) | join("|"))}')
	assert_equal "$(jq -c '{n, s}' <<<"$output")" "$want"
	# replay from the checkpoint gives the same rows as replay from the commits
	rows=$(delta-cat bronze | sha256sum)
	rm "$L"/0000000000000000000[0-9].json
	assert_equal "$(delta-cat bronze | sha256sum)" "$rows"
}

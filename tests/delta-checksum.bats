#!/usr/bin/env bats
# The integrity files of the log (PROTOCOL.md): the version checksum file
# N.crc that the writers leave after each commit whose table state they
# know, checked here against the state computed independently from the
# JSON commits with jq; and the checksum of _last_checkpoint, written with
# each checkpoint and verified by readers, for whom a pointer that does
# not match is no pointer.

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
load helpers/common

SCHEMA=$STOCKETL_ROOT/conf/tables/bronze.schema

setup() {
	common_setup
	export STOCKETL_LAKE=$TEST_DIR/lake
	T=$STOCKETL_LAKE/t
}

log_file() {
	printf '%s/_delta_log/%020d.%s' "$T" "$1" "$2"
}

latest() {
	local l
	l=$(find "$T/_delta_log" -maxdepth 1 -name '[0-9]*.json' -printf '%f\n' | sort | tail -n 1)
	echo $((10#${l%.json}))
}

# expected_state V: the table's state at version V replayed by jq from the
# JSON commits 0..V, in the form of a version checksum's fields.
expected_state() {
	local i files=()
	for ((i = 0; i <= $1; i++)); do
		files+=("$(log_file "$i" json)")
	done
	jq -cS -s '
		reduce .[] as $a ({files: {}, txns: {}, domains: {}};
			if $a.add then .files[$a.add.path] = $a.add.size
			elif $a.remove then .files |= del(.[$a.remove.path])
			elif $a.metaData then .meta = $a.metaData
			elif $a.protocol then .proto = $a.protocol
			elif $a.txn then .txns[$a.txn.appId] = $a.txn
			elif $a.domainMetadata then
				if $a.domainMetadata.removed then .domains |= del(.[$a.domainMetadata.domain])
				else .domains[$a.domainMetadata.domain] = $a.domainMetadata end
			else . end)
		| {tableSizeBytes: ([.files[]] | add // 0), numFiles: (.files | length),
		   numMetadata: 1, numProtocol: 1,
		   setTransactions: [.txns | to_entries | sort_by(.key)[] | .value],
		   domainMetadata: (if .domains == {} then null else [.domains | to_entries | sort_by(.key)[] | .value] end),
		   metadata: .meta, protocol: .proto}' "${files[@]}"
}

# crc_state V: the same fields of version V's checksum file.
crc_state() {
	jq -cS '{tableSizeBytes, numFiles, numMetadata, numProtocol,
		setTransactions: (.setTransactions | sort_by(.appId)),
		domainMetadata: (if .domainMetadata then .domainMetadata | sort_by(.domain) else null end),
		metadata, protocol}' "$(log_file "$1" crc)"
}

# assert_crcs [--some]: every version of T has a checksum file (--some: any
# number of them, at least one), and each says what the log says.
assert_crcs() {
	local v n=0
	for ((v = 0; v <= $(latest); v++)); do
		if [ ! -f "$(log_file "$v" crc)" ]; then
			[ "${1-}" = --some ] || fail "version $v has no checksum file"
			continue
		fi
		assert_equal "v$v $(crc_state "$v")" "v$v $(expected_state "$v")"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || fail "no checksum file at all"
}

create() {
	delta-create t --schema "$SCHEMA" --partition-by trade_date "$@"
}

@test "each append leaves its version's checksum: live files, bytes, txns, the exact metadata and protocol" {
	create --property delta.checkpointInterval=4
	# one process of 9 batches (checkpoints at 4 and 8 on the way), then another
	gen-ticks -a feed -b 9 -d 20700 20 | delta-append -q t
	gen-ticks -a other -b 2 -d 20702 7 | delta-append -q t
	assert_equal "$(latest)" 11
	assert_crcs
	# the fields the protocol requires, and nothing it does not know
	run jq -c 'keys' "$(log_file 11 crc)"
	assert_output '["metadata","numFiles","numMetadata","numProtocol","protocol","setTransactions","tableSizeBytes","txnId"]'
	run jq -r '.txnId' "$(log_file 11 crc)"
	assert_output "$(jq -r 'select(.commitInfo) | .commitInfo.txnId' "$(log_file 11 json)")"
	# the byte count is the data files' own size
	assert_equal "$(jq .tableSizeBytes "$(log_file 11 crc)")" \
		"$(find "$T" -name '*.parquet' -not -path '*/_delta_log/*' -printf '%s\n' | awk '{ s += $1 } END { print s }')"
	assert_equal "$(jq .numFiles "$(log_file 11 crc)")" 11
}

@test "an upsert, which removes files as it adds them, leaves the right checksums" {
	create --property delta.checkpointInterval=100
	gen-ticks -a feed -b 3 -d 20700 40 | delta-append -q t
	# the same bars again: every file holding one is rewritten
	gen-ticks -a upsert -b 2 -d 20700 30 | delta-append -q --merge-key symbol,interval,trade_timestamp t
	assert_equal "$(latest)" 5
	[ "$(jq -s '[.[] | select(.remove)] | length' "$(log_file 4 json)")" -gt 0 ]
	assert_crcs
}

@test "optimize and a checkpoint by delta-compact leave the right checksums" {
	create
	gen-ticks -a feed -b 6 -s 2 -d 20700 30 | delta-append -q t
	assert_equal "$(jq .numFiles "$(log_file 6 crc)")" 6
	delta-compact -q --optimize t
	delta-compact -q --checkpoint t
	assert_equal "$(latest)" 7
	[ -f "$(log_file 7 checkpoint.parquet)" ]
	[ "$(jq .numFiles "$(log_file 7 crc)")" -lt 6 ]
	# an append after it starts from the checkpoint
	gen-ticks -a feed7 -d 20701 5 | delta-append -q t
	assert_crcs
}

@test "a checksum file that is there is never replaced, and none is guessed from it" {
	create
	gen-ticks -a feed -d 20700 5 | delta-append -q t
	echo '{"someone":"else"}' >"$(log_file 2 crc)"
	gen-ticks -a feed2 -d 20700 5 | delta-append -q t
	assert_equal "$(cat "$(log_file 2 crc)")" '{"someone":"else"}'
	# an appender without the file lists counts from the version before: it cannot here
	gen-ticks -a feed3 -d 20700 5 | delta-append -q t
	[ ! -e "$(log_file 3 crc)" ]
	# a writer that reads the whole table knows it again
	gen-ticks -a feed4 -d 20700 5 | delta-append -q --merge-key symbol,interval,trade_timestamp t
	gen-ticks -a feed5 -d 20701 5 | delta-append -q t
	[ -f "$(log_file 5 crc)" ]
	rm "$(log_file 2 crc)"
	assert_crcs --some
	assert_equal "$(find "$T/_delta_log" -name '*.crc' -printf '%f\n' | sort | cut -c19-)" "$(printf '%s.crc\n' 00 01 04 05)"
	assert_equal "$(find "$T/_delta_log" -name '.*' -type f | wc -l)" 0
}

@test "writers racing for versions leave only checksums that the log confirms" {
	create --property delta.checkpointInterval=5
	for a in a b c; do
		gen-ticks -a "$a" -b 6 -d 20700 3 | delta-append -q t &
	done
	wait
	assert_equal "$(latest)" 18
	assert_crcs --some
	assert_equal "$(find "$T/_delta_log" -name '.*' -type f | wc -l)" 0
}

@test "_last_checkpoint carries the MD5 of its canonical form" {
	create --property delta.checkpointInterval=2
	gen-ticks -a feed -b 2 -d 20700 5 | delta-append -q t
	local lc=$T/_delta_log/_last_checkpoint
	run jq -c 'keys' "$lc"
	assert_output '["checksum","numOfAddFiles","size","sizeInBytes","version"]'
	# keys of letters only: sorted, quoted, joined; numbers as written
	canonical=$(jq -j 'del(.checksum) | to_entries | sort_by(.key) | map("\"\(.key)\"=\(.value)") | join(",")' "$lc")
	assert_equal "$(jq -r .checksum "$lc")" "$(printf '%s' "$canonical" | md5sum | cut -d' ' -f1)"
}

@test "a _last_checkpoint whose checksum does not match is not used, and the table reads right" {
	create --property delta.checkpointInterval=2
	gen-ticks -a feed -b 5 -d 20700 5 | delta-append -q t
	delta-cat t | sort >want
	local lc=$T/_delta_log/_last_checkpoint
	assert_equal "$(jq .version "$lc")" 4
	# a count that disagrees with the checkpoint, the checksum left as it was
	jq -c '.numOfAddFiles = 3' "$lc" >lc.bad
	cp lc.bad "$lc"
	run --separate-stderr delta-cat t
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sort <<<"$output")" "$(cat want)"
	# the same pointer without its checksum is believed, so the count is checked (and the checkpoint left aside)
	jq -c 'del(.checksum)' lc.bad >"$lc"
	run --separate-stderr delta-cat t
	assert_success
	assert_regex "$stderr" "_last_checkpoint says 3"
	assert_equal "$(sort <<<"$output")" "$(cat want)"
	# a pointer past the end of the log whose checksum does not match
	printf '{"version":40,"size":9,"checksum":"00000000000000000000000000000000"}' >"$lc"
	run --separate-stderr delta-cat t
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(sort <<<"$output")" "$(cat want)"
	# the next checkpoint replaces the pointer that did not match
	gen-ticks -a feed6 -d 20701 5 | delta-append -q t
	assert_equal "$(jq .version "$lc")" 6
	canonical=$(jq -j 'del(.checksum) | to_entries | sort_by(.key) | map("\"\(.key)\"=\(.value)") | join(",")' "$lc")
	assert_equal "$(jq -r .checksum "$lc")" "$(printf '%s' "$canonical" | md5sum | cut -d' ' -f1)"
}

@test "--cleanup-log deletes the checksum files of the versions it deletes" {
	create --property delta.checkpointInterval=3
	gen-ticks -a feed -b 7 -d 20700 5 | delta-append -q t
	find "$T/_delta_log" -name '0*' -exec touch -d '40 days ago' {} +
	touch "$(log_file 7 json)"
	delta-compact -q --cleanup-log t
	run bash -c "ls '$T/_delta_log' | grep -E '^[0-9]{20}\.crc\$'"
	assert_output "$(printf '%020d.crc\n' 6 7)"
	run bash -c "ls '$T/_delta_log' | grep -E '^[0-9]{20}\.json\$' | head -n 1"
	assert_output "$(printf '%020d.json' 6)"
}

#!/usr/bin/env bats
# parquet-cat: the rows of Parquet files as records, or their footers.

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
load helpers/common

setup() {
	common_setup
	DELTA=$FIXTURES/delta
	PRIM=$DELTA/dat/all_primitive_types/delta/part-00000-c8e72b60-d199-4f35-acfd-44dc7c2ad06c-c000.snappy.parquet
	CKPT=$DELTA/dat/with_checkpoint/delta/_delta_log/00000000000000000002.checkpoint.parquet
}

# A tick file of n rows, written by the Parquet test program.
tick_file() {
	mkdir -p set
	"$STOCKETL_ROOT/${O:-build/rel}/tests/test_parquet_files" set
}

@test "--help prints the usage, which is the man page's SYNOPSIS" {
	run --separate-stderr parquet-cat --help
	assert_success
	assert_help_matches_man parquet-cat
}

@test "--version names the program and the version" {
	run --separate-stderr parquet-cat --version
	assert_success
	assert_output --regexp '^parquet-cat \(stocketl\) [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "a Spark file's rows come out as JSON in the record conventions" {
	run --separate-stderr parquet-cat "$PRIM"
	assert_success
	assert_equal "$stderr" ""
	assert_line --index 0 '{"utf8":"0","int64":0,"int32":0,"int16":0,"int8":0,"float32":0,"float64":0,"bool":true,"binary":"","decimal":10,"date32":"1970-01-01","timestamp":"1970-01-01T00:00:00Z"}'
	assert_line --index 4 '{"utf8":"4","int64":4,"int32":4,"int16":4,"int8":4,"float32":4,"float64":4,"bool":true,"binary":"AAAAAA==","decimal":14,"date32":"1970-01-05","timestamp":"1970-01-01T04:00:00Z"}'
}

@test "every data file and checkpoint of the Delta fixtures reads as DuckDB reads it" {
	n=0
	sql=()
	: >got
	while IFS= read -r -d '' f; do
		n=$((n + 1))
		parquet-cat "$f" >>got
		echo "{\"@end\":$n}" >>got
		sql+=("select * from read_parquet('${f//\'/\'\'}', hive_partitioning=false)")
	done < <(find "$DELTA" -name '*.parquet' -type f -print0 | sort -z)
	[ "$n" -gt 200 ]
	duckdb-query.js --decimal-shortest --each "${sql[@]}" >want
	run diff -u want got
	assert_success
}

@test "checkpoint actions come out as nested objects, maps as objects and lists as arrays" {
	run --separate-stderr parquet-cat --columns metaData "$CKPT"
	assert_success
	run jq -c 'select(.metaData != null) | .metaData | [.id, .format, .partitionColumns, .configuration]' <<<"$output"
	assert_output '["91c93705-64e0-4f84-98fc-e4e5de0ce6b3",{"provider":"parquet","options":{}},[],{"delta.checkpointInterval":"2"}]'
}

@test "--columns picks fields inside structs by their dotted paths" {
	run --separate-stderr parquet-cat --columns add.path,add.size "$CKPT"
	assert_success
	assert_line --index 0 '{"add":{"path":"part-00000-059f34c2-305f-4b4f-8f42-0a9bd44e4742-c000.snappy.parquet","size":976}}'
	assert_line --index 1 '{"add":null}'
}

@test "--columns finds a column whose name holds dots, and fields inside a struct whose name does" {
	duckdb-query.js "copy (select 1 as \"a.b\", 3 as c, {'x': 4, 'y': 5} as \"s.t\")
		to 'dots.parquet' (format parquet)" "select 1" >/dev/null
	run --separate-stderr parquet-cat --columns a.b dots.parquet
	assert_success
	assert_output '{"a.b":1}'
	run --separate-stderr parquet-cat --columns s.t.y,c dots.parquet
	assert_success
	assert_output '{"c":3,"s.t":{"y":5}}'
	# A struct field that the path also names keeps its meaning.
	duckdb-query.js "copy (select {'b': 2} as a, 1 as \"a.b\") to 'both.parquet' (format parquet)" \
		"select 1" >/dev/null
	run --separate-stderr parquet-cat --columns a.b both.parquet
	assert_success
	assert_output '{"a":{"b":2}}'
}

@test "--columns names a column the file lacks: usage error" {
	run --separate-stderr parquet-cat --columns nothing "$PRIM"
	assert_failure 64
	assert_equal "$stderr" "parquet-cat: $PRIM: no column nothing"
}

@test "--meta prints the footer: schema, row groups, chunks with encodings, sizes and statistics" {
	run --separate-stderr parquet-cat --meta "$PRIM"
	assert_success
	run jq -c '[.num_rows, .created_by, (.schema | length), .schema[10]]' <<<"$output"
	assert_output '[5,"parquet-mr version 1.12.2 (build 77e30c8093386ec52c3cfa6c34b7ef3321322c94)",13,{"name":"decimal","type":"INT32","repetition":"OPTIONAL","converted_type":"DECIMAL","scale":3,"precision":5,"logical_type":"DECIMAL(5,3)"}]'
	run parquet-cat --meta "$PRIM"
	run jq -c '.row_groups[0].columns[9] | [.path, .type, .codec, .encodings, .num_values, .statistics]' <<<"$output"
	assert_output '["decimal","INT32","SNAPPY",["BIT_PACKED","RLE","PLAIN"],5,{"null_count":0,"min":10,"max":14}]'
}

@test "--binary writes tick records for a file with the tick schema" {
	tick_file
	run --separate-stderr parquet-cat --binary set/ticks_zstd_v1.parquet
	assert_success
	parquet-cat --binary set/ticks_zstd_v1.parquet >ticks.bin
	assert_equal "$(head -c 8 ticks.bin | od -An -tx1 | tr -d ' ')" "8953544b0d0a1a0a"
	assert_equal "$(stat -c %s ticks.bin)" "$((16 + 104 * 20000))"
}

# A bronze table (partitioned by trade_date) of 600 gen-ticks rows, in $T.
bronze() {
	export STOCKETL_LAKE=$BATS_TEST_TMPDIR/lake
	T=$STOCKETL_LAKE/bronze
	delta-create bronze --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	gen-ticks -a feed -b 2 -s 3 300 | delta-append bronze
	printf 'checks for ticks:\n  - row_count > 0\n' >pass.checks
}

# flip FILE OFFSET: change one byte of FILE.
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
	printf '%b' "\\0$(printf %03o $((b ^ 0x55)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

@test "decimals are JSON numbers in their shortest exact text, as delta-cat prints them" {
	bronze
	parquet-cat "$T"/trade_date=*/*.parquet | sort >got
	# The data files hold every column but the partition column.
	delta-cat bronze | sed 's/,"trade_date":"[0-9-]*"//' | sort >want
	run diff -u want got
	assert_success
	[ "$(wc -l <got)" -eq 600 ]
	grep -q '"open":125,' got
	grep -q '"high":125.0021,' got
	run grep -E '"(open|high|low|close)":-?[0-9]+\.[0-9]*0[,}]' got
	assert_failure
}

@test "a timestamp without time zone has no Z, so its rows load back into a timestamp_ntz column" {
	printf 'id long\nt timestamp_ntz\nu timestamp\n' >ntz.schema
	delta-create ./ntz --schema ntz.schema
	delta-create ./copy --schema ntz.schema
	printf '%s\n' '{"id":1,"t":"2024-03-10T02:30:00.5","u":"2024-03-10T02:30:00Z"}' \
		'{"id":2,"t":"1969-12-31T23:59:59","u":null}' '{"id":3,"t":null,"u":null}' |
		delta-append -q ./ntz
	f=$(find ntz -name '*.parquet')
	run --separate-stderr parquet-cat "$f"
	assert_success
	assert_output "$(printf '%s\n' '{"id":1,"t":"2024-03-10T02:30:00.500000","u":"2024-03-10T02:30:00Z"}' \
		'{"id":2,"t":"1969-12-31T23:59:59","u":null}' '{"id":3,"t":null,"u":null}')"
	# Its statistics are wall-clock times too.
	run --separate-stderr parquet-cat --meta "$f"
	run jq -c '.row_groups[0].columns[1].statistics' <<<"$output"
	assert_output '{"null_count":1,"min":"1969-12-31T23:59:59","max":"2024-03-10T02:30:00.500000"}'
	run --separate-stderr bash -c "parquet-cat '$f' | delta-append -q ./copy"
	assert_success
	assert_equal "$stderr" ""
	delta-cat ./ntz >want
	run --separate-stderr delta-cat ./copy
	assert_output "$(cat want)"
	[ "$(wc -l <want)" -eq 3 ]
}

@test "rows that would read as control lines are refused: a lone column named @..., a first column @batch" {
	duckdb-query.js "copy (select 1 as \"@x\", 2 as y) to 'at.parquet' (format parquet)" \
		"copy (select 1 as \"@batch\", 2 as y) to 'batch.parquet' (format parquet)" \
		"copy (select 1 as \"@only\") to 'only.parquet' (format parquet)" "select 1" >/dev/null
	run --separate-stderr parquet-cat at.parquet
	assert_success
	assert_output '{"@x":1,"y":2}'
	run --separate-stderr parquet-cat --columns @x at.parquet
	assert_failure 65
	assert_output ""
	assert_equal "$stderr" "parquet-cat: at.parquet: column @x alone would make each row a control line of the record stream, not data (select another column with it)"
	run --separate-stderr parquet-cat only.parquet
	assert_failure 65
	assert_equal "$stderr" "parquet-cat: only.parquet: column @only alone would make each row a control line of the record stream, not data"
	run --separate-stderr parquet-cat batch.parquet
	assert_failure 65
	assert_equal "$stderr" "parquet-cat: batch.parquet: column @batch first would make each row a batch marker of the record stream, not data"
	run --separate-stderr parquet-cat --columns y batch.parquet
	assert_success
	assert_output '{"y":2}'
	# The rows of the files before go out, ended by a failed marker.
	run --separate-stderr parquet-cat at.parquet only.parquet
	assert_failure 65
	assert_output "$(printf '%s\n' '{"@x":1,"y":2}' '{"@batch":{"app":"parquet-cat","id":0,"records":1,"rejected":0,"status":"failed"}}')"
}

@test "--binary reads the data files of a table partitioned by trade_date, the date from their directory" {
	bronze
	parquet-cat --binary "$T"/trade_date=*/*.parquet >ticks.bin
	assert_equal "$(head -c 8 ticks.bin | od -An -tx1 | tr -d ' ')" "8953544b0d0a1a0a"
	tick-validate -q --checks pass.checks ticks.bin | sort >got
	delta-cat bronze | sort >want
	run diff -u want got
	assert_success
	[ "$(wc -l <got)" -eq 600 ]
	# A relative path inside the partition directory: the working directory says.
	(cd "$T/trade_date=2025-06-02" && parquet-cat --binary ./*.parquet) |
		tick-validate -q --checks "$PWD/pass.checks" >day.ndjson
	run jq -r .trade_date day.ndjson
	assert_output "$(printf '2025-06-02\n%.0s' $(seq "$(wc -l <day.ndjson)"))"
}

@test "--binary: a file without trade_date and without a trade_date directory is refused" {
	bronze
	f=$(find "$T" -name '*.parquet' | head -1)
	cp "$f" loose.parquet
	run --separate-stderr parquet-cat --binary loose.parquet
	assert_failure 65
	assert_equal "$stderr" "parquet-cat: loose.parquet: no column trade_date, and no trade_date=YYYY-MM-DD directory on its path to take it from"
	# No tick: the stream is its 16-byte header alone.
	assert_equal "$(parquet-cat --binary loose.parquet 2>/dev/null | wc -c)" 16
	run --separate-stderr parquet-cat --binary - <loose.parquet
	assert_failure 65
	assert_equal "$stderr" "parquet-cat: -: no column trade_date, and standard input has no path to take it from"
	mkdir trade_date=soon
	cp "$f" trade_date=soon/
	run --separate-stderr parquet-cat --binary trade_date=soon/*.parquet
	assert_failure 65
	assert_equal "$stderr" "parquet-cat: $(echo trade_date=soon/*.parquet): its directory trade_date=soon does not hold a date"
	# Hive's name for a null partition value.
	mkdir trade_date=__HIVE_DEFAULT_PARTITION__
	cp "$f" trade_date=__HIVE_DEFAULT_PARTITION__/
	parquet-cat --binary trade_date=__HIVE_DEFAULT_PARTITION__/*.parquet |
		tick-validate -q --checks pass.checks >null.ndjson
	run jq -r '.trade_date' null.ndjson
	assert_line --index 0 null
	run jq -s 'map(select(.trade_date != null)) | length' null.ndjson
	assert_output 0
}

@test "a Spark file's page checksums are verified: a damaged page is refused with its place" {
	cp "$PRIM" bad.parquet
	# The last byte of column int64's chunk lies in the body of its last page.
	at=$(parquet-cat --meta bad.parquet |
		jq '.row_groups[0].columns[1] | (.dictionary_page_offset // .data_page_offset) + .total_compressed_size - 1')
	flip bad.parquet "$at"
	run --separate-stderr parquet-cat bad.parquet
	assert_failure 65
	assert_output ""
	assert_regex "$stderr" '^parquet-cat: bad.parquet: row group 0, column int64: page [0-9]+: checksum mismatch, the page is damaged \(CRC-32 [0-9a-f]{8} in its header, [0-9a-f]{8} over its [0-9]+ bytes\)$'
}

@test "--binary refuses a file without the tick schema" {
	run --separate-stderr parquet-cat --binary "$PRIM"
	assert_failure 65
	assert_equal "$stderr" "parquet-cat: $PRIM: not the tick schema (no column symbol)"
}

@test "a damaged file is reported with what is wrong, and the other files are still printed" {
	head -c 2000 "$CKPT" >cut.parquet
	cp "$PRIM" good.parquet
	run --separate-stderr parquet-cat cut.parquet good.parquet
	assert_failure 65
	assert_equal "$stderr" "parquet-cat: cut.parquet: not a Parquet file (no PAR1 at the end)"
	assert_equal "${#lines[@]}" 6
	# the rows that went out are not all of the input's: a failed marker ends them
	assert_equal "${lines[5]}" '{"@batch":{"app":"parquet-cat","id":0,"records":5,"rejected":0,"status":"failed"}}'
}

@test "a copy through delta-append commits nothing when the reader fails partway, and the same command loads every row once the file is whole" {
	export STOCKETL_LAKE=$TEST_DIR/lake
	delta-create src --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	gen-ticks -m 3000 | delta-append -q --app-id g --batch-id 1 src
	delta-create dst --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	f=$(find "$STOCKETL_LAKE/src" -name '*.parquet' | sort | sed -n 2p)
	cp "$f" saved.parquet
	printf '\377\377\377\377' | dd of="$f" bs=1 seek=200 conv=notrunc 2>/dev/null
	for reader in "delta-cat --binary src" "parquet-cat --binary $STOCKETL_LAKE/src/trade_date=*/*.parquet"; do
		run --separate-stderr bash -c "$reader | delta-append --app-id copy --batch-id 1 dst"
		assert_failure 2
		[[ $stderr == *"batch copy/"*" is marked failed upstream; not committed"* ]]
		[[ $stderr != *"their ids are used"* ]]
		assert_equal "$(delta-append --txn-version copy dst)" -1
	done
	cp saved.parquet "$f"
	delta-cat --binary src | delta-append -q --app-id copy --batch-id 1 dst
	assert_equal "$(delta-cat dst | wc -l)" 3000
}

@test "a damaged page is reported with its row group, column and page" {
	cp "$PRIM" bad.parquet
	# Bytes inside the first column's first page header.
	printf '\377\377\377\377' | dd of=bad.parquet bs=1 seek=20 conv=notrunc 2>/dev/null
	run --separate-stderr parquet-cat bad.parquet
	assert_failure 65
	assert_equal "$output" ""
	assert_equal "$stderr" "parquet-cat: bad.parquet: row group 0, column utf8: page 1: page header lacks the header of its page type"
}

# lz4_file NAME ROWS [CODEC]: a file of ROWS rows that DuckDB writes with
# LZ4_RAW pages (its "lz4"), or CODEC: integers, doubles, strings,
# booleans, dates, timestamps, decimals and lists, most with nulls, in row
# groups of 2048.
lz4_file() {
	duckdb-query.js "copy (select i::int as i32, case when i % 7 = 0 then null else i * 1000003 end::bigint as i64, i / 8.0 as dbl, case when i % 5 = 0 then null else 'sym' || (i % 37) end as str, i % 3 = 0 as flag, date '2024-01-01' + (i % 400)::int as day, timestamp '2025-06-02 09:30:00' + to_microseconds(i * 1234567) as ts, case when i % 11 = 0 then null else (i * 1.25)::decimal(18,4) end as price, case when i % 13 = 0 then null else [i, i + 1] end as pair from range($2) t(i)) to '$PWD/$1' (format parquet, compression ${3:-lz4_raw}, row_group_size 2048)" >/dev/null
}

# duckdb_rows FILE: DuckDB's reading of FILE, but lz4_file's ts, a TIMESTAMP
# (without time zone), as a wall-clock time: duckdb-query.js writes every
# timestamp with Z, parquet-cat and delta-cat such a one without.
duckdb_rows() {
	duckdb-query.js --decimal-shortest "select * from read_parquet('$1')" |
		sed -E 's/("ts":"[^"]*)Z"/\1"/'
}

# as_lz4 IN OUT: IN with every column chunk's codec changed from LZ4_RAW to
# the deprecated LZ4, in the footer only (the i32 field 4 of ColumnMetaData,
# 7 to 5, the same length in Thrift's compact protocol): LZ4 pages that are
# one bare block, as older Parquet C++ wrote them.  Prints how many it changed.
as_lz4() {
	# shellcheck disable=SC2016 # perl's variables
	perl -e 'local $/; open my $f, "<:raw", $ARGV[0] or die; my $d = <$f>;
		my $n = unpack "V", substr($d, -8, 4); my $foot = substr($d, -8 - $n, $n);
		my $k = ($foot =~ s/\x15\x0e/\x15\x0a/g); substr($d, -8 - $n, $n) = $foot;
		open my $o, ">:raw", $ARGV[1] or die; print $o $d; print "$k\n"' "$1" "$2"
}

# damage_chunk FILE COLUMN: 16 bytes of 0xff in the middle of the column
# chunk of row group 0 at index COLUMN (inside its LZ4 data: DuckDB writes
# no page checksums, so only the codec can notice).
damage_chunk() {
	local at
	at=$(parquet-cat --meta "$1" | jq ".row_groups[0].columns[$2] | (.dictionary_page_offset // .data_page_offset) + (.total_compressed_size / 2 | floor)")
	printf '\377%.0s' $(seq 16) | dd of="$1" bs=1 seek="$at" conv=notrunc 2>/dev/null
}

@test "LZ4_RAW pages (DuckDB's lz4) read as DuckDB reads them" {
	lz4_file lz4raw.parquet 5000
	run parquet-cat --meta lz4raw.parquet
	run jq -c '[.row_groups[].columns[].codec] | [length, unique]' <<<"$output"
	assert_output '[27,["LZ4_RAW"]]'
	parquet-cat lz4raw.parquet >got
	duckdb_rows "$PWD/lz4raw.parquet" >want
	run diff -u want got
	assert_success
	[ "$(wc -l <got)" -eq 5000 ]
	grep -q '"i64":null,"dbl":0,"str":null,"flag":true,"day":"2024-01-01","ts":"2025-06-02T09:30:00",' got
}

@test "LZ4 pages that are one bare LZ4 block, not in Hadoop's framing, are read as such" {
	lz4_file lz4raw.parquet 5000
	run as_lz4 lz4raw.parquet lz4.parquet
	assert_output 27
	run parquet-cat --meta lz4.parquet
	run jq -c '[.row_groups[].columns[].codec] | unique' <<<"$output"
	assert_output '["LZ4"]'
	# DuckDB reads no LZ4 pages: the values are those of the LZ4_RAW file.
	parquet-cat lz4.parquet >got
	duckdb_rows "$PWD/lz4raw.parquet" >want
	run diff -u want got
	assert_success
}

@test "a damaged LZ4 page is refused with its row group, column and page" {
	lz4_file bad.parquet 1000
	damage_chunk bad.parquet 1
	run --separate-stderr parquet-cat bad.parquet
	assert_failure 65
	assert_equal "$stderr" "parquet-cat: bad.parquet: row group 0, column i64: page 1: lz4 data corrupt"
	lz4_file good.parquet 1000
	as_lz4 good.parquet bad.parquet >/dev/null
	damage_chunk bad.parquet 2
	run --separate-stderr parquet-cat bad.parquet
	assert_failure 65
	assert_equal "$stderr" "parquet-cat: bad.parquet: row group 0, column dbl: page 1: lz4 data corrupt"
}

@test "BROTLI pages (DuckDB's and pyarrow's brotli) read as DuckDB reads them" {
	lz4_file brotli.parquet 5000 brotli
	run parquet-cat --meta brotli.parquet
	run jq -c '[.row_groups[].columns[].codec] | [length, unique]' <<<"$output"
	assert_output '[27,["BROTLI"]]'
	parquet-cat brotli.parquet >got
	duckdb_rows "$PWD/brotli.parquet" >want
	run diff -u want got
	assert_success
	[ "$(wc -l <got)" -eq 5000 ]
}

@test "a damaged BROTLI page is refused with its row group, column and page" {
	lz4_file bad.parquet 1000 brotli
	damage_chunk bad.parquet 1
	run --separate-stderr parquet-cat bad.parquet
	assert_failure 65
	assert_equal "$output" ""
	assert_equal "$stderr" "parquet-cat: bad.parquet: row group 0, column i64: page 1: brotli data corrupt"
}

@test "a file that does not exist: exit 74" {
	run --separate-stderr parquet-cat missing.parquet
	assert_failure 74
	assert_equal "$stderr" "parquet-cat: missing.parquet: No such file or directory"
}

@test "a file on standard input is read as -" {
	run --separate-stderr parquet-cat --columns int64 - <"$PRIM"
	assert_success
	assert_output $'{"int64":0}\n{"int64":1}\n{"int64":2}\n{"int64":3}\n{"int64":4}'
}

@test "usage errors: no file, --meta with --columns, --binary with --columns" {
	run --separate-stderr parquet-cat
	assert_failure 64
	[[ $stderr == "parquet-cat: no file given"$'\n'usage:* ]]
	run --separate-stderr parquet-cat --meta --columns a "$PRIM"
	assert_failure 64
	run --separate-stderr parquet-cat --binary --columns a "$PRIM"
	assert_failure 64
	run --separate-stderr parquet-cat --bogus "$PRIM"
	assert_failure 64
}

@test "a full disk is an I/O error" {
	run --separate-stderr sh -c "parquet-cat '$PRIM' >/dev/full"
	assert_failure 74
	assert_equal "$stderr" "parquet-cat: stdout: write error: No space left on device"
}

@test "--columns takes a list's or map's leaf by its path in the file, as --meta shows it" {
	duckdb-query.js "copy (select [1, 2] as arr, map {'a': 1} as m, 3 as z) to 'n.parquet' (format parquet)" >/dev/null
	run parquet-cat --meta n.parquet
	assert_output --partial '"path":"arr.list.element"'
	run --separate-stderr parquet-cat --columns arr.list.element n.parquet
	assert_success
	assert_output '{"arr":[1,2]}'
	run --separate-stderr parquet-cat --columns m.key_value.value,z n.parquet
	assert_success
	assert_output '{"m":{"a":1},"z":3}'
	run --separate-stderr parquet-cat --columns arr.list.elementX n.parquet
	assert_failure 64
	assert_equal "$stderr" "parquet-cat: n.parquet: no column arr.list.elementX"
}

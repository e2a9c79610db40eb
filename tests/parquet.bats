#!/usr/bin/env bats
# The Parquet writer and reader proved against DuckDB: every file the writer
# makes (tests/unit/test_parquet_files.c writes them with the rows they must
# hold) is read by DuckDB value by value, including queries that skip row
# groups by their statistics, and files DuckDB writes are read by parquet-cat
# as DuckDB reads them.

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
load helpers/common

setup_file() {
	SET=$BATS_FILE_TMPDIR/set
	mkdir -p "$SET"
	"$STOCKETL_ROOT/${O:-build/rel}/tests/test_parquet_files" "$SET"
	export SET
}

# same_rows NAME: DuckDB's full scan of NAME.parquet is NAME.jsonl, line for line.
same_rows() {
	duckdb-query.js --decimal-shortest "select * from read_parquet('$SET/$1.parquet')" >"$1.duck"
	run diff -u "$SET/$1.jsonl" "$1.duck"
	assert_success
}

# same_filtered NAME SQL JQ: the rows DuckDB returns for WHERE SQL are the
# expected rows that satisfy JQ (both normalised by jq), and there are some.
same_filtered() {
	duckdb-query.js --decimal-shortest "select * from read_parquet('$SET/$1.parquet') where $2" | jq -c . >got
	jq -c "select($3)" "$SET/$1.jsonl" >want
	[ -s want ] || fail "no rows satisfy: $3"
	[ "$(wc -l <want)" -lt "$(wc -l <"$SET/$1.jsonl")" ] || fail "every row satisfies: $3"
	run diff -u want got
	assert_success
}

@test "every type, with nulls and extreme values, reads back in DuckDB as written" {
	same_rows types_optional
	same_rows types_required_v2
}

@test "forced encodings read back in DuckDB: RLE booleans, DELTA_BINARY_PACKED, BYTE_STREAM_SPLIT, DELTA_BYTE_ARRAY, DELTA_LENGTH_BYTE_ARRAY" {
	same_rows types_encodings
	run parquet-cat --meta "$SET/types_encodings.parquet"
	assert_success
	run jq -c '[.row_groups[0].columns[] | [.path, (.encodings | map(select(. != "RLE" and . != "PLAIN"))[0] // "RLE")]] | map(select(.[0] | test("^(bool|int|long|float|double|string|binary|dec18)$")))' <<<"$output"
	assert_output '[["bool","RLE"],["int","DELTA_BINARY_PACKED"],["long","DELTA_BINARY_PACKED"],["float","BYTE_STREAM_SPLIT"],["double","BYTE_STREAM_SPLIT"],["string","DELTA_BYTE_ARRAY"],["binary","DELTA_LENGTH_BYTE_ARRAY"],["dec18","RLE_DICTIONARY"]]'
}

@test "ticks read back in DuckDB with each codec and both data page versions" {
	same_rows ticks_zstd_v1
	same_rows ticks_snappy_v2
	same_rows ticks_gzip_v1
	same_rows ticks_uncompressed_v2
}

# DuckDB (1.5.6) reads the CRCs but does not check them: given a page with a
# changed byte it returns other values without a word, where stocketl's
# reader refuses the file (see "a damaged page ..." below).
@test "files whose pages and footer carry CRC-32s read back in DuckDB, as do files without" {
	same_rows ticks_zstd_v1
	same_rows ticks_zstd_v1_nocrc
	run parquet-cat --meta "$SET/ticks_zstd_v1.parquet"
	run jq -r '.key_value_metadata["stocketl.footer.crc32"]' <<<"$output"
	assert_output --regexp '^[0-9a-f]{8}$'
	run parquet-cat --meta "$SET/ticks_zstd_v1_nocrc.parquet"
	run jq -c '.key_value_metadata' <<<"$output"
	assert_output '{}'
	run parquet-cat "$SET/ticks_zstd_v1_nocrc.parquet"
	assert_output "$(cat "$SET/ticks_zstd_v1.jsonl")"
}

@test "nested Delta actions (structs, maps, lists, lists of lists) read back in DuckDB as written" {
	same_rows nested_v1
	same_rows nested_v2
}

@test "a dictionary that falls back to PLAIN within a column chunk reads back in DuckDB" {
	same_rows dictionary_fallback
	run parquet-cat --meta "$SET/dictionary_fallback.parquet"
	run jq -c '.row_groups[0].columns[0].encodings' <<<"$output"
	assert_output '["PLAIN","RLE","RLE_DICTIONARY"]'
}

@test "a thousand row groups and a file of no rows read back in DuckDB" {
	same_rows many_row_groups
	same_rows empty
	run duckdb-query.js "select count(*) as n from parquet_metadata('$SET/many_row_groups.parquet')"
	assert_output '{"n":1000}'
}

@test "DuckDB's queries that skip row groups by statistics agree with a full scan: ticks" {
	same_filtered ticks_zstd_v1 "close > 411" '.close != null and .close > 411'
	same_filtered ticks_zstd_v1 "close is null" '.close == null'
	same_filtered ticks_snappy_v2 "volume is null" '.volume == null'
	same_filtered ticks_snappy_v2 "symbol = 'IBM' and trade_date = date '2024-06-27'" '.symbol == "IBM" and .trade_date == "2024-06-27"'
	same_filtered ticks_gzip_v1 "symbol > 'IBM'" '.symbol > "IBM"'
	same_filtered ticks_uncompressed_v2 "trade_timestamp >= timestamptz '2024-06-29 23:00:00+00'" '.trade_timestamp >= "2024-06-29T23:00:00Z"'
	same_filtered ticks_zstd_v1 "low < 131" '.low < 131'
}

@test "DuckDB's queries that skip row groups by statistics agree with a full scan: every type" {
	same_filtered types_optional "long = -9223372036854775808" '.long != null and .long < -9.2e18'
	same_filtered types_optional "long >= 9223372036854775807" '.long != null and .long > 9.2e18'
	same_filtered types_optional "byte < 0" '.byte != null and .byte < 0'
	same_filtered types_optional "date < date '1970-01-01'" '.date != null and .date < "1970-01-01"'
	same_filtered types_optional "ts < timestamptz '1900-01-01 00:00:00+00'" '.ts != null and .ts < "1900-01-01"'
	same_filtered types_optional "dec38 < -1000" '.dec38 != null and .dec38 < -1000'
	same_filtered types_optional "dec5 is null" '.dec5 == null'
	same_filtered types_optional "string = ''" '.string == ""'
	same_filtered types_optional "string > 'w'" '.string != null and .string > "w"'
	same_filtered types_optional "double < -1e300" '.double != null and (.double | type) == "number" and .double < -1e300'
	same_filtered types_optional "double > 1e308" '.double == "Infinity" or .double == "NaN"'
	same_filtered types_optional "float < -1e38" '.float == "-Infinity" or ((.float | type) == "number" and .float < -1e38)'
	same_filtered many_row_groups "n between 1000000 and 1010000" '.n >= 1000000 and .n <= 1010000'
}

@test "DuckDB sees the types the writer declares, both logical and legacy" {
	run duckdb-query.js "select column_name, column_type from (describe select * from read_parquet('$SET/ticks_zstd_v1.parquet'))"
	assert_success
	assert_output - <<'OUT'
{"column_name":"symbol","column_type":"VARCHAR"}
{"column_name":"interval","column_type":"VARCHAR"}
{"column_name":"trade_timestamp","column_type":"TIMESTAMP WITH TIME ZONE"}
{"column_name":"trade_date","column_type":"DATE"}
{"column_name":"open","column_type":"DECIMAL(18,6)"}
{"column_name":"high","column_type":"DECIMAL(18,6)"}
{"column_name":"low","column_type":"DECIMAL(18,6)"}
{"column_name":"close","column_type":"DECIMAL(18,6)"}
{"column_name":"volume","column_type":"BIGINT"}
{"column_name":"batch_id","column_type":"BIGINT"}
{"column_name":"ingested_at","column_type":"TIMESTAMP WITH TIME ZONE"}
{"column_name":"source","column_type":"VARCHAR"}
OUT
	run duckdb-query.js "select name, converted_type, logical_type, scale, precision from parquet_schema('$SET/ticks_zstd_v1.parquet') where name in ('close', 'trade_timestamp')"
	assert_output - <<'OUT'
{"name":"trade_timestamp","converted_type":"TIMESTAMP_MICROS","logical_type":"TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS=<null>, MICROS=MicroSeconds(), NANOS=<null>))","scale":null,"precision":null}
{"name":"close","converted_type":"DECIMAL","logical_type":"DecimalType(scale=6, precision=18)","scale":6,"precision":18}
OUT
}

@test "DuckDB reads the footer statistics the writer computed" {
	run duckdb-query.js "select path_in_schema, stats_min_value, stats_max_value, stats_null_count from parquet_metadata('$SET/types_optional.parquet') where row_group_id = 0 and path_in_schema in ('long', 'string', 'date', 'dec38')"
	assert_success
	assert_output - <<'OUT'
{"path_in_schema":"long","stats_min_value":"-9223372036854775808","stats_max_value":"9223372036854775807","stats_null_count":18}
{"path_in_schema":"string","stats_min_value":"","stats_max_value":"été \"q\"\\-9","stats_null_count":18}
{"path_in_schema":"date","stats_min_value":"0001-01-01","stats_max_value":"9999-12-31","stats_null_count":18}
{"path_in_schema":"dec38","stats_min_value":"-99999999999999999999.999999999999999999","stats_max_value":"99999999999999999999.999999999999999999","stats_null_count":18}
OUT
	# created_by in parquet.thrift's form, the build being the commit built
	# from (left out when the build had no git checkout).
	run duckdb-query.js "select distinct created_by from parquet_file_metadata('$SET/ticks_zstd_v1.parquet')"
	if hash=$(git -C "$STOCKETL_ROOT" rev-parse --short HEAD 2>/dev/null); then
		assert_output --regexp "^\\{\"created_by\":\"stocketl version [0-9]+\\.[0-9]+\\.[0-9]+ \\(build $hash\\)\"\\}\$"
	else
		assert_output --regexp '^\{"created_by":"stocketl version [0-9]+\.[0-9]+\.[0-9]+"\}$'
	fi
}

@test "parquet-cat prints every file the writer makes as DuckDB reads it" {
	for f in "$SET"/*.parquet; do
		name=$(basename "$f" .parquet)
		parquet-cat "$f" >"$name.cat"
		run diff -u "$SET/$name.jsonl" "$name.cat"
		assert_success
	done
}

@test "files DuckDB writes, in each of its encodings and codecs, read as DuckDB reads them" {
	duckdb-query.js "create table t as select i::int as i, (i * 1000003)::bigint as l, 'str' || (i % 97) as s,
		i * 0.5 as d, (i * 0.25)::float as f, i % 3 = 0 as b, (i * 7)::decimal(18,4) as dc,
		(i * 7)::decimal(38,10) as dc38, date '1960-01-01' + (i % 5000)::int as dt,
		timestamptz '1969-12-31 23:00:00+00' + to_microseconds(i * 1000001) as ts,
		case when i % 5 = 0 then null else 'x' || i end as sn, [i, null, i + 1] as li,
		{'a': i, 'b': 's' || i} as st, map(['k' || (i % 3)], [i]) as m from range(5000) r(i)" \
		"copy t to 'v2_zstd.parquet' (format parquet, parquet_version v2, compression zstd)" \
		"copy t to 'v1_snappy.parquet' (format parquet, compression snappy)" \
		"copy t to 'v1_gzip.parquet' (format parquet, compression gzip, row_group_size 1000)" \
		"copy t to 'v2_none.parquet' (format parquet, compression uncompressed, parquet_version v2)" \
		"copy t to 'v2_brotli.parquet' (format parquet, compression brotli, parquet_version v2)" \
		"select 1"
	for f in v2_zstd v1_snappy v1_gzip v2_none v2_brotli; do
		duckdb-query.js --decimal-shortest "select * from read_parquet('$f.parquet')" >"$f.duck"
		parquet-cat "$f.parquet" >"$f.cat"
		run diff -u "$f.duck" "$f.cat"
		assert_success
	done
	run parquet-cat --meta v2_zstd.parquet
	run jq -r '[.row_groups[0].columns[].encodings[]] | unique | join(" ")' <<<"$output"
	assert_output --partial "BYTE_STREAM_SPLIT DELTA_BINARY_PACKED DELTA_LENGTH_BYTE_ARRAY"
}

@test "a codec the reader does not have is an error that names it" {
	# LZO, which no writer of today produces: a file of DuckDB's with
	# LZ4_RAW (7) changed to LZO (3) in the footer (the i32 field 4 of
	# ColumnMetaData, the same length in Thrift's compact protocol)
	duckdb-query.js "copy (select 1 as x) to 'lz4.parquet' (format parquet, compression lz4_raw)" "select 1"
	# shellcheck disable=SC2016 # perl's variables
	run perl -e 'local $/; open my $f, "<:raw", $ARGV[0] or die; my $d = <$f>;
		my $n = unpack "V", substr($d, -8, 4); my $foot = substr($d, -8 - $n, $n);
		my $k = ($foot =~ s/\x15\x0e/\x15\x06/g); substr($d, -8 - $n, $n) = $foot;
		open my $o, ">:raw", $ARGV[1] or die; print $o $d; print "$k\n"' lz4.parquet lzo.parquet
	assert_output 1
	run --separate-stderr parquet-cat lzo.parquet
	assert_failure 65
	assert_equal "$stderr" "parquet-cat: lzo.parquet: row group 0, column x: unsupported compression codec LZO"
}

# flip FILE OFFSET: change one byte of FILE.
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
	printf '%b' "\\0$(printf %03o $((b ^ 0x55)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# last_page_byte FILE LEAF: an offset inside the body of the last page of
# the first row group's chunk of leaf LEAF (the chunk's last byte).
last_page_byte() {
	parquet-cat --meta "$1" | jq ".row_groups[0].columns[$2] | (.dictionary_page_offset // .data_page_offset) + .total_compressed_size - 1"
}

@test "a damaged page of a data file or of a checkpoint makes delta-cat refuse the table" {
	export STOCKETL_LAKE=$BATS_TEST_TMPDIR/lake
	T=$STOCKETL_LAKE/bronze
	delta-create bronze --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	# Ten batches, ten commits: a checkpoint at version 10.
	gen-ticks -a feed -b 10 -s 2 50 | delta-append bronze
	ckpt=$T/_delta_log/00000000000000000010.checkpoint.parquet
	[ -f "$ckpt" ]
	delta-cat bronze >before
	[ "$(wc -l <before)" -eq 500 ]

	data=$(find "$T" -name '*.parquet' -path '*trade_date=*' | sort | head -1)
	cp "$data" saved.parquet
	flip "$data" "$(last_page_byte "$data" 3)" # a page of column open (no trade_date here)
	run --separate-stderr delta-cat bronze
	assert_failure 65
	assert_regex "$stderr" "^delta-cat: .*${data##*/}: row group 0, column open: page [0-9]+: checksum mismatch, the page is damaged"
	cp saved.parquet "$data"

	cp "$ckpt" saved.parquet
	flip "$ckpt" "$(last_page_byte "$ckpt" 0)"
	# With every commit still in the log, the reader rebuilds the state from
	# them and says why it did not use the checkpoint.
	# (The rows come in the order of the replay that found the files.)
	run --separate-stderr delta-cat bronze
	assert_success
	assert_equal "$(sort <<<"$output")" "$(sort before)"
	assert_regex "$stderr" "checkpoint.parquet: row group 0, column [a-zA-Z.]+: page [0-9]+: checksum mismatch, the page is damaged"
	# Without the commits below it, nothing can stand in for the checkpoint.
	mkdir older
	mv "$T"/_delta_log/0000000000000000000[0-9].json older/
	run --separate-stderr delta-cat bronze
	assert_failure 65
	assert_regex "$stderr" "checkpoint.parquet: row group 0, column [a-zA-Z.]+: page [0-9]+: checksum mismatch, the page is damaged"
	mv older/*.json "$T"/_delta_log/
	cp saved.parquet "$ckpt"
	run delta-cat bronze
	assert_success
	assert_output "$(cat before)"
}

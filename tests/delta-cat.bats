#!/usr/bin/env bats
# delta-cat: a table's rows, at any version, as records; checked against the
# rows the fixtures' sources state and against DuckDB reading the files.

# shellcheck disable=SC2154 # $stderr and $stderr_lines are set by BATS's run --separate-stderr
load helpers/common

setup() {
	common_setup
	export STOCKETL_LAKE=$TEST_DIR/lake
	DELTA=$FIXTURES/delta
}

# schema NAME:TYPE...: Spark's schema JSON; a TYPE may itself be JSON (nested types).
schema() {
	local f
	for f in "$@"; do
		jq -nc --arg n "${f%%:*}" --arg t "${f#*:}" \
			'{name: $n, type: ($t | fromjson? // .), nullable: true, metadata: {}}'
	done | jq -sc '{type: "struct", fields: .}'
}

# new_table DIR SCHEMA_JSON [PROTOCOL_JSON]: version 0 of a table, without files.
new_table() {
	mkdir -p "$1/_delta_log"
	jq -nc --arg s "$2" --argjson p "${3:-{\"minReaderVersion\":1,\"minWriterVersion\":2\}}" \
		'{protocol: $p},
		 {metaData: {id: "test", format: {provider: "parquet", options: {}}, schemaString: $s,
		             partitionColumns: [], configuration: {}, createdTime: 0}}' \
		>"$1/_delta_log/00000000000000000000.json"
}

# add_file DIR VERSION FILE SELECT [STATS_JSON]: DuckDB writes the rows of
# SELECT to DIR/FILE (row groups of 2048 rows) and commit VERSION adds it.
add_file() {
	duckdb-query.js "COPY ($4) TO '$1/$3' (FORMAT parquet, ROW_GROUP_SIZE 2048)" >/dev/null
	jq -nc --arg p "$3" --arg st "${5:-}" \
		'{add: ({path: $p, partitionValues: {}, size: 0, modificationTime: 0, dataChange: true}
		        + (if $st == "" then {} else {stats: $st} end))}' \
		>>"$1/_delta_log/$(printf '%020d' "$2").json"
}

# assert_stderr_contains TEXT: what the last run wrote to stderr holds TEXT.
assert_stderr_contains() {
	[[ "$stderr" == *"$1"* ]] || fail "stderr lacks \"$1\": $stderr"
}

# The value of the first column of each row, sorted, as one JSON array.
firsts() {
	jq -sc 'map(to_entries[0].value) | sort'
}

@test "--help prints the usage, which is the man page's SYNOPSIS" {
	run --separate-stderr delta-cat --help
	assert_success
	assert_help_matches_man delta-cat
}

@test "--version prints the program's version" {
	run --separate-stderr delta-cat --version
	assert_success
	assert_output --regexp '^delta-cat \(stocketl\) [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "a Spark table's latest version, and an older one with --at-version" {
	run --separate-stderr delta-cat "$DELTA/delta-rs/simple_table"
	assert_success
	assert_output $'{"id":5}\n{"id":7}\n{"id":9}'
	assert_equal "$stderr" ''
	run --separate-stderr delta-cat --at-version 0 "$DELTA/delta-rs/simple_table"
	assert_success
	assert_equal "$(firsts <<<"$output")" '[0,1,2,3,4]'
}

@test "removed files drop out at the version that removed them" {
	run --separate-stderr delta-cat "$DELTA/delta-rs/delta-0.8.0"
	assert_success
	assert_equal "$(firsts <<<"$output")" '[0,1,2,4]'
	run --separate-stderr delta-cat --at-version 0 "$DELTA/delta-rs/delta-0.8.0"
	assert_equal "$(firsts <<<"$output")" '[0,1,2,3,4]'
}

@test "checkpoints: the oldest format, Spark 3, and multi-part; time travel below a checkpoint" {
	run --separate-stderr delta-cat "$DELTA/delta-rs/delta-0.2.0"
	assert_success
	assert_equal "$(firsts <<<"$output")" '[1,1,2,2,3,3]'
	run --separate-stderr delta-cat --at-version 2 "$DELTA/delta-rs/delta-0.2.0"
	assert_equal "$(firsts <<<"$output")" '[1,2,3]'
	run --separate-stderr delta-cat "$DELTA/delta-rs/simple_table_with_checkpoint"
	assert_equal "$(firsts <<<"$output")" '[0,0,1,2,3,4,5,6,7,8,9]'
	run --separate-stderr delta-cat "$DELTA/delta-golden/multi-part-checkpoint"
	assert_equal "$(jq -s length <<<"$output")" 31
	assert_equal "$(firsts <<<"$output")" "$(jq -nc '[0] + [range(30)] | sort')"
	run --separate-stderr delta-cat "$DELTA/delta-golden/basic-with-inserts-deletes-checkpoint"
	assert_success
	assert_equal "$(firsts <<<"$output")" \
		"$(jq -nc '[range(0;5), range(10;15), range(20;25), range(30;35), range(40;45), range(50;66)]')"
}

@test "partition values are restored into the rows, typed by the schema" {
	run --separate-stderr delta-cat "$DELTA/delta-rs/delta-0.8.0-partitioned"
	assert_success
	run jq -c -s 'sort_by(.value) | .[]' <<<"$output"
	assert_output - <<'EOF'
{"value":"1","year":"2020","month":"1","day":"1"}
{"value":"2","year":"2020","month":"2","day":"3"}
{"value":"3","year":"2020","month":"2","day":"5"}
{"value":"4","year":"2021","month":"4","day":"5"}
{"value":"5","year":"2021","month":"12","day":"4"}
{"value":"6","year":"2021","month":"12","day":"20"}
{"value":"7","year":"2021","month":"12","day":"20"}
EOF
	run --separate-stderr delta-cat "$DELTA/delta-rs/delta-2.2.0-partitioned-types"
	run jq -c -s 'sort_by(.c3) | .[]' <<<"$output"
	assert_output $'{"c1":6,"c2":"a","c3":4}\n{"c1":4,"c2":"c","c3":5}\n{"c1":5,"c2":"b","c3":6}'
}

@test "escaped and null partition values come back as they were" {
	run --separate-stderr delta-cat "$DELTA/delta-rs/delta-0.8.0-special-partition"
	assert_success
	assert_equal "$(jq -sc 'map(.x) | sort' <<<"$output")" '["A/A","B B"]'
	run --separate-stderr delta-cat "$DELTA/delta-rs/delta-0.8.0-null-partition"
	assert_success
	assert_equal "$(jq -sc 'sort_by(.v)' <<<"$output")" '[{"k":"A","v":1},{"k":null,"v":2}]'
}

@test "every primitive type, and a row of nulls" {
	run --separate-stderr delta-cat "$DELTA/delta-golden/data-reader-primitives"
	assert_success
	assert_equal "$(jq -s length <<<"$output")" 11
	assert_line '{"as_int":null,"as_long":null,"as_byte":null,"as_short":null,"as_boolean":null,"as_float":null,"as_double":null,"as_string":null,"as_binary":null,"as_big_decimal":null}'
	assert_line '{"as_int":0,"as_long":0,"as_byte":0,"as_short":0,"as_boolean":true,"as_float":0.0,"as_double":0.0,"as_string":"0","as_binary":"AAA=","as_big_decimal":0}'
	assert_line '{"as_int":9,"as_long":9,"as_byte":9,"as_short":9,"as_boolean":false,"as_float":9.0,"as_double":9.0,"as_string":"9","as_binary":"CQk=","as_big_decimal":9}'
}

@test "timestamps, in INT96 (Spark's default) or in microseconds, also as legacy partition values, in UTC with microseconds" {
	local t
	for t in INT96 TIMESTAMP_MICROS; do
		run --separate-stderr delta-cat "$DELTA/delta-golden/kernel-timestamp-$t"
		assert_success
		run jq -c -s 'sort_by(.id) | .[]' <<<"$output"
		assert_output - <<'EOF'
{"id":0,"part":"2020-01-01T08:09:10.001000Z","time":"2020-02-01T08:09:10Z"}
{"id":1,"part":"2021-10-01T08:09:20Z","time":"1999-01-01T09:00:00Z"}
{"id":2,"part":"2021-10-01T08:09:20Z","time":"2000-01-01T09:00:00Z"}
{"id":3,"part":"1969-01-01T00:00:00Z","time":"1969-01-01T00:00:00Z"}
{"id":4,"part":null,"time":null}
EOF
	done
	run -0 parquet-cat --meta "$DELTA/delta-golden/kernel-timestamp-INT96/part=1969-01-01 00%3A00%3A00/"*.parquet
	assert_output --partial '{"name":"time","type":"INT96","repetition":"OPTIONAL"}'
}

@test "every DAT case reads back as its expected rows, at every version it gives" {
	local args=() case dir v
	for case in "$DELTA"/dat/*/; do
		case=${case%/}
		for dir in "$case"/expected/*/; do
			dir=${dir%/}
			v=$(basename "$dir")
			out=$BATS_TEST_TMPDIR/$(basename "$case")-$v.ndjson
			if [ "$v" = latest ]; then
				delta-cat "$case/delta" >"$out"
			else
				delta-cat --at-version "${v#v}" "$case/delta" >"$out"
			fi
			args+=("$dir/table_content.parquet" "$out")
		done
	done
	assert_equal "${#args[@]}" 38
	run rows-compare.js "${args[@]}"
	assert_success
}

@test "a table written by DuckDB, every type and nesting, reads back as DuckDB reads its file" {
	new_table t "$(schema id:long name:string by:byte sh:short it:integer 'd4:decimal(4,2)' \
		'd18:decimal(18,3)' 'd38:decimal(38,6)' f:float dbl:double b:boolean dt:date \
		ts:timestamp tsms:timestamp tsns:timestamp bin:binary \
		's:{"type":"struct","fields":[{"name":"x","type":"long","nullable":true,"metadata":{}},{"name":"y","type":"string","nullable":true,"metadata":{}},{"name":"z","type":{"type":"array","elementType":"long","containsNull":true},"nullable":true,"metadata":{}}]}' \
		'l:{"type":"array","elementType":"long","containsNull":true}' \
		'm:{"type":"map","keyType":"string","valueType":"long","valueContainsNull":true}' \
		'mi:{"type":"map","keyType":"long","valueType":"string","valueContainsNull":true}')"
	add_file t 0 part-0.parquet "SELECT i AS id, CASE WHEN i % 7 = 0 THEN NULL ELSE 'name-' || i END AS name,
		(i % 128)::TINYINT AS by, (i % 30000)::SMALLINT AS sh, i::INTEGER AS it,
		(i / 100)::DECIMAL(4,2) AS d4, (i * 1.5)::DECIMAL(18,3) AS d18,
		(i * 1000000000000)::DECIMAL(38,6) - 5 AS d38, (i / 3)::FLOAT AS f,
		CASE i % 100 WHEN 1 THEN 'NaN'::DOUBLE WHEN 2 THEN 'Infinity'::DOUBLE
			WHEN 3 THEN '-Infinity'::DOUBLE ELSE i / 7 END AS dbl,
		i % 2 = 0 AS b, DATE '1969-12-01' + (i % 400)::INT AS dt,
		TIMESTAMPTZ '1969-12-31 23:00:00+00' + INTERVAL (i) SECOND + INTERVAL (i % 1000) MICROSECOND AS ts,
		(TIMESTAMP '2024-01-01' + INTERVAL (i) MINUTE)::TIMESTAMP_MS AS tsms,
		(TIMESTAMP '2024-01-01' + INTERVAL (i) MICROSECOND)::TIMESTAMP_NS AS tsns,
		encode('b' || i) AS bin,
		CASE WHEN i % 11 = 0 THEN NULL ELSE {'x': i, 'y': 'v' || i, 'z': [i]} END AS s,
		[i, NULL, i + 1] AS l, MAP {'k' || i: i} AS m, MAP {i: 'v' || i} AS mi
		FROM range(10000) t(i)"
	delta-cat ./t >out.ndjson
	run rows-compare.js t out.ndjson
	assert_success
	assert_output 'ok out.ndjson: 10000 rows'
	run head -n 2 out.ndjson
	assert_line --index 1 '{"id":1,"name":"name-1","by":1,"sh":1,"it":1,"d4":0.01,"d18":1.5,"d38":999999999995,"f":0.33333334,"dbl":"NaN","b":false,"dt":"1969-12-02","ts":"1969-12-31T23:00:01.000001Z","tsms":"2024-01-01T00:01:00Z","tsns":"2024-01-01T00:00:00.000001Z","bin":"YjE=","s":{"x":1,"y":"v1","z":[1]},"l":[1,null,2],"m":{"k1":1},"mi":[{"key":1,"value":"v1"}]}'
}

@test "a column an older file lacks is null; narrower types in older files widen" {
	new_table t "$(schema id:long x:double y:string 'd:decimal(10,4)' \
		's:{"type":"struct","fields":[{"name":"a","type":"long","nullable":true,"metadata":{}},{"name":"b","type":"string","nullable":true,"metadata":{}}]}')"
	add_file t 0 old.parquet "SELECT 1::INTEGER AS id, 0.5::FLOAT AS x, 1.25::DECIMAL(5,2) AS d, {'a': 7::INTEGER} AS s"
	add_file t 1 new.parquet "SELECT 2::BIGINT AS id, 0.1::DOUBLE AS x, 'new' AS y, 2.5::DECIMAL(10,4) AS d, {'a': 8::BIGINT, 'b': 'z'} AS s"
	run --separate-stderr delta-cat ./t
	assert_success
	assert_output $'{"id":1,"x":0.5,"y":null,"d":1.25,"s":{"a":7,"b":null}}\n{"id":2,"x":0.1,"y":"new","d":2.5,"s":{"a":8,"b":"z"}}'
}

@test "timestamp_ntz columns (reader version 3 with timestampNtz) have no offset" {
	new_table t "$(schema id:long t:timestamp_ntz)" \
		'{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["timestampNtz"],"writerFeatures":["timestampNtz"]}'
	add_file t 0 part-0.parquet "SELECT 1 AS id, TIMESTAMP '2021-11-18 02:30:00.123456' AS t UNION ALL SELECT 2, TIMESTAMP '1960-01-01 00:00:00'"
	run --separate-stderr delta-cat ./t
	assert_success
	assert_output $'{"id":1,"t":"2021-11-18T02:30:00.123456"}\n{"id":2,"t":"1960-01-01T00:00:00"}'
	run --separate-stderr delta-cat --where "t < '2000-01-01 00:00:00'" ./t
	assert_output '{"id":2,"t":"1960-01-01T00:00:00"}'
}

@test "tables it cannot read are refused, naming what they need" {
	run --separate-stderr delta-cat "$DELTA/delta-rs/simple_table_features"
	assert_failure 65
	assert_output ''
	assert_equal "$stderr" "delta-cat: $DELTA/delta-rs/simple_table_features: reader version 5 (reader features blahabl) is not supported; this reads versions 1 and 2, and 3 with the features timestampNtz, deletionVectors, columnMapping, typeWidening, vacuumProtocolCheck and v2Checkpoint"
}

@test "--where on partition columns skips files without opening them" {
	run --separate-stderr delta-cat -v --where "year = '2021'" "$DELTA/delta-rs/delta-0.8.0-partitioned"
	assert_success
	assert_equal "$(jq -sc 'map(.value) | sort' <<<"$output")" '["4","5","6","7"]'
	assert_equal "${stderr_lines[1]}" 'delta-cat: skipped 3 of 6 files (3 by partition values, 0 by statistics) and 0 of 3 row groups; 4 of 4 rows read matched'
	run --separate-stderr delta-cat --where "k is null" "$DELTA/delta-rs/delta-0.8.0-null-partition"
	assert_output '{"k":null,"v":2}'
	run --separate-stderr delta-cat --where "bool = false and amount = 12" "$DELTA/dat/multi_partitioned_2/delta"
	assert_output '{"bool":false,"time":"1970-01-02T08:45:00Z","amount":12,"int":3}'
	run --separate-stderr delta-cat --where "time > '1970-01-01T12:00:00Z' and time < '1970-01-02'" "$DELTA/dat/multi_partitioned_2/delta"
	assert_output '{"bool":true,"time":"1970-01-01T12:30:00Z","amount":200,"int":2}'
}

@test "--where skips files by their log statistics; the rows equal a full read filtered" {
	delta-create bronze --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	for b in 1 2 3 4; do
		gen-ticks -a feed -i "$b" -d $((20240 + b)) -s 2 200 | delta-append bronze
	done
	# One file per day; the days before the 4th end before 15:00.
	run --separate-stderr delta-cat -v --where "volume >= 90000 and trade_timestamp >= '2025-06-04T15:00:00Z'" bronze
	assert_success
	assert_equal "${stderr_lines[1]}" 'delta-cat: skipped 2 of 4 files (0 by partition values, 2 by statistics) and 0 of 2 row groups; 23 of 400 rows read matched'
	expected=$(delta-cat bronze | jq -c 'select(.volume >= 90000 and .trade_timestamp >= "2025-06-04T15:00:00Z")')
	assert_equal "$output" "$expected"
	assert_equal "$(jq -s length <<<"$output")" 23
}

@test "--where skips row groups by their footer statistics" {
	new_table t "$(schema id:long v:double)"
	add_file t 0 part-0.parquet "SELECT i AS id, i / 4 AS v FROM range(10000) t(i)"
	run --separate-stderr delta-cat -v --where "id >= 5000 and id < 5100" ./t
	assert_success
	assert_equal "${stderr_lines[1]}" 'delta-cat: skipped 0 of 1 files (0 by partition values, 0 by statistics) and 4 of 5 row groups; 100 of 2048 rows read matched'
	assert_equal "$(firsts <<<"$output")" "$(jq -nc '[range(5000;5100)]')"
	run --separate-stderr delta-cat --where "v > 2400.5 and v <= 2500" ./t
	assert_equal "$(jq -c . <<<"$output")" "$(delta-cat ./t | jq -c 'select(.v > 2400.5 and .v <= 2500)')"
	assert_equal "$(jq -s length <<<"$output")" 397
}

@test "--where gives what filtering a full read gives, for every type and operator" {
	new_table t "$(schema id:long name:string 'd18:decimal(18,3)' dt:date b:boolean by:byte dbl:double)"
	add_file t 0 part-0.parquet "SELECT i AS id, CASE WHEN i % 7 = 0 THEN NULL ELSE 'name-' || i END AS name,
		(i * 1.5)::DECIMAL(18,3) AS d18, DATE '1970-01-01' + (i % 400)::INT AS dt, i % 3 = 0 AS b,
		(i % 100)::TINYINT AS by, i / 8 AS dbl FROM range(10000) t(i)"
	delta-cat ./t >all.ndjson
	while IFS='|' read -r where filter; do
		delta-cat --where "$where" ./t | jq -c . >got.ndjson
		jq -c "select($filter)" all.ndjson >want.ndjson
		[ -s want.ndjson ] || fail "no rows for $where"
		cmp -s got.ndjson want.ndjson || fail "--where \"$where\" differs from select($filter)"
	done <<'EOF'
id < 100|.id < 100
id != 5 and id <= 10|.id != 5 and .id <= 10
name >= 'name-5' and name < 'name-6'|.name != null and .name >= "name-5" and .name < "name-6"
name is null and id >= 9000|.name == null and .id >= 9000
name is not null and id > 9990|.name != null and .id > 9990
d18 > 7000.5 and d18 <= 7500|.d18 > 7000.5 and .d18 <= 7500
d18 = '4500.000'|.d18 == 4500
dt = '1970-03-01' and id > 5000|.dt == "1970-03-01" and .id > 5000
dt >= '1971-01-01'|.dt >= "1971-01-01"
b = false and by <> 3 and id < 50|.b == false and .by != 3 and .id < 50
B = TRUE and `by` >= 98|.b == true and .by >= 98
dbl >= 1000 and dbl < 1000.5|.dbl >= 1000 and .dbl < 1000.5
dbl > 1249.5|.dbl > 1249.5
EOF
}

@test "tables without statistics still filter exactly" {
	run --separate-stderr delta-cat -v --where "letter = 'a' and int > 100" "$DELTA/dat/no_stats/delta"
	assert_success
	assert_output '{"letter":"a","int":595,"date":"2013-03-01"}'
	assert_stderr_contains 'delta-cat: skipped 0 of 1 files (0 by partition values, 0 by statistics) and 0 of 1 row groups; 1 of 5 rows read matched'
	run --separate-stderr delta-cat --where "date < '1990-01-01' and letter != 'b'" "$DELTA/dat/no_stats/delta"
	assert_equal "$output" "$(delta-cat "$DELTA/dat/no_stats/delta" | jq -c 'select(.date < "1990-01-01" and .letter != "b" and .letter != null)')"
	assert_equal "$(jq -s length <<<"$output")" 2
}

@test "log statistics are used only as far as they are bounds" {
	long=abc$(printf 'z%.0s' $(seq 47))
	new_table t "$(schema s:string 'd:decimal(20,10)' ts:timestamp)"
	# The maximum string is a 40-character cut of the value (no tie-breaker), the
	# decimal bounds are written 0E-10, and the timestamps kept in milliseconds.
	stats=$(jq -nc --arg max "${long:0:40}" \
		'{numRecords: 1, minValues: {s: "ab", ts: "2024-01-01T00:00:00.000Z"},
		  maxValues: {s: $max, ts: "2024-01-01T00:00:00.000Z"}, nullCount: {s: 0, d: 0, ts: 0}}' |
		sed 's/"minValues":{/&"d":0E-10,/; s/"maxValues":{/&"d":0E-10,/')
	add_file t 0 part-0.parquet "SELECT '$long' AS s, 0::DECIMAL(20,10) AS d, TIMESTAMPTZ '2024-01-01 00:00:00.000999+00' AS ts" "$stats"
	for w in "s = '$long'" "d = 0" "ts = '2024-01-01T00:00:00.000999Z'" "s >= 'abc' and d >= 0 and ts > '2024-01-01'"; do
		run --separate-stderr delta-cat --columns d --where "$w" ./t
		assert_output '{"d":0}'
	done
	for w in "s < 'ab'" "d > 0" "d < 0" "ts >= '2024-01-01T00:00:00.001Z'" "s is null"; do
		run --separate-stderr delta-cat -v --where "$w" ./t
		assert_output ''
		assert_stderr_contains 'skipped 1 of 1 files (0 by partition values, 1 by statistics)'
	done
}

@test "a float column's statistics bound the floats their text names: the file whose maximum is 0.1 holds the float 0.1" {
	printf 'f float\nv long\n' >f.schema
	delta-create ./ft --schema f.schema
	printf '%s\n' '{"f":0.05,"v":1}' '{"f":0.1,"v":2}' | delta-append -q --app-id a --batch-id 1 ./ft
	run -0 jq -r 'select(.add) | .add.stats | fromjson | .maxValues.f' ft/_delta_log/00000000000000000001.json
	assert_output 0.1
	for w in "f = 0.1" "f >= 0.1" "f > 0.05 and f <= 0.1"; do
		run --separate-stderr delta-cat --columns v --where "$w" ./ft
		assert_success
		assert_output '{"v":2}'
	done
	run --separate-stderr delta-cat -v --where "f > 0.1" ./ft
	assert_output ''
	assert_stderr_contains 'skipped 1 of 1 files (0 by partition values, 1 by statistics)'
}

@test "--where follows SQL: nulls match no comparison, only is null" {
	P=$DELTA/delta-golden/data-reader-primitives
	run --separate-stderr delta-cat --columns as_int --where "as_int != 3" "$P"
	assert_equal "$(firsts <<<"$output")" '[0,1,2,4,5,6,7,8,9]'
	run --separate-stderr delta-cat --columns as_int --where "as_string is null" "$P"
	assert_output '{"as_int":null}'
	run --separate-stderr delta-cat --columns as_long --where "as_boolean = true and as_big_decimal <= 4 and as_float > 0.5 and as_binary is not null" "$P"
	assert_equal "$(firsts <<<"$output")" '[2,4]'
	run --separate-stderr delta-cat --columns as_short --where "as_string >= \"7\" and as_byte <> 8" "$P"
	assert_equal "$(firsts <<<"$output")" '[7,9]'
	# a binary literal is the base64 its values are printed in
	run --separate-stderr delta-cat --columns as_int,as_binary --where "as_binary = 'AwM='" "$P"
	assert_output '{"as_int":3,"as_binary":"AwM="}'
	run --separate-stderr delta-cat --where "as_binary = 'AwM'" "$P"
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-cat: --where: column as_binary is binary: the value of a binary column must be base64'
	# and so is a binary partition value's, which prunes the other files
	run --separate-stderr delta-cat -v --columns number --where "data = '8J+YiA=='" "$DELTA/dat/multi_partitioned/delta"
	assert_output '{"number":7}'
	assert_stderr_contains 'skipped 1 of 2 files (1 by partition values'
}

@test "--columns chooses and orders the columns; --where may use others" {
	run --separate-stderr delta-cat --columns day,value --where "year = '2021' and month = '12'" "$DELTA/delta-rs/delta-0.8.0-partitioned"
	assert_success
	run jq -c -s 'sort_by(.value) | .[]' <<<"$output"
	assert_output $'{"day":"4","value":"5"}\n{"day":"20","value":"6"}\n{"day":"20","value":"7"}'
	run --separate-stderr delta-cat --columns 'struct, pk' "$DELTA/dat/nested_types/delta"
	assert_line --index 0 '{"struct":{"float64":0.0,"bool":true},"pk":0}'
}

@test "--csv writes a header and RFC 4180 fields; null and the empty string differ" {
	printf 's string\nn long\nd decimal(10,2)\nts timestamp\nb binary\n' >t.schema
	delta-create t --schema t.schema
	printf '%s\n' '{"s":"plain","n":1,"d":1.50,"ts":"2024-01-02T03:04:05Z","b":"AAE="}' \
		'{"s":"a, b","n":2,"d":-0.01,"ts":"2024-01-02T03:04:05.5Z","b":""}' \
		'{"s":"say \"hi\"","n":3}' '{"s":"two\nlines","n":4}' '{"s":"","n":5}' '{"n":6}' |
		delta-append t
	run --separate-stderr delta-cat --csv t
	assert_success
	assert_output - <<'EOF'
s,n,d,ts,b
plain,1,1.5,2024-01-02T03:04:05Z,AAE=
"a, b",2,-0.01,2024-01-02T03:04:05.500000Z,""
"say ""hi""",3,,,
"two
lines",4,,,
"",5,,,
,6,,,
EOF
}

@test "--binary writes tick records; read back by delta-append they are the same rows" {
	delta-create bronze --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	delta-create copy --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	gen-ticks -a feed -b 2 -s 3 300 | delta-append bronze
	run bash -c 'delta-cat --binary bronze | head -c 8 | od -An -tx1'
	assert_output ' 89 53 54 4b 0d 0a 1a 0a'
	delta-cat --binary bronze | delta-append --app-id copy --batch-id 1 copy
	assert_equal "$(delta-cat copy | sort)" "$(delta-cat bronze | sort)"
	assert_equal "$(delta-cat copy | wc -l)" 600
}

@test "--binary needs the tick record's columns and values that fit it" {
	run --separate-stderr delta-cat --binary "$DELTA/delta-rs/simple_table"
	assert_failure 64
	assert_equal "$stderr" 'delta-cat: --binary writes tick records, and the output has no column symbol'
	delta-create bronze --schema "$STOCKETL_ROOT/conf/tables/bronze.schema"
	run --separate-stderr delta-cat --binary --columns symbol,interval bronze
	assert_failure 64
	assert_equal "$stderr" 'delta-cat: --binary writes tick records, and the output has no column trade_timestamp'
	gen-ticks -m 1 | sed 's/"symbol":"NVDA"/"symbol":"ABCDEFGHIJKLMNOP"/' |
		delta-append --app-id t --batch-id 1 bronze
	run --separate-stderr delta-cat --binary bronze
	assert_failure 65
	assert_equal "$stderr" 'delta-cat: row 1: column symbol: the value is too long, which a tick record cannot hold'
}

@test "--binary checks every symbol, interval and source that differs from the row before, not only the first" {
	delta-create bronze --schema "$STOCKETL_ROOT/conf/tables/bronze.schema"
	row() { # SYMBOL INTERVAL SOURCE MINUTE
		printf '{"symbol":"%s","interval":"%s","trade_timestamp":"2025-06-02T13:%s:00Z","trade_date":"2025-06-02","open":1,"high":1,"low":1,"close":1,"volume":7,"batch_id":1,"ingested_at":"2025-06-02T13:59:00Z","source":"%s"}\n' "$1" "$2" "$4" "$3"
	}
	{
		row IBM 1min av 30
		row IBM 1min av 31
		row IBM 7min av 32
	} | delta-append --app-id t --batch-id 1 bronze
	run --separate-stderr delta-cat --binary bronze
	assert_failure 65
	assert_equal "$stderr" 'delta-cat: row 3: column interval: an unknown interval, which a tick record cannot hold'
	{
		row IBM 1min av 40
		row IBM 1min av 41
		row IBM 1min av-and-a-long-name 42
	} | delta-append --app-id t --batch-id 2 bronze
	run --separate-stderr delta-cat --binary --since-version 1 bronze
	assert_failure 65
	assert_equal "$stderr" 'delta-cat: row 3: column source: the value is too long, which a tick record cannot hold'
	# runs of values, each checked once, come out as they went in
	{
		row IBM 1min av 50
		row NVDA 1min av 51
		row NVDA 5min av 52
		row IBM 5min yf 53
	} | delta-append --app-id t --batch-id 3 bronze
	delta-create copy --schema "$STOCKETL_ROOT/conf/tables/bronze.schema"
	delta-cat --binary --since-version 2 bronze | delta-append --app-id t --batch-id 1 copy
	run --separate-stderr delta-cat --columns symbol,interval,source copy
	assert_success
	assert_output "$(printf '{"symbol":"%s","interval":"%s","source":"%s"}\n' IBM 1min av NVDA 1min av NVDA 5min av IBM 5min yf)"
}

@test "--binary brings decimals of other scales to the tick's six decimals, and refuses what does not fit" {
	sed -e 's/^open .*/open decimal(24,8)/' -e 's/^high .*/high decimal(24,8)/' \
		-e 's/^low .*/low decimal(10,2)/' -e 's/^close .*/close decimal(10,2)/' \
		"$STOCKETL_ROOT/conf/tables/bronze.schema" >wide.schema
	delta-create wide --schema wide.schema
	delta-create copy --schema "$STOCKETL_ROOT/conf/tables/bronze.schema"
	row() { # OPEN HIGH
		printf '{"symbol":"IBM","interval":"1min","trade_timestamp":"2025-06-02T13:30:00Z","trade_date":"2025-06-02","open":%s,"high":%s,"low":1.25,"close":-3.5,"volume":7,"batch_id":1,"ingested_at":"2025-06-02T13:31:00Z","source":"alphavantage"}\n' "$1" "$2"
	}
	row 1.234567 123456789012.12345600 | delta-append --app-id t --batch-id 1 wide
	delta-cat --binary wide | delta-append --app-id t --batch-id 1 copy
	run --separate-stderr delta-cat --columns open,high,low,close copy
	assert_success
	assert_output '{"open":1.234567,"high":123456789012.123456,"low":1.25,"close":-3.5}'
	row 1.2345678 1 | delta-append --app-id t --batch-id 2 wide
	run --separate-stderr delta-cat --binary --since-version 1 wide
	assert_failure 65
	assert_equal "$stderr" 'delta-cat: row 1: column open: more than 6 decimals, which a tick record cannot hold'
	row 1 1234567890123 | delta-append --app-id t --batch-id 3 wide
	run --separate-stderr delta-cat --binary --since-version 2 wide
	assert_failure 65
	assert_equal "$stderr" 'delta-cat: row 1: column high: more than 12 integer digits, which a tick record cannot hold'
}

@test "--since-version gives the rows data-changing commits added after a version" {
	T=$DELTA/delta-rs/simple_table
	# Version 3 (an UPDATE) added 106 and 108; version 4 deleted them again,
	# and its rows still count as added by version 3.
	run --separate-stderr delta-cat --since-version 2 "$T"
	assert_success
	assert_equal "$(firsts <<<"$output")" '[106,108]'
	run --separate-stderr delta-cat --since-version 1 "$T"
	assert_equal "$(firsts <<<"$output")" '[5,6,7,8,9,106,108]'
	run --separate-stderr delta-cat --since-version 1 --at-version 2 "$T"
	assert_equal "$(firsts <<<"$output")" '[5,6,7,8,9]'
	run --separate-stderr delta-cat --since-version 4 "$T"
	assert_success
	assert_output ''
	delta-create bronze --schema "$STOCKETL_ROOT/conf/tables/bronze.schema"
	for b in 1 2 3; do gen-ticks -a feed -i "$b" -d $((20240 + b)) 2 | delta-append bronze; done
	run --separate-stderr delta-cat --since-version 2 --columns trade_date bronze
	assert_output $'{"trade_date":"2025-06-04"}\n{"trade_date":"2025-06-04"}'
}

@test "--since-version needs every commit after it and a version not after the one read" {
	run --separate-stderr delta-cat --since-version 0 "$DELTA/dat/no_replay/delta"
	assert_failure 65
	assert_equal "$stderr" "delta-cat: $DELTA/dat/no_replay/delta: version 1 is no longer in the log (log cleanup); --since-version needs every commit after 0"
	# time travel below the oldest checkpoint says which version is the oldest readable
	# (on the bucket the commit store answers for the versions it never held)
	run --separate-stderr delta-cat --at-version 1 "$DELTA/dat/no_replay/delta"
	assert_failure 65
	if [ "${STOCKETL_TEST_LAKE:-local}" != s3 ]; then
		assert_equal "$stderr" "delta-cat: $DELTA/dat/no_replay/delta: version 1 is no longer in the log (log cleanup); the oldest version that can be read is 2"
	fi
	run --separate-stderr delta-cat --since-version 5 "$DELTA/delta-rs/simple_table"
	assert_failure 65
	assert_equal "$stderr" "delta-cat: $DELTA/delta-rs/simple_table: --since-version 5 is after the version read (4)"
}

@test "--batch-every N marks every N versions after --since-version as a batch named by its last version" {
	T=$DELTA/delta-rs/simple_table
	# Versions 2 (5-9), 3 (106, 108) and 4 (a delete: no rows): batches of
	# two, the last one short; a batch with no rows is still marked.
	run --separate-stderr delta-cat --since-version 1 --batch-every 2 --batch-app silver/bronze "$T"
	assert_success
	assert_equal "$(jq -c 'if .["@batch"] then .["@batch"] else .id end' <<<"$output" | paste -sd' ')" \
		'5 6 7 8 9 106 108 {"app":"silver/bronze","id":3,"records":7,"rejected":0,"status":"ok"} {"app":"silver/bronze","id":4,"records":0,"rejected":0,"status":"ok"}'
	# Binary frames carry the same markers: delta-append commits each batch
	# once, with its app and id as the txn.
	delta-create bronze --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	for b in 1 2 3 4 5; do gen-ticks -a feed -i "$b" -d $((20240 + b)) 2 | delta-append -q bronze; done
	delta-create silver --schema "$STOCKETL_ROOT/conf/tables/silver.schema" --partition-by trade_date \
		--merge-key symbol,interval,trade_timestamp
	delta-cat --binary --since-version 0 --batch-every 2 --batch-app s/b bronze | delta-append -q silver
	run bash -c "jq -r 'select(.txn) | \"\\(.txn.appId) \\(.txn.version)\"' '$STOCKETL_LAKE'/silver/_delta_log/*.json | paste -sd,"
	assert_output 's/b 2,s/b 4,s/b 5'
	assert_equal "$(delta-cat silver | wc -l)" 10
	# A second read of the same versions is skipped, batch by batch.
	run --separate-stderr bash -c 'delta-cat --binary --since-version 0 --batch-every 2 --batch-app s/b bronze | delta-append silver'
	assert_success
	assert_equal "$(delta-history --format json --limit 1 silver | jq .version)" 3
}

@test "--batch-every and --batch-app go together, with --since-version, and never as CSV" {
	T=$DELTA/delta-rs/simple_table
	for args in "--batch-every 2" "--batch-app a" "--batch-every 2 --batch-app a" \
		"--since-version 1 --batch-every 0 --batch-app a" "--since-version 1 --batch-every 2 --batch-app a --csv" \
		"--since-version 1 --batch-every 2 --batch-app ''"; do
		eval "run --separate-stderr delta-cat $args \"\$T\""
		assert_failure 64
		assert_equal "${#stderr_lines[@]}" 5
	done
}

@test "--at-timestamp reads the latest version committed at or before a time" {
	cp -r "$DELTA/delta-rs/simple_table" t
	for v in 0 1 2 3 4; do
		touch -d "2024-01-0$((v + 1))T12:00:00Z" "t/_delta_log/$(printf '%020d' "$v").json"
	done
	run --separate-stderr delta-cat --at-timestamp 2024-01-01T12:00:00Z ./t
	assert_success
	assert_equal "$(firsts <<<"$output")" '[0,1,2,3,4]'
	run --separate-stderr delta-cat --at-timestamp 2024-01-03 ./t
	assert_equal "$(jq -s length <<<"$output")" 20
	run --separate-stderr delta-cat --at-timestamp 2024-01-03T13:00:00+01:00 ./t
	assert_equal "$(firsts <<<"$output")" '[5,6,7,8,9]'
	run --separate-stderr delta-cat --at-timestamp 2030-01-01 ./t
	assert_equal "$(firsts <<<"$output")" '[5,7,9]'
	run --separate-stderr delta-cat --at-timestamp 2024-01-01T11:59:59Z ./t
	assert_failure 65
	assert_equal "$stderr" 'delta-cat: ./t: no version was committed at or before the timestamp (the oldest that can be read, version 0, was committed at 2024-01-01T12:00:00.000Z)'
}

# ict_table DIR FIRST: a table of versions 0 to 2 (delta-create, two
# delta-appends) whose commits from version FIRST on carry an in-commit
# timestamp, 1600000000000 + v * 100000 ms, in their commitInfo (the first
# action).  FIRST 0: enabled at the creation; else the commit at FIRST
# turns the feature on and records where (the enablement properties).
ict_table() {
	local v f
	delta-create "$1" --schema "$STOCKETL_ROOT/conf/tables/bronze.schema"
	for v in 1 2; do gen-ticks -i "$v" -m 2 | delta-append --app-id t --batch-id "$v" "$1"; done
	local protocol='{"protocol":{"minReaderVersion":1,"minWriterVersion":7,"writerFeatures":["inCommitTimestamp"]}}'
	local log=$1/_delta_log
	jq -c 'select(.metaData) | .metaData.configuration["delta.enableInCommitTimestamps"] = "true"' \
		"$log/$(printf '%020d' 0).json" >"$BATS_TEST_TMPDIR/meta"
	if [ "$2" != 0 ]; then
		jq -c --arg v "$2" --arg t $((1600000000000 + $2 * 100000)) \
			'.metaData.configuration += {"delta.inCommitTimestampEnablementVersion": $v,
			                            "delta.inCommitTimestampEnablementTimestamp": $t}' \
			"$BATS_TEST_TMPDIR/meta" >"$BATS_TEST_TMPDIR/meta.new"
		mv "$BATS_TEST_TMPDIR/meta.new" "$BATS_TEST_TMPDIR/meta"
	fi
	for v in 0 1 2; do
		f=$log/$(printf '%020d' "$v").json
		[ "$v" -ge "$2" ] || continue
		jq -c --argjson t $((1600000000000 + v * 100000)) \
			'if .commitInfo then .commitInfo.inCommitTimestamp = $t
			 elif .protocol or .metaData then empty else . end' "$f" >"$f.new"
		if [ "$v" = "$2" ]; then
			# (commitInfo stays the first action)
			{ head -1 "$f.new" && echo "$protocol" && cat "$BATS_TEST_TMPDIR/meta" && tail -n +2 "$f.new"; } >"$f"
			rm "$f.new"
		else
			mv "$f.new" "$f"
		fi
	done
}

@test "--at-timestamp goes by the in-commit timestamps of a table that has them, not the file times" {
	test_lake_skip "the test edits the log behind the commit store"
	ict_table ./t 0
	assert_equal "$(head -1 t/_delta_log/00000000000000000001.json | jq .commitInfo.inCommitTimestamp)" 1600000100000
	assert_equal "$(sed -n 2p t/_delta_log/00000000000000000000.json)" \
		'{"protocol":{"minReaderVersion":1,"minWriterVersion":7,"writerFeatures":["inCommitTimestamp"]}}'
	# the file times say version 2 was committed by 1600000090, long before the timestamps
	for v in 0 1 2; do touch -d @$((1600000000 + v * 45)) "t/_delta_log/$(printf '%020d' "$v").json"; done
	# exactly the in-commit timestamp of version 1
	run --separate-stderr delta-cat -v --columns symbol --at-timestamp 2020-09-13T12:28:20Z ./t
	assert_success
	assert_equal "${stderr_lines[0]}" 'delta-cat: ./t: version 1, committed at 2020-09-13T12:28:20.000Z'
	assert_equal "${#lines[@]}" 2
	run --separate-stderr delta-cat -v --at-timestamp 2020-09-13T12:29:59.999Z ./t
	assert_equal "${stderr_lines[0]}" 'delta-cat: ./t: version 1, committed at 2020-09-13T12:28:20.000Z'
	run --separate-stderr delta-cat -v --at-timestamp 2020-09-13T12:30:00Z ./t
	assert_equal "${stderr_lines[0]}" 'delta-cat: ./t: version 2, committed at 2020-09-13T12:30:00.000Z'
	assert_equal "${#lines[@]}" 4
	# after the last commit: the latest version
	run --separate-stderr delta-cat -v --at-timestamp 2030-01-01 ./t
	assert_success
	assert_equal "${stderr_lines[0]}" 'delta-cat: ./t: version 2, committed at 2020-09-13T12:30:00.000Z'
	# before the first, though the file of version 0 is older
	run --separate-stderr delta-cat --at-timestamp 2020-09-13T12:26:39.999Z ./t
	assert_failure 65
	assert_equal "$stderr" 'delta-cat: ./t: no version was committed at or before the timestamp (the oldest that can be read, version 0, was committed at 2020-09-13T12:26:40.000Z)'
	# the writers keep them: version 3, now, is found by the time of its own
	gen-ticks -i 3 -m 2 | delta-append -q --app-id t --batch-id 3 ./t
	ict=$(head -1 t/_delta_log/00000000000000000003.json | jq .commitInfo.inCommitTimestamp)
	[ "$ict" -gt 1600000200000 ]
	run --separate-stderr delta-cat -v --columns symbol --at-timestamp "$(date -u -d "@$((ict / 1000))" +%Y-%m-%dT%H:%M:%S).999Z" ./t
	assert_equal "${stderr_lines[0]}" "delta-cat: ./t: version 3, committed at $(date -u -d "@$((ict / 1000))" +%Y-%m-%dT%H:%M:%S).$(printf '%03d' $((ict % 1000)))Z"
	# a commit without its timestamp is a damaged log
	jq -c 'if .commitInfo then del(.commitInfo.inCommitTimestamp) else . end' \
		t/_delta_log/00000000000000000001.json >c && cat c >t/_delta_log/00000000000000000001.json
	run --separate-stderr delta-cat --at-timestamp 2020-09-13T12:28:20Z ./t
	assert_failure 65
	assert_equal "$stderr" 'delta-cat: ./t: version 1: the table has in-commit timestamps, but the commit'"'"'s first action is not a commitInfo with an inCommitTimestamp'
}

@test "--at-timestamp on a table that turned in-commit timestamps on later goes by file times before the enablement" {
	test_lake_skip "the test edits the log behind the commit store"
	ict_table ./t 2
	# the file of version 2, touched since, is older than the others: its in-commit timestamp counts
	touch -d @1600000000 t/_delta_log/00000000000000000000.json
	touch -d @1600000045 t/_delta_log/00000000000000000001.json
	touch -d @1600000010 t/_delta_log/00000000000000000002.json
	run --separate-stderr delta-cat -v --at-timestamp 2020-09-13T12:26:44Z ./t
	assert_equal "${stderr_lines[0]}" 'delta-cat: ./t: version 0, committed at 2020-09-13T12:26:40.000Z'
	run --separate-stderr delta-cat -v --at-timestamp 2020-09-13T12:27:25Z ./t
	assert_equal "${stderr_lines[0]}" 'delta-cat: ./t: version 1, committed at 2020-09-13T12:27:25.000Z'
	run --separate-stderr delta-cat -v --at-timestamp 2020-09-13T12:29:59.999Z ./t
	assert_equal "${stderr_lines[0]}" 'delta-cat: ./t: version 1, committed at 2020-09-13T12:27:25.000Z'
	# from the enablement timestamp on, only the versions from the enablement count
	run --separate-stderr delta-cat -v --at-timestamp 2020-09-13T12:30:00Z ./t
	assert_equal "${stderr_lines[0]}" 'delta-cat: ./t: version 2, committed at 2020-09-13T12:30:00.000Z'
	run --separate-stderr delta-cat --at-timestamp 2020-09-13T12:26:39Z ./t
	assert_failure 65
	assert_equal "$stderr" 'delta-cat: ./t: no version was committed at or before the timestamp (the oldest that can be read, version 0, was committed at 2020-09-13T12:26:40.000Z)'
	# the two properties go together
	jq -c 'if .metaData then .metaData.configuration |= del(.["delta.inCommitTimestampEnablementTimestamp"]) else . end' \
		t/_delta_log/00000000000000000002.json >m && cat m >t/_delta_log/00000000000000000002.json
	run --separate-stderr delta-cat --at-timestamp 2020-09-13T12:30:00Z ./t
	assert_failure 65
	assert_equal "$stderr" 'delta-cat: ./t: delta.inCommitTimestampEnablementVersion and delta.inCommitTimestampEnablementTimestamp must be set together, as integers'
}

@test "--at-timestamp makes file times increasing: a commit not after the one before counts as 1 ms after it" {
	cp -r "$DELTA/delta-rs/simple_table" t
	B=1700000000
	for v in 0 1 2 3 4; do
		touch -d @$((B + (v == 1 ? 300 : v == 2 ? 200 : v * 100))) "t/_delta_log/$(printf '%020d' "$v").json"
	done
	# version 2's file says B+200, but it counts as B+300.001
	run --separate-stderr delta-cat -v --at-timestamp "$(date -u -d @$((B + 250)) +%FT%TZ)" ./t
	assert_success
	assert_equal "${stderr_lines[0]}" 'delta-cat: ./t: version 0, committed at 2023-11-14T22:13:20.000Z'
	assert_equal "$(firsts <<<"$output")" '[0,1,2,3,4]'
	run --separate-stderr delta-cat -v --at-timestamp 2023-11-14T22:18:20.001Z ./t
	assert_equal "${stderr_lines[0]}" 'delta-cat: ./t: version 2, committed at 2023-11-14T22:18:20.001Z'
	assert_equal "$(firsts <<<"$output")" '[5,6,7,8,9]'
	# version 3 (B+300) is not after version 2 either: B+300.002
	run --separate-stderr delta-cat -v --at-timestamp 2023-11-14T22:18:20.002Z ./t
	assert_equal "${stderr_lines[0]}" 'delta-cat: ./t: version 3, committed at 2023-11-14T22:18:20.002Z'
	run --separate-stderr delta-cat -v --at-timestamp 2023-11-14T22:19:59Z ./t
	assert_equal "${stderr_lines[0]}" 'delta-cat: ./t: version 3, committed at 2023-11-14T22:18:20.002Z'
	run --separate-stderr delta-cat -v --at-timestamp 2023-11-14T22:20:00Z ./t
	assert_equal "${stderr_lines[0]}" 'delta-cat: ./t: version 4, committed at 2023-11-14T22:20:00.000Z'
}

@test "--at-timestamp after log cleanup starts the times at the oldest version that can be read" {
	cp -r "$DELTA/delta-golden/basic-with-inserts-deletes-checkpoint" t
	# cleanup left 8 and 9, which the checkpoint at 10 makes unreadable, with later times
	rm t/_delta_log/0000000000000000000[0-7].json
	B=1700000000
	touch -d @$((B + 1000)) t/_delta_log/0000000000000000000[89].json
	touch -d @$((B + 100)) t/_delta_log/00000000000000000010.json
	touch -d @$((B + 200)) t/_delta_log/00000000000000000011.json
	touch -d @$((B + 50)) t/_delta_log/00000000000000000012.json
	touch -d @$((B + 300)) t/_delta_log/00000000000000000013.json
	run --separate-stderr delta-cat -v --at-timestamp "$(date -u -d @$((B + 150)) +%FT%TZ)" ./t
	assert_success
	assert_equal "${stderr_lines[0]}" 'delta-cat: ./t: version 10, committed at 2023-11-14T22:15:00.000Z (from a checkpoint)'
	run --separate-stderr delta-cat -v --at-timestamp "$(date -u -d @$((B + 250)) +%FT%TZ)" ./t
	assert_equal "${stderr_lines[0]}" 'delta-cat: ./t: version 12, committed at 2023-11-14T22:16:40.001Z (from a checkpoint)'
	run --separate-stderr delta-cat --at-timestamp "$(date -u -d @$((B + 99)) +%FT%TZ)" ./t
	assert_failure 65
	assert_equal "$stderr" 'delta-cat: ./t: no version was committed at or before the timestamp (the oldest that can be read, version 10, was committed at 2023-11-14T22:15:00.000Z)'
}

@test "a table given by name is found under the lake root" {
	delta-create ticks --schema "$STOCKETL_ROOT/conf/tables/bronze.schema"
	gen-ticks -m 3 | delta-append --app-id t --batch-id 1 ticks
	run --separate-stderr delta-cat --columns symbol ticks
	assert_success
	assert_output $'{"symbol":"NVDA"}\n{"symbol":"TSLA"}\n{"symbol":"IBM"}'
}

@test "usage errors: options, expressions and columns" {
	T=$DELTA/delta-rs/simple_table
	run --separate-stderr delta-cat
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-cat: no table given'
	run --separate-stderr delta-cat --binary --csv "$T"
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-cat: --binary and --csv exclude each other'
	run --separate-stderr delta-cat --at-version 1 --at-timestamp 2024-01-01 "$T"
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-cat: --at-timestamp and --at-version exclude each other'
	run --separate-stderr delta-cat --at-version one "$T"
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "delta-cat: --at-version: expected an integer from 0 to 9223372036854775807, got 'one'"
	# --version N once picked a table version: a script that still says so
	# gets an error, not the program's version as data.
	run --separate-stderr delta-cat --version 1 "$T"
	assert_failure 64
	assert_equal "$output" ''
	assert_equal "${stderr_lines[0]}" "delta-cat: --version takes nothing else; a table version is --at-version N"
	run --separate-stderr delta-cat --at-timestamp yesterday "$T"
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "delta-cat: --at-timestamp: expected an RFC 3339 date-time (2024-01-02T15:04:05Z) or a date (2024-01-02), got 'yesterday'"
	run --separate-stderr delta-cat --where "id = 1 or id = 2" "$T"
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-cat: --where: only "and" joins comparisons ("or" at character 8)'
	run --separate-stderr delta-cat --where "id >" "$T"
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-cat: --where: expected a value (a number, a quoted string, true or false) at the end'
	run --separate-stderr delta-cat --where "id = 'x" "$T"
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-cat: --where: unterminated string at character 6'
	run --separate-stderr delta-cat --where "id = null" "$T"
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-cat: --where: a comparison with null is never true; write "id is null" or "id is not null"'
}

@test "unknown columns and literals that do not fit are usage errors" {
	T=$DELTA/delta-rs/simple_table
	run --separate-stderr delta-cat --where "nope = 1" "$T"
	assert_failure 64
	assert_equal "$stderr" "delta-cat: --where: no column nope in $T (its columns: id)"
	run --separate-stderr delta-cat --columns id,nope "$T"
	assert_failure 64
	assert_equal "$stderr" "delta-cat: --columns: no column nope in $T (its columns: id)"
	run --separate-stderr delta-cat --where "id = 2.5" "$T"
	assert_failure 64
	assert_equal "$stderr" 'delta-cat: --where: column id is long: the value must be a 64-bit integer'
	run --separate-stderr delta-cat --where "year = 2021" "$DELTA/delta-rs/delta-0.8.0-partitioned"
	assert_failure 64
	assert_equal "$stderr" 'delta-cat: --where: column year is string: write the value in quotes'
	run --separate-stderr delta-cat --where "date = 'May 1'" "$DELTA/dat/no_stats/delta"
	assert_failure 64
	assert_equal "$stderr" "delta-cat: --where: column date is date: the value must be a date 'YYYY-MM-DD'"
}

@test "errors reading the table: none there, a version it does not have, a missing file" {
	run --separate-stderr delta-cat ./nothing
	assert_failure 65
	assert_equal "$stderr" 'delta-cat: ./nothing: not a Delta table (no _delta_log)'
	run --separate-stderr delta-cat --at-version 9 "$DELTA/delta-rs/simple_table"
	assert_failure 65
	assert_equal "$stderr" "delta-cat: $DELTA/delta-rs/simple_table: version 9 does not exist (the latest is 4)"
	cp -r "$DELTA/delta-rs/delta-0.8.0" t
	rm t/part-00000-04ec9591-0b73-459e-8d18-ba5711d6cbe1-c000.snappy.parquet
	run --separate-stderr delta-cat ./t
	assert_failure 65
	assert_equal "$stderr" "delta-cat: ./t/part-00000-04ec9591-0b73-459e-8d18-ba5711d6cbe1-c000.snappy.parquet: No such file or directory (a data file the log names is gone: deleted by hand, or, for a version older than the table's delta.deletedFileRetentionDuration, by VACUUM)"
}

@test "a reader that goes away ends the output without a message" {
	new_table t "$(schema id:long s:string)"
	add_file t 0 part-0.parquet "SELECT i AS id, repeat('x', 100) AS s FROM range(100000) t(i)"
	run bash -c 'delta-cat ./t 2>err | head -n 1; echo "status ${PIPESTATUS[0]}"'
	assert_output $'{"id":0,"s":"'"$(printf 'x%.0s' $(seq 100))"$'"}\nstatus 0'
	assert_equal "$(cat err)" ''
}

@test "a full disk is an I/O error with a message, in every format" {
	for format in --csv ''; do
		run --separate-stderr bash -c "delta-cat $format '$DELTA/delta-rs/simple_table' >/dev/full"
		assert_failure 74
		assert_equal "$stderr" 'delta-cat: stdout: write error: No space left on device'
	done
}

@test "a read that fails partway ends its rows with a failed marker: with --batch-every, of the batch being read (its last version as id)" {
	printf 'v long\n' >v.schema
	delta-create ./src --schema v.schema
	for b in 1 2 3 4 5 6; do
		seq $((b * 10)) $((b * 10 + 4)) | sed 's/.*/{"v":&}/' | delta-append -q --app-id a --batch-id "$b" ./src
	done
	f=./src/$(jq -r 'select(.add) | .add.path' src/_delta_log/00000000000000000004.json)
	printf '\377\377\377\377' | dd of="$f" bs=1 seek=20 conv=notrunc 2>/dev/null
	run --separate-stderr delta-cat --since-version 0 --batch-every 2 --batch-app A ./src
	assert_failure 65
	assert_equal "${#lines[@]}" 17
	assert_equal "${lines[10]}" '{"@batch":{"app":"A","id":2,"records":10,"rejected":0,"status":"ok"}}'
	assert_equal "${lines[16]}" '{"@batch":{"app":"A","id":4,"records":5,"rejected":0,"status":"failed"}}'
	# as CSV no marker can be written: the exit status alone says the rows are not all
	run --separate-stderr delta-cat --csv ./src
	assert_failure 65
	refute_output --partial '@batch'
}

@test "--where takes a float literal as the programs print it (NaN, Infinity, -Infinity) and refuses one no row can hold (1e400, inf)" {
	printf 'v long\nd double\n' >d.schema
	delta-create ./fd --schema d.schema
	printf '%s\n' '{"v":1,"d":"Infinity"}' '{"v":2,"d":"NaN"}' '{"v":3,"d":1.5}' | delta-append -q --app-id a --batch-id 1 ./fd
	assert_equal "$(delta-cat --where "d = 'Infinity'" --columns v ./fd)" '{"v":1}'
	# a NaN satisfies only != (delta-cat(1))
	assert_equal "$(delta-cat --where "d = 'NaN'" --columns v ./fd | wc -l)" 0
	assert_equal "$(delta-cat --where "d != 'NaN'" --columns v ./fd | wc -l)" 3
	run --separate-stderr delta-cat --where 'd < 1e400' ./fd
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-cat: --where: column d is double: out of range for double'
	run --separate-stderr delta-cat --where "d = 'inf'" ./fd
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-cat: --where: column d is double: the value must be a number (or NaN, Infinity, -Infinity, as printed)'
}

@test "a string that is not UTF-8 reads as U+FFFD in JSON (the text stays UTF-8), and a tick frame refuses it with 65" {
	cp -r "$FIXTURES/not-utf8/ticks" ./t
	run --separate-stderr delta-cat --columns symbol ./t
	assert_success
	assert_output $'{"symbol":"ABC"}\n{"symbol":"A\xef\xbf\xbdB"}'
	delta-cat ./t | iconv -f UTF-8 -t UTF-8 >/dev/null
	run --separate-stderr bash -o pipefail -c 'delta-cat --binary ./t | od -An -c'
	assert_failure 65
	assert_equal "$stderr" 'delta-cat: row 2: column symbol: bytes that are not UTF-8, which a tick record cannot hold'
	# parquet-cat alike, on the file alone
	f=t/trade_date=2024-10-04/part-00001-not-utf8.zstd.parquet
	run --separate-stderr parquet-cat --columns symbol "$f"
	assert_success
	assert_output $'{"symbol":"A\xef\xbf\xbdB"}'
	run --separate-stderr bash -o pipefail -c "parquet-cat --binary '$f' | od -An -c"
	assert_failure 65
	assert_equal "$stderr" "parquet-cat: $f: row 1: symbol holds bytes that are not UTF-8"
}

# dv_table DIR: a copy of delta-rs's table-with-dv-small (ten rows, values
# 0 to 9; version 1 deletes 0 and 9 with a deletion vector in a file).
dv_table() {
	cp -r "$DELTA/delta-rs/table-with-dv-small" "$1"
	chmod -R u+w "$1"
}

# values DIR [ARGS...]: delta-cat's values of DIR, comma-separated.
values() {
	local t=$1
	shift
	delta-cat "$@" "$t" | jq -c .value | paste -sd,
}

@test "deletion vectors: the rows a vector deletes are left out, whether it is in a file of the table or inline; --since-version reads no rows from a delete" {
	dv_table dv
	assert_equal "$(values ./dv)" 1,2,3,4,5,6,7,8
	assert_equal "$(values ./dv --at-version 0)" 0,1,2,3,4,5,6,7,8,9
	assert_equal "$(values ./dv --where 'value > 5')" 6,7,8
	run --separate-stderr delta-cat --since-version 0 ./dv
	assert_success
	assert_output ''
	# Inline vectors (Z85 in the log): rows 1 and 3, then 0, 5 and 9.
	for spec in '36 2 ^Bg9^0rr910000000000iXQKl0rr91000315c8Xg0rri4 0,2,4,5,6,7,8,9' \
		'38 3 ^Bg9^0rr910000000000iXQKl0rr91000625c8Xg000f52(<@9 1,2,3,4,6,7,8'; do
		read -r size card z85 want <<<"$spec"
		rm -rf inl
		dv_table inl
		jq -c --argjson s "$size" --argjson c "$card" --arg z "$z85" \
			'if .add then .add.deletionVector = {storageType: "i", pathOrInlineDv: $z, sizeInBytes: $s, cardinality: $c} else . end' \
			dv/_delta_log/00000000000000000001.json >inl/_delta_log/00000000000000000001.json
		assert_equal "$(values ./inl)" "$want"
	done
	# A vector at an absolute path, a URI as add.path is: its %20 is a space.
	mkdir -p "ext dir"
	cp dv/deletion_vector_*.bin "ext dir/x.bin"
	rm -rf abs
	dv_table abs
	jq -c --arg p "file://$PWD/ext%20dir/x.bin" \
		'if .add then .add.deletionVector = {storageType: "p", pathOrInlineDv: $p, offset: 1, sizeInBytes: 36, cardinality: 2} else . end' \
		dv/_delta_log/00000000000000000001.json >abs/_delta_log/00000000000000000001.json
	assert_equal "$(values ./abs)" 1,2,3,4,5,6,7,8
	# A vector whose cardinality is not its rows', a damaged one, a missing one: 65.
	jq -c 'if .add then .add.deletionVector.cardinality = 3 else . end' \
		dv/_delta_log/00000000000000000001.json >inl/_delta_log/00000000000000000001.json
	run --separate-stderr delta-cat ./inl
	assert_failure 65
	assert_regex "$stderr" 'deletion vector of part-00000-fae5310a-[^:]*: it holds other than the number of rows its cardinality says$'
	f=$(echo dv/deletion_vector_*.bin)
	printf '\x08' | dd of="$f" bs=1 seek=38 conv=notrunc status=none
	run --separate-stderr delta-cat ./dv
	assert_failure 65
	assert_regex "$stderr" 'deletion vector of part-00000-[^:]*: its checksum does not match \(a damaged file\)$'
	rm "$f"
	run --separate-stderr delta-cat ./dv
	assert_failure 65
	assert_regex "$stderr" "deletion vector of part-00000-[^:]*: [^:]*/dv/deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin: No such file or directory$"
}

@test "a deletion vector that marks a row past its data file's last is not that file's: exit 65, naming the file and the vector" {
	# Inline, rows 1 and 10 of a file of ten rows (0 to 9).
	dv_table inl
	jq -c --arg z '^Bg9^0rr910000000000iXQKl0rr91000315c8Xg0rrDb' \
		'if .add then .add.deletionVector = {storageType: "i", pathOrInlineDv: $z, sizeInBytes: 36, cardinality: 2} else . end' \
		"$DELTA/delta-rs/table-with-dv-small/_delta_log/00000000000000000001.json" >inl/_delta_log/00000000000000000001.json
	run --separate-stderr delta-cat ./inl
	assert_failure 65
	assert_output ''
	assert_equal "$stderr" "delta-cat: ./inl: deletion vector of part-00000-fae5310a-a37d-4e51-827b-c3d5516560ca-c000.snappy.parquet: the vector inline in the log marks row 10, past the file's last (it has 10 rows): it is not this file's"
	# In a file of the table: the vector of the ten-row file (rows 0 and 9) given to a file of five rows.
	dv_table dv
	add_file dv 2 small.parquet 'SELECT range::INT AS value FROM range(5)'
	jq -c '.add | select(.) | .deletionVector' dv/_delta_log/00000000000000000001.json >dv.json
	jq -c --slurpfile d dv.json '.add.deletionVector = $d[0]' dv/_delta_log/00000000000000000002.json >v2.json
	mv v2.json dv/_delta_log/00000000000000000002.json
	run --separate-stderr delta-cat ./dv
	assert_failure 65
	assert_equal "$stderr" "delta-cat: ./dv: deletion vector of small.parquet: the vector in deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin at offset 1 marks row 9, past the file's last (it has 5 rows): it is not this file's"
	# The vector's own file reads as before, and so do the rows of a version before the stray one.
	assert_equal "$(values ./dv --at-version 1)" 1,2,3,4,5,6,7,8
	# delta-compact's optimize reads the files as delta-cat does.
	mkdir lake
	mv dv lake/dv
	run --separate-stderr delta-compact --optimize dv
	assert_failure 65
	assert_regex "$stderr" "deletion vector of small.parquet: the vector in deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin at offset 1 marks row 9, past the file's last \(it has 5 rows\): it is not this file's$"
}

@test "deletion vectors in a checkpoint another writer made (DuckDB), read column by column and row by row; the remove of the file's older self may come after its add" {
	local cols="NULL::STRUCT(minReaderVersion INT, minWriterVersion INT, readerFeatures VARCHAR[], writerFeatures VARCHAR[]) AS protocol,
		NULL::STRUCT(id VARCHAR, name VARCHAR, description VARCHAR, format STRUCT(provider VARCHAR, options MAP(VARCHAR, VARCHAR)), schemaString VARCHAR, partitionColumns VARCHAR[], configuration MAP(VARCHAR, VARCHAR), createdTime BIGINT) AS metaData,
		NULL::STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, STATS tags MAP(VARCHAR, VARCHAR), deletionVector STRUCT(storageType VARCHAR, pathOrInlineDv VARCHAR, \"offset\" INT, sizeInBytes INT, cardinality BIGINT)) AS \"add\",
		NULL::STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, extendedFileMetadata BOOLEAN, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, deletionVector STRUCT(storageType VARCHAR, pathOrInlineDv VARCHAR, \"offset\" INT, sizeInBytes INT, cardinality BIGINT)) AS \"remove\""
	local file=part-00000-fae5310a-a37d-4e51-827b-c3d5516560ca-c000.snappy.parquet
	local schema='{"type":"struct","fields":[{"name":"value","type":"integer","nullable":true,"metadata":{}}]}'
	# With add.stats the checkpoint is read column by column; with stats_parsed
	# alone (delta.checkpoint.writeStatsAsJson=false), row by row.
	local stats addstats
	for how in json parsed; do
		if [ $how = json ]; then
			stats="stats VARCHAR," addstats="'stats': '{\"numRecords\":10}',"
		else
			stats="stats_parsed STRUCT(numRecords BIGINT)," addstats="'stats_parsed': {'numRecords': 10},"
		fi
		rm -rf c
		dv_table c
		duckdb-query.js "COPY (WITH t AS (SELECT ${cols//STATS/$stats})
			SELECT * REPLACE ({'minReaderVersion': 3, 'minWriterVersion': 7, 'readerFeatures': ['deletionVectors'], 'writerFeatures': ['deletionVectors']} AS protocol) FROM t
			UNION ALL BY NAME SELECT * REPLACE ({'id': 'testId', 'name': NULL, 'description': NULL, 'format': {'provider': 'parquet', 'options': MAP {}}, 'schemaString': '$schema', 'partitionColumns': [], 'configuration': MAP {'delta.enableDeletionVectors': 'true'}, 'createdTime': 1677811175819} AS metaData) FROM t
			UNION ALL BY NAME SELECT * REPLACE ({'path': '$file', 'partitionValues': MAP {}, 'size': 635, 'modificationTime': 1677811178336, 'dataChange': false, $addstats 'tags': NULL, 'deletionVector': {'storageType': 'u', 'pathOrInlineDv': 'vBn[lx{q8@P<9BNH/isA', 'offset': 1, 'sizeInBytes': 36, 'cardinality': 2}} AS \"add\") FROM t
			UNION ALL BY NAME SELECT * REPLACE ({'path': '$file', 'deletionTimestamp': 1677811194426, 'dataChange': true, 'extendedFileMetadata': true, 'partitionValues': MAP {}, 'size': 635, 'deletionVector': NULL} AS \"remove\") FROM t
			) TO 'c/_delta_log/00000000000000000001.checkpoint.parquet' (FORMAT parquet)" >/dev/null
		echo '{"version":1,"size":4}' >c/_delta_log/_last_checkpoint
		# only the checkpoint says what version 1 is
		rm c/_delta_log/0000000000000000000[01].json
		assert_equal "$(values ./c)" 1,2,3,4,5,6,7,8
	done
}

# mapped_table DIR MODE: a table with column mapping in mode MODE (name or
# id): columns id, name, s.x and the partition column day, whose physical
# names (col-aaa ...) and ids (1 to 5) the files, partition values and
# statistics use.  Its second file was written under other names (a_old
# ...) with the same field ids, as after renames.
mapped_table() {
	local d=$1 mode=$2 schema
	mkdir -p "$d/_delta_log" "$d/p1"
	duckdb-query.js "COPY (SELECT * FROM (VALUES (1::BIGINT, 'a', {'col-ccc': 10}), (2::BIGINT, NULL, {'col-ccc': 20})) v(\"col-aaa\", \"col-bbb\", \"col-ddd\"))
		TO '$d/p1/part-0.parquet' (FORMAT parquet, FIELD_IDS {\"col-aaa\": 1, \"col-bbb\": 2, \"col-ddd\": {__duckdb_field_id: 3, \"col-ccc\": 4}})" >/dev/null
	duckdb-query.js "COPY (SELECT * FROM (VALUES (3::BIGINT, 'c', {'x_old': 30})) v(\"a_old\", \"b_old\", \"d_old\"))
		TO '$d/p1/part-1.parquet' (FORMAT parquet, FIELD_IDS {\"a_old\": 1, \"b_old\": 2, \"d_old\": {__duckdb_field_id: 3, \"x_old\": 4}})" >/dev/null
	m() { printf '{"delta.columnMapping.id":%d,"delta.columnMapping.physicalName":"%s"}' "$1" "$2"; }
	schema=$(jq -cn --argjson ma "$(m 1 col-aaa)" --argjson mb "$(m 2 col-bbb)" --argjson mc "$(m 4 col-ccc)" \
		--argjson md "$(m 3 col-ddd)" --argjson me "$(m 5 col-eee)" '{type: "struct", fields: [
			{name: "id", type: "long", nullable: true, metadata: $ma},
			{name: "name", type: "string", nullable: true, metadata: $mb},
			{name: "s", type: {type: "struct", fields: [{name: "x", type: "integer", nullable: true, metadata: $mc}]}, nullable: true, metadata: $md},
			{name: "day", type: "date", nullable: true, metadata: $me}]}' | jq -R .)
	{
		echo '{"protocol":{"minReaderVersion":2,"minWriterVersion":5}}'
		echo "{\"metaData\":{\"id\":\"cm\",\"format\":{\"provider\":\"parquet\",\"options\":{}},\"schemaString\":$schema,\"partitionColumns\":[\"day\"],\"configuration\":{\"delta.columnMapping.mode\":\"$mode\",\"delta.columnMapping.maxColumnId\":\"5\"},\"createdTime\":1}}"
		echo '{"add":{"path":"p1/part-0.parquet","partitionValues":{"col-eee":"2024-01-01"},"size":1,"modificationTime":1,"dataChange":true,"stats":"{\"numRecords\":2,\"minValues\":{\"col-aaa\":1,\"col-ddd\":{\"col-ccc\":10}},\"maxValues\":{\"col-aaa\":2,\"col-ddd\":{\"col-ccc\":20}},\"nullCount\":{\"col-aaa\":0,\"col-bbb\":1}}"}}'
		echo '{"add":{"path":"p1/part-1.parquet","partitionValues":{"col-eee":"2024-01-02"},"size":1,"modificationTime":1,"dataChange":true,"stats":"{\"numRecords\":1,\"minValues\":{\"col-aaa\":3},\"maxValues\":{\"col-aaa\":3},\"nullCount\":{\"col-aaa\":0}}"}}'
	} >"$d/_delta_log/00000000000000000000.json"
}

@test "column mapping: mode name reads columns, partition values and statistics by physical names, mode id by field ids" {
	mapped_table ./n name
	mapped_table ./i id
	# By name: the file written under other names has none of the columns.
	run -0 delta-cat ./n
	assert_output '{"id":1,"name":"a","s":{"x":10},"day":"2024-01-01"}
{"id":2,"name":null,"s":{"x":20},"day":"2024-01-01"}
{"id":null,"name":null,"s":null,"day":"2024-01-02"}'
	# By id: it has them all.
	run -0 delta-cat ./i
	assert_output '{"id":1,"name":"a","s":{"x":10},"day":"2024-01-01"}
{"id":2,"name":null,"s":{"x":20},"day":"2024-01-01"}
{"id":3,"name":"c","s":{"x":30},"day":"2024-01-02"}'
	# Files are skipped by the statistics and partition values of the physical names.
	run --separate-stderr delta-cat -v --where 'id > 2' ./i
	assert_output '{"id":3,"name":"c","s":{"x":30},"day":"2024-01-02"}'
	assert_equal "${stderr_lines[1]}" 'delta-cat: skipped 1 of 2 files (0 by partition values, 1 by statistics) and 0 of 1 row groups; 1 of 1 rows read matched'
	run --separate-stderr delta-cat -v --where "day = '2024-01-02'" --columns id,day ./i
	assert_output '{"id":3,"day":"2024-01-02"}'
	assert_equal "${stderr_lines[1]}" 'delta-cat: skipped 1 of 2 files (1 by partition values, 0 by statistics) and 0 of 1 row groups; 1 of 1 rows read matched'
	# A mode the protocol names but a field without its physical name is malformed.
	jq -c 'if .metaData then .metaData.schemaString |= sub("col-bbb"; "") | .metaData.schemaString |= sub(",\"delta.columnMapping.physicalName\":\"\""; "") else . end' \
		i/_delta_log/00000000000000000000.json >bad.json
	mkdir -p bad/_delta_log
	cp bad.json bad/_delta_log/00000000000000000000.json
	run --separate-stderr delta-cat ./bad
	assert_failure 65
	assert_regex "$stderr" 'column mapping: field "name" has no delta.columnMapping.physicalName in its metadata$'
}

@test "column mapping counts only where the protocol has it: reader version 2, or 3 with columnMapping; elsewhere columns go by their names" {
	# The file has the column under its name and under its physical name.
	new_table ./t "$(jq -nc '{type: "struct", fields: [{name: "id", type: "long", nullable: true,
		metadata: {"delta.columnMapping.id": 1, "delta.columnMapping.physicalName": "col-x"}}]}')"
	jq -c 'if .metaData then .metaData.configuration = {"delta.columnMapping.mode": "name"} else . end' \
		t/_delta_log/00000000000000000000.json >v0.json
	mv v0.json t/_delta_log/00000000000000000000.json
	add_file ./t 0 a.parquet 'SELECT 1::BIGINT AS id, 2::BIGINT AS "col-x"'
	echo '{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["timestampNtz"],"writerFeatures":["timestampNtz"]}}' \
		>t/_delta_log/00000000000000000001.json
	echo '{"protocol":{"minReaderVersion":2,"minWriterVersion":5}}' >t/_delta_log/00000000000000000002.json
	echo '{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["columnMapping"],"writerFeatures":["columnMapping"]}}' \
		>t/_delta_log/00000000000000000003.json
	run -0 delta-cat --at-version 0 ./t
	assert_output '{"id":1}'
	run -0 delta-cat --at-version 1 ./t
	assert_output '{"id":1}'
	run -0 delta-cat --at-version 2 ./t
	assert_output '{"id":2}'
	run -0 delta-cat ./t
	assert_output '{"id":2}'
	# The property without the protocol asks nothing of the fields' metadata.
	mkdir -p u/_delta_log
	cp t/a.parquet u/
	jq -c 'if .metaData then .metaData.schemaString |= sub(",?\"delta.columnMapping.physicalName\":\"col-x\""; "") else . end' \
		t/_delta_log/00000000000000000000.json >u/_delta_log/00000000000000000000.json
	run -0 delta-cat ./u
	assert_output '{"id":1}'
	cp t/_delta_log/00000000000000000002.json u/_delta_log/00000000000000000001.json
	run --separate-stderr delta-cat ./u
	assert_failure 65
	assert_regex "$stderr" 'version 1, line 1: column mapping: field "id" has no delta.columnMapping.physicalName in its metadata$'
}

# The data file that version V of table T added (the first).
added_file() { jq -r 'select(.add) | .add.path' "$1/_delta_log/$(printf '%020d' "$2").json" | head -n 1; }

@test "column mapping: the writers name columns, partition values and statistics by physical names, and give mode id's field ids; upserts, their change data files and compaction keep them" {
	mapped_table ./n name
	mapped_table ./i id
	for t in n i; do
		echo '{"id":9,"name":"z","s":{"x":90},"day":"2024-01-03"}' | delta-append -q "./$t"
		run -0 jq -c 'select(.add) | .add | [.partitionValues, (.stats | fromjson)]' "$t/_delta_log/00000000000000000001.json"
		assert_output '[{"col-eee":"2024-01-03"},{"numRecords":1,"minValues":{"col-aaa":9,"col-bbb":"z","col-ddd":{"col-ccc":90}},"maxValues":{"col-aaa":9,"col-bbb":"z","col-ddd":{"col-ccc":90}},"nullCount":{"col-aaa":0,"col-bbb":0,"col-ddd":{"col-ccc":0}}}]'
	done
	# the files: physical names, and field ids in mode id only
	run -0 duckdb-query.js "SELECT list(name || ':' || coalesce(field_id::VARCHAR, '-') ORDER BY name) AS f FROM parquet_schema('i/$(added_file i 1)') WHERE name <> 'schema'"
	assert_output '{"f":["col-aaa:1","col-bbb:2","col-ccc:4","col-ddd:3"]}'
	run -0 duckdb-query.js "SELECT list(name || ':' || coalesce(field_id::VARCHAR, '-') ORDER BY name) AS f FROM parquet_schema('n/$(added_file n 1)') WHERE name <> 'schema'"
	assert_output '{"f":["col-aaa:-","col-bbb:-","col-ccc:-","col-ddd:-"]}'
	run -0 delta-cat --where 'id = 9' ./n
	assert_output '{"id":9,"name":"z","s":{"x":90},"day":"2024-01-03"}'
	# an upsert finds its keys' files by the physical statistics and rewrites them under the physical names
	printf '%s\n' '{"id":1,"name":"A","s":{"x":11},"day":"2024-01-01"}' '{"id":3,"name":"C","s":null,"day":"2024-01-02"}' |
		delta-append -q --merge-key id ./i
	run -0 jq -c 'select(.commitInfo) | .commitInfo.operationMetrics | [.numTargetFilesRemoved, .numTargetRowsUpdated, .numTargetRowsCopied]' i/_delta_log/00000000000000000002.json
	assert_output '["2","2","1"]'
	run -0 bash -c 'delta-cat ./i | sort'
	assert_output '{"id":1,"name":"A","s":{"x":11},"day":"2024-01-01"}
{"id":2,"name":null,"s":{"x":20},"day":"2024-01-01"}
{"id":3,"name":"C","s":null,"day":"2024-01-02"}
{"id":9,"name":"z","s":{"x":90},"day":"2024-01-03"}'
	# compaction of a partition's small files, and a checkpoint asked for typed statistics
	for k in 10 11; do echo "{\"id\":$k,\"name\":\"q\",\"s\":null,\"day\":\"2024-01-03\"}" | delta-append -q ./i; done
	run --separate-stderr delta-compact ./i
	assert_success
	assert_regex "${stderr_lines[0]}" 'optimize: 3 files .* rewritten into 1 '
	run -0 jq -c 'select(.add) | .add.partitionValues' i/_delta_log/00000000000000000005.json
	assert_output '{"col-eee":"2024-01-03"}'
	run -0 duckdb-query.js "SELECT count(*) AS n, min(\"col-aaa\") AS lo FROM read_parquet('i/$(added_file i 5)')"
	assert_output '{"n":3,"lo":9}'
	run -0 bash -c 'delta-cat --columns id ./i | sort -n -t: -k2'
	assert_output "$(printf '{"id":%d}\n' 1 2 3 9 10 11)"
	test_lake_skip "the rest edits version 0 behind the commit store"
	jq -c 'if .metaData then .metaData.configuration["delta.checkpoint.writeStatsAsStruct"] = "true" else . end' \
		n/_delta_log/00000000000000000000.json >c.json && cat c.json >n/_delta_log/00000000000000000000.json
	delta-compact -q --checkpoint ./n
	run -0 duckdb-query.js "SELECT count(*) AS n FROM parquet_schema('n/_delta_log/00000000000000000001.checkpoint.parquet') WHERE name IN ('partitionValues_parsed', 'stats_parsed')"
	assert_output '{"n":0}'
	run -0 bash -c 'delta-cat --columns id,day ./n | sort'
	assert_output '{"id":1,"day":"2024-01-01"}
{"id":2,"day":"2024-01-01"}
{"id":9,"day":"2024-01-03"}
{"id":null,"day":"2024-01-02"}'
	# change data feed under column mapping: an upsert's change data files name the
	# columns by their physical names (mode id: with their field ids), and _change_type by its own
	jq -c 'if .metaData then .metaData.configuration["delta.enableChangeDataFeed"] = "true" else . end' \
		i/_delta_log/00000000000000000000.json >c.json && cat c.json >i/_delta_log/00000000000000000000.json
	delta-append -q ./i <<<'{"id":20,"name":"w","s":null,"day":"2024-01-03"}'
	delta-append -q --merge-key id ./i <<<'{"id":20,"name":"v","s":null,"day":"2024-01-03"}'
	local cdc
	cdc=$(jq -r 'select(.cdc) | .cdc.path' i/_delta_log/00000000000000000007.json)
	[[ $cdc == _change_data/day=2024-01-03/*.parquet ]]
	run -0 jq -c 'select(.cdc) | .cdc.partitionValues' i/_delta_log/00000000000000000007.json
	assert_output '{"col-eee":"2024-01-03"}'
	run -0 duckdb-query.js "SELECT list(name || ':' || coalesce(field_id::VARCHAR, '-') ORDER BY name) AS f FROM parquet_schema('i/$cdc') WHERE name <> 'schema'"
	assert_output '{"f":["_change_type:2147483647","col-aaa:1","col-bbb:2","col-ccc:4","col-ddd:3"]}'
	run -0 duckdb-query.js "SELECT \"col-aaa\" AS id, \"col-bbb\" AS name, _change_type AS t FROM read_parquet('i/$cdc') ORDER BY t"
	assert_output '{"id":20,"name":"v","t":"update_postimage"}
{"id":20,"name":"w","t":"update_preimage"}'
	run -0 delta-cat --where 'id = 20' ./i
	assert_output '{"id":20,"name":"v","s":null,"day":"2024-01-03"}'
}

@test "type widening: files written before a column's type was widened read in its new type; delta-append and delta-compact write the new one; a change this does not read is refused" {
	mkdir -p t/_delta_log
	duckdb-query.js "COPY (SELECT 1::INTEGER AS v, 1.25::DECIMAL(5,2) AS d, DATE '2024-01-01' AS day, 1.5::FLOAT AS f)
		TO 't/old.parquet' (FORMAT parquet)" >/dev/null
	duckdb-query.js "COPY (SELECT 5000000000::BIGINT AS v, 123456.0001::DECIMAL(10,4) AS d, TIMESTAMP '2024-01-02 03:04:05' AS day, 0.1::DOUBLE AS f)
		TO 't/new.parquet' (FORMAT parquet)" >/dev/null
	local schema
	schema=$(jq -cn '{type: "struct", fields: [
		{name: "v", type: "long", nullable: true, metadata: {"delta.typeChanges": [{fromType: "short", toType: "integer"}, {fromType: "integer", toType: "long"}]}},
		{name: "d", type: "decimal(10,4)", nullable: true, metadata: {"delta.typeChanges": [{fromType: "decimal(5,2)", toType: "decimal(10,4)"}]}},
		{name: "day", type: "timestamp_ntz", nullable: true, metadata: {"delta.typeChanges": [{fromType: "date", toType: "timestamp_ntz"}]}},
		{name: "f", type: "double", nullable: true, metadata: {"delta.typeChanges": [{fromType: "float", toType: "double"}]}}]}' | jq -R .)
	{
		echo '{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["timestampNtz","typeWidening"],"writerFeatures":["timestampNtz","typeWidening"]}}'
		echo "{\"metaData\":{\"id\":\"tw\",\"format\":{\"provider\":\"parquet\",\"options\":{}},\"schemaString\":$schema,\"partitionColumns\":[],\"configuration\":{\"delta.enableTypeWidening\":\"true\"},\"createdTime\":1}}"
		for f in old new; do
			echo "{\"add\":{\"path\":\"$f.parquet\",\"partitionValues\":{},\"size\":$(stat -c %s "t/$f.parquet"),\"modificationTime\":1,\"dataChange\":true}}"
		done
	} >t/_delta_log/00000000000000000000.json
	run -0 delta-cat ./t
	assert_output '{"v":5000000000,"d":123456.0001,"day":"2024-01-02T03:04:05","f":0.1}
{"v":1,"d":1.25,"day":"2024-01-01T00:00:00","f":1.5}'
	echo '{"v":7,"d":"2.5","day":"2024-02-01T00:00:00","f":2.5}' | delta-append -q ./t
	run -0 delta-compact -q ./t
	run -0 delta-cat ./t
	assert_equal "$(sort <<<"$output")" '{"v":1,"d":1.25,"day":"2024-01-01T00:00:00","f":1.5}
{"v":5000000000,"d":123456.0001,"day":"2024-01-02T03:04:05","f":0.1}
{"v":7,"d":2.5,"day":"2024-02-01T00:00:00","f":2.5}'
	# the compacted file holds the new types
	f=$(jq -r 'select(.add) | .add.path' t/_delta_log/00000000000000000002.json)
	run -0 duckdb-query.js "SELECT typeof(v) AS v, typeof(d) AS d, typeof(day) AS day, typeof(f) AS f FROM read_parquet('t/$f') LIMIT 1"
	assert_output '{"v":"BIGINT","d":"DECIMAL(10,4)","day":"TIMESTAMP","f":"DOUBLE"}'
	# a narrowing, or a decimal losing integer digits, is no widening
	for change in '"long" "integer"' '"decimal(5,2)" "decimal(6,4)"'; do
		read -r from to <<<"$change"
		rm -rf w
		mkdir -p w/_delta_log
		jq -c --argjson from "$from" --argjson to "$to" 'if .metaData then .metaData.schemaString |= (fromjson | .fields[0].metadata["delta.typeChanges"] = [{fromType: $from, toType: $to}] | tojson) else . end' \
			t/_delta_log/00000000000000000000.json >w/_delta_log/00000000000000000000.json
		run --separate-stderr delta-cat ./w
		assert_failure 65
		assert_equal "$stderr" "delta-cat: ./w: column \"v\": the type change from ${from//\"/} to ${to//\"/} (delta.typeChanges) is not one this reads"
	done
}

# DuckDB's types of the actions of a V2 checkpoint and of its sidecars.
V2_ADD="STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR, tags MAP(VARCHAR, VARCHAR))"
V2_REMOVE="STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, extendedFileMetadata BOOLEAN, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT)"

# sidecar DIR NAME FILE...: DuckDB writes the sidecar _delta_log/_sidecars/NAME
# of DIR, holding an add of each FILE (a FILE written -FILE is a remove),
# and prints its sidecar action.
sidecar() {
	local d=$1 name=$2 f rows=()
	shift 2
	mkdir -p "$d/_delta_log/_sidecars"
	for f in "$@"; do
		if [ "${f#-}" != "$f" ]; then
			rows+=("SELECT NULL::$V2_ADD AS \"add\", {'path': '${f#-}', 'deletionTimestamp': 5, 'dataChange': true, 'extendedFileMetadata': true, 'partitionValues': MAP {}, 'size': 0}::$V2_REMOVE AS \"remove\"")
		else
			rows+=("SELECT {'path': '$f', 'partitionValues': MAP {}, 'size': 0, 'modificationTime': 0, 'dataChange': false, 'stats': NULL, 'tags': NULL}::$V2_ADD AS \"add\", NULL::$V2_REMOVE AS \"remove\"")
		fi
	done
	local sql
	sql=$(printf ' UNION ALL %s' "${rows[@]}")
	duckdb-query.js "COPY (${sql# UNION ALL }) TO '$d/_delta_log/_sidecars/$name' (FORMAT parquet)" >/dev/null
	jq -nc --arg p "$name" --argjson n "$(stat -c %s "$d/_delta_log/_sidecars/$name")" \
		'{sidecar: {path: $p, sizeInBytes: $n, modificationTime: 1700000000000, tags: {}}}'
}

# v2_table DIR: a table with the v2Checkpoint feature (column id) whose log
# was cleaned up to version 2, which a UUID-named JSON checkpoint holds with
# its files in two sidecars (ids 1 and 2 in a.parquet, 3 in b.parquet);
# version 3 removes a.parquet and adds c.parquet (id 4).
v2_table() {
	local d=$1 uuid=3a0d65cd-4056-49b8-937b-95f9e3ee90e5
	local p='{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["v2Checkpoint"],"writerFeatures":["v2Checkpoint"]}'
	new_table "$d" "$(schema id:long)" "$p"
	add_file "$d" 1 a.parquet "SELECT * FROM (VALUES (1::BIGINT), (2::BIGINT)) v(id)"
	add_file "$d" 2 b.parquet "SELECT 3::BIGINT AS id"
	{
		echo '{"checkpointMetadata":{"version":2,"tags":{}}}'
		head -2 "$d/_delta_log/00000000000000000000.json"
		echo '{"txn":{"appId":"feed","version":7}}'
		sidecar "$d" 016ae953-37a9-438e-8683-9a9a4a79a395.parquet a.parquet
		# (one named by its absolute URI)
		sidecar "$d" 7d17ac10.parquet b.parquet |
			jq -c --arg p "file://$PWD/$d/_delta_log/_sidecars/7d17ac10.parquet" '.sidecar.path = $p'
	} >"$d/_delta_log/00000000000000000002.checkpoint.$uuid.json"
	echo '{"remove":{"path":"a.parquet","deletionTimestamp":5,"dataChange":true}}' \
		>"$d/_delta_log/00000000000000000003.json"
	add_file "$d" 3 c.parquet "SELECT 4::BIGINT AS id"
	rm "$d"/_delta_log/0000000000000000000[01].json
}

@test "V2 checkpoints: a UUID-named JSON checkpoint whose files are in sidecars, relative and absolute; time travel to it; the history after log cleanup" {
	v2_table t
	run --separate-stderr delta-cat ./t
	assert_success
	assert_equal "$(firsts <<<"$output")" '[3,4]'
	assert_equal "$stderr" ''
	run --separate-stderr delta-cat --at-version 2 ./t
	assert_success
	assert_equal "$(firsts <<<"$output")" '[1,2,3]'
	run --separate-stderr delta-cat --at-version 1 ./t
	assert_failure 65
	# (on the bucket the commit store answers for the versions it never held)
	if [ "${STOCKETL_TEST_LAKE:-local}" != s3 ]; then
		assert_stderr_contains 'version 1 is no longer in the log (log cleanup); the oldest version that can be read is 2'
	fi
	run --separate-stderr delta-history ./t
	assert_success
	assert_equal "$(jq -sc 'map(.version)' <<<"$output")" '[3,2]'
	touch -d '2024-03-01 10:00:00 UTC' t/_delta_log/00000000000000000002.json
	touch -d '2024-03-01 11:00:00 UTC' t/_delta_log/00000000000000000003.json
	run --separate-stderr delta-cat --at-timestamp 2024-03-01T10:30:00Z ./t
	assert_success
	assert_equal "$(firsts <<<"$output")" '[1,2,3]'
	run --separate-stderr delta-cat --at-timestamp 2024-03-01T09:00:00Z ./t
	assert_failure 65
	assert_stderr_contains 'the oldest that can be read, version 2, was committed at 2024-03-01T10:00:00.000Z'
}

# v2_parquet DIR FILE SIDECAR_ACTION...: DuckDB writes DIR/_delta_log/FILE, a
# V2 checkpoint of version 3 of v2_table's table as Spark lays one out: the
# checkpointMetadata, protocol, metaData and sidecar actions, with add and
# remove columns that no row sets.
v2_parquet() {
	local d=$1 file=$2 a sql
	shift 2
	local schema
	schema=$(schema id:long)
	local cols="NULL::STRUCT(version BIGINT, tags MAP(VARCHAR, VARCHAR)) AS checkpointMetadata,
		NULL::STRUCT(minReaderVersion INT, minWriterVersion INT, readerFeatures VARCHAR[], writerFeatures VARCHAR[]) AS protocol,
		NULL::STRUCT(id VARCHAR, name VARCHAR, description VARCHAR, format STRUCT(provider VARCHAR, options MAP(VARCHAR, VARCHAR)), schemaString VARCHAR, partitionColumns VARCHAR[], configuration MAP(VARCHAR, VARCHAR), createdTime BIGINT) AS metaData,
		NULL::STRUCT(path VARCHAR, sizeInBytes BIGINT, modificationTime BIGINT, tags MAP(VARCHAR, VARCHAR)) AS sidecar,
		NULL::$V2_ADD AS \"add\", NULL::$V2_REMOVE AS \"remove\""
	sql="WITH t AS (SELECT $cols)
		SELECT * REPLACE ({'version': 3, 'tags': MAP {}} AS checkpointMetadata) FROM t
		UNION ALL BY NAME SELECT * REPLACE ({'minReaderVersion': 3, 'minWriterVersion': 7, 'readerFeatures': ['v2Checkpoint'], 'writerFeatures': ['v2Checkpoint']} AS protocol) FROM t
		UNION ALL BY NAME SELECT * REPLACE ({'id': 'test', 'name': NULL, 'description': NULL, 'format': {'provider': 'parquet', 'options': MAP {}}, 'schemaString': '$schema', 'partitionColumns': [], 'configuration': MAP {}, 'createdTime': 0} AS metaData) FROM t"
	for a in "$@"; do
		sql+="
		UNION ALL BY NAME SELECT * REPLACE ({'path': '$(jq -r .sidecar.path <<<"$a")', 'sizeInBytes': $(jq .sidecar.sizeInBytes <<<"$a"), 'modificationTime': 1700000000000, 'tags': MAP {}} AS sidecar) FROM t"
	done
	duckdb-query.js "COPY ($sql) TO '$d/_delta_log/$file' (FORMAT parquet)" >/dev/null
}

@test "V2 checkpoints: a UUID-named Parquet one that _last_checkpoint names, a classic-named one with sidecars, and a missing sidecar (exit 65, named; another checkpoint of the version is used when there is one)" {
	v2_table t
	local uuid=80a083e8-7026-4e79-81be-64bd76c43a11 s
	s=$(sidecar t s3.parquet b.parquet c.parquet -a.parquet)
	v2_parquet t "00000000000000000003.checkpoint.$uuid.parquet" "$s"
	jq -nc --arg p "00000000000000000003.checkpoint.$uuid.parquet" \
		'{version: 3, size: 7, numOfAddFiles: 2, v2Checkpoint: {path: $p, sizeInBytes: 1, modificationTime: 1}}' \
		>t/_delta_log/_last_checkpoint
	rm t/_delta_log/00000000000000000002.json
	run --separate-stderr delta-cat ./t
	assert_success
	assert_equal "$(firsts <<<"$output")" '[3,4]'
	assert_equal "$stderr" ''
	# the counts of _last_checkpoint are checked against the checkpoint it names
	jq -c '.size = 6' t/_delta_log/_last_checkpoint >lc && mv lc t/_delta_log/_last_checkpoint
	run --separate-stderr delta-cat ./t
	assert_success
	assert_equal "$(firsts <<<"$output")" '[3,4]'
	assert_stderr_contains "checkpoint of version 3: _delta_log/00000000000000000003.checkpoint.$uuid.parquet: 7 actions, but _last_checkpoint says 6"
	rm t/_delta_log/_last_checkpoint
	run --separate-stderr delta-cat --at-version 2 ./t
	assert_equal "$(firsts <<<"$output")" '[1,2,3]'

	# a classic-named V2 checkpoint of the same version, with a sidecar of its own
	s=$(sidecar t s3-classic.parquet c.parquet b.parquet -a.parquet)
	v2_parquet t 00000000000000000003.checkpoint.parquet "$s"
	run --separate-stderr delta-cat ./t
	assert_success
	assert_equal "$(firsts <<<"$output")" '[3,4]'
	assert_equal "$stderr" ''
	rm t/_delta_log/_sidecars/s3-classic.parquet
	run --separate-stderr delta-cat ./t
	assert_success
	assert_equal "$(firsts <<<"$output")" '[3,4]'
	assert_equal "$stderr" "delta-cat: ./t: checkpoint of version 3: _delta_log/00000000000000000003.checkpoint.parquet: sidecar _delta_log/_sidecars/s3-classic.parquet: No such file or directory; the state was rebuilt from another checkpoint of that version"
	rm t/_delta_log/_sidecars/s3.parquet
	run --separate-stderr delta-cat ./t
	assert_success
	assert_equal "$(firsts <<<"$output")" '[3,4]'
	assert_stderr_contains 'sidecar _delta_log/_sidecars/s3'
	assert_stderr_contains 'the state was rebuilt from an older checkpoint and the commits after it'
	rm t/_delta_log/_sidecars/016ae953-37a9-438e-8683-9a9a4a79a395.parquet
	run --separate-stderr delta-cat ./t
	assert_failure 65
	assert_equal "$output" ''
	assert_stderr_contains 'sidecar _delta_log/_sidecars/s3'
	assert_stderr_contains 'the state cannot be rebuilt without it'
	run --separate-stderr delta-cat --at-version 2 ./t
	assert_failure 65
	# (the listing names the version the way lacks; the commit store, which is the authority, does not)
	local gap=' (version 0 is not in the log)'
	[ "${STOCKETL_TEST_LAKE:-local}" != s3 ] || gap=
	assert_equal "$stderr" "delta-cat: ./t: checkpoint of version 2: _delta_log/00000000000000000002.checkpoint.3a0d65cd-4056-49b8-937b-95f9e3ee90e5.json: sidecar _delta_log/_sidecars/016ae953-37a9-438e-8683-9a9a4a79a395.parquet: No such file or directory; the state cannot be rebuilt without it$gap"
}

@test "V2 checkpoints that break the spec cannot be used, and say why: no or two checkpointMetadata, another version, no v2Checkpoint feature, files both in it and in sidecars, a sidecar of another size" {
	v2_table t
	local c=t/_delta_log/00000000000000000002.checkpoint.3a0d65cd-4056-49b8-937b-95f9e3ee90e5.json
	# (the listing names the version the way lacks; the commit store, which is the authority, does not)
	local gap=' (version 0 is not in the log)'
	[ "${STOCKETL_TEST_LAKE:-local}" != s3 ] || gap=
	cp "$c" good
	# expect JQ_FILTER REASON: the checkpoint changed by the filter is refused for the reason
	expect() {
		jq -c "$1" good >"$c"
		run --separate-stderr delta-cat --at-version 2 ./t
		assert_failure 65
		assert_equal "$stderr" "delta-cat: ./t: checkpoint of version 2: _delta_log/${c##*/}: $2; the state cannot be rebuilt without it$gap"
	}
	expect 'select(.checkpointMetadata | not)' '0 checkpointMetadata actions (a V2 checkpoint holds exactly one)'
	expect 'if .checkpointMetadata then ., . else . end' '2 checkpointMetadata actions (a V2 checkpoint holds exactly one)'
	expect 'if .checkpointMetadata then .checkpointMetadata.version = 5 else . end' 'its checkpointMetadata is of version 5'
	expect 'if .protocol then .protocol.readerFeatures = ["timestampNtz"] else . end' 'a V2 checkpoint of a table without the v2Checkpoint reader feature'
	expect 'if .checkpointMetadata then ., {add: {path: "c.parquet", partitionValues: {}, size: 0, modificationTime: 0, dataChange: false}} else . end' \
		'add or remove actions both in the checkpoint and in sidecars (a V2 checkpoint has them all in one or the other)'
	expect 'if .sidecar.path == "016ae953-37a9-438e-8683-9a9a4a79a395.parquet" then .sidecar.sizeInBytes += 1 else . end' \
		"sidecar _delta_log/_sidecars/016ae953-37a9-438e-8683-9a9a4a79a395.parquet is $(stat -c %s t/_delta_log/_sidecars/016ae953-37a9-438e-8683-9a9a4a79a395.parquet) bytes, its sidecar action says $(($(stat -c %s t/_delta_log/_sidecars/016ae953-37a9-438e-8683-9a9a4a79a395.parquet) + 1))"
	expect 'if .sidecar then .sidecar |= del(.sizeInBytes) else . end' 'line 5: sidecar action without a path, sizeInBytes and modificationTime'
	cp good "$c"
	run --separate-stderr delta-cat --at-version 2 ./t
	assert_success
	assert_equal "$(firsts <<<"$output")" '[1,2,3]'
}

@test "Spark's V2 checkpoints (golden tables, JSON and Parquet): the files are in two sidecars; the checkpoint alone rebuilds the table after log cleanup" {
	local how ids gap=' \(version 0 is not in the log\)'
	[ "${STOCKETL_TEST_LAKE:-local}" != s3 ] || gap=
	ids=$(jq -nc '[range(10)]')
	for how in json parquet; do
		run --separate-stderr delta-cat -v "$DELTA/delta-golden/v2-checkpoint-$how"
		assert_success
		assert_equal "$(firsts <<<"$output")" "$ids"
		assert_equal "${stderr_lines[0]}" "delta-cat: $DELTA/delta-golden/v2-checkpoint-$how: version 2 (from a checkpoint)"
		run --separate-stderr delta-cat --at-version 1 "$DELTA/delta-golden/v2-checkpoint-$how"
		assert_success
		assert_output ''
		rm -rf c
		cp -r "$DELTA/delta-golden/v2-checkpoint-$how" c
		chmod -R u+w c
		rm c/_delta_log/_last_checkpoint c/_delta_log/0000000000000000000[01].json
		run --separate-stderr delta-cat ./c
		assert_success
		assert_equal "$(firsts <<<"$output")" "$ids"
		assert_equal "$stderr" ''
		run --separate-stderr delta-history ./c
		assert_equal "$(jq -c '[.version, .operation]' <<<"$output")" '[2,"WRITE"]'
		rm c/_delta_log/_sidecars/00000000000000000002.checkpoint.0000000002.*.parquet
		run --separate-stderr delta-cat ./c
		assert_failure 65
		assert_regex "$stderr" "^delta-cat: \./c: checkpoint of version 2: _delta_log/00000000000000000002\.checkpoint\.[-0-9a-f]+\.$how: sidecar _delta_log/_sidecars/00000000000000000002\.checkpoint\.0000000002\.0000000002\.[-0-9a-f]+\.parquet: No such file or directory; the state cannot be rebuilt without it$gap\$"
	done
}

@test "rows that would read as control lines are refused before any goes out: a lone column named @..., a first column @batch" {
	new_table t "$(schema '@x:long' y:long)"
	add_file t 1 a.parquet 'SELECT 1 AS "@x", 2 AS y'
	new_table b "$(schema '@batch:long' y:long)"
	add_file b 1 a.parquet 'SELECT 1 AS "@batch", 2 AS y'
	run --separate-stderr delta-cat ./t
	assert_success
	assert_output '{"@x":1,"y":2}'
	run --separate-stderr delta-cat --columns @x ./t
	assert_failure 65
	assert_output ""
	assert_equal "$stderr" "delta-cat: ./t: column @x alone would make each row a control line of the record stream, not data (select another column with it, or use --csv)"
	# a --where column is not shown, so it does not count
	run --separate-stderr delta-cat --columns @x --where 'y = 2' ./t
	assert_failure 65
	run --separate-stderr delta-cat --csv --columns @x ./t
	assert_success
	assert_output "$(printf '%s\n' '@x' 1)"
	run --separate-stderr delta-cat ./b
	assert_failure 65
	assert_equal "$stderr" "delta-cat: ./b: column @batch first would make each row a batch marker of the record stream, not data (put another column first with --columns, or use --csv)"
	run --separate-stderr delta-cat --columns y,@batch ./b
	assert_success
	assert_output '{"y":2,"@batch":1}'
}

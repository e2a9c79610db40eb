#!/usr/bin/env bats
# delta-create: version 0 of a table from a schema file.

# shellcheck disable=SC2154 # $stderr and $stderr_lines are set by BATS's run --separate-stderr
load helpers/common

setup() {
	common_setup
	export STOCKETL_LAKE=$BATS_TEST_TMPDIR/lake
	SCHEMA=$STOCKETL_ROOT/conf/tables/bronze.schema
}

@test "--help prints the usage, which is the man page's SYNOPSIS" {
	run --separate-stderr delta-create --help
	assert_success
	assert_output --partial "usage: delta-create"
	assert_help_matches_man delta-create
}

@test "--version names the program and stocketl" {
	run delta-create --version
	assert_success
	assert_output --regexp '^delta-create \(stocketl\) [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "creates version 0 with commitInfo, protocol 1/2 and metaData under the lake root" {
	run --separate-stderr delta-create -v bronze --schema "$SCHEMA" --partition-by trade_date \
		--property delta.checkpointInterval=20
	assert_success
	assert_equal "$stderr" "delta-create: $STOCKETL_LAKE/bronze: created (version 0, 12 columns, partitioned by trade_date)"
	log=$STOCKETL_LAKE/bronze/_delta_log/00000000000000000000.json
	[ -f "$log" ]
	run jq -c 'keys[0]' "$log"
	assert_output $'"commitInfo"\n"protocol"\n"metaData"'
	run jq -c 'select(.protocol) | .protocol' "$log"
	assert_output '{"minReaderVersion":1,"minWriterVersion":2}'
	run jq -c 'select(.metaData) | .metaData | [.format.provider, .partitionColumns, .configuration]' "$log"
	assert_output '["parquet",["trade_date"],{"delta.checkpointInterval":"20"}]'
	run jq -r 'select(.metaData) | .metaData.schemaString | fromjson | .fields[] | "\(.name) \(.type) \(.nullable)"' "$log"
	assert_line --index 0 "symbol string false"
	assert_line --index 4 "open decimal(18,6) true"
	assert_line --index 10 "ingested_at timestamp false"
	run jq -r 'select(.commitInfo) | .commitInfo | "\(.operation) \(.engineInfo)"' "$log"
	assert_output --regexp '^CREATE TABLE stocketl/'
}

@test "a timestamp_ntz column makes the table protocol 3/7 with the feature timestampNtz, as the protocol requires; delta-cat reads its rows" {
	printf 't timestamp_ntz\nv long\n' >ntz.schema
	delta-create ./ntz --schema ntz.schema
	run jq -c 'select(.protocol) | .protocol' ntz/_delta_log/00000000000000000000.json
	assert_output '{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["timestampNtz"],"writerFeatures":["timestampNtz"]}'
	echo '{"t":"2024-01-01T10:00:00","v":1}' | delta-append -q --app-id a --batch-id 1 ./ntz
	assert_equal "$(delta-cat ./ntz)" '{"t":"2024-01-01T10:00:00","v":1}'
	# an append-only table lists appendOnly too, once it is a table of features
	delta-create ./ntz-ao --schema ntz.schema --property delta.appendOnly=true
	run jq -c 'select(.protocol) | .protocol.writerFeatures' ntz-ao/_delta_log/00000000000000000000.json
	assert_output '["appendOnly","timestampNtz"]'
}

@test "delta.enableInCommitTimestamps=true makes the table writer version 7 with the feature inCommitTimestamp, and version 0 carries one" {
	printf 'v long\n' >v.schema
	delta-create ./ict --schema v.schema --property delta.enableInCommitTimestamps=true
	run jq -c 'select(.protocol) | .protocol' ict/_delta_log/00000000000000000000.json
	assert_output '{"minReaderVersion":1,"minWriterVersion":7,"writerFeatures":["inCommitTimestamp"]}'
	run head -n 1 ict/_delta_log/00000000000000000000.json
	assert_output --regexp '^\{"commitInfo":\{"inCommitTimestamp":[0-9]{13},"timestamp":[0-9]{13},"operation":"CREATE TABLE"'
	# with the other features a table may need
	printf 't timestamp_ntz\n' >ntz.schema
	delta-create ./ict-ntz --schema ntz.schema --property delta.enableInCommitTimestamps=true \
		--property delta.appendOnly=true
	run jq -c 'select(.protocol) | .protocol' ict-ntz/_delta_log/00000000000000000000.json
	assert_output '{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["timestampNtz"],"writerFeatures":["appendOnly","inCommitTimestamp","timestampNtz"]}'
	# false is the property without the feature; anything else is a usage error
	delta-create ./no-ict --schema v.schema --property delta.enableInCommitTimestamps=false
	run jq -c 'select(.protocol) | .protocol' no-ict/_delta_log/00000000000000000000.json
	assert_output '{"minReaderVersion":1,"minWriterVersion":2}'
	run --separate-stderr delta-create ./bad --schema v.schema --property delta.enableInCommitTimestamps=yes
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "delta-create: --property delta.enableInCommitTimestamps: expected true or false, got 'yes'"
	[ ! -e bad ]
}

@test "delta.enableChangeDataFeed=true makes a table of writer version 4, or with the feature changeDataFeed at version 7; its upserts write change data" {
	printf 'k long not null\nv string\n' >kv.schema
	delta-create ./cdf --schema kv.schema --merge-key k --property delta.enableChangeDataFeed=true
	run -0 jq -c 'select(.protocol) | .protocol' cdf/_delta_log/00000000000000000000.json
	assert_output '{"minReaderVersion":1,"minWriterVersion":4}'
	printf '{"k":1,"v":"a"}\n{"k":2,"v":"b"}\n' | delta-append -q ./cdf
	echo '{"k":1,"v":"c"}' | delta-append -q ./cdf
	run -0 jq -r 'select(.cdc) | .cdc.path' cdf/_delta_log/00000000000000000002.json
	assert_output --regexp '^_change_data/part-00000-[-0-9a-f]+-c000\.zstd\.parquet$'
	delta-create ./cdf7 --schema kv.schema --property delta.enableChangeDataFeed=true \
		--property delta.enableInCommitTimestamps=true
	run -0 jq -c 'select(.protocol) | .protocol' cdf7/_delta_log/00000000000000000000.json
	assert_output '{"minReaderVersion":1,"minWriterVersion":7,"writerFeatures":["changeDataFeed","inCommitTimestamp"]}'
	run --separate-stderr delta-create ./bad --schema kv.schema --property delta.enableChangeDataFeed=on
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "delta-create: --property delta.enableChangeDataFeed: expected true or false, got 'on'"
}

@test "a path with a slash is used as it is" {
	run delta-create ./here/t --schema "$SCHEMA"
	assert_success
	[ -f here/t/_delta_log/00000000000000000000.json ]
	[ ! -e "$STOCKETL_LAKE" ]
}

@test "the lake root comes from the configuration when the environment does not say" {
	unset STOCKETL_LAKE
	printf '[storage]\nlake = %s/fromfile\n' "$BATS_TEST_TMPDIR" >my.ini
	run delta-create --config my.ini t --schema "$SCHEMA"
	assert_success
	[ -f fromfile/t/_delta_log/00000000000000000000.json ]
}

@test "Spark's schema JSON is accepted, nested types included" {
	cat >s.json <<'JSON'
{"type":"struct","fields":[{"name":"id","type":"long","nullable":false,"metadata":{}},
 {"name":"tags","type":{"type":"array","elementType":"string","containsNull":true},"nullable":true,"metadata":{}},
 {"name":"amount","type":"decimal(38,18)","nullable":true,"metadata":{}}]}
JSON
	run delta-create t --schema s.json
	assert_success
	run jq -c 'select(.metaData) | .metaData.schemaString | fromjson | .fields | map(.type)' \
		"$STOCKETL_LAKE/t/_delta_log/00000000000000000000.json"
	assert_output '["long",{"type":"array","elementType":"string","containsNull":true},"decimal(38,18)"]'
}

@test "creating an existing table with the same schema succeeds and changes nothing" {
	delta-create bronze --schema "$SCHEMA" --partition-by trade_date
	before=$(cat "$STOCKETL_LAKE"/bronze/_delta_log/*.json | md5sum)
	run --separate-stderr delta-create bronze --schema "$SCHEMA" --partition-by trade_date
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(cat "$STOCKETL_LAKE"/bronze/_delta_log/*.json | md5sum)" "$before"
	assert_equal "$(ls "$STOCKETL_LAKE"/bronze/_delta_log)" "$(printf '%s\n' 00000000000000000000.crc 00000000000000000000.json)"
}

@test "creating an existing table with another schema or partitioning is an error" {
	delta-create bronze --schema "$SCHEMA" --partition-by trade_date
	printf 'a long\n' >other.schema
	run --separate-stderr delta-create bronze --schema other.schema
	assert_failure 65
	assert_equal "$stderr" "delta-create: $STOCKETL_LAKE/bronze: the table exists with a different schema"
	run --separate-stderr delta-create bronze --schema "$SCHEMA"
	assert_failure 65
	assert_equal "$stderr" "delta-create: $STOCKETL_LAKE/bronze: the table exists with different partition columns"
}

@test "two creators racing for one table: both succeed, one version 0" {
	for _ in 1 2 3 4; do
		delta-create race --schema "$SCHEMA" --partition-by trade_date &
	done
	wait
	run ls -A "$STOCKETL_LAKE/race/_delta_log"
	assert_output "$(printf '%s\n' 00000000000000000000.crc 00000000000000000000.json)"
	# the winner's version checksum: one table, no file
	run jq -c '[.numFiles, .tableSizeBytes, .numMetadata, .numProtocol]' "$STOCKETL_LAKE/race/_delta_log/00000000000000000000.crc"
	assert_output '[0,0,1,1]'
}

@test "a malformed schema file is a data error (65) with file and line; a missing one an I/O error (74)" {
	printf 'a long\nb varchar\n' >bad.schema
	run --separate-stderr delta-create t --schema bad.schema
	assert_failure 65
	assert_equal "$stderr" "delta-create: bad.schema:2: unknown type \"varchar\" (expected string, long, integer, short, byte, float, double, boolean, binary, date, timestamp, decimal(p,s), array<T>, map<K,V> or struct<name:T,...>)"
	printf 'a long\nA int\n' >dup.schema
	run --separate-stderr delta-create t --schema dup.schema
	assert_failure 65
	assert_equal "$stderr" "delta-create: dup.schema:2: column \"A\" is defined twice"
	printf 'a long maybe\n' >three.schema
	run --separate-stderr delta-create t --schema three.schema
	assert_failure 65
	assert_equal "$stderr" "delta-create: three.schema:1: expected \"name type\" or \"name type not null\""
	printf '{"type":"struct","fields":[{"name":"x","type":"uuid"}]}' >bad.json
	run --separate-stderr delta-create t --schema bad.json
	assert_failure 65
	assert_equal "$stderr" "delta-create: bad.json: schema: field \"x\": unknown type \"uuid\""
	run --separate-stderr delta-create t --schema missing.schema
	assert_failure 74
	assert_equal "$stderr" "delta-create: missing.schema: No such file or directory"
	[ ! -e "$STOCKETL_LAKE/t" ]
}

@test "usage errors: partition columns and properties are checked" {
	run --separate-stderr delta-create t --schema "$SCHEMA" --partition-by nope
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "delta-create: --partition-by: no column \"nope\" in the schema"
	run --separate-stderr delta-create t --schema "$SCHEMA" --property delta.enableDeletionVectors=true
	assert_failure 64
	assert_regex "${stderr_lines[0]}" "needs a table feature that this writer does not implement"
	run --separate-stderr delta-create t --schema "$SCHEMA" --property delta.enableRowTracking=yes
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "delta-create: --property delta.enableRowTracking: expected true or false, got 'yes'"
	run --separate-stderr delta-create t --schema "$SCHEMA" --property delta.checkpointPolicy=v2
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-create: --property delta.checkpointPolicy=v2: needs the table feature v2Checkpoint, which this writer does not create (protocol 1/2 only; "classic" is the policy it writes)'
	run --separate-stderr delta-create t --schema "$SCHEMA" --property delta.checkpointPolicy=classic
	assert_success
	rm -r "$STOCKETL_LAKE"
	run --separate-stderr delta-create t --schema "$SCHEMA" --property delta.checkpointInterval=0
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "delta-create: --property delta.checkpointInterval: expected a positive integer, got '0'"
	run --separate-stderr delta-create t --schema "$SCHEMA" --property novalue
	assert_failure 64
	STOCKETL_SHARE=/nowhere run --separate-stderr delta-create t
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "delta-create: --schema FILE is required: no schema ships for a table named \"t\" (./conf/tables/t.schema, /nowhere/conf/tables/t.schema)"
	run --separate-stderr delta-create --schema "$SCHEMA"
	assert_failure 64
	assert_equal "${stderr_lines[0]}" "delta-create: no table given"
	run --separate-stderr delta-create 'bad name' --schema "$SCHEMA"
	assert_failure 64
	[ ! -e "$STOCKETL_LAKE" ]
}

@test "[storage] commit_store: postgres leaves a table on a local disk to link(2), without a server; an unknown store is a configuration error" {
	printf '[storage]\ncommit_store = postgres\n[postgres]\ndsn = host=/nonexistent\n' >pg.ini
	run --separate-stderr delta-create --config pg.ini ./local --schema "$STOCKETL_ROOT/conf/tables/bronze.schema"
	assert_success
	[ -f local/_delta_log/00000000000000000000.json ]
	printf '[storage]\ncommit_store = dynamo\n' >bad.ini
	run --separate-stderr delta-create --config bad.ini ./other --schema "$STOCKETL_ROOT/conf/tables/bronze.schema"
	assert_failure 78
	assert_equal "$stderr" "delta-create: bad.ini:2: [storage] commit_store = dynamo: expected auto, link or postgres"
	[ ! -e other ]
	STOCKETL_COMMIT_STORE=dynamo run --separate-stderr delta-create ./other --schema "$STOCKETL_ROOT/conf/tables/bronze.schema"
	assert_failure 78
	assert_equal "$stderr" "delta-create: \$STOCKETL_COMMIT_STORE = dynamo: expected auto, link or postgres"
}

@test "without --schema, bronze and silver take the shipped schemas: ./conf/tables first, else the installed ones" {
	export STOCKETL_SHARE=$STOCKETL_ROOT
	run --separate-stderr delta-create silver
	assert_success
	run --separate-stderr delta-create silver-copy --schema "$STOCKETL_ROOT/conf/tables/silver.schema"
	assert_success
	assert_equal "$(jq -c 'select(.metaData) | .metaData.schemaString' lake/silver/_delta_log/00000000000000000000.json)" \
		"$(jq -c 'select(.metaData) | .metaData.schemaString' lake/silver-copy/_delta_log/00000000000000000000.json)"
	mkdir -p conf/tables
	printf 'symbol string not null\n' >conf/tables/bronze.schema
	run --separate-stderr delta-create bronze
	assert_success
	run jq -r 'select(.metaData) | .metaData.schemaString | fromjson | .fields | map(.name) | join(",")' \
		lake/bronze/_delta_log/00000000000000000000.json
	assert_output symbol
}

@test "a column list takes nested types in Spark's DDL: the schema is Spark's JSON of them, and records load into it" {
	cat >n.schema <<'EOF'
# nested columns, as Spark's DDL writes them
id bigint not null
quote STRUCT<bid: decimal(18, 6), venue: struct<code:string not null, raw:binary>, tags: array<string>>
fills array<struct<px:double,qty:int>>
byint map<int, array<smallint>>
EOF
	run -0 delta-create -q n --schema n.schema
	run -0 jq -c 'select(.metaData) | .metaData.schemaString | fromjson | .fields | map([.name, .type, .nullable])[]' \
		"$STOCKETL_LAKE/n/_delta_log/00000000000000000000.json"
	assert_output '["id","long",false]
["quote",{"type":"struct","fields":[{"name":"bid","type":"decimal(18,6)","nullable":true,"metadata":{}},{"name":"venue","type":{"type":"struct","fields":[{"name":"code","type":"string","nullable":false,"metadata":{}},{"name":"raw","type":"binary","nullable":true,"metadata":{}}]},"nullable":true,"metadata":{}},{"name":"tags","type":{"type":"array","elementType":"string","containsNull":true},"nullable":true,"metadata":{}}]},true]
["fills",{"type":"array","elementType":{"type":"struct","fields":[{"name":"px","type":"double","nullable":true,"metadata":{}},{"name":"qty","type":"integer","nullable":true,"metadata":{}}]},"containsNull":true},true]
["byint",{"type":"map","keyType":"integer","valueType":{"type":"array","elementType":"short","containsNull":true},"valueContainsNull":true},true]'
	echo '{"id":1,"quote":{"bid":"1.5","venue":{"code":"X"},"tags":["a"]},"fills":[null],"byint":{"3":[1,null]}}' |
		delta-append -q n
	run -0 delta-cat n
	assert_output '{"id":1,"quote":{"bid":1.5,"venue":{"code":"X","raw":null},"tags":["a"]},"fills":[null],"byint":[{"key":3,"value":[1,null]}]}'
	while IFS='|' read -r type msg; do
		echo "a $type" >bad.schema
		run --separate-stderr delta-create -q b --schema bad.schema
		assert_failure 65
		assert_equal "$stderr" "delta-create: bad.schema:1: $msg"
	done <<'EOF'
array<>|type "array<>": expected a type
map<struct<x:int>,int>|type "map<struct<x:int>,int>": a map's keys must be of a primitive type
map<int int>|type "map<int int>": expected ',' between a map's key and value types
struct<x int, X long>|type "struct<x int, X long>": field "X" is defined twice
struct<x:int|type "struct<x:int": expected ',' or '>' after a field of struct<...>
struct<:int>|type "struct<:int>": expected a field name in struct<...>
array<int> extra|expected "name type" or "name type not null"
decimal(40,2)|type "decimal(40,2)": a decimal(p,s) takes 1 <= p <= 38 and 0 <= s <= p
array<uuid>|type "array<uuid>": unknown type "uuid" (expected string, long, integer, short, byte, float, double, boolean, binary, date, timestamp, decimal(p,s), array<T>, map<K,V> or struct<name:T,...>)
EOF
	[ ! -e "$STOCKETL_LAKE/b" ]
	# a struct without fields has no Parquet form (Spark refuses one too)
	echo 'q struct<>' >e.schema
	run --separate-stderr delta-create -q e --schema e.schema
	assert_failure 65
	assert_equal "$stderr" 'delta-create: e.schema: field "q" is a struct without fields'
	printf 'a long\nq struct<x:int>\n' >p.schema
	run --separate-stderr delta-create -q p --schema p.schema --partition-by q
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-create: --partition-by: column "q" cannot be a partition column'
}

#!/usr/bin/env bats
# delta-append --merge-key and tables created with delta-create --merge-key:
# upserts by key, copy-on-write, one MERGE commit per batch.  Every result
# is compared with an independent computation (DuckDB over all the batches,
# the later record of a key winning) and read by delta-cat, by DuckDB and by
# replaying the log (helpers/upsert.bash).

# shellcheck disable=SC2154 # $stderr and $stderr_lines are set by BATS's run --separate-stderr
load helpers/common
load helpers/upsert

KEY=symbol,interval,trade_timestamp

setup() {
	common_setup
	export STOCKETL_LAKE=$TEST_DIR/lake
	SCHEMA=$STOCKETL_ROOT/conf/tables/silver.schema
	T=$STOCKETL_LAKE/silver
	: >tagged.ndjson
}

create_keyed() {
	delta-create silver --schema "$SCHEMA" --partition-by trade_date --merge-key "$KEY"
}

log() { printf '%s/_delta_log/%020d.json' "$T" "$1"; }

# upsert SEQ FILE: upsert FILE (one batch, whatever its markers say) into
# silver as batch SEQ of application "load", and remember its records as the
# SEQ-th in order.
upsert() {
	tag "$1" <"$2"
	grep -v '"@batch"' "$2" | delta-append --app-id load --batch-id "$1" silver
}

metric() {
	jq -r --arg m "$2" 'select(.commitInfo) | .commitInfo.operationMetrics[$m]' "$(log "$1")"
}

@test "delta-create --merge-key records the key; --help and the man pages agree" {
	create_keyed
	run jq -c 'select(.metaData) | .metaData.configuration' "$(log 0)"
	assert_output '{"stocketl.mergeKey":"symbol,interval,trade_timestamp"}'
	run --separate-stderr delta-create --help
	assert_success
	assert_help_matches_man delta-create
	run --separate-stderr delta-append --help
	assert_output --partial "--merge-key COLS"
}

@test "a bad merge key is a usage error naming the column" {
	run --separate-stderr delta-create silver --schema "$SCHEMA" --merge-key symbol,nope
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-create: --merge-key: no column "nope" in the schema'
	run --separate-stderr delta-create silver --schema "$SCHEMA" --merge-key symbol,symbol
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-create: --merge-key: column "symbol" is listed twice'
	run --separate-stderr delta-create silver --schema "$SCHEMA" --merge-key symbol \
		--property stocketl.mergeKey=interval
	assert_failure 64
	delta-create silver --schema "$SCHEMA"
	gen-ticks -a feed 4 >in.ndjson
	run --separate-stderr delta-append --merge-key symbol,nope silver in.ndjson
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-append: --merge-key: merge key symbol,nope: no column "nope"'
}

@test "an append-only table (delta.appendOnly=true) takes no upsert: delta-create refuses the pair (64), delta-append --merge-key refuses (65) and the table keeps its rows" {
	run --separate-stderr delta-create silver --schema "$SCHEMA" --merge-key "$KEY" --property delta.appendOnly=true
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-create: --merge-key: an upsert replaces rows, which a table with delta.appendOnly=true forbids'
	[ ! -e "$T/_delta_log" ]
	delta-create silver --schema "$SCHEMA" --partition-by trade_date --property delta.appendOnly=true
	gen-ticks -s 2 10 | grep -v '"@batch"' | delta-append -q --app-id load --batch-id 1 silver
	gen-ticks -s 2 10 | grep -v '"@batch"' | sed 's/"volume":[0-9]*/"volume":7/' >revised.ndjson
	run --separate-stderr delta-append --merge-key "$KEY" --app-id load --batch-id 2 silver revised.ndjson
	assert_failure 65
	assert_equal "${stderr_lines[0]}" "delta-append: silver: the table is append-only (delta.appendOnly=true), and an upsert replaces rows"
	assert_equal "$(delta-history -n 1 silver | jq -r .version)" 1
	run bash -c "delta-cat --columns volume silver | jq -r .volume | sort -u"
	refute_output 7
	# appending stays allowed
	delta-append -q --app-id load --batch-id 2 silver revised.ndjson
	assert_equal "$(delta-cat silver | wc -l)" 20
}

@test "overlapping batches with revised values: every key once, its latest value" {
	create_keyed
	gen-ticks -m -s 4 2000 >ticks.ndjson
	overlap feed 1 6 500 300 <ticks.ndjson >batches.ndjson
	# one batch per file, loaded in order
	awk '/"@batch"/ { print > sprintf("b%02d.ndjson", ++n); next } { print > sprintf("b%02d.ndjson", n + 1) }' batches.ndjson
	n=0
	for f in b0*.ndjson; do
		n=$((n + 1))
		upsert "$n" "$f"
	done
	assert_table_is_expected
	# the second batch revised 200 rows of the first and added 300
	assert_equal "$(metric 2 numSourceRows) $(metric 2 numTargetRowsUpdated) $(metric 2 numTargetRowsInserted)" "500 200 300"
	assert_equal "$(delta-cat silver | wc -l)" 2000
}

@test "a key repeated within a batch: the last record of it in the stream wins" {
	create_keyed
	gen-ticks -m 3 >ticks.ndjson
	{
		sed 's/"volume":[0-9]*/"volume":1/' ticks.ndjson
		sed 's/"volume":[0-9]*/"volume":2/' ticks.ndjson
		head -1 ticks.ndjson | sed 's/"volume":[0-9]*/"volume":3/'
	} >in.ndjson
	upsert 1 in.ndjson
	assert_table_is_expected
	run bash -c "delta-cat silver | jq -c '[.symbol, .volume]' | sort"
	assert_output "$(printf '%s\n' '["IBM",2]' '["NVDA",3]' '["TSLA",2]')"
	assert_equal "$(metric 1 numSourceRows) $(metric 1 numTargetRowsInserted)" "7 3"
}

@test "--latest-by: of a batch's records of a key the greatest value wins, the later on a tie; the next batch still replaces" {
	create_keyed
	gen-ticks -m 3 >ticks.ndjson
	# bid VOLUME BATCH_ID: the ticks with that volume and batch_id
	bid() { sed "s/\"volume\":[0-9]*/\"volume\":$1/; s/\"batch_id\":[0-9]*/\"batch_id\":$2/" ticks.ndjson; }
	{
		bid 1 5
		bid 2 7
		bid 3 6
		head -1 ticks.ndjson | sed 's/"volume":[0-9]*/"volume":4/; s/"batch_id":[0-9]*/"batch_id":7/'
		sed -n 2p ticks.ndjson | sed 's/"volume":[0-9]*/"volume":5/; s/"batch_id":[0-9]*/"batch_id":6/'
	} >in.ndjson
	run --separate-stderr delta-append --latest-by batch_id --app-id load --batch-id 1 silver in.ndjson
	assert_success
	run bash -c "delta-cat silver | jq -c '[.symbol, .volume, .batch_id]' | sort"
	assert_output "$(printf '%s\n' '["IBM",2,7]' '["NVDA",4,7]' '["TSLA",2,7]')"
	assert_equal "$(metric 1 numSourceRows) $(metric 1 numTargetRowsInserted)" "11 3"
	# without it, the last record of each key
	delta-create -q plain --schema "$SCHEMA" --partition-by trade_date --merge-key "$KEY"
	delta-append -q --app-id load --batch-id 1 plain in.ndjson
	run bash -c "delta-cat plain | jq -c '[.symbol, .volume]' | sort"
	assert_output "$(printf '%s\n' '["IBM",3]' '["NVDA",4]' '["TSLA",5]')"
	# a timestamp column orders as well; the later batch replaces whatever it holds
	{
		sed 's/"volume":[0-9]*/"volume":9/; s/"batch_id":[0-9]*/"batch_id":1/; s/"ingested_at":"[^"]*"/"ingested_at":"2025-06-03T00:00:00Z"/' ticks.ndjson
		sed 's/"volume":[0-9]*/"volume":8/; s/"batch_id":[0-9]*/"batch_id":1/; s/"ingested_at":"[^"]*"/"ingested_at":"2025-06-02T23:59:59.999999Z"/' ticks.ndjson
	} >older.ndjson
	delta-append -q --latest-by ingested_at --app-id load --batch-id 2 silver older.ndjson
	run bash -c "delta-cat silver | jq -c '[.symbol, .volume, .batch_id]' | sort"
	assert_output "$(printf '%s\n' '["IBM",9,1]' '["NVDA",9,1]' '["TSLA",9,1]')"
	# errors
	run --separate-stderr delta-append --latest-by nope silver older.ndjson
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-append: --latest-by: no column "nope"'
	delta-create -q appended --schema "$SCHEMA"
	run --separate-stderr delta-append --latest-by batch_id appended older.ndjson
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-append: --latest-by: appended has no merge key; give --merge-key'
	run --separate-stderr delta-append --latest-by batch_id --txn-version load silver
	assert_failure 64
	assert_equal "$(delta-history --limit 1 silver | jq .version)" 2
}

@test "a key that moves to another partition loses its old row wherever it was" {
	create_keyed
	gen-ticks -m -s 2 8 >ticks.ndjson
	upsert 1 ticks.ndjson
	# the first bar now says it belongs to the next day
	head -1 ticks.ndjson | sed 's/"trade_date":"2025-06-02"/"trade_date":"2025-06-03"/; s/"volume":[0-9]*/"volume":5/' >moved.ndjson
	upsert 2 moved.ndjson
	assert_table_is_expected
	run bash -c "delta-cat --where \"trade_date = '2025-06-02'\" silver | wc -l"
	assert_output 7
	run bash -c "delta-cat --where \"trade_date = '2025-06-03'\" silver | jq -c '[.symbol, .trade_timestamp, .volume]'"
	assert_output '["NVDA","2025-06-02T13:30:00Z",5]'
	assert_equal "$(metric 2 numTargetRowsUpdated) $(metric 2 numTargetFilesRemoved) $(metric 2 numTargetPartitionsAddedTo)" "1 1 2"
}

@test "a batch over more partitions than --max-open-files writes each partition's records together: a file a partition, not one a run of its records" {
	printf 'day date\nid long\nv string\n' >k.schema
	delta-create k --schema k.schema --partition-by day --merge-key id
	# four days, their records taking turns, as a backfill's symbols do
	for i in $(seq 1 40); do
		printf '{"day":"2025-06-0%d","id":%d,"v":"a"}\n' $((i % 4 + 1)) "$i"
	done >in.ndjson
	delta-append -q --max-open-files 2 k in.ndjson
	run bash -c "find '$STOCKETL_LAKE/k' -name '*.parquet' | wc -l"
	assert_output 4
	sed 's/"v":"a"/"v":"b"/' in.ndjson | delta-append -q --max-open-files 2 --app-id again --batch-id 1 k
	run bash -c "delta-cat k | jq -r .v | sort | uniq -c | tr -s ' '"
	assert_output " 40 b"
	# every row replaced: again a file a day
	assert_equal "$(jq -s '[.[] | select(.add)] | length' "$STOCKETL_LAKE/k/_delta_log/00000000000000000002.json")" 4
	run bash -c "delta-cat --at-version 1 k | jq -r .v | sort | uniq -c | tr -s ' '"
	assert_output " 40 a"
}

@test "an empty batch commits its txn and no file; a rerun is skipped" {
	create_keyed
	gen-ticks -a feed -i 1 4 >one.ndjson
	tag 1 <one.ndjson
	delta-append silver one.ndjson
	printf '{"@batch":{"app":"feed","id":2,"records":0,"status":"ok"}}\n' >empty.ndjson
	run --separate-stderr delta-append silver empty.ndjson
	assert_success
	run jq -c 'select(.txn) | .txn.version' "$(log 2)"
	assert_output 2
	run jq -c 'select(.add or .remove)' "$(log 2)"
	assert_output ""
	assert_equal "$(metric 2 numSourceRows) $(metric 2 numOutputRows)" "0 0"
	run --separate-stderr delta-append -v silver empty.ndjson
	assert_success
	assert_equal "${stderr_lines[1]}" "delta-append: batch feed/2: already in the table (txn version 2); skipped"
	[ ! -e "$(log 3)" ]
	assert_table_is_expected
}

@test "a batch whose every key is new reads and removes no file" {
	create_keyed
	gen-ticks -m -s 2 -d 20241 100 >a.ndjson
	gen-ticks -m -s 2 -d 20250 100 >b.ndjson
	upsert 1 a.ndjson
	upsert 2 b.ndjson
	assert_equal "$(metric 2 numTargetFilesBeforeSkipping) $(metric 2 numTargetFilesAfterSkipping) $(metric 2 numTargetFilesRemoved) $(metric 2 numTargetRowsInserted)" "1 0 0 100"
	run jq -c 'select(.remove)' "$(log 2)"
	assert_output ""
	assert_table_is_expected
}

@test "a file whose statistics span a batch's keys but whose rows hold none of them is read and left as it is" {
	create_keyed
	# one day of NVDA and TSLA, one file
	gen-ticks -m -s 2 780 >day.ndjson
	upsert 1 day.ndjson
	live_files >before
	assert_equal "$(wc -l <before)" 1
	# PLTR's bars of that day: within the file's bounds of every key column, in none of its rows
	jq -c 'select(.symbol == "NVDA") | .symbol = "PLTR"' day.ndjson | head -10 >new.ndjson
	run --separate-stderr delta-append -v --app-id new --batch-id 1 silver new.ndjson
	assert_success
	assert_equal "${stderr_lines[1]}" "delta-append: merged 10 records by (symbol,interval,trade_timestamp): 0 updated, 10 inserted, 0 copied; 0 of 1 files rewritten"
	tag 2 <new.ndjson
	assert_equal "$(metric 2 numTargetFilesAfterSkipping) $(metric 2 numTargetFilesRemoved) $(metric 2 numTargetRowsCopied) $(metric 2 numTargetFilesAdded)" "1 0 0 1"
	run jq -c 'select(.remove)' "$(log 2)"
	assert_output ""
	live_files | grep -qxF "$(cat before)"
	assert_table_is_expected
}

@test "only the files that may hold a key are read and rewritten; the commit is Spark's MERGE" {
	create_keyed
	# five days, one file each
	gen-ticks -m -s 2 3900 >ticks.ndjson
	upsert 1 ticks.ndjson
	assert_equal "$(live_files | wc -l)" 5
	# revise ten bars of the third day
	jq -c 'select(.trade_date == "2025-06-04")' ticks.ndjson | head -10 | sed 's/"volume":[0-9]*/"volume":9/' >rev.ndjson
	run --separate-stderr delta-append -v --app-id fix --batch-id 1 silver rev.ndjson
	assert_success
	assert_equal "${stderr_lines[1]}" "delta-append: merged 10 records by (symbol,interval,trade_timestamp): 10 updated, 0 inserted, 770 copied; 1 of 5 files rewritten"
	tag 2 <rev.ndjson
	run jq -r 'select(.remove) | .remove | "\(.partitionValues.trade_date) \(.dataChange) \(.deletionTimestamp > 0)"' "$(log 2)"
	assert_output "2025-06-04 true true"
	run jq -r 'select(.add) | .add | "\(.partitionValues.trade_date) \(.dataChange) \(.stats | fromjson | .numRecords)"' "$(log 2)"
	assert_output "2025-06-04 true 780"
	run jq -c 'select(.commitInfo) | .commitInfo | [.operation, .readVersion, .isBlindAppend, (.operationParameters | keys), .operationParameters.predicate]' "$(log 2)"
	assert_output '["MERGE",1,false,["matchedPredicates","notMatchedBySourcePredicates","notMatchedPredicates","predicate"],"[\"(target.symbol = source.symbol) AND (target.interval = source.interval) AND (target.trade_timestamp = source.trade_timestamp)\"]"]'
	run jq -c 'select(.commitInfo) | .commitInfo.operationMetrics | [.numSourceRows, .numTargetRowsUpdated, .numTargetRowsInserted, .numTargetRowsCopied, .numOutputRows, .numTargetFilesBeforeSkipping, .numTargetFilesAfterSkipping, .numTargetFilesRemoved, .numTargetFilesAdded, .numTargetRowsDeleted]' "$(log 2)"
	assert_output '["10","10","0","770","780","5","1","1","1","0"]'
	run jq -c 'select(.txn) | [.txn.appId, .txn.version]' "$(log 2)"
	assert_output '["fix",1]'
	assert_table_is_expected
}

@test "keys of strings, decimals and doubles prune files by their bounds as integers do" {
	printf 'name string not null\nprice decimal(10,2) not null\nratio double not null\nv long\n' >k.schema
	for key in name price ratio; do
		delta-create "k_$key" --schema k.schema --merge-key "$key"
		# two files: keys a..e (1.00..5.00), then x..z (24.00..26.00)
		for r in a:1 b:2 c:3 d:4 e:5; do
			printf '{"name":"%s","price":%s.00,"ratio":%s.5,"v":0}\n' "${r%:*}" "${r#*:}" "${r#*:}"
		done | delta-append --app-id t --batch-id 1 "k_$key"
		for r in x:24 y:25 z:26; do
			printf '{"name":"%s","price":%s.00,"ratio":%s.5,"v":0}\n' "${r%:*}" "${r#*:}" "${r#*:}"
		done | delta-append --app-id t --batch-id 2 "k_$key"
		# y revised, f new: only the second file may hold one of them
		printf '%s\n' '{"name":"y","price":25.00,"ratio":25.5,"v":1}' '{"name":"f","price":6.00,"ratio":6.5,"v":1}' |
			delta-append --app-id t --batch-id 3 "k_$key"
		run jq -r 'select(.commitInfo) | .commitInfo.operationMetrics | "\(.numTargetFilesBeforeSkipping) \(.numTargetFilesAfterSkipping) \(.numTargetRowsUpdated) \(.numTargetRowsInserted)"' \
			"$STOCKETL_LAKE/k_$key/_delta_log/00000000000000000003.json"
		assert_output "2 1 1 1"
		run bash -c "delta-cat k_$key | jq -r '\"\\(.name) \\(.v)\"' | sort | tr '\n' ' '"
		assert_output "a 0 b 0 c 0 d 0 e 0 f 1 x 0 y 1 z 0 "
	done
	# a double key of -0.0 is the key 0.0, within a batch and across batches
	printf 'ratio double not null\nv long\n' >z.schema
	delta-create -q zero --schema z.schema --merge-key ratio
	printf '%s\n' '{"ratio":0.0,"v":1}' '{"ratio":-0.0,"v":2}' | delta-append -q --app-id t --batch-id 1 zero
	printf '%s\n' '{"ratio":-0.0,"v":3}' | delta-append -q --app-id t --batch-id 2 zero
	run delta-cat zero
	assert_output '{"ratio":0.0,"v":3}'
}

@test "a float key is the float a file holds: a later batch replaces it, and files are pruned by its bounds" {
	printf 'f float not null\nv long\n' >f.schema
	delta-create -q fl --schema f.schema --merge-key f
	printf '%s\n' '{"f":0.05,"v":0}' '{"f":0.1,"v":0}' | delta-append -q --app-id t --batch-id 1 fl
	printf '%s\n' '{"f":0.7,"v":0}' | delta-append -q --app-id t --batch-id 2 fl
	# 0.1 is the float 0.100000001490116..., in the file and in the batch alike
	printf '%s\n' '{"f":0.1,"v":1}' | delta-append -q --app-id t --batch-id 3 fl
	run -0 jq -r 'select(.commitInfo) | .commitInfo.operationMetrics | "\(.numTargetFilesBeforeSkipping) \(.numTargetFilesAfterSkipping) \(.numTargetRowsUpdated) \(.numTargetRowsInserted)"' \
		"$STOCKETL_LAKE/fl/_delta_log/00000000000000000003.json"
	assert_output "2 1 1 0"
	run -0 bash -c "delta-cat fl | sort"
	assert_output '{"f":0.05,"v":0}
{"f":0.1,"v":1}
{"f":0.7,"v":0}'
}

@test "long strings, wide decimals and 32-bit extremes keep their values and keys through the batch" {
	printf 'name string not null\nbig decimal(38,0) not null\nn integer\nday date\nnote string\namount decimal(38,2)\n' >w.schema
	delta-create w --schema w.schema --merge-key name,big
	long=$(printf 'x%.0s' $(seq 300))
	printf '%s\n' "{\"name\":\"$long\",\"big\":99999999999999999999999999999999999999,\"n\":-2147483648,\"day\":\"0001-01-01\",\"note\":\"$long\",\"amount\":12345678901234567890123.45}" \
		'{"name":"a","big":-9223372036854775808,"n":2147483647,"day":"9999-12-31","note":"","amount":-92233720368547758.08}' \
		'{"name":"b","big":5,"n":null,"day":null,"note":null,"amount":null}' |
		delta-append --app-id t --batch-id 1 w
	# the long key twice (the second wins), and a key one above a 64-bit minimum
	printf '%s\n' "{\"name\":\"$long\",\"big\":99999999999999999999999999999999999999,\"n\":1,\"day\":\"2025-01-01\",\"note\":\"first\",\"amount\":1}" \
		"{\"name\":\"$long\",\"big\":99999999999999999999999999999999999999,\"n\":-2147483648,\"day\":\"2025-01-02\",\"note\":\"${long}y\",\"amount\":-12345678901234567890123.45}" \
		'{"name":"a","big":-9223372036854775807,"n":0,"day":"2025-01-03","note":"c","amount":0}' |
		delta-append --app-id t --batch-id 2 w
	run --separate-stderr bash -c "delta-cat w | sed -E 's/x{300}/x*300/g' | sort"
	assert_success
	assert_output - <<'EOF'
{"name":"a","big":-9223372036854775807,"n":0,"day":"2025-01-03","note":"c","amount":0}
{"name":"a","big":-9223372036854775808,"n":2147483647,"day":"9999-12-31","note":"","amount":-92233720368547758.08}
{"name":"b","big":5,"n":null,"day":null,"note":null,"amount":null}
{"name":"x*300","big":99999999999999999999999999999999999999,"n":-2147483648,"day":"2025-01-02","note":"x*300y","amount":-12345678901234567890123.45}
EOF
}

@test "a batch holds a silver record in under 160 bytes, its hash table and order included" {
	# ASan's shadow memory and redzones are most of a sanitized build's RSS
	[[ $STOCKETL_BIN == */build/san/bin ]] && skip "peak RSS measures the sanitizers under build/san"
	gen-ticks -m -s 50 -d 20300 200000 >b.ndjson
	# the same records appended (streamed: no batch in memory), then merged
	delta-create plain --schema "$SCHEMA" --partition-by trade_date
	/usr/bin/time -f %M -o plain.rss delta-append --app-id load --batch-id 1 plain b.ndjson
	create_keyed
	/usr/bin/time -f %M -o merge.rss delta-append --app-id load --batch-id 1 silver b.ndjson
	plain=$(tail -1 plain.rss) merge=$(tail -1 merge.rss)
	echo "peak RSS: $plain KiB appended, $merge KiB merged" >&3
	# KiB to bytes a record: the batch, its hash table and its order of rows
	[ $(((merge - plain) * 1024 / 200000)) -lt 160 ]
}

@test "the search for a batch's candidates takes little memory beside the batch" {
	create_keyed
	gen-ticks -m -s 50 -d 20241 150000 >a.ndjson
	gen-ticks -m -s 50 -d 20300 150000 >b.ndjson
	# the same batch merged into the empty table and into one holding other days
	/usr/bin/time -f %M -o empty.rss delta-append --app-id load --batch-id 1 silver b.ndjson
	# another table, holding other days
	delta-create other --schema "$SCHEMA" --partition-by trade_date --merge-key "$KEY"
	delta-append --app-id load --batch-id 1 other a.ndjson
	/usr/bin/time -f %M -o full.rss delta-append --app-id load --batch-id 2 other b.ndjson
	run jq -r 'select(.commitInfo) | .commitInfo.operationMetrics | "\(.numTargetFilesAfterSkipping) \(.numTargetRowsInserted)"' \
		"$STOCKETL_LAKE/other/_delta_log/00000000000000000002.json"
	assert_output "0 150000"
	# peak RSS in KiB: within a tenth of the merge that searched nothing
	empty=$(tail -1 empty.rss) full=$(tail -1 full.rss)
	echo "peak RSS: $empty KiB into the empty table, $full KiB into the other" >&3
	[ "$full" -le $((empty + empty / 10)) ]
}

@test "one process upserting a stream judges each batch by the files the batches before it left" {
	create_keyed
	gen-ticks -m -s 2 3900 >ticks.ndjson
	mark() { printf '{"@batch":{"app":"s","id":%d,"records":%d,"status":"ok"}}\n' "$1" "$2"; }
	{
		head -3120 ticks.ndjson
		mark 1 3120
		# a new day: its file is added by this batch
		sed -n '3121,3900p' ticks.ndjson
		mark 2 780
		# revisions in the day the batch before added, then in the second day
		sed -n '3500,3509p' ticks.ndjson | sed 's/"volume":[0-9]*/"volume":7/'
		mark 3 10
		sed -n '1000,1009p' ticks.ndjson | sed 's/"volume":[0-9]*/"volume":8/'
		mark 4 10
		# the same bars of the new day once more, in the file batch 3 wrote
		sed -n '3500,3509p' ticks.ndjson | sed 's/"volume":[0-9]*/"volume":9/'
		mark 5 10
	} >stream.ndjson
	delta-append -q silver stream.ndjson
	tag 1 <stream.ndjson
	for v in 1 2 3 4 5; do
		echo "$(metric "$v" numTargetFilesBeforeSkipping) $(metric "$v" numTargetFilesAfterSkipping) $(metric "$v" numTargetRowsUpdated) $(metric "$v" numTargetRowsInserted)"
	done >metrics
	assert_equal "$(cat metrics)" "$(printf '%s\n' '0 0 0 3120' '4 0 0 780' '5 1 10 0' '5 1 10 0' '5 1 10 0')"
	assert_table_is_expected
	run bash -c "delta-cat silver | jq -r 'select(.volume >= 7 and .volume <= 9) | .volume' | sort | uniq -c | awk '{ print \$1, \$2 }'"
	assert_output "$(printf '%s\n' '10 8' '10 9')"
}

@test "time travel shows each version as it was" {
	create_keyed
	gen-ticks -m -s 3 900 >ticks.ndjson
	overlap feed 1 4 400 150 <ticks.ndjson >batches.ndjson
	awk '/"@batch"/ { print > sprintf("b%02d.ndjson", ++n); next } { print > sprintf("b%02d.ndjson", n + 1) }' batches.ndjson
	n=0
	for f in b0*.ndjson; do
		n=$((n + 1))
		upsert "$n" "$f"
		cp tagged.ndjson "tagged.$n"
	done
	for v in 1 2 3 4; do
		cp "tagged.$v" tagged.ndjson
		expected >want
		delta-cat --at-version "$v" silver | project >got
		run diff want got
		assert_success
	done
}

@test "a null in a key column is a bad record: the batch is not committed" {
	create_keyed
	gen-ticks -a feed -i 1 3 | sed '2s/"trade_timestamp":"[^"]*"/"trade_timestamp":null/' >in.ndjson
	run --separate-stderr delta-append silver in.ndjson
	assert_failure 65
	assert_equal "${stderr_lines[0]}" "delta-append: in.ndjson: record 2: column \"trade_timestamp\": null in a column that is not nullable"
	[ ! -e "$(log 1)" ]
	delta-create plain --schema <(sed 's/not null//' "$SCHEMA") --partition-by trade_date
	run --separate-stderr delta-append --merge-key "$KEY" plain in.ndjson
	assert_failure 65
	assert_equal "${stderr_lines[0]}" "delta-append: in.ndjson: record 2: column \"trade_timestamp\": null in the merge key (symbol,interval,trade_timestamp)"
	[ ! -e "$STOCKETL_LAKE/plain/_delta_log/00000000000000000001.json" ]
}

@test "an empty string in a key column that partitions the table is a bad record: it would be stored as null, a key no later batch matches" {
	printf 'venue string\nid long\nv string\n' >k.schema
	delta-create k --schema k.schema --partition-by venue --merge-key venue,id
	printf '{"venue":"","id":1,"v":"a"}\n{"venue":"X","id":2,"v":"b"}\n' >in.ndjson
	run --separate-stderr delta-append k in.ndjson
	assert_failure 65
	assert_equal "${stderr_lines[0]}" "delta-append: in.ndjson: record 1: column \"venue\": an empty string in the merge key (venue,id), which a partition value stores as null"
	[ ! -e "$STOCKETL_LAKE/k/_delta_log/00000000000000000001.json" ]
	# Not in the key, an empty partition value is null, as for appends.
	delta-create k2 --schema k.schema --partition-by venue --merge-key id
	delta-append -q k2 in.ndjson
	delta-append -q k2 in.ndjson
	run delta-cat k2
	assert_success
	assert_output "$(printf '%s\n' '{"venue":"X","id":2,"v":"b"}' '{"venue":null,"id":1,"v":"a"}')"
}

# replayed_at V add|remove: silver's live files (add) or its tombstones
# (remove) at version V, by replaying its JSON commits.
replayed_at() {
	local v files=()
	for ((v = 0; v <= $1; v++)); do files+=("$(log "$v")"); done
	jq -rn --arg k "$2" 'reduce inputs as $a ({};
		if $a.add then (if $k == "add" then .[$a.add.path] = 1 else del(.[$a.add.path]) end)
		elif $a.remove then (if $k == "remove" then .[$a.remove.path] = 1 else del(.[$a.remove.path]) end)
		else . end) | keys[]' "${files[@]}"
}
live_at() { replayed_at "$1" add; }
removed_at() { replayed_at "$1" remove; }

# checkpoint_paths V add|remove: the paths of the checkpoint of version V's adds or removes, as DuckDB reads them.
checkpoint_paths() {
	duckdb-query.js "SELECT $2.path AS p FROM read_parquet('$(printf '%s/_delta_log/%020d.checkpoint.parquet' "$T" "$1")') WHERE $2 IS NOT NULL ORDER BY 1" | jq -r .p
}
checkpoint_adds() { checkpoint_paths "$1" add; }
checkpoint_removes() { checkpoint_paths "$1" remove; }

# revisions N: a stream of N upserts of 20 bars each, every one revising bars of the two days the one before wrote.
revisions() {
	local i
	for ((i = 1; i <= $1; i++)); do
		sed -n "$((700 + i * 10)),$((719 + i * 10))p" ticks.ndjson | sed "s/\"volume\":[0-9]*/\"volume\":$i/"
		printf '{"@batch":{"app":"s","id":%d,"records":20,"status":"ok"}}\n' "$i"
	done
}

@test "a stream's checkpoints are written behind its next batches, each of its own version, each reported" {
	delta-create silver --schema "$SCHEMA" --partition-by trade_date --merge-key "$KEY" \
		--property delta.checkpointInterval=2
	gen-ticks -m -s 2 1560 >ticks.ndjson
	revisions 7 >stream.ndjson
	run --separate-stderr delta-append -v silver stream.ndjson
	assert_success
	for v in 2 4 6; do
		[ "$(grep -c "wrote the checkpoint of version $v\$" <<<"$stderr")" -eq 1 ]
		assert_equal "$(checkpoint_adds "$v")" "$(live_at "$v")"
	done
	[ ! -e "$T/_delta_log/00000000000000000008.checkpoint.parquet" ]
	assert_equal "$(jq -c .version "$T/_delta_log/_last_checkpoint")" 6
	# every file a checkpoint names was live at its version only: the stream moved on
	[ "$(checkpoint_adds 2)" != "$(checkpoint_adds 6)" ]
	tag 1 <stream.ndjson
	assert_table_is_expected
}

@test "one process per upsert reads no tombstones, yet each checkpoint it writes holds every tombstone of its version" {
	delta-create silver --schema "$SCHEMA" --partition-by trade_date --merge-key "$KEY" \
		--property delta.checkpointInterval=2
	gen-ticks -m -s 2 1560 >ticks.ndjson
	local n
	for n in 1 2 3 4 5; do
		sed -n "$((700 + n * 10)),$((719 + n * 10))p" ticks.ndjson | sed "s/\"volume\":[0-9]*/\"volume\":$n/" >"b$n.ndjson"
		delta-append -q --app-id s --batch-id "$n" silver "b$n.ndjson"
	done
	for v in 2 4; do
		[ -n "$(removed_at "$v")" ]
		assert_equal "$(checkpoint_removes "$v")" "$(removed_at "$v")"
		assert_equal "$(checkpoint_adds "$v")" "$(live_at "$v")"
	done
	# the next upsert starts from the checkpoint of version 4 and the commit after it
	sed -n '760,779p' ticks.ndjson | sed 's/"volume":[0-9]*/"volume":6/' >b6.ndjson
	run --separate-stderr delta-append -v --app-id s --batch-id 6 silver b6.ndjson
	assert_success
	assert_equal "$(checkpoint_removes 6)" "$(removed_at 6)"
	assert_equal "$(checkpoint_adds 6)" "$(live_at 6)"
	# every bar once, at its latest value
	run bash -c "delta-cat silver | jq -r .volume | sort -n | uniq -c | awk '{ print \$1, \$2 }' | tail -4"
	assert_output - <<-'EOF'
		10 3
		10 4
		10 5
		20 6
	EOF
	assert_equal "$(delta-cat silver | wc -l)" 70
}

@test "checkpoints that fail behind the stream are warnings naming their versions; every batch stands" {
	test_lake_skip "commits are renamed into place on the bucket too, so the fault would strike them"
	delta-create silver --schema "$SCHEMA" --partition-by trade_date --merge-key "$KEY" \
		--property delta.checkpointInterval=2
	gen-ticks -m -s 2 1560 >ticks.ndjson
	revisions 6 >stream.ndjson
	head -n 105 stream.ndjson >first.ndjson
	# each checkpoint's rename into place fails (strace counts a thread's
	# calls, and each checkpoint has a thread of its own; commits are linked)
	# (LeakSanitizer cannot work under ptrace: a sanitizer build is traced without it)
	run --separate-stderr env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -qq -o /dev/null -e trace=rename -e inject=rename:error=EIO:when=1 \
		delta-append -v silver first.ndjson
	assert_success
	for v in 2 4; do
		[[ $stderr == *"delta-append: checkpoint at version $v: $T/_delta_log/$(printf %020d "$v").checkpoint.parquet: Input/output error"* ]]
	done
	[[ $stderr != *"wrote the checkpoint"* ]]
	[ -e "$(log 5)" ]
	assert_equal "$(find "$T/_delta_log" -name '*.checkpoint.parquet' -o -name '_last_checkpoint' -o -name '.*.tmp' | wc -l)" 0
	# the next checkpoint due is written
	run --separate-stderr delta-append -v silver stream.ndjson
	assert_success
	[[ $stderr == *"wrote the checkpoint of version 6"* ]]
	assert_equal "$(checkpoint_adds 6)" "$(live_at 6)"
	tag 1 <stream.ndjson
	assert_table_is_expected
}

@test "an upsert whose files another writer rewrote first merges again; with no retries left it exits 75 and says so" {
	test_lake_skip "the commit is held at its link(2), which the PostgreSQL store does not make"
	create_keyed
	gen-ticks -m 4 | grep -v '"@batch"' >base.ndjson
	delta-append -q --app-id load --batch-id 1 silver base.ndjson
	head -1 base.ndjson | jq -c '.volume = 111' >a.ndjson
	head -1 base.ndjson | jq -c '.volume = 222' >b.ndjson
	head -1 base.ndjson | jq -c '.volume = 333' >c.ndjson
	# held_upsert RETRIES FILE: an upsert whose commit waits 3 s before it is linked
	held_upsert() {
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -o /dev/null \
			-e trace=link -e inject=link:delay_enter=3000000:when=1 \
			delta-append --commit-retries "$1" --app-id "$2" --batch-id 1 silver "$2.ndjson" 2>"$2.err" &
		held=$!
		for ((k = 0; k < 100; k++)); do
			compgen -G "$T/_delta_log/.*.json.*.tmp" >/dev/null && break
			sleep 0.05
		done
	}
	held_upsert 0 a
	delta-append -q --app-id b --batch-id 1 silver b.ndjson
	s=0
	wait "$held" || s=$?
	assert_equal "$s" 75
	run grep -c '(0 retries spent, --commit-retries)$' a.err
	assert_output 1
	assert_equal "$(delta-cat silver | jq -c 'select(.volume == 222 or .volume == 111) | .volume')" 222
	# with retries, it merges again from the version that won, and wins the key
	held_upsert 15 c
	delta-append -q --app-id b --batch-id 2 silver b.ndjson
	wait "$held"
	assert_equal "$(delta-append --txn-version c silver)" 1
	# it committed after the upsert that took its version
	v=$(delta-history --format json --limit 1 silver | jq .version)
	assert_equal "$(jq -r 'select(.txn) | .txn.appId' "$(log "$v")") $(jq -r 'select(.txn) | .txn.appId' "$(log $((v - 1)))")" "c b"
	assert_equal "$(delta-cat silver | jq -c 'select(.volume >= 111 and .volume <= 333) | .volume')" 333
	assert_equal "$(delta-cat silver | wc -l)" "$(wc -l <base.ndjson)"
}

@test "a replayed stream of upserts loads each batch once" {
	create_keyed
	gen-ticks -m -s 2 600 | overlap feed 1 3 300 150 >batches.ndjson
	delta-append silver batches.ndjson
	run --separate-stderr delta-append silver batches.ndjson
	assert_success
	assert_equal "${stderr_lines[1]}" "delta-append: silver: 3 batches skipped as already loaded"
	[ ! -e "$(log 4)" ]
	tag 1 <batches.ndjson
	assert_table_is_expected
}

@test "two upserters and an appender at once: every key once, the value of the last commit that held it" {
	# a table without a key: the upserters name it, the appender appends
	delta-create silver --schema "$SCHEMA" --partition-by trade_date
	gen-ticks -m -s 4 4000 >ticks.ndjson
	# the upserters revise the same bars in overlapping windows of their own
	overlap A 1 12 400 250 <ticks.ndjson >a.ndjson
	overlap B 2 12 400 250 125 <ticks.ndjson >b.ndjson
	# the appender adds bars of another symbol, in the same partitions
	gen-ticks -a C -b 12 -i 1 -s 1 100 | sed 's/"NVDA"/"ZZZZ"/' >c.ndjson
	delta-append --merge-key "$KEY" --commit-retries 1000 silver a.ndjson 2>err.a &
	delta-append --merge-key "$KEY" --commit-retries 1000 silver b.ndjson 2>err.b &
	delta-append --commit-retries 1000 silver c.ndjson 2>err.c &
	wait
	cat err.a err.b err.c
	# every batch committed once, each writer's in its order
	for app in A B C; do
		run bash -c "cat '$T'/_delta_log/*.json | jq -r --arg a $app 'select(.txn.appId == \$a) | .txn.version' | paste -sd' '"
		assert_output "1 2 3 4 5 6 7 8 9 10 11 12"
	done
	# the expected table: the batches applied in the order of their commits
	for v in $(seq 1 36); do
		read -r app id < <(jq -r 'select(.txn) | "\(.txn.appId) \(.txn.version)"' "$(log "$v")")
		file=$(tr 'ABC' 'abc' <<<"$app").ndjson
		awk -v id="$id" '/"@batch"/ { n++; next } n + 1 == id' "$file" | tag "$v"
	done
	assert_table_is_expected
	# A revised bars 1-3150, B bars 126-3275; C added 1200 of its own
	assert_equal "$(delta-cat silver | wc -l)" $((3275 + 1200))
}

@test "a table with structs, arrays and maps upserts by a primitive key: the rewritten file keeps the nested values of the rows it copies; a nested key is refused" {
	local nx=$FIXTURES/nested
	delta-create -q ./n --schema "$nx/schema.json" --merge-key id
	delta-append -q ./n "$nx/rows.ndjson"
	run --separate-stderr delta-append ./n "$nx/upsert.ndjson"
	assert_success
	# ids 1, 3, 4 as they were; 2 replaced by the batch's; 5 new
	{
		jq -c 'select(.id != 2)' "$nx/rows.expected"
		delta-cat ./n | jq -c 'select(.id == 2 or .id == 5)'
	} | jq -s -c 'sort_by(.id) | .[]' >want
	delta-cat ./n | jq -s -c 'sort_by(.id) | .[]' >got
	diff want got
	assert_equal "$(jq -c 'select(.id == 2)' got)" '{"id":2,"day":"2024-03-11","quote":{"bid":null,"ask":null,"at":null,"venue":null,"tags":["new"]},"fills":[{"px":2.5,"qty":1}],"byint":null,"bystr":{"z":{"f":0.5,"b":null}},"nums":[[5]]}'
	assert_equal "$(jq -c 'select(.id == 5)' got)" '{"id":5,"day":null,"quote":null,"fills":[],"byint":null,"bystr":null,"nums":null}'
	run -0 jq -c 'select(.commitInfo) | .commitInfo.operationMetrics | [.numTargetRowsUpdated, .numTargetRowsInserted, .numTargetRowsCopied]' ./n/_delta_log/00000000000000000002.json
	assert_output '["1","1","3"]'
	run --separate-stderr delta-append --merge-key quote ./n "$nx/upsert.ndjson"
	assert_failure 64
	assert_equal "${stderr_lines[0]}" 'delta-append: --merge-key: merge key quote: a key cannot hold the nested column "quote"'
	run --separate-stderr delta-append --merge-key id --latest-by fills ./n "$nx/upsert.ndjson"
	assert_failure 64
	assert_equal "$(delta-history --format json ./n | jq -s length)" 3
}

@test "a batch whose records outgrow their mapping many times (35 MB) loads as the same records in small batches do" {
	create_keyed
	delta-create -q small --schema "$SCHEMA" --partition-by trade_date --merge-key "$KEY"
	# 400,000 records of 200,000 keys, about 35 MB encoded: each key's
	# second record (volume 7) replaces its first; then the first 100,000
	# keys again (volume 9), a second batch of the same stream
	gen-ticks -m -s 8 200000 >a.ndjson
	sed 's/"volume":[0-9]*/"volume":7/' a.ndjson >b.ndjson
	head -n 100000 a.ndjson | sed 's/"volume":[0-9]*/"volume":9/' >c.ndjson
	marker() { printf '{"@batch":{"app":"%s","id":%d,"records":%d,"status":"ok"}}\n' "$1" "$2" "$3"; }
	{
		cat a.ndjson b.ndjson
		marker big 1 400000
		cat c.ndjson
		marker big 2 100000
	} | delta-append -q silver
	# the same records in batches of 50,000
	cat a.ndjson b.ndjson c.ndjson | awk -v n=50000 '
		{ print } NR % n == 0 { printf "{\"@batch\":{\"app\":\"small\",\"id\":%d,\"records\":%d,\"status\":\"ok\"}}\n", NR / n, n }' |
		delta-append -q small
	delta-cat silver | sort >got
	delta-cat small | sort >want
	assert_equal "$(wc -l <got)" 200000
	assert_equal "$(grep -c '"volume":9,' got)" 100000
	assert_equal "$(grep -c '"volume":7,' got)" 100000
	cmp want got
	assert_equal "$(metric 1 numSourceRows) $(metric 1 numTargetRowsInserted) $(metric 2 numTargetRowsUpdated)" "400000 200000 100000"
}

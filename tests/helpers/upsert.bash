# Helpers of the suites about upserts (merge.bats, silver.bats): overlapping
# batches of revised bars, the expected table computed by DuckDB from every
# record loaded (the later record of a key winning), and the table read
# three ways: by delta-cat, by DuckDB over the live files, and by replaying
# the log (the live files are the adds that no later remove took away).
#
#   load helpers/upsert
#
# Records go to tagged.ndjson in the working directory with their place in
# the order of loading; $T is the table's directory and $UPSERT_TABLE its
# name for delta-cat (default silver).
# shellcheck shell=bash

UPSERT_COLUMNS="{symbol: 'VARCHAR', interval: 'VARCHAR', trade_timestamp: 'TIMESTAMPTZ', trade_date: 'DATE', open: 'DECIMAL(18,6)', high: 'DECIMAL(18,6)', low: 'DECIMAL(18,6)', close: 'DECIMAL(18,6)', volume: 'BIGINT', batch_id: 'BIGINT', ingested_at: 'TIMESTAMPTZ', source: 'VARCHAR', seq: 'BIGINT', ln: 'BIGINT'}"

# The live files by replaying the JSON commits: adds that no remove took away.
live_files() {
	cat "$T"/_delta_log/*.json |
		jq -r 'if .add then "A \(.add.path)" elif .remove then "R \(.remove.path)" else empty end' |
		awk '$1 == "A" { live[$2] = 1 } $1 == "R" { delete live[$2] } END { for (p in live) print p }' |
		sort
}

# overlap APP WRITER BATCHES ROWS STEP [FIRST] < ticks: batch k (k = 0...) holds
# the input lines FIRST+k*STEP+1 ... FIRST+k*STEP+ROWS, each with a revised
# volume WRITER*1000000+k, then its marker (app APP, id k+1).
overlap() {
	awk -v app="$1" -v w="$2" -v nb="$3" -v rows="$4" -v step="$5" -v first="${6:-0}" '
	{ line[NR] = $0 }
	END {
		for (k = 0; k < nb; k++) {
			n = 0
			for (i = first + k * step + 1; i <= first + k * step + rows && i <= NR; i++) {
				l = line[i]
				sub(/"volume":[0-9]+/, "\"volume\":" (w * 1000000 + k), l)
				print l
				n++
			}
			printf "{\"@batch\":{\"app\":\"%s\",\"id\":%d,\"records\":%d,\"status\":\"ok\"}}\n", app, k + 1, n
		}
	}'
}

# tag SEQ < batch: its records with their place in the order of loading (SEQ,
# then the line), appended to tagged.ndjson for the expected result.
tag() {
	grep -v '"@batch"' | jq -c --argjson s "$1" '. + {seq: $s, ln: input_line_number}' >>tagged.ndjson
}

# The rows a projection shows of them: key, partition, and the values that batches revise.
project() {
	jq -c -S '{symbol, interval, trade_timestamp, trade_date, volume, close, batch_id}' | sort
}

# The expected table from tagged.ndjson: per key, the record loaded last.
expected() {
	duckdb-query.js "SELECT * EXCLUDE (seq, ln, rn) FROM (SELECT *, row_number() OVER (PARTITION BY symbol, interval, trade_timestamp ORDER BY seq DESC, ln DESC) AS rn FROM read_json('tagged.ndjson', format = 'newline_delimited', columns = $UPSERT_COLUMNS)) WHERE rn = 1" | project
}

# DuckDB's reading of the live files (their partition column from the path).
duck_table() {
	local live
	live=$(live_files | sed "s|^|'$T/|; s|$|'|" | paste -sd,)
	[ -n "$live" ] || return 0
	duckdb-query.js "SELECT * FROM read_parquet([$live], hive_partitioning = true, hive_types = {'trade_date': DATE})" | project
}

# The table equals the expected rows, read by delta-cat and by DuckDB; no key twice.
assert_table_is_expected() {
	expected >want
	delta-cat "${UPSERT_TABLE:-silver}" | project >got
	run diff want got
	assert_success
	duck_table >duck
	run diff want duck
	assert_success
	run bash -c "jq -r '[.symbol, .interval, .trade_timestamp] | @tsv' got | sort | uniq -d"
	assert_output ""
}

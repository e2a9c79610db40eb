#!/usr/bin/env bash
# The job end to end: av-fetch envelopes normalised, checked and appended
# to bronze, then bronze upserted into silver, against DuckDB doing the
# same work in SQL on the same data in the same run.  Prints the medians of
# BENCH_RUNS timings, the peak memory of each stage and the RESULT lines of
# bench/run.
#
# The data: E2E_BENCH_BARS (default 5,000,000; BENCH_QUICK=1: 200,000)
# one-minute bars of 500 symbols from bench/gen-envelopes.js, as av-fetch
# envelopes of 960 bars (a symbol's extended-hours day) in batches of 8,
# and the last 5% of the envelopes fetched again in later batches with
# their newest bar revised, as the job's overlapping fetches store bars
# twice: silver has to keep each bar once, at its latest value.
#
#   stocketl, the stages of pipelines/bronze.sh and pipelines/silver.sh,
#   into a new lake each time, with JSON records between the programs and
#   with binary frames (--binary, as the pipelines run them):
#     bronze: tick-normalize | tick-validate --checks conf/checks/ticks.checks
#             | delta-append bronze  (the quarantines written, one commit
#             per batch, every file fsynced)
#     silver: delta-cat of bronze's versions, 100 at a time (the first
#             batch from bronze's snapshot, the others in one stream ended
#             by batch markers), | delta-append --merge-key
#             symbol,interval,trade_timestamp --latest-by batch_id
#   DuckDB (one instance per stage, its start left out of the time):
#     bronze: read_json of the envelopes with each series as a MAP, the
#             zone conversion with ICU, DECIMAL(18,6) casts; the rules of
#             the shipped checks flagged, the batch checks judged per batch
#             (a failing batch dropped), the flagged rows copied out; the
#             rest COPYed to ZSTD Parquet PARTITION_BY (trade_date)
#     silver: bronze's Parquet read back, the latest row of each key kept
#             (the highest batch_id), COPYed to ZSTD Parquet PARTITION_BY
#             (trade_date)
#   DuckDB makes nothing durable and keeps no log; delta-append fsyncs
#   every file before each commit.
#
# Peak memory: each of our programs' peak RSS (silver: the largest process
# of the silver steps), and the node process running DuckDB for each stage.
set -eu
STOCKETL_ROOT=${STOCKETL_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
export STOCKETL_ROOT
export PATH="$STOCKETL_ROOT/bin:$PATH"
BENCH_DIR=${BENCH_DIR:-/tmp/stocketl-bench}
BENCH_RUNS=${BENCH_RUNS:-3}
# shellcheck source=bench/lib.sh
. "$STOCKETL_ROOT/bench/lib.sh"
root=$STOCKETL_ROOT
if [ -n "${BENCH_QUICK:-}" ]; then
	bars=${E2E_BENCH_BARS:-200000}
else
	bars=${E2E_BENCH_BARS:-5000000}
fi
d=$BENCH_DIR/e2e-$bars
mkdir -p "$d"
envs=$(((bars + 959) / 960))
again=$((envs / 20))
if [ ! -s "$d/envelopes.ndjson" ]; then
	echo "generating $bars bars ($again envelopes fetched twice) in $d"
	node "$root/bench/gen-envelopes.js" "$bars" 960 8 500 "$again" >"$d/envelopes.ndjson.tmp"
	mv "$d/envelopes.ndjson.tmp" "$d/envelopes.ndjson"
fi
checks=$root/conf/checks/ticks.checks
env=$d/envelopes.ndjson

# A peak RSS file per stage, read back as KiB.
peak() { tail -1 "$d/rss-$1"; }
tm() { # NAME CMD...: CMD under /usr/bin/time, its peak RSS kept as NAME
	local name=$1
	shift
	/usr/bin/time -f %M -o "$d/rss-$name" "$@"
}

count() { node "$root/tests/helpers/duckdb-query.js" "SELECT count(*) AS n FROM read_parquet('$1')" | jq .n; }

# stocketl ---------------------------------------------------------------------
# bronze MODE: the job's bronze stages into a new lake (fresh_lake, outside
# the timing, as DuckDB's output directory is discarded outside its; see
# bench/lib.sh for why the last run's files are not deleted here); MODE
# json (JSON records between the stages) or binary (binary frames, as
# pipelines/bronze.sh runs them).
fresh_lake() {
	discard "${d:?}/lake" "${d:?}/var"
	mkdir -p "$d/var"
}
ours_bronze() {
	local bin=()
	[ "$1" = binary ] && bin=(--binary)
	delta-create -q bronze --schema "$root/conf/tables/bronze.schema" --partition-by trade_date
	tm normalize tick-normalize -q "${bin[@]}" --rejects "$d/var/normalize.ndjson" "$env" |
		tm validate tick-validate -q "${bin[@]}" --checks "$checks" --rejects "$d/var/validate.ndjson" |
		tm append delta-append -q bronze
	local st=("${PIPESTATUS[@]}")
	[ "${st[0]}" -le 1 ] && [ "${st[1]}" -le 1 ] && [ "${st[2]}" -le 1 ]
}
# silver MODE: the steps of pipelines/silver.sh (bronze's versions 100 at a
# time, each batch's id the last version it holds: the first batch from
# bronze's snapshot, the others through one delta-cat and one delta-append,
# ended by delta-cat's batch markers), with JSON records or binary frames
# (as the pipeline runs it) from delta-cat to delta-append.
ours_silver() {
	local bin=()
	[ "$1" = binary ] && bin=(--binary)
	local key=symbol,interval,trade_timestamp latest first rs=0 r
	delta-create -q silver --schema "$root/conf/tables/silver.schema" --partition-by trade_date \
		--merge-key "$key"
	latest=$(delta-history --format json --limit 1 bronze | jq .version)
	first=$((latest < 100 ? latest : 100))
	tm silver-cat delta-cat "${bin[@]}" --at-version "$first" bronze |
		tm silver-append delta-append -q --merge-key "$key" --latest-by batch_id \
			--app-id silver/bronze --batch-id "$first" silver
	rs=$(printf '%s\n' "$(peak silver-cat)" "$(peak silver-append)" | sort -n | tail -1)
	if [ "$first" -lt "$latest" ]; then
		tm silver-cat delta-cat "${bin[@]}" --since-version "$first" --at-version "$latest" \
			--batch-every 100 --batch-app silver/bronze bronze |
			tm silver-append delta-append -q --merge-key "$key" --latest-by batch_id silver
		r=$(printf '%s\n' "$(peak silver-cat)" "$(peak silver-append)" "$rs" | sort -n | tail -1)
		rs=$r
	fi
	echo "$rs" >"$d/rss-silver"
}
export STOCKETL_LAKE=$d/lake
declare -A walls rss
for ((i = 0; i < BENCH_RUNS; i++)); do
	for mode in json binary; do
		fresh_lake
		t0=$EPOCHREALTIME
		ours_bronze $mode
		t1=$EPOCHREALTIME
		ours_silver $mode
		t2=$EPOCHREALTIME
		walls[bronze-$mode]+=" $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
		walls[silver-$mode]+=" $(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }')"
		for s in normalize validate append silver; do
			r=$(peak $s)
			[ "$r" -gt "${rss[$s-$mode]:-0}" ] && rss[$s-$mode]=$r
		done
	done
done
# shellcheck disable=SC2086 # the walls are space-separated lists
for k in bronze-json silver-json bronze-binary silver-binary; do
	walls[$k]=$(median ${walls[$k]})
done
# Bronze is only appended to: every data file under it is live.
o_bronze=$(count "$d/lake/bronze/trade_date=*/*.parquet")
o_silver=$(delta-cat --columns symbol silver | wc -l)
total=$o_bronze # every record is loaded: the data break no check

# DuckDB -----------------------------------------------------------------------
# The bars of the envelopes, typed (tick-normalize's work).
bars_sql="SELECT symbol, interval,
		timezone('America/New_York', strptime(b.key, '%Y-%m-%d %H:%M:%S')) AS trade_timestamp,
		CAST(strptime(b.key, '%Y-%m-%d %H:%M:%S') AS DATE) AS trade_date,
		CAST(b.value.\"1. open\" AS DECIMAL(18,6)) AS open, CAST(b.value.\"2. high\" AS DECIMAL(18,6)) AS high,
		CAST(b.value.\"3. low\" AS DECIMAL(18,6)) AS low, CAST(b.value.\"4. close\" AS DECIMAL(18,6)) AS close,
		CAST(b.value.\"5. volume\" AS BIGINT) AS volume, batch_id,
		CAST(fetched_at AS TIMESTAMPTZ) AS ingested_at, 'alphavantage' AS source
	FROM (SELECT symbol, interval, fetched_at, batch_id, unnest(map_entries(body.\"Time Series (1min)\")) AS b
		FROM (SELECT * FROM read_json('$env', format='newline_delimited',
			columns={symbol:'VARCHAR', interval:'VARCHAR', fetched_at:'VARCHAR', batch_id:'BIGINT',
			body:'STRUCT(\"Time Series (1min)\" MAP(VARCHAR, STRUCT(\"1. open\" VARCHAR, \"2. high\" VARCHAR,
				\"3. low\" VARCHAR, \"4. close\" VARCHAR, \"5. volume\" VARCHAR)))'})
			WHERE symbol IS NOT NULL))"
# The rules of the shipped checks (tick-validate's work), as in bench/tick.sh.
flag="CREATE TABLE f AS SELECT *,
	high < greatest(open, close) AS r1, low > least(open, close) AS r2, low <= 0 AS r3, volume < 0 AS r4,
	epoch_us(timezone('America/New_York', trade_timestamp)) % (CASE interval WHEN '1min' THEN 60 WHEN '5min' THEN 300
		WHEN '15min' THEN 900 WHEN '30min' THEN 1800 WHEN '60min' THEN 3600 ELSE 86400 END * 1000000) <> 0 AS r5,
	dayofweek(timezone('America/New_York', trade_timestamp)) IN (0, 6) OR (interval <> '1d' AND
		(timezone('America/New_York', trade_timestamp)::TIME < TIME '04:00' OR
		 timezone('America/New_York', trade_timestamp)::TIME + CASE interval WHEN '1min' THEN INTERVAL 1 MINUTE
		 WHEN '5min' THEN INTERVAL 5 MINUTE WHEN '15min' THEN INTERVAL 15 MINUTE WHEN '30min' THEN INTERVAL 30 MINUTE
		 ELSE INTERVAL 60 MINUTE END > TIME '20:00')) AS r6
	FROM ($bars_sql)"
# The batch checks: row_count > 0, missing_count(symbol) = 0 over each batch's passing rows.
judge="CREATE TABLE ok AS SELECT batch_id FROM f GROUP BY batch_id
	HAVING count(*) FILTER (WHERE NOT (r1 OR r2 OR r3 OR r4 OR r5 OR r6)) > 0
	AND count(*) FILTER (WHERE symbol IS NULL AND NOT (r1 OR r2 OR r3 OR r4 OR r5 OR r6)) = 0"
cols="symbol, interval, trade_timestamp, trade_date, open, high, low, close, volume, batch_id, ingested_at, source"
rejects="COPY (SELECT $cols FROM f WHERE r1 OR r2 OR r3 OR r4 OR r5 OR r6) TO '$d/duck-rejects.ndjson' (FORMAT json)"
bronze="COPY (SELECT $cols FROM f WHERE NOT (r1 OR r2 OR r3 OR r4 OR r5 OR r6) AND batch_id IN (SELECT batch_id FROM ok))
	TO '$d/duck/bronze' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (trade_date))"
silver="COPY (SELECT $cols FROM read_parquet('$d/duck/bronze/*/*.parquet', hive_partitioning = true, hive_types = {'trade_date': DATE})
	QUALIFY row_number() OVER (PARTITION BY symbol, interval, trade_timestamp ORDER BY batch_id DESC) = 1)
	TO '$d/duck/silver' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (trade_date))"
db_ms=() ds_ms=() db_rss=0 ds_rss=0
for ((i = 0; i < BENCH_RUNS; i++)); do
	discard "$d/duck"
	mkdir -p "$d/duck"
	db_ms+=("$(tm duck-bronze node "$root/bench/tick-duck.js" -- "$flag" "$judge" "$rejects" "$bronze")")
	ds_ms+=("$(tm duck-silver node "$root/bench/tick-duck.js" -- "$silver")")
	r=$(peak duck-bronze)
	[ "$r" -gt "$db_rss" ] && db_rss=$r
	r=$(peak duck-silver)
	[ "$r" -gt "$ds_rss" ] && ds_rss=$r
done
db=$(awk -v m="$(median "${db_ms[@]}")" 'BEGIN { print m / 1000 }')
ds=$(awk -v m="$(median "${ds_ms[@]}")" 'BEGIN { print m / 1000 }')
d_bronze=$(count "$d/duck/bronze/*/*.parquet")
d_silver=$(count "$d/duck/silver/*/*.parquet")

rate() { awk -v n="$total" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }
sum() { awk -v a="$1" -v b="$2" 'BEGIN { print a + b }'; }
ours_line() { # MODE
	local b=${walls[bronze-$1]} s=${walls[silver-$1]}
	echo "  stocketl, $1 between the programs: bronze ${b}s ($(rate "$b") bars/s), silver ${s}s; peak RSS normalize ${rss[normalize-$1]} KiB, validate ${rss[validate-$1]} KiB, append ${rss[append-$1]} KiB, silver ${rss[silver-$1]} KiB"
}
echo "e2e: $bars bars + $((total - bars)) fetched again ($total records); $BENCH_RUNS runs per timing (median)"
ours_line json
ours_line binary
echo "  DuckDB: bronze ${db}s ($(rate "$db") bars/s), silver ${ds}s; peak RSS bronze $db_rss KiB, silver $ds_rss KiB"
echo "  rows: bronze $o_bronze (DuckDB $d_bronze), silver $o_silver (DuckDB $d_silver)"
largest() { printf '%s\n' "$@" | sort -n | tail -1; }
result "e2e bronze+silver, binary frames (the job)" "$(sum "${walls[bronze-binary]}" "${walls[silver-binary]}")" "$(sum "$db" "$ds")" s lower
result "e2e bronze+silver, JSON between the programs" "$(sum "${walls[bronze-json]}" "${walls[silver-json]}")" "$(sum "$db" "$ds")" s lower
result "e2e bronze, binary frames" "${walls[bronze-binary]}" "$db" s lower
result "e2e silver, binary frames" "${walls[silver-binary]}" "$ds" s lower
result "e2e peak RSS, largest stage" \
	"$(largest "${rss[normalize-binary]}" "${rss[validate-binary]}" "${rss[append-binary]}" "${rss[silver-binary]}" \
		"${rss[normalize-json]}" "${rss[validate-json]}" "${rss[append-json]}" "${rss[silver-json]}")" \
	"$(largest "$db_rss" "$ds_rss")" KiB lower

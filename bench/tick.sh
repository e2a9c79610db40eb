#!/usr/bin/env bash
# Benchmark: tick-normalize and tick-validate against DuckDB doing the same
# work on the same data, in the same run.  Prints the medians of BENCH_RUNS
# timings, peak memory (RSS) and the RESULT lines of bench/run.
#
# The data: TICK_BENCH_BARS (default 5,000,000) one-minute bars from
# bench/gen-envelopes.js, as av-fetch envelopes of 960 bars (a symbol's
# extended-hours day) in batches of 8, then as tick records in JSON and in
# binary; and the same ticks as one single batch, for the memory of
# duplicate_count over a long batch.
#
#   tick-normalize  envelopes (JSON) -> ticks (JSON)
#     DuckDB: read_json of the envelopes with each series read as a MAP (its
#     fastest way to bars; json_each was a hundred times slower), the zone
#     conversion with ICU, DECIMAL(18,6) casts, ordered by envelope and time,
#     COPY to JSON.
#   tick-validate   the shipped checks (conf/checks/ticks.checks)
#     JSON: DuckDB reads the same NDJSON, flags the same rules, judges the
#     same batch checks per batch and COPYs the passing rows to JSON.
#     binary: DuckDB cannot read the binary frames, so it gets the records
#     already loaded in memory and only flags, judges and keeps the passing
#     rows (a table) - a lower bound for DuckDB's work.
#   duplicate_count over one 5M-record batch, binary; DuckDB: GROUP BY over
#     the loaded table.
set -eu
# Run by bench/run, or on its own.
STOCKETL_ROOT=${STOCKETL_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
export STOCKETL_ROOT
export PATH="$STOCKETL_ROOT/bin:$PATH"
BENCH_DIR=${BENCH_DIR:-/tmp/stocketl-bench}
BENCH_RUNS=${BENCH_RUNS:-3}
# shellcheck source=bench/lib.sh
. "$STOCKETL_ROOT/bench/lib.sh"
root=$STOCKETL_ROOT
bars=${TICK_BENCH_BARS:-5000000}
d=$BENCH_DIR/tick-$bars
mkdir -p "$d"

# measure CMD...: run CMD BENCH_RUNS times (stdout to /dev/null); sets secs
# (median wall seconds, to the microsecond) and rss (largest peak RSS, KiB).
measure() {
	local walls=() i t0 t1 r
	rss=0
	for ((i = 0; i < BENCH_RUNS; i++)); do
		t0=$EPOCHREALTIME
		/usr/bin/time -f %M -o "$d/rss" "$@" >/dev/null 2>"$d/stderr" || [ $? -le 1 ]
		t1=$EPOCHREALTIME
		walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
		r=$(tail -1 "$d/rss")
		[ "$r" -gt "$rss" ] && rss=$r
	done
	secs=$(median "${walls[@]}")
}

# duck_measure PREP... -- SQL...: DuckDB's median milliseconds of the timed
# statements, and the node process's peak RSS; sets secs and rss.
duck_measure() {
	local ms=() i r
	rss=0
	for ((i = 0; i < BENCH_RUNS; i++)); do
		ms+=("$(/usr/bin/time -f %M -o "$d/rss" node "$root/bench/tick-duck.js" "$@")")
		r=$(tail -1 "$d/rss")
		[ "$r" -gt "$rss" ] && rss=$r
	done
	secs=$(awk -v m="$(median "${ms[@]}")" 'BEGIN { print m / 1000 }')
}

rate() { awk -v n="$bars" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }

if [ ! -s "$d/ticks.bin" ]; then
	echo "generating $bars bars in $d"
	node "$root/bench/gen-envelopes.js" "$bars" 960 8 >"$d/envelopes.ndjson"
	tick-normalize "$d/envelopes.ndjson" >"$d/ticks.ndjson"
	tick-normalize --binary "$d/envelopes.ndjson" >"$d/ticks.bin"
	node "$root/bench/gen-envelopes.js" "$bars" 960 0 | tick-normalize --binary >"$d/one-batch.bin"
fi
checks=$root/conf/checks/ticks.checks
{
	cat "$checks"
	echo '  - duplicate_count(symbol, interval, trade_timestamp) = 0'
} >"$d/dup.checks"

cols="columns={symbol:'VARCHAR', interval:'VARCHAR', trade_timestamp:'TIMESTAMPTZ', trade_date:'DATE', open:'DECIMAL(18,6)', high:'DECIMAL(18,6)', low:'DECIMAL(18,6)', close:'DECIMAL(18,6)', volume:'BIGINT', batch_id:'BIGINT', ingested_at:'TIMESTAMPTZ', source:'VARCHAR'}"
load="CREATE TABLE t AS SELECT * FROM read_json('$d/ticks.ndjson', format='newline_delimited', $cols) WHERE symbol IS NOT NULL"
# The rules of the shipped checks, as SQL over t (local: the bar's ET wall-clock time).
flag="CREATE TABLE f AS SELECT *,
	high < greatest(open, close) AS r1, low > least(open, close) AS r2, low <= 0 AS r3, volume < 0 AS r4,
	epoch_us(timezone('America/New_York', trade_timestamp)) % (CASE interval WHEN '1min' THEN 60 WHEN '5min' THEN 300
		WHEN '15min' THEN 900 WHEN '30min' THEN 1800 WHEN '60min' THEN 3600 ELSE 86400 END * 1000000) <> 0 AS r5,
	dayofweek(timezone('America/New_York', trade_timestamp)) IN (0, 6) OR (interval <> '1d' AND
		(timezone('America/New_York', trade_timestamp)::TIME < TIME '04:00' OR
		 timezone('America/New_York', trade_timestamp)::TIME + CASE interval WHEN '1min' THEN INTERVAL 1 MINUTE
		 WHEN '5min' THEN INTERVAL 5 MINUTE WHEN '15min' THEN INTERVAL 15 MINUTE WHEN '30min' THEN INTERVAL 30 MINUTE
		 ELSE INTERVAL 60 MINUTE END > TIME '20:00')) AS r6
	FROM t"
judge="CREATE TABLE judged AS SELECT batch_id, count(*) FILTER (WHERE NOT (r1 OR r2 OR r3 OR r4 OR r5 OR r6)) AS row_count,
	count(*) FILTER (WHERE symbol IS NULL AND NOT (r1 OR r2 OR r3 OR r4 OR r5 OR r6)) AS missing_symbol,
	count(*) FILTER (WHERE r1) AS f1, count(*) FILTER (WHERE r2) AS f2, count(*) FILTER (WHERE r3) AS f3,
	count(*) FILTER (WHERE r4) AS f4, count(*) FILTER (WHERE r5) AS f5, count(*) FILTER (WHERE r6) AS f6
	FROM f GROUP BY batch_id"
passing="SELECT symbol, interval, trade_timestamp, trade_date, open, high, low, close, volume, batch_id, ingested_at, source
	FROM f WHERE NOT (r1 OR r2 OR r3 OR r4 OR r5 OR r6)"

echo "tick: $bars bars; $BENCH_RUNS runs per timing (median); DuckDB $(node -e "console.log(require('$root/tests/node_modules/@duckdb/node-api/package.json').version)") with $(nproc) threads"

# tick-normalize --------------------------------------------------------------
measure tick-normalize "$d/envelopes.ndjson"
ours=$secs ours_rss=$rss
measure tick-normalize --binary "$d/envelopes.ndjson"
ours_bin=$secs
duck_measure -- "COPY (SELECT symbol, interval,
		timezone('America/New_York', strptime(b.key, '%Y-%m-%d %H:%M:%S')) AS trade_timestamp,
		CAST(strptime(b.key, '%Y-%m-%d %H:%M:%S') AS DATE) AS trade_date,
		CAST(b.value.\"1. open\" AS DECIMAL(18,6)) AS open, CAST(b.value.\"2. high\" AS DECIMAL(18,6)) AS high,
		CAST(b.value.\"3. low\" AS DECIMAL(18,6)) AS low, CAST(b.value.\"4. close\" AS DECIMAL(18,6)) AS close,
		CAST(b.value.\"5. volume\" AS BIGINT) AS volume, batch_id,
		CAST(fetched_at AS TIMESTAMPTZ) AS ingested_at, 'alphavantage' AS source
	FROM (SELECT n, symbol, interval, fetched_at, batch_id, unnest(map_entries(body.\"Time Series (1min)\")) AS b
		FROM (SELECT row_number() OVER () AS n, * FROM read_json('$d/envelopes.ndjson', format='newline_delimited',
			columns={symbol:'VARCHAR', interval:'VARCHAR', fetched_at:'VARCHAR', batch_id:'BIGINT',
			body:'STRUCT(\"Time Series (1min)\" MAP(VARCHAR, STRUCT(\"1. open\" VARCHAR, \"2. high\" VARCHAR,
				\"3. low\" VARCHAR, \"4. close\" VARCHAR, \"5. volume\" VARCHAR)))'})
			WHERE symbol IS NOT NULL))
	ORDER BY n, trade_timestamp) TO '/dev/null' (FORMAT json)"
echo "tick-normalize JSON->JSON  $(rate "$ours") bars/s (${ours}s, peak RSS ${ours_rss} KiB); --binary out $(rate "$ours_bin") bars/s"
echo "DuckDB normalise           $(rate "$secs") bars/s (${secs}s, peak RSS ${rss} KiB)"
result "tick-normalize bars/s, JSON" "$(rate "$ours")" "$(rate "$secs")" bars/s higher
result "tick-normalize peak RSS" "$ours_rss" "$rss" KiB lower

# tick-validate, JSON -----------------------------------------------------------
measure tick-validate -q --checks "$checks" "$d/ticks.ndjson"
ours=$secs ours_rss=$rss
duck_measure -- "$load" "$flag" "$judge" "COPY ($passing) TO '/dev/null' (FORMAT json)"
echo "tick-validate JSON         $(rate "$ours") records/s (${ours}s, peak RSS ${ours_rss} KiB)"
echo "DuckDB from NDJSON         $(rate "$secs") records/s (${secs}s, peak RSS ${rss} KiB)"
result "tick-validate records/s, JSON" "$(rate "$ours")" "$(rate "$secs")" records/s higher
result "tick-validate peak RSS, JSON" "$ours_rss" "$rss" KiB lower

# tick-validate, binary ---------------------------------------------------------
measure tick-validate -q --binary --checks "$checks" "$d/ticks.bin"
ours=$secs ours_rss=$rss
duck_measure "$load" -- "$flag" "$judge" "CREATE TABLE kept AS $passing"
echo "tick-validate binary       $(rate "$ours") records/s (${ours}s, peak RSS ${ours_rss} KiB)"
echo "DuckDB, records in memory  $(rate "$secs") records/s (${secs}s)"
result "tick-validate records/s, binary" "$(rate "$ours")" "$(rate "$secs")" records/s higher
result "tick-validate peak RSS, binary" "$ours_rss" "$rss" KiB lower

# duplicate_count over one long batch --------------------------------------------
measure tick-validate -q --binary --checks "$d/dup.checks" "$d/one-batch.bin"
ours=$secs ours_rss=$rss
rm -f "$d/report.ndjson"
exact=$(tick-validate -q --binary --checks "$d/dup.checks" --report "$d/report.ndjson" "$d/one-batch.bin" >/dev/null; jq -r '.checks[-1] | "\(.value) exact=\(.exact)"' "$d/report.ndjson")
duck_measure "$load" -- "$flag" "$judge" "CREATE TABLE kept AS $passing" \
	"CREATE TABLE dups AS SELECT count(*) - count(DISTINCT (symbol, interval, trade_timestamp)) FROM kept"
echo "one ${bars}-record batch with duplicate_count, binary: $(rate "$ours") records/s (${ours}s, peak RSS ${ours_rss} KiB; duplicates $exact)"
echo "DuckDB, records in memory  $(rate "$secs") records/s (${secs}s)"
result "tick-validate 1 batch + duplicates" "$(rate "$ours")" "$(rate "$secs")" records/s higher
result "tick-validate 1 batch + dup. RSS" "$ours_rss" "$rss" KiB lower

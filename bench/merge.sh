#!/usr/bin/env bash
# Upserts.  A table of one-minute bars of 4 symbols (gen-ticks, 999,960
# rows: 641 days of 390 bars, partitioned by trade_date, one file a day)
# with its merge key (symbol, interval, trade_timestamp); then a 100-row
# upsert as the job makes them: the last 15 minutes of the newest day
# revised (60 bars) and the first 10 minutes of the next (40 new bars).
# delta-append (process start to exit: log replay, pruning, rewriting the
# touched day, the MERGE commit and its fsyncs; --merge-key spares it
# reading the key from the table, which costs a second replay of the log)
# against DuckDB doing the
# same replacement by its best means on the same Parquet files: given the
# touched partition's files, anti-join the batch's keys, union the batch,
# COPY back with PARTITION_BY.
set -eu
# shellcheck source=bench/lib.sh
. "$STOCKETL_ROOT/bench/lib.sh"
N=${BENCH_MERGE_ROWS:-999960}
D=$BENCH_DIR/merge
L=$D/lake
T=$L/silver
KEY=symbol,interval,trade_timestamp
columns="{symbol: 'VARCHAR', interval: 'VARCHAR', trade_timestamp: 'TIMESTAMPTZ', trade_date: 'DATE', open: 'DECIMAL(18,6)', high: 'DECIMAL(18,6)', low: 'DECIMAL(18,6)', close: 'DECIMAL(18,6)', volume: 'BIGINT', batch_id: 'BIGINT', ingested_at: 'TIMESTAMPTZ', source: 'VARCHAR'}"
cols="symbol, interval, trade_timestamp, trade_date, open, high, low, close, volume, batch_id, ingested_at, source"
mkdir -p "$D"
ticks=$D/ticks-$N.ndjson
[ -s "$ticks" ] || gen-ticks -m -s 4 "$N" >"$ticks"
# The batch: the last 60 bars revised, then 40 bars of the next day.
gen-ticks -m -s 4 $((N + 40)) | tail -100 |
	awk 'NR <= 60 { sub(/"volume":[0-9]+/, "\"volume\":1") } { print }' >"$D/batch.ndjson"
# the initial load is itself an upsert (every key new), timed once
rm -rf "$L"
w=0 r=0
STOCKETL_LAKE=$L delta-create silver --schema "$STOCKETL_ROOT/conf/tables/silver.schema" \
	--partition-by trade_date --merge-key "$KEY"
timed w r env STOCKETL_LAKE="$L" delta-append --app-id load --batch-id 1 silver "$ticks"
files=$(find "$T" -path '*/trade_date=*' -name '*.parquet' | wc -l)
echo "  initial load: $N rows into $files files as one upsert: ${w}s, peak RSS $r KiB"

# One upsert after another, each a new batch of the same rows (batch ids
# 2, 3, ...: one hyperfine benchmark each, of one run).
hyperfine -N --runs 1 --parameter-scan n 2 31 --export-json "$D/merge.json" \
	"env STOCKETL_LAKE=$L $STOCKETL_ROOT/bin/delta-append --merge-key $KEY --app-id bench --batch-id {n} silver $D/batch.ndjson" >/dev/null
lat=$(jq '[.results[].mean] | sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end * 1000' "$D/merge.json")
rss=()
for n in 32 33 34; do
	timed w r env STOCKETL_LAKE="$L" delta-append --merge-key "$KEY" --app-id bench --batch-id "$n" silver "$D/batch.ndjson"
	rss+=("$r")
done
last=$(find "$T/_delta_log" -name '*.json' | sort | tail -1)
touched=$(jq -r 'select(.commitInfo) | .commitInfo.operationMetrics | "\(.numTargetFilesRemoved) of \(.numTargetFilesBeforeSkipping) files rewritten, \(.numTargetRowsUpdated) rows updated, \(.numTargetRowsInserted) inserted, \(.numTargetRowsCopied) copied"' "$last")
echo "  100-row upsert into $files files: delta-append median ${lat} ms, peak RSS $(median "${rss[@]}") KiB ($touched)"

# DuckDB: the touched partitions' files (found outside the timing), the
# batch anti-joined, unioned and written back partitioned.
live=$(jq -r 'select(.add) | .add.path' "$last" | sed "s|^|'$T/|; s|$|'|" | paste -sd,)
dlat=()
for run in $(seq 5); do
	rm -rf "$D/duck-$run"
	dlat+=("$(duck "COPY (WITH b AS (SELECT $cols FROM read_json('$D/batch.ndjson', format = 'newline_delimited', columns = $columns)) SELECT $cols FROM read_parquet([$live], hive_partitioning = true, hive_types = {'trade_date': DATE}) t ANTI JOIN b USING (symbol, interval, trade_timestamp) UNION ALL SELECT $cols FROM b) TO '$D/duck-$run' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (trade_date))")")
done
drows=$(node "$STOCKETL_ROOT/tests/helpers/duckdb-query.js" "SELECT count(*) AS n FROM read_parquet('$D/duck-5/*/*.parquet')" | jq .n)
orows=$(jq -r 'select(.commitInfo) | .commitInfo.operationMetrics.numOutputRows' "$last")
rm -rf "$D"/duck-*
echo "  DuckDB: the same replacement, median $(median "${dlat[@]}") ms ($drows rows written; delta-append wrote $orows)"
result "upsert 100 rows into 1M, latency" "$(printf '%.1f' "$lat")" "$(median "${dlat[@]}")" ms lower
result "upsert 100 rows, peak RSS" "$(median "${rss[@]}")" "-" KiB lower

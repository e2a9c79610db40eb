#!/usr/bin/env bash
# Upserts.  A table of one-minute bars of 4 symbols (gen-ticks, 999,960
# rows: 641 days of 390 bars, partitioned by trade_date, one file a day)
# with its merge key (symbol, interval, trade_timestamp); then a 100-row
# upsert as the job makes them: the last 15 minutes of the newest day
# revised (60 bars) and the first 10 minutes of the next (40 new bars).
#
# delta-append, two ways:
#  - one process per upsert, as pipelines run it: process start to exit
#    (log replay, pruning, rewriting the touched days, the MERGE commit and
#    its fsyncs; --merge-key spares it reading the key from the table,
#    which costs a second replay of the log), the median of 30;
#  - warm: one process upserting 30 batches of a stream in turn (batch
#    markers), as the stream job does: (wall time of 31 batches - wall time
#    of 1) / 30, medians of 3.
# DuckDB does the same replacement by its best means on the same Parquet
# files, given the touched partition's files (found outside the timing):
# anti-join the batch's keys, union the batch, COPY back with PARTITION_BY,
# on 1 thread and on 2 (the better is reported).  Timed in its running
# process (its start and the instance's creation left out): cold, the
# first statement of a fresh instance; warm, the median of the next 10 in
# the same instance.  Each with and without the fsyncs that make its output
# durable (files, directories; duck-time.js --sync), which delta-append
# always makes before its commit names the files.
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
discard "$L"
w=0 r=0
STOCKETL_LAKE=$L delta-create silver --schema "$STOCKETL_ROOT/conf/tables/silver.schema" \
	--partition-by trade_date --merge-key "$KEY"
timed w r env STOCKETL_LAKE="$L" delta-append --app-id load --batch-id 1 silver "$ticks"
files=$(find "$T" -path '*/trade_date=*' -name '*.parquet' | wc -l)
# The load's 40 MB are written back by the kernel over the next seconds;
# an upsert timed meanwhile waits for the disk in its fsyncs behind them.
sync
echo "  initial load: $N rows into $files files as one upsert: ${w}s, peak RSS $r KiB"

# One upsert after another, each a new batch of the same rows (batch ids
# 2, 3, ...: one hyperfine benchmark each, of one run).  The lake is named
# in hyperfine's environment, not by env(1) in the command: env's own start
# (about 0.9 ms here) is not delta-append's.
STOCKETL_LAKE=$L hyperfine -N --runs 1 --parameter-scan n 2 31 --export-json "$D/merge.json" \
	"$STOCKETL_ROOT/bin/delta-append --merge-key $KEY --app-id bench --batch-id {n} silver $D/batch.ndjson" >/dev/null
lat=$(jq '[.results[].mean] | sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end * 1000' "$D/merge.json")
rss=()
for n in 32 33 34; do
	timed w r env STOCKETL_LAKE="$L" delta-append --merge-key "$KEY" --app-id bench --batch-id "$n" silver "$D/batch.ndjson"
	rss+=("$r")
done
last=$(find "$T/_delta_log" -name '*.json' | sort | tail -1)
touched=$(jq -r 'select(.commitInfo) | .commitInfo.operationMetrics | "\(.numTargetFilesRemoved) of \(.numTargetFilesBeforeSkipping) files rewritten, \(.numTargetRowsUpdated) rows updated, \(.numTargetRowsInserted) inserted, \(.numTargetRowsCopied) copied"' "$last")
live=$(jq -r 'select(.add) | .add.path' "$last" | sed "s|^|'$T/|; s|$|'|" | paste -sd,)
echo "  100-row upsert into $files files, one process each: delta-append median $(printf '%.1f' "$lat") ms, peak RSS $(median "${rss[@]}") KiB ($touched)"

# Warm: streams of 1 and of 31 batches (the same 100 rows, marked), each
# into one process; the difference is what 30 upserts cost once running.
stream() { # FIRST-ID COUNT
	local i
	for ((i = $1; i < $1 + $2; i++)); do
		cat "$D/batch.ndjson"
		printf '{"@batch":{"app":"warm","id":%d,"records":100,"status":"ok"}}\n' "$i"
	done
}
one=() many=() id=1
for _ in 1 2 3; do
	stream $id 1 >"$D/stream-1.ndjson"
	stream $((id + 1)) 31 >"$D/stream-31.ndjson"
	id=$((id + 32))
	timed w r env STOCKETL_LAKE="$L" delta-append -q --merge-key "$KEY" silver "$D/stream-1.ndjson"
	one+=("$w")
	timed w r env STOCKETL_LAKE="$L" delta-append -q --merge-key "$KEY" silver "$D/stream-31.ndjson"
	many+=("$w")
done
warm=$(awk -v a="$(median "${one[@]}")" -v b="$(median "${many[@]}")" 'BEGIN { printf "%.1f", (b - a) * 1000 / 30 }')
echo "  the same upsert warm (one process, 30 batches of a stream): delta-append $warm ms each, peak RSS $r KiB"

# DuckDB: the touched partitions' files (those the last upsert left), the
# batch anti-joined, unioned and written back partitioned; 11 statements
# in one instance: the first cold, the next ten warm.
q() {
	echo "COPY (WITH b AS (SELECT $cols FROM read_json('$D/batch.ndjson', format = 'newline_delimited', columns = $columns)) SELECT $cols FROM read_parquet([$live], hive_partitioning = true, hive_types = {'trade_date': DATE}) t ANTI JOIN b USING (symbol, interval, trade_timestamp) UNION ALL SELECT $cols FROM b) TO '$D/duck-$1' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (trade_date))"
}
declare -A best
for sync in "" --sync; do
	for threads in 1 2; do
		cold=() hot=()
		for _ in 1 2 3; do
			discard "$D"/duck-*
			qs=()
			for i in $(seq 11); do qs+=("$(q "$i")"); done
			read -r -a t <<<"$(duck --threads "$threads" --each ${sync:+"$sync"} "${qs[@]}")"
			cold+=("${t[0]}")
			hot+=("${t[@]:1}")
		done
		c=$(median "${cold[@]}") h=$(median "${hot[@]}")
		echo "  DuckDB, $threads thread(s)${sync:+, fsynced}: cold $c ms, warm $h ms"
		for k in "cold$sync" "warm$sync"; do
			v=$c
			[ "${k#warm}" != "$k" ] && v=$h
			if [ -z "${best[$k]:-}" ] || awk -v a="$v" -v b="${best[$k]}" 'BEGIN { exit !(a < b) }'; then
				best[$k]=$v
			fi
		done
	done
done
drows=$(node "$STOCKETL_ROOT/tests/helpers/duckdb-query.js" "SELECT count(*) AS n FROM read_parquet('$D/duck-11/*/*.parquet')" | jq .n)
orows=$(jq -r 'select(.commitInfo) | .commitInfo.operationMetrics.numOutputRows' "$last")
discard "$D"/duck-* "$D"/stream-*.ndjson
echo "  DuckDB wrote $drows rows per statement; delta-append wrote $orows"
result "upsert 100 rows into 1M, cold (vs fsynced)" "$(printf '%.1f' "$lat")" "${best[cold--sync]}" ms lower
result "upsert 100 rows into 1M, warm (vs fsynced)" "$warm" "${best[warm--sync]}" ms lower
result "upsert 100 rows into 1M, warm (vs no fsync)" "$warm" "${best[warm]}" ms lower
result "upsert 100 rows, peak RSS" "$(median "${rss[@]}")" "-" KiB lower

#!/usr/bin/env bash
# Delta writes.  5 million tick records (gen-ticks: 4 symbols, one-minute
# bars, random-walk prices) into a table partitioned by trade_date:
# delta-append from NDJSON against DuckDB reading the same NDJSON and
# writing ZSTD Parquet partitioned the same way (COPY ... PARTITION_BY).
# The records carry no batch markers, so each load is named with --app-id
# and --batch-id (one batch, loaded once).  Then commit latency: 100-row
# batches appended to a table that already has 10,000 commits, against
# DuckDB writing the same 100 rows to Parquet.
set -eu
# shellcheck source=bench/lib.sh
. "$STOCKETL_ROOT/bench/lib.sh"
N=${BENCH_ROWS:-5000000}
D=$BENCH_DIR/delta
mkdir -p "$D"
ticks=$D/ticks-$N.ndjson
[ -s "$ticks" ] || gen-ticks -m -s 4 "$N" >"$ticks"
columns="{symbol: 'VARCHAR', interval: 'VARCHAR', trade_timestamp: 'TIMESTAMPTZ', trade_date: 'DATE', open: 'DECIMAL(18,6)', high: 'DECIMAL(18,6)', low: 'DECIMAL(18,6)', close: 'DECIMAL(18,6)', volume: 'BIGINT', batch_id: 'BIGINT', ingested_at: 'TIMESTAMPTZ', source: 'VARCHAR'}"

bin=$D/ticks-$N.bin
if [ ! -s "$bin" ]; then
	printf 'checks for ticks:\n  - row_count >= 0\n' >"$D/pass.checks"
	tick-validate -q --binary --checks "$D/pass.checks" <"$ticks" >"$bin"
fi

# Every run writes into new directories (discarded at the end, see
# bench/lib.sh), for both programs: creating files where many were just
# deleted costs this machine's filesystem extra, which would blur the
# comparison.
discard "$D"/runs
mkdir -p "$D/runs"
ours=() rss=() duckt=() binw=() binrss=()
for run in $(seq "$BENCH_RUNS"); do
	L=$D/runs/bin-$run
	STOCKETL_LAKE=$L delta-create t --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" \
		--partition-by trade_date
	timed w r env STOCKETL_LAKE="$L" delta-append --app-id bench --batch-id "$run" t <"$bin"
	binw+=("$w")
	binrss+=("$r")
	L=$D/runs/json-$run
	STOCKETL_LAKE=$L delta-create t --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" \
		--partition-by trade_date
	timed w r env STOCKETL_LAKE="$L" delta-append --app-id bench --batch-id "$run" t <"$ticks"
	ours+=("$w")
	rss+=("$r")
	ms=$(duck "COPY (SELECT * FROM read_json('$ticks', format = 'newline_delimited', columns = $columns)) TO '$D/runs/duck-$run' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (trade_date))")
	duckt+=("$(awk -v ms="$ms" 'BEGIN { print ms / 1000 }')")
done
ow=$(median "${ours[@]}")
dw=$(median "${duckt[@]}")
obytes=$(find "$L/t" -path '*trade_date=*' -name '*.parquet' -printf '%s\n' | awk '{ s += $1 } END { print s }')
dbytes=$(find "$D/runs/duck-$BENCH_RUNS" -name '*.parquet' -printf '%s\n' | awk '{ s += $1 } END { print s }')
files=$(find "$L/t" -path '*trade_date=*' -name '*.parquet' | wc -l)
discard "$D/runs"
echo "  $N rows from NDJSON into $files partition files: delta-append ${ow}s (peak RSS $(median "${rss[@]}") KiB), DuckDB ${dw}s"
result "delta-append rows/s from JSON" "$(awk -v n="$N" -v t="$ow" 'BEGIN { printf "%.0f", n / t }')" \
	"$(awk -v n="$N" -v t="$dw" 'BEGIN { printf "%.0f", n / t }')" rows/s higher
result "delta-append bytes/row" "$(awk -v b="$obytes" -v n="$N" 'BEGIN { printf "%.2f", b / n }')" \
	"$(awk -v b="$dbytes" -v n="$N" 'BEGIN { printf "%.2f", b / n }')" bytes lower
result "delta-append peak RSS (JSON)" "$(median "${rss[@]}")" "-" KiB lower
bw=$(median "${binw[@]}")
echo "  the same rows from the binary encoding: delta-append ${bw}s (peak RSS $(median "${binrss[@]}") KiB)"
result "delta-append rows/s from binary" "$(awk -v n="$N" -v t="$bw" 'BEGIN { printf "%.0f", n / t }')" \
	"$(awk -v n="$N" -v t="$dw" 'BEGIN { printf "%.0f", n / t }')" rows/s higher
result "delta-append peak RSS (binary)" "$(median "${binrss[@]}")" "-" KiB lower

# Commit latency: a table with 10,000 commits (a checkpoint every 10), then
# 100-row batches appended one process at a time.  DuckDB's side is writing
# the same 100 rows to one ZSTD Parquet file (it keeps no log to commit to).
H=$D/history
commits=${BENCH_COMMITS:-10000}
if [ ! -f "$H/ready-$commits" ]; then
	rm -rf "$H"
	mkdir -p "$H"
	STOCKETL_LAKE=$H delta-create t --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" \
		--partition-by trade_date
	gen-ticks -a history -b "$commits" -i 1 1 | STOCKETL_LAKE=$H delta-append t
	touch "$H/ready-$commits"
fi
cat >"$H/next.sh" <<'NEXT'
#!/usr/bin/env bash
n=$(($(cat "$1/counter" 2>/dev/null || echo 1000000) + 1))
echo "$n" >"$1/counter"
gen-ticks -a latency -i "$n" 100 >"$1/batch.ndjson"
NEXT
chmod +x "$H/next.sh"
hyperfine -N --runs 50 --warmup 2 --prepare "$H/next.sh $H" \
	--export-json "$H/append.json" "env STOCKETL_LAKE=$H $STOCKETL_ROOT/bin/delta-append t $H/batch.ndjson" >/dev/null
lat=$(jq '.results[0].median * 1000' "$H/append.json")
dlat=()
for _ in $(seq 5); do
	dlat+=("$(duck "CREATE TABLE b AS SELECT * FROM read_json('$H/batch.ndjson', format = 'newline_delimited', columns = $columns)" "COPY b TO '$H/duck.parquet' (FORMAT parquet, COMPRESSION zstd)")")
done
echo "  100-row batch onto $commits commits: delta-append median ${lat} ms (process start to exit, commit and fsyncs included)"
result "commit latency, 100 rows, 10k commits" "$(printf '%.1f' "$lat")" "$(median "${dlat[@]}")" ms lower

# Time to the first record of the latest version of that table (log replay
# from the newest checkpoint included).  DuckDB's side: the first row of a
# scan over the same data files (it has no Delta reader without its
# extension, which is not installed here).
hyperfine -N --runs 30 --warmup 3 --export-json "$H/cat.json" \
	"sh -c 'STOCKETL_LAKE=$H delta-cat t | head -c 1 >/dev/null'" >/dev/null
first=$(jq '.results[0].median * 1000' "$H/cat.json")
dfirst=()
for _ in $(seq 5); do
	dfirst+=("$(duck "SELECT * FROM read_parquet('$H/t/*/*.parquet') LIMIT 1")")
done
echo "  delta-cat of that table: first record after ${first} ms (median)"
result "delta-cat first record, 10k commits" "$(printf '%.1f' "$first")" "$(median "${dfirst[@]}")" ms lower

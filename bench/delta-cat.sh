#!/usr/bin/env bash
# Delta reads.  A table of tick records partitioned by trade_date (gen-ticks:
# 4 symbols, one-minute bars, loaded by delta-append): delta-cat writing
# every row as NDJSON to a file, against DuckDB reading the same Parquet
# files and writing NDJSON (COPY ... (FORMAT json)); then a selective
# --where (one symbol, one week) against the same query in DuckDB.
set -eu
# shellcheck source=bench/lib.sh
. "$STOCKETL_ROOT/bench/lib.sh"
N=${BENCH_ROWS:-5000000}
D=$BENCH_DIR/delta-cat
mkdir -p "$D"
export STOCKETL_LAKE=$D/lake
if [ ! -s "$D/rows-$N" ]; then
	rm -rf "$D/lake"
	delta-create t --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	gen-ticks -m -s 4 "$N" | delta-append --app-id bench --batch-id 1 t
	echo "$N" >"$D/rows-$N"
fi
files="$D/lake/t/trade_date=*/*.parquet"
where="symbol = 'IBM' and trade_date >= '2025-07-01' and trade_date < '2025-07-08'"

ours=() rss=() duckt=() wours=() wduck=()
for _ in $(seq "$BENCH_RUNS"); do
	timed w r sh -c "delta-cat t >'$D/out.ndjson'"
	ours+=("$w")
	rss+=("$r")
	ms=$(duck "COPY (SELECT * FROM read_parquet('$files', hive_partitioning = true)) TO '$D/duck.ndjson' (FORMAT json)")
	duckt+=("$(awk -v ms="$ms" 'BEGIN { print ms / 1000 }')")
	timed w r sh -c "delta-cat --where \"$where\" t >'$D/where.ndjson'"
	wours+=("$w")
	ms=$(duck "COPY (SELECT * FROM read_parquet('$files', hive_partitioning = true) WHERE $where) TO '$D/duck-where.ndjson' (FORMAT json)")
	wduck+=("$(awk -v ms="$ms" 'BEGIN { print ms / 1000 }')")
done
ow=$(median "${ours[@]}")
dw=$(median "${duckt[@]}")
matched=$(wc -l <"$D/where.ndjson")
[ "$matched" -eq "$(wc -l <"$D/duck-where.ndjson")" ] || {
	echo "delta-cat and DuckDB disagree on the --where rows" >&2
	exit 1
}
echo "  $N rows to NDJSON: delta-cat ${ow}s (peak RSS $(median "${rss[@]}") KiB), DuckDB ${dw}s;" \
	"--where ($matched rows): delta-cat $(median "${wours[@]}")s, DuckDB $(median "${wduck[@]}")s"
result "delta-cat rows/s to JSON" "$(awk -v n="$N" -v t="$ow" 'BEGIN { printf "%.0f", n / t }')" \
	"$(awk -v n="$N" -v t="$dw" 'BEGIN { printf "%.0f", n / t }')" rows/s higher
result "delta-cat --where seconds" "$(median "${wours[@]}")" "$(median "${wduck[@]}")" s lower
result "delta-cat peak RSS" "$(median "${rss[@]}")" "-" KiB lower

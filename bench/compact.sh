#!/usr/bin/env bash
# Compaction.  A bronze table as a real-time load leaves it: one commit a
# minute (gen-ticks: 4 symbols, so 4 rows a commit, one small file each),
# BENCH_COMPACT_FILES commits (10,000 by default: about 26 trading days).
# delta-compact rewrites it into one file a day (sorted by symbol and
# time, ZSTD), against DuckDB reading the same files and rewriting them
# into daily files (COPY ... PARTITION_BY, sorted the same way, ZSTD).
# Then delta-cat of the whole table before and after, for the speed-up
# that readers get.  Each timing starts from a fresh copy of the table.
set -eu
# shellcheck source=bench/lib.sh
. "$STOCKETL_ROOT/bench/lib.sh"
N=${BENCH_COMPACT_FILES:-10000}
D=$BENCH_DIR/compact
mkdir -p "$D"
if [ ! -s "$D/files-$N" ]; then
	rm -rf "$D/src"
	delta-create -q "$D/src" --schema "$STOCKETL_ROOT/conf/tables/bronze.schema" --partition-by trade_date
	gen-ticks -a bench -b "$N" -s 4 4 | delta-append -q "$D/src"
	echo "$N" >"$D/files-$N"
fi
files="$D/src/trade_date=*/*.parquet"
[ "$(find "$D/src" -name '*.parquet' -path '*trade_date=*' | wc -l)" -eq "$N" ] || {
	echo "compact: the source table does not hold $N data files" >&2
	exit 1
}

ours=() rss=() duckt=() before=() after=()
for _ in $(seq "$BENCH_RUNS"); do
	discard "$D/work" "$D/duck"
	cp -a "$D/src" "$D/work"
	sync
	timed w r delta-compact -q "$D/work"
	ours+=("$w")
	rss+=("$r")
	ms=$(duck "COPY (SELECT * FROM read_parquet('$files', hive_partitioning = true, hive_types = {'trade_date': DATE}) ORDER BY symbol, trade_timestamp) TO '$D/duck' (FORMAT parquet, PARTITION_BY (trade_date), COMPRESSION zstd)")
	duckt+=("$(awk -v ms="$ms" 'BEGIN { print ms / 1000 }')")
	timed w r sh -c "delta-cat '$D/src' >'$D/before.ndjson'"
	before+=("$w")
	timed w r sh -c "delta-cat '$D/work' >'$D/after.ndjson'"
	after+=("$w")
done
cmp -s <(sort "$D/before.ndjson") <(sort "$D/after.ndjson") || {
	echo "compact: the compacted table does not read the same rows" >&2
	exit 1
}
live=$(delta-history "$D/work" | jq -s '[.[] | select(.operation == "OPTIMIZE") | .operationMetrics.numAddedFiles | tonumber] | add')
commits=$(delta-history "$D/work" | jq -s '[.[] | select(.operation == "OPTIMIZE")] | length')
speedup=$(awk -v b="$(median "${before[@]}")" -v a="$(median "${after[@]}")" 'BEGIN { printf "%.1f", (a > 0 ? b / a : 0) }')
dfiles=$(find "$D/duck" -name '*.parquet' | wc -l)
ow=$(median "${ours[@]}")
dw=$(median "${duckt[@]}")
bw=$(median "${before[@]}")
aw=$(median "${after[@]}")
echo "  $N files into $live daily files in $commits commits: delta-compact ${ow}s (peak RSS" \
	"$(median "${rss[@]}") KiB), DuckDB ${dw}s into $dfiles files; delta-cat of the table:" \
	"${bw}s before, ${aw}s after (${speedup}x)"
result "compact $N files, seconds" "$ow" "$dw" s lower
result "compact peak RSS" "$(median "${rss[@]}")" "-" KiB lower
result "delta-cat speed-up after compaction" "$speedup" "-" x higher

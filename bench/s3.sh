#!/usr/bin/env bash
# The lake on an S3 bucket mounted with s3fs, commits through PostgreSQL.
# Starts its own servers (as the test suites do: PostgreSQL by initdb, the
# S3 server on loopback) and mounts the bucket with the lake's options
# (stack/s3fs-options.sh).
#
#   1. 1 million tick records (gen-ticks, one-minute bars) appended onto the
#      mount by delta-append, against DuckDB writing the same rows as ZSTD
#      Parquet partitioned by trade_date onto the same mount; the same
#      append onto the local disk says what the mount costs.
#      The S3 server's request log then counts the requests of each for
#      the first 100k rows.
#   2. Commit latency: 100-row batches appended one process at a time to a
#      table on the mount (PostgreSQL store), against the same onto the
#      local disk (link store); the store's own share is the time between
#      claim and completion of each row, from PostgreSQL's clock.
set -eu
# shellcheck source=bench/lib.sh
. "$STOCKETL_ROOT/bench/lib.sh"
# shellcheck source=tests/helpers/pg.bash
. "$STOCKETL_ROOT/tests/helpers/pg.bash"
# shellcheck source=tests/helpers/s3.bash
. "$STOCKETL_ROOT/tests/helpers/s3.bash"
# shellcheck source=tests/helpers/lake.bash
. "$STOCKETL_ROOT/tests/helpers/lake.bash"

N=${BENCH_S3_ROWS:-1000000}
COMMITS=${BENCH_S3_COMMITS:-50}
D=$BENCH_DIR/s3
mkdir -p "$D"
ticks=$D/ticks-$N.ndjson
[ -s "$ticks" ] || gen-ticks -m -s 4 "$N" >"$ticks"
columns="{symbol: 'VARCHAR', interval: 'VARCHAR', trade_timestamp: 'TIMESTAMPTZ', trade_date: 'DATE', open: 'DECIMAL(18,6)', high: 'DECIMAL(18,6)', low: 'DECIMAL(18,6)', close: 'DECIMAL(18,6)', volume: 'BIGINT', batch_id: 'BIGINT', ingested_at: 'TIMESTAMPTZ', source: 'VARCHAR'}"
schema=$STOCKETL_ROOT/conf/tables/bronze.schema

cleanup() {
	s3_stop || true
	pg_stop || true
	rm -rf "$D/local"
}
trap cleanup EXIT
pg_start stocketl_bench >/dev/null
pg_env
s3_start stocketl-bench >/dev/null
mnt=$(lake_mount "")
export STOCKETL_PG_DSN=$STOCKETL_TEST_PG_DSN
unset STOCKETL_CONFIG STOCKETL_COMMIT_STORE

ours=() disk=() duckt=()
for run in $(seq "$BENCH_RUNS"); do
	L=$mnt/ours-$run
	STOCKETL_LAKE=$L delta-create t --schema "$schema" --partition-by trade_date
	timed w rss env STOCKETL_LAKE="$L" delta-append -q --app-id bench --batch-id "$run" t <"$ticks"
	ours+=("$w")
	L=$D/local/ours-$run
	STOCKETL_LAKE=$L delta-create t --schema "$schema" --partition-by trade_date
	timed w rss env STOCKETL_LAKE="$L" delta-append -q --app-id bench --batch-id "$run" t <"$ticks"
	disk+=("$w")
	ms=$(duck "COPY (SELECT * FROM read_json('$ticks', format = 'newline_delimited', columns = $columns)) TO '$mnt/duck-$run' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (trade_date))")
	duckt+=("$(awk -v ms="$ms" 'BEGIN { print ms / 1000 }')")
done
ow=$(median "${ours[@]}")
lw=$(median "${disk[@]}")
dw=$(median "${duckt[@]}")
files=$(find "$mnt/ours-1/t" -name '*.parquet' -path '*trade_date=*' | wc -l)
echo "  $N rows from NDJSON onto the s3fs mount ($files partition files): delta-append ${ow}s, DuckDB ${dw}s; delta-append onto the local disk ${lw}s"
result "s3fs: delta-append rows/s (PG store)" "$(awk -v n="$N" -v t="$ow" 'BEGIN { printf "%.0f", n / t }')" \
	"$(awk -v n="$N" -v t="$dw" 'BEGIN { printf "%.0f", n / t }')" rows/s higher
result "local disk: delta-append rows/s" "$(awk -v n="$N" -v t="$lw" 'BEGIN { printf "%.0f", n / t }')" \
	"-" rows/s higher

# Requests to the bucket per partition file, counted by the S3 server (its
# request log, which slows it down: so after the timings, on the first 100k
# rows): delta-append against DuckDB, and how many of them are listings,
# which s3rver answers by walking the table's directory.
s3_server_stop
S3_REQUEST_LOG=1 s3_server_start
head -n 100000 "$ticks" >"$D/ticks-100k.ndjson"
count_requests() {
	local before after
	before=$(wc -l <"$S3_DIR/s3rver.out")
	"$@" >/dev/null
	after=$(wc -l <"$S3_DIR/s3rver.out")
	sed -n "$((before + 1)),${after}p" "$S3_DIR/s3rver.out" | sed 's/\x1b\[[0-9;]*m//g' |
		awk '$2 ~ /^(GET|HEAD|PUT|POST|DELETE)$/ { n++; if ($3 ~ /[?&]prefix=/) l++ } END { print n + 0, l + 0 }'
}
STOCKETL_LAKE=$mnt/count delta-create t --schema "$schema" --partition-by trade_date
read -r on ol < <(count_requests env STOCKETL_LAKE="$mnt/count" delta-append -q --app-id count --batch-id 1 t "$D/ticks-100k.ndjson")
read -r dn dl < <(count_requests duck "COPY (SELECT * FROM read_json('$D/ticks-100k.ndjson', format = 'newline_delimited', columns = $columns)) TO '$mnt/count-duck' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (trade_date))")
cf=$(find "$mnt/count/t" -name '*.parquet' -path '*trade_date=*' | wc -l)
echo "  requests to the bucket, 100k rows ($cf partition files): delta-append $on ($ol listings), DuckDB $dn ($dl listings)"
s3_server_stop
s3_server_start

# Commit latency: each 100-row batch is one process (start, snapshot through
# the store, data file, claim, N.json, completion), timed from outside.
lat() {
	local lake=$1 t=() i start end
	STOCKETL_LAKE=$lake delta-create t --schema "$schema" --partition-by trade_date
	gen-ticks -a warm -i 1 100 | STOCKETL_LAKE=$lake delta-append -q t
	for i in $(seq "$COMMITS"); do
		gen-ticks -a latency -i "$i" 100 >"$D/batch.ndjson"
		start=$(date +%s%N)
		STOCKETL_LAKE=$lake delta-append -q t "$D/batch.ndjson"
		end=$(date +%s%N)
		t+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')")
	done
	median "${t[@]}"
}
mlat=$(lat "$mnt/latency")
llat=$(lat "$D/local/latency")
claim=$(pg_query "SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at)) * 1000)::numeric, 1) FROM stocketl.delta_commit WHERE table_id LIKE '%/latency/t' AND version > 1")
echo "  100-row batch, one process each ($COMMITS commits): ${mlat} ms on the mount with the PostgreSQL store (claim to completion ${claim} ms of it), ${llat} ms on the local disk with link(2)"
result "s3fs: commit latency, 100 rows (PG store)" "$mlat" "-" ms lower
result "local disk: commit latency, 100 rows" "$llat" "-" ms lower

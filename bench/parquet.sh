#!/usr/bin/env bash
# Parquet write and read.  5 million tick rows (pqbench: the rows of
# gen-ticks, four symbols in turn, one-minute bars, random-walk prices)
# written by stocketl's writer from memory, against DuckDB's COPY ... (FORMAT
# parquet, COMPRESSION zstd) of the same rows from an in-memory table; then
# each reading every column of its own file (DuckDB: a full scan that sums
# every column; stocketl: the columnar reader, one thread and two).  Peak
# memory of the writer is measured with the rows generated as they are
# written, so that it is the writer's own.  The same again with the rows of
# each symbol's day together, as av-fetch delivers them.  And what the
# checksums cost: the same rows written without the page and footer CRCs
# (pqbench --no-crc) and read back, in the same runs, each run alternating
# the two; the cost is that of the medians of CPU time, which a shared
# machine disturbs less than wall time.
set -eu
# shellcheck source=bench/lib.sh
. "$STOCKETL_ROOT/bench/lib.sh"
N=${BENCH_ROWS:-5000000}
D=$BENCH_DIR/parquet
mkdir -p "$D"
pqbench=${BENCH_BIN:-$STOCKETL_ROOT/build/rel/bench}/pqbench
[ -x "$pqbench" ] || { echo "parquet: $pqbench not built (make bench builds it)" >&2; exit 70; }

scan="SELECT sum(length(symbol)), sum(length(interval)), sum(epoch_us(trade_timestamp)),
	sum(trade_date - DATE '1970-01-01'), sum(open), sum(high), sum(low), sum(close),
	sum(volume), sum(batch_id), sum(epoch_us(ingested_at)), sum(length(source))"

for order in interleaved by-symbol; do
	flag=()
	[ "$order" = by-symbol ] && flag=(--by-symbol)
	ours=$D/ours-$order.parquet duck=$D/duck-$order.parquet bare=$D/nocrc-$order.parquet
	w=() wc=() d=() r1=() r2=() dr=() rs=() nw=() nwc=() r1c=() nr=() nrc=()
	for _ in $(seq "$BENCH_RUNS"); do
		read -r t _ c <<<"$("$pqbench" write "$ours" "$N" "${flag[@]}")"
		w+=("$t")
		wc+=("$c")
		read -r t _ c <<<"$("$pqbench" write "$bare" "$N" --no-crc "${flag[@]}")"
		nw+=("$t")
		nwc+=("$c")
		ms=$(duck "CREATE TABLE t AS SELECT * FROM read_parquet('$ours')" \
			"COPY t TO '$duck' (FORMAT parquet, COMPRESSION zstd)")
		d+=("$(awk -v ms="$ms" 'BEGIN { print ms / 1000 }')")
		read -r t _ _ c <<<"$("$pqbench" read "$ours")"
		r1+=("$t")
		r1c+=("$c")
		read -r t _ _ c <<<"$("$pqbench" read "$bare")"
		nr+=("$t")
		nrc+=("$c")
		read -r t _ <<<"$("$pqbench" read "$ours" --threads 2)"
		r2+=("$t")
		ms=$(duck "$scan FROM read_parquet('$duck')")
		dr+=("$(awk -v ms="$ms" 'BEGIN { print ms / 1000 }')")
		timed _ r "$pqbench" write "$D/stream.parquet" "$N" --stream "${flag[@]}" >/dev/null
		rs+=("$r")
	done
	ow=$(median "${w[@]}") dw=$(median "${d[@]}")
	obytes=$(stat -c %s "$ours") dbytes=$(stat -c %s "$duck")
	echo "  $order: $N rows; write ${ow}s (CPU $(median "${wc[@]}")s, peak RSS streaming $(median "${rs[@]}") KiB), DuckDB COPY ${dw}s;" \
		"read 1 thread $(median "${r1[@]}")s, 2 threads $(median "${r2[@]}")s, DuckDB scan $(median "${dr[@]}")s;" \
		"$obytes bytes against DuckDB's $dbytes"
	rate() { awk -v n="$N" -v t="$1" 'BEGIN { printf "%.0f", n / t }'; }
	result "parquet write rows/s ($order)" "$(rate "$ow")" "$(rate "$dw")" rows/s higher
	result "parquet bytes/row ($order)" "$(awk -v b="$obytes" -v n="$N" 'BEGIN { printf "%.2f", b / n }')" \
		"$(awk -v b="$dbytes" -v n="$N" 'BEGIN { printf "%.2f", b / n }')" bytes lower
	result "parquet read rows/s, 1 thread ($order)" "$(rate "$(median "${r1[@]}")")" "$(rate "$(median "${dr[@]}")")" rows/s higher
	result "parquet read rows/s, 2 threads ($order)" "$(rate "$(median "${r2[@]}")")" "$(rate "$(median "${dr[@]}")")" rows/s higher
	result "parquet writer peak RSS ($order)" "$(median "${rs[@]}")" "-" KiB lower
	# The checksums' cost: with against without, in percent of the time without.
	cost() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (a - b) / b * 100 }'; }
	echo "  $order, checksums: write ${ow}s (CPU $(median "${wc[@]}")s) against" \
		"$(median "${nw[@]}")s (CPU $(median "${nwc[@]}")s) without, $(($(stat -c %s "$ours") - $(stat -c %s "$bare"))) bytes more;" \
		"read 1 thread $(median "${r1[@]}")s (CPU $(median "${r1c[@]}")s) against $(median "${nr[@]}")s (CPU $(median "${nrc[@]}")s)"
	result "parquet CRC cost, write CPU % ($order)" "$(cost "$(median "${wc[@]}")" "$(median "${nwc[@]}")")" "-" % lower
	result "parquet CRC cost, read CPU % ($order)" "$(cost "$(median "${r1c[@]}")" "$(median "${nrc[@]}")")" "-" % lower
done

#!/usr/bin/env bash
# The silver job: bronze's rows added since the bronze version silver last
# consumed, upserted into silver by (symbol, interval, trade_timestamp), so
# that silver holds every bar once at its latest value (created on first
# use, with that merge key).
#
#   pipelines/silver.sh
#
# The bronze version consumed is silver's txn of application silver/bronze.
# Bronze's commits after it, up to bronze's latest version, are read in
# commit order (delta-cat --since-version), so a bar that a later bronze
# commit revised (the API revises the newest bar while it forms) ends at
# its later value, and upserted as batches of at most
# $STOCKETL_SILVER_VERSIONS bronze versions (default 100) each, whose batch
# id is the last bronze version it holds: each batch commits once, a rerun
# with nothing new commits nothing, and a run that died resumes after the
# last batch it committed.  The first run reads bronze's snapshot instead.
# Tables are named as everywhere: $STOCKETL_LAKE (default ./lake) or the
# configuration.
#
# Exit status: 0, or the first failing stage's (delta-cat's or
# delta-append's: 65 for data, 74 for I/O, 75 for a conflict that is safe
# to run again, ...).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
# The programs built in this tree come first; installed ones otherwise.
PATH="$root/bin:$PATH"
app=silver/bronze
key=symbol,interval,trade_timestamp
step=${STOCKETL_SILVER_VERSIONS:-100}
case $step in
'' | *[!0-9]* | 0)
	echo "silver.sh: STOCKETL_SILVER_VERSIONS: '$step' is not a positive integer" >&2
	exit 78
	;;
esac
delta-create silver --schema "$root/conf/tables/silver.schema" --partition-by trade_date \
	--merge-key "$key" || exit
consumed=$(delta-append --txn-version "$app" silver) || exit
latest=$(delta-history --format json --limit 1 bronze) || exit
latest=$(sed -n 's/^{"version":\([0-9]*\),.*/\1/p' <<<"$latest")
if [ -z "$latest" ]; then
	echo "silver.sh: bronze has no version to read" >&2
	exit 65
fi
while [ "$consumed" -lt "$latest" ]; do
	# The first batch reads the snapshot: versions 0 to step.
	upto=$((consumed < 0 ? step : consumed + step))
	[ "$upto" -gt "$latest" ] && upto=$latest
	if [ "$consumed" -lt 0 ]; then
		# Never consumed: everything bronze holds, as of that version.
		since=()
	else
		since=(--since-version "$consumed")
	fi
	delta-cat "${since[@]}" --at-version "$upto" bronze |
		delta-append --merge-key "$key" --app-id "$app" --batch-id "$upto" silver
	status=("${PIPESTATUS[@]}")
	for st in "${status[@]}"; do
		[ "$st" -ne 0 ] && exit "$st"
	done
	consumed=$upto
done
exit 0

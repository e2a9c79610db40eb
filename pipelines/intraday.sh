#!/usr/bin/env bash
# The main job: fetch the latest intraday bars, normalise and check them,
# and append them to the bronze table (created on first use).
#
#   pipelines/intraday.sh [av-fetch options] [SYMBOL ...]
#
# Symbols, interval, key and lake root come from the configuration
# (conf/stocketl.ini, $STOCKETL_CONFIG) or the environment
# ($ALPHAVANTAGE_API_KEY, $STOCKETL_LAKE, default ./lake).  Quarantined
# records and the scan report of each run go to $STOCKETL_STATE (default
# ./var): rejects/normalize.ndjson, rejects/validate.ndjson and
# reports/<UTC time>.json.
#
# Exit status: the first stage's error (64 and up: av-fetch's 78 for a
# missing key, 75 for the daily limit, ...), since the stages after it only
# see its consequences; else the most serious of the stages' 0, 1 (records
# rejected, checks warned) and 2 (a failed check: the batch was not loaded).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
# The programs built in this tree come first; installed ones otherwise.
PATH="$root/bin:$PATH"
state=${STOCKETL_STATE:-./var}
mkdir -p "$state/rejects" "$state/reports" || exit 74
delta-create bronze --schema "$root/conf/tables/bronze.schema" --partition-by trade_date ||
	exit
av-fetch "$@" |
	tick-normalize --rejects "$state/rejects/normalize.ndjson" |
	tick-validate --checks "$root/conf/checks/ticks.checks" \
		--rejects "$state/rejects/validate.ndjson" \
		--report "$state/reports/$(date -u +%Y%m%dT%H%M%SZ).json" |
	delta-append bronze
status=("${PIPESTATUS[@]}")
worst=0
for st in "${status[@]}"; do
	if [ "$st" -ge 64 ]; then
		exit "$st"
	fi
	[ "$st" -gt "$worst" ] && worst=$st
done
exit "$worst"

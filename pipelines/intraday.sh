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
# Exit status: that of the last stage that failed (av-fetch's 78 for a
# missing key, tick-validate's 2 for a failed check, ...), else 0.
set -u -o pipefail
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

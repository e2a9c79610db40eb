#!/usr/bin/env bash
# The bronze job: fetch the latest intraday bars, normalise and check them,
# and append them to the bronze table (created on first use, by the append
# stage: a fetch that fails before any output leaves no table), through the
# job runner (pipelines/lib/runner.sh: run id, lock, retries, time limit,
# log, spool).
#
#   pipelines/bronze.sh [-q] [--wait] [--config FILE] [av-fetch options] [SYMBOL ...]
#
# Symbols, interval, key and lake root come from the configuration
# (conf/stocketl.ini, $STOCKETL_CONFIG, --config) or the environment
# ($ALPHAVANTAGE_API_KEY, $STOCKETL_LAKE, default ./lake).  The fetch is
# incremental (pipelines/lib/fetch.sh): each symbol is asked for what
# covers the gap since its watermark, and tick-normalize drops the bars
# older than it; av-fetch options that choose the history themselves
# (--outputsize, --month, --from, --to) fetch what they say, unfiltered,
# and leave the watermarks alone.  Quarantined records and each run's scan
# report go to the state directory ($STOCKETL_STATE, [job] state, default
# ./var): rejects/normalize.ndjson, rejects/validate.ndjson and
# reports/<run id>.json.
#
# Stages: fetch | normalize | validate | append (delta-create, then
# delta-append), with watermark beside them (one update per commit).
# Exit status: the run's, as the runner takes it from the stages (README,
# "The job").

# shellcheck disable=SC2317 # the stage_ functions are called by the runner
set -u
RUNNER_USAGE="[av-fetch options] [SYMBOL ...]"
# shellcheck source=pipelines/lib/runner.sh
source "$(dirname "$0")/lib/runner.sh"
# shellcheck source=pipelines/lib/fetch.sh
source "$(dirname "$0")/lib/fetch.sh"
runner_main bronze "$@"

stage_fetch() {
	fetch_groups
}

stage_normalize() {
	if [ "$FETCH_EXPLICIT" = 0 ]; then
		exec tick-normalize --binary --rejects "$RUNNER_STATE/rejects/normalize.ndjson" --watermarks "$FETCH_WM_FILE"
	fi
	exec tick-normalize --binary --rejects "$RUNNER_STATE/rejects/normalize.ndjson"
}

stage_validate() {
	exec tick-validate --binary --checks "$RUNNER_ROOT/conf/checks/ticks.checks" \
		--rejects "$RUNNER_STATE/rejects/validate.ndjson" \
		--report "$RUNNER_STATE/reports/$RUNNER_RUN_ID.json"
}

stage_append() {
	fetch_append
}

mkdir -p "$RUNNER_STATE/rejects" "$RUNNER_STATE/reports" || {
	runner_stage_failed state 74 "cannot make $RUNNER_STATE/rejects and reports"
	runner_finish
}
fetch_args
FETCH_TABLE_PATH=$(fetch_table_path)
FETCH_TABLE_VERSION=$(fetch_table_version)
if [ "$FETCH_EXPLICIT" = 0 ]; then
	fetch_watermarks_load || runner_finish
fi
fetch_plan || runner_finish
if [ "$FETCH_EXPLICIT" = 1 ]; then
	run_pipeline fetch normalize validate append
else
	run_pipeline --commits watermark fetch normalize validate append
fi
runner_finish

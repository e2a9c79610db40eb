#!/usr/bin/env bash
# The stream job: av-fetch --follow into bronze, one batch and one commit
# per cycle, silver refreshed after each, until it is stopped, through the job runner
# (pipelines/lib/runner.sh).  Run by systemd
# (conf/systemd/stocketl-stream.service) or by hand.
#
#   pipelines/stream.sh [-q] [--wait] [--config FILE] [av-fetch options] [SYMBOL ...]
#
# First it catches up as the bronze job does, each symbol from its
# watermark (compact, full or whole months: pipelines/lib/fetch.sh), so a
# stream started after a weekend or an outage misses no bar; then it
# follows, every --every (default: the interval), with the batch producer
# stream/intraday/INTERVAL/SYMBOLS.  tick-normalize drops the bars older
# than the watermarks and reads them again as they advance, after each
# commit (stage commits), so each bar is loaded about once.
#
# After each commit the silver job brings the new rows into silver
# (stage commits), so silver follows bronze a cycle at a time.
#
# SIGTERM or SIGINT ends it: every stage is told at once, the batch in
# progress is not committed (delta-append removes its files), and the job
# exits 0.  A failure (the daily limit: 75) ends the run with its status
# after the runner's retries; the [job] timeout does not apply.

# shellcheck disable=SC2317 # the stage_ functions are called by the runner
set -u
RUNNER_USAGE="[av-fetch options] [SYMBOL ...]"
RUNNER_STOP_STATUS=0
RUNNER_TIMEOUT=0
# shellcheck source=pipelines/lib/runner.sh
source "$(dirname "$0")/lib/runner.sh"
# shellcheck source=pipelines/lib/fetch.sh
source "$(dirname "$0")/lib/fetch.sh"
runner_main stream "$@"

# The catch-up is no follow run: --every is for stage_follow.
stage_fetch() {
	FETCH_EVERY=()
	fetch_groups
}

stage_follow() {
	local -a app=()
	[ "$STREAM_APP_GIVEN" = 1 ] || app=(--app "$(fetch_app "stream/intraday/$FETCH_INTERVAL" "${FETCH_SYMBOLS[@]}")")
	exec av-fetch "${FETCH_OPTS[@]}" --follow "${FETCH_EVERY[@]}" "${app[@]}" "${FETCH_SYMBOLS[@]}"
}

stage_normalize() {
	exec tick-normalize --binary --rejects "$RUNNER_STATE/rejects/normalize.ndjson" --watermarks "$FETCH_WM_FILE"
}

stage_validate() {
	exec tick-validate --binary --checks "$RUNNER_ROOT/conf/checks/ticks.checks" \
		--rejects "$RUNNER_STATE/rejects/validate.ndjson" \
		--report "$RUNNER_STATE/reports/$RUNNER_RUN_ID.json"
}

stage_append() {
	fetch_append
}

# After each commit: the watermarks, then silver (the silver job, nested
# in this run; it waits for a silver run of cron's that is going, unless
# the stream is stopped meanwhile).  A silver run that fails is caught up
# by the next commit's; its status is this stage's at the end.
stage_commits() {
	local v st=0 s
	while read -r v _; do
		fetch_watermarks_commit "$v" || st=$(runner_worse "$st" 74)
		runner_watcher_job "$RUNNER_ROOT/pipelines/silver.sh" --wait
		s=$?
		[ "$s" = 0 ] || st=$(runner_worse "$st" "$s")
	done
	return "$st"
}

fetch_args
[ "$FETCH_EXPLICIT" = 0 ] ||
	runner_fail arguments 64 "--outputsize, --month, --from, --to and --follow are the stream's to choose"
[ "$FETCH_FUNCTION" = intraday ] || runner_fail arguments 64 "intraday bars only (--function $FETCH_FUNCTION)"
STREAM_APP_GIVEN=0
for a in "${FETCH_OPTS[@]}"; do
	case $a in --app | --app=*) STREAM_APP_GIVEN=1 ;; esac
done
mkdir -p "$RUNNER_STATE/rejects" "$RUNNER_STATE/reports" ||
	runner_fail state 74 "cannot make $RUNNER_STATE/rejects and reports"

FETCH_TABLE_PATH=$(fetch_table_path)
FETCH_TABLE_VERSION=$(fetch_table_version)
fetch_watermarks_load || runner_finish
fetch_plan || runner_finish
runner_log "catching up"
run_pipeline --commits commits fetch normalize validate append || runner_finish
runner_log "following"
run_pipeline --commits commits follow normalize validate append
runner_finish

#!/usr/bin/env bash
# The backfill job: intraday history, month by month, into bronze, through
# the job runner (pipelines/lib/runner.sh).
#
#   pipelines/backfill.sh [-q] [--wait] [--config FILE] FROM TO [av-fetch options] [SYMBOL ...]
#
# FROM and TO are months (YYYY-MM), both included, oldest first.  Each
# month is one av-fetch --month run for the symbols that still need it,
# one batch (app backfill/intraday/INTERVAL/MONTH/SYMBOLS) and one commit.
#
# Resumable: a month is known to be loaded when delta-append reported the
# commit of that month's batch; only then is it written to
# <state>/backfill/bronze.ndjson, one line per (month, interval, symbol):
#
#   {"month":"2024-01","interval":"5min","symbol":"IBM","app":"...","version":7}
#
# and a rerun (after a failure, a timeout, a kill) skips what that file
# holds, so a loaded month is not fetched again.  Since the line is written
# after the commit, never before, a month in the file is in the table; the
# one window left is a run killed between the commit and the line (a few
# milliseconds), after which the month is fetched and loaded once more:
# bronze then holds it twice, under two batch ids, and silver keeps one
# row per bar.
#
# Months are spaced so that the runs together keep to [av-fetch]
# calls_per_minute (each av-fetch process keeps to it alone).  A month
# whose batch fails a check (a month without bars fails row_count > 0) is
# not loaded and the next month goes on; the run ends with status 2.  The
# backfill leaves the watermarks of the incremental jobs alone.

# shellcheck disable=SC2317 # the stage_ functions are called by the runner
set -u
RUNNER_USAGE="FROM TO [av-fetch options] [SYMBOL ...]"
# shellcheck source=pipelines/lib/runner.sh
source "$(dirname "$0")/lib/runner.sh"
# shellcheck source=pipelines/lib/fetch.sh
source "$(dirname "$0")/lib/fetch.sh"
runner_main backfill "$@"

stage_fetch() {
	exec av-fetch "${FETCH_OPTS[@]}" "${FETCH_EVERY[@]}" --month "$BF_MONTH" --app "$BF_APP" "${BF_SYMBOLS[@]}"
}

stage_normalize() {
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

# The month is loaded once delta-append says it committed the month's batch.
stage_loaded() {
	local v app sym
	while read -r v _ app; do
		[ "$app" = "$BF_APP" ] || continue
		for sym in "${BF_SYMBOLS[@]}"; do
			printf '{"month":"%s","interval":"%s","symbol":"%s","app":%s,"version":%s}\n' \
				"$BF_MONTH" "$FETCH_INTERVAL" "$sym" "$(runner_json "$BF_APP")" "$v"
		done >>"$BF_FILE" || return 74
		echo "loaded: $BF_MONTH: ${BF_SYMBOLS[*]} (version $v)" >&2
	done
}

# bf_month_ok TEXT: TEXT is a month from 2000-01 (the API's first).
bf_month_ok() {
	[[ $1 =~ ^[0-9]{4}-(0[1-9]|1[0-2])$ ]] && [[ ! $1 < 2000-01 ]]
}

# bf_pace REQUESTS: wait, if need be, so that the requests of the months
# so far and this one's keep to calls_per_minute on average.
bf_pace() {
	local now
	[ "$BF_CPM" -gt 0 ] || return 0
	now=$(runner_now_us)
	if [ "$BF_NEXT_US" -gt "$now" ]; then
		runner_note "$BF_MONTH: waiting $(runner_seconds $((BF_NEXT_US - now))) s: [av-fetch] calls_per_minute = $BF_CPM"
		while [ "$(runner_now_us)" -lt "$BF_NEXT_US" ] && ! runner_stopping; do
			sleep 0.2
		done
		now=$BF_NEXT_US
	fi
	BF_NEXT_US=$((now + $1 * 60000000 / BF_CPM))
}

if [ ${#RUNNER_ARGS[@]} -lt 2 ] || [[ ${RUNNER_ARGS[1]} == -* ]]; then
	runner_fail arguments 64 "expected the months FROM and TO (YYYY-MM)"
fi
BF_FROM=${RUNNER_ARGS[0]} BF_TO=${RUNNER_ARGS[1]}
bf_month_ok "$BF_FROM" || runner_fail arguments 64 "FROM: expected a month from 2000-01 as YYYY-MM, got '$BF_FROM'"
bf_month_ok "$BF_TO" || runner_fail arguments 64 "TO: expected a month from 2000-01 as YYYY-MM, got '$BF_TO'"
[[ $BF_FROM > $BF_TO ]] && runner_fail arguments 64 "FROM ($BF_FROM) is after TO ($BF_TO)"
RUNNER_ARGS=("${RUNNER_ARGS[@]:2}")
fetch_args
[ "$FETCH_EXPLICIT" = 0 ] ||
	runner_fail arguments 64 "--outputsize, --month, --from, --to and --follow are the backfill's to choose"
[ "$FETCH_FUNCTION" = intraday ] ||
	runner_fail arguments 64 "intraday history only (--function $FETCH_FUNCTION)"
BF_CPM=$(runner_cfg av-fetch.calls_per_minute 5)
[[ $BF_CPM =~ ^[0-9]+$ ]] || BF_CPM=5
BF_NEXT_US=0
BF_FILE=$RUNNER_STATE/backfill/$FETCH_TABLE.ndjson
if ! mkdir -p "$RUNNER_STATE/backfill" "$RUNNER_STATE/rejects" "$RUNNER_STATE/reports" ||
	! touch "$BF_FILE"; then
	runner_fail state 74 "cannot make $BF_FILE"
fi

declare -A loaded=()
while IFS= read -r key; do
	loaded[$key]=1
done < <(awk '{
	m = $0; i = $0; s = $0
	if (!sub(/.*"month":"/, "", m) || !sub(/.*"interval":"/, "", i) || !sub(/.*"symbol":"/, "", s))
		next
	sub(/".*/, "", m); sub(/".*/, "", i); sub(/".*/, "", s)
	print m "/" i "/" s
}' "$BF_FILE")

y=$((10#${BF_FROM%-*})) m=$((10#${BF_FROM#*-}))
while :; do
	printf -v BF_MONTH '%04d-%02d' "$y" "$m"
	[[ $BF_MONTH > $BF_TO ]] && break
	BF_SYMBOLS=()
	for sym in "${FETCH_SYMBOLS[@]}"; do
		[ -n "${loaded[$BF_MONTH/$FETCH_INTERVAL/$sym]:-}" ] || BF_SYMBOLS+=("$sym")
	done
	if [ ${#BF_SYMBOLS[@]} -eq 0 ]; then
		runner_log "$BF_MONTH: loaded before (${FETCH_SYMBOLS[*]}); skipped"
	else
		bf_pace "${#BF_SYMBOLS[@]}"
		runner_stopping && break
		BF_APP=$(fetch_app "backfill/intraday/$FETCH_INTERVAL/$BF_MONTH" "${BF_SYMBOLS[@]}")
		runner_log "$BF_MONTH: ${BF_SYMBOLS[*]}"
		run_pipeline --commits loaded fetch normalize validate append || break
	fi
	m=$((m + 1))
	if [ "$m" -gt 12 ]; then
		m=1 y=$((y + 1))
	fi
done
runner_finish

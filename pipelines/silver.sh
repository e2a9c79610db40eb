#!/usr/bin/env bash
# The silver job: bronze's rows added since the bronze version silver last
# consumed, upserted into silver by (symbol, interval, trade_timestamp), so
# that silver holds every bar once at its latest value (created on first
# use, with that merge key), through the job runner
# (pipelines/lib/runner.sh: run id, lock, retries, time limit, log, spool).
#
#   pipelines/silver.sh [-q] [--wait] [--config FILE]
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
# Stages: create (delta-create), consumed (delta-append --txn-version),
# latest (delta-history), then read | merge (delta-cat | delta-append
# --merge-key) per batch.  Exit status: the run's, as the runner takes it
# from the stages: 0, or the first failing stage's (65 for data, 74 for
# I/O, 75 for a conflict that is safe to run again, 78 for a bad
# STOCKETL_SILVER_VERSIONS, ...).

# shellcheck disable=SC2317 # the stage_ functions are called by the runner
set -u
RUNNER_USAGE=""
# shellcheck source=pipelines/lib/runner.sh
source "$(dirname "$0")/lib/runner.sh"
runner_main silver "$@"

SILVER_APP=silver/bronze
SILVER_KEY=symbol,interval,trade_timestamp

stage_create() {
	exec delta-create silver --schema "$RUNNER_ROOT/conf/tables/silver.schema" --partition-by trade_date \
		--merge-key "$SILVER_KEY"
}

stage_read() {
	exec delta-cat "${SILVER_SINCE[@]}" --at-version "$SILVER_UPTO" bronze
}

stage_merge() {
	exec delta-append -v --merge-key "$SILVER_KEY" --app-id "$SILVER_APP" --batch-id "$SILVER_UPTO" silver
}

[ ${#RUNNER_ARGS[@]} -eq 0 ] || runner_fail arguments 64 "no arguments expected, got '${RUNNER_ARGS[0]}'"
step=${STOCKETL_SILVER_VERSIONS:-100}
case $step in
'' | *[!0-9]* | 0)
	runner_fail settings 78 "STOCKETL_SILVER_VERSIONS: '$step' is not a positive integer"
	;;
esac
run_pipeline create || runner_finish
runner_value consumed delta-append --txn-version "$SILVER_APP" silver || runner_finish
consumed=$RUNNER_VALUE
runner_value latest delta-history --format json --limit 1 bronze || runner_finish
latest=$(sed -n 's/^{"version":\([0-9]*\),.*/\1/p' <<<"$RUNNER_VALUE")
if [ -z "$latest" ]; then
	runner_fail latest 65 "bronze has no version to read"
fi
while [ "$consumed" -lt "$latest" ]; do
	# The first batch reads the snapshot: versions 0 to step.
	SILVER_UPTO=$((consumed < 0 ? step : consumed + step))
	[ "$SILVER_UPTO" -gt "$latest" ] && SILVER_UPTO=$latest
	if [ "$consumed" -lt 0 ]; then
		# Never consumed: everything bronze holds, as of that version.
		SILVER_SINCE=()
	else
		SILVER_SINCE=(--since-version "$consumed")
	fi
	run_pipeline read merge || runner_finish
	consumed=$SILVER_UPTO
done
runner_finish

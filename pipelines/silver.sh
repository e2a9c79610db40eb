#!/usr/bin/env bash
# The silver job: bronze's rows added since the bronze version silver last
# consumed, upserted into silver by (symbol, interval, trade_timestamp), so
# that silver holds every bar once at its latest value (created on first
# use, with that merge key), through the job runner
# (pipelines/lib/runner.sh: run id, lock, retries, time limit, log, spool).
#
#   pipelines/silver.sh [-q] [--wait] [--config FILE] [--full]
#
# The bronze version consumed is silver's txn of application silver/bronze.
# Bronze's commits after it, up to bronze's latest version, are read in
# commit order (delta-cat --since-version), so a bar that a later bronze
# commit revised (the API revises the newest bar while it forms) ends at
# its later value, and upserted as batches of at most
# $STOCKETL_SILVER_VERSIONS bronze versions (default 100) each, whose batch
# id is the last bronze version it holds: each batch commits once, a rerun
# with nothing new commits nothing, and a run that died resumes after the
# last batch it committed.  The batches go through one delta-cat and one
# delta-append (delta-cat's batch markers end them), so that a long
# catch-up pays one start and one log replay, and delta-append keeps its
# memory from batch to batch.  The first run reads bronze's snapshot as of
# its first batch instead, in a pipeline of its own.
# --full reads bronze's latest snapshot whole as one batch instead, whatever
# silver consumed: what brings silver back when the files of the bronze
# versions it has yet to read are gone (delta-compact rewrote them and
# VACUUM deleted them once past the retention, which delta-cat says when
# a run fails on one), at the cost of holding all of bronze in one batch.
# Of a batch's records of one bar, the one with the greatest batch_id (the
# latest fetch) wins, the later in the stream on a tie (delta-append
# --latest-by batch_id): a snapshot's rows come in the order of its files,
# which delta-compact rewrites (sorted, partitions together), so the order
# of bronze's commits is not always the order of the rows.
# Tables are named as everywhere: $STOCKETL_LAKE (default ./lake) or the
# configuration.
#
# Stages: latest (delta-history of bronze), create (delta-create),
# consumed (delta-append --txn-version), then read | merge (delta-cat |
# delta-append --merge-key): once for the first batch, once for all the
# others.  Exit status: the run's, as the runner takes it from the stages:
# 0, or the first failing stage's (65 for data, 74 for I/O, 75 for a
# conflict that is safe to run again, 78 for a bad
# STOCKETL_SILVER_VERSIONS, ...).

# shellcheck disable=SC2317 # the stage_ functions are called by the runner
set -u
RUNNER_USAGE="[--full]"
# shellcheck source=pipelines/lib/runner.sh
source "$(dirname "$0")/lib/runner.sh"
runner_main silver "$@"

SILVER_APP=silver/bronze
SILVER_KEY=symbol,interval,trade_timestamp

stage_create() {
	exec delta-create silver --schema "$RUNNER_ROOT/conf/tables/silver.schema" --partition-by trade_date \
		--merge-key "$SILVER_KEY"
}

# The first batch (SILVER_SINCE empty): bronze's snapshot at version
# SILVER_UPTO, the batch named on delta-append's command line.  The batches
# after it: bronze's commits after SILVER_SINCE up to SILVER_UPTO, a batch
# marker (app and id) after every $step versions.
stage_read() {
	if [ -z "$SILVER_SINCE" ]; then
		exec delta-cat --binary --at-version "$SILVER_UPTO" bronze
	fi
	exec delta-cat --binary --since-version "$SILVER_SINCE" --at-version "$SILVER_UPTO" \
		--batch-every "$step" --batch-app "$SILVER_APP" bronze
}

stage_merge() {
	if [ -z "$SILVER_SINCE" ]; then
		exec delta-append -v --merge-key "$SILVER_KEY" --latest-by batch_id \
			--app-id "$SILVER_APP" --batch-id "$SILVER_UPTO" silver
	fi
	exec delta-append -v --merge-key "$SILVER_KEY" --latest-by batch_id silver
}

full=0
for a in "${RUNNER_ARGS[@]}"; do
	case $a in
	--full) full=1 ;;
	*) runner_fail arguments 64 "unexpected argument '$a' (silver.sh takes --full alone)" ;;
	esac
done
step=${STOCKETL_SILVER_VERSIONS:-100}
case $step in
'' | *[!0-9]* | 0)
	runner_fail settings 78 "STOCKETL_SILVER_VERSIONS: '$step' is not a positive integer"
	;;
esac
# bronze first: without it, silver is not made either
runner_value latest delta-history --format json --limit 1 bronze || runner_finish
latest=$(sed -n 's/^{"version":\([0-9]*\),.*/\1/p' <<<"$RUNNER_VALUE")
if [ -z "$latest" ]; then
	runner_fail latest 65 "bronze has no version to read"
fi
run_pipeline create || runner_finish
runner_value consumed delta-append --txn-version "$SILVER_APP" silver || runner_finish
consumed=$RUNNER_VALUE
if [ "$consumed" -gt "$latest" ]; then
	runner_fail consumed 65 "silver has read bronze up to version $consumed, but bronze's latest is $latest: bronze was made again since; make silver again (delete it) to read the new bronze from its start"
fi
if [ "$full" = 1 ]; then
	if [ "$consumed" -ge "$latest" ]; then
		runner_note "silver has read bronze up to its latest version ($latest): nothing to read"
		runner_finish
	fi
	# bronze's latest snapshot, one batch whose id is that version
	SILVER_SINCE='' SILVER_UPTO=$latest
	run_pipeline read merge || runner_finish
	runner_finish
fi
if [ "$consumed" -lt 0 ]; then
	# Never consumed: everything bronze holds as of version step (or its
	# latest), one batch.
	SILVER_SINCE='' SILVER_UPTO=$((step < latest ? step : latest))
	run_pipeline read merge || runner_finish
	consumed=$SILVER_UPTO
fi
if [ "$consumed" -lt "$latest" ]; then
	SILVER_SINCE=$consumed SILVER_UPTO=$latest
	run_pipeline read merge || runner_finish
fi
runner_finish

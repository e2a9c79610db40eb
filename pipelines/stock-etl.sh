#!/usr/bin/env bash
# The stock-etl job, as the original pipeline named it: the bronze job,
# then the silver job (pipelines/silver.sh) when the tree has one, each a
# stage of this run and a job of its own (its lock, its log) under this
# run's id, attempt and time limit.
#
#   pipelines/stock-etl.sh [-q] [--wait] [--config FILE] [av-fetch options] [SYMBOL ...]
#
# The arguments are bronze's.  Silver runs after a bronze that loaded, or
# loaded nothing new (status 0, 1 or 2), not after one that failed.

# shellcheck disable=SC2317 # the stage_ functions are called by the runner
set -u
RUNNER_USAGE="[av-fetch options] [SYMBOL ...]"
# shellcheck source=pipelines/lib/runner.sh
source "$(dirname "$0")/lib/runner.sh"
runner_main stock-etl "$@"

stage_bronze() {
	exec "$RUNNER_ROOT/pipelines/bronze.sh" "${RUNNER_ARGS[@]}"
}

stage_silver() {
	exec "$RUNNER_ROOT/pipelines/silver.sh"
}

run_pipeline bronze || runner_finish
if [ -e "$RUNNER_ROOT/pipelines/silver.sh" ]; then
	run_pipeline silver
fi
runner_finish

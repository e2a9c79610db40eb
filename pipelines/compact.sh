#!/usr/bin/env bash
# The compact job: delta-compact on the tables the jobs write (bronze and
# silver), one stage per table, through the job runner
# (pipelines/lib/runner.sh: run id, lock, retries, time limit, log, spool).
#
#   pipelines/compact.sh [-q] [--wait] [--config FILE] [--vacuum] [TABLE ...]
#
# Nightly (the crontab's default): each table optimized (its small files of
# a day rewritten into one, ordered by its merge key or symbol and time),
# then checkpointed.  With --vacuum (weekly): the data files that no
# retained version reads are deleted (delta.deletedFileRetentionDuration,
# 7 days by default) and commits past delta.logRetentionDuration removed
# from the log.  TABLE names the tables (default: bronze silver) as every
# program does ($STOCKETL_LAKE, default ./lake, or the configuration); a
# table not made yet is skipped.  delta-compact takes no lock: the jobs
# that append go on meanwhile, and a rewrite that meets a concurrent one
# exits 75, which the runner retries.
#
# Exit status: the run's, as the runner takes it from the stages.

# shellcheck disable=SC2317 # the stage_ functions are called by the runner
set -u
RUNNER_USAGE="[--vacuum] [TABLE ...]"
# shellcheck source=pipelines/lib/runner.sh
source "$(dirname "$0")/lib/runner.sh"
runner_main compact "$@"

# stage_TABLE: one delta-compact run; the stage's name is the table's.
compact_stage() {
	if [ "$COMPACT_VACUUM" = 1 ]; then
		exec delta-compact --vacuum --cleanup-log "$1"
	fi
	exec delta-compact --optimize --checkpoint "$1"
}

COMPACT_VACUUM=0
tables=()
for a in "${RUNNER_ARGS[@]}"; do
	case $a in
	--vacuum) COMPACT_VACUUM=1 ;;
	-*) runner_fail arguments 64 "unknown option '$a' (--vacuum, or tables)" ;;
	*[!a-z0-9_-]*) runner_fail arguments 64 "'$a': a table is named by letters, digits, '_' and '-'" ;;
	*) tables+=("$a") ;;
	esac
done
[ ${#tables[@]} -gt 0 ] || tables=(bronze silver)
lake=${STOCKETL_LAKE:-$(runner_cfg_dir storage.lake ./lake)}
for t in "${tables[@]}"; do
	if [ ! -d "$lake/$t/_delta_log" ]; then
		runner_note "$t: no table at $lake/$t yet; skipped"
		continue
	fi
	eval "stage_$t() { compact_stage $t; }"
	run_pipeline "$t" || break
done
runner_finish

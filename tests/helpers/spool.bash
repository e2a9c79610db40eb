# Lines of the metadata spool written from the shell, the way the job
# runner writes its run and stage facts (stocketl(7), METADATA).
#
#   load helpers/spool
#
#   spool_open [PROGRAM]      start this shell's spool file in $STOCKETL_SPOOL:
#                             <epoch_us>-<pid>-PROGRAM.ndjson.part (PROGRAM
#                             default runner); its path in $SPOOL_FILE
#   spool_run RUN ATTEMPT STARTED [ENDED STATUS FAILED_STAGE REASON]
#                             a run line: its start (without ENDED) or its end
#   spool_stage RUN STAGE STATUS STARTED ENDED IN OUT REJECTED [JOB]
#                             a stage line; "-" for a null count; JOB
#                             (default intraday) the job whose stage it is
#   spool_fact JSON           any line, as given
#   spool_close               rename the file to .ndjson, as a writer does at exit
#
# Times are RFC 3339 text.  Each line is appended with one write, as the
# contract asks.
# shellcheck shell=bash
# shellcheck disable=SC2016 # jq programs, in single quotes, use jq's $variables

spool_open() {
	local us
	us=$(date +%s%6N)
	mkdir -p "$STOCKETL_SPOOL"
	SPOOL_FILE=$STOCKETL_SPOOL/$us-$BASHPID-${1:-runner}.ndjson.part
	: >"$SPOOL_FILE"
}

spool_close() {
	mv "$SPOOL_FILE" "${SPOOL_FILE%.part}"
	SPOOL_FILE=${SPOOL_FILE%.part}
}

spool_fact() {
	printf '%s\n' "$1" >>"$SPOOL_FILE"
}

# _spool_jq ARGS... FILTER: one compact JSON line, with the helpers n (""
# or "-" is null) and num (the same, else a number).
_spool_jq() {
	local line
	line=$(jq -nc "$@") || return 1
	spool_fact "$line"
}

spool_run() {
	_spool_jq --arg run "$1" --argjson attempt "$2" --arg started "$3" --arg ended "${4:-}" \
		--arg status "${5:-}" --arg failed "${6:-}" --arg reason "${7:-}" '
		def n: if . == "" or . == "-" then null else . end;
		{fact: "run", run_id: $run, program: "runner",
		 at: (if $ended == "" then $started else $ended end),
		 job: "intraday", attempt: $attempt, started_at: $started, ended_at: ($ended | n),
		 status: ($status | n | if . == null then null else tonumber end),
		 failed_stage: ($failed | n), reason: ($reason | n), host: "testhost"}'
}

spool_stage() {
	_spool_jq --arg run "$1" --arg stage "$2" --arg status "$3" --arg started "$4" \
		--arg ended "$5" --arg in "$6" --arg out "$7" --arg rej "$8" --arg job "${9:-intraday}" '
		def n: if . == "" or . == "-" then null else . end;
		def num: n | if . == null then null else tonumber end;
		{fact: "stage", run_id: $run, program: "runner", at: $ended, job: $job,
		 stage: $stage, status: ($status | num), started_at: $started, ended_at: ($ended | n),
		 records_in: ($in | num), records_out: ($out | num), rejected: ($rej | num)}'
}

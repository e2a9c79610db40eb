#!/usr/bin/env bash
# The offline demo: the whole job (bronze, silver, a chart) on the
# recorded Alpha Vantage answers of demo/recordings/, served on loopback by
# demo/av-server.js, with no API key and no network, into a demo lake of
# its own.  `make demo` runs it.
#
#   demo/run.sh [--dir DIR] [--fresh]
#
# DIR (default var/demo/ in a checkout, ~/.local/state/stocketl/demo when
# installed) holds everything: the configuration written for the run
# (stocketl.ini), the lake (lake/bronze, lake/silver), the job's state
# (state/: logs, quarantine, scan reports, watermarks), the server's
# request log (av-server/) and the chart (chart.svg).  --fresh removes it
# first.
#
# The steps are the real jobs, through the job runner: the history
# (pipelines/backfill.sh 2024-03 2024-03, the month answers), then the job
# cron runs (pipelines/stock-etl.sh: the latest bars into bronze, then
# silver), as if it were 12:02 US/Eastern on 2024-03-13, when the latest
# answers were taken ($STOCKETL_NOW).  Then silver is drawn with
# tick-chart and a summary is printed on stdout.  A second run finds the
# month loaded, fetches the latest bars again, loads only the newest bar of
# each symbol (the API revises it while it forms) and changes no row of
# silver: the summary says so.
#
# Exit status: 0, or the status of the step that failed (the job's, as the
# runner gives it; 69 when the server cannot start, 75 when another demo is
# running in DIR, 78 when a program or node(1) is missing).

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

# The programs built in the checkout ($STOCKETL_BIN: another build) come
# first; installed ones otherwise.  The pipelines look for them the same way.
if [ -n "${STOCKETL_BIN:-}" ]; then
	PATH=$STOCKETL_BIN:$PATH
elif [ -d "$root/bin" ]; then
	PATH=$root/bin:$PATH
fi

usage() {
	echo "usage: demo/run.sh [--dir DIR] [--fresh]"
}

say() {
	printf 'demo: %s\n' "$1" >&2
}

dir='' fresh=0
while [ $# -gt 0 ]; do
	case $1 in
	--dir)
		[ $# -ge 2 ] || {
			say "option '--dir' needs a value"
			usage >&2
			exit 64
		}
		dir=$2
		shift
		;;
	--dir=*) dir=${1#--dir=} ;;
	--fresh) fresh=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		say "unknown argument '$1'"
		usage >&2
		exit 64
		;;
	esac
	shift
done

if [ -z "$dir" ]; then
	if [ -f "$root/Makefile" ]; then
		dir=$root/var/demo
	else
		dir=${XDG_STATE_HOME:-${HOME:-.}/.local/state}/stocketl/demo
	fi
fi

for prog in av-fetch tick-normalize tick-validate delta-create delta-append delta-cat \
	delta-history tick-chart; do
	command -v "$prog" >/dev/null || {
		say "$prog: not found; build the programs first (make) or install them (make install)"
		exit 78
	}
done
command -v node >/dev/null || {
	say "node: not found; the recorded answers are served by Node.js (make deps)"
	exit 78
}

mkdir -p "$dir" || exit 74
dir=$(cd "$dir" && pwd)
# One demo at a time in a directory: another would rewrite its
# configuration with its own server's port and stop that server under it.
exec {demo_lock}<"$dir" || exit 74
flock -n "$demo_lock" || {
	say "another demo is running in $dir; wait for it, or give another --dir"
	exit 75
}
[ "$fresh" = 1 ] && { find "$dir" -mindepth 1 -delete || exit 74; }
cfg=$dir/stocketl.ini lake=$dir/lake state=$dir/state chart=$dir/chart.svg
tmp=$(mktemp -d "${TMPDIR:-/tmp}/stocketl-demo.XXXXXX") || exit 74

# shellcheck source=demo/av-server.bash
source "$here/av-server.bash"
cleanup() {
	av_server_stop
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

av_server_start "$dir/av-server" || exit 69

# The configuration of the demo, written again each run (the server's port
# changes).  No key in it: the dummy key goes by the environment.  No
# PostgreSQL: run history stays in the state directory's spool.
mask=$(umask)
umask 077
cat >"$cfg" <<EOF || exit 74
# Written by demo/run.sh for the offline demo; rewritten on each run.
[API]
base_url = $AV_SERVER_URL

[av-fetch]
calls_per_minute = 0    ; no rate limit on loopback
calls_per_second = 0
throttle_wait = 1s      ; the pause after the recorded throttle note

[storage]
lake = "$lake"

[job]
state = "$state"
retries = 1
retry_delay = 1s
loader =
EOF
umask "$mask"

# Only the demo's configuration speaks: settings of the live job in the
# environment would send the demo's tables elsewhere.
unset STOCKETL_LAKE STOCKETL_STATE STOCKETL_SPOOL STOCKETL_JOB STOCKETL_RUN_ID \
	STOCKETL_RUN_ATTEMPT STOCKETL_ON_OVERLAP STOCKETL_PG_DSN
export STOCKETL_CONFIG=$cfg ALPHAVANTAGE_API_KEY=demo-offline
export STOCKETL_LAKE=$lake

# silver_bars FILE: silver's bars (key and market values, without the
# batch and load time), sorted; empty when silver does not exist yet.
silver_bars() {
	local -
	set -o pipefail
	if [ -d "$lake/silver/_delta_log" ]; then
		delta-cat -q --csv --columns symbol,interval,trade_timestamp,open,high,low,close,volume \
			silver | tail -n +2 | LC_ALL=C sort >"$1"
	else
		: >"$1"
	fi
}

# table_version TABLE: the table's latest version, or "none".
table_version() {
	local line
	line=$(delta-history -q --format json --limit 1 "$1" 2>/dev/null | head -n 1)
	if [[ $line =~ \"version\":([0-9]+) ]]; then
		printf '%s\n' "${BASH_REMATCH[1]}"
	else
		echo none
	fi
}

silver_bars "$tmp/before.csv" || exit
bronze_before=$(table_version bronze)
silver_before=$(table_version silver)
touch "$tmp/start"
mkdir -p "$state/rejects"
for f in normalize validate; do
	touch "$state/rejects/$f.ndjson"
	wc -l <"$state/rejects/$f.ndjson" >"$tmp/$f.before"
done

# step NAME STATUS-OK... -- COMMAND...: run a step of the demo; a status
# outside the accepted ones ends the demo with it.
step() {
	local name=$1 ok=() st
	shift
	while [ "$1" != -- ]; do
		ok+=("$1")
		shift
	done
	shift
	"$@"
	st=$?
	for s in "${ok[@]}"; do
		[ "$st" = "$s" ] && return 0
	done
	say "$name ended with status $st; the job's logs are in $state/logs/"
	exit "$st"
}

echo "stocketl demo: the job on recorded answers, offline (server $AV_SERVER_URL)"
echo "  1. the history: pipelines/backfill.sh 2024-03 2024-03"
step backfill.sh 0 1 -- bash "$root/pipelines/backfill.sh" -q 2024-03 2024-03
echo "  2. the job: pipelines/stock-etl.sh (the latest bars, then silver) at 2024-03-13 12:02 ET"
STOCKETL_NOW=2024-03-13T16:02:00Z step stock-etl.sh 0 1 -- bash "$root/pipelines/stock-etl.sh" -q
echo "  3. the chart: delta-cat silver | tick-chart"
draw_chart() {
	local -
	set -o pipefail
	delta-cat -q silver | tick-chart -q -o "$chart"
}
step "the chart" 0 -- draw_chart

silver_bars "$tmp/after.csv" || exit
bronze_after=$(table_version bronze)
silver_after=$(table_version silver)

# Summary -------------------------------------------------------------------

# table_line TABLE BEFORE AFTER: the table's version and what this run did.
table_line() {
	if [ "$2" = none ]; then
		echo "  $1  version $3 (made by this run)"
	elif [ "$3" = "$2" ]; then
		echo "  $1  version $3 (no commit by this run)"
	elif [ "$3" = $(($2 + 1)) ]; then
		echo "  $1  version $3 (committed by this run)"
	else
		echo "  $1  version $3 (versions $(($2 + 1)) to $3 by this run)"
	fi
}

echo
echo "silver: rows per symbol and trade date (US/Eastern)"
delta-cat -q --csv --columns symbol,trade_date silver | tail -n +2 | awk -F, '
	{ n[$1 "," $2]++; sym[$1] = 1; day[$2] = 1; total[$1]++; all++ }
	END {
		ns = 0; for (s in sym) syms[++ns] = s
		nd = 0; for (d in day) days[++nd] = d
		for (i = 2; i <= ns; i++) for (j = i; j > 1 && syms[j] < syms[j - 1]; j--) {
			t = syms[j]; syms[j] = syms[j - 1]; syms[j - 1] = t
		}
		for (i = 2; i <= nd; i++) for (j = i; j > 1 && days[j] < days[j - 1]; j--) {
			t = days[j]; days[j] = days[j - 1]; days[j - 1] = t
		}
		printf "  %-8s", "symbol"
		for (j = 1; j <= nd; j++) printf " %10s", days[j]
		printf " %7s\n", "total"
		for (i = 1; i <= ns; i++) {
			printf "  %-8s", syms[i]
			for (j = 1; j <= nd; j++) printf " %10d", n[syms[i] "," days[j]]
			printf " %7d\n", total[syms[i]]
		}
		printf "  %-8s", "all"
		for (j = 1; j <= nd; j++) printf " %10s", ""
		printf " %7d\n", all
	}'

rows_after=$(wc -l <"$tmp/after.csv")
LC_ALL=C comm -13 "$tmp/before.csv" "$tmp/after.csv" >"$tmp/new.csv"
changed=$(awk -F, 'NR == FNR { key[$1 "," $2 "," $3] = 1; next }
	($1 "," $2 "," $3) in key { n++ } END { print n + 0 }' "$tmp/before.csv" "$tmp/new.csv")
added=$(($(wc -l <"$tmp/new.csv") - changed))
if [ "$added" = 0 ] && [ "$changed" = 0 ] && [ "$rows_after" -gt 0 ]; then
	echo "silver: no row changed by this run: $rows_after rows, every bar with the values it had before"
else
	echo "silver: $added rows added and $changed changed by this run ($rows_after rows)"
fi

echo
echo "tables (lake $lake):"
table_line bronze "$bronze_before" "$bronze_after"
table_line silver "$silver_before" "$silver_after"

echo
echo "checks (tick-validate, the shipped checks), each batch of this run:"
find "$state/reports" -name '*.json' -newer "$tmp/start" 2>/dev/null | LC_ALL=C sort >"$tmp/reports"
if [ ! -s "$tmp/reports" ]; then
	echo "  none: nothing new was fetched"
fi
while read -r report; do
	awk '
		function num(name,    s) {
			if (!match($0, "\"" name "\":[0-9]+")) return 0
			s = substr($0, RSTART, RLENGTH); sub(/.*:/, "", s); return s + 0
		}
		{
			app = $0; sub(/.*"batch":\{"app":"/, "", app); sub(/".*/, "", app)
			# The checks array, without the outcome of the batch after it.
			out = $0; sub(/.*"checks":\[/, "", out); sub(/\],"outcome":"[a-z]*"\}$/, "", out)
			pass = gsub(/"outcome":"pass"/, "", out)
			warn = gsub(/"outcome":"warn"/, "", out); fail = gsub(/"outcome":"fail"/, "", out)
			names = ""; rest = $0
			while (match(rest, /"name":"[^"]*"[^{}]*"outcome":"(warn|fail)"/)) {
				s = substr(rest, RSTART + 8, RLENGTH - 8); sub(/".*/, "", s)
				names = names (names == "" ? "" : ", ") s
				rest = substr(rest, RSTART + RLENGTH)
			}
			printf "  %s: %d records, %d passed, %d quarantined; checks: %d passed, %d warned, %d failed%s\n",
				app, num("in"), num("passed"), num("quarantined"), pass, warn, fail,
				names == "" ? "" : " (" names ")"
		}' "$report"
done <"$tmp/reports"

echo
echo "quarantine:"
for f in normalize validate; do
	file=$state/rejects/$f.ndjson
	total=$(wc -l <"$file")
	new=$((total - $(cat "$tmp/$f.before")))
	printf '  %s: %d record%s (%d by this run)\n' "$file" "$total" "$([ "$total" = 1 ] || echo s)" "$new"
	awk '
		function str(name,    s) {
			if (!match($0, "\"" name "\":\"([^\"\\\\]|\\\\.)*\"")) return ""
			s = substr($0, RSTART + length(name) + 4, RLENGTH - length(name) - 5); return s
		}
		NR <= 5 {
			printf "    %s %s: %s (%s)\n", str("symbol"), str("trade_timestamp"), str("check"), str("reason")
		}
		END { if (NR > 5) printf "    ... and %d more\n", NR - 5 }' "$file"
done

echo
echo "chart: $chart"
echo "logs: $state/logs/ (one per run and job); the server's requests: $AV_SERVER_LOG"

# shellcheck shell=bash
#
# Fetching into bronze, shared by the jobs that land API answers there
# (bronze.sh, stream.sh, backfill.sh): the av-fetch arguments of a job, the
# table, and the watermarks that make fetching incremental.
#
# A watermark is the newest bar loaded into bronze for a (symbol,
# interval).  They are kept in <state>/watermarks/bronze.ndjson, one JSON
# line per key with the table's path and the version that set it:
#
#   {"symbol":"IBM","interval":"5min","newest":"2025-06-17T15:20:00Z",
#    "table":"/srv/stocketl/lake/bronze","version":42}
#
# and advanced only from the rows of a commit that delta-append reports,
# read back from the table (delta-cat --since-version V-1 --at-version V),
# so a watermark never says more than the table holds.  Only the
# incremental jobs move them (a backfill of old months, or of a month far
# ahead, must not: a watermark promises that the bars before it were
# fetched).  A file written for another table, or for a table that has
# since gone back to an older version (removed and made again), is not
# used.
#
# The next incremental run asks, per symbol, for what covers the gap since
# its watermark: compact (the latest 100 bars) when at most 100 bars of
# trading time (04:00-20:00 US/Eastern on weekdays, at the interval) fit
# between the watermark and now, full (the trailing 30 days) when the
# watermark is less than 29 days old, else every month from the
# watermark's to the current one.  tick-normalize --watermarks then drops
# the bars older than the watermark, so each bar is loaded about once; the
# watermark's own bar is loaded again, as the API revises the newest bar.
#
# Functions use the runner's RUNNER_* variables (pipelines/lib/runner.sh).

FETCH_TABLE=bronze

# fetch_args: split the job's arguments (RUNNER_ARGS) into av-fetch's
# options (FETCH_OPTS; --every apart, in FETCH_EVERY, since only a follow
# run takes it) and symbols (FETCH_SYMBOLS, upper case, else
# [av-fetch] symbols, else av-fetch's default list); FETCH_FUNCTION and
# FETCH_INTERVAL as av-fetch will use them; FETCH_EXPLICIT=1 when the
# arguments choose what history to fetch (--outputsize, --month, --from,
# --to, --follow), which leaves the run out of the watermarks.
fetch_args() {
	local -a args=("${RUNNER_ARGS[@]}")
	local i a name v list
	FETCH_OPTS=() FETCH_EVERY=() FETCH_SYMBOLS=() FETCH_EXPLICIT=0
	FETCH_FUNCTION=$(runner_cfg av-fetch.function intraday)
	FETCH_INTERVAL=$(runner_cfg av-fetch.interval 5min)
	for ((i = 0; i < ${#args[@]}; i++)); do
		a=${args[i]} name='' v=''
		case $a in
		--every)
			FETCH_EVERY=("$a" "${args[i + 1]-}")
			i=$((i + 1))
			continue
			;;
		--every=*)
			FETCH_EVERY=("$a")
			continue
			;;
		--function | --interval | --outputsize | --month | --from | --to | --datatype | \
			--adjusted | --extended-hours | --entitlement | --base-url | \
			--api-key-file | --app | --config | -o)
			name=$a v=${args[i + 1]-}
			FETCH_OPTS+=("$a")
			[ $((i + 1)) -lt ${#args[@]} ] && FETCH_OPTS+=("$v")
			i=$((i + 1))
			;;
		--*=*)
			name=${a%%=*} v=${a#*=}
			FETCH_OPTS+=("$a")
			;;
		-*)
			name=$a
			FETCH_OPTS+=("$a")
			;;
		*) FETCH_SYMBOLS+=("${a^^}") ;;
		esac
		case $name in
		--function) FETCH_FUNCTION=$v ;;
		--interval) FETCH_INTERVAL=$v ;;
		--outputsize | --month | --from | --to | --follow) FETCH_EXPLICIT=1 ;;
		esac
	done
	if [ ${#FETCH_SYMBOLS[@]} -eq 0 ]; then
		list=$(runner_cfg av-fetch.symbols "NVDA TSLA IBM AAPL")
		read -r -a FETCH_SYMBOLS <<<"${list//,/ }"
		FETCH_SYMBOLS=("${FETCH_SYMBOLS[@]^^}")
	fi
	case $FETCH_FUNCTION in
	daily | quote) FETCH_INTERVAL=1d ;;
	esac
}

# fetch_append: the append stage into bronze, which is made here on first
# use (delta-create: nothing to do when it exists) rather than in a stage
# before the fetch: the runner starts the stages after the fetch only once
# it has written something, so a fetch that fails before any output (no
# API key) leaves neither a table nor a lake directory behind.
fetch_append() {
	delta-create "$FETCH_TABLE" --schema "$RUNNER_ROOT/conf/tables/bronze.schema" --partition-by trade_date ||
		exit
	exec delta-append -v "$FETCH_TABLE"
}

# fetch_table_path: the table's directory, as the programs resolve it
# ($STOCKETL_LAKE, else [storage] lake, else ./lake), made absolute.
fetch_table_path() {
	local lake=${STOCKETL_LAKE:-$(runner_cfg_dir storage.lake ./lake)}
	case $lake in
	/*) ;;
	*) lake=$PWD/${lake#./} ;;
	esac
	printf '%s/%s\n' "${lake%/}" "$FETCH_TABLE"
}

# fetch_table_version: the table's latest version, or -1 when it has none.
fetch_table_version() {
	local line
	line=$(delta-history -q --format json --limit 1 "$FETCH_TABLE" 2>/dev/null | head -n 1)
	if [[ $line =~ \"version\":([0-9]+) ]]; then
		printf '%s\n' "${BASH_REMATCH[1]}"
	else
		echo -1
	fi
}

# fetch_watermarks_load: FETCH_WM_FILE, made if missing, and
# FETCH_WM[SYMBOL/INTERVAL] from it.  A file of another table, or of a
# newer version than the table has, is emptied first: its watermarks would
# drop bars that this table never received.
fetch_watermarks_load() {
	local sym iv newest table version max=-1 ok=1 mine
	declare -gA FETCH_WM=()
	FETCH_WM_FILE=$RUNNER_STATE/watermarks/$FETCH_TABLE.ndjson
	if ! mkdir -p "$RUNNER_STATE/watermarks" || ! touch "$FETCH_WM_FILE"; then
		runner_stage_failed watermark 74 "cannot make $FETCH_WM_FILE"
		return 74
	fi
	[ -s "$FETCH_WM_FILE" ] || return 0
	mine=$(runner_json "$FETCH_TABLE_PATH")
	while IFS=$'\t' read -r sym iv newest table version; do
		[ "$table" = "$mine" ] || ok=0
		[ "$version" -gt "$max" ] && max=$version
		FETCH_WM[$sym/$iv]=$newest
	done < <(fetch_wm_fields <"$FETCH_WM_FILE")
	if [ "$ok" = 0 ] || [ "$max" -gt "$FETCH_TABLE_VERSION" ]; then
		runner_log "watermarks: $FETCH_WM_FILE is of another table or of an older $FETCH_TABLE (version $max, the table is at $FETCH_TABLE_VERSION); emptied"
		FETCH_WM=()
		local lockfd
		exec {lockfd}>>"$RUNNER_STATE/watermarks/$FETCH_TABLE.lock" && flock "$lockfd" &&
			: >"$FETCH_WM_FILE"
		exec {lockfd}>&-
	fi
	return 0
}

# fetch_wm_fields: the lines of a watermarks file as
# "SYMBOL\tINTERVAL\tNEWEST\tTABLE-AS-JSON\tVERSION".
fetch_wm_fields() {
	awk '
		function field(name, re,    s) {
			if (!match($0, "\"" name "\":" re))
				return ""
			s = substr($0, RSTART + length(name) + 3, RLENGTH - length(name) - 3)
			return s
		}
		{
			sym = field("symbol", "\"[^\"]*\""); gsub(/"/, "", sym)
			iv = field("interval", "\"[^\"]*\""); gsub(/"/, "", iv)
			newest = field("newest", "\"[^\"]*\""); gsub(/"/, "", newest)
			table = field("table", "\"([^\"\\\\]|\\\\.)*\"")
			version = field("version", "[0-9]+")
			if (sym != "" && iv != "" && newest != "")
				printf "%s\t%s\t%s\t%s\t%s\n", sym, iv, newest, table, version == "" ? -1 : version
		}'
}

# fetch_app PREFIX SYMBOL...: a batch producer name, PREFIX/SYMBOLS (sorted,
# joined by commas), or PREFIX/N-symbols-DIGEST when that would be longer
# than a marker's app may be (255 bytes).
fetch_app() {
	local prefix=$1 list
	shift
	list=$(printf '%s\n' "$@" | sort -u | paste -sd, -)
	if [ $((${#prefix} + 1 + ${#list})) -le 255 ]; then
		printf '%s/%s\n' "$prefix" "$list"
	else
		printf '%s/%s-symbols-%s\n' "$prefix" "$#" "$(printf '%s' "$list" | sha256sum | cut -c1-16)"
	fi
}

# fetch_interval_seconds INTERVAL
fetch_interval_seconds() {
	case $1 in
	1min) echo 60 ;; 5min) echo 300 ;; 15min) echo 900 ;; 30min) echo 1800 ;;
	60min) echo 3600 ;; *) echo 86400 ;;
	esac
}

# fetch_size NEWEST NOW INTERVAL_SECONDS (epoch seconds): compact when the
# latest 100 bars reach back to the watermark's bar, full when the
# trailing 30 days do (29, for a day's margin), month otherwise.  Bars are
# counted on the interval's grid in 04:00-20:00 US/Eastern on weekdays
# (holidays count as trading days: an overestimate asks for more, never
# for less).
fetch_size() {
	local wm=$1 now=$2 iv=$3 day last s e lo hi count=0
	if [ $((now - wm)) -gt $((29 * 86400)) ]; then
		echo month
		return
	fi
	day=$(TZ=America/New_York date -d "@$wm" +%F)
	last=$(TZ=America/New_York date -d "@$now" +%F)
	while :; do
		if [ "$(date -d "$day" +%u)" -le 5 ]; then
			s=$(TZ=America/New_York date -d "$day 04:00" +%s)
			e=$((s + 16 * 3600))
			lo=$((wm > s ? wm : s))
			hi=$((now < e - 1 ? now : e - 1))
			[ "$hi" -ge "$lo" ] && count=$((count + (hi - s) / iv - (lo - s + iv - 1) / iv + 1))
			if [ "$count" -gt 100 ]; then
				echo full
				return
			fi
		fi
		[[ $day < $last ]] || break
		day=$(date -d "$day + 1 day" +%F)
	done
	echo compact
}

# fetch_plan: FETCH_GROUPS, one entry per av-fetch run: "SIZE SYMBOL...",
# SIZE being "-" (no watermark: av-fetch's own default), compact, full or
# FROM..TO (months).  Explicit runs and other functions than intraday are
# one group as given.
fetch_plan() {
	local sym wm now iv size key
	declare -A groups=()
	FETCH_GROUPS=()
	if [ "$FETCH_EXPLICIT" = 1 ] || [ "$FETCH_FUNCTION" != intraday ]; then
		FETCH_GROUPS=("- ${FETCH_SYMBOLS[*]}")
		return 0
	fi
	if [ -n "${STOCKETL_NOW:-}" ]; then
		now=$(date -u -d "$STOCKETL_NOW" +%s 2>/dev/null) ||
			runner_fail plan 64 "STOCKETL_NOW: not a time: '$STOCKETL_NOW'"
	else
		now=$(date +%s)
	fi
	iv=$(fetch_interval_seconds "$FETCH_INTERVAL")
	for sym in "${FETCH_SYMBOLS[@]}"; do
		key=-
		if [ -n "${FETCH_WM[$sym/$FETCH_INTERVAL]:-}" ]; then
			# A run that cannot plan fails: going on with nothing fetched
			# would end every run with 0 and never load the symbol again.
			wm=$(date -u -d "${FETCH_WM[$sym/$FETCH_INTERVAL]}" +%s 2>/dev/null) ||
				runner_fail watermark 65 "$FETCH_WM_FILE: $sym $FETCH_INTERVAL: the newest bar '${FETCH_WM[$sym/$FETCH_INTERVAL]}' is not a time; remove its line to fetch $sym from the start"
			size=$(fetch_size "$wm" "$now" "$iv")
			if [ "$size" = month ]; then
				key=$(TZ=America/New_York date -d "@$wm" +%Y-%m)..$(TZ=America/New_York date -d "@$now" +%Y-%m)
			else
				key=$size
			fi
		fi
		groups[$key]="${groups[$key]:-}${groups[$key]:+ }$sym"
	done
	for key in "${!groups[@]}"; do
		FETCH_GROUPS+=("$key ${groups[$key]}")
		size=$key
		[ "$size" = - ] && size="no watermark yet, av-fetch's default size"
		runner_log "plan: ${groups[$key]}: $size"
	done
}

# fetch_group_args GROUP: av-fetch's arguments for one group (in REPLY_ARGS).
fetch_group_args() {
	local size=${1%% *} syms=${1#* }
	local -a s
	read -r -a s <<<"$syms"
	REPLY_ARGS=("${FETCH_OPTS[@]}" "${FETCH_EVERY[@]}")
	case $size in
	-) ;;
	compact | full) REPLY_ARGS+=(--outputsize "$size") ;;
	*..*) REPLY_ARGS+=(--from "${size%..*}" --to "${size#*..}") ;;
	esac
	REPLY_ARGS+=("${s[@]}")
}

# fetch_groups: av-fetch once per group, one after the other (each a
# batch, so a commit, of its own); stops after a status of 64 or more, and
# after SIGTERM (av-fetch stopped by a signal may end with 0: no group
# after it starts); ends with the most serious status.
fetch_groups() {
	local g worst=0 child='' stop=''
	if [ ${#FETCH_GROUPS[@]} -eq 1 ]; then
		fetch_group_args "${FETCH_GROUPS[0]}"
		exec av-fetch "${REPLY_ARGS[@]}"
	fi
	trap 'stop=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM
	for g in "${FETCH_GROUPS[@]}"; do
		[ -z "$stop" ] || break
		fetch_group_args "$g"
		av-fetch "${REPLY_ARGS[@]}" &
		child=$!
		# A signal between the start and $!: the trap had no child to tell.
		[ -z "$stop" ] || kill -TERM "$child" 2>/dev/null
		runner_wait_pid "$child"
		child=''
		worst=$(runner_worse "$worst" "$RUNNER_WAITED")
		[ "$(runner_rank "$worst")" -ge 3 ] && break
	done
	exit "$worst"
}

# fetch_watermarks_commit VERSION: advance the watermarks from the rows
# that the table's commit VERSION added, under a lock (jobs of the same
# state share the file), and say each new watermark in the spool.
fetch_watermarks_commit() {
	local v=$1 rows tmp changed lockfd sym iv newest
	local -
	set -o pipefail
	rows=$(mktemp "$RUNNER_TMP/rows.XXXXXX") || return 74
	if ! delta-cat -q --since-version $((v - 1)) --at-version "$v" \
		--columns symbol,interval,trade_timestamp --csv "$FETCH_TABLE" >"$rows"; then
		echo "watermark: cannot read the rows of $FETCH_TABLE version $v; the watermarks stay" >&2
		return 74
	fi
	tmp=$FETCH_WM_FILE.tmp.$BASHPID
	changed=$rows.changed
	# The table's path goes to awk through the environment: -v would read
	# its backslashes as escapes.
	TABLE_JSON=$(runner_json "$FETCH_TABLE_PATH")
	export TABLE_JSON
	if ! exec {lockfd}>>"$RUNNER_STATE/watermarks/$FETCH_TABLE.lock" || ! flock "$lockfd"; then
		echo "watermark: cannot lock $RUNNER_STATE/watermarks/$FETCH_TABLE.lock" >&2
		return 74
	fi
	if ! {
		fetch_wm_fields <"$FETCH_WM_FILE"
		awk -F, -v version="$v" 'NR > 1 && NF == 3 {
			printf "%s\t%s\t%s\t%s\t%s\tnew\n", $1, $2, $3, ENVIRON["TABLE_JSON"], version
		}' "$rows"
	} | awk -F'\t' -v changed="$changed" '
		# RFC 3339 UTC times compare as text once their fractions have six digits.
		function norm(t,    f) {
			if (t ~ /\.[0-9]+Z$/) {
				f = t
				sub(/^[^.]*\./, "", f)
				sub(/Z$/, "", f)
				sub(/\.[0-9]+Z$/, "", t)
				return t "." substr(f "000000", 1, 6) "Z"
			}
			sub(/Z$/, "", t)
			return t ".000000Z"
		}
		{
			k = $1 "\t" $2
			n = norm($3)
			if (!(k in best) || n > best[k]) {
				if ($6 == "new" && (!(k in best) || n > best[k]))
					moved[k] = 1
				best[k] = n
				text[k] = $3
				ver[k] = $5
			}
		}
		END {
			for (k in best) {
				split(k, p, "\t")
				printf "{\"symbol\":\"%s\",\"interval\":\"%s\",\"newest\":\"%s\",\"table\":%s,\"version\":%s}\n",
					p[1], p[2], text[k], ENVIRON["TABLE_JSON"], ver[k]
				if (k in moved)
					printf "%s\t%s\t%s\n", p[1], p[2], text[k] >changed
			}
		}' | sort >"$tmp" || ! mv -f "$tmp" "$FETCH_WM_FILE"; then
		rm -f "$tmp"
		exec {lockfd}>&-
		echo "watermark: cannot write $FETCH_WM_FILE" >&2
		return 74
	fi
	exec {lockfd}>&-
	if [ -f "$changed" ]; then
		while IFS=$'\t' read -r sym iv newest; do
			runner_spool watermark ",\"symbol\":$(runner_json "$sym"),\"interval\":$(runner_json "$iv"),\"newest\":$(runner_json "$newest")"
		done <"$changed"
	fi
	local moved=0
	[ -f "$changed" ] && moved=$(wc -l <"$changed")
	echo "watermark: $FETCH_TABLE version $v: $(($(wc -l <"$rows") - 1)) rows, $moved watermarks advanced" >&2
	rm -f "$rows" "$changed"
}

# stage_watermark: the watcher of run_pipeline --commits watermark: one
# update per commit line "VERSION ROWS APP" on stdin.
stage_watermark() {
	local v st=0
	while read -r v _; do
		[ -n "$v" ] || continue
		fetch_watermarks_commit "$v" || st=74
	done
	return "$st"
}

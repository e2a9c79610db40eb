#!/usr/bin/env bats
# tick-chart: tick records drawn as a candlestick and volume chart in SVG.

# shellcheck disable=SC2154 # $stderr is set by BATS's run --separate-stderr
# shellcheck disable=SC2016 # bash -c scripts take their arguments as $1, $2
load helpers/common

CHART=$FIXTURES/tick-chart
UP='#26a69a'
DOWN='#ef5350'

# q FILE XPATH: the XPath's value in an SVG file (elements by local-name,
# as SVG's are in a namespace).
q() {
	xmllint --xpath "$2" "$1"
}

# candles FILE [SYMBOL]: how many candles the chart (or SYMBOL's panel) draws.
candles() {
	local panel='*'
	[ $# -lt 2 ] || panel="*[@data-symbol='$2']"
	q "$1" "count(//$panel//*[@class='candles up' or @class='candles down']/*[local-name()='path'])"
}

# texts FILE CLASS [SYMBOL]: the texts of a group of labels, one line.
texts() {
	local panel='*'
	[ $# -lt 3 ] || panel="*[@data-symbol='$3']"
	q "$1" "//$panel/*[@class='$2']/*" | sed 's/<[^>]*>/ /g' | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'
}

# bar SYMBOL INTERVAL TIMESTAMP OPEN HIGH LOW CLOSE VOLUME: a tick record line.
bar() {
	printf '{"symbol":"%s","interval":"%s","trade_timestamp":"%s","trade_date":"%s","open":%s,"high":%s,"low":%s,"close":%s,"volume":%s,"batch_id":1,"ingested_at":"2025-06-02T20:05:00Z","source":"alphavantage"}\n' \
		"$1" "$2" "$3" "${3%%T*}" "$4" "$5" "$6" "$7" "$8"
}

# screenshot SVG PNG WIDTH HEIGHT: headless Chromium's picture of the SVG.
# The window is taller than the picture: its frame takes some of its height.
screenshot() {
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--hide-scrollbars --force-device-scale-factor=1 \
		--user-data-dir="$BATS_TEST_TMPDIR/chromium" \
		--window-size="$3,$(($4 + 200))" --screenshot="$2" "file://$1" >/dev/null 2>&1
}

@test "--help prints the usage, which is the man page's SYNOPSIS" {
	run --separate-stderr tick-chart --help
	assert_success
	assert_output --partial "usage: tick-chart"
	assert_equal "$stderr" ""
	assert_help_matches_man tick-chart
}

@test "--version names the program and stocketl" {
	run tick-chart --version
	assert_success
	assert_output --regexp '^tick-chart \(stocketl\) [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "usage errors exit 64 with the message and the usage on stderr" {
	run --separate-stderr tick-chart --colour red
	assert_failure 64
	assert_output ""
	[[ $stderr == "tick-chart: unknown option '--colour'"$'\n'"usage: tick-chart"* ]]

	run --separate-stderr tick-chart --width 10 "$CHART/updown.ndjson"
	assert_failure 64
	assert_output ""
	[[ $stderr == "tick-chart: --width"*"usage: tick-chart"* ]]

	run --separate-stderr tick-chart --height lots "$CHART/updown.ndjson"
	assert_failure 64
	[[ $stderr == "tick-chart: --height"* ]]

	run --separate-stderr tick-chart --zone Mars/Olympus_Mons "$CHART/updown.ndjson"
	assert_failure 64
	[[ $stderr == "tick-chart: --zone: "*"Mars/Olympus_Mons"* ]]

	run --separate-stderr tick-chart --title "$(printf 'a\tb')" "$CHART/updown.ndjson"
	assert_failure 64
	[[ $stderr == "tick-chart: --title: "* ]]
}

@test "the chart is well-formed SVG with one candle and one volume bar per bar" {
	run --separate-stderr tick-chart "$CHART/updown.ndjson"
	assert_success
	assert_equal "$stderr" ""
	printf '%s\n' "$output" >c.svg
	xmllint --noout c.svg
	assert_equal "$(q c.svg 'name(/*)')" svg
	assert_equal "$(candles c.svg)" 6
	assert_equal "$(q c.svg "count(//*[@class='candles up']/*)")" 3
	assert_equal "$(q c.svg "count(//*[@class='candles down']/*)")" 3
	assert_equal "$(q c.svg "count(//*[@class='volume up' or @class='volume down']/*)")" 6
	assert_equal "$(q c.svg "string(//*[@class='panel']/@data-candle)")" "1 bar"
	# The title says what is drawn; the last close is labelled exactly.
	[[ $(q c.svg "string(//*[@class='title'])") == "IBM 5min · 2025-06-02 · America/New_York" ]]
	assert_equal "$(q c.svg "string(//*[@class='last-price'])")" 100
	# Each candle's tooltip holds its exact prices.
	[[ $(q c.svg "string(//*[@class='candles up']/*[2]/*)") == \
		"2025-06-02 09:35 O 102 H 104.5 L 101.5 C 104 V 1500" ]]
	# A bar whose prices disagree is drawn over all four: its wick from the least to the greatest.
	printf '%s\n' '{"symbol":"X","interval":"5min","trade_timestamp":"2024-03-08T15:00:00Z","open":100,"high":90,"low":110,"close":100,"volume":7}' \
		'{"symbol":"X","interval":"5min","trade_timestamp":"2024-03-08T15:05:00Z","open":100,"high":95,"low":80,"close":98,"volume":7}' |
		tick-chart >bad.svg
	run q bad.svg "string(//*[@class='candles up']/*[1]/*)"
	assert_output "2024-03-08 10:00 O 100 H 110 L 90 C 100 V 7"
	run q bad.svg "string(//*[@class='candles down']/*[1]/*)"
	assert_output "2024-03-08 10:05 O 100 H 100 L 80 C 98 V 7"
}

@test "the largest volume is written in at most six characters beside the volume area, up to the largest a long holds" {
	local v want
	for v in 999:999 1000:1.0K 99949:99.9K 99950:100K 999499:999K 999500:1.0M 999949:1.0M \
		1234567890:1.2B 999499999999999:999T 999500000000000:1.0e15 9223372036854775807:9.2e18; do
		want=${v#*:}
		bar X 1min 2025-06-02T14:00:00Z 1 1 1 1 "${v%%:*}" | tick-chart >c.svg
		assert_equal "$(q c.svg "string(//*[@class='volume-max'])")" "$want"
	done
}

@test "the same input gives the same bytes; the order of the records does not matter" {
	gen-ticks -s 2 -m 2000 >t.ndjson
	tick-chart t.ndjson >a.svg
	tick-chart t.ndjson >b.svg
	cmp a.svg b.svg
	tac t.ndjson | tick-chart >c.svg
	cmp a.svg c.svg
}

@test "price ticks are round steps of 1, 2, 2.5 or 5 times a power of ten, per panel" {
	{
		bar A 1d 2025-06-02T04:00:00Z 100 110 100 104 10
		bar A 1d 2025-06-03T04:00:00Z 104 109 101 105.1 10
		bar B 1d 2025-06-02T04:00:00Z 0.5 0.62 0.5 0.55 10
		bar B 1d 2025-06-03T04:00:00Z 0.55 0.6 0.52 0.571 10
		bar C 1d 2025-06-02T04:00:00Z 100 120 100 108.7 10
		bar D 1d 2025-06-02T04:00:00Z 1000 1400 1000 1250 10
		bar E 1d 2025-06-02T04:00:00Z 100 130 100 112.3 10
	} >ranges.ndjson
	run tick-chart -o r.svg ranges.ndjson
	assert_success
	assert_equal "$(texts r.svg price-axis A)" "100 102 104 106 108 110"
	assert_equal "$(texts r.svg price-axis B)" "0.50 0.52 0.54 0.56 0.58 0.60 0.62"
	assert_equal "$(texts r.svg price-axis C)" "100.0 102.5 105.0 107.5 110.0 112.5 115.0 117.5 120.0"
	assert_equal "$(texts r.svg price-axis D)" "1000 1050 1100 1150 1200 1300 1350 1400"
	assert_equal "$(texts r.svg price-axis E)" "100 105 110 115 120 125 130"
	# The last price keeps its exact digits, with at least the ticks' decimals.
	assert_equal "$(q r.svg "string(//*[@data-symbol='B']/*[@class='last-price'])")" 0.571
	assert_equal "$(q r.svg "string(//*[@data-symbol='C']/*[@class='last-price'])")" 108.7
	assert_equal "$(q r.svg "string(//*[@data-symbol='D']/*[@class='last-price'])")" 1250
}

@test "labels are New York time across the spring-forward change, and --zone changes them" {
	# 30-minute bars from 09:30 to 15:30 local time on Friday 2025-03-07 (EST,
	# UTC-5) and Monday 2025-03-10 (EDT, UTC-4).
	tick-chart "$CHART/dst.ndjson" >ny.svg
	assert_equal "$(texts ny.svg time-axis)" \
		"Mar 7 10:00 11:00 12:00 13:00 14:00 15:00 Mar 10 10:00 11:00 12:00 13:00 14:00 15:00"
	# The candles' tooltips: 09:30 to 15:30 on both days.
	q ny.svg "//*[@class='candles up' or @class='candles down']/*/*" |
		grep -o '[0-9-]* [0-9:]* O' | sed 's/ O$//' | sort >times.txt
	for d in 2025-03-07 2025-03-10; do
		for t in 09:30 10:00 10:30 11:00 11:30 12:00 12:30 13:00 13:30 14:00 14:30 15:00 15:30; do
			echo "$d $t"
		done
	done >expected.txt
	diff expected.txt times.txt
	# The weekend takes no room: the 26 bars are 26 evenly spaced candles,
	# and a day marker stands where Monday starts.
	assert_equal "$(candles ny.svg)" 26
	assert_equal "$(q ny.svg "count(//*[@class='day-start'])")" 1
	[[ $(q ny.svg "string(//*[@class='title'])") == *"2025-03-07 – 2025-03-10 · America/New_York" ]]

	tick-chart --zone UTC "$CHART/dst.ndjson" >utc.svg
	assert_equal "$(texts utc.svg time-axis)" \
		"Mar 7 15:00 16:00 17:00 18:00 19:00 20:00 Mar 10 14:00 15:00 16:00 17:00 18:00 19:00"
}

@test "time labels are round times: a turn without a bar on it is named at the first candle after it" {
	# 5-minute bars at :05 and :35 past each hour (and 08:05, 08:25, 08:50 at
	# first), New York time: no bar starts on an hour or a half hour.
	{
		for m in 05 25 50; do bar IBM 5min "2025-06-02T12:$m:00Z" 10 11 9 10 100; done
		for h in 13 14 15 16 17 18 19; do
			for m in 05 35; do bar IBM 5min "2025-06-02T$h:$m:00Z" 10 11 9 10 100; done
		done
	} >sparse.ndjson
	tick-chart sparse.ndjson >sparse.svg
	assert_equal "$(texts sparse.svg time-axis)" \
		"Jun 2 08:15 08:30 09:00 09:30 10:00 10:30 11:00 11:30 12:00 12:30 13:00 13:30 14:00 14:30 15:00 15:30"
}

@test "a chart that starts shortly before a day names that day at its dashed line, in the exchange's zone" {
	# The last three 5-minute bars of Monday evening in New York (19:45 to
	# 19:55 EDT, 23:45 to 23:55 UTC), then Tuesday's from 04:00 to 19:55.
	{
		for m in 45 50 55; do bar IBM 5min "2025-06-02T23:$m:00Z" 10 11 9 10 100; done
		for h in 08 09 10 11 12 13 14 15 16 17 18 19 20 21 22 23; do
			for m in 00 05 10 15 20 25 30 35 40 45 50 55; do
				bar IBM 5min "2025-06-03T$h:$m:00Z" 10 11 9 10 100
			done
		done
	} >evening.ndjson
	tick-chart evening.ndjson >evening.svg
	assert_equal "$(candles evening.svg)" 195
	assert_equal "$(q evening.svg "count(//*[@class='day-start'])")" 1
	# Tuesday's date stands at its line (a half candle right of it) rather
	# than crowded out by Monday's at the first candle, which the title dates.
	assert_equal "$(texts evening.svg time-axis)" \
		"Jun 3 05:00 06:00 07:00 08:00 09:00 10:00 11:00 12:00 13:00 14:00 15:00 16:00 17:00 18:00 19:00"
	line=$(q evening.svg "string(//*[@class='day-start']/@d)")
	line=${line#M}
	x=$(q evening.svg "string(//*[@class='time-axis']/*[1]/@x)")
	awk -v line="${line%% *}" -v x="$x" 'BEGIN { exit !(x > line && x - line < 5) }'
	[[ $(q evening.svg "string(//*[@class='title'])") == *"2025-06-02 – 2025-06-03 · America/New_York" ]]
}

@test "several symbols are stacked panels, each with its own scales" {
	gen-ticks -s 2 -m 780 >two.ndjson
	run tick-chart --title "NVDA & TSLA <1min>" -o two.svg two.ndjson
	assert_success
	xmllint --noout two.svg
	assert_equal "$(q two.svg "count(//*[@class='panel'])")" 2
	assert_equal "$(q two.svg "string(//*[@class='panel'][1]/@data-symbol)")" NVDA
	assert_equal "$(q two.svg "string(//*[@class='panel'][2]/@data-symbol)")" TSLA
	assert_equal "$(q two.svg 'string(/*/@height)')" $((34 + 2 * 400))
	assert_equal "$(q two.svg "string(//*[@class='chart-title'])")" "NVDA & TSLA <1min>"
	assert_equal "$(q two.svg "string(/*/*[local-name()='title'])")" "NVDA & TSLA <1min>"
	# A day of 1-minute bars each: 390 bars in 78 candles of 5 minutes.
	assert_equal "$(candles two.svg NVDA)" 78
	assert_equal "$(candles two.svg TSLA)" 78
	assert_equal "$(q two.svg "string(//*[@class='panel'][1]/@data-candle)")" "5 minutes"
	# NVDA trades near 125 and TSLA near 150 in the generated data.
	[[ $(texts two.svg price-axis NVDA) == 12* ]]
	[[ $(texts two.svg price-axis TSLA) == 1[45]* ]]
}

@test "a year of 1-minute bars is drawn as daily candles in a small file" {
	gen-ticks -s 1 -m 142350 >year.ndjson # 365 days of 390 bars
	run --separate-stderr tick-chart -v -o year.svg year.ndjson
	assert_success
	assert_equal "$stderr" "tick-chart: NVDA 1min: 142350 records, 365 candles of 1 day"
	xmllint --noout year.svg
	assert_equal "$(candles year.svg)" 365
	[ "$(stat -c %s year.svg)" -lt 200000 ]
	[[ $(texts year.svg time-axis) == "Jun 2025 Jul Aug Sep Oct Nov Dec 2026 Jan Feb"* ||
		$(texts year.svg time-axis) == "Jun 2025 Jul Aug Sep Oct Nov Dec 2026 Feb"* ]]

	# A narrower chart has room for fewer candles: weeks.
	run --separate-stderr tick-chart --width 600 -o narrow.svg year.ndjson
	assert_success
	n=$(candles narrow.svg)
	[ "$n" -le $(((600 - 100) / 3)) ]
	assert_equal "$(q narrow.svg "string(//*[@class='panel']/@data-candle)")" "1 week"
	assert_equal "$n" 53
}

@test "batch markers are ignored, and binary records draw the same chart as JSON" {
	gen-ticks -b 3 500 >marked.ndjson
	gen-ticks -b 3 -m 500 >plain.ndjson
	grep -q '"@batch"' marked.ndjson
	tick-chart marked.ndjson >marked.svg
	tick-chart plain.ndjson >plain.svg
	cmp marked.svg plain.svg

	# tick-validate with a check that every record passes converts to binary.
	printf 'checks for ticks:\n  - row_count > 0\n' >all.checks
	tick-validate -q --binary --checks all.checks marked.ndjson >marked.bin
	[ "$(head -c 4 marked.bin | od -An -tx1 | tr -d ' ')" = 8953544b ]
	tick-chart marked.bin >binary.svg
	cmp marked.svg binary.svg
}

@test "empty input is exit 65 with a clear message, and -o leaves an existing file alone" {
	run --separate-stderr tick-chart </dev/null
	assert_failure 65
	assert_output ""
	assert_equal "$stderr" "tick-chart: nothing to draw: no tick records in the input"

	echo '{"@batch":{"app":"a","id":1,"records":0,"rejected":0,"status":"ok"}}' >markers.ndjson
	echo old >out.svg
	run --separate-stderr tick-chart -o out.svg markers.ndjson
	assert_failure 65
	assert_equal "$stderr" "tick-chart: nothing to draw: no tick records in the input"
	assert_equal "$(cat out.svg)" old
	assert_equal "$(find . -maxdepth 1 -name '.out.svg.*' | wc -l)" 0
}

@test "unreadable records are reported and left out: exit 1 with a chart, 65 without one" {
	{
		echo 'not json'
		echo '{"symbol":"IBM","interval":"5min"}'
		cat "$CHART/updown.ndjson"
		echo '{"symbol":"IBM","interval":"7min","trade_timestamp":"2025-06-02T14:00:00Z"}'
	} >mixed.ndjson
	run --separate-stderr tick-chart mixed.ndjson
	assert_failure 1
	mapfile -t err <<<"$stderr"
	assert_equal "${#err[@]}" 3
	assert_equal "${err[0]}" "tick-chart: mixed.ndjson: record 1: unexpected character"
	assert_equal "${err[1]}" 'tick-chart: mixed.ndjson: record 2: field "trade_timestamp": null or missing'
	[[ ${err[2]} == 'tick-chart: mixed.ndjson: record 9: field "interval": '* ]]
	printf '%s\n' "$output" >mixed.svg
	assert_equal "$(candles mixed.svg)" 6

	printf 'garbage\n{"a":\n' >bad.ndjson
	run --separate-stderr tick-chart bad.ndjson
	assert_failure 65
	assert_output ""
	mapfile -t err <<<"$stderr"
	assert_equal "${#err[@]}" 3
	assert_equal "${err[2]}" "tick-chart: nothing to draw: none of the 2 records could be read"

	# -q: no messages, the same status.
	run --separate-stderr tick-chart -q -o quiet.svg mixed.ndjson
	assert_failure 1
	assert_equal "$stderr" ""
	cmp mixed.svg quiet.svg

	# More bad records than are worth showing: the first 20, then a count.
	for _ in $(seq 25); do echo nope; done >many.ndjson
	cat "$CHART/updown.ndjson" >>many.ndjson
	run --separate-stderr tick-chart -o many.svg many.ndjson
	assert_failure 1
	mapfile -t err <<<"$stderr"
	assert_equal "${#err[@]}" 21
	assert_equal "$(grep -c 'unexpected character' <<<"$stderr")" 20
	assert_equal "${err[20]}" "tick-chart: ... and 5 more"
}

@test "at most 64 panels are drawn; the records of further ones are reported, exit 1" {
	for i in $(seq 100 164); do
		bar "S$i" 5min 2025-06-02T13:30:00Z 10 11 9 10.5 100
	done >many.ndjson
	run --separate-stderr tick-chart -o many.svg many.ndjson
	assert_failure 1
	assert_equal "$stderr" "tick-chart: many.ndjson: record 65: S164 5min left out: more than 64 symbol and interval pairs"
	assert_equal "$(q many.svg "count(//*[@class='panel'])")" 64
	assert_equal "$(q many.svg "string(//*[@class='panel'][64]/@data-symbol)")" S163
}

@test "a truncated binary stream draws what came before it, exit 1" {
	printf 'checks for ticks:\n  - row_count > 0\n' >all.checks
	tick-validate -q --binary --checks all.checks "$CHART/updown.ndjson" >ud.bin
	head -c 500 ud.bin >cut.bin # the header and 4 frames of 104 bytes, and a piece
	run --separate-stderr tick-chart -o cut.svg cut.bin
	assert_failure 1
	assert_equal "$stderr" "tick-chart: cut.bin: record 5: truncated frame (68 of 104 bytes)"
	assert_equal "$(candles cut.svg)" 4
}

@test "an input that cannot be opened is exit 74; the others are still drawn" {
	run --separate-stderr tick-chart -o c.svg missing.ndjson "$CHART/updown.ndjson"
	assert_failure 74
	assert_equal "$stderr" "tick-chart: missing.ndjson: No such file or directory"
	assert_equal "$(candles c.svg)" 6
}

@test "a full disk is exit 74, for a small chart and a large one" {
	[ -w /dev/full ] || skip "no /dev/full"
	run --separate-stderr bash -c 'tick-chart "$1" >/dev/full' - "$CHART/updown.ndjson"
	assert_failure 74
	assert_equal "$stderr" "tick-chart: stdout: write error: No space left on device"
	gen-ticks -s 20 2000 >big.ndjson
	run --separate-stderr bash -c 'tick-chart --width 20000 "$1" >/dev/full' - big.ndjson
	assert_failure 74
	assert_equal "$stderr" "tick-chart: stdout: write error: No space left on device"
}

@test "-o writes into a named pipe and through a symbolic link, replacing neither" {
	mkfifo pipe
	timeout 20 cat pipe >from-pipe &
	run --separate-stderr tick-chart -o pipe "$CHART/updown.ndjson"
	wait
	assert_success
	assert_equal "$stderr" ""
	[ -p pipe ]
	tick-chart "$CHART/updown.ndjson" >want.svg
	cmp want.svg from-pipe
	echo old >real.svg
	ln -s real.svg link.svg
	ln -s pipe pipe-link
	timeout 20 cat pipe >from-link &
	run --separate-stderr tick-chart -o link.svg "$CHART/updown.ndjson"
	assert_success
	tick-chart -o pipe-link "$CHART/updown.ndjson"
	wait
	[ -L link.svg ] && [ "$(readlink link.svg)" = real.svg ]
	[ -L pipe-link ] && [ -p pipe ]
	cmp want.svg real.svg
	cmp want.svg from-link
	assert_equal "$(find . -maxdepth 1 -name '.*.svg.*' | wc -l)" 0
}

@test "a reader that goes away ends the output quietly, exit 0" {
	# A chart larger than a pipe holds, so that writing it meets the closed pipe.
	gen-ticks -s 20 2000 >big.ndjson
	tick-chart --width 20000 big.ndjson >big.svg
	[ "$(stat -c %s big.svg)" -gt 300000 ]
	run --separate-stderr bash -c 'set -o pipefail; tick-chart --width 20000 "$1" | head -c 100' - big.ndjson
	assert_success
	assert_equal "$stderr" ""
	assert_output "$(head -c 100 big.svg)"
}

@test "the picture: up candles are teal and down candles red, where the data puts them" {
	# Three bars up 100 -> 102 -> 104 -> 106, then three down to 100.
	tick-chart --width 600 --height 300 -o "$PWD/c.svg" "$CHART/updown.ndjson"
	screenshot "$PWD/c.svg" "$PWD/c.png" 600 300
	read -r w h < <(png-pixels.js c.png --size)
	[ "$w" -eq 600 ] && [ "$h" -ge 300 ]

	# Where the plot is: the frame gives x, the gridlines (100, 102, 104, 106,
	# lowest first) give y.
	x0=$(q c.svg "string(//*[@class='frame']/@x)")
	x0=${x0%.5}
	pw=$(q c.svg "string(//*[@class='frame']/@width)")
	pw=$((pw + 1))
	mapfile -t gy < <(q c.svg "string(//*[@class='grid']/@d)" | grep -o ' [0-9.]*H' | tr -d ' H')
	[ "${#gy[@]}" -eq 4 ]
	# (The last close, 100, is written in a box that takes its tick label's place.)
	assert_equal "$(texts c.svg price-axis)" "102 104 106"
	# y of the prices halfway between gridlines: 101, 103, 105.
	y101=$(awk -v a="${gy[0]}" -v b="${gy[1]}" 'BEGIN { print int((a + b) / 2) }')
	y103=$(awk -v a="${gy[1]}" -v b="${gy[2]}" 'BEGIN { print int((a + b) / 2) }')
	y105=$(awk -v a="${gy[2]}" -v b="${gy[3]}" 'BEGIN { print int((a + b) / 2) }')
	# Candle i is centred in the i-th sixth of the plot; look 3 px right of
	# its wick, inside its body.
	col() { awk -v x="$x0" -v w="$pw" -v i="$1" 'BEGIN { print int(x + (i + 0.5) * w / 6) + 3 }'; }
	run png-pixels.js c.png "$(col 0),$y101" "$(col 1),$y103" "$(col 2),$y105" \
		"$(col 3),$y105" "$(col 4),$y103" "$(col 5),$y101"
	assert_success
	assert_output "$(col 0),$y101 $UP
$(col 1),$y103 $UP
$(col 2),$y105 $UP
$(col 3),$y105 $DOWN
$(col 4),$y103 $DOWN
$(col 5),$y101 $DOWN"
	# Above the first and last candles, and between candles: the background.
	gap=$(awk -v x="$x0" -v w="$pw" 'BEGIN { print int(x + w / 6) }')
	run png-pixels.js c.png "$(col 0),$y105" "$(col 5),$y105" "$gap,$y103"
	assert_success
	assert_output "$(col 0),$y105 #ffffff
$(col 5),$y105 #ffffff
$gap,$y103 #ffffff"
}

#!/usr/bin/env node
// Write synthetic av-fetch envelopes to stdout for the benchmarks:
//   gen-envelopes.js BARS [BARS_PER_ENVELOPE] [ENVELOPES_PER_BATCH] [SYMBOLS] [AGAIN]
// Intraday 1min responses as Alpha Vantage sends them (newest first, prices
// as 4-decimal strings, extended hours from 04:00 ET on weekdays), one
// envelope per symbol and day, a batch marker after each group of
// envelopes (ENVELOPES_PER_BATCH 0: one batch for everything).  AGAIN
// (default 0): the last AGAIN envelopes are fetched again afterwards, in
// later batches, their newest bar revised (its close moved to its open),
// as the job's overlapping fetches store bars twice.
// Deterministic: the same arguments give the same bytes.
'use strict';
const total = Number(process.argv[2] || 1000000);
const per = Math.min(Number(process.argv[3] || 960), 960);
const perBatch = Number(process.argv[4] === undefined ? 8 : process.argv[4]);
const nsym = Number(process.argv[5] || 500);
const again = Number(process.argv[6] || 0);
const kept = [];

let seed = 12345;
function rand() {
	seed = (seed * 1103515245 + 12345) % 2147483648;
	return seed / 2147483648;
}
function price(x) {
	return x.toFixed(4);
}
function pad(n) {
	return String(n).padStart(2, '0');
}

const out = [];
let outLen = 0;
function write(s) {
	out.push(s);
	outLen += s.length;
	if (outLen > 1 << 20) {
		process.stdout.write(out.join(''));
		out.length = 0;
		outLen = 0;
	}
}

function envelope(sym, batchId, meta, bars) {
	return '{"source":"alphavantage","function":"TIME_SERIES_INTRADAY","symbol":"' + sym +
		'","interval":"1min","params":{"month":null,"outputsize":"full","adjusted":true,' +
		'"extended_hours":true,"entitlement":null,"datatype":"json"},"fetched_at":"2025-06-17T15:25:03.123456Z",' +
		'"http_status":200,"batch_id":' + batchId + ',"body":{"Meta Data":' + meta +
		',"Time Series (1min)":{' + bars.join(',') + '}}}\n';
}
function marker(batchId, n) {
	write('{"@batch":{"app":"bench/intraday/1min","id":' + batchId + ',"records":' + n +
		',"rejected":0,"status":"ok"}}\n');
}

let made = 0;
let env = 0;
let batch = 0;
const day0 = Date.UTC(2025, 5, 2); // a Monday
while (made < total) {
	const n = Math.min(per, total - made);
	const sym = 'S' + String(env % nsym).padStart(3, '0');
	// Each envelope covers n minutes of one weekday from 04:00 local.
	const tradingDay = Math.floor(env / nsym);
	const day = new Date(day0 + (Math.floor(tradingDay / 5) * 7 + tradingDay % 5) * 86400000);
	const ymd = day.getUTCFullYear() + '-' + pad(day.getUTCMonth() + 1) + '-' + pad(day.getUTCDate());
	let p = 100 + rand() * 100;
	const bars = [];
	for (let i = 0; i < n; i++) {
		const m = 240 + i;
		const ts = ymd + ' ' + pad(Math.floor(m / 60) % 24) + ':' + pad(m % 60) + ':00';
		const o = p;
		const c = p * (1 + (rand() - 0.5) * 0.002);
		const h = Math.max(o, c) * (1 + rand() * 0.001);
		const l = Math.min(o, c) * (1 - rand() * 0.001);
		p = c;
		bars.push('"' + ts + '":{"1. open":"' + price(o) + '","2. high":"' + price(h) +
			'","3. low":"' + price(l) + '","4. close":"' + price(c) + '","5. volume":"' +
			Math.floor(rand() * 100000) + '"}');
	}
	bars.reverse();
	const batchId = 1748851200000000 + batch * 60000000;
	const meta = '{"1. Information":"Intraday (1min) open, high, low, close prices and volume",' +
		'"2. Symbol":"' + sym + '","3. Last Refreshed":"' + bars[0].slice(1, 20) + '",' +
		'"4. Interval":"1min","5. Output Size":"Full size","6. Time Zone":"US/Eastern"}';
	write(envelope(sym, batchId, meta, bars));
	if (again > 0) {
		kept.push([sym, meta, bars]);
		if (kept.length > again)
			kept.shift();
	}
	made += n;
	env++;
	if ((perBatch > 0 && env % perBatch === 0) || made >= total) {
		const n = perBatch > 0 ? env % perBatch || perBatch : env;
		marker(batchId, n);
		if (perBatch > 0)
			batch++;
	}
}
// The refetch: the same bars, the newest one's close moved to its open
// (still within its high and low).
batch++;
for (let i = 0; i < kept.length; i++) {
	const [sym, meta, bars] = kept[i];
	const batchId = 1748851200000000 + batch * 60000000;
	const open = /"1\. open":"([0-9.]+)"/.exec(bars[0])[1];
	bars[0] = bars[0].replace(/"4\. close":"[0-9.]+"/, '"4. close":"' + open + '"');
	write(envelope(sym, batchId, meta, bars));
	if ((perBatch > 0 && (i + 1) % perBatch === 0) || i + 1 === kept.length) {
		marker(batchId, perBatch > 0 ? (i + 1) % perBatch || perBatch : i + 1);
		batch++;
	}
}
process.stdout.write(out.join(''));

#!/usr/bin/env node
// Makes the recorded Alpha Vantage answers that the offline demo serves
// (recordings/) and the rules that pick them (rules.json), deterministically:
// the same bytes on every run and every machine, so the committed files are
// exactly what this script writes and a test can check it.
//
//   node demo/gen-recordings.js [DIR]      (default: the folder of this file)
//
// The market: NVDA, TSLA, IBM and AAPL over four trading days around the
// 2024 US daylight-saving change (Fri 2024-03-08, then Mon 11, Tue 12 and
// Wed 13 March, clocks going forward on Sunday the 10th), in 5-minute bars
// of the extended session (04:00 to 20:00 US/Eastern).  Each day's open and
// close are near the stock's real ones; between them the price is a seeded
// random walk pinned to those levels (a Brownian bridge), minute by minute,
// and the 5-minute bars are made from the minutes, so that an answer taken
// in the middle of a bar holds that bar as it was then.  Volume follows the
// usual shape of a day: thin before the open, heavy at the open, the close
// and the closing cross, thin after.  IBM, a thinner name, does not trade
// every minute outside regular hours, so some of its bars are missing, as
// in the API's answers.
//
// The answers, each in JSON and in CSV:
//   - the month 2024-03 (outputsize full), taken on 2024-03-13 at 10:32 ET:
//     every bar from 2024-03-08 04:00 to 2024-03-13 10:30, the last one
//     still forming (two of its five minutes);
//   - the latest 100 bars (compact), taken at 12:02 the same day: they
//     overlap the month and hold the 10:30 bar complete, so its close, high
//     and volume differ from the month's;
//   - AAPL's 2024-03-11 10:15 bar in the month answer has its high and low
//     exchanged (a bad print): high below its open and close;
//   - TSLA's first latest request is answered with a per-minute throttle
//     note, and the next one with data.
// The month answers hold only the days from 2024-03-08 (the real API would
// also give 1 to 7 March), to keep the files small.
//
// Everything is arithmetic on integers and doubles (no Math.exp, log or
// trigonometry, whose last bits may differ between engines), prices are
// kept in ten-thousandths as integers, and files are written with "\n"
// (JSON, pretty-printed with 4 spaces as the API does, no final line end)
// or "\r\n" (CSV) whatever the platform.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const OUT = path.resolve(process.argv[2] || __dirname);
const INTERVAL = '5min';
const BAR_MIN = 5;
const MONTH = '2024-03';
const BACKFILL_AT = { date: '2024-03-13', minute: 10 * 60 + 32 };
const LATEST_AT = { date: '2024-03-13', minute: 12 * 60 + 2 };
const COMPACT_BARS = 100;
const SESSION_START = 4 * 60; // 04:00
const SESSION_MIN = 16 * 60; // to 20:00
const OPEN_MIN = 9 * 60 + 30 - SESSION_START; // minute index of 09:30
const CLOSE_MIN = 16 * 60 - SESSION_START; // minute index of 16:00
const BAD_BAR = { symbol: 'AAPL', date: '2024-03-11', time: '10:15:00' };
const REVISED_TIME = '10:30:00';
const THROTTLED = 'TSLA';
const SEED = 20240317;

// Each day: the regular session's open and close, the day's volume, and
// marks (a time and a price the walk passes through) where the real day
// had a notable high or low.  prev is the close of Thursday 2024-03-07.
// vol is the standard deviation of one regular-hours minute, relative to
// the price.
const SYMBOLS = [
	{ symbol: 'NVDA', prev: 926.69, vol: 0.0016, thin: false, days: [
		{ date: '2024-03-08', open: 951.38, close: 875.28, volume: 113.3e6,
			marks: [['10:05', 973.10], ['14:35', 866.20]] },
		{ date: '2024-03-11', open: 864.29, close: 857.74, volume: 67.8e6,
			marks: [['10:20', 842.40], ['13:45', 884.60]] },
		{ date: '2024-03-12', open: 880.49, close: 919.13, volume: 66.8e6,
			marks: [['09:55', 862.30]] },
		{ date: '2024-03-13', open: 910.55, close: 908.88, volume: 63.6e6,
			marks: [['11:10', 885.10]] },
	] },
	{ symbol: 'TSLA', prev: 178.65, vol: 0.0014, thin: false, days: [
		{ date: '2024-03-08', open: 181.50, close: 175.34, volume: 85.3e6,
			marks: [['09:50', 182.60]] },
		{ date: '2024-03-11', open: 175.45, close: 177.77, volume: 85.4e6,
			marks: [['12:30', 182.70]] },
		{ date: '2024-03-12', open: 177.77, close: 177.54, volume: 87.4e6,
			marks: [['11:20', 172.60]] },
		{ date: '2024-03-13', open: 173.05, close: 169.48, volume: 106.5e6,
			marks: [['10:10', 175.90]] },
	] },
	{ symbol: 'IBM', prev: 198.74, vol: 0.0008, thin: true, days: [
		{ date: '2024-03-08', open: 197.43, close: 195.95, volume: 3.0e6, marks: [] },
		{ date: '2024-03-11', open: 195.09, close: 191.73, volume: 4.7e6, marks: [] },
		{ date: '2024-03-12', open: 192.46, close: 197.78, volume: 5.9e6, marks: [] },
		{ date: '2024-03-13', open: 197.55, close: 196.70, volume: 3.9e6, marks: [] },
	] },
	{ symbol: 'AAPL', prev: 169.00, vol: 0.0009, thin: false, days: [
		{ date: '2024-03-08', open: 169.00, close: 170.73, volume: 76.1e6,
			marks: [['10:40', 173.60]] },
		{ date: '2024-03-11', open: 172.94, close: 172.75, volume: 60.1e6, marks: [] },
		{ date: '2024-03-12', open: 173.15, close: 173.23, volume: 59.8e6,
			marks: [['10:25', 171.10]] },
		{ date: '2024-03-13', open: 172.77, close: 171.13, volume: 52.5e6, marks: [] },
	] },
];

// mulberry32: a small 32-bit generator, exact in integer arithmetic.
function rng(seed) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6D2B79F5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

// A standard normal variate, near enough: the sum of twelve uniforms.
function normal(u) {
	let s = -6;
	for (let i = 0; i < 12; i++)
		s += u();
	return s;
}

function seedOf(symbol) {
	let h = SEED;
	for (const ch of symbol)
		h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
	return h;
}

function minuteOf(hhmm) {
	const [h, m] = hhmm.split(':').map(Number);
	return h * 60 + m - SESSION_START;
}

function pad(n, w) {
	return String(n).padStart(w, '0');
}

// A price in ten-thousandths: whole cents, or now and then a sub-penny print.
function tick(price, u) {
	return u() < 0.06 ? Math.round(price * 10000) : Math.round(price * 100) * 100;
}

function priceText(t) {
	return `${Math.floor(t / 10000)}.${pad(t % 10000, 4)}`;
}

// The minute closes of one day, pinned to the anchors (minute index, price)
// by a Brownian bridge between each two; sigma(i) is minute i's step.
function walk(anchors, sigma, u) {
	const p = new Array(SESSION_MIN);
	for (let k = 0; k + 1 < anchors.length; k++) {
		const [a, va] = anchors[k];
		const [b, vb] = anchors[k + 1];
		const w = [0];
		for (let i = a + 1; i <= b; i++)
			w.push(w[w.length - 1] + sigma(i) * normal(u));
		const wb = w[b - a];
		for (let i = a; i <= b; i++) {
			const f = (i - a) / (b - a);
			p[i] = va + (vb - va) * f + w[i - a] - f * wb;
		}
	}
	return p;
}

// The relative volume of minute i: a U over the regular session, a small
// trickle before and after, and the closing cross printed at 16:00.
function volumeShape(i) {
	if (i < OPEN_MIN)
		return 0.02 + 0.10 * (i / OPEN_MIN) * (i / OPEN_MIN);
	if (i < CLOSE_MIN) {
		const t = i - OPEN_MIN;
		return 1 + 3.0 / (1 + t / 6) + 2.0 / (1 + (CLOSE_MIN - 1 - i) / 6);
	}
	if (i === CLOSE_MIN)
		return 40;
	return 0.015 + 0.12 / (1 + (i - CLOSE_MIN) / 10);
}

// One symbol's minutes, day by day: {date, i, open, high, low, close,
// volume} in ten-thousandths and shares, only for minutes with trades.
function minutesOf(spec) {
	const u = rng(seedOf(spec.symbol));
	const out = [];
	let last = spec.prev * (1 + 0.002 * normal(u));
	for (const day of spec.days) {
		const anchors = [[0, last], [OPEN_MIN - 1, day.open]];
		for (const [hhmm, price] of day.marks)
			anchors.push([minuteOf(hhmm), price]);
		anchors.push([CLOSE_MIN - 1, day.close]);
		anchors.push([SESSION_MIN - 1, day.close * (1 + 0.004 * normal(u))]);
		anchors.sort((x, y) => x[0] - y[0]);
		const rth = i => i >= OPEN_MIN && i < CLOSE_MIN;
		const sigma = i => day.open * spec.vol *
			(rth(i) ? (i < OPEN_MIN + 30 ? 1.6 : 1) : 0.35);
		const p = walk(anchors, sigma, u);
		let shapeSum = 0;
		for (let i = 0; i < SESSION_MIN; i++)
			shapeSum += volumeShape(i);
		let prevClose = tick(last, u);
		for (let i = 0; i < SESSION_MIN; i++) {
			// A thin name trades in some minutes only outside regular hours
			// (its closing cross always prints).
			const trades = !spec.thin || rth(i) || i === CLOSE_MIN ||
				u() < (i < OPEN_MIN ? 0.10 : 0.08);
			let close = tick(p[i], u);
			const volUnit = day.volume * volumeShape(i) / shapeSum;
			let volume = Math.max(1, Math.round(volUnit * (0.35 + 1.3 * u())));
			if (spec.thin && !rth(i) && i !== CLOSE_MIN)
				volume = u() < 0.3 ? 1 + Math.floor(u() * 20) : 100 + Math.floor(u() * 900);
			if (!trades) {
				prevClose = close;
				continue;
			}
			const open = i === OPEN_MIN ? tick(day.open, u) : prevClose;
			const wick = () => Math.round(Math.abs(normal(u)) * sigma(i) * 0.6 * 100) * 100;
			let high = Math.max(open, close) + wick();
			let low = Math.min(open, close) - wick();
			// A small print outside regular hours is a single trade.
			if (spec.thin && volume < 100)
				high = low = close = open;
			out.push({ date: day.date, i, open, high, low, close, volume });
			prevClose = close;
		}
		last = p[SESSION_MIN - 1];
	}
	return out;
}

function label(date, i) {
	const m = SESSION_START + i;
	return `${date} ${pad(Math.floor(m / 60), 2)}:${pad(m % 60, 2)}:00`;
}

// The 5-minute bars as an answer taken at moment `at` gives them: only the
// minutes before it, so the bar of that moment is still forming.
function barsAt(minutes, at) {
	const bars = new Map();
	for (const m of minutes) {
		if (m.date > at.date || (m.date === at.date && SESSION_START + m.i >= at.minute))
			continue;
		const key = label(m.date, m.i - (m.i % BAR_MIN));
		const b = bars.get(key);
		if (b === undefined) {
			bars.set(key, { t: key, open: m.open, high: m.high, low: m.low,
				close: m.close, volume: m.volume });
		} else {
			b.high = Math.max(b.high, m.high);
			b.low = Math.min(b.low, m.low);
			b.close = m.close;
			b.volume += m.volume;
		}
	}
	return [...bars.values()].sort((x, y) => (x.t < y.t ? 1 : x.t > y.t ? -1 : 0));
}

function jsonAnswer(symbol, bars, outputSize) {
	const series = {};
	for (const b of bars) {
		series[b.t] = {
			'1. open': priceText(b.open),
			'2. high': priceText(b.high),
			'3. low': priceText(b.low),
			'4. close': priceText(b.close),
			'5. volume': String(b.volume),
		};
	}
	return JSON.stringify({
		'Meta Data': {
			'1. Information': `Intraday (${INTERVAL}) open, high, low, close prices and volume`,
			'2. Symbol': symbol,
			'3. Last Refreshed': bars[0].t,
			'4. Interval': INTERVAL,
			'5. Output Size': outputSize,
			'6. Time Zone': 'US/Eastern',
		},
		[`Time Series (${INTERVAL})`]: series,
	}, null, 4);
}

function csvAnswer(bars) {
	const lines = ['timestamp,open,high,low,close,volume'];
	for (const b of bars)
		lines.push([b.t, priceText(b.open), priceText(b.high), priceText(b.low),
			priceText(b.close), b.volume].join(','));
	return lines.join('\r\n') + '\r\n';
}

function check(cond, msg) {
	if (!cond)
		throw new Error(`gen-recordings: ${msg}`);
}

// Every bar but the bad one is one that tick-validate's rules pass.
function checkBars(symbol, bars) {
	for (const b of bars) {
		const bad = symbol === BAD_BAR.symbol && b.t === `${BAD_BAR.date} ${BAD_BAR.time}`;
		check(bad || (b.high >= Math.max(b.open, b.close) && b.low <= Math.min(b.open, b.close) &&
			b.low > 0 && b.volume > 0), `${symbol} ${b.t}: not a valid bar`);
	}
}

const THROTTLE_NOTE = {
	Note: 'Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per ' +
		'minute and 500 calls per day. Please visit https://www.alphavantage.co/premium/ if ' +
		'you would like to target a higher API call frequency.',
};

function main() {
	const dir = path.join(OUT, 'recordings');
	fs.mkdirSync(dir, { recursive: true });
	const write = (name, text) => fs.writeFileSync(path.join(dir, name), text);
	const rules = [];
	for (const spec of SYMBOLS) {
		const s = spec.symbol;
		const minutes = minutesOf(spec);
		const month = barsAt(minutes, BACKFILL_AT);
		const latest = barsAt(minutes, LATEST_AT).slice(0, COMPACT_BARS);
		if (s === BAD_BAR.symbol) {
			const b = month.find(x => x.t === `${BAD_BAR.date} ${BAD_BAR.time}`);
			check(b !== undefined && b.high > b.low, 'the bad bar is missing or flat');
			[b.high, b.low] = [b.low, b.high];
		}
		checkBars(s, month);
		checkBars(s, latest);
		const forming = month[0];
		const revised = latest.find(x => x.t === forming.t);
		check(forming.t === `${BACKFILL_AT.date} ${REVISED_TIME}`, `${s}: month ends at ${forming.t}`);
		check(revised !== undefined && latest[latest.length - 1].t < forming.t,
			`${s}: the latest answer does not overlap the month`);
		check(revised.close !== forming.close && revised.high !== forming.high &&
			revised.volume > forming.volume, `${s}: the revised bar's close, high or volume is unchanged`);
		const monthName = `intraday_${s}_${INTERVAL}_month_${MONTH}`;
		const latestName = `intraday_${s}_${INTERVAL}_compact`;
		write(`${monthName}.json`, jsonAnswer(s, month, 'Full size'));
		write(`${monthName}.csv`, csvAnswer(month));
		write(`${latestName}.json`, jsonAnswer(s, latest, 'Compact'));
		write(`${latestName}.csv`, csvAnswer(latest));
		// What the recordings are: adjusted, extended-hours 5-minute bars.
		// A parameter left out takes the API's default, which is that.
		const match = (m, size, datatype) => ({ function: 'TIME_SERIES_INTRADAY', symbol: s,
			interval: INTERVAL, month: m, outputsize: size, datatype,
			adjusted: [null, 'true'], extended_hours: [null, 'true'] });
		const full = [null, 'full'];
		const compact = [null, 'compact'];
		const json = [null, 'json'];
		rules.push({ match: match(MONTH, full, json), responses: [{ file: `${monthName}.json` }] });
		rules.push({ match: match(MONTH, full, 'csv'), responses: [{ file: `${monthName}.csv` }] });
		rules.push({ match: match(null, compact, json),
			responses: s === THROTTLED ? [{ file: 'throttle_note_per_minute.json' },
				{ file: `${latestName}.json` }] : [{ file: `${latestName}.json` }] });
		rules.push({ match: match(null, compact, 'csv'), responses: [{ file: `${latestName}.csv` }] });
	}
	write('throttle_note_per_minute.json', JSON.stringify(THROTTLE_NOTE, null, 4));
	fs.writeFileSync(path.join(OUT, 'rules.json'),
		'[\n' + rules.map(r => JSON.stringify(r)).join(',\n') + '\n]\n');
}

main();

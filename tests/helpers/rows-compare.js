#!/usr/bin/env node
// Compare rows printed as NDJSON (by delta-cat) with the rows of Parquet
// files read by DuckDB, an independent reader, ignoring row order.
//
//   node rows-compare.js EXPECTED_DIR ACTUAL.ndjson [EXPECTED_DIR ACTUAL.ndjson ...]
//
// EXPECTED_DIR holds the expected rows as *.parquet files.  Both sides are
// brought to one canonical text per value, driven by DuckDB's column types:
// integers and decimals as exact digits (the NDJSON side is parsed without
// going through doubles), floats at float precision, dates as day numbers,
// timestamps as epoch microseconds, binary as base64, maps as sorted
// key/value pairs.  Prints "ok ACTUAL: N rows" per pair, or the rows that
// differ; exits 1 when any pair differs.
'use strict';

const fs = require('fs');
const path = require('path');
const duckdb = require(path.join(__dirname, '..', 'node_modules', '@duckdb', 'node-api'));

const T = duckdb.DuckDBTypeId;

// JSON.parse, but with every number kept as its text (a string).
function parseKeepingNumbers(line) {
	let out = '';
	let inString = false;
	for (let i = 0; i < line.length; i++) {
		const c = line[i];
		if (inString) {
			out += c;
			if (c === '\\') {
				out += line[++i];
			} else if (c === '"') {
				inString = false;
			}
		} else if (c === '"') {
			inString = true;
			out += c;
		} else if (c === '-' || (c >= '0' && c <= '9')) {
			let j = i;
			while (j < line.length && /[-+0-9.eE]/.test(line[j])) j++;
			out += JSON.stringify(line.slice(i, j));
			i = j - 1;
		} else {
			out += c;
		}
	}
	return JSON.parse(out);
}

// Exact decimal text without a trailing fraction of zeros: "12.500" -> "12.5".
function canonDecimal(text) {
	let s = String(text);
	let neg = false;
	if (s[0] === '-' || s[0] === '+') {
		neg = s[0] === '-';
		s = s.slice(1);
	}
	let exp = 0;
	const e = s.search(/[eE]/);
	if (e >= 0) {
		exp = parseInt(s.slice(e + 1), 10);
		s = s.slice(0, e);
	}
	let [ip, fp = ''] = s.split('.');
	let digits = ip + fp;
	let scale = fp.length - exp;
	if (scale < 0) {
		digits += '0'.repeat(-scale);
		scale = 0;
	}
	digits = digits.padStart(scale + 1, '0');
	ip = digits.slice(0, digits.length - scale).replace(/^0+(?=\d)/, '');
	fp = digits.slice(digits.length - scale).replace(/0+$/, '');
	const body = fp ? `${ip}.${fp}` : ip;
	return neg && /[1-9]/.test(body) ? `-${body}` : body;
}

function canonFloat(v, isFloat) {
	const n = typeof v === 'number' ? v : Number(v);
	const x = isFloat ? Math.fround(n) : n;
	return Number.isNaN(x) ? 'NaN' : String(x);
}

function micros(text) {
	const m = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)?$/.exec(text);
	if (!m) return `bad timestamp ${text}`;
	let us = BigInt(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) * 1000n;
	us += BigInt((m[7] || '').padEnd(6, '0').slice(0, 6));
	if (m[8] && m[8] !== 'Z') {
		const sign = m[8][0] === '-' ? -1n : 1n;
		us -= sign * BigInt(+m[8].slice(1, 3) * 3600 + +m[8].slice(4, 6) * 60) * 1000000n;
	}
	return us.toString();
}

// A value read by DuckDB, of type t, to canonical form.
function fromDuck(t, v) {
	if (v === null || v === undefined) return null;
	switch (t.typeId) {
	case T.BOOLEAN:
		return v;
	case T.FLOAT:
	case T.DOUBLE:
		return canonFloat(v, t.typeId === T.FLOAT);
	case T.DECIMAL: {
		const neg = v.value < 0n;
		const s = (neg ? -v.value : v.value).toString().padStart(v.scale + 1, '0');
		const text = v.scale ? `${s.slice(0, s.length - v.scale)}.${s.slice(s.length - v.scale)}` : s;
		return canonDecimal((neg ? '-' : '') + text);
	}
	case T.VARCHAR:
		return v;
	case T.BLOB:
		return Buffer.from(v.bytes).toString('base64');
	case T.DATE:
		return String(v.days);
	case T.TIMESTAMP:
	case T.TIMESTAMP_TZ:
		return v.micros.toString();
	case T.TIMESTAMP_MS:
		return (v.millis * 1000n).toString();
	case T.TIMESTAMP_NS:
		return (v.nanos / 1000n).toString();
	case T.STRUCT:
		return Object.fromEntries(t.entryNames.map((n, i) => [n, fromDuck(t.entryTypes[i], v.entries[n])]));
	case T.LIST:
	case T.ARRAY:
		return v.items.map((x) => fromDuck(t.valueType, x));
	case T.MAP:
		return v.entries
			.map((kv) => [fromDuck(t.keyType, kv.key), fromDuck(t.valueType, kv.value)])
			.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
	default:
		return typeof v === 'bigint' || typeof v === 'number' ? BigInt(v).toString() : String(v);
	}
}

// A value from the NDJSON side (numbers as text), of DuckDB type t, to canonical form.
function fromJson(t, v) {
	if (v === null || v === undefined) return null;
	switch (t.typeId) {
	case T.BOOLEAN:
	case T.VARCHAR:
	case T.BLOB:
		return v;
	case T.FLOAT:
	case T.DOUBLE:
		return canonFloat(v, t.typeId === T.FLOAT);
	case T.DECIMAL:
		return canonDecimal(v);
	case T.DATE:
		return String(Date.parse(`${v}T00:00:00Z`) / 86400000);
	case T.TIMESTAMP:
	case T.TIMESTAMP_TZ:
	case T.TIMESTAMP_MS:
	case T.TIMESTAMP_NS:
		return micros(v);
	case T.STRUCT:
		return Object.fromEntries(t.entryNames.map((n, i) => [n, fromJson(t.entryTypes[i], v[n])]));
	case T.LIST:
	case T.ARRAY:
		return v.map((x) => fromJson(t.valueType, x));
	case T.MAP: {
		const pairs = Array.isArray(v) ? v.map((kv) => [kv.key, kv.value]) : Object.entries(v);
		return pairs
			.map(([k, x]) => [fromJson(t.keyType, k), fromJson(t.valueType, x)])
			.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
	}
	default:
		return BigInt(v).toString();
	}
}

// Rows present in a but not in b (as multisets).
function minus(a, b) {
	const count = new Map();
	for (const r of b) count.set(r, (count.get(r) || 0) + 1);
	const out = [];
	for (const r of a) {
		const n = count.get(r) || 0;
		if (n) count.set(r, n - 1);
		else out.push(r);
	}
	return out;
}

async function compare(conn, dir, actualFile) {
	const glob = path.join(dir, '*.parquet').replace(/'/g, "''");
	const res = await conn.runAndReadAll(`SELECT * FROM read_parquet('${glob}')`);
	const names = res.columnNames();
	const types = res.columnTypes();
	const expected = res.getRowObjects().map((row) =>
		JSON.stringify(names.map((n, i) => fromDuck(types[i], row[n]))));
	const lines = fs.readFileSync(actualFile, 'utf8').split('\n').filter((l) => l !== '');
	const problems = [];
	const actual = lines.map((line, k) => {
		const obj = parseKeepingNumbers(line);
		const keys = Object.keys(obj);
		if (keys.length !== names.length || !names.every((n) => n in obj)) {
			problems.push(`line ${k + 1}: columns ${keys.join(',')}, expected ${names.join(',')}`);
		}
		return JSON.stringify(names.map((n, i) => fromJson(types[i], obj[n])));
	});
	const missing = minus(expected, actual);
	const extra = minus(actual, expected);
	for (const r of missing.slice(0, 10)) problems.push(`- ${r}`);
	for (const r of extra.slice(0, 10)) problems.push(`+ ${r}`);
	if (problems.length) {
		console.log(`not ok ${actualFile}: ${expected.length} rows expected, ${actual.length} read`);
		for (const p of problems) console.log(`  ${p}`);
		return false;
	}
	console.log(`ok ${actualFile}: ${actual.length} rows`);
	return true;
}

async function main() {
	const args = process.argv.slice(2);
	if (args.length === 0 || args.length % 2) {
		console.error('usage: rows-compare.js EXPECTED_DIR ACTUAL.ndjson [...]');
		process.exit(64);
	}
	const inst = await duckdb.DuckDBInstance.create(':memory:');
	const conn = await inst.connect();
	let ok = true;
	for (let i = 0; i < args.length; i += 2) {
		ok = (await compare(conn, args[i], args[i + 1])) && ok;
	}
	process.exit(ok ? 0 : 1);
}

main().catch((err) => {
	console.error(`rows-compare: ${err.message}`);
	process.exit(70);
});

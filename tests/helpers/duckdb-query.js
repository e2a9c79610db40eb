#!/usr/bin/env node
// duckdb-query.js: run SQL in DuckDB (in memory) and print the rows of the
// last statement as JSON lines, in stocketl's JSON conventions, so that
// suites can compare DuckDB's reading of a file with stocketl's output.
//
//   duckdb-query.js [--decimal-shortest] [--decimal-strings] [--each] [--file SQLFILE] [SQL ...]
//
// Each SQL argument is one statement, run in order; the rows of the last
// are printed, or with --each the rows of every statement, each statement's
// followed by the control line {"@end":N} (N counting from 1).  Values:
//   decimals      JSON numbers with their exact text at the column scale
//                 (160.070000); with --decimal-shortest, the shortest exact
//                 text (160.07), as stocketl's programs print them; with
//                 --decimal-strings, JSON strings
//   BIGINT etc.   JSON numbers with their exact digits
//   timestamps    "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" in UTC (microseconds when
//                 not zero; TIMESTAMP without time zone is printed the same)
//   dates         "YYYY-MM-DD"
//   BLOB          base64 strings
//   DOUBLE/FLOAT  the shortest text that reads back to the same value, in
//                 JavaScript's number form (1e+21, 0.000001, 1e-7); NaN and
//                 infinities as "NaN", "Infinity", "-Infinity"
//   LIST, STRUCT  arrays, objects; MAP: objects with the keys as text
// Exit status 0, or 65 with the DuckDB error on stderr.
'use strict';
const fs = require('fs');
const duckdb = require('@duckdb/node-api');

function pad(n, w) {
	let s = String(n);
	while (s.length < w) s = '0' + s;
	return s;
}

// Days since 1970-01-01 to a proleptic Gregorian date (as common/text/ts.c does).
function civil(days) {
	const z = days + 719468;
	const era = Math.floor(z / 146097);
	const doe = z - era * 146097;
	const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) -
		Math.floor(doe / 146096)) / 365);
	const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
	const mp = Math.floor((5 * doy + 2) / 153);
	const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
	const m = mp < 10 ? mp + 3 : mp - 9;
	const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
	return [y, m, d];
}

function dateText(days) {
	const [y, m, d] = civil(days);
	const ys = y < 0 ? '-' + pad(-y, 4) : pad(y, 4);
	return `${ys}-${pad(m, 2)}-${pad(d, 2)}`;
}

function timestampText(micros) {
	const day = 86400000000n;
	let days = micros / day;
	if (micros % day < 0n) days -= 1n;
	const rem = micros - days * day;
	const secs = Number(rem / 1000000n);
	const frac = Number(rem % 1000000n);
	let s = `${dateText(Number(days))}T${pad(Math.floor(secs / 3600), 2)}:` +
		`${pad(Math.floor(secs / 60) % 60, 2)}:${pad(secs % 60, 2)}`;
	if (frac) s += '.' + pad(frac, 6);
	return s + 'Z';
}

// The shortest text that reads back as v (as a float32 when single), in
// JavaScript's number form; NaN, the infinities and -0 spelled out.
function floatText(v, single) {
	if (Number.isNaN(v)) return '"NaN"';
	if (v === Infinity) return '"Infinity"';
	if (v === -Infinity) return '"-Infinity"';
	if (Object.is(v, -0)) return '-0';
	if (!single) return String(v);
	for (let p = 1; p <= 9; p++) {
		const s = Number(v.toPrecision(p));
		if (Math.fround(s) === v) return String(s);
	}
	return String(v);
}

function decimalText(dv) {
	const neg = dv.value < 0n;
	let digits = (neg ? -dv.value : dv.value).toString();
	if (dv.scale > 0) {
		while (digits.length <= dv.scale) digits = '0' + digits;
		digits = digits.slice(0, digits.length - dv.scale) + '.' + digits.slice(digits.length - dv.scale);
	}
	if (decimalShortest && digits.includes('.'))
		digits = digits.replace(/\.?0+$/, '');
	return (neg && digits !== '0' ? '-' : '') + digits;
}

let decimalStrings = false;
let decimalShortest = false;

function print(reader, out) {
	const names = reader.columnNames();
	const types = reader.columnTypes();
	for (const row of reader.getRows()) {
		out.push('{' + row.map((v, i) => JSON.stringify(names[i]) + ':' + valueText(v, types[i])).join(',') + '}\n');
		if (out.length >= 4096) {
			fs.writeSync(1, out.join(''));
			out.length = 0;
		}
	}
}

function valueText(v, type) {
	if (v === null || v === undefined) return 'null';
	const T = duckdb.DuckDBTypeId;
	switch (type.typeId) {
	case T.BOOLEAN:
		return v ? 'true' : 'false';
	case T.TINYINT: case T.SMALLINT: case T.INTEGER: case T.BIGINT: case T.HUGEINT:
	case T.UTINYINT: case T.USMALLINT: case T.UINTEGER: case T.UBIGINT: case T.UHUGEINT:
		return String(v);
	case T.FLOAT:
		return floatText(v, true);
	case T.DOUBLE:
		return floatText(v, false);
	case T.DECIMAL: {
		const t = decimalText(v);
		return decimalStrings ? JSON.stringify(t) : t;
	}
	case T.DATE:
		return JSON.stringify(dateText(v.days));
	case T.TIMESTAMP: case T.TIMESTAMP_TZ:
		return JSON.stringify(timestampText(v.micros));
	case T.TIMESTAMP_MS:
		return JSON.stringify(timestampText(v.millis * 1000n));
	case T.TIMESTAMP_S:
		return JSON.stringify(timestampText(v.seconds * 1000000n));
	case T.TIMESTAMP_NS: {
		let us = v.nanos / 1000n;
		if (v.nanos % 1000n < 0n) us -= 1n;
		return JSON.stringify(timestampText(us));
	}
	case T.BLOB:
		return JSON.stringify(Buffer.from(v.bytes).toString('base64'));
	case T.LIST: case T.ARRAY:
		return '[' + v.items.map((x) => valueText(x, type.valueType)).join(',') + ']';
	case T.STRUCT:
		return '{' + type.entryNames.map((n, i) =>
			JSON.stringify(n) + ':' + valueText(v.entries[n], type.entryTypes[i])).join(',') + '}';
	case T.MAP:
		return '{' + v.entries.map((e) => {
			let k = valueText(e.key, type.keyType);
			if (!k.startsWith('"')) k = JSON.stringify(k);
			return k + ':' + valueText(e.value, type.valueType);
		}).join(',') + '}';
	default:
		return JSON.stringify(String(v));
	}
}

async function main() {
	const args = process.argv.slice(2);
	const sql = [];
	let each = false;
	for (let i = 0; i < args.length; i++) {
		if (args[i] === '--decimal-strings') decimalStrings = true;
		else if (args[i] === '--decimal-shortest') decimalShortest = true;
		else if (args[i] === '--each') each = true;
		else if (args[i] === '--file') sql.push(fs.readFileSync(args[++i], 'utf8'));
		else sql.push(args[i]);
	}
	if (!sql.length) {
		process.stderr.write('usage: duckdb-query.js [--decimal-shortest] [--decimal-strings] [--each] [--file SQLFILE] [SQL ...]\n');
		process.exit(64);
	}
	const instance = await duckdb.DuckDBInstance.create(':memory:');
	const con = await instance.connect();
	await con.run("SET TimeZone = 'UTC'");
	const out = [];
	let reader;
	for (let i = 0; i < sql.length; i++) {
		reader = await con.runAndReadAll(sql[i]);
		if (each) {
			print(reader, out);
			out.push(`{"@end":${i + 1}}\n`);
		}
	}
	if (!each) print(reader, out);
	fs.writeSync(1, out.join(''));
}

main().catch((err) => {
	process.stderr.write(`duckdb-query: ${err.message}\n`);
	process.exit(65);
});

#!/usr/bin/env node
// tick-duck.js: DuckDB's side of bench/tick.sh.  Runs the statements before
// "--" untimed (loading data for in-memory comparisons), then the ones after
// it, and prints how many milliseconds those took together.
//   tick-duck.js [PREP_SQL...] -- SQL...
'use strict';
const path = require('path');
const duckdb = require(path.join(__dirname, '..', 'tests', 'node_modules', '@duckdb', 'node-api'));

(async () => {
	const args = process.argv.slice(2);
	const cut = args.indexOf('--');
	const prep = cut < 0 ? [] : args.slice(0, cut);
	const timed = cut < 0 ? args : args.slice(cut + 1);
	const db = await duckdb.DuckDBInstance.create(':memory:');
	const c = await db.connect();
	await c.run("SET TimeZone = 'UTC'");
	for (const sql of prep)
		await c.run(sql);
	const t0 = process.hrtime.bigint();
	for (const sql of timed)
		await c.run(sql);
	console.log((Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1));
})().catch((e) => {
	console.error('tick-duck: ' + e.message);
	process.exit(65);
});

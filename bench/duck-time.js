#!/usr/bin/env node
// duck-time.js: run SQL statements in one in-memory DuckDB and print how
// many milliseconds the last one took (the others prepare data).
//   duck-time.js [--threads N] SQL...
'use strict';
const path = require('path');
const duckdb = require(path.join(__dirname, '..', 'tests', 'node_modules', '@duckdb', 'node-api'));

(async () => {
	const args = process.argv.slice(2);
	let threads = null;
	if (args[0] === '--threads') {
		threads = args[1];
		args.splice(0, 2);
	}
	const db = await duckdb.DuckDBInstance.create(':memory:');
	const c = await db.connect();
	if (threads)
		await c.run(`SET threads = ${threads}`);
	let ms = 0;
	for (const sql of args) {
		const t0 = process.hrtime.bigint();
		await c.run(sql);
		ms = Number(process.hrtime.bigint() - t0) / 1e6;
	}
	console.log(ms.toFixed(1));
})().catch((e) => {
	console.error('duck-time: ' + e.message);
	process.exit(65);
});

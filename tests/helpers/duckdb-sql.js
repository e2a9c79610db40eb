#!/usr/bin/env node
// Run SQL statements in an in-memory DuckDB, an independent engine for
// writing and reading Parquet in tests.
//
//   node duckdb-sql.js 'STATEMENT' ['STATEMENT' ...]
//
// Each argument is one statement, run in order.  Rows that a statement
// returns are printed as JSON objects, one per line (DuckDB's JSON forms).
'use strict';

const path = require('path');
const duckdb = require(path.join(__dirname, '..', 'node_modules', '@duckdb', 'node-api'));

async function main() {
	const statements = process.argv.slice(2);
	if (statements.length === 0) {
		console.error('usage: duckdb-sql.js STATEMENT [STATEMENT ...]');
		process.exit(64);
	}
	const inst = await duckdb.DuckDBInstance.create(':memory:');
	const conn = await inst.connect();
	for (const sql of statements) {
		const res = await conn.runAndReadAll(sql);
		for (const row of res.getRowObjectsJson()) console.log(JSON.stringify(row));
	}
}

main().catch((err) => {
	console.error(`duckdb-sql: ${err.message}`);
	process.exit(65);
});

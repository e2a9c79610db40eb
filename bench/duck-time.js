#!/usr/bin/env node
// duck-time.js: run SQL statements in one in-memory DuckDB and print how
// many milliseconds the last one took (the others prepare data).
//   duck-time.js [--threads N] [--each] [--sync] SQL...
// --each prints the time of every statement instead, space-separated: the
// first one in a fresh database pays for DuckDB's warming up (extensions,
// thread pool, caches), the next ones show it running warm.
// --sync makes what each COPY ... TO 'target' wrote durable, within its
// time: the target (a file, or a directory and every file and directory
// under it) and its parent fsynced, all at once (DuckDB's COPY itself never
// calls fsync).
'use strict';
const fs = require('fs');
const path = require('path');
const duckdb = require(path.join(__dirname, '..', 'tests', 'node_modules', '@duckdb', 'node-api'));

// The target's parent, the target, and every file and directory under it:
// what a new file or directory tree needs fsynced before anything may name it.
function tree(dir) {
	const out = [path.dirname(dir), dir];
	if (!fs.statSync(dir).isDirectory())
		return out;
	for (const ent of fs.readdirSync(dir, {withFileTypes: true})) {
		const p = path.join(dir, ent.name);
		if (ent.isDirectory())
			out.push(...tree(p).slice(2), p);
		else
			out.push(p);
	}
	return out;
}

async function syncTree(dir) {
	await Promise.all(tree(dir).map(async (p) => {
		const h = await fs.promises.open(p, 'r');
		try {
			await h.sync();
		} finally {
			await h.close();
		}
	}));
}

(async () => {
	const args = process.argv.slice(2);
	let threads = null, each = false, sync = false;
	for (;;) {
		if (args[0] === '--threads') {
			threads = args[1];
			args.splice(0, 2);
		} else if (args[0] === '--each') {
			each = true;
			args.shift();
		} else if (args[0] === '--sync') {
			sync = true;
			args.shift();
		} else {
			break;
		}
	}
	const db = await duckdb.DuckDBInstance.create(':memory:');
	const c = await db.connect();
	if (threads)
		await c.run(`SET threads = ${threads}`);
	const times = [];
	for (const sql of args) {
		const t0 = process.hrtime.bigint();
		await c.run(sql);
		const to = sync && /^\s*COPY\b[\s\S]*\bTO\s+'([^']+)'/i.exec(sql);
		if (to)
			await syncTree(to[1]);
		times.push((Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1));
	}
	console.log(each ? times.join(' ') : times[times.length - 1]);
})().catch((e) => {
	console.error('duck-time: ' + e.message);
	process.exit(65);
});

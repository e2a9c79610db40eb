#!/usr/bin/env node
// A stand-in for the Alpha Vantage API on loopback, serving recorded
// answers: the offline demo runs the whole job against it (demo/rules.json
// and demo/recordings/), and the test suites start it with scenarios of
// their own (a throttle, then a good body; a server that hangs; a truncated
// transfer).  It is data-driven: a rules file says which answer each request
// gets, and every request received is logged so that a caller can check
// what the client sent and when.  Only Node's built-in modules are used, so
// it runs wherever the project's tests or its demo do.
//
//   node av-server.js --rules FILE --fixtures DIR --log FILE --port-file FILE
//                     [--host 127.0.0.1] [--port 0] [--log-apikey]
//
// Rules file: a JSON array of rules, tried in order; the first rule whose
// `match` fits the request answers it.
//
//   [{"match": {"function": "TIME_SERIES_INTRADAY", "symbol": "IBM",
//               "month": null, "datatype": [null, "json"]},
//     "path": "/query",
//     "responses": [{"file": "throttle_note_per_minute.json"},
//                   {"file": "intraday_IBM_5min_compact.json"}]}]
//
// match      query parameters and what each must be: a string (equal to
//            it), null (the parameter is absent) or an array of those (any
//            of them); a parameter the rule does not name matches anything;
//            {} matches every request.
// path       optional: the request path must also be equal.
// responses  served in order, one per matching request, each rule counting
//            on its own; after the last one, the last one repeats.
//
// A response is an object with these optional keys:
//
// status        HTTP status, default 200.
// file          body read from this path, relative to the fixtures directory.
// body          body given inline (a string); at most one of file and body,
//               and neither means an empty body.
// content_type  default: text/csv for a .csv file, application/json for a
//               .json file or an inline body, else application/octet-stream.
// headers       extra response headers, e.g. {"Retry-After": "60"}.
// delay_ms      wait this long before sending anything (a slow server).
// truncate      send the headers, with a Content-Length of the whole body,
//               and only the first N bytes of the body, then reset the
//               connection: the client sees a short transfer.
// close         true: reset the connection without sending any response.
//
// A request that no rule matches gets 404 with a JSON error body that
// quotes the request.  Every request is appended to the log as one JSON
// line, when it arrives and before it is answered:
//
//   {"t":1750098000123456,"method":"GET","path":"/query","query":{...}}
//
// t is the arrival time in epoch microseconds, strictly increasing from line
// to line; query holds every parameter (a repeated parameter keeps its last
// value).  Any API key is accepted.  It is never echoed: the 404 body shows
// apikey=***, and so does the log unless --log-apikey is given, which the
// test suites use to check which key a client sent.
//
// Control: PUT /_rules with a rules document as the body replaces the rules
// and restarts every rule's count (204; 400 with a JSON error when the
// document is invalid).  Requests under /_ are not logged.
//
// When the server listens, it writes its port to the port file (complete
// when it appears: written aside and renamed).  SIGTERM or SIGINT ends it.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const RULE_KEYS = new Set(['match', 'path', 'responses']);
const RESPONSE_KEYS = new Set([
	'status', 'file', 'body', 'content_type', 'headers', 'delay_ms',
	'truncate', 'close',
]);
const MAX_CONTROL_BODY = 1 << 20;

const USAGE = 'usage: av-server.js --rules FILE --fixtures DIR --log FILE --port-file FILE ' +
	'[--host ADDR] [--port N] [--log-apikey]';

function fail(msg) {
	process.stderr.write(`av-server: ${msg}\n`);
	process.exit(64);
}

function parseArgs(argv) {
	const opts = { host: '127.0.0.1', port: '0', 'log-apikey': false };
	const names = new Set(['rules', 'fixtures', 'log', 'port-file', 'host', 'port']);
	for (let i = 0; i < argv.length; i += 2) {
		if (argv[i] === '--log-apikey') {
			opts['log-apikey'] = true;
			i -= 1; // a flag without a value
			continue;
		}
		const name = argv[i].replace(/^--/, '');
		if (!argv[i].startsWith('--') || !names.has(name) || i + 1 >= argv.length)
			fail(USAGE);
		opts[name] = argv[i + 1];
	}
	for (const required of ['rules', 'fixtures', 'log', 'port-file'])
		if (opts[required] === undefined)
			fail(`missing --${required}`);
	return opts;
}

function isObject(v) {
	return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isMatchValue(v) {
	return v === null || typeof v === 'string';
}

function isCount(v) {
	return Number.isInteger(v) && v >= 0;
}

// checkResponse and checkRules throw an Error naming the first problem, so
// that a typo in a rules file ("delay" for "delay_ms") fails the start of
// the server instead of silently serving something else.
function checkResponse(r, where, fixtures) {
	if (!isObject(r))
		throw new Error(`${where}: not an object`);
	for (const k of Object.keys(r))
		if (!RESPONSE_KEYS.has(k))
			throw new Error(`${where}: unknown key "${k}"`);
	if (r.status !== undefined && !(Number.isInteger(r.status) && r.status >= 100 && r.status <= 999))
		throw new Error(`${where}: status must be an integer from 100 to 999`);
	if (r.file !== undefined && r.body !== undefined)
		throw new Error(`${where}: both file and body`);
	if (r.body !== undefined && typeof r.body !== 'string')
		throw new Error(`${where}: body must be a string`);
	if (r.file !== undefined) {
		if (typeof r.file !== 'string')
			throw new Error(`${where}: file must be a string`);
		try {
			fs.accessSync(path.resolve(fixtures, r.file), fs.constants.R_OK);
		} catch (e) {
			throw new Error(`${where}: file ${r.file}: ${e.code}`);
		}
	}
	if (r.content_type !== undefined && typeof r.content_type !== 'string')
		throw new Error(`${where}: content_type must be a string`);
	if (r.headers !== undefined) {
		if (!isObject(r.headers))
			throw new Error(`${where}: headers must be an object`);
		for (const [k, v] of Object.entries(r.headers))
			if (typeof v !== 'string')
				throw new Error(`${where}: header ${k} must be a string`);
	}
	if (r.delay_ms !== undefined && !isCount(r.delay_ms))
		throw new Error(`${where}: delay_ms must be a non-negative integer`);
	if (r.truncate !== undefined && !isCount(r.truncate))
		throw new Error(`${where}: truncate must be a non-negative integer`);
	if (r.close !== undefined && typeof r.close !== 'boolean')
		throw new Error(`${where}: close must be true or false`);
}

function checkRules(rules, fixtures) {
	if (!Array.isArray(rules))
		throw new Error('rules: not an array');
	rules.forEach((rule, i) => {
		const where = `rule ${i}`;
		if (!isObject(rule))
			throw new Error(`${where}: not an object`);
		for (const k of Object.keys(rule))
			if (!RULE_KEYS.has(k))
				throw new Error(`${where}: unknown key "${k}"`);
		if (rule.match !== undefined) {
			if (!isObject(rule.match))
				throw new Error(`${where}: match must be an object`);
			for (const [k, v] of Object.entries(rule.match))
				if (!isMatchValue(v) && !(Array.isArray(v) && v.length > 0 && v.every(isMatchValue)))
					throw new Error(`${where}: match.${k} must be a string, null or a non-empty array of them`);
		}
		if (rule.path !== undefined && typeof rule.path !== 'string')
			throw new Error(`${where}: path must be a string`);
		if (!Array.isArray(rule.responses) || rule.responses.length === 0)
			throw new Error(`${where}: responses must be a non-empty array`);
		rule.responses.forEach((r, j) => checkResponse(r, `${where} response ${j}`, fixtures));
	});
	return rules.map(rule => ({ ...rule, match: rule.match || {}, served: 0 }));
}

function parseRules(text, fixtures) {
	let doc;
	try {
		doc = JSON.parse(text);
	} catch (e) {
		throw new Error(`rules: ${e.message}`);
	}
	return checkRules(doc, fixtures);
}

function contentTypeOf(r) {
	if (r.content_type !== undefined)
		return r.content_type;
	if (r.file === undefined)
		return 'application/json';
	switch (path.extname(r.file).toLowerCase()) {
	case '.csv': return 'text/csv';
	case '.json': return 'application/json';
	default: return 'application/octet-stream';
	}
}

const opts = parseArgs(process.argv.slice(2));
const fixtures = path.resolve(opts.fixtures);
let rules;
try {
	rules = parseRules(fs.readFileSync(opts.rules, 'utf8'), fixtures);
} catch (e) {
	fail(`${opts.rules}: ${e.message}`);
}
const logFd = fs.openSync(opts.log, 'a');

// Microseconds since the epoch from the monotonic clock anchored at process
// start, bumped when needed so that log lines are strictly ordered even for
// requests that arrive within one microsecond.
let lastT = 0;
function nowMicros() {
	let t = Math.floor((performance.timeOrigin + performance.now()) * 1000);
	if (t <= lastT)
		t = lastT + 1;
	lastT = t;
	return t;
}

// A parameter that was not sent is null here, so that null in a rule means
// "absent" and an array lists what is allowed.
function paramMatches(want, got) {
	return Array.isArray(want) ? want.includes(got) : want === got;
}

function findRule(pathname, query) {
	return rules.find(rule =>
		(rule.path === undefined || rule.path === pathname) &&
		Object.entries(rule.match).every(([k, v]) =>
			paramMatches(v, Object.hasOwn(query, k) ? query[k] : null)));
}

// The key is secret even when it is a dummy: whatever a caller passes is
// replaced before it is written anywhere or sent back.
function redactUrl(url) {
	return url.replace(/([?&]apikey=)[^&#]*/gi, '$1***');
}

function redactQuery(query) {
	if (opts['log-apikey'] || !Object.hasOwn(query, 'apikey'))
		return query;
	return { ...query, apikey: '***' };
}

function sendJson(res, status, obj) {
	const body = Buffer.from(JSON.stringify(obj) + '\n');
	res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': body.length });
	res.end(body);
}

function serve(req, res, r) {
	// The client may have gone during delay_ms; there is no one to answer.
	if (req.socket.destroyed)
		return;
	if (r.close) {
		req.socket.destroy();
		return;
	}
	let body;
	try {
		body = r.file !== undefined ? fs.readFileSync(path.resolve(fixtures, r.file))
			: Buffer.from(r.body !== undefined ? r.body : '');
	} catch (e) {
		sendJson(res, 500, { error: `av-server: ${r.file}: ${e.code}` });
		return;
	}
	res.writeHead(r.status !== undefined ? r.status : 200, {
		'Content-Type': contentTypeOf(r),
		'Content-Length': body.length,
		...(r.headers || {}),
	});
	if (r.truncate === undefined || r.truncate >= body.length) {
		res.end(body);
		return;
	}
	// Headers and the first bytes go out in one write; the connection is
	// reset once they are in the kernel, so the client sees exactly
	// `truncate` bytes of a body announced as longer.
	res.write(body.subarray(0, r.truncate), () => req.socket.destroy());
}

function control(req, res, pathname) {
	if (pathname !== '/_rules' || req.method !== 'PUT') {
		sendJson(res, 404, { error: `av-server: no control ${req.method} ${pathname}` });
		return;
	}
	const chunks = [];
	let size = 0;
	req.on('data', c => {
		size += c.length;
		if (size > MAX_CONTROL_BODY) {
			sendJson(res, 413, { error: 'av-server: rules document too large' });
			req.destroy();
			return;
		}
		chunks.push(c);
	});
	req.on('end', () => {
		if (size > MAX_CONTROL_BODY)
			return;
		try {
			rules = parseRules(Buffer.concat(chunks).toString('utf8'), fixtures);
		} catch (e) {
			sendJson(res, 400, { error: `av-server: ${e.message}` });
			return;
		}
		res.writeHead(204);
		res.end();
	});
}

const server = http.createServer((req, res) => {
	const t = nowMicros();
	const url = new URL(req.url, 'http://av-server.invalid');
	if (url.pathname.startsWith('/_')) {
		control(req, res, url.pathname);
		return;
	}
	const query = Object.fromEntries(url.searchParams);
	fs.writeSync(logFd, JSON.stringify({ t, method: req.method, path: url.pathname,
		query: redactQuery(query) }) + '\n');
	// The request body is not used, but it is read so that the connection
	// stays usable for the next request.
	req.resume();
	const rule = findRule(url.pathname, query);
	if (rule === undefined) {
		sendJson(res, 404, { error: `av-server: no rule matches ${req.method} ${redactUrl(req.url)}` });
		return;
	}
	const r = rule.responses[Math.min(rule.served, rule.responses.length - 1)];
	rule.served++;
	if (r.delay_ms)
		setTimeout(() => serve(req, res, r), r.delay_ms);
	else
		serve(req, res, r);
});

// A client that goes away in the middle of a response must not end the
// server: the next test still needs it.
server.on('clientError', (err, socket) => socket.destroy());

server.listen(Number(opts.port), opts.host, () => {
	const tmp = `${opts['port-file']}.tmp`;
	fs.writeFileSync(tmp, `${server.address().port}\n`);
	fs.renameSync(tmp, opts['port-file']);
});
server.on('error', e => fail(`listen on ${opts.host}:${opts.port}: ${e.message}`));

for (const sig of ['SIGTERM', 'SIGINT'])
	process.on(sig, () => process.exit(0));

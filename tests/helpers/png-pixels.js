#!/usr/bin/env node
// png-pixels: print the colours of pixels of a PNG file, for tests that
// check what a browser drew.
//
//   png-pixels FILE X,Y ...      one "X,Y #rrggbb" line per point
//   png-pixels FILE --size       "WIDTH HEIGHT"
//
// Decodes 8-bit greyscale, RGB, palette, grey+alpha and RGBA images without
// interlacing (what Chromium's screenshots are), using only Node's zlib.
'use strict';
const fs = require('fs');
const zlib = require('zlib');

function fail(msg) {
	process.stderr.write(`png-pixels: ${msg}\n`);
	process.exit(65);
}

function decode(data) {
	const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
	if (data.length < 8 || !data.subarray(0, 8).equals(sig)) fail('not a PNG file');
	let pos = 8, width = 0, height = 0, depth = 0, type = 0, interlace = 0, palette = null;
	const idat = [];
	while (pos + 8 <= data.length) {
		const len = data.readUInt32BE(pos);
		const kind = data.toString('latin1', pos + 4, pos + 8);
		const body = data.subarray(pos + 8, pos + 8 + len);
		pos += 12 + len;
		if (kind === 'IHDR') {
			width = body.readUInt32BE(0);
			height = body.readUInt32BE(4);
			depth = body[8];
			type = body[9];
			interlace = body[12];
		} else if (kind === 'PLTE') {
			palette = body;
		} else if (kind === 'IDAT') {
			idat.push(body);
		} else if (kind === 'IEND') {
			break;
		}
	}
	const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[type];
	if (depth !== 8 || !channels || interlace) fail(`unsupported PNG (depth ${depth}, colour type ${type}, interlace ${interlace})`);
	const raw = zlib.inflateSync(Buffer.concat(idat));
	const stride = width * channels;
	const px = Buffer.alloc(stride * height);
	for (let y = 0; y < height; y++) {
		const filter = raw[y * (stride + 1)];
		const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
		const out = px.subarray(y * stride, (y + 1) * stride);
		const prev = y ? px.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
		for (let i = 0; i < stride; i++) {
			const a = i >= channels ? out[i - channels] : 0;
			const b = prev[i];
			const c = i >= channels ? prev[i - channels] : 0;
			let p = line[i];
			if (filter === 1) p += a;
			else if (filter === 2) p += b;
			else if (filter === 3) p += (a + b) >> 1;
			else if (filter === 4) {
				const e = a + b - c, pa = Math.abs(e - a), pb = Math.abs(e - b), pc = Math.abs(e - c);
				p += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
			} else if (filter !== 0) fail(`bad filter ${filter} on row ${y}`);
			out[i] = p & 0xff;
		}
	}
	const rgb = (x, y) => {
		const o = y * stride + x * channels;
		if (type === 3) return [palette[px[o] * 3], palette[px[o] * 3 + 1], palette[px[o] * 3 + 2]];
		if (channels <= 2) return [px[o], px[o], px[o]];
		return [px[o], px[o + 1], px[o + 2]];
	};
	return { width, height, rgb };
}

const [file, ...points] = process.argv.slice(2);
if (!file || points.length === 0) fail('usage: png-pixels FILE X,Y ... | --size');
const img = decode(fs.readFileSync(file));
if (points[0] === '--size') {
	process.stdout.write(`${img.width} ${img.height}\n`);
	process.exit(0);
}
for (const p of points) {
	const m = /^(\d+),(\d+)$/.exec(p);
	if (!m) fail(`not a point: ${p}`);
	const x = Number(m[1]), y = Number(m[2]);
	if (x >= img.width || y >= img.height) fail(`${p} is outside the ${img.width}x${img.height} image`);
	const hex = img.rgb(x, y).map((v) => v.toString(16).padStart(2, '0')).join('');
	process.stdout.write(`${x},${y} #${hex}\n`);
}

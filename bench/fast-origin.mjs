/**
 * The benchmark's loopback origin: a small Node HTTP server that answers every generation POST
 * with one fixed, real ~105 KB PNG of 1024×1024 pixels, the size every bench request asks for, with
 * zero delay. The gateway refuses an image of another size than requested, so the bench's origin
 * answers the real size rather than being let off the check: the whole-image check (a CRC-32 over
 * every chunk) is part of what a miss costs.
 *
 * A POST whose path ends in `/v1/images/generations` is answered the way an OpenAI-compatible
 * server answers it: `{"created", "data": [{"b64_json"}]}`, one entry per `n` (the same PNG).
 * That is what the gateway's `openai` origin kind and Portkey's gateway both expect, so every
 * target of the bench reads the same answer from the same origin.
 *
 * It serves "lanes", so the soak can make one origin misbehave while another stays healthy:
 *   POST /o/{lane}[/…]   a generation on that lane (any other POST uses the lane "default")
 *   POST /__mode         {"lane": "p", "mode": "500"}: how that lane answers from now on
 *   GET  /__stats        {"lane": {"mode", "calls"}}
 *   GET  /__png          the PNG itself
 *
 * Modes: png (default; OpenAI JSON on the OpenAI path) | slow-{ms} (then the same) | 500 | hang (never answers) | garbage (200,
 * image/png, random bytes that are no image) | json-garbage (200, JSON whose base64 is no image) |
 * mix (each call one of png, 500, hang, garbage at random).
 *
 * Run on its own: `node bench/fast-origin.mjs [--port 9000]`. Forked by bench/run.mjs, it reports
 * its port over IPC. It listens on 127.0.0.1 only.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { deflateSync } from 'node:zlib';
import { PNG_SIGNATURE, pngChunk, rgbHeader } from '../scripts/lib/png.mjs';

/**
 * A valid RGB PNG of `width`×`height`: deterministic noise (xorshift32) in the first `noiseRows`
 * rows, which deflate cannot shrink, and black below, which deflates to almost nothing. So the
 * pixel size and the byte size are chosen apart: 1024×1024 at 104,896 bytes.
 */
export function noisePng(width = 1024, height = 1024, noiseRows = 33, seed = 0x1234567) {
  const stride = width * 3 + 1;
  const raw = Buffer.alloc(stride * height); // filter byte 0 (none) on every row, black pixels
  let x = seed >>> 0 || 1;
  for (let y = 0; y < Math.min(noiseRows, height); y++) {
    for (let i = 1; i < stride; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      raw[y * stride + i] = x & 0xff;
    }
  }
  return Buffer.concat([
    PNG_SIGNATURE,
    rgbHeader(width, height),
    pngChunk('IDAT', deflateSync(raw, { level: 6 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

export const PNG = noisePng();
const PNG_B64 = PNG.toString('base64');

/** The OpenAI images answer: the PNG as base64, `n` times (1–10); built once per `n`. */
const openaiAnswers = new Map();
function openaiJson(requestBody) {
  let n = 1;
  try {
    n = Math.min(10, Math.max(1, Math.trunc(Number(JSON.parse(requestBody.toString('utf8')).n)) || 1));
  } catch {
    // not JSON: answer one image, as a lenient server would
  }
  let answer = openaiAnswers.get(n);
  if (!answer) {
    const item = `{"b64_json":"${PNG_B64}"}`;
    answer = Buffer.from(`{"created":${Math.floor(Date.now() / 1000)},"data":[${Array(n).fill(item).join(',')}]}`);
    openaiAnswers.set(n, answer);
  }
  return answer;
}
const JSON_GARBAGE = Buffer.from(JSON.stringify({ data: [{ b64_json: Buffer.from('this is not an image').toString('base64') }] }));
const ERROR_500 = Buffer.from(JSON.stringify({ error: { message: 'bench origin: scheduled failure' } }));

/** Starts the origin; resolves with its port and a close(). */
export function startFastOrigin(port = 0) {
  const lanes = new Map(); // lane → { mode, calls }
  const hanging = new Set();
  const lane = (name) => {
    let l = lanes.get(name);
    if (!l) lanes.set(name, (l = { mode: 'png', calls: 0 }));
    return l;
  };
  const send = (res, status, type, body) => {
    res.writeHead(status, { 'content-type': type, 'content-length': body.length });
    res.end(body);
  };
  const answer = (res, mode, openai) => {
    if (mode === 'mix') mode = ['png', '500', 'hang', 'garbage'][Math.floor(Math.random() * 4)];
    if (mode === 'png') return openai ? send(res, 200, 'application/json', openai()) : send(res, 200, 'image/png', PNG);
    if (mode === '500') return send(res, 500, 'application/json', ERROR_500);
    if (mode === 'garbage') return send(res, 200, 'image/png', randomBytes(4096));
    if (mode === 'json-garbage') return send(res, 200, 'application/json', JSON_GARBAGE);
    if (mode === 'hang') {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return undefined;
    }
    const slow = /^slow-(\d+)$/.exec(mode);
    if (slow) return void setTimeout(() => answer(res, 'png', openai), Number(slow[1]));
    return send(res, 500, 'text/plain', Buffer.from(`unknown mode ${mode}`));
  };

  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'POST' && path === '/__mode') {
        let body;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return send(res, 400, 'text/plain', Buffer.from('bad JSON'));
        }
        for (const [name, mode] of Object.entries(body.lanes ?? { [body.lane ?? 'default']: body.mode })) lane(name).mode = String(mode);
        return send(res, 200, 'application/json', Buffer.from('{"ok":true}'));
      }
      if (req.method === 'GET' && path === '/__stats') {
        return send(res, 200, 'application/json', Buffer.from(JSON.stringify(Object.fromEntries(lanes))));
      }
      if (req.method === 'GET' && path === '/__png') return send(res, 200, 'image/png', PNG);
      if (req.method !== 'POST') return send(res, 405, 'text/plain', Buffer.from('POST only'));
      const m = /^\/o\/([A-Za-z0-9_-]+)/.exec(path);
      const l = lane(m ? m[1] : 'default');
      l.calls++;
      const body = Buffer.concat(chunks);
      return answer(res, l.mode, path.endsWith('/v1/images/generations') ? () => openaiJson(body) : null);
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve({
        port: server.address().port,
        close: () =>
          new Promise((done) => {
            for (const res of hanging) res.destroy();
            server.closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
  });
}

// Run as a program (forked by bench/run.mjs, or by hand).
if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--port');
  const origin = await startFastOrigin(i > 0 ? Number(process.argv[i + 1]) : 0);
  if (process.send) {
    process.send({ port: origin.port, pngBytes: PNG.length });
    process.on('disconnect', () => origin.close().then(() => process.exit(0)));
  } else {
    console.log(`bench origin on http://127.0.0.1:${origin.port} (PNG ${PNG.length} bytes)`);
  }
  process.on('SIGTERM', () => origin.close().then(() => process.exit(0)));
}

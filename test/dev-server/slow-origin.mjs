/**
 * A loopback origin of kind `qubrid` for the dev-server test: answers a generation with a real PNG
 * of the requested width × height, or, while `hold` is on, holds every request open (a generation
 * in flight) until the test lets go of it.
 */
import { createServer } from 'node:http';
import { deflateSync } from 'node:zlib';
import { PNG_SIGNATURE, pngChunk, rgbHeader } from '../../scripts/lib/png.mjs';

/** A grey RGB PNG of width × height, structurally complete (every chunk's CRC right). */
export function greyPng(width, height) {
  const raw = Buffer.alloc((width * 3 + 1) * height, 0x80);
  for (let y = 0; y < height; y++) raw[y * (width * 3 + 1)] = 0;
  return Buffer.concat([PNG_SIGNATURE, rgbHeader(width, height), pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0))]);
}

export async function startSlowOrigin() {
  const calls = [];
  const held = new Set();
  const origin = { hold: false, calls };
  const server = createServer(async (req, res) => {
    const parts = [];
    for await (const part of req) parts.push(part);
    let body = {};
    try {
      body = JSON.parse(Buffer.concat(parts).toString('utf8'));
    } catch {
      // not JSON: answered with the default size below
    }
    calls.push({ at: Date.now(), authorization: req.headers.authorization ?? null, body });
    if (origin.hold) {
      held.add(res);
      res.on('close', () => held.delete(res));
      return;
    }
    const png = greyPng(Number(body.width) || 256, Number(body.height) || 256);
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
    res.end(png);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin.port = server.address().port;
  /** Drops every held request (its client is gone anyway) and answers from now on. */
  origin.release = () => {
    origin.hold = false;
    for (const res of held) res.destroy();
    held.clear();
  };
  origin.close = () => {
    origin.release();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return origin;
}

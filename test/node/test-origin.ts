/**
 * A real loopback HTTP origin for the tests (runs in Node, started by global-setup.ts).
 *
 * Every test uses its own scenario name, so tests never see each other's calls:
 *   POST /s/{scenario}/{mode}/…   generate (any suffix: /image/generation, /sdapi/v1/txt2img, …)
 *   POST /__script/{scenario}     body ["500", "png", …]: modes to use for the next calls, in order
 *   GET  /__calls/{scenario}      the calls received: [{ path, headers, body }]
 *   GET  /img/{name}.png          an image, for answers that link to one
 *
 * Every image is whole and of the size the body asked for (`width`/`height`, cog's `input`, or
 * openai's `size`), since the gateway refuses anything else.
 *
 * Modes: png | jpeg | webp | b64 | url | a1111 | cog | cog-url | openai | 500 | 503 | 400 | hang |
 * garbage | json-garbage | slow-{ms} (then png) | big (a PNG over 1 MiB) | 400-echo (a long 422 that
 * repeats the Authorization header it got); and images that are not whole, each answered as
 * `image/png`: jpeg-six (FF D8 FF 00 41 42) | png-garbage (the PNG signature and 4 KB of noise) |
 * png-bad-crc | png-truncated (cut before IEND) | png-wrong-size (16 pixels too wide).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateSync, gzipSync } from 'node:zlib';
import { PNG_SIGNATURE, pngChunk, rgbHeader } from '../../scripts/lib/png.mjs';

export interface RecordedCall {
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

/** The pixel size a generation body asks for: `width`/`height` (qubrid, a1111), `input.*` (cog), `size` (openai). */
export interface PixelSize {
  width: number;
  height: number;
}

const FALLBACK_SIZE: PixelSize = { width: 16, height: 16 };

export function requestedSize(body: unknown): PixelSize {
  const b = (body ?? {}) as { width?: unknown; height?: unknown; size?: unknown; input?: { width?: unknown; height?: unknown } };
  const pick = (w: unknown, h: unknown) =>
    Number.isInteger(w) && Number.isInteger(h) && (w as number) > 0 && (h as number) > 0 ? { width: w as number, height: h as number } : null;
  const sized = typeof b.size === 'string' ? /^(\d+)x(\d+)$/.exec(b.size) : null;
  return (
    pick(b.width, b.height) ??
    pick(b.input?.width, b.input?.height) ??
    (sized ? pick(Number(sized[1]), Number(sized[2])) : null) ??
    FALLBACK_SIZE
  );
}

/**
 * A whole PNG of `size`: one flat colour from `seedText` with one pixel elsewhere in the picture
 * placed by it too, so the same text gives the same bytes and another text other bytes. Flat rows
 * deflate to almost nothing, so even 2048×2048 stays cheap. `padTo` adds a tEXt chunk of that many bytes.
 */
export function testPng(seedText: string, size: PixelSize = FALLBACK_SIZE, padTo = 0): Buffer {
  const { width, height } = size;
  const h = createHash('sha256').update(seedText).digest();
  const stride = width * 3 + 1;
  const row = Buffer.alloc(stride);
  for (let x = 0; x < width; x++) row.set([h[0]!, h[1]!, h[2]!], 1 + x * 3);
  const raw = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) row.copy(raw, y * stride);
  const spot = h.readUInt32BE(3) % (width * height);
  raw.set([h[7]!, h[8]!, h[9]! ^ 0x80], Math.floor(spot / width) * stride + 1 + (spot % width) * 3);
  const parts = [PNG_SIGNATURE, rgbHeader(width, height), pngChunk('IDAT', deflateSync(raw, { level: 1 }))];
  if (padTo > 0) parts.push(pngChunk('tEXt', Buffer.alloc(padTo, 0x61)));
  parts.push(pngChunk('IEND', Buffer.alloc(0)));
  return Buffer.concat(parts);
}

/**
 * A structurally whole baseline JPEG (SOI, APP0, DQT, SOF0 with the size, DHT, SOS, scan data,
 * EOI) of `size`. The scan data is a few bytes from `seedText` and would not decode to a picture:
 * the gateway checks a JPEG's structure and size, never its pixels.
 */
export function testJpeg(seedText: string, size: PixelSize = FALLBACK_SIZE): Buffer {
  const segment = (marker: number, payload: number[]) => [0xff, marker, (payload.length + 2) >> 8, (payload.length + 2) & 0xff, ...payload];
  const u16 = (n: number) => [n >> 8, n & 0xff];
  const scan = [...createHash('sha256').update(seedText).digest().subarray(0, 8)].map((b) => (b === 0xff ? 0xfe : b));
  return Buffer.from([
    0xff, 0xd8,
    ...segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]),
    ...segment(0xdb, [0, ...Array.from({ length: 64 }, (_, i) => i + 1)]),
    ...segment(0xc0, [8, ...u16(size.height), ...u16(size.width), 1, 1, 0x11, 0]),
    ...segment(0xc4, [0, 1, ...Array<number>(15).fill(0), 0]),
    ...segment(0xda, [1, 1, 0, 0, 63, 0]),
    ...scan,
    0xff, 0xd9,
  ]);
}

/** A structurally whole lossless WebP (RIFF, one VP8L chunk with the size) of `size`; as with testJpeg, not decodable. */
export function testWebp(seedText: string, size: PixelSize = FALLBACK_SIZE): Buffer {
  const vp8l = Buffer.alloc(10);
  vp8l[0] = 0x2f;
  vp8l.writeUInt32LE(((size.width - 1) | ((size.height - 1) << 14)) >>> 0, 1);
  createHash('sha256').update(seedText).digest().copy(vp8l, 5, 0, 5);
  const header = Buffer.alloc(8);
  header.write('VP8L', 0, 'latin1');
  header.writeUInt32LE(vp8l.length, 4);
  const body = Buffer.concat([Buffer.from('WEBP', 'latin1'), header, vp8l]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

/** Deterministic noise (xorshift32): no structure a parser could mistake for chunks by accident. */
function noise(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Answers that look like images and are not whole ones (docs/origins.md, "Only whole images"). */
function brokenImage(mode: string, seedText: string, size: PixelSize): Buffer | null {
  switch (mode) {
    case 'jpeg-six': // six bytes that pass a magic-byte check as a JPEG
      return Buffer.from([0xff, 0xd8, 0xff, 0x00, 0x41, 0x42]);
    case 'png-garbage': // the PNG signature and 4 KB of noise
      return Buffer.concat([PNG_SIGNATURE, noise(4096, createHash('sha256').update(seedText).digest().readUInt32BE(0))]);
    case 'png-bad-crc': { // a whole PNG of the right size with one CRC byte changed (IEND's)
      const png = testPng(seedText, size);
      png[png.length - 1] = png[png.length - 1]! ^ 0x01;
      return png;
    }
    case 'png-truncated': { // a PNG of the right size cut before IEND
      const png = testPng(seedText, size);
      return png.subarray(0, png.length - 12);
    }
    case 'png-wrong-size': // whole, but 16 pixels wider than asked
      return testPng(seedText, { width: size.width + 16, height: size.height });
    default:
      return null;
  }
}

export async function startTestOrigin(): Promise<{ port: number; close: () => Promise<void> }> {
  const calls = new Map<string, RecordedCall[]>();
  const scripts = new Map<string, string[]>();
  const hanging = new Set<ServerResponse>();

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const parts = url.pathname.split('/').filter(Boolean);
    const send = (status: number, type: string, body: string | Buffer) => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const json = (status: number, value: unknown) => send(status, 'application/json', JSON.stringify(value));

    if (parts[0] === '__script' && parts[1]) {
      scripts.set(parts[1], JSON.parse(rawBody) as string[]);
      return json(200, { ok: true });
    }
    if (parts[0] === '__calls' && parts[1]) return json(200, calls.get(parts[1]) ?? []);
    if (parts[0] === 'img') {
      // a link's name ends in the size the generation asked for: /img/{name}-{w}x{h}.png
      const sized = /-(\d+)x(\d+)\.png$/.exec(url.pathname);
      return send(200, 'image/png', testPng(url.pathname, sized ? { width: Number(sized[1]), height: Number(sized[2]) } : FALLBACK_SIZE));
    }
    if (parts[0] !== 's' || !parts[1] || !parts[2]) return json(404, { error: 'unknown test origin path' });

    const scenario = parts[1];
    let body: unknown = rawBody;
    try {
      body = JSON.parse(rawBody);
    } catch {
      // keep the text
    }
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    const list = calls.get(scenario) ?? [];
    list.push({ path: url.pathname, headers, body });
    calls.set(scenario, list);

    const mode = scripts.get(scenario)?.shift() ?? parts[2];
    const size = requestedSize(body);
    const broken = brokenImage(mode, rawBody, size);
    if (broken) return send(200, 'image/png', broken);
    const image = testPng(rawBody, size);
    const b64 = image.toString('base64');
    const port = (server.address() as AddressInfo).port;
    const link = (name: string) => `http://127.0.0.1:${port}/img/${name}-${size.width}x${size.height}.png`;
    switch (true) {
      case mode === 'png':
        return send(200, 'image/png', image);
      case mode === 'jpeg':
        return send(200, 'image/jpeg', testJpeg(rawBody, size));
      case mode === 'webp':
        return send(200, 'image/webp', testWebp(rawBody, size));
      case mode === 'b64' || mode === 'openai':
        return json(200, { created: 1, data: [{ b64_json: b64 }] });
      case mode === 'url':
        return json(200, { data: [{ url: link(`${scenario}-${createHash('sha256').update(rawBody).digest('hex').slice(0, 12)}`) }] });
      case mode === 'a1111':
        return json(200, { images: [b64], parameters: {}, info: '{}' });
      case mode === 'cog':
        return json(200, { status: 'succeeded', output: [`data:image/png;base64,${b64}`] });
      case mode === 'cog-url':
        return json(200, { status: 'succeeded', output: link(scenario) });
      case mode === '500':
        return json(500, { error: 'internal origin failure' });
      case mode === '503':
        return json(503, { error: 'overloaded' });
      case mode === '401' || mode === '403':
        return json(Number(mode), { error: { message: 'invalid api key' } });
      case mode === '400':
        return json(400, { error: { message: 'prompt rejected by origin policy' } });
      case mode === '400-echo': // an error text that repeats the credential it was sent, and runs long
        return json(422, { detail: `credential ${headers.authorization ?? 'none'} may not ask this; ${'x'.repeat(1000)}` });
      case mode === 'garbage':
        return send(200, 'text/plain', 'this is not an image');
      case mode === 'json-garbage':
        return json(200, { data: [{ b64_json: Buffer.from('not an image at all').toString('base64') }] });
      case mode === 'big':
        return send(200, 'image/png', testPng(rawBody, size, 1_200_000));
      case mode === 'png-chunked': // no content-length: the gateway counts the bytes as they come
        res.writeHead(200, { 'content-type': 'image/png' });
        return res.end(image);
      case mode === 'big-chunked':
        res.writeHead(200, { 'content-type': 'image/png' });
        return res.end(testPng(rawBody, size, 1_200_000));
      case mode === 'big-gzip': { // a content-length far under the cap, 1.2 MB once decompressed
        const packed = gzipSync(testPng(rawBody, size, 1_200_000));
        res.writeHead(200, { 'content-type': 'image/png', 'content-encoding': 'gzip', 'content-length': packed.length });
        return res.end(packed);
      }
      case mode === 'hang':
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return; // never answers
      case mode.startsWith('slow-'): {
        await new Promise((r) => setTimeout(r, Number(mode.slice(5))));
        return send(200, 'image/png', image);
      }
      default:
        return json(404, { error: `unknown mode ${mode}` });
    }
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

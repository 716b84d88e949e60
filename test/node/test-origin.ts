/**
 * A real loopback HTTP origin for the tests (runs in Node, started by global-setup.ts).
 *
 * Every test uses its own scenario name, so tests never see each other's calls:
 *   POST /s/{scenario}/{mode}/…   generate (any suffix: /image/generation, /sdapi/v1/txt2img, …)
 *   POST /__script/{scenario}     body ["500", "png", …]: modes to use for the next calls, in order
 *   GET  /__calls/{scenario}      the calls received: [{ path, headers, body }]
 *   GET  /img/{name}.png          an image, for answers that link to one
 *
 * Modes: png | jpeg | webp | b64 | url | a1111 | cog | cog-url | openai | 500 | 503 | 400 | hang |
 * garbage | json-garbage | slow-{ms} (then png) | big (a PNG over 1 MiB) | 400-echo (a long 422 that
 * repeats the Authorization header it got).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateSync } from 'node:zlib';

export interface RecordedCall {
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A small PNG whose colours come from `seedText`: the same text gives the same bytes. */
export function testPng(seedText: string, size = 16, padTo = 0): Buffer {
  const h = createHash('sha256').update(seedText).digest();
  const raw = Buffer.alloc((size * 3 + 1) * size);
  for (let y = 0; y < size; y++) {
    raw[y * (size * 3 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const i = y * (size * 3 + 1) + 1 + x * 3;
      raw[i] = (h[0]! + x * 8) & 0xff;
      raw[i + 1] = (h[1]! + y * 8) & 0xff;
      raw[i + 2] = h[2]!;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw))];
  if (padTo > 0) parts.push(chunk('tEXt', Buffer.alloc(padTo, 0x61)));
  parts.push(chunk('IEND', Buffer.alloc(0)));
  return Buffer.concat(parts);
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
    if (parts[0] === 'img') return send(200, 'image/png', testPng(url.pathname));
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
    const image = testPng(rawBody);
    const b64 = image.toString('base64');
    const port = (server.address() as AddressInfo).port;
    switch (true) {
      case mode === 'png':
        return send(200, 'image/png', image);
      case mode === 'jpeg':
        return send(200, 'image/jpeg', Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(64, 1)]));
      case mode === 'webp':
        return send(200, 'image/webp', Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBPVP8 '), Buffer.alloc(64, 1)]));
      case mode === 'b64' || mode === 'openai':
        return json(200, { created: 1, data: [{ b64_json: b64 }] });
      case mode === 'url':
        return json(200, { data: [{ url: `http://127.0.0.1:${port}/img/${scenario}-${createHash('sha256').update(rawBody).digest('hex').slice(0, 12)}.png` }] });
      case mode === 'a1111':
        return json(200, { images: [b64], parameters: {}, info: '{}' });
      case mode === 'cog':
        return json(200, { status: 'succeeded', output: [`data:image/png;base64,${b64}`] });
      case mode === 'cog-url':
        return json(200, { status: 'succeeded', output: `http://127.0.0.1:${port}/img/${scenario}.png` });
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
        return send(200, 'image/png', testPng(rawBody, 16, 1_200_000));
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

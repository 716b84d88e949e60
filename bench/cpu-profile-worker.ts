/**
 * The CPU profile's Worker (bench/lib/cpu-profile.mjs): each route runs one step of a miss on the
 * bench's 105 KB PNG `n` times in one request, with the gateway's own functions, so the workerd
 * CPU it costs can be read from outside (workerd's clock does not advance while a request
 * computes, so it cannot time itself). POST /setup { png } first.
 */
import { base64FromBytes, bytesFromBase64 } from '../src/domain/image-format';
import { inspectImage } from '../src/domain/image-verify';
import { sha256Hex } from '../src/domain/sha256';

let png = new Uint8Array(0);
let answer = new Uint8Array(0); // the origin's OpenAI JSON, as bytes off the wire
let b64 = '';

const STEPS: Record<string, () => unknown> = {
  noop: () => 0,
  'json-decode-parse': () => JSON.parse(new TextDecoder().decode(answer)),
  'base64-decode': () => bytesFromBase64(b64),
  'inspect-image': () => inspectImage(png),
  'base64-encode': () => base64FromBytes(png),
  'json-stringify': () => JSON.stringify({ created: 1, data: [{ b64_json: b64 }] }),
};

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === '/setup') {
      png = new Uint8Array(await request.arrayBuffer());
      b64 = base64FromBytes(png);
      answer = new TextEncoder().encode(JSON.stringify({ created: 1, data: [{ b64_json: b64 }] }));
      return Response.json({ png: png.length, answer: answer.length });
    }
    const name = url.pathname.slice(1);
    const n = Number(url.searchParams.get('n') ?? '1');
    if (name === 'sha256') {
      for (let i = 0; i < n; i++) await sha256Hex(png);
      return new Response('ok');
    }
    const step = STEPS[name];
    if (!step) return new Response(`no step ${name}`, { status: 404 });
    let keep: unknown = null;
    for (let i = 0; i < n; i++) keep = step();
    return new Response(keep === null ? 'null' : 'ok');
  },
};

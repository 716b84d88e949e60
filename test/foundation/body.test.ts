import { beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../src/errors';
import { call, genBody, isPng, loopback, originCalls, unique, type CallResult } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { budgetState, expectNoCharge, expectNothingCharged, nanoOfUsd } from '../helpers/money';
import { seededRandom, type Random } from '../helpers/random';
import { createTenantWithKey, type TenantKey } from '../helpers/tenants';

const LIMIT = 64 * 1024;
/** `t` only ever has requests refused; `ok` has the accepted ones. */
let t: TenantKey;
let ok: TenantKey;
beforeAll(async () => {
  t = await createTenantWithKey();
  ok = await createTenantWithKey();
});

/** A raw body (no Content-Type unless given), through a loopback origin that must not be called. */
async function send(body: BodyInit | null, headers: Record<string, string>, who: TenantKey = ok): Promise<{ r: CallResult; originCalled: number }> {
  const { scenario, env } = loopback('body');
  const r = await call('POST', '/image/generation', { key: who.key, headers, env, ...(body === null ? {} : { body }) });
  return { r, originCalled: (await originCalls(scenario)).length };
}

async function refused(body: BodyInit | null, headers: Record<string, string>, status: number, code: ErrorCode): Promise<CallResult> {
  const { r, originCalled } = await expectNoCharge(t, () => send(body, headers, t));
  expectError(r, status, code);
  expect(originCalled).toBe(0);
  return r;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const bytes = (text: string) => new TextEncoder().encode(text);

/** A streamed body: the request carries no Content-Length, so only counting while reading can catch it. */
function stream(text: string, chunk = 4096): ReadableStream<Uint8Array> {
  const all = bytes(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= all.length) return controller.close();
      controller.enqueue(all.slice(offset, offset + chunk));
      offset += chunk;
    },
  });
}

/** A valid generation body padded with trailing JSON whitespace to exactly `size` bytes. */
function paddedBody(size: number): string {
  const json = JSON.stringify(genBody(unique('size'), { seed: 1 }));
  return json + ' '.repeat(size - bytes(json).length);
}

describe('body size: 64 KiB', () => {
  it('exactly 64 KiB is accepted, one byte more is 413 (with Content-Length)', async () => {
    const ok = await send(bytes(paddedBody(LIMIT)), JSON_TYPE);
    expect(ok.r.status, ok.r.text()).toBe(200);
    expect(ok.originCalled).toBe(1);
    const r = await refused(bytes(paddedBody(LIMIT + 1)), JSON_TYPE, 413, 'payload_too_large');
    expect(r.json().error.param).toBeNull();
  });

  it('413 for a streamed body without Content-Length, and far over the limit', async () => {
    const okStream = await send(stream(paddedBody(LIMIT)), JSON_TYPE);
    expect(okStream.r.status, okStream.r.text()).toBe(200);
    await refused(stream(paddedBody(LIMIT + 1)), JSON_TYPE, 413, 'payload_too_large');
    await refused(stream(paddedBody(5 * LIMIT), 60_000), JSON_TYPE, 413, 'payload_too_large');
    await refused(bytes(`{"positive_prompt":"${'x'.repeat(2 * 1024 * 1024)}"}`), JSON_TYPE, 413, 'payload_too_large');
  });

  it('413 from a declared Content-Length over the limit', async () => {
    const req = new Request('http://gateway.test/image/generation', {
      method: 'POST',
      headers: { ...JSON_TYPE, authorization: `Bearer ${t.key}`, 'content-length': String(LIMIT + 1) },
      body: stream(paddedBody(LIMIT + 1)),
    });
    expect(req.headers.get('content-length')).toBe(String(LIMIT + 1));
    const { r } = await send(stream(paddedBody(LIMIT + 1)), { ...JSON_TYPE, 'content-length': String(LIMIT + 1) }, t);
    expectError(r, 413, 'payload_too_large');
    await expectNothingCharged(t);
  });
});

describe('content type', () => {
  const json = JSON.stringify(genBody('ct', { seed: 1 }));
  it('415 for text/plain, form data, no Content-Type, or an unknown JSON-ish type', async () => {
    for (const headers of <Record<string, string>[]>[
      { 'content-type': 'text/plain' },
      { 'content-type': 'text/plain;charset=UTF-8' },
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'multipart/form-data; boundary=x' },
      { 'content-type': 'application/jsonx' },
      { 'content-type': 'json' },
      {},
    ]) {
      const r = await refused(bytes(json), headers, 415, 'unsupported_media_type');
      expect(r.json().error.param).toBeNull();
    }
    await refused(null, {}, 415, 'unsupported_media_type');
    await expectNothingCharged(t);
  });

  it('application/json with parameters and in any case is JSON', async () => {
    for (const type of ['application/json; charset=utf-8', 'Application/JSON', 'application/json;charset=UTF-8']) {
      const { r, originCalled } = await send(bytes(JSON.stringify(genBody(unique('ct'), { seed: 1 }))), { 'content-type': type });
      expect(r.status, `${type}: ${r.text()}`).toBe(200);
      expect(originCalled).toBe(1);
    }
  });
});

describe('malformed JSON', () => {
  it('400 invalid_request for bodies that are not a JSON object', async () => {
    for (const text of ['', ' ', '{', '{"positive_prompt": "a",}', "{'positive_prompt': 'a'}", 'positive_prompt=a', '[]', '[{"positive_prompt":"a"}]', 'null', 'true', '42', '"a string"', '{"a":1}{"b":2}', '\u0000', '{"positive_prompt":"a"} x', 'NaN', '{"width": NaN}', '{"width": 0x100}']) {
      const r = await refused(bytes(text), JSON_TYPE, 400, 'invalid_request');
      expect(r.json().error.param, text).toBeNull();
    }
    await refused(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), JSON_TYPE, 400, 'invalid_request'); // invalid UTF-8
    await refused(null, JSON_TYPE, 400, 'invalid_request');
    await expectNothingCharged(t);
  });

  it('a duplicate key cannot smuggle a second value past validation', async () => {
    // JSON.parse keeps the last value; that value is what is validated and what is sent
    const r = await refused(bytes('{"positive_prompt":"a","width":512,"width":"512"}'), JSON_TYPE, 400, 'invalid_request');
    expect(r.json().error.param).toBe('width');
  });
});

// ------------------------------------------------------------------ fuzz

const FIELDS = ['model', 'positive_prompt', 'prompt', 'negative_prompt', 'width', 'height', 'steps', 'cfg', 'seed', 'output_format', 'step', 'n', '__proto__', 'constructor', 'toString', '', 'ünïcödé', '\u0000'];
const ODD_STRINGS = ['', ' ', '\u0000', '\ud800', '\udfff', '\u{1F680}'.repeat(50), '𝕏'.repeat(3), '\u202e', 'png', 'PNG', 'stabilityai/stable-diffusion-3.5-large', '../../etc/passwd', '<script>', "'; DROP TABLE tenants; --", '1e999', '-0', 'NaN', 'Infinity', 'x'.repeat(10_001)];
const ODD_NUMBERS = ['0', '-0', '1e308', '1e309', '-1e309', '1e-400', '4294967296', '4294967295', '9007199254740993', '123456789012345678901234567890', '0.1', '-1', '256', '2048', '1024.0000000000001', '7.5e0', '1E2'];

function randomJson(r: Random, depth: number): string {
  const kind = depth > 4 ? r.int(4) : r.int(8);
  switch (kind) {
    case 0:
      return r.pick(ODD_NUMBERS);
    case 1:
      return JSON.stringify(r.pick(ODD_STRINGS));
    case 2:
      return r.pick(['true', 'false', 'null']);
    case 3:
      return JSON.stringify(String.fromCodePoint(...Array.from({ length: r.int(20) }, () => r.int(0x10ffff + 1)).filter((c) => c < 0xd800 || c > 0xdfff)));
    case 4:
    case 5: {
      const entries = Array.from({ length: r.int(6) }, () => `${JSON.stringify(r.pick(FIELDS))}:${randomJson(r, depth + 1)}`);
      return `{${entries.join(',')}}`;
    }
    default:
      return `[${Array.from({ length: r.int(5) }, () => randomJson(r, depth + 1)).join(',')}]`;
  }
}

/** A generation body with one field replaced by something odd: close to valid, so validation (not the parser) answers. */
function nearlyValid(r: Random): string {
  const base: Record<string, string> = {
    positive_prompt: JSON.stringify(`fuzz ${r.int(1e9)}`),
    width: '256',
    height: '256',
    seed: String(r.int(1000)),
  };
  base[r.pick(FIELDS)] = randomJson(r, 2);
  return `{${Object.entries(base).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

function corpus(count: number): Uint8Array[] {
  // seeded, so the corpus is the same on every run and a failure can be replayed
  const r = seededRandom(0x1ea6a7e);
  const out: Uint8Array[] = [
    bytes('['.repeat(100_000)),
    bytes('['.repeat(20_000) + ']'.repeat(20_000)),
    bytes(`{"positive_prompt":"a","width":${'['.repeat(30_000)}${']'.repeat(30_000)}}`),
    bytes(`{"a":`.repeat(10_000) + '1' + '}'.repeat(10_000)),
    bytes(`{"positive_prompt":"a","width":1${'0'.repeat(60_000)}}`),
    bytes(`{"positive_prompt":"\\ud800\\udc00\\ud800","seed":1}`),
    bytes('{"positive_prompt":"\\u0000","width":256,"height":256}'),
    bytes('\ufeff{"positive_prompt":"bom"}'),
  ];
  while (out.length < count) {
    const k = r.int(4);
    if (k === 0) out.push(bytes(randomJson(r, 0)));
    else if (k === 1) out.push(bytes(nearlyValid(r)));
    else if (k === 2) out.push(new Uint8Array(1 + r.int(300)).map((_, i) => (r.int(256) + i) & 0xff));
    else {
      // a valid-looking body cut or corrupted at a random byte
      const text = bytes(nearlyValid(r));
      const at = r.int(text.length);
      out.push(r.int(2) === 0 ? text.slice(0, at) : text.map((b, i) => (i === at ? r.int(256) : b)));
    }
  }
  return out;
}

describe('fuzz: no malformed body produces a 500', () => {
  it('300 generated bodies: always an image or the envelope, never a 5xx, never a charge', async () => {
    const bodies = corpus(300);
    const { scenario, env } = loopback('fuzz');
    const fuzzer = await createTenantWithKey();
    let charged = 0n;
    const statuses = new Map<number, number>();
    let images = 0;
    for (let i = 0; i < bodies.length; i += 20) {
      const batch = bodies.slice(i, i + 20);
      const results = await Promise.all(
        batch.map((body) => call('POST', '/image/generation', { key: fuzzer.key, headers: JSON_TYPE, body, env })),
      );
      results.forEach((r, j) => {
        const which = `body #${i + j}: ${new TextDecoder().decode(batch[j]).slice(0, 120)}`;
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        expect(r.status, which).toBeLessThan(500);
        if (r.status === 200) {
          expect(isPng(r.bytes), which).toBe(true);
          charged += nanoOfUsd(r.headers.get('imagegate-cost-usd'));
          images++;
          return;
        }
        expectError(r, r.status, r.json().error.code);
        const code = r.json().error.code as ErrorCode;
        expect(ERROR_CODES[code].status, which).toBe(r.status);
        expect(['invalid_request', 'payload_too_large'], which).toContain(code);
      });
    }
    // the corpus mostly fails validation, but it must exercise both sides
    expect(statuses.get(400) ?? 0).toBeGreaterThan(200);
    expect((await originCalls(scenario)).length).toBe(images);
    // only the accepted ones were charged, each exactly what its answer said
    const after = await budgetState('key', fuzzer.keyId);
    expect(after.reservedNano).toBe(0n);
    expect(after.spentNano).toBe(charged);
    expect(images).toBeGreaterThan(0);
  });
});

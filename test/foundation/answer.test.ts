import { describe, expect, it } from 'vitest';
import { call, DEFAULT_MODEL, isPng, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { addKey, createTenantWithKey } from '../helpers/tenants';
import { pngSize } from './support';

/** The seed request of the issue, with a prompt of its own so no cache entry of another run answers it. */
const seedRequest = (prompt = unique('cinematic shot of a lone astronaut')) => ({
  model: DEFAULT_MODEL,
  positive_prompt: prompt,
  width: 1024,
  height: 1024,
  steps: 30,
  cfg: 7.5,
  seed: 42,
});

const JSON_FIELDS = ['cache', 'cost_usd', 'created', 'height', 'id', 'image_base64', 'model', 'output_format', 'seed', 'url', 'width'];

function fromBase64(text: string): Uint8Array {
  const bin = atob(text);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** Walks a PNG's chunks: every CRC right, IHDR first, IEND last, and IDAT inflating to exactly the rows IHDR promises. */
async function checkPng(bytes: Uint8Array): Promise<{ width: number; height: number }> {
  expect(isPng(bytes)).toBe(true);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (data: Uint8Array) => {
    let c = 0xffffffff;
    for (const b of data) c = (table[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const types: string[] = [];
  const idat: Uint8Array[] = [];
  let offset = 8;
  while (offset < bytes.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    expect(view.getUint32(offset + 8 + length), `CRC of ${type}`).toBe(crc(bytes.subarray(offset + 4, offset + 8 + length)));
    types.push(type);
    if (type === 'IDAT') idat.push(data);
    offset += 12 + length;
  }
  expect(offset).toBe(bytes.length);
  expect(types[0]).toBe('IHDR');
  expect(types.at(-1)).toBe('IEND');
  const { width, height } = pngSize(bytes);
  expect([...bytes.subarray(24, 29)]).toEqual([8, 2, 0, 0, 0]); // 8-bit RGB, the one layout the local origin writes
  const inflated = new Uint8Array(await new Response(new Blob(idat).stream().pipeThrough(new DecompressionStream('deflate'))).arrayBuffer());
  expect(inflated.length).toBe((width * 3 + 1) * height);
  return { width, height };
}

describe('the image answer', () => {
  it('the seed request: a 1024×1024 PNG with every header of docs/generation.md', async () => {
    const { key } = await createTenantWithKey();
    const r = await call('POST', '/image/generation', { key, json: seedRequest() });
    expect(r.status, r.text()).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/png');
    expect(r.headers.get('x-request-id')).toMatch(/^req_[0-9A-Za-z]{16,}$/);
    expect(r.headers.get('imagegate-origin')).toBe('local');
    expect(r.headers.get('imagegate-seed')).toBe('42');
    expect(r.headers.get('imagegate-cost-usd')).toBe('0.001992295');
    expect(await checkPng(r.bytes)).toEqual({ width: 1024, height: 1024 });
  });

  it('each request gets its own X-Request-Id', async () => {
    const { key } = await createTenantWithKey();
    const ids = new Set<string | null>();
    for (let i = 0; i < 3; i++) {
      const r = await call('POST', '/image/generation', { key, json: { positive_prompt: unique('rid'), width: 256, height: 256, seed: i } });
      ids.add(r.headers.get('x-request-id'));
    }
    ids.add((await call('GET', '/healthz')).headers.get('x-request-id'));
    expect(ids.size).toBe(4);
    expect(ids.has(null)).toBe(false);
  });

  it('the cost header follows docs/money.md: 40 steps, small sizes, rounding up', async () => {
    const { key } = await createTenantWithKey();
    const cost = async (width: number, height: number, steps: number) =>
      (await call('POST', '/image/generation', { key, json: { positive_prompt: unique('cost'), width, height, steps, seed: 1 } })).headers.get('imagegate-cost-usd');
    expect(await cost(1024, 1024, 40)).toBe('0.002492295');
    expect(await cost(256, 256, 30)).toBe('0.000124519'); // 65536 × 0.0019 / 1e6 = 0.0001245184 → up
    expect(await cost(256, 256, 1)).toBe('0.000124519'); // fewer steps than included cost no less
  });
});

describe('the JSON answer (Accept: application/json)', () => {
  it('has the fields of docs/generation.md, and its url serves the same bytes to the same tenant only', async () => {
    const owner = await createTenantWithKey();
    const sibling = await addKey(owner.tenantId);
    const stranger = await createTenantWithKey();
    const before = Math.floor(Date.now() / 1000);
    const r = await call('POST', '/image/generation', { key: owner.key, json: { ...seedRequest(), width: 768, height: 512 }, headers: { accept: 'application/json' } });
    expect(r.status, r.text()).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    const j = r.json();
    expect(Object.keys(j).sort()).toEqual(JSON_FIELDS);
    expect(j).toMatchObject({ model: DEFAULT_MODEL, seed: 42, width: 768, height: 512, output_format: 'png', cost_usd: '0.000747111', cache: 'miss' });
    expect(j.id).toMatch(/^img_[0-9A-Za-z]+$/);
    expect(j.created).toBeGreaterThanOrEqual(before);
    expect(j.created).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    expect(r.headers.get('imagegate-seed')).toBe('42');
    expect(r.headers.get('imagegate-cost-usd')).toBe('0.000747111');
    const image = fromBase64(j.image_base64);
    expect(await checkPng(image)).toEqual({ width: 768, height: 512 });

    const url = new URL(j.url);
    expect(url.pathname).toBe(`/v1/images/${j.id}`);
    for (const key of [owner.key, sibling.key]) {
      const g = await call('GET', url.pathname, { key });
      expect(g.status).toBe(200);
      expect(g.headers.get('content-type')).toBe('image/png');
      expect(g.bytes).toEqual(image);
    }
    const x = await call('GET', url.pathname, { headers: { 'x-api-key': owner.key } });
    expect(x.status).toBe(200);
    expectError(await call('GET', url.pathname, { key: stranger.key }), 404, 'not_found');
    expectError(await call('GET', url.pathname), 401, 'unauthorized');
    expectError(await call('GET', `/v1/images/${j.id}x`, { key: owner.key }), 404, 'not_found');
    expectError(await call('GET', '/v1/images/..%2F..%2Fimages', { key: owner.key }), 404, 'not_found');
  });

  it('every answer is an image of its own id, even for the same request', async () => {
    const { key } = await createTenantWithKey();
    const body = seedRequest();
    const a = await call('POST', '/image/generation', { key, json: body, headers: { accept: 'application/json' } });
    const b = await call('POST', '/image/generation', { key, json: body, headers: { accept: 'application/json' } });
    expect(a.json().id).not.toBe(b.json().id);
    expect(b.json().image_base64).toBe(a.json().image_base64);
    for (const j of [a.json(), b.json()]) expect((await call('GET', new URL(j.url).pathname, { key })).status).toBe(200);
  });

  it('Accept: image/png or */* gets the bytes; application/json;q=0 does not', async () => {
    const { key } = await createTenantWithKey();
    for (const accept of ['image/png', '*/*', 'image/*', 'application/json;q=0']) {
      const r = await call('POST', '/image/generation', { key, json: { positive_prompt: unique('accept'), width: 256, height: 256, seed: 2 }, headers: { accept } });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type'), accept).toBe('image/png');
    }
    const r = await call('POST', '/image/generation', { key, json: { positive_prompt: unique('accept'), width: 256, height: 256, seed: 2 }, headers: { accept: 'image/png;q=0.5, application/json' } });
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  });
});

describe('seeds', () => {
  it('an unseeded request is given a seed in 1..4294967294, reported in the header and the JSON', async () => {
    const { key } = await createTenantWithKey();
    const seeds = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const r = await call('POST', '/image/generation', { key, json: { positive_prompt: unique('unseeded'), width: 256, height: 256 }, headers: { accept: 'application/json' } });
      expect(r.status, r.text()).toBe(200);
      const header = r.headers.get('imagegate-seed') ?? '';
      expect(header).toMatch(/^[1-9]\d*$/);
      const seed = Number(header);
      expect(seed).toBeGreaterThanOrEqual(1);
      expect(seed).toBeLessThanOrEqual(4294967294);
      expect(r.json().seed).toBe(seed);
      seeds.add(seed);
    }
    expect(seeds.size).toBeGreaterThan(1);
  });

  it('the drawn seed reproduces the image', async () => {
    const owner = await createTenantWithKey();
    const other = await createTenantWithKey(); // another tenant: its private cache cannot answer
    const prompt = unique('reproduce');
    const first = await call('POST', '/image/generation', { key: owner.key, json: { positive_prompt: prompt, width: 256, height: 256 } });
    const seed = Number(first.headers.get('imagegate-seed'));
    const again = await call('POST', '/image/generation', { key: other.key, json: { positive_prompt: prompt, width: 256, height: 256, seed } });
    expect(again.headers.get('imagegate-origin')).toBe('local');
    expect(again.bytes).toEqual(first.bytes);
  });
});

describe('the local origin', () => {
  it('is deterministic: same prompt and seed → same bytes; another seed or prompt → other bytes', async () => {
    const a = await createTenantWithKey();
    const b = await createTenantWithKey(); // separate tenants, so each answer comes from the origin, not a cache
    const prompt = unique('deterministic');
    const gen = async (key: string, extra: Record<string, unknown>) => {
      const r = await call('POST', '/image/generation', { key, json: { positive_prompt: prompt, width: 320, height: 256, seed: 7, ...extra } });
      expect(r.status, r.text()).toBe(200);
      expect(r.headers.get('imagegate-origin')).toBe('local');
      return r.bytes;
    };
    const one = await gen(a.key, {});
    const two = await gen(b.key, {});
    expect(two).toEqual(one);
    const otherSeed = await gen(a.key, { seed: 8 });
    const otherPrompt = await gen(a.key, { positive_prompt: `${prompt}!` });
    const otherCfg = await gen(a.key, { cfg: 3 });
    for (const other of [otherSeed, otherPrompt, otherCfg]) expect(other).not.toEqual(one);
    expect(otherSeed).not.toEqual(otherPrompt);
  });

  it('answers a valid PNG of exactly the requested width × height', async () => {
    const { key } = await createTenantWithKey();
    for (const [width, height] of [
      [256, 256],
      [512, 768],
      [2048, 256],
      [256, 2048],
      [1040, 272],
    ] as const) {
      const r = await call('POST', '/image/generation', { key, json: { positive_prompt: unique('size'), width, height, seed: width + height } });
      expect(r.status, r.text()).toBe(200);
      expect(await checkPng(r.bytes)).toEqual({ width, height });
    }
  });

  it('answers PNG whatever output_format asks, and says so', async () => {
    const { key } = await createTenantWithKey();
    for (const output_format of ['jpeg', 'webp']) {
      const r = await call('POST', '/image/generation', { key, json: { positive_prompt: unique('fmt'), width: 256, height: 256, seed: 3, output_format }, headers: { accept: 'application/json' } });
      expect(r.status, r.text()).toBe(200);
      expect(r.json().output_format).toBe('png');
      expect(isPng(fromBase64(r.json().image_base64))).toBe(true);
      const bytes = await call('POST', '/image/generation', { key, json: { positive_prompt: unique('fmt'), width: 256, height: 256, seed: 3, output_format } });
      expect(bytes.headers.get('content-type')).toBe('image/png');
    }
  });
});

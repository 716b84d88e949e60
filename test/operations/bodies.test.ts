import { beforeAll, describe, expect, it } from 'vitest';
import { call, genBody, loopback, originCalls, unique, type CallResult } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { expectNothingCharged } from '../helpers/money';
import { createTenantWithKey, type TenantKey } from '../helpers/tenants';

/** Bodies that cannot be used (docs/operations.md, "Bodies"): refused before any charge or origin call. */

let t: TenantKey;
beforeAll(async () => {
  t = await createTenantWithKey();
});

const JSON_TYPE = { 'content-type': 'application/json' };
const bytes = (text: string) => new TextEncoder().encode(text);

/** A body that sends `text` and then fails, as when the client goes away mid-request. */
function failingStream(text: string): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    pull(controller) {
      if (sent) return controller.error(new Error('the client went away'));
      sent = true;
      controller.enqueue(bytes(text));
    },
  });
}

async function sendTo(path: string, init: { body?: BodyInit; json?: unknown; headers?: Record<string, string> }): Promise<{ r: CallResult; calls: number }> {
  const { scenario, env } = loopback('ops-body');
  const r = await call('POST', path, { key: t.key, env, ...init });
  return { r, calls: (await originCalls(scenario)).length };
}

describe('a body that cannot be read to its end', () => {
  it('is 400 invalid_request on both generation routes, never a 500; nothing charged, no origin called', async () => {
    for (const path of ['/image/generation', '/v1/images/generations']) {
      const { r, calls } = await sendTo(path, { body: failingStream('{"positive_prompt": "a cat'), headers: JSON_TYPE });
      expect(expectError(r, 400, 'invalid_request', { param: null })).toContain('could not be read to its end');
      expect(calls).toBe(0);
    }
    // a stream that fails before its first byte
    const empty = new ReadableStream<Uint8Array>({ pull: (controller) => controller.error(new Error('reset')) });
    expectError((await sendTo('/image/generation', { body: empty, headers: JSON_TYPE })).r, 400, 'invalid_request');
    await expectNothingCharged(t);
  });
});

describe('Content-Encoding', () => {
  it('anything but identity is 415 unsupported_media_type; nothing charged, no origin called', async () => {
    const body = JSON.stringify(genBody(unique('enc'), { seed: 3 }));
    for (const coding of ['gzip', 'deflate', 'br', 'identity, gzip', 'x-unknown']) {
      const { r, calls } = await sendTo('/image/generation', { body: bytes(body), headers: { ...JSON_TYPE, 'content-encoding': coding } });
      expect(expectError(r, 415, 'unsupported_media_type', { param: null }), coding).toContain('Content-Encoding');
      expect(calls).toBe(0);
    }
    await expectNothingCharged(t);
  });

  it('identity (or none) is read as it is', async () => {
    const ok = await createTenantWithKey();
    for (const coding of ['identity', 'Identity', '']) {
      const { scenario, env } = loopback('ops-identity');
      const headers: Record<string, string> = coding === '' ? {} : { 'content-encoding': coding };
      const r = await call('POST', '/image/generation', { key: ok.key, env, json: genBody(unique('id'), { seed: 4 }), headers });
      expect(r.status, r.text()).toBe(200);
      expect(await originCalls(scenario)).toHaveLength(1);
    }
  });
});

describe('a prompt that draws nothing', () => {
  const cases: [string, string][] = [
    ['only spaces and tabs', ' \t \n '],
    ['only zero-width characters', '\u200b\u200c\u200d\u2060\ufeff'],
    ['only control characters', '\u0001\u0007\u001b'],
    ['a NUL inside text', 'a cat\u0000 on a mat'],
    ['an unpaired high surrogate', 'a cat \ud83d'],
    ['an unpaired low surrogate', '\udc00 a cat'],
  ];

  it.each(cases)('%s: 400 naming the field, on both routes and under both Qubrid names; nothing charged', async (_label, prompt) => {
    for (const [path, field] of [
      ['/image/generation', 'positive_prompt'],
      ['/image/generation', 'prompt'],
      ['/v1/images/generations', 'prompt'],
    ] as const) {
      const json = path === '/image/generation' ? { [field]: prompt, width: 256, height: 256, seed: 1 } : { prompt, size: '256x256', seed: 1 };
      const { r, calls } = await sendTo(path, { json });
      expect(expectError(r, 400, 'invalid_request', { param: field })).toMatch(new RegExp(`^'${field}' must`));
      expect(calls).toBe(0);
    }
    await expectNothingCharged(t);
  });

  it('a prompt with visible text around invisible characters, and astral characters in proper pairs, is fine', async () => {
    const ok = await createTenantWithKey();
    for (const prompt of ['\u200b a cat \u200b', '\u{1F408} on a mat', '  cat  ']) {
      const { env } = loopback('ops-visible');
      const r = await call('POST', '/image/generation', { key: ok.key, env, json: { positive_prompt: prompt, width: 256, height: 256, seed: 2 } });
      expect(r.status, r.text()).toBe(200);
    }
  });
});

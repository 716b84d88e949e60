import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { bytesFromBase64 } from '../../src/domain/image-format';
import { imageLinkProblems } from '../../src/services/image-links';
import { appWithClock, call, clockedApp, genBody, loopback, unique, type CallResult, type TestEnv } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { expectNoCharge } from '../helpers/money';
import { createTenantWithKey, type TenantKey } from '../helpers/tenants';

/**
 * Image links that work in a browser (docs/generation.md): the `url` of a generation answer is
 * `/v1/images/{id}?exp=…&sig=…`, good with no key until `exp` (the second `exp` itself is too
 * late), and only for the image it was made for. All on a fixed clock.
 */

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const T0_S = T0 / 1000;

/** One generation on the Qubrid route with a JSON answer. */
async function generated(t: TenantKey, app: ReturnType<typeof appWithClock>, e: TestEnv = env, extra: Record<string, unknown> = {}) {
  const { scenario, env: origin } = loopback('link');
  const r = await call('POST', '/image/generation', {
    key: t.key,
    json: genBody(scenario, { seed: 21, ...extra }),
    headers: { accept: 'application/json' },
    env: { ...origin, ...e, ORIGINS: origin.ORIGINS } as TestEnv,
    app,
  });
  expect(r.status, r.text()).toBe(200);
  const j = r.json<{ id: string; url: string; image_base64: string }>();
  return { id: j.id, url: new URL(j.url), bytes: bytesFromBase64(j.image_base64) };
}

/** A GET of `url` (path and query) as a browser sends it: no key. */
const open = (url: URL | string, app: ReturnType<typeof appWithClock>, options: { key?: string; env?: TestEnv } = {}): Promise<CallResult> => {
  const u = typeof url === 'string' ? new URL(url, 'http://gateway.test') : url;
  return call('GET', u.pathname + u.search, { app, ...options });
};

const withQuery = (url: URL, changes: Record<string, string>) => {
  const u = new URL(url.href);
  for (const [k, v] of Object.entries(changes)) u.searchParams.set(k, v);
  return u;
};

describe('the url of a generation answer', () => {
  it('is absolute and signed, and expires IMAGE_URL_TTL_SECONDS (default 3600) after the answer', async () => {
    const t = await createTenantWithKey();
    const { app } = clockedApp(T0);
    const { id, url } = await generated(t, app);
    expect(url.origin).toBe('http://gateway.test');
    expect(url.pathname).toBe(`/v1/images/${id}`);
    expect(url.searchParams.get('exp')).toBe(String(T0_S + 3600));
    expect(url.searchParams.get('sig')).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const short = await generated(t, app, { ...env, IMAGE_URL_TTL_SECONDS: '60' } as TestEnv, { seed: 22 });
    expect(short.url.searchParams.get('exp')).toBe(String(T0_S + 60));
  });

  it('opens the image with no key until exp − 1, then 403 forbidden saying it expired, charging nothing', async () => {
    const t = await createTenantWithKey();
    const { clock, app } = clockedApp(T0);
    const { url, bytes } = await generated(t, app);
    const exp = Number(url.searchParams.get('exp'));

    clock.now = (exp - 1) * 1000;
    const r = await open(url, app);
    expect(r.status, r.text()).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/png');
    expect(r.headers.get('cache-control')).toBe('private, max-age=1');
    expect(r.bytes).toEqual(bytes);

    clock.now = (exp - 1800) * 1000;
    expect((await open(url, app)).headers.get('cache-control')).toBe('private, max-age=1800');

    await expectNoCharge(t, async () => {
      for (const at of [exp, exp + 1, exp + 86_400]) {
        clock.now = at * 1000;
        expect(expectError(await open(url, app), 403, 'forbidden')).toMatch(/expired/);
      }
    });
  });

  it('refuses a tampered link with 403 saying the signature is wrong: another exp, sig or id', async () => {
    const t = await createTenantWithKey();
    const { app } = clockedApp(T0);
    const first = await generated(t, app);
    const second = await generated(t, app, env, { seed: 23 });
    const sig = first.url.searchParams.get('sig') ?? '';
    const exp = Number(first.url.searchParams.get('exp'));
    const tampered = [
      withQuery(first.url, { exp: String(exp + 3600) }),
      withQuery(first.url, { exp: String(exp - 1) }),
      withQuery(first.url, { sig: (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1) }),
      // the same tenant's other image, with the first image's exp and sig
      new URL(`/v1/images/${second.id}${first.url.search}`, first.url),
    ];
    await expectNoCharge(t, async () => {
      for (const url of tampered) expect(expectError(await open(url, app), 403, 'forbidden'), url.href).toMatch(/wrong signature/);
    });
  });

  it("never opens another tenant's image with a signature made for a different id", async () => {
    const owner = await createTenantWithKey();
    const other = await createTenantWithKey();
    const { app } = clockedApp(T0);
    const mine = await generated(owner, app);
    const theirs = await generated(other, app, env, { seed: 24 });
    const r = await open(new URL(`/v1/images/${theirs.id}${mine.url.search}`, mine.url), app);
    expect(expectError(r, 403, 'forbidden')).toMatch(/wrong signature/);
    // and a link with a key judges the link, not the key
    const withKey = await open(new URL(`/v1/images/${theirs.id}${mine.url.search}`, mine.url), app, { key: owner.key });
    expectError(withKey, 403, 'forbidden');
  });

  it('refuses a link with only one of exp and sig, or a malformed one, as 403', async () => {
    const t = await createTenantWithKey();
    const { app } = clockedApp(T0);
    const { id, url } = await generated(t, app);
    for (const query of [`?exp=${url.searchParams.get('exp')}`, `?sig=${url.searchParams.get('sig')}`, `?exp=soon&sig=${url.searchParams.get('sig')}`, '?exp=&sig=']) {
      expect(expectError(await open(`/v1/images/${id}${query}`, app), 403, 'forbidden'), query).toMatch(/malformed/);
    }
  });

  it("still opens with the tenant's key and no signature, and 404s for anybody else's key", async () => {
    const owner = await createTenantWithKey();
    const other = await createTenantWithKey();
    const { app } = clockedApp(T0);
    const { id, bytes } = await generated(owner, app);
    const r = await open(`/v1/images/${id}`, app, { key: owner.key });
    expect(r.status, r.text()).toBe(200);
    expect(r.bytes).toEqual(bytes);
    expect(r.headers.get('cache-control')).toBe('private, max-age=86400, immutable');
    expectError(await open(`/v1/images/${id}`, app, { key: other.key }), 404, 'not_found');
    expectError(await open(`/v1/images/${id}`, app), 401, 'unauthorized');
  });
});

describe('the OpenAI route with response_format "url"', () => {
  it('gives one signed link per image, each opening its own image with no key', async () => {
    const t = await createTenantWithKey();
    const { app } = clockedApp(T0);
    const { scenario, env: e } = loopback('openai-link');
    const r = await call('POST', '/v1/images/generations', {
      key: t.key,
      json: { prompt: `p ${scenario}`, size: '256x256', n: 2, seed: 40, response_format: 'url' },
      env: e,
      app,
    });
    expect(r.status, r.text()).toBe(200);
    const urls = r.json<{ data: { url: string }[] }>().data.map((d) => new URL(d.url));
    expect(urls).toHaveLength(2);
    const [a, b] = urls as [URL, URL];
    for (const url of urls) {
      expect(url.searchParams.get('exp')).toBe(String(T0_S + 3600));
      const image = await open(url, app);
      expect(image.status, image.text()).toBe(200);
      expect(image.headers.get('content-type')).toBe('image/png');
    }
    expect((await open(a, app)).bytes).not.toEqual((await open(b, app)).bytes);
    expectError(await open(new URL(`${b.pathname}${a.search}`, a), app), 403, 'forbidden');
  });
});

describe('an Idempotency-Key replay', () => {
  it('answers the same body, whose link still opens the image until it expires', async () => {
    const t = await createTenantWithKey();
    const { clock, app } = clockedApp(T0);
    const { scenario, env: e } = loopback('replay-link');
    const ask = () =>
      call('POST', '/image/generation', {
        key: t.key,
        json: genBody(scenario, { seed: 31 }),
        headers: { accept: 'application/json', 'idempotency-key': unique('idem') },
        env: e,
        app,
      });
    const idem = unique('idem');
    const first = await call('POST', '/image/generation', { key: t.key, json: genBody(scenario, { seed: 31 }), headers: { accept: 'application/json', 'idempotency-key': idem }, env: e, app });
    expect(first.status, first.text()).toBe(200);
    clock.now += 600_000;
    const replay = await call('POST', '/image/generation', { key: t.key, json: genBody(scenario, { seed: 31 }), headers: { accept: 'application/json', 'idempotency-key': idem }, env: e, app });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.text()).toBe(first.text());
    const url = new URL(replay.json<{ url: string }>().url);
    const image = await open(url, app);
    expect(image.status, image.text()).toBe(200);
    expect(image.bytes).toEqual(bytesFromBase64(first.json<{ image_base64: string }>().image_base64));
    // a fresh key (not a replay) is a cache hit with a fresh link
    const fresh = await ask();
    expect(new URL(fresh.json<{ url: string }>().url).searchParams.get('exp')).toBe(String(T0_S + 600 + 3600));
  });
});

describe('without IMAGE_URL_SECRET', () => {
  const unsigned = { ...env, IMAGE_URL_SECRET: undefined } as unknown as TestEnv;

  it('answers the unsigned link, which needs the key, and the health problems say so', async () => {
    const t = await createTenantWithKey();
    const { app } = clockedApp(T0);
    const { id, url, bytes } = await generated(t, app, unsigned);
    expect(url.href).toBe(`http://gateway.test/v1/images/${id}`);
    expectError(await open(url, app, { env: unsigned }), 401, 'unauthorized');
    expect((await open(url, app, { env: unsigned, key: t.key })).bytes).toEqual(bytes);

    const signed = await generated(t, app, env, { seed: 25 });
    expect(expectError(await open(signed.url, app, { env: unsigned }), 403, 'forbidden')).toMatch(/IMAGE_URL_SECRET is not set/);

    expect(imageLinkProblems(unsigned)).toEqual([expect.stringMatching(/^IMAGE_URL_SECRET is not set/)]);
    expect(imageLinkProblems(env)).toEqual([]);
    expect(imageLinkProblems({ ...env, IMAGE_URL_TTL_SECONDS: 'an hour' } as TestEnv)).toEqual([expect.stringMatching(/^IMAGE_URL_TTL_SECONDS /)]);
  });
});

describe('the OpenAPI document', () => {
  it('declares exp and sig as query parameters, a 403, and that a signed link needs no key', async () => {
    const doc = (await call('GET', '/openapi.json')).json<{ paths: Record<string, { get: any }> }>();
    const op = doc.paths['/v1/images/{id}']?.get;
    const query = (op.parameters as { in: string; name: string; required?: boolean }[]).filter((p) => p.in === 'query');
    expect(query.map((p) => [p.name, p.required ?? false])).toEqual([
      ['exp', false],
      ['sig', false],
    ]);
    expect(op.responses['403'].description).toMatch(/signed link/);
    expect(op.security).toEqual([{ tenantKey: [] }, { tenantApiKey: [] }, {}]);
  });
});

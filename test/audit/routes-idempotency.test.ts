import { describe, expect, it } from 'vitest';
import { call, clockedApp, envWith, loopback, originCalls, testOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { budgetState } from '../helpers/money';
import { addKey, createTenantWithKey } from '../helpers/tenants';

/** Audit of docs/cache.md `Idempotency-Key` (and its error codes, docs/errors.md) on the OpenAI route, and its tenant scope. */
describe('Idempotency-Key on POST /v1/images/generations', () => {
  it('409 while the first runs, then the replay: Idempotent-Replayed true, cost 0, same body; one origin call, one charge', async () => {
    const t = await createTenantWithKey({ key: { budget_usd: '1' } });
    const { scenario, env: e } = loopback('audit-oa-idem', 'slow-500');
    const headers = { 'idempotency-key': unique('ik') };
    const json = { prompt: `idem ${scenario}`, size: '256x256', seed: 21, n: 2 };
    const first = call('POST', '/v1/images/generations', { key: t.key, env: e, json, headers });
    await new Promise((r) => setTimeout(r, 150));
    const during = await call('POST', '/v1/images/generations', { key: t.key, env: e, json, headers });
    expectError(during, 409, 'idempotency_in_progress');
    expect(during.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/);
    const done = await first;
    expect(done.status).toBe(200);
    expect(done.headers.get('imagegate-cost-usd')).toBe('0.000249038');

    // the same request written differently: field order, spacing, a default written out
    const body = `{"n":2,  "seed":21, "response_format":"b64_json", "size":"256x256", "prompt":${JSON.stringify(json.prompt)}, "model": null}`;
    const again = await call('POST', '/v1/images/generations', { key: t.key, env: e, body, headers: { ...headers, 'content-type': 'application/json' } });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('imagegate-cost-usd')).toBe('0');
    expect(again.headers.get('content-type')).toMatch(/^application\/json/);
    expect(again.text()).toBe(done.text());
    expect(again.headers.get('x-request-id')).not.toBe(done.headers.get('x-request-id'));
    expect(await originCalls(scenario)).toHaveLength(2); // n = 2, once
    expect((await budgetState('key', t.keyId)).spentNano).toBe(249_038n);

    // another response_format is another request: 422, nothing run, nothing charged
    const other = await call('POST', '/v1/images/generations', { key: t.key, env: e, json: { ...json, response_format: 'url' }, headers });
    expectError(other, 422, 'idempotency_key_reused');
    expect(await originCalls(scenario)).toHaveLength(2);
    expect(await budgetState('key', t.keyId)).toMatchObject({ spentNano: 249_038n, reservedNano: 0n });
  });

  it('is scoped to the tenant: a sibling key replays, another tenant runs its own', async () => {
    const a = await createTenantWithKey();
    const sibling = await addKey(a.tenantId);
    const b = await createTenantWithKey();
    const { scenario, env: e } = loopback('audit-idem-scope');
    const headers = { 'idempotency-key': unique('ik') };
    const json = { prompt: `scope ${scenario}`, size: '256x256' };
    const first = await call('POST', '/v1/images/generations', { key: a.key, env: e, json, headers });
    expect(first.status).toBe(200);
    const fromSibling = await call('POST', '/v1/images/generations', { key: sibling.key, env: e, json, headers });
    expect(fromSibling.headers.get('idempotent-replayed')).toBe('true');
    expect(fromSibling.text()).toBe(first.text());
    const fromB = await call('POST', '/v1/images/generations', { key: b.key, env: e, json, headers });
    expect(fromB.status).toBe(200);
    expect(fromB.headers.get('idempotent-replayed')).toBeNull();
    expect(await originCalls(scenario)).toHaveLength(2);
    expect((await budgetState('key', b.keyId)).spentNano).toBe(124_519n);
  });

  it('a no-store answer is replayed too, and its url still serves the image', async () => {
    const { key } = await createTenantWithKey();
    const headers = { 'idempotency-key': unique('ik'), 'cache-control': 'no-store' };
    const json = { prompt: unique('nostore-idem'), size: '256x256', seed: 4, response_format: 'url' };
    const first = await call('POST', '/v1/images/generations', { key, json, headers });
    const again = await call('POST', '/v1/images/generations', { key, json, headers });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('cache-status')).toBe('imagegate; fwd=request');
    const url = new URL(again.json().data[0].url as string);
    expect(url.href).toBe(first.json().data[0].url);
    expect((await call('GET', url.pathname, { key })).status).toBe(200);
  });
});

describe('Idempotency-Key while a long generation is still running', () => {
  it('a retry is a 409, not a second run, for as long as ORIGIN_DEADLINE_MS lets the first one run', async () => {
    // an operator allowed 30 minutes for an origin chain (ORIGIN_DEADLINE_MS accepts up to an hour)
    const { clock, app } = clockedApp(Date.UTC(2032, 6, 1, 9, 0, 0));
    const t = await createTenantWithKey();
    const scenario = unique('audit-idem-long');
    const e = envWith([testOrigin(scenario, 'slow-800')], { ORIGIN_DEADLINE_MS: '1800000' });
    const headers = { 'idempotency-key': unique('ik') };
    const json = { prompt: `long ${scenario}`, size: '256x256' }; // unseeded: nothing to coalesce with
    const first = call('POST', '/v1/images/generations', { app, key: t.key, env: e, json, headers });
    await new Promise((r) => setTimeout(r, 300));
    // 16 minutes into the first generation, well within its 30-minute deadline, the client retries
    clock.now += 16 * 60_000;
    const retry = await call('POST', '/v1/images/generations', { app, key: t.key, env: e, json, headers });
    expectError(retry, 409, 'idempotency_in_progress');
    expect((await first).status).toBe(200);
    expect(await originCalls(scenario)).toHaveLength(1);
    expect((await budgetState('key', t.keyId)).spentNano).toBe(124_519n);
  });
});

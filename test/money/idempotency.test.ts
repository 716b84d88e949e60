import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { claimKey } from '../../src/storage/idempotency';
import { IDEMPOTENCY_TTL_MS, requestLifetimes } from '../../src/domain/lifetimes';
import { originDeadlineMs } from '../../src/origins/config';
import { appWithClock, call, genBody, isPng, loopback, originCalls, scriptOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { BIG, budgetState, expectBooksBalanced, IMAGE_NANO, ledger } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';

const IDEMPOTENCY_LEASE_MS = requestLifetimes(originDeadlineMs({})).idempotencyLeaseMs;

/** docs/cache.md and docs/errors.md: Idempotency-Key on a generation (IETF httpapi draft). */
describe('Idempotency-Key', () => {
  it('a retry with the same key and the same body gets the same answer, charged once', async () => {
    const { key, keyId, tenantId } = await createTenantWithKey({ key: { budget_usd: '1' } });
    const { scenario, env: e } = loopback('idem-same');
    const ik = unique('ik');
    const first = await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { ...BIG, seed: 5 }), headers: { 'idempotency-key': ik } });
    expect(first.status).toBe(200);
    expect(isPng(first.bytes)).toBe(true);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(first.headers.get('imagegate-cost-usd')).toBe('0.001992295');
    // the same request, with the fields in another order, other spacing, and a default written out
    const { positive_prompt } = genBody(scenario);
    const reordered = `{ "seed": 5,   "steps": 30, "height": 1024, "width": 1024, "cfg": 7.5, "positive_prompt": ${JSON.stringify(positive_prompt)} }`;
    const again = await call('POST', '/image/generation', {
      key,
      env: e,
      body: reordered,
      headers: { 'content-type': 'application/json', 'idempotency-key': `"${ik}"` },
    });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('imagegate-cost-usd')).toBe('0');
    expect(again.headers.get('imagegate-seed')).toBe('5');
    expect(again.headers.get('content-type')).toBe('image/png');
    expect(again.headers.get('imagegate-budget-remaining-usd')).toBe('0.998007705');
    expect(again.bytes).toEqual(first.bytes);
    expect(again.headers.get('x-request-id')).not.toBe(first.headers.get('x-request-id'));
    expect(await originCalls(scenario)).toHaveLength(1);
    expect((await budgetState('key', keyId)).spentNano).toBe(IMAGE_NANO);
    expect(await ledger('key_id', keyId)).toHaveLength(1);
    await expectBooksBalanced([keyId], tenantId);
  });

  it('replays a JSON answer byte for byte', async () => {
    const { key } = await createTenantWithKey();
    const { scenario, env: e } = loopback('idem-json');
    const headers = { 'idempotency-key': unique('ik'), accept: 'application/json' };
    const first = await call('POST', '/image/generation', { key, env: e, json: genBody(scenario), headers });
    const again = await call('POST', '/image/generation', { key, env: e, json: genBody(scenario), headers });
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.text()).toBe(first.text());
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await originCalls(scenario)).toHaveLength(1);
  });

  it('the same key with a different body is a 422 and charges nothing', async () => {
    const { key, keyId, tenantId } = await createTenantWithKey();
    const { scenario, env: e } = loopback('idem-reuse');
    const headers = { 'idempotency-key': unique('ik') };
    expect((await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { seed: 1 }), headers })).status).toBe(200);
    const other = await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { seed: 2 }), headers });
    expectError(other, 422, 'idempotency_key_reused');
    expect(await originCalls(scenario)).toHaveLength(1);
    expect(await ledger('key_id', keyId)).toHaveLength(1);
    await expectBooksBalanced([keyId], tenantId);
  });

  it('concurrent retries: one runs, the others get 409 or the replay; one charge at most', async () => {
    const { key, keyId, tenantId } = await createTenantWithKey({ key: { budget_usd: '1' } });
    const { scenario, env: e } = loopback('idem-race', 'slow-300');
    const headers = { 'idempotency-key': unique('ik') };
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { ...BIG, seed: 9 }), headers })),
    );
    const fresh = answers.filter((r) => r.status === 200 && r.headers.get('idempotent-replayed') === null);
    const replayed = answers.filter((r) => r.status === 200 && r.headers.get('idempotent-replayed') === 'true');
    const conflicts = answers.filter((r) => r.status === 409);
    expect(fresh).toHaveLength(1);
    expect(fresh.length + replayed.length + conflicts.length).toBe(12);
    expect(conflicts.length).toBeGreaterThan(0);
    for (const r of conflicts) expectError(r, 409, 'idempotency_in_progress');
    for (const r of replayed) expect(r.bytes).toEqual(fresh[0]!.bytes);
    expect(await originCalls(scenario)).toHaveLength(1);
    expect((await budgetState('key', keyId)).spentNano).toBe(IMAGE_NANO);
    await expectBooksBalanced([keyId], tenantId);
    // after it finished, a retry is a replay
    const later = await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { ...BIG, seed: 9 }), headers });
    expect(later.headers.get('idempotent-replayed')).toBe('true');
  });

  it('keys are scoped to the tenant', async () => {
    const a = await createTenantWithKey();
    const b = await createTenantWithKey();
    const { scenario, env: e } = loopback('idem-scope');
    const headers = { 'idempotency-key': unique('ik') };
    expect((await call('POST', '/image/generation', { key: a.key, env: e, json: genBody(scenario, { seed: 1 }), headers })).status).toBe(200);
    const other = await call('POST', '/image/generation', { key: b.key, env: e, json: genBody(scenario, { seed: 2 }), headers });
    expect(other.status).toBe(200);
    expect(other.headers.get('idempotent-replayed')).toBeNull();
    expect(await originCalls(scenario)).toHaveLength(2);
  });

  it('a failed attempt is not stored: the retry really runs, and is charged once', async () => {
    const { key, keyId, tenantId } = await createTenantWithKey();
    const { scenario, env: e } = loopback('idem-fail');
    await scriptOrigin(scenario, ['500']);
    const headers = { 'idempotency-key': unique('ik') };
    const failed = await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { seed: 3 }), headers });
    expect(failed.status).toBe(502);
    const retry = await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { seed: 3 }), headers });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect((await budgetState('key', keyId)).spentNano).toBe(124_519n);
    await expectBooksBalanced([keyId], tenantId);
  });

  it("an origin's refusal (400) is stored and replayed: the same request would be refused again", async () => {
    const { key, keyId, tenantId } = await createTenantWithKey();
    const { scenario, env: e } = loopback('idem-400', '400');
    const headers = { 'idempotency-key': unique('ik') };
    const first = await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { seed: 8 }), headers });
    expect(first.status).toBe(400);
    const again = await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { seed: 8 }), headers });
    expect(again.status).toBe(400);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.json().error).toEqual(first.json().error);
    expect(await originCalls(scenario)).toHaveLength(1);
    await expectBooksBalanced([keyId], tenantId);
  });

  it('a budget refusal is not stored either: after the budget is raised, the retry runs', async () => {
    const { key, keyId, tenantId } = await createTenantWithKey({ key: { budget_usd: '0' } });
    const { scenario, env: e } = loopback('idem-402');
    const headers = { 'idempotency-key': unique('ik') };
    expect((await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { seed: 3 }), headers })).status).toBe(402);
    await call('PATCH', `/admin/keys/${keyId}`, { admin: true, json: { budget_usd: '1' } });
    expect((await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { seed: 3 }), headers })).status).toBe(200);
    await expectBooksBalanced([keyId], tenantId);
  });

  it('a running record whose worker died blocks only until its lease runs out', async () => {
    let now = Date.UTC(2033, 4, 2, 12, 0, 0);
    const app = appWithClock(() => now);
    const { key, tenantId, keyId } = await createTenantWithKey();
    const { scenario, env: e } = loopback('idem-dead');
    const ik = unique('ik');
    const body = genBody(scenario, { seed: 4 });
    // a first attempt claims the key, then its worker dies: seen from outside, the same as this
    const first = await call('POST', '/image/generation', { app, key, env: e, json: body, headers: { 'idempotency-key': ik } });
    expect(first.status).toBe(200);
    await env.DB.prepare("UPDATE idempotency_records SET state = 'running', owner = 'req_dead', lease_until = ? WHERE tenant_id = ? AND idem_key = ?")
      .bind(now + IDEMPOTENCY_LEASE_MS, tenantId, ik)
      .run();
    now += 60_000;
    const blocked = await call('POST', '/image/generation', { app, key, env: e, json: body, headers: { 'idempotency-key': ik } });
    expectError(blocked, 409, 'idempotency_in_progress');
    // the dead request's lease ends IDEMPOTENCY_LEASE_MS after it was taken, 60 s ago
    expect(blocked.headers.get('retry-after')).toBe(String((IDEMPOTENCY_LEASE_MS - 60_000) / 1000));
    now += IDEMPOTENCY_LEASE_MS;
    const other = await call('POST', '/image/generation', { app, key, env: e, json: genBody(scenario, { seed: 5 }), headers: { 'idempotency-key': ik } });
    expect(other.status).toBe(422);
    const taken = await call('POST', '/image/generation', { app, key, env: e, json: body, headers: { 'idempotency-key': ik } });
    expect(taken.status).toBe(200);
    expect(taken.headers.get('idempotent-replayed')).toBeNull();
    await expectBooksBalanced([keyId], tenantId);
  });

  it('is remembered 24 h, then runs again; the cron forgets records past 24 h', async () => {
    let now = Date.UTC(2033, 5, 1, 8, 0, 0);
    const app = appWithClock(() => now);
    const { key, tenantId } = await createTenantWithKey();
    const { scenario, env: e } = loopback('idem-ttl');
    const headers = { 'idempotency-key': unique('ik') };
    const body = genBody(scenario); // no seed: no image cache hit either, so a rerun reaches the origin
    expect((await call('POST', '/image/generation', { app, key, env: e, json: body, headers })).status).toBe(200);
    now += IDEMPOTENCY_TTL_MS - 1_000;
    expect((await call('POST', '/image/generation', { app, key, env: e, json: body, headers })).headers.get('idempotent-replayed')).toBe('true');
    now += 2_000;
    const rerun = await call('POST', '/image/generation', { app, key, env: e, json: body, headers });
    expect(rerun.status).toBe(200);
    expect(rerun.headers.get('idempotent-replayed')).toBeNull();
    expect(await originCalls(scenario)).toHaveLength(2);

    const row = await env.DB.prepare('SELECT body_key FROM idempotency_records WHERE tenant_id = ?').bind(tenantId).first<{ body_key: string }>();
    expect(await env.IMAGES.head(row!.body_key)).not.toBeNull();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: now + IDEMPOTENCY_TTL_MS + 1, cron: '* * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
    const left = await env.DB.prepare('SELECT COUNT(*) AS n FROM idempotency_records WHERE tenant_id = ?').bind(tenantId).first<{ n: number }>();
    expect(left?.n).toBe(0);
    expect(await env.IMAGES.head(row!.body_key)).toBeNull();
  });

  it('rejects an unusable key with 400', async () => {
    const { key, keyId } = await createTenantWithKey();
    for (const bad of ['', '   ', 'x'.repeat(256), 'a\tb']) {
      const r = await call('POST', '/image/generation', { key, json: genBody(unique('bad-ik')), headers: { 'idempotency-key': bad } });
      expectError(r, 400, 'invalid_request', { param: 'Idempotency-Key' });
    }
    expect((await budgetState('key', keyId)).spentNano).toBe(0n);
  });

  it('claimKey takes over only a dead run of the same body', async () => {
    const t = unique('ten');
    const base = { tenantId: t, key: 'k', owner: 'req_1', now: 1_000, leaseMs: 100, ttlMs: 10_000 };
    expect(await claimKey(env.DB, { ...base, bodyHash: 'h1' })).toBe(true);
    expect(await claimKey(env.DB, { ...base, owner: 'req_2', bodyHash: 'h1', now: 1_050 })).toBe(false);
    expect(await claimKey(env.DB, { ...base, owner: 'req_3', bodyHash: 'h2', now: 1_200 })).toBe(false);
    expect(await claimKey(env.DB, { ...base, owner: 'req_4', bodyHash: 'h1', now: 1_200 })).toBe(true);
    expect(await claimKey(env.DB, { ...base, owner: 'req_5', bodyHash: 'h2', now: 12_000 })).toBe(true);
  });
});

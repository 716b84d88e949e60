import { afterEach, describe, expect, it, vi } from 'vitest';
import { appWithClock, call, genBody, loopback, originCalls, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { withFault } from '../helpers/faults';
import { chargesOf, ledger, nanoOfUsd } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';
import { ask, expectAnswer, expectMoney } from './support';

/*
 * The call sites a single request does not reach on its own (the in-flight lease of a request
 * that found the slots full, a merged follower's wait), a settle whose answer is lost after it
 * committed, and what a fault writes to the log.
 */

describe('storage faults that take two requests, or a lost answer', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each(['throw', 'hang'] as const)('rate limiter lease %s: 503 unavailable, nothing charged; the request in flight is charged for its image', async (kind) => {
    const tk = await createTenantWithKey({ tenant: { budget_usd: '5', budget_period: 'month' }, key: { max_concurrent: 1 } });
    const { scenario, env: base } = loopback('lease', 'slow-800');
    const busy = ask(tk, { route: 'qubrid', tag: unique('busy') }, base);
    await new Promise((r) => setTimeout(r, 200));
    // a seeded request may be a cache hit, so admit leaves the slot out; taking it later is the lease
    const faulty = withFault(base, { binding: 'RATE_LIMITER', op: 'lease', fault: kind });
    const r = await ask(tk, { route: 'qubrid', tag: unique('leased'), seed: 5 }, faulty.env);
    expect(faulty.hits()).toBe(1);
    expectAnswer(r, { status: 503, code: 'unavailable' });
    const first = await busy;
    expect(first.status, first.text()).toBe(200);
    expect(await originCalls(scenario)).toHaveLength(1);
    await faulty.letGo();
    await expectMoney(tk, first, 'image');
  });

  it("coalescer wait throws: the follower goes to the origin alone, and each request is charged for its own image", async () => {
    const tk = await createTenantWithKey({ tenant: { budget_usd: '5', budget_period: 'month' } });
    const { scenario, env: base } = loopback('wait', 'slow-600');
    const faulty = withFault(base, { binding: 'COALESCER', op: 'wait', fault: 'throw' });
    const tag = unique('wait');
    const [a, b] = await Promise.all([ask(tk, { route: 'qubrid', tag, seed: 8 }, faulty.env), ask(tk, { route: 'qubrid', tag, seed: 8 }, faulty.env)]);
    expect(faulty.hits()).toBe(1);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(await originCalls(scenario)).toHaveLength(2);
    const charged = nanoOfUsd(a.headers.get('imagegate-cost-usd')) + nanoOfUsd(b.headers.get('imagegate-cost-usd'));
    const { key } = await chargesOf(tk);
    expect([key.spentNano, key.reservedNano]).toEqual([charged, 0n]);
    expect((await ledger('key_id', tk.keyId)).filter((row) => row.status === 'ok')).toHaveLength(2);
  });

  it("coalescer finish throws once: the report is tried again, so the follower is served the leader's image at once, not after the lease", async () => {
    const tk = await createTenantWithKey({ tenant: { budget_usd: '5', budget_period: 'month' } });
    const { scenario, env: base } = loopback('finish-once', 'slow-600');
    const faulty = withFault(base, { binding: 'COALESCER', op: 'finish', fault: 'throw' });
    const tag = unique('finish');
    const started = Date.now();
    const [a, b] = await Promise.all([ask(tk, { route: 'qubrid', tag, seed: 9 }, faulty.env), ask(tk, { route: 'qubrid', tag, seed: 9 }, faulty.env)]);
    const took = Date.now() - started;
    expect(faulty.hits()).toBe(1);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(await originCalls(scenario)).toHaveLength(1);
    expect([a.headers.get('cache-status'), b.headers.get('cache-status')].join(' ')).toMatch(/coalesced|fwd=wait|collapsed/i);
    // the lease would have kept the follower waiting for the origin's timeout plus the store and settle margin
    expect(took).toBeLessThan(5_000);
    const charged = nanoOfUsd(a.headers.get('imagegate-cost-usd')) + nanoOfUsd(b.headers.get('imagegate-cost-usd'));
    const { key } = await chargesOf(tk);
    expect([key.spentNano, key.reservedNano]).toEqual([charged, 0n]);
  });

  it('a settle that committed but whose answer was lost: 503, charged once with its image stored and named, and the same request again is a free hit', async () => {
    const tk = await createTenantWithKey({ tenant: { budget_usd: '5', budget_period: 'month' } });
    const { scenario, env: base } = loopback('lost-settle');
    const faulty = withFault(base, { binding: 'DB', op: 'batch', match: '+ r.cost_nano', fault: 'lost' });
    const tag = unique('lost');
    const r = await ask(tk, { route: 'qubrid', tag, seed: 21 }, faulty.env);
    expectAnswer(r, { status: 503, code: 'unavailable' });
    await faulty.letGo();
    const rows = await ledger('key_id', tk.keyId);
    // the give-back found no reservation: the settle had taken it
    expect(rows.map((row) => row.status)).toEqual(['ok']);
    expect(rows[0]?.cost_nano).toBeGreaterThan(0);
    const again = await ask(tk, { route: 'qubrid', tag, seed: 21 }, base);
    expect(again.status, again.text()).toBe(200);
    expect(again.headers.get('cache-status')).toBe('imagegate; hit');
    expect(again.headers.get('imagegate-cost-usd')).toBe('0');
    expect(await originCalls(scenario)).toHaveLength(1);
    const { key } = await chargesOf(tk);
    expect([key.spentNano, key.reservedNano]).toEqual([BigInt(rows[0]?.cost_nano ?? 0), 0n]);
  });

  it('an Idempotency-Key answer that could not be stored: 200 with the image; a retry with the key meets 409, never a second charge', async () => {
    const tk = await createTenantWithKey({ tenant: { budget_usd: '5', budget_period: 'month' } });
    const { scenario, env: base } = loopback('idem-store');
    const faulty = withFault(base, { binding: 'IMAGES', op: 'put', match: 'idempotency/', fault: 'throw' });
    const again = { route: 'qubrid' as const, tag: unique('idem'), headers: { 'idempotency-key': 'stored-nowhere' } };
    const r = await ask(tk, again, faulty.env);
    expect(faulty.hits()).toBe(1);
    expectAnswer(r, { status: 200 });
    const retry = await ask(tk, again, base);
    expectError(retry, 409, 'idempotency_in_progress');
    expect(await originCalls(scenario)).toHaveLength(1);
    await expectMoney(tk, r, 'image');
  });

  it("reading what the budget has left after the charge fails: the image is served, without the Budget-Remaining header", async () => {
    const tk = await createTenantWithKey({ tenant: { budget_usd: '5', budget_period: 'month' } });
    const { env: base } = loopback('remaining');
    // a clock that moves 6 s at every reading: the states the settle returned are too old to trust, so they are read again
    let t = Date.now();
    const app = appWithClock(() => (t += 6_000));
    const faulty = withFault(base, { binding: 'DB', op: 'batch', match: 'reserved_nano FROM api_keys WHERE id = ?', fault: 'throw' });
    const r = await call('POST', '/image/generation', { key: tk.key, env: faulty.env, app, json: genBody(unique('remaining')) });
    expect(faulty.hits()).toBe(1);
    expectAnswer(r, { status: 200 });
    expect(r.headers.get('imagegate-budget-remaining-usd')).toBeNull();
    await expectMoney(tk, r, 'image');
  });

  it('a fault is logged as one line: the request line, naming the call, without a stack', async () => {
    const lines: string[] = [];
    for (const level of ['log', 'warn', 'error'] as const) vi.spyOn(console, level).mockImplementation((line: unknown) => void lines.push(String(line)));
    const tk = await createTenantWithKey();
    const { env: base } = loopback('log-line');
    const faulty = withFault(base, { binding: 'DB', op: 'batch', match: 'INSERT INTO reservations', fault: 'throw' });
    const r = await ask(tk, { route: 'qubrid', tag: unique('log') }, faulty.env);
    expectAnswer(r, { status: 503, code: 'unavailable' });
    const about = lines.filter((line) => line.includes(r.headers.get('x-request-id') ?? '?'));
    expect(about).toHaveLength(1);
    const entry = JSON.parse(about[0] ?? '{}') as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'error', message: 'request', status: 503, error: 'unavailable' });
    expect(entry.storage_fault).toBe('DB batch: failed (injected fault: DB batch)');
    expect(lines.join('\n')).not.toMatch(/\n\s+at |"stack"/);
  });
});

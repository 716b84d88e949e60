import { describe, expect, it } from 'vitest';
import { loopback, unique, type TestEnv } from '../helpers/api';
import type { FaultKind, FaultRule } from '../helpers/faults';
import { TEST_STORAGE_TIMEOUT_MS } from '../helpers/faults';
import { createTenantWithKey, type TenantKey } from '../helpers/tenants';
import { ask, askWithFault, expectAnswer, expectMoney, imagesIn, type Ask, type Outcome } from './support';

/*
 * Every storage call site of the generation path × (throws, hangs): the answer the docs give
 * (docs/operations.md, "When storage fails"), within the storage timeout, and the money right —
 * spent only for an image the client got, the ledger summing to it, every R2 image named by a
 * ledger row, and whatever stayed held given back by the cron. A hang here is a call that never
 * answers; after the client's answer the test lets it through, as a request queued on the way
 * would arrive late, and checks the money again.
 */

interface Case {
  site: string;
  ask: Omit<Ask, 'tag'>;
  rule: Omit<FaultRule, 'fault'>;
  /** The key's and tenant's settings (POST /admin/tenants, …/keys). */
  tenant?: { tenant?: Record<string, unknown>; key?: Record<string, unknown> };
  /** Variables set for the request (beside the small STORAGE_TIMEOUT_MS). */
  vars?: Record<string, unknown>;
  /** The loopback origin's mode (default `png`). */
  origin?: string;
  /** The request is a cache hit: an identical one is made first by another tenant sharing the cache. */
  warm?: boolean;
  throws: Outcome;
  hangs: Outcome;
}

const OK: Outcome = { answer: { status: 200 }, money: 'image' };
const REFUSED: Outcome = { answer: { status: 503, code: 'unavailable' }, money: 'nothing' };
const HELD: Outcome = { answer: { status: 503, code: 'unavailable' }, money: 'held' };
const LIMITED = { tenant: { budget_usd: '5', budget_period: 'month' }, key: { rate_limit_rpm: 1000, max_concurrent: 10 } };
const SHARED = { tenant: { budget_usd: '5', budget_period: 'month', cache_scope: 'shared' } };

const CASES: Case[] = [
  { site: 'auth lookup (D1)', ask: { route: 'qubrid' }, rule: { binding: 'DB', op: 'batch', match: 'key_hash = ?1' }, throws: REFUSED, hangs: REFUSED },
  { site: 'rate limiter admit', ask: { route: 'qubrid' }, tenant: LIMITED, rule: { binding: 'RATE_LIMITER', op: 'admit' }, throws: REFUSED, hangs: REFUSED },
  {
    site: 'rate limiter admit, RATE_LIMIT_FAILURE_MODE=open',
    ask: { route: 'qubrid' },
    tenant: LIMITED,
    vars: { RATE_LIMIT_FAILURE_MODE: 'open' },
    rule: { binding: 'RATE_LIMITER', op: 'admit' },
    throws: OK,
    hangs: OK,
  },
  { site: 'rate limiter release', ask: { route: 'openai' }, tenant: LIMITED, rule: { binding: 'RATE_LIMITER', op: 'release' }, throws: OK, hangs: OK },
  { site: 'cache lookup (R2 get)', ask: { route: 'qubrid', seed: 11 }, rule: { binding: 'IMAGES', op: 'get', match: 'cache/' }, throws: REFUSED, hangs: REFUSED },
  { site: "cache lookup (reading a hit's bytes)", ask: { route: 'qubrid', seed: 12 }, tenant: SHARED, warm: true, rule: { binding: 'IMAGES', op: 'read', match: 'cache/' }, throws: REFUSED, hangs: REFUSED },
  { site: 'coalescer join', ask: { route: 'qubrid', seed: 13 }, rule: { binding: 'COALESCER', op: 'join' }, throws: OK, hangs: OK },
  { site: 'coalescer finish', ask: { route: 'openai', seed: 14 }, rule: { binding: 'COALESCER', op: 'finish' }, throws: OK, hangs: OK },
  { site: 'reserve (D1 batch)', ask: { route: 'qubrid' }, rule: { binding: 'DB', op: 'batch', match: 'INSERT INTO reservations' }, throws: REFUSED, hangs: HELD },
  {
    site: 'release after an origin failure (D1 batch)',
    ask: { route: 'qubrid' },
    origin: '500',
    rule: { binding: 'DB', op: 'batch', match: 'SET reserved_nano = reserved_nano - r.cost_nano' },
    throws: HELD,
    hangs: REFUSED,
  },
  { site: 'cache write (R2 put)', ask: { route: 'openai', seed: 15 }, rule: { binding: 'IMAGES', op: 'put', match: 'cache/' }, throws: REFUSED, hangs: REFUSED },
  {
    site: 'no-store copy write (R2 put)',
    ask: { route: 'qubrid', headers: { 'cache-control': 'no-store' } },
    rule: { binding: 'IMAGES', op: 'put', match: 'images/' },
    throws: REFUSED,
    hangs: REFUSED,
  },
  { site: 'settle (D1 batch)', ask: { route: 'openai' }, rule: { binding: 'DB', op: 'batch', match: '+ r.cost_nano' }, throws: REFUSED, hangs: REFUSED },
  { site: 'settle, n=4 (D1 batch)', ask: { route: 'openai-n4' }, rule: { binding: 'DB', op: 'batch', match: '+ r.cost_nano' }, throws: REFUSED, hangs: REFUSED },
  {
    site: "a hit's ledger row (D1 batch)",
    ask: { route: 'qubrid', seed: 16 },
    tenant: SHARED,
    warm: true,
    rule: { binding: 'DB', op: 'batch', match: /INSERT INTO usage_ledger[^;]*?\)\s*VALUES/ },
    throws: REFUSED,
    hangs: REFUSED,
  },
  {
    site: 'Idempotency-Key claim (D1)',
    ask: { route: 'qubrid', headers: { 'idempotency-key': 'claim' } },
    rule: { binding: 'DB', op: 'first', match: 'INSERT INTO idempotency_records' },
    throws: REFUSED,
    hangs: REFUSED,
  },
  {
    site: 'Idempotency-Key answer store (R2 put)',
    ask: { route: 'openai', headers: { 'idempotency-key': 'store' } },
    rule: { binding: 'IMAGES', op: 'put', match: 'idempotency/' },
    throws: OK,
    hangs: OK,
  },
];

/** An answer comes within this, whatever hangs: the storage timeout a few times over, and the origin's own time. */
const ANSWER_WITHIN_MS = 8 * TEST_STORAGE_TIMEOUT_MS + 1_500;

describe.each(CASES)('when storage fails at: $site', (c) => {
  it.each<FaultKind>(['throw', 'hang'])('%s', async (kind) => {
    const tk = await createTenantWithKey(c.tenant ?? {});
    const { env: base } = loopback('faults', c.origin ?? 'png');
    const tag = unique('fault');
    if (c.warm) await warm(base, c, tag);
    const outcome = kind === 'throw' ? c.throws : c.hangs;

    const { r, ms, faulty } = await askWithFault(tk, { ...c.ask, tag }, base, c.rule, kind, c.vars);

    expect(faulty.hits(), 'the fault hit its call').toBeGreaterThan(0);
    expectAnswer(r, outcome.answer);
    expect(ms, 'the answer came without waiting for the hung call').toBeLessThan(ANSWER_WITHIN_MS);
    if (r.status === 200) expect(imagesIn(r, c.ask.route)).toBe(c.ask.route === 'openai-n4' ? 4 : 1);
    await faulty.letGo();
    await expectMoney(tk, r, outcome.money);
  });
});

/** Makes the case's image once through another tenant sharing the cache, so the case's request is a hit. */
async function warm(base: TestEnv, c: Case, tag: string): Promise<void> {
  const other: TenantKey = await createTenantWithKey({ tenant: { cache_scope: 'shared' } });
  const r = await ask(other, { ...c.ask, tag }, base);
  expect(r.status, r.text()).toBe(200);
}

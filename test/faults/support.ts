import { env } from 'cloudflare:test';
import { expect } from 'vitest';
import { requestLifetimes } from '../../src/domain/lifetimes';
import { originDeadlineMs } from '../../src/origins/config';
import { runHousekeeping } from '../../src/services/housekeeping';
import { call, genBody, type CallResult, type TestEnv } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { withFault, type FaultKind, type FaultRule, type FaultyEnv } from '../helpers/faults';
import { chargesOf, ledger, nanoOfUsd } from '../helpers/money';
import type { TenantKey } from '../helpers/tenants';

/** What the client is answered when the fault hits. */
export type Answer = { status: 200 } | { status: 503; code: 'unavailable' };

/**
 * What the money looks like once the request has answered and any call it left behind has ended:
 * `image` charged exactly what the answer says, for the images it carries; `nothing` charged and
 * nothing held; `held` nothing charged, but a reservation held until the cron gives it back.
 */
export type Money = 'image' | 'nothing' | 'held';

export interface Outcome {
  answer: Answer;
  money: Money;
}

export type Route = 'qubrid' | 'openai' | 'openai-n4';

/** One request of a fault case: the route, the body's tag and seed, and any extra headers. */
export interface Ask {
  route: Route;
  tag: string;
  seed?: number;
  headers?: Record<string, string>;
}

export function ask(tk: TenantKey, a: Ask, e: TestEnv): Promise<CallResult> {
  const headers = a.headers ?? {};
  if (a.route === 'qubrid') return call('POST', '/image/generation', { key: tk.key, env: e, headers, json: genBody(a.tag, a.seed === undefined ? {} : { seed: a.seed }) });
  const n = a.route === 'openai-n4' ? 4 : 1;
  return call('POST', '/v1/images/generations', { key: tk.key, env: e, headers, json: { prompt: `test image ${a.tag}`, size: '256x256', n, ...(a.seed === undefined ? {} : { seed: a.seed }) } });
}

/** The images an answer carries: 1 for the Qubrid route's PNG, n for OpenAI's `data`. */
export function imagesIn(r: CallResult, route: Route): number {
  if (r.status !== 200) return 0;
  return route === 'qubrid' ? 1 : (r.json().data as unknown[]).length;
}

export function expectAnswer(r: CallResult, answer: Answer): void {
  if (answer.status === 200) {
    expect(r.status, r.text()).toBe(200);
    return;
  }
  expectError(r, answer.status, answer.code);
  expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
}

/** Runs `a` against `base` with the fault `rule` × `kind`; answers the response, how long it took, and the faulty env. */
export async function askWithFault(tk: TenantKey, a: Ask, base: TestEnv, rule: Omit<FaultRule, 'fault'>, kind: FaultKind, vars: Record<string, unknown> = {}) {
  const faulty: FaultyEnv = withFault(base, { ...rule, fault: kind }, vars);
  const started = Date.now();
  const r = await ask(tk, a, faulty.env);
  return { r, ms: Date.now() - started, faulty };
}

/**
 * The money after a fault, then after the cron has run past every reservation's lifetime: held
 * only as `money` says, spent only for images the client got, every ledger row summing to what
 * was spent, and every image in R2 named by a ledger row (and every row's image in R2).
 */
export async function expectMoney(tk: TenantKey, r: CallResult, money: Money): Promise<void> {
  const answered = r.status === 200 ? nanoOfUsd(r.headers.get('imagegate-cost-usd')) : 0n;
  const before = await chargesOf(tk);
  expect(before.key.spentNano, 'spent: only what the answer says').toBe(answered);
  expect(before.tenant.spentNano).toBe(answered);
  if (money === 'image') expect(answered, 'a charged image').toBeGreaterThan(0n);
  if (money !== 'image') expect(answered).toBe(0n);
  if (money === 'held') expect(before.key.reservedNano, 'held until the cron').toBeGreaterThan(0n);
  else expect(before.key.reservedNano, 'nothing held').toBe(0n);

  await runHousekeeping(env, Date.now() + requestLifetimes(originDeadlineMs(env)).reservationMs + 1_000);
  const after = await chargesOf(tk);
  expect([after.key.reservedNano, after.tenant.reservedNano], 'the cron gave everything back').toEqual([0n, 0n]);
  expect(after.key.spentNano).toBe(answered);
  const rows = await ledger('key_id', tk.keyId);
  expect(rows.reduce((sum, row) => sum + BigInt(row.cost_nano), 0n), 'the ledger sums to what was spent').toBe(answered);
  await expectImagesAccounted(tk, rows);
}

/** Every object the tenant's generations left in R2 is named by one of its ledger rows, and every `ok` row's object is there. */
async function expectImagesAccounted(tk: TenantKey, rows: { image_key: string | null; status: string }[]): Promise<void> {
  const named = new Set(rows.flatMap((row) => (row.image_key ? [row.image_key] : [])));
  for (const prefix of [`cache/t/${tk.tenantId}/`, `images/${tk.tenantId}/`]) {
    const listed = await env.IMAGES.list({ prefix });
    for (const object of listed.objects) expect(named.has(object.key), `a ledger row names ${object.key}`).toBe(true);
  }
  for (const row of rows.filter((x) => x.status === 'ok' && x.image_key)) {
    expect(await env.IMAGES.head(row.image_key as string), `${row.image_key} is in R2`).not.toBeNull();
  }
}

import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { Failed } from '../../src/domain/failure';
import { hashKey } from '../../src/domain/keys';
import { getModelSpec } from '../../src/storage/models';
import { findCallerByKeyHash } from '../../src/storage/tenants';
import { charge } from '../../src/services/generation/charge';
import { fetchImage } from '../../src/services/generation/fetch';
import { join } from '../../src/services/generation/join';
import { lookup } from '../../src/services/generation/lookup';
import { reservationFor, reserve } from '../../src/services/generation/reserve';
import type { GenerationOptions, ImageJob } from '../../src/services/generation/types';
import { DEFAULT_MODEL, envWith, testOrigin, unique } from '../helpers/api';
import { budgetState, ledger } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';

/** The pipeline's steps one at a time, on the real bindings, without the HTTP around them. */

async function runFor(key: string, overrides: Partial<GenerationOptions> = {}): Promise<GenerationOptions> {
  const caller = await findCallerByKeyHash(env.DB, await hashKey(key));
  const spec = await getModelSpec(env.DB, DEFAULT_MODEL);
  if (!caller || !spec) throw new Error('test set-up: no caller or model');
  return {
    env,
    deps: { now: () => Date.now() },
    requestId: unique('req'),
    caller,
    spec,
    directives: { noCache: false, noStore: false },
    waitUntil: () => undefined,
    log: {},
    ...overrides,
  };
}

function jobFor(run: GenerationOptions, seed: number | null, cacheable = seed !== null): ImageJob {
  const request = {
    model: DEFAULT_MODEL,
    prompt: unique('steps'),
    negative_prompt: '',
    width: 1024,
    height: 1024,
    steps: 30,
    cfg: 7.5,
    seed: seed ?? 7,
    output_format: 'png' as const,
  };
  return { request, drawn: seed === null, cacheable, generationId: run.requestId, id: unique('img') };
}

describe('the generation steps, each on its own', () => {
  it('lookup: an image that is not cacheable is never looked up', async () => {
    const { key } = await createTenantWithKey();
    const run = await runFor(key);
    expect(await lookup({ run, job: jobFor(run, null), now: Date.now() })).toBeNull();
  });

  it('join: an image that is not cacheable leads alone', async () => {
    const { key } = await createTenantWithKey();
    const run = await runFor(key);
    expect(await join({ run, job: jobFor(run, 5, false), now: Date.now() })).toEqual({ as: 'leader', flight: null });
  });

  it('reserve: a budget too small fails with budget_exceeded and holds nothing', async () => {
    const { key, keyId, tenantId } = await createTenantWithKey({ key: { budget_usd: '0.001' } });
    const run = await runFor(key);
    const item = reservationFor(run, jobFor(run, 1));
    const err = await reserve({ run, items: [item], now: Date.now() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Failed);
    expect((err as Failed).failure.code).toBe('budget_exceeded');
    expect((err as Failed).failure.message).toContain('0.001992295 USD');
    expect((await budgetState('key', keyId)).reservedNano).toBe(0n);
    expect((await budgetState('tenant', tenantId)).reservedNano).toBe(0n);
  });

  it('fetch: when every origin fails, the reservation is given back with a ledger row saying why', async () => {
    const { key, keyId } = await createTenantWithKey({ key: { budget_usd: '1' } });
    const scenario = unique('steps-fetch');
    const run = await runFor(key, { env: envWith([testOrigin(scenario, '500')]) });
    const job = jobFor(run, 3);
    const item = reservationFor(run, job);
    await reserve({ run, items: [item], now: Date.now() });
    expect((await budgetState('key', keyId)).reservedNano).toBe(item.costNano);
    const err = await fetchImage({ run, job, item, started: Date.now() }).catch((e: unknown) => e);
    expect((err as Failed).failure.code).toBe('origin_error');
    const row = await budgetState('key', keyId);
    expect([row.reservedNano, row.spentNano]).toEqual([0n, 0n]);
    expect((await ledger('key_id', keyId)).map((r) => [r.status, r.cost_nano])).toEqual([['origin_error', 0]]);
  });

  it('charge: one failed image gives back the reservations of the images in hand', async () => {
    const { key, keyId } = await createTenantWithKey({ key: { budget_usd: '1' } });
    const run = await runFor(key);
    const job = jobFor(run, 11);
    const item = reservationFor(run, job);
    await reserve({ run, items: [item], now: Date.now() });
    const entry = { generationId: job.generationId, requestId: run.requestId, request: job.request, cache: 'miss' as const, origin: 'local', status: 'ok', latencyMs: 1 };
    const image = { id: job.id, request: job.request, drawn: false, bytes: new Uint8Array(), contentType: 'image/png' as const, cache: 'miss' as const, costNano: item.costNano, origin: 'local' };
    const failure = new Failed({ code: 'origin_timeout', message: 'the other image timed out' });
    const err = await charge({
      run,
      outcomes: [
        { status: 'fulfilled', value: { image, charge: { item, entry } } },
        { status: 'rejected', reason: failure },
      ],
    }).catch((e: unknown) => e);
    expect(err).toBe(failure);
    const row = await budgetState('key', keyId);
    expect([row.reservedNano, row.spentNano]).toEqual([0n, 0n]);
    expect((await ledger('key_id', keyId)).map((r) => [r.status, r.cost_nano])).toEqual([['origin_timeout', 0]]);
  });
});

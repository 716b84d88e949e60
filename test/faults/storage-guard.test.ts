import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { Failed } from '../../src/domain/failure';
import { DEFAULT_STORAGE_TIMEOUT_MS, guardStorage, storageTimeoutMs, type StorageFault } from '../../src/services/storage-guard';
import { withFault } from '../helpers/faults';

/** The guard's own rules, on the bindings themselves: bounds, what becomes `unavailable`, what does not. */
describe('the storage guard', () => {
  it('reads STORAGE_TIMEOUT_MS as whole milliseconds from 1 to 60000, else the default', () => {
    const cases: [string | undefined, number][] = [
      [undefined, DEFAULT_STORAGE_TIMEOUT_MS],
      ['250', 250],
      [' 60000 ', 60_000],
      ['0', DEFAULT_STORAGE_TIMEOUT_MS],
      ['60001', DEFAULT_STORAGE_TIMEOUT_MS],
      ['1.5', DEFAULT_STORAGE_TIMEOUT_MS],
      ['ten', DEFAULT_STORAGE_TIMEOUT_MS],
    ];
    for (const [raw, ms] of cases) expect(storageTimeoutMs({ STORAGE_TIMEOUT_MS: raw }), String(raw)).toBe(ms);
  });

  it('turns a call that does not answer in time into unavailable, with Retry-After, and says which call', async () => {
    const faults: StorageFault[] = [];
    const hung = withFault(env, { binding: 'DB', op: 'first', fault: 'hang' });
    const guarded = guardStorage(hung.env, { timeoutMs: 100, onFault: (f) => faults.push(f) });
    const started = Date.now();
    const err = await guarded.DB.prepare('SELECT 1 AS one').first().catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(err).toBeInstanceOf(Failed);
    expect((err as Failed).failure).toMatchObject({ code: 'unavailable', retryAfterSeconds: 1 });
    expect(faults).toEqual([{ binding: 'DB', op: 'first', kind: 'timeout', error: 'no answer within 100 ms' }]);
  });

  it('turns a binding error into unavailable, keeping the error as its cause', async () => {
    const broken = withFault(env, { binding: 'IMAGES', op: 'head', fault: 'throw' });
    const guarded = guardStorage(broken.env, { timeoutMs: 1_000 });
    const err = await guarded.IMAGES.head('anything').catch((e: unknown) => e);
    expect((err as Failed).failure.code).toBe('unavailable');
    expect(String((err as Error).cause)).toContain('injected fault: IMAGES head');
  });

  it('lets a constraint D1 enforced through as it is: that is the database answering, not failing', async () => {
    const guarded = guardStorage(env, { timeoutMs: 1_000 });
    await guarded.DB.exec('CREATE TABLE IF NOT EXISTS guard_probe (id TEXT PRIMARY KEY)');
    await guarded.DB.prepare("INSERT OR IGNORE INTO guard_probe (id) VALUES ('a')").run();
    const err = await guarded.DB.prepare("INSERT INTO guard_probe (id) VALUES ('a')").run().catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(Failed);
    expect(String(err)).toContain('SQLITE_CONSTRAINT');
  });

  it("bounds a merged follower's wait by its own wait plus the timeout, not by the timeout alone", async () => {
    const hung = withFault(env, { binding: 'COALESCER', op: 'wait', fault: 'hang' });
    const guarded = guardStorage(hung.env, { timeoutMs: 100 });
    const stub = guarded.COALESCER.get(guarded.COALESCER.idFromName('guard-probe'));
    const started = Date.now();
    const err = await stub.wait('flight', 'req_probe', 400).catch((e: unknown) => e);
    const took = Date.now() - started;
    expect((err as Failed).failure.code).toBe('unavailable');
    expect(took).toBeGreaterThanOrEqual(480);
    expect(took).toBeLessThan(2_000);
  });

  it('passes batches, statements and answers through unchanged when nothing fails', async () => {
    const guarded = guardStorage(env, { timeoutMs: 1_000 });
    const [a, b] = await guarded.DB.batch<{ n: number }>([guarded.DB.prepare('SELECT ? AS n').bind(1), guarded.DB.prepare('SELECT 2 AS n')]);
    expect([a?.results[0]?.n, b?.results[0]?.n]).toEqual([1, 2]);
    await guarded.IMAGES.put('guard-probe', 'bytes');
    expect(await (await guarded.IMAGES.get('guard-probe'))?.text()).toBe('bytes');
  });
});

import { interceptStorage, type StorageBinding, type StorageCall } from '../../src/services/storage-calls';
import type { TestEnv } from './api';

/**
 * What an injected fault does to the call it hits:
 * - `throw`: the call fails at once and never reaches the binding;
 * - `hang`: the call is held, not made, and never answers; `letGo()` makes it later (a request that
 *   was queued on the way and arrives after its caller gave up);
 * - `lost`: the call is made, but its answer is held forever (the work was done; the answer never came).
 */
export type FaultKind = 'throw' | 'hang' | 'lost';

export interface FaultRule {
  binding: StorageBinding;
  /** D1 `batch`/`first`/`all`/`run`/`raw`/`exec`, R2 `get`/`put`/`head`/`delete`/`read`, or a Durable Object method. */
  op: string;
  /** The call's SQL (D1) or object key (R2) contains this, or matches it. */
  match?: string | RegExp;
  /** Which matching call, counting from 1 (default 1); 0 for every one. */
  nth?: number;
  fault: FaultKind;
}

export interface FaultyEnv {
  env: TestEnv;
  /** How many calls the rule hit so far: a test asserts it did, so a rule that matches nothing fails. */
  hits(): number;
  /** Every storage call made through this env, in order. */
  calls: StorageCall[];
  /** Makes the held (`hang`) calls now, and waits for them and for the `lost` ones to finish. */
  letGo(): Promise<void>;
}

/** A small storage timeout for tests: a hang is answered within a fraction of a second. */
export const TEST_STORAGE_TIMEOUT_MS = 300;

/** `base` with one fault injected by `rule`, and STORAGE_TIMEOUT_MS set small unless `extra` sets it. */
export function withFault(base: TestEnv, rule: FaultRule, extra: Record<string, unknown> = {}): FaultyEnv {
  let seen = 0;
  let hit = 0;
  const calls: StorageCall[] = [];
  const held: (() => Promise<unknown>)[] = [];
  const late: Promise<unknown>[] = [];
  const env = interceptStorage(base, <T>(call: StorageCall, run: () => Promise<T>): Promise<T> => {
    calls.push(call);
    if (!matches(rule, call)) return run();
    seen += 1;
    const nth = rule.nth ?? 1;
    if (nth !== 0 && seen !== nth) return run();
    hit += 1;
    if (rule.fault === 'throw') return Promise.reject(new Error(`injected fault: ${call.binding} ${call.op}`));
    if (rule.fault === 'hang') held.push(run);
    else late.push(run().catch(() => undefined));
    return new Promise<T>(() => undefined);
  });
  return {
    env: { ...env, STORAGE_TIMEOUT_MS: String(TEST_STORAGE_TIMEOUT_MS), ...extra } as TestEnv,
    hits: () => hit,
    calls,
    letGo: async () => {
      const now = held.splice(0).map((run) => run().catch(() => undefined));
      await Promise.all([...now, ...late.splice(0)]);
    },
  };
}

function matches(rule: FaultRule, call: StorageCall): boolean {
  if (rule.binding !== call.binding || rule.op !== call.op) return false;
  if (rule.match === undefined) return true;
  return typeof rule.match === 'string' ? call.detail.includes(rule.match) : rule.match.test(call.detail);
}

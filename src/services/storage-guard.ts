import { Failed } from '../domain/failure';
import type { Env } from '../env';
import { errorText } from '../log';
import { interceptStorage, type StorageBinding, type StorageCall } from './storage-calls';

/*
 * The storage guard (docs/operations.md, "When storage fails"): every D1, R2 and Durable Object
 * call of a request is bounded by STORAGE_TIMEOUT_MS, and a call that fails or does not answer in
 * time becomes the failure `unavailable` (503 with Retry-After at the edge) instead of a hung
 * request or a 500. The money stays right without help from here: a reservation is ended by a
 * batch that reads its row, so a settle or release that commits after its request gave up (or
 * after the cron) changes nothing twice (docs/money.md).
 */

/** 5 s: a store and a settle that both take their whole bound still end within the 15 s a merge lead allows after the origin. */
export const DEFAULT_STORAGE_TIMEOUT_MS = 5_000;
const MAX_STORAGE_TIMEOUT_MS = 60_000;
const RETRY_AFTER_SECONDS = 1;

/** STORAGE_TIMEOUT_MS: a whole number of ms from 1 to 60,000; anything else means the default. */
export function storageTimeoutMs(env: Pick<Env, 'STORAGE_TIMEOUT_MS'>): number {
  const raw = (env.STORAGE_TIMEOUT_MS ?? '').trim();
  const ms = /^\d+$/.test(raw) ? Number(raw) : NaN;
  return ms >= 1 && ms <= MAX_STORAGE_TIMEOUT_MS ? ms : DEFAULT_STORAGE_TIMEOUT_MS;
}

/** What went wrong with one call, for the request's log line. */
export interface StorageFault {
  binding: StorageBinding;
  op: string;
  kind: 'timeout' | 'error';
  error: string;
}

export interface GuardOptions {
  timeoutMs: number;
  /** Told of every call that failed or timed out (the guard itself writes no log line). */
  onFault?: (fault: StorageFault) => void;
}

/** The Env with every storage call bounded and every failure of one made `unavailable`. */
export function guardStorage<E extends Pick<Env, StorageBinding>>(env: E, options: GuardOptions): E {
  return interceptStorage(env, (call, run) => guarded(call, run, options));
}

async function guarded<T>(call: StorageCall, run: () => Promise<T>, options: GuardOptions): Promise<T> {
  const bound = boundOf(call, options.timeoutMs);
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), bound)));
  let pending: Promise<T>;
  try {
    pending = run();
  } catch (err) {
    pending = Promise.reject(err);
  }
  // a call that loses the race may still fail later; that is no longer anyone's error
  pending.catch(() => undefined);
  try {
    const first = await Promise.race([pending, timedOut]);
    if (first === 'timeout') throw unavailable(call, 'timeout', `no answer within ${bound} ms`, options);
    return first as T;
  } catch (err) {
    if (err instanceof Failed || isDatabaseAnswer(call, err)) throw err;
    throw unavailable(call, 'error', errorText(err), options, err);
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}

/**
 * How long a call may take: the guard's bound, except for a Coalescer follower's `wait`, which is
 * itself a bounded wait for the leader (its third argument) and gets the guard's bound on top.
 */
function boundOf(call: StorageCall, timeoutMs: number): number {
  if (call.binding === 'COALESCER' && call.op === 'wait' && typeof call.args[2] === 'number') return call.args[2] + timeoutMs;
  return timeoutMs;
}

/**
 * A constraint that held (the budget triggers' `budget_exceeded:…`, a unique key) is D1 answering,
 * not failing: the storage code that asked reads it as a refusal (src/storage/reservations.ts).
 */
function isDatabaseAnswer(call: StorageCall, err: unknown): boolean {
  if (call.binding !== 'DB') return false;
  const text = err instanceof Error ? `${err.message} ${String(err.cause ?? '')}` : String(err);
  return text.includes('SQLITE_CONSTRAINT');
}

function unavailable(call: StorageCall, kind: StorageFault['kind'], error: string, options: GuardOptions, cause?: unknown): Failed {
  options.onFault?.({ binding: call.binding, op: call.op, kind, error });
  const failure = new Failed({
    code: 'unavailable',
    message:
      kind === 'timeout'
        ? "the gateway's storage did not answer in time; try again shortly"
        : "the gateway's storage failed; try again shortly",
    retryAfterSeconds: RETRY_AFTER_SECONDS,
  });
  if (cause !== undefined) failure.cause = cause;
  return failure;
}

import { DurableObject } from 'cloudflare:workers';
import type { ObjectEnv } from './object-env';

/** The sliding window of `rate_limit_rpm` (docs/rate-limits.md). */
export const WINDOW_MS = 60_000;

/** One counter set inside a tenant's object: the tenant itself, or one of its keys. */
export interface LimitScope {
  /** `tenant`, or `key:<key id>`. */
  id: string;
  rpm: number | null;
  maxConcurrent: number | null;
}

export interface LimitCall {
  requestId: string;
  /** The caller's clock (ms since the epoch); tests drive it. */
  now: number;
  /** How long an in-flight slot lives if its request never gives it back. */
  leaseMs: number;
  scopes: LimitScope[];
}

export interface AdmitCall extends LimitCall {
  /**
   * True when the request may turn out to be all cache hits, which take no in-flight slot: then a
   * full set of slots does not refuse it here; it is admitted without a slot and must call `lease`
   * before it goes to an origin.
   */
  deferSlot: boolean;
}

export interface LeaseCall extends LimitCall {
  /** The object's time of the request's admission (AdmitResult.at), to withdraw it on refusal. */
  admittedAt: number;
}

export interface RpmState {
  scope: string;
  limit: number;
  /** Admissions still possible in the current window, after this one. */
  remaining: number;
  /** Seconds until the oldest admission in the window slides out and one more becomes possible. */
  resetSeconds: number;
}

export interface SlotState {
  scope: string;
  limit: number;
  inFlight: number;
}

export interface Refusal {
  kind: 'rpm' | 'concurrency';
  scope: string;
  limit: number;
  retryAfterSeconds: number;
}

export type AdmitResult =
  | { ok: true; at: number; leased: boolean; rpm: RpmState[]; slots: SlotState[]; slotRefusal: Refusal | null }
  | { ok: false; at: number; refusal: Refusal; rpm: RpmState[]; slots: SlotState[] };

export type LeaseResult = { ok: true; slots: SlotState[] } | { ok: false; refusal: Refusal; slots: SlotState[] };

/**
 * Per-tenant request-rate and in-flight limits (docs/rate-limits.md): one object per tenant
 * (`idFromName(tenantId)`) holds the tenant's counters and its keys', so a request's key and tenant
 * are checked in one round trip, atomically (every method runs its SQL synchronously, so no other
 * call interleaves).
 *
 * - rpm: a log of admission times per scope; a request is admitted while fewer than `rpm` admissions
 *   lie in the last 60 s. Neither a calendar minute nor a bucket: no 60 s window ever holds more.
 * - in flight: a lease per request and scope, given back by `release`; a lease whose request died
 *   expires, and the alarm set for the earliest expiry frees it without waiting for the next call.
 *
 * Window math uses the caller's clock, made monotonic inside the object (a caller whose clock lags
 * another's cannot reopen a window the object has already seen close).
 */
export class RateLimiter extends DurableObject<ObjectEnv> {
  private readonly sql: SqlStorage;
  private clock = 0;

  constructor(ctx: DurableObjectState, env: ObjectEnv) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(`
        CREATE TABLE IF NOT EXISTS admissions (scope TEXT NOT NULL, at INTEGER NOT NULL, request_id TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS admissions_scope_at ON admissions (scope, at);
        CREATE INDEX IF NOT EXISTS admissions_at ON admissions (at);
        CREATE TABLE IF NOT EXISTS leases (
          request_id TEXT NOT NULL, scope TEXT NOT NULL, expires_at INTEGER NOT NULL,
          PRIMARY KEY (request_id, scope)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS leases_scope ON leases (scope, expires_at);
        CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      `);
      const row = this.sql.exec<{ at: number | null }>('SELECT max(at) AS at FROM admissions').one();
      this.clock = row.at ?? 0;
    });
  }

  /** Counts the request against every scope's rpm and takes an in-flight slot in every scope that has a limit. */
  async admit(call: AdmitCall): Promise<AdmitResult> {
    const t = this.tick(call.now);
    this.sql.exec('DELETE FROM admissions WHERE at <= ?', t - WINDOW_MS);

    const rpm: RpmState[] = [];
    const refusals: Refusal[] = [];
    for (const scope of call.scopes) {
      if (scope.rpm === null) continue;
      const count = this.admittedSince(scope.id, t - WINDOW_MS);
      if (count >= scope.rpm) {
        // the (count - rpm + 1)th oldest admission must slide out before one more fits
        const at = this.sql
          .exec<{ at: number }>('SELECT at FROM admissions WHERE scope = ? ORDER BY at LIMIT 1 OFFSET ?', scope.id, count - scope.rpm)
          .one().at;
        const retryAfterSeconds = wholeSeconds(at + WINDOW_MS - t);
        refusals.push({ kind: 'rpm', scope: scope.id, limit: scope.rpm, retryAfterSeconds });
        rpm.push({ scope: scope.id, limit: scope.rpm, remaining: 0, resetSeconds: retryAfterSeconds });
      } else {
        rpm.push({ scope: scope.id, limit: scope.rpm, remaining: scope.rpm - count - 1, resetSeconds: 0 });
      }
    }
    const slots = this.slotStates(call.scopes, t);
    if (refusals.length > 0) return { ok: false, at: t, refusal: latest(refusals), rpm, slots };

    const slotRefusal = this.slotRefusal(slots);
    if (slotRefusal && !call.deferSlot) return { ok: false, at: t, refusal: slotRefusal, rpm, slots };

    for (const state of rpm) {
      this.sql.exec('INSERT INTO admissions (scope, at, request_id) VALUES (?, ?, ?)', state.scope, t, call.requestId);
      const oldest = this.sql.exec<{ at: number }>('SELECT min(at) AS at FROM admissions WHERE scope = ? AND at > ?', state.scope, t - WINDOW_MS).one().at;
      state.resetSeconds = wholeSeconds(oldest + WINDOW_MS - t);
    }
    const leased = slots.length > 0 && !slotRefusal;
    if (leased) await this.takeSlots(call, t, slots);
    return { ok: true, at: t, leased, rpm, slots, slotRefusal };
  }

  /**
   * Takes the in-flight slots an `admit` with `deferSlot` left out. When they are still full, the
   * request is refused and its admission withdrawn: a refused request does not use up the rpm.
   */
  async lease(call: LeaseCall): Promise<LeaseResult> {
    const t = this.tick(call.now);
    const slots = this.slotStates(call.scopes, t);
    const refusal = this.slotRefusal(slots);
    if (refusal) {
      for (const scope of call.scopes) {
        this.sql.exec('DELETE FROM admissions WHERE scope = ? AND at = ? AND request_id = ?', scope.id, call.admittedAt, call.requestId);
      }
      return { ok: false, refusal, slots };
    }
    await this.takeSlots(call, t, slots);
    return { ok: true, slots };
  }

  /** Gives back the request's in-flight slots; releasing twice, or what was never leased, is harmless. */
  async release(requestId: string): Promise<void> {
    this.sql.exec('DELETE FROM leases WHERE request_id = ?', requestId);
  }

  /** What the object holds for a scope right now (for tests and diagnostics). */
  async inspect(scope: string, now: number): Promise<{ inFlight: number; admittedInWindow: number }> {
    const t = Math.max(now, this.clock);
    return {
      inFlight: this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM leases WHERE scope = ? AND expires_at > ?', scope, t).one().n,
      admittedInWindow: this.admittedSince(scope, t - WINDOW_MS),
    };
  }

  /**
   * Frees the leases of requests that died. The alarm is set for the earliest lease expiry, so when
   * it runs that moment has come, even if the runtime (or a test's runDurableObjectAlarm) runs it early.
   */
  override async alarm(): Promise<void> {
    const scheduled = this.sql.exec<{ value: number }>("SELECT value FROM meta WHERE name = 'alarm_at'").toArray()[0]?.value ?? 0;
    const t = Math.max(Date.now(), scheduled);
    this.sql.exec('DELETE FROM leases WHERE expires_at <= ?', t);
    this.sql.exec("DELETE FROM meta WHERE name = 'alarm_at'");
    const next = this.sql.exec<{ at: number | null }>('SELECT min(expires_at) AS at FROM leases').one().at;
    if (next !== null) await this.scheduleAlarm(next);
  }

  private tick(now: number): number {
    const t = Number.isFinite(now) ? Math.floor(now) : Date.now();
    this.clock = Math.max(this.clock, t);
    return this.clock;
  }

  private admittedSince(scope: string, after: number): number {
    return this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM admissions WHERE scope = ? AND at > ?', scope, after).one().n;
  }

  /** In-flight counts for every scope with a limit; expired leases are dropped on the way. */
  private slotStates(scopes: LimitScope[], t: number): SlotState[] {
    const states: SlotState[] = [];
    for (const scope of scopes) {
      if (scope.maxConcurrent === null) continue;
      this.sql.exec('DELETE FROM leases WHERE scope = ? AND expires_at <= ?', scope.id, t);
      const inFlight = this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM leases WHERE scope = ?', scope.id).one().n;
      states.push({ scope: scope.id, limit: scope.maxConcurrent, inFlight });
    }
    return states;
  }

  private slotRefusal(slots: SlotState[]): Refusal | null {
    const full = slots.find((s) => s.inFlight >= s.limit);
    // A slot frees whenever any request in flight ends, which cannot be foreseen: retry soon.
    return full ? { kind: 'concurrency', scope: full.scope, limit: full.limit, retryAfterSeconds: 1 } : null;
  }

  private async takeSlots(call: LimitCall, t: number, slots: SlotState[]): Promise<void> {
    if (slots.length === 0) return;
    const expiresAt = t + Math.max(1, Math.floor(call.leaseMs));
    for (const state of slots) {
      this.sql.exec('INSERT OR REPLACE INTO leases (request_id, scope, expires_at) VALUES (?, ?, ?)', call.requestId, state.scope, expiresAt);
      state.inFlight += 1;
    }
    await this.scheduleAlarm(expiresAt);
  }

  /** Keeps the alarm at the earliest lease expiry; `alarm_at` mirrors it (alarm() clears it when it runs). */
  private async scheduleAlarm(at: number): Promise<void> {
    const current = this.sql.exec<{ value: number }>("SELECT value FROM meta WHERE name = 'alarm_at'").toArray()[0]?.value;
    if (current !== undefined && current <= at) return;
    this.sql.exec("INSERT OR REPLACE INTO meta (name, value) VALUES ('alarm_at', ?)", at);
    await this.ctx.storage.setAlarm(at);
  }
}

/** Retry-After and RateLimit `t` are whole seconds, at least 1 (RFC 9110 §10.2.3). */
function wholeSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** Of several refusals the client must wait for the longest. */
function latest(refusals: Refusal[]): Refusal {
  return refusals.reduce((a, b) => (b.retryAfterSeconds > a.retryAfterSeconds ? b : a));
}

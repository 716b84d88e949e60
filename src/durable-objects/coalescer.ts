import { DurableObject } from 'cloudflare:workers';
import type { ObjectEnv as Env } from './object-env';

/**
 * What `join` tells a caller: go to the origin yourself, wait for the one who does, or read the
 * cache because the flight just stored its image.
 */
export type JoinResult = { role: 'leader'; leaseUntil: number } | { role: 'follower' } | { role: 'ready' };

/** What a follower's `wait` ends with. */
export type WaitResult =
  /** The leader stored the image: read it from the cache. */
  | { outcome: 'ready' }
  /** The leader gave up or vanished: this caller now leads (and must reserve its own budget). */
  | { outcome: 'lead'; leaseUntil: number }
  /** The origin refused or failed for the leader; the same request would fail the same way. */
  | { outcome: 'failed'; code: string; message: string }
  /** Nothing came within the bounded wait. */
  | { outcome: 'timeout' }
  /** This object does not know the caller (it restarted since `join`). */
  | { outcome: 'unknown' };

/** What a leader reports when it is done. */
export type LeaderOutcome =
  | { kind: 'ready' }
  /** Not the request's fault (its budget, a crash, a failed store): let a follower try. */
  | { kind: 'handover' }
  | { kind: 'failed'; code: string; message: string };

export interface JoinOptions {
  /**
   * The caller was answered `ready`, read the cache and found no entry (expired, or not a whole
   * image): it must not be told `ready` again, but lead or follow as usual.
   */
  cacheMissedAfterReady?: boolean;
}

interface Waiter {
  promise: Promise<WaitResult>;
  resolve: (result: WaitResult) => void;
  settled: boolean;
  joinedAt: number;
}

const MIN_LEASE_MS = 1_000;
/**
 * A sanity bound, not a policy: the longest lease a leader may ask for (src/domain/lifetimes.ts)
 * is the longest ORIGIN_DEADLINE_MS (1 h) plus the time to store and settle. A bound below what the
 * leader may legitimately take would hand its flight to a follower while it is still at the origin:
 * a second origin call and a second charge for one image (docs/cache.md).
 */
const MAX_LEASE_MS = 61 * 60_000;
/** A settled waiter whose caller never came back for its result is forgotten after this long. */
const FORGET_AFTER_MS = 10 * 60_000;
/**
 * How long a flight that stored its image is remembered: a caller whose cache lookup came just
 * before the store, and whose join just after it, is sent to the cache instead of the origin.
 */
const RECENT_READY_MS = 30_000;
/** Forgotten waiters and old `ready` marks are swept at most this often (not on every call). */
const SWEEP_EVERY_MS = 5_000;

interface FlightRow extends Record<string, SqlStorageValue> {
  flight_key: string;
  request_id: string;
  lease_until: number;
  lease_ms: number;
}

/**
 * Merges identical cacheable requests that are at the origin at the same time (docs/cache.md).
 * Long-lived and multi-flight: one object per shard of a cache scope (`coalescerShardName`, 16 per
 * private tenant or for the shared pool), holding every flight of that shard keyed by the entry's
 * hash. A tenant's misses thus reuse a few warm objects instead of creating (and placing) a new
 * object with its own storage per distinct request. For each flight the first caller leads and
 * goes to the origin; the others wait for its outcome and then read the stored entry. AI gateways
 * that skip this pay the origin once per simultaneous duplicate.
 *
 * Leases live in SQLite (one row per flight, so they survive a restart of this object); one alarm,
 * at the earliest lease of any flight, hands a flight to its next waiter when the leader's Worker
 * died without reporting. Waiters live in memory: their RPC calls keep the object alive, and if it
 * restarts anyway their calls fail and the callers fall back to going to the origin themselves.
 */
export class Coalescer extends DurableObject<Env> {
  /** Per flight key, the followers in queue order (a Map keeps insertion order). */
  private readonly waiters = new Map<string, Map<string, Waiter>>();
  /** Per flight key, when it last finished `ready`. */
  private readonly recentReady = new Map<string, number>();
  private lastSweep = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(
        `CREATE TABLE IF NOT EXISTS flight (
           flight_key TEXT PRIMARY KEY,
           request_id TEXT NOT NULL,
           lease_until INTEGER NOT NULL,
           lease_ms INTEGER NOT NULL
         )`,
      );
    });
  }

  /**
   * Leads when nobody holds a live lease on the flight; queues the caller as a follower (then call
   * `wait`) when someone does; answers `ready` when the flight stored its image moments ago.
   */
  async join(flightKey: string, requestId: string, leaseMs: number, options: JoinOptions = {}): Promise<JoinResult> {
    const now = Date.now();
    this.sweep(now);
    const lead = this.lead(flightKey);
    const mine = lead?.request_id === requestId;
    if (options.cacheMissedAfterReady) {
      // the entry is not where `ready` said it would be: nobody else should be sent to read it either
      this.recentReady.delete(flightKey);
    } else if (!mine) {
      const readyAt = this.recentReady.get(flightKey);
      if (readyAt !== undefined && now - readyAt < RECENT_READY_MS) return { role: 'ready' };
    }
    if (lead && !mine && lead.lease_until > now) {
      let queue = this.waiters.get(flightKey);
      if (!queue) this.waiters.set(flightKey, (queue = new Map()));
      if (!queue.has(requestId)) {
        let resolve: (result: WaitResult) => void = () => {};
        const promise = new Promise<WaitResult>((r) => (resolve = r));
        queue.set(requestId, { promise, resolve, settled: false, joinedAt: now });
      }
      return { role: 'follower' };
    }
    return { role: 'leader', leaseUntil: await this.setLead(flightKey, requestId, clampLease(leaseMs), now) };
  }

  /** A follower's bounded wait for the leader's outcome (or for leadership). */
  async wait(flightKey: string, requestId: string, maxWaitMs: number): Promise<WaitResult> {
    const waiter = this.waiters.get(flightKey)?.get(requestId);
    if (!waiter) return { outcome: 'unknown' };
    let timer: ReturnType<typeof setTimeout> | null = null;
    const timeout = new Promise<WaitResult>((r) => {
      timer = setTimeout(() => {
        // Settled at once, so a waiter that stopped waiting is never made leader behind its back.
        waiter.settled = true;
        r({ outcome: 'timeout' });
      }, Math.max(0, Math.min(maxWaitMs, MAX_LEASE_MS)));
    });
    try {
      return await Promise.race([waiter.promise, timeout]);
    } finally {
      if (timer !== null) clearTimeout(timer);
      this.dropWaiter(flightKey, requestId);
    }
  }

  /**
   * The leader's report. Only the current leader can fail or hand over (a follower's handover just
   * takes it out of the queue); anyone's stored image frees the waiters.
   */
  async finish(flightKey: string, requestId: string, outcome: LeaderOutcome): Promise<void> {
    const lead = this.lead(flightKey);
    const isLeader = lead?.request_id === requestId;
    if (outcome.kind === 'ready') {
      this.recentReady.set(flightKey, Date.now());
      this.settleAll(flightKey, { outcome: 'ready' });
      if (isLeader) await this.clearLead(flightKey);
      return;
    }
    if (!isLeader || !lead) {
      // A follower that leaves before its turn (its request failed elsewhere) must not be made leader later.
      const waiter = this.waiters.get(flightKey)?.get(requestId);
      if (outcome.kind === 'handover' && waiter) {
        waiter.settled = true;
        waiter.resolve({ outcome: 'timeout' });
        this.dropWaiter(flightKey, requestId);
      }
      return;
    }
    if (outcome.kind === 'failed') {
      this.settleAll(flightKey, { outcome: 'failed', code: outcome.code, message: outcome.message });
      await this.clearLead(flightKey);
      return;
    }
    await this.promoteNext(flightKey, lead.lease_ms);
  }

  /**
   * The earliest lease ran out: every flight whose leader is presumed dead goes to its next waiter
   * (the others are left alone); then the alarm is set for the earliest lease still held.
   */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const expired = this.ctx.storage.sql
      .exec<FlightRow>('SELECT flight_key, request_id, lease_until, lease_ms FROM flight WHERE lease_until <= ?', now)
      .toArray();
    for (const lead of expired) await this.promoteNext(lead.flight_key, lead.lease_ms, false);
    const next = this.earliestLease();
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }

  private lead(flightKey: string): FlightRow | null {
    return (
      this.ctx.storage.sql
        .exec<FlightRow>('SELECT flight_key, request_id, lease_until, lease_ms FROM flight WHERE flight_key = ?', flightKey)
        .toArray()[0] ?? null
    );
  }

  private earliestLease(): number | null {
    const row = this.ctx.storage.sql.exec<{ next: number | null }>('SELECT MIN(lease_until) AS next FROM flight').toArray()[0];
    return row?.next ?? null;
  }

  private async setLead(flightKey: string, requestId: string, leaseMs: number, now: number, rearm = true): Promise<number> {
    const leaseUntil = now + leaseMs;
    this.ctx.storage.sql.exec(
      `INSERT INTO flight (flight_key, request_id, lease_until, lease_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (flight_key) DO UPDATE SET request_id = excluded.request_id, lease_until = excluded.lease_until, lease_ms = excluded.lease_ms`,
      flightKey,
      requestId,
      leaseUntil,
      leaseMs,
    );
    // The alarm stays at or before the earliest lease; one that fires early just sets itself again.
    if (rearm) {
      const alarm = await this.ctx.storage.getAlarm();
      if (alarm === null || alarm > leaseUntil) await this.ctx.storage.setAlarm(leaseUntil);
    }
    return leaseUntil;
  }

  private async clearLead(flightKey: string, rearm = true): Promise<void> {
    this.ctx.storage.sql.exec('DELETE FROM flight WHERE flight_key = ?', flightKey);
    if (rearm && this.earliestLease() === null) await this.ctx.storage.deleteAlarm();
  }

  /** The flight's next waiter in queue order leads; with none left, the flight ends. */
  private async promoteNext(flightKey: string, leaseMs: number, rearm = true): Promise<void> {
    const queue = this.waiters.get(flightKey);
    for (const [requestId, waiter] of queue ?? []) {
      if (waiter.settled) continue;
      const leaseUntil = await this.setLead(flightKey, requestId, leaseMs, Date.now(), rearm);
      waiter.settled = true;
      waiter.resolve({ outcome: 'lead', leaseUntil });
      return;
    }
    await this.clearLead(flightKey, rearm);
  }

  private settleAll(flightKey: string, result: WaitResult): void {
    for (const waiter of this.waiters.get(flightKey)?.values() ?? []) {
      if (waiter.settled) continue;
      waiter.settled = true;
      waiter.resolve(result);
    }
  }

  private dropWaiter(flightKey: string, requestId: string): void {
    const queue = this.waiters.get(flightKey);
    if (!queue) return;
    queue.delete(requestId);
    if (queue.size === 0) this.waiters.delete(flightKey);
  }

  /** Forgets settled waiters nobody came back for, and `ready` marks too old to matter. */
  private sweep(now: number): void {
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    for (const [flightKey, queue] of this.waiters) {
      for (const [requestId, waiter] of queue) {
        if (waiter.settled && now - waiter.joinedAt > FORGET_AFTER_MS) queue.delete(requestId);
      }
      if (queue.size === 0) this.waiters.delete(flightKey);
    }
    for (const [flightKey, readyAt] of this.recentReady) {
      if (now - readyAt >= RECENT_READY_MS) this.recentReady.delete(flightKey);
    }
  }
}

function clampLease(ms: number): number {
  return Number.isFinite(ms) ? Math.min(MAX_LEASE_MS, Math.max(MIN_LEASE_MS, Math.round(ms))) : MAX_LEASE_MS;
}

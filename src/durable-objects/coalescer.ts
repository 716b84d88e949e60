import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';

/** What `join` tells a caller: go to the origin yourself, or wait for the one who does. */
export type JoinResult = { role: 'leader'; leaseUntil: number } | { role: 'follower' };

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

interface Waiter {
  promise: Promise<WaitResult>;
  resolve: (result: WaitResult) => void;
  settled: boolean;
  joinedAt: number;
}

const MIN_LEASE_MS = 1_000;
const MAX_LEASE_MS = 15 * 60_000;
/** A settled waiter whose caller never came back for its result is forgotten after this long. */
const FORGET_AFTER_MS = 10 * 60_000;

interface LeadRow extends Record<string, SqlStorageValue> {
  request_id: string;
  lease_until: number;
  lease_ms: number;
}

/**
 * Merges identical cacheable requests that are at the origin at the same time (CONTRACT §6). One
 * object per scoped cache key (`idFromName`): the first caller leads and goes to the origin, the
 * others wait for its outcome and then read the stored entry. AI gateways that skip this pay the
 * origin once per simultaneous duplicate.
 *
 * The leader holds a lease (in SQLite, so it survives a restart of this object); an alarm at the
 * lease's end hands leadership to the next waiter when the leader's Worker died without reporting.
 * Waiters live in memory: their RPC calls keep the object alive, and if it restarts anyway their
 * calls fail and the callers fall back to going to the origin themselves.
 */
export class Coalescer extends DurableObject<Env> {
  private readonly waiters = new Map<string, Waiter>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(
        `CREATE TABLE IF NOT EXISTS lead (
           slot INTEGER PRIMARY KEY CHECK (slot = 1),
           request_id TEXT NOT NULL,
           lease_until INTEGER NOT NULL,
           lease_ms INTEGER NOT NULL
         )`,
      );
    });
  }

  /** Leads when nobody holds a live lease; otherwise queues the caller as a follower (then call `wait`). */
  async join(requestId: string, leaseMs: number): Promise<JoinResult> {
    const now = Date.now();
    this.forgetStale(now);
    const lead = this.lead();
    if (!lead || lead.request_id === requestId || lead.lease_until <= now) {
      return { role: 'leader', leaseUntil: await this.setLead(requestId, clampLease(leaseMs), now) };
    }
    if (!this.waiters.has(requestId)) {
      let resolve: (result: WaitResult) => void = () => {};
      const promise = new Promise<WaitResult>((r) => (resolve = r));
      this.waiters.set(requestId, { promise, resolve, settled: false, joinedAt: now });
    }
    return { role: 'follower' };
  }

  /** A follower's bounded wait for the leader's outcome (or for leadership). */
  async wait(requestId: string, maxWaitMs: number): Promise<WaitResult> {
    const waiter = this.waiters.get(requestId);
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
      this.waiters.delete(requestId);
    }
  }

  /**
   * The leader's report. Only the current leader can fail or hand over (a follower's handover just
   * takes it out of the queue); anyone's stored image frees the waiters.
   */
  async finish(requestId: string, outcome: LeaderOutcome): Promise<void> {
    const lead = this.lead();
    const isLeader = lead?.request_id === requestId;
    if (outcome.kind === 'ready') {
      this.settleAll({ outcome: 'ready' });
      if (isLeader) await this.clearLead();
      return;
    }
    if (!isLeader || !lead) {
      // A follower that leaves before its turn (its request failed elsewhere) must not be made leader later.
      const waiter = this.waiters.get(requestId);
      if (outcome.kind === 'handover' && waiter) {
        waiter.settled = true;
        waiter.resolve({ outcome: 'timeout' });
        this.waiters.delete(requestId);
      }
      return;
    }
    if (outcome.kind === 'failed') {
      this.settleAll({ outcome: 'failed', code: outcome.code, message: outcome.message });
      await this.clearLead();
      return;
    }
    await this.promoteNext(lead.lease_ms);
  }

  /** The lease ran out without a report: the leader is presumed dead, so the next waiter leads. */
  override async alarm(): Promise<void> {
    const lead = this.lead();
    if (!lead) return;
    if (lead.lease_until > Date.now()) {
      await this.ctx.storage.setAlarm(lead.lease_until);
      return;
    }
    await this.promoteNext(lead.lease_ms);
  }

  private lead(): LeadRow | null {
    return this.ctx.storage.sql.exec<LeadRow>('SELECT request_id, lease_until, lease_ms FROM lead WHERE slot = 1').toArray()[0] ?? null;
  }

  private async setLead(requestId: string, leaseMs: number, now: number): Promise<number> {
    const leaseUntil = now + leaseMs;
    this.ctx.storage.sql.exec(
      `INSERT INTO lead (slot, request_id, lease_until, lease_ms) VALUES (1, ?, ?, ?)
       ON CONFLICT (slot) DO UPDATE SET request_id = excluded.request_id, lease_until = excluded.lease_until, lease_ms = excluded.lease_ms`,
      requestId,
      leaseUntil,
      leaseMs,
    );
    await this.ctx.storage.setAlarm(leaseUntil);
    return leaseUntil;
  }

  private async clearLead(): Promise<void> {
    this.ctx.storage.sql.exec('DELETE FROM lead');
    await this.ctx.storage.deleteAlarm();
  }

  private async promoteNext(leaseMs: number): Promise<void> {
    for (const [requestId, waiter] of this.waiters) {
      if (waiter.settled) continue;
      const leaseUntil = await this.setLead(requestId, leaseMs, Date.now());
      waiter.settled = true;
      waiter.resolve({ outcome: 'lead', leaseUntil });
      return;
    }
    await this.clearLead();
  }

  private settleAll(result: WaitResult): void {
    for (const waiter of this.waiters.values()) {
      if (waiter.settled) continue;
      waiter.settled = true;
      waiter.resolve(result);
    }
  }

  private forgetStale(now: number): void {
    for (const [requestId, waiter] of this.waiters) {
      if (waiter.settled && now - waiter.joinedAt > FORGET_AFTER_MS) this.waiters.delete(requestId);
    }
  }
}

function clampLease(ms: number): number {
  return Number.isFinite(ms) ? Math.min(MAX_LEASE_MS, Math.max(MIN_LEASE_MS, Math.round(ms))) : MAX_LEASE_MS;
}

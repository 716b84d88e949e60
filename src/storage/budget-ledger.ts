import type { Caller } from '../env';
import type { Nano } from '../domain/money';
import type { SeededRequest } from '../domain/generation-request';

export type CacheOutcome = 'hit' | 'miss' | 'bypass' | 'coalesced';

/** One generation as the usage ledger records it (CONTRACT §4). */
export interface LedgerEntry {
  generationId: string;
  requestId: string;
  request: SeededRequest;
  cache: CacheOutcome;
  origin: string | null;
  /** 'ok' or the error code the generation ended with. */
  status: string;
  latencyMs: number;
}

export interface ReservationItem {
  generationId: string;
  costNano: Nano;
}

export type ReserveResult =
  | { ok: true }
  | { ok: false; scope: 'key' | 'tenant'; name: string; remainingNano: Nano; costNano: Nano; period: string };

/** Reserves every item's cost against both the key's and the tenant's budget, all or nothing. */
export async function reserve(_db: D1Database, _caller: Caller, _items: ReservationItem[], _now: number): Promise<ReserveResult> {
  return { ok: true };
}

/** Turns a reservation into a charge and writes its ledger row, in one transaction. */
export async function settle(_db: D1Database, _caller: Caller, _item: ReservationItem, _entry: LedgerEntry, _now: number): Promise<void> {}

/** Gives a reservation back (the generation failed) and writes its ledger row with cost 0. */
export async function release(_db: D1Database, _caller: Caller, _item: ReservationItem, _entry: LedgerEntry, _now: number): Promise<void> {}

/** A ledger row for a generation that cost nothing (a cache hit or a coalesced follower). */
export async function recordFree(_db: D1Database, _caller: Caller, _entry: LedgerEntry, _now: number): Promise<void> {}

/** The smaller of what the key and its tenant have left, or null when neither has a budget. */
export async function budgetRemaining(_db: D1Database, _caller: Caller, _now: number): Promise<Nano | null> {
  return null;
}

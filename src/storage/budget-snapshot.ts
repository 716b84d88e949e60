import { remainingOf, smallerRemaining, type BudgetPeriod, type BudgetState } from '../domain/budget-period';
import { nanoFromDb, type Nano } from '../domain/money';
import type { Caller } from '../domain/tenants';

/**
 * The budget state of a key's and a tenant's rows (what each budget holds, has spent and has
 * reserved), and the last state each write returned, so the Imagegate-Budget-Remaining-USD header
 * costs no extra round trip (docs/money.md).
 */

export interface StateRow {
  name: string;
  budget_nano: number | null;
  budget_period: BudgetPeriod;
  period_key: string | null;
  spent_nano: number;
  reserved_nano: number;
}
export const STATE_COLUMNS = 'name, budget_nano, budget_period, period_key, spent_nano, reserved_nano';

export function stateFromRow(row: StateRow): BudgetState {
  return {
    budgetNano: nanoFromDb(row.budget_nano),
    budgetPeriod: row.budget_period,
    periodKey: row.period_key,
    spentNano: nanoFromDb(row.spent_nano) ?? 0n,
    reservedNano: nanoFromDb(row.reserved_nano) ?? 0n,
  };
}

/** The caller's key row and tenant row, in that order, for one D1 batch. */
export function selectStates(db: D1Database, caller: Caller): D1PreparedStatement[] {
  return [
    db.prepare(`SELECT ${STATE_COLUMNS} FROM api_keys WHERE id = ?`).bind(caller.key.id),
    db.prepare(`SELECT ${STATE_COLUMNS} FROM tenants WHERE id = ?`).bind(caller.tenant.id),
  ];
}

/**
 * Kept per Caller object (one per authenticated key, briefly shared by that key's requests), and
 * trusted only for a few seconds.
 */
const SNAPSHOT_MS = 5_000;

interface Snapshot {
  key?: BudgetState;
  tenant?: BudgetState;
  at: number;
}
const snapshots = new WeakMap<Caller, Snapshot>();

/** Both states, when the last write that returned them is recent enough to trust. */
export function freshSnapshot(caller: Caller, now: number): Snapshot | undefined {
  const snap = snapshots.get(caller);
  return snap?.key && snap.tenant && now - snap.at < SNAPSHOT_MS && now >= snap.at ? snap : undefined;
}

/** Keeps what a write returned; a row it did not return keeps its previous state. */
export function remember(caller: Caller, now: number, key: StateRow | undefined, tenant: StateRow | undefined): void {
  const prev = snapshots.get(caller);
  snapshots.set(caller, {
    key: key ? stateFromRow(key) : prev?.key,
    tenant: tenant ? stateFromRow(tenant) : prev?.tenant,
    at: now,
  });
}

/** Whether the key or its tenant has a budget at all; without one there is nothing to report. */
export function hasBudget(caller: Caller): boolean {
  return caller.key.budgetNano !== null || caller.tenant.budgetNano !== null;
}

/** The smaller of what the key and its tenant have left, or null when neither has a budget. */
export async function budgetRemaining(db: D1Database, caller: Caller, now: number): Promise<Nano | null> {
  if (!hasBudget(caller)) return null;
  return remainingIn(freshSnapshot(caller, now) ?? (await readSnapshot(db, caller, now)), now);
}

/**
 * As `budgetRemaining`, but read from D1 now rather than from a recent write's answer: for the
 * estimate, whose whole point is this figure. Two rows by their primary keys, one round trip.
 */
export async function budgetRemainingNow(db: D1Database, caller: Caller, now: number): Promise<Nano | null> {
  return remainingIn(await readSnapshot(db, caller, now), now);
}

async function readSnapshot(db: D1Database, caller: Caller, now: number): Promise<Snapshot | undefined> {
  const [k, t] = await db.batch<StateRow>(selectStates(db, caller));
  remember(caller, now, k?.results[0], t?.results[0]);
  return snapshots.get(caller);
}

function remainingIn(snap: Snapshot | undefined, now: number): Nano | null {
  const key = snap?.key ? remainingOf(snap.key, now) : null;
  const tenant = snap?.tenant ? remainingOf(snap.tenant, now) : null;
  return smallerRemaining(key, tenant);
}

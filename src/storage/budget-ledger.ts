import type { Caller } from '../env';
import { periodKeys, periodPhrase, remainingOf, smallerRemaining, type BudgetPeriod, type BudgetState } from '../domain/budget-period';
import { nanoFromDb, nanoToDb, type Nano } from '../domain/money';
import { originDeadlineMs } from '../origins/config';
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
  /** The image this generation answered with, and the R2 object holding its bytes (GET /v1/images/{id}). */
  image?: { id: string; r2Key: string };
}

export interface ReservationItem {
  generationId: string;
  costNano: Nano;
  /** What is being generated, so a reservation the cron releases still has a meaningful ledger row. */
  request?: Pick<SeededRequest, 'model' | 'width' | 'height' | 'steps'>;
}

export type ReserveResult =
  | { ok: true }
  | { ok: false; scope: 'key' | 'tenant'; name: string; remainingNano: Nano; costNano: Nano; period: string };

/**
 * How long a reservation may stay unsettled before the cron gives it back, at least. It must outlast
 * the slowest request that still settles (origin timeouts of 120 s, tried in turn), because a
 * settle after the release is not charged: callers pass a longer one when ORIGIN_DEADLINE_MS allows
 * a longer request (services/generate.ts).
 */
export const RESERVATION_TTL_MS = 15 * 60_000;
/** Time after the origin deadline for the cache write and the settlement. */
const SETTLE_MARGIN_MS = 5 * 60_000;

/**
 * How long a generation may legitimately run and still settle: the origin deadline (every origin
 * tried in turn, up to an hour with ORIGIN_DEADLINE_MS) plus the settle margin, and never less than
 * RESERVATION_TTL_MS. Its reservation, and its Idempotency-Key's 'running' lease, must outlive it:
 * released earlier, a request still at the origin would get its image free, or run twice.
 */
export function requestLifetimeMs(env: Record<string, unknown>): number {
  return Math.max(RESERVATION_TTL_MS, originDeadlineMs(env) + SETTLE_MARGIN_MS);
}

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

/**
 * The row's current period key, from its own budget_period; ?3 ?4 ?5 are bound to periodKeys(now).
 * A row whose period_key differs is in a new period: its spent_nano restarts from 0 in the same
 * UPDATE, so rollover needs no cron job to be on time.
 */
const CURRENT_PERIOD = "(CASE budget_period WHEN 'day' THEN ?3 WHEN 'week' THEN ?4 WHEN 'month' THEN ?5 ELSE 'none' END)";
const SPENT_THIS_PERIOD = `(CASE WHEN period_key IS ${CURRENT_PERIOD} THEN spent_nano ELSE 0 END)`;

function periodArgs(now: number): [string, string, string] {
  const k = periodKeys(now);
  return [k.day, k.week, k.month];
}

// ------------------------------------------------------------------ the last known budget state

/**
 * The budget state each write returned, so the Imagegate-Budget-Remaining-USD header costs no extra
 * round trip. Kept per Caller object (one per authenticated key, briefly shared by that key's
 * requests), and trusted only for a few seconds.
 */
const SNAPSHOT_MS = 5_000;
const snapshots = new WeakMap<Caller, { key?: BudgetState; tenant?: BudgetState; at: number }>();

function freshSnapshot(caller: Caller, now: number): { key?: BudgetState; tenant?: BudgetState; at: number } | undefined {
  const snap = snapshots.get(caller);
  return snap?.key && snap.tenant && now - snap.at < SNAPSHOT_MS && now >= snap.at ? snap : undefined;
}

function remember(caller: Caller, now: number, key: StateRow | undefined, tenant: StateRow | undefined): void {
  const prev = snapshots.get(caller);
  snapshots.set(caller, {
    key: key ? stateFromRow(key) : prev?.key,
    tenant: tenant ? stateFromRow(tenant) : prev?.tenant,
    at: now,
  });
}

function selectStates(db: D1Database, caller: Caller): D1PreparedStatement[] {
  return [
    db.prepare(`SELECT ${STATE_COLUMNS} FROM api_keys WHERE id = ?`).bind(caller.key.id),
    db.prepare(`SELECT ${STATE_COLUMNS} FROM tenants WHERE id = ?`).bind(caller.tenant.id),
  ];
}

// ------------------------------------------------------------------ reserve, settle, release

/**
 * Reserves every item's cost against both the key's and the tenant's budget, all or nothing: one
 * D1 batch (one transaction) raises reserved_nano on both rows and inserts the reservation rows;
 * the budget triggers (migrations/0002) abort the whole batch when either budget would overflow.
 */
export async function reserve(
  db: D1Database,
  caller: Caller,
  items: ReservationItem[],
  now: number,
  ttlMs: number = RESERVATION_TTL_MS,
): Promise<ReserveResult> {
  const total = items.reduce((sum, item) => sum + item.costNano, 0n);
  const hold = (table: 'api_keys' | 'tenants', id: string) =>
    db
      .prepare(
        `UPDATE ${table} SET spent_nano = ${SPENT_THIS_PERIOD}, period_key = ${CURRENT_PERIOD},
           reserved_nano = reserved_nano + ?2 WHERE id = ?1 RETURNING ${STATE_COLUMNS}`,
      )
      .bind(id, nanoToDb(total), ...periodArgs(now));
  const createdAt = new Date(now).toISOString();
  const rows = items.map((item) =>
    db
      .prepare(
        `INSERT INTO reservations (generation_id, request_id, tenant_id, key_id, model, width, height, steps, cost_nano, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(
        item.generationId,
        requestIdOf(item.generationId),
        caller.tenant.id,
        caller.key.id,
        item.request?.model ?? '',
        item.request?.width ?? 0,
        item.request?.height ?? 0,
        item.request?.steps ?? 0,
        nanoToDb(item.costNano),
        createdAt,
        now + ttlMs,
      ),
  );
  try {
    const results = await db.batch<StateRow>([hold('api_keys', caller.key.id), hold('tenants', caller.tenant.id), ...rows]);
    remember(caller, now, results[0]?.results[0], results[1]?.results[0]);
    return { ok: true };
  } catch (err) {
    const scope = budgetScope(err);
    if (!scope) throw err;
    return refusal(db, caller, scope, total, now);
  }
}

/** 'key' or 'tenant' when the error is one of the budget triggers, else null. */
function budgetScope(err: unknown): 'key' | 'tenant' | null {
  const text = err instanceof Error ? `${err.message} ${String(err.cause ?? '')}` : String(err);
  const match = /budget_exceeded:(key|tenant)/.exec(text);
  return match ? (match[1] as 'key' | 'tenant') : null;
}

/** The 402's facts: which budget, what it has left this period, what the request costs. */
async function refusal(db: D1Database, caller: Caller, scope: 'key' | 'tenant', costNano: Nano, now: number): Promise<ReserveResult> {
  const [keyRes, tenantRes] = await db.batch<StateRow>(selectStates(db, caller));
  const row = (scope === 'key' ? keyRes : tenantRes)?.results[0];
  remember(caller, now, keyRes?.results[0], tenantRes?.results[0]);
  if (!row) throw new Error(`the ${scope} row disappeared while reserving`);
  const state = stateFromRow(row);
  const left = remainingOf(state, now) ?? 0n;
  return {
    ok: false,
    scope,
    name: row.name,
    remainingNano: left < 0n ? 0n : left,
    costNano,
    period: periodPhrase(state.budgetPeriod),
  };
}

function requestIdOf(generationId: string): string {
  const dot = generationId.indexOf('.');
  return dot < 0 ? generationId : generationId.slice(0, dot);
}

export const LEDGER_COLUMNS =
  'generation_id, request_id, tenant_id, key_id, model, width, height, steps, cost_nano, cache, origin, status, latency_ms, created_at';
/** The ledger row's pointer to the image (migrations/0003), written after LEDGER_COLUMNS. */
const IMAGE_COLUMNS = 'image_id, image_key';

/**
 * The entry's part of a ledger row, in LEDGER_COLUMNS order from `model` to `created_at` then
 * IMAGE_COLUMNS, less `cost_nano` (between `steps` and `cache`), which each INSERT writes itself.
 */
function entryValues(entry: LedgerEntry, now: number): (string | number | null)[] {
  return [
    entry.request.model,
    entry.request.width,
    entry.request.height,
    entry.request.steps,
    entry.cache,
    entry.origin,
    entry.status,
    Math.max(0, Math.round(entry.latencyMs)),
    new Date(now).toISOString(),
    entry.image?.id ?? null,
    entry.image?.r2Key ?? null,
  ];
}

/**
 * Ends a reservation: moves its cost to spent (settle) or just gives it back (release), writes its
 * ledger row and deletes it, in one batch. Every statement reads the reservation row, so when it is
 * already gone (the cron released it, or this ran twice) the batch changes nothing.
 */
async function finish(
  db: D1Database,
  caller: Caller,
  item: ReservationItem,
  entry: LedgerEntry,
  now: number,
  charge: boolean,
): Promise<void> {
  const adjust = charge
    ? `spent_nano = ${SPENT_THIS_PERIOD} + r.cost_nano, period_key = ${CURRENT_PERIOD}, reserved_nano = reserved_nano - r.cost_nano`
    : 'reserved_nano = reserved_nano - r.cost_nano';
  const update = (table: 'api_keys' | 'tenants', idColumn: 'key_id' | 'tenant_id') => {
    const stmt = db.prepare(
      `UPDATE ${table} SET ${adjust}
       FROM (SELECT ${idColumn} AS owner_id, cost_nano FROM reservations WHERE generation_id = ?1) AS r
       WHERE ${table}.id = r.owner_id RETURNING ${STATE_COLUMNS}`,
    );
    return charge ? stmt.bind(item.generationId, null, ...periodArgs(now)) : stmt.bind(item.generationId);
  };
  const ledger = db
    .prepare(
      `INSERT INTO usage_ledger (${LEDGER_COLUMNS}, ${IMAGE_COLUMNS})
       SELECT generation_id, ?2, tenant_id, key_id, ?3, ?4, ?5, ?6, ${charge ? 'cost_nano' : '0'}, ?7, ?8, ?9, ?10, ?11, ?12, ?13
       FROM reservations WHERE generation_id = ?1`,
    )
    .bind(item.generationId, entry.requestId, ...entryValues(entry, now));
  const drop = db.prepare('DELETE FROM reservations WHERE generation_id = ?').bind(item.generationId);
  const results = await db.batch<StateRow>([update('api_keys', 'key_id'), update('tenants', 'tenant_id'), ledger, drop]);
  remember(caller, now, results[0]?.results[0], results[1]?.results[0]);
}

/** Turns a reservation into a charge and writes its ledger row, in one transaction. */
export async function settle(db: D1Database, caller: Caller, item: ReservationItem, entry: LedgerEntry, now: number): Promise<void> {
  await finish(db, caller, item, entry, now, true);
}

/** Gives a reservation back (the generation failed) and writes its ledger row with cost 0. */
export async function release(db: D1Database, caller: Caller, item: ReservationItem, entry: LedgerEntry, now: number): Promise<void> {
  await finish(db, caller, item, entry, now, false);
}

/** A ledger row for a generation that cost nothing (a cache hit or a coalesced follower). */
export async function recordFree(db: D1Database, caller: Caller, entry: LedgerEntry, now: number): Promise<void> {
  const insert = db
    .prepare(`INSERT INTO usage_ledger (${LEDGER_COLUMNS}, ${IMAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)`)
    .bind(entry.generationId, entry.requestId, caller.tenant.id, caller.key.id, ...entryValues(entry, now));
  // a free generation changes no budget: the states are read only when none fresh is at hand
  if (!hasBudget(caller) || freshSnapshot(caller, now)) {
    await insert.run();
    return;
  }
  // the states ride along in the same round trip, for the Budget-Remaining header
  const results = await db.batch<StateRow>([insert, ...selectStates(db, caller)]);
  remember(caller, now, results[1]?.results[0], results[2]?.results[0]);
}

/** The smaller of what the key and its tenant have left, or null when neither has a budget. */
export async function budgetRemaining(db: D1Database, caller: Caller, now: number): Promise<Nano | null> {
  if (!hasBudget(caller)) return null;
  let snap = freshSnapshot(caller, now);
  if (!snap) {
    const [k, t] = await db.batch<StateRow>(selectStates(db, caller));
    remember(caller, now, k?.results[0], t?.results[0]);
    snap = snapshots.get(caller);
  }
  const key = snap?.key ? remainingOf(snap.key, now) : null;
  const tenant = snap?.tenant ? remainingOf(snap.tenant, now) : null;
  return smallerRemaining(key, tenant);
}

/** Whether the key or its tenant has a budget at all; without one there is nothing to report. */
function hasBudget(caller: Caller): boolean {
  return caller.key.budgetNano !== null || caller.tenant.budgetNano !== null;
}

import { periodKeys, periodPhrase, remainingOf } from '../domain/budget-period';
import type { SeededRequest } from '../domain/generation-request';
import { atLeastZero, nanoToDb, type Nano } from '../domain/money';
import type { Tags } from '../domain/tags';
import type { Caller } from '../domain/tenants';
import { refusedEventStatement } from './budget-events';
import { remember, selectStates, STATE_COLUMNS, stateFromRow, type StateRow } from './budget-snapshot';
import { expiredLedgerRows, expiredTagRows, reservationLedgerRow, reservationTagRows, type LedgerEntry } from './ledger';

/**
 * Budget reservations (docs/money.md): a generation that goes to an origin first reserves its cost
 * against its key's and its tenant's budget; it then settles (the cost becomes spent) or releases
 * (the cost goes back), writing its ledger row. A reservation whose request died is released by the
 * cron once its lifetime is over (src/domain/lifetimes.ts: `reservationMs`).
 */

export interface ReservationItem {
  generationId: string;
  costNano: Nano;
  /** What is being generated, so a reservation the cron releases still has a meaningful ledger row. */
  request: Pick<SeededRequest, 'model' | 'width' | 'height' | 'steps'>;
  /** The cache word the image would have: the cron's 'expired' ledger row keeps it (default 'miss'). */
  cache?: ReservedCacheWord;
  /** The price version `costNano` was priced by (default 1): the ledger row records it, whenever the reservation ends. */
  priceVersion?: number;
  /** The tags its ledger row will carry (default none), whichever way the reservation ends. */
  tags?: Tags;
}

/** What the cache does for an image that goes to an origin (migrations/0005). */
export type ReservedCacheWord = 'miss' | 'bypass';

export type ReserveResult =
  | { ok: true }
  | {
      ok: false;
      scope: 'key' | 'tenant';
      name: string;
      remainingNano: Nano;
      costNano: Nano;
      period: string;
      /** This was the period's first refusal of that budget: a budget.refused event waits in the outbox. */
      eventRecorded: boolean;
    };

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

/**
 * Moves a row whose period_key is stale into the current period (spent_nano back to 0), as the
 * first reserve of a period would: an admin change to a budget is then measured against what the
 * current period spent.
 */
export function rollPeriodStatement(db: D1Database, table: 'api_keys' | 'tenants', id: string, now: number): D1PreparedStatement {
  return db
    .prepare(`UPDATE ${table} SET spent_nano = ${SPENT_THIS_PERIOD}, period_key = ${CURRENT_PERIOD} WHERE id = ?1`)
    .bind(id, null, ...periodArgs(now));
}

/**
 * Reserves every item's cost against both the key's and the tenant's budget, all or nothing, for
 * `lifetimeMs` (after which the cron gives it back): one D1 batch (one transaction) raises
 * reserved_nano on both rows and inserts the reservation rows; the budget triggers
 * (migrations/0002) abort the whole batch when either budget would overflow.
 */
export async function reserve(db: D1Database, caller: Caller, items: ReservationItem[], now: number, lifetimeMs: number): Promise<ReserveResult> {
  const total = items.reduce((sum, item) => sum + item.costNano, 0n);
  const hold = (table: 'api_keys' | 'tenants', id: string) =>
    db
      .prepare(
        `UPDATE ${table} SET spent_nano = ${SPENT_THIS_PERIOD}, period_key = ${CURRENT_PERIOD},
           reserved_nano = reserved_nano + ?2 WHERE id = ?1 RETURNING ${STATE_COLUMNS}`,
      )
      .bind(id, nanoToDb(total), ...periodArgs(now));
  const rows = items.map((item) => reservationRow(db, caller, item, now, lifetimeMs));
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

function reservationRow(db: D1Database, caller: Caller, item: ReservationItem, now: number, lifetimeMs: number): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO reservations (generation_id, request_id, tenant_id, key_id, model, width, height, steps, cost_nano, created_at, expires_at,
         cache, price_version, tags)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      item.generationId,
      requestIdOf(item.generationId),
      caller.tenant.id,
      caller.key.id,
      item.request.model,
      item.request.width,
      item.request.height,
      item.request.steps,
      nanoToDb(item.costNano),
      new Date(now).toISOString(),
      now + lifetimeMs,
      item.cache ?? 'miss',
      item.priceVersion ?? 1,
      JSON.stringify(item.tags ?? {}),
    );
}

/** 'key' or 'tenant' when the error is one of the budget triggers, else null. */
function budgetScope(err: unknown): 'key' | 'tenant' | null {
  const text = err instanceof Error ? `${err.message} ${String(err.cause ?? '')}` : String(err);
  const match = /budget_exceeded:(key|tenant)/.exec(text);
  return match ? (match[1] as 'key' | 'tenant') : null;
}

/**
 * The 402's facts: which budget, what it has left this period, what the request costs. The same
 * batch records the period's first refusal of that budget as a budget.refused event: it cannot go
 * in the reserve batch, which the budget trigger aborted (and rolled back) as a whole.
 */
async function refusal(db: D1Database, caller: Caller, scope: 'key' | 'tenant', costNano: Nano, now: number): Promise<ReserveResult> {
  const ownerId = scope === 'key' ? caller.key.id : caller.tenant.id;
  const event = refusedEventStatement(
    db,
    { scope, ownerId, requestCostNano: costNano, occurredAt: now },
    { currentPeriod: CURRENT_PERIOD, spentThisPeriod: SPENT_THIS_PERIOD },
    periodArgs(now),
  );
  const [keyRes, tenantRes, recorded] = await db.batch<StateRow>([...selectStates(db, caller), event]);
  const row = (scope === 'key' ? keyRes : tenantRes)?.results[0];
  remember(caller, now, keyRes?.results[0], tenantRes?.results[0]);
  if (!row) throw new Error(`the ${scope} row disappeared while reserving`);
  const state = stateFromRow(row);
  return {
    ok: false,
    scope,
    name: row.name,
    remainingNano: atLeastZero(remainingOf(state, now) ?? 0n),
    costNano,
    period: periodPhrase(state.budgetPeriod),
    eventRecorded: (recorded?.meta.changes ?? 0) > 0,
  };
}

function requestIdOf(generationId: string): string {
  const dot = generationId.indexOf('.');
  return dot < 0 ? generationId : generationId.slice(0, dot);
}

/**
 * The statements that end a reservation: move its cost to spent (settle) or just give it back
 * (release), write its ledger row and delete it. Every statement reads the reservation row, so
 * when it is already gone (the cron released it, or this ran twice) they change nothing. The first
 * two answer the key's and the tenant's state after the change.
 */
function finishStatements(db: D1Database, generationId: string, entry: LedgerEntry, now: number, charge: boolean): D1PreparedStatement[] {
  const adjust = charge
    ? `spent_nano = ${SPENT_THIS_PERIOD} + r.cost_nano, period_key = ${CURRENT_PERIOD}, reserved_nano = reserved_nano - r.cost_nano`
    : 'reserved_nano = reserved_nano - r.cost_nano';
  const update = (table: 'api_keys' | 'tenants', idColumn: 'key_id' | 'tenant_id') => {
    const stmt = db.prepare(
      `UPDATE ${table} SET ${adjust}
       FROM (SELECT ${idColumn} AS owner_id, cost_nano FROM reservations WHERE generation_id = ?1) AS r
       WHERE ${table}.id = r.owner_id RETURNING ${STATE_COLUMNS}`,
    );
    return charge ? stmt.bind(generationId, null, ...periodArgs(now)) : stmt.bind(generationId);
  };
  const ledger = reservationLedgerRow(db, generationId, entry, now, charge);
  const tags = reservationTagRows(db, generationId, now);
  const drop = db.prepare('DELETE FROM reservations WHERE generation_id = ?').bind(generationId);
  return [update('api_keys', 'key_id'), update('tenants', 'tenant_id'), ledger, tags, drop];
}

/**
 * Ends reservations in one batch (one transaction): all of them or, when it fails, none.
 *
 * A settle may cross a budget alert threshold; the triggers of migrations/0009 then write the
 * event in this same batch. D1 does not count a trigger's rows in `meta.changes`, so a settling
 * batch ends by asking whether the tenant has an event not yet handed to the queue (a lookup in the
 * outbox's index of pending events, inside the batch: no extra round trip). Answers that.
 */
async function finish(db: D1Database, caller: Caller, ending: SettledItem[], now: number, charge: boolean): Promise<boolean> {
  if (ending.length === 0) return false;
  const statements = ending.flatMap(({ item, entry }) => finishStatements(db, item.generationId, entry, now, charge));
  const pending = db
    .prepare('SELECT EXISTS (SELECT 1 FROM webhook_events WHERE enqueued_at IS NULL AND tenant_id = ?) AS pending')
    .bind(caller.tenant.id);
  // rows of the updates are StateRows; the pending statement's one row is { pending }
  const results = await db.batch<StateRow & { pending?: number }>(charge ? [...statements, pending] : statements);
  // the last reservation's updates answer the states after all of them
  const last = statements.length - 5;
  remember(caller, now, results[last]?.results[0], results[last + 1]?.results[0]);
  return results[statements.length]?.results[0]?.pending === 1;
}

/** A reservation that ends, with its ledger row. */
export interface SettledItem {
  item: Pick<ReservationItem, 'generationId'>;
  entry: LedgerEntry;
}

/**
 * Turns a reservation into a charge and writes its ledger row, in one transaction. Answers whether
 * the tenant now has webhook events to hand to the queue (a threshold this settle crossed, usually).
 */
export async function settle(db: D1Database, caller: Caller, item: Pick<ReservationItem, 'generationId'>, entry: LedgerEntry, now: number): Promise<boolean> {
  return finish(db, caller, [{ item, entry }], now, true);
}

/**
 * Charges a request's images together, in one transaction (docs/money.md: `n` images are charged
 * as a whole): a failed or lost batch charges none of them, never some. Answers as `settle` does.
 */
export async function settleAll(db: D1Database, caller: Caller, settled: SettledItem[], now: number): Promise<boolean> {
  return finish(db, caller, settled, now, true);
}

/** Gives a reservation back (the generation failed) and writes its ledger row with cost 0. */
export async function release(db: D1Database, caller: Caller, item: Pick<ReservationItem, 'generationId'>, entry: LedgerEntry, now: number): Promise<void> {
  await finish(db, caller, [{ item, entry }], now, false);
}

/**
 * Releases every reservation whose request died (expired before it was settled or released):
 * reserved_nano goes back on both rows, a ledger row says 'expired' with cost 0. One batch, all
 * statements reading the same set of expired rows, so it is all or nothing. Answers how many.
 */
export async function releaseExpired(db: D1Database, now: number): Promise<number> {
  const giveBack = (table: 'api_keys' | 'tenants', idColumn: 'key_id' | 'tenant_id') =>
    db
      .prepare(
        `UPDATE ${table} SET reserved_nano = reserved_nano -
           (SELECT SUM(cost_nano) FROM reservations r WHERE r.${idColumn} = ${table}.id AND r.expires_at <= ?1)
         WHERE id IN (SELECT ${idColumn} FROM reservations WHERE expires_at <= ?1)`,
      )
      .bind(now);
  const results = await db.batch([
    giveBack('api_keys', 'key_id'),
    giveBack('tenants', 'tenant_id'),
    expiredLedgerRows(db, now),
    expiredTagRows(db, now),
    db.prepare('DELETE FROM reservations WHERE expires_at <= ?').bind(now),
  ]);
  return results[4]?.meta.changes ?? 0;
}

/**
 * Gives reservations back with no ledger row, as if they had never been made: for images that
 * reserved while they joined their flight and turned out to follow another request (or to be in
 * the cache after all), whose own ledger row is written when they are served. One batch; like
 * settle and release it reads each reservation row, so it changes nothing once that row is gone.
 */
export async function withdraw(db: D1Database, caller: Caller, generationIds: string[], now: number): Promise<void> {
  if (generationIds.length === 0) return;
  const giveBack = (table: 'api_keys' | 'tenants', idColumn: 'key_id' | 'tenant_id', id: string) =>
    db
      .prepare(
        `UPDATE ${table} SET reserved_nano = reserved_nano - r.cost_nano
         FROM (SELECT ${idColumn} AS owner_id, cost_nano FROM reservations WHERE generation_id = ?1) AS r
         WHERE ${table}.id = r.owner_id RETURNING ${STATE_COLUMNS}`,
      )
      .bind(id);
  const drop = (id: string) => db.prepare('DELETE FROM reservations WHERE generation_id = ?').bind(id);
  const statements = generationIds.flatMap((id) => [giveBack('api_keys', 'key_id', id), giveBack('tenants', 'tenant_id', id), drop(id)]);
  const results = await db.batch<StateRow>(statements);
  const last = statements.length - 3;
  remember(caller, now, results[last]?.results[0], results[last + 1]?.results[0]);
}

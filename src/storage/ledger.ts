import type { CacheWord } from '../domain/cache-key';
import type { SeededRequest } from '../domain/generation-request';
import { nanoToDb, type Nano } from '../domain/money';
import type { Tags } from '../domain/tags';
import type { Caller } from '../domain/tenants';
import { freshSnapshot, hasBudget, remember, selectStates, type StateRow } from './budget-snapshot';

/**
 * The usage ledger: one row per generation, whatever it cost, so the ledger sums to what each
 * budget says was spent (docs/money.md). Charged rows are written from their reservation
 * (storage/reservations.ts); free ones (a cache hit, a merged follower) here.
 */

/** One generation as the usage ledger records it. */
export interface LedgerEntry {
  generationId: string;
  requestId: string;
  request: SeededRequest;
  cache: CacheWord;
  origin: string | null;
  /** 'ok' or the error code the generation ended with. */
  status: string;
  latencyMs: number;
  /*
   * For a free row: the price version that priced it (default 1), what it would have cost at the
   * origin (default 0) and its tags (default none). A row written from a reservation takes all three
   * from the reservation instead.
   */
  priceVersion?: number;
  listCostNano?: Nano;
  tags?: Tags;
  /** The image this generation answered with, and the R2 object holding its bytes (GET /v1/images/{id}). */
  image?: { id: string; r2Key: string };
}

const LEDGER_COLUMNS =
  'generation_id, request_id, tenant_id, key_id, model, width, height, steps, cost_nano, cache, origin, status, latency_ms, created_at';
/** The ledger row's pointer to the image (migrations/0003), written after LEDGER_COLUMNS. */
const IMAGE_COLUMNS = 'image_id, image_key';
/** What priced the row and what it would have cost at the origin (migrations/0007). */
const PRICE_COLUMNS = 'price_version, list_cost_nano';
const TAG_COLUMNS = 'generation_id, name, value, tenant_id, created_at';

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
 * The ledger row of a reservation that ends now, charged its cost or nothing. It reads the
 * reservation row, so it writes nothing once the reservation is gone.
 */
export function reservationLedgerRow(db: D1Database, generationId: string, entry: LedgerEntry, now: number, charge: boolean): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO usage_ledger (${LEDGER_COLUMNS}, ${IMAGE_COLUMNS}, ${PRICE_COLUMNS})
       SELECT generation_id, ?2, tenant_id, key_id, ?3, ?4, ?5, ?6, ${charge ? 'cost_nano' : '0'}, ?7, ?8, ?9, ?10, ?11, ?12, ?13,
              price_version, cost_nano
       FROM reservations WHERE generation_id = ?1`,
    )
    .bind(generationId, entry.requestId, ...entryValues(entry, now));
}

/**
 * The tag rows of a reservation that ends now (migrations/0007: ledger_tags), from the tags it was
 * reserved with. Part of the same batch as its ledger row, before the reservation is deleted; like
 * the ledger row, it writes nothing once the reservation is gone.
 */
export function reservationTagRows(db: D1Database, generationId: string, now: number): D1PreparedStatement {
  return db
    .prepare(
      `INSERT OR IGNORE INTO ledger_tags (${TAG_COLUMNS})
       SELECT r.generation_id, j.key, j.value, r.tenant_id, ?2 FROM reservations r, json_each(r.tags) j WHERE r.generation_id = ?1`,
    )
    .bind(generationId, new Date(now).toISOString());
}

/** The tag rows of every reservation expired by `now`, in the batch that writes their ledger rows. */
export function expiredTagRows(db: D1Database, now: number): D1PreparedStatement {
  return db
    .prepare(
      `INSERT OR IGNORE INTO ledger_tags (${TAG_COLUMNS})
       SELECT r.generation_id, j.key, j.value, r.tenant_id, ?2 FROM reservations r, json_each(r.tags) j WHERE r.expires_at <= ?1`,
    )
    .bind(now, new Date(now).toISOString());
}

/**
 * The ledger rows of every reservation expired by `now` (its request died): status 'expired',
 * cost 0, the cache word the image would have had (kept on the reservation), latency from the
 * reservation's creation to now.
 */
export function expiredLedgerRows(db: D1Database, now: number): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO usage_ledger (${LEDGER_COLUMNS}, ${PRICE_COLUMNS})
       SELECT generation_id, request_id, tenant_id, key_id, model, width, height, steps, 0, cache, NULL, 'expired',
              MAX(0, CAST((julianday(?2) - julianday(created_at)) * 86400000 AS INTEGER)), ?2,
              price_version, cost_nano
       FROM reservations WHERE expires_at <= ?1`,
    )
    .bind(now, new Date(now).toISOString());
}

/**
 * A ledger row for a generation that cost nothing (a cache hit or a coalesced follower), with its
 * tag rows in the same batch.
 */
export async function recordFree(db: D1Database, caller: Caller, entry: LedgerEntry, now: number): Promise<void> {
  const insert = db
    .prepare(
      `INSERT INTO usage_ledger (${LEDGER_COLUMNS}, ${IMAGE_COLUMNS}, ${PRICE_COLUMNS})
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(entry.generationId, entry.requestId, caller.tenant.id, caller.key.id, ...entryValues(entry, now), entry.priceVersion ?? 1, nanoToDb(entry.listCostNano ?? 0n));
  const writes = [insert, ...freeTagRows(db, caller, entry, now)];
  // a free generation changes no budget: the states are read only when none fresh is at hand
  if (!hasBudget(caller) || freshSnapshot(caller, now)) {
    await db.batch(writes);
    return;
  }
  // the states ride along in the same round trip, for the Budget-Remaining header
  const results = await db.batch<StateRow>([...writes, ...selectStates(db, caller)]);
  remember(caller, now, results[writes.length]?.results[0], results[writes.length + 1]?.results[0]);
}

function freeTagRows(db: D1Database, caller: Caller, entry: LedgerEntry, now: number): D1PreparedStatement[] {
  if (!entry.tags || Object.keys(entry.tags).length === 0) return [];
  return [
    db
      .prepare(`INSERT OR IGNORE INTO ledger_tags (${TAG_COLUMNS}) SELECT ?1, j.key, j.value, ?2, ?3 FROM json_each(?4) j`)
      .bind(entry.generationId, caller.tenant.id, new Date(now).toISOString(), JSON.stringify(entry.tags)),
  ];
}

import type { Env } from '../env';
import { Failed } from '../domain/failure';
import { IDEMPOTENCY_TTL_MS, requestLifetimes } from '../domain/lifetimes';
import { atLeastZero, formatUsd } from '../domain/money';
import { sha256Hex } from '../domain/sha256';
import type { Caller } from '../domain/tenants';
import { ApiError, ERROR_CODES, errorBody } from '../errors';
import { errorText, log } from '../log';
import { originDeadlineMs } from '../origins/config';
import { budgetRemaining } from '../storage/budget-snapshot';
import { apiErrorOf } from './failures';
import { abandonKey, claimKey, completeKey, dropKey, readKey, storedBody } from '../storage/idempotency';

/**
 * `Idempotency-Key` on the generation routes (IETF httpapi draft "The Idempotency-Key HTTP Header
 * Field"; docs/cache.md): scoped to the tenant and kept 24 h. A retry with the same key and the same
 * parsed request gets the stored status and body, with `Idempotent-Replayed: true` and no charge;
 * another request under the same key is a 422; a retry while the first still runs is a 409.
 */

const MAX_KEY_LENGTH = 255;

/**
 * Statuses worth remembering: a success, and a refusal that the same request would get again. A
 * 402, 429 or 5xx is not stored, so a retry after more budget, a quieter minute or a healed origin
 * really runs (nothing was charged for the failed attempt).
 */
const STORED_STATUSES = new Set([200, 201, 400, 404, 422]);

/** Headers that describe the moment of the first answer, not the answer: not replayed. */
const NOT_REPLAYED = new Set(['x-request-id', 'ratelimit', 'ratelimit-policy', 'retry-after', 'imagegate-budget-remaining-usd', 'imagegate-cost-usd', 'set-cookie']);

export interface IdempotencyScope {
  env: Pick<Env, 'DB' | 'IMAGES' | 'ORIGIN_DEADLINE_MS'>;
  caller: Caller;
  /** The raw `Idempotency-Key` header, or undefined when the client sent none. */
  header: string | undefined;
  /** requestHash() of the parsed request: equal for the same request whatever its field order or spacing. */
  bodyHash: string;
  requestId: string;
  now: () => number;
}

/** JSON with object keys sorted at every level: one text per value, whatever order it was built in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The hash a route passes as `bodyHash`: its name and its parsed request (defaults written out). */
export async function requestHash(route: string, parsed: unknown): Promise<string> {
  return sha256Hex(canonicalJson({ route, request: parsed }));
}

/** The key itself: an sf-string (`"abc"`, as the draft writes it) or the bare text; 1–255 printable ASCII. */
function parseIdempotencyKey(header: string): string {
  let key = header.trim();
  if (key.length >= 2 && key.startsWith('"') && key.endsWith('"')) key = key.slice(1, -1).replace(/\\(["\\])/g, '$1');
  if (key.length < 1 || key.length > MAX_KEY_LENGTH || !/^[\x20-\x7e]+$/.test(key)) {
    throw new ApiError('invalid_request', `Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} printable ASCII characters`, {
      param: 'Idempotency-Key',
    });
  }
  return key;
}

/**
 * Runs `produce` at most once per (tenant, Idempotency-Key) within 24 h and replays its answer to
 * retries. Route-agnostic: the caller supplies the request's hash and the function that answers it.
 */
export async function withIdempotency(scope: IdempotencyScope, produce: () => Promise<Response>): Promise<Response> {
  if (scope.header === undefined) return produce();
  const key = parseIdempotencyKey(scope.header);
  const { DB: db } = scope.env;
  const tenantId = scope.caller.tenant.id;
  // a record can vanish between a failed claim and the read (its request gave it up): claim again
  for (let attempt = 0; attempt < 3; attempt++) {
    const now = scope.now();
    const claimed = await claimKey(db, {
      tenantId,
      key,
      bodyHash: scope.bodyHash,
      owner: scope.requestId,
      now,
      // a 'running' record older than this belongs to a request whose worker died: a retry may take it over
      leaseMs: requestLifetimes(originDeadlineMs(scope.env)).idempotencyLeaseMs,
      ttlMs: IDEMPOTENCY_TTL_MS,
    });
    if (claimed) return runOnce(scope, key, produce);
    const record = await readKey(db, tenantId, key);
    if (!record) continue;
    if (record.bodyHash !== scope.bodyHash) {
      throw new ApiError('idempotency_key_reused', 'this Idempotency-Key was already used with a different request body');
    }
    if (record.state === 'running') {
      // the first request's lease: once it ends, a retry takes the key over even if that request died
      const wait = Math.max(1, Math.ceil((record.leaseUntil - now) / 1000));
      throw new ApiError('idempotency_in_progress', 'a request with this Idempotency-Key is still running; retry when it has finished', {
        headers: { 'Retry-After': String(wait) },
      });
    }
    const body = record.bodyKey ? await storedBody(scope.env.IMAGES, record.bodyKey) : null;
    if (!body || record.status === null) {
      await dropKey(db, tenantId, key, record.owner);
      continue;
    }
    return replay(scope, record.status, record.headers ?? [], body, now);
  }
  throw new ApiError('idempotency_in_progress', 'this Idempotency-Key is changing hands; retry shortly', { headers: { 'Retry-After': '1' } });
}

async function runOnce(scope: IdempotencyScope, key: string, produce: () => Promise<Response>): Promise<Response> {
  const { DB: db, IMAGES: bucket } = scope.env;
  const tenantId = scope.caller.tenant.id;
  let response: Response;
  try {
    response = await produce();
  } catch (thrown) {
    // a refusal from below the edge is stored and replayed exactly like one raised here
    const err = thrown instanceof Failed ? apiErrorOf(thrown.failure) : thrown;
    const status = err instanceof ApiError ? ERROR_CODES[err.code].status : 500;
    // the request's own error is what the client must see, even if the bookkeeping fails too
    // (a record left 'running' is taken over once its lease runs out)
    try {
      if (err instanceof ApiError && STORED_STATUSES.has(status)) {
        const body = JSON.stringify(errorBody(err.code, err.message, scope.requestId, err.param));
        const headers: [string, string][] = [...Object.entries(err.headers), ['content-type', 'application/json; charset=utf-8']];
        await completeKey(db, bucket, tenantId, key, scope.requestId, { status, headers, body: new TextEncoder().encode(body).buffer as ArrayBuffer });
      } else {
        await abandonKey(db, tenantId, key, scope.requestId);
      }
    } catch (bookkeeping) {
      log.error(`idempotency record: ${errorText(bookkeeping)}`, { request_id: scope.requestId });
    }
    throw err;
  }
  if (!STORED_STATUSES.has(response.status)) {
    await abandonKey(db, tenantId, key, scope.requestId);
    return response;
  }
  const body = await response.arrayBuffer();
  const headers = [...response.headers].filter(([name]) => !NOT_REPLAYED.has(name.toLowerCase()));
  try {
    await completeKey(db, bucket, tenantId, key, scope.requestId, { status: response.status, headers, body });
  } catch (err) {
    // the client still gets what it paid for; the record stays 'running', so a retry meets a 409
    // rather than a second charge until the lease runs out
    log.error(`storing the idempotent answer: ${errorText(err)}`, { request_id: scope.requestId });
  }
  return new Response(body, { status: response.status, headers: response.headers });
}

async function replay(scope: IdempotencyScope, status: number, stored: [string, string][], body: ArrayBuffer, now: number): Promise<Response> {
  const headers = new Headers(stored);
  headers.set('Idempotent-Replayed', 'true');
  headers.set('Imagegate-Cost-USD', '0');
  const remaining = await budgetRemaining(scope.env.DB, scope.caller, now);
  if (remaining !== null) headers.set('Imagegate-Budget-Remaining-USD', formatUsd(atLeastZero(remaining)));
  return new Response(body, { status, headers });
}

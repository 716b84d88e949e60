/**
 * The audit log's entries as values (docs/admin.md): who changed what, when, and which fields, with
 * every secret taken out before an entry is stored.
 */
import type { Principal, Role } from './roles';
import type { FieldProblem } from './failure';
import { base64url } from './base64';
import { randomBase62 } from './keys';

/** `noun.verb`: `tenant.create`, `key.revoke`, `key.rotate`, `model.price_set`, `console.sign_in`. */
export type AuditAction = `${string}.${string}`;

/** A JSON value as an entry stores it; `bigint` amounts are written as decimal strings. */
export type FieldValue = string | number | boolean | bigint | null | FieldValue[] | { [name: string]: FieldValue };
export type Fields = Record<string, FieldValue>;

export interface AuditActor {
  type: Principal['type'];
  id: string;
  name: string;
  role: Role;
}

export interface AuditEntry {
  at: string;
  actor: AuditActor;
  action: AuditAction;
  target: { type: string; id: string };
  tenantId: string | null;
  /** The object before the change (null on create); only fields that changed are kept. */
  before: Fields | null;
  /** The object after the change (null on delete); only fields that changed are kept. */
  after: Fields | null;
  requestId: string;
}

/** An entry as it was stored, with its id. */
export interface StoredAuditEntry extends AuditEntry {
  id: string;
}

/**
 * The action each admin route that changes something records, keyed `METHOD /path` as the policy
 * table (./roles) writes routes. A changing route missing here fails the policy's tests.
 */
export const ROUTE_ACTIONS: Readonly<Record<string, AuditAction>> = {
  'POST /admin/tenants': 'tenant.create',
  'PATCH /admin/tenants/{id}': 'tenant.update',
  'POST /admin/tenants/{id}/keys': 'key.create',
  'PATCH /admin/keys/{id}': 'key.update',
  'DELETE /admin/keys/{id}': 'key.revoke',
  'POST /admin/keys/{id}/rotate': 'key.rotate',
  'PUT /admin/models/{model}': 'model.price_set',
  'POST /admin/admins': 'admin.create',
  'DELETE /admin/admins/{id}': 'admin.revoke',
  'POST /admin/admins/{id}/rotate': 'admin.rotate',
  'POST /admin/webhooks': 'webhook.create',
  'DELETE /admin/webhooks/{id}': 'webhook.delete',
  'POST /admin/webhooks/{id}/rotate-secret': 'webhook.rotate_secret',
  'POST /admin/webhooks/{id}/test': 'webhook.test',
};

/** What the console records besides the admin API's changes (docs/console.md): a session opened or ended. */
export const CONSOLE_ACTIONS = { signIn: 'console.sign_in', signOut: 'console.sign_out' } as const satisfies Record<string, AuditAction>;

export function actorOf(principal: Principal): AuditActor {
  return { type: principal.type, id: principal.id, name: principal.name, role: principal.role };
}

/**
 * Ids that sort by time: 'aud_' + the entry's milliseconds in base36 (fixed width) + random. The
 * keyset (at, id) needs only uniqueness; sorting by time keeps ties inside one millisecond in order.
 */
export function newAuditId(at: string): string {
  return `aud_${Date.parse(at).toString(36).padStart(9, '0')}${randomBase62(12)}`;
}

// ------------------------------------------------------------------ secrets out

const SECRET_NAMES = new Set(['key', 'token', 'secret', 'hash', 'plaintext', 'password']);
const SECRET_SUFFIXES = ['_key_hash', '_hash', '_secret', '_token', '_password', '_plaintext'];
/** A whole tenant key, admin token or webhook secret, whatever field it hides in. */
const SECRET_VALUE = /^(igk|iga)_[0-9A-Za-z]{32,}$|^whsec_/;

/** `keyHash` and `key_hash` are the same name to this check. */
function snakeName(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

export function isSecretName(name: string): boolean {
  const snake = snakeName(name);
  return SECRET_NAMES.has(snake) || SECRET_SUFFIXES.some((suffix) => snake.endsWith(suffix));
}

/**
 * A copy of `value` without any field whose name says it holds a key, token, secret or hash, at any
 * depth, and without any string that is one. Callers should never pass such fields; this is the
 * defence for when one does.
 */
export function sanitize(value: FieldValue): FieldValue | undefined {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return SECRET_VALUE.test(value) ? undefined : value;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(sanitize).filter((v): v is FieldValue => v !== undefined);
  return sanitizeFields(value);
}

export function sanitizeFields(fields: Fields): Fields {
  const out: Fields = {};
  for (const [name, v] of Object.entries(fields)) {
    if (isSecretName(name)) continue;
    const clean = sanitize(v);
    if (clean !== undefined) out[name] = clean;
  }
  return out;
}

/** Only the fields whose values differ (compared as JSON), each side keeping its own value. */
export function changedFields(before: Fields, after: Fields): { before: Fields; after: Fields } {
  const changed = { before: {} as Fields, after: {} as Fields };
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const [b, a] = [before[name], after[name]];
    if (JSON.stringify(b) === JSON.stringify(a)) continue;
    if (b !== undefined) changed.before[name] = b;
    if (a !== undefined) changed.after[name] = a;
  }
  return changed;
}

/** What an entry stores as before/after: secrets out, then only what changed. */
export function auditedFields(before: Fields | null, after: Fields | null): { before: Fields | null; after: Fields | null } {
  const b = before === null ? null : sanitizeFields(before);
  const a = after === null ? null : sanitizeFields(after);
  return b !== null && a !== null ? changedFields(b, a) : { before: b, after: a };
}

// ------------------------------------------------------------------ pages

export interface AuditCursor {
  at: string;
  id: string;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Opaque to clients: base64url of `at|id` of the last entry of the page. */
export function encodeAuditCursor(cursor: AuditCursor): string {
  return base64url(btoa(`${cursor.at}|${cursor.id}`));
}

/** The cursor, or null when the text is not one this gateway wrote. */
export function decodeAuditCursor(text: string): AuditCursor | null {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(text)) return null;
  let plain: string;
  try {
    plain = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  } catch {
    return null;
  }
  const [at, id, ...rest] = plain.split('|');
  if (rest.length > 0 || at === undefined || id === undefined) return null;
  return ISO_INSTANT.test(at) && /^aud_[0-9A-Za-z]{1,40}$/.test(id) ? { at, id } : null;
}

const DAY_MS = 86_400_000;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A query's `from`/`to` as a date (UTC; `to` takes in its whole day, as the usage report does) or an instant. */
function instantOf(text: string, param: 'from' | 'to'): string | FieldProblem {
  const isDate = ISO_DATE.test(text);
  const ms = Date.parse(isDate ? `${text}T00:00:00.000Z` : text);
  const valid = !Number.isNaN(ms) && (isDate ? new Date(ms).toISOString().startsWith(text) : /T.*(Z|[+-]\d{2}:\d{2})$/.test(text));
  if (!valid) return { param, message: `${param} must be a date such as 2026-11-26 or an ISO 8601 time with a zone` };
  return new Date(isDate && param === 'to' ? ms + DAY_MS : ms).toISOString();
}

/** The half-open range from <= at < to that `listAudit` reads, from a query's `from` and `to`. */
export function auditTimeRange(from?: string, to?: string): { from?: string; to?: string } | FieldProblem {
  const range: { from?: string; to?: string } = {};
  for (const [param, text] of [['from', from], ['to', to]] as const) {
    if (text === undefined) continue;
    const instant = instantOf(text, param);
    if (typeof instant !== 'string') return instant;
    range[param] = instant;
  }
  return range;
}

export const AUDIT_PAGE_DEFAULT = 50;
export const AUDIT_PAGE_MAX = 200;

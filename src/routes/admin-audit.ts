import type { Context } from 'hono';
import { actorOf, auditTimeRange, type AuditAction, type AuditEntry, type Fields, type StoredAuditEntry } from '../domain/audit';
import { tenantScope } from '../domain/roles';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';
import { declareRoute, jsonAnswer } from '../openapi/describe';
import { AuditPageAnswer } from '../schemas/answers';
import { AuditQuerySchema } from '../schemas/requests';
import { listAudit } from '../storage/audit';
import { routeGroup } from './route-group';

/** `GET /admin/audit`: who changed what, newest first (docs/admin.md). No route changes or deletes an entry. */
export const adminAuditRoutes = routeGroup();

/** What changed, for `auditOf`: the object's fields before (null on create) and after (null on delete). */
export interface Change {
  action: AuditAction;
  target: { type: string; id: string };
  tenantId: string | null;
  before: Fields | null;
  after: Fields | null;
  /** When the change was made, when the change's own statements carry that time (ISO 8601); else now. */
  at?: string;
}

/** The entry a change made by this request's principal writes (commitAudited in src/storage/audit.ts). */
export function auditOf(c: Context<AppEnv>, change: Change): AuditEntry {
  const at = change.at ?? new Date(c.var.deps.now()).toISOString();
  return { ...change, at, actor: actorOf(c.var.principal), requestId: c.var.requestId };
}

export function auditEntryJson(e: StoredAuditEntry) {
  return {
    id: e.id,
    at: e.at,
    actor: e.actor,
    action: e.action,
    target: e.target,
    tenant_id: e.tenantId,
    before: e.before,
    after: e.after,
    request_id: e.requestId,
  };
}

const auditRoute = declareRoute({
  method: 'get',
  path: '/admin/audit',
  id: 'listAudit',
  summary: 'The audit log',
  description:
    'One entry per admin change, newest first. Filters combine; `from`/`to` are dates (UTC, `to` inclusive) or ISO 8601 times (`from` ≤ at < `to`). Follow `next_cursor` for older entries; entries added meanwhile never repeat or shift a page. A tenant admin sees its tenant\'s entries only.',
  tag: 'admin: audit',
  auth: 'admin',
  query: AuditQuerySchema,
  answers: { 200: jsonAnswer('a page of entries', AuditPageAnswer) },
  errors: ['not_found'],
});

adminAuditRoutes.openapi(auditRoute, async function readAudit(c) {
  const q = c.req.valid('query');
  const range = auditTimeRange(q.from, q.to);
  if ('param' in range) throw new ApiError('invalid_request', range.message, { param: range.param });
  const tenantId = tenantScope(c.var.principal) ?? q.tenant_id;
  const page = await listAudit(c.env.DB, {
    ...(tenantId !== undefined ? { tenantId } : {}),
    ...(q.target_id !== undefined ? { targetId: q.target_id } : {}),
    ...(q.actor_id !== undefined ? { actorId: q.actor_id } : {}),
    ...(q.action !== undefined ? { action: q.action } : {}),
    ...range,
    ...(q.limit !== undefined ? { limit: q.limit } : {}),
    ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
  });
  return c.json({ entries: page.entries.map(auditEntryJson), next_cursor: page.nextCursor }, 200);
});

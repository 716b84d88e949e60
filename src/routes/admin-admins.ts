import { forgetPrincipals } from '../middleware/admin-auth';
import { ApiError } from '../errors';
import { adminResource } from '../openapi/admin-resource';
import { jsonAnswer } from '../openapi/describe';
import { AdminAnswer, AdminListAnswer, NewAdminAnswer } from '../schemas/answers';
import { AdminCreateSchema, IdParam } from '../schemas/requests';
import { createAdmin, getAdmin, listAdmins, revokeAdmin, rotateAdmin, type AdminRecord } from '../storage/admins';
import { commitAudited } from '../storage/audit';
import { endPrincipalSessionsStatement } from '../storage/console-sessions';
import { getTenant } from '../storage/tenants';
import { auditOf } from './admin-audit';
import { found, foundLive, isoNow, revokeOnce } from './admin-objects';
import { routeGroup } from './route-group';

/** Admin principals (docs/admin.md): people and systems with their own `iga_` tokens and a role. Owner only. */
export const adminAdminRoutes = routeGroup();

export function adminJson(a: AdminRecord) {
  return {
    id: a.id,
    name: a.name,
    role: a.role,
    tenant_id: a.tenantId,
    prefix: a.prefix,
    created_at: a.createdAt,
    updated_at: a.updatedAt,
    revoked_at: a.revokedAt,
    previous_expires_at: a.previousExpiresAt,
  };
}

const admins = adminResource('admin: principals', '/admin/admins');
const onAdmin = admins.item(IdParam('the admin principal id (`adm_…`)'));

const createAdminRoute = admins.create(
  {
    id: 'createAdmin',
    summary: 'Create an admin principal',
    description:
      "`role`: `owner`, `admin`, `viewer` or `tenant_admin` (which needs `tenant_id`, the one tenant it manages). The `token` (`iga_…`) is in this answer only; the gateway keeps a SHA-256 hash.",
  },
  AdminCreateSchema,
  jsonAnswer('the principal, with its token this once', NewAdminAnswer),
);

adminAdminRoutes.openapi(createAdminRoute, async function createPrincipal(c) {
  const body = c.req.valid('json');
  const tenantId = body.tenant_id ?? null;
  if (body.role === 'tenant_admin' && tenantId === null) {
    throw new ApiError('invalid_request', "a 'tenant_admin' needs the tenant_id it manages", { param: 'tenant_id' });
  }
  if (body.role !== 'tenant_admin' && tenantId !== null) {
    throw new ApiError('invalid_request', `only a 'tenant_admin' is bound to a tenant; '${body.role}' sees every tenant`, { param: 'tenant_id' });
  }
  if (tenantId !== null && !(await getTenant(c.env.DB, tenantId))) {
    throw new ApiError('invalid_request', `no tenant '${tenantId}'`, { param: 'tenant_id' });
  }
  const write = await createAdmin(c.env.DB, { name: body.name, role: body.role, tenantId }, isoNow(c.var.deps.now()));
  const { record } = write;
  await commitAudited(
    c.env.DB,
    write.statement,
    auditOf(c, {
      action: 'admin.create',
      target: { type: 'admin', id: record.id },
      tenantId,
      before: null,
      after: { name: record.name, role: record.role, tenant_id: tenantId, prefix: record.prefix },
    }),
  );
  return c.json({ ...adminJson(record), token: write.token }, 201);
});

const listAdminsRoute = admins.list(
  { id: 'listAdmins', summary: 'List admin principals', description: 'Revoked ones included (with `revoked_at`), in creation order; never a token or hash.' },
  jsonAnswer('every principal', AdminListAnswer),
);

adminAdminRoutes.openapi(listAdminsRoute, async function listPrincipals(c) {
  return c.json({ data: (await listAdmins(c.env.DB)).map(adminJson) }, 200);
});

const getAdminRoute = onAdmin.read({ id: 'getAdmin', summary: 'Read an admin principal' }, jsonAnswer('the principal (never its token)', AdminAnswer));

adminAdminRoutes.openapi(getAdminRoute, async function readPrincipal(c) {
  return c.json(adminJson(found(await getAdmin(c.env.DB, c.req.valid('param').id), 'admin principal')), 200);
});

const revokeAdminRoute = onAdmin.revoke({
  id: 'revokeAdmin',
  summary: 'Revoke an admin principal',
  description: 'Its token, and a previous token still in its grace period, stop working at once (within 2 s in every isolate).',
});

adminAdminRoutes.openapi(revokeAdminRoute, async function revokePrincipal(c) {
  const admin = found(await getAdmin(c.env.DB, c.req.valid('param').id), 'admin principal');
  return revokeOnce(
    c,
    admin,
    (now) =>
      commitAudited(
        c.env.DB,
        revokeAdmin(c.env.DB, admin.id, now),
        auditOf(c, { action: 'admin.revoke', target: { type: 'admin', id: admin.id }, tenantId: admin.tenantId, before: { revoked_at: null }, after: { revoked_at: now }, at: now }),
      ),
    forgetPrincipals,
  );
});

const rotateAdminRoute = onAdmin.rotate(
  {
    id: 'rotateAdmin',
    summary: "Rotate an admin principal's token",
    description:
      'A new `token`. The old one keeps working for `grace_seconds` (0–604800, default 0: it stops at once); `previous_expires_at` says until when. The body is optional.',
  },
  jsonAnswer('the principal with its new token, this once', NewAdminAnswer),
);

adminAdminRoutes.openapi(rotateAdminRoute, async function rotatePrincipal(c) {
  const admin = foundLive(await getAdmin(c.env.DB, c.req.valid('param').id), 'admin principal');
  const now = isoNow(c.var.deps.now());
  const write = await rotateAdmin(c.env.DB, admin, c.req.valid('json').grace_seconds ?? 0, now);
  const { applied } = await commitAudited(
    c.env.DB,
    write.statement,
    auditOf(c, {
      action: 'admin.rotate',
      target: { type: 'admin', id: admin.id },
      tenantId: admin.tenantId,
      before: { prefix: admin.prefix },
      after: { prefix: write.record.prefix, previous_expires_at: write.record.previousExpiresAt },
      at: now,
    }),
    // its console sessions end in the same batch: signing in again needs the new token (docs/console.md)
    [endPrincipalSessionsStatement(c.env.DB, admin.id, now)],
  );
  forgetPrincipals();
  if (!applied) throw new ApiError('not_found', 'no such admin principal');
  return c.json({ ...adminJson(write.record), token: write.token }, 200);
});

import { DEFAULT_ALERT_THRESHOLDS } from '../domain/alert-thresholds';
import { currentSpent, periodEnd, remainingOf, type BudgetState } from '../domain/budget-period';
import { newId } from '../domain/keys';
import { atLeastZero, formatUsd } from '../domain/money';
import { tenantScope } from '../domain/roles';
import type { ApiKeyRecord, TenantRecord } from '../domain/tenants';
import { forgetCallers } from '../middleware/tenant-auth';
import { adminResource } from '../openapi/admin-resource';
import { jsonAnswer } from '../openapi/describe';
import { TenantAnswer, TenantListAnswer, TenantWithKeysAnswer } from '../schemas/answers';
import { IdParam, TenantCreateSchema, TenantPatchSchema } from '../schemas/requests';
import { sendEventsSoon } from '../services/webhooks/send-soon';
import { commitAudited } from '../storage/audit';
import { budgetStates, getTenant, insertTenantWrite, listKeys, listTenants, updateTenantWrite } from '../storage/tenants';
import { auditOf } from './admin-audit';
import { found, isoNow, patchChange } from './admin-objects';
import { routeGroup } from './route-group';
import { tenantPatchOf } from './tenant-patches';

/** The admin API for tenants (docs/admin.md); their keys are in ./admin-keys. */
export const adminTenantRoutes = routeGroup();

/** An object's spend in its current budget period, as every tenant and key answer carries it (docs/admin.md). */
export function spendJson(state: BudgetState, now: number) {
  const remaining = remainingOf(state, now);
  const resetsAt = periodEnd(state.budgetPeriod, now);
  return {
    period: state.budgetPeriod,
    period_resets_at: resetsAt === null ? null : new Date(resetsAt).toISOString(),
    spent_usd: formatUsd(currentSpent(state, now)),
    reserved_usd: formatUsd(state.reservedNano),
    remaining_usd: remaining === null ? null : formatUsd(atLeastZero(remaining)),
  };
}
export type SpendJson = ReturnType<typeof spendJson>;

/** The spend of each object, read in one query for all of them. */
export async function spendOf(db: D1Database, table: 'tenants' | 'api_keys', ids: readonly string[], now: number): Promise<(id: string) => SpendJson> {
  const states = await budgetStates(db, table, ids);
  return (id) => {
    const state = states.get(id);
    if (!state) throw new Error(`no budget state for ${id}`);
    return spendJson(state, now);
  };
}

/** A tenant's fields, as answers and audit entries show them. */
export function tenantFields(t: TenantRecord) {
  return {
    id: t.id,
    name: t.name,
    budget_usd: t.budgetNano === null ? null : formatUsd(t.budgetNano),
    budget_period: t.budgetPeriod,
    rate_limit_rpm: t.rateLimitRpm,
    max_concurrent: t.maxConcurrent,
    alert_thresholds: [...(t.alertThresholds ?? DEFAULT_ALERT_THRESHOLDS)],
    cache_scope: t.cacheScope,
    cache_ttl_days: t.cacheTtlDays,
    allowed_models: t.allowedModels,
    disabled: t.disabled,
    created_at: t.createdAt,
    updated_at: t.updatedAt,
  };
}

export function tenantJson(t: TenantRecord, usage: SpendJson) {
  return { ...tenantFields(t), usage };
}

/** A key's fields, as answers and audit entries show them (never its plaintext or hash). */
export function keyFields(k: ApiKeyRecord) {
  return {
    id: k.id,
    tenant_id: k.tenantId,
    name: k.name,
    prefix: k.prefix,
    budget_usd: k.budgetNano === null ? null : formatUsd(k.budgetNano),
    budget_period: k.budgetPeriod,
    rate_limit_rpm: k.rateLimitRpm,
    max_concurrent: k.maxConcurrent,
    alert_thresholds: [...(k.alertThresholds ?? DEFAULT_ALERT_THRESHOLDS)],
    expires_at: k.expiresAt,
    disabled: k.disabled,
    revoked: k.revokedAt !== null,
    revoked_at: k.revokedAt,
    default_tags: k.defaultTags,
    created_at: k.createdAt,
    updated_at: k.updatedAt,
  };
}

export function keyJson(k: ApiKeyRecord, usage: SpendJson) {
  return { ...keyFields(k), usage };
}

export const tenantId = IdParam('the tenant id (`ten_…`)');
const tenants = adminResource('admin: tenants', '/admin/tenants');
const onTenant = tenants.item(tenantId);

const createTenantRoute = tenants.create(
  { id: 'createTenant', summary: 'Create a tenant', description: '`allowed_models` null = every model; `budget_usd` null = no budget, "0" = nothing may be spent.' },
  TenantCreateSchema,
  jsonAnswer('the tenant', TenantAnswer),
);

adminTenantRoutes.openapi(createTenantRoute, async function createTenant(c) {
  const now = c.var.deps.now();
  const body = c.req.valid('json');
  const id = newId('ten');
  const patch = tenantPatchOf(body);
  const write = insertTenantWrite(c.env.DB, id, patch, isoNow(now));
  // the entry shows the thresholds as stored (deduplicated, sorted), not as sent
  const after = { id, ...body, ...(patch.alertThresholds && { alert_thresholds: patch.alertThresholds }) };
  const change = { action: 'tenant.create', target: { type: 'tenant', id }, tenantId: id, before: null, after } as const;
  const { results } = await commitAudited(c.env.DB, write.statements, auditOf(c, change));
  const tenant = write.read(results);
  if (!tenant) throw new Error('insert into tenants returned no row');
  const spend = await spendOf(c.env.DB, 'tenants', [tenant.id], now);
  return c.json(tenantJson(tenant, spend(tenant.id)), 201);
});

const listTenantsRoute = tenants.list(
  { id: 'listTenants', summary: 'List tenants', description: 'In creation order. A tenant admin sees its own tenant only.' },
  jsonAnswer('every tenant the caller may see', TenantListAnswer),
);

adminTenantRoutes.openapi(listTenantsRoute, async function listAllTenants(c) {
  const now = c.var.deps.now();
  const scope = tenantScope(c.var.principal);
  const all = scope === null ? await listTenants(c.env.DB) : [await getTenant(c.env.DB, scope)].filter((t) => t !== null);
  const spend = await spendOf(c.env.DB, 'tenants', all.map((t) => t.id), now);
  return c.json({ data: all.map((t) => tenantJson(t, spend(t.id))) }, 200);
});

const getTenantRoute = onTenant.read(
  { id: 'getTenant', summary: 'Read a tenant and its keys' },
  jsonAnswer('the tenant with its keys (never their plaintext)', TenantWithKeysAnswer),
);

adminTenantRoutes.openapi(getTenantRoute, async function readTenant(c) {
  const now = c.var.deps.now();
  const tenant = found(await getTenant(c.env.DB, c.req.valid('param').id), 'tenant');
  const tenantKeys = await listKeys(c.env.DB, tenant.id);
  const [tenantSpend, keySpend] = await Promise.all([
    spendOf(c.env.DB, 'tenants', [tenant.id], now),
    spendOf(c.env.DB, 'api_keys', tenantKeys.map((k) => k.id), now),
  ]);
  return c.json({ ...tenantJson(tenant, tenantSpend(tenant.id)), keys: tenantKeys.map((k) => keyJson(k, keySpend(k.id))) }, 200);
});

const updateTenantRoute = onTenant.change(
  { id: 'updateTenant', summary: 'Change a tenant', description: 'Only the fields sent change. Disabling takes effect for new requests within 5 seconds.' },
  TenantPatchSchema,
  jsonAnswer('the tenant as changed', TenantAnswer),
);

adminTenantRoutes.openapi(updateTenantRoute, async function changeTenant(c) {
  const now = c.var.deps.now();
  const before = found(await getTenant(c.env.DB, c.req.valid('param').id), 'tenant');
  const patch = tenantPatchOf(c.req.valid('json'));
  const write = updateTenantWrite(c.env.DB, before.id, patch, isoNow(now));
  const expected = { ...before, ...definedFields(patch) };
  const change = patchChange({ action: 'tenant.update', target: { type: 'tenant', id: before.id }, tenantId: before.id }, tenantFields, before, expected);
  const { applied, results } = await commitAudited(c.env.DB, write.statements, auditOf(c, change));
  const tenant = found(write.read(results), 'tenant');
  forgetCallers();
  // a budget or period change may have crossed or re-armed a budget alert (docs/webhooks.md)
  if (applied && (patch.budgetNano !== undefined || patch.budgetPeriod !== undefined)) sendEventsSoon(c.env, now, (p) => c.executionCtx.waitUntil(p));
  const spend = await spendOf(c.env.DB, 'tenants', [tenant.id], now);
  return c.json(tenantJson(tenant, spend(tenant.id)), 200);
});

/** A patch's fields that were sent (an absent field leaves the record's as it is). */
export function definedFields<P extends object>(patch: P): Partial<P> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<P>;
}

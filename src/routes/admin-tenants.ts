import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { displayPrefix, hashKey, newId, newTenantKey } from '../domain/keys';
import { formatUsd } from '../domain/money';
import type { ApiKeyRecord, TenantRecord } from '../domain/tenants';
import { zodToApiError } from '../domain/generation-request';
import { ApiError } from '../errors';
import { readJsonObject } from '../middleware/json-body';
import { forgetCallers } from '../middleware/tenant-auth';
import { getKey, getTenant, insertKey, insertTenant, listKeys, listTenants, markKeyRevoked, replaceKeySecret, updateKey, updateTenant } from '../storage/tenants';
import { KeyCreateSchema, KeyPatchSchema, TenantCreateSchema, TenantPatchSchema } from './admin-schemas';
import { keyPatchOf, tenantPatchOf } from './tenant-patches';

/** The admin API for tenants and their keys (CONTRACT §8). */
export const adminTenantRoutes = new Hono<AppEnv>();

export function tenantJson(t: TenantRecord) {
  return {
    id: t.id,
    name: t.name,
    budget_usd: t.budgetNano === null ? null : formatUsd(t.budgetNano),
    budget_period: t.budgetPeriod,
    rate_limit_rpm: t.rateLimitRpm,
    max_concurrent: t.maxConcurrent,
    cache_scope: t.cacheScope,
    cache_ttl_days: t.cacheTtlDays,
    allowed_models: t.allowedModels,
    disabled: t.disabled,
    created_at: t.createdAt,
    updated_at: t.updatedAt,
  };
}

export function keyJson(k: ApiKeyRecord) {
  return {
    id: k.id,
    tenant_id: k.tenantId,
    name: k.name,
    prefix: k.prefix,
    budget_usd: k.budgetNano === null ? null : formatUsd(k.budgetNano),
    budget_period: k.budgetPeriod,
    rate_limit_rpm: k.rateLimitRpm,
    max_concurrent: k.maxConcurrent,
    expires_at: k.expiresAt,
    disabled: k.disabled,
    revoked: k.revokedAt !== null,
    revoked_at: k.revokedAt,
    created_at: k.createdAt,
    updated_at: k.updatedAt,
  };
}

const isoNow = (now: number) => new Date(now).toISOString();

adminTenantRoutes.post('/admin/tenants', async function createTenant(c) {
  const parsed = TenantCreateSchema.safeParse(await readJsonObject(c));
  if (!parsed.success) throw zodToApiError(parsed.error);
  const tenant = await insertTenant(c.env.DB, newId('ten'), tenantPatchOf(parsed.data), isoNow(c.var.deps.now()));
  return c.json(tenantJson(tenant), 201);
});

adminTenantRoutes.get('/admin/tenants', async function listAllTenants(c) {
  const tenants = await listTenants(c.env.DB);
  return c.json({ data: tenants.map(tenantJson) });
});

adminTenantRoutes.get('/admin/tenants/:id', async function readTenant(c) {
  const tenant = await getTenant(c.env.DB, c.req.param('id'));
  if (!tenant) throw new ApiError('not_found', 'no such tenant');
  const keys = await listKeys(c.env.DB, tenant.id);
  return c.json({ ...tenantJson(tenant), keys: keys.map(keyJson) });
});

adminTenantRoutes.patch('/admin/tenants/:id', async function changeTenant(c) {
  const parsed = TenantPatchSchema.safeParse(await readJsonObject(c));
  if (!parsed.success) throw zodToApiError(parsed.error);
  const tenant = await updateTenant(c.env.DB, c.req.param('id'), tenantPatchOf(parsed.data), isoNow(c.var.deps.now()));
  if (!tenant) throw new ApiError('not_found', 'no such tenant');
  forgetCallers();
  return c.json(tenantJson(tenant));
});

adminTenantRoutes.post('/admin/tenants/:id/keys', async function createKey(c) {
  const parsed = KeyCreateSchema.safeParse(await readJsonObject(c));
  if (!parsed.success) throw zodToApiError(parsed.error);
  const tenant = await getTenant(c.env.DB, c.req.param('id'));
  if (!tenant) throw new ApiError('not_found', 'no such tenant');
  const plaintext = newTenantKey();
  const key = await insertKey(
    c.env.DB,
    newId('key'),
    tenant.id,
    { keyHash: await hashKey(plaintext), prefix: displayPrefix(plaintext) },
    keyPatchOf(parsed.data),
    isoNow(c.var.deps.now()),
  );
  return c.json({ ...keyJson(key), key: plaintext }, 201);
});

adminTenantRoutes.get('/admin/keys/:id', async function readKey(c) {
  const key = await getKey(c.env.DB, c.req.param('id'));
  if (!key) throw new ApiError('not_found', 'no such key');
  return c.json(keyJson(key));
});

adminTenantRoutes.patch('/admin/keys/:id', async function changeKey(c) {
  const parsed = KeyPatchSchema.safeParse(await readJsonObject(c));
  if (!parsed.success) throw zodToApiError(parsed.error);
  const key = await updateKey(c.env.DB, c.req.param('id'), keyPatchOf(parsed.data), isoNow(c.var.deps.now()));
  if (!key) throw new ApiError('not_found', 'no such key');
  forgetCallers();
  return c.json(keyJson(key));
});

adminTenantRoutes.delete('/admin/keys/:id', async function revokeKey(c) {
  const now = isoNow(c.var.deps.now());
  const existing = await getKey(c.env.DB, c.req.param('id'));
  if (!existing) throw new ApiError('not_found', 'no such key');
  if (!existing.revokedAt) await markKeyRevoked(c.env.DB, existing.id, now);
  forgetCallers();
  return c.body(null, 204);
});

adminTenantRoutes.post('/admin/keys/:id/rotate', async function rotateKey(c) {
  const existing = await getKey(c.env.DB, c.req.param('id'));
  if (!existing || existing.revokedAt) throw new ApiError('not_found', 'no such key');
  const plaintext = newTenantKey();
  const key = await replaceKeySecret(
    c.env.DB,
    existing.id,
    { keyHash: await hashKey(plaintext), prefix: displayPrefix(plaintext) },
    isoNow(c.var.deps.now()),
  );
  if (!key) throw new ApiError('not_found', 'no such key');
  forgetCallers();
  return c.json({ ...keyJson(key), key: plaintext });
});

import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { displayPrefix, hashKey, newId, newTenantKey } from '../domain/keys';
import { formatUsd, nanoToDb, parseUsd } from '../domain/money';
import { zodToApiError } from '../domain/generation-request';
import { ApiError } from '../errors';
import { readJsonObject } from '../middleware/json-body';
import { forgetCallers } from '../middleware/tenant-auth';
import {
  getKey,
  getTenant,
  insertKey,
  insertTenant,
  listKeys,
  listTenants,
  updateKey,
  updateTenant,
  type ApiKeyRecord,
  type ColumnValues,
  type TenantRecord,
} from '../storage/tenants';
import { KeyCreateSchema, KeyPatchSchema, TenantCreateSchema, TenantPatchSchema, type KeyInput, type TenantInput } from './admin-schemas';

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

function limitColumns(input: TenantInput | KeyInput): ColumnValues {
  return {
    budget_nano: input.budget_usd === undefined ? undefined : input.budget_usd === null ? null : nanoToDb(parseUsd(input.budget_usd) ?? 0n),
    budget_period: input.budget_period,
    rate_limit_rpm: input.rate_limit_rpm,
    max_concurrent: input.max_concurrent,
  };
}

function tenantColumns(input: TenantInput): ColumnValues {
  return {
    name: input.name,
    ...limitColumns(input),
    cache_scope: input.cache_scope,
    cache_ttl_days: input.cache_ttl_days,
    allowed_models: input.allowed_models === undefined ? undefined : input.allowed_models === null ? null : JSON.stringify(input.allowed_models),
    disabled: input.disabled === undefined ? undefined : input.disabled ? 1 : 0,
  };
}

function keyColumns(input: KeyInput): ColumnValues {
  return {
    name: input.name,
    ...limitColumns(input),
    expires_at: input.expires_at === undefined || input.expires_at === null ? input.expires_at : new Date(input.expires_at).toISOString(),
    disabled: input.disabled === undefined ? undefined : input.disabled ? 1 : 0,
  };
}

const isoNow = (now: number) => new Date(now).toISOString();

adminTenantRoutes.post('/admin/tenants', async function createTenant(c) {
  const parsed = TenantCreateSchema.safeParse(await readJsonObject(c));
  if (!parsed.success) throw zodToApiError(parsed.error);
  const tenant = await insertTenant(c.env.DB, newId('ten'), tenantColumns(parsed.data), isoNow(c.var.deps.now()));
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
  const tenant = await updateTenant(c.env.DB, c.req.param('id'), tenantColumns(parsed.data), isoNow(c.var.deps.now()));
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
    await hashKey(plaintext),
    displayPrefix(plaintext),
    keyColumns(parsed.data),
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
  const key = await updateKey(c.env.DB, c.req.param('id'), keyColumns(parsed.data), isoNow(c.var.deps.now()));
  if (!key) throw new ApiError('not_found', 'no such key');
  forgetCallers();
  return c.json(keyJson(key));
});

adminTenantRoutes.delete('/admin/keys/:id', async function revokeKey(c) {
  const now = isoNow(c.var.deps.now());
  const existing = await getKey(c.env.DB, c.req.param('id'));
  if (!existing) throw new ApiError('not_found', 'no such key');
  if (!existing.revokedAt) await updateKey(c.env.DB, existing.id, { revoked_at: now }, now);
  forgetCallers();
  return c.body(null, 204);
});

adminTenantRoutes.post('/admin/keys/:id/rotate', async function rotateKey(c) {
  const existing = await getKey(c.env.DB, c.req.param('id'));
  if (!existing || existing.revokedAt) throw new ApiError('not_found', 'no such key');
  const plaintext = newTenantKey();
  const key = await updateKey(
    c.env.DB,
    existing.id,
    { key_hash: await hashKey(plaintext), prefix: displayPrefix(plaintext) },
    isoNow(c.var.deps.now()),
  );
  if (!key) throw new ApiError('not_found', 'no such key');
  forgetCallers();
  return c.json({ ...keyJson(key), key: plaintext });
});

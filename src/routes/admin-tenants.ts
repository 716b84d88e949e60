import { createRoute } from '@hono/zod-openapi';
import { displayPrefix, hashKey, newId, newTenantKey } from '../domain/keys';
import { formatUsd } from '../domain/money';
import { ApiError } from '../errors';
import { jsonBody as readJsonBody } from '../middleware/json-body';
import { errorResponses, jsonAnswer, jsonBody, securityOf } from '../openapi/describe';
import { KeyAnswer, NewKeyAnswer, TenantAnswer, TenantListAnswer, TenantWithKeysAnswer } from '../schemas/answers';
import { forgetCallers } from '../middleware/tenant-auth';
import type { ApiKeyRecord, TenantRecord } from '../domain/tenants';
import { getKey, getTenant, insertKey, insertTenant, listKeys, listTenants, markKeyRevoked, replaceKeySecret, updateKey, updateTenant } from '../storage/tenants';
import { IdParam, KeyCreateSchema, KeyPatchSchema, TenantCreateSchema, TenantPatchSchema } from '../schemas/requests';
import { keyPatchOf, tenantPatchOf } from './tenant-patches';
import { routeGroup } from './route-group';

/** The admin API for tenants and their keys (docs/admin.md). */
export const adminTenantRoutes = routeGroup();

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
    default_tags: k.defaultTags,
    created_at: k.createdAt,
    updated_at: k.updatedAt,
  };
}

const isoNow = (now: number) => new Date(now).toISOString();

const tenantId = IdParam('the tenant id (`ten_…`)');
const keyId = IdParam('the key id (`key_…`)');
const tenants = { tags: ['admin: tenants'], ...securityOf('admin') };
const keys = { tags: ['admin: keys'], ...securityOf('admin') };
const withBody = { middleware: readJsonBody() };

const createTenantRoute = createRoute({
  method: 'post',
  path: '/admin/tenants',
  operationId: 'createTenant',
  summary: 'Create a tenant',
  description: '`allowed_models` null = every model; `budget_usd` null = no budget, "0" = nothing may be spent.',
  ...tenants,
  ...withBody,
  request: { body: jsonBody(TenantCreateSchema) },
  responses: { 201: jsonAnswer('the tenant', TenantAnswer), ...errorResponses({ auth: 'admin', body: true }) },
});

adminTenantRoutes.openapi(createTenantRoute, async function createTenant(c) {
  const tenant = await insertTenant(c.env.DB, newId('ten'), tenantPatchOf(c.req.valid('json')), isoNow(c.var.deps.now()));
  return c.json(tenantJson(tenant), 201);
});

const listTenantsRoute = createRoute({
  method: 'get',
  path: '/admin/tenants',
  operationId: 'listTenants',
  summary: 'List tenants',
  ...tenants,
  responses: { 200: jsonAnswer('every tenant', TenantListAnswer), ...errorResponses({ auth: 'admin' }) },
});

adminTenantRoutes.openapi(listTenantsRoute, async function listAllTenants(c) {
  const all = await listTenants(c.env.DB);
  return c.json({ data: all.map(tenantJson) }, 200);
});

const getTenantRoute = createRoute({
  method: 'get',
  path: '/admin/tenants/{id}',
  operationId: 'getTenant',
  summary: 'Read a tenant and its keys',
  ...tenants,
  request: { params: tenantId },
  responses: {
    200: jsonAnswer('the tenant with its keys (never their plaintext)', TenantWithKeysAnswer),
    ...errorResponses({ auth: 'admin', errors: ['not_found'] }),
  },
});

adminTenantRoutes.openapi(getTenantRoute, async function readTenant(c) {
  const tenant = await getTenant(c.env.DB, c.req.valid('param').id);
  if (!tenant) throw new ApiError('not_found', 'no such tenant');
  const tenantKeys = await listKeys(c.env.DB, tenant.id);
  return c.json({ ...tenantJson(tenant), keys: tenantKeys.map(keyJson) }, 200);
});

const updateTenantRoute = createRoute({
  method: 'patch',
  path: '/admin/tenants/{id}',
  operationId: 'updateTenant',
  summary: 'Change a tenant',
  description: 'Only the fields sent change. Disabling takes effect for new requests within 5 seconds.',
  ...tenants,
  ...withBody,
  request: { params: tenantId, body: jsonBody(TenantPatchSchema) },
  responses: { 200: jsonAnswer('the tenant as changed', TenantAnswer), ...errorResponses({ auth: 'admin', body: true, errors: ['not_found'] }) },
});

adminTenantRoutes.openapi(updateTenantRoute, async function changeTenant(c) {
  const tenant = await updateTenant(c.env.DB, c.req.valid('param').id, tenantPatchOf(c.req.valid('json')), isoNow(c.var.deps.now()));
  if (!tenant) throw new ApiError('not_found', 'no such tenant');
  forgetCallers();
  return c.json(tenantJson(tenant), 200);
});

const createKeyRoute = createRoute({
  method: 'post',
  path: '/admin/tenants/{id}/keys',
  operationId: 'createKey',
  summary: 'Create a key for a tenant',
  description: 'The plaintext `key` is in this answer only; the gateway keeps a SHA-256 hash. A past `expires_at` is accepted and expires the key.',
  ...keys,
  ...withBody,
  request: { params: tenantId, body: jsonBody(KeyCreateSchema) },
  responses: {
    201: jsonAnswer('the key, with its plaintext this once', NewKeyAnswer),
    ...errorResponses({ auth: 'admin', body: true, errors: ['not_found'] }),
  },
});

adminTenantRoutes.openapi(createKeyRoute, async function createKey(c) {
  const tenant = await getTenant(c.env.DB, c.req.valid('param').id);
  if (!tenant) throw new ApiError('not_found', 'no such tenant');
  const plaintext = newTenantKey();
  const key = await insertKey(
    c.env.DB,
    newId('key'),
    tenant.id,
    { keyHash: await hashKey(plaintext), prefix: displayPrefix(plaintext) },
    keyPatchOf(c.req.valid('json')),
    isoNow(c.var.deps.now()),
  );
  return c.json({ ...keyJson(key), key: plaintext }, 201);
});

const getKeyRoute = createRoute({
  method: 'get',
  path: '/admin/keys/{id}',
  operationId: 'getKey',
  summary: 'Read a key',
  ...keys,
  request: { params: keyId },
  responses: { 200: jsonAnswer('the key (never its plaintext)', KeyAnswer), ...errorResponses({ auth: 'admin', errors: ['not_found'] }) },
});

adminTenantRoutes.openapi(getKeyRoute, async function readKey(c) {
  const key = await getKey(c.env.DB, c.req.valid('param').id);
  if (!key) throw new ApiError('not_found', 'no such key');
  return c.json(keyJson(key), 200);
});

const updateKeyRoute = createRoute({
  method: 'patch',
  path: '/admin/keys/{id}',
  operationId: 'updateKey',
  summary: 'Change a key',
  description: '`disabled`, budgets, limits, `expires_at`. Takes effect for new requests within 5 seconds.',
  ...keys,
  ...withBody,
  request: { params: keyId, body: jsonBody(KeyPatchSchema) },
  responses: { 200: jsonAnswer('the key as changed', KeyAnswer), ...errorResponses({ auth: 'admin', body: true, errors: ['not_found'] }) },
});

adminTenantRoutes.openapi(updateKeyRoute, async function changeKey(c) {
  const key = await updateKey(c.env.DB, c.req.valid('param').id, keyPatchOf(c.req.valid('json')), isoNow(c.var.deps.now()));
  if (!key) throw new ApiError('not_found', 'no such key');
  forgetCallers();
  return c.json(keyJson(key), 200);
});

const revokeKeyRoute = createRoute({
  method: 'delete',
  path: '/admin/keys/{id}',
  operationId: 'revokeKey',
  summary: 'Revoke a key',
  ...keys,
  request: { params: keyId },
  responses: { 204: { description: 'revoked (also when it already was)' }, ...errorResponses({ auth: 'admin', errors: ['not_found'] }) },
});

adminTenantRoutes.openapi(revokeKeyRoute, async function revokeKey(c) {
  const now = isoNow(c.var.deps.now());
  const existing = await getKey(c.env.DB, c.req.valid('param').id);
  if (!existing) throw new ApiError('not_found', 'no such key');
  if (!existing.revokedAt) await markKeyRevoked(c.env.DB, existing.id, now);
  forgetCallers();
  return c.body(null, 204);
});

const rotateKeyRoute = createRoute({
  method: 'post',
  path: '/admin/keys/{id}/rotate',
  operationId: 'rotateKey',
  summary: 'Rotate a key',
  description: 'A new plaintext `key`; the old one stops working.',
  ...keys,
  request: { params: keyId },
  responses: {
    200: jsonAnswer('the key with its new plaintext, this once', NewKeyAnswer),
    ...errorResponses({ auth: 'admin', errors: ['not_found'] }),
  },
});

adminTenantRoutes.openapi(rotateKeyRoute, async function rotateKey(c) {
  const existing = await getKey(c.env.DB, c.req.valid('param').id);
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
  return c.json({ ...keyJson(key), key: plaintext }, 200);
});

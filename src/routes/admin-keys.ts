import type { Context } from 'hono';
import { actorOf } from '../domain/audit';
import { displayPrefix, hashKey, newId, newTenantKey } from '../domain/keys';
import { keyBudgetCeiling, keyBudgetProblem } from '../domain/roles';
import type { ApiKeyRecord } from '../domain/tenants';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';
import { forgetCallers } from '../middleware/tenant-auth';
import { adminResource } from '../openapi/admin-resource';
import { jsonAnswer, jsonBody } from '../openapi/describe';
import { KeyAnswer, NewKeyAnswer, RotatedKeyAnswer } from '../schemas/answers';
import { IdParam, KeyCreateSchema, KeyPatchSchema } from '../schemas/requests';
import { graceEnd } from '../storage/admins';
import { commitAudited } from '../storage/audit';
import { keyEventStatement, type KeyEvent } from '../storage/key-events';
import { sendEventsSoon } from '../services/webhooks/send-soon';
import { getKey, getTenant, insertKeyWrite, revokeKeyWrite, rotateKeyWrite, updateKeyWrite, type KeyPatch, type PendingWrite } from '../storage/tenants';
import { auditOf, type Change } from './admin-audit';
import { found, foundLive, isoNow, patchChange, revokeOnce } from './admin-objects';
import { definedFields, keyFields, keyJson, spendOf, tenantId } from './admin-tenants';
import { routeGroup } from './route-group';
import { keyPatchOf } from './tenant-patches';

/** The admin API for tenant keys (docs/admin.md): create, read, change, revoke, rotate with a grace period. */
export const adminKeyRoutes = routeGroup();

const keys = adminResource('admin: keys', '/admin/keys');
const onKey = keys.item(IdParam('the key id (`key_…`)'));

/** 400 when the principal may not give a key this budget: a tenant admin's keys fit the tenant's budget. */
async function checkKeyBudget(c: Context<AppEnv>, tenantId: string, patch: KeyPatch): Promise<void> {
  if (patch.budgetNano === undefined || patch.budgetNano === null) return;
  const tenant = await getTenant(c.env.DB, tenantId);
  const problem = keyBudgetProblem(patch.budgetNano, keyBudgetCeiling(c.var.principal, tenant?.budgetNano ?? null));
  if (problem) throw new ApiError('invalid_request', problem.message, { param: problem.param });
}

/** What a key write causes besides its audit entry (docs/webhooks.md). */
interface KeyWriteEvents {
  /** A key.created, key.revoked or key.rotated event, recorded in the same batch. */
  key?: Pick<KeyEvent, 'type' | 'tenantId' | 'name' | 'prefix'>;
  /** The budget or its period changed: a budget alert threshold may have fired or re-armed. */
  budgetChanged?: boolean;
}

/**
 * Applies a key write with its audit entry and the events it causes, and answers the key as it now
 * is, with its spend. Events go to the queue after the answer.
 */
async function commitKey(c: Context<AppEnv>, write: PendingWrite<ApiKeyRecord>, change: Change, events: KeyWriteEvents = {}) {
  const now = c.var.deps.now();
  const event = events.key && keyEventStatement(c.env.DB, { ...events.key, keyId: change.target.id, actor: actorOf(c.var.principal), occurredAt: now });
  const { applied, results } = await commitAudited(c.env.DB, write.statements, auditOf(c, change), event ? [event] : []);
  const key = write.read(results);
  forgetCallers();
  if (applied && (event || events.budgetChanged)) sendEventsSoon(c.env, now, (p) => c.executionCtx.waitUntil(p));
  if (!key) return null;
  const spend = await spendOf(c.env.DB, 'api_keys', [key.id], now);
  return keyJson(key, spend(key.id));
}

/** A tenant's keys are created under the tenant: `POST /admin/tenants/{id}/keys`. */
const createKeyRoute = adminResource('admin: keys', '/admin/tenants').item(tenantId).post(
  'keys',
  {
    id: 'createKey',
    summary: 'Create a key for a tenant',
    description:
      "The plaintext `key` is in this answer only; the gateway keeps a SHA-256 hash. A past `expires_at` is accepted and expires the key. A tenant admin's key may not have a `budget_usd` above its tenant's.",
  },
  { 201: jsonAnswer('the key, with its plaintext this once', NewKeyAnswer) },
  jsonBody(KeyCreateSchema),
);

adminKeyRoutes.openapi(createKeyRoute, async function createKey(c) {
  const tenant = found(await getTenant(c.env.DB, c.req.valid('param').id), 'tenant');
  const body = c.req.valid('json');
  const patch = keyPatchOf(body);
  await checkKeyBudget(c, tenant.id, patch);
  const plaintext = newTenantKey();
  const id = newId('key');
  const secret = { keyHash: await hashKey(plaintext), prefix: displayPrefix(plaintext) };
  const write = insertKeyWrite(c.env.DB, id, tenant.id, secret, patch, isoNow(c.var.deps.now()));
  // the entry shows the thresholds as stored (deduplicated, sorted), not as sent
  const after = { id, tenant_id: tenant.id, prefix: secret.prefix, ...body, ...(patch.alertThresholds && { alert_thresholds: patch.alertThresholds }) };
  const change = { action: 'key.create', target: { type: 'key', id }, tenantId: tenant.id, before: null, after } as const;
  const key = await commitKey(c, write, change, { key: { type: 'key.created', tenantId: tenant.id, name: body.name, prefix: secret.prefix } });
  if (!key) throw new Error('insert into api_keys returned no row');
  return c.json({ ...key, key: plaintext }, 201);
});

const getKeyRoute = onKey.read({ id: 'getKey', summary: 'Read a key' }, jsonAnswer('the key (never its plaintext)', KeyAnswer));

adminKeyRoutes.openapi(getKeyRoute, async function readKey(c) {
  const key = found(await getKey(c.env.DB, c.req.valid('param').id), 'key');
  const spend = await spendOf(c.env.DB, 'api_keys', [key.id], c.var.deps.now());
  return c.json(keyJson(key, spend(key.id)), 200);
});

const updateKeyRoute = onKey.change(
  {
    id: 'updateKey',
    summary: 'Change a key',
    description: "`disabled`, budgets, limits, `expires_at`. Takes effect for new requests within 5 seconds. A tenant admin's key may not have a `budget_usd` above its tenant's.",
  },
  KeyPatchSchema,
  jsonAnswer('the key as changed', KeyAnswer),
);

adminKeyRoutes.openapi(updateKeyRoute, async function changeKey(c) {
  const before = found(await getKey(c.env.DB, c.req.valid('param').id), 'key');
  const patch = keyPatchOf(c.req.valid('json'));
  await checkKeyBudget(c, before.tenantId, patch);
  const write = updateKeyWrite(c.env.DB, before.id, patch, isoNow(c.var.deps.now()));
  const expected = { ...before, ...definedFields(patch), defaultTags: patch.defaultTags === null ? {} : (patch.defaultTags ?? before.defaultTags) };
  const change = patchChange({ action: 'key.update', target: { type: 'key', id: before.id }, tenantId: before.tenantId }, keyFields, before, expected);
  const key = found(await commitKey(c, write, change, { budgetChanged: patch.budgetNano !== undefined || patch.budgetPeriod !== undefined }), 'key');
  return c.json(key, 200);
});

const revokeKeyRoute = onKey.revoke({
  id: 'revokeKey',
  summary: 'Revoke a key',
  description: 'The key, and a previous key still in its grace period, stop working at once.',
});

adminKeyRoutes.openapi(revokeKeyRoute, async function revokeKey(c) {
  const existing = found(await getKey(c.env.DB, c.req.valid('param').id), 'key');
  return revokeOnce(
    c,
    existing,
    async (now) => {
      // matches no row (and writes no entry) when another request revoked it meanwhile
      const change = {
        action: 'key.revoke',
        target: { type: 'key', id: existing.id },
        tenantId: existing.tenantId,
        before: { revoked: false, revoked_at: null },
        after: { revoked: true, revoked_at: now },
        at: now,
      } as const;
      const event = { type: 'key.revoked', tenantId: existing.tenantId, name: existing.name, prefix: existing.prefix } as const;
      await commitKey(c, revokeKeyWrite(c.env.DB, existing.id, now), change, { key: event });
    },
    forgetCallers,
  );
});

const rotateKeyRoute = onKey.rotate(
  {
    id: 'rotateKey',
    summary: 'Rotate a key',
    description:
      'A new plaintext `key`. The old one keeps working for `grace_seconds` (0–604800, default 0: it stops at once); `previous_expires_at` says until when. The body is optional.',
  },
  jsonAnswer('the key with its new plaintext, this once', RotatedKeyAnswer),
);

adminKeyRoutes.openapi(rotateKeyRoute, async function rotateKey(c) {
  const existing = foundLive(await getKey(c.env.DB, c.req.valid('param').id), 'key');
  const now = isoNow(c.var.deps.now());
  const previousExpiresAt = graceEnd(now, c.req.valid('json').grace_seconds ?? 0);
  const plaintext = newTenantKey();
  const secret = { keyHash: await hashKey(plaintext), prefix: displayPrefix(plaintext) };
  const change = {
    action: 'key.rotate',
    target: { type: 'key', id: existing.id },
    tenantId: existing.tenantId,
    before: { prefix: existing.prefix },
    after: { prefix: secret.prefix, previous_expires_at: previousExpiresAt },
    at: now,
  } as const;
  const event = { type: 'key.rotated', tenantId: existing.tenantId, name: existing.name, prefix: secret.prefix } as const;
  const key = found(await commitKey(c, rotateKeyWrite(c.env.DB, existing.id, secret, previousExpiresAt, now), change, { key: event }), 'key');
  return c.json({ ...key, key: plaintext, previous_expires_at: previousExpiresAt }, 200);
});

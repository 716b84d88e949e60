import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { newId } from '../domain/keys';
import { ownedTenant, tenantScope } from '../domain/roles';
import { eventSelection, newEventId, type WebhookEvent } from '../domain/webhook-events';
import { newWebhookSecret } from '../domain/webhook-signing';
import { webhookUrlProblem } from '../domain/webhook-url';
import { ApiError } from '../errors';
import { adminResource } from '../openapi/admin-resource';
import { jsonAnswer } from '../openapi/describe';
import { NewWebhookAnswer, WebhookAnswer, WebhookDeliveriesAnswer, WebhookListAnswer, WebhookTestAnswer } from '../schemas/answers';
import { DeliveriesQuerySchema, IdParam, WebhookCreateSchema, WebhookListQuerySchema } from '../schemas/requests';
import { sendEventsSoon } from '../services/webhooks/send-soon';
import { commitAudited } from '../storage/audit';
import { getTenant } from '../storage/tenants';
import { listDeliveries, type LoggedDelivery } from '../storage/webhook-deliveries';
import { insertEvent } from '../storage/webhook-events';
import { deleteWebhook, getWebhook, insertWebhook, listWebhooks, setWebhookSecret, type WebhookRecord } from '../storage/webhooks';
import { auditOf, type Change } from './admin-audit';
import { found, isoNow } from './admin-objects';
import { routeGroup } from './route-group';

/**
 * Webhook endpoints (docs/webhooks.md): where budget alerts and key events are delivered, signed.
 * The secret is in the answer that creates or rotates it, and nowhere else: not in a list, a read,
 * the audit log or a log line.
 */
export const adminWebhookRoutes = routeGroup();

export function webhookJson(w: WebhookRecord) {
  return { id: w.id, url: w.url, events: w.events, tenant_id: w.tenantId, description: w.description, created_at: w.createdAt };
}

function deliveryJson(d: LoggedDelivery) {
  return { event_id: d.eventId, type: d.type, attempt: d.attempt, at: d.at, response_status: d.responseStatus, ok: d.ok, next_attempt_at: d.nextAttemptAt };
}

/** What the audit log keeps of an endpoint: never its secret. */
function audited(w: WebhookRecord) {
  return { url: w.url, events: w.events, tenant_id: w.tenantId, description: w.description };
}

const webhooks = adminResource('admin: webhooks', '/admin/webhooks');
const onWebhook = webhooks.item(IdParam('the endpoint id (`wh_…`)'));

async function liveWebhook(c: Context<AppEnv>, id: string): Promise<WebhookRecord> {
  return found(await getWebhook(c.env.DB, id), 'webhook endpoint');
}

/** The audit change of an action on an endpoint. */
function endpointChange(webhook: WebhookRecord, action: Change['action'], before: Change['before'], after: Change['after']): Change {
  return { action, target: { type: 'webhook', id: webhook.id }, tenantId: webhook.tenantId, before, after };
}

/** An endpoint's write with its audit entry, in one batch; 404 when the endpoint was deleted meanwhile. */
async function commitToEndpoint(c: Context<AppEnv>, write: D1PreparedStatement, change: Change): Promise<void> {
  const { applied } = await commitAudited(c.env.DB, write, auditOf(c, change));
  if (!applied) throw new ApiError('not_found', 'no such webhook endpoint');
}

const createWebhookRoute = webhooks.create(
  {
    id: 'createWebhook',
    summary: 'Create a webhook endpoint',
    description:
      "Receives the events named in `events` (or every type with `['*']`) of the tenant `tenant_id`, or of every tenant when it is null or left out. A tenant admin's endpoint is its own tenant's. The `secret` (`whsec_…`) that signs each delivery is in this answer only.",
    errors: ['not_found'],
  },
  WebhookCreateSchema,
  jsonAnswer('the endpoint, with its secret this once', NewWebhookAnswer),
);

adminWebhookRoutes.openapi(createWebhookRoute, async function createEndpoint(c) {
  const body = c.req.valid('json');
  const owner = ownedTenant(c.var.principal, body.tenant_id);
  if (owner === 'forbidden') throw new ApiError('forbidden', "a tenant admin's endpoint receives its own tenant's events only; tenant_id may not be null");
  if (owner === 'not_found') throw new ApiError('not_found', 'no such tenant for this principal');
  const urlProblem = webhookUrlProblem(body.url, c.env.WEBHOOK_ALLOW_LOOPBACK === 'true');
  if (urlProblem) throw new ApiError('invalid_request', urlProblem.message, { param: urlProblem.param });
  const events = eventSelection(body.events);
  if (!Array.isArray(events)) throw new ApiError('invalid_request', events.message, { param: events.param });
  if (owner.tenantId !== null && !(await getTenant(c.env.DB, owner.tenantId))) {
    throw new ApiError('invalid_request', `no tenant '${owner.tenantId}'`, { param: 'tenant_id' });
  }
  const record: WebhookRecord = {
    id: newId('wh'),
    url: body.url,
    events,
    tenantId: owner.tenantId,
    description: body.description ?? null,
    createdAt: isoNow(c.var.deps.now()),
  };
  const secret = newWebhookSecret();
  const change = { action: 'webhook.create', target: { type: 'webhook', id: record.id }, tenantId: record.tenantId, before: null, after: audited(record) } as const;
  await commitAudited(c.env.DB, insertWebhook(c.env.DB, record, secret), auditOf(c, change));
  return c.json({ ...webhookJson(record), secret }, 201);
});

const listWebhooksRoute = webhooks.list(
  {
    id: 'listWebhooks',
    summary: 'List webhook endpoints',
    description: "Live endpoints in creation order, never a secret. `tenant_id` narrows to one tenant's; a tenant admin sees only its tenant's.",
    errors: ['not_found'],
  },
  jsonAnswer('the endpoints', WebhookListAnswer),
  WebhookListQuerySchema,
);

adminWebhookRoutes.openapi(listWebhooksRoute, async function listEndpoints(c) {
  const tenantId = tenantScope(c.var.principal) ?? c.req.valid('query').tenant_id ?? null;
  return c.json({ data: (await listWebhooks(c.env.DB, tenantId)).map(webhookJson) }, 200);
});

const getWebhookRoute = onWebhook.read({ id: 'getWebhook', summary: 'Read a webhook endpoint' }, jsonAnswer('the endpoint (never its secret)', WebhookAnswer));

adminWebhookRoutes.openapi(getWebhookRoute, async function readEndpoint(c) {
  return c.json(webhookJson(await liveWebhook(c, c.req.valid('param').id)), 200);
});

const deleteWebhookRoute = onWebhook.remove(
  { id: 'deleteWebhook', summary: 'Delete a webhook endpoint', description: 'It receives nothing more: deliveries still queued for it stop. Its delivery log is kept.' },
  'deleted',
);

adminWebhookRoutes.openapi(deleteWebhookRoute, async function deleteEndpoint(c) {
  const webhook = await liveWebhook(c, c.req.valid('param').id);
  const now = isoNow(c.var.deps.now());
  await commitToEndpoint(c, deleteWebhook(c.env.DB, webhook.id, now), { ...endpointChange(webhook, 'webhook.delete', audited(webhook), null), at: now });
  return c.body(null, 204);
});

const rotateSecretRoute = onWebhook.post(
  'rotate-secret',
  {
    id: 'rotateWebhookSecret',
    summary: "Rotate a webhook endpoint's secret",
    description: 'A new `secret`, in this answer only; every delivery from now on is signed with it (the old one at once stops being used).',
  },
  { 200: jsonAnswer('the endpoint with its new secret, this once', NewWebhookAnswer) },
);

adminWebhookRoutes.openapi(rotateSecretRoute, async function rotateEndpointSecret(c) {
  const webhook = await liveWebhook(c, c.req.valid('param').id);
  const secret = newWebhookSecret();
  // the entry records when the secret changed, never either secret
  const after = { secret_rotated_at: isoNow(c.var.deps.now()) };
  await commitToEndpoint(c, setWebhookSecret(c.env.DB, webhook.id, secret), endpointChange(webhook, 'webhook.rotate_secret', null, after));
  return c.json({ ...webhookJson(webhook), secret }, 200);
});

const testWebhookRoute = onWebhook.post(
  'test',
  {
    id: 'testWebhook',
    summary: 'Send a test event to a webhook endpoint',
    description: 'Records a `webhook.test` event for this endpoint alone and queues its delivery; the answer does not wait for it. Its attempts show in the delivery log.',
  },
  { 202: jsonAnswer('the event is on its way', WebhookTestAnswer) },
);

adminWebhookRoutes.openapi(testWebhookRoute, async function testEndpoint(c) {
  const webhook = await liveWebhook(c, c.req.valid('param').id);
  const now = c.var.deps.now();
  const event: WebhookEvent = {
    id: newEventId(),
    type: 'webhook.test',
    tenantId: webhook.tenantId,
    webhookId: webhook.id,
    data: { webhook_id: webhook.id },
    occurredAt: now,
    onceKey: null,
  };
  await commitAudited(c.env.DB, insertEvent(c.env.DB, event), auditOf(c, endpointChange(webhook, 'webhook.test', null, { event_id: event.id })));
  sendEventsSoon(c.env, now, (p) => c.executionCtx.waitUntil(p));
  return c.json({ event_id: event.id }, 202);
});

const deliveriesRoute = onWebhook.get(
  'deliveries',
  {
    id: 'listWebhookDeliveries',
    summary: "A webhook endpoint's delivery log",
    description:
      'Every attempt, newest first: `ok` false with a `next_attempt_at` will be tried again; `ok` false with `next_attempt_at` null failed for good after the last attempt.',
  },
  DeliveriesQuerySchema,
  jsonAnswer('the attempts', WebhookDeliveriesAnswer),
);

adminWebhookRoutes.openapi(deliveriesRoute, async function endpointDeliveries(c) {
  const webhook = await liveWebhook(c, c.req.valid('param').id);
  const deliveries = await listDeliveries(c.env.DB, webhook.id, c.req.valid('query').limit ?? 50);
  return c.json({ deliveries: deliveries.map(deliveryJson) }, 200);
});

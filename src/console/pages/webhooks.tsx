import type { Context } from 'hono';
import type { z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env';
import type { NewWebhookAnswer, TenantListAnswer, WebhookAnswer, WebhookDeliveriesAnswer, WebhookListAnswer } from '../../schemas/answers';
import { ChangeNotices, DataTable, ErrorNotice, Panel, SecretReveal, doneOf, when, type AfterChange, type Column } from '../components';
import { can, renderPage, type PageOptions } from '../layout';
import type { ConsolePage } from '../page';
import { WebhookForm, webhookBody, type TenantChoice } from '../webhook-forms';

/**
 * Webhook endpoints (docs/webhooks.md, docs/console.md): the list and the form that adds one, and
 * an endpoint's own page with its deliveries, newest first, and its controls (send a test event,
 * rotate the secret, delete). Everything goes through the admin API, so a tenant admin sees and
 * changes only its tenant's endpoints, and a viewer's page has no form that changes anything.
 */

type Webhook = z.infer<typeof WebhookAnswer>;
type NewWebhook = z.infer<typeof NewWebhookAnswer>;
type Deliveries = z.infer<typeof WebhookDeliveriesAnswer>;

interface Extras extends AfterChange {
  secret?: { label: string; secret: string };
}

const DONE: Record<string, string> = {
  deleted: 'Webhook deleted: it receives nothing more.',
  tested: 'Test event queued: its delivery shows below once it is tried (reload).',
};
const SECRET_KEPT = 'the gateway keeps it to sign deliveries, and never shows it again';
const LIST = '/console/webhooks';
const endpointPath = (id: string) => `${LIST}/${encodeURIComponent(id)}`;
const adminPath = (id: string) => `/admin/webhooks/${encodeURIComponent(id)}`;

function Notices(props: { extras: Extras }) {
  const { failure, done, secret } = props.extras;
  return (
    <>
      <ChangeNotices failure={failure} done={done} said={DONE} />
      {secret ? <SecretReveal id="new-secret" label={secret.label} secret={secret.secret} kept={SECRET_KEPT} /> : null}
    </>
  );
}

/** Who the form lets choose: a tenant admin's own tenant is fixed; owner and admin pick any, or every tenant. */
async function tenantChoice(c: Context<AppEnv>): Promise<TenantChoice> {
  const principal = c.var.consoleSession.principal;
  if (principal.tenantId !== null) return { fixed: { id: principal.tenantId } };
  const tenants = await c.var.consoleAdmin.get<z.infer<typeof TenantListAnswer>>('/admin/tenants');
  return { choose: tenants.ok ? tenants.data.data.map((t) => ({ id: t.id, name: t.name })) : [] };
}

async function listView(c: Context<AppEnv>, extras: Extras = {}) {
  const list = await c.var.consoleAdmin.get<z.infer<typeof WebhookListAnswer>>('/admin/webhooks');
  const options: PageOptions = { title: 'Webhooks', current: LIST, status: extras.failure?.status ?? 200 };
  if (!list.ok) return renderPage(c, { ...options, status: list.status }, <ErrorNotice failure={list} />);
  const mayCreate = can(c.var.consoleSession.principal, 'POST', '/admin/webhooks');
  const endpoints = list.data.data;
  return renderPage(
    c,
    options,
    <>
      <Notices extras={extras} />
      <Panel title="Endpoints">
        <DataTable
          label="Webhook endpoints"
          columns={WEBHOOK_COLUMNS}
          rows={endpoints}
          empty={<>No webhooks yet — {mayCreate ? <a href="#add">add one</a> : 'an admin can add one'} to hear about budgets.</>}
        />
      </Panel>
      {mayCreate ? (
        <Panel title="Add a webhook" id="add">
          <WebhookForm tenants={await tenantChoice(c)} />
          <p class="hint">Deliveries are signed with the endpoint's secret (Standard Webhooks); the secret is shown once, when it is made.</p>
        </Panel>
      ) : null}
    </>,
  );
}

function EventList(props: { events: string[] }) {
  return <>{props.events.includes('*') ? 'all' : props.events.map((e, i) => <>{i > 0 ? ', ' : ''}<code>{e}</code></>)}</>;
}

/** Who an endpoint hears about: one tenant, or every tenant when it has none. */
function TenantOf(props: { tenantId: string | null }) {
  return <>{props.tenantId === null ? 'every tenant' : <code>{props.tenantId}</code>}</>;
}

const WEBHOOK_COLUMNS: Column<Webhook>[] = [
  { header: 'URL', cell: (w) => <a href={endpointPath(w.id)}>{w.url}</a> },
  { header: 'Events', cell: (w) => <EventList events={w.events} /> },
  { header: 'Tenant', cell: (w) => <TenantOf tenantId={w.tenant_id} /> },
  { header: 'Description', cell: (w) => w.description ?? '—' },
  { header: 'Created', cell: (w) => when(w.created_at), class: 'wide-only' },
];

async function endpointView(c: Context<AppEnv>, id: string, extras: Extras = {}) {
  const found = await c.var.consoleAdmin.get<Webhook>(adminPath(id));
  if (!found.ok) return renderPage(c, { title: 'Webhook', current: LIST, status: found.status }, <ErrorNotice failure={found} />);
  const w = found.data;
  const deliveries = await c.var.consoleAdmin.get<Deliveries>(`${adminPath(id)}/deliveries?limit=100`);
  const principal = c.var.consoleSession.principal;
  const tenant = w.tenant_id ?? undefined;
  return renderPage(
    c,
    { title: 'Webhook', current: LIST, status: extras.failure?.status ?? 200 },
    <>
      <Notices extras={extras} />
      <p>
        <code>{w.url}</code> · <EventList events={w.events} /> · <TenantOf tenantId={w.tenant_id} />
        {w.description ? ` · ${w.description}` : ''} · created {when(w.created_at)}
      </p>
      <EndpointActions id={w.id} may={(method, path) => can(principal, method, path, tenant)} />
      <Panel title="Deliveries">
        {deliveries.ok ? (
          <DataTable
            label="Deliveries"
            caption="Every attempt, newest first"
            columns={DELIVERY_COLUMNS}
            rows={deliveries.data.deliveries}
            empty="No deliveries yet — send a test event to try the endpoint."
          />
        ) : (
          <ErrorNotice failure={deliveries} />
        )}
      </Panel>
      <p>
        <a href={LIST}>All webhooks</a>
      </p>
    </>,
  );
}

function EndpointActions(props: { id: string; may: (method: 'POST' | 'DELETE', path: string) => boolean }) {
  const base = endpointPath(props.id);
  const test = props.may('POST', '/admin/webhooks/{id}/test');
  const rotate = props.may('POST', '/admin/webhooks/{id}/rotate-secret');
  const remove = props.may('DELETE', '/admin/webhooks/{id}');
  if (!test && !rotate && !remove) return null;
  return (
    <div class="actions">
      {test ? (
        <form class="inline" method="post" action={`${base}/test`}>
          <button type="submit">Send a test event</button>
        </form>
      ) : null}
      {rotate ? (
        <form class="inline" method="post" action={`${base}/rotate`}>
          <button type="submit" class="secondary">
            Rotate secret
          </button>
        </form>
      ) : null}
      {remove ? (
        <form class="inline" method="post" action={`${base}/delete`}>
          <button type="submit" class="danger">
            Delete
          </button>
        </form>
      ) : null}
    </div>
  );
}

const DELIVERY_COLUMNS: Column<Deliveries['deliveries'][number]>[] = [
  { header: 'Event', cell: (d) => <code>{d.event_id}</code> },
  { header: 'Type', cell: (d) => <code>{d.type}</code> },
  { header: 'Attempt', cell: (d) => d.attempt, class: 'num' },
  { header: 'At', cell: (d) => when(d.at) },
  { header: 'Status', cell: (d) => d.response_status ?? 'no answer', class: 'num' },
  { header: 'Result', cell: (d) => (d.ok ? <span class="badge">ok</span> : <span class="badge bad">failed</span>) },
  { header: 'Next attempt', cell: (d) => (d.ok ? '—' : d.next_attempt_at === null ? 'none: gave up' : when(d.next_attempt_at)) },
];

export const webhooksPage: ConsolePage = {
  mount(routes) {
    routes.get('/webhooks', (c) => listView(c, doneOf(c)));
    routes.post('/webhooks', async function createWebhook(c) {
      const created = await c.var.consoleAdmin.send<NewWebhook>('POST', '/admin/webhooks', webhookBody(await c.req.parseBody({ all: true })));
      if (!created.ok) return listView(c, { failure: created });
      return endpointView(c, created.data.id, { secret: { label: `Secret of the new webhook to ${created.data.url}`, secret: created.data.secret } });
    });
    routes.get('/webhooks/:id', (c) => endpointView(c, c.req.param('id'), doneOf(c)));
    routes.post('/webhooks/:id/test', async function testWebhook(c) {
      const id = c.req.param('id');
      const sent = await c.var.consoleAdmin.send('POST', `${adminPath(id)}/test`);
      if (!sent.ok) return endpointView(c, id, { failure: sent });
      return c.redirect(`${endpointPath(id)}?done=tested`, 303);
    });
    routes.post('/webhooks/:id/rotate', async function rotateSecret(c) {
      const id = c.req.param('id');
      const rotated = await c.var.consoleAdmin.send<NewWebhook>('POST', `${adminPath(id)}/rotate-secret`);
      if (!rotated.ok) return endpointView(c, id, { failure: rotated });
      return endpointView(c, id, { secret: { label: 'New secret', secret: rotated.data.secret } });
    });
    routes.post('/webhooks/:id/delete', async function deleteWebhook(c) {
      const deleted = await c.var.consoleAdmin.send('DELETE', adminPath(c.req.param('id')));
      if (!deleted.ok) return listView(c, { failure: deleted });
      return c.redirect(`${LIST}?done=deleted`, 303);
    });
  },
};

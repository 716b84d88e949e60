import type { Context } from 'hono';
import type { z } from '@hono/zod-openapi';
import { DAY_MS } from '../../domain/time';
import type { AppEnv } from '../../env';
import type { KeyAnswer, NewKeyAnswer, RotatedKeyAnswer, TenantWithKeysAnswer, UsageReportAnswer } from '../../schemas/answers';
import { tagNames } from '../../storage/overview';
import type { AdminAnswer } from '../admin-client';
import { ChangeNotices, DataTable, Empty, ErrorNotice, Panel, SecretReveal, doneOf, tenantPath, field, numberOrText, when, type AfterChange, type Column } from '../components';
import { Gallery } from '../gallery';
import { can, renderPage } from '../layout';
import type { ConsolePage } from '../page';
import { KeyForm, TenantForm, keyBody, tenantBody } from '../tenant-forms';

/**
 * A tenant's page (docs/console.md): its keys (create, revoke, rotate with a grace period), its
 * budget and limits, usage by key and by tag over 30 days (with CSV), and its recent images.
 * Every read and change goes through the admin API, so a tenant admin asking for another tenant
 * gets the admin API's 404, and a viewer's page has no form that changes anything.
 */

type TenantWithKeys = z.infer<typeof TenantWithKeysAnswer>;
type Key = z.infer<typeof KeyAnswer>;
type Usage = z.infer<typeof UsageReportAnswer>;

interface Extras extends AfterChange {
  secret?: { label: string; key: string; previousExpiresAt?: string | null };
}

const DONE: Record<string, string> = { created: 'Tenant created.', updated: 'Tenant changed.', revoked: 'Key revoked: it stops working at once.' };
const USAGE_DAYS = 30;


async function tenantView(c: Context<AppEnv>, id: string, extras: Extras = {}) {
  const found = await c.var.consoleAdmin.get<TenantWithKeys>(`/admin/tenants/${encodeURIComponent(id)}`);
  if (!found.ok) return renderPage(c, { title: 'Tenant', current: '/console/tenants', status: found.status }, <ErrorNotice failure={found} />);
  const t = found.data;
  const principal = c.var.consoleSession.principal;
  const status = extras.failure?.status ?? 200;
  return renderPage(
    c,
    { title: t.name, current: '/console/tenants', status },
    <>
      <Notices extras={extras} />
      <p>
        <code>{t.id}</code> · spent {t.usage.spent_usd} USD of {t.budget_usd === null ? 'no budget' : `${t.budget_usd} USD`} this {t.budget_period === 'none' ? 'lifetime' : t.budget_period}
        {t.usage.remaining_usd === null ? '' : ` · ${t.usage.remaining_usd} USD left`} · alerts at {alertsText(t.alert_thresholds)} · {t.disabled ? 'disabled' : 'active'}
      </p>
      <Panel title="Keys">
        <KeysTable keys={t.keys} mayChange={can(principal, 'DELETE', '/admin/keys/{id}', t.id)} />
        {can(principal, 'POST', '/admin/tenants/{id}/keys', t.id) ? (
          <>
            <h3>Create a key</h3>
            <KeyForm action={`${tenantPath(t.id)}/keys`} />
          </>
        ) : null}
      </Panel>
      <Panel title="Recent images">
        <Gallery c={c} tenantId={t.id} />
      </Panel>
      <UsagePanels c={c} tenant={t} />
      {can(principal, 'PATCH', '/admin/tenants/{id}', t.id) ? (
        <Panel title="Budget and limits">
          <TenantForm action={tenantPath(t.id)} idPrefix="edit-tenant" values={t} submit="Save changes" />
          <p class="hint">Type none to remove a budget or a limit.</p>
        </Panel>
      ) : null}
    </>,
  );
}

/** `50%, 80%, 100%` of the budget, or none. */
function alertsText(thresholds: readonly number[]): string {
  return thresholds.length === 0 ? 'none' : thresholds.map((p) => `${p}%`).join(', ');
}

function Notices(props: { extras: Extras }) {
  const { failure, done, secret } = props.extras;
  return (
    <>
      <ChangeNotices failure={failure} done={done} said={DONE} />
      {secret ? (
        <SecretReveal id="new-key" label={secret.label} secret={secret.key}>
          {secret.previousExpiresAt ? <p class="hint">The previous key keeps working until {when(secret.previousExpiresAt)}.</p> : null}
        </SecretReveal>
      ) : null}
    </>
  );
}

/** Usage over the last 30 days by key, and by the chosen tag (the first one the tenant uses, unless `?tag=` names another). */
async function UsagePanels(props: { c: Context<AppEnv>; tenant: TenantWithKeys }) {
  const { c, tenant: t } = props;
  const from = new Date(c.var.deps.now() - (USAGE_DAYS - 1) * DAY_MS).toISOString().slice(0, 10);
  const tags = await tagNames(c.env.DB, t.id, `${from}T00:00:00.000Z`);
  const asked = c.req.query('tag');
  const tag = asked !== undefined && tags.includes(asked) ? asked : tags[0];
  const usageQuery = (groupBy: string) => `tenant_id=${encodeURIComponent(t.id)}&from=${from}&group_by=${encodeURIComponent(groupBy)}`;
  const [byKey, byTag] = await Promise.all([
    c.var.consoleAdmin.get<Usage>(`/admin/usage?${usageQuery('key')}`),
    tag === undefined ? Promise.resolve(null) : c.var.consoleAdmin.get<Usage>(`/admin/usage?${usageQuery(`tag:${tag}`)}`),
  ]);
  return (
    <>
      <Panel title={`Usage by key, last ${USAGE_DAYS} days`}>
        <UsageTable answer={byKey} label="Key" names={new Map(t.keys.map((k) => [k.id, k.name]))} csv={`/console/usage.csv?${usageQuery('key')}`} />
      </Panel>
      <Panel title={`Usage by tag, last ${USAGE_DAYS} days`}>
        {tag === undefined ? (
          <Empty>No tagged generations yet — send Imagegate-Tags (or give a key default tags) to split the bill.</Empty>
        ) : (
          <>
            <TagChoice action={tenantPath(t.id)} tags={tags} chosen={tag} />
            <UsageTable answer={byTag} label={`Tag ${tag}`} csv={`/console/usage.csv?${usageQuery(`tag:${tag}`)}`} />
          </>
        )}
      </Panel>
    </>
  );
}

function TagChoice(props: { action: string; tags: string[]; chosen: string }) {
  return (
    <form method="get" action={props.action} class="actions">
      <label for="tag-name">
        Tag
        <select id="tag-name" name="tag">
          {props.tags.map((name) => (
            <option value={name} selected={name === props.chosen}>
              {name}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" class="secondary">
        Show
      </button>
    </form>
  );
}

const KEY_COLUMNS: Column<Key>[] = [
  { header: 'Name', cell: (k) => k.name },
  { header: 'Prefix', cell: (k) => <code>{k.prefix}…</code> },
  { header: 'Spent (USD)', cell: (k) => k.usage.spent_usd, class: 'num' },
  { header: 'Budget (USD)', cell: (k) => k.budget_usd ?? 'none', class: 'num' },
  { header: 'Alerts at', cell: (k) => alertsText(k.alert_thresholds) },
  {
    header: 'State',
    cell: (k) => (k.revoked ? <span class="badge bad">revoked</span> : k.disabled ? <span class="badge bad">disabled</span> : <span class="badge">active</span>),
  },
  { header: 'Created', cell: (k) => when(k.created_at), class: 'wide-only' },
];

/** The last column, for a principal who may rotate and revoke this tenant's keys. */
const KEY_ACTIONS: Column<Key> = { header: 'Actions', cell: (k) => (k.revoked ? '—' : <KeyActions keyId={k.id} name={k.name} />) };

function KeysTable(props: { keys: Key[]; mayChange: boolean }) {
  const columns = props.mayChange ? [...KEY_COLUMNS, KEY_ACTIONS] : KEY_COLUMNS;
  return <DataTable label="Keys" columns={columns} rows={props.keys} empty={<>No keys yet{props.mayChange ? ' — create one below' : ''}.</>} />;
}

function KeyActions(props: { keyId: string; name: string }) {
  const base = `/console/keys/${encodeURIComponent(props.keyId)}`;
  return (
    <div class="actions">
      <form class="inline actions" method="post" action={`${base}/rotate`}>
        <label for={`grace-${props.keyId}`}>
          Grace (s)
          <input id={`grace-${props.keyId}`} name="grace_seconds" value="0" inputmode="numeric" size={6} />
        </label>
        <button type="submit" class="secondary" aria-label={`Rotate key ${props.name}`}>
          Rotate
        </button>
      </form>
      <form class="inline" method="post" action={`${base}/revoke`}>
        <button type="submit" class="danger" aria-label={`Revoke key ${props.name}`}>
          Revoke
        </button>
      </form>
    </div>
  );
}

type UsageRow = Usage['rows'][number];

/** Usage grouped by `label` (a key, shown by its name from `names`, or a tag's values). */
function usageColumns(label: string, names?: Map<string, string>): Column<UsageRow>[] {
  return [
    { header: label, cell: (r) => names?.get(r.group) ?? (r.group === '' ? '(none)' : r.group) },
    { header: 'Requests', cell: (r) => r.requests, class: 'num' },
    { header: 'Cache hits', cell: (r) => r.cache_hits, class: 'num' },
    { header: 'Failed', cell: (r) => r.failed, class: 'num' },
    { header: 'Cost (USD)', cell: (r) => r.cost_usd, class: 'num' },
    { header: 'Saved (USD)', cell: (r) => r.saved_usd, class: 'num' },
  ];
}

function UsageTable(props: { answer: AdminAnswer<Usage> | null; label: string; names?: Map<string, string>; csv: string }) {
  const a = props.answer;
  if (!a) return null;
  if (!a.ok) return <ErrorNotice failure={a} />;
  if (a.data.rows.length === 0) return <Empty>No generations in this window yet.</Empty>;
  return (
    <>
      <DataTable label={`Usage by ${props.label.toLowerCase()}`} columns={usageColumns(props.label, props.names)} rows={a.data.rows} />
      <p>
        <a href={props.csv} download>
          Download as CSV
        </a>
      </p>
    </>
  );
}

export const tenantDetailPage: ConsolePage = {
  mount(routes) {
    routes.get('/tenants/:id', (c) => tenantView(c, c.req.param('id'), doneOf(c)));
    routes.post('/tenants/:id', async function changeTenant(c) {
      const id = c.req.param('id');
      const changed = await c.var.consoleAdmin.send('PATCH', `/admin/tenants/${encodeURIComponent(id)}`, tenantBody(await c.req.parseBody()));
      if (!changed.ok) return tenantView(c, id, { failure: changed });
      return c.redirect(`${tenantPath(id)}?done=updated`, 303);
    });
    routes.post('/tenants/:id/keys', async function createKey(c) {
      const id = c.req.param('id');
      const created = await c.var.consoleAdmin.send<z.infer<typeof NewKeyAnswer>>('POST', `/admin/tenants/${encodeURIComponent(id)}/keys`, keyBody(await c.req.parseBody()));
      if (!created.ok) return tenantView(c, id, { failure: created });
      return tenantView(c, id, { secret: { label: `New key ${created.data.name}`, key: created.data.key } });
    });
    routes.post('/keys/:id/revoke', async function revokeKey(c) {
      const path = `/admin/keys/${encodeURIComponent(c.req.param('id'))}`;
      const key = await c.var.consoleAdmin.get<Key>(path);
      if (!key.ok) return renderPage(c, { title: 'Key', current: '/console/tenants', status: key.status }, <ErrorNotice failure={key} />);
      const revoked = await c.var.consoleAdmin.send('DELETE', path);
      if (!revoked.ok) return tenantView(c, key.data.tenant_id, { failure: revoked });
      return c.redirect(`${tenantPath(key.data.tenant_id)}?done=revoked`, 303);
    });
    routes.post('/keys/:id/rotate', async function rotateKey(c) {
      const path = `/admin/keys/${encodeURIComponent(c.req.param('id'))}`;
      const key = await c.var.consoleAdmin.get<Key>(path);
      if (!key.ok) return renderPage(c, { title: 'Key', current: '/console/tenants', status: key.status }, <ErrorNotice failure={key} />);
      const grace = numberOrText(field(await c.req.parseBody(), 'grace_seconds'));
      const rotated = await c.var.consoleAdmin.send<z.infer<typeof RotatedKeyAnswer>>('POST', `${path}/rotate`, grace === undefined ? {} : { grace_seconds: grace });
      if (!rotated.ok) return tenantView(c, key.data.tenant_id, { failure: rotated });
      return tenantView(c, key.data.tenant_id, {
        secret: { label: `Rotated key ${rotated.data.name}`, key: rotated.data.key, previousExpiresAt: rotated.data.previous_expires_at },
      });
    });
  },
};

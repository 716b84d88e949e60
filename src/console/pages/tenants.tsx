import type { Context } from 'hono';
import type { z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env';
import type { TenantAnswer, TenantListAnswer } from '../../schemas/answers';
import type { AdminFailure } from '../admin-client';
import { DataTable, ErrorNotice, Panel, tenantColumn, tenantPath, type Column } from '../components';
import { can, renderPage, type PageOptions } from '../layout';
import type { ConsolePage } from '../page';
import { TenantForm, tenantBody } from '../tenant-forms';
import { tenantDetailPage } from './tenant';

/** The tenants list, and the form that creates one (docs/console.md); a tenant's own page is ./tenant. */

type Tenant = z.infer<typeof TenantAnswer>;

async function tenantsView(c: Context<AppEnv>, failure: AdminFailure | null) {
  const principal = c.var.consoleSession.principal;
  const list = await c.var.consoleAdmin.get<z.infer<typeof TenantListAnswer>>('/admin/tenants');
  const options: PageOptions = { title: 'Tenants', current: '/console/tenants', status: failure?.status ?? 200 };
  if (!list.ok) return renderPage(c, options, <ErrorNotice failure={list} />);
  const tenants = list.data.data;
  const mayCreate = can(principal, 'POST', '/admin/tenants');
  return renderPage(
    c,
    options,
    <>
      <ErrorNotice failure={failure} />
      <Panel title="All tenants">
        <DataTable
          label="Tenants"
          columns={TENANT_COLUMNS}
          rows={tenants}
          empty={<>No tenants yet — {mayCreate ? <a href="#create">create one</a> : 'an owner or admin can create one'}.</>}
        />
      </Panel>
      {mayCreate ? (
        <Panel title="Create a tenant" id="create">
          <TenantForm action="/console/tenants" idPrefix="new-tenant" submit="Create tenant" />
          <p class="hint">A budget of none lets the tenant spend without limit; 0 lets it spend nothing.</p>
        </Panel>
      ) : null}
    </>,
  );
}

const TENANT_COLUMNS: Column<Tenant>[] = [
  tenantColumn('Name'),
  { header: 'Id', cell: (t) => <code>{t.id}</code>, class: 'wide-only' },
  { header: 'Spent (USD)', cell: (t) => t.usage.spent_usd, class: 'num' },
  { header: 'Budget (USD)', cell: (t) => t.budget_usd ?? 'none', class: 'num' },
  { header: 'Remaining (USD)', cell: (t) => t.usage.remaining_usd ?? '—', class: 'num' },
  { header: 'Period', cell: (t) => t.budget_period },
  { header: 'Per minute', cell: (t) => t.rate_limit_rpm ?? '—', class: 'num' },
  { header: 'In flight', cell: (t) => t.max_concurrent ?? '—', class: 'num' },
  { header: 'State', cell: (t) => (t.disabled ? <span class="badge bad">disabled</span> : <span class="badge">active</span>) },
];

export const tenantsPage: ConsolePage = {
  mount(routes) {
    routes.get('/tenants', (c) => tenantsView(c, null));
    routes.post('/tenants', async function createTenant(c) {
      const created = await c.var.consoleAdmin.send<Tenant>('POST', '/admin/tenants', tenantBody(await c.req.parseBody()));
      if (!created.ok) return tenantsView(c, created);
      return c.redirect(`${tenantPath(created.data.id)}?done=created`, 303);
    });
    tenantDetailPage.mount(routes);
  },
};

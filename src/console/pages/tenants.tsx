import type { Context } from 'hono';
import type { z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env';
import type { TenantAnswer, TenantListAnswer } from '../../schemas/answers';
import type { AdminAnswer } from '../admin-client';
import { Empty, ErrorNotice, Panel, TableWrap, TenantCell, tenantPath } from '../components';
import { can, renderPage, type PageOptions } from '../layout';
import type { ConsolePage } from '../page';
import { TenantForm, tenantBody } from '../tenant-forms';
import { tenantDetailPage } from './tenant';

/** The tenants list, and the form that creates one (docs/console.md); a tenant's own page is ./tenant. */

type Tenant = z.infer<typeof TenantAnswer>;
type Failure = Extract<AdminAnswer<unknown>, { ok: false }>;

async function tenantsView(c: Context<AppEnv>, failure: Failure | null) {
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
        {tenants.length === 0 ? (
          <Empty>No tenants yet — {mayCreate ? <a href="#create">create one</a> : 'an owner or admin can create one'}.</Empty>
        ) : (
          <TenantTable tenants={tenants} />
        )}
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

function TenantTable(props: { tenants: Tenant[] }) {
  return (
    <TableWrap label="Tenants">
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col" class="wide-only">
              Id
            </th>
            <th scope="col" class="num">Spent (USD)</th>
            <th scope="col" class="num">Budget (USD)</th>
            <th scope="col" class="num">Remaining (USD)</th>
            <th scope="col">Period</th>
            <th scope="col" class="num">Per minute</th>
            <th scope="col" class="num">In flight</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {props.tenants.map((t) => (
            <tr>
              <TenantCell id={t.id} name={t.name} />
              <td class="wide-only">
                <code>{t.id}</code>
              </td>
              <td class="num">{t.usage.spent_usd}</td>
              <td class="num">{t.budget_usd ?? 'none'}</td>
              <td class="num">{t.usage.remaining_usd ?? '—'}</td>
              <td>{t.budget_period}</td>
              <td class="num">{t.rate_limit_rpm ?? '—'}</td>
              <td class="num">{t.max_concurrent ?? '—'}</td>
              <td>{t.disabled ? <span class="badge bad">disabled</span> : <span class="badge">active</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

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

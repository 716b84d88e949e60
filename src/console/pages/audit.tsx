import type { Context } from 'hono';
import type { z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env';
import type { AuditPageAnswer } from '../../schemas/answers';
import { DataTable, ErrorNotice, Panel, when, type Column } from '../components';
import { renderPage } from '../layout';
import type { ConsolePage } from '../page';

/** The audit log (docs/admin.md) with its filters and cursor paging, through `GET /admin/audit`. */

type AuditPage = z.infer<typeof AuditPageAnswer>;

const FILTERS = [
  ['action', 'Action', 'e.g. key.revoke'],
  ['actor_id', 'Actor id', 'admin_token or adm_…'],
  ['target_id', 'Target id', 'ten_… or key_…'],
  ['tenant_id', 'Tenant id', 'ten_…'],
  ['from', 'From (date)', 'YYYY-MM-DD'],
  ['to', 'To (date, inclusive)', 'YYYY-MM-DD'],
] as const;

function filtersOf(c: Context<AppEnv>): URLSearchParams {
  const params = new URLSearchParams();
  for (const [name] of FILTERS) {
    const value = c.req.query(name)?.trim();
    if (value) params.set(name, value);
  }
  return params;
}

/** An entry's changed fields, one `name: value` a line. */
function Changes(props: { fields: Record<string, unknown> | null }) {
  if (props.fields === null) return <>—</>;
  return (
    <>
      {Object.entries(props.fields).map(([name, value]) => (
        <div>
          {name}: {JSON.stringify(value)}
        </div>
      ))}
    </>
  );
}

export const auditPage: ConsolePage = {
  mount(routes) {
    routes.get('/audit', async function audit(c) {
      const filters = filtersOf(c);
      const query = new URLSearchParams(filters);
      const cursor = c.req.query('cursor');
      if (cursor) query.set('cursor', cursor);
      query.set('limit', '50');
      const page = await c.var.consoleAdmin.get<AuditPage>(`/admin/audit?${query}`);
      const next = page.ok && page.data.next_cursor ? `/console/audit?${new URLSearchParams([...filters, ['cursor', page.data.next_cursor]])}` : null;
      return renderPage(
        c,
        { title: 'Audit log', current: '/console/audit', status: page.ok ? 200 : page.status },
        <>
          <details class="panel" open={filters.size > 0}>
            <summary>{filters.size > 0 ? `Filters (${filters.size} in use)` : 'Filter entries'}</summary>
            <Filters filters={filters} />
          </details>
          <Panel title="Entries, newest first">
            {page.ok ? (
              <DataTable
                label="Audit entries"
                columns={ENTRY_COLUMNS}
                rows={page.data.entries}
                empty={<>No entries{filters.size > 0 ? ' match these filters — clear them to see every entry' : ' yet — every change made through the admin API or here is listed'}.</>}
              />
            ) : (
              <ErrorNotice failure={page} />
            )}
            {next ? (
              <p class="pager">
                <a href={next}>Older entries</a>
              </p>
            ) : null}
          </Panel>
        </>,
      );
    });
  },
};

function Filters(props: { filters: URLSearchParams }) {
  return (
    <form class="stack" method="get" action="/console/audit">
      {FILTERS.map(([name, label, placeholder]) => (
        <label for={`f-${name}`}>
          {label}
          <input id={`f-${name}`} name={name} value={props.filters.get(name) ?? ''} placeholder={placeholder} autocomplete="off" />
        </label>
      ))}
      <div class="actions">
        <button type="submit">Filter</button>
        <a class="button secondary" href="/console/audit">
          Clear
        </a>
      </div>
    </form>
  );
}

type Entry = AuditPage['entries'][number];

const ENTRY_COLUMNS: Column<Entry>[] = [
  { header: 'When', cell: (e) => when(e.at), cellClass: 'nowrap' },
  {
    header: 'Actor',
    cell: (e) => (
      <>
        {e.actor.name} <span class="badge">{e.actor.role.replace('_', ' ')}</span>
      </>
    ),
  },
  { header: 'Action', cell: (e) => <code>{e.action}</code> },
  { header: 'Target', cell: (e) => <code>{e.target.id}</code> },
  { header: 'Before', cell: (e) => <Changes fields={e.before} />, cellClass: 'mono' },
  { header: 'After', cell: (e) => <Changes fields={e.after} />, cellClass: 'mono' },
];

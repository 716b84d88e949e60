import { formatUsd } from '../../domain/money';
import { tenantScope } from '../../domain/roles';
import { CHART_DAYS, periodOverview, recentActivity, type PeriodOverview, type TenantSummary } from '../../services/overview';
import type { OriginFailures } from '../../storage/overview';
import { BudgetBars, DailySpend } from '../charts';
import { DataTable, Empty, Panel, Stat, tenantColumn, type Column } from '../components';
import { can, renderPage } from '../layout';
import type { ConsolePage } from '../page';

/**
 * The overview (docs/console.md): each tenant's spend this period against its budget, spend per
 * day for 30 days, requests, cache hit rate, what the cache saved, failures by origin. The same
 * service as `GET /admin/metrics`; a tenant admin sees its own tenant's figures only.
 */
export const overviewPage: ConsolePage = {
  mount(routes) {
    routes.get('/', async function overview(c) {
      const principal = c.var.consoleSession.principal;
      const scope = tenantScope(principal);
      const now = c.var.deps.now();
      const [period, recent] = await Promise.all([periodOverview(c.env.DB, now, scope), recentActivity(c.env.DB, now, scope)]);
      const body = (
        <>
          <Totals period={period} />
          <div class="grid">
            <Panel title="Spend against budget">
              {period.tenants.length === 0 ? (
                <Empty>
                  No tenants yet — {can(principal, 'POST', '/admin/tenants') ? <a href="/console/tenants#create">create one</a> : 'an admin can create one'}.
                </Empty>
              ) : (
                <BudgetBars bars={period.tenants.map((t) => ({ name: t.name, spentNano: t.spentNano, budgetNano: t.state.budgetNano }))} />
              )}
            </Panel>
            <Panel title={`Spend per day, last ${CHART_DAYS} days`}>
              <DailySpend from={recent.from} days={CHART_DAYS} spend={recent.days.map((d) => ({ day: d.group, costNano: d.costNano }))} />
              {recent.days.length === 0 ? <Empty>No generations in the last {CHART_DAYS} days.</Empty> : null}
            </Panel>
          </div>
          <Panel title="Tenants this period">
            <DataTable label="Tenants this period" columns={TENANT_COLUMNS} rows={period.tenants} empty="Nothing to show until a tenant exists." />
          </Panel>
          <Panel title={`Failures by origin, last ${CHART_DAYS} days`}>
            <DataTable label="Failures by origin" columns={FAILURE_COLUMNS} rows={recent.failures} empty={<>No generations in the last {CHART_DAYS} days, so no failures either.</>} />
          </Panel>
        </>
      );
      return renderPage(c, { title: 'Overview', current: '/console' }, body);
    });
  },
};

function Totals(props: { period: PeriodOverview }) {
  const tenants = props.period.tenants;
  const requests = tenants.reduce((n, t) => n + t.requests, 0);
  const hits = tenants.reduce((n, t) => n + t.cacheHits, 0);
  return (
    <div class="stats">
      <Stat label="Spent this period" value={`${formatUsd(tenants.reduce((n, t) => n + t.spentNano, 0n))} USD`} />
      <Stat label="Requests this period" value={String(requests)} />
      <Stat label="Cache hit rate" value={requests === 0 ? '—' : `${((hits / requests) * 100).toFixed(1)} %`} />
      <Stat label="Saved by the cache" value={`${formatUsd(tenants.reduce((n, t) => n + t.savedNano, 0n))} USD`} />
      <Stat label="Reservations open" value={String(props.period.reservationsOpen)} />
    </div>
  );
}

const TENANT_COLUMNS: Column<TenantSummary>[] = [
  tenantColumn('Tenant'),
  { header: 'Spent (USD)', cell: (t) => formatUsd(t.spentNano), class: 'num' },
  { header: 'Budget (USD)', cell: (t) => (t.state.budgetNano === null ? 'none' : formatUsd(t.state.budgetNano)), class: 'num' },
  { header: 'Period', cell: (t) => t.state.budgetPeriod },
  { header: 'Requests', cell: (t) => t.requests, class: 'num' },
  { header: 'Cache hits', cell: (t) => t.cacheHits, class: 'num' },
  { header: 'Failed', cell: (t) => t.failed, class: 'num' },
  { header: 'Saved (USD)', cell: (t) => formatUsd(t.savedNano), class: 'num' },
];

const FAILURE_COLUMNS: Column<OriginFailures>[] = [
  { header: 'Origin', cell: (f) => (f.origin === 'none' ? 'none answered' : f.origin) },
  { header: 'Failed', cell: (f) => f.failed, class: 'num' },
  { header: 'Generations', cell: (f) => f.total, class: 'num' },
];

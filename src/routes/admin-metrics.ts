import { formatUsd } from '../domain/money';
import { declareRoute } from '../openapi/describe';
import { periodOverview, type PeriodOverview } from '../services/overview';
import { routeGroup } from './route-group';

/**
 * `GET /admin/metrics` (docs/console.md): the console overview's numbers in the Prometheus text
 * exposition format 0.0.4, for a scraper. Each tenant's figures are for its own current budget period.
 */
export const adminMetricsRoutes = routeGroup();

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The exposition format's label value escaping: backslash, double quote and line feed. */
export function labelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(pairs: Record<string, string>): string {
  const inner = Object.entries(pairs)
    .map(([name, value]) => `${name}="${labelValue(value)}"`)
    .join(',');
  return inner === '' ? '' : `{${inner}}`;
}


interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: [Record<string, string>, string][];
}

/**
 * Every family of the exposition, from the overview the console's first page shows. USD values are
 * formatUsd's exact decimal strings, which a scraper parses as numbers.
 */
export function metricFamilies(o: PeriodOverview): Family[] {
  const perTenant = (pick: (t: PeriodOverview['tenants'][number]) => string | null) =>
    o.tenants.flatMap((t): [Record<string, string>, string][] => {
      const value = pick(t);
      return value === null ? [] : [[{ tenant: t.id }, value]];
    });
  return [
    { name: 'imagegate_tenant_info', help: "A tenant's name, by id.", type: 'gauge', samples: o.tenants.map((t) => [{ tenant: t.id, name: t.name }, '1']) },
    { name: 'imagegate_spend_usd_total', help: 'USD charged in the current budget period.', type: 'counter', samples: perTenant((t) => formatUsd(t.spentNano)) },
    {
      name: 'imagegate_generations_total',
      help: 'Generations in the current budget period, by cache word and status (ok, an error code, or expired).',
      type: 'counter',
      samples: o.tenants.flatMap((t) => t.generations.map((g): [Record<string, string>, string] => [{ tenant: t.id, cache: g.cache, status: g.status }, String(g.count)])),
    },
    {
      name: 'imagegate_budget_remaining_usd',
      help: 'USD left to reserve in the current budget period; absent for a tenant without a budget.',
      type: 'gauge',
      samples: perTenant((t) => (t.remainingNano === null ? null : formatUsd(t.remainingNano < 0n ? 0n : t.remainingNano))),
    },
    { name: 'imagegate_reservations_open', help: 'Budget reservations of generations still at the origin.', type: 'gauge', samples: [[{}, String(o.reservationsOpen)]] },
    {
      name: 'imagegate_saved_usd_total',
      help: 'What cache hits and merged generations would have cost at the origin, in the current budget period.',
      type: 'counter',
      samples: perTenant((t) => formatUsd(t.savedNano)),
    },
  ];
}

export function exposition(families: Family[]): string {
  const lines = families.flatMap((f) => [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...f.samples.map(([l, v]) => `${f.name}${labels(l)} ${v}`)]);
  return `${lines.join('\n')}\n`;
}

const metricsRoute = declareRoute({
  method: 'get',
  path: '/admin/metrics',
  id: 'adminMetrics',
  summary: 'Spend, generations, budgets and reservations for Prometheus',
  description:
    "The Prometheus text format 0.0.4. Per tenant (label `tenant`, the tenant's id; `imagegate_tenant_info` names it), for its current budget period: `imagegate_spend_usd_total`, `imagegate_generations_total{cache,status}`, `imagegate_budget_remaining_usd` (absent without a budget), `imagegate_saved_usd_total`; and `imagegate_reservations_open`. The same queries as the console's overview.",
  tag: 'admin: health',
  auth: 'admin',
  answers: { 200: { description: 'the exposition', content: { 'text/plain': { schema: { type: 'string' } } } } },
});

adminMetricsRoutes.openapi(metricsRoute, async function metrics(c) {
  const overview = await periodOverview(c.env.DB, c.var.deps.now(), null);
  return c.body(exposition(metricFamilies(overview)), 200, { 'Content-Type': METRICS_CONTENT_TYPE }) as never;
});

import { currentSpent, periodStart, remainingOf } from '../domain/budget-period';
import type { Nano } from '../domain/money';
import { DAY_MS } from '../domain/time';
import { openReservations } from '../storage/health';
import { failuresByOrigin, tenantPeriods, type OriginFailures, type TenantPeriod } from '../storage/overview';
import { usageReport, type UsageRow } from '../storage/usage';

/**
 * The numbers the console's overview shows and `GET /admin/metrics` exports (docs/console.md),
 * from one set of queries, so the page and the scrape never disagree.
 */

export interface TenantSummary extends TenantPeriod {
  spentNano: Nano;
  /** Null: the tenant has no budget. */
  remainingNano: Nano | null;
  requests: number;
  /** Served from the cache or merged into an identical request in flight. */
  cacheHits: number;
  savedNano: Nano;
  failed: number;
}

export interface PeriodOverview {
  tenants: TenantSummary[];
  reservationsOpen: number;
}

/** Every tenant's spend, budget and generations in its current period (or one tenant's: `scope`). */
export async function periodOverview(db: D1Database, now: number, scope: string | null): Promise<PeriodOverview> {
  const [periods, reservations] = await Promise.all([tenantPeriods(db, now, scope), openReservations(db)]);
  const tenants = periods.map((t) => {
    const sum = (pick: (g: TenantPeriod['generations'][number]) => number) => t.generations.reduce((n, g) => n + pick(g), 0);
    return {
      ...t,
      spentNano: currentSpent(t.state, now),
      remainingNano: remainingOf(t.state, now),
      requests: sum((g) => g.count),
      cacheHits: sum((g) => ((g.cache === 'hit' || g.cache === 'coalesced') && g.status === 'ok' ? g.count : 0)),
      failed: sum((g) => (g.status === 'ok' ? 0 : g.count)),
      savedNano: t.generations.reduce((n, g) => n + g.savedNano, 0n),
    };
  });
  return { tenants, reservationsOpen: reservations.open };
}

export const CHART_DAYS = 30;

export interface RecentActivity {
  /** One row per UTC day with any generation, oldest first, from `from` on. */
  days: UsageRow[];
  /** The first day of the window, `YYYY-MM-DD`. */
  from: string;
  failures: OriginFailures[];
}

/** The last 30 days (today included): spend per day and failures per origin. */
export async function recentActivity(db: D1Database, now: number, scope: string | null): Promise<RecentActivity> {
  const fromIso = new Date(periodStart('day', now) - (CHART_DAYS - 1) * DAY_MS).toISOString();
  const [days, failures] = await Promise.all([
    usageReport(db, { fromIso, ...(scope === null ? {} : { tenantId: scope }) }, 'day'),
    failuresByOrigin(db, fromIso, scope),
  ]);
  return { days, from: fromIso.slice(0, 10), failures };
}

import type { Nano } from './money';
import { DAY_MS } from './time';

/** Budget periods are UTC calendar periods (docs/money.md); a week starts on Monday. */
export const BUDGET_PERIODS = ['none', 'day', 'week', 'month'] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];

/** The start of the period that contains `now`, in ms since the epoch (0 for `none`). */
export function periodStart(period: BudgetPeriod, now: number): number {
  const d = new Date(now);
  const midnight = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  switch (period) {
    case 'none':
      return 0;
    case 'day':
      return midnight;
    case 'week':
      // getUTCDay: 0 = Sunday … 6 = Saturday; Monday is day 0 of our week
      return midnight - ((d.getUTCDay() + 6) % 7) * DAY_MS;
    case 'month':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  }
}

/** When the period that contains `now` ends (the next one starts); null for `none`. */
export function periodEnd(period: BudgetPeriod, now: number): number | null {
  const start = periodStart(period, now);
  switch (period) {
    case 'none':
      return null;
    case 'day':
      return start + DAY_MS;
    case 'week':
      return start + 7 * DAY_MS;
    case 'month': {
      const d = new Date(start);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    }
  }
}

/**
 * The name of the period that contains `now`, as stored in a row's period_key: when a row's key
 * differs from the current one, its spent_nano belongs to an earlier period and counts as 0. The
 * kind is part of the name; an admin changing a budget's period recomputes spent_nano from the
 * ledger for the new period (storage/tenants.ts), so the switch never forgets what was spent.
 */
export function periodKey(period: BudgetPeriod, now: number): string {
  if (period === 'none') return 'none';
  return `${period}:${new Date(periodStart(period, now)).toISOString().slice(0, 10)}`;
}

/** The current period's key for each kind, in the order SQL binds them (see storage/reservations.ts). */
export function periodKeys(now: number): { day: string; week: string; month: string } {
  return { day: periodKey('day', now), week: periodKey('week', now), month: periodKey('month', now) };
}

/** How a 402 message names the period: "key 'ci' has 0.2 USD left this month". */
export function periodPhrase(period: BudgetPeriod): string {
  return { none: 'in total', day: 'today', week: 'this week', month: 'this month' }[period];
}

/** A budget row as storage reads it. */
export interface BudgetState {
  budgetNano: Nano | null;
  budgetPeriod: BudgetPeriod;
  periodKey: string | null;
  spentNano: Nano;
  reservedNano: Nano;
}

/** What was spent in the current period: a row last touched in an earlier period has spent nothing yet. */
export function currentSpent(state: BudgetState, now: number): Nano {
  return state.periodKey === periodKey(state.budgetPeriod, now) ? state.spentNano : 0n;
}

/** What is left to reserve (may be negative after an admin lowered the budget); null: no budget. */
export function remainingOf(state: BudgetState, now: number): Nano | null {
  if (state.budgetNano === null) return null;
  return state.budgetNano - currentSpent(state, now) - state.reservedNano;
}

/** The smaller of two remainders, where null means unlimited. */
export function smallerRemaining(a: Nano | null, b: Nano | null): Nano | null {
  if (a === null) return b;
  if (b === null) return a;
  return a < b ? a : b;
}

import { fail } from '../../domain/failure';
import { requestLifetimes } from '../../domain/lifetimes';
import { formatUsd } from '../../domain/money';
import { priceOf } from '../../domain/pricing';
import { originDeadlineMs } from '../../origins/config';
import { reserve as reserveBudget, type ReservationItem } from '../../storage/reservations';
import { sendEventsSoon } from '../webhooks/send-soon';
import { originCacheWord } from './ledger-entry';
import type { GenerationOptions, ImageJob } from './types';

/** What one image that goes to an origin holds of the budgets: its generation, its price and its cache word. */
export function reservationFor(run: GenerationOptions, job: ImageJob): ReservationItem {
  const cache = originCacheWord(run, job);
  return {
    generationId: job.generationId,
    costNano: priceOf(run.spec, job.request),
    request: job.request,
    cache: cache === 'bypass' ? 'bypass' : 'miss',
    priceVersion: run.spec.priceVersion,
    tags: run.tags ?? {},
  };
}

export interface ReserveOptions {
  run: GenerationOptions;
  items: ReservationItem[];
  now: number;
}

/**
 * Step 3, reserve: every image that goes to an origin reserves its price against the key's and the
 * tenant's budgets at once, all or nothing (docs/money.md), before any origin is called. Fails with
 * `budget_exceeded` naming the budget that is short; the period's first refusal of a budget is a
 * budget.refused webhook event, sent after the answer.
 */
export async function reserve({ run, items, now }: ReserveOptions): Promise<void> {
  if (items.length === 0) return;
  const lifetimeMs = requestLifetimes(originDeadlineMs(run.env)).reservationMs;
  const reserved = await reserveBudget(run.env.DB, run.caller, items, now, lifetimeMs);
  if (reserved.ok) return;
  if (reserved.eventRecorded) sendEventsSoon(run.env, now, run.waitUntil);
  const total = items.reduce((sum, item) => sum + item.costNano, 0n);
  const who = reserved.scope === 'key' ? `key '${reserved.name}'` : `tenant '${reserved.name}'`;
  fail('budget_exceeded', `${who} has ${formatUsd(reserved.remainingNano)} USD left ${reserved.period}; this request costs ${formatUsd(total)} USD`);
}

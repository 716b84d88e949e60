/**
 * Budget alert thresholds (docs/admin.md, docs/webhooks.md): the percents of a tenant's or key's
 * budget at which a `budget.threshold` event fires, once per period. The crossing itself is found
 * in D1 (migrations/0009), where spend moves.
 */

export const DEFAULT_ALERT_THRESHOLDS: readonly number[] = [50, 80, 100];
export const MAX_ALERT_THRESHOLDS = 10;

export const ALERT_THRESHOLDS_RULE = `must be a list of at most ${MAX_ALERT_THRESHOLDS} integer percents from 1 to 100, e.g. [50, 80, 100]`;

/** Whether a value is a list of thresholds as the admin API takes it (repeats allowed: they are dropped). */
export function isAlertThresholds(value: unknown): value is number[] {
  return (
    Array.isArray(value) &&
    value.length <= MAX_ALERT_THRESHOLDS &&
    value.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 100)
  );
}

/** A valid list as it is stored and shown: each percent once, smallest first. */
export function normalizeAlertThresholds(value: readonly number[]): number[] {
  return [...new Set(value)].sort((a, b) => a - b);
}

/**
 * How a webhook delivery is retried (docs/webhooks.md): 6 attempts in all, and delays that triple
 * from `WEBHOOK_RETRY_BASE_SECONDS` (default 60): 60 + 180 + 540 + 1620 + 4860 s, so the last
 * attempt comes about two hours after the first. Doubling from 60 s would give up after 31
 * minutes; a receiver down for a deploy or an hour's outage should still get its alerts.
 */

export const MAX_DELIVERY_ATTEMPTS = 6;
export const DEFAULT_RETRY_BASE_SECONDS = 60;
const GROWTH = 3;
/** A queue message may be delayed by at most 12 hours. */
export const MAX_RETRY_DELAY_SECONDS = 43_200;
/** A receiver that has not answered in 10 s has failed this attempt. */
export const DELIVERY_TIMEOUT_MS = 10_000;

/** The base delay from the environment's text; anything unreadable is the default. */
export function retryBaseSeconds(text: string | undefined): number {
  if (text === undefined || !/^\d+$/.test(text.trim())) return DEFAULT_RETRY_BASE_SECONDS;
  return Math.min(Number(text.trim()), MAX_RETRY_DELAY_SECONDS);
}

/**
 * Seconds to wait before the attempt after `attempt` (1-based), or null when `attempt` was the
 * last: then a failed delivery stays failed.
 */
export function retryDelaySeconds(baseSeconds: number, attempt: number): number | null {
  if (attempt >= MAX_DELIVERY_ATTEMPTS) return null;
  return Math.min(baseSeconds * GROWTH ** (Math.max(attempt, 1) - 1), MAX_RETRY_DELAY_SECONDS);
}

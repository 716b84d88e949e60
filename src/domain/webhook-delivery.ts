/**
 * How a webhook delivery is retried (docs/webhooks.md): 6 attempts in all, the delay doubling from
 * `WEBHOOK_RETRY_BASE_SECONDS` (default 60), so 60 + 120 + 240 + 480 + 960 s: the last attempt
 * comes a little over an hour after the first failed one.
 */

export const MAX_DELIVERY_ATTEMPTS = 6;
export const DEFAULT_RETRY_BASE_SECONDS = 60;
/** A queue message's delay is at most 12 hours; 2700 × 2^4 stays within it. */
export const MAX_RETRY_BASE_SECONDS = 2700;
/** A receiver that has not answered in 10 s has failed this attempt. */
export const DELIVERY_TIMEOUT_MS = 10_000;

/** The base delay from the environment's text; anything unreadable is the default. */
export function retryBaseSeconds(text: string | undefined): number {
  if (text === undefined || !/^\d+$/.test(text.trim())) return DEFAULT_RETRY_BASE_SECONDS;
  return Math.min(Number(text.trim()), MAX_RETRY_BASE_SECONDS);
}

/**
 * Seconds to wait before the attempt after `attempt` (1-based), or null when `attempt` was the
 * last: then a failed delivery stays failed.
 */
export function retryDelaySeconds(baseSeconds: number, attempt: number): number | null {
  if (attempt >= MAX_DELIVERY_ATTEMPTS) return null;
  return baseSeconds * 2 ** (Math.max(attempt, 1) - 1);
}

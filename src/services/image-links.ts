/** The settings this file reads; the Worker's Env has them. */
type LinkSettings = { IMAGE_URL_SECRET?: unknown; IMAGE_URL_TTL_SECONDS?: unknown };
import { signImagePath } from '../domain/signed-links';

/*
 * Signed image links (docs/generation.md, "Image links"): the settings IMAGE_URL_SECRET and
 * IMAGE_URL_TTL_SECONDS, what the health report says of them, and the link a generation answer gives.
 */

/** How long a link in a generation answer works, unless IMAGE_URL_TTL_SECONDS says otherwise. */
export const DEFAULT_IMAGE_URL_TTL_SECONDS = 3600;
/** A week: a link is a bearer capability for one image, and it should not outlive the image's purpose. */
const MAX_IMAGE_URL_TTL_SECONDS = 7 * 86_400;

export function linkSecret(env: LinkSettings): string | null {
  return typeof env.IMAGE_URL_SECRET === 'string' && env.IMAGE_URL_SECRET !== '' ? env.IMAGE_URL_SECRET : null;
}

/** IMAGE_URL_TTL_SECONDS when it is a whole number of seconds from 1 to a week, else null. */
function configuredTtl(env: LinkSettings): number | null {
  const raw = env.IMAGE_URL_TTL_SECONDS;
  const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  const value = /^\d{1,7}$/.test(text) ? Number(text) : NaN;
  return value >= 1 && value <= MAX_IMAGE_URL_TTL_SECONDS ? value : null;
}

export function imageLinkTtlSeconds(env: LinkSettings): number {
  return configuredTtl(env) ?? DEFAULT_IMAGE_URL_TTL_SECONDS;
}

/**
 * What is wrong with the image-link settings, for the health report: names of variables, never
 * their values. The gateway still serves: without a secret, links are unsigned and need the key.
 */
export function imageLinkProblems(env: LinkSettings): string[] {
  const problems: string[] = [];
  if (linkSecret(env) === null) problems.push('IMAGE_URL_SECRET is not set: image links in generation answers are unsigned and need the tenant key');
  if (env.IMAGE_URL_TTL_SECONDS !== undefined && configuredTtl(env) === null) {
    problems.push(`IMAGE_URL_TTL_SECONDS is not a whole number of seconds from 1 to ${MAX_IMAGE_URL_TTL_SECONDS}: ${DEFAULT_IMAGE_URL_TTL_SECONDS} is used`);
  }
  return problems;
}

/**
 * The path (and query) of the link to image `id` that a generation answer gives at `nowMs`: signed
 * to work with no key for IMAGE_URL_TTL_SECONDS, or the bare path when no secret is set.
 */
export async function imageLinkPath(env: LinkSettings, id: string, nowMs: number): Promise<string> {
  const secret = linkSecret(env);
  if (secret === null) return `/v1/images/${encodeURIComponent(id)}`;
  return signImagePath(secret, id, Math.floor(nowMs / 1000) + imageLinkTtlSeconds(env));
}


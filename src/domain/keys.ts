import { sha256Hex } from './sha256';

/** Tenant keys (docs/admin.md): `igk_` + base62 characters from the platform CSPRNG, stored only as a SHA-256 hash. */

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KEY_PREFIX = 'igk_';
const KEY_RANDOM_CHARS = 40;
/** What admins see of a key: enough to tell keys apart, far too little to guess one. */
const DISPLAY_PREFIX_LENGTH = KEY_PREFIX.length + 8;

/** Random base62 text without modulo bias (bytes ≥ 248 are drawn again). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const bytes = crypto.getRandomValues(new Uint8Array(length * 2));
    for (const b of bytes) {
      if (b < 248 && out.length < length) out += BASE62[b % 62];
    }
  }
  return out;
}

export function newTenantKey(): string {
  return KEY_PREFIX + randomBase62(KEY_RANDOM_CHARS);
}

export function displayPrefix(key: string): string {
  return key.slice(0, DISPLAY_PREFIX_LENGTH);
}

/** A key is only ever looked up by this hash; its plaintext never reaches storage or logs. */
export async function hashKey(key: string): Promise<string> {
  return sha256Hex(key);
}

/** Whether text could be a tenant key at all, checked before any storage lookup. */
export function looksLikeTenantKey(text: string): boolean {
  return /^igk_[0-9A-Za-z]{32,128}$/.test(text);
}

/**
 * Constant-time comparison of two secrets (as Hono's bearer-auth does): their SHA-256 digests are
 * always the same length, so workerd's `timingSafeEqual` reveals neither content nor length.
 */
export async function timingSafeEqual(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [da, db] = await Promise.all([
    crypto.subtle.digest('SHA-256', enc.encode(a)),
    crypto.subtle.digest('SHA-256', enc.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(da, db);
}

export function newId(prefix: string): string {
  return `${prefix}_${randomBase62(20)}`;
}

/**
 * Signed, expiring image links (docs/admin.md, "Image links that work in a browser"): a
 * `/v1/images/{id}?exp=…&sig=…` link that an `<img src>` can load without the tenant's key, until
 * `exp`.
 *
 * The signature is HMAC-SHA256, under the `IMAGE_URL_SECRET`, of the text
 * `imagegate-image:{id}:{exp}` (exp in decimal unix seconds), written base64url without padding
 * (43 characters). The prefix keeps these MACs apart from anything else the same secret might ever
 * sign; `exp` is all digits, so the last `:` splits the text unambiguously whatever the id holds.
 *
 * A link is good while `now < exp` (the expiry instant itself is already too late, as with a JWT's
 * `exp`, RFC 7519 §4.1.4).
 */
import { base64FromBytes, base64url } from './base64';

export type ImageSignatureCheck = { ok: true } | { ok: false; reason: 'expired' | 'bad_signature' | 'malformed' };

/** SHA-256 gives 32 bytes: 43 base64url characters with no padding. */
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;
/** Unix seconds in decimal; twelve digits reach the year 33658, and keep the number exact. */
const EXPIRY = /^[0-9]{1,12}$/;

/** The path (with query) of a link to `imageId` that works until `expiresAtSeconds`. */
export async function signImagePath(secret: string, imageId: string, expiresAtSeconds: number): Promise<string> {
  if (!Number.isSafeInteger(expiresAtSeconds) || !EXPIRY.test(String(expiresAtSeconds))) {
    throw new RangeError('expiresAtSeconds must be a whole number of unix seconds');
  }
  const exp = String(expiresAtSeconds);
  const sig = await signature(secret, imageId, exp);
  return `/v1/images/${encodeURIComponent(imageId)}?exp=${exp}&sig=${sig}`;
}

/**
 * Whether `exp` and `sig` (as they came in the query) make a good link to `imageId` at
 * `nowSeconds`. A forged or altered link is `bad_signature` whatever its `exp`; `expired` is kept
 * for a link the gateway really did sign, so the message can say which.
 */
export async function checkImageSignature(
  secret: string,
  imageId: string,
  exp: string | undefined,
  sig: string | undefined,
  nowSeconds: number,
): Promise<ImageSignatureCheck> {
  if (imageId === '' || exp === undefined || sig === undefined || !EXPIRY.test(exp) || !SIGNATURE.test(sig)) {
    return { ok: false, reason: 'malformed' };
  }
  const expected = await signature(secret, imageId, exp);
  if (!timingSafeEqual(expected, sig)) return { ok: false, reason: 'bad_signature' };
  if (nowSeconds >= Number(exp)) return { ok: false, reason: 'expired' };
  return { ok: true };
}

async function signature(secret: string, imageId: string, exp: string): Promise<string> {
  const text = new TextEncoder().encode(`imagegate-image:${imageId}:${exp}`);
  const mac = await crypto.subtle.sign('HMAC', await keyFor(secret), text);
  return base64url(base64FromBytes(new Uint8Array(mac)));
}

/**
 * One imported key per secret for the isolate's life: importing costs more than signing, and every
 * image answer signs a link. The promise is cached, so concurrent first uses import once.
 */
const keys = new Map<string, Promise<CryptoKey>>();

function keyFor(secret: string): Promise<CryptoKey> {
  if (secret === '') throw new Error('the image link secret is empty');
  let key = keys.get(secret);
  if (key === undefined) {
    key = crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    keys.set(secret, key);
    key.catch(() => keys.delete(secret));
  }
  return key;
}

/**
 * Compares two signatures in time that depends only on their length (both are 43 characters once
 * the shape check passed), so a caller cannot learn a signature one character at a time.
 */
function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

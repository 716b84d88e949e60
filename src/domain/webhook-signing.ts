/**
 * Webhook secrets and signatures, per the Standard Webhooks specification
 * (https://www.standardwebhooks.com, docs/webhooks.md): the secret is `whsec_` + base64 of random
 * bytes; each delivery carries `webhook-id`, `webhook-timestamp` (unix seconds) and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the
 * secret's base64-decoded part. WebCrypto only.
 */

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;

function base64Of(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function bytesOfBase64(text: string): Uint8Array {
  const binary = atob(text);
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}

/** A new endpoint secret: `whsec_` + base64 of 32 bytes from the platform CSPRNG. */
export function newWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + base64Of(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
}

async function hmacKey(secret: string): Promise<CryptoKey> {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) throw new Error('a webhook secret starts with whsec_');
  const raw = bytesOfBase64(secret.slice(WEBHOOK_SECRET_PREFIX.length));
  return crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

/** `v1,<base64 signature>` of one delivery. */
export async function webhookSignature(secret: string, id: string, timestampSeconds: number, body: string): Promise<string> {
  const signed = new TextEncoder().encode(`${id}.${timestampSeconds}.${body}`);
  const mac = await crypto.subtle.sign('HMAC', await hmacKey(secret), signed);
  return `v1,${base64Of(new Uint8Array(mac))}`;
}

/** The three Standard Webhooks headers of one delivery attempt. */
export async function webhookHeaders(secret: string, id: string, timestampSeconds: number, body: string): Promise<Record<string, string>> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': await webhookSignature(secret, id, timestampSeconds, body),
  };
}

/**
 * Base64 (RFC 4648 §4) for image bytes: an origin's `b64_json` in, a client's `b64_json` /
 * `image_base64` out. A 105 KB image is 140 KB of text, and the old way (atob into a string, then
 * a loop per character; String.fromCharCode over 32 K-argument spreads, then btoa) cost a miss
 * several milliseconds of CPU. workerd has the native `Uint8Array.fromBase64` and
 * `Uint8Array.prototype.toBase64` (TC39 "Uint8Array to/from base64"), which do the same work in
 * C++; the portable versions remain for runtimes that lack them (Node 20 scripts and tests).
 */

declare global {
  interface Uint8ArrayConstructor {
    fromBase64?: (text: string) => Uint8Array;
  }
  interface Uint8Array {
    toBase64?: () => string;
  }
}

export function base64FromBytes(bytes: Uint8Array): string {
  return typeof bytes.toBase64 === 'function' ? bytes.toBase64() : portableBase64FromBytes(bytes);
}

/** Base64 text in its URL- and cookie-safe form (RFC 4648 §5: `-` and `_`), without padding. */
export function base64url(base64: string): string {
  return base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Decodes base64 (tolerating a `data:…;base64,` prefix and whitespace, padding optional, as atob
 * does); null when it is not base64.
 */
export function bytesFromBase64(text: string): Uint8Array | null {
  const body = text.startsWith('data:') ? text.slice(text.indexOf(',') + 1) : text;
  if (typeof Uint8Array.fromBase64 === 'function') {
    try {
      // skips ASCII whitespace and takes a last chunk without padding ("loose"), as atob does
      return Uint8Array.fromBase64(body);
    } catch {
      // other whitespace (e.g. U+00A0) is what /\s/ strips below and fromBase64 refuses
    }
  }
  return portableBytesFromBase64(body);
}

/** The portable encoder: btoa over a binary string built 32 K bytes at a time. */
export function portableBase64FromBytes(bytes: Uint8Array): string {
  const parts: string[] = [];
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) parts.push(String.fromCharCode(...bytes.subarray(i, i + chunk)));
  return btoa(parts.join(''));
}

/** The portable decoder: atob (after stripping every kind of whitespace), then a copy per byte. */
export function portableBytesFromBase64(body: string): Uint8Array | null {
  try {
    const binary = atob(body.replace(/\s+/g, ''));
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

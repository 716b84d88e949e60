import { describe, expect, it } from 'vitest';
import { base64FromBytes, bytesFromBase64, portableBase64FromBytes, portableBytesFromBase64 } from '../../src/domain/base64';
import { seededRandom } from '../helpers/random';

/**
 * Image base64 both ways, through the runtime's native codec (what workerd uses) and the portable
 * one (what a runtime without `Uint8Array.fromBase64` uses): the RFC 4648 §10 vectors, what atob
 * tolerates (whitespace, no padding, a data URL), what it refuses, and the two agreeing on images.
 */

const ascii = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

const RFC4648: [string, string][] = [
  ['', ''],
  ['f', 'Zg=='],
  ['fo', 'Zm8='],
  ['foo', 'Zm9v'],
  ['foob', 'Zm9vYg=='],
  ['fooba', 'Zm9vYmE='],
  ['foobar', 'Zm9vYmFy'],
];

describe('the runtime this suite runs in', () => {
  it('has the native codec (so the tests below exercise it, not only the portable one)', () => {
    expect(typeof Uint8Array.fromBase64).toBe('function');
    expect(typeof new Uint8Array(0).toBase64).toBe('function');
  });
});

describe.each([
  ['native', base64FromBytes, bytesFromBase64],
  ['portable', portableBase64FromBytes, portableBytesFromBase64],
] as const)('base64 (%s)', (_name, encode, decode) => {
  it.each(RFC4648)('encodes %j as %j and back', (plain, encoded) => {
    expect(encode(ascii(plain))).toBe(encoded);
    expect(text(decode(encoded))).toBe(plain);
  });

  it('encodes every byte value, and a view without the bytes around it', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const encoded = encode(all);
    expect(encoded.slice(-8)).toBe('/P3+/w=='); // bytes 252, 253, 254, then 255 alone
    expect(decode(encoded)).toEqual(all);
    expect(encode(all.subarray(250, 253))).toBe('+vv8');
  });

  it('decodes without padding and across whitespace, as atob does', () => {
    expect(text(decode('Zm9vYg'))).toBe('foob');
    expect(text(decode('Zm9v\nYmFy\r\n'))).toBe('foobar');
    expect(text(decode(' Zm 9v\tYg = = '))).toBe('foob');
  });

  it.each([
    ['a character outside the alphabet', 'Zm9v!mFy'],
    ['the URL-safe alphabet', 'Zm9v-_'],
    ['a length that leaves one character over', 'Zm9vY'],
    ['data after the padding', 'Zg==Zg=='],
  ])('refuses %s', (_what, input) => {
    expect(decode(input)).toBeNull();
  });
});

describe('bytesFromBase64', () => {
  it('takes a data URL and strips non-ASCII whitespace as before', () => {
    expect(text(bytesFromBase64('data:image/png;base64,Zm9vYmFy'))).toBe('foobar');
    expect(text(bytesFromBase64('Zm9v\u00a0YmFy'))).toBe('foobar');
  });

  it('agrees with the portable codec on a large image-sized input', () => {
    const random = seededRandom(9);
    const image = Uint8Array.from({ length: 105_001 }, () => random.int(256));
    const encoded = base64FromBytes(image);
    expect(encoded).toBe(portableBase64FromBytes(image));
    // element by element in a plain loop: a deep equality over 100 K entries takes seconds here
    const same = (b: Uint8Array | null) => b !== null && b.length === image.length && b.every((x, i) => x === image[i]);
    expect(same(bytesFromBase64(encoded))).toBe(true);
    expect(same(portableBytesFromBase64(encoded))).toBe(true);
    const other = encoded[1000] === 'A' ? 'B' : 'A';
    expect(same(bytesFromBase64(encoded.slice(0, 1000) + other + encoded.slice(1001)))).toBe(false);
  });
});

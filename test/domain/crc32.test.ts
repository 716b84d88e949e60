import { describe, expect, it } from 'vitest';
import { crc32 } from '../../src/domain/crc32';
import { seededRandom } from '../helpers/random';

/**
 * The runtime's CRC-32 against the textbook one-byte-a-step loop (W3C PNG, Annex D), written out
 * here on purpose: every length, alignment and view into a larger buffer must give the value the
 * simple definition gives.
 */
function referenceCrc32(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let c = 0xffffffff;
  for (let i = from; i < to; i++) {
    c ^= bytes[i] as number;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

const ascii = (s: string) => new TextEncoder().encode(s);

describe('crc32', () => {
  it.each([
    ['', 0x00000000],
    ['a', 0xe8b7be43],
    ['abc', 0x352441c2],
    ['123456789', 0xcbf43926],
    ['message digest', 0x20159d7f],
    ['The quick brown fox jumps over the lazy dog', 0x414fa339],
    ['IEND', 0xae426082], // the CRC every PNG's last chunk carries
  ])('gives the known value for %j', (text, value) => {
    expect(crc32(ascii(text))).toBe(value);
  });

  it('agrees with the byte-at-a-time definition for every length 0..64 and every start 0..7', () => {
    const random = seededRandom(17);
    const data = Uint8Array.from({ length: 80 }, () => random.int(256));
    for (let from = 0; from < 8; from++) {
      for (let length = 0; length <= 64; length++) {
        expect(crc32(data, from, from + length), `from ${from}, length ${length}`).toBe(referenceCrc32(data, from, from + length));
      }
    }
  });

  it('agrees on large inputs and on views into a larger buffer', () => {
    const random = seededRandom(41);
    const buffer = Uint8Array.from({ length: 200_003 }, () => random.int(256));
    expect(crc32(buffer)).toBe(referenceCrc32(buffer));
    const view = buffer.subarray(3, 150_001);
    expect(crc32(view)).toBe(referenceCrc32(view));
    expect(crc32(view, 5, 99_999)).toBe(referenceCrc32(buffer, 8, 100_002));
  });

  it('changes when any one bit of a long input changes', () => {
    const random = seededRandom(5);
    const data = Uint8Array.from({ length: 4096 }, () => random.int(256));
    const good = crc32(data);
    for (let trial = 0; trial < 200; trial++) {
      const at = random.int(data.length);
      const bit = 1 << random.int(8);
      data[at] = (data[at] as number) ^ bit;
      expect(crc32(data)).not.toBe(good);
      data[at] = (data[at] as number) ^ bit;
    }
    expect(crc32(data)).toBe(good);
  });
});

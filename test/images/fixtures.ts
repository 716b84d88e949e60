import { concatBytes } from '../../src/domain/bytes';

/**
 * Whole images assembled byte by byte, for tests inside workerd (the loopback origin's own makers
 * use Node's zlib and run outside it). Each is structurally complete and of the size given; the
 * JPEG's scan data would not decode to a picture, which the gateway never checks.
 */
const u16be = (n: number) => [(n >>> 8) & 0xff, n & 0xff];
const u32le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const segment = (marker: number, payload: number[]) => [0xff, marker, ...u16be(payload.length + 2), ...payload];

/** A minimal baseline JPEG: SOI, APP0, DQT, SOF0 (the size), DHT, SOS, scan data, EOI. */
export function wholeJpeg(width: number, height: number): Uint8Array {
  return Uint8Array.from([
    0xff, 0xd8,
    ...segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]),
    ...segment(0xdb, [0, ...Array.from({ length: 64 }, (_, i) => i + 1)]),
    ...segment(0xc0, [8, ...u16be(height), ...u16be(width), 1, 1, 0x11, 0]),
    ...segment(0xc4, [0, 1, ...Array<number>(15).fill(0), 0]),
    ...segment(0xda, [1, 1, 0, 0, 63, 0]),
    0x12, 0xff, 0x00, 0x34,
    0xff, 0xd9,
  ]);
}

/** A lossless WebP: RIFF, then one VP8L chunk whose header holds the size. */
export function wholeWebp(width: number, height: number): Uint8Array {
  const vp8l = [0x2f, ...u32le(((width - 1) | ((height - 1) << 14)) >>> 0), 0x00, 0x11, 0x22, 0x33];
  const body = concatBytes([new TextEncoder().encode('WEBPVP8L'), Uint8Array.from(u32le(vp8l.length)), Uint8Array.from(vp8l)]);
  return concatBytes([new TextEncoder().encode('RIFF'), Uint8Array.from(u32le(body.length)), body]);
}

import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes } from '../../src/domain/bytes';
import { crc32, inspectImage, verifyImage } from '../../src/domain/image-verify';
import { encodePng } from '../../src/domain/png';

/**
 * Whole-image verification as plain table cases: each fixture is assembled here byte by byte (or
 * made by the gateway's own PNG writer), and each broken variant is one deliberate change to a
 * good one, so a failure names the rule that let it through.
 */

const bytes = (...parts: (number[] | Uint8Array | string)[]) =>
  concatBytes(parts.map((p) => (typeof p === 'string' ? new TextEncoder().encode(p) : Uint8Array.from(p))));
const u16be = (n: number) => [(n >>> 8) & 0xff, n & 0xff];
const u16le = (n: number) => [n & 0xff, (n >>> 8) & 0xff];
const u24le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff];
const u32le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const u32be = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

/** Deterministic noise (xorshift32): bytes no compressor can shrink, and no accidental structure. */
function noise(length: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(length);
  let h = seed;
  for (let i = 0; i < length; i++) {
    h ^= h << 13;
    h ^= h >>> 17;
    h ^= h << 5;
    out[i] = h & 0xff;
  }
  return out;
}

const flip = (b: Uint8Array, at: number) => {
  const out = b.slice();
  out[at] = (out[at] as number) ^ 0x01;
  return out;
};

// ---- PNG ---------------------------------------------------------------------------------------

let png: Uint8Array; // 24×16, from the gateway's own encoder
let pngChunks: { ihdr: Uint8Array; idat: Uint8Array; iend: Uint8Array };
const SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

beforeAll(async () => {
  png = await encodePng(24, 16, noise(24 * 16 * 3));
  pngChunks = { ihdr: png.subarray(8, 33), idat: png.subarray(33, png.length - 12), iend: png.subarray(png.length - 12) };
});

/** A PNG chunk with its CRC, for chunks the encoder does not write. */
function pngChunk(type: string, data: number[] | Uint8Array): Uint8Array {
  const body = bytes(type, data);
  return bytes(u32be(body.length - 4), body, u32be(crc32(body)));
}

/** One test a case: `inspectImage` refuses the bytes (made when the test runs, where given as a function) with a matching reason. */
function refusesEach(cases: [name: string, input: Uint8Array | (() => Uint8Array), reason: RegExp][]): void {
  it.each(cases)('refuses %s', (_name, input, reason) => {
    const result = inspectImage(typeof input === 'function' ? input() : input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });
}

describe('crc32', () => {
  it('matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe('PNG', () => {
  it('accepts a PNG made by the gateway encoder, with its size', () => {
    expect(inspectImage(png)).toEqual({ ok: true, type: 'image/png', width: 24, height: 16 });
  });

  it('accepts ancillary chunks between IHDR and IEND', () => {
    const withText = bytes(SIG, pngChunks.ihdr, pngChunk('tEXt', bytes('Comment\0hi')), pngChunks.idat, pngChunks.iend);
    expect(inspectImage(withText)).toMatchObject({ ok: true, width: 24, height: 16 });
  });

  const broken: [string, () => Uint8Array, RegExp][] = [
    ['the signature and 4 KB of garbage', () => bytes(SIG, noise(4096)), /PNG/],
    ['the signature alone', () => bytes(SIG), /no IHDR/],
    ['one CRC byte flipped (IDAT)', () => flip(png, png.length - 13), /wrong CRC/],
    ['one CRC byte flipped (IHDR)', () => flip(png, 32), /wrong CRC/],
    ['one data byte flipped', () => flip(png, 40), /wrong CRC/],
    ['trailing bytes after IEND', () => bytes(png, [0, 0, 0, 0]), /4 bytes after IEND/],
    ['a chunk after IEND', () => bytes(png, pngChunk('tEXt', bytes('a\0b'))), /bytes after IEND/],
    ['truncated inside IDAT', () => png.subarray(0, 60), /truncated/],
    ['truncated before IEND', () => png.subarray(0, png.length - 12), /truncated before IEND/],
    ['IEND cut short', () => png.subarray(0, png.length - 1), /truncated/],
    ['IDAT before IHDR', () => bytes(SIG, pngChunks.idat, pngChunks.ihdr, pngChunks.iend), /start with an IHDR/],
    ['no IDAT', () => bytes(SIG, pngChunks.ihdr, pngChunks.iend), /no IDAT/],
    ['a second IHDR', () => bytes(SIG, pngChunks.ihdr, pngChunks.ihdr, pngChunks.idat, pngChunks.iend), /second IHDR/],
    ['an IHDR of the wrong length', () => bytes(SIG, pngChunk('IHDR', [0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0]), pngChunks.idat, pngChunks.iend), /IHDR/],
    ['a zero width', () => bytes(SIG, pngChunk('IHDR', [...u32be(0), ...u32be(16), 8, 2, 0, 0, 0]), pngChunks.idat, pngChunks.iend), /zero/],
    ['a chunk type that is not letters', () => bytes(SIG, pngChunks.ihdr, pngChunk('a1b2', [1]), pngChunks.idat, pngChunks.iend), /invalid type/],
  ];
  refusesEach(broken);

  it('never quotes the bytes in a reason', () => {
    const secretChunk = pngChunk('sEcr', bytes('api-key-123'));
    const tampered = bytes(SIG, pngChunks.ihdr, flip(secretChunk, secretChunk.length - 1), pngChunks.idat, pngChunks.iend);
    const result = inspectImage(tampered);
    expect(result).toEqual({ ok: false, reason: 'PNG chunk at byte 33 has a wrong CRC' });
  });
});

// ---- JPEG --------------------------------------------------------------------------------------

const segment = (marker: number, payload: number[]) => [0xff, marker, ...u16be(payload.length + 2), ...payload];
const SOI = [0xff, 0xd8];
const EOI = [0xff, 0xd9];
const APP0 = segment(0xe0, [...bytes('JFIF\0'), 1, 1, 0, ...u16be(1), ...u16be(1), 0, 0]);
const DQT = segment(0xdb, [0x00, ...Array.from({ length: 64 }, (_, i) => i + 1)]);
const sof = (marker: number, width: number, height: number) => segment(marker, [8, ...u16be(height), ...u16be(width), 1, 1, 0x11, 0]);
const DHT = segment(0xc4, [0x00, 1, ...Array<number>(15).fill(0), 0x00]);
const SOS = segment(0xda, [1, 1, 0x00, 0, 63, 0]);
/** Entropy-coded data with a stuffed 0xFF 0x00 and a restart marker inside, as real scans have. */
const SCAN_DATA = [0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56, 0x78];

const jpeg = (...parts: (number[] | Uint8Array)[]) => bytes(...parts);
const goodJpeg = (width = 640, height = 480) => jpeg(SOI, APP0, DQT, sof(0xc0, width, height), DHT, SOS, SCAN_DATA, EOI);

describe('JPEG', () => {
  it('accepts a minimal baseline JPEG, with its size', () => {
    expect(inspectImage(goodJpeg(640, 480))).toEqual({ ok: true, type: 'image/jpeg', width: 640, height: 480 });
  });

  it('accepts a progressive JPEG (SOF2) with two scans and a table between them', () => {
    const progressive = jpeg(SOI, DQT, sof(0xc2, 300, 200), DHT, SOS, SCAN_DATA, DHT, SOS, [0x01, 0x02], EOI);
    expect(inspectImage(progressive)).toMatchObject({ ok: true, width: 300, height: 200 });
  });

  it('accepts fill bytes (0xFF) before a marker', () => {
    expect(inspectImage(jpeg(SOI, [0xff, 0xff], APP0, sof(0xc0, 8, 8), DHT, SOS, SCAN_DATA, [0xff], EOI))).toMatchObject({ ok: true, width: 8, height: 8 });
  });

  const broken: [string, Uint8Array, RegExp][] = [
    ['the six bytes FF D8 FF 00 41 42', jpeg([0xff, 0xd8, 0xff, 0x00, 0x41, 0x42]), /invalid marker/],
    ['SOI alone', jpeg(SOI), /truncated/],
    ['SOI then EOI', jpeg(SOI, EOI), /before any image data/],
    ['SOI, APP0 and 64 bytes of ones (the old test origin JPEG)', jpeg(SOI, [0xff, 0xe0], Array<number>(64).fill(1)), /truncated/],
    ['no EOI (cut after the scan data)', jpeg(SOI, APP0, DQT, sof(0xc0, 64, 64), DHT, SOS, SCAN_DATA), /truncated before EOI/],
    ['a cut in the middle of a segment', goodJpeg().subarray(0, 30), /truncated/],
    ['trailing bytes after EOI', jpeg(SOI, APP0, sof(0xc0, 64, 64), DHT, SOS, SCAN_DATA, EOI, [0, 0]), /2 bytes after EOI/],
    ['no frame header (only DHT, which shares the SOF range)', jpeg(SOI, APP0, DQT, DHT, SOS, SCAN_DATA, EOI), /scan comes before its frame header/],
    ['a DAC segment (CC) as the only C-range marker', jpeg(SOI, segment(0xcc, [0, 0]), SOS, SCAN_DATA, EOI), /before its frame header/],
    ['a frame header but no scan', jpeg(SOI, APP0, sof(0xc0, 64, 64), DHT, EOI), /before any image data/],
    ['a frame header that is too short', jpeg(SOI, segment(0xc0, [8, 0, 1, 0, 1]), SOS, SCAN_DATA, EOI), /too short/],
    ['a zero width', jpeg(SOI, sof(0xc0, 0, 64), DHT, SOS, SCAN_DATA, EOI), /zero/],
    ['a segment length below 2', jpeg(SOI, [0xff, 0xe0, 0x00, 0x01], sof(0xc0, 8, 8), SOS, EOI), /truncated in the segment/],
    ['a second SOI', jpeg(SOI, SOI, sof(0xc0, 8, 8), SOS, SCAN_DATA, EOI), /invalid marker/],
    ['bytes between segments that are not a marker', jpeg(SOI, APP0, [0x00], sof(0xc0, 8, 8), SOS, SCAN_DATA, EOI), /no marker/],
  ];
  refusesEach(broken);

  it('refuses every truncation of a good JPEG', () => {
    const good = goodJpeg();
    for (let length = 2; length < good.length; length++) {
      expect(inspectImage(good.subarray(0, length)).ok, `cut at ${length}`).toBe(false);
    }
  });
});

// ---- WebP --------------------------------------------------------------------------------------

const riff = (body: Uint8Array, sizeDelta = 0) => bytes('RIFF', u32le(body.length + 4 + sizeDelta), 'WEBP', body);
const webpChunk = (type: string, data: number[]) => bytes(type, u32le(data.length), data, data.length & 1 ? [0] : []);
/** VP8L: signature 0x2F, then (width-1) in 14 bits, (height-1) in 14 bits, alpha 1 bit, version 3 bits. */
const vp8l = (width: number, height: number, version = 0) =>
  webpChunk('VP8L', [0x2f, ...u32le(((width - 1) | ((height - 1) << 14) | (version << 29)) >>> 0), 0x00, 0x11, 0x22]);
/** VP8: key-frame tag (bit 0 clear), start code 9D 01 2A, 14-bit width and height (2 scale bits above). */
const vp8 = (width: number, height: number, tag = 0x10) => webpChunk('VP8 ', [tag, 0x02, 0x00, 0x9d, 0x01, 0x2a, ...u16le(width), ...u16le(height), 0xaa, 0xbb, 0xcc, 0xdd]);
const vp8x = (width: number, height: number) => webpChunk('VP8X', [0x10, 0, 0, 0, ...u24le(width - 1), ...u24le(height - 1)]);

describe('WebP', () => {
  const good: [string, Uint8Array, number, number][] = [
    ['lossless (VP8L)', riff(vp8l(512, 768)), 512, 768],
    ['lossless at the 14-bit limit', riff(vp8l(16384, 1)), 16384, 1],
    ['lossy (VP8)', riff(vp8(1024, 256)), 1024, 256],
    ['lossy with scale bits set (they are not part of the size)', riff(vp8(0x4000 | 300, 0xc000 | 200)), 300, 200],
    ['extended (VP8X) around a VP8L image', riff(concatBytes([vp8x(2048, 1536), vp8l(2048, 1536)])), 2048, 1536],
    ['a VP8L chunk of odd length, padded', riff(webpChunk('VP8L', [0x2f, ...u32le((9 | (4 << 14)) >>> 0), 0x01, 0x02])), 10, 5],
  ];
  for (const [name, input, width, height] of good) {
    it(`accepts ${name}`, () => {
      expect(inspectImage(input)).toEqual({ ok: true, type: 'image/webp', width, height });
    });
  }

  const broken: [string, Uint8Array, RegExp][] = [
    ['a RIFF size one too large', riff(vp8l(64, 64), 1), /RIFF size/],
    ['a RIFF size one too small', riff(vp8l(64, 64), -1), /RIFF size/],
    ['a RIFF size of zero (the old test origin WebP)', bytes('RIFF', [0, 0, 0, 0], 'WEBPVP8 ', Array<number>(64).fill(1)), /RIFF size/],
    ['a chunk longer than the file', riff(bytes('VP8L', u32le(100), [0x2f, 0, 0, 0, 0])), /truncated/],
    ['VP8 without its start code', riff(webpChunk('VP8 ', [0x10, 0x02, 0x00, 0x9d, 0x01, 0x2b, 1, 0, 1, 0])), /VP8 frame header/],
    ['VP8 that is not a key frame', riff(vp8(64, 64, 0x11)), /VP8 frame header/],
    ['VP8L with a wrong signature', riff(webpChunk('VP8L', [0x2e, 0, 0, 0, 0])), /VP8L header/],
    ['VP8L of a future version', riff(vp8l(64, 64, 1)), /version/],
    ['VP8X with no image chunk', riff(vp8x(64, 64)), /no image data/],
    ['an unknown first chunk', riff(webpChunk('ICCP', [1, 2, 3, 4])), /does not start/],
    ['a header with no chunk', riff(new Uint8Array(0)), /RIFF size|no image/],
    ['a cut in a chunk header', riff(bytes(vp8l(8, 8), 'EXI')), /truncated/],
  ];
  refusesEach(broken);
});

// ---- Anything else, and the pixel size ---------------------------------------------------------

describe('not an image', () => {
  const cases: [string, Uint8Array][] = [
    ['nothing', new Uint8Array(0)],
    ['text', bytes('this is not an image')],
    ['JSON', bytes('{"data":[{"b64_json":"…"}]}')],
    ['a GIF', bytes('GIF89a', [1, 0, 1, 0, 0, 0, 0, 0x3b])],
    ['one byte of a JPEG', Uint8Array.from([0xff])],
    ['a RIFF that is not WebP', bytes('RIFF', u32le(4), 'WAVE')],
  ];
  for (const [name, input] of cases) {
    it(`refuses ${name}`, () => {
      expect(inspectImage(input)).toEqual({ ok: false, reason: 'not a PNG, JPEG or WebP image' });
    });
  }
});

describe('verifyImage', () => {
  it('passes an image of the requested size', () => {
    expect(verifyImage(png, { width: 24, height: 16, checkDimensions: true })).toEqual({ ok: true, type: 'image/png', width: 24, height: 16 });
    expect(verifyImage(goodJpeg(512, 512), { width: 512, height: 512, checkDimensions: true }).ok).toBe(true);
    expect(verifyImage(riff(vp8l(768, 512)), { width: 768, height: 512, checkDimensions: true }).ok).toBe(true);
  });

  const mismatches: [string, () => Uint8Array, { width: number; height: number }, string][] = [
    ['a PNG', () => png, { width: 512, height: 512 }, 'image is 24x16 pixels, 512x512 were requested'],
    ['a JPEG with width and height swapped', () => goodJpeg(512, 768), { width: 768, height: 512 }, 'image is 512x768 pixels, 768x512 were requested'],
    ['a WebP one pixel short', () => riff(vp8(1024, 1023)), { width: 1024, height: 1024 }, 'image is 1024x1023 pixels, 1024x1024 were requested'],
  ];
  for (const [name, make, size, reason] of mismatches) {
    it(`refuses ${name} of another size, naming both sizes`, () => {
      expect(verifyImage(make(), { ...size, checkDimensions: true })).toEqual({ ok: false, reason });
    });
  }

  it('skips the size check when the origin resizes, but never the structure check', () => {
    expect(verifyImage(png, { width: 512, height: 512, checkDimensions: false })).toMatchObject({ ok: true, width: 24, height: 16 });
    expect(verifyImage(flip(png, 32), { width: 24, height: 16, checkDimensions: false }).ok).toBe(false);
  });
});

describe('a 2 MB image', () => {
  it('checks a whole 2 MB PNG and a 2 MB JPEG with a stuffed byte and a restart marker', async () => {
    const bigPng = await encodePng(820, 820, noise(820 * 820 * 3, 7));
    expect(bigPng.length).toBeGreaterThan(2_000_000);
    const scan = noise(2_000_000, 11).map((b) => (b === 0xff ? 0x00 : b));
    scan.set([0xff, 0x00], 1000); // a stuffed byte and a restart marker, as real scans have
    scan.set([0xff, 0xd3], 5000);
    const bigJpeg = jpeg(SOI, APP0, DQT, sof(0xc0, 1920, 1080), DHT, SOS, scan, EOI);
    for (const [image, expected] of [[bigPng, { width: 820, height: 820 }], [bigJpeg, { width: 1920, height: 1080 }]] as const) {
      expect(verifyImage(image, { ...expected, checkDimensions: true })).toMatchObject({ ok: true, ...expected });
    }
  });
});

import { crc32 } from './crc32';
import type { ImageType } from './image-format';

export { crc32 };

/**
 * Whether an origin's answer is a whole image, and of what pixel size (docs/admin.md, "Only
 * whole images"). Magic bytes alone let six bytes pass as a JPEG and a PNG signature followed by
 * garbage pass as a PNG; this walks each format's structure to its end, so a truncated, padded or
 * corrupted answer is refused before it is served, charged or cached.
 *
 * One pass over the bytes, no copies (only views): a 2 MB image costs one CRC-32 over its PNG
 * chunks, or one scan for 0xFF through a JPEG's entropy-coded data. Reasons are short and never
 * quote the bytes, so they are safe to log and to put in an error message.
 */
export type ImageInspection =
  | { ok: true; type: ImageType; width: number; height: number }
  | { ok: false; reason: string };

export interface ExpectedImage {
  width: number;
  height: number;
  /** False for an origin whose server resizes (`"verify_dimensions": false`). */
  checkDimensions: boolean;
}

type Refusal = { ok: false; reason: string };
const refuse = (reason: string): Refusal => ({ ok: false, reason });

/** What the bytes are, and their pixel size, or why they are not a whole PNG, JPEG or WebP image. */
export function inspectImage(bytes: Uint8Array): ImageInspection {
  if (startsWith(bytes, PNG_SIGNATURE)) return inspectPng(bytes);
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return inspectJpeg(bytes);
  if (fourcc(bytes, 0) === 'RIFF' && fourcc(bytes, 8) === 'WEBP') return inspectWebp(bytes);
  return refuse('not a PNG, JPEG or WebP image');
}

/** `inspectImage`, then the pixel size against the one the request asked for. */
export function verifyImage(bytes: Uint8Array, expected: ExpectedImage): ImageInspection {
  const found = inspectImage(bytes);
  if (!found.ok || !expected.checkDimensions) return found;
  if (found.width !== expected.width || found.height !== expected.height) {
    return refuse(`image is ${found.width}x${found.height} pixels, ${expected.width}x${expected.height} were requested`);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// PNG (ISO/IEC 15948, W3C PNG §5): signature, IHDR first, chunks each with a CRC-32, IEND last.

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;
/** PNG §5.3: a chunk's length is at most 2^31 - 1. */
const PNG_MAX_LENGTH = 0x7fffffff;

function inspectPng(bytes: Uint8Array): ImageInspection {
  const view = viewOf(bytes);
  let offset: number = PNG_SIGNATURE.length;
  let size: { width: number; height: number } | null = null;
  let idat = 0;
  while (offset + 12 <= bytes.length) {
    const length = view.getUint32(offset);
    const type = fourcc(bytes, offset + 4);
    const end = offset + 12 + length;
    if (length > PNG_MAX_LENGTH || end > bytes.length) return refuse(`PNG truncated in the chunk at byte ${offset}`);
    if (!/^[A-Za-z]{4}$/.test(type)) return refuse(`PNG chunk at byte ${offset} has an invalid type`);
    if (crc32(bytes, offset + 4, offset + 8 + length) !== view.getUint32(offset + 8 + length)) {
      return refuse(`PNG chunk at byte ${offset} has a wrong CRC`);
    }
    if (size === null) {
      if (type !== 'IHDR' || length !== 13) return refuse('PNG does not start with an IHDR chunk');
      size = { width: view.getUint32(offset + 8), height: view.getUint32(offset + 12) };
      if (size.width === 0 || size.height === 0) return refuse('PNG has a zero width or height');
    } else if (type === 'IHDR') {
      return refuse('PNG has a second IHDR chunk');
    } else if (type === 'IDAT') {
      idat++;
    } else if (type === 'IEND') {
      if (idat === 0) return refuse('PNG has no IDAT chunk');
      if (end !== bytes.length) return refuse(`PNG has ${bytes.length - end} bytes after IEND`);
      return { ok: true, type: 'image/png', ...size };
    }
    offset = end;
  }
  return refuse(size === null ? 'PNG has no IHDR chunk' : 'PNG truncated before IEND');
}

// ---------------------------------------------------------------------------------------------
// JPEG (ITU-T T.81 Annex B): SOI, marker segments each with a length, a frame header (SOFn) that
// gives the size, scans (SOS + entropy-coded data, which can be several in a progressive file),
// and EOI as the very last two bytes.

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;

/** SOF0–SOF15 are C0–CF, except DHT (C4), JPG (C8) and DAC (CC), which share that range. */
const isFrameMarker = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
/** TEM and RST0–RST7 stand alone, with no length (T.81 B.1.1.4). */
const isStandalone = (m: number) => m === 0x01 || (m >= 0xd0 && m <= 0xd7);

function inspectJpeg(bytes: Uint8Array): ImageInspection {
  const view = viewOf(bytes);
  let offset = 2;
  let size: { width: number; height: number } | null = null;
  let scans = 0;
  for (;;) {
    if (offset >= bytes.length) return refuse('JPEG truncated before EOI');
    if (bytes[offset] !== 0xff) return refuse(`JPEG has no marker at byte ${offset}`);
    while (bytes[offset] === 0xff) offset++; // fill bytes before a marker (T.81 B.1.1.2)
    if (offset >= bytes.length) return refuse('JPEG truncated before EOI');
    const marker = bytes[offset] as number;
    offset++;
    if (marker === EOI) {
      if (scans === 0 || size === null) return refuse('JPEG ends before any image data');
      return offset === bytes.length ? { ok: true, type: 'image/jpeg', ...size } : refuse(`JPEG has ${bytes.length - offset} bytes after EOI`);
    }
    if (marker === 0x00 || marker === SOI) return refuse(`JPEG has an invalid marker at byte ${offset - 1}`);
    if (isStandalone(marker)) continue;
    if (offset + 2 > bytes.length) return refuse('JPEG truncated in a segment length');
    const length = view.getUint16(offset);
    if (length < 2 || offset + length > bytes.length) return refuse(`JPEG truncated in the segment at byte ${offset - 2}`);
    if (isFrameMarker(marker) && size === null) {
      if (length < 8) return refuse('JPEG frame header is too short');
      size = { height: view.getUint16(offset + 3), width: view.getUint16(offset + 5) };
      if (size.width === 0 || size.height === 0) return refuse('JPEG has a zero width or height');
    }
    offset += length;
    if (marker === SOS) {
      if (size === null) return refuse('JPEG scan comes before its frame header');
      scans++;
      offset = endOfEntropyData(bytes, offset);
    }
  }
}

/**
 * Where the entropy-coded data that follows a scan header ends: at the first 0xFF that starts a
 * marker. Inside the data, 0xFF is followed by 0x00 (a stuffed byte) or by a restart marker
 * (T.81 B.1.1.5, F.1.2.3). The length when no marker follows (a truncated file).
 */
function endOfEntropyData(bytes: Uint8Array, from: number): number {
  let i = bytes.indexOf(0xff, from);
  while (i !== -1 && i + 1 < bytes.length) {
    const next = bytes[i + 1] as number;
    if (next !== 0x00 && !(next >= 0xd0 && next <= 0xd7) && next !== 0xff) return i;
    i = bytes.indexOf(0xff, i + 1);
  }
  return bytes.length;
}

// ---------------------------------------------------------------------------------------------
// WebP (RFC 9649): a RIFF container "RIFF" size "WEBP" whose size counts every byte after it,
// then chunks (fourcc, little-endian size, data padded to even). The first chunk is the image
// (VP8 lossy, VP8L lossless) or VP8X (extended: canvas size, then the image or animation chunks).

const WEBP_IMAGE_CHUNKS = new Set(['VP8 ', 'VP8L', 'ANMF']);

function inspectWebp(bytes: Uint8Array): ImageInspection {
  const view = viewOf(bytes);
  if (bytes.length < 20 || view.getUint32(4, true) !== bytes.length - 8) return refuse('WebP RIFF size does not match its length');
  let offset = 12;
  let size: { width: number; height: number } | null = null;
  let images = 0;
  while (offset < bytes.length) {
    if (offset + 8 > bytes.length) return refuse(`WebP truncated in the chunk at byte ${offset}`);
    const type = fourcc(bytes, offset);
    const length = view.getUint32(offset + 4, true);
    const end = offset + 8 + length + (length & 1);
    if (end > bytes.length) return refuse(`WebP truncated in the chunk at byte ${offset}`);
    if (size === null) {
      const read = webpSize(type, bytes.subarray(offset + 8, offset + 8 + length));
      if (!read.ok) return read;
      size = read;
    }
    if (WEBP_IMAGE_CHUNKS.has(type)) images++;
    offset = end;
  }
  if (size === null || images === 0) return refuse('WebP has no image data');
  return { ok: true, type: 'image/webp', width: size.width, height: size.height };
}

/** The pixel size from the first chunk of a WebP file (RFC 9649 §2.5, §3.2, §2.7). */
function webpSize(type: string, data: Uint8Array): { ok: true; width: number; height: number } | Refusal {
  const view = viewOf(data);
  if (type === 'VP8 ') {
    // 3-byte frame tag (bit 0 clear on a key frame), start code 9D 01 2A, then 14-bit width and height.
    if (data.length < 10 || (data[0] as number) & 1 || data[3] !== 0x9d || data[4] !== 0x01 || data[5] !== 0x2a) {
      return refuse('WebP VP8 frame header is invalid');
    }
    return sized(view.getUint16(6, true) & 0x3fff, view.getUint16(8, true) & 0x3fff);
  }
  if (type === 'VP8L') {
    // Signature 0x2F, then 14 bits width - 1, 14 bits height - 1, 1 bit alpha, 3 bits version (0).
    if (data.length < 5 || data[0] !== 0x2f) return refuse('WebP VP8L header is invalid');
    const bits = view.getUint32(1, true);
    if (bits >>> 29 !== 0) return refuse('WebP VP8L version is not 0');
    return sized((bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
  }
  if (type === 'VP8X') {
    // Flags (1 byte), reserved (3), canvas width - 1 and height - 1 as 24-bit little-endian.
    if (data.length < 10) return refuse('WebP VP8X header is too short');
    return sized(uint24le(data, 4) + 1, uint24le(data, 7) + 1);
  }
  return refuse('WebP does not start with a VP8, VP8L or VP8X chunk');
}

function sized(width: number, height: number): { ok: true; width: number; height: number } | Refusal {
  return width > 0 && height > 0 ? { ok: true, width, height } : refuse('WebP has a zero width or height');
}

// ---------------------------------------------------------------------------------------------

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

/** Four bytes as Latin-1 text ('' past the end), for chunk types and RIFF tags. */
function fourcc(bytes: Uint8Array, at: number): string {
  if (at + 4 > bytes.length) return '';
  return String.fromCharCode(bytes[at] as number, bytes[at + 1] as number, bytes[at + 2] as number, bytes[at + 3] as number);
}

function uint24le(bytes: Uint8Array, at: number): number {
  return (bytes[at] as number) | ((bytes[at + 1] as number) << 8) | ((bytes[at + 2] as number) << 16);
}

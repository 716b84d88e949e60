import { crc32 as zlibCrc32 } from 'node:zlib';

/**
 * CRC-32 (ISO 3309 / ITU-T V.42, reflected polynomial 0xEDB88320), as PNG's chunks carry it
 * (W3C PNG §5.5). Every image an origin sends and every cache hit is checked chunk by chunk, so
 * this runs over each served byte. It is zlib's, native in the runtime under the `nodejs_compat`
 * flag (wrangler.toml): the JavaScript slicing-by-8 loop it replaces was the largest part of the
 * Worker's own CPU on a miss (bench/README.md, "Where a miss's CPU goes"). Over a view, no copy.
 */
export function crc32(bytes: Uint8Array, from = 0, to = bytes.length): number {
  return zlibCrc32(from === 0 && to === bytes.length ? bytes : bytes.subarray(from, to));
}

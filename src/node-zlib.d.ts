/**
 * The one Node.js module the Worker imports, as the runtime provides it under `nodejs_compat`
 * (wrangler.toml). Declared here rather than through @types/node, whose globals would let code
 * reach for Node APIs the runtime does not have.
 */
declare module 'node:zlib' {
  /** zlib's CRC-32 of the bytes, continuing from `value` (0 for a fresh one). */
  export function crc32(data: ArrayBufferView | string, value?: number): number;
}

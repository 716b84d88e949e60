import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Reads a JSON object body: 415 unless `application/json`, 413 past 64 KiB (counted as it streams,
 * so a lying or absent Content-Length cannot get past), 400 when it is not a JSON object.
 */
export async function readJsonObject(c: Context<AppEnv>): Promise<Record<string, unknown>> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ApiError('unsupported_media_type', 'the body must be JSON, sent with Content-Type: application/json');
  }
  const declared = Number(c.req.header('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  const text = await readLimitedText(c.req.raw, MAX_BODY_BYTES);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ApiError('invalid_request', 'the body is not valid JSON');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ApiError('invalid_request', 'the body must be a JSON object');
  }
  return json as Record<string, unknown>;
}

function tooLarge(): ApiError {
  return new ApiError('payload_too_large', `the body must be at most ${MAX_BODY_BYTES} bytes`);
}

async function readLimitedText(request: Request, limit: number): Promise<string> {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  try {
    return decoder.decode(all);
  } catch {
    throw new ApiError('invalid_request', 'the body is not valid UTF-8');
  }
}

import type { Context, MiddlewareHandler } from 'hono';
import { readCapped } from '../domain/bytes';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';

const MAX_BODY_BYTES = 64 * 1024;

/**
 * Reads a JSON object body: 415 unless `application/json` with no content coding, 413 past 64 KiB
 * (counted as it streams, so a lying or absent Content-Length cannot get past), 400 when it cannot
 * be read to its end or is not a JSON object.
 */
export async function readJsonObject(c: Context<AppEnv>): Promise<Record<string, unknown>> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ApiError('unsupported_media_type', 'the body must be JSON, sent with Content-Type: application/json');
  }
  checkContentEncoding(c.req.header('content-encoding'));
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

/**
 * A coded body (RFC 9110 §8.4) would be read as garbage JSON, or its decoded size would escape the
 * 64 KiB limit: only `identity` (or none) is accepted, anything else is 415 (RFC 9110 §15.5.16
 * names that status for an unsupported content coding).
 */
function checkContentEncoding(header: string | undefined): void {
  const coded = (header ?? '')
    .split(',')
    .some((coding) => !['', 'identity'].includes(coding.trim().toLowerCase()));
  if (coded) throw new ApiError('unsupported_media_type', 'a Content-Encoding other than identity is not supported; send the JSON body uncompressed');
}

async function readLimitedText(request: Request, limit: number): Promise<string> {
  if (!request.body) return '';
  let bytes: Uint8Array | null;
  try {
    bytes = await readCapped(request.body, limit);
  } catch {
    // the client went away or its stream failed mid-body: its request, not our bug (no stack logged)
    throw new ApiError('invalid_request', 'the body could not be read to its end (the connection failed or was closed)');
  }
  if (!bytes) throw tooLarge();
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ApiError('invalid_request', 'the body is not valid UTF-8');
  }
}

/**
 * Reads the body as readJsonObject does (415, 413, 400 as above) before the route's schema sees it,
 * then hands the validator the same text: the declared schema checks fields, this checks bytes.
 */
export function jsonBody(): MiddlewareHandler<AppEnv> {
  return async function jsonBodyMiddleware(c, next) {
    const json = await readJsonObject(c);
    c.req.raw = new Request(c.req.raw, { body: JSON.stringify(json) });
    await next();
  };
}

/** Reads a JSON body when one is sent; a request with none goes on with `{}` (for optional bodies). */
export function optionalJsonBody(): MiddlewareHandler<AppEnv> {
  const read = jsonBody();
  return async function optionalJsonBodyMiddleware(c, next) {
    if (c.req.raw.body === null && !c.req.header('content-type')) return next();
    return read(c, next);
  };
}

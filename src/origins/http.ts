import { readCapped } from '../domain/bytes';
import { bytesFromBase64, sniffImageType } from '../domain/image-format';
import type { OriginConfig } from './config';
import type { SeededRequest } from '../domain/generation-request';
import type { OriginAdapter, OriginCall, OriginFailure, OriginFailureKind, OriginOutcome } from './types';

/** Where an image is in a JSON answer: inline base64 (maybe a data URL) or a link to fetch. */
export type ImageRef = { base64: string } | { url: string };

/** What an HTTP origin kind is, as data: the path it is posted to, the body, and where the image is in its JSON. */
export interface HttpKind {
  kind: string;
  path: (origin: OriginConfig) => string;
  body: (call: OriginCall) => unknown;
  /** The image in a JSON answer, or null when the answer holds none. */
  imageIn: (json: unknown) => ImageRef | null;
  /** See OriginAdapter.unsupported. */
  unsupported?: (request: SeededRequest) => string | null;
}

/** The adapter for an HTTP kind: everything but the data lives in this file. */
export function httpAdapter(kind: HttpKind): OriginAdapter {
  return {
    kind: kind.kind,
    ...(kind.unsupported ? { unsupported: kind.unsupported } : {}),
    generate: (origin, call) => callHttpOrigin(kind, origin, call),
  };
}

/**
 * How many bytes of JSON may carry an image of `maxImage` bytes: base64 is 4/3 of the image,
 * plus room for the rest of the answer (a data URL prefix, Cog's logs, A1111's `info`).
 */
function jsonLimit(maxImage: number): number {
  return Math.ceil(maxImage / 3) * 4 + 256 * 1024;
}

const MAX_ERROR_MESSAGE = 300;

export function fail(failure: OriginFailureKind, message: string, status?: number): OriginFailure {
  return { ok: false, failure, message, ...(status === undefined ? {} : { status }) };
}

/** POSTs the kind's body to the origin and reads an image out of whatever it answers. */
async function callHttpOrigin(kind: HttpKind, origin: OriginConfig, call: OriginCall): Promise<OriginOutcome> {
  const url = (origin.url ?? '').replace(/\/+$/, '') + kind.path(origin);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'image/*, application/json',
    'x-request-id': call.requestId,
  };
  if (call.secret) headers.authorization = `Bearer ${call.secret}`;
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(kind.body(call)), signal: call.signal });
  } catch (err) {
    return networkFailure(err, call.signal, origin);
  }
  return readAnswer(kind, origin, call, response);
}

async function readAnswer(kind: HttpKind, origin: OriginConfig, call: OriginCall, response: Response): Promise<OriginOutcome> {
  if (response.status >= 400) {
    const text = await readText(response, call.signal, origin).catch(() => '');
    const message = originMessage(text, call.secret) || `HTTP ${response.status}`;
    if (response.status === 401 || response.status === 403) {
      return fail('credentials_refused', `origin '${origin.name}' refused the gateway's credentials (HTTP ${response.status})`, response.status);
    }
    if (response.status < 500 && response.status !== 408 && response.status !== 429) {
      return fail('client_error', `origin '${origin.name}' refused the request: ${message}`, response.status);
    }
    return fail('server_error', `origin '${origin.name}' answered ${response.status}`, response.status);
  }
  const contentType = response.headers.get('content-type') ?? '';
  const isJson = contentType.includes('json');
  const body = await readLimited(response, isJson ? jsonLimit(origin.max_image_bytes) : origin.max_image_bytes, call.signal, origin);
  if (!(body instanceof Uint8Array)) return body;
  const type = sniffImageType(body);
  if (type) {
    if (body.length > origin.max_image_bytes) return tooLarge(origin);
    return { ok: true, bytes: body, contentType: type };
  }
  if (!isJson) return fail('not_image', `origin '${origin.name}' answered something that is not an image`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return fail('not_image', `origin '${origin.name}' answered malformed JSON`);
  }
  const ref = kind.imageIn(json);
  if (!ref) return fail('not_image', `origin '${origin.name}' answered JSON without an image`);
  return imageFromRef(ref, origin, call);
}

/** Follows an ImageRef to verified image bytes. */
async function imageFromRef(ref: ImageRef, origin: OriginConfig, call: OriginCall): Promise<OriginOutcome> {
  let bytes: Uint8Array | null;
  if ('base64' in ref) {
    bytes = bytesFromBase64(ref.base64);
    if (bytes && bytes.length > origin.max_image_bytes) return tooLarge(origin);
  } else {
    if (ref.url.startsWith('data:')) return imageFromRef({ base64: ref.url }, origin, call);
    let response: Response;
    try {
      response = await fetch(new URL(ref.url, origin.url).href, { signal: call.signal });
    } catch (err) {
      return networkFailure(err, call.signal, origin);
    }
    if (!response.ok) return fail('server_error', `origin '${origin.name}' image link answered ${response.status}`, response.status);
    const body = await readLimited(response, origin.max_image_bytes, call.signal, origin);
    if (!(body instanceof Uint8Array)) return body;
    bytes = body;
  }
  const type = bytes ? sniffImageType(bytes) : null;
  if (!bytes || !type) return fail('not_image', `origin '${origin.name}' answered something that is not an image`);
  return { ok: true, bytes, contentType: type };
}

function tooLarge(origin: OriginConfig): OriginFailure {
  return fail('too_large', `origin '${origin.name}' answered an image over the ${origin.max_image_bytes}-byte limit (max_image_bytes)`);
}

function networkFailure(err: unknown, signal: AbortSignal, origin: OriginConfig): OriginFailure {
  if (signal.aborted) return fail('timeout', `origin '${origin.name}' did not answer within ${origin.timeout_ms} ms`);
  const name = err instanceof Error ? err.name : 'error';
  return fail('unreachable', `origin '${origin.name}' could not be reached (${name})`);
}

/** Reads a body, giving up past `limit` bytes so a runaway origin cannot exhaust memory. */
async function readLimited(
  response: Response,
  limit: number,
  signal: AbortSignal,
  origin: OriginConfig,
): Promise<Uint8Array | OriginFailure> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    return tooLarge(origin);
  }
  if (!response.body) return new Uint8Array(0);
  let bytes: Uint8Array | null;
  try {
    // A declared length within the limit, on a body that is not decompressed on the way in, is
    // all HTTP will deliver: read it in one native call. Otherwise count chunk by chunk.
    bytes = declared > 0 && !response.headers.has('content-encoding') ? new Uint8Array(await response.arrayBuffer()) : await readCapped(response.body, limit);
  } catch (err) {
    return networkFailure(err, signal, origin);
  }
  return bytes ?? tooLarge(origin);
}

async function readText(response: Response, signal: AbortSignal, origin: OriginConfig): Promise<string> {
  const limited = await readLimited(response, 16 * 1024, signal, origin);
  return limited instanceof Uint8Array ? new TextDecoder().decode(limited) : '';
}

/** An origin's error text, cut short and with the origin's own credential blotted out. */
function originMessage(text: string, secret: string | undefined): string {
  let message = text.trim();
  try {
    const json = JSON.parse(message) as { error?: unknown; message?: unknown; detail?: unknown };
    const inner = json.error && typeof json.error === 'object' ? (json.error as { message?: unknown }).message : json.error;
    const picked = [inner, json.message, json.detail].find((v) => typeof v === 'string');
    if (typeof picked === 'string') message = picked;
  } catch {
    // not JSON: keep the text
  }
  if (secret) message = message.split(secret).join('[redacted]');
  message = message.replace(/igk_[0-9A-Za-z]+/g, '[redacted]').replace(/\s+/g, ' ');
  return message.length > MAX_ERROR_MESSAGE ? `${message.slice(0, MAX_ERROR_MESSAGE)}…` : message;
}

/** `data[0].b64_json` or `data[0].url`: the OpenAI-style image answer that Qubrid and others use. */
export function openAiStyleImage(json: unknown): ImageRef | null {
  const first = (json as { data?: unknown })?.data;
  const item = Array.isArray(first) ? (first[0] as { b64_json?: unknown; url?: unknown } | undefined) : undefined;
  if (typeof item?.b64_json === 'string') return { base64: item.b64_json };
  if (typeof item?.url === 'string') return { url: item.url };
  return null;
}

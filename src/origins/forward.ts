import type { SeededRequest } from '../domain/generation-request';
import type { ImageType } from '../domain/image-format';
import { originsFor, type OriginConfig } from './config';
import { ADAPTERS } from './index';
import type { OriginFailure, OriginFailureKind } from './types';

export interface Attempt {
  origin: string;
  outcome: 'ok' | OriginFailureKind;
  status?: number;
  latencyMs: number;
}

export type ForwardResult =
  | { ok: true; bytes: Uint8Array; contentType: ImageType; origin: string; attempts: Attempt[] }
  | {
      ok: false;
      /** `invalid_request` when an origin refused the request (its 4xx); no other origin was tried. */
      code: 'origin_error' | 'origin_timeout' | 'invalid_request';
      message: string;
      attempts: Attempt[];
      retryAfterSeconds?: number;
    };

export interface ForwardOptions {
  requestId: string;
  env: Record<string, unknown>;
  now: () => number;
}

/**
 * Tries each origin that serves the model, in order, until one answers an image (CONTRACT §7).
 * A connection error, 5xx, timeout or non-image answer moves on; an origin's 4xx is the client's
 * error and ends the chain.
 */
export async function forward(origins: OriginConfig[], request: SeededRequest, options: ForwardOptions): Promise<ForwardResult> {
  const eligible = originsFor(origins, request.model);
  const attempts: Attempt[] = [];
  let last: OriginFailure | null = null;
  if (eligible.length === 0) {
    return { ok: false, code: 'origin_error', message: `no origin serves model '${request.model}'`, attempts };
  }
  for (const origin of eligible) {
    const started = options.now();
    const adapter = ADAPTERS[origin.kind];
    const secretValue = origin.api_key_secret ? options.env[origin.api_key_secret] : undefined;
    const outcome = adapter
      ? await adapter.generate(origin, {
          request,
          requestId: options.requestId,
          secret: typeof secretValue === 'string' && secretValue ? secretValue : undefined,
          signal: AbortSignal.timeout(origin.timeout_ms),
        })
      : ({ ok: false, failure: 'unreachable', message: `origin kind '${origin.kind}' is not available` } satisfies OriginFailure);
    const latencyMs = options.now() - started;
    if (outcome.ok) {
      attempts.push({ origin: origin.name, outcome: 'ok', latencyMs });
      return { ok: true, bytes: outcome.bytes, contentType: outcome.contentType, origin: origin.name, attempts };
    }
    attempts.push({ origin: origin.name, outcome: outcome.failure, ...(outcome.status ? { status: outcome.status } : {}), latencyMs });
    if (outcome.failure === 'client_error') {
      return { ok: false, code: 'invalid_request', message: outcome.message, attempts };
    }
    last = outcome;
  }
  const timedOut = last?.failure === 'timeout';
  return {
    ok: false,
    code: timedOut ? 'origin_timeout' : 'origin_error',
    message: eligible.length > 1 ? `every origin failed; last: ${last?.message}` : (last?.message ?? 'origin failed'),
    attempts,
  };
}

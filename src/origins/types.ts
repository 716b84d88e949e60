import type { SeededRequest } from '../domain/generation-request';
import type { ImageType } from '../domain/image-format';
import type { OriginConfig } from './config';

/** What one attempt at one origin needs. */
export interface OriginCall {
  request: SeededRequest;
  requestId: string;
  /** The origin's own credential (named by `api_key_secret`), never the tenant's key. */
  secret: string | undefined;
  /** Aborts when the origin's timeout (or the request's deadline) passes. */
  signal: AbortSignal;
}

export interface OriginImage {
  ok: true;
  bytes: Uint8Array;
  contentType: ImageType;
}

/**
 * Why an attempt failed. `client_error` is the origin refusing the request (its 4xx): the
 * client's fault, never retried elsewhere and never counted against the origin's health.
 * `credentials_refused` (its 401 or 403) is the origin refusing the gateway's own credential: the
 * origin's failure, like a 5xx, whatever the client asked (docs/origins.md).
 */
export type OriginFailureKind =
  | 'timeout'
  | 'unreachable'
  | 'server_error'
  | 'not_image'
  | 'too_large'
  | 'credentials_refused'
  | 'client_error';

export interface OriginFailure {
  ok: false;
  failure: OriginFailureKind;
  /** Safe to show the client: trimmed, and never containing a secret. */
  message: string;
  status?: number;
}

export type OriginOutcome = OriginImage | OriginFailure;

/**
 * One origin kind (docs/origins.md): how to ask it for an image and how to read the image out of its
 * answer. Adding a kind is adding a file that exports one of these, and a line in ./index.ts.
 */
export interface OriginAdapter {
  kind: string;
  /**
   * Why this kind cannot serve `request` faithfully (e.g. a seed it would read as "random"), or
   * null. Such an origin is passed over without being called, and without counting against it.
   */
  unsupported?(request: SeededRequest): string | null;
  generate(origin: OriginConfig, call: OriginCall): Promise<OriginOutcome>;
}

import { z } from 'zod';
import type { ErrorCode } from '../errors';

/**
 * How a route is described in the OpenAPI document. Bodies and queries are the very zod schemas the
 * routes validate with, so the document cannot disagree with what a request is checked against.
 */
export type Auth = 'tenant' | 'admin' | 'none';
export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface HeaderDoc {
  description: string;
  schema?: Record<string, unknown>;
  required?: boolean;
}

export interface SuccessDoc {
  status: 200 | 201 | 204;
  description: string;
  /** JSON answer; registered answer schemas become `$ref`s. */
  json?: z.ZodType;
  /** Other media types → JSON Schema (e.g. `image/png` → binary string). */
  content?: Record<string, Record<string, unknown>>;
  headers?: Record<string, HeaderDoc>;
}

export interface RouteDoc {
  method: HttpMethod;
  /** OpenAPI form: `/v1/images/{id}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  auth: Auth;
  pathParams?: Record<string, string>;
  /** Each property is one query parameter. */
  query?: z.ZodObject;
  /** Request headers the route reads besides auth. */
  headers?: Record<string, HeaderDoc>;
  /** A JSON body (`application/json`, at most 64 KiB). */
  body?: z.ZodType;
  success: SuccessDoc[];
  /** Errors beyond those the auth scheme and a JSON body bring by themselves, and `internal`. */
  errors?: ErrorCode[];
}

/** Identity, for type-checking a description where it is written. */
export function describeRoute(doc: RouteDoc): RouteDoc {
  return doc;
}

/**
 * Named schemas become `components.schemas` entries. Requests are rendered as the input a client
 * sends, answers as the output the gateway writes (they differ where a schema has a default).
 */
export const requestSchemas = z.registry<{ id: string }>();
export const answerSchemas = z.registry<{ id: string }>();

export function requestSchema<T extends z.ZodType>(id: string, schema: T): T {
  if (!requestSchemas.has(schema)) requestSchemas.add(schema, { id });
  return schema;
}

export function answerSchema<T extends z.ZodType>(id: string, schema: T): T {
  if (!answerSchemas.has(schema)) answerSchemas.add(schema, { id });
  return schema;
}

const BODY_ERRORS: ErrorCode[] = ['invalid_request', 'payload_too_large', 'unsupported_media_type'];
const AUTH_ERRORS: Record<Auth, ErrorCode[]> = {
  tenant: ['unauthorized', 'forbidden'],
  admin: ['unauthorized', 'admin_disabled'],
  none: [],
};

/** Every error a route can answer: what its body, query and auth bring, what it names, and `internal`. */
export function errorsOf(doc: RouteDoc): ErrorCode[] {
  return [
    ...new Set<ErrorCode>([
      ...(doc.body ? BODY_ERRORS : []),
      ...(doc.query ? (['invalid_request'] as const) : []),
      ...AUTH_ERRORS[doc.auth],
      ...(doc.errors ?? []),
      'internal',
    ]),
  ];
}

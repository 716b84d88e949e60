import type { RouteConfig, z } from '@hono/zod-openapi';
import type { ErrorCode } from '../errors';
import { RotateSchema } from '../schemas/requests';
import { declareRoute, jsonBody, optionalJsonBodyOf, type RouteBody } from './describe';

/** What an admin route says of its own; its resource adds the method, path, tag, auth and id. */
export interface Operation {
  id: string;
  summary: string;
  description?: string;
  /** Errors of the route's own, beyond those its resource brings. */
  errors?: readonly ErrorCode[];
}

type Request = NonNullable<RouteConfig['request']>;
type Answer = RouteConfig['responses'][string];

/**
 * The routes of one kind of admin object (docs/admin.md), declared from its tag and its collection's
 * path: list and create on the collection; read, change, revoke, rotate and actions on one object at
 * `{path}/{id}`, each of those answering 404 when there is no such object. Keys, admin principals,
 * webhook endpoints and tenants share these operations; each passes its own words and answers.
 */
export function adminResource<const Path extends string>(tag: string, path: Path) {
  const admin = { tag, auth: 'admin' } as const;
  return {
    /** `GET {path}`. */
    list: <A extends Answer, Q extends Request['query'] = undefined>(op: Operation, answer: A, query?: Q) =>
      declareRoute({ method: 'get', path, ...op, ...admin, query, answers: { 200: answer } }),
    /** `POST {path}` with a JSON body: 201. */
    create: <A extends Answer, S extends z.ZodType>(op: Operation, body: S, answer: A) =>
      declareRoute({ method: 'post', path, ...op, ...admin, body: jsonBody(body), answers: { 201: answer } }),
    /** The routes on one object, named in the path by `params`' `id`. */
    item: <Params extends Request['params']>(params: Params) => objectRoutes(`${path}/{id}`, { ...admin, params }),
  };
}

function objectRoutes<const Item extends string, Params extends Request['params']>(item: Item, on: { tag: string; auth: 'admin'; params: Params }) {
  const withErrors = (op: Operation) => ({ ...op, ...on, errors: ['not_found', ...(op.errors ?? [])] satisfies ErrorCode[] });
  return {
    /** `GET {path}/{id}`. */
    read: <A extends Answer>(op: Operation, answer: A) => declareRoute({ method: 'get', path: item, ...withErrors(op), answers: { 200: answer } }),
    /** `PATCH {path}/{id}` with a JSON body: the fields sent change. */
    change: <A extends Answer, S extends z.ZodType>(op: Operation, body: S, answer: A) =>
      declareRoute({ method: 'patch', path: item, ...withErrors(op), body: jsonBody(body), answers: { 200: answer } }),
    /** `DELETE {path}/{id}`: 204, `done` saying what happened. */
    remove: (op: Operation, done: string) => declareRoute({ method: 'delete', path: item, ...withErrors(op), answers: { 204: { description: done } } }),
    /** `DELETE {path}/{id}` of an object that is revoked, not deleted: a second revocation answers 204 too. */
    revoke: (op: Operation) =>
      declareRoute({ method: 'delete', path: item, ...withErrors(op), answers: { 204: { description: 'revoked (also when it already was)' } } }),
    /** `POST {path}/{id}/rotate`: a new secret, the old one kept for the optional body's `grace_seconds`. */
    rotate: <A extends Answer>(op: Operation, answer: A) =>
      declareRoute({ method: 'post', path: `${item}/rotate`, ...withErrors(op), body: optionalJsonBodyOf(RotateSchema), answers: { 200: answer } }),
    /** `POST {path}/{id}/{action}`: an action on the object, or an object made under it, with `body` when it reads one. */
    post: <const Action extends string, A extends RouteConfig['responses'], B extends RouteBody = undefined>(action: Action, op: Operation, answers: A, body?: B) =>
      declareRoute({ method: 'post', path: `${item}/${action}`, ...withErrors(op), body, answers }),
    /** `GET {path}/{id}/{part}`: a part of the object, narrowed by `query`. */
    get: <const Part extends string, A extends Answer, Q extends Request['query']>(part: Part, op: Operation, query: Q, answer: A) =>
      declareRoute({ method: 'get', path: `${item}/${part}`, ...withErrors(op), query, answers: { 200: answer } }),
  };
}

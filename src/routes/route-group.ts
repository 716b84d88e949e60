import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../env';
import { zodToApiError } from './failures';

/**
 * A group of routes declared with `createRoute`: a failed body, query, path or header check answers
 * the one 400 envelope, `param` naming the field, on every route alike.
 */
export function routeGroup(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      // the validator hands the hook what it checked as `data` (the library's type leaves it out)
      if (!result.success) throw zodToApiError(result.error, '', 'data' in result ? result.data : undefined);
    },
  });
}

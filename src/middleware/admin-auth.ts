import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env';
import { timingSafeEqual } from '../domain/keys';
import { ApiError } from '../errors';

/** `Authorization: Bearer $ADMIN_TOKEN`, compared in constant time; 503 when no token is configured. */
export function adminAuth(): MiddlewareHandler<AppEnv> {
  return async function adminAuthMiddleware(c, next) {
    const token = c.env.ADMIN_TOKEN;
    if (!token) throw new ApiError('admin_disabled', 'the admin API is disabled: ADMIN_TOKEN is not set');
    const given = bearerToken(c.req.header('authorization'));
    if (given === null || !(await timingSafeEqual(given, token))) {
      throw new ApiError('unauthorized', 'admin routes need Authorization: Bearer <ADMIN_TOKEN>');
    }
    await next();
  };
}

export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1] ?? null;
}

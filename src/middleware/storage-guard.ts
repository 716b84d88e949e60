import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env';
import { guardStorage, storageTimeoutMs } from '../services/storage-guard';

/**
 * Bounds every storage call the request makes (docs/operations.md, "When storage fails"): the
 * handlers and everything below them see the guarded bindings. The first call that failed or timed
 * out is named in the request's log line (`storage_fault`), so a failure is one line, not a stack.
 */
export function storageGuard(): MiddlewareHandler<AppEnv> {
  return async function storageGuardMiddleware(c, next) {
    c.env = guardStorage(c.env, {
      timeoutMs: storageTimeoutMs(c.env),
      onFault: (fault) => {
        c.var.log.storage_fault ??= `${fault.binding} ${fault.op}: ${fault.kind === 'timeout' ? 'timed out' : 'failed'} (${fault.error})`;
      },
    });
    await next();
  };
}

import { env } from 'cloudflare:test';
import { expect } from 'vitest';
import type { AdmitCall, AdmitResult, LimitScope } from '../../src/durable-objects/rate-limiter';
import type { CallResult, TestEnv } from '../helpers/api';

/** The tenant's RateLimiter object, as the gateway addresses it. */
export function limiterOf(tenantId: string) {
  return env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(tenantId));
}

/** One admit straight to the object, with an explicit clock. */
export async function admitAt(tenantId: string, requestId: string, now: number, scopes: LimitScope[], extra: Partial<AdmitCall> = {}): Promise<AdmitResult> {
  return limiterOf(tenantId).admit({ requestId, now, leaseMs: 180_000, scopes, deferSlot: false, ...extra });
}

/** An environment whose RATE_LIMITER cannot be reached: every use of the binding throws. */
export function envWithBrokenLimiter(base: TestEnv, extra: Record<string, unknown> = {}): TestEnv {
  const broken = {
    idFromName(): never {
      throw new Error('Durable Object namespace unavailable');
    },
    get(): never {
      throw new Error('Durable Object namespace unavailable');
    },
  };
  return { ...base, RATE_LIMITER: broken, ...extra } as unknown as TestEnv;
}

/** Retry-After: whole seconds, at least 1 (docs/errors.md and docs/rate-limits.md). */
export function retryAfterOf(r: CallResult): number {
  const value = r.headers.get('retry-after') ?? '';
  expect(value).toMatch(/^[1-9][0-9]*$/);
  return Number(value);
}

/** The `r` and `t` of a policy in the RateLimit field, e.g. `"rpm";r=4;t=60`. */
export function rateLimitState(r: CallResult, policy: string): { r: number; t: number | null } {
  const field = r.headers.get('ratelimit') ?? '';
  const member = field.split(',').map((m) => m.trim()).find((m) => m.startsWith(`"${policy}";`));
  expect(member, `RateLimit has no "${policy}" member: ${field}`).toBeDefined();
  const params = new Map((member ?? '').split(';').slice(1).map((p) => p.split('=') as [string, string]));
  expect(params.get('r')).toMatch(/^[0-9]+$/);
  return { r: Number(params.get('r')), t: params.has('t') ? Number(params.get('t')) : null };
}

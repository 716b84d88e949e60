import { normalizeAlertThresholds } from '../domain/alert-thresholds';
import { parseUsd } from '../domain/money';
import type { KeyPatch, LimitsPatch, TenantPatch } from '../storage/tenants';
import type { KeyInput, TenantInput } from '../schemas/requests';

/**
 * The admin API's tenant and key fields (docs/admin.md), already validated, as storage patches: USD
 * strings become nano-USD, times become ISO 8601 UTC. A field the body left out stays out of the
 * patch, so an update leaves it as it is.
 */

/** The fields tenants and keys share: name, budget and limits, disabled. */
function sharedPatchOf<I extends TenantInput | KeyInput>(input: I): LimitsPatch & Pick<I, 'name'> & { disabled?: boolean } {
  return {
    name: input.name,
    // the schema accepted the string, so it parses; 0 only satisfies the type
    budgetNano: input.budget_usd === undefined || input.budget_usd === null ? input.budget_usd : (parseUsd(input.budget_usd) ?? 0n),
    budgetPeriod: input.budget_period,
    rateLimitRpm: input.rate_limit_rpm,
    maxConcurrent: input.max_concurrent,
    alertThresholds: input.alert_thresholds && normalizeAlertThresholds(input.alert_thresholds),
    disabled: input.disabled,
  };
}

export function tenantPatchOf<I extends TenantInput>(input: I): TenantPatch & Pick<I, 'name'> {
  return { ...sharedPatchOf(input), cacheScope: input.cache_scope, cacheTtlDays: input.cache_ttl_days, allowedModels: input.allowed_models };
}

export function keyPatchOf<I extends KeyInput>(input: I): KeyPatch & Pick<I, 'name'> {
  const expires = input.expires_at;
  return {
    ...sharedPatchOf(input),
    expiresAt: expires === undefined || expires === null ? expires : new Date(expires).toISOString(),
    defaultTags: input.default_tags,
  };
}

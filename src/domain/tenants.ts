import type { BudgetPeriod } from './budget-period';
import type { Nano } from './money';

/** Where a tenant's cache entries live: its own (the default) or the pool shared by `shared` tenants (docs/cache.md). */
export const CACHE_SCOPES = ['private', 'shared'] as const;
export type CacheScope = (typeof CACHE_SCOPES)[number];

/** Budget and limits shared by tenants and keys (docs/money.md, docs/rate-limits.md). */
export interface Limits {
  budgetNano: Nano | null;
  budgetPeriod: BudgetPeriod;
  rateLimitRpm: number | null;
  maxConcurrent: number | null;
  /** Percents of the budget at which a budget.threshold event fires (docs/webhooks.md); absent: [50, 80, 100]. */
  alertThresholds?: readonly number[];
}

/** A tenant as the admin API shows it (docs/admin.md). */
export interface TenantRecord extends Limits {
  id: string;
  name: string;
  cacheScope: CacheScope;
  cacheTtlDays: number;
  /** null: every model in the catalogue. */
  allowedModels: string[] | null;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
}

/** One of a tenant's API keys; its plaintext and hash are never part of it. */
export interface ApiKeyRecord extends Limits {
  id: string;
  tenantId: string;
  name: string;
  /** The first characters of the key, enough to tell keys apart. */
  prefix: string;
  expiresAt: string | null;
  disabled: boolean;
  revokedAt: string | null;
  /** Tags for every generation the key makes (docs/money.md); a request's own win per name. */
  defaultTags: Readonly<Record<string, string>>;
  createdAt: string;
  updatedAt: string;
}

/** What the authenticated caller is, once tenant auth has run. */
export interface Caller {
  tenant: TenantRecord;
  key: ApiKeyRecord;
}

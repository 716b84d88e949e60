import { z } from 'zod';
import { BUDGET_PERIODS } from '../domain/budget-period';
import { parseUsd } from '../domain/money';
import { CACHE_SCOPES } from '../domain/tenants';

/** D1 stores nano-USD as INTEGER and hands it back as a JS number, so an amount must stay a safe integer. */
const MAX_STORED_NANO = BigInt(Number.MAX_SAFE_INTEGER);

/** A USD amount as a decimal string ("25.10"), exact to the nano-USD; never a binary float. */
export const UsdString = z.string().refine((s) => {
  const nano = parseUsd(s);
  return nano !== undefined && nano <= MAX_STORED_NANO;
}, 'a non-negative decimal string of USD with at most 9 decimals and at most 9007199.254740991, e.g. "25.10"');

export const BudgetPeriod = z.enum(BUDGET_PERIODS);
const PositiveInt = z.int().min(1).max(1_000_000);

/** ISO 8601 UTC time, e.g. 2026-12-31T23:59:59Z. */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

/** A real calendar time: Date.parse alone would roll 2026-02-30 over to March and accept 24:00. */
function isIsoTime(text: string): boolean {
  const m = ISO_TIME.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second = 0, offH = 0, offM = 0] = m.slice(1).map((v) => (v === undefined ? undefined : Number(v)));
  if (year === undefined || month === undefined || day === undefined || hour === undefined || minute === undefined) return false;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 59 && offH <= 23 && offM <= 59;
}

const IsoTime = z.string().refine(isIsoTime, 'an ISO 8601 time such as 2026-12-31T23:59:59Z');

const limitFields = {
  budget_usd: UsdString.nullable().optional(),
  budget_period: BudgetPeriod.optional(),
  rate_limit_rpm: PositiveInt.nullable().optional(),
  max_concurrent: PositiveInt.nullable().optional(),
};

const tenantFields = {
  name: z.string().trim().min(1).max(200),
  ...limitFields,
  cache_scope: z.enum(CACHE_SCOPES).optional(),
  cache_ttl_days: z.int().min(1).max(3650).optional(),
  allowed_models: z.array(z.string().min(1).max(200)).max(100).nullable().optional(),
  disabled: z.boolean().optional(),
};

export const TenantCreateSchema = z.strictObject(tenantFields);
export const TenantPatchSchema = z.strictObject({ ...tenantFields, name: tenantFields.name.optional() });

const keyFields = {
  name: z.string().trim().min(1).max(200),
  ...limitFields,
  expires_at: IsoTime.nullable().optional(),
};
export const KeyCreateSchema = z.strictObject(keyFields);
export const KeyPatchSchema = z.strictObject({ ...keyFields, name: keyFields.name.optional(), disabled: z.boolean().optional() });

export type TenantInput = z.infer<typeof TenantPatchSchema>;
export type KeyInput = z.infer<typeof KeyPatchSchema>;

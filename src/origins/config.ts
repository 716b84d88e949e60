import { z } from 'zod';

/** Kinds the gateway speaks; each has an adapter in this folder. */
const ORIGIN_KINDS = ['qubrid', 'openai', 'a1111', 'cog', 'local'] as const;
export type OriginKind = (typeof ORIGIN_KINDS)[number];

const OriginSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" or "-", at most 64'),
    kind: z.enum(ORIGIN_KINDS),
    url: z.url({ protocol: /^https?$/ }).optional(),
    api_key_secret: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name').optional(),
    models: z.array(z.string().min(1)).min(1).default(['*']),
    timeout_ms: z.int().min(1).max(900_000).default(120_000),
    breaker_failures: z.int().min(1).max(1_000).default(5),
    breaker_cooldown_ms: z.int().min(1).max(3_600_000).default(30_000),
    max_image_bytes: z.int().min(1).max(100 * 1024 * 1024).default(25 * 1024 * 1024),
    /** False for a server that resizes: its images are still checked to be whole, not for their pixel size. */
    verify_dimensions: z.boolean().default(true),
  })
  .refine((o) => o.kind === 'local' || o.url !== undefined, { message: 'url is required for this kind', path: ['url'] });

export type OriginConfig = z.infer<typeof OriginSchema>;

const OriginsSchema = z
  .array(OriginSchema)
  .min(1)
  .refine((list) => new Set(list.map((o) => o.name)).size === list.length, { message: 'origin names must be unique' });

export type ParsedOrigins = { ok: true; origins: OriginConfig[] } | { ok: false; message: string };

/** ORIGINS is checked once per isolate and value, not on every request (nor on every /healthz). */
const checked = new Map<string, CheckedOrigins>();

export function parseOrigins(text: string | undefined): ParsedOrigins {
  const result = checkOrigins(text);
  return result.ok ? result : { ok: false, message: result.problems[0] ?? 'ORIGINS is invalid' };
}

function checkOrigins(text: string | undefined): CheckedOrigins {
  const key = text ?? '';
  const known = checked.get(key);
  if (known) return known;
  const result = checkOnce(text);
  if (checked.size > 32) checked.clear();
  checked.set(key, result);
  return result;
}

type CheckedOrigins = { ok: true; origins: OriginConfig[] } | { ok: false; problems: string[] };

/** Every problem of an ORIGINS text, each naming where it is (`ORIGINS[0].url: …`) and never a value. */
function checkOnce(text: string | undefined): CheckedOrigins {
  if (!text) return { ok: false, problems: ['ORIGINS is not set'] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, problems: ['ORIGINS is not valid JSON'] };
  }
  const result = OriginsSchema.safeParse(json);
  if (result.success) return { ok: true, origins: result.data };
  const problems = result.error.issues.map((issue) => {
    const where = `ORIGINS${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}`;
    return `${where}: ${issue.message}`;
  });
  return { ok: false, problems: problems.length > 0 ? problems : ['ORIGINS: invalid'] };
}

/**
 * What is wrong with the origin configuration in `env`, before any traffic (docs/configuration.md):
 * ORIGINS unset, not JSON or with an invalid entry, and every `api_key_secret` that names a variable
 * that is not set (an empty value counts as unset: it would send no credential). Empty when the
 * configuration can serve. Messages name fields and variables, never their values, so they may be
 * shown by `/healthz` and printed by `npm run dev`.
 */
export function configProblems(env: Record<string, unknown>): string[] {
  const origins = checkOrigins(typeof env.ORIGINS === 'string' ? env.ORIGINS : undefined);
  if (!origins.ok) return origins.problems;
  return origins.origins.flatMap((origin, i) => {
    const name = origin.api_key_secret;
    if (name === undefined) return [];
    const value = env[name];
    return typeof value === 'string' && value !== '' ? [] : [`ORIGINS[${i}].api_key_secret: ${name} is not set (origin '${origin.name}')`];
  });
}

/** The origins that serve `model`, in the order configured (`"*"` serves any model). */
export function originsFor(origins: OriginConfig[], model: string): OriginConfig[] {
  return origins.filter((o) => o.models.includes('*') || o.models.includes(model));
}

/**
 * How long one generation may spend on its whole chain of origins, however many it tries
 * (`ORIGIN_DEADLINE_MS`). The default lets one origin use a full default `timeout_ms` (120 s) and
 * still leaves a minute for a fallback; a value that is not a whole number of milliseconds from
 * 1 ms to an hour is ignored in favour of the default.
 */
export const DEFAULT_ORIGIN_DEADLINE_MS = 180_000;

export function originDeadlineMs(env: Record<string, unknown>): number {
  const raw = env.ORIGIN_DEADLINE_MS;
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  return Number.isSafeInteger(value) && value >= 1 && value <= 3_600_000 ? value : DEFAULT_ORIGIN_DEADLINE_MS;
}

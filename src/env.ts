import type { Principal } from './domain/roles';
import type { Caller } from './domain/tenants';
import type { WebhookMessage } from './domain/webhook-events';
import type { Coalescer } from './durable-objects/coalescer';
import type { RateLimiter } from './durable-objects/rate-limiter';

/** The Worker's bindings, as declared in wrangler.toml (plus secrets from `.dev.vars` / `wrangler secret put`). */
export interface Env {
  DB: D1Database;
  IMAGES: R2Bucket;
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
  COALESCER: DurableObjectNamespace<Coalescer>;
  /** Webhook events on their way to delivery (docs/webhooks.md). */
  WEBHOOK_QUEUE: Queue<WebhookMessage>;
  /** First retry delay of a failed webhook delivery, in seconds; each next one is three times longer (default 60). */
  WEBHOOK_RETRY_BASE_SECONDS?: string;
  /** `true` accepts http://127.0.0.1 and http://localhost webhook URLs; for development only. */
  WEBHOOK_ALLOW_LOOPBACK?: string;
  /** Static assets (wrangler.toml [assets]): the docs viewer's files, copied from swagger-ui-dist. */
  ASSETS?: Fetcher;
  /** JSON array of origins (docs/origins.md). */
  ORIGINS?: string;
  /** Time limit in ms for a generation's whole chain of origins (default 180000; src/origins/config.ts). */
  ORIGIN_DEADLINE_MS?: string;
  /** The bootstrap owner's bearer token for /admin/*; when unset every admin route answers 503. */
  ADMIN_TOKEN?: string;
  /** Origin credentials are named by each origin's `api_key_secret`; QUBRID_API_KEY is the usual one. */
  QUBRID_API_KEY?: string;
  /** HMAC secret that signs the image links in generation answers; unset, links are unsigned and need the key (docs/generation.md). */
  IMAGE_URL_SECRET?: string;
  /** How long a signed image link works, in seconds (default 3600, at most a week). */
  IMAGE_URL_TTL_SECONDS?: string;
  /** The longest one D1, R2 or Durable Object call may take, in ms (default 5000, docs/operations.md); past it, 503 `unavailable`. */
  STORAGE_TIMEOUT_MS?: string;
  /** `open` lets generations through when the rate limiter cannot be reached; default `closed` (503). */
  RATE_LIMIT_FAILURE_MODE?: string;
  [secret: string]: unknown;
}

export interface AppVariables {
  requestId: string;
  caller: Caller;
  /** Who calls an /admin/* route: the bootstrap ADMIN_TOKEN or an admin principal (admin auth sets it). */
  principal: Principal;
  /** Filled in by handlers for the one structured log line per request. */
  log: Record<string, unknown>;
}

export type AppEnv = { Bindings: Env; Variables: AppVariables };

/** Dependencies that tests replace: the clock, above all. */
export interface AppDeps {
  /** Milliseconds since the epoch. */
  now: () => number;
}

declare module 'hono' {
  interface ContextVariableMap {
    deps: AppDeps;
  }
}

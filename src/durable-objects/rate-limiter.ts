import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';

/** Per-tenant request-rate and in-flight limits (CONTRACT §5). */
export class RateLimiter extends DurableObject<Env> {}

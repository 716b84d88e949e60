import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';

/** Merges identical cacheable requests that are at the origin at the same time (CONTRACT §6). */
export class Coalescer extends DurableObject<Env> {}

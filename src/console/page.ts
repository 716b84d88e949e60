import type { Hono } from 'hono';
import type { AppEnv } from '../env';

/** A console page: it mounts its own routes (under /console) on the console's router. */
export interface ConsolePage {
  mount(routes: Hono<AppEnv>): void;
}

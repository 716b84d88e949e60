/**
 * What the Durable Objects read of the Worker's bindings: nothing today, so nothing is named.
 * src/env.ts's Env names the objects' classes (for its namespace bindings); typing the objects
 * with this narrower shape instead keeps them from importing env.ts back. The Worker's Env is
 * assignable to it.
 */
export type ObjectEnv = Record<string, unknown>;

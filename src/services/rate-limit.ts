import type { Caller, Env } from '../env';

/** An admitted generation request: the RateLimit headers to send, and its in-flight lease to give back. */
export interface Admission {
  headers: Record<string, string>;
  /** Gives back the in-flight slot; safe to call more than once. */
  release(): Promise<void>;
}

export interface AdmitOptions {
  env: Env;
  caller: Caller;
  requestId: string;
  now: number;
}

/** Admits a generation request against the key's and tenant's limits (CONTRACT §5), or throws a 429. */
export async function admit(_options: AdmitOptions): Promise<Admission> {
  return { headers: {}, release: async () => undefined };
}

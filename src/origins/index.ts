import type { OriginKind } from './config';
import { localAdapter } from './local';
import { qubridAdapter } from './qubrid';
import type { OriginAdapter } from './types';

/** One adapter per kind (CONTRACT §7). A kind listed in config.ts but missing here fails its origin with a 502. */
export const ADAPTERS: Partial<Record<OriginKind, OriginAdapter>> = {
  qubrid: qubridAdapter,
  local: localAdapter,
};

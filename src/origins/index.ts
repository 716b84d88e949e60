import { a1111Adapter } from './a1111';
import { cogAdapter } from './cog';
import type { OriginKind } from './config';
import { localAdapter } from './local';
import { openaiAdapter } from './openai';
import { qubridAdapter } from './qubrid';
import type { OriginAdapter } from './types';

/** One adapter per kind (docs/origins.md). Adding a kind is a file and a line here. */
export const ADAPTERS: Record<OriginKind, OriginAdapter> = {
  qubrid: qubridAdapter,
  openai: openaiAdapter,
  a1111: a1111Adapter,
  cog: cogAdapter,
  local: localAdapter,
};

import { describe, expect, it } from 'vitest';
import { cacheKey, canonicalRequest, coalescerShardName, scopedCacheName } from '../../src/domain/cache-key';
import type { SeededRequest } from '../../src/domain/generation-request';

const BASE: SeededRequest = {
  model: 'stabilityai/stable-diffusion-3.5-large',
  prompt: 'a lighthouse at dusk',
  negative_prompt: '',
  width: 1024,
  height: 1024,
  steps: 30,
  cfg: 7.5,
  seed: 42,
  output_format: 'png',
};

describe('canonical request and cache key', () => {
  it('is a 64-digit SHA-256 that does not depend on the order the fields were given in', async () => {
    const reordered = JSON.parse(JSON.stringify({ ...BASE })) as SeededRequest;
    const shuffled = Object.fromEntries(Object.entries(reordered).reverse()) as SeededRequest;
    const key = await cacheKey(BASE);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(await cacheKey(shuffled)).toBe(key);
    expect(canonicalRequest(shuffled)).toBe(canonicalRequest(BASE));
  });

  it('reads the same number the same way however it was written', async () => {
    const cfgs = JSON.parse('[7.5, 7.50, 75e-1]') as number[];
    const keys = await Promise.all(cfgs.map((cfg) => cacheKey({ ...BASE, cfg })));
    expect(new Set(keys).size).toBe(1);
  });

  const changes: [string, Partial<SeededRequest>][] = [
    ['model', { model: 'other/model' }],
    ['prompt, one character', { prompt: 'a lighthouse at dusK' }],
    ['prompt, trailing space', { prompt: 'a lighthouse at dusk ' }],
    ['negative prompt', { negative_prompt: 'fog' }],
    ['width', { width: 1040 }],
    ['height', { height: 1008 }],
    ['steps', { steps: 31 }],
    ['cfg', { cfg: 7.25 }],
    ['seed', { seed: 43 }],
    ['seed 0', { seed: 0 }],
    ['output format', { output_format: 'webp' }],
  ];
  it.each(changes)('changes with the %s', async (_name, change) => {
    expect(await cacheKey({ ...BASE, ...change })).not.toBe(await cacheKey(BASE));
  });

  it('cannot be fooled by moving text between the prompt and the negative prompt', async () => {
    const a = await cacheKey({ ...BASE, prompt: 'a","b', negative_prompt: '' });
    const b = await cacheKey({ ...BASE, prompt: 'a', negative_prompt: 'b' });
    expect(a).not.toBe(b);
  });

  it('names a private entry under its tenant and a shared one in the pool', () => {
    expect(scopedCacheName({ scope: 'private', tenantId: 'ten_1' }, 'abc')).toBe('t/ten_1/abc');
    expect(scopedCacheName({ scope: 'shared' }, 'abc')).toBe('shared/abc');
  });

  it('spreads a scope\'s flights over 16 Coalescer shards by the hash, never across scopes', () => {
    const hashes = '0123456789abcdef'.split('').map((c) => `${c}${'0'.repeat(63)}`);
    const shards = new Set(hashes.map((h) => coalescerShardName({ scope: 'private', tenantId: 'ten_1' }, h)));
    expect(shards.size).toBe(16);
    expect(coalescerShardName({ scope: 'private', tenantId: 'ten_1' }, 'f00')).toBe('t/ten_1#f');
    expect(coalescerShardName({ scope: 'private', tenantId: 'ten_2' }, 'f00')).toBe('t/ten_2#f');
    expect(coalescerShardName({ scope: 'shared' }, 'f00')).toBe('shared#f');
  });
});

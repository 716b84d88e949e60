import { describe, expect, it } from 'vitest';
import { call, envWith, genBody, isPng, originCalls, testOrigin, unique } from '../helpers/api';
import { createTenantWithKey } from '../helpers/tenants';

describe('foundation', () => {
  it('answers healthz', async () => {
    const r = await call('GET', '/healthz');
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ ok: true });
  });

  it('generates a PNG through the local origin', async () => {
    const { key } = await createTenantWithKey();
    const r = await call('POST', '/image/generation', { key, json: genBody(unique('local'), { seed: 42 }) });
    expect(r.status, r.text()).toBe(200);
    expect(isPng(r.bytes)).toBe(true);
    expect(r.headers.get('imagegate-seed')).toBe('42');
  });

  it('generates through a loopback qubrid origin', async () => {
    const { key } = await createTenantWithKey();
    const scenario = unique('qubrid');
    const r = await call('POST', '/image/generation', { key, json: genBody(scenario, { seed: 7 }), env: envWith([testOrigin(scenario, 'png')]) });
    expect(r.status, r.text()).toBe(200);
    expect(isPng(r.bytes)).toBe(true);
    const calls = await originCalls(scenario);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.body.seed).toBe(7);
  });
});

import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { bytesEqual, genBody, loopback, originCalls } from '../helpers/api';
import { addKey, createTenantWithKey } from '../helpers/tenants';
import { generateImage, privateEntries } from './support';

describe('cache scope', () => {
  it("keeps tenant A's private entry from tenant B, and shares it between A's own keys", async () => {
    const a = await createTenantWithKey();
    const b = await createTenantWithKey();
    const { scenario, env: e } = loopback('private');
    const fromA = await generateImage(a.key, genBody(scenario, { seed: 77 }), { env: e });
    expect(fromA.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');

    const fromB = await generateImage(b.key, genBody(scenario, { seed: 77 }), { env: e });
    expect(fromB.status).toBe(200);
    expect(fromB.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    expect(fromB.headers.get('imagegate-cost-usd')).not.toBe('0');
    expect(await originCalls(scenario)).toHaveLength(2);
    expect(await privateEntries(a.tenantId)).toHaveLength(1);
    expect(await privateEntries(b.tenantId)).toHaveLength(1);

    const secondKeyOfA = await addKey(a.tenantId);
    const again = await generateImage(secondKeyOfA.key, genBody(scenario, { seed: 77 }), { env: e });
    expect(again.headers.get('cache-status')).toBe('imagegate; hit');
    expect(await originCalls(scenario)).toHaveLength(2);
  });

  it("lets two shared tenants hit each other's entries, but not a private tenant", async () => {
    const s1 = await createTenantWithKey({ tenant: { cache_scope: 'shared' } });
    const s2 = await createTenantWithKey({ tenant: { cache_scope: 'shared' } });
    const p = await createTenantWithKey();
    const { scenario, env: e } = loopback('shared');
    const first = await generateImage(s1.key, genBody(scenario, { seed: 8 }), { env: e });
    expect(first.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    expect(await privateEntries(s1.tenantId)).toHaveLength(0);

    const fromS2 = await generateImage(s2.key, genBody(scenario, { seed: 8 }), { env: e });
    expect(fromS2.headers.get('cache-status')).toBe('imagegate; hit');
    expect(fromS2.headers.get('imagegate-cost-usd')).toBe('0');
    expect(bytesEqual(fromS2.bytes, first.bytes)).toBe(true);
    expect(await originCalls(scenario)).toHaveLength(1);

    // a private tenant neither reads the pool nor writes to it
    const fromPrivate = await generateImage(p.key, genBody(scenario, { seed: 8 }), { env: e });
    expect(fromPrivate.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    expect(await originCalls(scenario)).toHaveLength(2);
    const pooled = await env.IMAGES.list({ prefix: 'cache/shared/' });
    expect(pooled.objects.filter((o) => o.customMetadata?.origin === `${scenario}-png`)).toHaveLength(0);
    expect(await privateEntries(p.tenantId)).toHaveLength(1);
  });

  it("a tenant moved to the shared pool no longer reads its private entries (and they stay private)", async () => {
    const t = await createTenantWithKey();
    const other = await createTenantWithKey({ tenant: { cache_scope: 'shared' } });
    const { scenario, env: e } = loopback('moved');
    await generateImage(t.key, genBody(scenario, { seed: 4 }), { env: e });
    const fromShared = await generateImage(other.key, genBody(scenario, { seed: 4 }), { env: e });
    expect(fromShared.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    expect(await originCalls(scenario)).toHaveLength(2);
  });
});

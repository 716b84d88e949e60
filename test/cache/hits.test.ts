import { describe, expect, it } from 'vitest';
import { bytesEqual, call, genBody, isPng, loopback, originCalls } from '../helpers/api';
import { createTenantWithKey } from '../helpers/tenants';
import { generateImage, privateEntries } from './support';

describe('identical-seed cache', () => {
  it('answers a second identical seeded request from the cache: same bytes, cost 0, one origin call', async () => {
    const { key, tenantId } = await createTenantWithKey();
    const { scenario, env: e } = loopback('hit');
    const first = await generateImage(key, genBody(scenario, { seed: 11 }), { env: e });
    expect(first.status, first.text()).toBe(200);
    expect(first.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    expect(first.headers.get('imagegate-origin')).toBe(`${scenario}-png`);
    expect(first.headers.get('imagegate-cost-usd')).not.toBe('0');

    const second = await generateImage(key, genBody(scenario, { seed: 11 }), { env: e });
    expect(second.status, second.text()).toBe(200);
    expect(second.headers.get('cache-status')).toBe('imagegate; hit');
    expect(second.headers.get('imagegate-cost-usd')).toBe('0');
    expect(second.headers.get('imagegate-origin')).toBe('cache');
    expect(second.headers.get('imagegate-seed')).toBe('11');
    expect(second.headers.get('content-type')).toBe('image/png');
    expect(isPng(second.bytes)).toBe(true);
    expect(bytesEqual(second.bytes, first.bytes)).toBe(true);
    expect(await originCalls(scenario)).toHaveLength(1);

    const entries = await privateEntries(tenantId);
    expect(entries).toHaveLength(1);
    expect(entries[0]?.key).toMatch(new RegExp(`^cache/t/${tenantId}/[0-9a-f]{64}$`));
    expect(entries[0]?.customMetadata).toMatchObject({
      model: 'stabilityai/stable-diffusion-3.5-large',
      seed: '11',
      width: '256',
      height: '256',
      bytes: String(first.bytes.length),
      origin: `${scenario}-png`,
    });
  });

  it('says "hit" in the JSON answer, with cost 0', async () => {
    const { key } = await createTenantWithKey();
    const { scenario, env: e } = loopback('hit-json');
    const headers = { accept: 'application/json' };
    const first = await generateImage(key, genBody(scenario, { seed: 5 }), { env: e, headers });
    expect(first.json()).toMatchObject({ cache: 'miss', seed: 5 });
    const second = await generateImage(key, genBody(scenario, { seed: 5 }), { env: e, headers });
    expect(second.json()).toMatchObject({ cache: 'hit', cost_usd: '0', seed: 5, image_base64: first.json().image_base64 });
    expect(await originCalls(scenario)).toHaveLength(1);
  });

  it('hits with the fields reordered, the defaults written out, the prompt alias and other JSON spacing', async () => {
    const { key } = await createTenantWithKey();
    const { scenario, env: e } = loopback('canon');
    const first = await generateImage(key, { positive_prompt: `test image ${scenario}`, width: 256, height: 256, seed: 3 }, { env: e });
    expect(first.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');

    const explicit = {
      output_format: 'png',
      seed: 3,
      cfg: 7.5,
      steps: 30,
      negative_prompt: '',
      height: 256,
      width: 256,
      prompt: `test image ${scenario}`,
      model: 'stabilityai/stable-diffusion-3.5-large',
    };
    const spaced = await call('POST', '/image/generation', {
      key,
      env: e,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(explicit, null, 7).replace(/7\.5/, '7.50'),
    });
    expect(spaced.status, spaced.text()).toBe(200);
    expect(spaced.headers.get('cache-status')).toBe('imagegate; hit');
    expect(bytesEqual(spaced.bytes, first.bytes)).toBe(true);
    expect(await originCalls(scenario)).toHaveLength(1);
  });

  it('misses on a one-character prompt change, and on another seed', async () => {
    const { key } = await createTenantWithKey();
    const { scenario, env: e } = loopback('onechar');
    await generateImage(key, genBody(scenario, { seed: 9 }), { env: e });
    const changed = await generateImage(key, { ...genBody(scenario, { seed: 9 }), positive_prompt: `test image ${scenario}!` }, { env: e });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    expect(changed.headers.get('imagegate-cost-usd')).not.toBe('0');
    const otherSeed = await generateImage(key, genBody(scenario, { seed: 10 }), { env: e });
    expect(otherSeed.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    expect(await originCalls(scenario)).toHaveLength(3);
  });

  it('is one entry for the same image asked for through either generation route', async () => {
    const { key } = await createTenantWithKey();
    const { scenario, env: e } = loopback('routes');
    const openai = await call('POST', '/v1/images/generations', {
      key,
      env: e,
      json: { prompt: `test image ${scenario}`, size: '256x256', seed: 21, n: 1 },
    });
    expect(openai.status, openai.text()).toBe(200);
    expect(openai.json().data[0].cache).toBe('miss');
    const qubrid = await generateImage(key, genBody(scenario, { seed: 21 }), { env: e });
    expect(qubrid.status, qubrid.text()).toBe(200);
    expect(qubrid.headers.get('cache-status')).toBe('imagegate; hit');
    expect(qubrid.headers.get('imagegate-cost-usd')).toBe('0');
    expect(await originCalls(scenario)).toHaveLength(1);
  });
});

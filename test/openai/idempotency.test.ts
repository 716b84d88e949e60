import { UnprocessableEntityError } from 'openai';
import type { ImageGenerateParamsNonStreaming } from 'openai/resources/images';
import { describe, expect, it } from 'vitest';
import { call, envWith, originCalls, testOrigin, unique } from '../helpers/api';
import { createTenantWithKey } from '../helpers/tenants';
import { sdkClient } from './sdk-client';

const params = (body: Record<string, unknown>) => body as unknown as ImageGenerateParamsNonStreaming;

describe('Idempotency-Key on POST /v1/images/generations', () => {
  it('replays the first answer to a retry, without a second origin call or charge; another body is a 422', async () => {
    const { key } = await createTenantWithKey({ key: { budget_usd: '1', budget_period: 'month' } });
    const scenario = unique('oa-idem');
    const env = envWith([testOrigin(scenario, 'png')]);
    const { client } = sdkClient(key, { env });
    const idem = { headers: { 'Idempotency-Key': unique('idem') } };
    const body = params({ prompt: `retry ${scenario}`, size: '256x256', n: 2 });

    const first = await client.images.generate(body, idem).withResponse();
    expect(first.data.data).toHaveLength(2);
    expect(first.response.headers.get('imagegate-cost-usd')).toBe('0.000249038');

    const again = await client.images.generate(body, idem).withResponse();
    expect(again.response.headers.get('idempotent-replayed')).toBe('true');
    expect(again.response.headers.get('imagegate-cost-usd')).toBe('0');
    expect(again.data).toEqual(first.data);
    expect(await originCalls(scenario)).toHaveLength(2);

    // the same request with its fields in another order and spacing is the same body
    const raw = await call('POST', '/v1/images/generations', {
      key,
      env,
      body: `{ "n": 2,   "size": "256x256", "prompt": "retry ${scenario}" }`,
      headers: { 'content-type': 'application/json', 'idempotency-key': idem.headers['Idempotency-Key'] },
    });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('idempotent-replayed')).toBe('true');

    const usage = (await call('GET', '/v1/usage', { key })).json();
    expect(usage.key.spent_usd).toBe('0.000249038');

    const other = await client.images.generate(params({ prompt: `retry ${scenario}`, size: '256x256', n: 3 }), idem).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(UnprocessableEntityError);
    expect((other as UnprocessableEntityError).code).toBe('idempotency_key_reused');
    expect(await originCalls(scenario)).toHaveLength(2);
  });
});

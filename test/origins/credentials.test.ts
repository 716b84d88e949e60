import { describe, expect, it } from 'vitest';
import { envWith, originCalls, testOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { expectNothingCharged } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';
import { generateLogged } from './support';

/** An origin's 401 or 403 refuses the gateway's credential: that origin failed, not the client's request. */
describe("an origin refusing the gateway's credentials", () => {
  for (const status of ['401', '403'] as const) {
    it(`${status} from the first origin → the next one answers, and the attempt is the origin's failure`, async () => {
      const t = await createTenantWithKey();
      const [a, b] = [unique('creds'), unique('creds-next')];
      const origins = [testOrigin(a, status), testOrigin(b, 'png')];
      const { r, attempts } = await generateLogged(t, a, { seed: 21 }, { env: envWith(origins) });
      expect(r.status, r.text()).toBe(200);
      expect(r.headers.get('imagegate-origin')).toBe(origins[1]?.name);
      expect(attempts.map(({ latencyMs: _, ...x }) => x)).toEqual([
        { origin: origins[0]?.name, outcome: 'credentials_refused', status: Number(status) },
        { origin: origins[1]?.name, outcome: 'ok' },
      ]);
      expect(await originCalls(b)).toHaveLength(1);
    });
  }

  it('with no other origin → 502 origin_error saying the credentials were refused, never a 400; nothing charged', async () => {
    const t = await createTenantWithKey({ tenant: { budget_usd: '1' } });
    const a = unique('creds-only');
    const { r } = await generateLogged(t, a, { seed: 22 }, { env: envWith([testOrigin(a, '401')]) });
    const message = expectError(r, 502, 'origin_error');
    expect(message).toBe(`origin '${a}-401' refused the gateway's credentials (HTTP 401)`);
    expect(message).not.toContain('invalid api key');
    await expectNothingCharged(t);
  });

  it("counts for the origin's breaker: after breaker_failures refusals the origin is passed over", async () => {
    const t = await createTenantWithKey();
    const a = unique('creds-breaker');
    const env = envWith([testOrigin(a, '403', { breaker_failures: 1, breaker_cooldown_ms: 60_000 })]);
    const first = await generateLogged(t, a, { seed: 23 }, { env });
    expectError(first.r, 502, 'origin_error');
    const second = await generateLogged(t, a, { seed: 24 }, { env });
    expect(second.r.status).toBe(502);
    expect(second.r.headers.get('retry-after')).not.toBeNull();
    expect(second.attempts.map((x) => x.outcome)).toEqual(['breaker_open']);
    expect(await originCalls(a)).toHaveLength(1);
    await expectNothingCharged(t);
  });
});
